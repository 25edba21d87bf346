"""``metadata.managedFields`` of the drill's Kubernetes API: who set which
fields, and when (server-side field management, as kube-apiserver records it
on every create, update and patch — operation ``Update``; the drill has no
server-side apply).

Ownership follows structured-merge-diff's ``Update``: the fields a write
adds or changes move to its manager (taken from the other managers), fields
it removes leave every manager, and a manager left owning nothing is
dropped. The writer's entry gets the write's ``time``; a no-op write
leaves the object (and its resourceVersion) as it was. The cockpit reads
ConfigMap/Secret change times from these entries. Objects the drill seeds
carry no entries, so their fields stay unowned until a write takes them,
as after an upgrade from a server without field management.

The manager is the request's ``fieldManager`` or else the User-Agent up to
its first ``/`` (``managerOrUserAgent`` in the apiserver). ``fieldsV1`` keeps
the real encoding (``f:<field>``, ``k:{<merge keys>}`` for list items with
merge keys, ``.`` for a map or list item that is itself owned); values are
never recorded, so a Secret's data stays out of it.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from clay_cockpit.sim.kube.util import ApiError, rfc3339

Path = tuple[str, ...]

# metadata fields the server owns: never in a manager's set
SERVER_META = {
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
}
# fields whose Go type is a map: the map itself is a member ("."), then its keys
MAP_FIELDS = {"labels", "annotations", "data", "binaryData", "stringData", "limits", "requests", "matchLabels", "nodeSelector"}
# list fields whose items are keyed (patchMergeKey / listMapKeys)
LIST_KEYS: dict[str, tuple[str, ...]] = {
    "containers": ("name",),
    "initContainers": ("name",),
    "env": ("name",),
    "envFrom": (),
    "volumes": ("name",),
    "volumeMounts": ("mountPath",),
    "ports": ("containerPort", "protocol"),
    "imagePullSecrets": ("name",),
    "conditions": ("type",),
    "ownerReferences": ("uid",),
    "tolerations": (),
}
MAX_MANAGER = 128


def manager_name(field_manager: str | None, user_agent: str) -> str:
    """The request's manager; 422 for a fieldManager longer than 128 bytes, as kube-apiserver."""
    if field_manager:
        if len(field_manager.encode()) > MAX_MANAGER:
            raise ApiError(422, f"fieldManager: Too long: may not be more than {MAX_MANAGER} bytes")
        return field_manager
    return user_agent.split("/", 1)[0][:MAX_MANAGER]


def _key(item: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    if not keys or not all(k in item for k in keys):
        return None
    return "k:" + json.dumps({k: item[k] for k in keys}, separators=(",", ":"), sort_keys=True)


def leaves(obj: dict[str, Any], subresource: str = "") -> dict[Path, Any]:
    """Every owned path of ``obj`` with its value (the value only to compare two versions)."""
    out: dict[Path, Any] = {}

    def walk(value: Any, path: Path, name: str) -> None:
        if isinstance(value, dict) and value:
            if name in MAP_FIELDS:
                out[path + (".",)] = None
            for k, v in value.items():
                walk(v, path + (f"f:{k}",), k)
            return
        if isinstance(value, list) and name in LIST_KEYS and value and all(isinstance(v, dict) for v in value):
            keys = [_key(v, LIST_KEYS[name]) for v in value]
            if all(keys) and len(set(keys)) == len(keys):
                for k, v in zip(keys, value, strict=True):
                    assert k is not None
                    out[path + (k, ".")] = None
                    for fk, fv in v.items():
                        walk(fv, path + (k, f"f:{fk}"), fk)
                return
        out[path] = value

    for top, value in obj.items():
        if top in ("apiVersion", "kind"):
            continue
        if subresource == "status" and top != "status":
            continue
        if subresource != "status" and top == "status":
            continue
        if top == "metadata" and isinstance(value, dict):
            for k, v in value.items():
                if k not in SERVER_META:
                    walk(v, ("f:metadata", f"f:{k}"), k)
            continue
        walk(value, (f"f:{top}",), top)
    return out


def encode(paths: set[Path]) -> dict[str, Any]:
    """A set of paths as FieldsV1 (``{"f:data": {".": {}, "f:k": {}}}``)."""
    root: dict[str, Any] = {}
    for path in sorted(paths):
        node = root
        for part in path:
            node = node.setdefault(part, {})
    return root


def decode(fields_v1: Any) -> set[Path]:
    out: set[Path] = set()

    def walk(node: Any, path: Path) -> None:
        if not isinstance(node, dict) or not node:
            if path:
                out.add(path)
            return
        for k, v in node.items():
            walk(v, path + (k,))

    walk(fields_v1, ())
    return out


def record(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    manager: str,
    now: float,
    *,
    subresource: str = "",
) -> None:
    """Set ``new["metadata"]["managedFields"]`` for a write of ``new`` over ``old`` (None: a create)."""
    before = leaves(old, subresource) if old is not None else {}
    after = leaves(new, subresource)
    changed = {p for p, v in after.items() if p not in before or before[p] != v}
    removed = set(before) - set(after)
    entries = copy.deepcopy((old or {}).get("metadata", {}).get("managedFields") or [])
    meta = new["metadata"]
    if not changed and not removed:
        if entries:
            meta["managedFields"] = entries
        else:
            meta.pop("managedFields", None)
        return
    api_version = new.get("apiVersion", "")
    mine = None
    kept: list[dict[str, Any]] = []
    for entry in entries:
        owned = decode(entry.get("fieldsV1")) - removed
        same = (entry.get("manager"), entry.get("operation"), entry.get("subresource", "")) == (manager, "Update", subresource)
        if same:
            mine = entry
            continue
        owned -= changed
        if owned:
            entry["fieldsV1"] = encode(owned)
            kept.append(entry)
    owned = ((decode(mine.get("fieldsV1")) if mine else set()) - removed) | changed
    if owned:
        entry = {
            "manager": manager,
            "operation": "Update",
            "apiVersion": api_version,
            "time": rfc3339(now),
            "fieldsType": "FieldsV1",
            "fieldsV1": encode(owned),
        }
        if subresource:
            entry["subresource"] = subresource
        kept.append(entry)
    if kept:
        meta["managedFields"] = kept
    else:
        meta.pop("managedFields", None)
