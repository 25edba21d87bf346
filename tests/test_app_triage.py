"""The decision side of the cockpit with Pilot, against the fakes of
tests/test_app_fakes.py (401s at 94 % of calls, a Clay incident on the
status page, a crashlooping pod: mixed evidence): the triage strip and pane,
the decision view, declaring, severity and status, the checklist keys, the
clock, the timeline pane and view, failed writes, and resuming after a
restart on the same state dir. Everything asserted is what the screen shows
or what is in the incident's file.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable

import pytest
from test_app_fakes import (
    NOW,
    FakeSources,
    fast_config,
    health_snapshot,
    metrics_snapshot,
    unreachable,
)
from textual.app import App
from textual.content import Content
from textual.widgets import Static

from clay_cockpit.app import CockpitApp, make_app
from clay_cockpit.incident.timeline import EventKind, read
from clay_cockpit.screens.boot import DECISION_FRAMES, FRAMES, BootFrame, BootScreen, boot_layout
from clay_cockpit.screens.choose import ChoiceScreen
from clay_cockpit.screens.main import MainScreen
from clay_cockpit.screens.timeline_view import TimelineScreen
from clay_cockpit.widgets.checklist import ChecklistPane, ChecklistView
from clay_cockpit.widgets.context_bar import IncidentBadge
from clay_cockpit.widgets.metrics import ScaledSparkline
from clay_cockpit.widgets.timeline import TimelinePane
from clay_cockpit.widgets.triage import TriagePane, TriageStrip

pytestmark = pytest.mark.asyncio
NARROW, WIDE = (80, 24), (160, 48)


class Clock:
    def __init__(self, now: float = NOW + 12) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def build(state_dir, sources: FakeSources | None = None, clock: Clock | None = None) -> tuple[CockpitApp, FakeSources, Clock]:
    sources = sources or FakeSources()
    clock = clock or Clock()
    # speed: no stability window, so the fakes' verdict is adopted after two samples
    app = make_app(fast_config(), sources, clock=clock, title="triage test", state_dir=state_dir, speed=float("inf"))
    return app, sources, clock


async def until(pilot, cond: Callable[[], object], timeout: float = 8.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.03)


def text(widget: Static) -> str:
    content = widget.content
    return content.plain if isinstance(content, Content) else str(content)


def main(app: CockpitApp) -> MainScreen:
    return app.main_screen


async def ready(pilot, app: CockpitApp) -> None:
    """Every source answered, triage settled on the fakes' verdict, the incident looked for."""

    def settled() -> bool:
        desk = app._desk
        s = app.signals
        return (
            desk is not None
            and not desk.busy
            and desk.triaged is not None
            and desk.triaged.pending is None
            and all(r.ok for r in (s.statuspage, s.health, s.metrics, s.pods))
            and desk.triaged.latest.at == app.clock()
            and desk.triaged.assessment.severity is not None
        )

    await until(pilot, settled, what="the cockpit settled")
    await pilot.pause(0.1)


def badge(app: CockpitApp) -> str:
    return text(main(app).query_one(IncidentBadge))


def timeline_text(app: CockpitApp) -> str:
    return text(main(app).query_one("#timeline-events", Static))


def on_disk(app: CockpitApp) -> list:
    return list(read(app.desk.timeline_path()).events)


async def declare(pilot, app: CockpitApp) -> None:
    await pilot.press("i")
    await until(pilot, lambda: app.desk.recorder.open is not None and not app.desk.busy, what="the declaration")
    await pilot.pause(0.05)


