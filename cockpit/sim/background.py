"""A whole drill in a daemon thread, for tests: :func:`start_background`
starts it on its own event loop and returns a :class:`SimHandle`, whose
methods talk to the drill's control API over HTTP with the standard library
(:class:`SimError` when it refuses).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import ssl
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clay_cockpit.sim import wiring
from clay_cockpit.sim.scenario import Scenario, load_scenario
from clay_cockpit.sim.server import Drill, Tokens


class SimError(Exception):
    """The control API refused a request (the message says why)."""


@dataclass
class SimHandle:
    endpoints: dict[str, str]
    kubeconfig: Path
    token: str
    tokens: Tokens
    workdir: Path
    scenario: Scenario
    speed: float
    kube_ca: str = ""  # PEM of the CA that signed the drill's Kubernetes API certificate
    context: str = wiring.CONTEXT
    _thread: threading.Thread | None = field(default=None, repr=False)
    _loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)
    _drill: Drill | None = field(default=None, repr=False)

    def _call(self, method: str, path: str, body: Any = None, timeout: float = 10.0) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.endpoints["control"] + path, data=data, method=method, headers={"Content-Type": "application/json"} if data else {}
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            detail = err.read().decode("utf-8", "replace")[:300]
            raise SimError(f"{method} {path}: HTTP {err.code}: {detail}") from None

    def config_dict(self) -> dict[str, Any]:
        return wiring.drill_config(self.endpoints, self.kubeconfig, refresh_scale=min(1.0, 1.0 / self.speed))

    def env(self) -> dict[str, str]:
        return self.tokens.env()

    def kube_ssl(self) -> ssl.SSLContext:
        """An SSL context that trusts the drill's Kubernetes API (for httpx ``verify=``)."""
        return ssl.create_default_context(cadata=self.kube_ca)

    @property
    def ca_file(self) -> Path:
        """The drill's CA (PEM) for its HTTPS services: the Kubernetes API and PagerDuty."""
        return self.kubeconfig.parent / wiring.DRILL_CA_FILE

    def pagerduty(self, action: str = "", **query: Any) -> Any:
        """No action: the PagerDuty sim's state (incidents, notes, log entries, events received);
        else POST revoke_token, restore, or slow (seconds=N)."""
        if not action:
            return self._call("GET", "/_sim/pagerduty")
        qs = "&".join(f"{k}={v}" for k, v in query.items())
        return self._call("POST", f"/_sim/pagerduty/{action}" + (f"?{qs}" if qs else ""))

    def grafana(self, action: str = "") -> Any:
        """No action: the Grafana sim's state (annotations received); else POST revoke_token or restore."""
        return self._call("GET", "/_sim/grafana") if not action else self._call("POST", f"/_sim/grafana/{action}")

    def state(self) -> dict[str, Any]:
        answer: dict[str, Any] = self._call("GET", "/_sim/state")
        return answer

    def stop_service(self, name: str) -> None:
        self._call("POST", f"/_sim/services/{name}/stop")

    def start_service(self, name: str) -> None:
        self._call("POST", f"/_sim/services/{name}/start")

    def fault(self, name: str, **kw: Any) -> None:
        self._call("POST", f"/_sim/services/{name}/fault", kw)

    def clear_fault(self, name: str) -> None:
        self._call("DELETE", f"/_sim/services/{name}/fault")

    def requests(self, service: str | None = None) -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = self._call("GET", "/_sim/requests" + (f"?service={service}" if service else ""))
        return answer

    def advance(self, seconds: float) -> dict[str, Any]:
        answer: dict[str, Any] = self._call("POST", "/_sim/clock", {"advance": seconds}, timeout=60.0)
        return answer

    def freeze(self, frozen: bool = True) -> dict[str, Any]:
        answer: dict[str, Any] = self._call("POST", "/_sim/clock", {"freeze": frozen})
        return answer

    def kube(self, action: str, **body: Any) -> Any:
        """deny / allow (verb=, resource=, optional name=, group=, namespace=), allow_all, expire_token,
        renew_token, login (a new token in the kubeconfig)."""
        answer = self._call("POST", f"/_sim/kube/{action}", body or None)
        if action == "login" and self._drill is not None:
            self.token = self._drill.tokens.kube
        return answer

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(15)


def _cancel_remaining(loop: asyncio.AbstractEventLoop) -> None:
    """Finish what asyncio.run would: cancel handlers still running (log
    follows, watches) and wait for them, so none is destroyed pending."""
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())


def start_background(
    scenario: str | Path | Scenario = "healthy",
    *,
    speed: float = 1.0,
    seed: int | None = None,
    freeze_at: float | None = None,
    workdir: str | Path | None = None,
    cluster_factory: Callable[..., Any] | None = None,
    timeout: float = 30.0,
) -> SimHandle:
    """Run a whole drill in a daemon thread; return once every service listens."""
    spec = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    seed = secrets.randbits(32) if seed is None else seed
    workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="clay-drill-"))
    tokens = Tokens.from_env({})
    box: dict[str, Any] = {}
    ready = threading.Event()

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        box["loop"] = loop
        drill: Drill | None = None
        try:
            drill = Drill(spec, speed=speed, seed=seed, freeze_at=freeze_at, tokens=tokens, cluster_factory=cluster_factory)
            loop.run_until_complete(drill.start())
            box["drill"] = drill
            box["kubeconfig"] = drill.write_files(workdir)[0]
        except BaseException as err:  # handed to the caller's thread below
            box["error"] = err
            if drill is not None:
                loop.run_until_complete(drill.close())  # release whatever listeners did open
            ready.set()
            loop.close()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(drill.close())
            _cancel_remaining(loop)
            loop.close()

    thread = threading.Thread(target=run, name=f"clay-drill-{spec.name}", daemon=True)
    thread.start()
    if not ready.wait(timeout):
        raise TimeoutError(f"the drill did not start within {timeout:g} s")
    if "error" in box:
        raise box["error"]
    drill: Drill = box["drill"]
    return SimHandle(
        drill.endpoints,
        box["kubeconfig"],
        tokens.kube,
        tokens,
        workdir,
        spec,
        speed,
        kube_ca=drill.world.kube.tls().ca_pem,
        _thread=thread,
        _loop=box["loop"],
        _drill=drill,
    )
