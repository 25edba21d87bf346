"""The baseline for bench/startup: the smallest Textual app that paints a frame."""

from textual.app import App, ComposeResult
from textual.widgets import Static


class Bare(App):
    def compose(self) -> ComposeResult:
        yield Static("bare textual app ready")


if __name__ == "__main__":
    Bare().run()
