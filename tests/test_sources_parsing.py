"""Parsing of real captured payloads (shared/fixtures/real/), no network.

Each source's parser is a pure function; these tests pin what it reads out
of responses real systems sent (see fixtures/real/SOURCES.md for where each
came from).
"""

from __future__ import annotations

import contextlib
import json
import math
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clay_cockpit.config import QueryConfig
from clay_cockpit.signals import ComponentStatus
from clay_cockpit.sources import statuspage as sp
from clay_cockpit.sources._errors import parse_retry_after, safe_url, scrub
from clay_cockpit.sources._kubelogs import _Dedup, parse_timestamp, split_log_line
from clay_cockpit.sources.health import BadHealthBody, parse_health
from clay_cockpit.sources.kube import parse_pod_list, pod_info, pod_status
from clay_cockpit.sources.metrics import build_series, prometheus_error, sample_value, split_client_exception

REAL = Path(__file__).resolve().parent / "fixtures" / "real"  # copied from shared/fixtures/real


def load(name: str) -> object:
    return json.loads((REAL / name).read_text(encoding="utf-8"))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --------------------------------------------------------------------------
# Statuspage v2 / Rootly


def test_every_real_status_fixture_parses() -> None:
    files = sorted(REAL.glob("statuspage-*.json")) + sorted(REAL.glob("rootly-*.json"))
    assert len(files) >= 7
    for path in files:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if "components" in doc:
            snap = sp.parse_summary(doc)
            assert snap.indicator in ("none", "minor", "major", "critical", "maintenance")
        elif "status" in doc:
            snap = sp.parse_rootly(doc)
            assert snap.description
        for incident in sp.parse_incidents(doc.get("incidents"), unresolved_only=False):
            assert incident.name and incident.started_at is not None and incident.latest_update


def test_summary_with_unresolved_incident() -> None:
    snap = sp.parse_summary(load("statuspage-summary-incident.json"), fetched_at=1.0, response_ms=2.0)
    assert (snap.provider, snap.page_name, snap.indicator) == ("statuspage", "Huobi", "minor")
    assert snap.description == "Partially Degraded Service"
    assert snap.components == (sp.Component("Deposit", ComponentStatus.OPERATIONAL, None),)
    (incident,) = snap.incidents  # the scheduled (not in-progress) maintenance is not an incident
    assert incident.id == "rclfxz2g21ly"
    assert incident.name == "Market data is delayed"
    assert (incident.status, incident.impact) == ("investigating", "minor")
    assert incident.started_at == utc(2020, 2, 11, 3, 15, 1, 906000)
    assert incident.latest_update == "Market data is delayed"
    assert incident.latest_update_at == utc(2020, 2, 11, 3, 15, 2)
    assert incident.components == ("Market data",)
    assert incident.url == "http://stspg.io/pkvbwp8jppf9"


def test_summary_operational() -> None:
    snap = sp.parse_summary(load("statuspage-summary-operational.json"))
    assert snap.indicator == "none" and snap.incidents == ()
    assert snap.page_url == "https://discordstatus.com"
    assert [c.name for c in snap.components] == ["South Korea"]


def test_in_progress_maintenance_counts_and_groups_resolve() -> None:
    doc = load("statuspage-summary-incident.json")
    assert isinstance(doc, dict)
    doc["scheduled_maintenances"][0]["status"] = "in_progress"
    doc["components"].append(
        {"id": "gtd0nyr3pf0k", "name": "Deposit And Withdraw", "status": "operational", "group": True, "components": ["h028tnzw1n5l"]}
    )
    snap = sp.parse_summary(doc)
    assert snap.components == (sp.Component("Deposit", ComponentStatus.OPERATIONAL, "Deposit And Withdraw"),)
    assert [i.impact for i in snap.incidents] == ["minor", "maintenance"]


def test_latest_update_is_the_newest_whatever_the_order() -> None:
    (incident,) = sp.parse_incidents(load("statuspage-incidents.json")["incidents"], unresolved_only=False)  # type: ignore[index]
    assert incident.latest_update == "This incident has been resolved."
    assert incident.components == ("API",)
    reordered = dict(load("statuspage-incidents.json")["incidents"][0])  # type: ignore[index]
    reordered["incident_updates"] = list(reversed(reordered["incident_updates"]))
    assert sp.parse_incident(reordered).latest_update == "This incident has been resolved."


def test_resolved_incidents_are_not_unresolved() -> None:
    assert sp.parse_incidents(load("statuspage-incidents.json")["incidents"]) == ()  # type: ignore[index]
    assert sp.parse_incidents(load("statuspage-incidents-unresolved-empty.json")["incidents"]) == ()  # type: ignore[index]


