"""Cordoning a node in the drill (issue 14): ``kubectl cordon`` / ``uncordon``
patch ``spec.unschedulable`` (a strategic merge patch, ``null`` to lift it),
the nodes table says ``Ready,SchedulingDisabled``, the node lifecycle
controller adds and lifts the ``node.kubernetes.io/unschedulable`` taint, the
node's kubelet records NodeNotSchedulable / NodeSchedulable, the scheduler
keeps new pods off it, and RBAC answers at the cluster scope.

kubectl is required in CI (``CI=true``) and skipped elsewhere when missing.
"""

from __future__ import annotations

import json
from typing import Any

from test_sim_kube import NS, Kube, kube, kubectl_ok  # noqa: F401 (fixtures)
from test_sim_kubectl_realism import _request

from clay_cockpit.sim import wiring
from clay_cockpit.sim.kube.nodes import UNSCHEDULABLE

NODE = "drill-node-3"


def _node(k: Kube, name: str = NODE) -> dict[str, Any]:
    return json.loads(k.kubectl("get", "node", name, "-o", "json", "--show-managed-fields").stdout)


def _status_column(k: Kube) -> dict[str, str]:
    lines = k.kubectl("get", "nodes").stdout.splitlines()
    return {line.split()[0]: line.split()[1] for line in lines[1:]}


def test_kubectl_cordon_and_uncordon(kube: Kube, kubectl_ok: None) -> None:  # noqa: F811 (fixtures)
    before = _node(kube)
    assert kube.kubectl("cordon", NODE).stdout.strip() == f"node/{NODE} cordoned"
    node = _node(kube)
    assert node["spec"]["unschedulable"] is True
    assert {"key": UNSCHEDULABLE, "effect": "NoSchedule"} in node["spec"]["taints"]  # the node lifecycle controller
    assert node["status"] == before["status"]  # the kubelet's, untouched
    cordoned = [e for e in node["metadata"]["managedFields"] if e["fieldsV1"].get("f:spec", {}).get("f:unschedulable") is not None]
    assert len(cordoned) == 1 and cordoned[0]["manager"].startswith("kubectl"), node["metadata"]["managedFields"]
    assert _status_column(kube) == {"drill-node-1": "Ready", "drill-node-2": "Ready", NODE: "Ready,SchedulingDisabled"}
    described = kube.kubectl("describe", "node", NODE).stdout
    assert "Unschedulable:      true" in described and f"{UNSCHEDULABLE}:NoSchedule" in described, described
    assert kube.kubectl("cordon", NODE).stdout.strip() == f"node/{NODE} already cordoned"

    assert kube.kubectl("uncordon", NODE).stdout.strip() == f"node/{NODE} uncordoned"
    node = _node(kube)
    assert "unschedulable" not in node["spec"] and not any(t["key"] == UNSCHEDULABLE for t in node["spec"].get("taints", []))
    assert _status_column(kube)[NODE] == "Ready"
    events = kube.kubectl("get", "events", "-A", "--field-selector", f"involvedObject.name={NODE}", "-o", "json").stdout
    said = [(e["reason"], e["message"], e["source"].get("component")) for e in json.loads(events)["items"]]
    assert (("NodeNotSchedulable", f"Node {NODE} status is now: NodeNotSchedulable", "kubelet") in said) and (
        ("NodeSchedulable", f"Node {NODE} status is now: NodeSchedulable", "kubelet") in said
    ), said


def test_a_cordoned_node_gets_no_new_pods(kube: Kube, kubectl_ok: None) -> None:  # noqa: F811 (fixtures)
    for n in ("drill-node-1", "drill-node-2", NODE):
        kube.kubectl("cordon", n)
    victim = kube.pods()[0].metadata.name
    kube.kubectl("-n", NS, "delete", "pod", victim, "--wait=false")
    kube.advance(35)  # the old pod's grace, then the scheduler tries the replacement
    pending = [p for p in kube.pods() if p.status.phase == "Pending"]
    assert len(pending) == 1 and pending[0].spec.node_name is None, [(p.metadata.name, p.status.phase) for p in kube.pods()]
    scheduled = next(c for c in pending[0].status.conditions if c.type == "PodScheduled")
    assert scheduled.reason == "Unschedulable" and "3 node(s) were unschedulable" in scheduled.message, scheduled.message
    kube.kubectl("uncordon", "drill-node-1")
    kube.advance(20)
    placed = next(p for p in kube.pods() if p.metadata.name == pending[0].metadata.name)
    assert placed.spec.node_name == "drill-node-1"


def test_node_writes_are_checked_and_cannot_touch_the_status(kube: Kube, kubectl_ok: None) -> None:  # noqa: F811 (fixtures)
    bad = kube.kubectl("patch", "node", NODE, "-p", '{"spec":{"unschedulable":"yes"}}', check=False)
    assert bad.returncode == 1
    assert "cannot unmarshal string into Go struct field NodeSpec.spec.unschedulable of type bool" in bad.stderr, bad.stderr
    effect = kube.kubectl(
        "patch", "node", NODE, "--type=merge", "-p", '{"spec":{"taints":[{"key":"x","effect":"Sometimes"}]}}', check=False
    )
    assert effect.returncode == 1
    assert 'spec.taints[0].effect: Unsupported value: "Sometimes"' in effect.stderr, effect.stderr
    before = _node(kube)["status"]
    kube.kubectl("patch", "node", NODE, "--type=merge", "-p", '{"status":{"conditions":[]},"metadata":{"labels":{"team":"sync"}}}')
    after = _node(kube)
    assert after["status"] == before and after["metadata"]["labels"]["team"] == "sync"


def test_cordon_is_at_the_cluster_scope_for_rbac(kube: Kube, kubectl_ok: None) -> None:  # noqa: F811 (fixtures)
    review = {
        "kind": "SelfSubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "spec": {"resourceAttributes": {"verb": "patch", "resource": "nodes", "name": NODE}},
    }
    code, body = _request(kube, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", review)
    assert code == 201 and body["status"]["allowed"] is True
    assert body["status"]["reason"].startswith("RBAC: allowed by ClusterRoleBinding "), body["status"]
    review["spec"]["resourceAttributes"] = {"verb": "patch", "resource": "deployments", "group": "apps", "namespace": NS}
    code, body = _request(kube, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", review)
    assert body["status"]["reason"].startswith("RBAC: allowed by RoleBinding "), body["status"]

    kube.call(kube.cluster.deny, "patch", "nodes")
    assert kube.kubectl("auth", "can-i", "patch", "nodes", check=False).stdout.strip() == "no"
    refused = kube.kubectl("cordon", NODE, check=False)
    # (kubectl v1.32 prints the patch's error and still exits 0: only stderr tells)
    assert (
        f'error: unable to cordon node "{NODE}": nodes "{NODE}" is forbidden: User "{wiring.USER}" cannot patch resource "nodes" in API group "" at the cluster scope'
        in refused.stderr
    ), refused.stderr
    assert "unschedulable" not in _node(kube)["spec"]
