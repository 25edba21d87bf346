"""The one redactor: every text from an exception or a server passes it
before it reaches the screen, a file, a log or a message.

It knows two things:

- every credential value this process holds — each is registered with
  :func:`register` where it is read (kube tokens from the kubeconfig, its
  ``tokenFile`` and exec plugins, client key data, basic-auth passwords, the
  Slack token, the status page API key, bearer tokens of Prometheus and the
  health endpoint, the Clay API key in and out of the Secret). A value is
  matched as given, trimmed, base64-encoded, and as Python's ``repr`` shows it
  (``b'Bearer abc\\n'``), so an exception quoting a header still loses it;
- the usual patterns: ``Bearer …``/``Basic …``, Slack ``xox?-…`` tokens,
  ``Authorization:``/``api_key=``-style pairs, URL ``user:password@``, JWTs,
  PEM private keys and common cloud key formats.

Everything is replaced by ``[redacted]``. Standard library only, no I/O, no
Textual: :mod:`clay_cockpit.signals` uses it when a ``SourceError`` is built, the
timeline when it writes, the log handler through :class:`RedactingFilter`,
the app for every notification.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import threading
from collections.abc import Callable
from typing import Any

REDACTED = "[redacted]"
MIN_LENGTH = 6  # shorter values would redact ordinary words; no real credential is that short


def _plausible(value: str) -> bool:
    """Whether a word after ``token``/``basic``/``api_key=`` could be a
    credential rather than prose or a name ("token expired", ``token: $SLACK_BOT_TOKEN``)."""
    if value.startswith("$") or re.fullmatch(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+", value):
        return False  # an environment variable's name
    rest = value[1:]
    return (
        any(c.isdigit() for c in value)
        or (any(c.isupper() for c in rest) and any(c.islower() for c in rest))
        or len(value) >= 24
        or any(c in "+/=" for c in value)
    )


def _if_plausible(match: re.Match[str]) -> str:
    return (
        match.group(0)
        if not _plausible(match.group(match.lastindex or 0))
        else (match.group(0)[: match.start(match.lastindex or 0) - match.start(0)] + REDACTED)
    )


_SECRET_WORDS = (
    r"api[_-]?key|apikey|x-api-key|access[_-]?token|auth[_-]?token|refresh[_-]?token|token|secret"
    r"|client[_-]?secret|password|passwd|pwd|authorization"
)
PATTERNS: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.DOTALL), REDACTED),
    (re.compile(r"\bxox[abeoprs]-[A-Za-z0-9-]{6,}"), REDACTED),  # Slack
    (re.compile(r"\bxapp-[A-Za-z0-9-]{6,}"), REDACTED),
    (re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]+"), "https://hooks.slack.com/services/" + REDACTED),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), REDACTED),  # JWT
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"), REDACTED),  # GitHub
    (re.compile(r"\b(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{8,}"), REDACTED),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), REDACTED),
    (re.compile(r"\bAKIA[0-9A-Z]{16}\b"), REDACTED),  # AWS access key id
    (re.compile(r"(?i)\b(bearer)(\s+)(?!\[redacted\])[A-Za-z0-9._~+/=-]{6,}"), r"\1\2" + REDACTED),
    (re.compile(r"(?i)\b(basic|token|oauth)(\s+)(?!\[redacted\])([A-Za-z0-9._~+/=-]{6,})"), _if_plausible),
    (re.compile(r"(?<=://)([^/\s:@]+):([^/\s@]+)@"), r"\1:" + REDACTED + "@"),  # URL user:password@
    (  # api_key=…, "token": "…", Authorization: xyz (a Bearer/Basic scheme is handled above)
        re.compile(
            r"(?i)((?:" + _SECRET_WORDS + r")[\"']?\s*[:=]\s*[\"']?)"
            r"(?!\[redacted\]|bearer\b|basic\b|token\b|sha256:[0-9a-f]{6})([^\s\"'&,;}]{4,})"
        ),
        _if_plausible,
    ),
)

_lock = threading.Lock()
_known: dict[str, str] = {}  # variant → label (what it is, for tests and debugging; never the value)
_known_re: re.Pattern[str] | None = None


def _variants(value: str) -> set[str]:
    out = {value, value.strip()}
    for v in list(out):
        out.add(repr(v)[1:-1])  # as an exception quoting bytes/str shows it: b'Bearer abc\n'
        try:
            out.add(base64.b64encode(v.encode("utf-8")).decode("ascii"))
        except UnicodeEncodeError:
            pass
    return {v for v in out if len(v) >= MIN_LENGTH}


def register(value: str | bytes | None, label: str = "credential") -> None:
    """Remember ``value`` as a credential: from now on it never shows.

    Call it where the value is read. Empty and very short values are ignored.
    ``label`` says what it is ("kube token", "slack token" …).
    """
    global _known_re
    if value is None:
        return
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("utf-8", "replace")
    if not isinstance(value, str) or len(value.strip()) < MIN_LENGTH:
        return
    new = _variants(value)
    with _lock:
        if new <= _known.keys():
            return
        for v in new:
            _known.setdefault(v, label)
        ordered = sorted(_known, key=len, reverse=True)  # longest first: a value containing another goes whole
        _known_re = re.compile("|".join(re.escape(v) for v in ordered))


def known_labels() -> set[str]:
    """What kinds of credential are registered (labels only)."""
    with _lock:
        return set(_known.values())


def forget_all() -> None:
    """Forget every registered value (tests only)."""
    global _known_re
    with _lock:
        _known.clear()
        _known_re = None


def redact_count(text: str) -> tuple[str, int]:
    """``text`` without any known credential or credential-looking substring; (text, how many)."""
    count = 0
    known = _known_re
    if known is not None:
        text, count = known.subn(REDACTED, text)
    for pattern, repl in PATTERNS:
        text, n = pattern.subn(repl, text)
        count += n
    return text, count


def redact(text: object) -> str:
    """``str(text)`` with every credential replaced by ``[redacted]``."""
    return redact_count(text if isinstance(text, str) else str(text))[0]


def contains_known(text: str) -> bool:
    """Whether ``text`` holds a registered value (for assertions)."""
    known = _known_re
    return bool(known and known.search(text))


class RedactingFilter(logging.Filter):
    """Rewrites every record's message (args merged) and exception text
    through :func:`redact` before a handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception as exc:  # a bad format string must not lose the record; say what it was
            message = f"{record.msg!r} (unformattable: {type(exc).__name__})"
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        record.exc_info = None  # the formatted (redacted) text above stands in for it
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install_log_filter(handler: logging.Handler) -> logging.Handler:
    """Put a :class:`RedactingFilter` on ``handler`` (once); returns it."""
    if not any(isinstance(f, RedactingFilter) for f in handler.filters):
        handler.addFilter(RedactingFilter())
    return handler


def redact_value(value: Any) -> Any:
    """``value`` with every string in it (dicts, lists, tuples) redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_value(k): redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact_value(v) for v in value)
    return value


def fingerprint(secret: str | bytes) -> str:
    """A short, stable stand-in for a secret: ``sha256:`` + 12 hex digits of
    its SHA-256 (bytes as given, no stripping: a stray newline shows as a
    different fingerprint). ``"(empty)"`` for an empty secret."""
    raw = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    if not raw:
        return "(empty)"
    return "sha256:" + hashlib.sha256(raw).hexdigest()[:12]
