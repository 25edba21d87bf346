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

from clay_cockpit.sim.kube.util import rfc3339

LOG_LINES = 5000  # per container instance
BACKOFF_START, BACKOFF_MAX, BACKOFF_RESET = 10.0, 300.0, 600.0

# record(pod, reason, message, type, at)
Recorder = Callable[["PodState", str, str, str, float], None]
# lookup(resource, name) -> stored object or None
Lookup = Callable[[str, str], "dict[str, Any] | None"]


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
            env[name] = {"metadata.name": pod.name, "metadata.namespace": pod.namespace, "status.podIP": pod.pod_ip,
                         "spec.nodeName": pod.node, "status.hostIP": pod.host_ip}.get(path, "")
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
    transitions: dict[str, float] = field(default_factory=dict)
    logs: deque = field(default_factory=lambda: deque(maxlen=LOG_LINES))
    prev_logs: deque = field(default_factory=lambda: deque(maxlen=LOG_LINES))
    log_seq: int = 0
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    # -- helpers -------------------------------------------------------------

    @property
    def container_name(self) -> str:
        return self.template["spec"]["containers"][0]["name"]

    @property
    def image(self) -> str:
        return self.template["spec"]["containers"][0].get("image", "")

    @property
    def running(self) -> bool:
        return self.container == "running"

    @property
    def active(self) -> bool:
        """Counted by its ReplicaSet: not being deleted."""
        return self.deleting_at is None and not self.gone

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
            if self.deleting_at is None and self.container in ("creating", "config_error", "backoff") and now >= self.start_at:
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
            "containerID": self.container_id, "exitCode": exit_code, "finishedAt": rfc3339(now),
            "reason": reason, "startedAt": rfc3339(self.started_at or now),
        }
        self.restarts += 1
        self.container, self.ready, self.ready_at = "backoff", False, None
        self.start_at = now + delay
        self.waiting_message = (f"back-off {go_duration(delay)} restarting failed container={self.container_name} "
                                f"pod={self.name}_{self.namespace}({self.uid})")
        self._mark("ready", now)
        record(self, "BackOff", f"Back-off restarting failed container {self.container_name} in pod "
                                f"{self.name}_{self.namespace}({self.uid})", "Warning", now)
        self.notify()
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

    def _stop(self, at: float) -> None:
        if self.running:
            self.container, self.ready = "stopped", False
            self._mark("ready", at)
        self.notify()

    # -- rendering -----------------------------------------------------------

    def _cond(self, ctype: str, ok: bool, since: float, reason: str = "", message: str = "") -> dict[str, Any]:
        c: dict[str, Any] = {"lastProbeTime": None, "lastTransitionTime": rfc3339(since), "status": "True" if ok else "False",
                             "type": ctype}
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
            state = {"terminated": {"containerID": self.container_id, "exitCode": 0,
                                    "finishedAt": rfc3339(self.stop_at or self.created_at), "reason": "Completed",
                                    "startedAt": rfc3339(self.started_at or self.created_at)}}
        elif self.container == "backoff":
            state = {"waiting": {"message": self.waiting_message, "reason": "CrashLoopBackOff"}}
        elif self.container == "config_error":
            state = {"waiting": {"message": self.waiting_message, "reason": "CreateContainerConfigError"}}
        else:
            state = {"waiting": {"reason": "ContainerCreating"}}
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
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": self.rs_name,
                                    "uid": self.rs_uid, "controller": True, "blockOwnerDeletion": True}]
        spec = copy.deepcopy(tpl["spec"])
        token_volume = f"kube-api-access-{self.uid[:5]}"
        for c in spec.get("containers", []):
            c.setdefault("volumeMounts", []).append({"name": token_volume, "readOnly": True,
                                                     "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"})
        spec.setdefault("volumes", []).append({"name": token_volume, "projected": {"defaultMode": 420, "sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
        ]}})
        spec["nodeName"] = self.node
        spec.setdefault("serviceAccountName", "default")
        spec["serviceAccount"] = spec["serviceAccountName"]
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
        spec.setdefault("priority", 0)
        spec.setdefault("tolerations", [
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
        ])
        started = self.instance > 0
        sandbox_at = self.created_at + 0.5
        ready_since = self.transitions.get("ready", self.created_at)
        unready = f"containers with unready status: [{self.container_name}]"
        conditions = [
            self._cond("PodReadyToStartContainers", self.container != "stopped", sandbox_at),
            self._cond("Initialized", True, self.created_at),
            self._cond("Ready", self.ready, ready_since, "ContainersNotReady", unready),
            self._cond("ContainersReady", self.ready, ready_since, "ContainersNotReady", unready),
            self._cond("PodScheduled", True, self.created_at),
        ]
        status: dict[str, Any] = {
            "phase": "Running" if started else "Pending",
            "conditions": conditions,
            "hostIP": self.host_ip,
            "hostIPs": [{"ip": self.host_ip}],
            "podIP": self.pod_ip,
            "podIPs": [{"ip": self.pod_ip}],
            "startTime": rfc3339(self.created_at),
            "containerStatuses": [self.container_status()],
            "qosClass": "Burstable",
        }
        return {"kind": "Pod", "apiVersion": "v1", "metadata": meta, "spec": spec, "status": status}

    # -- logs ----------------------------------------------------------------

    def log_buffer(self, previous: bool) -> deque | str:
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
