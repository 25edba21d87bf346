"""Bad input stops cleanly (issue 12): every bad config value, file, flag or
scenario is one line naming the file, the key and what is wrong, exit code 2,
never a traceback, never a hang; and the full-screen cockpit refuses to start
without a terminal. Through the real command line, in a child process."""

from __future__ import annotations

import math
import os
import pty
import select
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
import tomli_w

from clay_cockpit.config import default_toml_text

ROOT = Path(__file__).resolve().parent.parent
ENVS = ("CLAY_COCKPIT_CONTEXT", "CLAY_COCKPIT_NAMESPACE", "CLAY_COCKPIT_KUBECONFIG", "CLAY_COCKPIT_CONFIG", "CLAY_COCKPIT_LOG_LEVEL")


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENVS}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_STATE_HOME=str(tmp_path / "state"), TMPDIR=str(tmp_path))
    return env


def run_cli(tmp_path: Path, *args: str, stdin=subprocess.DEVNULL) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "clay_cockpit.cli", *args],
        capture_output=True,
        text=True,
        stdin=stdin,
        env=_env(tmp_path),
        cwd=ROOT,
        timeout=30,
    )


def run_in_terminal(tmp_path: Path, *args: str, timeout: float = 30.0) -> tuple[int, str]:
    """Run the command line on a pseudo-terminal (stdin, stdout and stderr),
    as from a shell: (exit code, what it wrote). Killed after ``timeout``."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "clay_cockpit.cli", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=_env(tmp_path),
        cwd=ROOT,
        start_new_session=True,
    )
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
        else:
            proc.kill()
            pytest.fail(f"clay-cockpit {' '.join(args)} still running after {timeout:g} s: {out[-500:]!r}")
        return proc.wait(10), out.decode("utf-8", "replace").replace("\r\n", "\n")
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def config_with(tmp_path: Path, key: str, value) -> Path:
    data = tomllib.loads(default_toml_text())
    *parents, last = key.split(".")
    node = data
    for p in parents:
        node = node.setdefault(p, {})
    node[last] = value
    path = tmp_path / "c.toml"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return path


def assert_one_line(out: subprocess.CompletedProcess | tuple[int, str], line: str) -> None:
    code, text = (out.returncode, out.stderr + out.stdout) if isinstance(out, subprocess.CompletedProcess) else out
    assert "Traceback" not in text, text
    assert text == line + "\n", text
    assert code == 2


URL_PORT = "an http(s) URL with a host (and a port from 1 to 65535)"
TOKEN = "xoxb-2401234567-9876543210-AbCdEfGhIjKlMnOpQrStUv"


@pytest.mark.parametrize(
    "key, value, says",
    [
        ("statuspage.url", "http://[::1", f"statuspage.url: expected {URL_PORT}, found string 'http://[::1' (Invalid IPv6 URL)"),
        (
            "metrics.url",
            "http://prometheus:99999",
            f"metrics.url: expected {URL_PORT}, found string 'http://prometheus:99999' (Port out of range 0-65535)",
        ),
        (
            "health.url",
            "http://health:abc/h",
            f"health.url: expected {URL_PORT}, found string 'http://health:abc/h' (Port could not be cast to integer value as 'abc')",
        ),
        (
            "metrics.backup_urls",
            ["http://prometheus:0"],
            f"metrics.backup_urls[0]: expected {URL_PORT}, found string 'http://prometheus:0'",
        ),
        (
            "metrics.url",
            "http://admin:hunter2@prometheus:9090",
            "metrics.url: expected a URL without user:password@ (the token goes in "
            "the environment variable named by metrics.token_env), found a URL with credentials (not shown)",
        ),
        (
            "health.url",
            "https://oncall@health/h",
            "health.url: expected a URL without user:password@ (the token goes in the environment "
            "variable named by health.token_env), found a URL with credentials (not shown)",
        ),
        (
            "statuspage.url",
            "https://u:p@status.clay.com",
            "statuspage.url: expected a URL without user:password@ (it needs none), found a URL with credentials (not shown)",
        ),
        ("health.refresh", math.nan, "health.refresh: expected a number of seconds from 0.1 to 86400, found number nan"),
        ("metrics.refresh", math.inf, "metrics.refresh: expected a number of seconds from 0.1 to 86400, found number inf"),
        ("kube.refresh", 1e-9, "kube.refresh: expected a number of seconds from 0.1 to 86400, found number 1e-09"),
        ("kube.timeout", 1e300, "kube.timeout: expected a number of seconds from 0.1 to 600, found number 1e+300"),
        ("thresholds.error_rate_crit", math.nan, "thresholds.error_rate_crit: expected a number >= 0, found number nan"),
        ("thresholds.latency_p95_warn_ms", -5.0, "thresholds.latency_p95_warn_ms: expected a number >= 0, found number -5.0"),
        ("thresholds.error_ratio_crit", 1.5, "thresholds.error_ratio_crit: expected a number from 0 to 1, found number 1.5"),
        (
            "metrics.queries.request_rate.scale",
            -math.inf,
            "metrics.queries.request_rate.scale: expected a finite number, found number -inf",
        ),
        ("kube.log_buffer", 0, "kube.log_buffer: expected an integer from 1 to 100000, found number 0"),
        ("kube.deployments", [""], "kube.deployments[0]: expected a Kubernetes name (lowercase letters, digits, - and .), found string ''"),
        ("metrics.history", 604800.0, "metrics.history: expected at most 11000 steps of metrics.step (15 s), found 40320 steps (604800 s)"),
        (
            "slack.token_env",
            TOKEN,
            "slack.token_env: expected the NAME of the environment variable that holds the token, not the token, "
            "found what looks like a token (not shown)",
        ),
        (
            "health.token_env",
            "aZ3kQ9xW2mP7vL4tR8nB",
            "health.token_env: expected the NAME of the environment variable that holds the "
            "token, not the token, found what looks like a token (not shown)",
        ),
    ],
)
def test_a_bad_config_value_is_one_line_and_exit_2(tmp_path: Path, key: str, value, says: str) -> None:
    path = config_with(tmp_path, key, value)
    out = run_cli(tmp_path, "--config", str(path))
    assert_one_line(out, f"clay-cockpit: {path}: {says}")
    for secret in ("hunter2", TOKEN, "aZ3kQ9xW2mP7vL4tR8nB", ":p@"):
        assert secret not in out.stderr


def test_a_plain_variable_name_is_still_a_variable_name(tmp_path: Path) -> None:
    """The token check must not refuse real names (upper, lower, digits)."""
    from clay_cockpit.config_build import looks_like_token

    for name in ("SLACK_BOT_TOKEN", "clay_health_token", "PROM_TOKEN_2024", "Statuspage_Key_V2", "CLAY_COCKPIT_PROD_EU_HEALTH_BEARER"):
        assert not looks_like_token(name), name
    for token in (
        TOKEN,
        "ghp_" + "a1B2" * 9,
        "aZ3kQ9xW2mP7vL4tR8nB",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
        "sk-" + "x" * 30,
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
    ):
        assert looks_like_token(token), token


def test_config_files_that_are_no_text_files(tmp_path: Path) -> None:
    """Not UTF-8, a FIFO (reading it would wait for a writer forever), a
    directory, a character device: each one line, exit 2, at once."""
    latin = tmp_path / "latin.toml"
    latin.write_bytes(default_toml_text().encode("utf-8") + b"\n# caf\xe9\n")
    lines = default_toml_text().count("\n") + 2
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    cases = {
        latin: f"expected UTF-8 text, found a byte that is not UTF-8 (0xe9) on line {lines}",
        fifo: "expected a readable file (a regular file), found a FIFO (named pipe)",
        tmp_path: "expected a readable file (a regular file), found a directory",
        Path("/dev/zero"): "expected a readable file (a regular file), found a character device",
    }
    for path, says in cases.items():
        started = time.monotonic()
        assert_one_line(run_cli(tmp_path, "--config", str(path)), f"clay-cockpit: {path}: {says}")
        assert time.monotonic() - started < 20


@pytest.mark.parametrize(
    "args, says",
    [
        (["demo", "--speed", "nan"], "clay-cockpit demo: error: argument --speed: expected a number from 0.01 to 1000, found 'nan'"),
        (["demo", "--speed", "inf"], "clay-cockpit demo: error: argument --speed: expected a number from 0.01 to 1000, found 'inf'"),
        (["demo", "--speed", "1e300"], "clay-cockpit demo: error: argument --speed: expected a number from 0.01 to 1000, found '1e300'"),
        (["demo", "--seed", "-1"], "clay-cockpit demo: error: argument --seed: expected an integer from 0 to 4294967295, found '-1'"),
        (["sim", "--speed", "0"], "clay-cockpit sim: error: argument --speed: expected a number from 0.01 to 1000, found '0'"),
        (["sim", "--port", "99999"], "clay-cockpit sim: error: argument --port: expected an integer from 1 to 65522, found '99999'"),
        (
            ["sim", "--freeze-at", "nan"],
            "clay-cockpit sim: error: argument --freeze-at: expected a number from 0 to 4294967296, found 'nan'",
        ),
    ],
)
def test_a_bad_number_on_the_command_line_is_refused(tmp_path: Path, args: list[str], says: str) -> None:
    """argparse's usage line, then the one line naming the flag and what it takes; exit 2."""
    out = run_cli(tmp_path, *args)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.startswith("usage: clay-cockpit ") and out.stderr.splitlines()[-1] == says, out.stderr
    assert out.stdout == ""


