"""Drill control: the request log and fault injection (aiohttp middlewares on
every service app) and the ``/_sim/*`` control API (docs/drill-contract.md).
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import struct
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from clay_cockpit.sim.clock import ClockError
from clay_cockpit.sim.kube.rbac import parse_denial

if TYPE_CHECKING:
    from clay_cockpit.sim.server import Drill

MAX_REQUESTS = 1000
MUTATING = ("POST", "PUT", "PATCH", "DELETE")
FAULT_STATUSES = (401, 403, 429, 500, 503)
REASONS = {401: "Unauthorized", 403: "Forbidden", 429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}
KUBE_REASONS = {401: "Unauthorized", 403: "Forbidden", 429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable"}
SLACK_ERRORS = {401: "invalid_auth", 403: "not_allowed_token_type", 429: "ratelimited", 500: "internal_error", 503: "service_unavailable"}
MALFORMED = {
    "kube": '{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"1',
    "slack": '{"ok":tr',
    "prometheus": '{"status":"success","data":{"resultType":"vec',
    "prometheus_backup": '{"status":"success","data":{"resultType":"vec',
    "metrics": '# HELP clay_api_requests_total Calls\nclay_api_requests_total{code="200" 12\n',
    "statuspage": '{"page":{"id":"',
    "rootly": '{"page":{"name":"',
    "health": '{"status":"o',
    "clay": '{"user":{"id":',
    "statusapi": '[{"id":"',
}
RETRY_AFTER = "5"


ECHO_FORMS = ("header", "bare", "repr", "base64", "json", "query")


@dataclass
class Fault:
    status: int | None = None
    delay: float = 0.0
    malformed: bool = False
    times: int | None = None
    echo_auth: tuple[str, ...] = ()  # the forms in which the error body echoes the request's credentials (ECHO_FORMS)
    echo_pad: int = 0  # filler characters before the echo, so it lands where a client cuts a long message
    huge: int = 0  # answer with a body of this many bytes (chunked, no Content-Length), to test the clients' size caps
    after_commit: str = ""  # the request is handled (the change is made), then its answer is broken this way (AFTER_COMMIT)


AFTER_COMMIT = ("truncated", "not_utf8", "reset", "502")
_GATEWAY_502 = "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>\n"


async def break_answer(request: web.Request, response: web.StreamResponse, how: str) -> web.StreamResponse:
    """The answer to a request that was handled, broken on its way back:
    cut in half, with bytes that are not UTF-8, the connection reset (RST),
    or a gateway's 502 page."""
    body = response.body if isinstance(response, web.Response) and isinstance(response.body, bytes) else b""
    if how == "502":
        return web.Response(text=_GATEWAY_502, status=502, content_type="text/html")
    if how == "reset":
        sock = request.transport.get_extra_info("socket") if request.transport is not None else None
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close → RST, not FIN
        if request.transport is not None:
            request.transport.abort()
        raise asyncio.CancelledError  # nothing more is written on this connection
    if how == "not_utf8":
        cut = max(1, len(body) // 2)
        broken = body[:cut] + b"\xff\xfe\xc3(" + body[cut:]
    else:
        broken = body[: max(1, len(body) // 2)]
    return web.Response(body=broken, status=response.status, content_type=response.content_type or "application/json")


MAX_HUGE = 256 * 1024 * 1024


_CREDENTIAL_WORDS = ("authorization", "token", "key", "secret", "password", "cookie")


def echoed_credentials(request: web.Request, forms: tuple[str, ...], pad: int = 0) -> str:
    """What a misconfigured gateway puts in its error page: the request's
    credential-bearing headers and query parameters, in each of ``forms``
    (``header``: ``Authorization: Bearer x``; ``bare``: ``x``; ``repr``: ``b'x\\n'`` as
    an exception quoting bytes shows it; ``base64``: of ``x``, as a Secret's
    data; ``json``: the headers as a JSON object; ``query``: ``x`` in a URL's
    query string). Empty when the request carried none."""
    found = [(k, v) for k, v in request.headers.items() if any(w in k.lower() for w in _CREDENTIAL_WORDS)]
    found += [(k, v) for k, v in request.query.items() if any(w in k.lower() for w in _CREDENTIAL_WORDS)]
    if not found or not forms:
        return ""
    parts: list[str] = []
    for name, value in found:
        bare = value.split(None, 1)[-1] if " " in value.strip() else value
        for form in forms:
            if form == "header":
                parts.append(f"{name}: {value}")
            elif form == "bare":
                parts.append(f"credential {bare} rejected")
            elif form == "repr":
                parts.append(f"Invalid header value {(bare + chr(10)).encode()!r}")
            elif form == "base64":
                parts.append(f"data {base64.b64encode(bare.encode()).decode()}")
            elif form == "json":
                parts.append(json.dumps({"request": {"headers": {name: value}}}))
            elif form == "query":
                parts.append(f"upstream https://gateway.example/v1?{urlencode({'access_token': bare})}")
    return " " + "x" * pad + " upstream saw: " + "; ".join(parts)


@dataclass(frozen=True)
class RequestRecord:
    service: str
    method: str
    path: str
    query: str
    at: float
    mutating: bool
    user_agent: str = ""  # as sent (clay-cockpit/<version> for the cockpit)
    field_manager: str = ""  # the fieldManager query parameter of a write ("" if none)
    client_cert: str = ""  # the serial (hex) of the client certificate the connection presented ("" if none)


def is_mutating(method: str, path: str) -> bool:
    """POST/PUT/PATCH/DELETE, except creating a SelfSubjectAccessReview (a read)."""
    if method not in MUTATING:
        return False
    return not (method == "POST" and path.rstrip("/").endswith("/selfsubjectaccessreviews"))


_SECRET_PARAMS = ("token", "key", "secret", "password")


def redact_query(query: str) -> str:
    """The query string with secret-looking parameters (Slack's ``token=``…) masked."""
    if not query or not any(w in query.lower() for w in _SECRET_PARAMS):
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, "***" if any(w in k.lower() for w in _SECRET_PARAMS) else v) for k, v in pairs])


