"""Snapshots of the actions pane and the confirm modal in frozen drills (real
sources, real HTTP, the app's clock pinned to the drill's, times in UTC).
Each waits for the pane's read of the cluster (replicas, flags, lease,
permissions) and for the plan's worker before the picture is taken. See
tests/test_snapshots_drill.py for the set-up. Each docstring says what a
reviewer should see.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from test_actions_support import drill_config
from test_app_actions_support import NEW_KEY
from test_snapshots_drill import WARM_UP, drill_app, own_state_dir, settled, until  # noqa: F401 (a fixture)
from textual.app import App

from clay_cockpit.actions.flow import ActionKind, ActionRunner, Plan, SecretValue
from clay_cockpit.app import CockpitApp
from clay_cockpit.screens.confirm import ConfirmScreen

SIZES = pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])


def actions_idle(app: CockpitApp) -> bool:
    desk = app._actions
    return desk is not None and desk.status.checked and not desk._status_busy and not desk.busy


def with_actions(app: CockpitApp, keys: str = "", *, modal: bool = False):
    """The drill settled (tests/test_snapshots_drill.settled), the actions pane's
    read of the cluster done; then ``keys``, and (``modal``) the plan on screen."""
    base = settled(app)

    async def run_before(pilot) -> None:
        await base(pilot)
        await until(pilot, lambda: actions_idle(app))
        for key in keys:
            await pilot.press(key)
        if modal:
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen) and not app._actions.busy)
        await until(pilot, lambda: actions_idle(app))
        await pilot.pause(0.3)
        app.clear_notifications()
        await pilot.pause(0.1)

    return run_before


@SIZES
@pytest.mark.scenario("key-revoked")
def test_actions_pane_key_revoked(snap_compare, sim, size) -> None:
    """Key-revoked, two minutes in, no incident. 80x24: `x` — the decision view
    with the actions pane in the checklist's place (triage above, timeline
    below); 160x48: the pane between the checklist and the timeline, beside
    the signal panes. The pane "x Actions": ▸ marks (accent) on "v Verify the
    key in the Secret", "k Update the Clay API key  Secret clay-api" and "R
    Restart the pods" (triage's Do now for 401s); "Q Request queuing  off · Q
    turns it on", "f Fallback (degrade)  off · f turns it on" and "S Scale  3
    replicas, 3 ready" unmarked; subtitle "Enter or the key opens · nothing
    runs unconfirmed"."""
    sim.advance(WARM_UP)
    app = drill_app(sim)
    assert snap_compare(app, terminal_size=size, run_before=with_actions(app, "x" if size == (80, 24) else ""))


class ModalOnly(App[None]):
    """The confirm modal alone over an empty screen, with a real plan from the
    drill: the cockpit behind it (log lines arriving, triage re-wrapping) is
    not part of what these pictures check."""

    def __init__(self, plan: Plan, now: float, offered: str = "") -> None:
        super().__init__()
        self._plan, self._now, self._offered = plan, now, offered

    def on_mount(self) -> None:
        self.push_screen(ConfirmScreen(self._plan, self._now, offered=self._offered))


def drill_plan(sim, kind: ActionKind, **inputs) -> tuple[Plan, float]:
    now = float(sim.state()["now"])
    runner = ActionRunner(drill_config(sim), wall=lambda: now, actor="ana@bastion-1", cockpit_id="c0ffee")
    try:
        plan = runner.prepare(kind, **inputs)
    finally:
        runner.close()
    assert plan.ready, plan.lines()
    return plan, now


@SIZES
@pytest.mark.scenario("key-revoked")
def test_confirm_restart(snap_compare, sim, size) -> None:
    """The restart's plan in the confirm modal (warning-coloured frame),
    "Confirm: Restart the pods (rollout restart): deployment clay-sync",
    offered after a key update (accent line) — context clay-drill ·
    namespace clay-sync; Changes: Deployment clay-sync/clay-sync, the
    restartedAt annotation, "(unset) → the time of apply …"; "Dry run ✓
    accepted by the API server (dryRun=All) …" and "Permission ✓ all allowed
    (6 checks)" in the success colour; "Lease free: this cockpit takes it
    while the action runs"; the note that it replaces the 3 pods (named) by
    a rolling update; no name to type: buttons Cancel (focused) and
    "Restart (y)" on the left; the subtitle "y confirms · Esc or Enter
    cancels". At 80x24 the plan scrolls if it must (↑/↓), the buttons stay
    on screen."""
    sim.advance(WARM_UP)
    plan, now = drill_plan(sim, ActionKind.RESTART)
    app = ModalOnly(plan, now, "Offered after the key update: the pods read the key when they start")
    assert snap_compare(app, terminal_size=size)


