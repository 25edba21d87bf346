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


def is_crashing(p: PodInfo, restarts_warn: int) -> bool:
    status = p.status.lower()
    return (
        any(w in status for w in _CRASH_WORDS)
        or p.phase == "Failed"
        or (restarts_warn > 0 and p.restarts >= restarts_warn)
    )


@dataclass(frozen=True)
class PodState:
    total: int  # pods not terminating
    ready: int
    crashing: tuple[PodInfo, ...]
    not_ready: tuple[PodInfo, ...]  # not ready and not crashing (starting, pending)
    oom: int  # pods whose last termination was OOMKilled
    restarted: int  # pods that restarted at least once
    max_restarts: int
    selector: str
    namespace: str


def pod_state(p: PodsSnapshot, restarts_warn: int) -> PodState:
    pods = [x for x in p.pods if not is_terminating(x)]
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
    )


def pod_word(p: PodInfo) -> str:
    """What is wrong with a pod, in one word: its status, or how it last died when it runs again."""
    status = p.status or p.phase or "?"
    if status.lower() == "running" and p.restarts > 0:
        return f"restarted ({p.last_termination})" if p.last_termination else "restarted"
    return status


def statuses_text(pods: tuple[PodInfo, ...]) -> str:
    """"3 CrashLoopBackOff, 1 Pending" — counts of each status, most common first."""
    counts: dict[str, int] = {}
    for p in pods:
        counts[pod_word(p)] = counts.get(pod_word(p), 0) + 1
    return ", ".join(f"{n} {s}" for s, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
