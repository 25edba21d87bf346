"""The immutable snapshot types every pane and the triage read.

Sources (``cockpit/sources/``) produce these; widgets render them; ``triage``
reasons about them. Nothing here does I/O or imports Textual.

A source call returns either its snapshot type or a :class:`SourceError`.
The app keeps, per source, a :class:`Reading`: the last good value plus the
latest error, so a pane can keep showing last good data marked stale.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
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
    # status.reason and status.message of the pod itself (not a container's): "Evicted" and
    # the kubelet's words ("The node was low on resource: memory. …") for an evicted pod
    reason: str | None = None
    message: str = ""
    finished_at: datetime | None = None  # when a Failed/Succeeded pod ended (evicted: the kubelet's DisruptionTarget time)
    last_restart_at: datetime | None = None  # the latest container end behind ``restarts`` (kubectl's "3 (2m ago)")

    @property
    def finished(self) -> bool:
        """Ended for good: phase Failed or Succeeded (evicted, shut down with its node, rejected
        by the kubelet at admission). Its ReplicaSet no longer counts it and starts a replacement
        (kube's ``controller.FilterActivePods``): not one of the replicas wanted. Nor is it
        crashing — a Deployment's containers restart in place (``restartPolicy: Always``), so a
        crash is a restart of a Running pod, never a Failed one."""
        return self.phase in ("Failed", "Succeeded")

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
    # kept by listing every kube.refresh because the watch is refused (issue 15): why, and what to ask for
    listed_instead: SourceError | None = None


@dataclass(frozen=True, slots=True)
class LogLine:
    pod: str
    text: str  # without the timestamp prefix the API adds with timestamps=true
    ts: datetime | None = None
    container: str | None = None
    # the text with its ANSI colour (SGR) sequences kept, when it had any
    # (sanitise.clean_line_colour; only the logs pane decodes it); text never has them
    styled: str | None = None
    # what the logs pane computes to show the line (widgets.logs.Shown), computed once off the
    # UI thread by the follow (issue 15: 10,000 lines/s); not part of the line's value
    prepared: object = field(default=None, compare=False, repr=False)


MAX_DROP_PODS = 256  # pods whose dropped lines are counted by name; the rest under OTHER_PODS
OTHER_PODS = "(other pods)"


def count_drops(counts: dict[str, int], pod: str, n: int = 1) -> None:
    """Add ``n`` lines of ``pod`` dropped to ``counts``, bounded: past
    ``MAX_DROP_PODS`` names the smallest count is folded into ``OTHER_PODS``
    (counted still, no longer by name)."""
    if n <= 0:
        return
    counts[pod] = counts.get(pod, 0) + n
    while len(counts) > MAX_DROP_PODS:
        smallest = min((k for k in counts if k != OTHER_PODS), key=lambda k: counts[k])
        counts[OTHER_PODS] = counts.get(OTHER_PODS, 0) + counts.pop(smallest)


@dataclass(frozen=True, slots=True)
class LogFollowState:
    """What the log follow covers: how many pods it follows of how many,
    which it favours (troubled pods are followed first) and the lines it
    dropped, per pod, since it began (nothing is lost without being counted)."""

    pods: int  # the selector's pods with a log to follow (a finished pod read to its end is not one)
    followed: tuple[str, ...] = ()  # pods with an open stream now
    favoured: tuple[tuple[str, str], ...] = ()  # (pod, why) followed first: "CrashLoopBackOff", "not ready", "new", …
    dropped: tuple[tuple[str, int], ...] = ()  # (pod, lines dropped), most first

    @property
    def dropped_total(self) -> int:
        return sum(n for _, n in self.dropped)

    @property
    def all_followed(self) -> bool:
        return len(self.followed) >= self.pods

    def with_drops(self, more: dict[str, int]) -> LogFollowState:
        """This state with ``more`` dropped lines per pod added."""
        if not any(more.values()):
            return self
        total = dict(self.dropped)
        for pod, n in more.items():
            count_drops(total, pod, n)
        return replace(self, dropped=tuple(sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))))


class LogLines(tuple[LogLine, ...]):
    """A batch of log lines, with the follow's :class:`LogFollowState` as it
    was when the batch was sent (None from a source that does not tell).
    A tuple, so everything that takes a batch of lines takes it."""

    state: LogFollowState | None

    def __new__(cls, lines: Iterable[LogLine] = (), state: LogFollowState | None = None) -> LogLines:
        batch = super().__new__(cls, lines)
        batch.state = state
        return batch


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
    infra: Reading[InfraSnapshot] = Reading()  # events, nodes and what changed (issue 14)
    pagerduty: Reading[PagerDutySnapshot] = Reading()  # the open pages (issue 16); triage does not read them
    at: float = 0.0


# --------------------------------------------------------------------------
# Infrastructure (issue 14): what Kubernetes says about our workload (Warning
# events), the nodes our pods run on, and what changed (rollout history,
# ConfigMaps and Secrets). One source (``infra``) fills an InfraSnapshot.


@dataclass(frozen=True, slots=True)
class KubeEvent:
    """A Warning event about our deployment, its ReplicaSets, its pods or their
    nodes, deduplicated: one per (object, reason, message), counts summed."""

    kind: str  # the involved object's kind: Deployment, ReplicaSet, Pod, Node
    name: str  # the involved object's name
    reason: str  # BackOff, Unhealthy, FailedScheduling, OOMKilling, Evicted, FailedMount, Failed, ...
    message: str  # whole, as the API has it: a pane cuts it when drawing, never here
    count: int  # occurrences (the API's count/series.count, summed over duplicates)
    first_seen: float | None  # epoch seconds
    last_seen: float | None  # epoch seconds: the newest occurrence
    type: str = "Warning"
    source: str = ""  # the reporting component (and host): "kubelet, node-2", "default-scheduler"
    field_path: str = ""  # involvedObject.fieldPath: "spec.containers{app}"


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """A node that runs (or ran, in this snapshot) one of our pods."""

    name: str
    ready: bool | None  # the Ready condition; None when the node does not say (Unknown)
    pressure: tuple[str, ...]  # conditions that are True: MemoryPressure, DiskPressure, PIDPressure, NetworkUnavailable
    unschedulable: bool  # cordoned (spec.unschedulable)
    pods: tuple[str, ...]  # our pods on it, by name
    since: float | None = None  # lastTransitionTime of the Ready condition, epoch seconds
    message: str = ""  # the message of the first bad condition (NotReady or a pressure), whole


@dataclass(frozen=True, slots=True)
class Revision:
    """One entry of the deployment's rollout history (one ReplicaSet)."""

    number: int  # deployment.kubernetes.io/revision
    replicaset: str
    created_at: float | None  # the ReplicaSet's creationTimestamp, epoch seconds
    images: tuple[tuple[str, str], ...]  # (container, image) of its pod template
    replicas: int = 0  # the ReplicaSet's current replicas (status.replicas)
    change_cause: str = ""  # kubernetes.io/change-cause, when set
    current: bool = False  # the revision the deployment's template is at now


@dataclass(frozen=True, slots=True)
class Change:
    """One thing that changed, for the "what changed?" list."""

    at: float | None  # epoch seconds, when known
    what: str  # "rollout", "configmap", "secret", "action"
    summary: str  # one line, whole: "rollout to clay-sync:1.14.3 (revision 7)"
    detail: tuple[str, ...] = ()  # differences, one per line: "image app: 1.14.2 → 1.14.3", "env CLAY_TIMEOUT_MS: 2000 → 500"
    by: str = ""  # who made it, when the cluster says (the deployment's newest managedFields manager): "kubectl-rollout", "helm"


@dataclass(frozen=True, slots=True)
class InfraSnapshot:
    deployment: str  # the deployment the cockpit watches
    events: tuple[KubeEvent, ...]  # newest first (by last_seen), deduplicated, bounded
    nodes: tuple[NodeInfo, ...]  # by name
    revisions: tuple[Revision, ...]  # newest first
    changes: tuple[Change, ...]  # newest first: rollouts and ConfigMap/Secret changes the cluster shows
    fetched_at: float
    response_ms: float = 0.0
    events_watched_since: float | None = None  # when the event watch (re)started: older events come from its initial list
    # the parts that could not be read (nodes forbidden, the event watch failing …), each named with
    # its kind and a hint (source "infra"); what is shown is true but incomplete while this is not empty
    missing: tuple[SourceError, ...] = ()


# --------------------------------------------------------------------------
# PagerDuty (issue 16)


@dataclass(frozen=True)
class PagerDutyIncident:
    """One PagerDuty incident, as the REST API v2 lists it."""

    id: str
    number: int
    title: str
    status: str  # triggered / acknowledged / resolved
    urgency: str  # high / low
    service: str  # service name
    assignees: tuple[str, ...]  # user names
    created_at: datetime
    html_url: str
    acknowledged_at: datetime | None = None
    escalation_policy: str = ""
    incident_key: str | None = None


@dataclass(frozen=True)
class PagerDutySnapshot:
    # triggered and acknowledged incidents of the configured services (+ the escalation target's service), newest first
    incidents: tuple[PagerDutyIncident, ...]
    fetched_at: float
    response_ms: float


@dataclass(frozen=True)
class PageTimeline:
    """A PagerDuty incident's page, from its log entries: for the postmortem."""

    incident_id: str
    triggered_at: datetime | None
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    notes: int = 0
