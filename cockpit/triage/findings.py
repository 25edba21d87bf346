"""The decision tree and the severity table, on the evidence of
:mod:`clay_cockpit.triage.evidence`. Builds the findings :func:`clay_cockpit.triage.tree.assess`
orders and rates for confidence.

Severity (DESIGN.md): P1 our integration is down (most Clay calls fail —
``error_ratio_crit`` —, our health endpoint says down, no pod ready); P2
degraded (Clay errors at ``error_rate_crit``/s, p95 over
``latency_p95_crit_ms``, some pods crashlooping); P3 minor (errors at
``error_rate_warn``/s, p95 over ``latency_p95_warn_ms``, a degraded health
check); P4 no user impact (a monitoring gap, a Clay incident that does not
touch our calls).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from clay_cockpit.config import Thresholds
from clay_cockpit.runbook import ActionId, Branch, ErrorClass, Severity, branch_actions
from clay_cockpit.runbook_file import Constraint
from clay_cockpit.triage import evidence as ev
from clay_cockpit.triage.context import Context, _calls_summary
from clay_cockpit.triage.logs import LOG_MIN_CALLS, LOG_WINDOW, LogEvidence, Onset
from clay_cockpit.triage.types import (
    SEVERITY_ORDER,
    Finding,
    Reason,
    action,
)

P1, P2, P3, P4 = Severity.P1, Severity.P2, Severity.P3, Severity.P4
_IMPACT = {"critical": P1, "major": P2, "minor": P3}  # Clay's stated impact, when we cannot see ours


def worse(a: Severity | None, b: Severity | None) -> Severity | None:
    return a if SEVERITY_ORDER[a] <= SEVERITY_ORDER[b] else b


# --------------------------------------------------------------------------
# Clay call impact, per error class
#
# The logs see a sudden failure within seconds; the 1-minute metric rate
# lags it by up to a minute (8 s into a failure of every call it says 13%).
# When the logs show when a class started failing, the metric rate is read
# as covering only that long ("the ramp") — its rate since then is the rate
# scaled by 60 s / that time — and only when the two agree: the metrics were
# quiet before, and the share since then is not above 100%.

RAMP_MIN = 4.0  # seconds of a failure the 1-minute rate must cover before it is read as a ramp
RAMP_WINDOW = 60.0  # the [1m] of the shipped queries
RAMP_CONSISTENT = 1.25  # a share since the onset above this contradicts the logs' onset (it failed before)
ALL_FAILING = 0.8  # a share since the onset this high is a sudden total failure (P1) before the 1-minute rate says so
LOG_MIN_FAILED = 8  # failures in a streak before the logs alone name an error class
DISAGREE = 0.25  # the logs' share and the metrics' share this far apart: both are said


@dataclass(frozen=True)
class Ramp:
    """The metric rate of a class read against the onset the logs show."""

    seconds: float  # how much of the 1-minute window the failure covers (server clock)
    rate: float  # errors/s since the onset
    share: float | None  # of all Clay calls since the onset


@dataclass
class Impact:
    stat: ev.ClassStat
    basis: str  # "metrics", "health", "logs"
    level: Severity | None
    reasons: list[Reason]
    onset: Onset | None = None  # when the logs show it started (ongoing, enough failures)
    ramp: Ramp | None = None  # the metrics still catching up with it, read since the onset
    sources: set[str] = field(default_factory=set)

    @property
    def catching_up(self) -> bool:
        """The logs show when it began, less than a minute before the metrics'
        newest point: the 1-minute rate does not cover it yet, the logs' count says more."""
        o, at = self.onset, self.stat.at
        if o is None or o.at is None:
            return False
        return self.ramp is not None or at is None or at - o.at < RAMP_WINDOW


def _rate_level(stat: ev.ClassStat, th: Thresholds) -> Severity | None:
    rate = stat.rate or 0.0
    if stat.share is not None and stat.share >= th.error_ratio_crit and rate >= ev.MIN_RATE:
        return P1
    if rate >= th.error_rate_crit:
        return P2
    if rate >= th.error_rate_warn:
        return P3
    return None


