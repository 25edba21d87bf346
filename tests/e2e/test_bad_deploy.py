"""bad-deploy in a real terminal (tmux, 80x24), driven with send-keys and read
with capture-pane (issue 14): ``clay-cockpit demo --scenario bad-deploy``;
triage's verdict on screen with ``U`` as the next key; ``o`` opens the infra
view, the rollout first among the changes, each text whole; ``U`` opens the
plan (1.14.3 → 1.14.2), ``y`` confirms; the rollback is followed to its
verdict (our health no longer down) and marked ✓, never offered again; the
infra view lists the cockpit's rollback; q quits and nothing is left.

The drill runs at --speed 5: CI rolls 1.14.3 out 20 drill seconds in, 4 s here.
"""

from __future__ import annotations

import re

import pytest

from clay_cockpit.sim.scenario import load_scenario

from . import drill
from .drill import PANES, Check, Driver, Step
from .terminal import Screen
from .test_terminal import demo_args, quit_and_check

pytestmark = pytest.mark.slow

ROLLOUT = "rollout to 1.14.3 (revision 3)"  # + " by <manager>" while it is the current revision
ROLLOUT_DETAIL = ("· image clay-sync: 1.14.2 → 1.14.3", "· change-cause: ci: deploy clay-sync 1.14.3 (pipeline #4812)")
SECTIONS = ("Changes (", "Warning events (", "Nodes (")
MODAL = "Confirm: Roll back"


def whole_row(text: str) -> Check:
    """A row of the screen holds ``text`` whole: after it only blanks (or a scrollbar's blocks) to the edge."""

    def check(screen: Screen) -> str | None:
        for line in screen.lines:
            at = line.find(text)
            if at >= 0:
                rest = line[at + len(text) :]
                return None if re.fullmatch(r"[ ▁▂▃▄▅▆▇█▔]*", rest) else f"{text!r} runs into {rest.strip()!r}"
        return f"{text!r} not whole on any row"

    return check


def infra_view(*changes: str) -> Check:
    """The infra view at full screen and readable: its head on the first row,
    the three sections in order each on a row of its own, ``changes`` the
    first of the Changes (whole), the highlighted row's whole text under the
    rule."""

    def check(screen: Screen) -> str | None:
        lines = screen.lines
        if not lines[0].startswith(" Infrastructure · clay-sync · "):
            return f"no infra view head on the first row: {lines[0].rstrip()!r}"
        if any(title in screen for title in PANES.values()):
            return "the cockpit's panes show under the infra view"
        rows = [next((i for i, line in enumerate(lines) if line.startswith(f" {s}")), -1) for s in SECTIONS]
        if rows[0] < 0 or rows[0] != 1:
            return f"'Changes' is not the second row: {rows}"
        shown = [r for r in rows if r >= 0]
        if shown != sorted(shown):
            return f"the sections are out of order: {rows}"
        first = lines[rows[0] + 1]
        if changes and changes[0] not in first:
            return f"the first change is not {changes[0]!r}: {first.rstrip()!r}"
        for text in changes:
            why = whole_row(text)(screen)
            if why is not None:
                return why
        rule = next((i for i, line in enumerate(lines) if set(line.strip()) == {"─"} and len(line.strip()) == screen.width), -1)
        if rule < 0 or rule < rows[0]:
            return "no full-width rule between the list and the highlighted row's text"
        if changes and not any(changes[0] in line for line in lines[rule + 1 :]):
            return f"the highlighted change is not under the rule: {lines[rule + 1 :]}"
        if not lines[-1].startswith("esc Back"):
            return f"no footer on the last row: {lines[-1].rstrip()!r}"
        return None

    return check


def verdict_and_next_key(screen: Screen) -> str | None:
    strip = screen.lines[1:3]
    if not strip[0].startswith(" ▶ Infrastructure: ") or not re.search(r" — P1\b", strip[0]):
        return f"no infrastructure verdict with its severity on row 2: {strip[0].rstrip()!r}"
    if not strip[1].startswith(" → U Roll back the last change to the deployment"):
        return f"U is not the next key on row 3: {strip[1].rstrip()!r}"
    return None


def test_bad_deploy_rolled_back_at_80x24(terminal, launch, mark) -> None:
    expect = load_scenario("bad-deploy").expect
    assert (expect.branch, expect.severity) == ("infrastructure", "P1")
    term = terminal()
    launch(term, demo_args("bad-deploy"))
    driver = Driver(term)
    driver.run(
        drill.first_frame(),
        drill.live(()),
        Step("our health down on 1.14.3", check=drill.in_pane("2", "v1.14.3", "body"), timeout=30.0),
        drill.triage(expect.branch, expect.severity),
        Step("the verdict, U next", check=verdict_and_next_key, timeout=30.0),
        Step(
            "o: the infra view, the rollout first", keys=("o",), check=infra_view(ROLLOUT + " by ci-deploy", *ROLLOUT_DETAIL), timeout=15.0
        ),
        Step("Esc: back to the panes", keys=("Escape",), check=drill.has(*PANES.values()), timeout=10.0),
        Step("U opens the plan", keys=("U",), check=drill.has(MODAL, "clay-sync:1.14.3 →", "clay-sync:1.14.2", "y confirms"), timeout=20.0),
        Step("the modal settles", settle=1.0),
        Step(
            "y: rolled back, our health no longer down",
            keys=("y",),
            check=drill.all_of(drill.lacks(MODAL), drill.has("✓ U Roll back  worked: our health endpoint down ended")),
            timeout=120.0,
        ),
        Step("U no longer the next key", check=drill.lacks("→ U Roll back", "▸ U"), timeout=30.0),
        Step(
            "o: the cockpit's rollback among the changes",
            keys=("o",),
            check=drill.all_of(infra_view(), whole_row("rollback to 1.14.2 (revision 4) by clay-cockpit"), whole_row(ROLLOUT)),
            timeout=15.0,
        ),
        Step("Esc: back", keys=("Escape",), check=drill.lacks(" Infrastructure · clay-sync · "), timeout=10.0),
        drill.quit_(),
    )
    quit_and_check(term, mark)
