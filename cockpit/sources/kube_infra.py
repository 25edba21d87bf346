"""The infrastructure poll (issue 14): the nodes our pods run on, the
deployment's rollout history and what changed (rollouts, the ConfigMaps and
Secrets its pods reference). The Warning events come from the watch in
:mod:`clay_cockpit.sources.kube_events`; :mod:`clay_cockpit.live` puts both into
one :class:`~clay_cockpit.signals.InfraSnapshot`.

Blocking (call from a worker thread), with the official client as
:mod:`clay_cockpit.sources.kube` uses it: ``_request_timeout`` and
``_preload_content=False`` on every call, bodies read bounded. One poll reads
the deployment, the pods of the selector, the deployment's ReplicaSets, each
node that runs one of our pods, and the metadata (only:
``as=PartialObjectMetadata``) of each ConfigMap and Secret the pod template
references — a Secret's values never reach this process.

A part that fails leaves the others standing: the snapshot lists it in
``missing`` (a SourceError each, naming the verb and the resource to ask
for). Only when nothing could be read, or the credentials were refused,
is the poll a SourceError. Never raises.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from clay_cockpit.redact import REDACTED, redact
from clay_cockpit.sanitise import clean_line
from clay_cockpit.signals import Change, ErrorKind, InfraSnapshot, KubeEvent, NodeInfo, Revision, SourceError
from clay_cockpit.sources._errors import make_error, unexpected
from clay_cockpit.sources.kube_events import epoch
from clay_cockpit.sources.kube_podwatch import watched_pods

if TYPE_CHECKING:
    from clay_cockpit.sources.kube import Kube
    from clay_cockpit.sources.kube_infra_watch import RolloutWatch

SOURCE = "infra"
REVISION = "deployment.kubernetes.io/revision"
HISTORY = "deployment.kubernetes.io/revision-history"
CHANGE_CAUSE = "kubernetes.io/change-cause"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
METADATA_ONLY = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
PRESSURES = ("MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable")
MAX_NODES = 20  # nodes read per poll (our pods' nodes; a service on more is listed by the first 20)
MAX_REFS = 10  # ConfigMaps and Secrets read per poll
MAX_MANAGERS = 5  # managedFields entries named in a change's detail
_SECRET_NAME = re.compile(
    r"api[_-]?key|apikey|token|secret|passw(or)?d|pwd|authori[sz]ation|credential|private[_-]?key|cookie|bearer|signing[_-]?key|dsn",
    re.IGNORECASE,
)


def _d(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _l(value: object) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _text(value: object) -> str:
    return redact(clean_line(value)).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""


# --------------------------------------------------------------------------
# Pure: the API's JSON → our types


def node_info(doc: dict[str, Any], pods: tuple[str, ...] = ()) -> NodeInfo:
    """A Node object → NodeInfo: Ready (True/False/Unknown → True/False/None),
    the pressure conditions that are True, cordoned, since when Ready is what
    it is, and the message of the first bad condition."""
    meta, spec, status = _d(doc.get("metadata")), _d(doc.get("spec")), _d(doc.get("status"))
    conditions = {str(c.get("type")): c for c in _l(status.get("conditions"))}
    ready_cond = conditions.get("Ready", {})
    ready = {"True": True, "False": False}.get(str(ready_cond.get("status")))
    pressure = tuple(t for t in PRESSURES if str(conditions.get(t, {}).get("status")) == "True")
    bad = ([ready_cond] if ready_cond and ready is not True else []) + [conditions[t] for t in pressure]
    return NodeInfo(
        name=_text(meta.get("name")) or "?",
        ready=ready,
        pressure=pressure,
        unschedulable=spec.get("unschedulable") is True,
        pods=tuple(sorted(pods)),
        since=epoch(ready_cond.get("lastTransitionTime")),
        message=_text(bad[0].get("message")) if bad else "",
    )


def revision_number(obj: dict[str, Any]) -> int:
    raw = _d(_d(obj.get("metadata")).get("annotations")).get(REVISION)
    return int(raw) if isinstance(raw, str) and raw.isdigit() else 0


def _containers(template: dict[str, Any]) -> list[dict[str, Any]]:
    return _l(_d(template.get("spec")).get("containers"))


def owned_replicasets(deploy: dict[str, Any], replicasets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ReplicaSets the deployment controls (by its uid; by name when the uid is unknown)."""
    meta = _d(deploy.get("metadata"))
    uid, name = meta.get("uid"), meta.get("name")

    def mine(rs: dict[str, Any]) -> bool:
        refs = _l(_d(rs.get("metadata")).get("ownerReferences"))
        return any(r.get("kind") == "Deployment" and (r.get("uid") == uid if uid else r.get("name") == name) for r in refs)

    return [rs for rs in replicasets if mine(rs)]


