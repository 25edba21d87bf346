"""`check` rows for the HTTP sources: the status page, our health endpoint,
Prometheus (and, as other issues add them, Clay's probe, Slack, the external
status page).

:func:`service_rows` asks each once, concurrently, and never raises: a
failure is a FAIL row with the source's own named state and hint.
"""

from __future__ import annotations

import asyncio
from typing import Any

from cockpit.check_rows import Row, fail, ok
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
}


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
        return_exceptions=True,
    )
    return [row(name, result) for name, result in zip(names, results)]