async def test_the_strip_and_the_pane_say_branch_why_severity_and_what_to_do(tmp_path) -> None:
    app, _, _ = build(tmp_path)
    async with app.run_test(size=NARROW) as pilot:
        await ready(pilot, app)
        a = app.desk.triaged.assessment
        strip = main(app).query_one(TriageStrip)
        assert strip.region.height == 2 and strip.region.y == 1, "under the top bar, always in sight at 80x24"
        head, do = (text(s) for s in strip.query(Static))
        assert a.headline in head and "Credentials: Clay answers 401" in head and "confidence high" in head
        assert do.startswith("→ v Verify the Clay API key in the Secret · k Update the key"), "each action behind its key"
        pane = main(app).query_one(TriagePane)
        assert not pane.region, "at 80 columns the pane is in the decision view"
        await pilot.press("d")
        assert pane.region.height > 10 and pane.region.width == 80
        assert not main(app).query_one("#statuspage").region, "the signal panes made room"
        assert app.focused is not None and pane in app.focused.ancestors_with_self
        shown = "\n".join(text(s) for s in pane.query(Static) if s.display)
        flat = " ".join(shown.split())
        assert "Mixed evidence: Credentials + Infrastructure + Clay incident — most urgent first" in flat
        assert "401 at 37/s — 94% of 39/s Clay calls" in flat
        assert "Do now\n v  Verify the Clay API key in the Secret" in shown
        assert "P1 Complete outage · respond < 15 min" in shown and "e.g. Clay API unreachable" in shown
        assert pane.border_title == "d Triage · P1" and pane.border_subtitle == "confidence high"
        # the checklist marks the active branch's items and dims the others
        checklist = main(app).query_one(ChecklistView)
        verify = checklist.get_option("verify_key").prompt.markup
        queuing = checklist.get_option("enable_queuing").prompt.markup
        assert "▸" in verify and "$text-muted" not in verify.split("▸")[1]
        assert "▸" not in queuing and "$text-muted" in queuing
        await pilot.press("d")
        assert not pane.region and main(app).query_one("#statuspage").region
        await pilot.press("2")
        assert app.focused is not None and main(app).query_one("#health") in app.focused.ancestors_with_self


async def test_at_160_columns_the_decision_column_sits_beside_the_signal_panes(tmp_path) -> None:
    app, _, _ = build(tmp_path)
    async with app.run_test(size=WIDE) as pilot:
        await ready(pilot, app)
        screen = main(app)
        decide = screen.query_one("#decide").region
        live = screen.query_one("#live").region
        assert decide.x >= live.right and decide.width == 64 and live.width == 96
        for name in ("triage", "checklist", "timeline"):
            region = screen.query_one(f"#{name}").region
            assert region.height >= 8 and decide.contains_region(region), name
        assert not screen.query_one(TriageStrip).region, "no strip: the pane is on screen"
        await pilot.press("d")
        assert app.focused is not None and screen.query_one(TriagePane) in app.focused.ancestors_with_self


async def test_after_the_symptom_ended_u_proposes_monitoring(tmp_path) -> None:
    """A fix whose symptom was seen to end (the actions desk's symptom_ended):
    the status picker proposes monitoring, not the next step (identified)."""
    app, _, clock = build(tmp_path)
    async with app.run_test(size=NARROW) as pilot:
        await ready(pilot, app)
        await declare(pilot, app)
        app.desk.recorder.store.record(
            EventKind.SYMPTOM_ENDED,
            "Mitigated: 401s stopped at 03:31:12 UTC",
            {"symptom": "auth_errors", "label": "401s", "ended_at": clock() + 5},
            now=clock() + 6,
        )
        await pilot.press("u")
        assert isinstance(app.screen, ChoiceScreen)
        await pilot.press("enter")  # the proposed status
        assert app.desk.recorder.open.status == "monitoring"


