"""`clay-cockpit runbook show | check`: the runbook file on the command line
(issue 18).

``show`` prints the effective runbook (the shipped ``config/runbook.toml``,
or ``--runbook FILE``) readably: the severities with their response targets,
the branches with the actions each recommends in order, the steps and their
items (which ones the cockpit ticks itself, on which signal), the actions,
and the team's notes and links. ``check FILE`` reads and checks a team's
file (exit 2 with the one-line error), then says what it changes when the
cockpit runs with it (``clay-cockpit --runbook FILE``, ``demo --runbook FILE``),
then drills it: each shipped scenario (or ``--scenario NAME``'s) runs headless
with the file and with the shipped runbook, each runbook in its own child
process (:mod:`clay_cockpit.runbook_drill`: the runbook binds at import), a few
at once, and one block per scenario says what the responder is shown (the
branch's label, the severity's name and response target, the actions in the
file's order and the next key, the checklist items that apply, the
constraints on those actions) and what differs from the shipped runbook.
``--no-drills``: only the check.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import IO, Any, TextIO

from clay_cockpit.paths import ConfigError

# (clay_cockpit.runbook is imported inside the commands: the parser imports this module, and the runbook
# module reads --runbook's file at its import, which must come after the flag is read)
from clay_cockpit.runbook_file import (
    NEXT_BUSINESS_DAY,
    RUNBOOK_ENV,
    ActionId,
    Constraint,
    Runbook,
    check_capabilities,
    load_runbook,
    shipped_path,
    use_config_runbook,
)
from clay_cockpit.sanitise import clean_line

#: Items the cockpit ticks by their key (the Slack update and the status page
#: update it posts); a file without them loses those ticks.
TICKED_BY_KEY = ("slack_update", "status_page_update")


def add_runbook_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="runbook_command", metavar="ACTION", required=True)
    show = sub.add_parser("show", help="print the effective runbook", description="Print the effective runbook readably.")
    show.add_argument(
        "--runbook",
        metavar="FILE",
        help="a team's runbook file (default: $CLAY_COCKPIT_RUNBOOK, then the config's [runbook] file, then the shipped one)",
    )
    show.add_argument("--config", metavar="PATH", help="the config whose [runbook] file the cockpit would run (default: as it finds it)")
    show.add_argument("--env", metavar="NAME", help="the config's environment (its [env.NAME] runbook.file)")
    check = sub.add_parser(
        "check",
        help="validate a runbook file, then show its effect on each shipped drill scenario",
        description="Validate a runbook file (exit 2 with a one-line error), then run each shipped drill scenario headless "
        "with it and with the shipped runbook, and print what the responder is shown (branch, severity, actions in order "
        "and the next key, checklist items) and what differs. Exit 0; 1 when a drill could not run.",
    )
    check.add_argument("file", metavar="FILE", help="the runbook file to check")
    check.add_argument(
        "--scenario",
        metavar="NAME",
        action="append",
        dest="scenarios",
        help="drill only this shipped scenario (repeatable; default: all of them)",
    )
    check.add_argument("--no-drills", action="store_true", help="only validate the file and list what it changes")


def cmd_runbook(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run ``runbook show`` or ``runbook check``; a bad file raises ConfigError (the CLI's exit 2)."""
    out = out or sys.stdout
    if args.runbook_command == "check":
        rb, base = load_runbook(args.file), load_runbook(shipped_path())  # base: the shipped runbook, read once
        check_capabilities(rb, base)
        names = [] if args.no_drills else chosen_scenarios(args.scenarios)
        for line in check_report(rb, base):
            print(line, file=out)
        if args.no_drills:
            return 0
        return drill_report(rb, base, names, out)
    if not args.runbook and not os.environ.get(RUNBOOK_ENV):
        _config_runbook(getattr(args, "config", None), getattr(args, "env", None))  # the runbook the cockpit would run
    from clay_cockpit import runbook_file
    from clay_cockpit.runbook import RUNBOOK

    rb = load_runbook(args.runbook) if args.runbook else RUNBOOK
    shipped = os.path.abspath(rb.source) == os.path.abspath(shipped_path())
    origin = "--runbook" if args.runbook else runbook_file.RUNBOOK_FROM
    for line in show_lines(rb, shipped=shipped, origin="" if shipped else origin):
        print(line, file=out)
    return 0


