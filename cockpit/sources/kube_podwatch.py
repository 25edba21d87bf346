"""Our pods through list + watch, as the pods poll reads them (issue 15).

:class:`PodWatch` keeps the selector's pods current with one
:class:`~clay_cockpit.sources.kube_watch.ListWatch` (one thread, started on
first use, ended when the consumer's ``stop`` is set) and hands out
:class:`~clay_cockpit.signals.PodsSnapshot` values: :meth:`PodWatch.next`
(or, on an event loop, :meth:`PodWatch.next_async`, which holds no thread)
waits until the pods changed since the last snapshot it gave (or the watch
failed, or recovered), or until ``heartbeat`` seconds passed — then it gives
the same pods again, current as of now while the watch is open, so the age a
pane shows stays honest. The consumer coalesces: whatever changed while it
was away comes as one snapshot. A 500-pod deployment churning is a few
snapshots a second at most (the poll's own interval), never one per event.

An identity that may list pods but not watch them: the pods are listed every
``kube.refresh`` seconds instead and the snapshot says so
(``PodsSnapshot.listed_instead``: why, and what to ask for), as ``clay-cockpit
check`` does. Never raises.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from clay_cockpit.signals import ErrorKind, PodInfo, PodsSnapshot, SourceError
from clay_cockpit.sources._errors import make_error, unexpected
from clay_cockpit.sources.kube_wait import Waiter
from clay_cockpit.sources.kube_watch import PODS, WATCH_SECONDS, ListWatch

if TYPE_CHECKING:
    from clay_cockpit.sources.kube import Kube

WHY = "the pods pane and triage follow them"


class PodWatch:
    """The selector's pods, watched; see the module docstring."""

    def __init__(self, kube: Kube, parse: Callable[[dict[str, Any]], PodInfo], *, watch_seconds: int = WATCH_SECONDS) -> None:
        cfg = kube.config
        self.kube = kube
        self.watch: ListWatch[PodInfo] = ListWatch(
            kube,
            PODS,
            parse,  # kube.pod_info (passed in: that module builds this one)
            source="kube",
            what=f"pods {cfg.selector}",
            why=WHY,
            label_selector=cfg.selector,
            relist_every=cfg.refresh,
            watch_seconds=watch_seconds,
        )
        self._waiter = Waiter((self.watch,), first_grace=cfg.timeout + 1.0)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self, stop: threading.Event) -> None:
        """Start the watch's thread (once, and not once ``stop`` is set); it runs until :meth:`close`, called once ``stop`` is set."""
        self.kube.closer.add(stop, self.close)
        with self._lock:
            if self._thread is not None or stop.is_set() or self.closed:
                return
            self._thread = threading.Thread(target=self.watch.run, name="kube:pods-watch", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.watch.close()

    def resync(self) -> None:
        """List the pods again now (a responder's refresh); the next snapshot, as soon as that list
        answered, says what it found."""
        self._waiter.poke()  # first: a list that answers before this line returns counts too
        self.watch.resync()

    @property
    def closed(self) -> bool:
        return self.watch.closed

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    def next(self, stop: threading.Event, heartbeat: float) -> PodsSnapshot | SourceError:
        """Blocking: the pods once they changed since the last call, or after ``heartbeat`` seconds; see the module docstring."""
        try:
            self.start(stop)
            if not self.closed:  # (closed: its last pods, at once)
                self._waiter.wait(stop, heartbeat)
            return self._answer(stop)
        except Exception as exc:  # outermost boundary: never raise into the caller
            return unexpected("kube", exc, f"the watch of pods {self.kube.config.selector}")

    async def next_async(self, stop: threading.Event, heartbeat: float) -> PodsSnapshot | SourceError:
        """:meth:`next`, awaited on an event loop: no thread is held while it waits."""
        try:
            self.start(stop)
            if not self.closed:
                await self._waiter.wait_async(stop, heartbeat)
            return self._answer(stop)
        except Exception as exc:  # outermost boundary: never raise into the caller
            return unexpected("kube", exc, f"the watch of pods {self.kube.config.selector}")

    def _answer(self, stop: threading.Event) -> PodsSnapshot | SourceError:
        if stop.is_set():
            self.close()  # (at once: the closer may not have run yet)
        return self.snapshot()

    def snapshot(self) -> PodsSnapshot | SourceError:
        """What the watch holds now: a PodsSnapshot, or its failure."""
        w = self.watch
        cfg = self.kube.config
        error, fallback = w.error, w.fallback
        if error is not None:
            return error
        if not w.listed:
            return make_error(
                "kube",
                ErrorKind.TIMEOUT,
                f"no pod list from the API server of context {self.kube.context} within {cfg.timeout:g}s",
                f"the API server is slow or unreachable; `kubectl --context {self.kube.context} get pods -n {cfg.namespace}`",
            )
        return PodsSnapshot(
            context=self.kube.context,
            namespace=cfg.namespace,
            selector=cfg.selector,
            pods=tuple(sorted(w.objects(), key=lambda p: p.name)),
            fetched_at=time.time() if fallback is None and not w.closed else (w.synced_at or time.time()),
            response_ms=w.list_ms,
            listed_instead=fallback,
        )


def watched_pods(kube: Kube) -> tuple[PodInfo, ...] | None:
    """The pods ``kube``'s watch holds while it is current (listed, not failing, not closed); else None."""
    watch = getattr(kube, "_pod_watch", None)
    if not isinstance(watch, PodWatch) or watch.closed:
        return None
    w = watch.watch
    return w.objects() if w.listed and w.error is None else None
