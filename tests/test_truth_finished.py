"""Finished pods (issue 14) are not the replicas: a pod its node evicted stays
listed, Failed, until it is cleaned up, and its ReplicaSet has already started
a replacement. What the cockpit says about a restart, a rollback or a moment
must not count it as a pod that is not ready, nor call its eviction a crash:

- the symptom's judging after a restart/rollback (cockpit/actions/symptom.py);
- the rollout follow (cockpit/sources/kube_rollout.py): an evicted new pod is
  evicted, not "crashed after the change", and a leftover evicted pod is not a
  pod "still present" that holds the rollout;
- the evidence snapshot's pod counts (cockpit/incident/evidence.py).

Pods as the API serves an evicted one (kube 1.32: phase Failed, reason Evicted,
the container killed: kubectl says Error).
"""

from __future__ import annotations

import copy
from typing import Any

from clay_cockpit.actions.symptom import ENDED, PERSISTS, WATCHING, Before, Follow, Symptom, judge, measure_before, symptom_for
from clay_cockpit.actions.types import ActionKind
from clay_cockpit.incident.evidence import signals_evidence
from clay_cockpit.signals import PodsSnapshot, Reading, Signals
from clay_cockpit.sources.kube import pod_info
from clay_cockpit.sources.kube_rollout import rollout_state, scale_state

T0 = 1_767_225_600.0
MESSAGE = "The node was low on resource: memory. Threshold quantity: 100Mi, available: 86Mi. "


def api_pod(name: str, *, ready: bool = True, node: str = "drill-node-1", rs: str = "clay-sync-5c8d7e9f4a") -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "ownerReferences": [{"kind": "ReplicaSet", "name": rs, "controller": True}],
        },
        "spec": {"nodeName": node, "containers": [{"name": "app"}]},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [{"name": "app", "ready": ready, "restartCount": 0, "state": {"running": {}}}],
        },
    }


def api_evicted(name: str, node: str = "drill-node-2", rs: str = "clay-sync-5c8d7e9f4a") -> dict[str, Any]:
    p = api_pod(name, ready=False, node=node, rs=rs)
    p["status"] = {
        "phase": "Failed",
        "reason": "Evicted",
        "message": MESSAGE,
        "conditions": [
            {"type": "DisruptionTarget", "status": "True", "reason": "TerminationByKubelet", "lastTransitionTime": "2026-01-01T00:00:30Z"},
            {"type": "Ready", "status": "False"},
        ],
        "containerStatuses": [
            {"name": "app", "ready": False, "restartCount": 0, "state": {"terminated": {"exitCode": 137, "reason": "Error"}}}
        ],
    }
    return p


OLD = ("clay-sync-7d9f8c6b5-aaaaa", "clay-sync-7d9f8c6b5-bbbbb")
NEW = ("clay-sync-5c8d7e9f4a-xxxxx", "clay-sync-5c8d7e9f4a-yyyyy", "clay-sync-5c8d7e9f4a-zzzzz")


def snap(*docs: dict[str, Any], at: float = T0) -> Reading[PodsSnapshot]:
    return Reading(PodsSnapshot("drill", "clay-drill", "app=clay-sync", tuple(pod_info(d) for d in docs), at, 3.0), updated_at=at)


# --------------------------------------------------------------------------
# The symptom after a restart or a rollback


def follow(**kw: Any) -> Follow:
    base: dict[str, Any] = dict(
        plan_id="restart-0001",
        action="restart",
        runbook="restart",
        title="Restart the pods",
        effect="rollout done",
        applied_at=T0,
        deadline=T0 + 180,
        old_pods=frozenset(OLD),
        replicas=3,
        stable=60.0,
        branch="infrastructure",
    )
    base.update(kw)
    return Follow(Symptom.PODS_UNREADY, before=Before("1/3 pods ready"), **base)


def test_a_pod_evicted_after_the_change_is_not_a_pod_not_ready() -> None:
    # node-pressure: one of the new pods is evicted, its replacement runs ready beside the others
    signals = Signals(pods=snap(api_evicted("clay-sync-5c8d7e9f4a-evict"), *(api_pod(n) for n in NEW)))
    f, v = judge(follow(), signals, T0 + 20)
    assert v.state == WATCHING and "3/3 new pods ready" in v.summary, v.summary
    _, v = judge(f, signals, T0 + 90)
    assert v.state == ENDED and "3/3 new pods ready" in v.summary, v.summary


