"""Packaging (issue 13): what a fresh clone builds, installs and runs.

- the wheel, installed in a fresh venv at the pinned versions, works from
  outside the checkout: --version, the shipped scenarios, and `check`
  against a running drill;
- the wheel and the sdist build without a setuptools warning, the wheel
  holds every data file, the sdist every file git tracks;
- constraints.txt pins every dependency, inside pyproject.toml's ranges;
- the demo's drill child never imports a package from the working directory.

Builds run on a copy of the checkout without .venv, build/ and caches: a
stale build/lib would otherwise go into the wheel.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent

# one worker builds and installs the wheel for both tests: two workers would
# each run `build` in the same checkout at once (dev/test: --dist loadgroup)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("install")]


JUNK = (".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "*.py[cod]", ".hypothesis", ".pytest_cache", "snapshot_report.html")


def clean_copy(dest: Path) -> Path:
    """The checkout as a fresh clone has it (work in progress included)."""
    shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns(*JUNK), symlinks=True)
    return dest


def build_env() -> dict[str, str]:
    # (PYTHONDONTWRITEBYTECODE makes setuptools say "warning: byte-compiling is disabled")
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE")}


# what setuptools prints when it warns: a Python warning ("...Warning: "),
# a distutils log line ("warning: ..."), the "!!" frames round the long ones
SETUPTOOLS_WARNING = re.compile(r"\w*Warning: |^\s*warning: |^\s*!!\s*$")


def warning_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if SETUPTOOLS_WARNING.search(line)]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bin/ of a fresh venv with only the built wheel (and its dependencies, at
    the versions of constraints.txt) installed."""
    work = tmp_path_factory.mktemp("install")
    dist = work / "dist"
    source = clean_copy(work / "source")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(source)],
        check=True,
        capture_output=True,
        timeout=600,
        env=build_env(),
    )
    wheels = list(dist.glob("clay_cockpit-*.whl"))
    assert len(wheels) == 1, wheels
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "-c",
            str(ROOT / "constraints.txt"),
            str(wheels[0]),
        ],
        check=True,
        capture_output=True,
        timeout=900,
        cwd=work,
    )
    return venv / "bin"


