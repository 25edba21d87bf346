"""Snapshots of the cockpit against a frozen drill (real sources, real HTTP):
the drill's clock is frozen (conftest FROZEN_AT) and seeded, the app's clock
is pinned to the drill's, so every poll answers the same and the picture is
deterministic. Each docstring says what a reviewer should see.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from clay_cockpit.app import CockpitApp, make_app
from clay_cockpit.config import config_from_toml
from clay_cockpit.signals import HealthSnapshot
from clay_cockpit.sources import Sources
from clay_cockpit.widgets.logs import LogView

WARM_UP = 120.0  # drill seconds: every fault starts at 20 s; rates need a minute of data
ALTERNATIVE = "https://alt.drill.example"
LOG_LINES = 60  # backlog to start from: log_tail per pod


@pytest.fixture(autouse=True)
def own_state_dir(tmp_path, monkeypatch):
    """Incidents go to a fresh state dir: none of the developer's open
    incidents resumes here; times of day on screen are in UTC."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


class PinnedHealth:
    """The health source with its measured response time pinned: the pane
    shows it (coarsely), and on a loaded machine it varies from run to run."""

    def __init__(self, inner) -> None:
        self._inner = inner

    async def fetch(self):
        result = await self._inner.fetch()
        return replace(result, response_ms=20.0) if isinstance(result, HealthSnapshot) else result


class OrderedLogs:
    """The kube source with its log backlog delivered in one ordered batch.

    Each pod's follower delivers its backlog when it arrives, so on a loaded
    machine the three pods' lines interleave differently from run to run.
    The drill is frozen (no new lines after the backlog): hold the lines
    until none came for ``QUIET`` seconds, then hand them on sorted by time
    and pod. Everything else is the real source."""

    QUIET = 0.7

    def __init__(self, inner) -> None:
        self._inner = inner

    def __getattr__(self, name: str):
        return getattr(self._inner, name)

    def follow_logs(self, on_batch, on_error, stop, flush_interval: float = 0.25) -> None:
        held: list = []
        last = [time.monotonic()]
        lock = threading.Lock()

        def gather(lines) -> None:
            with lock:
                held.extend(lines)
                last[0] = time.monotonic()

        def release() -> None:
            while not stop.wait(0.1):
                with lock:
                    if held and time.monotonic() - last[0] >= self.QUIET:
                        batch = tuple(sorted(held, key=lambda line: (line.ts or datetime.max.replace(tzinfo=UTC), line.pod, line.text)))
                        held.clear()
                    else:
                        continue
                on_batch(batch)

        releaser = threading.Thread(target=release, name="snapshot-log-release", daemon=True)
        releaser.start()
        self._inner.follow_logs(gather, on_error, stop, flush_interval)  # returns once stop is set
        releaser.join(timeout=2.0)


class SnapshotSources(Sources):
    @property
    def health(self):
        return PinnedHealth(super().health)

    @property
    def kube(self):
        return OrderedLogs(super().kube)


class SnapshotDrill:
    """What the demo tells the cockpit about its drill (clay_cockpit.app.DrillInfo):
    the top bar names the drill as in a demo (never a countdown: the clock is frozen)."""

    def __init__(self, sim) -> None:
        self.scenario, self.title = sim.scenario.name, sim.scenario.title

    def poll(self) -> str | None:
        return None


def drill_app(sim) -> CockpitApp:
    data = sim.config_dict()
    data["statuspage"]["alternative_url"] = ALTERNATIVE  # the drill's is a loopback URL whose port changes from run to run
    for section in ("statuspage", "health", "metrics", "kube", "pagerduty"):
        data[section]["refresh"] = 0.5
        # a loaded machine must not turn a slow answer into a failure event on the picture
        data[section]["timeout"] = 20.0
    data["kube"]["log_tail"] = LOG_LINES // sim.scenario.service.replicas  # a fixed number of lines
    config = config_from_toml(data, f"drill config ({sim.scenario.name})")
    now = float(sim.state()["now"])
    sources = SnapshotSources(config, environ=sim.env())  # the drill's tokens: the page shows in the top bar
    # The kubernetes client writes the kubeconfig's CA to a temp file it registers
    # before writing it: two threads loading the kubeconfig at once (the pods poll
    # and the log follow) can get an empty CA file and fail TLS once. Load it once
    # here, so the cockpit's first frames are the same on every run.
    sources.kube.list_pods()
    # speed: triage's window in no time, so the frozen drill's verdict is adopted (the clock is pinned)
    return make_app(config, sources, clock=lambda: now, title=f"drill: {sim.scenario.title}", speed=float("inf"), drill=SnapshotDrill(sim))


