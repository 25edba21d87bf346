"""An in-memory Kubernetes API server for the drill, served with aiohttp.

``kubectl`` and the official ``kubernetes`` Python client work against it
unchanged over plain HTTP on loopback with a bearer token: discovery, the
clay-sync namespace's Deployment / ReplicaSets / Pods / logs / Secret /
ConfigMap / Events / Leases, SelfSubjectAccessReview, watches, the three
patch types and ``dryRun=All``. Pods live and die on the simulation clock:
rollouts, scaling, CrashLoopBackOff, terminations.

Module map: :mod:`http` (routes, auth, verbs), :mod:`logs`
(pods/log), :mod:`store` (objects, resourceVersion, watches),
:mod:`workload` (Deployment/ReplicaSet controllers, scheduling, events),
:mod:`pods` (kubelet), :mod:`nodes` (node status, Leases, taints),
:mod:`changes` (CI's rollouts and managedFields), :mod:`validate` (admission),
:mod:`patch`, :mod:`resources` (discovery, tables, OpenAPI v3 stubs),
:mod:`proto` (protobuf request bodies), :mod:`tls` (the serving
certificate), :mod:`util`.

Threading: everything runs on one asyncio event loop. Call every method of
:class:`KubeCluster` from that loop's thread (the constructor may run before
the loop starts).
"""

from __future__ import annotations

import base64
import copy
import hmac
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from clay_cockpit.sim import wiring
from clay_cockpit.sim.kube import tls as kube_tls
from clay_cockpit.sim.kube.changes import ci_rollout, seed_history
from clay_cockpit.sim.kube.cordon import cordon_taint, schedulable_event
from clay_cockpit.sim.kube.http import build_app
from clay_cockpit.sim.kube.initc import seeded_init_containers
from clay_cockpit.sim.kube.managed import decode as decode_fields
from clay_cockpit.sim.kube.managed import encode as encode_fields
from clay_cockpit.sim.kube.managed import record as record_fields
from clay_cockpit.sim.kube.rbac import Denial, Rbac
from clay_cockpit.sim.kube.store import Store
from clay_cockpit.sim.kube.tls import TlsMaterial
from clay_cockpit.sim.kube.util import rfc3339, uid
from clay_cockpit.sim.kube.util import status_body as _status_body
from clay_cockpit.sim.kube.validate import default_deployment
from clay_cockpit.sim.kube.workload import CHANGE_CAUSE, Controllers, template_hash

DAY = 86400.0
CI_MANAGER = "ci-deploy"  # the field manager of the CI pipeline that deploys clay-sync
# who created the seeded Deployment, Secret and ConfigMap: ``kubectl apply`` of their manifests
# (without the last-applied-configuration annotation such a create leaves: for the Secret it
# would hold the key's value, and nothing in the drill reads it)
APPLY_MANAGER = "kubectl-client-side-apply"


def _applied(deploy: dict[str, Any], template: dict[str, Any], at: float) -> dict[str, Any]:
    """The managedFields entry of the Deployment as ``kubectl apply`` created it at ``at``, with ``template``."""
    created = copy.deepcopy(deploy)
    created["spec"]["template"] = copy.deepcopy(template)
    created["metadata"].pop("managedFields", None)
    record_fields(None, created, APPLY_MANAGER, at)
    entry: dict[str, Any] = created["metadata"]["managedFields"][0]
    return entry


def _own_the_rest(deploy: dict[str, Any], applied: dict[str, Any]) -> None:
    """Put the creator's entry first in the Deployment's managedFields, less what later writers took."""
    entries = deploy["metadata"].get("managedFields") or []
    taken: set[tuple[str, ...]] = set()
    for e in entries:
        if e.get("subresource", "") == "":
            taken |= decode_fields(e.get("fieldsV1"))
    kept = decode_fields(applied["fieldsV1"]) - taken
    if kept:
        deploy["metadata"]["managedFields"] = [{**applied, "fieldsV1": encode_fields(kept)}, *entries]


def ci_cause(tag: str, pipeline: int) -> str:
    """The change-cause the CI pipeline records with a rollout."""
    return f"ci: deploy clay-sync {tag} (pipeline #{pipeline})"


