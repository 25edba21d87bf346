"""The postmortem's raw material, read from one incident timeline in one
streaming pass with bounded memory (:func:`collect`) — the page's events and
each milestone followed to the channels it reached (issue 16) included —
and the text chart of the error rates (:func:`error_chart`, plotext).

Pure apart from reading the file; no Textual, no network.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clay_cockpit.comms.context import assessment_in, severity_rank
from clay_cockpit.comms.facts import action_key, fit, flat
from clay_cockpit.comms.paging import milestone
from clay_cockpit.comms.rules import RuleTrack
from clay_cockpit.incident.events import Event, EventKind
from clay_cockpit.incident.metrics_history import SeriesBook, rate_text
from clay_cockpit.incident.state import Incident, apply
from clay_cockpit.incident.timeline_read import ReadReport, iter_events
from clay_cockpit.triage.evidence import MIN_RATE

MAX_ACTIONS = 100  # action groups kept (the newest)
MAX_ACTION_EVENTS = 12  # events per action
MAX_MESSAGES = 100
MAX_FAILED = 50
MAX_LOG_LINES = 40
MAX_LOG_CHARS = 1000  # a log line longer than this is cut at a word, marked […]
MAX_TIMELINE_HEAD = 150
MAX_TIMELINE_TAIL = 150
MAX_HISTORY = 50  # severity / status / branch changes kept
HUMAN_KINDS = (
    EventKind.SEVERITY_CHANGED,
    EventKind.STATUS_CHANGED,
    EventKind.ACTION_PLANNED,
    EventKind.ACTION_APPLIED,
    EventKind.MESSAGE_SENT,
    EventKind.MESSAGE_DRAFTED,
    EventKind.NOTE,
)
MESSAGE_FAILED = "message_failed"
ACTION_KINDS = (
    EventKind.ACTION_PLANNED,
    EventKind.ACTION_APPLIED,
    EventKind.ACTION_VERIFIED,
    EventKind.ACTION_FAILED,
    EventKind.SYMPTOM_ENDED,
    EventKind.SYMPTOM_PERSISTS,
)
RECOVERY_KINDS = (EventKind.CLAY_INCIDENT_RESOLVED, EventKind.SOURCE_RECOVERED)
CALM_BRANCHES = ("healthy", "unknown", None)
MAX_PAGE_EVENTS = 20  # page_linked / page_acknowledged / page_resolved kept (the first), page_escalated (the newest)
MAX_MILESTONES = 500  # milestone events followed to their milestone_sent (the newest; older ones are counted)
PAGE_KINDS = (EventKind.PAGE_LINKED, EventKind.PAGE_ACKNOWLEDGED, EventKind.PAGE_RESOLVED)


@dataclass
class Milestone:
    """A timeline event the paging desk tells PagerDuty and Grafana of, and the channels it reached."""

    seq: int
    at: float
    name: str  # declared, severity, branch, action, update, resolved (config.PAGERDUTY_NOTES)
    summary: str
    sent: set[str] = field(default_factory=set)  # "pagerduty", "grafana"
    channels: frozenset[str] = frozenset({"pagerduty", "grafana"})  # the channels that take it (comms.paging.milestone)


@dataclass
class Collected:
    """What the postmortem needs from a timeline (all bounded)."""

    path: Path
    incident: Incident | None = None
    declared: Event | None = None
    events: int = 0
    first_at: float | None = None
    last_at: float | None = None
    acknowledged: Event | None = None  # the first thing a person did
    severity_events: deque[Event] = field(default_factory=lambda: deque(maxlen=MAX_HISTORY))
    status_events: deque[Event] = field(default_factory=lambda: deque(maxlen=MAX_HISTORY))
    branch_events: deque[Event] = field(default_factory=lambda: deque(maxlen=MAX_HISTORY))
    assessment: dict[str, Any] = field(default_factory=dict)  # the one that explains the incident: the worst severity, newest among equals
    latest_assessment: dict[str, Any] = field(default_factory=dict)  # the newest of all (healthy once it is over)
    actions: OrderedDict[str, list[Event]] = field(default_factory=OrderedDict)
    messages: deque[Event] = field(default_factory=lambda: deque(maxlen=MAX_MESSAGES))
    failed: deque[Event] = field(default_factory=lambda: deque(maxlen=MAX_FAILED))
    book: SeriesBook = field(default_factory=SeriesBook)  # the error-rate series the evidence snapshots kept
    onset: tuple[float, str] | None = None  # the fault's first sign before the declaration (the declaration's evidence)
    symptom_events: deque[Event] = field(default_factory=lambda: deque(maxlen=MAX_HISTORY))  # symptom_ended / symptom_persists
    clay_status: list[tuple[float, str]] = field(default_factory=list)  # first and newest
    logs: OrderedDict[str, float] = field(default_factory=OrderedDict)  # line → when first seen (newest kept)
    head: list[Event] = field(default_factory=list)
    tail: deque[Event] = field(default_factory=lambda: deque(maxlen=MAX_TIMELINE_TAIL))
    report: ReadReport = field(default_factory=ReadReport)
    rules: RuleTrack = field(default_factory=RuleTrack)  # a team runbook's update_within rules: when each applied, what met it
    # the page (issue 16, docs/events.md "The page")
    page_events: dict[str, list[Event]] = field(default_factory=dict)  # page_linked / _acknowledged / _resolved → the first ones
    escalations: deque[Event] = field(default_factory=lambda: deque(maxlen=MAX_PAGE_EVENTS))
    first_symptom_ended: Event | None = None
    milestones: OrderedDict[int, Milestone] = field(default_factory=OrderedDict)  # seq → milestone
    milestones_dropped: int = 0  # older milestones no longer followed (MAX_MILESTONES)
    sent: dict[str, int] = field(default_factory=dict)  # channel → milestones that reached it
    annotations: int = 0  # Grafana annotation ids the milestone_sent events name


def collect(path: str | Path) -> Collected:
    """Read the timeline once. OSError if it cannot be opened; never raises on content."""
    c = Collected(Path(path))
    for ev in iter_events(path, c.report):
        _take(c, ev)
    return c


def _take(c: Collected, ev: Event) -> None:
    c.events += 1
    c.first_at = ev.at if c.first_at is None else c.first_at
    c.last_at = ev.at
    before, c.incident = c.incident, apply(c.incident, ev)
    c.rules.observe(ev, c.incident)
    if len(c.head) < MAX_TIMELINE_HEAD:
        c.head.append(ev)
    else:
        c.tail.append(ev)
    kind = ev.kind
    if kind == EventKind.INCIDENT_DECLARED and c.declared is None:
        c.declared = ev
    if c.acknowledged is None and c.declared is not None and ev is not c.declared and _is_human(ev):
        c.acknowledged = ev
    if kind in (EventKind.SEVERITY_SUGGESTED, EventKind.SEVERITY_CHANGED):
        c.severity_events.append(ev)
    elif kind == EventKind.STATUS_CHANGED:
        c.status_events.append(ev)
    elif kind == EventKind.BRANCH_CHANGED:
        c.branch_events.append(ev)
    elif kind in ACTION_KINDS:
        if kind in (EventKind.SYMPTOM_ENDED, EventKind.SYMPTOM_PERSISTS):
            c.symptom_events.append(ev)
        key = action_key(ev.data) or f"{ev.summary}#{ev.seq}"
        group = c.actions.setdefault(key, [])
        if len(group) < MAX_ACTION_EVENTS:
            group.append(ev)
        c.actions.move_to_end(key)
        while len(c.actions) > MAX_ACTIONS:
            c.actions.popitem(last=False)
    elif kind == EventKind.NOTE and str(ev.data.get("plan_id") or "") in c.actions:  # about an action (its metrics catching up)
        group = c.actions[str(ev.data["plan_id"])]
        if len(group) < MAX_ACTION_EVENTS:
            group.append(ev)
    elif kind == EventKind.MESSAGE_SENT:
        c.messages.append(ev)
    elif kind == MESSAGE_FAILED:
        c.failed.append(ev)
    elif kind in (EventKind.POD_OOMKILLED, EventKind.POD_CRASHLOOPING):
        _log(c, f"[{kind}] {ev.summary}", ev.at)
    _page(c, ev, before)
    if kind in (EventKind.BRANCH_CHANGED, EventKind.EVIDENCE_SNAPSHOT):
        found = assessment_in(ev.data)
        if found is not None:
            c.latest_assessment = found
            if severity_rank(found) <= severity_rank(c.assessment):  # the worst seen explains the incident; the newest among equals
                c.assessment = found
    if kind == EventKind.EVIDENCE_SNAPSHOT:
        _evidence(c, ev)
        if c.onset is None and c.declared is not None and isinstance(ev.data.get("before"), list):
            c.onset = onset(ev.data["before"])


def _page(c: Collected, ev: Event, before: Incident | None) -> None:
    """The page's events, and each milestone followed to the channels it reached."""
    kind = ev.kind
    if c.declared is None:
        return
    if kind in PAGE_KINDS:
        kept = c.page_events.setdefault(str(kind), [])
        if len(kept) < MAX_PAGE_EVENTS:
            kept.append(ev)
    elif kind == EventKind.PAGE_ESCALATED:
        c.escalations.append(ev)
    elif kind == EventKind.SYMPTOM_ENDED and c.first_symptom_ended is None:
        c.first_symptom_ended = ev
    if kind == EventKind.MILESTONE_SENT:
        channel = str(ev.data.get("channel") or "")
        source = ev.data.get("source_seq")
        followed = c.milestones.get(source) if isinstance(source, int) and not isinstance(source, bool) else None
        if not channel or (followed is not None and channel in followed.sent):
            return  # said twice: counted once
        if followed is not None:
            followed.sent.add(channel)
        c.sent[channel] = c.sent.get(channel, 0) + 1
        ids = ev.data.get("ids")
        if channel == "grafana" and isinstance(ids, list):
            c.annotations += len(ids)
        return
    found = milestone(ev, before, c.incident)  # the outbox's own rule (comms/paging.py)
    if found is not None:
        c.milestones[ev.seq] = Milestone(ev.seq, ev.at, found[0], ev.summary, channels=found[1])
        while len(c.milestones) > MAX_MILESTONES:
            c.milestones.popitem(last=False)
            c.milestones_dropped += 1


