"""Warning events of our namespace: listed once, then watched (issue 14).

Pure part: :func:`parse_event` reads one Event object in either form the
API serves (``core/v1``: ``involvedObject``, ``message``, ``count``,
``firstTimestamp``/``lastTimestamp``, ``source``; ``events.k8s.io/v1``:
``regarding``, ``note``, ``deprecatedCount``, ``deprecated*Timestamp``,
``reportingController``; both may carry ``series`` and ``eventTime``);
:class:`EventBook` keeps the Event objects by uid (an ADDED or MODIFIED
replaces one — its count is the API's newest — a DELETED drops it: the API
expires events after an hour) and :func:`aggregate` folds them into one
:class:`~clay_cockpit.signals.KubeEvent` per (kind, name, reason, message),
counts summed, newest first, bounded. :func:`in_scope` keeps those about our
deployment, its ReplicaSets, its pods and their nodes.

The follow: :class:`EventWatch` is a
:class:`~clay_cockpit.sources.kube_watch.ListWatch` (issue 15: the same
list + watch the pods and the rollout use) of the ``type=Warning`` events: listed
once, then watched from the list's resourceVersion (``timeoutSeconds`` and
the client's request timeout on every request, bookmarks allowed). A watch
that ends (its timeout) or drops (network, API server restart) is resumed
from the last resourceVersion seen — never re-listed; a 410 Gone ("too old
resource version", as an HTTP status or as the stream's ERROR event)
re-lists; a watch the identity may not open is kept by listing every
``kube.refresh``. Runs until ``stop`` is set (the kube source's closer then
shuts the blocked read's socket). Never raises: failures go to ``on_error``
as SourceErrors (``None`` once it works again). The namespace and field selector are parameters: the same
watch follows the node events of ``default``
(:mod:`clay_cockpit.sources.kube_node_events`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from clay_cockpit.redact import redact
from clay_cockpit.sanitise import clean_line
from clay_cockpit.signals import KubeEvent, SourceError
from clay_cockpit.sources.kube_watch import WATCH_SECONDS, Book, ListWatch, Resource

if TYPE_CHECKING:
    from clay_cockpit.sources.kube import Kube

_log = logging.getLogger(__name__)

SOURCE = "infra"
MAX_OBJECTS = 2000  # Event objects the watch keeps (the namespace's Warning events; the oldest go first)
MAX_DISTINCT = 200  # deduplicated events in a snapshot
EVENTS = Resource("events", "", "list_namespaced_event")

EventSink = Callable[[tuple[KubeEvent, ...], float], object]  # (events, watched since)
ErrorSink = Callable[[SourceError | None], object]


# --------------------------------------------------------------------------
# One Event object → KubeEvent (pure)


def _d(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _text(value: object) -> str:
    """Outside text made inert and one line, redacted, never cut (a pane cuts when drawing)."""
    return redact(clean_line(value)).strip() if isinstance(value, str) else ""


def epoch(value: object) -> float | None:
    """An RFC 3339 time (``Z``, offsets, micro/nanoseconds) → epoch seconds."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    if "." in text:  # Python reads at most 6 fraction digits
        head, _, rest = text.partition(".")
        digits = rest[: len(rest) - len(rest.lstrip("0123456789"))]
        zone = rest[len(digits) :]
        text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when.timestamp() if when.tzinfo is not None else None


def _newest(*values: float | None) -> float | None:
    known = [v for v in values if v is not None]
    return max(known) if known else None


def object_key(obj: dict[str, Any]) -> str:
    """The identity of one Event object: its uid, else namespace/name."""
    meta = _d(obj.get("metadata"))
    uid = meta.get("uid")
    return str(uid) if isinstance(uid, str) and uid else f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def parse_event(obj: object) -> KubeEvent | None:
    """An Event object (core/v1 or events.k8s.io/v1) → KubeEvent; None when it names no object."""
    if not isinstance(obj, dict):
        return None
    meta = _d(obj.get("metadata"))
    ref = _d(obj.get("involvedObject")) or _d(obj.get("regarding"))
    kind, name = _text(ref.get("kind")), _text(ref.get("name"))
    if not kind or not name:
        return None
    series = _d(obj.get("series"))
    count = max(_int(series.get("count")), _int(obj.get("count")), _int(obj.get("deprecatedCount")), 1)
    event_time = epoch(obj.get("eventTime"))
    first = epoch(obj.get("firstTimestamp")) or epoch(obj.get("deprecatedFirstTimestamp")) or event_time
    last = _newest(
        epoch(series.get("lastObservedTime")),
        epoch(obj.get("lastTimestamp")),
        epoch(obj.get("deprecatedLastTimestamp")),
        event_time,
    )
    created = epoch(meta.get("creationTimestamp"))
    first = first if first is not None else created
    last = last if last is not None else created
    old_source = _d(obj.get("source")) or _d(obj.get("deprecatedSource"))
    component = _text(obj.get("reportingComponent")) or _text(obj.get("reportingController")) or _text(old_source.get("component"))
    host = _text(old_source.get("host")) or _text(obj.get("reportingInstance"))
    source = ", ".join(p for p in (component, host) if p)  # as kubectl shows it: "kubelet, node-2"
    return KubeEvent(
        kind=kind,
        name=name,
        reason=_text(obj.get("reason")),
        message=_text(obj.get("message")) or _text(obj.get("note")),
        count=count,
        first_seen=first,
        last_seen=last,
        type=_text(obj.get("type")) or "Warning",
        source=source,
        field_path=_text(ref.get("fieldPath")),
    )


