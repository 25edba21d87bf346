"""Which processes a test started, found the way ps finds them: /proc.

Every program a test starts gets ``CLAY_E2E_MARK=<unique>`` in its
environment (directly, or on the remote command line through SSH), and
children inherit it, so the cockpit *and* its drill child are found by the
mark alone, whoever their parent is now (a child whose parent died is
re-parented, its arguments unchanged).
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from pathlib import Path

MARK_VAR = "CLAY_E2E_MARK"


def new_mark() -> str:
    return f"e2e-{os.getpid()}-{secrets.token_hex(4)}"


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return b""


def marked(mark: str) -> dict[int, str]:
    """pid → command line of every live process carrying ``mark`` in its environment."""
    needle = f"{MARK_VAR}={mark}".encode()
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        if needle not in _read(entry / "environ").split(b"\0"):
            continue
        stat = _read(entry / "stat")
        if b") Z" in stat:  # a zombie has exited; its parent just has not reaped it
            continue
        argv = _read(entry / "cmdline").split(b"\0")
        found[int(entry.name)] = " ".join(a.decode("utf-8", "replace") for a in argv if a)
    return found


def ps_lines(pids: list[int]) -> str:
    """``ps`` output for these pids (for failure messages)."""
    if not pids:
        return "(none)"
    proc = subprocess.run(
        ["ps", "-o", "pid,ppid,stat,etime,args", "-p", ",".join(map(str, pids))], capture_output=True, text=True, timeout=10
    )
    return proc.stdout.strip()


def wait_gone(mark: str, timeout: float) -> dict[int, str]:
    """Wait until no process carries ``mark``; returns what is left (empty: all gone)."""
    deadline = time.monotonic() + timeout
    while True:
        left = marked(mark)
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.2)


def kill_marked(mark: str) -> None:
    """Teardown: SIGKILL whatever a test left running (only its own, by mark)."""
    for pid in marked(mark):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
