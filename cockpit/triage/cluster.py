"""What Kubernetes says about our workload, for the infrastructure branch:
the Warning events (grouped: OOM kills, evictions, FailedScheduling, image
pulls, probe failures, crash back-offs), the nodes our pods run on, and what
changed (the newest rollout, and whether the deployment is back at an older
template: rolled back).

:func:`cluster_evidence` digests an :class:`~clay_cockpit.signals.InfraSnapshot`
once (the :class:`~clay_cockpit.triage.context.Context` holds it);
:func:`correlate` lays the trouble at a rollout's door only when the times
say so: Kubernetes' first complaint after the rollout, within
:data:`CORRELATE`, or the failing pods being the new revision's. What a node
did to our pods (evictions, a node going NotReady: :data:`NODE_REASONS`) is
never a complaint about the rollout: it stays the node's evidence.

Times inside the snapshot are the cluster's clock: compared with each other
for the correlation; an age against ``now`` is said only when it is not
negative (a drill's sped-up clock runs ahead), else the clock time.

Pure, like the rest of triage; never raises on odd input.
"""

from __future__ import annotations

from dataclasses import dataclass

from clay_cockpit.signals import Change, InfraSnapshot, KubeEvent, NodeInfo, PodInfo, Revision
from clay_cockpit.triage import evidence as ev

EVENT_RECENT = 1800.0  # a Warning event last seen within this long counts as current (older: history)
CORRELATE = 1800.0  # trouble that began within this long after a rollout is laid at its door
BEFORE_SLACK = 30.0  # first seen this little before a rollout still counts as after it (event batching, clocks)
ROLLOUT_RECENT = 3600.0  # a rollout this recent is worth naming even when nothing dates the trouble
MAX_EVENTS = 500  # looked at, at most (the source bounds them too)
OUR_KINDS = frozenset({"Pod", "ReplicaSet", "Deployment"})
# what a node does to our pods, whatever their revision: evidence against the node, never a
# rollout's doing (the kubelet's evictions and OOM of the system, the node controller's taints,
# a node shutting down, a preemption by the scheduler for someone else's pod)
NODE_REASONS = frozenset(
    {
        "Evicted",
        "Evicting",
        "EvictionThresholdMet",
        "TaintManagerEviction",
        "NodeNotReady",
        "NodeShutdown",
        "Shutdown",
        "Preempted",
        "Preempting",
        "SystemOOM",
        "Rebooted",
    }
)


def ago(at: float | None, now: float) -> str:
    """ "11 min ago", or "at 12:03:10" when the cluster's clock is ahead of ours, or "" when unknown."""
    t = ev.finite(at)
    if t is None:
        return ""
    d = now - t
    return f"{ev.fmt_dur(d)} ago" if d >= 0 else f"at {ev.clock_text(t)}"


@dataclass(frozen=True)
class EventGroup:
    """Warning events of one kind of trouble, summed."""

    what: str  # "OOM kills", "evictions", …
    events: tuple[KubeEvent, ...]  # newest first

    @property
    def count(self) -> int:
        return sum(max(1, int(e.count)) if isinstance(e.count, int) and not isinstance(e.count, bool) else 1 for e in self.events)

    @property
    def objects(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(str(e.name) for e in self.events))

    @property
    def newest(self) -> KubeEvent:
        return self.events[0]

    @property
    def first_seen(self) -> float | None:
        times = [t for e in self.events if (t := ev.finite(e.first_seen if e.first_seen is not None else e.last_seen)) is not None]
        return min(times) if times else None


@dataclass(frozen=True)
class Cluster:
    """The infrastructure reading, digested."""

    deployment: str
    recent: tuple[KubeEvent, ...]  # Warning events last seen within EVENT_RECENT (or undated), newest first
    oom: EventGroup | None
    evicted: EventGroup | None
    scheduling: EventGroup | None  # FailedScheduling
    image_pull: EventGroup | None
    probes: EventGroup | None  # Unhealthy: the probe's message
    backoff: EventGroup | None  # crash back-offs
    bad_nodes: tuple[NodeInfo, ...]  # NotReady, under pressure or cordoned, with our pods on them
    rollout: Change | None  # the newest rollout
    current: Revision | None  # the revision the deployment's template is at
    rolled_back: str  # "" or why the deployment is back at an older template (a rollback done)
    rolled_back_at: float | None


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _group(what: str, events: list[KubeEvent]) -> EventGroup | None:
    return EventGroup(what, tuple(events)) if events else None


