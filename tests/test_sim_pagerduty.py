"""The drill's PagerDuty (REST API v2 + Events API v2, over HTTPS) and Grafana
(issue 16), spoken to by the real clients — ``pagerduty`` and
``grafana-client`` — and plain httpx, over real sockets."""

from __future__ import annotations

import ssl
import time

import httpx
import pagerduty
import pytest
from grafana_client import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaUnauthorizedError

from clay_cockpit.sim import wiring
from clay_cockpit.sim.pagerduty_api import iso


def _ctx(sim) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(sim.ca_file))


def _rest(sim, **kw) -> pagerduty.RestApiV2Client:
    return pagerduty.RestApiV2Client(
        sim.tokens.pagerduty, default_from=wiring.PD_USER_EMAIL, base_url=sim.endpoints["pagerduty"], verify=_ctx(sim), **kw
    )


@pytest.mark.scenario("clay-outage")
def test_the_page_fires_at_onset_and_the_real_client_acks_notes_and_resolves(sim) -> None:
    assert sim.pagerduty()["incidents"] == [] and sim.pagerduty()["page_pending"]
    sim.advance(25)  # the outage starts at second 20
    client = _rest(sim)
    listed = list(
        client.iter_all("/incidents", params={"statuses[]": ["triggered", "acknowledged"], "service_ids[]": [wiring.PD_SERVICE_ID]})
    )
    assert len(listed) == 1
    page = listed[0]
    assert page["title"] == "[FIRING] clay-sync: Clay API outage (P1)"
    assert page["urgency"] == "high" and page["status"] == "triggered"
    assert page["assignments"][0]["assignee"]["summary"] == wiring.PD_USER_NAME
    assert page["created_at"] == iso(sim.state()["now"] - 5), "created at the onset, second 20"

    acked = client.rput(f"/incidents/{page['id']}", json={"type": "incident_reference", "status": "acknowledged"})
    assert acked["status"] == "acknowledged" and acked["acknowledgements"]
    note = client.rpost(f"/incidents/{page['id']}/notes", json={"content": "declared P1 in the cockpit"})
    assert note["content"] == "declared P1 in the cockpit"
    assert [n["content"] for n in client.rget(f"/incidents/{page['id']}/notes")] == ["declared P1 in the cockpit"]
    sim.advance(60)
    assert client.rput(f"/incidents/{page['id']}", json={"type": "incident_reference", "status": "resolved"})["status"] == "resolved"
    kinds = [e["type"] for e in client.rget(f"/incidents/{page['id']}/log_entries")]
    assert kinds == ["trigger_log_entry", "assign_log_entry", "acknowledge_log_entry", "annotate_log_entry", "resolve_log_entry"]
    assert client.get("/incidents", params={"statuses": ["triggered", "acknowledged"]}).json()["incidents"] == []
    assert client.rget(f"/services/{wiring.PD_SERVICE_ID}")["name"] == wiring.PD_SERVICE_NAME
    assert client.rget(f"/escalation_policies/{wiring.PD_ADMIN_POLICY_ID}")["name"] == wiring.PD_ADMIN_POLICY_NAME
    state = sim.pagerduty()["incidents"][0]
    assert state["status"] == "resolved" and state["notes"] == ["declared P1 in the cockpit"]


@pytest.mark.scenario("healthy")
def test_a_healthy_drill_has_no_page_and_events_open_and_dedup_incidents(sim) -> None:
    assert sim.pagerduty()["incidents"] == [] and not sim.pagerduty()["page_pending"]
    events = pagerduty.EventsApiV2Client(sim.tokens.pagerduty_routing_key, base_url=sim.endpoints["pagerduty"], verify=_ctx(sim))
    key = events.trigger("Secret update refused (403)", "clay-cockpit", dedup_key="clay-INC-1", custom_details={"plan": "rotate"})
    assert key == "clay-INC-1"
    assert events.trigger("Secret update refused (403), again", "clay-cockpit", dedup_key="clay-INC-1") == "clay-INC-1"
    state = sim.pagerduty()
    assert len(state["incidents"]) == 1, "the same dedup key goes into the open incident"
    inc = state["incidents"][0]
    assert inc["service_id"] == wiring.PD_ADMIN_SERVICE_ID and inc["alerts"] == 2 and inc["assignee"] == wiring.PD_ADMIN_ID
    assert state["events"][0]["payload"]["custom_details"] == {"plan": "rotate"}
    # the escalation target's incident is visible through the REST API
    listed = _rest(sim).get("/incidents", params={"incident_key": "clay-INC-1"}).json()["incidents"]
    assert [i["service"]["summary"] for i in listed] == [wiring.PD_ADMIN_SERVICE_NAME]
    # a wrong routing key: 400 as PagerDuty answers
    wrong = httpx.post(
        sim.endpoints["pagerduty"] + "/v2/enqueue",
        json={"routing_key": "0" * 32, "event_action": "trigger", "payload": {"summary": "x", "source": "y", "severity": "critical"}},
        verify=_ctx(sim),
    )
    assert wrong.status_code == 400 and wrong.json()["status"] == "invalid event"
    ok = httpx.post(
        sim.endpoints["pagerduty"] + "/v2/enqueue",
        json={"routing_key": sim.tokens.pagerduty_routing_key, "event_action": "resolve", "dedup_key": "clay-INC-1"},
        verify=_ctx(sim),
    )
    assert ok.status_code == 202 and ok.json() == {"status": "success", "message": "Event processed", "dedup_key": "clay-INC-1"}
    assert sim.pagerduty()["incidents"][0]["status"] == "resolved"


