"""What the drill's Kubernetes API serves: resource types, discovery
documents, and the server-side Table rendering kubectl prints.

Column names, cell types and cell text follow kube-apiserver's printers
(pkg/printers/internalversion), so ``kubectl get`` looks as it does against
a real cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from clay_cockpit.sim.kube.podprint import pod_columns
from clay_cockpit.sim.kube.util import fnv32a, since

GIT_VERSION = "v1.32.4"


@dataclass(frozen=True)
class Resource:
    plural: str
    singular: str
    kind: str
    group: str
    version: str
    namespaced: bool
    verbs: tuple[str, ...]
    short: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    # subresource -> (group, version, kind, verbs)
    subresources: dict[str, tuple[str, str, str, tuple[str, ...]]] = field(default_factory=dict)
    fields: tuple[str, ...] = ("metadata.name", "metadata.namespace")
    store: str = ""  # store bucket; defaults to plural

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def bucket(self) -> str:
        return self.store or self.plural


READ = ("get", "list", "watch")
EDIT = ("get", "list", "patch", "update", "watch")
CREATE_EDIT = ("create", "get", "list", "patch", "update", "watch")
POD_FIELDS = (
    "metadata.name",
    "metadata.namespace",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
)
EVENT_FIELDS = (
    "metadata.name",
    "metadata.namespace",
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
)

RESOURCES: tuple[Resource, ...] = (
    Resource("namespaces", "namespace", "Namespace", "", "v1", False, READ, ("ns",), fields=("metadata.name", "status.phase")),
    # kubectl cordon / uncordon / taint patch the node (nodes/status is the kubelet's)
    Resource("nodes", "node", "Node", "", "v1", False, EDIT, ("no",), fields=("metadata.name", "spec.unschedulable")),
    Resource(
        "pods",
        "pod",
        "Pod",
        "",
        "v1",
        True,
        ("delete", "get", "list", "watch"),
        ("po",),
        ("all",),
        {"log": ("", "v1", "Pod", ("get",)), "status": ("", "v1", "Pod", ("get",))},
        POD_FIELDS,
    ),
    Resource("events", "event", "Event", "", "v1", True, READ, ("ev",), fields=EVENT_FIELDS),
    Resource("secrets", "secret", "Secret", "", "v1", True, CREATE_EDIT, fields=("metadata.name", "metadata.namespace", "type")),
    Resource("configmaps", "configmap", "ConfigMap", "", "v1", True, CREATE_EDIT, ("cm",)),
    Resource("serviceaccounts", "serviceaccount", "ServiceAccount", "", "v1", True, READ, ("sa",)),
    Resource(
        "deployments",
        "deployment",
        "Deployment",
        "apps",
        "v1",
        True,
        EDIT,
        ("deploy",),
        ("all",),
        {
            "scale": ("autoscaling", "v1", "Scale", ("get", "patch", "update")),
            "status": ("apps", "v1", "Deployment", ("get", "patch", "update")),
        },
    ),
    Resource(
        "replicasets",
        "replicaset",
        "ReplicaSet",
        "apps",
        "v1",
        True,
        READ,
        ("rs",),
        ("all",),
        {"status": ("apps", "v1", "ReplicaSet", ("get",))},
    ),
    Resource(
        "leases", "lease", "Lease", "coordination.k8s.io", "v1", True, ("create", "delete", "get", "list", "patch", "update", "watch")
    ),
    Resource(
        "roles", "role", "Role", "rbac.authorization.k8s.io", "v1", True, ("create", "delete", "get", "list", "patch", "update", "watch")
    ),
    Resource(
        "rolebindings",
        "rolebinding",
        "RoleBinding",
        "rbac.authorization.k8s.io",
        "v1",
        True,
        ("create", "delete", "get", "list", "patch", "update", "watch"),
    ),
    Resource(
        "selfsubjectaccessreviews", "selfsubjectaccessreview", "SelfSubjectAccessReview", "authorization.k8s.io", "v1", False, ("create",)
    ),
    Resource(
        "selfsubjectrulesreviews", "selfsubjectrulesreview", "SelfSubjectRulesReview", "authorization.k8s.io", "v1", False, ("create",)
    ),
    Resource("selfsubjectreviews", "selfsubjectreview", "SelfSubjectReview", "authentication.k8s.io", "v1", False, ("create",)),
    Resource(
        "events",
        "event",
        "Event",
        "events.k8s.io",
        "v1",
        True,
        READ,
        ("ev",),
        store="events",
        fields=(
            "metadata.name",
            "metadata.namespace",
            "regarding.kind",
            "regarding.name",
            "regarding.namespace",
            "regarding.uid",
            "reason",
            "reportingController",
            "type",
        ),
    ),
)

GROUPS = (
    "apps",
    "coordination.k8s.io",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "events.k8s.io",
    "rbac.authorization.k8s.io",
)


def find(group: str, version: str, plural: str) -> Resource | None:
    for r in RESOURCES:
        if r.group == group and r.version == version and r.plural == plural:
            return r
    return None


def by_group_version(group: str, version: str) -> list[Resource]:
    return [r for r in RESOURCES if r.group == group and r.version == version]


# --------------------------------------------------------------------------
# Discovery


def version_doc() -> dict[str, Any]:
    return {
        "major": "1",
        "minor": "32",
        "gitVersion": GIT_VERSION,
        "gitCommit": "59526cd4867447956156ae3a602fcbac10e2c6ba",
        "gitTreeState": "clean",
        "buildDate": "2025-04-22T16:03:37Z",
        "goVersion": "go1.23.6",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def api_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def api_group(name: str) -> dict[str, Any]:
    gv = {"groupVersion": f"{name}/v1", "version": "v1"}
    return {"name": name, "versions": [gv], "preferredVersion": dict(gv)}


def api_group_list() -> dict[str, Any]:
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [api_group(g) for g in GROUPS]}


def resource_list(group: str, version: str) -> dict[str, Any] | None:
    resources = by_group_version(group, version)
    if not resources:
        return None
    out: list[dict[str, Any]] = []
    for r in resources:
        entry: dict[str, Any] = {
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": sorted(r.verbs),
        }
        if r.short:
            entry["shortNames"] = list(r.short)
        if r.categories:
            entry["categories"] = list(r.categories)
        out.append(entry)
        for sub, (sgroup, sversion, skind, sverbs) in r.subresources.items():
            s: dict[str, Any] = {"name": f"{r.plural}/{sub}", "singularName": r.singular, "namespaced": r.namespaced}
            if (sgroup, sversion) != (r.group, r.version):
                s["group"], s["version"] = sgroup, sversion
            s["kind"], s["verbs"] = skind, list(sverbs)
            out.append(s)
    gv = f"{group}/{version}" if group else version
    doc: dict[str, Any] = {"kind": "APIResourceList", "groupVersion": gv, "resources": out}
    if group:
        doc["apiVersion"] = "v1"
    return doc


# --------------------------------------------------------------------------
# Tables (Accept: application/json;as=Table;v=v1;g=meta.k8s.io)


def _col(name: str, typ: str = "string", priority: int = 0, fmt: str = "", desc: str = "") -> dict[str, Any]:
    return {"name": name, "type": typ, "format": fmt, "description": desc or name, "priority": priority}


NAME = _col("Name", fmt="name", desc="Name must be unique within a namespace.")
AGE = _col("Age", desc="CreationTimestamp is a timestamp representing the server time when this object was created.")


FIELD_PATH_DOC = (
    "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field "
    "access statement, such as desiredState.manifest.containers[2]. For example, if the object reference is to a container "
    'within a pod, this would take on a value like: "spec.containers{name}" (where "name" refers to the name of the '
    'container that triggered the event) or if no container name is specified "spec.containers[2]" (container with '
    "index 2 in this pod). This syntax is chosen only to have some well-defined way of referencing a part of an object."
)


def _containers(tpl: dict[str, Any]) -> tuple[str, str]:
    cs = tpl.get("spec", {}).get("containers", [])
    return ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)


def _pod_row(pod: dict[str, Any], now: float) -> list[Any]:
    spec, status = pod.get("spec", {}), pod.get("status", {})
    ready, reason, restarts, age = pod_columns(pod, now)
    ips = status.get("podIPs") or []
    return [
        pod["metadata"]["name"],
        ready,
        reason,
        restarts,
        age,
        (ips[0].get("ip") if ips else "") or "<none>",
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        "<none>",
    ]


def _workload_row(obj: dict[str, Any], now: float, deployment: bool) -> list[Any]:
    spec, status = obj.get("spec", {}), obj.get("status", {})
    names, images = _containers(spec.get("template", {}))
    sel = ",".join(f"{k}={v}" for k, v in sorted(spec.get("selector", {}).get("matchLabels", {}).items()))
    age = since(now, obj["metadata"].get("creationTimestamp"))
    if deployment:
        first = [
            obj["metadata"]["name"],
            f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
            status.get("updatedReplicas", 0),
            status.get("availableReplicas", 0),
            age,
        ]
    else:
        first = [obj["metadata"]["name"], spec.get("replicas", 1), status.get("replicas", 0), status.get("readyReplicas", 0), age]
    return first + [names, images, sel]


def internal_event(ev: dict[str, Any]) -> dict[str, Any]:
    """An events.k8s.io/v1 Event in core/v1 field names (the server's internal Event the
    table printer reads); a core/v1 Event as it is."""
    if ev.get("apiVersion") != "events.k8s.io/v1":
        return ev
    return {
        "metadata": ev.get("metadata", {}),
        "involvedObject": ev.get("regarding") or {},
        "reason": ev.get("reason", ""),
        "message": ev.get("note", ""),
        "type": ev.get("type", ""),
        "source": ev.get("deprecatedSource") or {},
        "firstTimestamp": ev.get("deprecatedFirstTimestamp"),
        "lastTimestamp": ev.get("deprecatedLastTimestamp"),
        "count": ev.get("deprecatedCount") or 0,
        "eventTime": ev.get("eventTime"),
        "series": ev.get("series"),
        "reportingComponent": ev.get("reportingController", ""),
        "reportingInstance": ev.get("reportingInstance", ""),
    }


def _event_row(event: dict[str, Any], now: float) -> list[Any]:
    """printEvent (pkg/printers/internalversion), wide, as the server's Table has it."""
    ev = internal_event(event)
    first_text = since(now, ev.get("firstTimestamp") or ev.get("eventTime"))
    last_text = since(now, ev["lastTimestamp"]) if ev.get("lastTimestamp") else first_text
    count = ev.get("count") or 0
    series = ev.get("series")
    if isinstance(series, dict) and series:
        last_text = since(now, series.get("lastObservedTime"))
        count = series.get("count") or 0
    elif not count:
        count = 1  # singleton events have no count in the new API
    obj = ev.get("involvedObject") or {}
    target = f"{obj.get('kind', '').lower()}/{obj['name']}" if obj.get("name") else obj.get("kind", "").lower()
    src = ev.get("source") or {}
    component = src.get("component") or ev.get("reportingComponent", "")
    instance = src.get("host") or ev.get("reportingInstance", "")
    return [
        last_text,
        ev.get("type", ""),
        ev.get("reason", ""),
        target,
        obj.get("fieldPath", ""),
        f"{component}, {instance}" if instance else component,
        (ev.get("message") or "").strip(),
        first_text,
        count,
        ev["metadata"]["name"],
    ]


