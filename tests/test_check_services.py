"""`clay-cockpit check`'s Slack rows against the drill, over real HTTP with
slack-sdk: each prerequisite its own row, each failure made through the sim's
controls (docs/drill-contract.md) its own FAIL with a hint and exit 1."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from clay_cockpit.check.services import slack_rows
from clay_cockpit.config import SlackConfig, config_from_toml
from clay_cockpit.sources.slack import Slack

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "real"
SLACK_ROWS = ["slack token", "slack channel", "slack membership"]

pytestmark = pytest.mark.xdist_group("check_services")


def control(sim, path: str, body: dict | None = None) -> dict:
    r = httpx.post(sim.endpoints["control"] + path, json=body, timeout=5.0)
    r.raise_for_status()
    return r.json()


def check(sim, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAY_COCKPIT_")}
    return subprocess.run(
        [sys.executable, "-m", "clay_cockpit.cli", "check", "--config", str(sim.workdir / "cockpit.toml"), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={**env, **sim.env()},
    )


def rows_of(out: subprocess.CompletedProcess) -> dict[str, dict]:
    return {r["name"]: r for r in json.loads(out.stdout)}


def test_a_healthy_drill_passes_every_slack_row(sim) -> None:
    out = check(sim, "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    rows = rows_of(out)
    assert all(r["status"] == "ok" for r in rows.values()), rows
    assert rows["slack token"]["detail"] == "bot clay-cockpit (U0COCKPIT) in workspace Clay Drill (T0CLAYDRL)"
    assert rows["slack channel"]["detail"] == "#inc-clay-drill is C0INCDRILL"
    assert rows["slack membership"]["detail"] == "the bot is a member of #inc-clay-drill"


def test_a_revoked_token_fails_with_invalid_auth_and_a_hint(sim) -> None:
    control(sim, "/_sim/slack/revoke_token")
    out = check(sim)
    assert out.returncode == 1, out.stdout
    lines = out.stdout.splitlines()
    token = next(i for i, line in enumerate(lines) if line.startswith("slack token"))
    assert "FAIL" in lines[token] and "(invalid_auth)" in lines[token], out.stdout
    assert "→ the token is wrong, revoked or for another workspace: put a valid bot token in $CLAY_DRILL_SLACK_TOKEN" in lines[token + 2]
    assert lines[token + 1].strip() == "needed for: posting incident updates to Slack"
    assert sim.env()["CLAY_DRILL_SLACK_TOKEN"] not in out.stdout + out.stderr
    assert lines[-1].endswith("checks: 3 failed (slack token, slack channel, slack membership)"), lines[-1]  # the summary names them
    rows = rows_of(check(sim, "--json"))
    assert [rows[n]["status"] for n in SLACK_ROWS] == ["FAIL", "FAIL", "FAIL"]
    assert rows["slack channel"]["detail"] == "not checked: the token check failed"
    control(sim, "/_sim/slack/restore")
    assert check(sim).returncode == 0


def test_the_bot_not_in_the_channel_fails_with_an_invite_hint(sim) -> None:
    assert control(sim, "/_sim/slack/kick", {"channel": "#inc-clay-drill"}) == {"ok": True, "channel": "C0INCDRILL"}
    out = check(sim, "--json")
    assert out.returncode == 1
    rows = rows_of(out)
    assert [rows[n]["status"] for n in SLACK_ROWS] == ["ok", "ok", "FAIL"]
    assert rows["slack membership"]["detail"] == "the bot clay-cockpit is not a member of #inc-clay-drill (C0INCDRILL)"
    assert rows["slack membership"]["hint"] == "in Slack, type /invite @clay-cockpit in #inc-clay-drill"
    assert all(r["status"] == "ok" for n, r in rows.items() if n not in SLACK_ROWS), rows


def test_a_channel_not_found_fails_and_skips_membership(sim) -> None:
    config = config_from_toml(sim.config_dict(), "drill.toml")
    from dataclasses import replace

    slack = Slack(replace(config.slack, channel="#inc-nowhere"), environ=sim.env(), max_retries=0)
    rows = slack_rows(slack)
    assert [r.name for r in rows] == SLACK_ROWS
    assert [r.status.value for r in rows] == ["ok", "FAIL", "FAIL"]
    assert "no channel named #inc-nowhere is visible to the bot (channel_not_found)" in rows[1].detail
    assert rows[1].hint.startswith("check slack.channel in the config")
    assert rows[2].detail == "not checked: #inc-nowhere was not found"


def test_the_channel_is_found_on_a_later_page(sim) -> None:
    """conversations.list is followed by its cursor: with one channel per page the
    incident channel (C0INCDRILL sorts after C0GENERAL1) is on page 2."""
    config = config_from_toml(sim.config_dict(), "drill.toml")
    slack = Slack(config.slack, environ=sim.env())
    first = slack._call("conversations.list", "page 1", limit=1)
    assert [c["id"] for c in first["channels"]] == ["C0GENERAL1"] and first["response_metadata"]["next_cursor"]
    found = slack.find_channel()
    assert found["id"] == "C0INCDRILL"
    assert slack.find_channel(max_pages=0).slack_error == "channel_not_found"


@pytest.mark.parametrize(
    "code,row", [("invalid_auth", "slack token"), ("not_authed", "slack token"), ("channel_not_found", "slack channel")]
)
def test_real_slack_error_payloads_parse_to_named_failures(code: str, row: str) -> None:
    """The recorded real Slack error bodies (shared/fixtures/real), byte for byte,
    served over HTTP to slack-sdk: the failing row carries Slack's own code."""
    body = (FIXTURES / f"slack-error-{code}.json").read_bytes()
    ok_auth = json.dumps({"ok": True, "team": "T", "user": "bot", "team_id": "T1", "user_id": "U1"}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            answer = ok_auth if code == "channel_not_found" and self.path.endswith("/auth.test") else body
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        config = SlackConfig(channel="#incidents", token_env="T", api_url=f"http://127.0.0.1:{server.server_port}/api/")
        rows = {r.name: r for r in slack_rows(Slack(config, environ={"T": "xoxb-recorded"}, max_retries=0, timeout=5))}
    finally:
        server.shutdown()
        server.server_close()
    assert rows[row].status.value == "FAIL" and f"({code})" in rows[row].detail, rows[row]
    assert rows[row].hint


# ---------------------------------------------------------------- Prometheus


def test_metric_names_in_promql() -> None:
    from clay_cockpit.check.services import metric_names_in

    assert metric_names_in('sum by (code) (rate(clay_api_requests_total{code=~"5.."}[1m]))') == {"clay_api_requests_total"}
    assert metric_names_in("histogram_quantile(0.95, sum by (le) (rate(x_bucket[5m])))") == {"x_bucket"}
    assert metric_names_in('up{job="a{b}"} / on (job) group_left foo:bar[5m]') == {"up", "foo:bar"}
    assert metric_names_in("vector(1)") == set()


def test_healthy_metrics_rows_one_per_server_and_query(sim) -> None:
    rows = rows_of(check(sim, "--json"))
    names = [n for n in rows if n.startswith("metrics")]
    assert names == [
        "metrics",
        "metrics backup 1",
        "metrics query errors_by_code",
        "metrics query request_rate",
        "metrics query latency_p95",
    ]
    assert all(rows[n]["status"] == "ok" for n in names), rows
    assert rows["metrics backup 1"]["detail"].startswith("backup 1 " + sim.endpoints["prometheus_backup"] + " answers: 5 metric names")


def test_a_hidden_metric_warns_no_data_and_exits_0(sim) -> None:
    control(sim, "/_sim/prometheus/hide", {"metric": "clay_api_request_duration_seconds_bucket"})
    out = check(sim, "--json")
    assert out.returncode == 0, out.stdout
    rows = rows_of(out)
    row = rows["metrics query latency_p95"]
    assert row["status"] == "warn"
    assert row["detail"].startswith("no data: is the metric name right? query 'latency_p95': histogram_quantile(")
    assert row["detail"].endswith("(clay_api_request_duration_seconds_bucket not in Prometheus)")
    assert row["hint"].startswith("fix metrics.queries.latency_p95 in the config")
    assert [n for n, r in rows.items() if r["status"] != "ok"] == ["metrics query latency_p95"]


def test_a_filter_that_matches_nothing_over_existing_metrics_is_ok(sim) -> None:
    control(sim, "/_sim/prometheus/quiet", {"query": "errors_by_code"})
    out = check(sim, "--json")
    assert out.returncode == 0, out.stdout
    row = rows_of(out)["metrics query errors_by_code"]
    assert row["status"] == "ok", row
    assert row["detail"] == "no series now; its metrics exist (clay_api_requests_total), the filter matches nothing"


def test_a_backup_down_is_its_own_fail(sim) -> None:
    sim.stop_service("prometheus_backup")
    out = check(sim, "--json")
    assert out.returncode == 1, out.stdout
    rows = rows_of(out)
    assert rows["metrics"]["status"] == "ok"
    assert rows["metrics backup 1"]["status"] == "FAIL"
    assert rows["metrics backup 1"]["detail"].startswith("unreachable: cannot reach " + sim.endpoints["prometheus_backup"])
    assert "metrics.backup_urls" in rows["metrics backup 1"]["hint"]
    assert all(rows[f"metrics query {q}"]["status"] == "ok" for q in ("errors_by_code", "request_rate", "latency_p95"))
    assert [n for n, r in rows.items() if r["status"] != "ok"] == ["metrics backup 1"]


def test_the_primary_down_queries_are_checked_on_the_backup(sim) -> None:
    sim.stop_service("prometheus")
    rows = rows_of(check(sim, "--json"))
    assert rows["metrics"]["status"] == "FAIL" and rows["metrics backup 1"]["status"] == "ok"
    assert rows["metrics query request_rate"]["status"] == "ok"


# ---------------------------------------------------------------- Clay


def test_the_clay_probe_is_reached_without_the_key(sim) -> None:
    rows = rows_of(check(sim, "--json"))
    assert rows["clay"]["status"] == "ok"
    assert "answers (401 without a key, as expected; the key was not sent)" in rows["clay"]["detail"]
    sim.stop_service("clay")
    out = check(sim, "--json")
    assert out.returncode == 1
    row = rows_of(out)["clay"]
    assert row["status"] == "FAIL" and "unreachable (ConnectError)" in row["detail"] and "clay.probe_url" in row["hint"]


def test_the_clay_probe_sends_no_key_header() -> None:
    from clay_cockpit.check.services import clay_row
    from clay_cockpit.config import ClayConfig

    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(dict(self.headers))
            self.send_response(401)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:

        class Config:
            clay = ClayConfig(probe_url=f"http://127.0.0.1:{server.server_port}/v1/me")

            class actions:
                probe_timeout = 5.0

        row = clay_row(Config)
    finally:
        server.shutdown()
        server.server_close()
    assert row.status.value == "ok", row
    assert len(seen) == 1
    header = ClayConfig().key_header.lower()
    assert header not in {k.lower() for k in seen[0]}, seen


def test_every_service_stopped_is_a_fail_row_each_not_a_crash(sim) -> None:
    for name in ("statuspage", "health", "prometheus", "prometheus_backup", "clay", "slack", "statusapi", "kube"):
        sim.stop_service(name)
    out = check(sim)
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stdout + out.stderr
    rows = rows_of(check(sim, "--json"))
    assert rows["config"]["status"] == "ok"
    for name in ("statuspage", "health", "metrics", "metrics backup 1", "clay", "slack token", "status page key", "kube auth"):
        assert rows[name]["status"] == "FAIL" and rows[name]["hint"], (name, rows[name])
    assert "unreachable" in rows["statuspage"]["detail"] and "unreachable" in rows["health"]["detail"], rows


def test_with_key_sends_the_secrets_key_once_and_shows_only_its_fingerprint(sim) -> None:
    from clay_cockpit.actions.types import SecretValue

    assert "clay key" not in rows_of(check(sim, "--json"))  # without --with-key the key is never read nor sent
    key = base64.b64decode(
        httpx.get(
            sim.endpoints["kube"] + "/api/v1/namespaces/clay-sync/secrets/clay-api",
            headers={"Authorization": f"Bearer {sim.token}"},
            verify=sim.kube_ssl(),
            timeout=5.0,
        ).json()["data"]["api-key"]
    ).decode()
    out = check(sim, "--with-key", "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    row = rows_of(out)["clay key"]
    assert row["status"] == "ok" and "200 OK: Clay accepts this key" in row["detail"], row
    assert SecretValue(key).fingerprint in row["detail"] and key not in out.stdout + out.stderr
    control(sim, "/_sim/services/clay/fault", {"status": 401})  # Clay refuses it: the integration is down
    out = check(sim, "--with-key")
    assert out.returncode == 1 and key not in out.stdout
    line = next(i for i, text in enumerate(out.stdout.splitlines()) if text.startswith("clay key"))
    assert "FAIL" in out.stdout.splitlines()[line] and "rotate the key" in out.stdout.splitlines()[line + 2], out.stdout
    control(sim, "/_sim/services/clay/fault", {"status": 429})  # says nothing about the key
    assert rows_of(check(sim, "--with-key", "--json"))["clay key"]["status"] == "warn"
    httpx.delete(sim.endpoints["control"] + "/_sim/services/clay/fault", timeout=5.0).raise_for_status()
    control(sim, "/_sim/kube/deny", {"verb": "get", "resource": "secrets"})
    row = rows_of(check(sim, "--with-key", "--json"))["clay key"]
    assert row["status"] == "FAIL" and "forbidden" in row["detail"].lower(), row


# ---------------------------------------------------------------- our status page (management API)


def test_status_page_rows_ok_then_unknown_component_then_wrong_key(sim) -> None:
    rows = rows_of(check(sim, "--json"))
    assert rows["status page key"]["status"] == "ok" and rows["status page key"]["detail"] == "accepted: it manages 1 page"
    assert rows["status page"]["detail"] == "Clay Sync (drill) (drillpage01)"
    assert rows["status page component drillcomp01"]["detail"] == "Contact enrichment (operational)"

    control(sim, "/_sim/statusapi/delete_component", {"id": "drillcomp01"})
    out = check(sim, "--json")
    assert out.returncode == 1
    rows = rows_of(out)
    row = rows["status page component drillcomp01"]
    assert row["status"] == "FAIL" and row["detail"] == "no component 'drillcomp01' on page drillpage01 (0 components there)"
    assert row["hint"].startswith("fix external_status.component_ids")
    assert [n for n, r in rows.items() if r["status"] != "ok"] == ["status page component drillcomp01"]

    control(sim, "/_sim/statusapi/revoke_key")
    out = check(sim, "--json")
    rows = rows_of(out)
    assert out.returncode == 1
    assert rows["status page key"]["status"] == "FAIL" and "401 Unauthorized" in rows["status page key"]["detail"]
    assert rows["status page key"]["hint"].startswith("the key in $CLAY_DRILL_STATUSPAGE_KEY was refused")
    assert "status page" not in rows  # nothing else is asked with a refused key
    assert sim.env()["CLAY_DRILL_STATUSPAGE_KEY"] not in out.stdout


def test_a_page_the_key_does_not_manage_fails(sim) -> None:
    from dataclasses import replace

    from clay_cockpit.check.services import statusapi_rows
    from clay_cockpit.sources.statusapi import StatusApi

    config = config_from_toml(sim.config_dict(), "drill.toml")
    rows = statusapi_rows(StatusApi(replace(config.external_status, page_id="otherpage"), environ=sim.env(), max_retries=0))
    assert [(r.name, r.status.value) for r in rows] == [("status page key", "ok"), ("status page", "FAIL")]
    assert rows[1].detail == "page 'otherpage' is not among the pages this key manages"
