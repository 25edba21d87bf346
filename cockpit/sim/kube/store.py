"""The drill cluster's object store: objects by resource, one global
resourceVersion counter, a bounded event history, and watchers.

Single-threaded by design: every call happens on the simulator's event loop.
Stored objects are treated as immutable; writers put a fresh dict.
"""

from __future__ import annotations

import asyncio
import copy
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from clay_cockpit.sim.kube.util import ApiError

Obj = dict[str, Any]
Key = tuple[str, str]  # (namespace or "", name)

HISTORY = 2000  # watch events kept for resuming a watch from a resourceVersion
WATCH_QUEUE = 1000  # events buffered per watcher; a slower watcher is closed (it re-watches)


@dataclass(slots=True)
class Change:
    rv: int
    resource: str
    type: str  # ADDED | MODIFIED | DELETED
    obj: Obj
    prev: Obj | None


@dataclass(eq=False)
class Watcher:
    """One open watch. ``match`` decides membership (namespace, selectors)."""

    resource: str
    match: Callable[[Obj], bool]
    queue: asyncio.Queue[tuple[str, Obj] | None] = field(default_factory=lambda: asyncio.Queue(maxsize=WATCH_QUEUE))
    closed: bool = False

    def offer(self, change: Change) -> None:
        if self.closed or change.resource != self.resource:
            return
        event = translate(change, self.match)
        if event is None:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.close()

    def close(self) -> None:
        """End the watch: the stream's reader sees ``None`` and finishes."""
        if self.closed:
            return
        self.closed = True
        while True:
            try:
                self.queue.put_nowait(None)
                return
            except asyncio.QueueFull:
                self.queue.get_nowait()


def translate(change: Change, match: Callable[[Obj], bool]) -> tuple[str, Obj] | None:
    """The event a filtered watcher sees: entering the filter is ADDED, leaving it DELETED."""
    now = match(change.obj)
    before = change.prev is not None and match(change.prev)
    if change.type == "ADDED":
        return ("ADDED", change.obj) if now else None
    if change.type == "DELETED":
        return ("DELETED", change.obj) if (now or before) else None
    if now and before:
        return ("MODIFIED", change.obj)
    if now:
        return ("ADDED", change.obj)
    if before:
        return ("DELETED", change.obj)
    return None


class Store:
    def __init__(self) -> None:
        self.rv = 1000
        self._objects: dict[str, dict[Key, Obj]] = {}
        self._history: deque[Change] = deque(maxlen=HISTORY)
        self._compacted = self.rv  # changes at or below this are gone from history
        self._watchers: set[Watcher] = set()

    # -- reads ---------------------------------------------------------------

    def get(self, resource: str, namespace: str, name: str) -> Obj | None:
        return self._objects.get(resource, {}).get((namespace, name))

    def list(self, resource: str, namespace: str | None = None) -> list[Obj]:
        objs = self._objects.get(resource, {})
        keys = sorted(k for k in objs if namespace is None or k[0] == namespace)
        return [objs[k] for k in keys]

    def count(self, resource: str) -> int:
        return len(self._objects.get(resource, {}))

    # -- writes --------------------------------------------------------------

    def next_rv(self) -> int:
        self.rv += 1
        return self.rv

    def put(self, resource: str, obj: Obj) -> Obj:
        """Store ``obj`` (taking ownership) under a new resourceVersion; ADDED or MODIFIED."""
        meta = obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        bucket = self._objects.setdefault(resource, {})
        prev = bucket.get(key)
        meta["resourceVersion"] = str(self.next_rv())
        bucket[key] = obj
        self._emit(Change(self.rv, resource, "MODIFIED" if prev is not None else "ADDED", obj, prev))
        return obj

    def put_if_changed(self, resource: str, obj: Obj) -> Obj:
        """Like put, but keeps the stored object (and its resourceVersion) when nothing changed."""
        meta = obj["metadata"]
        prev = self.get(resource, meta.get("namespace", ""), meta["name"])
        if prev is not None:
            meta["resourceVersion"] = prev["metadata"].get("resourceVersion")
            if prev == obj:
                return prev
        return self.put(resource, obj)

    def delete(self, resource: str, namespace: str, name: str) -> Obj | None:
        bucket = self._objects.get(resource, {})
        prev = bucket.pop((namespace, name), None)
        if prev is None:
            return None
        final = copy.deepcopy(prev)
        final["metadata"]["resourceVersion"] = str(self.next_rv())
        self._emit(Change(self.rv, resource, "DELETED", final, prev))
        return final

    def _emit(self, change: Change) -> None:
        if len(self._history) == self._history.maxlen:
            self._compacted = self._history[0].rv
        self._history.append(change)
        for w in list(self._watchers):
            w.offer(change)

    # -- watches -------------------------------------------------------------

    def watch(self, resource: str, match: Callable[[Obj], bool], since: int | None) -> Watcher:
        """Open a watcher; with ``since`` replay later changes, else start with ADDED for every match.

        A ``since`` older than the kept history raises 410 Expired, as etcd compaction does.
        """
        w = Watcher(resource, match)
        if since is None:
            initial = [obj for obj in self.list(resource) if match(obj)]
            if len(initial) >= WATCH_QUEUE:
                raise ApiError(500, "too many objects to watch from the current state; list first and watch from its resourceVersion")
            for obj in initial:
                w.queue.put_nowait(("ADDED", obj))
        else:
            if since < self._compacted:
                raise ApiError(410, f"too old resource version: {since} ({self._compacted + 1})", reason="Expired")
            for change in self._history:
                if change.rv > since:
                    w.offer(change)
            if w.closed:  # more to replay than a watcher may buffer: make the client list again
                raise ApiError(410, f"too old resource version: {since} ({self._compacted + 1})", reason="Expired")
        self._watchers.add(w)
        return w

    def unwatch(self, w: Watcher) -> None:
        self._watchers.discard(w)
        w.close()

    def close_all(self) -> None:
        for w in list(self._watchers):
            self.unwatch(w)

    @property
    def watcher_count(self) -> int:
        return len(self._watchers)
