"""A program on a pseudo-terminal, for the benches: start it at a size, send
keys, wait for text to appear in what it writes, count the bytes, stop it
the way a user would (``q``), and only then return.

"Text appears" means: the program's output since a given moment, with escape
sequences removed, contains it. Cursor moves are removed too, so text the
program writes in one run of a row stays contiguous.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import select
import signal
import struct
import termios
import time
from collections.abc import Mapping, Sequence

ANSI = re.compile(rb"\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|P[^\x1b]*\x1b\\|[()][A-Z0-9]|[=>78DEHMNOZc])")
MAX_KEPT = 1 << 20  # bytes of output kept for matching (older output is dropped)


class Timeout(Exception):
    pass


class PtyProgram:
    def __init__(self, cmd: Sequence[str], cols: int = 80, rows: int = 24, env: Mapping[str, str] | None = None) -> None:
        self.started = time.perf_counter()
        pid, fd = pty.fork()
        if pid == 0:  # the child: the program, on the pty
            os.environ["TERM"] = "xterm-256color"
            os.environ.pop("NO_COLOR", None)
            # as installed programs run: from their bytecode cache (pip writes it at
            # install; the benches' warm-up run writes it here). A shell with
            # PYTHONDONTWRITEBYTECODE would make every run compile our modules
            # anew, while the baselines' Textual is compiled already.
            os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
            os.environ.update(env or {})
            os.execvp(cmd[0], list(cmd))
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.out = bytearray()
        self.total = 0  # bytes written since the start
        self.closed = False

    def _read(self, wait: float) -> None:
        if self.closed or not select.select([self.fd], [], [], wait)[0]:
            return
        try:
            chunk = os.read(self.fd, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            self.closed = True
            return
        self.total += len(chunk)
        self.out += chunk
        if len(self.out) > MAX_KEPT:
            del self.out[: len(self.out) - MAX_KEPT]

    def mark(self) -> None:
        """Forget the output so far: the next :meth:`wait_for` looks only at what comes after."""
        self.out.clear()

    def wait_for(self, text: str, timeout: float = 30.0) -> float:
        """Read until ``text`` shows in the output since :meth:`mark`; the perf_counter time it did."""
        want = text.encode()
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline and not self.closed:
            self._read(0.01)
            if want in ANSI.sub(b"", bytes(self.out)):
                return time.perf_counter()
        seen = ANSI.sub(b"", bytes(self.out)).decode("utf-8", "replace")
        raise Timeout(f"{text!r} did not show within {timeout:g}s; the output since the key: {seen[-600:]!r}")

    def pump(self, seconds: float) -> int:
        """Read (and drop) for ``seconds``; the bytes the program wrote meanwhile."""
        before = self.total
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline and not self.closed:
            self._read(0.05)
            if len(self.out) > 65536:
                self.out.clear()
        return self.total - before

    def send(self, keys: bytes) -> float:
        os.write(self.fd, keys)
        return time.perf_counter()

    def stop(self) -> None:
        """Ask politely (q, as a user would, so the demo stops its simulator),
        then insist; return only once the process is gone, so its shutdown
        never overlaps the next run."""
        with contextlib.suppress(OSError):  # the program may already have closed the terminal
            os.write(self.fd, b"q")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):  # drain, so the program never blocks writing
                if select.select([self.fd], [], [], 0.05)[0]:
                    os.read(self.fd, 65536)
            done, _ = os.waitpid(self.pid, os.WNOHANG)
            if done:
                break
        else:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        os.close(self.fd)
        time.sleep(0.5)  # let the drill child (stopped by the demo) and the page cache settle

    def __enter__(self) -> PtyProgram:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