def test_2019_format_without_started_at() -> None:
    doc = load("statuspage-incidents-2019-format.json")
    first, second = sp.parse_incidents(doc["incidents"], unresolved_only=False)  # type: ignore[index]
    assert first.started_at == utc(2018, 9, 17, 19, 29, 21, 132000)  # falls back to created_at
    assert first.latest_update.startswith("Cloudflare has resolved the issue")
    assert first.components == ("Cloudflare APIs",)
    assert second.name == "Web Analytics Delays"
    assert second.latest_update_at == utc(2018, 9, 17, 22, 53, 5, 57000)


def test_rootly_docs_example() -> None:
    snap = sp.parse_rootly(load("rootly-status-docs-example.json"))
    assert (snap.provider, snap.page_name, snap.page_url) == ("rootly", "Acme Status", "https://status.example.com")
    assert (snap.indicator, snap.description, snap.incidents) == ("none", "All Systems Operational", ())


def test_rootly_incident_from_the_docs_list_example() -> None:
    # the incident shape of docs.rootly.com "List Incidents" (status "started")
    doc = {
        "name": "API Degradation",
        "status": "started",
        "impact": "minor",
        "started_at": "2026-03-19T10:30:00Z",
        "resolved_at": None,
        "url": "https://status.example.com/incidents/abc123",
        "incident_updates": [
            {
                "body": "We are investigating reports of elevated API latency.",
                "status": "investigating",
                "created_at": "2026-03-19T10:35:00Z",
            }
        ],
    }
    assert sp.is_unresolved(doc)
    incident = sp.parse_incident(doc)
    assert incident.status == "investigating"  # Rootly's lifecycle word gives way to the update's status
    assert incident.id == incident.url == "https://status.example.com/incidents/abc123"
    assert incident.latest_update_at == utc(2026, 3, 19, 10, 35)


def test_not_a_summary_is_refused() -> None:
    with pytest.raises(sp.NotThisFormat):
        sp.parse_summary(load("statuspage-status.json"))
    with pytest.raises(sp.NotThisFormat):
        sp.parse_rootly({"page": {}, "incidents": []})


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda c: (
            st.lists(c, max_size=3)
            | st.dictionaries(
                st.sampled_from(
                    ["page", "status", "components", "incidents", "name", "group", "group_id", "incident_updates", "indicator", "id"]
                ),
                c,
                max_size=4,
            )
        ),
        max_leaves=20,
    )
)
def test_status_parsers_never_raise_anything_but_not_this_format(doc: object) -> None:
    for parse in (sp.parse_summary, sp.parse_rootly):
        with contextlib.suppress(sp.NotThisFormat):  # the one exception a caller handles
            parse(doc)


# --------------------------------------------------------------------------
# Health


def test_health_contract_example() -> None:
    doc = {
        "status": "ok",
        "version": "1.14.2",
        "checks": {
            "clay_api": {"status": "ok", "detail": "last 60s: 2400 calls, 0 errors"},
            "database": {"status": "degraded", "detail": "replica lag 4s"},
            "queue": {"status": "fail", "detail": "depth 9000"},
        },
    }
    snap = parse_health(doc, http_status=200, response_ms=3.0)
    assert (snap.status, snap.healthy, snap.version) == ("ok", True, "1.14.2")
    assert [(c.name, c.status, c.ok) for c in snap.checks] == [
        ("clay_api", "ok", True),
        ("database", "degraded", False),
        ("queue", "fail", False),
    ]
    down = parse_health({"status": "DOWN", "checks": [{"name": "db", "status": "DOWN"}]}, http_status=503)
    assert (down.status, down.healthy, down.checks[0].status) == ("down", False, "fail")
    assert parse_health({"status": "degraded"}).healthy is False


@pytest.mark.parametrize("doc", [[], {"status": "purple"}, {}, {"status": "ok", "checks": 3}])
def test_health_bad_bodies(doc: object) -> None:
    with pytest.raises(BadHealthBody):
        parse_health(doc)


# --------------------------------------------------------------------------
# Prometheus


def q(**kw: object) -> QueryConfig:
    return QueryConfig(**{"name": "up", "query": "up", **kw})  # type: ignore[arg-type]


