"""The cockpit's actions: what the App's keys (:mod:`clay_cockpit.screens.app_keys`) do,
and the one list of them that the footer, the help, the palette and the
README show.

:class:`AppActions` is a mixin of :class:`clay_cockpit.app.CockpitApp`, before
``App`` in its bases: Textual looks an action up on the App, so its
``action_*`` methods and ``check_action`` are the app's. Each action only
routes — to the cockpit screen, the desks (:mod:`clay_cockpit.screens.desk`,
:mod:`clay_cockpit.screens.comms_desk`, :mod:`clay_cockpit.screens.actions_desk`), the polls or a
view — and imports what it opens when it opens it: this module loads with
the app, before the first frame (Textual's events and Binding only).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from textual import events
from textual.binding import Binding

from clay_cockpit.screens.app_keys import OPEN_ONLY, PANES, SECTIONS, bindings_of

if TYPE_CHECKING:
    from pathlib import Path

    from textual.app import App
    from textual.command import Provider

    from clay_cockpit.config import Config
    from clay_cockpit.incident.events import Event
    from clay_cockpit.live import Polls
    from clay_cockpit.screens.actions_desk import ActionsDesk
    from clay_cockpit.screens.boot import BootScreen
    from clay_cockpit.screens.comms_desk import CommsDesk
    from clay_cockpit.screens.desk import Desk
    from clay_cockpit.screens.help import Section
    from clay_cockpit.screens.main import MainScreen
    from clay_cockpit.screens.paging_desk import PagingDesk
    from clay_cockpit.screens.shared_desk import SharedDesk
    from clay_cockpit.screens.typeahead import TypeAhead
    from clay_cockpit.signals import InfraSnapshot, Reading, Signals

    _AppBase = App[int]
else:
    _AppBase = object


def cockpit_commands() -> type[Provider]:
    """The palette's provider (in the app's ``COMMANDS``), imported when the palette first opens."""
    from clay_cockpit.screens.palette import CockpitCommands

    return CockpitCommands


class AppActions(_AppBase):
    """The app's actions, check_action and binding lists (a mixin of
    :class:`clay_cockpit.app.CockpitApp`, before ``App`` in its bases)."""

    if TYPE_CHECKING:  # the app's (cockpit/app.py): what the actions route to
        keymap: dict[str, str]
        state_dir: Path
        clock: Callable[[], float]
        _main: MainScreen | None
        _desk: Desk | None
        _comms: CommsDesk | None
        _actions: ActionsDesk | None
        _paging: PagingDesk | None
        _shared: SharedDesk | None
        _metrics_view: Any
        _typeahead: TypeAhead
        _polls: Polls

        def _target(self) -> str: ...

        def _stop(self) -> None: ...

        @property
        def main_screen(self) -> MainScreen: ...

        @property
        def desk(self) -> Desk: ...

        @property
        def signals(self) -> Signals: ...

    def read_keymap(self, config: Config) -> None:
        """[keymap] (screens/keymap.py checked it): binding id → key(s); the
        palette's key is Textual's own. Before ``App.__init__``, which reads
        the palette's; the app then hands the rest to ``set_keymap``."""
        self.keymap = {}
        if config.keymap:
            from clay_cockpit.screens.keymap import PALETTE_ID, normalised

            self.keymap = normalised(config.keymap)
            if PALETTE_ID in self.keymap:
                # this app's own key: Textual declares it a ClassVar but reads it through self (App.__init__, the footer)
                self.COMMAND_PALETTE_BINDING = self.keymap[PALETTE_ID]  # type: ignore[misc]  # an instance's value, as intended

    def get_default_screen(self) -> BootScreen:
        """The first frame is the layout alone (:mod:`clay_cockpit.screens.boot`): it needs
        none of the panes' modules, so it paints as fast as a bare app."""
        from clay_cockpit.screens.boot import BootScreen  # (loaded with the app already)

        # the footer's first words: no incident is known yet, so no incident keys but declare
        shown = [self.remapped(b) for b in bindings_of(type(self)) if b.show and b.group is not PANES and b.action not in OPEN_ONLY]
        keys = " ".join(f"{self.get_key_display(b)} {b.description}" for b in shown)
        return BootScreen(self.title, self._target(), "12345 Panes " + keys)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded and self._typeahead.swallow(event):
            event.stop()
            return  # typed into a dialog that just closed: not a hotkey (screens/typeahead.py)
        await super().on_event(event)

    def _to_main(self) -> None:
        while self.screen is not self.main_screen and len(self.screen_stack) > 1:
            self.pop_screen()

    def action_focus_pane(self, name: str) -> None:
        self._to_main()
        self.main_screen.show_signals()
        pane = self.main_screen.pane(name)
        if pane is not None:
            pane.focus_body()

    def action_decide(self) -> None:
        """Below 120 columns: swap the signal panes for the decision column (and
        back); at 120 and more both are on screen: the keyboard goes to the triage."""
        self._to_main()
        main = self.main_screen
        if main.is_wide:
            main.triage.focus_body()
        else:
            main.show_decision(not main.deciding)
            if main.deciding:
                main.triage.focus_body()

    def action_checklist(self) -> None:
        self._to_main()
        if self._actions is not None:
            self._actions.show_pane(False)
        self.main_screen.show_decision(True)
        self.main_screen.checklist.focus_body()

    def action_declare(self) -> None:
        self.desk.declare()

    def action_accept(self) -> None:
        self.desk.accept()

    def action_severity(self) -> None:
        self.desk.pick_severity()

    def action_status(self) -> None:
        self.desk.pick_status()

    def action_timeline(self) -> None:
        from clay_cockpit.screens.timeline_view import TimelineScreen

        if isinstance(self.screen, TimelineScreen):
            self.pop_screen()
            return
        self._to_main()
        self.push_screen(TimelineScreen(self.desk.timeline_path()))

    def action_metrics_view(self) -> None:
        if self._metrics_view is not None and self._metrics_view.is_current:
            self.pop_screen()
            return
        self._to_main()
        if self._metrics_view is None:  # built once and kept (installed): each `m` after the first only shows it
            from clay_cockpit.screens.metrics_view import (
                MetricsScreen,  # imports plotext (preloaded a few seconds after start: _preload_views)
            )

            links = self._paging.dashboard_links if self._paging is not None else tuple
            self._metrics_view = MetricsScreen(self.signals.metrics, self.clock(), links)
            self.install_screen(self._metrics_view, name="metrics")
        else:
            self._metrics_view.show(self.signals.metrics, self.clock())  # redraws the charts only if the data changed
        self.push_screen("metrics")

    def action_infra_view(self) -> None:
        from clay_cockpit.screens.infra_view import InfraScreen

        if isinstance(self.screen, InfraScreen):
            self.pop_screen()
            return
        self._to_main()
        self.push_screen(InfraScreen(self._infra_feed, self.clock, self._rollback_to))

    def _infra_feed(self) -> tuple[Reading[InfraSnapshot], tuple[Event, ...]]:
        """What the infrastructure view shows: the reading, and the incident timeline (its actions)."""
        return self.signals.infra, self._desk.recorder.events() if self._desk is not None else ()

    def _rollback_to(self, revision: int) -> None:
        """The infrastructure view's U on an older revision: the actions desk plans the rollback to it."""
        if self._actions is not None:
            self._actions.rollback_to(revision)

    def action_filter_logs(self) -> None:
        self._to_main()
        logs = self.main_screen.logs
        if logs is None:
            return
        view = logs.view
        view.focus()
        before = view.filter_text
        from clay_cockpit.screens.log_filter import LogFilterScreen

        def done(result: str | None) -> None:
            view.set_filter(before if result is None else result)

        self.push_screen(LogFilterScreen(before, view.set_filter), done)

    def action_filter_pods(self) -> None:
        """The pods table's ``/``: the same filter line as the logs', filtering the pods as one types."""
        from clay_cockpit.screens.log_filter import LogFilterScreen
        from clay_cockpit.widgets.pods import PodsPane

        pane = self.main_screen.pane("pods")
        if not isinstance(pane, PodsPane):
            return
        before = pane.filter_text

        def done(result: str | None) -> None:
            pane.set_filter(before if result is None else result)

        self.push_screen(LogFilterScreen(before, pane.set_filter, what="the pods", example="CrashLoop, Init or a node"), done)

    def action_pause_logs(self) -> None:
        logs = self.main_screen.logs
        if logs is not None:
            logs.view.set_paused(not logs.view.paused)

    def action_refresh(self) -> None:
        self._polls.start_all()

    async def action_quit(self) -> None:
        self._stop()
        self.exit(0)

    def action_help(self) -> None:
        from clay_cockpit.screens.help import HelpScreen

        self.push_screen(HelpScreen(self.binding_sections(), self.get_key_display, self.state_dir))

    def action_actions_pane(self) -> None:
        self._to_main()
        if self._actions is not None:
            self._actions.focus()

    def action_act(self, name: str) -> None:
        if self._actions is not None:
            self._actions.open(name)

    def action_act_deployment(self) -> None:
        if self._actions is not None:
            self._actions.switch_deployment()

    def action_act_retry(self) -> None:
        if self._actions is not None:
            self._actions.retry()

    def action_compose(self, channel: str) -> None:
        from clay_cockpit.comms.core import Channel

        if self._comms is not None:
            self._comms.compose(Channel(channel))

    def action_postmortem(self) -> None:
        if self._comms is not None:
            self._comms.postmortem()

    def action_pages_view(self) -> None:
        from clay_cockpit.screens.pages_view import PagesScreen

        if isinstance(self.screen, PagesScreen):
            self.pop_screen()
            return
        if self._paging is None:
            return
        self._to_main()
        self.push_screen(PagesScreen(self._paging, self.clock))

    def action_people_view(self) -> None:
        from clay_cockpit.screens.people_view import PeopleScreen

        if isinstance(self.screen, PeopleScreen):
            self.pop_screen()
            return
        if self._shared is None:
            return
        self._to_main()
        self.push_screen(PeopleScreen(self._shared))

    def action_escalate(self) -> None:
        if self._paging is not None:
            self._paging.escalate()

    def action_copy_link(self) -> None:
        if self._paging is not None:
            self._paging.copy_link()

    # -- one binding list for footer, help and palette -----------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Until the cockpit is built (a moment after the first frame) only
        quitting works: every other action needs its panes. The incident's
        keys show in the footer only when they can act (declare without an
        open incident; severity with one; accept while its severity is not
        accepted yet — a lower suggestion is taken with severity)."""
        if self._main is None or self._desk is None:
            return action == "quit"
        incident = self._desk.recorder.open
        if action == "declare":
            return incident is None
        if action == "accept":
            return incident is not None and not incident.confirmed
        if action == "severity":
            return incident is not None
        if action in ("status", "compose", "postmortem"):
            return self._desk.recorder.incident is not None
        if action == "checklist":  # already there: room in the footer for the step keys
            return self.focused is None or self.focused.id != "checklist-view"
        return True

    def binding_sections(self) -> list[Section]:
        from clay_cockpit.screens.choose import ChoiceScreen
        from clay_cockpit.screens.compose import ComposeScreen
        from clay_cockpit.screens.confirm import ConfirmScreen
        from clay_cockpit.screens.infra_view import InfraScreen
        from clay_cockpit.screens.pages_view import PagesScreen
        from clay_cockpit.screens.people_view import PeopleScreen
        from clay_cockpit.screens.preview import PreviewScreen
        from clay_cockpit.screens.secret_input import KeyInputScreen
        from clay_cockpit.widgets.checklist import ChecklistView
        from clay_cockpit.widgets.logs import LogView
        from clay_cockpit.widgets.pods import PodsTable

        own: dict[str, list[Binding]] = {title: [] for title, _ in SECTIONS}
        own["Actions"] = []
        for b in bindings_of(type(self)):
            own[next((title for title, prefixes in SECTIONS if (b.id or "").startswith(prefixes)), "Actions")].append(b)
        sections: list[Section] = [
            *own.items(),
            ("In the checklist", bindings_of(ChecklistView)),
            ("Confirming an action", bindings_of(ConfirmScreen)),
            ("Entering the new Clay API key", bindings_of(KeyInputScreen)),
            ("Choosing a severity or status", bindings_of(ChoiceScreen)),
            ("In the update editor", bindings_of(ComposeScreen)),
            ("In the message preview", bindings_of(PreviewScreen)),
            ("In the pods table", bindings_of(PodsTable)),
            ("In the pod logs", bindings_of(LogView)),
            ("In the infrastructure view", bindings_of(InfraScreen)),
            ("In the pages view", bindings_of(PagesScreen)),
            ("In the people view", bindings_of(PeopleScreen)),
            (
                "Everywhere",
                [
                    Binding(
                        self.COMMAND_PALETTE_BINDING,
                        "command_palette",
                        "Commands",
                        id="app.commands",
                        tooltip="Search panes and actions by name",
                    )
                ],
            ),
        ]
        return [(title, [self.remapped(b) for b in bindings]) for title, bindings in sections]

    def remapped(self, binding: Binding) -> Binding:
        """``binding`` with the [keymap]'s key(s), as the help, palette and README show it."""
        if not self.keymap or binding.id == "app.commands":  # (that one is built with the remapped key)
            return binding
        from clay_cockpit.screens.keymap import remapped

        return remapped(binding, self.keymap, self.get_key_display)

    def palette_commands(self) -> Sequence[tuple[str, str, Callable[[], object]]]:
        shown = [self.remapped(b) for b in bindings_of(type(self))]
        return [(b.tooltip, f"key {self.get_key_display(b)}", partial(self.run_action, b.action)) for b in shown]
