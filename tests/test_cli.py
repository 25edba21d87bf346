"""The command line as a kubectl user expects it: the kube target's flags and
environment overrides (and their precedence), `info`, `init` keeping the
shipped comments, help texts with examples, a mistyped subcommand, shell
completion, the log level, and the [ui]/[keymap] checks."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from clay_cockpit import cli
from clay_cockpit.config import ConfigError, config_from_toml, default_toml_text, load_config
from clay_cockpit.config_target import target_overrides
from clay_cockpit.paths import state_dir

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
KUBECONFIG = """\
apiVersion: v1
kind: Config
current-context: prod-eu
contexts:
- name: prod-eu
  context: {cluster: eu, user: oncall, namespace: clay-sync-prod}
- name: staging
  context: {cluster: staging, user: oncall}
clusters: []
users: []
"""
TARGET_ENVS = (
    "CLAY_COCKPIT_CONTEXT",
    "CLAY_COCKPIT_NAMESPACE",
    "CLAY_COCKPIT_KUBECONFIG",
    "CLAY_COCKPIT_CONFIG",
    "CLAY_COCKPIT_LOG_LEVEL",
    "KUBECONFIG",
)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A fresh XDG config and state home and a kubeconfig (current context
    prod-eu, namespace clay-sync-prod); none of the developer's own. Returns
    the environment for a subprocess."""
    for name in TARGET_ENVS:
        monkeypatch.delenv(name, raising=False)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG, encoding="utf-8")
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_STATE_HOME": str(tmp_path / "state"), "KUBECONFIG": str(kubeconfig)}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in TARGET_ENVS}
    return subprocess.run(
        [sys.executable, "-m", "clay_cockpit.cli", *args],
        capture_output=True,
        text=True,
        env={**clean, **(env or {})},
        cwd=ROOT,
        timeout=60,
    )


def write_config(path: Path, **kube: str) -> Path:
    text = default_toml_text()
    for key, value in kube.items():
        lines = text.splitlines()
        start = lines.index("[kube]")
        i = next(n for n in range(start, len(lines)) if lines[n].startswith(f"{key} ="))
        lines[i] = f"{key} = {json.dumps(value)}"
        text = "\n".join(lines) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------
# The kube target: flag > environment > config file > kubeconfig


def test_flag_beats_environment_beats_file(home, tmp_path, monkeypatch) -> None:
    config = write_config(tmp_path / "c.toml", context="staging", namespace="from-file")
    loaded = cli.load_user_config(str(config))
    assert (loaded.kube.context, loaded.kube.namespace) == ("staging", "from-file")

    monkeypatch.setenv("CLAY_COCKPIT_CONTEXT", "prod-eu")
    monkeypatch.setenv("CLAY_COCKPIT_NAMESPACE", "from-env")
    loaded = cli.load_user_config(str(config))
    assert (loaded.kube.context, loaded.kube.namespace) == ("prod-eu", "from-env")

    loaded = cli.load_user_config(str(config), context="staging", namespace="from-flag")
    assert (loaded.kube.context, loaded.kube.namespace) == ("staging", "from-flag")

    other = tmp_path / "other-kubeconfig"
    other.write_text(KUBECONFIG, encoding="utf-8")
    loaded = cli.load_user_config(str(config), kubeconfig=str(other), read_only=True)
    assert loaded.kube.kubeconfig == str(other) and loaded.kube.read_only


