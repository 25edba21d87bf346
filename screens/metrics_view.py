"""The metrics view: a larger plotext chart per series.

Imported only when the view opens (``m``), so textual_plotext and plotext
never delay the first frame.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static
from textual_plotext import PlotextPlot

from clay_cockpit.signals import MetricsSnapshot, Reading, Series
from clay_cockpit.widgets.common import clean, format_age, problem_content, set_if_changed
from clay_cockpit.widgets.footer import KeyFooter
from clay_cockpit.widgets.metrics import format_value, host_of, order_series


class SeriesChart(Vertical):
    DEFAULT_CSS = """
    SeriesChart {
        border: round $foreground 30%;
        border-title-color: $text;
        height: 1fr;
        min-height: 10;
    }
    """

    def __init__(self, series: Series, now: float) -> None:
        super().__init__()
        self.series_key = series.key
        self._initial = (series, now)
        self._ready = False
        self._chart = PlotextPlot()

    def compose(self) -> ComposeResult:
        yield self._chart

    def on_mount(self) -> None:
        self._ready = True
        self.plot(*self._initial)

    def plot(self, series: Series, now: float) -> None:
        if not self._ready:  # not composed yet: plot this on mount instead
            self._initial = (series, now)
            return
        self.border_title = Content(
            f"{clean(series.label)} · {format_value(series.current, series.unit)}"
        )  # a label is outside text: never markup
        chart = self._chart
        plt = chart.plt
        plt.clear_data()
        plt.clear_figure()
        if series.points:
            # minutes before the newest sample (a sped-up drill's clock runs ahead of ours)
            newest = series.points[-1][0]
            xs = [(t - newest) / 60.0 for t, _ in series.points]
            plt.plot(xs, [v for _, v in series.points], marker="braille")
        plt.xlabel("minutes ago")
        plt.ylabel(series.unit)
        chart.refresh()


class MetricsScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,m", "app.pop_screen", "Back", id="metrics.close", tooltip="Back to the cockpit"),
    ]
    DEFAULT_CSS = """
    MetricsScreen #metrics-head {
        height: auto;
        padding: 0 1;
        background: $panel;
    }
    MetricsScreen #metrics-link {
        height: auto;  /* the whole link, wrapped: a responder copies it by hand too */
        padding: 0 1;
    }
    MetricsScreen #metrics-problem {
        color: $text-error;
        padding: 0 1;
        height: auto;
    }
    MetricsScreen Grid {
        grid-size: 1;
        grid-rows: 12;
        overflow-y: auto;
    }
    MetricsScreen.-wide Grid {
        grid-size: 2;
        grid-rows: 1fr;
    }
    """

    def __init__(self, reading: Reading[MetricsSnapshot], now: float, links: Callable[[], tuple[str, ...]] = tuple) -> None:
        super().__init__()
        self._links = links  # the Grafana dashboards over the incident's range (issue 16): shown whole, y copies the first
        self._reading = reading
        self._now = now
        self._shown: object = None
        self._charts: dict[str, SeriesChart] = {}
        self._mounted = False

    def compose(self) -> ComposeResult:
        yield Static(id="metrics-head")
        yield Static(id="metrics-link")
        yield Static(id="metrics-problem")
        yield Grid(id="charts")
        yield KeyFooter(compact=True, show_command_palette=False)  # the keys need the room at 80 columns

    def on_mount(self) -> None:
        self._mounted = True
        self.show(self._reading, self._now)

    def show(self, reading: Reading[Any], now: float) -> None:
        """Show this reading; the charts are drawn again only for a new snapshot.
        The app keeps this screen and calls this again on each `m`."""
        self._reading, self._now = reading, now
        if not self._mounted:  # pushed but not composed yet: on_mount shows it
            return
        head = self.query_one("#metrics-head", Static)
        snap = reading.value
        if isinstance(snap, MetricsSnapshot):
            where = f"via {host_of(snap.served_by)}" + (" — BACKUP (primary failed)" if snap.is_backup else "")
            age = format_age(reading.age(now))
            set_if_changed(head, f"Metrics · {age} ago{' · STALE' if reading.stale else ''} · {clean(where)}")
        else:
            set_if_changed(head, "Metrics · waiting for the first answer…")
        links = self._links()
        link = self.query_one("#metrics-link", Static)
        link.display = bool(links)
        if links:
            set_if_changed(link, Content.styled(f"Grafana (y copies): {clean(links[0])}", "$text-muted"))
        problem = self.query_one("#metrics-problem", Static)
        problem.display = reading.error is not None
        if reading.error is not None:
            set_if_changed(problem, problem_content(reading.error))
        if not isinstance(snap, MetricsSnapshot) or snap is self._shown:
            return
        self._shown = snap
        series = order_series(snap.series)
        if [s.key for s in series] != list(self._charts):  # the set of series changed: new charts
            for chart in self._charts.values():
                chart.remove()
            self._charts = {s.key: SeriesChart(s, now) for s in series}
            self.query_one("#charts", Grid).mount_all(self._charts.values())
            return
        for s in series:
            self._charts[s.key].plot(s, now)
