"""The config's schema: TOML config → frozen dataclasses.

Every error names the file, the key, what was expected and what was found, in
one line (:class:`ConfigError`). The fields are declared with
:func:`~clay_cockpit.config_build.opt` and built by the schema machinery of
:mod:`clay_cockpit.config_build` (which scenario files share); here are the
dataclasses, the checks across keys (:func:`config_from_toml`), the files
shipped in the wheel (:func:`data_path`), and :func:`reference`, which renders
the config reference in the README from the field metadata.

Tokens are never stored in the file: a key names the environment variable
that holds each token (``token_env``).

The kube target (context, namespace, kubeconfig) can be overridden per run:
:mod:`clay_cockpit.config_target`. One file can hold several environments
(``[env.NAME]`` tables overriding the sections' keys, ``--env NAME`` picks
one): :mod:`clay_cockpit.config_env`; each is built and checked here as a
whole config, and :func:`env_state_dir` keeps each one's incidents apart.
"""

from __future__ import annotations

import os
import typing
from dataclasses import MISSING, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

from clay_cockpit.config_build import (
    build,
    check_keys,
    opt,
    parse_toml,
    range_text,
    read_text_file,
)
from clay_cockpit.paths import (  # re-exported (__all__): where things live, and the one-line error
    APP_NAME,
    ConfigError,
    config_location,
    default_config_path,
    find_config,
    log_path,
    state_dir,
    xdg_config_home,
    xdg_state_home,
)

__all__ = [
    # the schema
    "ActionsConfig",
    "ClayConfig",
    "CommsConfig",
    "Config",
    "EnvProfile",
    "EscalationConfig",
    "ExternalStatusConfig",
    "FlagsConfig",
    "GrafanaConfig",
    "HealthConfig",
    "KubeConfig",
    "MetricsConfig",
    "PagerDutyConfig",
    "QueryConfig",
    "SecretRef",
    "SlackConfig",
    "StatusPageConfig",
    "Thresholds",
    "UiConfig",
    "DEFAULT_QUERIES",
    "DEFAULT_THEME",
    "MAX_HISTORY_POINTS",
    "PAGERDUTY_NOTES",
    "REQUIRED_QUERIES",
    "config_from_toml",
    "data_path",
    "default_toml_text",
    "env_state_dir",
    "load_config",
    "reference",
    # re-exported from clay_cockpit.paths and clay_cockpit.config_build
    "APP_NAME",
    "ConfigError",
    "config_location",
    "default_config_path",
    "find_config",
    "log_path",
    "state_dir",
    "xdg_config_home",
    "xdg_state_home",
    "parse_toml",
]

# --------------------------------------------------------------------------
# The schema


@dataclass(frozen=True, kw_only=True)
class StatusPageConfig:
    url: str = opt(doc="Base URL of Clay's public status page", kind="url")
    provider: str = opt("auto", "Status page API: auto-detect, or force one", choices=("auto", "statuspage", "rootly"))
    alternative_url: str = opt("", "Where else to look when the page is unreachable (shown as a hint)", kind="url?")
    refresh: float = opt(30.0, "Seconds between polls", kind="duration", low=0.1, high=86400)
    timeout: float = opt(5.0, "Seconds before a request counts as timed out", kind="duration", low=0.1, high=600)


@dataclass(frozen=True, kw_only=True)
class HealthConfig:
    url: str = opt(doc="Our integration health endpoint (JSON)", kind="url", creds="health.token_env")
    token_env: str = opt("", "Environment variable holding a bearer token for it, if it needs one", kind="env")
    refresh: float = opt(10.0, "Seconds between polls", kind="duration", low=0.1, high=86400)
    timeout: float = opt(3.0, "Seconds before a request counts as timed out", kind="duration", low=0.1, high=600)


