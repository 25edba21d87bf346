"""The user's ``[keymap]`` and ``[ui] theme``, checked against the program.

Every binding of the cockpit has an id (``incident.declare``); ``[keymap]``
maps ids to other keys and Textual's ``App.set_keymap`` applies it. Here: the
check (an unknown id, a key Textual does not know, or two bindings of one
screen on one key is a one-line :class:`ConfigError` naming the key), and
:func:`remapped`, the binding as the keymap makes it, for the lists the help
screen, the command palette and the README show (the footer reads Textual's
own remapped bindings).

The palette's key (``app.commands``, Textual's ``COMMAND_PALETTE_BINDING``) is
remappable too: Textual adds that binding itself, without an id.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from textual.binding import Binding
from textual.keys import Keys

from clay_cockpit.paths import ConfigError

if TYPE_CHECKING:
    from textual.dom import DOMNode

    from clay_cockpit.config import Config

PALETTE_ID = "app.commands"
MODIFIERS = ("ctrl", "alt", "shift", "meta", "super", "hyper")
# key names beyond Keys' values (those Textual's drivers send for printable keys)
_NAMED = {
    "space",
    "enter",
    "tab",
    "escape",
    "backspace",
    "delete",
    "insert",
    "home",
    "end",
    "pageup",
    "pagedown",
    "up",
    "down",
    "left",
    "right",
}


def binding_lists() -> list[tuple[str, Sequence[Binding]]]:
    """(owner, bindings) of every screen and widget with bindings: the ids a keymap may name."""
    from textual.app import App

    from clay_cockpit.screens.app_keys import APP_BINDINGS, bindings_of
    from clay_cockpit.screens.choose import ChoiceScreen
    from clay_cockpit.screens.compose import ComposeScreen
    from clay_cockpit.screens.confirm import ConfirmScreen
    from clay_cockpit.screens.help import HelpScreen
    from clay_cockpit.screens.infra_view import InfraScreen
    from clay_cockpit.screens.log_filter import LogFilterScreen
    from clay_cockpit.screens.metrics_view import MetricsScreen
    from clay_cockpit.screens.preview import PreviewScreen
    from clay_cockpit.screens.secret_input import KeyInputScreen, ReplicasScreen
    from clay_cockpit.screens.timeline_view import TimelineScreen
    from clay_cockpit.widgets.actions import ActionsView
    from clay_cockpit.widgets.checklist import ChecklistView
    from clay_cockpit.widgets.logs import LogView
    from clay_cockpit.widgets.pods import PodsTable

    owners: Iterable[type[DOMNode]] = (
        ChecklistView,
        ActionsView,
        LogView,
        PodsTable,
        MetricsScreen,
        InfraScreen,
        PreviewScreen,
        TimelineScreen,
        ChoiceScreen,
        ConfirmScreen,
        LogFilterScreen,
        HelpScreen,
        KeyInputScreen,
        ReplicasScreen,
        ComposeScreen,
    )
    app = [*APP_BINDINGS, Binding(App.COMMAND_PALETTE_BINDING, "command_palette", "Commands", id=PALETTE_ID)]  # Textual adds it, id-less
    return [("CockpitApp", app), *((owner.__name__, bindings_of(owner)) for owner in owners)]


def known_key(key: str) -> bool:
    """A key name Textual can deliver: a printable character, or a named key
    (``f5``, ``pageup``, ``question_mark``), after modifiers (``ctrl+``)."""
    *mods, base = key.split("+") if key != "+" else [key]
    if any(m not in MODIFIERS for m in mods) or len(set(mods)) != len(mods) or not base:
        return False
    if len(base) == 1:
        return base.isprintable() and not base.isspace()
    if base in _NAMED or any(k.value.rpartition("+")[2] == base for k in Keys):
        return True
    try:  # a character by its Unicode name, as Textual names non-alphanumeric keys: question_mark, slash, plus
        unicodedata.lookup(base.replace("_", " "))
    except KeyError:
        return base in ("slash", "backslash", "at", "minus", "plus", "underscore")
    return True


def _normal(key: str) -> str:
    """A key as Textual names it when it arrives ("?" → "question_mark")."""
    if len(key) != 1 or key.isalnum():
        return key
    name = unicodedata.name(key, key).lower().replace("-", "_").replace(" ", "_")
    return {
        "solidus": "slash",
        "reverse_solidus": "backslash",
        "commercial_at": "at",
        "hyphen_minus": "minus",
        "plus_sign": "plus",
        "low_line": "underscore",
    }.get(name, name)


def normalised(keymap: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The keymap as Textual's ``set_keymap`` takes it, keys in their long names."""
    return {binding_id: ",".join(_normal(k) for k in keys.split(",")) for binding_id, keys in keymap}


def check_keymap(keymap: Sequence[tuple[str, str]], file: str) -> None:
    """Raise ConfigError (one line, naming the key) for an unknown binding
    id, a key name Textual does not know, or a key that two bindings of the
    same screen would share after the remap."""
    if not keymap:
        return
    lists = binding_lists()
    ids = {b.id for _, bindings in lists for b in bindings if b.id} | {PALETTE_ID}
    mapping = normalised(keymap)
    for binding_id, keys in keymap:
        where = f"keymap.{binding_id}"
        if binding_id not in ids:
            from difflib import get_close_matches

            close = get_close_matches(binding_id, sorted(ids), n=1)
            hint = f" (did you mean {close[0]}?)" if close else " (the ids are in the README's key table)"
            raise ConfigError(file, where, "the id of a binding" + hint, "unknown id")
        for key in keys.split(","):
            if not known_key(key):
                raise ConfigError(file, where, "a key Textual knows (a character, f1-f24, ctrl+x, pageup, space …)", f"key {key!r}")
    for owner, bindings in lists:
        seen: dict[str, str] = {}
        for binding in bindings:
            keys = mapping.get(binding.id or "", binding.key)
            for key in (k.strip() for k in keys.split(",")):
                other = seen.setdefault(key, binding.id or binding.action)
                if other != (binding.id or binding.action) and (binding.id in mapping or other in mapping):
                    remapped_id = binding.id if binding.id in mapping else other
                    raise ConfigError(
                        file,
                        f"keymap.{remapped_id}",
                        f"a key no other binding of {owner} uses",
                        f"{key!r}, already {other if remapped_id != other else binding.id}'s",
                    )


def check_theme(theme: str, file: str) -> None:
    """``[ui] theme`` must be one of Textual's themes."""
    from textual.theme import BUILTIN_THEMES

    if theme not in BUILTIN_THEMES:
        from difflib import get_close_matches

        close = get_close_matches(theme, sorted(BUILTIN_THEMES), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ConfigError(file, "ui.theme", "one of " + ", ".join(sorted(BUILTIN_THEMES)) + hint, f"string {theme!r}")


def check_ui(config: Config) -> None:
    """Check ``[ui]`` and ``[keymap]`` of a loaded config (raises ConfigError)."""
    check_theme(config.ui.theme, config.source or "config")
    check_keymap(config.keymap, config.source or "config")


def remapped(binding: Binding, keymap: Mapping[str, str], display: Callable[[Binding], str]) -> Binding:
    """``binding`` with the keymap's key(s) and a display of all of them
    (``display``: the app's ``get_key_display``)."""
    keys = keymap.get(binding.id or "")
    if not keys:
        return binding
    shown = "/".join(display(binding.with_key(k)) for k in keys.split(","))
    return binding.with_key(keys, key_display=shown)
