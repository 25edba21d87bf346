"""TOML config → frozen dataclasses.

Every error names the file, the key, what was expected and what was found, in
one line (:class:`ConfigError`). The same schema machinery
(:func:`build`) reads scenario files, and :func:`reference` renders the
config reference in the README from the field metadata.

Tokens are never stored in the file: a key names the environment variable
that holds each token (``token_env``).

The kube target (context, namespace, kubeconfig) can be overridden per run,
as kubectl users expect: a flag (``--context``, ``-n``, ``--kubeconfig``),
then an environment variable (:data:`TARGET_ENV`), then the file
(:func:`target_overrides`, :func:`with_target`).
"""

from __future__ import annotations

import math
import os
import re
import stat
import tomllib
import types
import typing
from dataclasses import MISSING, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cockpit.paths import (  # noqa: F401 (re-exported: where things live, and the one-line error)
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


def opt(default: Any = MISSING, doc: str = "", *, kind: str = "", choices: tuple[str, ...] = (), factory: Any = MISSING,
        low: float | None = None, high: float | None = None, creds: str = "") -> Any:
    """A config field: default, a one-line doc for the reference, and checks.

    ``kind`` adds a value check: "url" (http/https with a host and a valid
    port, no user:password@), "url?" (url or empty), "env" (an environment
    variable name or empty, never a token), "duration" (seconds > 0), "count"
    (int >= 0), "k8s-name" (a Kubernetes object name), "keymap" (a table
    of binding id → key or keys; the ids and key names are checked where the
    bindings are known, :mod:`screens.keymap`). Every number must be finite;
    ``low``/``high`` bound it (inclusive) and show in the reference. ``creds``
    says where a URL's credentials go instead (a URL with user:password@ is
    refused, pointing there: a ``token_env`` key, or a sentence).
    """
    meta = {"doc": doc, "kind": kind, "choices": choices, "low": low, "high": high, "creds": creds}
    if factory is not MISSING:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


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
    queries: tuple[QueryConfig, ...] = opt(doc="Named PromQL queries; errors_by_code, request_rate and latency_p95 are required", factory=tuple)

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
    mode: str = opt("configmap", "Where the flags live: keys of the ConfigMap, or env vars on the deployment's container", choices=("configmap", "env"))


@dataclass(frozen=True, kw_only=True)
class KubeConfig:
    context: str = opt("", "kubeconfig context (empty: the current context)")
    kubeconfig: str = opt("", "kubeconfig file (empty: $KUBECONFIG or ~/.kube/config)")
    namespace: str = opt(doc="Namespace of our service")
    deployments: tuple[str, ...] = opt(doc="Deployment(s) of our service", factory=tuple, kind="k8s-name")
    selector: str = opt(doc="Label selector of our pods, e.g. app=clay-sync")
    container: str = opt("", "Container whose logs to follow (empty: the pod's first)")
    refresh: float = opt(5.0, "Seconds between pod polls", kind="duration", low=0.1, high=86400)
    timeout: float = opt(5.0, "Seconds before a request counts as timed out", kind="duration", low=0.1, high=600)
    log_tail: int = opt(200, "Lines of each pod's log to start from", kind="count", high=100_000)
    log_since: int = opt(600, "Only log lines newer than this many seconds", kind="count", high=30 * 86400)
    log_buffer: int = opt(2000, "Log lines kept in memory and on screen", kind="count", low=1, high=100_000)
    read_only: bool = opt(False, "Never send a mutating request to this context")
    secret: SecretRef = opt(factory=SecretRef, doc="Where the Clay API key lives")
    flags: FlagsConfig = opt(factory=FlagsConfig, doc="Feature flags the actions flip")


@dataclass(frozen=True, kw_only=True)
class ClayConfig:
    probe_url: str = opt("https://api.clay.com/v1/me", "Clay API URL used to verify an API key", kind="url", creds="the Clay key is read from kube.secret")
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
    stale_intervals: float = opt(3.0, "A reading older than this many refresh intervals counts as stale (weaker evidence)", low=1, high=10_000)


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


@dataclass(frozen=True, kw_only=True)
class EscalationConfig:
    contact: str = opt("platform on-call", "Who to escalate to when the cockpit may not do something")


@dataclass(frozen=True, kw_only=True)
class ActionsConfig:
    lease_seconds: float = opt(120.0, "A mutating action holds a Lease on the deployment; one older than this counts as stale", kind="duration", high=86400)
    rollout_timeout: float = opt(300.0, "Seconds to wait for a rollout (new pods ready, old gone) before reporting what did not happen", kind="duration", high=86400)
    verify_timeout: float = opt(120.0, "Seconds to wait for a flag or key change to take effect", kind="duration", high=86400)
    probe_timeout: float = opt(5.0, "Seconds before a Clay API key probe counts as timed out", kind="duration", high=86400)
    symptom_window: float = opt(180.0, "Seconds to follow an action's symptom (401s, 429s, pods restarting …) after its change took effect; still there then: reported as a fix that did not work", kind="duration", high=86400)
    symptom_stable: float = opt(60.0, "Seconds the new pods must stay ready without a restart before a restart or scale counts as having ended a crashloop", kind="duration", high=86400)


@dataclass(frozen=True, kw_only=True)
class CommsConfig:
    p1_update_minutes: float = opt(15.0, "Minutes between stakeholder updates during a P1", kind="duration", low=1, high=10080)
    p2_update_minutes: float = opt(30.0, "Minutes between stakeholder updates during a P2", kind="duration", low=1, high=10080)
    p3_update_minutes: float = opt(60.0, "Minutes between stakeholder updates during a P3", kind="duration", low=1, high=10080)
    p4_update_minutes: float = opt(240.0, "Minutes between stakeholder updates during a P4", kind="duration", low=1, high=10080)
    templates_dir: str = opt("", "Folder of message templates overriding the shipped ones (empty: ~/.config/clay-cockpit/templates)")


DEFAULT_THEME = "textual-dark"


@dataclass(frozen=True, kw_only=True)
class UiConfig:
    theme: str = opt(DEFAULT_THEME, "Textual theme: textual-dark, textual-light, nord, gruvbox, dracula, tokyo-night, … (NO_COLOR wins over it)")


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
    actions: ActionsConfig = opt(factory=ActionsConfig)
    comms: CommsConfig = opt(factory=CommsConfig)
    ui: UiConfig = opt(factory=UiConfig)
    keymap: tuple[tuple[str, str], ...] = opt(
        doc="Key(s) for a binding, by its id (README's key table): \"I\", or [\"I\", \"ctrl+d\"]", factory=tuple, kind="keymap")
    source: str = field(default="", metadata={"internal": True})  # the file it came from


# --------------------------------------------------------------------------
# Building dataclasses from TOML tables, with one-line errors

_SECRET_WORDS = ("token", "password", "secret_value", "api_key", "apikey")


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"number {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"string {shown!r}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def _bound(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def range_text(meta: dict, integer: bool = False) -> str:
    """What a number field accepts, from its metadata: "a number of seconds
    from 0.1 to 86400", "an integer >= 0", "a finite number" (the one wording
    for the error and the reference)."""
    kind, low, high = meta.get("kind", ""), meta.get("low"), meta.get("high")
    what = "an integer" if integer else "a number of seconds" if kind == "duration" else "a number"
    if low is None and kind == "count":
        low = 0
    if low is not None and high is not None:
        return f"{what} from {_bound(low)} to {_bound(high)}"
    if low is not None:
        return f"{what} >= {_bound(low)}"
    if kind == "duration":
        return f"{what} > 0" + (f" and <= {_bound(high)}" if high is not None else "")
    if high is not None:
        return f"{what} <= {_bound(high)}"
    return what if integer else "a finite number"


def _check_number(meta: dict, value: float, file: str, key: str, integer: bool = False) -> None:
    """Finite, and within the field's bounds (``low``/``high``; a duration > 0, a count >= 0)."""
    kind, low, high = meta.get("kind", ""), meta.get("low"), meta.get("high")
    if low is None and kind == "count":
        low = 0
    bad = (not math.isfinite(value) or (low is not None and value < low) or (high is not None and value > high)
           or (kind == "duration" and value <= 0))
    if bad:
        raise ConfigError(file, key, range_text(meta, integer), _describe(value))


_URL_USERINFO = re.compile(r"(?<=//)[^/?#@]*@")


def shown_url(value: str) -> str:
    """``value`` without any user:password@, safe to echo in an error."""
    return _URL_USERINFO.sub("", value)


def looks_like_token(value: str) -> bool:
    """Whether a would-be variable name is rather a credential pasted in
    (a known token shape, or long and mixed like a random string)."""
    from cockpit.redact import redact

    if redact(value) != value:
        return True
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        classes = sum((any(c.islower() for c in value), any(c.isupper() for c in value), any(c.isdigit() for c in value)))
        random = len(value) >= 24 and "_" not in value and any(c.isdigit() for c in value)  # a hex or base62 key
        return len(value) > 64 or len(value) >= 20 and classes == 3 or random
    return len(value) >= 16  # not a name at all, and long


def _check_url(kind: str, value: str, file: str, key: str, creds: str) -> None:
    if kind == "url?" and value == "":
        return
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as err:  # "Invalid IPv6 URL", "Port out of range 0-65535", "Port could not be cast …"
        raise ConfigError(file, key, "an http(s) URL with a host (and a port from 1 to 65535)",
                          f"{_describe(shown_url(value))} ({err})") from None
    if parts.username is not None or parts.password is not None:
        where = f"the token goes in the environment variable named by {creds}" if creds.endswith("token_env") else creds or "it needs none"
        raise ConfigError(file, key, f"a URL without user:password@ ({where})",
                          "a URL with credentials (not shown)")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(file, key, "an http(s) URL with a host", _describe(value))
    if port == 0:
        raise ConfigError(file, key, "an http(s) URL with a host (and a port from 1 to 65535)", _describe(value))


_K8S_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")


def _check_kind(kind: str, value: Any, file: str, key: str, meta: dict | None = None) -> None:
    meta = meta or {}
    if kind in ("url", "url?"):
        _check_url(kind, value, file, key, meta.get("creds", ""))
    elif kind == "env":
        if value and looks_like_token(value):
            raise ConfigError(file, key, "the NAME of the environment variable that holds the token, not the token",
                              "what looks like a token (not shown)")
        if value and not (value.replace("_", "a").isalnum() and value.isascii() and not value[0].isdigit()):
            raise ConfigError(file, key, "the name of an environment variable (letters, digits, _)", _describe(value))
    elif kind == "k8s-name":
        if not _K8S_NAME.fullmatch(value):
            raise ConfigError(file, key, "a Kubernetes name (lowercase letters, digits, - and .)", _describe(value))
    elif kind in ("duration", "count") or meta.get("low") is not None or meta.get("high") is not None:
        _check_number(meta, value, file, key, integer=isinstance(value, int))


def _keymap(value: Any, file: str, key: str) -> tuple[tuple[str, str], ...]:
    """``[keymap]``: binding id → a key or an array of keys, as (id, "k1,k2") pairs."""
    if not isinstance(value, dict):
        raise ConfigError(file, key, "a table of binding id = key", _describe(value))
    out = []
    for binding_id, keys in value.items():
        where = f"{key}.{binding_id}"
        keys = [keys] if isinstance(keys, str) else keys
        if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
            raise ConfigError(file, where, "a key (\"I\", \"ctrl+d\") or a non-empty array of keys", _describe(value[binding_id]))
        for k in keys:
            if not k.strip() or "," in k or " " in k.strip():
                raise ConfigError(file, where, "a key name without spaces or commas (\"I\", \"ctrl+d\", \"f5\")", _describe(k))
        out.append((binding_id, ",".join(k.strip() for k in keys)))
    return tuple(out)


def _convert(tp: Any, value: Any, file: str, key: str, meta: dict) -> Any:
    if meta.get("kind") == "keymap":
        return _keymap(value, file, key)
    origin = typing.get_origin(tp)
    if is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(file, key, "a table", _describe(value))
        return build(tp, value, file, key)
    if origin is tuple:
        item_tp = typing.get_args(tp)[0]
        if is_dataclass(item_tp):  # a table of named tables → tuple of dataclasses
            if not isinstance(value, dict):
                raise ConfigError(file, key, "a table of tables", _describe(value))
            out = []
            for name, sub in value.items():
                if not isinstance(sub, dict):
                    raise ConfigError(file, f"{key}.{name}", "a table", _describe(sub))
                out.append(build(item_tp, {**sub, "name": name}, file, f"{key}.{name}"))
            return tuple(out)
        if not isinstance(value, list):
            raise ConfigError(file, key, f"an array of {_type_name(item_tp)}", _describe(value))
        return tuple(_convert(item_tp, v, file, f"{key}[{i}]", meta) for i, v in enumerate(value))
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _convert(args[0], value, file, key, meta)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(file, key, "true or false", _describe(value))
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(file, key, "an integer", _describe(value))
    elif tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(file, key, "a number", _describe(value))
        _check_number(meta, value, file, key)
        return float(value)
    elif tp is str:
        if not isinstance(value, str):
            raise ConfigError(file, key, "a string", _describe(value))
        if meta.get("choices") and value not in meta["choices"]:
            raise ConfigError(file, key, "one of " + ", ".join(meta["choices"]), _describe(value))
    _check_kind(meta.get("kind", ""), value, file, key, meta)
    return value


def _type_name(tp: Any) -> str:
    return {str: "strings", int: "integers", float: "numbers", bool: "booleans"}.get(tp, getattr(tp, "__name__", str(tp)))


def build(cls: type, table: dict, file: str, prefix: str = "") -> Any:
    """Build dataclass ``cls`` from a TOML table; raise ConfigError naming the key."""
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in fields(cls) if not f.metadata.get("internal")}
    for key in table:
        if key not in known:
            full = f"{prefix}.{key}" if prefix else key
            lowered = key.lower()
            if any(w in lowered for w in _SECRET_WORDS) and not lowered.endswith("_env"):
                raise ConfigError(file, full, "no secrets in the file (name the environment variable with token_env)", "a secret")
            raise ConfigError(file, full, "one of " + ", ".join(sorted(known)), "unknown key")
    values = {}
    for name, f in known.items():
        full = f"{prefix}.{name}" if prefix else name
        if name in table:
            values[name] = _convert(hints[name], table[name], file, full, dict(f.metadata))
        elif f.default is MISSING and f.default_factory is MISSING:
            raise ConfigError(file, full, f"a value ({f.metadata.get('doc') or name})", "nothing (missing required key)")
    return cls(**values)


def parse_toml(text: str, file: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(file, "", "valid TOML", str(err)) from None


MAX_FILE = 1024 * 1024  # a config or scenario file is a few KiB; more is not one

_FILE_TYPES = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
               (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def read_text_file(path: str | os.PathLike, what: str = "a readable file") -> str:
    """The UTF-8 text of a regular file of at most :data:`MAX_FILE` bytes, or
    ConfigError naming the file and what it is instead. Opened without
    blocking (a FIFO would wait for a writer forever) and checked on the open
    descriptor, so what is checked is what is read."""
    file = str(path)
    try:
        fd = os.open(Path(path).expanduser(), os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        raise ConfigError(file, "", what, err.strerror or str(err)) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            found = next((name for test, name in _FILE_TYPES if test(mode)), "not a regular file")
            raise ConfigError(file, "", f"{what} (a regular file)", found)
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_FILE and (chunk := os.read(fd, MAX_FILE + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
        data = b"".join(chunks)
    except OSError as err:
        raise ConfigError(file, "", what, err.strerror or str(err)) from None
    finally:
        os.close(fd)
    if len(data) > MAX_FILE:
        raise ConfigError(file, "", f"a file of at most {MAX_FILE // 1024} KiB", "a larger file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ConfigError(file, "", "UTF-8 text", f"a byte that is not UTF-8 (0x{data[err.start]:02x}) on line {line}") from None


def load_config(path: str | os.PathLike) -> Config:
    """Read and validate one config file."""
    file = str(path)
    return config_from_toml(parse_toml(read_text_file(path), file), file)


MAX_HISTORY_POINTS = 11_000  # Prometheus refuses a range query of more points per series


def config_from_toml(data: dict, file: str) -> Config:
    cfg = build(Config, data, file)
    names = {q.name for q in cfg.metrics.queries}
    for required in REQUIRED_QUERIES:
        if required not in names:
            raise ConfigError(file, f"metrics.queries.{required}", "a PromQL query (triage reads it)", "nothing (missing required key)")
    if not cfg.kube.deployments:
        raise ConfigError(file, "kube.deployments", "at least one deployment name", "an empty array")
    points = cfg.metrics.history / cfg.metrics.step
    if points > MAX_HISTORY_POINTS:
        raise ConfigError(file, "metrics.history", f"at most {MAX_HISTORY_POINTS} steps of metrics.step ({cfg.metrics.step:g} s)",
                          f"{points:.0f} steps ({cfg.metrics.history:g} s)")
    return _with_source(cfg, file)


def _with_source(cfg: Config, file: str) -> Config:
    from dataclasses import replace

    return replace(cfg, source=file)


# Overrides of the kube target, as kubectl users expect: flag > environment > file
TARGET_ENV = {"context": "CLAY_COCKPIT_CONTEXT", "namespace": "CLAY_COCKPIT_NAMESPACE", "kubeconfig": "CLAY_COCKPIT_KUBECONFIG"}
TARGET_FLAGS = {"context": "--context", "namespace": "--namespace", "kubeconfig": "--kubeconfig"}


def _dns_label(value: str) -> bool:
    return len(value) <= 63 and all(c.islower() or c.isdigit() or c == "-" for c in value) and value[:1].isalnum() and value[-1:].isalnum()


def target_overrides(context: str | None = None, namespace: str | None = None, kubeconfig: str | None = None,
                     environ: typing.Mapping[str, str] | None = None) -> dict[str, tuple[str, str]]:
    """The kube target's overrides in force: ``{field: (value, origin)}`` for
    each of context, namespace, kubeconfig that a flag (origin "--context" …)
    or else its environment variable (origin "$CLAY_COCKPIT_CONTEXT" …) sets.
    An empty environment variable counts as unset; an empty flag (``-n ""``)
    sets the field empty (the kubeconfig's choice). Raises ConfigError for a
    namespace that is no Kubernetes name or a kubeconfig file that is not there."""
    environ = os.environ if environ is None else environ
    out: dict[str, tuple[str, str]] = {}
    for name, flag in (("context", context), ("namespace", namespace), ("kubeconfig", kubeconfig)):
        if flag is not None:
            out[name] = (flag, TARGET_FLAGS[name])
        elif environ.get(TARGET_ENV[name]):
            out[name] = (environ[TARGET_ENV[name]], f"${TARGET_ENV[name]}")
    if "namespace" in out and out["namespace"][0] and not _dns_label(out["namespace"][0]):
        value, origin = out["namespace"]
        raise ConfigError(origin, "", "a Kubernetes namespace name (lowercase letters, digits and -, at most 63)", _describe(value))
    if "kubeconfig" in out and out["kubeconfig"][0]:
        value, origin = out["kubeconfig"]
        missing = [p for p in value.split(os.pathsep) if p and not Path(p).expanduser().is_file()]
        if missing:
            raise ConfigError(origin, "", "a kubeconfig file", f"no file at {missing[0]}")
    return out


def with_target(config: Config, *, context: str | None = None, namespace: str | None = None, kubeconfig: str | None = None) -> Config:
    """The config pointed at another kube context, namespace or kubeconfig
    (each None: as the file says)."""
    changes = {k: v for k, v in (("context", context), ("namespace", namespace), ("kubeconfig", kubeconfig)) if v is not None}
    if "kubeconfig" in changes:
        changes["kubeconfig"] = os.pathsep.join(str(Path(p).expanduser()) for p in changes["kubeconfig"].split(os.pathsep) if p)
    return replace(config, kube=replace(config.kube, **changes)) if changes else config


def with_resolved_namespace(config: Config, environ: typing.Mapping[str, str] | None = None) -> Config:
    """An empty ``kube.namespace`` means the context's namespace, as kubectl
    reads it: the namespace of ``kube.context`` (or the kubeconfig's
    current-context) in the kubeconfig (``kube.kubeconfig``, else
    ``$KUBECONFIG``, else ``~/.kube/config``), or "default" when the context
    names none. A set namespace is kept; no cluster is called."""
    if config.kube.namespace:
        return config
    from cockpit.target import DEFAULT_KUBECONFIG, kubeconfig_paths, read_kubeconfig

    environ = os.environ if environ is None else environ
    kube = read_kubeconfig(kubeconfig_paths(config.kube.kubeconfig or environ.get("KUBECONFIG") or DEFAULT_KUBECONFIG))
    context = config.kube.context or kube.current_context
    return replace(config, kube=replace(config.kube, namespace=kube.namespaces.get(context, "") or "default"))


def read_only(config: Config) -> Config:
    """The config with ``kube.read_only`` set (``--read-only``)."""
    return replace(config, kube=replace(config.kube, read_only=True))


def data_path(*parts: str) -> Path:
    """A file shipped in the wheel's config/ (default.toml, scenarios/, templates/).

    The package's own directory, not importlib.resources (~10 ms to import,
    before the demo's first frame): pip installs the wheel unzipped, and an
    editable install maps the package to the checkout's config/."""
    import clay_cockpit_config

    return Path(clay_cockpit_config.__file__).parent.joinpath(*parts)


def default_toml_text() -> str:
    return data_path("default.toml").read_text(encoding="utf-8")


# --------------------------------------------------------------------------
# The reference, from the same metadata


def reference(cls: type = Config, prefix: str = "") -> list[tuple[str, str, str]]:
    """(key, default, doc) rows for every config key, in schema order."""
    rows: list[tuple[str, str, str]] = []
    hints = typing.get_type_hints(cls)
    for f in fields(cls):
        if f.metadata.get("internal") or f.name == "name" and cls is QueryConfig:
            continue
        key = f"{prefix}.{f.name}" if prefix else f.name
        tp = hints[f.name]
        if is_dataclass(tp):
            rows.extend(reference(tp, key))
            continue
        if f.default is not MISSING:
            default = repr(f.default) if not isinstance(f.default, bool) else str(f.default).lower()
        elif f.default_factory is not MISSING:
            default = "[]"
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
    return rows
