"""The runbook's decision tree on live signals: which branch, why, how bad,
what to do first.

Pure: no I/O, no Textual, no clock reads (``now`` is a parameter).

- :func:`assess` turns one :class:`~clay_cockpit.signals.Signals` into an
  :class:`Assessment`: findings (branch, severity, reasons with the numbers,
  actions in order), what it cannot see, and how sure it is.
- :class:`Triage` smooths successive assessments so one noisy sample does
  not flip the branch, and reports when the stable branch or severity
  changes (:class:`Change`, a timeline event).

The decision tree (DESIGN.md, step 2): Clay errors and a Clay incident →
wait and enable fallback; Clay errors and no Clay incident → our credentials
and config (split 401/403, 429, 5xx); no Clay errors but our service
unhealthy → our infrastructure; all well → healthy. Signals that are missing,
failed or stale lower the confidence: only when all four polled sources are
live can an assessment be of high confidence, and it is never "healthy"
unless all four are live. A source we cannot read, with no visible impact, is
itself a P4 finding (a monitoring gap).

A runbook action already in effect (``Signals.in_effect``: a flag the
actions desk read from the cluster, a key update whose symptom ended) stays
in the finding's actions marked done, with what is in effect and since when;
:attr:`Assessment.next` is the first one that is not.

Modules: ``types`` (the frozen result types), ``evidence`` (what each
signal says, in numbers), ``logs`` (what the pod log lines say),
``context`` (every signal digested once), ``findings`` (the tree and the
severity table), ``infra`` (our own service, and the findings put
together), ``stable`` (the window).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from clay_cockpit.config import Thresholds
from clay_cockpit.runbook import RUNBOOK, ActionId, Branch, ErrorClass
from clay_cockpit.signals import InEffect, Reading, Signals, SourceError
from clay_cockpit.triage import evidence as ev
from clay_cockpit.triage.context import Context
from clay_cockpit.triage.findings import runbook_first
from clay_cockpit.triage.infra import build_findings
from clay_cockpit.triage.stable import Change, Triage, Triaged
from clay_cockpit.triage.types import (
    BRANCH_LABEL,
    SEVERITY_ORDER,
    Action,
    Assessment,
    Confidence,
    Finding,
    Gap,
    Observation,
    Reason,
    action,
)

if TYPE_CHECKING:
    from clay_cockpit.config import Config

__all__ = [
    "BRANCH_LABEL",
    "Action",
    "Assessment",
    "Change",
    "Confidence",
    "Finding",
    "Gap",
    "Observation",
    "Reason",
    "Triage",
    "Triaged",
    "action",
    "assess",
    "refresh_intervals",
]

# the sources a branch cannot be chosen confidently without
NEEDS: dict[Branch, tuple[str, ...]] = {
    Branch.CLAY_INCIDENT: ("statuspage", "metrics"),
    Branch.CREDENTIALS: ("metrics", "statuspage"),  # "no Clay incident" needs the status page
    Branch.INFRASTRUCTURE: ("pods", "health"),
    Branch.HEALTHY: ev.PRIMARY,
    Branch.MONITORING_GAP: (),
    Branch.UNKNOWN: (),
}

# the infrastructure reading (events, nodes, what changed) is watched, not polled: the source
# re-sends its snapshot at least this often; older than stale_intervals of it counts as stale
INFRA_REFRESH = 30.0

# ties in severity: what only we can fix comes first
_RANK: dict[object, int] = {
    ErrorClass.AUTH: 0,
    Branch.INFRASTRUCTURE: 1,
    ErrorClass.RATE_LIMIT: 2,
    None: 3,
    ErrorClass.SERVER: 4,
    Branch.CLAY_INCIDENT: 5,
    Branch.MONITORING_GAP: 6,
    Branch.UNKNOWN: 7,
    Branch.HEALTHY: 7,
}


def refresh_intervals(config: Config) -> dict[str, float]:
    """Each polled source's refresh interval, for :func:`assess` (``refresh=``)."""
    return {
        "statuspage": config.statuspage.refresh,
        "health": config.health.refresh,
        "metrics": config.metrics.refresh,
        "pods": config.kube.refresh,
    }


