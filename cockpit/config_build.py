"""Building frozen dataclasses from TOML tables, with one-line errors.

The schema machinery the config (:mod:`clay_cockpit.config`) and the scenario
files (:mod:`clay_cockpit.sim.scenario`) share: :func:`opt` declares a field (its
default, the one-line doc for the reference, and its checks), :func:`build`
turns a TOML table into the dataclass and raises :class:`ConfigError`
naming the file, the key, what was expected and what was found, in one line.
Reading the file itself (:func:`read_text_file`, :func:`parse_toml`) is here
too: a FIFO, a directory or a huge file is named, never waited on or read.

Knows no schema: the config's dataclasses are in :mod:`clay_cockpit.config`.
Standard library only.
"""

from __future__ import annotations

import math
import os
import re
import stat
import tomllib
import types
import typing
from dataclasses import MISSING, field, fields, is_dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from clay_cockpit.paths import ConfigError


def opt(
    default: Any = MISSING,
    doc: str = "",
    *,
    kind: str = "",
    choices: tuple[str, ...] = (),
    factory: Any = MISSING,
    low: float | None = None,
    high: float | None = None,
    creds: str = "",
) -> Any:
    """A config field: default, a one-line doc for the reference, and checks.

    ``kind`` adds a value check: "url" (http/https with a host and a valid
    port, no user:password@), "url?" (url or empty), "env" (an environment
    variable name or empty, never a token), "duration" (seconds > 0), "count"
    (int >= 0), "k8s-name" (a Kubernetes object name), "keymap" (a table
    of binding id → key or keys; the ids and key names are checked where the
    bindings are known, :mod:`clay_cockpit.screens.keymap`). Every number must be finite;
    ``low``/``high`` bound it (inclusive) and show in the reference. ``creds``
    says where a URL's credentials go instead (a URL with user:password@ is
    refused, pointing there: a ``token_env`` key, or a sentence).
    """
    meta = {"doc": doc, "kind": kind, "choices": choices, "low": low, "high": high, "creds": creds}
    if factory is not MISSING:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


# --------------------------------------------------------------------------
# Building dataclasses from TOML tables, with one-line errors

