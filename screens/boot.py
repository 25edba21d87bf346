"""The first frame: the cockpit's layout before its panes are built.

It imports nothing but Textual's core, so it paints about as fast as a bare
Textual app: the whole frame is one widget that draws the grid of
:class:`clay_cockpit.screens.main.MainScreen` — the context line, the triage strip (below
120 columns), each pane's frame with its key and name, the decision column's
frames (at 120 columns and more) and the key line. Twenty styled widgets in
nested containers cost a bare app's start-up again (bench/startup); one
widget and :func:`boot_layout` do not.

:func:`boot_layout` is ``cockpit/app.tcss`` worked out by hand for the first
frame (no pane has content yet, so the triage pane is 3 rows).
tests/test_app_triage.py holds it to the cockpit screen's regions at several
sizes: a change to one needs the same change to the other. Right after this
frame the app builds the real screen and switches to it; no source has
answered by then, so nothing is lost by the wait.
"""

from __future__ import annotations

from rich.cells import get_character_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.app import ComposeResult
from textual.geometry import Region, Size
from textual.screen import Screen
from textual.strip import Strip
from textual.widget import Widget

WIDE_FROM = 120  # columns from which the decision column stands beside the panes (CockpitApp's breakpoints)
TALL_FROM = 40  # rows from which the pane rows are taller

# (pane id, its key, its name) — MainScreen's panes, in its order
FRAMES = (
    ("statuspage", "1", "Clay status"),
    ("health", "2", "Health"),
    ("metrics", "3", "Error rates"),
    ("pods", "4", "Pods"),
    ("logs", "5", "Pod logs"),
)
DECISION_FRAMES = (
    ("triage", "d", "Triage"),
    ("checklist", "c", "Checklist"),
    ("actions", "x", "Actions"),
    ("timeline", "t", "Timeline"),
)
STRIP = (
    "◌ triage: waiting for the first signals…",
    "  d shows the triage, checklist and timeline",
)  # clay_cockpit.widgets.triage.TriageStrip's first words
WAITING = "starting…"


