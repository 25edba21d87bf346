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

The async sources (status page, health) cap their bodies in
:mod:`cockpit.sources._http` with the same limit.
"""

from __future__ import annotations

from typing import Any, Callable

from urllib3.exceptions import HTTPError

MAX_BODY = 4 * 1024 * 1024  # no answer the cockpit asks for is near this; 50 MB from a broken proxy must not fill memory
CHUNK = 64 * 1024
TOO_LARGE_HINT = "check the URL points at the API (not a download or a proxy's page); a server that really answers this much needs a narrower query"


class BodyTooLarge(HTTPError):
    """A response body over the cap; reading stopped there. A urllib3
    HTTPError, so the kube sources' transport handlers see it (they name it)."""

    def __init__(self, limit: int, read: int, declared: int | None = None) -> None:
        self.limit, self.read, self.declared = limit, read, declared
        super().__init__(f"the answer is larger than {limit_text(limit)}")


def limit_text(limit: int = MAX_BODY) -> str:
    return f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 and limit % (1024 * 1024) == 0 else f"{limit} bytes"


def read_bounded(read: Callable[[int], bytes], limit: int = MAX_BODY, declared: str | None = None) -> bytes:
    """The whole body through ``read(n)``, or BodyTooLarge as soon as it
    passes ``limit`` (or at once when ``declared``, a Content-Length, says so)."""
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit, 0, int(declared))
    chunks: list[bytes] = []
    size = 0
    while chunk := read(CHUNK):
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit, size)
        chunks.append(chunk)
    return b"".join(chunks)


# --------------------------------------------------------------------------
# requests (prometheus-api-client)


def cap_session(session: Any, limit: int = MAX_BODY) -> Any:
    """Make every response of a ``requests.Session`` read at most ``limit``
    bytes (BodyTooLarge beyond); returns the session."""

    import requests.exceptions as rx
    from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError, SSLError

    def hook(response: Any, **_: Any) -> Any:
        try:
            body = read_bounded(lambda n: response.raw.read(n, decode_content=True), limit, response.headers.get("content-length"))
        except BodyTooLarge:
            response.close()
            raise
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

    def __init__(self, response: Any, limit: int) -> None:
        self._response = response
        self._limit = limit
        self._data: bytes | None = None

    @property
    def data(self) -> bytes:
        if self._data is None:
            resp = self._response
            try:
                self._data = read_bounded(lambda n: resp.read(n), self._limit, resp.headers.get("content-length"))
            except BodyTooLarge:
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
        return _CappedResponse(self._pool.request(*args, **kwargs), self._limit)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)


def cap_api_client(api_client: Any, limit: int = MAX_BODY) -> Any:
    """Cap every response body of a kubernetes ``ApiClient``; returns it."""
    rest = api_client.rest_client
    if not isinstance(rest.pool_manager, _CappedPool):
        rest.pool_manager = _CappedPool(rest.pool_manager, limit)
    return api_client