@pytest.mark.scenario("key-revoked")
def test_confirm_key_update(snap_compare, sim) -> None:
    """80x24, the Secret update's plan: "Secret clay-sync/clay-api",
    "data.api-key", "sha256:… → sha256:…" with "(fingerprints: the key is
    never shown)" — no key anywhere; "Clay says: 200 OK: Clay accepts this
    key" in the success colour; the dry run holding the new fingerprint;
    "Permission ✓ all allowed (5 checks)"; the notes (checked with Clay; a
    restart is offered after the write); "Type the deployment name clay-sync
    and Enter to confirm (it writes a Secret):" over the empty name field,
    which has the focus (its cursor shown); Cancel and "Write the key
    (Enter)" (disabled) on the left; the subtitle "type clay-sync, Enter
    confirms · Esc cancels"."""
    sim.advance(WARM_UP)
    plan, now = drill_plan(sim, ActionKind.UPDATE_KEY, new_key=SecretValue(NEW_KEY))
    app = ModalOnly(plan, now)
    assert snap_compare(app, terminal_size=(80, 24))


@pytest.mark.scenario("rate-limited")
def test_actions_pane_read_only_rate_limited(snap_compare, sim) -> None:
    """Rate-limited, read-only (`--read-only`), 80x24, `x`: the top bar starts
    with a reversed " READ-ONLY " in the warning colour; the pane "x Actions ·
    READ-ONLY" (title in the warning colour): the k, R, Q, f and S rows with
    "(read-only)" in the warning colour, v (verify: reads only) available;
    ▸ on "Q Request queuing  off" (triage's 429 branch), and under it the
    rate-limit headers last seen in the logs: "Clay rate limit 0/600 left,
    resets in … s, Retry-After … s — N×429 in the last … log lines (pod …)"."""
    sim.advance(WARM_UP)
    app = drill_app(sim)
    app.config = replace(app.config, kube=replace(app.config.kube, read_only=True))
    assert snap_compare(app, terminal_size=(80, 24), run_before=with_actions(app, "x"))


@pytest.mark.scenario("rate-limited")
def test_actions_pane_queuing_in_effect(snap_compare, sim) -> None:
    """Rate-limited, request queuing already on in the ConfigMap (turned on
    outside this cockpit, so no "since"), 80x24, `x`: the Q row is marked
    with a ✓ in the success colour — "✓ Q Request queuing  on · Q turns it
    off" — never the ▸ of a recommendation; the rate-limit headers under it."""
    from test_actions_support import Someone

    someone = Someone(sim)
    try:
        someone.core.patch_namespaced_config_map(
            "clay-sync-flags", "clay-sync", {"data": {"CLAY_REQUEST_QUEUING": "true"}}, _request_timeout=5
        )
    finally:
        someone.close()
    sim.advance(WARM_UP)
    app = drill_app(sim)
    assert snap_compare(app, terminal_size=(80, 24), run_before=with_actions(app, "x"))


@pytest.mark.scenario("infra-crashloop")
def test_confirm_rollback(snap_compare, sim) -> None:
    """80x24, the rollback's plan in the confirm modal (warning-coloured
    frame), "Confirm: Roll back (rollout undo): deployment clay-sync" — first,
    in bold, where it goes: "Back to revision 1
    (registry.internal/clay-sync:1.14.1), from revision 2"; then context clay-drill · namespace clay-sync; Changes: Deployment
    clay-sync/clay-sync "revision" "2 → 3 (the template of revision 1)", and
    "spec.template.spec.containers[clay-sync].image"
    "registry.internal/clay-sync:1.14.2 → registry.internal/clay-sync:1.14.1"
    in the warning colour; "Dry run ✓ accepted by the API server
    (dryRun=All): the template of revision 1 (…:1.14.1), the pods would roll"
    and "Permission ✓ all allowed (7 checks)" in the success colour; the lease
    free; the notes: back to ReplicaSet clay-sync-… (…:1.14.1), it replaces
    the 3 pods by a rolling update; no name to type: Cancel (focused) and
    "Roll back (y)"; the subtitle "y confirms · Esc or Enter cancels". The
    plan scrolls (↑/↓) if it must; the buttons stay on screen."""
    sim.advance(WARM_UP)
    plan, now = drill_plan(sim, ActionKind.ROLLBACK)
    app = ModalOnly(plan, now)
    assert snap_compare(app, terminal_size=(80, 24))
