"""An action's symptom: what a mitigation should end, how it stood when the
responder confirmed it, and — once the change took effect — whether it
ended, judged from the Signals the cockpit already has.

- :func:`symptom_for` names the symptom from the decision-tree branch and
  error class the action was recommended for (401/403 → auth errors, 429 →
  rate-limited calls, 5xx / a Clay incident → our health endpoint down or
  5xx from Clay, a crashloop → pods not ready / restarting);
- :func:`measure_before` says how it stood ("401 on 82% of calls (32.1/s)");
- :func:`judge` looks at one snapshot after the change: the newest logged
  Clay calls of the pods started by the change first (seconds), the metrics
  second (a 1-minute rate lags); the pods list for a crashloop, the health
  endpoint for the fallback. It returns the follow (what it remembers
  between looks) and a :class:`Verdict`: still watching, ended, or persists.

The words and the event data are the contract in docs/events.md
(``symptom_ended`` / ``symptom_persists``). Pure: no I/O, no Textual, never
raises on odd input (odd log lines, missing readings, NaN rates).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from clay_cockpit.actions.types import ActionKind
from clay_cockpit.runbook import STEPS, ActionId, Branch, ErrorClass, item_applies
from clay_cockpit.sanitise import clean_line
from clay_cockpit.signals import HealthCheck, HealthSnapshot, LogLine, PodInfo, Signals
from clay_cockpit.triage.service import is_finished
from clay_cockpit.triage.types import Assessment


class Symptom(StrEnum):
    AUTH_ERRORS = "auth_errors"
    RATE_LIMITED = "rate_limited"
    SERVER_ERRORS = "server_errors"
    PODS_UNREADY = "pods_unready"
    HEALTH_DOWN = "health_down"


LABEL: dict[Symptom, str] = {
    Symptom.AUTH_ERRORS: "401s",
    Symptom.RATE_LIMITED: "429s",
    Symptom.SERVER_ERRORS: "5xx from Clay",
    Symptom.PODS_UNREADY: "pods not ready / restarting",
    Symptom.HEALTH_DOWN: "our health endpoint down",
}
LOGGED = (Symptom.AUTH_ERRORS, Symptom.RATE_LIMITED)  # judged from the share of logged calls that get them

WATCHING, ENDED, PERSISTS = "watching", "ended", "persists"
MIN_CALLS = 10  # logged calls of the new pods before the logs say the symptom ended
LAST_CALLS = 50  # the newest logged calls judged
PERSIST_CALLS = 20  # logged calls before the logs alone say it persists
METRICS_LAG = 75.0  # seconds before a 1-minute rate shows the change (the rate window and a scrape)
CRASHING = frozenset({"CrashLoopBackOff", "OOMKilled", "Error", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError"})

_STATUS = re.compile(r'(?:^|\s)status="?(\d{3})"?(?=\s|$)')
_MSG = re.compile(r'(?:^|\s)msg=(?:"([^"]*)"|(\S+))')


def bad_code(symptom: Symptom, code: int) -> bool:
    """Is a call with this HTTP status the symptom?"""
    if symptom is Symptom.AUTH_ERRORS:
        return code in (401, 403)
    if symptom is Symptom.RATE_LIMITED:
        return code == 429
    return 500 <= code <= 599  # server errors; the health symptom's calls too


def hms(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%H:%M:%S UTC")


# --------------------------------------------------------------------------
# What to follow


def symptom_for(kind: ActionKind, assessment: Assessment | None, signals: Signals) -> tuple[Symptom, str] | None:
    """The symptom an action should end, and the branch it was recommended
    for ("" when no finding recommended it): from the finding whose runbook
    actions include it, else from what the signals show now. None: nothing
    to follow (a check, the undo of a mitigation, nothing wrong in sight)."""
    kind = ActionKind(kind)
    if kind in (ActionKind.VERIFY_KEY, ActionKind.DISABLE_QUEUING, ActionKind.DISABLE_FALLBACK):
        return None
    wanted = {
        ActionKind.UPDATE_KEY: ActionId.UPDATE_KEY,
        ActionKind.RESTART: ActionId.RESTART,
        ActionKind.SCALE: ActionId.SCALE,
        ActionKind.ENABLE_QUEUING: ActionId.ENABLE_QUEUING,
        ActionKind.ENABLE_FALLBACK: ActionId.ENABLE_FALLBACK,
        ActionKind.ROLLBACK: ActionId.ROLLBACK,
    }[kind]
    branch, errors = "", frozenset[ErrorClass]()
    if assessment is not None:
        for f in assessment.findings:
            if any(a.id is wanted for a in f.actions):
                branch, errors = f.branch.value, f.errors
                break
    if kind is ActionKind.ENABLE_QUEUING:
        return Symptom.RATE_LIMITED, branch
    if kind is ActionKind.ENABLE_FALLBACK:
        down = signals.health.value is not None and signals.health.value.status == "down"
        return (Symptom.HEALTH_DOWN if down else Symptom.SERVER_ERRORS), branch
    if kind is ActionKind.UPDATE_KEY or ErrorClass.AUTH in errors:
        return Symptom.AUTH_ERRORS, branch
    if kind is ActionKind.ROLLBACK:
        return _rollback_symptom(signals), branch or _infra(assessment)
    if branch == Branch.INFRASTRUCTURE.value:
        return Symptom.PODS_UNREADY, branch
    if not branch and assessment is not None and any(f.branch is Branch.INFRASTRUCTURE for f in assessment.findings):
        return Symptom.PODS_UNREADY, Branch.INFRASTRUCTURE.value  # our pods are the problem: a restart or scale is meant for them
    # not recommended by a finding: what the signals show now
    live = _live(signals.pods.value.pods if signals.pods.value is not None else ())
    if any(p.status in CRASHING or not p.is_ready or (p.restarts > 0 and p.last_termination in ("OOMKilled", "Error")) for p in live):
        return Symptom.PODS_UNREADY, branch
    if kind is ActionKind.RESTART:
        calls = logged_calls(signals.recent_logs)[-LAST_CALLS:]
        if len(calls) >= MIN_CALLS and sum(1 for _, c in calls if bad_code(Symptom.AUTH_ERRORS, c)) * 2 >= len(calls):
            return Symptom.AUTH_ERRORS, branch
    return None


def _live(pods: Iterable[PodInfo]) -> list[PodInfo]:
    """The replicas there are: not terminating, and not ended for good (an evicted pod stays
    listed, Failed, until it is cleaned up; its ReplicaSet already replaced it)."""
    return [p for p in pods if p.status != "Terminating" and not is_finished(p)]


def _crashing(signals: Signals) -> bool:
    live = _live(signals.pods.value.pods if signals.pods.value is not None else ())
    return any(p.status in CRASHING or not p.is_ready or (p.restarts > 0 and p.last_termination in ("OOMKilled", "Error")) for p in live)


def _rollback_symptom(signals: Signals) -> Symptom:
    """A rollback ends what the bad change brought: pods crashing or not ready (judged on the
    pods), else our health endpoint down (a release that runs but fails its work)."""
    if _crashing(signals):
        return Symptom.PODS_UNREADY
    down = signals.health.value is not None and signals.health.value.status == "down"
    return Symptom.HEALTH_DOWN if down else Symptom.PODS_UNREADY


def _infra(assessment: Assessment | None) -> str:
    found = assessment is not None and any(f.branch is Branch.INFRASTRUCTURE for f in assessment.findings)
    return Branch.INFRASTRUCTURE.value if found else ""


# --------------------------------------------------------------------------
# Reading the signals


def call_code(text: str) -> int | None:
    """The HTTP status of a logged Clay call (``msg="clay call…" … status=401``), else None."""
    if not isinstance(text, str):
        return None
    head = text[:2000]
    m = _MSG.search(head)
    msg = (m.group(1) if m and m.group(1) is not None else m.group(2) if m else "") or ""
    if "clay" not in msg.lower():
        return None
    s = _STATUS.search(head)
    return int(s.group(1)) if s else None


def logged_calls(
    lines: Iterable[LogLine], only: frozenset[str] | None = None, exclude: frozenset[str] = frozenset()
) -> list[tuple[str, int]]:
    """(pod, status) of each logged Clay call, oldest first (by the line's
    timestamp when every line has one, else as delivered)."""
    picked: list[LogLine] = []
    for ln in lines:
        if not isinstance(ln, LogLine) or ln.pod in exclude or (only is not None and ln.pod not in only):
            continue
        picked.append(ln)
    if picked and all(ln.ts is not None for ln in picked):
        try:
            picked.sort(key=lambda ln: ln.ts)  # type: ignore[arg-type,return-value]
        except TypeError:  # naive and aware timestamps mixed: keep the delivered order
            pass
    out = []
    for ln in picked:
        code = call_code(ln.text)
        if code is not None:
            out.append((ln.pod, code))
    return out


def metric_rate(signals: Signals, symptom: Symptom) -> float | None:
    """Calls per second with the symptom's codes (errors_by_code), None when unknown.
    A code with no series counts as 0 once the query answered."""
    m = signals.metrics.value
    if m is None:
        return None
    series = m.by_query("errors_by_code")
    if not series and not m.by_query("request_rate"):
        return None  # (no error series while the request rate answers: no errors at all)
    total = 0.0
    for s in series:
        code = s.label_value("code")
        if code is None or not code.isdigit() or not bad_code(symptom, int(code)):
            continue
        v = s.current
        if v is not None and math.isfinite(v) and v > 0:
            total += v
    return total


def request_rate(signals: Signals) -> float | None:
    m = signals.metrics.value
    if m is None:
        return None
    values = [s.current for s in m.by_query("request_rate") if s.current is not None and math.isfinite(s.current)]
    return sum(values) if values else None


def _codes_text(codes: Iterable[int], symptom: Symptom) -> str:
    shown = sorted(set(codes))
    if shown:
        return "/".join(str(c) for c in shown)
    return {Symptom.AUTH_ERRORS: "401", Symptom.RATE_LIMITED: "429"}.get(symptom, "5xx")


def _codes_in_metrics(signals: Signals, symptom: Symptom) -> list[int]:
    m = signals.metrics.value
    out = []
    for s in m.by_query("errors_by_code") if m is not None else ():
        code = s.label_value("code")
        if code and code.isdigit() and bad_code(symptom, int(code)) and (s.current or 0) > 0:
            out.append(int(code))
    return out


def pods_text(pods: Sequence[PodInfo], base: dict[str, int] | None = None, want: int | None = None, new: bool = False) -> str:
    """``0/3 pods ready, 3 restarted (OOMKilled)``."""
    base = base or {}
    live = _live(pods)
    ready = sum(1 for p in live if p.is_ready)
    restarted = [p for p in live if p.restarts > base.get(p.name, 0) or p.status in CRASHING]
    total = want if want is not None else len(live)
    text = f"{ready}/{total} {'new ' if new else ''}pods ready"
    if restarted:
        reasons = sorted({clean_line(p.last_termination or p.status) for p in restarted})
        text += f", {len(restarted)} restarted ({', '.join(reasons)})"
    return text


@dataclass(frozen=True)
class Before:
    """The symptom when the responder confirmed the action."""

    text: str  # "401 on 82% of calls (32.1/s)"
    share: float | None = None  # share of the newest logged calls with the symptom (logs over-sample failures: compared with logs only)
    rate: float | None = None  # the metrics' rate of the symptom's codes, per second
    codes: tuple[int, ...] = ()


def measure_before(symptom: Symptom, signals: Signals) -> Before:
    if symptom is Symptom.PODS_UNREADY:
        pods = signals.pods.value.pods if signals.pods.value is not None else ()
        return Before(pods_text(pods) if pods else "no pods seen")
    if symptom is Symptom.HEALTH_DOWN:
        h = signals.health.value
        if h is None:
            return Before("health not read yet", rate=metric_rate(signals, symptom))
        failing = [f"{c.name}: {c.status}" for c in h.checks if c.status not in ("ok", "")]
        return Before(f"health {h.status}" + (f" ({', '.join(failing)})" if failing else ""), rate=metric_rate(signals, symptom))
    calls = logged_calls(signals.recent_logs)[-LAST_CALLS:]
    bad = [c for _, c in calls if bad_code(symptom, c)]
    share = len(bad) / len(calls) if calls else None
    rate, total = metric_rate(signals, symptom), request_rate(signals)
    codes = tuple(sorted(set(bad) | set(_codes_in_metrics(signals, symptom))))
    what = _codes_text(codes, symptom)
    if rate is not None and total:
        text = f"{what} on {min(100.0, 100 * rate / total):.0f}% of calls ({rate:.1f}/s)"
    elif rate is not None:
        text = f"{what} at {rate:.1f}/s"
    elif calls:
        text = f"{len(bad)} of the last {len(calls)} logged calls got {what}"
    else:
        text = f"{what}: no numbers yet"
    return Before(text, share, rate, codes)


# --------------------------------------------------------------------------
# Following it


@dataclass(frozen=True)
class Follow:
    """One applied action's symptom, followed until it ended or the window closed."""

    symptom: Symptom
    plan_id: str
    action: str  # ActionKind value
    runbook: str  # ActionId value
    title: str  # what was done, for the summary: "Restart the pods"
    effect: str  # "rollout done", "applied"
    applied_at: float  # the change took effect (app clock)
    deadline: float  # applied_at + the follow window
    before: Before
    old_pods: frozenset[str] = frozenset()  # the pods before the change: only the others count ("" set: every pod)
    replicas: int | None = None
    stable: float = 60.0  # seconds the new pods must stay ready without a restart (pods_unready)
    branch: str = ""  # the branch it was recommended for
    carries: tuple[str, ...] = ()  # runbook actions it completes too ("update_key" for the restart after the key update)
    baseline: tuple[tuple[str, int], ...] = ()  # restarts per pod when the change was made
    clear_since: float | None = None  # the first look of the current run of looks without the symptom

    @property
    def label(self) -> str:
        if self.symptom is Symptom.AUTH_ERRORS and self.before.codes and 401 not in self.before.codes:
            return "403s"
        return LABEL[self.symptom]


