"""The remediation actions end to end, from the keyboard alone: the cockpit
against a frozen drill (real HTTP, the official Kubernetes client), its
clock following the drill's. After each mitigation the desk follows the
symptom it should end, from the Signals the app already has, and says
whether it ended — never "done" for a rollout alone:

- key-revoked: k, paste, Enter (Clay accepts the key: straight to the
  plan), the name typed (the Secret write), the restart offered, y → the
  new pods' logged calls stop getting 401 → "Mitigated: 401s stopped at …",
  symptom_ended on the timeline, the checklist ticked, the key update and
  the restart in effect (✓, not ▸);
- rate-limited: Q, y → 429s down to a trickle; queuing shown as done;
- infra-crashloop: R, y → the new pods crash too → "symptom persists … the
  fix did not work", symptom_persists on the timeline;
- clay-outage: f, y → our health endpoint no longer down.

The key is nowhere it must not be (logs, timeline file, screen, the drill's
request log). Drill seconds from "rollout done" to the verdict are counted
(the issue's target: ≤ 20 s at speed 1 for a symptom that ends).
"""

from __future__ import annotations

import logging

import pytest
from test_actions_support import remediation_writes
from test_app_actions_support import (
    NEW_KEY,
    Drill,
    own_state_dir,  # noqa: F401 (a fixture)
    pane_text,
    ready,
    screen_text,
    type_text,
    until,
)

from clay_cockpit.actions.flow import ActionKind, Progress, VerifyState
from clay_cockpit.actions.symptom import ENDED, PERSISTS
from clay_cockpit.incident.timeline import EventKind, fingerprint, read
from clay_cockpit.runbook import Branch
from clay_cockpit.screens.confirm import ConfirmScreen
from clay_cockpit.screens.secret_input import KeyInputScreen

pytestmark = pytest.mark.asyncio
SIZE = (80, 24)
FOLLOW_STEP = 2.0  # drill seconds per look while the symptom is followed
TARGET = 20.0  # drill seconds from rollout done to the verdict (issue 10)


async def confirm_with_y(pilot, drill: Drill, kind: ActionKind) -> None:
    """The plan's modal: Cancel has the focus (Enter alone cancels), the button says y; y confirms."""
    app = drill.app
    await until(
        pilot,
        lambda: isinstance(app.screen, ConfirmScreen) and app.screen.plan.kind is kind and app.focused is not None,
        what=f"the {kind} plan",
    )
    assert app.screen.plan.ready, app.screen.plan.lines()
    assert app.focused.id == "cancel" and not app.screen.plan.typed_confirmation
    assert "(y)" in str(app.screen.query_one("#confirm").label) and "y confirms" in str(app.screen.query_one("Vertical").border_subtitle)
    await pilot.press("y")


async def finished(pilot, drill: Drill, kind: ActionKind, timeout: float = 90.0):
    await until(
        pilot,
        lambda: drill.actions.last is not None and drill.actions.last.plan.kind is kind and not drill.actions.busy,
        timeout=timeout,
        what=f"{kind} to finish",
    )
    return drill.actions.last


async def follow_to_verdict(pilot, drill: Drill, limit: float = 120.0):
    """Play the drill forward until the symptom's verdict; returns it and the drill seconds it took."""
    symptoms = drill.actions.symptoms
    moved = 0.0
    while symptoms.current is not None:
        assert moved < limit, f"no verdict after {moved:.0f} drill seconds: {symptoms.verdict}"
        drill.advance(FOLLOW_STEP)
        moved += FOLLOW_STEP
        before = drill.app.signals
        await until(
            pilot, lambda b=before: drill.app.signals.pods is not b.pods and drill.app.signals.health is not b.health, what="fresh polls"
        )
        await pilot.pause(0.6)  # the log follower delivers what the step logged (flushed twice a second)
    done = symptoms.last()
    assert done is not None
    return done, moved


