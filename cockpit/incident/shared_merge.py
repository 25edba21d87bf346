"""The shared incident's merge rules (issue 17; docs/shared-incident.md):
event identity, the event chunks' encoding, the merge of event sets, and the
incident head derived from them.

Every timeline event shared through the cluster carries a globally unique id,
``<cockpit id>:<local seq>`` (:func:`event_id`): the local seq is unique in
one cockpit's JSONL and the cockpit id is unique per cockpit, so a retried
upload never makes a second copy. A set of events merges by union on that id
(:func:`merge`): commutative, associative, idempotent and duplicate-free; the
merged timeline is ordered by ``(at, id)``, the same on every cockpit. Were
two events ever to carry one id with different bodies, the smaller encoded
line wins, so the choice does not depend on who merges.

The head (:class:`Head`: severity, status, commander, comms references) is
never merged on its own: it is a function of the merged events
(:func:`head_of`), folded with :func:`clay_cockpit.incident.state.replay` —
the same semantics as one cockpit's timeline: severity only rises by itself
unless a responder set it, the latest status change (by ``(at, id)``) is in
force. So two cockpits that hold the same events show the same head. The
commander and the comms references are the latest ``commander_changed`` /
``comms_linked`` event (new kinds, read back as plain strings by
:class:`~clay_cockpit.incident.events.EventKind`).

Every event is redacted (:func:`clay_cockpit.incident.events.redact`) and
capped (:func:`~clay_cockpit.incident.events.encode_capped`) before it is
encoded here: nothing leaves the cockpit unredacted.

Pure: no clock, no file, no network.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from clay_cockpit.incident.events import MAX_EVENT_BYTES, Event, EventKind, encode_capped, iso_utc, redact
from clay_cockpit.incident.state import Status, replay
from clay_cockpit.runbook import Severity

MAX_CHUNK_BYTES = 500 * 1024  # one event chunk's text: well under the 1 MiB ConfigMap cap
MIN_CHUNK_BYTES = 2 * MAX_EVENT_BYTES  # a cap always holds at least one event
MAX_ID = 200
COMMANDER_CHANGED = EventKind.COMMANDER_CHANGED  # data: {"to": "<responder>"} (take or hand over command)
COMMS_LINKED = EventKind.COMMS_LINKED  # data: {"key": "slack_thread_ts" | "statuspage_incident" | …, "value": "…"}


def event_id(cockpit: str, seq: int) -> str:
    """The global id of a cockpit's ``seq``-th event."""
    return f"{cockpit}:{seq}"


@dataclass(frozen=True, slots=True)
class SharedEvent:
    """One shared event: its global ``id``, its time and its JSON line (no newline)."""

    id: str
    at: float
    line: str

    @property
    def key(self) -> tuple[float, str]:
        return (self.at, self.id)


def share(event: Event, cockpit: str) -> SharedEvent:
    """The event as it leaves this cockpit: redacted, capped, identified."""
    body = event.to_json()
    data, removed = redact(body["data"])
    summary, removed_s = redact(body["summary"])
    body["data"] = dict(data) if isinstance(data, dict) else {}
    body["summary"] = summary if isinstance(summary, str) else ""
    if removed + removed_s:
        body["data"]["_redacted"] = body["data"].get("_redacted", 0) + removed + removed_s
    eid = event_id(cockpit, event.seq)
    line = encode_capped({"id": eid, **body}).decode("utf-8").rstrip("\n")
    return SharedEvent(eid, event.at, line)


def parse_line(line: str) -> SharedEvent | None:
    """A chunk's line back, or None when it is not a shared event."""
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    eid, at = obj.get("id"), obj.get("at")
    if not isinstance(eid, str) or not eid or len(eid) > MAX_ID:
        return None
    if not isinstance(at, (int, float)) or isinstance(at, bool) or not math.isfinite(at):
        return None
    return SharedEvent(eid, float(at), line.strip())


def merge(*sets: Iterable[SharedEvent]) -> tuple[SharedEvent, ...]:
    """The union by id of event sets, ordered by ``(at, id)``."""
    by_id: dict[str, SharedEvent] = {}
    for events in sets:
        for e in events:
            held = by_id.get(e.id)
            if held is None or (e.line, e.at) < (held.line, held.at):
                by_id[e.id] = e
    return tuple(sorted(by_id.values(), key=lambda e: e.key))


# --------------------------------------------------------------------------
# Chunks: JSON lines, each chunk at most ``cap`` bytes


def encode_chunk(events: Iterable[SharedEvent]) -> str:
    return "".join(e.line + "\n" for e in events)


def decode_chunk(text: str) -> tuple[tuple[SharedEvent, ...], int]:
    """The events of a chunk's text (merged: ordered, no duplicate) and how many lines were not events."""
    out, bad = [], 0
    for line in text.split("\n"):  # not splitlines(): JSON keeps U+0085 and U+2028 unescaped
        if not line.strip():
            continue
        e = parse_line(line)
        if e is None:
            bad += 1
        else:
            out.append(e)
    return merge(out), bad