_SECRET_WORDS = ("token", "password", "secret_value", "api_key", "apikey")


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"number {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"string {shown!r}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def _bound(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def range_text(meta: dict[str, Any], integer: bool = False) -> str:
    """What a number field accepts, from its metadata: "a number of seconds
    from 0.1 to 86400", "an integer >= 0", "a finite number" (the one wording
    for the error and the reference)."""
    kind, low, high = meta.get("kind", ""), meta.get("low"), meta.get("high")
    what = "an integer" if integer else "a number of seconds" if kind == "duration" else "a number"
    if low is None and kind == "count":
        low = 0
    if low is not None and high is not None:
        return f"{what} from {_bound(low)} to {_bound(high)}"
    if low is not None:
        return f"{what} >= {_bound(low)}"
    if kind == "duration":
        return f"{what} > 0" + (f" and <= {_bound(high)}" if high is not None else "")
    if high is not None:
        return f"{what} <= {_bound(high)}"
    return what if integer else "a finite number"


def _check_number(meta: dict[str, Any], value: float, file: str, key: str, integer: bool = False) -> None:
    """Finite, and within the field's bounds (``low``/``high``; a duration > 0, a count >= 0)."""
    kind, low, high = meta.get("kind", ""), meta.get("low"), meta.get("high")
    if low is None and kind == "count":
        low = 0
    bad = (
        not math.isfinite(value)
        or (low is not None and value < low)
        or (high is not None and value > high)
        or (kind == "duration" and value <= 0)
    )
    if bad:
        raise ConfigError(file, key, range_text(meta, integer), _describe(value))


_URL_USERINFO = re.compile(r"(?<=//)[^/?#@]*@")


def shown_url(value: str) -> str:
    """``value`` without any user:password@, safe to echo in an error."""
    return _URL_USERINFO.sub("", value)


def looks_like_token(value: str) -> bool:
    """Whether a would-be variable name is rather a credential pasted in
    (a known token shape, or long and mixed like a random string)."""
    from clay_cockpit.redact import redact

    if redact(value) != value:
        return True
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        classes = sum((any(c.islower() for c in value), any(c.isupper() for c in value), any(c.isdigit() for c in value)))
        random = len(value) >= 24 and "_" not in value and any(c.isdigit() for c in value)  # a hex or base62 key
        return len(value) > 64 or len(value) >= 20 and classes == 3 or random
    return len(value) >= 16  # not a name at all, and long


def _check_url(kind: str, value: str, file: str, key: str, creds: str) -> None:
    if kind == "url?" and value == "":
        return
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as err:  # "Invalid IPv6 URL", "Port out of range 0-65535", "Port could not be cast …"
        raise ConfigError(
            file, key, "an http(s) URL with a host (and a port from 1 to 65535)", f"{_describe(shown_url(value))} ({err})"
        ) from None
    if parts.username is not None or parts.password is not None:
        where = f"the token goes in the environment variable named by {creds}" if creds.endswith("token_env") else creds or "it needs none"
        raise ConfigError(file, key, f"a URL without user:password@ ({where})", "a URL with credentials (not shown)")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(file, key, "an http(s) URL with a host", _describe(value))
    if port == 0:
        raise ConfigError(file, key, "an http(s) URL with a host (and a port from 1 to 65535)", _describe(value))


_K8S_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")


def _check_kind(kind: str, value: Any, file: str, key: str, meta: dict[str, Any] | None = None) -> None:
    meta = meta or {}
    if kind in ("url", "url?"):
        _check_url(kind, value, file, key, meta.get("creds", ""))
    elif kind == "env":
        if value and looks_like_token(value):
            raise ConfigError(
                file, key, "the NAME of the environment variable that holds the token, not the token", "what looks like a token (not shown)"
            )
        if value and not (value.replace("_", "a").isalnum() and value.isascii() and not value[0].isdigit()):
            raise ConfigError(file, key, "the name of an environment variable (letters, digits, _)", _describe(value))
    elif kind == "k8s-name":
        if not _K8S_NAME.fullmatch(value):
            raise ConfigError(file, key, "a Kubernetes name (lowercase letters, digits, - and .)", _describe(value))
    elif kind in ("duration", "count") or meta.get("low") is not None or meta.get("high") is not None:
        _check_number(meta, value, file, key, integer=isinstance(value, int))


def _keymap(value: Any, file: str, key: str) -> tuple[tuple[str, str], ...]:
    """``[keymap]``: binding id → a key or an array of keys, as (id, "k1,k2") pairs."""
    if not isinstance(value, dict):
        raise ConfigError(file, key, "a table of binding id = key", _describe(value))
    out = []
    for binding_id, keys in value.items():
        where = f"{key}.{binding_id}"
        keys = [keys] if isinstance(keys, str) else keys
        if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
            raise ConfigError(file, where, 'a key ("I", "ctrl+d") or a non-empty array of keys', _describe(value[binding_id]))
        for k in keys:
            if not k.strip() or "," in k or " " in k.strip():
                raise ConfigError(file, where, 'a key name without spaces or commas ("I", "ctrl+d", "f5")', _describe(k))
        out.append((binding_id, ",".join(k.strip() for k in keys)))
    return tuple(out)


def _convert(tp: Any, value: Any, file: str, key: str, meta: dict[str, Any]) -> Any:
    if meta.get("kind") == "keymap":
        return _keymap(value, file, key)
    origin = typing.get_origin(tp)
    if isinstance(tp, type) and is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(file, key, "a table", _describe(value))
        return build(tp, value, file, key)
    if origin is tuple:
        item_tp = typing.get_args(tp)[0]
        if isinstance(item_tp, type) and is_dataclass(item_tp):  # a table of named tables → tuple of dataclasses
            if not isinstance(value, dict):
                raise ConfigError(file, key, "a table of tables", _describe(value))
            out = []
            for name, sub in value.items():
                if not isinstance(sub, dict):
                    raise ConfigError(file, f"{key}.{name}", "a table", _describe(sub))
                out.append(build(item_tp, {**sub, "name": name}, file, f"{key}.{name}"))
            return tuple(out)
        if not isinstance(value, list):
            raise ConfigError(file, key, f"an array of {_type_name(item_tp)}", _describe(value))
        return tuple(_convert(item_tp, v, file, f"{key}[{i}]", meta) for i, v in enumerate(value))
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _convert(args[0], value, file, key, meta)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(file, key, "true or false", _describe(value))
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(file, key, "an integer", _describe(value))
    elif tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(file, key, "a number", _describe(value))
        _check_number(meta, value, file, key)
        return float(value)
    elif tp is str:
        if not isinstance(value, str):
            raise ConfigError(file, key, "a string", _describe(value))
        if meta.get("choices") and value not in meta["choices"]:
            raise ConfigError(file, key, "one of " + ", ".join(meta["choices"]), _describe(value))
    _check_kind(meta.get("kind", ""), value, file, key, meta)
    return value


def _type_name(tp: Any) -> str:
    return {str: "strings", int: "integers", float: "numbers", bool: "booleans"}.get(tp, getattr(tp, "__name__", str(tp)))


def check_keys(table: dict[str, Any], known: typing.Iterable[str], file: str, prefix: str = "") -> None:
    """Every key of ``table`` is one of ``known``; else ConfigError naming it
    (a key that looks like a secret is refused as one, not as a typo)."""
    allowed = set(known)
    for key in table:
        if key not in allowed:
            full = f"{prefix}.{key}" if prefix else key
            lowered = key.lower()
            if any(w in lowered for w in _SECRET_WORDS) and not lowered.endswith("_env"):
                raise ConfigError(file, full, "no secrets in the file (name the environment variable with token_env)", "a secret")
            raise ConfigError(file, full, "one of " + ", ".join(sorted(allowed)), "unknown key")


def build(cls: type, table: dict[str, Any], file: str, prefix: str = "") -> Any:
    """Build dataclass ``cls`` from a TOML table; raise ConfigError naming the key."""
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in fields(cls) if not f.metadata.get("internal")}
    check_keys(table, known, file, prefix)
    values = {}
    for name, f in known.items():
        full = f"{prefix}.{name}" if prefix else name
        if name in table:
            values[name] = _convert(hints[name], table[name], file, full, dict(f.metadata))
        elif f.default is MISSING and f.default_factory is MISSING:
            raise ConfigError(file, full, f"a value ({f.metadata.get('doc') or name})", "nothing (missing required key)")
    return cls(**values)


