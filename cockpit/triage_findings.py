"""The decision tree and the severity table, on the evidence of
:mod:`cockpit.triage_evidence`. Builds the findings :func:`cockpit.triage.assess`
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

from cockpit import triage_evidence as ev
from cockpit.config import Thresholds
from cockpit.runbook import ActionId, Branch, ErrorClass, Severity
from cockpit.signals import (
    HealthSnapshot,
    LogLine,
    MetricsSnapshot,
    PodsSnapshot,
    StatusPageSnapshot,
)
from cockpit.triage_types import (
    SEVERITY_ORDER,
    Finding,
    Gap,
    Observation,
    Reason,
    action,
)

P1, P2, P3, P4 = Severity.P1, Severity.P2, Severity.P3, Severity.P4
_IMPACT = {"critical": P1, "major": P2, "minor": P3}  # Clay's stated impact, when we cannot see ours


def worse(a: Severity | None, b: Severity | None) -> Severity | None:
    return a if SEVERITY_ORDER[a] <= SEVERITY_ORDER[b] else b


# --------------------------------------------------------------------------
# Context: every signal digested once


@dataclass
class Context:
    th: Thresholds
    views: dict[str, ev.View]
    status: ev.ClayStatus | None = None
    health: HealthSnapshot | None = None
    pods: ev.PodState | None = None
    metrics: MetricsSnapshot | None = None
    calls: ev.Calls | None = None  # the best view of our Clay calls: metrics > health > logs
    logs: ev.LogEvidence | None = None
    gaps: list[Gap] = field(default_factory=list)
    observed: list[Observation] = field(default_factory=list)

    @classmethod
    def build(cls, views: dict[str, ev.View], lines: tuple[LogLine, ...], th: Thresholds) -> Context:
        ctx = cls(th, views)
        sp, hv, mv, pv = views["statuspage"], views["health"], views["metrics"], views["pods"]
        if isinstance(sp.value, StatusPageSnapshot):
            ctx.status = ev.clay_status(sp.value)
        if isinstance(hv.value, HealthSnapshot):
            ctx.health = hv.value
        if isinstance(pv.value, PodsSnapshot):
            ctx.pods = ev.pod_state(pv.value, th.restarts_warn)
        ctx.logs = ev.log_evidence(tuple(lines)) if isinstance(lines, (tuple, list)) else None
        lacks: list[str] = []
        if isinstance(mv.value, MetricsSnapshot):
            ctx.metrics = mv.value
            ctx.calls, lacks = ev.metrics_calls(mv.value, th, weak=not mv.live)
            if ctx.calls.total is None and mv.live:  # no request rate: no shares, no "healthy"
                ctx.views = {**views, "metrics": replace(mv, state=ev.PARTIAL)}
        elif ctx.health is not None:
            ctx.calls = ev.health_calls(ctx.health, th.clay_health_checks, weak=True)
        if ctx.calls is None and ctx.logs is not None:
            ctx.calls = ev.logs_calls(ctx.logs)
        for name in ev.PRIMARY:
            ctx.gaps.extend(_gap(views[name]))
        ctx.gaps.extend(Gap("metrics", ev.PARTIAL, ev.clip(f"metrics partial: {text}")) for text in lacks)
        if not lines and ctx.pods is not None and ctx.pods.total:
            ctx.gaps.append(Gap("logs", "missing", "no recent pod log lines", "logs are followed in the background; wait a few seconds"))
        ctx.observed = [_observe(ctx, name) for name in (*ev.PRIMARY, "logs")]
        return ctx

    def stale_note(self, source: str) -> str:
        v = self.views.get(source)
        if v is None or v.state != ev.STALE:
            return ""
        return f" ({ev.fmt_dur(v.age)} old)" if v.age is not None else " (stale)"

    def reason(self, text: str, source: str, weak: bool = False, **values: float | str) -> Reason:
        note = self.stale_note(source)
        weak = weak or bool(note) or source == "logs"
        return Reason(ev.clip(text, 78 - len(note)) + note, source, weak, tuple(values.items()))


def _gap(v: ev.View) -> list[Gap]:
    label = ev.LABEL[v.name]
    if v.state == ev.MISSING:
        return [Gap(v.name, ev.MISSING, f"{label} not read yet")]
    err = v.error
    detail = f"{err.kind.value}: {err.message}" if err is not None else ""
    hint = err.hint if err is not None else ""
    if v.state == ev.FAILED:
        return [Gap(v.name, ev.FAILED, ev.clip(f"{label} unavailable: {detail}"), hint)]
    if v.state == ev.STALE:
        age = f"{ev.fmt_dur(v.age)} old" if v.age is not None else "old"
        return [Gap(v.name, ev.STALE, ev.clip(f"{label} stale ({age})" + (f": {detail}" if detail else "")), hint)]
    return []


def _observe(ctx: Context, name: str) -> Observation:
    if name == "logs":
        lg = ctx.logs
        if lg is None:
            return Observation("logs", ev.MISSING, None, "no recent pod log lines")
        summary = f"{lg.lines} recent lines, {lg.calls} Clay calls logged, {lg.failed} failed"
        return Observation("logs", ev.LIVE, None, ev.clip(summary))
    v = ctx.views[name]
    if v.value is None:
        gap = next((g for g in ctx.gaps if g.source == name), None)
        return Observation(name, v.state, None, gap.text if gap else "")
    if name == "statuspage" and ctx.status is not None:
        n = len(ctx.status.incidents)
        count = "no unresolved incident" if n == 0 else f"{n} unresolved incident{'s' if n != 1 else ''}"
        summary = f"{ctx.status.description or ctx.status.indicator or 'no indicator'}, {count}"
    elif name == "health" and ctx.health is not None:
        failing = [c.name for c in ctx.health.checks if not c.ok]
        summary = f"{ctx.health.status} (HTTP {ctx.health.http_status})" + (f", failing: {', '.join(failing)}" if failing else "")
    elif name == "metrics" and ctx.metrics is not None:
        summary = _calls_summary(ctx.calls) + (" (backup Prometheus)" if ctx.metrics.is_backup else "")
    elif name == "pods" and ctx.pods is not None:
        p = ctx.pods
        bad = ev.statuses_text(p.crashing + p.not_ready)
        summary = f"{p.ready}/{p.total} ready" + (f": {bad}" if bad else "") + (f", max {p.max_restarts} restarts" if p.max_restarts else "")
    else:
        summary = "answered in an unexpected shape"
    return Observation(name, v.state, v.age, ev.clip(summary))


def _calls_summary(calls: ev.Calls | None) -> str:
    if calls is None:
        return "no Clay call metrics"
    if calls.basis == "logs":
        return f"{calls.total:.0f} Clay calls logged, {calls.error_total:.0f} failed ({calls.window})"
    parts = []
    if calls.total is not None:
        parts.append(f"{ev.fmt_rate(calls.total)} Clay calls")
    errs = calls.error_total
    parts.append(f"errors {ev.fmt_rate(errs)}" + (f" ({ev.fmt_pct(errs / calls.total)})" if calls.total else ""))
    if calls.p95_ms is not None:
        parts.append(f"p95 {ev.fmt_ms(calls.p95_ms)}")
    return ", ".join(parts)


# --------------------------------------------------------------------------
# Clay call impact, per error class


@dataclass
class Impact:
    stat: ev.ClassStat
    basis: str  # "metrics", "health", "logs"
    level: Severity | None
    reasons: list[Reason]
    every_call: bool = False  # the recent logs show every call failing (metrics' 1-minute rate lags)


def _rate_level(stat: ev.ClassStat, th: Thresholds) -> Severity | None:
    rate = stat.rate or 0.0
    if stat.share is not None and stat.share >= th.error_ratio_crit and rate >= ev.MIN_RATE:
        return P1
    if rate >= th.error_rate_crit:
        return P2
    if rate >= th.error_rate_warn:
        return P3
    return None


def _log_level(stat: ev.ClassStat, lg: ev.LogEvidence, th: Thresholds) -> Severity | None:
    count = stat.count or 0
    if stat.share is not None:  # our unsampled "sync stats" counters
        if stat.share >= th.error_ratio_crit:
            return P1
        return P2 if stat.share >= 0.05 else (P3 if count >= 3 else None)
    if count >= 5 and count * 2 >= lg.calls:
        return P2
    return P3 if count >= 3 else None


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
    values: dict[str, float | int | str] = {"code": codes, "rate": round(rate, 3)}
    if stat.share is not None:
        values["share"] = round(stat.share, 4)
    if calls.total is not None:
        values["calls"] = round(calls.total, 3)
    return ctx.reason(text, calls.basis, weak=calls.basis != "metrics", **values)


def impacts(ctx: Context) -> list[Impact]:
    """Each Clay error class we see, with its severity and the reasons."""
    calls, lg, th = ctx.calls, ctx.logs, ctx.th
    if calls is None:
        return []
    out: list[Impact] = []
    for stat in calls.classes:
        level = _log_level(stat, lg, th) if calls.basis == "logs" and lg is not None else _rate_level(stat, th)
        if level is None:
            continue
        out.append(Impact(stat, calls.basis, level, [_class_reason(ctx, stat, calls)]))
    dominant_log = _dominant_log_class(lg)
    if calls.basis != "logs" and ev.logs_all_failing(lg) and dominant_log is not None:
        # metrics' 1-minute rates lag a sudden failure by up to a minute; the logs do not
        hit = next((i for i in out if i.stat.cls == dominant_log[0]), None)
        if hit is None:
            hit = Impact(ev.ClassStat(dominant_log[0], dominant_log[1], count=dominant_log[2]), "logs", None, [])
            hit.reasons.append(ctx.reason(f"{ev.codes_text(dominant_log[1])} not in metrics yet", "metrics", weak=True))
            out.append(hit)
        hit.level, hit.every_call = P1, True
        hit.reasons.append(ctx.reason(
            f"Logs: {lg.failed} of {lg.calls} logged Clay calls failed in the last {ev.LOG_WINDOW:.0f} s",
            "logs", failed=lg.failed, calls=lg.calls))
    if ctx.health is not None and out and calls.basis != "logs":
        failing = [c for c in ev.clay_checks_failing(ctx.health, th.clay_health_checks) if c.status == "fail"]
        if failing and ctx.health.status == "down":
            biggest = max(out, key=lambda i: (i.stat.rate or 0.0, i.stat.count or 0))
            biggest.level = P1
            biggest.reasons.append(ctx.reason(f"Health: down — {failing[0].name} fail: {failing[0].detail}", "health"))
    total_share = sum(i.stat.share or 0.0 for i in out)
    if out and all(i.level != P1 for i in out) and total_share >= th.error_ratio_crit:
        biggest = max(out, key=lambda i: i.stat.rate or 0.0)
        biggest.level = P1
        biggest.reasons.append(ctx.reason(f"Together {ev.fmt_pct(total_share)} of Clay calls fail", "metrics", share=round(total_share, 4)))
    return out


def _dominant_log_class(lg: ev.LogEvidence | None) -> tuple[ErrorClass | None, tuple[int, ...], int] | None:
    if lg is None or not lg.per_code:
        return None
    groups: dict[ErrorClass | None, tuple[list[int], int]] = {}
    for code, n in lg.per_code.items():
        codes, total = groups.get(ErrorClass.of(code), ([], 0))
        groups[ErrorClass.of(code)] = (codes + [code], total + n)
    cls, (codes, n) = max(groups.items(), key=lambda kv: kv[1][1])
    return cls, tuple(sorted(codes)), n


def latency(ctx: Context) -> tuple[Severity | None, Reason | None]:
    p95 = ctx.calls.p95_ms if ctx.calls is not None else None
    basis = ctx.calls.basis if ctx.calls is not None else "metrics"
    if p95 is None and ctx.health is not None and basis != "metrics":
        from_health = ev.health_calls(ctx.health, ctx.th.clay_health_checks, weak=True)
        p95, basis = (from_health.p95_ms, "health") if from_health else (None, basis)
    if p95 is None:
        return None, None
    th = ctx.th
    level = P2 if p95 >= th.latency_p95_crit_ms else P3 if p95 >= th.latency_p95_warn_ms else None
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
        out.append(ctx.reason(f"Clay incident \"{inc.name}\" ({inc.impact}, {inc.status})", "statuspage", incident=inc.id, impact=inc.impact))
    if st.bad_components:
        comps = ", ".join(f"{n} {ev.component_text(s)}" for n, s in st.bad_components)
        out.append(ctx.reason(f"Clay components: {comps}", "statuspage"))
    if not out:
        desc = f" ({st.description})" if st.description else ""
        out.append(ctx.reason(f"No unresolved incident on Clay's status page{desc}", "statuspage", indicator=st.indicator))
    elif not for_clay:
        out = [ctx.reason("Clay has an open incident too; it may be related", "statuspage")] + out[:1]
    return out


def _fallback_reason(ctx: Context) -> Reason | None:
    active = ev.fallback_active(ctx.health)
    if active:
        return ctx.reason(f"Fallback already on: {active}", "health")
    if ctx.logs is not None and ctx.logs.fallback_served:
        return ctx.reason(f"Fallback already on: {ctx.logs.fallback_served} \"fallback served\" log lines", "logs")
    return None


def _share_words(imp: Impact, calls: str = "calls") -> str:
    """"every call", "45% of calls", "(17/s)" or "(seen in logs)"."""
    stat = imp.stat
    if stat.share is not None and stat.share >= ev.EVERY_CALL:
        return f"every {calls[:-1]}"
    if imp.every_call and (stat.share is None or stat.share < ev.CAUGHT_UP):
        return f"nearly every {calls[:-1]}"  # the logs see it; the 1-minute rate has not caught up
    if stat.share is None:
        return f"({ev.fmt_rate(stat.rate)})" if stat.rate else "(seen in logs)"
    return f"{ev.fmt_pct(stat.share)} of {calls}"


def credentials(ctx: Context, imp: Impact) -> Finding:
    """401/403, 429 or other 4xx: Clay errors that are ours to fix whatever Clay's status."""
    stat, cls = imp.stat, imp.stat.cls
    codes = ev.codes_text(stat.codes) if stat.codes else "4xx"
    share = _share_words(imp)
    counted = not share.startswith("(")
    reasons = list(imp.reasons) + _status_reasons(ctx, for_clay=False)
    if cls == ErrorClass.AUTH:
        label, title = "Credentials", f"Clay answers {codes} to {share}" if counted else f"Clay answers {codes} {share}"
        actions = (ActionId.VERIFY_KEY, ActionId.UPDATE_KEY, ActionId.RESTART)
    elif cls == ErrorClass.RATE_LIMIT:
        label, title = "Rate limit", f"Clay rate-limits {share} ({codes})" if counted else f"Clay rate-limits us {share}"
        actions = (ActionId.READ_RATE_LIMITS, ActionId.ENABLE_QUEUING)
        rl = ctx.logs.rate_limit if ctx.logs is not None else {}
        if rl:
            parts = [f"{k.replace('x-ratelimit-', '')} {v}{' s' if k == 'x-ratelimit-reset' else ''}" for k, v in rl.items() if k != "retry-after"]
            reasons.append(ctx.reason("Rate-limit headers: " + ", ".join(parts), "logs", **rl))
    else:
        label, title = "Config", f"Clay rejects {share} ({codes}): check our requests"
        actions = ()
    return Finding(Branch.CREDENTIALS, imp.level, title, tuple(reasons), tuple(action(a) for a in actions),
                   frozenset({cls}) if cls else frozenset(), label=label)


