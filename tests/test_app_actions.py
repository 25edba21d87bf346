"""The actions' safety in the cockpit, from the keyboard, against a frozen
drill (real HTTP, the official client): read-only mode sends nothing but
reads whatever key is pressed; Enter alone never confirms; expired cluster
credentials say so with the re-login hint and a retry key that keeps the
typed key; a denied permission shows the escalation contact; another
cockpit's lease shows who holds it and since when. What is asserted is
what the screen shows and what the drill received (its request log).
"""

from __future__ import annotations

import time

import pytest
from test_actions_support import remediation_writes
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

from clay_cockpit.actions.flow import ActionKind, ActionRunner, FailureKind
from clay_cockpit.incident.timeline import fingerprint
from clay_cockpit.screens.confirm import ConfirmScreen
from clay_cockpit.screens.secret_input import KeyInputScreen, ReplicasScreen
from clay_cockpit.widgets.context_bar import ContextBar

pytestmark = pytest.mark.asyncio
SIZE = (80, 24)


def writes(sim, *, real_only: bool = False) -> list[dict]:
    out = remediation_writes(sim)
    return [r for r in out if "dryRun=All" not in r["query"]] if real_only else out


async def modal_plan(pilot, drill: Drill):
    await until(
        pilot,
        lambda: isinstance(drill.app.screen, ConfirmScreen) and drill.app.focused is not None and not drill.actions.busy,
        what="the plan's modal",
    )
    return drill.app.screen.plan


async def close_modal(pilot, drill: Drill) -> None:
    await pilot.press("escape")
    await until(pilot, lambda: not isinstance(drill.app.screen, (ConfirmScreen, KeyInputScreen, ReplicasScreen)), what="the modal closed")


@pytest.mark.scenario("key-revoked")
async def test_read_only_every_action_key_sends_only_reads(sim, tmp_path) -> None:
    """--read-only: the header says so, the pane marks the actions; every
    action key (and retry, and the palette's) opens at most an input or a
    plan that cannot be confirmed; the drill's request log holds no
    mutating request — not even a dry run."""
    sim.advance(60)
    drill = Drill(sim, tmp_path, read_only=True, refresh=1.0)
    app = drill.app
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, drill)
        assert "READ-ONLY" in app.main_screen.query_one(ContextBar).content.plain
        await pilot.press("x")
        await pilot.pause(0.2)
        text = pane_text(app)
        assert "x Actions · READ-ONLY" in text and text.count("(read-only)") == 6, text

        await pilot.press("v")  # verifying the key in the Secret is a read: it runs
        await until(pilot, lambda: drill.actions.last is not None and not drill.actions.busy, what="the check")
        assert drill.actions.last.probe is not None and drill.actions.last.probe.status_code == 401

        for key in ("R", "U", "Q", "f"):
            await pilot.press(key)
            plan = await modal_plan(pilot, drill)
            assert plan.blocked is not None and plan.blocked.kind is FailureKind.READ_ONLY, plan.lines()
            assert not app.screen.query("#confirm"), "no confirm button in read-only mode"
            assert "Cannot run (read-only)" in screen_text(app)
            await pilot.press("y")  # nothing to confirm: y does nothing
            await pilot.pause(0.1)
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("enter")  # Enter on the focused Close: closes
            await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), what="closed")

        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, KeyInputScreen), what="the key input")
        await type_text(pilot, NEW_KEY)
        await press_tab_to(pilot, "plan")
        await pilot.press("enter")
        plan = await modal_plan(pilot, drill)
        assert plan.kind is ActionKind.UPDATE_KEY and plan.blocked.kind is FailureKind.READ_ONLY
        await close_modal(pilot, drill)

        await pilot.press("S")
        await until(pilot, lambda: isinstance(app.screen, ReplicasScreen), what="the replica count")
        await pilot.press("backspace", "5", "enter")
        plan = await modal_plan(pilot, drill)
        assert plan.kind is ActionKind.SCALE and plan.blocked.kind is FailureKind.READ_ONLY
        await close_modal(pilot, drill)

        await pilot.press("g")
        for action in ("act('restart')", "act('queuing')", "act('fallback')"):  # as the palette runs them
            await app.run_action(action)
            await modal_plan(pilot, drill)
            await close_modal(pilot, drill)
        await until(pilot, lambda: not drill.actions.busy and not drill.actions._status_busy, what="idle")
    assert len(sim.requests()) < 1000, "the drill's log (its last 1000 requests) still holds every request"
    assert writes(sim) == []
    methods = {(r["method"], r["path"].rsplit("/", 1)[-1]) for r in sim.requests("kube") if r["method"] != "GET"}
    assert methods <= {("POST", "selfsubjectaccessreviews")}, methods


