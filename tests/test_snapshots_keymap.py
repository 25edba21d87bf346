"""Snapshot of the cockpit with a user's [keymap] and [ui] theme
(pytest-textual-snapshot). Update with ``--snapshot-update`` only after
looking at the report."""

from __future__ import annotations

from dataclasses import replace

from test_app_fakes import FakeSources, fast_config, log_lines
from test_snapshots import NARROW, clock, loaded
from test_snapshots_drill import own_state_dir  # noqa: F401 (a fixture: fresh state dir, times in UTC)

from clay_cockpit.app import make_app
from clay_cockpit.screens.keymap import check_ui


def test_footer_shows_the_remapped_keys_in_the_theme(snap_compare) -> None:
    """80x24, [keymap] incident.declare = "I", app.help = ["f1", "?"],
    app.quit = "ctrl+x" and [ui] theme = "nord": the footer reads "12345 Panes
    d Decide I Declare f1 Help ^x Quit" (each binding with its new key),
    in nord's blue-grey colours; the panes as in
    test_main_screen_during_an_incident otherwise."""
    config = fast_config()
    config = replace(
        config,
        keymap=(("incident.declare", "I"), ("app.help", "f1,question_mark"), ("app.quit", "ctrl+x")),
        ui=replace(config.ui, theme="nord"),
    )
    check_ui(config)
    sources = FakeSources()
    app = make_app(config, sources, clock=clock, title="clay-cockpit · snapshot", speed=float("inf"))
    sources.kube.emit(log_lines(40))
    assert snap_compare(app, terminal_size=NARROW, run_before=loaded(app))