def clay_side(ctx: Context, imp: Impact | None, lat: Severity | None, lat_reason: Reason | None) -> Finding:
    """5xx / timeouts / slowness: a Clay incident if Clay says so, else ours to check."""
    acknowledged = ctx.status is not None and ctx.status.acknowledged
    level = worse(imp.level if imp else None, lat)
    reasons: list[Reason] = list(imp.reasons) if imp else []
    if lat_reason is not None:
        reasons.append(lat_reason)
    p95 = dict(lat_reason.values).get("p95_ms") if lat_reason else None
    slow = f"p95 {ev.fmt_ms(float(p95))}" if isinstance(p95, (int, float)) else "slow"
    if imp is not None:
        share = _share_words(imp, "Clay calls" if acknowledged else "calls")
        what = f"{share} {'fail' if share.endswith('calls') else 'fails'}" if not share.startswith("(") else f"{ev.codes_text(imp.stat.codes)} {share}"
    else:
        what = f"slow, {slow}"
    actions = [ActionId.ENABLE_FALLBACK, ActionId.WATCH_CLAY_STATUS]
    fb = _fallback_reason(ctx)
    if fb is not None:
        actions.remove(ActionId.ENABLE_FALLBACK)
        reasons.append(fb)
    if acknowledged and ctx.status is not None:
        if ctx.status.critical and imp is not None and (imp.stat.rate or 0) >= ctx.th.error_rate_crit and level != P1:
            level = P1
            reasons.append(ctx.reason("Clay reports a critical outage and our calls fail with it", "statuspage"))
        named = f' ("{ctx.status.incidents[0].name}")' if ctx.status.incidents else ""
        branch, label, title = Branch.CLAY_INCIDENT, "Clay incident", what + (named if len(what + named) <= 48 else "")
        reasons = reasons[:1] + _status_reasons(ctx, for_clay=True) + reasons[1:]
    else:
        branch = Branch.CREDENTIALS
        if imp is not None:
            label, title = "Clay errors", f"{what} ({ev.codes_text(imp.stat.codes)}), no Clay incident"
        else:
            label, title = "Clay slow", f"{slow}, no Clay incident"
        reasons += _status_reasons(ctx, for_clay=False)
    return Finding(branch, level, title, tuple(reasons), tuple(action(a) for a in actions), frozenset({ErrorClass.SERVER}), label=label)


