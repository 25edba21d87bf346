"""Where the drill records node events (issue 14): as a real kubelet and node
controller do, in the ``default`` namespace (events about cluster-scoped
objects), not in our namespace — read over real HTTPS with the official client.
The cockpit's event watch reads our namespace only; these are what a second
watch of ``default`` (involvedObject.kind=Node) would add."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client, config
from test_sim_bad_deploy import NS


@pytest.mark.scenario("node-pressure")
def test_node_events_are_recorded_in_default_not_in_our_namespace(sim: Any) -> None:
    api = config.new_client_from_config(config_file=str(sim.kubeconfig), context=sim.context)
    core = client.CoreV1Api(api)
    try:
        sim.advance(45)  # the pressure at 20 s, evictions from 25 s
        nodes = core.list_namespaced_event("default", field_selector="involvedObject.kind=Node", _request_timeout=5).items
        reasons = {e.reason for e in nodes}
        assert {"EvictionThresholdMet", "NodeHasInsufficientMemory"} <= reasons, reasons
        assert all(e.involved_object.kind == "Node" and e.metadata.namespace == "default" for e in nodes)
        ours = core.list_namespaced_event(NS, field_selector="involvedObject.kind=Node", _request_timeout=5).items
        assert ours == []
        evicted = core.list_namespaced_event(NS, field_selector="reason=Evicted", _request_timeout=5).items
        assert evicted and all(e.involved_object.kind == "Pod" for e in evicted)  # about our pods: in our namespace
    finally:
        api.close()
