"""`clay-cockpit runbook check FILE` drills the file (issue 18): each shipped
scenario (or --scenario's) runs headless — a frozen drill, the cockpit's
sources over HTTP, the log follower, triage through its stability window —
once with the team's runbook and once with the shipped one, each in its own
child process (the runbook binds at import), and the report says what the
responder is shown and what differs.

tests/fixtures/team_runbook.toml: P2 renamed "Customers notice", 429's
actions reordered (enable_queuing first), an item added to step 4
(tell_sales), a fifth step (handover_note), and a constraint on restart.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from clay_cockpit import cli, runbook_cli
from clay_cockpit.runbook_file import shipped_path
from clay_cockpit.sim.scenario import scenario_names

TEAM = str(Path(__file__).parent / "fixtures" / "team_runbook.toml")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """The real command, as a team runs it (NO_COLOR: plain text either way)."""
    env = {k: v for k, v in os.environ.items() if k != "CLAY_COCKPIT_RUNBOOK"} | {"NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "clay_cockpit.cli", "runbook", "check", *args], capture_output=True, text=True, timeout=240, env=env
    )


def block(out: str, name: str) -> list[str]:
    """The lines of one scenario's block."""
    lines = out.splitlines()
    start = lines.index(next(line for line in lines if line.startswith(f"{name}: ")))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith("    ")), len(lines))
    return lines[start:end]


@pytest.mark.slow
def test_the_team_runbook_drilled_shows_its_names_its_order_and_what_differs() -> None:
    out = run(TEAM, "--scenario", "rate-limited", "--scenario", "key-revoked")
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    assert out.stdout.startswith(f"{TEAM}: ok — ")
    assert "drills: 2 shipped scenarios, each run headless" in out.stdout
    drills = out.stdout[out.stdout.index("drills: ") :]
    assert "\x1b" not in drills and "…" not in drills  # plain text, nothing cut short

    rate = block(out.stdout, "rate-limited")
    # the branch is the code's; its label, the severity's name and response target are the team's file's
    assert rate[0] == "rate-limited: Credentials (credentials), P2 Customers notice (respond < 1 hour)", rate
    # the team's order for 429, the rate-limit headers already in the logs (in effect), the next key from Assessment.next
    assert rate[1] == (
        "    actions (429): 1. Enable request queuing [Q]; 2. Read the rate-limit headers (in effect) — next Q: Enable request queuing"
    ), rate
    assert rate[2] == "    checklist: 11 items apply, the team's: tell_sales, handover_note", rate
    assert rate[3:] == [
        "    changed: P2 Customers notice (respond < 1 hour) — shipped: P2 Degraded service (respond < 1 hour)",
        "    changed: actions in this order — shipped: 1. Read the rate-limit headers (in effect); 2. Enable request queuing [Q] "
        "(the next the same: what is in effect already is never next)",
        "    changed: checklist 11 items — shipped: 9; added: tell_sales, handover_note",
    ], rate

    key = block(out.stdout, "key-revoked")
    assert key[0] == "key-revoked: Credentials (credentials), P1 Complete outage (respond < 15 min)", key
    assert key[1].startswith(
        "    actions (401/403): 1. Verify the Clay API key in the Secret [v]; 2. Update the key if it was rotated [k]; "
    )
    assert key[1].endswith(" — next v: Verify the Clay API key in the Secret"), key
    assert key[2].startswith("    constraint: restart needs the incident commander 00:00-24:00"), key
    assert "    changed: the constraint above — shipped: none" in key
    assert "    changed: checklist 12 items — shipped: 10; added: tell_sales, handover_note" in key
    assert not any("P2" in line or "order" in line for line in key), key  # P1 and 401: the team's edits to P2 and 429 do not show

    summary = out.stdout.splitlines()[-1]
    assert summary.startswith("drills: 2 scenarios in ")
    assert summary.endswith(" s — 2 show this runbook's edits (rate-limited, key-revoked), 0 the same as with the shipped runbook")


@pytest.mark.slow
def test_the_shipped_runbook_against_itself_differs_nowhere() -> None:
    out = run(shipped_path(), "--scenario", "rate-limited")
    assert out.returncode == 0, out.stderr
    rate = block(out.stdout, "rate-limited")
    assert rate[0] == "rate-limited: Credentials (credentials), P2 Degraded service (respond < 1 hour)", rate
    assert rate[1].startswith("    actions (429): 1. Read the rate-limit headers (in effect); 2. Enable request queuing [Q] — next Q"), rate
    assert rate[-1] == "    the same as with the shipped runbook", rate
    assert "changed:" not in out.stdout
    assert out.stdout.splitlines()[-1].endswith(" s — 0 show this runbook's edits, 1 the same as with the shipped runbook")


def test_a_drill_that_cannot_finish_is_one_line_and_exit_1(monkeypatch, capsys) -> None:
    """The children are real and killed at their deadline (here at once): the scenario says so, the summary too."""
    monkeypatch.setattr(runbook_cli, "CHILD_START_SECONDS", 0.2)
    monkeypatch.setattr(runbook_cli, "SCENARIO_SECONDS", 0.0)
    code = cli.main(["runbook", "check", TEAM, "--scenario", "healthy"])
    out, err = capsys.readouterr()
    assert code == 1, err
    assert block(out, "healthy") == [
        "healthy: could not run: the team runbook's drill did not report: it did not finish within 0.2 s; "
        "the shipped runbook's drill did not report: it did not finish within 0.2 s"
    ]
    assert out.splitlines()[-1].endswith(
        " s — 0 show this runbook's edits, 0 the same as with the shipped runbook, 1 could not run (healthy)"
    )


def test_a_bad_file_is_one_line_exit_2_and_no_drill(tmp_path: Path) -> None:
    bad = tmp_path / "team.toml"
    bad.write_text(Path(TEAM).read_text(encoding="utf-8").replace('name = "Customers notice"', "name = 2"), encoding="utf-8")
    out = run(str(bad))
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr.count("\n") == 1 and out.stderr.startswith(f"clay-cockpit: {bad}: severities.P2.name: expected "), out.stderr


def test_no_drills_only_validates(capsys) -> None:
    code = cli.main(["runbook", "check", "--no-drills", TEAM])
    out, _ = capsys.readouterr()
    assert code == 0
    assert out.startswith(f"{TEAM}: ok — ")
    assert "  - severity P2: Customers notice, < 1 hour" in out
    assert "drills:" not in out


def test_an_unknown_scenario_is_one_line_naming_the_known_ones(capsys) -> None:
    code = cli.main(["runbook", "check", TEAM, "--scenario", "rate-limitd"])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err == f"clay-cockpit: --scenario: expected a shipped scenario: {', '.join(scenario_names())}, found 'rate-limitd'\n"