def quiet_clay_incident(ctx: Context) -> Finding:
    """Clay reports trouble but our calls show none (or we cannot see them)."""
    st = ctx.status or ev.ClayStatus((), (), "", "")
    reasons = _status_reasons(ctx, for_clay=True)
    if ctx.calls is None:
        worst = min((_IMPACT.get(i.impact, P4) for i in st.incidents), key=lambda s: SEVERITY_ORDER[s], default=P4)
        if st.critical:
            worst = P1
        reasons.append(ctx.reason("Cannot see our Clay calls: severity is Clay's stated impact", "triage", weak=True))
        return Finding(Branch.CLAY_INCIDENT, worst, "our impact unknown", tuple(reasons),
                       (action(ActionId.WATCH_CLAY_STATUS), action(ActionId.ENABLE_FALLBACK)), frozenset({ErrorClass.SERVER}))
    reasons.append(ctx.reason(f"Our Clay calls look normal: {_calls_summary(ctx.calls)}", ctx.calls.basis))
    return Finding(Branch.CLAY_INCIDENT, P4, "no impact on our calls seen", tuple(reasons),
                   (action(ActionId.WATCH_CLAY_STATUS),))


def infrastructure(ctx: Context, imps: list[Impact]) -> Finding | None:
    """Our own service: pods and our (non-Clay) health checks."""
    th, p, h = ctx.th, ctx.pods, ctx.health
    level: Severity | None = None
    reasons: list[Reason] = []
    title = ""
    if p is not None:
        bad = p.crashing + p.not_ready
        restarts = f", max {p.max_restarts} restart{'s' if p.max_restarts != 1 else ''}" if p.max_restarts else ""
        pods_line = f"Pods: {p.ready}/{p.total} ready" + (f" — {ev.statuses_text(bad)}" if bad else "") + restarts
        if p.total == 0:
            level, title = P1, f"no pods match {p.selector}"
            reasons.append(ctx.reason(f"Pods: none match {p.selector} in {p.namespace}", "pods", pods=0))
        elif p.ready == 0 or (p.crashing and (len(p.crashing) == p.total or p.ready * 2 < p.total)):
            level = P1
        elif p.crashing or p.ready * 2 < p.total:
            level = P2
        elif p.oom and p.restarted:
            level = P3
        if level is not None and p.total:
            words = ev.statuses_text(p.crashing) or ev.statuses_text(p.not_ready) or "restarted"
            oom = " (OOMKilled)" if p.oom and "OOMKilled" not in words else ""
            title = f"{p.ready}/{p.total} pods ready: {words}{oom}"
            reasons.append(ctx.reason(pods_line, "pods", ready=p.ready, pods=p.total, crashing=len(p.crashing), restarts=p.max_restarts))
            if p.oom:
                mem = f" (logs: {ctx.logs.memory})" if ctx.logs is not None and ctx.logs.memory else ""
                reasons.append(ctx.reason(f"{p.oom} pod{'s' if p.oom != 1 else ''} OOMKilled: out of memory{mem}", "pods", oom=p.oom))
    if h is not None:
        failing, degraded = ev.our_checks(h, th.clay_health_checks)
        hl = P1 if failing and h.status == "down" else P2 if failing else P3 if degraded else None
        for c in (failing + degraded)[:2]:
            reasons.append(ctx.reason(f"Health {h.status}: {c.name} {c.status} — {c.detail}", "health", check=c.name))
        if hl is not None and SEVERITY_ORDER[hl] < SEVERITY_ORDER[level]:
            level = hl
            title = title or f"Health {h.status}: {', '.join(c.name for c in failing + degraded)} {'failing' if failing else 'degraded'}"
    hv = ctx.views["health"]
    if hv.state == ev.FAILED and hv.error is not None and hv.error.kind.value == "server_error":
        reasons.append(ctx.reason(f"Health endpoint errors: {hv.error.message}", "health", weak=True))
        if level is None:
            level, title = P3, "our health endpoint answers with an error"
    if level is None:
        return None
    if ctx.calls is not None and not imps:
        reasons.append(ctx.reason(f"Clay calls fine: {_calls_summary(ctx.calls)}", ctx.calls.basis))
    return Finding(Branch.INFRASTRUCTURE, level, title, tuple(reasons), (action(ActionId.INVESTIGATE_INFRA),))


