"""The desk's follow of a symptom (cockpit/actions/follow.py) on a real
incident store: exactly one symptom_ended / symptom_persists per follow
with the data docs/events.md fixes, the automatic ticks when it ended, the
metrics' later word as a note, what is in effect (also after a restart of
the cockpit, from the timeline), nothing more after stop."""

from __future__ import annotations

from test_actions_symptom import AUTH_BEFORE, NEW, OK_LINE, PODS_BEFORE, T0, follow, logs, metrics, pod, pods

from clay_cockpit.actions.follow import SymptomDesk
from clay_cockpit.actions.symptom import ENDED, PERSISTS, Symptom
from clay_cockpit.incident.lifecycle import IncidentStore
from clay_cockpit.incident.timeline import EventKind, read
from clay_cockpit.runbook import Severity
from clay_cockpit.signals import Signals


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def store_at(tmp_path, clock: Clock) -> IncidentStore:
    store = IncidentStore(tmp_path / "state", actor="ana@bastion-1", clock=clock)
    store.declare(Severity.P1)
    return store


def test_ended_is_recorded_once_ticks_and_the_metrics_note_later(tmp_path) -> None:
    clock = Clock(T0 + 5)
    store = store_at(tmp_path, clock)
    desk = SymptomDesk(store, clock)
    desk.begin(follow(Symptom.AUTH_ERRORS, AUTH_BEFORE, carries=("update_key",), title="Update the key + restart the pods"))
    clean = Signals(recent_logs=logs((NEW[0], OK_LINE, 12)), metrics=metrics({"401": 25.0}))
    done = desk.look(clean)
    assert done is not None and done.verdict.state == ENDED and done.verdict.metrics_agree is None
    for _ in range(3):
        clock.now += 5
        assert desk.look(clean) is None  # final: nothing more recorded
    clock.now = T0 + 90
    desk.look(Signals(recent_logs=clean.recent_logs, metrics=metrics({"401": 0.0})))
    assert desk.last().later.startswith("metrics agree (401 at 0.00/s) at 00:01:30 UTC")
    desk.look(clean)
    events = read(store.timeline.path).events
    ended = [e for e in events if e.kind == EventKind.SYMPTOM_ENDED]
    assert len(ended) == 1 and ended[0].summary == done.verdict.summary
    assert ended[0].data["ended_at"] == T0 + 5 and ended[0].data["carries"] == ["update_key"]
    ticked = {e.data["key"]: e for e in events if e.kind == EventKind.CHECKLIST_TICKED}
    assert set(ticked) == {"branch_credentials", "update_key", "restart_pods"} and all(e.data["auto"] for e in ticked.values())
    assert ticked["update_key"].data["seen"] == "Update the key + restart the pods — 401s stopped at 00:00:05 UTC"
    notes = [e for e in events if e.kind == EventKind.NOTE]
    assert [n.summary for n in notes] == [
        "Update the key + restart the pods: metrics agree (401 at 0.00/s) at 00:01:30 UTC — 401s stopped at 00:00:05 UTC"
    ]
    inc = store.incident
    assert inc.symptom_ended_at == T0 + 5 and inc.symptom_ended == done.verdict.summary
    assert [e.action for e in desk.in_effect()] == ["restart", "update_key"]


def test_persists_is_recorded_once_and_ticks_nothing(tmp_path) -> None:
    clock = Clock(T0 + 20)
    store = store_at(tmp_path, clock)
    desk = SymptomDesk(store, clock)
    desk.begin(follow(Symptom.PODS_UNREADY, PODS_BEFORE, branch="infrastructure"))
    crashed = Signals(pods=pods(pod(NEW[0], restarts=1, last="OOMKilled"), pod(NEW[1]), pod(NEW[2])))
    done = desk.look(crashed)
    assert done is not None and done.verdict.state == PERSISTS
    desk.look(crashed)
    events = read(store.timeline.path).events
    persists = [e for e in events if e.kind == EventKind.SYMPTOM_PERSISTS]
    assert len(persists) == 1 and persists[0].data["ended_at"] is None and persists[0].data["symptom"] == "pods_unready"
    assert not [e for e in events if e.kind in (EventKind.CHECKLIST_TICKED, EventKind.SYMPTOM_ENDED)]
    assert desk.in_effect() == () and store.incident.symptom_ended_at is None


def test_a_restarted_cockpit_reads_what_is_in_effect_from_the_timeline(tmp_path) -> None:
    clock = Clock(T0 + 5)
    store = store_at(tmp_path, clock)
    first = SymptomDesk(store, clock)
    first.begin(follow(Symptom.AUTH_ERRORS, AUTH_BEFORE, carries=("update_key",)))
    first.look(Signals(recent_logs=logs((NEW[0], OK_LINE, 12))))
    again = IncidentStore(tmp_path / "state", actor="ana@bastion-1", clock=clock)
    assert again.resume() is not None
    second = SymptomDesk(again, clock)
    second.resume()
    effect = second.in_effect()
    assert [e.action for e in effect] == ["restart", "update_key"] and effect[0].since == T0 + 5
    assert effect[0].detail.startswith("Mitigated: 401s stopped at 00:00:05 UTC")


def test_stopped_on_quit_and_without_an_incident_nothing_is_written(tmp_path) -> None:
    clock = Clock(T0 + 5)
    store = IncidentStore(tmp_path / "state", actor="ana@bastion-1", clock=clock)  # no incident declared
    desk = SymptomDesk(store, clock)
    desk.begin(follow(Symptom.AUTH_ERRORS, AUTH_BEFORE))
    done = desk.look(Signals(recent_logs=logs((NEW[0], OK_LINE, 12))))
    assert done is not None and done.verdict.state == ENDED  # said on the pane, nothing to record it in
    assert not desk.problems and store.timeline is None
    desk.begin(follow(Symptom.AUTH_ERRORS, AUTH_BEFORE))
    desk.stop()
    assert desk.look(Signals(recent_logs=logs((NEW[0], OK_LINE, 12)))) is None and desk.current is None
