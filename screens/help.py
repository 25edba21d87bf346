"""The `?` help screen, generated from the same Binding lists as the footer
and the command palette, so it cannot drift from the keys that work (the
[keymap]'s keys included: the app passes its remapped bindings). It ends with
where the cockpit writes: its log file and the incidents."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

Section = tuple[str, Sequence[Binding]]


def log_file() -> tuple[str, str]:
    """Where Python logging goes (the file ``clay-cockpit`` set up, see
    cockpit/cli.py), and the cockpit's own level: ("", "") if not to a file."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            level = logging.getLevelName(logging.getLogger("clay_cockpit").getEffectiveLevel()).lower()
            return handler.baseFilename, level
    return "", ""


def files_content(state_dir: Path | None) -> Content:
    path, level = log_file()
    rows = [("log", f"{path} (level {level}; --log-level or --debug changes it)" if path else "not written to a file in this run")]
    if state_dir is not None:
        rows.append(("incidents", str(state_dir / "incidents")))
    width = max(len(name) for name, _ in rows)
    lines = [Content.styled("Files", "bold $text-accent")]
    lines += [Content.assemble((name.rjust(width), "bold $text-primary"), "  ", (value, "$text-muted")) for name, value in rows]
    return Content("\n").join(lines)


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
    BINDINGS: ClassVar[list[BindingType]] = [
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

    def __init__(self, sections: Sequence[Section], key_display: Callable[[Binding], str], state_dir: Path | None = None) -> None:
        super().__init__()
        self._content = Content("\n\n").join([help_content(sections, key_display), files_content(state_dir)])
        palette = next((b for _, bindings in sections for b in bindings if b.action == "command_palette"), None)
        self._palette_key = palette.key if palette is not None else "ctrl+p"

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = "Keys · Esc closes"
            scroll.border_subtitle = f"{self._palette_key} searches panes and actions"
            yield Static(self._content, id="help-text")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