def events_of(drill: Drill):
    return read(drill.app.desk.recorder.store.timeline.path).events


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
        keys = 0

        # the new key: masked; Enter asks Clay, and Clay accepting it goes straight on to the plan
        await pilot.press("k")
        keys += 1
        await until(pilot, lambda: isinstance(app.screen, KeyInputScreen), what="the key input")
        await type_text(pilot, NEW_KEY)  # (the paste)
        screens.append(screen_text(app))
        await pilot.press("enter")
        keys += 1

        # the plan of the Secret update: fingerprints, Clay's yes, dry run, permissions; the name typed where the focus already is
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.focused is not None, what="the plan")
        plan = app.screen.plan
        assert plan.kind is ActionKind.UPDATE_KEY and plan.changes_secret and plan.changes[0].after == fingerprint(NEW_KEY)
        assert plan.probe is not None and plan.probe.valid
        assert app.focused.id == "typed", "typing works at once"
        screens.append(screen_text(app))
        assert "type clay-sync, Enter confirms" in screens[-1]
        assert [r for r in remediation_writes(sim) if "dryRun=All" not in r["query"]] == []
        old_pods = {p.name for p in app.signals.pods.value.pods}
        await type_text(pilot, "clay-sync")  # (the typed name: counted apart)
        await pilot.press("enter")
        written = await finished(pilot, drill, ActionKind.UPDATE_KEY)
        assert written.ok and written.applied, written.summary
        assert ": done" not in written.summary and "key written" in written.summary and "watching 401s" in written.summary
        assert sim.state()["key_valid"] is True

        # the restart is offered at once: one key, y
        await until(
            pilot,
            lambda: isinstance(app.screen, ConfirmScreen) and app.screen.plan.kind is ActionKind.RESTART and app.focused is not None,
            what="the restart offered",
        )
        screens.append(screen_text(app))
        assert "Offered after the key update" in screens[-1]
        drawn: list[str] = []
        seen = drill.actions.update

        def update(value: object) -> None:  # what the pane showed while the restart ran
            seen(value)
            if isinstance(value, Progress):
                drawn.append(pane_text(app))

        drill.actions.update = update
        await confirm_with_y(pilot, drill, ActionKind.RESTART)
        keys += 1
        assert keys <= 5, "from the verdict to the mitigation confirmed: k, Enter, y (plus the paste and the typed name)"
        restarted = await finished(pilot, drill, ActionKind.RESTART, timeout=120)
        assert restarted.ok and restarted.verification is not None and restarted.verification.state is VerifyState.OK, restarted.summary
        assert "rollout done" in restarted.summary and "watching 401s" in restarted.summary and ": done" not in restarted.summary
        assert any("verify 3/3" in t for t in drawn) and any("lease" in t for t in drawn), drawn
        assert "✓ Restart" not in pane_text(app), "a rollout alone is not a fix"

        # the 401s stop in the new pods' logs: the verdict, within the target
        done, took = await follow_to_verdict(pilot, drill)
        text = pane_text(app)
        assert done.verdict.state == ENDED, done.verdict
        assert took <= TARGET, f"{took:.0f} drill seconds from rollout done to the verdict"
        assert (
            done.verdict.summary.startswith("Mitigated: 401s stopped at ")
            and "logged calls of the new pods got 401" in done.verdict.summary
        )
        assert "✓ Mitigated: 401s stopped at" in " ".join(text.split()), text
        assert "✓ k" in text and "✓ R" in text and "▸ k" not in text and "▸ R" not in text, text
        assert {e.action for e in app.signals.in_effect} >= {"update_key", "restart"}, app.signals.in_effect
        inc = app.desk.recorder.open
        for key in ("update_key", "restart_pods", "branch_credentials"):
            assert key in inc.ticks and inc.ticks[key].auto, (key, dict(inc.ticks))
        assert inc.symptom_ended_at == done.verdict.ended_at
        # the pods pane's reading follows the cluster by a watch event or a poll: the new pods only, once it caught up
        await until(
            pilot,
            lambda: (now := {p.name for p in app.signals.pods.value.pods}) and not now & old_pods,
            what="the pods reading to show only the new pods",
        )
        screens.append(screen_text(app))

    events = events_of(drill)
    steps = [(e.kind, e.data.get("action")) for e in events if str(e.kind).startswith(("action_", "symptom_"))]
    assert steps == [
        (EventKind.ACTION_PLANNED, "update_key"),
        (EventKind.ACTION_APPLIED, "update_key"),
        (EventKind.ACTION_VERIFIED, "update_key"),
        (EventKind.ACTION_PLANNED, "restart"),
        (EventKind.ACTION_APPLIED, "restart"),
        (EventKind.ACTION_VERIFIED, "restart"),
        (EventKind.SYMPTOM_ENDED, "restart"),
    ], steps
    planned = next(e for e in events if e.kind == EventKind.ACTION_PLANNED)
    assert planned.data["typed_name"] is True and planned.data["confirmed_by"] == "ana@bastion-1"
    restart_planned = [e for e in events if e.kind == EventKind.ACTION_PLANNED][1]
    assert restart_planned.data["typed_name"] is False, "the restart is confirmed by one key"
    ended = next(e for e in events if e.kind == EventKind.SYMPTOM_ENDED)
    d = ended.data
    assert (d["symptom"], d["label"], d["runbook"], d["carries"]) == ("auth_errors", "401s", "restart", ["update_key"])
    assert d["basis"] in ("logs", "logs+metrics") and d["ended_at"] is not None and d["applied_at"] <= d["ended_at"]
    assert d["before"].startswith("401 on ") and "of calls" in d["before"]
    assert ended.summary == done.verdict.summary and "…" not in ended.summary
    # the key: nowhere
    path = drill.app.desk.recorder.store.timeline.path
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
        await pilot.press("i")
        await until(pilot, lambda: app.desk.recorder.open is not None and not app.desk.busy, what="the incident")
        await pilot.press("x")
        await pilot.pause(0.2)
        text = pane_text(app)
        assert "Clay rate limit 0/600 left" in text and "off · Q turns it on" in text and "▸ Q" in text, text
        await pilot.press("Q")
        await confirm_with_y(pilot, drill, ActionKind.ENABLE_QUEUING)
        out = await finished(pilot, drill, ActionKind.ENABLE_QUEUING, timeout=120)
        assert out.ok and "rollout done" in out.summary and "watching 429s" in out.summary, out.summary
        assert sim.state()["flags"]["CLAY_REQUEST_QUEUING"] == "true"
        done, took = await follow_to_verdict(pilot, drill)
        assert done.verdict.state == ENDED, done.verdict
        assert took <= TARGET, f"{took:.0f} drill seconds from rollout done to the verdict"
        assert done.verdict.summary.startswith("Mitigated: 429s down to a trickle at "), done.verdict.summary
        await until(pilot, lambda: "✓ Q Request queuing  on since" in pane_text(app), what="queuing shown as done")
        text = pane_text(app)
        assert "Q turns it off" in text and "▸ Q" not in text, text
        assert any(e.action == "enable_queuing" and "CLAY_REQUEST_QUEUING=true" in e.detail for e in app.signals.in_effect)
        inc = app.desk.recorder.open
        assert "enable_queuing" in inc.ticks and inc.ticks["enable_queuing"].auto
    kinds = [e.kind for e in events_of(drill)]
    assert kinds.count(EventKind.SYMPTOM_ENDED) == 1 and EventKind.SYMPTOM_PERSISTS not in kinds


