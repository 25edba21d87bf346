"""Small pieces of the drill's Kubernetes API: Status errors, timestamps,
label and field selectors, names and hashes.

Everything here is pure (no I/O, no clock of its own) so the API server in
:mod:`clay_cockpit.sim.kube.http` and the controllers in
:mod:`clay_cockpit.sim.kube.workload` share one notion of each.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime
from typing import Any

# The alphabet Kubernetes uses for generated names and pod-template-hash
# (k8s.io/apimachinery/pkg/util/rand.SafeEncodeString): no vowels, no 0/1/3.
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


def status_body(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """A ``meta/v1`` Status object shaped like kube-apiserver's."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
    }
    if details is not None:
        body["details"] = details
    body["code"] = code
    return body


class ApiError(Exception):
    """An error the API answers with a Status body."""

    def __init__(self, code: int, message: str, *, reason: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason or REASONS.get(code, "Unknown")
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        return status_body(self.code, self.reason, self.message, self.details)


def qualified(resource: str, group: str) -> str:
    """``pods`` / ``deployments.apps`` as kube-apiserver names a resource in messages."""
    return f"{resource}.{group}" if group else resource


def not_found(resource: str, group: str, name: str) -> ApiError:
    details: dict[str, Any] = {"name": name}
    if group:
        details["group"] = group
    details["kind"] = resource
    return ApiError(404, f'{qualified(resource, group)} "{name}" not found', details=details)


def already_exists(resource: str, group: str, name: str) -> ApiError:
    details: dict[str, Any] = {"name": name}
    if group:
        details["group"] = group
    details["kind"] = resource
    return ApiError(409, f'{qualified(resource, group)} "{name}" already exists', reason="AlreadyExists", details=details)


def conflict(resource: str, group: str, name: str) -> ApiError:
    details: dict[str, Any] = {"name": name}
    if group:
        details["group"] = group
    details["kind"] = resource
    return ApiError(
        409,
        f'Operation cannot be fulfilled on {qualified(resource, group)} "{name}": '
        "the object has been modified; please apply your changes to the latest version and try again",
        details=details,
    )


def invalid(kind: str, group: str, name: str, causes: list[tuple[str, str]]) -> ApiError:
    """422 Invalid: ``Deployment.apps "x" is invalid: spec.replicas: Invalid value: -1: ...``."""
    text = "; ".join(f"{field}: {msg}" for field, msg in causes)
    if len(causes) > 1:
        text = "[" + ", ".join(f"{field}: {msg}" for field, msg in causes) + "]"
    details: dict[str, Any] = {"name": name}
    if group:
        details["group"] = group
    details["kind"] = kind
    details["causes"] = [{"reason": "FieldValueInvalid", "message": msg, "field": field} for field, msg in causes]
    return ApiError(422, f'{kind}{"." + group if group else ""} "{name}" is invalid: {text}', details=details)


def forbidden_message(user: str, verb: str, resource: str, group: str, namespace: str | None, name: str | None) -> str:
    """kube-apiserver's RBAC denial text; ``resource`` may be ``pods/log``."""
    base = resource.split("/", 1)[0]
    subject = f'{qualified(base, group)} "{name}"' if name else qualified(base, group)
    scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    return f'{subject} is forbidden: User "{user}" cannot {verb} resource "{resource}" in API group "{group}" {scope}'


# --------------------------------------------------------------------------
# Time


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def rfc3339(epoch: float) -> str:
    """metav1.Time: second precision, ``2024-05-02T12:30:41Z``."""
    return _dt(epoch).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_micro(epoch: float) -> str:
    """metav1.MicroTime: ``2024-05-02T12:30:41.123456Z``."""
    return _dt(epoch).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def rfc3339_nano(epoch: float) -> str:
    """The timestamp kubelet prefixes log lines with (``timestamps=true``)."""
    whole = int(epoch // 1)
    nanos = int(round((epoch - whole) * 1e9))
    if nanos >= 1_000_000_000:
        whole, nanos = whole + 1, nanos - 1_000_000_000
    return _dt(whole).strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"


_RFC3339_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def parse_rfc3339(text: str) -> float:
    """Epoch seconds from an RFC 3339 timestamp (any fraction length). ValueError if malformed."""
    m = _RFC3339_RE.match(text.strip())
    if not m:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    date, clock, frac, zone = m.groups()
    tz = "+00:00" if zone in ("Z", "z") else zone
    base = datetime.fromisoformat(f"{date}T{clock}{tz}").timestamp()
    return base + (float(frac) if frac else 0.0)


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration, as in kubectl's AGE column."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rem = s % 60
        return f"{minutes}m" if rem == 0 else f"{minutes}m{rem}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rem = minutes % 60
        return f"{hours}h" if rem == 0 else f"{hours}h{rem}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rem = hours % 24
        return f"{hours // 24}d" if rem == 0 else f"{hours // 24}d{rem}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def since(now: float, timestamp: str | None) -> str:
    """translateTimestampSince: the age of a metav1.Time string at ``now``."""
    if not timestamp:
        return "<unknown>"
    return human_duration(now - parse_rfc3339(timestamp))


# --------------------------------------------------------------------------
# Names and hashes


def random_suffix(rng: random.Random, n: int = 5) -> str:
    return "".join(rng.choice(SAFE_ALPHABET) for _ in range(n))


def fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def safe_encode(value: int, length: int = 10) -> str:
    """A hash rendered in SAFE_ALPHABET (as the pod-template-hash label is)."""
    out = []
    v = value * 2654435761 + 97  # spread small hashes over the full length
    for _ in range(length):
        v, r = divmod(v, len(SAFE_ALPHABET))
        out.append(SAFE_ALPHABET[r])
        v = v * 31 + r + 7
    return "".join(out)


def uid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:32]}"


