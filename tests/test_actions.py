"""The remediation actions against the drill, through the actions API alone
(plan → dry run → permissions → confirm → apply → verify → record), with the
official Kubernetes client over real HTTPS and the cockpit's real sources to
see the effect: the key-revoked drill resolved, the rate-limited drill
mitigated by queuing, the Clay outage by the fallback; the flag modes;
scaling.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace

import pytest
from test_actions_support import (
    FROZEN_AT,
    Someone,
    Watch,
    drill_config,
    incident,
    kube_writes,
    make_runner,
    no_secret_in,
    timeline_events,
    timeline_text,
)
from test_actions_support import (
    watch as watch_drill,
)

from clay_cockpit.actions.flow import (
    ActionKind,
    Confirmation,
    Failure,
    FailureKind,
    Outcome,
    ProbeVerdict,
    SecretValue,
    Stage,
    VerifyState,
    rate_limits_seen,
    relevant_actions,
)
from clay_cockpit.incident.timeline import EventKind, fingerprint
from clay_cockpit.runbook import ActionId, Branch
from clay_cockpit.signals import Reading, Signals
from clay_cockpit.triage.tree import assess, refresh_intervals

NEW_KEY = "clay_live_" + "5e17" * 8


def confirm(runner, plan, typed: str | None = None) -> Confirmation:
    got = runner.confirm(plan, plan.typed_confirmation if typed is None else typed)
    assert isinstance(got, Confirmation), got
    return got


def run(runner, kind: ActionKind, progress: list | None = None, **inputs) -> Outcome:
    plan = runner.prepare(kind, **inputs)
    assert plan.ready, "\n".join(plan.lines())
    return runner.apply(confirm(runner, plan), on_progress=(progress.append if progress is not None else None))


def assess_now(watch: Watch, cfg, t: float):
    import asyncio

    async def both():
        return await asyncio.gather(watch.sources.statuspage.fetch(), watch.sources.health.fetch())

    now = FROZEN_AT + t
    sp, health = asyncio.run(both())
    sig = Signals(
        statuspage=Reading().with_result(sp, now),
        health=Reading().with_result(health, now),
        metrics=Reading().with_result(watch.sources.metrics.fetch(), now),
        pods=Reading().with_result(watch.sources.kube.list_pods(), now),
        recent_logs=watch.recent(),
        at=now,
    )
    return assess(sig, cfg.thresholds, now, refresh=refresh_intervals(cfg))


@pytest.fixture
def env(sim, monkeypatch):
    for k, v in sim.env().items():
        monkeypatch.setenv(k, v)


@pytest.mark.scenario("key-revoked")
def test_key_revoked_drill_resolved_through_the_actions_api(sim, env, tmp_path, caplog) -> None:
    """verify key (401) → update the Secret (fingerprint recorded) → restart →
    pods replaced → the 401s stop and triage is back to healthy; the key is
    nowhere: timeline, logs (every logger at DEBUG), progress, reprs, the drill's request log."""
    caplog.set_level(logging.DEBUG)
    cfg = drill_config(sim)
    store = incident(tmp_path)
    runner = make_runner(sim, cfg, store=store)
    watch, someone = watch_drill(sim, cfg), Someone(sim)
    progress: list = []
    try:
        sim.advance(45)  # the fault starts at 20 s: Clay revokes the key in the Secret
        assert watch.rate("401") > 5
        assert assess_now(watch, cfg, 45).branch == Branch.CREDENTIALS

        check = runner.prepare(ActionKind.VERIFY_KEY)
        assert check.ready and not check.mutating and check.stage is Stage.CHECKED
        verified = runner.run_check(check, on_progress=progress.append)
        assert verified.probe is not None and verified.probe.status_code == 401 and verified.probe.verdict is ProbeVerdict.INVALID
        assert not verified.ok and verified.offer is ActionKind.UPDATE_KEY
        old_fp = verified.probe.fingerprint

        key = SecretValue(NEW_KEY)
        plan = runner.prepare(ActionKind.UPDATE_KEY, new_key=key)
        assert plan.ready, plan.lines()
        (change,) = plan.changes
        assert (change.object, change.field, change.before, change.after, change.secret) == (
            "Secret clay-sync/clay-api",
            "data.api-key",
            old_fp,
            fingerprint(NEW_KEY),
            True,
        )
        assert plan.probe is not None and plan.probe.status_code == 200
        assert plan.dry_run is not None and plan.dry_run.ok and fingerprint(NEW_KEY) in plan.dry_run.summary
        assert plan.changes_secret and plan.typed_confirmation == "clay-sync"
        assert isinstance(runner.confirm(plan, ""), Failure)  # nothing typed: no confirmation
        assert isinstance(runner.confirm(plan, "clay"), Failure)
        assert kube_writes(sim, real_only=True) == []  # nothing real has been sent yet
        written = runner.apply(confirm(runner, plan), on_progress=progress.append)
        assert written.ok and written.applied and written.offer is ActionKind.RESTART, written.summary
        assert sim.state()["key_valid"] is True
        assert watch.rate("401") > 5  # running pods still hold the revoked key: it takes a restart

        old_pods = someone.pod_names()
        restarted = run(runner, ActionKind.RESTART, progress)
        assert restarted.ok, restarted.summary
        assert restarted.verification is not None and restarted.verification.state is VerifyState.OK
        new_pods = someone.pod_names()
        assert len(new_pods) == 3 and not new_pods & old_pods
        assert any(p.stage == "verify" and p.total == 3 for p in progress)

        sim.advance(90)  # the 1-minute rates forget the 401s
        assert watch.rate("401") == 0
        assert watch.health().status == "ok"
        new_logs = "\n".join(someone.pod_log(p) for p in new_pods)
        assert "status=200" in new_logs and "status=401" not in new_logs
        assert watch.wait_for("status=200", new_pods) and not watch.wait_for("status=401", new_pods, timeout=0)
        healthy = assess_now(watch, cfg, sim.state()["t"])
        assert healthy.branch == Branch.HEALTHY, (healthy.headline, [r.text for f in healthy.findings for r in f.reasons])

        actions = [(e.kind, e.data.get("action")) for e in timeline_events(store) if str(e.kind).startswith("action_")]
        assert actions == [
            (EventKind.ACTION_VERIFIED, "verify_key"),
            (EventKind.ACTION_PLANNED, "update_key"),
            (EventKind.ACTION_APPLIED, "update_key"),
            (EventKind.ACTION_VERIFIED, "update_key"),
            (EventKind.ACTION_PLANNED, "restart"),
            (EventKind.ACTION_APPLIED, "restart"),
            (EventKind.ACTION_VERIFIED, "restart"),
        ]
        planned = next(e for e in timeline_events(store) if e.kind == EventKind.ACTION_PLANNED)
        assert planned.data["changes"][0]["after"] == fingerprint(NEW_KEY) and planned.data["changes"][0]["before"] == old_fp
        assert planned.data["confirmed_by"] == "ana@bastion-1" and planned.data["typed_name"] is True
        assert planned.data["dry_run"]["ok"] is True and planned.data["context"] == "clay-drill"
        revoked = sim._drill.world.initial_key
        for secret in (NEW_KEY, revoked):
            no_secret_in(
                secret,
                timeline_text(store),
                caplog.text,
                json.dumps(sim.requests()),
                runner,
                check,
                verified,
                plan,
                written,
                restarted,
                *progress,
                *[str(e) for e in timeline_events(store)],
            )
    finally:
        watch.close()
        someone.close()