@pytest.mark.scenario("secret-denied")
def test_from_is_required_reassignment_and_a_revoked_token(sim) -> None:
    sim.advance(25)
    base, ctx = sim.endpoints["pagerduty"], _ctx(sim)
    auth = {"Authorization": f"Token token={sim.tokens.pagerduty}", "Accept": "application/vnd.pagerduty+json;version=2"}
    inc = httpx.get(base + "/incidents", headers=auth, verify=ctx).json()["incidents"][0]["id"]
    body = {"incident": {"type": "incident_reference", "status": "acknowledged"}}
    no_from = httpx.put(f"{base}/incidents/{inc}", headers=auth, json=body, verify=ctx)
    assert no_from.status_code == 400 and no_from.json()["error"]["code"] == 2001
    stranger = httpx.put(f"{base}/incidents/{inc}", headers={**auth, "From": "nobody@example.com"}, json=body, verify=ctx)
    assert stranger.status_code == 400
    moved = _rest(sim).rput(
        f"/incidents/{inc}",
        json={"type": "incident_reference", "escalation_policy": {"id": wiring.PD_ADMIN_POLICY_ID, "type": "escalation_policy_reference"}},
    )
    assert moved["escalation_policy"]["id"] == wiring.PD_ADMIN_POLICY_ID and moved["status"] == "triggered"
    assert moved["assignments"][0]["assignee"]["id"] == wiring.PD_ADMIN_ID

    sim.pagerduty("revoke_token")
    refused = httpx.get(base + "/incidents", headers=auth, verify=ctx)
    assert refused.status_code == 401 and refused.json() == {"error": {"message": "Authentication required", "code": 2006}}
    with pytest.raises(pagerduty.HttpError) as err:
        _rest(sim).get("/incidents")
    assert err.value.response is not None and err.value.response.status_code == 401
    sim.pagerduty("restore")
    assert httpx.get(base + "/incidents", headers=auth, verify=ctx).status_code == 200


@pytest.mark.scenario("healthy")
def test_slow_control_delays_every_answer(sim) -> None:
    sim.pagerduty("slow", seconds=1.5)
    client = _rest(sim)
    client.max_network_attempts = 0
    client.timeout = 0.5
    started = time.monotonic()
    with pytest.raises(pagerduty.Error):
        client.get("/abilities")
    assert time.monotonic() - started < 1.4
    sim.pagerduty("restore")
    assert client.get("/abilities").status_code == 200


@pytest.mark.scenario("healthy")
def test_grafana_annotations_dashboards_and_auth_with_grafana_client(sim) -> None:
    api = GrafanaApi.from_url(sim.endpoints["grafana"], credential=sim.tokens.grafana, timeout=3.0)
    assert api.health.check()["database"] == "ok"
    assert api.organization.get_current_organization()["name"] == wiring.GRAFANA_ORG_NAME  # what check proves the token with
    uid, title = wiring.GRAFANA_DASHBOARDS[0]
    board = api.dashboard.get_dashboard(uid)
    assert board["dashboard"]["title"] == title and board["meta"]["url"].startswith(f"/d/{uid}/")
    with pytest.raises(GrafanaClientError) as missing:
        api.dashboard.get_dashboard("nope")
    assert missing.value.status_code == 404
    made = api.annotations.add_annotation(
        dashboard_uid=uid, time_from=1_700_000_000_000, tags=["clay-cockpit", "INC-1"], text="declared P1"
    )
    assert made["message"] == "Annotation added"
    found = api.annotations.get_annotation(tags=["INC-1"], dashboard_uid=uid)
    assert [a["text"] for a in found] == ["declared P1"]
    assert sim.grafana()["annotations"][0]["tags"] == ["clay-cockpit", "INC-1"]
    sim.grafana("revoke_token")
    with pytest.raises(GrafanaUnauthorizedError):
        api.annotations.get_annotation(tags=["INC-1"])
    with pytest.raises(GrafanaUnauthorizedError):
        api.organization.get_current_organization()
    assert api.health.check()["database"] == "ok"  # health needs no token: it proves nothing about one
    sim.grafana("restore")
