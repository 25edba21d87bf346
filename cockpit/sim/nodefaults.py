"""The node_pressure fault played on the drill cluster: one node's kubelet
reports MemoryPressure, evicts our pods there one per housekeeping interval
(their ReplicaSet replaces them on nodes the scheduler still may use), and
perhaps stops altogether (the node goes NotReady once its Lease expires).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from clay_cockpit.sim.scenario import NodePressure, Scenario

if TYPE_CHECKING:
    from clay_cockpit.sim.kube.api import KubeCluster
    from clay_cockpit.sim.podlog import PodLog

THRESHOLD = "100Mi"  # the kubelet's default hard eviction threshold: memory.available<100Mi


@dataclass
class _Pressure:
    node: str
    next_eviction: float
    stopped: bool = False
    over: bool = False


class NodeFaults:
    def __init__(self, scenario: Scenario, kube: KubeCluster, rng: random.Random, t0: float, log: PodLog) -> None:
        self.scenario, self.kube, self.rng, self.t0 = scenario, kube, rng, t0
        self.log = log  # our service's log lines (numbered, in the scenario's format)
        self.on: dict[int, _Pressure] = {}  # by fault index, once started

    def _busiest(self) -> str:
        nodes = [name for name, _ in self.kube.ctl.nodes]
        return max(nodes, key=lambda n: (len(self.kube.pods_on(n)), -nodes.index(n)))

    def message(self, pod: str, fault: NodePressure) -> str:
        """The kubelet's eviction message (it ends with a space, as the kubelet writes it)."""
        available = fault.available_mi * 1024 - self.rng.randrange(0, 1024)
        using = 330_000 + self.rng.randrange(0, 160_000)
        container = self.kube.ctl.pods[(self.kube.namespace, pod)].container_name
        return (
            f"The node was low on resource: memory. Threshold quantity: {THRESHOLD}, available: {available}Ki. "
            f"Container {container} was using {using}Ki, request is 256Mi, has larger consumption of memory. "
        )

    def tick(self, now: float) -> None:
        t = now - self.t0
        for i, fault in enumerate(self.scenario.faults):
            if not isinstance(fault, NodePressure) or t < fault.start:
                continue
            state = self.on.get(i)
            if state is None:
                state = self.on[i] = _Pressure(fault.node or self._busiest(), self.t0 + fault.start + fault.evict_after)
                self.kube.memory_pressure(state.node, True)
            if state.over:
                continue
            if fault.end and t >= fault.end:
                state.over = True
                if not state.stopped:
                    self.kube.memory_pressure(state.node, False)
                continue
            if fault.not_ready_after and not state.stopped and t >= fault.start + fault.not_ready_after:
                state.stopped = True
                self.kube.stop_kubelet(state.node)
            while not state.stopped and now >= state.next_eviction:
                at = state.next_eviction
                state.next_eviction += fault.evict_every
                victims = self.kube.pods_on(state.node)
                if victims:
                    self._evict(victims[0], fault, at)

    def _evict(self, pod: str, fault: NodePressure, at: float) -> None:
        self.log.write(pod, "info", "shutting down", (("signal", "terminated"), ("inflight_jobs", 3 + self.rng.randrange(0, 12))), at)
        self.kube.evict(pod, self.message(pod, fault))
