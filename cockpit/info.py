"""`clay-cockpit info`: the files and the kube target actually in use, and
where each came from — the paths resolved as the cockpit resolves them
(``$CLAY_COCKPIT_CONFIG``, ``XDG_CONFIG_HOME``, ``XDG_STATE_HOME``), the
context, namespace and kubeconfig as flag > environment > config file >
kubeconfig. It calls no cluster and reads no credential; a config file that
is missing or invalid is reported, not fatal (exit 0: it is what you run to
find out why the cockpit does not start). With environments in the file
(``[env.NAME]``), it says which one is in use (``--env``, else
``default_env``) and shows that one's target and incidents; an ``--env``
the file does not define is a usage error (exit 2).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any


def _count(folder: Path, pattern: str) -> int | None:
    try:
        return sum(1 for _ in folder.glob(pattern)) if folder.is_dir() else None
    except OSError:
        return None


def gather(args: argparse.Namespace) -> dict[str, Any]:
    from clay_cockpit.cli_common import log_level
    from clay_cockpit.comms.templates import user_dir
    from clay_cockpit.config import env_state_dir, load_config
    from clay_cockpit.config_target import profile_wins, target_overrides
    from clay_cockpit.paths import ConfigError, config_location, log_path, state_dir
    from clay_cockpit.runbook_file import RUNBOOK_ENV, shipped_path, use_config_runbook
    from clay_cockpit.target import resolve

    path, origin = config_location(args.config)
    config_info: dict[str, Any] = {"path": str(path), "from": origin, "exists": path.is_file()}
    file_values: dict[str, str] = {}
    templates_dir = ""
    overrides = target_overrides(args.context, args.namespace, args.kubeconfig)
    env: dict[str, Any] = {"name": "", "from": "", "known": []}
    home = state_dir()  # the environment's own folder, when there is one (its incidents and postmortems)
    if path.is_file():
        try:
            config = load_config(path, getattr(args, "env", None))
        except ConfigError as err:
            if err.file == "--env":
                raise  # a bad flag is a usage error (exit 2), not a finding about the file
            config_info["problem"] = str(err)
        else:
            file_values = {"context": config.kube.context, "namespace": config.kube.namespace, "kubeconfig": config.kube.kubeconfig}
            templates_dir = config.comms.templates_dir
            config_info["theme"] = config.ui.theme
            config_info["keymap"] = dict(config.keymap)
            profile = config.profile
            env = {
                "name": config.env,
                "from": config.env_from,
                "known": [p.name for p in config.envs],
                "require_explicit": bool(profile and profile.require_explicit),
                "read_only": config.kube.read_only,
                "sets": list(profile.sets) if profile else [],
            }
            overrides = profile_wins(config, overrides)
            home = env_state_dir(config)
            try:
                use_config_runbook(config.runbook.file, config.source)
            except ConfigError as err:
                config_info["problem"] = str(err)
    elif getattr(args, "env", None) is not None:
        raise ConfigError("--env", "", f"an environment of a config file (there is none at {path})", repr(args.env))
    target = resolve(file_values, overrides)
    kube = target.as_dict()
    for name in ("context", "namespace", "kubeconfig"):  # a key the environment sets: said so
        if f"kube.{name}" in env.get("sets", ()) and kube[name]["from"] == f"kube.{name} in the config file":
            kube[name]["from"] = f"env.{env['name']}.kube.{name} in the config file"
    state = state_dir()
    incidents = home / "incidents"
    templates = user_dir(templates_dir)
    return {
        "config": config_info,
        "env": env,
        "state_dir": str(state),
        "log_file": str(log_path()),
        "log_level": log_level(),
        "incidents_dir": str(incidents),
        "incidents": _count(incidents, "*.jsonl") or 0,
        "drafts": f"kept in each incident's timeline ({incidents})",
        "postmortems_dir": str(home / "postmortems"),
        "drills_dir": str(state / "drills"),
        "templates_dir": str(templates),
        "templates_dir_exists": templates.is_dir(),
        "kube": kube,
        "runbook": {"path": os.environ.get(RUNBOOK_ENV) or shipped_path(), "from": _runbook_from()},
    }


def _runbook_from() -> str:
    from clay_cockpit import runbook_file

    return runbook_file.RUNBOOK_FROM or "shipped"


def _env_text(env: dict[str, Any]) -> str:
    """``prod-eu (from --env; production: --env typed; of staging, prod-eu)``, or why there is none."""
    known = ", ".join(env["known"])
    if not env["name"]:
        return f"none chosen: type --env NAME or set default_env ({known})" if known else "none (the config defines no [env.NAME])"
    said = [f"from {env['from']}"]
    if env.get("require_explicit"):
        said.append("production: --env must be typed" + (", refused from default_env" if env["from"] != "--env" else ""))
    if env.get("read_only"):
        said.append("read-only")
    return f"{env['name']} ({'; '.join(said)}; of {known})"


def render(info: dict[str, Any]) -> str:
    config = info["config"]
    state = "exists" if config["exists"] else "no file: `clay-cockpit init` writes one"
    if config.get("problem"):
        state = f"invalid: {config['problem']}"
    rows = [
        ("config", f"{config['path']} ({state}; from {'the default location' if config['from'] == 'default' else config['from']})"),
        ("env", _env_text(info["env"])),
        (
            "runbook",
            f"{info['runbook']['path']} ({'the shipped one' if info['runbook']['from'] == 'shipped' else 'from ' + info['runbook']['from']})",
        ),
        ("state dir", info["state_dir"]),
        ("log file", f"{info['log_file']} (level {info['log_level']})"),
        ("incidents", f"{info['incidents_dir']} ({info['incidents']} kept)"),
        ("drafts", info["drafts"]),
        ("postmortems", info["postmortems_dir"]),
        ("drills", info["drills_dir"]),
        (
            "templates",
            f"{info['templates_dir']} ({'overrides the shipped ones' if info['templates_dir_exists'] else 'none: the shipped ones'})",
        ),
    ]
    kube = info["kube"]
    for name in ("context", "namespace", "kubeconfig"):
        value = kube[name]["value"] or "(none)"
        extra = ""
        if name == "context" and kube[name]["value"] and not kube[name]["in_kubeconfig"]:
            extra = ", not in the kubeconfig"
        if name == "kubeconfig":
            extra = "" if kube[name]["exists"] else ", no file"
            if kube[name].get("problem"):
                extra += f", {kube[name]['problem']}"
        rows.append((f"kube {name}", f"{value} (from {kube[name]['from']}{extra})"))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def cmd_info(args: argparse.Namespace) -> int:
    info = gather(args)
    print(json.dumps(info, indent=2) if args.json else render(info))
    return 0
