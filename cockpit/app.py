"""The Textual app: wiring only — sources → readings → panes, keys → actions.

Data flow: one worker per source polls it (async for the status page and
health, a thread for the blocking Prometheus and Kubernetes clients), posts
the result back as a :class:`SourceResult` message and the handler re-arms
that source's timer, so polls never pile up; failures back off. The app
keeps a :class:`~cockpit.signals.Reading` per source in ``app.signals`` (what
triage will read) and posts :class:`SignalsChanged` whenever it changes.

Pod logs are followed by one thread worker (``Kube.follow_logs``), stopped by
a ``threading.Event`` on quit; batches are coalesced here and flushed to the
log pane at most every ``LOG_FLUSH`` seconds, to keep terminal bytes low.

Every age on screen comes from the injected ``clock``, so snapshots are
deterministic. The first access to a ``Sources`` attribute imports a heavy
client, so it only ever happens inside a worker, off the UI thread.

Triage, the incident and its timeline live in :class:`screens.desk.Desk`
(built after the first frame): every ``SignalsChanged``, the log faults, the
decision keys and the desk's own worker results are routed to it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from textual import events, work
from textual.app import App
from textual.binding import Binding
from textual.message import Message
from textual.timer import Timer
from textual.worker import get_current_worker

from cockpit.sanitise import clean, clean_line
from cockpit.redact import redact
from cockpit.config import Config
from cockpit.config import state_dir as default_state_dir
from screens.app_keys import APP_BINDINGS, PANES
from screens.boot import TALL_FROM, WIDE_FROM, BootScreen
from screens.toasts import ToastHold
from screens.typeahead import TypeAhead

# Before the first frame this module loads only Textual's core, the config
# and the boot screen; the snapshot types, the panes and the sources load in
# on_ready (tests/test_boundaries.py holds it to that).
if TYPE_CHECKING:
    from textual.command import Provider
    from textual.driver import Driver
    from textual.notifications import SeverityLevel
    from textual.screen import Screen

    from cockpit.signals import InEffect, LogLine, Signals, SourceError
    from screens.actions_desk import ActionsDesk, ActionsUpdate
    from screens.comms_desk import CommsDesk, CommsResult
    from screens.desk import Desk, IncidentLoaded
    from screens.help import Section
    from screens.main import MainScreen
    from widgets.checklist import ChecklistPane

log = logging.getLogger(__name__)
HANGUPS = tuple(getattr(signal, name) for name in ("SIGHUP", "SIGTERM") if hasattr(signal, name))
LOG_FLUSH = 0.5  # seconds: log lines reach the screen at most twice a second (each flush
# scrolls the whole log pane: ~0.5 KB at 80x24, so this is the main cost on an SSH link)
AGE_TICK = 5.0  # seconds between refreshes of the "12s ago" ages
DRILL_CHECK = 2.0  # seconds between checks that the drill child is alive
LOG_RESTART = 5.0  # seconds before following logs again after the follow ended
RECENT_LOGS = 300  # log lines kept in Signals for triage
PRELOAD_AFTER = 3.0  # seconds after start: import the views' heavy modules in a thread
ASYNC_GRACE = 5.0  # extra seconds over a source's own timeout before we give up on it


def backoff(delay: float) -> float:
    """The next delay after a failed poll: doubles, at least 5 s, at most 30 s."""
    return min(max(delay * 2, 5.0), 30.0)


def _slug(name: str) -> str:
    """A scenario name as one safe path component."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "drill"


def source_bug(name: str, err: BaseException) -> SourceError:
    """A source broke its contract and raised: show it as a named failure.

    Only the exception type is shown: its text might carry a secret.
    """
    from cockpit.signals import ErrorKind, SourceError

    return SourceError(
        name,
        ErrorKind.BAD_RESPONSE,
        f"the {name} source raised {type(err).__name__}",
        "a bug in clay-cockpit; the other panes are unaffected — please report it",
    )


class DrillInfo(Protocol):
    """What the demo passes about the drill child process."""

    scenario: str
    title: str

    def poll(self) -> str | None:
        """A message once the simulator has died, else None. Never blocks."""


class SourceResult(Message):
    """A poll finished: a snapshot or a SourceError for one Signals field."""

    def __init__(self, name: str, result: Any) -> None:
        super().__init__()
        self.name = name
        self.result = result