@dataclass(frozen=True)
class Verdict:
    state: str  # WATCHING, ENDED or PERSISTS
    summary: str  # one line, never cut: the pane, the notification and the timeline say it
    evidence: str = ""  # the numbers, one line
    basis: str = ""  # "logs", "metrics", "pods", "health", joined with "+"
    ended_at: float | None = None
    metrics_agree: bool | None = None
    head: str = ""  # ENDED: what ended and when, "401s stopped at 12:03:14 UTC"
    main: str = ""  # ENDED: the evidence without the metrics' word (the pane adds the metrics when they catch up)

    @property
    def final(self) -> bool:
        return self.state != WATCHING

    def data(self, f: Follow) -> dict[str, Any]:
        """The event's data (docs/events.md)."""
        return {
            "plan_id": f.plan_id,
            "action": f.action,
            "runbook": f.runbook,
            "symptom": f.symptom.value,
            "label": f.label,
            "applied_at": f.applied_at,
            "ended_at": self.ended_at if self.state == ENDED else None,
            "basis": self.basis,
            "evidence": self.evidence,
            "metrics_agree": self.metrics_agree,
            "before": f.before.text,
            "branch": f.branch,
            "carries": list(f.carries),
        }


def metrics_view(f: Follow, signals: Signals, now: float) -> tuple[bool | None, str]:
    """Do the metrics show the symptom gone? (None: not caught up or unavailable) and the words."""
    if f.symptom is Symptom.PODS_UNREADY:
        return None, ""
    rate = metric_rate(signals, f.symptom)
    if rate is None:
        return None, "metrics unavailable"
    what = _codes_text(f.before.codes, f.symptom)
    if f.symptom is Symptom.AUTH_ERRORS:
        limit = 0.05
    elif f.before.rate is not None and f.before.rate > 0:
        limit = max(0.2, f.before.rate * (0.15 if f.symptom is Symptom.RATE_LIMITED else 0.25))
    else:
        limit = 0.2
    if rate <= limit:
        return True, f"metrics agree ({what} at {rate:.2f}/s)"
    if now - f.applied_at < METRICS_LAG:
        return None, f"metrics not caught up yet ({what} at {rate:.1f}/s)"
    return False, f"metrics still show {what} at {rate:.1f}/s"


