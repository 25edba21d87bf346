"""Text helpers below every layer: a URL safe to show, one inert and
redacted line, a text scrubbed of credentials. The sources word their
errors with them; the logic (timeline, postmortem, plans, check) uses them
too, without reaching into the network layer. Standard library and the
redactor / sanitiser only."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from clay_cockpit.redact import REDACTED, redact
from clay_cockpit.sanitise import clean

_MAX_LINE = 200


def safe_url(url: str) -> str:
    """``url`` without user-info, query or fragment: safe to show."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def one_line(text: object, limit: int = _MAX_LINE) -> str:
    """Make inert (:func:`clay_cockpit.sanitise.clean`), redact, collapse
    whitespace to one line and cut it to ``limit`` characters.

    Redacted before the cut: a credential cut in half by the limit is no
    longer the value the redactor knows, and its first half would show.
    Cleaned before redaction: an escape sequence inside a credential would
    hide it from the redactor."""
    flat = " ".join(redact(clean(str(text))).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def scrub(text: str, secrets: tuple[str, ...] | list[str]) -> str:
    """``text`` through the one redactor (:mod:`clay_cockpit.redact`: every
    registered credential and the usual token patterns), then any of
    ``secrets`` (longer than 3 chars) the caller names replaced too."""
    text = redact(text)
    for secret in secrets:
        if secret and len(secret) > 3:
            text = text.replace(secret, REDACTED)
    return text
