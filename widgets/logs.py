"""Pod logs pane: the merged log lines of our pods, bounded, filterable.

:class:`LogView` is a Line-API widget (like Textual's ``Log``): it draws only
the visible lines and caches each rendered line, so appending a batch costs
the lines that changed. While the user has scrolled up it keeps their
position and counts the new lines instead of jumping; End follows again.
Paused, it holds new lines (bounded) and shows how many are waiting.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.app import ComposeResult
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Size
from textual.markup import escape
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from clay_cockpit.signals import LogLine, Reading, SourceError
from clay_cockpit.widgets.common import SourcePane, clean, pad
from clay_cockpit.widgets.pods import short_pod_name

POD_COLOURS = 5
POD_MEMORY = 64  # pods whose colour is remembered
SHOW_TIME_FROM = 110  # view width from which each line shows its time
_LEVEL = re.compile(r"""\blevel["']?\s*[=:]\s*["']?(?P<level>error|err|fatal|critical|crit|warning|warn)\b""", re.I)


def level_of(text: str) -> str:
    """"error", "warn" or "" from a logfmt/JSON line's level field."""
    match = _LEVEL.search(text[:80])
    if not match:
        return ""
    return "warn" if match.group("level").lower().startswith("warn") else "error"


@dataclass(frozen=True, slots=True)
class _Entry:
    seq: int
    line: LogLine
    short: str
    text: str  # cleaned of control characters
    folded: str  # what the filter matches: pod name and text, case-folded
    level: str
    width: int
    colour: int  # which logview--pod-N class colours its pod name


class LogView(ScrollView, can_focus=True):
    """The merged log lines, newest at the bottom."""

    BINDINGS: ClassVar[list[Binding]] = [
        Binding("end", "follow", "Follow", show=False, id="logs.follow", tooltip="Jump to the newest line and follow new ones"),
        Binding("home", "oldest", "Oldest", show=False, id="logs.oldest", tooltip="Jump to the oldest line kept"),
        Binding("w", "toggle_wrap", "Wrap", show=False, id="logs.wrap", tooltip="Wrap long lines, or cut them and scroll sideways"),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        *(f"logview--pod-{i}" for i in range(POD_COLOURS)),
        "logview--error",
        "logview--warn",
        "logview--match",
        "logview--time",
    }
    DEFAULT_CSS = """
    LogView {
        height: 1fr;
        background: transparent;
        scrollbar-size-vertical: 1;
        scrollbar-size-horizontal: 0;  /* a repainted scrollbar row costs ~1 KB a flush */
    }
    LogView > .logview--pod-0 { color: $text-primary; }
    LogView > .logview--pod-1 { color: $text-secondary; }
    LogView > .logview--pod-2 { color: $text-accent; }
    LogView > .logview--pod-3 { color: $text-success; }
    LogView > .logview--pod-4 { color: $foreground; text-style: bold; }
    LogView > .logview--error { color: $text-error; }
    LogView > .logview--warn { color: $text-warning; }
    LogView > .logview--match { text-style: reverse; }
    LogView > .logview--time { color: $text-muted; }
    """

    class Changed(Message):
        """Following / new-line count / pause state changed."""

    def __init__(self, max_lines: int, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.max_lines = max(1, max_lines)
        self._all: list[_Entry] = []
        self._shown: list[_Entry] = self._all  # _all filtered; the same list when no filter
        self._rows: list[tuple[_Entry, int]] = []  # screen rows of _shown: (entry, wrapped part)
        self._held: deque[LogLine] = deque(maxlen=self.max_lines)
        self._seq = 0
        self._pod_colours: dict[str, int] = {}  # pod → colour, in order of first line (bounded)
        self._next_colour = 0
        self._max_width = 0  # widest line seen (for horizontal scrolling without wrap)
        self._pod_width = 5
        self._layout_width = 0
        self._cache: LRUCache[tuple[int, bool], Strip] = LRUCache(1024)
        self.filter_text = ""
        self.paused = False
        self.wrap = True
        self.unseen = 0  # lines added below the view while scrolled up
        self._follow = True  # stick to the newest line; off once the user scrolls up

    # -- state for the pane ---------------------------------------------------

    @property
    def held(self) -> int:
        return len(self._held)

    @property
    def line_count(self) -> int:
        """Lines kept (all, unfiltered)."""
        return len(self._all)

    @property
    def shown_count(self) -> int:
        return len(self._shown)

    @property
    def following(self) -> bool:
        return self._follow

    def shown_lines(self) -> list[LogLine]:
        """The lines the view shows now (filtered), oldest first."""
        return [e.line for e in self._shown]

    # -- input ----------------------------------------------------------------

    def append(self, lines: Iterable[LogLine]) -> None:
        lines = list(lines)
        if not lines:
            return
        if self.paused:
            self._held.extend(lines)
        else:
            self._add(lines)
        self.post_message(self.Changed())

    def set_paused(self, paused: bool) -> None:
        if paused == self.paused:
            return
        self.paused = paused
        if not paused and self._held:
            held = list(self._held)
            self._held.clear()
            self._add(held)
        self.post_message(self.Changed())

    def set_filter(self, text: str) -> None:
        """Show only lines containing ``text`` (case-insensitive); "" shows all."""
        text = text.strip()
        if text == self.filter_text:
            return
        self.filter_text = text
        needle = text.casefold()
        self._shown = [e for e in self._all if needle in e.folded] if needle else self._all
        self._cache.clear()
        self.unseen = 0
        self._follow = True
        self._relayout()
        self.post_message(self.Changed())

    def action_toggle_wrap(self) -> None:
        self.wrap = not self.wrap
        self._relayout()

    def _colour(self, pod: str) -> int:
        """Colours go round in order of each pod's first line, so the few pods
        on screen differ; a pod keeps its colour while it is remembered."""
        colour = self._pod_colours.get(pod)
        if colour is None:
            colour = self._pod_colours[pod] = self._next_colour % POD_COLOURS
            self._next_colour += 1
            if len(self._pod_colours) > POD_MEMORY:
                del self._pod_colours[next(iter(self._pod_colours))]
        return colour

    def _entry(self, line: LogLine) -> _Entry:
        self._seq += 1
        short = short_pod_name(line.pod)
        text = clean(line.text)
        return _Entry(
            self._seq, line, short, text, f"{line.pod} {text}".casefold(), level_of(text), cell_len(text), self._colour(line.pod)
        )

    # -- layout: entries → screen rows ----------------------------------------

    def _show_time(self) -> bool:
        return self.size.width >= SHOW_TIME_FROM

    def _indent(self) -> int:
        return (9 if self._show_time() else 0) + self._pod_width + 1

    def _parts(self, entry: _Entry) -> int:
        """Screen rows one entry takes (more than one only when wrapping)."""
        width, indent = self._layout_width, self._indent()
        total = indent + entry.width
        if not self.wrap or total <= width or width - indent < 10:
            return 1
        return 1 + -(-(total - width) // (width - indent))

    def _rows_of(self, entries: Iterable[_Entry]) -> list[tuple[_Entry, int]]:
        return [(e, part) for e in entries for part in range(self._parts(e))]

    def _relayout(self) -> None:
        """Rebuild the rows (width, wrap or filter changed) and follow the end."""
        self._layout_width = self.scrollable_content_region.width
        self._rows = self._rows_of(self._shown)
        self._set_virtual_size()
        self._to_end()
        self.refresh()

    def _set_virtual_size(self) -> None:
        width = self._layout_width if self.wrap else self._indent() + self._max_width
        self.virtual_size = Size(width, len(self._rows))

    def _add(self, lines: list[LogLine]) -> None:
        entries = [self._entry(line) for line in lines]
        pod_width = min(12, max([self._pod_width, *(cell_len(e.short) for e in entries)]))
        self._all.extend(entries)
        self._max_width = max(self._max_width, max(e.width for e in entries))
        needle = self.filter_text.casefold()
        matches = [e for e in entries if needle in e.folded] if needle else entries
        if self._shown is not self._all:
            self._shown.extend(matches)
        self._prune()
        if pod_width != self._pod_width:  # a longer pod name: every row moves
            self._pod_width = pod_width
            self._cache.clear()
            self._relayout()
            return
        self._rows.extend(self._rows_of(matches))
        dropped = self._drop_pruned_rows()
        self._set_virtual_size()
        if self._follow:
            self._to_end()
        else:
            self.unseen += len(matches)
            if dropped:  # keep the same lines under the user's eyes
                self.scroll_to(y=max(0, self.scroll_offset.y - dropped), animate=False, immediate=True)
        self.refresh()

    def _prune(self) -> None:
        """Drop the oldest lines over the bound (from _all and _shown)."""
        excess = len(self._all) - self.max_lines
        if excess <= 0:
            return
        del self._all[:excess]
        if self._shown is not self._all:
            first = self._all[0].seq
            gone = 0
            while gone < len(self._shown) and self._shown[gone].seq < first:
                gone += 1
            del self._shown[:gone]

    def _drop_pruned_rows(self) -> int:
        first = self._shown[0].seq if self._shown else self._seq + 1
        gone = 0
        while gone < len(self._rows) and self._rows[gone][0].seq < first:
            gone += 1
        del self._rows[:gone]
        return gone

    # -- actions --------------------------------------------------------------

    def _to_end(self) -> None:
        # force: the first batch arrives before there is a scrollbar, and
        # without it Textual ignores a scroll it thinks is not allowed yet
        self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)
        self.call_after_refresh(self._sync_scrollbar)

    def _sync_scrollbar(self) -> None:
        """Textual moves the scrollbar's thumb only when scroll_y changes while
        the scrollbar is shown: a scroll to the end made just before the
        layout adds the scrollbar left its thumb at the top."""
        if self.show_vertical_scrollbar and self.vertical_scrollbar.position != self.scroll_y:
            self.vertical_scrollbar.position = self.scroll_y

    def action_follow(self) -> None:
        self._to_end()
        self._set_follow(True)

    def action_oldest(self) -> None:
        self.scroll_home(animate=False, immediate=True, x_axis=False)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self.is_vertical_scroll_end:
            self._set_follow(True)
        elif new_value < old_value:  # the user went up: keep their place
            self._set_follow(False)

    def _set_follow(self, follow: bool) -> None:
        changed = follow != self._follow or (follow and self.unseen)
        self._follow = follow
        if follow:
            self.unseen = 0
        if changed:
            self.post_message(self.Changed())

    # -- drawing --------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()

    def on_resize(self) -> None:
        self._cache.clear()
        if self.scrollable_content_region.width != self._layout_width:
            follow = self._follow
            self._relayout()
            self._follow = follow
        elif self._follow:
            self._to_end()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        base = self.rich_style
        index = scroll_y + y
        if index >= len(self._rows):
            return Strip.blank(width, base)
        entry, part = self._rows[index]
        line = self._strip(entry, base)
        if not self.wrap:
            return line.crop_extend(scroll_x, scroll_x + width, base)
        if part == 0:
            return line.crop_extend(0, width, base)
        indent = self._indent()
        start = width + (part - 1) * (width - indent)
        return Strip.join([Strip.blank(indent, base), line.crop(start, start + width - indent)]).extend_cell_length(width, base)

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(name, partial=True)

    def _strip(self, entry: _Entry, base: Style) -> Strip:
        """The whole line, uncropped: [time] pod text."""
        show_time = self._show_time()
        key = (entry.seq, show_time)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        segments: list[Segment] = []
        if show_time:
            stamp = entry.line.ts.strftime("%H:%M:%S ") if entry.line.ts else " " * 9
            segments.append(Segment(stamp, base + self._style("logview--time")))
        segments.append(Segment(pad(entry.short, self._pod_width) + " ", base + self._style(f"logview--pod-{entry.colour}")))
        text_style = base + self._style(f"logview--{entry.level}") if entry.level else base
        segments.extend(self._highlight(entry.text, text_style))
        strip = Strip(segments)
        self._cache[key] = strip
        return strip

    def _highlight(self, text: str, style: Style) -> list[Segment]:
        """The text, with filter matches marked (when positions map 1:1)."""
        needle = self.filter_text.lower()
        lowered = text.lower()
        if not needle or len(lowered) != len(text):
            return [Segment(text, style)]
        match_style = style + self._style("logview--match")
        out, start = [], 0
        while (at := lowered.find(needle, start)) >= 0:
            if at > start:
                out.append(Segment(text[start:at], style))
            out.append(Segment(text[at : at + len(needle)], match_style))
            start = at + len(needle)
        if start < len(text):
            out.append(Segment(text[start:], style))
        return out


class LogsPane(SourcePane):
    """Merged logs of our pods: pod name prefixed, bounded, filterable."""

    PANE_TITLE = "Pod logs"
    PANE_KEY = "5"

    DEFAULT_CSS = """
    LogsPane {
        padding: 0 0 0 1;
    }
    """

    def __init__(self, max_lines: int, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.max_lines = max_lines
        self._received = 0
        self._failing_since: float | None = None  # when the current follow failure began
        self.view = LogView(max_lines, classes="pane--body")

    def compose_body(self) -> ComposeResult:
        yield self.view

    def append(self, lines: tuple[LogLine, ...], now: float) -> None:
        """A batch of new lines arrived (from the app's log flush)."""
        self._received += len(lines)
        self.reading = Reading(value=self._received, updated_at=now, checked_at=now, error=self.reading.error)
        self.view.append(lines)
        self.show(self.reading, now)

    def show_error(self, error: SourceError | None, now: float) -> None:
        """The follow failed (or recovered, with ``None``)."""
        if error is None:
            self.reading = replace(self.reading, error=None)
            self._failing_since = None
        else:
            if self.reading.error is None:
                self._failing_since = now
            self.reading = self.reading.with_result(error, now)
        self.show(self.reading, now)

    def is_stale(self) -> bool:
        """Stale only when no line arrived since the failure began: a follow
        that fails for one pod (or cannot re-list) while the others still
        deliver is failing in part, not showing old data."""
        reading = self.reading
        if not super().is_stale():
            return False
        since = self._failing_since
        # lines flushed within a second of the failure may have been read before it
        return since is None or reading.updated_at is None or reading.updated_at <= since + 1.0

    def render_value(self, value: int, now: float) -> None:
        """Lines are appended to the view as they come; nothing to redraw."""

    def on_log_view_changed(self, event: LogView.Changed) -> None:
        event.stop()
        self._update_frame()

    def title_extra(self) -> str:
        view = self.view
        if not view.filter_text:
            return ""
        return f"filter “{escape(view.filter_text)}” {view.shown_count}/{view.line_count}"

    def subtitle_ok(self) -> str:
        view = self.view
        if view.paused:
            return f"⏸ paused · {view.held} new · p resumes"
        if view.unseen:
            return f"↓ {view.unseen} new · End follows"
        return "following"
