"""What Clay's status page and our own service say, for triage: the Clay
status digest, our health checks, the pods' states. Part of
:mod:`clay_cockpit.triage.evidence` (which re-exports these names).

Pure functions of :mod:`clay_cockpit.signals` values; never raise on odd input.
"""

from __future__ import annotations

from dataclasses import dataclass

from clay_cockpit.signals import (
    ComponentStatus,
    HealthCheck,
    HealthSnapshot,
    PodInfo,
    PodsSnapshot,
    StatusIncident,
    StatusPageSnapshot,
)

# --------------------------------------------------------------------------
# Clay's status page


@dataclass(frozen=True)
class ClayStatus:
    incidents: tuple[StatusIncident, ...]
    bad_components: tuple[tuple[str, str], ...]  # (name, status) not operational
    indicator: str
    description: str

    @property
    def acknowledged(self) -> bool:
        """Clay says something is wrong: an unresolved incident or a component not operational."""
        return bool(self.incidents or self.bad_components)

    @property
    def critical(self) -> bool:
        """Clay says it is down: critical impact, a major outage, or a critical indicator."""
        return (
            self.indicator == "critical"
            or any(i.impact == "critical" for i in self.incidents)
            or any(status == ComponentStatus.MAJOR_OUTAGE.value for _, status in self.bad_components)
        )


_BAD = {ComponentStatus.DEGRADED, ComponentStatus.PARTIAL_OUTAGE, ComponentStatus.MAJOR_OUTAGE, ComponentStatus.MAINTENANCE}


def clay_status(sp: StatusPageSnapshot) -> ClayStatus:
    bad = tuple((c.name, c.status.value) for c in sp.components if c.status in _BAD)
    return ClayStatus(tuple(sp.incidents), bad, str(sp.indicator or ""), str(sp.description or ""))


def component_text(status: str) -> str:
    return status.replace("_", " ").replace("degraded performance", "degraded")


# --------------------------------------------------------------------------
# Our service: health checks and pods


def our_checks(h: HealthSnapshot, clay_checks: tuple[str, ...]) -> tuple[list[HealthCheck], list[HealthCheck]]:
    """(failing, degraded) health checks about our own service (not Clay, not the fallback)."""
    failing = [c for c in h.checks if c.name not in clay_checks and not c.ok and c.status not in ("degraded",)]
    degraded = [c for c in h.checks if c.name not in clay_checks and not c.ok and c.status == "degraded"]
    return failing, degraded


def clay_checks_failing(h: HealthSnapshot, clay_checks: tuple[str, ...]) -> list[HealthCheck]:
    return [c for c in h.checks if c.name in clay_checks and not c.ok]


def fallback_active(h: HealthSnapshot | None) -> str:
    """The fallback check's detail when it says the fallback is on ("" otherwise)."""
    if h is None:
        return ""
    for c in h.checks:
        if "fallback" in c.name.lower() and c.status != "ok" and "inactive" not in c.detail.lower():
            return c.detail or c.status
    return ""


_CRASH_WORDS = ("crashloop", "oomkilled", "error", "errimage", "imagepull", "backoff", "invalidimage")


def is_terminating(p: PodInfo) -> bool:
    return p.status.lower() == "terminating"


def is_finished(p: PodInfo) -> bool:
    """Ended for good: :attr:`PodInfo.finished <clay_cockpit.signals.PodInfo.finished>`."""
    return p.finished


def is_evicted(p: PodInfo) -> bool:
    """Evicted by its node's kubelet (status.reason Evicted): kubectl shows such a pod as
    "Error" once its container was killed, which it did not do on its own."""
    return is_finished(p) and p.reason == "Evicted"


def is_crashing(p: PodInfo, restarts_warn: int) -> bool:
    if is_finished(p):
        return False
    status = p.status.lower()
    return any(w in status for w in _CRASH_WORDS) or (restarts_warn > 0 and p.restarts >= restarts_warn)


