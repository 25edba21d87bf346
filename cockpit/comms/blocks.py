"""A drafted text → the Slack message (Block Kit blocks plus the plain-text
fallback Slack shows in notifications), and the preview the compose screen
draws from the same blocks.

The first line of the text becomes the header block (plain text, at most
150 characters: a longer one is cut at a word with `` […]`` and kept whole
in the first section); each paragraph (split at blank lines) a section
block (mrkdwn, at most 3000 characters: a longer one continues in the next
block); a context block carries the footer. The fallback text is whole.
``&``, ``<`` and ``>`` are escaped as Slack asks, except in Slack's own
``<https://…|label>``, ``<@U…>``, ``<#C…>`` and ``<!here>`` forms and in
entities already written (``&lt;`` stays ``&lt;``).

Whose text may mention or link: the drafted text is Slack mrkdwn source.
What the responder types (and what a template says literally) is theirs: a
``<!here>``, ``<@U…>`` or ``<https://…|link>`` they wrote goes out as such.
Text from outside systems (every value a template interpolates: status page
titles, log lines, pod names, triage reasons …) passes :func:`literal` when
the draft is made, so it can never form a Slack token: its ``<`` that could
open one becomes ``&lt;`` in the draft and Slack shows it as written. Bare
``@here``/``@channel`` never notify: messages are posted with
``parse=none`` and ``link_names=false`` (clay_cockpit.sources.slack).

Pure standard library.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MAX_HEADER = 150
MAX_SECTION = 3000
MAX_BLOCKS = 50
_SLACK_TOKEN = re.compile(r"<(?:https?://|mailto:|@|#|!)[^<>\s][^<>]*>")


@dataclass(frozen=True)
class SlackMessage:
    text: str  # the fallback (notifications, clients without blocks); mrkdwn, escaped
    blocks: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class PreviewBlock:
    """One block as the compose screen shows it."""

    kind: str  # header | section | context | divider
    text: str  # as written (Slack mrkdwn: *bold*, _italic_, ~strike~, `code`)
    plain: str  # the same without the marks


def escape(text: str) -> str:
    """Escape ``& < >`` for Slack, keeping Slack's own ``<…>`` forms."""
    out: list[str] = []
    pos = 0
    for m in _SLACK_TOKEN.finditer(text):
        out.append(_esc(text[pos : m.start()]))
        out.append(m.group())
        pos = m.end()
    out.append(_esc(text[pos:]))
    return "".join(out)


_AMP = re.compile(r"&(?!(?:amp|lt|gt);)")


def _esc(text: str) -> str:
    return _AMP.sub("&amp;", text).replace("<", "&lt;").replace(">", "&gt;")


_OPENS_TOKEN = re.compile(r"<(?=[!@#]|[a-z][a-z0-9+.-]*:|\s*$)", re.IGNORECASE)
_ENTITY = re.compile(r"&(?=(?:amp|lt|gt);)")


def literal(value: str) -> str:
    """Outside text (a template value) as mrkdwn source that Slack shows as
    written and that can never become a mention, a channel or a link: a
    ``<`` that could open a Slack token (``<!``, ``<@``, ``<#``, ``<scheme:``,
    or a ``<`` at the end that the template's next text could complete)
    becomes ``&lt;``, and an entity-looking ``&lt;`` becomes ``&amp;lt;``.
    Any other ``<`` (``<1%``) stays readable: :func:`escape` escapes it when sent."""
    return _OPENS_TOKEN.sub("&lt;", _ENTITY.sub("&amp;", value))


_MARKS = re.compile(r"(?<![\w*_~`])([*_~`])(?=\S)(.+?)(?<=\S)\1(?![\w*_~`])")
_LINK = re.compile(r"<(https?://[^|>]+|mailto:[^|>]+)(?:\|([^>]+))?>")