# --------------------------------------------------------------------------
# Label selectors (k8s.io/apimachinery/pkg/labels)

_LABEL_KEY = r"[A-Za-z0-9](?:[-A-Za-z0-9_./]*[A-Za-z0-9])?"
_SET_RE = re.compile(rf"^\s*({_LABEL_KEY})\s+(in|notin)\s*\(([^)]*)\)\s*$")
_EQ_RE = re.compile(rf"^\s*({_LABEL_KEY})\s*(==|=|!=)\s*([-A-Za-z0-9_.]*)\s*$")
_EXISTS_RE = re.compile(rf"^\s*(!?)\s*({_LABEL_KEY})\s*$")


def _split_top(text: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    cur: list[str] = []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p for p in parts if p.strip()]


Requirement = tuple[str, str, frozenset[str]]  # key, op (in notin exists !), values


def parse_label_selector(text: str) -> list[Requirement]:
    """Parse ``app=x,tier!=db,env in (a,b),!legacy``; ApiError 400 if malformed."""
    reqs: list[Requirement] = []
    for part in _split_top(text or ""):
        if m := _SET_RE.match(part):
            values = frozenset(v.strip() for v in m.group(3).split(",") if v.strip())
            reqs.append((m.group(1), m.group(2), values))
        elif m := _EQ_RE.match(part):
            op = "notin" if m.group(2) == "!=" else "in"
            reqs.append((m.group(1), op, frozenset([m.group(3)])))
        elif m := _EXISTS_RE.match(part):
            reqs.append((m.group(2), "!" if m.group(1) else "exists", frozenset()))
        else:
            raise ApiError(400, f"unable to parse requirement: found '{part.strip()}', expected: identifier")
    return reqs


def labels_match(reqs: list[Requirement], labels: dict[str, str] | None) -> bool:
    labels = labels or {}
    for key, op, values in reqs:
        if op == "in" and labels.get(key) not in values:
            return False
        if op == "notin" and key in labels and labels[key] in values:
            return False
        if op == "exists" and key not in labels:
            return False
        if op == "!" and key in labels:
            return False
    return True


def selector_string(match_labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(match_labels.items()))


# --------------------------------------------------------------------------
# Field selectors (only the fields kube-apiserver supports per resource)

FieldReq = tuple[str, bool, str]  # field, equal?, value


def parse_field_selector(text: str, supported: tuple[str, ...]) -> list[FieldReq]:
    reqs: list[FieldReq] = []
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        m = re.match(r"^([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*)$", part)
        if not m:
            raise ApiError(400, f"invalid selector: '{text}'; can't understand '{part}'")
        field, op, value = m.groups()
        if field not in supported:
            raise ApiError(400, f"field label not supported: {field}")
        reqs.append((field, op != "!=", value.strip()))
    return reqs


def get_path(obj: dict[str, Any], dotted: str) -> str:
    cur: Any = obj
    for key in dotted.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(key)
    if cur is None:
        return ""
    return str(cur)


def fields_match(reqs: list[FieldReq], obj: dict[str, Any]) -> bool:
    return all((get_path(obj, f) == v) == eq for f, eq, v in reqs)
