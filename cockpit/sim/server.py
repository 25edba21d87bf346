"""Build and run a drill: every service on its own loopback port.

- :class:`Drill` — the world plus one aiohttp runner per service; a service
  can be stopped for real (listener closed, open connections dropped:
  connection refused) and started again on the same port.
- :func:`~clay_cockpit.sim.background.start_background` (in
  :mod:`clay_cockpit.sim.background`) — the whole drill on an event loop in a
  daemon thread, for tests; returns a ``SimHandle`` whose methods talk to the
  control API over HTTP with the standard library.
- :func:`main` — ``python -m clay_cockpit.sim`` (what ``clay-cockpit demo``
  starts, with ``--listen-fds``); :func:`run_sim` — ``clay-cockpit sim``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import secrets
import signal
import socket
import ssl
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from clay_cockpit.paths import ConfigError
from clay_cockpit.sim import wiring
from clay_cockpit.sim.clock import SimClock
from clay_cockpit.sim.control import Fault, RequestLog, control_app, service_middlewares
from clay_cockpit.sim.grafana_api import GrafanaState, grafana_app
from clay_cockpit.sim.login import DRILL_FILE, LoginError, login, login_command
from clay_cockpit.sim.pagerduty_api import PagerDutyState, pagerduty_app
from clay_cockpit.sim.scenario import KubeTokenExpired, Scenario, load_scenario, with_log_rate
from clay_cockpit.sim.services import clay_app, health_app, metrics_app, prometheus_app, rootly_app, statuspage_app
from clay_cockpit.sim.slack_api import SlackState, slack_app
from clay_cockpit.sim.statusapi import StatusApiState, statusapi_app
from clay_cockpit.sim.world import World

log = logging.getLogger("clay_cockpit.sim")

KUBE_TOKEN_ENV = "CLAY_SIM_KUBE_TOKEN"  # the demo passes the kubeconfig's token this way
SLACK_TOKEN_ENV = "CLAY_DRILL_SLACK_TOKEN"  # wiring.drill_config's slack.token_env
STATUSPAGE_KEY_ENV = "CLAY_DRILL_STATUSPAGE_KEY"  # wiring.drill_config's external_status.token_env
PAGERDUTY_TOKEN_ENV = wiring.PD_TOKEN_ENV  # pagerduty.token_env
PAGERDUTY_ROUTING_KEY_ENV = wiring.PD_ROUTING_KEY_ENV  # pagerduty.escalation_routing_key_env
GRAFANA_TOKEN_ENV = wiring.GRAFANA_TOKEN_ENV  # grafana.token_env
TICK_SECONDS = 0.25
SLACK_CHANNELS = (
    ("C0INCDRILL", wiring.SLACK_CHANNEL.lstrip("#"), "Clay incidents (drill)"),
    ("C0GENERAL1", "general", "Company-wide announcements"),
)
OUR_COMPONENTS = tuple(zip(wiring.COMPONENT_IDS, ("Contact enrichment",) + tuple(f"Component {i}" for i in range(2, 10))))


def bind_loopback(port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    return sock


@dataclass
class _Service:
    name: str
    runner: web.AppRunner
    port: int
    sock: socket.socket | None  # the listener to use at the next open (inherited or pre-bound)
    site: web.BaseSite | None = None


@dataclass
class Tokens:
    kube: str
    slack: str
    statuspage: str
    pagerduty: str = ""
    pagerduty_routing_key: str = ""
    grafana: str = ""

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Tokens:
        env = dict(os.environ) if env is None else env
        return cls(
            kube=env.get(KUBE_TOKEN_ENV) or secrets.token_urlsafe(24),
            slack=env.get(SLACK_TOKEN_ENV) or "xoxb-drill-" + secrets.token_urlsafe(18),
            statuspage=env.get(STATUSPAGE_KEY_ENV) or secrets.token_urlsafe(24),
            pagerduty=env.get(PAGERDUTY_TOKEN_ENV) or "u+" + secrets.token_urlsafe(15),  # the shape of a PagerDuty user token
            pagerduty_routing_key=env.get(PAGERDUTY_ROUTING_KEY_ENV) or secrets.token_hex(16),  # 32 hex, as an integration key
            grafana=env.get(GRAFANA_TOKEN_ENV) or "glsa_" + secrets.token_urlsafe(24),
        )

    def env(self) -> dict[str, str]:
        """What a cockpit joining the drill needs in its environment (Slack, status page, PagerDuty, Grafana)."""
        return {
            SLACK_TOKEN_ENV: self.slack,
            STATUSPAGE_KEY_ENV: self.statuspage,
            PAGERDUTY_TOKEN_ENV: self.pagerduty,
            PAGERDUTY_ROUTING_KEY_ENV: self.pagerduty_routing_key,
            GRAFANA_TOKEN_ENV: self.grafana,
        }


class Drill:
    def __init__(
        self,
        scenario: Scenario,
        *,
        speed: float = 1.0,
        seed: int = 0,
        freeze_at: float | None = None,
        tokens: Tokens,
        listen: dict[str, socket.socket | int] | None = None,
        cluster_factory: Callable[..., Any] | None = None,
    ) -> None:
        self.scenario = scenario
        self.seed = seed
        self.tokens = tokens
        self.clock = SimClock(speed=speed, freeze_at=freeze_at)
        self.world = World(scenario, clock=self.clock, seed=seed, kube_token=tokens.kube, cluster_factory=cluster_factory)
        self.slack = SlackState(tokens.slack, self.clock.now, SLACK_CHANNELS)
        self.statusapi = StatusApiState(tokens.statuspage, self.clock.now, seed, wiring.PAGE_ID, OUR_COMPONENTS)
        self.pagerduty = PagerDutyState(tokens.pagerduty, tokens.pagerduty_routing_key, self.clock.now, self._page(scenario))
        self.grafana = GrafanaState(tokens.grafana, self.clock.now)
        self.requests = RequestLog(self.clock.now)
        self.faults: dict[str, Fault] = {}
        self.huge_sent: dict[str, int] = {}  # bytes of "huge" fault bodies handed to each service's socket
        self.services: dict[str, _Service] = {}
        self._listen = dict(listen or {})
        self._ticker: asyncio.Task[None] | None = None
        self._kube_ssl: ssl.SSLContext | None = None
        self._scheduled_down: set[str] = set()  # services a service_down fault stopped
        self.kubeconfig: Path | None = None  # written by write_files; a login rewrites it
        self.workdir: Path | None = None

    def _page(self, scenario: Scenario) -> tuple[str, float] | None:
        """The PagerDuty page the responder is woken by: at the incident's onset (the first fault that is
        not an obstacle; at once if there are only obstacles); none for a scenario without faults."""
        if not scenario.faults:
            return None
        return scenario.title, self.world.t0 + (scenario.fault_start() or 0.0)

    def _app(self, name: str) -> web.Application:
        w = self.world
        factories: dict[str, Callable[[], web.Application]] = {
            "statuspage": lambda: statuspage_app(w),
            "rootly": lambda: rootly_app(w),
            "health": lambda: health_app(w),
            "prometheus": lambda: prometheus_app(w, name="primary"),
            "prometheus_backup": lambda: prometheus_app(w, name="backup"),
            "metrics": lambda: metrics_app(w),
            "kube": lambda: w.kube.app(),
            "clay": lambda: clay_app(w),
            "slack": lambda: slack_app(self.slack),
            "statusapi": lambda: statusapi_app(self.statusapi),
            "pagerduty": lambda: pagerduty_app(self.pagerduty),
            "grafana": lambda: grafana_app(self.grafana),
            "control": lambda: control_app(self),
        }
        app = factories[name]()
        if name != "control":
            for i, mw in enumerate(service_middlewares(name, self)):
                app.middlewares.insert(i, mw)  # outermost: log, then faults, then the app's own
        return app

    async def start(self) -> None:
        for name in wiring.SERVICES:
            given = self._listen.get(name, 0)
            sock = given if isinstance(given, socket.socket) else bind_loopback(given)
            runner = web.AppRunner(self._app(name), access_log=None, handle_signals=False, shutdown_timeout=1.0)
            await runner.setup()
            self.services[name] = _Service(name, runner, sock.getsockname()[1], sock)
            await self._open(self.services[name])
        await self.follow_schedule()
        self._ticker = asyncio.get_running_loop().create_task(self._tick_forever())

    async def _open(self, svc: _Service) -> None:
        sock = svc.sock if svc.sock is not None else bind_loopback(svc.port)
        svc.sock = None
        ssl_context = None
        if svc.name in wiring.HTTPS_SERVICES:  # one certificate (127.0.0.1, localhost) from the drill's CA
            if self._kube_ssl is None:
                self._kube_ssl = self.world.kube.tls().server_context()
            ssl_context = self._kube_ssl
        site = web.SockSite(svc.runner, sock, ssl_context=ssl_context)
        await site.start()
        svc.site = site

    async def _tick_forever(self) -> None:
        while True:
            try:
                self.world.tick()
                await self.follow_schedule()
            except Exception:  # one bad tick must not stop the drill; say so loudly
                log.exception("drill tick failed")
            await asyncio.sleep(TICK_SECONDS)

    async def follow_schedule(self) -> None:
        """Stop the services a service_down fault wants down, and start them
        again when it ends. Only the fault's own transitions act: a service
        stopped or started through the control API meanwhile is left as it is."""
        wanted = self.world.services_down()
        for name in sorted(wanted - self._scheduled_down):
            self._scheduled_down.add(name)
            log.info("scenario: %s goes down", name)
            await self.stop_service(name)
        for name in sorted(self._scheduled_down - wanted):
            self._scheduled_down.discard(name)
            log.info("scenario: %s comes back", name)
            await self.start_service(name)

    def fault_at(self) -> float | None:
        """Wall-clock epoch when the incident's first fault starts (for a
        countdown); None on a frozen clock, without such a fault, or once it started."""
        start = self.scenario.fault_start()
        if start is None or self.clock.frozen:
            return None
        ahead = start - self.world.t()
        return None if ahead <= 0 else time.time() + ahead / self.clock.speed

    def login(self) -> dict[str, Any]:
        """The responder logs in again: a new token (the old one stays refused),
        written into the kubeconfig as a provider's login helper would."""
        token = secrets.token_urlsafe(24)
        self.world.kube.login(token)
        self.tokens.kube = token
        if self.kubeconfig is not None:
            self._write_kubeconfig(self.kubeconfig)
        return {"ok": True, "context": wiring.CONTEXT, "kubeconfig": str(self.kubeconfig) if self.kubeconfig else None}

    def _write_kubeconfig(self, path: Path) -> Path:
        # the login command in the kubeconfig (so the cockpit's re-login hint names it) when the scenario expires the
        # credentials; other drills keep a plain token user (`sim --login` works for them too)
        expires = any(isinstance(f, KubeTokenExpired) for f in self.scenario.faults)
        login = login_command(self.workdir) if self.workdir is not None and expires else None
        return wiring.write_kubeconfig(path, self.endpoints["kube"], self.tokens.kube, ca_data=self.world.kube.tls().ca_data, login=login)

    async def stop_service(self, name: str) -> None:
        svc = self.services[name]
        if svc.site is None:
            return
        await svc.site.stop()
        svc.site = None
        server = svc.runner.server
        for conn in server.connections if server is not None else ():
            conn.force_close()  # a stopped service drops keep-alive connections and open watches too

    async def start_service(self, name: str) -> None:
        svc = self.services[name]
        if svc.site is None:
            await self._open(svc)

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            try:
                await self._ticker
            except asyncio.CancelledError:
                pass
        for svc in self.services.values():
            server = svc.runner.server
            for conn in server.connections if server is not None else ():
                conn.force_close()
            await svc.runner.cleanup()
            if svc.sock is not None:
                svc.sock.close()

    @property
    def endpoints(self) -> dict[str, str]:
        """service → base URL; the Kubernetes API is HTTPS (kubectl sends no token over plain HTTP)."""
        out = {name: wiring.url(svc.port) for name, svc in self.services.items()}
        for name in wiring.HTTPS_SERVICES:
            if name in out:
                out[name] = wiring.https(out[name])
        return out

    def state(self) -> dict[str, Any]:
        now = self.clock.now()
        return {
            "scenario": self.scenario.name,
            "t": round(self.world.t(now), 3),
            "now": round(now, 3),
            "speed": self.clock.speed,
            "frozen": self.clock.frozen,
            "faults": self.world.fault_states(now),
            "flags": self.world.flags(),
            "key_valid": self.world.secret_key_valid(),
            "services": {name: "up" if svc.site is not None else "down" for name, svc in self.services.items()},
            "kube_token": "expired" if self.world.kube.token_expired else "ok",
            "kube_denied": [d.to_dict() for d in self.world.kube.rbac.denials],
            "kube_logs_stalled": self.world.kube.logs_stalled,
            "seed": self.seed,
            "slack_messages": self.slack.message_count(),
            "statusapi_incidents": len(self.statusapi.incidents),
            "pagerduty_incidents": len(self.pagerduty.incidents),
            "grafana_annotations": len(self.grafana.annotations),
            "huge_sent": dict(self.huge_sent),
        }

    def write_files(self, workdir: Path, kubeconfig: Path | None = None) -> tuple[Path, Path, Path]:
        """The kubeconfig, a cockpit config pointing at this drill and the env file with its tokens."""
        import tomli_w

        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.kubeconfig = kubeconfig = self._write_kubeconfig(kubeconfig or workdir / "kubeconfig")
        # the CA of the HTTPS services, beside the kubeconfig (drill_config's pagerduty.ca_file names it there)
        (kubeconfig.parent / wiring.DRILL_CA_FILE).write_text(self.world.kube.tls().ca_pem, encoding="utf-8")
        config = workdir / "cockpit.toml"
        data = wiring.drill_config(self.endpoints, kubeconfig, refresh_scale=min(1.0, 1.0 / self.clock.speed))
        config.write_text(tomli_w.dumps(data), encoding="utf-8")
        env_file = workdir / "drill.env"
        fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.writelines(f"{k}={v}\n" for k, v in self.tokens.env().items())
        where = {
            "control": self.endpoints["control"],
            "pid": os.getpid(),
            "scenario": self.scenario.name,
            "kubeconfig": str(kubeconfig),
            "context": wiring.CONTEXT,
        }
        (workdir / DRILL_FILE).write_text(json.dumps(where) + "\n", encoding="utf-8")
        return kubeconfig, config, env_file


