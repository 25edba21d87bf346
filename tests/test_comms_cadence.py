"""The stakeholder-update cadence with a fake clock: for each severity the
reminder is due exactly one interval after the last update (comms
pN_update_minutes), fires once, turns overdue after the grace; changes,
promises and resolution move it. No network: sends are recorded events.
"""

from __future__ import annotations

import pytest

from clay_cockpit.comms.core import (
    Channel,
    Comms,
    DueState,
    Reminder,
    next_update_due,
    update_interval,
)
from clay_cockpit.comms.state import CommsLog
from clay_cockpit.config import CommsConfig, config_from_toml
from clay_cockpit.incident.lifecycle import ClockLevel, IncidentStore, format_duration
from clay_cockpit.incident.timeline import EventKind, read
from clay_cockpit.runbook import Severity
from clay_cockpit.sim import wiring

T0 = 1_767_225_600.0
MINUTES = {"P1": 15, "P2": 30, "P3": 60, "P4": 240}


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path, clock):
    s = IncidentStore(tmp_path, actor="ana@bastion-1", clock=clock)
    yield s
    s.close()


def sent(store: IncidentStore, channel: str = "internal", **extra) -> None:
    """What Comms records when an update went out."""
    role = "update" if channel == "internal" else "page_update"
    store.record(EventKind.MESSAGE_SENT, "sent", {"channel": channel, "role": role, "draft_id": "d-x", "text": "t", **extra})


def config(**comms):
    cfg = config_from_toml(wiring.drill_config({name: "http://127.0.0.1:1" for name in wiring.SERVICES}, "kubeconfig"), "drill.toml")
    from dataclasses import replace

    return replace(cfg, comms=CommsConfig(**comms)) if comms else cfg


@pytest.mark.parametrize("sev", ["P1", "P2", "P3", "P4"])
def test_due_one_interval_after_the_last_update(store, clock, sev: str) -> None:
    store.declare(Severity(sev))
    store.set_severity(Severity(sev))
    interval = MINUTES[sev] * 60
    assert update_interval(sev) == interval
    clock.now += 60
    sent(store)
    last = clock.now
    reminder = Reminder()

    def at(t: float):
        clock.now = t
        cad = next_update_due(store.incident, store.events(), t)
        return cad, reminder.poll(cad)

    cad, fired = at(last + interval - 301)
    assert (cad.state, fired) == (DueState.WAITING, False) and cad.due_at == last + interval
    assert cad.text() == f"update in {format_duration(301)}" == "update in 5:01"
    cad, fired = at(last + interval - 1)
    assert (cad.state, fired) == (DueState.SOON, False) and cad.level is ClockLevel.WARNING
    cad, fired = at(last + interval)
    assert (cad.state, fired) == (DueState.DUE, True) and cad.text() == "update due"
    cad, fired = at(last + interval + 30)
    assert (cad.state, fired) == (DueState.DUE, False)  # fires once
    grace = min(interval / 5, 300)
    cad, fired = at(last + interval + grace)
    assert (cad.state, fired) == (DueState.OVERDUE, False) and cad.level is ClockLevel.ERROR
    assert cad.text().startswith("update overdue")

    sent(store)  # the responder sends: the next one is an interval later, and fires again then
    cad, fired = at(clock.now + interval)
    assert (cad.state, fired) == (DueState.DUE, True)


def test_the_configured_minutes_are_used(store, clock) -> None:
    store.declare(Severity.P2)
    sent(store)
    comms = CommsConfig(p2_update_minutes=5.0)
    cad = next_update_due(store.incident, store.events(), T0 + 299, comms=comms)
    assert cad.state is DueState.SOON and cad.interval == 300
    assert next_update_due(store.incident, store.events(), T0 + 300, comms=comms).state is DueState.DUE


def test_the_first_update_is_due_at_declaration(store, clock) -> None:
    store.declare(Severity.P1)
    cad = next_update_due(store.incident, store.events(), T0)
    assert cad.state is DueState.DUE and cad.due_at == T0 and cad.reason == "no update sent yet"
    assert next_update_due(store.incident, store.events(), T0 + 180).state is DueState.OVERDUE  # P1 grace: 3 min


def test_the_severity_in_force_sets_the_interval(store, clock) -> None:
    store.declare(Severity.P3)
    sent(store)
    assert next_update_due(store.incident, store.events(), T0).due_at == T0 + 3600
    clock.now = T0 + 600
    store.set_severity(Severity.P1)  # escalated: due at once (a change since the last update)
    cad = next_update_due(store.incident, store.events(), clock.now)
    assert cad.due_at == T0 + 600 and cad.state is DueState.DUE and "changed since the last update" in cad.reason
    sent(store)
    assert next_update_due(store.incident, store.events(), clock.now).due_at == clock.now + 900


def test_an_earlier_promise_wins(store, clock) -> None:
    store.declare(Severity.P2)
    sent(store, next_update_at=T0 + 600)  # "next update by 00:10"
    cad = next_update_due(store.incident, store.events(), T0 + 1)
    assert cad.due_at == T0 + 600 and cad.reason == "the time the last update promised"


def test_resolved_wants_a_final_update_then_stops(store, clock) -> None:
    store.declare(Severity.P1)
    sent(store)
    clock.now = T0 + 120
    store.set_status("resolved")
    cad = next_update_due(store.incident, store.events(), clock.now)
    assert cad.state is DueState.DUE and cad.due_at == T0 + 120 and "final" in cad.reason
    clock.now += 60
    sent(store)
    cad = next_update_due(store.incident, store.events(), clock.now + 10_000)
    assert cad.state is DueState.DONE and cad.due_at is None and cad.text() == "final update sent"


def test_channels_are_separate(store, clock) -> None:
    store.declare(Severity.P1)
    sent(store, "internal")
    assert next_update_due(store.incident, store.events(), T0, channel=Channel.INTERNAL).state is DueState.WAITING
    assert next_update_due(store.incident, store.events(), T0, channel=Channel.EXTERNAL).state is DueState.DUE


def test_the_log_of_a_restarted_cockpit_gives_the_same_cadence(store, clock, tmp_path) -> None:
    store.declare(Severity.P2)
    clock.now += 100
    sent(store)
    for i in range(30):  # more events than the restarted store keeps in memory
        store.note(f"note {i}")
    path = store.timeline.path
    store.close()
    again = IncidentStore(tmp_path, actor="bo@bastion-2", clock=clock, keep=20)
    again.resume()
    try:
        assert again.events()[0].seq > 3  # the send is no longer in memory
        log = CommsLog().sync(again)
        assert log.last_sent[Channel.INTERNAL].at == T0 + 100
        cad = next_update_due(again.incident, log, T0 + 100 + 1800)
        assert cad.state is DueState.DUE
        assert cad == next_update_due(again.incident, read(path).events, T0 + 100 + 1800)
    finally:
        again.close()


def test_comms_due_fires_each_channel_once(store, clock) -> None:
    store.declare(Severity.P1)
    comms = Comms(config(p1_update_minutes=10.0), store, clock=clock)
    reminder = Reminder()
    assert {c.channel for c in comms.due(reminder)} == {Channel.INTERNAL, Channel.EXTERNAL}
    assert comms.due(reminder) == []
    sent(store, "internal")
    sent(store, "external")
    clock.now += 599
    assert comms.due(reminder) == []
    clock.now += 1
    assert [c.channel for c in comms.due(reminder)] == [Channel.INTERNAL, Channel.EXTERNAL]
    assert comms.cadence().text() == "update due"
