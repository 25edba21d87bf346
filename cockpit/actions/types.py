"""The values the remediation path passes around: what an action is, the plan
the responder confirms, what a dry run / permission check / lease / probe
found, progress while it runs, and the outcome.

Pure data, standard library only: the UI (screens/, widgets/) imports these
through :mod:`clay_cockpit.actions.flow`; the Kubernetes adapter
(:mod:`clay_cockpit.sources.kube_admin`) and the Clay probe
(:mod:`clay_cockpit.sources.clay_probe`) produce them.

Secrets: a Clay API key travels only inside a :class:`SecretValue`, whose
``repr``/``str`` is its fingerprint; a :class:`FieldChange` of a secret field
holds fingerprints, never the value. Nothing here formats a secret.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from clay_cockpit.redact import fingerprint, redact, register
from clay_cockpit.runbook import ActionId


class ActionKind(StrEnum):
    """The remediations the cockpit can run."""

    RESTART = "restart"
    VERIFY_KEY = "verify_key"
    UPDATE_KEY = "update_key"
    ENABLE_QUEUING = "enable_queuing"
    DISABLE_QUEUING = "disable_queuing"
    ENABLE_FALLBACK = "enable_fallback"
    DISABLE_FALLBACK = "disable_fallback"
    SCALE = "scale"
    ROLLBACK = "rollback"  # kubectl rollout undo: the template of an older revision


class FailureKind(StrEnum):
    AUTH_EXPIRED = "auth_expired"  # 401: "cluster credentials expired" + the re-auth hint for the context
    FORBIDDEN = "forbidden"  # 403 or a denied SelfSubjectAccessReview: escalate
    CONFLICT = "conflict"  # 409: the object changed since the plan (or a Lease race)
    REFUSED = "refused"  # the API server refused the change (dry run or apply: 400/422 …)
    NOT_FOUND = "not_found"  # (a rollback with no previous revision too)
    PAUSED = "paused"  # a paused deployment cannot be restarted (nor rolled back)
    READ_ONLY = "read_only"  # this cockpit / context never sends a mutating request
    LEASE_HELD = "lease_held"  # another cockpit is running an action on the deployment
    NOT_CONFIRMED = "not_confirmed"  # no valid confirmation for this plan
    INVALID_INPUT = "invalid_input"  # e.g. an empty key, a negative replica count
    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    SERVER_ERROR = "server_error"
    BAD_RESPONSE = "bad_response"
    CONFIG = "config"  # our own setup is wrong (e.g. no kubeconfig file): fix it, no retry helps
    VERIFY_FAILED = "verify_failed"  # applied, but the effect did not show (in time)


LEASE_SEP = ": lease "  # in a LEASE_HELD message, what comes before the lease's description


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a step did not happen: one line of message, one line of hint, no secret."""

    kind: FailureKind
    message: str
    hint: str = ""
    status_code: int | None = None
    lease: LeaseInfo | None = None  # LEASE_HELD: who holds it and since when

    def __post_init__(self) -> None:
        # by construction, as SourceError: whatever the server or the client library said, no credential stays
        object.__setattr__(self, "message", redact(self.message))
        object.__setattr__(self, "hint", redact(self.hint))

    def line(self, now: float | None = None) -> str:
        message = self.message_at(now) if now is not None else self.message
        return f"{message} — {self.hint}" if self.hint else message

    def message_at(self, now: float) -> str:
        """The message with a held lease's relative times ("35 s ago", "expires
        in 85 s") as of ``now``: drawn again as the clock ticks, never frozen
        at the moment of the failure."""
        if self.lease is None:
            return self.message
        head, sep, _ = self.message.partition(LEASE_SEP)
        return f"{head}{sep}{self.lease.describe(now)}" if sep else self.message

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind.value, "message": self.message, "hint": self.hint}
        if self.status_code is not None:
            out["status_code"] = self.status_code
        if self.lease is not None:
            out["lease"] = self.lease.to_dict()
        return out


