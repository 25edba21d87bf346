"""Every drill service answers over real HTTP, in the shape the real service uses."""

from __future__ import annotations

import base64
import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from clay_cockpit.config import DEFAULT_QUERIES

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "real"  # copied from shared/fixtures/real


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def get(url: str, **kw) -> httpx.Response:
    return httpx.get(url, timeout=5.0, **kw)


def secret_key(sim) -> str:
    r = get(
        sim.endpoints["kube"] + "/api/v1/namespaces/clay-sync/secrets/clay-api",
        headers={"Authorization": f"Bearer {sim.token}"},
        verify=sim.kube_ssl(),
    )
    r.raise_for_status()
    return base64.b64decode(r.json()["data"]["api-key"]).decode()


# ---------------------------------------------------------------- status pages


def test_statuspage_operational_shapes_match_real_payloads(shared_sim) -> None:
    base = shared_sim.endpoints["statuspage"] + "/api/v2/"
    real = fixture("statuspage-summary-operational.json")
    summary = get(base + "summary.json").json()
    assert list(summary) == list(real)
    assert list(summary["page"]) == list(real["page"])
    plain = [c for c in summary["components"] if not c["group"]]
    assert list(plain[0]) == list(real["components"][0])
    assert summary["status"] == {"indicator": "none", "description": "All Systems Operational"}
    assert summary["incidents"] == [] and summary["scheduled_maintenances"] == []
    assert all(c["status"] == "operational" for c in summary["components"])
    group = next(c for c in summary["components"] if c["group"])
    assert {c["group_id"] for c in summary["components"] if c["id"] in group["components"]} == {group["id"]}
    status = get(base + "status.json").json()
    assert list(status) == list(fixture("statuspage-status.json")) and status["status"]["indicator"] == "none"
    assert get(base + "incidents/unresolved.json").json()["incidents"] == []
    assert list(get(base + "components.json").json()) == ["page", "components"]
    past = get(base + "incidents.json").json()["incidents"]
    assert past and past[0]["status"] == "resolved"
    real_inc = fixture("statuspage-incidents.json")["incidents"][0]
    assert list(past[0]) == list(real_inc)
    assert list(past[0]["incident_updates"][0]) == list(real_inc["incident_updates"][0])
    datetime.strptime(summary["page"]["updated_at"], "%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.mark.scenario("clay-outage")
def test_statuspage_incident_appears_and_advances(sim) -> None:
    base = sim.endpoints["statuspage"] + "/api/v2/"
    assert get(base + "incidents/unresolved.json").json()["incidents"] == []
    sim.advance(30)
    summary = get(base + "summary.json").json()
    (inc,) = summary["incidents"]
    assert inc["status"] == "investigating" and inc["impact"] == "critical"
    assert summary["status"]["indicator"] == "critical"
    api = next(c for c in summary["components"] if c["name"] == "API")
    assert api["status"] == "major_outage"
    assert inc["incident_updates"][0]["affected_components"][0]["new_status"] == "major_outage"
    assert {c["name"] for c in inc["components"]} == {"API", "People enrichment", "Company enrichment"}
    assert list(inc) == list(fixture("statuspage-summary-incident.json")["incidents"][0])
    sim.advance(300)
    inc = get(base + "incidents/unresolved.json").json()["incidents"][0]
    assert [u["status"] for u in inc["incident_updates"]] == ["identified", "investigating"]  # newest first
    sim.advance(1500 - 330)  # the fault ends: monitoring, components back to operational
    inc = get(base + "incidents/unresolved.json").json()["incidents"][0]
    assert inc["status"] == "monitoring" and inc["monitoring_at"] is not None
    assert all(c["status"] == "operational" for c in get(base + "components.json").json()["components"])
    sim.advance(300)
    assert get(base + "incidents/unresolved.json").json()["incidents"] == []
    assert get(base + "incidents.json").json()["incidents"][0]["status"] == "resolved"


@pytest.mark.scenario("degraded-latency")
def test_rootly_format_of_the_same_state(sim) -> None:
    base = sim.endpoints["rootly"] + "/api/v1/"
    real = fixture("rootly-status-docs-example.json")
    quiet = get(base + "status.json").json()
    assert list(quiet) == list(real) and list(quiet["page"]) == list(real["page"])
    assert quiet["status"] == real["status"] and quiet["incidents"] == []
    sim.advance(40)
    status = get(base + "status.json").json()
    assert status["status"]["indicator"] == "minor"
    (inc,) = status["incidents"]
    assert inc["name"] == "Elevated API latency" and inc["status"] == "started" and inc["impact"] == "minor"
    assert {"name", "status", "impact", "started_at", "resolved_at", "url", "incident_updates"} <= set(inc)
    assert inc["incident_updates"][0] == {
        "body": inc["incident_updates"][0]["body"],
        "status": "investigating",
        "created_at": inc["incident_updates"][0]["created_at"],
    }
    assert inc["started_at"].endswith("Z") and "." not in inc["started_at"]
    assert get(base + "incidents.json", params={"per_page": 1}).json()["incidents"][0]["name"] == inc["name"]
    comps = {c["name"]: c["status"] for c in get(base + "components.json").json()["components"]}
    assert comps["API"] == "degraded_performance" and comps["Webhooks"] == "operational"


# ---------------------------------------------------------------- health, clay


def test_health_shape(shared_sim) -> None:
    r = get(shared_sim.endpoints["health"] + "/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["version"] == "1.14.2"
    assert set(body["checks"]) == {"clay_api", "database", "queue", "fallback"}
    assert all(c["status"] in ("ok", "degraded", "fail") and c["detail"] for c in body["checks"].values())
    assert body["checks"]["clay_api"]["detail"].startswith("last 60s: ")
    assert body["checks"]["fallback"] == {"status": "ok", "detail": "inactive"}


def test_clay_probe_accepts_the_secret_key_only_when_given(shared_sim) -> None:
    url = shared_sim.endpoints["clay"] + "/v1/me"
    assert get(url).status_code == 401
    assert get(url, headers={"Authorization": "Bearer"}).status_code == 401
    ok = get(url, headers={"Authorization": f"Bearer {secret_key(shared_sim)}"})
    assert ok.status_code == 200 and "workspace" in ok.json()


# ---------------------------------------------------------------- prometheus


def test_prometheus_with_the_real_client(shared_sim) -> None:
    from prometheus_api_client import PrometheusApiClientException, PrometheusConnect

    for name in ("prometheus", "prometheus_backup"):
        prom = PrometheusConnect(url=shared_sim.endpoints[name], disable_ssl=True)
        assert prom.check_prometheus_connection()
        (rate,) = prom.custom_query(DEFAULT_QUERIES["request_rate"]["query"])
        assert rate["metric"] == {} and 30 < float(rate["value"][1]) < 50
        (p95,) = prom.custom_query(DEFAULT_QUERIES["latency_p95"]["query"])
        assert 0.25 < float(p95["value"][1]) < 0.6
        now = datetime.fromtimestamp(shared_sim.state()["now"], tz=UTC)
        matrix = prom.custom_query_range(
            DEFAULT_QUERIES["request_rate"]["query"], start_time=now - timedelta(minutes=15), end_time=now, step="15"
        )
        (series,) = matrix
        assert len(series["values"]) == 61  # 15 minutes of backfilled history at 15 s
        assert all(isinstance(t, (int, float)) and isinstance(v, str) for t, v in series["values"])
        with pytest.raises(PrometheusApiClientException):
            prom.custom_query("up")


def test_prometheus_wire_format_and_errors(shared_sim) -> None:
    base = shared_sim.endpoints["prometheus"] + "/api/v1/"
    q = "  sum(rate(clay_api_requests_total[1m]))\n"  # whitespace differences are fine
    now = shared_sim.state()["now"]
    r = get(base + "query_range", params={"query": q, "start": now - 120, "end": now, "step": "30s"})
    assert r.status_code == 200
    real = fixture("prometheus-query_range-matrix.json")
    body = r.json()
    assert list(body) == list(real) and list(body["data"]) == list(real["data"])
    assert list(body["data"]["result"][0]) == list(real["data"]["result"][0])
    errors = get(base + "query", params={"query": DEFAULT_QUERIES["errors_by_code"]["query"]}).json()["data"]["result"]
    assert all(set(s["metric"]) == {"code"} and s["metric"]["code"][0] in "45" for s in errors)
    bad = get(base + "query", params={"query": "rate(http_requests_total[5m])"})
    assert bad.status_code == 400 and bad.json()["status"] == "error" and bad.json()["errorType"] == "bad_data"
    huge = get(base + "query_range", params={"query": q, "start": 0, "end": now, "step": 1})
    assert huge.status_code == 400
    assert huge.json() == fixture("prometheus-error-bad_data.json")
    assert get(base + "query_range", params={"query": q, "start": "yesterday", "end": now, "step": 15}).status_code == 400
    assert get(base + "status/buildinfo").json()["status"] == "success"
    assert get(shared_sim.endpoints["prometheus"] + "/-/ready").status_code == 200


def test_metrics_exposition_agrees_with_the_model(shared_sim) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    text = get(shared_sim.endpoints["metrics"] + "/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    requests = families["clay_api_requests"]
    assert requests.type == "counter"
    totals = [s for s in requests.samples if s.name == "clay_api_requests_total"]
    assert {tuple(sorted(s.labels)) for s in totals} == {("code", "endpoint", "method")}
    hist = families["clay_api_request_duration_seconds"]
    buckets = {s.labels["le"]: s.value for s in hist.samples if s.name.endswith("_bucket")}
    assert list(buckets) == ["0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0", "+Inf"]
    count = next(s.value for s in hist.samples if s.name.endswith("_count"))
    assert count == buckets["+Inf"]
    assert sum(s.value for s in totals) == pytest.approx(count, rel=0.02)  # scraped a moment apart
    assert count > 30_000  # 15 minutes of backfill at ~40/s


# ---------------------------------------------------------------- slack


def test_slack_with_the_real_sdk(shared_sim) -> None:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    api = shared_sim.endpoints["slack"] + "/api/"
    client = WebClient(token=shared_sim.env()["CLAY_DRILL_SLACK_TOKEN"], base_url=api, timeout=5)
    assert client.auth_test()["ok"]
    posted = client.chat_postMessage(channel="#inc-clay-drill", text="P1: Clay API outage, fallback on")
    assert posted["ok"] and posted["message"]["text"].startswith("P1") and posted["channel"].startswith("C")
    reply = client.chat_postMessage(channel=posted["channel"], text="next update 10:30", thread_ts=posted["ts"])
    updated = client.chat_update(channel=posted["channel"], ts=posted["ts"], text="P1: Clay API outage (mitigated)")
    assert updated["text"].endswith("(mitigated)")
    thread = client.conversations_replies(channel=posted["channel"], ts=posted["ts"])["messages"]
    assert [m["ts"] for m in thread] == [posted["ts"], reply["ts"]] and thread[0]["text"].endswith("(mitigated)")
    info = client.conversations_info(channel=posted["channel"])["channel"]
    assert info["name"] == "inc-clay-drill" and info["is_channel"]
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel="#nope", text="x")
    assert err.value.response["error"] == "channel_not_found"
    with pytest.raises(SlackApiError) as err:
        WebClient(token="xoxb-wrong", base_url=api, timeout=5).auth_test()
    assert err.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as err:
        WebClient(base_url=api, timeout=5).auth_test()
    assert err.value.response["error"] == "not_authed"


# ---------------------------------------------------------------- status page management


def test_statusapi_incident_lifecycle(shared_sim) -> None:
    from clay_cockpit.sim import wiring

    base = f"{shared_sim.endpoints['statusapi']}/v1/pages/{wiring.PAGE_ID}"
    auth = {"Authorization": f"OAuth {shared_sim.env()['CLAY_DRILL_STATUSPAGE_KEY']}"}
    assert httpx.get(base + "/incidents", timeout=5).status_code == 401
    assert httpx.get(base + "/incidents", headers={"Authorization": "OAuth nope"}, timeout=5).status_code == 401
    comp = wiring.COMPONENT_IDS[0]
    created = httpx.post(
        base + "/incidents",
        headers=auth,
        timeout=5,
        json={
            "incident": {
                "name": "Contact enrichment delayed",
                "status": "investigating",
                "body": "Enrichment is delayed because of an outage at a provider.",
                "components": {comp: "partial_outage"},
            }
        },
    )
    assert created.status_code == 201
    inc = created.json()
    assert inc["status"] == "investigating" and inc["impact"] == "major" and len(inc["id"]) == 12
    assert inc["incident_updates"][0]["affected_components"][0]["new_status"] == "partial_outage"
    patched = httpx.patch(
        f"{base}/incidents/{inc['id']}",
        headers=auth,
        timeout=5,
        json={"incident": {"status": "resolved", "body": "Recovered.", "components": {comp: "operational"}}},
    ).json()
    assert patched["status"] == "resolved" and patched["resolved_at"] and len(patched["incident_updates"]) == 2
    assert inc["id"] in [i["id"] for i in httpx.get(base + "/incidents", headers=auth, timeout=5).json()]
    bad = httpx.post(base + "/incidents", headers=auth, timeout=5, json={"incident": {"name": "x", "status": "panicking"}})
    assert bad.status_code == 422
    c = httpx.patch(f"{base}/components/{comp}", headers=auth, timeout=5, json={"component": {"status": "degraded_performance"}})
    assert c.status_code == 200 and c.json()["status"] == "degraded_performance"
    assert httpx.get(f"{shared_sim.endpoints['statusapi']}/v1/pages/otherpage/incidents", headers=auth, timeout=5).status_code == 404


def test_no_nan_leaks_into_json(shared_sim) -> None:
    body = get(shared_sim.endpoints["prometheus"] + "/api/v1/query", params={"query": DEFAULT_QUERIES["latency_p95"]["query"]}).json()
    value = body["data"]["result"][0]["value"][1]
    assert isinstance(value, str) and not math.isnan(float(value))
