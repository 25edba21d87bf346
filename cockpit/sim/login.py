"""Logging in again to a running drill's cluster: ``clay-cockpit sim --login``.

In the ``kube-auth-expired`` drill the responder's cluster credentials
expire mid-incident, as an SSO session or a short-lived token does. A real
responder then runs their provider's login helper in another terminal
(``aws eks update-kubeconfig``, ``gcloud container clusters get-credentials``,
``kubectl oidc-login`` …), which puts fresh credentials in the kubeconfig;
the cockpit re-reads the kubeconfig after a 401, and ``g`` retries what failed.

The drill's login helper is this: it asks the drill (its control API, found
through ``DIR/drill.json``) for a new token, and the drill writes it into its
kubeconfig. The old token stays refused. Without ``--dir`` it logs in to the
newest drill of this user still running (a ``clay-cockpit demo``'s drill
lives in a temp dir the responder never sees). The kubeconfig names this
command in its user's ``clay-cockpit`` extension, so the cockpit's
re-login hint shows it.

Standard library only (urllib): it runs while a drill is in trouble.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

DRILL_FILE = "drill.json"
DIR_PREFIX = "clay-drill-"  # what `demo` and `sim` use for their temp dirs


class LoginError(Exception):
    """Why no login happened (one line)."""


def login_command(workdir: Path) -> str:
    """The command a responder runs to log in to the drill in ``workdir`` again."""
    installed = Path(sys.executable).parent / "clay-cockpit"
    if installed.exists():
        program = "clay-cockpit" if shutil.which("clay-cockpit") == str(installed) else shlex.quote(str(installed))
    else:  # no script beside the interpreter (a --user install): the same CLI through it,
        # with -P so that a cockpit/ folder where it is typed is not imported instead
        program = f"{shlex.quote(sys.executable)} -P -m clay_cockpit.cli"
    return f"{program} sim --login --dir {shlex.quote(str(workdir))}"


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: not our drill
        return False
    return True


def _read(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise LoginError(f"cannot read {path}: {getattr(err, 'strerror', None) or err}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("control"), str):
        raise LoginError(f"{path} does not say where the drill's control API listens")
    return doc


def find_drill(directory: str | None) -> tuple[Path, dict[str, Any]]:
    """The drill to log in to: the one in ``directory``, else this user's newest running one."""
    if directory:
        path = Path(directory) / DRILL_FILE
        if not path.is_file():
            raise LoginError(f"no drill in {directory} (no {DRILL_FILE}): give the --dir the drill was started with")
        return path, _read(path)
    found = []
    for path in Path(tempfile.gettempdir()).glob(f"{DIR_PREFIX}*/{DRILL_FILE}"):
        try:
            if path.stat().st_uid != os.getuid():
                continue
            doc = _read(path)
        except (OSError, LoginError):
            continue
        if _alive(doc.get("pid")):
            found.append((path.stat().st_mtime, path, doc))
    if not found:
        raise LoginError(f"no running drill of yours in {tempfile.gettempdir()}: start one (clay-cockpit demo), or give --dir DIR")
    _, path, doc = max(found, key=lambda item: item[0])
    return path, doc


def login(directory: str | None, timeout: float = 5.0) -> str:
    """Log in again; the line to print."""
    path, doc = find_drill(directory)
    request = urllib.request.Request(
        doc["control"].rstrip("/") + "/_sim/kube/login", data=b"{}", method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            answer = json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        raise LoginError(f"the drill in {path.parent} refused the login: HTTP {err.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", None) or err
        raise LoginError(f"the drill in {path.parent} does not answer ({reason}): is it still running?") from None
    kubeconfig = answer.get("kubeconfig") or doc.get("kubeconfig") or "its kubeconfig"
    context = answer.get("context") or doc.get("context") or "the drill's context"
    return (
        f"logged in to {context} again (drill {doc.get('scenario', '?')}): a new token is in {kubeconfig}; "
        "the cockpit reads it at its next request — press g there to retry what failed"
    )
