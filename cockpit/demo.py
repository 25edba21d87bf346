"""`clay-cockpit demo`: a drill environment in a child process, and the
cockpit against it through the same code paths as production.

The parent binds every service's loopback socket itself and hands them to
the child (``python -P -m clay_cockpit.sim --listen-fds``), so it knows every URL at
once and paints the first frame while the simulator is still starting. ``-P``
keeps the working directory off the child's ``sys.path``: a folder named like
our package where the responder happens to stand is never imported in place
of the installed one. The child is started first thing and validates the
scenario while the parent imports Textual (``--announce``); the parent reads
its verdict before it takes the screen, so a bad scenario is still one line
and exit 2.
Requests made before the child serves wait in the listen backlog (every
source has a timeout). The child makes the Kubernetes API's throwaway TLS
certificate and writes the kubeconfig that trusts it; the kube source is
built (in a worker) only once the child says it is ready. Quitting the
cockpit stops the child; a child that dies is reported in the cockpit, not
hung on.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clay_cockpit.paths import ConfigError
from clay_cockpit.sim import wiring
from clay_cockpit.sources import KubeSource, Sources

if TYPE_CHECKING:
    from clay_cockpit.config import Config

# The drill's throwaway credentials travel in the environment, never in argv.
TOKEN_ENVS = (
    "CLAY_SIM_KUBE_TOKEN",
    "CLAY_DRILL_SLACK_TOKEN",
    "CLAY_DRILL_STATUSPAGE_KEY",
    "CLAY_DRILL_PAGERDUTY_TOKEN",  # (issue 16) the sim accepts these, the cockpit sends them
    "CLAY_DRILL_PAGERDUTY_ROUTING_KEY",
    "CLAY_DRILL_GRAFANA_TOKEN",
)


def drill_tokens() -> dict[str, str]:
    """This drill's tokens: made once per process, shared with the child and
    with the cockpit's own adapters (which read them by name from the config)."""
    for name in TOKEN_ENVS:
        if not os.environ.get(name):
            # secrets.token_urlsafe(24) without its import (hmac, hashlib: ~6 ms before the first frame)
            os.environ[name] = base64.urlsafe_b64encode(os.urandom(24)).rstrip(b"=").decode("ascii")
    return {name: os.environ[name] for name in TOKEN_ENVS}


class Drill:
    """A running drill child process, as the cockpit sees it. (A plain class:
    this module loads before the first frame, ``dataclasses`` does not need to.)"""

    def __init__(self, scenario: str, workdir: Path, process: subprocess.Popen[bytes], endpoints: dict[str, str], kubeconfig: Path) -> None:
        self.scenario = scenario  # as asked for, until the child names it (wait_scenario)
        self.title = scenario
        self.workdir = workdir
        self.process = process
        self.endpoints = endpoints
        self.kubeconfig = kubeconfig
        self._ready: dict[str, Any] | None = None  # the child's ready line, once read

    def ready_line(self) -> dict[str, Any] | None:
        """The child's ``{"ready": true, ...}`` line once it serves, else None. Never blocks."""
        if self._ready is None:
            try:
                data = (self.workdir / "sim.out").read_bytes()
            except OSError:
                return None
            for line in data.splitlines():
                if line.startswith(b"{") and b'"ready": true' in line:
                    try:
                        parsed = json.loads(line)
                    except ValueError:
                        parsed = {}
                    self._ready = parsed if isinstance(parsed, dict) else {}
                    break
        return self._ready

    def fault_at(self) -> float | None:
        """Wall-clock epoch (``time.time()``) when the drill's fault starts,
        from the child's ready line: None before it serves, on a scenario
        without a fault, or when the fault had started by then. Never blocks."""
        at = (self.ready_line() or {}).get("fault_at")
        return float(at) if isinstance(at, (int, float)) and not isinstance(at, bool) else None

    def poll(self) -> str | None:
        """A message once the simulator has died, else None. Never blocks."""
        code = self.process.poll()
        if code is None:
            return None
        last = _last_line(self.workdir / "sim.log")
        why = f": {last}" if last else ""
        return f"drill environment exited (code {code}){why} — its services are gone; quit and start the demo again"

    def wait_scenario(self, timeout: float = 30.0) -> None:
        """Block until the child has validated the scenario (it does so first
        thing, so this is normally answered already): sets ``scenario`` and
        ``title``. Raises ConfigError for a bad scenario, DrillFailed if the
        child died or said nothing in time."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                first = (self.workdir / "sim.out").read_bytes().partition(b"\n")
            except FileNotFoundError:
                first = (b"", b"", b"")
            if first[1]:  # a whole line
                try:
                    verdict = json.loads(first[0])
                except ValueError:
                    raise DrillFailed(f"the drill environment's first line is not JSON: {first[0][:120]!r}") from None
                if "error" in verdict:
                    raise ConfigError(**verdict["error"])
                self.scenario, self.title = verdict["scenario"], verdict["title"]
                return
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise DrillFailed(self.poll() or f"the drill environment did not check its scenario within {timeout:g} s")
            time.sleep(0.01)

    def wait_ready(self, timeout: float = 20.0) -> bool:
        """Block (in a worker, never the UI) until the child serves, dies or times out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                if b'"ready": true' in (self.workdir / "sim.out").read_bytes():
                    return True
            except FileNotFoundError:
                return False
            time.sleep(0.05)
        return False

    def stop(self, timeout: float = 3.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)