@dataclass(frozen=True, kw_only=True)
class QueryConfig:
    name: str = opt("", "(the table's key)")
    query: str = opt(doc="PromQL expression")
    label: str = opt("", "Label shown in the pane (defaults to the name)")
    unit: str = opt("", "Unit shown after the value: req/s, ms, %")
    scale: float = opt(1.0, "Multiply every value by this (0.001 s → ms is 1000)")
    split_by: str = opt("", "Show one series per value of this label (e.g. code)")


DEFAULT_QUERIES = {
    "errors_by_code": {
        "query": 'sum by (code) (rate(clay_api_requests_total{code=~"4..|5.."}[1m]))',
        "label": "Clay",
        "unit": "req/s",
        "split_by": "code",
    },
    "request_rate": {
        "query": "sum(rate(clay_api_requests_total[1m]))",
        "label": "Clay requests",
        "unit": "req/s",
    },
    "latency_p95": {
        "query": "histogram_quantile(0.95, sum by (le) (rate(clay_api_request_duration_seconds_bucket[1m])))",
        "label": "Clay p95",
        "unit": "ms",
        "scale": 1000.0,
    },
}
REQUIRED_QUERIES = tuple(DEFAULT_QUERIES)


@dataclass(frozen=True, kw_only=True)
class MetricsConfig:
    url: str = opt(doc="Prometheus base URL", kind="url", creds="metrics.token_env")
    backup_urls: tuple[str, ...] = opt(doc="Tried in order when the primary fails", factory=tuple, kind="url", creds="metrics.token_env")
    token_env: str = opt("", "Environment variable holding a bearer token for Prometheus, if it needs one", kind="env")
    refresh: float = opt(15.0, "Seconds between polls", kind="duration", low=0.1, high=86400)
    timeout: float = opt(5.0, "Seconds before a request counts as timed out", kind="duration", low=0.1, high=600)
    history: float = opt(900.0, "Seconds of history in the sparklines", kind="duration", low=60, high=604800)
    step: float = opt(15.0, "Resolution of the history, seconds", kind="duration", low=1, high=3600)
    queries: tuple[QueryConfig, ...] = opt(
        doc="Named PromQL queries; errors_by_code, request_rate and latency_p95 are required", factory=tuple
    )

    def query(self, name: str) -> QueryConfig | None:
        return next((q for q in self.queries if q.name == name), None)


@dataclass(frozen=True, kw_only=True)
class SecretRef:
    name: str = opt("clay-api", "Secret holding the Clay API key", kind="k8s-name")
    key: str = opt("api-key", "Key inside the Secret")


@dataclass(frozen=True, kw_only=True)
class FlagsConfig:
    configmap: str = opt("clay-sync-flags", "ConfigMap holding the feature flags", kind="k8s-name")
    fallback_key: str = opt("CLAY_FALLBACK_ENABLED", "Key of the graceful-degradation fallback flag")
    queuing_key: str = opt("CLAY_REQUEST_QUEUING", "Key of the request-queuing flag")
    restart_on_change: bool = opt(True, "The app reads the flags at start: restart after flipping one")
    mode: str = opt(
        "configmap", "Where the flags live: keys of the ConfigMap, or env vars on the deployment's container", choices=("configmap", "env")
    )


