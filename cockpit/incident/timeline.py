"""The evidence timeline: an append-only JSONL file per incident.

One event per line, never rewritten::

    {"v": 1, "seq": 7, "at": 1764389702.123, "time": "2025-11-29T04:15:02.123Z",
     "kind": "checklist_ticked", "actor": "ana@bastion-1",
     "summary": "Ticked: Check Clay's status page", "data": {...}}

Writing (:class:`Timeline`): one ``os.write`` of the whole line on an
``O_APPEND`` descriptor (there is no user-space buffer to flush), then
``os.fsync``; :meth:`Timeline.append` returns only after the fsync, so an event
it returned is on disk. Measured on the development VM (ext4 on a virtual
disk): a few-hundred-byte event takes about 4 ms, nearly all of it the fsync;
an event near the 8 KB cap about 12 ms, one that must be cut down to it about
17 ms. Other processes appending to the same file are serialised with
``flock`` (bounded wait) and their events are picked up before ours.

Reading (:func:`read`, :func:`iter_events`) streams line by line with a bounded
line length and never raises on content: a torn last line (a crash in the
middle of a write) is reported in ``torn``, garbage lines and unreadable
events are counted in ``problems`` and skipped, unknown kinds read back as
plain strings. After a torn line the next append starts on a fresh line.

Every event passes :func:`redact` first (tokens, ``Bearer …``, secret-looking
values in secret-named fields are replaced by ``[redacted]``) and is capped in
size (:data:`MAX_EVENT_BYTES`; long strings and lists are shortened and the
event says so in ``data["_truncated"]``; ``data["_redacted"]`` counts what
:func:`redact` removed). Record an API key only as :func:`fingerprint`.
:func:`signals_evidence` turns a :class:`~cockpit.signals.Signals` into the
data of an ``evidence_snapshot``.

Pure standard library; no Textual, no network.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import errno
import fcntl
import functools
import getpass
import io
import json
import math
import os
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Self

from cockpit import signals as sig
from cockpit.redact import REDACTED as _REDACTED, fingerprint
from cockpit.redact import redact_count
from cockpit.incident.metrics_history import metrics_history

VERSION = 1
MAX_EVENT_BYTES = 8 * 1024  # one line, all fields, as written
MAX_LINE_BYTES = 64 * 1024  # longer lines are skipped unread (garbage)
DEFAULT_KEEP = 500  # events an in-memory view keeps (newest)
MAX_SUMMARY = 300
LOCK_TIMEOUT = 2.0  # seconds to wait for another process's append
REDACTED = _REDACTED
_MAX_PROBLEMS = 20


class EventKind(enum.StrEnum):
    INCIDENT_DECLARED = "incident_declared"
    SEVERITY_SUGGESTED = "severity_suggested"
    SEVERITY_CHANGED = "severity_changed"
    STATUS_CHANGED = "status_changed"
    BRANCH_CHANGED = "branch_changed"
    CLAY_INCIDENT_APPEARED = "clay_incident_appeared"
    CLAY_INCIDENT_UPDATED = "clay_incident_updated"
    CLAY_INCIDENT_RESOLVED = "clay_incident_resolved"
    SOURCE_FAILED = "source_failed"
    SOURCE_RECOVERED = "source_recovered"
    POD_CRASHLOOPING = "pod_crashlooping"
    POD_OOMKILLED = "pod_oomkilled"
    CHECKLIST_TICKED = "checklist_ticked"
    CHECKLIST_UNTICKED = "checklist_unticked"
    EVIDENCE_SNAPSHOT = "evidence_snapshot"
    NOTE = "note"
    # later issues (actions, communication)
    ACTION_PLANNED = "action_planned"
    ACTION_APPLIED = "action_applied"
    ACTION_FAILED = "action_failed"
    ACTION_VERIFIED = "action_verified"
    MESSAGE_DRAFTED = "message_drafted"
    MESSAGE_SENT = "message_sent"
    # an applied action's symptom, followed after the change (docs/events.md)
    SYMPTOM_ENDED = "symptom_ended"
    SYMPTOM_PERSISTS = "symptom_persists"

    @classmethod
    def parse(cls, value: str) -> EventKind | str:
        """The member for a known kind, else the string itself (read back as is)."""
        try:
            return cls(value)
        except ValueError:
            return value


class TimelineError(Exception):
    """The event could not be recorded (disk full, permissions …). One line, no secret."""


@functools.cache
def default_actor() -> str:
    """``user@host`` of this process, computed once."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers) and no $USER
        user = f"uid{os.getuid()}"
    try:
        host = socket.gethostname().split(".")[0] or "localhost"
    except OSError:
        host = "localhost"
    return f"{user}@{host}"


