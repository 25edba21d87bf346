"""The rate-limit headers our service last saw from Clay, read from its logs.

Our pods log each failed Clay call in logfmt with the response's rate-limit
headers (docs/drill-contract.md)::

    level=warn msg="clay call failed" ... status=429 ... x-ratelimit-limit=600 x-ratelimit-remaining=0 x-ratelimit-reset=37 retry-after=37

:func:`rate_limits_seen` finds the newest such line in
``Signals.recent_logs`` and says what it means, for the actions pane next to
the queuing action. Pure; never raises on odd lines.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from clay_cockpit.signals import LogLine

_FIELD = re.compile(
    r"(?:^|\s)(x-ratelimit-limit|x-ratelimit-remaining|x-ratelimit-reset|ratelimit-limit|ratelimit-remaining|ratelimit-reset|retry-after)"
    r'=("?)([^\s"]{1,40})\2(?=\s|$)',
    re.IGNORECASE,
)
_STATUS_429 = re.compile(r"(?:^|\s)status=\"?429\"?(?=\s|$)")
EPOCH_FLOOR = 1_000_000_000  # a reset this large is a Unix time, not seconds


@dataclass(frozen=True, slots=True)
class RateLimitInfo:
    """The newest rate-limit headers in the logs, and how many 429s were seen."""

    limit: int | None
    remaining: int | None
    reset_seconds: float | None  # until the window resets, as of the line
    retry_after: float | None
    pod: str
    seen_at: datetime | None  # the line's timestamp, when the API gave one
    count_429: int  # 429 lines among the lines looked at
    lines: int  # lines looked at

    def text(self) -> str:
        """``Clay rate limit 0/600 left, resets in 37 s, Retry-After 37 s — 12×429 in the last 200 log lines (clay-sync-…)``."""
        parts = []
        if self.limit is not None or self.remaining is not None:
            left = "?" if self.remaining is None else str(self.remaining)
            cap = "?" if self.limit is None else str(self.limit)
            parts.append(f"{left}/{cap} left")
        if self.reset_seconds is not None:
            parts.append(f"resets in {self.reset_seconds:.0f} s")
        if self.retry_after is not None:
            parts.append(f"Retry-After {self.retry_after:.0f} s")
        head = "Clay rate limit " + (", ".join(parts) or "headers seen")
        tail = f"{self.count_429}×429 in the last {self.lines} log lines"
        when = f", {self.seen_at.strftime('%H:%M:%S')}" if self.seen_at is not None else ""
        return f"{head} — {tail} ({self.pod}{when})"

    def to_dict(self) -> dict[str, object]:
        return {
            "limit": self.limit,
            "remaining": self.remaining,
            "reset_seconds": self.reset_seconds,
            "retry_after": self.retry_after,
            "pod": self.pod,
            "count_429": self.count_429,
            "lines": self.lines,
            "seen_at": self.seen_at.isoformat() if self.seen_at else None,
        }


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_fields(text: str) -> dict[str, float]:
    """The rate-limit fields of one log line, keys lower-cased without the ``x-`` prefix."""
    out: dict[str, float] = {}
    for m in _FIELD.finditer(text):
        value = _number(m.group(3))
        if value is not None:
            out[m.group(1).lower().removeprefix("x-")] = value
    return out


def rate_limits_seen(lines: Sequence[LogLine]) -> RateLimitInfo | None:
    """The newest line with rate-limit headers (None if there is none)."""
    count = sum(1 for ln in lines if _STATUS_429.search(ln.text))
    for ln in reversed(lines):
        fields = parse_fields(ln.text)
        if not fields:
            continue
        reset = fields.get("ratelimit-reset")
        if reset is not None and reset >= EPOCH_FLOOR:
            reset = reset - ln.ts.timestamp() if ln.ts is not None else None
        limit, remaining = fields.get("ratelimit-limit"), fields.get("ratelimit-remaining")
        return RateLimitInfo(
            limit=int(limit) if limit is not None else None,
            remaining=int(remaining) if remaining is not None else None,
            reset_seconds=max(0.0, reset) if reset is not None else None,
            retry_after=max(0.0, fields["retry-after"]) if "retry-after" in fields else None,
            pod=ln.pod,
            seen_at=ln.ts,
            count_429=count,
            lines=len(lines),
        )
    return None