def table_columns(plural: str) -> list[dict[str, Any]]:
    if plural == "pods":
        return [
            NAME,
            _col("Ready", desc="The aggregate readiness state of this pod for accepting traffic."),
            _col("Status", desc="The aggregate status of the containers in this pod."),
            _col(
                "Restarts",
                desc="The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
            ),
            AGE,
            _col("IP", priority=1),
            _col("Node", priority=1),
            _col("Nominated Node", priority=1),
            _col("Readiness Gates", priority=1),
        ]
    wide = [_col("Containers", priority=1), _col("Images", priority=1), _col("Selector", priority=1)]
    if plural == "deployments":
        return [
            NAME,
            _col("Ready", desc="Number of the pod with ready state"),
            _col(
                "Up-to-date",
                "integer",
                desc="Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
            ),
            _col(
                "Available",
                "integer",
                desc="Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
            ),
            AGE,
        ] + wide
    if plural == "replicasets":
        return [NAME, _col("Desired", "integer"), _col("Current", "integer"), _col("Ready", "integer"), AGE] + wide
    if plural == "events":  # eventColumnDefinitions; the descriptions are core/v1 Event's field docs
        return [
            _col("Last Seen", desc="The time at which the most recent occurrence of this event was recorded."),
            _col("Type", desc="Type of this event (Normal, Warning), new types could be added in the future"),
            _col(
                "Reason",
                desc="This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
            ),
            _col("Object", desc="The object that this event is about."),
            _col("Subobject", priority=1, desc=FIELD_PATH_DOC),
            _col("Source", priority=1, desc="The component reporting this event. Should be a short machine understandable string."),
            _col("Message", desc="A human-readable description of the status of this operation."),
            _col("First Seen", priority=1, desc="The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)"),
            _col("Count", priority=1, desc="The number of times this event has occurred."),
            _col("Name", priority=1, fmt="name", desc=NAME["description"]),
        ]
    if plural == "secrets":
        return [NAME, _col("Type"), _col("Data", "integer"), AGE]
    if plural == "configmaps":
        return [NAME, _col("Data", "integer"), AGE]
    if plural == "namespaces":
        return [NAME, _col("Status"), AGE]
    if plural == "nodes":
        return [NAME, _col("Status"), _col("Roles"), AGE, _col("Version"), _col("Internal-IP", priority=1)]
    if plural == "leases":
        return [NAME, _col("Holder"), AGE]
    if plural == "serviceaccounts":
        return [NAME, _col("Secrets", "integer"), AGE]
    return [NAME, AGE]