def _config_runbook(cli_path: str | None, env: str | None) -> None:
    """The config's ``[runbook] file`` in effect, as for the cockpit: the config found as the cockpit finds it
    (one that does not exist, unless named, means the shipped runbook)."""
    from clay_cockpit.config import load_config
    from clay_cockpit.paths import config_location

    path, _origin = config_location(cli_path)
    if not cli_path and not path.is_file():
        return
    config = load_config(path, env)
    use_config_runbook(config.runbook.file, config.source)


def check_report(rb: Runbook, shipped: Runbook) -> list[str]:
    """One line that the file is good, then what the running cockpit does not use of it."""
    items = [item for step in rb.steps for item in step.items]
    lines = [
        f"{clean_line(rb.source)}: ok — {len(rb.severities)} severities, {len(rb.branches)} branches, "
        f"{len(rb.steps)} steps, {len(items)} items, {len(rb.actions)} actions, {len(rb.notes)} notes, {len(rb.links)} links"
    ]
    differs = differences(rb, shipped)
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


def chosen_scenarios(wanted: list[str] | None) -> list[str]:
    """The shipped scenarios ``--scenario`` names (all of them by default); an unknown one is the CLI's one-line error."""
    from clay_cockpit.sim.scenario import scenario_names

    known = scenario_names()
    for name in wanted or ():
        if name not in known:
            raise ConfigError("--scenario", "", f"a shipped scenario: {', '.join(known)}", repr(name))
    return list(dict.fromkeys(wanted)) if wanted else known


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
    for step in rb.steps:
        theirs = shipped.steps[step.number - 1] if step.number <= len(shipped.steps) else None
        if theirs is None:
            out.append(f"step {step.number} (the team's): {clean_line(step.title)}")
        elif step.title != theirs.title:
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


def show_lines(rb: Runbook, shipped: bool = False, origin: str = "") -> list[str]:
    """The runbook, readably: what `clay-cockpit runbook show` prints (``origin``: what chose a team's file)."""
    c = clean_line
    said = " (shipped)" if shipped else f" (from {origin})" if origin else ""
    lines = [f"Runbook: {c(rb.source)}{said}", "", "Severities"]
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


# --------------------------------------------------------------------------
# The drills: each shipped scenario run headless with the file and with the shipped runbook

#: Children running at once (each drills a share of the scenarios with one runbook): the drills are
#: mostly waiting on their own servers, so four fit two cores.
DRILL_JOBS = 4
#: Seconds a child may take: to start, and then for each of its scenarios (one takes 3 to 6 s alone).
CHILD_START_SECONDS = 60.0
SCENARIO_SECONDS = 90.0
DRILL_MODULE = "clay_cockpit.runbook_drill"
#: How the error classes read beside the actions.
ERROR_CODES = {"auth": "401/403", "rate_limit": "429", "server": "5xx"}


@dataclass
class Child:
    """One ``python -m clay_cockpit.runbook_drill`` process: one runbook, some scenarios."""

    kind: str  # "team" or "shipped"
    path: str  # the runbook file it runs with ($CLAY_COCKPIT_RUNBOOK)
    scenarios: list[str]
    proc: subprocess.Popen[bytes] | None = None
    stdout: IO[bytes] | None = None
    stderr: IO[bytes] | None = None
    deadline: float = 0.0
    timed_out: bool = False
    results: dict[str, dict[str, Any]] = field(default_factory=dict)

    def start(self) -> None:
        env = dict(os.environ, CLAY_COCKPIT_RUNBOOK=self.path)  # (the runbook's constants bind at the child's import)
        self.stdout, self.stderr = tempfile.TemporaryFile(), tempfile.TemporaryFile()
        # -P: the installed package, never a folder of the same name in the working directory
        self.proc = subprocess.Popen(
            [sys.executable, "-P", "-m", DRILL_MODULE, *self.scenarios],
            stdin=subprocess.DEVNULL,
            stdout=self.stdout,
            stderr=self.stderr,
            env=env,
        )
        self.deadline = time.monotonic() + CHILD_START_SECONDS + SCENARIO_SECONDS * len(self.scenarios)

    def poll(self) -> bool:
        """True once it has ended (killed at its deadline)."""
        if self.proc is None:
            return False
        if self.proc.poll() is not None:
            return True
        if time.monotonic() > self.deadline:
            self.timed_out = True
            self.kill()
            return True
        return False

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def read(self) -> None:
        """Its results by scenario; a scenario it did not report is an error saying why."""
        assert self.stdout is not None and self.stderr is not None and self.proc is not None
        self.stdout.seek(0)
        self.stderr.seek(0)
        out = self.stdout.read().decode("utf-8", "replace").splitlines()
        err = [line for line in self.stderr.read().decode("utf-8", "replace").splitlines() if line.strip()]
        self.stdout.close()
        self.stderr.close()
        for line in out:
            try:
                doc = json.loads(line)
            except json.JSONDecodeError:
                continue  # not ours (a library's print): the scenario then has no result, said below
            if isinstance(doc, dict) and isinstance(doc.get("scenario"), str):
                self.results[doc["scenario"]] = doc
            elif isinstance(doc, dict) and "runbook" in doc and doc["runbook"] != self.path:  # its first line: what it ran
                err.append(f"it ran the runbook {doc['runbook']}, not {self.path}")
                self.results.clear()
                break
        if self.timed_out:
            why = f"it did not finish within {CHILD_START_SECONDS + SCENARIO_SECONDS * len(self.scenarios):g} s"
        else:
            why = f"its process ended with exit code {self.proc.returncode}" + (f": {err[-1].strip()}" if err else "")
        for name in self.scenarios:
            self.results.setdefault(name, {"scenario": name, "error": f"the {self.kind} runbook's drill did not report: {why}"})