@pytest.mark.scenario("rate-limited")
def test_rate_limited_drill_mitigated_by_queuing(sim, env, tmp_path) -> None:
    cfg = drill_config(sim)
    store = incident(tmp_path)
    runner = make_runner(sim, cfg, store=store)
    watch = watch_drill(sim, cfg)
    try:
        sim.advance(80)
        assert watch.wait_for("x-ratelimit-remaining=0")
        info = rate_limits_seen(watch.recent(settle=0))
        assert info is not None and (info.limit, info.remaining) == (600, 0), info
        assert info.retry_after is not None and 0 < info.retry_after <= 60 and info.count_429 > 0
        assert "0/600 left" in info.text()
        before = watch.rate("429")
        assert before > 5

        plan = runner.prepare(ActionKind.ENABLE_QUEUING)
        assert plan.ready, plan.lines()
        fields = [(c.object, c.field, c.before, c.after) for c in plan.changes]
        assert fields[0] == ("ConfigMap clay-sync/clay-sync-flags", "data.CLAY_REQUEST_QUEUING", "false", "true")
        assert fields[1][1] == "spec.template.metadata.annotations[kubectl.kubernetes.io/restartedAt]"
        assert plan.replaces_pods and plan.typed_confirmation == ""  # a flag and its restart: one key, nothing typed
        done = runner.apply(confirm(runner, plan))
        assert done.ok, done.summary
        assert "CLAY_REQUEST_QUEUING=true in the ConfigMap" in done.verification.summary
        assert sim.state()["flags"]["CLAY_REQUEST_QUEUING"] == "true"

        sim.advance(90)
        after = watch.rate("429")
        assert after < before / 5, (before, after)
        queue = next(c for c in watch.health().checks if c.name == "queue")
        assert "queuing Clay calls" in queue.detail
        verified = [e for e in timeline_events(store) if e.kind == EventKind.ACTION_VERIFIED]
        assert verified and verified[-1].data["action"] == "enable_queuing"
    finally:
        watch.close()


