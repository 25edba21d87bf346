"""Clay's public status page: Atlassian Statuspage v2 or Rootly.

Statuspage v2 (``/api/v2/summary.json``) gives everything in one request:
page, overall indicator, components (group containers are skipped, each
component carries its group's name) and the unresolved incidents.

Rootly's status page public API (``/api/v1/status.json``: page, indicator,
active incidents) has no documented component list; ``/api/v1/components.json``
is read when the page serves it and a 404 there means "no components".

With ``provider = "auto"`` the first fetch tries Statuspage v2, then Rootly,
and remembers what answered; a 404 from the remembered API later starts the
detection again. Constructing a :class:`StatusPage` does no I/O.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime
from typing import Any

import httpx

from clay_cockpit.config import StatusPageConfig
from clay_cockpit.sanitise import clean
from clay_cockpit.signals import (
    Component,
    ComponentStatus,
    ErrorKind,
    SourceError,
    StatusIncident,
    StatusPageSnapshot,
)
from clay_cockpit.sources import _http
from clay_cockpit.sources import _identity as identity
from clay_cockpit.sources._errors import body_snippet, http_status_error, make_error, safe_url, unexpected

SOURCE = "statuspage"
STATUSPAGE = "statuspage"
ROOTLY = "rootly"

SUMMARY_PATH = "/api/v2/summary.json"
ROOTLY_STATUS_PATH = "/api/v1/status.json"
ROOTLY_COMPONENTS_PATH = "/api/v1/components.json"
ROOTLY_INCIDENTS_PATH = "/api/v1/incidents.json"

# incident states that mean "over" in either API
_CLOSED = {"resolved", "postmortem", "completed", "cancelled", "canceled", "closed"}
# Rootly's incident lifecycle words: the latest update's status says more
_LIFECYCLE = {"started", "mitigated", "detected", "acknowledged", "in_triage"}
# maintenance states that mean "happening now"
_MAINTENANCE_ACTIVE = {"in_progress", "verifying"}

_COMPONENT_ALIASES = {
    "degraded": ComponentStatus.DEGRADED,
    "partial": ComponentStatus.PARTIAL_OUTAGE,
    "outage": ComponentStatus.MAJOR_OUTAGE,
    "major": ComponentStatus.MAJOR_OUTAGE,
    "maintenance": ComponentStatus.MAINTENANCE,
}


class NotThisFormat(ValueError):
    """The JSON is not the shape this parser reads."""


# --------------------------------------------------------------------------
# Parsing (pure functions: tested on real captured payloads)


def parse_time(value: object) -> datetime | None:
    """An ISO 8601 timestamp as found in either API, or None."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def component_status(value: object) -> ComponentStatus:
    parsed = ComponentStatus.parse(value)
    if parsed is ComponentStatus.UNKNOWN and isinstance(value, str):
        return _COMPONENT_ALIASES.get(value.strip().lower(), ComponentStatus.UNKNOWN)
    return parsed


def _text(value: object) -> str:
    """A string field of the page's JSON, made inert (:mod:`clay_cockpit.sanitise`):
    every text of a third-party page enters here."""
    return clean(value).strip() if isinstance(value, str) else ""


def _dicts(value: object) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def parse_components(items: object) -> tuple[Component, ...]:
    """Statuspage components: group containers skipped, group names attached.

    Also reads Rootly-style entries whose ``group`` is a name or an object.
    """
    entries = _dicts(items)
    groups: dict[str, str] = {}
    for entry in entries:
        if entry.get("group") is True and isinstance(entry.get("id"), str):
            groups[entry["id"]] = _text(entry.get("name"))
    out: list[Component] = []
    for entry in entries:
        if entry.get("group") is True:
            continue
        name = _text(entry.get("name"))
        if not name:
            continue
        group: str | None = None
        group_id = entry.get("group_id")
        if isinstance(group_id, str) and group_id in groups:
            group = groups[group_id] or None
        elif isinstance(entry.get("group"), str):
            group = _text(entry["group"]) or None
        elif isinstance(entry.get("group"), dict):
            group = _text(entry["group"].get("name")) or None
        elif isinstance(entry.get("group_name"), str):
            group = _text(entry["group_name"]) or None
        out.append(Component(name=name, status=component_status(entry.get("status")), group=group))
    return tuple(out)


