"""Names and places: the app's name, where its files live (XDG), and
:class:`ConfigError`, the one-line error for a bad file or value.

Standard library only and no dataclasses: the CLI imports it before anything
else, so ``clay-cockpit demo`` starts its drill child before the heavier
modules load (:mod:`clay_cockpit.config` re-exports all of it).

Every path here is absolute: ``~`` is expanded, and an ``XDG_*_HOME`` that is
not absolute is ignored, as the XDG Base Directory spec says.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "clay-cockpit"
CONFIG_ENV = "CLAY_COCKPIT_CONFIG"


class ConfigError(Exception):
    """A bad value in a config or scenario file. ``str(err)`` is one line."""

    def __init__(self, file: str, key: str, expected: str, found: str) -> None:
        self.file, self.key, self.expected, self.found = file, key, expected, found
        where = f"{file}: {key}" if key else file
        super().__init__(f"{where}: expected {expected}, found {found}")


def _xdg(name: str, default: Path) -> Path:
    value = os.environ.get(name, "")
    return Path(value) if value and os.path.isabs(value) else default


def xdg_config_home() -> Path:
    return _xdg("XDG_CONFIG_HOME", Path.home() / ".config")


def xdg_state_home() -> Path:
    return _xdg("XDG_STATE_HOME", Path.home() / ".local" / "state")


def default_config_path() -> Path:
    return xdg_config_home() / APP_NAME / "config.toml"


def state_dir() -> Path:
    return xdg_state_home() / APP_NAME


def log_path() -> Path:
    """The cockpit's log file (``run``, ``demo``, ``check``): never the terminal."""
    return state_dir() / "cockpit.log"


def config_location(cli_path: str | None) -> tuple[Path, str]:
    """Which config file is in use and why: --config PATH ("--config"), then
    $CLAY_COCKPIT_CONFIG ("$CLAY_COCKPIT_CONFIG"), then the XDG config dir
    ("default"). The file need not exist (see :func:`find_config`)."""
    if cli_path:
        return Path(cli_path).expanduser(), "--config"
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env).expanduser(), f"${CONFIG_ENV}"
    return default_config_path(), "default"


def find_config(cli_path: str | None) -> Path:
    """--config PATH, then $CLAY_COCKPIT_CONFIG, then the XDG config dir."""
    path, origin = config_location(cli_path)
    if origin == "default" and not path.exists():
        raise ConfigError(
            str(path), "", "a config file (run `clay-cockpit init` to write one, or `clay-cockpit demo` to try the drill)", "no file"
        )
    return path