def judge(f: Follow, signals: Signals, now: float) -> tuple[Follow, Verdict]:
    """One look after the change (see the module docstring)."""
    if f.symptom in LOGGED:
        return _judge_calls(f, signals, now)
    if f.symptom is Symptom.PODS_UNREADY:
        return _judge_pods(f, signals, now)
    return _judge_fallback(f, signals, now)


def _ended(head: str, at: float, main: str, metrics: str, basis: str, agree: bool | None) -> Verdict:
    """``Mitigated: 401s stopped at 12:03:14 UTC (…)`` — ``head`` says what, with ``{at}`` where the time goes."""
    head = head.format(at=hms(at))
    evidence = _join(main, metrics)
    return Verdict(ENDED, f"Mitigated: {head} ({evidence})", evidence, basis, at, agree, head, main)


def _persists(f: Follow, evidence: str, basis: str, agree: bool | None = None) -> Verdict:
    return Verdict(PERSISTS, f"{f.title}: {f.effect}, symptom persists — {evidence}: the fix did not work", evidence, basis, None, agree)


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def _judge_calls(f: Follow, signals: Signals, now: float) -> tuple[Follow, Verdict]:
    only_new = bool(f.old_pods)
    calls = logged_calls(signals.recent_logs, exclude=f.old_pods | {"(cockpit)"}) if only_new else []
    last = calls[-LAST_CALLS:]
    n = len(last)
    bad = sum(1 for _, c in last if bad_code(f.symptom, c))
    share = bad / n if n else 0.0
    what = _codes_text(f.before.codes, f.symptom)
    agree, metrics = metrics_view(f, signals, now)
    was = f" (was {f.before.share:.0%} of them)" if f.before.share is not None and f.symptom is not Symptom.AUTH_ERRORS else ""
    logs = f"{bad} of the last {n} logged calls of the new pods got {what}{was}" if n else ""
    if f.symptom is Symptom.AUTH_ERRORS:
        clear = bad == 0
    else:
        limit = min(0.25, max(0.10, f.before.share / 4)) if f.before.share else 0.10
        clear = share <= limit
    verb = {Symptom.AUTH_ERRORS: f"{f.label} stopped at {{at}}", Symptom.RATE_LIMITED: f"{f.label} down to a trickle at {{at}}"}.get(
        f.symptom, f"{f.label} down at {{at}}"
    )
    if n >= MIN_CALLS and clear:
        since = f.clear_since if f.clear_since is not None else now
        f = replace(f, clear_since=since)
        basis = "logs+metrics" if agree else "logs"
        return f, _ended(verb, since, logs, metrics, basis, agree)
    f = replace(f, clear_since=None)
    persist_at = max(0.25, 0.5 * f.before.share) if f.before.share else 0.5
    if n >= PERSIST_CALLS and share >= persist_at:
        return f, _persists(f, _join(logs, metrics), "logs+metrics" if agree is False else "logs", agree)
    if n < MIN_CALLS and agree and now - f.applied_at >= METRICS_LAG:  # few logged calls: the metrics alone, once they can show it
        return f, _ended(verb, now, logs or "no logged calls of the new pods", metrics, "metrics", True)
    if now >= f.deadline:
        return f, _persists(f, _join(logs or "no logged calls of the new pods", metrics), "logs" if n else "metrics", agree)
    if n < MIN_CALLS:
        so_far = f"{n} logged call{'s' if n != 1 else ''} of the new pods so far" + (f", {bad} got {what}" if bad else "")
        return f, Verdict(WATCHING, f"watching {f.label}: {so_far} (judging at {MIN_CALLS})", logs)
    return f, Verdict(WATCHING, f"watching {f.label}: {logs}", logs)