def outside_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "CLAY_COCKPIT_CONFIG")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def test_version_and_scenarios_from_anywhere(installed: Path, tmp_path: Path) -> None:
    out = subprocess.run(
        [str(installed / "clay-cockpit"), "--version"], capture_output=True, text=True, cwd=tmp_path, env=outside_env(), timeout=60
    )
    assert out.returncode == 0 and out.stdout.startswith("clay-cockpit 0."), out
    listed = subprocess.run(
        [str(installed / "clay-cockpit"), "demo", "--list"], capture_output=True, text=True, cwd=tmp_path, env=outside_env(), timeout=60
    )
    assert listed.returncode == 0, listed.stderr
    for name in (
        "healthy",
        "clay-outage",
        "rate-limited",
        "key-revoked",
        "infra-crashloop",
        "degraded-latency",
        "bad-deploy",
        "node-pressure",
    ):
        assert name in listed.stdout
    # the installed code is the wheel's, not the checkout's
    where = subprocess.run(
        [
            str(installed / "python"),
            "-c",
            "import clay_cockpit.widgets, clay_cockpit.data; print(clay_cockpit.widgets.__file__, clay_cockpit.data.__file__)",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=outside_env(),
        timeout=60,
    )
    assert where.returncode == 0 and str(ROOT) not in where.stdout and where.stdout.count("site-packages/clay_cockpit/") == 2, where
    # one import name: the folders' own names are not importable from an install (nothing to collide with)
    for old in ("cockpit", "widgets", "screens", "clay_cockpit_config"):
        gone = subprocess.run(
            [str(installed / "python"), "-c", f"import {old}"], capture_output=True, text=True, cwd=tmp_path, env=outside_env(), timeout=60
        )
        assert gone.returncode != 0 and "ModuleNotFoundError" in gone.stderr, (old, gone)


def test_check_against_a_running_drill(installed: Path, tmp_path: Path) -> None:
    drill_dir = tmp_path / "drill"
    sim = subprocess.Popen(
        [str(installed / "clay-cockpit"), "sim", "--scenario", "healthy", "--dir", str(drill_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=outside_env(),
    )
    try:
        deadline = time.monotonic() + 60
        seen = []
        while time.monotonic() < deadline:
            line = sim.stdout.readline()
            if not line:
                break
            seen.append(line)
            if "Ctrl-C stops the drill" in line:
                break
        assert (drill_dir / "cockpit.toml").exists(), "".join(seen) + sim.stderr.read()
        env = outside_env()
        for line in (drill_dir / "drill.env").read_text().split():
            name, _, value = line.partition("=")
            env[name] = value
        out = subprocess.run(
            [str(installed / "clay-cockpit"), "check", "--config", str(drill_dir / "cockpit.toml")],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=120,
        )
        assert out.returncode == 0, out.stdout + out.stderr
        *table, blank, last = out.stdout.strip().splitlines()
        lines = [line for line in table if not line.startswith(" ")]
        assert blank == "" and last == f"all {len(lines)} checks passed", out.stdout
        parsed = [re.match(r"^(\S.*?)\s+(ok|warn|FAIL)\s", line) for line in lines]
        assert lines and all(p and p.group(2) == "ok" for p in parsed), out.stdout  # every row passes
        names = [p.group(1) for p in parsed if p]
        for name in (
            "config",
            "statuspage",
            "health",
            "metrics",
            "metrics backup 1",
            "metrics query errors_by_code",
            "metrics query request_rate",
            "metrics query latency_p95",
            "clay",
            "slack token",
            "slack channel",
            "slack membership",
            "status page key",
            "status page",
            "status page component drillcomp01",
            "kubeconfig",
            "kube auth",
        ):
            assert name in names, (name, out.stdout)
        assert any(n.startswith("kube patch") for n in names) and any(n.startswith("kube create") for n in names), out.stdout
    finally:
        sim.send_signal(signal.SIGINT)
        sim.wait(20)


def test_the_wheel_builds_without_a_setuptools_warning(tmp_path: Path) -> None:
    """`pip wheel . -v` says no warning, and the wheel holds every data file
    of our folders, the licence and the metadata we mean."""
    source = clean_copy(tmp_path / "source")
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-w", str(tmp_path / "dist"), "-v", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        timeout=600,
        env=build_env(),
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    assert not warning_lines(out.stdout + out.stderr), "\n".join(warning_lines(out.stdout + out.stderr))
    (wheel,) = (tmp_path / "dist").glob("clay_cockpit-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    # one import name in site-packages (issue 13): nothing called widgets or screens to collide with
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"clay_cockpit"}, sorted(tops)
    assert any(n.startswith("clay_cockpit/widgets/") for n in names) and any(n.startswith("clay_cockpit/data/scenarios/") for n in names)
    # every file that is not Python in a folder that goes into the wheel, by its
    # path inside that folder (whatever the folder's import name in the wheel)
    data = [
        p.relative_to(ROOT / top).as_posix()
        for top in ("cockpit", "widgets", "screens", "config")
        for p in (ROOT / top).rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    ]
    assert data
    missing = [d for d in data if not any(n.endswith("/" + d) for n in names)]
    assert not missing, f"not in the wheel: {missing}"
    meta = next(zipfile.ZipFile(wheel).read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
    for line in ("License-Expression: LicenseRef-Proprietary", "License-File: LICENSE", "Classifier: Private :: Do Not Upload"):
        assert line in meta.splitlines(), line
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    textual = [line for line in meta.splitlines() if re.match(r"Requires-Dist: textual\b(?!-)", line)]
    assert textual and "<" in textual[0], textual  # one major version (issue 13)


def test_the_sdist_is_the_checkout(tmp_path: Path) -> None:
    """The sdist builds without a warning and holds every file git tracks
    (tests, fixtures, snapshots, dev/test, constraints.txt), and no cache; its
    tests are collected, and the README and CI checks pass, from the
    unpacked sdist. (./dev/test runs the whole suite there.)"""
    source = clean_copy(tmp_path / "source")
    out = subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--outdir", str(tmp_path / "dist"), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
        env=build_env(),
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    assert not warning_lines(out.stdout + out.stderr), "\n".join(warning_lines(out.stdout + out.stderr))
    (sdist,) = (tmp_path / "dist").glob("clay_cockpit-*.tar.gz")
    with tarfile.open(sdist) as tar:
        members = [m.name.partition("/")[2] for m in tar.getmembers() if m.isfile()]
        tar.extractall(tmp_path / "unpacked", filter="data")
    assert not [m for m in members if "__pycache__" in m or m.endswith(".pyc")], members
    if (ROOT / ".git").exists() and shutil.which("git"):
        tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
        missing = sorted(set(tracked) - set(members))
        assert not missing, f"tracked but not in the sdist (MANIFEST.in): {missing}"
    for path in ("LICENSE", "constraints.txt", "dev/test", "tests/conftest.py"):
        assert path in members, path
    unpacked = next((tmp_path / "unpacked").iterdir())
    assert os.access(unpacked / "dev" / "test", os.X_OK) and os.access(unpacked / ".ci" / "run", os.X_OK)
    env = {**build_env(), "PYTHONDONTWRITEBYTECODE": "1"}
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q"],
        cwd=unpacked,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert collected.returncode == 0 and re.search(r"^\d+ tests collected", collected.stdout, re.MULTILINE), collected.stdout[-3000:]
    readme = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "tests/test_readme.py"],
        cwd=unpacked,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert readme.returncode == 0, readme.stdout[-3000:]


def test_constraints_pin_every_dependency() -> None:
    """constraints.txt (what ./dev/test installs with) pins every dependency and
    test dependency, and their own, each inside pyproject.toml's range."""
    import importlib.metadata
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep and version.strip(), f"constraints.txt: not name==version: {line!r}"
            pins[canonicalize_name(name)] = version.strip()
    assert canonicalize_name(project["name"]) not in pins, "constraints.txt pins the project itself"
    wanted = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]]
    for req in wanted:
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not in constraints.txt (CONTRIBUTING.md: refreshing the constraints)"
        assert req.specifier.contains(pins[name], prereleases=True), f"constraints.txt: {req.name}=={pins[name]} is outside {req}"
    # their own dependencies, as installed here
    seen, todo = set(), list(wanted)
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name in seen or (req.marker and not req.marker.evaluate({"extra": ""})):
            continue
        seen.add(name)
        assert name in pins, f"{req.name} (needed by the project's dependencies) is not in constraints.txt"
        try:
            todo += [Requirement(r) for r in importlib.metadata.requires(req.name) or []]
        except importlib.metadata.PackageNotFoundError:
            pass  # not installed here: its own needs are not known


def test_the_drill_child_ignores_a_package_in_the_working_directory(tmp_path: Path) -> None:
    """`clay-cockpit demo` started in a folder that holds one named like our
    package (an old checkout, say): the drill child is `python -P -m ...`, so
    it imports the installed package, not that one."""
    from clay_cockpit.demo import start_drill

    top = start_drill.__module__.split(".")[0]
    here = tmp_path / "here"
    (here / top).mkdir(parents=True)
    imported = tmp_path / "imported"
    (here / top / "__init__.py").write_text(
        f"open({str(imported)!r}, 'w').close()\nraise SystemExit('the {top}/ in the working directory was imported')\n"
    )
    # the decoy bites: without -P, `python -m` from there imports it
    bitten = subprocess.run([sys.executable, "-m", f"{top}.sim", "--help"], cwd=here, capture_output=True, text=True, timeout=60)
    assert imported.exists() and "working directory was imported" in bitten.stderr, bitten
    imported.unlink()
    before = Path.cwd()
    os.chdir(here)  # the child inherits it (start_drill takes no cwd)
    try:
        drill = start_drill("healthy", speed=10, workdir=tmp_path / "drill")
    finally:
        os.chdir(before)
    try:
        drill.wait_scenario(timeout=30)
        assert drill.wait_ready(30), (tmp_path / "drill" / "sim.log").read_text()
        assert drill.scenario == "healthy" and not imported.exists()
    finally:
        drill.stop()


def test_contributing_draws_the_layer_arrows_of_test_boundaries() -> None:
    """CONTRIBUTING.md's table of layers says what tests/test_boundaries.py
    asserts: one row per layer, with the layers it may import."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_boundaries", ROOT / "tests" / "test_boundaries.py")
    assert spec and spec.loader
    boundaries = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(boundaries)
    rows = {}
    for line in (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8").splitlines():
        if m := re.match(r"^\| `(\w+)` \| .* \| ([^|]*) \|$", line):
            rows[m.group(1)] = set() if m.group(2).strip() == "—" else {n.strip() for n in m.group(2).split(",")}
    assert rows == {group: set(arrows) for group, arrows in boundaries.ARROWS.items()}, (
        "CONTRIBUTING.md's layer table differs from test_boundaries.ARROWS: change both"
    )
