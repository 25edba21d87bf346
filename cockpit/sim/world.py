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
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from clay_cockpit.sim.clay_status import ClayStatusPage
from clay_cockpit.sim.clock import SimClock
from clay_cockpit.sim.history import MetricsHistory
from clay_cockpit.sim.nodefaults import NodeFaults
from clay_cockpit.sim.podlog import Fields, PodLog
from clay_cockpit.sim.scenario import (
    BadRelease,
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
from clay_cockpit.sim.traffic import Call, PodEnv, Profile, call_line, draw_second, profiles

if TYPE_CHECKING:
    from clay_cockpit.sim.kube.api import KubeCluster, SimPod

BACKFILL_SECONDS = 900
MAX_CATCH_UP = 3600  # seconds stepped after a long pause; older ones are skipped (a gap)
VERSION = "1.14.2"
SECRET, SECRET_KEY = "clay-api", "api-key"
FLAGS_CM, FALLBACK, QUEUING = "clay-sync-flags", "CLAY_FALLBACK_ENABLED", "CLAY_REQUEST_QUEUING"
LOG_OK, LOG_ERROR, LOG_CAP = 0.04, 0.25, 2  # sample rates per call, lines per pod-second ([logs] rate = 0)
SERVED_PATHS = ("/v1/sync/status", "/v1/sync/jobs", "/healthz/integrations", "/metrics")  # our own endpoints (access log)
Line = tuple[float, str, str, Fields]  # (sim time, level, msg, fields)
BACKFILL_DRAWN = 100.0  # calls per second the backfill draws at most: a busier fleet's are a weighted sample
JOBS_WINDOW = 10  # seconds of sync jobs the health endpoint's queue check judges


def version_of(image: str) -> str:
    """The version a container reports: its image tag."""
    return image.rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else VERSION


def serving_version(pods: list[SimPod]) -> str:
    """The version our health endpoint reports: the one most ready pods run (the newest
    pod's on a tie); with none ready, the newest running pod's."""
    if not pods:
        return VERSION
    ready = [p for p in pods if p.ready] or pods
    counts: dict[str, int] = {}
    for p in ready:
        counts[version_of(p.image)] = counts.get(version_of(p.image), 0) + 1
    newest = {version_of(p.image): p.started_at for p in sorted(ready, key=lambda p: p.started_at)}
    return max(counts, key=lambda v: (counts[v], newest[v]))


@dataclass
class _PodTrack:
    restarts: int
    started_at: float
    jitter: float
    stats_calls: int = 0
    stats_failed: int = 0


class World:
    def __init__(
        self, scenario: Scenario, *, clock: SimClock, seed: int, kube_token: str, cluster_factory: Callable[..., KubeCluster] | None = None
    ) -> None:
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
            sidecars=scenario.service.sidecars,
            api_key=self.initial_key,
            flags={FALLBACK: "false", QUEUING: "false"},
        )
        self.history = MetricsHistory()
        self.log = PodLog(self.kube, fmt=scenario.service.log_format, colour=scenario.service.log_colour)
        self.log_rate = scenario.logs.rate  # lines per second across all pods, unsampled; 0: sampled (LOG_CAP)
        self.status_page = ClayStatusPage(scenario, self.t0, seed)
        self.revoked: set[str] = set()
        self._revocations_done: set[int] = set()
        self._obstacles_on: set[int] = set()  # kube_denied / kube_token_expired faults applied to the cluster
        self._pods: dict[str, _PodTrack] = {}
        self._pod_order: dict[str, int] = {}
        self._releases_done: set[int] = set()
        self._jobs: deque[tuple[int, int, int, str]] = deque(maxlen=JOBS_WINDOW)  # (second, jobs, failed, error) per second
        self.nodes = NodeFaults(scenario, self.kube, random.Random(f"{seed}:nodes"), self.t0, self.log)
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
        self._release(now)
        self.nodes.tick(now)
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

    def _release(self, now: float) -> None:
        """CI rolls out a bad_release fault's image when it starts (once)."""
        for i, fault in enumerate(self.scenario.faults):
            if isinstance(fault, BadRelease) and i not in self._releases_done and self.t(now) >= fault.start:
                self._releases_done.add(i)
                self.kube.release(fault.image, fault.cause, fault.manager)

    def broken(self, pod: SimPod) -> BadRelease | None:
        """The bad release this pod runs, if it runs one."""
        return next((f for f in self.scenario.faults if isinstance(f, BadRelease) and f.affects(pod.image)), None)

    def services_down(self, now: float | None = None) -> set[str]:
        """The services a service_down fault wants stopped now."""
        return {f.service for f in self.active_faults(now) if isinstance(f, ServiceDown)}

    def revoked_status(self) -> int:
        fault = next((f for f in self.scenario.faults if isinstance(f, KeyRevoked)), None)
        return fault.status if fault else 401

    # ------------------------------------------------------------------ pods

    def _env(self, pod: SimPod) -> PodEnv:
        env = pod.env
        return PodEnv(
            name=pod.name,
            key_valid=self.key_valid(env.get("CLAY_API_KEY")),
            fallback=env.get(FALLBACK, "").strip().lower() == "true",
            queuing=env.get(QUEUING, "").strip().lower() == "true",
        )

    def _track(self, pods: list[SimPod], *, initial: bool = False) -> None:
        """Notice containers that (re)started: log their start-up lines."""
        live: set[str] = set()
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
            if len(self._pods) > 64 + len(live):  # forget pods long gone; bounded
                self._pods.pop(gone, None)
        if len(self.log._seq) > 64 + len(live):
            self.log.forget(live)

    def _startup_lines(self, pod: SimPod, at: float) -> None:
        env = self._env(pod)
        lines: tuple[tuple[str, Fields], ...] = (
            ("starting clay-sync", (("version", version_of(pod.image)), ("pod", pod.name))),
            (
                "config loaded",
                (("fallback_enabled", env.fallback), ("request_queuing", env.queuing), ("clay_key_set", bool(pod.env.get("CLAY_API_KEY")))),
            ),
            ("connected to database", (("pool_size", 20),)),
            ("worker ready", (("port", 8080), ("workers", 8))),
        )
        for i, (msg, fields) in enumerate(lines):
            self.log.write(pod.name, "info", msg, fields, at + 0.05 * i)

    # ------------------------------------------------------------------ stepping

    def _backfill(self) -> None:
        pods = self.kube.running_pods()
        self._track(pods, initial=True)
        last = int(math.floor(self.t0)) - 1
        rate = self.scenario.service.request_rate
        for second in range(self._next_second, last + 1):
            if rate > BACKFILL_DRAWN and pods:
                self._backfill_sampled(second, pods, BACKFILL_DRAWN / rate)
            else:
                self._step(second, pods, backfill=True)
        self._next_second = last + 1
        for track in self._pods.values():
            track.stats_calls = track.stats_failed = 0

    def _step(self, second: int, pods: list[SimPod], *, backfill: bool) -> None:
        t = second - self.t0
        faults = () if backfill else self.scenario.active_faults(t)
        calls_all: list[Call] = []
        limited = next((f for f in faults if isinstance(f, RateLimited)), None)
        jobs = failed = 0
        error = ""
        serving = [p for p in pods if backfill or (p.ready and p.started_at <= second + 1)]
        share, extra = divmod(self.log_rate, len(serving)) if serving else (0, 0)
        profs: dict[tuple[bool, bool, bool], tuple[Profile, ...]] = {}  # by what a profile depends on: pods alike share one
        for n, pod in enumerate(serving):
            env = self._env(pod)
            alike = (env.key_valid, env.fallback, env.queuing)
            if alike not in profs:
                profs[alike] = profiles(self.scenario.service, faults, env)
            calls = draw_second(self.rng, profs[alike])
            calls_all.extend(calls)
            jobs += len(calls)  # a sync job per Clay call: the result is written after the call
            bad = None if backfill else self.broken(pod)
            if bad is not None:
                failed, error = failed + len(calls), bad.error
            track = self._pods.get(pod.name)
            if track is not None:
                track.stats_calls += len(calls)
                track.stats_failed += sum(1 for c in calls if c.code != 200)
            if backfill:
                self._backfill_lines(pod, second, calls)
            else:
                quota = share + (1 if (n - second) % len(serving) < extra else 0) if self.log_rate else 0
                self._live_lines(pod, env, second, calls, faults, limited, quota)
                if bad is not None:
                    self._failed_job_lines(pod, second, calls, bad)
        self.history.record(second, calls_all)
        self._jobs.append((second, jobs, failed, error))

    def _backfill_sampled(self, second: int, pods: list[SimPod], share: float) -> None:
        """One healthy second of a busy fleet's history: ``share`` of its calls drawn (the
        fleet's calls as one stream: its pods start alike), each counted 1/share times, and
        each pod's one call line every 20 s taken from them (900 s × 3,000 calls drawn one
        by one would hold the drill's start for seconds)."""
        profs = profiles(self.scenario.service, (), self._env(pods[0]))
        calls = draw_second(self.rng, tuple(replace(p, rate=p.rate * len(pods) * share) for p in profs))
        self.history.record(second, calls, weight=1.0 / share)
        self._jobs.append((second, round(len(calls) / share), 0, ""))
        if not calls:
            return
        for i, pod in enumerate(pods):
            if (self._pod_order.get(pod.name, 0) * 7) % 20 == second % 20:
                c = calls[i % len(calls)]
                self.log.write(pod.name, *call_line(c, rate_limit=None, t=second - self.t0), second + c.offset)

    def _backfill_lines(self, pod: SimPod, second: int, calls: list[Call]) -> None:
        slot = (self._pod_order.get(pod.name, 0) * 7) % 20
        if calls and second % 20 == slot:
            c = calls[0]
            self.log.write(pod.name, *call_line(c, rate_limit=None, t=second - self.t0), second + c.offset)

    def _live_lines(
        self,
        pod: SimPod,
        env: PodEnv,
        second: int,
        calls: list[Call],
        faults: tuple[Fault, ...],
        limited: RateLimited | None,
        quota: int = 0,
    ) -> None:
        """One pod-second of its log. Sampled (at most LOG_CAP call lines) unless ``[logs] rate``
        is set: then ``quota`` lines, every call's (up to the quota) and our own access log for
        the rest; the fault's own lines (fallback, memory, stats) come on top either way."""
        rng, t = self.rng, second - self.t0
        lines: list[Line] = []
        if quota:
            for c in calls[:quota]:
                lines.append((second + c.offset, *call_line(c, rate_limit=limited, t=t)))
            lines.extend(self._served_lines(second, quota - len(lines)))
        else:
            for c in calls:
                if len(lines) >= LOG_CAP:
                    break
                if rng.random() < (LOG_OK if c.code == 200 else LOG_ERROR):
                    lines.append((second + c.offset, *call_line(c, rate_limit=limited, t=t)))
        outage = next((f for f in faults if isinstance(f, ClayOutage)), None)
        if outage is not None and env.fallback and rng.random() < 0.3:
            lines.append(
                (
                    second + rng.random(),
                    "warn",
                    "fallback served",
                    (("source", "cache"), ("endpoint", "/v1/people/enrich"), ("reason", "clay unavailable")),
                )
            )
        crash = next((f for f in faults if isinstance(f, Crashloop)), None)
        track = self._pods.get(pod.name)
        if crash is not None and track is not None and crash.affects(pod.image):
            run_start = max(pod.started_at, self.t0 + crash.start)
            age = second - run_start
            if age >= 0 and int(age) % 5 == 0:
                share = min(0.99, 0.35 + 0.64 * age / max(1.0, crash.after + track.jitter * crash.jitter))
                rss = int(crash.memory_limit_mb * share)
                lines.append(
                    (
                        second + 0.5,
                        "warn",
                        "memory high",
                        (("rss_mb", rss), ("limit_mb", crash.memory_limit_mb), ("heap_objects", rss * 5120)),
                    )
                )
        if track is not None and (second - int(track.started_at)) % 30 == 29:
            depth = self._queue_depth(env, faults)
            lines.append(
                (
                    second + 0.9,
                    "info",
                    "sync stats",
                    (("calls_30s", track.stats_calls), ("failed_30s", track.stats_failed), ("queue_depth", depth)),
                )
            )
            track.stats_calls = track.stats_failed = 0
        lines.sort(key=lambda ln: ln[0])
        for at, level, msg, fields in lines:
            self.log.write(pod.name, level, msg, fields, at)

    def _served_lines(self, second: int, n: int) -> list[Line]:
        """``n`` lines of our service's own access log in one second (the rest of a
        ``[logs] rate`` quota): requests to its API, health and metrics endpoints."""
        rng = self.rng
        out: list[Line] = []
        for i in range(n):
            path = SERVED_PATHS[rng.getrandbits(2)]
            out.append(
                (
                    second + (i + rng.random()) / n,
                    "info",
                    "request served",
                    (("method", "GET"), ("path", path), ("status", 200), ("duration_ms", 1 + rng.getrandbits(4))),
                )
            )
        return out

    def _failed_job_lines(self, pod: SimPod, second: int, calls: list[Call], bad: BadRelease) -> None:
        """A release that fails every job after its Clay call logs each failure (sampled like the calls)."""
        version = version_of(pod.image)
        for c in calls[:LOG_CAP]:
            job = f"{self.rng.getrandbits(32):08x}"
            fields: Fields = (
                ("job", job),
                ("endpoint", c.endpoint),
                ("clay_status", c.code),
                ("stage", "write"),
                ("version", version),
                ("error", bad.error),
            )
            self.log.write(pod.name, "error", "sync job failed", fields, second + min(0.99, c.offset + c.seconds))

    def _queue_depth(self, env: PodEnv, faults: tuple[Fault, ...]) -> int:
        limited = any(isinstance(f, RateLimited) for f in faults)
        if env.queuing and limited:
            return 150 + int(self.rng.random() * 250)
        return int(self.rng.random() * 20)

    def _crash(self, now: float, pods: list[SimPod]) -> None:
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
                self.log.write(
                    pod.name,
                    "error",
                    "out of memory: allocation failed",
                    (("rss_mb", crash.memory_limit_mb - 1), ("limit_mb", crash.memory_limit_mb)),
                    at,
                )
                self.kube.crash(pod.name, crash.reason, crash.exit_code)

    # ------------------------------------------------------------------ health

    def health(self, now: float | None = None) -> tuple[int, dict[str, Any]]:
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
        recent = [j for j in self._jobs if j[0] >= int(now) - JOBS_WINDOW]
        jobs, failed_jobs = sum(j[1] for j in recent), sum(j[2] for j in recent)
        job_error = next((j[3] for j in reversed(recent) if j[3]), "")
        jobs_text = f"last {JOBS_WINDOW}s: {failed_jobs} of {jobs} sync jobs failed: {job_error}"
        if ready == 0:
            queue = ("fail", f"0/{replicas} workers ready; backlog {1200 + int(self.t(now)) * 35} jobs")
        elif jobs >= 5 and failed_jobs >= 0.5 * jobs:
            queue = ("fail", jobs_text)
        elif jobs and failed_jobs >= 0.05 * jobs:
            queue = ("degraded", jobs_text)
        elif ready < replicas:
            queue = ("degraded", f"{ready}/{replicas} workers ready")
        elif queuing_on and any(isinstance(f, RateLimited) for f in self.active_faults(now)):
            queue = ("ok", f"{ready}/{replicas} workers ready; queuing Clay calls, depth {300 + int(jitter * 200)}")
        else:
            queue = ("ok", f"{ready}/{replicas} workers ready; depth {int(jitter * 20)}")
        fallback = (
            ("degraded", f"active on {fallback_on}/{len(pods)} pods: serving cached enrichment") if fallback_on else ("ok", "inactive")
        )
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
        return (503 if overall == "down" else 200), {"status": overall, "version": serving_version(pods), "checks": checks}

    # ------------------------------------------------------------------ state

    def flags(self) -> dict[str, str]:
        return {k: self.kube.configmap_value(FLAGS_CM, k) or "" for k in (FALLBACK, QUEUING)}

    def fault_states(self, now: float | None = None) -> list[dict[str, Any]]:
        return [{"kind": f.kind, "start": f.start, "end": f.end} for f in self.active_faults(now)]
