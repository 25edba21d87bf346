"""Every signal digested once: the :class:`Context` the findings of
:mod:`clay_cockpit.triage.findings` and :mod:`clay_cockpit.triage.infra` read
— the views of the four polled sources, our Clay calls from the best source
(metrics > health > logs), the log evidence, what we cannot see (the gaps)
and a one-line summary of each source (the observations).

Pure, like the rest of triage.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from clay_cockpit.config import Thresholds
from clay_cockpit.signals import (
    HealthSnapshot,
    InfraSnapshot,
    LogLine,
    MetricsSnapshot,
    PodsSnapshot,
    SourceError,
    StatusPageSnapshot,
)
from clay_cockpit.triage import evidence as ev
from clay_cockpit.triage.cluster import Cluster, cluster_evidence
from clay_cockpit.triage.logs import LogEvidence, log_evidence, logs_calls
from clay_cockpit.triage.service import finished_text
from clay_cockpit.triage.types import Gap, Observation, Reason

# --------------------------------------------------------------------------
# Context: every signal digested once


@dataclass
class Context:
    th: Thresholds
    views: dict[str, ev.View]
    status: ev.ClayStatus | None = None
    health: HealthSnapshot | None = None
    pods: ev.PodState | None = None
    metrics: MetricsSnapshot | None = None
    calls: ev.Calls | None = None  # the best view of our Clay calls: metrics > health > logs
    logs: LogEvidence | None = None
    gaps: list[Gap] = field(default_factory=list)
    observed: list[Observation] = field(default_factory=list)
    logs_stale: SourceError | None = None  # the follow failed and no line came since: the log lines are old
    # what Kubernetes says (events, nodes, what changed): a secondary source, never one of the four polled
    # ones the confidence and "healthy" rest on; None when there is no infra reading (missing or failed)
    infra: Cluster | None = None
    infra_view: ev.View | None = None
    now: float = 0.0

    @classmethod
    def build(
        cls,
        views: dict[str, ev.View],
        lines: tuple[LogLine, ...],
        th: Thresholds,
        logs_stale: SourceError | None = None,
        infra: ev.View | None = None,
        now: float = 0.0,
    ) -> Context:
        ctx = cls(th, views, logs_stale=logs_stale, infra_view=infra, now=now)
        sp, hv, mv, pv = views["statuspage"], views["health"], views["metrics"], views["pods"]
        if isinstance(sp.value, StatusPageSnapshot):
            ctx.status = ev.clay_status(sp.value)
        if isinstance(hv.value, HealthSnapshot):
            ctx.health = hv.value
        if isinstance(pv.value, PodsSnapshot):
            ctx.pods = ev.pod_state(pv.value, th.restarts_warn)
        existing = frozenset(x.name for x in pv.value.pods) if isinstance(pv.value, PodsSnapshot) and pv.live else None
        ctx.logs = log_evidence(tuple(lines), existing) if isinstance(lines, (tuple, list)) else None
        lacks: list[str] = []
        if isinstance(mv.value, MetricsSnapshot):
            ctx.metrics = mv.value
            ctx.calls, lacks = ev.metrics_calls(mv.value, th, weak=not mv.live)
            if ctx.calls.total is None and mv.live:  # no request rate: no shares, no "healthy"
                ctx.views = {**views, "metrics": replace(mv, state=ev.PARTIAL)}
        elif ctx.health is not None:
            ctx.calls = ev.health_calls(ctx.health, th.clay_health_checks, weak=True)
        if ctx.calls is None and ctx.logs is not None:
            ctx.calls = logs_calls(ctx.logs)
        for name in ev.PRIMARY:
            ctx.gaps.extend(_gap(views[name]))
        ctx.gaps.extend(Gap("metrics", ev.PARTIAL, ev.one_line(f"metrics partial: {text}")) for text in lacks)
        if not lines and ctx.pods is not None and ctx.pods.total:
            ctx.gaps.append(Gap("logs", "missing", "no recent pod log lines", "logs are followed in the background; wait a few seconds"))
        if logs_stale is not None and lines:
            err = logs_stale
            ctx.gaps.append(
                Gap("logs", ev.STALE, ev.one_line(f"logs stale (the lines are old): {err.kind.value}: {err.message}"), err.hint)
            )
        if infra is not None and isinstance(infra.value, InfraSnapshot):
            pods = pv.value.pods if isinstance(pv.value, PodsSnapshot) and isinstance(pv.value.pods, tuple) else ()
            ctx.infra = cluster_evidence(infra.value, pods, now)
        if infra is not None:
            ctx.gaps.extend(_infra_gap(infra))
        ctx.observed = [_observe(ctx, name) for name in (*ev.PRIMARY, "logs")]
        return ctx

    def stale_note(self, source: str) -> str:
        if source == "logs" and self.logs_stale is not None:
            return f" (logs stale: {self.logs_stale.kind.value}, no new line since)"
        v = self.infra_view if source == "infra" else self.views.get(source)
        if v is None or v.state != ev.STALE:
            return ""
        return f" ({ev.fmt_dur(v.age)} old)" if v.age is not None else " (stale)"

    def reason(self, text: str, source: str, weak: bool = False, **values: float | str) -> Reason:
        note = self.stale_note(source)
        weak = weak or bool(note) or source == "logs"
        return Reason(ev.one_line(text) + note, source, weak, tuple(values.items()))


def _gap(v: ev.View) -> list[Gap]:
    label = ev.LABEL[v.name]
    if v.state == ev.MISSING:
        return [Gap(v.name, ev.MISSING, f"{label} not read yet")]
    err = v.error
    detail = f"{err.kind.value}: {err.message}" if err is not None else ""
    hint = err.hint if err is not None else ""
    if v.state == ev.FAILED:
        return [Gap(v.name, ev.FAILED, ev.one_line(f"{label} unavailable: {detail}"), hint)]
    if v.state == ev.STALE:
        age = f"{ev.fmt_dur(v.age)} old" if v.age is not None else "old"
        return [Gap(v.name, ev.STALE, ev.one_line(f"{label} stale ({age})" + (f": {detail}" if detail else "")), hint)]
    return []


INFRA_LABEL = "Kubernetes events, nodes and changes"


def _infra_gap(v: ev.View) -> list[Gap]:
    """The infra reading failed or is old: said (never a missing one: the source may not run at all)."""
    err = v.error
    detail = f"{err.kind.value}: {err.message}" if err is not None else ""
    hint = err.hint if err is not None else ""
    if v.state == ev.FAILED:
        return [Gap("infra", ev.FAILED, ev.one_line(f"{INFRA_LABEL} unavailable: {detail}"), hint)]
    if v.state == ev.STALE:
        age = f"{ev.fmt_dur(v.age)} old" if v.age is not None else "old"
        return [Gap("infra", ev.STALE, ev.one_line(f"{INFRA_LABEL} stale ({age})" + (f": {detail}" if detail else "")), hint)]
    return []


def _observe(ctx: Context, name: str) -> Observation:
    if name == "logs":
        lg = ctx.logs
        if lg is None:
            return Observation("logs", ev.MISSING, None, "no recent pod log lines")
        summary = f"{lg.lines} recent lines, {lg.calls} Clay calls logged, {lg.failed} failed"
        if ctx.logs_stale is not None:
            return Observation("logs", ev.STALE, None, f"{summary}; old: log follow {ctx.logs_stale.kind.value}")
        return Observation("logs", ev.LIVE, None, summary)
    v = ctx.views[name]
    if v.value is None:
        gap = next((g for g in ctx.gaps if g.source == name), None)
        return Observation(name, v.state, None, gap.text if gap else "")
    if name == "statuspage" and ctx.status is not None:
        n = len(ctx.status.incidents)
        count = "no unresolved incident" if n == 0 else f"{n} unresolved incident{'s' if n != 1 else ''}"
        summary = f"{ctx.status.description or ctx.status.indicator or 'no indicator'}, {count}"
    elif name == "health" and ctx.health is not None:
        failing = [c.name for c in ctx.health.checks if not c.ok]
        summary = f"{ctx.health.status} (HTTP {ctx.health.http_status})" + (f", failing: {', '.join(failing)}" if failing else "")
    elif name == "metrics" and ctx.metrics is not None:
        summary = _calls_summary(ctx.calls) + (" (backup Prometheus)" if ctx.metrics.is_backup else "")
    elif name == "pods" and ctx.pods is not None:
        p = ctx.pods
        bad = ev.statuses_text(p.crashing + p.not_ready)
        summary = (
            f"{p.ready}/{p.total} ready"
            + (f": {bad}" if bad else "")
            + (f", max {p.max_restarts} restarts" if p.max_restarts else "")
            + (f"; {finished_text(p.finished)} (ended)" if p.finished else "")
        )
    else:
        summary = "answered in an unexpected shape"
    return Observation(name, v.state, v.age, ev.one_line(summary))


def _calls_summary(calls: ev.Calls | None) -> str:
    if calls is None:
        return "no Clay call metrics"
    if calls.basis == "logs":
        return f"{calls.total:.0f} Clay calls logged, {calls.error_total:.0f} failed ({calls.window})"
    parts = []
    if calls.total is not None:
        parts.append(f"{ev.fmt_rate(calls.total)} Clay calls")
    errs = calls.error_total
    parts.append(f"errors {ev.fmt_rate(errs)}" + (f" ({ev.fmt_pct(errs / calls.total)})" if calls.total else ""))
    if calls.p95_ms is not None:
        parts.append(f"p95 {ev.fmt_ms(calls.p95_ms)}")
    return ", ".join(parts)
