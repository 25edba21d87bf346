"""Our integration health endpoint (JSON, format in docs/drill-contract.md).

``{"status": "ok"|"degraded"|"down", "version": "...", "checks": {name:
{"status": "ok"|"degraded"|"fail", "detail": "..."}}}`` — HTTP 200 for ok and
degraded, 503 for down. A 503 that carries such a body is a reading
(``healthy=False``), not an error: the endpoint answered, and what it said is
exactly what the responder needs. Common synonyms (``UP``/``DOWN``,
``pass``/``warn``/``fail``, a list of checks) are read too.

An optional bearer token comes from the environment variable named by
``token_env``; it is read on every fetch (so a rotated token is picked up)
and never stored on the object or put in a message.
"""

from __future__ import annotations

import os
import time

import httpx

from clay_cockpit.config import HealthConfig
from clay_cockpit.redact import register
from clay_cockpit.sanitise import clean_line
from clay_cockpit.signals import ErrorKind, HealthCheck, HealthSnapshot, SourceError
from clay_cockpit.sources import _http
from clay_cockpit.sources import _identity as identity
from clay_cockpit.sources._errors import body_snippet, http_status_error, make_error, one_line, safe_url, unexpected

SOURCE = "health"

_OVERALL = {
    "ok": "ok", "up": "ok", "healthy": "ok", "pass": "ok", "passing": "ok", "green": "ok",
    "degraded": "degraded", "warn": "degraded", "warning": "degraded", "partial": "degraded", "yellow": "degraded",
    "down": "down", "fail": "down", "failing": "down", "unhealthy": "down", "error": "down",
    "critical": "down", "out_of_service": "down", "red": "down",
}  # fmt: skip
_CHECK = {"ok": "ok", "degraded": "degraded", "down": "fail"}


class BadHealthBody(ValueError):
    """The body is not the health JSON we read."""


def normalise(value: object) -> str | None:
    """ok / degraded / down for a status word, None if unknown."""
    if not isinstance(value, str):
        return None
    return _OVERALL.get(value.strip().lower().replace("-", "_").replace(" ", "_"))


def _check(name: str, value: object) -> HealthCheck:
    if isinstance(value, str):
        raw, detail = value, ""
    elif isinstance(value, dict):
        raw = value.get("status", "")
        detail = value.get("detail") or value.get("message") or value.get("output") or ""
    else:
        raw, detail = "", ""
    overall = normalise(raw)
    status = _CHECK[overall] if overall else (one_line(raw, 20).lower() or "unknown")
    return HealthCheck(name=clean_line(name), status=status, detail=one_line(detail, 300), ok=status == "ok")


def parse_health(doc: object, *, http_status: int = 200, response_ms: float = 0.0, fetched_at: float = 0.0) -> HealthSnapshot:
    """The endpoint's JSON → snapshot. Raises BadHealthBody."""
    if not isinstance(doc, dict):
        raise BadHealthBody("expected a JSON object")
    status = normalise(doc.get("status"))
    if status is None:
        raise BadHealthBody(f"status {one_line(doc.get('status'), 30)!r} is not one of ok, degraded, down")
    checks_raw = doc.get("checks") or {}
    checks: list[HealthCheck] = []
    if isinstance(checks_raw, dict):
        checks = [_check(str(name), value) for name, value in checks_raw.items()]
    elif isinstance(checks_raw, list):
        for i, item in enumerate(checks_raw):
            name = str(item.get("name") or f"check {i + 1}") if isinstance(item, dict) else f"check {i + 1}"
            checks.append(_check(name, item))
    else:
        raise BadHealthBody("checks is neither an object nor a list")
    version = doc.get("version")
    return HealthSnapshot(
        status=status,
        healthy=status == "ok",
        checks=tuple(checks),
        http_status=http_status,
        response_ms=response_ms,
        fetched_at=fetched_at,
        version=clean_line(version) if isinstance(version, (str, int, float)) else None,
    )


class Health:
    """Polls our health endpoint. ``fetch()`` never raises."""

    name = SOURCE

    def __init__(self, config: HealthConfig) -> None:
        self.config = config

    def __repr__(self) -> str:
        return f"Health({safe_url(self.config.url)!r})"

    def _token(self) -> str:
        token = os.environ.get(self.config.token_env, "") if self.config.token_env else ""
        register(token, "health token")
        return token

    def _hints(self) -> dict[ErrorKind, str]:
        env = self.config.token_env
        if env:
            auth = f"the endpoint refused the token in ${env}: put a valid one there and the next poll uses it"
            forbidden = f"the token in ${env} is valid but not allowed to read health: ask for a token with that access"
        else:
            auth = "the endpoint wants a token: set health.token_env to the variable holding one"
            forbidden = "the endpoint refuses this client: set health.token_env to a token allowed to read health"
        return {
            ErrorKind.AUTH_EXPIRED: auth,
            ErrorKind.FORBIDDEN: forbidden,
            ErrorKind.UNREACHABLE: ("nothing answers at health.url: our pods may be down (see the pods pane) or the URL/port is wrong"),
            ErrorKind.TIMEOUT: "our service accepted the connection but did not answer in time: it may be overloaded or hung",
            ErrorKind.SERVER_ERROR: "the endpoint itself failed without a health report: check the pods and their logs",
        }

    async def fetch(self) -> HealthSnapshot | SourceError:
        token = self._token()
        secrets = (token,) if token else ()
        try:
            headers = {"Accept": "application/json"}
            if token:
                headers["Authorization"] = f"Bearer {token}"
            async with httpx.AsyncClient(follow_redirects=True, max_redirects=3, headers=identity.headers()) as client:
                got = await _http.get(
                    client, SOURCE, self.config.url, timeout=self.config.timeout, headers=headers, hints=self._hints(), secrets=secrets
                )
            if isinstance(got, SourceError):
                return got
            return self._read(got, secrets)
        except Exception as exc:  # outermost boundary: never raise into the UI
            return unexpected(SOURCE, exc, safe_url(self.config.url), secrets)

    def _read(self, got: _http.Fetched, secrets: tuple[str, ...]) -> HealthSnapshot | SourceError:
        ok, doc = got.json()
        if got.status == 200 or got.status == 503:
            if ok:
                try:
                    return parse_health(doc, http_status=got.status, response_ms=got.elapsed_ms, fetched_at=time.time())
                except BadHealthBody as exc:
                    if got.status == 200:
                        return make_error(
                            SOURCE,
                            ErrorKind.BAD_RESPONSE,
                            f"{got.url} answered 200 but {exc}",
                            "check health.url points at our JSON health endpoint (not a plain liveness probe)",
                            status_code=200,
                            secrets=secrets,
                        )
            elif got.status == 200:
                return make_error(
                    SOURCE,
                    ErrorKind.BAD_RESPONSE,
                    f"{got.url} answered 200 with a body that is not JSON: {body_snippet(got.body)!r}",
                    "check health.url points at our JSON health endpoint",
                    status_code=200,
                    secrets=secrets,
                )
        detail = ""
        if ok and isinstance(doc, dict):
            detail = one_line(doc.get("error") or doc.get("message") or "", 120)
        if 200 <= got.status < 300:
            return make_error(
                SOURCE,
                ErrorKind.BAD_RESPONSE,
                f"{got.url} answered HTTP {got.status} instead of a health report",
                "check health.url points at our JSON health endpoint",
                status_code=got.status,
                secrets=secrets,
            )
        return http_status_error(
            SOURCE, got.status, got.url, hints=self._hints(), retry_after=got.retry_after, detail=detail, secrets=secrets
        )