# ---------------------------------------------------------------------------
# Command line


def add_sim_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scenario", default="clay-outage", help="scenario name or TOML file (default: clay-outage)")
    from clay_cockpit.cli_common import LOG_RATE, LOG_RATE_HELP, SEED, SPEED, number_arg

    parser.add_argument("--speed", type=SPEED, default=1.0, help="run the drill clock this many times faster (0.01 to 1000)")
    parser.add_argument("--seed", type=SEED, default=None, help="random seed, for a repeatable drill")
    parser.add_argument("--log-rate", type=LOG_RATE, default=None, metavar="N", help=LOG_RATE_HELP)
    parser.add_argument(
        "--freeze-at",
        type=number_arg(0, 2**32),
        default=None,
        metavar="EPOCH",
        help="freeze the drill clock at this epoch second (it moves only through the control API)",
    )
    parser.add_argument("--dir", default=None, metavar="DIR", help="where to write the kubeconfig and cockpit config (default: a temp dir)")
    parser.add_argument(
        "--port",
        type=number_arg(1, 65535 - len(wiring.SERVICES), integer=True),
        default=None,
        metavar="BASE",
        help="listen on BASE, BASE+1, ... (default: free ports)",
    )
    parser.add_argument(
        "--login",
        action="store_true",
        help="log in again to a running drill's cluster (a new token in its kubeconfig), as a login helper "
        "would after the credentials expired; with --dir DIR that drill, else your newest running one",
    )