def test_range_matrix_from_prometheus_docs() -> None:
    matrix = load("prometheus-query_range-matrix.json")["data"]["result"]  # type: ignore[index]
    instant = [{"metric": m["metric"], "value": m["values"][-1]} for m in matrix]
    series = build_series(q(split_by="job", label="Up", unit="", scale=2.0), instant, matrix, max_points=100)
    assert [s.key for s in series] == ["up:node", "up:prometheus"]
    node = series[0]
    assert node.label == "Up node" and node.labels == (("job", "node"),)
    assert node.points == ((1435781430.781, 0.0), (1435781445.781, 0.0), (1435781460.781, 2.0))
    assert node.current == 2.0
    # without split_by every label but __name__ tells the series apart
    plain = build_series(q(), instant, matrix, max_points=2)
    assert [s.key for s in plain] == ["up:instance=localhost:9090,job=prometheus", "up:instance=localhost:9091,job=node"]
    assert len(plain[0].points) == 2  # bounded to the newest max_points


def test_series_values_and_order() -> None:
    instant = [
        {"metric": {"code": "503"}, "value": [1.0, "2.5"]},
        {"metric": {"code": "429"}, "value": [1.0, "NaN"]},
    ]
    matrix = [{"metric": {"code": "429"}, "values": [[1.0, "1"], [2.0, "+Inf"], [3.0, "3"]]}]
    series = build_series(q(name="errors_by_code", split_by="code", label="Clay", unit="req/s"), instant, matrix, 10)
    assert [(s.key, s.current, s.points) for s in series] == [
        ("errors_by_code:429", None, ((1.0, 1.0), (3.0, 3.0))),
        ("errors_by_code:503", 2.5, ()),
    ]
    scalar = build_series(q(name="p95", scale=1000.0), [1.0, "0.25"], [], 10)
    assert [(s.key, s.current) for s in scalar] == [("p95", 250.0)]
    assert sample_value("NaN") is None and sample_value("-Inf") is None and sample_value("x") is None


@pytest.mark.parametrize("instant, matrix", [([{"metric": "x"}], []), ([], {"a": 1}), ([], [{"values": [[1]]}])])
def test_series_malformed(instant: object, matrix: object) -> None:
    with pytest.raises(ValueError):
        build_series(q(), instant, matrix, 10)


def test_prometheus_error_body_real() -> None:
    raw = (REAL / "prometheus-error-bad_data.json").read_bytes()
    kind, text = prometheus_error(raw)  # type: ignore[misc]
    assert kind == "bad_data" and text.startswith("exceeded maximum resolution of 11,000 points")
    # what prometheus-api-client raises for it: "HTTP Status Code 400 (b'...')"
    from prometheus_api_client.exceptions import PrometheusApiClientException

    exc = PrometheusApiClientException(f"HTTP Status Code {400} ({raw!r})")
    assert split_client_exception(exc) == (400, raw)
    assert prometheus_error(b"<html>") is None


# --------------------------------------------------------------------------
# Kubernetes pods


def test_pod_oomkilled_last_state_real() -> None:
    info = pod_info(load("k8s-pod-oomkilled-laststate.json"))  # type: ignore[arg-type]
    assert info.name == "kubeshark-worker-daemon-set-hvn25"
    assert (info.phase, info.status, info.ready, info.containers, info.restarts) == ("Running", "Running", 1, 1, 1)
    assert info.last_termination == "OOMKilled"
    assert info.owner == "DaemonSet/kubeshark-worker-daemon-set"
    assert info.node == "mizu"
    assert info.created_at is None  # the captured object lacks creationTimestamp
    assert info.is_ready


def test_pod_crashloopbackoff_real() -> None:
    pod = {"metadata": {"name": "dns-example"}, "status": {"phase": "Running", **load("k8s-containerstatus-crashloopbackoff.json")}}  # type: ignore[dict-item]
    info = pod_info(pod)
    assert (info.status, info.last_termination, info.restarts, info.ready, info.containers) == ("CrashLoopBackOff", "Completed", 2, 0, 1)
    assert not info.is_ready


def _pod(state: dict, *, last: dict | None = None, ready: bool = False, phase: str = "Running", **meta: object) -> dict:
    cs = {"name": "app", "ready": ready, "restartCount": 0, "state": state}
    if last:
        cs["lastState"] = {"terminated": last}
    return {
        "metadata": {"name": "p", **meta},
        "spec": {"containers": [{"name": "app"}]},
        "status": {"phase": phase, "containerStatuses": [cs]},
    }


