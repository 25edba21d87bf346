"""A query that returns no series keeps a visible "no data" row in the
error-rates pane (it used to vanish), from a real poll of the drill's
Prometheus with a metric hidden through the sim's control."""

from __future__ import annotations

import httpx
import pytest
from textual.app import App, ComposeResult
from textual.widgets import Static

from clay_cockpit.config import Thresholds, config_from_toml
from clay_cockpit.signals import MetricsSnapshot, Reading
from clay_cockpit.sources.metrics import Metrics
from clay_cockpit.widgets.metrics import MetricsPane, SeriesRow


def poll(sim) -> MetricsSnapshot:
    snap = Metrics(config_from_toml(sim.config_dict(), "drill.toml").metrics).fetch()
    assert isinstance(snap, MetricsSnapshot), snap
    return snap


def test_a_query_without_series_is_named_in_the_snapshot(sim) -> None:
    assert poll(sim).no_data == ()
    httpx.post(
        sim.endpoints["control"] + "/_sim/prometheus/hide", json={"metric": "clay_api_request_duration_seconds_bucket"}, timeout=5
    ).raise_for_status()
    snap = poll(sim)
    assert snap.no_data == (("latency_p95", "Clay p95"),)
    assert not snap.by_query("latency_p95") and snap.by_query("request_rate")


class OnePane(App):
    def __init__(self, pane: MetricsPane) -> None:
        super().__init__()
        self.pane = pane

    def compose(self) -> ComposeResult:
        yield self.pane


@pytest.mark.asyncio
async def test_the_pane_keeps_a_no_data_row(sim) -> None:
    httpx.post(
        sim.endpoints["control"] + "/_sim/prometheus/hide", json={"metric": "clay_api_request_duration_seconds_bucket"}, timeout=5
    ).raise_for_status()
    snap = poll(sim)
    pane = MetricsPane(Thresholds())
    async with OnePane(pane).run_test(size=(80, 24)) as pilot:
        pane.show(Reading(value=snap, updated_at=snap.fetched_at, checked_at=snap.fetched_at), snap.fetched_at)
        await pilot.pause()
        rows = {row.series_key: row for row in pane.query(SeriesRow)}
        assert list(rows)[-1] == "latency_p95:no-data", list(rows)
        texts = [str(w.content) for w in rows["latency_p95:no-data"].query(Static)]
        assert texts[0] == "Clay p95" and texts[-1] == "no data", texts
        assert rows["latency_p95:no-data"].has_class("-nodata")
        assert "request_rate" in rows and not rows["request_rate"].has_class("-nodata")
