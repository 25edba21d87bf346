"""The immutable snapshot types every pane and the triage read.

Sources (``cockpit/sources/``) produce these; widgets render them; ``triage``
reasons about them. Nothing here does I/O or imports Textual.

A source call returns either its snapshot type or a :class:`SourceError`.
The app keeps, per source, a :class:`Reading`: the last good value plus the
latest error, so a pane can keep showing last good data marked stale.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Generic, TypeVar

from clay_cockpit.redact import redact


class ErrorKind(StrEnum):
    """What went wrong talking to an outside system."""

    UNREACHABLE = "unreachable"  # connection refused / DNS / reset
    TIMEOUT = "timeout"  # no answer within the configured timeout
    AUTH_EXPIRED = "auth_expired"  # 401: credentials missing, expired or revoked
    FORBIDDEN = "forbidden"  # 403: authenticated but not allowed
    RATE_LIMITED = "rate_limited"  # 429
    SERVER_ERROR = "server_error"  # 5xx
    BAD_RESPONSE = "bad_response"  # answered, but not in a form we understand
    CONFIG = "config"  # our own setup is wrong before any request (e.g. no kubeconfig file): fix it, no retry helps
    STALLED = "stalled"  # connected, but a stream that should be sending sends nothing (a stuck log follow)


@dataclass(frozen=True, slots=True)
class SourceError:
    """A named failure of one source, with a one-line hint for a human.

    ``message`` and ``hint`` never contain a secret (token, API key).
    """

    source: str  # "statuspage", "health", "metrics", "kube", "logs", "slack", ...
    kind: ErrorKind
    message: str  # what happened, one line: "connection refused by 127.0.0.1:9090"
    hint: str  # what to do: "run `kubectl --context prod get pods` to re-authenticate"
    at: float = field(default_factory=time.time)  # epoch seconds
    status_code: int | None = None  # HTTP status, when there was one
    retry_after: float | None = None  # seconds, when the server said so

    def __post_init__(self) -> None:
        # by construction: whatever a source put in, no known credential or token-looking text stays
        object.__setattr__(self, "message", redact(self.message))
        object.__setattr__(self, "hint", redact(self.hint))

    def line(self) -> str:
        """One line for a pane, a log or `clay-cockpit check`."""
        return f"{self.kind.value}: {self.message} — {self.hint}"


# --------------------------------------------------------------------------
# Clay status page (Statuspage v2 or Rootly)


class ComponentStatus(StrEnum):
    OPERATIONAL = "operational"
    DEGRADED = "degraded_performance"
    PARTIAL_OUTAGE = "partial_outage"
    MAJOR_OUTAGE = "major_outage"
    MAINTENANCE = "under_maintenance"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: object) -> ComponentStatus:
        try:
            return cls(str(value))
        except ValueError:
            return cls.UNKNOWN


@dataclass(frozen=True, slots=True)
class Component:
    name: str
    status: ComponentStatus
    group: str | None = None  # group name, when the page groups components


@dataclass(frozen=True, slots=True)
class StatusIncident:
    """An unresolved incident on the status page, with its latest update."""

    id: str
    name: str
    status: str  # investigating / identified / monitoring / ...
    impact: str  # none / minor / major / critical / maintenance
    started_at: datetime | None
    updated_at: datetime | None
    latest_update: str  # the body of the newest update ("" when none)
    latest_update_at: datetime | None
    url: str | None = None
    components: tuple[str, ...] = ()  # names of affected components


@dataclass(frozen=True, slots=True)
class StatusPageSnapshot:
    provider: str  # "statuspage" or "rootly"
    page_name: str
    page_url: str
    indicator: str  # none / minor / major / critical / maintenance
    description: str  # "All Systems Operational", "Partial System Outage", ...
    components: tuple[Component, ...]
    incidents: tuple[StatusIncident, ...]  # unresolved only
    fetched_at: float
    response_ms: float


# --------------------------------------------------------------------------
# Our integration health endpoint


@dataclass(frozen=True, slots=True)
class HealthCheck:
    name: str
    status: str  # ok / degraded / fail (as the endpoint says it, lower-cased)
    detail: str = ""
    ok: bool = True


@dataclass(frozen=True, slots=True)
class HealthSnapshot:
    status: str  # ok / degraded / down (normalised)
    healthy: bool
    checks: tuple[HealthCheck, ...]
    http_status: int
    response_ms: float
    fetched_at: float
    version: str | None = None


# --------------------------------------------------------------------------
# Prometheus


@dataclass(frozen=True, slots=True)
class Series:
    """One time series of a configured query, e.g. Clay errors with code=429.

    ``key`` is stable across refreshes ("errors_by_code:429"), ``query`` names
    the configured query ("errors_by_code"), ``labels`` are the split labels.
    ``points`` are (epoch seconds, value) oldest first, already scaled to
    ``unit``; ``current`` is the instant value (None when Prometheus had none).
    """

    key: str
    query: str
    label: str  # for humans: "Clay 429/s"
    unit: str  # "req/s", "ms", "%"
    labels: tuple[tuple[str, str], ...]
    current: float | None
    points: tuple[tuple[float, float], ...] = ()

    def label_value(self, name: str) -> str | None:
        for k, v in self.labels:
            if k == name:
                return v
        return None


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    series: tuple[Series, ...]
    served_by: str  # URL of the Prometheus that answered
    is_backup: bool  # True when the primary failed and a backup answered
    fetched_at: float
    response_ms: float
    # why the primary (and any earlier backups) were skipped, for the pane
    failovers: tuple[SourceError, ...] = ()
    # configured queries that returned no series: (query name, its label), so the
    # pane keeps a "no data" row for each rather than dropping it silently
    no_data: tuple[tuple[str, str], ...] = ()

    def by_query(self, query: str) -> tuple[Series, ...]:
        return tuple(s for s in self.series if s.query == query)


# --------------------------------------------------------------------------
# Kubernetes


@dataclass(frozen=True, slots=True)
class PodInfo:
    name: str
    phase: str  # Pending / Running / Succeeded / Failed / Unknown
    ready: int  # ready containers
    containers: int  # all containers
    restarts: int
    status: str  # what kubectl's STATUS column would say: Running, CrashLoopBackOff, OOMKilled, Terminating, ...
    last_termination: str | None  # lastState.terminated.reason: OOMKilled, Error, Completed, ...
    created_at: datetime | None
    owner: str | None  # "ReplicaSet/clay-sync-7d9f8c6b5"
    node: str | None = None

    @property
    def is_ready(self) -> bool:
        return self.containers > 0 and self.ready == self.containers


@dataclass(frozen=True, slots=True)
class PodsSnapshot:
    context: str
    namespace: str
    selector: str
    pods: tuple[PodInfo, ...]
    fetched_at: float
    response_ms: float


@dataclass(frozen=True, slots=True)
class LogLine:
    pod: str
    text: str  # without the timestamp prefix the API adds with timestamps=true
    ts: datetime | None = None
    container: str | None = None


# --------------------------------------------------------------------------
# What the app keeps per source

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Reading(Generic[T]):
    """Last good value of one source plus its current failure, if any.

    ``value`` is never dropped by a failure: a pane shows it marked stale.
    """

    value: T | None = None
    error: SourceError | None = None
    updated_at: float | None = None  # when ``value`` was fetched
    checked_at: float | None = None  # when the source was last asked

    @property
    def stale(self) -> bool:
        return self.error is not None and self.value is not None

    @property
    def ok(self) -> bool:
        return self.value is not None and self.error is None

    def age(self, now: float) -> float | None:
        return None if self.updated_at is None else max(0.0, now - self.updated_at)

    def with_result(self, result: T | SourceError, now: float) -> Reading[T]:
        if isinstance(result, SourceError):
            return replace(self, error=result, checked_at=now)
        return Reading(value=result, error=None, updated_at=now, checked_at=now)


@dataclass(frozen=True, slots=True)
class InEffect:
    """A mitigation the cockpit knows is in place, read from the cluster
    (a flag in the ConfigMap or on the pod template) or recorded on the
    timeline (a key update whose symptom ended). Triage shows the runbook
    action it carries out as done, never as the next key.

    ``action`` is a :class:`clay_cockpit.runbook.ActionId` value
    ("enable_queuing", "enable_fallback", "update_key", "restart").
    """

    action: str
    detail: str  # one line: "CLAY_REQUEST_QUEUING=true in ConfigMap clay-sync-flags"
    since: float | None = None  # epoch seconds, when known


@dataclass(frozen=True, slots=True)
class Signals:
    """Everything the cockpit currently knows: what triage reads."""

    statuspage: Reading[StatusPageSnapshot] = Reading()
    health: Reading[HealthSnapshot] = Reading()
    metrics: Reading[MetricsSnapshot] = Reading()
    pods: Reading[PodsSnapshot] = Reading()
    recent_logs: tuple[LogLine, ...] = ()  # bounded: the newest few hundred lines
    logs_stale: SourceError | None = None  # the log follow's failure while no line came since: recent_logs are old
    in_effect: tuple[InEffect, ...] = ()  # mitigations in place (the actions desk reads them from the cluster)
    at: float = 0.0
