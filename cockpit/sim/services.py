"""The drill's read-side HTTP services on aiohttp: Clay's status page
(Statuspage v2 and Rootly formats), our health endpoint, Prometheus (primary
and backup), the /metrics exposition, and the Clay API key probe.

Each ``*_app(world)`` returns a fresh :class:`aiohttp.web.Application`; the
server adds the request-log and fault middlewares to every one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric

from clay_cockpit.sim import rootly_format
from clay_cockpit.sim.history import BUCKETS, SHIPPED, MetricsHistory, normalise, prom_float, prom_time
from clay_cockpit.sim.scenario import ClayOutage, RateLimited
from clay_cockpit.sim.world import World

MAX_POINTS = 11000  # Prometheus' limit per series in a range query

# ---------------------------------------------------------------------------
# Clay status page


def _base(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def statuspage_app(world: World) -> web.Application:
    """Atlassian Statuspage v2 public API (shapes as shared/fixtures/real/statuspage-*.json)."""
    sp = world.status_page

    async def summary(request: web.Request) -> web.Response:
        return web.json_response(sp.summary(_base(request), world.clock.now()))

    async def status(request: web.Request) -> web.Response:
        return web.json_response(sp.status(_base(request), world.clock.now()))

    async def components(request: web.Request) -> web.Response:
        return web.json_response(sp.components_doc(_base(request), world.clock.now()))

    async def unresolved(request: web.Request) -> web.Response:
        return web.json_response(sp.incidents_doc(_base(request), world.clock.now(), unresolved_only=True))

    async def incidents(request: web.Request) -> web.Response:
        return web.json_response(sp.incidents_doc(_base(request), world.clock.now(), unresolved_only=False))

    app = web.Application()
    app.router.add_get("/api/v2/summary.json", summary)
    app.router.add_get("/api/v2/status.json", status)
    app.router.add_get("/api/v2/components.json", components)
    app.router.add_get("/api/v2/incidents/unresolved.json", unresolved)
    app.router.add_get("/api/v2/incidents.json", incidents)
    return app


def rootly_app(world: World) -> web.Application:
    """Rootly status page public API (see clay_cockpit.sim.rootly_format for what is documented and what is guessed)."""
    sp = world.status_page

    def _int(request: web.Request, name: str, default: int) -> int:
        try:
            return int(request.query.get(name, default))
        except ValueError:
            return default

    async def status(request: web.Request) -> web.Response:
        return web.json_response(rootly_format.status_doc(sp, _base(request), world.clock.now()))

    async def incidents(request: web.Request) -> web.Response:
        page, per_page = _int(request, "page", 1), _int(request, "per_page", 25)
        return web.json_response(rootly_format.incidents_doc(sp, _base(request), world.clock.now(), page, per_page))

    async def components(request: web.Request) -> web.Response:
        return web.json_response(rootly_format.components_doc(sp, _base(request), world.clock.now()))

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=rootly_format.text_page(sp, world.clock.now()), content_type="text/plain")

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/api/v1/status.json", status)
    app.router.add_get("/api/v1/incidents.json", incidents)
    app.router.add_get("/api/v1/components.json", components)
    return app


# ---------------------------------------------------------------------------
# Our health endpoint


def health_app(world: World) -> web.Application:
    async def health(request: web.Request) -> web.Response:
        code, body = world.health()
        return web.json_response(body, status=code)

    app = web.Application()
    app.router.add_get("/health", health)
    return app


# ---------------------------------------------------------------------------
# Prometheus HTTP API


class BadData(Exception):
    pass


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def parse_time(text: str, name: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise BadData(f'invalid parameter "{name}": cannot parse "{text}" to a valid timestamp') from None


def parse_duration(text: str, name: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    pos, total = 0, 0.0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise BadData(f'invalid parameter "{name}": cannot parse "{text}" to a valid duration')
    return total


def _error(error_type: str, message: str, status: int) -> web.Response:
    return web.json_response({"status": "error", "errorType": error_type, "error": message}, status=status)


async def _params(request: web.Request) -> dict[str, str]:
    params = dict(request.query)
    if request.method == "POST" and request.content_type == "application/x-www-form-urlencoded":
        params.update({k: str(v) for k, v in (await request.post()).items()})
    return params


def _shipped(params: dict[str, str]) -> str:
    query = params.get("query")
    if not query:
        raise BadData('invalid parameter "query": unknown position: parse error: no expression found in input')
    name = SHIPPED.get(normalise(query))
    if name is None:
        raise BadData(
            "the drill's Prometheus answers only the shipped queries (errors_by_code, request_rate, latency_p95); "
            f"unknown query: {query[:120]}"
        )
    return name


METRIC_NAMES = (
    "clay_api_request_duration_seconds_bucket",
    "clay_api_request_duration_seconds_count",
    "clay_api_request_duration_seconds_sum",
    "clay_api_requests_total",
    "up",
)


def _metric_names(query: str) -> set[str]:
    """The metric names a shipped query reads (for /_sim/prometheus/hide)."""
    return {m for m in METRIC_NAMES if re.search(rf"(?<![\w:]){re.escape(m)}(?![\w:])", query)}


def prometheus_app(world: World, *, name: str = "prometheus") -> web.Application:
    history: MetricsHistory = world.history

    def evaluate(qname: str, query: str, at: float) -> list[tuple[dict[str, str], float]]:
        if _metric_names(query) & history.hidden:  # a hidden metric: the query has no series, as with a wrong name
            return []
        if qname in history.quiet:  # the metrics exist, the filter matches nothing (no 5xx at all, say)
            return []
        return history.evaluate(qname, at)

    async def label_values(request: web.Request) -> web.Response:
        label = request.match_info["label"]
        if label != "__name__":
            return web.json_response({"status": "success", "data": []})
        return web.json_response({"status": "success", "data": sorted(set(METRIC_NAMES) - history.hidden)})

    async def series_api(request: web.Request) -> web.Response:
        params = [v for k, v in request.query.items() if k == "match[]"]
        if request.method == "POST" and request.content_type == "application/x-www-form-urlencoded":
            params += [str(v) for k, v in (await request.post()).items() if k == "match[]"]
        if not params:
            return _error("bad_data", "no match[] parameter provided", 400)
        names = sorted({m for p in params for m in METRIC_NAMES if p.strip().startswith(m) and m not in history.hidden})
        return web.json_response({"status": "success", "data": [{"__name__": m, "job": "clay-api"} for m in names]})

    async def query(request: web.Request) -> web.Response:
        try:
            params = await _params(request)
            qname = _shipped(params)
            now = world.clock.now()
            at = parse_time(params["time"], "time") if params.get("time") else now
        except BadData as err:
            return _error("bad_data", str(err), 400)
        result = [{"metric": labels, "value": [prom_time(at), prom_float(v)]} for labels, v in evaluate(qname, params["query"], at)]
        return web.json_response({"status": "success", "data": {"resultType": "vector", "result": result}})

    async def query_range(request: web.Request) -> web.Response:
        try:
            params = await _params(request)
            qname = _shipped(params)
            for key in ("start", "end", "step"):
                if not params.get(key):
                    raise BadData(f'invalid parameter "{key}": cannot parse "" to a valid {"duration" if key == "step" else "timestamp"}')
            start, end = parse_time(params["start"], "start"), parse_time(params["end"], "end")
            step = parse_duration(params["step"], "step")
            if end < start:
                raise BadData("end timestamp must not be before start time")
            if step <= 0:
                raise BadData("zero or negative query resolution step widths are not accepted. Try a positive integer")
            if (end - start) / step > MAX_POINTS:
                raise BadData("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)")
        except BadData as err:
            return _error("bad_data", str(err), 400)
        series: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
        n = int(math.floor((end - start) / step + 1e-9))
        for i in range(n + 1):
            at = start + i * step
            for labels, value in evaluate(qname, params["query"], at):
                series_key = tuple(sorted(labels.items()))
                series.setdefault(series_key, {"metric": labels, "values": []})["values"].append([prom_time(at), prom_float(value)])
        result = [series[k] for k in sorted(series)]
        return web.json_response({"status": "success", "data": {"resultType": "matrix", "result": result}})

    async def ready(request: web.Request) -> web.Response:
        return web.Response(text="Prometheus Server is Ready.\n")

    async def healthy(request: web.Request) -> web.Response:
        return web.Response(text="Prometheus Server is Healthy.\n")

    async def root(request: web.Request) -> web.Response:
        raise web.HTTPFound("/graph")

    async def graph(request: web.Request) -> web.Response:
        return web.Response(text=f"<!doctype html><title>Prometheus ({name}, drill)</title>", content_type="text/html")

    async def buildinfo(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "status": "success",
                "data": {
                    "version": "2.53.1",
                    "revision": "14cfec3f6048b735e08c1e9c64c8d4211d32bab4",
                    "branch": "HEAD",
                    "buildUser": "root@clay-drill",
                    "buildDate": "20240710-10:16:27",
                    "goVersion": "go1.22.5",
                },
            }
        )

    app = web.Application()
    app.router.add_route("GET", "/api/v1/query", query)
    app.router.add_route("POST", "/api/v1/query", query)
    app.router.add_route("GET", "/api/v1/query_range", query_range)
    app.router.add_route("POST", "/api/v1/query_range", query_range)
    app.router.add_route("GET", "/api/v1/label/{label}/values", label_values)
    app.router.add_route("GET", "/api/v1/series", series_api)
    app.router.add_route("POST", "/api/v1/series", series_api)
    app.router.add_get("/-/ready", ready)
    app.router.add_get("/-/healthy", healthy)
    app.router.add_get("/api/v1/status/buildinfo", buildinfo)
    app.router.add_get("/", root)
    app.router.add_get("/graph", graph)
    return app


# ---------------------------------------------------------------------------
# /metrics


class _ClayCollector:
    """clay_api_requests_total and clay_api_request_duration_seconds from the model's totals."""

    def __init__(self, history: MetricsHistory) -> None:
        self.history = history

    def collect(self) -> Iterator[Metric]:
        counter = CounterMetricFamily(
            "clay_api_requests", "Calls to the Clay API by HTTP status code, method and endpoint", labels=["code", "method", "endpoint"]
        )
        for (code, method, endpoint), value in sorted(self.history.requests.items()):
            counter.add_metric([str(code), method, endpoint], value)
        yield counter
        buckets, total, count = self.history.histogram()
        hist = HistogramMetricFamily("clay_api_request_duration_seconds", "Latency of calls to the Clay API")
        bounds = [str(b) for b in BUCKETS] + ["+Inf"]
        hist.add_metric([], buckets=list(zip(bounds, buckets)), sum_value=total)
        yield hist


