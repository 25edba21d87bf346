"""`clay-cockpit runbook show | check`: the runbook file on the command line
(issue 18).

``show`` prints the effective runbook (the shipped ``config/runbook.toml``,
or ``--runbook FILE``) readably: the severities with their response targets,
the branches with the actions each recommends in order, the steps and their
items (which ones the cockpit ticks itself, on which signal), the actions,
and the team's notes and links. ``check FILE`` reads and checks a team's
file (exit 2 with the one-line error), then says what it changes when the
cockpit runs with it (``clay-cockpit --runbook FILE``, ``demo --runbook FILE``).
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

# (clay_cockpit.runbook is imported inside the commands: the parser imports this module, and the runbook
# module reads --runbook's file at its import, which must come after the flag is read)
from clay_cockpit.runbook_file import (
    NEXT_BUSINESS_DAY,
    ActionId,
    Constraint,
    Runbook,
    check_capabilities,
    load_runbook,
    shipped_path,
)
from clay_cockpit.sanitise import clean_line

#: Items the cockpit ticks by their key (the Slack update and the status page
#: update it posts); a file without them loses those ticks.
TICKED_BY_KEY = ("slack_update", "status_page_update")


def add_runbook_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="runbook_command", metavar="ACTION", required=True)
    show = sub.add_parser("show", help="print the effective runbook", description="Print the effective runbook readably.")
    show.add_argument("--runbook", metavar="FILE", help="a team's runbook file (default: the shipped config/runbook.toml)")
    check = sub.add_parser(
        "check", help="validate a runbook file", description="Validate a runbook file: exit 0 when good, 2 with a one-line error."
    )
    check.add_argument("file", metavar="FILE", help="the runbook file to check")


def cmd_runbook(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run ``runbook show`` or ``runbook check``; a bad file raises ConfigError (the CLI's exit 2)."""
    out = out or sys.stdout
    if args.runbook_command == "check":
        rb = load_runbook(args.file)
        check_capabilities(rb)
        for line in check_report(rb):
            print(line, file=out)
        return 0
    from clay_cockpit.runbook import RUNBOOK

    rb = load_runbook(args.runbook) if args.runbook else RUNBOOK
    for line in show_lines(rb, shipped=not args.runbook):
        print(line, file=out)
    return 0


def check_report(rb: Runbook) -> list[str]:
    """One line that the file is good, then what the running cockpit does not use of it."""
    items = [item for step in rb.steps for item in step.items]
    lines = [
        f"{clean_line(rb.source)}: ok — {len(rb.severities)} severities, {len(rb.branches)} branches, "
        f"{len(rb.steps)} steps, {len(items)} items, {len(rb.actions)} actions, {len(rb.notes)} notes, {len(rb.links)} links"
    ]
    differs = differences(rb, load_runbook(shipped_path()))
    if differs:
        lines.append(f"run with it: clay-cockpit --runbook {clean_line(rb.source)} (or demo --runbook …); what it changes:")
        lines += [f"  - {d}" for d in differs]
        if rb.notes or rb.links:
            lines.append("  (its notes and links show under the checklist's steps, as Team notes)")
    else:
        lines.append("the same runbook as the shipped one: the cockpit runs it as it is")
    keys = {item.key for item in items}
    lost = [k for k in TICKED_BY_KEY if k not in keys]
    if lost:
        lines.append(f"note: no item {', '.join(lost)}: the cockpit ticks it when it posts the update, and would have nothing to tick")
    lines.append(
        "which branch and severity a drill reaches is decided in code (cockpit/triage/) on the signals and the config's [thresholds]: no runbook file changes it"
    )
    return lines