async def test_declare_accept_override_status_tick_then_restart_resumes_it_all(tmp_path) -> None:
    app, _, clock = build(tmp_path)
    async with app.run_test(size=NARROW) as pilot:
        await ready(pilot, app)
        assert badge(app) == "no incident · i declares"
        await declare(pilot, app)
        inc = app.desk.recorder.open
        assert inc.suggested == "P1" and inc.chosen is None and inc.declared_at == clock()
        assert badge(app) == "P1? investigating · 15:00 left"
        await pilot.press("a")
        assert badge(app) == "P1 investigating · 15:00 left"
        await pilot.press("s")
        assert isinstance(app.screen, ChoiceScreen)
        await pilot.press("2")
        assert badge(app) == "P2 (triage P1) investigating · 15:00 left", "lowering by hand never moves the clock later"
        await pilot.press("c")
        assert isinstance(app.focused, ChecklistView) and main(app).deciding
        await pilot.press("3")  # step 3: its first item
        assert app.focused.highlighted_option.id == "verify_key"
        clock.now += 60
        await pilot.press("space")
        await until(pilot, lambda: "verify_key" in app.desk.recorder.open.ticks, what="the tick")
        assert "[x] ▸ 401/403: verify the API key in the Secret  03:31:12" in app.focused.get_option("verify_key").prompt.plain
        await pilot.press("escape")
        assert not isinstance(app.focused, ChecklistView)
        await pilot.press("u")
        assert isinstance(app.screen, ChoiceScreen)
        await pilot.press("enter")  # the proposed next status
        assert app.desk.recorder.open.status == "identified"
        clock.now += 540
        await pilot.pause(1.2)  # the clock ticks once a second
        assert badge(app) == "P2 (triage P1) identified · 5:00 left"
        assert "Status investigating → identified" in " ".join(timeline_text(app).split())
        ticks = dict(app.desk.recorder.open.ticks)
        kinds = [e.kind for e in on_disk(app)]
    assert kinds[:2] == [EventKind.INCIDENT_DECLARED, EventKind.EVIDENCE_SNAPSHOT]
    assert kinds.count(EventKind.SEVERITY_CHANGED) == 2 and EventKind.STATUS_CHANGED in kinds
    assert {k for k, t in ticks.items() if t.auto} == {"check_status_page", "check_health", "check_metrics"}
    assert not ticks["verify_key"].auto

    # a new cockpit on the same state dir: the incident with its clock, checklist and timeline
    again, _, _ = build(tmp_path, clock=Clock(clock.now + 60))
    async with again.run_test(size=WIDE) as pilot:
        await ready(pilot, again)
        inc = again.desk.recorder.open
        assert inc is not None and inc.status == "identified" and inc.chosen == "P2" and inc.suggested == "P1"
        assert dict(inc.ticks) == ticks
        assert badge(again) == "P2 (triage P1) identified · 4:00 left"
        checklist = main(again).query_one(ChecklistPane)
        assert checklist.border_title == "c Checklist · 4/17"
        assert "[x] ▸ 401/403: verify the API key in the Secret  03:31:12" in checklist.view.get_option("verify_key").prompt.plain
        auto = checklist.view.get_option("check_health").prompt.plain
        assert "auto 03:30:12" in auto and "health: down (HTTP 503)" in auto
        timeline = main(again).query_one(TimelinePane)
        assert timeline.border_title.startswith(f"t Timeline · {inc.id} · ")
        shown = " ".join(timeline_text(again).split())
        assert f"Incident {inc.id} declared" in shown and "Ticked: 401/403: verify the API key in the Secret" in shown


async def test_the_clock_turns_warning_then_error(tmp_path) -> None:
    app, _, clock = build(tmp_path)
    async with app.run_test(size=NARROW) as pilot:
        await ready(pilot, app)
        await declare(pilot, app)
        widget = main(app).query_one(IncidentBadge)
        assert "$text-success" in widget.content.markup
        clock.now += 11 * 60
        await until(pilot, lambda: badge(app).endswith("4:00 left"), what="the clock")
        assert "$text-warning" in widget.content.markup
        clock.now += 5 * 60
        await until(pilot, lambda: badge(app).endswith("overdue 1:00"), what="overdue")
        assert "$text-error" in widget.content.markup
        await pilot.press("u", "3")  # monitoring: the clock stops
        assert badge(app) == "P1? monitoring · missed by 1:00"


async def test_notable_moments_wait_for_a_declaration_then_go_on_the_timeline(tmp_path) -> None:
    app, sources, clock = build(tmp_path)
    async with app.run_test(size=WIDE) as pilot:
        await ready(pilot, app)
        assert "Seen so far — declaring keeps these as evidence:" in timeline_text(app)
        assert "Pod OOMKilled: clay-sync-7d9f8c6b5-x2x9k" in " ".join(timeline_text(app).split())
        await declare(pilot, app)
        evidence = on_disk(app)[1].data
        assert any(b["summary"].startswith("Clay incident on the status page: Market data is delayed") for b in evidence["before"])
        assert evidence["health"]["status"] == "down"
        sources.statuspage.result = unreachable("statuspage", "status.clay.com:443")
        await pilot.press("r")
        await until(
            pilot, lambda: "Clay status page failed: unreachable" in " ".join(timeline_text(app).split()), what="the failure recorded"
        )
        clock.now += 125
        sources.health.result = health_snapshot()
        from test_app_fakes import statuspage_snapshot

        sources.statuspage.result = statuspage_snapshot()
        await pilot.press("r")
        await until(
            pilot,
            lambda: "Clay status page recovered after 2 min (unreachable)" in " ".join(timeline_text(app).split()),
            what="the recovery",
        )
        kinds = [e.kind for e in on_disk(app)]
        assert EventKind.SOURCE_FAILED in kinds and EventKind.SOURCE_RECOVERED in kinds


