"""The three PATCH forms kube-apiserver accepts for built-in types.

- ``application/json-patch+json``: RFC 6902, via the ``jsonpatch`` library.
- ``application/merge-patch+json``: RFC 7386.
- ``application/strategic-merge-patch+json``: Kubernetes' strategic merge,
  for the fields the drill's objects have: maps merge, ``null`` deletes, lists
  with a ``patchMergeKey`` (containers, env, volumes, ports, volumeMounts, …)
  merge element by element, ``finalizers`` merge as a set, other lists are
  replaced; the ``$patch`` (``replace``/``delete``/``merge``),
  ``$deleteFromPrimitiveList/<field>``, ``$setElementOrder/<field>`` and
  ``$retainKeys`` directives are honoured.

Each function returns a new object and never mutates its arguments; a patch
that cannot apply raises :class:`~clay_cockpit.sim.kube.util.ApiError`.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonpatch

from clay_cockpit.sim.kube.util import ApiError

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

# patchMergeKey of the list fields (by field name) in the drill's types.
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "ports": "containerPort",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "conditions": "type",
    "ownerReferences": "uid",
    "resourceClaims": "name",
}
# Lists of scalars with patchStrategy "merge".
MERGE_SCALAR_LISTS = {"finalizers"}


def decode_patch(body: bytes, content_type: str) -> Any:
    try:
        patch = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, f"error decoding patch: {exc}") from None
    if content_type == JSON_PATCH:
        if not isinstance(patch, list):
            raise ApiError(400, f"json: cannot unmarshal {_json_type(patch)} into Go value of type jsonpatch.Patch")
        for op in patch:
            if op is not None and not isinstance(op, dict):
                raise ApiError(400, f"json: cannot unmarshal {_json_type(op)} into Go value of type jsonpatch.Operation")
    elif not isinstance(patch, dict):
        raise ApiError(400, f"json: cannot unmarshal {type(patch).__name__} into Go value of type map[string]interface {{}}")
    return patch


def _json_type(value: Any) -> str:
    return {str: "string", bool: "bool", list: "array", dict: "object"}.get(type(value), "number")


def apply_patch(obj: dict[str, Any], patch: Any, content_type: str) -> dict[str, Any]:
    if content_type == JSON_PATCH:
        return apply_json_patch(obj, patch)
    if content_type == MERGE_PATCH:
        merged: dict[str, Any] = merge_patch(obj, patch)  # parse_patch made sure a merge patch is an object
        return merged
    if content_type == STRATEGIC_PATCH:
        return strategic_merge(obj, patch)
    raise ApiError(
        415,
        f"the body of the request was in an unknown format - accepted media types include: {JSON_PATCH}, {MERGE_PATCH}, {STRATEGIC_PATCH}",
    )


# kube-apiserver answers any JSON patch that does not apply (a failed ``test``, a
# path that is not there, an unknown op) with NewGenericServerResponse(422):
# reason Invalid, this message, empty details; json-patch's own error text is
# not sent (handlers/patch.go, applyJSPatch).
JSON_PATCH_REJECTED = "the server rejected our request due to an error in our request"
MAX_JSON_PATCH_OPS = 10000  # maxJSONPatchOperations


def _rejected() -> ApiError:
    return ApiError(422, JSON_PATCH_REJECTED, reason="Invalid", details={})


def _same(a: Any, b: Any) -> bool:
    """JSON equality (a bool is not a number, unlike in Python)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


def _test(doc: Any, op: dict[str, Any]) -> bool:
    """evanphx/json-patch's ``test``: the parent must exist; a missing or null value matches only a null or absent ``value``."""
    path = op.get("path")
    if not isinstance(path, str) or (path and not path.startswith("/")):
        return False
    if path == "":
        return "value" in op and _same(doc, op["value"])
    parts = [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]
    node = doc
    for part in parts[:-1]:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    key = parts[-1]
    if isinstance(node, dict):
        value = node.get(key)
    elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
        value = node[int(key)]
    else:
        return False
    expected = op.get("value")
    if value is None or expected is None:
        return value is None and expected is None
    return _same(value, expected)


