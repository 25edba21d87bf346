"""The node-pressure drill end to end, as kubectl and the official client see it:
the busiest node's kubelet reports MemoryPressure, the node is tainted, our pods
there are evicted (Failed, Evicted, with the kubelet's message and events) and
replaced on the other nodes; node Leases are renewed while a kubelet runs and go
stale when it stops (the node then goes NotReady). And the scheduler: with no
node left that fits, a new pod waits Pending with FailedScheduling.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from kubernetes import client, config
from test_sim_bad_deploy import NS, kubectl, kubectl_ok  # noqa: F401  (kubectl_ok: a fixture)
from test_sim_kube import Kube, kube  # noqa: F401  (kube: a fixture)

LEASES = "kube-node-lease"
NODES = ("drill-node-1", "drill-node-2", "drill-node-3")
EVICTED = "The node was low on resource: memory. Threshold quantity: 100Mi, available: "


def conditions(node: Any) -> dict[str, Any]:
    return {c.type: c for c in node.status.conditions}


def lease_ages(coord: client.CoordinationV1Api, now: float) -> dict[str, float]:
    leases = coord.list_namespaced_lease(LEASES, _request_timeout=5).items
    assert all(le.spec.holder_identity == le.metadata.name and le.spec.lease_duration_seconds == 40 for le in leases)
    return {le.metadata.name: now - le.spec.renew_time.timestamp() for le in leases}


@pytest.mark.scenario("node-pressure")
@pytest.mark.usefixtures("kubectl_ok")
def test_memory_pressure_taints_the_node_evicts_our_pods_and_they_land_elsewhere(sim: Any) -> None:
    api = config.new_client_from_config(config_file=str(sim.kubeconfig), context=sim.context)
    core, coord = client.CoreV1Api(api), client.CoordinationV1Api(api)
    try:
        sim.advance(15)
        before = {p.metadata.name: p.spec.node_name for p in core.list_namespaced_pod(NS, _request_timeout=5).items}
        busiest = max(NODES, key=lambda n: (list(before.values()).count(n), -NODES.index(n)))
        doomed = {name for name, node in before.items() if node == busiest}
        assert doomed and "Taints:             <none>" in kubectl(sim, "describe", "node", busiest)
        assert max(lease_ages(coord, sim.state()["now"]).values()) < 10, "every kubelet renews its Lease every 10 s"

        sim.advance(15 + 10 * len(doomed))  # pressure at 20 s, first eviction 5 s later, then one every 10 s
        node = core.read_node(busiest, _request_timeout=5)
        mp = conditions(node)["MemoryPressure"]
        assert (mp.status, mp.reason, mp.message) == ("True", "KubeletHasInsufficientMemory", "kubelet has insufficient memory available")
        assert conditions(node)["Ready"].status == "True", "memory pressure alone leaves the node Ready"
        assert [(t.key, t.effect) for t in node.spec.taints] == [("node.kubernetes.io/memory-pressure", "NoSchedule")]
        described = kubectl(sim, "describe", "node", busiest)
        assert "Taints:             node.kubernetes.io/memory-pressure:NoSchedule" in described
        assert "EvictionThresholdMet" in described and "Attempting to reclaim memory" in described
        assert f"HolderIdentity:  {busiest}" in described and "Failed to get lease" not in described
        assert "Non-terminated Pods:          (0 in total)" in described, "nothing of ours runs there any more"

        pods = {p.metadata.name: p for p in core.list_namespaced_pod(NS, _request_timeout=5).items}
        evicted = {n for n, p in pods.items() if p.status.reason == "Evicted"}
        assert evicted == doomed
        for name in evicted:
            p = pods[name]
            assert p.status.phase == "Failed" and p.status.message.startswith(EVICTED), p.status.message
            assert p.status.message.endswith("Container clay-sync was using " + p.status.message.split("was using ")[1])
            dt = next(c for c in p.status.conditions if c.type == "DisruptionTarget")
            assert (dt.status, dt.reason) == ("True", "TerminationByKubelet")
            term = p.status.container_statuses[0].state.terminated
            assert (term.exit_code, term.reason) == (137, "Error")
        live = [p for n, p in pods.items() if n not in evicted]
        assert len(live) == 3 and all(p.status.phase == "Running" and p.spec.node_name != busiest for p in live)
        wide = kubectl(sim, "get", "pods", "-o", "wide")
        for name in evicted:
            row = next(r.split() for r in wide.splitlines() if r.startswith(name))
            assert row[1:3] == ["0/1", "Error"] and row[6] == busiest, row
        warnings = kubectl(
            sim, "get", "events", "--field-selector", "type=Warning,reason=Evicted", "-o", "custom-columns=OBJ:.involvedObject.name"
        )
        assert set(warnings.split()[1:]) == evicted
        assert sim.state()["faults"][0]["kind"] == "node_pressure"

        # 120 s after the pressure began its kubelet stops: the Lease goes stale, NotReady once it expired
        sim.advance(200 - (30 + 10 * len(doomed)))
        ages = lease_ages(coord, sim.state()["now"])
        assert ages[busiest] > 40 and all(ages[n] < 10 for n in NODES if n != busiest), ages
        nodes = kubectl(sim, "get", "nodes")
        assert next(r.split()[1] for r in nodes.splitlines() if r.startswith(busiest)) == "NotReady"
        assert all(next(r.split()[1] for r in nodes.splitlines() if r.startswith(n)) == "Ready" for n in NODES if n != busiest)
        gone = core.read_node(busiest, _request_timeout=5)
        assert {c.status for c in gone.status.conditions} == {"Unknown"}
        assert {c.message for c in gone.status.conditions} == {"Kubelet stopped posting node status."}
        assert {(t.key, t.effect) for t in gone.spec.taints} >= {
            ("node.kubernetes.io/unreachable", "NoSchedule"),
            ("node.kubernetes.io/unreachable", "NoExecute"),
        }

        # the running kubelets post their unchanged status every 5 minutes; the stopped one posts nothing
        sim.advance(150)
        now = sim.state()["now"]
        beats = {n.metadata.name: conditions(n)["Ready"].last_heartbeat_time.timestamp() for n in core.list_node(_request_timeout=5).items}
        assert all(now - beats[n] < 300 for n in NODES if n != busiest) and now - beats[busiest] > 300, (now, beats)
    finally:
        api.close()


def test_with_no_node_that_fits_a_new_pod_waits_pending_until_one_does(kube: Kube) -> None:  # noqa: F811
    """Every node under memory pressure: the replacement of a deleted pod is unschedulable
    (FailedScheduling with kube-scheduler's message); when one node recovers it is placed there."""
    for name in NODES:
        kube.call(kube.cluster.memory_pressure, name, True)
    victim = kube.pods()[0].metadata.name
    kube.core.delete_namespaced_pod(victim, NS, _request_timeout=5)
    kube.advance(10)
    pending = [p for p in kube.pods() if p.status.phase == "Pending"]
    assert len(pending) == 1 and pending[0].spec.node_name is None
    sched = pending[0].status.conditions[0]
    want = (
        "0/3 nodes are available: 3 node(s) had untolerated taint {node.kubernetes.io/memory-pressure: }. "
        "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    )
    assert (sched.type, sched.status, sched.reason, sched.message) == ("PodScheduled", "False", "Unschedulable", want)
    events = kube.core.list_namespaced_event(NS, field_selector=f"involvedObject.name={pending[0].metadata.name}", _request_timeout=5)
    assert [(e.reason, e.type, e.message) for e in events.items] == [("FailedScheduling", "Warning", want)]

    kube.call(kube.cluster.memory_pressure, "drill-node-2", False)
    kube.advance(15)
    placed = kube.core.read_namespaced_pod(pending[0].metadata.name, NS, _request_timeout=5)
    assert placed.spec.node_name == "drill-node-2" and placed.status.phase == "Running", placed.status
    assert placed.status.pod_ip.startswith("10.244.2.")
    reasons = [e.reason for e in kube.core.list_namespaced_event(NS, field_selector=f"involvedObject.name={placed.metadata.name}").items]
    assert reasons[:2] == ["FailedScheduling", "Scheduled"] and "Started" in reasons
    node = kube.core.read_node("drill-node-2", _request_timeout=5)
    assert node.spec.taints is None and conditions(node)["MemoryPressure"].reason == "KubeletHasSufficientMemory"
    assert datetime.fromisoformat(str(conditions(node)["MemoryPressure"].last_transition_time)).timestamp() == pytest.approx(
        kube.clock.t - 15
    )