def _kind(e: KubeEvent) -> str:
    reason, message = _str(e.reason), _str(e.message).lower()
    if reason in ("OOMKilling", "SystemOOM") or "oomkilled" in message or "out of memory" in message:
        return "oom"
    if reason.startswith("Evict"):
        return "evicted"
    if reason == "FailedScheduling":
        return "scheduling"
    if reason in ("ErrImagePull", "ImagePullBackOff", "InspectFailed", "ErrImageNeverPull") or (
        reason in ("Failed", "BackOff") and ("pull" in message or "image" in message)
    ):
        return "image_pull"
    if reason == "Unhealthy":
        return "probes"
    if reason == "BackOff":
        return "backoff"
    return ""


def cluster_evidence(snap: InfraSnapshot, pods: tuple[PodInfo, ...], now: float) -> Cluster:
    """The snapshot, digested: recent Warning events grouped, the nodes in trouble, what changed."""
    events = [e for e in tuple(snap.events)[:MAX_EVENTS] if isinstance(e, KubeEvent) and _str(e.type) in ("Warning", "")]
    recent = [e for e in events if (t := ev.finite(e.last_seen)) is None or now - t <= EVENT_RECENT]
    recent.sort(key=lambda e: -(ev.finite(e.last_seen) or 0.0))
    groups: dict[str, list[KubeEvent]] = {}
    for e in recent:
        groups.setdefault(_kind(e), []).append(e)
    ours = {p.name for p in pods if isinstance(p, PodInfo)}
    bad_nodes = tuple(
        n
        for n in snap.nodes
        if isinstance(n, NodeInfo)
        and (n.ready is not True or n.pressure or n.unschedulable)
        and (set(n.pods) & ours if ours else bool(n.pods))
    )
    changes = sorted((c for c in snap.changes if isinstance(c, Change)), key=lambda c: -(ev.finite(c.at) or 0.0))
    rollout = next((c for c in changes if c.what == "rollout"), None)
    revisions = [r for r in snap.revisions if isinstance(r, Revision)]
    current = next((r for r in revisions if r.current), revisions[0] if revisions else None)
    rolled_back, rolled_back_at = _rolled_back(current, revisions, changes, rollout)
    return Cluster(
        deployment=_str(snap.deployment),
        recent=tuple(recent),
        oom=_group("OOM kills", groups.get("oom", [])),
        evicted=_group("evictions", groups.get("evicted", [])),
        scheduling=_group("FailedScheduling", groups.get("scheduling", [])),
        image_pull=_group("image pull failures", groups.get("image_pull", [])),
        probes=_group("probe failures", groups.get("probes", [])),
        backoff=_group("back-offs", groups.get("backoff", [])),
        bad_nodes=bad_nodes,
        rollout=rollout,
        current=current,
        rolled_back=rolled_back,
        rolled_back_at=rolled_back_at,
    )


def images_text(r: Revision) -> str:
    return ", ".join(_str(image) for _, image in r.images) or "?"


def _rolled_back(
    current: Revision | None, revisions: list[Revision], changes: list[Change], rollout: Change | None
) -> tuple[str, float | None]:
    """Is the deployment back at an older template? Its current revision's
    ReplicaSet is older than another revision's (``rollout undo`` renumbers
    the old ReplicaSet), or the cockpit's own action says it rolled back."""
    cur_at = ev.finite(current.created_at) if current is not None else None
    if current is not None and cur_at is not None:
        newer = [r for r in revisions if r is not current and (t := ev.finite(r.created_at)) is not None and t > cur_at]
        if newer:
            n = max(newer, key=lambda r: ev.finite(r.created_at) or 0.0)
            when = ev.finite(rollout.at) if rollout is not None else None
            return (
                f"revision {current.number} runs {images_text(current)}, the older template (revision {n.number} had {images_text(n)})",
                when,
            )
    for c in changes:
        words = _str(c.summary).lower()
        if c.what == "action" and ("rollback" in words or "roll back" in words or "rolled back" in words or "undo" in words):
            at = ev.finite(c.at)
            if rollout is None or at is None or (ev.finite(rollout.at) or 0.0) <= at:
                return ev.one_line(_str(c.summary)), at
    return "", None


@dataclass(frozen=True)
class Correlation:
    """A rollout and the trouble after it."""

    rollout: Change
    verdict: str  # "after" (laid at its door), "before" (the trouble is older), "unknown" (nothing dates it)
    onset: float | None  # the first complaint's time (cluster clock)
    first: str  # its reason: "Unhealthy"
    new_failing: int  # failing pods that are the current revision's
    failing: int


