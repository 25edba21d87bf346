"""The update editor: one stakeholder message, pre-filled from the template
with what the cockpit knows (severity, impact, current action, next update
time, the branch with its reasons and numbers, the actions taken).

Two channels, kept apart: the internal update (Slack, the incident thread)
and the status page update (customers' words; its title, its status —
investigating / identified / monitoring / resolved — and the affected
components). The flags of :meth:`Comms.check` (internal names, hosts or
numbers in the customer text; secrets; length) are listed under the text.

Nothing typed is lost: every pause in typing saves the draft with the
incident (in the comms desk's worker: a save fsyncs), closing saves it, and
an app that quits while a change waits saves it on the way out. A failed
send keeps the draft in the editor and says what went wrong, with the
retry key.

Layout::

    #compose-head   Internal update → #inc-clay, a reply in the incident thread
    #compose-page   (status page) Title [input] / status and components
    #compose-text   TextArea
    #compose-flags  ⚠ text line 3: … (only when there are flags)
    #compose-note   Saved 00:02:05 UTC / ✗ Not sent — … ctrl+s retries
    Footer
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Input, Static, TextArea

from clay_cockpit.comms.context import STATUS_LABEL
from clay_cockpit.comms.core import Channel, Draft, SaveResult, SendResult
from clay_cockpit.incident.state import Status
from clay_cockpit.sanitise import clean_line
from clay_cockpit.screens.choose import Choice, ChoiceScreen
from clay_cockpit.screens.preview import PreviewScreen, flag_lines
from clay_cockpit.widgets.common import clean, set_if_changed
from clay_cockpit.widgets.footer import KeyFooter

if TYPE_CHECKING:
    from clay_cockpit.screens.comms_desk import CommsDesk

SAVE_DELAY = 0.4  # seconds of quiet in typing before the draft is saved
CONFIRM_SECONDS = 5.0  # a second ctrl+n within this discards
MAX_FLAG_LINES = 4
TITLES = {Channel.INTERNAL: "Internal update", Channel.EXTERNAL: "Status page update"}
STATUS_DETAIL = {
    Status.INVESTIGATING: "we are looking into it",
    Status.IDENTIFIED: "cause found, fix under way",
    Status.MONITORING: "fix in place, watching",
    Status.RESOLVED: "over; components back to operational",
}


def _at(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%H:%M:%S UTC")


def inert(draft: Draft) -> Draft:
    """The draft with its text and title made inert (:mod:`clay_cockpit.sanitise`)
    before the editor shows them: a template fills in outside text (a Clay
    incident title, a health check name) and a draft file may have been
    edited; an OSC 8 link or ESC[2J in a TextArea is written to the terminal
    raw. Not an edit by the responder: ``edited`` stays as it was."""
    text, title = clean(draft.text), clean_line(draft.title)
    return draft if (text, title) == (draft.text, draft.title) else replace(draft, text=text, title=title)


class ComposeScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "ctrl+r",
            "preview",
            "Preview",
            id="compose.preview",
            tooltip="Show the message as Slack (or the status page) will show it; s sends from there",
        ),
        Binding("ctrl+s", "send", "Send", id="compose.send", tooltip="Send the draft now; after a failure, send it again (retry)"),
        Binding(
            "ctrl+t",
            "status",
            "Status",
            id="compose.status",
            tooltip="Status page update: investigating, identified, monitoring or resolved",
        ),
        Binding(
            "ctrl+n",
            "discard",
            "Discard",
            id="compose.discard",
            tooltip="Discard the draft and start again from the template (press twice)",
        ),
        Binding("escape", "close", "Close", id="compose.close", tooltip="Back to the cockpit; the draft is kept with the incident"),
    ]
    DEFAULT_CSS = """
    ComposeScreen #compose-head {
        height: 1;
        padding: 0 1;
        background: $panel;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    ComposeScreen #compose-page {
        height: auto;
        padding: 0 1;
    }
    ComposeScreen #compose-title-row {
        height: 1;
    }
    ComposeScreen #compose-title-row Static {
        width: auto;
        color: $text-muted;
    }
    ComposeScreen #compose-title {
        width: 1fr;
    }
    ComposeScreen #compose-meta {
        height: auto;
        color: $text-muted;
    }
    ComposeScreen #compose-text {
        height: 1fr;
        border: none;
        padding: 0 1;
    }
    ComposeScreen #compose-text:focus {
        border: none;
    }
    ComposeScreen #compose-flags {
        height: auto;
        max-height: 5;
        padding: 0 1;
        display: none;
    }
    ComposeScreen #compose-flags.-shown {
        display: block;
    }
    ComposeScreen #compose-note {
        height: auto;
        max-height: 5;
        padding: 0 1;
        color: $text-muted;
        border-top: solid $foreground 30%;
    }
    ComposeScreen #compose-note.-error {
        color: $text-error;
        text-style: bold;
    }
    ComposeScreen #compose-note.-busy {
        color: $text-warning;
    }
    """

    def __init__(self, desk: CommsDesk, draft: Draft, *, changed: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.desk = desk
        self.draft = inert(draft)
        self.changed = changed  # the facts that changed since the responder edited this draft
        self.channel = draft.channel
        self.failure: SendResult | None = None  # the last send that failed (its error is on screen)
        self._dirty = False  # changed since the last save was handed to the worker
        self._sent = False
        self._new_incident = False  # the status page incident is gone: the retry creates a new one
        self._save_timer: Timer | None = None
        self._discard_until = 0.0

    # -- layout ------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(id="compose-head")
        if self.channel == Channel.EXTERNAL:
            with Vertical(id="compose-page"):
                with Horizontal(id="compose-title-row"):
                    yield Static("Title ")
                    yield Input(self.draft.title, id="compose-title", compact=True, select_on_focus=False)
                yield Static(id="compose-meta")
        # a steady cursor: a blinking one repaints twice a second on its own (bytes on an SSH link, DESIGN.md)
        editor = TextArea(self.draft.text, id="compose-text", soft_wrap=True, tab_behavior="focus")
        editor.cursor_blink = False
        yield editor
        yield Static(id="compose-flags")
        yield Static(id="compose-note")
        yield KeyFooter(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.refresh_meta()
        self._show_flags()
        where = self.desk.comms.store.incident
        note = f"Kept with {where.id} as you type" if where is not None else "Kept with the incident as you type"
        if self.changed:
            what = "your text is kept" if self.draft.edited else "your choice is kept"
            self._note(
                Content.assemble(
                    ("Changed since this draft was written: ", "bold"),
                    ", ".join(self.changed),
                    f" — {what}; ctrl+n (twice) starts again from the template with the facts now",
                ),
                "busy",
            )
        else:
            self._note(note + (" · edited before" if self.draft.edited else ""))
        self.query_one("#compose-text", TextArea).focus()

    # -- what is shown -----------------------------------------------------------------

    def refresh_meta(self) -> None:
        """The head (where it goes) and, for the status page, its status and components."""
        if not self.is_attached:
            return
        comms = self.desk.comms
        where = comms.preview(self.draft).where
        sev = self.draft.severity or ""
        head = Content.assemble(
            (TITLES[self.channel], "bold"),
            (" → ", "$text-muted"),
            (clean(where), "bold $text-accent"),
            (f"  {sev} · {self.draft.status}" if sev else "", "$text-muted"),
        )
        set_if_changed(self.query_one("#compose-head", Static), head)
        if self.channel == Channel.EXTERNAL:
            status = Status(self.draft.status or Status.INVESTIGATING)
            comps = ", ".join(f"{comms.component_names.get(cid, cid)} → {st.replace('_', ' ')}" for cid, st in self.draft.components)
            meta = Content.assemble(
                ("Status ", "$text-muted"),
                (STATUS_LABEL[status], "bold $text-warning"),
                (" (ctrl+t) · ", "$text-muted"),
                (clean(comps or "no components configured"), ""),
            )
            set_if_changed(self.query_one("#compose-meta", Static), meta)

    def _show_flags(self) -> None:
        flags = self.desk.comms.check(self.draft)
        box = self.query_one("#compose-flags", Static)
        lines = flag_lines(flags, {"text": self.draft.text, "title": self.draft.title, "summary": self.draft.summary})
        if len(lines) > MAX_FLAG_LINES:
            lines = lines[: MAX_FLAG_LINES - 1] + [
                Content.styled(f"… and {len(lines) - MAX_FLAG_LINES + 1} more (ctrl+r lists them all)", "$text-muted")
            ]
        box.set_class(bool(lines), "-shown")
        set_if_changed(box, Content("\n").join(lines))

    def _note(self, text: str | Content, kind: str = "") -> None:
        note = self.query_one("#compose-note", Static)
        note.set_class(kind == "error", "-error")
        note.set_class(kind == "busy", "-busy")
        set_if_changed(note, text if isinstance(text, Content) else Content(clean(text)))

    # -- edits and saving ----------------------------------------------------------------

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        self._edited(self.draft.with_text(event.text_area.text))

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "compose-title":
            self._edited(self.draft.with_title(event.value))

    def _edited(self, draft: Draft) -> None:
        if draft == self.draft:
            return
        self.draft = draft
        self._dirty = True
        if self._save_timer is not None:
            self._save_timer.stop()
        self._save_timer = self.set_timer(SAVE_DELAY, self._save)

    def _save(self) -> None:
        self._save_timer = None
        if self._dirty and not self._sent:
            self._dirty = False
            self.desk.save(self.draft, self._saved)
        self._show_flags()

    def _saved(self, result: SaveResult) -> None:
        if not self.is_attached or self._sent:
            return
        if result.draft.id != self.draft.id:  # the old id was sent or discarded: the text lives on under a new one
            self.draft = replace(self.draft, id=result.draft.id)
        if self.desk.sending == self.channel:
            return  # the "Sending…" line stays
        if result.ok:
            self._note(f"Saved {_at(self.desk.clock())} · {len(self.draft.text)} characters" + self._failure_hint())
        else:
            self._note(f"✗ {result.error}", "error")

    def _failure_hint(self) -> str:
        if self.failure is not None and self.failure.unsure:
            return " · last send unclear: ctrl+s looks for it, then sends only if it is not there"
        return " · last send failed: ctrl+s retries" if self.failure is not None else ""

    def on_unmount(self) -> None:
        """Closing or quitting: a change still waiting for its save is saved now."""
        if self._save_timer is not None:
            self._save_timer.stop()
        if self._dirty and not self._sent:
            self._dirty = False
            result = self.desk.save_now(self.draft)
            if not result.ok:
                self.app.notify(result.error, title="Draft not saved", severity="error", timeout=30, markup=False)

    # -- keys ------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "status":
            return self.channel == Channel.EXTERNAL
        return True

    def action_close(self) -> None:
        if self._save_timer is not None:
            self._save_timer.stop()
            self._save_timer = None
        if self._dirty and not self._sent:  # in the worker; the result is named if it fails
            self._dirty = False
            self.desk.save(self.draft, self.desk.saved_after_close)
        self.app.pop_screen()

    def action_preview(self) -> None:
        def chosen(send: bool | None) -> None:
            if send:
                self.action_send()

        title = f"{TITLES[self.channel]} · {self.desk.comms.store.incident.id if self.desk.comms.store.incident else ''}"
        self.app.push_screen(PreviewScreen(title, self.desk.comms.preview(self.draft), self.draft.title), chosen)

    def action_send(self) -> None:
        if self._sent:
            return
        if self._save_timer is not None:  # the send saves the draft itself
            self._save_timer.stop()
            self._save_timer = None
        self._dirty = False
        if not self.desk.send(self.draft, self._send_done, new_incident=self._new_incident):
            self.app.notify("another message is being sent — a moment", title="Not yet", markup=False)
            return
        where = self.desk.comms.preview(self.draft).where
        self._note(f"Sending to {where}…", "busy")

    def _send_done(self, result: SendResult) -> None:
        if not self.is_attached:
            return
        if result.ok:
            self._sent = True
            self.failure = None
            while self.is_attached and self in self.app.screen_stack and len(self.app.screen_stack) > 1:
                top = self.app.screen
                self.app.pop_screen()
                if top is self:
                    break
            return
        self.failure = result
        if result.draft.id != self.draft.id:
            self.draft = replace(self.draft, id=result.draft.id)
        err = result.error
        self._new_incident = err is not None and self.channel == Channel.EXTERNAL and err.status_code == 404
        retry = "ctrl+s sends it as a new status page incident" if self._new_incident else "ctrl+s retries"
        wait = f" (asked to wait {err.retry_after:.0f} s)" if err is not None and err.retry_after else ""
        what = err.message if err is not None else "unknown failure"
        hint = err.hint if err is not None else ""
        kept = "" if "draft is kept" in hint else "; the draft is kept"
        if result.unsure:  # it may exist: never "not sent"; the retry looks for it before sending
            self._note(Content.assemble(("? May have been sent — ", "bold"), clean(what), "\n", clean(hint)), "error")
        else:
            self._note(
                Content.assemble(("✗ Not sent — ", "bold"), clean(what), "\n", clean(hint), (f" · {retry}{wait}{kept}", "bold")), "error"
            )
        self.refresh_meta()

    def action_status(self) -> None:
        if self.channel != Channel.EXTERNAL:
            return
        now = Status(self.draft.status or Status.INVESTIGATING)
        follows = self.desk.comms.page_status() if self.desk.comms.store.incident is not None else now
        proposed = follows if follows != now else None
        choices = [
            Choice(s.value, STATUS_LABEL[s], STATUS_DETAIL[s])
            for s in (Status.INVESTIGATING, Status.IDENTIFIED, Status.MONITORING, Status.RESOLVED)
        ]

        def chosen(value: str | None) -> None:
            if value is None or value == self.draft.status:
                return
            self._replace_draft(self.desk.comms.restatus(self.draft, value, assessment=self.desk.assessment(), signals=self.desk.signals()))

        self.app.push_screen(
            ChoiceScreen("Status page: status of this update", choices, current=now, proposed=proposed, why="the incident's"), chosen
        )

    def action_discard(self) -> None:
        if time.monotonic() > self._discard_until:
            self._discard_until = time.monotonic() + CONFIRM_SECONDS
            self._note("ctrl+n again discards this draft and starts again from the template", "busy")
            return
        self._discard_until = 0.0
        old = self.draft
        self.desk.discard(old)
        self.failure = None
        self._new_incident = False
        self.changed = ()
        self._replace_draft(self.desk.fresh(self.channel, force=True), save=False)
        self._note(f"Draft discarded · a fresh one from the template, {_at(self.desk.clock())}")

    def _replace_draft(self, draft: Draft, *, save: bool = True) -> None:
        """Show another version of the draft (a new status, a fresh template)."""
        text = self.query_one("#compose-text", TextArea)
        self.draft = draft = inert(draft)
        if text.text != draft.text:
            text.load_text(draft.text)
        if self.channel == Channel.EXTERNAL:
            title = self.query_one("#compose-title", Input)
            if title.value != draft.title:
                title.value = draft.title
        self._dirty = save
        if save:
            if self._save_timer is not None:
                self._save_timer.stop()
            self._save_timer = self.set_timer(SAVE_DELAY, self._save)
        self.refresh_meta()
        self._show_flags()