def differences(rb: Runbook, shipped: Runbook) -> list[str]:
    """What ``rb`` says that ``shipped`` does not, one line each."""
    out: list[str] = []
    for sev, level in rb.severities.items():
        if level != shipped.severities[sev]:
            out.append(f"severity {sev.value}: {clean_line(level.name)}, {clean_line(level.response)}")
    for b, spec in rb.branches.items():
        ours = shipped.branches[b]
        if spec.label != ours.label or spec.when != ours.when:
            out.append(f"branch {b.value}: label or wording ({clean_line(spec.label)})")
        if spec.actions != ours.actions:
            out.append(f"branch {b.value}: its actions")
    for aid, a in rb.actions.items():
        if (a.text, a.done) != (shipped.actions[aid].text, shipped.actions[aid].done):
            out.append(f"action {aid.value}: {clean_line(a.text)}")
    old = {item.key: item for step in shipped.steps for item in step.items}
    for step, theirs in zip(rb.steps, shipped.steps):
        if step.title != theirs.title:
            out.append(f"step {step.number}: {clean_line(step.title)}")
        for item in step.items:
            if item.key not in old:
                out.append(f"item {clean_line(item.key)} (added to step {step.number})")
            elif item != old[item.key]:
                out.append(f"item {clean_line(item.key)}: changed")
    new = {item.key for step in rb.steps for item in step.items}
    out += [f"item {k}: removed" for k in old if k not in new]
    out += [f"note: {clean_line(n)}" for n in rb.notes if n not in shipped.notes]
    out += [f"link: {clean_line(x.title)}" for x in rb.links if x not in shipped.links]
    out += [f"constraint: {constraint_line(c, rb.timezone)}" for c in rb.constraints if c not in shipped.constraints]
    if rb.timezone != shipped.timezone:
        out.append(f"timezone: {rb.timezone or 'local'}")
    return out


def _response(seconds: float | None) -> str:
    if seconds is None:
        return NEXT_BUSINESS_DAY
    return f"{seconds / 3600:g} h" if seconds >= 3600 else f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def _action(rb: Runbook, aid: ActionId) -> str:
    spec = rb.actions[aid]
    how = f" [key {spec.key}]" if spec.key else " [outside the cockpit]" if spec.outside else ""
    return clean_line(spec.text) + how


def constraint_line(k: Constraint, zone: str = "") -> str:
    """``restart needs the incident commander 09:00-18:00 (mon, …, fri): <why>``."""
    return clean_line(k.describe(zone))


def show_lines(rb: Runbook, shipped: bool = False) -> list[str]:
    """The runbook, readably: what `clay-cockpit runbook show` prints."""
    c = clean_line
    lines = [f"Runbook: {c(rb.source)}" + (" (shipped)" if shipped else ""), "", "Severities"]
    for sev, level in rb.severities.items():
        lines.append(f"  {sev.value}  {c(level.name)} — respond {c(level.response)} (clock: {_response(level.response_seconds)})")
        lines.append(f"      e.g. {c(level.examples)}")
    lines += ["", "Branches (chosen by the cockpit's triage on the live signals and the config's [thresholds])"]
    for b, spec in rb.branches.items():
        lines.append(f"  {c(spec.label)} ({b.value}): {c(spec.when)}")
        for err, acts in spec.actions:
            lines.append(f"      {err.value}: " + "; ".join(f"{n}. {_action(rb, a)}" for n, a in enumerate(acts, 1)))
    lines += ["", "Steps ([auto: SIGNAL]: the cockpit ticks it itself when that signal is read)"]
    for step in rb.steps:
        lines.append(f"  {step.number}. {c(step.title)}")
        for item in step.items:
            auto = f"[auto: {item.auto}] " if item.auto else "[ ] "
            when = " + ".join(
                [rb.branches[b].label if b in rb.branches else b.value for b in sorted(item.branches)]
                + [e.value for e in sorted(item.errors)]
            )
            lines.append(f"     {auto}{c(item.text)}  ({c(item.key)}" + (f"; when {when}" if when else "") + ")")
            if item.action is not None:
                lines.append(f"         → {_action(rb, item.action)}")
    lines += ["", "Actions (as offered → once in effect)"]
    for aid, act in rb.actions.items():
        lines.append(f"  {aid.value}: {_action(rb, aid)} → {c(act.done)}")
    lines += ["", "Notes"] + ([f"  - {c(n)}" for n in rb.notes] or ["  (none)"])
    lines += ["", "Links"] + ([f"  - {c(x.title)}: {c(x.url)}" for x in rb.links] or ["  (none)"])
    zone = f" (hours in {rb.timezone})" if rb.timezone else " (hours in the machine's local time)"
    lines += ["", "Constraints (the cockpit enforces or reminds)" + (zone if rb.constraints else "")]
    lines += [f"  - {constraint_line(k, rb.timezone)}" for k in rb.constraints] or ["  (none)"]
    return lines
