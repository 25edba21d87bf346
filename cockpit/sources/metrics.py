"""Prometheus via prometheus-api-client: instant + range values of every
configured query, from the primary or the first backup that answers.

Blocking (requests underneath): call :meth:`Metrics.fetch` from a thread.

Failover. A server *fails over* when it is unreachable, times out, answers
5xx or 429, or sends something that is not a Prometheus answer (malformed
JSON). Then the next URL in ``backup_urls`` is asked, in order. A Prometheus
error body (``{"status":"error","errorType":"bad_data",...}``, HTTP 400/422)
or a 401/403 does *not* fail over: the query or the credentials are wrong,
and a backup would say the same; that is returned as an error naming the
query.

Not paying a timeout on every poll while the primary is down: once a backup
has answered, later polls go straight to that backup (the *serving* server).
Every :attr:`Metrics.primary_retry_every`-th poll the primary is probed with
``GET /-/ready`` and a short timeout (at most :data:`PROBE_TIMEOUT` seconds);
only if it answers (anything but 5xx/429) does that poll ask the primary again, and if the
primary then serves, it becomes the serving server again. While a backup
serves, ``MetricsSnapshot.failovers`` carries why the primary (and any backup
before the serving one) was skipped, with the time it last failed.

Retries: prometheus-api-client mounts a urllib3 ``Retry`` that retries 429 and
5xx three times with backoff; we mount one that never retries, so a failing
server costs one request, not four, and failover happens at once.
"""

from __future__ import annotations

import ast
import functools
import json
import math
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import requests
import urllib3
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from urllib3.util.retry import Retry

from clay_cockpit.config import MetricsConfig, QueryConfig
from clay_cockpit.redact import register
from clay_cockpit.sanitise import clean_line
from clay_cockpit.signals import ErrorKind, MetricsSnapshot, Series, SourceError
from clay_cockpit.sources import _identity as identity
from clay_cockpit.sources._bounded import TOO_LARGE_HINT, BodyTooLarge, cap_session, limit_text
from clay_cockpit.sources._errors import (
    body_snippet,
    kind_for_status,
    make_error,
    one_line,
    parse_retry_after,
    safe_url,
    status_text,
    unexpected,
)

SOURCE = "metrics"
PROBE_TIMEOUT = 1.0
_T = TypeVar("_T")
# kinds after which the next server is asked
FAILOVER_KINDS = frozenset({ErrorKind.UNREACHABLE, ErrorKind.TIMEOUT, ErrorKind.SERVER_ERROR, ErrorKind.RATE_LIMITED})

_STATUS_RE = re.compile(r"HTTP Status Code (\d{3}) \((.*)\)\s*$", re.S)


class _Failed(Exception):
    """One server failed one request; carries the SourceError and whether a
    malformed (non-Prometheus) answer should fail over like an outage."""

    def __init__(self, error: SourceError, failover: bool) -> None:
        super().__init__(error.message)
        self.error = error
        self.failover = failover


# --------------------------------------------------------------------------
# Parsing (pure)


