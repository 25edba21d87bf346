"""Pods in the API's JSON form → :class:`~clay_cockpit.signals.PodInfo`: kubectl's
STATUS/READY/RESTARTS rules (pure; dicts as the list call returns them and as the
fixtures hold them). Moved out of :mod:`clay_cockpit.sources.kube`, which re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from clay_cockpit.sanitise import clean_line
from clay_cockpit.signals import PodInfo


def parse_kube_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _d(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _l(value: object) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


RESTARTABLE = "Always"  # an init container with restartPolicy Always: a native sidecar
NODE_LOST = "NodeLost"  # node.NodeUnreachablePodReason


@dataclass(frozen=True, slots=True)
class PodPrint:
    """What ``kubectl get pods`` prints for a pod: READY is ``ready/total``, RESTARTS is
    ``restarts`` and, when it is not 0 and a container's last end is known, ``(… ago)``
    since ``last_restart``."""

    ready: int
    total: int
    status: str
    restarts: int
    last_restart: datetime | None


def _utc(t: datetime | None) -> datetime | None:
    return None if t is None else t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def _later(best: datetime | None, cs: dict[str, Any]) -> datetime | None:
    """The later of ``best`` and the container's lastState.terminated.finishedAt."""
    last = _d(cs.get("lastState")).get("terminated")
    if not isinstance(last, dict):
        return best
    at = _utc(parse_kube_time(last.get("finishedAt")))
    return at if at is not None and (best is None or best < at) else best


def _condition_true(status: dict[str, Any], ctype: str) -> bool:
    return any(c.get("type") == ctype and c.get("status") == "True" for c in _l(status.get("conditions")))


def _terminated_reason(term: dict[str, Any], prefix: str) -> str:
    if term.get("reason"):
        return prefix + str(term["reason"])
    if _int(term.get("signal")):
        return f"{prefix}Signal:{_int(term.get('signal'))}"
    return f"{prefix}ExitCode:{_int(term.get('exitCode'))}"


def print_pod(pod: dict[str, Any]) -> PodPrint:
    """kubectl's columns for a pod: a port of ``printPod`` (kubernetes
    pkg/printers/internalversion/printers.go, with restartable init containers —
    native sidecars — counted among the containers: a started sidecar does not hold
    the pod in Init, a ready one counts as ready, its restarts count)."""
    meta, spec, status = _d(pod.get("metadata")), _d(pod.get("spec")), _d(pod.get("status"))
    phase = status.get("phase")
    reason = str(status.get("reason") or phase or "")
    for c in _l(status.get("conditions")):
        if c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"

    init_specs = _l(spec.get("initContainers"))
    sidecars = [str(c.get("name")) for c in init_specs if c.get("restartPolicy") == RESTARTABLE]
    # a pod without its spec (a partial object) counts the containers its status reports
    apps = _l(spec["containers"]) if "containers" in spec else _l(status.get("containerStatuses"))
    total = len(apps) + len(sidecars)
    ready = restarts = sidecar_restarts = 0
    last: datetime | None = None
    sidecar_last: datetime | None = None

    initializing = False
    for i, cs in enumerate(_l(status.get("initContainerStatuses"))):
        restarts += _int(cs.get("restartCount"))
        last = _later(last, cs)
        sidecar = cs.get("name") in sidecars
        if sidecar:
            sidecar_restarts += _int(cs.get("restartCount"))
            sidecar_last = _later(sidecar_last, cs)
        state = _d(cs.get("state"))
        term, wait = state.get("terminated"), state.get("waiting")
        if isinstance(term, dict) and _int(term.get("exitCode")) == 0:
            continue
        if sidecar and cs.get("started") is True:
            ready += cs.get("ready") is True
            continue
        if isinstance(term, dict):  # initialisation failed
            reason = _terminated_reason(term, "Init:")
        elif isinstance(wait, dict) and wait.get("reason") and wait.get("reason") != "PodInitializing":
            reason = "Init:" + str(wait["reason"])
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break

    if not initializing or _condition_true(status, "Initialized"):
        restarts, last = sidecar_restarts, sidecar_last
        has_running = False
        for cs in reversed(_l(status.get("containerStatuses"))):
            restarts += _int(cs.get("restartCount"))
            last = _later(last, cs)
            state = _d(cs.get("state"))
            term, wait = state.get("terminated"), state.get("waiting")
            if isinstance(wait, dict) and wait.get("reason"):
                reason = str(wait["reason"])
            elif isinstance(term, dict):
                reason = _terminated_reason(term, "")
            elif cs.get("ready") is True and isinstance(state.get("running"), dict):
                has_running = True
                ready += 1
        # back to Running if a container still runs
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(status, "Ready") else "NotReady"

    if meta.get("deletionTimestamp") and status.get("reason") == NODE_LOST:
        reason = "Unknown"
    elif meta.get("deletionTimestamp") and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    return PodPrint(ready=ready, total=total, status=reason, restarts=restarts, last_restart=last if restarts else None)


