"""Does Clay accept this API key? One GET of ``clay.probe_url`` (``/v1/me``)
with the key in the configured header, over httpx, with a timeout.

Blocking (a thread worker calls it). Used for "verify the API key in the
Secret" (the key now in the Secret) and for a new key before it is written.
The key goes only into the request header; the answer carries its
fingerprint, never the key. Redirects are not followed (the key would follow
them to another host). Never raises.
"""

from __future__ import annotations

import time

import httpx

from clay_cockpit.actions.types import ProbeResult, ProbeVerdict, SecretValue
from clay_cockpit.config import ClayConfig
from clay_cockpit.sources import _identity as identity
from clay_cockpit.sources._errors import parse_retry_after, safe_url

MEANINGS = {
    200: "Clay accepts this key",
    401: "Clay refuses this key: revoked or unknown (401 Unauthorized)",
    403: "Clay refuses this key: not permitted or revoked (403 Forbidden)",
    429: "Clay is rate-limiting us (429): says nothing about the key — try again shortly",
}


def meaning(status: int) -> tuple[ProbeVerdict, str]:
    """What a probe's HTTP status says about the key."""
    if status == 200:
        return ProbeVerdict.VALID, f"200 OK: {MEANINGS[200]}"
    if status in (401, 403):
        return ProbeVerdict.INVALID, MEANINGS[status]
    if status == 429:
        return ProbeVerdict.RATE_LIMITED, MEANINGS[429]
    if 500 <= status <= 599:
        return ProbeVerdict.CLAY_ERROR, f"Clay failed ({status}): says nothing about the key — check Clay's status page"
    return ProbeVerdict.UNEXPECTED, f"unexpected {status} from the probe URL: check clay.probe_url"


def probe_key(config: ClayConfig, key: SecretValue, *, timeout: float, client: httpx.Client | None = None) -> ProbeResult:
    """Call the probe URL with ``key``; the status code and what it means."""
    fp = key.fingerprint
    where = safe_url(config.probe_url)
    if key.empty:
        return ProbeResult(ProbeVerdict.UNEXPECTED, None, "the key is empty: nothing to verify", fp)
    headers = {config.key_header: config.key_prefix + key.reveal(), "Accept": "application/json", **identity.headers()}
    started = time.monotonic()
    own = client is None
    http = client or httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False, headers=identity.headers())
    try:
        resp = http.get(config.probe_url, headers=headers, timeout=httpx.Timeout(timeout))
        status, retry_after = resp.status_code, parse_retry_after(resp.headers.get("retry-after"))
        resp.close()
    except httpx.TimeoutException:
        return ProbeResult(
            ProbeVerdict.TIMEOUT,
            None,
            f"no answer from {where} within {timeout:g} s: says nothing about the key",
            fp,
            (time.monotonic() - started) * 1000.0,
        )
    except httpx.HTTPError as exc:  # connect errors, TLS, protocol: name the type only (a message may quote the request)
        return ProbeResult(
            ProbeVerdict.UNREACHABLE,
            None,
            f"{where} unreachable ({type(exc).__name__}): says nothing about the key",
            fp,
            (time.monotonic() - started) * 1000.0,
        )
    finally:
        headers.clear()
        if own:
            http.close()
    verdict, text = meaning(status)
    if 300 <= status <= 399:
        text = f"{status} redirect from {where}: not followed (the key would go along); check clay.probe_url"
    return ProbeResult(verdict, status, text, fp, (time.monotonic() - started) * 1000.0, retry_after)


def probe_reachable(config: ClayConfig, *, timeout: float, client: httpx.Client | None = None) -> tuple[int | None, str, float]:
    """``clay-cockpit check``'s Clay row: one GET of the probe URL with NO key
    (nothing secret leaves the laptop). Any 401/403 is the expected answer
    of a reachable Clay that wants a key. (status or None, what it means, ms)."""
    where = safe_url(config.probe_url)
    started = time.monotonic()
    own = client is None
    http = client or httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False, headers=identity.headers())
    try:
        resp = http.get(config.probe_url, headers={"Accept": "application/json", **identity.headers()}, timeout=httpx.Timeout(timeout))
        status = resp.status_code
        resp.close()
    except httpx.TimeoutException:
        return None, f"no answer from {where} within {timeout:g} s", (time.monotonic() - started) * 1000.0
    except httpx.HTTPError as exc:
        return None, f"{where} unreachable ({type(exc).__name__})", (time.monotonic() - started) * 1000.0
    finally:
        if own:
            http.close()
    ms = (time.monotonic() - started) * 1000.0
    if status in (401, 403):
        return status, f"{where} answers ({status} without a key, as expected; the key was not sent)", ms
    if status == 200:
        return status, f"{where} answers 200 without a key (the key was not sent)", ms
    if 300 <= status <= 399:
        return status, f"{status} redirect from {where}: not followed; check clay.probe_url", ms
    return status, meaning(status)[1], ms
