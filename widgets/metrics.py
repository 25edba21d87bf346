"""Error-rates pane: a sparkline per series with its current value and unit,
plus which Prometheus is serving (and a clear marker when it is a backup).

The error series (one per status code) share one scale — zero at the
bottom, the largest error rate of any code (at least the warning
threshold) at the top — so 0.07 req/s of 500s draws as a flat line next to
38 req/s of 401s instead of as tall. Request rate and p95 each have their
own scale, anchored at zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from urllib.parse import urlsplit

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.events import Resize
from textual.widgets import Static

from clay_cockpit.config import Thresholds
from clay_cockpit.signals import MetricsSnapshot, Series
from clay_cockpit.widgets.common import SourcePane, clean, set_if_changed

QUERY_ORDER = ("errors_by_code", "request_rate", "latency_p95")
LABEL_WIDTH_MAX = 16
COMPACT_BELOW = 48  # pane width under which labels go short ("401", "req", "p95")
NO_DATA = ":no-data"  # key suffix of a pane row for a query that returned no series

SHORT_LABELS = {"request_rate": "req", "latency_p95": "p95"}
BARS = "▁▂▃▄▅▆▇█"


def bars(values: Sequence[float], width: int, top: float) -> str:
    """One row of ``▁▂▃▄▅▆▇█`` for ``values`` (oldest first) in ``width``
    columns: each column the largest value of its bucket, 0 drawn as ``▁``
    and ``top`` (or more) as ``█``. Fewer values than columns are stretched."""
    if width <= 0:
        return ""
    if not values:
        return BARS[0] * width
    n = len(values)
    if n >= width:
        step = Fraction(n, width)
        buckets = [values[int(step * i) : int(step * (i + 1))] for i in range(width)]
    else:
        buckets = [[values[i * n // width]] for i in range(width)]
    top = top if top > 0 else 1.0
    out = []
    for bucket in buckets:
        peak = max(bucket) if bucket else 0.0
        ratio = min(1.0, max(0.0, peak / top))
        out.append(BARS[int(ratio * (len(BARS) - 1))])
    return "".join(out)


def scale_top(series: Sequence[Series], thresholds: Thresholds) -> dict[str, float]:
    """The top of each series' sparkline: one shared top for the error series
    (the largest error value of any code, at least ``error_rate_warn``), the
    series' own largest value for the others."""

    def peak(s: Series) -> float:
        return max((v for _, v in s.points), default=0.0)

    errors = [s for s in series if s.query == "errors_by_code"]
    shared = max([thresholds.error_rate_warn, *(peak(s) for s in errors)])
    return {s.key: shared if s.query == "errors_by_code" else peak(s) for s in series}


