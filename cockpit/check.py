"""`clay-cockpit check`: validate the config, probe every source once.

One line per source: ok with what it saw, or FAIL with the named failure and
the hint. Exit 0 when all answer, 1 when any fails (2 for a config error,
raised before any probe).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from typing import Any

from cockpit.signals import (
    ErrorKind,
    HealthSnapshot,
    MetricsSnapshot,
    PodsSnapshot,
    SourceError,
    StatusPageSnapshot,
)


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
    if isinstance(result, PodsSnapshot):
        ready = sum(1 for p in result.pods if p.is_ready)
        return (
            f"context {result.context or '(current)'}, namespace {result.namespace}: "
            f"{len(result.pods)} pods, {ready} ready ({result.response_ms:.0f} ms)"
        )
    return str(result)


async def probe(sources: Any) -> list[tuple[str, Any]]:
    """Ask every source once, concurrently. Never raises."""

    def blocking(call: Callable[[], Any]) -> Any:
        return asyncio.to_thread(call)

    names = ("statuspage", "health", "metrics", "kube")
    calls = (
        lambda: sources.statuspage.fetch(),
        lambda: sources.health.fetch(),
        lambda: blocking(lambda: sources.metrics.fetch()),
        lambda: blocking(lambda: sources.kube.list_pods()),
    )
    results = await asyncio.gather(*(c() for c in calls), return_exceptions=True)
    out: list[tuple[str, Any]] = []
    for name, result in zip(names, results):
        if isinstance(result, BaseException):  # a source broke its contract: report, don't crash
            result = SourceError(name, ErrorKind.BAD_RESPONSE, f"{type(result).__name__} while probing", "this is a bug in clay-cockpit; please report it")
        out.append((name, result))
    return out


def cmd_check(args: argparse.Namespace) -> int:
    from cockpit.cli import load_user_config
    from cockpit.sources import Sources

    config = load_user_config(args.config)
    print(f"{'config':<11} ok    {config.source}")
    failed = 0
    for name, result in asyncio.run(probe(Sources(config))):
        if isinstance(result, SourceError):
            failed += 1
            print(f"{name:<11} FAIL  {result.line()}")
        else:
            print(f"{name:<11} ok    {describe(result)}")
    sys.stdout.flush()
    return 1 if failed else 0