def pod_status(pod: dict[str, Any]) -> str:
    """kubectl's STATUS for a pod (:func:`print_pod`)."""
    return print_pod(pod).status


def _owner(meta: dict[str, Any]) -> str | None:
    refs = _l(meta.get("ownerReferences"))
    ref = next((r for r in refs if r.get("controller")), refs[0] if refs else None)
    if not ref or not ref.get("kind") or not ref.get("name"):
        return None
    return f"{ref['kind']}/{ref['name']}"


def pod_info(pod: dict[str, Any]) -> PodInfo:
    """One pod in the API's JSON form → PodInfo."""
    meta, spec, status = _d(pod.get("metadata")), _d(pod.get("spec")), _d(pod.get("status"))
    sidecars = {c.get("name") for c in _l(spec.get("initContainers")) if c.get("restartPolicy") == RESTARTABLE}
    # the containers that run alongside: the app's and the native sidecars (a crash-looping sidecar troubles the pod too)
    statuses = _l(status.get("containerStatuses")) + [cs for cs in _l(status.get("initContainerStatuses")) if cs.get("name") in sidecars]
    last_termination = None
    # the container that restarted most says most about why the pod is unwell
    for cs in sorted(statuses, key=lambda c: -_int(c.get("restartCount"))):
        reason = _d(_d(cs.get("lastState")).get("terminated")).get("reason")
        if reason:
            last_termination = str(reason)
            break
    printed = print_pod(pod)
    owner = _owner(meta)
    # every string made inert (clay_cockpit.sanitise): a real API server only holds
    # DNS names here, but whatever answers on its address may send anything
    return PodInfo(
        name=clean_line(meta.get("name") or "?"),
        phase=clean_line(status.get("phase") or "Unknown"),
        ready=printed.ready,
        containers=printed.total,
        restarts=printed.restarts,
        status=clean_line(printed.status),
        last_termination=None if last_termination is None else clean_line(last_termination),
        created_at=parse_kube_time(meta.get("creationTimestamp")),
        owner=None if owner is None else clean_line(owner),
        node=clean_line(spec["nodeName"]) if isinstance(spec.get("nodeName"), str) else None,
        reason=clean_line(status["reason"]) if isinstance(status.get("reason"), str) and status["reason"] else None,
        message=clean_line(status["message"]).strip()
        if isinstance(status.get("message"), str)
        else "",  # the kubelet ends its eviction message with a space
        finished_at=_finished_at(status),
        last_restart_at=printed.last_restart,
    )


def _finished_at(status: dict[str, Any]) -> datetime | None:
    """When a Failed or Succeeded pod ended: the kubelet's DisruptionTarget condition (an
    eviction, the node shutting down: set as it decides), else its containers' last finish."""
    if status.get("phase") not in ("Failed", "Succeeded"):
        return None
    for c in _l(status.get("conditions")):
        if c.get("type") == "DisruptionTarget" and c.get("status") == "True":
            at = parse_kube_time(c.get("lastTransitionTime"))
            if at is not None:
                return at
    ends = [
        t if t.tzinfo is not None else t.replace(tzinfo=UTC)  # (naive and aware times do not compare)
        for cs in _l(status.get("containerStatuses"))
        if (t := parse_kube_time(_d(_d(cs.get("state")).get("terminated")).get("finishedAt"))) is not None
    ]
    return max(ends, default=None)


def parse_pod_list(doc: object) -> tuple[PodInfo, ...]:
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise ValueError("not a PodList (no items)")
    return tuple(sorted((pod_info(p) for p in _l(doc["items"])), key=lambda p: p.name))
