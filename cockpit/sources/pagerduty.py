"""PagerDuty through its official client (``pagerduty`` 6.x, on httpx): the
open incidents of our services, acknowledge, resolve, notes, escalation
(Events API v2 trigger to the escalation target, or a reassignment to its
escalation policy), the page's timeline for the postmortem (issue 16), and
the reads ``clay-cockpit check`` proves the config with (the account's
abilities, each service, the escalation policy).

Blocking: call it from a thread worker. Every call has ``pagerduty.timeout``;
the client's own retries are bounded (no network retry, one 429 retry after a
short sleep), so no call blocks beyond about twice the timeout. Nothing
raises: every failure is a :class:`~clay_cockpit.signals.SourceError` whose
message is built from the status code, never from the client's text (its 401
message quotes part of the token). The token and routing key are read from the
environment on every call and never stored, logged or shown.
"""

from __future__ import annotations

import os
import ssl
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, NamedTuple

import httpx
import pagerduty

from clay_cockpit.config import PagerDutyConfig
from clay_cockpit.redact import register
from clay_cockpit.signals import ErrorKind, PagerDutyIncident, PagerDutySnapshot, PageTimeline, SourceError
from clay_cockpit.sources import _identity as identity
from clay_cockpit.sources._errors import http_status_error, make_error, safe_url, unexpected

SOURCE = "pagerduty"
MAX_PAGES = 10  # 1000 open incidents at most per poll (per list: the services', each key's)
MAX_KEYS = 20  # incident keys asked for per poll: the last ones given


class PagerDutyService(NamedTuple):
    id: str
    name: str
    status: str  # active, warning, critical, maintenance or disabled
    escalation_policy: str  # its name