@pytest.mark.scenario("clay-outage")
def test_clay_outage_mitigated_by_fallback(sim, env) -> None:
    cfg = drill_config(sim)
    runner = make_runner(sim, cfg)
    watch = watch_drill(sim, cfg)
    try:
        sim.advance(60)
        assert watch.health().status == "down"
        assert ActionKind.ENABLE_FALLBACK in relevant_actions(a.id for a in assess_now(watch, cfg, 60).actions)
        done = run(runner, ActionKind.ENABLE_FALLBACK)
        assert done.ok, done.summary
        sim.advance(60)
        health = watch.health()
        assert health.status == "degraded", health
        fallback = next(c for c in health.checks if c.name == "fallback")
        assert "active on 3/3 pods" in fallback.detail
        assert watch.wait_for("fallback served")
        undone = run(runner, ActionKind.DISABLE_FALLBACK)
        assert undone.ok and sim.state()["flags"]["CLAY_FALLBACK_ENABLED"] == "false"
    finally:
        watch.close()


def test_flag_without_restart_offers_the_restart(sim) -> None:
    cfg = drill_config(sim, flags={"restart_on_change": False})
    runner = make_runner(sim, cfg)
    someone = Someone(sim)
    try:
        pods = someone.pod_names()
        plan = runner.prepare(ActionKind.ENABLE_FALLBACK)
        assert [c.field for c in plan.changes] == ["data.CLAY_FALLBACK_ENABLED"]
        assert not plan.replaces_pods and plan.typed_confirmation == ""  # a plain (non-Enter) confirm suffices
        assert any("next restart" in n for n in plan.notes)
        done = runner.apply(confirm(runner, plan))
        assert done.ok and done.offer is ActionKind.RESTART
        assert someone.pod_names() == pods
        again = runner.prepare(ActionKind.ENABLE_FALLBACK)
        assert again.blocked is not None and again.blocked.kind is FailureKind.INVALID_INPUT and "already 'true'" in again.blocked.message
    finally:
        someone.close()


