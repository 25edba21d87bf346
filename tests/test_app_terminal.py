"""The cockpit and its terminal: NO_COLOR strips every colour and keeps a
non-colour focus cue; a hangup or TERM ends it like `q` (so the demo's
clean-up runs); a key typed right after a focus key reaches the new pane."""

from __future__ import annotations

import os
import signal

import pytest
from test_app import SIZE, build, own_state_dir, until  # noqa: F401 (a fixture)

from clay_cockpit.widgets.common import SourcePane

pytestmark = pytest.mark.asyncio


async def test_no_color_strips_colour_and_keeps_a_focus_cue(monkeypatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app, _ = build()
    assert app.ansi_color is True  # Textual's NoColor filter, not its grey Monochrome one
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.screen.query(SourcePane))
        await pilot.press("3")
        await pilot.pause(0.1)
        focused, other = app.screen.query_one("#metrics", SourcePane), app.screen.query_one("#health", SourcePane)
        assert focused.styles.border_top[0] == "heavy"
        assert other.styles.border_top[0] == "round"


async def test_colour_by_default(monkeypatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    app, _ = build()
    assert app.ansi_color is None
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.screen.query(SourcePane))
        await pilot.press("3")
        await pilot.pause(0.1)
        assert app.screen.query_one("#metrics", SourcePane).styles.border_top[0] == "round"


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM], ids=["SIGHUP", "SIGTERM"])
async def test_hangup_ends_the_cockpit_cleanly(sig) -> None:
    app, _ = build()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.screen.query(SourcePane))
        assert sig in app._signal_handlers  # else the kill below would end the test process
        os.kill(os.getpid(), sig)
        for _ in range(100):
            if app._exit_renderables is not None or app.return_code is not None:
                break
            await pilot.pause(0.02)
    assert app.return_code == 128 + sig.value
    assert app._stop_logs.is_set()
    assert app._signal_handlers == []  # the process's own handling is back once the app is gone


async def test_key_after_focus_key_reaches_the_new_pane() -> None:
    """A focus key moves the focus before the next key is handled: keys typed
    in one burst (`5` then `end`) are queued, and `end` must reach the log
    view. Widget.focus() would only move it after the next refresh."""
    app, _ = build()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.screen.query(SourcePane))
        await pilot.press("1")
        app.action_focus_pane("logs")  # what `5` does; no await: nothing else runs in between
        assert app.focused is not None and app.focused in app.screen.query_one("#logs").query("*")


async def test_the_drivers_output_drops_writes_once_the_terminal_is_gone() -> None:
    """screens/terminal.py: Textual's writer thread writes through this; a
    dead terminal's EIO must not kill it (its full queue would then block
    the cockpit's shutdown for ever)."""
    import errno

    from clay_cockpit.screens.terminal import _Output

    class Tty:
        def __init__(self) -> None:
            self.written: list[str] = []
            self.gone = False

        def write(self, text: str) -> int:
            if self.gone:
                raise OSError(errno.EIO, "Input/output error")
            self.written.append(text)
            return len(text)

        def flush(self) -> None:
            if self.gone:
                raise OSError(errno.EIO, "Input/output error")

    tty = Tty()
    out = _Output(tty)
    assert out.write("frame 1") == 7 and not out.lost
    out.flush()
    tty.gone = True
    assert out.write("frame 2") == 7 and out.lost
    out.flush()
    tty.gone = False  # nothing more is written, even if the file would take it
    out.write("frame 3")
    assert tty.written == ["frame 1"]
