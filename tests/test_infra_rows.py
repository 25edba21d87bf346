"""The infrastructure view's rows and counts (issue 14): the head and the
section titles count the same things (the changes with the cockpit's own
actions), the events line up in columns with the pods by their short names
(whole in the detail), and a section cut at MAX_ROWS says how many it shows."""

from __future__ import annotations

from dataclasses import replace

import pytest
from infra_fixtures import ACTIONS, EVENTS, NOW, infra_snapshot
from textual.app import App
from textual.widgets import OptionList, Static

from clay_cockpit.screens.infra_view import InfraScreen
from clay_cockpit.signals import KubeEvent, Reading
from clay_cockpit.widgets.infra import MAX_ROWS, counts, event_rows, node_rows, short_object


class Host(App[None]):
    def __init__(self, reading: Reading, actions=()) -> None:
        super().__init__()
        self.reading, self.actions = reading, actions

    def on_mount(self) -> None:
        self.push_screen(InfraScreen(lambda: (self.reading, self.actions), lambda: NOW))


def test_counts_include_the_cockpits_own_actions() -> None:
    assert counts(infra_snapshot(), ACTIONS) == {
        "changes": 3,
        "history": 2,
        "events": 3,
        "nodes": 2,
    }  # 2 from the cluster + 1 action (not the note)
    assert counts(None, ACTIONS) == {"changes": 1, "history": 0, "events": 0, "nodes": 0}


def test_events_in_columns_with_short_pod_names() -> None:
    rows = event_rows(infra_snapshot(), NOW)
    plain = [r.lines[0].plain for r in rows]
    starts = {p.index(e.message[:12]) for p, e in zip(plain, sorted(EVENTS, key=lambda e: -e.last_seen))}
    assert len(starts) == 1, plain  # every message begins in the same column
    assert "pod/x2x9k" in plain[0] and "clay-sync-7d9f8c6b5-x2x9k" not in plain[0]
    assert "Pod/clay-sync-7d9f8c6b5-x2x9k" in rows[0].detail.plain  # whole in the detail
    assert short_object("ReplicaSet", "clay-sync-7d9f8c6b5") == "replicaset/clay-sync-7d9f8c6b5"
    nodes = [r.lines[0].plain for r in node_rows(infra_snapshot(), NOW)]
    assert nodes[1].endswith("2 pods: q7wzl, h2kcd"), nodes


@pytest.mark.asyncio
async def test_head_and_titles_agree_and_a_cut_section_says_so() -> None:
    many = tuple(replace(EVENTS[0], name=f"clay-sync-7d9f8c6b5-{i:05d}", last_seen=NOW - i) for i in range(MAX_ROWS + 5))
    assert all(isinstance(e, KubeEvent) for e in many)
    app = Host(Reading(value=infra_snapshot(events=many), updated_at=NOW - 3, checked_at=NOW - 3), ACTIONS)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.1)
        head = str(app.screen.query_one("#infra-head", Static).render())
        assert f"3 changes · {MAX_ROWS + 5} events · 2 nodes" in head, head
        view = app.screen.query_one("#infra-list", OptionList)
        titles = [str(view.get_option(f"title:{s}").prompt) for s in ("changes", "events", "nodes")]
        assert titles == ["Changes (3)", f"Warning events ({MAX_ROWS} of {MAX_ROWS + 5})", "Nodes (2)"], titles
