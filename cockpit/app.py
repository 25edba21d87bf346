"""The Textual app: wiring only — sources → readings → panes, keys → actions.

The polls and the log follow are :mod:`clay_cockpit.live`'s (no Textual there):
the app lends it Textual's timers, runs its work in workers (a thread per
blocking client: Prometheus, Kubernetes, the log follow; a task per async
one: status page, health) and turns what comes back into messages —
:class:`SourceResult`, :class:`LogBatch`, :class:`LogFault`,
:class:`LogFollowEnded` (declared in :mod:`clay_cockpit.screens.app_messages`) — whose handlers update ``app.signals`` (a
:class:`~clay_cockpit.signals.Reading` per source, what triage reads), the panes,
and post :class:`SignalsChanged`. The keys and their actions are
:mod:`clay_cockpit.screens.app_actions`' (the :class:`~clay_cockpit.screens.app_actions.AppActions` mixin).

Every age on screen comes from the injected ``clock``, so snapshots are
deterministic. The first access to a ``Sources`` attribute imports a heavy
client, so it only ever happens inside a worker, off the UI thread. Triage,
the incident and its timeline live in :class:`clay_cockpit.screens.desk.Desk` (built
after the first frame): every ``SignalsChanged``, the log faults, the
decision keys and the desk's own worker results are routed to it.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.app import App
from textual.binding import BindingType
from textual.worker import get_current_worker

from clay_cockpit.config import Config, env_state_dir
from clay_cockpit.screens.app_actions import AppActions, cockpit_commands
from clay_cockpit.screens.app_keys import APP_BINDINGS
from clay_cockpit.screens.app_messages import (
    DrillInfo,
    InfraWatched,
    LogBatch,
    LogFault,
    LogFollowEnded,
    SignalsChanged,
    SourceResult,
)
from clay_cockpit.screens.app_terminal import AppTerminal
from clay_cockpit.screens.boot import TALL_FROM, WIDE_FROM
from clay_cockpit.screens.toasts import ToastHold
from clay_cockpit.screens.typeahead import TypeAhead

# Before the first frame this module loads only Textual's core, the config,
# the keys and the boot screen; the snapshot types, the panes, the sources and
# the polls (clay_cockpit.live) load in on_ready (tests/test_boundaries.py holds it to that).
if TYPE_CHECKING:
    from clay_cockpit.live import InfraFeed, LogFollow, Poll, Polls
    from clay_cockpit.screens.actions_desk import ActionsDesk
    from clay_cockpit.screens.actions_workers import ActionsUpdate
    from clay_cockpit.screens.comms_desk import CommsDesk, CommsResult
    from clay_cockpit.screens.desk import Desk, IncidentLoaded
    from clay_cockpit.screens.main import MainScreen
    from clay_cockpit.screens.paging_desk import PagingDesk
    from clay_cockpit.screens.shared_desk import SharedDesk
    from clay_cockpit.signals import InEffect, LogLine, Signals
    from clay_cockpit.widgets.checklist import ChecklistPane

log = logging.getLogger(__name__)
AGE_TICK = 5.0  # seconds between refreshes of the "12s ago" ages
PRELOAD_AFTER = 3.0  # seconds after start: import the views' heavy modules in a thread


def _slug(name: str) -> str:
    """A scenario name as one safe path component."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "drill"


