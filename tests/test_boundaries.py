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
    bad = {m for m in imported_roots(path) if m.split(".")[0] in NETWORK or m.startswith(("clay_cockpit.sources", "clay_cockpit.sim"))}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}; widgets/ and screens/ only render"


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_domain_modules_load_without_textual() -> None:
    mods = [
        name
        for name in our_modules()
        if not name.startswith(("clay_cockpit.widgets", "clay_cockpit.screens"))
        and name != "clay_cockpit.app"
        and not name.endswith("__main__")
    ]
    loaded = _modules_after("\n".join(f"import {m}" for m in mods))
    assert not {m for m in loaded if m.split(".")[0] == "textual"}


def test_starting_the_cockpit_imports_no_heavy_client() -> None:
    """What runs before the first frame: the CLI, the demo, the app module
    and the boot screen. Not the clients, and not even our own panes and
    snapshot types: those load right after the first frame (bench/startup)."""
    loaded = _modules_after("import clay_cockpit.cli, clay_cockpit.demo, clay_cockpit.app, clay_cockpit.sources")
    heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY)
    assert not heavy, f"imported before the first frame: {heavy}"
    ours = sorted(m for m in loaded if m.split(".")[0] == "clay_cockpit")
    allowed = {
        "clay_cockpit",
        "clay_cockpit.cli",
        "clay_cockpit.paths",
        "clay_cockpit.config",
        "clay_cockpit.config_build",
        "clay_cockpit.demo",
        "clay_cockpit.app",
        "clay_cockpit.sources",
        "clay_cockpit.sim",
        "clay_cockpit.sim.wiring",
        "clay_cockpit.screens",
        "clay_cockpit.screens.boot",
        "clay_cockpit.screens.toasts",
        "clay_cockpit.redact",
        "clay_cockpit.sanitise",
        "clay_cockpit.cli_common",  # (standard library only: toasts held, sanitised and redacted, from the first frame)
        "clay_cockpit.screens.typeahead",  # (Textual's ModalScreen only, loaded with the App: typing after a modal guarded from the first frame)
        "clay_cockpit.screens.app_keys",  # (Textual's Binding only: the app's keys)
        "clay_cockpit.screens.app_messages",  # (Textual's Message only: what the app posts to itself)
        "clay_cockpit.screens.app_terminal",  # (the redactor and sanitiser only: toasts, hangups, the driver)
        "clay_cockpit.screens.app_actions",
    }  # (Textual's events and Binding only: the app's actions, a mixin of the App)
    assert set(ours) <= allowed, f"loaded before the first frame: {sorted(set(ours) - allowed)}"


# --------------------------------------------------------------------------
# Layers (issue 13): which group of modules may import which. A module's
# group is the longest prefix below that names it; an arrow not listed is a
# layering mistake (move the helper down, or pass the object in).

BASE = "base"
GROUPS: dict[str, str] = {
    # base: pure types, text and names every layer shares
    "clay_cockpit.paths": BASE,
    "clay_cockpit.redact": BASE,
    "clay_cockpit.sanitise": BASE,
    "clay_cockpit.text": BASE,
    "clay_cockpit.signals": BASE,
    "clay_cockpit.runbook": BASE,
    "clay_cockpit.runbook_file": BASE,  # the runbook file: its names, its types and its loader
    "clay_cockpit.target": BASE,
    "clay_cockpit.links": BASE,
    "clay_cockpit.config": BASE,
    "clay_cockpit.config_build": BASE,
    "clay_cockpit.config_env": BASE,
    "clay_cockpit.config_target": BASE,
    "clay_cockpit.actions.types": BASE,  # the adapter contract the Kubernetes adapters and actions share
    "clay_cockpit.sources": "sources",
    "clay_cockpit.live": "live",  # the polls and the log follow the app runs (no Textual)
    "clay_cockpit.triage": "triage",
    "clay_cockpit.incident": "incident",
    "clay_cockpit.incident.postmortem": "postmortem",
    "clay_cockpit.incident.postmortem_parts": "postmortem",
    "clay_cockpit.incident.postmortem_cli": "postmortem",
    "clay_cockpit.incident.postmortem_sections": "postmortem",
    "clay_cockpit.incident.postmortem_page": "postmortem",
    "clay_cockpit.comms": "comms",
    "clay_cockpit.actions": "actions",
    "clay_cockpit.check": "check",
    "clay_cockpit.sim": "sim",
    "clay_cockpit.cli_common": "cli_common",
    "clay_cockpit.widgets": "widgets",
    "clay_cockpit.screens": "screens",
    "clay_cockpit.app": "app",
    "clay_cockpit.cli": "entry",
    "clay_cockpit.demo": "entry",
    "clay_cockpit.info": "entry",
    "clay_cockpit.runbook_cli": "entry",
    "clay_cockpit.starter": "entry",
    "clay_cockpit.replay": "entry",  # demo --from-incident: a timeline read into a drill scenario (issue 18)
    "clay_cockpit": "entry",
}
ARROWS: dict[str, set[str]] = {
    BASE: set(),
    "sources": {BASE},
    "live": {BASE, "sources"},  # sources: the contract it polls
    "triage": {BASE},
    "incident": {BASE, "triage"},
    "comms": {BASE, "triage", "incident", "sources"},  # sources: the Slack and status page adapters it sends through
    "postmortem": {BASE, "triage", "incident", "comms"},
    "actions": {BASE, "triage", "incident", "sources"},
    "check": {BASE, "sources", "actions", "cli_common"},
    "sim": {BASE, "cli_common"},
    "cli_common": {BASE, "screens"},  # screens: the keymap and theme check, only when the config sets them
    "widgets": {BASE, "triage", "incident", "comms"},
    "screens": {BASE, "triage", "incident", "postmortem", "comms", "actions", "widgets"},  # postmortem: P writes it
    "app": {BASE, "triage", "incident", "comms", "actions", "sources", "live", "widgets", "screens"},
    "entry": {
        BASE,
        "triage",
        "incident",
        "postmortem",
        "comms",
        "actions",
        "sources",
        "check",
        "sim",
        "cli_common",
        "widgets",
        "screens",
        "app",
    },
}


