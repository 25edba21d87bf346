"""The incident's state, derived from its timeline: declaration, severity,
status, the response-target clock and the checklist.

Severity only rises by itself (DESIGN.md): the declaration sets the severity
in force (what triage showed at the key press); a later triage suggestion
that is higher raises it — also after the responder accepted (``a``) or set
(``s``) a lower one — and the timeline says so; a lower suggestion is kept
as an offer (:attr:`Incident.lower_offer`) and never applied: the responder
lowers with ``s``. The response-target clock never moves later: it counts
from the declaration to the target of the most severe severity that was ever
in force (:attr:`Incident.strictest`), so a raise brings the deadline
forward and no change — lowering by hand included — takes it back.

The state is never stored anywhere but in the timeline: :func:`apply` folds
one :class:`~clay_cockpit.incident.events.Event` into an :class:`Incident`, and the
same function rebuilds it on a restart (:func:`replay`,
:meth:`~clay_cockpit.incident.lifecycle.IncidentStore.resume`) as it updates it
live, so what the cockpit shows after a restart is what it showed before.
The store that writes those events is :mod:`clay_cockpit.incident.lifecycle`.

Pure: no clock reads, no file, no Textual.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import tzinfo
from enum import StrEnum
from types import MappingProxyType
from typing import TypeVar

from clay_cockpit.incident.clock import Clock, ClockLevel, response_deadline
from clay_cockpit.incident.events import Event, EventKind
from clay_cockpit.runbook import ITEMS, Severity


class Status(StrEnum):
    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"


#: the clock stops while the fix is in place (monitoring) or the incident is resolved
CLOCK_STOPPED = frozenset({Status.MONITORING, Status.RESOLVED})


# --------------------------------------------------------------------------
# The incident


@dataclass(frozen=True, slots=True)
class Tick:
    """A ticked checklist item. ``auto``: the cockpit verified it itself and
    ``seen`` says what it saw ("status page: All Systems Operational, 0 incidents")."""

    key: str
    at: float
    actor: str
    auto: bool = False
    seen: str = ""


@dataclass(frozen=True, slots=True)
class Incident:
    id: str
    declared_at: float
    declared_by: str
    suggested: Severity  # the latest severity triage suggested
    chosen: Severity | None = None  # what the responder last accepted or set; None: not yet
    in_force: Severity | None = None  # the severity in force (None: ``suggested``, for an Incident built by hand)
    strictest: Severity | None = None  # the most severe severity ever in force: the clock's target
    status: Status = Status.INVESTIGATING
    status_at: float = 0.0  # when the status last changed (declaration at first)
    mitigated_at: float | None = None  # entered monitoring/resolved (clock stopped); None while running
    resolved_at: float | None = None
    symptom_ended_at: float | None = None  # the latest verified end of an action's symptom (a symptom_ended event)
    symptom_ended: str = ""  # its one-line summary: "401s stopped at 12:03:14 (0 of the last 50 logged calls failed; metrics agree)"
    branches: tuple[str, ...] = ()  # the decision-tree branch(es) last recorded, first = main
    ticks: Mapping[str, Tick] = field(default_factory=lambda: MappingProxyType({}))
    hand_unticked: frozenset[str] = frozenset()  # unticked by the responder: not auto-ticked again
    commander: str = ""  # the incident commander (issue 17: a commander_changed event), "" : none named
    merged_into: str = ""  # this file's incident goes on as that shared incident (issue 17): closed here
    last_seq: int = 0

    @property
    def severity(self) -> Severity:
        """The severity in force: the declaration's, raised by triage, or set by the responder."""
        return self.in_force if self.in_force is not None else self.suggested

    @property
    def confirmed(self) -> bool:
        """The responder accepted or set the severity in force (``a`` has nothing to accept)."""
        return self.chosen is not None and self.chosen == self.severity

    @property
    def lower_offer(self) -> Severity | None:
        """Triage's suggestion when it is lower than the severity in force: offered, never applied."""
        return self.suggested if _rank(self.suggested) > _rank(self.severity) else None

    @property
    def clock_severity(self) -> Severity:
        """The severity whose response target the clock counts to (the strictest ever in force)."""
        s = self.strictest if self.strictest is not None else self.severity
        return s if _rank(s) <= _rank(self.severity) else self.severity

    @property
    def is_open(self) -> bool:
        return self.status != Status.RESOLVED

    @property
    def branch(self) -> str | None:
        return self.branches[0] if self.branches else None

    def clock(self, tz: tzinfo | None = None) -> Clock:
        stopped = self.mitigated_at if self.status in CLOCK_STOPPED else None
        return Clock(self.severity, self.declared_at, response_deadline(self.clock_severity, self.declared_at, tz), stopped)

    def remaining(self, now: float, tz: tzinfo | None = None) -> float:
        return self.clock(tz).remaining(now)

    def level(self, now: float, tz: tzinfo | None = None) -> ClockLevel:
        return self.clock(tz).level(now)

    def tick_for(self, key: str) -> Tick | None:
        return self.ticks.get(key)