def _history(rs: dict[str, Any]) -> tuple[int, ...]:
    """The revisions a ReplicaSet was before a rollback reused it (deployment.kubernetes.io/revision-history)."""
    raw = _text(_d(_d(rs.get("metadata")).get("annotations")).get(HISTORY))
    return tuple(int(n) for n in raw.split(",") if n.strip().isdigit())


def became_at(rs: dict[str, Any]) -> float | None:
    """When a ReplicaSet became its revision: its creation, or (reused by a rollback) its latest
    managedFields time — the controller's write of the new revision number."""
    meta = _d(rs.get("metadata"))
    times = [t for t in (epoch(f.get("time")) for f in _l(meta.get("managedFields"))) if t is not None]
    return max(times) if _history(rs) and times else epoch(meta.get("creationTimestamp"))


def revisions(deploy: dict[str, Any], replicasets: list[dict[str, Any]]) -> tuple[Revision, ...]:
    """The rollout history, newest first; the current one is the deployment's
    revision (its annotation), else the newest."""
    owned = sorted(owned_replicasets(deploy, replicasets), key=lambda rs: (-revision_number(rs), str(_d(rs.get("metadata")).get("name"))))
    want = revision_number(deploy) or (revision_number(owned[0]) if owned else 0)
    out = []
    for rs in owned:
        meta = _d(rs.get("metadata"))
        template = _d(_d(rs.get("spec")).get("template"))
        number = revision_number(rs)
        out.append(
            Revision(
                number=number,
                replicaset=_text(meta.get("name")),
                created_at=became_at(rs),  # (a rollback's reused ReplicaSet: when it became this revision)
                images=tuple((_text(c.get("name")), _text(c.get("image"))) for c in _containers(template)),
                replicas=max(0, int(_d(rs.get("status")).get("replicas") or 0)),
                change_cause=_text(_d(meta.get("annotations")).get(CHANGE_CAUSE)),
                current=number == want and number > 0,
            )
        )
    return tuple(out)


def image_tag(image: str) -> str:
    """``registry/clay-sync:1.14.3`` → ``1.14.3``; a digest → its first 12 hex; no tag → the image."""
    if "@" in image:
        return image.split("@", 1)[1].removeprefix("sha256:")[:12]
    name, _, tag = image.rpartition(":")
    return tag if name and "/" not in tag else image


def _env_value(entry: dict[str, Any]) -> str:
    """What an env var is set to, as fit to show: a literal (hidden when it
    looks secret), or where it comes from — never a Secret's value."""
    name = str(entry.get("name", ""))
    source = _d(entry.get("valueFrom"))
    if "value" in entry:
        value = _text(entry.get("value"))
        return REDACTED if _SECRET_NAME.search(name) and value else value
    for key, what in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
        ref = _d(source.get(key))
        if ref:
            return f"from {what} {_text(ref.get('name'))}/{_text(ref.get('key'))}"
    if source.get("fieldRef"):
        return f"from field {_text(_d(source.get('fieldRef')).get('fieldPath'))}"
    if source.get("resourceFieldRef"):
        return f"from resource {_text(_d(source.get('resourceFieldRef')).get('resource'))}"
    return ""


def _limits(c: dict[str, Any]) -> dict[str, str]:
    res = _d(c.get("resources"))
    return {f"{part} {k}": _text(v) for part in ("limits", "requests") for k, v in sorted(_d(res.get(part)).items())}


