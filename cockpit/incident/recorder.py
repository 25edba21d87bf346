"""What goes on the evidence timeline, and when: between triage, the watch
and the incident store.

The app hands a :class:`Recorder` every stable triage result
(:meth:`Recorder.triaged`), every notable moment :class:`~clay_cockpit.incident.watch.Watch`
saw (:meth:`Recorder.notable`) and every responder decision (tick, severity,
status). While an incident is open they become timeline events at once;
before one is declared they wait in a small bounded buffer and go into the
declaration's evidence snapshot (:meth:`Recorder.prepare` → :meth:`declare`
→ :meth:`attached`; after a restart :meth:`resume` → :meth:`attached`).

- A stable branch change (``Triaged.change``) is a ``branch_changed`` event
  (with the reasons and actions) plus an evidence snapshot of the signals;
  a new stable severity is a ``severity_suggested`` event.
- The runbook items the cockpit verifies itself (status page checked, health
  probed, metrics read, logs scanned) tick themselves from the newest
  assessment's observations, marked automatic with what was seen.
- A write that fails (:class:`~clay_cockpit.incident.timeline.TimelineError`) is kept in
  :attr:`Recorder.failures` for the timeline pane; nothing is shown as
  recorded that did not return from the store (which fsyncs).

No Textual. File I/O only through :class:`~clay_cockpit.incident.lifecycle.IncidentStore`:
``declare`` and ``resume`` belong in a thread worker (tens of ms, more on a
slow disk); the rest writes one fsynced event (~4 ms) and may run on the UI
thread. Not thread-safe itself: call it from one thread, except
:meth:`declare` / :meth:`resume`, which only touch the (thread-safe) store.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from clay_cockpit.incident.evidence import signals_evidence
from clay_cockpit.incident.lifecycle import Incident, IncidentStore, NoIncident, Status
from clay_cockpit.incident.timeline import Event, EventKind, TimelineError
from clay_cockpit.incident.watch import Notable
from clay_cockpit.runbook import ITEMS, STEPS, Branch, Severity
from clay_cockpit.signals import Signals
from clay_cockpit.triage.tree import BRANCH_LABEL, Assessment, Triaged

BUFFER = 20  # notable moments kept before a declaration (the oldest drop out)
FAILURES = 5  # failed writes kept for the timeline pane
AUTO_ITEMS: dict[str, str] = {item.auto: item.key for step in STEPS for item in step.items if item.auto}  # source -> item key
SOURCE_LABEL = {"statuspage": "status page", "health": "health", "metrics": "metrics", "pods": "pods", "logs": "logs"}

_BRANCHES = frozenset(b.value for b in Branch)
_TRIAGE_KINDS = frozenset({EventKind.BRANCH_CHANGED, EventKind.SEVERITY_SUGGESTED})  # superseded once attached

T = TypeVar("T")


@dataclass(frozen=True)
class Failure:
    """An event that could not be recorded."""

    at: float
    what: str  # the summary of what was not recorded
    error: str  # why (one line, no secret: TimelineError text)


@dataclass(frozen=True)
class Declaration:
    """What a declaration will write: the severity, the verdict and the
    evidence on screen at the key press."""

    severity: Severity
    evidence: dict[str, Any]
    taken: tuple[Notable, ...] = ()  # the waiting notable moments the evidence holds
    assessment: Assessment | None = None  # the verdict on screen (None: healthy or unknown)
    headline: str = ""  # its headline, as the strip showed it


def branches_of(a: Assessment) -> tuple[str, ...]:
    """The assessment's branches, most urgent first, each once."""
    return tuple(dict.fromkeys(f.branch.value for f in a.findings))


def assessment_brief(a: Assessment) -> dict[str, Any]:
    """The assessment in a few hundred bytes: what a branch event keeps.
    Every text whole (never cut for a screen): messages and the postmortem
    quote it. ``actions``: all of them, in order; ``todo``: those not in
    effect; ``done``: those in effect, with what is in effect."""
    top = a.top
    return {
        "headline": a.headline,
        "confidence": a.confidence.value,
        "findings": [f.line for f in a.findings],
        "reasons": [r.text for r in top.reasons],
        "actions": [x.text for x in a.actions],
        "todo": [x.text for x in a.todo],
        "done": [{"id": x.id.value, "text": x.done_text, "detail": x.detail, "since": x.since} for x in a.actions if x.done],
        "cannot_see": a.cannot_see,
    }


