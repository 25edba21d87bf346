"""A real terminal for the end-to-end tests: a tmux server of our own.

Each :class:`Terminal` runs its own tmux server on its own socket in the
test's own temp dir, with one session, so neither names nor sockets can
collide between xdist workers or tests. The program runs in the session's
only pane, under a shell that writes its exit status to a file;
``remain-on-exit`` keeps the pane (and its last screen) after it exits.

Reading the screen: :meth:`Terminal.screen` runs ``capture-pane`` twice —
plain text, and with ``-e`` (the SGR escapes tmux holds for every cell) —
and returns a :class:`Screen`. :func:`parse_sgr_line` turns one ``-e`` line
into cells with their colours and attributes, so a test can ask which
colour a border is or whether any colour reached the terminal at all.
``pipe-pane`` also copies every byte the program writes into
``output.raw`` (bounded by the test's length), the literal stream a
terminal would receive.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

TMUX_TIMEOUT = 10.0  # seconds for one tmux command
POLL = 0.15  # seconds between captures while waiting


class TerminalError(AssertionError):
    """A wait on the screen ran out; the message carries the screen."""


# --------------------------------------------------------------------------
# SGR (colour/attribute) parsing of `capture-pane -e` lines

_ESCAPE = re.compile(r"\x1b(?:\[([0-9;:]*)([A-Za-z])|\][^\x07\x1b]*(?:\x07|\x1b\\)|[()][0-9A-B]|.)")


@dataclass(frozen=True)
class Style:
    fg: str | None = None  # None: the terminal's default colour
    bg: str | None = None
    attrs: frozenset[int] = frozenset()  # SGR attribute numbers (1 bold, 7 reverse, ...)


@dataclass(frozen=True)
class Cell:
    char: str
    style: Style


def _colour(params: list[int], i: int) -> tuple[str, int]:
    """An extended colour (38/48 ;5;n or ;2;r;g;b) starting at params[i]; (text, next index)."""
    mode = params[i + 1] if i + 1 < len(params) else None
    if mode == 5 and i + 2 < len(params):
        return f"256:{params[i + 2]}", i + 3
    if mode == 2 and i + 4 < len(params):
        return f"rgb:{params[i + 2]},{params[i + 3]},{params[i + 4]}", i + 5
    return "?", len(params)


def apply_sgr(style: Style, text: str) -> Style:
    params = [int(p) if p else 0 for p in re.split("[;:]", text)] if text else [0]
    fg, bg, attrs = style.fg, style.bg, set(style.attrs)
    i = 0
    while i < len(params):
        p = params[i]
        if p == 0:
            fg, bg, attrs = None, None, set()
        elif 1 <= p <= 9:
            attrs.add(p)
        elif p == 22:
            attrs -= {1, 2}
        elif 23 <= p <= 29:
            attrs.discard(p - 20)
        elif 30 <= p <= 37 or 90 <= p <= 97:
            fg = f"ansi:{p}"
        elif p == 38:
            fg, i = _colour(params, i)
            continue
        elif p == 39:
            fg = None
        elif 40 <= p <= 47 or 100 <= p <= 107:
            bg = f"ansi:{p}"
        elif p == 48:
            bg, i = _colour(params, i)
            continue
        elif p == 49:
            bg = None
        i += 1
    return Style(fg, bg, frozenset(attrs))


def parse_sgr_line(line: str, style: Style = Style()) -> tuple[list[Cell], Style]:
    """The cells of one ``capture-pane -e`` line (one per character), and
    the style in force at its end: tmux writes only changes, so a line
    starts in the style the previous one ended with."""
    cells: list[Cell] = []
    pos = 0
    for match in _ESCAPE.finditer(line):
        cells.extend(Cell(ch, style) for ch in line[pos : match.start()])
        if match.group(2) == "m":
            style = apply_sgr(style, match.group(1) or "")
        pos = match.end()
    cells.extend(Cell(ch, style) for ch in line[pos:])
    return cells, style


def parse_sgr(raw: str) -> list[list[Cell]]:
    """Every line of a ``capture-pane -e`` capture as cells."""
    rows, style = [], Style()
    for line in raw.split("\n"):
        cells, style = parse_sgr_line(line, style)
        rows.append(cells)
    return rows


# SGR parameters that set a colour: 30-38, 40-48, 90-97, 100-107 (39/49 reset to default)
_COLOUR_PARAM = re.compile(r"(?:^|;)(3[0-8]|4[0-8]|9[0-7]|10[0-7])(?=;|$)")
_SGR = re.compile(r"\x1b\[([0-9;:]*)m")


def colour_escapes(text: str) -> list[str]:
    """Every SGR sequence in ``text`` that sets a foreground or background colour."""
    found = []
    for match in _SGR.finditer(text):
        params = match.group(1).replace(":", ";")
        if _COLOUR_PARAM.search(params):
            found.append(match.group(0).replace("\x1b", "\\e"))
    return found


# --------------------------------------------------------------------------
# The screen


@dataclass(frozen=True)
class Box:
    """A bordered pane on screen: rows top..bottom, columns left..right (inclusive borders)."""

    title: str
    top: int
    left: int
    bottom: int
    right: int
    screen: Screen = field(repr=False, compare=False)

    @property
    def width(self) -> int:
        return self.right - self.left + 1

    @property
    def height(self) -> int:
        return self.bottom - self.top + 1

    @property
    def title_line(self) -> str:
        return self.screen.lines[self.top][self.left : self.right + 1]

    @property
    def subtitle_line(self) -> str:
        return self.screen.lines[self.bottom][self.left : self.right + 1]

    @property
    def body(self) -> list[str]:
        """The rows inside the borders."""
        return [line[self.left + 1 : self.right].ljust(self.width - 2) for line in self.screen.lines[self.top + 1 : self.bottom]]

    @property
    def text(self) -> str:
        return "\n".join(row.rstrip() for row in self.body)

    @property
    def border_style(self) -> Style:
        """Style of the top-left corner: the pane's border colour."""
        return self.screen.style_at(self.top, self.left)


