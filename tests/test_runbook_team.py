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


def cockpit(*args: str, runbook: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CLAY_COCKPIT_RUNBOOK", "CLAY_COCKPIT_CONFIG")}
    if runbook is not None:
        env["CLAY_COCKPIT_RUNBOOK"] = runbook
    return subprocess.run([str(COCKPIT), *args], capture_output=True, text=True, timeout=60, env=env)


def postmortem(path: Path, runbook: str | None) -> subprocess.CompletedProcess[str]:
    return cockpit("postmortem", str(path), runbook=runbook)


def config_with(tmp_path: Path, file: str) -> Path:
    """The shipped config with ``[runbook] file`` set (the team's file beside it, as a team keeps them)."""
    shipped = (Path(__file__).parents[1] / "config" / "default.toml").read_text()
    assert '[runbook]\nfile = ""' in shipped
    (tmp_path / "team-runbook.toml").write_text(TEAM.read_text())
    path = tmp_path / "cockpit.toml"
    path.write_text(shipped.replace('[runbook]\nfile = ""', f"[runbook]\nfile = {file!r}"))
    return path


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


def test_the_configs_runbook_file_is_the_teams_runbook_for_every_command_that_reads_the_config(tmp_path: Path) -> None:
    """``[runbook] file`` (relative: to the config's folder) is in effect for run (its config is read before the
    cockpit loads), postmortem and info; --runbook and $CLAY_COCKPIT_RUNBOOK win over it."""
    config = config_with(tmp_path, "team-runbook.toml")
    team = str(tmp_path / "team-runbook.toml")
    inc = IncidentStore(tmp_path).declare(Severity.P2, headline="Rate limit: 429s")
    path = tmp_path / "incidents" / f"{inc.id}.jsonl"
    got = cockpit("postmortem", str(path), "--config", str(config))
    assert got.returncode == 0, got.stderr
    assert "| Severity | P2 (Customers notice), suggested, not confirmed |" in got.stdout
    shipped = str(Path(__file__).parents[1] / "config" / "runbook.toml")
    assert "P2 (Degraded service)" in cockpit("postmortem", str(path), "--config", str(config), runbook=shipped).stdout  # the variable wins

    info = cockpit("info", "--config", str(config))
    assert f"runbook          {team} (from runbook.file in the config)" in info.stdout.splitlines(), info.stdout
    other = tmp_path / "other.toml"
    other.write_text(TEAM.read_text())
    info = cockpit("info", "--config", str(config), runbook=str(other))
    assert f"runbook          {other} (from $CLAY_COCKPIT_RUNBOOK)" in info.stdout.splitlines(), info.stdout

    show = cockpit("runbook", "show", "--config", str(config))
    assert show.returncode == 0 and show.stdout.splitlines()[0] == f"Runbook: {team} (from runbook.file in the config)", show.stderr
    show = cockpit("runbook", "show", "--config", str(config), runbook=str(other))
    assert show.stdout.splitlines()[0] == f"Runbook: {other} (from $CLAY_COCKPIT_RUNBOOK)"

    # run: the config is read before the cockpit (and the runbook) load — what `clay-cockpit --config` does first
    code = (
        "import sys; from clay_cockpit.cli_common import load_user_config; load_user_config(sys.argv[1]);"
        " from clay_cockpit.runbook import RUNBOOK, SEVERITIES, Severity; print(RUNBOOK.source, SEVERITIES[Severity.P2].name)"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("CLAY_COCKPIT_RUNBOOK", "CLAY_COCKPIT_CONFIG")}
    run = subprocess.run([sys.executable, "-c", code, str(config)], capture_output=True, text=True, timeout=60, env=env)
    assert run.stdout == f"{team} Customers notice\n", run.stderr


def test_a_missing_runbook_file_in_the_config_is_one_line_and_exit_2(tmp_path: Path) -> None:
    config = config_with(tmp_path, "nope.toml")
    got = cockpit("--config", str(config))
    assert got.returncode == 2 and got.stdout == ""
    assert got.stderr == (
        f"clay-cockpit: {config}: runbook.file: expected a runbook file that exists (relative: to the config's folder),"
        f" found 'nope.toml', no file at {tmp_path / 'nope.toml'}\n"
    )
    info = cockpit("info", "--config", str(config))
    assert info.returncode == 0 and "(invalid: " in info.stdout and "runbook.file: expected a runbook file that exists" in info.stdout
