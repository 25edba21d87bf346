"""`clay-cockpit` command line: run (default), demo, sim, init, check.

Imports are kept to the standard library and :mod:`cockpit.paths` until a
subcommand needs more, so the first frame is not delayed (``demo`` starts its
drill child before it loads the config machinery). Usage and config errors
print one line and exit 2; nothing prints a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from cockpit.paths import APP_NAME, ConfigError, default_config_path

if TYPE_CHECKING:
    from cockpit.config import Config

SUBCOMMANDS = ("run", "demo", "sim", "init", "check", "postmortem")
EXIT_USAGE = 2


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # slow to import: only for --version

    try:
        return version(APP_NAME)
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "0+unknown"


class _VersionAction(argparse.Action):
    def __call__(self, parser, namespace, values, option_string=None):  # noqa: ANN001 (argparse's signature)
        print(f"{APP_NAME} {_version()}")
        parser.exit()


def build_parser(command: str = "") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=APP_NAME,
        description=(
            "A keyboard-first terminal cockpit for an outage of the Clay API: live status page, "
            "health, error rates, pods and logs on one screen."
        ),
        epilog="Run without a subcommand to start the cockpit against your config. "
        "Try `clay-cockpit demo` first: it needs no cluster.",
    )
    parser.add_argument("--version", action=_VersionAction, nargs=0, help="show the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    config_help = "config file (default: $CLAY_COCKPIT_CONFIG, then ~/.config/clay-cockpit/config.toml)"

    run = sub.add_parser("run", help="start the cockpit against your config (the default)")
    run.add_argument("--config", metavar="PATH", help=config_help)
    run.add_argument("--read-only", action="store_true", help="never send a mutating request to the cluster")

    demo = sub.add_parser("demo", help="start a drill environment and the cockpit against it (no cluster needed)")
    demo.add_argument("--scenario", default="clay-outage", help="scenario name or TOML file (default: clay-outage)")
    demo.add_argument("--speed", type=_positive_float, default=1.0, help="run the drill clock this many times faster")
    demo.add_argument("--seed", type=int, default=None, help="random seed, for a repeatable drill")
    demo.add_argument("--read-only", action="store_true", help="never send a mutating request to the drill cluster")
    demo.add_argument("--list", action="store_true", help="list the shipped scenarios and exit")

    sim = sub.add_parser("sim", help="run the drill environment alone, for kubectl or a second cockpit to join")
    if command == "sim":  # only then: the simulator's modules are heavier than the rest of the CLI
        from cockpit.sim.server import add_sim_arguments

        add_sim_arguments(sim)

    init = sub.add_parser("init", help="write a starter config to the XDG config path")
    init.add_argument("--config", metavar="PATH", help=f"where to write it (default: {default_config_path()})")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")

    check = sub.add_parser("check", help="validate the config and probe every source once")
    check.add_argument("--config", metavar="PATH", help=config_help)

    postmortem = sub.add_parser("postmortem", help="write the Markdown postmortem of an incident from its timeline")
    if command == "postmortem":  # same: only load what this subcommand needs
        from cockpit.postmortem_cli import add_postmortem_arguments

        add_postmortem_arguments(postmortem)
    return parser


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, found {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, found {text!r}")
    return value


def _normalise(argv: list[str]) -> list[str]:
    """`clay-cockpit --config x` means `clay-cockpit run --config x`."""
    if not argv or (argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help", "--version")):
        return ["run", *argv]
    return argv


def fail(message: str, code: int = EXIT_USAGE) -> int:
    print(f"{APP_NAME}: {message}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    argv = _normalise(list(sys.argv[1:] if argv is None else argv))
    args = build_parser(argv[0]).parse_args(argv)
    try:
        if args.command == "run":
            return cmd_run(args)
        if args.command == "demo":
            from cockpit.demo import cmd_demo  # light: it starts the drill child first, then loads the rest

            return cmd_demo(args)
        if args.command == "sim":
            from cockpit.sim.server import run_sim

            return run_sim(args)
        if args.command == "init":
            return cmd_init(args)
        if args.command == "check":
            from cockpit.check import cmd_check

            return cmd_check(args)
        if args.command == "postmortem":
            from cockpit.postmortem_cli import cmd_postmortem

            return cmd_postmortem(args)
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
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 128 + 13  # killed by SIGPIPE, as the shell reports it


def log_to_file() -> Path | None:
    """Send Python logging (ours and the client libraries') to a bounded file
    in the state dir, never to the terminal the cockpit draws on."""
    import logging
    import logging.handlers

    from cockpit.paths import state_dir

    root = logging.getLogger()
    root.handlers.clear()
    root.setLevel(logging.WARNING)
    path = state_dir() / "cockpit.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(path, maxBytes=1_000_000, backupCount=2, encoding="utf-8")
    except OSError:  # a read-only home: better no log than a log on the screen
        handler, path = logging.NullHandler(), None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    return path


def load_user_config(cli_path: str | None, read_only: bool = False) -> Config:
    from cockpit.config import load_config
    from cockpit.config import read_only as with_read_only
    from cockpit.paths import find_config

    config = load_config(find_config(cli_path))
    return with_read_only(config) if read_only else config


def cmd_run(args: argparse.Namespace) -> int:
    config = load_user_config(args.config, args.read_only)
    log_to_file()
    from cockpit.app import make_app
    from cockpit.sources import Sources

    app = make_app(config, Sources(config))
    app.run()
    return app.return_code or 0


def cmd_init(args: argparse.Namespace) -> int:
    import tomllib

    import tomli_w

    from cockpit.config import config_from_toml, default_toml_text

    path = Path(args.config) if args.config else default_config_path()
    if path.exists() and not args.force:
        return fail(f"{path} already exists; use --force to overwrite it")
    data = tomllib.loads(default_toml_text())
    config_from_toml(data, "the shipped default.toml")  # the starter must itself be valid
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(tomli_w.dumps(data).encode("utf-8"))
        tmp.replace(path)
    except OSError as err:
        return fail(f"{path}: cannot write ({err.strerror or err})")
    print(f"Wrote a starter config to {path}")
    print("Edit the URLs, context, namespace and names for your service, then run `clay-cockpit check`.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