async def until(pilot, cond: Callable[[], object], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out preparing the snapshot"
        await pilot.pause(0.05)


def triage_settled(app: CockpitApp) -> bool:
    """Triage adopted a verdict on the full signals and nothing is pending."""
    desk = app._desk
    t = desk.triaged if desk is not None else None
    return t is not None and not desk.busy and t.pending is None and t.latest.at == app.clock() and t.branch != "unknown"


def shared_settled(app: CockpitApp) -> bool:
    """The shared incident's badge says its last word (issue 17): no incident in the cluster, or this one in it,
    sent, with its one responder present."""
    shared = app._shared
    if shared is None or not shared.enabled:
        return True
    view, inc = shared.view, app.desk.recorder.open
    if inc is None:
        return view.state == "shared" and not view.incident_id
    return view.state == "shared" and view.incident_id == inc.id and len(view.responders) == 1 and view.pending == 0


def settled(app: CockpitApp, keys: str = "", failing: tuple[str, ...] = ()):
    """All four sources answered (those in ``failing`` with their failure),
    the log lines stopped coming (the frozen drill has a fixed backlog:
    log_tail lines per pod) and triage settled; then ``keys`` are pressed and
    the notifications cleared."""

    def lines() -> int:
        views = app.screen.query(LogView)  # empty until the cockpit screen is up
        return max((v.line_count for v in views), default=0)

    async def run_before(pilot) -> None:
        s = lambda: app.signals  # noqa: E731

        def answered(name: str) -> bool:
            reading = getattr(s(), name)
            return reading.error is not None if name in failing else reading.ok

        await until(pilot, lambda: all(answered(n) for n in ("statuspage", "health", "metrics", "pods", "pagerduty")) and lines() > 0)
        seen = -1
        while seen != lines():  # quiet for a whole second
            seen = lines()
            await pilot.pause(1.0)
        await until(pilot, lambda: triage_settled(app))
        for key in keys:
            await pilot.press(key)
            if key == "i":
                await until(pilot, lambda: app.desk.recorder.open is not None and not app.desk.busy)
                # the open page linked (the top bar's badge drops its age then)
                await until(pilot, lambda: app._paging is None or (app._paging.state.linked and not app._paging._syncing))
        await until(pilot, lambda: shared_settled(app))
        await until(pilot, lambda: triage_settled(app))
        # after a declaration the comms desk's once-a-second look reminds of the first
        # update: let it come, then clear it with the other notifications
        await pilot.pause(1.3 if "i" in keys else 0.3)
        app.clear_notifications()
        await pilot.pause(0.1)

    return run_before


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
@pytest.mark.scenario("key-revoked")
def test_key_revoked_drill(snap_compare, sim, size) -> None:
    """Two minutes into the key-revoked drill (frozen): the top bar names the
    drill, "no incident · i declares" at its right; under it (80x24) the
    triage strip: "▶ Credentials: Clay answers 401 to every call — P1,
    confidence high" and "→ 1 Verify the Clay API key in the Secret · 2
    Update …"; Clay status is green (All Systems Operational, no
    incidents); Health is ✗ down with clay_api failing; Error rates shows 401
    at ~39 req/s in the error colour, 500 as a flat line on the same scale,
    then request rate and p95, "via primary"; the three pods are Running;
    the pod logs are full of status=401 "invalid api key" lines in the error
    colour, each prefixed with its pod's short name. At 160x48 the decision
    column on the right instead of the strip: the triage pane, the checklist
    (step 3's 401/403 items marked ▸, the others dimmed), the timeline with
    "No incident" and what was seen so far."""
    sim.advance(WARM_UP)
    app = drill_app(sim)
    assert snap_compare(app, terminal_size=size, run_before=settled(app))


@pytest.mark.scenario("clay-outage")
def test_clay_outage_drill(snap_compare, sim) -> None:
    """Two minutes into the clay-outage drill (frozen), 80x24: Clay status
    shows a red major outage with the "Clay API unavailable" incident and its
    latest update; Health is ✗ down; Error rates shows 503, 500 and 504 rows
    in the error colour; the pods are Running (our side is fine); the logs
    show status=503/500/504 "clay call failed" lines.

    (The infra-crashloop drill is not snapshotted: its restarting pods'
    backlogs differ from run to run; test_app_drill checks its signals.)"""
    sim.advance(WARM_UP)
    app = drill_app(sim)
    assert snap_compare(app, terminal_size=(80, 24), run_before=settled(app))


@pytest.mark.scenario("status-page-down")
def test_status_page_down_drill(snap_compare, sim) -> None:
    """Two minutes into the status-page-down drill (frozen), 80x24: the Clay
    status pane has a red frame, "1 Clay status · failing" (it never answered
    this cockpit), subtitle "✗ unreachable", the message and the runbook's
    hint: "use mobile data or the VPN, or check https://alt.drill.example"
    (the snapshots' fixed stand-in for the drill's Rootly page, whose port
    changes); the triage strip
    says Clay errors, P1, low confidence; Health ✗ down; Error rates shows
    503, 500 and 504; the logs show the 5xx lines."""
    sim.advance(WARM_UP)
    app = drill_app(sim)
    assert snap_compare(app, terminal_size=(80, 24), run_before=settled(app, failing=("statuspage",)))