@pytest.mark.scenario("infra-crashloop")
async def test_infra_crashloop_restart_is_reported_as_a_fix_that_did_not_work(sim, tmp_path) -> None:
    sim.advance(60)
    drill = Drill(sim, tmp_path)
    app = drill.app
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, drill, Branch.INFRASTRUCTURE)
        await pilot.press("i")
        await until(pilot, lambda: app.desk.recorder.open is not None and not app.desk.busy, what="the incident")
        await pilot.press("R")
        await confirm_with_y(pilot, drill, ActionKind.RESTART)
        out = await finished(pilot, drill, ActionKind.RESTART, timeout=120)
        assert out.applied and ": done" not in out.summary, out.summary
        done, _ = await follow_to_verdict(pilot, drill)
        v = done.verdict
        assert v.state == PERSISTS, v
        assert v.summary.startswith("Restart the pods: rollout ") and "symptom persists — " in v.summary, v.summary
        assert "restarted (OOMKilled)" in v.summary and v.summary.endswith(": the fix did not work"), v.summary
        text = " ".join(pane_text(app).split())
        assert "✗ Restart the pods: rollout" in text and "the fix did not work" in text and "✓" not in text, text
        assert not any(e.action == "restart" for e in app.signals.in_effect)
        assert app.desk.recorder.open.symptom_ended_at is None
    events = events_of(drill)
    persists = [e for e in events if e.kind == EventKind.SYMPTOM_PERSISTS]
    assert len(persists) == 1 and persists[0].data["symptom"] == "pods_unready" and persists[0].data["ended_at"] is None
    assert persists[0].data["basis"] == "pods" and "3 restarted (OOMKilled)" in persists[0].data["before"]
    assert not [e for e in events if e.kind == EventKind.SYMPTOM_ENDED]
    assert not [e for e in events if e.kind == EventKind.CHECKLIST_TICKED and e.data.get("key") == "branch_infrastructure"]