def plain(text: str) -> str:
    """Slack mrkdwn without its marks: ``*x*`` → ``x``, ``<url|label>`` → ``label``."""
    text = _LINK.sub(lambda m: m.group(2) or m.group(1), text)
    for _ in range(3):  # nested marks: *_x_*
        new = _MARKS.sub(r"\2", text)
        if new == text:
            break
        text = new
    return text


CUT = " […]"  # where Slack's limit cut a text (never silently)


def _cut(text: str, limit: int) -> str:
    """``text`` whole when it fits; else cut at a word boundary, ending in `` […]``."""
    if len(text) <= limit:
        return text
    room = limit - len(CUT)
    at = _boundary(text, room)
    return text[:at].rstrip() + CUT


def _boundary(text: str, limit: int) -> int:
    """Where to break ``text`` at or before ``limit``: a line end, else a
    space, else (a long word, CJK text) the limit itself."""
    for sep in ("\n", " "):
        at = text.rfind(sep, 0, limit + 1)
        if at > limit // 2:
            return at
    return limit


def _paragraphs(body: str) -> list[str]:
    """The paragraphs; one longer than a section continues in the next
    section, broken at a line end or a space (nothing is dropped)."""
    paras = [p.strip("\n") for p in re.split(r"\n\s*\n", body) if p.strip()]
    out: list[str] = []
    for p in paras:
        while len(escape(p)) > MAX_SECTION:  # Slack counts the text as sent: escaped
            at = _boundary(p, _room(p, MAX_SECTION))
            out.append(p[:at].rstrip())
            p = p[at:].lstrip("\n ")
        out.append(p)
    return out


def _room(text: str, limit: int) -> int:
    """How many characters of ``text`` fit in ``limit`` once escaped (``&`` takes five)."""
    used = 0
    for i, ch in enumerate(text):
        used += {"&": 5, "<": 4, ">": 4}.get(ch, 1)
        if used > limit:
            return i
    return len(text)


def split(text: str) -> tuple[str, list[str]]:
    """(header line, section paragraphs) of a drafted text."""
    lines = text.strip("\n").split("\n", 1)
    header = lines[0].strip()
    body = lines[1] if len(lines) > 1 else ""
    return header, _paragraphs(body)


def slack_message(text: str, *, footer: str = "") -> SlackMessage:
    """The blocks and fallback for ``text``; ``footer`` (mrkdwn) goes into a context block."""
    header, paras = split(text)
    blocks: list[dict[str, Any]] = []
    if header:
        whole = _unescape(plain(header))  # plain_text: Slack shows entities as typed, so none go in
        shown = _cut(whole, MAX_HEADER)
        blocks.append({"type": "header", "text": {"type": "plain_text", "text": shown, "emoji": True}})
        if shown != whole:  # the whole line stays in the message, under the header
            paras = _paragraphs(header) + paras
    room = MAX_BLOCKS - len(blocks) - (1 if footer else 0)
    if len(paras) > room:  # merge the tail rather than drop it; Slack's limit is the only cut, and it says so
        paras = paras[: room - 1] + [_cut("\n\n".join(paras[room - 1 :]), MAX_SECTION)]
    for p in paras:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": escape(p)}})
    if footer:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(escape(footer), MAX_SECTION)}]})
    fallback = escape(text.strip())
    return SlackMessage(fallback, tuple(blocks))


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def preview(message: SlackMessage) -> tuple[PreviewBlock, ...]:
    """What Slack will show, block by block (text unescaped, marks kept and stripped)."""
    out: list[PreviewBlock] = []
    for block in message.blocks:
        kind = block.get("type", "")
        if kind == "header":
            t = block["text"]["text"]
            out.append(PreviewBlock("header", t, t))
        elif kind == "section":
            t = _unescape(block["text"]["text"])
            out.append(PreviewBlock("section", t, plain(t)))
        elif kind == "context":
            t = _unescape(" · ".join(e.get("text", "") for e in block.get("elements", ())))
            out.append(PreviewBlock("context", t, plain(t)))
        elif kind == "divider":
            out.append(PreviewBlock("divider", "", ""))
    return tuple(out)