def iso_utc(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --------------------------------------------------------------------------
# Events


@dataclass(frozen=True, slots=True)
class Event:
    """One line of the timeline. ``kind`` is an :class:`EventKind` when known,
    else the string read from the file. ``data`` is a JSON object (read-only by
    convention)."""

    seq: int
    at: float
    kind: EventKind | str
    summary: str
    actor: str
    data: dict[str, Any] = field(default_factory=dict)
    time: str = ""
    v: int = VERSION

    def to_json(self) -> dict[str, Any]:
        return {
            "v": self.v, "seq": self.seq, "at": self.at, "time": self.time or iso_utc(self.at),
            "kind": str(self.kind), "actor": self.actor, "summary": self.summary, "data": self.data,
        }


def _event_from_json(obj: object) -> Event | str:
    """An Event, or why this object is not one."""
    if not isinstance(obj, dict):
        return f"not a JSON object ({type(obj).__name__})"
    seq, at, kind = obj.get("seq"), obj.get("at"), obj.get("kind")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        return "no valid seq"
    if not isinstance(at, (int, float)) or isinstance(at, bool) or not math.isfinite(at):
        return "no valid time"
    if not isinstance(kind, str) or not kind or len(kind) > 64:
        return "no valid kind"
    summary, actor, data = obj.get("summary"), obj.get("actor"), obj.get("data")
    v = obj.get("v")
    when = obj.get("time")
    return Event(
        seq=seq, at=float(at), kind=EventKind.parse(kind),
        summary=summary if isinstance(summary, str) else "",
        actor=actor if isinstance(actor, str) else "",
        data=data if isinstance(data, dict) else {},
        time=when if isinstance(when, str) else iso_utc(float(at)),
        v=v if isinstance(v, int) and not isinstance(v, bool) else VERSION,
    )


# --------------------------------------------------------------------------
# Secrets


_FINGERPRINT = re.compile(r"sha256:[0-9a-f]{6,64}|\(empty\)")
_SECRET_FIELD = re.compile(
    r"api[_-]?key|apikey|token|secret|passw(or)?d|pwd|authori[sz]ation|credential|private[_-]?key"
    r"|cookie|bearer|signing[_-]?key|webhook[_-]?url|dsn",
    re.IGNORECASE,
)
def redact_text(text: str) -> tuple[str, int]:
    """Replace every known credential and token-looking substring in ``text``
    (:func:`cockpit.redact.redact_count`, the one redactor); (text, how many)."""
    return redact_count(text)


def looks_like_secret(value: str) -> bool:
    """A single long token mixing character classes, or long hex: what an API
    key, password or token looks like (names such as ``clay-credentials`` or
    ``CLAY_API_KEY`` do not)."""
    if len(value) < 12 or any(c.isspace() for c in value) or _FINGERPRINT.fullmatch(value):
        return False
    if re.fullmatch(r"[0-9a-fA-F]{16,}", value) and any(c.isdigit() for c in value):
        return True
    classes = sum((any(c.islower() for c in value), any(c.isupper() for c in value), any(c.isdigit() for c in value)))
    return classes >= 2


def redact(value: Any, *, key: str = "", _depth: int = 0) -> tuple[Any, int]:
    """A JSON-safe copy of ``value`` with secrets removed; (copy, how many removed).

    - in every string: Slack tokens, ``Bearer …``/``Basic …``, JWTs, private
      keys, cloud keys, ``api_key=…``-style pairs, URL passwords;
    - under a secret-named key (``api_key``, ``token``, ``password``,
      ``secret``, ``authorization`` …): any value that looks like a secret
      (:func:`looks_like_secret`) and any bytes; fingerprints stay;
    - bytes anywhere are never decoded (``"<N bytes>"``); floats that are not
      finite become null; tuples/sets become lists; dataclasses and objects
      with ``to_dict()`` become objects; anything else its ``str()``, redacted.
    """
    secret_field = bool(key) and bool(_SECRET_FIELD.search(key))
    if _depth > 12:
        return "[too deep]", 0
    if value is None or isinstance(value, bool):
        return value, 0
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, int):
        return int(value), 0
    if isinstance(value, float):
        return (value if math.isfinite(value) else None), 0
    if isinstance(value, (bytes, bytearray, memoryview)):
        return (REDACTED, 1) if secret_field else (f"<{len(value)} bytes>", 0)
    if isinstance(value, (datetime, date)):
        return value.isoformat(), 0
    if isinstance(value, str):
        if secret_field and looks_like_secret(value):
            return REDACTED, 1
        return redact_text(value)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        total = 0
        for k, v in value.items():
            clean_key, n1 = redact_text(str(k.value if isinstance(k, enum.Enum) else k))
            child_key = clean_key if not secret_field else f"{key}.{clean_key}"
            out[clean_key], n2 = redact(v, key=child_key, _depth=_depth + 1)
            total += n1 + n2
        return out, total
    if isinstance(value, (list, tuple, set, frozenset, deque)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else list(value)
        items = items[-1000:]  # the newest; the size cap cuts further
        cleaned = [redact(v, key=key, _depth=_depth + 1) for v in items]
        return [c for c, _ in cleaned], sum(n for _, n in cleaned)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return redact({f.name: getattr(value, f.name) for f in dataclasses.fields(value)}, key=key, _depth=_depth)
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return redact(to_dict(), key=key, _depth=_depth + 1)
    return redact(str(value), key=key, _depth=_depth)


# --------------------------------------------------------------------------
# Size cap


def _shrink(value: Any, max_str: int, max_items: int, max_keys: int, stats: dict[str, int]) -> Any:
    if isinstance(value, str) and len(value) > max_str:
        stats["strings"] += 1
        return value[: max(0, max_str - 1)] + "…"
    if isinstance(value, list):
        if len(value) > max_items:
            stats["items"] += len(value) - max_items
            value = value[len(value) - max_items:]  # keep the newest: lists here are oldest first
        return [_shrink(v, max_str, max_items, max_keys, stats) for v in value]
    if isinstance(value, dict):
        keys = list(value)
        if len(keys) > max_keys:
            stats["keys"] += len(keys) - max_keys
            keys = keys[:max_keys]
        return {k: _shrink(value[k], max_str, max_items, max_keys, stats) for k in keys}
    return value


_SCHEDULE = ((2000, 200, 200), (240, 50, 100), (240, 20, 50), (160, 10, 30), (100, 5, 20), (60, 3, 10), (40, 1, 5))


def _encode(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8", "replace") + b"\n"


def encode_capped(obj: dict[str, Any], max_bytes: int = MAX_EVENT_BYTES) -> bytes:
    """The event's line, at most ``max_bytes``: long strings and lists in
    ``data`` are shortened step by step (lists keep their newest = last items),
    at worst ``data`` keeps only its top-level scalars; ``data["_truncated"]``
    then says what was cut and how big the event was."""
    line = _encode(obj)
    if len(line) <= max_bytes:
        return line
    original = len(line)
    data = obj["data"]
    for max_str, max_items, max_keys in _SCHEDULE:
        stats = {"strings": 0, "items": 0, "keys": 0}
        shrunk = _shrink(data, max_str, max_items, max_keys, stats)
        shrunk["_truncated"] = {"original_bytes": original, **{k: v for k, v in stats.items() if v}}
        line = _encode({**obj, "data": shrunk})
        if len(line) <= max_bytes:
            return line
    scalars = {k: v for k, v in list(data.items())[:20] if not isinstance(v, (dict, list)) and not (isinstance(v, str) and len(v) > 40)}
    scalars["_truncated"] = {"original_bytes": original, "data": "only top-level values kept"}
    line = _encode({**obj, "data": scalars})
    if len(line) <= max_bytes:
        return line
    return _encode({**obj, "data": {"_truncated": {"original_bytes": original, "data": "dropped"}}})


def one_line(text: str, limit: int = MAX_SUMMARY) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------
# Reading


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


# --------------------------------------------------------------------------
# Writing


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
        self, path: str | os.PathLike[str], *, actor: str | None = None, keep: int = DEFAULT_KEEP,
        clock: Callable[[], float] = time.time, max_event_bytes: int = MAX_EVENT_BYTES,
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
        self, kind: EventKind | str, summary: str, data: Mapping[str, Any] | None = None, *,
        at: float | None = None, actor: str | None = None,
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
                        "v": VERSION, "seq": self._seq + 1, "at": round(when, 3), "time": iso_utc(when),
                        "kind": str(kind), "actor": one_line(actor or self.actor, 100),
                        "summary": clean_summary, "data": clean_data,
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


# --------------------------------------------------------------------------
# Evidence snapshots


def signals_evidence(signals: sig.Signals, *, log_lines: int = 5, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The numbers behind a moment, for an ``evidence_snapshot`` event: per
    source its failure or its key values (status page verdict and unresolved
    incidents, health and failing checks, each series' current value, unready
    pods), the newest ``log_lines`` log lines, plus ``extra`` (for example the
    assessment's ``to_dict()``). Small by construction, capped on append anyway."""
    out: dict[str, Any] = {"signals_at": signals.at}
    for name in ("statuspage", "health", "metrics", "pods"):
        reading: sig.Reading[Any] = getattr(signals, name)
        entry: dict[str, Any] = {"error": reading.error.line()} if reading.error is not None else {}
        if reading.value is not None:
            entry |= {"updated_at": reading.updated_at, "stale": reading.stale, **_describe(reading.value)}
        out[name] = entry or {"error": "no data yet"}
    if log_lines > 0 and signals.recent_logs:
        out["logs"] = [one_line(f"{ln.pod}: {ln.text}", 240) for ln in signals.recent_logs[-log_lines:]]
    return out | dict(extra or {})


def _describe(v: object) -> dict[str, Any]:
    if isinstance(v, sig.StatusPageSnapshot):
        incidents = [{"name": i.name, "status": i.status, "impact": i.impact, "update": one_line(i.latest_update, 200)} for i in v.incidents[:5]]
        degraded = [f"{c.name}: {c.status}" for c in v.components if c.status != sig.ComponentStatus.OPERATIONAL][:10]
        return {"indicator": v.indicator, "description": v.description, "incidents": incidents, "not_operational": degraded}
    if isinstance(v, sig.HealthSnapshot):
        failing = [f"{c.name}: {c.status} {c.detail}".strip() for c in v.checks if not c.ok][:10]
        return {"status": v.status, "http_status": v.http_status, "response_ms": round(v.response_ms, 1), "failing": failing}
    if isinstance(v, sig.MetricsSnapshot):
        values = {s.label or s.key: [None if s.current is None else round(s.current, 3), s.unit] for s in v.series[:30]}
        out = {"served_by": v.served_by, "backup": v.is_backup, "values": values}
        history = metrics_history(v.series)  # the points the sparklines draw: the postmortem's chart and peak
        return out | ({"history": history} if history else {})
    if isinstance(v, sig.PodsSnapshot):
        bad = [{"name": p.name, "status": p.status, "restarts": p.restarts, "last": p.last_termination} for p in v.pods if not p.is_ready]
        return {"pods": len(v.pods), "ready": sum(p.is_ready for p in v.pods), "restarts": sum(p.restarts for p in v.pods), "not_ready": bad[:10]}
    return {}

