"""`clay-cockpit check`: validate the config, then prove every prerequisite
of the runbook once, before the page.

One row per check: ok / warn / FAIL, what was seen, what it enables and, when
not ok, the hint. ``--json`` prints the same rows as a JSON list. Exit 0 when
nothing failed (warnings allowed), 1 when any check failed, 2 for a config or
usage error (raised before any probe).

The rows come from the checkers: :mod:`clay_cockpit.check.services` (the HTTP
sources), :mod:`clay_cockpit.check.kube` (Kubernetes) and
:mod:`clay_cockpit.check.paging` (PagerDuty and Grafana, when enabled).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from clay_cockpit.check.rows import Row, Status, fail, ok, warn
from clay_cockpit.redact import redact
from clay_cockpit.sanitise import clean


async def run_checks(config: Any, sources: Any, *, read_only: bool = False, with_key: bool = False) -> list[Row]:
    """Every checker, concurrently; rows in a fixed order. Never raises."""
    from clay_cockpit.check.kube import kube_rows
    from clay_cockpit.check.paging import paging_rows
    from clay_cockpit.check.services import service_rows

    results = await asyncio.gather(
        service_rows(config, sources, with_key=with_key),
        kube_rows(config, sources, read_only=read_only),
        paging_rows(config, sources),
        return_exceptions=True,
    )
    rows: list[Row] = []
    for what, result in zip(("services", "kube", "paging"), results):
        if isinstance(result, BaseException):  # a checker broke its contract: one row says so, the others still show
            rows.append(
                fail(
                    what,
                    f"the check itself failed: {type(result).__name__}: {redact(result)}",
                    "this is a bug in clay-cockpit; please report it with `clay-cockpit info`",
                )
            )
        else:
            rows.extend(result)
    return rows


def runbook_row(config: Any) -> Row:
    """The runbook in effect (issue 18) and whether its rules can be kept with this config: a rule on the status
    page's updates needs the status page configured (without it the cockpit cannot send one, and counts nothing)."""
    from clay_cockpit import runbook_file
    from clay_cockpit.runbook import RUNBOOK

    said = f"{RUNBOOK.source} ({'from ' + runbook_file.RUNBOOK_FROM if runbook_file.RUNBOOK_FROM else 'the shipped one'})"
    rules = [c for c in RUNBOOK.constraints if c.kind == "update_within" and c.channel == "status_page"]
    if rules and not config.external_status.page_id:
        return warn(
            "runbook",
            f"{said}; its rule '{rules[0].describe()}' names the status page, and the config has no external_status.page_id",
            "set [external_status] page_id (and its token) so the cockpit can send the update and count the rule down",
            "the runbook's status page rules",
        )
    return ok("runbook", said + (f", {len(RUNBOOK.constraints)} constraint(s)" if RUNBOOK.constraints else ""))


def render(rows: list[Row]) -> str:
    """The table: name, status, then what was seen; below a row that is not
    ok, what it is needed for and the hint, each on its own line (``--json``
    carries ``enables`` for every row)."""
    width = max((len(r.name) for r in rows), default=0)
    width = max(width, 10)
    lines = []
    for r in rows:
        lines.append(f"{r.name:<{width}} {r.status.value:<5} {r.detail}")
        if r.status is not Status.OK and r.enables:
            lines.append(f"{'':<{width}}       needed for: {r.enables}")
        if r.status is not Status.OK and r.hint:
            lines.append(f"{'':<{width}}       → {r.hint}")
    lines.append(summary(rows))
    return "\n".join(lines)


def summary(rows: list[Row]) -> str:
    """The last line: how many checks and how many failed or warned, by name."""
    failed = [r.name for r in rows if r.status is Status.FAIL]
    warned = [r.name for r in rows if r.status is Status.WARN]
    if not failed and not warned:
        return f"\nall {len(rows)} checks passed"
    parts = [
        f"{len(failed)} failed ({', '.join(failed)})" if failed else "",
        f"{len(warned)} warned ({', '.join(warned)})" if warned else "",
    ]
    return f"\n{len(rows)} checks: " + "; ".join(p for p in parts if p)


def exit_code(rows: list[Row]) -> int:
    return 1 if any(r.status is Status.FAIL for r in rows) else 0


def cmd_check(args: argparse.Namespace) -> int:
    from clay_cockpit.cli_common import load_user_config
    from clay_cockpit.sources import Sources

    config = load_user_config(args.config)
    checked = run_checks(config, Sources(config), read_only=getattr(args, "read_only", False), with_key=getattr(args, "with_key", False))
    rows = [ok("config", str(config.source)), runbook_row(config), *asyncio.run(checked)]
    if getattr(args, "json", False):
        print(json.dumps([r.as_dict() for r in rows], indent=2))
    else:
        print(clean(render(rows)))  # rows quote the services' answers: nothing in them drives the terminal (clay_cockpit.sanitise)
    sys.stdout.flush()
    return exit_code(rows)
