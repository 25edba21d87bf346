"""Admission for the drill's Kubernetes API: defaulting, validation and
metadata bookkeeping on every write, with kube-apiserver's error shapes
(400 for undecodable values, 422 Invalid with field paths, 409 Conflict on
a stale resourceVersion).
"""

from __future__ import annotations

import base64
import binascii
import copy
import re
from typing import Any

from clay_cockpit.sim.kube.util import ApiError, conflict, invalid, parse_rfc3339

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")

GO_TYPES = {
    "Deployment": "DeploymentSpec",
    "ConfigMap": "ConfigMap",
    "Secret": "Secret",
    "Lease": "LeaseSpec",
    "Scale": "ScaleSpec",
    "Node": "NodeSpec",
}


def _type_error(kind: str, path: str, value: Any, go_type: str) -> ApiError:
    got = {str: "string", bool: "bool", list: "array", dict: "object"}.get(type(value), "number")
    struct = GO_TYPES.get(kind, kind)
    return ApiError(400, f"json: cannot unmarshal {got} into Go struct field {struct}.{path} of type {go_type}")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


# The Go types of the Deployment fields the drill reads: a value of another
# JSON type fails to decode (400), as it does in kube-apiserver.
_KEY_REF = {"name": "string", "key": "string", "optional": "bool"}
_CONTAINER = {
    "name": "string",
    "image": "string",
    "imagePullPolicy": "string",
    "command": ["string"],
    "args": ["string"],
    "workingDir": "string",
    "resources": "object",
    "env": [
        {
            "name": "string",
            "value": "string",
            "valueFrom": {
                "secretKeyRef": _KEY_REF,
                "configMapKeyRef": _KEY_REF,
                "fieldRef": {"fieldPath": "string", "apiVersion": "string"},
            },
        }
    ],
    "envFrom": [
        {"prefix": "string", "configMapRef": {"name": "string", "optional": "bool"}, "secretRef": {"name": "string", "optional": "bool"}}
    ],
    "ports": [{"name": "string", "containerPort": "int32", "protocol": "string", "hostPort": "int32"}],
    "volumeMounts": [{"name": "string", "mountPath": "string", "readOnly": "bool"}],
    "restartPolicy": "string",  # an init container's Always: a native sidecar
}
_META = {
    "name": "string",
    "namespace": "string",
    "labels": {"*": "string"},
    "annotations": {"*": "string"},
    "resourceVersion": "string",
    "uid": "string",
    "generation": "int64",
}
DEPLOYMENT_TYPES = {
    "metadata": _META,
    "spec": {
        "replicas": "int32",
        "paused": "bool",
        "minReadySeconds": "int32",
        "revisionHistoryLimit": "int32",
        "progressDeadlineSeconds": "int32",
        "selector": {"matchLabels": {"*": "string"}, "matchExpressions": ["object"]},
        "strategy": {"type": "string", "rollingUpdate": {"maxSurge": "intstr", "maxUnavailable": "intstr"}},
        "template": {
            "metadata": _META,
            "spec": {
                "containers": [_CONTAINER],
                "initContainers": [_CONTAINER],
                "terminationGracePeriodSeconds": "int64",
                "restartPolicy": "string",
                "dnsPolicy": "string",
                "schedulerName": "string",
                "serviceAccountName": "string",
                "securityContext": "object",
                "volumes": [{"name": "string"}],
                "nodeSelector": {"*": "string"},
            },
        },
    },
    "status": "object",
}


SCALE_TYPES = {"metadata": _META, "spec": {"replicas": "int32"}, "status": "object"}
STATUS_TYPES = {"metadata": _META, "status": "object"}


def check_types(kind: str, value: Any, schema: Any, path: str = "") -> None:
    """Raise 400 like Go's encoding/json when ``value`` does not fit ``schema``."""
    if value is None:
        return
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            raise _type_error(kind, path, value, "object")
        for key, sub in value.items():
            inner = schema.get(key, schema.get("*"))
            if inner is not None:
                check_types(kind, sub, inner, f"{path}.{key}" if path else key)
        return
    if isinstance(schema, list):
        if not isinstance(value, list):
            raise _type_error(kind, path, value, "array")
        for item in value:
            check_types(kind, item, schema[0], path)
        return
    ok = {
        "string": isinstance(value, str),
        "bool": isinstance(value, bool),
        "int32": _is_int(value),
        "int64": _is_int(value),
        "intstr": _is_int(value) or isinstance(value, str),
        "object": isinstance(value, dict),
    }[schema]
    if not ok:
        raise _type_error(kind, path, value, schema)