def template_diff(old: dict[str, Any], new: dict[str, Any]) -> tuple[str, ...]:
    """The differences between two pod templates, one line each: images, env
    (values of secret-named vars hidden, Secret refs named, never read),
    envFrom, resources, and a ``kubectl rollout restart``."""
    lines: list[str] = []
    olds = {str(c.get("name")): c for c in _containers(old)}
    for c in _containers(new):
        cname = str(c.get("name"))
        prev = olds.get(cname)
        if prev is None:
            lines.append(f"container {_text(cname)} added ({_text(c.get('image'))})")
            continue
        if prev.get("image") != c.get("image"):
            lines.append(f"image {_text(cname)}: {image_tag(_text(prev.get('image')))} → {image_tag(_text(c.get('image')))}")
        raw_before = {str(e.get("name")): e for e in _l(prev.get("env"))}
        raw_after = {str(e.get("name")): e for e in _l(c.get("env"))}
        before = {k: _env_value(e) for k, e in raw_before.items()}
        after = {k: _env_value(e) for k, e in raw_after.items()}
        for key in sorted(before.keys() | after.keys()):
            a, b = before.get(key), after.get(key)
            if raw_before.get(key) == raw_after.get(key):  # compared whole: two hidden values may differ
                continue
            if a is None:
                lines.append(f"env {_text(key)} added: {b}")
            elif b is None:
                lines.append(f"env {_text(key)} removed (was {a})")
            elif REDACTED in (a, b):
                lines.append(f"env {_text(key)} changed (value hidden)")
            else:
                lines.append(f"env {_text(key)}: {a} → {b}")
        if prev.get("envFrom") != c.get("envFrom"):
            lines.append(f"envFrom of {_text(cname)} changed")
        lo, ln = _limits(prev), _limits(c)
        for key in sorted(lo.keys() | ln.keys()):
            if lo.get(key) != ln.get(key):
                lines.append(f"{key} {_text(cname)}: {lo.get(key, '(none)')} → {ln.get(key, '(none)')}")
    for cname in olds.keys() - {str(c.get("name")) for c in _containers(new)}:
        lines.append(f"container {_text(cname)} removed")
    restarted = [_d(_d(t.get("metadata")).get("annotations")).get(RESTARTED_AT) for t in (old, new)]
    if restarted[0] != restarted[1] and restarted[1]:
        lines.append(f"restarted (kubectl rollout restart at {_text(restarted[1])})")
    return tuple(lines)


def rollout_changes(deploy: dict[str, Any], replicasets: list[dict[str, Any]]) -> tuple[Change, ...]:
    """One Change per revision that has a previous one: when (the ReplicaSet's
    creation, or its latest managedFields time when a rollback reused it), the
    image it rolled to and what differs from the revision before."""
    owned = sorted(owned_replicasets(deploy, replicasets), key=revision_number)
    owned = [rs for rs in owned if revision_number(rs) > 0]
    # every revision a ReplicaSet was, its old ones included (a rollback reuses one: revision 2 becomes 4 and
    # keeps "2" in its revision-history), so revision 3 still compares with 2 and not with 1
    held = {n: rs for rs in owned for n in (*_history(rs), revision_number(rs))}
    out = []
    for rs in owned[1:]:
        meta = _d(rs.get("metadata"))
        number = revision_number(rs)
        before = [n for n in held if n < number]
        if not before:
            continue
        prev = held[max(before)]
        template = _d(_d(rs.get("spec")).get("template"))
        old = _d(_d(prev.get("spec")).get("template"))
        reused = bool(_history(rs))
        at = became_at(rs)
        images = [(str(c.get("name")), _text(c.get("image"))) for c in _containers(template)]
        old_images = {str(c.get("name")): c.get("image") for c in _containers(old)}
        moved = [img for name, img in images if old_images.get(name) != img]
        tag = image_tag(moved[0] if moved else images[0][1] if images else "?")
        what = "rollback" if reused else "rollout"
        by = deployment_manager(deploy) if number == revision_number(deploy) else ""
        summary = f"{what} to {tag} (revision {number})" + (f" by {by}" if by else "")  # who, where the view and triage say it
        cause = _text(_d(meta.get("annotations")).get(CHANGE_CAUSE))
        detail = template_diff(old, template) + ((f"change-cause: {cause}",) if cause else ())
        out.append(Change(at=at, what="rollout", summary=summary, detail=detail, by=by))
    return tuple(sorted(out, key=lambda c: -(c.at or 0.0)))


def deployment_manager(deploy: dict[str, Any]) -> str:
    """Who last changed the deployment's spec: the newest managedFields entry
    that is not the controller's status ("kubectl-rollout", "helm", …)."""
    fields = [
        f
        for f in _l(_d(deploy.get("metadata")).get("managedFields"))
        if f.get("subresource") != "status" and f.get("manager") not in ("kube-controller-manager", None, "")
    ]
    fields.sort(key=lambda f: -(epoch(f.get("time")) or 0.0))
    return _text(fields[0].get("manager")) if fields else ""


