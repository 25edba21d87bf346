"""A drill pod and the kubelet that runs it, on the simulation clock.

:class:`PodState` holds what kubelet knows about one pod (container
lifecycle, crash back-off, the resolved env, the logs of the current and the
previous container) and renders the ``v1.Pod`` object the API serves, in the
shapes a real cluster uses (conditions, containerStatuses with
state/lastState, CrashLoopBackOff waiting messages).

Timeline of a new pod (sim seconds): scheduled at once; container created and
started 1.5–3.5 s later (env resolved from the Secret/ConfigMap then; a
missing one leaves it waiting in CreateContainerConfigError and retried); ready
3–6 s after start. A deleted pod is Terminating for 2–6 s, then gone.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from clay_cockpit.sim.kube.initc import InitContainer, init_containers, init_status, steps
from clay_cockpit.sim.kube.util import rfc3339

LOG_LINES = 5000  # per container instance
# what the DefaultTolerationSeconds admission plugin gives every pod
DEFAULT_TOLERATIONS: list[dict[str, Any]] = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
]
KILL_GRACE = 2.0  # a hard eviction kills with grace 0, which the kubelet raises to its 2 s minimum
BACKOFF_START, BACKOFF_MAX, BACKOFF_RESET = 10.0, 300.0, 600.0

# record(pod, reason, message, type, at)
Recorder = Callable[["PodState", str, str, str, float], None]
# lookup(resource, name) -> stored object or None
Lookup = Callable[[str, str], "dict[str, Any] | None"]
LogLine = tuple[int, float, str]  # sequence number, sim time, text


class EnvError(Exception):
    """The container cannot start: its env refers to a missing Secret/ConfigMap or key."""


def go_duration(seconds: float) -> str:
    """Go's time.Duration String() for whole seconds: 10s, 1m20s, 5m0s."""
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m{s}s"
    h, m = divmod(m, 60)
    return f"{h}h{m}m{s}s"


def resolve_env(container: dict[str, Any], pod: PodState, lookup: Lookup) -> dict[str, str]:
    """The env kubelet gives a container: envFrom first, then env (later wins)."""
    env: dict[str, str] = {"HOSTNAME": pod.name}

    def source(kind: str, name: str, optional: bool) -> dict[str, str] | None:
        obj = lookup("secrets" if kind == "Secret" else "configmaps", name)
        if obj is None:
            if optional:
                return None
            raise EnvError(f'{"secret" if kind == "Secret" else "configmap"} "{name}" not found')
        if kind == "Secret":
            return {k: base64.b64decode(v).decode("utf-8", "replace") for k, v in (obj.get("data") or {}).items()}
        return dict(obj.get("data") or {})

    for ef in container.get("envFrom") or []:
        for kind, ref_key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            ref = ef.get(ref_key)
            if ref:
                values = source(kind, ref.get("name", ""), bool(ref.get("optional")))
                for k, v in (values or {}).items():
                    env[ef.get("prefix", "") + k] = v
    for e in container.get("env") or []:
        name = e.get("name", "")
        if "value" in e:
            env[name] = str(e["value"])
            continue
        vf = e.get("valueFrom") or {}
        for kind, ref_key in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
            ref = vf.get(ref_key)
            if ref:
                values = source(kind, ref.get("name", ""), bool(ref.get("optional")))
                if values is None:
                    continue
                if ref.get("key") not in values:
                    if ref.get("optional"):
                        continue
                    raise EnvError(f"couldn't find key {ref.get('key')} in {kind} {pod.namespace}/{ref.get('name')}")
                env[name] = values[ref["key"]]
        if "fieldRef" in vf:
            path = vf["fieldRef"].get("fieldPath", "")
            env[name] = {
                "metadata.name": pod.name,
                "metadata.namespace": pod.namespace,
                "status.podIP": pod.pod_ip,
                "spec.nodeName": pod.node,
                "status.hostIP": pod.host_ip,
            }.get(path, "")
        if "value" not in e and not vf:
            env[name] = ""
    return env


