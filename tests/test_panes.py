"""The signal panes' small faults seen at 80x24 (issue 10, "Also seen"): the
top bar's title, the error-rates frame on a backup, the logs' STALE marker,
a maintenance on Clay's page, CJK names — each drawn as a person would read it.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from rich.cells import cell_len
from textual.app import App, ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Static

from clay_cockpit.signals import Component, ComponentStatus, ErrorKind, HealthCheck, HealthSnapshot, LogLine, Reading, SourceError
from clay_cockpit.sources.statuspage import parse_summary
from clay_cockpit.widgets.context_bar import ContextBar
from clay_cockpit.widgets.health import health_content
from clay_cockpit.widgets.logs import LogsPane
from clay_cockpit.widgets.metrics import MetricsPane
from clay_cockpit.widgets.status import components_content, incidents_content

pytestmark = pytest.mark.asyncio
REAL = Path(__file__).parent / "fixtures" / "real"
NOW = 1_581_400_000.0  # 2020-02-11, the day of the real Huobi payload


def column_of(line: str, word: str) -> int:
    """The terminal column (cells) where ``word`` starts on ``line``."""
    return cell_len(line[: line.index(word)])


# --------------------------------------------------------------------------
# Clay status: maintenances, CJK


def real_summary_with_maintenance(status: str) -> dict:
    """Huobi's real summary.json (tests/fixtures/real), its scheduled maintenance set to ``status``."""
    doc = json.loads((REAL / "statuspage-summary-incident.json").read_text())
    doc = copy.deepcopy(doc)
    doc["scheduled_maintenances"][0]["status"] = status
    return doc


async def test_a_maintenance_in_progress_is_drawn_as_one_not_as_an_incident() -> None:
    doc = real_summary_with_maintenance("in_progress")
    doc["incidents"] = []  # only the maintenance
    snap = parse_summary(doc, fetched_at=NOW)
    (maint,) = snap.incidents
    assert maint.impact == "maintenance" and maint.status == "in_progress"
    text = incidents_content(snap.incidents, NOW).plain
    assert text.splitlines()[0] == "No unresolved incidents", text
    assert "◆ Schedule maintenance — maintenance in progress" in text and "▲" not in text
    assert "in_progress" not in text, "the API's word, not a person's"


async def test_an_incident_comes_before_a_maintenance_and_keeps_its_marker() -> None:
    snap = parse_summary(real_summary_with_maintenance("verifying"), fetched_at=NOW)
    lines = incidents_content(snap.incidents, NOW).plain.splitlines()
    assert lines[0].startswith("▲ Market data is delayed — investigating")
    assert any(line.startswith("◆ Schedule maintenance — maintenance verifying") for line in lines[1:])
    scheduled = parse_summary(real_summary_with_maintenance("scheduled"), fetched_at=NOW)  # not happening now: not shown
    assert "maintenance" not in incidents_content(scheduled.incidents, NOW).plain


async def test_a_cjk_component_name_does_not_push_its_status_out_of_the_column() -> None:
    components = (
        Component("API", ComponentStatus.MAJOR_OUTAGE),
        Component("数据同步", ComponentStatus.DEGRADED),  # 4 characters, 8 cells
        Component("Webhooks", ComponentStatus.PARTIAL_OUTAGE),
    )
    lines = components_content(components).plain.splitlines()
    columns = {column_of(line, word) for line, word in zip(lines, ("major outage", "degraded", "partial outage"))}
    assert len(columns) == 1, lines


async def test_a_cjk_health_check_name_keeps_the_status_column() -> None:
    snap = HealthSnapshot(
        "degraded", True, (HealthCheck("clay_api", "ok"), HealthCheck("队列", "degraded"), HealthCheck("db", "ok")), 200, 12.0, NOW
    )
    lines = health_content(snap).plain.splitlines()[1:]
    assert len({column_of(line, word) for line, word in zip(lines, ("degraded", "ok", "ok"))}) == 1, lines


# --------------------------------------------------------------------------
# In an app at 80 columns


class Bar(App):
    """The top bar as the cockpit lays it out: the context line, then a badge taking what it needs."""

    def __init__(self, title: str, target: str, shorter: tuple[str, ...], badge: str) -> None:
        super().__init__()
        self.bar = ContextBar(title, target, shorter=shorter)
        self.badge = Static(badge)
        self.badge.styles.width = "auto"

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield self.bar
            yield self.badge


