"""`check` rows for the HTTP sources: the status page, our health endpoint,
Prometheus (each server, each query), Clay's probe URL (the key only with
``--with-key``), Slack (token, channel, membership) and the external status
page (key, page, components).

:func:`service_rows` asks each once, concurrently, and never raises: a
failure is a FAIL row with the source's own named state and hint.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from clay_cockpit.check.rows import Row, fail, ok, warn
from clay_cockpit.signals import ErrorKind, HealthSnapshot, MetricsSnapshot, SourceError, StatusPageSnapshot
from clay_cockpit.sources.metrics import Metrics
from clay_cockpit.sources.slack import Slack, SlackError
from clay_cockpit.sources.statusapi import StatusApi
from clay_cockpit.text import safe_url


def describe(result: Any) -> str:
    """What an ok probe saw, in one line."""
    if isinstance(result, StatusPageSnapshot):
        n = len(result.incidents)
        return (
            f"{result.page_name} ({result.provider}): {result.description or result.indicator}, "
            f"{len(result.components)} components, {n} unresolved incident{'s' if n != 1 else ''} "
            f"({result.response_ms:.0f} ms)"
        )
    if isinstance(result, HealthSnapshot):
        failing = [c.name for c in result.checks if not c.ok]
        tail = f", failing: {', '.join(failing)}" if failing else ""
        return f"{result.status} (HTTP {result.http_status}), {len(result.checks)} checks{tail} ({result.response_ms:.0f} ms)"
    if isinstance(result, MetricsSnapshot):
        via = "backup " if result.is_backup else ""
        queries = len({s.query for s in result.series})
        return f"{via}{result.served_by}: {queries} queries, {len(result.series)} series ({result.response_ms:.0f} ms)"
    return str(result)


ENABLES = {
    "statuspage": "the Clay status pane and the 'Clay says' evidence",
    "health": "the integration health pane and the 5xx branch of triage",
    "metrics": "the error-rate sparklines and every metrics branch of triage",
    "slack token": "posting incident updates to Slack",
    "slack channel": "posting into the configured incident channel",
    "slack membership": "posting into the channel without a 'not_in_channel' mid-incident",
}


# ---------------------------------------------------------------- Prometheus

_SELECTOR = re.compile(r"(?<![\w:.])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*[{\[]")
_NOT_METRICS = {"by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool"}


def metric_names_in(promql: str) -> set[str]:
    """The metric names a PromQL expression selects (``name{…}`` or
    ``name[5m]``; a bare name with neither is not recognised)."""
    without_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', promql)
    return {m for m in _SELECTOR.findall(without_strings) if m not in _NOT_METRICS}


def metrics_rows(metrics: Metrics) -> list[Row]:
    """The primary and each backup asked separately (one row each: up and
    answering the API), then each configured query (one row each, on the
    first server that answered). A backup that is down is a FAIL even when
    the primary is fine: the backup exists for the moment the primary is
    gone, and finding it dead then leaves the responder without metrics.
    A query with no series is a WARN when a metric it reads is missing
    (a wrong name, a renamed metric, a scrape that stopped), and ok when its
    metrics exist and only its filter matches nothing now (no 5xx is good
    news). Blocking."""
    enables = ENABLES["metrics"]
    rows: list[Row] = []
    names_by_server: list[tuple[int, set[str]]] = []
    for index, url in enumerate(metrics.urls):
        name = "metrics" if index == 0 else f"metrics backup {index}"
        what = "the primary" if index == 0 else f"backup {index}"
        started = time.monotonic()
        names = metrics.metric_names(index)
        ms = (time.monotonic() - started) * 1000
        if isinstance(names, SourceError):
            hint = (
                names.hint
                if index == 0
                else "the cockpit fails over to this backup when the primary is down: fix it or remove it from metrics.backup_urls"
            )
            rows.append(
                fail(
                    name,
                    f"{names.kind.value}: {names.message}",
                    hint,
                    enables if index == 0 else "failover when the primary Prometheus is down",
                )
            )
            continue
        names_by_server.append((index, names))
        rows.append(
            ok(
                name,
                f"{what} {safe_url(url)} answers: {len(names)} metric names ({ms:.0f} ms)",
                enables if index == 0 else "failover when the primary Prometheus is down",
            )
        )
    for query in metrics.config.queries:
        name = f"metrics query {query.name}"
        if not names_by_server:
            rows.append(fail(name, "not checked: no Prometheus answered", "fix metrics.url or a backup first", enables))
            continue
        index, known = names_by_server[0]
        count = metrics.series_count(index, query)
        if isinstance(count, SourceError):
            rows.append(fail(name, f"{count.kind.value}: {count.message}", count.hint, enables))
            continue
        if count:
            rows.append(ok(name, f"{count} series", f"the {query.label or query.name} sparkline"))
            continue
        used = metric_names_in(query.query)
        missing = sorted(used - known)
        if used and not missing:
            rows.append(
                ok(
                    name,
                    f"no series now; its metrics exist ({', '.join(sorted(used))}), the filter matches nothing",
                    f"the {query.label or query.name} sparkline",
                )
            )
        else:
            which = f" ({', '.join(missing)} not in Prometheus)" if missing else ""
            rows.append(
                warn(
                    name,
                    f"no data: is the metric name right? query {query.name!r}: {query.query}{which}",
                    f"fix metrics.queries.{query.name} in the config (try it in the Prometheus UI); the pane shows this query as 'no data'",
                    f"the {query.label or query.name} sparkline",
                )
            )
    return rows


# ---------------------------------------------------------------- Clay


def clay_row(config: Any) -> Row:
    """The probe URL reachable and answering, without the Clay key."""
    from clay_cockpit.sources.clay_probe import probe_reachable

    enables = "verifying an API key before it is written to the Secret"
    status, text, ms = probe_reachable(config.clay, timeout=config.actions.probe_timeout)
    if status in (200, 401, 403):
        return ok("clay", f"{text} ({ms:.0f} ms)", enables)
    hint = (
        "check the network path to Clay (VPN, proxy) and clay.probe_url"
        if status is None
        else "Clay's side failed: check Clay's status page"
        if status >= 500
        else "check clay.probe_url in the config"
    )
    return fail("clay", text, hint, enables)


def clay_key_row(config: Any) -> Row:
    """``check --with-key``: the key now in the Secret, read as the cockpit
    reads it and sent to Clay's probe URL once. Shows only its fingerprint.
    A refused key is a FAIL (the integration is down or about to be); a
    429, a 5xx or no answer says nothing about the key (WARN)."""
    from clay_cockpit.actions.types import AdminError, ProbeVerdict
    from clay_cockpit.sources.clay_probe import probe_key
    from clay_cockpit.sources.kube_admin import KubeAdmin

    name, enables = "clay key", "knowing the key in the Secret works before Clay's 401s say so"
    secret = config.kube.secret
    where = f"Secret {secret.name} key {secret.key}"
    try:
        key, _rv = KubeAdmin(config.kube, read_only=True).secret_key(secret.name, secret.key)
    except AdminError as exc:
        f = exc.failure
        return fail(name, f"reading {where}: {f.kind.value}: {f.message}", f.hint, enables)
    if key is None:
        return fail(name, f"{where} does not exist", "check kube.secret.name and kube.secret.key in the config", enables)
    result = probe_key(config.clay, key, timeout=config.actions.probe_timeout)
    detail = f"{where} ({result.fingerprint}): {result.meaning}"
    if result.verdict is ProbeVerdict.VALID:
        return ok(name, f"{detail} ({result.elapsed_ms:.0f} ms)", enables)
    if result.verdict is ProbeVerdict.INVALID:
        return fail(name, detail, "rotate the key (R in the cockpit, or your secret manager), then check again", enables)
    return warn(name, detail, "the answer says nothing about the key: run the check again shortly", enables)


# ---------------------------------------------------------------- our status page (management API)


def statusapi_rows(api: StatusApi) -> list[Row]:
    """The key accepted (GET /pages), the page exists (in that list), each
    configured component ID exists (GET …/components): one row each. Blocking."""
    cfg = api.config
    enables = "posting incidents and component status to our status page"

    def hint_clean(h: str) -> str:  # no draft in check
        return h.replace("; the draft is kept", "").replace(" and retry", "")

    pages = api.pages()
    if isinstance(pages, SourceError):
        return [fail("status page key", f"{pages.kind.value}: {pages.message}", hint_clean(pages.hint), enables)]
    rows = [ok("status page key", f"accepted: it manages {len(pages)} page{'s' if len(pages) != 1 else ''}", enables)]
    page = next((p for p in pages if p.get("id") == cfg.page_id), None)
    if page is None:
        return [
            *rows,
            fail(
                "status page",
                f"page {cfg.page_id!r} is not among the pages this key manages",
                "check external_status.page_id (Statuspage: your page → API info), or use a key of that page's team",
                enables,
            ),
        ]
    rows.append(ok("status page", f"{page.get('name', '?')} ({cfg.page_id})", enables))
    components = api.components()
    if isinstance(components, SourceError):
        return [
            *rows,
            fail("status page components", f"{components.kind.value}: {components.message}", hint_clean(components.hint), enables),
        ]
    known = {c.id: c for c in components}
    for cid in cfg.component_ids:
        name = f"status page component {cid}"
        if cid in known:
            rows.append(ok(name, f"{known[cid].name} ({known[cid].status})", enables))
        else:
            rows.append(
                fail(
                    name,
                    f"no component {cid!r} on page {cfg.page_id} ({len(known)} components there)",
                    "fix external_status.component_ids: the page's components are listed under Components → API in Statuspage",
                    enables,
                )
            )
    return rows


def _slack_fail(name: str, err: SlackError) -> Row:
    hint = err.hint.replace("; the draft is kept", "").replace(" and retry", " and run check again")  # no draft in check
    return fail(name, f"{err.kind.value}: {err.message}", hint, ENABLES[name])


def slack_rows(slack: Slack) -> list[Row]:
    """auth.test, the channel resolved by name (conversations.list), the bot a
    member of it (conversations.info → is_member): one row each; a row whose
    prerequisite failed says so rather than asking again. Blocking."""
    chan = slack.config.channel
    auth = slack.auth()
    if isinstance(auth, SlackError):
        skipped = "not checked: the token check failed"
        return [
            _slack_fail("slack token", auth),
            fail("slack channel", skipped, "fix the token first", ENABLES["slack channel"]),
            fail("slack membership", skipped, "fix the token first", ENABLES["slack membership"]),
        ]
    rows = [
        ok(
            "slack token",
            f"bot {auth.get('user', '?')} ({auth.get('user_id', '?')}) in workspace {auth.get('team', '?')} ({auth.get('team_id', '?')})",
            ENABLES["slack token"],
        )
    ]
    found = slack.find_channel()
    if isinstance(found, SlackError):
        return [
            *rows,
            _slack_fail("slack channel", found),
            fail("slack membership", f"not checked: {chan} was not found", "fix slack.channel first", ENABLES["slack membership"]),
        ]
    cid = str(found.get("id", ""))
    rows.append(ok("slack channel", f"{chan} is {cid}", ENABLES["slack channel"]))
    info = slack.channel_info(cid)
    if isinstance(info, SlackError):
        return [*rows, _slack_fail("slack membership", info)]
    if not info.get("is_member"):
        return [
            *rows,
            fail(
                "slack membership",
                f"the bot {auth.get('user', '')} is not a member of {chan} ({cid})",
                f"in Slack, type /invite @{auth.get('user', 'the-bot')} in {chan}",
                ENABLES["slack membership"],
            ),
        ]
    return [*rows, ok("slack membership", f"the bot is a member of {chan}", ENABLES["slack membership"])]


def row(name: str, result: Any) -> Row:
    if isinstance(result, BaseException):  # a source broke its contract: report, don't crash
        result = SourceError(
            name, ErrorKind.BAD_RESPONSE, f"{type(result).__name__} while probing", "this is a bug in clay-cockpit; please report it"
        )
    if isinstance(result, SourceError):
        return fail(name, f"{result.kind.value}: {result.message}", result.hint, ENABLES.get(name, ""))
    return ok(name, describe(result), ENABLES.get(name, ""))


async def service_rows(config: Any, sources: Any, *, with_key: bool = False) -> list[Row]:
    """One row per HTTP source, in a fixed order. Never raises. ``with_key``
    also sends the key in the Secret to Clay (off by default: nothing secret
    leaves the laptop unless asked)."""
    names = ("statuspage", "health")
    results = await asyncio.gather(
        sources.statuspage.fetch(),
        sources.health.fetch(),
        asyncio.to_thread(metrics_rows, Metrics(config.metrics)),
        asyncio.to_thread(lambda: [clay_row(config), *([clay_key_row(config)] if with_key else [])]),
        asyncio.to_thread(slack_rows, Slack(config.slack, max_retries=1)),
        asyncio.to_thread(statusapi_rows, StatusApi(config.external_status, max_retries=1)),
        return_exceptions=True,
    )
    rows = [row(name, result) for name, result in zip(names, results)]
    for first, result in zip(("metrics", "clay", "slack token", "status page key"), results[len(names) :]):
        if isinstance(result, BaseException):  # a checker broke its contract: report, don't crash
            result = [row(first, result)]
        rows.extend(result)
    return rows
