"""The findings (:func:`build_findings`) and our own service on the decision tree: the pods, our memory as the pods
log it, our (non-Clay) health checks — and the concrete next action the
evidence supports (the runbook only says "investigate our infrastructure").

- No pods: the deployment (scaled to 0, the selector or labels changed).
- OOMKilled with rss climbing to the limit in the logs: a memory leak or a
  too-small limit — roll back, or raise the limit, both outside the
  cockpit; a restart only buys time (rss reaches the limit again some
  seconds after each start), so a restart is not offered as the fix.
- Crashing for another reason: the crashing pod's last log lines (key 5).
- Before the first OOM kill, memory climbing to the limit is itself a
  (minor) finding: the pods say where they are going.
- What Kubernetes says (:mod:`clay_cockpit.triage.cluster`, the ``infra``
  reading): a rollout the trouble followed (roll it back — shown done once
  the deployment is back at the older template), OOM kills, evictions,
  FailedScheduling, image pulls, probe failures with the probe's message, a
  node in trouble under our pods (cordon it or escalate). Each reason cites
  it (source ``infra``); a stale reading is said so and raises nothing alone.

Pure, like the rest of triage.
"""

from __future__ import annotations

from dataclasses import replace

from clay_cockpit.runbook import ActionId, Branch, ErrorClass, Severity
from clay_cockpit.signals import KubeEvent
from clay_cockpit.triage import evidence as ev
from clay_cockpit.triage.cluster import Cluster, Correlation, EventGroup, ago, correlate, event_text, node_text, rollout_text
from clay_cockpit.triage.context import INFRA_LABEL, Context, _calls_summary
from clay_cockpit.triage.findings import (
    P1,
    P2,
    P3,
    Impact,
    all_quiet,
    clay_side,
    credentials,
    impacts,
    latency,
    monitoring_gap,
    quiet_clay_incident,
)
from clay_cockpit.triage.logs import Memory
from clay_cockpit.triage.service import Eviction, evictions, finished_text
from clay_cockpit.triage.types import SEVERITY_ORDER, Action, Finding, Reason, action


