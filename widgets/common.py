"""What every source pane shares: the frame with its name and data age, the
failure banner (named kind + hint) and the stale marking.

Panes are render-only: the app hands them a :class:`~clay_cockpit.signals.Reading`
and the current time (from its injected clock); a pane never fetches,
never reads the clock itself and never touches another pane.

Repaints cost bytes on an SSH link, so a pane redraws a part only when the
text it would show has changed (:func:`set_if_changed`).
"""

from __future__ import annotations

import textwrap
from datetime import datetime
from typing import Any, ClassVar, Self

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.events import Resize
from textual.geometry import Region
from textual.widgets import Static

from clay_cockpit.sanitise import clean as clean  # re-exported for the widgets: the one sanitiser
from clay_cockpit.signals import Reading, SourceError


def pad(text: str, width: int) -> str:
    """``text`` padded with spaces to ``width`` terminal cells (a CJK character
    takes two: ``str.ljust`` would push what follows it out of its column)."""
    return text + " " * max(0, width - cell_len(text))


def format_age(seconds: float | None) -> str:
    """A short, coarse age: 4s, 12m, 3h, 2d (never negative)."""
    if seconds is None:
        return "never"
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


def age_since(when: datetime | None, now: float) -> str:
    """Age of a timestamp from a source, against the app's clock."""
    if when is None:
        return "?"
    return format_age(now - when.timestamp())


def hanging(text: str, width: int, first: str, style: str = "", lead_style: str = "$text-muted", rest: str | None = None) -> Content:
    """``text`` wrapped to ``width`` cells with a hanging indent: ``first``
    before the first line, as many spaces (or ``rest``) before the others."""
    rest = " " * cell_len(first) if rest is None else rest
    lines = textwrap.wrap(clean(text), width=max(8, width - cell_len(first)), break_on_hyphens=False) or [""]
    return Content("\n").join(Content.assemble((first if i == 0 else rest, lead_style), (line, style)) for i, line in enumerate(lines))


def set_if_changed(widget: Static, content: Content | str) -> bool:
    """Update a Static only when what it would show differs; True if it did.

    A ``str`` is shown as plain text, never parsed as markup: it may hold
    text from outside (a Prometheus label ``[/]`` would raise MarkupError,
    ``[@click=app.quit]`` would make a clickable quit). Styled text comes as
    :class:`Content`, with outside text put in as ``$variables`` or spans."""
    if not isinstance(content, Content):
        content = Content(clean(content))
    key = content.markup
    if getattr(widget, "_cockpit_shown", None) == key:
        return False
    widget._cockpit_shown = key  # type: ignore[attr-defined]
    widget.update(content)
    return True


def _label_cells(markup: str) -> int:
    return Content.from_markup(markup).cell_length


def _fitting(labels: list[str], room: int) -> str:
    """The first label (markup) that fits ``room`` cells; the shortest when none does; the first when room is unknown (0)."""
    if room <= 0 or not labels:
        return labels[0] if labels else ""
    for label in labels:
        if _label_cells(label) <= room:
            return label
    return min(labels, key=_label_cells)


def problem_what(error: SourceError) -> Content:
    return Content.from_markup("[b]✗ $kind[/b]: $message", kind=error.kind.value, message=clean(error.message))


def problem_hint(error: SourceError) -> Content:
    return Content.from_markup("→ $hint", hint=clean(error.hint))


def problem_content(error: SourceError) -> Content:
    """The failure as two lines: what happened and what to do about it."""
    return Content("\n").join([problem_what(error), problem_hint(error)])


