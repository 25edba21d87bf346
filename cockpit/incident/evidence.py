"""The data of an ``evidence_snapshot`` event: the numbers behind a moment,
from a :class:`~clay_cockpit.signals.Signals` (:func:`signals_evidence`).

Small by construction; the timeline caps every event on append anyway
(:func:`clay_cockpit.incident.events.encode_capped`).

Pure standard library; no Textual, no network.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clay_cockpit import signals as sig
from clay_cockpit.incident.events import one_line
from clay_cockpit.incident.metrics_history import metrics_history
from clay_cockpit.triage.service import is_evicted, is_finished


def signals_evidence(signals: sig.Signals, *, log_lines: int = 5, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The numbers behind a moment, for an ``evidence_snapshot`` event: per
    source its failure or its key values (status page verdict and unresolved
    incidents, health and failing checks, each series' current value, unready
    pods, and apart from them the pods that ended for good: evicted …), the newest ``log_lines`` log lines, plus ``extra`` (for example the
    assessment's ``to_dict()``). Small by construction, capped on append anyway."""
    out: dict[str, Any] = {"signals_at": signals.at}
    for name in ("statuspage", "health", "metrics", "pods"):
        reading: sig.Reading[Any] = getattr(signals, name)
        entry: dict[str, Any] = {"error": reading.error.line()} if reading.error is not None else {}
        if reading.value is not None:
            entry |= {"updated_at": reading.updated_at, "stale": reading.stale, **_describe(reading.value)}
        out[name] = entry or {"error": "no data yet"}
    if log_lines > 0 and signals.recent_logs:
        out["logs"] = [one_line(f"{ln.pod}: {ln.text}", 240) for ln in signals.recent_logs[-log_lines:]]
    return out | dict(extra or {})


def _describe(v: object) -> dict[str, Any]:
    if isinstance(v, sig.StatusPageSnapshot):
        incidents = [
            {"name": i.name, "status": i.status, "impact": i.impact, "update": one_line(i.latest_update, 200)} for i in v.incidents[:5]
        ]
        degraded = [f"{c.name}: {c.status}" for c in v.components if c.status != sig.ComponentStatus.OPERATIONAL][:10]
        return {"indicator": v.indicator, "description": v.description, "incidents": incidents, "not_operational": degraded}
    if isinstance(v, sig.HealthSnapshot):
        failing = [f"{c.name}: {c.status} {c.detail}".strip() for c in v.checks if not c.ok][:10]
        return {"status": v.status, "http_status": v.http_status, "response_ms": round(v.response_ms, 1), "failing": failing}
    if isinstance(v, sig.MetricsSnapshot):
        values = {s.label or s.key: [None if s.current is None else round(s.current, 3), s.unit] for s in v.series[:30]}
        out = {"served_by": v.served_by, "backup": v.is_backup, "values": values}
        history = metrics_history(v.series)  # the points the sparklines draw: the postmortem's chart and peak
        return out | ({"history": history} if history else {})
    if isinstance(v, sig.PodsSnapshot):
        # the replicas: an evicted pod stays listed (Failed) after its ReplicaSet replaced it — said apart
        live = [p for p in v.pods if not is_finished(p)]
        bad = [{"name": p.name, "status": p.status, "restarts": p.restarts, "last": p.last_termination} for p in live if not p.is_ready]
        out = {
            "pods": len(live),
            "ready": sum(p.is_ready for p in live),
            "restarts": sum(p.restarts for p in live),
            "not_ready": bad[:10],
        }
        done = [
            {
                "name": p.name,
                "status": "Evicted" if is_evicted(p) else p.reason or p.phase,
                "node": p.node,
                "message": one_line(p.message, 500),
            }
            for p in v.pods
            if is_finished(p)
        ]
        return out | ({"finished": done[:10]} if done else {})
    return {}
