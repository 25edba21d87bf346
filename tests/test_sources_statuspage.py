"""The status page source against the drill, over real HTTP with httpx:
every scenario's status page state comes through, in Statuspage v2 and in
Rootly format; every failure becomes the right SourceError kind with a hint.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import pytest

from clay_cockpit.config import config_from_toml
from clay_cockpit.signals import ComponentStatus, ErrorKind, SourceError, StatusPageSnapshot
from clay_cockpit.sources.statuspage import StatusPage


def config(sim, **changes):
    return replace(config_from_toml(sim.config_dict(), "drill.toml").statuspage, **changes)


def fetch(source: StatusPage):
    return asyncio.run(source.fetch())


# --------------------------------------------------------------------------
# Each scenario's status page, in both formats

# scenario → (indicator on Statuspage, incident name or None, its impact, component "API" status)
EXPECTED = {
    "healthy": ("none", None, None, ComponentStatus.OPERATIONAL),
    "clay-outage": ("critical", "Clay API unavailable", "critical", ComponentStatus.MAJOR_OUTAGE),
    "degraded-latency": ("minor", "Elevated API latency", "minor", ComponentStatus.DEGRADED),
    "rate-limited": ("none", None, None, ComponentStatus.OPERATIONAL),
    "key-revoked": ("none", None, None, ComponentStatus.OPERATIONAL),
    "infra-crashloop": ("none", None, None, ComponentStatus.OPERATIONAL),
}


@pytest.mark.parametrize("sim", sorted(EXPECTED), indirect=True)
def test_each_scenario_through_statuspage_and_rootly(sim) -> None:
    indicator, incident, impact, api_status = EXPECTED[sim.scenario.name]
    before = fetch(StatusPage(config(sim)))
    assert isinstance(before, StatusPageSnapshot), before
    assert before.indicator == "none" and before.incidents == ()  # every fault starts 20 s in
    sim.advance(60)

    statuspage = StatusPage(config(sim))
    snap = fetch(statuspage)
    assert isinstance(snap, StatusPageSnapshot), snap
    assert statuspage.detected == "statuspage"
    assert (snap.provider, snap.page_name, snap.indicator) == ("statuspage", "Clay", indicator)
    by_name = {c.name: c for c in snap.components}
    assert by_name["API"].status is api_status
    assert by_name["People enrichment"].group == "Enrichment"  # group container skipped, its name attached
    assert "Enrichment" not in by_name
    assert snap.response_ms > 0 and abs(snap.fetched_at - time.time()) < 60

    rootly = StatusPage(config(sim, url=sim.endpoints["rootly"]))
    rsnap = fetch(rootly)
    assert isinstance(rsnap, StatusPageSnapshot), rsnap
    assert rootly.detected == "rootly" and rsnap.provider == "rootly"
    assert {c.name: c.status for c in rsnap.components} == {c.name: c.status for c in snap.components}

    if incident is None:
        assert snap.incidents == () and rsnap.incidents == ()
        return
    for got in (snap, rsnap):
        (inc,) = got.incidents
        assert (inc.name, inc.impact, inc.status) == (incident, impact, "investigating")
        assert inc.latest_update.startswith("We are investigating")
        assert inc.latest_update_at is not None and inc.started_at is not None
        assert inc.latest_update_at >= inc.started_at
        assert "API" in inc.components
    assert rsnap.indicator in ("minor", "major")  # Rootly has no "critical"


@pytest.mark.scenario("clay-outage")
def test_latest_update_follows_the_incident(sim) -> None:
    source = StatusPage(config(sim))
    sim.advance(60)
    first = fetch(source)
    sim.advance(400)  # the incident is "identified" 300 s after it was posted
    later = fetch(source)
    assert isinstance(first, StatusPageSnapshot) and isinstance(later, StatusPageSnapshot)
    assert later.incidents[0].status == "identified"
    assert later.incidents[0].latest_update.startswith("We have identified")
    assert later.incidents[0].latest_update_at > first.incidents[0].latest_update_at  # type: ignore[operator]
    sim.advance(2000)  # fault ends at 1500 s, monitoring, then resolved 300 s later
    done = fetch(source)
    assert isinstance(done, StatusPageSnapshot) and done.incidents == () and done.indicator == "none"


# --------------------------------------------------------------------------
# Detection and forcing


def test_auto_detection_is_remembered_and_forcing_works(shared_sim) -> None:
    source = StatusPage(config(shared_sim, url=shared_sim.endpoints["rootly"]))
    assert source.detected is None
    assert isinstance(fetch(source), StatusPageSnapshot) and source.detected == "rootly"
    seen = len(shared_sim.requests("rootly"))
    assert isinstance(fetch(source), StatusPageSnapshot)
    paths = [r["path"] for r in shared_sim.requests("rootly")[seen:]]
    assert "/api/v2/summary.json" not in paths and "/api/v1/status.json" in paths

    forced = StatusPage(config(shared_sim, provider="rootly"))  # a Statuspage page forced to Rootly
    err = fetch(forced)
    assert isinstance(err, SourceError) and err.kind is ErrorKind.BAD_RESPONSE
    assert "is not a Rootly status page API (404 Not Found)" in err.message and "provider" in err.hint

    nowhere = StatusPage(config(shared_sim, url=shared_sim.endpoints["health"]))
    err = fetch(nowhere)
    assert isinstance(err, SourceError) and err.kind is ErrorKind.BAD_RESPONSE
    assert "neither a Statuspage v2 API" in err.message


def test_constructing_does_no_io(shared_sim) -> None:
    seen = len(shared_sim.requests("statuspage"))
    StatusPage(config(shared_sim))
    assert len(shared_sim.requests("statuspage")) == seen


# --------------------------------------------------------------------------
# Failures


def test_unreachable_names_the_alternative(sim) -> None:
    source = StatusPage(config(sim))
    assert isinstance(fetch(source), StatusPageSnapshot)
    sim.stop_service("statuspage")
    err = fetch(source)
    assert isinstance(err, SourceError), err
    assert err.kind is ErrorKind.UNREACHABLE and err.source == "statuspage"
    assert "connection refused" in err.message
    # the runbook's words, and the alternative_url of the drill config
    assert err.hint == f"use mobile data or the VPN, or check {sim.endpoints['rootly']}"
    bare = StatusPage(config(sim, alternative_url=""))
    hint = fetch(bare).hint  # type: ignore[union-attr]
    assert "use mobile data or the VPN" in hint and "statuspage.alternative_url" in hint
    sim.start_service("statuspage")
    assert isinstance(fetch(source), StatusPageSnapshot)


@pytest.mark.parametrize(
    "fault, kind",
    [
        ({"status": 401}, ErrorKind.AUTH_EXPIRED),
        ({"status": 403}, ErrorKind.FORBIDDEN),
        ({"status": 429}, ErrorKind.RATE_LIMITED),
        ({"status": 500}, ErrorKind.SERVER_ERROR),
        ({"status": 503}, ErrorKind.SERVER_ERROR),
        ({"malformed": True}, ErrorKind.BAD_RESPONSE),
        ({"delay": 4.0}, ErrorKind.TIMEOUT),
    ],
    ids=lambda v: str(v),
)
def test_faults_map_to_kinds(shared_sim, fault: dict, kind: ErrorKind) -> None:
    # 2 s: a loaded CI machine (two xdist workers, drills) can take over 0.5 s to answer
    source = StatusPage(config(shared_sim, timeout=2.0))
    assert isinstance(fetch(source), StatusPageSnapshot)  # detected
    shared_sim.fault("statuspage", **fault)
    try:
        err = fetch(source)
    finally:
        shared_sim.clear_fault("statuspage")
    assert isinstance(err, SourceError), err
    assert err.kind is kind, err.line()
    assert err.hint and "\n" not in err.message and "\n" not in err.hint
    if "status" in fault:
        assert err.status_code == fault["status"]
    if kind is ErrorKind.TIMEOUT:
        assert "within 2s" in err.message and shared_sim.endpoints["rootly"] in err.hint
    assert isinstance(fetch(source), StatusPageSnapshot), "recovers once the fault is cleared"
