"""`clay-cockpit` command line: run (default), demo, sim, init, check, rbac, info,
postmortem, runbook, completion.

Imports are kept to the standard library and :mod:`clay_cockpit.paths` until a
subcommand needs more, so the first frame is not delayed (``demo`` starts its
drill child before it loads the config machinery). Usage and config errors
print one line and exit 2; nothing prints a traceback.

The kube target follows kubectl: ``--context``, ``-n/--namespace`` and
``--kubeconfig`` (:func:`add_target_arguments`) win over
``$CLAY_COCKPIT_CONTEXT``/``_NAMESPACE``/``_KUBECONFIG``, which win over the
config file (:func:`load_user_config` applies them). Shell completion comes
from argcomplete (``clay-cockpit completion bash|zsh|fish``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clay_cockpit.cli_common import (  # noqa: F401 (re-exported: the CLI's names)
    EXIT_USAGE,
    LOG_LEVEL_ENV,
    LOG_LEVELS,
    LOG_RATE,
    LOG_RATE_HELP,
    SEED,
    SPEED,
    _command_line,
    fail,
    load_user_config,
    log_level,
    log_to_file,
    no_terminal,
    number_arg,
    with_user_ui,
)
from clay_cockpit.paths import APP_NAME, CONFIG_ENV, ConfigError, default_config_path, log_path

if TYPE_CHECKING:
    pass

SUBCOMMANDS = ("run", "demo", "sim", "init", "check", "rbac", "info", "postmortem", "runbook", "completion")
SHELLS = ("bash", "zsh", "fish")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # slow to import: only for --version

    try:
        return version(APP_NAME)
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "0+unknown"


class _VersionAction(argparse.Action):
    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        print(f"{APP_NAME} {_version()}")
        parser.exit()


def _wrap(text: str) -> str:
    """Paragraphs filled to 78 columns (RawDescriptionHelpFormatter keeps the examples' lines as written)."""
    import textwrap

    return "\n\n".join(textwrap.fill(p, 78) for p in text.split("\n\n"))


def _examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def _config_help() -> str:
    return f"config file (default: ${CONFIG_ENV}, then {default_config_path()})"


def add_target_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--context``, ``-n/--namespace``, ``--kubeconfig``: the kube target, as
    kubectl takes it (each wins over its environment variable, which wins over
    the config file)."""
    context = parser.add_argument(
        "--context",
        metavar="NAME",
        default=None,
        help="kubeconfig context to use (default: $CLAY_COCKPIT_CONTEXT, then kube.context, then the current context)",
    )
    context.completer = _complete_contexts  # type: ignore[attr-defined]  # argcomplete reads it
    parser.add_argument(
        "-n",
        "--namespace",
        metavar="NS",
        default=None,
        help="namespace of the service (default: $CLAY_COCKPIT_NAMESPACE, then kube.namespace; empty: the context's)",
    )
    parser.add_argument(
        "--kubeconfig",
        metavar="PATH",
        default=None,
        help="kubeconfig file (default: $CLAY_COCKPIT_KUBECONFIG, then kube.kubeconfig, then $KUBECONFIG, "
        f"then {Path.home() / '.kube' / 'config'})",
    )


def add_env_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--env NAME``: which environment ([env.NAME] of the config) to use."""
    env = parser.add_argument(
        "--env",
        metavar="NAME",
        default=None,
        help="environment of the config to use ([env.NAME]; default: default_env; a production one needs --env typed)",
    )
    env.completer = _complete_envs  # type: ignore[attr-defined]  # argcomplete reads it


def _complete_envs(prefix: str, parsed_args: argparse.Namespace, **_: object) -> list[str]:
    """--env TAB: the [env.NAME] tables of the config in use (names only; nothing when it does not parse)."""
    import tomllib

    from clay_cockpit.paths import config_location

    path, _origin = config_location(getattr(parsed_args, "config", None))
    try:
        envs = tomllib.loads(path.read_text(encoding="utf-8")).get("env", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []
    return [name for name in envs if isinstance(envs, dict) and name.startswith(prefix)]


def _complete_contexts(prefix: str, parsed_args: argparse.Namespace, **_: object) -> list[str]:
    """--context TAB: the contexts of the kubeconfig in use (names only)."""
    from clay_cockpit.target import resolve

    kubeconfig = getattr(parsed_args, "kubeconfig", None)
    target = resolve({}, {"kubeconfig": (kubeconfig, "--kubeconfig")} if kubeconfig else {})
    return [name for name in target.kube.namespaces if name.startswith(prefix)]


def add_log_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--log-level`` and ``--debug``: how much goes to the log file (never the terminal)."""
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default=None,
        help=f"how much the cockpit writes to its log file {log_path()} (default: ${LOG_LEVEL_ENV}, then warning)",
    )
    parser.add_argument("--debug", dest="log_level", action="store_const", const="debug", help="the same as --log-level debug")


def add_runbook_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--runbook FILE``: a team's runbook file in place of the shipped one (issue 18)."""
    parser.add_argument(
        "--runbook",
        dest="team_runbook",
        metavar="FILE",
        default=None,
        help="a team's runbook file (default: $CLAY_COCKPIT_RUNBOOK, then the shipped one; `clay-cockpit runbook check FILE`)",
    )


def _add_run_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument("--config", metavar="PATH", help=_config_help())
    parser.add_argument("--read-only", action="store_true", help="never send a mutating request to the cluster")
    add_env_argument(parser)
    add_runbook_argument(parser)
    add_target_arguments(parser)
    add_log_arguments(parser)


def _sub(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help: str, description: str, *examples: str
) -> argparse.ArgumentParser:
    return sub.add_parser(
        name, help=help, description=_wrap(description), epilog=_examples(*examples), formatter_class=argparse.RawDescriptionHelpFormatter
    )


def build_parser(command: str = "") -> argparse.ArgumentParser:
    """The whole command line; ``command`` (the subcommand about to run, or
    "" for all) decides whether sim's and postmortem's options load (their
    modules are heavier than the rest of the CLI)."""
    parser = argparse.ArgumentParser(
        prog=APP_NAME,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=_wrap(
            "A keyboard-first terminal cockpit for an outage of the Clay API: live status page, "
            "health, error rates, pods and logs on one screen.\n\n"
            "Run without a subcommand (or with `run`) to start the cockpit against your config; "
            "its options are below. Try `clay-cockpit demo` first: it needs no cluster."
        ),
        epilog=_examples(
            "clay-cockpit demo                       # a drill: no cluster needed",
            "clay-cockpit init                       # write a starter config",
            "clay-cockpit check                      # probe every source once, before the page",
            "clay-cockpit --context prod -n clay-sync  # the cockpit, another cluster",
            "clay-cockpit info                       # which files and which cluster are in use",
        )
        + "\n\nenvironment:\n"
        f"  {CONFIG_ENV}       the config file (after --config)\n"
        "  CLAY_COCKPIT_CONTEXT      kube context (after --context, before kube.context)\n"
        "  CLAY_COCKPIT_NAMESPACE    namespace (after -n, before kube.namespace)\n"
        "  CLAY_COCKPIT_KUBECONFIG   kubeconfig (after --kubeconfig, before kube.kubeconfig; then $KUBECONFIG)\n"
        f"  {LOG_LEVEL_ENV}    log level (after --log-level)\n"
        "  XDG_CONFIG_HOME, XDG_STATE_HOME  where the config and the state live\n"
        f"\nfiles:\n  config  {default_config_path()}\n  log     {log_path()}",
    )
    parser.add_argument("--version", action=_VersionAction, nargs=0, help="show the version and exit")
    _add_run_arguments(parser.add_argument_group("cockpit options (clay-cockpit [run] [options])"))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = _sub(
        sub,
        "run",
        "start the cockpit against your config (the default)",
        "Start the cockpit against your config: the status page, health, error rates, pods and logs on one screen, "
        "triage, the runbook checklist, the actions and the stakeholder updates. ? in the cockpit shows every key.",
        "clay-cockpit run",
        "clay-cockpit --config ./staging.toml --read-only",
        "clay-cockpit --context prod-eu -n clay-sync",
        "clay-cockpit --env prod-eu   # one environment ([env.prod-eu]) of the config",
        "clay-cockpit --debug   # then read the log file: clay-cockpit info",
    )
    _add_run_arguments(run)

    demo = _sub(
        sub,
        "demo",
        "start a drill environment and the cockpit against it (no cluster needed)",
        "Start a drill environment (a simulated Clay status page, health endpoint, Prometheus, Kubernetes API, Slack "
        "and status page) in a child process and the cockpit against it. Nothing outside this machine is touched.",
        "clay-cockpit demo",
        "clay-cockpit demo --list",
        "clay-cockpit demo --scenario key-revoked --speed 4",
        "clay-cockpit demo --scenario ./my-scenario.toml --seed 7",
        "clay-cockpit demo --scenario log-flood --log-rate 2000",
        "clay-cockpit demo --from-incident INC-20260101-0412 --save ./inc-0412.toml",
    )
    demo.add_argument("--scenario", default="clay-outage", help="scenario name or TOML file (default: clay-outage)")
    demo.add_argument("--speed", type=SPEED, default=1.0, help="run the drill clock this many times faster (0.01 to 1000)")
    demo.add_argument("--seed", type=SEED, default=None, help="random seed, for a repeatable drill")
    demo.add_argument("--log-rate", type=LOG_RATE, default=None, metavar="N", help=LOG_RATE_HELP)
    demo.add_argument("--read-only", action="store_true", help="never send a mutating request to the drill cluster")
    demo.add_argument("--list", action="store_true", help="list the shipped scenarios and exit")
    demo.add_argument(
        "--from-incident",
        metavar="ID",
        help="rehearse a recorded incident: a scenario derived from its evidence (an id, a unique part of one, or a timeline file)",
    )
    demo.add_argument("--save", metavar="FILE", help="with --from-incident: also keep the derived scenario in FILE (.toml) to edit")
    add_runbook_argument(demo)
    add_log_arguments(demo)

    sim = _sub(
        sub,
        "sim",
        "run the drill environment alone, for kubectl or a second cockpit to join",
        "Run the drill environment alone, in the foreground, and print how to join it: a kubeconfig for kubectl "
        "and a cockpit config. Ctrl-C stops it.",
        "clay-cockpit sim --scenario clay-outage --dir /tmp/drill",
        "KUBECONFIG=/tmp/drill/kubeconfig kubectl get pods -A",
        "clay-cockpit --config /tmp/drill/cockpit.toml",
        "clay-cockpit sim --login --dir /tmp/drill",
    )
    if command in ("sim", ""):  # only then: the simulator's modules are heavier than the rest of the CLI
        from clay_cockpit.sim.server import add_sim_arguments

        add_sim_arguments(sim)

    init = _sub(
        sub,
        "init",
        "write a starter config to the XDG config path",
        "Write the shipped starter config, with its comments, to the config path, filling in the kube context "
        "and namespace in use (the flags, the environment, else the kubeconfig's current context). Then edit "
        "the URLs and names for your service and run `clay-cockpit check`.",
        "clay-cockpit init",
        "clay-cockpit init --context prod-eu -n clay-sync",
        "clay-cockpit init --config ./cockpit.toml --force",
    )
    init.add_argument("--config", metavar="PATH", help=f"where to write it (default: ${CONFIG_ENV}, then {default_config_path()})")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    add_target_arguments(init)

    check = _sub(
        sub,
        "check",
        "validate the config and probe every source once",
        "Validate the config and probe every source once, as the cockpit would: one line per check. Exit 0 when "
        "all pass, 1 when one fails, 2 for a bad config. Run it daily, and before the page.",
        "clay-cockpit check",
        "clay-cockpit check --context prod-eu -n clay-sync",
        "clay-cockpit check --config ./staging.toml",
        "clay-cockpit check --with-key --json",
    )
    check.add_argument("--config", metavar="PATH", help=_config_help())
    check.add_argument("--json", action="store_true", help="print the rows as JSON (name, status, detail, enables, hint), for scripts")
    check.add_argument(
        "--read-only",
        action="store_true",
        help="do not ask about the write permissions (as with kube.read_only): one row says how many were left out",
    )
    check.add_argument(
        "--with-key",
        action="store_true",
        help="also read the Clay key from the Secret and send it to clay.probe_url once (by default no key leaves "
        "this machine); only its fingerprint is shown",
    )
    add_env_argument(check)
    add_target_arguments(check)
    add_log_arguments(check)

    rbac = _sub(
        sub,
        "rbac",
        "print the Role and RoleBinding the config needs in the cluster",
        "Print, as YAML for `kubectl apply -f -`, the Role that grants exactly the Kubernetes permissions the "
        "cockpit uses with this config (the ones `check` asks about), object names restricted where it uses one, "
        "and a RoleBinding to the --user, --group or --service-account given. --read-only (or kube.read_only) "
        "leaves out the write permissions. Calls no cluster.",
        "clay-cockpit rbac --user alice@example.com | kubectl apply -f -",
        "clay-cockpit rbac --read-only --group oncall",
        "clay-cockpit rbac --service-account clay-sync:cockpit -n clay-sync",
    )
    rbac.add_argument("--config", metavar="PATH", help=_config_help())
    rbac.add_argument("--read-only", action="store_true", help="only the read permissions (as with kube.read_only)")
    rbac.add_argument("--user", action="append", metavar="U", help="bind the Role to this user (repeatable)")
    rbac.add_argument("--group", action="append", metavar="G", help="bind the Role to this group (repeatable)")
    rbac.add_argument("--service-account", action="append", metavar="NS:NAME", help="bind the Role to this service account (repeatable)")
    add_env_argument(rbac)
    add_target_arguments(rbac)

    info = _sub(
        sub,
        "info",
        "print the files and the kube target in use, and where each came from",
        "Print the config file in use (and whether it exists), the state, log, incidents and postmortems paths "
        "(XDG honoured), and the kube context, namespace and kubeconfig in effect, each with where it came from: "
        "a flag, the environment, the config file or the kubeconfig. Calls no cluster.",
        "clay-cockpit info",
        "clay-cockpit info --context prod-eu",
        "clay-cockpit info --json | jq .log_file",
    )
    info.add_argument("--config", metavar="PATH", help=_config_help())
    info.add_argument("--json", action="store_true", help="print JSON, for scripts")
    add_env_argument(info)
    add_target_arguments(info)

    postmortem = _sub(
        sub,
        "postmortem",
        "write the Markdown postmortem of an incident from its timeline",
        "Write the Markdown postmortem of an incident (the newest, or the one named) from its timeline, "
        "from the state dir and the drills' state dirs.",
        "clay-cockpit postmortem",
        "clay-cockpit postmortem 2024-05-01T1012 -o postmortem.md",
    )
    if command in ("postmortem", ""):  # same: only load what this subcommand needs
        from clay_cockpit.incident.postmortem_cli import add_postmortem_arguments

        add_postmortem_arguments(postmortem)

    runbook = _sub(
        sub,
        "runbook",
        "print the effective runbook, or check a team's runbook file",
        "`show` prints the runbook the cockpit runs (severities, branches and their actions, steps and their items, "
        "notes and links; --runbook FILE: a team's file instead); `check FILE` validates a runbook file "
        "(exit 2 with a one-line error), says what it changes, then runs each shipped drill scenario headless with it "
        "and with the shipped runbook and shows, per scenario, the branch and severity reached, the actions in the "
        "file's order with the next key, the checklist items that apply, and what differs. docs/runbook-file.md",
        "clay-cockpit runbook show",
        "clay-cockpit runbook check team-runbook.toml",
        "clay-cockpit runbook check team-runbook.toml --scenario rate-limited --scenario key-revoked",
        "clay-cockpit runbook check team-runbook.toml --no-drills   # validate only",
    )
    from clay_cockpit.runbook_cli import add_runbook_arguments

    add_runbook_arguments(runbook)

    completion = _sub(
        sub,
        "completion",
        "print the shell completion script for bash, zsh or fish",
        "Print the script that completes clay-cockpit's subcommands and options in your shell "
        "(argcomplete: the completions come from this program, so they never go stale).",
        "clay-cockpit completion bash > ~/.local/share/bash-completion/completions/clay-cockpit",
        'clay-cockpit completion zsh > "${fpath[1]}/_clay-cockpit"',
        "clay-cockpit completion fish > ~/.config/fish/completions/clay-cockpit.fish",
        'eval "$(clay-cockpit completion bash)"   # this shell only',
    )
    completion.add_argument("shell", choices=SHELLS, help="the shell to complete in")
    return parser


class UsageError(Exception):
    """A command line argparse would not catch: usage, the line, exit 2."""


def _normalise(argv: list[str]) -> list[str]:
    """`clay-cockpit --config x` means `clay-cockpit run --config x`; a first
    word that is no subcommand is a typo (raises UsageError with the nearest)."""
    if not argv or argv[0] in ("-h", "--help", "--version"):
        return argv or ["run"]
    if argv[0] in SUBCOMMANDS:
        return argv
    if not argv[0].startswith("-"):
        from difflib import get_close_matches

        close = get_close_matches(argv[0], SUBCOMMANDS, n=1, cutoff=0.6)
        hint = f" — did you mean {close[0]!r}?" if close else f" (choose from {', '.join(SUBCOMMANDS)})"
        raise UsageError(f"invalid choice: {argv[0]!r}{hint}")
    return ["run", *argv]


def _complete() -> None:
    """Answer the shell's completion request (argcomplete's protocol: the
    script of `clay-cockpit completion SHELL` runs us with $_ARGCOMPLETE set)."""
    import argcomplete

    words = os.environ.get("COMP_LINE", "").split()
    command = next((w for w in words[1:2] if w in SUBCOMMANDS), "-")  # sim's and postmortem's options only when asked
    argcomplete.autocomplete(build_parser(command if command in ("sim", "postmortem") else "-"))


def main(argv: list[str] | None = None) -> int:
    if "_ARGCOMPLETE" in os.environ:
        _complete()  # exits when it answered
    raw = list(sys.argv[1:] if argv is None else argv)
    try:  # $CLAY_COCKPIT_RUNBOOK, checked before any parser imports the runbook (postmortem's does)
        from clay_cockpit.runbook_file import use_team_runbook

        use_team_runbook(None)
    except ConfigError as err:
        return fail(str(err))
    try:
        argv = _normalise(raw)
    except UsageError as err:
        parser = build_parser("-")
        parser.print_usage(sys.stderr)
        return fail(str(err))
    args = build_parser(argv[0]).parse_args(argv)
    for key in _command_line:
        _command_line[key] = getattr(args, key, None)
    try:
        if args.command in ("run", "demo", "check", "info", "postmortem"):  # (those that load the runbook)
            from clay_cockpit.runbook_file import use_team_runbook

            use_team_runbook(getattr(args, "team_runbook", None))  # checked before anything imports clay_cockpit.runbook
        if args.command == "run":
            return cmd_run(args)
        if args.command == "demo":
            from clay_cockpit.demo import cmd_demo  # light: it starts the drill child first, then loads the rest

            return cmd_demo(args)
        if args.command == "sim":
            from clay_cockpit.sim.server import run_sim

            return run_sim(args)
        if args.command == "init":
            return cmd_init(args)
        if args.command == "check":
            from clay_cockpit.check.report import cmd_check

            log_to_file()
            return cmd_check(args)
        if args.command == "rbac":
            from clay_cockpit.check.rbac import cmd_rbac

            return cmd_rbac(args)
        if args.command == "info":
            from clay_cockpit.info import cmd_info

            return cmd_info(args)
        if args.command == "postmortem":
            from clay_cockpit.incident.postmortem_cli import cmd_postmortem

            return cmd_postmortem(args)
        if args.command == "runbook":
            from clay_cockpit.runbook_cli import cmd_runbook

            return cmd_runbook(args)
        if args.command == "completion":
            return cmd_completion(args)
    except ConfigError as err:
        return fail(str(err))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`clay-cockpit demo --list | head -3`)
        return _reader_gone()
    return fail(f"unknown command {args.command!r}")


def _reader_gone() -> int:
    """Stop quietly when stdout's reader has gone, as a shell tool does: point
    stdout at /dev/null so the interpreter's last flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 128 + 13  # killed by SIGPIPE, as the shell reports it


def cmd_run(args: argparse.Namespace) -> int:
    config = load_user_config(args.config, args.read_only)
    if why := no_terminal():
        return fail(why)
    log_to_file()
    import logging

    kube = config.kube
    logging.getLogger("clay_cockpit.cli").info(
        "starting: config %s, context %s, namespace %s, kubeconfig %s%s",
        config.source,
        kube.context or "(current)",
        kube.namespace or "(the context's)",
        kube.kubeconfig or "(default)",
        ", read-only" if kube.read_only else "",
    )
    from clay_cockpit.app import make_app
    from clay_cockpit.sources import Sources

    app = make_app(config, Sources(config))
    app.run()
    return app.return_code or 0


def cmd_init(args: argparse.Namespace) -> int:
    from clay_cockpit.config import config_from_toml, parse_toml
    from clay_cockpit.config_target import target_overrides
    from clay_cockpit.starter import starter_toml

    path = Path(args.config).expanduser() if args.config else Path(os.environ.get(CONFIG_ENV) or default_config_path()).expanduser()
    if path.exists() and not args.force:
        return fail(f"{path} already exists; use --force to overwrite it")
    from clay_cockpit.target import check_context

    overrides = target_overrides(args.context, args.namespace, args.kubeconfig)
    check_context(overrides)
    text, filled = starter_toml(overrides)
    config_from_toml(parse_toml(text, "the starter config"), "the starter config")  # the starter must itself be valid
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as err:
        return fail(f"{path}: cannot write ({err.strerror or err})")
    print(f"Wrote a starter config to {path}")
    for line in filled:
        print(line)
    print("Edit the URLs and names for your service, then run `clay-cockpit check`.")
    return 0


def cmd_completion(args: argparse.Namespace) -> int:
    from argcomplete.shell_integration import shellcode

    sys.stdout.write(shellcode([APP_NAME], shell=args.shell))
    return 0


if __name__ == "__main__":
    from clay_cockpit.cli import main as _main  # the module, not __main__: its state is the one the subcommands import

    sys.exit(_main())
