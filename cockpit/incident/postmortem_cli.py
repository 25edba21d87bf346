"""``clay-cockpit postmortem [INCIDENT] [-o FILE]``: finds the incident —
in the state dir and in every drill's state dir under it (``drills/NAME``,
where ``clay-cockpit demo`` keeps them), newest first across them — and
prints or writes its postmortem (:mod:`clay_cockpit.incident.postmortem`).
Each environment's incidents (``envs/NAME``, issue 18) are searched too;
``--env NAME`` searches only that environment's.

It says on stderr which incident it took and from where. Errors are one
line: exit 1 when there is nothing to write about or a file cannot be read
or written, 2 for a usage error (an INCIDENT that names none or several,
``--force`` without ``--output``, a state dir that is not a folder, a bad
``--config``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# (clay_cockpit.incident.postmortem is imported where it is used: it reads the runbook at import, and a config's
# [runbook] file is applied once the config is read — the parser imports this module before that)

EXIT_FAILED = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """The arguments name nothing usable (exit 2)."""


@dataclass(frozen=True)
class Found:
    path: Path
    where: str  # "" for the state dir's own incidents, else "drill clay-outage"


def incidents_dir(state_dir: str | Path) -> Path:
    return Path(state_dir) / "incidents"


def _folders(parent: Path) -> list[str]:
    try:
        return sorted(p.name for p in parent.iterdir() if p.is_dir())
    except OSError:
        return []


def incident_dirs(state_dir: str | Path) -> list[tuple[Path, str]]:
    """(folder, what) for the state dir's incidents, each environment's
    (``envs/NAME``, issue 18) and each drill's."""
    root = Path(state_dir)
    out = [(incidents_dir(root), "")]
    out += [(incidents_dir(root / "envs" / name), f"env {name}") for name in _folders(root / "envs")]
    out += [(incidents_dir(root / "drills" / name), f"drill {name}") for name in _folders(root / "drills")]
    return out


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def find(state_dir: str | Path, ref: str | None = None) -> Found:
    """The timeline for ``ref`` (an id, a unique part of one, or a path),
    or the newest incident (by when its file was last written) in the state
    dir and its drills. Raises UsageError (a ref that names none or
    several, a state dir that is not a folder) or PostmortemError (none at all)."""
    from clay_cockpit.incident.postmortem import PostmortemError

    if ref and (ref.endswith(".jsonl") or os.sep in ref):
        path = Path(ref).expanduser()
        if path.is_file():
            return Found(path, "")
        raise UsageError(f"{path}: no such timeline file")
    root = Path(state_dir).expanduser()
    if root.exists() and not root.is_dir():
        raise UsageError(f"{root} is not a folder (--state-dir names the cockpit's state dir)")
    files: list[tuple[Path, str]] = []
    for folder, what in incident_dirs(root):
        try:
            files += [(f, what) for f in folder.glob("INC-*.jsonl") if f.is_file()]
        except OSError as exc:
            raise PostmortemError(f"cannot read {folder}: {exc.strerror or exc}") from None
    files.sort(key=lambda fw: (_mtime(fw[0]), fw[0].name), reverse=True)
    if not files:
        raise PostmortemError(
            f"no incident in {incidents_dir(root)}, {root / 'envs'}/*/incidents or {root / 'drills'}/*/incidents "
            "(declare one in the cockpit first, or name a timeline file)"
        )
    if not ref:
        return Found(*files[0])
    exact = [fw for fw in files if fw[0].stem == ref]
    hits = exact or [fw for fw in files if ref.lower() in fw[0].stem.lower()]
    if len(hits) == 1 or (exact and len({f.stem for f, _ in exact}) == 1):
        return Found(*hits[0])
    if not hits:
        newest = ", ".join(f.stem for f, _ in files[:3])
        raise UsageError(f"no incident matching {ref!r} in {root} or its drills (newest: {newest})")
    raise UsageError(f"{ref!r} matches {len(hits)} incidents: {', '.join(f.stem for f, _ in hits[:5])} — give more of the id")


def find_incident(state_dir: str | Path, ref: str | None = None) -> Path:
    """The timeline file :func:`find` finds."""
    return find(state_dir, ref).path


