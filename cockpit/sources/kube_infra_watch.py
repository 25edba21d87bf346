"""The deployment and its ReplicaSets, listed once then watched (issue 15).

The infrastructure poll (:mod:`clay_cockpit.sources.kube_infra`) builds the
rollout history and the rollout changes from our deployment and its
ReplicaSets. :class:`RolloutWatch` keeps both current with two
:class:`~clay_cockpit.sources.kube_watch.ListWatch` follows (a thread each,
started on first use, ended when the consumer's ``stop`` is set): the
deployment by its name (``fieldSelector=metadata.name=…``, which RBAC
authorises against a ``resourceNames`` rule), the ReplicaSets by the pods'
label selector (a ReplicaSet carries its pod template's labels), kept as the
API's JSON (bounded: a deployment keeps ``revisionHistoryLimit`` of them).

:meth:`RolloutWatch.wait` (:meth:`RolloutWatch.wait_async` on an event
loop) waits until either changed since the last call,
or ``heartbeat`` seconds passed: a rollout reaches the infra view and triage
as it happens, not at the next poll. A watch that fails leaves the poll to
read that part itself (:meth:`RolloutWatch.deployment`,
:meth:`RolloutWatch.replicasets` give ``None``); one the identity may not open
is kept by listing, as the pods are, and still serves (a list every few
seconds is as current as the poll's own read; an action's follow, which needs
the events, refuses it: :mod:`clay_cockpit.sources.kube_follow`). Never raises.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from clay_cockpit.sources.kube_wait import Waiter, deployment_watch, watch_threads
from clay_cockpit.sources.kube_watch import REPLICASETS, WATCH_SECONDS, ListWatch

if TYPE_CHECKING:
    from clay_cockpit.sources.kube import Kube

SOURCE = "infra"
DEPLOY_WHY = "the rollout history and what changed"  # what a 403's hint adds
MAX_REPLICASETS = 200  # ReplicaSets kept (revisionHistoryLimit is 10 by default)


def _raw(obj: dict[str, Any]) -> dict[str, Any]:
    """Kept as the API's JSON, without managedFields' field sets (the history reads only their times and managers)."""
    meta = obj.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("managedFields"), list):
        fields = [{k: v for k, v in f.items() if k != "fieldsV1"} for f in meta["managedFields"] if isinstance(f, dict)]
        obj = {**obj, "metadata": {**meta, "managedFields": fields}}
    return obj


class RolloutWatch:
    """Our deployment and its ReplicaSets, watched; see the module docstring."""

    def __init__(self, kube: Kube, deployment: str, *, relist_every: float, watch_seconds: int = WATCH_SECONDS) -> None:
        cfg = kube.config
        self.deploy = deployment_watch(
            kube, deployment, _raw, source=SOURCE, why=DEPLOY_WHY, relist_every=relist_every, watch_seconds=watch_seconds
        )
        self.sets: ListWatch[dict[str, Any]] = ListWatch(
            kube,
            REPLICASETS,
            _raw,
            source=SOURCE,
            what=f"the ReplicaSets {cfg.selector}",
            why="the rollout history (o, then h); U plans a rollback to a revision",
            label_selector=cfg.selector,
            relist_every=relist_every,
            limit=MAX_REPLICASETS,
            watch_seconds=watch_seconds,
        )
        self._waiter = Waiter((self.deploy, self.sets), first_grace=cfg.timeout + 1.0)
        self._closer = kube.closer
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    @property
    def threads(self) -> tuple[threading.Thread, ...]:
        return tuple(self._threads)

    @property
    def closed(self) -> bool:
        return self.deploy.closed

    def start(self, stop: threading.Event) -> None:
        """Start the watches' threads (once); they run until :meth:`close`, called once ``stop`` is set."""
        self._closer.add(stop, self.close)
        with self._lock:
            if self._threads or stop.is_set() or self.closed:
                return
            self._threads = watch_threads(SOURCE, (self.deploy, self.sets))
        for t in self._threads:
            t.start()

    def close(self) -> None:
        self.deploy.close()
        self.sets.close()

    def resync(self) -> None:
        """List both again now (a responder's refresh): the waiting poll answers once they did."""
        self._waiter.poke()  # first: a list that answers before this line returns counts too
        self.deploy.resync()
        self.sets.resync()

    def wait(self, stop: threading.Event, heartbeat: float) -> bool:
        """Blocking: until the deployment or its ReplicaSets changed since the last call (True), or
        ``heartbeat`` seconds passed (False). The first call waits for both first lists (or their failures)."""
        self.start(stop)
        if self.closed:
            return False  # (the poll then reads them itself)
        changed = self._waiter.wait(stop, heartbeat)
        if stop.is_set():
            self.close()
        return changed

    async def wait_async(self, stop: threading.Event, heartbeat: float) -> bool:
        """:meth:`wait`, awaited on an event loop: no thread is held while it waits."""
        self.start(stop)
        if self.closed:
            return False
        changed = await self._waiter.wait_async(stop, heartbeat)
        if stop.is_set():
            self.close()
        return changed

    @staticmethod
    def _usable(w: ListWatch[dict[str, Any]]) -> bool:
        return w.listed and w.error is None and not w.closed

    def deployment(self) -> dict[str, Any] | None:
        """The deployment as watched, or None: read it yourself (a deployment not found too: the read names the 404)."""
        found = self.deploy.objects() if self._usable(self.deploy) else ()
        return found[0] if found else None

    def replicasets(self) -> list[dict[str, Any]] | None:
        """The ReplicaSets as watched, or None: read them yourself."""
        return list(self.sets.objects()) if self._usable(self.sets) else None
