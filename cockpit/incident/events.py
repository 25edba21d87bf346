"""What one event of the incident timeline is: its kinds, its JSON line, and
what it may carry.

One event per line of an append-only JSONL file (:mod:`clay_cockpit.incident.timeline`)::

    {"v": 1, "seq": 7, "at": 1764389702.123, "time": "2025-11-29T04:15:02.123Z",
     "kind": "checklist_ticked", "actor": "ana@bastion-1",
     "summary": "Ticked: Check Clay's status page", "data": {...}}

Every event passes :func:`redact` first (tokens, ``Bearer …``, secret-looking
values in secret-named fields are replaced by ``[redacted]``) and is capped in
size (:data:`MAX_EVENT_BYTES`, :func:`encode_capped`; long strings and lists
are shortened and the event says so in ``data["_truncated"]``;
``data["_redacted"]`` counts what :func:`redact` removed). Record an API key
only as :func:`~clay_cockpit.redact.fingerprint`. A line read back becomes an
:class:`Event` or says why it is none, never raises; unknown kinds read back
as plain strings.

Pure standard library; no Textual, no network, no file.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import getpass
import json
import math
import os
import re
import socket
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from clay_cockpit.redact import REDACTED as _REDACTED
from clay_cockpit.redact import redact_count

VERSION = 1
MAX_EVENT_BYTES = 8 * 1024  # one line, all fields, as written
MAX_SUMMARY = 300
REDACTED = _REDACTED


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
    # the infrastructure (issue 14): node transitions and rollouts the infra source saw
    NODE_NOT_READY = "node_not_ready"
    NODE_READY = "node_ready"
    NODE_PRESSURE = "node_pressure"
    NODE_PRESSURE_ENDED = "node_pressure_ended"
    ROLLOUT_SEEN = "rollout_seen"
    # PagerDuty and Grafana (issue 16): the page, its escalation, the milestones posted (docs/events.md)
    PAGE_LINKED = "page_linked"
    PAGE_ACKNOWLEDGED = "page_acknowledged"
    PAGE_RESOLVED = "page_resolved"
    PAGE_ESCALATED = "page_escalated"
    MILESTONE_SENT = "milestone_sent"
    # the shared incident (issue 17; docs/shared-incident.md)
    COMMANDER_CHANGED = "commander_changed"  # data: {"to": responder, "from": responder or ""}
    COMMS_LINKED = "comms_linked"  # data: {"key": …, "value": …}
    INCIDENT_MERGED = "incident_merged"  # data: {"into": incident id}: this file's incident goes on as that shared one

    @classmethod
    def parse(cls, value: str) -> EventKind | str:
        """The member for a known kind, else the string itself (read back as is)."""
        try:
            return cls(value)
        except ValueError:
            return value


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
            "v": self.v,
            "seq": self.seq,
            "at": self.at,
            "time": self.time or iso_utc(self.at),
            "kind": str(self.kind),
            "actor": self.actor,
            "summary": self.summary,
            "data": self.data,
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
        seq=seq,
        at=float(at),
        kind=EventKind.parse(kind),
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
    (:func:`clay_cockpit.redact.redact_count`, the one redactor); (text, how many)."""
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
            value = value[len(value) - max_items :]  # keep the newest: lists here are oldest first
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