def default_container(c: dict[str, Any]) -> None:
    image = c.get("image", "")
    tag = image.rsplit("/", 1)[-1]
    c.setdefault("resources", {})
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    c.setdefault("imagePullPolicy", "Always" if (":" not in tag or tag.endswith(":latest")) else "IfNotPresent")
    for p in c.get("ports") or []:
        if isinstance(p, dict):
            p.setdefault("protocol", "TCP")
    for e in c.get("env") or []:
        fr = (e.get("valueFrom") or {}).get("fieldRef") if isinstance(e, dict) else None
        if isinstance(fr, dict):
            fr.setdefault("apiVersion", "v1")


def default_deployment(d: dict[str, Any]) -> None:
    check_types("Deployment", d, DEPLOYMENT_TYPES)
    spec = d.setdefault("spec", {})
    if not isinstance(spec, dict):
        raise _type_error("Deployment", "spec", spec, "v1.DeploymentSpec")
    if not isinstance(spec.get("template", {}), dict):
        raise _type_error("Deployment", "spec.template", spec["template"], "v1.PodTemplateSpec")
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    strategy = spec.setdefault("strategy", {"type": "RollingUpdate"})
    if isinstance(strategy, dict) and strategy.get("type", "RollingUpdate") == "RollingUpdate":
        strategy["type"] = "RollingUpdate"
        ru = strategy.setdefault("rollingUpdate", {})
        if isinstance(ru, dict):
            ru.setdefault("maxUnavailable", "25%")
            ru.setdefault("maxSurge", "25%")
    tspec = spec.setdefault("template", {}).setdefault("spec", {})
    if not isinstance(tspec, dict):
        raise _type_error("Deployment", "spec.template.spec", tspec, "v1.PodSpec")
    if isinstance(tspec, dict):
        for key, value in (
            ("restartPolicy", "Always"),
            ("terminationGracePeriodSeconds", 30),
            ("dnsPolicy", "ClusterFirst"),
            ("securityContext", {}),
            ("schedulerName", "default-scheduler"),
        ):
            tspec.setdefault(key, value)
        containers = tspec.get("containers") or []
        for c in containers if isinstance(containers, list) else []:
            if isinstance(c, dict):
                default_container(c)


def _validate_meta(kind: str, group: str, obj: dict[str, Any]) -> None:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        raise ApiError(400, f"Object '{kind}' is missing in '{{\"metadata\": ...}}'")
    name = meta.get("name", "")
    for field in ("labels", "annotations"):
        value = meta.get(field)
        if value is None:
            continue
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ApiError(400, f"json: cannot unmarshal into Go struct field ObjectMeta.metadata.{field} of type map[string]string")
    for v in (meta.get("labels") or {}).values():
        if len(v) > 63 or not LABEL_VALUE.match(v):
            raise invalid(
                kind,
                group,
                name,
                [
                    (
                        "metadata.labels",
                        f'Invalid value: "{v}": a valid label must be an empty '
                        "string or consist of alphanumeric characters, '-', '_' or '.', and must "
                        "start and end with an alphanumeric character",
                    )
                ],
            )


