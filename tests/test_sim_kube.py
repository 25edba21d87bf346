"""The drill's Kubernetes API against the real clients: the official Python
``kubernetes`` client and ``kubectl``.

Each test gets its own cluster served over HTTPS on 127.0.0.1 (port 0) by an
event loop in a daemon thread, with a frozen fake clock the test moves
(``kube.advance``). Every call into the cluster goes through that loop.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import shutil
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from clay_cockpit.sim import wiring
from clay_cockpit.sim.kube.api import KubeCluster
from clay_cockpit.sim.kube.patch import merge_patch, strategic_merge
from clay_cockpit.sim.kube.tls import trust_in_kubeconfig
from clay_cockpit.sim.kube.util import human_duration, labels_match, parse_label_selector

NS = "clay-sync"
T0 = 1_767_225_600.0
TOKEN = "drill-token-for-tests"
API_KEY = "clay_live_key_one"
FLAGS = {"CLAY_FALLBACK_ENABLED": "false", "CLAY_REQUEST_QUEUING": "false"}


class FakeClock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> float:
        return self.t


class Kube:
    """A cluster on a background loop, plus clients pointed at it."""

    def __init__(self, tmp: Path, replicas: int = 3) -> None:
        self.clock = FakeClock()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.cluster: KubeCluster = self.call(
            lambda: KubeCluster(clock=self.clock, rng=random.Random(11), token=TOKEN, replicas=replicas, api_key=API_KEY, flags=dict(FLAGS))
        )
        self.runner = web.AppRunner(self.call(self.cluster.app), shutdown_timeout=1.0)
        self.run(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0, ssl_context=self.cluster.tls().server_context())
        self.run(site.start())
        self.port = self.runner.addresses[0][1]
        self.server = f"https://127.0.0.1:{self.port}"
        self.kubeconfig = trust_in_kubeconfig(wiring.write_kubeconfig(tmp / "kubeconfig", self.server, TOKEN), self.cluster.tls().ca_data)
        self.cache = tmp / "kubectl-cache"
        self.api = config.new_client_from_config(config_file=str(self.kubeconfig), context=wiring.CONTEXT)
        self.core = client.CoreV1Api(self.api)
        self.apps = client.AppsV1Api(self.api)

    def run(self, coro: Any, timeout: float = 10) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Any, *args: Any, **kw: Any) -> Any:
        async def go() -> Any:
            return fn(*args, **kw)

        return self.run(go())

    def advance(self, seconds: float, step: float = 1.0) -> None:
        """Move the sim clock, ticking the cluster each sim second (as the world does)."""
        end = self.clock.t + seconds
        while self.clock.t < end:
            self.clock.t = min(end, self.clock.t + step)
            self.call(self.cluster.tick)

    def pods(self) -> list[Any]:
        return self.core.list_namespaced_pod(NS, label_selector="app=clay-sync").items

    def raw(self, path: str, accept: str = "application/json", token: str | None = TOKEN) -> tuple[int, Any]:
        req = urllib.request.Request(self.server + path, headers={"Accept": accept})
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=5, context=self.cluster.tls().client_context()) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def kubectl(self, *args: str, timeout: float = 30, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [KUBECTL, "--kubeconfig", str(self.kubeconfig), "--cache-dir", str(self.cache), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
        return proc

    def close(self) -> None:
        self.api.close()
        self.run(self.runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def kube(tmp_path: Path):
    k = Kube(tmp_path)
    try:
        yield k
    finally:
        k.close()


KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"


@pytest.fixture
def kubectl_ok() -> None:
    if not Path(KUBECTL).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("kubectl is required in CI but was not found on PATH or at /usr/bin/kubectl")
        pytest.skip("kubectl is not installed (/usr/bin/kubectl missing)")


def _status(exc: ApiException) -> dict[str, Any]:
    return json.loads(exc.body)


def _ready_pods(k: Kube) -> list[Any]:
    return [p for p in k.pods() if p.metadata.deletion_timestamp is None and all(cs.ready for cs in (p.status.container_statuses or []))]


# --------------------------------------------------------------------------
# Pure pieces


def test_strategic_merge_uses_merge_keys_and_directives() -> None:
    orig = {
        "spec": {
            "containers": [
                {"name": "a", "image": "x:1", "env": [{"name": "K", "value": "1"}, {"name": "D", "value": "2"}]},
                {"name": "b", "image": "y:1"},
            ],
            "paused": True,
        }
    }
    patch = {
        "spec": {"containers": [{"name": "a", "env": [{"name": "N", "value": "3"}, {"name": "D", "$patch": "delete"}]}], "paused": None}
    }
    out = strategic_merge(orig, patch)
    a = out["spec"]["containers"][0]
    assert [e["name"] for e in a["env"]] == ["K", "N"] and a["image"] == "x:1"
    assert out["spec"]["containers"][1] == {"name": "b", "image": "y:1"} and "paused" not in out["spec"]
    assert strategic_merge({"m": {"a": 1, "b": 2}}, {"m": {"$patch": "replace", "c": 3}}) == {"m": {"c": 3}}
    assert strategic_merge({"l": [1, 2]}, {"l": [3]}) == {"l": [3]}  # lists without a merge key are replaced
    assert strategic_merge({"metadata": {"finalizers": ["a"]}}, {"metadata": {"finalizers": ["b"]}}) == {
        "metadata": {"finalizers": ["a", "b"]}
    }
    assert merge_patch({"a": {"b": 1, "c": 2}, "l": [1]}, {"a": {"b": None}, "l": [2]}) == {"a": {"c": 2}, "l": [2]}
    assert orig["spec"]["paused"] is True  # inputs untouched


def test_label_selectors_and_ages() -> None:
    labels = {"app": "clay-sync", "tier": "api"}
    for sel, want in [
        ("app=clay-sync", True),
        ("app==clay-sync,tier!=db", True),
        ("app in (a, clay-sync)", True),
        ("app notin (clay-sync)", False),
        ("!tier", False),
        ("tier", True),
        ("missing", False),
    ]:
        assert labels_match(parse_label_selector(sel), labels) is want, sel
    assert [human_duration(s) for s in (5, 125, 3700, 3 * 86400 + 5 * 3600)] == ["5s", "2m5s", "61m", "3d5h"]


# --------------------------------------------------------------------------
# The official Python client


def test_discovery_and_version(kube: Kube) -> None:
    assert client.VersionApi(kube.api).get_code().git_version.startswith("v1.")
    groups = {g.name for g in client.ApisApi(kube.api).get_api_versions().groups}
    assert {"apps", "coordination.k8s.io", "authorization.k8s.io", "events.k8s.io"} <= groups
    apps = {r.name: r for r in kube.apps.get_api_resources().resources}
    assert apps["deployments"].short_names == ["deploy"] and "patch" in apps["deployments"].verbs
    assert apps["deployments/scale"].group == "autoscaling" and apps["deployments/scale"].kind == "Scale"
    core = {r.name for r in kube.core.get_api_resources().resources}
    assert {"pods", "pods/log", "secrets", "configmaps", "events", "namespaces"} <= core


def test_list_and_get_pods_look_real(kube: Kube) -> None:
    pods = kube.pods()
    assert len(pods) == 3
    rs = kube.apps.list_namespaced_replica_set(NS, label_selector="app=clay-sync").items
    current = next(r for r in rs if r.spec.replicas == 3)
    for p in pods:
        assert p.metadata.name.startswith(current.metadata.name + "-") and len(p.metadata.name.rsplit("-", 1)[1]) == 5
        assert p.metadata.labels["pod-template-hash"] == current.metadata.labels["pod-template-hash"]
        assert p.metadata.owner_references[0].kind == "ReplicaSet" and p.metadata.owner_references[0].controller
        assert p.status.phase == "Running"
        cs = p.status.container_statuses[0]
        assert (cs.name, cs.ready, cs.restart_count, cs.started) == ("clay-sync", True, 0, True)
        assert cs.state.running.started_at is not None and cs.last_state.terminated is None
        assert {c.type: c.status for c in p.status.conditions}["Ready"] == "True"
        c = p.spec.containers[0]
        assert c.env[0].value_from.secret_key_ref.name == "clay-api" and c.env[0].value_from.secret_key_ref.key == "api-key"
        assert c.env_from[0].config_map_ref.name == "clay-sync-flags"
    one = kube.core.read_namespaced_pod(pods[0].metadata.name, NS)
    assert one.metadata.uid == pods[0].metadata.uid
    assert int(one.metadata.resource_version) > 0
    with pytest.raises(ApiException) as err:
        kube.core.read_namespaced_pod("nope", NS)
    body = _status(err.value)
    assert err.value.status == 404 and body["reason"] == "NotFound" and body["message"] == 'pods "nope" not found'
    assert body["kind"] == "Status" and body["details"] == {"name": "nope", "kind": "pods"}
    field = kube.core.list_namespaced_pod(NS, field_selector=f"metadata.name={pods[1].metadata.name}").items
    assert [p.metadata.name for p in field] == [pods[1].metadata.name]
    assert {p.env["CLAY_API_KEY"] for p in kube.call(kube.cluster.running_pods)} == {API_KEY}


def test_watch_streams_changes_and_resumes(kube: Kube) -> None:
    w = watch.Watch()
    initial = [e for e in w.stream(kube.core.list_namespaced_pod, NS, timeout_seconds=1)]
    assert [e["type"] for e in initial] == ["ADDED"] * 3
    rv = kube.core.list_namespaced_pod(NS).metadata.resource_version
    victim = initial[0]["object"].metadata.name
    threading.Timer(0.3, lambda: kube.core.delete_namespaced_pod(victim, NS)).start()
    live = []
    for event in watch.Watch().stream(kube.core.list_namespaced_pod, NS, resource_version=rv, timeout_seconds=2):
        live.append((event["type"], event["object"].metadata.name))
    assert ("MODIFIED", victim) in live  # deletionTimestamp set: Terminating
    added = [n for t, n in live if t == "ADDED"]
    assert len(added) == 1 and added[0] != victim  # its ReplicaSet replaced it at once
    kube.advance(10)
    replay = [
        (e["type"], e["object"].metadata.name)
        for e in watch.Watch().stream(kube.core.list_namespaced_pod, NS, resource_version=rv, timeout_seconds=1)
    ]
    assert ("DELETED", victim) in replay
    with pytest.raises(ApiException) as err:  # too old for the kept history → 410 Expired
        for _ in watch.Watch().stream(kube.core.list_namespaced_pod, NS, resource_version="1", timeout_seconds=1):
            pass
    assert err.value.status == 410


def test_log_follow_gets_new_lines_and_ends_with_the_container(kube: Kube) -> None:
    pod = kube.pods()[0].metadata.name
    for i in range(5):
        kube.call(kube.cluster.log, pod, f"level=info msg=old n={i}", T0 - 50 + i)
    resp = kube.core.read_namespaced_pod_log(pod, NS, follow=True, tail_lines=2, _preload_content=False, _request_timeout=10)
    got: list[str] = []

    def feed() -> None:
        time.sleep(0.2)
        kube.call(kube.cluster.log, pod, "level=info msg=fresh")
        time.sleep(0.2)
        kube.call(kube.cluster.crash, pod, "OOMKilled", 137)

    threading.Thread(target=feed).start()
    started = time.monotonic()
    for chunk in resp.stream(1024):
        got += chunk.decode().splitlines()
    assert time.monotonic() - started < 5
    assert got == ["level=info msg=old n=3", "level=info msg=old n=4", "level=info msg=fresh"]


def test_log_options(kube: Kube) -> None:
    pod = kube.pods()[0].metadata.name
    for i in range(10):
        kube.call(kube.cluster.log, pod, f"line {i}", T0 - 100 + 10 * i)  # T0-100 … T0-10
    text = kube.core.read_namespaced_pod_log(pod, NS, tail_lines=3)
    assert text.splitlines() == ["line 7", "line 8", "line 9"]
    assert kube.core.read_namespaced_pod_log(pod, NS, since_seconds=25).splitlines() == ["line 8", "line 9"]
    stamped = kube.core.read_namespaced_pod_log(pod, NS, tail_lines=1, timestamps=True)
    assert stamped == "2025-12-31T23:59:50.000000000Z line 9\n"
    with pytest.raises(ApiException) as err:
        kube.core.read_namespaced_pod_log(pod, NS, container="sidecar")
    assert err.value.status == 400 and _status(err.value)["message"] == f"container sidecar is not valid for pod {pod}"
    with pytest.raises(ApiException) as err:
        kube.core.read_namespaced_pod_log(pod, NS, previous=True)
    assert _status(err.value)["message"] == f'previous terminated container "clay-sync" in pod "{pod}" not found'
    kube.call(kube.cluster.crash, pod)
    kube.advance(11)  # back-off 10 s, then a new container
    kube.call(kube.cluster.log, pod, "after restart")
    assert kube.core.read_namespaced_pod_log(pod, NS).splitlines() == ["after restart"]
    assert kube.core.read_namespaced_pod_log(pod, NS, previous=True, tail_lines=1).splitlines() == ["line 9"]


def test_crash_loop_backoff_shapes_and_env_reresolved(kube: Kube) -> None:
    pod = kube.pods()[0].metadata.name
    kube.core.patch_namespaced_config_map("clay-sync-flags", NS, {"data": {"CLAY_FALLBACK_ENABLED": "true"}})
    assert kube.call(kube.cluster.crash, pod, "OOMKilled", 137)
    p = kube.core.read_namespaced_pod(pod, NS)
    cs = p.status.container_statuses[0]
    assert cs.state.waiting.reason == "CrashLoopBackOff"
    assert cs.state.waiting.message.startswith("back-off 10s restarting failed container=clay-sync pod=" + pod)
    assert (cs.last_state.terminated.reason, cs.last_state.terminated.exit_code) == ("OOMKilled", 137)
    assert (cs.restart_count, cs.ready, cs.started) == (1, False, False)
    assert pod not in [sp.name for sp in kube.call(kube.cluster.running_pods)]
    kube.advance(9)
    assert kube.core.read_namespaced_pod(pod, NS).status.container_statuses[0].state.waiting is not None
    kube.advance(2)
    cs = kube.core.read_namespaced_pod(pod, NS).status.container_statuses[0]
    assert cs.state.running is not None and cs.restart_count == 1
    sim = next(sp for sp in kube.call(kube.cluster.running_pods) if sp.name == pod)
    assert sim.env["CLAY_FALLBACK_ENABLED"] == "true" and sim.restarts == 1  # read again at container start
    kube.call(kube.cluster.crash, pod)
    msg = kube.core.read_namespaced_pod(pod, NS).status.container_statuses[0].state.waiting.message
    assert msg.startswith("back-off 20s ")
    reasons = {e.reason for e in kube.core.list_namespaced_event(NS, field_selector=f"involvedObject.name={pod}").items}
    assert {"BackOff", "Pulled", "Created", "Started"} <= reasons


def test_patch_types_and_dry_run(kube: Kube) -> None:
    d0 = kube.apps.read_namespaced_deployment("clay-sync", NS)
    env_patch = {"spec": {"template": {"spec": {"containers": [{"name": "clay-sync", "env": [{"name": "EXTRA", "value": "1"}]}]}}}}
    dry = kube.apps.patch_namespaced_deployment("clay-sync", NS, env_patch, dry_run="All")
    assert [e.name for e in dry.spec.template.spec.containers[0].env] == ["CLAY_API_KEY", "EXTRA"]
    after = kube.apps.read_namespaced_deployment("clay-sync", NS)
    assert after.metadata.resource_version == d0.metadata.resource_version and after.metadata.generation == d0.metadata.generation
    assert len(kube.apps.list_namespaced_replica_set(NS).items) == 2  # no rollout from a dry run
    d1 = kube.apps.patch_namespaced_deployment("clay-sync", NS, env_patch)  # strategic merge (the client's default)
    assert [e.name for e in d1.spec.template.spec.containers[0].env] == ["CLAY_API_KEY", "EXTRA"]
    assert d1.spec.template.spec.containers[0].image == d0.spec.template.spec.containers[0].image
    assert d1.metadata.generation == d0.metadata.generation + 1
    d2 = kube.apps.patch_namespaced_deployment(
        "clay-sync", NS, {"metadata": {"labels": {"team": "sync"}}}, _content_type="application/merge-patch+json"
    )
    assert d2.metadata.labels == {"app": "clay-sync", "team": "sync"} and d2.metadata.generation == d1.metadata.generation
    d3 = kube.apps.patch_namespaced_deployment("clay-sync", NS, [{"op": "replace", "path": "/spec/replicas", "value": 4}])
    assert d3.spec.replicas == 4
    with pytest.raises(ApiException) as err:
        kube.apps.patch_namespaced_deployment("clay-sync", NS, {"spec": {"replicas": -1}})
    body = _status(err.value)
    assert err.value.status == 422 and body["reason"] == "Invalid"
    assert body["message"] == 'Deployment.apps "clay-sync" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0'
    with pytest.raises(ApiException) as err:
        kube.apps.patch_namespaced_deployment("clay-sync", NS, {"metadata": {"resourceVersion": "1"}, "spec": {"replicas": 2}})
    assert err.value.status == 409 and _status(err.value)["reason"] == "Conflict"


def _roll(kube: Kube, seconds: float = 60) -> None:
    kube.advance(seconds)


def test_rollout_restart_replaces_every_pod(kube: Kube) -> None:
    before = {p.metadata.name for p in kube.pods()}
    patch = {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z"}}}}}
    kube.apps.patch_namespaced_deployment("clay-sync", NS, patch)
    first = kube.pods()
    new = [p for p in first if p.metadata.name not in before]
    assert len(new) == 1 and new[0].status.phase == "Pending"  # maxSurge 1: one new pod first
    assert new[0].status.container_statuses[0].state.waiting.reason == "ContainerCreating"
    _roll(kube)
    after = kube.pods()
    assert len(after) == 3 and not ({p.metadata.name for p in after} & before)
    assert all(p.status.container_statuses[0].ready for p in after)
    d = kube.apps.read_namespaced_deployment("clay-sync", NS)
    assert (d.status.replicas, d.status.updated_replicas, d.status.ready_replicas, d.status.available_replicas) == (3, 3, 3, 3)
    assert d.status.observed_generation == d.metadata.generation
    assert {c.type: c.reason for c in d.status.conditions} == {
        "Available": "MinimumReplicasAvailable",
        "Progressing": "NewReplicaSetAvailable",
    }
    assert d.metadata.annotations["deployment.kubernetes.io/revision"] == "3"
    events = kube.core.list_namespaced_event(NS).items
    scaling = [e.message for e in events if e.reason == "ScalingReplicaSet"]
    assert any(m.startswith("Scaled up replica set clay-sync-") and m.endswith("from 0 to 1") for m in scaling)
    assert any(e.reason == "Killing" and e.involved_object.name in before for e in events)


def test_scale_and_pause(kube: Kube) -> None:
    kube.apps.patch_namespaced_deployment_scale("clay-sync", NS, {"spec": {"replicas": 5}})
    assert kube.apps.read_namespaced_deployment_scale("clay-sync", NS).spec.replicas == 5
    _roll(kube, 15)
    assert len(_ready_pods(kube)) == 5
    kube.apps.patch_namespaced_deployment("clay-sync", NS, {"spec": {"paused": True}})
    names = {p.metadata.name for p in kube.pods()}
    kube.apps.patch_namespaced_deployment("clay-sync", NS, {"spec": {"template": {"metadata": {"annotations": {"x": "1"}}}}})
    _roll(kube, 30)
    assert {p.metadata.name for p in kube.pods()} == names  # paused: no rollout
    d = kube.apps.read_namespaced_deployment("clay-sync", NS)
    assert {c.type: c.reason for c in d.status.conditions}["Progressing"] == "DeploymentPaused"
    kube.apps.patch_namespaced_deployment("clay-sync", NS, {"spec": {"paused": False}})
    _roll(kube, 90)
    assert not ({p.metadata.name for p in _ready_pods(kube)} & names) and len(_ready_pods(kube)) == 5


def test_deleted_pod_is_replaced(kube: Kube) -> None:
    victim = kube.pods()[0].metadata.name
    deleted = kube.core.delete_namespaced_pod(victim, NS)
    assert deleted.metadata.deletion_timestamp is not None
    _roll(kube, 15)
    names = [p.metadata.name for p in kube.pods()]
    assert victim not in names and len(names) == 3


def test_secret_patch_reaches_new_pods_only(kube: Kube) -> None:
    new_key = "clay_live_key_two"
    kube.core.patch_namespaced_secret("clay-api", NS, {"data": {"api-key": base64.b64encode(new_key.encode()).decode()}})
    assert kube.call(kube.cluster.secret_value, "clay-api", "api-key") == new_key
    assert {p.env["CLAY_API_KEY"] for p in kube.call(kube.cluster.running_pods)} == {API_KEY}
    kube.core.patch_namespaced_secret("clay-api", NS, {"stringData": {"api-key": "clay_live_key_three"}})
    assert kube.call(kube.cluster.secret_value, "clay-api", "api-key") == "clay_live_key_three"
    assert (
        "stringData" not in kube.core.read_namespaced_secret("clay-api", NS).to_dict()
        or kube.core.read_namespaced_secret("clay-api", NS).string_data is None
    )
    kube.apps.patch_namespaced_deployment("clay-sync", NS, {"spec": {"template": {"metadata": {"annotations": {"r": "1"}}}}})
    _roll(kube)
    assert {p.env["CLAY_API_KEY"] for p in kube.call(kube.cluster.running_pods)} == {"clay_live_key_three"}


def test_lease_create_conflict_update_delete(kube: Kube) -> None:
    coord = client.CoordinationV1Api(kube.api)
    body = {"metadata": {"name": "clay-cockpit-actions"}, "spec": {"holderIdentity": "alice", "leaseDurationSeconds": 30}}
    made = coord.create_namespaced_lease(NS, body)
    assert made.metadata.resource_version and made.spec.holder_identity == "alice"
    with pytest.raises(ApiException) as err:
        coord.create_namespaced_lease(NS, body)
    assert err.value.status == 409 and _status(err.value)["reason"] == "AlreadyExists"
    made.spec.holder_identity = "bob"
    updated = coord.replace_namespaced_lease("clay-cockpit-actions", NS, made)
    assert updated.spec.holder_identity == "bob"
    made.spec.holder_identity = "carol"  # still carries the old resourceVersion
    with pytest.raises(ApiException) as err:
        coord.replace_namespaced_lease("clay-cockpit-actions", NS, made)
    assert err.value.status == 409 and _status(err.value)["message"] == (
        'Operation cannot be fulfilled on leases.coordination.k8s.io "clay-cockpit-actions": the object has been '
        "modified; please apply your changes to the latest version and try again"
    )
    coord.delete_namespaced_lease("clay-cockpit-actions", NS)
    with pytest.raises(ApiException) as err:
        coord.read_namespaced_lease("clay-cockpit-actions", NS)
    assert err.value.status == 404


def test_rbac_denials_and_access_review(kube: Kube) -> None:
    kube.call(kube.cluster.deny, "patch", "secrets")
    authz = client.AuthorizationV1Api(kube.api)

    def can(verb: str, resource: str) -> bool:
        review = {"spec": {"resourceAttributes": {"namespace": NS, "verb": verb, "resource": resource}}}
        return authz.create_self_subject_access_review(review).status.allowed

    assert can("patch", "secrets") is False and can("get", "secrets") is True
    with pytest.raises(ApiException) as err:
        kube.core.patch_namespaced_secret("clay-api", NS, {"stringData": {"api-key": "x"}})
    body = _status(err.value)
    assert err.value.status == 403 and body["reason"] == "Forbidden"
    assert body["message"] == (
        'secrets "clay-api" is forbidden: User "clay-drill-responder" cannot patch resource '
        '"secrets" in API group "" in the namespace "clay-sync"'
    )
    assert kube.call(kube.cluster.secret_value, "clay-api", "api-key") == API_KEY
    kube.call(kube.cluster.allow_all)
    assert can("patch", "secrets") is True


def test_expired_or_wrong_token_is_401_status(kube: Kube) -> None:
    kube.call(kube.cluster.expire_token)
    with pytest.raises(ApiException) as err:
        kube.pods()
    assert err.value.status == 401
    assert _status(err.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    }
    kube.call(kube.cluster.renew_token)
    assert len(kube.pods()) == 3
    assert kube.raw("/api/v1/namespaces/clay-sync/pods", token="wrong")[0] == 401


def test_table_rendering_for_kubectl(kube: Kube) -> None:
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    code, table = kube.raw("/api/v1/namespaces/clay-sync/pods", accept)
    assert code == 200 and table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0] == ["Name", "Ready", "Status", "Restarts", "Age"]
    assert all(r["cells"][1:4] == ["1/1", "Running", "0"] for r in table["rows"])
    code, table = kube.raw("/apis/apps/v1/namespaces/clay-sync/deployments", accept)
    assert [c["name"] for c in table["columnDefinitions"][:5]] == ["Name", "Ready", "Up-to-date", "Available", "Age"]
    assert table["rows"][0]["cells"][:5] == ["clay-sync", "3/3", 3, 3, "60d"]
    code, meta = kube.raw("/api/v1/namespaces/clay-sync/pods", "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io")
    assert meta["kind"] == "PartialObjectMetadataList" and len(meta["items"]) == 3
    assert set(meta["items"][0]) == {"kind", "apiVersion", "metadata"}


# --------------------------------------------------------------------------
# kubectl


def test_kubectl_get_logs_and_can_i(kube: Kube, kubectl_ok: None) -> None:
    out = kube.kubectl("get", "pods").stdout.splitlines()
    assert out[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"] and len(out) == 4
    assert all(line.split()[1:4] == ["1/1", "Running", "0"] for line in out[1:])
    out = kube.kubectl("get", "deploy").stdout.splitlines()
    assert out[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert out[1].split()[:4] == ["clay-sync", "3/3", "3", "3"]
    pod = out and kube.pods()[0].metadata.name
    kube.call(kube.cluster.log, pod, 'level=warn msg="clay call failed" status=429')
    assert kube.kubectl("logs", pod, "--tail=1").stdout == 'level=warn msg="clay call failed" status=429\n'
    assert kube.kubectl("auth", "can-i", "patch", "secrets").stdout.strip() == "yes"
    kube.call(kube.cluster.deny, "patch", "secrets")
    denied = kube.kubectl("auth", "can-i", "patch", "secrets", check=False)
    assert (denied.returncode, denied.stdout.strip()) == (1, "no")
    failed = kube.kubectl("patch", "secret", "clay-api", "-p", '{"stringData":{"api-key":"x"}}', check=False)
    assert failed.returncode == 1 and 'cannot patch resource "secrets" in API group "" in the namespace "clay-sync"' in failed.stderr
    kube.call(kube.cluster.expire_token)
    failed = kube.kubectl("get", "pods", check=False)
    assert failed.returncode == 1 and "You must be logged in to the server (Unauthorized)" in failed.stderr


def test_kubectl_patch_dry_run_changes_nothing(kube: Kube, kubectl_ok: None) -> None:
    rv = kube.apps.read_namespaced_deployment("clay-sync", NS).metadata.resource_version
    out = kube.kubectl(
        "patch", "deploy", "clay-sync", "--dry-run=server", "-p", '{"spec":{"replicas":7}}', "-o", "jsonpath={.spec.replicas}"
    ).stdout
    assert out == "7"
    d = kube.apps.read_namespaced_deployment("clay-sync", NS)
    assert (d.spec.replicas, d.metadata.resource_version) == (3, rv)


def test_kubectl_rollout_restart_and_status(kube: Kube, kubectl_ok: None) -> None:
    before = {p.metadata.name for p in kube.pods()}
    assert "restarted" in kube.kubectl("rollout", "restart", "deployment/clay-sync").stdout
    status = subprocess.Popen(
        [
            KUBECTL,
            "--kubeconfig",
            str(kube.kubeconfig),
            "--cache-dir",
            str(kube.cache),
            "rollout",
            "status",
            "deployment/clay-sync",
            "--timeout=60s",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(60):
            time.sleep(0.05)
            kube.advance(1)
        out, err = status.communicate(timeout=30)
    finally:
        if status.poll() is None:
            status.kill()
    assert status.returncode == 0, err
    assert 'deployment "clay-sync" successfully rolled out' in out
    assert "Waiting for deployment" in out
    assert not ({p.metadata.name for p in kube.pods()} & before)


def test_kubectl_watch_prints_rows(kube: Kube, kubectl_ok: None) -> None:
    proc = subprocess.Popen(
        [KUBECTL, "--kubeconfig", str(kube.kubeconfig), "--cache-dir", str(kube.cache), "get", "pods", "-w", "--request-timeout=3s"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.0)
        kube.core.delete_namespaced_pod(kube.pods()[0].metadata.name, NS)
        out, _ = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert any(" Terminating " in f" {line} " for line in lines[4:])
    assert any("Pending" in line or "ContainerCreating" in line for line in lines[4:])


def test_pagination_initial_events_and_bookmarks(kube: Kube, monkeypatch: pytest.MonkeyPatch) -> None:
    first = kube.core.list_namespaced_pod(NS, limit=2)
    assert len(first.items) == 2 and first.metadata._continue and first.metadata.remaining_item_count == 1
    rest = kube.core.list_namespaced_pod(NS, limit=2, _continue=first.metadata._continue)
    assert len(rest.items) == 1 and not rest.metadata._continue
    assert {p.metadata.name for p in first.items + rest.items} == {p.metadata.name for p in kube.pods()}
    from clay_cockpit.sim.kube import http as kube_http

    monkeypatch.setattr(kube_http, "BOOKMARK_EVERY", 0.2)
    resp = kube.core.list_namespaced_pod(
        NS,
        watch=True,
        send_initial_events=True,
        resource_version_match="NotOlderThan",
        allow_watch_bookmarks=True,
        timeout_seconds=2,
        _preload_content=False,
    )
    events = [json.loads(line) for line in resp.data.decode().splitlines()]
    assert [e["type"] for e in events[:4]] == ["ADDED", "ADDED", "ADDED", "BOOKMARK"]
    assert events[3]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert any(e["type"] == "BOOKMARK" and "annotations" not in e["object"]["metadata"] for e in events[4:])


def test_missing_secret_key_blocks_new_containers(kube: Kube) -> None:
    kube.core.patch_namespaced_secret("clay-api", NS, [{"op": "remove", "path": "/data/api-key"}])
    victim = kube.pods()[0].metadata.name
    kube.core.delete_namespaced_pod(victim, NS, grace_period_seconds=0)
    kube.advance(8)
    stuck = [p for p in kube.pods() if p.status.phase == "Pending"]
    assert len(stuck) == 1
    waiting = stuck[0].status.container_statuses[0].state.waiting
    assert (waiting.reason, waiting.message) == ("CreateContainerConfigError", "couldn't find key api-key in Secret clay-sync/clay-api")
    with pytest.raises(ApiException) as err:
        kube.core.read_namespaced_pod_log(stuck[0].metadata.name, NS)
    assert err.value.status == 400 and "is waiting to start: CreateContainerConfigError" in _status(err.value)["message"]
    kube.core.patch_namespaced_secret("clay-api", NS, {"stringData": {"api-key": "clay_live_key_fixed"}})
    kube.advance(6)
    pod = kube.core.read_namespaced_pod(stuck[0].metadata.name, NS)
    assert pod.status.phase == "Running"
    env = next(p.env for p in kube.call(kube.cluster.running_pods) if p.name == pod.metadata.name)
    assert env["CLAY_API_KEY"] == "clay_live_key_fixed"


def test_errors_and_dry_run_of_create_and_delete(kube: Kube) -> None:
    assert kube.raw("/api/v1/namespaces/clay-sync/widgets")[0] == 404
    code, body = kube.raw("/apis/nope.example.com/v1")
    assert code == 404 and body["reason"] == "NotFound"
    with pytest.raises(ApiException) as err:
        kube.core.delete_namespaced_secret("clay-api", NS)
    assert err.value.status == 405 and _status(err.value)["reason"] == "MethodNotAllowed"
    coord = client.CoordinationV1Api(kube.api)
    coord.create_namespaced_lease(NS, {"metadata": {"name": "x"}, "spec": {"holderIdentity": "a"}}, dry_run="All")
    assert coord.list_namespaced_lease(NS).items == []
    victim = kube.pods()[0]
    preview = kube.core.delete_namespaced_pod(victim.metadata.name, NS, dry_run="All")
    assert preview.metadata.deletion_timestamp is not None
    assert kube.core.read_namespaced_pod(victim.metadata.name, NS).metadata.deletion_timestamp is None
    code, body = kube.raw("/api/v1/namespaces/clay-sync/pods", token=None)
    assert code == 403 and body["message"] == 'forbidden: User "system:anonymous" cannot get path "/api/v1/namespaces/clay-sync/pods"'
    big = urllib.request.Request(
        kube.server + "/api/v1/namespaces/clay-sync/configmaps/clay-sync-flags",
        method="PATCH",
        data=b'{"data":{"x":"' + b"a" * (5 << 20) + b'"}}',
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/merge-patch+json"},
    )
    with pytest.raises(urllib.error.HTTPError) as too_big:
        urllib.request.urlopen(big, timeout=5, context=kube.cluster.tls().client_context())
    body = json.loads(too_big.value.read())
    assert too_big.value.code == 413 and (body["kind"], body["reason"]) == ("Status", "RequestEntityTooLarge")
    kube.call(kube.cluster.crash, victim.metadata.name)
    events = client.EventsV1Api(kube.api).list_namespaced_event(NS).items  # events.k8s.io view of the same Events
    backoff = [e for e in events if e.reason == "BackOff"]
    assert len(backoff) == 1 and backoff[0].regarding.name == victim.metadata.name and backoff[0].type == "Warning"
    assert backoff[0].note.startswith("Back-off restarting failed container clay-sync in pod ")


def test_kubectl_create_and_apply_use_server_validation(kube: Kube, kubectl_ok: None, tmp_path: Path) -> None:
    manifest = tmp_path / "lease.json"
    manifest.write_text(
        json.dumps(
            {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": "lock"},
                "spec": {"holderIdentity": "me", "leaseDurationSeconds": 30},
            }
        )
    )
    assert kube.kubectl("create", "-f", str(manifest)).stdout.strip() == "lease.coordination.k8s.io/lock created"
    again = kube.kubectl("create", "-f", str(manifest), check=False)
    assert again.returncode == 1 and 'leases.coordination.k8s.io "lock" already exists' in again.stderr
    cm = json.loads(kube.kubectl("get", "cm", "clay-sync-flags", "-o", "json").stdout)
    cm["data"]["CLAY_REQUEST_QUEUING"] = "true"
    (tmp_path / "cm.json").write_text(json.dumps(cm))
    assert "configured" in kube.kubectl("apply", "-f", str(tmp_path / "cm.json")).stdout
    assert kube.call(kube.cluster.configmap_value, "clay-sync-flags", "CLAY_REQUEST_QUEUING") == "true"


def test_update_status_subresource_and_since_time(kube: Kube) -> None:
    d = kube.apps.read_namespaced_deployment("clay-sync", NS)
    d.spec.replicas = 2
    updated = kube.apps.replace_namespaced_deployment("clay-sync", NS, d)
    assert updated.spec.replicas == 2 and updated.metadata.generation == d.metadata.generation + 1
    d.spec.replicas = 4  # stale resourceVersion
    with pytest.raises(ApiException) as err:
        kube.apps.replace_namespaced_deployment("clay-sync", NS, d)
    assert err.value.status == 409
    st = kube.apps.patch_namespaced_deployment_status("clay-sync", NS, {"status": {"readyReplicas": 0}, "spec": {"replicas": 9}})
    assert st.spec.replicas == 2  # the status subresource ignores spec
    assert kube.apps.read_namespaced_deployment_status("clay-sync", NS).metadata.name == "clay-sync"
    pod = kube.pods()[0].metadata.name
    for i in range(3):
        kube.call(kube.cluster.log, pod, f"at {i}", T0 - 30 + 10 * i)
    assert kube.core.read_namespaced_pod_log(pod, NS).splitlines() == ["at 0", "at 1", "at 2"]
    resp = urllib.request.urlopen(
        urllib.request.Request(
            kube.server + f"/api/v1/namespaces/clay-sync/pods/{pod}/log?sinceTime=2025-12-31T23:59:45Z",
            headers={"Authorization": f"Bearer {TOKEN}"},
        ),
        timeout=5,
        context=kube.cluster.tls().client_context(),
    )
    assert resp.read().decode().splitlines() == ["at 2"]


def test_buffers_are_bounded(kube: Kube) -> None:
    from clay_cockpit.sim.kube.pods import LOG_LINES
    from clay_cockpit.sim.kube.workload import MAX_EVENTS

    pod = kube.pods()[0].metadata.name

    def flood() -> None:
        for i in range(LOG_LINES + 100):
            kube.cluster.log(pod, f"line {i}")
        for i in range(MAX_EVENTS + 50):
            kube.cluster.ctl.events.record({"kind": "Pod", "namespace": NS, "name": pod, "uid": "u"}, "Test", f"m{i}", "Normal", "test", T0)

    kube.call(flood)
    lines = kube.core.read_namespaced_pod_log(pod, NS).splitlines()
    assert len(lines) == LOG_LINES and lines[-1] == f"line {LOG_LINES + 99}"
    assert len(kube.core.list_namespaced_event(NS).items) == MAX_EVENTS


def test_progress_deadline_only_for_an_unfinished_rollout(kube: Kube) -> None:
    def progressing() -> Any:
        d = kube.apps.read_namespaced_deployment("clay-sync", NS)
        return next(c for c in d.status.conditions if c.type == "Progressing")

    pods = [p.metadata.name for p in kube.pods()]
    kube.call(kube.cluster.crash, pods[0])  # a crash after a finished rollout changes nothing
    kube.advance(700, step=5)
    assert progressing().reason == "NewReplicaSetAvailable"
    kube.core.patch_namespaced_secret("clay-api", NS, [{"op": "remove", "path": "/data/api-key"}])
    kube.apps.patch_namespaced_deployment("clay-sync", NS, {"spec": {"template": {"metadata": {"annotations": {"r": "2"}}}}})
    assert progressing().reason in ("NewReplicaSetCreated", "ReplicaSetUpdated")
    kube.advance(605, step=5)  # the new pod can never start: no key
    cond = progressing()
    assert (cond.status, cond.reason) == ("False", "ProgressDeadlineExceeded")
    assert cond.message.endswith("has timed out progressing.")


def test_pod_quota_bounds_a_huge_scale(kube: Kube) -> None:
    from clay_cockpit.sim.kube.workload import POD_QUOTA

    kube.apps.patch_namespaced_deployment_scale("clay-sync", NS, {"spec": {"replicas": 500}})
    kube.advance(3)
    assert len(kube.pods()) == POD_QUOTA
    failed = [e for e in kube.core.list_namespaced_event(NS).items if e.reason == "FailedCreate"]
    assert failed and "exceeded quota: clay-sync-quota" in failed[0].message and failed[0].type == "Warning"


_json = st_recursive = None  # (set below; keeps hypothesis imports next to their one test)


def test_odd_patches_never_break_the_server_or_the_controllers(kube: Kube) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    scalar = st.one_of(st.none(), st.booleans(), st.integers(-3, 6), st.sampled_from(["", "x", "25%", "clay-sync", "Recreate"]))
    value = st.recursive(
        scalar,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["name", "image", "replicas", "app", "x"]), inner, max_size=3)
        ),
        max_leaves=6,
    )
    paths = st.sampled_from(
        [
            ("spec", "replicas"),
            ("spec", "paused"),
            ("spec", "strategy"),
            ("spec", "selector"),
            ("spec", "template", "spec", "containers"),
            ("spec", "template", "metadata", "labels"),
            ("metadata", "labels"),
            ("spec", "template", "spec", "containers", 0, "env"),
            ("spec",),
        ]
    )

    def nest(path: tuple, v: Any) -> Any:
        for key in reversed(path):
            v = [v] if key == 0 else {key: v}
        return v

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(path=paths, v=value, kind=st.sampled_from(["application/strategic-merge-patch+json", "application/merge-patch+json"]))
    def run(path: tuple, v: Any, kind: str) -> None:
        try:
            kube.apps.patch_namespaced_deployment("clay-sync", NS, nest(path, v), _content_type=kind)
        except ApiException as exc:
            assert 400 <= exc.status < 500, exc.body
            assert _status(exc)["kind"] == "Status"
        kube.advance(2)  # the controllers must cope with whatever was accepted

    run()
    assert kube.apps.read_namespaced_deployment("clay-sync", NS).spec.template.spec.containers


def test_odd_bodies_for_other_kinds_get_4xx_status(kube: Kube) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    scalar = st.one_of(st.none(), st.booleans(), st.integers(-2, 3), st.sampled_from(["", "a", "!!", "YQ==", "2026-01-01T00:00:00Z"]))
    value = st.recursive(
        scalar,
        lambda inner: st.one_of(
            st.lists(inner, max_size=2),
            st.dictionaries(
                st.sampled_from(
                    [
                        "data",
                        "spec",
                        "metadata",
                        "stringData",
                        "holderIdentity",
                        "leaseDurationSeconds",
                        "renewTime",
                        "api-key",
                        "replicas",
                        "type",
                        "name",
                        "labels",
                    ]
                ),
                inner,
                max_size=3,
            ),
        ),
        max_leaves=6,
    )
    coord = client.CoordinationV1Api(kube.api)
    coord.create_namespaced_lease(NS, {"metadata": {"name": "l"}, "spec": {"holderIdentity": "a"}})
    targets = {
        "configmap": lambda b: kube.core.patch_namespaced_config_map(
            "clay-sync-flags", NS, b, _content_type="application/merge-patch+json"
        ),
        "secret": lambda b: kube.core.patch_namespaced_secret("clay-api", NS, b, _content_type="application/merge-patch+json"),
        "lease": lambda b: coord.patch_namespaced_lease("l", NS, b, _content_type="application/merge-patch+json"),
        "scale": lambda b: kube.apps.patch_namespaced_deployment_scale("clay-sync", NS, b, _content_type="application/merge-patch+json"),
        "jsonpatch": lambda b: kube.apps.patch_namespaced_deployment("clay-sync", NS, [{"op": "replace", "path": "/spec", "value": b}]),
    }

    @settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        target=st.sampled_from(sorted(targets)),
        body=st.dictionaries(st.sampled_from(["data", "spec", "metadata", "stringData", "type"]), value, max_size=3),
    )
    def run(target: str, body: dict) -> None:
        try:
            targets[target](body)
        except ApiException as exc:
            assert 400 <= exc.status < 500, exc.body
            assert _status(exc)["kind"] == "Status"
        kube.advance(1)

    run()
    assert kube.apps.read_namespaced_deployment("clay-sync", NS).metadata.name == "clay-sync"


def test_concurrent_replace_with_the_same_resource_version_conflicts(kube: Kube) -> None:
    """Two cockpits replace one Lease with the same resourceVersion: the one
    whose body arrives last must get 409, even if it started first (the body
    is read before the stored object is compared, as on a real API server)."""
    import http.client

    coord = client.CoordinationV1Api(kube.api)
    made = coord.create_namespaced_lease(NS, {"metadata": {"name": "race"}, "spec": {"holderIdentity": "nobody"}})
    rv = made.metadata.resource_version
    path = f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases/race"

    def body(holder: str) -> bytes:
        return json.dumps(
            {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": "race", "namespace": NS, "resourceVersion": rv},
                "spec": {"holderIdentity": holder},
            }
        ).encode()

    slow_body = body("slow")
    slow = http.client.HTTPSConnection("127.0.0.1", kube.port, timeout=10, context=kube.cluster.tls().client_context())
    slow.putrequest("PUT", path)
    for name, value in (
        ("Authorization", f"Bearer {TOKEN}"),
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(slow_body))),
    ):
        slow.putheader(name, value)
    slow.endheaders(slow_body[:10])  # headers and the start of the body: the server now waits for the rest
    time.sleep(0.3)
    fast = http.client.HTTPSConnection("127.0.0.1", kube.port, timeout=10, context=kube.cluster.tls().client_context())
    fast.request("PUT", path, body=body("fast"), headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    assert fast.getresponse().status == 200
    slow.send(slow_body[10:])
    answer = slow.getresponse()
    assert answer.status == 409, answer.read()
    assert coord.read_namespaced_lease("race", NS).spec.holder_identity == "fast"
