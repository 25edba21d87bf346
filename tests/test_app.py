"""The cockpit app driven with Pilot against fakes of our source protocol
(tests/test_app_fakes.py, built from the real fixtures): what each pane
shows, failure states, the log pane's behaviour, keys, help and palette."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace

import pytest
from test_app_fakes import (
    HEALTH_DOWN,
    NOW,
    FakeSources,
    fast_config,
    health_snapshot,
    log_lines,
    metrics_snapshot,
    pods_snapshot,
    rootly_snapshot,
    unreachable,
)
from textual.content import Content
from textual.widgets import DataTable, Static

from clay_cockpit.app import CockpitApp, make_app
from clay_cockpit.screens.help import HelpScreen
from clay_cockpit.screens.main import MainScreen
from clay_cockpit.signals import ErrorKind, SourceError
from clay_cockpit.widgets.common import SourcePane
from clay_cockpit.widgets.logs import LogView

SIZE = (80, 24)
pytestmark = pytest.mark.asyncio


@pytest.fixture(autouse=True)
def own_state_dir(tmp_path, monkeypatch):
    """Incidents go to a fresh state dir: none of the developer's open incidents resumes here."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


def clock() -> float:
    return NOW + 12


def build(sources: FakeSources | None = None, **kube) -> tuple[CockpitApp, FakeSources]:
    sources = sources or FakeSources()
    return make_app(fast_config(**kube), sources, clock=clock, title="test cockpit"), sources


async def until(pilot, cond: Callable[[], object], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    # the cockpit screen is built just after the first (boot) frame
    while not any(isinstance(s, MainScreen) and s.is_mounted and s.query(LogView) for s in pilot.app.screen_stack):
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the cockpit screen")
        await pilot.pause(0.03)
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.03)


def plain(value: object) -> str:
    if isinstance(value, Content):
        return value.plain
    return str(value)


def pane_text(app: CockpitApp, name: str) -> str:
    """Everything a pane shows as text: frame, banner, body (tables too)."""
    pane = app.screen.query_one(f"#{name}", SourcePane)
    parts = [pane.border_title or "", pane.border_subtitle or ""]
    for static in pane.query(Static):
        if static.display:
            parts.append(plain(static.content))
    for table in pane.query(DataTable):
        parts.extend(" ".join(str(c) for c in table.get_row_at(i)) for i in range(table.row_count))
    return "\n".join(parts)


def loaded(app: CockpitApp) -> bool:
    s = app.signals
    return all(r.ok for r in (s.statuspage, s.health, s.metrics, s.pods))


def view(app: CockpitApp) -> LogView:
    return app.main_screen.query_one(LogView)


async def test_each_pane_shows_its_data() -> None:
    app, sources = build()
    sources.kube.emit(log_lines(12))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: loaded(app) and view(app).line_count == 12, what="all sources")
        status = pane_text(app, "statuspage")
        assert "Partially Degraded Service" in status  # indicator of the real Statuspage summary
        assert "Market data is delayed" in status and "investigating" in status  # unresolved incident
        assert "15m ago" in status  # incident age against the pinned clock
        assert "1 operational: Deposit" in status
        health = pane_text(app, "health")
        assert "down" in health and "HTTP 503" in health
        assert "clay_api" in health and "2318 errors" in health and "depth 1830" in health
        metrics = pane_text(app, "metrics")
        assert "401" in metrics and "36.8 req/s" in metrics and "120 ms" in metrics
        assert "via primary" in metrics and "BACKUP" not in metrics
        pods = pane_text(app, "pods")
        assert "CrashLoop" in pods and "OOMKilled" in pods and "x2x9k" in pods
        table = app.screen.query_one("#pods DataTable", DataTable)
        assert table.row_count == 3
        # troubled pods first: CrashLoopBackOff is the first row
        assert "CrashLoop" in str(table.get_row_at(0)[1])
        assert [line.text for line in view(app).shown_lines()] == [line.text for line in log_lines(12)]
        for name in ("statuspage", "health", "metrics", "pods", "logs"):
            assert "0s ago" in pane_text(app, name), name