def _is_human(ev: Event) -> bool:
    if ev.kind == EventKind.CHECKLIST_TICKED:
        return ev.data.get("auto") is not True
    return ev.kind in HUMAN_KINDS


def _log(c: Collected, line: str, at: float) -> None:
    line = fit(line, MAX_LOG_CHARS)
    if line in c.logs:
        return
    c.logs[line] = at
    while len(c.logs) > MAX_LOG_LINES:
        c.logs.popitem(last=False)


def onset(before: list[Any]) -> tuple[float, str] | None:
    """The fault's first sign among the notable moments seen before the
    declaration (kept in its evidence under ``before``, oldest first): the
    first one after the signals were last calm (a branch change to healthy
    or unknown, a recovery), as (time, what)."""
    first: tuple[float, str] | None = None
    for n in before:
        if not isinstance(n, Mapping) or not isinstance(n.get("at"), (int, float)) or isinstance(n.get("at"), bool):
            continue
        kind = n.get("kind")
        raw_data = n.get("data")
        data = raw_data if isinstance(raw_data, Mapping) else {}
        raw_after = data.get("after")
        after = raw_after if isinstance(raw_after, Mapping) else {}
        calm = (kind == EventKind.BRANCH_CHANGED and after.get("branch") in CALM_BRANCHES) or kind in RECOVERY_KINDS
        if calm:
            first = None
        elif first is None:
            first = (float(n["at"]), flat(n.get("summary") or kind or "").removeprefix("Triage: "))
    return first