def test_flag_as_deployment_env_rolls_the_pods(sim, env) -> None:
    cfg = drill_config(sim, flags={"mode": "env"})
    runner = make_runner(sim, cfg)
    watch, someone = watch_drill(sim, cfg), Someone(sim)
    try:
        old = someone.pod_names()
        plan = runner.prepare(ActionKind.ENABLE_FALLBACK)
        assert [(c.field, c.before, c.after) for c in plan.changes] == [
            ("spec.template.spec.containers[clay-sync].env[CLAY_FALLBACK_ENABLED]", "(unset)", "true")
        ]
        assert plan.ready and plan.replaces_pods, plan.lines()
        done = runner.apply(confirm(runner, plan))
        assert done.ok, done.summary
        assert not someone.pod_names() & old
        env_vars = someone.apps.read_namespaced_deployment("clay-sync", "clay-sync").spec.template.spec.containers[0].env
        assert {e.name: e.value for e in env_vars}["CLAY_FALLBACK_ENABLED"] == "true"
        assert sim.state()["flags"]["CLAY_FALLBACK_ENABLED"] == "false"  # the ConfigMap is untouched
        sim.advance(20)
        assert next(c for c in watch.health().checks if c.name == "fallback").detail.startswith("active on 3/3")
    finally:
        watch.close()
        someone.close()


def test_scale_shows_the_count_and_follows_it(sim) -> None:
    runner = make_runner(sim)
    someone = Someone(sim)
    try:
        up = runner.prepare(ActionKind.SCALE, replicas=5)
        assert [(c.before, c.after) for c in up.changes] == [("3", "5")] and up.typed_confirmation == ""
        assert "now 3 replicas (3 ready): adds 2 pods" in up.notes
        done = runner.apply(confirm(runner, up))
        assert done.ok and len(someone.pod_names()) == 5, done.summary
        assert runner.prepare(ActionKind.SCALE, replicas=3).typed_confirmation == ""  # 5 → 3: down by less than half, one key
        down = runner.prepare(ActionKind.SCALE, replicas=2)
        assert down.typed_confirmation == "clay-sync" and "removes 3 pods" in down.notes[0]  # 5 → 2: by half or more, typed
        done = runner.apply(confirm(runner, down))
        assert done.ok and len(someone.pod_names()) == 2, done.summary
        for bad in (-1, 10_000, "3"):
            blocked = runner.prepare(ActionKind.SCALE, replicas=bad)
            assert blocked.blocked is not None and blocked.blocked.kind is FailureKind.INVALID_INPUT
        same = runner.prepare(ActionKind.SCALE, replicas=2)
        assert same.blocked is not None and "already has 2" in same.blocked.message
    finally:
        someone.close()


def test_a_rollout_is_followed_by_watch_not_by_listing_pods_each_look(sim) -> None:
    """Scaling 3 → 8 and back: while the runner follows, the deployment and the pods come
    from a watch (kubectl rollout status's way), not a GET and a pod list each look; the
    watches end with the follow."""
    import threading
    import time

    def between(_s: float) -> None:
        sim.advance(1.0)
        time.sleep(0.05)  # the watch's events arrive meanwhile

    from clay_cockpit.actions.flow import ActionRunner

    runner = ActionRunner(drill_config(sim), actor="ana@bastion-1", sleep=between, poll=0.05)
    someone = Someone(sim)

    def reads() -> tuple[int, int, int]:
        got = [r for r in sim.requests("kube") if r["method"] == "GET"]
        pods = [r for r in got if r["path"].endswith("/namespaces/clay-sync/pods")]
        deploy = [r for r in got if r["path"].endswith("/deployments/clay-sync")]
        return len([r for r in pods if "watch=true" not in r["query"]]), len(deploy), len([r for r in pods if "watch=true" in r["query"]])

    try:
        for n in (8, 3):
            plan = runner.prepare(ActionKind.SCALE, replicas=n)
            progress: list = []
            before = reads()
            done = runner.apply(confirm(runner, plan), on_progress=progress.append)
            after = reads()
            assert done.ok and len(someone.pod_names()) == n, done.summary
            looks = [p for p in progress if p.stage == "verify"]
            lists, gets, watches = (a - b for a, b in zip(after, before, strict=True))
            assert len(looks) >= 5, "the rollout took several looks"
            assert watches >= 1, "the pods were watched"
            assert lists <= 3 and gets <= 3, (lists, gets, len(looks), "a look read from the watch, once it had listed")
        assert not [t for t in threading.enumerate() if t.name.startswith("actions:")], "the watches ended with the follow"
    finally:
        someone.close()


