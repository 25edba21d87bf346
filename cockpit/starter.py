"""The starter config `clay-cockpit init` writes: the shipped
``config/default.toml``, comments and layout kept (tomlkit edits the
document in place; a round trip through tomllib would drop every comment),
with the kube context and namespace in use filled in.

Which context and namespace: the flags, then the environment
(:func:`clay_cockpit.config_target.target_overrides`), then the kubeconfig's
``current-context`` and that context's namespace (:mod:`clay_cockpit.target`:
names only, no cluster call).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from tomlkit.items import Table

COMMENT_COLUMN = 40


def _set(table: Table, key: str, value: str, comment: str) -> None:
    import tomlkit

    shipped = table[key].trivia.comment.lstrip("# ") if key in table else ""
    item = tomlkit.item(value)
    item.comment(f"{comment}; {shipped}" if shipped else comment)  # the shipped comment kept
    item.trivia.comment_ws = " " * max(1, COMMENT_COLUMN - len(f"{key} = {item.as_string()}"))  # as the shipped file aligns them
    table[key] = item


def starter_toml(overrides: Mapping[str, tuple[str, str]], environ: dict[str, str] | None = None) -> tuple[str, list[str]]:
    """(the starter config's text, one line per value filled in and why)."""
    import tomlkit

    from clay_cockpit.config import default_toml_text
    from clay_cockpit.target import resolve

    doc = tomlkit.parse(default_toml_text())
    kube = cast("Table", doc["kube"])  # the shipped default.toml's [kube] table
    target = resolve({}, dict(overrides), environ)
    said: list[str] = []
    where = target.kubeconfig.value
    if target.kube.problem:
        said.append(f"Could not read the kubeconfig ({target.kube.problem}): the kube context and namespace are the shipped ones.")
    if "kubeconfig" in overrides and overrides["kubeconfig"][0]:
        _set(kube, "kubeconfig", where, f"{target.kubeconfig.origin} at init")
        said.append(f"kube.kubeconfig = {where!r} (from {target.kubeconfig.origin})")
    context = target.context
    if context.value:
        origin = context.origin if context.origin.startswith(("-", "$")) else "the kubeconfig's current context"
        _set(kube, "context", context.value, f"{origin} at init")
        said.append(f"kube.context = {context.value!r} (from {origin}{'' if origin.startswith(('-', '$')) else f', {where}'})")
    elif not target.kube.problem:
        said.append(f"No kubeconfig context found ({where}): kube.context left empty, the current context at each start.")
    namespace = target.namespace
    if namespace.origin.startswith(("-", "$", "kubeconfig")):
        origin = namespace.origin if namespace.origin.startswith(("-", "$")) else f"context {context.value}'s namespace"
        _set(kube, "namespace", namespace.value, f"{origin} at init")
        said.append(f"kube.namespace = {namespace.value!r} (from {origin})")
    else:
        said.append(f"kube.namespace left at the shipped {str(kube['namespace'])!r} (no namespace given, and the context sets none).")
    return tomlkit.dumps(doc), said
