"""Snapshot of the pods table alone at 80x24 with 500 pods (issue 15), focused: the title
"4 Pods · 500 · 5 troubled · 0s ago", the troubled rows first (CrashLoopBackOff, an
OOMKilled restart, Init:0/2, Terminating, Evicted), then the pods that run fine by name,
the scrollbar showing how few of the 500 fit (the table's keys, / and >, are in the help,
not the footer, as the logs pane's). Update with
``--snapshot-update`` only after looking at the picture."""

from __future__ import annotations

from test_pods_table import NOW, OnePane, fleet, snapshot
from textual.app import ComposeResult
from textual.widgets import Footer

from clay_cockpit.signals import Reading
from clay_cockpit.widgets.pods import PodsPane, PodsTable


class WithFooter(OnePane):
    def compose(self) -> ComposeResult:
        yield self.pane
        yield Footer()


def test_pods_table_500_rows_at_80x24(snap_compare) -> None:
    pane = PodsPane(restarts_warn=3, id="pods")
    app = WithFooter(pane)

    async def run_before(pilot) -> None:
        pane.show(Reading(value=snapshot(fleet()), updated_at=NOW, checked_at=NOW), NOW)
        pane.query_one(PodsTable).focus()
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