def infrastructure(ctx: Context, imps: list[Impact]) -> Finding | None:
    """Our own service: pods, our memory as the pods log it, and our (non-Clay) health checks."""
    th, p, h = ctx.th, ctx.pods, ctx.health
    level: Severity | None = None
    reasons: list[Reason] = []
    sources: set[str] = set()
    title = ""
    mem = ctx.logs.mem if ctx.logs is not None else None
    evicted = evictions(p.finished, ctx.now, EVICTED_RECENT) if p is not None else ()
    if p is not None:
        bad = p.crashing + p.not_ready
        restarts = f", max {p.max_restarts} restart{'s' if p.max_restarts != 1 else ''}" if p.max_restarts else ""
        ended = f"; {finished_text(p.finished)} (ended: not counted)" if p.finished else ""
        pods_line = f"Pods: {p.ready}/{p.total} ready" + (f" — {ev.statuses_text(bad)}" if bad else "") + restarts + ended
        if p.total == 0 and p.finished:
            level, title = P1, f"no pod runs: {finished_text(p.finished)}"
            reasons.append(ctx.reason(f"Pods: none running in {p.namespace}; {finished_text(p.finished)}", "pods", pods=0))
        elif p.total == 0:
            level, title = P1, f"no pods match {p.selector}"
            reasons.append(ctx.reason(f"Pods: none match {p.selector} in {p.namespace}", "pods", pods=0))
        elif p.ready == 0 or (p.crashing and (len(p.crashing) == p.total or p.ready * 2 < p.total)):
            level = P1
        elif p.crashing or p.ready * 2 < p.total:
            level = P2
        elif p.oom and p.restarted:
            level = P3
        if level is not None:
            sources.add("pods")
        if level is not None and p.total:
            words = ev.statuses_text(p.crashing + p.not_ready) or "restarted"  # every pod not ready, as it is
            oom = " (OOMKilled)" if p.oom and "OOMKilled" not in words else ""
            title = f"{p.ready}/{p.total} pods ready: {words}{oom}"
            reasons.append(ctx.reason(pods_line, "pods", ready=p.ready, pods=p.total, crashing=len(p.crashing), restarts=p.max_restarts))
            if p.oom:
                seen = (
                    f" (logs: {mem.text})"
                    if mem is not None
                    else f" (logs: {ctx.logs.memory})"
                    if ctx.logs is not None and ctx.logs.memory
                    else ""
                )
                limit = f", limit {mem.limit:.0f} MB" if mem is not None and mem.limit > 0 else ""
                reasons.append(
                    ctx.reason(f"{p.oom} of {p.total} pods OOMKilled{limit}: out of memory{seen}", "pods", oom=p.oom, pods=p.total)
                )
    told_events: set[str] = set()  # the Evicted events a pods' eviction reason already names
    for e in evicted:
        about = eviction_events(e, ctx.infra.evicted if ctx.infra is not None else None)
        told_events |= {str(x.name) for x in about}
        n = sum(_count(x) for x in about)
        values: dict[str, float | str] = {"evicted": e.count, "node": e.node}
        if about:
            values["events"] = n
        reasons.append(ctx.reason(eviction_text(e, ctx.now, n if about else None), "pods", weak=False, **values))
        if about and ctx.infra_view is not None and ctx.infra_view.live:
            sources.add("infra")
    if evicted and p is not None:
        sources.add("pods")
        gone = eviction_title(evicted)
        if level is None:  # the replicas are back (or coming): a node is taking our pods away — minor, so far
            level, title = P3, gone
            reasons.insert(0, ctx.reason(pods_line, "pods", ready=p.ready, pods=p.total, evicted=len(p.evicted)))
        else:
            title = f"{title}; {gone}" if p.total else f"no pod runs: {gone}"
    climbing = leak(mem)
    if climbing is not None and mem is not None:  # (leak says something only of a memory)
        sources.add("logs")
        if mem.climbing >= 2:
            sources.add("memory")  # several pods' own memory reports agree: more than one noisy reading
        reasons.append(ctx.reason(f"Logs: {climbing}", "logs", rss_mb=mem.rss, limit_mb=mem.limit, mb_per_s=round(mem.slope or 0.0, 2)))
        if level is None:  # before the first OOM kill: the pods say where they are going
            level, title = P3, climbing
    if h is not None:
        failing, degraded = ev.our_checks(h, th.clay_health_checks)
        hl = P1 if failing and h.status == "down" else P2 if failing else P3 if degraded else None
        for c in (failing + degraded)[:2]:
            reasons.append(ctx.reason(f"Health {h.status}: {c.name} {c.status} — {c.detail}", "health", check=c.name))
        if hl is not None:
            sources.add("health")
        if hl is not None and SEVERITY_ORDER[hl] < SEVERITY_ORDER[level]:
            level = hl  # the health endpoint says it is worse than the pods do: its words lead
            said = f"Health {h.status}: {', '.join(c.name for c in failing + degraded)} {'failing' if failing else 'degraded'}"
            title = f"{said}; {title}" if title else said
    hv = ctx.views["health"]
    if hv.state == ev.FAILED and hv.error is not None and hv.error.kind.value == "server_error":
        reasons.append(ctx.reason(f"Health endpoint errors: {hv.error.message}", "health", weak=True))
        if level is None:
            level, title = P3, "our health endpoint answers with an error"
    cl, k = ctx.infra, None
    if cl is not None:
        failing_pods = (p.crashing + p.not_ready) if p is not None else ()
        k = correlate(cl, failing_pods, ctx.now) if level is not None else None
        told = _cluster_reasons(ctx, _without(cl, told_events), k, _trouble(ctx, level))
        alone = _alone(cl) if level is None and ctx.infra_view is not None and ctx.infra_view.live else None
        if alone is not None:
            level, title = P3, alone
        if level is not None and told:
            reasons += told
            if ctx.infra_view is not None and ctx.infra_view.live:
                sources.add("infra")
    if level is None:
        return None
    v = ctx.infra_view
    if v is not None and v.state == ev.FAILED and v.error is not None:
        reasons.append(ctx.reason(f"{INFRA_LABEL} unavailable ({v.error.kind.value}): what changed is not known", "infra", weak=True))
    if ctx.calls is not None and not imps:
        reasons.append(ctx.reason(f"Clay calls fine: {_calls_summary(ctx.calls)}", ctx.calls.basis))
    acts, why = infra_actions(ctx, mem)
    if cl is not None:
        acts = cluster_actions(acts, cl, k, ctx.pods)
    reasons += [ctx.reason(w, "triage") for w in why]
    return Finding(Branch.INFRASTRUCTURE, level, title, tuple(reasons), acts, sources=frozenset(sources))


