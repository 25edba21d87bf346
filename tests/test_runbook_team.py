"""A team's runbook file reaches what the cockpit writes (issue 18): the
postmortem of a P2 incident names P2 as the team's runbook does, and as the
shipped one does without it — run as the CLI runs it (a process of its own:
the runbook is read once, at import). A bad file named by the variable is one
line and exit 2, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from clay_cockpit.incident.lifecycle import IncidentStore
from clay_cockpit.runbook import Severity

TEAM = Path(__file__).parent / "fixtures" / "team_runbook.toml"
COCKPIT = Path(sys.executable).with_name("clay-cockpit")


def postmortem(path: Path, runbook: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CLAY_COCKPIT_RUNBOOK"}
    if runbook is not None:
        env["CLAY_COCKPIT_RUNBOOK"] = runbook
    return subprocess.run([str(COCKPIT), "postmortem", str(path)], capture_output=True, text=True, timeout=60, env=env)


def test_the_postmortem_names_the_severity_as_the_runbook_in_use_does(tmp_path: Path) -> None:
    inc = IncidentStore(tmp_path).declare(Severity.P2, headline="Rate limit: 429s")
    path = tmp_path / "incidents" / f"{inc.id}.jsonl"
    team = postmortem(path, str(TEAM))
    assert team.returncode == 0, team.stderr
    assert "| Severity | P2 (Customers notice), suggested, not confirmed |" in team.stdout
    shipped = postmortem(path, None)
    assert shipped.returncode == 0, shipped.stderr
    assert "| Severity | P2 (Degraded service), suggested, not confirmed |" in shipped.stdout


def test_a_bad_runbook_in_the_variable_is_one_line(tmp_path: Path) -> None:
    inc = IncidentStore(tmp_path).declare(Severity.P2)
    got = postmortem(tmp_path / "incidents" / f"{inc.id}.jsonl", str(tmp_path / "missing.toml"))
    assert got.returncode == 2 and got.stdout == ""
    assert got.stderr == f"clay-cockpit: {tmp_path / 'missing.toml'}: expected a runbook file, found No such file or directory\n"