@dataclass(eq=False)
class PodState:
    name: str
    namespace: str
    uid: str
    rs_name: str
    rs_uid: str
    template: dict[str, Any]  # the ReplicaSet's pod template (metadata + spec)
    node: str
    host_ip: str
    pod_ip: str
    created_at: float
    start_at: float
    ready_delay: float
    container: str = "creating"  # creating | config_error | running | backoff | stopped
    instance: int = 0
    container_id: str = ""
    started_at: float | None = None
    ready_at: float | None = None
    ready: bool = False
    restarts: int = 0
    crashes: int = 0
    last_terminated: dict[str, Any] | None = None
    waiting_message: str = ""
    env: dict[str, str] = field(default_factory=dict)
    deleting_at: float | None = None
    grace: int = 30
    stop_at: float | None = None
    gone: bool = False
    unschedulable: str = ""  # the scheduler's message while no node fits (node == "")
    schedule_at: float = 0.0  # the scheduler's next attempt
    evicted: str = ""  # the kubelet's eviction message: the pod is Failed
    evicted_at: float = 0.0
    killed_at: float | None = None
    transitions: dict[str, float] = field(default_factory=dict)
    logs: deque[LogLine] = field(default_factory=lambda: deque(maxlen=LOG_LINES))
    prev_logs: deque[LogLine] = field(default_factory=lambda: deque(maxlen=LOG_LINES))
    log_seq: int = 0
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    node_lost: bool = False  # the node controller gave up on its node: NodeLost, deleted, never confirmed gone
    inits: list[InitContainer] = field(default_factory=list)  # the template's init containers and native sidecars
    init_done: int = 0  # how many of them completed (a sidecar: started)

    def __post_init__(self) -> None:
        self.inits = init_containers(self.template)

    # -- helpers -------------------------------------------------------------

    @property
    def container_name(self) -> str:
        name: str = self.template["spec"]["containers"][0]["name"]
        return name

    @property
    def image(self) -> str:
        image: str = self.template["spec"]["containers"][0].get("image", "")
        return image

    @property
    def running(self) -> bool:
        return self.container == "running"

    @property
    def initialized(self) -> bool:
        return self.init_done == len(self.inits)

    @property
    def pod_ready(self) -> bool:
        """The pod's Ready condition: the app container and every native sidecar ready."""
        return self.ready and self.initialized and not self.node_lost and all(ic.up for ic in self.inits if ic.sidecar)

    @property
    def active(self) -> bool:
        """Counted by its ReplicaSet: not being deleted, not terminal (evicted)."""
        return self.deleting_at is None and not self.gone and not self.evicted

    def notify(self) -> None:
        """Wake log followers (a new line, or the container ended)."""
        self.wake.set()
        self.wake = asyncio.Event()

    def append_log(self, line: str, at: float) -> None:
        self.log_seq += 1
        self.logs.append((self.log_seq, at, line))
        self.notify()

    def _mark(self, key: str, at: float) -> None:
        self.transitions[key] = at

    # -- kubelet -------------------------------------------------------------

    def step(self, now: float, rng: random.Random, lookup: Lookup, record: Recorder) -> bool:
        """Advance to ``now``; True if anything visible changed."""
        changed = False
        for _ in range(8):
            if self.gone:
                return changed
            if self.stop_at is not None and now >= self.stop_at:
                self._stop(self.stop_at)
                self.gone = True
                return True
            if self.evicted:
                if self.running and now >= self.evicted_at + KILL_GRACE:
                    self.container, self.ready, self.killed_at = "killed", False, self.evicted_at + KILL_GRACE
                    self._mark("ready", self.killed_at)
                    self.notify()
                    return True
                return changed
            if not self.node:
                return changed  # not scheduled: the kubelet does not know it
            if self.inits and self.deleting_at is None and self._run_inits(now, rng, record):
                changed = True
            if (
                self.deleting_at is None
                and self.container in ("creating", "config_error", "backoff")
                and now >= self.start_at
                and self.initialized
            ):
                self._start(self.start_at if self.container != "config_error" else now, rng, lookup, record)
                changed = True
                continue
            if self.running and not self.ready and self.ready_at is not None and now >= self.ready_at:
                self.ready = True
                self._mark("ready", self.ready_at)
                changed = True
                continue
            break
        return changed

    def _run_inits(self, now: float, rng: random.Random, record: Recorder) -> bool:
        """Init containers in order, then sidecars' back-offs ending: True if any changed."""
        changed = False
        at = steps(self.transitions.get("scheduled", self.created_at), self.start_at, len(self.inits))
        while not self.initialized:
            k = self.init_done
            ic = self.inits[k]
            if ic.started_at is None:
                if now < at[k]:
                    break
                ic.started_at, ic.container_id = at[k], "containerd://" + f"{rng.getrandbits(256):064x}"
                record(self, "Pulled", f'Container image "{ic.image}" already present on machine', "Normal", at[k])
                record(self, "Created", f"Created container: {ic.name}", "Normal", at[k])
                record(self, "Started", f"Started container {ic.name}", "Normal", at[k])
                changed = True
            if now < at[k + 1]:
                break
            ic.done_at, self.init_done, changed = at[k + 1], k + 1, True
        for ic in self.inits:
            if ic.backoff_until is not None and now >= ic.backoff_until:
                ic.started_at, ic.backoff_until, ic.waiting_message = ic.backoff_until, None, ""
                ic.container_id = "containerd://" + f"{rng.getrandbits(256):064x}"
                record(self, "Started", f"Started container {ic.name}", "Normal", ic.started_at)
                self._mark("ready", ic.started_at)
                changed = True
        return changed

    def crash_sidecar(self, now: float, name: str, reason: str, exit_code: int, record: Recorder) -> bool:
        """A running native sidecar dies; the kubelet restarts it after the CrashLoopBackOff delay."""
        ic = next((c for c in self.inits if c.name == name and c.up), None)
        if ic is None or self.deleting_at is not None or self.evicted:
            return False
        if ic.started_at is not None and now - ic.started_at >= BACKOFF_RESET:
            ic.crashes = 0
        ic.crashes += 1
        delay = min(BACKOFF_START * 2 ** (ic.crashes - 1), BACKOFF_MAX)
        ic.last_terminated = {"containerID": ic.container_id, "exitCode": exit_code, "finishedAt": rfc3339(now),
                              "reason": reason, "startedAt": rfc3339(ic.started_at or now)}  # fmt: skip
        ic.restarts += 1
        ic.backoff_until = now + delay
        ic.waiting_message = (
            f"back-off {go_duration(delay)} restarting failed container={name} pod={self.name}_{self.namespace}({self.uid})"
        )
        self._mark("ready", now)
        record(
            self, "BackOff", f"Back-off restarting failed container {name} in pod {self.name}_{self.namespace}({self.uid})", "Warning", now
        )
        return True

    def _start(self, at: float, rng: random.Random, lookup: Lookup, record: Recorder) -> None:
        container = self.template["spec"]["containers"][0]
        if self.instance == 0 and self.container == "creating":
            record(self, "Pulled", f'Container image "{self.image}" already present on machine', "Normal", at)
        try:
            env = resolve_env(container, self, lookup)
        except EnvError as exc:
            if self.container != "config_error" or self.waiting_message != str(exc):
                record(self, "Failed", f"Error: {exc}", "Warning", at)
            self.container, self.waiting_message = "config_error", str(exc)
            self.start_at = at + 5.0
            return
        if self.container in ("backoff", "config_error") and self.instance > 0:
            record(self, "Pulled", f'Container image "{self.image}" already present on machine', "Normal", at)
        if self.instance > 0:
            self.prev_logs = self.logs
            self.logs = deque(maxlen=LOG_LINES)
        self.instance += 1
        self.container = "running"
        self.container_id = "containerd://" + f"{rng.getrandbits(256):064x}"
        self.env = env
        self.started_at = at
        self.ready, self.ready_at = False, at + self.ready_delay
        self.waiting_message = ""
        self._mark("started", at)
        record(self, "Created", f"Created container: {self.container_name}", "Normal", at)
        record(self, "Started", f"Started container {self.container_name}", "Normal", at)
        self.notify()

    def crash(self, now: float, reason: str, exit_code: int, record: Recorder) -> bool:
        """The running container dies; kubelet restarts it after the CrashLoopBackOff delay."""
        if not self.running or self.deleting_at is not None:
            return False
        if self.started_at is not None and now - self.started_at >= BACKOFF_RESET:
            self.crashes = 0
        self.crashes += 1
        delay = min(BACKOFF_START * 2 ** (self.crashes - 1), BACKOFF_MAX)
        self.last_terminated = {
            "containerID": self.container_id,
            "exitCode": exit_code,
            "finishedAt": rfc3339(now),
            "reason": reason,
            "startedAt": rfc3339(self.started_at or now),
        }
        self.restarts += 1
        self.container, self.ready, self.ready_at = "backoff", False, None
        self.start_at = now + delay
        self.waiting_message = (
            f"back-off {go_duration(delay)} restarting failed container={self.container_name} pod={self.name}_{self.namespace}({self.uid})"
        )
        self._mark("ready", now)
        record(
            self,
            "BackOff",
            f"Back-off restarting failed container {self.container_name} in pod {self.name}_{self.namespace}({self.uid})",
            "Warning",
            now,
        )
        self.notify()
        return True

    def evict(self, now: float, message: str, rng: random.Random) -> bool:
        """Evicted by the kubelet: Failed at once; the container is killed after the minimum grace."""
        if not self.active or not self.node:
            return False
        self.evicted, self.evicted_at = message, now
        if not self.running:
            self.container, self.killed_at = "killed" if self.instance else "creating", now
        self._mark("ready", now)
        self.ready = False
        return True

    def delete(self, now: float, grace: int, rng: random.Random, record: Recorder) -> None:
        if self.deleting_at is not None:
            if grace == 0:
                self.stop_at = now
            return
        self.deleting_at, self.grace = now, grace
        if self.running and grace > 0:
            record(self, "Killing", f"Stopping container {self.container_name}", "Normal", now)
            self.stop_at = now + min(float(grace), rng.uniform(2.0, 6.0))
        else:
            self.stop_at = now + (0.5 if grace > 0 else 0.0)

    def lose_node(self, now: float) -> None:
        """The node controller of old clusters (before taint-based eviction): the pod's node stopped
        answering, so it marks the pod NodeLost and deletes it; with no kubelet to confirm, it stays
        (kubectl: ``Unknown``) until someone force-deletes it."""
        self.node_lost, self.deleting_at, self.stop_at = True, now, None
        self._mark("ready", now)

    def _stop(self, at: float) -> None:
        if self.running:
            self.container, self.ready = "stopped", False
            self._mark("ready", at)
        self.notify()

    # -- rendering -----------------------------------------------------------

    def _cond(self, ctype: str, ok: bool, since: float, reason: str = "", message: str = "") -> dict[str, Any]:
        c: dict[str, Any] = {
            "lastProbeTime": None,
            "lastTransitionTime": rfc3339(since),
            "status": "True" if ok else "False",
            "type": ctype,
        }
        if not ok and reason:
            c["reason"], c["message"] = reason, message
        return c

    def container_status(self) -> dict[str, Any]:
        image_id = self.image.split(":")[0] + "@sha256:" + hashlib.sha256(self.image.encode()).hexdigest()
        cs: dict[str, Any] = {}
        if self.container_id:
            cs["containerID"] = self.container_id
        cs["image"] = self.image
        cs["imageID"] = image_id if self.instance else ""
        cs["lastState"] = {"terminated": dict(self.last_terminated)} if self.last_terminated else {}
        cs["name"] = self.container_name
        cs["ready"] = self.ready
        cs["restartCount"] = self.restarts
        cs["started"] = self.running
        if self.running:
            state: dict[str, Any] = {"running": {"startedAt": rfc3339(self.started_at or self.created_at)}}
        elif self.container == "stopped":
            state = {
                "terminated": {
                    "containerID": self.container_id,
                    "exitCode": 0,
                    "finishedAt": rfc3339(self.stop_at or self.created_at),
                    "reason": "Completed",
                    "startedAt": rfc3339(self.started_at or self.created_at),
                }
            }
        elif self.container == "killed":  # SIGKILL after the eviction's grace: what containerd reports
            state = {
                "terminated": {
                    "containerID": self.container_id,
                    "exitCode": 137,
                    "finishedAt": rfc3339(self.killed_at or self.evicted_at),
                    "reason": "Error",
                    "startedAt": rfc3339(self.started_at or self.created_at),
                }
            }
        elif self.container == "backoff":
            state = {"waiting": {"message": self.waiting_message, "reason": "CrashLoopBackOff"}}
        elif self.container == "config_error":
            state = {"waiting": {"message": self.waiting_message, "reason": "CreateContainerConfigError"}}
        else:
            state = {"waiting": {"reason": "ContainerCreating" if self.initialized else "PodInitializing"}}
        cs["state"] = state
        return cs

    def render(self) -> dict[str, Any]:
        tpl = self.template
        meta: dict[str, Any] = {
            "name": self.name,
            "generateName": f"{self.rs_name}-",
            "namespace": self.namespace,
            "uid": self.uid,
            "creationTimestamp": rfc3339(self.created_at),
        }
        if self.deleting_at is not None:
            meta["deletionTimestamp"] = rfc3339(self.deleting_at + self.grace)
            meta["deletionGracePeriodSeconds"] = self.grace
        meta["labels"] = dict(tpl["metadata"].get("labels") or {})
        if tpl["metadata"].get("annotations"):
            meta["annotations"] = dict(tpl["metadata"]["annotations"])
        meta["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": self.rs_name,
                "uid": self.rs_uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        spec = copy.deepcopy(tpl["spec"])
        token_volume = f"kube-api-access-{self.uid[:5]}"
        for c in [*spec.get("initContainers", []), *spec.get("containers", [])]:
            c.setdefault("volumeMounts", []).append(
                {"name": token_volume, "readOnly": True, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}
            )
        spec.setdefault("volumes", []).append(
            {
                "name": token_volume,
                "projected": {
                    "defaultMode": 420,
                    "sources": [
                        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                        {
                            "downwardAPI": {
                                "items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]
                            }
                        },
                    ],
                },
            }
        )
        if self.node:
            spec["nodeName"] = self.node
        spec.setdefault("serviceAccountName", "default")
        spec["serviceAccount"] = spec["serviceAccountName"]
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
        spec.setdefault("priority", 0)
        spec.setdefault("tolerations", copy.deepcopy(DEFAULT_TOLERATIONS))
        if not self.node:  # pending: only the scheduler has spoken
            cond = self._cond("PodScheduled", False, self.created_at, "Unschedulable", self.unschedulable)
            status: dict[str, Any] = {"phase": "Pending", "conditions": [cond], "qosClass": "Burstable"}
            return {"kind": "Pod", "apiVersion": "v1", "metadata": meta, "spec": spec, "status": status}
        started = self.instance > 0
        scheduled_at = self.transitions.get("scheduled", self.created_at)
        sandbox_at = scheduled_at + 0.5
        ready_since = self.transitions.get("ready", scheduled_at)
        unready_names = [ic.name for ic in self.inits if ic.sidecar and not ic.up] + ([] if self.ready else [self.container_name])
        unready = f"containers with unready status: [{' '.join(unready_names)}]"
        pending = [ic.name for ic in self.inits[self.init_done :]]
        inited_at = self.inits[-1].done_at if self.inits and self.initialized else scheduled_at
        conditions = [
            self._cond("PodReadyToStartContainers", self.container not in ("stopped", "killed"), self.killed_at or sandbox_at),
            self._cond(
                "Initialized",
                self.initialized,
                inited_at or scheduled_at,
                "ContainersNotInitialized",
                f"containers with incomplete status: [{' '.join(pending)}]",
            ),  # fmt: skip
            self._cond("Ready", self.pod_ready, ready_since, "ContainersNotReady", unready),
            self._cond("ContainersReady", self.pod_ready, ready_since, "ContainersNotReady", unready),
            self._cond("PodScheduled", True, scheduled_at),
        ]
        if self.evicted:  # the kubelet's disruption condition comes first
            dt = self._cond("DisruptionTarget", True, self.evicted_at)
            dt.update(reason="TerminationByKubelet", message=self.evicted)
            conditions.insert(0, dt)
        status = {
            "phase": "Failed" if self.evicted else "Running" if started else "Pending",
            "conditions": conditions,
            "hostIP": self.host_ip,
            "hostIPs": [{"ip": self.host_ip}],
            "podIP": self.pod_ip,
            "podIPs": [{"ip": self.pod_ip}],
            "startTime": rfc3339(self.created_at),
            "containerStatuses": [self.container_status()],
            "qosClass": "Burstable",
        }
        if self.inits:
            end = self.killed_at if self.container == "killed" else self.stop_at
            status["initContainerStatuses"] = [
                init_status(ic, k, self.init_done, self.container, end or self.created_at) for k, ic in enumerate(self.inits)
            ]
        if self.evicted:
            status.update(reason="Evicted", message=self.evicted)
        elif self.node_lost:
            status.update(reason="NodeLost", message=f"Node {self.node} which was running pod {self.name} is unresponsive")
        return {"kind": "Pod", "apiVersion": "v1", "metadata": meta, "spec": spec, "status": status}

    # -- logs ----------------------------------------------------------------

    def log_buffer(self, previous: bool) -> deque[LogLine] | str:
        """The lines ``pods/log`` serves, or the kubelet's error text (→ 400)."""
        c = self.container_name
        if previous:
            if self.running and self.instance > 1:
                return self.prev_logs
            if self.container in ("backoff", "stopped") and self.instance > 0:
                return self.logs
            return f'previous terminated container "{c}" in pod "{self.name}" not found'
        if self.instance == 0:
            reason = "CreateContainerConfigError" if self.container == "config_error" else "ContainerCreating"
            return f'container "{c}" in pod "{self.name}" is waiting to start: {reason}'
        return self.logs