def _ramp_level(r: Ramp, th: Thresholds) -> Severity | None:
    if r.share is not None and r.share >= max(th.error_ratio_crit, ALL_FAILING) and r.rate >= ev.MIN_RATE:
        return P1
    return P2 if r.rate >= th.error_rate_crit else P3 if r.rate >= th.error_rate_warn else None


def _log_level(stat: ev.ClassStat, lg: LogEvidence, th: Thresholds) -> Severity | None:
    count = stat.count or 0
    if stat.share is not None:  # our unsampled "sync stats" counters
        if stat.share >= th.error_ratio_crit:
            return P1
        return P2 if stat.share >= 0.05 else (P3 if count >= 3 else None)
    if count >= 5 and count * 2 >= lg.calls:
        return P2
    return P3 if count >= 3 else None


def _streak(lg: LogEvidence | None, cls: ErrorClass | None) -> Onset | None:
    """The logs' ongoing streak of ``cls`` failures, when it is big enough to count."""
    o = lg.onset(cls) if lg is not None else None
    return o if o is not None and o.ongoing and o.failed >= LOG_MIN_FAILED else None


def ramp_of(stat: ev.ClassStat, total: float | None, onset: Onset | None, th: Thresholds) -> Ramp | None:
    """The metric rate since the logs' onset, when the two agree (see above)."""
    if onset is None or onset.at is None or stat.at is None or stat.rate is None:
        return None
    seconds = stat.at - onset.at
    if not RAMP_MIN <= seconds < RAMP_WINDOW:
        return None
    before = stat.rate_at(onset.at - 1.0)
    if before is not None and before >= th.error_rate_warn:
        return None  # it was failing before the streak began: not a sudden start
    rate = stat.rate * RAMP_WINDOW / seconds
    share = rate / total if total else None
    if share is not None and share > RAMP_CONSISTENT:
        return None
    return Ramp(seconds, rate, min(share, 1.0) if share is not None else None)


def _streak_text(o: Onset) -> str:
    """ "41 of 41 logged Clay calls got 401 since 12:03:05 (7 s)"."""
    since = (
        f" since {ev.clock_text(o.at)} ({ev.fmt_dur(o.span or 0.0)})" if o.at is not None else " (every one we hold: it began before them)"
    )
    return f"{o.failed} of {o.calls} logged Clay calls got {ev.codes_text(o.codes)}{since}"


def _class_reason(ctx: Context, stat: ev.ClassStat, calls: ev.Calls) -> Reason:
    codes = ev.codes_text(stat.codes) if stat.codes else "other errors"
    if calls.basis == "logs":
        lg = ctx.logs
        text = f"Logs: {stat.count} of {lg.calls if lg else '?'} logged Clay calls got {codes} in {calls.window.replace('last ', 'the last ').replace(' of logs', '')}"
        if stat.share is not None:
            text = f"Logs: {codes} on ~{ev.fmt_pct(stat.share)} of calls (our sync stats, 30 s)"
        return ctx.reason(text, "logs", count=stat.count or 0, code=codes)
    rate = stat.rate or 0.0
    text = f"{codes} at {ev.fmt_rate(rate)}"
    if stat.share is not None and calls.total:
        text += f" — {ev.fmt_pct(stat.share)} of {ev.fmt_rate(calls.total)} Clay calls"
    if stat.since is not None and stat.since >= 1:
        text += f", for {ev.fmt_dur(stat.since)}"
    if calls.basis == "health":
        text = f"Health: {text} ({calls.window})"
    elif calls.basis == "metrics":
        text += " (1-minute rate)"
    values: dict[str, float | int | str] = {"code": codes, "rate": round(rate, 3)}
    if stat.share is not None:
        values["share"] = round(stat.share, 4)
    if calls.total is not None:
        values["calls"] = round(calls.total, 3)
    return ctx.reason(text, calls.basis, weak=calls.basis != "metrics", **values)


