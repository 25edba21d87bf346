"""Pod logs pane: the merged log lines of our pods, bounded, filterable.

:class:`LogView` is a Line-API widget (like Textual's ``Log``): it draws only
the visible lines and caches each rendered line, so appending a batch costs
the lines that changed. While the user has scrolled up it keeps their
position and counts the new lines instead of jumping; End follows again.
Paused, it holds new lines (bounded) and shows how many are waiting.

Log formats (:mod:`clay_cockpit.triage.logformat`): a JSON line is shown
compactly (``LEVEL msg key=value …``; the filter also matches its raw JSON),
a line's level comes from JSON, logfmt or its leading word, and a line that
came with ANSI colours (:attr:`LogLine.styled`) shows them: only its SGR
sequences are decoded (Rich's decoder), after the sanitiser removed every
other sequence and control character once more; only foreground colour,
bold, dim, italic, underline and strike are kept (no background, reverse,
blink or concealed text: a log line is never hidden or made unreadable).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.markup import escape
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from clay_cockpit.sanitise import clean_line, clean_line_colour
from clay_cockpit.signals import OTHER_PODS, LogFollowState, LogLine, LogLines, Reading, SourceError, count_drops
from clay_cockpit.triage.logformat import shape
from clay_cockpit.widgets.common import SourcePane, clean, pad
from clay_cockpit.widgets.pods import short_pod_name

POD_COLOURS = 5
POD_MEMORY = 64  # pods whose colour is remembered
SHOW_TIME_FROM = 110  # view width from which each line shows its time

Span = tuple[int, int, Style]  # [start, end) of an entry's text and its style


def colour_spans(styled: str) -> tuple[str, tuple[Span, ...]]:
    """A line with SGR colour sequences → its plain text and the styles of
    its stretches. The line is made safe here once more, whatever its
    source did: every sequence but SGR goes, controls and bidi controls are
    replaced (:func:`clay_cockpit.sanitise.clean_line_colour`)."""
    safe = clean_line_colour(styled)
    if safe is None:
        return clean_line(styled), ()
    text = Text.from_ansi(safe)
    spans: list[Span] = []
    for span in text.spans:
        st = span.style if isinstance(span.style, Style) else Style.parse(span.style)
        kept = Style(color=st.color, bold=st.bold, dim=st.dim, italic=st.italic, underline=st.underline, strike=st.strike)
        if kept and span.end > span.start:
            spans.append((span.start, span.end, kept))
    return text.plain, tuple(spans)


@dataclass(frozen=True, slots=True)
class Shown:
    """How a line shows, whatever pane shows it: computed by :func:`prepare` in the log
    follow's thread, so the UI thread only places it (at 10,000 lines/s, 20 µs a line
    there was 80 ms of every second, and keys waited behind it)."""

    text: str  # cleaned of control characters, a JSON line compactly
    spans: tuple[Span, ...]
    folded: str  # the filter's haystack without the pod name: text and the raw line, case-folded
    level: str
    width: int


def shown(line: LogLine) -> Shown:
    """What :class:`LogView` shows for ``line`` (its own, when the follow prepared it)."""
    if isinstance(line.prepared, Shown):
        return line.prepared
    raw = clean(line.text)
    form = shape(raw)
    spans: tuple[Span, ...] = ()
    if form.label:  # a JSON line: its level first, bold
        text = f"{form.label} {form.text}"
        spans = ((0, len(form.label), Style(bold=True)),)
    elif line.styled:
        text, spans = colour_spans(line.styled)
    else:
        text = raw
    folded = text if text == raw else f"{text} {raw}"
    return Shown(text, spans, folded.casefold(), form.level, cell_len(text))


def prepare(lines: tuple[LogLine, ...]) -> tuple[LogLine, ...]:
    """``lines`` with how each shows computed (:class:`Shown`), in the caller's thread; a
    :class:`~clay_cockpit.signals.LogLines` keeps its follow state."""
    done = tuple(line if isinstance(line.prepared, Shown) else replace(line, prepared=shown(line)) for line in lines)
    state = getattr(lines, "state", None)
    return LogLines(done, state) if isinstance(lines, LogLines) else done


@dataclass(frozen=True, slots=True)
class _Entry:
    seq: int
    line: LogLine
    short: str
    text: str  # what is shown: cleaned of control characters, a JSON line compactly
    spans: tuple[Span, ...]  # styled stretches of text (ANSI colours, a JSON line's level)
    folded: str  # what the filter matches: pod name, text and the raw line, case-folded
    level: str
    width: int
    colour: int  # which logview--pod-N class colours its pod name


class LogView(ScrollView, can_focus=True):
    """The merged log lines, newest at the bottom."""

    BINDINGS: ClassVar[list[BindingType]] = [
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
        self.dropped: dict[str, int] = {}  # per pod: held lines pushed out while paused, never shown
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
            over = len(self._held) + len(lines) - self.max_lines
            for line in [*self._held, *lines][: max(0, over)]:  # pushed out unshown: counted, not lost silently
                count_drops(self.dropped, line.pod)
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
        how = shown(line)
        folded = f"{line.pod.casefold()} {how.folded}"
        return _Entry(self._seq, line, short_pod_name(line.pod), how.text, how.spans, folded, how.level, how.width, self._colour(line.pod))

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

    def watch_show_vertical_scrollbar(self, shown: bool) -> None:
        """The scrollbar appeared (the lines outgrew the view, or a layout change gave it back): its thumb where the
        view is, after the refresh that sizes it (seen: at 160x48 after `c`, the thumb at the top of a followed view)."""
        if shown:
            self.call_after_refresh(self._sync_scrollbar)

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
        self.call_after_refresh(self._sync_scrollbar)

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
        segments.extend(self._highlight(entry, text_style))
        strip = Strip(segments)
        self._cache[key] = strip
        return strip

    def _highlight(self, entry: _Entry, style: Style) -> list[Segment]:
        """The text in its styles, with filter matches marked (when
        positions map 1:1)."""
        text = entry.text
        needle = self.filter_text.lower()
        lowered = text.lower()
        matches: list[tuple[int, int]] = []
        if needle and len(lowered) == len(text):
            start = 0
            while (at := lowered.find(needle, start)) >= 0:
                matches.append((at, at + len(needle)))
                start = at + len(needle)
        if not matches and not entry.spans:
            return [Segment(text, style)]
        cuts = sorted({0, len(text), *(c for a, b, _ in entry.spans for c in (a, b)), *(c for m in matches for c in m)})
        match_style = self._style("logview--match")
        out = []
        for a, b in zip(cuts, cuts[1:], strict=False):
            if a >= b or b > len(text):
                continue
            st = style
            for s0, s1, span_style in entry.spans:
                if s0 <= a and b <= s1:
                    st = st + span_style
            if any(m0 <= a and b <= m1 for m0, m1 in matches):
                st = st + match_style
            out.append(Segment(text[a:b], st))
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
        self.follow_state: LogFollowState | None = None  # what the follow covers, as its last batch said

    def compose_body(self) -> ComposeResult:
        yield self.view

    def append(self, lines: tuple[LogLine, ...], now: float) -> None:
        """A batch of new lines arrived (from the app's log flush); a
        :class:`~clay_cockpit.signals.LogLines` also says what the follow
        covers (pods followed of how many, drops), even without lines."""
        state = getattr(lines, "state", None)
        if isinstance(state, LogFollowState):
            self.follow_state = state
        if not lines:
            self._update_frame()
            return
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

    def coverage(self) -> LogFollowState | None:
        """The follow's state with the lines this pane dropped added."""
        state = self.follow_state
        if state is None:
            return None if not self.view.dropped else LogFollowState(pods=0).with_drops(self.view.dropped)
        return state.with_drops(self.view.dropped)

    def _subtitles(self) -> list[str]:
        """The subtitle, longest first: what the view does, how many pods are
        followed of how many (when not all), and the lines dropped."""
        view = self.view
        state = self.coverage()
        if view.paused:
            doing = [f"⏸ paused · {view.held} new · p resumes", f"⏸ paused · {view.held} new"]
        elif view.unseen:
            doing = [f"↓ {view.unseen} new · End follows", f"↓ {view.unseen} new"]
        else:
            doing = []
        if state is None:
            return doing or ["following"]
        cover: list[str] = []
        if state.pods and not state.all_followed:
            n, m = len(state.followed), state.pods
            troubled = f" ({len(state.favoured)} troubled first)" if state.favoured else ""
            cover = [f"following {n} of {m} pods{troubled}", f"following {n} of {m} pods", f"{n} of {m} pods", f"{n}/{m} pods"]
        drops: list[str] = []
        if state.dropped:
            total = f"dropped {state.dropped_total:,}"
            named = [(p, n) for p, n in state.dropped if p != OTHER_PODS]  # the folded rest is in the total
            top = named[:2]
            more = ", …" if len(state.dropped) > len(top) else ""
            drops = [
                f"{total} ({', '.join(f'{escape(clean(p))} {n:,}' for p, n in top)}{more})",
                f"{total} ({', '.join(f'{escape(short_pod_name(p))} {n:,}' for p, n in top)}{more})",
                total,
            ]
        if not cover and not drops:
            return doing or ["following"]
        if not cover:
            cover = [""] if doing else ["following"]
        out: list[str] = []
        # the drops are kept longest, then how many pods, then what the view does
        for x in drops or [""]:
            for c in cover:
                for d in doing or [""]:
                    label = " · ".join(part for part in (d, c, x) if part)
                    if label and label not in out:
                        out.append(label)
        return out

    def subtitle_ok(self) -> str:
        return self._subtitles()[0]

    def subtitle_shorter(self) -> tuple[str, ...]:
        return tuple(self._subtitles()[1:])