async def test_a_failed_write_shows_and_nothing_is_shown_as_recorded(tmp_path, monkeypatch) -> None:
    app, _, _ = build(tmp_path)
    async with app.run_test(size=WIDE) as pilot:
        await ready(pilot, app)
        await declare(pilot, app)
        real_write = os.write

        def full_disk(fd: int, data: bytes) -> int:
            if b'"kind":"checklist_ticked"' in data:
                raise OSError(28, "No space left on device")
            return real_write(fd, data)

        monkeypatch.setattr("clay_cockpit.incident.timeline.os.write", full_disk)
        await pilot.press("c", "3", "space")
        pane = main(app).query_one(TimelinePane)
        await until(pilot, lambda: pane.has_class("-error"), what="the failure shown")
        problems = text(pane.query_one("#timeline-problems", Static))
        assert "not recorded: Tick: 401/403: verify the API key in the Secret" in problems and "No space left on device" in problems
        assert pane.border_subtitle == "✗ not all recorded"
        assert "[ ]" in main(app).query_one(ChecklistView).get_option("verify_key").prompt.plain
        assert "verify_key" not in app.desk.recorder.open.ticks


async def test_the_timeline_view_walks_the_whole_incident(tmp_path) -> None:
    app, _, _ = build(tmp_path)
    async with app.run_test(size=NARROW) as pilot:
        await ready(pilot, app)
        await pilot.press("t")
        assert isinstance(app.screen, TimelineScreen)
        assert "no incident declared yet" in text(app.screen.query_one("#timeline-head", Static))
        await pilot.press("t")
        await declare(pilot, app)
        await pilot.press("a", "t")
        screen = app.screen
        assert isinstance(screen, TimelineScreen)
        events = on_disk(app)
        await until(pilot, lambda: screen.query_one("#timeline-all").option_count == len(events), what="the events read")
        assert f"{len(events)} events" in text(screen.query_one("#timeline-head", Static))
        detail = text(screen.query_one("#timeline-detail", Static))
        assert detail.startswith(f"#{events[-1].seq} ") and "severity_changed" in detail and '"accepted": true' in detail
        await pilot.press("up", "up")
        assert "checklist_ticked" in text(screen.query_one("#timeline-detail", Static)) or "branch" in text(
            screen.query_one("#timeline-detail", Static)
        )
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_error_sparklines_share_one_scale(tmp_path) -> None:
    app, _, _ = build(tmp_path)
    async with app.run_test(size=NARROW) as pilot:
        await ready(pilot, app)
        rows = {row.series_key: row.query_one(ScaledSparkline) for row in main(app).query("SeriesRow")}
        big, small = text(rows["errors_by_code:401"]), text(rows["errors_by_code:429"])
        assert "█" in big
        assert set(small) <= {"▁"}, f"0.4 req/s of 429s next to 38 req/s of 401s draws flat: {small!r}"
        assert "█" in text(rows["request_rate"]), "other series keep their own scale"


class Hanging:
    """Sources that do not answer until released: the cockpit's first frame, before any data."""

    def __init__(self) -> None:
        self.release = threading.Event()
        fake = FakeSources()
        self.statuspage, self.health = fake.statuspage, fake.health
        fake.statuspage.delay = fake.health.delay = 30.0
        pods = fake.kube.pods
        fake.metrics.result = lambda: (self.release.wait(30), metrics_snapshot())[1]
        fake.kube.pods = lambda: (self.release.wait(30), pods)[1]
        self.metrics, self.kube = fake.metrics, fake.kube


class BootOnly(App[None]):
    HORIZONTAL_BREAKPOINTS = CockpitApp.HORIZONTAL_BREAKPOINTS
    VERTICAL_BREAKPOINTS = CockpitApp.VERTICAL_BREAKPOINTS

    def get_default_screen(self) -> BootScreen:
        return BootScreen("t", "x", "keys")


LAYOUT_SIZES = [NARROW, WIDE, (81, 25), (127, 44), (137, 30)]  # both breakpoints, odd halves, a floored 40%


