"""The terminal the screens are drawn on: Textual's Linux driver, made to
survive a terminal that went away.

When the terminal goes (the window closed, the SSH link dropped), writing to
it fails with EIO. Textual's writer thread has no handler for that: it dies,
its bounded queue (30 writes) fills up and the next write, often the
shutdown's own "restore the terminal" sequences, blocks the event loop for
ever. The cockpit then never stops, nor does its drill child, and SIGTERM
cannot reach it (tests/e2e: test_terminal_closed_while_the_cockpit_starts).
Textual issue #6692 is the same dead writer thread reached another way.

Here the writer thread writes through :class:`_Output`: after the first
failed write it drops output instead of raising, so the thread keeps
draining its queue and the hangup handler (CockpitApp._hang_up) can end the
cockpit the way ``q`` does.
"""

from __future__ import annotations

import logging
from typing import IO, Any

from textual.drivers.linux_driver import LinuxDriver

log = logging.getLogger(__name__)


class _Output:
    """A text file as the writer thread uses it (write, flush, fileno)."""

    def __init__(self, file: IO[str]) -> None:
        self._file = file
        self.lost = False  # the terminal is gone: output is dropped from now on

    def _gone(self, err: OSError) -> None:
        if not self.lost:
            self.lost = True
            log.info("the terminal is gone (%s): dropping output until the cockpit exits", err.strerror or err)

    def write(self, text: str) -> int:
        if not self.lost:
            try:
                return self._file.write(text)
            except OSError as err:
                self._gone(err)
        return len(text)

    def flush(self) -> None:
        if not self.lost:
            try:
                self._file.flush()
            except OSError as err:
                self._gone(err)

    def fileno(self) -> int:
        return self._file.fileno()

    def isatty(self) -> bool:
        return self._file.isatty()


class HangupSafeDriver(LinuxDriver):
    """LinuxDriver whose output survives the terminal going away."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self._file is not None:  # (sys.__stderr__: None only in a process without a stderr, where nothing is drawn)
            # the writer thread is made with it in start_application_mode; LinuxDriver's attribute is typed as
            # sys.__stderr__ is, and the writer thread only calls write, flush and fileno on it
            self._file = _Output(self._file)  # type: ignore[assignment]  # a stand-in with the methods the writer thread uses
