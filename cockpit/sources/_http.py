"""One GET over httpx with every transport failure turned into a SourceError.

Used by the async sources (status page, health). The caller decides what an
HTTP status means; this module only answers "what came back" or "why nothing
came back".
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass
from typing import Any

import httpx

from clay_cockpit.signals import ErrorKind, SourceError
from clay_cockpit.sources._errors import make_error, one_line, parse_retry_after, safe_url

_MAX_BODY = 4 * 1024 * 1024  # a status page or health body larger than this is not one


@dataclass(frozen=True, slots=True)
class Fetched:
    """What one GET returned."""

    url: str  # safe to show
    status: int
    headers: httpx.Headers
    body: bytes
    elapsed_ms: float

    @property
    def retry_after(self) -> float | None:
        return parse_retry_after(self.headers.get("retry-after"))

    def json(self) -> tuple[bool, Any]:
        """(True, value) when the body is JSON, else (False, None)."""
        try:
            return True, json.loads(self.body)
        except (UnicodeDecodeError, ValueError):
            return False, None


def timeout_of(seconds: float) -> httpx.Timeout:
    """The same limit for connect, read, write and pool."""
    return httpx.Timeout(seconds)


async def get(
    client: httpx.AsyncClient,
    source: str,
    url: str,
    *,
    timeout: float,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    hints: dict[ErrorKind, str] | None = None,
    secrets: tuple[str, ...] = (),
) -> Fetched | SourceError:
    """GET ``url``; a transport failure becomes unreachable/timeout.

    ``hints`` overrides the hint for unreachable and timeout (e.g. "check the
    alternative page instead"). The whole request, body included, is bounded
    by ``timeout`` per phase and by an overall deadline of twice that.
    """
    shown = safe_url(url)
    hints = hints or {}
    started = time.monotonic()
    try:
        async with client.stream("GET", url, headers=headers, params=params, timeout=timeout_of(timeout)) as resp:
            chunks: list[bytes] = []
            size = 0
            async for chunk in resp.aiter_bytes():
                size += len(chunk)
                if size > _MAX_BODY:
                    return make_error(
                        source,
                        ErrorKind.BAD_RESPONSE,
                        f"{shown} sent more than {_MAX_BODY // (1024 * 1024)} MiB",
                        "check the URL points at the API, not a download",
                        status_code=resp.status_code,
                        secrets=secrets,
                    )
                chunks.append(chunk)
                if time.monotonic() - started > 2 * timeout:
                    raise httpx.ReadTimeout("body took too long", request=resp.request)
            return Fetched(
                url=shown,
                status=resp.status_code,
                headers=resp.headers,
                body=b"".join(chunks),
                elapsed_ms=(time.monotonic() - started) * 1000.0,
            )
    except httpx.TimeoutException:
        return make_error(
            source,
            ErrorKind.TIMEOUT,
            f"no answer from {shown} within {timeout:g}s",
            hints.get(ErrorKind.TIMEOUT, ""),
            secrets=secrets,
        )
    except httpx.ConnectError as exc:
        return make_error(
            source,
            ErrorKind.UNREACHABLE,
            f"cannot connect to {shown}: {_reason(exc)}",
            hints.get(ErrorKind.UNREACHABLE, ""),
            secrets=secrets,
        )
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
        return make_error(
            source,
            ErrorKind.UNREACHABLE,
            f"connection to {shown} dropped: {_reason(exc)}",
            hints.get(ErrorKind.UNREACHABLE, ""),
            secrets=secrets,
        )
    except httpx.TooManyRedirects:
        return make_error(
            source,
            ErrorKind.BAD_RESPONSE,
            f"{shown} redirected too many times",
            "open the URL in a browser and put the final address in the config",
            secrets=secrets,
        )
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        return make_error(
            source,
            ErrorKind.UNREACHABLE,
            f"cannot request {shown}: {_reason(exc)}",
            "fix the URL in the config (http:// or https:// with a host)",
            secrets=secrets,
        )
    except httpx.HTTPError as exc:
        return make_error(
            source,
            ErrorKind.UNREACHABLE,
            f"request to {shown} failed: {type(exc).__name__}: {_reason(exc)}",
            hints.get(ErrorKind.UNREACHABLE, ""),
            secrets=secrets,
        )


def _reason(exc: BaseException) -> str:
    """A short cause: the errno-level reason if one is in the chain."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            break
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        if isinstance(seen, socket.gaierror):
            return "host name not found"
        if isinstance(seen, ConnectionResetError):
            return "connection reset"
        seen = seen.__cause__ or seen.__context__
    text = one_line(exc, 120)
    if not text:
        return type(exc).__name__
    lowered = text.lower()
    if "connection refused" in lowered or "errno 111" in lowered:
        return "connection refused"
    return text
