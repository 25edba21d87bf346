"""The wheel, installed in a fresh venv, works from outside the checkout:
--version, the shipped scenarios, and `check` against a running drill."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# one worker builds and installs the wheel for both tests: two workers would
# each run `build` in the same checkout at once (dev/test: --dist loadgroup)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("install")]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bin/ of a fresh venv with only the built wheel (and its dependencies) installed."""
    work = tmp_path_factory.mktemp("install")
    dist = work / "dist"
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)],
                   check=True, capture_output=True, timeout=600)
    wheels = list(dist.glob("clay_cockpit-*.whl"))
    assert len(wheels) == 1, wheels
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheels[0])],
                   check=True, capture_output=True, timeout=900, cwd=work)
    return venv / "bin"


def outside_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "CLAY_COCKPIT_CONFIG")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def test_version_and_scenarios_from_anywhere(installed: Path, tmp_path: Path) -> None:
    out = subprocess.run([str(installed / "clay-cockpit"), "--version"], capture_output=True, text=True,
                         cwd=tmp_path, env=outside_env(), timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("clay-cockpit 0."), out
    listed = subprocess.run([str(installed / "clay-cockpit"), "demo", "--list"], capture_output=True, text=True,
                            cwd=tmp_path, env=outside_env(), timeout=60)
    assert listed.returncode == 0, listed.stderr
    for name in ("healthy", "clay-outage", "rate-limited", "key-revoked", "infra-crashloop", "degraded-latency"):
        assert name in listed.stdout
    # the installed code is the wheel's, not the checkout's
    where = subprocess.run([str(installed / "python"), "-c", "import cockpit, clay_cockpit_config; print(cockpit.__file__, clay_cockpit_config.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path, env=outside_env(), timeout=60)
    assert str(ROOT) not in where.stdout and "site-packages" in where.stdout, where.stdout


def test_check_against_a_running_drill(installed: Path, tmp_path: Path) -> None:
    drill_dir = tmp_path / "drill"
    sim = subprocess.Popen([str(installed / "clay-cockpit"), "sim", "--scenario", "healthy", "--dir", str(drill_dir)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=outside_env())
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
        out = subprocess.run([str(installed / "clay-cockpit"), "check", "--config", str(drill_dir / "cockpit.toml")],
                             capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
        assert out.returncode == 0, out.stdout + out.stderr
        *table, blank, last = out.stdout.strip().splitlines()
        lines = [line for line in table if not line.startswith(" ")]
        assert blank == "" and last == f"all {len(lines)} checks passed", out.stdout
        parsed = [re.match(r"^(\S.*?)\s+(ok|warn|FAIL)\s", line) for line in lines]
        assert lines and all(p and p.group(2) == "ok" for p in parsed), out.stdout  # every row passes
        names = [p.group(1) for p in parsed if p]
        for name in ("config", "statuspage", "health", "metrics", "metrics backup 1", "metrics query errors_by_code",
                     "metrics query request_rate", "metrics query latency_p95", "clay", "slack token", "slack channel", "slack membership",
                     "status page key", "status page", "status page component drillcomp01", "kubeconfig", "kube auth"):
            assert name in names, (name, out.stdout)
        assert any(n.startswith("kube patch") for n in names) and any(n.startswith("kube create") for n in names), out.stdout
    finally:
        sim.send_signal(signal.SIGINT)
        sim.wait(20)
