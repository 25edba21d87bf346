"""Our public status page, through the Statuspage management API (v1) with
httpx: create an incident, post updates with a status (investigating /
identified / monitoring / resolved), set the affected components' status.

``Authorization: OAuth <key>``; the key is read from the environment
variable named by ``external_status.token_env`` on every call and never
stored, logged or put in a message. Page and component ids come from the
config.

Blocking (``httpx.Client``): call it from a thread worker. Every request has
a timeout. Retries are bounded: a 429 is retried after its Retry-After while
that is at most ``max_wait`` seconds (``max_retries`` times), a refused
connection (the request never left) likewise after a short back-off; a
timeout is never retried (a create may have happened). Every failure comes
back as a :class:`~clay_cockpit.signals.SourceError` with a hint; nothing raises.
A create or update whose answer was lost — a timeout or a reset after the
request left, a 500/502/504, a 2xx that is cut, not UTF-8 or not an incident —
is a :class:`StatusApiError` with ``maybe_sent``: the change may have been
made. A create carries the cockpit's marker in the incident's ``metadata``
and :meth:`StatusApi.find_marked` finds it among the unresolved incidents.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from clay_cockpit.config import ExternalStatusConfig
from clay_cockpit.redact import register
from clay_cockpit.sanitise import clean, clean_line
from clay_cockpit.signals import ErrorKind, SourceError
from clay_cockpit.sources import _identity as identity
from clay_cockpit.sources._errors import (
    body_snippet,
    http_status_error,
    make_error,
    one_line,
    parse_retry_after,
    safe_url,
    unexpected,
)
from clay_cockpit.sources._http import _reason

SOURCE = "statusapi"
DEFAULT_TIMEOUT = 10.0
DEFAULT_RETRIES = 2
DEFAULT_MAX_WAIT = 30.0
MAX_BODY = 2 * 1024 * 1024
_WRITES = ("POST", "PATCH", "PUT")
INCIDENT_STATUSES = ("investigating", "identified", "monitoring", "resolved")
COMPONENT_STATUSES = ("operational", "under_maintenance", "degraded_performance", "partial_outage", "major_outage")


MARKER_KEY = "clay_cockpit"  # the incident metadata the cockpit writes on create: {"clay_cockpit": {"draft": …, "incident": …}}
_AMBIGUOUS_STATUS = (500, 502, 504)  # the origin, or a gateway after the origin got it: the change may have been made


@dataclass(frozen=True, slots=True)
class StatusApiError(SourceError):
    """A SourceError that knows whether the change may have been made anyway
    (the request left, and the answer was lost, cut, garbled or a 500/502/504)."""

    maybe_sent: bool = False


def _maybe(err: SourceError, maybe: bool = True) -> StatusApiError:
    return StatusApiError(err.source, err.kind, err.message, err.hint, err.at, err.status_code, err.retry_after, maybe)


@dataclass(frozen=True, slots=True)
class PageComponent:
    id: str
    name: str
    status: str


@dataclass(frozen=True, slots=True)
class PageIncident:
    """An incident on our status page, as the API returned it."""

    id: str
    name: str
    status: str  # investigating / identified / monitoring / resolved
    impact: str
    shortlink: str
    components: tuple[PageComponent, ...]
    updates: int  # how many updates it has
    latest_body: str  # the newest update's text
    updated_at: str
    marker: tuple[tuple[str, str], ...] = ()  # the cockpit's marker in its metadata (empty: not ours, or none)


def _component(raw: object) -> PageComponent | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        return None
    return PageComponent(raw["id"], clean_line(raw.get("name") or raw["id"]), clean_line(raw.get("status") or "unknown"))


def parse_incident(raw: object) -> PageIncident | None:
    """The API's incident JSON → :class:`PageIncident` (None when it is not one)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not raw["id"]:
        return None
    updates = found if isinstance(found := raw.get("incident_updates"), list) else []
    newest = updates[0] if updates and isinstance(updates[0], dict) else {}
    comps = tuple(c for c in (_component(x) for x in raw.get("components") or ()) if c is not None)
    return PageIncident(
        # texts made inert (clay_cockpit.sanitise); the id and the marker stay as sent: they identify the incident
        id=raw["id"],
        name=clean_line(raw.get("name") or ""),
        status=clean_line(raw.get("status") or ""),
        impact=clean_line(raw.get("impact") or ""),
        shortlink=clean_line(raw.get("shortlink") or ""),
        components=comps,
        updates=len(updates),
        latest_body=clean(newest.get("body") or ""),
        updated_at=clean_line(raw.get("updated_at") or ""),
        marker=_marker(raw.get("metadata")),
    )


