"""The first frame: the cockpit's layout before its panes are built.

It imports nothing but Textual's core, so it paints as fast as a bare
Textual app. It draws the same grid as :class:`screens.main.MainScreen`
(the ids are the same, so ``cockpit/app.tcss`` sizes both alike): the
context line, the triage strip (below 120 columns), each pane's frame with
its key and name — the decision column's too (at 120 columns and more) —
and the key line. tests/test_app_layout.py holds the two to the same grid.
Right after this frame the app builds the real screen and switches to it;
no source has answered by then, so nothing is lost by the wait.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Static

# (pane id, its key, its name) — MainScreen's panes, in its order
FRAMES = (
    ("statuspage", "1", "Clay status"),
    ("health", "2", "Health"),
    ("metrics", "3", "Error rates"),
    ("pods", "4", "Pods"),
    ("logs", "5", "Pod logs"),
)
DECISION_FRAMES = (
    ("triage", "d", "Triage"),
    ("checklist", "c", "Checklist"),
    ("actions", "x", "Actions"),
    ("timeline", "t", "Timeline"),
)
STRIP = ("◌ triage: waiting for the first signals…", "  d shows the triage, checklist and timeline")  # widgets.triage.TriageStrip's first words


class BootScreen(Screen[None]):
    DEFAULT_CSS = """
    BootScreen .boot--bar {
        height: 1;
        width: 1fr;
        padding: 0 1;
        background: $panel;
        color: $text;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    BootScreen .boot--pane {
        border: round $foreground 30%;
        border-title-color: $text;
        padding: 0 1;
        height: 1fr;
        width: 1fr;
        color: $text-muted;
    }
    BootScreen .boot--strip {
        height: 1;
        color: $text-muted;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    BootScreen #badge {
        width: auto;
        height: 1;
        padding: 0 1;
        background: $panel;
    }
    BootScreen .boot--keys {
        dock: bottom;
        height: 1;
        padding: 0 1;
        color: $text-muted;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def __init__(self, title: str, target: str, keys: str) -> None:
        super().__init__()
        self._title = title
        self._target = target
        self._keys = keys  # the key line, as the footer will show it

    def compose(self) -> ComposeResult:
        with Horizontal(id="topbar"):
            yield Static(f"{self._title}  {self._target}", classes="boot--bar", markup=False)
            yield Static(id="badge")
        frames = [self._frame(*spec) for spec in FRAMES]
        with Horizontal(id="cockpit"):
            with Vertical(id="live"):
                with Vertical(id="triage-strip"):
                    for line in STRIP:
                        yield Static(line, classes="boot--strip", markup=False)
                with Horizontal(id="row-top", classes="pane-row"):
                    yield frames[0]
                    yield frames[1]
                with Horizontal(id="row-mid", classes="pane-row"):
                    yield frames[2]
                    yield frames[3]
                yield frames[4]
            with Vertical(id="decide"):
                for spec in DECISION_FRAMES:
                    yield self._frame(*spec, waiting=False)
        yield Static(self._keys, classes="boot--keys", markup=False)

    @staticmethod
    def _frame(pane_id: str, key: str, name: str, waiting: bool = True) -> Static:
        frame = Static("starting…", id=pane_id, classes="boot--pane", markup=False)
        frame.border_title = f"{key} {name}" + (" · waiting…" if waiting else "")
        return frame