@dataclass(frozen=True, kw_only=True)
class KubeConfig:
    context: str = opt("", "kubeconfig context (empty: the current context)")
    kubeconfig: str = opt("", "kubeconfig file (empty: $KUBECONFIG or ~/.kube/config)")
    namespace: str = opt(doc="Namespace of our service")
    deployments: tuple[str, ...] = opt(doc="Deployment(s) of our service", factory=tuple, kind="k8s-name")
    selector: str = opt(doc="Label selector of our pods, e.g. app=clay-sync")
    container: str = opt("", "Container whose logs to follow (empty: the pod's first)")
    refresh: float = opt(
        5.0,
        "Seconds between pod snapshots when nothing changed (pods are watched), and between lists where watch is denied",
        kind="duration",
        low=0.1,
        high=86400,
    )
    timeout: float = opt(5.0, "Seconds before a request counts as timed out", kind="duration", low=0.1, high=600)
    log_tail: int = opt(200, "Lines of each pod's log to start from", kind="count", high=100_000)
    log_since: int = opt(600, "Only log lines newer than this many seconds", kind="count", high=30 * 86400)
    log_buffer: int = opt(2000, "Log lines kept in memory and on screen", kind="count", low=1, high=100_000)
    log_streams: int = opt(
        20,
        "Pods whose logs are followed at once, troubled ones first; the rest take turns (like kubectl logs --max-log-requests)",
        kind="count",
        low=1,
        high=200,
    )
    read_only: bool = opt(False, "Never send a mutating request to this context")
    secret: SecretRef = opt(factory=SecretRef, doc="Where the Clay API key lives")
    flags: FlagsConfig = opt(factory=FlagsConfig, doc="Feature flags the actions flip")


@dataclass(frozen=True, kw_only=True)
class ClayConfig:
    probe_url: str = opt(
        "https://api.clay.com/v1/me", "Clay API URL used to verify an API key", kind="url", creds="the Clay key is read from kube.secret"
    )
    key_header: str = opt("Authorization", "Header that carries the key")
    key_prefix: str = opt("Bearer ", "Text before the key in that header")


@dataclass(frozen=True, kw_only=True)
class Thresholds:
    error_rate_warn: float = opt(1.0, "Clay errors per second that count as elevated (triage: P3, minor impact)", low=0)
    error_rate_crit: float = opt(5.0, "Clay errors per second that count as partial failures (triage: P2, degraded)", low=0)
    error_ratio_crit: float = opt(0.5, "Share of Clay requests failing that counts as an outage (triage: P1)", low=0, high=1)
    latency_p95_warn_ms: float = opt(800.0, "Clay p95 latency (ms) that counts as slow (triage: P3)", low=0)
    latency_p95_crit_ms: float = opt(2000.0, "Clay p95 latency (ms) that counts as degraded service (triage: P2)", low=0)
    restarts_warn: int = opt(3, "Pod restarts that count as crashlooping", kind="count", low=1)
    clay_health_checks: tuple[str, ...] = opt(
        ("clay_api", "fallback"), "Health checks that report on Clay or our Clay fallback, not on our own infrastructure"
    )
    stale_intervals: float = opt(
        3.0, "A reading older than this many refresh intervals counts as stale (weaker evidence)", low=1, high=10_000
    )


@dataclass(frozen=True, kw_only=True)
class SlackConfig:
    channel: str = opt("#incidents", "Channel for incident updates")
    token_env: str = opt("SLACK_BOT_TOKEN", "Environment variable holding the Slack bot token", kind="env")
    api_url: str = opt("https://slack.com/api/", "Slack Web API base URL", kind="url", creds="slack.token_env")


@dataclass(frozen=True, kw_only=True)
class ExternalStatusConfig:
    api_url: str = opt("https://api.statuspage.io/v1", "Status page management API base URL", kind="url", creds="external_status.token_env")
    page_id: str = opt("", "Our public status page id")
    component_ids: tuple[str, ...] = opt(doc="Components of our page affected by a Clay outage", factory=tuple)
    token_env: str = opt("STATUSPAGE_API_KEY", "Environment variable holding the status page API key", kind="env")


PAGERDUTY_NOTES = ("declared", "severity", "branch", "action", "update", "resolved")
URGENCIES = ("high", "low")