def metrics_app(world: World) -> web.Application:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ClayCollector(world.history))

    async def metrics(request: web.Request) -> web.Response:
        resp = web.Response(body=generate_latest(registry))
        resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return resp

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    return app


# ---------------------------------------------------------------------------
# Clay API key probe


def clay_app(world: World) -> web.Application:
    """``GET /v1/me``: who a key belongs to. Body shapes are this drill's own (Clay's are not public)."""

    def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
        return web.json_response({"error": {"code": code, "message": message}}, status=status, headers=headers)

    async def me(request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        scheme, _, rest = header.strip().partition(" ")
        key = rest.strip() if scheme.lower() == "bearer" else header.strip()
        key = key or request.headers.get("X-Api-Key", "").strip()
        if not key:
            return _error(401, "unauthorized", "missing api key")
        if not world.key_valid(key):
            if world.revoked_status() == 403 and key in world.revoked:
                return _error(403, "forbidden", "api key not permitted")
            return _error(401, "unauthorized", "invalid api key")
        rng = world.request_rng
        for fault in world.active_faults():
            if isinstance(fault, ClayOutage) and rng.random() < fault.error_ratio:
                return _error(503, "service_unavailable", "service unavailable")
            if isinstance(fault, RateLimited) and rng.random() < fault.ratio:
                reset = str(max(1, int(fault.window - world.t() % fault.window)))
                return _error(
                    429,
                    "rate_limited",
                    "rate limit exceeded",
                    {
                        "Retry-After": reset,
                        "X-RateLimit-Limit": str(fault.limit),
                        "X-RateLimit-Remaining": "0",
                        "X-RateLimit-Reset": reset,
                    },
                )
        return web.json_response(
            {
                "user": {"id": "usr_drill_integration", "email": "integrations@clay-sync.example", "name": "clay-sync integration"},
                "workspace": {"id": "ws_drill", "name": "Clay drill workspace"},
            }
        )

    app = web.Application()
    app.router.add_get("/v1/me", me)
    return app
