"""The remediation actions end to end, from the keyboard alone: the cockpit
against a frozen drill (real HTTP, the official Kubernetes client), its
clock following the drill's. The key-revoked drill resolved (verify key →
update the Secret → restart → pods replaced → 401s stop → triage healthy),
the rate-limited drill mitigated by queuing and the Clay outage by the
fallback; the timeline holds each step and the key is nowhere it must not
be (logs, timeline file, screen, the drill's request log).
"""

from __future__ import annotations

import logging

import pytest
from test_app_actions_support import (
    NEW_KEY,
    Drill,
    own_state_dir,  # noqa: F401 (a fixture)
    pane_text,
    press_tab_to,
    ready,
    screen_text,
    type_text,
    until,
)

from cockpit.actions import ActionKind, ProbeVerdict, Progress, VerifyState
from cockpit.runbook import Branch
from cockpit.timeline import EventKind, fingerprint, read
from screens.confirm import ConfirmScreen
from screens.secret_input import KeyInputScreen

pytestmark = pytest.mark.asyncio
SIZE = (80, 24)


async def confirm_typing(pilot, drill: Drill, name: str = "clay-sync") -> None:
    """In the confirm modal: Cancel has the focus; shift+tab to the name, type it, Enter (to the button), Enter."""
    app = drill.app
    await until(pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.focused is not None, what="the confirm modal")
    assert app.focused.id == "cancel"
    assert app.screen.plan.ready, app.screen.plan.lines()
    await press_tab_to(pilot, "typed", "shift+tab")
    await type_text(pilot, name)
    await pilot.press("enter")
    assert app.focused is not None and app.focused.id == "confirm", "Enter in the name field moves to the button"
    await pilot.press("enter")


async def finished(pilot, drill: Drill, kind: ActionKind, timeout: float = 90.0):
    await until(pilot, lambda: drill.actions.last is not None and drill.actions.last.plan.kind is kind and not drill.actions.busy,
                timeout=timeout, what=f"{kind} to finish")
    return drill.actions.last


async def advance_until(pilot, drill: Drill, cond, *, step: float = 10.0, limit: float = 240.0, what: str = "") -> None:
    moved = 0.0
    while not cond():
        assert moved < limit, f"not {what} after {moved:.0f} drill seconds (triage: {drill.branch()})"
        drill.advance(step)
        moved += step
        before = drill.app.signals
        await until(pilot, lambda b=before: drill.app.signals.metrics is not b.metrics and drill.app.signals.health is not b.health,
                    what="fresh polls")
        await pilot.pause(0.3)


