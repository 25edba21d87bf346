"""The incident lifecycle: declare, severity, status, checklist — and all of
it rebuilt from the timeline after a restart."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clay_cockpit.incident.lifecycle import (
    ClockLevel,
    Incident,
    IncidentStore,
    NoIncident,
    Status,
    new_id,
)
from clay_cockpit.incident.state import apply, replay
from clay_cockpit.incident.timeline import Event, EventKind, TimelineError, read
from clay_cockpit.runbook import ITEMS, Severity

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z, a Thursday


class FakeClock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def store(tmp_path: Path, clock: FakeClock, actor: str = "ana@bastion") -> IncidentStore:
    return IncidentStore(tmp_path, actor=actor, clock=clock)


def test_declare_gives_an_id_a_start_and_the_suggested_severity(tmp_path: Path, clock: FakeClock) -> None:
    s = store(tmp_path, clock)
    assert s.incident is None and s.resume() is None
    inc = s.declare(Severity.P1, {"branch": "clay_incident", "error_rate": 12.5})
    assert inc.id.startswith("INC-20260101-0000-") and len(inc.id) == len("INC-20260101-0000-ab12")
    assert (inc.declared_at, inc.declared_by, inc.suggested, inc.chosen, inc.severity) == (T0, "ana@bastion", "P1", None, "P1")
    assert inc.status == Status.INVESTIGATING and inc.is_open
    path = tmp_path / "incidents" / f"{inc.id}.jsonl"
    assert s.timeline is not None and s.timeline.path == path
    kinds = [e.kind for e in read(path).events]
    assert kinds == [EventKind.INCIDENT_DECLARED, EventKind.EVIDENCE_SNAPSHOT]
    declared = read(path).events[0].data
    assert declared["suggested"] == "P1" and declared["deadline"] == T0 + 15 * 60
    assert read(path).events[1].data["error_rate"] == 12.5


def test_ids_sort_by_time() -> None:
    assert new_id(T0, "ffff") < new_id(T0 + 60, "0000") < new_id(T0 + 86400, "0000")
    assert new_id(T0, "ab12") == "INC-20260101-0000-ab12"


def test_only_one_open_incident_per_state_dir(tmp_path: Path, clock: FakeClock) -> None:
    a = store(tmp_path, clock)
    first = a.declare(Severity.P2)
    clock.t += 60
    assert a.declare(Severity.P1) == first  # returns the open one, writes nothing
    b = store(tmp_path, clock, actor="bo@laptop")  # a second cockpit on the same dir
    assert b.declare(Severity.P3).id == first.id
    assert len(list((tmp_path / "incidents").glob("*.jsonl"))) == 1
    assert len(read(a.timeline.path).events) == 1


def test_two_cockpits_declaring_at_once_get_the_same_incident(tmp_path: Path, clock: FakeClock) -> None:
    stores = [store(tmp_path, clock, actor=f"u{i}@h") for i in range(4)]
    barrier = threading.Barrier(len(stores))
    ids: list[str] = []

    def go(s: IncidentStore) -> None:
        barrier.wait()
        ids.append(s.declare(Severity.P1).id)

    threads = [threading.Thread(target=go, args=(s,)) for s in stores]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(set(ids)) == 1
    assert len(list((tmp_path / "incidents").glob("*.jsonl"))) == 1


def test_accept_and_override_keep_both_severities(tmp_path: Path, clock: FakeClock) -> None:
    s = store(tmp_path, clock)
    s.declare(Severity.P2)
    inc = s.accept_severity()
    assert (inc.suggested, inc.chosen, inc.severity) == ("P2", "P2", "P2")
    assert s.accept_severity() == inc  # nothing new to write
    inc = s.set_severity(Severity.P1, reason="users cannot sync at all")
    assert (inc.suggested, inc.chosen, inc.severity) == ("P2", "P1", "P1")
    inc = s.suggest(Severity.P3, reasons="error rate dropped")
    assert (inc.suggested, inc.severity) == ("P3", "P1")  # the responder's choice wins
    events = s.events()
    changed = [e for e in events if e.kind == EventKind.SEVERITY_CHANGED]
    assert [e.data["accepted"] for e in changed] == [True, False]
    assert changed[1].summary == "Severity set to P1 (suggested P2): users cannot sync at all"
    assert [e.kind for e in events].count(EventKind.SEVERITY_SUGGESTED) == 1


def test_the_clock_follows_the_suggestion_until_the_responder_chooses(tmp_path: Path, clock: FakeClock) -> None:
    s = store(tmp_path, clock)
    s.declare(Severity.P3)
    assert s.clock().deadline == T0 + 4 * 3600
    s.suggest(Severity.P2)
    assert s.clock().deadline == T0 + 3600  # from the declaration, not from the change
    s.set_severity(Severity.P1)
    s.suggest(Severity.P4)
    assert s.clock().deadline == T0 + 15 * 60


def test_restart_rebuilds_the_same_incident(tmp_path: Path, clock: FakeClock) -> None:
    s = store(tmp_path, clock)
    s.declare(Severity.P2, {"why": "401s"})
    clock.t += 30
    s.set_severity(Severity.P1)
    clock.t += 30
    s.tick("check_status_page", auto=True, seen="status page: All Systems Operational, 0 incidents")
    s.tick("check_metrics", auto=True, seen="metrics: 401 at 12/s")
    clock.t += 30
    s.tick("verify_key")
    s.tick("update_key")
    s.untick("update_key")
    s.set_branch(["credentials"], data={"reasons": ["401 rate 12/s, no Clay incident"]})
    clock.t += 60
    s.set_status(Status.IDENTIFIED, note="key revoked")
    s.record(EventKind.SOURCE_FAILED, "metrics: timeout", {"source": "metrics"})
    before = s.incident
    assert before is not None
    s.close()  # the cockpit stops (or is killed: nothing is kept anywhere else)

    clock.t += 600
    again = store(tmp_path, clock)
    assert again.incident is None
    resumed = again.resume()
    assert resumed == before
    assert resumed is not None
    assert (resumed.severity, resumed.suggested, resumed.status) == ("P1", "P2", Status.IDENTIFIED)
    assert resumed.branches == ("credentials",)
    assert set(resumed.ticks) == {"check_status_page", "check_metrics", "verify_key"}
    auto = resumed.ticks["check_status_page"]
    assert auto.auto and auto.seen == "status page: All Systems Operational, 0 incidents" and auto.at == T0 + 60
    assert not resumed.ticks["verify_key"].auto and resumed.ticks["verify_key"].actor == "ana@bastion"
    assert "update_key" in resumed.hand_unticked
    clk = again.clock()
    assert clk is not None and clk.deadline == T0 + 15 * 60
    assert clk.remaining(clock.t) == T0 + 15 * 60 - clock.t and clk.level(clock.t) == ClockLevel.WARNING
    assert [e.seq for e in again.events()] == list(range(1, resumed.last_seq + 1))
    # and it carries on where it left off
    assert again.set_status(Status.MONITORING).status == Status.MONITORING
    assert again.events()[-1].seq == resumed.last_seq + 1


def test_a_resolved_incident_is_not_resumed(tmp_path: Path, clock: FakeClock) -> None:
    s = store(tmp_path, clock)
    first = s.declare(Severity.P1)
    s.set_status(Status.RESOLVED)
    assert s.incident is not None and s.incident.resolved_at == T0
    assert s.resume() is None  # resolved: nothing open
    s.close()
    assert store(tmp_path, clock).resume() is None
    clock.t += 3600
    second = store(tmp_path, clock).declare(Severity.P3)
    assert second.id != first.id and second.declared_at == T0 + 3600


def test_status_moves_both_ways_and_stops_and_restarts_the_clock(tmp_path: Path, clock: FakeClock) -> None:
    s = store(tmp_path, clock)
    s.declare(Severity.P1)
    clock.t += 5 * 60
    s.set_status(Status.IDENTIFIED)
    clock.t += 5 * 60
    inc = s.set_status(Status.MONITORING)
    assert inc.mitigated_at == T0 + 600
    clock.t += 30 * 60  # long past the 15 minutes, but the fix was in place at 10
    assert inc.clock().remaining(clock.t) == 5 * 60 and inc.level(clock.t) == ClockLevel.OK
    assert inc.clock().text(clock.t) == "met, 5:00 to spare"
    inc = s.set_status(Status.RESOLVED)
    assert inc.mitigated_at == T0 + 600 and inc.clock().remaining(clock.t) == 5 * 60
    inc = s.set_status(Status.INVESTIGATING, note="errors are back")  # reopened
    assert inc.is_open and inc.resolved_at is None and inc.mitigated_at is None
    assert inc.level(clock.t) == ClockLevel.ERROR and inc.clock().text(clock.t) == "overdue 25:00"
    summaries = [e.summary for e in s.events() if e.kind == EventKind.STATUS_CHANGED]
    assert summaries == [
        "Status investigating → identified",
        "Status identified → monitoring",
        "Status monitoring → resolved",
        "Status resolved → investigating: errors are back",
    ]
    assert s.set_status(Status.INVESTIGATING) == inc  # unchanged: nothing written
    assert len(summaries) == len([e for e in s.events() if e.kind == EventKind.STATUS_CHANGED])


def test_ticks_are_idempotent_and_hand_unticks_win_over_auto(tmp_path: Path, clock: FakeClock) -> None:
    s = store(tmp_path, clock)
    s.declare(Severity.P2)
    n = len(s.events())
    s.tick("check_health", auto=True, seen="health: ok, 4 checks")
    s.tick("check_health", auto=True, seen="health: ok, 4 checks")  # every refresh says it again
    s.tick("check_health")
    assert len(s.events()) == n + 1
    s.untick("check_health")
    inc = s.tick("check_health", auto=True, seen="health: ok")
    assert "check_health" not in inc.ticks  # the responder said no
    inc = s.tick("check_health")
    assert inc.ticks["check_health"].auto is False and "check_health" not in inc.hand_unticked
    s.untick("slack_update")  # not ticked: nothing
    assert [e.kind for e in s.events()][n:] == [
        EventKind.CHECKLIST_TICKED,
        EventKind.CHECKLIST_UNTICKED,
        EventKind.CHECKLIST_TICKED,
    ]
    assert s.events()[n].summary == "Auto-ticked: Check our integration health endpoint — health: ok, 4 checks"
    assert s.events()[n].data["step"] == 1
    with pytest.raises(ValueError):
        s.tick("no_such_item")


def test_calls_without_an_incident(tmp_path: Path, clock: FakeClock) -> None:
    s = store(tmp_path, clock)
    with pytest.raises(NoIncident):
        s.tick("check_logs")
    with pytest.raises(NoIncident):
        s.set_status(Status.RESOLVED)
    assert s.record(EventKind.CLAY_INCIDENT_APPEARED, "Clay: API degraded") is None
    assert s.events() == () and s.clock() is None


def test_a_failed_write_leaves_the_state_unchanged(tmp_path: Path, clock: FakeClock) -> None:
    s = store(tmp_path, clock)
    inc = s.declare(Severity.P2)
    assert s.timeline is not None
    s.timeline.close()  # the file is gone from under us (disk lost)
    with pytest.raises(TimelineError):
        s.tick("check_logs")
    assert s.incident == inc


def test_another_cockpits_changes_are_picked_up(tmp_path: Path, clock: FakeClock) -> None:
    a = store(tmp_path, clock, actor="ana@laptop")
    a.declare(Severity.P2)
    b = store(tmp_path, clock, actor="bo@bastion")
    assert b.resume() == a.incident
    b.tick("check_logs")
    b.set_status(Status.IDENTIFIED)
    assert len(a.refresh()) == 2
    assert a.incident == b.incident and a.incident is not None
    assert a.incident.ticks["check_logs"].actor == "bo@bastion"
    a.set_severity(Severity.P1)  # picks up nothing new, seq continues
    assert [e.seq for e in read(a.timeline.path).events] == [1, 2, 3, 4]


def test_secrets_in_incident_events_are_redacted(tmp_path: Path, clock: FakeClock) -> None:
    s = store(tmp_path, clock)
    key = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
    s.declare(Severity.P1, {"logs": [f"POST /v1/enrich 401 api_key={key}"], "api_key": key})
    s.note(f"tried the key {key} by hand: Authorization: Bearer {key}")
    assert key not in s.timeline.path.read_text()


def test_resume_skips_unreadable_and_undeclared_files(tmp_path: Path, clock: FakeClock) -> None:
    s = store(tmp_path, clock)
    inc = s.declare(Severity.P2)
    s.tick("check_logs")
    s.close()
    folder = tmp_path / "incidents"
    (folder / "INC-29991231-2359-ffff.jsonl").write_bytes(b"garbage\n\xff\n")  # newer, but no incident in it
    path = folder / f"{inc.id}.jsonl"
    with open(path, "ab") as f:
        f.write(b'{"v":1,"seq":3,"at":')  # torn by a crash
    again = store(tmp_path, clock)
    resumed = again.resume()
    assert resumed is not None and resumed.id == inc.id and "check_logs" in resumed.ticks
    assert again.timeline is not None and again.timeline.report.torn is not None
    assert any("INC-2999" in p for p in again.problems)
    assert again.tick("check_health").last_seq == 3


# --------------------------------------------------------------------------
# the reducer never raises


def ev(seq: int, kind: str, data: dict, at: float = T0) -> Event:
    return Event(seq, at, EventKind.parse(kind), "", "x@y", data)


def test_replay_ignores_what_it_does_not_understand() -> None:
    events = [
        ev(1, "note", {}),  # before the declaration: no incident yet
        ev(2, "incident_declared", {"id": "INC-1", "suggested": "P2"}),
        ev(3, "severity_changed", {"to": "P9"}),
        ev(4, "status_changed", {"to": "sleeping"}),
        ev(5, "checklist_ticked", {"key": "not_in_the_runbook"}),
        ev(6, "branch_changed", {"to": [1, 2]}),
        ev(7, "incident_declared", {"id": "INC-2", "suggested": "P1"}),
        ev(8, "teleported", {"to": "P1"}),
        ev(9, "checklist_ticked", {"key": "check_logs", "auto": "yes", "seen": 5}),
    ]
    inc = replay(events)
    assert inc is not None
    assert (inc.id, inc.severity, inc.status, inc.branches, inc.last_seq) == ("INC-1", "P2", Status.INVESTIGATING, (), 9)
    assert set(inc.ticks) == {"check_logs"} and inc.ticks["check_logs"].auto is False
    assert replay([ev(1, "incident_declared", {"suggested": "P1"})]) is None


values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.sampled_from(["P1", "P4", "resolved", "monitoring", *ITEMS]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
kinds = st.sampled_from([k.value for k in EventKind] + ["unknown_kind"])
datas = st.dictionaries(st.sampled_from(["id", "to", "suggested", "key", "auto", "seen", "from"]), values, max_size=5)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(kinds, datas), max_size=25))
def test_apply_never_raises(steps: list[tuple[str, dict]]) -> None:
    inc: Incident | None = apply(None, ev(0, "incident_declared", {"id": "INC-x", "suggested": "P3"}))
    for seq, (kind, data) in enumerate(steps, 1):
        inc = apply(inc, ev(seq, kind, data))
        assert inc is not None
        inc.clock().level(T0)
    json.dumps([str(inc)])


# --------------------------------------------------------------------------
# Severity only rises by itself; the clock never moves later (DESIGN.md)


def test_a_higher_suggestion_raises_the_severity_after_an_accept(tmp_path: Path, clock: FakeClock) -> None:
    """Accepted P3 at the first rate-limited verdict, triage moves to P2: the
    incident is P2 now, says so on the timeline, and the clock counts to P2's target."""
    s = store(tmp_path, clock)
    s.declare(Severity.P3)
    s.accept_severity()
    clock.t += 40
    inc = s.suggest(Severity.P2, reasons="Rate limit: Clay rate-limits 45% of calls (429) — P2")
    assert (inc.severity, inc.chosen, inc.suggested, inc.confirmed) == ("P2", "P3", "P2", False)
    assert s.events()[-1].summary == "Severity raised to P2 by triage (was P3): Rate limit: Clay rate-limits 45% of calls (429) — P2"
    assert s.events()[-1].data["raises"] is True and s.events()[-1].data["in_force"] == "P3"
    assert s.clock().deadline == T0 + 3600
    inc = s.accept_severity()
    assert (inc.severity, inc.chosen, inc.confirmed) == ("P2", "P2", True)
    assert s.events()[-1].summary == "Severity P2 accepted"


