"""Pods pane: a DataTable of our pods, crashloops and OOM kills highlighted."""

from __future__ import annotations

import re
from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.events import Resize
from textual.markup import escape
from textual.widgets import DataTable, Static

from clay_cockpit.signals import PodInfo, PodsSnapshot
from clay_cockpit.widgets.common import SourcePane, clean, format_age, set_if_changed

BAD = frozenset(
    {
        "CrashLoopBackOff", "OOMKilled", "Error", "ImagePullBackOff", "ErrImagePull",
        "CreateContainerConfigError", "CreateContainerError", "RunContainerError",
        "InvalidImageName", "Failed", "Evicted",
    }
)
FINE = frozenset({"Running", "Completed", "Succeeded"})
SHORT_STATUS = {
    "CrashLoopBackOff": "CrashLoop",
    "ContainerCreating": "Creating",
    "ImagePullBackOff": "PullBackOff",
    "CreateContainerConfigError": "ConfigError",
    "PodInitializing": "Initializing",
}
COMPACT_BELOW = 60  # pane width under which the table goes compact

_POD_NAME = re.compile(r"^(?P<base>.+)-(?P<hash>[a-z0-9]{6,10})-(?P<id>[a-z0-9]{5})$")


def short_pod_name(name: str) -> str:
    """``clay-sync-7d9f8c6b5-x2x9k`` → ``x2x9k``; other names unchanged (but made inert)."""
    match = _POD_NAME.match(name)
    return match.group("id") if match else clean(name)


def status_level(status: str) -> str:
    if status in BAD:
        return "bad"
    return "" if status in FINE else "warn"


Cell = tuple[str, str]  # (text, level: "", "warn", "bad")


def pod_cells(pod: PodInfo, now: float, compact: bool, restarts_warn: int) -> tuple[Cell, ...]:
    status = clean(pod.status)
    last = clean(pod.last_termination or "")
    restarts_level = "bad" if pod.restarts >= max(1, restarts_warn) else "warn" if pod.restarts else ""
    age = format_age(now - pod.created_at.timestamp()) if pod.created_at else "?"
    return (
        (short_pod_name(pod.name) if compact else clean(pod.name), ""),
        (SHORT_STATUS.get(status, status) if compact else status, status_level(status)),
        (f"{pod.ready}/{pod.containers}", "" if pod.is_ready else "warn"),
        (str(pod.restarts), restarts_level),
        (last, "bad" if last == "OOMKilled" else "warn" if last == "Error" else ""),
        (age, ""),
    )


def pod_rank(pod: PodInfo) -> tuple[int, str]:
    """Troubled pods first (they matter most when only a few rows fit)."""
    return ({"bad": 0, "warn": 1}.get(status_level(pod.status), 2), pod.name)


class PodsPane(SourcePane):
    """Pods of our deployment: status, readiness, restarts, last exit, age."""

    PANE_TITLE = "Pods"
    PANE_KEY = "4"
    COLUMNS: ClassVar[tuple[str, ...]] = ("Pod", "Status", "Ready", "Restarts", "Last exit", "Age")
    COMPACT_COLUMNS: ClassVar[tuple[str, ...]] = ("Pod", "Status", "Rdy", "Rst", "Last", "Age")
    COMPONENT_CLASSES: ClassVar[set[str]] = {"pods--bad", "pods--warn"}

    DEFAULT_CSS = """
    PodsPane {
        padding: 0;
    }
    PodsPane > .pods--bad { color: $text-error; text-style: bold; }
    PodsPane > .pods--warn { color: $text-warning; }
    PodsPane DataTable {
        height: 1fr;
        scrollbar-size-vertical: 1;
        background: transparent;
    }
    PodsPane #pods-empty {
        display: none;
        color: $text-muted;
        padding: 0 1;
    }
    """

    def __init__(self, restarts_warn: int, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.restarts_warn = restarts_warn
        self._compact: bool | None = None
        self._shown: list[tuple[str, tuple[Cell, ...]]] | None = None
        self._columns: tuple[tuple[str, int], ...] = ()

    def compose_body(self) -> ComposeResult:
        self._empty = Static(id="pods-empty")
        self._table: DataTable[Text] = DataTable(cursor_type="row", zebra_stripes=False, show_cursor=False, classes="pane--body")
        self._table.display = False  # no header row until there is a first answer
        yield self._empty
        yield self._table

    def on_mount(self) -> None:  # SourcePane.on_mount runs too (Textual walks the MRO)
        self.watch(self.app, "theme", self._restyle, init=False)

    def on_resize(self, event: Resize) -> None:
        compact = event.size.width < COMPACT_BELOW
        if compact != self._compact:
            self._compact = compact
            self._shown = None
            self._draw()

    def on_descendant_focus(self) -> None:
        self._table.show_cursor = True

    def on_descendant_blur(self) -> None:
        self._table.show_cursor = False  # a parked cursor would hide the row's colours

    def _restyle(self) -> None:
        self._shown = None
        self._draw()

    def render_value(self, value: PodsSnapshot, now: float) -> None:
        self._draw()

    def render_ages(self, value: PodsSnapshot, now: float) -> None:
        self._draw()

    def subtitle_ok(self) -> str:
        snap = self.reading.value
        # markup (a border title): the names escaped
        return escape(f"{clean(snap.context)}/{clean(snap.namespace)}") if isinstance(snap, PodsSnapshot) else ""

    def _cell(self, cell: Cell) -> Text:
        text, lvl = cell
        return Text(text, style=self.get_component_rich_style(f"pods--{lvl}", partial=True) if lvl else "")

    def _draw(self) -> None:
        snap = self.reading.value
        if self._compact is None or not isinstance(snap, PodsSnapshot):
            return
        self._table.display = True
        empty = self._empty
        empty.display = not snap.pods
        if not snap.pods:
            set_if_changed(empty, f"No pods match {clean(snap.selector)} in {clean(snap.namespace)}")
        rows = [
            (pod.name, pod_cells(pod, self._now, self._compact, self.restarts_warn))
            for pod in sorted(snap.pods, key=pod_rank)
        ]
        if rows == self._shown:
            return
        table = self._table
        labels = self.COMPACT_COLUMNS if self._compact else self.COLUMNS
        # fixed widths from the content: DataTable's own measuring waits for an
        # idle moment, and a table drawn before it shows cut-off names
        columns = tuple(
            (label, max([cell_len(label), *(cell_len(cells[i][0]) for _, cells in rows)])) for i, label in enumerate(labels)
        )
        if columns != self._columns:
            self._columns = columns
            self._shown = None
            table.clear(columns=True)
            for label, width in columns:
                table.add_column(label, width=width, key=label)
        columns = list(table.columns)
        if self._shown is not None and [n for n, _ in rows] == [n for n, _ in self._shown]:
            for (name, cells), (_, before) in zip(rows, self._shown):
                for column, new, old in zip(columns, cells, before):
                    if new != old:
                        table.update_cell(name, column, self._cell(new))
        else:
            selected = None
            if table.row_count and table.is_valid_row_index(table.cursor_row):
                selected = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            table.clear()
            for name, cells in rows:
                table.add_row(*(self._cell(c) for c in cells), key=name)
            names = [n for n, _ in rows]
            if selected in names:
                table.move_cursor(row=names.index(selected), animate=False)
        self._shown = rows