def _marker(metadata: object) -> tuple[tuple[str, str], ...]:
    ours = metadata.get(MARKER_KEY) if isinstance(metadata, dict) else None
    return tuple(sorted((str(k), str(v)) for k, v in ours.items())) if isinstance(ours, dict) else ()


class StatusApi:
    """Our status page's management API. Blocking; every method returns a
    value or a :class:`SourceError` and never raises."""

    name = SOURCE

    def __init__(
        self,
        config: ExternalStatusConfig,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_RETRIES,
        max_wait: float = DEFAULT_MAX_WAIT,
        sleep: Callable[[float], None] = time.sleep,
        environ: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config = config
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_wait = max_wait
        self._sleep = sleep
        self._environ = environ
        self._transport = transport
        self._base = config.api_url.rstrip("/")

    # -- plumbing

    def _key(self) -> str:
        env = os.environ if self._environ is None else self._environ
        key = (env.get(self.config.token_env) or "").strip() if self.config.token_env else ""
        register(key, "status page API key")
        return key

    def _precheck(self) -> SourceError | str:
        """The key, or why no request can be made."""
        if not self.config.page_id:
            return make_error(
                SOURCE,
                ErrorKind.BAD_RESPONSE,
                "no status page configured: external_status.page_id is empty",
                "set external_status.page_id (Statuspage: your page → API info); the draft is kept",
            )
        key = self._key()
        if not key:
            env = self.config.token_env
            if not env:
                return make_error(
                    SOURCE,
                    ErrorKind.AUTH_EXPIRED,
                    "no status page API key: external_status.token_env is empty",
                    "set external_status.token_env to the environment variable that holds the key",
                )
            return make_error(
                SOURCE,
                ErrorKind.AUTH_EXPIRED,
                f"no status page API key: ${env} is not set",
                f"export {env}=<your Statuspage API key> in the cockpit's environment, then retry; the draft is kept",
            )
        return key

    def _request(self, method: str, path: str, what: str, body: dict[str, Any] | None = None, *, on_page: bool = True) -> Any | SourceError:
        """One API call with bounded retries → the decoded JSON, or the failure."""
        key = self._precheck()
        if isinstance(key, SourceError):
            return key
        url = f"{self._base}/pages/{self.config.page_id}{path}" if on_page else f"{self._base}{path}"
        shown = safe_url(url)
        headers = {"Authorization": f"OAuth {key}", "Accept": "application/json"}
        secrets = (key,)
        attempt = 0
        try:
            with httpx.Client(
                timeout=httpx.Timeout(self.timeout), transport=self._transport, follow_redirects=False, headers=identity.headers()
            ) as client:
                while True:
                    try:
                        resp = client.request(method, url, headers=headers, json=body)
                    except httpx.ConnectError as exc:
                        if attempt < self.max_retries:  # refused / DNS: the request never left, safe to repeat
                            attempt += 1
                            self._sleep(0.5 * 2 ** (attempt - 1))
                            continue
                        return make_error(
                            SOURCE,
                            ErrorKind.UNREACHABLE,
                            f"cannot reach the status page API at {shown} for {what}: {_reason(exc)}"
                            + (f" (tried {attempt + 1} times)" if attempt else ""),
                            "check the network and external_status.api_url; the draft is kept — retry when it is reachable",
                            secrets=secrets,
                        )
                    if resp.status_code == 429 and attempt < self.max_retries:
                        wait = parse_retry_after(resp.headers.get("retry-after"))
                        if wait is None or wait <= self.max_wait:
                            attempt += 1
                            self._sleep((1.0 if wait is None else wait) + random.uniform(0.0, 0.5))
                            continue
                    got = self._answer(resp, what, shown, secrets, attempt)
                    if (
                        isinstance(got, SourceError)
                        and method in _WRITES
                        and (resp.status_code in _AMBIGUOUS_STATUS or 200 <= resp.status_code < 300)
                    ):
                        return _maybe(got)  # the answer was lost or garbled after the change was (maybe) made
                    return got
        except httpx.TimeoutException as exc:
            left = method in _WRITES and not isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout))  # the request was sent
            hint = "check the status page API and the network path to it; the draft is kept"
            if left:
                hint = (
                    "the incident may have been created anyway: the next send looks for it before creating another; the draft is kept"
                    if method == "POST"
                    else "the change may have been made anyway: the next send looks for it before sending again; the draft is kept"
                )
            return _maybe(
                make_error(
                    SOURCE, ErrorKind.TIMEOUT, f"the status page API did not answer {what} within {self.timeout:g}s", hint, secrets=secrets
                ),
                left,
            )
        except httpx.HTTPError as exc:  # reset, dropped or a broken answer after the request left
            return _maybe(
                make_error(
                    SOURCE,
                    ErrorKind.UNREACHABLE,
                    f"the connection to {shown} failed during {what}: {_reason(exc)}",
                    "check the network; the change may have been made — the next send looks for it first",
                    secrets=secrets,
                ),
                method in _WRITES,
            )
        except Exception as exc:  # the outermost net: the UI must never see a raise
            return unexpected(SOURCE, exc, f"the status page API's answer to {what}", secrets=secrets)

    def _answer(self, resp: httpx.Response, what: str, shown: str, secrets: tuple[str, ...], retries: int) -> Any | SourceError:
        content = resp.content[:MAX_BODY]
        try:
            data = json.loads(content) if content else None
        except ValueError:
            data = None
        if resp.status_code >= 300:
            detail = data.get("error") if isinstance(data, dict) else None
            detail = one_line(detail if isinstance(detail, str) else (body_snippet(content) or ""), 160)
            retry_after = parse_retry_after(resp.headers.get("retry-after"))
            hints = {
                ErrorKind.AUTH_EXPIRED: f"the key in ${self.config.token_env} was refused: put a valid Statuspage API key there and retry; the draft is kept",
                ErrorKind.FORBIDDEN: "the key is not allowed to change this page: ask a page admin for a key with write access",
                ErrorKind.RATE_LIMITED: (
                    f"the draft is kept — retry in {retry_after:.0f}s"
                    if retry_after is not None
                    else "the draft is kept — retry in a minute"
                )
                + (f" (already retried {retries} times)" if retries else ""),
                ErrorKind.SERVER_ERROR: "the status page's side failed, not the update; the draft is kept — retry shortly",
            }
            if resp.status_code == 404:
                return make_error(
                    SOURCE,
                    ErrorKind.BAD_RESPONSE,
                    f"the status page API could not find what {what} needs ({detail or 'HTTP 404'})",
                    "check external_status.page_id and component_ids; a deleted incident needs a new one",
                    status_code=404,
                    secrets=secrets,
                )
            if resp.status_code in (400, 422):
                return make_error(
                    SOURCE,
                    ErrorKind.BAD_RESPONSE,
                    f"the status page API rejected {what}: {detail or resp.status_code}",
                    "fix what it names (component ids, status) and retry; the draft is kept",
                    status_code=resp.status_code,
                    secrets=secrets,
                )
            return http_status_error(
                SOURCE,
                resp.status_code,
                f"the status page API ({what})",
                hints=hints,
                retry_after=retry_after,
                detail=detail,
                secrets=secrets,
            )
        if data is None:
            return make_error(
                SOURCE,
                ErrorKind.BAD_RESPONSE,
                f"the status page API answered {what} with something that is not JSON: {body_snippet(content) or 'an empty body'}",
                f"check external_status.api_url ({safe_url(self._base)}) points at the management API (…/v1)",
                secrets=secrets,
            )
        return data

    def _incident(self, data: Any | SourceError, what: str, *, write: bool = False) -> PageIncident | SourceError:
        if isinstance(data, SourceError):
            return data
        inc = parse_incident(data)
        if inc is None:
            return _maybe(
                make_error(
                    SOURCE,
                    ErrorKind.BAD_RESPONSE,
                    f"the status page API answered {what} without an incident",
                    "check external_status.api_url points at the Statuspage management API; the change may have "
                    "been made — the next send looks for it first",
                ),
                write,
            )
        return inc

    # -- what the cockpit does

    def pages(self) -> list[dict[str, Any]] | SourceError:
        """GET /pages: the pages this key may manage (proves the key is accepted)."""
        data = self._request("GET", "/pages", "the page list", on_page=False)
        if isinstance(data, SourceError):
            return data
        if not isinstance(data, list):
            return make_error(SOURCE, ErrorKind.BAD_RESPONSE, "the page list is not a list", "check external_status.api_url")
        return [p for p in data if isinstance(p, dict)]

    def components(self) -> tuple[PageComponent, ...] | SourceError:
        """Every component of the page (for names, and to check component_ids)."""
        data = self._request("GET", "/components", "the component list")
        if isinstance(data, SourceError):
            return data
        if not isinstance(data, list):
            return make_error(SOURCE, ErrorKind.BAD_RESPONSE, "the component list is not a list", "check external_status.api_url")
        return tuple(c for c in (_component(x) for x in data[:500]) if c is not None)

    def get_incident(self, incident_id: str) -> PageIncident | SourceError:
        return self._incident(self._request("GET", f"/incidents/{incident_id}", "the incident lookup"), "the incident lookup")

    def create_incident(
        self,
        *,
        name: str,
        status: str,
        body: str,
        components: Mapping[str, str] | None = None,
        deliver_notifications: bool = True,
        marker: Mapping[str, str] | None = None,
    ) -> PageIncident | SourceError:
        """A new incident with its first update; ``components`` maps component
        id → status (set in the same request); ``marker`` goes into the
        incident's metadata (``{"clay_cockpit": marker}``) so :meth:`find_marked`
        finds it when the answer to this create was lost."""
        bad = _check(status, components)
        if bad is not None:
            return bad
        # what leaves is inert too (clay_cockpit.sanitise): no control or bidi character on a public page
        fields: dict[str, Any] = {
            "name": clean_line(name),
            "status": status,
            "body": clean(body),
            "deliver_notifications": deliver_notifications,
        }
        if components:
            fields |= {"components": dict(components), "component_ids": list(components)}
        if marker:
            fields["metadata"] = {MARKER_KEY: {str(k): str(v) for k, v in marker.items()}}
        return self._incident(self._request("POST", "/incidents", "the new incident", {"incident": fields}), "the new incident", write=True)

    def find_marked(self, marker: Mapping[str, str]) -> PageIncident | None | SourceError:
        """The page's unresolved incident carrying ``marker`` in its metadata
        (GET …/incidents/unresolved); None when there is none."""
        data = self._request("GET", "/incidents/unresolved", "the look for the incident sent before")
        if isinstance(data, SourceError):
            return data
        if not isinstance(data, list):
            return make_error(
                SOURCE, ErrorKind.BAD_RESPONSE, "the list of unresolved incidents is not a list", "check external_status.api_url"
            )
        want = tuple(sorted((str(k), str(v)) for k, v in marker.items()))
        for raw in data[:500]:
            inc = parse_incident(raw)
            if inc is not None and inc.marker == want:
                return inc
        return None

    def update_incident(
        self,
        incident_id: str,
        *,
        status: str | None = None,
        body: str | None = None,
        components: Mapping[str, str] | None = None,
        name: str | None = None,
        deliver_notifications: bool = True,
    ) -> PageIncident | SourceError:
        """An update of ``incident_id``: new status and/or text, component statuses."""
        bad = _check(status, components)
        if bad is not None:
            return bad
        fields: dict[str, Any] = {"deliver_notifications": deliver_notifications}
        for key, value in (
            ("status", status),
            ("body", None if body is None else clean(body)),
            ("name", None if name is None else clean_line(name)),
        ):
            if value is not None:
                fields[key] = value
        if components:
            fields |= {"components": dict(components), "component_ids": list(components)}
        what = "the incident update"
        return self._incident(self._request("PATCH", f"/incidents/{incident_id}", what, {"incident": fields}), what, write=True)

    def set_component(self, component_id: str, status: str) -> PageComponent | SourceError:
        """Set one component's status directly (outside an incident update)."""
        bad = _check(None, {component_id: status})
        if bad is not None:
            return bad
        data = self._request(
            "PATCH", f"/components/{component_id}", f"the status of component {component_id}", {"component": {"status": status}}
        )
        if isinstance(data, SourceError):
            return data
        comp = _component(data)
        if comp is None:
            return make_error(
                SOURCE, ErrorKind.BAD_RESPONSE, "the status page API answered without a component", "check external_status.api_url"
            )
        return comp


def _check(status: str | None, components: Mapping[str, str] | None) -> SourceError | None:
    """Refuse what the API would refuse, before sending it."""
    if status is not None and status not in INCIDENT_STATUSES:
        return make_error(
            SOURCE, ErrorKind.BAD_RESPONSE, f"status {status!r} is not one of {', '.join(INCIDENT_STATUSES)}", "pick one of those"
        )
    for cid, cstatus in (components or {}).items():
        if cstatus not in COMPONENT_STATUSES:
            return make_error(
                SOURCE,
                ErrorKind.BAD_RESPONSE,
                f"component {cid}: status {cstatus!r} is not one of {', '.join(COMPONENT_STATUSES)}",
                "pick one of those",
            )
    return None