class RecordingApp(CockpitApp):
    """The cockpit, recording the SignalsChanged messages it posts."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.changes: list = []

    def on_signals_changed(self, message) -> None:
        self.changes.append(message.signals)
        super().on_signals_changed(message)


async def test_signals_hold_a_reading_per_source_and_recent_logs() -> None:
    sources = FakeSources()
    app = RecordingApp(fast_config(), sources, clock=clock)
    sources.kube.emit(log_lines(5))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: loaded(app) and len(app.signals.recent_logs) == 5, what="signals")
        await pilot.pause(0.05)
        signals = app.signals
        assert signals.statuspage.value.incidents[0].name == "Market data is delayed"
        assert signals.pods.value.pods[0].name.startswith("clay-sync-")
        assert signals.health.updated_at == clock() and signals.at == clock()
        assert [line.text for line in signals.recent_logs] == [line.text for line in log_lines(5)]
        assert app.changes and app.changes[-1] == app.signals


async def test_a_failing_source_shows_its_state_and_keeps_last_good_data_stale() -> None:
    app, sources = build()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: loaded(app), what="all sources")
        sources.statuspage.result = unreachable("statuspage", "status.clay.com:443")
        await pilot.press("r")  # poll now
        await until(pilot, lambda: app.signals.statuspage.error is not None, what="the failure")
        pane = app.screen.query_one("#statuspage", SourcePane)
        await pilot.pause(0.05)
        text = pane_text(app, "statuspage")
        assert pane.has_class("-error") and pane.has_class("-stale")
        assert "STALE" in (pane.border_title or "")
        assert "✗ unreachable" in (pane.border_subtitle or "")
        assert "connection refused by status.clay.com:443" in text
        assert "Partially Degraded Service" in text  # last good data still there
        assert "is the statuspage service up?" not in text  # 80x24: one error line over the kept data...
        await pilot.press("1")
        await pilot.pause(0.05)
        assert "is the statuspage service up?" in pane_text(app, "statuspage")  # ...the focused pane shows the hint
        # the others keep updating while the status page backs off
        calls_status = sources.statuspage.calls
        sources.health.result = health_snapshot({**HEALTH_DOWN, "status": "degraded"})
        await until(pilot, lambda: "◐ degraded" in pane_text(app, "health"), what="health to update")
        health_calls = sources.health.calls
        await pilot.pause(0.6)
        assert sources.health.calls > health_calls + 1
        assert sources.statuspage.calls == calls_status, "a failing source backs off (>= 5 s)"
        for name in ("health", "metrics", "pods"):
            other = app.screen.query_one(f"#{name}", SourcePane)
            assert not other.has_class("-error"), name
        # recovery clears the state
        sources.statuspage.result = rootly_snapshot()
        await pilot.press("r")
        await until(pilot, lambda: app.signals.statuspage.ok, what="recovery")
        await pilot.pause(0.05)
        assert not pane.has_class("-error") and not pane.has_class("-stale")
        assert "All Systems Operational" in pane_text(app, "statuspage")
        assert "No unresolved incidents" in pane_text(app, "statuspage")


async def test_failure_before_any_data_says_so_without_stale() -> None:
    sources = FakeSources()
    sources.kube.pods = SourceError(
        "pods", ErrorKind.AUTH_EXPIRED, "401 from the API server", "run `kubectl --context prod get pods` to re-authenticate"
    )
    app, _ = build(sources)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.signals.pods.error is not None and app.signals.health.ok, what="pods failure")
        await pilot.pause(0.05)
        pane = app.screen.query_one("#pods", SourcePane)
        text = pane_text(app, "pods")
        assert pane.has_class("-error") and not pane.has_class("-stale")
        assert "failing" in (pane.border_title or "")
        assert "auth_expired" in text and "kubectl --context prod get pods" in text


async def test_a_source_that_raises_is_a_named_failure_not_a_crash() -> None:
    sources = FakeSources()

    def boom():
        raise RuntimeError("secret-token-123 leaked in an exception")

    sources.metrics.result = boom
    app, _ = build(sources)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.signals.metrics.error is not None, what="metrics failure")
        await pilot.pause(0.05)
        text = pane_text(app, "metrics")
        assert "bad_response" in text and "RuntimeError" in text
        assert "secret-token-123" not in text  # only the type is shown
        assert app.is_running


async def test_a_hung_source_does_not_block_keys_or_other_panes() -> None:
    sources = FakeSources()
    sources.statuspage.delay = 60.0  # never answers within the test
    app, _ = build(sources)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.signals.health.ok and app.signals.pods.ok, what="other sources")
        await pilot.press("4")
        assert app.focused is app.screen.query_one("#pods DataTable")
        worst = 0.0  # the event loop never stalls while the status page hangs
        for _ in range(30):
            started = time.monotonic()
            await asyncio.sleep(0.01)
            worst = max(worst, time.monotonic() - started - 0.01)
        # a blocking call would stall it for the whole hang (60 s); the margin
        # is for a loaded CI machine running tests in parallel
        assert worst < 0.5, f"UI loop stalled {worst:.3f}s"
        assert "waiting" in (app.screen.query_one("#statuspage", SourcePane).border_title or "")


async def test_metrics_backup_is_marked() -> None:
    sources = FakeSources()
    sources.metrics.result = metrics_snapshot(backup=True)
    app, _ = build(sources)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.signals.metrics.ok, what="metrics")
        await pilot.pause(0.05)
        pane = app.screen.query_one("#metrics", SourcePane)
        # at 80 columns the frame is 24 cells wide: the longest words that fit, never cut ("BACKUP…")
        assert "BACKUP" in (pane.border_title or "") and "Metrics" in (pane.border_title or "")
        assert pane.border_subtitle == "backup 127.0.0.1:9091"
        assert "⚠ primary unreachable" in pane_text(app, "metrics")


async def test_log_filter_is_a_case_insensitive_substring_and_escape_restores() -> None:
    app, sources = build()
    sources.kube.emit(log_lines(20))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: view(app).line_count == 20, what="log lines")
        await pilot.press("slash")
        await pilot.press(*"ReTry")
        assert app.screen.__class__.__name__ == "LogFilterScreen"
        shown = view(app).shown_lines()
        assert shown and all("retry-after" in line.text for line in shown)
        assert len(shown) == 5  # every 4th line is the 429 one
        await pilot.press("enter")
        assert view(app).filter_text == "ReTry"
        assert "filter “ReTry” 5/20" in (app.screen.query_one("#logs", SourcePane).border_title or "")
        # new lines are filtered as they come
        sources.kube.emit(log_lines(4, start=20))
        await until(pilot, lambda: view(app).line_count == 24, what="more lines")
        assert len(view(app).shown_lines()) == 6
        # a pod name filters too, and Escape puts back the previous filter
        await pilot.press("slash", "ctrl+u", *"Q8F")
        assert {line.pod for line in view(app).shown_lines()} == {"clay-sync-7d9f8c6b5-q8f2m"}
        await pilot.press("escape")
        assert view(app).filter_text == "ReTry"
        # an empty filter shows everything
        await pilot.press("slash", "ctrl+u", "enter")
        assert view(app).filter_text == "" and len(view(app).shown_lines()) == 24


async def test_pause_holds_lines_and_resume_shows_them() -> None:
    app, sources = build()
    sources.kube.emit(log_lines(3))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: view(app).line_count == 3, what="log lines")
        await pilot.press("p")
        sources.kube.emit(log_lines(7, start=3))
        await until(pilot, lambda: view(app).held == 7, what="held lines")
        assert view(app).line_count == 3
        pane = app.screen.query_one("#logs", SourcePane)
        await pilot.pause(0.05)
        assert "paused · 7 new" in (pane.border_subtitle or "")
        await pilot.press("p")
        assert view(app).line_count == 10 and view(app).held == 0
        await pilot.pause(0.05)
        assert pane.border_subtitle == "following"


async def test_the_first_lines_leave_the_scrollbar_thumb_at_the_end() -> None:
    """The first batch scrolls to the end before the layout shows a scrollbar;
    the thumb must still be drawn at the end (Textual only moves it when
    scroll_y changes while the scrollbar is shown)."""
    app, sources = build()
    sources.kube.emit(log_lines(60))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: view(app).line_count == 60, what="log lines")
        await pilot.pause(0.2)
        v = view(app)
        assert v.following and v.show_vertical_scrollbar and v.scroll_y == v.max_scroll_y > 0
        assert v.vertical_scrollbar.position == v.scroll_y


async def test_scrolling_up_keeps_position_and_counts_new_lines() -> None:
    app, sources = build()
    sources.kube.emit(log_lines(60))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: view(app).line_count == 60, what="log lines")
        await pilot.pause(0.1)
        await pilot.press("5", "pageup")
        v = view(app)
        assert not v.following
        position = v.scroll_offset.y
        first_visible = v._rows[position][0].line
        sources.kube.emit(log_lines(9, start=60))
        await until(pilot, lambda: v.line_count == 69, what="new lines")
        await pilot.pause(0.05)
        assert v.unseen == 9
        assert v.scroll_offset.y == position and v._rows[position][0].line == first_visible
        pane = app.screen.query_one("#logs", SourcePane)
        assert "↓ 9 new · End follows" in (pane.border_subtitle or "")
        await pilot.press("end")
        await pilot.pause(0.05)
        assert v.following and v.unseen == 0 and v.is_vertical_scroll_end
        assert pane.border_subtitle == "following"


async def test_log_buffer_is_bounded() -> None:
    app, sources = build(log_buffer=50)
    async with app.run_test(size=SIZE) as pilot:
        sources.kube.emit(log_lines(120))
        await until(pilot, lambda: view(app).shown_count and view(app).shown_lines()[-1].text.endswith("n=119"), what="lines")
        assert view(app).line_count == 50
        assert view(app).shown_lines()[0].text.endswith("n=70")
        assert len(app.signals.recent_logs) <= 300
        # paused, the held lines are bounded too
        await pilot.press("p")
        sources.kube.emit(log_lines(80, start=120))
        await until(pilot, lambda: view(app).held == 50, what="held lines")
        await pilot.press("p")
        assert view(app).line_count == 50 and view(app).shown_lines()[-1].text.endswith("n=199")


async def test_log_follow_failure_is_shown_and_cleared() -> None:
    app, sources = build()
    sources.kube.emit(log_lines(4))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: view(app).line_count == 4, what="lines")
        sources.kube.fail(unreachable("logs", "127.0.0.1:6443"))
        pane = app.screen.query_one("#logs", SourcePane)
        await until(pilot, lambda: pane.has_class("-error"), what="log failure")
        assert pane.has_class("-stale") and view(app).line_count == 4
        assert "connection refused by 127.0.0.1:6443" in pane_text(app, "logs")
        sources.kube.fail(None)
        await until(pilot, lambda: not pane.has_class("-error"), what="recovery")


async def test_number_keys_focus_each_pane() -> None:
    app, _ = build()
    async with app.run_test(size=SIZE) as pilot:
        for key, name in zip("12345", ("statuspage", "health", "metrics", "pods", "logs")):
            await pilot.press(key)
            pane = app.screen.query_one(f"#{name}", SourcePane)
            assert app.focused is not None and pane in app.focused.ancestors_with_self, name


async def test_every_binding_has_id_description_tooltip_and_help_lists_them() -> None:
    app, _ = build()
    async with app.run_test(size=SIZE) as pilot:
        sections = app.binding_sections()
        bindings = [b for _, group in sections for b in group]
        ids = [b.id for b in bindings]
        assert len(ids) == len(set(ids)) and all(ids)
        assert all(b.description and b.tooltip for b in bindings)
        assert {b.action for b in CockpitApp.BINDINGS} >= {"metrics_view", "filter_logs", "pause_logs", "refresh", "help", "quit"}
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = plain(app.screen.query_one("#help-text", Static).content)
        for binding in bindings:
            assert binding.description in text and binding.tooltip in text, binding.id
            assert app.get_key_display(binding) in text, binding.id
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_command_palette_lists_panes_and_actions() -> None:
    app, _ = build()
    async with app.run_test(size=SIZE) as pilot:
        titles = [title for title, _, _ in app.palette_commands()]
        assert {b.tooltip for b in CockpitApp.BINDINGS} == set(titles)
        await pilot.press("ctrl+p")
        await pilot.press(*"pods table")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: app.focused is app.screen.query_one("#pods DataTable"), what="pods focused")


async def test_metrics_view_opens_and_closes() -> None:
    app, _ = build()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.signals.metrics.ok, what="metrics")
        await pilot.press("m")
        assert type(app.screen).__name__ == "MetricsScreen"
        await pilot.pause(0.1)
        charts = app.screen.query("SeriesChart")
        assert len(charts) == 4
        assert "36.8 req/s" in (charts.first().border_title or "")
        await pilot.press("escape")
        assert type(app.screen).__name__ == "MainScreen"


async def test_the_metrics_view_is_kept_and_shows_what_came_while_it_was_closed() -> None:
    """`m` builds the view once; reopened, it is the same screen with the
    newest snapshot (polls go on while it is closed)."""
    sources = FakeSources()
    app, _ = build(sources)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.signals.metrics.ok, what="metrics")
        await pilot.press("m")
        first = app.screen
        await pilot.pause(0.1)
        assert "36.8 req/s" in (first.query("SeriesChart").first().border_title or "")
        await pilot.press("m")
        assert type(app.screen).__name__ == "MainScreen"
        sources.metrics.result = metrics_snapshot(shift=7)  # 401s now 36.0 + 2*sin(46/3)
        before = app.signals.metrics.value
        await pilot.press("r")
        await until(pilot, lambda: app.signals.metrics.value is not before, what="the next metrics poll")
        await pilot.press("m")
        assert app.screen is first
        await pilot.pause(0.1)
        assert "36.7 req/s" in (first.query("SeriesChart").first().border_title or "")
        await pilot.press("escape", "m", "m", "m")  # quick presses: open, close, open
        assert app.screen is first


async def test_pods_table_updates_cells_in_place_and_keeps_the_cursor() -> None:
    sources = FakeSources()
    app, _ = build(sources)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.signals.pods.ok, what="pods")
        await pilot.press("4", "down")
        table = app.screen.query_one("#pods DataTable", DataTable)
        selected = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        snap = pods_snapshot()
        bumped = tuple(replace(p, restarts=p.restarts + 5) if p.name == selected else p for p in snap.pods)
        sources.kube.pods = replace(snap, pods=bumped)
        await until(
            pilot,
            lambda: any(str(table.get_row_at(i)[3]) == str(next(p.restarts for p in bumped if p.name == selected)) for i in range(3)),
            what="restart count",
        )
        assert table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value == selected


async def test_drill_death_is_shown_and_the_app_keeps_answering() -> None:
    class Drill:
        scenario = "key-revoked"
        title = "Clay API key revoked"
        dead = False

        def poll(self) -> str | None:
            return "drill environment exited (code 1): boom — quit and start the demo again" if self.dead else None

    drill = Drill()
    app = make_app(fast_config(), FakeSources(), clock=clock, title="drill: Clay API key revoked", drill=drill)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.screen.query("ContextBar"), what="the top bar")
        bar = app.screen.query_one("ContextBar", Static)
        await until(pilot, lambda: "drill: Clay API key revoked" in plain(bar.content), what="the drill named")
        drill.dead = True
        await until(pilot, lambda: bar.has_class("-error"), timeout=4.0, what="drill death")
        assert "drill environment exited (code 1)" in plain(bar.content)
        await pilot.press("2")
        assert app.focused is not None


async def test_quit_stops_the_log_follow() -> None:
    app, sources = build()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: sources.kube.follows == 1, what="follow started")
        await pilot.press("q")
    assert await asyncio.to_thread(sources.kube.stopped.wait, 2.0)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
async def test_every_pane_is_visible(size: tuple[int, int]) -> None:
    app, sources = build()
    sources.kube.emit(log_lines(10))
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: loaded(app), what="all sources")
        screen_region = app.screen.region
        for name in ("statuspage", "health", "metrics", "pods", "logs"):
            pane = app.screen.query_one(f"#{name}", SourcePane)
            region = pane.region
            assert region.height >= 5 and region.width >= 26, (name, region)
            assert screen_region.contains_region(region), (name, region)
        table = app.screen.query_one("#pods DataTable", DataTable)
        await until(pilot, lambda: table.scrollable_content_region.width > 0, what="the pods table laid out")
        assert table.virtual_size.width <= table.scrollable_content_region.width, "pods table fits without scrolling"


async def test_pod_names_get_distinct_colours_that_stick() -> None:
    app, sources = build()
    sources.kube.emit(log_lines(6))  # three pods, two lines each, in turn
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: view(app).line_count == 6, what="lines")
        await pilot.press("5")
        v = view(app)
        v.action_toggle_wrap()  # one row per line
        await pilot.pause(0.1)
        v.scroll_home(animate=False, immediate=True)
        await pilot.pause(0.05)
        styles = [next(iter(v.render_line(y))).style for y in range(6)]
        pods = [line.pod for line in v.shown_lines()]
        by_pod = {pod: {styles[i] for i in range(6) if pods[i] == pod} for pod in set(pods)}
        assert all(len(s) == 1 for s in by_pod.values()), "a pod keeps its colour"
        assert len({next(iter(s)) for s in by_pod.values()}) == 3, "the three pods differ"
