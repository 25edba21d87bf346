"""clay_cockpit.sources.pagerduty against the drill's PagerDuty over HTTPS, with the real client (issue 16)."""

from __future__ import annotations

import time

import pytest

from clay_cockpit.config import config_from_toml
from clay_cockpit.signals import ErrorKind, PagerDutySnapshot, SourceError
from clay_cockpit.sim import wiring
from clay_cockpit.sources import Sources
from clay_cockpit.sources.pagerduty import PagerDuty


def _source(sim, **over) -> PagerDuty:
    cfg = config_from_toml(sim.config_dict(), "drill.toml")
    source = Sources(cfg).pagerduty
    assert isinstance(source, PagerDuty)
    if over:
        from dataclasses import replace

        source = PagerDuty(replace(cfg.pagerduty, **over), environ=sim.env())
    else:
        source._environ = sim.env()
    return source


@pytest.mark.scenario("secret-denied")
def test_fetch_ack_note_escalate_reassign_resolve_and_timeline(sim) -> None:
    sim.advance(25)
    pd = _source(sim)
    snap = pd.fetch()
    assert isinstance(snap, PagerDutySnapshot), snap
    (page,) = snap.incidents
    assert page.status == "triggered" and page.urgency == "high" and page.service == wiring.PD_SERVICE_NAME
    assert page.assignees == (wiring.PD_USER_NAME,) and page.title.startswith("[FIRING] clay-sync:")
    acked = pd.acknowledge(page.id)
    assert not isinstance(acked, SourceError) and acked.status == "acknowledged" and acked.acknowledged_at is not None
    lowered = pd.set_urgency(page.id, "low")  # the severity mapping (a P3 incident's page: low)
    assert not isinstance(lowered, SourceError) and lowered.urgency == "low"
    assert isinstance(bad := pd.set_urgency(page.id, "urgent"), SourceError) and bad.kind is ErrorKind.BAD_RESPONSE, bad
    note = pd.add_note(page.id, "declared P1")
    assert isinstance(note, str) and note
    key = pd.escalate(dedup_key="clay-cockpit-INC-1", summary="Secret update refused (403)", details={"plan": "rotate the key"})
    assert key == "clay-cockpit-INC-1"
    snap2 = pd.fetch()
    assert isinstance(snap2, PagerDutySnapshot)
    assert {i.service for i in snap2.incidents} >= {wiring.PD_SERVICE_NAME}  # the admins' service is not in service_ids
    moved = pd.reassign(page.id, wiring.PD_ADMIN_POLICY_ID)
    assert not isinstance(moved, SourceError) and moved.escalation_policy == wiring.PD_ADMIN_POLICY_NAME
    sim.advance(30)
    done = pd.resolve(page.id)
    assert not isinstance(done, SourceError) and done.status == "resolved"
    timeline = pd.page_timeline(page.id)
    assert not isinstance(timeline, SourceError)
    assert timeline.triggered_at and timeline.acknowledged_at and timeline.resolved_at and timeline.notes == 1
    assert timeline.triggered_at < timeline.acknowledged_at < timeline.resolved_at
    events = sim.pagerduty()["events"]
    assert events[0]["payload"]["custom_details"] == {"plan": "rotate the key"}


def test_revoked_token_is_auth_with_hint_and_no_token_text(sim) -> None:
    pd = _source(sim)
    sim.pagerduty("revoke_token")
    err = pd.fetch()
    assert isinstance(err, SourceError) and err.kind is ErrorKind.AUTH_EXPIRED and err.status_code == 401
    token = sim.tokens.pagerduty
    assert token not in err.message + err.hint and token[-4:] not in err.message
    assert "token" in err.hint


def test_down_is_unreachable_and_slow_is_a_bounded_timeout(sim) -> None:
    pd = _source(sim, timeout=0.5)
    sim.stop_service("pagerduty")
    err = pd.fetch()
    assert isinstance(err, SourceError) and err.kind is ErrorKind.UNREACHABLE
    sim.start_service("pagerduty")
    sim.pagerduty("slow", seconds=3)
    started = time.monotonic()
    err = pd.acknowledge("Q0001")
    assert isinstance(err, SourceError) and err.kind is ErrorKind.TIMEOUT
    assert time.monotonic() - started < 1.5


def test_no_token_and_a_bad_routing_key_are_named(sim) -> None:
    cfg = config_from_toml(sim.config_dict(), "drill.toml")
    err = PagerDuty(cfg.pagerduty, environ={}).fetch()
    assert isinstance(err, SourceError) and err.kind is ErrorKind.AUTH_EXPIRED and wiring.PD_TOKEN_ENV in err.message
    env = {**sim.env(), wiring.PD_ROUTING_KEY_ENV: "0" * 32}
    err = PagerDuty(cfg.pagerduty, environ=env).escalate(dedup_key="k", summary="s", details={})
    assert isinstance(err, SourceError) and err.kind is ErrorKind.CONFIG and "0" * 32 not in err.message


def test_disabled_is_none_and_builds_nothing() -> None:
    import tomllib

    from clay_cockpit.config import default_toml_text

    cfg = config_from_toml(tomllib.loads(default_toml_text()), "default.toml")
    sources = Sources(cfg)
    assert sources.pagerduty is None and "pagerduty" not in sources._built


def test_fetch_with_incident_keys_returns_the_escalated_incident(sim) -> None:
    """The escalation event lands on the admins' service, which is not in
    service_ids: fetch sees it only through the dedup key the cockpit passes."""
    pd = _source(sim)
    key = "clay-cockpit/INC-20260101-1"  # the cockpit's key: the slash travels in the query string
    assert pd.escalate(dedup_key=key, summary="Secret update refused (403)", details={}) == key
    pd.escalate(dedup_key="someone-else/INC-9", summary="not ours", details={})
    plain = pd.fetch()
    assert isinstance(plain, PagerDutySnapshot) and plain.incidents == ()  # healthy: no page of our own
    before = len(sim.requests("pagerduty"))
    snap = pd.fetch(incident_keys=(key, key, "clay-cockpit/INC-unknown"))
    assert isinstance(snap, PagerDutySnapshot), snap
    (escalated,) = snap.incidents
    assert escalated.incident_key == key and escalated.service == wiring.PD_ADMIN_SERVICE_NAME
    assert escalated.status == "triggered" and escalated.assignees == (wiring.PD_ADMIN_NAME,)
    asked = [r["query"] for r in sim.requests("pagerduty")[before:]]
    assert len(asked) == 3 and all("incident_key" not in q for q in asked[:1]), asked  # the services' list, then one per distinct key
    assert not isinstance(pd.resolve(escalated.id), SourceError)
    after = pd.fetch(incident_keys=(key,))
    assert isinstance(after, PagerDutySnapshot) and after.incidents == ()  # open incidents only, as for the services