class AdminError(Exception):
    """Raised inside the adapter and caught by the runner; ``str()`` is the
    failure's line (never a secret)."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.line())
        self.failure = failure


class SecretValue:
    """A secret (the Clay API key) that never shows itself: ``repr``/``str``
    give its fingerprint, it cannot be pickled, and :meth:`reveal` is the one
    way to the value (for the HTTP header or the Secret's data)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("SecretValue holds a str")
        self._value = value
        register(value, "clay api key")  # the one redactor knows it from now on (clay_cockpit.redact)

    def reveal(self) -> str:
        return self._value

    @property
    def fingerprint(self) -> str:
        return fingerprint(self._value)

    @property
    def empty(self) -> bool:
        return not self._value.strip()

    def __repr__(self) -> str:
        return f"SecretValue({self.fingerprint})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretValue):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def __reduce__(self) -> Any:
        raise TypeError("a SecretValue is not pickled")


# --------------------------------------------------------------------------
# What the plan shows


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field that will change: ``Secret clay-sync/clay-api`` ``data.api-key``
    ``sha256:…`` → ``sha256:…``. For a secret field, before/after are fingerprints."""

    object: str  # "Deployment clay-sync/clay-sync"
    field: str  # "spec.template.metadata.annotations[kubectl.kubernetes.io/restartedAt]"
    before: str  # "(unset)" when absent
    after: str
    secret: bool = False

    def line(self) -> str:
        return f"{self.object}: {self.field}: {self.before} → {self.after}"

    def to_dict(self) -> dict[str, Any]:
        return {"object": self.object, "field": self.field, "before": self.before, "after": self.after, "masked": self.secret}


@dataclass(frozen=True, slots=True)
class DryRun:
    """The server-side dry run (``dryRun=All``) of every mutation of a plan."""

    ok: bool
    summary: str  # "accepted by the API server (3 requests, dryRun=All)"
    failure: Failure | None = None
    skipped: str = ""  # why no dry run was sent (read-only mode, nothing to change)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "summary": self.summary,
            "skipped": self.skipped,
            "failure": self.failure.to_dict() if self.failure else None,
        }


@dataclass(frozen=True, slots=True)
class PermissionCheck:
    """One SelfSubjectAccessReview: may we ``verb`` ``resource``?"""

    verb: str
    resource: str  # "secrets", "deployments/scale", "leases"
    group: str = ""  # "" (core), "apps", "coordination.k8s.io"
    name: str = ""
    allowed: bool = False
    reason: str = ""

    @property
    def what(self) -> str:
        res = f"{self.resource}.{self.group}" if self.group else self.resource
        return f"{self.verb} {res}" + (f"/{self.name}" if self.name else "")

    def to_dict(self) -> dict[str, Any]:
        return {"what": self.what, "allowed": self.allowed, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class LeaseInfo:
    """A coordination.k8s.io/v1 Lease as a cockpit reads it."""

    name: str
    namespace: str
    holder: str  # "" when released
    acquired_at: float | None
    renewed_at: float | None
    duration: float  # leaseDurationSeconds
    transitions: int = 0
    resource_version: str = ""
    ours: bool = False

    @property
    def held(self) -> bool:
        return bool(self.holder)

    def expires_at(self) -> float | None:
        base = self.renewed_at if self.renewed_at is not None else self.acquired_at
        return None if base is None else base + self.duration

    def stale(self, now: float) -> bool:
        """Held, but not renewed within its duration: anyone may take it over."""
        expires = self.expires_at()
        return self.held and (expires is None or now > expires)

    def describe(self, now: float) -> str:
        """``held by ana@bastion-1+c0ffee since 10:42:03 UTC (35 s ago), renewed 5 s ago, expires in 85 s``."""
        if not self.held:
            return f"lease {self.name} is free"
        head = f"held by {self.holder}"
        if self.acquired_at is not None:
            head += f" since {_hms(self.acquired_at)} ({_ago(now - self.acquired_at)})"
        parts = [head]
        if self.renewed_at is not None:
            parts.append(f"renewed {_ago(now - self.renewed_at)}")
        expires = self.expires_at()
        if expires is not None:
            parts.append(
                f"stale since {_ago(now - expires)}" if now > expires else f"expires in {max(0, int(expires - now))} s unless renewed"
            )
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "holder": self.holder,
            "acquired_at": self.acquired_at,
            "renewed_at": self.renewed_at,
            "duration": self.duration,
            "transitions": self.transitions,
        }


def _hms(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%H:%M:%S UTC")


def _ago(seconds: float) -> str:
    s = int(max(0.0, seconds))
    return f"{s} s ago" if s < 120 else f"{s // 60} min ago"


class ProbeVerdict(StrEnum):
    VALID = "valid"  # 200
    INVALID = "invalid"  # 401/403: revoked or unknown key
    RATE_LIMITED = "rate_limited"  # 429: says nothing about the key
    CLAY_ERROR = "clay_error"  # 5xx: says nothing about the key
    UNREACHABLE = "unreachable"  # no answer (refused, DNS, TLS)
    TIMEOUT = "timeout"
    UNEXPECTED = "unexpected"  # another status


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """Clay's answer to a key on the probe URL. ``fingerprint`` names the key."""

    verdict: ProbeVerdict
    status_code: int | None
    meaning: str  # "200 OK: Clay accepts this key"
    fingerprint: str
    elapsed_ms: float = 0.0
    retry_after: float | None = None

    @property
    def valid(self) -> bool:
        return self.verdict is ProbeVerdict.VALID

    @property
    def conclusive(self) -> bool:
        """Does the answer say anything about the key itself?"""
        return self.verdict in (ProbeVerdict.VALID, ProbeVerdict.INVALID)

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "status_code": self.status_code,
            "meaning": self.meaning,
            "fingerprint": self.fingerprint,
            "elapsed_ms": round(self.elapsed_ms, 1),
        }