@dataclass(frozen=True)
class Screen:
    text: str  # capture-pane -p
    raw: str  # capture-pane -p -e
    width: int
    height: int

    @property
    def lines(self) -> list[str]:
        lines = self.text.split("\n")
        return [line.ljust(self.width) for line in lines[: self.height]] + [" " * self.width] * (self.height - len(lines))

    def cells(self, row: int) -> list[Cell]:
        rows = parse_sgr(self.raw)
        return rows[row] if row < len(rows) else []

    def style_at(self, row: int, col: int) -> Style:
        cells = self.cells(row)
        return cells[col].style if col < len(cells) else Style()

    def __contains__(self, text: str) -> bool:
        return text in self.text

    def box(self, title: str) -> Box | None:
        """The bordered box whose top border carries ``title`` (e.g. "3 Error rates").

        The corner left of the title is ``╭``; the box's right edge is the
        next ``╮`` on that row, its bottom the first ``╰`` below the corner.
        With NO_COLOR the focused pane's frame is heavy: ``┏ ━ ┓ ┗``.
        """
        lines = self.lines
        for row, line in enumerate(lines):
            for edge, top_left, top_right, bottom_left in (("─", "╭", "╮", "╰"), ("━", "┏", "┓", "┗")):
                at = line.find(f"{edge} {title}")
                if at < 0:
                    continue
                left = line.rfind(top_left, 0, at + 1)
                right = line.find(top_right, at)
                if left < 0 or right < 0:
                    continue
                for bottom in range(row + 1, len(lines)):
                    if lines[bottom][left : left + 1] == bottom_left:
                        return Box(title, row, left, bottom, right, self)
        return None


# --------------------------------------------------------------------------
# The tmux server

# Not passed on to the server (so not to the program): pytest sets COLUMNS
# and LINES, and Python's shutil.get_terminal_size (which Textual asks)
# prefers them to the terminal's real size, so a resize would go unseen;
# NO_COLOR and TEXTUAL_* change what is drawn; TMUX is the caller's tmux.
DROPPED_ENV = ("COLUMNS", "LINES", "NO_COLOR", "TMUX", "TMUX_PANE")


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in DROPPED_ENV and not k.startswith(("TEXTUAL", "PYTEST"))}


