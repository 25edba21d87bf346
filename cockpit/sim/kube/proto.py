"""Just enough of Kubernetes' protobuf wire format to read the request
bodies kubectl sends as ``application/vnd.kubernetes.protobuf``.

client-go's typed clients post some kinds as protobuf with no JSON fallback —
``kubectl auth can-i`` posts its SelfSubjectAccessReview that way. The
envelope is the magic ``k8s\\x00`` followed by a ``runtime.Unknown`` message
(typeMeta, raw); ``raw`` is the object's own message. Answers stay JSON
(client-go also accepts JSON back).
"""

from __future__ import annotations

import base64
from typing import Any

from clay_cockpit.sim.kube.util import ApiError

MAGIC = b"k8s\x00"
PROTOBUF = "application/vnd.kubernetes.protobuf"

Fields = dict[int, list[Any]]


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if i >= len(buf) or shift > 63:
            raise ValueError("truncated varint")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def fields(buf: bytes) -> Fields:
    """Decode one message's fields: number -> values (ints for varints, bytes otherwise)."""
    out: Fields = {}
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            n, i = _varint(buf, i)
            if i + n > len(buf):
                raise ValueError("truncated field")
            value, i = buf[i : i + n], i + n
        elif wire == 1:
            value, i = buf[i : i + 8], i + 8
        elif wire == 5:
            value, i = buf[i : i + 4], i + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        out.setdefault(num, []).append(value)
    return out


def _str(f: Fields, num: int) -> str:
    values = f.get(num)
    return values[-1].decode("utf-8") if values else ""


def _msg(f: Fields, num: int) -> Fields | None:
    values = f.get(num)
    return fields(values[-1]) if values else None


def decode_ssar(body: bytes) -> dict[str, Any]:
    """A protobuf SelfSubjectAccessReview as the JSON object it stands for."""
    try:
        if not body.startswith(MAGIC):
            raise ValueError("missing k8s protobuf prefix")
        unknown = fields(body[len(MAGIC) :])
        type_meta = _msg(unknown, 1) or {}
        if _str(type_meta, 2) not in ("", "SelfSubjectAccessReview"):
            raise ValueError(f"unexpected kind {_str(type_meta, 2)}")
        obj = fields(unknown.get(2, [b""])[-1])
        spec = _msg(obj, 2) or {}
        out: dict[str, Any] = {}
        ra = _msg(spec, 1)
        if ra is not None:
            names = ("namespace", "verb", "group", "version", "resource", "subresource", "name")
            out["resourceAttributes"] = {n: _str(ra, i + 1) for i, n in enumerate(names) if _str(ra, i + 1)}
        nra = _msg(spec, 2)
        if nra is not None:
            out["nonResourceAttributes"] = {"path": _str(nra, 1), "verb": _str(nra, 2)}
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"failed to decode protobuf SelfSubjectAccessReview: {exc}") from None
    return {"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1", "metadata": {}, "spec": out}


def decode_rules_review(body: bytes) -> dict[str, Any]:
    """A protobuf SelfSubjectRulesReview (``spec.namespace``) or SelfSubjectReview (no fields) as JSON."""
    try:
        if not body.startswith(MAGIC):
            raise ValueError("missing k8s protobuf prefix")
        unknown = fields(body[len(MAGIC) :])
        kind = _str(_msg(unknown, 1) or {}, 2)
        if kind not in ("SelfSubjectRulesReview", "SelfSubjectReview"):
            raise ValueError(f"unexpected kind {kind}")
        obj = fields(unknown.get(2, [b""])[-1])
        spec = (_msg(obj, 2) or {}) if kind == "SelfSubjectRulesReview" else {}
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"failed to decode protobuf review: {exc}") from None
    group = "authorization.k8s.io" if kind == "SelfSubjectRulesReview" else "authentication.k8s.io"
    out: dict[str, Any] = {"kind": kind, "apiVersion": f"{group}/v1", "metadata": {}}
    if kind == "SelfSubjectRulesReview":
        out["spec"] = {"namespace": _str(spec, 1)} if _str(spec, 1) else {}
    return out


def _map(f: Fields, num: int, as_bytes: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for entry in f.get(num, []):
        kv = fields(entry)
        key = _str(kv, 1)
        raw = kv.get(2, [b""])[-1]
        out[key] = base64.b64encode(raw).decode() if as_bytes else raw.decode("utf-8")
    return out


def _meta(f: Fields) -> dict[str, Any]:
    names = {1: "name", 2: "generateName", 3: "namespace", 5: "uid", 6: "resourceVersion"}
    meta: dict[str, Any] = {n: _str(f, i) for i, n in names.items() if _str(f, i)}
    for num, key in ((11, "labels"), (12, "annotations")):
        if f.get(num):
            meta[key] = _map(f, num)
    finalizers = [v.decode("utf-8") for v in f.get(14, [])]
    if finalizers:
        meta["finalizers"] = finalizers
    return meta


def decode_object(body: bytes, kind: str) -> dict[str, Any]:
    """A protobuf Secret or ConfigMap (what ``kubectl create secret|configmap`` posts) as JSON.

    Secret: metadata 1, data 2 (map string→bytes), type 3, stringData 4, immutable 5.
    ConfigMap: metadata 1, data 2 (map string→string), binaryData 3 (bytes), immutable 4.
    """
    try:
        if not body.startswith(MAGIC):
            raise ValueError("missing k8s protobuf prefix")
        unknown = fields(body[len(MAGIC) :])
        type_meta = _msg(unknown, 1) or {}
        if _str(type_meta, 2) != kind:
            raise ValueError(f"expected {kind}, got {_str(type_meta, 2) or 'no kind'}")
        obj = fields(unknown.get(2, [b""])[-1])
        out: dict[str, Any] = {"kind": kind, "apiVersion": _str(type_meta, 1) or "v1", "metadata": _meta(_msg(obj, 1) or {})}
        if kind == "Secret":
            if obj.get(2):
                out["data"] = _map(obj, 2, as_bytes=True)
            if _str(obj, 3):
                out["type"] = _str(obj, 3)
            if obj.get(4):
                out["stringData"] = _map(obj, 4)
            immutable = obj.get(5)
        elif kind == "ConfigMap":
            if obj.get(2):
                out["data"] = _map(obj, 2)
            if obj.get(3):
                out["binaryData"] = _map(obj, 3, as_bytes=True)
            immutable = obj.get(4)
        else:
            raise ValueError(f"the drill does not decode protobuf {kind}")
        if immutable:
            out["immutable"] = bool(immutable[-1])
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"failed to decode protobuf {kind}: {exc}") from None
    return out
