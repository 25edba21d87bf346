"""Rolling back to a revision chosen in the infrastructure view's History,
from the keyboard alone, in the cockpit against the bad-deploy drill (real
HTTPS, the official Kubernetes client): CI rolled out 1.14.3 (revision 3)
over 1.14.2 (revision 2) and 1.14.1 (revision 1). ``o`` opens the view,
``h`` goes to the History, down twice selects revision 1 — not the previous
one, kubectl's default — and ``U`` plans the rollback to it: the confirm
modal says "Back to revision 1 (…:1.14.1), from revision 3" and the image
change 1.14.3 → 1.14.1; ``y`` confirms; the deployment then runs 1.14.1 and
the view's History shows the new current revision (4, 1.14.1)."""

from __future__ import annotations

import pytest
from kubernetes import client, config
from test_app_actions_drill import SIZE, finished
from test_app_actions_support import (
    Drill,
    own_state_dir,  # noqa: F401 (a fixture)
    ready,
    until,
)
from textual.widgets import OptionList, Static

from clay_cockpit.actions.flow import ActionKind
from clay_cockpit.screens.confirm import ConfirmScreen
from clay_cockpit.screens.infra_view import InfraScreen
from clay_cockpit.signals import InfraSnapshot

pytestmark = pytest.mark.asyncio
OLDEST = "registry.internal/clay-sync:1.14.1"


def revisions(app) -> list[tuple[int, bool]]:
    snap = app.signals.infra.value
    return [(r.number, r.current) for r in snap.revisions] if isinstance(snap, InfraSnapshot) else []


def highlighted(app) -> str:
    option = app.screen.query_one("#infra-list", OptionList).highlighted_option
    return (option.id or "") if option is not None else ""


async def choose_revision_1(pilot, drill: Drill) -> None:
    """o, h, down, down: revision 1 highlighted in the History; U: its plan in the confirm modal."""
    app = drill.app
    await ready(pilot, drill)
    await until(pilot, lambda: revisions(app) == [(3, True), (2, False), (1, False)], timeout=60, what="the rollout history")
    await pilot.press("o")
    await until(pilot, lambda: isinstance(app.screen, InfraScreen), what="the view")
    await until(pilot, lambda: app.screen.query_one("#infra-list", OptionList).option_count > 5, what="its rows")
    await pilot.press("h")
    await until(pilot, lambda: highlighted(app).startswith("history:3:"), what="the current revision")
    await pilot.press("down", "down")
    await until(pilot, lambda: highlighted(app).startswith("history:1:"), what="revision 1")
    detail = " ".join(str(app.screen.query_one("#infra-detail", Static).render()).split())
    assert OLDEST in detail and "rolls back to it: clay-sync:1.14.3 → clay-sync:1.14.1" in detail, detail
    await pilot.press("U")
    await until(
        pilot,
        lambda: isinstance(app.screen, ConfirmScreen) and app.screen.plan.kind is ActionKind.ROLLBACK and app.focused is not None,
        timeout=60,
        what="the rollback's plan",
    )


@pytest.mark.scenario("bad-deploy")
async def test_bad_deploy_rolled_back_to_revision_1_chosen_in_the_history(sim, tmp_path) -> None:
    sim.advance(70)  # CI rolled out 1.14.3 at 20 s; every pod replaced
    drill = Drill(sim, tmp_path)
    app = drill.app
    async with app.run_test(size=SIZE) as pilot:
        await choose_revision_1(pilot, drill)
        plan = app.screen.plan
        assert plan.ready, plan.lines()
        assert plan.inputs.revision == 1 and plan.base("to_revision") == 1 and plan.base("from_revision") == 3
        head = " ".join(str(app.screen.query_one("#target", Static).render()).split())
        assert head == f"Back to revision 1 ({OLDEST}), from revision 3", head
        assert any("3 → 4 (the template of revision 1)" in line for line in plan.lines()), plan.lines()
        assert any("clay-sync:1.14.3 → registry.internal/clay-sync:1.14.1" in line for line in plan.lines()), plan.lines()
        assert app.focused.id == "cancel"  # Enter alone cancels; y confirms
        await pilot.press("y")
        out = await finished(pilot, drill, ActionKind.ROLLBACK, timeout=120)
        assert out.ok and out.applied, out.summary
        assert out.verification is not None and OLDEST in out.verification.summary
        api = config.new_client_from_config(config_file=str(sim.kubeconfig), context=sim.context)
        try:
            deploy = client.AppsV1Api(api).read_namespaced_deployment("clay-sync", "clay-sync", _request_timeout=5)
        finally:
            api.close()
        assert deploy.spec.template.spec.containers[0].image == OLDEST
        assert deploy.metadata.annotations["deployment.kubernetes.io/revision"] == "4"
        # the view (still open under the toasts) shows the new current revision
        await until(pilot, lambda: revisions(app)[:1] == [(4, True)], timeout=60, what="revision 4 read")
        assert isinstance(app.screen, InfraScreen)
        view = app.screen.query_one("#infra-list", OptionList)
        await until(
            pilot,
            lambda: any((view.get_option_at_index(i).id or "").startswith("history:4:") for i in range(view.option_count)),
            what="rev 4 drawn",
        )
        row = next(
            str(view.get_option_at_index(i).prompt)
            for i in range(view.option_count)
            if (view.get_option_at_index(i).id or "").startswith("history:4:")
        )
        assert "current" in row and "clay-sync:1.14.1" in row, row


@pytest.mark.scenario("bad-deploy")
async def test_read_only_the_chosen_revision_is_planned_but_cannot_run(sim, tmp_path) -> None:
    """--read-only: the same keys show the plan for revision 1, marked "Cannot run
    (read-only)", with no confirm button; nothing changes in the cluster."""
    sim.advance(70)
    drill = Drill(sim, tmp_path, read_only=True)
    app = drill.app
    async with app.run_test(size=SIZE) as pilot:
        await choose_revision_1(pilot, drill)
        plan = app.screen.plan
        assert not plan.ready and plan.read_only and plan.inputs.revision == 1, plan.lines()
        assert str(app.screen.query_one("Vertical").border_title).startswith("Cannot run (read-only): ")
        assert not app.screen.query("#confirm")
        await pilot.press("y")  # nothing to confirm
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, InfraScreen), what="back to the view")
        assert drill.actions.last is None
        assert revisions(app)[0] == (3, True)
