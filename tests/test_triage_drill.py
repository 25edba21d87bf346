"""Triage on the real drill through the real sources: every shipped scenario
brings ``assess`` to the branch and severity its ``[expect]`` table names.

Each test runs a frozen drill, follows the pods' logs in the background as
the app does (the newest 300 lines), and every few drill seconds after the
fault starts asks the status page, health, Prometheus and Kubernetes once,
builds Signals and assesses them. The test's clock is the drill's clock, so a
:class:`~clay_cockpit.triage.tree.Triage` window in drill seconds applies as in a drill
at ``--speed 1``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import pytest
from test_triage import check_shape

from clay_cockpit.config import config_from_toml
from clay_cockpit.runbook import Branch, Severity
from clay_cockpit.signals import LogLine, Reading, Signals
from clay_cockpit.sim.scenario import load_scenario, scenario_names
from clay_cockpit.sources import Sources
from clay_cockpit.triage.tree import Assessment, Triage, assess, refresh_intervals

FROZEN_AT = 1_767_225_600.0  # tests/conftest.py freezes every drill here
RECENT_LOGS = 300  # what the app keeps in Signals.recent_logs
STEP = 5.0  # drill seconds between samples
WATCH = 60.0  # drill seconds watched after the fault starts
REACH_BY = 30.0  # the raw assessment must reach [expect] this soon after the fault starts


@dataclass
class Drill:
    """A drill plus the cockpit's four sources and a background log follower."""

    sim: object
    sources: Sources
    refresh: dict[str, float]
    thresholds: object
    logs: deque = field(default_factory=lambda: deque(maxlen=RECENT_LOGS))
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    t: float = 0.0  # drill seconds since the scenario started
    readings: dict = field(default_factory=dict)  # the last sample's, by source

    def on_batch(self, batch: tuple[LogLine, ...]) -> None:
        with self.lock:
            self.logs.extend(batch)

    def advance_to(self, t: float) -> None:
        if t > self.t:
            self.sim.advance(t - self.t)
            self.t = t

    def sample(self) -> Assessment:
        """Ask every source once and assess, at the drill's ``now``."""
        time.sleep(0.15)  # let the follower deliver what the last advance logged
        now = FROZEN_AT + self.t

        async def both():
            return await asyncio.gather(self.sources.statuspage.fetch(), self.sources.health.fetch())

        sp, health = asyncio.run(both())
        metrics, pods = self.sources.metrics.fetch(), self.sources.kube.list_pods()
        with self.lock:
            lines = tuple(self.logs)
        self.readings = {
            "statuspage": Reading().with_result(sp, now),
            "health": Reading().with_result(health, now),
            "metrics": Reading().with_result(metrics, now),
            "pods": Reading().with_result(pods, now),
        }
        sig = Signals(**self.readings, recent_logs=lines, at=now)
        a = assess(sig, self.thresholds, now, refresh=self.refresh)
        check_shape(a)
        return a


@pytest.fixture
def drill(sim, monkeypatch):
    for k, v in sim.env().items():
        monkeypatch.setenv(k, v)
    config = config_from_toml(sim.config_dict(), "drill.toml")
    d = Drill(sim, Sources(config), refresh_intervals(config), config.thresholds)
    follower = threading.Thread(target=d.sources.kube.follow_logs, args=(d.on_batch, lambda err: None, d.stop, 0.05), daemon=True)
    follower.start()
    try:
        yield d
    finally:
        d.stop.set()
        follower.join(10)


def _expected(name: str) -> tuple[Branch, Severity | None, float]:
    spec = load_scenario(name)
    sev = None if spec.expect.severity == "none" else Severity(spec.expect.severity)
    start = spec.fault_start()
    return Branch(spec.expect.branch), sev, 20.0 if start is None else start


def pane_state(name: str, reading: Reading) -> str:
    """What a pane shows for this reading, in [expect.panes]' words."""
    if reading.error is not None:
        return reading.error.kind.value
    if name == "metrics" and reading.value is not None and reading.value.is_backup:
        return "backup"
    return "ok"


def _story(samples: list[tuple[float, Assessment]]) -> str:
    return "\n".join(f"t={t:>5.0f}  {a.headline}  [{a.confidence.value}]" for t, a in samples)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.scenario(n)) for n in scenario_names()])
