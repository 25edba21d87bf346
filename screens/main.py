"""The main cockpit screen: every live signal and the decision on one screen.

Layout (sizes in cockpit/app.tcss)::

    #topbar: ContextBar (what we look at; the drill's death) | PageBadge (the PagerDuty page) | SharedBadge (the shared incident) | IncidentBadge (severity, status, clock) | CadenceBadge (next update)
    ┌ #live ─────────────────────────────────┐┌ #decide ──────────────┐
    │ #triage-strip (80 columns only)         ││ #triage   TriagePane  │
    │ #row-top:  Clay status | Health         ││ #checklist            │
    │ #row-mid:  Error rates | Pods           ││ #timeline             │
    │ #logs:     Pod logs                     ││ (later: actions …)    │
    └─────────────────────────────────────────┘└───────────────────────┘
    Footer

At 120 columns and more (``-wide``) both columns show. Narrower, the
decision column takes the signal panes' place while
:attr:`MainScreen.deciding` (:meth:`MainScreen.show_decision`), and a two-line triage
strip above the signal panes keeps the verdict and the next actions in
sight. Later issues mount more decision panes with
:meth:`MainScreen.add_decision_pane`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import tzinfo
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widget import Widget

from clay_cockpit.config import Config
from clay_cockpit.incident.events import Event
from clay_cockpit.incident.recorder import Failure
from clay_cockpit.incident.state import Incident, Tick
from clay_cockpit.incident.watch import Notable
from clay_cockpit.signals import Reading
from clay_cockpit.triage.tree import Triaged
from clay_cockpit.widgets.cadence import CadenceBadge
from clay_cockpit.widgets.checklist import ChecklistPane
from clay_cockpit.widgets.common import SourcePane
from clay_cockpit.widgets.context_bar import ContextBar, IncidentBadge
from clay_cockpit.widgets.footer import KeyFooter
from clay_cockpit.widgets.health import HealthPane
from clay_cockpit.widgets.logs import LogsPane
from clay_cockpit.widgets.metrics import MetricsPane
from clay_cockpit.widgets.page_badge import PageBadge
from clay_cockpit.widgets.pods import PodsPane
from clay_cockpit.widgets.shared_badge import SharedBadge
from clay_cockpit.widgets.status import ClayStatusPane
from clay_cockpit.widgets.timeline import TimelinePane
from clay_cockpit.widgets.triage import TriagePane, TriageStrip

# Signals field → pane id (the same names)
PANES = ("statuspage", "health", "metrics", "pods", "logs")


class MainScreen(Screen[None]):
    AUTO_FOCUS = "#logs LogView"

    def __init__(self, config: Config, *, title: str, target: str, shorter: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.config = config
        self._title = title
        self._target = target
        self._shorter = shorter  # the top bar's names for it when the title does not fit, longest first
        self._decide_from: Widget | None = None  # what had the keyboard before the decision view
        self._deciding = False  # below 120 columns: the decision column in the signal panes' place
        # the decision widgets, kept at hand: they are updated on every snapshot (no DOM query each time)
        self._badge = IncidentBadge(id="badge")
        self.page_badge = PageBadge(id="page-badge")  # the PagerDuty page (issue 16): shown once PagerDuty answered
        self.shared_badge = SharedBadge(id="shared-badge")  # the shared incident (issue 17): shown while sharing is on
        self._cadence = CadenceBadge(id="cadence")
        self._strip = TriageStrip(id="triage-strip")
        self._triage = TriagePane(id="triage")
        self._checklist = ChecklistPane(id="checklist")
        self._timeline = TimelinePane(id="timeline")
        self._branches: tuple[object, object] | None = None  # what the checklist's marks were drawn for

    def compose(self) -> ComposeResult:
        with Horizontal(id="topbar"):
            profile = self.config.profile  # the environment in use (--env): named first in the bar, red when production
            production = profile is not None and profile.require_explicit
            yield ContextBar(
                self._title,
                self._target,
                read_only=self.config.kube.read_only,
                shorter=self._shorter,
                env=self.config.env,
                production=production,
            )
            yield self.page_badge
            yield self.shared_badge
            yield self._badge
            yield self._cadence
        with Horizontal(id="cockpit"):
            with Vertical(id="live"):
                yield self._strip
                with Horizontal(id="row-top", classes="pane-row"):
                    yield ClayStatusPane(id="statuspage")
                    yield HealthPane(id="health")
                with Horizontal(id="row-mid", classes="pane-row"):
                    grafana = self.config.grafana.enabled and bool(self.config.grafana.dashboard_uids)
                    yield MetricsPane(self.config.thresholds, self.config.metrics.backup_urls, grafana=grafana, id="metrics")
                    yield PodsPane(self.config.thresholds.restarts_warn, id="pods")
                yield LogsPane(self.config.kube.log_buffer, id="logs")
            with Vertical(id="decide"):
                yield self._triage
                yield self._checklist
                yield self._timeline
        yield KeyFooter(compact=True, show_command_palette=False)  # 80 columns: the keys need the room (? lists ctrl+p)

    # -- parts ------------------------------------------------------------------

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

    @property
    def cadence_badge(self) -> CadenceBadge:
        """The next stakeholder update's countdown, in the top bar (screens/comms_desk.py draws it)."""
        return self._cadence

    @property
    def checklist(self) -> ChecklistPane:
        return self._checklist

    @property
    def triage(self) -> TriagePane:
        return self._triage

    @property
    def is_wide(self) -> bool:
        return self.has_class("-wide")

    # -- the views --------------------------------------------------------------

    @property
    def deciding(self) -> bool:
        """Below 120 columns: is the decision column in the signal panes' place?"""
        return self._deciding

    @property
    def decision_shown(self) -> bool:
        """Are the triage, checklist and timeline on screen?"""
        return self.is_wide or self._deciding

    def show_decision(self, on: bool) -> None:
        """Below 120 columns: the decision column in place of the signal panes (or back)."""
        if on == self._deciding:
            return
        if on:
            self._decide_from = self.focused
        self._deciding = on
        self._apply_view()
        if not on and self._decide_from is not None and self._decide_from.is_attached:
            self.set_focus(self._decide_from)
        self.app.refresh_bindings()

    def _apply_view(self) -> None:
        """Swap the two columns with their inline display, not with a class
        on the screen: a screen class restyles all ~90 widgets (the larger
        half of a key's response); this lays out again and nothing more.
        Wide, the stylesheet shows both columns."""
        live, decide = self.query_one("#live"), self.query_one("#decide")
        if self.is_wide or not self._deciding:
            live.styles.clear_rule("display")
            decide.styles.clear_rule("display")
            live.refresh(layout=True)
            decide.refresh(layout=True)
        else:
            live.display = False
            decide.display = True

    def on_resize(self) -> None:
        self.call_after_refresh(self._apply_view)  # once the breakpoint classes follow the new width

    def show_signals(self) -> None:
        self.show_decision(False)

    # -- data ---------------------------------------------------------------------

    def show_reading(self, name: str, reading: Reading[Any], now: float) -> None:
        pane = self.pane(name)
        if pane is not None:
            pane.show(reading, now)

    def tick(self, now: float) -> None:
        for pane in self.query(SourcePane):
            pane.tick(now)

    def show_triage(self, t: Triaged) -> None:
        """A triage update: the strip, the pane and which checklist items apply."""
        self._strip.show(t)
        self._triage.show(t)
        branches = (t.assessment.branches, t.assessment.errors)
        if branches != self._branches:
            self._branches = branches
            self._checklist.show(branches=t.assessment.branches, errors=t.assessment.errors)

    def show_incident(
        self,
        incident: Incident | None,
        events: Sequence[Event],
        failures: Sequence[Failure],
        problems: Sequence[str],
        waiting: Sequence[Notable],
        now: float,
        tz: tzinfo | None = None,
        read_only: bool = False,
    ) -> None:
        """The incident as recorded: the badge (marked when nothing new can be
        recorded), the checklist's ticks, the timeline."""
        self._badge.read_only = read_only
        self._badge.show(incident, now, tz)
        ticks: Mapping[str, Tick] = incident.ticks if incident is not None else {}
        self._checklist.show(ticks=ticks, is_open=incident is not None and incident.is_open)
        self._timeline.show(incident.id if incident is not None else None, events, failures, problems, waiting)

    def show_clock(self, incident: Incident | None, now: float, tz: tzinfo | None = None) -> None:
        self._badge.show(incident, now, tz)

    def add_decision_pane(self, pane: Widget, *, before: str | None = "#timeline") -> None:
        """Mount a decision pane (e.g. the actions of issue 4) in the decision
        column, by default above the timeline."""
        decide = self.query_one("#decide", Vertical)
        target = decide.query(before).first() if before and decide.query(before) else None
        decide.mount(pane, before=target)
