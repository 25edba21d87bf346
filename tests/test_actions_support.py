"""Helpers for the actions tests (no tests here): a cockpit's runner, sources
and incident store on one drill, a log follower like the app's, and a second
Kubernetes client standing for "someone else" changing the cluster.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from clay_cockpit.actions.flow import ActionRunner
from clay_cockpit.config import ActionsConfig, Config, config_from_toml
from clay_cockpit.incident.lifecycle import IncidentStore
from clay_cockpit.incident.timeline import read
from clay_cockpit.runbook import Severity
from clay_cockpit.signals import HealthSnapshot, LogLine, MetricsSnapshot
from clay_cockpit.sources import Sources
from clay_cockpit.sources.kube_incident import FIELD_MANAGER as INCIDENT_MANAGER

FROZEN_AT = 1_767_225_600.0
STEP = 2.0  # drill seconds a runner's "sleep" plays out while it follows an effect


def drill_config(sim, **kube_changes: Any) -> Config:
    cfg = config_from_toml(sim.config_dict(), "drill.toml")
    flags = kube_changes.pop("flags", None)
    secret = kube_changes.pop("secret", None)
    kube = replace(cfg.kube, **kube_changes)
    if flags:
        kube = replace(kube, flags=replace(kube.flags, **flags))
    if secret:
        kube = replace(kube, secret=replace(kube.secret, **secret))
    return replace(cfg, kube=kube)


def with_actions(cfg: Config, **changes: Any) -> Config:
    return replace(cfg, actions=replace(cfg.actions, **changes))


def make_runner(
    sim,
    cfg: Config | None = None,
    *,
    store: IncidentStore | None = None,
    actor: str = "ana@bastion-1",
    advance: float | None = STEP,
    **kw: Any,
) -> ActionRunner:
    """A runner whose waits between looks play the drill clock forward by ``advance`` seconds."""
    sleep = (lambda _s: sim.advance(advance)) if advance else (lambda _s: time.sleep(0.05))
    cfg = cfg or drill_config(sim)
    if cfg.actions.rollout_timeout == ActionsConfig().rollout_timeout:  # a rollout that cannot finish fails in 60 s, not 300
        cfg = with_actions(cfg, rollout_timeout=60.0, verify_timeout=30.0)
    return ActionRunner(cfg, store=store, actor=actor, sleep=sleep, poll=0.05, **kw)


def incident(tmp_path: Path, actor: str = "ana@bastion-1") -> IncidentStore:
    store = IncidentStore(tmp_path / "state", actor=actor)
    store.declare(Severity.P1)
    return store


def timeline_text(store: IncidentStore) -> str:
    assert store.timeline is not None
    return store.timeline.path.read_text(encoding="utf-8")


def timeline_events(store: IncidentStore) -> list:
    assert store.timeline is not None
    return list(read(store.timeline.path).events)


def remediation_writes(sim) -> list[dict]:
    """The mutating requests the drill's Kubernetes API received, but the shared incident's own
    (issue 17: its ConfigMaps and presence Leases, fieldManager clay-cockpit-incident): what an action wrote."""
    return [r for r in sim.requests("kube") if r["mutating"] and r["field_manager"] != INCIDENT_MANAGER]


def kube_writes(sim, *, real_only: bool = False) -> list[dict]:
    """The mutating requests the drill's Kubernetes API received (``real_only``: not dry runs)."""
    out = remediation_writes(sim)
    return [r for r in out if "dryRun=All" not in r["query"]] if real_only else out


class Someone:
    """Another actor on the cluster (a colleague with kubectl), with its own official client."""

    def __init__(self, sim) -> None:
        from kubernetes import client, config

        self.api_client = config.new_client_from_config(config_file=str(sim.kubeconfig), context=sim.context, persist_config=False)
        self.apps = client.AppsV1Api(self.api_client)
        self.core = client.CoreV1Api(self.api_client)

    def pause(self, paused: bool = True) -> None:
        self.apps.patch_namespaced_deployment("clay-sync", "clay-sync", {"spec": {"paused": paused}}, _request_timeout=5)

    def touch_secret(self) -> None:
        self.core.patch_namespaced_secret("clay-api", "clay-sync", {"metadata": {"labels": {"touched": "yes"}}}, _request_timeout=5)

    def pod_names(self) -> set[str]:
        pods = self.core.list_namespaced_pod("clay-sync", label_selector="app=clay-sync", _request_timeout=5)
        return {p.metadata.name for p in pods.items if p.metadata.deletion_timestamp is None}

    def pod_log(self, name: str) -> str:
        return self.core.read_namespaced_pod_log(name, "clay-sync", _request_timeout=5)

    def close(self) -> None:
        self.api_client.close()


@dataclass
class Watch:
    """The cockpit's sources on a drill, plus a merged log follower as the app runs it."""

    sim: Any
    sources: Sources
    logs: deque = field(default_factory=lambda: deque(maxlen=300))
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self) -> Watch:
        def on_batch(batch: tuple[LogLine, ...]) -> None:
            with self.lock:
                self.logs.extend(batch)

        self.thread = threading.Thread(target=self.sources.kube.follow_logs, args=(on_batch, lambda _e: None, self.stop, 0.05), daemon=True)
        self.thread.start()
        return self

    def close(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(10)

    def recent(self, settle: float = 0.3) -> tuple[LogLine, ...]:
        time.sleep(settle)  # let the follower deliver what the last advance logged
        with self.lock:
            return tuple(self.logs)

    def wait_for(self, text: str, pods: set[str] | None = None, timeout: float = 8.0) -> list[LogLine]:
        """Lines containing ``text`` (from ``pods``), waiting up to ``timeout`` real seconds for the follower."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                got = [ln for ln in self.logs if text in ln.text and (pods is None or ln.pod in pods)]
            if got or time.monotonic() > deadline:
                return got
            time.sleep(0.1)

    def health(self) -> HealthSnapshot:
        got = asyncio.run(self.sources.health.fetch())
        assert isinstance(got, HealthSnapshot), got
        return got

    def metrics(self) -> MetricsSnapshot:
        got = self.sources.metrics.fetch()
        assert isinstance(got, MetricsSnapshot), got
        return got

    def rate(self, code: str) -> float:
        """Clay calls per second with this status code (the errors_by_code series)."""
        for s in self.metrics().by_query("errors_by_code"):
            if s.label_value("code") == code:
                return s.current or 0.0
        return 0.0


def watch(sim, cfg: Config) -> Watch:
    """The sources on ``cfg``, pods re-listed every 0.3 s (new pods join the log follow quickly)."""
    return Watch(sim, Sources(replace(cfg, kube=replace(cfg.kube, refresh=0.3)))).start()


def no_secret_in(secret: str, *things: object) -> None:
    for thing in things:
        text = thing if isinstance(thing, str) else repr(thing)
        assert secret not in text, f"the key leaked into {text[:200]}"
        assert json.dumps(secret)[1:-1] not in text