def _ramp_reason(ctx: Context, r: Ramp) -> Reason:
    share = f" — ~{ev.fmt_pct(r.share)} of calls" if r.share is not None else ""
    text = (
        f"The 1-minute rate covers only {ev.fmt_dur(r.seconds)} of it: ~{ev.fmt_rate(r.rate)} since it began{share} "
        "(it catches up within a minute)"
    )
    values: dict[str, float] = {"seconds": round(r.seconds, 1), "rate_since": round(r.rate, 3)}
    if r.share is not None:
        values["share_since"] = round(r.share, 4)
    return ctx.reason(text, "metrics", weak=False, **values)


def impacts(ctx: Context) -> list[Impact]:
    """Each Clay error class we see, with its severity and the reasons."""
    calls, lg, th = ctx.calls, ctx.logs, ctx.th
    if calls is None:
        return []
    out: list[Impact] = []
    for stat in calls.classes:
        onset = _streak(lg, stat.cls) if calls.basis != "logs" else None
        ramp = ramp_of(stat, calls.total, onset, th) if calls.basis == "metrics" else None
        level = _log_level(stat, lg, th) if calls.basis == "logs" and lg is not None else _rate_level(stat, th)
        if ramp is not None:
            level = worse(level, _ramp_level(ramp, th))
        if level is None:
            continue
        imp = Impact(stat, calls.basis, level, [_class_reason(ctx, stat, calls)], onset, ramp, {calls.basis})
        if ramp is not None:
            imp.reasons.append(_ramp_reason(ctx, ramp))
        if onset is not None:
            imp.sources.add("logs")
            imp.reasons.append(ctx.reason(f"Logs: {_streak_text(onset)}", "logs", failed=onset.failed, calls=onset.calls))
        out.append(imp)
    if calls.basis != "logs" and lg is not None:
        out += _logs_ahead(ctx, lg, {i.stat.cls for i in out})
    if ctx.health is not None and out and calls.basis != "logs":
        failing = [c for c in ev.clay_checks_failing(ctx.health, th.clay_health_checks) if c.status == "fail"]
        if failing and ctx.health.status == "down":
            biggest = max(out, key=lambda i: (i.stat.rate or 0.0, i.stat.count or 0))
            biggest.level = P1
            biggest.sources.add("health")
            biggest.reasons.append(ctx.reason(f"Health: down — {failing[0].name} fail: {failing[0].detail}", "health"))
    total_share = sum(i.stat.share or 0.0 for i in out)
    if out and all(i.level != P1 for i in out) and total_share >= th.error_ratio_crit:
        biggest = max(out, key=lambda i: i.stat.rate or 0.0)
        biggest.level = P1
        biggest.reasons.append(ctx.reason(f"Together {ev.fmt_pct(total_share)} of Clay calls fail", "metrics", share=round(total_share, 4)))
    return out


def _logs_ahead(ctx: Context, lg: LogEvidence, seen: set[ErrorClass | None]) -> list[Impact]:
    """Classes the logs show failing now that the metrics (or health) do not
    show yet: a sudden failure is in the logs within seconds. Minor (P3)
    until the metrics confirm it: the logs sample calls, they do not count them."""
    out = []
    for o in lg.onsets:
        if o.cls in seen or not o.ongoing or o.failed < LOG_MIN_FAILED or o.failed * 2 < o.calls:
            continue
        stat = ev.ClassStat(o.cls, o.codes, count=o.failed)
        metric = ctx.calls.of(o.cls) if ctx.calls is not None else None
        behind = f" at {ev.fmt_rate(metric.rate)} over the last minute" if metric is not None and metric.rate is not None else " yet"
        reasons = [
            ctx.reason(f"Logs: {_streak_text(o)}", "logs", failed=o.failed, calls=o.calls),
            ctx.reason(
                f"Metrics: {ev.codes_text(o.codes)}{behind} (the 1-minute rate lags)",
                ctx.calls.basis if ctx.calls else "metrics",
                weak=True,
            ),
        ]
        out.append(Impact(stat, "logs", P3, reasons, o, None, {"logs"}))
    return out


