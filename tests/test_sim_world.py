"""Scenarios run on the clock and react to what the responder does through
the Kubernetes API, like the real systems would."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime

import httpx
import pytest

from clay_cockpit.config import DEFAULT_QUERIES


class Drill:
    """Test-side helpers: read signals and act on the cluster over plain HTTP."""

    def __init__(self, sim) -> None:
        self.sim = sim
        self.kube = httpx.Client(
            base_url=sim.endpoints["kube"], headers={"Authorization": f"Bearer {sim.token}"}, timeout=10, verify=sim.kube_ssl()
        )
        self.ns = "/api/v1/namespaces/clay-sync"

    def query(self, name: str) -> dict[str, float]:
        r = httpx.get(self.sim.endpoints["prometheus"] + "/api/v1/query", params={"query": DEFAULT_QUERIES[name]["query"]}, timeout=5)
        return {s["metric"].get("code", ""): float(s["value"][1]) for s in r.json()["data"]["result"]}

    def error_rate(self, code: int) -> float:
        return self.query("errors_by_code").get(str(code), 0.0)

    def total_rate(self) -> float:
        return self.query("request_rate")[""]

    def health(self) -> tuple[int, dict]:
        r = httpx.get(self.sim.endpoints["health"] + "/health", timeout=5)
        return r.status_code, r.json()

    def pods(self) -> list[dict]:
        return self.kube.get(self.ns + "/pods").json()["items"]

    def log(self, pod: str, **params) -> str:
        return self.kube.get(f"{self.ns}/pods/{pod}/log", params=params).text

    def set_flag(self, key: str, value: str) -> None:
        r = self.kube.patch(
            self.ns + "/configmaps/clay-sync-flags", json={"data": {key: value}}, headers={"Content-Type": "application/merge-patch+json"}
        )
        assert r.status_code == 200, r.text

    def set_key(self, key: str) -> None:
        r = self.kube.patch(
            self.ns + "/secrets/clay-api",
            json={"data": {"api-key": base64.b64encode(key.encode()).decode()}},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert r.status_code == 200, r.text

    def restart(self) -> set[str]:
        """kubectl rollout restart; waits (on the drill clock) until only new pods run."""
        old = {p["metadata"]["name"] for p in self.pods()}
        stamp = datetime.fromtimestamp(self.sim.state()["now"], tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        r = self.kube.patch(
            "/apis/apps/v1/namespaces/clay-sync/deployments/clay-sync",
            json={"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}}}},
            headers={"Content-Type": "application/strategic-merge-patch+json"},
        )
        assert r.status_code == 200, r.text
        for _ in range(30):
            self.sim.advance(5)
            pods = self.pods()
            names = {p["metadata"]["name"] for p in pods}
            ready = all(cs.get("ready") for p in pods for cs in p["status"].get("containerStatuses", []))
            if not names & old and len(names) == 3 and ready:
                return names
        raise AssertionError(f"rollout did not finish: {[p['metadata']['name'] for p in self.pods()]}")


@pytest.fixture
def drill(sim):
    d = Drill(sim)
    yield d
    d.kube.close()


@pytest.mark.scenario("healthy")
def test_healthy_is_quiet_with_full_history_at_once(drill) -> None:
    assert drill.total_rate() == pytest.approx(40, rel=0.25)
    code, body = drill.health()
    assert code == 200 and body["status"] == "ok"
    for pod in drill.pods():
        lines = drill.log(pod["metadata"]["name"], sinceSeconds=900).splitlines()
        assert 20 <= len(lines) <= 200, "backfilled: a few lines per pod, not every call"
    drill.sim.advance(300)
    assert sum(drill.query("errors_by_code").values()) < 0.3
    assert drill.health()[1]["status"] == "ok"


@pytest.mark.scenario("clay-outage")
def test_clay_outage_then_fallback(drill) -> None:
    drill.sim.advance(90)
    errors = drill.query("errors_by_code")
    assert errors["503"] > 15 and errors["500"] > 5 and errors["504"] > 1
    code, body = drill.health()
    assert code == 503 and body["status"] == "down" and body["checks"]["clay_api"]["status"] == "fail"
    before = drill.total_rate()
    drill.set_flag("CLAY_FALLBACK_ENABLED", "true")
    drill.sim.advance(10)
    assert drill.health()[1]["status"] == "down", "pods read the flag at start: nothing changes before a restart"
    new = drill.restart()
    drill.sim.advance(70)
    code, body = drill.health()
    assert code == 200 and body["status"] == "degraded"
    assert body["checks"]["fallback"]["status"] == "degraded" and "3/3" in body["checks"]["fallback"]["detail"]
    assert drill.total_rate() < before / 5, "fallback: far fewer Clay calls"
    assert any("fallback served" in drill.log(p) for p in new)


@pytest.mark.scenario("rate-limited")
def test_rate_limited_then_queuing(drill) -> None:
    drill.sim.advance(90)
    assert drill.error_rate(429) > 12
    pod = drill.pods()[0]["metadata"]["name"]
    line = next(ln for ln in drill.log(pod, tailLines=400).splitlines() if "status=429" in ln)
    assert re.search(r"x-ratelimit-limit=600 x-ratelimit-remaining=0 x-ratelimit-reset=\d+ retry-after=\d+", line)
    assert httpx.get(drill.sim.endpoints["statuspage"] + "/api/v2/incidents/unresolved.json", timeout=5).json()["incidents"] == []
    drill.set_flag("CLAY_REQUEST_QUEUING", "true")
    drill.restart()
    drill.sim.advance(70)
    assert drill.error_rate(429) < 1.5, "queuing: 429s drop to a trickle"
    assert drill.total_rate() == pytest.approx(40, rel=0.3)


@pytest.mark.scenario("key-revoked")
def test_key_revoked_then_rotate_and_restart(drill) -> None:
    sim = drill.sim
    probe = sim.endpoints["clay"] + "/v1/me"
    kube = drill.kube.get(drill.ns + "/secrets/clay-api").json()
    old_key = base64.b64decode(kube["data"]["api-key"]).decode()
    assert httpx.get(probe, headers={"Authorization": f"Bearer {old_key}"}, timeout=5).status_code == 200
    sim.advance(90)
    assert drill.error_rate(401) > 30 and sim.state()["key_valid"] is False
    assert drill.health()[1]["status"] == "down"
    assert httpx.get(probe, headers={"Authorization": f"Bearer {old_key}"}, timeout=5).status_code == 401
    assert httpx.get(sim.endpoints["statuspage"] + "/api/v2/status.json", timeout=5).json()["status"]["indicator"] == "none"
    drill.set_key("clay_live_rotated_0123456789")
    assert sim.state()["key_valid"] is True
    assert httpx.get(probe, headers={"Authorization": "Bearer clay_live_rotated_0123456789"}, timeout=5).status_code == 200
    sim.advance(10)
    assert drill.error_rate(401) > 30, "running pods still hold the old key"
    new = drill.restart()
    sim.advance(70)
    assert drill.error_rate(401) == 0
    assert drill.health()[1]["status"] == "ok"
    for pod in new:
        assert "status=401" not in drill.log(pod)


@pytest.mark.scenario("infra-crashloop")
def test_crashloop_is_ours_not_clays(drill) -> None:
    drill.sim.advance(120)
    pods = drill.pods()
    statuses = [cs for p in pods for cs in p["status"]["containerStatuses"]]
    assert all(cs["restartCount"] >= 1 for cs in statuses)
    assert any(cs["lastState"].get("terminated", {}).get("reason") == "OOMKilled" for cs in statuses)
    errors = drill.query("errors_by_code")
    assert all(rate < 0.3 for code, rate in errors.items()), errors
    assert drill.total_rate() < 25, "few Clay calls while pods are down"
    seen_down = seen_backoff = False
    for _ in range(12):
        drill.sim.advance(10)
        seen_down |= drill.health()[0] == 503
        seen_backoff |= any(
            cs["state"].get("waiting", {}).get("reason") == "CrashLoopBackOff"
            for p in drill.pods()
            for cs in p["status"]["containerStatuses"]
        )
    assert seen_down and seen_backoff
    name = pods[0]["metadata"]["name"]
    previous = drill.log(name, previous="true")
    assert 'msg="memory high"' in previous and "out of memory" in previous


@pytest.mark.scenario("infra-crashloop")
def test_a_rollback_to_the_release_before_the_leak_ends_the_crashloop(drill) -> None:
    """What `kubectl rollout undo` does (the template of the previous ReplicaSet, image 1.14.1): the new pods stay up;
    a restart of the leaking release only buys time."""
    drill.sim.advance(60)
    assert any(cs["restartCount"] >= 1 for p in drill.pods() for cs in p["status"]["containerStatuses"])
    r = drill.kube.patch(
        "/apis/apps/v1/namespaces/clay-sync/deployments/clay-sync",
        json={"spec": {"template": {"spec": {"containers": [{"name": "clay-sync", "image": "registry.internal/clay-sync:1.14.1"}]}}}},
        headers={"Content-Type": "application/strategic-merge-patch+json"},
    )
    assert r.status_code == 200, r.text
    drill.sim.advance(60)
    pods = [p for p in drill.pods() if p["metadata"].get("deletionTimestamp") is None]
    assert len(pods) == 3 and all(p["spec"]["containers"][0]["image"].endswith(":1.14.1") for p in pods)
    drill.sim.advance(120)  # far past the 20-26 s the leaking release lasts
    statuses = [cs for p in drill.pods() for cs in p["status"]["containerStatuses"]]
    assert len(statuses) == 3 and all(cs["restartCount"] == 0 and cs["ready"] for cs in statuses), statuses
    assert drill.health()[0] == 200


@pytest.mark.scenario("degraded-latency")
def test_degraded_latency_is_p2_shaped(drill) -> None:
    drill.sim.advance(90)
    p95 = drill.query("latency_p95")[""]
    assert 2.0 <= p95 <= 3.5
    assert drill.error_rate(504) > 0.2
    assert drill.health()[1]["status"] == "degraded"
    status = httpx.get(drill.sim.endpoints["statuspage"] + "/api/v2/summary.json", timeout=5).json()
    assert status["incidents"][0]["name"] == "Elevated API latency" and status["status"]["indicator"] == "minor"


def _snapshot(sim) -> dict:
    base = {name: url for name, url in sim.endpoints.items()}

    def text(url: str, **params) -> str:
        verify = sim.kube_ssl() if url.startswith("https") else True
        body = httpx.get(url, params=params, timeout=10, headers={"Authorization": f"Bearer {sim.token}"}, verify=verify).text
        for name, u in base.items():
            body = body.replace(u, f"<{name}>")
        return body

    now = sim.state()["now"]
    pods = httpx.get(
        sim.endpoints["kube"] + "/api/v1/namespaces/clay-sync/pods",
        timeout=10,
        headers={"Authorization": f"Bearer {sim.token}"},
        verify=sim.kube_ssl(),
    ).json()["items"]
    names = sorted(p["metadata"]["name"] for p in pods)
    return {
        "summary": text(sim.endpoints["statuspage"] + "/api/v2/summary.json"),
        "metrics": text(sim.endpoints["metrics"] + "/metrics"),
        "range": text(
            sim.endpoints["prometheus"] + "/api/v1/query_range",
            query=DEFAULT_QUERIES["errors_by_code"]["query"],
            start=now - 900,
            end=now,
            step=15,
        ),
        "health": text(sim.endpoints["health"] + "/health"),
        "pods": names,
        "logs": [text(f"{sim.endpoints['kube']}/api/v1/namespaces/clay-sync/pods/{n}/log", timestamps="true") for n in names],
    }


def test_a_frozen_drill_is_byte_for_byte_repeatable(tmp_path) -> None:
    from clay_cockpit.sim.background import start_background

    frozen_at = 1_767_225_600.0

    def run(seed: int) -> dict:
        sim = start_background("clay-outage", seed=seed, freeze_at=frozen_at, workdir=tmp_path / str(seed))
        try:
            sim.advance(45)
            return _snapshot(sim)
        finally:
            sim.stop()

    first, second, other = run(11), run(11), run(12)
    assert first == second
    assert first["metrics"] != other["metrics"]


@pytest.mark.scenario("rate-limited")
def test_frozen_answers_do_not_depend_on_how_often_they_are_asked(sim) -> None:
    sim.advance(30)
    urls = [
        sim.endpoints["health"] + "/health",
        sim.endpoints["statuspage"] + "/api/v2/summary.json",
        sim.endpoints["rootly"] + "/api/v1/status.json",
        sim.endpoints["metrics"] + "/metrics",
    ]
    first = [httpx.get(u, timeout=5).text for u in urls]
    for _ in range(3):
        assert [httpx.get(u, timeout=5).text for u in urls] == first
