"""When a replayed incident's faults started and ended (issue 18), to the
second: read from the metric histories its evidence snapshots keep and the
status page moments the cockpit's watch recorded. Part of
:mod:`clay_cockpit.replay`.

The snapshots themselves are sparse — one at the declaration and one at each
branch change — so a fault "starts at the first snapshot that shows it" and
"ends at the first that shows it no more": seconds to minutes late, and an
incident that changes course (429s, then a Clay outage, then recovery) is
replayed with its faults overlapping for minutes. But every snapshot keeps
the error-rate sparklines' points (``metrics.history``: up to 15 minutes of
each code's 1-minute rate, at 15 s steps), and errors at a steady ``R``/s
from ``s`` to ``e`` have a 1-minute rate at ``t`` of
``R·|[s, e] ∩ [t−60, t]|/60``: it climbs for a minute after ``s`` and falls
for a minute after ``e``. :func:`bursts` finds each run of points above the
noise floor and fits that shape to it (least squares over ``s`` and ``e``
on a half-second grid, ``R`` in closed form): the start, the end (None while
the errors are still on at the newest point) and the rate.

Clay's status page: the watch records when an incident appeared, was
updated (identified, monitoring) and was resolved (:func:`status_moments`),
to the poll; without those events, the snapshots bound the resolution.

The window is the shipped queries' ``[1m]`` (:data:`RATE_WINDOW`): a
config whose error query uses another window skews the times by the
difference. Pure: plain data in and out, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from clay_cockpit.incident.events import EventKind
from clay_cockpit.incident.metrics_history import history_points
from clay_cockpit.incident.timeline import Event

RATE_WINDOW = 60.0  # seconds: the [1m] of rate(clay_api_requests_total[1m]) in the shipped queries
GRID = 0.5  # seconds between the start and end times tried
MIN_RATE = 0.1  # errors/s below which a code is noise (clay_cockpit.replay.MIN_RATE)
MIN_SHARE = 0.02  # a code's share of a burst's errors below which it is noise
NOISE_SHARE = 0.005  # share of calls under which an error rate is the healthy noise, when timing a burst (a drill: ~0.1%)
FIT_SLACK = 15.0  # seconds (a metrics step) a burst may miss the snapshots that showed its fault by
SEEN_LEAD = 1.0  # a moment the cockpit saw at a poll happened before it: the replay puts it this much before
FITTED = {"key_revoked": (401, 403), "rate_limited": (429,), "clay_outage": (500, 502, 503, 504)}  # timed by their codes' history
MIN_POINTS = 3  # points above the floor a burst needs to be fitted (any fault gives one a step for a minute and more)
CLEAR_FALL = 0.75  # an open run ends only when its newest point is below this share of the fitted rate
LABEL = "Clay {code}"  # the error series' labels (the default config's errors_by_code)
REQUESTS = "Clay requests"


@dataclass(frozen=True)
class Burst:
    """One run of a code group's errors, fitted: on the cockpit's clock."""

    start: float
    end: float | None  # None: still on at the newest point
    rate: float  # errors/s while on
    calls: float | None  # Clay calls/s meanwhile (the request series), when known
    by_code: dict[int, float]  # each code's share of the errors
    points: int  # points above the floor

    @property
    def share(self) -> float | None:
        return min(1.0, self.rate / self.calls) if self.calls else None


def _num(x: object) -> float | None:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        return None
    return float(x)


def _mapping(x: object) -> Mapping[str, Any]:
    return x if isinstance(x, Mapping) else {}


def rate_points(snapshots: Iterable[tuple[float, Mapping[str, Any]]], speed: float = 1.0) -> dict[str, dict[float, float]]:
    """label → {time on the cockpit's clock: value} from the snapshots' metric
    histories (not their instant values: one point says nothing of a
    ramp), the newest snapshot's reading winning. A series a snapshot's history lacks while it
    holds others counts 0 at their times (:func:`bursts`): Prometheus lists
    no rate for a code that has not failed yet."""
    out: dict[str, dict[float, float]] = {}
    for at, data in snapshots:
        metrics = data.get("metrics")
        if not isinstance(metrics, Mapping) or "error" in metrics or metrics.get("stale"):
            continue
        anchor = _num(metrics.get("updated_at")) or _num(data.get("signals_at")) or at
        history = _mapping(metrics.get("history"))
        run = {str(label): pts for label, entry in history.items() if (pts := history_points(entry)[1])}
        newest = max((p[-1][0] for p in run.values()), default=0.0)
        for label, pts in run.items():
            series = out.setdefault(label, {})
            for t, v in pts:
                series[round(anchor - (newest - t) / speed, 1)] = v
    return out


def _code_series(points: Mapping[str, Mapping[float, float]], codes: Sequence[int]) -> list[tuple[float, float, dict[int, float]]]:
    """(time, the codes' summed rate, per code) at every time any error or request series has a point."""
    times = sorted({t for label, series in points.items() if label.startswith("Clay ") for t in series})
    out = []
    for t in times:
        per = {c: points.get(LABEL.format(code=c), {}).get(t, 0.0) for c in codes}
        out.append((t, sum(per.values()), per))
    return out


def _overlap(s: float, e: float, t: float, w: float) -> float:
    return max(0.0, min(e, t) - max(s, t - w)) / w


def _frange(lo: float, hi: float, step: float) -> list[float]:
    n = max(0, int(math.floor((hi - lo) / step + 1e-9)))
    return [lo + i * step for i in range(n + 1)]


Fit = tuple[float, float, float | None, float]  # (squared error, start, end or None, rate)


def _best(pts: Sequence[tuple[float, float]], starts: Iterable[float], ends: Sequence[float | None], w: float) -> Fit | None:
    best: Fit | None = None
    for s in starts:
        for e in ends:
            if e is not None and e <= s:
                continue
            f = [_overlap(s, e if e is not None else math.inf, t, w) for t, _ in pts]
            ff = sum(x * x for x in f)
            if ff <= 0:
                continue
            r = sum(x * v for x, (_, v) in zip(f, pts)) / ff
            sse = sum((v - r * x) ** 2 for x, (_, v) in zip(f, pts))
            if best is None or sse < best[0] - 1e-12:
                best = (sse, s, e, r)
    return best


def _fit(pts: Sequence[tuple[float, float]], s_range: tuple[float, float], e_range: tuple[float, float], w: float) -> Fit | None:
    """Least squares of the windowed-rate shape over the start and end
    (e None: on past the newest point): a coarse grid, then :data:`GRID`
    around its best."""
    open_ = e_range[1] >= pts[-1][0]
    step = max(GRID, (s_range[1] - s_range[0]) / 30, (e_range[1] - e_range[0]) / 30)
    ends: list[float | None] = [*_frange(*e_range, step), *([None] if open_ else [])]
    coarse = _best(pts, _frange(*s_range, step), ends, w)
    if coarse is None or step == GRID:
        return coarse
    _, s0, e0, _ = coarse
    starts = _frange(max(s_range[0], s0 - step), min(s_range[1], s0 + step), GRID)
    fine_ends: list[float | None] = [None] if e0 is None else [*_frange(max(e_range[0], e0 - step), min(e_range[1], e0 + step), GRID)]
    fine = _best(pts, starts, fine_ends, w)
    return fine if fine is not None and fine[0] <= coarse[0] else coarse


def bursts(points: Mapping[str, Mapping[float, float]], codes: Sequence[int], floor: float, w: float = RATE_WINDOW) -> list[Burst]:
    """Each run of the codes' summed 1-minute rate at or above ``floor``, fitted (see the module docstring)."""
    series = _code_series(points, codes)
    requests = points.get(REQUESTS, {})
    out: list[Burst] = []
    i = 0
    while i < len(series):
        if series[i][1] < floor:
            i += 1
            continue
        j = i
        while j + 1 < len(series) and series[j + 1][1] >= floor:
            j += 1
        run = series[i : j + 1]
        before = series[i - 1] if i > 0 else None
        after = series[j + 1] if j + 1 < len(series) else None
        pts = [(t, v) for t, v, _ in ([before] if before else []) + run + ([after] if after else [])]
        first, last = run[0][0], run[-1][0]
        peak = max(v for _, v, _ in run)
        # a bracketing point just under the floor may already be on the ramp: its value says how far
        s_range = (before[0] - w * min(1.0, before[1] / peak) if before else first - w, first)
        e_range = (last - w, after[0] - w + w * min(1.0, after[1] / peak)) if after else (last - w, last)
        i = j + 1
        fitted = _fit(pts, s_range, e_range, w) if len(run) >= MIN_POINTS else None
        if fitted is None:
            continue
        _, s, e, r = fitted
        if after is None and e is not None and run[-1][1] > CLEAR_FALL * r:
            e = None  # the newest point is near the fitted rate: a dip, not the end
        if after is None and e is not None and e >= last:
            e = None
        areas = {c: sum(per[c] for _, _, per in run) for c in codes}
        total = sum(areas.values())
        calls = [v for t, v in requests.items() if first <= t <= last]
        out.append(
            Burst(
                round(s, 1),
                round(e, 1) if e is not None else None,
                r,
                sum(calls) / len(calls) if calls else None,
                {c: a / total for c, a in areas.items() if a > 0} if total > 0 else {},
                len(run),
            )
        )
    return out


# --------------------------------------------------------------------------
# Clay's status page


@dataclass
class StatusMoments:
    """One Clay status page incident as the cockpit saw it (its clock)."""

    name: str
    appeared: float
    identified: float | None = None
    monitoring: float | None = None
    resolved: float | None = None
    watched: bool = False  # from the watch's events (to the poll), not only from snapshots


def _watch_moments(events: Iterable[Event]) -> Iterable[tuple[str, float, Mapping[str, Any]]]:
    """(kind, at, data) of the watch's Clay incident events, and of those a declaration's evidence holds."""
    kinds = {EventKind.CLAY_INCIDENT_APPEARED.value, EventKind.CLAY_INCIDENT_UPDATED.value, EventKind.CLAY_INCIDENT_RESOLVED.value}
    for e in events:
        d = e.data if isinstance(e.data, Mapping) else {}
        if e.kind == EventKind.EVIDENCE_SNAPSHOT and isinstance(d.get("before"), list):
            for b in d["before"]:
                at = _num(b.get("at")) if isinstance(b, Mapping) else None
                if at is not None and b.get("kind") in kinds and isinstance(b.get("data"), Mapping):
                    yield str(b["kind"]), at, b["data"]
        if str(getattr(e.kind, "value", e.kind)) in kinds:
            yield str(getattr(e.kind, "value", e.kind)), e.at, d


def status_moments(events: Sequence[Event]) -> list[StatusMoments]:
    """Clay's status page incidents, by first appearance: from the watch's
    events when the timeline has them, else from the evidence snapshots
    (appeared: the first that lists it; resolved: the first later one whose
    status page answered without it)."""
    by_id: dict[str, StatusMoments] = {}
    for kind, at, d in sorted(_watch_moments(events), key=lambda m: m[1]):
        key = str(d.get("id") or d.get("name") or "")
        if not key:
            continue
        m = by_id.get(key)
        if kind == EventKind.CLAY_INCIDENT_RESOLVED.value:
            if m is not None and m.resolved is None:
                m.resolved = at
            continue
        if m is None:
            m = by_id[key] = StatusMoments(str(d.get("name") or key), at, watched=True)
        status = d.get("status")
        if status == "identified" and m.identified is None:
            m.identified = at
        elif status == "monitoring" and m.monitoring is None:
            m.monitoring = at
    if by_id:
        return sorted(by_id.values(), key=lambda m: m.appeared)
    by_name: dict[str, StatusMoments] = {}
    for e in sorted((e for e in events if e.kind == EventKind.EVIDENCE_SNAPSHOT), key=lambda e: e.at):
        page = e.data.get("statuspage") if isinstance(e.data, Mapping) else None
        if not isinstance(page, Mapping) or "error" in page or page.get("stale"):
            continue
        listed = {str(i.get("name")): i for i in page.get("incidents") or [] if isinstance(i, Mapping) and i.get("name")}
        for name, inc in listed.items():
            m = by_name.setdefault(name, StatusMoments(name, e.at))
            if inc.get("status") == "identified" and m.identified is None:
                m.identified = e.at
            if inc.get("status") == "monitoring" and m.monitoring is None:
                m.monitoring = e.at
        for name, m in by_name.items():
            if name not in listed and m.resolved is None:
                m.resolved = e.at
    return sorted(by_name.values(), key=lambda m: m.appeared)


# --------------------------------------------------------------------------
# The faults, timed


def fit_faults(
    faults: list[dict[str, Any]], raw: Sequence[tuple[float, Mapping[str, Any]]], calls: float | None, speed: float = 1.0
) -> list[dict[str, Any]]:
    """The faults as the snapshots time them (:func:`clay_cockpit.replay._snapshot_faults`),
    those Clay's error codes make timed by their codes' bursts instead: one
    fault per burst, its share of calls and (an outage) its codes' weights
    from the fit. ``calls``: Clay calls/s, for the noise floor."""
    points = rate_points(raw, speed)
    floor = max(MIN_RATE, NOISE_SHARE * calls) if calls else MIN_RATE
    found = {kind: bursts(points, codes, floor) for kind, codes in FITTED.items()}
    out: list[dict[str, Any]] = []
    claimed: set[int] = set()
    for f in faults:
        mine = [
            b
            for b in found.get(f["kind"], [])
            if b.start <= (f.get("end") or math.inf) + FIT_SLACK and (b.end is None or b.end + RATE_WINDOW >= f["start"] - FIT_SLACK)
        ]
        if not mine:
            out.append(f)
            continue
        for n, b in enumerate(mine):
            if id(b) in claimed:
                continue
            claimed.add(id(b))
            g = {**f, "params": dict(f["params"]), "start": b.start, "how": [*f["how"], fit_text(b)]}
            g.pop("end", None)
            if n:
                g["params"].pop("incident", None)  # Clay's status page incident: posted for the first burst
            end = b.end if b.end is not None else (f.get("end") if b is mine[-1] else None)
            if end is not None:
                g["end"] = end
            if b.share is not None and f["kind"] in ("rate_limited", "clay_outage"):
                g["params"]["ratio" if f["kind"] == "rate_limited" else "error_ratio"] = round(b.share, 3)
            codes = sorted((c for c, share in b.by_code.items() if share >= MIN_SHARE), key=lambda c: -b.by_code[c])
            if f["kind"] == "clay_outage" and codes:
                g["params"] |= {"codes": codes, "weights": [round(b.by_code[c] / sum(b.by_code[x] for x in codes), 3) for c in codes]}
            out.append(g)
    return out


def fit_text(b: Burst) -> str:
    """The file's comment on a fitted fault."""
    codes = "/".join(str(c) for c in sorted(b.by_code)) or "the error"
    share = f" ({b.share:.0%} of calls)" if b.share is not None else ""
    return f"{codes} rate fitted over {b.points} history point(s): ~{b.rate:.3g}/s{share}" + (
        "" if b.end is not None else ", still on at the newest"
    )


def time_incidents(faults: list[dict[str, Any]], events: Sequence[Event], last_at: float) -> None:
    """Clay's status page incident of each fault that has one, timed by
    what the cockpit saw of it (:func:`status_moments`): posted, identified,
    monitoring (the fault's end, when the metrics gave none) and resolved,
    each :data:`SEEN_LEAD` before the poll that saw it. Not identified (or
    not resolved) while the watch looked: not before the timeline's end in
    the replay either. In place, in ``f["incident_times"]`` (seconds of the
    cockpit's clock)."""
    moments = status_moments(events)
    for f in faults:
        spec = f["params"].get("incident")
        if not isinstance(spec, dict):
            continue
        m = next((m for m in moments if m.name == spec["name"] and m.appeared >= f["start"] - FIT_SLACK), None)
        m = m or next((m for m in moments if m.name == spec["name"]), None)
        if m is None:
            continue
        moments.remove(m)
        if "end" not in f and m.monitoring is not None:
            f["end"] = m.monitoring
            f["how"].append("end: when Clay's incident went to monitoring")
        start, end = f["start"], f.get("end")
        timing: dict[str, float] = {"post_after": max(0.0, m.appeared - SEEN_LEAD - start)}
        if m.identified is not None:
            timing["identified_after"] = max(0.0, m.identified - SEEN_LEAD - start)
        elif m.watched:  # not identified while the cockpit watched: not in the replay either
            timing["identified_after"] = max(240.0, last_at - start + 1)
        if m.resolved is not None and end is not None:
            timing["resolve_after"] = max(0.0, m.resolved - SEEN_LEAD - end)
        elif m.watched and end is not None:
            timing["resolve_after"] = max(300.0, last_at - end + 1)
        f["incident_times"] = timing
        seen = "the watch's events (to the poll)" if m.watched else "the evidence snapshots (at or before them)"
        f["how"].append(f"Clay's incident {spec['name']!r}: " + ", ".join(timing) + f" from {seen}")