def boot_layout(width: int, height: int) -> dict[str, Region]:
    """Where cockpit/app.tcss puts each part of the cockpit screen at this
    terminal size, before any pane has content: ids as in MainScreen.
    Regions may reach past a very small screen (as the real ones do)."""
    wide, tall = width >= WIDE_FROM, height >= TALL_FROM
    decide = min(width * 2 // 5, 72) if wide else 0  # #decide: 40%, at most 72
    live = width - decide
    regions = {"topbar": Region(0, 0, width, 1)}
    y = 1
    if not wide:
        regions["triage-strip"] = Region(0, y, width, 2)
        y += 2
    top, mid = (11, 13) if tall else (7, 7)  # #row-top, #row-mid
    half = live // 2  # two 1fr panes
    regions["statuspage"] = Region(0, y, half, top)
    regions["health"] = Region(half, y, live - half, top)
    y += top
    metrics = half if wide else max(26, live - 50)  # #metrics 1fr (at least 26) beside #pods: 50, or 1fr when wide
    regions["metrics"] = Region(0, y, metrics, mid)
    regions["pods"] = Region(metrics, y, live - metrics if wide else 50, mid)
    y += mid
    regions["logs"] = Region(0, y, live, max(5, height - 1 - y))  # down to the key line, at least 5
    if wide:
        column = height - 2
        timeline = 10 if tall else 4
        checklist = max(6, column - 3 - 9 - timeline)  # 1fr between triage (3), actions (9) and the timeline
        regions["decide"] = Region(live, 1, decide, column)
        y = 1
        for pane_id, rows in (("triage", 3), ("checklist", checklist), ("actions", 9), ("timeline", timeline)):
            regions[pane_id] = Region(live, y, decide, rows)
            y += rows
    return regions


class _Canvas:
    """Cells of one frame: a character and a style name each."""

    def __init__(self, size: Size) -> None:
        self.width, self.height = size
        self.chars = [[" "] * self.width for _ in range(self.height)]
        self.styles = [[""] * self.width for _ in range(self.height)]

    def text(self, x: int, y: int, text: str, style: str, limit: int | None = None) -> None:
        """Write text from (x, y), cut at ``limit`` cells (an ellipsis shows
        that cut) and at the screen's edge."""
        end = min(self.width, x + limit if limit is not None else self.width)
        if not 0 <= y < self.height or x >= end:
            return
        if limit is not None and sum(get_character_cell_size(c) for c in text) > end - x:
            text = _cut(text, end - x - 1) + "…"
        row, styles = self.chars[y], self.styles[y]
        for char in text:
            cells = get_character_cell_size(char)
            if x + cells > end:
                break
            if x >= 0:
                row[x], styles[x] = char, style
                for pad in range(1, cells):  # a wide character covers the next cell too
                    row[x + pad], styles[x + pad] = "", style
            x += cells

    def fill(self, region: Region, style: str) -> None:
        for y in range(max(0, region.y), min(self.height, region.bottom)):
            for x in range(max(0, region.x), min(self.width, region.right)):
                self.styles[y][x] = style

    def frame(self, region: Region, title: str, body: str) -> None:
        """A round frame with its title on the top edge (as Textual draws a border title)."""
        x, y, w, h = region
        if w < 2 or h < 2:
            return
        self.text(x, y, "╭" + "─" * (w - 2) + "╮", "frame")
        self.text(x, y + h - 1, "╰" + "─" * (w - 2) + "╯", "frame")
        for row in range(y + 1, y + h - 1):
            self.text(x, row, "│", "frame")
            self.text(x + w - 1, row, "│", "frame")
        if w >= 6:
            self.text(x + 2, y, f" {title} ", "title", limit=w - 3)
        if h > 2 and w > 4:
            self.text(x + 2, y + 1, body, "muted", limit=w - 4)

    def strip(self, y: int, styles: dict[str, Style]) -> Strip:
        segments: list[Segment] = []
        row, names = self.chars[y], self.styles[y]
        start = 0
        for x in range(1, self.width + 1):
            if x == self.width or names[x] != names[start]:
                segments.append(Segment("".join(row[start:x]), styles[names[start]]))
                start = x
        return Strip(segments, self.width)


def _cut(text: str, cells: int) -> str:
    out, used = [], 0
    for char in text:
        used += get_character_cell_size(char)
        if used > cells:
            break
        out.append(char)
    return "".join(out)


class BootFrame(Widget):
    """The whole first frame, drawn line by line from :func:`boot_layout`."""

    COMPONENT_CLASSES = {"boot--bar", "boot--strip", "boot--frame", "boot--title", "boot--muted"}
    DEFAULT_CSS = """
    BootFrame {
        width: 1fr;
        height: 1fr;
        color: $text-muted;
    }
    BootFrame > .boot--bar {
        background: $panel;
        color: $text;
    }
    BootFrame > .boot--strip {
        background: $boost;
        color: $text-muted;
    }
    BootFrame > .boot--frame {
        color: $foreground 30%;
    }
    BootFrame > .boot--title {
        color: $text;
    }
    BootFrame > .boot--muted {
        color: $text-muted;
    }
    """

    def __init__(self, title: str, target: str, keys: str) -> None:
        super().__init__()
        self._title = title
        self._target = target
        self._keys = keys  # the key line, as the footer will show it
        self._drawn: tuple[Size, list[Strip]] | None = None

    def _draw(self, size: Size) -> list[Strip]:
        canvas = _Canvas(size)
        regions = boot_layout(*size)
        bar = regions["topbar"]
        canvas.fill(bar, "bar")
        canvas.text(1, bar.y, f"{self._title}  {self._target}", "bar", limit=size.width - 2)
        if "triage-strip" in regions:
            strip = regions["triage-strip"]
            canvas.fill(strip, "strip")
            for offset, line in enumerate(STRIP):
                canvas.text(1, strip.y + offset, line, "strip", limit=size.width - 2)
        for pane_id, key, name in FRAMES:
            canvas.frame(regions[pane_id], f"{key} {name} · waiting…", WAITING)
        for pane_id, key, name in DECISION_FRAMES:
            if pane_id in regions:
                canvas.frame(regions[pane_id], f"{key} {name}", WAITING)
        canvas.text(1, size.height - 1, self._keys, "muted", limit=size.width - 2)
        base = self.rich_style
        styles = {"": base} | {
            name: base + self.get_component_rich_style(f"boot--{name}") for name in ("bar", "strip", "frame", "title", "muted")
        }
        return [canvas.strip(y, styles) for y in range(size.height)]

    def render_line(self, y: int) -> Strip:
        size = self.size
        if self._drawn is None or self._drawn[0] != size:
            self._drawn = (size, self._draw(size))
        lines = self._drawn[1]
        return lines[y] if 0 <= y < len(lines) else Strip.blank(size.width, self.rich_style)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._drawn = None  # a theme change: draw again with its colours


class BootScreen(Screen[None]):
    def __init__(self, title: str, target: str, keys: str) -> None:
        super().__init__()
        self._frame = BootFrame(title, target, keys)

    def compose(self) -> ComposeResult:
        yield self._frame