MAX_CLUSTER_REASONS = 6  # of what Kubernetes says, in a finding
EVICTED_RECENT = 1800.0  # an eviction this recent is current; older evicted pods are history (PodGC keeps them long)


def _from(e: Eviction) -> str:
    return f"node {e.node}" if e.node else "their node"


def eviction_text(e: Eviction, now: float, events: int | None = None) -> str:
    """ "Pods: 2 pods evicted from node n-2 (Evicted events ×2; last 40 s ago): The node was low on resource: memory. …" —
    the pod list's evicted pods and, when Kubernetes' Evicted events about them were read, their count: one reason, two sources."""
    n = f"{e.count} pod{'s' if e.count != 1 else ''}"
    when = ago(e.last, now)
    notes = [f"Evicted events ×{events}"] if events else []
    notes += [f"last {when}"] if when else []
    return f"Pods: {n} evicted from {_from(e)}" + (f" ({'; '.join(notes)})" if notes else "") + (f": {e.message}" if e.message else "")


def _count(e: KubeEvent) -> int:
    return max(1, e.count) if isinstance(e.count, int) and not isinstance(e.count, bool) else 1


def eviction_events(e: Eviction, group: EventGroup | None) -> tuple[KubeEvent, ...]:
    """The Evicted events about the pods of one eviction (the same pods, named by the events' objects)."""
    if group is None:
        return ()
    names = {p.name for p in e.pods}
    return tuple(x for x in group.events if x.kind == "Pod" and str(x.name) in names)


def _without(c: Cluster, told: set[str]) -> Cluster:
    """The cluster's reading less the Evicted events the pods' eviction reasons already name."""
    if not told or c.evicted is None:
        return c
    rest = tuple(x for x in c.evicted.events if not (x.kind == "Pod" and str(x.name) in told))
    return replace(c, evicted=EventGroup(c.evicted.what, rest) if rest else None)


def eviction_title(evs: tuple[Eviction, ...]) -> str:
    """ "2 pods evicted from node n-2: The node was low on resource: memory"."""
    e = evs[0]
    n = sum(x.count for x in evs)
    where = _from(e) if len(evs) == 1 else f"{len(evs)} nodes"
    return f"{n} pod{'s' if n != 1 else ''} evicted from {where}" + (f": {e.cause}" if e.cause else "")


def _trouble(ctx: Context, level: Severity | None) -> str:
    """What is wrong now, in a few words, for the rollout's reason: "our health down", "0/3 pods ready"."""
    h, p = ctx.health, ctx.pods
    if h is not None and not h.healthy and h.status not in ("", "ok"):
        return f"our health {h.status}" + (f" (HTTP {h.http_status})" if h.http_status >= 500 else "")
    if p is not None and p.total and (p.crashing or p.not_ready):
        return f"{p.ready}/{p.total} pods ready"
    return "the trouble" if level is not None else "Warning events"


def _cluster_reasons(ctx: Context, c: Cluster, k: Correlation | None, trouble: str) -> list[Reason]:
    """What Kubernetes says, each a reason citing it (source "infra"), the strongest first."""
    now = ctx.now
    out: list[Reason] = []
    if c.rolled_back:
        out.append(ctx.reason(f"Changes: rolled back — {c.rolled_back}", "infra"))
    elif k is not None:
        values: dict[str, float | str] = {"rollout_at": k.rollout.at or 0.0, "verdict": k.verdict}
        if k.onset is not None:
            values["onset_at"] = k.onset
        out.append(ctx.reason(rollout_text(k, now, trouble), "infra", weak=False, **values))
    for g in (c.image_pull, c.oom, c.evicted, c.scheduling, c.probes):
        if g is not None:
            out.append(ctx.reason(event_text(g, now), "infra", count=g.count, reason=str(g.newest.reason)))
    if c.backoff is not None and len(out) < 2:
        out.append(ctx.reason(event_text(c.backoff, now), "infra", count=c.backoff.count))
    for n in c.bad_nodes[:3]:
        out.append(ctx.reason(f"Nodes: {node_text(n)}", "infra", node=str(n.name)))
    return out[:MAX_CLUSTER_REASONS]


