"""The incident lifecycle: the incidents of one state dir and the one that
is current — declared, resumed after a restart, changed — each change one
event on the incident's timeline.

The state itself (severity, status, the clock, the checklist) is derived
from those events in :mod:`clay_cockpit.incident.state`; :class:`Incident` and
:class:`Status` are re-exported here, with the clock's vocabulary.
Only one incident is open per state dir.

Every mutating call of :class:`IncidentStore` writes one event (fsynced) and
returns the new :class:`Incident` only after it is on disk; a call that would
change nothing writes nothing. Measured on the development VM (ext4 on a
virtual disk): about 4 ms per call (the fsync); declaring (new file, directory
fsync, lock file, declaration and evidence events) about 12 ms; resuming a
5,000-event (2.7 MB) incident about 85 ms. Fine on the UI thread on a local
disk; use a thread worker when the state dir may be on a slow or network file
system.

Pure standard library; no Textual, no network.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from clay_cockpit.incident.clock import (  # the clock: part of this module's vocabulary (re-exported)
    BUSINESS_DAY_HOUR,
    WARNING_FRACTION,
    Clock,
    ClockLevel,
    format_duration,
    next_business_morning,
    response_deadline,
)
from clay_cockpit.incident.events import iso_utc
from clay_cockpit.incident.state import Incident, Status, _rank, apply  # (Incident, Status: re-exported)
from clay_cockpit.incident.timeline import (
    DEFAULT_KEEP,
    Event,
    EventKind,
    Timeline,
    TimelineError,
    locked,
)
from clay_cockpit.incident.timeline_read import iter_events
from clay_cockpit.runbook import ITEMS, SEVERITIES, STEPS, Severity

__all__ = [
    # the clock's vocabulary and the incident state, re-exported
    "BUSINESS_DAY_HOUR",
    "WARNING_FRACTION",
    "Clock",
    "ClockLevel",
    "format_duration",
    "next_business_morning",
    "response_deadline",
    "Incident",
    "Status",
    # this module's own
    "MAX_SCAN",
    "IncidentStore",
    "NoIncident",
    "new_id",
]

MAX_SCAN = 10  # newest incident files looked at for an open one


class NoIncident(LookupError):
    """A call that needs an incident, and there is none."""


_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")


def _check_id(incident_id: str) -> None:
    """An incident id becomes a file name: refuse anything that is not one plain name."""
    if not _SAFE_ID.fullmatch(incident_id):
        raise TimelineError(f"incident id {incident_id[:40]!r} is not a plain name (letters, digits, . _ -)")


def new_id(now: float, suffix: str | None = None) -> str:
    """``INC-YYYYMMDD-HHMM-xxxx`` (UTC, 4 random hex digits): sorts by time."""
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d-%H%M")
    return f"INC-{stamp}-{suffix or secrets.token_hex(2)}"


# --------------------------------------------------------------------------
# The store


class IncidentStore:
    """The incidents of one state dir (``<state_dir>/incidents/<id>.jsonl``).

    Holds at most one current incident (open, or resolved in this session)
    and its open :class:`~clay_cockpit.incident.timeline.Timeline`. Thread-safe. Mutators
    raise :class:`NoIncident` when there is no current incident and
    :class:`~clay_cockpit.incident.timeline.TimelineError` when the event could not be
    recorded (the state is then unchanged). ``now`` defaults to ``clock()``,
    ``actor`` to ``user@host``.
    """

    def __init__(
        self,
        state_dir: str | os.PathLike[str] | None = None,
        *,
        actor: str | None = None,
        keep: int = DEFAULT_KEEP,
        clock: Callable[[], float] = time.time,
        tz: tzinfo | None = None,
    ) -> None:
        if state_dir is None:
            from clay_cockpit.paths import state_dir as default_state_dir

            state_dir = default_state_dir()
        self.dir = Path(state_dir) / "incidents"
        self.actor = actor
        self.tz = tz
        self.problems: list[str] = []  # files that could not be read while looking for the open incident
        self._keep = keep
        self._clock = clock
        self._lock = threading.RLock()
        self._timeline: Timeline | None = None
        self._state = _State()  # the current timeline's incident, kept up to date by its on_event
        self.declared_here: str | None = None  # the id of the incident this store's declare() created

    @property
    def _incident(self) -> Incident | None:
        return self._state.incident

    # -- what is there

    @property
    def incident(self) -> Incident | None:
        """The current incident (open, or resolved in this session), or None."""
        return self._incident

    @property
    def timeline(self) -> Timeline | None:
        """The current incident's timeline (``.path`` for a full read, ``.events()`` for the newest)."""
        return self._timeline

    def events(self) -> tuple[Event, ...]:
        """The newest events of the current incident (up to ``keep``), oldest first."""
        return self._timeline.events() if self._timeline is not None else ()

    def clock(self) -> Clock | None:
        """The current incident's clock (in this store's time zone), or None."""
        return self._incident.clock(self.tz) if self._incident is not None else None

    def read_only(self) -> str | None:
        """Why nothing new can be recorded to the current incident (its file
        opened for reading only: the state dir became read-only), with where
        to fix it; None when it can."""
        timeline = self._timeline
        if timeline is None or timeline.read_only is None:
            return None
        return f"{timeline.path} is read-only ({timeline.read_only}): {timeline.fix_hint()}"

    def incident_files(self) -> list[Path]:
        """Every incident file in the state dir, newest first."""
        try:
            return sorted(self.dir.glob("INC-*.jsonl"), reverse=True)
        except OSError:
            return []

    def resume(self) -> Incident | None:
        """The open incident: the current one, else the newest file (of the
        last :data:`MAX_SCAN`) whose replayed status is not resolved, rebuilt
        from its events with its clock, severity, status and checklist."""
        with self._lock:
            if self._incident is not None and self._incident.is_open:
                return self._incident
            self._open_newest_open()
            return self._incident if self._incident is not None and self._incident.is_open else None

    def refresh(self) -> list[Event]:
        """Pick up events another cockpit appended to the current incident."""
        with self._lock:
            return self._timeline.refresh() if self._timeline is not None else []

    def close(self) -> None:
        with self._lock:
            if self._timeline is not None:
                self._timeline.close()
            self._timeline, self._state = None, _State()

    def _open_newest_open(self) -> bool:
        """Make the newest open incident (of the last MAX_SCAN files) current,
        reading each candidate once; keep the current one if none is open."""
        for path in self.incident_files()[:MAX_SCAN]:
            if self._timeline is not None and path == self._timeline.path:
                try:
                    self._timeline.refresh()  # another cockpit may have reopened it
                except TimelineError as exc:
                    self._problem(str(exc))
                if self._incident is not None and self._incident.is_open:
                    return True
                continue
            state = _State()
            try:
                timeline = Timeline(path, actor=self.actor, keep=self._keep, clock=self._clock, on_event=state.apply)
            except TimelineError as exc:
                self._problem(str(exc))
                continue
            report = timeline.report
            if report.torn or report.bad_lines:
                self._problem(f"{path.name}: {report.torn or ''} {report.bad_lines} unreadable line(s)".strip())
            if state.incident is not None and state.incident.is_open:
                self._adopt(timeline, state)
                return True
            timeline.close()
        return False

    def _problem(self, text: str) -> None:
        if len(self.problems) < 20 and text not in self.problems:
            self.problems.append(text)

    def _adopt(self, timeline: Timeline, state: _State) -> None:
        if self._timeline is not None:
            self._timeline.close()
        self._timeline, self._state = timeline, state

    # -- declaring

    def declare(
        self,
        suggested: Severity,
        evidence: Mapping[str, Any] | None = None,
        now: float | None = None,
        actor: str | None = None,
        headline: str = "",
        started: float | None = None,
        incident_id: str | None = None,
    ) -> Incident:
        """Declare an incident at ``now`` at the severity triage showed
        (``suggested``; in force from then on), with the verdict's
        ``headline`` and an evidence snapshot, when given. If one is open —
        here or in another cockpit on this state dir — returns that one,
        unchanged (:attr:`declared_here` tells them apart). ``started``: an
        earlier start the incident takes (the PagerDuty page's, issue 16):
        the declaration is dated then and the response clock counts from
        it; the evidence is still recorded at ``now``, when it was seen.
        ``incident_id``: the id to declare under (the shared incident's, issue
        17, claimed in the cluster first); default a new one."""
        suggested = Severity(suggested)
        if incident_id is not None:
            _check_id(incident_id)
        with self._lock:
            if (current := self.resume()) is not None:
                return current
            now = self._clock() if now is None else now
            try:
                self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
                lock_fd = os.open(self.dir / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError as exc:
                raise TimelineError(f"cannot create incidents in {self.dir}: {exc.strerror or exc}") from None
            try:
                with locked(lock_fd):
                    return self._declare_locked(suggested, evidence, now, actor, headline, started, incident_id)
            except OSError as exc:
                raise TimelineError(f"cannot declare in {self.dir}: {exc.strerror or exc}") from None
            finally:
                os.close(lock_fd)

    def _declare_locked(
        self,
        suggested: Severity,
        evidence: Mapping[str, Any] | None,
        now: float,
        actor: str | None,
        headline: str,
        started: float | None,
        incident_id: str | None = None,
    ) -> Incident:
        if not self._open_newest_open():  # else another cockpit was quicker
            path = self.dir / f"{incident_id or new_id(now)}.jsonl"
            while path.exists() and incident_id is None:
                path = self.dir / f"{new_id(now)}.jsonl"
            state = _State()
            self._adopt(Timeline(path, actor=self.actor, keep=self._keep, clock=self._clock, on_event=state.apply), state)
            self._declare_event(path.stem, suggested, now if started is None else min(started, now), actor, headline)
            self.declared_here = path.stem
            if evidence:
                try:
                    self.record_evidence(evidence, why="at declaration", now=now, actor=actor)
                except TimelineError as exc:  # the incident stands; say what is missing
                    self._problem(f"evidence at declaration not recorded: {exc}")
        assert self._incident is not None
        return self._incident

    def _declare_event(self, inc_id: str, suggested: Severity, now: float, actor: str | None, headline: str) -> None:
        assert self._timeline is not None
        level = SEVERITIES[suggested]
        deadline = response_deadline(suggested, now, self.tz)
        data = {
            "id": inc_id,
            "suggested": suggested,
            "severity_name": level.name,
            "response": level.response,
            "deadline": round(deadline, 3),
            "deadline_time": iso_utc(deadline),
            "headline": " ".join(headline.split()),
        }
        summary = f"Incident {inc_id} declared at {suggested} ({level.name}, respond {level.response})"
        if headline:
            summary += f": {data['headline']}"
        try:
            self._timeline.append(EventKind.INCIDENT_DECLARED, summary, data, at=now, actor=actor)
        except TimelineError:
            path = self._timeline.path
            self.close()
            if path.exists() and path.stat().st_size == 0:
                path.unlink()
            raise

    # -- joining the shared incident (issue 17)

    def join(self, incident_id: str, events: Sequence[Event], *, now: float | None = None) -> Incident:
        """Make the shared incident ``incident_id`` current here, from ``events``
        pulled from the cluster (each with its global id in ``data["_id"]``; its
        declaration among them). Its file is ``<id>.jsonl``: made with the
        declaration first, then the rest in the order given; an existing one is
        reopened and given what it lacks. An open incident of another id is
        closed first with an ``incident_merged`` event (its events are in the
        shared one already: the caller pushed them). Raises
        :class:`TimelineError` (nothing to join yet: no declaration pulled)."""
        _check_id(incident_id)
        declaration = next(
            (e for e in events if e.kind == EventKind.INCIDENT_DECLARED and e.data.get("id") == incident_id),
            None,
        )
        with self._lock:
            current = self._incident
            if current is not None and current.id == incident_id and self._timeline is not None:
                return self._give(self._timeline, events)
            path = self.dir / f"{incident_id}.jsonl"
            if declaration is None and not path.exists():
                raise TimelineError(f"{incident_id} has no declaration in the cluster yet")
            try:
                self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            except OSError as exc:
                raise TimelineError(f"cannot create incidents in {self.dir}: {exc.strerror or exc}") from None
            state = _State()
            timeline = Timeline(path, actor=self.actor, keep=self._keep, clock=self._clock, on_event=state.apply)
            if current is not None and current.is_open and self._timeline is not None:
                summary = f"Incident {current.id} goes on as the shared incident {incident_id}: its events are in it"
                self._timeline.append(EventKind.INCIDENT_MERGED, summary, {"into": incident_id}, at=now)
            if state.incident is None and declaration is not None:
                timeline.append(declaration.kind, declaration.summary, declaration.data, at=declaration.at, actor=declaration.actor)
            self._adopt(timeline, state)
            return self._give(timeline, events)

    def _give(self, timeline: Timeline, events: Sequence[Event]) -> Incident:
        """Append the ``events`` (with ``data["_id"]``) the timeline's file does not hold yet."""
        known = {e.data.get("_id") for e in iter_events(timeline.path)}
        for e in events:
            eid = e.data.get("_id")
            if isinstance(eid, str) and eid not in known:
                timeline.append(e.kind, e.summary, e.data, at=e.at, actor=e.actor)
                known.add(eid)
        assert self._incident is not None
        return self._incident

    # -- changing it

    def _append(self, kind: EventKind | str, summary: str, data: Mapping[str, Any], now: float | None, actor: str | None) -> Incident:
        if self._timeline is None or self._incident is None:
            raise NoIncident("no incident declared")
        self._timeline.append(kind, summary, data, at=now, actor=actor)
        return self._incident

    def _current(self) -> Incident:
        if self._incident is None:
            raise NoIncident("no incident declared")
        return self._incident

    def suggest(self, severity: Severity, *, reasons: str = "", now: float | None = None, actor: str | None = None) -> Incident:
        """Triage now suggests ``severity`` (written only when it differs from
        the last suggestion). Higher than the severity in force: it raises it
        (after an accept or a hand-set lower one too). Lower: it is offered,
        never applied (``s`` lowers)."""
        severity = Severity(severity)
        with self._lock:
            inc = self._current()
            if severity == inc.suggested:
                return inc
            before = inc.severity
            raises = _rank(severity) < _rank(before)
            if raises:
                summary = f"Severity raised to {severity} by triage (was {before}{'' if inc.confirmed else '?'})"
            elif severity == before:
                summary = f"Triage suggests {severity} (was {inc.suggested}), the severity in force"
            else:
                summary = f"Triage suggests {severity}, lower than {before} in force: offered, not applied (s lowers it)"
            if reasons:
                summary += f": {reasons}"
            data = {"from": inc.suggested, "to": severity, "in_force": before, "raises": raises, "reasons": reasons}
            return self._append(EventKind.SEVERITY_SUGGESTED, summary, data, now, actor)

    def accept_severity(self, *, now: float | None = None, actor: str | None = None) -> Incident:
        """The responder accepts the severity in force (the declaration's, or
        triage's raise). A lower suggestion is not accepted this way: ``s``."""
        with self._lock:
            inc = self._current()
            if inc.confirmed:
                return inc
            sev = inc.severity
            data = {"from": sev, "to": sev, "suggested": inc.suggested, "accepted": True}
            return self._append(EventKind.SEVERITY_CHANGED, f"Severity {sev} accepted", data, now, actor)

    def set_severity(self, severity: Severity, *, reason: str = "", now: float | None = None, actor: str | None = None) -> Incident:
        """The responder sets the severity (an override when it differs from
        the suggestion; both are kept). Lowering it never moves the clock's
        deadline later."""
        severity = Severity(severity)
        with self._lock:
            inc = self._current()
            if severity == inc.chosen and severity == inc.severity:
                return inc
            accepted = severity == inc.suggested
            if accepted and _rank(severity) > _rank(inc.severity):
                summary = f"Severity lowered to {severity} by hand, as triage suggests (was {inc.severity})"
            elif accepted:
                summary = f"Severity {severity} accepted"
            elif _rank(severity) > _rank(inc.severity):
                summary = f"Severity lowered to {severity} by hand (was {inc.severity}; suggested {inc.suggested})"
            else:
                summary = f"Severity set to {severity} (suggested {inc.suggested})"
            if reason:
                summary += f": {reason}"
            data = {"from": inc.severity, "to": severity, "suggested": inc.suggested, "accepted": accepted, "reason": reason}
            return self._append(EventKind.SEVERITY_CHANGED, summary, data, now, actor)

    def set_status(self, status: Status, *, note: str = "", now: float | None = None, actor: str | None = None) -> Incident:
        """Move the status (any direction; resolved → investigating reopens)."""
        status = Status(status)
        with self._lock:
            inc = self._current()
            if status == inc.status:
                return inc
            summary = f"Status {inc.status} → {status}" + (f": {note}" if note else "")
            return self._append(EventKind.STATUS_CHANGED, summary, {"from": inc.status, "to": status, "note": note}, now, actor)

    def set_branch(
        self, branches: str | Sequence[str], *, data: Mapping[str, Any] | None = None, now: float | None = None, actor: str | None = None
    ) -> Incident:
        """Record the decision-tree branch(es), main first (written only when
        they change); ``data`` is kept with it (e.g. the assessment's ``to_dict()``)."""
        new = (branches,) if isinstance(branches, str) else tuple(str(b) for b in branches)
        with self._lock:
            inc = self._current()
            if new == inc.branches:
                return inc
            was = " + ".join(inc.branches) or "none"
            summary = f"Branch: {' + '.join(new) or 'none'} (was {was})"
            return self._append(
                EventKind.BRANCH_CHANGED, summary, {**(data or {}), "from": list(inc.branches), "to": list(new)}, now, actor
            )

    def tick(self, key: str, *, auto: bool = False, seen: str = "", now: float | None = None, actor: str | None = None) -> Incident:
        """Tick a runbook item (``runbook.ITEMS`` key). Ticking a ticked item
        writes nothing; an automatic tick (``auto``, with what was ``seen``)
        does not re-tick an item the responder unticked by hand."""
        item = ITEMS.get(key)
        if item is None:
            raise ValueError(f"no checklist item {key!r}")
        with self._lock:
            inc = self._current()
            if key in inc.ticks or (auto and key in inc.hand_unticked):
                return inc
            summary = f"Auto-ticked: {item.text} — {seen}" if auto else f"Ticked: {item.text}"
            data = {"key": key, "item": item.text, "step": _step_of(key), "auto": auto, "seen": " ".join(seen.split())}
            return self._append(EventKind.CHECKLIST_TICKED, summary, data, now, actor)

    def untick(self, key: str, *, now: float | None = None, actor: str | None = None) -> Incident:
        """Untick an item (writes nothing if it is not ticked)."""
        item = ITEMS.get(key)
        if item is None:
            raise ValueError(f"no checklist item {key!r}")
        with self._lock:
            inc = self._current()
            tick = inc.ticks.get(key)
            if tick is None:
                return inc
            data = {"key": key, "item": item.text, "step": _step_of(key), "was_auto": tick.auto}
            return self._append(EventKind.CHECKLIST_UNTICKED, f"Unticked: {item.text}", data, now, actor)

    def record_evidence(
        self, evidence: Mapping[str, Any], *, why: str = "", now: float | None = None, actor: str | None = None
    ) -> Event | None:
        """An ``evidence_snapshot`` (e.g. ``evidence.signals_evidence(...)``), capped in size."""
        return self.record(EventKind.EVIDENCE_SNAPSHOT, "Evidence snapshot" + (f" ({why})" if why else ""), evidence, now=now, actor=actor)

    def note(self, text: str, *, now: float | None = None, actor: str | None = None) -> Event | None:
        return self.record(EventKind.NOTE, text, {}, now=now, actor=actor)

    def record(
        self,
        kind: EventKind | str,
        summary: str,
        data: Mapping[str, Any] | None = None,
        *,
        now: float | None = None,
        actor: str | None = None,
    ) -> Event | None:
        """Any other event (Clay incident appeared, source failed, pod OOMKilled,
        later: actions, messages) on the current incident's timeline. Returns
        the recorded event, or None when there is no current incident."""
        with self._lock:
            if self._timeline is None or self._incident is None:
                return None
            return self._timeline.append(kind, summary, data, at=now, actor=actor)


@dataclass
class _State:
    """The incident one timeline describes; its ``apply`` is the timeline's
    ``on_event`` (called under the timeline's lock, never the store's)."""

    incident: Incident | None = None

    def apply(self, event: Event) -> None:
        self.incident = apply(self.incident, event)


def _step_of(key: str) -> int:
    return next(step.number for step in STEPS for item in step.items if item.key == key)
