"""Clay status pane: page indicator, components, unresolved incidents."""

from __future__ import annotations

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from clay_cockpit.signals import Component, ComponentStatus, StatusIncident, StatusPageSnapshot
from clay_cockpit.widgets.common import SourcePane, age_since, clean, pad, set_if_changed

# indicator → (glyph, theme colour)
_INDICATOR = {
    "none": ("●", "$text-success"),
    "minor": ("◐", "$text-warning"),
    "major": ("✗", "$text-error"),
    "critical": ("✗", "$text-error"),
    "maintenance": ("◆", "$text-primary"),
}
_COMPONENT = {
    ComponentStatus.OPERATIONAL: ("✓", "$text-success", "operational"),
    ComponentStatus.DEGRADED: ("◐", "$text-warning", "degraded"),
    ComponentStatus.PARTIAL_OUTAGE: ("✗", "$text-warning", "partial outage"),
    ComponentStatus.MAJOR_OUTAGE: ("✗", "$text-error", "major outage"),
    ComponentStatus.MAINTENANCE: ("◆", "$text-primary", "maintenance"),
    ComponentStatus.UNKNOWN: ("?", "$text-muted", "unknown"),
}
_IMPACT = {"critical": "$text-error", "major": "$text-error", "minor": "$text-warning"}


def header_content(snap: StatusPageSnapshot) -> Content:
    glyph, colour = _INDICATOR.get(snap.indicator, ("?", "$text-muted"))
    return Content.assemble((f"{glyph} ", colour), (clean(snap.description) or snap.indicator, f"bold {colour}"))


def components_content(components: tuple[Component, ...]) -> Content:
    """Components not operational first, one a line; operational ones on one line.
    The status words line up in one column, by terminal cells (a CJK name is twice as wide as it is long)."""
    troubled = [c for c in components if c.status is not ComponentStatus.OPERATIONAL]
    fine = [c for c in components if c.status is ComponentStatus.OPERATIONAL]
    width = max((cell_len(clean(c.name)) for c in troubled), default=0)
    lines = []
    for c in troubled:
        glyph, colour, words = _COMPONENT[c.status]
        lines.append(Content.assemble((f"{glyph} ", colour), pad(clean(c.name), width), "  ", (words, colour)))
    if fine:
        names = ", ".join(clean(c.name) for c in fine)
        lines.append(Content.assemble(("✓ ", "$text-success"), f"{len(fine)} operational: ", (names, "$text-muted")))
    if not components:
        lines.append(Content.styled("no components listed", "$text-muted"))
    return Content("\n").join(lines)


def is_maintenance(incident: StatusIncident) -> bool:
    """A maintenance window, not an incident (Statuspage gives maintenances impact "maintenance")."""
    return incident.impact == "maintenance"


def _words(status: str) -> str:
    """An API's status word as a person writes it: "in_progress" → "in progress"."""
    return " ".join(clean(status).replace("_", " ").split()) or "unknown"


def _block(inc: StatusIncident, now: float) -> Content:
    since = age_since(inc.started_at or inc.updated_at, now)
    if is_maintenance(inc):
        head = Content.assemble(
            ("◆ ", "$text-primary"), (clean(inc.name), "bold"), (f" — maintenance {_words(inc.status)}, {since} ago", "$text-muted")
        )
    else:
        colour = _IMPACT.get(inc.impact, "$text-primary")
        head = Content.assemble(("▲ ", colour), (clean(inc.name), "bold"), (f" — {_words(inc.status)}, {since} ago", "$text-muted"))
    if not inc.latest_update:
        return head
    when = age_since(inc.latest_update_at, now)
    body = Content.assemble(("  ", ""), clean(" ".join(inc.latest_update.split())), (f" ({when} ago)", "$text-muted"))
    return Content("\n").join([head, body])


def incidents_content(incidents: tuple[StatusIncident, ...], now: float) -> Content:
    """Unresolved incidents (▲), then maintenances in progress (◆): a
    maintenance is said to be one, never shown as an incident."""
    real = [i for i in incidents if not is_maintenance(i)]
    maintenances = [i for i in incidents if is_maintenance(i)]
    blocks = [_block(inc, now) for inc in real] or [Content.styled("No unresolved incidents", "$text-muted")]
    blocks += [_block(inc, now) for inc in maintenances]
    return Content("\n").join(blocks)


class ClayStatusPane(SourcePane):
    """Clay's public status page: is Clay saying it is broken?"""

    PANE_TITLE = "Clay status"
    PANE_KEY = "1"

    DEFAULT_CSS = """
    ClayStatusPane .status--lines {
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def compose_body(self) -> ComposeResult:
        self._header = Static("waiting for the first answer…", classes="status--lines pane--waiting", id="status-header")
        self._components = Static(classes="status--lines", id="status-components")
        self._incidents = Static(id="status-incidents")
        with VerticalScroll(classes="pane--body", can_focus=True):
            yield self._header
            yield self._incidents  # before the components: the "why" must fit at 80x24
            yield self._components

    def render_value(self, value: StatusPageSnapshot, now: float) -> None:
        self._header.remove_class("pane--waiting")
        set_if_changed(self._header, header_content(value))
        set_if_changed(self._components, components_content(value.components))
        self.render_ages(value, now)

    def render_ages(self, value: StatusPageSnapshot, now: float) -> None:
        set_if_changed(self._incidents, incidents_content(value.incidents, now))

    def subtitle_ok(self) -> str:
        snap = self.reading.value
        return snap.provider if isinstance(snap, StatusPageSnapshot) else ""