def _evidence(c: Collected, ev: Event) -> None:
    c.book.add_evidence(ev.data, ev.at)
    sp = ev.data.get("statuspage") if isinstance(ev.data.get("statuspage"), Mapping) else None
    if sp is not None:
        text = flat(sp.get("description") or sp.get("error") or "")
        incidents = [i for i in sp.get("incidents") or () if isinstance(i, Mapping)]
        if incidents:
            text += f"; Clay incident “{flat(incidents[0].get('name', ''))}” ({incidents[0].get('status', '?')})"
        entry = (ev.at, text)
        if not c.clay_status or len(c.clay_status) == 1:
            c.clay_status.append(entry)
        else:
            c.clay_status[1] = entry
    for line in ev.data.get("logs") or ():
        if isinstance(line, str):
            _log(c, line, ev.at)


# --------------------------------------------------------------------------
# What the evidence says: when the fault began, how each action ended


ONSET_SHARE = 0.1  # errors count as the fault's from a tenth of their peak (below: background)


def error_run(c: Collected) -> tuple[float, float, float] | None:
    """(first, last, threshold): the span in which the summed Clay error
    rate stayed at or above a tenth of its peak, around the declaration
    (the last such run that began before it, else the first after). None
    when the peak itself stayed below ``MIN_RATE`` — the background errors
    triage counts as noise (an incident of our own infrastructure): they
    are no sign of the fault and no part of its impact."""
    peak = c.book.peak()
    inc = c.incident
    if peak is None or inc is None or peak.errors < MIN_RATE:
        return None
    floor = ONSET_SHARE * peak.errors
    runs: list[tuple[float, float]] = []
    going = False  # the last run is still going
    for t, e, _ in c.book.totals():
        if e >= floor:
            if going:
                runs[-1] = (runs[-1][0], t)
            else:
                runs.append((t, t))
            going = True
        else:
            going = False
    if not runs:
        return None
    before = [r for r in runs if r[0] <= inc.declared_at]
    run = before[-1] if before else runs[0]
    return run[0], run[1], floor