def _order(e: KubeEvent) -> tuple[float, str, str, str, str]:
    """Newest first; unknown times last; then a stable order by key."""
    return (-(e.last_seen if e.last_seen is not None else float("-inf")), e.kind, e.name, e.reason, e.message)


def aggregate(events: Iterable[KubeEvent], limit: int = MAX_DISTINCT) -> tuple[KubeEvent, ...]:
    """One KubeEvent per (kind, name, reason, message): counts summed, the
    earliest first_seen, the newest last_seen (and its source), newest first,
    at most ``limit``."""
    merged: dict[tuple[str, str, str, str], KubeEvent] = {}
    for e in events:
        key = (e.kind, e.name, e.reason, e.message)
        had = merged.get(key)
        if had is None:
            merged[key] = e
            continue
        newer = e if (e.last_seen or float("-inf")) > (had.last_seen or float("-inf")) else had
        firsts = [t for t in (had.first_seen, e.first_seen) if t is not None]
        merged[key] = KubeEvent(
            kind=e.kind,
            name=e.name,
            reason=e.reason,
            message=e.message,
            count=had.count + e.count,
            first_seen=min(firsts) if firsts else None,
            last_seen=_newest(had.last_seen, e.last_seen),
            type=newer.type,
            source=newer.source,
            field_path=newer.field_path,
        )
    return tuple(sorted(merged.values(), key=_order)[: max(0, limit)])


@dataclass(frozen=True)
class Scope:
    """What is ours: the deployment, its ReplicaSets, its pods and their nodes."""

    deployment: str
    replicasets: frozenset[str] = frozenset()
    pods: frozenset[str] = frozenset()
    nodes: frozenset[str] = frozenset()


def in_scope(e: KubeEvent, scope: Scope) -> bool:
    """About our deployment, one of its ReplicaSets, one of our pods (listed
    now, or named after one of our ReplicaSets: a pod already replaced) or a
    node our pods run on."""
    if e.kind == "Deployment":
        return e.name == scope.deployment
    if e.kind == "ReplicaSet":
        return e.name in scope.replicasets
    if e.kind == "Pod":
        return e.name in scope.pods or any(e.name.startswith(rs + "-") for rs in scope.replicasets)
    if e.kind == "Node":
        return e.name in scope.nodes
    return False


def ours(events: Iterable[KubeEvent], scope: Scope, limit: int = MAX_DISTINCT) -> tuple[KubeEvent, ...]:
    return tuple(e for e in events if in_scope(e, scope))[: max(0, limit)]


def warning(obj: dict[str, Any]) -> KubeEvent | None:
    """An Event object → KubeEvent when it is a Warning; else None (a watch holds Warning events only)."""
    event = parse_event(obj)
    return event if event is not None and event.type == "Warning" else None


class EventBook(Book[KubeEvent]):
    """The Warning Event objects seen (by uid), bounded to ``limit`` (the least recently changed go first)."""

    def __init__(self, limit: int = MAX_OBJECTS) -> None:
        super().__init__(warning, limit)

    def events(self, limit: int = MAX_OBJECTS) -> tuple[KubeEvent, ...]:
        return aggregate(self.values(), limit)


# --------------------------------------------------------------------------
# The watch (blocking; in a worker thread)


class EventWatch(ListWatch[KubeEvent]):
    """One long-running follow of a namespace's Warning events: a
    :class:`~clay_cockpit.sources.kube_watch.ListWatch` of ``events`` that
    delivers each deduplicated set (:meth:`EventBook.events`) with the time of
    its latest list; see the module docstring."""

    def __init__(
        self,
        kube: Kube,
        on_events: EventSink,
        on_error: ErrorSink,
        stop: threading.Event,
        *,
        watch_seconds: int = WATCH_SECONDS,
        book_limit: int = MAX_OBJECTS,
        namespace: str | None = None,
        field_selector: str = "type=Warning",
        what: str = "events",
        why: str = "",
    ) -> None:
        super().__init__(
            kube,
            EVENTS,
            warning,
            source=SOURCE,
            what=what,  # how its failures name it: "events", "node events"
            why=why,  # what a 403's hint adds after the permission (why the cockpit asks for it)
            namespace=namespace,
            field_selector=field_selector,
            on_change=self._deliver,
            on_error=on_error,
            watch_seconds=watch_seconds,
            relist_every=kube.config.refresh,
            book=EventBook(book_limit),
        )
        self.on_events = on_events
        self.stop = stop

    def run(self) -> None:
        """Follow until ``stop`` is set (the kube source's closer then closes it); callbacks are never called after this returns."""
        self.kube.closer.add(self.stop, self.close)
        if self.stop.is_set():
            self.close()
        super().run()

    def _deliver(self) -> None:
        if self.listed_at is None:
            return  # nothing listed yet: no set to give (a failure went to on_error)
        with self._lock:
            events = aggregate(self.book.values(), MAX_OBJECTS)
        self.on_events(events, self.listed_at)