@dataclass(frozen=True, kw_only=True)
class PagerDutyConfig:
    enabled: bool = opt(False, "Speak to PagerDuty: the page pane, acknowledge, notes, escalate, resolve")
    api_url: str = opt("https://api.pagerduty.com", "PagerDuty REST API v2 base URL (https only)", kind="url", creds="pagerduty.token_env")
    events_url: str = opt(
        "https://events.pagerduty.com",
        "PagerDuty Events API v2 base URL (https only)",
        kind="url",
        creds="pagerduty.escalation_routing_key_env",
    )
    token_env: str = opt("PAGERDUTY_API_TOKEN", "Environment variable holding the REST API token", kind="env")
    from_email: str = opt("", "Email of the PagerDuty user the cockpit acts as (the From header every write needs); required when enabled")
    service_ids: tuple[str, ...] = opt(doc="PagerDuty service IDs whose incidents the pane shows; required when enabled", factory=tuple)
    escalation_routing_key_env: str = opt(
        "", "Environment variable holding the Events API v2 integration key of the escalation target's service", kind="env"
    )
    escalation_policy_id: str = opt("", "Escalation policy to reassign an incident to when escalating (instead of, or beside, the key)")
    ca_file: str = opt("", "PEM file of CAs to trust for PagerDuty (empty: the system's)")
    timeout: float = opt(5.0, "Seconds before a request counts as timed out", kind="duration", low=0.1, high=600)
    refresh: float = opt(15.0, "Seconds between polls", kind="duration", low=0.1, high=86400)
    p1_urgency: str = opt("high", "Urgency of a P1 incident's page", choices=URGENCIES)
    p2_urgency: str = opt("high", "Urgency of a P2 incident's page", choices=URGENCIES)
    p3_urgency: str = opt("low", "Urgency of a P3 incident's page", choices=URGENCIES)
    p4_urgency: str = opt("low", "Urgency of a P4 incident's page", choices=URGENCIES)
    notes: tuple[str, ...] = opt(
        doc="Milestones posted as notes on the linked PagerDuty incident", factory=lambda: PAGERDUTY_NOTES, choices=PAGERDUTY_NOTES
    )


@dataclass(frozen=True, kw_only=True)
class GrafanaConfig:
    enabled: bool = opt(False, "Annotate Grafana dashboards and link them for the incident's time range")
    url: str = opt("http://localhost:3000", "Grafana base URL", kind="url", creds="grafana.token_env")
    token_env: str = opt("GRAFANA_TOKEN", "Environment variable holding a Grafana service account token", kind="env")
    dashboard_uids: tuple[str, ...] = opt(doc="UIDs of the dashboards to annotate and link; required when enabled", factory=tuple)
    timeout: float = opt(5.0, "Seconds before a request counts as timed out", kind="duration", low=0.1, high=600)
    ca_file: str = opt("", "PEM file of CAs to trust for an https Grafana (empty: the system's)")


@dataclass(frozen=True, kw_only=True)
class EscalationConfig:
    contact: str = opt("platform on-call", "Who to escalate to when the cockpit may not do something")


@dataclass(frozen=True, kw_only=True)
class ActionsConfig:
    lease_seconds: float = opt(
        120.0, "A mutating action holds a Lease on the deployment; one older than this counts as stale", kind="duration", high=86400
    )
    rollout_timeout: float = opt(
        300.0, "Seconds to wait for a rollout (new pods ready, old gone) before reporting what did not happen", kind="duration", high=86400
    )
    verify_timeout: float = opt(120.0, "Seconds to wait for a flag or key change to take effect", kind="duration", high=86400)
    probe_timeout: float = opt(5.0, "Seconds before a Clay API key probe counts as timed out", kind="duration", high=86400)
    symptom_window: float = opt(
        180.0,
        "Seconds to follow an action's symptom (401s, 429s, pods restarting …) after its change took effect; still there then: reported as a fix that did not work",
        kind="duration",
        high=86400,
    )
    symptom_stable: float = opt(
        60.0,
        "Seconds the new pods must stay ready without a restart before a restart or scale counts as having ended a crashloop",
        kind="duration",
        high=86400,
    )