async def focus_stops(pilot, limit: int = 6) -> set[str]:
    """Every widget Tab reaches in the modal (an invisible stop would show as an id-less widget)."""
    seen: set[str] = set()
    for _ in range(limit):
        await pilot.press("tab")
        await pilot.pause()
        focused = pilot.app.focused
        seen.add(focused.id if focused is not None and focused.id else repr(focused))
    return seen


@pytest.mark.scenario("healthy")
async def test_enter_alone_never_confirms_and_y_is_one_deliberate_key(sim, tmp_path) -> None:
    """A restart: the plan, dry run and permissions on screen; Cancel has the
    focus, the button says y; Enter cancels. Tab reaches Cancel and the
    button only. A scale down by half or more: the focus starts in the name
    field, a wrong name and Enter confirm nothing (the modal says why, not a
    toast), y is just a letter there. A scale-up: Enter cancels."""
    drill = Drill(sim, tmp_path)
    app = drill.app
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, drill)
        await pilot.press("R")
        plan = await modal_plan(pilot, drill)
        assert plan.ready and not plan.typed_confirmation and app.focused.id == "cancel"
        shown = screen_text(app)
        assert "Restart (y)" in shown and "y confirms · Esc or Enter cancels" in shown
        assert "Dry run" in shown and "Permission  ✓ all allowed" in shown
        assert await focus_stops(pilot) == {"cancel", "confirm"}
        await press_tab_to(pilot, "cancel")
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), what="cancelled")

        await pilot.press("S")
        await until(pilot, lambda: isinstance(app.screen, ReplicasScreen), what="the replica count")
        await pilot.press("backspace", "1", "enter")  # 3 → 1: down by half or more
        plan = await modal_plan(pilot, drill)
        assert plan.ready and plan.typed_confirmation == "clay-sync" and app.focused.id == "typed", "typing works at once"
        assert "type clay-sync, Enter confirms · Esc cancels" in screen_text(app)
        await type_text(pilot, "clay-syn")
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert isinstance(app.screen, ConfirmScreen) and app.screen.query_one("#confirm").disabled
        assert "not confirmed: type clay-sync exactly (you typed 'clay-syn')" in str(app.screen.query_one("#typed-error").content)
        await pilot.press("y")  # a letter in the field, not a confirmation
        await pilot.pause(0.2)
        assert isinstance(app.screen, ConfirmScreen) and app.screen.query_one("#typed").value == "clay-syny"
        assert await focus_stops(pilot) == {"typed", "cancel"}, "the disabled button is skipped; no invisible stop"
        await close_modal(pilot, drill)

        await pilot.press("S")
        await until(pilot, lambda: isinstance(app.screen, ReplicasScreen), what="the replica count")
        await pilot.press("backspace", "4", "enter")
        plan = await modal_plan(pilot, drill)
        assert plan.ready and not plan.typed_confirmation and app.focused.id == "cancel", plan.lines()
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), what="cancelled")
        await pilot.pause(0.3)
        assert drill.actions.last is None, "nothing ran"
    assert writes(sim, real_only=True) == []
    assert writes(sim), "the plans' dry runs were sent (dryRun=All)"


@pytest.mark.scenario("healthy")
async def test_toasts_wait_while_a_modal_is_up(sim, tmp_path) -> None:
    """A notification while the plan's modal is up (the comms cadence, another
    desk's outcome) never covers its buttons: it waits, and shows once the
    modal closes — as does one that was showing when it opened."""
    drill = Drill(sim, tmp_path)
    app = drill.app
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await ready(pilot, drill)
        app.clear_notifications()
        app.notify("shown before the modal", title="Earlier")
        await pilot.pause(0.1)
        await pilot.press("R")
        await modal_plan(pilot, drill)
        app.notify("no update sent yet — n writes it", title="Stakeholder update due")
        await pilot.pause(0.3)
        assert not app.screen.query("Toast"), "no toast on the modal"
        await close_modal(pilot, drill)
        await pilot.pause(0.3)
        shown = " ".join(str(t.render()) for t in app.screen.query("Toast"))
        assert "Stakeholder update due" in shown and "shown before the modal" in shown, shown


