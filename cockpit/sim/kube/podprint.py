"""The pod row of the API server's Table (what ``kubectl get pods`` prints): a port
of kubernetes' ``printPod`` (pkg/printers/internalversion/printers.go), native
sidecars included — restartable init containers (``restartPolicy: Always``) count
among READY's containers once started, do not hold the pod in ``Init:``, and their
restarts count in RESTARTS.

The sim's own copy, on purpose: the drill must not import the cockpit's sources
(tests/test_boundaries.py), and the cockpit's port is tested against this one and
against kubectl (tests/test_kubectl_parity.py).
"""

from __future__ import annotations

from typing import Any

from clay_cockpit.sim.kube.util import human_duration, parse_rfc3339, since

NODE_UNREACHABLE_POD_REASON = "NodeLost"


def _terminated_text(term: dict[str, Any], prefix: str) -> str:
    if term.get("reason"):
        return prefix + str(term["reason"])
    if term.get("signal"):
        return f"{prefix}Signal:{term['signal']}"
    return f"{prefix}ExitCode:{term.get('exitCode', 0)}"


def _finished(cs: dict[str, Any]) -> float:
    """lastState.terminated.finishedAt as epoch seconds; 0.0 (Go's zero time) when absent."""
    term = (cs.get("lastState") or {}).get("terminated")
    at = (term or {}).get("finishedAt")
    return parse_rfc3339(at) if at else 0.0


def _true(status: dict[str, Any], ctype: str) -> bool:
    return any(c.get("type") == ctype and c.get("status") == "True" for c in status.get("conditions") or [])


def pod_columns(pod: dict[str, Any], now: float) -> tuple[str, str, str, str]:
    """READY, STATUS, RESTARTS (with "(… ago)") of ``pod`` at ``now``."""
    spec, status, meta = pod.get("spec", {}), pod.get("status", {}), pod.get("metadata", {})
    phase = status.get("phase", "")
    reason = status.get("reason") or phase
    for c in status.get("conditions") or []:
        if c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    inits = {c.get("name"): c for c in spec.get("initContainers") or []}
    total = len(spec.get("containers") or []) + sum(1 for c in inits.values() if c.get("restartPolicy") == "Always")
    restarts = ready = sidecar_restarts = 0
    last = sidecar_last = 0.0

    initializing = False
    for i, cs in enumerate(status.get("initContainerStatuses") or []):
        restarts += cs.get("restartCount", 0)
        last = max(last, _finished(cs))
        sidecar = (inits.get(cs.get("name")) or {}).get("restartPolicy") == "Always"
        if sidecar:
            sidecar_restarts += cs.get("restartCount", 0)
            sidecar_last = max(sidecar_last, _finished(cs))
        state = cs.get("state") or {}
        term, wait = state.get("terminated"), state.get("waiting")
        if term is not None and term.get("exitCode", 0) == 0:
            continue
        if sidecar and cs.get("started"):
            ready += 1 if cs.get("ready") else 0
            continue
        if term is not None:
            reason = _terminated_text(term, "Init:")
        elif wait is not None and wait.get("reason") and wait["reason"] != "PodInitializing":
            reason = "Init:" + wait["reason"]
        else:
            reason = f"Init:{i}/{len(inits)}"
        initializing = True
        break

    if not initializing or _true(status, "Initialized"):
        restarts, last = sidecar_restarts, sidecar_last
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            restarts += cs.get("restartCount", 0)
            last = max(last, _finished(cs))
            state = cs.get("state") or {}
            if (state.get("waiting") or {}).get("reason"):
                reason = state["waiting"]["reason"]
            elif state.get("terminated") is not None:
                reason = _terminated_text(state["terminated"], "")
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _true(status, "Ready") else "NotReady"

    if meta.get("deletionTimestamp") and status.get("reason") == NODE_UNREACHABLE_POD_REASON:
        reason = "Unknown"
    elif meta.get("deletionTimestamp") and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    restarts_text = str(restarts)
    if restarts and last:
        restarts_text = f"{restarts} ({human_duration(now - last)} ago)"
    return f"{ready}/{total}", reason, restarts_text, since(now, meta.get("creationTimestamp"))
