"""The response-target clock: deadlines by severity (next business day across
weekends and DST), the warning/error levels and the header text."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from clay_cockpit.incident.lifecycle import (
    Clock,
    ClockLevel,
    format_duration,
    next_business_morning,
    response_deadline,
)
from clay_cockpit.runbook import Severity

BERLIN = ZoneInfo("Europe/Berlin")
T0 = datetime(2026, 1, 7, 14, 30, tzinfo=BERLIN).timestamp()  # a Wednesday


@pytest.mark.parametrize(("severity", "seconds"), [(Severity.P1, 15 * 60), (Severity.P2, 3600), (Severity.P3, 4 * 3600)])
def test_fixed_targets(severity: Severity, seconds: int) -> None:
    assert response_deadline(severity, T0, BERLIN) == T0 + seconds


@pytest.mark.parametrize(
    ("declared", "due"),
    [
        ("2026-01-07 14:30", "2026-01-08 09:00"),  # Wednesday → Thursday
        ("2026-01-09 17:00", "2026-01-12 09:00"),  # Friday → Monday
        ("2026-01-09 23:59", "2026-01-12 09:00"),  # Friday night → Monday
        ("2026-01-10 03:00", "2026-01-12 09:00"),  # Saturday → Monday
        ("2026-01-11 22:00", "2026-01-12 09:00"),  # Sunday → Monday
        ("2026-01-12 06:00", "2026-01-13 09:00"),  # Monday before nine → Tuesday: the *next* business day
        ("2026-03-27 16:00", "2026-03-30 09:00"),  # Friday → Monday across the switch to summer time
        ("2026-10-23 10:00", "2026-10-26 09:00"),  # and back to winter time
        ("2025-12-31 12:00", "2026-01-01 09:00"),  # holidays are not known: New Year's Day counts
    ],
)
def test_p4_is_due_the_next_business_day_at_nine_local_time(declared: str, due: str) -> None:
    at = datetime.strptime(declared, "%Y-%m-%d %H:%M").replace(tzinfo=BERLIN).timestamp()
    deadline = response_deadline(Severity.P4, at, BERLIN)
    assert datetime.fromtimestamp(deadline, BERLIN).strftime("%Y-%m-%d %H:%M") == due


def test_p4_summer_time_weekend_is_one_hour_shorter() -> None:
    fri = datetime(2026, 3, 27, 9, 0, tzinfo=BERLIN).timestamp()
    assert next_business_morning(fri, BERLIN) - fri == 3 * 86400 - 3600


def test_p4_in_another_zone_and_in_local_time() -> None:
    tokyo = timezone(timedelta(hours=9))
    at = datetime(2026, 1, 9, 20, 0, tzinfo=tokyo).timestamp()  # Friday evening in Tokyo, Friday noon in Berlin
    assert datetime.fromtimestamp(next_business_morning(at, tokyo), tokyo) == datetime(2026, 1, 12, 9, 0, tzinfo=tokyo)
    local = datetime.fromtimestamp(next_business_morning(T0))  # the machine's zone, whatever it is
    assert (local.hour, local.minute) == (9, 0) and local.weekday() < 5
    assert local.date() > datetime.fromtimestamp(T0).date()


def test_levels_ok_warning_error() -> None:
    clock = Clock(Severity.P1, T0, T0 + 900)
    assert clock.target == 900
    assert clock.level(T0) == ClockLevel.OK
    assert clock.level(T0 + 599) == ClockLevel.OK  # 301 s left: more than a third
    assert clock.level(T0 + 601) == ClockLevel.WARNING  # 299 s left
    assert clock.level(T0 + 899.9) == ClockLevel.WARNING
    assert clock.level(T0 + 900) == ClockLevel.ERROR
    assert clock.level(T0 + 5000) == ClockLevel.ERROR
    assert clock.remaining(T0 + 1000) == -100


def test_a_stopped_clock_keeps_its_remaining_time_and_level() -> None:
    met = Clock(Severity.P2, T0, T0 + 3600, stopped_at=T0 + 3000)
    assert met.remaining(T0 + 10_000) == 600 and met.level(T0 + 10_000) == ClockLevel.WARNING
    late = Clock(Severity.P2, T0, T0 + 3600, stopped_at=T0 + 3700)
    assert late.level(T0 + 10_000) == ClockLevel.ERROR and late.text(T0) == "missed by 1:40"


def test_header_text() -> None:
    clock = Clock(Severity.P1, T0, T0 + 900)
    assert clock.text(T0) == "15:00 left"
    assert clock.text(T0 + 899.5) == "0:00 left"
    assert clock.text(T0 + 963) == "overdue 1:03"
    assert format_duration(3725) == "1:02:05"
    assert format_duration(-59) == "0:59"
    assert format_duration(2 * 86400 + 3 * 3600 + 4 * 60) == "2d 03:04"
