"""Reading an incident timeline file: streamed line by line with a bounded
line length, and never raising on content.

A torn last line (a crash in the middle of a write) is reported in
``torn``; garbage lines and unreadable events are counted in ``problems``
and skipped (:class:`ReadReport`). :func:`iter_events` streams,
:func:`read` keeps all events or only the newest N in bounded memory. The
open :class:`~clay_cockpit.incident.timeline.Timeline` reads what other processes
appended with the same :func:`_iter_file`.

Pure standard library; no Textual, no network.
"""

from __future__ import annotations

import io
import json
import os
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from clay_cockpit.incident.events import Event, _event_from_json

MAX_LINE_BYTES = 64 * 1024  # longer lines are skipped unread (garbage)
_MAX_PROBLEMS = 20


@dataclass
class ReadReport:
    """What reading found besides events. ``torn``: the last line was cut off
    (a crash mid-write) and was ignored; ``problems``: other lines skipped (the
    first few described, ``bad_lines`` counts all)."""

    torn: str | None = None
    bad_lines: int = 0
    problems: list[str] = field(default_factory=list)

    def _bad(self, text: str) -> None:
        self.bad_lines += 1
        if len(self.problems) < _MAX_PROBLEMS:
            self.problems.append(text)


def _iter_file(f: io.BufferedReader, report: ReadReport) -> Iterator[Event]:
    lineno = 0
    while True:
        raw = f.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        lineno += 1
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):  # skip the rest of an overlong line
                raw = f.readline(MAX_LINE_BYTES)
            report._bad(f"line {lineno}: longer than {MAX_LINE_BYTES} bytes, skipped")
            continue
        complete = raw.endswith(b"\n")
        text = raw.strip()
        if not text:
            continue
        try:
            parsed: Event | str = _event_from_json(json.loads(text.decode("utf-8")))
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError are ValueErrors
            parsed = f"not a JSON event ({type(exc).__name__})"
        if isinstance(parsed, Event):
            yield parsed
        elif not complete:
            report.torn = f"line {lineno}: {len(raw)} bytes cut off without a line end (torn write), ignored"
        else:
            report._bad(f"line {lineno}: {parsed}, skipped")


def iter_events(path: str | os.PathLike[str], report: ReadReport | None = None) -> Iterator[Event]:
    """Stream the events of a timeline file, oldest first. Never raises on
    content (see :class:`ReadReport`); raises OSError if the file cannot be opened."""
    with open(path, "rb") as f:
        yield from _iter_file(f, report if report is not None else ReadReport())


@dataclass(frozen=True)
class ReadResult:
    events: tuple[Event, ...]
    torn: str | None
    problems: tuple[str, ...]
    bad_lines: int


def read(path: str | os.PathLike[str], *, newest: int | None = None) -> ReadResult:
    """All events (or only the ``newest`` N, in bounded memory) plus what was
    wrong with the file. Never raises on content; OSError if it cannot be opened."""
    report = ReadReport()
    events: deque[Event] = deque(maxlen=newest)
    events.extend(iter_events(path, report))
    return ReadResult(tuple(events), report.torn, tuple(report.problems), report.bad_lines)
