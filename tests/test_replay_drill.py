"""Replay (issue 18): a recorded drill incident, replayed, reaches the same
branch sequence.

For a shipped scenario: a frozen drill, the cockpit's four sources and a
background log follower (as tests/test_triage_drill.py), triage every 5
drill seconds through the stability window, and the incident recorded the
way the cockpit records it (:class:`~clay_cockpit.incident.recorder.Recorder`
on an :class:`~clay_cockpit.incident.lifecycle.IncidentStore`: declared once
triage leaves healthy, then every stable branch change with its evidence
snapshot). Then the scenario derived from that timeline — written, and read
back through the scenario parser as ``demo --scenario FILE`` does — runs in a
fresh drill, recorded the same way, and its branch sequence must equal the
original's.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from pathlib import Path

import pytest
from conftest import FROZEN_AT, SEED

from clay_cockpit.config import config_from_toml
from clay_cockpit.incident.lifecycle import IncidentStore
from clay_cockpit.incident.recorder import Recorder
from clay_cockpit.incident.timeline import read
from clay_cockpit.incident.watch import Watch
from clay_cockpit.replay import branch_sequence, derive_incident
from clay_cockpit.runbook import Branch
from clay_cockpit.signals import Reading, Signals
from clay_cockpit.sim.background import start_background
from clay_cockpit.sim.scenario import Scenario, load_scenario
from clay_cockpit.sources import Sources
from clay_cockpit.triage.tree import Triage, assess, refresh_intervals

STEP = 5.0  # drill seconds between samples
WATCH = 80.0  # drill seconds recorded


def record(scenario: str | Path | Scenario, state_dir: Path, monkeypatch: pytest.MonkeyPatch, watch: float = WATCH) -> Path:
    """Run the drill for ``watch`` drill seconds, triage it and record its
    incident as the desk does (the watch's notable moments too: Clay's
    status page incident appearing, updated, resolved); the timeline file."""
    sim = start_background(scenario, seed=SEED, freeze_at=FROZEN_AT, workdir=state_dir / "drill")
    stop = threading.Event()
    try:
        for k, v in sim.env().items():
            monkeypatch.setenv(k, v)
        config = config_from_toml(sim.config_dict(), "drill.toml")
        sources = Sources(config)
        logs: deque = deque(maxlen=300)  # what the app keeps in Signals.recent_logs
        lock = threading.Lock()

        def on_batch(batch) -> None:
            with lock:
                logs.extend(batch)

        follower = threading.Thread(target=sources.kube.follow_logs, args=(on_batch, lambda err: None, stop, 0.05), daemon=True)
        follower.start()
        t = 0.0
        store = IncidentStore(state_dir, actor="drill@test", clock=lambda: FROZEN_AT + t)
        recorder = Recorder(store, clock=lambda: FROZEN_AT + t)
        triage = Triage(samples=2, seconds=STEP, calm_seconds=30.0)
        moments = Watch(config.thresholds.restarts_warn)
        refresh = refresh_intervals(config)
        while t <= watch:
            if t:
                sim.advance(STEP)
            time.sleep(0.15)  # let the follower deliver what the advance logged
            now = FROZEN_AT + t

            async def both():
                return await asyncio.gather(sources.statuspage.fetch(), sources.health.fetch())

            sp, health = asyncio.run(both())
            readings = {
                "statuspage": Reading().with_result(sp, now),
                "health": Reading().with_result(health, now),
                "metrics": Reading().with_result(sources.metrics.fetch(), now),
                "pods": Reading().with_result(sources.kube.list_pods(), now),
            }
            with lock:
                signals = Signals(**readings, recent_logs=tuple(logs), at=now)
            recorder.notable(moments.update(signals, now))  # screens/desk.py: the watch first, then triage
            triaged = triage.update(assess(signals, config.thresholds, now, refresh=refresh))
            recorder.triaged(triaged, signals)
            if recorder.open is None and triaged.branch not in (Branch.HEALTHY, Branch.UNKNOWN):
                declaration = recorder.prepare(triaged, signals)  # the responder presses D
                recorder.declare(declaration)
                recorder.attached(triaged, declaration)
            t += STEP
        assert not recorder.failures, recorder.failures
        files = list((state_dir / "incidents").glob("INC-*.jsonl"))
        assert len(files) == 1, f"no incident declared in {watch:g} s of {getattr(scenario, 'name', scenario)}"
        return files[0]
    finally:
        stop.set()
        sim.stop()


@pytest.mark.parametrize("name", ["key-revoked", "rate-limited", "clay-outage"])
def test_a_recorded_drill_incident_replayed_reaches_the_same_branch_sequence(name: str, tmp_path: Path, monkeypatch) -> None:
    original = record(name, tmp_path / "original", monkeypatch)
    recorded = branch_sequence(read(original).events)
    expect = load_scenario(name).expect
    assert recorded and recorded[0] == (expect.branch,), recorded

    derived = derive_incident(str(original))  # by path (the id is looked up the same way: tests/test_replay.py)
    shipped_kinds = [type(f).__name__ for f in load_scenario(name).faults]
    saved = tmp_path / f"{derived.name}.toml"
    saved.write_text(derived.text, encoding="utf-8")
    replay = load_scenario(saved)  # what `demo --scenario FILE` (and `--from-incident`) runs
    assert [type(f).__name__ for f in replay.faults] == shipped_kinds, derived.text
    assert (replay.expect.branch, replay.expect.severity) == (expect.branch, expect.severity), derived.text

    again = record(replay, tmp_path / "replay", monkeypatch)
    assert branch_sequence(read(again).events) == recorded, derived.text


CHANGES = Path(__file__).parent / "fixtures" / "replay_ratelimit_then_outage.toml"
CHANGES_WATCH = 215.0  # drill seconds: the outage ends at 110, Clay resolves at 170, triage is calm 30 s later
TOLERANCE = 5.0  # seconds a derived fault's start or end (and its Clay incident's moments) may miss the original's by


def test_an_incident_that_changes_course_replayed_reaches_the_same_branch_sequence(tmp_path: Path, monkeypatch) -> None:
    """429s for 40 s, then a Clay outage with a status page incident for 50 s,
    then recovery: the incident goes credentials → Clay incident (with the
    429s' fading 1-minute rate as a second finding) → healthy, and so must
    its replay. The times come from the snapshots' metric histories and the
    watch's status page moments, not from when the snapshots happened to be
    taken (the declaration, the one branch change and the recovery: the 429s
    and the outage would both run until the recovery, and Clay's incident
    would stay in monitoring for its default 5 minutes)."""
    shipped = load_scenario(CHANGES)
    original = record(shipped, tmp_path / "original", monkeypatch, watch=CHANGES_WATCH)
    recorded = branch_sequence(read(original).events)
    assert len({b[0] for b in recorded} - {"healthy"}) >= 2 and recorded[-1] == ("healthy",), recorded

    derived = derive_incident(str(original))
    saved = tmp_path / f"{derived.name}.toml"
    saved.write_text(derived.text, encoding="utf-8")
    replay = load_scenario(saved)
    assert [type(f).__name__ for f in replay.faults] == [type(f).__name__ for f in shipped.faults], derived.text
    for want, got in zip(shipped.faults, replay.faults):
        assert abs(got.start - want.start) <= TOLERANCE and abs(got.end - want.end) <= TOLERANCE, (want, got, derived.text)
    want_inc, got_inc = shipped.faults[1].incident, replay.faults[1].incident
    assert want_inc is not None and got_inc is not None, derived.text
    assert abs(got.start + got_inc.post_after - (want.start + want_inc.post_after)) <= TOLERANCE, derived.text
    assert abs(got.end + got_inc.resolve_after - (want.end + want_inc.resolve_after)) <= TOLERANCE, derived.text
    assert abs(replay.faults[0].ratio - shipped.faults[0].ratio) <= 0.05, derived.text
    assert abs(replay.faults[1].error_ratio - shipped.faults[1].error_ratio) <= 0.05, derived.text

    again = record(replay, tmp_path / "replay", monkeypatch, watch=CHANGES_WATCH)
    assert branch_sequence(read(again).events) == recorded, derived.text
