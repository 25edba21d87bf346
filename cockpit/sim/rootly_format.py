"""Clay's status page in Rootly's status page public API format.

From Rootly's docs (docs.rootly.com/configuration/status-page-public-api,
and shared/fixtures/real/rootly-status-docs-example.json):
- ``GET /api/v1/status.json`` → ``{"page": {"name", "url", "time_zone",
  "updated_at"}, "status": {"indicator", "description"}, "incidents": [...]}``;
  ``indicator`` is one of none, minor, major, maintenance (no "critical").
- ``GET /api/v1/incidents.json`` (``page``, ``per_page`` ≤ 100, default 25;
  active incidents, most recent first) → ``{"page": {...}, "incidents":
  [{"name", "status", "impact", "started_at", "resolved_at", "url",
  "incident_updates": [{"body", "status", "created_at"}]}]}``; incident
  ``status`` is Rootly's lifecycle ("started" in the docs' example), update
  ``status`` is investigating / identified / monitoring / resolved; ``impact``
  maps from severity to critical / major / minor / none.
- Timestamps like ``2026-03-19T12:00:00Z`` (no fraction).

Guessed (the docs show no example of them): the incident ``id`` and
``components`` fields ([{"name", "status"}]), incident ``status`` values other
than "started" ("mitigated" while Clay monitors, "resolved"), and all of
``GET /api/v1/components.json`` (``{"page": {...}, "components": [{"id",
"name", "status", "group", "position", "updated_at"}]}`` with Statuspage's
component status words).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from clay_cockpit.sim.clay_status import DESCRIPTIONS, PAGE_NAME, ClayStatusPage, Incident

ROOTLY_TIME_ZONE = "Etc/UTC"
_LIFECYCLE = {"investigating": "started", "identified": "started", "monitoring": "mitigated", "resolved": "resolved"}


def iso_s(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _page(sp: ClayStatusPage, url: str, now: float) -> dict[str, Any]:
    return {"name": f"{PAGE_NAME} Status", "url": url, "time_zone": ROOTLY_TIME_ZONE, "updated_at": iso_s(sp.updated_at(now))}


def _indicator(sp: ClayStatusPage, now: float) -> str:
    ind = sp.indicator(now)
    return "major" if ind == "critical" else ind


def _incident(sp: ClayStatusPage, inc: Incident, url: str, now: float) -> dict[str, Any]:
    states = sp.component_states(now)
    resolved = inc.stamp("resolved")
    return {
        "id": inc.id,  # guessed
        "name": inc.name,
        "status": _LIFECYCLE.get(inc.status, "started"),
        "impact": inc.impact,
        "started_at": iso_s(inc.started_at),
        "resolved_at": iso_s(resolved) if resolved else None,
        "url": f"{url.rstrip('/')}/incidents/{inc.id}",
        "incident_updates": [{"body": u.body, "status": u.status, "created_at": iso_s(u.at)} for u in reversed(inc.updates)],
        "components": [{"name": c, "status": states[c][0]} for c in inc.components],  # guessed
    }


def status_doc(sp: ClayStatusPage, url: str, now: float) -> dict[str, Any]:
    ind = _indicator(sp, now)
    return {
        "page": _page(sp, url, now),
        "status": {"indicator": ind, "description": DESCRIPTIONS[ind]},
        "incidents": [_incident(sp, i, url, now) for i in sp.incidents(now, unresolved_only=True)],
    }


def incidents_doc(sp: ClayStatusPage, url: str, now: float, page: int = 1, per_page: int = 25) -> dict[str, Any]:
    per_page = max(1, min(100, per_page))
    page = max(1, page)
    live = sp.incidents(now, unresolved_only=True)
    chunk = live[(page - 1) * per_page : page * per_page]
    return {"page": _page(sp, url, now), "incidents": [_incident(sp, i, url, now) for i in chunk]}


def components_doc(sp: ClayStatusPage, url: str, now: float) -> dict[str, Any]:
    """Guessed format (not in Rootly's docs)."""
    comps = [
        {
            "id": c["id"],
            "name": c["name"],
            "status": c["status"],
            "group": next((g["name"] for g in sp.components_json(now) if g["group"] and c["id"] in g["components"]), None),
            "position": c["position"],
            "updated_at": iso_s(_parse(c["updated_at"])),
        }
        for c in sp.components_json(now)
        if not c["group"]
    ]
    return {"page": _page(sp, url, now), "components": comps}


def _parse(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def text_page(sp: ClayStatusPage, now: float) -> str:
    """The page as a person reads it (``GET /`` of the drill's Rootly page:
    the alternative source a responder opens when the main page is unreachable)."""
    ind = _indicator(sp, now)
    lines = [f"{PAGE_NAME} Status — {DESCRIPTIONS[ind]} (as of {iso_s(now)})", ""]
    live = sp.incidents(now, unresolved_only=True)
    for inc in live:
        lines.append(f"{inc.name} — {inc.status} (impact {inc.impact}, since {iso_s(inc.started_at)})")
        if inc.updates:
            latest = inc.updates[-1]
            lines.append(f"  {iso_s(latest.at)} {latest.status}: {latest.body}")
        if inc.components:
            lines.append("  affects: " + ", ".join(inc.components))
        lines.append("")
    if not live:
        lines += ["No unresolved incidents.", ""]
    lines.append("API: /api/v1/status.json, /api/v1/incidents.json, /api/v1/components.json")
    return "\n".join(lines) + "\n"
