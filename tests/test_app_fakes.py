"""Fakes of OUR source protocol (clay_cockpit.sources) for the app tests, built
from the real API fixtures in /work/shared/fixtures/real/ and the
clay_cockpit.signals types. The real clients are tested elsewhere.

Run it to look at the cockpit with these fakes (no network)::

    .venv/bin/python tests/test_app_fakes.py [--live] [--fail statuspage,metrics]

``--live`` keeps log lines and metrics moving (about 10 lines/s), to measure
terminal bytes with ptybytes.
"""

from __future__ import annotations

import asyncio
import json
import math
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from clay_cockpit.config import Config, config_from_toml, default_toml_text, parse_toml
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
    Series,
    SourceError,
    StatusIncident,
    StatusPageSnapshot,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "real"  # copied from shared/fixtures/real
# The pinned clock: 15 minutes after the fixture incident started (2020-02-11T03:15:01Z).
NOW = datetime(2020, 2, 11, 3, 30, 0, tzinfo=UTC).timestamp()


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def ts(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def fast_config(**kube: Any) -> Config:
    """The shipped default config, with faster polls for tests."""
    data = parse_toml(default_toml_text(), "default.toml")
    for section in ("statuspage", "health", "metrics", "kube"):
        data[section]["refresh"] = 0.2
    data["kube"].update(kube)
    return config_from_toml(data, "default.toml (tests)")


# --------------------------------------------------------------------------
# Snapshots from the real fixtures


def statuspage_snapshot(name: str = "statuspage-summary-incident.json", now: float = NOW) -> StatusPageSnapshot:
    """A Statuspage v2 summary.json fixture as our snapshot type."""
    doc = fixture(name)
    incidents = []
    for inc in doc.get("incidents", []):
        updates = inc.get("incident_updates") or []
        latest = updates[0] if updates else {}
        affected = tuple(c["name"] for u in updates for c in u.get("affected_components") or [])
        incidents.append(
            StatusIncident(
                id=inc["id"],
                name=inc["name"],
                status=inc["status"],
                impact=inc.get("impact", "none"),
                started_at=ts(inc.get("started_at") or inc.get("created_at")),
                updated_at=ts(inc.get("updated_at")),
                latest_update=latest.get("body", ""),
                latest_update_at=ts(latest.get("display_at") or latest.get("created_at")),
                url=inc.get("shortlink"),
                components=affected,
            )
        )
    return StatusPageSnapshot(
        provider="statuspage",
        page_name=doc["page"]["name"],
        page_url=doc["page"]["url"],
        indicator=doc["status"]["indicator"],
        description=doc["status"]["description"],
        components=tuple(Component(c["name"], ComponentStatus.parse(c["status"])) for c in doc.get("components", [])),
        incidents=tuple(incidents),
        fetched_at=now,
        response_ms=42.0,
    )


def rootly_snapshot(now: float = NOW) -> StatusPageSnapshot:
    doc = fixture("rootly-status-docs-example.json")
    return StatusPageSnapshot(
        provider="rootly",
        page_name=doc["page"]["name"],
        page_url=doc["page"]["url"],
        indicator=doc["status"]["indicator"],
        description=doc["status"]["description"],
        components=(),
        incidents=(),
        fetched_at=now,
        response_ms=30.0,
    )


# The health format of docs/drill-contract.md, as an outage looks.
HEALTH_DOWN = {
    "status": "down",
    "version": "1.14.2",
    "checks": {
        "clay_api": {"status": "fail", "detail": "last 60s: 2400 calls, 2318 errors (401)"},
        "database": {"status": "ok", "detail": "p95 4 ms"},
        "queue": {"status": "degraded", "detail": "depth 1830"},
        "fallback": {"status": "ok", "detail": "inactive"},
    },
}


def health_snapshot(doc: dict = HEALTH_DOWN, now: float = NOW) -> HealthSnapshot:
    checks = tuple(HealthCheck(name, c["status"], c.get("detail", ""), c["status"] == "ok") for name, c in doc["checks"].items())
    return HealthSnapshot(
        status=doc["status"],
        healthy=doc["status"] == "ok",
        checks=checks,
        http_status=503 if doc["status"] == "down" else 200,
        response_ms=83.0,
        fetched_at=now,
        version=doc.get("version"),
    )


def _ramp(now: float, n: int, fn: Callable[[int], float]) -> tuple[tuple[float, float], ...]:
    return tuple((now - (n - 1 - i) * 15.0, fn(i)) for i in range(n))


def metrics_snapshot(now: float = NOW, *, backup: bool = False, shift: int = 0) -> MetricsSnapshot:
    """Error rates: the real query_range matrix fixture's values for one
    series (scaled), made-up ramps for the others (signals types)."""
    matrix = fixture("prometheus-query_range-matrix.json")["data"]["result"]
    up = [float(v) for _, v in matrix[1]["values"]]  # 0, 0, 1
    n = 40
    err401 = _ramp(now, n, lambda i: 0.0 if i + shift < 20 else 36.0 + 2 * math.sin((i + shift) / 3))
    err429 = _ramp(now, n, lambda i: up[(i + shift) % 3] * 0.4)
    rate = _ramp(now, n, lambda i: 40.0 + 3 * math.sin((i + shift) / 4))
    p95 = _ramp(now, n, lambda i: 350.0 if i + shift < 20 else 120.0)
    series = (
        Series("errors_by_code:401", "errors_by_code", "Clay 401", "req/s", (("code", "401"),), err401[-1][1], err401),
        Series("errors_by_code:429", "errors_by_code", "Clay 429", "req/s", (("code", "429"),), err429[-1][1], err429),
        Series("request_rate", "request_rate", "Clay requests", "req/s", (), rate[-1][1], rate),
        Series("latency_p95", "latency_p95", "Clay p95", "ms", (), p95[-1][1], p95),
    )
    failovers = ()
    if backup:
        failovers = (SourceError("metrics", ErrorKind.UNREACHABLE, "connection refused by 127.0.0.1:9090", "is Prometheus up?"),)
    return MetricsSnapshot(
        series=series,
        served_by="http://127.0.0.1:9091" if backup else "http://127.0.0.1:9090",
        is_backup=backup,
        fetched_at=now,
        response_ms=12.0,
        failovers=failovers,
    )


def _pod_from_status(name: str, status: dict, created: datetime, phase: str = "Running") -> PodInfo:
    cs = status["containerStatuses"][0]
    waiting = (cs.get("state") or {}).get("waiting") or {}
    last = ((cs.get("lastState") or {}).get("terminated") or {}).get("reason")
    return PodInfo(
        name=name,
        phase=phase,
        ready=1 if cs.get("ready") else 0,
        containers=1,
        restarts=cs.get("restartCount", 0),
        status=waiting.get("reason") or phase,
        last_termination=last,
        created_at=created,
        owner="ReplicaSet/clay-sync-7d9f8c6b5",
    )


def pods_snapshot(now: float = NOW) -> PodsSnapshot:
    """Three pods: one OOMKilled-and-restarted, one in CrashLoopBackOff (the
    two real container-status fixtures), one healthy."""
    created = datetime.fromtimestamp(now - 4 * 3600, tz=UTC)
    oom = _pod_from_status("clay-sync-7d9f8c6b5-x2x9k", fixture("k8s-pod-oomkilled-laststate.json")["status"], created)
    crash = _pod_from_status("clay-sync-7d9f8c6b5-q8f2m", fixture("k8s-containerstatus-crashloopbackoff.json"), created)
    fine = replace(oom, name="clay-sync-7d9f8c6b5-b7kcd", restarts=0, last_termination=None)
    return PodsSnapshot("clay-drill", "clay-sync", "app=clay-sync", (oom, crash, fine), now, 20.0)


# The log lines of docs/drill-contract.md
LOG_TEXTS = (
    'level=info msg="clay call" method=POST endpoint=/v1/people/enrich status=200 duration_ms=142',
    'level=warn msg="clay call failed" method=POST endpoint=/v1/people/enrich status=429 duration_ms=38 x-ratelimit-limit=600 x-ratelimit-remaining=0 x-ratelimit-reset=37 retry-after=37',
    'level=error msg="clay call failed" method=POST endpoint=/v1/people/enrich status=401 duration_ms=21 error="invalid api key"',
    'level=error msg="clay call failed" method=POST endpoint=/v1/companies/enrich status=503 duration_ms=5003 error="service unavailable"',
)
POD_NAMES = tuple(p.name for p in pods_snapshot().pods)


def log_lines(n: int, start: int = 0, now: float = NOW) -> tuple[LogLine, ...]:
    return tuple(
        LogLine(POD_NAMES[i % 3], LOG_TEXTS[i % len(LOG_TEXTS)] + f" n={i}", datetime.fromtimestamp(now - 60 + i * 0.1, tz=UTC))
        for i in range(start, start + n)
    )


# --------------------------------------------------------------------------
# Fake sources (the protocols of clay_cockpit.sources)


class FakeAsyncSource:
    """statuspage / health: ``result`` is returned (or called) on each fetch."""

    def __init__(self, name: str, result: Any) -> None:
        self.name = name
        self.result = result
        self.calls = 0
        self.delay = 0.0

    async def fetch(self) -> Any:
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        return self.result() if callable(self.result) else self.result


class FakeMetrics:
    def __init__(self, result: Any) -> None:
        self.name = "metrics"
        self.result = result
        self.calls = 0

    def fetch(self) -> Any:
        self.calls += 1
        return self.result() if callable(self.result) else self.result


class FakeKube:
    """list_pods returns ``pods``; follow_logs delivers what ``emit``/``fail`` queue."""

    def __init__(self, pods: Any) -> None:
        self.name = "kube"
        self.pods = pods
        self.calls = 0
        self.follows = 0
        self.stopped = threading.Event()
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue()

    def list_pods(self) -> Any:
        self.calls += 1
        return self.pods() if callable(self.pods) else self.pods

    def emit(self, lines: tuple[LogLine, ...]) -> None:
        self._queue.put(("batch", tuple(lines)))

    def fail(self, error: SourceError | None) -> None:
        self._queue.put(("error", error))

    def follow_logs(self, on_batch, on_error, stop: threading.Event, flush_interval: float = 0.25) -> None:
        self.follows += 1
        while not stop.is_set():
            try:
                kind, item = self._queue.get(timeout=0.02)
            except queue.Empty:
                continue
            (on_batch if kind == "batch" else on_error)(item)
        self.stopped.set()


class FakeSources:
    def __init__(self) -> None:
        self.statuspage = FakeAsyncSource("statuspage", statuspage_snapshot())
        self.health = FakeAsyncSource("health", health_snapshot())
        self.metrics = FakeMetrics(metrics_snapshot())
        self.kube = FakeKube(pods_snapshot())


def unreachable(source: str, where: str = "127.0.0.1:9") -> SourceError:
    return SourceError(source, ErrorKind.UNREACHABLE, f"connection refused by {where}", f"is the {source} service up? try curl {where}")


# --------------------------------------------------------------------------
# A dev entry point: look at the cockpit with these fakes


def main(argv: list[str]) -> int:
    from clay_cockpit.app import make_app

    live = "--live" in argv
    failing = set(argv[argv.index("--fail") + 1].split(",")) if "--fail" in argv else set()
    sources = FakeSources()
    data = parse_toml(default_toml_text(), "default.toml")
    config = config_from_toml(data, "default.toml")
    start = time.time()
    if live:
        sources.statuspage.result = lambda: statuspage_snapshot(now=time.time())
        sources.health.result = lambda: health_snapshot(now=time.time())
        sources.metrics.result = lambda: metrics_snapshot(time.time(), shift=int((time.time() - start) / 5))
        sources.kube.pods = lambda: pods_snapshot(time.time())

        def feed() -> None:
            n = 0
            while True:
                time.sleep(0.25)
                sources.kube.emit(log_lines(3, n, time.time()))
                n += 3

        threading.Thread(target=feed, daemon=True).start()
    else:
        sources.kube.emit(log_lines(30))
    for name in failing:
        err = unreachable(name)
        if name == "pods":
            sources.kube.pods = err
        elif name == "logs":
            sources.kube.fail(err)
        else:
            getattr(sources, name).result = err
    app = make_app(config, sources, clock=time.time if live else (lambda: NOW + 12), title="clay-cockpit (fakes)")
    app.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
