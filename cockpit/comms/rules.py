"""A team runbook's ``update_within`` rules (issue 18): "P1 needs a status
page update within 10 minutes".

A rule starts when the incident reaches its severity or a worse one (at the
declaration, or when triage or the responder raises it) and is met by the
first update sent on its channel from then on. Dropping below the severity
ends it; reaching it again starts it afresh. :class:`RuleTrack` folds a
timeline's events (the :class:`~clay_cockpit.comms.state.CommsLog` feeds it
every event it folds, with the incident's state it folds), :meth:`RuleTrack.clocks` says where each rule stands,
and :func:`rule_clocks` does both for a whole timeline (the postmortem).

Pure standard library; no clock reads (``now`` is a parameter). Channels are
their values here ("internal", "external"): the state module imports this one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from clay_cockpit.incident.lifecycle import Incident, Status, format_duration
from clay_cockpit.incident.state import apply
from clay_cockpit.incident.timeline import Event, EventKind
from clay_cockpit.runbook_file import Constraint, Severity

CHANNEL_VALUE = {"slack": "internal", "status_page": "external"}  # a rule's channel → the comms channel's value
UPDATE_ROLES = ("update", "page_create", "page_update")  # a message stakeholders read (not the thread's summary)
MAX_UPDATES = 500  # update times kept per channel
MAX_PAST = 50  # earlier spells at a severity kept (the severity dropped below it)
_RANK = {Severity.P1: 0, Severity.P2: 1, Severity.P3: 2, Severity.P4: 3}


class RuleState:
    WAITING = "waiting"
    SOON = "soon"  # the last fifth of the time, at most 2 min
    LATE = "late"  # past the deadline, nothing sent
    MET = "met"
    ENDED = "ended"  # resolved before the deadline with nothing sent on the channel


@dataclass(frozen=True)
class RuleClock:
    """Where one rule stands for the incident."""

    rule: Constraint
    channel: str  # "internal" | "external"
    start: float  # when the incident reached the rule's severity (or worse)
    met_at: float | None  # the first update on the channel from ``start`` on (before ``until``)
    until: float | None = None  # the rule stopped applying: resolved, or the severity dropped below the rule's

    @property
    def due(self) -> float:
        return self.start + self.rule.minutes * 60.0

    def state(self, now: float) -> str:
        if self.met_at is not None:
            return RuleState.MET
        end = now if self.until is None else min(now, self.until)
        if end >= self.due:
            return RuleState.LATE
        if self.until is not None:
            return RuleState.ENDED
        return RuleState.SOON if self.due - now <= min(self.rule.minutes * 12.0, 120.0) else RuleState.WAITING

    @property
    def word(self) -> str:
        """The top bar's name for the channel."""
        return "page" if self.channel == "external" else "update"

    def text(self, now: float) -> str:
        """Short, for the top bar: ``page due in 7:12`` or ``page late 3:10`` ("" when met or ended)."""
        state = self.state(now)
        if state == RuleState.LATE:
            return f"{self.word} late {format_duration(now - self.due)}"
        if state in (RuleState.WAITING, RuleState.SOON):
            return f"{self.word} due in {format_duration(self.due - now)}"
        return ""

    def sentence(self, now: float) -> str:
        """One line: the rule, and where it stands (the reminders, the postmortem)."""
        rule = "the runbook: " + self.rule.describe()
        state = self.state(now)
        if state == RuleState.MET and self.met_at is not None:
            return f"{rule} — met: sent {format_duration(self.met_at - self.start)} after it applied"
        if state == RuleState.ENDED:
            return f"{rule} — it stopped applying before it was due, nothing sent"
        if state == RuleState.LATE:
            end = now if self.until is None else min(now, self.until)
            return f"{rule} — missed: nothing sent in the {format_duration(end - self.start)} it applied"
        return f"{rule} — {format_duration(self.due - now)} left"


class RuleTrack:
    """Folds a timeline: since when the incident has been at each severity or
    worse, and when updates went out on each channel (bounded)."""

    def __init__(self) -> None:
        self.incident: Incident | None = None
        self.reached: dict[Severity, float] = {}  # since when the incident has been at each severity or worse
        self.past: deque[tuple[Severity, float, float]] = deque(maxlen=MAX_PAST)  # (severity, from, until) spells that ended
        self.updates: dict[str, deque[float]] = {}

    def observe(self, ev: Event, incident: Incident | None) -> None:
        """Fold ``ev``; ``incident``: the incident's state with ``ev`` applied (the caller folds it once for all
        its readers: :func:`clay_cockpit.incident.state.apply`)."""
        self.incident = incident
        if self.incident is None:
            return
        now = _RANK[self.incident.severity]
        for sev, rank in _RANK.items():
            if now <= rank:
                self.reached.setdefault(sev, ev.at)
            elif sev in self.reached:
                self.past.append((sev, self.reached.pop(sev), ev.at))
        d = ev.data
        if ev.kind == EventKind.MESSAGE_SENT and d.get("role") in UPDATE_ROLES and d.get("channel") in CHANNEL_VALUE.values():
            self.updates.setdefault(str(d["channel"]), deque(maxlen=MAX_UPDATES)).append(ev.at)

    def clocks(self, rules: Iterable[Constraint], channels: Iterable[str] | None = None, past: bool = False) -> list[RuleClock]:
        """The rules in force for the incident (its severity reached), on ``channels`` (values; None: all);
        ``past``: also each earlier spell at a rule's severity, oldest first (the postmortem)."""
        inc = self.incident
        if inc is None:
            return []
        wanted = None if channels is None else set(channels)
        resolved = inc.resolved_at if inc.status == Status.RESOLVED else None
        out = []
        for rule in rules:
            channel = CHANNEL_VALUE.get(rule.channel, "")
            if rule.kind != "update_within" or rule.severity is None or (wanted is not None and channel not in wanted):
                continue
            spells: list[tuple[float, float | None]] = [(a, b) for sev, a, b in self.past if sev == rule.severity] if past else []
            if rule.severity in self.reached:
                spells.append((self.reached[rule.severity], resolved))
            for start, until in spells:
                met = next((at for at in self.updates.get(channel, ()) if at >= start and (until is None or at <= until)), None)
                out.append(RuleClock(rule, channel, start, met, until))
        return out


def rule_clocks(events: Iterable[Event], rules: Iterable[Constraint]) -> list[RuleClock]:
    """Every ``update_within`` rule's spells over a whole timeline, oldest first (the postmortem)."""
    track = RuleTrack()
    for ev in events:
        track.observe(ev, apply(track.incident, ev))
    return track.clocks(rules, past=True)