def referenced(template: dict[str, Any]) -> list[tuple[str, str]]:
    """(kind, name) of every ConfigMap and Secret the pod template uses
    (envFrom, env valueFrom, volumes, projected volumes), in order, once."""
    spec = _d(template.get("spec"))
    found: list[tuple[str, str]] = []

    def add(kind: str, name: object) -> None:
        if isinstance(name, str) and name and (kind, name) not in found:
            found.append((kind, name))

    for c in _l(spec.get("initContainers")) + _l(spec.get("containers")):
        for ef in _l(c.get("envFrom")):
            add("ConfigMap", _d(ef.get("configMapRef")).get("name"))
            add("Secret", _d(ef.get("secretRef")).get("name"))
        for e in _l(c.get("env")):
            source = _d(e.get("valueFrom"))
            add("ConfigMap", _d(source.get("configMapKeyRef")).get("name"))
            add("Secret", _d(source.get("secretKeyRef")).get("name"))
    for v in _l(spec.get("volumes")):
        add("ConfigMap", _d(v.get("configMap")).get("name"))
        add("Secret", _d(v.get("secret")).get("secretName"))
        for s in _l(_d(v.get("projected")).get("sources")):
            add("ConfigMap", _d(s.get("configMap")).get("name"))
            add("Secret", _d(s.get("secret")).get("name"))
    return found


SAME_SECOND = 1.0  # a managedFields time this close to creationTimestamp is the creation's own entry


def config_change(kind: str, meta: dict[str, Any], seen_changed: float | None = None) -> Change:
    """A ConfigMap's or Secret's metadata → its latest change: the newest
    managedFields time (with the managers and operations; "created" when that is
    its creation time: no one wrote it since), else when the cockpit saw its
    resourceVersion change (``seen_changed``), else its creation."""
    name = _text(meta.get("name"))
    fields = sorted(_l(meta.get("managedFields")), key=lambda f: -(epoch(f.get("time")) or 0.0))
    times = [t for t in (epoch(f.get("time")) for f in fields) if t is not None]
    if times:
        detail = tuple(
            f"{_text(f.get('manager')) or '?'} {_text(f.get('operation')).lower() or 'changed'}"
            + (f" at {_text(f.get('time'))}" if f.get("time") else "")
            for f in fields[:MAX_MANAGERS]
        )
        created = epoch(meta.get("creationTimestamp"))
        # nothing written since it was made (managedFields times are whole seconds): its creation, not a change
        verb = "created" if created is not None and max(times) <= created + SAME_SECOND else "changed"
        return Change(at=max(times), what=kind.lower(), summary=f"{kind} {name} {verb}", detail=detail)
    if seen_changed is not None:
        rv = _text(meta.get("resourceVersion"))
        detail = (f"its resourceVersion changed (now {rv}) between two polls of the cockpit; it has no managedFields times",)
        return Change(at=seen_changed, what=kind.lower(), summary=f"{kind} {name} changed", detail=detail)
    return Change(at=epoch(meta.get("creationTimestamp")), what=kind.lower(), summary=f"{kind} {name} created", detail=())


# --------------------------------------------------------------------------
# The poll