@dataclass(frozen=True)
class Eviction:
    """Our pods one node evicted: "2 pods evicted from node n-2: The node was low on resource: memory. …"."""

    node: str  # "" when the pod list does not say
    pods: tuple[PodInfo, ...]  # newest first
    message: str  # the newest eviction's, the kubelet's words (whole)
    last: float | None  # when the newest was evicted (the cluster's clock), epoch seconds

    @property
    def count(self) -> int:
        return len(self.pods)

    @property
    def cause(self) -> str:
        """The message's first sentence: "The node was low on resource: memory"."""
        return self.message.split(". ", 1)[0].strip().rstrip(".")


def _epoch(p: PodInfo) -> float | None:
    try:
        return p.finished_at.timestamp() if p.finished_at is not None else None
    except (OverflowError, OSError, ValueError):
        return None


def evictions(pods: tuple[PodInfo, ...], now: float, recent: float) -> tuple[Eviction, ...]:
    """The evicted pods ended within ``recent`` seconds of ``now`` (or at an unknown time, or
    ahead of our clock), by node, the node that evicted most first."""
    by_node: dict[str, list[PodInfo]] = {}
    for p in pods:
        at = _epoch(p)
        if is_evicted(p) and (at is None or now - at <= recent):
            by_node.setdefault(p.node or "", []).append(p)
    out = []
    for node, group in by_node.items():
        group.sort(key=lambda x: -(_epoch(x) or 0.0))
        newest = group[0]
        out.append(Eviction(node, tuple(group), newest.message, _epoch(newest)))
    return tuple(sorted(out, key=lambda e: (-e.count, e.node)))


@dataclass(frozen=True)
class PodState:
    total: int  # pods not terminating and not finished: the replicas there are
    ready: int
    crashing: tuple[PodInfo, ...]
    not_ready: tuple[PodInfo, ...]  # not ready and not crashing (starting, pending)
    oom: int  # pods whose last termination was OOMKilled
    restarted: int  # pods that restarted at least once
    max_restarts: int
    selector: str
    namespace: str
    finished: tuple[PodInfo, ...] = ()  # ended for good (evicted …): not counted above

    @property
    def evicted(self) -> tuple[PodInfo, ...]:
        return tuple(p for p in self.finished if is_evicted(p))


def pod_state(p: PodsSnapshot, restarts_warn: int) -> PodState:
    pods = [x for x in p.pods if not is_terminating(x) and not is_finished(x)]
    crashing = tuple(x for x in pods if is_crashing(x, restarts_warn))
    not_ready = tuple(x for x in pods if not x.is_ready and x not in crashing)
    return PodState(
        total=len(pods),
        ready=sum(1 for x in pods if x.is_ready),
        crashing=crashing,
        not_ready=not_ready,
        oom=sum(1 for x in pods if "oomkilled" in (x.last_termination or "").lower() or "oomkilled" in x.status.lower()),
        restarted=sum(1 for x in pods if x.restarts > 0),
        max_restarts=max((max(0, x.restarts) for x in pods), default=0),
        selector=p.selector,
        namespace=p.namespace,
        finished=tuple(x for x in p.pods if not is_terminating(x) and is_finished(x)),
    )


def finished_text(pods: tuple[PodInfo, ...]) -> str:
    """ "2 evicted", "2 evicted, 1 Failed (Shutdown)": the pods that ended for good, counted."""
    counts: dict[str, int] = {}
    for x in pods:
        word = "evicted" if is_evicted(x) else f"{x.phase} ({x.reason})" if x.reason else x.phase
        counts[word] = counts.get(word, 0) + 1
    return ", ".join(f"{n} {w}" for w, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def pod_word(p: PodInfo) -> str:
    """What is wrong with a pod, in one word: its status, or how it last died when it runs again."""
    status = p.status or p.phase or "?"
    if status.lower() == "running" and p.restarts > 0:
        return f"restarted ({p.last_termination})" if p.last_termination else "restarted"
    return status


def statuses_text(pods: tuple[PodInfo, ...]) -> str:
    """ "3 CrashLoopBackOff, 1 Pending" — counts of each status, most common first."""
    counts: dict[str, int] = {}
    for p in pods:
        counts[pod_word(p)] = counts.get(pod_word(p), 0) + 1
    return ", ".join(f"{n} {s}" for s, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
