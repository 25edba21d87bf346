"""`check` rows for PagerDuty and Grafana (issue 16), each only when its
section is enabled.

PagerDuty: the token (GET /abilities: a read every token may do, account
tokens included), each configured service (GET /services/{id}), the
escalation policy when one is set, the escalation routing key (only whether
its variable is set: the one real test of an Events API key is an event, and
an event pages someone), the From email. Grafana: the token (GET /api/org:
/api/health answers without one), each dashboard UID.

A row whose prerequisite failed says so rather than asking again. Nothing
here raises and no row carries a credential: the messages come from the
sources, built from status codes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from typing import Any

from clay_cockpit.check.rows import Row, fail, ok, warn
from clay_cockpit.signals import SourceError
from clay_cockpit.sources.grafana import Grafana
from clay_cockpit.sources.pagerduty import PagerDuty, PagerDutyService
from clay_cockpit.text import safe_url

PD_TOKEN = "pagerduty token"
GRAFANA_TOKEN = "grafana token"
SKIPPED = "not checked: the token check failed"


def _fail(name: str, err: SourceError, enables: str) -> Row:
    return fail(name, f"{err.kind.value}: {err.message}", err.hint, enables)


def _ms(started: float) -> str:
    return f"{(time.monotonic() - started) * 1000:.0f} ms"


def _service_row(sid: str, found: PagerDutyService | SourceError) -> Row:
    name = f"pagerduty service {sid}"
    if isinstance(found, SourceError):
        return _fail(name, found, f"the page pane: incidents of service {sid}")
    enables = f"the page pane: incidents of {found.name}"
    policy = f", escalation policy {found.escalation_policy}" if found.escalation_policy else ""
    if found.status == "disabled":
        return warn(
            name,
            f"{found.name}: disabled{policy}",
            "a disabled service opens no incidents: enable it in PagerDuty or remove it from pagerduty.service_ids",
            enables,
        )
    return ok(name, f"{found.name} ({found.status or 'status unknown'}){policy}", enables)


def _routing_key_row(pd: PagerDuty) -> Row:
    cfg = pd.config
    name, enables = "pagerduty routing key", "escalating: an Events API v2 trigger to the escalation target's service"
    untested = "not sent: the only real test of an Events API key is an event, and an event pages someone"
    if not cfg.escalation_routing_key_env:
        if cfg.escalation_policy_id:
            return ok(name, "not set (pagerduty.escalation_routing_key_env is empty): escalating reassigns to the policy", enables)
        return warn(
            name,
            "not set, and no pagerduty.escalation_policy_id either: escalating has no PagerDuty target",
            "set pagerduty.escalation_routing_key_env (the variable holding the escalation service's integration key) "
            "or pagerduty.escalation_policy_id",
            enables,
        )
    env = cfg.escalation_routing_key_env
    if pd.routing_key_set():
        return ok(name, f"${env} is set ({untested})", enables)
    return fail(
        name,
        f"${env} is not set",
        f"export {env}=<the Events API v2 integration key of the escalation target's service> in the cockpit's environment",
        enables,
    )


def pagerduty_rows(pd: PagerDuty) -> list[Row]:
    """The token, each service, the escalation policy, the routing key, the
    From email: one row each. Blocking."""
    cfg = pd.config
    enables = "the page pane: listing, acknowledging, noting and resolving pages"
    started = time.monotonic()
    abilities = pd.abilities()
    rows: list[Row] = []
    if isinstance(abilities, SourceError):
        rows.append(_fail(PD_TOKEN, abilities, enables))
        rows.extend(fail(f"pagerduty service {sid}", SKIPPED, "fix the token first") for sid in cfg.service_ids)
        if cfg.escalation_policy_id:
            rows.append(fail("pagerduty escalation policy", SKIPPED, "fix the token first"))
    else:
        rows.append(ok(PD_TOKEN, f"${cfg.token_env} accepted by {safe_url(cfg.api_url)} ({_ms(started)})", enables))
        rows.extend(_service_row(sid, pd.service(sid)) for sid in cfg.service_ids)
        if cfg.escalation_policy_id:
            policy = pd.escalation_policy(cfg.escalation_policy_id)
            what = "escalating: reassigning the incident to the escalation policy"
            if isinstance(policy, SourceError):
                rows.append(_fail("pagerduty escalation policy", policy, what))
            else:
                rows.append(ok("pagerduty escalation policy", f"{policy} ({cfg.escalation_policy_id})", what))
    rows.append(_routing_key_row(pd))
    if cfg.from_email:
        rows.append(ok("pagerduty from", f"writes act as {cfg.from_email} (the From header; a wrong one shows at the first write)"))
    else:
        rows.append(fail("pagerduty from", "not set", "set pagerduty.from_email to the email of a PagerDuty user", "every write"))
    return rows


def grafana_rows(grafana: Grafana) -> list[Row]:
    """The token (the organisation it belongs to), then each dashboard UID. Blocking."""
    cfg = grafana.config
    enables = "annotating the dashboards and linking them for the incident's range"
    started = time.monotonic()
    org = grafana.org()
    if isinstance(org, SourceError):
        return [
            _fail(GRAFANA_TOKEN, org, enables),
            *(fail(f"grafana dashboard {uid}", SKIPPED, "fix the token first") for uid in cfg.dashboard_uids),
        ]
    rows = [
        ok(
            GRAFANA_TOKEN,
            f"${cfg.token_env} accepted: organisation {org} ({_ms(started)}); whether it may annotate is not tried (that would write)",
            enables,
        )
    ]
    for uid in cfg.dashboard_uids:
        name = f"grafana dashboard {uid}"
        found = grafana.dashboard(uid)
        if isinstance(found, SourceError):
            rows.append(_fail(name, found, f"annotating and linking dashboard {uid}"))
        else:
            title, path = found
            rows.append(ok(name, f"{title} ({path})", f"annotating and linking {title}"))
    return rows


async def paging_rows(config: Any, sources: Any) -> list[Row]:
    """PagerDuty's rows then Grafana's, each only when enabled. Never raises."""
    names: list[str] = []
    jobs: list[Coroutine[Any, Any, list[Row]]] = []
    if config.pagerduty.enabled:
        names.append(PD_TOKEN)
        jobs.append(asyncio.to_thread(lambda: pagerduty_rows(sources.pagerduty)))
    if config.grafana.enabled:
        names.append(GRAFANA_TOKEN)
        jobs.append(asyncio.to_thread(lambda: grafana_rows(sources.grafana)))
    results = await asyncio.gather(*jobs, return_exceptions=True)
    rows: list[Row] = []
    for name, result in zip(names, results):
        if isinstance(result, BaseException):  # a checker broke its contract: report, don't crash
            rows.append(fail(name, f"the check itself failed: {type(result).__name__}", "this is a bug in clay-cockpit; please report it"))
        else:
            rows.extend(result)
    return rows
