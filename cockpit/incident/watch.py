"""Notable moments in successive Signals: what the evidence timeline records
besides triage's own changes.

:class:`Watch` is fed every new :class:`~clay_cockpit.signals.Signals` (and the log
follow's failures) and answers with the :class:`Notable` events it saw since
the last call:

- a Clay status page incident appeared, was updated (status or latest update)
  or was resolved (no longer listed as unresolved);
- a source failed (with its named kind and hint) or recovered (after how
  long); the metrics primary failed over to a backup, or serves again;
- pods entered a crashloop or were OOMKilled (once per pod: a pod that keeps
  crashing is one event, not one per restart);
- a node that runs our pods went NotReady (or Unknown) or came back Ready,
  or a pressure condition (MemoryPressure, DiskPressure …) began or ended on
  it (once per transition); a rollout newer than the newest revision seen
  (issue 14).

Only transitions are events: a source that stays down is one
``source_failed``; a status page that answers the same page twice is nothing.
The very first answer of a source is compared with "nothing known", so Clay
incidents already open when the cockpit starts are reported as seen.

Pure: no I/O, no Textual, no clock reads (``now`` is a parameter). Bounded:
it remembers only what the latest snapshots contain (pods present, incidents
listed, at most :data:`MAX_TRACKED` of each).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from clay_cockpit.incident.events import EventKind, one_line
from clay_cockpit.signals import (
    Change,
    ErrorKind,
    InfraSnapshot,
    NodeInfo,
    PodInfo,
    PodsSnapshot,
    Reading,
    Signals,
    SourceError,
    StatusIncident,
    StatusPageSnapshot,
)

POLLED = ("statuspage", "health", "metrics", "pods", "infra")  # the Signals fields that are sources
LABEL = {
    "infra": "Kubernetes (nodes, history)",
    "statuspage": "Clay status page",
    "health": "Health endpoint",
    "metrics": "Metrics",
    "pods": "Kubernetes (pods)",
    "logs": "Pod logs",
}
MAX_TRACKED = 200  # incidents / pods remembered at most
MAX_NAMED = 5  # pods named in one event's summary
TEXT = 300  # characters of an outside message in a summary: a bound on what a system sends (the timeline keeps 300), not a screen width
UPDATE_TEXT = 400  # characters of an update's text kept in the event's data


@dataclass(frozen=True)
class Notable:
    """One notable moment: the kind, summary and data of a timeline event."""

    kind: EventKind
    summary: str  # one line
    at: float
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "at": self.at, "summary": self.summary, "data": self.data}


@dataclass
class _Source:
    failing: SourceError | None = None
    since: float = 0.0  # when it started failing


def _duration(seconds: float) -> str:
    s = max(0, int(seconds))
    if s < 90:
        return f"{s} s"
    if s < 5400:
        return f"{s // 60} min"
    return f"{s // 3600} h {s % 3600 // 60} min"


def _incident_key(inc: StatusIncident) -> tuple[str, str, str]:
    """What makes an update new; the same as :meth:`Watch.prime` reads back from an event."""
    when = inc.latest_update_at.isoformat() if inc.latest_update_at else ""
    return (inc.status, when, one_line(inc.latest_update, UPDATE_TEXT))


def _incident_data(inc: StatusIncident) -> dict[str, Any]:
    return {
        "id": inc.id,
        "name": inc.name,
        "status": inc.status,
        "impact": inc.impact,
        "update": one_line(inc.latest_update, UPDATE_TEXT),
        "update_at": inc.latest_update_at.isoformat() if inc.latest_update_at else None,
        "components": list(inc.components[:10]),
    }


def _pod_data(p: PodInfo) -> dict[str, Any]:
    return {"name": p.name, "status": p.status, "restarts": p.restarts, "last": p.last_termination}


def _names(pods: list[PodInfo]) -> str:
    names = [p.name for p in pods[:MAX_NAMED]]
    more = f" and {len(pods) - MAX_NAMED} more" if len(pods) > MAX_NAMED else ""
    return ", ".join(names) + more


def _moments(events: Iterable[Any]) -> Iterable[tuple[str, float, dict[str, Any]]]:
    """(kind, at, data) of each event, and of the notable moments a
    declaration's evidence holds (``data["before"]``)."""
    for e in events:
        d = e.data if isinstance(e.data, dict) else {}
        if e.kind == EventKind.EVIDENCE_SNAPSHOT and isinstance(d.get("before"), list):
            for b in d["before"]:
                if isinstance(b, dict) and isinstance(b.get("kind"), str) and isinstance(b.get("data"), dict):
                    at = b.get("at")
                    yield EventKind.parse(b["kind"]), float(at) if isinstance(at, (int, float)) else e.at, b["data"]
        yield e.kind, e.at, d


