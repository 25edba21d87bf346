"""The infrastructure source against the drill's Kubernetes API (issue 14),
with the official client over real HTTPS and the drill's kubeconfig: nodes,
rollout history and changes; the Warning events listed once and then
watched (a new event arrives without a re-list, a watch that ends resumes,
a 410 re-lists); and every refusal as a named SourceError that keeps the
rest standing."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest

from clay_cockpit.config import config_from_toml
from clay_cockpit.signals import ErrorKind, InfraSnapshot, KubeEvent, SourceError
from clay_cockpit.sources.kube import Kube
from clay_cockpit.sources.kube_events import EventWatch
from clay_cockpit.sources.kube_infra import Infra


def kube(sim, **changes) -> Kube:
    return Kube(replace(config_from_toml(sim.config_dict(), "drill.toml").kube, **changes))


def infra(sim) -> InfraSnapshot:
    got = Infra(kube(sim)).fetch()
    assert isinstance(got, InfraSnapshot), got.line()  # type: ignore[union-attr]
    return got


def event_requests(sim) -> tuple[list[dict], list[dict]]:
    """(lists, watches) of Warning events the drill's API server saw."""
    seen = [r for r in sim.requests("kube") if r["path"].endswith("/events") and r["method"] == "GET"]
    return [r for r in seen if "watch=true" not in r["query"]], [r for r in seen if "watch=true" in r["query"]]


def test_nodes_history_and_changes(shared_sim) -> None:
    snap = infra(shared_sim)
    assert snap.deployment == "clay-sync" and snap.missing == ()
    assert snap.nodes and all(n.name.startswith("drill-node-") and n.ready is True and n.pressure == () for n in snap.nodes)
    assert sum(len(n.pods) for n in snap.nodes) == 3
    assert [r.number for r in snap.revisions] == [2, 1] and [r.current for r in snap.revisions] == [True, False]
    assert snap.revisions[0].images[0][1].endswith(":1.14.2") and snap.revisions[0].replicas == 3
    rollout = next(c for c in snap.changes if c.what == "rollout")
    assert rollout.summary == "rollout to 1.14.2 (revision 2) by ci-deploy" and rollout.detail == (
        "image clay-sync: 1.14.1 → 1.14.2",
        "change-cause: ci: deploy clay-sync 1.14.2 (pipeline #4539)",  # the drill's CI sets kubernetes.io/change-cause
    )
    assert {c.summary for c in snap.changes if c.what != "rollout"} == {"ConfigMap clay-sync-flags created", "Secret clay-api created"}
    assert [c.at for c in snap.changes] == sorted((c.at for c in snap.changes), key=lambda at: -(at or 0))
    assert shared_sim.token not in repr(snap)
    secrets = [r for r in shared_sim.requests("kube") if "/secrets/" in r["path"]]
    assert secrets  # read, but only as metadata: the value never came (PartialObjectMetadata)


def test_nodes_forbidden_keeps_the_rest(sim) -> None:
    sim.kube("deny", verb="get", resource="nodes")
    snap = infra(sim)
    assert snap.nodes == () and snap.revisions and snap.changes
    (error,) = snap.missing
    assert error.source == "infra" and error.kind is ErrorKind.FORBIDDEN and error.status_code == 403
    assert "nodes are cluster-scoped: ask for get on nodes" in error.hint


def test_everything_forbidden_is_a_named_failure(sim) -> None:
    sim.kube("deny", verb="*", resource="*")
    got = Infra(kube(sim)).fetch()
    assert isinstance(got, SourceError) and got.source == "infra" and got.kind is ErrorKind.FORBIDDEN


def test_expired_credentials_fail_the_poll(sim) -> None:
    sim.kube("expire_token")
    got = Infra(kube(sim)).fetch()
    assert isinstance(got, SourceError) and got.kind is ErrorKind.AUTH_EXPIRED and got.status_code == 401