def _alone(c: Cluster) -> str | None:
    """A title when what Kubernetes says is trouble on its own (pods and health fine so far): minor, P3."""
    if c.bad_nodes:
        return node_text(c.bad_nodes[0])
    for g in (c.image_pull, c.oom, c.evicted, c.scheduling, c.probes):
        if g is not None:
            return f"Kubernetes reports {g.count} {g.what} ({g.newest.reason})"
    return None


def _put(acts: list[Action], a: Action, first: bool) -> list[Action]:
    rest = [x for x in acts if x.id != a.id]
    return [a, *rest] if first else [*rest, a]


def cluster_actions(acts: tuple[Action, ...], c: Cluster, k: Correlation | None, p: ev.PodState | None) -> tuple[Action, ...]:
    """The actions, reordered by what Kubernetes says: roll back a rollout the
    trouble followed (done once the deployment is at the older template),
    cordon or escalate a node in trouble under our pods, the scheduler's words."""
    out = list(acts)
    rollout = ev.one_line(k.rollout.summary) if k is not None else ""
    if c.rolled_back:
        done = replace(action(ActionId.ROLLBACK), done=True, detail=ev.one_line(c.rolled_back), since=ev.finite(c.rolled_back_at))
        out = [done if x.id == ActionId.ROLLBACK else x for x in out] if any(x.id == ActionId.ROLLBACK for x in out) else [*out, done]
    elif c.image_pull is not None and c.rollout is not None:
        out = _put(out, action(ActionId.ROLLBACK, f"the new image cannot be pulled: {ev.one_line(c.image_pull.newest.message)}"), True)
    elif k is not None and k.verdict == "after":
        out = _put(out, action(ActionId.ROLLBACK, f"the trouble began after the {rollout}"), True)
    elif k is not None and k.verdict == "before" and any(x.id == ActionId.ROLLBACK for x in out):
        out = _put(out, action(ActionId.ROLLBACK, f"the trouble began before the {rollout}"), False)
    elif k is not None and k.verdict == "unknown":
        out = _put(out, action(ActionId.ROLLBACK, f"if the trouble started with the {rollout}"), out[0].id == ActionId.INVESTIGATE_INFRA)
    if c.bad_nodes or c.evicted is not None:
        names = ", ".join(dict.fromkeys(str(n.name) for n in c.bad_nodes))
        failing = p.crashing + p.not_ready if p is not None else ()
        # the node is the story: it evicts, our failing pods are on it, or nothing else fails
        explains = c.evicted is not None or not failing or any(x.node in {n.name for n in c.bad_nodes} for x in failing)
        first = explains and not (k is not None and k.verdict == "after") and c.image_pull is None and not c.rolled_back
        said = next((x for x in out if x.id == ActionId.ESCALATE_NODE), None)  # the evicted pods named their node
        if names or said is None:
            said = action(ActionId.ESCALATE_NODE, f"{names or 'the evicting node'}: our pods are on it")
        out = _put(out, said, first)
    if c.scheduling is not None:
        msg = ev.one_line(c.scheduling.newest.message)
        out = _put(out, action(ActionId.INVESTIGATE_INFRA, f"the scheduler says: {msg}"), False)
    return tuple(out)


MEMORY_CLIMB = 0.6  # a pod's rss at this share of its limit, and climbing, is on its way to an OOM kill
MEMORY_SOON = 120.0  # … when it reaches the limit within this many seconds at the rate it climbs


def leak(mem: Memory | None) -> str | None:
    """ "rss climbs 14 MB/s: 420/512 MB, the limit in ~7 s" when a pod's memory heads for its limit (the highest pod's)."""
    if mem is None or mem.slope is None or mem.slope <= 0 or mem.limit <= 0:
        return None
    left = (mem.limit - mem.rss) / mem.slope
    if mem.share < MEMORY_CLIMB and left > MEMORY_SOON:
        return None
    eta = f"the limit in ~{ev.fmt_dur(left)}" if left >= 1 else "at the limit"
    return f"rss climbs {mem.slope:.0f} MB/s: {mem.rss:.0f}/{mem.limit:.0f} MB, {eta}"