@dataclass(frozen=True, kw_only=True)
class CommsConfig:
    p1_update_minutes: float = opt(15.0, "Minutes between stakeholder updates during a P1", kind="duration", low=1, high=10080)
    p2_update_minutes: float = opt(30.0, "Minutes between stakeholder updates during a P2", kind="duration", low=1, high=10080)
    p3_update_minutes: float = opt(60.0, "Minutes between stakeholder updates during a P3", kind="duration", low=1, high=10080)
    p4_update_minutes: float = opt(240.0, "Minutes between stakeholder updates during a P4", kind="duration", low=1, high=10080)
    templates_dir: str = opt("", "Folder of message templates overriding the shipped ones (empty: ~/.config/clay-cockpit/templates)")


@dataclass(frozen=True, kw_only=True)
class SharedConfig:
    enabled: bool = opt(
        True,
        "Share the open incident with the other responders through the cluster's Kubernetes API (ConfigMaps and Leases in kube.namespace); off: this cockpit's incident stays local",
    )
    responder: str = opt("", "Your name as the other responders see it (empty: user@host)")
    heartbeat: float = opt(
        10.0, "Seconds between presence renewals; a responder not renewed for 3 heartbeats has left", kind="duration", low=1, high=600
    )


@dataclass(frozen=True, kw_only=True)
class RunbookConfig:
    file: str = opt(
        "",
        "A team's runbook file (config/runbook.toml's format; a relative path is from this config's folder); empty: the shipped runbook. --runbook FILE and $CLAY_COCKPIT_RUNBOOK win over it",
    )


@dataclass(frozen=True, kw_only=True)
class EnvProfile:
    """One ``[env.NAME]`` table: its own keys (the sections' keys it overrides
    are merged into the environment's :class:`Config`)."""

    name: str = opt("", "(the table's key)")
    read_only: bool = opt(False, "Never send a mutating request in this environment (the same as its kube.read_only)")
    require_explicit: bool = opt(
        False, "A production environment: only `--env NAME` typed on the command line picks it, never default_env alone"
    )
    sets: tuple[str, ...] = field(default=(), metadata={"internal": True})  # the dotted keys it overrides (kube.context …)


DEFAULT_THEME = "textual-dark"


@dataclass(frozen=True, kw_only=True)
class UiConfig:
    theme: str = opt(
        DEFAULT_THEME, "Textual theme: textual-dark, textual-light, nord, gruvbox, dracula, tokyo-night, … (NO_COLOR wins over it)"
    )


@dataclass(frozen=True, kw_only=True)
class Config:
    statuspage: StatusPageConfig
    health: HealthConfig
    metrics: MetricsConfig
    kube: KubeConfig
    clay: ClayConfig = opt(factory=ClayConfig)
    thresholds: Thresholds = opt(factory=Thresholds)
    slack: SlackConfig = opt(factory=SlackConfig)
    external_status: ExternalStatusConfig = opt(factory=ExternalStatusConfig)
    escalation: EscalationConfig = opt(factory=EscalationConfig)
    pagerduty: PagerDutyConfig = opt(factory=PagerDutyConfig)
    grafana: GrafanaConfig = opt(factory=GrafanaConfig)
    actions: ActionsConfig = opt(factory=ActionsConfig)
    comms: CommsConfig = opt(factory=CommsConfig)
    shared: SharedConfig = opt(factory=SharedConfig)
    runbook: RunbookConfig = opt(factory=RunbookConfig)
    ui: UiConfig = opt(factory=UiConfig)
    keymap: tuple[tuple[str, str], ...] = opt(
        doc='Key(s) for a binding, by its id (README\'s key table): "I", or ["I", "ctrl+d"]', factory=tuple, kind="keymap"
    )
    default_env: str = opt(
        "", "Environment used when --env is not typed: the NAME of an [env.NAME] table (empty: --env is needed when the file defines any)"
    )
    source: str = field(default="", metadata={"internal": True})  # the file it came from
    env: str = field(default="", metadata={"internal": True})  # the environment in use ("": the file defines none)
    env_from: str = field(default="", metadata={"internal": True})  # what chose it: "--env", "default_env" or ""
    envs: tuple[EnvProfile, ...] = field(default=(), metadata={"internal": True})  # every [env.NAME] of the file, in its order

    @property
    def profile(self) -> EnvProfile | None:
        """The environment in use, or None."""
        return next((p for p in self.envs if p.name == self.env), None)