def _judge_pods(f: Follow, signals: Signals, now: float) -> tuple[Follow, Verdict]:
    snap = signals.pods.value
    if snap is None:
        if now >= f.deadline:
            return f, _persists(f, "the pods could not be read", "pods")
        return f, Verdict(WATCHING, "watching the pods: not read yet")
    base = dict(f.baseline)
    pods = [p for p in _live(snap.pods) if p.name not in f.old_pods]
    want = f.replicas if f.replicas is not None else (len(f.old_pods) or len(pods))
    new = bool(f.old_pods)
    text = pods_text(pods, base, want, new)
    restarted = [p for p in pods if p.restarts > base.get(p.name, 0) or p.status in CRASHING]
    ready = sum(1 for p in pods if p.is_ready)
    if restarted:  # a pod started (or kept) by the change went down again: it did not work
        return replace(f, clear_since=None), _persists(f, text, "pods")
    if want > 0 and ready >= want:
        since = f.clear_since if f.clear_since is not None else now
        f = replace(f, clear_since=since)
        held = now - since
        if held >= f.stable:
            evidence = f"{text}, no restart for {held:.0f} s"
            return f, _ended("pods ready and not restarting since {at}", since, evidence, "", "pods", None)
        if now >= f.deadline:
            return f, _persists(f, f"{text}, but only for {held:.0f} s of the {f.stable:.0f} s needed", "pods")
        return f, Verdict(WATCHING, f"watching the pods: {text}, no restart for {held:.0f} s (of {f.stable:.0f} s)", text)
    f = replace(f, clear_since=None)
    if now >= f.deadline:
        return f, _persists(f, text, "pods")
    return f, Verdict(WATCHING, f"watching the pods: {text}", text)


