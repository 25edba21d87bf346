"""Seeing a change take effect: a rollout (new pods ready, old pods gone), a
scale, a value read back — one look at a time, for the runner's follow loop.

Each ``*_look`` function reads the cluster once (blocking, through
:class:`~clay_cockpit.sources.kube_admin.KubeAdmin`) and returns a :class:`Look`:
done or not, a one-line progress message, and what has not happened yet
(the timeout report). Pure helpers (:func:`rollout_state`) do the judging
from the API's JSON, so they are tested on their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from clay_cockpit.signals import PodInfo
from clay_cockpit.sources._errors import one_line
from clay_cockpit.sources.kube import pod_info
from clay_cockpit.sources.kube_admin import KubeAdmin

MAX_NAMES = 4  # pod names listed in one message
CRASHING = frozenset({"CrashLoopBackOff", "OOMKilled", "Error", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError"})


@dataclass(frozen=True)
class Look:
    done: bool
    message: str  # "2/3 new pods ready; 1 old pod still running"
    missing: tuple[str, ...] = ()  # what has not happened yet
    failed: str = ""  # something that will not fix itself (paused, progress deadline exceeded)
    count: int | None = None
    total: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


def _names(names: list[str]) -> str:
    shown = ", ".join(sorted(names)[:MAX_NAMES])
    return shown + (f" and {len(names) - MAX_NAMES} more" if len(names) > MAX_NAMES else "")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _ended_text(pods: list[PodInfo]) -> str:
    """ "1 new pod evicted from node n-2: The node was low on resource: memory (its ReplicaSet replaces it)"."""
    evicted = [p for p in pods if p.reason == "Evicted"]
    if len(evicted) == len(pods):
        nodes = sorted({p.node for p in pods if p.node})
        where = f" from node {', '.join(nodes)}" if nodes else ""
        newest = max(pods, key=lambda p: p.finished_at.timestamp() if p.finished_at is not None else 0.0)
        cause = newest.message.split(". ", 1)[0].strip().rstrip(".")
        what = f"{_plural(len(pods), 'new pod')} evicted{where}" + (f": {cause}" if cause else "")
    else:
        what = f"{_plural(len(pods), 'new pod')} ended ({', '.join(sorted({p.reason or p.phase for p in pods}))})"
    return f"{what} ({'its ReplicaSet replaces it' if len(pods) == 1 else 'their ReplicaSet replaces them'})"


def _condition(deploy: dict[str, Any], ctype: str) -> dict[str, Any]:
    for c in (deploy.get("status") or {}).get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == ctype:
            return c
    return {}


def rollout_state(deploy: dict[str, Any], pods: list[dict[str, Any]], old_pods: frozenset[str], generation: int) -> Look:
    """Is the rollout that started at ``generation`` done: the controller has
    seen it, every replica is a new pod (not in ``old_pods``) and ready, and
    every old pod is gone (Terminating ones too)?"""
    spec, status = deploy.get("spec") or {}, deploy.get("status") or {}
    name = (deploy.get("metadata") or {}).get("name", "?")
    want = spec.get("replicas", 1) if isinstance(spec.get("replicas"), int) else 1
    observed = status.get("observedGeneration") or 0
    every = [pod_info(p) for p in pods]
    infos = [p for p in every if not p.finished]
    new = [p for p in infos if p.name not in old_pods and p.status != "Terminating"]
    new_ready = [p for p in new if p.is_ready]
    old_left = [p.name for p in infos if p.name in old_pods]
    evicted = [p for p in every if p.finished and p.name not in old_pods]  # after the change: said, not waited for
    missing: list[str] = []
    if observed < generation:
        missing.append(f"the deployment controller has not seen the change yet (observed generation {observed} < {generation})")
    if len(new_ready) < want:
        unready = [f"{p.name} ({p.status}{', not ready' if p.status == 'Running' else ''})" for p in new if not p.is_ready]
        text = f"{want - len(new_ready)} of {want} new pods not ready"
        missing.append(text + (f": {_names(unready)}" if unready else ""))
    if old_left:
        missing.append(f"{_plural(len(old_left), 'old pod')} still present: {_names(old_left)}")
    if status.get("updatedReplicas", 0) < want and observed >= generation:
        missing.append(f"deployment {name}: {status.get('updatedReplicas', 0)}/{want} replicas updated")
    failed = ""
    if spec.get("paused"):
        failed = f"deployment {name} is paused: the rollout will not progress until it is resumed"
    progressing = _condition(deploy, "Progressing")
    if progressing.get("status") == "False" and progressing.get("reason") == "ProgressDeadlineExceeded":
        failed = f"deployment {name}: {one_line(progressing.get('message') or 'progress deadline exceeded', 200)}"  # inert, one line
    crashing = [p.name for p in new if p.status in CRASHING or p.restarts > 0]
    if crashing and not failed:  # a new pod went down already: waiting for the rollout only hides that the change did not help
        reasons = sorted({p.last_termination or p.status for p in new if p.name in crashing})
        failed = (
            f"{_plural(len(crashing), 'new pod')} crashed after the change ({', '.join(reasons)}): {_names(crashing)} — "
            "the rollout will not settle by itself"
        )
    message = f"{len(new_ready)}/{want} new pods ready"
    message += f"; {_plural(len(old_left), 'old pod')} still present" if old_left else "; old pods gone"
    if crashing:
        message += f"; failing: {_names(crashing)}"
    if evicted:
        message += f"; {_ended_text(evicted)}"
    leftover = [p for p in every if p.finished and p.name in old_pods]
    if leftover:
        message += (
            f" ({_plural(len(leftover), 'evicted pod')} from before left listed)"
            if all(p.reason == "Evicted" for p in leftover)
            else f" ({_plural(len(leftover), 'finished pod')} from before left listed)"
        )
    details = {
        "replicas": want,
        "new_ready": len(new_ready),
        "old_left": len(old_left),
        "new_pods": sorted(p.name for p in new)[:20],
        "new_finished": sorted(p.name for p in evicted)[:20],
        "observed_generation": observed,
        "generation": generation,
    }
    return Look(
        done=not missing and not failed,
        message=message,
        missing=tuple(missing),
        failed=failed,
        count=len(new_ready),
        total=want,
        details=details,
    )


def scale_state(deploy: dict[str, Any], pods: list[dict[str, Any]], replicas: int) -> Look:
    """Is the deployment at ``replicas`` ready pods, with no pod terminating?"""
    infos = [p for p in (pod_info(p) for p in pods) if not p.finished]  # an evicted pod is no replica, nor extra
    live = [p for p in infos if p.status != "Terminating"]
    ready = [p for p in live if p.is_ready]
    going = [p.name for p in infos if p.status == "Terminating"]
    status = deploy.get("status") or {}
    missing: list[str] = []
    if len(ready) < replicas:
        missing.append(f"{replicas - len(ready)} of {replicas} pods not ready")
    if len(live) > replicas:
        missing.append(f"{len(live) - replicas} extra pods still running")
    if going:
        missing.append(f"{_plural(len(going), 'pod')} still terminating: {_names(going)}")
    message = f"{len(ready)}/{replicas} pods ready" + (f"; {len(going)} terminating" if going else "")
    return Look(
        done=not missing and status.get("readyReplicas", 0) >= replicas,
        message=message,
        missing=tuple(missing),
        count=len(ready),
        total=replicas,
        details={"replicas": replicas, "ready": len(ready), "terminating": len(going)},
    )


def rollout_look(admin: KubeAdmin, deployment: str, old_pods: frozenset[str], generation: int) -> Look:
    return rollout_state(admin.deployment(deployment), admin.pods(), old_pods, generation)


def scale_look(admin: KubeAdmin, deployment: str, replicas: int) -> Look:
    return scale_state(admin.deployment(deployment), admin.pods(), replicas)