def load_config(path: str | os.PathLike[str], env: str | None = None) -> Config:
    """Read and validate one config file; ``env``: the environment ``--env`` names (None: default_env, if any)."""
    file = str(path)
    return config_from_toml(parse_toml(read_text_file(path), file), file, env)


MAX_HISTORY_POINTS = 11_000  # Prometheus refuses a range query of more points per series


def config_from_toml(data: dict[str, Any], file: str, env: str | None = None) -> Config:
    """The config of ``data``: with ``[env.NAME]`` tables, every environment is
    built and checked (a typo in one you do not use today is found today),
    and the one ``env`` names (else ``default_env``) is returned; with none
    chosen, the sections alone (:func:`clay_cockpit.config_target.check_env_choice`
    refuses that where the cockpit would act on it)."""
    from clay_cockpit import config_env

    sections = [f.name for f in fields(Config) if not f.metadata.get("internal") and f.name != "default_env"]
    check_keys(data, [*sections, "default_env", "env"], file)  # (build would not list env: it is taken out first)
    base, tables, default = config_env.split_envs(data, file, sections)
    chosen, origin = config_env.choose(file, list(tables), default, env)
    if not tables:
        return _with_source(_checked(base, file), file)
    profiles, built = [], {}
    try:
        built[""] = _checked(base, file)
    except ConfigError as err:  # the sections may leave a required key to every environment
        if not err.found.startswith("nothing (missing required key)"):
            raise
    for name, table in tables.items():
        over = config_env.overrides(table, file, name)
        try:
            built[name] = _checked(config_env.merge(base, over), file)
        except ConfigError as err:
            raise config_env.in_env(err, name, over) from None
        own = {k: table[k] for k in config_env.PROFILE_KEYS if k in table}
        profiles.append(replace(build(EnvProfile, {**own, "name": name}, file, f"env.{name}"), sets=config_env.leaves(over)))
    if chosen not in built:
        raise config_env.no_env_chosen(file, list(tables))
    return replace(built[chosen], source=file, env=chosen, env_from=origin, envs=tuple(profiles))


def env_state_dir(config: Config) -> Path:
    """Where the incidents (and postmortems) of ``config``'s environment are
    kept: ``<state dir>/envs/NAME`` for an environment, so prod-eu's incident
    is never resumed in prod-us; the state dir itself when there is none."""
    return state_dir() / "envs" / config.env if config.env else state_dir()


def _checked(data: dict[str, Any], file: str) -> Config:
    """One whole config: the schema, then the checks across keys."""
    cfg: Config = build(Config, data, file)
    names = {q.name for q in cfg.metrics.queries}
    for required in REQUIRED_QUERIES:
        if required not in names:
            raise ConfigError(file, f"metrics.queries.{required}", "a PromQL query (triage reads it)", "nothing (missing required key)")
    if not cfg.kube.deployments:
        raise ConfigError(file, "kube.deployments", "at least one deployment name", "an empty array")
    points = cfg.metrics.history / cfg.metrics.step
    if points > MAX_HISTORY_POINTS:
        raise ConfigError(
            file,
            "metrics.history",
            f"at most {MAX_HISTORY_POINTS} steps of metrics.step ({cfg.metrics.step:g} s)",
            f"{points:.0f} steps ({cfg.metrics.history:g} s)",
        )
    _check_paging(cfg, file)
    return cfg