_RANKS = {Severity.P1: 0, Severity.P2: 1, Severity.P3: 2, Severity.P4: 3}


def _rank(s: Severity) -> int:
    """0 for P1 (the most severe) … 3 for P4."""
    return _RANKS[Severity(s)]


def worse(a: Severity, b: Severity | None) -> Severity:
    """The more severe of the two."""
    return a if b is None or _rank(a) <= _rank(b) else b


_E = TypeVar("_E", bound=StrEnum)


def _enum(cls: type[_E], value: object) -> _E | None:
    if not isinstance(value, str):
        return None  # no member's value (a str) equals it: cls(value) would raise ValueError
    try:
        return cls(value)
    except ValueError:
        return None


def apply(incident: Incident | None, event: Event) -> Incident | None:
    """Fold one timeline event into the incident state. Pure; never raises:
    events with values it does not understand change nothing, kinds it does
    not know (notes, sources, actions …) only advance ``last_seq``."""
    d = event.data
    if event.kind == EventKind.INCIDENT_DECLARED:
        if incident is not None:  # one incident per file: a second declaration changes nothing
            return replace(incident, last_seq=event.seq)
        sev, inc_id = _enum(Severity, d.get("suggested")), d.get("id")
        if sev is None or not isinstance(inc_id, str) or not inc_id:
            return None
        return Incident(inc_id, event.at, event.actor, sev, in_force=sev, strictest=sev, status_at=event.at, last_seq=event.seq)
    if incident is None:
        return None
    incident = replace(incident, last_seq=event.seq)
    kind = event.kind
    if kind == EventKind.SEVERITY_SUGGESTED and (sev := _enum(Severity, d.get("to"))) is not None:
        if _rank(sev) < _rank(incident.severity):  # higher: it raises the severity in force
            return replace(incident, suggested=sev, in_force=sev, strictest=worse(sev, incident.strictest))
        return replace(incident, suggested=sev)  # lower or the same: offered, never applied
    if kind == EventKind.SEVERITY_CHANGED and (sev := _enum(Severity, d.get("to"))) is not None:
        return replace(incident, chosen=sev, in_force=sev, strictest=worse(sev, incident.strictest or incident.severity))
    if kind == EventKind.STATUS_CHANGED and (status := _enum(Status, d.get("to"))) is not None:
        if status in CLOCK_STOPPED:
            mitigated = incident.mitigated_at if incident.status in CLOCK_STOPPED else event.at
        else:
            mitigated = None
        resolved = event.at if status == Status.RESOLVED else None
        return replace(incident, status=status, status_at=event.at, mitigated_at=mitigated, resolved_at=resolved)
    if kind == EventKind.COMMANDER_CHANGED and isinstance(to := d.get("to"), str):
        return replace(incident, commander=to)
    if kind == EventKind.INCIDENT_MERGED and isinstance(into := d.get("into"), str) and into:
        # the file's incident goes on as the shared one: closed here (resume skips it), not "resolved" for the runbook
        return replace(incident, merged_into=into, status=Status.RESOLVED, status_at=event.at, resolved_at=incident.resolved_at or event.at)
    if kind == EventKind.SYMPTOM_ENDED:
        ended = d.get("ended_at")
        at = float(ended) if isinstance(ended, (int, float)) and not isinstance(ended, bool) and math.isfinite(ended) else event.at
        return replace(incident, symptom_ended_at=at, symptom_ended=event.summary)
    if kind == EventKind.BRANCH_CHANGED:
        to = d.get("to")
        branches = (to,) if isinstance(to, str) else to if isinstance(to, list) else None
        if branches is not None and all(isinstance(b, str) for b in branches):
            return replace(incident, branches=tuple(branches)[:8])
        return incident
    if kind in (EventKind.CHECKLIST_TICKED, EventKind.CHECKLIST_UNTICKED):
        key = d.get("key")
        if not isinstance(key, str) or key not in ITEMS:
            return incident
        ticks = dict(incident.ticks)
        if kind == EventKind.CHECKLIST_TICKED:
            auto = d.get("auto") is True
            raw_seen = d.get("seen")
            seen = raw_seen if isinstance(raw_seen, str) else ""
            ticks[key] = Tick(key, event.at, event.actor, auto, seen)
            unticked = incident.hand_unticked if auto else incident.hand_unticked - {key}
        else:
            ticks.pop(key, None)
            unticked = incident.hand_unticked | {key}
        return replace(incident, ticks=MappingProxyType(ticks), hand_unticked=unticked)
    return incident


def replay(events: Iterable[Event]) -> Incident | None:
    """The incident a sequence of events (oldest first) describes, if any."""
    incident: Incident | None = None
    for event in events:
        incident = apply(incident, event)
    return incident
