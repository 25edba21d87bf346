"""The kube target of one run: context, namespace and kubeconfig overridden
as kubectl users expect — a flag (``--context``, ``-n``, ``--kubeconfig``),
then an environment variable (:data:`TARGET_ENV`), then the config file
(:func:`target_overrides`, :func:`with_target`); an empty namespace read
from the kubeconfig (:func:`with_resolved_namespace`); ``--read-only``
(:func:`read_only`); whether the environment (``--env``) in use may be
used so (:func:`check_env_choice`), and its own target winning over the
environment variables (:func:`profile_wins`).

The ``with_*`` and :func:`read_only` return a new
:class:`~clay_cockpit.config.Config`; no cluster is called.
Standard library only.
"""

from __future__ import annotations

import os
import typing
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clay_cockpit.config_build import _describe
from clay_cockpit.paths import ConfigError

if TYPE_CHECKING:
    from clay_cockpit.config import Config


# Overrides of the kube target, as kubectl users expect: flag > environment > file
TARGET_ENV = {"context": "CLAY_COCKPIT_CONTEXT", "namespace": "CLAY_COCKPIT_NAMESPACE", "kubeconfig": "CLAY_COCKPIT_KUBECONFIG"}
TARGET_FLAGS = {"context": "--context", "namespace": "--namespace", "kubeconfig": "--kubeconfig"}


def _dns_label(value: str) -> bool:
    return len(value) <= 63 and all(c.islower() or c.isdigit() or c == "-" for c in value) and value[:1].isalnum() and value[-1:].isalnum()


def target_overrides(
    context: str | None = None, namespace: str | None = None, kubeconfig: str | None = None, environ: typing.Mapping[str, str] | None = None
) -> dict[str, tuple[str, str]]:
    """The kube target's overrides in force: ``{field: (value, origin)}`` for
    each of context, namespace, kubeconfig that a flag (origin "--context" …)
    or else its environment variable (origin "$CLAY_COCKPIT_CONTEXT" …) sets.
    An empty environment variable counts as unset; an empty flag (``-n ""``)
    sets the field empty (the kubeconfig's choice). Raises ConfigError for a
    namespace that is no Kubernetes name or a kubeconfig file that is not there."""
    environ = os.environ if environ is None else environ
    out: dict[str, tuple[str, str]] = {}
    for name, flag in (("context", context), ("namespace", namespace), ("kubeconfig", kubeconfig)):
        if flag is not None:
            out[name] = (flag, TARGET_FLAGS[name])
        elif environ.get(TARGET_ENV[name]):
            out[name] = (environ[TARGET_ENV[name]], f"${TARGET_ENV[name]}")
    if "namespace" in out and out["namespace"][0] and not _dns_label(out["namespace"][0]):
        value, origin = out["namespace"]
        raise ConfigError(origin, "", "a Kubernetes namespace name (lowercase letters, digits and -, at most 63)", _describe(value))
    if "kubeconfig" in out and out["kubeconfig"][0]:
        value, origin = out["kubeconfig"]
        missing = [p for p in value.split(os.pathsep) if p and not Path(p).expanduser().is_file()]
        if missing:
            raise ConfigError(origin, "", "a kubeconfig file", f"no file at {missing[0]}")
    return out


def with_target(config: Config, *, context: str | None = None, namespace: str | None = None, kubeconfig: str | None = None) -> Config:
    """The config pointed at another kube context, namespace or kubeconfig
    (each None: as the file says)."""
    changes: dict[str, Any] = {
        k: v for k, v in (("context", context), ("namespace", namespace), ("kubeconfig", kubeconfig)) if v is not None
    }
    if "kubeconfig" in changes:
        changes["kubeconfig"] = os.pathsep.join(str(Path(p).expanduser()) for p in changes["kubeconfig"].split(os.pathsep) if p)
    return replace(config, kube=replace(config.kube, **changes)) if changes else config


def with_resolved_namespace(config: Config, environ: typing.Mapping[str, str] | None = None) -> Config:
    """An empty ``kube.namespace`` means the context's namespace, as kubectl
    reads it: the namespace of ``kube.context`` (or the kubeconfig's
    current-context) in the kubeconfig (``kube.kubeconfig``, else
    ``$KUBECONFIG``, else ``~/.kube/config``), or "default" when the context
    names none. A set namespace is kept; no cluster is called."""
    if config.kube.namespace:
        return config
    from clay_cockpit.target import DEFAULT_KUBECONFIG, kubeconfig_paths, read_kubeconfig

    environ = os.environ if environ is None else environ
    kube = read_kubeconfig(kubeconfig_paths(config.kube.kubeconfig or environ.get("KUBECONFIG") or DEFAULT_KUBECONFIG))
    context = config.kube.context or kube.current_context
    return replace(config, kube=replace(config.kube, namespace=kube.namespaces.get(context, "") or "default"))


def read_only(config: Config) -> Config:
    """The config with ``kube.read_only`` set (``--read-only``)."""
    return replace(config, kube=replace(config.kube, read_only=True))


def check_env_choice(config: Config) -> None:
    """Where the cockpit acts on an environment (run, check, rbac): a file
    with ``[env.NAME]`` tables needs one chosen (``--env`` or
    ``default_env``), and one with ``require_explicit`` needs ``--env`` typed.
    Raises ConfigError saying what to type."""
    from clay_cockpit.config_env import no_env_chosen

    names = [p.name for p in config.envs]
    if names and not config.env:
        raise no_env_chosen(config.source, names)
    profile = config.profile
    if profile is not None and profile.require_explicit and config.env_from != "--env":
        raise ConfigError(
            config.source,
            f"env.{profile.name}.require_explicit",
            f"`--env {profile.name}` typed on the command line (default_env alone does not pick a production environment)",
            "no --env",
        )


def profile_wins(config: Config, overrides: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """The target's ``overrides`` without the environment variables
    (``$CLAY_COCKPIT_CONTEXT`` …) that the environment in use sets itself:
    a shell's leftover ``CLAY_COCKPIT_CONTEXT=staging`` must not point
    ``--env prod-eu`` at staging. A flag (``--context``) still wins."""
    profile = config.profile
    if profile is None:
        return overrides
    return {k: (v, origin) for k, (v, origin) in overrides.items() if not (origin.startswith("$") and f"kube.{k}" in profile.sets)}