def validate(kind: str, group: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    """Raise the ApiError kube-apiserver would give for ``obj`` (``old``: the stored object on update)."""
    _validate_meta(kind, group, obj)
    name = obj["metadata"].get("name", "")
    if kind == "Deployment":
        _validate_deployment(obj, old, name)
    elif kind == "ConfigMap":
        data = obj.get("data")
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise _type_error(kind, "data", data, "map[string]string")
        for k, v in data.items():
            if not isinstance(v, str):
                raise _type_error(kind, "data", v, "string")
            if not CONFIG_KEY.match(k):
                raise invalid(
                    kind,
                    group,
                    name,
                    [
                        (
                            f"data[{k}]",
                            f'Invalid value: "{k}": a valid config key must consist of '
                            "alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  "
                            "or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
                        )
                    ],
                )
    elif kind == "Secret":
        _fold_string_data(obj)
        if old is not None and obj.get("type", "Opaque") != old.get("type", "Opaque"):
            raise invalid(kind, group, name, [("type", f'Invalid value: "{obj.get("type")}": field is immutable')])
    elif kind == "Lease":
        spec = obj.get("spec")
        if spec is None:
            spec = {}
        if not isinstance(spec, dict):
            raise _type_error(kind, "spec", spec, "v1.LeaseSpec")
        for field, go in (
            ("holderIdentity", "string"),
            ("leaseDurationSeconds", "int32"),
            ("leaseTransitions", "int32"),
            ("acquireTime", "v1.MicroTime"),
            ("renewTime", "v1.MicroTime"),
        ):
            v = spec.get(field)
            if v is None:
                continue
            ok = isinstance(v, str) if go in ("string", "v1.MicroTime") else _is_int(v)
            if not ok:
                raise _type_error(kind, f"spec.{field}", v, go)
            if go == "v1.MicroTime":
                try:
                    parse_rfc3339(v)
                except ValueError:
                    raise ApiError(400, f'parsing time "{v}" as "2006-01-02T15:04:05.000000Z07:00": cannot parse') from None
        if spec.get("leaseDurationSeconds") is not None and spec["leaseDurationSeconds"] <= 0:
            raise invalid(
                kind, group, name, [("spec.leaseDurationSeconds", f"Invalid value: {spec['leaseDurationSeconds']}: must be greater than 0")]
            )
        if spec.get("leaseTransitions") is not None and spec["leaseTransitions"] < 0:
            raise invalid(
                kind,
                group,
                name,
                [("spec.leaseTransitions", f"Invalid value: {spec['leaseTransitions']}: must be greater than or equal to 0")],
            )


def _fold_string_data(secret: dict[str, Any]) -> None:
    """stringData is write-only: merged into data (base64) and dropped, as the API server does."""
    data = secret.get("data")
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise _type_error("Secret", "data", data, "map[string][]uint8")
    for v in data.values():
        if not isinstance(v, str):
            raise _type_error("Secret", "data", v, "[]uint8")
        try:
            base64.b64decode(v, validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(400, f"illegal base64 data at input byte {_bad_b64_index(v)}") from None
    string_data = secret.pop("stringData", None)
    string_data = {} if string_data is None else string_data
    if not isinstance(string_data, dict) or not all(isinstance(v, str) for v in string_data.values()):
        raise _type_error("Secret", "stringData", string_data, "map[string]string")
    for k, v in string_data.items():
        data[k] = base64.b64encode(v.encode()).decode()
    secret["data"] = data
    for k in data:
        if not CONFIG_KEY.match(k):
            raise invalid(
                "Secret",
                "",
                secret["metadata"].get("name", ""),
                [(f"data[{k}]", f"Invalid value: \"{k}\": a valid config key must consist of alphanumeric characters, '-', '_' or '.'")],
            )


def _bad_b64_index(v: str) -> int:
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
    return next((i for i, ch in enumerate(v) if ch not in allowed), max(0, len(v) - len(v) % 4))


def _validate_deployment(d: dict[str, Any], old: dict[str, Any] | None, name: str) -> None:
    check_types("Deployment", d, DEPLOYMENT_TYPES)
    spec = d.get("spec")
    if not isinstance(spec, dict):
        raise _type_error("Deployment", "spec", spec, "v1.DeploymentSpec")
    causes: list[tuple[str, str]] = []
    replicas = spec.get("replicas", 1)
    if not _is_int(replicas):
        raise _type_error("Deployment", "spec.replicas", replicas, "int32")
    if replicas < 0:
        causes.append(("spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0"))
    if "paused" in spec and not isinstance(spec["paused"], bool):
        raise _type_error("Deployment", "spec.paused", spec["paused"], "bool")
    strategy = spec.get("strategy") or {}
    if strategy.get("type") not in (None, "RollingUpdate", "Recreate"):
        causes.append(("spec.strategy.type", f'Unsupported value: "{strategy.get("type")}": supported values: "Recreate", "RollingUpdate"'))
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    tpl = spec.get("template") or {}
    labels = (tpl.get("metadata") or {}).get("labels") or {}
    if not selector:
        causes.append(("spec.selector", "Required value"))
    elif any(labels.get(k) != v for k, v in selector.items()):
        shown = ", ".join(f'"{k}":"{v}"' for k, v in sorted(labels.items()))
        causes.append(
            ("spec.template.metadata.labels", f"Invalid value: map[string]string{{{shown}}}: `selector` does not match template `labels`")
        )
    if old is not None and spec.get("selector") != old["spec"].get("selector"):
        causes.append(("spec.selector", f"Invalid value: {spec.get('selector')}: field is immutable"))
    containers = (tpl.get("spec") or {}).get("containers")
    if not isinstance(containers, list) or not containers:
        causes.append(("spec.template.spec.containers", "Required value"))
    else:
        seen: set[str] = set()
        for i, c in enumerate(containers):
            if not isinstance(c, dict):
                raise _type_error("Deployment", f"spec.template.spec.containers[{i}]", c, "v1.Container")
            cname = c.get("name")
            if not cname:
                causes.append((f"spec.template.spec.containers[{i}].name", "Required value"))
            elif not isinstance(cname, str) or not DNS_LABEL.match(cname):
                causes.append(
                    (
                        f"spec.template.spec.containers[{i}].name",
                        f"Invalid value: \"{cname}\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'",
                    )
                )
            elif cname in seen:
                causes.append((f"spec.template.spec.containers[{i}].name", f'Duplicate value: "{cname}"'))
            seen.add(str(cname))
            if not isinstance(c.get("image"), str) or not c.get("image", "").strip():
                causes.append((f"spec.template.spec.containers[{i}].image", "Required value"))
            for j, e in enumerate(c.get("env") or []):
                if not isinstance(e, dict) or not e.get("name"):
                    causes.append((f"spec.template.spec.containers[{i}].env[{j}].name", "Required value"))
    if causes:
        raise invalid("Deployment", "apps", name, causes)


def drop_nulls(value: Any) -> Any:
    """A copy without null fields: Go decodes them to zero values that ``omitempty`` then leaves out
    (``creationTimestamp: null`` in a pod template from kubectl, for one)."""
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


def admit_update(kind: str, group: str, resource: str, new: dict[str, Any], old: dict[str, Any], url_name: str) -> dict[str, Any]:
    """Merge server-owned metadata into an update (PUT or patched object) and check preconditions."""
    meta = new.get("metadata")
    if not isinstance(meta, dict):
        raise ApiError(400, "metadata: object is required")
    if meta.get("name", url_name) != url_name:
        raise ApiError(400, f"the name of the object ({meta.get('name')}) does not match the name on the URL ({url_name})")
    rv = meta.get("resourceVersion")
    if rv and rv != old["metadata"]["resourceVersion"]:
        raise conflict(resource, group, url_name)
    if meta.get("uid") and meta["uid"] != old["metadata"]["uid"]:
        raise invalid(kind, group, url_name, [("metadata.uid", f'Invalid value: "{meta["uid"]}": field is immutable')])
    out: dict[str, Any] = drop_nulls(new)
    out["kind"], out["apiVersion"] = old["kind"], old["apiVersion"]
    m = out["metadata"]
    for key in ("name", "namespace", "uid", "creationTimestamp", "generation", "deletionTimestamp"):
        if key in old["metadata"]:
            m[key] = copy.deepcopy(old["metadata"][key])
        else:
            m.pop(key, None)
    m["resourceVersion"] = old["metadata"]["resourceVersion"]
    if kind == "Deployment":
        default_deployment(out)
        out["status"] = copy.deepcopy(old.get("status", {}))
        if out.get("spec") != old.get("spec"):
            m["generation"] = old["metadata"].get("generation", 1) + 1
    validate(kind, group, out, old)
    return out
