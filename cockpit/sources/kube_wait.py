"""Waiting on watches (issue 15): :class:`Waiter` — one consumer waits until
a :class:`~clay_cockpit.sources.kube_watch.ListWatch` changed, or a heartbeat
passed, blocking or awaited; :class:`Closer` — the watches end when their
consumer's stop event is set, though no consumer waits then. And what the two
rollout consumers (an action's follow, the infra poll) share: the deployment
watched by its name (:func:`deployment_watch`), a thread per watch
(:func:`watch_threads`)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from clay_cockpit.sources.kube_watch import DEPLOYMENTS, ListWatch

if TYPE_CHECKING:
    from clay_cockpit.sources.kube import Kube

T = TypeVar("T")

WAKE = 0.25  # seconds: how often a waiting consumer looks at the watches' versions and its stop event


class Closer:
    """Closes watches once their consumer's stop event is set (quit, hangup), though
    no consumer waits then: one thread per stop event, however many watches."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_event: dict[int, tuple[threading.Event, list[Callable[[], object]]]] = {}

    def add(self, stop: threading.Event, close: Callable[[], object]) -> None:
        with self._lock:
            entry = self._by_event.get(id(stop))  # (the entry holds the event: its id is not reused meanwhile)
            if entry is None:
                entry = self._by_event[id(stop)] = (stop, [])
                threading.Thread(target=self._wait, args=(stop,), name="kube:watch-closer", daemon=True).start()
            if close not in entry[1]:
                entry[1].append(close)

    def _wait(self, stop: threading.Event) -> None:
        stop.wait()
        with self._lock:
            _, closes = self._by_event.pop(id(stop))
        for close in closes:
            close()


class Waiter:
    """One consumer's wait on some watches: until any changed since it last
    looked (their :attr:`ListWatch.version`), or ``heartbeat`` seconds passed.
    The first wait also waits, ``first_grace`` seconds more, for every first
    list (or its failure). It looks every ``WAKE`` seconds: no lock is held
    across the wait and the watches' threads never wait for it."""

    def __init__(self, watches: tuple[ListWatch[Any], ...], first_grace: float) -> None:
        self.watches = watches
        self.first_grace = first_grace
        self._given: tuple[int, ...] | None = None
        self._poked_at: float | None = None  # poke(): answer once every watch listed since then (or failed)

    def _known(self) -> bool:
        return all(w.listed or w.error is not None for w in self.watches)

    def _versions(self) -> tuple[int, ...]:
        return tuple(w.version for w in self.watches)

    def poke(self) -> None:
        """A responder's refresh (the watches were asked to list again): the wait answers
        as soon as each has listed since now — or failed — though nothing changed."""
        self._poked_at = time.time()

    def _relisted(self) -> bool:
        since = self._poked_at
        return since is not None and all(w.error is not None or (w.listed_at or 0.0) >= since for w in self.watches)

    def _pause(self, now: float, deadline: float) -> float | None:
        """None: answer now; else how long to wait before looking again."""
        known = self._known()
        if known and (self._versions() != self._given or self._relisted()):
            return None
        end = deadline if known or self._given is not None else deadline + self.first_grace
        return None if now >= end else min(WAKE, end - now)

    def _taken(self) -> bool:
        changed = self._known() and (self._versions() != self._given or self._relisted())
        self._given = self._versions()
        if self._relisted():
            self._poked_at = None
        return changed

    def wait(self, stop: threading.Event, heartbeat: float) -> bool:
        """Blocking; True when something changed (False: the heartbeat, or ``stop``)."""
        deadline = time.monotonic() + max(0.0, heartbeat)
        while not stop.is_set() and (pause := self._pause(time.monotonic(), deadline)) is not None:
            stop.wait(pause)
        return self._taken()

    async def wait_async(self, stop: threading.Event, heartbeat: float) -> bool:
        """The same, awaited on an event loop (no thread held while waiting)."""
        deadline = time.monotonic() + max(0.0, heartbeat)
        while not stop.is_set() and (pause := self._pause(time.monotonic(), deadline)) is not None:
            await asyncio.sleep(pause)
        return self._taken()


def deployment_watch(
    kube: Kube, name: str, parse: Callable[[dict[str, Any]], T | None], *, source: str, why: str, relist_every: float, watch_seconds: int
) -> ListWatch[T]:
    """The deployment ``name``, watched by its name (``fieldSelector=metadata.name=…``, which RBAC
    authorises against a ``resourceNames`` rule)."""
    return ListWatch(
        kube,
        DEPLOYMENTS,
        parse,
        source=source,
        what=f"deployment {name}",
        why=why,
        field_selector=f"metadata.name={name}",
        relist_every=relist_every,
        watch_seconds=watch_seconds,
    )


def watch_threads(source: str, watches: tuple[ListWatch[Any], ...]) -> list[threading.Thread]:
    """A daemon thread per watch, not started, named ``<source>:<plural>-watch``."""
    return [threading.Thread(target=w.run, name=f"{source}:{w.resource.plural}-watch", daemon=True) for w in watches]