@pytest.mark.scenario("key-revoked")
async def test_key_revoked_resolved_with_the_keyboard_alone(sim, tmp_path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    sim.advance(60)
    drill = Drill(sim, tmp_path)
    app = drill.app
    screens: list[str] = []
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, drill, Branch.CREDENTIALS)
        assert "▸ v" in pane_text(app) and "▸ k" in pane_text(app) and "▸ R" in pane_text(app), pane_text(app)
        await pilot.press("i")
        await until(pilot, lambda: app.desk.recorder.open is not None and not app.desk.busy, what="the incident")

        # verify the key in the Secret: Clay says 401
        await pilot.press("v")
        checked = await finished(pilot, drill, ActionKind.VERIFY_KEY)
        assert checked.probe is not None and checked.probe.status_code == 401 and checked.probe.verdict is ProbeVerdict.INVALID
        await pilot.press("x")
        await pilot.pause(0.2)
        assert "401" in pane_text(app)
        screens.append(screen_text(app))

        # the new key: masked, verified with Clay before anything is written
        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, KeyInputScreen), what="the key input")
        await type_text(pilot, NEW_KEY)
        screens.append(screen_text(app))
        await pilot.press("enter")  # Enter in the key field asks Clay (writes nothing)
        await until(pilot, lambda: "Clay accepts this key" in str(app.screen.query_one("#result").content), what="the probe")
        screens.append(screen_text(app))
        assert fingerprint(NEW_KEY) in screens[-1] and "200 OK" in screens[-1]
        await press_tab_to(pilot, "plan")
        await pilot.press("enter")

        # the plan of the Secret update: fingerprints, dry run, permissions; the name typed
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.focused is not None, what="the plan")
        plan = app.screen.plan
        assert plan.kind is ActionKind.UPDATE_KEY and plan.changes_secret and plan.changes[0].after == fingerprint(NEW_KEY)
        screens.append(screen_text(app))
        assert [r for r in sim.requests("kube") if r["mutating"] and "dryRun=All" not in r["query"]] == []
        old_pods = {p.name for p in app.signals.pods.value.pods}
        await confirm_typing(pilot, drill)
        written = await finished(pilot, drill, ActionKind.UPDATE_KEY)
        assert written.ok and written.applied, written.summary
        assert sim.state()["key_valid"] is True

        # the restart is offered at once: its own plan, the name typed again
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen.plan.kind is ActionKind.RESTART and app.focused is not None,
                    what="the restart offered")
        screens.append(screen_text(app))
        assert "Offered after the key update" in screens[-1]
        drawn: list[str] = []
        seen = drill.actions.update

        def update(value: object) -> None:  # what the pane showed while the restart ran
            seen(value)
            if isinstance(value, Progress):
                drawn.append(pane_text(app))

        drill.actions.update = update
        await confirm_typing(pilot, drill)
        restarted = await finished(pilot, drill, ActionKind.RESTART, timeout=120)
        assert restarted.ok and restarted.verification is not None and restarted.verification.state is VerifyState.OK, restarted.summary
        assert "✓ Restart" in pane_text(app)
        assert any("verify 3/3" in t for t in drawn) and any("lease" in t for t in drawn), drawn
        screens.append(screen_text(app))

        # the 401s stop and triage goes back to healthy
        await advance_until(pilot, drill, lambda: drill.branch() == Branch.HEALTHY, what="healthy")
        new_pods = {p.name for p in app.signals.pods.value.pods}
        assert new_pods and not new_pods & old_pods
        screens.append(screen_text(app))

        path = app.desk.recorder.store.timeline.path
    events = read(path).events
    steps = [(e.kind, e.data.get("action")) for e in events if str(e.kind).startswith("action_")]
    assert steps == [
        (EventKind.ACTION_VERIFIED, "verify_key"),
        (EventKind.ACTION_PLANNED, "update_key"), (EventKind.ACTION_APPLIED, "update_key"), (EventKind.ACTION_VERIFIED, "update_key"),
        (EventKind.ACTION_PLANNED, "restart"), (EventKind.ACTION_APPLIED, "restart"), (EventKind.ACTION_VERIFIED, "restart"),
    ], steps
    planned = next(e for e in events if e.kind == EventKind.ACTION_PLANNED)
    assert planned.data["typed_name"] is True and planned.data["confirmed_by"] == "ana@bastion-1"
    assert planned.data["changes"][0]["after"] == fingerprint(NEW_KEY)
    # the key: nowhere
    everything = [path.read_text(encoding="utf-8"), caplog.text, *screens, repr(sim.requests())]
    for text in everything:
        assert NEW_KEY not in text
        assert NEW_KEY[:16] not in text


@pytest.mark.scenario("rate-limited")
async def test_rate_limited_mitigated_by_queuing(sim, tmp_path) -> None:
    sim.advance(60)
    drill = Drill(sim, tmp_path)
    app = drill.app
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, drill)
        await until(pilot, lambda: drill.actions.rate is not None, what="the rate-limit headers")
        await pilot.press("x")
        await pilot.pause(0.2)
        text = pane_text(app)
        assert "Clay rate limit 0/600 left" in text and "off · Q turns it on" in text, text
        await pilot.press("Q")
        await confirm_typing(pilot, drill)
        done = await finished(pilot, drill, ActionKind.ENABLE_QUEUING, timeout=120)
        assert done.ok, done.summary
        assert sim.state()["flags"]["CLAY_REQUEST_QUEUING"] == "true"
        await until(pilot, lambda: "on · Q turns it off" in pane_text(app), what="the flag shown on")

        def rate_429() -> float:
            snap = app.signals.metrics.value
            return sum(s.current or 0 for s in snap.series if s.query == "errors_by_code" and s.label_value("code") == "429")

        await advance_until(pilot, drill, lambda: rate_429() < 2.0, what="429s down to a trickle")


@pytest.mark.scenario("clay-outage")
async def test_clay_outage_mitigated_by_fallback(sim, tmp_path) -> None:
    sim.advance(60)
    drill = Drill(sim, tmp_path)
    app = drill.app
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, drill, Branch.CLAY_INCIDENT)
        assert "▸ f" in pane_text(app)
        await pilot.press("f")
        await confirm_typing(pilot, drill)
        done = await finished(pilot, drill, ActionKind.ENABLE_FALLBACK, timeout=120)
        assert done.ok, done.summary
        assert sim.state()["flags"]["CLAY_FALLBACK_ENABLED"] == "true"
        await advance_until(pilot, drill, lambda: app.signals.health.value.status == "degraded", what="health degraded, not down")