def test_actions_carry_their_runbook_ids_for_highlighting() -> None:
    from clay_cockpit.actions.flow import specs

    by_kind = {s.kind: s for s in specs()}
    assert set(by_kind) == set(ActionKind)
    assert by_kind[ActionKind.UPDATE_KEY].runbook is ActionId.UPDATE_KEY
    assert by_kind[ActionKind.DISABLE_QUEUING].runbook is ActionId.ENABLE_QUEUING and by_kind[ActionKind.DISABLE_QUEUING].undo
    assert relevant_actions([ActionId.VERIFY_KEY, ActionId.UPDATE_KEY, ActionId.RESTART]) == {
        ActionKind.VERIFY_KEY,
        ActionKind.UPDATE_KEY,
        ActionKind.RESTART,
    }
    assert relevant_actions([ActionId.ENABLE_QUEUING, ActionId.READ_RATE_LIMITS]) == {ActionKind.ENABLE_QUEUING}
    assert relevant_actions([]) == frozenset()


def test_verify_timeout_reports_what_did_not_happen(sim, tmp_path) -> None:
    """The drill clock stands still: the rollout cannot finish; the outcome says what is missing."""
    from test_actions_support import with_actions

    store = incident(tmp_path)
    runner = make_runner(sim, with_actions(drill_config(sim), rollout_timeout=0.6), store=store, advance=None)
    done = run(runner, ActionKind.RESTART)
    assert done.applied and not done.ok
    v = done.verification
    assert v is not None and v.state is VerifyState.TIMEOUT
    assert v.summary.startswith("not done after 0.6 s: ")
    assert any("3 of 3 new pods not ready" in m for m in v.missing) and any("3 old pods still present" in m for m in v.missing)
    assert done.failure is not None and done.failure.kind is FailureKind.VERIFY_FAILED
    failed = [e for e in timeline_events(store) if e.kind == EventKind.ACTION_FAILED]
    assert failed and failed[-1].data["stage"] == "verify" and failed[-1].data["verification"]["missing"]
    lease = runner.lease_status()
    assert lease is not None and not isinstance(lease, Failure) and not lease.held  # released even so
    assert done.can_follow_again
    sim.advance(60)  # now the rollout can finish: follow it again (reads only, nothing applied twice)
    writes = len(kube_writes(sim))
    again = runner.follow_again(done)
    assert again.ok and again.verification is not None and again.verification.state is VerifyState.OK, again.summary
    assert len(kube_writes(sim)) == writes
    assert timeline_events(store)[-1].kind == EventKind.ACTION_VERIFIED
    assert runner.follow_again(again).failure.kind is FailureKind.NOT_CONFIRMED  # nothing left to follow


def test_stop_ends_following_but_keeps_the_change(sim) -> None:
    import threading

    stop = threading.Event()
    stop.set()
    runner = make_runner(sim, advance=None)
    plan = runner.prepare(ActionKind.RESTART)
    done = runner.apply(confirm(runner, plan), stop=stop)
    assert done.applied and done.verification is not None and done.verification.state is VerifyState.STOPPED
    assert len(kube_writes(sim, real_only=True)) >= 2  # the restart patch (and the lease)


def test_plan_is_a_value_with_no_secret_in_its_repr() -> None:
    key = SecretValue(NEW_KEY)
    assert NEW_KEY not in repr(key) and NEW_KEY not in str(key) and NEW_KEY not in f"{key}" and NEW_KEY not in f"{key!s:>80}"
    assert key == SecretValue(NEW_KEY) and key != SecretValue(NEW_KEY + "x")
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(key)
    from clay_cockpit.actions.flow import Plan
    from clay_cockpit.actions.types import Inputs

    plan = Plan("p", ActionKind.UPDATE_KEY, "t", ActionId.UPDATE_KEY, "ctx", "ns", "d", True, inputs=Inputs("d", key))
    assert NEW_KEY not in repr(plan) and NEW_KEY not in json.dumps(plan.to_record())
    assert NEW_KEY not in repr(replace(plan, notes=("x",)))