def _update_time(update: dict[str, Any]) -> datetime | None:
    return parse_time(update.get("display_at")) or parse_time(update.get("created_at")) or parse_time(update.get("updated_at"))


def _latest_update(updates: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not updates:
        return None
    dated = [(u, _update_time(u)) for u in updates]
    with_time = [(u, t) for u, t in dated if t is not None]
    if with_time:
        return max(with_time, key=lambda pair: pair[1])[0]
    return updates[0]  # both APIs list the newest first


def _component_names(items: object) -> list[str]:
    names: list[str] = []
    if isinstance(items, list):
        for item in items:
            name = _text(item.get("name")) if isinstance(item, dict) else _text(item)
            if name and name not in names:
                names.append(name)
    return names


def parse_incident(entry: dict[str, Any]) -> StatusIncident:
    """One incident of either API (Statuspage, 2019 format too, or Rootly)."""
    updates = _dicts(entry.get("incident_updates") or entry.get("updates"))
    latest = _latest_update(updates)
    components = _component_names(entry.get("components"))
    if not components:
        components = _component_names(entry.get("affected_components"))
    if not components and latest is not None:
        components = _component_names(latest.get("affected_components"))
    name = _text(entry.get("name")) or _text(entry.get("title"))
    status = _text(entry.get("status")).lower()
    if status in _LIFECYCLE and latest is not None and _text(latest.get("status")):
        status = _text(latest.get("status")).lower()
    url = _text(entry.get("shortlink")) or _text(entry.get("url")) or None
    ident = _text(entry.get("id")) or url or name
    return StatusIncident(
        id=ident,
        name=name or "(untitled incident)",
        status=status or "unknown",
        impact=_text(entry.get("impact")).lower() or "none",
        started_at=parse_time(entry.get("started_at")) or parse_time(entry.get("created_at")),
        updated_at=parse_time(entry.get("updated_at")) or (_update_time(latest) if latest else None),
        latest_update=_text(latest.get("body")) if latest else "",
        latest_update_at=_update_time(latest) if latest else None,
        url=url,
        components=tuple(components),
    )


def is_unresolved(entry: dict[str, Any]) -> bool:
    status = _text(entry.get("status")).lower()
    return status not in _CLOSED and not entry.get("resolved_at")


def parse_incidents(items: object, *, unresolved_only: bool = True) -> tuple[StatusIncident, ...]:
    return tuple(parse_incident(e) for e in _dicts(items) if not unresolved_only or is_unresolved(e))


def _page(doc: dict[str, Any]) -> tuple[str, str]:
    page = found if isinstance(found := doc.get("page"), dict) else {}
    return _text(page.get("name")), _text(page.get("url"))


def _status(doc: dict[str, Any]) -> tuple[str, str]:
    status = doc.get("status")
    if not isinstance(status, dict) or not isinstance(status.get("indicator"), str):
        raise NotThisFormat("no status.indicator")
    return _text(status["indicator"]).lower(), _text(status.get("description"))


def parse_summary(doc: object, *, fetched_at: float = 0.0, response_ms: float = 0.0, base_url: str = "") -> StatusPageSnapshot:
    """A Statuspage v2 ``summary.json`` → snapshot. Raises NotThisFormat."""
    if not isinstance(doc, dict) or not isinstance(doc.get("components"), list):
        raise NotThisFormat("not a Statuspage v2 summary (no components list)")
    indicator, description = _status(doc)
    page_name, page_url = _page(doc)
    incidents = list(parse_incidents(doc.get("incidents")))
    for maint in _dicts(doc.get("scheduled_maintenances")):
        if _text(maint.get("status")).lower() in _MAINTENANCE_ACTIVE:
            # a maintenance stays one whatever impact it carries (the panes and triage tell them apart by it)
            incidents.append(replace(parse_incident(maint), impact="maintenance"))
    return StatusPageSnapshot(
        provider=STATUSPAGE,
        page_name=page_name,
        page_url=page_url or base_url,
        indicator=indicator,
        description=description,
        components=parse_components(doc["components"]),
        incidents=tuple(incidents),
        fetched_at=fetched_at,
        response_ms=response_ms,
    )


def parse_rootly(
    status_doc: object,
    components_doc: object = None,
    incidents_doc: object = None,
    *,
    fetched_at: float = 0.0,
    response_ms: float = 0.0,
    base_url: str = "",
) -> StatusPageSnapshot:
    """Rootly ``status.json`` (+ optional ``components.json`` / ``incidents.json``)."""
    if not isinstance(status_doc, dict):
        raise NotThisFormat("not a Rootly status document")
    indicator, description = _status(status_doc)
    page_name, page_url = _page(status_doc)
    incident_items = status_doc.get("incidents")
    if isinstance(incidents_doc, dict) and isinstance(incidents_doc.get("incidents"), list):
        incident_items = incidents_doc["incidents"]
    components: tuple[Component, ...] = ()
    if isinstance(components_doc, dict):
        components = parse_components(components_doc.get("components"))
    elif isinstance(components_doc, list):
        components = parse_components(components_doc)
    elif isinstance(status_doc.get("components"), list):
        components = parse_components(status_doc["components"])
    return StatusPageSnapshot(
        provider=ROOTLY,
        page_name=page_name,
        page_url=page_url or base_url,
        indicator=indicator,
        description=description,
        components=components,
        incidents=parse_incidents(incident_items),
        fetched_at=fetched_at,
        response_ms=response_ms,
    )


# --------------------------------------------------------------------------
# The source


class StatusPage:
    """Polls Clay's status page. ``fetch()`` never raises."""

    name = SOURCE

    def __init__(self, config: StatusPageConfig) -> None:
        self.config = config
        self.base = config.url.rstrip("/")
        # what auto-detection found (or the forced provider); None until known
        self.detected: str | None = None if config.provider == "auto" else config.provider

    def __repr__(self) -> str:
        return f"StatusPage({safe_url(self.base)!r}, provider={self.config.provider!r}, detected={self.detected!r})"

    # hints -----------------------------------------------------------------

    def _away_hint(self) -> str:
        """Unreachable or timing out: maybe only from here (the runbook: use mobile data or the VPN)."""
        alt = self.config.alternative_url
        if alt:
            return f"use mobile data or the VPN, or check {alt}"
        return "use mobile data or the VPN; set statuspage.alternative_url for a second place to look"

    def _failing_hint(self) -> str:
        """The page answered with a server error: it is failing itself."""
        alt = self.config.alternative_url
        if alt:
            return f"the status page itself is failing — check the alternative source: {alt}"
        return "the status page itself is failing; set statuspage.alternative_url for a second place to look"

    def _hints(self) -> dict[ErrorKind, str]:
        away = self._away_hint()
        return {
            ErrorKind.UNREACHABLE: away,
            ErrorKind.TIMEOUT: away,
            ErrorKind.SERVER_ERROR: self._failing_hint(),
            ErrorKind.AUTH_EXPIRED: "the page wants a login (password- or SSO-protected pages have no public API): use its public URL",
            ErrorKind.FORBIDDEN: "the page refuses this client (protected page or IP allow-list): use its public URL",
        }

    # fetching --------------------------------------------------------------

    async def fetch(self) -> StatusPageSnapshot | SourceError:
        try:
            async with httpx.AsyncClient(
                follow_redirects=True, max_redirects=5, headers={"Accept": "application/json", **identity.headers()}
            ) as client:
                return await self._fetch(client)
        except Exception as exc:  # outermost boundary: never raise into the UI
            return unexpected(SOURCE, exc, safe_url(self.base))

    async def _fetch(self, client: httpx.AsyncClient) -> StatusPageSnapshot | SourceError:
        started = time.monotonic()
        if self.detected == STATUSPAGE:
            result = await self._statuspage(client)
        elif self.detected == ROOTLY:
            result = await self._rootly(client)
        else:
            return await self._detect(client)
        if self.config.provider == "auto" and isinstance(result, _WrongApi):
            self.detected = None  # the page changed provider: detect again
            return await self._detect(client)
        if isinstance(result, _WrongApi):
            return self._wrong_api_error(result, forced=True)
        return _stamp(result, started)

    async def _detect(self, client: httpx.AsyncClient) -> StatusPageSnapshot | SourceError:
        started = time.monotonic()
        first = await self._statuspage(client)
        if not isinstance(first, _WrongApi):
            if isinstance(first, StatusPageSnapshot):
                self.detected = STATUSPAGE
            return _stamp(first, started)
        second = await self._rootly(client)
        if not isinstance(second, _WrongApi):
            if isinstance(second, StatusPageSnapshot):
                self.detected = ROOTLY
            return _stamp(second, started)
        return self._wrong_api_error(first, second=second)

    def _wrong_api_error(self, first: _WrongApi, *, second: _WrongApi | None = None, forced: bool = False) -> SourceError:
        if second is None:
            api = {STATUSPAGE: "Statuspage v2", ROOTLY: "Rootly status page"}.get(self.config.provider, self.config.provider)
            message = f"{first.url} is not a {api} API ({first.why})"
            hint = 'check statuspage.url, or set statuspage.provider = "auto"'
        else:
            message = f"{safe_url(self.base)} serves neither a Statuspage v2 API ({first.why}) nor a Rootly one ({second.why})"
            hint = "set statuspage.url to the page's base URL (e.g. https://status.example.com), not a sub-page"
        return make_error(SOURCE, ErrorKind.BAD_RESPONSE, message, hint, status_code=second.status if second else first.status)

    async def _get_json(self, client: httpx.AsyncClient, path: str) -> tuple[Any, float] | SourceError | _WrongApi:
        got = await _http.get(client, SOURCE, self.base + path, timeout=self.config.timeout, hints=self._hints())
        if isinstance(got, SourceError):
            return got
        if got.status == 404:
            return _WrongApi(got.url, "404 Not Found", 404)
        if not 200 <= got.status < 300:
            return http_status_error(SOURCE, got.status, got.url, hints=self._hints(), retry_after=got.retry_after)
        ok, doc = got.json()
        if not ok:
            return _WrongApi(got.url, f"not JSON: {body_snippet(got.body, 40)!r}", got.status)
        return doc, got.elapsed_ms

    async def _statuspage(self, client: httpx.AsyncClient) -> StatusPageSnapshot | SourceError | _WrongApi:
        got = await self._get_json(client, SUMMARY_PATH)
        if not isinstance(got, tuple):
            return got
        doc, elapsed = got
        try:
            return parse_summary(doc, fetched_at=time.time(), response_ms=elapsed, base_url=self.base)
        except NotThisFormat as exc:
            return _WrongApi(safe_url(self.base + SUMMARY_PATH), str(exc), 200)

    async def _rootly(self, client: httpx.AsyncClient) -> StatusPageSnapshot | SourceError | _WrongApi:
        got = await self._get_json(client, ROOTLY_STATUS_PATH)
        if not isinstance(got, tuple):
            return got
        status_doc, elapsed = got
        if not isinstance(status_doc, dict) or not isinstance(status_doc.get("status"), dict):
            return _WrongApi(safe_url(self.base + ROOTLY_STATUS_PATH), "no status.indicator", 200)
        components_doc: Any = None
        comps = await self._get_json(client, ROOTLY_COMPONENTS_PATH)
        if isinstance(comps, SourceError):
            return comps
        if isinstance(comps, tuple):
            components_doc, more = comps
            elapsed += more
        # a 404 or non-JSON here: the page publishes no component list
        incidents_doc: Any = None
        if not isinstance(status_doc.get("incidents"), list):
            incs = await self._get_json(client, ROOTLY_INCIDENTS_PATH + "?per_page=100")
            if isinstance(incs, SourceError):
                return incs
            if isinstance(incs, tuple):
                incidents_doc, more = incs
                elapsed += more
        try:
            return parse_rootly(status_doc, components_doc, incidents_doc, fetched_at=time.time(), response_ms=elapsed, base_url=self.base)
        except NotThisFormat as exc:
            return _WrongApi(safe_url(self.base + ROOTLY_STATUS_PATH), str(exc), 200)


class _WrongApi:
    """This URL does not speak the API we asked (404, HTML, other JSON)."""

    __slots__ = ("url", "why", "status")

    def __init__(self, url: str, why: str, status: int) -> None:
        self.url, self.why, self.status = url, why, status


def _stamp(result: StatusPageSnapshot | SourceError, started: float) -> StatusPageSnapshot | SourceError:
    """Total time of every request the fetch made."""
    if isinstance(result, StatusPageSnapshot):
        return replace(result, response_ms=(time.monotonic() - started) * 1000.0)
    return result
