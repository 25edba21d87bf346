"""The README's generated tables (keys, config, scenarios) match the code,
and its test command is the one CI runs."""

from __future__ import annotations

import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_generated_sections_are_current() -> None:
    readme = runpy.run_path(str(ROOT / "dev" / "readme.py"))
    current = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme["render"](current) == current, "README.md is out of date: run .venv/bin/python dev/readme.py"


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "\n./dev/test\n" in ci and "\n./dev/test\n" in readme
