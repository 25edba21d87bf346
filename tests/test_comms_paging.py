"""comms/paging.py: what the timeline says about the page, and the outbox.

Pure: a real IncidentStore writes the timeline, ``read`` folds it back.
The network half (``send`` through the real clients) is covered against
the drill by tests/test_app_paging.py."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime

from clay_cockpit.comms import paging
from clay_cockpit.config import Config, config_from_toml, default_toml_text
from clay_cockpit.incident.lifecycle import IncidentStore
from clay_cockpit.incident.timeline import EventKind
from clay_cockpit.runbook import Severity
from clay_cockpit.signals import PagerDutyIncident, PagerDutySnapshot

T0 = 1_800_000_000.0


def config(*, pagerduty: bool = True, grafana: bool = True, notes: list[str] | None = None) -> Config:
    data = tomllib.loads(default_toml_text())
    data["pagerduty"] |= {"enabled": pagerduty, "from_email": "a@example.com", "service_ids": ["PSVC"]}
    if notes is not None:
        data["pagerduty"]["notes"] = notes
    data["grafana"] |= {"enabled": grafana, "dashboard_uids": ["one"]}
    return config_from_toml(data, "x.toml")


def page(status: str = "triggered", *, created: float = T0 - 120, key: str | None = None, acked: float | None = None) -> PagerDutyIncident:
    return PagerDutyIncident(
        id="PINC1",
        number=7,
        title="Clay 401s",
        status=status,
        urgency="high",
        service="clay-sync",
        assignees=("Ana",),
        created_at=datetime.fromtimestamp(created, UTC),
        html_url="https://pd.example/incidents/PINC1",
        acknowledged_at=datetime.fromtimestamp(acked, UTC) if acked else None,
        incident_key=key,
    )


def store(tmp_path, now: list[float]) -> IncidentStore:
    return IncidentStore(tmp_path, clock=lambda: now[0])


def test_milestones_wait_for_a_linked_page_and_are_sent_once(tmp_path) -> None:
    now = [T0]
    s = store(tmp_path, now)
    s.declare(Severity.P2)
    cfg = config()
    state = paging.read(s.events(), cfg)
    # the declaration waits for both channels; PagerDuty's note has no page to go to yet
    assert {(p.channel, p.milestone) for p in state.pending} == {("pagerduty", "declared"), ("grafana", "declared")}
    assert paging.send(state.waiting("pagerduty")[0], state, pagerduty=object(), grafana=None) is None
    s.record(EventKind.PAGE_LINKED, *paging.link_event(page()))
    state = paging.read(s.events(), cfg)
    assert state.linked and state.label() == "#7" and state.triggered_at == T0 - 120
    for p in state.pending:
        s.record(EventKind.MILESTONE_SENT, *paging.sent_event(p, ["n1"]))
    state = paging.read(s.events(), cfg)
    assert state.pending == () and state.sent == {"pagerduty": 1, "grafana": 1}
    # a raise is a milestone for both; accepting the severity in force only for PagerDuty; the first branch none
    s.suggest(Severity.P1)
    s.accept_severity()
    state = paging.read(s.events(), cfg)
    assert sorted((p.channel, p.milestone) for p in state.pending) == [
        ("grafana", "severity"),
        ("pagerduty", "severity"),
        ("pagerduty", "severity"),
    ]


def test_the_config_chooses_the_channels_and_the_notes(tmp_path) -> None:
    now = [T0]
    s = store(tmp_path, now)
    s.declare(Severity.P2)
    s.record(EventKind.MESSAGE_SENT, "Thread summary", {"role": "summary"})  # the thread's summary: no update
    s.record(EventKind.MESSAGE_SENT, "Update posted", {"role": "update"})
    s.set_status("resolved")
    got = paging.read(s.events(), config(grafana=False, notes=["update", "resolved"]))
    assert [(p.channel, p.milestone) for p in got.pending] == [("pagerduty", "update"), ("pagerduty", "resolved")]
    assert paging.read(s.events(), config(pagerduty=False, grafana=False)).pending == ()


def test_what_the_poll_saw_an_acknowledgement_on_the_phone_is_recorded_once(tmp_path) -> None:
    now = [T0]
    s = store(tmp_path, now)
    s.declare(Severity.P1)
    s.record(EventKind.PAGE_LINKED, *paging.link_event(page()))
    state = paging.read(s.events(), config())
    snap = PagerDutySnapshot((page("acknowledged", acked=T0 - 30),), T0, 12.0)
    [(kind, summary, data)] = paging.seen_changes(state, snap, T0)
    assert kind == EventKind.PAGE_ACKNOWLEDGED and data["by"] == "pagerduty" and data["acknowledged_at"] == T0 - 30
    assert "acknowledged on PagerDuty by Ana" in summary
    s.record(kind, summary, data)
    state = paging.read(s.events(), config())
    assert state.acknowledged_at == T0 - 30 and paging.seen_changes(state, snap, T0) == []


def test_a_declaration_takes_a_recent_page_s_start_never_a_future_or_old_one() -> None:
    assert paging.start_of(page(created=T0 - 300), T0) == T0 - 300
    assert paging.start_of(page(created=T0 + 60), T0) is None
    assert paging.start_of(page(created=T0 - 7 * 3600), T0) is None
    # the escalations the cockpit raised are not pages to link
    snap = PagerDutySnapshot((page(key="clay-cockpit/INC-1"),), T0, 1.0)
    assert paging.to_link(snap) is None and paging.ours(snap) == ()


def test_the_escalation_carries_the_refusal_and_its_plan(tmp_path) -> None:
    now = [T0]
    s = store(tmp_path, now)
    inc = s.declare(Severity.P1)
    s.record(
        EventKind.ACTION_FAILED,
        "Update the Clay API key: stopped before confirmation — permission denied",
        {"title": "Update the Clay API key", "blocked": {"kind": "forbidden", "message": "permission denied (patch secrets/clay-api)"}},
    )
    state = paging.read(s.events(), config())
    assert state.denied == ("permission denied (patch secrets/clay-api)", "Update the Clay API key")
    key, summary, details = paging.escalation_payload(state, *state.denied, config(), T0)
    assert key == f"clay-cockpit/{inc.id}" and summary.startswith(f"clay-cockpit {inc.id}: permission denied")
    assert details["failed plan"] == "Update the Clay API key" and details["severity"] == "P1"
    s.record(EventKind.PAGE_ESCALATED, *paging.escalated_event("events", "ROUTING_KEY_ENV", key, *state.denied))
    assert [e.dedup_key for e in paging.read(s.events(), config()).escalations] == [key]


def test_the_linked_page_s_urgency_follows_the_severity_mapping(tmp_path) -> None:
    now = [T0]
    s = store(tmp_path, now)
    s.declare(Severity.P3)
    snap = PagerDutySnapshot((page(),), T0, 1.0)  # a high-urgency page
    assert paging.urgency_change(paging.read(s.events(), config()), snap, config()) is None  # not linked: not ours to change
    s.record(EventKind.PAGE_LINKED, *paging.link_event(page()))
    got = paging.urgency_change(paging.read(s.events(), config()), snap, config())
    assert got is not None and got[0].id == "PINC1" and got[1] == "low"  # P3 → p3_urgency (low by default)
    s.set_severity(Severity.P1)
    assert paging.urgency_change(paging.read(s.events(), config()), snap, config()) is None  # P1 → high: as it is


def test_a_responder_s_note_waits_in_the_outbox_as_typed_for_its_page(tmp_path) -> None:
    """(Sent through the real client against the drill in tests/test_app_paging.py.)"""
    now = [T0]
    s = store(tmp_path, now)
    s.declare(Severity.P1)
    s.record(EventKind.NOTE, *paging.page_note_event(page(), "checking who can patch the Secret"))
    state = paging.read(s.events(), config(notes=["resolved"]))  # (the config's milestones do not decide a typed note)
    [note] = state.waiting("pagerduty")
    assert note.milestone == "note" and note.page_id == "PINC1" and not state.linked  # it names its own page
    assert paging.note_text(note, "INC-1") == "checking who can patch the Secret"  # the words as typed
    s.record(EventKind.MILESTONE_SENT, *paging.sent_event(note, ["N1"]))
    assert [p.milestone for p in paging.read(s.events(), config()).pending] == ["declared", "declared"]  # (those wait for a link)
