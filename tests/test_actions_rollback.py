"""The rollback (``kubectl rollout undo``) as a cockpit action, against the
drill over real HTTPS with the official Kubernetes client: the plan names
the target revision and what changes (image 1.14.2 → 1.14.1, revision 2 →
3), the server dry run changes nothing, read-only and a 403 are named
states, a paused deployment and "no previous revision" are refused as
kubectl refuses them, and apply → follow → verify ends with the pods on
the old image, the crashloop over (the symptom judged on the pods, not the
rollout) and kubectl's own ``rollout history`` showing the new revision.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest
from test_actions_support import Someone, drill_config, incident, kube_writes, make_runner, timeline_events
from test_actions_support import watch as watch_drill

from clay_cockpit.actions import rollback
from clay_cockpit.actions.flow import ActionKind, ActionRunner, Confirmation, FailureKind, VerifyState
from clay_cockpit.actions.follow import ENDED, SymptomDesk, follow_from, watch_for
from clay_cockpit.actions.symptom import Symptom
from clay_cockpit.incident.timeline import EventKind
from clay_cockpit.signals import Reading, Signals

OLD = "registry.internal/clay-sync:1.14.1"
BAD = "registry.internal/clay-sync:1.14.2"
DEPLOY = "Deployment clay-sync/clay-sync"
ESCALATE = "escalate to"
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"


def kubectl(sim, *args: str) -> str:
    if not Path(KUBECTL).exists():
        pytest.skip("kubectl is not installed (/usr/bin/kubectl missing)")
    proc = subprocess.run(
        [KUBECTL, "--kubeconfig", str(sim.kubeconfig), "--context", sim.context, "-n", "clay-sync", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def images_running(someone: Someone) -> set[str]:
    pods = someone.core.list_namespaced_pod("clay-sync", label_selector="app=clay-sync", _request_timeout=5).items
    return {c.image for p in pods if p.metadata.deletion_timestamp is None for c in p.spec.containers}


def template_image(someone: Someone) -> str:
    d = someone.apps.read_namespaced_deployment("clay-sync", "clay-sync", _request_timeout=5)
    return d.spec.template.spec.containers[0].image


def confirmed(runner: ActionRunner, plan) -> Confirmation:
    got = runner.confirm(plan)
    assert isinstance(got, Confirmation), got
    return got


@pytest.mark.scenario("infra-crashloop")
def test_plan_names_the_previous_revision_and_what_changes(sim) -> None:
    sim.advance(30)
    runner = make_runner(sim)
    plan = runner.prepare(ActionKind.ROLLBACK)
    assert plan.ready, "\n".join(plan.lines())
    assert plan.title == "Roll back (rollout undo): deployment clay-sync"
    lines = [c.line() for c in plan.changes]
    assert lines[0] == f"{DEPLOY}: revision: 2 → 3 (the template of revision 1)", lines
    assert f"{DEPLOY}: spec.template.spec.containers[clay-sync].image: {BAD} → {OLD}" in lines, lines
    # the ReplicaSets carry CI's change-cause, and a rollback copies the target's annotations (as kubectl's does)
    cause = f"{DEPLOY}: metadata.annotations[kubernetes.io/change-cause]: ci: deploy clay-sync 1.14.2 (pipeline #4539) → ci: deploy clay-sync 1.14.1 (pipeline #4471)"
    assert cause in lines, lines
    assert len(lines) == 3, lines  # nothing else differs between the two templates (no env)
    assert plan.replaces_pods and not plan.typed_confirmation  # one deliberate key, as a restart
    assert any(n.startswith("back to ReplicaSet clay-sync-") and OLD in n for n in plan.notes), plan.notes
    assert any(n.startswith("replaces 3 pods") for n in plan.notes), plan.notes
    assert plan.dry_run is not None and plan.dry_run.ok and "revision 1" in plan.dry_run.summary and OLD in plan.dry_run.summary
    assert {p.what for p in plan.permissions} >= {"patch deployments.apps/clay-sync", "list replicasets.apps"}
    assert plan.base("patch")[0]["op"] == "replace" and plan.base("patch")[0]["path"] == "/spec/template"
    assert "pod-template-hash" not in plan.base("patch")[0]["value"]["metadata"]["labels"]  # kubectl strips it
    # the dry run (a PATCH with dryRun=All, as JSON patch) changed nothing
    writes = kube_writes(sim)
    assert writes and all("dryRun=All" in w["query"] for w in writes if "deployments" in w["path"])
    assert kube_writes(sim, real_only=True) == []
    someone = Someone(sim)
    try:
        assert template_image(someone) == BAD and images_running(someone) == {BAD}
    finally:
        someone.close()


@pytest.mark.scenario("infra-crashloop")
def test_a_chosen_revision_and_what_kubectl_refuses(sim) -> None:
    sim.advance(5)
    runner = make_runner(sim)
    same = runner.prepare(ActionKind.ROLLBACK, revision=2)  # the current template
    assert same.blocked is not None and same.blocked.kind is FailureKind.INVALID_INPUT
    assert same.blocked.message == "skipped rollback (current template already matches revision 2)"
    missing = runner.prepare(ActionKind.ROLLBACK, revision=9)
    assert missing.blocked is not None and missing.blocked.kind is FailureKind.NOT_FOUND
    assert (
        missing.blocked.message.startswith("unable to find specified revision 9 in history")
        and "revisions: 2, 1" in missing.blocked.message
    )
    chosen = runner.prepare(ActionKind.ROLLBACK, revision=1)
    assert chosen.ready and chosen.base("to_revision") == 1 and chosen.inputs.revision == 1

    someone = Someone(sim)
    try:
        someone.pause()
        paused = runner.prepare(ActionKind.ROLLBACK)
        assert paused.blocked is not None and paused.blocked.kind is FailureKind.PAUSED
        assert "you cannot rollback a paused deployment" in paused.blocked.message
        assert "rollout resume deployment/clay-sync" in paused.blocked.hint
        someone.pause(False)
        plan = runner.prepare(ActionKind.ROLLBACK)
        conf = confirmed(runner, plan)
        someone.pause()  # paused between the confirmation and the apply: refused at the moment of the patch
        out = runner.apply(conf)
        assert not out.applied and out.failure is not None and out.failure.kind is FailureKind.PAUSED
        assert template_image(someone) == BAD
    finally:
        someone.close()


@pytest.mark.scenario("infra-crashloop")
def test_no_previous_revision_is_a_named_state(sim) -> None:
    """A deployment that keeps no older ReplicaSet (revisionHistoryLimit 0): nothing to undo — said, not offered."""
    someone = Someone(sim)
    try:
        someone.apps.patch_namespaced_deployment("clay-sync", "clay-sync", {"spec": {"revisionHistoryLimit": 0}}, _request_timeout=5)
        sim.advance(2)  # the deployment controller cleans up the idle ReplicaSet of revision 1
        left = someone.apps.list_namespaced_replica_set("clay-sync", _request_timeout=5).items
        assert [rs.metadata.annotations["deployment.kubernetes.io/revision"] for rs in left] == ["2"]
    finally:
        someone.close()
    runner = make_runner(sim)
    plan = runner.prepare(ActionKind.ROLLBACK)
    assert plan.blocked is not None and plan.blocked.kind is FailureKind.NOT_FOUND and not plan.ready
    assert plan.blocked.message == (
        "no rollout history found for deployment clay-sync: no previous revision to roll back to (only revision 2)"
    )
    assert plan.blocked.hint.startswith("nothing to undo")
    deploy = runner.admin.deployment("clay-sync")
    assert rollback.offer(deploy, runner.admin.replicasets(deploy)) == ("", "no previous revision")


@pytest.mark.scenario("infra-crashloop")
def test_read_only_refuses_and_a_403_on_patch_is_a_named_state(sim, tmp_path) -> None:
    cfg = drill_config(sim)
    ro = ActionRunner(cfg, read_only=True, actor="ana@bastion-1")
    plan = ro.prepare(ActionKind.ROLLBACK)
    assert plan.blocked is not None and plan.blocked.kind is FailureKind.READ_ONLY
    assert plan.dry_run is not None and plan.dry_run.skipped == "read-only"
    assert any("1.14.2 → " in c.line() for c in plan.changes)  # still shown: what it would change
    assert ro.confirm(plan).kind is FailureKind.READ_ONLY  # type: ignore[union-attr]
    assert kube_writes(sim) == []

    store = incident(tmp_path)
    runner = make_runner(sim, cfg, store=store)
    sim.kube("deny", verb="patch", resource="deployments")
    denied = runner.prepare(ActionKind.ROLLBACK)
    assert denied.blocked is not None and denied.blocked.kind is FailureKind.FORBIDDEN
    assert denied.blocked.message.startswith("Rollback fails: permission denied") and ESCALATE in denied.blocked.message
    assert "patch deployments.apps/clay-sync" in [p.what for p in denied.denied]
    assert denied.dry_run is not None and denied.dry_run.failure is not None and denied.dry_run.failure.status_code == 403
    stopped = [e for e in timeline_events(store) if e.kind == EventKind.ACTION_FAILED]
    assert len(stopped) == 1 and stopped[0].data["stage"] == "plan" and stopped[0].data["action"] == "rollback"

    sim.kube("allow_all")
    plan = runner.prepare(ActionKind.ROLLBACK)
    conf = confirmed(runner, plan)
    sim.kube("deny", verb="patch", resource="deployments")  # RBAC changed between the check and the apply
    out = runner.apply(conf)
    assert not out.applied and out.failure is not None and out.failure.kind is FailureKind.FORBIDDEN
    assert out.failure.message.startswith("Rollback fails: permission denied") and ESCALATE in out.failure.message


def _signals(watch, now: float) -> Signals:
    health = asyncio.run(watch.sources.health.fetch())
    return Signals(
        health=Reading().with_result(health, now),
        pods=Reading().with_result(watch.sources.kube.list_pods(), now),
        recent_logs=watch.recent(0.2),
        at=now,
    )


@pytest.mark.scenario("infra-crashloop")
def test_rollback_ends_the_crashloop_and_kubectl_sees_the_new_revision(sim, tmp_path) -> None:
    """The drill's crashloop (1.14.2 leaks) fixed by rolling back to 1.14.1:
    lease, apply, the rollout followed to new pods on 1.14.1, then the
    symptom (pods not ready / restarting) judged from the pods: ended."""
    cfg = drill_config(sim)
    store = incident(tmp_path)
    runner = make_runner(sim, cfg, store=store)
    watch, someone = watch_drill(sim, cfg), Someone(sim)
    try:
        sim.advance(60)  # the leak: pods OOMKilled, CrashLoopBackOff
        now = float(sim.state()["now"])
        before = _signals(watch, now)
        plan = runner.prepare(ActionKind.ROLLBACK)
        assert plan.ready, plan.lines()
        w = watch_for(plan, None, None, before)
        assert w is not None and w.symptom is Symptom.PODS_UNREADY and w.title == "Roll back to revision 1"
        assert "restarted (OOMKilled)" in w.before.text, w.before.text
        progress: list = []
        out = runner.apply(runner.confirm(plan, watching=w.label), on_progress=progress.append)  # type: ignore[arg-type]
        assert out.ok and out.applied, out.summary
        assert out.verification is not None and out.verification.state is VerifyState.OK
        assert OLD in out.verification.summary and "revision 3" in out.verification.summary, out.verification.summary
        assert out.summary.startswith("Roll back (rollout undo): deployment clay-sync: rollout done — "), out.summary  # not "done"
        assert {p.stage for p in progress} >= {"lease", "apply", "verify"}
        assert images_running(someone) == {OLD} and template_image(someone) == OLD

        history = kubectl(sim, "rollout", "history", "deployment/clay-sync")
        rows = [ln.split()[0] for ln in history.splitlines() if ln[:1].isdigit()]
        assert rows == ["2", "3"], history  # revision 1 became 3 (kubectl lists it no longer as 1)
        detail = kubectl(sim, "rollout", "history", "deployment/clay-sync", "--revision=3")
        assert OLD in detail, detail

        desk = SymptomDesk(store, lambda: float(sim.state()["now"]))
        desk.begin(follow_from(out, w, float(sim.state()["now"]), cfg.actions, 3))
        done = None
        for _ in range(60):
            sim.advance(2)
            done = desk.look(_signals(watch, float(sim.state()["now"])))
            if done is not None:
                break
        assert done is not None and done.verdict.state == ENDED, desk.verdict
        assert done.verdict.summary.startswith("Mitigated: pods ready and not restarting since "), done.verdict.summary
        assert "3/3 new pods ready" in done.verdict.summary
        assert [e.action for e in desk.in_effect()] == ["rollback"]
    finally:
        watch.close()
        someone.close()
    events = timeline_events(store)
    applied = [e for e in events if e.kind == EventKind.ACTION_APPLIED]
    assert len(applied) == 1 and "revision 1" in applied[0].data["done"][0] and OLD in applied[0].data["done"][0]
    planned = next(e for e in events if e.kind == EventKind.ACTION_PLANNED)
    assert planned.data["action"] == "rollback" and any(c["after"] == OLD for c in planned.data["changes"])
    verified = [e for e in events if e.kind == EventKind.ACTION_VERIFIED]
    assert len(verified) == 1 and verified[0].data["verification"]["revision"] == 3
    assert verified[0].data["verification"]["images"] == [f"clay-sync={OLD}"]
    assert [e.data["action"] for e in events if e.kind == EventKind.SYMPTOM_ENDED] == ["rollback"]


def _rs(n: int, image: str, env: dict[str, str], annotations: dict[str, str] | None = None) -> dict:
    tpl = {
        "metadata": {"labels": {"app": "clay-sync", "pod-template-hash": f"h{n}"}},
        "spec": {"containers": [{"name": "app", "image": image, "env": [{"name": k, "value": v} for k, v in env.items()]}]},
    }
    ann = {"deployment.kubernetes.io/revision": str(n), **(annotations or {})}
    return {"metadata": {"name": f"clay-sync-h{n}", "annotations": ann}, "spec": {"template": tpl}}


def test_kubectl_undo_patch_and_the_differences_shown() -> None:
    """Pure: the target (second-highest revision), the patch kubectl sends (hash label
    dropped; the deployment's bookkeeping annotations kept, the ReplicaSet's others taken),
    the image and env differences as FieldChanges."""
    rses = [
        _rs(5, "r/app:1.14.3", {"TIMEOUT_MS": "500", "NEW": "x"}),
        _rs(4, "r/app:1.14.2", {"TIMEOUT_MS": "2000"}, {"kubernetes.io/change-cause": "v1.14.2"}),
    ]
    rses.append(_rs(2, "r/app:1.14.0", {}))
    current = rollback.without_hash(rses[0]["spec"]["template"])
    deploy = {
        "metadata": {"name": "clay-sync", "annotations": {"deployment.kubernetes.io/revision": "5", "owner": "team-a"}},
        "spec": {"template": current},
    }
    entries = rollback.history(rses)
    assert [e.number for e in entries] == [5, 4, 2]
    target = rollback.target(deploy, entries, None)
    assert target.number == 4
    ops = rollback.undo_patch(deploy, target)
    assert [(o["op"], o["path"]) for o in ops] == [("replace", "/spec/template"), ("replace", "/metadata/annotations")]
    assert ops[0]["value"]["metadata"]["labels"] == {"app": "clay-sync"}
    assert ops[1]["value"] == {
        "deployment.kubernetes.io/revision": "5",
        "kubernetes.io/change-cause": "v1.14.2",
    }  # "owner" goes, as with kubectl
    changes, other = rollback.differences("Deployment ns/clay-sync", current, target.template)
    assert [c.line() for c in changes] == [
        "Deployment ns/clay-sync: spec.template.spec.containers[app].image: r/app:1.14.3 → r/app:1.14.2",
        "Deployment ns/clay-sync: spec.template.spec.containers[app].env[NEW]: x → (unset)",
        "Deployment ns/clay-sync: spec.template.spec.containers[app].env[TIMEOUT_MS]: 500 → 2000",
    ]
    assert other == []
    assert rollback.same_template(rses[0]["spec"]["template"], current)  # the hash label alone does not count
    assert rollback.offer(deploy, rses) == ("to revision 4 · app:1.14.2", "")


@pytest.mark.scenario("infra-crashloop")
def test_an_unreadable_history_is_said_on_the_row_and_the_rest_still_reads(sim) -> None:
    from clay_cockpit.actions.status import ActionsStatus, read_status

    cfg = drill_config(sim)
    runner = make_runner(sim, cfg)
    sim.kube("deny", verb="list", resource="replicasets")
    got = read_status(runner, cfg, "clay-sync", ActionsStatus(), permissions=True)
    assert got.failure is None and got.replicas == 3 and got.rollback == ""
    assert got.no_rollback == "the rollout history is not readable: permission denied (list replicasets)"
    assert dict(got.denied)[ActionKind.ROLLBACK] == "list replicasets.apps"
    plan = runner.prepare(ActionKind.ROLLBACK)
    assert (
        plan.blocked is not None
        and plan.blocked.kind is FailureKind.FORBIDDEN
        and "Rollback fails: permission denied" in plan.blocked.message
    )
