"""Just enough of Kubernetes' protobuf wire format to read the request
bodies kubectl sends as ``application/vnd.kubernetes.protobuf``.

client-go's typed clients post some kinds as protobuf with no JSON fallback —
``kubectl auth can-i`` posts its SelfSubjectAccessReview that way. The
envelope is the magic ``k8s\\x00`` followed by a ``runtime.Unknown`` message
(typeMeta, raw); ``raw`` is the object's own message. Answers stay JSON
(client-go also accepts JSON back).
"""

from __future__ import annotations

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
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            n, i = _varint(buf, i)
            if i + n > len(buf):
                raise ValueError("truncated field")
            value, i = buf[i:i + n], i + n
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
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
        unknown = fields(body[len(MAGIC):])
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
