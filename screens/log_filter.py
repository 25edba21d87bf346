"""The log filter: a one-line input over the bottom of the screen.

Typing filters the log pane live (plain substring, case-insensitive);
Enter keeps the filter, Escape puts back the one there was before.
An empty filter shows every line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class LogFilterScreen(ModalScreen[str | None]):
    """Dismisses with the filter text (Enter) or None (Escape)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="filter.cancel", tooltip="Put back the previous filter"),
    ]
    DEFAULT_CSS = """
    LogFilterScreen {
        align: left bottom;
        background: $background 0%;
    }
    LogFilterScreen > Vertical {
        height: auto;
        width: 1fr;
        background: $panel;
        border-top: solid $accent;
    }
    LogFilterScreen Input, LogFilterScreen Input:focus {
        border: none;  /* (Input:focus's own tall border would leave no row for the text) */
        height: 1;
        padding: 0 1;
    }
    LogFilterScreen .filter--help {
        color: $text-muted;
        padding: 0 1;
    }
    """

    def __init__(self, current: str, on_change: Callable[[str], None], *, what: str = "pod logs", example: str = "429 or x2x9k") -> None:
        """``what`` is filtered (the logs, or the pods table's ``/``); ``on_change`` gets the text as it is typed."""
        super().__init__()
        self._current = current
        self._on_change = on_change
        self._what, self._example = what, example

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Filter {self._what}, any case · Enter keeps · Esc cancels · empty shows all", classes="filter--help")
            yield Input(value=self._current, placeholder=f"text to look for, e.g. {self._example}", id="filter-input")

    def on_input_changed(self, event: Input.Changed) -> None:
        self._on_change(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
