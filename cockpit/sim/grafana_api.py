"""Grafana's HTTP API for the drill, on aiohttp (issue 16): what the cockpit
calls through ``grafana-client``.

``POST /api/annotations`` (dashboardUID, panelId, time, timeEnd, tags, text →
``{"id": N, "message": "Annotation added"}``), ``GET /api/annotations``
(filters ``tags``, ``dashboardUID``, ``from``/``to`` in ms, ``limit``),
``GET /api/dashboards/uid/{uid}`` (404 ``{"message": "Dashboard not found"}``
for an unknown one), ``GET /api/org`` (the token's organisation: what
``check`` reads to prove the token), ``GET /api/health`` (no auth, as
Grafana). Every other
call needs ``Authorization: Bearer <token>``, else 401
``{"message": "Unauthorized"}``. Plain HTTP, like most Grafanas behind a proxy.

Controls: ``GET /_sim/grafana`` (the annotations received, for tests),
``POST /_sim/grafana/revoke_token`` and ``/_sim/grafana/restore``.
"""

from __future__ import annotations

import re
import secrets
from collections import deque
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from clay_cockpit.sim import wiring

MAX_ANNOTATIONS = 1000


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


class GrafanaState:
    def __init__(self, token: str, now: Callable[[], float]) -> None:
        self.token = token
        self.good_token = token
        self.now = now
        self.dashboards = {uid: title for uid, title in wiring.GRAFANA_DASHBOARDS}
        self.annotations: deque[dict[str, Any]] = deque(maxlen=MAX_ANNOTATIONS)
        self._seq = 0

    def snapshot(self) -> dict[str, Any]:
        return {"token": "revoked" if self.token != self.good_token else "ok", "annotations": list(self.annotations)}


def _unauthorized() -> web.Response:
    return web.json_response({"message": "Unauthorized"}, status=401)


def grafana_app(state: GrafanaState) -> web.Application:
    @web.middleware
    async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == "/api/health":
            return await handler(request)
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if not token or not secrets.compare_digest(token, state.token):
            return _unauthorized()
        return await handler(request)

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"commit": "drill", "database": "ok", "version": "11.3.0"})

    async def org(request: web.Request) -> web.Response:
        return web.json_response({"id": 1, "name": wiring.GRAFANA_ORG_NAME, "address": {}})

    async def dashboard(request: web.Request) -> web.Response:
        uid = request.match_info["uid"]
        title = state.dashboards.get(uid)
        if title is None:
            return web.json_response({"message": "Dashboard not found"}, status=404)
        return web.json_response(
            {
                "dashboard": {
                    "id": list(state.dashboards).index(uid) + 1,
                    "uid": uid,
                    "title": title,
                    "tags": ["clay"],
                    "version": 3,
                    "panels": [],
                },
                "meta": {"type": "db", "slug": slug(title), "url": f"/d/{uid}/{slug(title)}", "folderTitle": "General", "canEdit": True},
            }
        )

    async def add(request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return web.json_response({"message": "bad request data"}, status=400)
        text = body.get("text")
        if not isinstance(text, str) or not text:
            return web.json_response({"message": "Failed to save annotation: text is required"}, status=400)
        uid = body.get("dashboardUID")
        if uid is not None and uid not in state.dashboards:
            return web.json_response({"message": "Dashboard not found"}, status=404)
        now_ms = int(state.now() * 1000)
        at = body.get("time") if isinstance(body.get("time"), int) and body.get("time") else now_ms
        end = body.get("timeEnd") if isinstance(body.get("timeEnd"), int) and body.get("timeEnd") else at
        tags = [str(t) for t in body.get("tags") or [] if isinstance(t, (str, int))]
        state._seq += 1
        state.annotations.append(
            {
                "id": state._seq,
                "dashboardUID": uid,
                "panelId": body.get("panelId") or 0,
                "time": at,
                "timeEnd": end,
                "tags": tags,
                "text": text,
                "created": now_ms,
            }
        )
        return web.json_response({"id": state._seq, "message": "Annotation added"})

    async def find(request: web.Request) -> web.Response:
        q = request.query
        tags = set(q.getall("tags", []))
        uid = q.get("dashboardUID")
        try:
            start = int(q["from"]) if "from" in q else None
            end = int(q["to"]) if "to" in q else None
            limit = int(q.get("limit", "100"))
        except ValueError:
            return web.json_response({"message": "bad request data"}, status=400)
        out = [
            a
            for a in reversed(state.annotations)
            if tags <= set(a["tags"])
            and (uid is None or a["dashboardUID"] == uid)
            and (start is None or a["timeEnd"] >= start)
            and (end is None or a["time"] <= end)
        ]
        return web.json_response(out[: max(1, limit)])

    app = web.Application(middlewares=[auth])
    app.router.add_get("/api/health", health)
    app.router.add_get("/api/org", org)
    app.router.add_get("/api/dashboards/uid/{uid}", dashboard)
    app.router.add_post("/api/annotations", add)
    app.router.add_get("/api/annotations", find)
    return app


def add_controls(app: web.Application, state: GrafanaState) -> None:
    async def get_state(request: web.Request) -> web.Response:
        return web.json_response(state.snapshot())

    async def revoke(request: web.Request) -> web.Response:
        state.token = "revoked-" + secrets.token_hex(8)
        return web.json_response({"ok": True})

    async def restore(request: web.Request) -> web.Response:
        state.token = state.good_token
        return web.json_response({"ok": True})

    app.router.add_get("/_sim/grafana", get_state)
    app.router.add_post("/_sim/grafana/revoke_token", revoke)
    app.router.add_post("/_sim/grafana/restore", restore)
