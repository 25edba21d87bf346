"""The actions pane: every remediation the cockpit can run, on its key.

One row per action — verify the key in the Secret, update the key, restart
the pods, roll back (rollout undo), request queuing (a toggle), fallback (a
toggle), scale — with what is known about it: where a rollback goes (or
that there is no previous revision), the current replicas next to scale, the flag's
state and the rate-limit headers last seen next to queuing, and why it is
disabled (read-only, permission denied with the escalation contact, the
lease held by another cockpit). Rows for triage's current branch are marked
▸ unless already in effect; a mitigation in effect (a flag on, a fix whose
symptom ended) is marked ✓ with since when; the others stay available. Under the rows one status line: "planning…",
a running action's stage and count, or the last outcome with what to do
next (a retry key after expired credentials).

Render-only: :class:`clay_cockpit.screens.actions_desk.ActionsDesk` builds the
:class:`Row` values and the status line; the pane never talks to the
cluster. Choosing a row (Enter) runs the row's app action — the same as
its key: it only opens a modal.

Layout (cockpit/app.tcss, ``#actions``; the boot screen draws its frame
too): in the decision column above the timeline; below 120 columns it
takes the checklist's slot when ``x`` shows it (``c`` the checklist again;
see ``ActionsDesk.show_pane``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from clay_cockpit.widgets.common import clean, hanging, set_if_changed


@dataclass(frozen=True)
class Row:
    """One action as the pane shows it."""

    id: str  # "restart", "queuing" …
    key: str  # the key that opens it: "R"
    label: str  # "Restart the pods"
    action: str  # the app action the key runs: "act('restart')"
    state: str = ""  # after the label: "3 replicas, 3 ready", "off"
    detail: str = ""  # a second line: the rate-limit headers seen
    relevant: bool = False  # for triage's current branch
    disabled: str = ""  # why it cannot run: "read-only", "permission denied … → escalate to …"
    warning: str = ""  # may run, but know this: "lease held by … since …"
    done: bool = False  # in effect (a flag on, a fix whose symptom ended): ✓, never ▸ — the state says since when


def row_content(row: Row, width: int = 60) -> Content:
    """``▸ R  Restart the pods  3 replicas`` (``✓`` when in effect) and, indented, the reason or detail."""
    room = max(12, width)
    mark = ("✓ ", "bold $text-success") if row.done else ("▸ ", "bold $text-accent") if row.relevant else ("  ", "")
    key_style = "$text-muted" if row.disabled else "bold $text-primary"
    label_style = "$text-muted" if row.disabled else ("bold" if row.relevant else "")
    head = Content.assemble(mark, (f"{row.key:<2}", key_style), (clean(row.label), label_style))
    if row.state:
        head = Content.assemble(head, ("  ", ""), (clean(row.state), "$text-muted"))
    inline = len(row.disabled) <= 24  # "read-only" fits after the label; a denial with its contact gets a line
    if row.disabled and inline:
        head = Content.assemble(head, ("  ", ""), (f"({clean(row.disabled)})", "$text-warning"))
    lines = [head.truncate(room, ellipsis=True)]
    below = ((row.disabled if not inline else "", "$text-error"), (row.warning, "$text-warning"), (row.detail, "$text-muted"))
    for text, style in below:
        if text:
            wrapped = hanging(text, room, "    ", style, "").split("\n")
            lines.extend(wrapped[:2] if len(wrapped) <= 2 else [*wrapped[:1], wrapped[1].truncate(room - 1).append("…")])
    return Content("\n").join(lines)


class ActionsView(OptionList):
    """The rows; Enter opens the highlighted action (as its key does)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "leave", "Leave", show=False, id="actions.leave", tooltip="Leave the actions pane"),
    ]

    DEFAULT_CSS = """
    ActionsView {
        height: 1fr;
        border: none;
        padding: 0;
        background: transparent;
        scrollbar-size-vertical: 1;
    }
    ActionsView > .option-list--option {
        padding: 0;
    }
    ActionsView:focus {
        border: none;
        background-tint: transparent;
    }
    """

    def action_leave(self) -> None:
        self.screen.focus_next()


class ActionsPane(Vertical):
    """The bordered pane: the rows and one status line."""

    DEFAULT_CSS = """
    ActionsPane {
        border: round $foreground 30%;
        border-title-color: $text;
        border-subtitle-color: $text-muted;
        padding: 0 1;
    }
    ActionsPane:focus-within {
        border: round $accent;
    }
    ActionsPane.-read-only {
        border-title-color: $text-warning;
    }
    ActionsPane > ActionsView {
        height: 1fr;
    }
    ActionsPane > #actions-status {
        height: auto;
        max-height: 4;
    }
    ActionsPane > #actions-status.-empty {
        display: none;
    }
    """

    def __init__(self, rows: Sequence[Row], *, read_only: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self._rows = {r.id: r for r in rows}
        self._shown: dict[str, str] = {}
        self._width = 0
        self._read_only = read_only
        self._deployment = ""  # "clay-sync (1/2) · D switches" with more than one deployment
        self._view = ActionsView(*(self._option(r) for r in rows), id="actions-view")
        self._status = Static(id="actions-status", classes="-empty")

    def compose(self) -> ComposeResult:
        yield self._view
        yield self._status

    def on_mount(self) -> None:
        self.set_class(self._read_only, "-read-only")
        self._title()
        self.border_subtitle = "Enter or the key opens · nothing runs unconfirmed"

    def set_deployment(self, name: str, names: Sequence[str]) -> None:
        """With more than one deployment configured, the title names the one
        the actions act on and the key that switches it."""
        self._deployment = f"{name} ({list(names).index(name) + 1}/{len(names)}) · D switches" if len(names) > 1 and name in names else ""
        self._title()

    def _title(self) -> None:
        parts = ["x Actions", *(["READ-ONLY"] if self._read_only else []), *([self._deployment] if self._deployment else [])]
        self.border_title = " · ".join(parts)

    def on_resize(self) -> None:
        width = self.content_size.width - 1
        if width > 0 and width != self._width:
            self._width = width
            self.show(list(self._rows.values()), force=True)

    @property
    def view(self) -> ActionsView:
        return self._view

    def focus_body(self) -> None:
        self._view.focus()

    def row(self, row_id: str) -> Row:
        return self._rows[row_id]

    def _option(self, row: Row) -> Option:
        content = row_content(row, self._width or 60)
        self._shown[row.id] = content.markup
        return Option(content, id=row.id)

    def show(self, rows: Sequence[Row], force: bool = False) -> None:
        """Redraw the rows whose text changed."""
        for row in rows:
            self._rows[row.id] = row
            content = row_content(row, self._width or 60)
            if not force and self._shown.get(row.id) == content.markup:
                continue
            self._shown[row.id] = content.markup
            self._view.replace_option_prompt(row.id, content)

    def show_status(self, content: Content | None) -> None:
        """The line under the rows: planning, progress, the outcome (None: nothing)."""
        self._status.set_class(content is None, "-empty")
        set_if_changed(self._status, content if content is not None else Content(""))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        row = self._rows.get(event.option.id or "")
        if row is not None:
            self.app.call_later(self.app.run_action, row.action)
