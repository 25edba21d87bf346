"""The rollback from the keyboard alone, in the cockpit against the frozen
infra-crashloop drill (real HTTPS, the official Kubernetes client): triage
lands on the infrastructure branch and marks ``U Roll back`` (▸) with where
it goes; ``U`` opens the plan (revision 2 → 3, the image 1.14.2 → 1.14.1),
``y`` confirms; the rollout is followed, then the symptom — the pods not
ready / restarting — is judged from the pods: ended. The rollback is then in
effect (✓, never offered again as the next key) and the pods run 1.14.1.
"""

from __future__ import annotations

import pytest
from test_app_actions_drill import SIZE, confirm_with_y, events_of, finished, follow_to_verdict
from test_app_actions_support import (
    Drill,
    own_state_dir,  # noqa: F401 (a fixture)
    pane_text,
    ready,
    until,
)

from clay_cockpit.actions.flow import ActionKind
from clay_cockpit.actions.symptom import ENDED
from clay_cockpit.incident.timeline import EventKind
from clay_cockpit.runbook import Branch

pytestmark = pytest.mark.asyncio
OLD = "registry.internal/clay-sync:1.14.1"


@pytest.mark.scenario("infra-crashloop")
async def test_infra_crashloop_rolled_back_with_the_keyboard_and_verified(sim, tmp_path) -> None:
    sim.advance(60)
    drill = Drill(sim, tmp_path)
    app = drill.app
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, drill, Branch.INFRASTRUCTURE)
        assert drill.actions.status.rollback == "to revision 1 · clay-sync:1.14.1", drill.actions.status
        await pilot.press("x")
        await until(pilot, lambda: "▸ U Roll back" in pane_text(app), what="the rollback offered")
        assert "to revision 1 · clay-sync:1.14.1" in pane_text(app)
        await pilot.press("i")
        await until(pilot, lambda: app.desk.recorder.open is not None and not app.desk.busy, what="the incident")
        await pilot.press("U")
        await confirm_with_y(pilot, drill, ActionKind.ROLLBACK)
        out = await finished(pilot, drill, ActionKind.ROLLBACK, timeout=120)
        assert out.ok and out.applied and ": done" not in out.summary, out.summary
        assert out.verification is not None and OLD in out.verification.summary
        done, _ = await follow_to_verdict(pilot, drill)
        v = done.verdict
        assert v.state == ENDED, v
        assert v.summary.startswith("Mitigated: pods ready and not restarting since "), v.summary
        assert done.follow.title == "Roll back to revision 1" and done.follow.action == "rollback"
        await until(pilot, lambda: any(e.action == "rollback" for e in app.signals.in_effect), what="the rollback in effect")
        text = " ".join(pane_text(app).split())
        assert "✓ U Roll back worked: pods not ready / restarting ended" in text, text
        assert "▸ U" not in text, text  # in effect: never the next key again
        await until(pilot, lambda: drill.actions.status.rollback.startswith("to revision 2"), what="the status read again")
    events = events_of(drill)
    ended = [e for e in events if e.kind == EventKind.SYMPTOM_ENDED]
    assert len(ended) == 1 and ended[0].data["action"] == "rollback" and ended[0].data["symptom"] == "pods_unready"
    applied = [e for e in events if e.kind == EventKind.ACTION_APPLIED]
    assert len(applied) == 1 and "revision 1" in applied[0].data["done"][0] and OLD in applied[0].data["done"][0]
    verified = next(e for e in events if e.kind == EventKind.ACTION_VERIFIED)
    assert verified.data["verification"]["revision"] == 3 and verified.data["verification"]["images"] == [f"clay-sync={OLD}"]