def _client_cert(request: web.Request) -> str:
    peer = request.transport.get_extra_info("peercert") if request.transport is not None else None
    return str((peer or {}).get("serialNumber", ""))


class RequestLog:
    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.items: deque[RequestRecord] = deque(maxlen=MAX_REQUESTS)

    def add(self, service: str, request: web.Request) -> None:
        self.items.append(
            RequestRecord(
                service,
                request.method,
                request.path,
                redact_query(request.query_string),
                round(self.clock(), 3),
                is_mutating(request.method, request.path),
                request.headers.get("User-Agent", ""),
                request.query.get("fieldManager", ""),
                _client_cert(request),
            )
        )

    def select(self, service: str | None) -> list[dict[str, Any]]:
        return [asdict(r) for r in self.items if service is None or r.service == service]


def error_response(service: str, status: int, kube_status_body: Callable[[int, str, str], dict[str, Any]], echo: str = "") -> web.Response:
    """``status`` with the service's normal error body; ``echo`` (see
    :func:`echoed_credentials`) goes where that body carries its message."""
    headers = {"Retry-After": RETRY_AFTER} if status == 429 else {}
    reason = REASONS.get(status, "Error")
    if service == "kube":
        body = kube_status_body(status, KUBE_REASONS.get(status, "InternalError"), f"the drill injected a {status} fault{echo}")
        return web.json_response(body, status=status, headers=headers)
    if service == "slack":
        body = {"ok": False, "error": SLACK_ERRORS.get(status, "fatal_error")}
        if echo:
            body["response_metadata"] = {"messages": [f"[ERROR]{echo}"]}
        return web.json_response(body, status=status, headers=headers)
    if service in ("prometheus", "prometheus_backup"):
        if status >= 500:
            kind = "unavailable" if status == 503 else "internal"
            return web.json_response(
                {"status": "error", "errorType": kind, "error": f"the drill injected a {status} fault{echo}"}, status=status
            )
        return web.Response(text=f"{reason}{echo}\n", status=status, headers=headers)
    if service == "metrics":
        return web.Response(text=f"{reason}{echo}\n", status=status, headers=headers)
    return web.json_response({"error": reason + echo}, status=status, headers=headers)


