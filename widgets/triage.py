"""The triage pane and its one-glance strip: where the decision tree lands,
how bad (the suggested severity with its definition), what to do first —
each action with the key that does it, those already in effect marked done
("✓ Request queuing on since 12:03:10") —, why (the reasons with their
numbers, under each finding when the evidence is mixed), how sure, and what
the cockpit cannot see — in that order, so the top of the pane is enough
when it has little room.

A raise that is still being confirmed (the stability window) leads the
strip, marked "?": it is what a declaration would record.

Render-only: the app hands them a :class:`~clay_cockpit.triage.tree.Triaged` (the
stable assessment plus what is pending). Each part is its own Static and is
redrawn only when its text changes, so a new snapshot with the same verdict
costs a few bytes, not a pane. The texts triage hands over are whole; they
are wrapped or cut (with an ellipsis) here, when drawn.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Static

from clay_cockpit.runbook import SEVERITIES, Branch, Severity
from clay_cockpit.triage.tree import BRANCH_LABEL, Action, Assessment, Confidence, Finding, Triaged
from clay_cockpit.widgets.checklist import clock_time
from clay_cockpit.widgets.common import clean, hanging, set_if_changed

SEV_STYLE: dict[Severity | None, str] = {
    Severity.P1: "bold $text-error",
    Severity.P2: "bold $text-warning",
    Severity.P3: "$text-warning",
    Severity.P4: "$text-primary",
    None: "$text-success",
}
_CONFIDENCE = {Confidence.HIGH: "$text-success", Confidence.MEDIUM: "$text-warning", Confidence.LOW: "$text-error"}
_QUIET = frozenset({Branch.HEALTHY, Branch.UNKNOWN})
# under the reasons that cite Kubernetes (source "infra"): where they come from, whole
INFRA_CITED = "Changes, Events, Nodes: from Kubernetes — o shows them in full"


def glyph(branch: Branch) -> str:
    return {Branch.HEALTHY: "●", Branch.UNKNOWN: "?", Branch.MONITORING_GAP: "◌"}.get(branch, "▶")


def headline_content(a: Assessment, width: int = 0) -> Content:
    """ "▶ Credentials: Clay answers 401 to every call — P1", in the severity's colour
    (wrapped to ``width`` when given, else one line)."""
    style = SEV_STYLE[a.severity]
    if width:
        return hanging(a.headline, width, f"{glyph(a.branch)} ", style, style)
    return Content.assemble((f"{glyph(a.branch)} ", style), (clean(a.headline), style))


def confidence_content(a: Assessment) -> Content:
    return Content.assemble(("confidence ", "$text-muted"), (a.confidence.value, _CONFIDENCE[a.confidence]))


def is_mixed(a: Assessment) -> bool:
    """Evidence for more than one branch of the tree (not counting healthy/unknown)."""
    return len({f.branch for f in a.findings if f.branch not in _QUIET}) > 1


def mixed_content(a: Assessment, width: int) -> Content:
    branches = list(dict.fromkeys(BRANCH_LABEL[f.branch] for f in a.findings if f.branch not in _QUIET))
    return hanging(f"Mixed evidence: {' + '.join(branches)} — most urgent first", width, "", "bold $text-warning")


def _reasons(f: Finding, width: int) -> list[Content]:
    lines = []
    for r in f.reasons:
        text = f"{r.text} (weak)" if r.weak else r.text
        lines.append(hanging(text, width, "  · ", "$text-muted" if r.weak else ""))
    return lines


def why_content(a: Assessment, width: int) -> Content:
    """The top finding's reasons; then each other finding, its line and its reasons."""
    lines = [Content.styled("Why", "bold $text-accent"), *_reasons(a.top, width)]
    for f in a.findings[1:]:
        lines.append(hanging(f.line, width, "+ ", SEV_STYLE[f.severity]))
        lines.extend(_reasons(f, width))
    if any(r.source == "infra" for f in a.findings for r in f.reasons):
        lines.append(hanging(INFRA_CITED, width, "  ", "$text-muted"))
    return Content("\n").join(lines)


def done_text(x: Action) -> str:
    """ "✓ Request queuing on since 12:03:10"."""
    return f"✓ {x.done_text}" + (f" since {clock_time(x.since)}" if x.since is not None else "")


