"""The Kubernetes adapter of the actions: the request guard, error mapping,
the kubectl-compatible restart, the Secret's value kept secret, Leases as
the official client reads them, and the rollout judge — against the drill
over real HTTPS, plus pure tests of the pieces that decide.
"""

from __future__ import annotations

import base64
import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from test_actions_support import Someone, drill_config, kube_writes

from clay_cockpit.actions.types import AdminError, FailureKind, Need, SecretValue
from clay_cockpit.sources.kube_admin import RESTARTED_AT, KubeAdmin, classify, restarted_at_now
from clay_cockpit.sources.kube_lease import Leases, lease_name, micro_time
from clay_cockpit.sources.kube_rollout import rollout_state, scale_state

KEY = "clay_live_" + "9a" * 16


def admin_for(sim, **kw) -> KubeAdmin:
    cfg = drill_config(sim)
    return KubeAdmin(cfg.kube, escalation=cfg.escalation.contact, **kw)


# --------------------------------------------------------------------------
# The guard


@pytest.mark.parametrize(
    ("method", "url", "kind"),
    [
        ("GET", "https://k/apis/apps/v1/namespaces/n/deployments/d", "read"),
        ("get", "https://k/api/v1/namespaces/n/pods?watch=true", "read"),
        ("HEAD", "https://k/version", "read"),
        ("POST", "https://k/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "read"),
        ("POST", "https://k/apis/authorization.k8s.io/v1/selfsubjectaccessreviews/", "read"),
        ("POST", "https://k/apis/authorization.k8s.io/v1/subjectaccessreviews", "write"),
        ("PATCH", "https://k/apis/apps/v1/namespaces/n/deployments/d?dryRun=All", "dry_run"),
        ("PATCH", "https://k/apis/apps/v1/namespaces/n/deployments/d?dryRun=All&dryRun=All", "dry_run"),
        ("PATCH", "https://k/apis/apps/v1/namespaces/n/deployments/d?dryRun=None", "write"),
        ("PATCH", "https://k/apis/apps/v1/namespaces/n/deployments/d?dryRun=All&dryRun=x", "write"),
        ("PATCH", "https://k/apis/apps/v1/namespaces/n/deployments/d", "write"),
        ("PUT", "https://k/apis/coordination.k8s.io/v1/namespaces/n/leases/l", "write"),
        ("DELETE", "https://k/api/v1/namespaces/n/pods/p", "write"),
        ("POST", "https://k/api/v1/namespaces/n/pods/p/eviction", "write"),
        ("POST", "https://k/api/v1/namespaces/n/selfsubjectaccessreviews/x/eviction", "write"),
    ],
)
def test_classify(method: str, url: str, kind: str) -> None:
    assert classify(method, url) == kind


def test_guard_sends_dry_runs_and_reads_but_writes_only_when_armed(sim) -> None:
    admin = admin_for(sim)
    assert admin.deployment("clay-sync")["metadata"]["name"] == "clay-sync"
    assert admin.scale("clay-sync", 5, dry_run=True)["spec"]["replicas"] == 5
    with pytest.raises(AdminError) as err:
        admin.scale("clay-sync", 5, dry_run=False)
    assert err.value.failure.kind is FailureKind.NOT_CONFIRMED and "confirmed action" in err.value.failure.message
    assert kube_writes(sim, real_only=True) == []
    with admin.armed():
        inner = threading.Thread(target=lambda: box.append(_try(lambda: admin.scale("clay-sync", 4, dry_run=False))))
        box: list = []
        inner.start()
        inner.join(10)
        assert box[0].kind is FailureKind.NOT_CONFIRMED  # arming is per thread
        admin.scale("clay-sync", 4, dry_run=False)
    assert [r["method"] for r in kube_writes(sim, real_only=True)] == ["PATCH"]
    assert sim._drill.world.kube.store.get("deployments", "clay-sync", "clay-sync")["spec"]["replicas"] == 4


def _try(fn):
    try:
        fn()
    except AdminError as exc:
        return exc.failure
    return None


# --------------------------------------------------------------------------
# Errors


def test_401_403_and_transport_failures_are_named(sim) -> None:
    admin = admin_for(sim, timeout=0.5)
    sim.kube("expire_token")
    with pytest.raises(AdminError) as err:
        admin.deployment("clay-sync")
    f = err.value.failure
    assert f.kind is FailureKind.AUTH_EXPIRED and f.status_code == 401 and f.message.startswith("cluster credentials expired")
    assert f.hint == admin.login_hint() and "clay-drill-responder" in f.hint
    sim.kube("renew_token")
    assert admin.deployment("clay-sync")  # the client was rebuilt from the kubeconfig: no restart needed

    sim.kube("deny", verb="get", resource="deployments")
    with pytest.raises(AdminError) as err:
        admin.deployment("clay-sync")
    f = err.value.failure
    assert f.kind is FailureKind.FORBIDDEN and 'cannot get resource "deployments"' in f.message
    assert f.hint == "escalate to drill escalation: #platform-oncall (PagerDuty: platform-primary)"
    sim.kube("allow_all")

    with pytest.raises(AdminError) as err:
        admin.configmap("no-such-flags")
    assert err.value.failure.kind is FailureKind.NOT_FOUND and "no-such-flags" in err.value.failure.message

    sim.fault("kube", delay=2.0, times=1)
    with pytest.raises(AdminError) as err:
        admin.deployment("clay-sync")
    assert err.value.failure.kind is FailureKind.TIMEOUT
    sim.fault("kube", status=503, times=1)
    with pytest.raises(AdminError) as err:
        admin.deployment("clay-sync")
    assert err.value.failure.kind is FailureKind.SERVER_ERROR and err.value.failure.status_code == 503
    sim.stop_service("kube")
    with pytest.raises(AdminError) as err:
        admin.deployment("clay-sync")
    assert err.value.failure.kind is FailureKind.UNREACHABLE and "connection refused" in err.value.failure.message


def test_no_kubeconfig_is_a_named_failure(sim, tmp_path) -> None:
    cfg = drill_config(sim, kubeconfig=str(tmp_path / "missing"))
    with pytest.raises(AdminError) as err:
        KubeAdmin(cfg.kube).deployment("clay-sync")
    assert err.value.failure.kind is FailureKind.CONFIG and "does not exist" in err.value.failure.message


class _Exc:
    def __init__(self, status: int, message: str) -> None:
        import json

        self.status, self.body, self.headers = status, json.dumps({"kind": "Status", "message": message}), {}


@pytest.mark.parametrize(
    ("status", "message", "kind"),
    [
        (401, "Unauthorized", FailureKind.AUTH_EXPIRED),
        (403, 'forbidden: User "system:anonymous" cannot get path "/api"', FailureKind.AUTH_EXPIRED),
        (403, 'secrets "clay-api" is forbidden', FailureKind.FORBIDDEN),
        (404, 'secrets "x" not found', FailureKind.NOT_FOUND),
        (409, "Operation cannot be fulfilled", FailureKind.CONFLICT),
        (422, 'Secret "clay-api" is invalid', FailureKind.REFUSED),
        (400, "illegal base64 data", FailureKind.REFUSED),
        (429, "slow down", FailureKind.SERVER_ERROR),
        (500, "etcdserver: request timed out", FailureKind.SERVER_ERROR),
        (418, "teapot", FailureKind.BAD_RESPONSE),
    ],
)
def test_status_mapping(shared_sim, status: int, message: str, kind: FailureKind) -> None:
    f = admin_for(shared_sim).failure_for(_Exc(status, message), "doing it")
    assert f.kind is kind and f.message and "doing it" in f.message


def test_error_texts_are_scrubbed_of_the_value_and_its_base64(shared_sim) -> None:
    b64 = base64.b64encode(KEY.encode()).decode()
    f = admin_for(shared_sim).failure_for(_Exc(422, f"bad value {KEY} or {b64}"), "writing", (KEY,))
    assert KEY not in f.line() and b64 not in f.line() and "[redacted]" in f.message


# --------------------------------------------------------------------------
# Restart as kubectl does it


def test_restarted_at_is_rfc3339_like_kubectl() -> None:
    assert restarted_at_now(datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=UTC)) == "2026-01-02T03:04:05Z"
    cet = timezone(timedelta(hours=1))
    assert restarted_at_now(datetime(2026, 1, 2, 3, 4, 5, tzinfo=cet)).endswith(("+01:00", "Z"))
    assert datetime.fromisoformat(restarted_at_now().replace("Z", "+00:00")).tzinfo is not None


