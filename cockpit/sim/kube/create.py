"""POST (create) of the drill's Kubernetes API, as kube-apiserver's create
handler and generic registry do it: decode, namespace and name checks,
``generateName``, defaulting, validation (422 Invalid with kube-apiserver's
field messages), AlreadyExists (409) — also for a dry run —, then
``metadata.managedFields`` for the request's manager.

A dry run (``dryRun=All``) is answered exactly like the real create but
nothing is stored: no resourceVersion is taken and no watch event is sent;
the answer carries no ``resourceVersion`` (the storage layer clears it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from clay_cockpit.sim.kube import managed
from clay_cockpit.sim.kube import resources as kr
from clay_cockpit.sim.kube.store import Obj
from clay_cockpit.sim.kube.util import ApiError, already_exists, invalid, not_found, random_suffix, rfc3339, uid
from clay_cockpit.sim.kube.validate import DNS_SUBDOMAIN, drop_nulls, validate

if TYPE_CHECKING:
    from clay_cockpit.sim.kube.api import KubeCluster

SUBDOMAIN_FMT = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    f"'{SUBDOMAIN_FMT}')"
)
MAX_NAME = 253


def name_causes(name: str) -> list[tuple[str, str]]:
    """ValidateObjectMeta's messages for a name that is not a DNS-1123 subdomain."""
    causes = []
    if len(name) > MAX_NAME:
        causes.append(("metadata.name", f'Invalid value: "{name}": must be no more than {MAX_NAME} characters'))
    if not DNS_SUBDOMAIN.match(name):
        causes.append(("metadata.name", f'Invalid value: "{name}": {SUBDOMAIN_MSG}'))
    return causes


def create(cluster: KubeCluster, res: kr.Resource, ns: str, body: dict[str, Any], manager: str, dry: bool) -> Obj:
    """The object a create of ``body`` makes (stored unless ``dry``); raises the ApiError a real server gives."""
    meta = body.setdefault("metadata", {})
    if not isinstance(meta, dict):
        raise ApiError(400, "metadata: object is required")
    if body.get("kind", res.kind) != res.kind:
        raise ApiError(400, f'{body.get("kind")} in version "{res.version}" cannot be handled as a {res.kind}')
    if meta.get("namespace", ns) != ns:
        raise ApiError(400, "the namespace of the provided object does not match the namespace sent on the request")
    if cluster.store.get("namespaces", "", ns) is None:
        raise not_found("namespaces", "", ns)
    if not meta.get("name") and meta.get("generateName"):
        meta["name"] = f"{meta['generateName']}{random_suffix(cluster.rng)}"
    name = meta.get("name", "")
    if not name:
        raise invalid(res.kind, res.group, "", [("metadata.name", "Required value: name or generateName is required")])
    if not isinstance(name, str):
        raise ApiError(400, f"json: cannot unmarshal {type(name).__name__} into Go struct field ObjectMeta.metadata.name of type string")
    causes = name_causes(name)
    if causes:
        raise invalid(res.kind, res.group, name, causes)
    obj: Obj = drop_nulls(body)
    obj["kind"], obj["apiVersion"] = res.kind, res.api_version
    if res.kind == "Secret":
        obj.setdefault("type", "Opaque")
    m = obj["metadata"]
    m.update({"name": name, "namespace": ns, "uid": uid(cluster.rng), "creationTimestamp": rfc3339(cluster.clock())})
    m.pop("resourceVersion", None)
    m.pop("managedFields", None)
    validate(res.kind, res.group, obj, None)  # before the existence check, as the registry validates first
    if cluster.store.get(res.bucket, ns, name) is not None:
        raise already_exists(res.plural, res.group, name)
    managed.record(None, obj, manager, cluster.clock())
    if dry:
        return obj
    stored = cluster.store.put(res.bucket, obj)
    cluster.reconcile()
    return stored
