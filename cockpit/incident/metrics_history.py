"""The metric history an evidence snapshot keeps: the points the error-rate
sparklines draw, so the postmortem's chart and peak — and a message's
"at its peak" — come from the same series the responder saw on screen (not
one instant per snapshot).

:func:`metrics_history` writes it (``signals_evidence`` puts it under
``metrics.history``), :func:`history_points` reads one entry back, and
:class:`SeriesBook` merges the snapshots' histories (and the live metrics)
into one series per label, on the cockpit's clock.

The points carry Prometheus' times; the incident, the cockpit's. Each
snapshot's history is anchored at the moment the cockpit read it
(``metrics.updated_at``), so a skewed clock does not move it; a drill
running its clock faster (``demo --speed 4``) is read at its speed
(given, or measured from two snapshots' histories).

Pure standard library.
"""

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from clay_cockpit.signals import MetricsSnapshot, Series

HISTORY_POINTS = 61  # per series in an evidence snapshot: the sparklines' 15 min at the default 15 s step
HISTORY_SERIES = 8


def metrics_history(series: Iterable[Series]) -> dict[str, Any]:
    """The points the error-rate sparklines draw, for the per-second series
    (errors by code, the request rate), compact enough for a timeline event:
    ``{label: {"q": query, "t1": newest time, "dt": step, "v": [value or null, …]}}``
    on the query's time grid (the newest :data:`HISTORY_POINTS`; times count
    back from ``t1``, so a list the timeline's size cap shortens from the
    front keeps its times), or
    ``{"q": …, "p": [[t, v], …]}`` when the points are not on one grid.
    :func:`history_points` reads either back."""
    out: dict[str, Any] = {}
    for s in series:
        if len(out) >= HISTORY_SERIES:
            break
        pts = sorted((float(t), float(v)) for t, v in s.points if math.isfinite(t) and math.isfinite(v))[-HISTORY_POINTS:]
        if not s.unit.endswith("/s") or len(pts) < 2:
            continue
        steps = sorted(b[0] - a[0] for a, b in zip(pts, pts[1:]) if b[0] > a[0])
        dt = steps[len(steps) // 2] if steps else 0.0
        entry: dict[str, Any] = {"q": s.query}
        grid = [round((t - pts[0][0]) / dt) if dt > 0 else -1 for t, _ in pts]
        if dt > 0 and all(abs(pts[0][0] + i * dt - t) <= dt / 4 for i, (t, _) in zip(grid, pts)) and grid[-1] < 4 * HISTORY_POINTS:
            values: list[float | None] = [None] * (grid[-1] + 1)
            for i, (_, v) in zip(grid, pts):
                values[i] = compact(v)
            entry |= {"t1": round(pts[-1][0], 3), "dt": round(dt, 3), "v": values[-HISTORY_POINTS:]}
        else:
            entry["p"] = [[round(t, 3), compact(v)] for t, v in pts]
        out[s.label or s.key] = entry
    return out


def history_points(entry: object) -> tuple[str, list[tuple[float, float]]]:
    """(query, points oldest first) of one :func:`metrics_history` entry; ("", []) for anything else."""
    if not isinstance(entry, Mapping):
        return "", []
    q = entry.get("q")
    query = q if isinstance(q, str) else ""
    out: list[tuple[float, float]] = []
    raw_p, t1, dt, vals = entry.get("p"), entry.get("t1"), entry.get("dt"), entry.get("v")
    if isinstance(raw_p, list):
        for p in raw_p:
            if isinstance(p, list) and len(p) == 2 and all(_number(x) for x in p):
                out.append((float(p[0]), float(p[1])))
    elif _number(t1) and _number(dt) and dt > 0 and isinstance(vals, list):
        n = len(vals)
        out = [(float(t1) - (n - 1 - i) * float(dt), float(v)) for i, v in enumerate(vals) if _number(v)]
    return query, out


def compact(v: float) -> float | int:
    """Four significant digits, an integer without its ``.0`` (bytes count in an event)."""
    r = float(f"{v:.4g}")
    return int(r) if r.is_integer() and abs(r) < 1e15 else r


def _number(x: object) -> TypeGuard[float]:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _mapping(x: object) -> Mapping[Any, Any]:
    """``x`` when it is a mapping, else an empty dict (parsed JSON of unknown shape)."""
    return x if isinstance(x, Mapping) else {}


# --------------------------------------------------------------------------
# Reading it back: the series as the pane drew them, on the cockpit's clock

ERROR_CODE = re.compile(r"\b[45]\d\d\b")
MAX_SERIES = 8
MAX_RUNS = 300  # snapshot histories kept (the newest): 300 x 8 series x 61 points at most
MIN_SPAN = 20.0  # seconds of the cockpit's clock between two snapshots to measure a drill's speed


@dataclass
class Run:
    """One reading of the histories: when the cockpit read them (its clock)
    and the newest point's time (Prometheus'), with the points by label."""

    anchor: float
    end: float
    points: dict[str, list[tuple[float, float]]]


@dataclass
class SeriesBook:
    """Per-second series by label, merged from evidence snapshots (their
    instant values, at the cockpit's time of the snapshot, and their
    sparkline histories) and the live metrics. Bounded."""

    speed_hint: float | None = None  # a drill's clock speed, when known
    instants: dict[str, dict[float, float]] = field(default_factory=dict)
    runs: deque[Run] = field(default_factory=lambda: deque(maxlen=MAX_RUNS))
    units: dict[str, str] = field(default_factory=dict)
    queries: dict[str, str] = field(default_factory=dict)
    snapshots: int = 0  # evidence snapshots read
    _merged: dict[str, dict[float, float]] | None = None

    def _label(self, label: str, unit: str, query: str) -> bool:
        if label not in self.units:
            if len(self.units) >= MAX_SERIES:
                return False
            self.units[label] = unit
        if query and not self.queries.get(label):
            self.queries[label] = query
        self._merged = None
        return True

    def add_instant(self, label: str, unit: str, t: float, v: float) -> None:
        if self._label(label, unit, ""):
            series = self.instants.setdefault(label, {})
            series[t] = v
            if len(series) > 4000:
                for old in sorted(series)[:2000]:
                    del series[old]

    def add_run(self, anchor: float, points: Mapping[str, tuple[str, str, list[tuple[float, float]]]]) -> None:
        """One reading of histories: ``points`` is label → (unit, query, points)."""
        kept = {label: pts for label, (unit, query, pts) in points.items() if pts and self._label(label, unit, query)}
        if kept:
            self.runs.append(Run(anchor, max(p[-1][0] for p in kept.values()), kept))
            self._merged = None

    def add_evidence(self, data: Mapping[str, Any], at: float) -> None:
        """One evidence snapshot's metrics: the history when it has one, else
        the instant values at the moment the signals were read."""
        self.snapshots += 1
        if not self.speed_hint and _number(data.get("clock_speed")) and data["clock_speed"] > 0:
            self.speed_hint = float(data["clock_speed"])  # a drill's, recorded with the snapshot
            self._merged = None
        metrics = _mapping(data.get("metrics"))
        when = data.get("signals_at")
        t = float(when) if _number(when) and when else at
        read_at = metrics.get("updated_at")
        anchor = float(read_at) if _number(read_at) and read_at else t
        values = _mapping(metrics.get("values"))
        history = _mapping(metrics.get("history"))
        run: dict[str, tuple[str, str, list[tuple[float, float]]]] = {}
        for label, pair in values.items():
            if not isinstance(pair, list) or len(pair) != 2 or not _number(pair[0]):
                continue
            unit = str(pair[1] or "")
            if not unit.endswith("/s"):
                continue
            query, pts = history_points(history.get(label))
            if pts:
                run[str(label)] = (unit, query, pts)
            else:
                self.add_instant(str(label), unit, t, float(pair[0]))
        for label, entry in history.items():  # a history without an instant value
            if label not in values:
                query, pts = history_points(entry)
                if pts:
                    run[str(label)] = ("req/s", query, pts)
        self.add_run(anchor, run)

    def add_metrics(self, m: MetricsSnapshot, at: float) -> None:
        """The live metrics: the points each sparkline draws (read at ``at``)."""
        run: dict[str, tuple[str, str, list[tuple[float, float]]]] = {}
        for s in m.series:
            if not s.unit.endswith("/s"):
                continue
            pts = sorted((t, v) for t, v in s.points if math.isfinite(t) and math.isfinite(v))
            if pts:
                run[s.label or s.key] = (s.unit, s.query, pts)
            elif s.current is not None:
                self.add_instant(s.label or s.key, s.unit, at, s.current)
        self.add_run(at, run)

    @property
    def speed(self) -> float:
        """How fast the metrics' clock runs against the cockpit's: 1 but in a
        fast drill (given, or measured between the first and last reading)."""
        if self.speed_hint:
            return self.speed_hint
        if len(self.runs) >= 2:
            a, b = self.runs[0], self.runs[-1]
            if b.anchor - a.anchor >= MIN_SPAN and b.end > a.end:
                measured = (b.end - a.end) / (b.anchor - a.anchor)
                if not 0.8 <= measured <= 1.25:
                    return min(max(measured, 0.01), 1000.0)
        return 1.0

    @property
    def points(self) -> dict[str, dict[float, float]]:
        """label → {time on the cockpit's clock: value}."""
        if self._merged is None:
            speed = self.speed
            merged = {label: dict(pts) for label, pts in self.instants.items()}
            for run in self.runs:
                for label, pts in run.points.items():
                    series = merged.setdefault(label, {})
                    for t, v in pts:
                        series[round(run.anchor - (run.end - t) / speed, 3)] = v
            self._merged = merged
        return self._merged

    def series(self, label: str) -> list[tuple[float, float]]:
        return sorted(self.points.get(label, {}).items())

    def is_error(self, label: str) -> bool:
        q = self.queries.get(label, "")
        return q == "errors_by_code" or (q in ("", "errors_by_code") and bool(ERROR_CODE.search(label)))

    def is_requests(self, label: str) -> bool:
        q = self.queries.get(label, "")
        return q == "request_rate" or (not q and not self.is_error(label) and "request" in label.lower())

    def error_series(self) -> dict[str, list[tuple[float, float]]]:
        """The error-rate series (labels naming a 4xx/5xx code), else every per-second series; oldest first."""
        errors = {k: self.series(k) for k in self.units if self.is_error(k)}
        return errors or {k: self.series(k) for k in self.units}

    def totals(self) -> list[tuple[float, float, float | None]]:
        """(time, Clay errors/s summed over the codes, Clay calls/s or None) at each time an error series has a point."""
        points = self.points
        errs = [k for k in points if self.is_error(k)]
        reqs = [k for k in points if self.is_requests(k)]
        out = []
        for t in sorted({t for k in errs for t in points[k]}):
            r = [points[k][t] for k in reqs if t in points[k]]
            out.append((t, sum(points[k].get(t, 0.0) for k in errs), sum(r) if r else None))
        return out

    def peak(self) -> Moment | None:
        """The moment the summed Clay error rate was highest."""
        best: Moment | None = None
        for t, e, r in self.totals():
            if best is None or e > best.errors:
                best = Moment(t, e, r)
        return best if best is not None and best.errors > 0 else None

    def latest(self) -> Moment | None:
        got = self.totals()
        return Moment(*got[-1]) if got else None


def number_text(x: float) -> str:
    """``41``, ``1.7``, ``0.07`` (as the panes say them)."""
    if x >= 10:
        return f"{x:.0f}"
    if x >= 0.1:
        return f"{x:.1f}"
    return f"{x:.2f}" if x > 0 else "0"


def rate_text(per_s: float) -> str:
    return f"{number_text(per_s)}/s"


def pct_text(share: float) -> str:
    return "<1%" if 0 < share < 0.01 else f"{min(share, 1.0) * 100:.0f}%"


@dataclass(frozen=True)
class Moment:
    at: float  # the cockpit's clock
    errors: float  # Clay errors/s, all codes
    calls: float | None  # Clay calls/s

    def text(self, *, past: bool = False) -> str:
        """Now: ``87% of Clay calls fail (34 of 39/s)``; past (a peak, by
        the error rate): ``35 of 40 Clay calls/s failed (87%)``; without the
        call rate: ``Clay errors at 3.2/s``; none: ``no Clay errors (41 calls/s)``."""
        if self.errors <= 0:
            return "no Clay errors" + (f" ({number_text(self.calls)} calls/s)" if self.calls else "")
        if self.calls and past:
            return f"{number_text(self.errors)} of {number_text(self.calls)} Clay calls/s failed ({pct_text(self.errors / self.calls)})"
        if self.calls:
            return f"{pct_text(self.errors / self.calls)} of Clay calls fail ({number_text(self.errors)} of {number_text(self.calls)}/s)"
        return f"Clay errors {'were' if past else 'are'} at {rate_text(self.errors)}"