@pytest.mark.scenario("clay-outage")
async def test_clay_outage_mitigated_by_fallback(sim, tmp_path) -> None:
    sim.advance(60)
    drill = Drill(sim, tmp_path)
    app = drill.app
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, drill, Branch.CLAY_INCIDENT)
        assert "▸ f" in pane_text(app)
        await pilot.press("i")
        await until(pilot, lambda: app.desk.recorder.open is not None and not app.desk.busy, what="the incident")
        await pilot.press("f")
        await confirm_with_y(pilot, drill, ActionKind.ENABLE_FALLBACK)
        out = await finished(pilot, drill, ActionKind.ENABLE_FALLBACK, timeout=120)
        assert out.ok and "watching our health endpoint down" in out.summary, out.summary
        assert sim.state()["flags"]["CLAY_FALLBACK_ENABLED"] == "true"
        done, took = await follow_to_verdict(pilot, drill)
        assert done.verdict.state == ENDED and took <= TARGET, (done.verdict, took)
        assert done.verdict.summary.startswith("Mitigated: our health endpoint no longer down at "), done.verdict.summary
        assert "health degraded" in done.verdict.summary and "fallback: active on" in done.verdict.summary
        assert app.signals.health.value.status == "degraded"
        await until(pilot, lambda: "✓ f Fallback (degrade)  on since" in pane_text(app), what="fallback shown as done")
        assert "▸ f" not in pane_text(app)
        assert any(e.action == "enable_fallback" for e in app.signals.in_effect)
        inc = app.desk.recorder.open
        assert "branch_clay" in inc.ticks and "enable_fallback" in inc.ticks


@pytest.mark.scenario("rate-limited")
async def test_a_flag_that_waits_for_the_restart_is_not_done_until_the_restart_ends_the_429s(sim, tmp_path) -> None:
    """kube.flags.restart_on_change = false: Q sets the flag only (the pods read
    it when they start), the restart is offered; cancelled, the pane says the
    flag waits for the restart and marks R ▸ (not Q ✓); R, y: the restart
    carries the flag's symptom, and its end marks queuing done."""
    sim.advance(60)
    drill = Drill(sim, tmp_path, restart_on_change=False)
    app = drill.app
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, drill)
        await pilot.press("i")
        await until(pilot, lambda: app.desk.recorder.open is not None and not app.desk.busy, what="the incident")
        await pilot.press("Q")
        await confirm_with_y(pilot, drill, ActionKind.ENABLE_QUEUING)
        out = await finished(pilot, drill, ActionKind.ENABLE_QUEUING)
        assert out.ok and "flag set" in out.summary and ": done" not in out.summary, out.summary
        await until(
            pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen.plan.kind is ActionKind.RESTART, what="the restart offered"
        )
        await pilot.press("escape")
        await until(pilot, lambda: "the pods read it at their next restart (R)" in pane_text(app), what="the flag waiting")
        text = pane_text(app)
        assert "✓ Q" not in text and "▸ R" in text, text
        assert any(e.action == "enable_queuing" and "next restart" in e.detail for e in app.signals.in_effect)
        await pilot.press("R")
        await confirm_with_y(pilot, drill, ActionKind.RESTART)
        restarted = await finished(pilot, drill, ActionKind.RESTART, timeout=120)
        assert "watching 429s" in restarted.summary, restarted.summary
        done, _ = await follow_to_verdict(pilot, drill)
        assert done.verdict.state == ENDED and done.follow.carries == ("enable_queuing",), done
        assert done.follow.title == "Enable request queuing + restart the pods"
        await until(pilot, lambda: "✓ Q Request queuing  on since" in pane_text(app), what="queuing done")
        assert "▸ R" not in pane_text(app)
