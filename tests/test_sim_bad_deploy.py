"""The bad-deploy drill end to end: CI rolls out 1.14.3 through the deployment
controller, our health endpoint goes down for a reason of our own (Clay is fine),
the pods say why and which version they run, and ``kubectl rollout undo`` brings
1.14.2 back — in the pods' logs and in health.

The drill runs on its frozen clock, played forward second by second
(``sim.advance``); kubectl and the official client talk to it over HTTPS.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client, config

NS, DEPLOY = "clay-sync", "clay-sync"
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
CAUSE = "ci: deploy clay-sync 1.14.3 (pipeline #4812)"
ERROR = "write rows: encode enrichment result: json: unsupported value: NaN"


@pytest.fixture
def kubectl_ok() -> None:
    if not Path(KUBECTL).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("kubectl is required in CI but was not found on PATH or at /usr/bin/kubectl")
        pytest.skip("kubectl is not installed (/usr/bin/kubectl missing)")


def kubectl(sim: Any, *args: str) -> str:
    proc = subprocess.run(
        [KUBECTL, "--kubeconfig", str(sim.kubeconfig), "--context", sim.context, "-n", NS, *args],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, f"kubectl {' '.join(args)}: {proc.stderr}"
    return proc.stdout


def health(sim: Any) -> tuple[int, dict[str, Any]]:
    resp = httpx.get(sim.endpoints["health"] + "/health", timeout=5)
    return resp.status_code, resp.json()


def history(sim: Any) -> dict[int, str]:
    """``kubectl rollout history``: revision → change-cause."""
    rows = kubectl(sim, "rollout", "history", f"deployment/{DEPLOY}").splitlines()[2:]
    return {int(r.split(None, 1)[0]): r.split(None, 1)[1].strip() for r in rows if r.strip()}


def running(core: client.CoreV1Api) -> list[Any]:
    pods = core.list_namespaced_pod(NS, label_selector="app=clay-sync", _request_timeout=5).items
    return [p for p in pods if p.metadata.deletion_timestamp is None and p.status.phase == "Running"]


def tag(pod: Any) -> str:
    image: str = pod.spec.containers[0].image
    return image.rsplit(":", 1)[1]


@pytest.mark.scenario("bad-deploy")
def test_a_ci_rollout_breaks_health_and_rollout_undo_brings_the_old_version_back(sim: Any, kubectl_ok: None) -> None:
    api = config.new_client_from_config(config_file=str(sim.kubeconfig), context=sim.context)
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    try:
        # before: 1.14.2 serves and is healthy; CI deployed it (revision 2)
        sim.advance(15)
        status, body = health(sim)
        assert (status, body["status"], body["version"]) == (200, "ok", "1.14.2")
        assert history(sim) == {1: "ci: deploy clay-sync 1.14.1 (pipeline #4471)", 2: "ci: deploy clay-sync 1.14.2 (pipeline #4539)"}

        # CI rolls out 1.14.3 at 20 s; the controller replaces every pod within maxSurge
        sim.advance(55)
        assert history(sim)[3] == CAUSE
        assert "registry.internal/clay-sync:1.14.3" in kubectl(sim, "rollout", "history", f"deployment/{DEPLOY}", "--revision=3")
        deploy = apps.read_namespaced_deployment(DEPLOY, NS, _request_timeout=5)
        assert deploy.metadata.annotations["kubernetes.io/change-cause"] == CAUSE
        assert deploy.metadata.annotations["deployment.kubernetes.io/revision"] == "3"
        ci = [m for m in deploy.metadata.managed_fields if m.manager == "ci-deploy"]
        assert len(ci) == 1 and ci[0].operation == "Update"
        assert ci[0].time.timestamp() == pytest.approx(sim.state()["now"] - 50, abs=1)
        assert "f:image" in str(ci[0].fields_v1)
        new_rs = next(
            rs
            for rs in apps.list_namespaced_replica_set(NS, _request_timeout=5).items
            if rs.metadata.annotations["deployment.kubernetes.io/revision"] == "3"
        )
        assert new_rs.metadata.annotations["kubernetes.io/change-cause"] == CAUSE
        scaled = kubectl(sim, "get", "events", "--field-selector", "reason=ScalingReplicaSet", "-o", "custom-columns=MSG:.message")
        assert f"Scaled up replica set {new_rs.metadata.name} from 0 to 1" in scaled
        assert f"Scaled up replica set {new_rs.metadata.name} from 2 to 3" in scaled
        pods = running(core)
        assert {tag(p) for p in pods} == {"1.14.3"} and len(pods) == 3
        assert all(p.status.container_statuses[0].ready for p in pods), "the broken release passes its readiness probe"

        # our health is down for our own reason; Clay is fine
        status, body = health(sim)
        assert (status, body["status"], body["version"]) == (503, "down", "1.14.3")
        assert body["checks"]["queue"]["status"] == "fail" and ERROR in body["checks"]["queue"]["detail"]
        assert body["checks"]["clay_api"]["status"] == "ok", body["checks"]["clay_api"]
        log = core.read_namespaced_pod_log(pods[0].metadata.name, NS, _request_timeout=5)
        assert f'msg="starting clay-sync" version=1.14.3 pod={pods[0].metadata.name}' in log
        failed = [ln for ln in log.splitlines() if 'msg="sync job failed"' in ln]
        assert failed and all(f'version=1.14.3 error="{ERROR}"' in ln and "clay_status=200" in ln for ln in failed[:20])

        # the responder rolls back; the previous ReplicaSet comes back as revision 4
        assert "rolled back" in kubectl(sim, "rollout", "undo", f"deployment/{DEPLOY}")
        sim.advance(60)
        assert history(sim) == {
            1: "ci: deploy clay-sync 1.14.1 (pipeline #4471)",
            3: CAUSE,
            4: "ci: deploy clay-sync 1.14.2 (pipeline #4539)",
        }
        back = next(
            rs
            for rs in apps.list_namespaced_replica_set(NS, _request_timeout=5).items
            if rs.metadata.annotations["deployment.kubernetes.io/revision"] == "4"
        )
        assert back.metadata.annotations["deployment.kubernetes.io/revision-history"] == "2"
        # when it was reused shows in managedFields (the controller's write), not in its days-old creationTimestamp
        bad_rs = next(
            rs
            for rs in apps.list_namespaced_replica_set(NS, _request_timeout=5).items
            if rs.metadata.annotations["deployment.kubernetes.io/revision"] == "3"
        )
        controller = [f for f in back.metadata.managed_fields if f.manager == "kube-controller-manager"]
        assert controller and max(f.time for f in controller) > bad_rs.metadata.creation_timestamp
        assert back.spec.template.spec.containers[0].image.endswith(":1.14.2") and back.status.ready_replicas == 3
        pods = running(core)
        assert {tag(p) for p in pods} == {"1.14.2"} and len(pods) == 3
        for p in pods:
            log = core.read_namespaced_pod_log(p.metadata.name, NS, _request_timeout=5)
            assert f'msg="starting clay-sync" version=1.14.2 pod={p.metadata.name}' in log
            assert 'msg="sync job failed"' not in log
        status, body = health(sim)
        assert (status, body["status"], body["version"]) == (200, "ok", "1.14.2"), body
    finally:
        api.close()


@pytest.mark.parametrize(
    ("fault", "key", "words"),
    [
        ({"kind": "bad_release", "image": "1.14.3 beta"}, "faults[1].image", "an image tag like 1.14.3"),
        ({"kind": "bad_release", "image": "1.14.3", "end": 90.0}, "faults[1].end", "0 (a release stays until it is rolled back)"),
        ({"kind": "bad_release", "cause": " "}, "faults[1].cause", "a non-empty string"),
        ({"kind": "bad_release", "after": 20.0}, "faults[1].after", "unknown key"),  # belongs to crashloop
        ({"kind": "node_pressure", "node": "node-9"}, "faults[1].node", "one of drill-node-1, drill-node-2, drill-node-3"),
        ({"kind": "node_pressure", "available_mi": 120}, "faults[1].available_mi", "99"),
        ({"kind": "node_pressure", "end": 60.0, "not_ready_after": 50.0}, "faults[1].not_ready_after", "less than end - start (40)"),
    ],
)
def test_a_mistake_in_a_release_or_node_fault_is_one_line_naming_its_key(tmp_path: Path, fault: dict, key: str, words: str) -> None:
    from test_sim_scenario import _base, _one_line_error, _write

    data = _base()
    data["faults"].append(fault)
    text = _one_line_error(_write(tmp_path, data))
    assert f": {key}:" in text and words in text, text
