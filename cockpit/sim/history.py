"""What the drill's Prometheus knows: Clay call counters, one sample per sim
second, for the last hour, and the three shipped queries evaluated on them.

Counters are cumulative (like ``clay_api_requests_total``), so
``rate(x[1m])`` at T is ``(x(T) - x(T-60)) / 60`` — O(1) per point, which
keeps range queries cheap. The /metrics exposition reads the same totals
(by code, method and endpoint, plus the latency histogram).
"""

from __future__ import annotations

import bisect
import math
import re
from collections import deque
from collections.abc import Iterable
from decimal import Decimal

from clay_cockpit.config import DEFAULT_QUERIES
from clay_cockpit.sim.traffic import Call

BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
KEEP_SECONDS = 3600 + 120
WINDOW = 60  # the [1m] of the shipped queries
STALE = 300  # Prometheus' lookback: no sample in 5 minutes → no value


def normalise(query: str) -> str:
    return re.sub(r"\s+", "", query)


SHIPPED = {normalise(q["query"]): name for name, q in DEFAULT_QUERIES.items() if isinstance(q, dict)}  # all are


class _Sample:
    __slots__ = ("codes", "buckets", "total_sum")

    def __init__(self, codes: dict[int, float], buckets: tuple[float, ...], total_sum: float) -> None:
        self.codes = codes
        self.buckets = buckets  # cumulative per le, last is +Inf
        self.total_sum = total_sum


class MetricsHistory:
    def __init__(self, keep: int = KEEP_SECONDS) -> None:
        self._samples: deque[_Sample] = deque(maxlen=keep)
        self._last_second: int | None = None
        self._codes: dict[int, float] = {}
        self._buckets = [0.0] * (len(BUCKETS) + 1)
        self._sum = 0.0
        self.hidden: set[str] = set()  # metric names the drill's Prometheus pretends not to have (/_sim/prometheus/hide)
        self.quiet: set[str] = set()  # shipped queries whose filter matches nothing now, metrics kept (/_sim/prometheus/quiet)
        # for /metrics: (code, method, endpoint) → count
        self.requests: dict[tuple[int, str, str], float] = {}

    # ---------------------------------------------------------------- writing

    def record(self, second: int, calls: Iterable[Call], weight: float = 1.0) -> None:
        """Add the calls of one sim second (seconds must come in order); each counts
        ``weight`` times (a sample of a busier second)."""
        if self._last_second is not None and second <= self._last_second:
            raise ValueError(f"second {second} is not after {self._last_second}")
        if self._last_second is not None and second > self._last_second + 1:
            self._samples.clear()  # a gap (e.g. a jump of the clock): start a fresh series
        for call in calls:
            self._codes[call.code] = self._codes.get(call.code, 0.0) + weight
            key = (call.code, call.method, call.endpoint)
            self.requests[key] = self.requests.get(key, 0.0) + weight
            i = bisect.bisect_left(BUCKETS, call.seconds)
            for j in range(i, len(self._buckets)):
                self._buckets[j] += weight
            self._sum += call.seconds * weight
        self._samples.append(_Sample(dict(self._codes), tuple(self._buckets), self._sum))
        self._last_second = second

    # ---------------------------------------------------------------- reading

    @property
    def last_second(self) -> int | None:
        return self._last_second

    @property
    def first_second(self) -> int | None:
        if self._last_second is None:
            return None
        return self._last_second - len(self._samples) + 1

    def histogram(self) -> tuple[tuple[float, ...], float, float]:
        """Cumulative bucket counts (last is +Inf), sum and count, now."""
        return tuple(self._buckets), self._sum, self._buckets[-1]

    def _at(self, second: int) -> _Sample | None:
        first = self.first_second
        if first is None or second < first or second > self._last_second:  # type: ignore[operator]
            return None
        return self._samples[second - first]

    def _pair(self, at: float) -> tuple[_Sample, _Sample] | None:
        """Samples at T and T-60 for an evaluation time, or None when no data."""
        last, first = self._last_second, self.first_second
        if last is None or first is None:
            return None
        second = min(int(math.floor(at)), last)
        if at - last > STALE or second < first:
            return None
        end = self._at(second)
        start = self._at(max(first, second - WINDOW))
        if end is None or start is None:
            return None
        return end, start

    def rates_by_code(self, at: float, window: int = WINDOW) -> dict[int, float]:
        pair = self._pair(at)
        if pair is None:
            return {}
        end, start = pair
        return {code: (value - start.codes.get(code, 0.0)) / window for code, value in end.codes.items()}

    def counts(self, at: float, seconds: int = WINDOW) -> dict[int, float]:
        """Calls per status code over the last ``seconds`` before ``at``."""
        last, first = self._last_second, self.first_second
        if last is None or first is None:
            return {}
        second = min(int(math.floor(at)), last)
        end, start = self._at(second), self._at(max(first, second - seconds))
        if end is None or start is None:
            return {}
        return {code: value - start.codes.get(code, 0.0) for code, value in end.codes.items() if value - start.codes.get(code, 0.0) > 0}

    def quantile(self, q: float, at: float) -> float | None:
        """histogram_quantile over rate(..._bucket[1m]); NaN when no calls; None when no data."""
        pair = self._pair(at)
        if pair is None:
            return None
        end, start = pair
        counts = [e - s for e, s in zip(end.buckets, start.buckets)]
        return histogram_quantile(q, list(BUCKETS) + [math.inf], counts)

    # ---------------------------------------------------------------- PromQL

    def evaluate(self, name: str, at: float) -> list[tuple[dict[str, str], float]]:
        """One shipped query at one instant: [(labels, value)]."""
        if name == "errors_by_code":
            rates = self.rates_by_code(at)
            return [({"code": str(c)}, rates[c]) for c in sorted(rates) if 400 <= c <= 599]
        if name == "request_rate":
            rates = self.rates_by_code(at)
            return [({}, sum(rates.values()))] if self._pair(at) is not None else []
        if name == "latency_p95":
            value = self.quantile(0.95, at)
            return [] if value is None else [({}, value)]
        raise KeyError(name)


def histogram_quantile(q: float, bounds: list[float], cumulative: list[float]) -> float:
    """Prometheus' histogram_quantile on cumulative bucket counts (last bound +Inf)."""
    if not cumulative or cumulative[-1] <= 0:
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    rank = q * cumulative[-1]
    i = next(i for i, c in enumerate(cumulative) if c >= rank)
    if i == len(bounds) - 1:  # the +Inf bucket: the highest finite bound
        return bounds[-2]
    start, prev = (0.0, 0.0) if i == 0 else (bounds[i - 1], cumulative[i - 1])
    if i == 0 and bounds[0] <= 0:
        return bounds[0]
    width = cumulative[i] - prev
    if width <= 0:
        return bounds[i]
    return start + (bounds[i] - start) * (rank - prev) / width


def prom_float(value: float) -> str:
    """A sample value as Prometheus writes it (Go's strconv.FormatFloat(v, 'f', -1, 64))."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = repr(float(value))
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    if text.endswith(".0"):
        text = text[:-2]
    return "0" if text == "-0" else text


def prom_time(at: float) -> float | int:
    """A sample timestamp as Prometheus writes it: seconds with millisecond precision."""
    ms = round(at * 1000)
    return ms // 1000 if ms % 1000 == 0 else ms / 1000