def test_restart_patches_the_template_annotation_and_refuses_paused(sim) -> None:
    admin = admin_for(sim)
    someone = Someone(sim)
    try:
        before = someone.apps.read_namespaced_deployment("clay-sync", "clay-sync")
        with admin.armed():
            doc = admin.restart("clay-sync", dry_run=False, at="2026-01-01T00:00:05Z")
        assert doc["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT] == "2026-01-01T00:00:05Z"
        after = someone.apps.read_namespaced_deployment("clay-sync", "clay-sync")  # the official client reads what kubectl wrote
        assert after.spec.template.metadata.annotations[RESTARTED_AT] == "2026-01-01T00:00:05Z"
        assert after.metadata.generation == before.metadata.generation + 1
        (patch,) = [r for r in kube_writes(sim) if r["method"] == "PATCH"]
        assert patch["path"] == "/apis/apps/v1/namespaces/clay-sync/deployments/clay-sync"
        with admin.armed():  # a second restart in the same second still changes the template (else nothing would roll)
            again = admin.restart("clay-sync", dry_run=False, at="2026-01-01T00:00:05Z")
        assert again["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT] != "2026-01-01T00:00:05Z"
        assert again["metadata"]["generation"] == after.metadata.generation + 1
        someone.pause(False)
        someone.pause()
        with admin.armed(), pytest.raises(AdminError) as err:
            admin.restart("clay-sync", dry_run=True)
        assert err.value.failure.kind is FailureKind.PAUSED
        assert err.value.failure.message == ("deployment clay-sync is paused: can't restart a paused deployment (run rollout resume first)")
    finally:
        someone.close()


# --------------------------------------------------------------------------
# The Secret's value


def test_secret_value_round_trip_never_shows_the_value(sim) -> None:
    admin = admin_for(sim)
    initial = sim._drill.world.initial_key
    current, rv = admin.secret_key("clay-api", "api-key")
    assert current == SecretValue(initial) and rv and initial not in repr(current)
    held, _ = admin.set_secret_key("clay-api", "api-key", SecretValue(KEY), resource_version=rv, dry_run=True)
    assert held == SecretValue(KEY).fingerprint
    assert admin.secret_key("clay-api", "api-key")[0] == SecretValue(initial)  # a dry run changes nothing
    with admin.armed():
        held, rv2 = admin.set_secret_key("clay-api", "api-key", SecretValue(KEY), resource_version=rv, dry_run=False)
    assert held == SecretValue(KEY).fingerprint and rv2 != rv
    assert sim._drill.world.kube.secret_value("clay-api", "api-key") == KEY
    with admin.armed(), pytest.raises(AdminError) as err:  # the old resourceVersion: 409
        admin.set_secret_key("clay-api", "api-key", SecretValue(KEY + "x"), resource_version=rv, dry_run=False)
    assert err.value.failure.kind is FailureKind.CONFLICT and KEY not in str(err.value)
    missing, _ = admin.secret_key("clay-api", "no-such-key")
    assert missing is None


def test_permission_review_per_need(sim) -> None:
    admin = admin_for(sim, read_only=True)  # a review is a read: allowed read-only
    sim.kube("deny", verb="patch", resource="deployments/scale")
    ok = admin.review(Need("get", "secrets", name="clay-api"))
    no = admin.review(Need("patch", "deployments", "apps", "scale", "clay-sync"))
    assert ok.allowed and ok.what == "get secrets/clay-api" and "RBAC" in ok.reason
    assert not no.allowed and no.what == "patch deployments/scale.apps/clay-sync"
    assert kube_writes(sim) == []


# --------------------------------------------------------------------------
# Leases


def test_lease_lifecycle_as_the_official_client_reads_it(sim) -> None:
    admin = admin_for(sim)
    clock = [1_800_000_000.0]
    leases = Leases(admin, "ana@bastion-1+a1", 30.5, wall=lambda: clock[0])
    assert leases.read("clay-sync") is None
    with admin.armed():
        got = leases.acquire("clay-sync")
        assert got.ours and got.holder == "ana@bastion-1+a1" and got.duration == 31 and got.acquired_at == clock[0]
        clock[0] += 10
        again = leases.acquire("clay-sync")  # ours already: kept, acquireTime too
        assert again.acquired_at == got.acquired_at and again.renewed_at == clock[0] and again.transitions == 0
        clock[0] += 10
        renewed = leases.renew(again, "clay-sync")
        assert renewed.renewed_at == clock[0]
    from kubernetes import client

    someone = Someone(sim)
    try:
        model = client.CoordinationV1Api(someone.api_client).read_namespaced_lease(lease_name("clay-sync"), "clay-sync")
        assert model.spec.holder_identity == "ana@bastion-1+a1" and model.spec.lease_duration_seconds == 31
        assert model.spec.renew_time.timestamp() == pytest.approx(clock[0])
        assert model.metadata.labels == {"app.kubernetes.io/managed-by": "clay-cockpit"}
    finally:
        someone.close()
    with admin.armed():
        assert leases.release(renewed)
        assert not leases.release(renewed)  # not ours any more
    free = leases.read("clay-sync")
    assert free is not None and not free.held and "is free" in free.describe(clock[0])


def test_micro_time() -> None:
    assert micro_time(1_767_225_600.25) == "2026-01-01T00:00:00.250000Z"


# --------------------------------------------------------------------------
# Judging a rollout (pure)


def _pod(name: str, *, ready: bool = True, deleting: bool = False, waiting: str = "", restarts: int = 0, last: str = "") -> dict:
    state = {"waiting": {"reason": waiting}} if waiting else {"running": {}}
    meta = {"name": name, **({"deletionTimestamp": "2026-01-01T00:00:00Z"} if deleting else {})}
    cs = {
        "ready": ready and not waiting,
        "restartCount": restarts,
        "state": state,
        **({"lastState": {"terminated": {"reason": last, "exitCode": 137}}} if last else {}),
    }
    return {"metadata": meta, "spec": {"containers": [{"name": "c"}]}, "status": {"phase": "Running", "containerStatuses": [cs]}}


def _deploy(replicas: int = 3, *, gen: int = 5, observed: int = 5, updated: int = 3, paused: bool = False, deadline: bool = False) -> dict:
    conds = (
        [
            {
                "type": "Progressing",
                "status": "False",
                "reason": "ProgressDeadlineExceeded",
                "message": 'ReplicaSet "x" has timed out progressing.',
            }
        ]
        if deadline
        else []
    )
    return {
        "metadata": {"name": "d", "generation": gen},
        "spec": {"replicas": replicas, "paused": paused},
        "status": {"observedGeneration": observed, "updatedReplicas": updated, "readyReplicas": replicas, "conditions": conds},
    }


OLD = frozenset({"d-old-1", "d-old-2", "d-old-3"})


def test_rollout_done_only_when_new_pods_ready_and_old_gone() -> None:
    done = rollout_state(_deploy(), [_pod("d-new-1"), _pod("d-new-2"), _pod("d-new-3")], OLD, 5)
    assert done.done and done.message == "3/3 new pods ready; old pods gone" and not done.missing
    lagging = rollout_state(_deploy(observed=4), [_pod("d-new-1"), _pod("d-new-2"), _pod("d-new-3")], OLD, 5)
    assert not lagging.done and "has not seen the change yet" in lagging.missing[0]
    going = rollout_state(_deploy(), [_pod("d-new-1"), _pod("d-new-2"), _pod("d-new-3"), _pod("d-old-1", deleting=True)], OLD, 5)
    assert not going.done and going.missing == ("1 old pod still present: d-old-1",)
    half = rollout_state(_deploy(updated=2), [_pod("d-new-1"), _pod("d-new-2", ready=False), _pod("d-old-2"), _pod("d-old-3")], OLD, 5)
    assert not half.done and half.count == 1 and half.total == 3
    assert half.missing == (
        "2 of 3 new pods not ready: d-new-2 (Running, not ready)",
        "2 old pods still present: d-old-2, d-old-3",
        "deployment d: 2/3 replicas updated",
    )
    crash = rollout_state(_deploy(), [_pod("d-new-1", waiting="CrashLoopBackOff")], OLD, 5)
    assert "failing: d-new-1" in crash.message and not crash.done
    assert crash.failed == "1 new pod crashed after the change (CrashLoopBackOff): d-new-1 — the rollout will not settle by itself"
    restarted = rollout_state(_deploy(), [_pod("d-new-1", restarts=1, last="OOMKilled"), _pod("d-new-2"), _pod("d-new-3")], OLD, 5)
    assert not restarted.done and "(OOMKilled)" in restarted.failed, "a new pod that went down once fails the rollout at once"
    stuck = rollout_state(_deploy(deadline=True), [_pod("d-old-1")], OLD, 5)
    assert stuck.failed == 'deployment d: ReplicaSet "x" has timed out progressing.'
    paused = rollout_state(_deploy(paused=True), [_pod("d-old-1")], OLD, 5)
    assert "paused" in paused.failed


def test_scale_done_when_count_ready_and_nothing_terminating() -> None:
    assert scale_state(_deploy(2), [_pod("a"), _pod("b")], 2).done
    going = scale_state(_deploy(2), [_pod("a"), _pod("b"), _pod("c", deleting=True)], 2)
    assert not going.done and going.missing == ("1 pod still terminating: c",)
    short = scale_state(replace_status(_deploy(4), 3), [_pod("a"), _pod("b"), _pod("c"), _pod("d", ready=False)], 4)
    assert not short.done and short.missing[0] == "1 of 4 pods not ready"


def replace_status(deploy: dict, ready: int) -> dict:
    return {**deploy, "status": {**deploy["status"], "readyReplicas": ready}}


def test_admin_repr_names_no_token(sim) -> None:
    admin = admin_for(sim)
    admin.deployment("clay-sync")
    assert sim.token not in repr(admin) and "clay-drill" in repr(admin)