def table_row(plural: str, obj: dict[str, Any], now: float) -> list[Any]:
    meta = obj["metadata"]
    age = since(now, meta.get("creationTimestamp"))
    if plural == "pods":
        return _pod_row(obj, now)
    if plural in ("deployments", "replicasets"):
        return _workload_row(obj, now, plural == "deployments")
    if plural == "events":
        return _event_row(obj, now)
    if plural == "secrets":
        return [meta["name"], obj.get("type", "Opaque"), len(obj.get("data") or {}), age]
    if plural == "configmaps":
        return [meta["name"], len(obj.get("data") or {}) + len(obj.get("binaryData") or {}), age]
    if plural == "namespaces":
        return [meta["name"], obj.get("status", {}).get("phase", ""), age]
    if plural == "nodes":
        ready: dict[str, Any] = next((c for c in obj.get("status", {}).get("conditions", []) if c.get("type") == "Ready"), {})
        roles = ",".join(k.split("/", 1)[1] for k in meta.get("labels", {}) if k.startswith("node-role.kubernetes.io/")) or "<none>"
        ip = next((a["address"] for a in obj.get("status", {}).get("addresses", []) if a.get("type") == "InternalIP"), "<none>")
        # printNode: Ready / NotReady (Unknown without the condition), then SchedulingDisabled when cordoned
        status = ("Ready" if ready.get("status") == "True" else "NotReady") if ready else "Unknown"
        if obj.get("spec", {}).get("unschedulable"):
            status += ",SchedulingDisabled"
        return [
            meta["name"],
            status,
            roles,
            age,
            obj.get("status", {}).get("nodeInfo", {}).get("kubeletVersion", ""),
            ip,
        ]
    if plural == "leases":
        return [meta["name"], obj.get("spec", {}).get("holderIdentity", ""), age]
    if plural == "serviceaccounts":
        return [meta["name"], len(obj.get("secrets") or []), age]
    return [meta["name"], age]


