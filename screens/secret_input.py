"""The inputs an action needs before it can be planned: the new Clay API key
(masked) and a replica count.

:class:`KeyInputScreen` — a password field: the key is shown as dots, never
echoed, cannot be copied out of the field (a copy would send it to the
terminal's clipboard), and leaves the field only inside a
:class:`~clay_cockpit.actions.flow.SecretValue` (whose text is its fingerprint). Enter
asks Clay about it before anything is written (the caller runs the probe in
a thread worker and hands back the answer with :meth:`show_probe`); when
Clay accepts it the screen goes straight on to the plan (dismisses with the
SecretValue) — paste, Enter. When Clay refuses it or cannot say, the answer
stays on screen and "Plan anyway" goes on. The field is emptied when the
screen closes. Nothing here records, logs or notifies the value.

Toasts never cover the field or the buttons: the app holds notifications
while these modals are up (``HOLDS_TOASTS``); a copy refused is said in the
modal, not in a toast.

:class:`ReplicasScreen` — a number for the scale action, the current count
shown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from clay_cockpit.actions.flow import ProbeResult, SecretValue
from clay_cockpit.widgets.common import clean, set_if_changed

MODAL_CSS = """
{name} {{
    align: center middle;
}}
{name} > Vertical {{
    width: 90%;
    max-width: 90;
    height: auto;
    border: round $accent;
    border-title-color: $text;
    border-subtitle-color: $text-muted;
    background: $surface;
    padding: 0 1;
}}
{name} .help {{
    color: $text-muted;
    height: auto;
}}
{name} #result {{
    height: auto;
    margin-top: 1;
}}
{name} #buttons {{
    height: 3;
    align-horizontal: left;
}}
{name} Button {{
    margin-right: 2;
    min-width: 10;
}}
"""


class SecretInput(Input):
    """A password Input whose value cannot be copied or cut out of it."""

    class CopyRefused(Message):
        """A copy or cut was asked for: the screen says why not."""

    def action_copy(self) -> None:
        self.post_message(self.CopyRefused())

    def action_cut(self) -> None:
        self.post_message(self.CopyRefused())


def probe_content(result: ProbeResult) -> Content:
    code = "" if result.status_code is None or result.meaning.startswith(str(result.status_code)) else f"{result.status_code} "
    style = "bold $text-success" if result.valid else ("bold $text-error" if result.conclusive else "bold $text-warning")
    return Content.assemble(("Clay: ", style), (f"{code}{clean(result.meaning)}", style), (f"  ({result.fingerprint})", "$text-muted"))


class KeyInputScreen(ModalScreen[SecretValue | None]):
    """See the module docstring. ``probe`` starts the check of a key (off the UI thread)."""

    AUTO_FOCUS = "#key"
    HOLDS_TOASTS = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "enter",
            "verify",
            "Verify, then plan",
            show=False,
            id="key.verify",
            tooltip="In the key field: ask Clay about the pasted key; when Clay accepts it, go straight on to the plan",
        ),
        Binding("escape", "cancel", "Cancel", id="key.cancel", tooltip="Close; the key is forgotten"),
    ]
    DEFAULT_CSS = MODAL_CSS.format(name="KeyInputScreen")

    def __init__(self, where: str, probe: Callable[[SecretValue], None], *, read_only: bool = False) -> None:
        super().__init__()
        self._where = where  # "Secret clay-sync/clay-api, key api-key"
        self._probe = probe
        self._read_only = read_only
        self._result = Static(Content.styled(self.IDLE, "$text-muted"), id="result")
        self.checking = False
        self._asked: SecretValue | None = None  # the key the pending probe is about

    IDLE = "not checked yet: Enter asks Clay about it, then plans the update if Clay accepts it"

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Update the Clay API key"
            box.border_subtitle = "paste, Enter: Clay checks it, then the plan · Esc cancels"
            yield Static(
                Content.assemble(("Writes ", ""), (clean(self._where), "bold"), (" — after a plan, a dry run and your confirmation.", "")),
                classes="help",
            )
            if self._read_only:
                yield Static(Content.styled("Read-only: the key can be verified here, not written.", "bold $text-warning"), classes="help")
            yield SecretInput(password=True, placeholder="paste the new key (shown as dots)", id="key", select_on_focus=False)
            yield self._result
            with Horizontal(id="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Verify (Enter)", id="verify", variant="primary")
                yield Button("Plan anyway", id="plan", variant="warning")

    def _key(self) -> SecretValue | None:
        key = SecretValue(self.query_one("#key", SecretInput).value)
        if key.empty:
            set_if_changed(self._result, Content.styled("paste the key first", "$text-warning"))
            return None
        return key

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._verify()

    def on_secret_input_copy_refused(self, event: SecretInput.CopyRefused) -> None:
        event.stop()
        set_if_changed(
            self._result, Content.styled("the key is not copied out of the field (it would reach the clipboard)", "$text-warning")
        )

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()  # (the value goes no further than this screen)
        if not self.checking:
            set_if_changed(self._result, Content.styled(self.IDLE, "$text-muted"))

    def action_verify(self) -> None:
        self._verify()

    def _verify(self) -> None:
        key = self._key()
        if key is None or self.checking:
            return
        self.checking = True
        self._asked = key
        set_if_changed(self._result, Content.styled(f"asking Clay about {key.fingerprint}…", "$text-muted"))
        self._probe(key)

    def show_probe(self, result: ProbeResult) -> None:
        """Clay's answer, from the caller's worker (on the UI thread). Accepted, and
        still the key in the field: straight on to the plan (the plan asks Clay again)."""
        self.checking = False
        asked, self._asked = self._asked, None
        set_if_changed(self._result, probe_content(result))
        if result.valid and asked is not None and self.is_attached:
            current = SecretValue(self.query_one("#key", SecretInput).value)
            if current == asked:
                self._close(asked)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "verify":
            self._verify()
        elif event.button.id == "plan":
            key = self._key()
            if key is not None:
                self._close(key)
        else:
            self._close(None)

    def action_cancel(self) -> None:
        self._close(None)

    def _close(self, key: SecretValue | None) -> None:
        self.query_one("#key", SecretInput).value = ""
        self.dismiss(key)


class ReplicasScreen(ModalScreen[int | None]):
    """How many pods: dismisses with the number (Enter), None (Esc)."""

    AUTO_FOCUS = "#replicas"
    HOLDS_TOASTS = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="replicas.cancel", tooltip="Close without planning anything"),
    ]
    DEFAULT_CSS = MODAL_CSS.format(name="ReplicasScreen")

    def __init__(self, deployment: str, current: int | None, ready: int | None) -> None:
        super().__init__()
        self._deployment = deployment
        self._current = current
        self._ready = ready

    def compose(self) -> ComposeResult:
        now = "unknown" if self._current is None else f"{self._current}" + (f" ({self._ready} ready)" if self._ready is not None else "")
        with Vertical() as box:
            box.border_title = Content(f"Scale deployment {clean(self._deployment)}")
            box.border_subtitle = "Enter plans it (you confirm after) · Esc cancels"
            yield Static(f"Replicas now: {now}. How many pods?", classes="help")
            yield Input(value="" if self._current is None else str(self._current), type="integer", id="replicas", max_length=4)
            yield Static("", id="result")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if not text.isdigit():
            self.query_one("#result", Static).update(Content.styled("a whole number, 0 or more", "$text-warning"))
            return
        self.dismiss(int(text))

    def action_cancel(self) -> None:
        self.dismiss(None)
