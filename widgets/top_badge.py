"""A badge in the top bar (:class:`TopBadge`): one line, as wide as what it
says, hidden until it has something to say — the PagerDuty page
(:mod:`clay_cockpit.widgets.page_badge`), the shared incident
(:mod:`clay_cockpit.widgets.shared_badge`)."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from clay_cockpit.widgets.common import set_if_changed


class TopBadge(Static):
    DEFAULT_CSS = """
    TopBadge {
        width: auto;
        height: 1;
        padding: 0 1;
        background: $panel;
        text-wrap: nowrap;
        display: none;
    }
    TopBadge.-shown {
        display: block;
    }
    """

    def show(self, content: Content | None) -> None:
        """``content`` shown (redrawn only if it changed); None hides the badge."""
        self.set_class(content is not None, "-shown")
        if content is not None:
            set_if_changed(self, content)
