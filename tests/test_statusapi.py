"""The status page management API adapter against the drill's ``statusapi``
service over real HTTP with httpx: create, update, resolve, component
statuses — and each failure named, with the key never in a message.

One drill per module; each test leaves it with no fault and the service up.
"""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from clay_cockpit.config import config_from_toml
from clay_cockpit.signals import ErrorKind, SourceError
from clay_cockpit.sources.statusapi import PageComponent, PageIncident, StatusApi

FROZEN_AT = 1_767_225_600.0
KEY_ENV = "CLAY_DRILL_STATUSPAGE_KEY"


@pytest.fixture(scope="module")
def drill(tmp_path_factory):
    from clay_cockpit.sim.background import start_background

    handle = start_background("healthy", seed=7, freeze_at=FROZEN_AT, workdir=tmp_path_factory.mktemp("statusapi-drill"))
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def sim(drill):
    yield drill
    drill.clear_fault("statusapi")
    drill.start_service("statusapi")


def make(sim, sleeps: list[float] | None = None, environ: dict | None = None, **changes) -> StatusApi:
    cfg = replace(config_from_toml(sim.config_dict(), "drill.toml").external_status, **changes)
    sleep = sleeps.append if sleeps is not None else time.sleep
    return StatusApi(cfg, environ=sim.env() if environ is None else environ, sleep=sleep)


def no_secret(err: SourceError, *secrets: str) -> None:
    for s in secrets:
        assert s not in err.message and s not in err.hint and s not in repr(err)


def test_create_update_resolve_with_components(sim) -> None:
    api = make(sim)
    comps = api.components()
    assert isinstance(comps, tuple) and comps[0] == PageComponent("drillcomp01", "Contact enrichment", "operational")

    inc = api.create_incident(
        name="Degraded performance", status="investigating", body="We are investigating.", components={"drillcomp01": "partial_outage"}
    )
    assert isinstance(inc, PageIncident), inc
    assert (inc.status, inc.updates, inc.latest_body) == ("investigating", 1, "We are investigating.")
    assert inc.components[0].status == "partial_outage" and inc.shortlink.startswith("https://")

    upd = api.update_incident(inc.id, status="identified", body="We found the cause.")
    assert isinstance(upd, PageIncident) and (upd.id, upd.status, upd.updates) == (inc.id, "identified", 2)

    done = api.update_incident(inc.id, status="resolved", body="Fixed.", components={"drillcomp01": "operational"})
    assert isinstance(done, PageIncident) and done.status == "resolved" and done.components[0].status == "operational"

    again = api.get_incident(inc.id)
    assert isinstance(again, PageIncident) and again.updates == 3 and again.latest_body == "Fixed."
    posts = [r for r in sim.requests("statusapi") if r["mutating"]]
    assert [r["method"] for r in posts[-3:]] == ["POST", "PATCH", "PATCH"]


def test_component_status_directly(sim) -> None:
    api = make(sim)
    got = api.set_component("drillcomp01", "degraded_performance")
    assert got == PageComponent("drillcomp01", "Contact enrichment", "degraded_performance")
    assert api.set_component("drillcomp01", "operational").status == "operational"


def test_invalid_values_are_refused_before_sending(sim) -> None:
    before = len(sim.requests("statusapi"))
    err = make(sim).create_incident(name="x", status="on fire", body="y")
    assert isinstance(err, SourceError) and "not one of investigating" in err.message
    err = make(sim).set_component("drillcomp01", "meh")
    assert isinstance(err, SourceError) and "not one of operational" in err.message
    assert len(sim.requests("statusapi")) == before


def test_unknown_component_and_incident(sim) -> None:
    err = make(sim).create_incident(name="x", status="investigating", body="y", components={"nope": "major_outage"})
    assert isinstance(err, SourceError) and err.kind is ErrorKind.BAD_RESPONSE and err.status_code == 422
    assert "Component nope not found" in err.message
    err = make(sim).update_incident("doesnotexist", status="resolved", body="z")
    assert isinstance(err, SourceError) and err.status_code == 404 and "could not find" in err.message


@pytest.mark.parametrize(
    ("setup", "kind", "words"),
    [
        ("no_key", ErrorKind.AUTH_EXPIRED, "$CLAY_DRILL_STATUSPAGE_KEY is not set"),
        ("wrong_key", ErrorKind.AUTH_EXPIRED, "401"),
        ("no_page", ErrorKind.BAD_RESPONSE, "external_status.page_id is empty"),
        ("other_page", ErrorKind.BAD_RESPONSE, "could not find"),
    ],
)
def test_configuration_failures(sim, setup: str, kind: ErrorKind, words: str) -> None:
    wrong = "sp-wrong-key-" + "8" * 20
    api = {
        "no_key": lambda: make(sim, environ={}),
        "wrong_key": lambda: make(sim, environ={KEY_ENV: wrong}),
        "no_page": lambda: make(sim, page_id=""),
        "other_page": lambda: make(sim, page_id="someoneelse"),
    }[setup]()
    err = api.create_incident(name="x", status="investigating", body="y")
    assert isinstance(err, SourceError), err
    assert err.kind is kind and words in err.message and err.hint
    no_secret(err, wrong, sim.env()[KEY_ENV])


def test_429_retried_then_named(sim) -> None:
    sleeps: list[float] = []
    sim.fault("statusapi", status=429, times=1)
    assert isinstance(make(sim, sleeps).components(), tuple)
    assert len(sleeps) == 1 and 5.0 <= sleeps[0] <= 5.5
    sleeps.clear()
    sim.fault("statusapi", status=429, times=10)
    err = make(sim, sleeps).create_incident(name="x", status="investigating", body="y")
    assert isinstance(err, SourceError) and err.kind is ErrorKind.RATE_LIMITED and err.retry_after == 5.0
    assert len(sleeps) == 2 and "retry in 5s" in err.hint


def test_network_down_and_timeout(sim) -> None:
    sleeps: list[float] = []
    sim.stop_service("statusapi")
    err = make(sim, sleeps).create_incident(name="x", status="investigating", body="y")
    assert isinstance(err, SourceError) and err.kind is ErrorKind.UNREACHABLE and "connection refused" in err.message
    assert sleeps == [0.5, 1.0]
    sim.start_service("statusapi")
    sim.fault("statusapi", delay=2.0, times=1)
    api = StatusApi(make(sim).config, environ=sim.env(), timeout=0.5, sleep=sleeps.append)
    err = api.create_incident(name="x", status="investigating", body="y")
    assert isinstance(err, SourceError) and err.kind is ErrorKind.TIMEOUT and "may have been created anyway" in err.hint
    assert err.maybe_sent  # the request left: "may have been created", never "not sent"


def test_server_error_and_malformed(sim) -> None:
    sim.fault("statusapi", status=503, times=1)
    err = make(sim).components()
    assert isinstance(err, SourceError) and err.kind is ErrorKind.SERVER_ERROR and err.status_code == 503
    sim.fault("statusapi", malformed=True, times=1)
    err = make(sim).components()
    assert isinstance(err, SourceError) and err.kind is ErrorKind.BAD_RESPONSE and "not JSON" in err.message
