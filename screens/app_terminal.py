"""How the cockpit behaves towards its terminal: toasts held while a modal
asks for a key (and passed through the one sanitiser and redactor), typing
just after a modal closed swallowed, SIGHUP/SIGTERM quitting as `q` does, and
a driver whose output survives the terminal going away.

:class:`AppTerminal` is a mixin of :class:`clay_cockpit.app.CockpitApp`,
first in its bases (its ``notify`` wraps the App's). It loads with the app,
before the first frame: the standard library and this package's redactor and
sanitiser only; :mod:`clay_cockpit.screens.hangup` is imported when used.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from clay_cockpit.redact import redact
from clay_cockpit.sanitise import clean, clean_line

if TYPE_CHECKING:
    from textual.app import App
    from textual.driver import Driver
    from textual.notifications import SeverityLevel

    from clay_cockpit.screens.toasts import ToastHold
    from clay_cockpit.screens.typeahead import TypeAhead

    _AppBase = App[int]
else:
    _AppBase = object

log = logging.getLogger("clay_cockpit.app")

WORKER_THREADS = 24  # the thread workers' pool (see on_mount)
REPAINT_AFTER = 0.3  # seconds after a toast's time: the whole screen is drawn again once none is left


class AppTerminal(_AppBase):
    """The app's terminal behaviours (a mixin of :class:`clay_cockpit.app.CockpitApp`, first in its bases)."""

    if TYPE_CHECKING:  # the app's (cockpit/app.py)
        _toasts: ToastHold
        _typeahead: TypeAhead
        _signal_handlers: list[signal.Signals]
        _stop_logs: threading.Event

    def on_mount(self) -> None:
        from clay_cockpit.screens.hangup import route_hangups

        # Textual's thread workers run in asyncio's default executor: min(32, cores + 4) threads, 5 on a
        # one-vCPU bastion. The log follow and the events' watch hold one each for the whole session, the
        # polls and the desks' jobs share the rest: a declaration must not queue behind them
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=WORKER_THREADS, thread_name_prefix="cockpit"))

        self._signal_handlers = route_hangups(self._hang_up)  # SIGHUP, SIGTERM: quit like q (screens/hangup.py)
        self.screen_change_signal.subscribe(self, self._toasts.screen_changed)
        self.screen_change_signal.subscribe(self, self._typeahead.screen_changed)

    def notify(
        self, message: str, *, title: str = "", severity: SeverityLevel = "information", timeout: float | None = None, markup: bool = False
    ) -> None:
        """A toast, unless a modal that asks for a key, a name or a
        confirmation is on top: then it waits (:mod:`clay_cockpit.screens.toasts`).
        Every toast passes the one sanitiser and the one redactor first.
        Plain text unless a caller asks for markup: toasts carry outside
        text (Kubernetes and API error messages, action summaries)."""
        message, title = redact(clean(message)), redact(clean_line(title))
        if not self._toasts.hold((message, title, severity, timeout, markup)):
            super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)
            self.set_timer((self.NOTIFICATION_TIMEOUT if timeout is None else timeout) + REPAINT_AFTER, self._repaint_after_toast)

    def _repaint_after_toast(self) -> None:
        """The last toast has gone: draw the whole screen once more. A CI run
        left a toast's text on the terminal for two minutes after it expired
        (the rows under it that did not change later were never redrawn;
        tests/e2e/test_bad_deploy), so what the panes say under a toast is
        never left hidden by one that is no longer there. One full frame per
        toast shown, only once none is left."""
        if not self._notifications and self.screen_stack:
            self.screen.refresh()

    def get_driver_class(self) -> type[Driver]:
        from clay_cockpit.screens.hangup import hangup_safe

        return hangup_safe(super().get_driver_class())  # output that survives the terminal going away

    def _hang_up(self, sig: signal.Signals) -> None:
        self._stop_logs.set()
        log.info("%s received: stopping", sig.name)  # not on screen: after a hangup there is none
        self.exit(return_code=128 + sig.value)
