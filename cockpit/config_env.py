"""Environments as profiles (issue 18): one config file, several
environments (``prod-eu``, ``prod-us``, ``staging``), each an ``[env.NAME]``
table whose sub-tables override the keys of the sections above it::

    default_env = "staging"

    [env.prod-eu]
    read_only = true            # the same as [env.prod-eu.kube] read_only
    require_explicit = true     # only `--env prod-eu` typed picks it
    [env.prod-eu.kube]
    context = "eu-prod"
    [env.prod-eu.slack]
    channel = "#inc-clay-eu"

The TOML side of it, knowing no schema (the sections' names are passed in):
:func:`split_envs` takes the ``[env.*]`` tables and ``default_env`` out of
the file's table and checks their shape, :func:`overrides` and
:func:`merge` make one environment's table, :func:`in_env` names a bad key
by where it is written (``env.prod-eu.kube.contxt``), :func:`choose` picks
the environment (``--env``, else ``default_env``). The schema, and building
each environment's :class:`~clay_cockpit.config.Config`, are in
:mod:`clay_cockpit.config`. Standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from clay_cockpit.config_build import _describe, check_keys
from clay_cockpit.paths import ConfigError

ENV_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
ENV_NAME_TEXT = "an environment name (lowercase letters, digits, - and _, at most 40)"
PROFILE_KEYS = ("read_only", "require_explicit")  # an [env.NAME]'s own keys; every other key names a section


def split_envs(data: dict[str, Any], file: str, sections: Iterable[str]) -> tuple[dict[str, Any], dict[str, dict[str, Any]], str]:
    """(the file's table without ``env``, the ``[env.NAME]`` tables by name in
    the file's order, ``default_env``). Checks each name, that each table
    holds only :data:`PROFILE_KEYS` and ``sections``, and that ``default_env``
    names one of them."""
    base = {k: v for k, v in data.items() if k != "env"}
    raw = data.get("env", {})
    if not isinstance(raw, dict):
        raise ConfigError(file, "env", "a table of environments ([env.NAME])", _describe(raw))
    known = (*sections, *PROFILE_KEYS)
    tables: dict[str, dict[str, Any]] = {}
    for name, table in raw.items():
        if not ENV_NAME.fullmatch(name):
            raise ConfigError(file, f"env.{name}", ENV_NAME_TEXT, "that name")
        if not isinstance(table, dict):
            raise ConfigError(file, f"env.{name}", "a table ([env.NAME] with the keys it overrides)", _describe(table))
        check_keys(table, known, file, f"env.{name}")
        for key in PROFILE_KEYS:
            if key in table and not isinstance(table[key], bool):
                raise ConfigError(file, f"env.{name}.{key}", "true or false", _describe(table[key]))
        tables[name] = table
    default = base.get("default_env", "")
    if not isinstance(default, str):
        raise ConfigError(file, "default_env", "a string (the name of an [env.NAME] table)", _describe(default))
    if default and default not in tables:
        raise ConfigError(file, "default_env", known_text(file, list(tables)), repr(default) + _close(default, tables))
    return base, tables, default


def known_text(file: str, names: Sequence[str]) -> str:
    """What an environment's name must be: one of those ``file`` defines."""
    if not names:
        return f"the name of an [env.NAME] table of {file} (it defines none)"
    return f"one of the environments of {file} ({', '.join(names)})"


def _close(name: str, names: Iterable[str]) -> str:
    from difflib import get_close_matches

    close = get_close_matches(name, list(names), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def overrides(table: dict[str, Any], file: str, name: str) -> dict[str, Any]:
    """The sections an ``[env.NAME]`` table overrides, its ``read_only``
    folded into ``kube.read_only`` (giving both, differing, is refused)."""
    over = {k: v for k, v in table.items() if k not in PROFILE_KEYS}
    if "read_only" in table:
        kube = over.get("kube", {})
        if isinstance(kube, dict):
            if "read_only" in kube and kube["read_only"] != table["read_only"]:
                raise ConfigError(
                    file,
                    f"env.{name}.read_only",
                    f"one read_only for the environment (env.{name}.read_only or env.{name}.kube.read_only)",
                    "both, differing",
                )
            over["kube"] = {**kube, "read_only": table["read_only"]}
    return over


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``over``'s keys set: tables merge key by key (so one
    query of ``metrics.queries`` can change alone), anything else (a string,
    an array) replaces the base's value whole."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def leaves(over: dict[str, Any], prefix: str = "") -> tuple[str, ...]:
    """The dotted keys ``over`` sets (``kube.context``, ``slack.channel`` …)."""
    out: list[str] = []
    for key, value in over.items():
        full = f"{prefix}.{key}" if prefix else key
        out.extend(leaves(value, full) if isinstance(value, dict) and value else [full])
    return tuple(out)


def _written_in(key: str, over: dict[str, Any]) -> bool:
    """Whether the dotted ``key`` of an error (``kube.contxt``,
    ``metrics.backup_urls[1]``, ``keymap.incident.declare``) is in ``over``."""
    parts = re.sub(r"\[\d+\]", "", key).split(".")
    node: Any = over
    while parts and isinstance(node, dict):
        if ".".join(parts) in node:  # a key with dots in it (a binding id)
            return True
        if parts[0] not in node:
            return False
        node, parts = node[parts[0]], parts[1:]
    return not parts


def in_env(err: ConfigError, name: str, over: dict[str, Any]) -> ConfigError:
    """``err``, raised building environment ``name``, naming the key where it
    is written: ``env.NAME.kube.contxt`` when the environment's table wrote
    it, else the section's key with the environment it broke (``health.url
    (env staging)``: a key the sections lack and this environment does not set)."""
    if err.key and _written_in(err.key, over):
        return ConfigError(err.file, f"env.{name}.{err.key}", err.expected, err.found)
    return ConfigError(err.file, f"{err.key} (env {name})" if err.key else f"env.{name}", err.expected, err.found)


def no_env_chosen(file: str, names: Sequence[str]) -> ConfigError:
    """The file defines environments and neither ``--env`` nor ``default_env`` picks one."""
    return ConfigError(file, "default_env", f"an environment: type --env NAME, or set default_env ({', '.join(names)})", "neither")


def choose(file: str, names: Sequence[str], default: str, typed: str | None) -> tuple[str, str]:
    """(the environment in use, what chose it: "--env", "default_env", or ""
    when the file defines none or none is chosen). ``typed`` is ``--env``'s
    value (None: not given); a name the file does not define is refused."""
    if typed is not None:
        if typed not in names:
            raise ConfigError("--env", "", known_text(file, names), repr(typed) + _close(typed, names))
        return typed, "--env"
    if default:
        return default, "default_env"
    return "", ""