def _listen_plan(args: argparse.Namespace) -> dict[str, socket.socket | int]:
    plan: dict[str, socket.socket | int] = {}
    if getattr(args, "listen_fds", None):
        for part in args.listen_fds.split(","):
            name, _, fd = part.partition("=")
            if name not in wiring.SERVICES or not fd.isdigit():
                raise ConfigError("--listen-fds", name or part, "name=fd pairs for " + ", ".join(wiring.SERVICES), repr(part))
            plan[name] = socket.socket(fileno=int(fd))
    if args.port is not None:
        for i, name in enumerate(wiring.SERVICES):
            plan.setdefault(name, args.port + i)
    return plan


async def _serve(
    args: argparse.Namespace, spec: Scenario, on_ready: Callable[[Drill, tuple[Path, Path, Path]], None], parent: int | None
) -> int:
    """Serve until SIGTERM/SIGINT, or until ``parent`` (a pid) is no longer our parent."""
    seed = args.seed if args.seed is not None else secrets.randbits(32)
    drill = Drill(spec, speed=args.speed, seed=seed, freeze_at=args.freeze_at, tokens=Tokens.from_env(), listen=_listen_plan(args))
    await drill.start()
    workdir = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="clay-drill-"))
    kubeconfig = Path(args.kubeconfig) if getattr(args, "kubeconfig", None) else None
    files = drill.write_files(workdir, kubeconfig)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def parent_watch() -> None:
        while not stop.is_set():
            if os.getppid() != parent:
                log.warning("parent process %d is gone; stopping the drill", parent)
                stop.set()
            await asyncio.sleep(1.0)

    watcher = loop.create_task(parent_watch()) if parent is not None else None
    on_ready(drill, files)
    try:
        await stop.wait()
    finally:
        if watcher is not None:
            watcher.cancel()
        await drill.close()
    return 0