class Recorder:
    """See the module docstring."""

    def __init__(self, store: IncidentStore, *, clock: Callable[[], float], buffer: int = BUFFER) -> None:
        self.store = store
        self._clock = clock
        self._before: deque[Notable] = deque(maxlen=max(1, buffer))
        self._attached_id: str | None = None  # the incident attached() ran for (see _recording)
        self.dropped = 0  # notable moments pushed out of the full buffer
        self.failures: deque[Failure] = deque(maxlen=FAILURES)
        self.writes = 0  # events written by this recorder (the panes repaint when it moves)

    # -- what there is ---------------------------------------------------------

    @property
    def incident(self) -> Incident | None:
        """The current incident (open, or resolved in this session)."""
        return self.store.incident

    @property
    def open(self) -> Incident | None:
        inc = self.store.incident
        return inc if inc is not None and inc.is_open else None

    def events(self) -> tuple[Event, ...]:
        """The newest events of the current incident, oldest first (all on disk)."""
        return self.store.events()

    @property
    def waiting(self) -> tuple[Notable, ...]:
        """Notable moments seen while no incident is open (the newest few)."""
        return tuple(self._before)

    def problems(self) -> list[str]:
        """What was wrong with the incident files (torn last line, unreadable lines)."""
        out = list(self.store.problems)
        read_only = self.store.read_only()
        if read_only is not None:
            out.insert(0, f"READ-ONLY: nothing new is recorded. {read_only}")
        timeline = self.store.timeline
        if timeline is not None and timeline.report.torn:
            out.append(f"{timeline.path.name}: {timeline.report.torn}")
        return out

    # -- fed by the app ----------------------------------------------------------

    @property
    def _recording(self) -> Incident | None:
        """The open incident once :meth:`attached` ran for it. The declaring
        worker makes the incident open before the UI thread hears of it;
        what comes in between waits (like moments before any incident), so
        the declaration's own events are always first and in one order."""
        inc = self.open
        return inc if inc is not None and inc.id == self._attached_id else None

    def notable(self, items: Iterable[Notable]) -> None:
        for n in items:
            if self._recording is not None:
                self._write(n.summary, partial(self.store.record, n.kind, n.summary, n.data, now=n.at))
            else:
                if len(self._before) == self._before.maxlen:
                    self.dropped += 1
                self._before.append(n)

    def triaged(self, t: Triaged, signals: Signals) -> None:
        """A triage update: record a stable change; tick what was verified."""
        change = t.change
        if change is not None:
            if self._recording is not None:
                self._record_change(t, signals)
            elif not (change.before_branch is None and change.after_branch == Branch.UNKNOWN):  # (the start: nothing read yet)
                kind = EventKind.BRANCH_CHANGED if change.kind == "branch" else EventKind.SEVERITY_SUGGESTED
                self.notable([Notable(kind, f"Triage: {change.summary}", change.at, change.to_dict())])
        if self._recording is not None:
            self._auto_ticks(t.latest)

    def _record_change(self, t: Triaged, signals: Signals) -> None:
        a, change = t.assessment, t.change
        assert change is not None
        inc = self.open
        assert inc is not None
        branches = branches_of(a)
        if change.kind == "branch" and branches != inc.branches:
            # worded from the incident's side: after a restart triage starts afresh, the incident does not
            before = BRANCH_LABEL[Branch(inc.branches[0])] if inc.branches and inc.branches[0] in _BRANCHES else "none"
            sev = f" ({a.severity})" if a.severity else ""
            summary = f"Branch: {before} → {BRANCH_LABEL[a.branch]}{sev}"
            data = {"from": list(inc.branches), "to": list(branches), "change": change.to_dict(), **assessment_brief(a)}
            self._write(summary, lambda: self.store.record(EventKind.BRANCH_CHANGED, summary, data, now=change.at))
            evidence = signals_evidence(signals, extra={"assessment": a.to_dict()})
            self._write("Evidence snapshot", lambda: self.store.record_evidence(evidence, why=f"branch change: {summary}", now=change.at))
        if change.after_severity is not None:
            sev = change.after_severity
            self._write(f"Triage suggests {sev}", lambda: self.store.suggest(sev, reasons=a.headline, now=change.at))

    def _auto_ticks(self, a: Assessment) -> None:
        inc = self.open
        if inc is None:
            return
        for o in a.observed:
            key = AUTO_ITEMS.get(o.source)
            if key is None or o.state != "live" or key in inc.ticks or key in inc.hand_unticked:
                continue
            seen = f"{SOURCE_LABEL.get(o.source, o.source)}: {o.summary}" if o.summary else SOURCE_LABEL.get(o.source, o.source)
            self._write(
                f"Auto-tick: {ITEMS[key].text}", partial(self.store.tick, key, auto=True, seen=seen, now=max(a.at, inc.declared_at))
            )

    # -- declaring -----------------------------------------------------------------

    def prepare(self, t: Triaged | None, signals: Signals) -> Declaration:
        """The declaration for now (UI thread): the verdict on screen
        (:attr:`Triaged.on_screen`: the stable one, or a raise shown as
        coming — the desk confirms that one first), its severity (P4 when it
        has none — the responder sets one), the evidence snapshot of the
        moment and the notable moments seen before."""
        shown = t.on_screen if t is not None else None
        a = shown if shown is not None and shown.branch != Branch.UNKNOWN else None
        severity = a.severity if a is not None and a.severity is not None else Severity.P4
        taken = tuple(self._before)
        extra: dict[str, Any] = {"before": [n.to_dict() for n in taken], "before_dropped": self.dropped}
        if a is not None:
            extra["assessment"] = assessment_brief(a)
        if a is None or a.severity is None:
            extra["note"] = "triage suggested no severity (healthy or unknown): P4 until the responder sets one"
        evidence = signals_evidence(signals, extra=extra)
        return Declaration(severity, evidence, taken, a, a.headline if a is not None else "")

    def declare(self, d: Declaration, now: float | None = None, started: float | None = None, incident_id: str | None = None) -> Incident:
        """Declare (thread worker). Returns the open incident (another
        cockpit's, if it was quicker). Raises TimelineError; the waiting
        notable moments then stay waiting. ``started``: the start it takes
        (a PagerDuty page's), see :meth:`IncidentStore.declare`."""
        return self.store.declare(d.severity, d.evidence, now=now, headline=d.headline, started=started, incident_id=incident_id)

    def resume(self) -> Incident | None:
        """The open incident of the state dir, rebuilt from its timeline (thread worker)."""
        return self.store.resume()

    def attached(self, t: Triaged | None, d: Declaration | None = None) -> None:
        """After :meth:`declare` or :meth:`resume` returned an open incident
        (UI thread): record the branch on screen at the key press (``d``),
        then triage's current branch and severity where they differ (it may
        have moved while the declaration was written; after a resume, where
        the incident differs), the notable moments that are not in the
        declaration's evidence yet, and the automatic ticks."""
        inc = self.open
        if inc is None:
            return
        mine = d is not None and self.store.declared_here == inc.id  # (not another cockpit's, quicker one)
        self._attached_id = inc.id
        taken = d.taken if d is not None else ()
        keep = [n for n in self._before if n.kind not in _TRIAGE_KINDS and not any(n is x for x in taken)]
        self._before.clear()
        self.dropped = 0
        if mine and d is not None and d.assessment is not None:
            self._sync(d.assessment, "at declaration")
        if t is not None and t.assessment.branch != Branch.UNKNOWN:
            self._sync(t.assessment, "since the declaration" if d is not None else "on resume")
        self.notable(keep)
        if t is not None:
            self._auto_ticks(t.latest)

    def _sync(self, a: Assessment, when: str) -> None:
        inc = self.open
        assert inc is not None
        branches = branches_of(a)
        if branches != inc.branches:
            summary = f"Branch {when}: {' + '.join(BRANCH_LABEL[Branch(b)] for b in branches)}"
            data = {"from": list(inc.branches), "to": list(branches), **assessment_brief(a)}
            self._write(summary, lambda: self.store.record(EventKind.BRANCH_CHANGED, summary, data))
        if a.severity is not None and a.severity != inc.suggested:
            sev = a.severity
            self._write(f"Triage suggests {sev}", lambda: self.store.suggest(sev, reasons=a.headline))

    def refresh(self) -> bool:
        """Pick up events another cockpit appended; True if there were any."""
        try:
            return bool(self.store.refresh())
        except TimelineError as exc:
            self._failed("reading the timeline", str(exc))
            return False

    # -- the responder's decisions ---------------------------------------------------

    def toggle(self, key: str) -> bool:
        """Tick the item, or untick it when ticked. False: no incident, or not recorded."""
        inc = self.open
        if inc is None:
            return False
        if key in inc.ticks:
            return self._write(f"Untick: {ITEMS[key].text}", lambda: self.store.untick(key)) is not None
        return self._write(f"Tick: {ITEMS[key].text}", lambda: self.store.tick(key)) is not None

    def accept(self) -> bool:
        return self.open is not None and self._write("Accept the suggested severity", self.store.accept_severity) is not None

    def set_severity(self, severity: Severity) -> bool:
        return self.open is not None and self._write(f"Severity {severity}", lambda: self.store.set_severity(severity)) is not None

    def set_status(self, status: Status) -> bool:
        """Any status (resolved → investigating reopens the current incident)."""
        if self.incident is None:
            return False
        return self._write(f"Status {status}", lambda: self.store.set_status(status)) is not None

    # -- writing ------------------------------------------------------------------------

    def _write(self, what: str, call: Callable[[], T]) -> T | None:
        try:
            result = call()
        except TimelineError as exc:
            self._failed(what, str(exc))
            return None
        except ValueError as exc:  # an event that is not strict JSON (NaN, inf): lost, but never a crash
            self._failed(what, f"could not encode the event: {exc}")
            return None
        except NoIncident:
            return None
        self.writes += 1
        return result

    def failed(self, what: str, error: str) -> None:
        """Keep a failure that happened elsewhere (a declaration in a worker)."""
        self._failed(what, error)

    def _failed(self, what: str, error: str) -> None:
        self.failures.append(Failure(self._clock(), what, error))