@pytest.mark.scenario("key-revoked")
async def test_key_modal_enter_verifies_then_plans_and_fits_80_columns(sim, tmp_path) -> None:
    """k at 80x24: the three buttons drawn whole inside the modal; Enter asks
    Clay: a conclusive yes goes straight on to the plan; an answer that says
    nothing (Clay rate-limits the probe) stays, and Plan anyway goes on."""
    sim.advance(30)
    drill = Drill(sim, tmp_path)
    app = drill.app
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, drill)
        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, KeyInputScreen), what="the key input")
        box = app.screen.query_one("Vertical").region
        for button in app.screen.query("Button"):
            assert box.contains_region(button.region), (button.id, button.region, box)
        shown = screen_text(app)
        assert "Cancel" in shown and "Verify (Enter)" in shown and "Plan anyway" in shown
        sim.fault("clay", status=429, times=1)
        await type_text(pilot, NEW_KEY)
        await pilot.press("enter")
        await until(pilot, lambda: "429" in str(app.screen.query_one("#result").content), what="Clay's 429")
        assert isinstance(app.screen, KeyInputScreen), "an inconclusive answer does not go on by itself"
        await pilot.press("enter")  # asks again: Clay says yes now
        plan = await modal_plan(pilot, drill)
        assert plan.kind is ActionKind.UPDATE_KEY and plan.probe is not None and plan.probe.valid and app.focused.id == "typed"
        await close_modal(pilot, drill)
    assert writes(sim, real_only=True) == []


async def test_help_and_readme_name_the_modal_keys(tmp_path) -> None:
    from test_app_fakes import FakeSources, fast_config

    from clay_cockpit.app import make_app

    app = make_app(fast_config(), FakeSources(), state_dir=tmp_path)
    sections = dict(app.binding_sections())
    confirm = {app.get_key_display(b): b.tooltip for b in sections["Confirming an action"]}
    assert "never Enter alone" in confirm["y"] and "name" in confirm["⏎"] and "esc" in confirm
    key = {app.get_key_display(b): b.tooltip for b in sections["Entering the new Clay API key"]}
    assert "straight on to the plan" in key["⏎"]


@pytest.mark.scenario("key-revoked")
async def test_expired_credentials_say_so_and_retry_keeps_the_typed_key(sim, tmp_path) -> None:
    sim.advance(30)
    drill = Drill(sim, tmp_path)
    app = drill.app
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, drill)
        sim.kube("expire_token")
        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, KeyInputScreen), what="the key input")
        await type_text(pilot, NEW_KEY)
        await press_tab_to(pilot, "plan")
        await pilot.press("enter")
        plan = await modal_plan(pilot, drill)
        assert plan.blocked is not None and plan.blocked.kind is FailureKind.AUTH_EXPIRED, plan.lines()
        shown = " ".join(app.screen.query_one("#plan-text").content.plain.split())
        assert "cluster credentials expired" in shown and plan.blocked.hint in shown, shown  # the re-login hint for the context
        assert "kubectl --context clay-drill" in shown
        assert NEW_KEY not in screen_text(app)
        await close_modal(pilot, drill)
        await pilot.press("x")
        await until(pilot, lambda: "cluster credentials expired" in pane_text(app) and "g retries" in pane_text(app), what="the pane")
        assert NEW_KEY not in screen_text(app)

        sim.kube("renew_token")  # the responder logged in again
        await pilot.press("g")
        plan = await modal_plan(pilot, drill)
        assert plan.ready, plan.lines()
        assert plan.kind is ActionKind.UPDATE_KEY and plan.changes[0].after == fingerprint(NEW_KEY), "the typed key was kept"
        await close_modal(pilot, drill)
    assert writes(sim, real_only=True) == []


