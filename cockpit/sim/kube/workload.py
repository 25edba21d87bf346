"""The drill cluster's controllers: Deployment (rolling update), ReplicaSet,
the kubelets of :mod:`clay_cockpit.sim.kube.pods`, and the Event recorder.

Driven by :meth:`Controllers.tick` on the simulation clock, and right after
each API write, like the real controllers reacting to a watch. A template
change (``kubectl rollout restart``) creates a ReplicaSet with a new
pod-template-hash and rolls pods over with maxSurge/maxUnavailable; a paused
Deployment only scales; a deleted or evicted pod is replaced by its ReplicaSet,
on a node the scheduler may use (:mod:`clay_cockpit.sim.kube.nodes`), or left
Pending with FailedScheduling events while none fits.
"""

from __future__ import annotations

import copy
import json
import math
import random
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from clay_cockpit.sim.kube.managed import record as record_fields
from clay_cockpit.sim.kube.nodes import Nodes
from clay_cockpit.sim.kube.pods import DEFAULT_TOLERATIONS, PodState
from clay_cockpit.sim.kube.store import Obj, Store
from clay_cockpit.sim.kube.util import fnv32a, parse_rfc3339, random_suffix, rfc3339, rfc3339_micro, safe_encode, uid

MAX_EVENTS = 500
MAX_FAILED_PODS = 20  # evicted pods kept (kube's PodGC keeps 12,500; the drill's memory is bounded)
SCHEDULE_RETRY = 10.0  # seconds between a pending pod's scheduling attempts (and FailedScheduling events)
CHANGE_CAUSE = "kubernetes.io/change-cause"
# Deployment annotations the deployment controller does not copy to its ReplicaSets
SKIP_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration", "deployment.kubernetes.io/revision",
                    "deployment.kubernetes.io/revision-history", "deployment.kubernetes.io/desired-replicas",
                    "deployment.kubernetes.io/max-replicas", "deprecated.deployment.rollback.to")  # fmt: skip
POD_QUOTA, QUOTA_NAME = 50, "clay-sync-quota"  # pods per namespace
REVISION = "deployment.kubernetes.io/revision"
HASH = "pod-template-hash"
HISTORY = "deployment.kubernetes.io/revision-history"


def copied_annotations(deploy: Obj) -> dict[str, str]:
    """The Deployment's annotations its ReplicaSets carry (the change-cause among them)."""
    return {k: v for k, v in (deploy["metadata"].get("annotations") or {}).items() if k not in SKIP_ANNOTATIONS}


def template_hash(template: dict[str, Any]) -> str:
    tpl = copy.deepcopy(template)
    tpl.get("metadata", {}).get("labels", {}).pop(HASH, None)
    return safe_encode(fnv32a(json.dumps(tpl, sort_keys=True, separators=(",", ":")).encode()))