class Collector:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.batches: list[tuple[KubeEvent, ...]] = []
        self.errors: list[SourceError | None] = []

    def events(self, events: tuple[KubeEvent, ...], since: float) -> None:
        with self.lock:
            self.batches.append(events)

    def error(self, error: SourceError | None) -> None:
        with self.lock:
            self.errors.append(error)

    def wait(self, check, timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if check(self):
                    return True
            time.sleep(0.05)
        return False


@pytest.mark.scenario("infra-crashloop")
def test_new_events_arrive_by_watch_not_by_relist(sim) -> None:
    got = Collector()
    stop = threading.Event()
    w = EventWatch(kube(sim), got.events, got.error, stop, watch_seconds=2)
    thread = threading.Thread(target=w.run)
    thread.start()
    try:
        assert got.wait(lambda c: len(c.batches) >= 1)  # the initial list
        assert got.batches[0] == ()  # nothing is wrong yet
        sim.advance(60)  # the leak: OOMKilled, then back-off
        assert got.wait(lambda c: any(e.reason == "BackOff" for e in c.batches[-1]))
        time.sleep(2.5)  # let at least one watch end (timeoutSeconds=2) and be resumed
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    latest = got.batches[-1]
    backoff = [e for e in latest if e.reason == "BackOff"]
    assert backoff and all(
        e.kind == "Pod" and e.name.startswith("clay-sync-") and e.source.startswith("kubelet, drill-node-") for e in backoff
    )
    assert [e.last_seen for e in latest] == sorted((e.last_seen for e in latest), reverse=True)
    lists, watches = event_requests(sim)
    assert len(lists) == 1 and w.stats.lists == 1  # watched, not re-listed
    assert len(watches) >= 2 and all("resourceVersion=" in r["query"] and "timeoutSeconds=2" in r["query"] for r in watches)
    assert got.errors == []


def test_a_watch_that_ends_resumes_and_a_410_relists(shared_sim) -> None:
    got = Collector()
    w = EventWatch(kube(shared_sim), got.events, got.error, threading.Event(), watch_seconds=1)
    lists_before, _ = event_requests(shared_sim)
    assert w._ensure_api() and w._list()
    listed_at = w.resource_version
    assert w._watch()  # ends after timeoutSeconds=1: nothing happened
    assert w.resource_version == listed_at and w.stats.relists_after_gone == 0
    w.resource_version = "999"  # older than the history the API server keeps (it starts at 1000)
    assert w._watch()  # the stream's ERROR event: 410 Expired
    assert w.stats.relists_after_gone == 1 and w.resource_version is None
    assert w._step()  # lists again, then watches
    lists_after, _ = event_requests(shared_sim)
    assert len(lists_after) - len(lists_before) == 2 and w.stats.lists == 2
    assert w.resource_version is not None and got.errors == []


def test_events_forbidden_is_named_with_the_verb(sim) -> None:
    sim.kube("deny", verb="list", resource="events")
    got = Collector()
    stop = threading.Event()
    w = EventWatch(kube(sim), got.events, got.error, stop, watch_seconds=1)
    thread = threading.Thread(target=w.run)
    thread.start()
    try:
        assert got.wait(lambda c: bool(c.errors))
        sim.kube("allow", verb="list", resource="events")
        assert got.wait(lambda c: c.errors[-1] is None and c.batches)  # recovers by itself
    finally:
        stop.set()
        thread.join(10)
    error = got.errors[0]
    assert error is not None and error.kind is ErrorKind.FORBIDDEN and error.source == "infra"
    assert "ask for list and watch on events in namespace clay-sync" in error.hint
    assert "kubectl auth can-i list events -n clay-sync" in error.hint


@pytest.mark.scenario("infra-crashloop")
def test_a_dropped_watch_resumes_from_its_resource_version(sim) -> None:
    got = Collector()
    stop = threading.Event()
    w = EventWatch(kube(sim), got.events, got.error, stop, watch_seconds=30)
    thread = threading.Thread(target=w.run)
    thread.start()
    try:
        assert got.wait(lambda c: len(c.batches) >= 1)
        assert got.wait(lambda c: w.stats.watches >= 1)
        sim.stop_service("kube")  # the API server goes away under the open watch
        assert got.wait(lambda c: any(e is not None and e.kind is ErrorKind.UNREACHABLE for e in c.errors))
        sim.start_service("kube")
        sim.advance(60)
        assert got.wait(lambda c: c.errors[-1] is None and any(e.reason == "BackOff" for e in c.batches[-1]), 30)
    finally:
        stop.set()
        thread.join(10)
    lists, watches = event_requests(sim)
    assert len(lists) == 1 and w.stats.lists == 1 and w.stats.relists_after_gone == 0  # resumed, not re-listed
    assert len(watches) >= 2


@pytest.mark.scenario("infra-crashloop")
def test_both_event_apis_read_the_same(sim) -> None:
    import json

    from kubernetes.client import CoreV1Api, EventsV1Api

    from clay_cockpit.sources.kube_events import aggregate, parse_event

    sim.advance(60)
    client = kube(sim).build_api_client()
    try:
        bodies = [
            json.loads(
                api.list_namespaced_event(
                    "clay-sync", field_selector="type=Warning", _preload_content=False, _request_timeout=(10, 10)
                ).data
            )
            for api in (CoreV1Api(client), EventsV1Api(client))
        ]
    finally:
        client.close()
    core, v1 = ([parse_event(item) for item in body["items"]] for body in bodies)
    assert core and all(e is not None for e in core)
    assert all("regarding" in item and "involvedObject" not in item for item in bodies[1]["items"])  # the events.k8s.io form
    assert aggregate(e for e in core if e) == aggregate(e for e in v1 if e)