def monitoring_gap(ctx: Context) -> Finding | None:
    down = [g for g in ctx.gaps if g.source in ev.PRIMARY and g.state in (ev.FAILED, ev.STALE)]
    down += [g for g in ctx.gaps if g.state == ev.PARTIAL and not ctx.views[g.source].live][:1]
    if not down:
        return None
    cannot = [ev.LABEL[g.source] for g in down if g.state == ev.FAILED]
    old = [ev.LABEL[g.source] for g in down if g.state == ev.STALE]
    part = [ev.LABEL[g.source] for g in down if g.state == ev.PARTIAL]
    title = "; ".join(([f"cannot see {', '.join(cannot)}"] if cannot else []) + ([f"{', '.join(old)} stale"] if old else [])
                      + ([f"{', '.join(part)} incomplete"] if part else []))
    reasons = [Reason(g.text, g.source, True) for g in down]
    if any(g.source == "health" and g.state == ev.FAILED for g in down):
        reasons.append(Reason("Health unreadable: our service may be down, or the path to it", "health", True))
    return Finding(Branch.MONITORING_GAP, P4, title, tuple(reasons), ())


def all_quiet(ctx: Context) -> Finding:
    """No finding: healthy if we can see everything, else unknown."""
    reasons = [o for o in ctx.observed if o.state in (ev.LIVE, ev.STALE) and o.summary]
    rs = tuple(Reason(ev.clip(f"{ev.LABEL[o.source].capitalize()}: {o.summary}"), o.source, o.state != ev.LIVE) for o in reasons)
    if all(v.live for v in ctx.views.values()):
        return Finding(Branch.HEALTHY, None, "Clay and our service look normal", rs, ())
    waiting = [ev.LABEL[n] for n, v in ctx.views.items() if not v.live]
    return Finding(Branch.UNKNOWN, None, f"no problem seen yet; waiting for {', '.join(waiting)}", rs, ())


def build_findings(ctx: Context) -> list[Finding]:
    """Every active branch (unordered; assess orders them and rates confidence)."""
    out: list[Finding] = []
    imps = impacts(ctx)
    server = [i for i in imps if i.stat.cls == ErrorClass.SERVER]
    for imp in imps:
        if imp.stat.cls in (ErrorClass.AUTH, ErrorClass.RATE_LIMIT, None):
            out.append(credentials(ctx, imp))
    lat, lat_reason = latency(ctx)
    if server or lat is not None:
        out.append(clay_side(ctx, server[0] if server else None, lat, lat_reason))
    elif ctx.status is not None and ctx.status.acknowledged:
        out.append(quiet_clay_incident(ctx))
    infra = infrastructure(ctx, imps)
    if infra is not None:
        out.append(infra)
    gap = monitoring_gap(ctx)
    if gap is not None:
        out.append(gap)
    if not out:
        out.append(all_quiet(ctx))
    return [replace(f, title=ev.clip(f.title, 72)) for f in out]