def latency(ctx: Context) -> tuple[Severity | None, Reason | None]:
    p95 = ctx.calls.p95_ms if ctx.calls is not None else None
    basis = ctx.calls.basis if ctx.calls is not None else "metrics"
    if p95 is None and ctx.health is not None and basis != "metrics":
        from_health = ev.health_calls(ctx.health, ctx.th.clay_health_checks, weak=True)
        p95, basis = (from_health.p95_ms, "health") if from_health else (None, basis)
    th = ctx.th

    def level_of(ms: float | None) -> Severity | None:
        return None if ms is None else P2 if ms >= th.latency_p95_crit_ms else P3 if ms >= th.latency_p95_warn_ms else None

    lg = ctx.logs
    if lg is not None and lg.p95_ms is not None and SEVERITY_ORDER[level_of(lg.p95_ms)] < SEVERITY_ORDER[level_of(p95)]:
        # the logs see a slowdown within seconds; a 1-minute p95 lags it (as the error rates do)
        level = level_of(lg.p95_ms)
        assert level is not None
        limit = th.latency_p95_crit_ms if level == P2 else th.latency_p95_warn_ms
        word = "degraded" if level == P2 else "slow"
        other = (
            "" if p95 is None else f"; metrics' 1-minute p95: {ev.fmt_ms(p95)}" if basis == "metrics" else f"; {basis}: {ev.fmt_ms(p95)}"
        )
        text = (
            f"Logs: Clay p95 latency {ev.fmt_ms(lg.p95_ms)} over the last {lg.timed} logged calls ({word} above {ev.fmt_ms(limit)}{other})"
        )
        return level, ctx.reason(text, "logs", p95_ms=round(lg.p95_ms, 1), calls=lg.timed)
    if p95 is None:
        return None, None
    level = level_of(p95)
    if level is None:
        return None, None
    limit = th.latency_p95_crit_ms if level == P2 else th.latency_p95_warn_ms
    word = "degraded" if level == P2 else "slow"
    text = f"Clay p95 latency {ev.fmt_ms(p95)} ({word} above {ev.fmt_ms(limit)})"
    return level, ctx.reason(("Health: " if basis == "health" else "") + text, basis, weak=basis != "metrics", p95_ms=round(p95, 1))


# --------------------------------------------------------------------------
# The findings


def _status_reasons(ctx: Context, for_clay: bool) -> list[Reason]:
    st = ctx.status
    if st is None:
        return [ctx.reason("Status page unavailable: cannot rule out a Clay incident", "statuspage", weak=True)]
    out: list[Reason] = []
    for inc in st.incidents[:2]:
        out.append(ctx.reason(f'Clay incident "{inc.name}" ({inc.impact}, {inc.status})', "statuspage", incident=inc.id, impact=inc.impact))
    if st.bad_components:
        comps = ", ".join(f"{n} {ev.component_text(s)}" for n, s in st.bad_components)
        out.append(ctx.reason(f"Clay components: {comps}", "statuspage"))
    if not out:
        desc = f" ({st.description})" if st.description else ""
        out.append(ctx.reason(f"No unresolved incident on Clay's status page{desc}", "statuspage", indicator=st.indicator))
    elif not for_clay:
        out = [ctx.reason("Clay has an open incident too; it may be related", "statuspage")] + out[:1]
    return out


def _fallback_on(ctx: Context) -> str | None:
    """What shows the fallback serving already (the health check's detail, or the log lines)."""
    active = ev.fallback_active(ctx.health)
    if active:
        return active
    if ctx.logs is not None and ctx.logs.fallback_served:
        return f'{ctx.logs.fallback_served} "fallback served" log lines'
    return None


