"""Typing that outlives a modal is swallowed, not taken as hotkeys.

A responder typing the deployment name into the confirm modal (or a key, or
a replica count) keeps typing for a moment after the modal closed under
their fingers (it was confirmed, cancelled or replaced). Those keys would
reach the cockpit's one-letter bindings: the ``a`` of "clay-sync" accepted
the incident's severity. So when a modal closes while the responder is
typing into it — its last two keys were characters, the last less than
:data:`QUIET` seconds before, each within :data:`QUIET` of the other —
typing keys (characters, Enter, Backspace, space) are
dropped for :data:`QUIET` seconds, on any screen but another modal; each
dropped key extends that by :data:`BURST`, so the rest of the word goes too,
but never beyond :data:`LONGEST` after the close. A modal closed with
Escape or Enter, by one key alone (a picker's ``2``, a confirm's ``y``), or
after a pause, drops nothing: the next key is meant.

:class:`TypeAhead` keeps that state for the app: the app's screen-change
signal tells it when the top screen changes; ``CockpitApp.on_event`` asks
:meth:`TypeAhead.swallow` about each key before anything else sees it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual.screen import ModalScreen

if TYPE_CHECKING:
    from textual import events
    from textual.app import App
    from textual.screen import Screen

_log = logging.getLogger(__name__)

QUIET = 0.6  # seconds after a modal closes during which typing is dropped
BURST = 0.35  # each dropped key keeps dropping for this long after it
LONGEST = 2.0  # never drop keys longer than this after the close
TYPING_KEYS = frozenset({"enter", "backspace", "space"})


class TypeAhead:
    """See the module docstring."""

    def __init__(self, app: App[int], clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self._clock = clock
        self._top: Screen[Any] | None = None
        self._closed_at: float | None = None  # when a modal last left the stack while typed into
        self._typed_at: float | None = None  # when a modal last got a character, if its last key was one
        self._typing = False  # ...and the one before it too, moments earlier: a word is being typed
        self._until = 0.0  # drop typing until then
        self.dropped = 0  # keys dropped so far (for tests and the debug log)

    def screen_changed(self, screen: Screen[Any]) -> None:
        """The top screen changed: a modal that is no longer on the stack just closed."""
        old, self._top = self._top, screen
        if isinstance(old, ModalScreen) and old not in self.app.screen_stack:
            now = self._clock()
            if self._typing and self._typed_at is not None and now - self._typed_at < QUIET:
                self._closed_at = now
                self._until = now + QUIET
            self._typed_at, self._typing = None, False

    def swallow(self, event: events.Key) -> bool:
        """True: drop this key (typing just after a modal closed under it)."""
        if isinstance(self.app.screen, ModalScreen):
            if event.is_printable:
                now = self._clock()
                # typing: a character after another one moments ago (one key alone, as a picker's 2 or a confirm's y, is a choice)
                self._typing = self._typed_at is not None and now - self._typed_at < QUIET
                self._typed_at = now
            else:
                self._typed_at, self._typing = None, False
            return False
        if self._closed_at is None or not (event.is_printable or event.key in TYPING_KEYS):
            return False
        now = self._clock()
        if now > self._until or now > self._closed_at + LONGEST:
            return False
        self._until = min(self._closed_at + LONGEST, max(self._until, now + BURST))
        self.dropped += 1
        _log.debug("key %r dropped: typed %.2f s after a dialog closed", event.key, now - self._closed_at)
        return True
