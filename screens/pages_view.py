"""The pages view, full screen (key ``b``: the beeper): PagerDuty's open pages, the
outbox of milestone notes and annotations, the escalations, the Grafana
links (issue 16).

It reads the paging desk (:mod:`clay_cockpit.screens.paging_desk`) once a
second and when a poll answers, and redraws only what changed: the
highlighted page stays where it is. A row is one line (cut at the edge when
drawn); the highlighted page's whole text is under the list, with its link.

Keys, on the highlighted page: ``a`` acknowledge, ``l`` link it to the
cockpit incident, ``n`` add a note, ``R`` resolve (asked); ``E`` escalates
(asked: the reason is the newest permission refusal, or the responder's
choice); ``y`` copies the Grafana dashboard link (OSC 52). Each goes to
PagerDuty from the desk's worker and lands on the timeline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from clay_cockpit.comms.paging import CHANNEL_NAME, DEDUP_PREFIX, GRAFANA, PAGERDUTY, PageState
from clay_cockpit.screens.view_screen import ViewScreen, refill
from clay_cockpit.signals import PagerDutyIncident, PagerDutySnapshot
from clay_cockpit.widgets.checklist import clock_time
from clay_cockpit.widgets.common import clean, format_age, problem_content, set_if_changed
from clay_cockpit.widgets.footer import KeyFooter

if TYPE_CHECKING:
    from clay_cockpit.screens.paging_desk import PagingDesk


def page_row(page: PagerDutyIncident, linked: str | None, now: float) -> Content:
    """One line: ``▶ #1042 TRIGGERED high 4m Clay API: 401s …  · clay-sync · Ana``: title, urgency, status,
    age, service and assignee (the first; the detail lists all)."""
    escalation = (page.incident_key or "").startswith(DEDUP_PREFIX)
    status = ("TRIGGERED", "bold $text-error") if page.status == "triggered" else ("acknowledged", "$text-warning")
    return Content.assemble(
        ("▶ " if page.id == linked else "  ", "bold $text-accent"),
        (f"#{page.number} ", "bold"),
        status,
        f" {page.urgency} ",
        (f"{format_age(now - page.created_at.timestamp())} ", "$text-muted"),
        ("↑ escalation " if escalation else "", "bold $text-warning"),
        clean(page.title),
        (f"  · {clean(page.service)} · {clean(page.assignees[0]) if page.assignees else 'unassigned'}", "$text-muted"),
    )


def page_detail(page: PagerDutyIncident, state: PageState) -> Content:
    lines = [
        Content.styled(clean(page.title), "bold"),
        Content(f"#{page.number} · {page.status} · {page.urgency} urgency · {clean(page.service)}"),
        Content(f"triggered {clock_time(page.created_at.timestamp())}")
        + (Content(f" · acknowledged {clock_time(page.acknowledged_at.timestamp())}") if page.acknowledged_at else Content("")),
        Content(f"assigned to {', '.join(clean(a) for a in page.assignees) or 'nobody'}"),
        Content.styled(clean(page.html_url), "$text-muted"),
    ]
    if page.id == state.page_id:
        lines.append(Content.styled(f"linked to {state.incident_id}", "bold $text-accent"))
    elif (page.incident_key or "").startswith(DEDUP_PREFIX):
        lines.append(Content.styled(f"the escalation of {page.incident_key.removeprefix(DEDUP_PREFIX)}", "$text-warning"))  # type: ignore[union-attr]
    return Content("\n").join(lines)


def outbox_lines(desk: PagingDesk) -> list[Content]:
    """What the outbox holds and why it waits; the escalations; the dashboard links."""
    state, out = desk.state, []
    for channel in (PAGERDUTY, GRAFANA):
        on = desk.config.pagerduty.enabled if channel == PAGERDUTY else desk.config.grafana.enabled
        if not on:
            continue
        waiting, sent = len(state.waiting(channel)), state.sent.get(channel, 0)
        what = "notes" if channel == PAGERDUTY else "annotations"
        line = Content(f"{CHANNEL_NAME[channel]} {what}: {sent} sent")
        if waiting:
            why = desk.failing.get(channel)
            if why is not None:
                reason = f"{why.kind.value}: {why.message}"
            elif channel == PAGERDUTY and not state.linked:
                reason = "no page linked (l links one)"
            else:
                reason = "sending"
            line += Content.styled(f" · {waiting} waiting — {clean(reason)}", "bold $text-warning")
        out.append(line)
    for e in state.escalations:
        via = "Events API" if e.how == "events" else f"reassigned to {clean(e.target)}"
        seen = next((p for p in desk.pages() if e.dedup_key and p.incident_key == e.dedup_key), None)
        status = f" · #{seen.number} {seen.status}" if seen is not None else ""
        out.append(Content.styled(f"escalated {clock_time(e.at)} via {via}{status} — {clean(e.reason)}", "$text-warning"))
    for url in desk.dashboard_links():
        out.append(Content.styled(f"Grafana: {clean(url)}", "$text-muted"))
    return out


class NoteScreen(ModalScreen[str | None]):
    """A note for a PagerDuty incident: one line; Enter sends, Esc cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="note.cancel", tooltip="Send nothing")]
    DEFAULT_CSS = """
    NoteScreen { align: left bottom; background: $background 0%; }
    NoteScreen > Vertical { height: auto; width: 1fr; background: $panel; border-top: solid $accent; }
    NoteScreen Input, NoteScreen Input:focus { border: none; height: 1; padding: 0 1; }
    NoteScreen .note--help { color: $text-muted; padding: 0 1; }
    """

    def __init__(self, number: int, text: str = "") -> None:
        super().__init__()
        self._number = number
        self._text = text  # a note that failed to send, back in the input

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Note on PagerDuty #{self._number} · Enter sends · Esc cancels", classes="note--help")
            yield Input(value=self._text, placeholder="what the responders on the page should know", id="note-input")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class PagesScreen(ViewScreen):
    LIST = "pages-list"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,b", "app.pop_screen", "Back", id="pages.close", tooltip="Back to the cockpit"),
        Binding("a", "acknowledge", "Ack", id="pages.acknowledge", tooltip="Acknowledge the highlighted page on PagerDuty"),
        Binding(
            "l", "link", "Link", id="pages.link", tooltip="Link the highlighted page to the cockpit incident (milestone notes go to it)"
        ),
        Binding("n", "note", "Note", id="pages.note", tooltip="Add a note to the highlighted page"),
        Binding("E", "app.escalate", "Escalate", id="pages.escalate", tooltip="Page the escalation target (asked first)"),
        Binding("R", "resolve", "Resolve", id="pages.resolve", tooltip="Resolve the highlighted page on PagerDuty (asked first)"),
        Binding("y", "app.copy_link", "Copy link", id="pages.copy", tooltip="Copy the Grafana dashboard link (OSC 52)"),
    ]
    DEFAULT_CSS = """
    PagesScreen #pages-head { height: 1; padding: 0 1; background: $panel; text-wrap: nowrap; text-overflow: ellipsis; }
    PagesScreen #pages-problem { height: auto; padding: 0 1; color: $text-error; }
    PagesScreen OptionList, PagesScreen OptionList:focus {
        height: 1fr; text-wrap: nowrap; text-overflow: ellipsis; border: none; padding: 0 1; background-tint: transparent;
    }
    PagesScreen OptionList > .option-list--option-highlighted { text-style: bold; }
    PagesScreen.-nocolor OptionList > .option-list--option-highlighted { text-style: bold underline; }
    PagesScreen #pages-detail-box { height: 2fr; min-height: 6; border-top: solid $foreground 30%; padding: 0 1; }
    """

    def __init__(self, desk: PagingDesk, clock: Callable[[], float]) -> None:
        super().__init__()
        self._desk = desk
        self._clock = clock
        self._pages: dict[str, PagerDutyIncident] = {}
        self._shown: object = None

    def compose(self) -> ComposeResult:
        yield Static(Content.styled("Pages · waiting for PagerDuty…", "$text-muted"), id="pages-head")
        yield Static(id="pages-problem")
        yield OptionList(id="pages-list")
        with VerticalScroll(id="pages-detail-box"):
            yield Static(id="pages-detail")
            yield Static(id="pages-outbox")
        yield KeyFooter(compact=True, show_command_palette=False)

    def update(self) -> None:
        if not self.is_attached:
            return
        desk, now = self._desk, self._clock()
        reading, state = desk.reading, desk.state
        self._head(now)
        problem = self.query_one("#pages-problem", Static)
        problem.display = reading.error is not None
        if reading.error is not None:
            set_if_changed(problem, problem_content(reading.error))
        set_if_changed(self.query_one("#pages-outbox", Static), Content("\n").join(["", *outbox_lines(desk)]))
        pages = desk.pages()
        key = (tuple((p, int(now - p.created_at.timestamp()) // 60) for p in pages), state.page_id, state.incident_id)
        if key == self._shown:
            return
        self._shown = key
        view = self.query_one("#pages-list", OptionList)
        self._pages = {p.id: p for p in pages}
        words = "no open page" if isinstance(reading.value, PagerDutySnapshot) else "nothing read yet"
        was = refill(view, [Option(page_row(p, state.page_id, now), id=p.id) for p in pages], words, "empty")
        if not pages:
            set_if_changed(self.query_one("#pages-detail", Static), Content.styled("No page to show.", "$text-muted"))
            return
        target = was if was in self._pages else (state.page_id if state.page_id in self._pages else pages[0].id)
        view.highlighted = view.get_option_index(target)
        self._detail(target)

    def _head(self, now: float) -> None:
        desk = self._desk
        reading = desk.reading
        if not desk.config.pagerduty.enabled:
            set_if_changed(
                self.query_one("#pages-head", Static), Content.styled("Pages · PagerDuty is off ([pagerduty] enabled)", "$text-muted")
            )
            return
        if reading.value is None:
            words = "Pages · PagerDuty failing, nothing read yet" if reading.error is not None else "Pages · waiting for PagerDuty…"
            set_if_changed(self.query_one("#pages-head", Static), Content.styled(words, "$text-error" if reading.error else "$text-muted"))
            return
        age = format_age(reading.age(now))
        linked = f" · linked {desk.state.label()}" if desk.state.linked else " · no page linked"
        parts = [
            Content.styled("Pages", "bold"),
            Content(" · PagerDuty · "),
            Content.styled(f"STALE {age} ago", "bold $text-error") if reading.stale else Content(f"{age} ago"),
            Content.styled(f" · {len(desk.pages())} open{linked}", "$text-muted"),
        ]
        set_if_changed(self.query_one("#pages-head", Static), Content.assemble(*parts))

    def _detail(self, page_id: str | None) -> None:
        page = self._pages.get(page_id or "")
        if page is not None:
            set_if_changed(self.query_one("#pages-detail", Static), page_detail(page, self._desk.state))

    def on_option_list_option_highlighted(self, message: OptionList.OptionHighlighted) -> None:
        self._detail(message.option.id)

    def selected(self) -> PagerDutyIncident | None:
        option = self.query_one("#pages-list", OptionList).highlighted_option
        page = self._pages.get(option.id or "") if option is not None else None
        if page is None:
            self.notify("no page highlighted", title="Pages", severity="warning")
        return page

    def action_acknowledge(self) -> None:
        if (page := self.selected()) is not None:
            self._desk.acknowledge(page)

    def action_link(self) -> None:
        if (page := self.selected()) is not None:
            self._desk.link(page)

    def action_resolve(self) -> None:
        if (page := self.selected()) is not None:
            self._desk.resolve(page)

    def action_note(self) -> None:
        page = self.selected()
        if page is not None:
            self._ask_note(page, "")

    def _ask_note(self, page: PagerDutyIncident, text: str) -> None:
        def done(typed: str | None) -> None:
            if typed:
                self._desk.note(page, typed, reopen=lambda again: self._ask_note(page, again))

        self._desk.app.push_screen(NoteScreen(page.number, text), done)  # (the desk's app: this view may be closed by then)