def run_children(children: list[Child], jobs: int = DRILL_JOBS) -> None:
    """Run the children, ``jobs`` at a time; every one still running is killed when this stops (Ctrl-C too)."""
    waiting, running = list(children), list[Child]()
    try:
        while waiting or running:
            while waiting and len(running) < jobs:
                child = waiting.pop(0)
                child.start()
                running.append(child)
            time.sleep(0.1)
            for child in [c for c in running if c.poll()]:
                running.remove(child)
                child.read()
    finally:
        for child in running:
            child.kill()
            for file in (child.stdout, child.stderr):
                if file is not None:
                    file.close()


def drill_report(rb: Runbook, shipped: Runbook, names: list[str], out: TextIO) -> int:
    """Drill ``names`` with ``rb`` and with the shipped runbook; print what each shows and what differs.
    0, or 1 when a drill could not run."""
    team_path = os.path.abspath(rb.source)
    per = max(1, DRILL_JOBS // 2)
    chunks = [names[i::per] for i in range(per) if names[i::per]]
    children = [Child(kind, path, chunk) for kind, path in (("team", team_path), ("shipped", shipped_path())) for chunk in chunks]
    print(
        f"drills: {len(names)} shipped scenario{'s' if len(names) != 1 else ''}, each run headless (a frozen drill, the cockpit's "
        "sources, triage through its stability window) with this runbook and with the shipped one",
        file=out,
        flush=True,
    )
    began = time.monotonic()
    run_children(children)
    took = time.monotonic() - began
    team = {k: v for c in children if c.kind == "team" for k, v in c.results.items()}
    ours = {k: v for c in children if c.kind == "shipped" for k, v in c.results.items()}
    changed, failed = [], []
    for name in names:
        lines, differs = scenario_lines(team[name], ours[name], rb, shipped)
        for line in lines:
            print(line, file=out)
        if "error" in team[name] or "error" in ours[name]:
            failed.append(name)
        elif differs:
            changed.append(name)
    same = len(names) - len(changed) - len(failed)
    summary = f"drills: {len(names)} scenario{'s' if len(names) != 1 else ''} in {took:.0f} s — "
    summary += f"{len(changed)} show{'s' if len(changed) == 1 else ''} this runbook's edits" + (
        f" ({', '.join(changed)})" if changed else ""
    )
    summary += f", {same} the same as with the shipped runbook"
    if failed:
        summary += f", {len(failed)} could not run ({', '.join(failed)})"
    print(summary, file=out)
    return 1 if failed else 0


def _severity(r: dict[str, Any]) -> str:
    if not r["severity"]:
        return "no severity"
    return f"{r['severity']} {clean_line(r['severity_name'])} (respond {clean_line(r['response'])})"


def _act(x: dict[str, Any]) -> str:
    text = clean_line(x["text"])
    if x["done"]:
        return f"{text} (in effect)"
    return text + (f" [{x['key']}]" if x["key"] else " (outside the cockpit)" if x["outside"] else " (no key)")


def _next(r: dict[str, Any]) -> str:
    n = r["next"]
    if n is None:
        return "nothing to do next"
    return f"next {n['key'] or '(no key)'}: {clean_line(n['text'])}"


def _actions(r: dict[str, Any]) -> str:
    return "; ".join(f"{i}. {_act(x)}" for i, x in enumerate(r["actions"], 1))


def _constraints(rb: Runbook, r: dict[str, Any]) -> list[str]:
    """The runbook's constraints that speak in ``r``, one line each: on an action it recommends (needs_commander,
    first), or an update rule its severity is under (update_within)."""
    ids = {x["id"] for x in r["actions"]}
    return [
        constraint_line(k, rb.timezone)
        for k in rb.constraints
        if (k.action is not None and k.action.value in ids) or (r["severity"] and k.covers(r["severity"]))
    ]


def scenario_lines(t: dict[str, Any], s: dict[str, Any], rb: Runbook, shipped: Runbook) -> tuple[list[str], bool]:
    """One scenario's block: what the team's runbook (``t``, ``rb``) shows the responder, then what differs
    from what the shipped one (``s``) shows for it (True when anything does)."""
    name = t["scenario"]
    if "error" in t or "error" in s:
        why = "; ".join(clean_line(x["error"]) for x in (t, s) if "error" in x)
        return [f"{name}: could not run: {why}"], False
    lines = [f"{name}: {clean_line(t['label'])} ({t['branch']}), {_severity(t)}"]
    expect = t.get("expect") or []
    if expect and [t["branch"], t["severity"] or "none"] != expect:
        lines[0] += f" — the scenario expects {expect[0]} {expect[1]}"
    if not t.get("settled", True):
        lines[0] += f" (still moving after {t['watched']:g} drill s)"
    if t["actions"]:
        errs = ", ".join(ERROR_CODES.get(e, e) for e in t["errors"])
        lines.append(f"    actions{f' ({errs})' if errs else ''}: {_actions(t)} — {_next(t)}")
    rules = _constraints(rb, t)
    lines += [f"    constraint: {k}" for k in rules]
    added = {item.key for step in rb.steps for item in step.items} - {item.key for step in shipped.steps for item in step.items}
    theirs = [clean_line(k) for k in t["items"] if k in added]
    lines.append(f"    checklist: {len(t['items'])} items apply" + (f", the team's: {', '.join(theirs)}" if theirs else ""))
    diffs: list[str] = []
    if (t["branch"], t["severity"]) != (s["branch"], s["severity"]):
        # the branch and severity are the code's: a difference is the drill's timing, said as it is
        diffs.append(
            f"the shipped runbook's drill reached {s['branch']} {s['severity'] or 'no severity'}: the drill's timing, not the runbook"
        )
    else:
        diffs += _differences(t, s)
    theirs_rules = _constraints(shipped, s)
    new, gone = [k for k in rules if k not in theirs_rules], [k for k in theirs_rules if k not in rules]
    if new:
        diffs.append(f"the constraint{'s' if len(new) > 1 else ''} above — shipped: none")
    if gone:
        diffs.append(f"no constraint {'; '.join(gone)} — shipped: it applies")
    lines += [f"    changed: {d}" for d in diffs] or ["    the same as with the shipped runbook"]
    return lines, bool(diffs)


def _differences(t: dict[str, Any], s: dict[str, Any]) -> list[str]:
    """What the team's runbook shows differently on the same branch and severity."""
    out: list[str] = []
    if t["label"] != s["label"]:
        out.append(f"branch label {clean_line(t['label'])} — shipped: {clean_line(s['label'])}")
    if (t["severity_name"], t["response"]) != (s["severity_name"], s["response"]):
        out.append(f"{_severity(t)} — shipped: {_severity(s)}")
    same_next = (t["next"] or {}).get("id") == (s["next"] or {}).get("id")
    if [x["id"] for x in t["actions"]] != [x["id"] for x in s["actions"]]:
        still = " (the next the same: what is in effect already is never next)" if same_next else ""
        out.append(f"actions in this order — shipped: {_actions(s)}{still}")
    elif [x["text"] for x in t["actions"]] != [x["text"] for x in s["actions"]]:
        out.append(f"actions' wording — shipped: {_actions(s)}")
    if not same_next:
        out.append(f"{_next(t)} — shipped: {_next(s)}")
    gained = [clean_line(k) for k in t["items"] if k not in s["items"]]
    lost = [clean_line(k) for k in s["items"] if k not in t["items"]]
    if gained or lost:
        out.append(
            f"checklist {len(t['items'])} items — shipped: {len(s['items'])}"
            + (f"; added: {', '.join(gained)}" if gained else "")
            + (f"; not here: {', '.join(lost)}" if lost else "")
        )
    return out
