"""What the full-screen views over the cockpit share (the infra view ``o``, the
pages view ``b``, the people view ``W``): :class:`ViewScreen` — redrawn every
``TICK`` seconds, its list focused, its footer the view's own keys with ``?``
and ``q``; :func:`refill` — a list's rows replaced, a muted line when there
are none."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import ActiveBinding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import OptionList
from textual.widgets.option_list import Option

TICK = 1.0  # seconds between looks at what the view shows while it is on screen
FOOTER_APP_ACTIONS = ("help", "quit")  # the cockpit's keys the view's footer shows besides its own


class ViewScreen(Screen[None]):
    """A full-screen view: :meth:`update` on mount and every ``TICK``; the list ``#LIST`` has the focus."""

    LIST: ClassVar[str] = ""  # the id of the view's OptionList

    def on_mount(self) -> None:
        self.set_class(self.app.no_color, "-nocolor")  # (the App's :nocolor does not reach a screen's scoped CSS)
        self.update()
        self.set_interval(TICK, self.update)
        self.query_one(f"#{self.LIST}", OptionList).focus()

    def update(self) -> None:
        """Look at what the view shows; redraw what changed."""
        raise NotImplementedError

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """The footer: the view's keys, ? and q (the cockpit's other keys still act)."""
        return {
            key: b
            for key, b in super().active_bindings.items()
            if b.node is not self.app or not b.binding.show or b.binding.action in FOOTER_APP_ACTIONS
        }


def refill(view: OptionList, options: list[Option], empty: str, empty_id: str) -> str | None:
    """The list's rows replaced by ``options`` (none: one muted, disabled line that says ``empty``);
    gives the id highlighted before (None: none), for the caller to highlight it again."""
    was = view.highlighted_option.id if view.highlighted_option is not None else None
    view.clear_options()
    if not options:
        view.add_option(Option(Content.styled(f"  {empty}", "$text-muted"), id=empty_id, disabled=True))
    else:
        view.add_options(options)
    return was