def node_caused(e: KubeEvent) -> bool:
    """Did a node (its kubelet, the node controller) do this to our pod, whatever the pod runs?"""
    return _str(e.reason) in NODE_REASONS or _str(e.reason).startswith("Evict")


def correlate(c: Cluster, failing: tuple[PodInfo, ...], now: float) -> Correlation | None:
    """Lay the trouble at the newest rollout's door when the times (or the failing pods' revision) say so."""
    r = c.rollout
    at = ev.finite(r.at) if r is not None else None
    if r is None or at is None:
        return None
    rs = c.current.replicaset if c.current is not None else ""
    new = sum(1 for p in failing if rs and _str(p.owner).rpartition("/")[2] == rs)
    after = [e for e in c.recent if e.kind in OUR_KINDS and not node_caused(e) and (ev.finite(e.last_seen) or 0.0) >= at - BEFORE_SLACK]
    dated = [(t, e) for e in after if (t := ev.finite(e.first_seen if e.first_seen is not None else e.last_seen)) is not None]
    if dated:
        onset, first = min(dated, key=lambda te: te[0])
        if onset < at - BEFORE_SLACK:
            return Correlation(r, "before", onset, _str(first.reason), new, len(failing))
        if onset <= at + CORRELATE:
            return Correlation(r, "after", onset, _str(first.reason), new, len(failing))
    # the failing pods all the new revision's: its doing — unless a node is taking our pods away
    # (an evicted pod's replacement is the current revision's too, and waits for room)
    bad = {n.name for n in c.bad_nodes}
    nodes_doing = any(e.kind in OUR_KINDS and node_caused(e) for e in c.recent) or any(p.node in bad for p in failing if p.node)
    if new and new == len(failing) and not nodes_doing:
        return Correlation(r, "after", None, "", new, len(failing))
    if now - at <= ROLLOUT_RECENT:
        return Correlation(r, "unknown", None, "", new, len(failing))
    return None


def rollout_text(k: Correlation, now: float, trouble: str) -> str:
    """ "Changes: rollout to clay-sync:1.14.3 (revision 7) 11 min ago (image app: 1.14.2 → 1.14.3); our health down since 10 min ago: first Unhealthy 40 s after it"."""
    r = k.rollout
    summary = ev.one_line(_str(r.summary)) or "rollout"
    detail = "; ".join(ev.one_line(_str(d)) for d in tuple(r.detail)[:2] if isinstance(d, str) and d.strip())
    text = f"Changes: {summary} {ago(r.at, now)}".rstrip() + (f" ({detail})" if detail else "")
    at = ev.finite(r.at) or 0.0
    if k.verdict == "after" and k.onset is not None:
        gap = max(0.0, k.onset - at)
        text += f"; {trouble} since {ago(k.onset, now)}: first {k.first or 'Warning event'} {ev.fmt_dur(gap)} after it"
    elif k.verdict == "before" and k.onset is not None:
        text += f"; the trouble began before it (first {k.first or 'Warning event'} {ev.fmt_dur(at - k.onset)} earlier): not the rollout"
    elif k.verdict == "unknown":
        text += f"; {trouble} now, nothing dates when it began"
    if k.new_failing and k.verdict != "before":
        text += f"; {k.new_failing} of {k.failing} failing pods run this revision"
    return text


def event_text(g: EventGroup, now: float) -> str:
    """ "Events: 7 OOM kills (OOMKilling on node n-2: Memory cgroup out of memory …), last 40 s ago"."""
    e = g.newest
    objects = g.objects
    on = f"{e.kind} {e.name}" if len(objects) == 1 else f"{len(objects)} objects"
    seen = ago(e.last_seen, now)
    return ev.one_line(f"Events: {g.count} {g.what} — {e.reason} on {on}: {e.message}" + (f" (last {seen})" if seen else ""))


def node_text(n: NodeInfo) -> str:
    """ "node n-2 MemoryPressure (2 of our pods on it: a, b)"."""
    states = list(n.pressure)
    if n.ready is False:
        states.insert(0, "NotReady")
    elif n.ready is None:
        states.insert(0, "Ready unknown")
    if n.unschedulable:
        states.append("cordoned")
    on = [str(p) for p in n.pods]
    names = ", ".join(on[:3]) + (f" +{len(on) - 3}" if len(on) > 3 else "")
    why = f" — {ev.one_line(n.message)}" if _str(n.message).strip() else ""
    return ev.one_line(f"node {n.name} {', '.join(str(s) for s in states)} ({len(on)} of our pods on it: {names}){why}")