def ordered(a: Assessment) -> tuple[Action, ...]:
    """What to do in order (the next first), then what is in effect already."""
    return (*a.todo, *(x for x in a.actions if x.done))


def actions_content(a: Assessment, width: int) -> Content:
    """ "Do now": each action behind the key that does it (· when none), the
    ones in effect as done with what is in effect, what the evidence says
    about each on the line below."""
    actions = ordered(a)
    if not actions:
        return Content("")
    lines = [Content.styled("Do now", "bold $text-accent")]
    for x in actions:
        if x.done:
            detail = f" — {x.detail}" if x.detail else ""
            lines.append(hanging(done_text(x)[2:] + detail, width, " ✓ ", "$text-success", "bold $text-success"))
            continue
        lead = f" {x.key} " if x.key else " · "
        text = x.text + (" (outside the cockpit)" if x.outside else "")
        lines.append(hanging(text, width, f"{lead:<4}", "", "bold $text-accent"))
        if x.why:
            lines.append(hanging(x.why, width, "    ", "$text-muted"))
    return Content("\n").join(lines)


def severity_content(a: Assessment) -> Content:
    """ "P1 Complete outage · respond < 15 min · e.g. Clay API unreachable"."""
    if a.severity is None:
        words = "No severity: nothing to respond to" if a.branch == Branch.HEALTHY else "No severity yet: not enough to go on"
        return Content.styled(words, "$text-muted")
    level = SEVERITIES[a.severity]
    return Content.assemble(
        (f"{a.severity.value} {level.name}", SEV_STYLE[a.severity]),
        (f" · respond {level.response}", "bold"),
        (f" · e.g. {level.examples}", "$text-muted"),
    )


def gaps_content(a: Assessment, width: int) -> Content:
    """What the cockpit cannot see, each with what to do about it."""
    if not a.gaps:
        return Content("")
    lines = []
    if a.cannot_see:
        lines.append(hanging(f"Can't see: {a.cannot_see}", width, "", "bold $text-warning"))
    for g in a.gaps[:6]:
        lines.append(hanging(g.text + (f" → {g.hint}" if g.hint else ""), width, "  ◌ ", "", "$text-warning"))
    return Content("\n").join(lines)


def actions_line(a: Assessment) -> Content:
    """One line for the strip: the actions with their keys (the next first,
    then those in effect, done), else what it cannot see, else the top reason."""
    actions = ordered(a)
    if actions:
        parts: list[Content] = []
        for x in actions:
            if parts:
                parts.append(Content.styled(" · ", "$text-muted"))
            if x.done:
                parts.append(Content.styled(done_text(x), "$text-success"))
                continue
            if not parts:
                parts.append(Content.styled("→ ", "bold $text-accent"))
            parts.append(
                Content.assemble(
                    (f"{x.key} " if x.key else "", "bold $text-accent"),
                    clean(x.text),
                    (" (outside the cockpit)" if x.outside else "", "$text-muted"),
                )
            )
        return Content.assemble(*parts)
    if a.cannot_see:
        return Content.styled(f"◌ can't see: {clean(a.cannot_see)}", "$text-warning")
    reason = a.top.reasons[0].text if a.top.reasons else ""
    return Content.styled(f"  {clean(reason)}", "$text-muted")


def strip_head(t: Triaged, width: int) -> Content:
    """The strip's first line: the verdict on screen — a raise still being
    confirmed leads, marked "?" — cut in its title so that the severity
    always shows; then, when there is room, what is pending and how sure it is."""
    a = t.on_screen
    style = SEV_STYLE[a.severity]
    label, title, suffix = a.headline_parts
    glyph_ = "◔" if t.leading else glyph(a.branch)
    suffix += "?" if t.leading else ""
    fixed = Content(f"{glyph_} {label}: {suffix}").cell_length
    shown = Content(clean(title))
    if width:
        shown = shown.truncate(max(8, width - fixed), ellipsis=True)
    head = Content.assemble((f"{glyph_} {clean(label)}: ", style), (shown.plain, style), (suffix, style))
    tails = [Content.styled("  confirming", "$text-muted italic")] if t.leading else []
    if t.pending_text and not t.leading:
        tails.append(Content.styled(f"  ({t.pending_text})", "$text-muted italic"))
    if "confidence" not in suffix:  # (a low one is in the headline already)
        tails.append(Content.assemble(("  ", ""), confidence_content(a)))
    for tail in tails:
        if not width or head.cell_length + tail.cell_length <= width:
            head = Content.assemble(head, tail)
    return head


