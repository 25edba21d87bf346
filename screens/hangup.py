"""The terminal going away: a hangup ends the cockpit the way `q` does.

When the SSH link drops or the terminal closes, the process gets a SIGHUP;
Python's default for it kills the process on the spot, so whoever started
the cockpit (the demo: its drill child, its files) would never clean up. A
TERM is the same. While the app runs, both go to its handler on the event
loop (``CockpitApp._hang_up``, which quits like `q`); once the app is gone
the process's own handling is back. Until it has quit, the screen's output
must survive the terminal being gone: :func:`hangup_safe` picks the driver
that does (:mod:`clay_cockpit.screens.terminal`).

Standard library only at import: the app routes the signals on mount,
before the first frame.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.driver import Driver

HANGUPS = tuple(getattr(signal, name) for name in ("SIGHUP", "SIGTERM") if hasattr(signal, name))


def route_hangups(handler: Callable[[signal.Signals], object]) -> list[signal.Signals]:
    """Send each of ``HANGUPS`` to ``handler`` on the running loop; the
    signals routed (not those the loop cannot take here: not the main
    thread, or no such signal on this system)."""
    loop = asyncio.get_running_loop()
    routed = []
    for sig in HANGUPS:
        try:
            loop.add_signal_handler(sig, handler, sig)
        except (NotImplementedError, RuntimeError, ValueError):
            continue
        routed.append(sig)
    return routed


def unroute_hangups(routed: list[signal.Signals]) -> None:
    """Give the signals ``route_hangups`` routed back to the process (and empty ``routed``)."""
    loop = asyncio.get_running_loop()
    for sig in routed:
        loop.remove_signal_handler(sig)
    routed.clear()


def hangup_safe(driver: type[Driver]) -> type[Driver]:
    """``driver`` (the one Textual picked), but Textual's Linux driver as one
    whose output survives the terminal going away."""
    from textual.drivers.linux_driver import LinuxDriver

    if driver is LinuxDriver:
        from clay_cockpit.screens.terminal import HangupSafeDriver

        return HangupSafeDriver
    return driver