def test_a_lower_suggestion_is_offered_never_applied(tmp_path: Path, clock: FakeClock) -> None:
    """Declared P1 and not accepted: as the errors decay triage suggests P2,
    then P3; the incident stays P1 (its clock too) until the responder lowers it."""
    s = store(tmp_path, clock)
    s.declare(Severity.P1)
    for sev in (Severity.P2, Severity.P3):
        clock.t += 30
        inc = s.suggest(sev)
        assert (inc.severity, inc.lower_offer, inc.confirmed) == ("P1", sev, False)
        assert s.clock().deadline == T0 + 15 * 60
    assert s.events()[-1].summary == "Triage suggests P3, lower than P1 in force: offered, not applied (s lowers it)"
    assert s.events()[-1].data["raises"] is False
    inc = s.set_severity(Severity.P3)
    assert (inc.severity, inc.lower_offer, inc.confirmed) == ("P3", None, True)
    assert s.events()[-1].summary == "Severity lowered to P3 by hand, as triage suggests (was P1)"
    assert s.clock().deadline == T0 + 15 * 60  # lowering by hand never moves the deadline later
    assert s.clock().severity == "P3"


def test_a_hand_set_lower_severity_stands_until_triage_raises_again(tmp_path: Path, clock: FakeClock) -> None:
    s = store(tmp_path, clock)
    s.declare(Severity.P2)
    inc = s.set_severity(Severity.P3, reason="internal tool only")
    assert (inc.severity, inc.suggested) == ("P3", "P2")  # an override of the standing suggestion
    assert s.events()[-1].summary == "Severity lowered to P3 by hand (was P2; suggested P2): internal tool only"
    assert s.suggest(Severity.P2).severity == "P3"  # the same suggestion again writes nothing
    inc = s.suggest(Severity.P1)
    assert (inc.severity, inc.chosen) == ("P1", "P3")
    assert s.clock().deadline == T0 + 15 * 60
    assert s.set_severity(Severity.P3).severity == "P3"  # the responder may insist; the deadline stays
    assert s.clock().deadline == T0 + 15 * 60