def test_the_command_lines_flags_reach_every_subcommand_that_loads_the_config(home, tmp_path) -> None:
    """`check` loads the config through load_user_config without passing the
    flags: the ones main parsed are applied (info shows it from outside)."""
    config = write_config(tmp_path / "c.toml", context="prod-eu", namespace="from-file")
    cli.main(["info", "--config", str(config), "--context", "staging", "-n", "from-flag"])  # records them
    try:
        loaded = cli.load_user_config(str(config))
        assert (loaded.kube.context, loaded.kube.namespace) == ("staging", "from-flag")
    finally:
        cli._command_line.update(dict.fromkeys(cli._command_line))


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["-n", "Clay_Sync"],
            "clay-cockpit: --namespace: expected a Kubernetes namespace name (lowercase letters, digits and -, at most 63), found string 'Clay_Sync'",
        ),
        (["--context", "nope"], "clay-cockpit: --context: expected a context of kubeconfig {kc} (prod-eu, staging), found 'nope'"),
        (["--kubeconfig", "/no/such/file"], "clay-cockpit: --kubeconfig: expected a kubeconfig file, found no file at /no/such/file"),
    ],
    ids=["bad-namespace", "unknown-context", "missing-kubeconfig"],
)
def test_bad_target_is_one_line_and_exit_2(home, tmp_path, args, message) -> None:
    config = write_config(tmp_path / "c.toml")
    for command in (["--config", str(config), *args], ["check", "--config", str(config), *args]):
        out = run_cli(*command, env=home)
        assert out.returncode == 2, out
        assert out.stderr.strip() == message.format(kc=home["KUBECONFIG"]), out.stderr
        assert "Traceback" not in out.stderr


def test_an_environment_context_not_in_the_kubeconfig_names_the_variable(home, tmp_path) -> None:
    config = write_config(tmp_path / "c.toml")
    out = run_cli("check", "--config", str(config), env={**home, "CLAY_COCKPIT_CONTEXT": "prod-us"})
    assert out.returncode == 2
    assert out.stderr.startswith("clay-cockpit: $CLAY_COCKPIT_CONTEXT: expected a context of kubeconfig "), out.stderr


def test_target_overrides_ignore_empty_environment_but_not_an_empty_flag() -> None:
    env = {"CLAY_COCKPIT_CONTEXT": "", "CLAY_COCKPIT_NAMESPACE": "ns-env"}
    assert target_overrides(environ=env) == {"namespace": ("ns-env", "$CLAY_COCKPIT_NAMESPACE")}
    assert target_overrides(namespace="", environ=env) == {"namespace": ("", "--namespace")}


# --------------------------------------------------------------------------
# info


def test_info_json_paths_and_where_each_target_value_came_from(home, tmp_path) -> None:
    from clay_cockpit.incident.lifecycle import IncidentStore

    out = run_cli("info", "--json", env=home)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    state = Path(home["XDG_STATE_HOME"]) / "clay-cockpit"
    assert info["config"] == {
        "path": str(Path(home["XDG_CONFIG_HOME"]) / "clay-cockpit" / "config.toml"),
        "from": "default",
        "exists": False,
    }
    assert info["state_dir"] == str(state) and info["log_file"] == str(state / "cockpit.log")
    assert info["incidents_dir"] == str(IncidentStore(state).dir) == str(state / "incidents")
    assert info["log_level"] == "warning"
    assert info["kube"] == {
        "context": {"value": "prod-eu", "from": "kubeconfig current-context", "in_kubeconfig": True},
        "namespace": {"value": "clay-sync-prod", "from": "kubeconfig context prod-eu"},
        "kubeconfig": {"value": home["KUBECONFIG"], "from": "$KUBECONFIG", "exists": True},
    }

    config = write_config(tmp_path / "c.toml", context="staging", namespace="from-file")
    info = json.loads(run_cli("info", "--json", "-n", "from-flag", env={**home, "CLAY_COCKPIT_CONFIG": str(config)}).stdout)
    assert info["config"]["from"] == "$CLAY_COCKPIT_CONFIG" and info["config"]["exists"] is True
    assert info["kube"]["context"]["value"] == "staging" and info["kube"]["context"]["from"] == "kube.context in the config file"
    assert info["kube"]["namespace"] == {"value": "from-flag", "from": "--namespace"}


