"""The layering rules of DESIGN.md, checked on the source and at run time.

- cockpit/ (except app.py) never imports Textual;
- widgets/ and screens/ never import a network client (or the sources);
- starting the cockpit imports no heavy client before the first frame.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NETWORK = {"httpx", "kubernetes", "prometheus_api_client", "slack_sdk", "requests", "urllib3", "aiohttp", "socket"}
HEAVY = {"kubernetes", "httpx", "prometheus_api_client", "plotext", "textual_plotext", "slack_sdk", "aiohttp", "requests"}


def imported_roots(path: Path) -> set[str]:
    """Every module a file imports, anywhere in it (also inside functions)."""
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            roots |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module)
    return roots


def py_files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", [p for p in py_files("cockpit") if p.name != "app.py"], ids=lambda p: str(p.relative_to(ROOT)))
def test_cockpit_does_not_import_textual(path: Path) -> None:
    bad = {m for m in imported_roots(path) if m.split(".")[0] in ("textual", "textual_plotext")}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}; only cockpit/app.py may import Textual"


@pytest.mark.parametrize("path", py_files("widgets") + py_files("screens"), ids=lambda p: str(p.relative_to(ROOT)))
def test_ui_does_not_import_network_clients(path: Path) -> None:
    bad = {
        m
        for m in imported_roots(path)
        if m.split(".")[0] in NETWORK or m.startswith(("cockpit.sources", "cockpit.sim"))
    }
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}; widgets/ and screens/ only render"


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True, text=True, cwd=ROOT, check=True,
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_domain_modules_load_without_textual() -> None:
    mods = [
        "cockpit." + p.stem
        for p in py_files("cockpit")
        if p.parent.name == "cockpit" and p.stem not in ("app", "__init__", "__main__")
    ]
    loaded = _modules_after("\n".join(f"import {m}" for m in mods))
    assert not {m for m in loaded if m.split(".")[0] == "textual"}


def test_starting_the_cockpit_imports_no_heavy_client() -> None:
    """What runs before the first frame: the CLI, the demo, the app module
    and the boot screen. Not the clients, and not even our own panes and
    snapshot types: those load right after the first frame (bench/startup)."""
    loaded = _modules_after("import cockpit.cli, cockpit.demo, cockpit.app, cockpit.sources")
    heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY)
    assert not heavy, f"imported before the first frame: {heavy}"
    ours = sorted(m for m in loaded if m.split(".")[0] in ("cockpit", "widgets", "screens"))
    allowed = {"cockpit", "cockpit.cli", "cockpit.paths", "cockpit.config", "cockpit.demo", "cockpit.app", "cockpit.sources",
               "cockpit.sim", "cockpit.sim.wiring", "screens", "screens.boot",
               "screens.toasts", "cockpit.redact", "cockpit.sanitise",  # (standard library only: toasts held, sanitised and redacted, from the first frame)
               "screens.typeahead"}  # (Textual's ModalScreen only, loaded with the App: typing after a modal guarded from the first frame)
    assert set(ours) <= allowed, f"loaded before the first frame: {sorted(set(ours) - allowed)}"
