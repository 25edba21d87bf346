"""Response bodies read in bounded chunks, for the clients that would read
any size whole: requests (under prometheus-api-client) and urllib3 (under the
kubernetes client).

Neither client has a size limit of its own, so the cap goes in where each
lets us in: a requests *response hook* (it runs before requests reads the
body) and a wrapper round the kubernetes client's urllib3 pool manager (every
request of the generated API goes through ``rest_client.pool_manager``; the
wrapper's responses read at most the cap when asked for ``.data``, which is
how the client reads both answers and error bodies). A body over the cap
raises :class:`BodyTooLarge`, and the source names it (BAD_RESPONSE, "sent
more than 4 MiB"); at most the cap plus one chunk is ever held.

Neither client has a *total* deadline either: their read timeout bounds each
wait for a byte, so an answer trickled one byte every half second holds a
poll for minutes. The same readers take what arrives (``read1``: one
receive at a time) and stop when the request's time is up — its connect plus
read timeout from when it was sent — with a read timeout, which the sources
already name TIMEOUT.

The async sources (status page, health) cap their bodies in
:mod:`clay_cockpit.sources._http` with the same limit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from urllib3.exceptions import HTTPError, ReadTimeoutError

MAX_BODY = 4 * 1024 * 1024  # no answer the cockpit asks for is near this; 50 MB from a broken proxy must not fill memory
CHUNK = 64 * 1024
TOO_LARGE_HINT = (
    "check the URL points at the API (not a download or a proxy's page); a server that really answers this much needs a narrower query"
)


class BodyTooLarge(HTTPError):
    """A response body over the cap; reading stopped there. A urllib3
    HTTPError, so the kube sources' transport handlers see it (they name it)."""

    def __init__(self, limit: int, read: int, declared: int | None = None) -> None:
        self.limit, self.read, self.declared = limit, read, declared
        super().__init__(f"the answer is larger than {limit_text(limit)}")


def limit_text(limit: int = MAX_BODY) -> str:
    return f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 and limit % (1024 * 1024) == 0 else f"{limit} bytes"


class AnswerTooSlow(ReadTimeoutError):
    """The body did not arrive within the request's total time (each byte
    came in time, the whole did not). A urllib3 ReadTimeoutError: named
    TIMEOUT wherever a read timeout is."""

    def __init__(self, seconds: float, read: int) -> None:
        self.seconds, self.read = seconds, read
        message = f"the answer was not complete within {seconds:g}s ({read} bytes came)"
        super().__init__(None, "", message)  # type: ignore[arg-type]
        self.args = (message,)


def read_bounded(
    read: Callable[[int], bytes], limit: int = MAX_BODY, declared: str | None = None, deadline: float | None = None, allowed: float = 0.0
) -> bytes:
    """The whole body through ``read(n)``, or BodyTooLarge as soon as it
    passes ``limit`` (or at once when ``declared``, a Content-Length, says
    so), or AnswerTooSlow once ``time.monotonic()`` passes ``deadline``
    (``allowed``: the seconds that deadline stands for, for the message).
    ``read`` should return what has arrived (``read1``) so the deadline is
    looked at after every receive."""
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit, 0, int(declared))
    chunks: list[bytes] = []
    size = 0
    while chunk := read(CHUNK):
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit, size)
        chunks.append(chunk)
        if deadline is not None and time.monotonic() > deadline:
            raise AnswerTooSlow(allowed, size)
    return b"".join(chunks)


def total_seconds(timeout: Any) -> float | None:
    """Connect plus read time of a requests / urllib3 timeout (a number, a
    ``(connect, read)`` pair or a ``urllib3.Timeout``); None when unbounded."""
    if timeout is None:
        return None
    if isinstance(timeout, (int, float)):
        return 2.0 * float(timeout)
    if isinstance(timeout, tuple) and len(timeout) == 2:
        parts = timeout
    else:
        parts = (getattr(timeout, "connect_timeout", None), getattr(timeout, "read_timeout", None))
    if any(not isinstance(p, (int, float)) for p in parts):
        return None
    return float(parts[0]) + float(parts[1])


def _reader(response: Any, **kwargs: Any) -> Callable[[int], bytes]:
    """``response.read1`` (what has arrived) where urllib3 has it, else ``read``."""
    read = getattr(response, "read1", None) or response.read
    return lambda n: read(n, **kwargs)


# --------------------------------------------------------------------------
# requests (prometheus-api-client)


def cap_session(session: Any, limit: int = MAX_BODY, total: float | None = None) -> Any:
    """Make every response of a ``requests.Session`` read at most ``limit``
    bytes (BodyTooLarge beyond) and, with ``total``, be complete within
    ``total`` seconds of the request being sent (a requests ReadTimeout
    beyond); returns the session."""

    import requests.exceptions as rx
    from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError, SSLError

    def hook(response: Any, **_: Any) -> Any:
        deadline = None
        if total is not None:  # response.elapsed: the time to the headers, already spent
            deadline = time.monotonic() + max(0.0, total - response.elapsed.total_seconds())
        try:
            body = read_bounded(
                _reader(response.raw, decode_content=True), limit, response.headers.get("content-length"), deadline, total or 0.0
            )
        except BodyTooLarge:
            response.close()
            raise
        except AnswerTooSlow as exc:
            response.close()
            raise rx.ReadTimeout(str(exc.args[0] if exc.args else exc), response=response) from None
        # urllib3's errors as requests reports them when it reads the body itself (Response.iter_content)
        except ProtocolError as exc:
            raise rx.ChunkedEncodingError(exc) from None
        except DecodeError as exc:
            raise rx.ContentDecodingError(exc) from None
        except ReadTimeoutError as exc:
            raise rx.ReadTimeout(exc) from None
        except SSLError as exc:
            raise rx.SSLError(exc) from None
        # what Response.content caches: requests reads no further (it would read the rest whole)
        response._content = body
        response._content_consumed = True
        return response

    session.hooks["response"].append(hook)
    return session


# --------------------------------------------------------------------------
# urllib3 (the kubernetes client)


class _CappedResponse:
    """A urllib3 response whose ``.data`` reads at most the cap; the rest
    (``read``, ``stream``, ``release_conn``, ``shutdown`` …: log streaming) is
    the response's own."""

    def __init__(self, response: Any, limit: int, sent: float, total: float | None) -> None:
        self._response = response
        self._limit = limit
        self._deadline = None if total is None else sent + total
        self._total = total or 0.0
        self._data: bytes | None = None

    @property
    def data(self) -> bytes:
        if self._data is None:
            resp = self._response
            try:
                self._data = read_bounded(_reader(resp), self._limit, resp.headers.get("content-length"), self._deadline, self._total)
            except (BodyTooLarge, AnswerTooSlow):
                resp.close()
                raise
        return self._data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._response, name)


class _CappedPool:
    """The kubernetes client's pool manager, its responses capped."""

    def __init__(self, pool: Any, limit: int) -> None:
        self._pool = pool
        self._limit = limit

    def request(self, *args: Any, **kwargs: Any) -> _CappedResponse:
        sent = time.monotonic()
        return _CappedResponse(self._pool.request(*args, **kwargs), self._limit, sent, total_seconds(kwargs.get("timeout")))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)


def cap_api_client(api_client: Any, limit: int = MAX_BODY) -> Any:
    """Cap every response body of a kubernetes ``ApiClient``; returns it."""
    rest = api_client.rest_client
    if not isinstance(rest.pool_manager, _CappedPool):
        rest.pool_manager = _CappedPool(rest.pool_manager, limit)
    return api_client
