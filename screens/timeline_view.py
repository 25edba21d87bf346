"""The whole incident timeline, full screen: every event in the file, oldest
first, a cursor to walk it and, under it, the highlighted event's details
(time, actor, summary and its data — the numbers, the evidence).

It reads the file in a thread worker when it opens (a torn last line or
unreadable lines are named in its header); events recorded while it is open
are added as they come (:meth:`TimelineScreen.extend`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from clay_cockpit.incident.events import Event, iso_utc
from clay_cockpit.incident.timeline_read import read
from clay_cockpit.widgets.common import clean, set_if_changed
from clay_cockpit.widgets.footer import KeyFooter
from clay_cockpit.widgets.timeline import event_content

DETAIL_CHARS = 4000  # of an event's data shown under the list
NEWEST = 20_000  # events read at most (the newest): bounded memory for a very long incident


def detail_content(event: Event) -> Content:
    head = Content.assemble(
        (f"#{event.seq} ", "bold"),
        (f"{iso_utc(event.at)}  ", "$text-muted"),
        (str(event.kind), "bold $text-accent"),
        (f"  by {clean(event.actor)}", "$text-muted"),
    )
    data = json.dumps(event.data, indent=1, ensure_ascii=False, default=str)
    if len(data) > DETAIL_CHARS:
        data = data[:DETAIL_CHARS] + f"\n… ({len(data) - DETAIL_CHARS} more characters in the file)"
    return Content("\n").join([head, Content(clean(event.summary)), Content.styled(clean(data), "$text-muted")])


class TimelineScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,t", "app.pop_screen", "Back", id="timeline.close", tooltip="Back to the cockpit"),
    ]
    DEFAULT_CSS = """
    TimelineScreen #timeline-head {
        height: 1;
        padding: 0 1;
        background: $panel;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    TimelineScreen OptionList, TimelineScreen OptionList:focus {
        height: 2fr;
        border: none;
        padding: 0 1;
        background-tint: transparent;
    }
    TimelineScreen #timeline-detail-box {
        height: 1fr;
        border-top: solid $foreground 30%;
        padding: 0 1;
    }
    """

    class Read(Message):
        def __init__(self, events: tuple[Event, ...], note: str) -> None:
            super().__init__()
            self.events = events
            self.note = note

    def __init__(self, path: Path | None) -> None:
        super().__init__()
        self.path = path
        self._title = f"Timeline · {path.stem}" if path is not None else "Timeline"
        self._last_seq = 0
        self._events: dict[str, Event] = {}

    def compose(self) -> ComposeResult:
        head = f"{self._title} · reading…" if self.path is not None else "Timeline · no incident declared yet (i declares one)"
        yield Static(head, id="timeline-head", markup=False)
        yield OptionList(id="timeline-all")
        with VerticalScroll(id="timeline-detail-box"):
            yield Static(id="timeline-detail")
        yield KeyFooter(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        if self.path is not None:
            self.read_file(self.path)

    @work(thread=True, exclusive=True, exit_on_error=False, group="timeline-read", description="Reading the timeline")
    def read_file(self, path: Path) -> None:
        try:
            result = read(path, newest=NEWEST)
        except OSError as exc:
            self.post_message(self.Read((), f"cannot read {path}: {exc.strerror or exc}"))
            return
        notes = [result.torn or ""] + ([f"{result.bad_lines} unreadable line(s) skipped"] if result.bad_lines else [])
        self.post_message(self.Read(result.events, "; ".join(n for n in notes if n)))

    def on_timeline_screen_read(self, message: Read) -> None:
        self.load(message.events, message.note)

    def load(self, events: Sequence[Event], note: str = "") -> None:
        """Everything read from the file (``note``: a torn line, a read error …)."""
        self.query_one("#timeline-all", OptionList).clear_options()
        self._events.clear()
        self._last_seq = 0
        self.extend(events)
        head = f"{self._title} · {len(self._events)} events" + (f" · {note}" if note else "")
        set_if_changed(self.query_one("#timeline-head", Static), head)
        view = self.query_one("#timeline-all", OptionList)
        if view.option_count:
            view.highlighted = view.option_count - 1
        view.focus()

    def extend(self, events: Sequence[Event]) -> None:
        """Add the events newer than the last one shown."""
        found = self.query("#timeline-all").results(OptionList)
        view = next(iter(found), None)
        if view is None:  # not composed yet: load() brings them all
            return
        new = [e for e in events if e.seq > self._last_seq]
        for e in new:
            self._events[str(e.seq)] = e
        if new:
            self._last_seq = new[-1].seq
            view.add_options(Option(event_content(e), id=str(e.seq)) for e in new)

    def on_option_list_option_highlighted(self, message: OptionList.OptionHighlighted) -> None:
        event = self._events.get(message.option.id or "")
        if event is not None:
            set_if_changed(self.query_one("#timeline-detail", Static), detail_content(event))
