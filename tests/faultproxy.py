"""A fault proxy for tests: one loopback HTTP listener in front of one real
upstream (a drill service), answering each request as its ``mode`` says —
what a broken network, gateway or server does to the cockpit's sources.

Modes (``FaultProxy.MODES``):

- ``pass``: forward to the upstream unchanged;
- ``hang``: accept, read the request, never answer;
- ``slow``: forward, but send the answer one byte every ``trickle`` seconds
  (a connection that never stalls long enough for a read timeout);
- ``401``, ``403``, ``429`` (with ``Retry-After: 7``), ``500``: that status
  with a small JSON error body;
- ``html``: 200 with a gateway's HTML page;
- ``truncated``: the upstream's answer cut in half, the connection closed
  (the Content-Length promised more);
- ``huge``: 200, a 50 MB JSON-ish body, generated as it is read;
- ``invalid_utf8``: 200, ``application/json`` whose bytes are not UTF-8;
- ``wrong_shape``: 200, valid JSON of the wrong structure;
- ``stalled``: the status line, headers and the first bytes, then nothing;
- ``hostile``: forward, with hostile text (markup, escape sequences, C1 and
  bidi controls) put into every free-text string of the JSON answer.

``refused`` is not a mode: use :func:`refused_url` (a port nothing listens on).

Bounded: the listener lives in its own thread until :meth:`close` (or at most
``lifetime`` seconds); a hanging or stalled answer ends when the proxy
closes. Standard library and httpx only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from typing import Any

import httpx

HOSTILE = (
    "[/]",
    "[@click=app.quit]Q[/]",
    "[FILTERED]",
    "/v1/tables/[table_id]/rows",
    "\x1b]8;;https://evil.example/\x1b\\link\x1b]8;;\x1b\\",
    "\x1b]0;pwned\x07",
    "\x1b]52;c;cm0gLXJmIH4=\x07",
    "\x1b[2J",
    "\u009b31m",
    "\u202eevil\u202c",
    "<!channel>",
)
HOSTILE_TEXT = " ".join(HOSTILE)

MODES = (
    "pass",
    "hang",
    "slow",
    "401",
    "403",
    "429",
    "500",
    "html",
    "truncated",
    "huge",
    "invalid_utf8",
    "wrong_shape",
    "stalled",
    "hostile",
)
HUGE = 50 * 1024 * 1024


def refused_url() -> str:
    """http://127.0.0.1:<a port nothing listens on>."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _hostile(value: Any) -> Any:
    if isinstance(value, str):  # free text (not the short enum-like words a parser matches: "down", "major")
        return f"{value} {HOSTILE_TEXT}" if len(value) > 8 or " " in value else value
    if isinstance(value, dict):  # a Prometheus series' labels are all free text
        return {
            k: (
                {lk: f"{lv} {HOSTILE_TEXT}" for lk, lv in v.items() if isinstance(lv, str)}
                if k == "metric" and isinstance(v, dict)
                else _hostile(v)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_hostile(v) for v in value]
    return value


class FaultProxy:
    """``FaultProxy(upstream, mode)``; ``url`` is where to point a source."""

    MODES = MODES

    def __init__(self, upstream: str, mode: str = "pass", *, verify: Any = True, lifetime: float = 60.0, trickle: float = 0.5) -> None:
        assert mode in MODES, mode
        self.upstream = upstream.rstrip("/")
        self.mode = mode
        self.verify = verify
        self.lifetime = lifetime
        self.trickle = trickle
        self.requests = 0
        self.sent_bytes = 0  # body bytes written by huge/slow (how much a client read before it gave up)
        self._loop = asyncio.new_event_loop()
        self._closed: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"faultproxy-{mode}", daemon=True)
        self._thread.start()
        assert self._ready.wait(10), "the fault proxy did not start"
        self.url = f"http://127.0.0.1:{self.port}"

    # -- life ---------------------------------------------------------------

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())
        self._loop.close()

    async def _serve(self) -> None:
        self._closed = asyncio.Event()
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        with contextlib.suppress(TimeoutError):  # the lifetime bound: the proxy closes itself
            await asyncio.wait_for(self._closed.wait(), self.lifetime)
        server.close()
        handlers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        if handlers:  # the hanging and stalled answers end now that the proxy is closed
            _, pending = await asyncio.wait(handlers, timeout=2.0)
            for task in pending:  # a trickle still going: cut it, and let it close its socket before the loop closes
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=2.0)
        await server.wait_closed()

    def close(self) -> None:
        if self._closed is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._closed.set)
        self._thread.join(10)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one request ----------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):  # the client went away: nothing to answer
                while (request := await self._read_request(reader)) is not None:
                    self.requests += 1
                    if not await self._answer(request, writer):
                        break
        finally:
            writer.close()

    async def _read_request(self, reader: asyncio.StreamReader) -> tuple[str, str, dict[str, str], bytes] | None:
        line = await reader.readline()
        if not line:
            return None
        method, target, _ = line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while True:
            h = await reader.readline()
            if h in (b"\r\n", b"\n", b""):
                break
            name, _, value = h.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
        return method, target, headers, body

    async def _forward(self, method: str, target: str, headers: dict[str, str], body: bytes) -> httpx.Response:
        keep = {k: v for k, v in headers.items() if k not in ("host", "connection", "content-length", "accept-encoding")}
        async with httpx.AsyncClient(verify=self.verify, timeout=10.0) as client:
            return await client.request(method, self.upstream + target, headers=keep, content=body)

    @staticmethod
    def _head(status: int, reason: str, headers: dict[str, str]) -> bytes:
        lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def _send(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        body: bytes,
        ctype: str = "application/json",
        extra: dict[str, str] | None = None,
        reason: str = "X",
    ) -> bool:
        writer.write(self._head(status, reason, {"Content-Type": ctype, "Content-Length": str(len(body)), **(extra or {})}) + body)
        await writer.drain()
        return True

    async def _wait_closed(self) -> None:
        assert self._closed is not None
        await self._closed.wait()

    async def _answer(self, request: tuple[str, str, dict[str, str], bytes], writer: asyncio.StreamWriter) -> bool:
        method, target, headers, body = request
        mode = self.mode
        if mode == "hang":
            await self._wait_closed()
            return False
        if mode in ("401", "403", "429", "500"):
            extra = {"Retry-After": "7"} if mode == "429" else {}
            return await self._send(
                writer, int(mode), json.dumps({"error": f"fault proxy: {mode}", "message": f"status {mode}"}).encode(), extra=extra
            )
        if mode == "html":
            page = b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1>nginx</body></html>"
            return await self._send(writer, 200, page, "text/html")
        if mode == "invalid_utf8":
            return await self._send(writer, 200, b'{"status": "\xff\xfe\xfa broken", "\xc3\x28": 1}')
        if mode == "wrong_shape":
            return await self._send(writer, 200, json.dumps({"data": [1, 2, 3], "items": "none", "status": 7}).encode())
        if mode == "huge":
            writer.write(self._head(200, "OK", {"Content-Type": "application/json", "Content-Length": str(HUGE)}))
            chunk = b'{"pad": "' + b"x" * (64 * 1024 - 10) + b'",'
            sent = 0
            while sent < HUGE:
                piece = chunk[: HUGE - sent]
                writer.write(piece)
                await writer.drain()
                sent += len(piece)
                self.sent_bytes += len(piece)
            return True
        if mode == "stalled":
            writer.write(self._head(200, "OK", {"Content-Type": "application/json", "Content-Length": "1000"}) + b'{"status": ')
            await writer.drain()
            await self._wait_closed()
            return False
        resp = await self._forward(method, target, headers, body)
        content = resp.content
        out_headers = {"Content-Type": resp.headers.get("content-type", "application/json")}
        if mode == "hostile":
            try:
                content = json.dumps(_hostile(json.loads(content))).encode()
            except ValueError:
                content = content + HOSTILE_TEXT.encode()
        if mode == "truncated":
            writer.write(
                self._head(resp.status_code, "X", {**out_headers, "Content-Length": str(len(content))}) + content[: len(content) // 2]
            )
            await writer.drain()
            return False
        if mode == "slow":
            writer.write(self._head(resp.status_code, "X", {**out_headers, "Content-Length": str(len(content))}))
            for i in range(len(content)):
                writer.write(content[i : i + 1])
                await writer.drain()
                self.sent_bytes += 1
                await asyncio.sleep(self.trickle)
            return True
        return await self._send(writer, resp.status_code, content, out_headers["Content-Type"])


def wait_until(cond: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return False