class Infra:
    """Nodes, rollout history and changes of our deployment. ``fetch`` never raises."""

    name = SOURCE

    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self._lock = threading.Lock()
        self._apis: tuple[Any, Any, Any] | None = None  # (ApiClient, CoreV1Api, AppsV1Api)
        self._versions: dict[tuple[str, str], tuple[str, float | None]] = {}  # (kind, name) → (resourceVersion, when we saw it change)
        self._rollout: RolloutWatch | None = None  # the deployment and its ReplicaSets, watched (issue 15): built by next()

    @property
    def deployment(self) -> str:
        return self.kube.config.deployments[0] if self.kube.config.deployments else ""

    def fetch(self) -> InfraSnapshot | SourceError:
        try:
            return self._fetch()
        except Exception as exc:  # outermost boundary: never raise into the caller
            return unexpected(SOURCE, exc, f"the infrastructure of deployment {self.deployment}")

    def rollout_watch(self, relist_every: float) -> RolloutWatch | None:
        """The deployment and its ReplicaSets, listed once then watched (started on first use); None without a deployment."""
        if not self.deployment:
            return None
        from clay_cockpit.sources.kube_infra_watch import RolloutWatch

        with self._lock:
            if self._rollout is None:
                self._rollout = RolloutWatch(self.kube, self.deployment, relist_every=relist_every)
            return self._rollout

    def resync(self) -> None:
        """A responder's refresh: the watched deployment and ReplicaSets are listed again, and the
        waiting poll reads the rest (nodes, ConfigMaps) as soon as they were."""
        with self._lock:
            rollout = self._rollout
        if rollout is not None:
            rollout.resync()

    def next(self, stop: threading.Event, heartbeat: float) -> InfraSnapshot | SourceError:
        """Blocking: :meth:`fetch` once the deployment or its ReplicaSets changed, else after ``heartbeat`` s."""
        try:
            rollout = self.rollout_watch(heartbeat)
            if rollout is not None:
                rollout.wait(stop, heartbeat)
            else:
                stop.wait(heartbeat)
        except Exception as exc:  # outermost boundary: never raise into the caller
            return unexpected(SOURCE, exc, f"the watch of deployment {self.deployment}")
        return self.fetch()

    async def next_async(self, stop: threading.Event, heartbeat: float) -> InfraSnapshot | SourceError:
        """:meth:`next` on an event loop: waits holding no thread; :meth:`fetch` (nodes, ConfigMaps) in one."""
        try:
            rollout = await asyncio.to_thread(self.rollout_watch, heartbeat)  # (the first builds no client: cheap)
            await (rollout.wait_async(stop, heartbeat) if rollout is not None else asyncio.sleep(heartbeat))
        except Exception as exc:  # outermost boundary: never raise into the caller
            return unexpected(SOURCE, exc, f"the watch of deployment {self.deployment}")
        return await asyncio.to_thread(self.fetch)

    def follow_events(
        self,
        on_events: Callable[[tuple[KubeEvent, ...], float], object],
        on_error: Callable[[SourceError | None], object],
        stop: threading.Event,
        on_node_error: Callable[[SourceError | None], object] | None = None,
    ) -> None:
        """Blocking: the Warning event watch (:class:`~clay_cockpit.sources.kube_events.EventWatch`) until ``stop``;
        with ``on_node_error``, the node events of ``default`` too (:mod:`clay_cockpit.sources.kube_node_events`)."""
        from clay_cockpit.sources.kube_node_events import follow

        follow(self.kube, on_events, on_error, stop, on_node_error)

    def forget_client(self) -> None:
        with self._lock:
            apis, self._apis = self._apis, None
        self.kube.forget_exec_credentials()
        if apis is not None:
            apis[0].close()

    def _clients(self) -> tuple[Any, Any] | SourceError:
        with self._lock:
            if self._apis is None:
                built = self.kube.build_api_client()
                if isinstance(built, SourceError):
                    return SourceError(SOURCE, built.kind, built.message, built.hint, status_code=built.status_code)
                from kubernetes.client import AppsV1Api, CoreV1Api

                self._apis = (built, CoreV1Api(built), AppsV1Api(built))
            return self._apis[1], self._apis[2]

    def _read(self, call: Callable[..., Any], action: str, ask: str, *args: Any, **kwargs: Any) -> dict[str, Any] | SourceError:
        """One GET/LIST → its JSON, or a SourceError (403: ``ask`` says which permission)."""
        from kubernetes.client.exceptions import ApiException
        from urllib3 import exceptions as u3

        try:
            resp = call(*args, _request_timeout=self.kube.request_timeout, _preload_content=False, **kwargs)
            try:
                body = resp.data
            finally:
                resp.release_conn()
        except ApiException as exc:
            error = self.kube.api_error(exc, action, source=SOURCE)
            if exc.status == 403 and error.kind is ErrorKind.FORBIDDEN:
                return make_error(SOURCE, ErrorKind.FORBIDDEN, error.message, ask, status_code=403)
            return error
        except (u3.HTTPError, OSError) as exc:
            return self.kube.transport_error(exc, action, source=SOURCE)
        try:
            doc = json.loads(body)
            if not isinstance(doc, dict):
                raise ValueError("not an object")
        except (UnicodeDecodeError, ValueError) as exc:
            return make_error(SOURCE, ErrorKind.BAD_RESPONSE, f"malformed answer while {action}: {type(exc).__name__}",
                              f"check the context points at a Kubernetes API server (`kubectl --context {self.kube.context} get nodes`)")  # fmt: skip
        return doc

    def _fetch(self) -> InfraSnapshot | SourceError:
        clients = self._clients()
        if isinstance(clients, SourceError):
            return clients
        core, apps = clients
        cfg, name = self.kube.config, self.deployment
        ns = cfg.namespace
        started = time.monotonic()
        missing: list[SourceError] = []

        def part(result: dict[str, Any] | SourceError) -> dict[str, Any]:
            if isinstance(result, SourceError):
                missing.append(result)
                return {}
            return result

        rollout = self._rollout
        deploy = rollout.deployment() if rollout is not None else None  # watched: no request
        if deploy is None:
            deploy = part(self._read(apps.read_namespaced_deployment, f"reading deployment {name} in {ns}",
                                     f"ask for get on deployments in namespace {ns} (RBAC)", name, ns))  # fmt: skip
        on_node: dict[str, list[str]] = {}
        watched = watched_pods(self.kube)  # the pods poll's watch, when it runs: no request
        pods_read = watched is not None
        if watched is not None:
            for p in watched:
                if p.node:
                    on_node.setdefault(p.node, []).append(p.name)
        else:
            pods = part(self._read(core.list_namespaced_pod, f"listing pods {cfg.selector} in {ns}",
                                   f"ask for list on pods in namespace {ns} (RBAC)", ns, label_selector=cfg.selector))  # fmt: skip
            pods_read = bool(pods)
            for pod in _l(pods.get("items")):
                node = _d(pod.get("spec")).get("nodeName")
                if isinstance(node, str) and node:
                    on_node.setdefault(node, []).append(_text(_d(pod.get("metadata")).get("name")))
        match = _d(_d(_d(deploy.get("spec")).get("selector")).get("matchLabels"))
        selector = ",".join(f"{k}={v}" for k, v in sorted(match.items())) or cfg.selector
        sets = rollout.replicasets() if rollout is not None else None  # watched: no request
        rs_list = {"items": sets} if sets is not None else part(self._read(apps.list_namespaced_replica_set,
                   f"listing the ReplicaSets of deployment {name} in {ns}",
                   f"ask for list on replicasets.apps in namespace {ns} (RBAC)", ns, label_selector=selector))  # fmt: skip
        if any(e.status_code == 401 for e in missing):
            self.forget_client()  # re-read the kubeconfig next time: the responder may re-authenticate
            return next(e for e in missing if e.status_code == 401)
        if not deploy and not pods_read and not rs_list:
            return missing[0]
        replicasets = _l(rs_list.get("items"))
        history = revisions(deploy, replicasets) if deploy else ()
        changes = list(rollout_changes(deploy, replicasets)) if deploy else []

        nodes: list[NodeInfo] = []
        for node in sorted(on_node)[:MAX_NODES]:
            got = self._read(core.read_node, f"reading node {node}",
                             "nodes are cluster-scoped: ask for get on nodes (a ClusterRole)", node)  # fmt: skip
            if isinstance(got, SourceError):
                if got.status_code == 404:
                    nodes.append(NodeInfo(node, None, (), False, tuple(sorted(on_node[node])), message="the node is gone (404)"))
                    continue
                missing.append(got)
                nodes = []  # shown whole or not at all: a node not read is not "Unknown"
                break  # one refusal says it for all: no use asking for each
            nodes.append(node_info(got, tuple(on_node[node])))

        if rollout is not None:  # a refused watch is kept by listing: said, not hidden
            missing += [w.fallback for w in (rollout.deploy, rollout.sets) if w.fallback is not None]
        now = time.time()
        template = _d(_d(deploy.get("spec")).get("template"))
        for kind, ref in referenced(template)[:MAX_REFS]:
            read = core.read_namespaced_config_map if kind == "ConfigMap" else core.read_namespaced_secret
            plural = "configmaps" if kind == "ConfigMap" else "secrets"
            got = self._read(read, f"reading the metadata of {kind} {ref} in {ns}",
                             f"ask for get on {plural} in namespace {ns} (RBAC; only its metadata is read)", ref, ns,
                             _headers={"Accept": METADATA_ONLY})  # fmt: skip
            if isinstance(got, SourceError):
                if got.status_code != 404:
                    missing.append(got)
                continue
            meta = _d(got.get("metadata"))
            rv = _text(meta.get("resourceVersion"))
            key = (kind, ref)
            seen = self._versions.get(key)
            if seen is None or seen[0] != rv:  # first seen (no change known), or changed since the last poll
                seen = (rv, None if seen is None else now)
                self._versions[key] = seen
                while len(self._versions) > 4 * MAX_REFS:  # bounded: names no longer referenced go first
                    self._versions.pop(next(iter(self._versions)))
            changes.append(config_change(kind, meta, seen[1]))
        changes.sort(key=lambda c: -(c.at or 0.0))
        return InfraSnapshot(
            deployment=name,
            events=(),
            nodes=tuple(nodes),
            revisions=history,
            changes=tuple(changes),
            fetched_at=now,
            response_ms=(time.monotonic() - started) * 1000.0,
            missing=tuple(missing),
        )