def _when(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def parse_incident(raw: dict[str, Any]) -> PagerDutyIncident:
    acks = [_when(a.get("at")) for a in raw.get("acknowledgements") or [] if isinstance(a, dict)]
    return PagerDutyIncident(
        id=str(raw["id"]),
        number=int(raw.get("incident_number") or 0),
        title=str(raw.get("title") or raw.get("summary") or ""),
        status=str(raw.get("status") or ""),
        urgency=str(raw.get("urgency") or ""),
        service=str((raw.get("service") or {}).get("summary") or ""),
        assignees=tuple(str((a.get("assignee") or {}).get("summary") or "") for a in raw.get("assignments") or [] if isinstance(a, dict)),
        created_at=_when(raw.get("created_at")) or datetime.fromtimestamp(0).astimezone(),
        html_url=str(raw.get("html_url") or ""),
        acknowledged_at=min((a for a in acks if a is not None), default=None),
        escalation_policy=str((raw.get("escalation_policy") or {}).get("summary") or ""),
        incident_key=raw.get("incident_key"),
    )


class _Rest(pagerduty.RestApiV2Client):
    @property
    def user_agent(self) -> str:  # ours first, as every client of ours (sources._identity), then the client's own
        return f"{identity.user_agent()} {super().user_agent}"


class _Events(pagerduty.EventsApiV2Client):
    @property
    def user_agent(self) -> str:
        return f"{identity.user_agent()} {super().user_agent}"


class _Failed(Exception):
    def __init__(self, error: SourceError) -> None:
        self.error = error


class PagerDuty:
    """PagerDuty REST API v2 and Events API v2. Blocking; never raises."""

    name = SOURCE

    def __init__(
        self, config: PagerDutyConfig, *, environ: Mapping[str, str] | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.config = config
        self._environ = environ
        self._clock = clock

    # -- plumbing

    def _env(self, name: str) -> str:
        env = os.environ if self._environ is None else self._environ
        value = (env.get(name) or "").strip() if name else ""
        register(value, "pagerduty credential")
        return value

    def _verify(self) -> ssl.SSLContext | bool:
        if not self.config.ca_file:
            return True
        try:
            return ssl.create_default_context(cafile=self.config.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise _Failed(
                make_error(
                    SOURCE,
                    ErrorKind.CONFIG,
                    f"cannot read pagerduty.ca_file {self.config.ca_file}: {type(exc).__name__}",
                    "fix pagerduty.ca_file (a PEM file of CAs) or empty it to trust the system's",
                )
            ) from None

    def _bound(self, client: pagerduty.ApiClient) -> None:
        client.timeout = self.config.timeout  # type: ignore[assignment]  # httpx takes float seconds
        client.max_network_attempts = 0  # one try: a down or slow PagerDuty is reported, not waited on
        client.sleep_timer = 0.25
        client.retry = {429: 1}  # one retry after 0.5 s, then the 429 comes back to us

    def _rest(self) -> tuple[pagerduty.RestApiV2Client, str]:
        token = self._env(self.config.token_env)
        if not token:
            raise _Failed(
                make_error(
                    SOURCE,
                    ErrorKind.AUTH_EXPIRED,
                    f"no PagerDuty token: ${self.config.token_env or 'pagerduty.token_env'} is not set",
                    f"export {self.config.token_env or 'PAGERDUTY_API_TOKEN'}=<a REST API token> in the cockpit's environment",
                )
            )
        client = _Rest(token, default_from=self.config.from_email or None, base_url=self.config.api_url, verify=self._verify())
        self._bound(client)
        return client, token

    def _call(self, method: str, path: str, what: str, **kw: Any) -> Any:
        """One REST call → its JSON body; raises _Failed with the failure in words."""
        client, token = self._rest()
        secrets = (token,)
        try:
            with client:
                response = client.request(method, path, **kw)
        except pagerduty.HttpError as exc:  # a 401 (the client raises it; its message quotes the token's end)
            status = exc.response.status_code if exc.response is not None else 401
            raise _Failed(self._status(status, what, secrets)) from None
        except pagerduty.Error as exc:
            raise _Failed(self._transport(exc.__cause__ or exc, what)) from None
        except httpx.TransportError as exc:
            raise _Failed(self._transport(exc, what)) from None
        if not response.is_success:
            raise _Failed(self._status(response.status_code, what, secrets, response))
        if response.status_code == 204 or not response.content:
            return {}
        try:
            return response.json()
        except ValueError:
            raise _Failed(
                make_error(SOURCE, ErrorKind.BAD_RESPONSE, f"PagerDuty answered {what} with something that is not JSON", "")
            ) from None

    def _status(self, status: int, what: str, secrets: tuple[str, ...], response: httpx.Response | None = None) -> SourceError:
        detail = ""
        if response is not None:
            try:
                err = response.json().get("error") or {}
                detail = "; ".join(str(e) for e in err.get("errors") or []) or str(err.get("message") or "")
            except (ValueError, AttributeError):
                detail = ""
        hints = {
            ErrorKind.AUTH_EXPIRED: f"PagerDuty refused the token in ${self.config.token_env}: create a new REST API token and export it",
            ErrorKind.FORBIDDEN: "the token may not do this (a read-only token?): use a full-access or user token",
        }
        if status == 400 and "From" in detail:
            hints[ErrorKind.BAD_RESPONSE] = "set pagerduty.from_email to the email of a PagerDuty user"
        return http_status_error(SOURCE, status, f"PagerDuty ({what})", hints=hints, detail=detail[:160], secrets=secrets)

    def _transport(self, exc: BaseException, what: str) -> SourceError:
        where = safe_url(self.config.api_url)
        if isinstance(exc, httpx.TimeoutException):
            return make_error(SOURCE, ErrorKind.TIMEOUT, f"PagerDuty did not answer {what} within {self.config.timeout:g} s ({where})")
        return make_error(SOURCE, ErrorKind.UNREACHABLE, f"cannot reach PagerDuty at {where} ({type(exc).__name__})")

    def _guard(self, what: str, body: Callable[[], Any]) -> Any:
        try:
            return body()
        except _Failed as failed:
            return failed.error
        except Exception as exc:  # the contract: never raise into the caller
            return unexpected(SOURCE, exc, what)

    # -- reads

    def _list(self, params: dict[str, Any], found: dict[str, PagerDutyIncident]) -> None:
        """Every page of GET /incidents with ``params`` (at most MAX_PAGES) into ``found``, by id."""
        for page in range(MAX_PAGES):
            body = self._call("GET", "/incidents", "listing incidents", params={**params, "offset": page * 100})
            for raw in body.get("incidents") or []:
                inc = parse_incident(raw)
                found[inc.id] = inc
            if not body.get("more"):
                break

    def fetch(self, incident_keys: tuple[str, ...] = ()) -> PagerDutySnapshot | SourceError:
        """Triggered and acknowledged incidents of the configured services, and
        those whose ``incident_key`` is one of ``incident_keys`` (the dedup keys
        of the escalation events we sent: they land on the escalation target's
        service, which is not in ``service_ids``), newest first. One request per
        key (the REST API filters by one ``incident_key``), the last
        MAX_KEYS distinct keys at most."""

        def run() -> PagerDutySnapshot:
            started = time.monotonic()
            found: dict[str, PagerDutyIncident] = {}
            params: dict[str, Any] = {"statuses[]": ["triggered", "acknowledged"], "limit": 100}
            services = {"service_ids[]": list(self.config.service_ids)} if self.config.service_ids else {}
            self._list({**params, **services}, found)  # no service_ids (the config requires some): every open incident, as before
            for key in list(dict.fromkeys(k for k in incident_keys if k))[-MAX_KEYS:]:
                self._list({**params, "incident_key": key}, found)
            incidents = tuple(sorted(found.values(), key=lambda i: i.created_at, reverse=True))
            return PagerDutySnapshot(incidents, self._clock(), (time.monotonic() - started) * 1000)

        return self._guard("the incident list", run)  # type: ignore[no-any-return]

    # -- reads for `clay-cockpit check`

    def _one(self, path: str, what: str, missing: str, fix: str) -> dict[str, Any]:
        """GET one object; a 404 becomes a failure that names what is missing and the config key to fix."""
        try:
            body = self._call("GET", path, what)
        except _Failed as failed:
            if failed.error.status_code == 404:
                raise _Failed(make_error(SOURCE, ErrorKind.BAD_RESPONSE, missing, fix, status_code=404)) from None
            raise
        return body if isinstance(body, dict) else {}

    def abilities(self) -> tuple[str, ...] | SourceError:
        """GET /abilities: the account's abilities. A read that proves the token
        (account and user tokens alike; /users/me refuses account tokens)."""

        def run() -> tuple[str, ...]:
            body = self._call("GET", "/abilities", "reading the account's abilities")
            return tuple(str(a) for a in body.get("abilities") or [])

        return self._guard("the account's abilities", run)  # type: ignore[no-any-return]

    def service(self, service_id: str) -> PagerDutyService | SourceError:
        """GET /services/{id}: its name and status (a 404 names the ID)."""

        def run() -> PagerDutyService:
            body = self._one(
                f"/services/{service_id}",
                f"reading service {service_id}",
                f"PagerDuty has no service {service_id!r} that this token can see (HTTP 404)",
                "fix pagerduty.service_ids: a service's ID is the P… in its URL (Services → Service Directory)",
            )
            raw = body.get("service") or {}
            policy = raw.get("escalation_policy") or {}
            return PagerDutyService(
                id=service_id,
                name=str(raw.get("name") or raw.get("summary") or service_id),
                status=str(raw.get("status") or ""),
                escalation_policy=str(policy.get("summary") or ""),
            )

        return self._guard(f"service {service_id}", run)  # type: ignore[no-any-return]

    def escalation_policy(self, policy_id: str) -> str | SourceError:
        """GET /escalation_policies/{id}: its name (a 404 names the ID)."""

        def run() -> str:
            body = self._one(
                f"/escalation_policies/{policy_id}",
                f"reading escalation policy {policy_id}",
                f"PagerDuty has no escalation policy {policy_id!r} that this token can see (HTTP 404)",
                "fix pagerduty.escalation_policy_id: a policy's ID is the P… in its URL (People → Escalation Policies)",
            )
            raw = body.get("escalation_policy") or {}
            return str(raw.get("name") or raw.get("summary") or policy_id)

        return self._guard(f"escalation policy {policy_id}", run)  # type: ignore[no-any-return]

    def routing_key_set(self) -> bool:
        """Whether the escalation routing key's variable holds something. Never
        sends it: the only real test of an Events API key is an event, which
        pages someone."""
        return bool(self._env(self.config.escalation_routing_key_env))

    def page_timeline(self, incident_id: str) -> PageTimeline | SourceError:
        def run() -> PageTimeline:
            body = self._call("GET", f"/incidents/{incident_id}/log_entries", "reading the incident's log", params={"limit": 100})
            first: dict[str, datetime] = {}
            notes = 0
            for entry in body.get("log_entries") or []:
                kind = str(entry.get("type", "")).removesuffix("_log_entry")
                at = _when(entry.get("created_at"))
                if kind == "annotate":
                    notes += 1
                if at is not None and (kind not in first or at < first[kind]):
                    first[kind] = at
            return PageTimeline(incident_id, first.get("trigger"), first.get("acknowledge"), first.get("resolve"), notes)

        return self._guard("the incident's log", run)  # type: ignore[no-any-return]

    # -- writes

    def _update(self, incident_id: str, change: dict[str, Any], what: str) -> PagerDutyIncident | SourceError:
        def run() -> PagerDutyIncident:
            body = self._call("PUT", f"/incidents/{incident_id}", what, json={"incident": {"type": "incident_reference", **change}})
            return parse_incident(body["incident"])

        return self._guard(what, run)  # type: ignore[no-any-return]

    def acknowledge(self, incident_id: str) -> PagerDutyIncident | SourceError:
        return self._update(incident_id, {"status": "acknowledged"}, "acknowledging the incident")

    def resolve(self, incident_id: str) -> PagerDutyIncident | SourceError:
        return self._update(incident_id, {"status": "resolved"}, "resolving the incident")

    def set_urgency(self, incident_id: str, urgency: str) -> PagerDutyIncident | SourceError:
        """The incident's urgency (high / low): the severity mapping's (``pagerduty.p1_urgency`` …)."""
        return self._update(incident_id, {"urgency": urgency}, "changing the incident's urgency")

    def reassign(self, incident_id: str, policy_id: str) -> PagerDutyIncident | SourceError:
        ref = {"id": policy_id, "type": "escalation_policy_reference"}
        return self._update(incident_id, {"escalation_policy": ref}, "reassigning the incident")

    def add_note(self, incident_id: str, text: str) -> str | SourceError:
        def run() -> str:
            body = self._call("POST", f"/incidents/{incident_id}/notes", "adding a note", json={"note": {"content": text[:25000]}})
            return str(body["note"]["id"])

        return self._guard("adding a note", run)  # type: ignore[no-any-return]

    def escalate(self, *, dedup_key: str, summary: str, details: dict[str, str]) -> str | SourceError:
        """An Events API v2 trigger to the escalation target's service; its dedup key."""

        def run() -> str:
            key = self._env(self.config.escalation_routing_key_env)
            if not key:
                raise _Failed(
                    make_error(
                        SOURCE,
                        ErrorKind.CONFIG,
                        "no escalation routing key: "
                        + (
                            f"${self.config.escalation_routing_key_env} is not set"
                            if self.config.escalation_routing_key_env
                            else "pagerduty.escalation_routing_key_env is empty"
                        ),
                        "set pagerduty.escalation_routing_key_env to the variable holding the target service's Events API v2 integration key",
                    )
                )
            client = _Events(key, base_url=self.config.events_url, verify=self._verify())
            self._bound(client)
            event = {
                "routing_key": key,
                "event_action": "trigger",
                "dedup_key": dedup_key,
                "payload": {"summary": summary[:1024], "source": "clay-cockpit", "severity": "critical", "custom_details": dict(details)},
            }
            try:
                with client:
                    response = client.request("POST", "/v2/enqueue", json=event)
            except pagerduty.Error as exc:
                raise _Failed(self._transport(exc.__cause__ or exc, "the escalation event")) from None
            except httpx.TransportError as exc:
                raise _Failed(self._transport(exc, "the escalation event")) from None
            if response.status_code == 400:
                raise _Failed(
                    make_error(
                        SOURCE,
                        ErrorKind.CONFIG,
                        "PagerDuty's Events API refused the escalation event (HTTP 400): the routing key is wrong or the event invalid",
                        f"check ${self.config.escalation_routing_key_env} holds the escalation service's Events API v2 integration key",
                        status_code=400,
                        secrets=(key,),
                    )
                )
            if not response.is_success:
                raise _Failed(http_status_error(SOURCE, response.status_code, "PagerDuty Events API", secrets=(key,)))
            return str(response.json().get("dedup_key") or dedup_key)

        return self._guard("the escalation event", run)  # type: ignore[no-any-return]