def parse_toml(text: str, file: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(file, "", "valid TOML", str(err)) from None


MAX_FILE = 1024 * 1024  # a config or scenario file is a few KiB; more is not one

_FILE_TYPES = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def read_text_file(path: str | os.PathLike[str], what: str = "a readable file") -> str:
    """The UTF-8 text of a regular file of at most :data:`MAX_FILE` bytes, or
    ConfigError naming the file and what it is instead. Opened without
    blocking (a FIFO would wait for a writer forever) and checked on the open
    descriptor, so what is checked is what is read."""
    file = str(path)
    try:
        fd = os.open(Path(path).expanduser(), os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        raise ConfigError(file, "", what, err.strerror or str(err)) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            found = next((name for test, name in _FILE_TYPES if test(mode)), "not a regular file")
            raise ConfigError(file, "", f"{what} (a regular file)", found)
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_FILE and (chunk := os.read(fd, MAX_FILE + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
        data = b"".join(chunks)
    except OSError as err:
        raise ConfigError(file, "", what, err.strerror or str(err)) from None
    finally:
        os.close(fd)
    if len(data) > MAX_FILE:
        raise ConfigError(file, "", f"a file of at most {MAX_FILE // 1024} KiB", "a larger file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ConfigError(file, "", "UTF-8 text", f"a byte that is not UTF-8 (0x{data[err.start]:02x}) on line {line}") from None
