"""PagerDuty's REST API v2 and Events API v2 for the drill, on aiohttp (issue 16).

One service answers both (the paths differ): the official ``pagerduty``
client talks to it unchanged, over HTTPS (it refuses any other scheme).

REST, with ``Authorization: Token token=…`` (else 401
``{"error": {"message": "Authentication required", "code": 2006}}``):
``GET /abilities`` (and ``/abilities/{name}``), ``GET /incidents``
(``statuses[]``, ``service_ids[]``, ``incident_key``, classic pagination
``limit/offset/more/total``; ``include[]`` and sorting are ignored; oldest
first, as PagerDuty's default), ``GET|PUT /incidents/{id}`` (status
acknowledged/resolved, or an ``escalation_policy`` reassignment, which
triggers the incident again for the new policy's on-call), bulk
``PUT /incidents``, ``GET|POST /incidents/{id}/notes``,
``GET /incidents/{id}/log_entries``, ``GET /services/{id}``,
``GET /escalation_policies/{id}``. Every write needs a ``From`` header with a
known user's email, else 400 as PagerDuty answers.

Events: ``POST /v2/enqueue`` (``routing_key``, ``event_action``
trigger/acknowledge/resolve, ``dedup_key``, ``payload``) → 202; a trigger opens
an incident on the routing key's service, or is deduplicated into the open one
with the same key. An unknown routing key → 400.

The drill's page: every scenario with a fault (the incident the responder is
woken for) opens an incident on our service when its first fault starts (the
scenario's onset; at once for a fault from second 0), titled
``[FIRING] clay-sync: <scenario title>``, high urgency, assigned to the drill's
responder. The healthy scenario has no fault and so no page.

Controls (the control API, :func:`add_controls`): revoke the token, restore
it, slow every answer, and the state for tests.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from clay_cockpit.sim import wiring as w

MAX_EVENTS = 200
MAX_INCIDENTS = 500
USERS = {
    w.PD_USER_ID: (w.PD_USER_NAME, w.PD_USER_EMAIL),
    w.PD_ADMIN_ID: (w.PD_ADMIN_NAME, w.PD_ADMIN_EMAIL),
}
POLICIES = {w.PD_POLICY_ID: (w.PD_POLICY_NAME, w.PD_USER_ID), w.PD_ADMIN_POLICY_ID: (w.PD_ADMIN_POLICY_NAME, w.PD_ADMIN_ID)}
SERVICES = {w.PD_SERVICE_ID: (w.PD_SERVICE_NAME, w.PD_POLICY_ID), w.PD_ADMIN_SERVICE_ID: (w.PD_ADMIN_SERVICE_NAME, w.PD_ADMIN_POLICY_ID)}
SEVERITIES = ("critical", "error", "warning", "info")


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ref(kind: str, oid: str, summary: str) -> dict[str, Any]:
    plural = kind[:-1] + "ies" if kind.endswith("y") else kind + "s"
    return {"id": oid, "type": f"{kind}_reference", "summary": summary, "self": f"/{plural}/{oid}", "html_url": None}


@dataclass
class Incident:
    id: str
    number: int
    title: str
    service_id: str
    policy_id: str
    urgency: str
    created_at: float
    incident_key: str
    status: str = "triggered"
    assignee: str = ""  # user id ("" once acknowledged-and-resolved keeps it)
    acknowledged_at: float | None = None
    resolved_at: float | None = None
    notes: list[dict[str, Any]] = field(default_factory=list)
    log: list[dict[str, Any]] = field(default_factory=list)
    alerts: int = 1


class PagerDutyState:
    def __init__(self, token: str, routing_key: str, now: Callable[[], float], page: tuple[str, float] | None) -> None:
        self.token = token
        self.good_token = token
        self.routing_keys = {routing_key: w.PD_ADMIN_SERVICE_ID}  # the escalation target's Events API v2 integration
        self.now = now
        self.incidents: dict[str, Incident] = {}
        self.events: deque[dict[str, Any]] = deque(maxlen=MAX_EVENTS)
        self.delay = 0.0
        self._page = page  # (title, epoch it fires) until it has fired
        self._seq = 0

    # -- the drill's page

    def due(self) -> None:
        if self._page is not None and self.now() >= self._page[1]:
            title, at = self._page
            self._page = None
            self.open(f"[FIRING] {w.PD_SERVICE_NAME}: {title}", w.PD_SERVICE_ID, "high", at, f"clay-drill-page-{int(at)}", "api")

    def open(self, title: str, service_id: str, urgency: str, at: float, key: str, channel: str) -> Incident:
        self._seq += 1
        policy = SERVICES[service_id][1]
        inc = Incident(f"Q{self._seq:04d}DRL{secrets.token_hex(2).upper()}", self._seq, title, service_id, policy, urgency, at, key)
        inc.assignee = POLICIES[policy][1]
        self.incidents[inc.id] = inc
        while len(self.incidents) > MAX_INCIDENTS:
            self.incidents.pop(next(iter(self.incidents)))
        self.log(inc, "trigger", None, "Triggered through the API.", channel, at)
        self.log(inc, "assign", None, f"Assigned to {USERS[inc.assignee][0]}.", "auto", at)
        return inc

    def log(self, inc: Incident, kind: str, user: str | None, summary: str, channel: str, at: float | None = None) -> None:
        agent = _ref("user", user, USERS[user][0]) if user else _ref("service", inc.service_id, SERVICES[inc.service_id][0])
        entry = {
            "id": f"R{secrets.token_hex(6).upper()}",
            "type": f"{kind}_log_entry",
            "summary": summary,
            "created_at": iso(self.now() if at is None else at),
            "agent": agent,
            "channel": {"type": channel},
            "incident": _ref("incident", inc.id, inc.title),
        }
        inc.log.append(entry)

    # -- changes

    def set_status(self, inc: Incident, status: str, user: str) -> None:
        if status == inc.status or inc.status == "resolved":
            return  # PagerDuty: an incident stays resolved; the same status again is a no-op
        now = self.now()
        if status == "acknowledged":
            inc.acknowledged_at = now
            self.log(inc, "acknowledge", user, f"Acknowledged by {USERS[user][0]}.", "api")
        elif status == "resolved":
            inc.resolved_at = now
            self.log(inc, "resolve", user, f"Resolved by {USERS[user][0]}.", "api")
        inc.status = status

    def reassign(self, inc: Incident, policy_id: str, user: str) -> None:
        inc.policy_id = policy_id
        inc.assignee = POLICIES[policy_id][1]
        inc.status, inc.acknowledged_at = "triggered", None  # a reassigned incident pages its new on-call again
        self.log(inc, "escalate", user, f"Escalated to {POLICIES[policy_id][0]}.", "api")
        self.log(inc, "assign", user, f"Assigned to {USERS[inc.assignee][0]}.", "api")

    def note(self, inc: Incident, user: str, content: str) -> dict[str, Any]:
        note = {
            "id": f"N{secrets.token_hex(6).upper()}",
            "user": _ref("user", user, USERS[user][0]),
            "channel": {"summary": "The PagerDuty API"},
            "content": content,
            "created_at": iso(self.now()),
        }
        inc.notes.append(note)
        self.log(inc, "annotate", user, "Note added", "note")
        return note

    def event(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """One Events API v2 event → (HTTP status, answer)."""
        self.events.append({"at": round(self.now(), 3), **{k: body.get(k) for k in ("event_action", "dedup_key", "payload")}})
        service = self.routing_keys.get(str(body.get("routing_key", "")))
        if service is None:
            return 400, {"status": "invalid event", "message": "Event object is invalid", "errors": ["Invalid routing key"]}
        action = body.get("event_action")
        if action not in ("trigger", "acknowledge", "resolve"):
            return 400, {"status": "invalid event", "message": "Event object is invalid", "errors": ["'event_action' is invalid"]}
        key = body.get("dedup_key") or secrets.token_hex(16)
        if not isinstance(key, str) or len(key) > 255:
            return 400, {"status": "invalid event", "message": "Event object is invalid", "errors": ["'dedup_key' is invalid"]}
        open_one = next(
            (i for i in self.incidents.values() if i.incident_key == key and i.service_id == service and i.status != "resolved"), None
        )
        if action == "trigger":
            payload = body.get("payload")
            errors = []
            if not isinstance(payload, dict):
                errors.append("'payload' is missing or invalid")
            else:
                for name in ("summary", "source"):
                    if not isinstance(payload.get(name), str) or not payload[name].strip():
                        errors.append(f"'payload.{name}' is missing or blank")
                if payload.get("severity") not in SEVERITIES:
                    errors.append("'payload.severity' is invalid (expected critical, error, warning or info)")
            if errors:
                return 400, {"status": "invalid event", "message": "Event object is invalid", "errors": errors}
            assert isinstance(payload, dict)
            if open_one is not None:
                open_one.alerts += 1
            else:
                urgency = "high" if payload["severity"] in ("critical", "error") else "low"
                self.open(str(payload["summary"])[:1024], service, urgency, self.now(), key, "api")
        elif open_one is not None:
            self.set_status(open_one, "acknowledged" if action == "acknowledge" else "resolved", POLICIES[open_one.policy_id][1])
        return 202, {"status": "success", "message": "Event processed", "dedup_key": key}

    # -- views

    def incident_json(self, inc: Incident, base: str) -> dict[str, Any]:
        service_name, _ = SERVICES[inc.service_id]
        ack = []
        if inc.status == "acknowledged" and inc.acknowledged_at is not None:
            ack = [{"at": iso(inc.acknowledged_at), "acknowledger": _ref("user", inc.assignee, USERS[inc.assignee][0])}]
        return {
            "id": inc.id,
            "type": "incident",
            "summary": f"[#{inc.number}] {inc.title}",
            "self": f"{base}/incidents/{inc.id}",
            "html_url": f"{base}/incidents/{inc.id}",
            "incident_number": inc.number,
            "title": inc.title,
            "created_at": iso(inc.created_at),
            "updated_at": iso(max(inc.created_at, inc.acknowledged_at or 0, inc.resolved_at or 0)),
            "status": inc.status,
            "incident_key": inc.incident_key,
            "service": _ref("service", inc.service_id, service_name),
            "assignments": []
            if inc.status == "resolved"
            else [{"at": iso(inc.created_at), "assignee": _ref("user", inc.assignee, USERS[inc.assignee][0])}],
            "acknowledgements": ack,
            "last_status_change_at": iso(inc.resolved_at or inc.acknowledged_at or inc.created_at),
            "urgency": inc.urgency,
            "escalation_policy": _ref("escalation_policy", inc.policy_id, POLICIES[inc.policy_id][0]),
            "priority": None,
            "alert_counts": {
                "all": inc.alerts,
                "triggered": 0 if inc.status == "resolved" else inc.alerts,
                "resolved": inc.alerts if inc.status == "resolved" else 0,
            },
        }

    def snapshot(self) -> dict[str, Any]:
        """Everything, for ``GET /_sim/pagerduty`` (tests)."""
        return {
            "token": "revoked" if self.token != self.good_token else "ok",
            "delay": self.delay,
            "page_pending": self._page is not None,
            "incidents": [
                {
                    "id": i.id,
                    "number": i.number,
                    "title": i.title,
                    "service_id": i.service_id,
                    "policy_id": i.policy_id,
                    "status": i.status,
                    "urgency": i.urgency,
                    "incident_key": i.incident_key,
                    "assignee": i.assignee,
                    "alerts": i.alerts,
                    "notes": [n["content"] for n in i.notes],
                    "log_entries": [{"type": e["type"], "created_at": e["created_at"], "summary": e["summary"]} for e in i.log],
                }
                for i in self.incidents.values()
            ],
            "events": list(self.events),
        }


# --------------------------------------------------------------------------
# HTTP


def _error(status: int, message: str, code: int, errors: list[str] | None = None) -> web.Response:
    body: dict[str, Any] = {"error": {"message": message, "code": code}}
    if errors:
        body["error"]["errors"] = errors
    return web.json_response(body, status=status)


def _not_found() -> web.Response:
    return _error(404, "Not Found", 2100)


def _base(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def pagerduty_app(state: PagerDutyState) -> web.Application:
    @web.middleware
    async def slow_and_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        if state.delay > 0:
            await asyncio.sleep(state.delay)
        state.due()
        if request.path.startswith("/v2/"):
            return await handler(request)  # the Events API authenticates by the routing key in the body
        auth = request.headers.get("Authorization", "")
        token = auth[len("Token token=") :].strip() if auth.startswith("Token token=") else ""
        if not token or not secrets.compare_digest(token, state.token):
            return _error(401, "Authentication required", 2006)
        return await handler(request)

    def requester(request: web.Request) -> str | web.Response:
        email = request.headers.get("From", "").strip().lower()
        if not email:
            return _error(400, "Invalid Input Provided", 2001, ["A valid user email is required in the From header for this action."])
        user = next((uid for uid, (_, mail) in USERS.items() if mail == email), None)
        if user is None:
            return _error(400, "Invalid Input Provided", 2001, ["Requester User Not Found"])
        return user

    async def body_of(request: web.Request) -> dict[str, Any] | None:
        try:
            body = await request.json()
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def find(request: web.Request) -> Incident | None:
        return state.incidents.get(request.match_info["id"])

    async def abilities(request: web.Request) -> web.Response:
        return web.json_response({"abilities": ["teams", "read_only_users", "urgencies"]})

    async def ability(request: web.Request) -> web.Response:
        return (
            web.Response(status=204)
            if request.match_info["name"] in ("teams", "read_only_users", "urgencies")
            else web.Response(status=402)
        )

    async def list_incidents(request: web.Request) -> web.Response:
        q = request.query
        statuses = set(q.getall("statuses[]", [])) or {"triggered", "acknowledged", "resolved"}
        services = set(q.getall("service_ids[]", []))
        key = q.get("incident_key")
        try:
            limit = max(1, min(100, int(q.get("limit", "25"))))
            offset = max(0, int(q.get("offset", "0")))
        except ValueError:
            return _error(400, "Invalid Input Provided", 2001, ["limit and offset must be integers"])
        found = [
            i
            for i in sorted(state.incidents.values(), key=lambda i: (i.created_at, i.number))
            if i.status in statuses and (not services or i.service_id in services) and (key is None or i.incident_key == key)
        ]
        page = found[offset : offset + limit]
        body = {
            "incidents": [state.incident_json(i, _base(request)) for i in page],
            "limit": limit,
            "offset": offset,
            "more": offset + limit < len(found),
            "total": len(found) if q.get("total") == "true" else None,
        }
        return web.json_response(body)

    async def get_incident(request: web.Request) -> web.Response:
        inc = find(request)
        return _not_found() if inc is None else web.json_response({"incident": state.incident_json(inc, _base(request))})

    def change(inc: Incident, wanted: dict[str, Any], user: str) -> web.Response | None:
        """Apply one incident update body; an error response, or None when done."""
        status = wanted.get("status")
        policy = wanted.get("escalation_policy")
        urgency = wanted.get("urgency")
        if status is None and policy is None and urgency is None:
            return _error(400, "Invalid Input Provided", 2001, ["Nothing to update: give status, urgency or escalation_policy."])
        if status is not None and status not in ("acknowledged", "resolved"):
            return _error(400, "Invalid Input Provided", 2001, [f"Status '{status}' is not a valid status."])
        if urgency is not None and urgency not in ("high", "low"):
            return _error(400, "Invalid Input Provided", 2001, [f"Urgency '{urgency}' is not a valid urgency."])
        if urgency is not None and urgency != inc.urgency:
            inc.urgency = str(urgency)
            state.log(inc, "urgency_change", user, f"Urgency changed to {urgency}.", "api")
        if policy is not None:
            pid = policy.get("id") if isinstance(policy, dict) else None
            if pid not in POLICIES:
                return _error(400, "Invalid Input Provided", 2001, ["Escalation Policy Not Found"])
            if inc.status == "resolved":
                return _error(400, "Invalid Input Provided", 2001, ["Incident Already Resolved"])
            state.reassign(inc, str(pid), user)
        if status is not None:
            state.set_status(inc, status, user)
        return None

    async def put_incident(request: web.Request) -> web.Response:
        user = requester(request)
        if isinstance(user, web.Response):
            return user
        inc = find(request)
        if inc is None:
            return _not_found()
        body = await body_of(request)
        wanted = body.get("incident") if body else None
        if not isinstance(wanted, dict):
            return _error(400, "Invalid Input Provided", 2001, ['expected {"incident": {"type": "incident_reference", ...}}'])
        failed = change(inc, wanted, user)
        return failed or web.json_response({"incident": state.incident_json(inc, _base(request))})

    async def put_incidents(request: web.Request) -> web.Response:
        user = requester(request)
        if isinstance(user, web.Response):
            return user
        body = await body_of(request)
        items = body.get("incidents") if body else None
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            return _error(400, "Invalid Input Provided", 2001, ['expected {"incidents": [{"id": ..., "type": "incident_reference", ...}]}'])
        done = []
        for item in items:
            inc = state.incidents.get(str(item.get("id", "")))
            if inc is None:
                return _not_found()
            failed = change(inc, item, user)
            if failed is not None:
                return failed
            done.append(state.incident_json(inc, _base(request)))
        return web.json_response({"incidents": done})

    async def list_notes(request: web.Request) -> web.Response:
        inc = find(request)
        return _not_found() if inc is None else web.json_response({"notes": inc.notes})

    async def add_note(request: web.Request) -> web.Response:
        user = requester(request)
        if isinstance(user, web.Response):
            return user
        inc = find(request)
        if inc is None:
            return _not_found()
        body = await body_of(request)
        note = body.get("note") if body else None
        content = note.get("content") if isinstance(note, dict) else None
        if not isinstance(content, str) or not content.strip():
            return _error(400, "Invalid Input Provided", 2001, ["Note content can't be blank."])
        if len(content) > 25000:
            return _error(400, "Invalid Input Provided", 2001, ["Note content is too long (maximum is 25000 characters)."])
        return web.json_response({"note": state.note(inc, user, content)}, status=201)

    async def log_entries(request: web.Request) -> web.Response:
        inc = find(request)
        if inc is None:
            return _not_found()
        try:
            limit = max(1, min(100, int(request.query.get("limit", "25"))))
            offset = max(0, int(request.query.get("offset", "0")))
        except ValueError:
            return _error(400, "Invalid Input Provided", 2001, ["limit and offset must be integers"])
        page = inc.log[offset : offset + limit]
        return web.json_response(
            {"log_entries": page, "limit": limit, "offset": offset, "more": offset + limit < len(inc.log), "total": None}
        )

    async def service(request: web.Request) -> web.Response:
        sid = request.match_info["id"]
        if sid not in SERVICES:
            return _not_found()
        name, policy = SERVICES[sid]
        return web.json_response(
            {
                "service": {
                    "id": sid,
                    "type": "service",
                    "name": name,
                    "summary": name,
                    "status": "critical"
                    if any(i.service_id == sid and i.status == "triggered" for i in state.incidents.values())
                    else "active",
                    "escalation_policy": _ref("escalation_policy", policy, POLICIES[policy][0]),
                    "self": f"{_base(request)}/services/{sid}",
                    "html_url": f"{_base(request)}/services/{sid}",
                }
            }
        )

    async def policy(request: web.Request) -> web.Response:
        pid = request.match_info["id"]
        if pid not in POLICIES:
            return _not_found()
        name, user = POLICIES[pid]
        rules = [{"id": f"RULE{pid[-4:]}", "escalation_delay_in_minutes": 30, "targets": [_ref("user", user, USERS[user][0])]}]
        services = [_ref("service", sid, s[0]) for sid, s in SERVICES.items() if s[1] == pid]
        return web.json_response(
            {
                "escalation_policy": {
                    "id": pid,
                    "type": "escalation_policy",
                    "name": name,
                    "summary": name,
                    "escalation_rules": rules,
                    "services": services,
                }
            }
        )

    async def enqueue(request: web.Request) -> web.Response:
        body = await body_of(request)
        if body is None:
            return web.json_response(
                {"status": "invalid event", "message": "Event object is invalid", "errors": ["Malformed JSON"]}, status=400
            )
        status, answer = state.event(body)
        return web.json_response(answer, status=status)

    app = web.Application(middlewares=[slow_and_auth])
    app.router.add_get("/abilities", abilities)
    app.router.add_get("/abilities/{name}", ability)
    app.router.add_get("/incidents", list_incidents)
    app.router.add_put("/incidents", put_incidents)
    app.router.add_get("/incidents/{id}", get_incident)
    app.router.add_put("/incidents/{id}", put_incident)
    app.router.add_get("/incidents/{id}/notes", list_notes)
    app.router.add_post("/incidents/{id}/notes", add_note)
    app.router.add_get("/incidents/{id}/log_entries", log_entries)
    app.router.add_get("/services/{id}", service)
    app.router.add_get("/escalation_policies/{id}", policy)
    app.router.add_post("/v2/enqueue", enqueue)
    return app


def add_controls(app: web.Application, state: PagerDutyState) -> None:
    """``/_sim/pagerduty``: state (GET); ``revoke_token``, ``restore``, ``slow?seconds=N`` (POST)."""

    async def get_state(request: web.Request) -> web.Response:
        return web.json_response(state.snapshot())

    async def revoke(request: web.Request) -> web.Response:
        state.token = "revoked-" + secrets.token_hex(8)  # the drill's token now gets 401
        return web.json_response({"ok": True})

    async def restore(request: web.Request) -> web.Response:
        state.token = state.good_token
        state.delay = 0.0
        return web.json_response({"ok": True})

    async def slow(request: web.Request) -> web.Response:
        try:
            seconds = float(request.query.get("seconds", ""))
        except ValueError:
            seconds = -1.0
        if not 0 <= seconds <= 600:
            return web.json_response({"error": "expected ?seconds=N, 0 to 600"}, status=400)
        state.delay = seconds
        return web.json_response({"ok": True, "delay": seconds})

    app.router.add_get("/_sim/pagerduty", get_state)
    app.router.add_post("/_sim/pagerduty/revoke_token", revoke)
    app.router.add_post("/_sim/pagerduty/restore", restore)
    app.router.add_post("/_sim/pagerduty/slow", slow)
