"""The drill answers the prerequisite checks like the real services, and its
controls break each one (docs/drill-contract.md)."""

from __future__ import annotations

import httpx


def post(sim, path: str, body: dict | None = None) -> httpx.Response:
    return httpx.post(sim.endpoints["control"] + path, json=body, timeout=5.0)


def slack(sim, method: str, token: str | None = None, **params) -> dict:
    token = token or sim.env()["CLAY_DRILL_SLACK_TOKEN"]
    r = httpx.post(sim.endpoints["slack"] + f"/api/{method}", data=params, headers={"Authorization": f"Bearer {token}"}, timeout=5.0)
    return r.json()


def test_slack_conversations_list_pages_and_membership(sim) -> None:
    first = slack(sim, "conversations.list", limit=1)
    assert first["ok"] and [c["id"] for c in first["channels"]] == ["C0GENERAL1"]
    second = slack(sim, "conversations.list", limit=1, cursor=first["response_metadata"]["next_cursor"])
    assert [c["name"] for c in second["channels"]] == ["inc-clay-drill"] and second["response_metadata"]["next_cursor"] == ""
    assert slack(sim, "conversations.info", channel="C0INCDRILL")["channel"]["is_member"] is True
    assert post(sim, "/_sim/slack/kick", {"channel": "#inc-clay-drill"}).json() == {"ok": True, "channel": "C0INCDRILL"}
    assert slack(sim, "conversations.info", channel="C0INCDRILL")["channel"]["is_member"] is False
    assert post(sim, "/_sim/slack/kick", {"channel": "#nowhere"}).status_code == 400
    post(sim, "/_sim/slack/revoke_token")
    assert slack(sim, "auth.test") == {"ok": False, "error": "invalid_auth"}
    post(sim, "/_sim/slack/restore")
    assert slack(sim, "auth.test")["ok"] is True
    assert slack(sim, "conversations.info", channel="C0INCDRILL")["channel"]["is_member"] is True


def test_prometheus_label_values_series_and_hide(sim) -> None:
    for name in ("prometheus", "prometheus_backup"):
        base = sim.endpoints[name]
        names = httpx.get(base + "/api/v1/label/__name__/values", timeout=5).json()
        assert names["status"] == "success" and "clay_api_requests_total" in names["data"]
        series = httpx.get(base + "/api/v1/series", params={"match[]": "clay_api_requests_total"}, timeout=5).json()
        assert [s["__name__"] for s in series["data"]] == ["clay_api_requests_total"]
        assert httpx.get(base + "/api/v1/series", timeout=5).status_code == 400
    assert post(sim, "/_sim/prometheus/hide", {"metric": "nope"}).status_code == 400
    post(sim, "/_sim/prometheus/hide", {"metric": "clay_api_requests_total"})
    base = sim.endpoints["prometheus"]
    assert "clay_api_requests_total" not in httpx.get(base + "/api/v1/label/__name__/values", timeout=5).json()["data"]
    q = httpx.get(base + "/api/v1/query", params={"query": "sum(rate(clay_api_requests_total[1m]))"}, timeout=5).json()
    assert q["data"]["result"] == []
    p95 = httpx.get(
        base + "/api/v1/query",
        params={"query": "histogram_quantile(0.95, sum by (le) (rate(clay_api_request_duration_seconds_bucket[1m])))"},
        timeout=5,
    ).json()
    assert len(p95["data"]["result"]) == 1  # another metric: untouched
    post(sim, "/_sim/prometheus/unhide")
    q = httpx.get(base + "/api/v1/query", params={"query": "sum(rate(clay_api_requests_total[1m]))"}, timeout=5).json()
    assert len(q["data"]["result"]) == 1


def test_status_page_pages_and_controls(sim) -> None:
    base = sim.endpoints["statusapi"] + "/v1"
    auth = {"Authorization": f"OAuth {sim.env()['CLAY_DRILL_STATUSPAGE_KEY']}"}
    assert [p["id"] for p in httpx.get(base + "/pages", headers=auth, timeout=5).json()] == ["drillpage01"]
    assert httpx.get(base + "/pages/drillpage01", headers=auth, timeout=5).json()["id"] == "drillpage01"
    assert httpx.get(base + "/pages/other", headers=auth, timeout=5).status_code == 404
    assert post(sim, "/_sim/statusapi/delete_component", {"id": "nope"}).status_code == 400
    post(sim, "/_sim/statusapi/delete_component", {"id": "drillcomp01"})
    assert httpx.get(base + "/pages/drillpage01/components", headers=auth, timeout=5).json() == []
    post(sim, "/_sim/statusapi/revoke_key")
    assert httpx.get(base + "/pages", headers=auth, timeout=5).status_code == 401
