"""The health source against the drill's health endpoint over real HTTP:
each scenario's health, a 503 with a report is a reading, failures map to
kinds, and a bearer token never shows up in what the source says.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from clay_cockpit.config import config_from_toml
from clay_cockpit.signals import ErrorKind, HealthSnapshot, SourceError
from clay_cockpit.sources.health import Health

TOKEN_ENV = "CLAY_COCKPIT_TEST_HEALTH_TOKEN"
TOKEN = "hx-test-token-7f3a9c2e51"


def source(sim, **changes) -> Health:
    return Health(replace(config_from_toml(sim.config_dict(), "drill.toml").health, **changes))


def fetch(health: Health):
    return asyncio.run(health.fetch())


# scenario → (status, healthy, HTTP status, clay_api check) once the fault runs
EXPECTED = {
    "healthy": ("ok", True, 200, "ok"),
    "clay-outage": ("down", False, 503, "fail"),
    "key-revoked": ("down", False, 503, "fail"),
    "rate-limited": ("degraded", False, 200, "degraded"),
}


@pytest.mark.parametrize("sim", sorted(EXPECTED), indirect=True)
def test_each_scenario(sim) -> None:
    status, healthy, http_status, clay = EXPECTED[sim.scenario.name]
    sim.advance(90)
    snap = fetch(source(sim))
    assert isinstance(snap, HealthSnapshot), snap
    assert (snap.status, snap.healthy, snap.http_status) == (status, healthy, http_status)
    checks = {c.name: c for c in snap.checks}
    assert set(checks) >= {"clay_api", "database", "queue", "fallback"}
    assert checks["clay_api"].status == clay and checks["clay_api"].ok is (clay == "ok")
    assert checks["clay_api"].detail.startswith("last 60s:")
    assert snap.version and snap.response_ms > 0


@pytest.mark.scenario("clay-outage")
def test_fallback_turns_down_into_degraded(sim) -> None:
    """A 503 with a body is a reading; after the fallback flag and a restart, 200 degraded."""
    sim.advance(90)
    down = fetch(source(sim))
    assert isinstance(down, HealthSnapshot) and down.http_status == 503 and not down.healthy
    from kubernetes import client, config

    api = config.new_client_from_config(config_file=str(sim.kubeconfig), context=sim.context, persist_config=False)
    try:
        core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
        core.patch_namespaced_config_map("clay-sync-flags", "clay-sync", {"data": {"CLAY_FALLBACK_ENABLED": "true"}}, _request_timeout=5)
        restarted = {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2026-01-01T00:01:30Z"}}}}}
        apps.patch_namespaced_deployment("clay-sync", "clay-sync", restarted, _request_timeout=5)
    finally:
        api.close()
    sim.advance(180)
    up = fetch(source(sim))
    assert isinstance(up, HealthSnapshot), up
    assert (up.status, up.http_status) == ("degraded", 200)
    assert {c.name: c.detail for c in up.checks}["fallback"] != "inactive"


def test_failures_map_to_kinds(shared_sim, monkeypatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    health = source(shared_sim, token_env=TOKEN_ENV, timeout=2.0)  # a loaded CI machine can be slow to answer
    assert isinstance(fetch(health), HealthSnapshot)
    sent = [r for r in shared_sim.requests("health")][-1]
    assert sent["path"] == "/health"
    cases = [
        ({"status": 401}, ErrorKind.AUTH_EXPIRED, f"${TOKEN_ENV}"),
        ({"status": 403}, ErrorKind.FORBIDDEN, f"${TOKEN_ENV}"),
        ({"status": 429}, ErrorKind.RATE_LIMITED, "throttling"),
        ({"status": 500}, ErrorKind.SERVER_ERROR, "pods"),
        ({"malformed": True}, ErrorKind.BAD_RESPONSE, "health.url"),
        ({"delay": 4.0}, ErrorKind.TIMEOUT, "did not answer in time"),
    ]
    for fault, kind, in_hint in cases:
        shared_sim.fault("health", **fault)
        try:
            err = fetch(health)
        finally:
            shared_sim.clear_fault("health")
        assert isinstance(err, SourceError), (fault, err)
        assert err.kind is kind, (fault, err.line())
        assert in_hint in err.hint, (fault, err.hint)
        assert TOKEN not in err.message + err.hint + repr(err) + repr(health)
    shared_sim.stop_service("health")
    try:
        err = fetch(health)
    finally:
        shared_sim.start_service("health")
    assert isinstance(err, SourceError) and err.kind is ErrorKind.UNREACHABLE
    assert "connection refused" in err.message and "pods" in err.hint
    assert isinstance(fetch(health), HealthSnapshot)


def test_503_without_a_report_is_a_server_error(shared_sim) -> None:
    health = source(shared_sim)
    shared_sim.fault("health", status=503, times=1)
    err = fetch(health)
    assert isinstance(err, SourceError) and err.kind is ErrorKind.SERVER_ERROR and err.status_code == 503
    assert isinstance(fetch(health), HealthSnapshot)  # times=1: the next answer is normal