def service_middlewares(service: str, drill: Drill) -> list[Middleware]:
    """The request log (outermost) and fault injection for one service app."""

    @web.middleware
    async def log_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
        drill.requests.add(service, request)
        return await handler(request)

    @web.middleware
    async def inject_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
        fault = drill.faults.get(service)
        if fault is None:
            return await handler(request)
        if fault.times is not None:
            fault.times -= 1
            if fault.times <= 0:
                drill.faults.pop(service, None)
        if fault.after_commit:  # the request is handled first: the change is made, only its answer is lost
            response = await handler(request)
            if fault.delay > 0:
                await asyncio.sleep(fault.delay)
            return await break_answer(request, response, fault.after_commit)
        if fault.delay > 0:
            await asyncio.sleep(fault.delay)
        echo = echoed_credentials(request, fault.echo_auth, fault.echo_pad)
        if fault.huge:
            return await huge_response(request, fault.status or 200, fault.huge, drill, service)
        if fault.status is not None:
            return error_response(service, fault.status, drill.world.kube.status_body, echo)
        if fault.malformed:
            return web.Response(
                text=MALFORMED.get(service, '{"') + echo,
                status=200,
                content_type="application/json" if service != "metrics" else "text/plain",
            )
        return await handler(request)

    return [log_requests, inject_faults]


async def huge_response(request: web.Request, status: int, size: int, drill: Drill, service: str) -> web.StreamResponse:
    """``size`` bytes of body, streamed in 64 KiB chunks without a
    Content-Length; what the client took before it hung up is counted in
    ``drill.huge_sent[service]`` (bytes handed to the socket: the client's
    reads plus what the kernel's buffers hold)."""
    resp = web.StreamResponse(status=status, headers={"Content-Type": "application/json"})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    block = b"x" * 65536
    sent = 0
    try:
        while sent < size:
            # a closed connection ends the answer: aiohttp's write does not
            # always yield (nor fail) once the peer has gone — over TLS the
            # bytes would be "sent" into a dead connection and counted
            await asyncio.sleep(0)
            transport = request.transport
            if transport is None or transport.is_closing():
                break
            part = block[: size - sent]
            await resp.write(part)
            sent += len(part)
            drill.huge_sent[service] = drill.huge_sent.get(service, 0) + len(part)
        await resp.write_eof()
    except ConnectionError:  # the client stopped reading and closed: what it was about
        pass
    return resp


def parse_fault(body: Any) -> Fault:
    if not isinstance(body, dict):
        raise ValueError('expected a JSON object like {"status": 503}')
    unknown = set(body) - {"status", "delay", "malformed", "times", "echo_auth", "echo_pad", "after_commit", "huge"}
    if unknown:
        raise ValueError(f"unknown keys: {', '.join(sorted(unknown))}")
    status = body.get("status")
    if status is not None and status not in FAULT_STATUSES:
        raise ValueError(f"status must be one of {', '.join(map(str, FAULT_STATUSES))}")
    delay = body.get("delay", 0) or 0
    if not isinstance(delay, (int, float)) or isinstance(delay, bool) or not 0 <= delay <= 600:
        raise ValueError("delay must be a number of seconds between 0 and 600")
    malformed = body.get("malformed", False)
    if not isinstance(malformed, bool):
        raise ValueError("malformed must be true or false")
    times = body.get("times")
    if times is not None and (not isinstance(times, int) or isinstance(times, bool) or times < 1):
        raise ValueError("times must be a positive integer or null")
    echo = body.get("echo_auth", False)
    if echo is True:
        echo = list(ECHO_FORMS)
    elif echo is False or echo is None:
        echo = []
    if not isinstance(echo, list) or not all(isinstance(f, str) and f in ECHO_FORMS for f in echo):
        raise ValueError(f"echo_auth must be true, false or a list of forms ({', '.join(ECHO_FORMS)})")
    pad = body.get("echo_pad", 0)
    if not isinstance(pad, int) or isinstance(pad, bool) or not 0 <= pad <= 4096:
        raise ValueError("echo_pad must be a number of characters between 0 and 4096")
    after = body.get("after_commit", False)
    if after is True:
        after = "truncated"
    elif after is False or after is None:
        after = ""
    if after and after not in AFTER_COMMIT:
        raise ValueError(f"after_commit must be true or one of {', '.join(AFTER_COMMIT)}")
    if after and (status is not None or malformed or echo):
        raise ValueError("after_commit breaks the real answer: it does not go with status, malformed or echo_auth")
    huge = body.get("huge", 0) or 0
    if not isinstance(huge, int) or isinstance(huge, bool) or not 0 <= huge <= MAX_HUGE:
        raise ValueError(f"huge must be a number of bytes between 0 and {MAX_HUGE}")
    if huge and (malformed or echo or after):
        raise ValueError("huge is the whole body: not with malformed, echo_auth or after_commit")
    if status is None and not delay and not malformed and not after and not huge:
        raise ValueError("give at least one of status, delay, malformed, after_commit, huge")
    if echo and status is None and not malformed:
        raise ValueError("echo_auth needs a status or malformed: it goes into that body")
    return Fault(
        status=status,
        delay=float(delay),
        malformed=malformed,
        times=times,
        echo_auth=tuple(echo),
        echo_pad=pad,
        after_commit=after,
        huge=huge,
    )


