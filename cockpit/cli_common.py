"""What the subcommands share, below :mod:`clay_cockpit.cli` and them (check,
rbac, info, demo, sim import this, never the CLI itself): the exit code of
a usage error, ``fail``, number flags, the log file and level, loading the
user's config with this command line's target flags, and whether there is
a terminal to draw on. :mod:`clay_cockpit.cli` fills :data:`_command_line`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from clay_cockpit.paths import APP_NAME, ConfigError, log_path

if TYPE_CHECKING:
    from clay_cockpit.config import Config

EXIT_USAGE = 2
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_LEVEL_ENV = "CLAY_COCKPIT_LOG_LEVEL"
# what this process's command line said, for load_user_config and log_to_file (main records it)
_command_line: dict[str, str | None] = {"context": None, "namespace": None, "kubeconfig": None, "log_level": None, "env": None}


def _plain(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def number_arg(low: float, high: float, *, integer: bool = False, unit: str = "") -> Callable[[str], float]:
    """An argparse ``type`` for a number from ``low`` to ``high`` (finite:
    nan, inf and 1e300 are refused with one line, like a bad config value)."""
    what = "an integer" if integer else "a number"
    expected = f"{what} from {_plain(low)} to {_plain(high)}{unit}"

    def parse(text: str) -> float:
        try:
            value = int(text) if integer else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, found {text!r}") from None
        if not (low <= value <= high):  # also false for nan
            raise argparse.ArgumentTypeError(f"expected {expected}, found {text!r}")
        return value

    parse.__name__ = what  # argparse names the type in "invalid <type> value" (never reached: we raise our own)
    return parse


SPEED = number_arg(0.01, 1000)  # the drill clock: faster than 1000x no poll keeps up; 1e300 overflows its arithmetic
SEED = number_arg(0, 2**32 - 1, integer=True)  # the drill draws its own seeds from 32 bits
LOG_RATE_MAX = 50_000  # the drill's pods' log lines per second, all pods together
LOG_RATE = number_arg(0, LOG_RATE_MAX, integer=True)
LOG_RATE_HELP = "log lines per second across all pods, every Clay call logged (overrides the scenario's [logs] rate; 0: sampled)"


def fail(message: str, code: int = EXIT_USAGE) -> int:
    print(f"{APP_NAME}: {message}", file=sys.stderr)
    return code


def log_level(flag: str | None = None) -> str:
    """The log level in force: --log-level/--debug, then $CLAY_COCKPIT_LOG_LEVEL, then warning."""
    level = flag or _command_line["log_level"] or os.environ.get(LOG_LEVEL_ENV, "").lower() or "warning"
    if level not in LOG_LEVELS:
        raise ConfigError(f"${LOG_LEVEL_ENV}", "", "one of " + ", ".join(LOG_LEVELS), repr(level))
    return level


def log_to_file(level: str | None = None) -> Path | None:
    """Send Python logging (ours and the client libraries') to a bounded file
    in the state dir, never to the terminal the cockpit draws on.

    ``level`` (default: :func:`log_level`) is the cockpit's own (cockpit,
    screens, widgets); the client libraries stay at warning or above: at
    debug they log request headers and response bodies (tokens, the Secret)."""
    import logging
    import logging.handlers

    ours = getattr(logging, log_level(level).upper())
    root = logging.getLogger()
    root.handlers.clear()
    root.setLevel(max(ours, logging.WARNING))
    for name in ("clay_cockpit",):  # every module of ours logs under it (__name__)
        logging.getLogger(name).setLevel(ours)
    file = log_path()
    path: Path | None = file
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(file, maxBytes=1_000_000, backupCount=2, encoding="utf-8")
    except OSError:  # a read-only home: better no log than a log on the screen
        handler, path = logging.NullHandler(), None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    from clay_cockpit.redact import install_log_filter

    install_log_filter(handler)  # every record, ours and the libraries', passes the one redactor
    root.addHandler(handler)
    return path


def load_user_config(
    cli_path: str | None,
    read_only: bool = False,
    *,
    context: str | None = None,
    namespace: str | None = None,
    kubeconfig: str | None = None,
    env: str | None = None,
) -> Config:
    """The user's config, checked ([ui] and [keymap] too), in the environment
    ``env`` names (default: this command line's --env, else the file's
    default_env; one must be chosen when the file defines any, and --env
    typed for one that requires it), with the kube target's overrides
    applied: ``context``/``namespace``/``kubeconfig`` (default: this command
    line's --context, -n, --kubeconfig), else their environment variables
    (unless the environment sets that key itself), else the file."""
    from clay_cockpit.config import load_config
    from clay_cockpit.config_target import check_env_choice, profile_wins, target_overrides, with_resolved_namespace, with_target
    from clay_cockpit.config_target import read_only as with_read_only
    from clay_cockpit.paths import find_config
    from clay_cockpit.target import check_context

    config = load_config(find_config(cli_path), env if env is not None else _command_line["env"])
    from clay_cockpit.runbook_file import use_config_runbook

    use_config_runbook(config.runbook.file, config.source)  # [runbook] file, unless --runbook or $CLAY_COCKPIT_RUNBOOK chose
    check_env_choice(config)
    overrides = profile_wins(
        config,
        target_overrides(
            context=context if context is not None else _command_line["context"],
            namespace=namespace if namespace is not None else _command_line["namespace"],
            kubeconfig=kubeconfig if kubeconfig is not None else _command_line["kubeconfig"],
        ),
    )
    check_context(overrides, config.kube.kubeconfig)
    config = with_resolved_namespace(with_target(config, **{k: v for k, (v, _) in overrides.items()}))
    if config.keymap or config.ui.theme != "textual-dark":
        from clay_cockpit.screens.keymap import check_ui  # Textual's key and theme names: only when the file sets any

        check_ui(config)
    return with_read_only(config) if read_only else config


def with_user_ui(config: Config) -> Config:
    """``config`` (the demo's) with the [ui] theme and [keymap] of the
    user's config, so a drill is practised with one's own keys; unchanged
    when there is no user config or it does not load (the demo needs none)."""
    from dataclasses import replace

    from clay_cockpit.config import load_config
    from clay_cockpit.paths import config_location

    path, _ = config_location(None)
    if not path.is_file():
        return config
    try:
        user = load_config(path)
        if user.keymap or user.ui.theme != config.ui.theme:
            from clay_cockpit.screens.keymap import check_ui

            check_ui(user)
    except ConfigError:
        return config
    return replace(config, ui=user.ui, keymap=user.keymap)


def no_terminal() -> str | None:
    """Why the full-screen cockpit cannot start here, or None: it reads keys
    from stdin and Textual draws on stderr; without both a terminal it would
    spin on EOF or write escapes into a file."""
    for name, stream in (("stdin", sys.__stdin__), ("stderr", sys.__stderr__)):
        try:
            tty = stream is not None and os.isatty(stream.fileno())
        except (OSError, ValueError):  # closed, or no descriptor
            tty = False
        if not tty:
            return (
                f"needs a terminal ({name} is not a TTY); for scripts use `{APP_NAME} check`, `{APP_NAME} info` or `{APP_NAME} postmortem`"
            )
    return None
