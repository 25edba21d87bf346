"""What each signal says, in numbers: the evidence :mod:`clay_cockpit.triage.tree` weighs.

Pure functions of :mod:`clay_cockpit.signals` values; no I/O, no clock reads.
Every function here tolerates odd input (NaN, negative rates, missing labels,
unparseable log lines) and never raises on it.

Times inside the data (metric points, log timestamps) come from the servers'
clocks, which in a drill run at ``--speed``; they are only ever compared with
each other, never with ``now``. Ages of readings use ``now`` and the app's own
``Reading.updated_at``.

What the pod log lines say is in :mod:`clay_cockpit.triage.logs`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from clay_cockpit.config import Thresholds
from clay_cockpit.runbook import ErrorClass
from clay_cockpit.signals import HealthSnapshot, MetricsSnapshot, Reading, SourceError
from clay_cockpit.triage.service import (  # the status page and our service: part of this module's vocabulary (re-exported)
    ClayStatus,
    PodState,
    clay_checks_failing,
    clay_status,
    component_text,
    fallback_active,
    is_crashing,
    is_terminating,
    our_checks,
    pod_state,
    pod_word,
    statuses_text,
)

__all__ = [
    # the status page and our service, re-exported from clay_cockpit.triage.service
    "ClayStatus",
    "PodState",
    "clay_checks_failing",
    "clay_status",
    "component_text",
    "fallback_active",
    "is_crashing",
    "is_terminating",
    "our_checks",
    "pod_state",
    "pod_word",
    "statuses_text",
    # this module's own
    "LIVE",
    "STALE",
    "FAILED",
    "MISSING",
    "PARTIAL",
    "PRIMARY",
    "LABEL",
    "DEFAULT_REFRESH",
    "MIN_RATE",
    "MAX_POINTS",
    "Calls",
    "ClassStat",
    "View",
    "clock_text",
    "codes_text",
    "finite",
    "fmt_dur",
    "fmt_ms",
    "fmt_pct",
    "fmt_rate",
    "health_calls",
    "metrics_calls",
    "one_line",
    "view_of",
]

# States of one source's reading (PARTIAL: it answered, but without what triage needs, e.g. no request rate)
LIVE, STALE, FAILED, MISSING, PARTIAL = "live", "stale", "failed", "missing", "partial"

PRIMARY = ("statuspage", "health", "metrics", "pods")  # the four polled sources, in runbook order
LABEL = {"statuspage": "status page", "health": "health", "metrics": "metrics", "pods": "pods", "logs": "logs"}
DEFAULT_REFRESH = {"statuspage": 30.0, "health": 10.0, "metrics": 15.0, "pods": 5.0}  # config defaults

MIN_RATE = 0.1  # errors/s below which a share of failures is noise (a handful of calls)
MAX_POINTS = 240  # metric points kept per error class


# --------------------------------------------------------------------------
# Formatting: short, with units (never cut: the widgets clip when they draw)


def finite(value: object) -> float | None:
    """A real, finite, non-negative number, or None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    v = float(value)
    if not math.isfinite(v):
        return None
    return max(0.0, v)


def fmt_rate(per_s: float) -> str:
    if per_s >= 10:
        return f"{per_s:.0f}/s"
    if per_s >= 0.1:
        return f"{per_s:.1f}/s"
    return f"{per_s:.2f}/s"


def fmt_pct(share: float) -> str:
    if 0 < share < 0.01:
        return "<1%"
    return f"{min(share, 1.0) * 100:.0f}%"


