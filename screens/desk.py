"""The incident desk: triage on every snapshot, the watch for notable
moments, the incident and its timeline — and the decision panes they feed.

The app builds one :class:`Desk` right after the first frame (these modules
load after it) and routes to it: every ``SignalsChanged``, the log follow's
faults, the keys of the decision panes, and the :class:`IncidentLoaded`
message its workers post. It keeps the app's own code to wiring.

Threads: resuming the open incident and declaring one run in a thread
worker (they create files, take a lock, fsync; on a slow disk that is
seconds); ticks, severity and status are one fsynced event each (~4 ms) and
run on the UI thread, so what the panes show is what is on disk.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import tzinfo
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from textual.message import Message

from clay_cockpit.comms.paging import linking, start_of
from clay_cockpit.config import Config
from clay_cockpit.incident.lifecycle import IncidentStore, new_id
from clay_cockpit.incident.recorder import Declaration, Recorder
from clay_cockpit.incident.state import Incident, Status
from clay_cockpit.incident.timeline import TimelineError
from clay_cockpit.incident.watch import Watch
from clay_cockpit.runbook import SEVERITIES, Severity
from clay_cockpit.screens.choose import Choice, ChoiceScreen
from clay_cockpit.screens.timeline_view import TimelineScreen
from clay_cockpit.signals import PagerDutyIncident, Signals, SourceError
from clay_cockpit.triage.tree import Triage, Triaged, assess, refresh_intervals
from clay_cockpit.widgets.checklist import clock_time

if TYPE_CHECKING:
    from textual.app import App

    from clay_cockpit.screens.main import MainScreen
    from clay_cockpit.screens.paging_desk import PagingDesk
    from clay_cockpit.screens.shared_desk import SharedDesk

TRIAGE_SAMPLES = 2  # the newest assessments that must agree before a new verdict is adopted …
TRIAGE_SECONDS = 8.0  # … once worse than the stable verdict for this long (divided by the drill's speed)
TRIAGE_FAST_SECONDS = 3.0  # … or this long when two sources show it (the logs and the metrics, the pods and the logs)
TRIAGE_CALM_SECONDS = 30.0  # a calmer verdict must last this long
CLOCK_TICK = 1.0  # seconds between looks at the response-target clock
FILE_TICK = 5.0  # seconds between looks for events another cockpit appended
STATUS_ORDER = (Status.INVESTIGATING, Status.IDENTIFIED, Status.MONITORING, Status.RESOLVED)


class IncidentLoaded(Message):
    """A resume or declaration worker finished (on the UI thread: :meth:`Desk.loaded`)."""

    def __init__(self, incident: Incident | None, error: str | None, declaration: Declaration | None, joined: bool = False) -> None:
        super().__init__()
        self.incident = incident
        self.error = error
        self.declaration = declaration
        self.joined = joined  # the declaration found another responder's incident open in the cluster, and joined it


class Desk:
    """See the module docstring."""

    def __init__(
        self,
        app: App[int],
        main: MainScreen,
        config: Config,
        *,
        clock: Callable[[], float],
        state_dir: Path,
        speed: float = 1.0,
        tz: tzinfo | None = None,
    ) -> None:
        self.app = app
        self.main = main
        self.config = config
        self.clock = clock
        self.tz = tz
        speed = max(speed, 1e-6)
        self.triage = Triage(TRIAGE_SAMPLES, TRIAGE_SECONDS / speed, TRIAGE_CALM_SECONDS / speed, TRIAGE_FAST_SECONDS / speed)
        self.watch = Watch(config.thresholds.restarts_warn)
        # the events name the responder as the others see them ([shared] responder; else user@host)
        self.recorder = Recorder(IncidentStore(state_dir, actor=config.shared.responder or None, clock=clock, tz=tz), clock=clock)
        self.triaged: Triaged | None = None
        self.signals = Signals(at=clock())
        self.busy = ""  # "resuming" / "declaring" while a worker runs
        self.paging: PagingDesk | None = None  # PagerDuty and Grafana (issue 16): set by the app once built
        self.shared: SharedDesk | None = None  # the shared incident (issue 17): likewise
        self._refresh = refresh_intervals(config)
        # triage starts once every source has answered (or had time to): a verdict on the
        # first answer alone would be adopted at once and then need the window to go away
        self._started = clock()
        self._patience = max(config.statuspage.timeout, config.health.timeout, config.metrics.timeout, config.kube.timeout) + 5.0
        self._shown: object = None  # what the incident panes last showed (see _show_incident)

    def start(self) -> None:
        """Look for the open incident and start the clock."""
        self._run("resuming", self._resume_blocking, "Looking for an open incident")
        self.app.set_interval(CLOCK_TICK, self._clock_tick)
        self.app.set_interval(FILE_TICK, self._file_tick)

    # -- fed by the app ---------------------------------------------------------

    def signals_changed(self, signals: Signals) -> None:
        """A new snapshot: the watch, triage (through the window), the record, the panes."""
        self.signals = signals
        if not self.main.is_attached:
            return
        now = self.clock()
        if self.busy != "resuming":  # (after the resume the watch starts from what the incident saw)
            self.recorder.notable(self.watch.update(signals, now))
        answered = all(
            r.value is not None or r.error is not None for r in (signals.statuspage, signals.health, signals.metrics, signals.pods)
        )
        if not answered and now - self._started < self._patience:
            self._show_incident()
            return
        self._triaged(self.triage.update(assess(signals, self.config.thresholds, now, refresh=self._refresh)))

    def _triaged(self, t: Triaged) -> None:
        """A triage result: recorded (a change of the stable verdict), shown, and what it did to the incident said."""
        before = self.recorder.open
        self.triaged = t
        self.recorder.triaged(t, self.signals)
        self.main.show_triage(t)
        self._severity_news(before, self.recorder.open)
        self._show_incident()

    def _severity_news(self, before: Incident | None, after: Incident | None) -> None:
        """Say it when triage raised the incident's severity, or offers a lower one (never applied)."""
        if before is None or after is None or before.id != after.id:
            return
        if after.severity != before.severity:
            self.app.notify(
                f"{after.severity} (was {before.severity}): {SEVERITIES[after.severity].name} — a accepts it",
                title="Severity raised by triage",
                severity="warning",
            )
        elif after.lower_offer is not None and after.lower_offer != before.lower_offer:
            self.app.notify(
                f"triage suggests {after.lower_offer} — s lowers it (it never lowers by itself)", title=f"Severity {after.severity} stays"
            )

    def log_fault(self, error: SourceError | None) -> None:
        self.recorder.notable(self.watch.logs(error, self.clock()))
        self._show_incident()

    def loaded(self, message: IncidentLoaded) -> None:
        """A worker finished: show the incident it found, declared or failed to declare."""
        self.busy = ""
        if not self.main.is_attached:  # the app is closing
            return
        d = message.declaration
        if message.joined and message.incident is not None:  # another responder declared first: this is theirs
            d = None
            inc = message.incident
            self.app.notify(f"{inc.id} · {inc.severity}, declared by {inc.declared_by}", title="Joined the shared incident")
        if message.error is not None:
            what = "Declare the incident" if d is not None else "Look for an open incident"
            self.recorder.failed(what, message.error)
            self.app.notify(message.error, title="Not recorded" if d is not None else "Timeline", severity="error")
        elif self.recorder.open is not None:
            if d is None:  # resumed: what the incident already recorded is not news
                self.watch.prime(self.recorder.events())
            self.recorder.attached(self.triaged, d)
            inc = self.recorder.open
            if d is not None:
                self.app.notify(
                    f"{inc.id} · {inc.severity} ({SEVERITIES[inc.severity].name}) — a accepts, s sets another", title="Incident declared"
                )
            if self.shared is not None:
                self.shared.kick()  # the declaration reaches the other responders now
            if self.paging is not None:
                self.paging.sync()  # the page linked, the declaration's notes: read and sent now
            elif not message.joined:
                self.app.notify(f"{inc.id} · {inc.severity} {inc.status}, declared {clock_time(inc.declared_at)}", title="Incident resumed")
            read_only = self.recorder.store.read_only()
            if read_only is not None:
                self.app.notify(
                    f"{inc.id} is shown read-only: nothing new is recorded. {read_only}",
                    title="Incident read-only",
                    severity="error",
                    timeout=30,
                )
        self._show_incident(force=True)

    # -- the responder's keys -------------------------------------------------------

    def declare(self) -> None:
        inc = self.recorder.open
        if inc is not None:
            self.app.notify(f"{inc.id} is open (u changes its status)", title="Already declared")
            return
        if self.busy:
            self.app.notify(f"{self.busy} — a moment", title="Not yet")
            return
        confirmed = self.triage.confirm()  # a raise shown as coming: the responder acts on it, so it is the verdict now
        if confirmed is not None:
            self._triaged(confirmed)
        d = self.recorder.prepare(self.triaged, self.signals)
        page = self.paging.page_to_link() if self.paging is not None else None  # an open page is linked, its start taken
        self._run("declaring", partial(self._declare_blocking, d, page), "Declaring the incident")

    def accept(self) -> None:
        inc = self.recorder.open
        if inc is None:
            self._no_incident()
        elif inc.confirmed:
            self.app.notify(
                f"{inc.severity} is accepted already" + (f"; triage suggests {inc.lower_offer} — s lowers it" if inc.lower_offer else ""),
                title="Severity",
            )
        elif self.recorder.accept():
            self.app.notify(f"{inc.severity} accepted", title="Severity")
        self._show_incident()

    def pick_severity(self) -> None:
        inc = self.recorder.open
        if inc is None:
            self._no_incident()
            return
        ranks = list(Severity)  # P1 first

        def detail(s: Severity) -> str:
            words = f"respond {SEVERITIES[s].response}"
            if ranks.index(s) > ranks.index(inc.clock_severity):  # lowering never moves the clock later
                words += f" · the clock stays at {inc.clock_severity}'s"
            return words

        choices = [Choice(s.value, f"{s.value} {SEVERITIES[s].name}", detail(s)) for s in Severity]

        def chosen(value: str | None) -> None:
            if value is not None:
                self.recorder.set_severity(Severity(value))
                self._show_incident()

        title = f"Severity of {inc.id}"
        self.app.push_screen(ChoiceScreen(title, choices, current=inc.severity, proposed=inc.suggested, why="triage suggests"), chosen)

    def pick_status(self) -> None:
        inc = self.recorder.incident
        if inc is None:
            self._no_incident()
            return
        at = STATUS_ORDER.index(inc.status)
        proposed = STATUS_ORDER[at + 1] if at + 1 < len(STATUS_ORDER) else None
        why = "next"
        if inc.symptom_ended_at is not None and at < STATUS_ORDER.index(Status.MONITORING):
            # a fix whose symptom was seen to end: what the runbook calls monitoring, not "identified"
            proposed, why = Status.MONITORING, f"the symptom ended {clock_time(inc.symptom_ended_at)}"
        details = {
            Status.INVESTIGATING: "looking for the cause",
            Status.IDENTIFIED: "cause known, fixing",
            Status.MONITORING: "fix in place, watching (the clock stops)",
            Status.RESOLVED: "over (the incident closes)",
        }
        choices = [Choice(s.value, s.value, details[s]) for s in STATUS_ORDER]

        def chosen(value: str | None) -> None:
            if value is not None:
                self.recorder.set_status(Status(value))
                self._show_incident()
                if self.paging is not None:
                    self.paging.status_changed(Status(value))

        self.app.push_screen(ChoiceScreen(f"Status of {inc.id}", choices, current=inc.status, proposed=proposed, why=why), chosen)

    def toggle(self, key: str) -> None:
        if self.recorder.open is None:
            self._no_incident()
            return
        self.recorder.toggle(key)
        self._show_incident()

    def timeline_path(self) -> Path | None:
        timeline = self.recorder.store.timeline
        return timeline.path if timeline is not None else None

    # -- showing ----------------------------------------------------------------------

    def adopted(self, joined: bool = False) -> None:
        """The shared desk wrote another responder's events here (issue 17); ``joined``: it made their incident
        the current one — attached as a resumed one (the watch primed, triage's branch where it differs)."""
        if not self.main.is_attached:
            return
        if joined and self.recorder.open is not None:
            self.watch.prime(self.recorder.events())
            self.recorder.attached(self.triaged, None)
            if self.paging is not None:
                self.paging.sync()
        self._show_incident(force=True)

    def refresh_panes(self) -> None:
        """Redraw the incident panes now if the record changed (another desk wrote to the store)."""
        self._show_incident()

    def _show_incident(self, force: bool = False) -> None:
        """Redraw the badge, checklist and timeline when what they show changed."""
        r = self.recorder
        inc = r.incident
        timeline = r.store.timeline
        key = (inc, timeline.seq if timeline is not None else 0, len(r.waiting), r.dropped, tuple(r.failures), len(r.problems()))
        if key == self._shown and not force or not self.main.is_attached:  # (detached: the app is closing)
            return
        self._shown = key
        events = r.events()
        self.main.show_incident(
            inc, events, tuple(r.failures), r.problems(), r.waiting, self.clock(), self.tz, read_only=r.store.read_only() is not None
        )
        for screen in self.app.screen_stack:
            if isinstance(screen, TimelineScreen) and screen.path == self.timeline_path():
                screen.extend(events)
        self.app.refresh_bindings()

    def _clock_tick(self) -> None:
        inc = self.recorder.incident
        if inc is not None and self.main.is_attached:
            self.main.show_clock(inc, self.clock(), self.tz)

    def _file_tick(self) -> None:
        if self.recorder.refresh():  # another cockpit on this state dir wrote
            self._show_incident()

    def _no_incident(self) -> None:
        self.app.notify("No incident is open: i declares one", title="No incident", severity="warning")

    # -- workers --------------------------------------------------------------------------

    def _run(self, busy: str, work: Callable[[], None], description: str) -> None:
        self.busy = busy
        self.app.run_worker(work, thread=True, group="incident", exclusive=True, exit_on_error=False, description=description)

    def _resume_blocking(self) -> None:
        try:
            incident, error = self.recorder.resume(), None
        except (TimelineError, OSError) as exc:
            incident, error = None, f"could not read the incidents: {exc}"
        self.app.post_message(IncidentLoaded(incident, error, None))

    def _declare_blocking(self, d: Declaration, page: PagerDutyIncident | None = None) -> None:
        try:
            started = start_of(page, self.clock()) if page is not None else None
            inc_id = new_id(self.clock())
            # the cluster's open incident first (issue 17): of two responders declaring at once, one wins, the other joins
            other = self.shared.claim(inc_id, started or self.clock()) if self.shared is not None else None
            if other is not None and self.shared is not None:
                joined = self.shared.join_now(other)
                if joined is not None:
                    self.app.post_message(IncidentLoaded(joined, None, d, joined=True))
                    return
            incident, error = self.recorder.declare(d, started=started, incident_id=inc_id), None
            if page is not None and self.recorder.store.declared_here == incident.id:
                for kind, summary, data in linking(page, self.clock()):
                    self.recorder.store.record(kind, summary, data)
        except TimelineError as exc:
            incident, error = None, str(exc)
        self.app.post_message(IncidentLoaded(incident, error, d))
