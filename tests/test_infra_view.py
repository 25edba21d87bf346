"""The infrastructure view in the cockpit (key ``o``): it opens from the
main screen, shows ``Signals.infra`` as it changes while open (once a second),
keeps the highlighted row across refreshes, shows a selected event's whole
message, and Escape (or ``o``) goes back; the History lists the revisions and
``U`` on an older one asks for the rollback to it (the current one: why not);
its footer holds the view's keys, ``?`` and ``q`` within 80 columns."""

from __future__ import annotations

from dataclasses import replace

import pytest
from infra_fixtures import NEW_RS, NOW, OLD_RS, PROBE, REVISIONS, infra_snapshot
from test_app import SIZE, build, own_state_dir, until  # noqa: F401 (a fixture)
from textual.app import App
from textual.widgets import Footer, OptionList, Static

from clay_cockpit.screens.infra_view import InfraScreen
from clay_cockpit.signals import ErrorKind, Reading, SourceError

pytestmark = pytest.mark.asyncio


async def test_o_opens_the_view_it_follows_the_reading_and_escape_goes_back() -> None:
    app, _ = build()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.signals.pods.ok, what="pods")
        await pilot.press("o")
        await until(pilot, lambda: type(app.screen).__name__ == "InfraScreen", what="the view")
        head = app.screen.query_one("#infra-head", Static)
        assert "waiting for Kubernetes" in str(head.render())
        now = app.clock()
        snap = replace(infra_snapshot(), fetched_at=now)
        app._set_signals(replace(app.signals, infra=Reading(value=snap, updated_at=now, checked_at=now)))
        await until(pilot, lambda: app.screen.query_one("#infra-list", OptionList).option_count > 5, what="rows")
        await pilot.press("e")
        await pilot.pause(0.05)
        view = app.screen.query_one("#infra-list", OptionList)
        assert view.highlighted_option is not None and view.highlighted_option.id.startswith("events:Pod/")
        detail = str(app.screen.query_one("#infra-detail", Static).render())
        assert PROBE.split(";")[0] in detail and '"database":"ok"' in " ".join(detail.split())  # whole, not cut
        chosen = view.highlighted_option.id
        err = SourceError("infra", ErrorKind.TIMEOUT, "the event watch sent nothing for 60 s", "the API server may be overloaded")
        app._set_signals(replace(app.signals, infra=app.signals.infra.with_result(err, now + 1)))
        await until(pilot, lambda: app.screen.query_one("#infra-problem", Static).display, what="the failure shown")
        assert "STALE" in str(app.screen.query_one("#infra-head", Static).render())
        assert view.highlighted_option is not None and view.highlighted_option.id == chosen  # kept across the redraw
        await pilot.press("escape")
        assert type(app.screen).__name__ == "MainScreen"
        await pilot.press("o")
        await until(pilot, lambda: type(app.screen).__name__ == "InfraScreen", what="the view again")
        await pilot.press("o")
        assert type(app.screen).__name__ == "MainScreen"


# --------------------------------------------------------------------------
# The rollout history and U: choosing the revision to roll back to


class Host(App[None]):
    """The view alone, with what its U asks for recorded."""

    def __init__(self, reading: Reading) -> None:
        super().__init__()
        self.reading = reading
        self.asked: list[int] = []

    def on_mount(self) -> None:
        self.push_screen(InfraScreen(lambda: (self.reading, ()), lambda: NOW, self.asked.append))


def live_reading() -> Reading:
    return Reading(value=infra_snapshot(), updated_at=NOW - 3, checked_at=NOW - 3)


def highlighted(app: App[None]) -> str:
    option = app.screen.query_one("#infra-list", OptionList).highlighted_option
    return (option.id or "") if option is not None else ""


async def test_the_history_lists_the_revisions_and_u_asks_for_the_chosen_one() -> None:
    app = Host(live_reading())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.1)
        view = app.screen.query_one("#infra-list", OptionList)
        rows = {view.get_option_at_index(i).id: str(view.get_option_at_index(i).prompt) for i in range(view.option_count)}
        assert "History (2)" in rows["title:history"]
        seven, six = rows[f"history:7:{NEW_RS}"], rows[f"history:6:{OLD_RS}"]
        assert "rev 7" in seven and "current" in seven and "clay-sync:1.14.3" in seven and "3 pods" in seven and "deploy 1.14.3" in seven
        assert "rev 6" in six and "current" not in six and "clay-sync:1.14.2" in six and "1 pod" in six
        await pilot.press("h")
        await pilot.pause(0.05)
        assert highlighted(app) == f"history:7:{NEW_RS}"
        await pilot.press("U")  # the current revision: why not, never a plan
        await pilot.pause(0.05)
        assert app.asked == []
        assert any("revision 7 is the current one" in n.message for n in app._notifications)
        await pilot.press("down")
        await pilot.pause(0.05)
        detail = " ".join(str(app.screen.query_one("#infra-detail", Static).render()).split())
        assert "registry.example.com/clay-sync:1.14.2" in detail and f"ReplicaSet {OLD_RS}" in detail
        assert "rolls back to it: clay-sync:1.14.3 → clay-sync:1.14.2" in detail
        await pilot.press("U")
        await pilot.pause(0.05)
        assert app.asked == [6]


async def test_u_elsewhere_goes_to_the_older_revision_and_asks_for_nothing_yet() -> None:
    app = Host(live_reading())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.1)
        assert highlighted(app).startswith("changes:")
        await pilot.press("U")
        await pilot.pause(0.05)
        assert highlighted(app) == f"history:6:{OLD_RS}" and app.asked == []
        assert any("choose the revision" in n.message for n in app._notifications)
        app.reading = Reading(value=infra_snapshot(revisions=REVISIONS[:1]), updated_at=NOW - 1, checked_at=NOW - 1)
        await pilot.pause(1.2)  # (the view looks once a second)
        assert highlighted(app) != f"history:6:{OLD_RS}"  # (gone with its revision)
        app.clear_notifications()
        await pilot.press("c", "U")
        await pilot.pause(0.05)
        assert app.asked == [] and any("no older revision" in n.message for n in app._notifications)


async def test_in_the_cockpit_the_footer_shows_the_views_keys_help_and_quit_within_80_columns() -> None:
    app, _ = build()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.signals.pods.ok, what="pods")
        now = app.clock()
        app._set_signals(
            replace(app.signals, infra=Reading(value=replace(infra_snapshot(), fetched_at=now), updated_at=now, checked_at=now))
        )
        await pilot.press("o")
        await until(pilot, lambda: type(app.screen).__name__ == "InfraScreen", what="the view")
        await pilot.pause(0.1)
        footer = app.screen.query_one(Footer)
        keys = list(footer.query("FooterKey"))
        words = [" ".join(str(k.render()).split()) for k in keys]
        assert words == ["esc Back", "c Changes", "h History", "e Events", "n Nodes", "U Roll back", "? Help", "q Quit"], words
        assert all(k.region.width > 0 and k.region.right <= 80 for k in keys), [k.region for k in keys]  # whole, on screen
        await pilot.press("h", "down", "U")  # the older revision: to the actions desk (no cluster adapter here: it says so)
        await until(pilot, lambda: any("no Kubernetes adapter" in n.message for n in app._notifications), what="the desk's answer")
        await pilot.press("question_mark")
        await until(pilot, lambda: type(app.screen).__name__ == "HelpScreen", what="help from the view")