def _int_or_percent(value: Any, total: int, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        frac = total * int(value[:-1]) / 100
        return math.ceil(frac) if round_up else math.floor(frac)
    return int(value)


def surge_unavailable(deploy: Obj) -> tuple[int, int]:
    spec = deploy["spec"]
    replicas = spec.get("replicas", 1)
    strategy = spec.get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return 0, replicas
    ru = strategy.get("rollingUpdate") or {}
    surge = _int_or_percent(ru.get("maxSurge", "25%"), replicas, True)
    unavailable = _int_or_percent(ru.get("maxUnavailable", "25%"), replicas, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


class Events:
    """core/v1 Events, deduplicated like client-go's recorder (count, lastTimestamp), bounded."""

    def __init__(self, store: Store, rng: random.Random) -> None:
        self.store, self.rng = store, rng
        self._index: OrderedDict[tuple[str, str, str, str], tuple[str, str]] = OrderedDict()
        self.muted = False
        self._seq = 0

    def record(self, ref: dict[str, Any], reason: str, message: str, type_: str, component: str, at: float, host: str = "") -> None:
        if self.muted:
            return
        key = (ref.get("uid", ""), reason, message, component)
        if key in self._index:
            ns, name = self._index[key]
            old = self.store.get("events", ns, name)
            if old is not None:
                ev = copy.deepcopy(old)
                ev["count"] = ev.get("count", 1) + 1
                ev["lastTimestamp"] = rfc3339(at)
                ev["involvedObject"] = dict(ref)
                self.store.put("events", ev)
                self._index.move_to_end(key)
                return
        ns = ref.get("namespace") or "default"  # events about cluster objects (nodes) live in default
        self._seq += 1  # keeps names (and so listing order) in recording order within one instant
        name = f"{ref.get('name', 'unknown')}.{int(at * 1e9) + self._seq:x}"
        source = {"component": component, "host": host} if host else {"component": component}
        ev = {
            "kind": "Event",
            "apiVersion": "v1",
            "metadata": {"name": name, "namespace": ns, "uid": uid(self.rng), "creationTimestamp": rfc3339(at)},
            "involvedObject": dict(ref),
            "reason": reason,
            "message": message,
            "source": source,
            "firstTimestamp": rfc3339(at),
            "lastTimestamp": rfc3339(at),
            "count": 1,
            "type": type_,
            "eventTime": rfc3339_micro(at),
            "reportingComponent": component,
            "reportingInstance": host,
        }
        self.store.put("events", ev)
        self._index[key] = (ns, name)
        while len(self._index) > MAX_EVENTS:
            _, (old_ns, old_name) = self._index.popitem(last=False)
            self.store.delete("events", old_ns, old_name)


def ref_of(obj: Obj, field_path: str = "") -> dict[str, Any]:
    meta = obj["metadata"]
    ref = {
        "kind": obj["kind"],
        "namespace": meta.get("namespace", ""),
        "name": meta["name"],
        "uid": meta.get("uid", ""),
        "apiVersion": obj["apiVersion"],
        "resourceVersion": meta.get("resourceVersion", ""),
    }
    if field_path:
        ref["fieldPath"] = field_path
    return ref


class Controllers:
    def __init__(self, store: Store, clock: Callable[[], float], rng: random.Random, nodes: list[tuple[str, str]]):
        self.store, self.clock, self.rng, self.nodes = store, clock, rng, nodes
        self.events = Events(store, rng)
        # the nodes draw their uids from a generator of their own: the pods' names stay what they were
        side = random.Random(f"nodes:{rng.getstate()[1][:4]}")
        self.nodes_ctl = Nodes(store, clock, side, nodes, self.node_event)
        self.pods: dict[tuple[str, str], PodState] = {}
        self._ip = 10
        self._rs_news: dict[str, tuple[str, str]] = {}  # deployment uid -> Progressing reason, message

    # -- events --------------------------------------------------------------

    def pod_event(self, pod: PodState, reason: str, message: str, type_: str, at: float) -> None:
        stored = self.store.get("pods", pod.namespace, pod.name)
        ref = {
            "kind": "Pod",
            "namespace": pod.namespace,
            "name": pod.name,
            "uid": pod.uid,
            "apiVersion": "v1",
            "resourceVersion": stored["metadata"]["resourceVersion"] if stored else "",
        }
        ref["fieldPath"] = f"spec.containers{{{pod.container_name}}}"
        self.events.record(ref, reason, message, type_, "kubelet", at, host=pod.node)

    def node_event(self, node: Obj, reason: str, message: str, type_: str, component: str, at: float, host: str) -> None:
        """An event about a node: the kubelet refers to its node by name (uid = the name), the
        node controller by its object, as the real ones do (``kubectl describe node`` finds the kubelet's)."""
        meta = node["metadata"]
        ref = {"kind": "Node", "name": meta["name"], "uid": meta["name"] if component == "kubelet" else meta["uid"]}
        if component != "kubelet":
            ref["apiVersion"] = "v1"
        self.events.record(ref, reason, message, type_, component, at, host=host)

    def lookup(self, namespace: str) -> Callable[[str, str], Obj | None]:
        return lambda resource, name: self.store.get(resource, namespace, name)

    # -- pods ----------------------------------------------------------------

    def new_pod(self, rs: Obj, at: float) -> PodState:
        meta = rs["metadata"]
        ns = meta["namespace"]
        while True:
            name = f"{meta['name']}-{random_suffix(self.rng)}"
            if (ns, name) not in self.pods:
                break
        fits, why = self.nodes_ctl.place(rs["spec"]["template"]["spec"].get("tolerations") or DEFAULT_TOLERATIONS)
        node, host_ip = fits[self.rng.randrange(len(fits))] if fits else ("", "")
        pod = PodState(
            name=name,
            namespace=ns,
            uid=uid(self.rng),
            rs_name=meta["name"],
            rs_uid=meta["uid"],
            template=copy.deepcopy(rs["spec"]["template"]),
            node=node,
            host_ip=host_ip,
            pod_ip=self._pod_ip(node, host_ip),
            created_at=at,
            start_at=at + self.rng.uniform(1.5, 3.5),
            ready_delay=self.rng.uniform(3.0, 6.0),
        )
        self.pods[(ns, name)] = pod
        stored = self.store.put("pods", pod.render())
        self.events.record(ref_of(rs), "SuccessfulCreate", f"Created pod: {name}", "Normal", "replicaset-controller", at)
        if node:
            self.events.record(
                ref_of(stored), "Scheduled", f"Successfully assigned {ns}/{name} to {node}", "Normal", "default-scheduler", at
            )
        else:
            self._unschedulable(pod, why, at)
        return pod

    def _pod_ip(self, node: str, host_ip: str) -> str:
        if not node:
            return ""
        self._ip = self._ip % 250 + 1
        return f"10.244.{self.nodes.index((node, host_ip)) + 1}.{self._ip + 1}"

    def _unschedulable(self, pod: PodState, why: str, at: float) -> None:
        pod.unschedulable, pod.schedule_at = why, at + SCHEDULE_RETRY
        stored = self.store.put_if_changed("pods", pod.render())
        self.events.record(ref_of(stored), "FailedScheduling", why, "Warning", "default-scheduler", at)

    def schedule_pending(self, now: float) -> None:
        """The scheduler's retries: a pending pod goes to a node that fits once there is one."""
        for pod in list(self.pods.values()):
            if pod.node or not pod.active or now < pod.schedule_at:
                continue
            fits, why = self.nodes_ctl.place(pod.template["spec"].get("tolerations") or DEFAULT_TOLERATIONS)
            if not fits:
                self._unschedulable(pod, why, now)
                continue
            pod.node, pod.host_ip = fits[self.rng.randrange(len(fits))]
            pod.pod_ip, pod.unschedulable, pod.start_at = self._pod_ip(pod.node, pod.host_ip), "", now + self.rng.uniform(1.5, 3.5)
            pod.transitions["scheduled"] = now
            stored = self.store.put("pods", pod.render())
            msg = f"Successfully assigned {pod.namespace}/{pod.name} to {pod.node}"
            self.events.record(ref_of(stored), "Scheduled", msg, "Normal", "default-scheduler", now)

    def evict(self, pod: PodState, message: str, now: float) -> bool:
        """The kubelet's eviction manager evicts the pod: phase Failed, reason Evicted, its
        container killed; the pod stays (terminal) and its ReplicaSet replaces it."""
        if not pod.evict(now, message, self.rng):
            return False
        stored = self.store.put("pods", pod.render())
        self.events.record(ref_of(stored), "Evicted", message, "Warning", "kubelet", now, host=pod.node)
        self.pod_event(pod, "Killing", f"Stopping container {pod.container_name}", "Normal", now)
        failed = sorted((p for p in self.pods.values() if p.evicted), key=lambda p: p.evicted_at)
        for old in failed[: max(0, len(failed) - MAX_FAILED_PODS)]:  # PodGC
            old.gone = True
            self.render(old)
        self.tick()
        return True

    def delete_pod(self, pod: PodState, grace: int, at: float) -> None:
        pod.delete(at, grace, self.rng, self.pod_event)
        self.render(pod)

    def render(self, pod: PodState) -> None:
        if pod.gone:
            self.pods.pop((pod.namespace, pod.name), None)
            self.store.delete("pods", pod.namespace, pod.name)
            pod.notify()
        else:
            self.store.put_if_changed("pods", pod.render())

    # -- the loop ------------------------------------------------------------

    def tick(self) -> None:
        now = self.clock()
        self.nodes_ctl.tick()
        self.schedule_pending(now)
        for pod in list(self.pods.values()):
            if pod.step(now, self.rng, self.lookup(pod.namespace), self.pod_event):
                self.render(pod)
        for deploy in self.store.list("deployments"):
            self.sync_deployment(deploy, now)
        for rs in self.store.list("replicasets"):
            self.sync_replicaset(rs, now)
        for deploy in self.store.list("deployments"):
            self.deployment_status(deploy, now)

    # -- ReplicaSet ----------------------------------------------------------

    def owned_pods(self, rs: Obj) -> list[PodState]:
        return [p for p in self.pods.values() if p.rs_uid == rs["metadata"]["uid"]]

    def sync_replicaset(self, rs: Obj, now: float) -> None:
        active = [p for p in self.owned_pods(rs) if p.active]
        want = rs["spec"].get("replicas", 1)
        if len(active) < want:
            ns = rs["metadata"]["namespace"]
            for _ in range(want - len(active)):
                used = sum(1 for key, p in self.pods.items() if key[0] == ns and not p.evicted)  # quota: non-terminal pods
                if used >= POD_QUOTA:  # the namespace's ResourceQuota keeps the drill's memory bounded
                    self.events.record(
                        ref_of(rs),
                        "FailedCreate",
                        (
                            f'Error creating: pods "{rs["metadata"]["name"]}-" is forbidden: exceeded quota: {QUOTA_NAME}, '
                            f"requested: pods=1, used: pods={used}, limited: pods={POD_QUOTA}"
                        ),
                        "Warning",
                        "replicaset-controller",
                        now,
                    )
                    break
                active.append(self.new_pod(rs, now))
        elif len(active) > want:
            # kube's ActivePods ranking: not-ready, then more restarts, then newest go first
            victims = sorted(active, key=lambda p: (p.pod_ready, p.running, -p.restarts, -p.created_at))[: len(active) - want]
            for p in victims:
                self.events.record(ref_of(rs), "SuccessfulDelete", f"Deleted pod: {p.name}", "Normal", "replicaset-controller", now)
                self.delete_pod(p, int(p.template["spec"].get("terminationGracePeriodSeconds", 30)), now)
                active.remove(p)
        ready = sum(1 for p in active if p.pod_ready)
        status: dict[str, Any] = {
            "replicas": len(active),
            "fullyLabeledReplicas": len(active),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": rs["metadata"].get("generation", 1),
        }
        status = {k: v for k, v in status.items() if v or k in ("replicas", "observedGeneration")}
        if status != rs.get("status"):
            new = copy.deepcopy(rs)
            new["status"] = status
            self.store.put("replicasets", new)

    # -- Deployment ----------------------------------------------------------

    def replicasets_of(self, deploy: Obj) -> list[Obj]:
        duid = deploy["metadata"]["uid"]
        return [
            rs
            for rs in self.store.list("replicasets", deploy["metadata"]["namespace"])
            if any(o.get("uid") == duid for o in rs["metadata"].get("ownerReferences", []))
        ]

    def set_rs_replicas(self, deploy: Obj, rs: Obj, replicas: int, now: float) -> Obj:
        old = rs["spec"].get("replicas", 0)
        if old == replicas:
            return rs
        new = copy.deepcopy(rs)
        new["spec"]["replicas"] = replicas
        new["metadata"]["generation"] = new["metadata"].get("generation", 1) + 1
        surge, _ = surge_unavailable(deploy)
        ann = new["metadata"].setdefault("annotations", {})
        ann["deployment.kubernetes.io/desired-replicas"] = str(deploy["spec"].get("replicas", 1))
        ann["deployment.kubernetes.io/max-replicas"] = str(deploy["spec"].get("replicas", 1) + surge)
        stored = self.store.put("replicasets", new)
        direction = "up" if replicas > old else "down"
        self.events.record(
            ref_of(deploy),
            "ScalingReplicaSet",
            f"Scaled {direction} replica set {rs['metadata']['name']} from {old} to {replicas}",
            "Normal",
            "deployment-controller",
            now,
        )
        return stored

    def create_rs(self, deploy: Obj, thash: str, revision: int, replicas: int, now: float) -> Obj:
        meta = deploy["metadata"]
        tpl = copy.deepcopy(deploy["spec"]["template"])
        tpl.setdefault("metadata", {}).setdefault("labels", {})[HASH] = thash
        selector = copy.deepcopy(deploy["spec"]["selector"])
        selector.setdefault("matchLabels", {})[HASH] = thash
        surge, _ = surge_unavailable(deploy)
        rs = {
            "kind": "ReplicaSet",
            "apiVersion": "apps/v1",
            "metadata": {
                "name": f"{meta['name']}-{thash}",
                "namespace": meta["namespace"],
                "uid": uid(self.rng),
                "generation": 1,
                "creationTimestamp": rfc3339(now),
                "labels": dict(tpl["metadata"]["labels"]),
                "annotations": {
                    **copied_annotations(deploy),
                    "deployment.kubernetes.io/desired-replicas": str(deploy["spec"].get("replicas", 1)),
                    "deployment.kubernetes.io/max-replicas": str(deploy["spec"].get("replicas", 1) + surge),
                    REVISION: str(revision),
                },
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": meta["name"],
                        "uid": meta["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": {"replicas": 0, "selector": selector, "template": tpl},
            "status": {"replicas": 0, "observedGeneration": 1},
        }
        stored = self.store.put("replicasets", rs)
        if replicas:
            stored = self.set_rs_replicas(deploy, stored, replicas, now)
        return stored

    def sync_deployment(self, deploy: Obj, now: float) -> None:
        spec = deploy["spec"]
        replicas = spec.get("replicas", 1)
        thash = template_hash(spec["template"])
        rses = self.replicasets_of(deploy)
        new_rs = next((rs for rs in rses if rs["metadata"].get("labels", {}).get(HASH) == thash), None)
        olds = [rs for rs in rses if rs is not new_rs]
        max_rev = max((int(rs["metadata"].get("annotations", {}).get(REVISION, "0")) for rs in rses), default=0)
        if spec.get("paused"):
            active = [rs for rs in rses if rs["spec"].get("replicas", 0) > 0]
            if len(active) == 1:
                self.set_rs_replicas(deploy, active[0], replicas, now)
            return
        if new_rs is None:
            start = replicas if not any(rs["spec"].get("replicas", 0) for rs in olds) else 0
            if (spec.get("strategy") or {}).get("type") == "Recreate":
                start = 0
            new_rs = self.create_rs(deploy, thash, max_rev + 1, start, now)
            self._rs_news[deploy["metadata"]["uid"]] = ("NewReplicaSetCreated", f'Created new replica set "{new_rs["metadata"]["name"]}"')
        else:
            # SetNewReplicaSetAnnotations: the deployment's annotations (the change-cause) follow it to
            # its new ReplicaSet, and a reused one (a rollback) gets the next revision, the old one in its history
            updated = copy.deepcopy(new_rs)
            ann = updated["metadata"].setdefault("annotations", {})
            ann.update(copied_annotations(deploy))
            old_rev = int(ann.get(REVISION, "0"))
            if old_rev < max_rev:
                ann[REVISION] = str(max_rev + 1)
                history = [h for h in ann.get(HISTORY, "").split(",") if h]
                ann[HISTORY] = ",".join([*history, str(old_rev)])
                self._rs_news[deploy["metadata"]["uid"]] = ("FoundNewReplicaSet", f'Found new replica set "{new_rs["metadata"]["name"]}"')
            if updated != new_rs:
                # the controller's write, in managedFields as on a real cluster: when a rollback reused it shows there
                record_fields(new_rs, updated, "kube-controller-manager", now)
                new_rs = self.store.put("replicasets", updated)
        surge, unavailable = surge_unavailable(deploy)
        old_total = sum(rs["spec"].get("replicas", 0) for rs in olds)
        if (spec.get("strategy") or {}).get("type") == "Recreate":
            for rs in olds:
                self.set_rs_replicas(deploy, rs, 0, now)
            if not any(self.owned_pods(rs) for rs in olds):
                self.set_rs_replicas(deploy, new_rs, replicas, now)
            self._cleanup(deploy, olds)
            return
        # scale up the new ReplicaSet within maxSurge
        new_count = new_rs["spec"].get("replicas", 0)
        if new_count > replicas:
            new_rs = self.set_rs_replicas(deploy, new_rs, replicas, now)
        elif new_count < replicas:
            room = replicas + surge - (old_total + new_count)
            if room > 0:
                new_rs = self.set_rs_replicas(deploy, new_rs, min(replicas, new_count + room), now)

        # scale down old ReplicaSets within maxUnavailable (reconcileOldReplicaSets)
        def available(rs: Obj) -> int:
            return sum(1 for p in self.owned_pods(rs) if p.active and p.pod_ready)

        olds = sorted(self.replicasets_of(deploy), key=lambda r: r["metadata"]["creationTimestamp"])
        olds = [rs for rs in olds if rs["metadata"]["uid"] != new_rs["metadata"]["uid"]]
        if any(rs["spec"].get("replicas", 0) for rs in olds):
            min_available = replicas - unavailable
            all_count = sum(rs["spec"].get("replicas", 0) for rs in olds) + new_rs["spec"].get("replicas", 0)
            max_down = all_count - min_available - (new_rs["spec"].get("replicas", 0) - available(new_rs))
            if max_down > 0:
                cleaned = 0
                for i, rs in enumerate(olds):
                    n = min(max_down - cleaned, rs["spec"].get("replicas", 0) - available(rs))
                    if n > 0:
                        olds[i] = self.set_rs_replicas(deploy, rs, rs["spec"]["replicas"] - n, now)
                        cleaned += n
                avail_total = sum(available(rs) for rs in olds) + available(new_rs)
                total_down, done = avail_total - min_available, 0
                for i, rs in enumerate(olds):
                    n = min(rs["spec"].get("replicas", 0), total_down - done)
                    if n > 0:
                        olds[i] = self.set_rs_replicas(deploy, rs, rs["spec"]["replicas"] - n, now)
                        done += n
        self._cleanup(deploy, olds)

    def _cleanup(self, deploy: Obj, olds: list[Obj]) -> None:
        limit = deploy["spec"].get("revisionHistoryLimit", 10)
        idle = [rs for rs in olds if rs["spec"].get("replicas", 0) == 0 and not self.owned_pods(rs)]
        idle.sort(key=lambda r: int(r["metadata"].get("annotations", {}).get(REVISION, "0")))
        for rs in idle[: max(0, len(idle) - limit)]:
            self.store.delete("replicasets", rs["metadata"]["namespace"], rs["metadata"]["name"])

    def deployment_status(self, deploy: Obj, now: float) -> None:
        spec, old_status = deploy["spec"], deploy.get("status") or {}
        replicas = spec.get("replicas", 1)
        thash = template_hash(spec["template"])
        rses = self.replicasets_of(deploy)
        new_rs = next((rs for rs in rses if rs["metadata"].get("labels", {}).get(HASH) == thash), None)
        pods = [p for rs in rses for p in self.owned_pods(rs) if p.active]
        new_pods = [p for p in pods if new_rs is not None and p.rs_uid == new_rs["metadata"]["uid"]]
        ready = sum(1 for p in pods if p.pod_ready)
        spec_total = sum(rs["spec"].get("replicas", 0) for rs in rses)
        counts = {
            "observedGeneration": deploy["metadata"].get("generation", 1),
            "replicas": len(pods),
            "updatedReplicas": len(new_pods),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "unavailableReplicas": max(0, spec_total - ready),
        }
        status: dict[str, Any] = {k: v for k, v in counts.items() if v or k == "observedGeneration"}
        conds = {c["type"]: c for c in copy.deepcopy(old_status.get("conditions", []))}
        _, unavailable = surge_unavailable(deploy)

        def setc(ctype: str, st: str, reason: str, message: str, touch: bool = False) -> None:
            cur = conds.get(ctype)
            if cur and cur["status"] == st and cur["reason"] == reason and not touch:
                return
            since = cur["lastTransitionTime"] if cur and cur["status"] == st else rfc3339(now)
            conds[ctype] = {
                "type": ctype,
                "status": st,
                "lastUpdateTime": rfc3339(now),
                "lastTransitionTime": since,
                "reason": reason,
                "message": message,
            }

        if ready >= replicas - unavailable:
            setc("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
        else:
            setc("Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.")
        rs_name = new_rs["metadata"]["name"] if new_rs else ""
        # syncRolloutStatus / checkPausedConditions of the real deployment controller
        duid = deploy["metadata"]["uid"]
        if duid in self._rs_news:
            setc("Progressing", "True", *self._rs_news.pop(duid), touch=True)
        cur = conds.get("Progressing")
        if spec.get("paused"):
            if cur is None or cur["reason"] != "DeploymentPaused":
                setc("Progressing", "Unknown", "DeploymentPaused", "Deployment is paused")
        else:
            if cur is not None and cur["reason"] == "DeploymentPaused":
                setc("Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed")
            cur = conds.get("Progressing")
            settled = (
                status.get("replicas", 0) == status.get("updatedReplicas", 0)
                and cur is not None
                and cur["reason"] == "NewReplicaSetAvailable"
            )
            old_old = old_status.get("replicas", 0) - old_status.get("updatedReplicas", 0)
            new_old = status.get("replicas", 0) - status.get("updatedReplicas", 0)
            progressing = (
                status.get("updatedReplicas", 0) > old_status.get("updatedReplicas", 0)
                or new_old < old_old
                or ready > old_status.get("readyReplicas", 0)
                or ready > old_status.get("availableReplicas", 0)
            )
            complete = len(new_pods) == replicas and len(pods) == replicas and ready == replicas and new_rs is not None
            if not settled:  # a finished rollout is not re-judged when pods later crash
                if complete:
                    setc("Progressing", "True", "NewReplicaSetAvailable", f'ReplicaSet "{rs_name}" has successfully progressed.')
                elif progressing or cur is None:
                    setc("Progressing", "True", "ReplicaSetUpdated", f'ReplicaSet "{rs_name}" is progressing.', touch=True)
                elif cur["reason"] != "ProgressDeadlineExceeded" and now - parse_rfc3339(cur["lastUpdateTime"]) > spec.get(
                    "progressDeadlineSeconds", 600
                ):
                    setc("Progressing", "False", "ProgressDeadlineExceeded", f'ReplicaSet "{rs_name}" has timed out progressing.')
        status["conditions"] = [conds[t] for t in ("Available", "Progressing") if t in conds]
        new = copy.deepcopy(deploy)
        new["status"] = status
        if new_rs is not None:
            new["metadata"].setdefault("annotations", {})[REVISION] = new_rs["metadata"]["annotations"][REVISION]
        if new != deploy:
            self.store.put("deployments", new)
