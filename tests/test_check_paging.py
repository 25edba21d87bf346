"""`clay-cockpit check`'s PagerDuty and Grafana rows (issue 16) against the
drill, over real HTTPS/HTTP with the official pagerduty client and
grafana-client: every row ok on the drill's config, then each failure made
through the sim's controls (docs/drill-contract.md) or the config its own
FAIL, naming what to fix and never quoting a credential."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from clay_cockpit.check.paging import grafana_rows, pagerduty_rows, paging_rows
from clay_cockpit.check.rows import Row, Status
from clay_cockpit.config import config_from_toml
from clay_cockpit.sim import wiring
from clay_cockpit.sources import Sources
from clay_cockpit.sources.grafana import Grafana
from clay_cockpit.sources.pagerduty import PagerDuty

ROOT = Path(__file__).resolve().parent.parent
ROUTING = "pagerduty routing key"


def _cfg(sim):
    return config_from_toml(sim.config_dict(), "drill.toml")


def pd_rows(sim, env: dict[str, str] | None = None, **over) -> dict[str, Row]:
    cfg = _cfg(sim)
    pd = PagerDuty(replace(cfg.pagerduty, **over), environ=sim.env() if env is None else env)
    return {r.name: r for r in pagerduty_rows(pd)}


def grafana_rows_of(sim, **over) -> dict[str, Row]:
    cfg = _cfg(sim)
    return {r.name: r for r in grafana_rows(Grafana(replace(cfg.grafana, **over), environ=sim.env()))}


def secrets_of(sim) -> list[str]:
    t = sim.tokens
    return [s for s in (t.pagerduty, t.pagerduty_routing_key, t.grafana) if s] + [s[-6:] for s in (t.pagerduty, t.grafana) if s]


def no_secret_in(sim, rows) -> None:
    text = json.dumps([r.as_dict() for r in rows])
    for secret in secrets_of(sim):
        assert secret not in text, secret


def test_every_row_is_ok_on_the_drill_and_names_what_it_saw(sim) -> None:
    pd = pd_rows(sim)
    assert list(pd) == [
        "pagerduty token",
        f"pagerduty service {wiring.PD_SERVICE_ID}",
        "pagerduty escalation policy",
        ROUTING,
        "pagerduty from",
    ]
    assert all(r.status is Status.OK for r in pd.values()), pd
    assert pd["pagerduty token"].detail.startswith(f"${wiring.PD_TOKEN_ENV} accepted by https://127.0.0.1:")
    assert (
        pd[f"pagerduty service {wiring.PD_SERVICE_ID}"].detail
        == f"{wiring.PD_SERVICE_NAME} (active), escalation policy {wiring.PD_POLICY_NAME}"
    )
    assert pd["pagerduty escalation policy"].detail == f"{wiring.PD_ADMIN_POLICY_NAME} ({wiring.PD_ADMIN_POLICY_ID})"
    assert pd[ROUTING].detail.startswith(f"${wiring.PD_ROUTING_KEY_ENV} is set (not sent") and "pages someone" in pd[ROUTING].detail
    assert wiring.PD_USER_EMAIL in pd["pagerduty from"].detail
    g = grafana_rows_of(sim)
    assert list(g) == ["grafana token", *(f"grafana dashboard {uid}" for uid, _ in wiring.GRAFANA_DASHBOARDS)]
    assert all(r.status is Status.OK for r in g.values()), g
    assert f"organisation {wiring.GRAFANA_ORG_NAME}" in g["grafana token"].detail
    uid, title = wiring.GRAFANA_DASHBOARDS[0]
    assert g[f"grafana dashboard {uid}"].detail.startswith(f"{title} (/d/{uid}/")
    no_secret_in(sim, [*pd.values(), *g.values()])
    assert sim.pagerduty()["events"] == []  # the routing key was never sent


def test_unknown_service_policy_and_dashboard_are_fail_rows_naming_them(sim) -> None:
    pd = pd_rows(sim, service_ids=(wiring.PD_SERVICE_ID, "PNOSUCH1"), escalation_policy_id="PNOPOL01")
    assert pd["pagerduty token"].status is Status.OK and pd[f"pagerduty service {wiring.PD_SERVICE_ID}"].status is Status.OK
    missing = pd["pagerduty service PNOSUCH1"]
    assert missing.status is Status.FAIL and "'PNOSUCH1'" in missing.detail and "pagerduty.service_ids" in missing.hint
    policy = pd["pagerduty escalation policy"]
    assert policy.status is Status.FAIL and "'PNOPOL01'" in policy.detail and "pagerduty.escalation_policy_id" in policy.hint
    good = wiring.GRAFANA_DASHBOARDS[0][0]
    g = grafana_rows_of(sim, dashboard_uids=(good, "no-such-board"))
    assert g["grafana token"].status is Status.OK and g[f"grafana dashboard {good}"].status is Status.OK
    board = g["grafana dashboard no-such-board"]
    assert board.status is Status.FAIL and "'no-such-board'" in board.detail and "grafana.dashboard_uids" in board.hint


def test_a_revoked_pagerduty_token_fails_its_row_without_token_text(sim) -> None:
    sim.pagerduty("revoke_token")
    pd = pd_rows(sim)
    token = pd["pagerduty token"]
    assert token.status is Status.FAIL and token.detail.startswith("auth_expired:") and "401" in token.detail
    assert f"${wiring.PD_TOKEN_ENV}" in token.hint
    assert pd[f"pagerduty service {wiring.PD_SERVICE_ID}"].detail == "not checked: the token check failed"
    assert pd["pagerduty escalation policy"].status is Status.FAIL
    no_secret_in(sim, pd.values())
    unset = pd_rows(sim, env={})["pagerduty token"]  # no token at all: the variable is named
    assert unset.status is Status.FAIL and wiring.PD_TOKEN_ENV in unset.detail
    sim.pagerduty("restore")
    assert pd_rows(sim)["pagerduty token"].status is Status.OK


def test_a_revoked_grafana_token_fails_its_row_though_health_answers(sim) -> None:
    sim.grafana("revoke_token")
    g = grafana_rows_of(sim)
    token = g["grafana token"]
    assert token.status is Status.FAIL and token.detail.startswith("auth_expired:") and f"${wiring.GRAFANA_TOKEN_ENV}" in token.hint
    assert all(g[f"grafana dashboard {uid}"].detail == "not checked: the token check failed" for uid, _ in wiring.GRAFANA_DASHBOARDS)
    no_secret_in(sim, g.values())


def test_services_stopped_are_unreachable_rows_naming_the_host(sim) -> None:
    sim.stop_service("pagerduty")
    sim.stop_service("grafana")
    pd_host = sim.endpoints["pagerduty"].split("://", 1)[1]
    token = pd_rows(sim)["pagerduty token"]
    assert token.status is Status.FAIL and token.detail.startswith("unreachable:") and pd_host in token.detail, token
    g_host = sim.endpoints["grafana"].split("://", 1)[1]
    g = grafana_rows_of(sim)["grafana token"]
    assert g.status is Status.FAIL and g.detail.startswith("unreachable:") and g_host in g.detail, g


def test_the_routing_key_row_says_set_or_not_set_and_never_asks(sim) -> None:
    sim.stop_service("pagerduty")  # nothing about the key goes over the network
    env = {k: v for k, v in sim.env().items() if k != wiring.PD_ROUTING_KEY_ENV}
    unset = pd_rows(sim, env=env)[ROUTING]
    assert (
        unset.status is Status.FAIL
        and unset.detail == f"${wiring.PD_ROUTING_KEY_ENV} is not set"
        and wiring.PD_ROUTING_KEY_ENV in unset.hint
    )
    policy_only = pd_rows(sim, escalation_routing_key_env="")[ROUTING]
    assert policy_only.status is Status.OK and "reassigns to the policy" in policy_only.detail
    neither = pd_rows(sim, escalation_routing_key_env="", escalation_policy_id="")
    assert neither[ROUTING].status is Status.WARN and "pagerduty escalation policy" not in neither


def test_disabled_sections_add_no_rows_and_ask_nothing(sim) -> None:
    cfg = _cfg(sim)
    off = replace(cfg, pagerduty=replace(cfg.pagerduty, enabled=False), grafana=replace(cfg.grafana, enabled=False))
    assert asyncio.run(paging_rows(off, Sources(off))) == []
    assert sim.requests("pagerduty") == [] and sim.requests("grafana") == []


def test_check_end_to_end_fails_on_revoked_tokens_and_quotes_none(sim) -> None:
    sim.pagerduty("revoke_token")
    sim.grafana("revoke_token")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAY_COCKPIT_")}
    out = subprocess.run(
        [sys.executable, "-m", "clay_cockpit.cli", "check", "--config", str(sim.workdir / "cockpit.toml")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={**env, **sim.env()},
    )
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("pagerduty token"))
    assert "FAIL" in lines[row] and "auth_expired" in lines[row] and f"${wiring.PD_TOKEN_ENV}" in lines[row + 2], out.stdout
    assert any(line.startswith("grafana token") and "FAIL" in line for line in lines), out.stdout
    assert "pagerduty token" in lines[-1] and "grafana token" in lines[-1], lines[-1]
    for secret in secrets_of(sim):
        assert secret not in out.stdout + out.stderr