def share_words(ctx: Context, imp: Impact, noun: str = "calls") -> tuple[str | None, str]:
    """How many calls fail, from the numbers the headline is built on, and a
    tail: when it started, or the other source's numbers when they disagree.

    ("all 41 logged calls", " since 12:03:05") while the metrics catch up with
    what the logs show; ("45% of calls", " (logs: 70 of 83)") from the
    metrics; (None, " (17/s)") when no share is known. Never a word like
    "every" or "most": the number.
    """
    stat, o = imp.stat, imp.onset
    if o is not None and (imp.basis == "logs" or imp.catching_up):
        counted = f"all {o.calls} logged {noun}" if o.failed == o.calls else f"{o.failed} of {o.calls} logged {noun}"
        return counted, f" since {ev.clock_text(o.at)}" if o.at is not None else ""
    if imp.basis == "logs":
        if stat.share is not None:
            return f"~{ev.fmt_pct(stat.share)} of {noun}", " (our sync stats)"
        n = ctx.logs.calls if ctx.logs is not None else 0
        return f"{stat.count or 0} of {n} logged {noun}", f" (last {LOG_WINDOW:.0f} s)"
    if stat.share is not None:
        return f"{ev.fmt_pct(stat.share)} of {noun}", _logs_disagree(ctx, stat)
    return None, f" ({ev.fmt_rate(stat.rate)})" if stat.rate else ""


def _with_codes(codes: str, tail: str) -> str:
    """ " (429)" and a tail, the logs' numbers inside the same brackets: " (429; logs: 70 of 83)"."""
    if tail.startswith(" (logs: "):
        return f" ({codes}; {tail[2:]}"
    return f" ({codes}){tail}"


def _logs_disagree(ctx: Context, stat: ev.ClassStat) -> str:
    """ " (logs: 50 of 50)" when the recent logs' share of this class is far from the metrics' share."""
    lg = ctx.logs
    if lg is None or lg.calls < LOG_MIN_CALLS or stat.share is None:
        return ""
    n = sum(count for code, count in lg.per_code.items() if ErrorClass.of(code) == stat.cls)
    return f" (logs: {n} of {lg.calls})" if abs(n / lg.calls - stat.share) >= DISAGREE else ""


def credentials(ctx: Context, imp: Impact) -> Finding:
    """401/403, 429 or other 4xx: Clay errors that are ours to fix whatever Clay's status."""
    stat, cls = imp.stat, imp.stat.cls
    codes = ev.codes_text(stat.codes) if stat.codes else "4xx"
    share, tail = share_words(ctx, imp)
    reasons = list(imp.reasons) + _status_reasons(ctx, for_clay=False)
    if cls == ErrorClass.AUTH:
        label, title = "Credentials", f"Clay answers {codes} to {share}{tail}" if share else f"Clay answers {codes}{tail}"
        actions = branch_actions(Branch.CREDENTIALS, cls)
    elif cls == ErrorClass.RATE_LIMIT:
        label, title = "Rate limit", f"Clay rate-limits {share}{_with_codes(codes, tail)}" if share else f"Clay rate-limits us{tail}"
        actions = branch_actions(Branch.CREDENTIALS, cls)
        rl = ctx.logs.rate_limit if ctx.logs is not None else {}
        if rl:
            parts = [
                f"{k.replace('x-ratelimit-', '')} {v}{' s' if k == 'x-ratelimit-reset' else ''}"
                for k, v in rl.items()
                if k != "retry-after"
            ]
            reasons.append(ctx.reason("Rate-limit headers: " + ", ".join(parts), "logs", weak=False, **rl))
            read = replace(action(ActionId.READ_RATE_LIMITS), done=True, detail=ev.one_line("in the logs: " + ", ".join(parts)))
            return Finding(
                Branch.CREDENTIALS,
                imp.level,
                title,
                tuple(reasons),
                tuple(read if a == ActionId.READ_RATE_LIMITS else action(a) for a in actions),
                frozenset({cls}),
                label=label,
                sources=frozenset(imp.sources),
            )
    else:
        label = "Config"
        title = (
            f"Clay rejects {share}{_with_codes(codes, tail)}: check our requests" if share else f"Clay rejects our requests ({codes}){tail}"
        )
        actions = ()
    return Finding(
        Branch.CREDENTIALS,
        imp.level,
        title,
        tuple(reasons),
        tuple(action(a) for a in actions),
        frozenset({cls}) if cls else frozenset(),
        label=label,
        sources=frozenset(imp.sources),
    )


