"""What our pods' log lines say, in numbers: Clay calls by status, when each
error class started failing (:class:`Onset`), rate-limit headers,
out-of-memory lines and memory readings (:class:`Memory`), our per-pod call
counters — and our Clay calls as the logs show them (:func:`logs_calls`).

Pure, like :mod:`clay_cockpit.triage.evidence` (whose numbers and call
types it builds on, and whose rules on odd input and server clocks it
follows).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from clay_cockpit.runbook import ErrorClass
from clay_cockpit.signals import LogLine
from clay_cockpit.triage.evidence import Calls, ClassStat, _code, _group, finite
from clay_cockpit.triage.logformat import fields

LOG_WINDOW = 15.0  # seconds of log time (before the newest line) that count as "recent"
LOG_LATENCY_MIN = 20  # logged Clay calls with a duration before the logs give a p95 of their own
LOG_MAX_LINES = 2000  # never look at more lines than this, whatever we are handed
LOG_MIN_CALLS = 10  # logged Clay calls needed before a logged share is worth stating
MAX_ENDPOINTS = 8  # failed endpoints kept (their counts)
ONSET_GAP = 5  # logged Clay calls in a row without a failure of a class that end its streak
MEMORY_READINGS = 24  # memory readings kept per pod


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
        """ "rss 511/512 MB"."""
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
    failed_endpoints: tuple[tuple[str, int], ...] = ()  # failed calls by Clay endpoint (path), most first, at most MAX_ENDPOINTS

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
    endpoints: dict[str, int] = {}
    looked = 0
    durations: list[float] = []
    seq: list[tuple[float | None, int]] = []  # every logged Clay call, oldest first: (time, status)
    mem: dict[str, list[tuple[float, float, float]]] = {}  # pod -> (time, rss, limit), oldest first
    for ln in recent:
        kv = fields(ln.text)  # logfmt, or a JSON line's fields
        msg = kv.get("msg", "").lower()
        code = _code(kv.get("status"))
        at = ln.ts.timestamp() if ln.ts is not None else None
        if code is not None and "clay" in msg:
            seq.append((at, code))
        gone = pods is not None and ln.pod not in pods
        if (
            not gone
            and "memory" in msg
            and (rss := _float(kv.get("rss_mb"))) is not None
            and (lim := _float(kv.get("limit_mb")))
            and at is not None
        ):
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
                if (path := endpoint_of(kv)) and (path in endpoints or len(endpoints) < MAX_ENDPOINTS * 4):
                    endpoints[path] = endpoints.get(path, 0) + 1
            if code == 429:
                rate_limit = {
                    k: kv[k][:20] for k in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "retry-after") if k in kv
                }
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
        lines=looked,
        calls=calls,
        failed=failed,
        per_code=per_code,
        rate_limit=rate_limit,
        oom_pods=tuple(oom[:20]),
        memory=memory,
        stats_calls=sum(c for c, _ in stats.values()),
        stats_failed=sum(f for _, f in stats.values()),
        fallback_served=fallback,
        onsets=_onsets(seq, per_code, newest),
        mem=_memory(mem),
        timed=len(durations),
        p95_ms=_p95(durations),
        failed_endpoints=tuple(sorted(endpoints.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_ENDPOINTS]),
    )


ENDPOINT_KEYS = ("endpoint", "path", "route", "url")  # where a Clay call's line names what it called


def endpoint_of(kv: dict[str, str]) -> str:
    """The Clay API path a call's log line names (``endpoint=/v1/tables/rows``, or a ``url``'s path), "" if none."""
    for key in ENDPOINT_KEYS:
        value = kv.get(key, "").strip()
        if value:
            if "://" in value:
                value = "/" + value.split("://", 1)[1].partition("/")[2]
            path = value.split("?", 1)[0].split("#", 1)[0]
            return path[:120] if path.startswith("/") and path.isprintable() else ""
    return ""


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
