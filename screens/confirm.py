"""The confirm modal: the plan of an action, and nothing runs until the
responder confirms it on purpose.

It shows exactly what will change — context, namespace, each object and
field before → after (a secret as fingerprints), the server-side dry run's
result or refusal, the permission check, the deployment's lease and the
notes (pods replaced, takes effect at the next restart …) — and why it is
blocked, when it is (read-only, permission denied with the escalation
contact, a refusal, expired credentials): then there is no confirm button
at all.

Safety: focus starts on Cancel, so Enter alone cancels. An action that
replaces pods or changes a secret needs the deployment name typed into the
field before the confirm button enables; Enter in that field only moves
the focus to the button. Escape cancels.

Dismisses with what was typed (``""`` when nothing had to be) on confirm,
None on cancel; the caller turns that into a confirmation with
:meth:`cockpit.actions.ActionRunner.confirm`.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from cockpit.actions import FailureKind, Plan
from widgets.common import clean, hanging

CONFIRM_WORD = {
    "restart": "Restart",
    "update_key": "Write the key",
    "enable_queuing": "Enable queuing",
    "disable_queuing": "Disable queuing",
    "enable_fallback": "Enable fallback",
    "disable_fallback": "Disable fallback",
    "scale": "Scale",
}


def lease_text(plan: Plan, now: float) -> str:
    if not plan.mutating:
        return ""
    if plan.read_only and (plan.lease is None or not plan.lease.held):
        return "free (read-only: none is taken)"
    if plan.lease is None or not plan.lease.held:
        return "free: this cockpit takes it while the action runs"
    if plan.lease.ours:
        return f"ours ({plan.lease.describe(now)})"
    return plan.lease.describe(now)


def plan_content(plan: Plan, now: float, width: int) -> Content:
    """The plan, labelled lines wrapped to ``width``."""
    w = max(20, width)
    out: list[Content] = [hanging(f"context {plan.context} · namespace {plan.namespace}", w, "", "$text-muted")]
    if plan.changes:
        out.append(Content.styled("Changes", "bold $text-accent"))
        for c in plan.changes:
            out.append(hanging(f"{c.object}", w, "  ", "bold"))
            out.append(hanging(c.field, w, "    ", ""))
            arrow = f"{c.before} → {c.after}" + ("  (fingerprints: the key is never shown)" if c.secret else "")
            out.append(hanging(arrow, w, "    ", "$text-warning"))
    if plan.probe is not None:
        style = "$text-success" if plan.probe.valid else "$text-error"
        out.append(hanging(f"Clay says: {plan.probe.meaning}", w, "", style))
    if plan.dry_run is not None:
        d = plan.dry_run
        mark, style = ("✓ ", "$text-success") if d.ok else (("– ", "$text-muted") if d.skipped else ("✗ ", "$text-error"))
        out.append(hanging(d.summary, w, f"Dry run     {mark}", style, style))
    if plan.permissions:
        denied = plan.denied
        if denied:
            out.append(hanging("denied: " + ", ".join(p.what for p in denied), w, "Permission  ✗ ", "$text-error", "$text-error"))
        else:
            out.append(hanging(f"all allowed ({len(plan.permissions)} checks)", w, "Permission  ✓ ", "$text-success", "$text-success"))
    lease = lease_text(plan, now)
    if lease:
        held = plan.lease is not None and plan.lease.held and not plan.lease.ours
        out.append(hanging(lease, w, "Lease       ", "$text-warning" if held else "", "$text-muted"))
    for note in plan.notes:
        out.append(hanging(note, w, "· ", "$text-muted"))
    if plan.blocked is not None:
        b = plan.blocked
        head = "Cluster credentials expired: " if b.kind is FailureKind.AUTH_EXPIRED else "Blocked: "
        if b.message.lower().startswith(head.lower().rstrip(": ")) or b.kind is FailureKind.READ_ONLY:
            head = ""  # ("read-only: …", "cluster credentials expired: …" say it themselves)
        out.append(hanging(b.message, w, f"✗ {head}", "bold $text-error", "bold $text-error"))
        if b.hint:
            out.append(hanging(b.hint, w, "  → ", "$text-warning", "$text-warning"))
    return Content("\n").join(out)


class ConfirmScreen(ModalScreen[str | None]):
    """See the module docstring."""

    AUTO_FOCUS = "#cancel"
    BINDINGS: ClassVar[list[Binding]] = [
        Binding("escape", "cancel", "Cancel", id="confirm.cancel", tooltip="Close without changing anything"),
    ]
    DEFAULT_CSS = """
    ConfirmScreen {
        align: center middle;
    }
    ConfirmScreen > Vertical {
        width: 90%;
        max-width: 100;
        height: auto;
        max-height: 100%;
        border: round $warning;
        border-title-color: $text;
        border-subtitle-color: $text-muted;
        background: $surface;
        padding: 0 1;
    }
    ConfirmScreen.-blocked > Vertical {
        border: round $error;
    }
    ConfirmScreen #plan {
        height: auto;
        scrollbar-size-vertical: 1;
    }
    ConfirmScreen #plan-text {
        height: auto;
    }
    ConfirmScreen #typed-label {
        margin-top: 1;
        height: auto;
    }
    ConfirmScreen #typed {
        height: 3;
    }
    ConfirmScreen #buttons {
        height: 3;
        align-horizontal: left;
    }
    ConfirmScreen Button {
        margin-right: 2;
        min-width: 10;
    }
    """

    def __init__(self, plan: Plan, now: float, *, offered: str = "") -> None:
        super().__init__()
        self.plan = plan
        self._now = now
        self._offered = offered  # why this modal opened by itself ("offered after the key update")
        self.set_class(not plan.ready, "-blocked")

    @property
    def needs_typing(self) -> bool:
        return self.plan.ready and bool(self.plan.typed_confirmation)

    def compose(self) -> ComposeResult:
        plan = self.plan
        with Vertical() as box:
            box.border_title = ("Confirm: " if plan.ready else "Cannot run (read-only): " if plan.read_only else "Cannot run: ") + plan.title
            if not plan.ready:
                box.border_subtitle = "Esc closes · nothing was changed"
            elif self.needs_typing:
                box.border_subtitle = "Esc cancels · type the name, then Tab to the button"
            else:
                box.border_subtitle = "Esc cancels · Tab to the button to confirm"
            if self._offered:
                yield Static(Content.styled(self._offered, "bold $text-accent"), id="offered")
            with VerticalScroll(id="plan"):
                yield Static(plan_content(plan, self._now, self._text_width()), id="plan-text")
            if self.needs_typing:
                name = plan.typed_confirmation
                why = "it replaces pods" if plan.replaces_pods else "it changes a secret"
                if plan.replaces_pods and plan.changes_secret:
                    why = "it changes a secret and replaces pods"
                yield Static(Content.from_markup("Type the deployment name [b]$name[/b] to confirm ($why):", name=clean(name), why=why),
                             id="typed-label")
                yield Input(placeholder="the deployment name", id="typed", select_on_focus=False)
            with Horizontal(id="buttons"):
                yield Button("Cancel" if plan.ready else "Close", id="cancel", variant="default")
                if plan.ready:
                    word = CONFIRM_WORD.get(plan.kind.value, "Confirm")
                    yield Button(word, id="confirm", variant="error", disabled=self.needs_typing)

    def _text_width(self) -> int:
        """The plan's width: the box is 90% of the screen, at most 100 columns (less border, padding, scrollbar)."""
        return min(100, self.app.size.width * 9 // 10) - 5

    def _plan_height(self) -> int:
        """What the plan may take so the name field and the buttons stay on screen (it scrolls)."""
        overhead = 2 + 3 + (1 if self._offered else 0) + (5 if self.needs_typing else 0)  # frame, buttons, offered line, name
        return max(3, self.app.size.height - overhead)

    def on_mount(self) -> None:
        self.query_one("#plan", VerticalScroll).styles.max_height = self._plan_height()

    def on_resize(self) -> None:
        # a resize can come before the modal is composed (or while it is torn down)
        for text in self.query("#plan-text").results(Static):
            text.update(plan_content(self.plan, self._now, self._text_width()))
        for plan in self.query("#plan").results(VerticalScroll):
            plan.styles.max_height = self._plan_height()

    def typed_ok(self) -> bool:
        if not self.needs_typing:
            return True
        return self.query_one("#typed", Input).value.strip() == self.plan.typed_confirmation

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        buttons = self.query("#confirm").results(Button)
        for button in buttons:
            button.disabled = not self.typed_ok()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the name field never confirms: it moves to the button (once the name is right)."""
        event.stop()
        if self.typed_ok():
            # at once (Widget.focus waits for a refresh): an Enter typed right after
            # must reach the button, not submit the field again
            self.set_focus(self.query_one("#confirm", Button))
        else:
            self.notify(f"type {self.plan.typed_confirmation!r} exactly", title="Not confirmed", severity="warning")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "confirm" and self.plan.ready and self.typed_ok():
            typed = self.query_one("#typed", Input).value.strip() if self.needs_typing else ""
            self.dismiss(typed)
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