def sample_value(raw: object) -> float | None:
    """A Prometheus sample value ("1.5", "NaN", "+Inf") → finite float or None."""
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def series_labels(query: QueryConfig, metric: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The labels that tell this query's series apart (made inert: label
    values are anyone's text, see :mod:`clay_cockpit.sanitise`).

    With ``split_by``: just that label. Without: every label but ``__name__``
    (empty for an aggregated query such as ``sum(rate(...))``).
    """
    if query.split_by:
        return ((query.split_by, clean_line(metric.get(query.split_by, ""))),)
    return tuple(sorted((clean_line(k), clean_line(v)) for k, v in metric.items() if k != "__name__"))


def series_key(query: QueryConfig, labels: tuple[tuple[str, str], ...]) -> str:
    """Stable across polls: "errors_by_code:429", "request_rate"."""
    if not labels:
        return query.name
    if query.split_by:
        return f"{query.name}:{labels[0][1]}"
    return query.name + ":" + ",".join(f"{k}={v}" for k, v in labels)


def _human_label(query: QueryConfig, labels: tuple[tuple[str, str], ...]) -> str:
    base = query.label or query.name
    if not labels:
        return base
    if query.split_by:
        return f"{base} {labels[0][1] or '(none)'}"
    return base + " {" + ",".join(f"{k}={v}" for k, v in labels) + "}"


def _sort_key(labels: tuple[tuple[str, str], ...]) -> tuple[tuple[int, float, str], ...]:
    return tuple((0, float(v), "") if _is_number(v) else (1, 0.0, v) for _, v in labels)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _instant_items(result: Any) -> list[tuple[dict[str, Any], object]]:
    """(metric, value) pairs of an instant answer: vector or scalar."""
    if isinstance(result, list) and len(result) == 2 and not isinstance(result[0], dict):
        return [({}, result[1])]  # resultType scalar: [ts, "v"]
    out = []
    for item in result or []:
        if not isinstance(item, dict) or not isinstance(item.get("metric", {}), dict):
            raise ValueError("instant result entries must be objects with a metric")
        value = item.get("value")
        out.append((item.get("metric") or {}, value[1] if isinstance(value, list) and len(value) == 2 else None))
    return out


def _eval_time(result: Any) -> float | None:
    """The evaluation timestamp Prometheus put on an instant answer."""
    if isinstance(result, list) and len(result) == 2 and not isinstance(result[0], (dict, list)):
        return sample_value(result[0])  # scalar
    for item in result if isinstance(result, list) else ():
        value = item.get("value") if isinstance(item, dict) else None
        if isinstance(value, list) and len(value) == 2:
            return sample_value(value[0])
    return None


def build_series(query: QueryConfig, instant: Any, matrix: Any, max_points: int) -> list[Series]:
    """One Series per distinct label set; values scaled; non-finite dropped.

    Raises ValueError when the answers are not Prometheus vectors/matrices.
    """
    current: dict[tuple[tuple[str, str], ...], float | None] = {}
    points: dict[tuple[tuple[str, str], ...], list[tuple[float, float]]] = {}
    for metric, raw in _instant_items(instant):
        value = sample_value(raw)
        current[series_labels(query, metric)] = None if value is None else value * query.scale
    if not isinstance(matrix, list):
        raise ValueError("range result must be a list")
    for item in matrix:
        if not isinstance(item, dict) or not isinstance(item.get("values", []), list):
            raise ValueError("range result entries must be objects with values")
        labels = series_labels(query, item.get("metric") or {})
        acc = points.setdefault(labels, [])
        for pair in item.get("values") or []:
            if not isinstance(pair, list) or len(pair) != 2:
                raise ValueError("range values must be [time, value] pairs")
            value = sample_value(pair[1])
            ts = sample_value(pair[0])
            if value is not None and ts is not None:
                acc.append((ts, value * query.scale))
    out = []
    for labels in sorted(set(current) | set(points), key=_sort_key):
        pts = sorted(points.get(labels, ()))[-max_points:] if max_points > 0 else []
        out.append(
            Series(
                key=series_key(query, labels),
                query=query.name,
                label=_human_label(query, labels),
                unit=query.unit,
                labels=labels,
                current=current.get(labels),
                points=tuple(pts),
            )
        )
    return out


def prometheus_error(body: object) -> tuple[str, str] | None:
    """(errorType, error) of a Prometheus error body, else None."""
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body)
        except (UnicodeDecodeError, ValueError):
            return None
    if isinstance(body, dict) and body.get("status") == "error":
        return str(body.get("errorType") or "error"), one_line(body.get("error") or "", 160)
    return None


def split_client_exception(exc: PrometheusApiClientException) -> tuple[int | None, bytes]:
    """HTTP status and body from prometheus-api-client's exception text,
    ``"HTTP Status Code 400 (b'{...}')"``."""
    match = _STATUS_RE.search(str(exc))
    if not match:
        return None, b""
    status = int(match.group(1))
    try:
        body = ast.literal_eval(match.group(2))
    except (ValueError, SyntaxError):
        body = b""
    return status, body if isinstance(body, bytes) else b""


# --------------------------------------------------------------------------
# The source


@dataclass
class _Server:
    url: str
    client: PrometheusConnect
    session: requests.Session
    last_error: SourceError | None = None
    retry_after: str | None = None  # the last answer's Retry-After (prometheus-api-client's exception drops the headers)


class Metrics:
    """Polls Prometheus; ``fetch()`` never raises. See the module docstring
    for failover and how the primary is re-tried."""

    name = SOURCE
    primary_retry_every = 4  # polls between probes of a failed primary

    def __init__(self, config: MetricsConfig) -> None:
        self.config = config
        self.urls: tuple[str, ...] = (config.url.rstrip("/"), *(u.rstrip("/") for u in config.backup_urls))
        self._servers: dict[int, _Server] = {}  # built on first use: no I/O here
        self._serving = 0
        self._polls_on_backup = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Metrics({safe_url(self.urls[0])!r}, backups={len(self.urls) - 1}, serving={safe_url(self.urls[self._serving])!r})"

    @property
    def serving_url(self) -> str:
        return self.urls[self._serving]

    def _token(self) -> str:
        token = os.environ.get(self.config.token_env, "") if self.config.token_env else ""
        register(token, "prometheus token")
        return token

    def _server(self, index: int, token: str) -> _Server:
        server = self._servers.get(index)
        if server is None:
            url = self.urls[index]
            # bodies read in bounded chunks (BodyTooLarge past 4 MiB), complete within connect + read timeout
            session = cap_session(requests.Session(), total=2 * self.config.timeout)
            session.headers.update(identity.headers())  # PrometheusConnect sends through this session
            no_retry = Retry(total=0, connect=0, read=0, redirect=3, status=0, other=0, raise_on_status=False)
            client = PrometheusConnect(url=url, session=session, retry=no_retry, timeout=self.config.timeout)
            server = self._servers[index] = _Server(url=url, client=client, session=session)
            session.hooks["response"].insert(0, lambda response, **_: setattr(server, "retry_after", response.headers.get("retry-after")))
        server.client.headers = {"Authorization": f"Bearer {token}"} if token else None
        return server

    def close(self) -> None:
        with self._lock:
            for server in self._servers.values():
                server.session.close()
            self._servers.clear()

    # readiness (clay-cockpit check) -------------------------------------------

    def metric_names(self, index: int) -> set[str] | SourceError:
        """One server asked directly (0 the primary, n backup n; no failover):
        the metric names it has (/api/v1/label/__name__/values) — it is up
        and answering the API."""
        return self._direct(index, QueryConfig(name="metric names", query="__name__"), lambda server: set(server.client.all_metrics()))

    def series_count(self, index: int, query: QueryConfig) -> int | SourceError:
        """How many series one query returns now on one server."""

        def run(server: _Server) -> int:
            result = server.client.custom_query(query.query)
            if not isinstance(result, list):
                raise TypeError("data.result is not a list")
            return len(result)

        return self._direct(index, query, run)

    def _direct(self, index: int, query: QueryConfig, call: Callable[[_Server], _T]) -> _T | SourceError:
        token = self._token()
        secrets = (token,) if token else ()
        with self._lock:
            try:
                server = self._server(index, token)
                return self._call(server, query, secrets, lambda: call(server))
            except _Failed as failed:
                return failed.error
            except Exception as exc:  # outermost boundary: never raise into the caller
                return unexpected(SOURCE, exc, safe_url(self.urls[index]), secrets)

    # polling -----------------------------------------------------------------

    def fetch(self) -> MetricsSnapshot | SourceError:
        token = self._token()
        secrets = (token,) if token else ()
        with self._lock:
            try:
                return self._fetch(token)
            except Exception as exc:  # outermost boundary: never raise into the caller
                return unexpected(SOURCE, exc, safe_url(self.serving_url), secrets)

    def _order(self, token: str) -> list[int]:
        """Which servers to ask this poll, in order."""
        everyone = list(range(len(self.urls)))
        if self._serving == 0:
            return everyone
        self._polls_on_backup += 1
        if self._polls_on_backup % self.primary_retry_every == 0 and self._probe(0, token):
            return everyone
        return [self._serving] + [i for i in everyone if i != self._serving and i != 0] + [0]

    def _probe(self, index: int, token: str) -> bool:
        server = self._server(index, token)
        try:
            resp = server.session.get(
                f"{server.url}/-/ready", headers=server.client.headers, timeout=min(PROBE_TIMEOUT, self.config.timeout)
            )
        except requests.RequestException as exc:
            server.last_error = self._transport_error(exc, server.url)
            return False
        except BodyTooLarge:
            server.last_error = self._too_large(server.url, "/-/ready")
            return False
        # any answer but 5xx/429 means "it is back": a proxy may not expose /-/ready (404)
        if resp.status_code >= 500 or resp.status_code == 429:
            server.last_error = make_error(
                SOURCE,
                kind_for_status(resp.status_code),
                f"{safe_url(server.url)}/-/ready answered {status_text(resp.status_code)}",
                "Prometheus is up but not ready (starting, or its storage is failing); the backup keeps serving",
                status_code=resp.status_code,
            )
            return False
        return True

    def _fetch(self, token: str) -> MetricsSnapshot | SourceError:
        secrets = (token,) if token else ()
        order = self._order(token)
        tried: list[SourceError] = []
        for index in order:
            server = self._server(index, token)
            started = time.monotonic()
            try:
                series = self._query_all(server, secrets)
            except _Failed as failed:
                server.last_error = failed.error
                if failed.error.kind in FAILOVER_KINDS or failed.failover:
                    tried.append(failed.error)
                    continue
                return failed.error
            except Exception as exc:  # an answer (or a dying server) we do not understand: this server failed, ask the next
                server.last_error = unexpected(SOURCE, exc, safe_url(server.url), secrets)
                tried.append(server.last_error)
                continue
            server.last_error = None
            if index != self._serving:
                self._serving = index
                self._polls_on_backup = 0
            return MetricsSnapshot(
                series=tuple(series),
                served_by=safe_url(server.url),
                is_backup=index != 0,
                fetched_at=time.time(),
                response_ms=(time.monotonic() - started) * 1000.0,
                failovers=self._failovers(index, tried),
                no_data=tuple((q.name, q.label or q.name) for q in self.config.queries if not any(x.query == q.name for x in series)),
            )
        self._serving = 0  # nobody answered: next poll starts from the primary again
        self._polls_on_backup = 0
        return self._all_failed(tried)

    def _failovers(self, serving: int, tried: list[SourceError]) -> tuple[SourceError, ...]:
        """Why each server before the serving one is not serving (its latest
        failure, from this poll or remembered), plus what failed this poll."""
        if serving == 0:
            return ()
        out = []
        for index in sorted(self._servers):
            error = self._servers[index].last_error
            if index != serving and error is not None and (index < serving or error in tried):
                out.append(error)
        return tuple(out)

    def _all_failed(self, errors: list[SourceError]) -> SourceError:
        first = errors[0]
        if len(errors) == 1:
            hint = first.hint
            if len(self.urls) == 1:
                hint += "; add metrics.backup_urls to fail over to another Prometheus"
            return make_error(SOURCE, first.kind, first.message, hint, status_code=first.status_code, retry_after=first.retry_after)
        parts = "; ".join(e.message for e in errors)
        return make_error(
            SOURCE,
            first.kind,
            f"no Prometheus answered ({len(errors)} tried): {parts}",
            "the primary and every backup failed: check the monitoring stack; pods, logs and health still work",
            status_code=first.status_code,
        )

    def _query_all(self, server: _Server, secrets: tuple[str, ...]) -> list[Series]:
        """Every instant query first, then every range query ending at the
        server's own evaluation time (from the instant answers), so a client
        clock that is off — or a drill's frozen clock — still gets the
        history that belongs to the current values."""
        instants = []
        for query in self.config.queries:
            instants.append(self._call(server, query, secrets, functools.partial(server.client.custom_query, query.query)))
        server_now = next((t for t in map(_eval_time, instants) if t is not None), None)
        end_ts = server_now if server_now is not None else time.time()
        end = datetime.fromtimestamp(end_ts, UTC)
        start = datetime.fromtimestamp(end_ts - self.config.history, UTC)
        step = f"{self.config.step:g}"
        max_points = int(self.config.history / self.config.step) + 2
        out: list[Series] = []
        for query, instant in zip(self.config.queries, instants):
            matrix = self._call(
                server,
                query,
                secrets,
                functools.partial(server.client.custom_query_range, query.query, start_time=start, end_time=end, step=step),
            )
            try:
                out.extend(build_series(query, instant, matrix, max_points))
            except ValueError as exc:
                raise _Failed(self._malformed(server, query, str(exc)), failover=True) from None
        return out

    def _call(self, server: _Server, query: QueryConfig, secrets: tuple[str, ...], call: Callable[[], _T]) -> _T:
        try:
            return call()
        except PrometheusApiClientException as exc:
            raise _Failed(self._status_error(server, query, exc, secrets), failover=False) from None
        except requests.exceptions.JSONDecodeError:
            raise _Failed(self._malformed(server, query, "the answer is not JSON"), failover=True) from None
        except BodyTooLarge:
            raise _Failed(self._too_large(server.url, f"query {query.name!r}"), failover=True) from None
        except requests.RequestException as exc:
            raise _Failed(self._transport_error(exc, server.url), failover=False) from None
        except (KeyError, TypeError, IndexError) as exc:
            raise _Failed(self._malformed(server, query, f"no data.result ({type(exc).__name__})"), failover=True) from None

    # errors ------------------------------------------------------------------

    def _malformed(self, server: _Server, query: QueryConfig, why: str) -> SourceError:
        return make_error(
            SOURCE,
            ErrorKind.BAD_RESPONSE,
            f"{safe_url(server.url)} sent a malformed answer to query {query.name!r}: {why}",
            "check metrics.url points at the Prometheus HTTP API (not a proxy login page or Grafana)",
        )

    def _status_error(
        self, server: _Server, query: QueryConfig, exc: PrometheusApiClientException, secrets: tuple[str, ...]
    ) -> SourceError:
        status, body = split_client_exception(exc)
        shown = safe_url(server.url)
        if status is None:
            return make_error(SOURCE, ErrorKind.BAD_RESPONSE, f"query {query.name!r} on {shown} failed: {exc}", secrets=secrets)
        kind = kind_for_status(status)
        perr = prometheus_error(body)
        if perr:
            detail = f"{perr[0]}: {perr[1]}"
        else:
            snippet = body_snippet(body, 60)
            detail = status_text(status) + (f" ({snippet})" if snippet else "")
        message = f"query {query.name!r} on {shown}: {detail}"
        env = self.config.token_env
        if kind is ErrorKind.BAD_RESPONSE:
            hint = f"Prometheus rejected the PromQL of metrics.queries.{query.name}: fix the query in the config"
            if status == 404:
                hint = "check metrics.url is the Prometheus base URL (the API lives under /api/v1)"
        elif kind is ErrorKind.AUTH_EXPIRED:
            hint = f"Prometheus refused the token in ${env}: refresh it" if env else "Prometheus wants a token: set metrics.token_env"
        elif kind is ErrorKind.FORBIDDEN:
            hint = "the token is valid but may not query this Prometheus: ask the monitoring team for access"
        elif kind is ErrorKind.RATE_LIMITED:
            wait = parse_retry_after(server.retry_after)
            hint = "Prometheus (or its proxy) is throttling us" + (
                f" and asks to wait {wait:.0f}s (polls slow down until then)" if wait is not None else ""
            )
            hint += "; the backup is asked meanwhile if there is one"
        elif kind is ErrorKind.SERVER_ERROR:
            hint = "Prometheus failed to answer; the backup is asked if there is one — check the Prometheus server"
        else:
            hint = ""
        retry_after = parse_retry_after(server.retry_after) if kind is ErrorKind.RATE_LIMITED else None
        return make_error(SOURCE, kind, message, hint, status_code=status, retry_after=retry_after, secrets=secrets)

    def _too_large(self, url: str, what: str) -> SourceError:
        backup_hint = "; the backup is asked if there is one" if len(self.urls) > 1 else ""
        return make_error(
            SOURCE,
            ErrorKind.BAD_RESPONSE,
            f"{safe_url(url)} sent more than {limit_text()} for {what}: not read",
            TOO_LARGE_HINT + backup_hint,
        )

    def _transport_error(self, exc: requests.RequestException, url: str) -> SourceError:
        shown = safe_url(url)
        backup_hint = "; the backup is asked if there is one" if len(self.urls) > 1 else ""
        # With retries off, urllib3 wraps a read timeout in MaxRetryError and
        # requests reports that as a ConnectionError: look at the cause.
        cause = exc.args[0].reason if exc.args and isinstance(exc.args[0], urllib3.exceptions.MaxRetryError) else None
        timed_out = isinstance(cause, (urllib3.exceptions.ReadTimeoutError, urllib3.exceptions.ConnectTimeoutError)) and not isinstance(
            cause, urllib3.exceptions.NewConnectionError
        )
        # ConnectTimeout is both a ConnectionError and a Timeout: timeouts first
        if timed_out or isinstance(exc, requests.exceptions.Timeout):
            return make_error(
                SOURCE,
                ErrorKind.TIMEOUT,
                f"no answer from {shown} within {self.config.timeout:g}s",
                "Prometheus is slow or hung (an expensive query?)" + backup_hint,
            )
        if isinstance(exc, requests.exceptions.SSLError):
            return make_error(SOURCE, ErrorKind.UNREACHABLE, f"TLS with {shown} failed", "check the certificate of metrics.url (or its CA)")
        if isinstance(exc, requests.exceptions.ConnectionError):
            text = str(exc).lower()
            if "refused" in text:
                why = "connection refused"
            elif "name or service not known" in text or "nodename nor servname" in text or "failed to resolve" in text:
                why = "host name not found"
            elif "aborted" in text or "reset" in text or "remotedisconnected" in text:
                why = "connection dropped"
            else:
                why = one_line(type(exc).__name__)
            return make_error(
                SOURCE, ErrorKind.UNREACHABLE, f"cannot reach {shown}: {why}", "Prometheus is down or unreachable from here" + backup_hint
            )
        if isinstance(exc, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)):
            return make_error(
                SOURCE,
                ErrorKind.UNREACHABLE,
                f"{shown} dropped the answer midway",
                "Prometheus or a proxy cut the connection" + backup_hint,
            )
        return make_error(
            SOURCE,
            ErrorKind.UNREACHABLE,
            f"request to {shown} failed: {type(exc).__name__}",
            "check metrics.url" + backup_hint,
        )