@dataclass(frozen=True, slots=True)
class Need:
    """A permission an action needs (checked with a SelfSubjectAccessReview)."""

    verb: str
    resource: str
    group: str = ""
    subresource: str = ""
    name: str = ""


# --------------------------------------------------------------------------
# Running it


class Stage(StrEnum):
    """Where a plan is on its path."""

    PLANNED = "planned"  # the changes are known (before → after)
    DRY_RUN = "dry_run"  # the server-side dry run answered (or was skipped)
    CHECKED = "checked"  # the permissions were checked: ready to confirm, or blocked


@dataclass(frozen=True, slots=True)
class Progress:
    """A step of a running action, for the pane (sent only when it changes)."""

    plan_id: str
    kind: ActionKind
    stage: str  # "lease", "apply", "verify", "release"
    message: str  # "2/3 new pods ready; 1 old pod still running"
    done: int | None = None
    total: int | None = None
    at: float = field(default_factory=time.time)


class VerifyState(StrEnum):
    OK = "ok"
    FAILED = "failed"  # the effect showed something wrong (a paused rollout, a refused key)
    TIMEOUT = "timeout"  # not in time: ``missing`` says what did not happen
    STOPPED = "stopped"  # the responder stopped following it
    SKIPPED = "skipped"  # nothing to follow (e.g. the flag takes effect at the next restart)


@dataclass(frozen=True, slots=True)
class Verification:
    state: VerifyState
    summary: str  # "3/3 new pods ready, old pods gone (41 s)"
    missing: tuple[str, ...] = ()  # what did not happen: "1 old pod still running: clay-sync-…"
    elapsed: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.state in (VerifyState.OK, VerifyState.SKIPPED)

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "summary": self.summary,
            "missing": list(self.missing),
            "elapsed": round(self.elapsed, 1),
            **self.details,
        }


# --------------------------------------------------------------------------
# The plan, the confirmation, the outcome


@dataclass(frozen=True, slots=True)
class Inputs:
    """What the responder typed for a plan; kept so a retry loses nothing."""

    deployment: str = ""
    new_key: SecretValue | None = None  # update_key; repr is the fingerprint
    replicas: int | None = None  # scale
    revision: int | None = None  # rollback: the revision to go back to (None: the previous one, as kubectl's default)


