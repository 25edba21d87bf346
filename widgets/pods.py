"""Pods pane: a DataTable of our pods, crashloops and OOM kills highlighted."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.events import Resize
from textual.markup import escape
from textual.widgets import DataTable, Static

from clay_cockpit.signals import PodInfo, PodsSnapshot
from clay_cockpit.triage.service import is_evicted, is_finished
from clay_cockpit.widgets.common import SourcePane, clean, format_age, set_if_changed

BAD = frozenset(
    {
        "CrashLoopBackOff",
        "OOMKilled",
        "Error",
        "ImagePullBackOff",
        "ErrImagePull",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
        "InvalidImageName",
        "Failed",
    }
)
FINE = frozenset({"Running", "Completed", "Succeeded"})
# "Evicted" is neither: the pod did nothing wrong, yet its node is in trouble (warn)
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


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery's ``duration.HumanDuration``: the "2m30s" of kubectl's AGE and RESTARTS."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes, hours = s // 60, s // 3600
    if minutes < 10:
        return f"{minutes}m" + (f"{s % 60}s" if s % 60 else "")
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h" + (f"{minutes % 60}m" if minutes % 60 else "")
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" + (f"{hours % 24}h" if hours % 24 else "")
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    years, days = hours // 24 // 365, (hours // 24) % 365
    if hours < 24 * 365 * 8:
        return f"{years}y" + (f"{days}d" if days else "")
    return f"{years}y"


def restarts_text(pod: PodInfo, now: float) -> str:
    """kubectl's RESTARTS: ``3 (2m ago)`` — since the latest container end behind the count."""
    if pod.restarts and pod.last_restart_at is not None:
        return f"{pod.restarts} ({human_duration(now - pod.last_restart_at.timestamp())} ago)"
    return str(pod.restarts)


def status_level(status: str) -> str:
    """ "bad" (a container failing), "" (fine) or "warn" (anything on its way: Init:0/2,
    Pending, Terminating, Unknown, Evicted …). An init container failing is as bad."""
    base = status.removeprefix("Init:")
    if base in BAD or base.startswith(("Signal:", "ExitCode:")):
        return "bad"
    return "" if status in FINE else "warn"


Cell = tuple[str, str]  # (text, level: "", "warn", "bad")


def shown_status(pod: PodInfo) -> str:
    """The Status column: kubectl's STATUS, except for an evicted pod. kubectl (v1.32)
    prints the container's last state over the pod's reason, so an evicted pod whose
    container the kubelet killed reads "Error" (exit 137) — as if it had crashed. It did
    not: its node took it away, and its ReplicaSet has replaced it. "Evicted" says that."""
    return "Evicted" if is_evicted(pod) else clean(pod.status)


def pod_cells(pod: PodInfo, now: float, compact: bool, restarts_warn: int) -> tuple[Cell, ...]:
    """The row's cells: kubectl's NAME, STATUS (but "Evicted": :func:`shown_status`), READY and
    RESTARTS ("3 (2m ago)"; the count alone when compact), then the last exit and the age."""
    status = shown_status(pod)
    done = is_finished(pod)  # ended for good: not a replica any more, its readiness moot
    last = clean(pod.last_termination or "")
    restarts_level = "bad" if pod.restarts >= max(1, restarts_warn) else "warn" if pod.restarts else ""
    age = format_age(now - pod.created_at.timestamp()) if pod.created_at else "?"
    return (
        (short_pod_name(pod.name) if compact else clean(pod.name), ""),
        (SHORT_STATUS.get(status, status) if compact else status, status_level(status)),
        (f"{pod.ready}/{pod.containers}", "" if pod.is_ready or done else "warn"),
        (str(pod.restarts) if compact else restarts_text(pod, now), restarts_level),
        (last, "bad" if last == "OOMKilled" else "warn" if last == "Error" else ""),
        (age, ""),
    )


def pod_rank(pod: PodInfo, restarts_warn: int = 0) -> tuple[int, str]:
    """Troubled pods first (they matter most when only a few rows fit of 500): failing
    (a crash loop, OOMKilled, an image that will not pull, restarts past the threshold),
    then not ready (Init, Pending, Terminating, Unknown, NotReady), then evicted ones (their
    node is in trouble; their replacements run); then the pods that run fine, and last
    the ones that ended otherwise (Completed)."""
    if is_evicted(pod):
        return (2, pod.name)
    if is_finished(pod):
        return (4, pod.name)
    failing = pod.last_termination == "OOMKilled" or (restarts_warn > 0 and pod.restarts >= restarts_warn)
    if status_level(pod.status) == "bad" or failing:
        return (0, pod.name)
    if status_level(pod.status) == "warn" or not pod.is_ready:
        return (1, pod.name)
    return (3, pod.name)


