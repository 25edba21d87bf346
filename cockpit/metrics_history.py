"""The metric history an evidence snapshot keeps: the points the error-rate
sparklines draw, so the postmortem's chart and peak come from the same
series the responder saw on screen (not one instant per snapshot).

:func:`metrics_history` writes it (``signals_evidence`` puts it under
``metrics.history``), :func:`history_points` reads one entry back.

Pure standard library.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from cockpit.signals import Series


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
    query = entry.get("q") if isinstance(entry.get("q"), str) else ""
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


def _number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