def _bad(message: str, status: int = 400) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _json(request: web.Request) -> Any:
    if not request.can_read_body:
        return {}
    try:
        return await request.json()
    except (ValueError, json.JSONDecodeError):
        return None


def control_app(drill: Drill) -> web.Application:
    world = drill.world

    def service_name(request: web.Request) -> str:
        name = request.match_info["name"]
        if name not in drill.services or name == "control":
            raise web.HTTPNotFound(text=json.dumps({"error": f"unknown service {name!r}"}), content_type="application/json")
        return name

    async def state(request: web.Request) -> web.Response:
        return web.json_response(drill.state())

    async def stop(request: web.Request) -> web.Response:
        name = service_name(request)
        await drill.stop_service(name)
        return web.json_response({"service": name, "state": "down"})

    async def start(request: web.Request) -> web.Response:
        name = service_name(request)
        try:
            await drill.start_service(name)
        except OSError as err:
            return _bad(f"could not reopen {name}: {err.strerror or err}", 409)
        return web.json_response({"service": name, "state": "up"})

    async def set_fault(request: web.Request) -> web.Response:
        name = service_name(request)
        try:
            fault = parse_fault(await _json(request))
        except ValueError as err:
            return _bad(str(err))
        drill.faults[name] = fault
        return web.json_response({"service": name, "fault": asdict(fault)})

    async def clear_fault(request: web.Request) -> web.Response:
        name = service_name(request)
        drill.faults.pop(name, None)
        return web.json_response({"service": name, "fault": None})

    async def requests(request: web.Request) -> web.Response:
        service = request.query.get("service") or None
        return web.json_response(drill.requests.select(service))

    async def clock(request: web.Request) -> web.Response:
        body = await _json(request)
        if not isinstance(body, dict) or not ({"advance", "freeze"} & set(body)):
            return _bad('expected {"advance": seconds} or {"freeze": true|false}')
        try:
            if "freeze" in body:
                if not isinstance(body["freeze"], bool):
                    return _bad("freeze must be true or false")
                world.clock.freeze(body["freeze"])
            if "advance" in body:
                seconds = body["advance"]
                if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
                    return _bad("advance must be a number of seconds")
                if not world.clock.frozen:
                    raise ClockError("the clock is running; freeze it before advancing it")
                if not 0 <= seconds <= 86400:
                    return _bad("advance must be between 0 and 86400 seconds")
                world.advance(float(seconds))
        except ClockError as err:
            return _bad(str(err), 409)
        world.tick()
        await drill.follow_schedule()
        return web.json_response(drill.state())

    async def deny(request: web.Request) -> web.Response:
        try:
            denial = parse_denial(await _json(request))
        except ValueError as err:
            return _bad(str(err))
        world.kube.rbac.deny(denial)
        return web.json_response({"denied": denial.to_dict()})

    async def allow(request: web.Request) -> web.Response:
        try:
            denial = parse_denial(await _json(request))
        except ValueError as err:
            return _bad(str(err))
        if not world.kube.rbac.allow(denial):
            return _bad(f"not denied: {json.dumps(denial.to_dict())}", 404)
        return web.json_response({"allowed": denial.to_dict()})

    def kube_call(method: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(request: web.Request) -> web.Response:
            getattr(world.kube, method)()
            return web.json_response({"ok": True, "done": method})

        return handler

    app = web.Application()
    app.router.add_get("/_sim/state", state)
    app.router.add_post("/_sim/services/{name}/stop", stop)
    app.router.add_post("/_sim/services/{name}/start", start)
    app.router.add_post("/_sim/services/{name}/fault", set_fault)
    app.router.add_delete("/_sim/services/{name}/fault", clear_fault)
    app.router.add_get("/_sim/requests", requests)
    app.router.add_post("/_sim/clock", clock)
    app.router.add_post("/_sim/kube/deny", deny)
    app.router.add_post("/_sim/kube/allow", allow)
    for name in ("allow_all", "expire_token", "renew_token", "stall_logs", "unstall_logs"):
        app.router.add_post(f"/_sim/kube/{name}", kube_call(name))

    # -- Slack controls (issue 11, checksvc): revoke the bot token, remove the bot from a channel
    async def slack_revoke(request: web.Request) -> web.Response:
        drill.slack.token = "xoxb-revoked-" + drill.slack.token[-6:] + "-x"  # the old token now gets invalid_auth
        return web.json_response({"ok": True})

    async def slack_restore(request: web.Request) -> web.Response:
        drill.slack.token = drill.tokens.slack
        drill.slack.left.clear()
        return web.json_response({"ok": True})

    async def slack_kick(request: web.Request) -> web.Response:
        body = await _json(request)
        channel = drill.slack.find(str((body or {}).get("channel", ""))) if isinstance(body, dict) else None
        if channel is None:
            return _bad('expected {"channel": "<id or #name of a drill channel>"}')
        drill.slack.left.add(channel.id)
        return web.json_response({"ok": True, "channel": channel.id})

    # -- Prometheus control (issue 11, checksvc): hide a metric, so a query on it has no data
    async def prometheus_hide(request: web.Request) -> web.Response:
        from clay_cockpit.sim.services import METRIC_NAMES

        body = await _json(request)
        metric = str(body.get("metric", "")) if isinstance(body, dict) else ""
        if metric not in METRIC_NAMES:
            return _bad(f'expected {{"metric": one of {", ".join(METRIC_NAMES)}}}')
        world.history.hidden.add(metric)
        return web.json_response({"ok": True, "hidden": sorted(world.history.hidden)})

    async def prometheus_quiet(request: web.Request) -> web.Response:
        from clay_cockpit.config import DEFAULT_QUERIES

        body = await _json(request)
        query = str(body.get("query", "")) if isinstance(body, dict) else ""
        if query not in DEFAULT_QUERIES:
            return _bad(f'expected {{"query": one of {", ".join(DEFAULT_QUERIES)}}}')
        world.history.quiet.add(query)
        return web.json_response({"ok": True, "quiet": sorted(world.history.quiet)})

    async def prometheus_unhide(request: web.Request) -> web.Response:
        world.history.hidden.clear()
        world.history.quiet.clear()
        return web.json_response({"ok": True, "hidden": []})

    app.router.add_post("/_sim/prometheus/hide", prometheus_hide)
    app.router.add_post("/_sim/prometheus/quiet", prometheus_quiet)
    app.router.add_post("/_sim/prometheus/unhide", prometheus_unhide)

    # -- status page management API controls (issue 11, checksvc): a wrong key, a deleted component
    async def statusapi_revoke(request: web.Request) -> web.Response:
        drill.statusapi.key = "revoked-" + drill.statusapi.key[-4:] + "-x"  # the drill's key now gets 401
        return web.json_response({"ok": True})

    async def statusapi_delete_component(request: web.Request) -> web.Response:
        body = await _json(request)
        cid = str(body.get("id", "")) if isinstance(body, dict) else ""
        if cid not in drill.statusapi.components:
            return _bad(f'expected {{"id": one of {", ".join(drill.statusapi.components)}}}')
        drill.statusapi.components.pop(cid)
        return web.json_response({"ok": True, "components": list(drill.statusapi.components)})

    app.router.add_post("/_sim/statusapi/revoke_key", statusapi_revoke)
    app.router.add_post("/_sim/statusapi/delete_component", statusapi_delete_component)

    app.router.add_post("/_sim/slack/revoke_token", slack_revoke)
    app.router.add_post("/_sim/slack/restore", slack_restore)
    app.router.add_post("/_sim/slack/kick", slack_kick)

    async def login(request: web.Request) -> web.Response:
        return web.json_response(drill.login())

    app.router.add_post("/_sim/kube/login", login)

    # -- PagerDuty and Grafana controls (issue 16): revoke a token, slow PagerDuty down, read what they received
    from clay_cockpit.sim import grafana_api, pagerduty_api

    pagerduty_api.add_controls(app, drill.pagerduty)
    grafana_api.add_controls(app, drill.grafana)
    return app
