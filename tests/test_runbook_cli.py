"""`clay-cockpit runbook show | check` (issue 18): the effective runbook
printed readably, and a team's file validated (exit 2 with the one-line
error), with what the running cockpit does not use of it said plainly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from clay_cockpit import cli
from clay_cockpit.runbook import shipped_runbook_path

SHIPPED = Path(shipped_runbook_path()).read_text(encoding="utf-8")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "clay_cockpit.cli", "runbook", *args], capture_output=True, text=True, timeout=60)


def runbook(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["runbook", *args])
    out, err = capsys.readouterr()
    return code, out, err


def team_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "team.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_show_prints_the_shipped_runbook(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = runbook(capsys, "show")
    assert code == 0
    assert out.startswith(f"Runbook: {shipped_runbook_path()} (shipped)\n")
    assert "  P1  Complete outage — respond < 15 min (clock: 15 min)\n      e.g. Clay API unreachable\n" in out
    assert "  P4  No user impact — respond Next business day (clock: next business day)\n" in out
    assert (
        "      auth: 1. Verify the Clay API key in the Secret [key v]; 2. Update the key if it was rotated [key k]; 3. Restart the pods [key R]\n"
    ) in out
    assert "     [auto: statuspage] Check Clay's status page  (check_status_page)\n" in out
    assert (
        "     [ ] 429: enable request queuing  (enable_queuing; when Credentials + rate_limit)\n         → Enable request queuing [key Q]\n"
        in out
    )
    assert "  raise_memory_limit: Raise the pods' memory limit [outside the cockpit] → Memory limit raised\n" in out
    assert out.endswith("Notes\n  (none)\n\nLinks\n  (none)\n\nConstraints (the cockpit enforces or reminds)\n  (none)\n")


def test_show_a_team_file_with_its_notes_and_links(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = SHIPPED.replace("notes = []", 'notes = ["P1: call the vendor\'s TAM"]')
    text = text.replace('name = "Complete outage"', 'name = "Everything is down"')
    text += '\n[[links]]\ntitle = "Escalation policy"\nurl = "https://example.pagerduty.com/escalation_policies/P1"\n'
    path = team_file(tmp_path, text)
    code, out, _ = runbook(capsys, "show", "--runbook", path)
    assert code == 0
    assert out.startswith(f"Runbook: {path} (from --runbook)\n")
    assert "  P1  Everything is down — respond < 15 min" in out
    assert out.endswith(
        "Notes\n  - P1: call the vendor's TAM\n\nLinks\n  - Escalation policy: https://example.pagerduty.com/escalation_policies/P1\n"
        "\nConstraints (the cockpit enforces or reminds)\n  (none)\n"
    )


def test_check_the_shipped_file_is_ok(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = runbook(capsys, "check", "--no-drills", shipped_runbook_path())
    assert code == 0
    assert out.splitlines()[:2] == [
        f"{shipped_runbook_path()}: ok — 4 severities, 6 branches, 4 steps, 17 items, 14 actions, 0 notes, 0 links",
        "the same runbook as the shipped one: the cockpit runs it as it is",
    ]


def test_check_says_what_the_file_changes_when_the_cockpit_runs_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = SHIPPED.replace("notes = []", 'notes = ["Dashboards first"]')
    text = text.replace('text = "Restart the pods"', 'text = "Restart the clay-sync pods"')
    text = text.replace(
        'key = "status_page_update"\ntext = "External status page update in user-facing words"\n',
        'key = "page_tam"\ntext = "P1: call the vendor\'s TAM"\n',
    )
    code, out, _ = runbook(capsys, "check", "--no-drills", team_file(tmp_path, text))
    assert code == 0
    lines = out.splitlines()
    assert lines[1].startswith("run with it: clay-cockpit --runbook ") and lines[1].endswith("what it changes:")
    assert "  - action restart: Restart the clay-sync pods" in lines
    assert "  - item page_tam (added to step 4)" in lines
    assert "  - item status_page_update: removed" in lines
    assert "  - note: Dashboards first" in lines
    assert "  (its notes and links show under the checklist's steps, as Team notes)" in lines
    assert ("note: no item status_page_update: the cockpit ticks it when it posts the update, and would have nothing to tick") in lines


def test_check_a_bad_file_exits_2_with_one_line(tmp_path: Path) -> None:
    path = team_file(tmp_path, SHIPPED.replace('errors = ["rate_limit"]', 'errors = ["429"]', 1))
    out = run("check", path)
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr == (
        f"clay-cockpit: {path}: steps[2].items[3].errors[0]: expected one of auth, rate_limit, server, found string '429'\n"
    )


def test_check_refuses_a_key_the_cockpit_does_not_bind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = team_file(tmp_path, SHIPPED.replace('key = "Q"', 'key = "q"'))
    code, _, err = runbook(capsys, "check", path)
    assert code == 2
    assert err == (
        f'clay-cockpit: {path}: actions.enable_queuing.key: expected "Q", the key the cockpit binds to it '
        "(remap keys in the config's [keymap]), found 'q'\n"
    )
    path = team_file(tmp_path, SHIPPED.replace('done = "Memory limit raised"\noutside = true', 'done = "Memory limit raised"'))
    code, _, err = runbook(capsys, "check", path)
    assert code == 2
    assert (
        err == f"clay-cockpit: {path}: actions.raise_memory_limit.outside: expected true (the cockpit cannot carry it out), found false\n"
    )


def test_a_link_with_credentials_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = team_file(tmp_path, SHIPPED + '\n[[links]]\ntitle = "Grafana"\nurl = "https://admin:hunter2@grafana.example.com"\n')
    code, _, err = runbook(capsys, "show", "--runbook", path)
    assert code == 2
    assert "hunter2" not in err
    assert (
        err
        == f"clay-cockpit: {path}: links[0].url: expected a URL without user:password@ (it needs none), found a URL with credentials (not shown)\n"
    )


def test_check_a_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = runbook(capsys, "check", str(tmp_path / "nope.toml"))
    assert code == 2
    assert err == f"clay-cockpit: {tmp_path / 'nope.toml'}: expected a runbook file, found No such file or directory\n"


def test_show_cleans_what_a_team_file_says(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = team_file(tmp_path, SHIPPED.replace("notes = []", 'notes = ["call \\u001b[31mnow\\u202e"]'))
    code, out, _ = runbook(capsys, "show", "--runbook", path)
    assert code == 0
    assert "\x1b" not in out and "\u202e" not in out
    assert "  - call now" in out
