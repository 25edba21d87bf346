"""The drill's clock: epoch seconds, running ``speed`` times faster than the
wall clock, or frozen at an instant and moved only by :meth:`advance`.

A frozen clock plus a seeded random number generator makes a drill
byte-for-byte repeatable (snapshot tests rely on it).
"""

from __future__ import annotations

import time
from collections.abc import Callable


class ClockError(Exception):
    """An operation the clock's mode does not allow (advance on a running clock)."""


class SimClock:
    def __init__(self, *, speed: float = 1.0, freeze_at: float | None = None, wall: Callable[[], float] = time.time) -> None:
        if speed <= 0:
            raise ValueError("speed must be > 0")
        self.speed = speed
        self._wall = wall
        self._frozen = freeze_at is not None
        # running: now = base + (wall() - anchor) * speed; frozen: now = base
        self._base = float(freeze_at) if freeze_at is not None else wall()
        self._anchor = wall()

    @property
    def frozen(self) -> bool:
        return self._frozen

    def now(self) -> float:
        if self._frozen:
            return self._base
        return self._base + (self._wall() - self._anchor) * self.speed

    def __call__(self) -> float:
        return self.now()

    def advance(self, seconds: float) -> float:
        """Move a frozen clock forward; returns the new time."""
        if not self._frozen:
            raise ClockError("the clock is running; freeze it before advancing it")
        if seconds < 0:
            raise ClockError("the clock only moves forward")
        self._base += seconds
        return self._base

    def freeze(self, frozen: bool) -> None:
        """Freeze at the current instant, or let a frozen clock run from where it stands."""
        if frozen == self._frozen:
            return
        self._base = self.now()
        self._anchor = self._wall()
        self._frozen = frozen