def partial_metadata(obj: dict[str, Any], version: str = "v1") -> dict[str, Any]:
    return {"kind": "PartialObjectMetadata", "apiVersion": f"meta.k8s.io/{version}", "metadata": obj["metadata"]}


def table(
    plural: str,
    objs: list[dict[str, Any]],
    now: float,
    *,
    version: str = "v1",
    include: str = "Metadata",
    list_meta: dict[str, Any] | None = None,
    headers: bool = True,
) -> dict[str, Any]:
    rows = []
    for obj in objs:
        row: dict[str, Any] = {"cells": table_row(plural, obj, now)}
        if include == "Object":
            row["object"] = obj
        elif include != "None":
            row["object"] = partial_metadata(obj, version)
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": f"meta.k8s.io/{version}",
        "metadata": list_meta or {},
        "columnDefinitions": table_columns(plural) if headers else [],
        "rows": rows,
    }


# --------------------------------------------------------------------------
# OpenAPI v3 (just enough for kubectl create/apply to use server-side field
# validation instead of failing to download a schema)

_QUERY = [
    {"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}} for n in ("dryRun", "fieldManager", "fieldValidation")
]


def openapi_root() -> dict[str, Any]:
    gvs = ["api/v1"] + [f"apis/{g}/v1" for g in GROUPS]
    return {"paths": {gv: {"serverRelativeURL": f"/openapi/v3/{gv}?hash={fnv32a(f'{gv}@{GIT_VERSION}'.encode()):08X}"} for gv in gvs}}


def openapi_group_version(group: str, version: str) -> dict[str, Any] | None:
    resources = by_group_version(group, version)
    if not resources:
        return None
    prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
    paths: dict[str, Any] = {}
    for r in resources:
        gvk = {"group": r.group, "version": r.version, "kind": r.kind}
        base = f"{prefix}/namespaces/{{namespace}}/{r.plural}" if r.namespaced else f"{prefix}/{r.plural}"
        ops: dict[str, Any] = {}
        if "create" in r.verbs:
            ops["post"] = {
                "operationId": f"create{r.kind}",
                "x-kubernetes-action": "post",
                "x-kubernetes-group-version-kind": gvk,
                "parameters": _QUERY,
                "responses": {},
            }
        if ops:
            paths[base] = ops
        item: dict[str, Any] = {}
        if "update" in r.verbs:
            item["put"] = {
                "operationId": f"replace{r.kind}",
                "x-kubernetes-action": "put",
                "x-kubernetes-group-version-kind": gvk,
                "parameters": _QUERY,
                "responses": {},
            }
        if "patch" in r.verbs:
            item["patch"] = {
                "operationId": f"patch{r.kind}",
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": gvk,
                "parameters": _QUERY,
                "responses": {},
                "requestBody": {
                    "content": {t: {"schema": {"type": "object"}} for t in ("application/json-patch+json", "application/merge-patch+json")}
                },
            }
        if item:
            paths[base + "/{name}"] = item
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": GIT_VERSION}, "paths": paths, "components": {"schemas": {}}}
