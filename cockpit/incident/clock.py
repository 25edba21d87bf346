"""The response-target clock of an incident: deadlines by severity (15 min,
1 h, 4 h, the next business morning), the warning/error levels and the
header text. Part of :mod:`clay_cockpit.incident.lifecycle` (which re-exports these names).

Pure standard library.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum

from clay_cockpit.runbook import SEVERITIES, Severity

WARNING_FRACTION = 1 / 3  # the clock turns warning when less than this share of the target is left
BUSINESS_DAY_HOUR = 9  # P4: next business day at 09:00 local time


class ClockLevel(StrEnum):
    """For the header: the theme variables ``$success``/``$warning``/``$error``."""

    OK = "ok"
    WARNING = "warning"
    ERROR = "error"


def next_business_morning(at: float, tz: tzinfo | None = None, hour: int = BUSINESS_DAY_HOUR) -> float:
    """``hour``:00 on the next weekday after the (local) day of ``at``;
    Saturday and Sunday are skipped (public holidays are not known). ``tz``
    None: the machine's local time zone, DST included."""
    local = datetime.fromtimestamp(at, tz) if tz is not None else datetime.fromtimestamp(at)
    day = local.date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    if tz is not None:
        return datetime(day.year, day.month, day.day, hour, tzinfo=tz).timestamp()
    return datetime(day.year, day.month, day.day, hour).timestamp()  # naive: local time, like mktime


def response_deadline(severity: Severity, declared_at: float, tz: tzinfo | None = None) -> float:
    """When the response target of ``severity`` runs out for an incident
    declared at ``declared_at``: 15 min / 1 h / 4 h, or the next business day."""
    seconds = SEVERITIES[Severity(severity)].response_seconds
    if seconds is None:
        return next_business_morning(declared_at, tz)
    return declared_at + seconds


def format_duration(seconds: float) -> str:
    """``4:05``, ``1:02:03``, ``2d 03:04`` (of the absolute value, whole seconds)."""
    s = int(abs(seconds))
    days, s = divmod(s, 86400)
    hours, s = divmod(s, 3600)
    minutes, s = divmod(s, 60)
    if days:
        return f"{days}d {hours:02d}:{minutes:02d}"
    if hours:
        return f"{hours}:{minutes:02d}:{s:02d}"
    return f"{minutes}:{s:02d}"


@dataclass(frozen=True, slots=True)
class Clock:
    """The response target of an incident.

    It counts from the declaration to the target of the most severe severity
    ever in force (a raise brings the deadline forward; nothing moves it
    later). It is stopped at ``stopped_at`` while the status is monitoring or
    resolved, and runs again if the status goes back.
    """

    severity: Severity
    declared_at: float
    deadline: float
    stopped_at: float | None = None

    @property
    def target(self) -> float:
        """The length of the target in seconds (P4: until the next business morning)."""
        return self.deadline - self.declared_at

    def remaining(self, now: float) -> float:
        """Seconds left (negative: overdue by that much); frozen while stopped."""
        return self.deadline - (self.stopped_at if self.stopped_at is not None else now)

    def level(self, now: float) -> ClockLevel:
        left = self.remaining(now)
        if left <= 0:
            return ClockLevel.ERROR
        if left < self.target * WARNING_FRACTION:
            return ClockLevel.WARNING
        return ClockLevel.OK

    def text(self, now: float) -> str:
        """Short, for the header: ``12:03 left``, ``overdue 3:10``, ``met, 4:12 to spare``."""
        left = self.remaining(now)
        if self.stopped_at is not None:
            return f"met, {format_duration(left)} to spare" if left > 0 else f"missed by {format_duration(left)}"
        return f"{format_duration(left)} left" if left > 0 else f"overdue {format_duration(left)}"
