"""The infrastructure view, full screen (key ``o``): what changed, what
Kubernetes complains about, the nodes our pods run on — the three questions
a responder on the infrastructure branch asks, in that order.

It reads ``Signals.infra`` (and the incident timeline's actions) through a
getter the app hands it, once a second while it is on screen, and redraws
only when what it would show changed: the highlighted row stays where it is.
No reading yet: "waiting for Kubernetes…"; a failed one: its kind, message
and hint, the last good data kept and marked STALE with its age. A row's
text is cut to the width when drawn; the highlighted row's whole text (an
event's full message) is under the list.

The History section lists the rollout's revisions; ``U`` on an older one
asks the app (``rollback``, the actions desk's ``rollback_to``) for the
rollback's plan to THAT revision: the same plan → dry run → permissions →
confirm path as the main screen's ``U``, read-only and the Lease included.
On the current revision ``U`` says why not; it never plans a no-op.

The footer shows the view's own keys and ``?``/``q``: the cockpit's other
shown keys (panes, decide, declare …) are left out of it (they still go back
and act), so the line fits 80 columns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from clay_cockpit.incident.events import Event
from clay_cockpit.screens.view_screen import ViewScreen
from clay_cockpit.signals import InfraSnapshot, Reading, Revision
from clay_cockpit.widgets.common import clean, format_age, problem_content, set_if_changed
from clay_cockpit.widgets.footer import KeyFooter
from clay_cockpit.widgets.infra import (
    SECTIONS,
    TITLES,
    Row,
    change_rows,
    counts,
    empty_text,
    event_rows,
    history_rows,
    node_rows,
)


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


Feed = Callable[[], tuple[Reading[InfraSnapshot], Sequence[Event]]]
RollbackTo = Callable[[int], object]  # the actions desk's rollback to a chosen revision (its plan, then the confirm modal)


class InfraScreen(ViewScreen):
    LIST = "infra-list"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,o", "app.pop_screen", "Back", id="infra.close", tooltip="Back to the cockpit"),
        Binding(
            "c", "jump('changes')", "Changes", id="infra.changes", tooltip="To the changes: rollouts, ConfigMaps, Secrets, our actions"
        ),
        Binding(
            "h",
            "jump('history')",
            "History",
            id="infra.history",
            tooltip="To the rollout history: the revisions, which is current, their image, pods and change-cause",
        ),
        Binding("e", "jump('events')", "Events", id="infra.events", tooltip="To the Warning events"),
        Binding("n", "jump('nodes')", "Nodes", id="infra.nodes", tooltip="To the nodes our pods run on"),
        Binding(
            "U",
            "rollback",
            "Roll back",
            id="infra.rollback",
            tooltip="On an older revision of the History: roll back to it (rollout undo --to-revision): plan, dry run, y confirms",
        ),
    ]
    DEFAULT_CSS = """
    InfraScreen #infra-head {
        height: 1;
        padding: 0 1;
        background: $panel;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    InfraScreen #infra-problem {
        height: auto;
        padding: 0 1;
        color: $text-error;
    }
    InfraScreen OptionList, InfraScreen OptionList:focus {
        height: 2fr;
        text-wrap: nowrap;  /* a row is cut at the edge when drawn ("…"); its detail below is whole */
        text-overflow: ellipsis;
        border: none;
        padding: 0 1;
        background-tint: transparent;
    }
    InfraScreen OptionList > .option-list--option-highlighted {
        text-style: bold;  /* the selected row shows without colour too (NO_COLOR), and its detail is under the list */
    }
    InfraScreen.-nocolor OptionList > .option-list--option-highlighted {
        /* NO_COLOR: bold alone is lost among the bold counts and reasons (and an OptionList row
           takes no reverse: Textual's visual style keeps bold, dim, italic, underline, strike) */
        text-style: bold underline;
    }
    InfraScreen #infra-detail-box {
        height: 1fr;
        min-height: 4;
        border-top: solid $foreground 30%;
        padding: 0 1;
    }
    """

    def __init__(self, feed: Feed, clock: Callable[[], float], rollback: RollbackTo | None = None) -> None:
        super().__init__()
        self._feed = feed
        self._clock = clock
        self._rollback = rollback  # None: nothing to act through (a bare host): U says so
        self._rows: dict[str, Row] = {}
        self._first: dict[str, str] = {}  # section → the id of its first option (a row, or its "empty" line)
        self._shown: object = None

    def compose(self) -> ComposeResult:
        yield Static(Content.styled("Infrastructure · waiting for Kubernetes…", "$text-muted"), id="infra-head")
        yield Static(id="infra-problem")
        yield OptionList(id="infra-list")
        with VerticalScroll(id="infra-detail-box"):
            yield Static(id="infra-detail")
        yield KeyFooter(compact=True, show_command_palette=False)

    def update(self) -> None:
        """Look at the reading; redraw what changed."""
        reading, actions = self._feed()
        now = self._clock()
        self._head(reading, actions, now)
        problem = self.query_one("#infra-problem", Static)
        problem.display = reading.error is not None
        if reading.error is not None:
            set_if_changed(problem, problem_content(reading.error))
        snap = reading.value if isinstance(reading.value, InfraSnapshot) else None
        view = self.query_one("#infra-list", OptionList)
        if snap is None and reading.error is None:
            sections: list[tuple[str, list[Row]]] = []
        else:
            sections = [
                ("changes", change_rows(snap, actions, now)),
                ("history", history_rows(snap, now)),
                ("events", event_rows(snap, now)),
                ("nodes", node_rows(snap, now)),
            ]
        total = counts(snap, actions)
        key = ([(s, [(r.key, [line.markup for line in r.lines]) for r in rows]) for s, rows in sections], snap is None, total)
        if key == self._shown:
            return
        self._shown = key
        self._fill(view, sections, snap, now, total)

    def _head(self, reading: Reading[InfraSnapshot], actions: Sequence[Event], now: float) -> None:
        head = self.query_one("#infra-head", Static)
        snap = reading.value
        if not isinstance(snap, InfraSnapshot):
            words = (
                "Infrastructure · failing, nothing read yet" if reading.error is not None else "Infrastructure · waiting for Kubernetes…"
            )
            set_if_changed(head, Content.styled(words, "$text-error" if reading.error is not None else "$text-muted"))
            return
        age = format_age(reading.age(now))
        n = counts(snap, actions)  # the changes with the cockpit's own actions, as their section counts them
        parts = [
            Content.styled("Infrastructure", "bold"),
            Content(f" · {clean(snap.deployment)} · "),
            Content.styled(f"STALE {age} ago", "bold $text-error") if reading.stale else Content(f"{age} ago"),
            Content.styled(f" · {_n(n['changes'], 'change')} · {_n(n['events'], 'event')} · {_n(n['nodes'], 'node')}", "$text-muted"),
        ]
        set_if_changed(head, Content.assemble(*parts))

    def _fill(
        self, view: OptionList, sections: list[tuple[str, list[Row]]], snap: InfraSnapshot | None, now: float, total: dict[str, int]
    ) -> None:
        was = view.highlighted_option.id if view.highlighted_option is not None else None
        view.clear_options()
        self._rows.clear()
        self._first.clear()
        options: list[Option | None] = []
        for section, rows in sections:
            n = total.get(section, len(rows))
            count = f"{len(rows)} of {n}" if n > len(rows) else str(n)  # (more than MAX_ROWS: the newest shown)
            options.append(
                Option(Content.styled(f"{TITLES[section]} ({count})", "bold $text-accent"), id=f"title:{section}", disabled=True)
            )
            if not rows:
                empty = Content.styled(f"  {empty_text(section, snap, now)}", "$text-muted")
                options.append(Option(empty, id=f"empty:{section}", disabled=True))
                self._first[section] = f"empty:{section}"
                continue
            self._first[section] = rows[0].key
            for row in rows:
                self._rows[row.key] = row
                options.append(Option(Content("\n").join(row.lines), id=row.key))
        if not sections:
            detail = Content.styled(
                "The changes, the rollout history, Warning events and nodes show here once Kubernetes answers.\n"
                "Esc goes back; the triage pane cites what it says.",
                "$text-muted",
            )
            set_if_changed(self.query_one("#infra-detail", Static), detail)
            return
        view.add_options(options)
        target = was if was in self._rows else next(iter(self._rows), None)
        if target is not None:
            view.highlighted = view.get_option_index(target)
        else:
            set_if_changed(self.query_one("#infra-detail", Static), Content.styled("Nothing to show in detail.", "$text-muted"))

    def on_option_list_option_highlighted(self, message: OptionList.OptionHighlighted) -> None:
        row = self._rows.get(message.option.id or "")
        if row is not None:
            set_if_changed(self.query_one("#infra-detail", Static), row.detail)

    def action_jump(self, section: str) -> None:
        """Highlight the section's first row (scrolled to its title)."""
        if section not in SECTIONS:
            return
        view = self.query_one("#infra-list", OptionList)
        first = self._first.get(section)
        if first is None:
            return
        if first in self._rows:
            view.highlighted = view.get_option_index(first)
        view.scroll_to_highlight()

    # -- rolling back to a chosen revision ------------------------------------------

    def selected_revision(self) -> Revision | None:
        view = self.query_one("#infra-list", OptionList)
        option = view.highlighted_option
        row = self._rows.get(option.id or "") if option is not None else None
        return row.revision if row is not None else None

    def action_rollback(self) -> None:
        """``U``: on an older revision of the History, the rollback's plan to it;
        on the current one, why not; elsewhere, to the History."""
        revision = self.selected_revision()
        if revision is None:
            self.action_jump("history")
            older = next((k for k, r in self._rows.items() if r.revision is not None and not r.revision.current), None)
            if older is None:
                self.notify("no older revision in the rollout history to roll back to", title="Roll back", severity="warning")
                return
            view = self.query_one("#infra-list", OptionList)
            view.highlighted = view.get_option_index(older)
            self.notify("choose the revision to go back to in the History, then U", title="Roll back")
            return
        if revision.current:
            self.notify(
                f"revision {revision.number} is the current one: nothing to roll back to — choose an older revision",
                title="Roll back",
                severity="warning",
            )
            return
        if self._rollback is None:
            self.notify("no cluster to act on here", title="Roll back", severity="warning")
            return
        self._rollback(revision.number)