def bar_text(bar: ContextBar) -> str:
    return bar.content.plain if hasattr(bar.content, "plain") else str(bar.content)


TITLE = "drill: Clay API key revoked (401)"
TARGET = "scenario key-revoked · clay-drill/clay-sync · app=clay-sync"
SHORTER = ("drill key-revoked", "key-revoked")


async def test_the_top_bar_gives_the_drill_a_name_that_fits_not_a_cut_title() -> None:
    badge = "P2 (triage P1) identified · 3:59:28 left ✉ update overdue 7:52 · page overdue"
    # the room the badges leave: 42 cells (the title, no room for the target), 20, 14
    for width, expected in ((36, TITLE), (58, "drill key-revoked"), (64, "key-revoked")):
        app = Bar(TITLE, TARGET, SHORTER, badge[:width].ljust(width))
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            shown = bar_text(app.bar)
            assert shown == expected, (width, shown)


async def test_the_target_is_shown_whole_or_not_at_all() -> None:
    """Never "scenario key-rev…": the longest form of the target that fits whole."""
    forms = [TITLE, f"{TITLE}  clay-drill/clay-sync", f"{TITLE}  clay-drill/clay-sync · app=clay-sync", f"{TITLE}  {TARGET}"]
    seen = []
    for width in range(80, 161, 4):
        app = Bar(TITLE, TARGET, SHORTER, "no incident · i declares")
        async with app.run_test(size=(width, 24)) as pilot:
            await pilot.pause()
            shown = bar_text(app.bar)
            assert shown in forms and "…" not in shown, (width, shown)
            seen.append(forms.index(shown))
    assert seen == sorted(seen) and seen[0] == 0 and seen[-1] == len(forms) - 1 and set(seen) == set(range(len(forms))), seen


async def test_the_countdown_to_the_fault_then_nothing_about_it() -> None:
    now = [1000.0]
    app = Bar(TITLE, TARGET, SHORTER, "no incident · i declares")
    async with app.run_test(size=(80, 24)) as pilot:
        app.bar.count_down_to(1012.4, lambda: now[0])
        await pilot.pause()
        assert "fault in 13 s" in bar_text(app.bar) and bar_text(app.bar).startswith(TITLE)
        now[0] = 1011.9
        await pilot.pause(0.6)  # its own timer redraws when the whole seconds change
        assert "fault in 1 s" in bar_text(app.bar)
        now[0] = 1012.5
        await pilot.pause(0.7)
        assert "fault" not in bar_text(app.bar) and app.bar.countdown == ""
        now[0] = 900.0  # a clock that went back does not bring it back: it started
        await pilot.pause(1.2)
        assert "fault" not in bar_text(app.bar)


async def test_a_long_title_gives_way_to_the_countdown_not_the_other_way() -> None:
    title = "drill: Clay failing, its status page unreachable"
    app = Bar(
        title,
        "scenario status-page-down · clay-drill/clay-sync",
        ("drill status-page-down", "status-page-down"),
        "no incident · i declares",
    )
    async with app.run_test(size=(80, 24)) as pilot:
        app.bar.count_down_to(10_000_000_000.0 + 20, lambda: 10_000_000_000.0)
        await pilot.pause()
        assert bar_text(app.bar) == "drill status-page-down  fault in 20 s"


class Panes(App):
    def __init__(self, pane) -> None:
        super().__init__()
        self.pane = pane

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield self.pane
            yield Static("", id="rest")

    def on_mount(self) -> None:
        self.pane.styles.width = 30  # the error-rates pane at 80x24
        self.query_one("#rest").styles.width = "1fr"


async def test_the_error_rates_frame_on_a_backup_is_not_cut_at_80_columns() -> None:
    from test_app_fakes import metrics_snapshot

    from clay_cockpit.config import Thresholds

    snap = metrics_snapshot(NOW, backup=True)
    pane = MetricsPane(Thresholds(), ("http://127.0.0.1:9091",))
    app = Panes(pane)
    async with app.run_test(size=(80, 24)) as pilot:
        for age in (0.0, 12.0, 700.0):
            pane.show(Reading(value=snap, updated_at=NOW, checked_at=NOW), NOW + age)
            await pilot.pause()
            title, subtitle = pane.border_title or "", pane.border_subtitle or ""
            assert "BACKUP" in title and Content.from_markup(title).cell_length <= pane.outer_size.width - 6, title
            assert subtitle == "backup 1 127.0.0.1:9091", subtitle
        notice = str(pane.query_one(".metrics--notice", Static).content)
        assert notice == "⚠ primary unreachable", notice