def _error_kind(value: object) -> ErrorKind | None:
    try:
        return ErrorKind(value) if isinstance(value, str) else None
    except ValueError:
        return None


def is_crashlooping(p: PodInfo, restarts_warn: int) -> bool:
    return "crashloop" in p.status.lower() or (restarts_warn > 0 and p.restarts >= restarts_warn)


def is_oomkilled(p: PodInfo) -> bool:
    return "oomkilled" in p.status.lower() or "oomkilled" in (p.last_termination or "").lower()


class Watch:
    """Turns successive Signals into notable events; see the module docstring."""

    def __init__(self, restarts_warn: int = 3) -> None:
        self.restarts_warn = restarts_warn
        self._sources: dict[str, _Source] = {name: _Source() for name in (*POLLED, "logs")}
        self._page: StatusPageSnapshot | None = None  # the last page compared
        self._incidents: dict[str, tuple[tuple[str, str, str], str]] | None = None  # id -> (key, name); None: no page yet
        self._pods: PodsSnapshot | None = None
        self._crashlooping: set[str] = set()
        self._oomkilled: set[str] = set()
        self._backup: bool | None = None  # metrics served by a backup (None: not known yet)
        self._infra: InfraSnapshot | None = None  # the last infra snapshot compared
        self._nodes: dict[str, tuple[bool | None, frozenset[str]]] = {}  # node -> (Ready, pressures) last seen
        self._revision: int | None = None  # the newest revision seen (None: none yet)

    def prime(self, events: Iterable[Any]) -> None:
        """Start from what an incident's timeline already says (after a
        restart): the Clay incidents it saw and did not see resolved, the
        pods it reported, the sources it saw fail and not recover — also
        those in the declaration's evidence — so they are not reported again,
        and a change while the cockpit was away is."""
        incidents: dict[str, tuple[tuple[str, str, str], str]] = {}
        for kind, at, d in _moments(events):
            if kind in (EventKind.CLAY_INCIDENT_APPEARED, EventKind.CLAY_INCIDENT_UPDATED) and isinstance(d.get("id"), str):
                key = (str(d.get("status", "")), str(d.get("update_at") or ""), str(d.get("update", "")))
                incidents[d["id"]] = (key, str(d.get("name", "")))
            elif kind == EventKind.CLAY_INCIDENT_RESOLVED:
                incidents.pop(str(d.get("id")), None)
            elif kind in (EventKind.POD_OOMKILLED, EventKind.POD_CRASHLOOPING):
                raw_pods = d.get("pods")
                pods = raw_pods if isinstance(raw_pods, list) else []
                names = {p["name"] for p in pods if isinstance(p, dict) and isinstance(p.get("name"), str)}
                (self._oomkilled if kind == EventKind.POD_OOMKILLED else self._crashlooping).update(names)
            elif kind in _NODE_KINDS and isinstance(d.get("node"), str):
                ready = d.get("ready")
                pressure = d.get("pressure")
                pressing = frozenset(p for p in pressure if isinstance(p, str)) if isinstance(pressure, list) else frozenset()
                self._nodes[d["node"]] = (ready if isinstance(ready, bool) else None, pressing)
            elif kind == EventKind.ROLLOUT_SEEN and isinstance(d.get("revision"), int):
                self._revision = max(self._revision or 0, d["revision"])
            elif (
                kind in (EventKind.SOURCE_FAILED, EventKind.SOURCE_RECOVERED) and d.get("source") in self._sources and "served_by" not in d
            ):
                state = self._sources[d["source"]]
                error = _error_kind(d.get("kind")) if kind == EventKind.SOURCE_FAILED else None
                state.failing = SourceError(d["source"], error, str(d.get("message", "")), str(d.get("hint", "")), at=at) if error else None
                state.since = at
        if incidents:
            self._incidents = dict(list(incidents.items())[:MAX_TRACKED])
        for names in (self._oomkilled, self._crashlooping):
            while len(names) > MAX_TRACKED:
                names.pop()

    def update(self, signals: Signals, now: float) -> list[Notable]:
        """What changed since the last call, oldest concern first."""
        out: list[Notable] = []
        for name in POLLED:
            out += self._source(name, getattr(signals, name), now)
        out += self._status_page(signals.statuspage, now)
        out += self._metrics_backup(signals.metrics, now)
        out += self._pods_update(signals.pods, now)
        out += self._infra_update(signals.infra, now)
        return out

    def logs(self, error: SourceError | None, now: float) -> list[Notable]:
        """The log follow failed (``error``) or works again (``None``)."""
        state = self._sources["logs"]
        return self._transition("logs", state, error, ok=error is None, now=now)

    # -- sources ------------------------------------------------------------

    def _source(self, name: str, reading: Reading[Any], now: float) -> list[Notable]:
        if reading.error is None and reading.value is None:
            return []  # not asked yet
        return self._transition(name, self._sources[name], reading.error, ok=reading.ok, now=now)

    def _transition(self, name: str, state: _Source, error: SourceError | None, *, ok: bool, now: float) -> list[Notable]:
        if error is not None and state.failing is None:
            state.failing, state.since = error, now
            data: dict[str, Any] = {
                "source": name,
                "kind": error.kind.value,
                "message": one_line(error.message, 300),
                "hint": one_line(error.hint, 300),
                "status_code": error.status_code,
            }
            return [
                Notable(EventKind.SOURCE_FAILED, f"{LABEL[name]} failed: {error.kind.value} — {one_line(error.message, TEXT)}", now, data)
            ]
        if error is None and ok and state.failing is not None:
            was, since = state.failing, state.since
            state.failing = None
            data = {"source": name, "was": was.kind.value, "down_seconds": round(now - since, 1)}
            return [
                Notable(EventKind.SOURCE_RECOVERED, f"{LABEL[name]} recovered after {_duration(now - since)} ({was.kind.value})", now, data)
            ]
        return []

    def _metrics_backup(self, reading: Reading[Any], now: float) -> list[Notable]:
        snap = reading.value
        if reading.error is not None or snap is None or not hasattr(snap, "is_backup"):
            return []
        before, self._backup = self._backup, bool(snap.is_backup)
        if before is None and not snap.is_backup or before == snap.is_backup:
            return []
        if snap.is_backup:
            why = f"{snap.failovers[0].kind.value}: {one_line(snap.failovers[0].message, TEXT)}" if snap.failovers else "failed"
            data = {"source": "metrics", "primary": why, "served_by": snap.served_by}
            return [Notable(EventKind.SOURCE_FAILED, f"Prometheus primary {why} — a backup serves ({snap.served_by})", now, data)]
        return [
            Notable(EventKind.SOURCE_RECOVERED, "Prometheus primary serves again", now, {"source": "metrics", "served_by": snap.served_by})
        ]

    # -- Clay's status page ---------------------------------------------------

    def _status_page(self, reading: Reading[StatusPageSnapshot], now: float) -> list[Notable]:
        page = reading.value
        if reading.error is not None or page is None or page is self._page:
            return []  # a failed poll says nothing about Clay's incidents
        self._page = page
        before = self._incidents or {}
        first = self._incidents is None
        now_listed: dict[str, tuple[tuple[str, str, str], str]] = {}
        out: list[Notable] = []
        for inc in page.incidents[:MAX_TRACKED]:
            key = _incident_key(inc)
            now_listed[inc.id] = (key, inc.name)
            old = before.get(inc.id)
            if old is None:
                what = "on the status page" if first else "appeared"
                summary = f"Clay incident {what}: {one_line(inc.name, UPDATE_TEXT)} ({inc.status}, impact {inc.impact})"
                out.append(Notable(EventKind.CLAY_INCIDENT_APPEARED, summary, now, _incident_data(inc)))
            elif old[0] != key:
                text = f": {one_line(inc.latest_update, UPDATE_TEXT)}" if inc.latest_update else ""
                summary = f"Clay incident updated: {one_line(inc.name, UPDATE_TEXT)} — {inc.status}{text}"
                out.append(Notable(EventKind.CLAY_INCIDENT_UPDATED, summary, now, _incident_data(inc)))
        for inc_id, (_, name) in before.items():
            if inc_id not in now_listed:
                summary = f"Clay incident resolved: {one_line(name, UPDATE_TEXT)} (no longer listed as unresolved)"
                out.append(Notable(EventKind.CLAY_INCIDENT_RESOLVED, summary, now, {"id": inc_id, "name": name}))
        self._incidents = now_listed
        return out

    # -- pods -------------------------------------------------------------------

    def _pods_update(self, reading: Reading[PodsSnapshot], now: float) -> list[Notable]:
        snap = reading.value
        if reading.error is not None or snap is None or snap is self._pods:
            return []
        self._pods = snap
        pods = [p for p in snap.pods[:MAX_TRACKED] if p.status.lower() != "terminating"]
        present = {p.name for p in snap.pods[:MAX_TRACKED]}
        self._crashlooping &= present  # forget pods that are gone (bounded)
        self._oomkilled &= present
        out: list[Notable] = []
        oom = [p for p in pods if is_oomkilled(p) and p.name not in self._oomkilled]
        if oom:
            self._oomkilled |= {p.name for p in oom}
            word = "Pod" if len(oom) == 1 else f"{len(oom)} pods"
            out.append(
                Notable(EventKind.POD_OOMKILLED, f"{word} OOMKilled: {_names(oom)}", now, {"pods": [_pod_data(p) for p in oom[:20]]})
            )
        loop = [p for p in pods if is_crashlooping(p, self.restarts_warn) and p.name not in self._crashlooping]
        if loop:
            self._crashlooping |= {p.name for p in loop}
            word = "Pod" if len(loop) == 1 else f"{len(loop)} pods"
            restarts = max(p.restarts for p in loop)
            summary = f"{word} crashlooping: {_names(loop)} (up to {restarts} restart{'' if restarts == 1 else 's'})"
            out.append(Notable(EventKind.POD_CRASHLOOPING, summary, now, {"pods": [_pod_data(p) for p in loop[:20]]}))
        return out

    # -- nodes and rollouts (issue 14) -------------------------------------------

    def _infra_update(self, reading: Reading[InfraSnapshot], now: float) -> list[Notable]:
        snap = reading.value
        if reading.error is not None or snap is None or snap is self._infra:
            return []
        self._infra = snap
        return self._node_moments(snap, now) + self._rollout(snap, now)

    def _node_moments(self, snap: InfraSnapshot, now: float) -> list[Notable]:
        if not snap.nodes and any("node" in e.message for e in snap.missing):
            return []  # nodes not read this time: nothing is known about them, nothing changed
        out: list[Notable] = []
        seen: dict[str, tuple[bool | None, frozenset[str]]] = {}
        for n in snap.nodes[:MAX_TRACKED]:
            state = seen[n.name] = (n.ready, frozenset(n.pressure))
            was_ready, was_pressure = self._nodes.get(n.name, (True, frozenset()))  # first sight: only what is wrong is news
            data = _node_data(n)
            if was_ready is True and n.ready is not True:
                how = "NotReady" if n.ready is False else "not reporting (Ready Unknown)"
                why = f": {one_line(n.message, TEXT)}" if n.message else ""
                out.append(Notable(EventKind.NODE_NOT_READY, f"Node {n.name} {how}{why} — runs {_pods_on(n)}", now, data))
            elif was_ready is not True and n.ready is True:
                out.append(Notable(EventKind.NODE_READY, f"Node {n.name} Ready again — runs {_pods_on(n)}", now, data))
            for p in sorted(state[1] - was_pressure):
                out.append(Notable(EventKind.NODE_PRESSURE, f"Node {n.name} {p} — runs {_pods_on(n)}", now, {**data, "condition": p}))
            for p in sorted(was_pressure - state[1]):
                out.append(Notable(EventKind.NODE_PRESSURE_ENDED, f"Node {n.name}: {p} ended", now, {**data, "condition": p}))
        self._nodes = seen  # nodes our pods left are forgotten (bounded)
        return out

    def _rollout(self, snap: InfraSnapshot, now: float) -> list[Notable]:
        if not snap.revisions:
            return []
        newest = max(snap.revisions, key=lambda r: r.number)
        before, self._revision = self._revision, max(self._revision or 0, newest.number)
        if before is None or newest.number <= before:
            return []  # the first look is what was there, not a rollout seen
        suffix = f"(revision {newest.number})"
        change = next((c for c in snap.changes if c.what == "rollout" and _of_revision(c, suffix)), None)
        image = newest.images[0][1] if newest.images else ""
        summary = change.summary if change is not None else f"rollout to {_tag(image) or '?'} {suffix}"
        if change is not None and change.by and not summary.endswith(f" by {change.by}"):
            summary += f" by {change.by}"
        data = {
            "revision": newest.number,
            "replicaset": newest.replicaset,
            "images": [list(i) for i in newest.images[:10]],
            "detail": list(change.detail[:20]) if change is not None else [],
            "by": change.by if change is not None else "",
            "at": newest.created_at,
        }
        return [Notable(EventKind.ROLLOUT_SEEN, summary, now, data)]


