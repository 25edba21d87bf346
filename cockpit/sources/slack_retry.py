"""slack-sdk's retry handlers, bounded, for :class:`~clay_cockpit.sources.slack.Slack`:

- :class:`RateLimitRetry` retries a 429 only while the Retry-After is at
  most ``max_wait`` seconds (a longer wait is reported, not slept in a worker);
- :class:`ConnectRetry` retries a failed connection — a message only when it
  cannot have reached Slack, idempotent methods also after a reset.

With the helpers the adapter shares: a header read case-insensitively
(:func:`_header`) and whether a failed request can have reached Slack
(:func:`_never_reached`).
"""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Callable, Mapping
from http.client import RemoteDisconnected
from typing import Any
from urllib.error import URLError

from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import (
    BackoffRetryIntervalCalculator,
)

from clay_cockpit.sources._errors import parse_retry_after

_IDEMPOTENT = ("auth.test", "chat.update", "conversations.info", "conversations.list", "conversations.replies", "conversations.history")


def _header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return value[0] if isinstance(value, (list, tuple)) and value else str(value)
    return None


class RateLimitRetry(RateLimitErrorRetryHandler):
    """slack-sdk's 429 handler, bounded: retries only while the Retry-After is
    at most ``max_wait`` seconds (a longer wait is reported, not slept in a
    worker), sleeping it (plus up to 0.5 s of jitter) with ``sleep``."""

    def __init__(self, max_retry_count: int, max_wait: float, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait = max_wait
        self.sleep = sleep

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:  # type: ignore[no-untyped-def]
        if not super()._can_retry(state=state, request=request, response=response, error=error):
            return False
        wait = parse_retry_after(_header(response.headers, "retry-after"))
        return wait is None or wait <= self.max_wait

    def prepare_for_next_attempt(self, *, state, request, response=None, error=None) -> None:  # type: ignore[no-untyped-def]
        wait = parse_retry_after(_header(response.headers if response is not None else None, "retry-after"))
        state.next_attempt_requested = True
        self.sleep((1.0 if wait is None else wait) + random.uniform(0.0, 0.5))
        state.increment_current_attempt()


def _never_reached(error: BaseException | None) -> bool:
    """The request cannot have reached Slack: refused, or the host not found."""
    seen = error
    for _ in range(6):
        if seen is None:
            return False
        if isinstance(seen, (ConnectionRefusedError, socket.gaierror)):
            return True
        seen = getattr(seen, "reason", None) if isinstance(seen, URLError) else (seen.__cause__ or seen.__context__)
    return False


class ConnectRetry(ConnectionErrorRetryHandler):
    """slack-sdk's connection-error handler, made safe for posting: a message
    is retried only when it cannot have reached Slack; idempotent methods also
    after a reset or a dropped connection. Backs off 0.5 s, 1 s, 2 s …"""

    def __init__(self, max_retry_count: int, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(max_retry_count=max_retry_count, error_types=[URLError, ConnectionResetError, RemoteDisconnected])
        self.sleep = sleep
        self._backoff = BackoffRetryIntervalCalculator(backoff_factor=0.5)

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:  # type: ignore[no-untyped-def]
        if not super()._can_retry(state=state, request=request, response=response, error=error):
            return False
        if _never_reached(error):
            return True
        method = request.url.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
        return method in _IDEMPOTENT and not isinstance(error, (TimeoutError, socket.timeout))

    def prepare_for_next_attempt(self, *, state, request, response=None, error=None) -> None:  # type: ignore[no-untyped-def]
        state.next_attempt_requested = True
        self.sleep(self._backoff.calculate_sleep_duration(state.current_attempt))
        state.increment_current_attempt()
