"""Names and places: the app's name, where its files live (XDG), and
:class:`ConfigError`, the one-line error for a bad file or value.

Standard library only and no dataclasses: the CLI imports it before anything
else, so ``clay-cockpit demo`` starts its drill child before the heavier
modules load (:mod:`cockpit.config` re-exports all of it).
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "clay-cockpit"


class ConfigError(Exception):
    """A bad value in a config or scenario file. ``str(err)`` is one line."""

    def __init__(self, file: str, key: str, expected: str, found: str) -> None:
        self.file, self.key, self.expected, self.found = file, key, expected, found
        where = f"{file}: {key}" if key else file
        super().__init__(f"{where}: expected {expected}, found {found}")


def xdg_config_home() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")


def xdg_state_home() -> Path:
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")


def default_config_path() -> Path:
    return xdg_config_home() / APP_NAME / "config.toml"


def state_dir() -> Path:
    return xdg_state_home() / APP_NAME


def find_config(cli_path: str | None) -> Path:
    """--config PATH, then $CLAY_COCKPIT_CONFIG, then the XDG config dir."""
    if cli_path:
        return Path(cli_path)
    env = os.environ.get("CLAY_COCKPIT_CONFIG")
    if env:
        return Path(env)
    path = default_config_path()
    if not path.exists():
        raise ConfigError(
            str(path), "", "a config file (run `clay-cockpit init` to write one, or `clay-cockpit demo` to try the drill)", "no file"
        )
    return path