def fmt_ms(ms: float) -> str:
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def fmt_dur(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def one_line(text: str) -> str:
    """The text on one line (runs of whitespace, newlines included, made one space); never cut."""
    return " ".join(str(text).split())


def clock_text(at: float) -> str:
    """HH:MM:SS of an epoch time (local time)."""
    try:
        return datetime.fromtimestamp(at).strftime("%H:%M:%S")
    except (OverflowError, OSError, ValueError):
        return "?"


def codes_text(codes: tuple[int, ...] | list[int]) -> str:
    return "/".join(str(c) for c in sorted(codes)) or "errors"


# --------------------------------------------------------------------------
# One source's reading: live, stale, failed or missing


@dataclass(frozen=True)
class View:
    """A primary source as triage sees it now."""

    name: str
    state: str  # LIVE, STALE, FAILED, MISSING or PARTIAL
    value: Any  # the snapshot (also when stale), None when failed/missing
    age: float | None  # seconds since the value was fetched
    error: SourceError | None

    @property
    def live(self) -> bool:
        return self.state == LIVE

    @property
    def usable(self) -> bool:
        return self.value is not None


def view_of(name: str, reading: Reading[Any], now: float, refresh: float, stale_intervals: float) -> View:
    value, error = reading.value, reading.error
    age = reading.age(now)
    if value is None:
        return View(name, FAILED if error is not None else MISSING, None, None, error)
    too_old = age is not None and age > stale_intervals * refresh
    return View(name, STALE if (error is not None or too_old) else LIVE, value, age, error)


# --------------------------------------------------------------------------
# Our calls to Clay


@dataclass(frozen=True)
class ClassStat:
    """One error class as one source measured it."""

    cls: ErrorClass | None  # None: other 4xx (400, 404, 422 …)
    codes: tuple[int, ...]
    rate: float | None = None  # errors/s (metrics, health's 60 s counts)
    share: float | None = None  # of all Clay calls (None when unknown)
    count: int | None = None  # lines (logs)
    since: float | None = None  # seconds this class has been above error_rate_warn (metrics history)
    points: tuple[tuple[float, float], ...] = ()  # its errors/s over time (metrics history, server clock), oldest first

    @property
    def at(self) -> float | None:
        """When the metrics measured ``rate`` (the newest point; server clock), if known."""
        return self.points[-1][0] if self.points else None

    def rate_at(self, t: float) -> float | None:
        """The rate at the newest point at or before ``t`` (None: no point that old)."""
        older = [v for pt, v in self.points if pt <= t]
        return older[-1] if older else None


@dataclass(frozen=True)
class Calls:
    """Our calls to Clay as seen by one source (metrics, health or logs)."""

    basis: str  # "metrics", "health" or "logs"
    total: float | None  # calls/s (metrics, health) or logged calls (logs)
    classes: tuple[ClassStat, ...]  # only classes with errors, biggest first
    p95_ms: float | None = None
    window: str = ""  # what the numbers cover, for the reasons
    weak: bool = False  # stale or secondary

    def of(self, cls: ErrorClass | None) -> ClassStat | None:
        return next((c for c in self.classes if c.cls == cls), None)

    @property
    def error_total(self) -> float:
        return sum((c.rate if c.rate is not None else float(c.count or 0)) for c in self.classes)


def _class_key(code: int) -> ErrorClass | None:
    return ErrorClass.of(code)


def _group(per_code: dict[int, float]) -> dict[ErrorClass | None, tuple[tuple[int, ...], float]]:
    groups: dict[ErrorClass | None, tuple[list[int], float]] = {}
    for code, n in per_code.items():
        if n <= 0:
            continue
        codes, total = groups.get(_class_key(code), ([], 0.0))
        groups[_class_key(code)] = (codes + [code], total + n)
    return {k: (tuple(sorted(codes)), total) for k, (codes, total) in groups.items()}


def _since(points: list[tuple[float, float]], warn: float) -> float | None:
    """Seconds the newest run of points at or above ``warn`` spans (None if the newest is below)."""
    run_start = None
    for t, v in reversed(points):
        if v >= warn:
            run_start = t
        else:
            break
    if run_start is None or not points:
        return None
    return max(0.0, points[-1][0] - run_start)


_STATUS = re.compile(r"[1-5][0-9][0-9]")


def _code(text: str | None) -> int | None:
    """An HTTP status code (100-599) from a label or log value, else None."""
    if text is None or not _STATUS.fullmatch(text.strip()):
        return None
    return int(text.strip())


def metrics_calls(m: MetricsSnapshot, th: Thresholds, weak: bool) -> tuple[Calls, list[str]]:
    """Clay calls from Prometheus, and what the snapshot lacks (for the gaps)."""
    lacks: list[str] = []
    per_code: dict[int, float] = {}
    code_points: dict[int, list[tuple[float, float]]] = {}
    unsplit = 0.0
    for s in m.by_query("errors_by_code"):
        value = finite(s.current)
        if value is None and s.points:
            value = finite(s.points[-1][1])
        code = _code(s.label_value("code"))
        if value is None:
            continue
        if code is None:
            unsplit += value
            continue
        per_code[code] = per_code.get(code, 0.0) + value
        pts = [(t, v) for t, v in ((finite(t), finite(v)) for t, v in s.points) if t is not None and v is not None]
        code_points.setdefault(code, []).extend(pts)
    if unsplit > 0:
        lacks.append("errors_by_code has no code label: cannot split by error class")
    total = None
    rr = m.by_query("request_rate")
    if rr:
        vals = [
            v
            for v in (finite(s.current) if finite(s.current) is not None else (finite(s.points[-1][1]) if s.points else None) for s in rr)
            if v is not None
        ]
        total = sum(vals) if vals else None
    if total is None:
        lacks.append("no Clay request rate: shares of calls unknown")
    p95 = None
    lat = m.by_query("latency_p95")
    if lat:
        vals = [v for v in (finite(s.current) for s in lat) if v is not None]
        p95 = max(vals) if vals else None
    classes = []
    for cls, (codes, rate) in _group(per_code).items():
        by_time: dict[float, float] = {}
        for c in codes:
            for t, v in code_points.get(c, []):
                by_time[t] = by_time.get(t, 0.0) + v
        series = sorted(by_time.items())
        since = _since(series, th.error_rate_warn)
        share = min(rate / total, 1.0) if total else None  # (capped: a tiny total would make it inf)
        classes.append(ClassStat(cls, codes, rate=rate, share=share, since=since, points=tuple(series[-MAX_POINTS:])))
    if unsplit > 0:
        classes.append(ClassStat(None, (), rate=unsplit, share=min(unsplit / total, 1.0) if total else None))
    classes.sort(key=lambda c: -(c.rate or 0.0))
    return Calls("metrics", total, tuple(classes), p95, "now", weak), lacks


_HEALTH_CALLS = re.compile(r"(\d+)\s+calls?,\s*(\d+)\s+errors?")
_HEALTH_CODES = re.compile(r"\b([1-5]\d\d):\s*(\d+)")
_HEALTH_P95 = re.compile(r"p95\s+(\d+(?:\.\d+)?)\s*ms")
_HEALTH_WINDOW = re.compile(r"last\s+(\d+)\s*s\b")


def health_calls(h: HealthSnapshot, clay_checks: tuple[str, ...], weak: bool) -> Calls | None:
    """Clay calls from our health endpoint's Clay check detail, when it gives counts.

    Our endpoint says e.g. ``last 60s: 2353 calls, 1605 errors (401: 1605), p95 244 ms``.
    """
    for check in h.checks:
        if check.name not in clay_checks:
            continue
        m = _HEALTH_CALLS.search(check.detail)
        if not m:
            continue
        w = _HEALTH_WINDOW.search(check.detail)
        window = float(w.group(1)) if w and int(w.group(1)) > 0 else 60.0
        calls = int(m.group(1))
        tail = check.detail[m.end() :]
        per_code = {int(c): float(n) for c, n in _HEALTH_CODES.findall(tail.split("p95")[0])}
        classes = [
            ClassStat(cls, codes, rate=n / window, share=(n / calls if calls else None)) for cls, (codes, n) in _group(per_code).items()
        ]
        classes.sort(key=lambda c: -(c.rate or 0.0))
        p = _HEALTH_P95.search(check.detail)
        return Calls("health", calls / window, tuple(classes), float(p.group(1)) if p else None, f"last {window:.0f} s", weak)
    return None
