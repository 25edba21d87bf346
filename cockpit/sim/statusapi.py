"""Our own status page's management API (Atlassian Statuspage REST API v1),
the one the cockpit posts external updates to.

``Authorization: OAuth <key>``; ``GET/POST /v1/pages/{page}/incidents``,
``GET /v1/pages/{page}/incidents/unresolved``,
``GET/PATCH/PUT /v1/pages/{page}/incidents/{id}``,
``GET /v1/pages/{page}/components``, ``GET/PATCH/PUT
/v1/pages/{page}/components/{id}``. Request bodies wrap the object
(``{"incident": {...}}``, ``{"component": {...}}``) and incident fields
(name, status, body, impact_override, component_ids, components {id: status},
metadata {key: {key: value}}, deliver_notifications) are Statuspage's documented ones. The error bodies
(``{"error": "..."}``) are a guess: Statuspage's exact wording is not public.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from clay_cockpit.sim.clay_status import iso_ms

INCIDENT_STATUSES = ("investigating", "identified", "monitoring", "resolved")
COMPONENT_STATUSES = ("operational", "under_maintenance", "degraded_performance", "partial_outage", "major_outage")
IMPACTS = ("none", "minor", "major", "critical")
MAX_INCIDENTS = 200
MAX_UPDATES = 100  # per incident
_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
_IMPACT_OF = {
    "operational": "none",
    "under_maintenance": "maintenance",
    "degraded_performance": "minor",
    "partial_outage": "major",
    "major_outage": "critical",
}


class StatusApiState:
    def __init__(self, key: str, now: Callable[[], float], seed: int | str, page_id: str, components: tuple[tuple[str, str], ...]) -> None:
        self.key = key
        self.now = now
        self.page_id = page_id
        self._rng = random.Random(f"{seed}:statusapi")
        created = iso_ms(int(now()) - 86400 * 400)
        self.components: dict[str, dict[str, Any]] = {
            cid: {
                "id": cid,
                "page_id": page_id,
                "group_id": None,
                "created_at": created,
                "updated_at": created,
                "group": False,
                "name": name,
                "description": None,
                "position": i + 1,
                "status": "operational",
                "showcase": True,
                "only_show_if_degraded": False,
                "automation_email": f"component+{cid}@notifications.statuspage.io",
                "start_date": None,
            }
            for i, (cid, name) in enumerate(components)
        }
        self.incidents: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def new_id(self) -> str:
        return "".join(self._rng.choice(_ALNUM) for _ in range(12))

    def _set_components(self, changes: dict[str, str], stamp: str) -> list[dict[str, Any]]:
        affected = []
        for cid, status in changes.items():
            comp = self.components[cid]
            affected.append({"code": cid, "name": comp["name"], "old_status": comp["status"], "new_status": status})
            comp["status"] = status
            comp["updated_at"] = stamp
        return affected

    def apply(self, incident: dict[str, Any] | None, fields: dict[str, Any]) -> dict[str, Any]:
        """Create (incident None) or update an incident from validated fields."""
        stamp = iso_ms(self.now())
        if incident is None:
            inc_id = self.new_id()
            incident = {
                "id": inc_id,
                "components": [],
                "created_at": stamp,
                "impact": "none",
                "impact_override": None,
                "incident_updates": [],
                "metadata": {},
                "monitoring_at": None,
                "name": fields["name"],
                "page_id": self.page_id,
                "postmortem_body": None,
                "postmortem_published_at": None,
                "resolved_at": None,
                "shortlink": "https://stspg.io/" + self.new_id()[:9],
                "started_at": stamp,
                "status": "investigating",
                "updated_at": stamp,
            }
            self.incidents[inc_id] = incident
            while len(self.incidents) > MAX_INCIDENTS:
                self.incidents.popitem(last=False)
        if "name" in fields:
            incident["name"] = fields["name"]
        if "metadata" in fields:
            incident["metadata"] = {**incident["metadata"], **fields["metadata"]}
        if "impact_override" in fields:
            incident["impact_override"] = fields["impact_override"]
        changes = dict(fields.get("components", {}))
        for cid in fields.get("component_ids", ()):
            changes.setdefault(cid, self.components[cid]["status"])
        affected = self._set_components(changes, stamp)
        ids = [c["id"] for c in incident["components"]]
        ids += [cid for cid in changes if cid not in ids]
        incident["components"] = [dict(self.components[cid]) for cid in ids]
        status = fields.get("status", incident["status"])
        if status != incident["status"] or fields.get("body") or not incident["incident_updates"]:
            incident["incident_updates"].insert(
                0,
                {
                    "id": self.new_id(),
                    "incident_id": incident["id"],
                    "affected_components": affected or None,
                    "body": fields.get("body", ""),
                    "created_at": stamp,
                    "custom_tweet": None,
                    "deliver_notifications": bool(fields.get("deliver_notifications", True)),
                    "display_at": stamp,
                    "status": status,
                    "tweet_id": None,
                    "twitter_updated_at": None,
                    "updated_at": stamp,
                    "wants_twitter_update": False,
                },
            )
            del incident["incident_updates"][MAX_UPDATES:]
        incident["status"] = status
        if status == "monitoring" and incident["monitoring_at"] is None:
            incident["monitoring_at"] = stamp
        if status == "resolved" and incident["resolved_at"] is None:
            incident["resolved_at"] = stamp
        worst = max((c["status"] for c in incident["components"]), key=COMPONENT_STATUSES.index, default="operational")
        incident["impact"] = incident["impact_override"] or _IMPACT_OF.get(worst, "none")
        incident["updated_at"] = stamp
        return incident


class Invalid(Exception):
    pass


def _validate(state: StatusApiState, body: object, creating: bool) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("incident"), dict):
        raise Invalid("incident is missing")
    raw = body["incident"]
    out: dict[str, Any] = {}
    if "name" in raw:
        if not isinstance(raw["name"], str) or not raw["name"].strip():
            raise Invalid("Name can't be blank")
        out["name"] = raw["name"]
    elif creating:
        raise Invalid("Name can't be blank")
    if "status" in raw:
        if raw["status"] not in INCIDENT_STATUSES:
            raise Invalid(f"Status is not included in the list ({', '.join(INCIDENT_STATUSES)})")
        out["status"] = raw["status"]
    if "body" in raw:
        if not isinstance(raw["body"], str):
            raise Invalid("Body must be a string")
        out["body"] = raw["body"]
    if raw.get("impact_override") is not None:
        if raw["impact_override"] not in IMPACTS:
            raise Invalid(f"Impact override is not included in the list ({', '.join(IMPACTS)})")
        out["impact_override"] = raw["impact_override"]
    comps = raw.get("components") or {}
    if not isinstance(comps, dict):
        raise Invalid("Components must be an object of component id to status")
    for cid, status in comps.items():
        if cid not in state.components:
            raise Invalid(f"Component {cid} not found")
        if status not in COMPONENT_STATUSES:
            raise Invalid(f"Component status is not included in the list ({', '.join(COMPONENT_STATUSES)})")
    out["components"] = dict(comps)
    ids = raw.get("component_ids") or []
    if not isinstance(ids, list) or any(cid not in state.components for cid in ids):
        raise Invalid("Component ids must name components of this page")
    out["component_ids"] = list(ids)
    meta = raw.get("metadata")
    if meta is not None:  # Statuspage's metadata: an object of objects ({"jira": {"issue_id": "…"}})
        if not isinstance(meta, dict) or not all(isinstance(v, dict) for v in meta.values()):
            raise Invalid("Metadata must be an object of objects")
        out["metadata"] = {str(k): {str(a): str(b) for a, b in v.items()} for k, v in meta.items()}
    if "deliver_notifications" in raw:
        out["deliver_notifications"] = bool(raw["deliver_notifications"])
    return out


def _err(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def statusapi_app(state: StatusApiState) -> web.Application:
    @web.middleware
    async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        header = request.headers.get("Authorization", "")
        key = header[6:].strip() if header.startswith("OAuth ") else ""
        if not key or key != state.key:
            return _err(401, "Could not authenticate")
        page = request.match_info.get("page")
        if page is not None and page != state.page_id:
            return _err(404, "The page you requested could not be found")
        return await handler(request)

    async def _body(request: web.Request) -> object:
        try:
            return await request.json()
        except ValueError:
            return None

    async def list_incidents(request: web.Request) -> web.Response:
        items = list(reversed(state.incidents.values()))
        q = request.query.get("q", "").lower()
        if q:
            items = [i for i in items if q in i["name"].lower() or any(q in u["body"].lower() for u in i["incident_updates"])]
        try:
            limit = max(1, min(100, int(request.query.get("limit", request.query.get("per_page", 100)))))
            page = max(1, int(request.query.get("page", 1)))
        except ValueError:
            return _err(400, "limit and page must be integers")
        return web.json_response(items[(page - 1) * limit : page * limit])

    async def list_unresolved(request: web.Request) -> web.Response:
        return web.json_response([i for i in reversed(state.incidents.values()) if i["status"] != "resolved"][:100])

    async def create_incident(request: web.Request) -> web.Response:
        try:
            fields = _validate(state, await _body(request), creating=True)
        except Invalid as err:
            return _err(422, str(err))
        return web.json_response(state.apply(None, fields), status=201)

    async def get_incident(request: web.Request) -> web.Response:
        inc = state.incidents.get(request.match_info["id"])
        return web.json_response(inc) if inc else _err(404, "The incident you requested could not be found")

    async def update_incident(request: web.Request) -> web.Response:
        inc = state.incidents.get(request.match_info["id"])
        if inc is None:
            return _err(404, "The incident you requested could not be found")
        try:
            fields = _validate(state, await _body(request), creating=False)
        except Invalid as err:
            return _err(422, str(err))
        return web.json_response(state.apply(inc, fields))

    async def list_components(request: web.Request) -> web.Response:
        return web.json_response(list(state.components.values()))

    async def get_component(request: web.Request) -> web.Response:
        comp = state.components.get(request.match_info["id"])
        return web.json_response(comp) if comp else _err(404, "The component you requested could not be found")

    async def update_component(request: web.Request) -> web.Response:
        comp = state.components.get(request.match_info["id"])
        if comp is None:
            return _err(404, "The component you requested could not be found")
        body = await _body(request)
        raw = body.get("component") if isinstance(body, dict) else None
        if not isinstance(raw, dict):
            return _err(422, "component is missing")
        if "status" in raw:
            if raw["status"] not in COMPONENT_STATUSES:
                return _err(422, f"Status is not included in the list ({', '.join(COMPONENT_STATUSES)})")
            state._set_components({comp["id"]: raw["status"]}, iso_ms(state.now()))
        for key in ("name", "description"):
            if isinstance(raw.get(key), str):
                comp[key] = raw[key]
        return web.json_response(comp)

    def page_object() -> dict[str, Any]:
        return {
            "id": state.page_id,
            "name": "Clay Sync (drill)",
            "subdomain": "clay-sync-drill",
            "url": "https://status.example.com",
            "time_zone": "Etc/UTC",
            "created_at": next(iter(state.components.values()), {}).get("created_at"),
        }

    async def list_pages(request: web.Request) -> web.Response:
        return web.json_response([page_object()])

    async def get_page(request: web.Request) -> web.Response:
        return web.json_response(page_object())

    app = web.Application(middlewares=[auth])
    base = "/v1/pages/{page}"
    app.router.add_get("/v1/pages", list_pages)
    app.router.add_get(base, get_page)
    app.router.add_get(base + "/incidents", list_incidents)
    app.router.add_post(base + "/incidents", create_incident)
    app.router.add_get(base + "/incidents/unresolved", list_unresolved)
    app.router.add_get(base + "/incidents/{id}", get_incident)
    app.router.add_patch(base + "/incidents/{id}", update_incident)
    app.router.add_put(base + "/incidents/{id}", update_incident)
    app.router.add_get(base + "/components", list_components)
    app.router.add_get(base + "/components/{id}", get_component)
    app.router.add_patch(base + "/components/{id}", update_component)
    app.router.add_put(base + "/components/{id}", update_component)
    return app
