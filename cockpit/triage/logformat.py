"""What a log line's format says: its fields and its level, and how the logs
pane shows it compactly.

Three shapes are recognised, whatever library wrote them:

* JSON objects (zap, zerolog, pino, logrus' JSON formatter, slog, GCP's
  ``severity``): the level from ``level``/``lvl``/``severity``/``loglevel``
  (pino's numbers too), the message from ``msg``/``message``, the time from
  ``time``/``ts``/``timestamp``/``@timestamp``. Shown as ``LEVEL msg
  key=value …`` (the time is the line's own, shown by the pane from the
  Kubernetes timestamp); the whole JSON stays in the line.
* logfmt (``level=error msg="…" key=value``).
* Plain text with a leading level word, as coloured console loggers write
  it once their colour is gone (logrus' ``ERRO[0000] …``, ``WARN …``,
  ``[ERROR] …``).

Pure and standard library only. The text given is already clean (the
sanitiser ran where it entered); values decoded from JSON are not (JSON can
spell an ESC as ``\\u001b``), so they go through :func:`clean_line` again.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from clay_cockpit.sanitise import clean_line, strip_sgr

MAX_JSON = 16_000  # longer lines are not parsed as JSON (shown as they are)

# logfmt: key=value, key="quoted value"
_KV = re.compile(r'([A-Za-z_][\w.\-]*)=("(?:[^"\\]|\\.)*"|\S*)')
_LEVEL_FIELD = re.compile(r"""\b(?:level|lvl|severity)["']?\s*[=:]\s*["']?(?P<level>[A-Za-z]+)\b""", re.I)
_LEADING = re.compile(r"\s*\[?(?P<level>[A-Za-z]+)\b")

LEVEL_KEYS = ("level", "lvl", "severity", "loglevel", "log.level")
MSG_KEYS = ("msg", "message")
TIME_KEYS = ("time", "ts", "timestamp", "@timestamp", "t")

_ERROR_WORDS = frozenset(
    {"error", "err", "erro", "fatal", "fata", "critical", "crit", "panic", "pani", "dpanic", "alert", "emerg", "emergency"}
)
_WARN_WORDS = frozenset({"warning", "warn"})
_LEADING_WORDS = (_ERROR_WORDS | _WARN_WORDS) - {"alert", "err"}  # a leading "Alert"/"Err" is more often a word
_PINO = {10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL"}


def logfmt(text: str) -> dict[str, str]:
    """``key=value`` pairs (keys lower-cased; quotes taken off)."""
    out: dict[str, str] = {}
    for key, value in _KV.findall(text[:2000]):
        if value.startswith('"') and value.endswith('"') and len(value) >= 2:
            value = value[1:-1]
        out[key.lower()] = value
    return out


def json_object(text: str) -> dict[str, Any] | None:
    """The line as a JSON object, or None if it is not one."""
    s = text.strip()
    if not (s.startswith("{") and s.endswith("}")) or len(s) > MAX_JSON:
        return None
    try:
        value = json.loads(s)
    except ValueError:  # json.JSONDecodeError, and RecursionError's cousins are not expected at this size
        return None
    return value if isinstance(value, dict) else None


def _text(value: Any) -> str:
    """One JSON value as text, clean: strings as they are, the rest as
    compact JSON."""
    if isinstance(value, str):
        return clean_line(value)
    return clean_line(json.dumps(value, separators=(",", ":"), ensure_ascii=False))


def fields(text: str) -> dict[str, str]:
    """The line's fields, keys lower-cased: a JSON object's top-level
    fields (``message`` also as ``msg``, ``lvl``/``severity`` as
    ``level``), else its logfmt pairs. What triage reads."""
    obj = json_object(text)
    if obj is None:
        return logfmt(text)
    out = {clean_line(k).lower(): _text(v) for k, v in obj.items()}
    for key in MSG_KEYS[1:]:
        if "msg" not in out and key in out:
            out["msg"] = out[key]
    for key in LEVEL_KEYS[1:]:
        if "level" not in out and key in out:
            out["level"] = out[key]
    return out


def level_name(word: str) -> str:
    """ "error", "warn" or "" for a level's name (or pino's number); a
    coloured one (zap's colour encoder puts SGR inside a JSON level) too."""
    w = strip_sgr(word).strip().lower()
    if w.isdigit():
        n = int(w[:3])
        return "error" if n >= 50 else "warn" if n >= 40 else ""
    if w in _ERROR_WORDS:
        return "error"
    return "warn" if w in _WARN_WORDS else ""


@dataclass(frozen=True, slots=True)
class Shape:
    """How a line is shown: its level ("error", "warn" or ""), the level's
    label shown first ("" when the text shows it itself) and the text."""

    level: str
    label: str
    text: str


def _label(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value in _PINO:
        return _PINO[value]
    return _text(value).upper()[:12]


def _pair(key: str, value: Any) -> str:
    """``key=value``, logfmt-style: a string value quoted when it must be;
    other values as compact JSON."""
    v = _text(value)
    if isinstance(value, str) and (v == "" or any(c in v for c in ' ="')):
        v = json.dumps(v, ensure_ascii=False)
    return f"{clean_line(key)}={v}"


def shape(text: str) -> Shape:
    """The line's :class:`Shape`: a JSON line compactly (``msg key=value
    …``, its level as the label), any other line as it is."""
    obj = json_object(text)
    if obj is None:
        return Shape(level_of(text), "", text)
    level_key = next((k for k in LEVEL_KEYS if k in obj), None)
    msg_key = next((k for k in MSG_KEYS if k in obj and isinstance(obj[k], str)), None)
    skip = {level_key, msg_key, *TIME_KEYS}
    words = [_text(obj[msg_key])] if msg_key else []
    words += [_pair(k, v) for k, v in obj.items() if k not in skip]
    label = _label(obj[level_key]) if level_key else ""
    level = level_name(str(obj[level_key])) if level_key else ""
    return Shape(level, label, " ".join(w for w in words if w))


def level_of(text: str) -> str:
    """ "error", "warn" or "" from a line's level: a JSON line's level
    field, a logfmt ``level=`` (near the start), or a leading level word."""
    obj = json_object(text)
    if obj is not None:
        key = next((k for k in LEVEL_KEYS if k in obj), None)
        return level_name(str(obj[key])) if key else ""
    match = _LEVEL_FIELD.search(text[:80])
    if match:
        return level_name(match.group("level"))
    lead = _LEADING.match(text)
    if lead and lead.group("level").lower() in _LEADING_WORDS:
        return level_name(lead.group("level"))
    return ""