def is_troubled(pod: PodInfo, restarts_warn: int) -> bool:
    return pod_rank(pod, restarts_warn)[0] <= 2


def _age_key(pod: PodInfo) -> float:
    return -pod.created_at.timestamp() if pod.created_at else 0.0


# the sort orders the sort key cycles through: (name shown in the title, key)
SORTS: tuple[tuple[str, Callable[[PodInfo, int], tuple[Any, ...]]], ...] = (
    ("troubled first", lambda p, w: pod_rank(p, w)),
    ("name", lambda p, w: (p.name,)),
    ("restarts", lambda p, w: (-p.restarts, p.name)),
    ("newest", lambda p, w: (_age_key(p), p.name)),
    ("node", lambda p, w: (p.node or "~", pod_rank(p, w))),
)


def matches(pod: PodInfo, needle: str) -> bool:
    """The filter: a case-insensitive substring of the name, kubectl's status, the status
    shown, the node, the last exit or the pod's reason."""
    if not needle:
        return True
    fields = (pod.name, pod.status, shown_status(pod), pod.node or "", pod.last_termination or "", pod.reason or "")
    return any(needle in f.casefold() for f in fields)


def pods_view(pods: tuple[PodInfo, ...], needle: str, sort: int, restarts_warn: int) -> list[PodInfo]:
    """The pods the table shows, in its order: filtered by ``needle``, sorted by ``SORTS[sort]``."""
    key = SORTS[sort % len(SORTS)][1]
    folded = needle.casefold()
    return sorted((p for p in pods if matches(p, folded)), key=lambda p: key(p, restarts_warn))