@pytest.mark.scenario("key-revoked")
async def test_denied_permission_shows_the_escalation_contact(sim, tmp_path) -> None:
    sim.kube("deny", verb="patch", resource="secrets")
    drill = Drill(sim, tmp_path)
    app = drill.app
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, drill)
        await pilot.press("x")
        await pilot.pause(0.2)
        contact = drill.config.escalation.contact
        assert f"permission denied (patch secrets/clay-api) → escalate to {contact}" in " ".join(pane_text(app).split()), pane_text(app)
        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, KeyInputScreen), what="the key input")
        await type_text(pilot, NEW_KEY)
        await press_tab_to(pilot, "plan")
        await pilot.press("enter")
        plan = await modal_plan(pilot, drill)
        assert plan.blocked is not None and plan.blocked.kind is FailureKind.FORBIDDEN
        assert f"escalate to {contact}" in " ".join(app.screen.query_one("#plan-text").content.plain.split())
        assert not app.screen.query("#confirm")


@pytest.mark.scenario("healthy")
async def test_another_cockpits_lease_shows_who_and_since_when(sim, tmp_path) -> None:
    drill = Drill(sim, tmp_path)
    app = drill.app
    other = ActionRunner(drill.config, actor="bob@bastion-2", cockpit_id="beef", wall=drill.clock)
    with other.admin.armed():
        other.leases.acquire("clay-sync")
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, drill)
        await until(pilot, lambda: "held by bob@bastion-2+beef since 00:00:00 UTC" in pane_text(app), what="the lease in the pane")
        await pilot.press("R")
        plan = await modal_plan(pilot, drill)
        assert any("held by bob@bastion-2+beef" in n for n in plan.notes), plan.lines()
        await pilot.press("y")
        await until(pilot, lambda: drill.actions.last is not None and not drill.actions.busy, what="the outcome")
        out = drill.actions.last
        assert not out.applied and out.failure is not None and out.failure.kind is FailureKind.LEASE_HELD
        assert "bob@bastion-2+beef" in pane_text(app) and "g retries" in pane_text(app)
        failed_at = drill.clock.now
        held_for = int(failed_at - out.failure.lease.acquired_at)
        assert f"since 00:00:00 UTC ({held_for} s ago)" in pane_text(app)
        drill.clock.now = failed_at + 30  # the clock moves on: the failure line's relative times with it, at the next age tick
        try:
            await until(
                pilot,
                lambda: f"since 00:00:00 UTC ({held_for + 30} s ago)" in pane_text(app),
                timeout=7.0,
                what="the lease failure line's ages to move on",
            )
        except AssertionError:
            raise AssertionError(pane_text(app)) from None
        assert f"({held_for} s ago)" not in pane_text(app)
    assert [r for r in writes(sim, real_only=True) if "/deployments/" in r["path"]] == []


async def test_every_action_is_in_the_palette_and_fake_sources_run_nothing(tmp_path) -> None:
    """The palette lists each action key (from the same bindings as the footer
    and help); on test sources without a Kubernetes adapter the keys say so
    and open nothing."""
    from test_app_fakes import FakeSources, fast_config

    from clay_cockpit.app import make_app

    app = make_app(fast_config(), FakeSources(), state_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app._actions is not None, what="the cockpit")
        helps = {help_text: title for title, help_text, _ in app.palette_commands()}
        for key in ("x", "v", "k", "R", "Q", "f", "S", "g"):
            assert f"key {key}" in helps, key
        for key in ("R", "k", "S", "v"):
            await pilot.press(key)
            await pilot.pause(0.1)
            assert not isinstance(app.screen, (ConfirmScreen, KeyInputScreen, ReplicasScreen))
        assert any("no Kubernetes adapter" in n.message for n in app._notifications)


@pytest.mark.scenario("healthy")
async def test_quitting_stops_a_running_action_and_releases_the_lease(sim, tmp_path) -> None:
    """q while a restart is being followed (the frozen drill does not move,
    so the rollout never finishes): the worker stops following (the change
    stays applied) and the lease goes back at once, not after it goes stale."""
    drill = Drill(sim, tmp_path, play=False)
    app = drill.app
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, drill)
        await pilot.press("R")
        await modal_plan(pilot, drill)
        await pilot.press("y")
        await until(pilot, lambda: drill.actions.progress is not None and drill.actions.progress.stage == "verify", what="following")
        runner = drill.runners[0]
        held = runner.lease_status("clay-sync")
        assert held is not None and held.held and held.ours
        await pilot.press("q")
    deadline = time.monotonic() + 10
    while True:
        lease = runner.lease_status("clay-sync")
        if lease is not None and not lease.held:
            break
        assert time.monotonic() < deadline, f"the lease is still held: {lease}"
        time.sleep(0.1)
    assert [r for r in writes(sim, real_only=True) if r["method"] == "PATCH" and "/deployments/" in r["path"]], "the restart was applied"


