"""The people view, full screen (key ``W``: who is in): the shared incident's
responders, its commander, and whether this cockpit is in step with the
cluster (issue 17; :mod:`clay_cockpit.screens.shared_desk`).

One row per responder whose presence Lease is fresh: the name, ``you``,
``commander``, when it was last renewed. Under the list: the sync state
whole (why the incident is local only, and the hint), and how to share when
sharing is off. Keys: ``c`` takes command, ``h`` hands it to the highlighted
responder — each one ``commander_changed`` event on the timeline, seen by the
others within seconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from clay_cockpit.screens.view_screen import ViewScreen, refill
from clay_cockpit.widgets.common import clean, format_age, set_if_changed
from clay_cockpit.widgets.footer import KeyFooter

if TYPE_CHECKING:
    from clay_cockpit.screens.shared_desk import Responder, SharedDesk


def responder_row(r: Responder, commander: str) -> Content:
    """One line: ``★ ana@b1 (you) · commander · seen 3s ago``."""
    return Content.assemble(
        ("★ " if r.name == commander else "  ", "bold $text-accent"),
        (clean(r.name), "bold" if r.you else ""),
        (" (you)" if r.you else "", "$text-muted"),
        (" · commander" if r.name == commander else "", "bold $text-accent"),
        (f" · seen {format_age(r.seen_ago)} ago", "$text-muted"),
    )


class PeopleScreen(ViewScreen):
    LIST = "people-list"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,W", "app.pop_screen", "Back", id="people.close", tooltip="Back to the cockpit"),
        Binding("c", "take", "Take command", id="people.take", tooltip="Become the incident commander (on the timeline)"),
        Binding("h", "hand_over", "Hand over", id="people.hand_over", tooltip="Hand command to the highlighted responder"),
    ]
    DEFAULT_CSS = """
    PeopleScreen #people-head { height: 1; padding: 0 1; background: $panel; text-wrap: nowrap; text-overflow: ellipsis; }
    PeopleScreen OptionList, PeopleScreen OptionList:focus {
        height: 1fr; text-wrap: nowrap; text-overflow: ellipsis; border: none; padding: 0 1; background-tint: transparent;
    }
    PeopleScreen OptionList > .option-list--option-highlighted { text-style: bold; }
    PeopleScreen.-nocolor OptionList > .option-list--option-highlighted { text-style: bold underline; }
    PeopleScreen #people-detail-box { height: 1fr; min-height: 5; border-top: solid $foreground 30%; padding: 0 1; }
    """

    def __init__(self, desk: SharedDesk) -> None:
        super().__init__()
        self._desk = desk
        self._shown: object = None

    def compose(self) -> ComposeResult:
        yield Static(id="people-head")
        yield OptionList(id="people-list")
        with VerticalScroll(id="people-detail-box"):
            yield Static(id="people-detail")
        yield KeyFooter(compact=True, show_command_palette=False)

    def _commander(self) -> str:
        inc = self._desk.desk.recorder.incident
        return inc.commander if inc is not None else ""

    def update(self) -> None:
        if not self.is_attached:
            return
        desk, view = self._desk, self._desk.view
        inc = desk.desk.recorder.incident
        commander = self._commander()
        head = [Content.styled("Responders", "bold")]
        if inc is not None:
            head.append(Content(f" · {inc.id}"))
        head.append(Content.styled(f" · commander {commander}" if commander else " · no commander (c takes command)", "$text-muted"))
        set_if_changed(self.query_one("#people-head", Static), Content.assemble(*head))
        set_if_changed(self.query_one("#people-detail", Static), self._detail())
        key = (tuple((r.name, r.you, int(r.seen_ago) // 5) for r in view.responders), commander)
        if key == self._shown:
            return
        self._shown = key
        lst = self.query_one("#people-list", OptionList)
        words = "sharing is off" if view.state == "off" else "nobody is marked present yet"
        was = refill(lst, [Option(responder_row(r, commander), id=r.name) for r in view.responders], words, "")
        if not view.responders:
            return
        names = [r.name for r in view.responders]
        lst.highlighted = names.index(was) if was in names else 0

    def _detail(self) -> Content:
        desk, view = self._desk, self._desk.view
        if view.state == "off":
            why = "[shared] enabled = false" if not desk.config.shared.enabled else "no cluster to share through"
            return Content.styled(f"Sharing is off ({why}): this cockpit's incident is its own.", "$text-muted")
        lines = [Content.assemble(("Shared through the cluster: ", "bold"), clean(view.line or "connecting…"))]
        if view.state == "local":
            lines.append(Content.styled("The incident is kept here and sent when the cluster answers.", "$text-warning"))
        if view.hint:
            lines.append(Content.styled(clean(view.hint), "$text-muted"))
        acting = desk.acting(desk.desk.clock())
        lines.append(Content.styled(f"Acting: {clean(acting)}" if acting else "Acting: no action lease is held", "$text-muted"))
        if desk.read_only:
            lines.append(Content.styled("Read-only: this cockpit watches the shared incident and adds nothing to it.", "$text-muted"))
        lines.append(Content.styled(f"You are {clean(desk.responder)} ([shared] responder).", "$text-muted"))
        return Content("\n").join(lines)

    def action_take(self) -> None:
        self._say(self._desk.set_commander(self._desk.responder))

    def action_hand_over(self) -> None:
        option = self.query_one("#people-list", OptionList).highlighted_option
        if option is None or not option.id:
            self.notify("nobody highlighted", title="Hand over", severity="warning")
            return
        self._say(self._desk.set_commander(option.id))

    def _say(self, words: str) -> None:
        self.notify(words, title="Command")
        self._shown = None
        self.update()
