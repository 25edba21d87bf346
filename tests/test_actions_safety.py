"""Nothing mutating happens by accident, against the drill over real HTTPS:
read-only mode sends no mutating request on any path; only one of two
cockpits changes a deployment at a time (Lease); 403 shows the escalation
path, 401 the re-authentication hint (then success after renewal, nothing
typed lost); a dry-run refusal, a paused deployment and a conflict stop the
action; a plan cannot be applied without the runner's own confirmation.
"""

from __future__ import annotations

import threading
import time

import pytest
from test_actions_support import (
    Someone,
    drill_config,
    incident,
    kube_writes,
    make_runner,
    no_secret_in,
    timeline_events,
    timeline_text,
)

from clay_cockpit.actions.flow import (
    ActionKind,
    ActionRunner,
    Confirmation,
    Failure,
    FailureKind,
    SecretValue,
    Stage,
)
from clay_cockpit.actions.types import AdminError
from clay_cockpit.incident.timeline import EventKind
from clay_cockpit.sources.kube_lease import Leases

NEW_KEY = "clay_live_" + "c0ffee42" * 4
ESCALATE = "→ escalate to drill escalation: #platform-oncall (PagerDuty: platform-primary)"
INPUTS = {ActionKind.UPDATE_KEY: {"new_key": SecretValue(NEW_KEY)}, ActionKind.SCALE: {"replicas": 4}}


def confirmed(runner: ActionRunner, plan) -> Confirmation:
    got = runner.confirm(plan, plan.typed_confirmation)
    assert isinstance(got, Confirmation), got
    return got


def real_restarts(sim) -> list[dict]:
    return [r for r in kube_writes(sim, real_only=True) if r["method"] == "PATCH" and r["path"].endswith("/deployments/clay-sync")]


# --------------------------------------------------------------------------
# Read-only


@pytest.mark.scenario("key-revoked")
@pytest.mark.parametrize("how", ["flag", "config"])
def test_read_only_runs_every_action_path_and_sends_nothing_mutating(sim, tmp_path, how: str) -> None:
    cfg = drill_config(sim, read_only=(how == "config"))
    runner = make_runner(sim, cfg, store=incident(tmp_path), read_only=(how == "flag"))
    assert runner.read_only
    sim.advance(30)
    for kind in ActionKind:
        plan = runner.prepare(kind, **INPUTS.get(kind, {}))
        assert plan.read_only and plan.stage is Stage.CHECKED, kind
        assert plan.permissions and all(p.allowed for p in plan.permissions), plan.lines()  # the checks still ran (reads)
        if kind is ActionKind.VERIFY_KEY:
            out = runner.run_check(plan)  # reading the Secret and asking Clay is not a change: it works read-only
            assert out.probe is not None and out.probe.status_code == 401
            continue
        assert plan.changes, f"{kind}: the plan still says what would change"
        if kind in (ActionKind.DISABLE_QUEUING, ActionKind.DISABLE_FALLBACK):  # off already: nothing to change
            assert plan.blocked is not None and plan.blocked.kind is FailureKind.INVALID_INPUT
        else:
            assert plan.blocked is not None and plan.blocked.kind is FailureKind.READ_ONLY, plan.lines()
            assert plan.dry_run is not None and plan.dry_run.skipped == "read-only"
        refused = runner.confirm(plan, plan.typed_confirmation or "clay-sync")
        assert isinstance(refused, Failure) and refused.kind is FailureKind.READ_ONLY
        forged = Confirmation(plan, "mallory@elsewhere", time.time(), True, "guessed-token")
        out = runner.apply(forged)
        assert not out.applied and out.failure is not None and out.failure.kind is FailureKind.NOT_CONFIRMED
    # below the runner, armed or not, even the raw generated API on the adapter's client: refused before it leaves
    from kubernetes import client

    admin = runner.admin
    with admin.armed():
        attempts = [
            lambda: admin.restart("clay-sync", dry_run=False),
            lambda: admin.scale("clay-sync", 1, dry_run=True),
            lambda: admin.set_secret_key("clay-api", "api-key", SecretValue(NEW_KEY), resource_version="", dry_run=False),
            lambda: runner.leases.acquire("clay-sync"),
            lambda: client.AppsV1Api(admin.api_client).patch_namespaced_deployment("clay-sync", "clay-sync", {"spec": {"replicas": 1}}),
            lambda: client.CoreV1Api(admin.api_client).delete_collection_namespaced_pod("clay-sync"),
        ]
        for attempt in attempts:
            with pytest.raises(AdminError) as err:
                attempt()
            assert err.value.failure.kind is FailureKind.READ_ONLY
            assert NEW_KEY not in str(err.value)
    assert kube_writes(sim) == []
    methods = {(r["method"], r["path"].rsplit("/", 1)[-1] if r["method"] == "POST" else "") for r in sim.requests("kube")}
    assert methods <= {("GET", ""), ("POST", "selfsubjectaccessreviews")}, methods
    assert ("POST", "selfsubjectaccessreviews") in methods


