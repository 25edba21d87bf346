"""The one-line bar at the top: what this cockpit is looking at.

It names the target (kube context / namespace, or the drill scenario) and,
when the drill environment has died, says so in the error colour — the
panes below then show their own failures, but this line says why.
"""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from widgets.common import clean, set_if_changed


class ContextBar(Static):
    DEFAULT_CSS = """
    ContextBar {
        dock: top;
        height: 1;
        width: 1fr;
        padding: 0 1;
        background: $panel;
        color: $text;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    ContextBar.-error {
        height: auto;
        max-height: 3;
        text-wrap: wrap;
        background: $error;
        color: $text;
        text-style: bold;
    }
    """

    def __init__(self, title: str, target: str) -> None:
        super().__init__()
        self._title = title
        self._target = target
        self._problem: str | None = None

    def on_mount(self) -> None:
        self._draw()

    def set_problem(self, message: str | None) -> None:
        """Show (or clear) a problem with the environment itself."""
        self._problem = message
        self.set_class(message is not None, "-error")
        self._draw()

    def _draw(self) -> None:
        if self._problem is not None:
            content = Content.from_markup("✗ $problem", problem=clean(self._problem))
        else:
            content = Content.assemble((clean(self._title), "bold"), ("  " + clean(self._target), "$text-muted"))
        set_if_changed(self, content)
