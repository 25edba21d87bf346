"""Triage: the decision tree, the severity table, honesty about missing data.

Table-driven: each case builds Signals from clay_cockpit.signals types (the builders
below are shared with the other test_triage_* files) and says where
``assess`` must land: branch, severity, confidence, the error classes and the
first actions, and words the responder must see.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from clay_cockpit.config import Thresholds
from clay_cockpit.runbook import ITEMS, ActionId, Branch, ErrorClass, Severity, item_applies
from clay_cockpit.signals import (
    Component,
    ComponentStatus,
    ErrorKind,
    HealthCheck,
    HealthSnapshot,
    LogLine,
    MetricsSnapshot,
    PodInfo,
    PodsSnapshot,
    Reading,
    Series,
    Signals,
    SourceError,
    StatusIncident,
    StatusPageSnapshot,
)
from clay_cockpit.triage.tree import Assessment, Confidence, assess, refresh_intervals

NOW = 1_800_000_000.0
TH = Thresholds()
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "real"  # copied from shared/fixtures/real
LOG_T0 = datetime(2026, 1, 1, tzinfo=UTC).timestamp()  # log lines run on the cluster's clock, not NOW

# --------------------------------------------------------------------------
# Builders (imported by test_triage_property / _stable / _drill)


def status_page(
    incidents: tuple[StatusIncident, ...] = (), components: dict[str, str] | None = None, indicator: str | None = None
) -> StatusPageSnapshot:
    comps = components or {"API": "operational", "People enrichment": "operational", "Webhooks": "operational"}
    if indicator is None:
        indicator = max((i.impact for i in incidents), key=["none", "minor", "major", "critical"].index, default="none")
    desc = "All Systems Operational" if indicator == "none" else "Partial System Outage"
    return StatusPageSnapshot(
        provider="statuspage",
        page_name="Clay",
        page_url="https://status.clay.com",
        indicator=indicator,
        description=desc,
        components=tuple(Component(n, ComponentStatus.parse(s)) for n, s in comps.items()),
        incidents=incidents,
        fetched_at=NOW,
        response_ms=40.0,
    )


def incident(
    name: str = "Clay API unavailable", impact: str = "critical", status: str = "investigating", components: tuple[str, ...] = ("API",)
) -> StatusIncident:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return StatusIncident(
        id="inc1",
        name=name,
        status=status,
        impact=impact,
        started_at=at,
        updated_at=at,
        latest_update="We are investigating.",
        latest_update_at=at,
        components=components,
    )


def health(status: str = "ok", **checks: tuple[str, str]) -> HealthSnapshot:
    base = {
        "clay_api": ("ok", "last 60s: 2400 calls, 0 errors, p95 350 ms"),
        "database": ("ok", "pool 6/20 in use"),
        "queue": ("ok", "3/3 workers ready; depth 12"),
        "fallback": ("ok", "inactive"),
    }
    base.update(checks)
    return HealthSnapshot(
        status=status,
        healthy=status == "ok",
        checks=tuple(HealthCheck(n, s, d, s == "ok") for n, (s, d) in base.items()),
        http_status=503 if status == "down" else 200,
        response_ms=12.0,
        fetched_at=NOW,
    )


def metrics(
    errors: dict[int, float] | None = None,
    rate: float | None = 40.0,
    p95: float | None = 350.0,
    history: int = 8,
    step: float = 15.0,
    backup: bool = False,
) -> MetricsSnapshot:
    """Prometheus as the source gives it; every error code held at its rate for ``history`` points."""
    t_end = LOG_T0 + 600
    times = [t_end - step * i for i in reversed(range(history))]
    series = []
    for code, value in (errors or {500: 0.0}).items():
        series.append(
            Series(
                f"errors_by_code:{code}",
                "errors_by_code",
                f"Clay {code}/s",
                "req/s",
                (("code", str(code)),),
                value,
                tuple((t, value) for t in times),
            )
        )
    if rate is not None:
        series.append(Series("request_rate", "request_rate", "Clay requests", "req/s", (), rate, tuple((t, rate) for t in times)))
    if p95 is not None:
        series.append(Series("latency_p95", "latency_p95", "Clay p95", "ms", (), p95, tuple((t, p95) for t in times)))
    return MetricsSnapshot(series=tuple(series), served_by="http://prometheus:9090", is_backup=backup, fetched_at=NOW, response_ms=30.0)


def pod(name: str, status: str = "Running", ready: bool = True, restarts: int = 0, last: str | None = None) -> PodInfo:
    return PodInfo(
        name=name,
        phase="Running" if status != "Pending" else "Pending",
        ready=int(ready),
        containers=1,
        restarts=restarts,
        status=status,
        last_termination=last,
        created_at=None,
        owner="ReplicaSet/clay-sync-abc",
    )


def pods(*items: PodInfo, n: int = 3) -> PodsSnapshot:
    items = items or tuple(pod(f"clay-sync-abc-{i}") for i in range(n))
    return PodsSnapshot(context="prod", namespace="clay-sync", selector="app=clay-sync", pods=items, fetched_at=NOW, response_ms=20.0)


def call_lines(code: int, n: int, t0: float = LOG_T0, every: float = 0.1, **extra: str) -> tuple[LogLine, ...]:
    """``n`` logged Clay calls answered with ``code``, ``every`` seconds apart (cluster clock)."""
    kv = " ".join(f"{k}={v}" for k, v in extra.items())
    if code == 200:
        text = f'level=info msg="clay call" method=POST endpoint=/v1/people/enrich status=200 duration_ms=140 {kv}'
    else:
        text = f'level=error msg="clay call failed" method=POST endpoint=/v1/people/enrich status={code} duration_ms=20 {kv}'
    return tuple(LogLine(f"clay-sync-abc-{i % 3}", text.strip(), datetime.fromtimestamp(t0 + i * every, UTC)) for i in range(n))


def memory_lines(rss0: float, rss1: float, seconds: float, pods_: int = 3, every: float = 5.0, limit: int = 512) -> tuple[LogLine, ...]:
    """Each pod logging its memory every ``every`` s, rss climbing from ``rss0`` to ``rss1`` MB over ``seconds``."""
    out = []
    steps = int(seconds // every)
    for i in range(pods_):
        for k in range(steps + 1):
            rss = rss0 + (rss1 - rss0) * k / steps
            out.append(
                LogLine(
                    f"clay-sync-abc-{i}",
                    f'level=warn msg="memory high" rss_mb={rss:.0f} limit_mb={limit}',
                    datetime.fromtimestamp(LOG_T0 + k * every + i * 0.1, UTC),
                )
            )
    return tuple(sorted(out, key=lambda ln: ln.ts))


def ramp_metrics(code: int, rate: float, onset: float, total: float = 45.0, step: float = 15.0) -> MetricsSnapshot:
    """Prometheus ``onset`` seconds into a failure at ``rate``/s (before it: none): the 1-minute rate ramps up.
    The newest point is at LOG_T0 + 600 (negative ``onset``: it begins after that)."""
    t_end = LOG_T0 + 600
    start = t_end - onset

    def at(t: float) -> float:
        return rate * min(max(t - start, 0.0), 60.0) / 60.0

    times = [t_end - step * i for i in reversed(range(8))]
    err = Series(
        f"errors_by_code:{code}",
        "errors_by_code",
        f"Clay {code}/s",
        "req/s",
        (("code", str(code)),),
        at(t_end),
        tuple((t, at(t)) for t in times),
    )
    req = Series("request_rate", "request_rate", "Clay requests", "req/s", (), total, tuple((t, total) for t in times))
    p95 = Series("latency_p95", "latency_p95", "Clay p95", "ms", (), 350.0, tuple((t, 350.0) for t in times))
    return MetricsSnapshot(series=(err, req, p95), served_by="http://prometheus:9090", is_backup=False, fetched_at=NOW, response_ms=30.0)


def interleave(*runs: tuple[LogLine, ...]) -> tuple[LogLine, ...]:
    return tuple(sorted((ln for run in runs for ln in run), key=lambda ln: ln.ts))


def clock(at: float) -> str:
    return datetime.fromtimestamp(at).strftime("%H:%M:%S")


RATE_LIMIT_HEADERS = {"x-ratelimit-limit": "600", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "37", "retry-after": "37"}


def live(value: object, age: float = 2.0) -> Reading:
    return Reading(value=value, updated_at=NOW - age, checked_at=NOW - age)


def failed(
    source: str,
    kind: ErrorKind = ErrorKind.UNREACHABLE,
    message: str = "connection refused by 127.0.0.1:9090",
    hint: str = "check that it runs",
) -> Reading:
    return Reading(error=SourceError(source, kind, message, hint, at=NOW - 1), checked_at=NOW - 1)


def stale(value: object, age: float = 600.0, error: SourceError | None = None) -> Reading:
    return Reading(value=value, error=error, updated_at=NOW - age, checked_at=NOW - 1)


def signals(
    statuspage: Reading | None = None,
    health_: Reading | None = None,
    metrics_: Reading | None = None,
    pods_: Reading | None = None,
    logs: tuple[LogLine, ...] | None = None,
) -> Signals:
    """All four sources live and healthy unless a reading is given."""
    return Signals(
        statuspage=statuspage if statuspage is not None else live(status_page()),
        health=health_ if health_ is not None else live(health()),
        metrics=metrics_ if metrics_ is not None else live(metrics()),
        pods=pods_ if pods_ is not None else live(pods()),
        recent_logs=call_lines(200, 20) if logs is None else logs,
        at=NOW,
    )


def texts(a: Assessment) -> str:
    """Everything the triage pane would print, as one string to search."""
    parts = [a.headline, a.cannot_see]
    for f in a.findings:
        parts += [f.line] + [r.text for r in f.reasons] + [x.text for x in f.actions] + [x.why for x in f.actions if x.why]
    parts += [g.text for g in a.gaps] + [g.hint for g in a.gaps]
    return "\n".join(parts)


def check_shape(a: Assessment) -> None:
    """What holds for every assessment: whole one-line texts (never cut for a
    screen: the widgets clip), serialises, severity is the worst."""
    assert a.findings, "an assessment always has at least one finding"
    lines = [a.headline, a.cannot_see, *(g.text for g in a.gaps), *(o.summary for o in a.observed)]
    for f in a.findings:
        lines += [f.line, f.title, *(r.text for r in f.reasons), *(x.text for x in f.actions), *(x.why for x in f.actions)]
    for text in lines:
        assert "\n" not in text and "…" not in text, text
    order = [None, Severity.P4, Severity.P3, Severity.P2, Severity.P1]
    assert a.severity == max((f.severity for f in a.findings), key=order.index)
    assert a.branch == a.findings[0].branch and a.confidence == a.findings[0].confidence
    json.loads(json.dumps(a.to_dict(), allow_nan=False))  # strict JSON: the timeline is read by other tools


# --------------------------------------------------------------------------
# The table


@dataclass
class Case:
    name: str
    signals: Signals
    branch: Branch
    severity: Severity | None
    confidence: Confidence
    errors: frozenset[ErrorClass] | None = None  # of the first finding
    actions: tuple[ActionId, ...] | None = None  # the first finding's actions, exactly
    branches: tuple[Branch, ...] | None = None  # every finding's branch, in order
    words: tuple[str, ...] = ()  # must appear in what the pane prints
    not_words: tuple[str, ...] = ()
    headline: str | None = None
    extra: dict = field(default_factory=dict)


AUTH = (ActionId.VERIFY_KEY, ActionId.UPDATE_KEY, ActionId.RESTART)
RATE = (ActionId.READ_RATE_LIMITS, ActionId.ENABLE_QUEUING)
RATE_READ = (ActionId.ENABLE_QUEUING,)  # the logs gave the rate-limit headers: read (done), on screen
SERVER = (ActionId.ENABLE_FALLBACK, ActionId.WATCH_CLAY_STATUS)
HIGH, MEDIUM, LOW = Confidence.HIGH, Confidence.MEDIUM, Confidence.LOW
B, S = Branch, Severity
OUTAGE_PAGE = status_page((incident(),), {"API": "major_outage", "People enrichment": "major_outage", "Webhooks": "operational"})
SLOW_PAGE = status_page((incident("Elevated API latency", "minor"),), {"API": "degraded_performance"})
CRASHLOOP = pods(*(pod(f"clay-sync-abc-{i}", "CrashLoopBackOff", False, 2, "OOMKilled") for i in range(3)))
QUEUE_FAIL = health("down", queue=("fail", "0/3 workers ready; backlog 4000 jobs"))
AUTH_DOWN = health("down", clay_api=("fail", "last 60s: 2353 calls, 2353 errors (401: 2353), p95 40 ms"))

CASES = [
    # ---- healthy and near-healthy
    Case(
        "healthy",
        signals(),
        B.HEALTHY,
        None,
        HIGH,
        frozenset(),
        (),
        words=("All Systems Operational, no unresolved incident", "3/3 ready"),
        headline="Healthy: Clay and our service look normal",
    ),
    Case("a trickle of 500s below error_rate_warn is healthy", signals(metrics_=live(metrics({500: 0.5}))), B.HEALTHY, None, HIGH),
    Case("a trickle of 429s below error_rate_warn is healthy", signals(metrics_=live(metrics({429: 0.9}))), B.HEALTHY, None, HIGH),
    Case(
        "metrics from the backup Prometheus are still live",
        signals(metrics_=live(metrics(backup=True))),
        B.HEALTHY,
        None,
        HIGH,
        words=("backup Prometheus",),
    ),
    # ---- credentials: 401/403
    Case(
        "401 on every call (key revoked)",
        signals(
            metrics_=live(metrics({401: 39.0}, rate=39.0)), health_=live(AUTH_DOWN), logs=call_lines(401, 60, error='"invalid api key"')
        ),
        B.CREDENTIALS,
        S.P1,
        HIGH,
        frozenset({ErrorClass.AUTH}),
        AUTH,
        (B.CREDENTIALS,),
        words=("401 at 39/s — 100% of 39/s Clay calls, for", "No unresolved incident on Clay's status page"),
        headline="Credentials: Clay answers 401 to 100% of calls — P1",
    ),
    Case(
        "403 on a fifth of calls is partial",
        signals(metrics_=live(metrics({403: 8.0}))),
        B.CREDENTIALS,
        S.P2,
        HIGH,
        frozenset({ErrorClass.AUTH}),
        AUTH,
        words=("403 at 8.0/s — 20% of 40/s",),
    ),
    Case(
        "401 and 403 together are one finding",
        signals(metrics_=live(metrics({401: 3.0, 403: 3.0}))),
        B.CREDENTIALS,
        S.P2,
        HIGH,
        frozenset({ErrorClass.AUTH}),
        AUTH,
        (B.CREDENTIALS,),
        words=("401/403 at 6.0/s",),
    ),
    Case(
        "a few 401s a second are minor",
        signals(metrics_=live(metrics({401: 2.0}))),
        B.CREDENTIALS,
        S.P3,
        HIGH,
        frozenset({ErrorClass.AUTH}),
        AUTH,
    ),
    # ---- credentials: 429
    Case(
        "429 on 45% of calls, status page green",
        signals(metrics_=live(metrics({429: 18.0})), logs=call_lines(429, 30, **RATE_LIMIT_HEADERS) + call_lines(200, 5, LOG_T0 + 3)),
        B.CREDENTIALS,
        S.P2,
        HIGH,
        frozenset({ErrorClass.RATE_LIMIT}),
        RATE_READ,
        words=("429 at 18/s — 45% of 40/s Clay calls", "Rate-limit headers: limit 600, remaining 0, reset 37 s"),
    ),
    Case(
        "429 at 2/s is minor",
        signals(metrics_=live(metrics({429: 2.0}))),
        B.CREDENTIALS,
        S.P3,
        HIGH,
        frozenset({ErrorClass.RATE_LIMIT}),
        RATE,
    ),
    Case(
        "429 on most calls is an outage",
        signals(metrics_=live(metrics({429: 30.0}))),
        B.CREDENTIALS,
        S.P1,
        HIGH,
        frozenset({ErrorClass.RATE_LIMIT}),
        RATE,
    ),
    # ---- credentials: 5xx without a Clay incident
    Case(
        "503s without a Clay incident: ours to check",
        signals(metrics_=live(metrics({503: 24.0, 500: 6.0}))),
        B.CREDENTIALS,
        S.P1,
        HIGH,
        frozenset({ErrorClass.SERVER}),
        SERVER,
        words=("500/503 at 30/s", "Clay errors: 75% of calls fail (500/503; logs: 0 of 20), no Clay incident — P1"),
    ),
    Case(
        "503s with Clay's status page unreachable: not 'no Clay incident' (it was not read)",
        signals(failed("statuspage"), metrics_=live(metrics({503: 24.0, 500: 6.0}))),
        B.CREDENTIALS,
        S.P1,
        LOW,
        frozenset({ErrorClass.SERVER}),
        SERVER,
        words=("Clay errors: 75% of calls fail (500/503; logs: 0 of 20), Clay's status page unread — P1",),
        not_words=("no Clay incident",),
    ),
    Case(
        "slow Clay without an incident",
        signals(metrics_=live(metrics(p95=2600.0))),
        B.CREDENTIALS,
        S.P2,
        HIGH,
        frozenset({ErrorClass.SERVER}),
        SERVER,
        words=("Clay slow: p95 2.6 s, no Clay incident — P2", "degraded above 2.0 s"),
    ),
    Case(
        "400s: Clay rejects our requests",
        signals(metrics_=live(metrics({400: 10.0}))),
        B.CREDENTIALS,
        S.P2,
        HIGH,
        frozenset(),
        (),
        words=("Config: Clay rejects 25% of calls (400; logs: 0 of 20): check our requests — P2",),
    ),
    # ---- Clay incident
    Case(
        "Clay outage with an incident",
        signals(OUTAGE_PAGE and live(OUTAGE_PAGE), metrics_=live(metrics({503: 21.0, 500: 9.0, 504: 5.0}, p95=4900.0))),
        B.CLAY_INCIDENT,
        S.P1,
        HIGH,
        frozenset({ErrorClass.SERVER}),
        SERVER,
        (B.CLAY_INCIDENT,),
        words=('Clay incident "Clay API unavailable" (critical, investigating)', "API major outage", "88% of Clay calls fail"),
    ),
    Case(
        "Clay critical incident: our 5xx at error_rate_crit make it P1 before the share catches up",
        signals(live(OUTAGE_PAGE), metrics_=live(metrics({503: 6.0}))),
        B.CLAY_INCIDENT,
        S.P1,
        HIGH,
        frozenset({ErrorClass.SERVER}),
        SERVER,
        words=("Clay reports a critical outage",),
    ),
    Case(
        "Clay latency incident: p95 over crit is degraded",
        signals(live(SLOW_PAGE), metrics_=live(metrics({504: 0.4}, p95=2500.0))),
        B.CLAY_INCIDENT,
        S.P2,
        HIGH,
        frozenset({ErrorClass.SERVER}),
        SERVER,
        words=("p95 latency 2.5 s", '"Elevated API latency"', "API degraded"),
    ),
    Case(
        "Clay latency incident: p95 over warn is minor",
        signals(live(SLOW_PAGE), metrics_=live(metrics(p95=1000.0))),
        B.CLAY_INCIDENT,
        S.P3,
        HIGH,
        words=("slow above 800 ms",),
    ),
    Case(
        "Clay incident that does not touch our calls",
        signals(live(status_page((incident("Webhook delays", "minor", components=("Webhooks",)),)))),
        B.CLAY_INCIDENT,
        S.P4,
        HIGH,
        frozenset(),
        (ActionId.WATCH_CLAY_STATUS,),
        words=("Our Clay calls look normal",),
    ),
    Case(
        "a degraded component without an incident counts as Clay saying so",
        signals(live(status_page(components={"API": "partial_outage"}, indicator="minor")), metrics_=live(metrics({502: 12.0}))),
        B.CLAY_INCIDENT,
        S.P2,
        HIGH,
        words=("API partial outage",),
    ),
    Case(
        "fallback already on: not recommended again",
        signals(
            live(OUTAGE_PAGE),
            health_=live(health("degraded", fallback=("degraded", "active on 3/3 pods: serving cached enrichment"))),
            metrics_=live(metrics({503: 36.0})),
        ),
        B.CLAY_INCIDENT,
        S.P1,
        HIGH,
        actions=(ActionId.WATCH_CLAY_STATUS,),
        words=("Fallback already on: active on 3/3 pods",),
    ),
    Case(
        "fallback on, seen only in the logs",
        signals(
            live(OUTAGE_PAGE),
            health_=failed("health"),
            metrics_=live(metrics({503: 36.0})),
            logs=call_lines(503, 20) + tuple(LogLine("p", 'level=warn msg="fallback served" source=cache', None) for _ in range(3)),
        ),
        B.CLAY_INCIDENT,
        S.P1,
        MEDIUM,
        actions=(ActionId.WATCH_CLAY_STATUS,),
        words=('Fallback already on: 3 "fallback served" log lines',),
    ),
    Case(
        "Clay slows down: the logged calls' p95 leads the 1-minute p95 (which has not caught up)",
        signals(
            live(status_page(incidents=(incident("Elevated API latency", "minor"),), components={"API": "degraded_performance"})),
            logs=tuple(
                LogLine(
                    f"clay-sync-abc-{i % 3}",
                    f'level=info msg="clay call" method=POST endpoint=/v1/people/enrich status=200 duration_ms={900 + 80 * i}',
                    datetime.fromtimestamp(LOG_T0 + i * 0.5, UTC),
                )
                for i in range(24)
            ),
        ),
        B.CLAY_INCIDENT,
        S.P2,
        MEDIUM,
        words=("Logs: Clay p95 latency 2.7 s over the last 24 logged calls (degraded above 2.0 s; metrics' 1-minute p95: 350 ms)",),
    ),
    Case(
        "a few slow logged calls are not a p95 of their own",
        signals(
            logs=tuple(
                LogLine(
                    "clay-sync-abc-0", 'level=info msg="clay call" status=200 duration_ms=3000', datetime.fromtimestamp(LOG_T0 + i, UTC)
                )
                for i in range(5)
            )
            + call_lines(200, 10, LOG_T0 + 6)
        ),
        B.HEALTHY,
        None,
        HIGH,
        not_words=("Logs: Clay p95",),
    ),
    # ---- our infrastructure
    Case(
        "every pod crashlooping, OOMKilled, rss climbing to the limit: a leak, no restart offered",
        signals(health_=live(QUEUE_FAIL), pods_=live(CRASHLOOP), logs=memory_lines(179, 511, 20.0) + call_lines(200, 20, LOG_T0 + 21)),
        B.INFRASTRUCTURE,
        S.P1,
        HIGH,
        frozenset(),
        (ActionId.ROLLBACK, ActionId.RAISE_MEMORY_LIMIT, ActionId.READ_POD_LOGS),
        words=(
            "0/3 pods ready: 3 CrashLoopBackOff (OOMKilled)",
            "rss 511/512 MB",
            "queue fail",
            "Clay calls fine",
            "Memory leak or a too-small limit: rss climbs 17 MB/s to the 512 MB limit, ~20 s after each start",
            "A restart only buys time; the fix is outside the cockpit",
        ),
        not_words=("Restart the pods",),
    ),
    Case(
        "every pod crashlooping, OOMKilled, no memory readings in the logs",
        signals(
            health_=live(QUEUE_FAIL),
            pods_=live(CRASHLOOP),
            logs=(LogLine("clay-sync-abc-0", 'level=warn msg="memory high" rss_mb=511 limit_mb=512', None),),
        ),
        B.INFRASTRUCTURE,
        S.P1,
        HIGH,
        frozenset(),
        (ActionId.RAISE_MEMORY_LIMIT, ActionId.ROLLBACK, ActionId.READ_POD_LOGS),
        words=("rss 511/512 MB", "a restart may only buy time"),
    ),
    Case(
        "memory climbing to the limit before the first OOM kill: minor, ours",
        signals(logs=memory_lines(179, 400, 10.0) + call_lines(200, 20, LOG_T0 + 11)),
        B.INFRASTRUCTURE,
        S.P3,
        MEDIUM,
        frozenset(),
        (ActionId.ROLLBACK, ActionId.RAISE_MEMORY_LIMIT, ActionId.READ_POD_LOGS),
        headline="Infrastructure: rss climbs 22 MB/s: 400/512 MB, the limit in ~5 s — P3",
        words=("rss climbs 22 MB/s: 400/512 MB, the limit in ~5 s",),
    ),
    Case(
        "after a rollback: the gone pods' climb to their limit is not the new pods' (memory is a pod's state)",
        signals(
            pods_=live(pods(*(pod(f"clay-sync-new-{i}") for i in range(3)))),
            logs=memory_lines(179, 511, 20.0)
            + (
                LogLine(
                    "clay-sync-abc-0",
                    'level=error msg="out of memory: allocation failed" rss_mb=511 limit_mb=512',
                    datetime.fromtimestamp(LOG_T0 + 20.5, UTC),
                ),
            )
            + call_lines(200, 20, LOG_T0 + 21),
        ),
        B.HEALTHY,
        None,
        HIGH,
        not_words=("rss", "OOM", "Memory leak"),
    ),
    Case(
        "a pod crashlooping for another reason: read its last log lines",
        signals(
            pods_=live(pods(pod("a"), pod("b"), pod("c", "CrashLoopBackOff", False, 4, "Error"))),
            health_=live(health("degraded", queue=("degraded", "2/3 workers ready"))),
        ),
        B.INFRASTRUCTURE,
        S.P2,
        HIGH,
        actions=(ActionId.READ_POD_LOGS, ActionId.ROLLBACK),
        words=("why c crashes (last: Error)",),
    ),
    Case(
        "one pod of three crashlooping",
        signals(
            pods_=live(pods(pod("a"), pod("b"), pod("c", "CrashLoopBackOff", False, 4, "Error"))),
            health_=live(health("degraded", queue=("degraded", "2/3 workers ready"))),
        ),
        B.INFRASTRUCTURE,
        S.P2,
        HIGH,
        words=("2/3 pods ready: 1 CrashLoopBackOff",),
    ),
    Case(
        "restarts at restarts_warn count as crashlooping",
        signals(
            pods_=live(pods(pod("a"), pod("b"), pod("c", restarts=3, last="Error"))),
        ),
        B.INFRASTRUCTURE,
        S.P2,
        HIGH,
    ),
    Case(
        "pods back up after an OOMKill: minor, still ours",
        signals(pods_=live(pods(*(pod(f"p{i}", restarts=1, last="OOMKilled") for i in range(3))))),
        B.INFRASTRUCTURE,
        S.P3,
        HIGH,
        words=("OOMKilled",),
    ),
    Case(
        "no pods match the selector",
        signals(pods_=live(pods(pod("x")) and PodsSnapshot("prod", "clay-sync", "app=clay-sync", (), NOW, 5.0))),
        B.INFRASTRUCTURE,
        S.P1,
        HIGH,
        actions=(ActionId.CHECK_DEPLOYMENT, ActionId.SCALE),
        words=("no pods match app=clay-sync",),
    ),
    Case(
        "our database check fails: health down",
        signals(health_=live(health("down", database=("fail", "connection refused")))),
        B.INFRASTRUCTURE,
        S.P1,
        HIGH,
        words=("database fail",),
    ),
    Case(
        "a degraded check of ours is minor",
        signals(health_=live(health("degraded", queue=("degraded", "2/3 workers ready")))),
        B.INFRASTRUCTURE,
        S.P3,
        HIGH,
    ),
    Case(
        "pods terminating in a rollout are not counted",
        signals(pods_=live(pods(pod("a"), pod("b"), pod("c"), pod("old", "Terminating", False)))),
        B.HEALTHY,
        None,
        HIGH,
    ),
    # ---- mixed evidence
    Case(
        "Clay incident and our own 401s: both, ours first",
        signals(live(OUTAGE_PAGE), metrics_=live(metrics({401: 39.0}, rate=39.0))),
        B.CREDENTIALS,
        S.P1,
        HIGH,
        frozenset({ErrorClass.AUTH}),
        AUTH,
        (B.CREDENTIALS, B.CLAY_INCIDENT),
        words=("Clay has an open incident too; it may be related", "Clay incident: no impact on our calls seen — P4"),
    ),
    Case(
        "401s and crashlooping pods: both P1, the key first",
        signals(metrics_=live(metrics({401: 39.0}, rate=39.0)), pods_=live(CRASHLOOP), health_=live(QUEUE_FAIL)),
        B.CREDENTIALS,
        S.P1,
        HIGH,
        branches=(B.CREDENTIALS, B.INFRASTRUCTURE),
    ),
    Case(
        "Clay outage (P1) and some 429s (P2): the outage first",
        signals(live(OUTAGE_PAGE), metrics_=live(metrics({503: 30.0, 429: 6.0}, rate=40.0))),
        B.CLAY_INCIDENT,
        S.P1,
        HIGH,
        branches=(B.CLAY_INCIDENT, B.CREDENTIALS),
    ),
    Case(
        "401 and 503 each under half, together most calls: P1",
        signals(metrics_=live(metrics({401: 12.0, 503: 12.0}))),
        B.CREDENTIALS,
        S.P1,
        HIGH,
        frozenset({ErrorClass.AUTH}),
        words=("Together 60% of Clay calls fail",),
    ),
    Case(
        "the logs see every call fail 8 s before the 1-minute rate catches up: P1, worded from the logs",
        signals(
            metrics_=live(ramp_metrics(401, 40.0, onset=8.0)),
            logs=call_lines(200, 20, LOG_T0 + 580) + call_lines(401, 48, LOG_T0 + 592.2, 0.16),
        ),
        B.CREDENTIALS,
        S.P1,
        HIGH,
        frozenset({ErrorClass.AUTH}),
        AUTH,
        headline=f"Credentials: Clay answers 401 to all 48 logged calls since {clock(LOG_T0 + 592.2)} — P1",
        words=(
            "401 at 5.3/s — 12% of 45/s Clay calls",
            "The 1-minute rate covers only 8 s of it: ~41/s since it began — ~91% of calls",
            "Logs: 48 of 48 logged Clay calls got 401 since",
        ),
    ),
    Case(
        "429s on half the logged calls, the metrics 8 s in: P2 from the rate since they began, not P1",
        signals(
            metrics_=live(ramp_metrics(429, 18.0, onset=8.0)),
            logs=call_lines(200, 20, LOG_T0 + 580)
            + interleave(call_lines(429, 30, LOG_T0 + 592.2, 0.25, **RATE_LIMIT_HEADERS), call_lines(200, 6, LOG_T0 + 593, 1.2)),
        ),
        B.CREDENTIALS,
        S.P2,
        HIGH,
        frozenset({ErrorClass.RATE_LIMIT}),
        RATE_READ,
        headline=f"Rate limit: Clay rate-limits 30 of 36 logged calls (429) since {clock(LOG_T0 + 592.2)} — P2",
        words=("~18/s since it began — ~41% of calls",),
    ),
    Case(
        "the logs show 401s the metrics do not show yet: the branch at once, minor until they do",
        signals(
            metrics_=live(ramp_metrics(401, 40.0, onset=-1.0)),
            logs=call_lines(200, 20, LOG_T0 + 590) + call_lines(401, 12, LOG_T0 + 600.5, 0.16),
        ),
        B.CREDENTIALS,
        S.P3,
        MEDIUM,
        frozenset({ErrorClass.AUTH}),
        AUTH,
        words=("Logs: 12 of 12 logged Clay calls got 401 since", "Metrics: 401 yet (the 1-minute rate lags)"),
    ),
    Case(
        "2 s in, the 1-minute rate says 3%: the headline is the logs' count, not the lagging share",
        signals(
            metrics_=live(ramp_metrics(401, 40.0, onset=2.0)),
            logs=call_lines(200, 20, LOG_T0 + 580) + call_lines(401, 12, LOG_T0 + 598.1, 0.16),
        ),
        B.CREDENTIALS,
        S.P3,
        HIGH,
        frozenset({ErrorClass.AUTH}),
        AUTH,
        headline=f"Credentials: Clay answers 401 to all 12 logged calls since {clock(LOG_T0 + 598.1)} — P3",
        words=("401 at 1.3/s — 3% of 45/s Clay calls", "Logs: 12 of 12 logged Clay calls got 401 since"),
        not_words=("to 3% of calls",),
    ),
    Case(
        "a streak that began before the metrics were quiet is no ramp: the 1-minute rate as it is",
        signals(metrics_=live(metrics({401: 6.0})), logs=call_lines(401, 40)),
        B.CREDENTIALS,
        S.P2,
        HIGH,
        headline="Credentials: Clay answers 401 to 15% of calls (logs: 40 of 40) — P2",
        words=("Logs: 40 of 40 logged Clay calls got 401 (every one we hold: it began before them)",),
    ),
    # ---- missing, failed, stale
    Case(
        "metrics down, the rest fine: a P4 monitoring gap",
        signals(metrics_=failed("metrics")),
        B.MONITORING_GAP,
        S.P4,
        MEDIUM,
        branches=(B.MONITORING_GAP,),
        words=("metrics unavailable: unreachable: connection refused",),
        extra={"cannot_see": "metrics unavailable — using status page, health and pods only"},
    ),
    Case(
        "metrics down, health counts 401s: credentials, low confidence, plus the gap",
        signals(metrics_=failed("metrics"), health_=live(AUTH_DOWN), logs=call_lines(401, 40)),
        B.CREDENTIALS,
        S.P1,
        LOW,
        frozenset({ErrorClass.AUTH}),
        AUTH,
        (B.CREDENTIALS, B.MONITORING_GAP),
        words=("Health: 401 at 39/s — 100% of 39/s Clay calls (last 60 s)",),
        headline="Credentials: Clay answers 401 to 100% of calls — P1 (low confidence)",
    ),
    Case(
        "metrics and health down, only the logs show 429s",
        signals(
            metrics_=failed("metrics"),
            health_=failed("health", ErrorKind.TIMEOUT, "no answer in 3 s"),
            logs=call_lines(429, 30, **RATE_LIMIT_HEADERS) + call_lines(200, 5, LOG_T0 + 3),
        ),
        B.CREDENTIALS,
        S.P2,
        LOW,
        frozenset({ErrorClass.RATE_LIMIT}),
        RATE_READ,
        words=("Logs: 30 of 35 logged Clay calls got 429",),
    ),
    Case(
        "our unsampled sync stats give the logs a real share",
        signals(
            metrics_=failed("metrics"),
            health_=failed("health"),
            logs=call_lines(429, 10) + (LogLine("p", 'level=info msg="sync stats" calls_30s=400 failed_30s=180 queue_depth=3', None),),
        ),
        B.CREDENTIALS,
        S.P2,
        LOW,
        words=("429 on ~45% of calls (our sync stats",),
    ),
    Case(
        "status page down: cannot rule out a Clay incident",
        signals(failed("statuspage"), metrics_=live(metrics({401: 39.0}, rate=39.0))),
        B.CREDENTIALS,
        S.P1,
        LOW,
        words=("cannot rule out a Clay incident",),
    ),
    Case("nothing read yet", Signals(at=NOW), B.UNKNOWN, None, LOW, words=("waiting for status page, health, metrics, pods",)),
    Case(
        "some sources not read yet, nothing wrong so far",
        signals(metrics_=Reading(), pods_=Reading()),
        B.UNKNOWN,
        None,
        LOW,
        words=("waiting for metrics, pods",),
        extra={"cannot_see": "metrics and pods not read yet — using status page and health only"},
    ),
    Case(
        "everything failing: a gap, low confidence",
        Signals(
            failed("statuspage"),
            failed("health"),
            failed("metrics"),
            failed("pods", ErrorKind.AUTH_EXPIRED, "token expired", "run `kubectl get pods` to log in"),
        ),
        B.MONITORING_GAP,
        S.P4,
        LOW,
        words=("run `kubectl get pods` to log in", "our service may be down"),
    ),
    Case(
        "kube auth expired, the rest fine",
        signals(pods_=failed("pods", ErrorKind.AUTH_EXPIRED, "token expired", "re-authenticate")),
        B.MONITORING_GAP,
        S.P4,
        MEDIUM,
        words=("pods unavailable: auth_expired",),
    ),
    Case(
        "a stale status page still counts, with its age, at low confidence",
        signals(stale(OUTAGE_PAGE, 600.0), metrics_=live(metrics({503: 35.0}))),
        B.CLAY_INCIDENT,
        S.P1,
        LOW,
        words=("(10 min old)", "status page stale (10 min old)"),
    ),
    Case(
        "stale metrics (value kept, source failing) are weak evidence",
        signals(metrics_=stale(metrics({401: 39.0}, rate=39.0), 20.0, SourceError("metrics", ErrorKind.TIMEOUT, "timed out", "wait"))),
        B.CREDENTIALS,
        S.P1,
        LOW,
        words=("(20 s old)",),
    ),
    Case("stale healthy metrics are not healthy", signals(metrics_=stale(metrics(), 300.0)), B.MONITORING_GAP, S.P4, MEDIUM),
    Case(
        "health unreachable and no pod ready: infrastructure, low confidence",
        signals(health_=failed("health"), pods_=live(CRASHLOOP)),
        B.INFRASTRUCTURE,
        S.P1,
        LOW,
        branches=(B.INFRASTRUCTURE, B.MONITORING_GAP),
    ),
    Case(
        "Clay incident, our metrics down: severity from Clay's impact, low confidence",
        signals(live(OUTAGE_PAGE), metrics_=failed("metrics"), health_=failed("health"), logs=()),
        B.CLAY_INCIDENT,
        S.P1,
        LOW,
        words=("Cannot see our Clay calls",),
    ),
    Case(
        "metrics without a request rate: no shares, still classed",
        signals(metrics_=live(metrics({401: 20.0}, rate=None))),
        B.CREDENTIALS,
        S.P2,
        LOW,
        branches=(B.CREDENTIALS, B.MONITORING_GAP),
        words=("metrics partial: no Clay request rate", "Monitoring gap: metrics incomplete — P4"),
        extra={"cannot_see": "metrics incomplete — using status page, health and pods only"},
    ),
    Case(
        "metrics with NaN everywhere are no evidence, and not healthy",
        signals(metrics_=live(metrics({401: float("nan")}, rate=float("nan"), p95=float("inf")))),
        B.MONITORING_GAP,
        S.P4,
        MEDIUM,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_decision_tree(case: Case) -> None:
    a = assess(case.signals, TH, NOW)
    check_shape(a)
    shown = texts(a)
    assert (a.branch, a.severity, a.confidence) == (case.branch, case.severity, case.confidence), shown
    if case.errors is not None:
        assert a.findings[0].errors == case.errors
    if case.actions is not None:  # (those in effect, marked done, are not the ones to do)
        assert tuple(x.id for x in a.findings[0].actions if not x.done) == case.actions
    if case.branches is not None:
        assert tuple(f.branch for f in a.findings) == case.branches, shown
    for w in case.words:
        assert w in shown, f"{w!r} not in:\n{shown}"
    for w in case.not_words:
        assert w not in shown
    if case.headline is not None:
        assert a.headline == case.headline
    if "cannot_see" in case.extra:
        assert a.cannot_see == case.extra["cannot_see"]


def test_every_branch_and_severity_is_covered_by_the_table() -> None:
    seen_branches = {c.branch for c in CASES} | {b for c in CASES for b in (c.branches or ())}
    assert seen_branches == set(Branch)
    assert {c.severity for c in CASES} == {*Severity, None}
    assert {c.confidence for c in CASES} == set(Confidence)


def test_healthy_only_when_every_source_is_live() -> None:
    for missing in ("statuspage", "health", "metrics", "pods"):
        sig = replace(signals(), **{missing: Reading()})
        assert assess(sig, TH, NOW).branch == Branch.UNKNOWN
        sig = replace(signals(), **{missing: failed(missing)})
        assert assess(sig, TH, NOW).branch == Branch.MONITORING_GAP


def test_a_reading_turns_stale_after_a_few_refresh_intervals() -> None:
    fresh = signals(metrics_=live(metrics(), age=40.0))  # 40 s < 3 x 15 s
    assert assess(fresh, TH, NOW).branch == Branch.HEALTHY
    old = signals(metrics_=live(metrics(), age=50.0))
    a = assess(old, TH, NOW)
    assert a.branch == Branch.MONITORING_GAP and "metrics stale (50 s old)" in texts(a)
    # the app passes the configured intervals; a slower metrics refresh keeps it live
    assert assess(old, TH, NOW, refresh={"metrics": 60.0}).branch == Branch.HEALTHY
    assert assess(old, replace(TH, stale_intervals=4.0), NOW).branch == Branch.HEALTHY


def test_thresholds_come_from_config() -> None:
    sig = signals(metrics_=live(metrics({429: 4.0})))
    assert assess(sig, TH, NOW).severity == Severity.P3
    assert assess(sig, replace(TH, error_rate_crit=3.0), NOW).severity == Severity.P2
    assert assess(sig, replace(TH, error_ratio_crit=0.1), NOW).severity == Severity.P1
    assert assess(sig, replace(TH, error_rate_warn=5.0, error_rate_crit=10.0), NOW).branch == Branch.HEALTHY
    slow = signals(metrics_=live(metrics(p95=1500.0)))
    assert assess(slow, TH, NOW).severity == Severity.P3
    assert assess(slow, replace(TH, latency_p95_crit_ms=1200.0), NOW).severity == Severity.P2
    checks = signals(health_=live(health("degraded", sidecar=("degraded", "slow"))))
    assert assess(checks, TH, NOW).branch == Branch.INFRASTRUCTURE
    assert assess(checks, replace(TH, clay_health_checks=("clay_api", "fallback", "sidecar")), NOW).branch == Branch.HEALTHY


def test_clay_health_check_failing_is_not_our_infrastructure() -> None:
    """Health says down because Clay fails: that is the Clay side, not ours."""
    a = assess(signals(health_=live(AUTH_DOWN), metrics_=live(metrics({401: 39.0}, rate=39.0))), TH, NOW)
    assert a.branches == {Branch.CREDENTIALS}


def test_checklist_items_follow_the_findings() -> None:
    a = assess(CASES[4].signals, TH, NOW)  # 401 everywhere
    applies = {k for k, item in ITEMS.items() if item_applies(item, a.branches, a.errors)}
    assert {"verify_key", "update_key", "restart_pods", "branch_credentials"} <= applies
    assert not {"enable_queuing", "branch_clay", "investigate_infra"} & applies


def test_observations_say_what_each_source_showed() -> None:
    a = assess(signals(metrics_=failed("metrics")), TH, NOW)
    seen = {o.source: o for o in a.observed}
    assert list(seen) == ["statuspage", "health", "metrics", "pods", "logs"]
    assert seen["statuspage"].state == "live" and "All Systems Operational" in seen["statuspage"].summary
    assert seen["metrics"].state == "failed" and "unreachable" in seen["metrics"].summary
    assert seen["pods"].summary == "3/3 ready" and seen["pods"].age == 2.0
    assert seen["logs"].summary.startswith("20 recent lines, 20 Clay calls logged, 0 failed")


def test_reasons_carry_their_numbers() -> None:
    a = assess(signals(metrics_=live(metrics({429: 18.0}))), TH, NOW)
    first = a.findings[0].reasons[0]
    assert first.source == "metrics" and not first.weak
    assert dict(first.values) == {"code": "429", "rate": 18.0, "share": 0.45, "calls": 40.0}
    d = a.to_dict()
    assert d["findings"][0]["reasons"][0]["values"]["share"] == 0.45
    assert d["findings"][0]["actions"][0] == {"id": "read_rate_limits", "text": "Read the rate-limit headers"}
    assert d["headline"] == a.headline and d["severity"] == "P2" and d["branch"] == "credentials"


def test_log_window_is_relative_to_the_newest_line() -> None:
    """Old 401s before a fix do not count once the newest lines are all 200s."""
    logs = call_lines(401, 100, LOG_T0) + call_lines(200, 30, LOG_T0 + 60)
    a = assess(signals(metrics_=failed("metrics"), health_=failed("health"), logs=logs), TH, NOW)
    assert a.branch == Branch.MONITORING_GAP and Branch.CREDENTIALS not in a.branches


def test_realistic_status_page_fixture_with_an_unresolved_incident() -> None:
    from clay_cockpit.sources.statuspage import parse_summary

    doc = json.loads((FIXTURES / "statuspage-summary-incident.json").read_text())
    page = parse_summary(doc, fetched_at=NOW)
    assert page.incidents, "the fixture has an unresolved incident"
    quiet = assess(signals(live(page)), TH, NOW)
    assert (quiet.branch, quiet.severity) == (Branch.CLAY_INCIDENT, Severity.P4)
    hit = assess(signals(live(page), metrics_=live(metrics({503: 30.0}))), TH, NOW)
    assert hit.branch == Branch.CLAY_INCIDENT and hit.severity == Severity.P1
    assert page.incidents[0].name[:30] in texts(hit)
    check_shape(hit)


def test_realistic_operational_fixture() -> None:
    from clay_cockpit.sources.statuspage import parse_summary

    doc = json.loads((FIXTURES / "statuspage-summary-operational.json").read_text())
    page = parse_summary(doc, fetched_at=NOW)
    a = assess(signals(live(page), metrics_=live(metrics({401: 39.0}, rate=39.0))), TH, NOW)
    assert (a.branch, a.severity) == (Branch.CREDENTIALS, Severity.P1)
    assert a.branches == {Branch.CREDENTIALS}


def test_refresh_intervals_from_config() -> None:
    from clay_cockpit.config import config_from_toml, default_toml_text, parse_toml

    cfg = config_from_toml(parse_toml(default_toml_text(), "default.toml"), "default.toml")
    assert refresh_intervals(cfg) == {"statuspage": 30.0, "health": 10.0, "metrics": 15.0, "pods": 5.0}
