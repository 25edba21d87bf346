"""Toasts held while a modal asks for a key, a name or a confirmation
(screens/toasts.py): what waits, what comes back, and for how long."""

from __future__ import annotations

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
