"""A small keyboard picker: one of four (severity P1–P4, or the incident's
status), each on a number key; Enter takes the proposed one (triage's
suggestion, or the next status); Esc cancels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from clay_cockpit.sanitise import clean

PICK = Binding.Group("Pick", compact=True)


@dataclass(frozen=True)
class Choice:
    value: str
    label: str  # "P1 Complete outage"
    detail: str = ""  # "respond < 15 min"


class ChoiceScreen(ModalScreen[str | None]):
    """Dismisses with the chosen value, or None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "pick(0)", "1st", group=PICK, id="pick.1", tooltip="Choose the first option"),
        Binding("2", "pick(1)", "2nd", group=PICK, id="pick.2", tooltip="Choose the second option"),
        Binding("3", "pick(2)", "3rd", group=PICK, id="pick.3", tooltip="Choose the third option"),
        Binding("4", "pick(3)", "4th", group=PICK, id="pick.4", tooltip="Choose the fourth option"),
        Binding("enter", "propose", "Proposed", id="pick.proposed", tooltip="Take the proposed option (marked ◀)"),
        Binding("escape", "cancel", "Cancel", id="pick.cancel", tooltip="Close without changing anything"),
    ]
    DEFAULT_CSS = """
    ChoiceScreen {
        align: center middle;
    }
    ChoiceScreen > Vertical {
        width: auto;
        max-width: 90%;
        height: auto;
        border: round $accent;
        border-title-color: $text;
        border-subtitle-color: $text-muted;
        background: $surface;
        padding: 0 1;
    }
    ChoiceScreen #choices {
        width: auto;
    }
    """

    def __init__(self, title: str, choices: Sequence[Choice], *, current: str | None, proposed: str | None, why: str = "") -> None:
        super().__init__()
        self._title = title
        self._choices = tuple(choices)[:4]
        self._current = current
        self._proposed = proposed
        self._why = why

    def compose(self) -> ComposeResult:
        width = max((len(c.label) for c in self._choices), default=0)
        lines = []
        for i, c in enumerate(self._choices, 1):
            marks = []
            if c.value == self._current:
                marks.append(("  (now)", "$text-muted"))
            if c.value == self._proposed:
                marks.append((f"  ◀ {self._why}".rstrip(), "bold $text-accent"))
            lines.append(
                Content.assemble((f"{i} ", "bold $text-primary"), (c.label.ljust(width), "bold"), (f"  {c.detail}", "$text-muted"), *marks)
            )
        with Vertical() as box:
            box.border_title = Content(clean(self._title))  # plain text, never markup
            box.border_subtitle = "1-4 choose · Enter ◀ · Esc cancels" if self._proposed else "1-4 choose · Esc cancels"
            yield Static(Content("\n").join(lines), id="choices")

    def action_pick(self, index: int) -> None:
        if index < len(self._choices):
            self.dismiss(self._choices[index].value)

    def action_propose(self) -> None:
        if self._proposed is not None:
            self.dismiss(self._proposed)

    def action_cancel(self) -> None:
        self.dismiss(None)