def fallback_active(h: HealthSnapshot) -> HealthCheck | None:
    """Our health endpoint's ``fallback`` check when it says the fallback serves (docs/drill-contract.md)."""
    check = next((c for c in h.checks if c.name == "fallback"), None)
    if check is None or (check.status == "ok" and check.detail.strip().lower().startswith("inactive")):
        return None
    return check


def _judge_fallback(f: Follow, signals: Signals, now: float) -> tuple[Follow, Verdict]:
    """The fallback's symptoms, from our health endpoint: down no longer (health_down), or
    Clay's 5xx absorbed — the fallback serving (server_errors: Clay still fails the calls
    it still gets, so their share of 5xx says nothing; their rate drops, the metrics show it)."""
    reading = signals.health
    h = reading.value
    fresh = h is not None and reading.updated_at is not None and reading.updated_at >= f.applied_at and reading.error is None
    agree, metrics = metrics_view(f, signals, now)
    served = 0
    if f.old_pods:
        served = sum(1 for ln in signals.recent_logs if ln.pod not in f.old_pods and 'msg="fallback served"' in ln.text)
    logs = f"{served} “fallback served” log lines from the new pods" if served else ""
    active = fallback_active(h) if fresh and h is not None else None
    detail = ""
    if h is not None:
        detail = f"health {h.status}" + (f", fallback: {active.detail}" if active is not None and active.detail else "")
    basis = "+".join(["health", *(["logs"] if served else []), *(["metrics"] if agree else [])])
    if f.symptom is Symptom.HEALTH_DOWN and fresh and h is not None and h.status != "down":
        return replace(f, clear_since=now), _ended(
            "our health endpoint no longer down at {at}", now, _join(detail, logs), metrics, basis, agree
        )
    if f.symptom is Symptom.SERVER_ERRORS:
        if active is not None and h is not None and h.status != "down":
            return replace(f, clear_since=now), _ended(
                f"{f.label} absorbed by the fallback at {{at}}", now, _join(detail, logs), metrics, basis, agree
            )
        if agree and now - f.applied_at >= METRICS_LAG:  # no fallback check in our health: the metrics alone
            return f, _ended(f"{f.label} down at {{at}}", now, logs, metrics, "metrics+logs" if served else "metrics", True)
    status = detail or "health not read"
    if now >= f.deadline:
        return f, _persists(f, _join(status, logs, metrics), "health")
    what = "the health endpoint" if f.symptom is Symptom.HEALTH_DOWN else f"{f.label} (the fallback on our health endpoint)"
    return f, Verdict(WATCHING, f"watching {what}: {status}" + ("" if fresh else " (waiting for a reading after the change)"), status)