class CockpitApp(AppTerminal, AppActions, App[int]):
    # the layout and look of the cockpit screen; read in on_ready, after the
    # first frame, which needs none of it (screens/boot.py draws it alone)
    CSS_FILE = Path(__file__).with_name("app.tcss")
    TITLE = "clay-cockpit"
    COMMANDS = App.COMMANDS | {cockpit_commands}
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (WIDE_FROM, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (TALL_FROM, "-tall")]
    BINDINGS: ClassVar[list[BindingType]] = list(APP_BINDINGS)

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
        self.read_keymap(config)
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
        # incidents of a drill stay apart from real ones (and from other scenarios'), an environment's from the others'
        self.state_dir = state_dir or (env_state_dir(config) / "drills" / _slug(drill.scenario) if drill else env_state_dir(config))
        if title:
            self.title = title
        self._signals: Signals | None = None  # made on first use (see the signals property)
        self._stop_logs = threading.Event()  # set on quit or hangup: the log follow returns
        self._polls: Polls  # these two are built in on_ready (clay_cockpit.live: after the first frame)
        self._logs: LogFollow
        self._infra: InfraFeed
        self._main: MainScreen | None = None  # built right after the first frame (see on_ready)
        self._desk: Desk | None = None  # likewise
        self._metrics_view: Any = None
        self._comms: CommsDesk | None = None  # built with the desk (see on_ready)
        self._actions: ActionsDesk | None = None  # built with the desk (see on_ready)
        self._paging: PagingDesk | None = None  # PagerDuty and Grafana (issue 16): likewise
        self._shared: SharedDesk | None = None  # the shared incident (issue 17): likewise
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
        """The cockpit screen: built in on_ready, before any poll starts or any action is allowed (check_action)."""
        assert self._main is not None, "the cockpit screen is built in on_ready"
        return self._main

    @property
    def desk(self) -> Desk:
        """Triage, the incident and its timeline (see :mod:`clay_cockpit.screens.desk`)."""
        assert self._desk is not None, "the desk is built in on_ready"
        return self._desk

    def exit(self, result: int | None = None, return_code: int = 0, message: Any = None) -> None:
        self._exiting = True
        super().exit(result, return_code, message)

    def _stop(self) -> None:
        """Quitting: the log follow returns, the actions desk stops its work (also `q`'s)."""
        self._stop_logs.set()
        for desk in (self._actions, self._shared):
            if desk is not None:
                desk.stop()

    async def on_ready(self) -> None:
        """The first frame is on screen: build the cockpit and the desk, then
        start the polls and the log follow."""
        from clay_cockpit.screens.desk import Desk
        from clay_cockpit.screens.main import MainScreen

        self.stylesheet.read(self.CSS_FILE)  # parsed when the cockpit screen is first styled
        self._main = MainScreen(self.config, title=self.title, target=self._target(), shorter=self._shorter_titles())
        await self.push_screen(self._main)  # over the boot screen: the bottom screen can't be switched away
        if self._exiting or not self._main.is_attached:
            return  # quit (q, or the terminal hung up) while the screen was being built: build no more
        from clay_cockpit.live import InfraFeed, LogFollow, Polls
        from clay_cockpit.widgets.logs import prepare as prepare_lines

        self._polls = Polls(self.config, self.sources, set_timer=self.set_timer, run=self._run_poll, stop=self._stop_logs)
        self._logs = LogFollow(
            self.sources,
            buffer=self.config.kube.log_buffer,
            stop=self._stop_logs,
            clock=self.clock,
            set_timer=self.set_timer,
            start=self.follow_logs,
            on_flush=self._show_logs,
            prepare=prepare_lines,
        )
        deployment = self.config.kube.deployments[0] if self.config.kube.deployments else ""
        self._infra = InfraFeed(
            self.sources, deployment=deployment, stop=self._stop_logs, set_timer=self.set_timer, start=self.follow_events
        )
        self._desk = Desk(self, self._main, self.config, clock=self.clock, state_dir=self.state_dir, speed=self.speed)
        self._desk.start()
        from clay_cockpit.screens.comms_desk import CommsDesk

        self._comms = CommsDesk(self, self._main, self._desk, self.config, clock=self.clock, state_dir=self.state_dir)
        self._comms.start()
        from clay_cockpit.screens.actions_desk import ActionsDesk, default_runner
        from clay_cockpit.screens.paging_desk import PagingDesk
        from clay_cockpit.screens.shared_desk import SharedDesk
        from clay_cockpit.sources import Sources

        # the cluster adapter goes with the real sources (fakes in tests: the actions are shown, not run)
        factory = self._actions_factory or (default_runner if isinstance(self.sources, Sources) else None)
        self._actions = ActionsDesk(
            self,
            self._main,
            self.config,
            clock=self.clock,
            store=self._desk.recorder.store,
            factory=factory,
            on_in_effect=self._in_effect,
            on_recorded=self._desk.refresh_panes,
        )
        self._actions.start()
        self._paging = self._desk.paging = PagingDesk(self, self._desk, sources=self.sources, polls=self._polls)
        self._paging.start()
        real = self.sources if isinstance(self.sources, Sources) else None  # (fakes in tests: nothing to share through)
        self._shared = self._desk.shared = SharedDesk(self, self._desk, sources=real, read_only=self.config.kube.read_only)
        self._shared.start()
        self._polls.start_all()
        self.follow_logs()
        if self._infra.enabled:
            self.follow_events()
        self.set_interval(AGE_TICK, self._tick)
        if self.drill is not None:  # its death, or a countdown to its fault, in the top bar
            from clay_cockpit.screens.drill_watch import DrillWatch

            self._drill_watch = DrillWatch(self, self.drill, self._main, self.clock)
            self._drill_watch.start()
        self.set_timer(PRELOAD_AFTER, self._preload_views)

    @work(thread=True, exit_on_error=False, group="preload", description="Loading the metrics view's modules")
    def _preload_views(self) -> None:
        """Import the metrics view (plotext: ~0.1 s) once the first answers are in: the first `m` does not wait for it."""
        import clay_cockpit.screens.metrics_view  # noqa: F401

    def on_unmount(self) -> None:
        self._stop()
        from clay_cockpit.screens.hangup import unroute_hangups

        unroute_hangups(self._signal_handlers)

    # -- polling ------------------------------------------------------------

    def _run_poll(self, poll: Poll) -> None:
        """Start ``poll``'s worker, one at a time per source (its group): a thread for a blocking client, a task for an async one."""
        run = self._poll_blocking if poll.blocking else self._poll_async
        self.run_worker(
            partial(run, poll),
            name=f"poll_{poll.name}",
            group=poll.name,
            description=poll.description,
            exclusive=True,
            exit_on_error=False,
            thread=poll.blocking,
        )

    def _poll_blocking(self, poll: Poll) -> None:
        result = self._polls.fetch(poll)
        if not get_current_worker().is_cancelled:
            self.post_message(SourceResult(poll.name, result))

    async def _poll_async(self, poll: Poll) -> None:
        self.post_message(SourceResult(poll.name, await self._polls.fetch_async(poll)))

    def on_source_result(self, message: SourceResult) -> None:
        now = self.clock()
        result = self._infra.polled(message.result) if message.name == "infra" else message.result
        reading = getattr(self.signals, message.name).with_result(result, now)
        self._set_signals(replace(self.signals, **{message.name: reading}, at=now))
        self.main_screen.show_reading(message.name, reading, now)
        if message.name == "pagerduty" and self._paging is not None:
            self._paging.polled(reading)
        if message.name == "metrics" and self._metrics_view is not None and self._metrics_view.is_current:
            self._metrics_view.show(reading, now)
        self._polls.answered(message.name, message.result)  # re-arms it

    @property
    def signals(self) -> Signals:
        """Everything the cockpit currently knows (what triage reads)."""
        if self._signals is None:
            from clay_cockpit.signals import Signals  # not before the first frame

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
        self._logs.follow(
            lambda lines: self.post_message(LogBatch(lines)),
            lambda error: self.post_message(LogFault(error)),
            lambda: self.post_message(LogFollowEnded()),
        )

    def on_log_batch(self, message: LogBatch) -> None:
        self._logs.arrived(message.lines)  # flushed to _show_logs within LOG_FLUSH

    def _show_logs(self, lines: tuple[LogLine, ...], now: float) -> None:
        logs = self.main_screen.logs
        if logs is not None:
            logs.append(lines, now)
        self._set_signals(replace(self.signals, recent_logs=self._logs.recent, logs_stale=self._logs.stale(), at=now))

    def on_log_fault(self, message: LogFault) -> None:
        logs = self.main_screen.logs
        now = self.clock()
        self._logs.failed(message.error, now)
        if logs is not None:
            logs.show_error(message.error, now)
        self.desk.log_fault(message.error)
        if self.signals.logs_stale is not (stale := self._logs.stale()):
            self._set_signals(replace(self.signals, logs_stale=stale, at=now))

    def on_log_follow_ended(self, message: LogFollowEnded) -> None:
        self._logs.ended()  # follows again in LOG_RESTART

    # -- Kubernetes events (issue 14) -------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="events", description="Watching Kubernetes events")
    def follow_events(self) -> None:
        self._infra.follow(lambda what, value: self.post_message(InfraWatched(what, value)))

    def on_infra_watched(self, message: InfraWatched) -> None:
        now = self.clock()
        reading = self._infra.arrived(message.what, message.value, self.signals.infra, now)
        if reading is not None:
            self._set_signals(replace(self.signals, infra=reading, at=now))
            self.main_screen.show_reading("infra", reading, now)

    # -- the incident ---------------------------------------------------------

    def on_comms_result(self, message: CommsResult) -> None:
        message.deliver()

    def on_incident_loaded(self, message: IncidentLoaded) -> None:
        self.desk.loaded(message)

    def on_checklist_pane_toggle(self, message: ChecklistPane.Toggle) -> None:
        self.desk.toggle(message.key)

    # -- timers ---------------------------------------------------------------

    def _tick(self) -> None:
        now = self.clock()
        self.main_screen.tick(now)
        if self._actions is not None:
            self._actions.tick()
        if self._metrics_view is not None and self._metrics_view.is_current:
            self._metrics_view.show(self.signals.metrics, now)


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
    """Build the cockpit for a config and its sources (real or fakes in tests). ``state_dir``: where incidents are kept
    (default: the XDG state dir; a drill's own folder under it); ``speed``: a drill's clock speed (triage's window is
    divided by it); ``actions``: builds the ActionRunner (default: :func:`clay_cockpit.screens.actions_desk.default_runner`)."""
    return CockpitApp(config, sources, clock=clock, title=title, drill=drill, state_dir=state_dir, speed=speed, actions=actions)
