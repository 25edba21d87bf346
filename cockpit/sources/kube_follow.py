"""Following an action's rollout by watch, not by listing (issue 15).

After a restart, a rollback, a scale or a flag change that rolls the pods,
the action runner looks at the deployment and our pods about once a second
until the rollout is done (:mod:`clay_cockpit.actions.flow_verify`). Listing
500 pods a second for minutes is what ``kubectl rollout status`` avoids by
watching, and so does this: :class:`RolloutFollow` keeps the deployment (by
name, ``fieldSelector=metadata.name=…``) and the selector's pods current with
two :class:`~clay_cockpit.sources.kube_watch.ListWatch` follows (a thread
each, for the follow's length only), and :class:`~clay_cockpit.sources.kube_admin.KubeAdmin`
answers ``deployment()``/``pods()`` from them while they are current.

A watch not yet listed, failing, closed, or refused (the identity may list
but not watch: it would be kept by listing only every ``kube.refresh``)
gives ``None``: the admin then reads it itself, as before. :meth:`wait`
wakes the runner as soon as either changed, so a rollout's end is seen when
it happens, not up to a poll later. Never raises.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from clay_cockpit.sources.kube_wait import Waiter, deployment_watch, watch_threads
from clay_cockpit.sources.kube_watch import PODS, WATCH_SECONDS, ListWatch

if TYPE_CHECKING:
    from clay_cockpit.sources.kube import Kube

SOURCE = "actions"
WHY = "following an action's rollout"  # what a 403's hint adds


def _raw(obj: dict[str, Any]) -> dict[str, Any]:
    """Kept as the API's JSON without managedFields (the rollout's look never reads them; at
    500 pods they are most of the bytes)."""
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        obj = {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}
    return obj


class RolloutFollow:
    """Our deployment and pods, watched for one follow; see the module docstring."""

    def __init__(self, kube: Kube, deployment: str, *, relist_every: float, watch_seconds: int = WATCH_SECONDS) -> None:
        cfg = kube.config
        self.name = deployment
        self.deploy = deployment_watch(
            kube, deployment, _raw, source=SOURCE, why=WHY, relist_every=relist_every, watch_seconds=watch_seconds
        )
        self.pod_watch: ListWatch[dict[str, Any]] = ListWatch(
            kube,
            PODS,
            _raw,
            source=SOURCE,
            what=f"pods {cfg.selector}",
            why=WHY,
            label_selector=cfg.selector,
            relist_every=relist_every,
            watch_seconds=watch_seconds,
        )
        self._waiter = Waiter((self.deploy, self.pod_watch), first_grace=0.0)
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> RolloutFollow:
        self._threads = watch_threads(SOURCE, (self.deploy, self.pod_watch))
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """End both watches (their sockets are shut: the threads end at once)."""
        self.deploy.close()
        self.pod_watch.close()
        for t in self._threads:
            t.join(2.0)

    @property
    def threads(self) -> tuple[threading.Thread, ...]:
        return tuple(self._threads)

    @staticmethod
    def _usable(w: ListWatch[dict[str, Any]]) -> bool:
        return w.listed and w.error is None and w.fallback is None and not w.closed

    def deployment(self, name: str) -> dict[str, Any] | None:
        """The deployment as watched, or None: read it yourself (not found too: the read names the 404)."""
        if name != self.name or not self._usable(self.deploy):
            return None
        found = self.deploy.objects()
        return found[0] if found else None

    def pods(self) -> list[dict[str, Any]] | None:
        """The selector's pods as watched, or None: list them yourself."""
        return list(self.pod_watch.objects()) if self._usable(self.pod_watch) else None

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        """Until either watch changed since the last call (True), ``seconds`` passed or ``stop`` is set."""
        return self._waiter.wait(stop, seconds)
