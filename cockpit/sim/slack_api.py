"""The Slack Web API methods the cockpit calls, on aiohttp.

``auth.test``, ``chat.postMessage``, ``chat.update``, ``conversations.info``,
``conversations.replies``, ``conversations.list`` (cursor-paginated, as
``clay-cockpit check`` resolves the channel by name) (and
``conversations.history``). Messages keep their ``metadata``, returned by
history and replies with ``include_all_metadata``, as Slack does. Like
Slack: HTTP 200 with ``{"ok": false, "error": ...}`` for a missing token
(``not_authed``), a wrong one (``invalid_auth``), an unknown channel
(``channel_not_found``); arguments as form fields, JSON or query string.
Error strings are the real ones (shared/fixtures/real/slack-error-*.json);
the success shapes follow Slack's documented responses, trimmed.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TEAM_ID, TEAM = "T0CLAYDRL", "Clay Drill"
BOT_USER, BOT_ID, APP_ID = "U0COCKPIT", "B0COCKPIT", "A0COCKPIT"
MAX_MESSAGES = 500  # per channel

Method = Callable[[web.Request, dict[str, Any]], Awaitable[web.Response]]  # a Slack method, given its arguments


@dataclass
class Channel:
    id: str
    name: str
    created: int
    purpose: str
    messages: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=MAX_MESSAGES))


class SlackState:
    def __init__(self, token: str, now: Callable[[], float], channels: tuple[tuple[str, str, str], ...]) -> None:
        self.token = token
        self.now = now
        created = int(now()) - 86400 * 200
        self.channels = {cid: Channel(cid, name, created, purpose) for cid, name, purpose in channels}
        self.left: set[str] = set()  # channels the bot was removed from (the /_sim/slack/kick control)
        self._seq = 0

    def find(self, ref: str) -> Channel | None:
        ref = ref.strip()
        if ref in self.channels:
            return self.channels[ref]
        name = ref.lstrip("#")
        return next((c for c in self.channels.values() if c.name == name), None)

    def next_ts(self) -> str:
        self._seq += 1
        return f"{int(self.now())}.{self._seq:06d}"

    def message_count(self) -> int:
        return sum(len(c.messages) for c in self.channels.values())


def _fail(error: str, status: int = 200, **extra: Any) -> web.Response:
    return web.json_response({"ok": False, "error": error, **extra}, status=status)


async def _args(request: web.Request) -> dict[str, Any] | None:
    """The method's arguments; None when a JSON body does not parse."""
    args: dict[str, Any] = dict(request.query)
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                return None
            if isinstance(body, dict):
                args.update(body)
        else:
            args.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
    return args


def _token(request: web.Request, args: dict[str, Any]) -> str:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return str(args.get("token", "")).strip()


def _message(state: SlackState, args: dict[str, Any], ts: str) -> dict[str, Any]:
    msg: dict[str, Any] = {
        "bot_id": BOT_ID,
        "type": "message",
        "text": str(args.get("text", "")),
        "user": BOT_USER,
        "ts": ts,
        "app_id": APP_ID,
        "team": TEAM_ID,
    }
    blocks = args.get("blocks")
    if isinstance(blocks, str):
        try:
            blocks = json.loads(blocks)
        except ValueError:
            blocks = None
    if isinstance(blocks, list):
        msg["blocks"] = blocks
    thread = args.get("thread_ts")
    if thread:
        msg["thread_ts"] = str(thread)
    meta = args.get("metadata")
    if isinstance(meta, str):
        try:
            meta = json.loads(meta)
        except ValueError:
            meta = None
    if isinstance(meta, dict) and isinstance(meta.get("event_type"), str) and isinstance(meta.get("event_payload"), dict):
        msg["metadata"] = {"event_type": meta["event_type"], "event_payload": meta["event_payload"]}
    return msg


