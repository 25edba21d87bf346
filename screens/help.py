"""The `?` help screen, generated from the same Binding lists as the footer
and the command palette, so it cannot drift from the keys that work."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

Section = tuple[str, Sequence[Binding]]


def help_content(sections: Sequence[Section], key_display: Callable[[Binding], str]) -> Content:
    rows: list[tuple[str, Binding]] = [(key_display(b), b) for _, bindings in sections for b in bindings]
    width = max((len(key) for key, _ in rows), default=3)
    lines: list[Content] = []
    for title, bindings in sections:
        if lines:
            lines.append(Content(""))
        lines.append(Content.styled(title, "bold $text-accent"))
        for binding in bindings:
            lines.append(
                Content.assemble(
                    (key_display(binding).rjust(width), "bold $text-primary"),
                    "  ",
                    (binding.description, "bold"),
                    (f" — {binding.tooltip}" if binding.tooltip else "", "$text-muted"),
                )
            )
    return Content("\n").join(lines)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[Binding]] = [
        Binding("escape,question_mark,q", "dismiss", "Close", id="help.close", tooltip="Back to the cockpit"),
    ]
    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > VerticalScroll {
        width: 90%;
        max-width: 100;
        height: 90%;
        max-height: 40;
        border: round $accent;
        border-title-color: $text;
        background: $surface;
        padding: 0 1;
    }
    """

    def __init__(self, sections: Sequence[Section], key_display: Callable[[Binding], str]) -> None:
        super().__init__()
        self._content = help_content(sections, key_display)

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = "Keys · Esc closes"
            scroll.border_subtitle = "ctrl+p searches panes and actions"
            yield Static(self._content, id="help-text")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