def clay_side(ctx: Context, imp: Impact | None, lat: Severity | None, lat_reason: Reason | None) -> Finding:
    """5xx / timeouts / slowness: a Clay incident if Clay says so, else ours to check."""
    acknowledged = ctx.status is not None and ctx.status.acknowledged
    level = worse(imp.level if imp else None, lat)
    reasons: list[Reason] = list(imp.reasons) if imp else []
    sources = set(imp.sources) if imp else set()
    if lat_reason is not None:
        reasons.append(lat_reason)
        sources.add(lat_reason.source)
    p95 = dict(lat_reason.values).get("p95_ms") if lat_reason else None
    slow = f"p95 {ev.fmt_ms(float(p95))}" if isinstance(p95, (int, float)) else "slow"
    codes = ev.codes_text(imp.stat.codes) if imp is not None else ""
    if imp is not None:
        share, tail = share_words(ctx, imp)
        if share is not None and acknowledged and share.endswith(" of calls"):
            share = share.replace(" of calls", " of Clay calls")  # "88% of Clay calls fail"
        if share is None:
            what = f"{codes}{tail}"
        elif "logged" in share:
            what = f"Clay answers {codes} to {share}{tail}"
        else:
            what = f"{share} fail" + (tail if acknowledged else _with_codes(codes, tail))
    else:
        what = f"slow, {slow}"
    # the two branches a Clay-side failure can reach recommend their own actions (config/runbook.toml)
    on = Branch.CLAY_INCIDENT if acknowledged and ctx.status is not None else Branch.CREDENTIALS
    actions = [action(a) for a in branch_actions(on, ErrorClass.SERVER)]
    fb = _fallback_on(ctx)
    if fb is not None:
        actions = [replace(a, done=True, detail=fb) if a.id == ActionId.ENABLE_FALLBACK else a for a in actions]
        reasons.append(ctx.reason(f"Fallback already on: {fb}", "logs" if "log lines" in fb else "health"))
    if acknowledged and ctx.status is not None:
        sources.add("statuspage")
        if ctx.status.critical and imp is not None and (imp.stat.rate or 0) >= ctx.th.error_rate_crit and level != P1:
            level = P1
            reasons.append(ctx.reason("Clay reports a critical outage and our calls fail with it", "statuspage"))
        named = f' ("{ctx.status.incidents[0].name}")' if ctx.status.incidents else ""
        branch, label, title = Branch.CLAY_INCIDENT, "Clay incident", what + (named if len(what + named) <= 48 else "")
        reasons = reasons[:1] + _status_reasons(ctx, for_clay=True) + reasons[1:]
    else:
        branch = Branch.CREDENTIALS
        # "no Clay incident" only when the page was read: unread, we do not know (the runbook's alternative source)
        page = "no Clay incident" if ctx.status is not None else "Clay's status page unread"
        if imp is not None:
            label, title = "Clay errors", f"{what}, {page}"
        else:
            label, title = "Clay slow", f"{slow}, {page}"
        reasons += _status_reasons(ctx, for_clay=False)
    return Finding(
        branch, level, title, tuple(reasons), tuple(actions), frozenset({ErrorClass.SERVER}), label=label, sources=frozenset(sources)
    )


def quiet_clay_incident(ctx: Context) -> Finding:
    """Clay reports trouble but our calls show none (or we cannot see them)."""
    st = ctx.status or ev.ClayStatus((), (), "", "")
    reasons = _status_reasons(ctx, for_clay=True)
    if ctx.calls is None:
        worst = min((_IMPACT.get(i.impact, P4) for i in st.incidents), key=lambda s: SEVERITY_ORDER[s], default=P4)
        if st.critical:
            worst = P1
        reasons.append(ctx.reason("Cannot see our Clay calls: severity is Clay's stated impact", "triage", weak=True))
        return Finding(
            Branch.CLAY_INCIDENT,
            worst,
            "our impact unknown",
            tuple(reasons),
            (action(ActionId.WATCH_CLAY_STATUS), action(ActionId.ENABLE_FALLBACK)),
            frozenset({ErrorClass.SERVER}),
        )
    reasons.append(ctx.reason(f"Our Clay calls look normal: {_calls_summary(ctx.calls)}", ctx.calls.basis))
    return Finding(Branch.CLAY_INCIDENT, P4, "no impact on our calls seen", tuple(reasons), (action(ActionId.WATCH_CLAY_STATUS),))