def _last_line(path: Path) -> str:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 2048))
            lines = f.read().decode("utf-8", "replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1][:200] if lines else ""


class DrillFailed(Exception):
    """The drill child died or hung before the cockpit started."""


class DrillSources(Sources):
    """The production sources, except that the kube source waits for the
    child's kubeconfig (the property is only touched from workers)."""

    def __init__(self, config: Config, drill: Drill) -> None:
        super().__init__(config)
        self.drill = drill

    @property
    def kube(self) -> KubeSource:
        self.drill.wait_ready()  # on failure the source reports the missing kubeconfig itself
        return super().kube


def bind_loopback() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


def start_drill(
    scenario: str, *, speed: float = 1.0, seed: int | None = None, workdir: Path | None = None, log_rate: int | None = None
) -> Drill:
    """Bind the sockets and start the child, which validates the scenario
    (:meth:`Drill.wait_scenario`) and writes the kubeconfig."""
    workdir = workdir or Path(tempfile.mkdtemp(prefix="clay-drill-"))
    workdir.mkdir(parents=True, exist_ok=True)
    socks = {name: bind_loopback() for name in wiring.SERVICES}
    try:
        endpoints = {name: wiring.url(s.getsockname()[1]) for name, s in socks.items()}
        for name in wiring.HTTPS_SERVICES:
            endpoints[name] = wiring.https(endpoints[name])  # the child serves them with TLS
        kubeconfig = workdir / "kubeconfig"  # written by the child, with its certificate
        fds = ",".join(f"{name}={s.fileno()}" for name, s in socks.items())
        cmd = [
            sys.executable,
            "-P",
            "-m",
            "clay_cockpit.sim",  # -P: nothing imported from the cwd (module docstring)
            "--listen-fds",
            fds,
            "--scenario",
            scenario,
            "--speed",
            repr(speed),
            "--dir",
            str(workdir),
            "--kubeconfig",
            str(kubeconfig),
            "--announce",
        ]
        if seed is not None:
            cmd += ["--seed", str(seed)]
        if log_rate is not None:
            cmd += ["--log-rate", str(log_rate)]
        env = {**os.environ, **drill_tokens()}
        with open(workdir / "sim.log", "ab") as log, open(workdir / "sim.out", "ab") as out:
            process = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=log,
                env=env,
                pass_fds=[s.fileno() for s in socks.values()],
                start_new_session=True,  # Ctrl-C in the cockpit is the cockpit's, not the child's
            )
    finally:
        for s in socks.values():
            s.close()  # the child holds its own copies
    return Drill(scenario, workdir, process, endpoints, kubeconfig)


def cmd_demo(args: argparse.Namespace) -> int:
    if args.list:
        from clay_cockpit.sim.scenario import load_scenario, scenario_names

        for name in scenario_names():
            print(f"{name:<18} {load_scenario(name).title}")
        return 0
    from clay_cockpit.cli_common import fail, no_terminal

    if args.save and not args.from_incident:
        return fail("--save goes with --from-incident (it keeps the scenario derived from the incident)")
    if args.from_incident:  # before the terminal check: --save works without a screen
        from clay_cockpit.replay import ReplayError, scenario_file

        try:
            args.scenario = str(scenario_file(args.from_incident, args.save))
        except ReplayError as err:
            return fail(str(err))
    if why := no_terminal():  # before the drill child: nothing to start without a screen
        return fail(why)
    drill = start_drill(args.scenario, speed=args.speed, seed=args.seed, log_rate=args.log_rate)  # first: it checks the scenario meanwhile
    clean = False
    try:
        from clay_cockpit.cli_common import log_to_file, with_user_ui
        from clay_cockpit.config import config_from_toml
        from clay_cockpit.config_target import read_only

        log_to_file()
        data = wiring.drill_config(drill.endpoints, drill.kubeconfig, refresh_scale=1.0 / args.speed)
        config = with_user_ui(config_from_toml(data, f"drill config for {args.scenario}"))  # your theme and keys
        if args.read_only:
            config = read_only(config)
        from clay_cockpit.app import make_app

        try:
            drill.wait_scenario()
        except ConfigError:
            clean = True  # nothing ran: no files to keep
            raise
        except DrillFailed as err:
            print(f"clay-cockpit: {err}", file=sys.stderr)
            return 1
        app = make_app(config, DrillSources(config, drill), title=f"drill: {drill.title}", drill=drill, speed=args.speed)
        app.run()
        code = app.return_code or 0
        clean = drill.process.poll() is None
        return code
    finally:
        drill.stop()
        if clean:
            shutil.rmtree(drill.workdir, ignore_errors=True)
        else:
            kept = f"the drill's files are in {drill.workdir} (see sim.log)"
            try:
                print(f"clay-cockpit: {kept}", file=sys.stderr)
            except OSError as err:  # the terminal is gone (a hangup): say it in the log file
                logging.getLogger(__name__).warning("%s (the terminal is gone: %s)", kept, err.strerror or err)
