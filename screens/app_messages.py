"""The messages the app posts to itself (what :mod:`clay_cockpit.live` hands
back, turned into Textual messages) and what the demo tells it about its drill.

Only Textual's core is imported: the app loads this before its first frame.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from textual.message import Message

if TYPE_CHECKING:
    from clay_cockpit.signals import LogLine, Signals, SourceError


class DrillInfo(Protocol):
    """What the demo passes about the drill child process."""

    scenario: str
    title: str

    def poll(self) -> str | None:
        """A message once the simulator has died, else None. Never blocks."""


class SourceResult(Message):
    """A poll finished: a snapshot or a SourceError for one Signals field."""

    def __init__(self, name: str, result: Any) -> None:
        super().__init__()
        self.name = name
        self.result = result


class LogBatch(Message):
    def __init__(self, lines: tuple[LogLine, ...]) -> None:
        super().__init__()
        self.lines = lines


class LogFault(Message):
    """The log follow failed (``error``) or recovered (``None``)."""

    def __init__(self, error: SourceError | None) -> None:
        super().__init__()
        self.error = error


class LogFollowEnded(Message):
    """The follow returned although it was not asked to stop."""


class InfraWatched(Message):
    """The event watch sent ``what`` ("events", "fault", "ended") with ``value`` (see InfraFeed.follow)."""

    def __init__(self, what: str, value: Any) -> None:
        super().__init__()
        self.what, self.value = what, value


class SignalsChanged(Message):
    """``app.signals`` changed; only the newest one matters."""

    def __init__(self, signals: Signals) -> None:
        super().__init__()
        self.signals = signals

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SignalsChanged)
