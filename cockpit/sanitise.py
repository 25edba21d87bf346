"""The one sanitiser for text that comes from outside.

Status pages, health endpoints, Prometheus labels, pod names, Kubernetes
messages, log lines, Slack and API error bodies are *data*. None of it may
drive the responder's terminal, reorder what is shown, or reach a file or a
message with a control character in it. Every source passes such text
through :func:`clean` (or :func:`clean_line`) where it enters the cockpit,
and the writers (the postmortem, the update editor, messages sent to Slack
and the status page) pass what they write through it once more.

What :func:`clean` does, in this order:

* Escape sequences go as a whole, not just their ESC: CSI (``ESC [`` or
  U+009B … final byte, e.g. ``ESC[2J`` clear screen, colour codes), string
  sequences (``ESC ]`` OSC / U+009D: OSC 0 window title, OSC 8 link, OSC 52
  clipboard write; ``ESC P`` DCS, ``ESC X`` SOS, ``ESC ^`` PM, ``ESC _`` APC
  and their C1 forms) up to their terminator (BEL, ``ESC \\`` or U+009C), and
  the short ``ESC`` + final-byte forms (``ESC c`` reset, ``ESC ( B``). The
  link text of an OSC 8 link stays, the link goes. An unterminated string
  sequence loses its introducer only: what follows shows as plain text.
* Every control character left (C0 except newline and tab, DEL, C1
  U+0080–U+009F) becomes U+FFFD, so the reader sees that something was
  there. Tabs become spaces (4-column stops): a tab's width depends on the
  terminal, and Textual measures text by cells.
* Bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069)
  become U+FFFD too: they reorder what follows them ("Trojan source") and a
  responder must read a pod name or a title as it is stored. The invisible
  bidi *marks* (U+200E LRM, U+200F RLM, U+061C ALM) are dropped: they only
  nudge neutral characters, a terminal does not do bidi anyway, and a
  replacement character for each would litter legitimate right-to-left text.

:func:`clean_line` does the same and then makes the text one line (line
breaks become spaces): for log line bodies, names and one-line messages.

:func:`clean_line_colour` is :func:`clean_line` for a log line whose colour
the logs pane shows: the same, except that SGR sequences in their 7-bit form
(``ESC [`` digits, ``;`` or ``:`` ``m``: colour, bold, reset) stay as they
are, so the pane can decode them, and *only* them, into styles
(:mod:`clay_cockpit.widgets.logs`). The result is never written to a
terminal as it is: everything but those sequences is what :func:`clean_line`
leaves, and :func:`strip_sgr` of it is clean.

Standard library only, so sources, writers and widgets can all use it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

REPLACEMENT = "\ufffd"

# ESC-introduced sequences and their 8-bit (C1) forms. Order matters: the
# string sequences and CSI before the short two-character forms.
_ST = r"(?:\x07|\x1b\\|\x9c)"  # string terminator: BEL (xterm), ESC \ or C1 ST
_STRING_SEQ = r"(?:\x1b[\]PX^_]|[\x9d\x90\x98\x9e\x9f])[^\x07\x1b\x9c]*" + _ST
_CSI = r"(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]"
_SHORT = r"\x1b[\x20-\x2f]*[\x30-\x7e]"
_SEQUENCE = re.compile(f"{_STRING_SEQ}|{_CSI}|{_SHORT}")

# what is left after the sequences went: lone controls and bidi controls
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_MARKS = re.compile("[\u200e\u200f\u061c]")
_LINE_BREAKS = re.compile(r"\r\n|\n")
SGR = re.compile(r"\x1b\[[0-9;:]*m")  # Select Graphic Rendition: colours and text styles only

# every character clean() must never let through (for tests and asserts)
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]")


def clean(text: object) -> str:
    """``text`` from outside made inert: escape sequences removed whole,
    other control and bidi characters replaced (see the module docstring).
    Newlines stay (multi-line text keeps its lines); tabs become spaces."""
    s = text if isinstance(text, str) else str(text)
    if s.isprintable():  # the common case; newline, tab, controls and bidi characters are not printable
        return s
    s = _SEQUENCE.sub("", s).replace("\r\n", "\n").expandtabs(4)
    return _MARKS.sub("", _CONTROL.sub(REPLACEMENT, s))


def clean_line(text: object) -> str:
    """:func:`clean`, then one line: each line break becomes a space."""
    return _LINE_BREAKS.sub(" ", clean(text))


def clean_line_colour(text: object) -> str | None:
    """:func:`clean_line`, but keeping the SGR (colour) sequences; None when
    there is none to keep (then :func:`clean_line` is all there is)."""
    s = text if isinstance(text, str) else str(text)
    if "\x1b[" not in s:
        return None
    out: list[str] = []
    column, pos, kept = 0, 0, False
    for match in _SEQUENCE.finditer(s):
        piece, column = _plain(s[pos : match.start()], column)
        out.append(piece)
        if SGR.fullmatch(match.group()):
            out.append(match.group())
            kept = True
        pos = match.end()
    out.append(_plain(s[pos:], column)[0])
    return "".join(out) if kept else None


def _plain(piece: str, column: int) -> tuple[str, int]:
    """A stretch between escape sequences as :func:`clean_line` makes it
    (tabs to the stops of the whole line, which has ``column`` characters
    on its current line before it) and the column after it."""
    lead = column % 4
    piece = (" " * lead + piece.replace("\r\n", "\n")).expandtabs(4)[lead:]
    last = piece.rfind("\n")
    column = len(piece) - last - 1 if last >= 0 else column + len(piece)
    return _LINE_BREAKS.sub(" ", _MARKS.sub("", _CONTROL.sub(REPLACEMENT, piece))), column


def strip_sgr(text: str) -> str:
    """``text`` without its SGR sequences (what :func:`clean_line_colour`
    kept)."""
    return SGR.sub("", text)


def clean_tree(value: Any) -> Any:
    """Every string in ``value`` (dicts, lists, tuples of them, keys too)
    through :func:`clean`; other values unchanged. For a message's layout
    (Slack blocks) on its way out."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, Mapping):
        return {clean(k) if isinstance(k, str) else k: clean_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(clean_tree(v) for v in value)
    return value


def is_clean(text: str) -> bool:
    """True if ``text`` holds nothing :func:`clean` would remove or replace
    (no control character but newline, no tab, no bidi control)."""
    return UNSAFE.search(text) is None and "\t" not in text