def test_a_bad_scenario_file_is_one_line(tmp_path: Path) -> None:
    """The sim loads scenario files with the same checks: finite numbers in range, a regular UTF-8 file."""
    base = tomllib.loads((ROOT / "config" / "scenarios" / "rate-limited.toml").read_text(encoding="utf-8"))
    nan = tmp_path / "nan.toml"
    nan.write_text(tomli_w.dumps({**base, "faults": [{**base["faults"][0], "start": math.nan}]}), encoding="utf-8")
    huge = tmp_path / "huge.toml"
    huge.write_text(tomli_w.dumps({**base, "service": {"request_rate": 1e300}}), encoding="utf-8")
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b'title = "caf\xe9"\n')
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    cases = {
        nan: "faults[0].start: expected a number from 0 to 604800, found number nan",
        huge: "service.request_rate: expected a number of seconds > 0 and <= 10000, found number 1e+300",
        latin: "expected UTF-8 text, found a byte that is not UTF-8 (0xe9) on line 1",
        fifo: "expected a readable scenario file (a regular file), found a FIFO (named pipe)",
    }
    for path, says in cases.items():
        assert_one_line(run_cli(tmp_path, "sim", "--scenario", str(path)), f"clay-cockpit sim: {path}: {says}")


NO_TTY = "clay-cockpit: needs a terminal ({}); for scripts use `clay-cockpit check`, `clay-cockpit info` or `clay-cockpit postmortem`"


