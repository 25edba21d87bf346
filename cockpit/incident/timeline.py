"""The evidence timeline: an append-only JSONL file per incident, one event
per line (:mod:`clay_cockpit.incident.events`), never rewritten.

Writing (:class:`Timeline`): one ``os.write`` of the whole line on an
``O_APPEND`` descriptor (there is no user-space buffer to flush), then
``os.fsync``; :meth:`Timeline.append` returns only after the fsync, so an event
it returned is on disk. Measured on the development VM (ext4 on a virtual
disk): a few-hundred-byte event takes about 4 ms, nearly all of it the fsync;
an event near the 8 KB cap about 12 ms, one that must be cut down to it about
17 ms. Other processes appending to the same file are serialised with
``flock`` (bounded wait, :func:`locked`) and their events are picked up before
ours. After a torn line (a crash mid-write) the next append starts on a fresh
line.

Reading the file without opening it for writing (:func:`read`,
:func:`~clay_cockpit.incident.timeline_read.iter_events`) is in
:mod:`clay_cockpit.incident.timeline_read`; the data of an evidence snapshot in
:mod:`clay_cockpit.incident.evidence`. :class:`Event`, :class:`EventKind`,
:func:`read` and :func:`fingerprint` are re-exported here: most callers want
those with the timeline.

Pure standard library; no Textual, no network.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Self

from clay_cockpit.incident.events import (
    MAX_EVENT_BYTES,
    VERSION,
    Event,
    EventKind,
    _event_from_json,
    default_actor,
    encode_capped,
    iso_utc,
    one_line,
    redact,
    redact_text,
)
from clay_cockpit.incident.timeline_read import ReadReport, _iter_file, read  # (read: re-exported)
from clay_cockpit.redact import fingerprint  # (re-exported: record an API key only as its fingerprint)

__all__ = [
    # re-exported: most callers want these with the timeline
    "Event",
    "EventKind",
    "fingerprint",
    "read",
    # this module's own
    "DEFAULT_KEEP",
    "LOCK_TIMEOUT",
    "READ_ONLY_ERRNOS",
    "Timeline",
    "TimelineError",
    "locked",
]

DEFAULT_KEEP = 500  # events an in-memory view keeps (newest)
LOCK_TIMEOUT = 2.0  # seconds to wait for another process's append


class TimelineError(Exception):
    """The event could not be recorded (disk full, permissions …). One line, no secret."""


READ_ONLY_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})  # the file is there, but not ours to write


class Timeline:
    """An open timeline file: append events, keep the newest ``keep`` in memory.

    Opening reads the file once (streaming): the last ``seq``, the in-memory
    view, and ``report`` (torn tail, skipped lines). ``on_event`` (optional) is
    called with every event in file order — those read at open, those other
    processes appended (picked up before each append and by :meth:`refresh`),
    and our own after they are on disk — under the timeline's lock; keep it
    quick and non-raising. Thread-safe.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        actor: str | None = None,
        keep: int = DEFAULT_KEEP,
        clock: Callable[[], float] = time.time,
        max_event_bytes: int = MAX_EVENT_BYTES,
        on_event: Callable[[Event], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self.actor = actor or default_actor()
        self.max_event_bytes = max_event_bytes
        self.report = ReadReport()
        self._clock = clock
        self._on_event = on_event
        self._recent: deque[Event] = deque(maxlen=max(1, keep))
        self._lock = threading.Lock()
        self._seq = 0
        self._offset = 0  # bytes of the file we have read
        self._ends_clean = True  # the file ends with a newline (or is empty)
        self.read_only: str | None = None  # why nothing can be recorded (the file opened for reading only)
        try:
            if not self.path.parent.is_dir():
                self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            created = not self.path.exists()
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError as exc:
                if created or exc.errno not in READ_ONLY_ERRNOS:
                    raise
                # a state dir that became read-only (permissions, a read-only or failing disk):
                # the incident is still read and shown; every append says why it cannot be recorded
                self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
                self.read_only = exc.strerror or str(exc)
        except OSError as exc:
            raise TimelineError(f"cannot open the timeline {self.path}: {exc.strerror or exc}") from None
        try:
            if created:
                _fsync_dir(self.path.parent)
            self.refresh()
        except BaseException:
            os.close(self._fd)
            raise

    # -- reading what is there

    def _catch_up(self) -> list[Event]:
        size = os.fstat(self._fd).st_size
        if size == self._offset:
            return []
        if size < self._offset:  # shrunk under us (someone truncated it): read it again
            self._offset, self._seq = 0, 0
            self._recent.clear()
        new: list[Event] = []
        report = ReadReport()
        with open(os.dup(self._fd), "rb") as f:
            f.seek(self._offset)
            for ev in _iter_file(f, report):
                self._seq = max(self._seq, ev.seq)
                self._recent.append(ev)
                new.append(ev)
                if self._on_event is not None:
                    self._on_event(ev)
        self.report.torn = report.torn
        for p in report.problems:
            self.report._bad(p)
        self.report.bad_lines += report.bad_lines - len(report.problems)
        self._offset = size
        self._ends_clean = os.pread(self._fd, 1, size - 1) == b"\n"
        return new

    def refresh(self) -> list[Event]:
        """Events other processes appended since we last looked (cheap when none).
        Raises :class:`TimelineError` if the file cannot be read."""
        if self._fd < 0:
            raise TimelineError(f"cannot read the timeline {self.path}: it is closed")
        try:
            with self._lock, locked(self._fd, fcntl.LOCK_SH):
                return self._catch_up()
        except OSError as exc:
            raise TimelineError(f"cannot read the timeline {self.path}: {exc.strerror or exc}") from None

    @property
    def seq(self) -> int:
        """The highest seq in the file as we know it."""
        return self._seq

    def events(self) -> tuple[Event, ...]:
        """The newest ``keep`` events, oldest first."""
        with self._lock:
            return tuple(self._recent)

    # -- appending

    def append(
        self,
        kind: EventKind | str,
        summary: str,
        data: Mapping[str, Any] | None = None,
        *,
        at: float | None = None,
        actor: str | None = None,
    ) -> Event:
        """Write one event and return it once it is on disk (after fsync).

        ``summary`` is made one line (and redacted), ``data`` redacted and
        capped. Raises :class:`TimelineError` if it could not be recorded; the
        in-memory view then does not contain it.
        """
        if not isinstance(kind, str) or not kind or len(kind) > 64:
            raise ValueError(f"bad event kind {kind!r}")
        when = self._clock() if at is None else float(at)
        if not math.isfinite(when):
            raise ValueError(f"bad event time {when!r}")
        clean_summary, in_summary = redact_text(str(summary)[:16000])  # redacted, then cut (one_line): never the other way round
        clean_summary = one_line(clean_summary)
        clean_data, redactions = redact(dict(data or {}))
        redactions += in_summary
        if redactions:
            clean_data["_redacted"] = redactions
        with self._lock:
            if self._fd < 0:
                raise TimelineError(f"could not record to {self.path}: the timeline is closed")
            if self.read_only is not None:
                raise TimelineError(f"not recorded: {self.path} is read-only ({self.read_only}); {self.fix_hint()}")
            try:
                with locked(self._fd):
                    self._catch_up()
                    obj = {
                        "v": VERSION,
                        "seq": self._seq + 1,
                        "at": round(when, 3),
                        "time": iso_utc(when),
                        "kind": str(kind),
                        "actor": one_line(actor or self.actor, 100),
                        "summary": clean_summary,
                        "data": clean_data,
                    }
                    line = encode_capped(obj, self.max_event_bytes)
                    if not self._ends_clean:
                        line = b"\n" + line  # after a torn line: start on a fresh one
                    before, torn = self._offset, self.report.torn
                    written = os.write(self._fd, line)
                    if written != len(line):
                        raise OSError(f"short write ({written} of {len(line)} bytes)")
                    os.fsync(self._fd)
                    # only now is it ours; after a failure the offset stays put and the
                    # next catch-up reads whatever did reach the file
                    self._offset, self._ends_clean = before + written, True
                    if torn:
                        self.report._bad(torn + "; the next event starts on a fresh line")
                        self.report.torn = None
            except OSError as exc:
                raise TimelineError(f"could not record to {self.path}: {exc.strerror or exc}") from None
            parsed = _event_from_json(json.loads(line))
            assert isinstance(parsed, Event)
            self._seq = parsed.seq
            self._recent.append(parsed)
            if self._on_event is not None:
                self._on_event(parsed)
            return parsed

    def fix_hint(self) -> str:
        """Where to fix a read-only timeline."""
        return f"make {self.path.parent} writable (permissions, disk, mount) and restart the cockpit"

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def locked(fd: int, mode: int = fcntl.LOCK_EX, timeout: float | None = None) -> Iterator[None]:
    """``flock`` with a bounded wait (:data:`LOCK_TIMEOUT`): a hung process
    holding the file never hangs us; OSError when it runs out."""
    timeout = LOCK_TIMEOUT if timeout is None else timeout
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise OSError(f"locked by another process for more than {timeout:g} s") from None
            time.sleep(0.005)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _fsync_dir(path: Path) -> None:
    """Make a new file's directory entry durable too."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
