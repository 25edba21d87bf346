"""Scenario files (config/scenarios/*.toml) → frozen dataclasses.

Validated with the same machinery as the cockpit's config
(:func:`clay_cockpit.config_build.build`), so every mistake is one
:class:`~clay_cockpit.config.ConfigError` line naming the file, the key, what was
expected and what was found. ``[[faults]]`` entries are validated per kind:
each kind has its own dataclass, so a key that belongs to another kind is an
unknown key, and an unknown kind is named.

Light on purpose (tomllib + dataclasses): the demo validates the scenario
before the first frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from clay_cockpit.cli_common import LOG_RATE_MAX
from clay_cockpit.config import data_path
from clay_cockpit.config_build import _describe, build, opt, parse_toml, read_text_file
from clay_cockpit.paths import ConfigError

# Clay's public status page, as the drill serves it: (name, group). The group
# itself is a component too (Statuspage lists groups with ``group: true``).
CLAY_COMPONENTS: tuple[tuple[str, str | None], ...] = (
    ("API", None),
    ("People enrichment", "Enrichment"),
    ("Company enrichment", "Enrichment"),
    ("Webhooks", None),
    ("Web app", None),
)
CLAY_GROUPS = ("Enrichment",)

BRANCHES = ("clay_incident", "credentials", "infrastructure", "healthy")
SEVERITIES = ("P1", "P2", "P3", "P4", "none")
IMPACTS = ("none", "minor", "major", "critical")
COMPONENT_STATUSES = ("degraded_performance", "partial_outage", "major_outage")
ENDPOINTS = ("/v1/people/enrich", "/v1/companies/enrich", "/v1/tables/rows")
CONFIDENCES = ("high", "medium", "low")
# drill services a scenario may stop (the Kubernetes API has its own faults: kube_token_expired, kube_denied)
STOPPABLE = (
    "statuspage",
    "rootly",
    "health",
    "prometheus",
    "prometheus_backup",
    "metrics",
    "clay",
    "slack",
    "statusapi",
    "pagerduty",
    "grafana",
)
# what a pane shows: "ok", "backup" (metrics: the primary failed, a backup serves) or the failure it names
PANE_STATES = ("ok", "backup", "unreachable", "timeout", "auth_expired", "forbidden", "rate_limited", "server_error", "bad_response")
ACTIONS = ("update_key", "restart", "enable_queuing", "enable_fallback", "scale")
ACTION_FAILURES = ("auth_expired", "forbidden")
LOG_FORMATS = ("logfmt", "json")  # clay_cockpit.sim.podlog writes them
MAX_REPLICAS = 500  # the fleet scenario's; the drill's cluster serves that many pods


def _pane(doc: str) -> Any:
    return opt("", doc + " (" + " | ".join(PANE_STATES) + "; left out: not checked)", choices=PANE_STATES)


@dataclass(frozen=True, kw_only=True)
class ExpectPanes:
    """What each signal pane shows once the fault runs."""

    statuspage: str = _pane("Clay status pane")
    health: str = _pane("Health pane")
    metrics: str = _pane("Error-rates pane")
    pods: str = _pane("Pods pane")
    logs: str = _pane("Pod logs pane")

    def items(self) -> list[tuple[str, str]]:
        return [(name, getattr(self, name)) for name in ("statuspage", "health", "metrics", "pods", "logs") if getattr(self, name)]


@dataclass(frozen=True, kw_only=True)
class ExpectAction:
    """The runbook action the drill is about, and how it goes."""

    kind: str = opt(doc="The action the responder runs", choices=ACTIONS)
    fails: str = opt(
        "",
        "How it fails first: auth_expired (cluster credentials expired) or forbidden (permission denied → escalate); left out: it succeeds",
        choices=ACTION_FAILURES,
    )
    retry: bool = opt(False, "After the responder's fix (log in again), g retries it and it applies")
    says: tuple[str, ...] = opt(doc="Words the actions pane shows when it fails", factory=tuple)


@dataclass(frozen=True, kw_only=True)
class Expect:
    branch: str = opt(doc="Where triage should land once the fault runs", choices=BRANCHES)
    severity: str = opt(doc="Severity triage should suggest", choices=SEVERITIES)
    codes: tuple[int, ...] = opt(doc="Clay HTTP status codes the responder should see", factory=tuple)
    confidence: str = opt("high", "How sure triage should be (low while a source it needs is down)", choices=CONFIDENCES)
    panes: ExpectPanes = opt(factory=ExpectPanes, doc="What each signal pane shows")
    says: tuple[str, ...] = opt(doc="Words the cockpit's signal panes show once the fault runs", factory=tuple)
    action: ExpectAction | None = opt(None, "The action the drill is about, and how it goes")


@dataclass(frozen=True, kw_only=True)
class ServiceModel:
    replicas: int = opt(3, "Pods of the deployment", kind="count", low=1, high=MAX_REPLICAS)
    request_rate: float = opt(40.0, "Clay calls per second across all pods", kind="duration", high=10_000)
    latency_p50_ms: float = opt(120.0, "Median Clay latency when healthy, ms", kind="duration", high=600_000)
    latency_p95_ms: float = opt(350.0, "p95 Clay latency when healthy, ms", kind="duration", high=600_000)
    # pods with an init container and a native sidecar, as kubectl shows them
    sidecars: bool = opt(False, "Pods run an init container (a migration) and a native sidecar (a log shipper)")
    log_format: str = opt("logfmt", "How our service logs: logfmt (level=info msg=...) or json (one object per line)", choices=LOG_FORMATS)
    log_colour: bool = opt(False, "ANSI colour (SGR) around the level word, as a console logger with colours forced writes it")


@dataclass(frozen=True, kw_only=True)
class LogVolume:
    """How much our pods log."""

    rate: int = opt(
        0,
        "Lines per second across all pods, every Clay call logged (unsampled); 0: sampled, at most 2 lines per pod-second",
        kind="count",
        low=0,
        high=LOG_RATE_MAX,
    )


@dataclass(frozen=True, kw_only=True)
class IncidentSpec:
    """What Clay posts on its status page about a fault."""

    name: str = opt(doc="Incident title on Clay's status page")
    impact: str = opt("major", "Incident impact", choices=IMPACTS)
    components: tuple[str, ...] = opt(doc="Affected Clay components (names)", factory=lambda: ("API",))
    component_status: str = opt("major_outage", "Status of the affected components", choices=COMPONENT_STATUSES)
    post_after: float = opt(8.0, "Seconds after the fault starts until Clay posts it", low=0, high=604800)
    identified_after: float = opt(240.0, "Seconds after the fault starts until the 'identified' update", low=0, high=604800)
    resolve_after: float = opt(300.0, "Seconds of 'monitoring' after the fault ends until 'resolved'", low=0, high=604800)
    investigating: str = opt("We are investigating elevated error rates on the Clay API.", "Body of the first update")
    identified: str = opt("The issue has been identified and a fix is being implemented.", "Body of the identified update")
    monitoring: str = opt("A fix has been implemented and we are monitoring the results.", "Body of the monitoring update")
    resolved: str = opt("This incident has been resolved.", "Body of the resolved update")


@dataclass(frozen=True, kw_only=True)
class Fault:
    kind: str = opt(doc="Fault kind")
    start: float = opt(20.0, "Scenario seconds when the fault starts", low=0, high=604800)
    end: float = opt(0.0, "Scenario seconds when it ends; 0: until fixed / forever", low=0, high=604800)

    def active(self, t: float) -> bool:
        return t >= self.start and (self.end <= 0 or t < self.end)


@dataclass(frozen=True, kw_only=True)
class ClayOutage(Fault):
    error_ratio: float = opt(0.85, "Share of calls to the affected endpoints that fail")
    codes: tuple[int, ...] = opt(doc="Failure status codes", factory=lambda: (503, 500, 504))
    weights: tuple[float, ...] = opt(doc="Relative weight of each code", factory=lambda: (0.6, 0.25, 0.15))
    endpoints: tuple[str, ...] = opt(doc="Affected endpoints (empty: all)", factory=tuple)
    fallback_call_ratio: float = opt(0.05, "With fallback on, share of calls still sent to failing endpoints")
    incident: IncidentSpec | None = opt(None, "Clay's status page incident for it")


@dataclass(frozen=True, kw_only=True)
class RateLimited(Fault):
    ratio: float = opt(0.45, "Share of calls answered 429")
    limit: int = opt(600, "x-ratelimit-limit Clay reports", kind="count")
    window: float = opt(60.0, "Rate-limit window, seconds (x-ratelimit-reset counts down to its end)", kind="duration", high=86400)
    queued_ratio: float = opt(0.01, "Share answered 429 once request queuing is on")
    queued_latency_ms: float = opt(180.0, "Latency the queue adds once queuing is on, ms", low=0, high=600_000)


@dataclass(frozen=True, kw_only=True)
class KeyRevoked(Fault):
    status: int = opt(401, "Status Clay answers a revoked key with (401 or 403)")


@dataclass(frozen=True, kw_only=True)
class Crashloop(Fault):
    after: float = opt(25.0, "Seconds a pod runs under the fault before it is OOMKilled", kind="duration", high=86400)
    jitter: float = opt(6.0, "Up to this many seconds more, per pod and restart", low=0, high=86400)
    reason: str = opt("OOMKilled", "Termination reason")
    exit_code: int = opt(137, "Container exit code")
    memory_limit_mb: int = opt(512, "Container memory limit shown in the warnings", kind="count")
    image: str = opt(
        "",
        "Only pods running this image tag leak (the release that brought the leak: rolling back to another one stops it); empty: every pod",
    )

    def affects(self, image: str) -> bool:
        return not self.image or image.rsplit(":", 1)[-1] == self.image


@dataclass(frozen=True, kw_only=True)
class BadRelease(Fault):
    """CI rolls out a broken image tag at ``start`` (a real template change the
    deployment controller rolls out). Its pods start, pass their readiness probe and
    call Clay fine, but fail every sync job for a reason of our own: health down, the
    error in their logs. Rolling back (``kubectl rollout undo``) fixes it."""

    image: str = opt("1.14.3", "The image tag CI rolls out (the deployment's registry and name stay)")
    cause: str = opt("ci: deploy clay-sync 1.14.3 (pipeline #4812)", "The rollout's kubernetes.io/change-cause")
    manager: str = opt("ci-deploy", "The CI's field manager (managedFields)")
    error: str = opt(
        "write rows: encode enrichment result: json: unsupported value: NaN",
        "What the broken release logs for every job it fails",
    )

    def affects(self, image: str) -> bool:
        return image.rsplit(":", 1)[-1] == self.image


@dataclass(frozen=True, kw_only=True)
class NodePressure(Fault):
    """One node comes under memory pressure at ``start``: MemoryPressure True, the
    memory-pressure NoSchedule taint, and its kubelet evicts our pods there one by
    one (their ReplicaSet replaces them on the other nodes). At ``end`` the pressure
    is over."""

    node: str = opt("", "The node (drill-node-1, -2 or -3); empty: the one running most of our pods at start")
    evict_after: float = opt(5.0, "Seconds after start until the kubelet evicts the first pod", low=0, high=86400)
    evict_every: float = opt(10.0, "Seconds between evictions (the kubelet evicts one pod per housekeeping)", kind="duration", high=86400)
    available_mi: int = opt(
        85, "Memory the node has left (MiB) as the eviction messages say; the threshold is 100Mi", kind="count", low=1, high=99
    )
    not_ready_after: float = opt(
        0.0, "Seconds after start when the node's kubelet stops (NotReady 40 s later); 0: never", low=0, high=604800
    )


@dataclass(frozen=True, kw_only=True)
class Latency(Fault):
    p50_ms: float = opt(900.0, "Median Clay latency during the fault, ms", kind="duration", high=600_000)
    p95_ms: float = opt(2500.0, "p95 Clay latency during the fault, ms", kind="duration", high=600_000)
    timeout_ratio: float = opt(0.02, "Share of calls that time out (504)")
    incident: IncidentSpec | None = opt(None, "Clay's status page incident for it")


@dataclass(frozen=True, kw_only=True)
class ServiceDown(Fault):
    """One of the drill's services stops answering (its listener closes:
    connection refused), and answers again at ``end``."""

    service: str = opt(doc="The drill service that goes down", choices=STOPPABLE)


@dataclass(frozen=True, kw_only=True)
class KubeTokenExpired(Fault):
    """The responder's cluster credentials expire: every Kubernetes API
    request is refused with 401 until the responder logs in again
    (``clay-cockpit sim --login``: a new token in the kubeconfig)."""

    at_write: bool = opt(False, "Expire at the responder's first write to the cluster after start (an action's apply), not at start")


@dataclass(frozen=True, kw_only=True)
class KubeDenied(Fault):
    """RBAC refuses the responder a verb on a resource (403, and
    SelfSubjectAccessReview says not allowed)."""

    verb: str = opt(doc="The verb refused: get, list, watch, create, update, patch, delete or *")
    resource: str = opt(doc="The resource: secrets, configmaps, deployments, deployments/scale, pods/log, leases or *")


FAULT_KINDS: dict[str, type[Fault]] = {
    "clay_outage": ClayOutage,
    "rate_limited": RateLimited,
    "key_revoked": KeyRevoked,
    "crashloop": Crashloop,
    "bad_release": BadRelease,
    "node_pressure": NodePressure,
    "latency": Latency,
    "service_down": ServiceDown,
    "kube_token_expired": KubeTokenExpired,
    "kube_denied": KubeDenied,
}
# faults in the responder's way (their credentials, their permissions), not what the incident is about
OBSTACLES = (KubeTokenExpired, KubeDenied)
VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "*")
NODES = ("drill-node-1", "drill-node-2", "drill-node-3")  # the drill cluster's nodes (cockpit/sim/kube/api.py)
TAG_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


@dataclass(frozen=True, kw_only=True)
class Scenario:
    name: str = opt(doc="Scenario name")
    title: str = opt(doc="One line shown to the responder")
    summary: str = opt(doc="One or two sentences a responder reads before the drill")
    expect: Expect = opt(doc="What triage should conclude")
    service: ServiceModel = opt(factory=ServiceModel, doc="Our service's normal traffic")
    logs: LogVolume = opt(factory=LogVolume, doc="How much our pods log")
    faults: tuple[Fault, ...] = opt(factory=tuple, doc="What goes wrong, and when")
    source: str = field(default="", metadata={"internal": True})  # the file it came from

    def active_faults(self, t: float) -> tuple[Fault, ...]:
        return tuple(f for f in self.faults if f.active(t))

    def fault_start(self) -> float | None:
        """Scenario seconds when the incident starts: the first fault that is
        not an obstacle (expired credentials, a denied permission); None if none."""
        return min((f.start for f in self.faults if not isinstance(f, OBSTACLES)), default=None)


# --------------------------------------------------------------------------
# Loading


def _ratio(value: float, file: str, key: str) -> None:
    if not 0.0 <= value <= 1.0:
        raise ConfigError(file, key, "a number between 0 and 1", _describe(value))


def _check_fault(fault: Fault, file: str, key: str) -> None:
    if fault.start < 0:
        raise ConfigError(file, f"{key}.start", "a number of seconds >= 0", _describe(fault.start))
    if fault.end != 0 and fault.end <= fault.start:
        raise ConfigError(file, f"{key}.end", f"0 or a number of seconds > start ({fault.start:g})", _describe(fault.end))
    if isinstance(fault, ClayOutage):
        _ratio(fault.error_ratio, file, f"{key}.error_ratio")
        _ratio(fault.fallback_call_ratio, file, f"{key}.fallback_call_ratio")
        if not fault.codes:
            raise ConfigError(file, f"{key}.codes", "at least one HTTP status code", "an empty array")
        for i, code in enumerate(fault.codes):
            if code not in (500, 502, 503, 504):
                raise ConfigError(file, f"{key}.codes[{i}]", "one of 500, 502, 503, 504", _describe(code))
        if len(fault.weights) != len(fault.codes):
            raise ConfigError(file, f"{key}.weights", f"{len(fault.codes)} numbers (one per code)", f"{len(fault.weights)}")
        if any(w < 0 for w in fault.weights) or sum(fault.weights) <= 0:
            raise ConfigError(file, f"{key}.weights", "numbers >= 0 with a positive sum", str(list(fault.weights)))
        for i, ep in enumerate(fault.endpoints):
            if ep not in ENDPOINTS:
                raise ConfigError(file, f"{key}.endpoints[{i}]", "one of " + ", ".join(ENDPOINTS), _describe(ep))
    elif isinstance(fault, RateLimited):
        _ratio(fault.ratio, file, f"{key}.ratio")
        _ratio(fault.queued_ratio, file, f"{key}.queued_ratio")
    elif isinstance(fault, KeyRevoked):
        if fault.status not in (401, 403):
            raise ConfigError(file, f"{key}.status", "401 or 403", _describe(fault.status))
    elif isinstance(fault, Latency):
        _ratio(fault.timeout_ratio, file, f"{key}.timeout_ratio")
        if fault.p95_ms <= fault.p50_ms:
            raise ConfigError(file, f"{key}.p95_ms", f"more than p50_ms ({fault.p50_ms:g})", _describe(fault.p95_ms))
    elif isinstance(fault, BadRelease):
        if not fault.image or len(fault.image) > 128 or not set(fault.image) <= TAG_CHARS or fault.image[0] in ".-":
            raise ConfigError(file, f"{key}.image", "an image tag like 1.14.3", _describe(fault.image))
        if fault.end:
            raise ConfigError(file, f"{key}.end", "0 (a release stays until it is rolled back)", _describe(fault.end))
        for name in ("cause", "manager", "error"):
            if not getattr(fault, name).strip():
                raise ConfigError(file, f"{key}.{name}", "a non-empty string", "an empty string")
    elif isinstance(fault, NodePressure):
        if fault.node and fault.node not in NODES:
            raise ConfigError(file, f"{key}.node", "one of " + ", ".join(NODES) + ' or "" (the busiest)', _describe(fault.node))
        if fault.not_ready_after and fault.end and fault.start + fault.not_ready_after >= fault.end:
            raise ConfigError(
                file, f"{key}.not_ready_after", f"less than end - start ({fault.end - fault.start:g})", _describe(fault.not_ready_after)
            )
    elif isinstance(fault, KubeDenied):
        if fault.verb not in VERBS:
            raise ConfigError(file, f"{key}.verb", "one of " + ", ".join(VERBS), _describe(fault.verb))
        if not fault.resource.strip() or " " in fault.resource:
            raise ConfigError(file, f"{key}.resource", "a resource name like secrets or deployments/scale", _describe(fault.resource))
    incident = getattr(fault, "incident", None)
    if incident is not None:
        names = {n for n, _ in CLAY_COMPONENTS}
        for i, comp in enumerate(incident.components):
            if comp not in names:
                raise ConfigError(file, f"{key}.incident.components[{i}]", "one of " + ", ".join(sorted(names)), _describe(comp))
        if not incident.components:
            raise ConfigError(file, f"{key}.incident.components", "at least one component name", "an empty array")


def _build_fault(item: object, file: str, key: str) -> Fault:
    if not isinstance(item, dict):
        raise ConfigError(file, key, "a table ([[faults]])", _describe(item))
    kind = item.get("kind")
    if kind is None:
        raise ConfigError(file, f"{key}.kind", "a fault kind (" + ", ".join(FAULT_KINDS) + ")", "nothing (missing required key)")
    if kind not in FAULT_KINDS:
        raise ConfigError(file, f"{key}.kind", "one of " + ", ".join(FAULT_KINDS), _describe(kind))
    fault: Fault = build(FAULT_KINDS[kind], item, file, key)
    _check_fault(fault, file, key)
    return fault


def scenario_from_toml(data: dict[str, Any], file: str) -> Scenario:
    raw_faults = data.get("faults", [])
    if not isinstance(raw_faults, list):
        raise ConfigError(file, "faults", "an array of tables ([[faults]])", _describe(raw_faults))
    faults = tuple(_build_fault(item, file, f"faults[{i}]") for i, item in enumerate(raw_faults))
    scenario: Scenario = build(Scenario, {k: v for k, v in data.items() if k != "faults"}, file)
    svc = scenario.service
    if svc.replicas < 1:
        raise ConfigError(file, "service.replicas", "an integer >= 1", _describe(svc.replicas))
    if svc.latency_p95_ms <= svc.latency_p50_ms:
        raise ConfigError(
            file, "service.latency_p95_ms", f"more than latency_p50_ms ({svc.latency_p50_ms:g})", _describe(svc.latency_p95_ms)
        )
    for i, code in enumerate(scenario.expect.codes):
        if not 100 <= code <= 599:
            raise ConfigError(file, f"expect.codes[{i}]", "an HTTP status code", _describe(code))
    for name in ("name", "title", "summary"):
        if not getattr(scenario, name).strip():
            raise ConfigError(file, name, "a non-empty string", "an empty string")
    _check_expect(scenario.expect, faults, file)
    return replace(scenario, faults=faults, source=file)


def _check_expect(expect: Expect, faults: tuple[Fault, ...], file: str) -> None:
    """An expectation the scenario cannot produce is a mistake in the file."""
    down = {f.service for f in faults if isinstance(f, ServiceDown)}
    if expect.panes.metrics == "backup" and "prometheus" not in down:
        raise ConfigError(
            file, "expect.panes.metrics", '"backup" only with a service_down fault of service "prometheus"', _describe(expect.panes.metrics)
        )
    for i, text in enumerate(expect.says):
        if not text.strip():
            raise ConfigError(file, f"expect.says[{i}]", "words the cockpit shows", "an empty string")
    action = expect.action
    if action is None:
        return
    if action.fails == "auth_expired" and not any(isinstance(f, KubeTokenExpired) for f in faults):
        raise ConfigError(file, "expect.action.fails", '"auth_expired" only with a kube_token_expired fault', _describe(action.fails))
    if action.fails == "forbidden" and not any(isinstance(f, KubeDenied) for f in faults):
        raise ConfigError(file, "expect.action.fails", '"forbidden" only with a kube_denied fault', _describe(action.fails))
    if action.retry and action.fails != "auth_expired":
        raise ConfigError(file, "expect.action.retry", "true only when the action fails with auth_expired (a login fixes it)", "true")


def with_log_rate(scenario: Scenario, rate: int | None) -> Scenario:
    """``scenario`` with ``--log-rate``'s rate instead of its ``[logs] rate`` (None: as it is)."""
    return scenario if rate is None else replace(scenario, logs=replace(scenario.logs, rate=int(rate)))


def scenarios_dir() -> Path:
    return data_path("scenarios")


def scenario_names() -> list[str]:
    """Names of the shipped scenarios, sorted."""
    return sorted(p.stem for p in scenarios_dir().glob("*.toml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A shipped scenario by name, or a scenario file by path."""
    text_name = str(name_or_path)
    looks_like_path = isinstance(name_or_path, Path) or "/" in text_name or text_name.endswith(".toml")
    path = Path(text_name) if looks_like_path else scenarios_dir() / f"{text_name}.toml"
    if not looks_like_path and not path.is_file():
        raise ConfigError(
            text_name, "", "a shipped scenario name (" + ", ".join(scenario_names()) + ") or a path to a .toml file", "no such scenario"
        )
    file = str(path)
    return scenario_from_toml(parse_toml(read_text_file(path, "a readable scenario file"), file), file)