@pytest.mark.parametrize("size", LAYOUT_SIZES, ids=[f"{w}x{h}" for w, h in LAYOUT_SIZES])
async def test_the_boot_layout_is_the_cockpit_screens_first_layout(tmp_path, size) -> None:
    expected = boot_layout(*size)
    sources = Hanging()
    app = make_app(fast_config(), sources, clock=Clock(), title="t", state_dir=tmp_path)
    try:
        async with app.run_test(size=size) as pilot:
            await until(pilot, lambda: isinstance(app.screen, MainScreen) and app._desk is not None, what="the cockpit")
            await pilot.pause(0.2)
            regions = {i: app.screen.query_one(f"#{i}").region for i in expected}
            hidden = [i for i in ("triage-strip", "decide") if i not in expected and app.screen.query_one(f"#{i}").region.area]
            sources.release.set()
    finally:
        sources.release.set()
    assert regions == expected
    assert not hidden, f"shown on the cockpit screen, not drawn on the first frame: {hidden}"
    await asyncio.sleep(0)


@pytest.mark.parametrize("size", [NARROW, WIDE], ids=["80x24", "160x48"])
async def test_the_first_frame_draws_each_pane_where_the_layout_puts_it(size) -> None:
    boot = BootOnly()
    async with boot.run_test(size=size) as pilot:
        await pilot.pause(0.05)
        frame = boot.screen.query_one(BootFrame)
        rows = [frame.render_line(y).text for y in range(size[1])]
    layout = boot_layout(*size)
    names = {pane_id: f"{key} {name}" for pane_id, key, name in FRAMES + DECISION_FRAMES}
    drawn = [pane_id for pane_id in names if pane_id in layout]
    assert len(drawn) == (9 if size == WIDE else 5)
    for pane_id in drawn:
        x, y, w, h = layout[pane_id]
        assert rows[y][x : x + w].startswith(f"╭─ {names[pane_id]}") and rows[y][x + w - 1] == "╮", pane_id
        assert rows[y + h - 1][x : x + w] == "╰" + "─" * (w - 2) + "╯", pane_id
        assert rows[y + 1][x + 2 :].startswith("starting…"), pane_id
    assert rows[0].startswith(" t  x") and rows[-1] == " keys".ljust(size[0])
    assert ("triage: waiting" in rows[1]) == (size == NARROW)


async def test_a_torn_last_line_is_shown_after_a_restart_and_the_incident_still_resumes(tmp_path) -> None:
    app, _, _ = build(tmp_path)
    async with app.run_test(size=WIDE) as pilot:
        await ready(pilot, app)
        await declare(pilot, app)
        path = app.desk.timeline_path()
        count = len(on_disk(app))
    torn = b'{"v": 1, "seq": 99, "at": 1581391812.0, "kind": "checklist_ticked", "summ'  # a crash in the middle of a write
    path.write_bytes(path.read_bytes() + torn)
    again, _, _ = build(tmp_path)
    async with again.run_test(size=WIDE) as pilot:
        await ready(pilot, again)
        assert again.desk.recorder.open is not None and again.desk.timeline_path() == path
        pane = main(again).query_one(TimelinePane)
        assert pane.has_class("-error") and pane.border_subtitle == "⚠ file damaged"
        problems = text(pane.query_one("#timeline-problems", Static))
        assert "torn write" in problems and path.name in problems
        assert len(again.desk.recorder.events()) == count, "nothing recorded twice: the Clay incident and the pods were seen before"


async def test_the_footer_recomposes_only_when_its_keys_change(tmp_path) -> None:
    """widgets/footer.py: moving the focus between panes changes no key the
    footer shows, so its key widgets stay; declaring an incident adds the
    incident keys, so it draws them."""
    from textual.widgets._footer import FooterKey

    from clay_cockpit.widgets.footer import KeyFooter

    app, _, _ = build(tmp_path)
    async with app.run_test(size=NARROW) as pilot:
        await ready(pilot, app)
        footer = main(app).query_one(KeyFooter)
        await pilot.pause(0.2)
        before = list(footer.query(FooterKey))
        assert "Accept" not in " ".join(k.description for k in before)
        await pilot.press("1", "2", "3", "4", "5")
        await pilot.pause(0.3)
        assert list(footer.query(FooterKey)) == before, "focus moves recomposed the footer"
        await declare(pilot, app)
        await until(pilot, lambda: "Accept" in " ".join(k.description for k in footer.query(FooterKey)), what="the incident keys")