async def test_pod_logs_are_stale_only_when_nothing_arrived_since_the_failure() -> None:
    pane = LogsPane(100)
    app = Panes(pane)
    async with app.run_test(size=(80, 24)) as pilot:
        line = LogLine(pod="clay-sync-abc-x1y2z", text='level=info msg="clay call" status=200')
        pane.append((line,), NOW)
        error = SourceError("logs", ErrorKind.AUTH_EXPIRED, "the cluster refused our credentials while listing pods", "log in again")
        pane.show_error(error, NOW + 1)
        pane.tick(NOW + 20)
        await pilot.pause()
        assert "STALE 20s" in (pane.border_title or "") and pane.has_class("-stale"), pane.border_title
        # the pods already followed keep delivering (an expired login refuses the next list, not open streams)
        pane.append((line,), NOW + 30)
        await pilot.pause()
        assert "STALE" not in (pane.border_title or "") and not pane.has_class("-stale"), pane.border_title
        assert pane.has_class("-error") and pane.border_subtitle == "✗ auth_expired", "the failure is still said"
        pane.show_error(None, NOW + 31)
        await pilot.pause()
        assert not pane.has_class("-error")


# --------------------------------------------------------------------------
# Focus on failing panes (issue 12): keys 1-5 show it whatever the state


async def test_focus_shows_on_failing_panes_and_stale_data_stays_under_one_line(tmp_path, monkeypatch) -> None:
    """At 80x24 a STALE pane shows its last good data under one error line;
    focusing it (1) turns its frame heavy and shows the hint; focusing
    another (2) gives both back. A pane with nothing to show keeps its hint."""
    from test_app_fakes import FakeSources, fast_config, health_snapshot, statuspage_snapshot, unreachable

    from clay_cockpit.app import make_app
    from clay_cockpit.widgets.common import SourcePane

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    sources = FakeSources()
    sources.statuspage.result = statuspage_snapshot()
    sources.health.result = health_snapshot()
    now = [NOW]
    app = make_app(fast_config(), sources, clock=lambda: now[0], state_dir=tmp_path / "state")

    async def until(pilot, cond) -> None:
        for _ in range(300):
            if cond():
                return
            await pilot.pause(0.02)
        raise AssertionError("timed out")

    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.signals.statuspage.ok and app.signals.health.ok)
        sources.statuspage.result = unreachable("statuspage", "status.clay.com:443")
        sources.health.result = unreachable("health", "127.0.0.1:9")
        now[0] += 40
        await pilot.press("r")
        await until(pilot, lambda: app.signals.statuspage.error is not None and app.signals.health.error is not None)
        await pilot.pause(0.1)
        status = app.screen.query_one("#statuspage", SourcePane)
        hint = status.query_one(".pane--hint")
        assert status.has_class("-error") and status.has_class("-stale")
        body_rows = status.query_one(".pane--body").size.height
        assert not hint.display and status.query_one(".pane--what").size.height == 1
        assert body_rows >= 3, "the last good page keeps the pane's rows"
        round_border = status.styles.border_top[0]

        await pilot.press("1")
        await pilot.pause(0.1)
        assert status.has_focus_within and hint.display, "the focused failing pane shows its hint"
        assert status.styles.border_top[0] == "heavy" != round_border, "the focus shows on a failing frame"

        await pilot.press("2")
        await pilot.pause(0.1)
        health = app.screen.query_one("#health", SourcePane)
        assert health.has_focus_within and health.styles.border_top[0] == "heavy"
        assert not hint.display and status.styles.border_top[0] == round_border
        pods = app.screen.query_one("#pods", SourcePane)
        if pods.has_class("-error") and not pods.has_class("-stale"):
            assert pods.query_one(".pane--hint").display, "nothing to show: the hint stays"
