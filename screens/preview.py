"""The message as it will be seen, before it is sent.

Internal: the update as Slack shows it — the header block in bold, each
section with its mrkdwn (``*bold*``, ``_italic_``, ``~strike~``, ```code```,
``<url|label>``) rendered, the context block small and muted — then the
summary message at the top of the thread as it will read after this send,
and the plain-text fallback Slack puts in notifications. External: the
status page update as customers see it (the incident's name, the status and
the affected components, the text).

Where it goes is the first line ("#inc-clay, a reply in the incident
thread"); the draft's flags (internal names in the customer text, secrets,
length) are listed under it. Keys: send, back to the editor — only these
(the cockpit's own keys are neither live nor shown here).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static

from clay_cockpit.comms.blocks import PreviewBlock
from clay_cockpit.comms.core import Channel, Flag, Preview
from clay_cockpit.widgets.common import clean
from clay_cockpit.widgets.footer import KeyFooter

_MARK_STYLE = {"*": "bold", "_": "italic", "~": "strike", "`": "$text-accent"}
_INLINE = re.compile(
    r"(?P<link><(?P<url>https?://[^|>\s]+|mailto:[^|>\s]+)(?:\|(?P<label>[^>]+))?>)"
    r"|(?<![\w*_~`])(?P<mark>[*_~`])(?=\S)(?P<body>.+?)(?<=\S)(?P=mark)(?![\w*_~`])"
)


def unescape(text: str) -> str:
    """Slack's ``&lt; &gt; &amp;`` as Slack displays them."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def mrkdwn(text: str, base: str = "") -> Content:
    """Slack mrkdwn as Slack draws it: the marks become styles, links their labels."""
    parts: list[tuple[str, str] | Content] = []
    pos = 0
    text = clean(text)
    for m in _INLINE.finditer(text):
        if m.start() > pos:
            parts.append((text[pos : m.start()], base))
        if m.group("link"):
            parts.append((m.group("label") or m.group("url"), f"{base} underline $text-primary".strip()))
        else:
            inner = mrkdwn(m.group("body"), f"{base} {_MARK_STYLE[m.group('mark')]}".strip())
            parts.append(inner)
        pos = m.end()
    if pos < len(text):
        parts.append((text[pos:], base))
    return Content.assemble(*parts)


def block_content(block: PreviewBlock) -> Content:
    if block.kind == "header":
        return Content.styled(clean(block.text), "bold")
    if block.kind == "context":
        return mrkdwn(block.text, "$text-muted")
    if block.kind == "divider":
        return Content.styled("─" * 20, "$text-muted")
    return Content("\n").join(mrkdwn(line) for line in block.text.split("\n"))


def blocks_content(blocks: Sequence[PreviewBlock]) -> Content:
    """The blocks one under the other, a blank line between them (the
    screen draws the bar Slack puts at the left of a message)."""
    return Content("\n\n").join(block_content(b) for b in blocks)


def flag_lines(flags: Sequence[Flag], texts: dict[str, str]) -> list[Content]:
    """One line per flag: ``⚠ line 3: "clay-sync" …`` (errors in the error colour)."""
    out = []
    for f in flags:
        text = texts.get(f.field, "")
        where = f"{f.field} line {text.count(chr(10), 0, f.start) + 1}" if f.end > f.start else f.field
        style = "$text-error" if f.level.value == "error" else "$text-warning"
        mark = "✗" if f.level.value == "error" else "⚠"
        out.append(Content.assemble((f"{mark} {where}: ", f"bold {style}"), (clean(f.message), style)))
    return out


def page_content(preview: Preview, title: str) -> Content:
    """The status page update as customers read it."""
    header = next((b.text for b in preview.blocks if b.kind == "header"), title)
    context = next((b.text for b in preview.blocks if b.kind == "context"), "")
    status, _, comps = context.partition(" · ")
    body = next((b.text for b in preview.blocks if b.kind == "section"), "")
    lines = [
        Content.styled(clean(header), "bold"),
        Content(""),
        Content.assemble((clean(status), "bold $text-warning"), (" — ", "$text-muted"), clean(body.split("\n", 1)[0])),
    ]
    lines += [Content(clean(line)) for line in body.split("\n")[1:]]
    lines += [Content(""), Content.styled(f"This incident affects: {clean(comps)}", "$text-muted")]
    return Content("\n").join(lines)


def preview_parts(preview: Preview, title: str = "") -> list[tuple[str, Content]]:
    """What the preview screen shows, top to bottom: (CSS class, text);
    class ``message`` is drawn as a message (a bar at its left)."""
    parts: list[tuple[str, Content]] = [("where", Content.assemble(("→ ", "bold $text-accent"), (clean(preview.where), "bold")))]
    if preview.flags:
        parts.append(("flags", Content("\n").join(flag_lines(preview.flags, {"text": preview.fallback, "title": title}))))
    if preview.channel == Channel.INTERNAL:
        parts += [("heading", Content("As Slack shows it")), ("message", blocks_content(preview.blocks))]
        if preview.summary:
            parts += [
                ("heading", Content("The summary at the top of the thread, after this send")),
                ("message", blocks_content(preview.summary)),
            ]
        parts += [("heading", Content("Plain-text fallback (notifications)")), ("fallback", Content(clean(unescape(preview.fallback))))]
    else:
        parts += [("heading", Content("As customers see it on the status page")), ("message", page_content(preview, title))]
    return parts


OWN_KEYS = frozenset({"s"})  # the preview's own printable keys


class PreviewScroll(VerticalScroll):
    """The preview's one focus. It takes every printable key but the
    preview's own, so the cockpit's keys (1-5, d, i, a, u, n, ?, q …)
    neither act behind the preview nor show in its footer: only its own
    keys do (arrows, page keys and the mouse still scroll)."""

    def check_consume_key(self, key: str, character: str | None) -> bool:
        return character is not None and character.isprintable() and key not in OWN_KEYS

    def on_key(self, event: events.Key) -> None:
        if self.check_consume_key(event.key, event.character):
            event.stop()
            event.prevent_default()


class PreviewScreen(Screen[bool]):
    """Dismisses with True to send, False to go back to the editor."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "send", "Send", id="preview.send", tooltip="Send this message now"),
        Binding("ctrl+s", "send", "Send", show=False, id="preview.send_ctrl", tooltip="Send this message now (as in the editor)"),
        Binding("escape", "back", "Back", id="preview.back", tooltip="Back to the editor, where the draft is kept"),
    ]
    DEFAULT_CSS = """
    PreviewScreen #preview-head {
        height: 1;
        padding: 0 1;
        background: $panel;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    PreviewScreen VerticalScroll {
        padding: 0 1;
    }
    PreviewScreen .heading {
        margin-top: 1;
        color: $text-accent;
        text-style: bold;
    }
    PreviewScreen .message {
        border-left: outer $accent;
        padding: 0 1;
        background: $boost;
    }
    PreviewScreen .fallback {
        color: $text-muted;
    }
    """

    def __init__(self, title: str, preview: Preview, page_title: str = "") -> None:
        super().__init__()
        self._title = title
        self.preview = preview
        self._page_title = page_title

    def compose(self) -> ComposeResult:
        yield Static(Content.styled(f"Preview · {self._title}", "bold"), id="preview-head")
        with PreviewScroll(id="preview-scroll"):
            for kind, content in preview_parts(self.preview, self._page_title):
                yield Static(content, classes=kind)
        yield KeyFooter(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#preview-scroll", PreviewScroll).focus()

    def action_send(self) -> None:
        self.dismiss(True)

    def action_back(self) -> None:
        self.dismiss(False)