def test_the_cockpit_needs_a_terminal(tmp_path: Path) -> None:
    """stdin at EOF (</dev/null) used to spin at 100% CPU with q dead; with no
    terminal at all it drew escapes into stderr forever. Now: one line, exit 2,
    at once, and the demo starts no drill child (nothing left in TMPDIR)."""
    config = config_with(tmp_path, "kube.namespace", "clay-sync")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    for args in (["--config", str(config)], ["demo"]):
        assert_one_line(run_cli(scratch, *args), NO_TTY.format("stdin is not a TTY"))
        # stdin a terminal, but stderr (where Textual draws) a file
        master, slave = pty.openpty()
        try:
            out = run_cli(scratch, *args, stdin=slave)
        finally:
            os.close(slave)
            os.close(master)
        assert_one_line(out, NO_TTY.format("stderr is not a TTY"))
    assert [p.name for p in scratch.iterdir() if p.name.startswith("clay-drill-")] == []


def test_demo_with_a_bad_scenario_in_a_terminal_exits_2_with_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    """The drill child checks the scenario (the demo reads its verdict before
    it takes the screen): the same one line as a config error, exit 2, and
    no drill directory left behind. On a terminal, as a responder runs it."""
    bad = tmp_path / "bad.toml"
    bad.write_text('title = "x"\nrefresh = nan\n', encoding="utf-8")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    cases = {
        str(bad): f"clay-cockpit: {bad}: refresh: expected one of ",
        "no-such": "clay-cockpit: no-such: expected a shipped scenario name (bad-deploy, clay-outage, ",
    }
    for scenario, start in cases.items():
        code, text = run_in_terminal(scratch, "demo", "--scenario", scenario)
        assert code == 2, text
        assert text.startswith(start) and text.count("\n") == 1, text
        assert "Traceback" not in text
    assert [p.name for p in scratch.iterdir() if p.name.startswith("clay-drill-")] == []


def test_a_kubeconfig_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    """The kube source and `info` name it (they used to raise UnicodeDecodeError: "this is a bug")."""
    from dataclasses import replace

    from clay_cockpit.config import config_from_toml
    from clay_cockpit.signals import SourceError
    from clay_cockpit.sources.kube import Kube
    from clay_cockpit.target import kubeconfig_paths, read_kubeconfig

    latin = tmp_path / "kubeconfig"
    latin.write_bytes(b"apiVersion: v1\ncurrent-context: caf\xe9\n")
    kube = config_from_toml(tomllib.loads(default_toml_text()), "default.toml").kube
    err = Kube(replace(kube, kubeconfig=str(latin))).list_pods()
    assert isinstance(err, SourceError) and err.message == f"kubeconfig {latin} is not UTF-8 text", err
    assert read_kubeconfig(kubeconfig_paths(str(latin))).problem == f"{latin} is not UTF-8 text (byte 0xe9 at offset 35)"