class LogBatch(Message):
    def __init__(self, lines: tuple[LogLine, ...]) -> None:
        super().__init__()
        self.lines = lines


class LogFault(Message):
    """The log follow failed (``error``) or recovered (``None``)."""

    def __init__(self, error: SourceError | None) -> None:
        super().__init__()
        self.error = error


class LogFollowEnded(Message):
    """The follow returned although it was not asked to stop."""


class SignalsChanged(Message):
    """``app.signals`` changed; only the newest one matters."""

    def __init__(self, signals: Signals) -> None:
        super().__init__()
        self.signals = signals

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SignalsChanged)


@dataclass
class _Poll:
    name: str  # the Signals field (and pane id) it fills
    interval: float
    start: Callable[[], object]  # starts its worker
    delay: float = 0.0
    timer: Timer | None = None
    busy: bool = False


# the help's (and README's) sections of the app's own bindings, by id prefix; the rest are "Actions"
SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Panes and views", ("pane.", "view.")), ("Incident", ("incident.",)), ("Communication", ("comms.",)), ("Remediation", ("action.",)))
OPEN_ONLY = ("accept", "severity", "status")  # actions the footer shows only while there is an incident


def _cockpit_commands() -> "type[Provider]":
    """The palette's provider, imported when the palette first opens."""
    from screens.palette import CockpitCommands

    return CockpitCommands


