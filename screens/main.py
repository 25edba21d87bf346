"""The main cockpit screen: every live signal on one screen.

Layout (sizes in cockpit/app.tcss, compact at 80x24, roomy at 160x48)::

    ContextBar (what we are looking at; the drill's death, if it dies)
    ┌ #live ───────────────────────────────┐┌ #decide ───────────┐
    │ #row-top:  Clay status | Health       ││ room for the triage│
    │ #row-mid:  Error rates | Pods         ││ checklist and the  │
    │ #logs:     Pod logs                   ││ actions panes      │
    └───────────────────────────────────────┘└────────────────────┘
    Footer

``#decide`` is where later issues mount the decision panes with
:meth:`MainScreen.add_decision_pane`; it takes no room while empty, so the
signal panes keep the whole screen until then.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer

from cockpit.config import Config
from cockpit.signals import Reading
from widgets.common import SourcePane
from widgets.context_bar import ContextBar
from widgets.health import HealthPane
from widgets.logs import LogsPane
from widgets.metrics import MetricsPane
from widgets.pods import PodsPane
from widgets.status import ClayStatusPane

# Signals field → pane id (the same names)
PANES = ("statuspage", "health", "metrics", "pods", "logs")


class MainScreen(Screen[None]):
    AUTO_FOCUS = "#logs LogView"

    def __init__(self, config: Config, *, title: str, target: str) -> None:
        super().__init__()
        self.config = config
        self._title = title
        self._target = target

    def compose(self) -> ComposeResult:
        yield ContextBar(self._title, self._target)
        with Horizontal(id="cockpit"):
            with Vertical(id="live"):
                with Horizontal(id="row-top", classes="pane-row"):
                    yield ClayStatusPane(id="statuspage")
                    yield HealthPane(id="health")
                with Horizontal(id="row-mid", classes="pane-row"):
                    yield MetricsPane(self.config.thresholds, self.config.metrics.backup_urls, id="metrics")
                    yield PodsPane(self.config.thresholds.restarts_warn, id="pods")
                yield LogsPane(self.config.kube.log_buffer, id="logs")
            yield Vertical(id="decide")
        yield Footer(compact=True)

    @property
    def context_bar(self) -> ContextBar | None:
        return next(iter(self.query(ContextBar)), None)

    @property
    def logs(self) -> LogsPane | None:
        pane = self.pane("logs")
        return pane if isinstance(pane, LogsPane) else None

    def pane(self, name: str) -> SourcePane | None:
        """The pane for a Signals field; None once the screen is torn down
        (results still in flight when the app quits find no pane)."""
        return next(iter(self.query(f"#{name}").results(SourcePane)), None)

    def show_reading(self, name: str, reading: Reading[Any], now: float) -> None:
        pane = self.pane(name)
        if pane is not None:
            pane.show(reading, now)

    def tick(self, now: float) -> None:
        for pane in self.query(SourcePane):
            pane.tick(now)

    def add_decision_pane(self, pane: Widget) -> None:
        """Mount a decision pane (triage checklist, actions) in the right column."""
        decide = self.query_one("#decide", Vertical)
        decide.display = True
        decide.mount(pane)
