"""The key line: Textual's Footer, recomposed only when what it shows changes.

Textual's Footer recomposes (~15 FooterKey widgets, mounted and styled) on
every bindings update of its screen, and the screen sends one on each focus
change: `1`-`5`, `d`, `m`, a click. Most change nothing the footer shows, yet
each recompose held the UI thread for 50-200 ms during a drill (bench/keys:
the p90 of `d` and `m`). This one compares the keys it would show (key,
label, action, group, enabled, tooltip) with the ones it shows and skips the
recompose when they are the same.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

Shown = tuple[tuple[str, str, str, str, bool, str], ...]


class KeyFooter(Footer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ready = False  # a bindings update came (Footer composes nothing before)
        self._shown: Shown | None = None  # what the last compose drew

    def _keys(self) -> Shown:
        keys = []
        for _node, binding, enabled, tooltip in self.screen.active_bindings.values():
            if binding.show or binding.action == "command_palette":
                group = binding.group.description if binding.group is not None else ""
                keys.append((binding.key, binding.description, binding.action, group, enabled, tooltip or ""))
        return tuple(keys)

    def compose(self) -> ComposeResult:
        # not a generator of its own: Footer's uses `with KeyGroup()`, whose
        # children must be yielded while that block is open
        self._shown = self._keys() if self._ready else None
        return super().compose()

    def bindings_changed(self, screen: Screen[Any]) -> None:
        if self._shown is not None and self.is_attached and screen is self.screen and self._keys() == self._shown:
            return  # the same keys: no recompose
        self._ready = True
        super().bindings_changed(screen)
