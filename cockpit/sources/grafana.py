"""Grafana through ``grafana-client`` 3.x (on requests): annotations on the
configured dashboards, tagged with the incident, and links to them for the
incident's time range (issue 16); for ``clay-cockpit check``, the token's
organisation (an authenticated read: /api/health needs no token).

Blocking: call it from a thread worker. Every request has
``grafana.timeout``; nothing raises (a :class:`~clay_cockpit.signals.SourceError`
instead); the token is read from the environment on every call and never
shown: messages are built from status codes, not the client's text.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from grafana_client import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException, GrafanaServerError, TokenAuth

from clay_cockpit.config import GrafanaConfig
from clay_cockpit.redact import register
from clay_cockpit.signals import ErrorKind, SourceError
from clay_cockpit.sources import _identity as identity
from clay_cockpit.sources._errors import http_status_error, make_error, safe_url, unexpected

SOURCE = "grafana"


class _Failed(Exception):
    def __init__(self, error: SourceError) -> None:
        self.error = error


class Grafana:
    """Grafana's HTTP API. Blocking; never raises."""

    name = SOURCE

    def __init__(self, config: GrafanaConfig, *, environ: Mapping[str, str] | None = None) -> None:
        self.config = config
        self._environ = environ
        self._meta: dict[str, tuple[str, str]] = {}  # uid → (title, /d/uid/slug), once read

    def _token(self) -> str:
        env = os.environ if self._environ is None else self._environ
        token = (env.get(self.config.token_env) or "").strip() if self.config.token_env else ""
        register(token, "grafana token")
        return token

    def _api(self) -> tuple[GrafanaApi, str]:
        token = self._token()
        if not token:
            raise _Failed(
                make_error(
                    SOURCE,
                    ErrorKind.AUTH_EXPIRED,
                    f"no Grafana token: ${self.config.token_env or 'grafana.token_env'} is not set",
                    f"export {self.config.token_env or 'GRAFANA_TOKEN'}=<a service account token> in the cockpit's environment",
                )
            )
        url = urlsplit(self.config.url)
        prefix = url.path.strip("/")
        api = GrafanaApi(
            auth=TokenAuth(token),
            host=url.hostname or "localhost",
            port=url.port,
            url_path_prefix=prefix + "/" if prefix else "",
            protocol=url.scheme,
            verify=self.config.ca_file or True,
            timeout=self.config.timeout,
            user_agent=identity.user_agent(),
        )
        return api, token

    def _do(self, what: str, call: Callable[[GrafanaApi], Any], missing: tuple[str, str] | None = None) -> Any:
        """One call through the client; failures raise _Failed. ``missing``:
        the (message, hint) of a 404, naming what is not there."""
        api, token = self._api()
        try:
            return call(api)
        except GrafanaException as exc:
            status = int(exc.status_code or 0)
            hints = {ErrorKind.AUTH_EXPIRED: f"Grafana refused the token in ${self.config.token_env}: create a new service account token"}
            if status == 404 and missing is not None:
                raise _Failed(
                    make_error(SOURCE, ErrorKind.BAD_RESPONSE, missing[0], missing[1], status_code=404, secrets=(token,))
                ) from None
            if isinstance(exc, (GrafanaClientError, GrafanaServerError)) and status:
                detail = exc.response.get("message", "") if isinstance(exc.response, dict) else ""
                raise _Failed(
                    http_status_error(SOURCE, status, f"Grafana ({what})", hints=hints, detail=str(detail)[:120], secrets=(token,))
                ) from None
            raise _Failed(make_error(SOURCE, ErrorKind.BAD_RESPONSE, f"Grafana failed {what}", "", secrets=(token,))) from None
        except requests.Timeout:
            raise _Failed(
                make_error(
                    SOURCE,
                    ErrorKind.TIMEOUT,
                    f"Grafana did not answer {what} within {self.config.timeout:g} s ({safe_url(self.config.url)})",
                )
            ) from None
        except requests.ConnectionError as exc:
            raise _Failed(
                make_error(SOURCE, ErrorKind.UNREACHABLE, f"cannot reach Grafana at {safe_url(self.config.url)} ({type(exc).__name__})")
            ) from None
        except ValueError:
            raise _Failed(
                make_error(SOURCE, ErrorKind.BAD_RESPONSE, f"Grafana answered {what} with something that is not JSON", "")
            ) from None
        finally:
            api.client.s.close()

    def _guard(self, what: str, body: Callable[[], Any]) -> Any:
        try:
            return body()
        except _Failed as failed:
            return failed.error
        except Exception as exc:  # the contract: never raise into the caller
            return unexpected(SOURCE, exc, what)

    def annotate(self, text: str, tags: tuple[str, ...], at: float, end: float | None = None) -> tuple[int, ...] | SourceError:
        """One annotation per configured dashboard (``at``/``end`` epoch seconds); their IDs."""

        def run() -> tuple[int, ...]:
            ids = []
            for uid in self.config.dashboard_uids:

                def add(api: GrafanaApi, uid: str = uid) -> Any:
                    return api.annotations.add_annotation(
                        dashboard_uid=uid, time_from=int(at * 1000), time_to=int((end or at) * 1000), tags=list(tags), text=text
                    )

                made = self._do("adding an annotation", add)
                ids.append(int(made["id"]))
            return tuple(ids)

        return self._guard("adding an annotation", run)  # type: ignore[no-any-return]

    def dashboard(self, uid: str) -> tuple[str, str] | SourceError:
        """(title, path like /d/uid/slug) of one dashboard."""

        def run() -> tuple[str, str]:
            if uid not in self._meta:
                body = self._do(
                    f"reading dashboard {uid}",
                    lambda api: api.dashboard.get_dashboard(uid),
                    missing=(
                        f"Grafana has no dashboard {uid!r} that this token can see (HTTP 404)",
                        "fix grafana.dashboard_uids: a dashboard's UID is in its URL, /d/<uid>/<name>",
                    ),
                )
                self._meta[uid] = (str(body["dashboard"].get("title") or uid), str(body["meta"].get("url") or f"/d/{uid}"))
            return self._meta[uid]

        return self._guard(f"dashboard {uid}", run)  # type: ignore[no-any-return]

    def dashboard_links(self, start: float, end: float | None) -> tuple[tuple[str, str], ...] | SourceError:
        """(title, absolute URL with from=/to= in ms; to=now while open) per configured dashboard."""
        base = self.config.url.rstrip("/")
        root = f"{urlsplit(base).scheme}://{urlsplit(base).netloc}"
        links = []
        for uid in self.config.dashboard_uids:
            meta = self.dashboard(uid)
            if isinstance(meta, SourceError):
                return meta
            title, path = meta
            to = "now" if end is None else str(int(end * 1000))
            url = (root + path if path.startswith(urlsplit(base).path or "/") else base + path) + f"?from={int(start * 1000)}&to={to}"
            links.append((title, url))
        return tuple(links)

    def org(self) -> str | SourceError:
        """GET /api/org: the name of the token's organisation. Proves the token
        (a service account token belongs to one organisation)."""

        def run() -> str:
            body = self._do("reading the organisation", lambda api: api.organization.get_current_organization())
            return str(body.get("name") or "?") if isinstance(body, dict) else "?"

        return self._guard("the organisation", run)  # type: ignore[no-any-return]

    def health(self) -> dict[str, Any] | SourceError:
        return self._guard("health", lambda: self._do("the health check", lambda api: api.health.check()))  # type: ignore[no-any-return]