def _of_revision(c: Change, suffix: str) -> bool:
    """Is this rollout's summary about the revision ("… (revision 7)", or "… (revision 7) by ci-deploy")?"""
    return c.summary.endswith(suffix) or bool(c.by) and c.summary.endswith(f"{suffix} by {c.by}")


_NODE_KINDS = (EventKind.NODE_NOT_READY, EventKind.NODE_READY, EventKind.NODE_PRESSURE, EventKind.NODE_PRESSURE_ENDED)


def _node_data(n: NodeInfo) -> dict[str, Any]:
    return {
        "node": n.name,
        "ready": n.ready,
        "pressure": list(n.pressure),
        "unschedulable": n.unschedulable,
        "pods": list(n.pods[:20]),
        "message": one_line(n.message, TEXT),
    }


def _pods_on(n: NodeInfo) -> str:
    if not n.pods:
        return "none of our pods now"
    names = ", ".join(n.pods[:MAX_NAMED]) + (f" and {len(n.pods) - MAX_NAMED} more" if len(n.pods) > MAX_NAMED else "")
    return f"{len(n.pods)} of our pods ({names})"


def _tag(image: str) -> str:
    """The tag of an image reference (``registry/app:1.14.3`` → ``1.14.3``), else the reference."""
    if "@" in image:
        return image.split("@", 1)[1].removeprefix("sha256:")[:12]
    name, _, tag = image.rpartition(":")
    return tag if name and "/" not in tag else image


def summaries(notables: Iterable[Notable]) -> list[str]:
    """The one-line summaries (for logs and tests)."""
    return [n.summary for n in notables]