class Terminal:
    """A tmux server with one session, ``cockpit``, at a fixed size."""

    SESSION = "cockpit"

    def __init__(self, root: Path, *, term: str = "tmux-256color") -> None:
        self.root = root
        self.socket = root / "tmux.sock"
        self.output = root / "output.raw"
        self.status_file = root / "exit.status"
        self.term = term
        self.width = 0
        self.height = 0
        self.started = False
        conf = root / "tmux.conf"
        conf.write_text(
            "\n".join(
                [
                    f"set -g default-terminal {shlex.quote(term)}",
                    "set -g remain-on-exit on",  # keep the pane (and its exit status) after the program exits
                    "set -g history-limit 2000",
                    "set -g status off",  # the whole window is the program's
                    "set -sg escape-time 0",  # Escape goes through at once
                    "",
                ]
            )
        )
        self.conf = conf

    def tmux(self, *args: str, check: bool = True) -> str:
        proc = subprocess.run(
            ["tmux", "-S", str(self.socket), "-f", str(self.conf), *args],
            capture_output=True,
            text=True,
            timeout=TMUX_TIMEOUT,
            env=clean_env(),
        )
        if check and proc.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc.stdout

    def start(
        self, argv: Sequence[str], *, width: int = 80, height: int = 24, env: dict[str, str] | None = None, unset: Sequence[str] = ()
    ) -> None:
        """Run ``argv`` in a new detached session of ``width`` x ``height``.

        ``env`` is added to (and ``unset`` removed from) the environment the
        program gets; TERM is the server's ``default-terminal``.
        """
        command = ["env", *(f"-u{name}" for name in unset), *(f"{k}={v}" for k, v in (env or {}).items()), *argv]
        # A shell around the program writes its exit status to a file: tmux
        # 3.3 can report a pane dead before it has reaped (or while it never
        # reaps) the program, with no status to read.
        status = shlex.quote(str(self.status_file))
        wrapper = ["sh", "-c", f'"$@"; echo $? > {status}.tmp && mv {status}.tmp {status}', "sh", *command]
        self.tmux("new-session", "-d", "-s", self.SESSION, "-x", str(width), "-y", str(height), shlex.join(wrapper))
        self.width, self.height = width, height
        self.started = True
        self.tmux("pipe-pane", "-o", "-t", self.SESSION, f"cat >> {shlex.quote(str(self.output))}")

    def send(self, *keys: str, literal: bool = False) -> None:
        """tmux send-keys: key names ("Escape", "Enter", "q") or, with literal, text."""
        self.tmux("send-keys", "-t", self.SESSION, *(["-l"] if literal else []), *keys)

    def resize(self, width: int, height: int) -> None:
        self.tmux("resize-window", "-t", self.SESSION, "-x", str(width), "-y", str(height))
        self.width, self.height = width, height

    def info(self, fmt: str) -> str:
        return self.tmux("display-message", "-p", "-t", self.SESSION, fmt).strip()

    @property
    def pane_pid(self) -> int:
        return int(self.info("#{pane_pid}"))

    def exit_status(self) -> int | None:
        """The program's exit status once it has exited (128 + N if signal N
        ended it), else None."""
        try:
            return int(self.status_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def _snapshot(self) -> tuple[Screen, str | None]:
        """One tmux call: the pane's size and state, and its contents with
        escapes (the plain text is those without the escapes)."""
        out = self.tmux(
            "display-message", "-p", "-t", self.SESSION, "#{pane_width}|#{pane_height}", ";", "capture-pane", "-p", "-e", "-t", self.SESSION
        )
        state, _, raw = out.partition("\n")
        width, height = state.split("|")
        raw = raw.rstrip("\n")
        text = "\n".join(line.rstrip() for line in _ESCAPE.sub("", raw).split("\n"))
        status = self.exit_status()
        return Screen(text, raw, int(width), int(height)), None if status is None else f"status {status}"

    def screen(self) -> Screen:
        return self._snapshot()[0]

    def raw_output(self) -> bytes:
        """Every byte the program wrote to the terminal so far."""
        try:
            return self.output.read_bytes()
        except FileNotFoundError:
            return b""

    def wait(self, check: Callable[[Screen], str | None], timeout: float, what: str) -> Screen:
        """Capture until ``check`` returns None (satisfied); else fail with the
        last reason and the screen. ``check`` returns why it is not yet met."""
        deadline = time.monotonic() + timeout
        while True:
            screen, exited = self._snapshot()
            why = check(screen)
            if why is None:
                return screen
            if exited is not None:
                raise TerminalError(self.describe(f"{what}: the program exited ({exited}) first: {why}", screen))
            if time.monotonic() >= deadline:
                raise TerminalError(self.describe(f"{what}: not within {timeout:g}s: {why}", screen))
            time.sleep(POLL)

    def wait_text(self, text: str, timeout: float = 10.0) -> Screen:
        return self.wait(lambda s: None if text in s else f"{text!r} not on screen", timeout, f"waiting for {text!r}")

    def wait_exit(self, timeout: float = 10.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.exit_status()
            if status is not None:
                return status
            time.sleep(POLL)
        pid = self.info("#{pane_pid}")  # the shell around the program
        ps = subprocess.run(
            ["ps", "-o", "pid,ppid,stat,etime,args", "--ppid", pid, "-p", pid], capture_output=True, text=True, timeout=10
        ).stdout
        raise TerminalError(self.describe(f"the program did not exit within {timeout:g}s:\n{ps}", self.screen()))

    def describe(self, message: str, screen: Screen | None) -> str:
        shown = screen.text if screen is not None else "(no screen)"
        return f"{message}\n--- screen ({self.width}x{self.height}, TERM={self.term}) ---\n{shown}\n--- end of screen ---"

    def kill(self) -> None:
        if self.started:
            self.tmux("kill-server", check=False)
            self.started = False