def test_severity_and_clock_resume_from_the_timeline(tmp_path: Path, clock: FakeClock) -> None:
    s = store(tmp_path, clock)
    s.declare(Severity.P3)
    s.accept_severity()
    s.suggest(Severity.P1)
    s.suggest(Severity.P2)
    s.set_severity(Severity.P2)
    before = s.incident
    assert before is not None and (before.severity, before.strictest, before.lower_offer) == ("P2", "P1", None)
    s.close()
    again = store(tmp_path, clock)
    resumed = again.resume()
    assert resumed == before
    assert again.clock().deadline == T0 + 15 * 60 and again.clock().severity == "P2"


severities = st.sampled_from(list(Severity))
moves = st.lists(st.tuples(st.sampled_from(["suggest", "accept", "set"]), severities), max_size=25)


@settings(max_examples=150, deadline=None)
@given(declared=severities, steps=moves)
def test_severity_never_falls_without_the_responder_and_the_deadline_never_moves_later(declared: Severity, steps: list) -> None:
    rank = {Severity.P1: 0, Severity.P2: 1, Severity.P3: 2, Severity.P4: 3}
    inc = apply(None, ev(0, "incident_declared", {"id": "INC-x", "suggested": declared.value}))
    assert inc is not None
    deadline = inc.clock().deadline
    for i, (move, sev) in enumerate(steps, 1):
        if move == "suggest":
            after = apply(inc, ev(i, "severity_suggested", {"to": sev.value}))
            assert after is not None and rank[after.severity] <= rank[inc.severity]  # never lower by itself
            assert after.severity == (sev if rank[sev] < rank[inc.severity] else inc.severity)
        elif move == "accept":
            after = apply(inc, ev(i, "severity_changed", {"to": inc.severity.value, "accepted": True}))
            assert after is not None and after.severity == inc.severity and after.confirmed
        else:
            after = apply(inc, ev(i, "severity_changed", {"to": sev.value}))
            assert after is not None and after.severity == sev
        assert after.clock().deadline <= deadline
        inc, deadline = after, after.clock().deadline
