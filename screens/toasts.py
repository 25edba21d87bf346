"""Toasts held while a modal asks for a key, a name or a confirmation.

A screen with ``HOLDS_TOASTS = True`` (the confirm modal, the key and
replica inputs) must never have a toast over its field or buttons: while
one is on top, new toasts wait, and the ones still showing when it came up
are taken down and wait too; when it closes they show again (the newest
:data:`HELD` of them), in order, for what was left of their time: a toast
whose time ran out while the modal was up (the "Incident declared" seen
before it) is not brought back over the pane the responder now reads.

:class:`ToastHold` keeps that state for the app; ``CockpitApp.notify`` asks
it first, and the app's screen-change signal tells it when a screen comes
on top.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from textual.app import App
    from textual.notifications import SeverityLevel
    from textual.screen import Screen

HELD = 8  # toasts kept while a modal holds them (the newest)
MIN_LEFT = 1.0  # seconds a held toast must have left to be shown again

Toast = tuple[str, str, "SeverityLevel", "float | None", bool]  # message, title, severity, timeout, markup


def holds(screen: object) -> bool:
    return bool(getattr(screen, "HOLDS_TOASTS", False))


class ToastHold:
    """See the module docstring. ``show`` is the app's own ``notify`` (it calls back here first)."""

    def __init__(self, app: App[int], show: Callable[..., None], clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self._show = show
        self._clock = clock
        self.held: deque[tuple[float, Toast]] = deque(maxlen=HELD)  # (until, toast)
        self._shown: deque[tuple[float, Toast]] = deque(maxlen=HELD)  # (until, toast) of those on screen now

    def hold(self, toast: Toast) -> bool:
        """True: a holding modal is on top and the toast waits; else it is noted as shown (the caller shows it)."""
        until = self._clock() + (self.app.NOTIFICATION_TIMEOUT if toast[3] is None else toast[3])
        if self.app.screen_stack and holds(self.app.screen):
            self.held.append((until, toast))
            return True
        self._shown.append((until, toast))
        return False

    def screen_changed(self, screen: Screen[Any]) -> None:
        """A holding modal came on top: the toasts still showing wait with the
        held ones; any other screen: the held ones show now."""
        if holds(screen):
            now = self._clock()
            live = [(until, toast) for until, toast in self._shown if until > now]
            self._shown.clear()
            if live:
                self.app.clear_notifications()
                self.held.extendleft(reversed(live))
            return
        now = self._clock()
        while self.held:
            until, (message, title, severity, _timeout, markup) = self.held.popleft()
            if until - now >= MIN_LEFT:
                self._show(message, title=title, severity=severity, timeout=until - now, markup=markup)