def _check_paging(cfg: Config, file: str) -> None:
    """PagerDuty and Grafana, when enabled, need what their writes and reads name (issue 16)."""
    pd = cfg.pagerduty
    if pd.enabled:
        for key, url in (("api_url", pd.api_url), ("events_url", pd.events_url)):
            if not url.startswith("https://"):
                raise ConfigError(file, f"pagerduty.{key}", "an https:// URL (the PagerDuty client refuses any other)", repr(url))
        if not pd.from_email or "@" not in pd.from_email:
            raise ConfigError(file, "pagerduty.from_email", "the email of a PagerDuty user (every write needs it)", repr(pd.from_email))
        if not pd.service_ids:
            raise ConfigError(file, "pagerduty.service_ids", "at least one PagerDuty service ID (P…)", "an empty array")
        if len(set(pd.notes)) != len(pd.notes):
            raise ConfigError(file, "pagerduty.notes", "each milestone at most once", repr(list(pd.notes)))
    if cfg.grafana.enabled and not cfg.grafana.dashboard_uids:
        raise ConfigError(file, "grafana.dashboard_uids", "at least one dashboard UID", "an empty array")


def _with_source(cfg: Config, file: str) -> Config:
    return replace(cfg, source=file)


def data_path(*parts: str) -> Path:
    """A file shipped in the wheel's config/ (default.toml, scenarios/, templates/).

    The package's own directory, not importlib.resources (~10 ms to import,
    before the demo's first frame): pip installs the wheel unzipped, and an
    editable install maps the package to the checkout's config/."""
    import clay_cockpit.data

    return Path(clay_cockpit.data.__file__).parent.joinpath(*parts)


def default_toml_text() -> str:
    return data_path("default.toml").read_text(encoding="utf-8")


# --------------------------------------------------------------------------
# The reference, from the same metadata


def reference(cls: type = Config, prefix: str = "") -> list[tuple[str, str, str]]:
    """(key, default, doc) rows for every config key, in schema order."""
    rows: list[tuple[str, str, str]] = []
    hints = typing.get_type_hints(cls)
    for f in fields(cls):
        if f.metadata.get("internal") or f.name == "name" and cls in (QueryConfig, EnvProfile):
            continue
        key = f"{prefix}.{f.name}" if prefix else f.name
        tp = hints[f.name]
        if isinstance(tp, type) and is_dataclass(tp):
            rows.extend(reference(tp, key))
            continue
        if f.default is not MISSING:
            default = repr(f.default) if not isinstance(f.default, bool) else str(f.default).lower()
        elif f.default_factory is not MISSING:
            made = f.default_factory()
            default = repr(list(made)) if isinstance(made, tuple) and made else "[]"
        else:
            default = "required"
        if f.metadata.get("kind") == "keymap":
            rows.append((f"{key}.BINDING_ID", "", f.metadata.get("doc", "")))
            continue
        if typing.get_origin(tp) is tuple and is_dataclass(typing.get_args(tp)[0]):
            rows.append((f"{key}.NAME", "", f.metadata.get("doc", "")))
            rows.extend(reference(typing.get_args(tp)[0], f"{key}.NAME"))
            continue
        doc = f.metadata.get("doc", "")
        if tp in (int, float):
            allowed = range_text(dict(f.metadata), integer=tp is int)
            for what in ("a number of seconds ", "an integer ", "a number "):
                allowed = allowed.removeprefix(what)
            if allowed not in ("a finite number", "an integer"):
                doc = f"{doc}; {allowed}"
        rows.append((key, default, doc))
    if cls is Config:  # the [env.NAME] tables: taken out of the file before the sections are built (clay_cockpit.config_env)
        rows.append(("env.NAME", "", "An environment (profile): its own keys below, and any section's keys to override"))
        rows.extend(reference(EnvProfile, "env.NAME"))
        rows.append(
            ("env.NAME.SECTION.KEY", "", "Any key above, for this environment only: env.NAME.kube.context, env.NAME.slack.channel …")
        )
    return rows