class TriageStrip(Vertical):
    """Two lines under the signal panes at 80 columns: the verdict and what to do."""

    DEFAULT_CSS = """
    TriageStrip > Static {
        height: 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    TriageStrip > #strip-head {
        width: 1fr;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._head = Static(Content.styled("◌ triage: waiting for the first signals…", "$text-muted"), id="strip-head")
        self._do = Static(Content.styled("  d shows the triage, checklist and timeline", "$text-muted"), id="strip-do")
        self._triaged: Triaged | None = None

    def compose(self) -> ComposeResult:
        yield self._head
        yield self._do

    def show(self, t: Triaged) -> None:
        self._triaged = t
        set_if_changed(self._head, strip_head(t, self._head.content_size.width))
        set_if_changed(self._do, actions_line(t.on_screen))

    def on_resize(self) -> None:
        if self._triaged is not None:
            self.show(self._triaged)


class TriagePane(Vertical):
    """The whole assessment (see the module docstring)."""

    DEFAULT_CSS = """
    TriagePane {
        border: round $foreground 30%;
        border-title-color: $text;
        border-subtitle-color: $text-muted;
        padding: 0 1;
        height: auto;
    }
    TriagePane:focus-within {
        border: round $accent;
    }
    TriagePane > VerticalScroll {
        height: auto;
        max-height: 100%;
        scrollbar-size-vertical: 1;
    }
    TriagePane Static {
        height: auto;
    }
    TriagePane .triage--empty {
        display: none;
    }
    TriagePane #triage-sev {
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    TriagePane #triage-pending {
        color: $text-muted;
        text-style: italic;
    }
    """

    BORDER_TITLE = "d Triage"

    PARTS = ("head", "sev", "mixed", "do", "why", "gaps", "pending")  # verdict, how bad, what to do, then why

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._parts = {name: Static(id=f"triage-{name}", classes="triage--empty") for name in self.PARTS}
        self._parts["head"] = Static(Content.styled("waiting for the first signals…", "$text-muted"), id="triage-head")
        self._body = VerticalScroll(*self._parts.values(), can_focus=True, id="triage-body")
        self._triaged: Triaged | None = None
        self._width = 0

    def on_resize(self) -> None:
        if self._triaged is not None and self.content_size.width != self._width:
            self._width = self.content_size.width
            self.show(self._triaged, force=True)  # wrapped again to the new width

    def compose(self) -> ComposeResult:
        yield self._body

    def show(self, t: Triaged, force: bool = False) -> None:
        if (
            not force
            and self._triaged is not None
            and t.on_screen is self._triaged.on_screen
            and t.pending_text == self._triaged.pending_text
        ):
            return  # nothing new to draw
        self._triaged = t
        a = t.on_screen  # a raise being confirmed leads, marked "?" (what a declaration records)
        width = self.content_size.width - 1 if self.content_size.width > 8 else 60  # (a scrollbar may take one column; hidden: 0)
        head = headline_content(a, width)
        if t.leading:
            style = SEV_STYLE[a.severity]
            head = hanging(a.headline + "?", width, "◔ ", style, style)
        self._part("head", head)
        self._part("mixed", mixed_content(a, width) if is_mixed(a) else Content(""))
        self._part("why", why_content(a, width))
        self._part("do", actions_content(a, width))
        self._part("sev", severity_content(a))
        self._part("gaps", gaps_content(a, width))
        was = BRANCH_LABEL[t.assessment.branch] + (f" {t.assessment.severity.value}" if t.assessment.severity else "")
        pending = f"new, being confirmed (was {was})" if t.leading else t.pending_text
        self._part("pending", Content(pending))
        title = f"d Triage · {a.severity.value}" if a.severity else f"d Triage · {BRANCH_LABEL[a.branch]}"
        title += "?" if t.leading else ""
        if self.border_title != title:
            self.border_title = title
        subtitle = f"confidence {a.confidence.value}"
        if self.border_subtitle != subtitle:
            self.border_subtitle = subtitle

    def _part(self, name: str, content: Content) -> None:
        widget = self._parts[name]
        widget.set_class(not content.plain, "triage--empty")
        set_if_changed(widget, content)

    def focus_body(self) -> None:
        self.screen.set_focus(self._body)  # at once: see SourcePane.focus_body
