"""The confirm modal: the plan of an action, and nothing runs until the
responder confirms it on purpose.

It shows exactly what will change — context, namespace, each object and
field before → after (a secret as fingerprints), the server-side dry run's
result or refusal, the permission check, the deployment's lease and the
notes (pods replaced, takes effect at the next restart …) — and why it is
blocked, when it is (read-only, permission denied with the escalation
contact, a refusal, expired credentials): then there is no confirm button
at all.

Safety, and short (DESIGN.md "Confirmation"): what is hard to undo —
writing the Secret, scaling down by half or more — needs the deployment
name typed: the focus starts in the name field, Enter there confirms only
when the name matches (else it says what is wrong, in the modal). A
restart, a rollback or a flag toggle (with its restart) is confirmed by one deliberate
key, ``y``, shown on the confirm button: the focus starts on Cancel, so
Enter alone cancels. Escape cancels. The plan scrolls with ↑/↓ and
PgUp/PgDn (it takes no tab stop of its own).

Toasts never cover the name field or the buttons: while the modal is up
the app holds notifications (``HOLDS_TOASTS``, see ``CockpitApp.notify``) —
new ones and those still showing when it opened — and shows them when it
closes.

Dismisses with what was typed (``""`` when nothing had to be) on confirm,
None on cancel; the caller turns that into a confirmation with
:meth:`clay_cockpit.actions.flow.ActionRunner.confirm`.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from clay_cockpit.actions.flow import FailureKind, Plan
from clay_cockpit.widgets.common import clean, hanging, set_if_changed

CONFIRM_WORD = {
    "restart": "Restart",
    "update_key": "Write the key",
    "enable_queuing": "Enable queuing",
    "disable_queuing": "Disable queuing",
    "enable_fallback": "Enable fallback",
    "disable_fallback": "Disable fallback",
    "scale": "Scale",
    "rollback": "Roll back",
}


def target_line(plan: Plan) -> str:
    """A rollback's headline, whole: "Back to revision 2 (registry.internal/clay-sync:1.14.2),
    from revision 3" — the revision the responder chose (or kubectl's previous one); "" for
    another action, or a plan that found no revision to go back to."""
    if plan.kind.value != "rollback" or plan.base("to_revision") is None:
        return ""
    images: tuple[tuple[str, str], ...] = tuple(plan.base("images") or ())
    shown = images[0][1] if len(images) == 1 else ", ".join(f"{c}={i}" for c, i in images)
    since = plan.base("from_revision")
    return (
        f"Back to revision {plan.base('to_revision')}"
        + (f" ({shown})" if shown else "")
        + (f", from revision {since}" if since is not None else "")
    )


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


def typed_reason(plan: Plan) -> str:
    """Why the name must be typed: what makes this plan hard to undo."""
    if plan.changes_secret:
        return "it writes a Secret"
    if plan.kind.value == "scale" and plan.inputs.replicas == 0:
        return "it stops every pod: 0 replicas"
    return "it scales down by half or more"


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

    HOLDS_TOASTS = True  # the app holds notifications while this is on top
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "y",
            "confirm",
            "Confirm",
            id="confirm.yes",
            tooltip="Confirm a restart, a rollback, a flag toggle or a scale by less than half: one deliberate key, shown on the button (never Enter alone)",
        ),
        Binding(
            "enter",
            "submit_name",
            "Confirm (name typed)",
            show=False,
            id="confirm.name",
            tooltip="In the name field (writing the Secret, scaling down by half or more): confirms once the deployment name matches",
        ),
        Binding("escape", "cancel", "Cancel", id="confirm.cancel", tooltip="Close without changing anything"),
        Binding(
            "up",
            "scroll_plan(-1)",
            "Scroll up",
            show=False,
            id="confirm.up",
            tooltip="Scroll the plan up (when it is longer than the screen)",
        ),
        Binding("down", "scroll_plan(1)", "Scroll down", show=False, id="confirm.down", tooltip="Scroll the plan down"),
        Binding("pageup", "scroll_plan(-10)", "Page up", show=False, id="confirm.pageup", tooltip="Scroll the plan 10 lines up"),
        Binding("pagedown", "scroll_plan(10)", "Page down", show=False, id="confirm.pagedown", tooltip="Scroll the plan 10 lines down"),
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
    ConfirmScreen #typed-error {
        height: auto;
        color: $text-warning;
    }
    ConfirmScreen #typed-error.-empty {
        display: none;
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

    @property
    def AUTO_FOCUS(self) -> str:  # type: ignore[override]  # (Screen reads it when the modal is shown)
        return "#typed" if self.needs_typing else "#cancel"

    def hint(self) -> str:
        """The subtitle: the keys that work here, and nothing else."""
        if not self.plan.ready:
            return "Esc or Enter closes · nothing was changed"
        if self.needs_typing:
            return f"type {self.plan.typed_confirmation}, Enter confirms · Esc cancels"
        return "y confirms · Esc or Enter cancels"

    def compose(self) -> ComposeResult:
        plan = self.plan
        with Vertical() as box:
            box.border_title = Content(
                ("Confirm: " if plan.ready else "Cannot run (read-only): " if plan.read_only else "Cannot run: ") + clean(plan.title)
            )
            box.border_subtitle = self.hint()
            if self._offered:
                yield Static(Content.styled(self._offered, "bold $text-accent"), id="offered")
            if target_line(plan):
                yield Static(Content.styled(clean(target_line(plan)), "bold"), id="target")
            plan_box = VerticalScroll(id="plan")
            plan_box.can_focus = False  # no invisible tab stop: ↑/↓ and PgUp/PgDn scroll it (the screen's bindings)
            with plan_box:
                yield Static(plan_content(plan, self._now, self._text_width()), id="plan-text")
            if self.needs_typing:
                name = plan.typed_confirmation
                why = typed_reason(plan)
                yield Static(
                    Content.from_markup("Type the deployment name [b]$name[/b] and Enter to confirm ($why):", name=clean(name), why=why),
                    id="typed-label",
                )
                yield Input(placeholder="the deployment name", id="typed", select_on_focus=False)
                yield Static("", id="typed-error", classes="-empty")
            with Horizontal(id="buttons"):
                yield Button("Cancel" if plan.ready else "Close", id="cancel", variant="default")
                if plan.ready:
                    word = CONFIRM_WORD.get(plan.kind.value, "Confirm")
                    label = f"{word} (Enter)" if self.needs_typing else f"{word} (y)"
                    yield Button(label, id="confirm", variant="error", disabled=self.needs_typing)

    def _text_width(self) -> int:
        """The plan's width: the box is 90% of the screen, at most 100 columns (less border, padding, scrollbar)."""
        return min(100, self.app.size.width * 9 // 10) - 5

    def _plan_height(self) -> int:
        """What the plan may take so the name field and the buttons stay on screen (it scrolls)."""
        target = -(-len(target_line(self.plan)) // max(1, self._text_width()))  # (its lines, wrapped)
        overhead = (
            2 + 3 + (1 if self._offered else 0) + target + (6 if self.needs_typing else 0)
        )  # frame, buttons, offered/target lines, name
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

    def _say(self, text: str) -> None:
        for error in self.query("#typed-error").results(Static):
            error.set_class(not text, "-empty")
            set_if_changed(error, text)

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        for button in self.query("#confirm").results(Button):
            button.disabled = not self.typed_ok()
        self._say("")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the name field confirms — only when the name matches."""
        event.stop()
        self.action_submit_name()

    def action_submit_name(self) -> None:
        if not self.needs_typing:
            return
        if self.typed_ok():
            self.dismiss(self.query_one("#typed", Input).value.strip())
            return
        typed = self.query_one("#typed", Input).value.strip()
        self._say(f"not confirmed: type {self.plan.typed_confirmation} exactly" + (f" (you typed {clean(typed)!r})" if typed else ""))

    def action_confirm(self) -> None:
        """``y``: confirms a plan that needs no typed name (never Enter alone)."""
        if self.plan.ready and not self.needs_typing:
            self.dismiss("")

    def action_scroll_plan(self, lines: int) -> None:
        for plan in self.query("#plan").results(VerticalScroll):
            plan.scroll_relative(y=lines, animate=False)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "confirm" and self.plan.ready and self.typed_ok():
            typed = self.query_one("#typed", Input).value.strip() if self.needs_typing else ""
            self.dismiss(typed)
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
