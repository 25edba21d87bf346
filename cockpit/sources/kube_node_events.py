"""Node events beside our namespace's (issue 14).

A real kubelet and node controller record the events about a Node in the
``default`` namespace, where events about cluster-scoped objects go — so the
watch of our namespace never sees them. Its Warning ones are followed here
(EvictionThresholdMet, SystemOOM, Rebooted, FreeDiskSpaceFailed …); the
node-status ones (NodeNotReady, NodeHasInsufficientMemory …) are Normal
events, and what they say the poll reads from the node's conditions.

:func:`follow` runs two :class:`~clay_cockpit.sources.kube_events.EventWatch`
follows until ``stop``: our namespace's Warning events, and ``default``'s
with the field selector ``involvedObject.kind=Node,type=Warning`` (each listed
once, then watched; each bounded). ``on_events`` gets the two merged into one
deduplicated set (:func:`~clay_cockpit.sources.kube_events.ours` then keeps
the nodes our pods run on); ``on_error`` gets the namespaced watch's
failures, ``on_node_error`` the node watch's — a 403 there (a responder
bound to our namespace may not read ``default``) names the permission and
leaves the namespaced watch going. When our namespace is ``default``, its
one watch already sees the node events: ``default`` is not watched twice.
Never raises.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from clay_cockpit.signals import KubeEvent
from clay_cockpit.sources.kube_events import MAX_OBJECTS, ErrorSink, EventSink, EventWatch, aggregate
from clay_cockpit.sources.kube_watch import WATCH_SECONDS

if TYPE_CHECKING:
    from clay_cockpit.sources.kube import Kube

NAMESPACE = "default"  # where events about Nodes are recorded
SELECTOR = "involvedObject.kind=Node,type=Warning"
WHY = "node events (eviction thresholds, system OOMs, reboots) are recorded there"
NODE_OBJECTS = 1000  # node Event objects kept (every node's in the cluster: ours are picked when shown)
JOIN_SECONDS = 5.0  # for the node watch's thread to end once closed (its read is woken at once)


class _Merge:
    """The latest set of each watch, delivered as one (serialised: the two
    watches call from their own threads)."""

    def __init__(self, on_events: EventSink) -> None:
        self.on_events = on_events
        self._lock = threading.Lock()
        self._parts: dict[str, tuple[tuple[KubeEvent, ...], float]] = {}

    def sink(self, part: str) -> EventSink:
        def take(events: tuple[KubeEvent, ...], since: float) -> None:
            with self._lock:  # held while delivering: a newer merge never overtakes an older one
                self._parts[part] = (events, since)
                ours = self._parts.get("namespace")
                merged = aggregate((e for got, _ in self._parts.values() for e in got), MAX_OBJECTS + NODE_OBJECTS)
                self.on_events(merged, ours[1] if ours is not None else since)

        return take


def follow(
    kube: Kube,
    on_events: EventSink,
    on_error: ErrorSink,
    stop: threading.Event,
    on_node_error: ErrorSink | None = None,
    *,
    watch_seconds: int = WATCH_SECONDS,
) -> None:
    """Blocking: watch our namespace's Warning events and, when
    ``on_node_error`` is given and our namespace is not ``default``, the node
    events of ``default``, until ``stop`` is set; see the module docstring.
    No callback is called after this returns: the node watch is closed when
    the namespaced watch returned (at once, then up to ``JOIN_SECONDS`` to
    let its request go); both are closed by the kube source's one closer
    thread when ``stop`` is set."""
    if on_node_error is None or kube.config.namespace == NAMESPACE:
        EventWatch(kube, on_events, on_error, stop, watch_seconds=watch_seconds).run()
        return
    merge = _Merge(on_events)
    nodes = EventWatch(
        kube,
        merge.sink("nodes"),
        on_node_error,
        stop,
        watch_seconds=watch_seconds,
        book_limit=NODE_OBJECTS,
        namespace=NAMESPACE,
        field_selector=SELECTOR,
        what="node events",
        why=WHY,
    )
    thread = threading.Thread(target=nodes.run, name="infra:node-events-follow", daemon=True)
    thread.start()
    try:
        EventWatch(kube, merge.sink("namespace"), on_error, stop, watch_seconds=watch_seconds).run()
    finally:
        nodes.close()
        thread.join(JOIN_SECONDS)
