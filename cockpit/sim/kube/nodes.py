"""The drill cluster's nodes: their objects, the kubelet's node status and
Lease heartbeats, the taints the node lifecycle controller keeps in step with
the conditions, and the scheduler's node filter.

A node object carries the four conditions a kubelet posts (MemoryPressure,
DiskPressure, PIDPressure, Ready) with the kubelet's reasons and messages,
capacity and allocatable, and a Lease in ``kube-node-lease`` that the kubelet
renews every 10 s while it runs (``kubectl describe node`` shows it). A node
under memory pressure gets ``node.kubernetes.io/memory-pressure:NoSchedule``;
a node whose kubelet stops posting goes Unknown on every condition, its Lease
goes stale and it gets the ``unreachable`` taints — as on a real cluster.
"""

from __future__ import annotations

import copy
import hashlib
import random
from collections.abc import Callable
from typing import Any

from clay_cockpit.sim.kube.store import Obj, Store
from clay_cockpit.sim.kube.util import rfc3339, rfc3339_micro, uid

LEASE_NS = "kube-node-lease"
LEASE_SECONDS = 40  # the kubelet's nodeLeaseDurationSeconds
RENEW_EVERY = 10.0  # the kubelet renews its Lease every 10 s (a quarter of its duration)
REPORT_EVERY = 300.0  # … and posts an unchanged node status every 5 minutes (nodeStatusReportFrequency)
MEMORY_PRESSURE = "node.kubernetes.io/memory-pressure"
UNREACHABLE = "node.kubernetes.io/unreachable"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
STOPPED = "Kubelet stopped posting node status."
# type → (reason, message) while the condition is False (Ready: True)
HEALTHY = {
    "MemoryPressure": ("KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    "DiskPressure": ("KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    "PIDPressure": ("KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    "Ready": ("KubeletReady", "kubelet is posting ready status"),
}
MEMORY_LOW = ("KubeletHasInsufficientMemory", "kubelet has insufficient memory available")
CAPACITY = {
    "cpu": "4",
    "ephemeral-storage": "101430960Ki",
    "hugepages-1Gi": "0",
    "hugepages-2Mi": "0",
    "memory": "16374624Ki",
    "pods": "110",
}
ALLOCATABLE = {**CAPACITY, "cpu": "3920m", "ephemeral-storage": "93478772582", "memory": "15223648Ki"}

# record(object, reason, message, type, component, at, host)
NodeRecorder = Callable[[Obj, str, str, str, str, float, str], None]


def _digest(name: str, what: str) -> str:
    return hashlib.sha256(f"{what}:{name}".encode()).hexdigest()


def node_object(name: str, ip: str, index: int, node_uid: str, born: float, now: float) -> Obj:
    """A healthy worker node as a kubelet v1.32 registers and keeps it."""
    conditions = [
        {
            "type": ctype,
            "status": "True" if ctype == "Ready" else "False",
            "lastHeartbeatTime": rfc3339(now),
            "lastTransitionTime": rfc3339(born),
            "reason": reason,
            "message": message,
        }
        for ctype, (reason, message) in HEALTHY.items()
    ]
    return {
        "kind": "Node",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "uid": node_uid,
            "creationTimestamp": rfc3339(born),
            "labels": {
                "beta.kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "node-role.kubernetes.io/worker": "",
            },
            "annotations": {
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        },
        "spec": {"podCIDR": f"10.244.{index + 1}.0/24", "podCIDRs": [f"10.244.{index + 1}.0/24"]},
        "status": {
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
            "capacity": dict(CAPACITY),
            "allocatable": dict(ALLOCATABLE),
            "conditions": conditions,
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": _digest(name, "boot")[:8] + "-" + _digest(name, "boot")[8:12] + "-4" + _digest(name, "boot")[13:16],
                "containerRuntimeVersion": "containerd://1.7.27",
                "kernelVersion": "6.8.0-1021-aws",
                "kubeProxyVersion": "v1.32.4",
                "kubeletVersion": "v1.32.4",
                "machineID": _digest(name, "machine")[:32],
                "operatingSystem": "linux",
                "osImage": "Ubuntu 24.04.2 LTS",
                "systemUUID": _digest(name, "system")[:8] + "-" + _digest(name, "system")[8:12],
            },
        },
    }


def _tolerates(tolerations: list[dict[str, Any]], taint: dict[str, Any]) -> bool:
    for t in tolerations:
        if t.get("effect") and t.get("effect") != taint.get("effect"):
            continue
        if t.get("operator") == "Exists":
            if not t.get("key") or t.get("key") == taint.get("key"):
                return True
        elif t.get("key") == taint.get("key") and t.get("value", "") == taint.get("value", ""):
            return True
    return False


def unfit(node: Obj, tolerations: list[dict[str, Any]]) -> str:
    """Why the scheduler may not place a pod with these tolerations on the node
    (kube-scheduler's words for its FailedScheduling message), or ""."""
    if node.get("spec", {}).get("unschedulable"):
        return "node(s) were unschedulable"
    for taint in node.get("spec", {}).get("taints") or []:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not _tolerates(tolerations, taint):
            return f"node(s) had untolerated taint {{{taint['key']}: {taint.get('value', '')}}}"
    return ""


class Nodes:
    """The nodes' kubelets and the node lifecycle controller, on the simulation clock."""

    def __init__(
        self, store: Store, clock: Callable[[], float], rng: random.Random, nodes: list[tuple[str, str]], record: NodeRecorder
    ) -> None:
        self.store, self.clock, self.rng, self.nodes, self.record = store, clock, rng, nodes, record
        self.stopped: set[str] = set()  # kubelets that no longer post status or renew their Lease
        self.unknown: set[str] = set()  # … and that the node lifecycle controller marked NotReady
        self._renewed: dict[str, float] = {}
        self._reported: dict[str, float] = {}

    def seed(self, born: float, now: float, node_uid: Callable[[], str]) -> None:
        """Register the nodes (one ``node_uid()`` each, in order) and their Leases."""
        for i, (name, ip) in enumerate(self.nodes):
            self.store.put("nodes", node_object(name, ip, i, node_uid(), born, now))
        self.store.put(
            "namespaces",
            {
                "kind": "Namespace",
                "apiVersion": "v1",
                "metadata": {
                    "name": LEASE_NS,
                    "uid": uid(self.rng),
                    "creationTimestamp": rfc3339(born),
                    "labels": {"kubernetes.io/metadata.name": LEASE_NS},
                },
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            },
        )
        for i, (name, _) in enumerate(self.nodes):
            node = self.get(name)
            lease = {
                "kind": "Lease",
                "apiVersion": "coordination.k8s.io/v1",
                "metadata": {
                    "name": name,
                    "namespace": LEASE_NS,
                    "uid": uid(self.rng),
                    "creationTimestamp": rfc3339(born),
                    "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": name, "uid": node["metadata"]["uid"]}],
                },
                "spec": {"holderIdentity": name, "leaseDurationSeconds": LEASE_SECONDS, "renewTime": ""},
            }
            self.store.put("leases", lease)
            self._renew(name, now - (3.0 * i) % RENEW_EVERY)

    def get(self, name: str) -> Obj:
        node = self.store.get("nodes", "", name)
        assert node is not None, name  # the drill's nodes are never deleted
        return node

    def ip(self, name: str) -> str:
        return next(ip for n, ip in self.nodes if n == name)

    # -- the kubelets' heartbeats ---------------------------------------------

    def _renew(self, name: str, at: float) -> None:
        lease = self.store.get("leases", LEASE_NS, name)
        if lease is None:  # deleted through the API: the kubelet creates it again at its next renewal
            return
        new = copy.deepcopy(lease)
        new["spec"]["renewTime"] = rfc3339_micro(at)
        self.store.put("leases", new)
        self._renewed[name] = at

    def tick(self) -> None:
        """Renew the Lease of every node whose kubelet runs, every 10 s of drill time; mark a
        node NotReady once its Lease is older than its duration (the node lifecycle controller)."""
        now = self.clock()
        for name, _ in self.nodes:
            last = self._renewed.get(name, now)
            if name not in self.stopped:
                if now - last >= RENEW_EVERY:
                    self._renew(name, last + RENEW_EVERY * int((now - last) // RENEW_EVERY))
                reported = self._reported.setdefault(name, now)
                if now - reported >= REPORT_EVERY:
                    self._heartbeat(name, reported + REPORT_EVERY * int((now - reported) // REPORT_EVERY))
            elif name not in self.unknown and now - last >= LEASE_SECONDS:
                self._mark_unknown(name, last + LEASE_SECONDS)

    def _heartbeat(self, name: str, at: float) -> None:
        """The kubelet posts its (unchanged) status: every condition's heartbeat moves on."""
        self._reported[name] = at

        def change(node: Obj) -> None:
            for c in node["status"]["conditions"]:
                c["lastHeartbeatTime"] = rfc3339(at)

        self._update(name, change)

    # -- conditions and taints ------------------------------------------------

    def _update(self, name: str, change: Callable[[Obj], None]) -> None:
        node = copy.deepcopy(self.get(name))
        change(node)
        self.store.put_if_changed("nodes", node)

    def _set_condition(self, node: Obj, ctype: str, status: str, reason: str, message: str, now: float) -> bool:
        for c in node["status"]["conditions"]:
            if c["type"] != ctype:
                continue
            changed: bool = c["status"] != status
            if changed:
                c["lastTransitionTime"] = rfc3339(now)
            c.update(status=status, reason=reason, message=message)
            if status != "Unknown":
                c["lastHeartbeatTime"] = rfc3339(now)
                self._reported[node["metadata"]["name"]] = now
            return changed
        return False

    @staticmethod
    def _taint(node: Obj, key: str, effect: str, on: bool, now: float | None = None) -> None:
        taints = [t for t in node["spec"].get("taints") or [] if not (t["key"] == key and t["effect"] == effect)]
        if on:
            taint: dict[str, Any] = {"key": key, "effect": effect}
            if effect == "NoExecute" and now is not None:
                taint["timeAdded"] = rfc3339(now)
            taints.append(taint)
        if taints:
            node["spec"]["taints"] = taints
        else:
            node["spec"].pop("taints", None)

    def memory_pressure(self, name: str, on: bool) -> None:
        """The kubelet reports MemoryPressure (or that it is over); the node lifecycle
        controller taints the node memory-pressure:NoSchedule (or lifts it)."""
        now = self.clock()
        reason, message = MEMORY_LOW if on else HEALTHY["MemoryPressure"]
        changed = [False]

        def change(node: Obj) -> None:
            changed[0] = self._set_condition(node, "MemoryPressure", "True" if on else "False", reason, message, now)
            self._taint(node, MEMORY_PRESSURE, "NoSchedule", on)

        self._update(name, change)
        if changed[0]:
            self.record(self.get(name), "NodeHasInsufficientMemory" if on else "NodeHasSufficientMemory",
                   f"Node {name} status is now: {'NodeHasInsufficientMemory' if on else 'NodeHasSufficientMemory'}",
                   "Normal", "kubelet", now, name)  # fmt: skip

    def stop_kubelet(self, name: str) -> None:
        """The node's kubelet stops (a hung or dead node): no more status, no more Lease
        renewals. :meth:`tick` marks the node NotReady once the Lease has expired."""
        self.stopped.add(name)

    def _mark_unknown(self, name: str, at: float) -> None:
        """The node lifecycle controller: every condition Unknown, the unreachable taints
        (NoSchedule, and NoExecute: our pods tolerate it 300 s)."""
        self.unknown.add(name)

        def change(node: Obj) -> None:
            for c in node["status"]["conditions"]:
                self._set_condition(node, c["type"], "Unknown", "NodeStatusUnknown", STOPPED, at)
            self._taint(node, UNREACHABLE, "NoSchedule", True)
            self._taint(node, UNREACHABLE, "NoExecute", True, at)

        self._update(name, change)
        self.record(self.get(name), "NodeNotReady", f"Node {name} status is now: NodeNotReady", "Normal", "node-controller", at, "")

    @property
    def ready(self) -> set[str]:
        return {name for name, _ in self.nodes if name not in self.unknown}

    # -- the scheduler's node filter ------------------------------------------

    def place(self, tolerations: list[dict[str, Any]]) -> tuple[list[tuple[str, str]], str]:
        """The nodes a pod may go to, in order, and kube-scheduler's message when there are none."""
        fits: list[tuple[str, str]] = []
        why: dict[str, int] = {}
        for name, ip in self.nodes:
            node = self.store.get("nodes", "", name)
            reason = "" if node is None else unfit(node, tolerations)
            if node is None:
                reason = "node(s) not found"
            if reason:
                why[reason] = why.get(reason, 0) + 1
            else:
                fits.append((name, ip))
        if fits:
            return fits, ""
        n = len(self.nodes)
        parts = ", ".join(f"{count} {reason}" for reason, count in sorted(why.items()))
        return (
            [],
            f"0/{n} nodes are available: {parts}. preemption: 0/{n} nodes are available: {n} Preemption is not helpful for scheduling.",
        )
