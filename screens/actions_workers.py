"""The thread side of the remediation desk: what its workers run (every
cluster or Clay call, through :class:`clay_cockpit.actions.flow.ActionRunner`)
and the messages they post back to the UI thread (:class:`ActionsUpdate`,
handled by :meth:`clay_cockpit.screens.actions_desk.ActionsDesk.update`).

:class:`DeskWorkers` is a base class of ``ActionsDesk`` (which owns the state
it reads: the app, the config, the deployment, the runner); nothing else
derives from it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.message import Message

from clay_cockpit.actions.flow import ActionKind, ActionRunner, Confirmation, Outcome, Plan, ProbeResult, SecretValue
from clay_cockpit.actions.status import ActionsStatus, read_status
from clay_cockpit.config import Config

if TYPE_CHECKING:
    from textual.app import App

# --------------------------------------------------------------------------
# What the workers send back


class ActionsUpdate(Message):
    """A worker of the desk finished a step (handled on the UI thread: :meth:`ActionsDesk.update`)."""

    def __init__(self, value: object) -> None:
        super().__init__()
        self.value = value


@dataclass(frozen=True)
class Planned:
    plan: Plan
    offered: str = ""


@dataclass(frozen=True)
class Finished:
    outcome: Outcome


@dataclass(frozen=True)
class Probed:
    result: ProbeResult


@dataclass(frozen=True)
class Broke:
    """A worker raised (a bug): only the type is kept, its text might hold a value."""

    what: str
    error: str


# --------------------------------------------------------------------------
# The workers


class DeskWorkers:
    """The workers (threads) of :class:`~clay_cockpit.screens.actions_desk.ActionsDesk`."""

    if TYPE_CHECKING:  # set and defined by ActionsDesk
        app: App[int]
        config: Config
        deployment: str
        status: ActionsStatus
        stop_event: threading.Event

        def runner(self) -> ActionRunner: ...

    def _post(self, value: object) -> None:
        self.app.post_message(ActionsUpdate(value))

    def _guarded(self, what: str, work: Callable[[], object]) -> None:
        try:
            value = work()
        except Exception as exc:  # a bug (the runner does not raise): named by type only, never its text
            value = Broke(what, type(exc).__name__)
        self._post(value)

    def _prepare_blocking(self, kind: ActionKind, offered: str, inputs: dict[str, Any]) -> Planned:
        return Planned(self.runner().prepare(kind, **{"deployment": self.deployment or None, **inputs}), offered)

    def _replan_blocking(self, plan: Plan) -> Planned:
        return Planned(self.runner().replan(plan))

    def _apply_blocking(self, confirmation: Confirmation) -> Finished:
        return Finished(self.runner().apply(confirmation, on_progress=self._post, stop=self.stop_event))

    def _follow_blocking(self, outcome: Outcome) -> Finished:
        return Finished(self.runner().follow_again(outcome, on_progress=self._post, stop=self.stop_event))

    def _check_blocking(self) -> Finished:
        runner = self.runner()
        return Finished(runner.run_check(runner.prepare(ActionKind.VERIFY_KEY), on_progress=self._post))

    def _probe_blocking(self, key: SecretValue) -> None:
        try:
            result: object = Probed(self.runner().probe_key(key))
        except Exception as exc:
            result = Broke("asking Clay about the key", type(exc).__name__)
        self._post(result)

    def _status_blocking(self, permissions: bool) -> ActionsStatus:
        return read_status(self.runner(), self.config, self.deployment, self.status, permissions)