def test_info_text_and_an_invalid_config_is_reported_not_fatal(home, tmp_path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[statuspage\n", encoding="utf-8")
    out = run_cli("info", "--config", str(bad), env={**home, "CLAY_COCKPIT_LOG_LEVEL": "debug"})
    assert out.returncode == 0, out.stderr
    lines = dict(
        line.split(None, 1) if not line.startswith("kube ") else (line[:15].strip(), line[15:].strip()) for line in out.stdout.splitlines()
    )
    assert lines["config"].startswith(f"{bad} (invalid: {bad}: expected valid TOML")
    assert lines["log"].startswith("file") and "(level debug)" in lines["log"]
    assert "kube context" in out.stdout and "prod-eu (from kubeconfig current-context)" in out.stdout


def test_relative_xdg_homes_are_ignored(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_STATE_HOME", "relative/state")
    assert state_dir() == tmp_path / ".local" / "state" / "clay-cockpit"


# --------------------------------------------------------------------------
# init


def test_init_keeps_the_shipped_comments_and_fills_in_the_target(home, request) -> None:
    """The written file, byte for byte (tests/fixtures/init_expected.toml; update
    with --snapshot-update after reading the diff): default.toml's comments
    and layout, kube.context and kube.namespace from the kubeconfig."""
    out = run_cli("init", env=home)
    assert out.returncode == 0, out.stderr
    assert "kube.context = 'prod-eu' (from the kubeconfig's current context" in out.stdout
    assert "kube.namespace = 'clay-sync-prod' (from context prod-eu's namespace)" in out.stdout
    written = (Path(home["XDG_CONFIG_HOME"]) / "clay-cockpit" / "config.toml").read_text(encoding="utf-8")
    expected = FIXTURES / "init_expected.toml"
    if request.config.getoption("--snapshot-update", default=False):
        expected.write_text(written, encoding="utf-8")
    assert written == expected.read_text(encoding="utf-8"), "init's file changed: read the diff, then --snapshot-update"
    comments = [line.strip() for line in default_toml_text().splitlines() if line.strip().startswith("#") or " # " in line]
    assert comments and all(c.split(" # ")[-1] in written for c in comments)
    config = config_from_toml(tomllib.loads(written), "init")
    assert (config.kube.context, config.kube.namespace) == ("prod-eu", "clay-sync-prod")


def test_init_with_flags_and_without_a_kubeconfig(home, tmp_path) -> None:
    out = run_cli("init", "--config", str(tmp_path / "a.toml"), "--context", "staging", "-n", "clay-sync-staging", env=home)
    assert out.returncode == 0, out.stderr
    config = load_config(tmp_path / "a.toml")
    assert (config.kube.context, config.kube.namespace) == ("staging", "clay-sync-staging")
    assert "(from --context)" in out.stdout and "(from --namespace)" in out.stdout

    out = run_cli("init", "--config", str(tmp_path / "c.toml"), "--context", "prod-us", env=home)
    assert out.returncode == 2 and "--context: expected a context of kubeconfig" in out.stderr and not (tmp_path / "c.toml").exists()

    out = run_cli("init", "--config", str(tmp_path / "b.toml"), env={**home, "KUBECONFIG": str(tmp_path / "none")})
    assert out.returncode == 0, out.stderr
    config = load_config(tmp_path / "b.toml")
    assert (config.kube.context, config.kube.namespace) == ("", "clay-sync")
    assert "kube.context left empty" in out.stdout


# --------------------------------------------------------------------------
# help, typos


def subparsers() -> dict[str, object]:
    import argparse

    parser = cli.build_parser("")
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_subcommand_has_a_description_and_examples() -> None:
    subs = subparsers()
    assert set(subs) == set(cli.SUBCOMMANDS)
    for name, parser in subs.items():
        text = parser.format_help()
        assert parser.description and len(parser.description) > 40, name
        assert "examples:\n  clay-cockpit" in text, name


def test_top_level_help_shows_the_cockpits_options_and_resolved_paths(home) -> None:
    out = run_cli("--help", env=home)
    assert out.returncode == 0
    for option in ("--read-only", "--context NAME", "-n NS, --namespace NS", "--kubeconfig PATH", "--log-level", "--debug"):
        assert option in out.stdout, option
    assert "CLAY_COCKPIT_NAMESPACE" in out.stdout and "examples:" in out.stdout
    assert str(Path(home["XDG_CONFIG_HOME"]) / "clay-cockpit" / "config.toml") in out.stdout
    assert str(Path(home["XDG_STATE_HOME"]) / "clay-cockpit" / "cockpit.log") in out.stdout


@pytest.mark.parametrize(
    "typo, says",
    [
        ("chek", "clay-cockpit: invalid choice: 'chek' — did you mean 'check'?"),
        ("inof", "clay-cockpit: invalid choice: 'inof' — did you mean 'info'?"),
        ("rbca", "clay-cockpit: invalid choice: 'rbca' — did you mean 'rbac'?"),
        (
            "zzz",
            "clay-cockpit: invalid choice: 'zzz' (choose from run, demo, sim, init, check, rbac, info, postmortem, runbook, completion)",
        ),
    ],
)
def test_a_mistyped_subcommand_suggests_the_nearest(typo, says) -> None:
    out = run_cli(typo)
    assert out.returncode == 2
    assert out.stderr.splitlines()[-1] == says and "Traceback" not in out.stderr


# --------------------------------------------------------------------------
# shell completion


def completions(shell: str, line: str, tmp_path: Path) -> list[str]:
    """What the program answers a shell's completion request with (argcomplete's protocol)."""
    out = tmp_path / f"completions-{shell}"
    env = {k: v for k, v in os.environ.items() if k not in TARGET_ENVS}
    env.update(
        _ARGCOMPLETE="1",
        _ARGCOMPLETE_SHELL=shell,
        COMP_LINE=line,
        COMP_POINT=str(len(line)),
        _ARGCOMPLETE_IFS="\n",
        _ARGCOMPLETE_SUPPRESS_SPACE="1",
        _ARGCOMPLETE_STDOUT_FILENAME=str(out),
    )
    subprocess.run([sys.executable, "-m", "clay_cockpit.cli"], env=env, timeout=60, cwd=ROOT, capture_output=True)
    return [c.split("\t")[0].split(":")[0].strip() for c in out.read_text().split("\n") if c.strip()]


@pytest.mark.parametrize("shell", cli.SHELLS)
def test_completion_script_for_each_shell(shell, tmp_path) -> None:
    out = run_cli("completion", shell)
    assert out.returncode == 0 and out.stdout.strip(), out.stderr
    assert "clay-cockpit" in out.stdout and "_ARGCOMPLETE" in out.stdout
    answered = completions(shell, "clay-cockpit ", tmp_path)
    assert set(cli.SUBCOMMANDS) <= set(answered), answered
    assert "--namespace" in completions(shell, "clay-cockpit check --", tmp_path)


def test_bash_accepts_the_script_and_completes_subcommands_and_contexts(home) -> None:
    bash = shutil.which("bash")
    if bash is None:
        if os.environ.get("CI") == "true":
            pytest.fail("bash is missing on CI")
        pytest.skip("no bash here")
    script = run_cli("completion", "bash").stdout
    syntax = subprocess.run([bash, "-n"], input=script, capture_output=True, text=True, timeout=30)
    assert syntax.returncode == 0, syntax.stderr
    # the script itself, as bash runs it on TAB: the program must be on PATH by its name
    bindir = Path(sys.executable).parent
    if not (bindir / "clay-cockpit").exists():
        pytest.skip("clay-cockpit is not installed next to this python (pip install -e .)")
    probe = (
        script
        + """
ask() { COMP_LINE="$1"; COMP_POINT=${#COMP_LINE}; read -ra COMP_WORDS <<< "$1"; [[ "$1" == *" " ]] && COMP_WORDS+=("");
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _python_argcomplete clay-cockpit "${COMP_WORDS[-1]}" "${COMP_WORDS[-2]}";
        echo "${COMPREPLY[*]}"; }
ask "clay-cockpit ch"
ask "clay-cockpit info --context "
"""
    )
    out = subprocess.run(
        [bash, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **{k: v for k, v in os.environ.items() if k not in TARGET_ENVS},
            **home,
            "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
        },
    )
    check, contexts = out.stdout.splitlines()[-2:]
    assert check.split() == ["check"], out
    assert contexts.split() == ["prod-eu", "staging"], out


# --------------------------------------------------------------------------
# logging


@pytest.fixture
def logging_restored():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in ("clay_cockpit",)}
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, value in levels.items():
        logging.getLogger(name).setLevel(value)


def test_debug_logs_ours_to_the_file_but_never_the_clients_debug(home, logging_restored) -> None:
    path = cli.log_to_file("debug")
    assert path == state_dir() / "cockpit.log"
    logging.getLogger("clay_cockpit.sources.kube").debug("ours at debug")
    logging.getLogger("slack_sdk.web.base_client").debug("headers: Authorization: Bearer xoxb-secret")
    logging.getLogger("kubernetes.client.rest").warning("theirs at warning")
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = path.read_text(encoding="utf-8")
    assert "ours at debug" in text and "theirs at warning" in text
    assert "xoxb-secret" not in text


def test_log_level_flag_environment_and_a_bad_value(home, monkeypatch, logging_restored) -> None:
    monkeypatch.setenv("CLAY_COCKPIT_LOG_LEVEL", "ERROR")
    assert cli.log_level() == "error" and cli.log_level("info") == "info"
    args = cli.build_parser("run").parse_args(["run", "--debug"])
    assert args.log_level == "debug"
    monkeypatch.setenv("CLAY_COCKPIT_LOG_LEVEL", "loud")
    with pytest.raises(ConfigError, match=r"^\$CLAY_COCKPIT_LOG_LEVEL: expected one of debug, info, warning, error, found 'loud'$"):
        cli.log_to_file()


# --------------------------------------------------------------------------
# [ui] theme and [keymap]


def config_with(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(default_toml_text().replace('# "incident.declare" = "I"', extra), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "extra, message",
    [
        (
            '"incident.declar" = "I"',
            "keymap.incident.declar: expected the id of a binding (did you mean incident.declare?), found unknown id",
        ),
        (
            '"incident.declare" = "ctrl+bogus"',
            "keymap.incident.declare: expected a key Textual knows (a character, f1-f24, ctrl+x, pageup, space …), found key 'ctrl+bogus'",
        ),
        (
            '"incident.declare" = "x"',
            "keymap.incident.declare: expected a key no other binding of CockpitApp uses, found 'x', already action.pane's",
        ),
        ('"app.commands" = "q"', "keymap.app.commands: expected a key no other binding of CockpitApp uses, found 'q', already app.quit's"),
        ('"incident.declare" = []', 'keymap.incident.declare: expected a key ("I", "ctrl+d") or a non-empty array of keys, found an array'),
        (
            '"incident.declare" = "ctrl d"',
            'keymap.incident.declare: expected a key name without spaces or commas ("I", "ctrl+d", "f5"), found string \'ctrl d\'',
        ),
    ],
    ids=["unknown-id", "unknown-key", "clash", "palette-clash", "empty", "space"],
)
def test_a_bad_keymap_is_one_line_naming_the_key_exit_2(home, tmp_path, extra, message) -> None:
    path = config_with(tmp_path, extra)
    out = run_cli("check", "--config", str(path), env=home)
    assert out.returncode == 2, out
    assert out.stderr.strip() == f"clay-cockpit: {path}: {message}"


def test_a_good_keymap_and_theme_load(home, tmp_path) -> None:
    path = config_with(tmp_path, '"incident.declare" = "I"\n"action.pane" = ["X", "f4"]\n"incident.accept" = "x"')
    path.write_text(path.read_text(encoding="utf-8").replace('theme = "textual-dark"', 'theme = "nord"'), encoding="utf-8")
    config = cli.load_user_config(str(path))
    assert dict(config.keymap) == {"incident.declare": "I", "action.pane": "X,f4", "incident.accept": "x"}  # x freed by action.pane
    assert config.ui.theme == "nord"


def test_an_unknown_theme_lists_the_themes(home, tmp_path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(default_toml_text().replace('theme = "textual-dark"', 'theme = "nordd"'), encoding="utf-8")
    out = run_cli("--config", str(path), env=home)
    assert out.returncode == 2
    line = out.stderr.strip()
    assert line.startswith(f"clay-cockpit: {path}: ui.theme: expected one of ") and "nord" in line
    assert line.endswith("(did you mean nord?), found string 'nordd'") and "\n" not in line
