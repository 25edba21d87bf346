"""The rate-limit headers our service last saw, from its log lines (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from clay_cockpit.actions.ratelimit import parse_fields, rate_limits_seen
from clay_cockpit.signals import LogLine

LIMITED = (
    'level=warn msg="clay call failed" method=POST endpoint=/v1/people/enrich status=429 duration_ms=38 '
    "x-ratelimit-limit=600 x-ratelimit-remaining=0 x-ratelimit-reset=37 retry-after=37"
)
OK = 'level=info msg="clay call" method=POST endpoint=/v1/people/enrich status=200 duration_ms=142'
T0 = datetime(2026, 1, 1, 0, 0, 10, tzinfo=UTC)


def line(text: str, pod: str = "clay-sync-abc-1", ts: datetime | None = T0) -> LogLine:
    return LogLine(pod, text, ts)


def test_contract_line() -> None:
    info = rate_limits_seen([line(OK), line(LIMITED), line(OK)])
    assert info is not None
    assert (info.limit, info.remaining, info.reset_seconds, info.retry_after) == (600, 0, 37.0, 37.0)
    assert (info.pod, info.count_429, info.lines, info.seen_at) == ("clay-sync-abc-1", 1, 3, T0)
    assert (
        info.text()
        == "Clay rate limit 0/600 left, resets in 37 s, Retry-After 37 s — 1×429 in the last 3 log lines (clay-sync-abc-1, 00:00:10)"
    )
    assert info.to_dict()["limit"] == 600


def test_newest_line_wins_and_429s_are_counted() -> None:
    newer = LIMITED.replace("reset=37", "reset=5").replace("retry-after=37", "retry-after=5")
    info = rate_limits_seen([line(LIMITED), line(OK), line(newer, pod="p2")])
    assert info is not None and info.reset_seconds == 5 and info.pod == "p2" and info.count_429 == 2


def test_other_spellings() -> None:
    assert parse_fields('RateLimit-Limit=100 X-RateLimit-Remaining="7" Retry-After=2.5') == {
        "ratelimit-limit": 100.0,
        "ratelimit-remaining": 7.0,
        "retry-after": 2.5,
    }
    epoch = int(T0.timestamp()) + 30
    info = rate_limits_seen([line(f"status=429 x-ratelimit-reset={epoch}")])
    assert info is not None and info.reset_seconds == 30 and info.limit is None
    assert "?/? left" not in info.text() and "resets in 30 s" in info.text()
    no_ts = rate_limits_seen([line(f"x-ratelimit-reset={epoch}", ts=None)])
    assert no_ts is not None and no_ts.reset_seconds is None


def test_nothing_seen() -> None:
    assert rate_limits_seen([]) is None
    assert rate_limits_seen([line(OK), line("x-ratelimit-limit=abc retry-after=nan-ish")]) is None
    assert parse_fields("my-x-ratelimit-limit=5 x-ratelimit-limit=") == {}


@given(st.lists(st.text(max_size=120), max_size=20))
def test_never_raises(texts: list[str]) -> None:
    info = rate_limits_seen([line(t) for t in texts])
    if info is not None:
        assert isinstance(info.text(), str)