def infra_actions(ctx: Context, mem: Memory | None) -> tuple[tuple[Action, ...], list[str]]:
    """The concrete next actions the evidence about our own service supports,
    and what to say about them (a restart that only buys time …). Pods a node
    evicted point at the node (cordon it, or escalate it): first, unless our
    own pods crash or run out of memory too."""
    acts, why = _service_actions(ctx, mem)
    p = ctx.pods
    evicted = evictions(p.finished, ctx.now, EVICTED_RECENT) if p is not None else ()
    if not evicted:
        return acts, why
    nodes = ", ".join(_from(e) for e in evicted)
    cause = evicted[0].cause
    node = action(ActionId.ESCALATE_NODE, f"{nodes} evicted our pods" + (f": {cause}" if cause else ""))
    ours = p is not None and bool(p.crashing or p.oom) or any(a.id == ActionId.RAISE_MEMORY_LIMIT for a in acts)
    if ours:
        return (*acts, node), why
    named = [e.node for e in evicted if e.node]
    look = action(ActionId.INVESTIGATE_INFRA, f"kubectl describe node {named[0]}: its conditions and what else runs there" if named else "")
    return (node, look, *(a for a in acts if a.id not in (ActionId.ESCALATE_NODE, ActionId.INVESTIGATE_INFRA))), why


def _service_actions(ctx: Context, mem: Memory | None) -> tuple[tuple[Action, ...], list[str]]:
    p = ctx.pods
    if p is not None and p.total == 0:
        return (
            action(ActionId.CHECK_DEPLOYMENT, f"nothing matches {p.selector} in {p.namespace}: scaled to 0, or the labels changed"),
            action(ActionId.SCALE, "if it was scaled to 0"),
        ), []
    oom = (p is not None and p.oom > 0) or (ctx.logs is not None and bool(ctx.logs.oom_pods))
    climbing = leak(mem) is not None or (oom and mem is not None and mem.slope is not None and mem.slope > 0)
    if climbing and mem is not None and mem.slope:
        after = f"~{ev.fmt_dur(mem.to_limit)} after each start" if mem.to_limit else "soon after each start"
        why = [
            f"Memory leak or a too-small limit: rss climbs {mem.slope:.0f} MB/s to the {mem.limit:.0f} MB limit, {after}. "
            "A restart only buys time; the fix is outside the cockpit"
        ]
        return (
            action(ActionId.ROLLBACK, "a leak that came with it: rss climbs on every pod"),
            action(ActionId.RAISE_MEMORY_LIMIT, f"if the load outgrew {mem.limit:.0f} MB"),
            action(ActionId.READ_POD_LOGS, "what the pod did just before it ran out"),
        ), why
    if oom:
        return (
            action(ActionId.RAISE_MEMORY_LIMIT, "the pods ran out of memory"),
            action(ActionId.ROLLBACK, "if it started with the last change"),
            action(ActionId.READ_POD_LOGS, "what the pod did just before it ran out"),
        ), ["OOMKilled without a memory trend in the logs: a restart may only buy time"]
    crashing = p.crashing if p is not None else ()
    if crashing:
        c = crashing[0]
        last = f" (last: {c.last_termination})" if c.last_termination else ""
        return (
            action(ActionId.READ_POD_LOGS, f"why {c.name} crashes{last}"),
            action(ActionId.ROLLBACK, "if it started with the last change"),
        ), []
    if p is not None and p.not_ready:
        return (
            action(ActionId.READ_POD_LOGS, f"{ev.statuses_text(p.not_ready)}: why they are not ready"),
            action(ActionId.INVESTIGATE_INFRA, "scheduling, nodes, resources (kubectl describe pod)"),
        ), []
    return (action(ActionId.INVESTIGATE_INFRA),), []


def build_findings(ctx: Context) -> list[Finding]:
    """Every active branch (unordered; assess orders them and rates confidence)."""
    out: list[Finding] = []
    imps = impacts(ctx)
    server = [i for i in imps if i.stat.cls == ErrorClass.SERVER]
    for imp in imps:
        if imp.stat.cls in (ErrorClass.AUTH, ErrorClass.RATE_LIMIT, None):
            out.append(credentials(ctx, imp))
    lat, lat_reason = latency(ctx)
    if server or lat is not None:
        out.append(clay_side(ctx, server[0] if server else None, lat, lat_reason))
    elif ctx.status is not None and ctx.status.acknowledged:
        out.append(quiet_clay_incident(ctx))
    infra = infrastructure(ctx, imps)
    if infra is not None:
        out.append(infra)
    gap = monitoring_gap(ctx)
    if gap is not None:
        out.append(gap)
    if not out:
        out.append(all_quiet(ctx))
    return [replace(f, title=ev.one_line(f.title)) for f in out]