def test_read_only_runner_needs_a_read_only_adapter(sim) -> None:
    from clay_cockpit.sources.kube_admin import KubeAdmin

    cfg = drill_config(sim)
    with pytest.raises(ValueError):
        ActionRunner(cfg, read_only=True, admin=KubeAdmin(cfg.kube))


# --------------------------------------------------------------------------
# Two cockpits, one deployment


def test_two_cockpits_only_one_restarts_at_a_time(sim) -> None:
    cfg = drill_config(sim)
    ben = make_runner(sim, cfg, actor="ben@laptop", cockpit_id="b2")
    seen: dict = {}

    def ana_waits(_s: float) -> None:
        if "outcome" not in seen:  # Ben tries while Ana's restart is rolling
            plan = ben.prepare(ActionKind.RESTART)
            seen["plan"] = plan
            seen["outcome"] = ben.apply(confirmed(ben, plan))
        sim.advance(2)

    ana = ActionRunner(cfg, actor="ana@bastion-1", cockpit_id="a1", sleep=ana_waits, poll=0.05)
    plan = ana.prepare(ActionKind.RESTART)
    done = ana.apply(confirmed(ana, plan))
    assert done.ok, done.summary

    ben_plan, ben_out = seen["plan"], seen["outcome"]
    assert ben_plan.lease is not None and ben_plan.lease.holder == "ana@bastion-1+a1"
    assert any("another cockpit is changing clay-sync: lease held by ana@bastion-1+a1 since" in n for n in ben_plan.notes)
    assert not ben_out.applied and ben_out.failure is not None and ben_out.failure.kind is FailureKind.LEASE_HELD
    assert ben_out.failure.lease is not None and ben_out.failure.lease.holder == "ana@bastion-1+a1"
    assert ben_out.failure.lease.acquired_at is not None
    assert "held by ana@bastion-1+a1 since " in ben_out.failure.message and " ago" in ben_out.failure.message
    assert "ana@bastion-1" in ben_out.failure.hint
    assert len(real_restarts(sim)) == 1  # only Ana's

    lease = ben.lease_status()
    assert lease is not None and not isinstance(lease, Failure) and not lease.held  # Ana released it
    assert ben_out.retry is not None  # nothing changed: Ben may try again, and now he may
    again = ben.apply(ben_out.retry)
    assert again.ok, again.summary
    assert len(real_restarts(sim)) == 2