def quiet_sources() -> FakeSources:
    """Every source healthy: no 401s, pods ready, health ok, Clay green."""
    from dataclasses import replace

    from test_app_fakes import pods_snapshot, statuspage_snapshot

    sources = FakeSources()
    sources.statuspage.result = statuspage_snapshot("statuspage-summary-operational.json")
    ok = {
        "status": "ok",
        "version": "1.14.2",
        "checks": {name: {"status": "ok", "detail": "fine"} for name in ("clay_api", "database", "queue", "fallback")},
    }
    sources.health.result = health_snapshot(ok)
    sources.metrics.result = metrics_snapshot(shift=-40)
    fine = pods_snapshot().pods[2]
    sources.kube.pods = replace(pods_snapshot(), pods=tuple(replace(fine, name=f"{fine.name[:-1]}{i}") for i in range(3)))
    return sources


async def test_declaring_while_a_raise_is_being_confirmed_records_what_the_strip_shows(tmp_path) -> None:
    """The clock stands still, so the stability window never passes: the
    401s stay "being confirmed". The strip leads with them, marked "?", and
    `i` declares exactly that — severity, branch and headline — not the
    healthy verdict the window still holds."""
    sources = quiet_sources()
    app = make_app(fast_config(), sources, clock=Clock(), title="triage test", state_dir=tmp_path, speed=1.0)
    async with app.run_test(size=NARROW) as pilot:
        await until(
            pilot,
            lambda: app._desk is not None and app.desk.triaged is not None and app.desk.triaged.assessment.branch == "healthy",
            what="healthy",
        )
        sources.metrics.result = metrics_snapshot()  # 401s on ~90% of calls
        sources.health.result = health_snapshot()
        await until(pilot, lambda: app.desk.triaged.leading and app.desk.triaged.latest.severity == "P1", what="the raise, pending")
        await pilot.pause(0.2)
        strip = main(app).query_one(TriageStrip)
        head = text(strip.query_one("#strip-head", Static))
        assert head.startswith("◔ Credentials: Clay answers 401 to ") and "— P1?" in head, head
        assert app.desk.triaged.assessment.branch == "healthy", "the window still holds the old verdict"
        shown = app.desk.triaged.latest.headline
        await declare(pilot, app)
        inc = app.desk.recorder.open
        assert (inc.severity, inc.suggested, inc.branch) == ("P1", "P1", "credentials")
        events = on_disk(app)
        assert events[0].summary.endswith(f"declared at P1 (Complete outage, respond < 15 min): {shown}")
        assert events[0].data["headline"] == shown
        assert [e.summary for e in events if e.kind == EventKind.BRANCH_CHANGED][0].startswith("Branch at declaration: Credentials")
        assert not [e for e in events if "Healthy" in e.summary or e.data.get("suggested") == "P4"]
        assert text(strip.query_one("#strip-head", Static)).startswith("▶ Credentials:"), "the declared verdict is the verdict now"
        assert badge(app).startswith("P1? investigating")


async def test_accept_leaves_the_footer_and_a_raise_by_triage_brings_it_back(tmp_path) -> None:
    """Accepted P2, triage moves to P1: the severity in force is P1 (the
    timeline says triage raised it), the clock counts to P1's 15 minutes,
    `a` is offered again; a lower suggestion later is only offered."""
    from clay_cockpit.widgets.footer import KeyFooter

    app, _, _ = build(tmp_path)
    async with app.run_test(size=NARROW) as pilot:
        await ready(pilot, app)
        await declare(pilot, app)
        footer = main(app).query_one(KeyFooter)
        await pilot.press("s", "2")  # the responder says P2
        await until(pilot, lambda: app.desk.recorder.open.severity == "P2", what="P2")
        await until(pilot, lambda: "a Accept" not in footer_text(footer), what="the footer without a Accept")
        assert badge(app) == "P2 (triage P1) investigating · 15:00 left"
        recorder = app.desk.recorder
        recorder.store.suggest("P3", reasons="errors decaying")  # (as triage's stable verdict would: lower is offered)
        assert recorder.open.severity == "P2" and recorder.open.lower_offer == "P3"
        inc = recorder.store.suggest("P1", reasons="Credentials: Clay answers 401 to 94% of calls — P1")
        assert (inc.severity, inc.confirmed) == ("P1", False)
        app.desk.refresh_panes()
        await until(pilot, lambda: "a Accept" in footer_text(footer), what="a Accept again")
        assert badge(app) == "P1? investigating · 15:00 left"
        assert on_disk(app)[-1].summary.startswith("Severity raised to P1 by triage (was P2)")


def footer_text(footer) -> str:
    from textual.widgets._footer import FooterKey

    return " ".join(f"{k.key_display} {k.description}" for k in footer.query(FooterKey))
