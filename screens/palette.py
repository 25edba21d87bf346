"""Command-palette provider for the cockpit's panes and actions.

It lists the same bindings as the footer and the help screen (the app's
``palette_commands()``), so every key is also reachable by name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from textual.command import DiscoveryHit, Hit, Hits, Provider

Command = tuple[str, str, Callable[[], object]]  # (title, help, run)


class HasCommands(Protocol):
    def palette_commands(self) -> Sequence[Command]: ...


class CockpitCommands(Provider):
    """Panes and actions of the cockpit."""

    def _commands(self) -> Sequence[Command]:
        app: HasCommands = self.app  # type: ignore[assignment]
        return app.palette_commands()

    async def discover(self) -> Hits:
        for title, help_text, run in self._commands():
            yield DiscoveryHit(title, run, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, run in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), run, help=help_text)