def _load(args: argparse.Namespace) -> Scenario | None:
    try:
        return with_log_rate(load_scenario(args.scenario), getattr(args, "log_rate", None))
    except ConfigError as err:
        print(f"clay-cockpit sim: {err}", file=sys.stderr)
        return None


def main(argv: list[str] | None = None, parent: int | None = None) -> int:
    """``python -m clay_cockpit.sim``: one JSON line on stdout when serving, then logs on stderr only.

    Exits on SIGTERM/SIGINT, and on its own when ``parent`` (default: the
    parent pid now) stops being its parent.
    """
    parent = os.getppid() if parent is None else parent
    parser = argparse.ArgumentParser(prog="python -m clay_cockpit.sim", description="The clay-cockpit drill environment")
    add_sim_arguments(parser)
    parser.add_argument("--listen-fds", default=None, metavar="NAME=FD,...", help="serve on these inherited listening sockets")
    parser.add_argument("--kubeconfig", default=None, metavar="PATH", help="write the kubeconfig here (default: DIR/kubeconfig)")
    parser.add_argument(
        "--announce",
        action="store_true",
        help="first print the validated scenario's name and title as one JSON line (see cockpit/sim/__main__.py)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    spec = _load(args)
    if spec is None:
        return 2

    def ready(drill: Drill, files: tuple[Path, Path, Path]) -> None:
        line = {
            "ready": True,
            "endpoints": drill.endpoints,
            "kubeconfig": str(files[0]),
            "config": str(files[1]),
            "env_file": str(files[2]),
            "scenario": spec.name,
            "pid": os.getpid(),
            "fault_at": drill.fault_at(),
        }
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()
        log.info("drill %s serving (speed %g)", spec.name, drill.clock.speed)

    try:
        return asyncio.run(_serve(args, spec, ready, parent))
    except ConfigError as err:
        print(f"python -m clay_cockpit.sim: {err}", file=sys.stderr)
        return 2


def run_sim(args: argparse.Namespace) -> int:
    """``clay-cockpit sim``: print where everything is, then run until Ctrl-C.
    With ``--login``: log in again to a running drill (see clay_cockpit.sim.login)."""
    if getattr(args, "login", False):
        try:
            print(login(args.dir))
        except LoginError as err:
            print(f"clay-cockpit sim --login: {err}", file=sys.stderr)
            return 1
        return 0
    spec = _load(args)
    if spec is None:
        return 2

    def ready(drill: Drill, files: tuple[Path, Path, Path]) -> None:
        kubeconfig, config, env_file = files
        out = [
            f"clay-cockpit drill: {spec.title} (scenario {spec.name}, speed {drill.clock.speed:g}, seed {drill.seed})",
            f"  {spec.summary}",
            "",
        ]
        out += [f"  {name:<18} {url}" for name, url in drill.endpoints.items()]
        out += ["", f"kubeconfig: {kubeconfig}", f"  kubectl --kubeconfig {kubeconfig} get pods", ""]
        if any(isinstance(f, KubeTokenExpired) for f in spec.faults):
            out += ["when the cluster credentials expire, log in again:", f"  {login_command(drill.workdir or kubeconfig.parent)}", ""]
        out += ["join it with a second cockpit:", f"  env $(cat {env_file}) clay-cockpit --config {config}", "", "Ctrl-C stops the drill."]
        print("\n".join(out), flush=True)

    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(_serve(args, spec, ready, None))
    except OSError as err:
        print(f"clay-cockpit sim: cannot listen: {err.strerror or err}", file=sys.stderr)
        return 1