def apply_json_patch(obj: dict[str, Any], ops: list[Any]) -> dict[str, Any]:
    if len(ops) > MAX_JSON_PATCH_OPS:
        raise ApiError(
            413, f"Request entity too large: The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPS}, got {len(ops)}"
        )
    doc: Any = copy.deepcopy(obj)
    for op in ops:
        if isinstance(op, dict) and op.get("op") == "test":
            if not _test(doc, op):
                raise _rejected()
            continue
        try:
            doc = jsonpatch.JsonPatch([op]).apply(doc, in_place=True)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, AttributeError, TypeError, KeyError, IndexError, ValueError):
            raise _rejected() from None
    if not isinstance(doc, dict):
        raise _rejected()
    return doc


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON Merge Patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge(original: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    result = _merge_map(copy.deepcopy(original), patch)
    if result is None:
        return {}
    return result


def _merge_map(orig: Any, patch: dict[str, Any]) -> dict[str, Any] | None:
    """Merge ``patch`` into ``orig`` (already a private copy). None means: delete the map."""
    directive = patch.get("$patch")
    if directive == "delete":
        return None
    if directive == "replace":
        replaced: dict[str, Any] = _strip_directives({k: v for k, v in patch.items() if k != "$patch"})
        return replaced
    if directive not in (None, "merge"):
        raise ApiError(400, f"Unknown patch type: {directive} in map: {json.dumps(patch)}")
    result: dict[str, Any] = orig if isinstance(orig, dict) else {}
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys") or key.startswith("$setElementOrder/"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(result.get(field), list) and isinstance(value, list):
                result[field] = [v for v in result[field] if v not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = _merge_map(copy.deepcopy(result.get(key)), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = _merge_list(key, result.get(key), value)
        else:
            result[key] = value
    if isinstance(retain, list):
        for key in list(result):
            if key not in retain:
                del result[key]
    for key, value in patch.items():
        if key.startswith("$setElementOrder/"):
            field = key.split("/", 1)[1]
            if isinstance(result.get(field), list) and isinstance(value, list):
                result[field] = _apply_order(field, result[field], value)
    return result


def _merge_list(field: str, orig: Any, patch: list[Any]) -> list[Any]:
    orig_list = orig if isinstance(orig, list) else []
    if any(isinstance(p, dict) and p.get("$patch") == "replace" for p in patch):
        return [_strip_directives(p) for p in patch if not (isinstance(p, dict) and p.get("$patch") == "replace")]
    if field in MERGE_SCALAR_LISTS:
        out = list(orig_list)
        for item in patch:
            if item not in out:
                out.append(item)
        return out
    key = MERGE_KEYS.get(field)
    if key is None or not all(isinstance(p, dict) for p in patch):
        return [_strip_directives(p) for p in patch]
    out = [copy.deepcopy(o) for o in orig_list]
    for item in patch:
        if key not in item:
            raise ApiError(400, f"map: {json.dumps(item)} does not contain declared merge key: {key}")
        idx = next((i for i, o in enumerate(out) if isinstance(o, dict) and o.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                del out[idx]
            continue
        if idx is None:
            out.append(_strip_directives(item))
        else:
            merged = _merge_map(out[idx], item)
            if merged is None:
                del out[idx]
            else:
                out[idx] = merged
    return out


def _apply_order(field: str, items: list[Any], order: list[Any]) -> list[Any]:
    key = MERGE_KEYS.get(field)

    def ident(x: Any) -> Any:
        return x.get(key) if key and isinstance(x, dict) else json.dumps(x, sort_keys=True)

    wanted = [ident(o) for o in order]
    ranked = sorted(enumerate(items), key=lambda p: (wanted.index(ident(p[1])) if ident(p[1]) in wanted else len(wanted), p[0]))
    return [item for _, item in ranked]


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _strip_directives(v)
            for k, v in value.items()
            if not (
                k.startswith("$patch")
                or k.startswith("$setElementOrder/")
                or k.startswith("$retainKeys")
                or k.startswith("$deleteFromPrimitiveList/")
            )
            and v is not None
        }
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return value