def slack_app(state: SlackState) -> web.Application:
    def authed(handler: Method) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def wrapped(request: web.Request) -> web.Response:
            args = await _args(request)
            if args is None:
                return _fail("invalid_json")
            token = _token(request, args)
            if not token:
                return _fail("not_authed")
            if token != state.token:
                return _fail("invalid_auth")
            return await handler(request, args)

        return wrapped

    def channel_of(args: dict[str, Any]) -> Channel | None:
        return state.find(str(args.get("channel", "")))

    @authed
    async def auth_test(request: web.Request, args: dict[str, Any]) -> web.Response:
        return web.json_response(
            {
                "ok": True,
                "url": "https://clay-drill.slack.com/",
                "team": TEAM,
                "user": "clay-cockpit",
                "team_id": TEAM_ID,
                "user_id": BOT_USER,
                "bot_id": BOT_ID,
                "is_enterprise_install": False,
            }
        )

    @authed
    async def post_message(request: web.Request, args: dict[str, Any]) -> web.Response:
        channel = channel_of(args)
        if channel is None:
            return _fail("channel_not_found")
        if not args.get("text") and not args.get("blocks") and not args.get("attachments"):
            return _fail("no_text")
        thread = args.get("thread_ts")
        if thread and not any(m["ts"] == str(thread) for m in channel.messages):
            return _fail("thread_not_found")
        ts = state.next_ts()
        msg = _message(state, args, ts)
        channel.messages.append(msg)
        return web.json_response({"ok": True, "channel": channel.id, "ts": ts, "message": msg})

    @authed
    async def update(request: web.Request, args: dict[str, Any]) -> web.Response:
        channel = channel_of(args)
        if channel is None:
            return _fail("channel_not_found")
        ts = str(args.get("ts", ""))
        msg = next((m for m in channel.messages if m["ts"] == ts), None)
        if msg is None:
            return _fail("message_not_found")
        if not args.get("text") and not args.get("blocks"):
            return _fail("no_text")
        new = _message(state, args, ts) | {"edited": {"user": BOT_USER, "ts": state.next_ts()}}
        if "thread_ts" in msg:
            new["thread_ts"] = msg["thread_ts"]
        if "metadata" in msg and "metadata" not in new:  # an edit without metadata keeps the message's
            new["metadata"] = msg["metadata"]
        msg.clear()
        msg.update(new)
        return web.json_response({"ok": True, "channel": channel.id, "ts": ts, "text": new["text"], "message": new})

    @authed
    async def info(request: web.Request, args: dict[str, Any]) -> web.Response:
        channel = channel_of(args)
        if channel is None:
            return _fail("channel_not_found")
        return web.json_response(
            {
                "ok": True,
                "channel": {
                    "id": channel.id,
                    "name": channel.name,
                    "is_channel": True,
                    "is_group": False,
                    "is_im": False,
                    "is_private": False,
                    "is_archived": False,
                    "is_general": False,
                    "is_member": channel.id not in state.left,
                    "created": channel.created,
                    "creator": "U0PLATFORM",
                    "name_normalized": channel.name,
                    "topic": {"value": "", "creator": "", "last_set": 0},
                    "purpose": {"value": channel.purpose, "creator": "U0PLATFORM", "last_set": channel.created},
                },
            }
        )

    @authed
    async def conversations_list(request: web.Request, args: dict[str, Any]) -> web.Response:
        # Slack pages by an opaque cursor; ours is the index of the next channel.
        try:
            limit = max(1, min(1000, int(args.get("limit", 100))))
            start = int(str(args.get("cursor") or "0").removeprefix("dGVhbTpD"))
        except ValueError:
            return _fail("invalid_cursor")
        chans = sorted(state.channels.values(), key=lambda c: c.id)
        page = chans[start : start + limit]
        more = start + limit < len(chans)
        return web.json_response(
            {
                "ok": True,
                "channels": [
                    {
                        "id": c.id,
                        "name": c.name,
                        "is_channel": True,
                        "is_private": False,
                        "is_archived": False,
                        "is_member": c.id not in state.left,
                        "created": c.created,
                        "name_normalized": c.name,
                    }
                    for c in page
                ],
                "response_metadata": {"next_cursor": f"dGVhbTpD{start + limit}" if more else ""},
            }
        )

    def _page(messages: list[dict[str, Any]], args: dict[str, Any]) -> web.Response:
        try:
            limit = max(1, min(1000, int(args.get("limit", 100))))
            oldest = float(args.get("oldest") or 0)
        except ValueError:
            return _fail("invalid_arguments")
        messages = [m for m in messages if float(m["ts"]) >= oldest]
        if str(args.get("include_all_metadata", "")).lower() not in ("1", "true"):  # like Slack: metadata only when asked
            messages = [{k: v for k, v in m.items() if k != "metadata"} for m in messages]
        return web.json_response(
            {
                "ok": True,
                "messages": messages[:limit],
                "has_more": len(messages) > limit,
                "response_metadata": {"next_cursor": ""},
            }
        )

    @authed
    async def replies(request: web.Request, args: dict[str, Any]) -> web.Response:
        channel = channel_of(args)
        if channel is None:
            return _fail("channel_not_found")
        ts = str(args.get("ts", ""))
        parent = next((m for m in channel.messages if m["ts"] == ts), None)
        if parent is None:
            return _fail("thread_not_found")
        thread = [m for m in channel.messages if m.get("thread_ts") == ts and m["ts"] != ts]
        return _page([parent, *thread], args)

    @authed
    async def history(request: web.Request, args: dict[str, Any]) -> web.Response:
        channel = channel_of(args)
        if channel is None:
            return _fail("channel_not_found")
        top = [m for m in reversed(channel.messages) if m.get("thread_ts", m["ts"]) == m["ts"]]
        return _page(top, args)

    app = web.Application()
    for method, handler in (
        ("auth.test", auth_test),
        ("chat.postMessage", post_message),
        ("chat.update", update),
        ("conversations.info", info),
        ("conversations.list", conversations_list),
        ("conversations.replies", replies),
        ("conversations.history", history),
    ):
        app.router.add_route("GET", f"/api/{method}", handler)
        app.router.add_route("POST", f"/api/{method}", handler)

    async def unknown(request: web.Request) -> web.Response:
        return _fail("unknown_method", status=404)

    app.router.add_route("*", "/api/{method}", unknown)
    return app
