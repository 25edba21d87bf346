"""The runbook checklist: the four steps with their items.

The active branch's items are marked (▸) and the others dimmed
(:func:`clay_cockpit.runbook.item_applies` with the assessment's branches and
error classes); a ticked item shows when, and an automatic one (the cockpit
verified it itself) what was seen. Keys while it has focus: ``1``–``4`` jump
to a step, ``space`` ticks or unticks the item under the cursor, ``escape``
gives the keyboard back. The pane never records anything itself: it posts
:class:`ChecklistPane.Toggle` and the app records the tick, then shows it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from datetime import datetime
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from clay_cockpit.incident.state import Tick
from clay_cockpit.runbook import ITEMS, RUNBOOK, STEPS, Branch, ErrorClass, Item, item_applies
from clay_cockpit.widgets.common import clean

STEP = Binding.Group("Step", compact=True)


def clock_time(at: float) -> str:
    """HH:MM:SS in local time."""
    return datetime.fromtimestamp(at).strftime("%H:%M:%S")


def item_content(item: Item, tick: Tick | None, applies: bool, marked: bool, width: int = 60) -> Content:
    """``[x] ▸ text  12:03:04``, wrapped under the text to ``width``; an
    automatic tick adds a line with what the cockpit saw."""
    box = ("[x] ", "bold $text-success") if tick else ("[ ] ", "" if applies else "$text-muted")
    mark = ("▸ ", "bold $text-accent") if marked else ("  ", "")
    style = "" if applies else "$text-muted"
    room = max(8, width - 6)
    lines = textwrap.wrap(clean(item.text), width=room, break_on_hyphens=False) or [""]
    when = f"{'auto ' if tick.auto else ''}{clock_time(tick.at)}" if tick else ""
    fits = bool(when) and len(lines[-1]) + 2 + len(when) <= room  # the time after the text
    out = []
    for i, text in enumerate(lines):
        lead = [box, mark] if i == 0 else [("      ", "")]
        tail = [(f"  {when}", "$text-muted")] if fits and i == len(lines) - 1 else []
        out.append(Content.assemble(*lead, (text, style), *tail))
    if when and not fits:
        out.append(Content.styled(f"      {when}", "$text-muted"))
    if tick is not None and tick.auto and tick.seen:
        seen = clean(" ".join(tick.seen.split()))
        seen = seen if len(seen) <= room else seen[: room - 1] + "…"
        out.append(Content.styled(f"      {seen}", "$text-muted"))
    return Content("\n").join(out)


def step_content(number: int, title: str, done: int, total: int) -> Content:
    return Content.assemble((f"{number} {title}", "bold $text-accent"), (f"  {done}/{total}", "$text-muted"))


class ChecklistView(OptionList):
    """The list itself: step headers (not selectable) and items."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "step(1)", "Step 1", group=STEP, id="checklist.step1", tooltip="Jump to step 1 of the runbook: quick triage"),
        Binding("2", "step(2)", "Step 2", group=STEP, id="checklist.step2", tooltip="Jump to step 2 of the runbook: the decision tree"),
        Binding("3", "step(3)", "Step 3", group=STEP, id="checklist.step3", tooltip="Jump to step 3 of the runbook: immediate actions"),
        Binding("4", "step(4)", "Step 4", group=STEP, id="checklist.step4", tooltip="Jump to step 4 of the runbook: communicate"),
        # a team's own steps after the four (config/runbook.toml: at most 9 in all), as its runbook file names them
        *(
            Binding(
                str(s.number),
                f"step({s.number})",
                f"Step {s.number}",
                group=STEP,
                id=f"checklist.step{s.number}",
                tooltip=f"Jump to step {s.number}: {clean(s.title)}",
            )
            for s in STEPS[4:]
        ),
        Binding(
            "space",
            "tick",
            "Tick",
            show=False,
            id="checklist.tick",
            tooltip="Tick or untick the item under the cursor (recorded with the time)",
        ),
        Binding(
            "escape",
            "leave",
            "Leave",
            show=False,
            id="checklist.leave",
            tooltip="Leave the checklist (the number keys focus the panes again)",
        ),
    ]

    DEFAULT_CSS = """
    ChecklistView {
        height: 1fr;
        border: none;
        padding: 0;
        background: transparent;
        scrollbar-size-vertical: 1;
    }
    ChecklistView > .option-list--option {
        padding: 0;
    }
    ChecklistView:focus {
        border: none;  /* the pane's frame shows the focus; a border here would take the two columns the items are wrapped to */
        background-tint: transparent;
    }
    """

    def action_step(self, number: int) -> None:
        pane = self.parent
        if isinstance(pane, ChecklistPane):
            pane.jump(number)

    def action_tick(self) -> None:  # (not action_toggle: DOMNode's, toggle(attribute_name), is another action)
        option = self.highlighted_option
        if option is not None and option.id in ITEMS and not option.disabled:  # (a team's note is no item)
            self.post_message(ChecklistPane.Toggle(option.id))

    def action_leave(self) -> None:
        self.screen.focus_next()  # out of the checklist: the next pane in the focus chain


