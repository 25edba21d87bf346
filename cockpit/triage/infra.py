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

Pure, like the rest of triage.
"""

from __future__ import annotations

from dataclasses import replace

from clay_cockpit.runbook import ActionId, Branch, ErrorClass, Severity
from clay_cockpit.triage import evidence as ev
from clay_cockpit.triage.findings import (
    P1,
    P2,
    P3,
    Context,
    Impact,
    _calls_summary,
    all_quiet,
    clay_side,
    credentials,
    impacts,
    latency,
    monitoring_gap,
    quiet_clay_incident,
)
from clay_cockpit.triage.types import SEVERITY_ORDER, Action, Finding, Reason, action


def infrastructure(ctx: Context, imps: list[Impact]) -> Finding | None:
    """Our own service: pods, our memory as the pods log it, and our (non-Clay) health checks."""
    th, p, h = ctx.th, ctx.pods, ctx.health
    level: Severity | None = None
    reasons: list[Reason] = []
    sources: set[str] = set()
    title = ""
    mem = ctx.logs.mem if ctx.logs is not None else None
    if p is not None:
        bad = p.crashing + p.not_ready
        restarts = f", max {p.max_restarts} restart{'s' if p.max_restarts != 1 else ''}" if p.max_restarts else ""
        pods_line = f"Pods: {p.ready}/{p.total} ready" + (f" — {ev.statuses_text(bad)}" if bad else "") + restarts
        if p.total == 0:
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
                seen = f" (logs: {mem.text})" if mem is not None else f" (logs: {ctx.logs.memory})" if ctx.logs is not None and ctx.logs.memory else ""
                reasons.append(ctx.reason(f"{p.oom} pod{'s' if p.oom != 1 else ''} OOMKilled: out of memory{seen}", "pods", oom=p.oom))
    climbing = leak(mem)
    if climbing is not None:
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
    if level is None:
        return None
    if ctx.calls is not None and not imps:
        reasons.append(ctx.reason(f"Clay calls fine: {_calls_summary(ctx.calls)}", ctx.calls.basis))
    acts, why = infra_actions(ctx, mem)
    reasons += [ctx.reason(w, "triage") for w in why]
    return Finding(Branch.INFRASTRUCTURE, level, title, tuple(reasons), acts, sources=frozenset(sources))


MEMORY_CLIMB = 0.6  # a pod's rss at this share of its limit, and climbing, is on its way to an OOM kill
MEMORY_SOON = 120.0  # … when it reaches the limit within this many seconds at the rate it climbs


def leak(mem: ev.Memory | None) -> str | None:
    """"rss climbs 14 MB/s: 420/512 MB, the limit in ~7 s" when a pod's memory heads for its limit (the highest pod's)."""
    if mem is None or mem.slope is None or mem.slope <= 0 or mem.limit <= 0:
        return None
    left = (mem.limit - mem.rss) / mem.slope
    if mem.share < MEMORY_CLIMB and left > MEMORY_SOON:
        return None
    eta = f"the limit in ~{ev.fmt_dur(left)}" if left >= 1 else "at the limit"
    return f"rss climbs {mem.slope:.0f} MB/s: {mem.rss:.0f}/{mem.limit:.0f} MB, {eta}"


def infra_actions(ctx: Context, mem: ev.Memory | None) -> tuple[tuple[Action, ...], list[str]]:
    """The concrete next actions the evidence about our own service supports,
    and what to say about them (a restart that only buys time …)."""
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
        why = [f"Memory leak or a too-small limit: rss climbs {mem.slope:.0f} MB/s to the {mem.limit:.0f} MB limit, {after}. "
               "A restart only buys time; the fix is outside the cockpit"]
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
        return (action(ActionId.READ_POD_LOGS, f"{ev.statuses_text(p.not_ready)}: why they are not ready"),
                action(ActionId.INVESTIGATE_INFRA, "scheduling, nodes, resources (kubectl describe pod)")), []
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
