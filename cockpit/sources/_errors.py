"""Helpers every source uses to turn a failure into a :class:`SourceError`.

Standard library only (no HTTP client here), so the blocking sources and the
async ones share the same wording. Nothing in this module ever puts a secret
into a message: URLs lose their user-info and query, and :func:`scrub`
removes any token a caller passes in.
"""

from __future__ import annotations

import email.utils
import logging
import re
import time
import traceback

from clay_cockpit.redact import redact
from clay_cockpit.sanitise import clean
from clay_cockpit.signals import ErrorKind, SourceError

# the sources import these from here too (re-exported by the `as` form)
from clay_cockpit.text import one_line as one_line
from clay_cockpit.text import safe_url as safe_url
from clay_cockpit.text import scrub as scrub

_log = logging.getLogger(__name__)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def kind_for_status(status: int) -> ErrorKind:
    """The error kind of a non-2xx HTTP status."""
    if status == 401:
        return ErrorKind.AUTH_EXPIRED
    if status == 403:
        return ErrorKind.FORBIDDEN
    if status == 429:
        return ErrorKind.RATE_LIMITED
    if status == 408:
        return ErrorKind.TIMEOUT
    if 500 <= status <= 599:
        return ErrorKind.SERVER_ERROR
    return ErrorKind.BAD_RESPONSE


_STATUS_TEXT = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def status_text(status: int) -> str:
    return f"HTTP {status} {_STATUS_TEXT.get(status, '')}".rstrip()


def http_status_error(
    source: str,
    status: int,
    what: str,
    *,
    hints: dict[ErrorKind, str] | None = None,
    retry_after: float | None = None,
    detail: str = "",
    secrets: tuple[str, ...] = (),
) -> SourceError:
    """A SourceError for a non-2xx answer from ``what`` (a safe URL or name).

    ``hints`` overrides the generic hint per kind; ``detail`` (e.g. the
    server's own error message) is appended to the message, scrubbed.
    """
    kind = kind_for_status(status)
    message = f"{what} answered {status_text(status)}"
    if detail:
        message += f": {detail}"
    message = one_line(scrub(message, secrets))
    hint = (hints or {}).get(kind) or generic_hint(kind, retry_after)
    return SourceError(
        source=source,
        kind=kind,
        message=message,
        hint=one_line(scrub(hint, secrets)),
        status_code=status,
        retry_after=retry_after,
    )


def generic_hint(kind: ErrorKind, retry_after: float | None = None) -> str:
    if kind is ErrorKind.RATE_LIMITED:
        if retry_after is not None:
            return f"the server is throttling us; it asks to wait {retry_after:.0f}s — polls slow down until then"
        return "the server is throttling us; polls slow down — wait a minute before retrying by hand"
    if kind is ErrorKind.SERVER_ERROR:
        return "the server failed, not the request; the next poll retries — if it persists, check the service itself"
    if kind is ErrorKind.AUTH_EXPIRED:
        return "the credentials were refused: refresh the token and try again"
    if kind is ErrorKind.FORBIDDEN:
        return "the account is authenticated but lacks permission: ask for access"
    if kind is ErrorKind.TIMEOUT:
        return "no answer in time; the next poll retries — check the service and the network path to it"
    if kind is ErrorKind.UNREACHABLE:
        return "check the URL in the config and that the service is up and reachable from here"
    return "the answer was not in the expected format: check the URL points at the right API"


def make_error(
    source: str,
    kind: ErrorKind,
    message: str,
    hint: str = "",
    *,
    status_code: int | None = None,
    retry_after: float | None = None,
    secrets: tuple[str, ...] = (),
) -> SourceError:
    """A SourceError with one-line, scrubbed message and hint."""
    return SourceError(
        source=source,
        kind=kind,
        message=one_line(scrub(message, secrets)),
        hint=one_line(scrub(hint or generic_hint(kind, retry_after), secrets)),
        status_code=status_code,
        retry_after=retry_after,
    )


def unexpected(source: str, exc: BaseException, where: str, secrets: tuple[str, ...] = ()) -> SourceError:
    """The outermost catch-all: a bad_response naming the exception type.

    Only the type and a scrubbed first line of the exception are shown.
    """
    text = one_line(scrub(str(exc), secrets), 120)
    message = f"unexpected {type(exc).__name__} while reading {where}"
    if text:
        message += f": {text}"
    # where in the code, for the report (file:line and function of the innermost frames; no values, so no secret)
    frames = traceback.extract_tb(exc.__traceback__)[-4:]
    _log.warning(
        "%s [at %s]", scrub(message, secrets), " < ".join(f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno} {f.name}" for f in reversed(frames))
    )
    return make_error(
        source,
        ErrorKind.BAD_RESPONSE,
        message,
        "this is a bug or an answer we do not understand; run `clay-cockpit check` and report the line",
        secrets=secrets,
    )


_SPACE_RE = re.compile(r"\s+")


def body_snippet(body: bytes | str | None, limit: int = 80) -> str:
    """The start of a response body, one line, for 'expected JSON, got …'."""
    if body is None:
        return ""
    if isinstance(body, bytes):
        body = body[: limit * 4 + 4096].decode("utf-8", "replace")  # room for a credential that straddles the cut
    text = _SPACE_RE.sub(" ", redact(clean(body))).strip()  # made inert (see one_line), redacted before it is cut (see one_line)
    return text if len(text) <= limit else text[: limit - 1] + "…"