def test_old_evicted_pods_left_over_do_not_make_the_symptom_persist() -> None:
    # a follow with every pod counted (a scale: no old pods), evicted pods left over from before
    f = follow(old_pods=frozenset(), action="scale", runbook="scale")
    signals = Signals(pods=snap(api_evicted("clay-sync-5c8d7e9f4a-e1"), api_evicted("clay-sync-5c8d7e9f4a-e2"), *(api_pod(n) for n in NEW)))
    f, v = judge(f, signals, T0 + 20)
    assert v.state == WATCHING and "3/3 pods ready" in v.summary, v.summary
    _, v = judge(f, signals, T0 + 181)
    assert v.state != PERSISTS or "0/" not in v.summary


def test_before_and_the_symptom_itself_leave_finished_pods_out() -> None:
    signals = Signals(pods=snap(api_evicted("clay-sync-7d9f8c6b5-e1"), *(api_pod(n) for n in NEW)))
    assert measure_before(Symptom.PODS_UNREADY, signals).text == "3/3 pods ready"
    # nothing wrong with the replicas: a restart has no pod symptom to follow
    assert symptom_for(ActionKind.RESTART, None, signals) is None
    # a rollback judged on the pods only when the replicas crash; else our health
    assert symptom_for(ActionKind.ROLLBACK, None, signals) == (Symptom.PODS_UNREADY, "")


# --------------------------------------------------------------------------
# The rollout follow


def deploy(replicas: int = 3, generation: int = 2) -> dict[str, Any]:
    return {
        "metadata": {"name": "clay-sync", "generation": generation},
        "spec": {"replicas": replicas},
        "status": {"observedGeneration": generation, "updatedReplicas": replicas, "readyReplicas": replicas},
    }


def test_an_evicted_new_pod_is_evicted_not_crashed() -> None:
    pods = [api_evicted("clay-sync-5c8d7e9f4a-evict"), api_pod(NEW[0]), api_pod(NEW[1]), api_pod(NEW[2], ready=False)]
    look = rollout_state(deploy(), pods, frozenset(OLD), 2)
    assert "crash" not in look.failed and "crash" not in look.message, look
    assert not look.failed  # its ReplicaSet replaced it: the rollout can still settle
    assert "1 new pod evicted from node drill-node-2: The node was low on resource: memory" in look.message, look.message
    assert look.count == 2 and look.total == 3
    assert any("1 of 3 new pods not ready" in m for m in look.missing), look.missing
    assert "evict" not in " ".join(look.missing)  # the evicted pod is not one of the pods the rollout waits for


def test_a_leftover_evicted_pod_does_not_hold_the_rollout() -> None:
    pods = [api_evicted(OLD[0], rs="clay-sync-7d9f8c6b5"), *(api_pod(n) for n in NEW)]
    look = rollout_state(deploy(), pods, frozenset(OLD), 2)
    assert look.done, look
    assert "old pods gone" in look.message and "evicted" in look.message


def test_a_leftover_evicted_pod_is_not_an_extra_pod_of_a_scale() -> None:
    pods = [api_evicted("clay-sync-5c8d7e9f4a-e1"), *(api_pod(n) for n in NEW)]
    look = scale_state(deploy(), pods, 3)
    assert look.done and not look.missing, look


def test_a_crashing_new_pod_is_still_a_crash() -> None:
    crashing = api_pod(NEW[2], ready=False)
    crashing["status"]["containerStatuses"][0] |= {
        "restartCount": 2,
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"reason": "Error"}},
    }
    look = rollout_state(deploy(), [api_pod(NEW[0]), api_pod(NEW[1]), copy.deepcopy(crashing)], frozenset(OLD), 2)
    assert "crashed after the change" in look.failed


# --------------------------------------------------------------------------
# The evidence snapshot


def test_the_evidence_counts_the_replicas_and_the_finished_apart() -> None:
    signals = Signals(pods=snap(api_evicted("clay-sync-7d9f8c6b5-e1"), api_evicted("clay-sync-7d9f8c6b5-e2"), *(api_pod(n) for n in NEW)))
    pods = signals_evidence(signals)["pods"]
    assert (pods["pods"], pods["ready"], pods["not_ready"]) == (3, 3, [])
    assert pods["finished"] == [
        {"name": "clay-sync-7d9f8c6b5-e1", "status": "Evicted", "node": "drill-node-2", "message": MESSAGE.strip()},
        {"name": "clay-sync-7d9f8c6b5-e2", "status": "Evicted", "node": "drill-node-2", "message": MESSAGE.strip()},
    ]
