"""Integration health pane: our endpoint's overall status and its checks."""

from __future__ import annotations

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from clay_cockpit.signals import HealthCheck, HealthSnapshot
from clay_cockpit.widgets.common import SourcePane, clean, pad, set_if_changed

_OVERALL = {"ok": ("●", "$text-success"), "degraded": ("◐", "$text-warning"), "down": ("✗", "$text-error")}
_CHECK = {"ok": ("✓", "$text-success"), "degraded": ("◐", "$text-warning"), "fail": ("✗", "$text-error")}
_ORDER = {"fail": 0, "degraded": 1, "ok": 2}


def _ms(value: float) -> str:
    """Response time in coarse steps: a new number every poll would repaint
    the line every poll (bytes on an SSH link) for no decision it changes."""
    for limit, text in ((50, "<50 ms"), (100, "<100 ms"), (250, "<250 ms"), (500, "<500 ms"), (1000, "<1 s")):
        if value < limit:
            return text
    return f"{value / 1000:.1f} s"


def health_content(snap: HealthSnapshot) -> Content:
    glyph, colour = _OVERALL.get(snap.status, ("?", "$text-muted"))
    facts = [f"HTTP {snap.http_status}", _ms(snap.response_ms)]
    if snap.version:
        facts.append(f"v{clean(snap.version).removeprefix('v')}")
    lines = [Content.assemble((f"{glyph} {snap.status}", f"bold {colour}"), ("  " + " · ".join(facts), "$text-muted"))]
    checks: list[HealthCheck] = sorted(snap.checks, key=lambda c: _ORDER.get(c.status, 1))
    width = max((cell_len(clean(c.name)) for c in checks), default=0)
    for check in checks:
        cglyph, ccolour = _CHECK.get(check.status, ("?", "$text-warning"))
        lines.append(
            Content.assemble(
                (f"{cglyph} ", ccolour),
                pad(clean(check.name), width),
                " ",
                (check.status.ljust(9), ccolour),
                (clean(check.detail), "$text-muted"),
            )
        )
    if not checks:
        lines.append(Content.styled("no checks reported", "$text-muted"))
    return Content("\n").join(lines)


class HealthPane(SourcePane):
    """Our integration health endpoint: is our side of the Clay link well?"""

    PANE_TITLE = "Health"
    PANE_KEY = "2"

    DEFAULT_CSS = """
    HealthPane #health-lines {
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def compose_body(self) -> ComposeResult:
        self._lines = Static("waiting for the first answer…", classes="pane--waiting", id="health-lines")
        with VerticalScroll(classes="pane--body", can_focus=True):
            yield self._lines

    def render_value(self, value: HealthSnapshot, now: float) -> None:
        lines = self._lines
        lines.remove_class("pane--waiting")
        set_if_changed(lines, health_content(value))
