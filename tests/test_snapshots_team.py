"""Snapshots of the cockpit on a team's runbook (issue 18): the pictures are
taken by ``tests/team_runbook_snapshots.py`` (its docstrings say what each
shows, and which shipped snapshot is its control), in a pytest process of
its own with ``CLAY_COCKPIT_RUNBOOK`` naming ``tests/fixtures/team_runbook.toml``:
the runbook is read once, at import, so this process (the shipped runbook)
cannot show it. One child per test function of that module, so that the
suite's workers share them; ``--snapshot-update`` given here is given to
the child. The pictures are under ``tests/__snapshots__/team_runbook_snapshots/``.

By hand, without this file::

    CLAY_COCKPIT_RUNBOOK=$PWD/tests/fixtures/team_runbook.toml \\
        .venv/bin/python -m pytest -p no:cacheprovider -p no:xdist tests/team_runbook_snapshots.py [--snapshot-update]
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
INNER = HERE / "team_runbook_snapshots.py"
TEAM = HERE / "fixtures" / "team_runbook.toml"
PICTURES = HERE / "__snapshots__" / INNER.stem
TIMEOUT = 600.0  # seconds for one child: two pictures of a drill take ~30 s on an idle machine


def inner_tests() -> list[str]:
    """The test functions of the inner module, read from its source (importing it here would read the shipped runbook)."""
    tree = ast.parse(INNER.read_text())
    return [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name.startswith("test_")]


def child_command(node: str, update: bool) -> list[str]:
    # -p no:xdist: the child is one process whatever the suite's -n; -q and no -x: every test of the node runs and says so
    cmd = [sys.executable, "-m", "pytest", node, "-p", "no:cacheprovider", "-p", "no:xdist", "-q", "-rfEs"]
    return [*cmd, "--snapshot-update"] if update else cmd


@pytest.mark.timeout(TIMEOUT + 60)
@pytest.mark.parametrize("name", inner_tests())
def test_team_runbook(name: str, request: pytest.FixtureRequest) -> None:
    """Runs ``team_runbook_snapshots.py::<name>`` in a child with the team's runbook; its failure (a picture
    that differs, a test that cannot set up) fails this test with the child's output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "CLAY_COCKPIT_RUNBOOK"))}  # (no -n from PYTEST_ADDOPTS)
    env["CLAY_COCKPIT_RUNBOOK"] = str(TEAM)
    update = bool(request.config.getoption("update_snapshots", default=False))
    got = subprocess.run(
        child_command(f"{INNER}::{name}", update),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
        cwd=request.config.invocation_params.dir,  # a failing picture's snapshot_report.html lands where pytest was run from
    )
    out = f"$ CLAY_COCKPIT_RUNBOOK={TEAM} {' '.join(got.args)}\n{got.stdout[-30000:]}\n{got.stderr[-5000:]}"
    if got.returncode != 0:
        pytest.fail(f"the team runbook's snapshots failed (exit {got.returncode}):\n{out}", pytrace=False)
    # exit 0 is not enough: a child that skipped everything (the variable not read) or collected nothing passes too
    summary = re.search(r"^=* ?(\d+ passed.*) in [\d.]+s", got.stdout, re.MULTILINE)
    counts = {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", summary.group(1))} if summary else {}
    assert counts.get("passed", 0) > 0 and set(counts) <= {"passed", "warning", "warnings"}, f"the child did not pass every test:\n{out}"


def test_every_team_picture_has_its_test() -> None:
    """A picture left from a renamed test is never compared again (the children run one test each, so
    syrupy's clean-up of unused snapshots sees only that test): none is left."""
    names = set(inner_tests())
    pictures = sorted(PICTURES.glob("*.svg"))
    assert pictures, f"no pictures in {PICTURES}"
    assert [p.name for p in pictures if p.stem.split("[")[0] not in names] == []
