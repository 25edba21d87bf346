"""Init containers and native sidecars of a drill pod, as the kubelet runs them.

The pod template's ``initContainers`` run in order before the app container: an
ordinary one runs to completion (``terminated``, reason ``Completed``, exit 0); a
native sidecar (``restartPolicy: Always``) is started and then keeps running next to
the app (``started: true``, ready — these sidecars have no readiness probe — for the
pod's whole life). The kubelet moves to the next init container once the previous one
completed, or, for a sidecar, started. The time between the pod's scheduling and its
app container's start is shared out evenly among them, so a new pod is ``Init:0/2`` …
``PodInitializing`` … ``Running`` as on a real node.

A sidecar can crash (:meth:`PodState.crash_sidecar <clay_cockpit.sim.kube.pods.PodState.crash_sidecar>`):
it waits in CrashLoopBackOff (10 s, 20 s … as the app container does), not started and
not ready, with its restart counted; the pod stays Initialized, and is not Ready.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clay_cockpit.sim.kube.util import rfc3339

SIDECAR = "Always"  # restartPolicy of an init container that is a native sidecar
INIT_START = 0.5  # after scheduling: the sandbox is up, the first init container starts


@dataclass(eq=False)
class InitContainer:
    name: str
    image: str
    sidecar: bool
    started_at: float | None = None  # when it (last) started
    done_at: float | None = None  # when it completed (a sidecar: its startup was done)
    container_id: str = ""
    restarts: int = 0
    crashes: int = 0
    last_terminated: dict[str, Any] | None = None
    backoff_until: float | None = None  # a crashed sidecar restarts then
    waiting_message: str = ""

    @property
    def up(self) -> bool:
        """A sidecar that runs (started, not in back-off)."""
        return self.sidecar and self.started_at is not None and self.backoff_until is None


def init_containers(template: dict[str, Any]) -> list[InitContainer]:
    return [
        InitContainer(name=str(c.get("name", "")), image=str(c.get("image", "")), sidecar=c.get("restartPolicy") == SIDECAR)
        for c in template.get("spec", {}).get("initContainers") or []
    ]


def steps(scheduled: float, start_at: float, n: int) -> list[float]:
    """When init container k starts (k < n) and when the last one is done (index n)."""
    first = scheduled + INIT_START
    span = max(0.0, start_at - first)
    return [first + span * k / n for k in range(n)] + [max(first, start_at)]


def _image_id(image: str) -> str:
    import hashlib

    return image.split(":")[0] + "@sha256:" + hashlib.sha256(image.encode()).hexdigest()


def init_status(ic: InitContainer, k: int, done: int, pod_state: str, pod_end: float) -> dict[str, Any]:
    """``status.initContainerStatuses[k]``: ``done`` containers have completed (or started,
    for a sidecar); ``pod_state`` is the app container's (stopped / killed end the sidecars too)."""
    ran = k < done or (k == done and ic.started_at is not None)
    cs: dict[str, Any] = {}
    if ic.container_id:
        cs["containerID"] = ic.container_id
    cs["image"] = ic.image
    cs["imageID"] = _image_id(ic.image) if ran else ""
    cs["lastState"] = {"terminated": dict(ic.last_terminated)} if ic.last_terminated else {}
    cs["name"] = ic.name
    ready = started = False
    started_at = rfc3339(ic.started_at or 0.0)
    if k > done or (k == done and ic.started_at is None):
        state: dict[str, Any] = {"waiting": {"reason": "PodInitializing"}}
    elif k == done and not ic.sidecar:
        state = {"running": {"startedAt": started_at}}
    elif not ic.sidecar:
        state = {"terminated": {"containerID": ic.container_id, "exitCode": 0, "finishedAt": rfc3339(ic.done_at or 0.0),
                                "reason": "Completed", "startedAt": started_at}}  # fmt: skip
    elif pod_state in ("stopped", "killed"):
        killed = pod_state == "killed"
        state = {"terminated": {"containerID": ic.container_id, "exitCode": 137 if killed else 0, "finishedAt": rfc3339(pod_end),
                                "reason": "Error" if killed else "Completed", "startedAt": started_at}}  # fmt: skip
    elif ic.backoff_until is not None:
        state = {"waiting": {"message": ic.waiting_message, "reason": "CrashLoopBackOff"}}
    else:
        state = {"running": {"startedAt": started_at}}
        ready = started = k < done
    cs["ready"] = ready
    cs["restartCount"] = ic.restarts
    cs["started"] = started
    cs["state"] = state
    return cs


def seeded_init_containers(on: bool) -> dict[str, Any]:
    """The template's ``initContainers`` when a scenario asks for them (``[service] sidecars``):
    a schema migration that runs to completion, then a log shipper that runs beside the app."""
    if not on:
        return {}
    return {
        "initContainers": [
            {"name": "migrate", "image": "registry.internal/clay-sync-migrate:1.14.2", "args": ["migrate", "--wait"]},
            {
                "name": "log-shipper",
                "image": "cr.fluentbit.io/fluent/fluent-bit:3.1",
                "restartPolicy": SIDECAR,
                "resources": {"limits": {"memory": "64Mi"}, "requests": {"cpu": "20m", "memory": "32Mi"}},
            },
        ]
    }
