"""The drill child, watched from the cockpit's top bar.

The demo runs the simulator as a child process and tells the cockpit about it
(:class:`clay_cockpit.app.DrillInfo`). Two timers on the app look at it, each
call non-blocking: every ``DRILL_CHECK`` seconds whether it died (the top bar
says so, and the watch stops); and, until the child serves, whether it says
when its fault starts — then the top bar counts down to it. A drill that is
not the demo's (no ``ready_line``/``fault_at``) has nothing to count.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from textual.app import App
    from textual.timer import Timer

    from clay_cockpit.screens.app_messages import DrillInfo
    from clay_cockpit.screens.main import MainScreen

DRILL_CHECK = 2.0  # seconds between checks that the drill child is alive
COUNTDOWN_CHECK = 0.25  # seconds between asks whether the child serves yet


class DrillWatch:
    """The two timers; :meth:`start` arms them (once the cockpit screen is up)."""

    def __init__(self, app: App[Any], drill: DrillInfo, main: MainScreen, clock: Callable[[], float]) -> None:
        self.app = app
        self.drill = drill
        self.main = main
        self.clock = clock
        self._alive: Timer | None = None
        self._countdown: Timer | None = None  # until the drill child says when its fault starts

    def start(self) -> None:
        self._alive = self.app.set_interval(DRILL_CHECK, self._check)
        self._countdown = self.app.set_interval(COUNTDOWN_CHECK, self._start_countdown)

    def _check(self) -> None:
        problem = self.drill.poll()
        bar = self.main.context_bar
        if problem and self._alive is not None and bar is not None:
            self._alive.stop()
            bar.set_problem(problem)

    def _start_countdown(self) -> None:
        """Once the drill child serves, the top bar counts down to its fault (when one is still to come)."""
        timer, drill = self._countdown, self.drill
        ready, fault_at = getattr(drill, "ready_line", None), getattr(drill, "fault_at", None)
        if timer is None:
            return
        if not callable(ready) or not callable(fault_at) or drill.poll() is not None:
            timer.stop()  # not the demo's drill (nothing to count), or the child died
            return
        if ready() is None:
            return  # not serving yet: ask again
        timer.stop()
        bar = self.main.context_bar
        if bar is not None and (at := fault_at()) is not None:
            bar.count_down_to(at, self.clock)
