"""Our service's calls to Clay, one pod-second at a time.

For each pod the model builds a :class:`Profile` per Clay endpoint from the
active faults and the pod's environment (read when its container started:
API key, fallback and queuing flags): how many calls per second, which HTTP
status each gets with what probability, and how long each takes. Then it
draws the calls of one second from a seeded :class:`random.Random`.

Per call the work is a handful of random draws, so a drill at ``--speed 60``
(2,400 calls per wall second at the default 40/s) stays light.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from clay_cockpit.sim.scenario import ClayOutage, Fault, KeyRevoked, Latency, RateLimited, ServiceModel

# Which Clay endpoints our service calls, and the share of calls each gets.
ENDPOINT_MIX: tuple[tuple[str, str, float], ...] = (
    ("POST", "/v1/people/enrich", 0.5),
    ("POST", "/v1/companies/enrich", 0.3),
    ("POST", "/v1/tables/rows", 0.2),
)
# Latency (p50 ms, p95 ms) of calls that fail, by status.
ERROR_LATENCY_MS: dict[int, tuple[float, float]] = {
    401: (22.0, 45.0),
    403: (24.0, 50.0),
    429: (35.0, 80.0),
    500: (180.0, 600.0),
    502: (60.0, 200.0),
    503: (45.0, 160.0),
    504: (5000.0, 5060.0),  # our client gives up after 5 s
}
ERRORS = {
    401: "invalid api key",
    403: "api key not permitted",
    429: "rate limited",
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}
NOISE_500 = 0.0005  # background errors of a healthy day, per call at the drill's usual 40 calls/s ...
NOISE_RATE = 40.0  # ... and above that the same ~0.02 errors/s across the fleet: the runbook's thresholds are absolute
Z95 = 1.6448536269514722


@dataclass(frozen=True, slots=True)
class PodEnv:
    """What one running container knows (from its env at start)."""

    name: str
    key_valid: bool
    fallback: bool
    queuing: bool


@dataclass(frozen=True, slots=True)
class Call:
    method: str
    endpoint: str
    code: int
    seconds: float
    offset: float  # within the second, for log timestamps


@dataclass(frozen=True, slots=True)
class Profile:
    method: str
    endpoint: str
    rate: float  # calls per second from this pod
    cum: tuple[tuple[float, int], ...]  # cumulative probability → status
    latency: dict[int, tuple[float, float, float]]  # status → (mu, sigma, added seconds)


def lognormal_params(p50_ms: float, p95_ms: float) -> tuple[float, float]:
    mu = math.log(p50_ms / 1000.0)
    sigma = max(1e-6, math.log(p95_ms / p50_ms) / Z95)
    return mu, sigma


def _first(faults: tuple[Fault, ...], kind: type) -> Fault | None:
    return next((f for f in faults if isinstance(f, kind)), None)


def profiles(service: ServiceModel, faults: tuple[Fault, ...], pod: PodEnv) -> tuple[Profile, ...]:
    """The call profile of every endpoint for one pod under the active faults."""
    per_pod = service.request_rate / max(1, service.replicas)
    noise = NOISE_500 * min(1.0, NOISE_RATE / service.request_rate) if service.request_rate > 0 else NOISE_500
    outage = _first(faults, ClayOutage)
    limited = _first(faults, RateLimited)
    revoked = _first(faults, KeyRevoked)
    slow = _first(faults, Latency)
    ok_latency = (
        lognormal_params(slow.p50_ms, slow.p95_ms)
        if isinstance(slow, Latency)
        else lognormal_params(service.latency_p50_ms, service.latency_p95_ms)
    )
    queue_wait = limited.queued_latency_ms / 1000.0 if isinstance(limited, RateLimited) and pod.queuing else 0.0
    out = []
    for method, endpoint, share in ENDPOINT_MIX:
        rate = per_pod * share
        probs: dict[int, float] = {}
        if not pod.key_valid:
            probs[revoked.status if isinstance(revoked, KeyRevoked) else 401] = 1.0
        else:
            ok = 1.0 - noise
            probs[500] = noise
            if isinstance(outage, ClayOutage) and (not outage.endpoints or endpoint in outage.endpoints):
                total_w = sum(outage.weights)
                for code, w in zip(outage.codes, outage.weights):
                    probs[code] = probs.get(code, 0.0) + ok * outage.error_ratio * w / total_w
                ok *= 1.0 - outage.error_ratio
                if pod.fallback:  # the service stops calling Clay for the failing endpoint; a few probes remain
                    rate *= outage.fallback_call_ratio
            if isinstance(limited, RateLimited):
                r = limited.queued_ratio if pod.queuing else limited.ratio
                probs[429] = probs.get(429, 0.0) + ok * r
                ok *= 1.0 - r
            if isinstance(slow, Latency):
                probs[504] = probs.get(504, 0.0) + ok * slow.timeout_ratio
                ok *= 1.0 - slow.timeout_ratio
            probs[200] = ok
        cum, acc = [], 0.0
        for code in sorted(probs):
            if probs[code] > 0:
                acc += probs[code]
                cum.append((acc, code))
        latency = {200: (*ok_latency, queue_wait)}
        for code in probs:
            if code != 200:
                latency[code] = (*lognormal_params(*ERROR_LATENCY_MS.get(code, (100.0, 300.0))), 0.0)
        out.append(Profile(method, endpoint, rate, tuple(cum), latency))
    return tuple(out)


def _count(rng: random.Random, rate: float) -> int:
    """Calls in one second: Poisson-like around ``rate``, never negative."""
    if rate <= 0:
        return 0
    if rate < 8:  # Knuth for small rates
        limit, k, p = math.exp(-rate), 0, rng.random()
        while p > limit:
            k += 1
            p *= rng.random()
        return k
    return max(0, round(rng.gauss(rate, math.sqrt(rate))))


def draw_second(rng: random.Random, profs: tuple[Profile, ...]) -> list[Call]:
    """The calls one pod makes in one second, in time order."""
    calls = []
    for prof in profs:
        for _ in range(_count(rng, prof.rate)):
            u = rng.random()
            code = prof.cum[-1][1]
            for edge, c in prof.cum:
                if u < edge:
                    code = c
                    break
            mu, sigma, add = prof.latency[code]
            seconds = rng.lognormvariate(mu, sigma) + (add * (0.5 + rng.random()) if add else 0.0)
            if code == 504:
                seconds = max(seconds, 5.0)
            calls.append(Call(prof.method, prof.endpoint, code, seconds, rng.random()))
    calls.sort(key=lambda c: c.offset)
    return calls


def call_line(call: Call, *, rate_limit: RateLimited | None, t: float) -> tuple[str, str, list[tuple[str, str | int]]]:
    """One call's log line as our service logs it (docs/drill-contract.md): (level, msg, fields),
    written by :class:`clay_cockpit.sim.podlog.PodLog` in the scenario's format."""
    ms = int(round(call.seconds * 1000))
    base: list[tuple[str, str | int]] = [("method", call.method), ("endpoint", call.endpoint), ("status", call.code), ("duration_ms", ms)]
    if call.code == 200:
        return "info", "clay call", base
    if call.code == 429:
        window = rate_limit.window if rate_limit else 60.0
        limit = rate_limit.limit if rate_limit else 600
        reset = max(1, int(math.ceil(window - (t % window))))
        extra: list[tuple[str, str | int]] = [
            ("x-ratelimit-limit", limit),
            ("x-ratelimit-remaining", 0),
            ("x-ratelimit-reset", reset),
            ("retry-after", reset),
        ]
        return "warn", "clay call failed", base + extra
    return "error", "clay call failed", [*base, ("error", ERRORS.get(call.code, "http error"))]