def team_lines() -> list[Content]:
    """The runbook's notes and links (a team's file; the shipped one has none), one entry each."""
    lines = [Content("· " + clean(note)) for note in RUNBOOK.notes]
    lines += [Content.assemble("→ ", clean(link.title), (f" {clean(link.url)}", "$text-muted")) for link in RUNBOOK.links]
    return lines


class ChecklistPane(Vertical):
    """The bordered pane around :class:`ChecklistView`."""

    class Toggle(Message):
        """The responder asked to tick or untick ``key``."""

        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    DEFAULT_CSS = """
    ChecklistPane {
        border: round $foreground 30%;
        border-title-color: $text;
        border-subtitle-color: $text-muted;
        padding: 0 1;
    }
    ChecklistPane:focus-within {
        border: round $accent;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: dict[str, str] = {}  # option id -> markup shown
        self._ticks: Mapping[str, Tick] = {}
        self._branches: frozenset[Branch] = frozenset()
        self._errors: frozenset[ErrorClass] = frozenset()
        self._known = False  # a triage result has arrived (before it, nothing is dimmed)
        self._open = False
        self._view: ChecklistView
        self._width = 0  # the list's width the items are wrapped to

    def compose(self) -> ComposeResult:
        options: list[Option] = []
        for step in STEPS:
            options.append(self._option(f"step{step.number}", self._step(step.number), disabled=True))
            options.extend(self._option(item.key, self._item(item)) for item in step.items)
        team = team_lines()
        if team:  # a team's runbook file (issue 18): its notes and links, under the steps
            options.append(Option(Content.styled("Team notes", "bold"), id="team", disabled=True))
            # selectable (the cursor reaches them, so they scroll into view), never ticked (not runbook items)
            options.extend(Option(line, id=f"team{n}") for n, line in enumerate(team))
        self._view = ChecklistView(*options, id="checklist-view")
        self._view.highlighted = 1  # the first item
        yield self._view

    def _option(self, key: str, content: Content, disabled: bool = False) -> Option:
        self._shown[key] = content.markup
        return Option(content, id=key, disabled=disabled)

    def on_mount(self) -> None:
        self.border_title = "c Checklist"
        self._frame()

    def on_resize(self) -> None:
        width = self.content_size.width - 1  # the list's width, less the scrollbar's column
        if width > 0 and width != self._width:
            self._width = width
            self.show()

    @property
    def view(self) -> ChecklistView:
        return self._view

    def show(
        self,
        *,
        ticks: Mapping[str, Tick] | None = None,
        is_open: bool | None = None,
        branches: frozenset[Branch] | None = None,
        errors: frozenset[ErrorClass] | None = None,
    ) -> None:
        """Redraw the items whose tick or applicability changed (what is not
        given stays as it was)."""
        if branches is not None:
            self._branches, self._known = frozenset(branches), True
        if errors is not None:
            self._errors = frozenset(errors)
        if ticks is not None:
            self._ticks = ticks
        if is_open is not None:
            self._open = is_open
        view = self.view
        for step in STEPS:
            self._replace(view, f"step{step.number}", self._step(step.number))
            for item in step.items:
                self._replace(view, item.key, self._item(item))
        self._frame()

    def jump(self, number: int) -> None:
        """Put the cursor on step ``number``'s first item, its heading at the top."""
        view = self.view
        first = next(s.items[0].key for s in STEPS if s.number == number)
        view.highlighted = view.get_option_index(first)
        view.scroll_to_highlight(top=True)
        view.scroll_to(y=max(0, view.scroll_offset.y - 1), animate=False, immediate=True)  # the heading above it

    def focus_body(self) -> None:
        self.screen.set_focus(self.view)  # at once: see SourcePane.focus_body

    # -- drawing --------------------------------------------------------------

    def _applies(self, item: Item) -> bool:
        return not self._known or item_applies(item, self._branches, self._errors)

    def _item(self, item: Item) -> Content:
        applies = self._applies(item)
        marked = self._known and applies and bool(item.branches) and not (self._branches <= {Branch.HEALTHY, Branch.UNKNOWN})
        return item_content(item, self._ticks.get(item.key), applies, marked, self._width or 60)

    def _step(self, number: int) -> Content:
        step = next(s for s in STEPS if s.number == number)
        done = sum(1 for item in step.items if item.key in self._ticks)
        return step_content(step.number, step.title, done, len(step.items))

    def _replace(self, view: ChecklistView, key: str, content: Content) -> None:
        if self._shown.get(key) == content.markup:
            return
        self._shown[key] = content.markup
        view.replace_option_prompt(key, content)

    def _frame(self) -> None:
        done = sum(1 for step in STEPS for item in step.items if item.key in self._ticks)
        total = sum(len(step.items) for step in STEPS)
        title = f"c Checklist · {done}/{total}" if self._open or done else "c Checklist"
        subtitle = f"space ticks · 1-{len(STEPS)} steps · esc leaves" if self._open else "i declares, then space ticks"
        if self.border_title != title:
            self.border_title = title
        if self.border_subtitle != subtitle:
            self.border_subtitle = subtitle