class CockpitApp(App[int]):
    # the layout and look of the cockpit screen; read in on_ready, after the
    # first frame, which needs none of it (screens/boot.py draws it alone)
    CSS_FILE = Path(__file__).with_name("app.tcss")
    TITLE = "clay-cockpit"
    COMMANDS = App.COMMANDS | {_cockpit_commands}
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (WIDE_FROM, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (TALL_FROM, "-tall")]
    BINDINGS: ClassVar[list[Binding]] = list(APP_BINDINGS)

    def __init__(
        self,
        config: Config,
        sources: Any,
        *,
        clock: Callable[[], float] = time.time,
        title: str | None = None,
        drill: DrillInfo | None = None,
        state_dir: Path | None = None,
        speed: float = 1.0,
        actions: Any = None,
    ) -> None:
        # [keymap] (screens/keymap.py checked it): binding id → key(s); the palette's key is Textual's own
        self.keymap: dict[str, str] = {}
        if config.keymap:
            from screens.keymap import PALETTE_ID, normalised

            self.keymap = normalised(config.keymap)
            if PALETTE_ID in self.keymap:
                self.COMMAND_PALETTE_BINDING = self.keymap[PALETTE_ID]
        # NO_COLOR: Textual alone applies its Monochrome filter, which still
        # writes grey escapes; with native ANSI colours it strips every colour
        # (whatever the [ui] theme)
        super().__init__(ansi_color=True if "NO_COLOR" in os.environ else None)
        if self.keymap:
            self.set_keymap(self.keymap)
        self.theme = config.ui.theme
        self.config = config
        self.sources = sources
        self.clock = clock
        self.drill = drill
        self.speed = speed  # a drill's --speed: triage's window shrinks with it
        # incidents of a drill stay apart from real ones (and from other scenarios')
        self.state_dir = state_dir or (default_state_dir() / "drills" / _slug(drill.scenario) if drill else default_state_dir())
        if title:
            self.title = title
        self._signals: Signals | None = None  # made on first use (see the signals property)
        self._polls = {
            poll.name: poll
            for poll in (
                _Poll("statuspage", config.statuspage.refresh, self.poll_statuspage),
                _Poll("health", config.health.refresh, self.poll_health),
                _Poll("metrics", config.metrics.refresh, self.poll_metrics),
                _Poll("pods", config.kube.refresh, self.poll_pods),
            )
        }
        self._stop_logs = threading.Event()
        self._log_pending: deque[LogLine] = deque(maxlen=max(1, config.kube.log_buffer))
        self._log_flush: Timer | None = None
        self._recent_logs: deque[LogLine] = deque(maxlen=RECENT_LOGS)
        self._drill_timer: Timer | None = None
        self._countdown_timer: Timer | None = None  # until the drill child says when its fault starts
        self._main: MainScreen | None = None  # built right after the first frame (see on_ready)
        self._desk: Desk | None = None  # likewise
        self._metrics_view: Any = None
        self._comms: CommsDesk | None = None  # built with the desk (see on_ready)
        self._actions: ActionsDesk | None = None  # built with the desk (see on_ready)
        self._actions_factory = actions  # builds the ActionRunner (tests pass one that plays a frozen drill forward)
        self._signal_handlers: list[signal.Signals] = []
        self._exiting = False  # exit() was called: on_ready stops building
        self._toasts = ToastHold(self, self.notify)  # held while a modal asks for a key, a name or a confirmation
        self._typeahead = TypeAhead(self)  # typing just after a modal closed is no hotkey

    def _target(self) -> str:
        kube = self.config.kube
        where = f"{kube.context or 'current context'}/{kube.namespace} · {kube.selector}"
        return f"scenario {self.drill.scenario} · {where}" if self.drill else where

    def _shorter_titles(self) -> tuple[str, ...]:
        """The top bar's names for what we look at when the title does not fit, longest first."""
        if self.drill:
            return (f"drill {self.drill.scenario}", self.drill.scenario)
        kube = self.config.kube
        return (f"{kube.context}/{kube.namespace}" if kube.context else kube.namespace,)

    @property
    def main_screen(self) -> MainScreen:
        """The cockpit screen; it exists from on_ready on, before any poll
        starts or any action is allowed (check_action)."""
        assert self._main is not None, "the cockpit screen is built in on_ready"
        return self._main

    @property
    def desk(self) -> Desk:
        """Triage, the incident and its timeline (see :mod:`screens.desk`)."""
        assert self._desk is not None, "the desk is built in on_ready"
        return self._desk

    def get_default_screen(self) -> BootScreen:
        """The first frame is the layout alone (:mod:`screens.boot`): it needs
        none of the panes' modules, so it paints as fast as a bare app."""
        # the footer's first words: no incident is known yet, so no incident keys but declare
        shown = [self.remapped(b) for b in self.BINDINGS if b.show and b.group is not PANES and b.action not in OPEN_ONLY]
        keys = " ".join(f"{self.get_key_display(b)} {b.description}" for b in shown)
        return BootScreen(self.title, self._target(), "12345 Panes " + keys)

    def on_mount(self) -> None:
        """A hangup (the SSH link dropped, the terminal closed) or a TERM ends
        the cockpit like `q` does, so whoever started it cleans up (the demo
        stops its drill and removes its files); Python's default for SIGHUP
        kills the process on the spot."""
        loop = asyncio.get_running_loop()
        for sig in HANGUPS:
            try:
                loop.add_signal_handler(sig, self._hang_up, sig)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no such signal here
                continue
            self._signal_handlers.append(sig)
        self.screen_change_signal.subscribe(self, self._toasts.screen_changed)
        self.screen_change_signal.subscribe(self, self._typeahead.screen_changed)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded and self._typeahead.swallow(event):
            event.stop()
            return  # typed into a dialog that just closed: not a hotkey (screens/typeahead.py)
        await super().on_event(event)

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information", timeout: float | None = None,
               markup: bool = False) -> None:
        """A toast, unless a modal that asks for a key, a name or a
        confirmation is on top: then it waits (:mod:`screens.toasts`).
        Every toast passes the one sanitiser and the one redactor first.
        Plain text unless a caller asks for markup: toasts carry outside
        text (Kubernetes and API error messages, action summaries)."""
        message, title = redact(clean(message)), redact(clean_line(title))
        if not self._toasts.hold((message, title, severity, timeout, markup)):
            super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    def get_driver_class(self) -> type[Driver]:
        """Textual's Linux driver, but one whose output survives the terminal
        going away (:mod:`screens.terminal`)."""
        driver = super().get_driver_class()
        from textual.drivers.linux_driver import LinuxDriver

        if driver is LinuxDriver:
            from screens.terminal import HangupSafeDriver

            return HangupSafeDriver
        return driver

    def exit(self, result: int | None = None, return_code: int = 0, message: Any = None) -> None:
        self._exiting = True
        super().exit(result, return_code, message)

    def _hang_up(self, sig: signal.Signals) -> None:
        self._stop_logs.set()
        log.info("%s received: stopping", sig.name)  # not on screen: after a hangup there is none
        self.exit(return_code=128 + sig.value)

    async def on_ready(self) -> None:
        """The first frame is on screen: build the cockpit and the desk, then
        start the polls and the log follow."""
        from screens.desk import Desk
        from screens.main import MainScreen

        self.stylesheet.read(self.CSS_FILE)  # parsed when the cockpit screen is first styled
        self._main = MainScreen(self.config, title=self.title, target=self._target(), shorter=self._shorter_titles())
        await self.push_screen(self._main)  # over the boot screen: the bottom screen can't be switched away
        if self._exiting or not self._main.is_attached:
            return  # quit (q, or the terminal hung up) while the screen was being built: build no more
        self._desk = Desk(self, self._main, self.config, clock=self.clock, state_dir=self.state_dir, speed=self.speed)
        self._desk.start()
        from screens.comms_desk import CommsDesk

        self._comms = CommsDesk(self, self._main, self._desk, self.config, clock=self.clock, state_dir=self.state_dir)
        self._comms.start()
        from cockpit.sources import Sources
        from screens.actions_desk import ActionsDesk, default_runner

        # the cluster adapter goes with the real sources (fakes in tests: the actions are shown, not run)
        factory = self._actions_factory or (default_runner if isinstance(self.sources, Sources) else None)
        self._actions = ActionsDesk(self, self._main, self.config, clock=self.clock, store=self._desk.recorder.store, factory=factory,
                                    on_in_effect=self._in_effect, on_recorded=self._desk.refresh_panes)
        self._actions.start()
        for poll in self._polls.values():
            poll.delay = poll.interval
            self._start(poll)
        self.follow_logs()
        self.set_interval(AGE_TICK, self._tick)
        if self.drill is not None:
            self._drill_timer = self.set_interval(DRILL_CHECK, self._check_drill)
            self._countdown_timer = self.set_interval(0.25, self._start_countdown)  # until the child serves
        self.set_timer(PRELOAD_AFTER, self._preload_views)

    @work(thread=True, exit_on_error=False, group="preload", description="Loading the metrics view's modules")
    def _preload_views(self) -> None:
        """Import the metrics view (plotext: ~0.1 s) once the first answers are
        in, so the first `m` does not wait for it."""
        import screens.metrics_view  # noqa: F401

    def on_unmount(self) -> None:
        self._stop_logs.set()
        if self._actions is not None:
            self._actions.stop()
        loop = asyncio.get_running_loop()
        for sig in self._signal_handlers:
            loop.remove_signal_handler(sig)
        self._signal_handlers.clear()

    # -- polling ------------------------------------------------------------

    def _start(self, poll: _Poll) -> None:
        if poll.busy:
            return
        if poll.timer is not None:
            poll.timer.stop()
            poll.timer = None
        poll.busy = True
        poll.start()

    @work(exclusive=True, exit_on_error=False, group="statuspage", description="Polling the Clay status page")
    async def poll_statuspage(self) -> None:
        timeout = self.config.statuspage.timeout
        self.post_message(SourceResult("statuspage", await self._fetch_async("statuspage", lambda s: s.statuspage, timeout)))

    @work(exclusive=True, exit_on_error=False, group="health", description="Polling the health endpoint")
    async def poll_health(self) -> None:
        timeout = self.config.health.timeout
        self.post_message(SourceResult("health", await self._fetch_async("health", lambda s: s.health, timeout)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="metrics", description="Querying Prometheus")
    def poll_metrics(self) -> None:
        self._fetch_blocking("metrics", lambda s: s.metrics.fetch())

    @work(thread=True, exclusive=True, exit_on_error=False, group="pods", description="Listing pods")
    def poll_pods(self) -> None:
        self._fetch_blocking("pods", lambda s: s.kube.list_pods())

    async def _fetch_async(self, name: str, get: Callable[[Any], Any], timeout: float) -> Any:
        from cockpit.signals import ErrorKind, SourceError

        try:
            source = await asyncio.to_thread(get, self.sources)  # the first use imports its client
            return await asyncio.wait_for(source.fetch(), timeout + ASYNC_GRACE)
        except TimeoutError:
            return SourceError(
                name, ErrorKind.TIMEOUT, f"no answer within {timeout + ASYNC_GRACE:.0f}s", "the endpoint or the network path is hanging; check it from this host"
            )
        except Exception as err:  # the contract says never; if it happens, it is a named failure
            return source_bug(name, err)

    def _fetch_blocking(self, name: str, call: Callable[[Any], Any]) -> None:
        try:
            result = call(self.sources)
        except Exception as err:  # the contract says never; if it happens, it is a named failure
            result = source_bug(name, err)
        if not get_current_worker().is_cancelled:
            self.post_message(SourceResult(name, result))

    def on_source_result(self, message: SourceResult) -> None:
        from cockpit.signals import SourceError

        poll = self._polls[message.name]
        now = self.clock()
        reading = getattr(self.signals, message.name).with_result(message.result, now)
        self._set_signals(replace(self.signals, **{message.name: reading}, at=now))
        self.main_screen.show_reading(message.name, reading, now)
        if message.name == "metrics" and self._metrics_view is not None and self._metrics_view.is_current:
            self._metrics_view.show(reading, now)
        poll.busy = False
        error = message.result if isinstance(message.result, SourceError) else None
        if error is None:
            poll.delay = poll.interval
        else:
            poll.delay = max(backoff(poll.delay), min(error.retry_after or 0.0, 300.0))
        # --debug: every poll's outcome (a SourceError's text is the screen's: no secret in it)
        log.debug("%s: %s; next in %.1fs", message.name, "ok" if error is None else f"{error.kind.value}: {error.message}", poll.delay)
        poll.timer = self.set_timer(poll.delay, partial(self._start, poll))

    @property
    def signals(self) -> Signals:
        """Everything the cockpit currently knows (what triage reads)."""
        if self._signals is None:
            from cockpit.signals import Signals  # not before the first frame

            self._signals = Signals(at=self.clock())
        return self._signals

    def _set_signals(self, signals: Signals) -> None:
        self._signals = signals
        self.post_message(SignalsChanged(signals))

    def on_signals_changed(self, message: SignalsChanged) -> None:
        self.desk.signals_changed(message.signals)
        if self._actions is not None:
            self._actions.signals_changed(message.signals, self.desk.triaged)

    def _in_effect(self, values: tuple[InEffect, ...]) -> None:
        """The actions desk read which mitigations are in place: into Signals (triage reads them)."""
        if values != self.signals.in_effect:
            self._set_signals(replace(self.signals, in_effect=values))

    def on_actions_update(self, message: ActionsUpdate) -> None:
        if self._actions is not None:
            self._actions.update(message.value)

    # -- logs ---------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="logs", description="Following pod logs")
    def follow_logs(self) -> None:
        stop = self._stop_logs
        try:
            self.sources.kube.follow_logs(
                lambda lines: self.post_message(LogBatch(tuple(lines))),
                lambda error: self.post_message(LogFault(error)),
                stop,
                LOG_FLUSH,
            )
        except Exception as err:  # the contract says never; if it happens, it is a named failure
            self.post_message(LogFault(source_bug("logs", err)))
        if not stop.is_set():
            self.post_message(LogFollowEnded())

    def on_log_batch(self, message: LogBatch) -> None:
        self._log_pending.extend(message.lines)
        if self._log_flush is None:
            self._log_flush = self.set_timer(LOG_FLUSH, self._flush_logs)

    def _flush_logs(self) -> None:
        self._log_flush = None
        lines = tuple(self._log_pending)
        self._log_pending.clear()
        if not lines:
            return
        now = self.clock()
        logs = self.main_screen.logs
        if logs is not None:
            logs.append(lines, now)
        self._recent_logs.extend(lines)
        self._set_signals(replace(self.signals, recent_logs=tuple(self._recent_logs), logs_stale=self._logs_stale(), at=now))

    def on_log_fault(self, message: LogFault) -> None:
        logs = self.main_screen.logs
        now = self.clock()
        if logs is not None:
            logs.show_error(message.error, now)
        self.desk.log_fault(message.error)
        if self.signals.logs_stale is not self._logs_stale():
            self._set_signals(replace(self.signals, logs_stale=self._logs_stale(), at=now))

    def _logs_stale(self) -> SourceError | None:
        """The log follow's failure while the lines shown are old (for triage to discount them)."""
        logs = self.main_screen.logs
        if logs is None or not logs.is_stale():
            return None
        return logs.reading.error

    # -- the incident ---------------------------------------------------------

    def on_comms_result(self, message: CommsResult) -> None:
        message.deliver()

    def on_incident_loaded(self, message: IncidentLoaded) -> None:
        self.desk.loaded(message)

    def on_checklist_pane_toggle(self, message: ChecklistPane.Toggle) -> None:
        self.desk.toggle(message.key)

    def on_log_follow_ended(self, message: LogFollowEnded) -> None:
        self.set_timer(LOG_RESTART, self.follow_logs)

    # -- timers ---------------------------------------------------------------

    def _tick(self) -> None:
        now = self.clock()
        self.main_screen.tick(now)
        if self._actions is not None:
            self._actions.tick()
        if self._metrics_view is not None and self._metrics_view.is_current:
            self._metrics_view.show(self.signals.metrics, now)

    def _check_drill(self) -> None:
        assert self.drill is not None
        problem = self.drill.poll()
        bar = self.main_screen.context_bar
        if problem and self._drill_timer is not None and bar is not None:
            self._drill_timer.stop()
            bar.set_problem(problem)

    def _start_countdown(self) -> None:
        """Once the drill child serves, the top bar counts down to its fault (when one is still to come)."""
        timer, drill = self._countdown_timer, self.drill
        ready, fault_at = getattr(drill, "ready_line", None), getattr(drill, "fault_at", None)
        if timer is None or drill is None:
            return
        if not callable(ready) or not callable(fault_at) or drill.poll() is not None:
            timer.stop()  # not the demo's drill (nothing to count), or the child died
            return
        if ready() is None:
            return  # not serving yet: ask again
        timer.stop()
        bar = self.main_screen.context_bar
        if bar is not None and (at := fault_at()) is not None:
            bar.count_down_to(at, self.clock)

    # -- actions --------------------------------------------------------------

    def _to_main(self) -> None:
        while self.screen is not self.main_screen and len(self.screen_stack) > 1:
            self.pop_screen()

    def action_focus_pane(self, name: str) -> None:
        self._to_main()
        self.main_screen.show_signals()
        pane = self.main_screen.pane(name)
        if pane is not None:
            pane.focus_body()

    def action_decide(self) -> None:
        """Below 120 columns: swap the signal panes for the decision column (and
        back); at 120 and more both are on screen: the keyboard goes to the triage."""
        self._to_main()
        main = self.main_screen
        if main.is_wide:
            main.triage.focus_body()
        else:
            main.show_decision(not main.deciding)
            if main.deciding:
                main.triage.focus_body()

    def action_checklist(self) -> None:
        self._to_main()
        if self._actions is not None:
            self._actions.show_pane(False)
        self.main_screen.show_decision(True)
        self.main_screen.checklist.focus_body()

    def action_declare(self) -> None:
        self.desk.declare()

    def action_accept(self) -> None:
        self.desk.accept()

    def action_severity(self) -> None:
        self.desk.pick_severity()

    def action_status(self) -> None:
        self.desk.pick_status()

    def action_timeline(self) -> None:
        from screens.timeline_view import TimelineScreen

        if isinstance(self.screen, TimelineScreen):
            self.pop_screen()
            return
        self._to_main()
        self.push_screen(TimelineScreen(self.desk.timeline_path()))

    def action_metrics_view(self) -> None:
        if self._metrics_view is not None and self._metrics_view.is_current:
            self.pop_screen()
            return
        self._to_main()
        if self._metrics_view is None:  # built once and kept (installed): each `m` after the first only shows it
            from screens.metrics_view import (
                MetricsScreen,  # imports plotext (preloaded a few seconds after start: _preload_views)
            )

            self._metrics_view = MetricsScreen(self.signals.metrics, self.clock())
            self.install_screen(self._metrics_view, name="metrics")
        else:
            self._metrics_view.show(self.signals.metrics, self.clock())  # redraws the charts only if the data changed
        self.push_screen("metrics")

    def action_filter_logs(self) -> None:
        self._to_main()
        logs = self.main_screen.logs
        if logs is None:
            return
        view = logs.view
        view.focus()
        before = view.filter_text
        from screens.log_filter import LogFilterScreen

        def done(result: str | None) -> None:
            view.set_filter(before if result is None else result)

        self.push_screen(LogFilterScreen(before, view.set_filter), done)

    def action_pause_logs(self) -> None:
        logs = self.main_screen.logs
        if logs is not None:
            logs.view.set_paused(not logs.view.paused)

    def action_refresh(self) -> None:
        for poll in self._polls.values():
            poll.delay = poll.interval
            self._start(poll)

    def action_help(self) -> None:
        from screens.help import HelpScreen

        self.push_screen(HelpScreen(self.binding_sections(), self.get_key_display, self.state_dir))

    def action_actions_pane(self) -> None:
        self._to_main()
        if self._actions is not None:
            self._actions.focus()

    def action_act(self, name: str) -> None:
        if self._actions is not None:
            self._actions.open(name)

    def action_act_deployment(self) -> None:
        if self._actions is not None:
            self._actions.switch_deployment()

    def action_act_retry(self) -> None:
        if self._actions is not None:
            self._actions.retry()

    def action_compose(self, channel: str) -> None:
        from cockpit.comms.core import Channel

        if self._comms is not None:
            self._comms.compose(Channel(channel))

    def action_postmortem(self) -> None:
        if self._comms is not None:
            self._comms.postmortem()

    async def action_quit(self) -> None:
        self._stop_logs.set()
        if self._actions is not None:
            self._actions.stop()
        self.exit(0)

    # -- one binding list for footer, help and palette -----------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Until the cockpit is built (a moment after the first frame) only
        quitting works: every other action needs its panes. The incident's
        keys show in the footer only when they can act (declare without an
        open incident; severity with one; accept while its severity is not
        accepted yet — a lower suggestion is taken with severity)."""
        if self._main is None or self._desk is None:
            return action == "quit"
        incident = self._desk.recorder.open
        if action == "declare":
            return incident is None
        if action == "accept":
            return incident is not None and not incident.confirmed
        if action == "severity":
            return incident is not None
        if action in ("status", "compose", "postmortem"):
            return self._desk.recorder.incident is not None
        if action == "checklist":  # already there: room in the footer for the step keys
            return self.focused is None or self.focused.id != "checklist-view"
        return True

    def binding_sections(self) -> list[Section]:
        from screens.choose import ChoiceScreen
        from screens.compose import ComposeScreen
        from screens.confirm import ConfirmScreen
        from screens.secret_input import KeyInputScreen
        from screens.preview import PreviewScreen
        from widgets.checklist import ChecklistView
        from widgets.logs import LogView

        own: dict[str, list[Binding]] = {title: [] for title, _ in SECTIONS} | {"Actions": []}
        for b in self.BINDINGS:
            own[next((title for title, prefixes in SECTIONS if (b.id or "").startswith(prefixes)), "Actions")].append(b)
        sections: list[Section] = [
            *own.items(),
            ("In the checklist", ChecklistView.BINDINGS),
            ("Confirming an action", ConfirmScreen.BINDINGS),
            ("Entering the new Clay API key", KeyInputScreen.BINDINGS),
            ("Choosing a severity or status", ChoiceScreen.BINDINGS),
            ("In the update editor", ComposeScreen.BINDINGS),
            ("In the message preview", PreviewScreen.BINDINGS),
            ("In the pod logs", LogView.BINDINGS),
            ("Everywhere", [Binding(self.COMMAND_PALETTE_BINDING, "command_palette", "Commands", id="app.commands", tooltip="Search panes and actions by name")]),
        ]
        return [(title, [self.remapped(b) for b in bindings]) for title, bindings in sections]

    def remapped(self, binding: Binding) -> Binding:
        """``binding`` with the [keymap]'s key(s), as the help, palette and README show it."""
        if not self.keymap or binding.id == "app.commands":  # (that one is built with the remapped key)
            return binding
        from screens.keymap import remapped

        return remapped(binding, self.keymap, self.get_key_display)

    def palette_commands(self) -> Sequence[tuple[str, str, Callable[[], object]]]:
        shown = [self.remapped(b) for b in self.BINDINGS]
        return [(b.tooltip, f"key {self.get_key_display(b)}", partial(self.run_action, b.action)) for b in shown]


def make_app(
    config: Config,
    sources: Any,
    *,
    clock: Callable[[], float] = time.time,
    title: str | None = None,
    drill: DrillInfo | None = None,
    state_dir: Path | None = None,
    speed: float = 1.0,
    actions: Any = None,
) -> CockpitApp:
    """Build the cockpit for a config and its sources (real or fakes in tests).

    ``state_dir``: where incidents are kept (default: the XDG state dir; a
    drill's own folder under it). ``speed``: a drill's clock speed (triage's
    stability window is divided by it). ``actions``: builds the
    :class:`~cockpit.actions.flow.ActionRunner` from (config, incident store, clock)
    (default: :func:`screens.actions_desk.default_runner`)."""
    return CockpitApp(config, sources, clock=clock, title=title, drill=drill, state_dir=state_dir, speed=speed, actions=actions)
