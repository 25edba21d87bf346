"""Evicted pods (issue 14): a pod its node's kubelet evicted is Failed with
status.reason Evicted. It is finished — its ReplicaSet no longer counts it and
has replaced it — so it is neither crashing nor one of the replicas in the
ready ratio. The evictions are their own evidence, with the node and the
kubelet's words, and the recommendation is the node's (cordon or escalate),
not a rollback nor the logs of a "crashing" pod.

The parsing of the pod list, triage on constructed Signals, the pods pane's
cells, and the node-pressure drill through the real pods source.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from test_triage import NOW, TH, check_shape, health, live, pod, pods, signals, texts
from test_triage_drill import Drill, drill  # noqa: F401 (the fixture)

from clay_cockpit.runbook import ActionId, Branch, Severity
from clay_cockpit.signals import PodInfo
from clay_cockpit.sources.kube import pod_info
from clay_cockpit.triage.infra import EVICTED_RECENT
from clay_cockpit.triage.service import is_crashing, is_evicted, pod_state
from clay_cockpit.triage.tree import assess
from clay_cockpit.widgets.pods import pod_cells, pod_rank, shown_status

MESSAGE = (
    "The node was low on resource: memory. Threshold quantity: 100Mi, available: 86Mi. "
    "Container app was using 371Mi, request is 256Mi, has larger consumption of memory. "
)


def _at(t: float) -> datetime:
    return datetime.fromtimestamp(t, tz=UTC)


def evicted(name: str, node: str = "n-2", at: float = NOW - 40) -> PodInfo:
    """As the pods source reads an evicted pod whose container the kubelet killed (kubectl: Error)."""
    return replace(
        pod(name, "Error", ready=False),
        phase="Failed",
        node=node,
        reason="Evicted",
        message=MESSAGE.strip(),
        finished_at=_at(at),
    )


def _api_pod(at: str = "2026-01-01T00:00:30Z") -> dict:
    """An evicted pod as the API serves it (kube 1.32): the DisruptionTarget condition, the container killed."""
    return {
        "metadata": {"name": "clay-sync-7d9f8c6b5-x2x9k", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"nodeName": "n-2", "containers": [{"name": "app"}]},
        "status": {
            "phase": "Failed",
            "reason": "Evicted",
            "message": MESSAGE,
            "conditions": [
                {"type": "DisruptionTarget", "status": "True", "reason": "TerminationByKubelet", "lastTransitionTime": at},
                {"type": "Ready", "status": "False", "lastTransitionTime": "2026-01-01T00:00:32Z"},
            ],
            "containerStatuses": [
                {
                    "name": "app",
                    "ready": False,
                    "restartCount": 0,
                    "state": {"terminated": {"exitCode": 137, "reason": "Error", "finishedAt": "2026-01-01T00:00:32Z"}},
                }
            ],
        },
    }


def test_the_pod_list_keeps_the_pods_reason_message_and_end() -> None:
    p = pod_info(_api_pod())
    assert (p.phase, p.status, p.reason, p.node) == ("Failed", "Error", "Evicted", "n-2")  # kubectl's STATUS stays kubectl's
    assert p.message == MESSAGE.strip()  # whole; the kubelet's trailing space dropped
    assert p.finished_at == datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC)  # when the kubelet decided, not the kill
    assert is_evicted(p) and not is_crashing(p, TH.restarts_warn)
    # no DisruptionTarget: the containers' last finish; a running pod has no end
    doc = _api_pod()
    doc["status"]["conditions"] = []
    assert pod_info(doc).finished_at == datetime(2026, 1, 1, 0, 0, 32, tzinfo=UTC)
    running = pod_info({"metadata": {"name": "p"}, "status": {"phase": "Running", "reason": 7, "message": ["x"]}})
    assert (running.reason, running.message, running.finished_at) == (None, "", None)


def test_evicted_pods_are_not_replicas_and_not_crashing() -> None:
    snap = pods(pod("a"), pod("b"), pod("c"), evicted("d"), evicted("e"))
    s = pod_state(snap, TH.restarts_warn)
    assert (s.total, s.ready, s.crashing, s.not_ready) == (3, 3, (), ())
    assert [p.name for p in s.evicted] == ["d", "e"]


def test_evictions_with_the_replicas_back_are_minor_and_point_at_the_node() -> None:
    a = assess(signals(pods_=live(pods(pod("a"), pod("b"), pod("c"), evicted("d", at=NOW - 50), evicted("e")))), TH, NOW)
    check_shape(a)
    assert (a.branch, a.severity) == (Branch.INFRASTRUCTURE, Severity.P3), a.headline
    assert a.top.title == "2 pods evicted from node n-2: The node was low on resource: memory"
    said = [r.text for r in a.top.reasons]
    assert said[0] == "Pods: 3/3 ready; 2 evicted (ended: not counted)"
    assert said[1] == f"Pods: 2 pods evicted from node n-2 (last 40 s ago): {MESSAGE.strip()}"
    assert dict(a.top.reasons[1].values) == {"evicted": 2, "node": "n-2"}
    ids = [x.id for x in a.todo]
    assert ids[:2] == [ActionId.ESCALATE_NODE, ActionId.INVESTIGATE_INFRA], ids
    assert ActionId.ROLLBACK not in ids and ActionId.READ_POD_LOGS not in ids
    assert a.todo[0].why == "node n-2 evicted our pods: The node was low on resource: memory"
    assert a.todo[1].why == "kubectl describe node n-2: its conditions and what else runs there"
    assert "crash" not in texts(a).lower()


def test_a_replacement_still_starting_keeps_its_own_action_after_the_nodes() -> None:
    starting = replace(pod("c", "ContainerCreating", ready=False), phase="Pending")
    a = assess(
        signals(
            pods_=live(pods(pod("a"), pod("b"), starting, evicted("d"))),
            health_=live(health("degraded", queue=("degraded", "2/3 workers ready"))),
        ),
        TH,
        NOW,
    )
    check_shape(a)
    assert (a.branch, a.severity) == (Branch.INFRASTRUCTURE, Severity.P3), a.headline
    assert a.top.reasons[0].text == "Pods: 2/3 ready — 1 ContainerCreating; 1 evicted (ended: not counted)"
    assert [x.id for x in a.todo][:3] == [ActionId.ESCALATE_NODE, ActionId.INVESTIGATE_INFRA, ActionId.READ_POD_LOGS]


def test_old_evictions_are_history() -> None:
    old = NOW - EVICTED_RECENT - 60
    a = assess(signals(pods_=live(pods(pod("a"), pod("b"), pod("c"), evicted("d", at=old)))), TH, NOW)
    assert a.branch == Branch.HEALTHY, a.headline
    assert any(o.summary == "3/3 ready; 1 evicted (ended)" for o in a.observed if o.source == "pods")


def test_every_pod_evicted_is_an_outage_not_a_missing_selector() -> None:
    a = assess(signals(pods_=live(pods(evicted("d"), evicted("e", node="n-3")))), TH, NOW)
    check_shape(a)
    assert (a.branch, a.severity) == (Branch.INFRASTRUCTURE, Severity.P1), a.headline
    assert a.top.title == "no pod runs: 2 pods evicted from 2 nodes: The node was low on resource: memory", a.top.title
    assert "match" not in a.top.title


def test_crashing_pods_come_first_and_the_node_after() -> None:
    crashing = [replace(pod(n, "CrashLoopBackOff", ready=False, restarts=6, last="Error")) for n in ("a", "b")]
    a = assess(signals(pods_=live(pods(*crashing, pod("c"), evicted("d")))), TH, NOW)
    check_shape(a)
    ids = [x.id for x in a.todo]
    assert ids[0] == ActionId.READ_POD_LOGS and ActionId.ESCALATE_NODE in ids, ids
    assert a.top.title.startswith("1/3 pods ready: 2 CrashLoopBackOff; 1 pod evicted from node n-2"), a.top.title


def test_the_pods_pane_says_evicted_and_puts_them_after_the_failing() -> None:
    """Evicted pods are troubled (their node is), after the failing ones, before the pods that
    run fine (issue 15: at 500 rows the last rows are never seen)."""
    e, running = evicted("clay-sync-7d9f8c6b5-x2x9k"), pod("clay-sync-7d9f8c6b5-ab3cd")
    assert shown_status(e) == "Evicted" and shown_status(running) == "Running"
    cells = pod_cells(e, NOW, compact=False, restarts_warn=3)
    assert cells[1] == ("Evicted", "warn") and cells[2] == ("0/1", "")  # finished: its readiness is moot
    crashing = pod("clay-sync-7d9f8c6b5-zz9zz", "CrashLoopBackOff", ready=False)
    assert sorted([e, running, crashing], key=pod_rank) == [crashing, e, running]
    failed = replace(evicted("x"), reason="Shutdown")  # not evicted: kubectl's word stays
    assert shown_status(failed) == "Error"


@pytest.mark.scenario("node-pressure")
def test_node_pressure_drill_through_the_real_pods_source(drill: Drill) -> None:  # noqa: F811
    drill.advance_to(60)  # the fault at 20 s, the first eviction at 25 s, the next at 35 s; replaced since
    a = drill.sample()
    snap = drill.readings["pods"].value
    gone = [p for p in snap.pods if is_evicted(p)]
    assert len(gone) == 2 and {p.node for p in gone} == {gone[0].node}, snap.pods
    assert all(p.message.startswith("The node was low on resource: memory. Threshold quantity: 100Mi") for p in gone)
    assert all(p.finished_at is not None for p in gone)
    assert (a.branch, a.severity) == (Branch.INFRASTRUCTURE, Severity.P3), a.headline
    assert a.top.title == f"2 pods evicted from node {gone[0].node}: The node was low on resource: memory"
    assert a.top.reasons[0].text.startswith("Pods: 3/3 ready; 2 evicted"), a.top.reasons[0].text
    assert a.next is not None and a.next.id == ActionId.ESCALATE_NODE
    assert ActionId.ROLLBACK not in {x.id for x in a.todo}
