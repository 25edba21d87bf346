"""Joining the shared incident in the local store (issue 17): ``IncidentStore.join`` writes another
responder's incident to a file of its id, declaration first, adopts what it lacks once, and closes an
incident of another id as merged (so a restart resumes the shared one). The outbox of milestone notes
leaves adopted events to the cockpit that recorded them."""

from __future__ import annotations

import pytest

from clay_cockpit.comms.paging import read as read_pages
from clay_cockpit.incident.events import Event, EventKind
from clay_cockpit.incident.lifecycle import IncidentStore
from clay_cockpit.incident.state import Status
from clay_cockpit.incident.timeline import TimelineError
from clay_cockpit.incident.timeline_read import iter_events
from clay_cockpit.runbook import Severity

T0 = 1_767_225_600.0


def shared(seq: int, kind: EventKind, summary: str, data: dict, at: float) -> Event:
    return Event(seq=seq, at=at, kind=kind, summary=summary, actor="ana@drill", data={**data, "_id": f"cana:{seq}"}, time="")


def anas_incident() -> list[Event]:
    declared = {"id": "INC-B", "suggested": "P1", "headline": "401s"}
    return [
        shared(1, EventKind.INCIDENT_DECLARED, "Incident INC-B declared at P1", declared, T0),
        shared(2, EventKind.SEVERITY_CHANGED, "Severity P1 accepted", {"from": "P1", "to": "P1", "accepted": True}, T0 + 5),
        shared(3, EventKind.COMMANDER_CHANGED, "ana@drill took command", {"to": "ana@drill", "from": ""}, T0 + 6),
    ]


def test_join_writes_the_declaration_first_and_adopts_once(tmp_path) -> None:
    store = IncidentStore(tmp_path, clock=lambda: T0 + 10)
    events = anas_incident()
    inc = store.join("INC-B", list(reversed(events)))  # in any order: the declaration goes first
    assert inc.id == "INC-B" and inc.declared_by == "ana@drill" and inc.confirmed and inc.commander == "ana@drill"
    assert store.declared_here is None
    again = store.join("INC-B", events)
    assert again == store.incident
    on_disk = list(iter_events(tmp_path / "incidents" / "INC-B.jsonl"))
    assert [e.kind for e in on_disk][0] == EventKind.INCIDENT_DECLARED and len(on_disk) == 3  # nothing twice
    assert all(e.actor == "ana@drill" and e.data["_id"].startswith("cana:") for e in on_disk)
    assert IncidentStore(tmp_path).resume().id == "INC-B"  # a restart resumes it


def test_an_open_incident_of_another_id_goes_on_as_the_shared_one(tmp_path) -> None:
    store = IncidentStore(tmp_path, clock=lambda: T0 + 20)
    mine = store.declare(Severity.P2, now=T0 + 2, incident_id="INC-A")
    store.tick("verify_key")
    inc = store.join("INC-B", anas_incident())
    assert inc.id == "INC-B" and store.incident.id == "INC-B"
    old = list(iter_events(tmp_path / "incidents" / f"{mine.id}.jsonl"))
    assert old[-1].kind == EventKind.INCIDENT_MERGED and old[-1].data["into"] == "INC-B"
    closed = IncidentStore(tmp_path)
    assert closed.resume().id == "INC-B", "the merged one is not resumed"
    from clay_cockpit.incident.state import replay

    merged = replay(old)
    assert merged.merged_into == "INC-B" and merged.status == Status.RESOLVED and not merged.is_open


def test_join_needs_a_declaration_and_a_plain_id(tmp_path) -> None:
    store = IncidentStore(tmp_path)
    with pytest.raises(TimelineError, match="no declaration"):
        store.join("INC-B", anas_incident()[1:])
    with pytest.raises(TimelineError, match="not a plain name"):
        store.join("../../etc/passwd", anas_incident())
    with pytest.raises(TimelineError, match="not a plain name"):
        store.declare(Severity.P1, incident_id="a/b")


def test_the_outbox_leaves_adopted_milestones_to_their_cockpit(tmp_path) -> None:
    from test_comms_paging import config as paging_config

    config = paging_config(grafana=False)
    store = IncidentStore(tmp_path, clock=lambda: T0 + 30)
    store.join("INC-B", anas_incident())
    # ana's cockpit sent the declaration's note: its milestone_sent names ana's seq 1 — not ours
    store.record(EventKind.MILESTONE_SENT, "note sent", {"source_seq": 1, "channel": "pagerduty", "_id": "cana:4"})
    store.set_severity(Severity.P2)  # our own milestone
    state = read_pages(list(iter_events(tmp_path / "incidents" / "INC-B.jsonl")), config)
    pending = [(p.milestone, p.channel) for p in state.pending]
    assert ("declared", "pagerduty") not in pending and ("severity", "pagerduty") in pending, pending
    assert state.sent == {}, "an adopted milestone_sent counts nothing here"
