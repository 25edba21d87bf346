"""The drill's simulation: a scenario on a clock, driving our pods' Clay
calls, metrics, logs, health and Clay's status page.

:meth:`World.tick` runs on the event loop (a few times a second) and
whenever the frozen clock is advanced: it lets the Kubernetes model move
(rollouts, restarts, back-off), then steps the traffic model one sim second
at a time up to now, so the result depends only on the seed and the clock —
not on how often ticks happen.

At start it backfills 15 minutes of healthy history (metrics and a few log
lines per pod), so sparklines and logs are full at once, frozen clock too.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from clay_cockpit.sim.clay_status import ClayStatusPage
from clay_cockpit.sim.clock import SimClock
from clay_cockpit.sim.history import MetricsHistory
from clay_cockpit.sim.scenario import (
    ClayOutage,
    Crashloop,
    Fault,
    KeyRevoked,
    KubeDenied,
    KubeTokenExpired,
    RateLimited,
    Scenario,
    ServiceDown,
)
from clay_cockpit.sim.traffic import Call, PodEnv, call_line, draw_second, profiles

BACKFILL_SECONDS = 900
MAX_CATCH_UP = 3600  # seconds stepped after a long pause; older ones are skipped (a gap)
VERSION = "1.14.2"
SECRET, SECRET_KEY = "clay-api", "api-key"
FLAGS_CM, FALLBACK, QUEUING = "clay-sync-flags", "CLAY_FALLBACK_ENABLED", "CLAY_REQUEST_QUEUING"
LOG_OK, LOG_ERROR, LOG_CAP = 0.04, 0.25, 2  # sample rates per call, lines per pod-second


@dataclass
class _PodTrack:
    restarts: int
    started_at: float
    jitter: float
    stats_calls: int = 0
    stats_failed: int = 0


class World:
    def __init__(self, scenario: Scenario, *, clock: SimClock, seed: int, kube_token: str,
                 cluster_factory: Callable[..., object] | None = None) -> None:
        self.scenario = scenario
        self.clock = clock
        self.seed = seed
        self.t0 = clock.now()
        self.rng = random.Random(f"{seed}:traffic")
        self.request_rng = random.Random(f"{seed}:requests")  # answers to probes: kept apart from the model
        key_rng = random.Random(f"{seed}:key")
        self.initial_key = "clay_live_" + "".join(key_rng.choice("0123456789abcdef") for _ in range(32))
        if cluster_factory is None:
            from clay_cockpit.sim.kube.api import KubeCluster

            cluster_factory = KubeCluster
        self.kube = cluster_factory(
            clock=clock.now,
            rng=random.Random(f"{seed}:kube"),
            token=kube_token,
            replicas=scenario.service.replicas,
            api_key=self.initial_key,
            flags={FALLBACK: "false", QUEUING: "false"},
        )
        self.history = MetricsHistory()
        self.status_page = ClayStatusPage(scenario, self.t0, seed)
        self.revoked: set[str] = set()
        self._revocations_done: set[int] = set()
        self._obstacles_on: set[int] = set()  # kube_denied / kube_token_expired faults applied to the cluster
        self._pods: dict[str, _PodTrack] = {}
        self._pod_order: dict[str, int] = {}
        self._next_second = int(math.floor(self.t0)) - BACKFILL_SECONDS
        self._backfill()
        self._obstacles(self.t0)  # a permission denied from the start is denied before the first request

    # ------------------------------------------------------------------ time

    def t(self, now: float | None = None) -> float:
        """Scenario seconds."""
        return (self.clock.now() if now is None else now) - self.t0

    def active_faults(self, now: float | None = None) -> tuple[Fault, ...]:
        return self.scenario.active_faults(self.t(now))

    def advance(self, seconds: float) -> None:
        """Move a frozen clock forward in steps of at most a second, ticking after each,
        so a long jump plays out like the same time passing (rollouts, back-offs)."""
        remaining = float(seconds)
        while remaining > 1e-9:
            step = min(1.0, remaining)
            self.clock.advance(step)
            remaining -= step
            self.tick()

    def tick(self) -> None:
        """Bring the model up to the clock."""
        now = self.clock.now()
        self.kube.tick()
        pods = self.kube.running_pods()
        self._revoke(now)
        self._obstacles(now)
        self._track(pods)
        last = int(math.floor(now)) - 1  # the last complete second
        if last - self._next_second >= MAX_CATCH_UP:
            self._next_second = last - MAX_CATCH_UP + 1
        for second in range(self._next_second, last + 1):
            self._step(second, pods, backfill=False)
        self._next_second = max(self._next_second, last + 1)
        self._crash(now, pods)

    # ------------------------------------------------------------------ keys

    def key_valid(self, key: str | None) -> bool:
        return bool(key) and key not in self.revoked

    def secret_key_valid(self) -> bool:
        return self.key_valid(self.kube.secret_value(SECRET, SECRET_KEY))

    def _revoke(self, now: float) -> None:
        """Clay revokes whatever key is in the Secret when a key_revoked fault starts."""
        for i, fault in enumerate(self.scenario.faults):
            if isinstance(fault, KeyRevoked) and i not in self._revocations_done and self.t(now) >= fault.start:
                self._revocations_done.add(i)
                key = self.kube.secret_value(SECRET, SECRET_KEY)
                if key:
                    self.revoked.add(key)

    def _obstacles(self, now: float) -> None:
        """Apply the responder's obstacles to the cluster as they start and end:
        RBAC denials, and expiring credentials (at a time, or armed for the next write)."""
        t = self.t(now)
        for i, fault in enumerate(self.scenario.faults):
            if not isinstance(fault, (KubeDenied, KubeTokenExpired)):
                continue
            on, applied = fault.active(t), i in self._obstacles_on
            if on and not applied:
                self._obstacles_on.add(i)
                if isinstance(fault, KubeDenied):
                    self.kube.deny(fault.verb, fault.resource)
                elif fault.at_write:
                    self.kube.expire_on_write()
                else:
                    self.kube.expire_token()
            elif applied and not on and fault.end > 0 and t >= fault.end:
                self._obstacles_on.discard(i)
                if isinstance(fault, KubeDenied):
                    self.kube.allow(fault.verb, fault.resource)
                else:  # the drill logs in for the responder (the same token works again)
                    self.kube.renew_token()

    def services_down(self, now: float | None = None) -> set[str]:
        """The services a service_down fault wants stopped now."""
        return {f.service for f in self.active_faults(now) if isinstance(f, ServiceDown)}

    def revoked_status(self) -> int:
        fault = next((f for f in self.scenario.faults if isinstance(f, KeyRevoked)), None)
        return fault.status if fault else 401

    # ------------------------------------------------------------------ pods

    def _env(self, pod) -> PodEnv:
        env = pod.env
        return PodEnv(
            name=pod.name,
            key_valid=self.key_valid(env.get("CLAY_API_KEY")),
            fallback=env.get(FALLBACK, "").strip().lower() == "true",
            queuing=env.get(QUEUING, "").strip().lower() == "true",
        )

    def _track(self, pods: list, *, initial: bool = False) -> None:
        """Notice containers that (re)started: log their start-up lines."""
        live = set()
        for pod in pods:
            live.add(pod.name)
            known = self._pods.get(pod.name)
            if known is not None and known.restarts == pod.restarts and known.started_at == pod.started_at:
                continue
            self._pod_order.setdefault(pod.name, len(self._pod_order))
            self._pods[pod.name] = _PodTrack(pod.restarts, pod.started_at, self.rng.random())
            at = min(pod.started_at, self.t0 - BACKFILL_SECONDS - 5) if initial else pod.started_at
            self._startup_lines(pod, at)
        for gone in set(self._pods) - live:
            if len(self._pods) > 64:  # forget pods long gone; bounded
                self._pods.pop(gone, None)

    def _startup_lines(self, pod, at: float) -> None:
        env = self._env(pod)
        lines = (
            f'level=info msg="starting clay-sync" version={VERSION} pod={pod.name}',
            f"level=info msg=\"config loaded\" fallback_enabled={str(env.fallback).lower()} "
            f"request_queuing={str(env.queuing).lower()} clay_key_set={str(bool(pod.env.get('CLAY_API_KEY'))).lower()}",
            'level=info msg="connected to database" pool_size=20',
            'level=info msg="worker ready" port=8080 workers=8',
        )
        for i, line in enumerate(lines):
            self.kube.log(pod.name, line, at + 0.05 * i)

    # ------------------------------------------------------------------ stepping

    def _backfill(self) -> None:
        pods = self.kube.running_pods()
        self._track(pods, initial=True)
        last = int(math.floor(self.t0)) - 1
        for second in range(self._next_second, last + 1):
            self._step(second, pods, backfill=True)
        self._next_second = last + 1
        for track in self._pods.values():
            track.stats_calls = track.stats_failed = 0

    def _step(self, second: int, pods: list, *, backfill: bool) -> None:
        t = second - self.t0
        faults = () if backfill else self.scenario.active_faults(t)
        calls_all: list[Call] = []
        limited = next((f for f in faults if isinstance(f, RateLimited)), None)
        for pod in pods:
            if not backfill and (not pod.ready or pod.started_at > second + 1):
                continue
            env = self._env(pod)
            calls = draw_second(self.rng, profiles(self.scenario.service, faults, env))
            calls_all.extend(calls)
            track = self._pods.get(pod.name)
            if track is not None:
                track.stats_calls += len(calls)
                track.stats_failed += sum(1 for c in calls if c.code != 200)
            if backfill:
                self._backfill_lines(pod, second, calls)
            else:
                self._live_lines(pod, env, second, calls, faults, limited)
        self.history.record(second, calls_all)

    def _backfill_lines(self, pod, second: int, calls: list[Call]) -> None:
        slot = (self._pod_order.get(pod.name, 0) * 7) % 20
        if calls and second % 20 == slot:
            c = calls[0]
            self.kube.log(pod.name, call_line(c, rate_limit=None, t=second - self.t0), second + c.offset)

    def _live_lines(self, pod, env: PodEnv, second: int, calls: list[Call], faults: tuple[Fault, ...],
                    limited: RateLimited | None) -> None:
        rng, t = self.rng, second - self.t0
        lines: list[tuple[float, str]] = []
        for c in calls:
            if len(lines) >= LOG_CAP:
                break
            if rng.random() < (LOG_OK if c.code == 200 else LOG_ERROR):
                lines.append((second + c.offset, call_line(c, rate_limit=limited, t=t)))
        outage = next((f for f in faults if isinstance(f, ClayOutage)), None)
        if outage is not None and env.fallback and rng.random() < 0.3:
            lines.append((second + rng.random(), 'level=warn msg="fallback served" source=cache endpoint=/v1/people/enrich reason="clay unavailable"'))
        crash = next((f for f in faults if isinstance(f, Crashloop)), None)
        track = self._pods.get(pod.name)
        if crash is not None and track is not None and crash.affects(pod.image):
            run_start = max(pod.started_at, self.t0 + crash.start)
            age = second - run_start
            if age >= 0 and int(age) % 5 == 0:
                share = min(0.99, 0.35 + 0.64 * age / max(1.0, crash.after + track.jitter * crash.jitter))
                rss = int(crash.memory_limit_mb * share)
                lines.append((second + 0.5, f'level=warn msg="memory high" rss_mb={rss} limit_mb={crash.memory_limit_mb} heap_objects={rss * 5120}'))
        if track is not None and (second - int(track.started_at)) % 30 == 29:
            depth = self._queue_depth(env, faults)
            lines.append((second + 0.9, f'level=info msg="sync stats" calls_30s={track.stats_calls} failed_30s={track.stats_failed} queue_depth={depth}'))
            track.stats_calls = track.stats_failed = 0
        for at, line in sorted(lines):
            self.kube.log(pod.name, line, at)

    def _queue_depth(self, env: PodEnv, faults: tuple[Fault, ...]) -> int:
        limited = any(isinstance(f, RateLimited) for f in faults)
        if env.queuing and limited:
            return 150 + int(self.rng.random() * 250)
        return int(self.rng.random() * 20)

    def _crash(self, now: float, pods: list) -> None:
        crash = next((f for f in self.active_faults(now) if isinstance(f, Crashloop)), None)
        if crash is None:
            return
        for pod in pods:
            track = self._pods.get(pod.name)
            if track is None or not crash.affects(pod.image):
                continue
            run_start = max(pod.started_at, self.t0 + crash.start)
            if now >= run_start + crash.after + track.jitter * crash.jitter:
                at = max(run_start, now - 0.5)
                self.kube.log(pod.name, f'level=error msg="out of memory: allocation failed" rss_mb={crash.memory_limit_mb - 1} limit_mb={crash.memory_limit_mb}', at)
                self.kube.crash(pod.name, crash.reason, crash.exit_code)

    # ------------------------------------------------------------------ health

    def health(self, now: float | None = None) -> tuple[int, dict]:
        """(HTTP status, body) of our integration health endpoint."""
        now = self.clock.now() if now is None else now
        counts = self.history.counts(now, 60)
        total = int(sum(counts.values()))
        errors = {c: int(n) for c, n in counts.items() if c != 200}
        failed = sum(errors.values())
        ratio = failed / total if total else 0.0
        p95 = self.history.quantile(0.95, now)
        pods = self.kube.running_pods()
        envs = [self._env(p) for p in pods]
        ready = sum(1 for p in pods if p.ready)
        replicas = self.scenario.service.replicas
        fallback_on = sum(1 for e in envs if e.fallback)
        queuing_on = sum(1 for e in envs if e.queuing)

        err_text = ", ".join(f"{c}: {n}" for c, n in sorted(errors.items()))
        p95_text = f", p95 {p95 * 1000:.0f} ms" if p95 is not None and not math.isnan(p95) else ""
        detail = f"last 60s: {total} calls, {failed} errors" + (f" ({err_text})" if err_text else "") + p95_text
        if ratio >= 0.5 and total >= 5:
            clay = "degraded" if fallback_on else "fail"
        elif ratio >= 0.05 or (p95 is not None and not math.isnan(p95) and p95 >= 2.0):
            clay = "degraded"
        else:
            clay = "ok"
        jitter = random.Random(f"{self.seed}:health:{int(now)}").random()  # a function of time: same answer every poll
        if ready == 0:
            queue = ("fail", f"0/{replicas} workers ready; backlog {1200 + int(self.t(now)) * 35} jobs")
        elif ready < replicas:
            queue = ("degraded", f"{ready}/{replicas} workers ready")
        elif queuing_on and any(isinstance(f, RateLimited) for f in self.active_faults(now)):
            queue = ("ok", f"{ready}/{replicas} workers ready; queuing Clay calls, depth {300 + int(jitter * 200)}")
        else:
            queue = ("ok", f"{ready}/{replicas} workers ready; depth {int(jitter * 20)}")
        fallback = ("degraded", f"active on {fallback_on}/{len(pods)} pods: serving cached enrichment") if fallback_on else ("ok", "inactive")
        checks = {
            "clay_api": {"status": clay, "detail": detail + (" (fallback serving)" if fallback_on and clay != "ok" else "")},
            "database": {"status": "ok", "detail": "pool 6/20 in use, p95 4 ms"},
            "queue": {"status": queue[0], "detail": queue[1]},
            "fallback": {"status": fallback[0], "detail": fallback[1]},
        }
        statuses = [c["status"] for c in checks.values()]
        overall = "down" if "fail" in statuses else "degraded" if "degraded" in statuses else "ok"
        if queuing_on and overall == "ok":
            checks["queue"]["detail"] += " (request queuing on)"
        return (503 if overall == "down" else 200), {"status": overall, "version": VERSION, "checks": checks}

    # ------------------------------------------------------------------ state

    def flags(self) -> dict[str, str]:
        return {k: self.kube.configmap_value(FLAGS_CM, k) or "" for k in (FALLBACK, QUEUING)}

    def fault_states(self, now: float | None = None) -> list[dict]:
        return [
            {"kind": f.kind, "start": f.start, "end": f.end}
            for f in self.active_faults(now)
        ]
