"""What each signal says, in numbers: the evidence :mod:`clay_cockpit.triage.tree` weighs.

Pure functions of :mod:`clay_cockpit.signals` values; no I/O, no clock reads.
Every function here tolerates odd input (NaN, negative rates, missing labels,
unparseable log lines) and never raises on it.

Times inside the data (metric points, log timestamps) come from the servers'
clocks, which in a drill run at ``--speed``; they are only ever compared with
each other, never with ``now``. Ages of readings use ``now`` and the app's own
``Reading.updated_at``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from clay_cockpit.config import Thresholds
from clay_cockpit.runbook import ErrorClass
from clay_cockpit.signals import HealthSnapshot, LogLine, MetricsSnapshot, Reading, SourceError
from clay_cockpit.triage.service import (  # noqa: F401  (the status page and our service: part of this module's vocabulary)
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

# States of one source's reading (PARTIAL: it answered, but without what triage needs, e.g. no request rate)
LIVE, STALE, FAILED, MISSING, PARTIAL = "live", "stale", "failed", "missing", "partial"

PRIMARY = ("statuspage", "health", "metrics", "pods")  # the four polled sources, in runbook order
LABEL = {"statuspage": "status page", "health": "health", "metrics": "metrics", "pods": "pods", "logs": "logs"}
DEFAULT_REFRESH = {"statuspage": 30.0, "health": 10.0, "metrics": 15.0, "pods": 5.0}  # config defaults

LOG_WINDOW = 15.0  # seconds of log time (before the newest line) that count as "recent"
LOG_LATENCY_MIN = 20  # logged Clay calls with a duration before the logs give a p95 of their own
LOG_MAX_LINES = 2000  # never look at more lines than this, whatever we are handed
LOG_MIN_CALLS = 10  # logged Clay calls needed before a logged share is worth stating
MIN_RATE = 0.1  # errors/s below which a share of failures is noise (a handful of calls)
ONSET_GAP = 5  # logged Clay calls in a row without a failure of a class that end its streak
MEMORY_READINGS = 24  # memory readings kept per pod
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


def view_of(name: str, reading: Reading, now: float, refresh: float, stale_intervals: float) -> View:
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
        vals = [v for v in (finite(s.current) if finite(s.current) is not None else (finite(s.points[-1][1]) if s.points else None) for s in rr) if v is not None]
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
        pts: dict[float, float] = {}
        for c in codes:
            for t, v in code_points.get(c, []):
                pts[t] = pts.get(t, 0.0) + v
        series = sorted(pts.items())
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
        tail = check.detail[m.end():]
        per_code = {int(c): float(n) for c, n in _HEALTH_CODES.findall(tail.split("p95")[0])}
        classes = [
            ClassStat(cls, codes, rate=n / window, share=(n / calls if calls else None))
            for cls, (codes, n) in _group(per_code).items()
        ]
        classes.sort(key=lambda c: -(c.rate or 0.0))
        p = _HEALTH_P95.search(check.detail)
        return Calls("health", calls / window, tuple(classes), float(p.group(1)) if p else None, f"last {window:.0f} s", weak)
    return None


# logfmt: key=value, key="quoted value"
_KV = re.compile(r'([A-Za-z_][\w.\-]*)=("(?:[^"\\]|\\.)*"|\S*)')


def logfmt(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in _KV.findall(text[:2000]):
        if value.startswith('"') and value.endswith('"') and len(value) >= 2:
            value = value[1:-1]
        out[key.lower()] = value
    return out


@dataclass(frozen=True)
class Onset:
    """When one Clay error class started failing, as the logs show it: the
    current streak of its failures, back to the last stretch of
    :data:`ONSET_GAP` logged calls without one. ``at`` is None when the
    streak reaches the oldest line we hold (it started before the logs we
    have), so nothing can be said about when."""

    cls: ErrorClass | None
    codes: tuple[int, ...]
    at: float | None  # epoch seconds (log clock) of the streak's first failure
    failed: int  # failures of this class in the streak
    calls: int  # logged Clay calls in the streak (from its first failure on)
    newest: float  # epoch seconds (log clock) of the newest line we hold
    after: int = 0  # logged Clay calls after its newest failure (>= ONSET_GAP: it stopped)

    @property
    def ongoing(self) -> bool:
        return self.after < ONSET_GAP

    @property
    def span(self) -> float | None:
        """Seconds from the first failure to the newest line (log clock)."""
        return None if self.at is None else max(0.0, self.newest - self.at)


@dataclass(frozen=True)
class Memory:
    """Our pods' memory, from their own "memory" log lines (rss and limit).

    ``slope``: MB per second the fastest-growing pod's rss climbs within one
    container run (None: not two readings yet, or not climbing);
    ``to_limit``: seconds from a fresh start to the limit at that slope, from
    the lowest rss a run was seen with."""

    pods: int  # pods that logged their memory
    rss: float  # the highest newest rss of a pod, MB
    limit: float  # its limit, MB
    slope: float | None = None
    start_rss: float | None = None  # the lowest rss seen at a run's start, MB
    to_limit: float | None = None  # seconds a fresh run takes to reach the limit at ``slope``
    climbing: int = 0  # pods whose current run climbs

    @property
    def share(self) -> float:
        return self.rss / self.limit if self.limit > 0 else 0.0

    @property
    def text(self) -> str:
        """"rss 511/512 MB"."""
        return f"rss {self.rss:.0f}/{self.limit:.0f} MB"


@dataclass(frozen=True)
class LogEvidence:
    lines: int  # lines looked at (the recent window)
    calls: int  # logged Clay calls in the window
    failed: int
    per_code: dict[int, int] = field(default_factory=dict)  # failed calls by code
    rate_limit: dict[str, str] = field(default_factory=dict)  # headers of the newest 429
    oom_pods: tuple[str, ...] = ()  # pods that logged out-of-memory
    memory: str = ""  # "rss 511/512 MB" from the newest memory line
    stats_calls: int = 0  # sum of the newest "sync stats" of each pod (unsampled counts)
    stats_failed: int = 0
    fallback_served: int = 0
    onsets: tuple[Onset, ...] = ()  # per error class failing in the window, biggest first
    mem: Memory | None = None
    timed: int = 0  # logged Clay calls in the window with a duration
    p95_ms: float | None = None  # their 95th percentile duration (None: fewer than LOG_LATENCY_MIN)

    def onset(self, cls: ErrorClass | None) -> Onset | None:
        return next((o for o in self.onsets if o.cls == cls), None)


def _int(text: str | None) -> int | None:
    try:
        return int(str(text))
    except (TypeError, ValueError):
        return None


def _float(text: str | None) -> float | None:
    try:
        return finite(float(str(text)))
    except (TypeError, ValueError):
        return None


def log_evidence(lines: tuple[LogLine, ...], pods: frozenset[str] | None = None) -> LogEvidence | None:
    """What the recent pod log lines say: Clay calls by status, when each
    error class started failing, rate-limit headers, out-of-memory lines and
    memory readings, our per-pod call counters.

    ``pods``: the pods that exist now (from a live pods reading), when
    known. Out-of-memory lines and memory readings are a pod's state, so
    only those of pods that still exist count: after a rollback the old
    pods' climb to their limit says nothing about the new ones. (Clay calls
    count from every pod: a call that failed a minute ago is impact.)"""
    recent = lines[-LOG_MAX_LINES:]
    if not recent:
        return None
    stamps = [ln.ts.timestamp() for ln in recent if ln.ts is not None]
    newest = max(stamps) if stamps else None
    calls = failed = 0
    per_code: dict[int, int] = {}
    rate_limit: dict[str, str] = {}
    oom: list[str] = []
    memory = ""
    stats: dict[str, tuple[int, int]] = {}
    fallback = 0
    looked = 0
    durations: list[float] = []
    seq: list[tuple[float | None, int]] = []  # every logged Clay call, oldest first: (time, status)
    mem: dict[str, list[tuple[float, float, float]]] = {}  # pod -> (time, rss, limit), oldest first
    for ln in recent:
        kv = logfmt(ln.text)
        msg = kv.get("msg", "").lower()
        code = _code(kv.get("status"))
        at = ln.ts.timestamp() if ln.ts is not None else None
        if code is not None and "clay" in msg:
            seq.append((at, code))
        gone = pods is not None and ln.pod not in pods
        if not gone and "memory" in msg and (rss := _float(kv.get("rss_mb"))) is not None and (lim := _float(kv.get("limit_mb"))) and at is not None:
            readings = mem.setdefault(ln.pod[:200], [])
            readings.append((at, rss, lim))
            del readings[:-MEMORY_READINGS]
        if newest is not None and ln.ts is not None and ln.ts.timestamp() < newest - LOG_WINDOW:
            continue
        looked += 1
        if code is not None and "clay" in msg:
            calls += 1
            if (ms := _float(kv.get("duration_ms"))) is not None and ms >= 0:
                durations.append(ms)
            if code >= 400:
                failed += 1
                per_code[code] = per_code.get(code, 0) + 1
            if code == 429:
                rate_limit = {k: kv[k][:20] for k in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "retry-after") if k in kv}
        if not gone and ("out of memory" in msg or "oom" in msg.split()) and ln.pod not in oom:
            oom.append(ln.pod)
        if not gone and ("memory" in msg) and kv.get("rss_mb") and kv.get("limit_mb"):
            memory = f"rss {kv['rss_mb'][:8]}/{kv['limit_mb'][:8]} MB"
        if msg == "sync stats":
            c, f = _int(kv.get("calls_30s")), _int(kv.get("failed_30s"))
            if c is not None and f is not None and 0 <= f <= c:
                stats[ln.pod] = (c, f)
        if msg == "fallback served":
            fallback += 1
    return LogEvidence(
        lines=looked, calls=calls, failed=failed, per_code=per_code, rate_limit=rate_limit,
        oom_pods=tuple(oom[:20]), memory=memory,
        stats_calls=sum(c for c, _ in stats.values()), stats_failed=sum(f for _, f in stats.values()),
        fallback_served=fallback, onsets=_onsets(seq, per_code, newest), mem=_memory(mem),
        timed=len(durations), p95_ms=_p95(durations),
    )


def _p95(values: list[float]) -> float | None:
    """The 95th percentile (nearest rank) of at least LOG_LATENCY_MIN values."""
    if len(values) < LOG_LATENCY_MIN:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


def _onsets(seq: list[tuple[float | None, int]], recent: dict[int, int], newest: float | None) -> tuple[Onset, ...]:
    """The streak of each error class failing in the recent window (see :class:`Onset`)."""
    if newest is None:
        return ()
    out = []
    for cls in {ErrorClass.of(c) for c in recent}:
        codes: set[int] = set()
        failed = calls = quiet = after = 0
        start: float | None = None
        for at, code in reversed(seq):
            if code >= 400 and ErrorClass.of(code) == cls:
                if not failed:
                    after = quiet
                calls += quiet + 1  # the calls in a short quiet stretch belong to the streak
                failed += 1
                quiet = 0
                codes.add(code)
                start = at if at is not None else start
            else:
                quiet += 1
                if quiet >= ONSET_GAP and failed:
                    break
        else:
            start = None  # the streak reaches the oldest line we hold: it began before it
        if failed:
            out.append(Onset(cls, tuple(sorted(codes)), start, failed, calls, newest, after))
    out.sort(key=lambda o: -o.failed)
    return tuple(out)


def _memory(readings: dict[str, list[tuple[float, float, float]]]) -> Memory | None:
    """The pods' memory: the highest newest rss, and how fast a run climbs."""
    if not readings:
        return None
    newest = {pod: rs[-1] for pod, rs in readings.items()}
    _, rss, limit = max(newest.values(), key=lambda r: r[1] / r[2] if r[2] else 0.0)
    slopes: list[float] = []
    starts: list[float] = []
    for rs in readings.values():
        run = [rs[0]]
        for r in rs[1:]:
            if r[1] < run[-1][1]:  # rss fell: a new container run (a restart)
                run = [r]
            else:
                run.append(r)
            if len(run) == 1:
                starts.append(r[1])
        starts.append(rs[0][1])
        if len(run) >= 2 and run[-1][0] > run[0][0] and run[-1][1] > run[0][1]:
            slopes.append((run[-1][1] - run[0][1]) / (run[-1][0] - run[0][0]))  # (one per climbing pod)
    slope = max(slopes) if slopes else None
    start = min(starts) if starts else None
    to_limit = (limit - start) / slope if slope and start is not None and limit > start else None
    return Memory(len(readings), rss, limit, slope, start, to_limit, len(slopes))


def logs_calls(ev: LogEvidence) -> Calls | None:
    """Clay calls from the logs. Services log failures more often than
    successes, so the logged share overstates failures: it is only ever
    given as counts of logged calls ("40 of 40 logged calls"), never as a
    share of all calls. Our own per-pod "sync stats" counters, when present,
    give an unsampled share."""
    if ev.calls == 0 and ev.stats_calls == 0:
        return None
    stats_share = ev.stats_failed / ev.stats_calls if ev.stats_calls else None
    classes = [
        ClassStat(cls, codes, count=int(n), share=(stats_share * n / max(1, ev.failed) if stats_share is not None else None))
        for cls, (codes, n) in _group({c: float(n) for c, n in ev.per_code.items()}).items()
    ]
    classes.sort(key=lambda c: -(c.count or 0))
    return Calls("logs", float(ev.calls), tuple(classes), None, f"last {LOG_WINDOW:.0f} s of logs", True)