def test_lease_race_has_one_winner(sim) -> None:
    """Two cockpits take the same lease at the same moment: one wins, the other is told who.

    Each round races for a new lease (both create it). Racing to take over a
    released one (two PUTs with the same resourceVersion) is left out: the
    drill's API server checks the resourceVersion before awaiting the body, so
    two concurrent PUTs can both pass there (a real API server answers 409)."""
    cfg = drill_config(sim)
    runners = [make_runner(sim, cfg, actor=f"user{i}@host", cockpit_id=f"c{i}") for i in range(2)]
    for round_ in range(4):
        barrier = threading.Barrier(2)
        results: list = [None, None]

        def take(i: int, barrier: threading.Barrier = barrier, results: list = results, round_: int = round_) -> None:
            r = runners[i]
            barrier.wait()
            with r.admin.armed():
                try:
                    results[i] = r.leases.acquire(f"clay-sync-r{round_}")
                except AdminError as exc:
                    results[i] = exc.failure
                except Exception as exc:  # shown in the assertion below, not lost in the thread
                    results[i] = exc

        threads = [threading.Thread(target=take, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        winners = [i for i, r in enumerate(results) if not isinstance(r, Failure)]
        assert len(winners) == 1, results
        loser = results[1 - winners[0]]
        assert loser.kind is FailureKind.LEASE_HELD and loser.lease.holder == runners[winners[0]].identity
        with runners[winners[0]].admin.armed():
            assert runners[winners[0]].leases.release(results[winners[0]])


def test_a_stale_lease_expires_and_is_taken_over(sim) -> None:
    cfg = drill_config(sim)
    ana = make_runner(sim, cfg, actor="ana@bastion-1", cockpit_id="a1")
    with ana.admin.armed():
        held = ana.leases.acquire("clay-sync")  # and then Ana's laptop dies: never renewed, never released
    assert held.ours and held.duration == 120
    later = time.time() + 121
    ben = make_runner(sim, cfg, actor="ben@laptop", cockpit_id="b2", wall=lambda: later)
    plan = ben.prepare(ActionKind.RESTART)
    assert any("a stale lease from another cockpit" in n and "stale since" in n for n in plan.notes), plan.notes
    done = ben.apply(confirmed(ben, plan))
    assert done.ok, done.summary
    taken = ben.lease_status()
    assert not isinstance(taken, Failure) and taken is not None and taken.transitions == 1
    with ana.admin.armed(), pytest.raises(AdminError) as err:  # Ana comes back: it is no longer hers
        ana.leases.renew(held, "clay-sync")
    assert err.value.failure.kind is FailureKind.CONFLICT and "no longer ours" in err.value.failure.message


def test_fresh_lease_of_another_cockpit_is_not_taken(sim) -> None:
    cfg = drill_config(sim)
    ana = make_runner(sim, cfg, actor="ana@bastion-1", cockpit_id="a1")
    with ana.admin.armed():
        ana.leases.acquire("clay-sync")
    ben = Leases(make_runner(sim, cfg, actor="ben@laptop").admin, "ben@laptop+b2", 120, wall=lambda: time.time() + 60)
    with ben.admin.armed(), pytest.raises(AdminError) as err:
        ben.acquire("clay-sync")
    assert err.value.failure.kind is FailureKind.LEASE_HELD and "expires in" in err.value.failure.message


# --------------------------------------------------------------------------
# 403, 401, dry-run refusal, paused, conflict


@pytest.mark.scenario("key-revoked")
def test_403_on_secret_update_shows_the_escalation_path(sim, tmp_path) -> None:
    store = incident(tmp_path)
    runner = make_runner(sim, store=store)
    sim.advance(30)  # the key in the Secret is revoked
    sim.kube("deny", verb="patch", resource="secrets")
    plan = runner.prepare(ActionKind.UPDATE_KEY, new_key=SecretValue(NEW_KEY))
    assert plan.blocked is not None and plan.blocked.kind is FailureKind.FORBIDDEN
    denied = plan.blocked
    assert plan.blocked.message.startswith("Secret rotation fails: permission denied") and ESCALATE in plan.blocked.message
    assert [p.what for p in plan.denied] == ["patch secrets/clay-api"]
    assert plan.dry_run is not None and plan.dry_run.failure is not None and plan.dry_run.failure.status_code == 403
    assert runner.confirm(plan, "clay-sync") == plan.blocked
    runner.prepare(ActionKind.UPDATE_KEY, new_key=SecretValue(NEW_KEY))  # the same refusal again: recorded once
    stopped = [e for e in timeline_events(store) if e.kind == EventKind.ACTION_FAILED]
    assert len(stopped) == 1 and stopped[0].data["stage"] == "plan" and ESCALATE in stopped[0].summary

    sim.kube("allow_all")
    plan = runner.prepare(ActionKind.UPDATE_KEY, new_key=SecretValue(NEW_KEY))
    assert plan.ready, plan.lines()
    conf = confirmed(runner, plan)
    sim.kube("deny", verb="patch", resource="secrets")  # RBAC changed between the check and the apply
    out = runner.apply(conf)
    assert not out.applied and out.failure is not None and out.failure.kind is FailureKind.FORBIDDEN
    assert out.failure.message.startswith("Secret rotation fails: permission denied") and ESCALATE in out.failure.message
    assert out.retry is None  # a denial does not pass by itself
    assert sim.state()["key_valid"] is False
    no_secret_in(NEW_KEY, out.failure.line(), denied.line(), timeline_text(store), out)

    sim.kube("deny", verb="get", resource="secrets")
    check = runner.prepare(ActionKind.VERIFY_KEY)
    assert check.blocked is not None and check.blocked.message.startswith("Key verification fails: permission denied")


@pytest.mark.scenario("key-revoked")
def test_401_says_credentials_expired_with_the_login_hint_and_loses_nothing(sim) -> None:
    runner = make_runner(sim)
    key = SecretValue(NEW_KEY)
    sim.kube("expire_token")
    plan = runner.prepare(ActionKind.UPDATE_KEY, new_key=key)
    assert plan.blocked is not None and plan.blocked.kind is FailureKind.AUTH_EXPIRED
    assert plan.blocked.message.startswith("cluster credentials expired")
    assert "token of user 'clay-drill-responder' refused" in plan.blocked.hint
    assert "`kubectl --context clay-drill get pods -n clay-sync`" in plan.blocked.hint
    assert plan.inputs.new_key == key  # what the responder typed is kept for the retry
    assert isinstance(runner.confirm(plan, "clay-sync"), Failure)

    sim.kube("renew_token")
    plan = runner.replan(plan)
    assert plan.ready and plan.inputs.new_key == key, plan.lines()
    conf = confirmed(runner, plan)
    sim.kube("expire_token")  # expires between the confirmation and the apply
    out = runner.apply(conf)
    assert not out.applied and out.failure is not None and out.failure.kind is FailureKind.AUTH_EXPIRED
    assert "token of user 'clay-drill-responder' refused" in out.failure.hint
    assert out.retry is not None and out.retry.plan is plan
    assert runner.apply(conf).failure.kind is FailureKind.NOT_CONFIRMED  # the old token is used up

    sim.kube("renew_token")
    again = runner.apply(out.retry)
    assert again.ok and again.applied, again.summary
    assert sim.state()["key_valid"] is True


def test_401_while_following_keeps_the_change_and_follows_again_after_login(sim) -> None:
    expired: list = []

    def token_expires(_s: float) -> None:
        if not expired:
            sim.kube("expire_token")
            expired.append(True)

    runner = ActionRunner(drill_config(sim), actor="ana@bastion-1", sleep=token_expires, poll=0.05)
    out = runner.apply(confirmed(runner, runner.prepare(ActionKind.RESTART)))
    assert out.applied and not out.ok and out.can_follow_again
    assert out.verification is not None and out.verification.summary.startswith("could not follow it: cluster credentials expired")
    assert "token of user 'clay-drill-responder' refused" in out.verification.missing[0]
    assert any("not released" in n and "goes stale after 120 s" in n for n in out.notes)
    sim.kube("renew_token")
    sim.advance(60)
    again = runner.follow_again(out)
    assert again.ok, again.summary
    assert len(real_restarts(sim)) == 1


def test_dry_run_refusal_stops_the_action_before_confirmation(sim, tmp_path) -> None:
    store = incident(tmp_path)
    cfg = drill_config(sim, secret={"key": "api key!"})  # not a valid Secret key: the API server refuses the write
    runner = make_runner(sim, cfg, store=store)
    plan = runner.prepare(ActionKind.UPDATE_KEY, new_key=SecretValue(NEW_KEY))
    assert plan.stage is Stage.CHECKED and not plan.ready
    assert plan.dry_run is not None and not plan.dry_run.ok and plan.dry_run.failure is not None
    assert plan.dry_run.failure.kind is FailureKind.REFUSED and plan.dry_run.failure.status_code == 422
    assert "api key!" in plan.dry_run.summary and plan.dry_run.summary.startswith("refused: ")
    assert plan.blocked == plan.dry_run.failure
    refusal = runner.confirm(plan, "clay-sync")
    assert isinstance(refusal, Failure) and refusal.kind is FailureKind.REFUSED
    writes = kube_writes(sim)
    assert writes and all("dryRun=All" in r["query"] for r in writes)
    recorded = [e for e in timeline_events(store) if e.kind == EventKind.ACTION_FAILED]
    assert recorded and recorded[0].data["dry_run"]["ok"] is False
    no_secret_in(NEW_KEY, timeline_text(store), plan.dry_run.summary)


def test_paused_deployment_is_refused_with_the_reason(sim) -> None:
    runner = make_runner(sim)
    someone = Someone(sim)
    try:
        someone.pause()
        theirs = len(kube_writes(sim))
        for kind in (ActionKind.RESTART, ActionKind.ENABLE_FALLBACK):
            plan = runner.prepare(kind)
            assert plan.blocked is not None and plan.blocked.kind is FailureKind.PAUSED, plan.lines()
            assert "can't restart a paused deployment (run rollout resume first)" in plan.blocked.message
            assert "kubectl --context clay-drill -n clay-sync rollout resume deployment/clay-sync" in plan.blocked.hint
            assert plan.dry_run is not None and plan.dry_run.skipped == "blocked"
        assert len(kube_writes(sim)) == theirs  # not even a dry run

        someone.pause(False)
        plan = runner.prepare(ActionKind.RESTART)
        conf = confirmed(runner, plan)
        someone.pause()  # paused again before the apply: refused as kubectl would, at the moment of the restart
        theirs = len(kube_writes(sim, real_only=True))
        out = runner.apply(conf)
        assert not out.applied and out.failure is not None and out.failure.kind is FailureKind.PAUSED
        ours = kube_writes(sim, real_only=True)[theirs:]
        assert ours and all("/leases" in r["path"] for r in ours), ours  # the lease taken and given back; no patch
    finally:
        someone.close()


def test_conflict_when_the_secret_changed_since_the_plan(sim) -> None:
    runner = make_runner(sim)
    someone = Someone(sim)
    try:
        plan = runner.prepare(ActionKind.UPDATE_KEY, new_key=SecretValue(NEW_KEY))
        conf = confirmed(runner, plan)
        someone.touch_secret()
        out = runner.apply(conf)
        assert not out.applied and out.failure is not None and out.failure.kind is FailureKind.CONFLICT
        assert out.failure.status_code == 409 and "plan it again" in out.failure.hint and out.retry is None
        again = runner.replan(plan)
        assert runner.apply(confirmed(runner, again)).ok
    finally:
        someone.close()


# --------------------------------------------------------------------------
# Confirmation


def test_only_the_runners_own_unused_confirmation_applies(sim) -> None:
    now = [time.time()]
    runner = make_runner(sim, wall=lambda: now[0])
    plan = runner.prepare(ActionKind.RESTART)  # one deliberate key in the modal: nothing to type
    assert not plan.typed_confirmation
    hard = runner.prepare(ActionKind.SCALE, replicas=1)  # 3 → 1, down by half or more: the name is typed
    assert hard.typed_confirmation == "clay-sync"
    assert runner.confirm(hard, "").kind is FailureKind.NOT_CONFIRMED
    assert runner.confirm(hard, "clay-sync-other").kind is FailureKind.NOT_CONFIRMED
    unprepared = runner.plan(ActionKind.RESTART)
    assert runner.confirm(unprepared, "").kind is FailureKind.NOT_CONFIRMED

    good = confirmed(runner, plan)
    from dataclasses import replace

    for bad in (Confirmation(plan, "x", now[0], True, "guess"), replace(good, plan=replace(plan, notes=())), replace(good, token="")):
        out = runner.apply(bad)
        assert out.failure is not None and out.failure.kind is FailureKind.NOT_CONFIRMED and not out.applied
    assert kube_writes(sim, real_only=True) == []

    now[0] += 1000  # the confirmation went stale on the screen
    out = runner.apply(good)
    assert out.failure is not None and out.failure.kind is FailureKind.NOT_CONFIRMED and "expired" in out.failure.message
    old = runner.confirm(plan, "clay-sync")
    assert isinstance(old, Failure) and "min old" in old.message
    assert kube_writes(sim, real_only=True) == []


def test_the_adapter_refuses_a_write_outside_a_confirmed_action(sim) -> None:
    runner = make_runner(sim)
    admin = runner.admin
    with pytest.raises(AdminError) as err:
        admin.restart("clay-sync", dry_run=False)
    assert err.value.failure.kind is FailureKind.NOT_CONFIRMED
    assert admin.restart("clay-sync", dry_run=True)  # a dry run is fine
    assert kube_writes(sim, real_only=True) == []


def test_actions_work_without_an_incident_and_say_it_was_not_recorded(sim) -> None:
    runner = make_runner(sim)
    out = runner.apply(confirmed(runner, runner.prepare(ActionKind.RESTART)))
    assert out.ok and not out.recorded