@pytest.mark.scenario("healthy")
async def test_D_switches_the_deployment_the_actions_act_on(sim, tmp_path) -> None:
    """Two deployments configured (the drill has only the first): the pane
    names the one the actions act on; D switches to the second, whose plan
    the cluster refuses (no such deployment, said in the plan); D again, and
    the restart's plan is for clay-sync and ready."""
    drill = Drill(sim, tmp_path, deployments=["clay-sync", "clay-sync-worker"])
    app = drill.app
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, drill)
        pane = app.screen.query_one("#actions")
        assert "clay-sync (1/2) · D switches" in str(pane.border_title)
        await pilot.press("D")
        assert drill.actions.deployment == "clay-sync-worker" and "clay-sync-worker (2/2)" in str(pane.border_title)
        await until(pilot, lambda: not drill.actions._status_busy, what="the second deployment read")
        await pilot.press("R")
        plan = await modal_plan(pilot, drill)
        assert plan.deployment == "clay-sync-worker" and "deployment clay-sync-worker" in plan.title
        assert not plan.ready and plan.blocked is not None, "the drill has no clay-sync-worker: the plan is refused"
        await close_modal(pilot, drill)
        await pilot.press("D")
        assert drill.actions.deployment == "clay-sync"
        await until(pilot, lambda: not drill.actions._status_busy and drill.actions.status.checked, what="clay-sync read again")
        await pilot.press("R")
        plan = await modal_plan(pilot, drill)
        assert plan.deployment == "clay-sync" and plan.ready, plan.lines()
        await close_modal(pilot, drill)
    assert writes(sim, real_only=True) == []  # dry runs only: nothing was confirmed


@pytest.mark.scenario("healthy")
async def test_typing_that_outlives_a_modal_is_no_hotkey_and_scale_to_zero_says_why(sim, tmp_path) -> None:
    """Scaling 3 → 0 asks for the name because it stops every pod (it
    writes no Secret). The modal closes while the name is being
    typed: the rest of the word (its `c`, `n`, `a`, Enter: the checklist,
    the update editor, accept) does nothing; after a moment keys work
    again. A modal closed with Escape drops nothing."""
    drill = Drill(sim, tmp_path)
    app = drill.app
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, drill)
        await pilot.press("S")
        await until(pilot, lambda: isinstance(app.screen, ReplicasScreen), what="the replica count")
        await pilot.press("backspace", "0", "enter")
        plan = await modal_plan(pilot, drill)
        assert plan.typed_confirmation == "clay-sync" and not plan.changes_secret
        label = str(app.screen.query_one("#typed-label").content)
        assert "it stops every pod: 0 replicas" in label and "Secret" not in label, label
        await type_text(pilot, "clay-s")
        app.screen.dismiss(None)  # closed under the responder's fingers
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen) and app.focused is not None, what="the modal closed")
        focused = app.focused
        await pilot.press("y", "n", "c", "a", "enter")
        await pilot.pause(0.1)
        assert app.screen is app.main_screen and app.focused is focused, "typing after the close did nothing"
        assert app._typeahead.dropped == 5
        await pilot.pause(2.1)  # a moment later, keys are keys again
        await pilot.press("S")
        await until(pilot, lambda: isinstance(app.screen, ReplicasScreen), what="the replica count")
        await type_text(pilot, "1")
        await pilot.press("escape")  # closed on purpose: the next key is meant
        await until(pilot, lambda: app.screen is app.main_screen, what="closed")
        await pilot.press("S")
        await until(pilot, lambda: isinstance(app.screen, ReplicasScreen), what="the replica count at once")
        assert app._typeahead.dropped == 5
        await close_modal(pilot, drill)
    assert writes(sim, real_only=True) == []
