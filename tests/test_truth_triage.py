"""What triage says about a node's doing (issue 14), on constructed Signals:

- a node's evictions are never laid at a recent rollout's door (the Evicted
  events come after the rollout, but the node did it, not the revision):
  they stay the node's evidence;
- the evictions the pod list shows and the Evicted events about the same pods
  are one reason naming both sources, not two that say the same.
"""

from __future__ import annotations

from dataclasses import replace

from test_triage import NOW, TH, check_shape, live, pod, pods, signals
from test_triage_evicted import MESSAGE, evicted
from test_triage_infra import NEW_RS, REVISIONS, ROLLOUT, event, infra_finding, infra_reasons, snapshot, with_infra

from clay_cockpit.runbook import ActionId, Branch
from clay_cockpit.signals import NodeInfo
from clay_cockpit.triage.cluster import cluster_evidence, correlate
from clay_cockpit.triage.tree import assess


def evicted_event(name: str, count: int = 1, last: float = NOW - 40) -> object:
    return event("Evicted", MESSAGE.strip(), name=name, count=count, first=last, last=last)


def test_evictions_after_a_rollout_are_the_nodes_not_the_rollouts() -> None:
    # the rollout eleven minutes ago; then the node under memory pressure evicts two of the new revision's pods
    gone = (evicted(f"{NEW_RS}-d", at=NOW - 50), evicted(f"{NEW_RS}-e"))
    starting = replace(pod(f"{NEW_RS}-f", "Pending", ready=False), owner=f"ReplicaSet/{NEW_RS}")
    snap = snapshot(
        (evicted_event(f"{NEW_RS}-d", last=NOW - 50), evicted_event(f"{NEW_RS}-e")),
        nodes=(NodeInfo("n-2", True, ("MemoryPressure",), False, (f"{NEW_RS}-f",)),),
        revisions=REVISIONS,
        changes=(ROLLOUT,),
    )
    c = cluster_evidence(snap, (*gone, starting), NOW)
    k = correlate(c, (), NOW)
    assert k is None or k.verdict != "after", k  # nothing but the node's doing dates the trouble
    a = assess(with_infra(signals(pods_=live(pods(pod("a"), pod("b"), starting, *gone))), live(snap)), TH, NOW)
    check_shape(a)
    said = [r.text for r in infra_finding(a).reasons]
    assert not any("first Evicted" in t for t in said), said
    assert a.next is not None and a.next.id == ActionId.ESCALATE_NODE, [x.id for x in a.todo]
    rollback = next((x for x in a.todo if x.id == ActionId.ROLLBACK), None)
    assert rollback is None or "began after" not in rollback.why, rollback


def test_a_probe_failure_after_the_rollout_still_blames_it() -> None:
    # the exclusion is of what a node did, not of every event
    probe = event("Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503", first=NOW - 600, last=NOW - 20)
    c = cluster_evidence(snapshot((probe, evicted_event(f"{NEW_RS}-d", last=NOW - 640))), (), NOW)
    k = correlate(c, (), NOW)
    assert k is not None and k.verdict == "after" and k.first == "Unhealthy", k


def test_evictions_from_the_pods_and_from_the_events_are_one_reason() -> None:
    gone = (evicted("clay-sync-abc-d", at=NOW - 50), evicted("clay-sync-abc-e"))
    snap = snapshot(
        (evicted_event("clay-sync-abc-d", last=NOW - 50), evicted_event("clay-sync-abc-e")),
        nodes=(NodeInfo("n-2", True, ("MemoryPressure",), False, ("clay-sync-abc-2",)),),
        changes=(),
    )
    sig = with_infra(signals(pods_=live(pods(pod("clay-sync-abc-0"), pod("clay-sync-abc-1"), pod("clay-sync-abc-2"), *gone))), live(snap))
    a = assess(sig, TH, NOW)
    check_shape(a)
    f = infra_finding(a)
    said = [r.text for r in f.reasons]
    merged = [t for t in said if "evicted from" in t or "evictions" in t]
    assert merged == [f"Pods: 2 pods evicted from node n-2 (Evicted events ×2; last 40 s ago): {MESSAGE.strip()}"], said
    r = next(r for r in f.reasons if r.text == merged[0])
    assert dict(r.values) == {"evicted": 2, "node": "n-2", "events": 2}
    assert "infra" in f.sources and "pods" in f.sources
    assert not any(t.startswith("Events:") and "evictions" in t for t in infra_reasons(a)), infra_reasons(a)
    assert any(t.startswith("Nodes: node n-2 MemoryPressure") for t in infra_reasons(a))  # the node stays its own evidence


def test_evicted_events_about_pods_no_longer_listed_are_still_said() -> None:
    gone = (evicted("clay-sync-abc-d"),)
    snap = snapshot((evicted_event("clay-sync-abc-d"), evicted_event("clay-sync-abc-cleaned", count=3)), changes=())
    sig = with_infra(signals(pods_=live(pods(pod("clay-sync-abc-0"), pod("clay-sync-abc-1"), pod("clay-sync-abc-2"), *gone))), live(snap))
    a = assess(sig, TH, NOW)
    said = [r.text for r in infra_finding(a).reasons]
    assert f"Pods: 1 pod evicted from node n-2 (Evicted events ×1; last 40 s ago): {MESSAGE.strip()}" in said, said
    assert any(t.startswith("Events: 3 evictions — Evicted on Pod clay-sync-abc-cleaned") for t in said), said
    assert a.branch == Branch.INFRASTRUCTURE