def first_sign(c: Collected) -> tuple[float, str] | None:
    """The fault's first sign in the evidence: the first notable moment
    before the declaration (its evidence keeps them) or the Clay errors
    rising, whichever came first."""
    inc = c.incident
    assert inc is not None
    found = c.onset if c.onset is not None and c.onset[0] < inc.declared_at else None
    run = error_run(c)
    if run is not None and run[0] < inc.declared_at and (found is None or run[0] < found[0]):
        found = (run[0], f"Clay errors rose to {rate_text(run[2])} or more (a tenth of their peak)")
    return found


def impact_start(c: Collected) -> float:
    """When the impact began as the evidence shows it: the first sign before
    the declaration, else the declaration."""
    inc = c.incident
    assert inc is not None
    onset = first_sign(c)
    return onset[0] if onset is not None else inc.declared_at


OUTCOME: dict[EventKind | str, str] = {
    EventKind.ACTION_VERIFIED: "in place (the change finished); not verified by its symptom",
    EventKind.ACTION_FAILED: "failed",
    EventKind.ACTION_APPLIED: "applied, not confirmed",
    EventKind.ACTION_PLANNED: "planned only (not applied)",
}


def outcome(group: Sequence[Event]) -> str:
    """An action's outcome: verified only by its symptom ending (a
    ``symptom_ended`` event); a ``symptom_persists`` says the fix did not work."""
    symptom = next((e for e in reversed(group) if e.kind in (EventKind.SYMPTOM_ENDED, EventKind.SYMPTOM_PERSISTS)), None)
    if symptom is not None and symptom.kind == EventKind.SYMPTOM_ENDED:
        return f"verified: {flat(symptom.summary)}"
    if symptom is not None:
        return f"the fix did not work: {flat(symptom.summary)}"
    last = next((e for e in reversed(group) if e.kind in OUTCOME), group[-1])
    return OUTCOME.get(last.kind, str(last.kind))


# --------------------------------------------------------------------------
# The chart

_PLOT_LOCK = threading.Lock()  # plotext's module-level figure is shared
MARKERS = ("*", "+", "o", "x", "#", "@", "%", "&")


def error_series(c: Collected) -> dict[str, list[tuple[float, float]]]:
    """The error-rate series (labels naming a 4xx/5xx code), else every
    per-second series; oldest first — the points the error-rate pane drew,
    as the evidence snapshots kept them."""
    return c.book.error_series()


def error_chart(series: Mapping[str, list[tuple[float, float]]], start: float, *, width: int = 76, height: int = 16) -> str:
    """The series as a plain-text line chart (no colour codes): x in minutes
    since ``start``, one marker character per series with a legend."""
    import plotext as plt

    with _PLOT_LOCK:
        plt.clear_figure()
        plt.theme("clear")
        plt.plotsize(width, height)
        for (label, points), marker in zip(series.items(), MARKERS, strict=False):
            xs = [round((t - start) / 60.0, 2) for t, _ in points]
            ys = [v for _, v in points]
            plt.plot(xs, ys, label=label, marker=marker)
        plt.xlabel("minutes since declared")
        plt.title("Clay errors per second (from the evidence snapshots)")
        text = plt.uncolorize(plt.build())
        plt.clear_figure()
    return "\n".join(line.rstrip() for line in text.splitlines())