# --------------------------------------------------------------------------
# What its end ticks


ERRORS_OF: dict[Symptom, frozenset[ErrorClass]] = {
    Symptom.AUTH_ERRORS: frozenset({ErrorClass.AUTH}),
    Symptom.RATE_LIMITED: frozenset({ErrorClass.RATE_LIMIT}),
    Symptom.SERVER_ERRORS: frozenset({ErrorClass.SERVER}),
    Symptom.HEALTH_DOWN: frozenset({ErrorClass.SERVER}),
    Symptom.PODS_UNREADY: frozenset(),
}


def ticks_for(f: Follow) -> list[str]:
    """The checklist items an ended symptom verifies: the step-3 item of each
    runbook action the follow carries out (for its branch and error class) and
    the step-2 item of the branch it was recommended for."""
    branches = {b for b in Branch if b.value == f.branch}
    errors = ERRORS_OF[f.symptom]
    done = {f.runbook, *f.carries}
    out = []
    for step in STEPS:
        for item in step.items:
            if step.number == 3 and item.action is not None and item.action.value in done:
                if item_applies(item, branches or set(Branch), errors) and (not item.errors or item.errors & errors):
                    out.append(item.key)
            elif step.number == 2 and branches and item.branches & branches:
                out.append(item.key)
    return out
