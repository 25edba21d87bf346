"""Config: lookup order, validation errors as one line, init, the reference."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import tomli_w

from clay_cockpit.config import (
    ConfigError,
    config_from_toml,
    default_toml_text,
    find_config,
    load_config,
    reference,
)

ROOT = Path(__file__).resolve().parent.parent


def default_dict() -> dict:
    return tomllib.loads(default_toml_text())


def with_change(path: str, value, data: dict | None = None) -> dict:
    """The default config with one dotted key set (or removed when value is ...)."""
    data = data or default_dict()
    *parents, last = path.split(".")
    node = data
    for p in parents:
        node = node.setdefault(p, {})
    if value is ...:
        node.pop(last, None)
    else:
        node[last] = value
    return data


def test_shipped_default_is_valid() -> None:
    cfg = config_from_toml(default_dict(), "default.toml")
    assert cfg.kube.deployments == ("clay-sync",)
    assert {q.name for q in cfg.metrics.queries} >= {"errors_by_code", "request_rate", "latency_p95"}
    assert cfg.metrics.query("latency_p95").scale == 1000.0


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("statuspage.url", 3, "x.toml: statuspage.url: expected a string, found number 3"),
        ("statuspage.url", "ftp://status", "x.toml: statuspage.url: expected an http(s) URL with a host, found string 'ftp://status'"),
        (
            "statuspage.url",
            ...,
            "x.toml: statuspage.url: expected a value (Base URL of Clay's public status page), found nothing (missing required key)",
        ),
        (
            "statuspage.provider",
            "pagerduty",
            "x.toml: statuspage.provider: expected one of auto, statuspage, rootly, found string 'pagerduty'",
        ),
        ("health.refresh", 0, "x.toml: health.refresh: expected a number of seconds from 0.1 to 86400, found number 0"),
        ("health.refresh", "10s", "x.toml: health.refresh: expected a number, found string '10s'"),
        ("metrics.backup_urls", "http://b:9090", "x.toml: metrics.backup_urls: expected an array of strings, found string 'http://b:9090'"),
        (
            "metrics.backup_urls",
            ["http://ok:9090", "nope"],
            "x.toml: metrics.backup_urls[1]: expected an http(s) URL with a host, found string 'nope'",
        ),
        (
            "metrics.queries.latency_p95",
            ...,
            "x.toml: metrics.queries.latency_p95: expected a PromQL query (triage reads it), found nothing (missing required key)",
        ),
        ("metrics.queries.request_rate.scale", "x", "x.toml: metrics.queries.request_rate.scale: expected a number, found string 'x'"),
        ("kube.log_tail", 1.5, "x.toml: kube.log_tail: expected an integer, found number 1.5"),
        ("kube.read_only", "yes", "x.toml: kube.read_only: expected true or false, found string 'yes'"),
        ("kube.deployments", [], "x.toml: kube.deployments: expected at least one deployment name, found an empty array"),
        ("kube.secret.nam", "x", "x.toml: kube.secret.nam: expected one of key, name, found unknown key"),
        (
            "slack.token",
            "xoxb-1234",
            "x.toml: slack.token: expected no secrets in the file (name the environment variable with token_env), found a secret",
        ),
        (
            "slack.token_env",
            "1BAD NAME",
            "x.toml: slack.token_env: expected the name of an environment variable (letters, digits, _), found string '1BAD NAME'",
        ),
        (
            "colour",
            "blue",
            "x.toml: colour: expected one of actions, clay, comms, default_env, env, escalation, external_status, grafana, health, keymap, kube, metrics, pagerduty, runbook, shared, slack, statuspage, thresholds, ui, found unknown key",
        ),
        ("kube", "prod", "x.toml: kube: expected a table, found string 'prod'"),
    ],
)
def test_bad_values_give_one_line_naming_key(key, value, message) -> None:
    with pytest.raises(ConfigError) as err:
        config_from_toml(with_change(key, value), "x.toml")
    assert str(err.value) == message
    assert "\n" not in str(err.value)


def test_secret_value_never_echoed() -> None:
    with pytest.raises(ConfigError) as err:
        config_from_toml(with_change("health.api_key", "s3cr3t-value"), "x.toml")
    assert "s3cr3t" not in str(err.value)


def test_toml_syntax_error_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "c.toml"
    bad.write_text("[statuspage\nurl = 1\n")
    with pytest.raises(ConfigError) as err:
        load_config(bad)
    assert str(err.value).startswith(f"{bad}: expected valid TOML, found ")
    assert "\n" not in str(err.value)


def test_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("CLAY_COCKPIT_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="clay-cockpit init"):
        find_config(None)
    xdg = tmp_path / "xdg" / "clay-cockpit" / "config.toml"
    xdg.parent.mkdir(parents=True)
    xdg.write_text(default_toml_text())
    assert find_config(None) == xdg
    monkeypatch.setenv("CLAY_COCKPIT_CONFIG", str(tmp_path / "env.toml"))
    assert find_config(None) == tmp_path / "env.toml"
    assert find_config(str(tmp_path / "flag.toml")) == tmp_path / "flag.toml"


def test_reference_covers_every_key() -> None:
    keys = {row[0] for row in reference()}
    flat = set()

    def walk(prefix, node):
        for k, v in node.items():
            full = f"{prefix}.{k}" if prefix else k
            if isinstance(v, dict):
                walk(full if not prefix.endswith("queries") else f"{prefix}.NAME", v)
            else:
                flat.add(full)

    walk("", default_dict())
    flat = {k.replace("metrics.queries.NAME", "metrics.queries.NAME") for k in flat}
    assert flat <= keys, f"keys without a reference row: {sorted(flat - keys)}"


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "clay_cockpit.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd or ROOT,
        timeout=60,
    )


def test_cli_bad_config_exits_2_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "c.toml"
    bad.write_bytes(tomli_w.dumps(with_change("metrics.url", "not a url")).encode())
    for command in (["--config", str(bad)], ["check", "--config", str(bad)]):
        out = run_cli(*command)
        assert out.returncode == 2, out
        assert out.stderr.strip() == f"clay-cockpit: {bad}: metrics.url: expected an http(s) URL with a host, found string 'not a url'"
        assert "Traceback" not in out.stderr + out.stdout


def test_cli_missing_config_exits_2(tmp_path: Path) -> None:
    out = run_cli("check", env={"XDG_CONFIG_HOME": str(tmp_path), "CLAY_COCKPIT_CONFIG": ""})
    assert out.returncode == 2
    assert "clay-cockpit init" in out.stderr and "Traceback" not in out.stderr


def test_cli_usage_errors_exit_2() -> None:
    out = run_cli("demo", "--speed", "-3")
    assert (
        out.returncode == 2
        and out.stderr.splitlines()[-1] == "clay-cockpit demo: error: argument --speed: expected a number from 0.01 to 1000, found '-3'"
    )


def test_a_reader_that_went_away_is_no_traceback() -> None:
    """`clay-cockpit demo --list | head -1`: stdout's reader is gone."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # every write now fails with EPIPE
    try:
        out = subprocess.run(
            [sys.executable, "-m", "clay_cockpit.cli", "demo", "--list"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert out.returncode == 141 and out.stderr == "", out.stderr


def test_init_writes_valid_config_and_refuses_to_overwrite(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    out = run_cli("init", env=env)
    assert out.returncode == 0, out.stderr
    path = tmp_path / "clay-cockpit" / "config.toml"
    cfg = load_config(path)
    assert cfg.statuspage.url == "https://status.clay.com"
    path.write_text(path.read_text() + "\n# my edits\n")
    again = run_cli("init", env=env)
    assert again.returncode == 2 and "already exists" in again.stderr and "--force" in again.stderr
    assert path.read_text().endswith("# my edits\n")
    forced = run_cli("init", "--force", env=env)
    assert forced.returncode == 0 and "# my edits" not in path.read_text()


def test_version_and_help() -> None:
    out = run_cli("--version")
    assert out.returncode == 0 and out.stdout.startswith("clay-cockpit ")
    helped = run_cli("--help")
    for sub in ("demo", "sim", "init", "check"):
        assert sub in helped.stdout


def test_postmortem_subcommand_is_wired(tmp_path: Path) -> None:
    out = run_cli("postmortem", "--state-dir", str(tmp_path))
    assert out.returncode == 1, out
    assert "no incident" in out.stderr and "Traceback" not in out.stderr