def _size(e: SharedEvent) -> int:
    return len(e.line.encode("utf-8")) + 1


def fill(text: str, new: Iterable[SharedEvent], cap: int = MAX_CHUNK_BYTES) -> tuple[str, tuple[SharedEvent, ...]]:
    """Append to a chunk's ``text`` the events of ``new`` it lacks, oldest first, while it
    stays within ``cap`` bytes; (the new text, the events left for the next chunk).
    Existing lines are kept as they are: a chunk is append-only."""
    cap = max(cap, MIN_CHUNK_BYTES)
    held = {e.id for e in decode_chunk(text)[0]}
    size = len(text.encode("utf-8"))
    if text and not text.endswith("\n"):
        text, size = text + "\n", size + 1
    added: list[str] = []
    left: list[SharedEvent] = []
    for e in merge(new):
        if e.id in held:
            continue
        if left or size + _size(e) > cap:
            left.append(e)
            continue
        added.append(e.line + "\n")
        size += _size(e)
        held.add(e.id)
    return text + "".join(added), tuple(left)


def pack(events: Iterable[SharedEvent], cap: int = MAX_CHUNK_BYTES) -> list[str]:
    """The merged events as chunk texts, each at most ``cap`` bytes (at least one, maybe empty)."""
    chunks: list[str] = []
    text, left = fill("", events, cap)
    chunks.append(text)
    while left:
        text, left = fill("", left, cap)
        chunks.append(text)
    return chunks


# --------------------------------------------------------------------------
# The head: derived from the merged events


@dataclass(frozen=True, slots=True)
class Head:
    """What the incident's head ConfigMap holds (``to_data``): a projection of the events."""

    id: str
    declared_at: float
    declared_by: str
    severity: Severity
    severity_set: bool  # a responder accepted or set it (else triage's)
    status: Status
    status_at: float
    commander: str = ""
    comms: Mapping[str, str] = field(default_factory=dict)
    events: int = 0
    last_event: str = ""

    def to_data(self) -> dict[str, str]:
        data = {
            "id": self.id,
            "declared_at": iso_utc(self.declared_at),
            "declared_by": self.declared_by,
            "severity": str(self.severity),
            "severity_set": "true" if self.severity_set else "false",
            "status": str(self.status),
            "status_at": iso_utc(self.status_at),
            "commander": self.commander,
            "events": str(self.events),
            "last_event": self.last_event,
        }
        data.update({f"comms.{k}": v for k, v in sorted(self.comms.items())})
        return data


def as_event(e: SharedEvent, seq: int) -> Event | None:
    """The shared event as a timeline Event numbered ``seq`` (its global id in ``data["_id"]``)."""
    try:
        obj: Any = json.loads(e.line)
    except ValueError:
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("kind"), str) or not obj["kind"]:
        return None
    raw = obj.get("data")
    data: dict[str, Any] = raw if isinstance(raw, dict) else {}
    return Event(
        seq=seq,
        at=e.at,
        kind=EventKind.parse(obj["kind"]),
        summary=obj["summary"] if isinstance(obj.get("summary"), str) else "",
        actor=obj["actor"] if isinstance(obj.get("actor"), str) else "",
        data={**data, "_id": e.id},
        time=obj["time"] if isinstance(obj.get("time"), str) else iso_utc(e.at),
    )


def timeline(events: Iterable[SharedEvent]) -> list[Event]:
    """The merged events as one timeline, numbered 1… in ``(at, id)`` order."""
    out: list[Event] = []
    for e in merge(events):
        ev = as_event(e, len(out) + 1)
        if ev is not None:
            out.append(ev)
    return out


def head_of(incident_id: str, events: Iterable[SharedEvent]) -> Head | None:
    """The head of incident ``incident_id`` the events describe (None before its declaration).
    A declaration of another id (a cockpit that lost the declaration race and joined) is
    kept on the timeline but declares nothing."""
    evs = [e for e in timeline(events) if not (e.kind == EventKind.INCIDENT_DECLARED and e.data.get("id") != incident_id)]
    incident = replay(evs)
    if incident is None:
        return None
    commander, comms = "", {}
    for e in evs:
        if e.kind == COMMANDER_CHANGED and isinstance(to := e.data.get("to"), str):
            commander = to
        elif e.kind == COMMS_LINKED and isinstance(k := e.data.get("key"), str) and isinstance(v := e.data.get("value"), str):
            comms[k] = v
    return Head(
        id=incident.id,
        declared_at=incident.declared_at,
        declared_by=incident.declared_by,
        severity=incident.severity,
        severity_set=incident.confirmed,
        status=incident.status,
        status_at=incident.status_at,
        commander=commander,
        comms=comms,
        events=len(evs),
        last_event=str(evs[-1].data.get("_id", "")) if evs else "",
    )