class SourcePane(Vertical):
    """A bordered pane for one source.

    Subclasses set ``PANE_TITLE`` and ``PANE_KEY`` (the key that focuses
    it), yield their body from :meth:`compose_body` and draw a value in
    :meth:`render_value`. The frame shows ``"<key> <name> · <age>"``; on a
    failure it turns to the error colour, names the kind in the subtitle,
    shows the message and hint above the body and keeps the last good value
    (dimmed, titled STALE).
    """

    PANE_TITLE: ClassVar[str] = ""
    PANE_KEY: ClassVar[str] = ""
    PANE_SHORT: ClassVar[str] = ""  # a shorter name for a narrow frame (e.g. "Metrics" for "Error rates")

    DEFAULT_CSS = """
    SourcePane {
        border: round $foreground 30%;
        border-title-color: $text;
        border-subtitle-color: $text-muted;
        padding: 0 1;
        height: 1fr;
        width: 1fr;
    }
    SourcePane:focus-within {
        border: round $accent;
    }
    SourcePane.-error {
        border: round $error;
        border-subtitle-color: $text-error;
    }
    SourcePane.-error:focus-within {
        border: heavy $error;  /* the focus shows on a failing pane too: by the frame's shape, not its colour */
    }
    SourcePane > .pane--problem {
        display: none;
        height: auto;
    }
    SourcePane.-error > .pane--problem {
        display: block;
    }
    SourcePane .pane--what {
        color: $text-error;
    }
    SourcePane .pane--hint {
        color: $text-warning;
    }
    SourcePane.-stale .pane--body {
        text-style: dim;
    }
    SourcePane .pane--waiting {
        color: $text-muted;
    }
    SourcePane.-error .pane--waiting {
        display: none;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.reading: Reading[Any] = Reading()
        self._shown_value: object = None
        self._now = 0.0
        self._frame_text: tuple[str | None, str | None] = (None, None)
        self._frame_only = False
        self._what = Static(classes="pane--what")
        self._hint = Static(classes="pane--hint")
        self._banner = Vertical(self._what, self._hint, classes="pane--problem")

    def compose(self) -> ComposeResult:
        yield self._banner
        yield from self.compose_body()

    def compose_body(self) -> ComposeResult:  # pragma: no cover - abstract
        raise NotImplementedError

    def on_mount(self) -> None:
        self._update_frame()

    # -- called by the app -------------------------------------------------

    def show(self, reading: Reading[Any], now: float) -> None:
        """Show a new reading: value (if new), failure state, age."""
        self.reading = reading
        self._now = now
        if reading.value is not None and reading.value is not self._shown_value:
            self._shown_value = reading.value
            self.render_value(reading.value, now)
        self._update_frame()

    def tick(self, now: float) -> None:
        """The slow timer: refresh ages (only what changed is redrawn)."""
        self._now = now
        self._update_frame()
        if self.reading.value is not None:
            self.render_ages(self.reading.value, now)

    def focus_body(self) -> None:
        """Give the keyboard to the pane's first focusable part."""
        for widget in self.query("*"):
            if widget.focusable:
                # at once, not after the next refresh (Widget.focus defers it):
                # a key typed right after the focus key reaches this pane
                self.screen.set_focus(widget)
                return

    # -- for subclasses ----------------------------------------------------

    def render_value(self, value: Any, now: float) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def render_ages(self, value: Any, now: float) -> None:
        """Redraw parts of the body that show ages; default: none."""

    def title_extra(self) -> str:
        """Extra words in the title, before the age (e.g. BACKUP); markup."""
        return ""

    def subtitle_ok(self) -> str:
        """The subtitle when the source is healthy."""
        return ""

    def subtitle_shorter(self) -> tuple[str, ...]:
        """Shorter forms of :meth:`subtitle_ok` for a narrow frame, longest first."""
        return ()

    def is_stale(self) -> bool:
        """Is the value on screen old data kept through a failure? (Marked STALE, dimmed.)"""
        return self.reading.stale

    # -- frame --------------------------------------------------------------

    def _update_frame(self) -> None:
        reading, now = self.reading, self._now
        error = reading.error
        stale = self.is_stale()
        if reading.updated_at is None:
            ages = ["failing" if error else "waiting…"]
        else:
            age = format_age(reading.age(now))
            ages = [f"STALE {age} ago", f"STALE {age}"] if stale else [f"{age} ago", age]
        # the extra (e.g. BACKUP) before the age: a narrow border cuts the end
        extra = self.title_extra()
        names = [f"{self.PANE_KEY} {self.PANE_TITLE}"] + ([f"{self.PANE_KEY} {self.PANE_SHORT}"] if self.PANE_SHORT else [])
        titles = [" · ".join(part for part in (name, extra, age) if part) for name in names for age in ages]
        titles.sort(key=lambda t: -_label_cells(t))  # longest first; the first that fits is shown
        subtitles = [f"✗ {error.kind.value}"] if error else [self.subtitle_ok(), *self.subtitle_shorter()]
        room = self.outer_size.width - 6 if self.is_mounted and self.outer_size.width else 0  # a border label's room
        self._set_frame_text(_fitting(titles, room), _fitting(subtitles, room))
        self.set_class(error is not None, "-error")
        self.set_class(stale, "-stale")
        if error is not None:
            set_if_changed(self._what, problem_what(error))
            set_if_changed(self._hint, problem_hint(error))

    def on_resize(self, event: Resize) -> None:  # (the event: as the subclasses' handlers take it; Textual calls each)
        self._update_frame()  # a narrower frame may need the shorter title

    def _set_frame_text(self, title: str, subtitle: str) -> None:
        """Set the border title/subtitle, repainting only the border rows.

        Setting ``border_title`` repaints the whole pane, children included:
        about 1.5 KB at 80x24, every time an age ticks. Only the changed
        border row is marked dirty instead.
        """
        old_title, old_subtitle = self._frame_text
        if (title, subtitle) == self._frame_text:
            return
        self._frame_text = (title, subtitle)
        self._frame_only = True
        try:
            self.border_title = title
            self.border_subtitle = subtitle
        finally:
            self._frame_only = False
        if not self.is_mounted or not self.outer_size.height:
            return
        dx, dy = self.content_offset
        width, height = self.outer_size
        rows = []
        if title != old_title:
            rows.append(Region(-dx, -dy, width, 1))
        if subtitle != old_subtitle:
            rows.append(Region(-dx, height - 1 - dy, width, 1))
        self.refresh(*rows)

    def refresh(self, *regions: Region, repaint: bool = True, layout: bool = False, recompose: bool = False) -> Self:
        if self._frame_only:  # _set_frame_text marks the border rows itself
            return self
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)