def monitoring_gap(ctx: Context) -> Finding | None:
    down = [g for g in ctx.gaps if g.source in ev.PRIMARY and g.state in (ev.FAILED, ev.STALE)]
    down += [g for g in ctx.gaps if g.state == ev.PARTIAL and not ctx.views[g.source].live][:1]
    if not down:
        return None
    cannot = [ev.LABEL[g.source] for g in down if g.state == ev.FAILED]
    old = [ev.LABEL[g.source] for g in down if g.state == ev.STALE]
    part = [ev.LABEL[g.source] for g in down if g.state == ev.PARTIAL]
    title = "; ".join(
        ([f"cannot see {', '.join(cannot)}"] if cannot else [])
        + ([f"{', '.join(old)} stale"] if old else [])
        + ([f"{', '.join(part)} incomplete"] if part else [])
    )
    reasons = [Reason(g.text, g.source, True) for g in down]
    if any(g.source == "health" and g.state == ev.FAILED for g in down):
        reasons.append(Reason("Health unreadable: our service may be down, or the path to it", "health", True))
    return Finding(Branch.MONITORING_GAP, P4, title, tuple(reasons), ())


def all_quiet(ctx: Context) -> Finding:
    """No finding: healthy if we can see everything, else unknown."""
    reasons = [o for o in ctx.observed if o.state in (ev.LIVE, ev.STALE) and o.summary]
    rs = tuple(Reason(f"{ev.LABEL[o.source].capitalize()}: {o.summary}", o.source, o.state != ev.LIVE) for o in reasons)
    if all(v.live for v in ctx.views.values()):
        return Finding(Branch.HEALTHY, None, "Clay and our service look normal", rs, ())
    waiting = [ev.LABEL[n] for n, v in ctx.views.items() if not v.live]
    return Finding(Branch.UNKNOWN, None, f"no problem seen yet; waiting for {', '.join(waiting)}", rs, ())


FIRST_MIN_FAILED = 3  # failed calls to a "first" rule's endpoints in the log window before the rule speaks


def runbook_first(f: Finding, ctx: Context, rules: tuple[Constraint, ...]) -> Finding:
    """A team runbook's ``first`` rules (issue 18: "fallback first for tables endpoints"): while the logged Clay
    calls to a rule's endpoints fail, its action leads the finding's actions — moved to the front, or added when
    the branch does not recommend it — with the rule in its ``why`` and a reason naming the endpoints. The first
    rule in the file leads when several speak. Only findings about Clay errors; the evidence is the logs'."""
    lg = ctx.logs
    if not f.errors or lg is None or not lg.failed_endpoints:
        return f
    for rule in reversed(rules):
        if rule.kind != "first" or rule.action is None:
            continue
        hits = [(path, n) for path, n in lg.failed_endpoints if rule.matches(path)]
        if sum(n for _, n in hits) < FIRST_MIN_FAILED:
            continue
        where = ", ".join(f"{path} ({n} failed)" for path, n in hits[:3])
        said = "the runbook: first while calls to " + ", ".join(rule.endpoints) + " fail" + (f" ({rule.why})" if rule.why else "")
        lead = next((a for a in f.actions if a.id == rule.action), None) or action(rule.action)
        lead = replace(lead, why=ev.one_line(said))
        fb = _fallback_on(ctx) if rule.action == ActionId.ENABLE_FALLBACK else None
        if fb is not None and not lead.done:
            lead = replace(lead, done=True, detail=fb)
        reason = ctx.reason(f"Runbook: {rule.action.value} first — Clay calls to {where} fail", "logs")
        f = replace(f, actions=(lead, *(a for a in f.actions if a.id != rule.action)), reasons=(*f.reasons, reason))
    return f