@dataclass(frozen=True, slots=True)
class Plan:
    """Exactly what an action will change, and how far it got on its path.

    Built by :meth:`clay_cockpit.actions.flow.ActionRunner.plan`, advanced by
    ``dry_run`` and ``check_permissions`` (each returns a new Plan). ``ready``:
    it may be confirmed. ``blocked``: why not (dry-run refusal, permission
    denied with the escalation contact, read-only, paused, expired credentials …).
    """

    id: str
    kind: ActionKind
    title: str  # "Restart deployment clay-sync"
    runbook: ActionId
    context: str
    namespace: str
    deployment: str
    mutating: bool
    changes: tuple[FieldChange, ...] = ()
    typed_confirmation: str = ""  # the text to type (the deployment name); "" when a plain confirm suffices
    replaces_pods: bool = False
    changes_secret: bool = False
    notes: tuple[str, ...] = ()  # what else to know: pods replaced, takes effect after a restart, the lease …
    probe: ProbeResult | None = None  # update_key: Clay's answer to the new key
    lease: LeaseInfo | None = None  # the deployment's lease when planned (held by another cockpit: see notes)
    dry_run: DryRun | None = None
    permissions: tuple[PermissionCheck, ...] = ()
    blocked: Failure | None = None
    stage: Stage = Stage.PLANNED
    read_only: bool = False
    created_at: float = 0.0
    inputs: Inputs = field(default_factory=Inputs)
    basis: tuple[tuple[str, Any], ...] = ()  # what the apply step relies on (resourceVersions, container …)

    @property
    def ready(self) -> bool:
        """Checked, not blocked: the confirm modal may offer Confirm."""
        return self.stage is Stage.CHECKED and self.blocked is None

    @property
    def denied(self) -> tuple[PermissionCheck, ...]:
        return tuple(p for p in self.permissions if not p.allowed)

    def base(self, key: str, default: Any = None) -> Any:
        return dict(self.basis).get(key, default)

    def lines(self) -> list[str]:
        """The plan as the modal shows it, one line each."""
        out = [f"{self.title}", f"context {self.context}, namespace {self.namespace}"]
        out += [c.line() for c in self.changes]
        if self.dry_run is not None:
            out.append(f"dry run: {self.dry_run.summary}")
        if self.permissions:
            out.append("permissions: " + ("all allowed" if not self.denied else "denied: " + ", ".join(p.what for p in self.denied)))
        out += list(self.notes)
        if self.blocked is not None:
            out.append(f"blocked: {self.blocked.line()}")
        return out

    def to_record(self) -> dict[str, Any]:
        """For the timeline: secrets only as fingerprints."""
        return {
            "plan_id": self.id,
            "action": self.kind.value,
            "runbook": self.runbook.value,
            "title": self.title,
            "context": self.context,
            "namespace": self.namespace,
            "deployment": self.deployment,
            "changes": [c.to_dict() for c in self.changes],
            "notes": list(self.notes),
            "dry_run": self.dry_run.to_dict() if self.dry_run else None,
            "permissions": [p.to_dict() for p in self.permissions],
            "probe": self.probe.to_dict() if self.probe else None,
            "blocked": self.blocked.to_dict() if self.blocked else None,
            "read_only": self.read_only,
        }


@dataclass(frozen=True, slots=True)
class Confirmation:
    """The responder confirmed ``plan``: only :meth:`ActionRunner.confirm`
    makes a valid one (the runner checks ``token`` and uses it once)."""

    plan: Plan
    confirmed_by: str
    confirmed_at: float
    typed: bool  # the deployment name was typed
    token: str = field(repr=False, default="")
    watching: str = ""  # the symptom it should end ("401s"): then its end is reported as "rollout done — watching 401s", never "done"


@dataclass(frozen=True, slots=True)
class Outcome:
    """How an action ended. ``applied``: something changed in the cluster.
    ``offer``: the follow-up to offer (restart after a key update).
    ``retry``: nothing changed and the failure may pass (expired credentials,
    a held lease, a timeout): apply this confirmation again after fixing it.
    ``can_follow_again``: the change is applied but its effect was not seen
    (timeout, stopped, credentials expired while following)."""

    plan: Plan
    ok: bool
    applied: bool
    summary: str
    failure: Failure | None = None
    verification: Verification | None = None
    probe: ProbeResult | None = None
    offer: ActionKind | None = None
    retry: Confirmation | None = None
    recorded: bool = False  # on the incident's timeline
    notes: tuple[str, ...] = ()
    can_follow_again: bool = False  # applied, not verified: ActionRunner.follow_again(outcome) looks again
    old_pods: frozenset[str] = frozenset()  # the pods before the change (a rollout replaces them; the symptom is judged on the others)
    watching: str = ""  # as in the Confirmation: the symptom followed next (the desk reports its end)
