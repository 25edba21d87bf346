"""What the cockpit needs to know to talk to a drill: service names, the
kubeconfig the drill writes, and a cockpit config pointing at it.

Standard library only: the demo imports this before the first frame.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

# Every service the simulator serves, each on its own loopback port.
SERVICES = (
    "statuspage",
    "rootly",
    "health",
    "prometheus",
    "prometheus_backup",
    "metrics",
    "kube",
    "clay",
    "slack",
    "statusapi",
    "pagerduty",  # REST API v2 and Events API v2 on one HTTPS port (the client refuses http)
    "grafana",
    "control",
)
HTTPS_SERVICES = ("kube", "pagerduty")  # served with the drill's CA (DRILL_CA_FILE in the workdir)

CONTEXT = "clay-drill"
CLUSTER = "clay-drill"
USER = "clay-drill-responder"
NAMESPACE = "clay-sync"
DEPLOYMENT = "clay-sync"
SELECTOR = "app=clay-sync"
CONTAINER = "clay-sync"
PAGE_ID = "drillpage01"
COMPONENT_IDS = ("drillcomp01",)
SLACK_CHANNEL = "#inc-clay-drill"
DRILL_CA_FILE = "drill-ca.pem"  # the CA of the drill's HTTPS services, written into its workdir

# PagerDuty (issue 16): our service and its policy, the escalation target (a service with its own
# Events API v2 integration key and policy), the users
PD_SERVICE_ID, PD_SERVICE_NAME = "PDRILL01", "clay-sync"
PD_POLICY_ID, PD_POLICY_NAME = "PPOLCLAY", "clay-sync on-call"
PD_ADMIN_SERVICE_ID, PD_ADMIN_SERVICE_NAME = "PADMIN01", "Platform admins"
PD_ADMIN_POLICY_ID, PD_ADMIN_POLICY_NAME = "PPOLADMN", "Platform admins"
PD_USER_ID, PD_USER_NAME, PD_USER_EMAIL = "PUSRDRL1", "Drill Responder", "responder@clay-drill.example"
PD_ADMIN_ID, PD_ADMIN_NAME, PD_ADMIN_EMAIL = "PUSRADM1", "Platform Admin", "admin@clay-drill.example"
PD_TOKEN_ENV = "CLAY_DRILL_PAGERDUTY_TOKEN"
PD_ROUTING_KEY_ENV = "CLAY_DRILL_PAGERDUTY_ROUTING_KEY"
GRAFANA_TOKEN_ENV = "CLAY_DRILL_GRAFANA_TOKEN"
GRAFANA_ORG_NAME = "Clay Drill"
GRAFANA_DASHBOARDS = (("clay-sync-overview", "clay-sync overview"), ("clay-api-errors", "Clay API errors"))


def url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


LOGIN_EXTENSION = "clay-cockpit"  # users[].user.extensions[]: {"login": command} — how to log in again


def write_kubeconfig(path: Path, server: str, token: str, *, ca_data: str | None = None, login: str | None = None) -> Path:
    """A kubeconfig with one context for the drill's Kubernetes API.

    JSON is valid YAML, so kubectl and the official client both read it.
    Written 0600 (it holds the drill's bearer token), atomically: a login
    rewrites it while a cockpit may be reading it. ``ca_data``: the
    certificate to trust; ``login``: the command that logs in again, in the
    user's ``clay-cockpit`` extension (the cockpit names it in its re-login
    hint; kubectl ignores it, as it does minikube's extensions).
    """
    cluster: dict[str, Any] = {"server": server}
    if ca_data:
        cluster["certificate-authority-data"] = ca_data
    user: dict[str, Any] = {"token": token}
    if login:
        user["extensions"] = [{"name": LOGIN_EXTENSION, "extension": {"login": login}}]
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CLUSTER, "cluster": cluster}],
        "users": [{"name": USER, "user": user}],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CLUSTER, "user": USER, "namespace": NAMESPACE}}],
        "current-context": CONTEXT,
        "preferences": {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2)
    os.replace(tmp, path)
    return path


def drill_config(endpoints: dict[str, str], kubeconfig: Path, *, refresh_scale: float = 1.0) -> dict[str, Any]:
    """A cockpit config (TOML-ready dict) pointing at a drill's endpoints.

    ``refresh_scale`` < 1 polls faster, for drills run at ``--speed``.
    """
    from clay_cockpit.config import DEFAULT_QUERIES  # here: the demo imports this module before the config machinery

    def r(seconds: float) -> float:
        return max(0.2, round(seconds * refresh_scale, 3))

    return {
        "statuspage": {
            "url": endpoints["statuspage"],
            "provider": "auto",
            "alternative_url": endpoints["rootly"],
            "refresh": r(5.0),  # as often as health and metrics: the Clay incident it posts is part of the verdict
            "timeout": 3.0,
        },
        "health": {"url": endpoints["health"] + "/health", "refresh": r(5.0), "timeout": 3.0},
        "metrics": {
            "url": endpoints["prometheus"],
            "backup_urls": [endpoints["prometheus_backup"]],
            "refresh": r(5.0),
            "timeout": 3.0,
            "history": 900.0,
            "step": 15.0,
            "queries": {name: dict(q) for name, q in DEFAULT_QUERIES.items() if isinstance(q, dict)},  # all are
        },
        "kube": {
            "context": CONTEXT,
            "kubeconfig": str(kubeconfig),
            "namespace": NAMESPACE,
            "deployments": [DEPLOYMENT],
            "selector": SELECTOR,
            "container": CONTAINER,
            "refresh": r(3.0),
            "timeout": 3.0,
        },
        "clay": {"probe_url": endpoints["clay"] + "/v1/me"},
        "slack": {"channel": SLACK_CHANNEL, "token_env": "CLAY_DRILL_SLACK_TOKEN", "api_url": endpoints["slack"] + "/api/"},
        "external_status": {
            "api_url": endpoints["statusapi"] + "/v1",
            "page_id": PAGE_ID,
            "component_ids": list(COMPONENT_IDS),
            "token_env": "CLAY_DRILL_STATUSPAGE_KEY",
        },
        "escalation": {"contact": "drill escalation: #platform-oncall (PagerDuty: platform-primary)"},
        "pagerduty": {
            "enabled": True,
            "api_url": https(endpoints["pagerduty"]),
            "events_url": https(endpoints["pagerduty"]),
            "token_env": PD_TOKEN_ENV,
            "from_email": PD_USER_EMAIL,
            "service_ids": [PD_SERVICE_ID],
            "escalation_routing_key_env": PD_ROUTING_KEY_ENV,
            "escalation_policy_id": PD_ADMIN_POLICY_ID,
            "ca_file": str(Path(kubeconfig).parent / DRILL_CA_FILE),
            "timeout": 3.0,
            "refresh": r(5.0),
        },
        "grafana": {
            "enabled": True,
            "url": endpoints["grafana"],
            "token_env": GRAFANA_TOKEN_ENV,
            "dashboard_uids": [uid for uid, _ in GRAFANA_DASHBOARDS],
            "timeout": 3.0,
        },
    }


def https(url: str) -> str:
    """A drill endpoint as the https URL it is served at (the services in HTTPS_SERVICES)."""
    return url.replace("http://", "https://", 1)
