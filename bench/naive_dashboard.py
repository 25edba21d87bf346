"""The baseline for bench/bytes and bench/keys: the naive Textual dashboard
DESIGN.md measures (three Sparklines updated at 1 Hz, a Log at 5 lines/s),
with a pane titled like the cockpit's and `m` toggling a second screen, so
the benches can press the same keys on both programs."""

from __future__ import annotations

import random

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Log, Sparkline, Static


class Metrics(Screen):
    BINDINGS = [Binding("m", "app.pop_screen", "Back")]

    def compose(self) -> ComposeResult:
        yield Static("Metrics · baseline")
        yield Footer()


class Naive(App):
    BINDINGS = [Binding("m", "metrics", "Metrics"), Binding("q", "quit", "Quit")]

    def compose(self) -> ComposeResult:
        yield Static("1 Clay status · naive dashboard")
        for _ in range(3):
            yield Sparkline([random.random() for _ in range(60)])
        yield Log(max_lines=1000)
        yield Footer()

    def on_mount(self) -> None:
        self.set_interval(1.0, self.tick)
        self.set_interval(0.2, self.log_line)

    def tick(self) -> None:
        for spark in self.query(Sparkline):
            spark.data = [*spark.data[1:], random.random()]

    def log_line(self) -> None:
        n = random.randrange(10_000)
        self.query_one(Log).write_line(f'pod-{n % 3} level=error msg="clay call failed" status=401 n={n}')

    def action_metrics(self) -> None:
        self.push_screen(Metrics())


if __name__ == "__main__":
    Naive().run()