def group_of(module: str) -> str:
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in GROUPS:
            return GROUPS[".".join(parts[:n])]
    raise AssertionError(f"{module}: in no group of test_boundaries.GROUPS (add it)")


def our_modules() -> dict[str, Path]:
    out = {}
    for folder in ("cockpit", "widgets", "screens"):
        for path in py_files(folder):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(("clay_cockpit", *parts[1:]) if folder == "cockpit" else ("clay_cockpit", *parts))
            out[name.removesuffix(".__init__")] = path
    return out


def runtime_imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Our modules ``path`` imports when it runs (in functions too; not
    under ``if TYPE_CHECKING:``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    typing_only = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for sub in node.body
        for n in ast.walk(sub)
    }
    out = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                out.add(full if full in modules else node.module)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
    return {m for m in out if m in modules}


def test_every_import_follows_an_allowed_layer_arrow() -> None:
    modules = our_modules()
    wrong = []
    for name, path in modules.items():
        mine = group_of(name)
        for target in runtime_imports(path, modules):
            theirs = group_of(target)
            if theirs != mine and theirs not in ARROWS[mine]:
                wrong.append(f"{name} ({mine}) imports {target} ({theirs})")
    assert not wrong, "layer arrows not in test_boundaries.ARROWS:\n" + "\n".join(sorted(wrong))


def test_the_arrows_themselves_have_no_circle() -> None:
    seen: dict[str, int] = {}

    def visit(group: str, path: tuple[str, ...]) -> None:
        assert group not in path, f"layer circle: {' -> '.join((*path, group))}"
        if seen.get(group):
            return
        for nxt in ARROWS[group]:
            visit(nxt, (*path, group))
        seen[group] = 1

    for group in ARROWS:
        visit(group, ())


OLD_NAMES = ("cockpit", "widgets", "screens", "clay_cockpit_config")


@pytest.mark.parametrize("folder", ["cockpit", "widgets", "screens", "config", "tests", "bench", "dev"])
def test_code_imports_us_by_the_one_installed_name(folder: str) -> None:
    """The folders install under clay_cockpit (pyproject's package-dir): an
    import of cockpit, widgets or screens would find nothing installed, or a
    stranger's package (issue 13)."""
    files = [
        p
        for p in (ROOT / folder).rglob("*")
        if p.is_file()
        and "__snapshots__" not in p.parts
        and "fixtures" not in p.parts
        and (p.suffix == ".py" or (not p.suffix and p.read_bytes()[:40].startswith(b"#!") and b"python" in p.read_bytes()[:40]))
    ]
    bad = []
    for path in files:
        for m in imported_roots(path):
            if m.split(".")[0] in OLD_NAMES:
                bad.append(f"{path.relative_to(ROOT)}: import {m}")
        if path.suffix != ".py" or path.name == "test_boundaries.py":
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):  # module names in strings: -m, monkeypatch, loggers
            if any(
                f"{q}{old}." in line and f"{q}{old}.toml" not in line and f"{q}{old}.log" not in line
                for q in "\"'"
                for old in OLD_NAMES[:3]
            ):
                bad.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()[:100]}")
    assert not bad, "old top-level names (use clay_cockpit…):\n" + "\n".join(bad)


def test_no_import_circles() -> None:
    """Over the whole tree, module by module (Tarjan's strongly connected components)."""
    modules = our_modules()
    graph = {name: runtime_imports(path, modules) for name, path in modules.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    circles: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                on.discard(w)
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:  # (cli's `if __name__ == "__main__"` imports itself by name: not a circle)
                circles.append(sorted(part))

    for v in graph:
        if v not in index:
            connect(v)
    assert not circles, f"import circles: {circles}"


def test_no_module_is_over_600_lines() -> None:
    long = {str(p.relative_to(ROOT)): n for p in our_modules().values() if (n := len(p.read_text(encoding="utf-8").splitlines())) > 600}
    assert not long, f"over 600 lines: {long}"


def test_the_app_is_wiring_only() -> None:
    """cockpit/app.py wires sources, panes and keys (issue 13: at most 400 lines, formatted): polling,
    backoff and log following are cockpit/live.py's, the key actions screens/app_actions.py's."""
    n = len((ROOT / "cockpit" / "app.py").read_text(encoding="utf-8").splitlines())
    assert n <= 400, f"cockpit/app.py has {n} lines: move what is not wiring out of it"
