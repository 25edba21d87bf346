"""Which cluster, namespace and kubeconfig the cockpit points at, and why.

The kube target is decided as kubectl users expect: a flag (``--context``,
``-n/--namespace``, ``--kubeconfig``), then an environment variable
(``$CLAY_COCKPIT_CONTEXT`` …), then the config file (``kube.context`` …),
then the kubeconfig itself (its ``current-context`` and that context's
namespace; for the file: ``$KUBECONFIG``, then ``~/.kube/config``).

:func:`resolve` says, for each of the three, the value in effect and where it
came from (``clay-cockpit info``); :func:`read_kubeconfig` reads only the
names from the kubeconfig files (``clay-cockpit init`` fills them in). No
cluster is called and no credential is read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_KUBECONFIG = "~/.kube/config"


@dataclass(frozen=True)
class Setting:
    value: str
    origin: str  # "--context", "$CLAY_COCKPIT_CONTEXT", "config file", "kubeconfig current-context", "default" …


@dataclass(frozen=True)
class Kubeconfig:
    """The names in the kubeconfig file(s) in use (first file wins, as kubectl merges)."""

    paths: tuple[Path, ...]
    current_context: str = ""
    namespaces: dict[str, str] = field(default_factory=dict)  # context → its namespace ("" if none)
    problem: str = ""  # why it could not be read ("" if it was, or if there is none)

    @property
    def exists(self) -> bool:
        return any(p.is_file() for p in self.paths)


def kubeconfig_paths(value: str) -> tuple[Path, ...]:
    """The files of a kubeconfig setting (``os.pathsep``-separated, ``~`` expanded)."""
    return tuple(Path(p).expanduser() for p in value.split(os.pathsep) if p)


def read_kubeconfig(paths: tuple[Path, ...]) -> Kubeconfig:
    """Names only (current context, each context's namespace); never raises."""
    import yaml  # PyYAML: a dependency of the kubernetes client

    current = ""
    namespaces: dict[str, str] = {}
    for path in paths:
        if not path.is_file():
            continue
        try:
            doc: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as err:
            return Kubeconfig(paths, problem=f"cannot read {path}: {err.strerror or err}")
        except yaml.YAMLError as err:
            return Kubeconfig(paths, problem=f"{path} is not valid YAML ({type(err).__name__})")
        except UnicodeDecodeError as err:
            return Kubeconfig(paths, problem=f"{path} is not UTF-8 text (byte 0x{err.object[err.start]:02x} at offset {err.start})")
        if not isinstance(doc, dict):
            continue
        if not current and isinstance(doc.get("current-context"), str):
            current = doc["current-context"]
        for entry in doc.get("contexts") or []:
            if isinstance(entry, dict) and isinstance(entry.get("name"), str) and entry["name"] not in namespaces:
                ctx = found if isinstance(found := entry.get("context"), dict) else {}
                namespaces[entry["name"]] = str(ctx.get("namespace") or "")
    return Kubeconfig(paths, current, namespaces)


@dataclass(frozen=True)
class Target:
    context: Setting
    namespace: Setting
    kubeconfig: Setting
    kube: Kubeconfig

    def as_dict(self) -> dict[str, Any]:
        return {
            "context": {
                "value": self.context.value,
                "from": self.context.origin,
                "in_kubeconfig": self.context.value in self.kube.namespaces,
            },
            "namespace": {"value": self.namespace.value, "from": self.namespace.origin},
            "kubeconfig": {
                "value": self.kubeconfig.value,
                "from": self.kubeconfig.origin,
                "exists": self.kube.exists,
                **({"problem": self.kube.problem} if self.kube.problem else {}),
            },
        }


def resolve(file_values: dict[str, str], overrides: dict[str, tuple[str, str]], environ: dict[str, str] | None = None) -> Target:
    """The target in effect: ``overrides`` (flag or environment, from
    :func:`clay_cockpit.config_target.target_overrides`) over the config file's
    ``file_values`` (context, namespace, kubeconfig; missing or "" for
    unset) over the kubeconfig's own choice."""
    environ = dict(os.environ) if environ is None else environ

    def pick(name: str) -> Setting | None:
        if name in overrides:
            value, origin = overrides[name]
            if value:
                return Setting(value, origin)
        elif file_values.get(name):
            return Setting(file_values[name], f"kube.{name} in the config file")
        return None

    kubeconfig = pick("kubeconfig")
    if kubeconfig is None:
        kubeconfig = Setting(environ["KUBECONFIG"], "$KUBECONFIG") if environ.get("KUBECONFIG") else Setting(DEFAULT_KUBECONFIG, "default")
    paths = kubeconfig_paths(kubeconfig.value)
    kubeconfig = Setting(os.pathsep.join(str(p) for p in paths), kubeconfig.origin)
    kube = read_kubeconfig(paths)
    context = pick("context") or (
        Setting(kube.current_context, "kubeconfig current-context")
        if kube.current_context
        else Setting("", "none (the kubeconfig has no current-context)")
    )
    namespace = pick("namespace")
    if namespace is None:
        own = kube.namespaces.get(context.value, "")
        namespace = Setting(own, f"kubeconfig context {context.value}") if own else Setting("default", "default (the context sets none)")
    return Target(context, namespace, kubeconfig, kube)


def check_context(overrides: dict[str, tuple[str, str]], file_kubeconfig: str = "", environ: dict[str, str] | None = None) -> None:
    """A context named by a flag or the environment must be in the kubeconfig
    (kubectl: 'context "x" does not exist'). Raises ConfigError naming where
    it came from and the contexts there are; quiet when no context was named
    that way or the kubeconfig cannot be read (the kube source says why)."""
    from clay_cockpit.paths import ConfigError

    if not overrides.get("context", ("", ""))[0]:
        return
    target = resolve({"kubeconfig": file_kubeconfig}, overrides, environ)
    if target.kube.problem or not target.kube.exists or target.context.value in target.kube.namespaces:
        return
    names = ", ".join(sorted(target.kube.namespaces)[:8]) or "none"
    raise ConfigError(
        target.context.origin, "", f"a context of kubeconfig {target.kubeconfig.value} ({names})", f"{target.context.value!r}"
    )
