"""A team's runbook file in the running cockpit (issue 18), in real tmux at
80x24 and 160x48: ``clay-cockpit demo --scenario rate-limited --runbook
tests/fixtures/team_runbook.toml`` — the fixture renames P2 ("Customers
notice"), puts request queuing before reading the rate-limit headers for
429s, and adds an item to step 4 ("Tell the sales on-call …") and a fifth step ("Hand over").

What the responder sees changes accordingly: the declaration names P2 by the
team's name, the checklist's step 4 has the team's item (3 items, not 2), key 5 jumps to the team's fifth step, the
team's note and link are under the steps, and the team's constraint holds: a
restart is refused until the responder takes command (W, c), then its plan
opens.
(The reordering does not show in this drill: the headers are read already,
and a done action is listed last either way.) The same drill with the shipped runbook shows
the shipped name (the control: the difference is the file's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from . import drill
from .drill import Driver, Step, has

TEAM = Path(__file__).parents[1] / "fixtures" / "team_runbook.toml"
SPEED = "4"


def demo(*extra: str) -> list[str]:
    return ["demo", "--scenario", "rate-limited", "--speed", SPEED, *extra]


@pytest.mark.parametrize(("width", "height"), [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_the_team_runbook_changes_what_the_responder_sees(width: int, height: int, terminal, launch) -> None:
    term = terminal()
    launch(term, demo("--runbook", str(TEAM)), width=width, height=height)
    team = Driver(term)
    team.run(
        drill.first_frame(timeout=30.0),
        drill.triage("credentials", "P2", timeout=60.0),
        # the team's constraint: a restart needs the incident commander (at any hour in this file)
        Step("x: the actions pane, the cluster read", keys=("x",), check=has("turns it on"), timeout=30.0),
        Step("R: refused, nobody in command", keys=("R",), check=has("Runbook constraint"), timeout=10.0),
        Step("i declares: P2 by the team's name", keys=("i",), check=has("Customers notice"), timeout=20.0),
        Step("c: the checklist has the team's 19 items", keys=("c",), check=drill.matches(r"Checklist · \d+/19 "), timeout=10.0),
    )
    if height < 48:  # the checklist full width: step 4's header counts the team's item
        team.run(
            Step("4: step 4 has 3 items", keys=("4",), check=has("4 Communicate  0/3"), timeout=10.0),
            Step("5: the team's fifth step", keys=("5",), check=has("5 Hand over  0/1", "1-5 steps"), timeout=10.0),
            Step(
                "end: under the steps, the team's note and link",
                keys=("end",),
                check=has("Team notes", "· P1: call Clay's TAM", "→ Escalation policy"),
                timeout=10.0,
            ),
            Step("space on a note ticks nothing", keys=("space",), check=has("Checklist · 4/19 "), timeout=10.0, settle=1.0),
            # the team's constraint, with the incident open: the commander's restart opens its plan
            Step("W: the people view", keys=("W",), check=has("Responders"), timeout=10.0),
            Step("c: take command", keys=("c",), check=has("· commander"), timeout=10.0),
            Step("W again: back to the cockpit", keys=("W",), check=has("Checklist"), timeout=10.0),
            Step("R: the commander's restart opens its plan", keys=("R",), check=has("Confirm: Restart the pods"), timeout=30.0),
            Step("esc: cancelled, nothing runs", keys=("escape",), check=drill.lacks("Confirm: Restart the pods"), timeout=10.0),
        )


def test_the_shipped_runbook_is_the_control(terminal, launch) -> None:
    term = terminal()
    launch(term, demo(), width=160, height=48)
    Driver(term).run(
        drill.first_frame(timeout=30.0),
        drill.triage("credentials", "P2", timeout=60.0),
        Step("i declares: P2 by the shipped name", keys=("i",), check=has("Degraded service"), timeout=20.0),
        Step("c: the checklist has the shipped 17 items", keys=("c",), check=drill.matches(r"Checklist · \d+/17 "), timeout=10.0),
    )


def test_a_bad_team_runbook_is_one_line_and_exit_2(tmp_path: Path) -> None:
    import subprocess
    import sys

    bad = tmp_path / "team.toml"
    bad.write_text(TEAM.read_text().replace('name = "Customers notice"', "name = 2", 1))
    cockpit = Path(sys.executable).with_name("clay-cockpit")
    out = subprocess.run([str(cockpit), *demo("--runbook", str(bad))], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr == f"clay-cockpit: {bad}: severities.P2.name: expected a non-empty string, found number 2\n"