def test_scenario_reaches_its_expected_branch_and_severity(name: str, drill: Drill) -> None:
    branch, severity, start = _expected(name)
    triage = Triage(samples=2, seconds=STEP, calm_seconds=30.0)
    samples: list[tuple[float, Assessment]] = []
    drill.advance_to(max(0.0, start - STEP))
    before = drill.sample()
    assert before.branch == Branch.HEALTHY, f"before the fault: {before.headline}"
    triage.update(before)
    t = start
    while t <= start + WATCH:
        drill.advance_to(t)
        a = drill.sample()
        samples.append((t, a))
        stable = triage.update(a)
        t += STEP
    story = _story(samples)
    reached = [t for t, a in samples if (a.branch, a.severity) == (branch, severity)]
    assert reached and reached[0] <= start + REACH_BY, f"never reached {branch} {severity} in time:\n{story}"
    assert (stable.branch, stable.severity) == (branch, severity), f"stable at the end: {stable.assessment.headline}\n{story}"
    final = stable.assessment
    expect = load_scenario(name).expect
    if branch != Branch.HEALTHY:
        assert final.confidence == expect.confidence, story
        assert final.top.actions, "a responder is told what to do"
        assert any(r.values for r in final.top.reasons), "the numbers are on record"
    if expect.confidence != "high":
        assert final.cannot_see, "a lower confidence says what triage cannot see"
    for pane, want in expect.panes.items():
        if pane == "logs":
            continue  # the follower's state: tests/test_app_drill.py
        assert pane_state(pane, drill.readings[pane]) == want, (pane, drill.readings[pane].error)


@pytest.mark.scenario("clay-outage")
def test_clay_outage_back_to_healthy_after_clay_resolves(drill: Drill) -> None:
    """Clay's fault ends at 1500 s; the incident goes to monitoring and is resolved 300 s later."""
    drill.advance_to(120)
    assert (drill.sample().branch, drill.sample().severity) == (Branch.CLAY_INCIDENT, Severity.P1)
    drill.advance_to(1500 + 90)  # errors gone from the 1-minute rates; Clay is monitoring
    monitoring = drill.sample()
    assert (monitoring.branch, monitoring.severity) == (Branch.CLAY_INCIDENT, Severity.P4), monitoring.headline
    assert "no impact on our calls seen" in monitoring.headline
    drill.advance_to(1500 + 400)  # resolved
    done = drill.sample()
    assert (done.branch, done.severity) == (Branch.HEALTHY, None), done.headline


@pytest.mark.scenario("rate-limited")
def test_rate_limited_with_prometheus_down_falls_back_to_health_and_logs(drill: Drill) -> None:
    """Both Prometheus servers stopped: the 429s are still found, from the health
    endpoint's counts and the logs, at low confidence, with the gap said."""
    drill.advance_to(90)
    drill.sim.stop_service("prometheus")
    drill.sim.stop_service("prometheus_backup")
    a = drill.sample()
    assert a.branch == Branch.CREDENTIALS and a.severity in (Severity.P2, Severity.P3), a.headline
    assert a.confidence == "low" and a.top.label == "Rate limit"
    assert Branch.MONITORING_GAP in a.branches
    assert a.cannot_see.startswith("metrics unavailable — using"), a.cannot_see
    assert any("Rate-limit headers: limit 600, remaining 0" in r.text for r in a.top.reasons)


@pytest.mark.scenario("prometheus-down")
def test_prometheus_down_keeps_the_verdict_through_the_failover(drill: Drill) -> None:
    """The primary Prometheus goes down 40 s into the rate limiting: the backup
    serves the same series, and every sample around the failover says the same."""
    samples = []
    for t in (45, 50, 55, 60, 65, 70, 80, 90):
        drill.advance_to(t)
        a = drill.sample()
        samples.append((t, a, drill.readings["metrics"]))
    story = _story([(t, a) for t, a, _ in samples])
    assert [m.value.is_backup for _, _, m in samples] == [False] * 3 + [True] * 5, story
    assert {(a.branch, a.severity, a.confidence.value) for _, a, _ in samples} == {(Branch.CREDENTIALS, Severity.P2, "high")}, story
    assert all(m.value.failovers and m.value.failovers[0].kind.value == "unreachable" for _, _, m in samples[3:])
