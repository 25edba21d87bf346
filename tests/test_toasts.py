"""Toasts held while a modal asks for a key, a name or a confirmation
(screens/toasts.py): what waits, what comes back, and for how long."""

from __future__ import annotations

import asyncio
import threading
import time
from types import SimpleNamespace

from textual.app import App, ComposeResult
from textual.widgets import Static

from clay_cockpit.screens.app_terminal import AppTerminal
from clay_cockpit.screens.toasts import HELD, ToastHold


class Modal:
    HOLDS_TOASTS = True


class Main:
    pass


class FakeApp:
    NOTIFICATION_TIMEOUT = 5.0

    def __init__(self) -> None:
        self.screen_stack = [Main()]
        self.cleared = 0

    @property
    def screen(self) -> object:
        return self.screen_stack[-1]

    def clear_notifications(self) -> None:
        self.cleared += 1


def make() -> tuple[FakeApp, ToastHold, list[tuple[str, float]], list[float]]:
    app, shown, now = FakeApp(), [], [100.0]
    hold = ToastHold(app, lambda message, **kw: shown.append((message, kw["timeout"])), clock=lambda: now[0])  # type: ignore[arg-type]
    return app, hold, shown, now


def toast(message: str, timeout: float | None = None) -> tuple:
    return (message, "", "information", timeout, False)


def test_a_toast_under_a_modal_waits_and_shows_for_what_is_left_of_its_time() -> None:
    app, hold, shown, now = make()
    assert hold.hold(toast("before", 5.0)) is False  # shown at once (the caller shows it)
    now[0] += 1.0
    app.screen_stack.append(Modal())
    hold.screen_changed(app.screen)  # the modal: the one still showing is taken down and waits
    assert app.cleared == 1
    assert hold.hold(toast("during", 12.0)) is True
    now[0] += 2.0
    app.screen_stack.pop()
    hold.screen_changed(app.screen)
    assert shown == [("before", 2.0), ("during", 10.0)]


def test_a_toast_whose_time_ran_out_under_the_modal_does_not_come_back() -> None:
    app, hold, shown, now = make()
    hold.hold(toast("Incident declared"))  # the app's default timeout: 5 s
    now[0] += 3.0
    app.screen_stack.append(Modal())
    hold.screen_changed(app.screen)
    now[0] += 10.0  # the responder read the plan and confirmed
    app.screen_stack.pop()
    hold.screen_changed(app.screen)
    assert shown == []


def test_the_held_toasts_are_bounded() -> None:
    app, hold, shown, now = make()
    app.screen_stack.append(Modal())
    for i in range(HELD + 5):
        assert hold.hold(toast(f"t{i}", 30.0))
    app.screen_stack.pop()
    hold.screen_changed(app.screen)
    assert [m for m, _ in shown] == [f"t{i}" for i in range(5, HELD + 5)]


def test_the_screen_is_drawn_again_once_the_last_toast_has_gone() -> None:
    """Textual 8 takes an expired toast off the DOM without writing the rows
    it covered (a CI run showed one over the actions pane two minutes later):
    the cockpit's notify draws the whole screen once more after the toast's
    time, so nothing stays hidden under a toast that is no longer there."""

    class Toasting(AppTerminal, App[int]):
        def __init__(self) -> None:
            super().__init__()
            self._toasts = ToastHold(self, self.notify)
            self._typeahead = SimpleNamespace(screen_changed=lambda screen: None)  # type: ignore[assignment]
            self._stop_logs = threading.Event()

        def compose(self) -> ComposeResult:
            yield Static("the pane under the toast\n" * 20)

    async def run() -> list[tuple[float, object]]:
        app, drawn = Toasting(), []
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause(0.2)
            display = app._display

            def spy(screen: object, update: object) -> None:
                drawn.append((time.monotonic() - start, getattr(update, "region", None)))
                display(screen, update)  # type: ignore[arg-type]

            app._display = spy  # type: ignore[method-assign]
            start = time.monotonic()
            app.notify("rollout done", timeout=0.4)
            await pilot.pause(1.5)
        return drawn

    drawn = asyncio.run(run())
    after = [region for at, region in drawn if at >= 0.4]
    assert any(getattr(r, "width", 0) == 80 and getattr(r, "height", 0) == 24 for r in after), drawn
