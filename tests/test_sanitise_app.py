"""The cockpit fed hostile text through every source (issue 12).

The fakes of the snapshot tests hand the panes snapshots whose every
string is hostile, raw (the sources' own sanitising is tested in
test_sanitise.py; here the widgets must hold on their own): markup that
would crash (``[/]``), click (``[@click=app.quit]``) or vanish
(``[FILTERED]``), OSC 8/0/52, CSI 2J, U+009B and bidi overrides. Then every
source fails with such a message, and the update editor opens, filled from
those facts. At a wide and a narrow (compact pods table) terminal:

- the app does not crash, the brackets show literally;
- no line any widget renders carries a link or a click action (the cockpit
  has none of its own), nor an escape, C1 or bidi character, nor a payload.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import pytest
from rich.segment import Segment
from test_app_fakes import NOW, FakeSources, fast_config, health_snapshot, log_lines, metrics_snapshot, pods_snapshot, statuspage_snapshot
from test_redact_app import widget_text
from test_sanitise import BRACKETS, HOSTILE, PAYLOADS
from textual.geometry import Region
from textual.widget import Widget
from textual.widgets import TextArea

from clay_cockpit.app import CockpitApp, make_app
from clay_cockpit.sanitise import UNSAFE
from clay_cockpit.screens.compose import ComposeScreen
from clay_cockpit.screens.main import MainScreen
from clay_cockpit.signals import Component, ComponentStatus, ErrorKind, HealthCheck, LogLine, Series, SourceError, StatusIncident
from clay_cockpit.widgets.logs import LogView

pytestmark = pytest.mark.asyncio


@pytest.fixture(autouse=True)
def own_state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


def hostile_sources() -> FakeSources:
    sources = FakeSources()
    sp = statuspage_snapshot()
    inc = sp.incidents[0]
    sources.statuspage.result = replace(
        sp,
        page_name=HOSTILE,
        description=HOSTILE,
        components=(Component(HOSTILE, ComponentStatus.MAJOR_OUTAGE, HOSTILE), *sp.components),
        incidents=(
            replace(inc, name=HOSTILE, latest_update=HOSTILE + "\nsecond line", components=(HOSTILE,)),
            StatusIncident(
                id=HOSTILE,
                name=HOSTILE,
                status=HOSTILE,
                impact="major",
                started_at=inc.started_at,
                updated_at=inc.updated_at,
                latest_update=HOSTILE,
                latest_update_at=None,
                url=HOSTILE,
            ),
        ),
    )
    health = health_snapshot()
    sources.health.result = replace(health, version=HOSTILE, checks=(HealthCheck(HOSTILE, "fail", HOSTILE, False), *health.checks))
    metrics = metrics_snapshot()
    s401 = metrics.series[0]
    sources.metrics.result = replace(
        metrics,
        series=(
            *metrics.series,
            Series(f"errors_by_code:{HOSTILE}", "errors_by_code", HOSTILE, "req/s", (("code", HOSTILE),), 3.0, s401.points),
        ),
    )
    pods = pods_snapshot()
    sources.kube.pods = replace(
        pods, pods=(replace(pods.pods[1], name=HOSTILE, status=HOSTILE, last_termination=HOSTILE, owner=HOSTILE, node=HOSTILE), *pods.pods)
    )
    lines = log_lines(6)
    sources.kube.emit((*lines, LogLine(HOSTILE, HOSTILE, lines[-1].ts), LogLine(lines[0].pod, "level=error " + HOSTILE, lines[-1].ts)))
    return sources


def failing(sources: FakeSources) -> None:
    """Every source fails, its message and hint hostile."""
    for name in ("statuspage", "health"):
        getattr(sources, name).result = SourceError(name, ErrorKind.BAD_RESPONSE, HOSTILE, HOSTILE)
    sources.metrics.result = SourceError("metrics", ErrorKind.BAD_RESPONSE, HOSTILE, HOSTILE)
    sources.kube.pods = SourceError("kube", ErrorKind.BAD_RESPONSE, HOSTILE, HOSTILE)
    sources.kube.fail(SourceError("logs", ErrorKind.BAD_RESPONSE, HOSTILE, HOSTILE))


async def until(pilot, cond: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.03)


def rendered_segments(app: CockpitApp) -> list[Segment]:
    """Every segment every visible widget of the current screen renders (borders and titles included): what the
    compositor hands the terminal."""
    out: list[Segment] = []
    for widget in app.screen.walk_children(Widget, with_self=True):
        if not widget.display or not widget.is_mounted or not widget.outer_size.area:
            continue
        for strip in widget.render_lines(Region(0, 0, *widget.outer_size)):
            out.extend(strip)
    return out


def check_screen(app: CockpitApp, where: str) -> None:
    segments = rendered_segments(app)
    assert segments, where
    for seg in segments:
        style = seg.style
        if style is not None:
            assert not style.link, f"{where}: a link on {seg.text!r}: {style.link}"
            assert not any(key.startswith("@") for key in style.meta), f"{where}: an action on {seg.text!r}: {style.meta}"
        bad = UNSAFE.search(seg.text)
        assert bad is None and "\x1b" not in seg.text, f"{where}: {seg.text!r} reaches the terminal"
        assert not any(p in seg.text for p in PAYLOADS), f"{where}: {seg.text!r}"
    shown = "".join(seg.text for seg in segments)
    assert "[/]" in shown, where  # the brackets show literally (markup would have eaten them, or crashed)


@pytest.mark.parametrize("size", [(160, 50), (80, 24)], ids=["wide", "80x24-compact"])
async def test_hostile_text_from_every_source_stays_text(size) -> None:
    sources = hostile_sources()
    app = make_app(fast_config(), sources, clock=lambda: NOW + 12, title="test cockpit")
    async with app.run_test(size=size, notifications=True) as pilot:
        await until(
            pilot,
            lambda: (
                isinstance(app.screen, MainScreen)
                and app.screen.query(LogView)
                and app.signals.pods.ok
                and app.signals.metrics.ok
                and app.signals.statuspage.ok
                and app.signals.health.ok
                and app.main_screen.query_one(LogView).line_count == 8
            ),
            what="every source's hostile data",
        )
        await pilot.pause(0.2)
        text = widget_text(app)
        for literal in BRACKETS:
            assert literal in text, literal
        check_screen(app, "data")

        await pilot.press("i")  # declare: the incident records outside text as evidence
        await until(pilot, lambda: app.desk.recorder.open is not None and not app.desk.busy, what="the declaration")
        await pilot.press("n")  # the update editor, its template filled from the hostile facts
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen), what="the update editor")
        await pilot.pause(0.2)
        check_screen(app, "update editor")
        editor: ComposeScreen = app.screen
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen), what="back on the main screen")
        # a draft that holds raw outside text (a template filled elsewhere, a draft file edited): the editor shows it inert
        raw = replace(editor.draft, text=HOSTILE + "\n" + editor.draft.text)
        app.push_screen(ComposeScreen(editor.desk, raw))
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen), what="the editor with a raw draft")
        await pilot.pause(0.2)
        assert "[@click=app.quit]Q[/]" in app.screen.query_one(TextArea).text
        check_screen(app, "update editor, raw draft")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen), what="back on the main screen")

        app.notify(HOSTILE, title=HOSTILE)  # a toast quoting outside text (an action's error, a Kubernetes message)
        failing(sources)
        await until(
            pilot,
            lambda: all(r.error is not None for r in (app.signals.statuspage, app.signals.health, app.signals.metrics, app.signals.pods)),
            what="every source failing",
        )
        await pilot.pause(0.3)
        await until(pilot, lambda: any(type(w).__name__ == "Toast" for w in app.screen.walk_children(Widget)), what="the toast")
        check_screen(app, "failures")
        for pane in app.screen.query(".pane--what"):
            assert "[/]" in str(pane.content.plain)
    assert app.return_code in (None, 0)
