"""The one-line bar at the top: what this cockpit is looking at, and the
incident with its response-target clock.

:class:`ContextBar` names the target (kube context / namespace, or the drill
scenario) and, when the drill environment has died, says so in the error
colour — the panes below then show their own failures, but this line says
why. In read-only mode (``--read-only`` or ``kube.read_only``) it starts
with READ-ONLY. :class:`IncidentBadge`, at its right, shows the open incident's
severity, status and the clock counting down to its response target; it is
the only text on screen that changes every second, so it is short and is
redrawn only when the text it shows changes.
"""

from __future__ import annotations

from datetime import tzinfo

from textual.content import Content
from textual.widgets import Static

from cockpit.incident import ClockLevel, Incident, Status
from widgets.common import clean, set_if_changed
from widgets.triage import SEV_STYLE

_CLOCK_STYLE = {ClockLevel.OK: "$text-success", ClockLevel.WARNING: "bold $text-warning", ClockLevel.ERROR: "bold $text-error"}


def severity_text(incident: Incident) -> str:
    """The severity in force: "P1?" (declared or raised by triage, not yet
    accepted), "P1", and triage's suggestion when it differs: "P1 (triage
    P2)" — a lower one is only offered (s lowers it), a higher one after a
    hand-set severity stands until triage moves again."""
    sev = f"{incident.severity}" + ("" if incident.confirmed else "?")
    if incident.suggested != incident.severity:
        return f"{sev} (triage {incident.suggested})"
    return sev


def badge_content(incident: Incident | None, now: float, tz: tzinfo | None = None) -> Content:
    """``P1? investigating · 12:03 left`` in the clock's colour (ok/warning/error)."""
    if incident is None:
        return Content.styled("no incident · i declares", "$text-muted")
    clock = incident.clock(tz)
    if incident.status == Status.RESOLVED:
        return Content.styled(f"{severity_text(incident)} resolved · {clock.text(now)}", "$text-muted")
    return Content.assemble(
        (severity_text(incident), SEV_STYLE[incident.severity]),
        (f" {incident.status} · ", ""),
        (clock.text(now), _CLOCK_STYLE[clock.level(now)]),
    )


class ContextBar(Static):
    DEFAULT_CSS = """
    ContextBar {
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

    def __init__(self, title: str, target: str, *, read_only: bool = False) -> None:
        super().__init__()
        self._title = title
        self._target = target
        self._read_only = read_only  # no mutating request leaves this cockpit: said first, in the warning colour
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
            if self._read_only:
                content = Content.assemble((" READ-ONLY ", "bold reverse $text-warning"), " ", content)
        set_if_changed(self, content)


class IncidentBadge(Static):
    """The open incident and its clock, at the right of the top bar."""

    DEFAULT_CSS = """
    IncidentBadge {
        width: auto;
        height: 1;
        padding: 0 1;
        background: $panel;
        text-wrap: nowrap;
    }
    """

    def show(self, incident: Incident | None, now: float, tz: tzinfo | None = None) -> bool:
        """Redraw if the text changed; True if it did."""
        return set_if_changed(self, badge_content(incident, now, tz))
