"""The pods table at 500 rows (issue 15): troubled pods first, a filter and a sort
key, the title's counts, and an update that touches only what changed — measured.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from textual.app import App, ComposeResult
from textual.widgets import DataTable

from clay_cockpit.signals import PodInfo, PodsSnapshot, Reading
from clay_cockpit.widgets.pods import PodsPane, PodsTable, pod_rank, pods_view

NOW = 1_767_225_600.0
BORN = datetime.fromtimestamp(NOW - 3 * 86400, UTC)


def pod(i: int, status: str = "Running", *, ready: int = 1, restarts: int = 0, last: str | None = None, **kw: object) -> PodInfo:
    return PodInfo(
        name=f"clay-sync-7d9f8c6b5-{i:05d}",
        phase=str(kw.pop("phase", "Running")),
        ready=ready,
        containers=1,
        restarts=restarts,
        status=status,
        last_termination=last,
        created_at=BORN,
        owner="ReplicaSet/clay-sync-7d9f8c6b5",
        node=f"node-{i % 7}",
        **kw,  # type: ignore[arg-type]
    )


def fleet(n: int = 500) -> list[PodInfo]:
    pods = [pod(i) for i in range(n)]
    pods[17] = pod(17, "CrashLoopBackOff", ready=0, restarts=6, last="Error")
    pods[230] = pod(230, "Running", restarts=1, last="OOMKilled")
    pods[401] = pod(401, "Init:0/2", ready=0, phase="Pending")
    pods[402] = pod(402, "Terminating")
    pods[499] = pod(499, "Error", ready=0, phase="Failed", reason="Evicted")
    return pods


def snapshot(pods: list[PodInfo]) -> PodsSnapshot:
    return PodsSnapshot(context="drill", namespace="clay-sync", selector="app=clay-sync", pods=tuple(pods), fetched_at=NOW, response_ms=5)


class OnePane(App[None]):
    def __init__(self, pane: PodsPane) -> None:
        super().__init__()
        self.pane = pane

    def compose(self) -> ComposeResult:
        yield self.pane

    def action_filter_pods(self) -> None:  # the cockpit's app opens the filter line; here: a fixed text
        self.pane.set_filter("node-3")


def names(pane: PodsPane) -> list[str]:
    table = pane.query_one(PodsTable)
    return [str(r.key.value) for r in table.ordered_rows]


def test_troubled_first_then_the_rest() -> None:
    pods = fleet()
    order = [p.name[-5:] for p in pods_view(tuple(pods), "", 0, 3)]
    assert order[:5] == ["00017", "00230", "00401", "00402", "00499"]  # failing, OOMKilled, Init, Terminating, evicted
    assert order[5:8] == ["00000", "00001", "00002"]
    assert [p.name[-5:] for p in pods_view(tuple(pods), "init", 0, 3)] == ["00401"]
    assert [p.name[-5:] for p in pods_view(tuple(pods), "EVICTED", 0, 3)] == ["00499"]  # shown status and reason
    assert {p.node for p in pods_view(tuple(pods), "node-3", 0, 3)} == {"node-3"}
    assert [p.name[-5:] for p in pods_view(tuple(pods), "", 2, 3)][:2] == ["00017", "00230"]  # by restarts
    assert pod_rank(pods[499], 3) < pod_rank(pods[0], 3)  # evicted: troubled, before the pods that run fine


@pytest.mark.asyncio
async def test_500_rows_filter_sort_and_updates_in_place() -> None:
    pane = PodsPane(restarts_warn=3, id="pods")
    app = OnePane(pane)
    async with app.run_test(size=(100, 40)) as pilot:
        pods = fleet()
        pane.show(Reading(value=snapshot(pods), updated_at=NOW, checked_at=NOW), NOW)
        await pilot.pause()
        table = pane.query_one(PodsTable)
        assert table.row_count == 500
        assert names(pane)[:5] == [pods[i].name for i in (17, 230, 401, 402, 499)]
        assert "500 · 5 troubled" in (pane.border_title or ""), pane.border_title

        # nothing changed: no redraw
        drawn = pane.redraws
        pane.show(Reading(value=snapshot(list(pods)), updated_at=NOW + 1, checked_at=NOW + 1), NOW + 1)
        await pilot.pause()
        assert pane.redraws == drawn

        # a few pods change, one moves to the top
        timings = []
        for round_ in range(10):
            changed = list(pods)
            changed[300 + round_] = replace(pods[300 + round_], status="CrashLoopBackOff", ready=0, restarts=3, last_termination="Error")
            changed[100 + round_] = replace(pods[100 + round_], restarts=1, last_termination="Error")
            started = time.perf_counter()
            pane.show(Reading(value=snapshot(changed), updated_at=NOW + 2 + round_, checked_at=NOW + 2 + round_), NOW + 2 + round_)
            await pilot.pause()
            timings.append(time.perf_counter() - started)
            assert names(pane)[0] == pods[17].name and pods[300 + round_].name in names(pane)[:7]
        # only cells changed (the same pods in the same order): updated in place, not rebuilt
        same = list(changed)
        same[5] = replace(changed[5], restarts=1)  # below restarts_warn: not troubled, it stays where it is
        kept = table.get_cell(pods[300].name, "Pod")
        drawn = pane.redraws
        pane.show(Reading(value=snapshot(same), updated_at=NOW + 15, checked_at=NOW + 15), NOW + 15)
        await pilot.pause()
        assert pane.redraws == drawn + 1 and table.get_cell(pods[300].name, "Pod") is kept, "a cell update rebuilt the rows"
        assert str(table.get_cell(pods[5].name, "Restarts")) == "1"
        median = sorted(timings)[len(timings) // 2]
        print(f"\n500-row update (2 rows changed, one moved): median {median * 1000:.1f} ms, max {max(timings) * 1000:.1f} ms")
        assert median < 0.25, timings

        # a longer status widens its column, and the text is whole on screen
        wide = "Init:CreateContainerConfigError"
        changed = [replace(p, status=wide, ready=0) if p.name == pods[250].name else p for p in pods]
        pane.show(Reading(value=snapshot(changed), updated_at=NOW + 20, checked_at=NOW + 20), NOW + 20)
        await pilot.pause()
        assert table.columns["Status"].width == len(wide)
        row = names(pane).index(pods[250].name)
        table.move_cursor(row=row, animate=False)
        await pilot.pause()
        assert wide in "".join(s.text for s in table.render_line(table.cursor_row - int(table.scroll_offset.y) + 1))

        # the filter (as the app's filter line sets it) and the sort key
        await pilot.press("tab")  # focus the table
        table.focus()
        await pilot.press("slash")
        await pilot.pause()
        assert pane.filter_text == "node-3" and table.row_count == sum(1 for p in pods if p.node == "node-3")
        assert "match “node-3”" in (pane.border_title or "")
        await pilot.press("greater_than_sign")
        await pilot.pause()
        assert pane.sort == 1 and "by name" in (pane.border_title or "")
        shown = names(pane)
        assert shown == sorted(shown)
        pane.set_filter("")
        await pilot.pause()
        assert table.row_count == 500 and names(pane) == sorted(p.name for p in pods)


@pytest.mark.asyncio
async def test_the_cursor_stays_on_its_pod_when_rows_move() -> None:
    pane = PodsPane(restarts_warn=3, id="pods")
    app = OnePane(pane)
    async with app.run_test(size=(100, 40)) as pilot:
        pods = fleet()[:50]
        pane.show(Reading(value=snapshot(pods), updated_at=NOW, checked_at=NOW), NOW)
        await pilot.pause()
        table = pane.query_one(DataTable)
        table.focus()
        table.move_cursor(row=10)
        await pilot.pause()
        at = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        changed = [replace(p, status="CrashLoopBackOff", ready=0) if p.name == pods[40].name else p for p in pods]
        pane.show(Reading(value=snapshot(changed), updated_at=NOW + 1, checked_at=NOW + 1), NOW + 1)
        await pilot.pause()
        assert table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value == at
