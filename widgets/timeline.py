"""The timeline pane: the newest events of the incident, as recorded.

Only events that came back from the store are shown — each was fsynced
before the store returned it. A write that failed is shown on top in the
error colour ("not recorded: … — why"), and so is a torn or unreadable line
found in the file; the frame turns to the error colour while either is
there. Before an incident is declared, the notable moments the cockpit saw
are listed dimmed as "not recorded yet": declaring keeps them as evidence.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Static

from clay_cockpit.incident.events import Event, EventKind
from clay_cockpit.incident.recorder import Failure
from clay_cockpit.incident.watch import Notable
from clay_cockpit.widgets.checklist import clock_time
from clay_cockpit.widgets.common import clean, hanging, set_if_changed

SHOWN = 40  # newest events in the pane (the full view has them all)

STYLE: dict[str, tuple[str, str]] = {
    EventKind.INCIDENT_DECLARED: ("◆", "bold $text-accent"),
    EventKind.SEVERITY_SUGGESTED: ("!", "$text-warning"),
    EventKind.SEVERITY_CHANGED: ("!", "bold $text-warning"),
    EventKind.STATUS_CHANGED: ("◆", "bold $text-primary"),
    EventKind.BRANCH_CHANGED: ("▶", "$text-accent"),
    EventKind.CLAY_INCIDENT_APPEARED: ("▲", "$text-error"),
    EventKind.CLAY_INCIDENT_UPDATED: ("▲", "$text-warning"),
    EventKind.CLAY_INCIDENT_RESOLVED: ("▲", "$text-success"),
    EventKind.SOURCE_FAILED: ("✗", "$text-error"),
    EventKind.SOURCE_RECOVERED: ("✓", "$text-success"),
    EventKind.POD_CRASHLOOPING: ("✗", "$text-error"),
    EventKind.POD_OOMKILLED: ("✗", "$text-error"),
    EventKind.CHECKLIST_TICKED: ("✓", "$text-success"),
    EventKind.CHECKLIST_UNTICKED: ("○", "$text-muted"),
    EventKind.EVIDENCE_SNAPSHOT: ("◇", "$text-muted"),
    EventKind.ACTION_FAILED: ("✗", "$text-error"),
    EventKind.ACTION_VERIFIED: ("✓", "$text-success"),
}


def event_content(event: Event, width: int = 0) -> Content:
    """``12:03:04 ✓ Ticked: Check Clay's status page`` (wrapped under the
    summary to ``width`` when given)."""
    glyph, style = STYLE.get(event.kind, ("·", ""))
    if event.kind == EventKind.ACTION_VERIFIED and event.data.get("valid") is False:
        glyph, style = "✗", "$text-error"  # a key check that ran, and Clay refused the key
    lead = Content.assemble((clock_time(event.at), "$text-muted"), (f" {glyph} ", style))
    if not width:
        return Content.assemble(lead, clean(event.summary))
    body = hanging(event.summary, width, " " * 11)
    return Content.assemble(lead, body[11:])


def waiting_content(n: Notable, width: int) -> Content:
    glyph, _ = STYLE.get(n.kind, ("·", ""))
    return hanging(f"{glyph} {n.summary}", width, f"{clock_time(n.at)} ", "$text-muted", "$text-muted", " " * 11)


def problems_content(failures: Sequence[Failure], problems: Sequence[str]) -> Content:
    lines = [Content.styled(f"✗ {clock_time(f.at)} not recorded: {clean(f.what)} — {clean(f.error)}", "$text-error") for f in failures]
    lines += [Content.styled(f"⚠ {clean(p)}", "$text-warning") for p in problems]
    return Content("\n").join(lines)


class TimelinePane(Vertical):
    """See the module docstring."""

    DEFAULT_CSS = """
    TimelinePane {
        border: round $foreground 30%;
        border-title-color: $text;
        border-subtitle-color: $text-muted;
        padding: 0 1;
    }
    TimelinePane:focus-within {
        border: round $accent;
    }
    TimelinePane.-error {
        border: round $error;
    }
    TimelinePane > #timeline-problems {
        height: auto;
        max-height: 3;
        display: none;
    }
    TimelinePane.-error > #timeline-problems {
        display: block;
    }
    TimelinePane > VerticalScroll {
        height: 1fr;
        scrollbar-size-vertical: 1;
        scrollbar-gutter: stable;
    }
    TimelinePane #timeline-events {
        height: auto;
    }
    TimelinePane .-waiting {
        color: $text-muted;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._problems = Static(id="timeline-problems")
        self._events = Static("looking for an open incident…", id="timeline-events", classes="-waiting")
        self._body = VerticalScroll(self._events, can_focus=True, id="timeline-body")
        self._last: tuple[str | None, Sequence[Event], Sequence[Failure], Sequence[str], Sequence[Notable]] | None = None
        self._width = 0

    def compose(self) -> ComposeResult:
        yield self._problems
        yield self._body

    def on_mount(self) -> None:
        self.border_title = "t Timeline"
        self._body.anchor()  # stays on the newest line

    def on_resize(self) -> None:
        if self._last is not None and self.content_size.width - 1 != self._width:
            self.show(*self._last)  # wrapped again to the new width

    def show(
        self,
        incident_id: str | None,
        events: Sequence[Event],
        failures: Sequence[Failure],
        problems: Sequence[str],
        waiting: Sequence[Notable],
    ) -> None:
        self._last = (incident_id, events, failures, problems, waiting)
        self._width = width = self.content_size.width - 1 if self.content_size.width > 8 else 60  # less a scrollbar column (hidden: 0)
        body = self._events
        body.remove_class("-waiting")
        if incident_id is not None:
            lines = [event_content(e, width) for e in events[-SHOWN:]]
            title = f"t Timeline · {incident_id} · {events[-1].seq if events else 0} events"
            subtitle = "t shows all"
        else:
            lines = [Content.styled("No incident: nothing is recorded yet (i declares one).", "$text-muted")]
            if waiting:
                lines.append(Content.styled("Seen so far — declaring keeps these as evidence:", "$text-muted"))
                lines += [waiting_content(n, width) for n in waiting[-SHOWN:]]
            title, subtitle = "t Timeline", ""
        set_if_changed(body, Content("\n").join(lines))
        trouble = bool(failures or problems)
        self.set_class(trouble, "-error")
        if trouble:
            set_if_changed(self._problems, problems_content(failures, problems))
            subtitle = "✗ not all recorded" if failures else "⚠ file damaged"
        if self.border_title != title:
            self.border_title = title
        if self.border_subtitle != subtitle:
            self.border_subtitle = subtitle

    def focus_body(self) -> None:
        self.screen.set_focus(self._body)  # at once: see SourcePane.focus_body