class ScaledSparkline(Static):
    """A one-row sparkline on a given scale (see :func:`bars`)."""

    DEFAULT_CSS = """
    ScaledSparkline {
        height: 1;
        text-wrap: nowrap;
        color: $primary;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self._values: tuple[float, ...] = ()
        self._top = 1.0

    def plot(self, values: Sequence[float], top: float) -> None:
        self._values, self._top = tuple(values), top
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        if self.size.width:
            set_if_changed(self, bars(self._values, self.size.width, self._top))


def order_series(series: tuple[Series, ...]) -> list[Series]:
    """Errors (by code) first, then request rate, p95, then any other query."""

    def key(s: Series) -> tuple[int, str, float, str]:
        rank = QUERY_ORDER.index(s.query) if s.query in QUERY_ORDER else len(QUERY_ORDER)
        split = s.labels[0][1] if s.labels else ""
        number = float(split) if split.isdigit() else 0.0
        return (rank, s.query, number, s.key)

    return sorted(series, key=key)


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    magnitude = abs(value)
    text = f"{value:.0f}" if magnitude >= 100 else f"{value:.1f}" if magnitude >= 10 else f"{value:.2f}"
    return f"{text} {unit}".strip()


def level(series: Series, thresholds: Thresholds) -> str:
    """ "crit", "warn" or "" for a series against the configured thresholds."""
    if series.current is None:
        return ""
    if series.query == "errors_by_code":
        warn, crit = thresholds.error_rate_warn, thresholds.error_rate_crit
    elif series.query == "latency_p95":
        warn, crit = thresholds.latency_p95_warn_ms, thresholds.latency_p95_crit_ms
    else:
        return ""
    return "crit" if series.current >= crit else "warn" if series.current >= warn else ""


def label_for(series: Series, compact: bool) -> str:
    if not compact:
        return clean(series.label)
    if series.labels:
        return clean(series.labels[0][1])
    return SHORT_LABELS.get(series.query, clean(series.label)[:6])


def host_of(url: str) -> str:
    return urlsplit(url).netloc or url


class SeriesRow(Horizontal):
    """One series: label, sparkline of its history, current value."""

    DEFAULT_CSS = """
    SeriesRow {
        height: 1;
    }
    SeriesRow > .series--label {
        width: auto;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    SeriesRow > ScaledSparkline {
        width: 1fr;
        margin: 0 1;
        min-width: 4;
    }
    SeriesRow.-warn > ScaledSparkline { color: $warning; }
    SeriesRow.-crit > ScaledSparkline { color: $error; }
    SeriesRow > .series--value {
        width: 10;
        text-align: right;
        text-wrap: nowrap;
    }
    SeriesRow.-nodata > .series--value { color: $text-warning; }
    SeriesRow.-warn > .series--value { color: $text-warning; text-style: bold; }
    SeriesRow.-crit > .series--value { color: $text-error; text-style: bold; }
    """

    def __init__(self, series: Series, level: str, label: str, label_width: int, top: float) -> None:
        super().__init__(classes="series")
        self.series_key = series.key
        self._initial = (series, level, label, label_width, top)
        self._ready = False
        self._label = Static(classes="series--label")
        self._spark = ScaledSparkline()
        self._value = Static(classes="series--value")

    def compose(self) -> ComposeResult:
        yield self._label
        yield self._spark
        yield self._value

    def on_mount(self) -> None:
        self._ready = True
        self.show(*self._initial)

    def show(self, series: Series, level: str, label: str, label_width: int, top: float) -> None:
        if not self._ready:  # not composed yet: draw this on mount instead
            self._initial = (series, level, label, label_width, top)
            return
        width = self._label.styles.width
        if width is None or width.value != label_width:
            self._label.styles.width = label_width
        set_if_changed(self._label, label)
        self._spark.plot([value for _, value in series.points], top)
        set_if_changed(self._value, "no data" if series.key.endswith(NO_DATA) else format_value(series.current, series.unit))
        self.set_class(series.key.endswith(NO_DATA), "-nodata")
        self.set_class(level == "warn", "-warn")
        self.set_class(level == "crit", "-crit")


class MetricsPane(SourcePane):
    """Clay error rates by status code, request rate and p95 latency."""

    PANE_TITLE = "Error rates"
    PANE_KEY = "3"
    PANE_SHORT = "Metrics"

    DEFAULT_CSS = """
    MetricsPane > .metrics--notice {
        display: none;
        height: auto;
        color: $text-warning;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def __init__(self, thresholds: Thresholds, backup_urls: tuple[str, ...] = (), *, grafana: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.thresholds = thresholds
        self.backup_urls = backup_urls
        self.grafana = grafana  # dashboards configured (issue 16): the subtitle says y copies their link
        self._rows: dict[str, SeriesRow] = {}
        self._compact: bool | None = None

    def compose_body(self) -> ComposeResult:
        self._notice = Static(classes="metrics--notice")
        self._empty = Static("waiting for the first answer…", classes="pane--waiting", id="metrics-empty")
        self._body = VerticalScroll(self._empty, classes="pane--body", can_focus=True, id="metrics-rows")
        yield self._notice
        yield self._body

    def on_resize(self, event: Resize) -> None:
        compact = event.size.width < COMPACT_BELOW
        if compact != self._compact:
            self._compact = compact
            if isinstance(self.reading.value, MetricsSnapshot):
                self.render_value(self.reading.value, self._now)
        elif isinstance(self.reading.value, MetricsSnapshot):
            self._show_notice(self.reading.value)

    def _backup_name(self, snap: MetricsSnapshot) -> str:
        """ "backup 1" (its place in metrics.backup_urls), or "backup"."""
        url = snap.served_by.rstrip("/")
        number = next((i for i, b in enumerate(self.backup_urls, 1) if b.rstrip("/") == url), None)
        return f"backup {number}" if number else "backup"

    def _show_notice(self, value: MetricsSnapshot) -> None:
        """Why a backup serves: the longest of these that fits the pane (never cut to "backup se…")."""
        self._notice.display = value.is_backup
        if not value.is_backup:
            return
        why = f"primary {value.failovers[0].kind.value}" if value.failovers else "primary failed"
        backup = self._backup_name(value)
        variants = [
            f"⚠ {why} → {backup} {host_of(value.served_by)} serving",
            f"⚠ {why} → {backup} serving",
            f"⚠ {why} → backup serving",
            f"⚠ {why}",
        ]
        room = self.content_region.width
        set_if_changed(self._notice, next((v for v in variants if room <= 0 or cell_len(v) <= room), variants[-1]))

    def render_value(self, value: MetricsSnapshot, now: float) -> None:
        self._show_notice(value)
        if self._compact is None:  # not laid out yet: on_resize draws it
            return
        placeholders = tuple(
            Series(key=f"{name}{NO_DATA}", query=name, label=label, unit="", labels=(), current=None, points=())
            for name, label in value.no_data
        )
        series = order_series(value.series + placeholders)
        empty = self._empty
        empty.display = not series
        if not series:
            empty.remove_class("pane--waiting")
            set_if_changed(empty, "Prometheus returned no series for the configured queries")
        labels = {s.key: label_for(s, self._compact) for s in series}
        tops = scale_top(series, self.thresholds)
        label_width = min(LABEL_WIDTH_MAX, max((cell_len(text) for text in labels.values()), default=3))
        if [s.key for s in series] != list(self._rows):  # the set of series changed: new rows
            for row in self._rows.values():
                row.remove()
            self._rows = {s.key: SeriesRow(s, level(s, self.thresholds), labels[s.key], label_width, tops[s.key]) for s in series}
            self._body.mount_all(self._rows.values())
            return
        for s in series:
            self._rows[s.key].show(s, level(s, self.thresholds), labels[s.key], label_width, tops[s.key])

    def title_extra(self) -> str:
        snap = self.reading.value
        if isinstance(snap, MetricsSnapshot) and snap.is_backup:
            return "[reverse $warning]BACKUP[/]"  # no padding: it must fit a 24-cell frame with the age
        return ""

    def subtitle_ok(self) -> str:
        snap = self.reading.value
        if not isinstance(snap, MetricsSnapshot):
            return ""
        via = "via primary" if not snap.is_backup else f"via {self._backup_name(snap)} {host_of(snap.served_by)}"
        return f"{via} · y Grafana" if self.grafana else via

    def subtitle_shorter(self) -> tuple[str, ...]:
        snap = self.reading.value
        if not isinstance(snap, MetricsSnapshot):
            return ()
        if not snap.is_backup:
            return ("via primary",) if self.grafana else ()
        backup = self._backup_name(snap)
        return (f"{backup} {host_of(snap.served_by)}", f"via {backup}")
