"""The cockpit against a real drill: the simulator in a background thread
(conftest ``sim``), its config through ``config_from_toml``, the real
``cockpit.sources.Sources``. Each scenario's signals must reach the panes;
a stopped service shows its named state while the other panes keep updating.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from textual.content import Content
from textual.widgets import DataTable, Static

from cockpit.app import CockpitApp, make_app
from cockpit.config import config_from_toml
from cockpit.sources import Sources
from widgets.common import SourcePane
from widgets.logs import LogView

pytestmark = pytest.mark.asyncio
SIZE = (80, 24)
WARM_UP = 120.0  # drill seconds: every fault starts at 20 s; rates need a minute of data


def drill_app(sim, refresh: float = 0.3) -> CockpitApp:
    data = sim.config_dict()
    for section in ("statuspage", "health", "metrics", "kube"):
        data[section]["refresh"] = refresh
    config = config_from_toml(data, f"drill config ({sim.scenario.name})")
    now = float(sim.state()["now"])
    return make_app(config, Sources(config), clock=lambda: now, title=f"drill: {sim.scenario.title}")


async def until(pilot, cond: Callable[[], object], timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def pane_text(app: CockpitApp, name: str) -> str:
    pane = app.screen.query_one(f"#{name}", SourcePane)
    parts = [pane.border_title or "", pane.border_subtitle or ""]
    for static in pane.query(Static):
        if static.display:
            content = static.content
            parts.append(content.plain if isinstance(content, Content) else str(content))
    for table in pane.query(DataTable):
        parts.extend(" ".join(str(c) for c in table.get_row_at(i)) for i in range(table.row_count))
    return "\n".join(parts)


def log_text(app: CockpitApp) -> str:
    return "\n".join(line.text for line in app.screen.query_one(LogView).shown_lines())


def all_loaded(app: CockpitApp) -> bool:
    s = app.signals
    return all(r.ok for r in (s.statuspage, s.health, s.metrics, s.pods)) and app.screen.query_one(LogView).line_count > 0


def series_value(app: CockpitApp, key: str) -> float | None:
    snap = app.signals.metrics.value
    return next((s.current for s in snap.series if s.key == key), None) if snap else None


def error_codes(app: CockpitApp, at_least: float = 1.0) -> set[str]:
    snap = app.signals.metrics.value
    return {s.label_value("code") or "" for s in snap.series if s.query == "errors_by_code" and (s.current or 0) >= at_least}


@pytest.fixture(autouse=True)
def own_state_dir(tmp_path, monkeypatch):
    """Incidents go to a fresh state dir: none of the developer's open incidents resumes here."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


SCENARIOS = ["healthy", "clay-outage", "rate-limited", "key-revoked", "infra-crashloop", "degraded-latency"]


@pytest.mark.parametrize("sim", SCENARIOS, indirect=True)
async def test_each_scenario_reaches_the_panes(sim) -> None:
    sim.advance(WARM_UP)
    app = drill_app(sim)
    name = sim.scenario.name
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: all_loaded(app), what="every source")
        await pilot.pause(0.1)
        status, health, metrics, pods = (pane_text(app, n) for n in ("statuspage", "health", "metrics", "pods"))
        logs = log_text(app)
        for pane in app.screen.query(SourcePane):
            assert not pane.has_class("-error"), (pane.id, pane.border_subtitle)
        assert "clay-drill/clay-sync" in pods and "via primary" in metrics
        if name == "healthy":
            assert "All Systems Operational" in status and "No unresolved incidents" in status
            assert "● ok" in health
            assert error_codes(app) == set()
            assert "Running" in pods and "CrashLoop" not in pods
        elif name == "clay-outage":
            assert "Clay API unavailable" in status and "major outage" in status
            assert "We are investigating errors and timeouts" in status
            assert "✗ down" in health
            assert {"503", "500"} <= error_codes(app)
            assert "status=503" in logs
        elif name == "rate-limited":
            assert "No unresolved incidents" in status
            assert error_codes(app) == {"429"} and "429" in metrics
            assert "status=429" in logs and "retry-after=" in logs
        elif name == "key-revoked":
            assert "No unresolved incidents" in status
            assert error_codes(app) == {"401"}
            assert "clay_api fail" in health
            assert "status=401" in logs and "invalid api key" in logs
        elif name == "infra-crashloop":
            assert "No unresolved incidents" in status
            assert "OOMKilled" in pods
            assert error_codes(app) == set()
        elif name == "degraded-latency":
            assert "Elevated API latency" in status and "degraded" in status
            p95 = series_value(app, "latency_p95")
            assert p95 is not None and p95 >= app.config.thresholds.latency_p95_warn_ms
            row = app.screen.query_one("#metrics SeriesRow.-crit, #metrics SeriesRow.-warn")
            assert row.series_key == "latency_p95"


@pytest.mark.scenario("key-revoked")
async def test_a_stopped_service_shows_its_state_while_the_others_update(sim) -> None:
    sim.advance(WARM_UP)
    app = drill_app(sim)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: all_loaded(app), what="every source")
        sim.stop_service("statuspage")
        await pilot.press("r")
        await until(pilot, lambda: app.signals.statuspage.error is not None, what="the status page failure")
        await pilot.pause(0.1)
        pane = app.screen.query_one("#statuspage", SourcePane)
        assert pane.has_class("-error") and pane.has_class("-stale")
        text = pane_text(app, "statuspage")
        assert "unreachable" in text and "STALE" in text
        assert "No unresolved incidents" in text  # the last good page stays
        # the other sources keep answering (new snapshots) while it is down
        before = {n: getattr(app.signals, n).value for n in ("health", "metrics", "pods")}
        await until(
            pilot, lambda: all(getattr(app.signals, n).value is not before[n] for n in before), what="the other panes to update"
        )
        for name in ("health", "metrics", "pods", "logs"):
            assert not app.screen.query_one(f"#{name}", SourcePane).has_class("-error"), name
        # and it comes back
        sim.start_service("statuspage")
        await pilot.press("r")
        await until(pilot, lambda: app.signals.statuspage.ok, what="recovery")


@pytest.mark.scenario("rate-limited")
async def test_prometheus_down_fails_over_to_the_backup_and_says_so(sim) -> None:
    sim.advance(WARM_UP)
    sim.stop_service("prometheus")
    app = drill_app(sim)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.signals.metrics.ok, what="metrics from the backup")
        await pilot.pause(0.1)
        pane = app.screen.query_one("#metrics", SourcePane)
        assert app.signals.metrics.value.is_backup
        assert "BACKUP" in (pane.border_title or "")
        host = sim.endpoints["prometheus_backup"].removeprefix("http://")
        assert pane.border_subtitle == f"backup 1 {host}"  # "via backup 1 127.0.0.1:…" does not fit 80 columns
        assert "⚠ primary unreachable" in pane_text(app, "metrics")
        assert error_codes(app) == {"429"}  # the backup serves the same data
