"""`check` rows for the HTTP sources: the status page, our health endpoint,
Prometheus, Slack (token, channel, membership) (and, as other issues add
them, Clay's probe, the external status page).

:func:`service_rows` asks each once, concurrently, and never raises: a
failure is a FAIL row with the source's own named state and hint.
"""

from __future__ import annotations

import asyncio
from typing import Any

from cockpit.check_rows import Row, fail, ok
from cockpit.sources.slack import Slack, SlackError
from cockpit.signals import ErrorKind, HealthSnapshot, MetricsSnapshot, SourceError, StatusPageSnapshot


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
        return [_slack_fail("slack token", auth),
                fail("slack channel", skipped, "fix the token first", ENABLES["slack channel"]),
                fail("slack membership", skipped, "fix the token first", ENABLES["slack membership"])]
    rows = [ok("slack token", f"bot {auth.get('user', '?')} ({auth.get('user_id', '?')}) in workspace "
                              f"{auth.get('team', '?')} ({auth.get('team_id', '?')})", ENABLES["slack token"])]
    found = slack.find_channel()
    if isinstance(found, SlackError):
        return [*rows, _slack_fail("slack channel", found),
                fail("slack membership", f"not checked: {chan} was not found", "fix slack.channel first", ENABLES["slack membership"])]
    cid = str(found.get("id", ""))
    rows.append(ok("slack channel", f"{chan} is {cid}", ENABLES["slack channel"]))
    info = slack.channel_info(cid)
    if isinstance(info, SlackError):
        return [*rows, _slack_fail("slack membership", info)]
    if not info.get("is_member"):
        return [*rows, fail("slack membership", f"the bot {auth.get('user', '')} is not a member of {chan} ({cid})",
                            f"in Slack, type /invite @{auth.get('user', 'the-bot')} in {chan}", ENABLES["slack membership"])]
    return [*rows, ok("slack membership", f"the bot is a member of {chan}", ENABLES["slack membership"])]


def row(name: str, result: Any) -> Row:
    if isinstance(result, BaseException):  # a source broke its contract: report, don't crash
        result = SourceError(name, ErrorKind.BAD_RESPONSE, f"{type(result).__name__} while probing",
                             "this is a bug in clay-cockpit; please report it")
    if isinstance(result, SourceError):
        return fail(name, f"{result.kind.value}: {result.message}", result.hint, ENABLES.get(name, ""))
    return ok(name, describe(result), ENABLES.get(name, ""))


async def service_rows(config: Any, sources: Any) -> list[Row]:
    """One row per HTTP source, in a fixed order. Never raises."""
    names = ("statuspage", "health", "metrics")
    results = await asyncio.gather(
        sources.statuspage.fetch(),
        sources.health.fetch(),
        asyncio.to_thread(sources.metrics.fetch),
        asyncio.to_thread(slack_rows, Slack(config.slack, max_retries=1)),
        return_exceptions=True,
    )
    rows = [row(name, result) for name, result in zip(names, results)]
    slack = results[len(names)]
    if isinstance(slack, BaseException):  # slack_rows broke its contract: report, don't crash
        slack = [row("slack token", slack)]
    return rows + slack
