"""`--env NAME` on the command line (issue 18): which subcommands take it,
what it picks, and every refusal as one line and exit 2 — an environment
the file does not define, a bad key in one, a file with environments and
none chosen, a production one picked by default_env alone. Real
subprocesses for the exit codes and stderr; in-process for the target's
precedence and the postmortem's search."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import test_cli
from test_cli import run_cli
from test_postmortem import T0, evidence, parse

from clay_cockpit import cli
from clay_cockpit.config import default_toml_text
from clay_cockpit.incident.lifecycle import IncidentStore
from clay_cockpit.incident.postmortem_cli import cmd_postmortem
from clay_cockpit.runbook import Severity

ENVS = """
[env.staging.kube]
namespace = "clay-sync-staging"

[env.prod-eu]
read_only = true
require_explicit = true

[env.prod-eu.kube]
context = "prod-eu"
namespace = "clay-sync-prod"

[env.prod-eu.slack]
channel = "#inc-clay-eu"
"""


def write(path: Path, *, default_env: str | None = "staging", extra: str = ENVS) -> Path:
    head = f'default_env = "{default_env}"\n' if default_env else ""
    path.write_text(head + default_toml_text() + extra, encoding="utf-8")
    return path


def one_line_2(out) -> str:
    """The refusal: exit 2, one line on stderr, no traceback, nothing on stdout."""
    assert out.returncode == 2, out
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr and out.stdout == "", out.stderr
    return lines[0]


home = test_cli.home  # the fixture: a fresh XDG config and state home and a kubeconfig

KNOWN = "expected one of the environments of {path} (staging, prod-eu)"


@pytest.mark.parametrize("command", [[], ["run"], ["check"], ["rbac"], ["info"]])
def test_an_unknown_env_is_one_line_naming_the_known_ones(home, tmp_path, command) -> None:
    config = write(tmp_path / "c.toml")
    line = one_line_2(run_cli(*command, "--config", str(config), "--env", "prod_eu", env=home))
    assert line == f"clay-cockpit: --env: {KNOWN.format(path=config)}, found 'prod_eu' (did you mean prod-eu?)"


def test_a_production_env_picked_by_default_env_alone_is_refused(home, tmp_path) -> None:
    config = write(tmp_path / "c.toml", default_env="prod-eu")
    for command in ([], ["check"], ["rbac"]):
        line = one_line_2(run_cli(*command, "--config", str(config), env=home))
        assert line == (
            f"clay-cockpit: {config}: env.prod-eu.require_explicit: expected `--env prod-eu` typed on the command line "
            "(default_env alone does not pick a production environment), found no --env"
        )
    # typed: the cockpit goes on to its next check (a terminal), rbac prints the prod namespace's Role
    line = one_line_2(run_cli("--config", str(config), "--env", "prod-eu", env=home))
    assert "needs a terminal" in line
    out = run_cli("rbac", "--config", str(config), "--env", "prod-eu", env=home)
    assert out.returncode == 0, out.stderr
    assert "namespace: clay-sync-prod" in out.stdout
    assert out.stdout.startswith("# clay-cockpit rbac --read-only:") and "- patch" not in out.stdout  # the profile is read-only
    assert "- patch" in run_cli("rbac", "--config", str(config), "--env", "staging", env=home).stdout  # (staging is not)


def test_environments_and_none_chosen_is_refused_where_the_cockpit_acts(home, tmp_path) -> None:
    config = write(tmp_path / "c.toml", default_env=None)
    line = one_line_2(run_cli("check", "--config", str(config), env=home))
    assert line == (
        f"clay-cockpit: {config}: default_env: expected an environment: type --env NAME, or set default_env (staging, prod-eu), found neither"
    )
    out = run_cli("info", "--config", str(config), env=home)  # info says so, and exits 0: it is what one runs to find out
    assert out.returncode == 0 and "env              none chosen: type --env NAME or set default_env (staging, prod-eu)" in out.stdout


def test_a_bad_key_in_an_env_is_one_line_with_its_path(home, tmp_path) -> None:
    config = write(tmp_path / "c.toml", extra=ENVS + '\n[env.prod-us.kube]\ncontxt = "us"\n')
    line = one_line_2(run_cli("check", "--config", str(config), "--env", "staging", env=home))
    assert line.startswith(f"clay-cockpit: {config}: env.prod-us.kube.contxt: expected one of container, context,")
    assert line.endswith(", found unknown key")


def test_info_shows_the_env_picked_its_target_and_its_incidents(home, tmp_path) -> None:
    config = write(tmp_path / "c.toml")
    state = Path(home["XDG_STATE_HOME"]) / "clay-cockpit"
    out = run_cli("info", "--config", str(config), "--env", "prod-eu", "--json", env={**home, "CLAY_COCKPIT_CONTEXT": "staging"})
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["env"]["name"] == "prod-eu" and info["env"]["from"] == "--env" and info["env"]["known"] == ["staging", "prod-eu"]
    assert info["env"]["require_explicit"] and info["env"]["read_only"]
    # the profile's own context beats the shell's $CLAY_COCKPIT_CONTEXT
    assert info["kube"]["context"] == {"value": "prod-eu", "from": "env.prod-eu.kube.context in the config file", "in_kubeconfig": True}
    assert info["incidents_dir"] == str(state / "envs" / "prod-eu" / "incidents")
    assert info["postmortems_dir"] == str(state / "envs" / "prod-eu" / "postmortems")

    out = run_cli("info", "--config", str(config), env=home)
    assert "env              staging (from default_env; of staging, prod-eu)" in out.stdout
    assert f"incidents        {state / 'envs' / 'staging' / 'incidents'} (0 kept)" in out.stdout
    out = run_cli("info", "--config", str(config), "--env", "prod-eu", "--context", "staging", env=home)
    assert "kube context     staging (from --context)" in out.stdout  # a flag still wins


def test_the_profile_beats_the_shells_variables_and_the_flags_beat_it(home, tmp_path, monkeypatch) -> None:
    config = write(tmp_path / "c.toml")
    monkeypatch.setenv("CLAY_COCKPIT_CONTEXT", "staging")
    monkeypatch.setenv("CLAY_COCKPIT_NAMESPACE", "from-env")
    eu = cli.load_user_config(str(config), env="prod-eu")
    assert (eu.env, eu.kube.context, eu.kube.namespace, eu.kube.read_only) == ("prod-eu", "prod-eu", "clay-sync-prod", True)
    assert eu.slack.channel == "#inc-clay-eu"
    staging = cli.load_user_config(str(config))  # default_env; it sets no context: the shell's variables apply
    assert (staging.env, staging.kube.context, staging.kube.namespace) == ("staging", "staging", "clay-sync-staging")
    flagged = cli.load_user_config(str(config), env="prod-eu", context="staging", namespace="from-flag")
    assert (flagged.kube.context, flagged.kube.namespace) == ("staging", "from-flag")


def test_env_typed_on_the_command_line_reaches_check_and_rbac(home, tmp_path) -> None:
    """main records --env as it records --context: load_user_config, called by check and rbac, applies it."""
    config = write(tmp_path / "c.toml")
    cli.main(["info", "--config", str(config), "--env", "prod-eu"])
    try:
        assert cli.load_user_config(str(config)).env == "prod-eu"
    finally:
        cli._command_line.update(dict.fromkeys(cli._command_line))


def test_which_subcommands_take_env(home) -> None:
    for command in ("run", "check", "rbac", "info", "postmortem"):
        out = run_cli(command, "--help", env=home)
        assert "--env NAME" in out.stdout, command
    for command in ("demo", "init"):  # a drill is no environment of yours; init writes the starter, which has none
        out = run_cli(command, "--env", "prod-eu", env=home)
        assert out.returncode == 2 and out.stderr.strip().splitlines()[-1].endswith("unrecognized arguments: --env prod-eu")


def test_env_completes_the_configs_environments(tmp_path) -> None:
    import argparse

    config = write(tmp_path / "c.toml")
    parsed = argparse.Namespace(config=str(config))
    assert cli._complete_envs("", parsed) == ["staging", "prod-eu"]
    assert cli._complete_envs("pr", parsed) == ["prod-eu"]
    assert cli._complete_envs("", argparse.Namespace(config=str(tmp_path / "none.toml"))) == []


def test_postmortem_finds_each_envs_incidents_and_env_narrows_it(home, tmp_path, capsys) -> None:
    root = Path(home["XDG_STATE_HOME"]) / "clay-cockpit"
    ids = {}
    for n, name in enumerate(("prod-eu", "staging")):
        store = IncidentStore(root / "envs" / name, actor="ana@bastion-1", clock=lambda n=n: T0 + 3600 * n)
        store.declare(Severity.P2, evidence(T0 + 3600 * n, 5.0))
        ids[name] = store.incident.id
        store.close()
    os.utime(root / "envs" / "prod-eu" / "incidents" / f"{ids['prod-eu']}.jsonl", (T0, T0))  # staging's is the newest

    assert cmd_postmortem(parse([])) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(f"# Postmortem: {ids['staging']}") and "(env staging)" in captured.err
    assert cmd_postmortem(parse(["--env", "prod-eu"])) == 0  # only prod-eu's
    assert capsys.readouterr().out.startswith(f"# Postmortem: {ids['prod-eu']}")

    config = write(tmp_path / "c.toml")
    assert cmd_postmortem(parse(["--env", "prod-us", "--config", str(config)])) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"clay-cockpit postmortem: --env: {KNOWN.format(path=config)}, found 'prod-us' (did you mean prod-eu?)"]
    assert cmd_postmortem(parse(["--env", "qa"])) == 2  # no config to ask: the folders there are
    assert capsys.readouterr().err.strip() == (
        f"clay-cockpit postmortem: --env: expected one of the environments with incidents in {root / 'envs'} (prod-eu, staging), found 'qa'"
    )
