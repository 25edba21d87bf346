"""Helpers for the cockpit's action tests (no tests here): the app against a
frozen drill, its clock following the drill's, and an ActionRunner whose
waits while following an effect play the drill forward — so a rollout takes
a few real seconds. Everything is driven with keys.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from textual.content import Content
from textual.widgets import Static

from clay_cockpit.actions.flow import ActionRunner
from clay_cockpit.app import CockpitApp, make_app
from clay_cockpit.config import config_from_toml
from clay_cockpit.runbook import Branch
from clay_cockpit.sources import Sources
from clay_cockpit.widgets.actions import ActionsPane

STEP = 2.0  # drill seconds a runner's wait plays out while it follows an effect
NEW_KEY = "clay_live_" + "7ab3" * 8  # any non-empty key other than the revoked one is valid in the drill


@pytest.fixture(autouse=True)
def own_state_dir(tmp_path, monkeypatch):
    """Incidents go to a fresh state dir (import it where it should apply)."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Drill:
    """One cockpit on one drill. ``advance`` moves the drill and the app's clock together."""

    def __init__(
        self,
        sim,
        tmp_path: Path,
        *,
        read_only: bool = False,
        refresh: float = 0.3,
        play: bool = True,
        deployments: list[str] | None = None,
        restart_on_change: bool = True,
    ) -> None:
        self.sim = sim
        data = sim.config_dict()
        if deployments is not None:
            data["kube"]["deployments"] = deployments
        data["kube"].setdefault("flags", {})["restart_on_change"] = restart_on_change
        for section in ("statuspage", "health", "metrics", "kube"):
            data[section]["refresh"] = refresh
        data["thresholds"] = {"stale_intervals": 1000.0}  # readings are as old as the last step, never stale
        data.setdefault("actions", {}).update({"rollout_timeout": 120.0, "verify_timeout": 60.0})
        config = config_from_toml(data, f"drill config ({sim.scenario.name})")
        if read_only:
            config = replace(config, kube=replace(config.kube, read_only=True))
        self.config = config
        self.clock = Clock(float(sim.state()["now"]))
        self.runners: list[ActionRunner] = []

        def factory(cfg, store, clock) -> ActionRunner:
            wait = (lambda _s: self.advance(STEP)) if play else (lambda _s: time.sleep(0.05))  # play: the drill moves while we follow
            runner = ActionRunner(cfg, store=store, wall=clock, sleep=wait, poll=0.05, actor="ana@bastion-1", cockpit_id="c0ffee")
            self.runners.append(runner)
            return runner

        sources = Sources(config)
        sources.kube.list_pods()  # load the kubeconfig once, before two threads do (see tests/test_snapshots_drill.py)
        self.app: CockpitApp = make_app(
            config,
            sources,
            clock=self.clock,
            title=f"drill: {sim.scenario.title}",
            state_dir=tmp_path / "state",
            speed=float("inf"),
            actions=factory,
        )

    def advance(self, seconds: float) -> None:
        state = self.sim.advance(seconds)
        self.clock.now = float(state["now"])

    @property
    def actions(self):
        return self.app._actions

    def branch(self) -> Branch | None:
        desk = self.app._desk
        t = desk.triaged if desk is not None else None
        return t.assessment.branch if t is not None else None


async def until(pilot, cond: Callable[[], object], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


async def ready(pilot, drill: Drill, branch: Branch | None = None) -> None:
    """The cockpit is up, every source answered, the actions pane read the cluster (and triage says ``branch``)."""
    app = drill.app
    await until(pilot, lambda: app._actions is not None and app._desk is not None, what="the cockpit")

    def s():
        return app.signals

    await until(pilot, lambda: all(r.ok for r in (s().statuspage, s().health, s().metrics, s().pods)), what="every source")
    await until(pilot, lambda: drill.actions.status.checked and not drill.actions._status_busy, what="the actions' status")
    if branch is not None:
        await until(pilot, lambda: drill.branch() == branch, what=f"triage: {branch}")


def pane_text(app: CockpitApp) -> str:
    pane = app.main_screen.query_one(ActionsPane)
    parts = [pane.border_title or "", pane.border_subtitle or ""]
    view = pane.view
    for i in range(view.option_count):
        prompt = view.get_option_at_index(i).prompt
        parts.append(prompt.plain if isinstance(prompt, Content) else str(prompt))
    status = pane.query_one("#actions-status", Static)
    if status.display and not status.has_class("-empty"):
        parts.append(status.content.plain if isinstance(status.content, Content) else str(status.content))
    return "\n".join(parts)


def screen_text(app: CockpitApp) -> str:
    """What the terminal shows, as text (from the app's own screenshot)."""
    svg = app.export_screenshot()
    text = re.sub(r"<[^>]+>", "", svg)
    return html.unescape(text).replace("\xa0", " ")


async def press_tab_to(pilot, widget_id: str, key: str = "tab", limit: int = 12) -> None:
    """Move the focus with Tab (or shift+tab) until ``widget_id`` has it."""
    for _ in range(limit):
        focused = pilot.app.focused
        if focused is not None and focused.id == widget_id:
            return
        await pilot.press(key)
        await pilot.pause()
    raise AssertionError(f"{widget_id} never got the focus (at {pilot.app.focused!r})")


async def type_text(pilot, text: str) -> None:
    await pilot.press(*text)