def add_postmortem_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "incident",
        nargs="?",
        metavar="INCIDENT",
        help="incident id (or a unique part of it) or a timeline file (default: the newest incident, drills included)",
    )
    parser.add_argument("-o", "--output", metavar="FILE", help="write the Markdown to FILE (default: print it)")
    parser.add_argument("--force", action="store_true", help="replace FILE if it exists")
    parser.add_argument(
        "--state-dir", metavar="DIR", help="where the incidents are (default: the cockpit's state dir; its drills/* are searched too)"
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="config file, for the templates folder, the tokens to keep out and the Grafana dashboards to link (optional)",
    )
    parser.add_argument(
        "--env",
        metavar="NAME",
        help="only the incidents of this environment of the config (its state dir's envs/NAME; default: every environment's)",
    )


def _load_config(path: str | None, err: Callable[[str], None], env: str | None = None) -> Any:
    from clay_cockpit.config import load_config
    from clay_cockpit.paths import ConfigError, default_config_path

    target = path or os.environ.get("CLAY_COCKPIT_CONFIG") or (str(default_config_path()) if default_config_path().exists() else None)
    if not target:
        return None
    try:
        config = load_config(target, env)
        from clay_cockpit.runbook_file import use_config_runbook

        use_config_runbook(config.runbook.file, config.source)  # the severities' names in the postmortem are the team's
        return config
    except ConfigError as exc:
        if exc.file == "--env":
            raise UsageError(str(exc)) from None
        err(f"clay-cockpit postmortem: {exc} (going on without it)" if not path else f"clay-cockpit postmortem: {exc}")
        return None


def _env_root(root: Path, env: str, config: Any) -> Path:
    """The state dir of environment ``env``: one the config defines, or (no
    config to ask) one that has a folder; else UsageError naming those there are."""
    from clay_cockpit.config_env import ENV_NAME

    known = [p.name for p in config.envs] if config is not None else _folders(root / "envs")
    if env not in known or not ENV_NAME.fullmatch(env):
        where = "the config's environments" if config is not None else f"the environments with incidents in {root / 'envs'}"
        raise UsageError(f"--env: expected one of {where} ({', '.join(known) or 'none'}), found {env!r}")
    return root / "envs" / env


def cmd_postmortem(args: argparse.Namespace) -> int:
    """0: written; 1: no incident / cannot read or write; 2: a usage error."""
    from clay_cockpit.comms.templates import Templates
    from clay_cockpit.paths import state_dir

    def err(line: str) -> None:
        print(line, file=sys.stderr)

    if getattr(args, "force", False) and not getattr(args, "output", None):
        err("clay-cockpit postmortem: --force replaces the file --output names; give --output FILE too")
        return EXIT_USAGE
    env = getattr(args, "env", None)
    try:
        config = _load_config(getattr(args, "config", None), err, env)
    except UsageError as exc:
        err(f"clay-cockpit postmortem: {exc}")
        return EXIT_USAGE
    if getattr(args, "config", None) and config is None:
        return EXIT_USAGE
    from clay_cockpit.incident.postmortem import PostmortemError, build_postmortem, env_secrets, secret_env_names, write_postmortem

    templates = Templates.for_config(config.comms.templates_dir if config is not None else "")
    names = () if config is None else secret_env_names(config)
    try:
        root = Path(getattr(args, "state_dir", None) or state_dir()).expanduser()
        found = find(_env_root(root, env, config) if env is not None else root, getattr(args, "incident", None))
        kwargs: dict[str, Any] = {"templates": templates, "secrets": env_secrets(names), "config": config}
        if getattr(args, "output", None):
            pm = write_postmortem(found.path, args.output, force=bool(getattr(args, "force", False)), **kwargs)
        else:
            pm = build_postmortem(found.path, **kwargs)
            sys.stdout.write(pm.text)
    except UsageError as exc:
        err(f"clay-cockpit postmortem: {exc}")
        return EXIT_USAGE
    except PostmortemError as exc:
        err(f"clay-cockpit postmortem: {exc}")
        return EXIT_FAILED
    for problem in pm.problems:
        err(f"clay-cockpit postmortem: {problem}")
    took = f"{found.path.stem}" + (f" ({found.where})" if found.where else "") + f" from {found.path.parent}"
    draft = " (DRAFT: the incident is still open)" if pm.draft else ""
    err(
        f"clay-cockpit postmortem: wrote {args.output}: {took}{draft}"
        if getattr(args, "output", None)
        else f"clay-cockpit postmortem: {took}{draft}"
    )
    return 0