@dataclass
class SimPod:
    """A pod whose container is running, as the rest of the simulator sees it."""

    name: str
    started_at: float  # when the current container started (sim epoch)
    ready: bool
    env: dict[str, str]  # resolved when the container started
    restarts: int
    image: str = ""  # the container's image (registry/name:tag)


class KubeCluster:
    """The drill's Kubernetes cluster: state, controllers and the API app."""

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        rng: random.Random,
        token: str,
        replicas: int = 3,
        sidecars: bool = False,
        api_key: str,
        flags: dict[str, str],
        image: str = "registry.internal/clay-sync:1.14.2",
    ) -> None:
        """Seed namespace ``clay-sync`` with the Deployment, its ReplicaSets, ``replicas``
        running and ready pods (started days before ``clock()``), the Secret
        ``clay-api`` (``api-key``), the ConfigMap ``clay-sync-flags`` and the
        default ServiceAccount.

        ``clock()`` gives the simulation's epoch seconds (it may be frozen or
        run faster than real time); every lifecycle delay is measured on it.
        """
        self.clock, self.rng, self.user = clock, rng, wiring.USER
        self.namespace = wiring.NAMESPACE
        self._token, self._expired = token, False
        self._expire_on_write = False  # armed by a kube_token_expired fault with at_write
        self.rbac = Rbac(self.user, self.namespace)  # what the responder may not do (kube_rbac)
        self.closing = False
        self.logs_stalled = False  # log follows stay open and send nothing (stall_logs)
        self._tls: TlsMaterial | None = None
        self.store = Store()
        nodes = [(f"drill-node-{i}", f"10.0.0.{10 + i}") for i in (1, 2, 3)]
        self.ctl = Controllers(self.store, clock, rng, nodes)
        self._seed(replicas, api_key, flags, image, sidecars)

    # -- the API the simulator calls -----------------------------------------

    def app(self) -> web.Application:
        """The API's aiohttp application; the caller may append middlewares before starting it."""
        self.closing = False
        return build_app(self)

    def tls(self) -> TlsMaterial:
        """This cluster's self-signed serving certificate (made on first use).

        Serve :meth:`app` with ``tls().server_context()`` and put
        ``tls().ca_data`` in the kubeconfig (:func:`kube_tls.trust_in_kubeconfig`):
        kubectl sends the bearer token only over https.
        """
        if self._tls is None:
            self._tls = kube_tls.generate()
        return self._tls

    def tick(self) -> None:
        """Advance pod lifecycles, rollouts and crash back-offs to ``clock()``."""
        self.ctl.tick()

    def reconcile(self) -> None:
        """Run the controllers now (after an API write), as real ones react to a watch."""
        self.ctl.tick()

    def node_written(self, before: dict[str, Any], after: dict[str, Any]) -> None:
        """After an API write to a node (``kubectl cordon`` …): its kubelet's event, while it
        runs, and the node lifecycle controller's unschedulable taint (:mod:`cordon`)."""
        name = after["metadata"]["name"]
        said = schedulable_event(before, after)
        if said is not None and name not in self.ctl.nodes_ctl.stopped:
            self.ctl.node_event(after, said[0], said[1], "Normal", "kubelet", self.clock(), name)
        tainted = cordon_taint(after)
        if tainted is not None:
            self.store.put("nodes", tainted)

    def running_pods(self) -> list[SimPod]:
        """Pods whose container is running (ready or not, Terminating ones included), by name."""
        out = []
        for (ns, name), p in sorted(self.ctl.pods.items()):
            if ns == self.namespace and p.running:
                out.append(
                    SimPod(
                        name=name,
                        started_at=p.started_at or p.created_at,
                        ready=p.ready,
                        env=dict(p.env),
                        restarts=p.restarts,
                        image=p.image,
                    )
                )
        return out

    def log(self, pod: str, line: str, at: float | None = None) -> bool:
        """Append a line to the pod's current container log (bounded); followers get it at once.

        False (and nothing kept) if there is no such pod any more.
        """
        p = self.ctl.pods.get((self.namespace, pod))
        if p is None:
            return False
        p.append_log(line, self.clock() if at is None else at)
        return True

    def crash(self, pod: str, reason: str = "OOMKilled", exit_code: int = 137) -> bool:
        """Terminate the pod's running container with ``reason``/``exit_code``.

        Kubelet-like: restartCount+1, lastState.terminated set, state.waiting
        CrashLoopBackOff for 10 s, 20 s, 40 s … (capped at 300 s, sim seconds;
        reset after 10 minutes of running), then a new container with its env
        re-resolved. False if the pod is unknown or its container is not running.
        """
        p = self.ctl.pods.get((self.namespace, pod))
        if p is None or not p.crash(self.clock(), reason, exit_code, self.ctl.pod_event):
            return False
        self.ctl.tick()
        self.store.put_if_changed("pods", p.render())
        return True

    def release(self, tag: str, cause: str, manager: str = CI_MANAGER) -> bool:
        """CI rolls out image ``tag``: the Deployment's template changes (with the change-cause
        and the CI's managedFields) and the deployment controller rolls it out. False if
        the deployment is gone or already runs that tag."""
        deploy = self.store.get("deployments", self.namespace, wiring.DEPLOYMENT)
        if deploy is None or deploy["spec"]["template"]["spec"]["containers"][0].get("image", "").endswith(":" + tag):
            return False
        self.store.put("deployments", ci_rollout(deploy, tag, cause, manager, self.clock()))
        self.ctl.tick()
        return True

    def pods_on(self, node: str) -> list[str]:
        """Our pods (not terminal) the scheduler put on ``node``, oldest first."""
        pods = [p for (ns, _), p in self.ctl.pods.items() if ns == self.namespace and p.node == node and p.active]
        return [p.name for p in sorted(pods, key=lambda p: (p.created_at, p.name))]

    def memory_pressure(self, node: str, on: bool) -> None:
        """``node``'s kubelet reports MemoryPressure (or that it is over): condition, taint, event."""
        self.ctl.nodes_ctl.memory_pressure(node, on)
        if on:
            self.ctl.node_event(self.ctl.nodes_ctl.get(node), "EvictionThresholdMet", "Attempting to reclaim memory", "Warning",
                                "kubelet", self.clock(), node)  # fmt: skip

    def evict(self, pod: str, message: str) -> bool:
        """The kubelet evicts ``pod`` with ``message`` (Failed, Evicted); its ReplicaSet replaces it."""
        p = self.ctl.pods.get((self.namespace, pod))
        return p is not None and self.ctl.evict(p, message, self.clock())

    def stop_kubelet(self, node: str) -> None:
        """``node``'s kubelet stops: its Lease goes stale and the node goes NotReady once it expires."""
        self.ctl.nodes_ctl.stop_kubelet(node)

    def secret_value(self, name: str, key: str) -> str | None:
        """The decoded value of ``key`` in Secret ``name`` (namespace clay-sync), or None."""
        obj = self.store.get("secrets", self.namespace, name)
        raw = (obj or {}).get("data", {}).get(key)
        return None if raw is None else base64.b64decode(raw).decode("utf-8", "replace")

    def configmap_value(self, name: str, key: str) -> str | None:
        obj = self.store.get("configmaps", self.namespace, name)
        value: str | None = (obj or {}).get("data", {}).get(key)
        return value

    def deny(self, verb: str, resource: str, name: str = "", group: str | None = None, namespace: str = "") -> Denial:
        """RBAC: deny ``verb`` (or ``*``) on ``resource`` (``secrets``, ``pods/log``, ``*``), optionally
        only on object ``name``, in API ``group``, in ``namespace``: 403 for the request, and a
        SelfSubjectAccessReview answers not allowed (:mod:`kube_rbac`)."""
        denial = Denial(verb, resource, name, group, namespace)
        self.rbac.deny(denial)
        return denial

    def allow(self, verb: str, resource: str, name: str = "", group: str | None = None, namespace: str = "") -> bool:
        """Undo one :meth:`deny` (the same fields)."""
        return self.rbac.allow(Denial(verb, resource, name, group, namespace))

    def allow_all(self) -> None:
        self.rbac.allow_all()

    def expire_token(self) -> None:
        """Every request gets 401 Unauthorized until :meth:`renew_token` or :meth:`login`."""
        self._expired = True
        self._expire_on_write = False

    def expire_on_write(self) -> None:
        """The token expires when the next real write arrives (not a dry run,
        not a SelfSubjectAccessReview): that write is the first request refused."""
        self._expire_on_write = True

    def renew_token(self) -> None:
        self._expired = False

    def stall_logs(self) -> None:
        """Every log follow, open or new, keeps its connection but sends no
        more bytes (a stuck proxy or kubelet) until :meth:`unstall_logs`."""
        self.logs_stalled = True

    def unstall_logs(self) -> None:
        """Log follows send again, from where each one stopped."""
        self.logs_stalled = False

    def login(self, token: str) -> None:
        """A new token, as a login helper gets one: the old one stays refused."""
        self._token, self._expired, self._expire_on_write = token, False, False

    @property
    def token_expired(self) -> bool:
        return self._expired

    def before_request(self, method: str, path: str, dry_run: bool) -> None:
        """Called for every request before authentication (the armed expiry)."""
        if (
            self._expire_on_write
            and not dry_run
            and method in ("POST", "PUT", "PATCH", "DELETE")
            and not path.rstrip("/").endswith("/selfsubjectaccessreviews")
        ):
            self.expire_token()

    @staticmethod
    def status_body(code: int, reason: str, message: str) -> dict[str, Any]:
        """A meta/v1 Status object (for the control API's fault middleware)."""
        return _status_body(code, reason, message)

    # -- used by the HTTP layer ----------------------------------------------

    def authenticate(self, header: str | None, cert_user: str = "") -> str:
        """'ok', 'anonymous' (no credentials) or 'invalid' (wrong or expired token).
        ``cert_user``: the CN of a client certificate the client CA verified — a
        login of its own when no token comes with it (as kube-apiserver's x509 authenticator)."""
        if not header:
            return "ok" if cert_user and not self._expired else "anonymous"
        scheme, _, presented = header.partition(" ")
        if scheme.lower() != "bearer" or self._expired:
            return "invalid"
        return "ok" if hmac.compare_digest(presented.strip().encode(), self._token.encode()) else "invalid"

    def allowed(self, verb: str, resource: str, group: str = "", namespace: str | None = None, name: str | None = None) -> bool:
        return self.rbac.allowed(verb, resource, group, namespace, name)

    def access_review(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.rbac.review(body)

    def delete_pod(self, ns: str, name: str, grace: int, dry_run: bool) -> dict[str, Any]:
        p = self.ctl.pods[(ns, name)]
        if dry_run:
            stored = self.store.get("pods", ns, name)
            assert stored is not None  # every pod in ctl.pods is in the store
            preview = copy.deepcopy(stored)
            preview["metadata"].setdefault("deletionTimestamp", rfc3339(self.clock() + grace))
            preview["metadata"].setdefault("deletionGracePeriodSeconds", grace)
            return preview
        self.ctl.delete_pod(p, grace, self.clock())
        self.ctl.tick()
        return self.store.get("pods", ns, name) or p.render()

    def close_streams(self) -> None:
        """End every open watch and log follow (server shutdown)."""
        self.closing = True
        self.store.close_all()
        for p in self.ctl.pods.values():
            p.notify()

    # -- seed ----------------------------------------------------------------

    def _seed(self, replicas: int, api_key: str, flags: dict[str, str], image: str, sidecars: bool = False) -> None:
        now = self.clock()
        born = now - 90 * DAY
        put = self.store.put

        def meta(name: str, at: float, ns: str | None = None, **extra: Any) -> dict[str, Any]:
            m = {"name": name, "uid": uid(self.rng), "creationTimestamp": rfc3339(at)}
            if ns is not None:
                m["namespace"] = ns
            m.update(extra)
            return m

        self.ctl.nodes_ctl.seed(born, now, lambda: uid(self.rng))
        for ns in ("default", "kube-system", self.namespace):
            put(
                "namespaces",
                {
                    "kind": "Namespace",
                    "apiVersion": "v1",
                    "metadata": meta(ns, born, labels={"kubernetes.io/metadata.name": ns}),
                    "spec": {"finalizers": ["kubernetes"]},
                    "status": {"phase": "Active"},
                },
            )
        ns = self.namespace
        put("serviceaccounts", {"kind": "ServiceAccount", "apiVersion": "v1", "metadata": meta("default", born, ns)})
        secret = {
            "kind": "Secret",
            "apiVersion": "v1",
            "metadata": meta("clay-api", now - 60 * DAY, ns),
            "type": "Opaque",
            "data": {"api-key": base64.b64encode(api_key.encode()).decode()},
        }
        flags_cm = {"kind": "ConfigMap", "apiVersion": "v1", "metadata": meta("clay-sync-flags", now - 60 * DAY, ns), "data": dict(flags)}
        for obj in (secret, flags_cm):  # created with kubectl apply, as the deployment's manifests were
            record_fields(None, obj, APPLY_MANAGER, now - 60 * DAY)
        put("secrets", secret)
        put("configmaps", flags_cm)
        container = {
            "name": wiring.CONTAINER,
            "image": image,
            "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
            "envFrom": [{"configMapRef": {"name": "clay-sync-flags"}}],
            "env": [{"name": "CLAY_API_KEY", "valueFrom": {"secretKeyRef": {"name": "clay-api", "key": "api-key"}}}],
            "resources": {"limits": {"memory": "512Mi"}, "requests": {"cpu": "250m", "memory": "256Mi"}},
            "readinessProbe": {
                "httpGet": {"path": "/health", "port": 8080, "scheme": "HTTP"},
                "periodSeconds": 5,
                "timeoutSeconds": 1,
                "successThreshold": 1,
                "failureThreshold": 3,
            },
        }
        labels = {"app": wiring.DEPLOYMENT}
        deploy: dict[str, Any] = {
            "kind": "Deployment",
            "apiVersion": "apps/v1",
            "metadata": meta(wiring.DEPLOYMENT, now - 60 * DAY, ns, generation=2, labels=dict(labels)),
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": dict(labels)},
                "template": {"metadata": {"labels": dict(labels)}, "spec": {"containers": [container], **seeded_init_containers(sidecars)}},
            },
        }
        default_deployment(deploy)
        old_tpl = copy.deepcopy(deploy["spec"]["template"])
        old_tpl["spec"]["containers"][0]["image"] = image.rsplit(":", 1)[0] + ":1.14.1"
        applied = _applied(deploy, old_tpl, now - 60 * DAY)
        deploy = put("deployments", deploy)
        ctl = self.ctl
        ctl.events.muted = True  # no Events for history older than their 1 h TTL
        try:
            old_meta = {**deploy["metadata"], "annotations": {CHANGE_CAUSE: ci_cause("1.14.1", 4471)}}
            old_view = {**deploy, "metadata": old_meta, "spec": {**deploy["spec"], "template": old_tpl}}
            ctl.create_rs(old_view, template_hash(old_tpl), 1, 0, now - 60 * DAY)
            rolled = now - 3 * DAY - self.rng.uniform(0, 6 * 3600)
            deploy["metadata"]["annotations"] = {CHANGE_CAUSE: ci_cause(image.rsplit(":", 1)[-1], 4539)}
            seed_history(deploy, CI_MANAGER, rolled)
            _own_the_rest(deploy, applied)
            rs = ctl.create_rs(deploy, template_hash(deploy["spec"]["template"]), 2, 0, rolled)
            rs = ctl.set_rs_replicas(deploy, rs, replicas, rolled)
            for _ in range(replicas):
                pod = ctl.new_pod(rs, rolled + self.rng.uniform(0, 20))
                pod.step(now, self.rng, ctl.lookup(ns), ctl.pod_event)
                ctl.render(pod)
            stored_rs = self.store.get("replicasets", ns, rs["metadata"]["name"])
            assert stored_rs is not None  # created just above
            ctl.sync_replicaset(stored_rs, rolled + 60)
            stored_deploy = self.store.get("deployments", ns, deploy["metadata"]["name"])
            assert stored_deploy is not None  # put just above
            ctl.deployment_status(stored_deploy, rolled + 60)
        finally:
            ctl.events.muted = False
        self.ctl.tick()