def assess(signals: Signals, thresholds: Thresholds, now: float, *, refresh: Mapping[str, float] | None = None) -> Assessment:
    """Evaluate the decision tree on ``signals`` as of ``now``.

    ``now`` is epoch seconds on the clock the app stamps ``Reading.updated_at``
    with. ``refresh`` gives each polled source's refresh interval in seconds
    (:func:`refresh_intervals`; defaults: the config defaults; ``"infra"``:
    :data:`INFRA_REFRESH`); a reading older
    than ``thresholds.stale_intervals`` of its intervals counts as stale.
    Never raises on odd signals.
    """
    intervals = {**ev.DEFAULT_REFRESH, **dict(refresh or {})}
    views = {
        name: ev.view_of(name, getattr(signals, name), now, _interval(intervals.get(name)), thresholds.stale_intervals)
        for name in ev.PRIMARY
    }
    logs_stale = signals.logs_stale if isinstance(signals.logs_stale, SourceError) else None
    infra = signals.infra if isinstance(signals.infra, Reading) else Reading()
    infra_view = ev.view_of("infra", infra, now, _interval(intervals.get("infra", INFRA_REFRESH)), thresholds.stale_intervals)
    ctx = Context.build(views, signals.recent_logs, thresholds, logs_stale, infra_view, now)
    views = ctx.views  # a source that answered without what triage needs is no longer "live"
    all_live = all(v.live for v in views.values())
    findings = [_in_effect(runbook_first(f, ctx, RUNBOOK.constraints), signals.in_effect) for f in build_findings(ctx)]
    findings = sorted((_with_confidence(f, views, all_live, logs_stale is not None) for f in findings), key=_order)
    top = findings[0]
    return Assessment(
        at=now,
        branch=top.branch,
        severity=min((f.severity for f in findings), key=lambda s: SEVERITY_ORDER[s]),
        confidence=top.confidence,
        findings=tuple(findings),
        gaps=tuple(ctx.gaps),
        observed=tuple(ctx.observed),
    )


# an action in effect that carried out an earlier one of its finding: the new
# key was checked with Clay before it was written (screens/secret_input.py)
IMPLIED_DONE = {ActionId.VERIFY_KEY: ActionId.UPDATE_KEY}
IMPLIED_DETAIL = {ActionId.VERIFY_KEY: "the new key was checked with Clay before it was written"}


def _in_effect(f: Finding, in_effect: tuple[InEffect, ...]) -> Finding:
    """The finding's actions, those in effect marked done with what is in
    effect and since when (never offered again as the next key)."""
    done = {e.action: e for e in in_effect if isinstance(e, InEffect)} if isinstance(in_effect, tuple) else {}
    for implying, implied in IMPLIED_DONE.items():
        e = done.get(implied.value)
        if e is not None and implying.value not in done:
            done[implying.value] = InEffect(implying.value, IMPLIED_DETAIL[implying], e.since)
    if not done or not any(a.id.value in done for a in f.actions):
        return f
    actions = []
    for a in f.actions:
        e = done.get(a.id.value)
        since = ev.finite(e.since) if e is not None else None
        actions.append(replace(a, done=True, detail=ev.one_line(e.detail), since=since) if e is not None else a)
    return replace(f, actions=tuple(actions))


def _interval(value: object) -> float:
    v = ev.finite(value)
    return v if v is not None and v > 0 else 1.0


def _order(f: Finding) -> tuple[int, int]:
    if f.branch == Branch.CREDENTIALS:
        rank = min((_RANK[e] for e in f.errors), default=_RANK[None])
    else:
        rank = _RANK[f.branch]
    return (SEVERITY_ORDER[f.severity], rank)


def _with_confidence(f: Finding, views: dict[str, ev.View], all_live: bool, logs_stale: bool = False) -> Finding:
    if logs_stale and f.reasons and all(r.source == "logs" for r in f.reasons):
        conf = Confidence.LOW  # rests on old log lines alone
    elif f.branch == Branch.UNKNOWN:
        conf = Confidence.LOW
    elif f.branch == Branch.MONITORING_GAP:
        conf = Confidence.MEDIUM if sum(v.live for v in views.values()) >= 3 else Confidence.LOW
    elif all(views[n].live for n in NEEDS[f.branch]):
        direct = bool(f.reasons) and not f.reasons[0].weak
        conf = Confidence.HIGH if all_live and direct else Confidence.MEDIUM
    else:
        conf = Confidence.LOW
    if logs_stale and conf == Confidence.HIGH and any(r.source == "logs" for r in f.reasons):
        conf = Confidence.MEDIUM  # it cites log lines that are old
    return replace(f, confidence=conf)