@pytest.mark.parametrize(
    "pod, expected",
    [
        (_pod({"running": {}}, ready=True), "Running"),
        (_pod({"waiting": {"reason": "ContainerCreating"}}, phase="Pending"), "ContainerCreating"),
        (_pod({"terminated": {"reason": "OOMKilled", "exitCode": 137}}), "OOMKilled"),
        (_pod({"terminated": {"reason": "Error", "exitCode": 1}}, phase="Failed"), "Error"),
        (_pod({"terminated": {"reason": "Completed", "exitCode": 0}}, phase="Succeeded"), "Completed"),
        (_pod({"terminated": {"exitCode": 2}}), "ExitCode:2"),
        (_pod({"terminated": {"exitCode": 0, "signal": 9}}), "Signal:9"),
        (_pod({"running": {}}, ready=True, deletionTimestamp="2024-01-01T00:00:00Z"), "Terminating"),
        ({"metadata": {"name": "p"}, "status": {"phase": "Pending"}}, "Pending"),
        ({"metadata": {"name": "p"}, "status": {"phase": "Failed", "reason": "Evicted"}}, "Evicted"),
        (
            {
                "metadata": {"name": "p"},
                "spec": {"initContainers": [{"name": "i"}], "containers": [{"name": "a"}]},
                "status": {
                    "phase": "Pending",
                    "initContainerStatuses": [{"name": "i", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}],
                },
            },
            "Init:CrashLoopBackOff",
        ),
        (
            {
                "metadata": {"name": "p"},
                "spec": {"initContainers": [{"name": "i"}], "containers": [{"name": "a"}]},
                "status": {"phase": "Pending", "initContainerStatuses": [{"name": "i", "state": {"running": {}}}]},
            },
            "Init:0/1",
        ),
    ],
)
def test_kubectl_status(pod: dict, expected: str) -> None:
    assert pod_status(pod) == expected


def test_pod_list_sorted_and_owner() -> None:
    a = _pod(
        {"running": {}},
        ready=True,
        name="b",
        ownerReferences=[{"kind": "ReplicaSet", "name": "rs-1", "controller": True}],
        creationTimestamp="2024-05-01T10:00:00Z",
    )
    b = _pod({"running": {}}, ready=True, name="a")
    pods = parse_pod_list({"items": [a, b]})
    assert [p.name for p in pods] == ["a", "b"]
    assert pods[1].owner == "ReplicaSet/rs-1" and pods[1].created_at == utc(2024, 5, 1, 10)
    with pytest.raises(ValueError):
        parse_pod_list({"kind": "Status"})


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=6),
        lambda c: (
            st.lists(c, max_size=3)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "metadata",
                        "spec",
                        "status",
                        "containerStatuses",
                        "initContainerStatuses",
                        "state",
                        "waiting",
                        "terminated",
                        "running",
                        "reason",
                        "restartCount",
                        "ready",
                        "name",
                        "lastState",
                        "ownerReferences",
                    ]
                ),
                c,
                max_size=4,
            )
        ),
        max_leaves=25,
    )
)
def test_pod_info_never_raises(doc: object) -> None:
    if isinstance(doc, dict):
        pod_info(doc)


# --------------------------------------------------------------------------
# Log lines


def test_log_timestamps_keep_nanosecond_order() -> None:
    text, ts, key = split_log_line('2024-05-02T12:30:53.123456789Z level=info msg="clay call" status=200')
    assert text == 'level=info msg="clay call" status=200'
    assert ts == utc(2024, 5, 2, 12, 30, 53, 123456)
    assert key == (int(utc(2024, 5, 2, 12, 30, 53).timestamp()), 123456789)
    _, _, later = split_log_line("2024-05-02T12:30:53.123456790Z x")
    assert later > key  # type: ignore[operator]
    assert parse_timestamp("2024-05-02T14:30:53+02:00")[1] == key[0:1] + (0,)  # type: ignore[index]
    assert split_log_line("no timestamp here") == ("no timestamp here", None, None)


def test_dedup_on_reconnect() -> None:
    d = _Dedup()
    lines = ["2024-01-01T00:00:01.5Z a", "2024-01-01T00:00:02Z b", "2024-01-01T00:00:02Z c"]
    first = [split_log_line(x) for x in lines]
    assert all(d.fresh(k, t) for t, _, k in first)
    # the reconnect (sinceSeconds reaching back) repeats them, then continues
    again = first + [split_log_line("2024-01-01T00:00:02Z d"), split_log_line("2024-01-01T00:00:03Z e")]
    assert [t for t, _, k in again if d.fresh(k, t)] == ["d", "e"]


# --------------------------------------------------------------------------
# Error helpers


def test_safe_url_and_scrub() -> None:
    assert safe_url("https://user:pw@prom.example:9090/api?token=abc#x") == "https://prom.example:9090/api"
    assert scrub("Bearer sekrit-token-1 failed", ["sekrit-token-1", ""]) == "Bearer [redacted] failed"
    assert parse_retry_after("37") == 37.0 and parse_retry_after("soon") is None
    assert math.isclose(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") or 0.0, 0.0)
