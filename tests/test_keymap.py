"""[keymap] and [ui] theme in the running cockpit (Pilot, fakes): a remapped
key acts and the old one no longer does; the footer, the help screen and the
palette show the new keys; the palette's own key moves; the theme applies and
NO_COLOR still strips every colour under it."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from rich.segment import Segment
from rich.style import Style
from test_app import clock, own_state_dir, plain, until  # noqa: F401 (own_state_dir: a fixture)
from test_app_fakes import FakeSources, fast_config
from test_cli import logging_restored  # noqa: F401 (a fixture)
from textual.color import Color
from textual.command import CommandPalette
from textual.widgets import Static

from clay_cockpit.app import make_app
from clay_cockpit.screens.help import HelpScreen
from clay_cockpit.screens.keymap import check_ui

SIZE = (80, 24)
KEYMAP = (("incident.declare", "I"), ("app.help", "question_mark,f1"), ("app.commands", "f2"))
pytestmark = pytest.mark.asyncio


def remapped_config(theme: str = "nord"):
    config = fast_config()
    config = replace(config, keymap=KEYMAP, ui=replace(config.ui, theme=theme))
    check_ui(config)  # what the CLI does before it starts the app
    return config


def footer_keys(app) -> dict[str, str]:
    from textual.widgets._footer import FooterKey

    return {key.description: key.key_display for key in app.screen.query(FooterKey)}


async def test_a_remapped_key_acts_and_shows_everywhere() -> None:
    app = make_app(remapped_config(), FakeSources(), clock=clock, title="test cockpit")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app._desk is not None and not app.desk.busy, what="the desk")
        assert app.theme == "nord"
        await until(pilot, lambda: footer_keys(app).get("Declare") == "I", what="the footer's I Declare")

        await pilot.press("i")  # the shipped key: nothing now
        await pilot.pause(0.2)
        assert app.desk.recorder.open is None
        await pilot.press("I")
        await until(pilot, lambda: app.desk.recorder.open is not None and not app.desk.busy, what="the incident")

        declare = {tooltip: key for tooltip, key, _ in app.palette_commands()}
        assert declare[next(b.tooltip for b in app.BINDINGS if b.id == "incident.declare")] == "key I"
        assert declare[next(b.tooltip for b in app.BINDINGS if b.id == "app.help")] == "key ?/f1"

        await pilot.press("f1")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help screen on f1")
        text = plain(app.screen.query_one("#help-text", Static).content)
        rows = (re.match(r"^\s*(\S+)  (.+?) — ", line) for line in text.splitlines())
        lines = {m.group(2): m.group(1) for m in rows if m}
        assert lines["Declare"] == "I" and lines["Help"] == "?/f1" and lines["Commands"] == "f2", lines
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, HelpScreen), what="help closed")

        await pilot.press("ctrl+p")  # Textual's palette key: not any more
        await pilot.pause(0.2)
        assert not isinstance(app.screen, CommandPalette)
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette), what="the palette on f2")


async def test_no_color_strips_every_colour_whatever_the_theme(monkeypatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(remapped_config("dracula"), FakeSources(), clock=clock, title="test cockpit")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app._desk is not None, what="the desk")
        assert app.theme == "dracula"
        line = [Segment("401", Style(color="#ff5555", bgcolor="#282a36", bold=True))]
        for line_filter in app.get_line_filters():
            line = line_filter.apply(line, Color.parse("#282a36"))

        def colourless(color) -> bool:
            return color is None or color.is_default

        assert all(seg.style is None or (colourless(seg.style.color) and colourless(seg.style.bgcolor)) for seg in line), line
        assert any(seg.style is not None and seg.style.bold for seg in line)  # bold (a non-colour cue) stays


async def test_the_help_screen_ends_with_the_log_file_in_use(tmp_path, monkeypatch, logging_restored) -> None:  # noqa: F811
    from clay_cockpit.cli import log_to_file

    path = log_to_file("info")
    app = make_app(fast_config(), FakeSources(), clock=clock, title="test cockpit")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app._desk is not None, what="the desk")
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help screen")
        text = plain(app.screen.query_one("#help-text", Static).content)
    files = text[text.rindex("Files") :].splitlines()
    assert files[1].split() == ["log", str(path), "(level", "info;", "--log-level", "or", "--debug", "changes", "it)"], files
    assert files[2].split() == ["incidents", str(app.state_dir / "incidents")], files