class PodsTable(DataTable[Text]):
    """The pods' DataTable with the pane's own keys (``/`` filters, ``>`` sorts: the
    app opens the filter line, as for the logs), and rows updated in place."""

    BINDINGS: ClassVar[list[BindingType]] = [
        # in the help, not the footer (as the logs pane's keys): a focus change then redraws no footer
        Binding("slash", "app.filter_pods", "Filter", show=False, id="pods.filter",
                tooltip="Filter the pods by name, status, node or last exit (case-insensitive)"),
        Binding("greater_than_sign", "sort_pods", "Sort", show=False, id="pods.sort",
                tooltip="Sort the pods: troubled first, by name, by restarts, newest first, by node"),
    ]  # fmt: skip

    def action_sort_pods(self) -> None:
        pane = next((a for a in self.ancestors if isinstance(a, PodsPane)), None)
        if pane is not None:
            pane.next_sort()

    def order_rows(self, keys: list[str]) -> None:
        """Put the rows (every one a key of ``keys``) in that order, moving none of their
        cells: DataTable's own sort, by the identity of each row's first cell."""
        first = self.ordered_columns[0].key
        position = {id(self.get_cell(k, first)): i for i, k in enumerate(keys)}
        self.sort(first, key=lambda cell: position[id(cell)])

    def set_widths(self, widths: list[int]) -> None:
        """New fixed widths for the columns, the rows kept (DataTable re-measures on its next update)."""
        for column, width in zip(self.ordered_columns, widths):
            column.width = width
        self._require_update_dimensions = True  # DataTable's flag: the virtual size follows the widths
        self._update_count += 1  # (its row cache is keyed on this)
        self.refresh()


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
        self.filter_text = ""
        self.sort = 0  # index into SORTS
        self._compact: bool | None = None
        self._shown: list[tuple[str, tuple[Cell, ...]]] | None = None
        self._columns: tuple[str, ...] = ()
        self._widths: list[int] = []
        self._counts = (0, 0, 0)  # pods, troubled, shown (for the title)
        self.redraws = 0  # how many times the table changed (for tests and the bench: none when nothing did)

    def compose_body(self) -> ComposeResult:
        self._empty = Static(id="pods-empty")
        # displayed from the start, blank (no header row, no column) until the first answer: a table first
        # displayed when its rows arrived could stay blank for good on a loaded machine (its first paint lost)
        self._table = PodsTable(cursor_type="row", zebra_stripes=False, show_cursor=False, show_header=False, classes="pane--body")
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

    # -- filter and sort (the app's filter line calls set_filter as one types) --

    def set_filter(self, text: str) -> None:
        if text != self.filter_text:
            self.filter_text = text
            self._draw()
            self._update_frame()

    def next_sort(self) -> None:
        self.sort = (self.sort + 1) % len(SORTS)
        self._draw()
        self._update_frame()

    def title_extra(self) -> str:
        pods, troubled, shown = self._counts
        if not isinstance(self.reading.value, PodsSnapshot):
            return ""
        parts = [f"{pods}", f"{troubled} troubled" if troubled else ""]
        if self.filter_text:
            parts.append(f"{shown} match “{escape(clean(self.filter_text))}”")
        if self.sort:
            parts.append(f"by {SORTS[self.sort][0]}")
        return " · ".join(p for p in parts if p)

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
        pods = pods_view(snap.pods, self.filter_text, self.sort, self.restarts_warn)
        self._counts = (len(snap.pods), sum(1 for p in snap.pods if is_troubled(p, self.restarts_warn)), len(pods))
        empty = self._empty
        empty.display = not pods
        if not snap.pods:
            set_if_changed(empty, f"No pods match {clean(snap.selector)} in {clean(snap.namespace)}")
        elif not pods:
            set_if_changed(empty, f"No pod of {len(snap.pods)} matches “{clean(self.filter_text)}” (/ changes the filter)")
        rows = [(pod.name, pod_cells(pod, self._now, self._compact, self.restarts_warn)) for pod in pods]
        if rows == self._shown:
            return  # nothing changed: no redraw
        self.redraws += 1
        table = self._table
        labels = self.COMPACT_COLUMNS if self._compact else self.COLUMNS
        # fixed widths from the content: DataTable's own measuring waits for an
        # idle moment, and a table drawn before it shows cut-off names
        widths = [max([cell_len(label), *(cell_len(cells[i][0]) for _, cells in rows)]) for i, label in enumerate(labels)]
        # Only cells changed (the same pods in the same order, the same widths): updated in place.
        # Anything else — pods added, gone or moved, a column wider — builds the table anew (500
        # rows ~15 ms): the in-place removals, reordering (DataTable.sort) and width changes left
        # the table blank on a loaded machine (the e2e drills under CI's load, a pod going unready)
        same_rows = self._shown is not None and [n for n, _ in rows] == [n for n, _ in self._shown]
        if labels != self._columns or widths != self._widths or not same_rows:
            selected = self._selected()
            self._columns, self._widths = labels, widths
            table.clear(columns=True)
            table.show_header = True
            for label, width in zip(labels, widths):
                table.add_column(label, width=width, key=label)
            for name, cells in rows:
                table.add_row(*(self._cell(c) for c in cells), key=name)
            names = [n for n, _ in rows]
            if selected in names:
                table.move_cursor(row=names.index(selected), animate=False)
            self._shown = rows
            return
        self._update_rows(rows, self._shown or [])
        self._shown = rows

    def _selected(self) -> str | None:
        """The pod under the cursor (its row key), if any."""
        table = self._table
        if table.row_count and table.is_valid_row_index(table.cursor_row):
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            return str(key) if key is not None else None
        return None

    def _update_rows(self, rows: list[tuple[str, tuple[Cell, ...]]], before: list[tuple[str, tuple[Cell, ...]]]) -> None:
        """Only what changed: rows gone are removed, new ones added, changed cells
        updated in place, and the order set without touching a cell."""
        table = self._table
        selected = self._selected()
        old, new = dict(before), dict(rows)
        for name in old.keys() - new.keys():
            table.remove_row(name)
        keys = list(table.columns)
        for name, cells in rows:
            was = old.get(name)
            if was is None:
                table.add_row(*(self._cell(c) for c in cells), key=name)
                continue
            for column, cell, old_cell in zip(keys, cells, was):
                if cell != old_cell:
                    table.update_cell(name, column, self._cell(cell))
        names = [n for n, _ in rows]
        if [r.key.value for r in table.ordered_rows] != names:
            table.order_rows(names)
        if selected in new:
            index = names.index(selected)
            if index != table.cursor_row:
                table.move_cursor(row=index, animate=False, scroll=False)
