"""The pods, listed once then watched (issue 15), against the drill's
Kubernetes API with the official client over real HTTPS: a pod deleted or
replaced arrives by the watch without a new list; a dropped stream resumes
from its resourceVersion; a 410 re-lists; bookmarks move the resourceVersion;
an identity that may list but not watch pods is kept by listing, named; and
the pods poll of clay_cockpit.live takes what the watch gives."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest
from kubernetes import client, config

from clay_cockpit.config import config_from_toml
from clay_cockpit.signals import ErrorKind, PodsSnapshot, SourceError
from clay_cockpit.sources import kube_watch
from clay_cockpit.sources.kube import Kube, pod_info
from clay_cockpit.sources.kube_podwatch import PodWatch

NS = "clay-sync"


def kube(sim, **changes) -> Kube:
    return Kube(replace(config_from_toml(sim.config_dict(), "drill.toml").kube, **changes))


def pod_requests(sim) -> tuple[list[dict], list[dict]]:
    """(lists, watches) of our pods the drill's API server saw."""
    seen = [r for r in sim.requests("kube") if r["path"].endswith(f"/namespaces/{NS}/pods") and r["method"] == "GET"]
    return [r for r in seen if "watch=true" not in r["query"]], [r for r in seen if "watch=true" in r["query"]]


def core(sim):
    api = config.new_client_from_config(config_file=str(sim.kubeconfig), context=sim.context)
    return api, client.CoreV1Api(api)


def until(watch: PodWatch, stop: threading.Event, check, timeout: float = 20.0):
    """Snapshots from the watch (heartbeat 0.5 s) until ``check`` holds for one; that one."""
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        got = watch.next(stop, 0.5)
        if check(got):
            return got
    raise AssertionError(f"not seen within {timeout}s; last: {got!r}")


def names(snap) -> set[str]:
    return {p.name for p in snap.pods} if isinstance(snap, PodsSnapshot) else set()


def test_pods_deleted_and_replaced_arrive_by_watch_not_by_relist(sim) -> None:
    stop = threading.Event()
    w = PodWatch(kube(sim), pod_info, watch_seconds=2)
    api, core_api = core(sim)
    try:
        first = w.next(stop, 5.0)
        assert isinstance(first, PodsSnapshot) and len(first.pods) == 3 and first.listed_instead is None, first
        victim = sorted(names(first))[0]
        core_api.delete_namespaced_pod(victim, NS, grace_period_seconds=0, _request_timeout=5)
        sim.advance(5)
        later = until(w, stop, lambda s: victim not in names(s) and len(names(s)) == 3)
        assert names(later) - names(first)  # its ReplicaSet's replacement, added by the watch
        time.sleep(2.5)  # at least one watch ends (timeoutSeconds=2) and is resumed
        assert isinstance(w.next(stop, 0.1), PodsSnapshot)
    finally:
        stop.set()
        w.close()
        api.close()
    w.thread.join(10)
    assert not w.thread.is_alive()
    lists, watches = pod_requests(sim)
    assert len(lists) == 1 and w.watch.stats.lists == 1  # watched, never listed again
    assert len(watches) >= 2 and all("resourceVersion=" in r["query"] and "allowWatchBookmarks=true" in r["query"] for r in watches)
    assert w.watch.stats.events >= 2 and w.watch.error is None


def test_a_quiet_watch_gives_the_same_pods_on_its_heartbeat(shared_sim) -> None:
    stop = threading.Event()
    w = PodWatch(kube(shared_sim), pod_info)
    try:
        first = w.next(stop, 5.0)
        started = time.monotonic()
        again = w.next(stop, 0.6)  # nothing changed: the same pods after the heartbeat, current as of now
        waited = time.monotonic() - started
    finally:
        stop.set()
        w.close()
    assert isinstance(first, PodsSnapshot) and isinstance(again, PodsSnapshot)
    assert 0.5 <= waited < 3.0 and again.pods == first.pods and again.fetched_at > first.fetched_at


def test_410_relists_and_bookmarks_move_the_resource_version(sim, monkeypatch) -> None:
    from clay_cockpit.sim.kube import http as sim_http

    monkeypatch.setattr(sim_http, "BOOKMARK_EVERY", 0.5)
    w = PodWatch(kube(sim), pod_info, watch_seconds=2).watch
    assert w._ensure_api() and w._list()
    listed_at = w.resource_version
    api, core_api = core(sim)
    try:
        core_api.patch_namespaced_config_map("clay-sync-flags", NS, {"metadata": {"labels": {"touched": "yes"}}}, _request_timeout=5)
    finally:
        api.close()
    assert w._watch()  # ends after timeoutSeconds=2, with a bookmark or more in it
    assert w.stats.bookmarks >= 1 and int(w.resource_version) > int(listed_at), (w.stats, w.resource_version, listed_at)
    assert w.stats.events == 0  # a bookmark is no change to the pods
    w.resource_version = "999"  # older than the history the API server keeps (it starts at 1000)
    assert w._watch()  # the stream's ERROR event: 410 Expired
    assert w.stats.relists_after_gone == 1 and w.resource_version is None
    assert w._step()  # lists again, then watches
    assert w.stats.lists == 2 and w.error is None
    w.close()


@pytest.mark.scenario("infra-crashloop")
def test_a_dropped_watch_resumes_from_its_resource_version(sim) -> None:
    stop = threading.Event()
    w = PodWatch(kube(sim), pod_info, watch_seconds=30)
    try:
        first = w.next(stop, 5.0)
        assert isinstance(first, PodsSnapshot) and all(p.restarts == 0 for p in first.pods)
        sim.stop_service("kube")  # the API server goes away under the open watch
        down = until(w, stop, lambda s: isinstance(s, SourceError))
        assert down.kind is ErrorKind.UNREACHABLE and down.source == "kube", down
        sim.start_service("kube")
        sim.advance(60)  # the leak: OOMKilled, restarted
        up = until(w, stop, lambda s: isinstance(s, PodsSnapshot) and any(p.restarts > 0 for p in s.pods), 30)
        assert names(up) == names(first)
    finally:
        stop.set()
        w.close()
    lists, watches = pod_requests(sim)
    assert len(lists) == 1 and w.watch.stats.lists == 1 and w.watch.stats.relists_after_gone == 0  # resumed, not re-listed
    assert w.watch.stats.watches >= 2 and watches and all("resourceVersion=" in r["query"] for r in watches)


def test_list_but_no_watch_is_kept_by_listing_and_named(sim, monkeypatch) -> None:
    monkeypatch.setattr(kube_watch, "WATCH_RETRY", 1.0)
    sim.kube("deny", verb="watch", resource="pods")
    stop = threading.Event()
    w = PodWatch(kube(sim, refresh=0.3), pod_info)
    api, core_api = core(sim)
    try:
        first = until(w, stop, lambda s: isinstance(s, PodsSnapshot) and s.listed_instead is not None)
        why = first.listed_instead
        assert why.kind is ErrorKind.FORBIDDEN and why.source == "kube" and why.status_code == 403
        assert why.message == f"may not watch pods in {NS}: listed every 0.3s instead", why.message
        assert "ask for watch on pods in namespace clay-sync" in why.hint and "kubectl auth can-i watch pods -n clay-sync" in why.hint
        victim = sorted(names(first))[0]
        core_api.delete_namespaced_pod(victim, NS, grace_period_seconds=0, _request_timeout=5)
        until(w, stop, lambda s: victim not in names(s))  # seen by listing again
        lists, watches = pod_requests(sim)
        assert len(lists) >= 2 and w.watch.stats.fallback_lists >= 1
        sim.kube("allow", verb="watch", resource="pods")
        back = until(w, stop, lambda s: isinstance(s, PodsSnapshot) and s.listed_instead is None)  # the watch is tried again
        assert w.watch.error is None and names(back)
    finally:
        stop.set()
        w.close()
        api.close()


def test_pods_forbidden_is_named_with_the_permission(sim) -> None:
    sim.kube("deny", verb="list", resource="pods")
    stop = threading.Event()
    w = PodWatch(kube(sim), pod_info)
    try:
        got = until(w, stop, lambda s: isinstance(s, SourceError))
    finally:
        stop.set()
        w.close()
    assert got.kind is ErrorKind.FORBIDDEN and got.source == "kube" and got.status_code == 403
    assert "ask for list and watch on pods in namespace clay-sync" in got.hint and "kubectl auth can-i list pods" in got.hint


def test_stop_ends_the_watch_and_its_closer_threads(shared_sim) -> None:
    import asyncio

    k = kube(shared_sim)
    stop = threading.Event()
    first = k.watch_pods()
    assert k.watch_pods() is first and first.thread is None  # one watch, started on first use
    got = asyncio.run(first.next_async(stop, 0.1))
    assert isinstance(got, PodsSnapshot) and first.thread.is_alive()
    closers = [t for t in threading.enumerate() if t.name == "kube:watch-closer"]
    stop.set()  # nobody waits: the closer ends the watch
    first.thread.join(10)
    assert not first.thread.is_alive() and first.closed
    for t in closers:
        t.join(10)
    assert not any(t.is_alive() for t in closers)
    started = time.monotonic()
    last = first.next(threading.Event(), 5.0)  # closed: its last pods at once, dated when last known; no new thread
    assert time.monotonic() - started < 1.0 and k.watch_pods() is first and not first.thread.is_alive()
    assert isinstance(last, PodsSnapshot) and last.pods == got.pods and last.fetched_at <= got.fetched_at


def requests_to(sim, suffix: str, *, watch: bool = False) -> list[dict]:
    return [
        r for r in sim.requests("kube") if r["method"] == "GET" and r["path"].endswith(suffix) and ("watch=true" in r["query"]) == watch
    ]


def test_a_rollout_arrives_by_the_deployment_and_replicaset_watches(sim) -> None:
    """The infra poll's history from the watched deployment and ReplicaSets, its nodes from the
    watched pods: a rollout shows without a ReplicaSet list or a deployment read after the first."""
    from clay_cockpit.signals import InfraSnapshot
    from clay_cockpit.sources.kube_infra import Infra

    k = kube(sim)
    infra = Infra(k)
    stop = threading.Event()
    api = config.new_client_from_config(config_file=str(sim.kubeconfig), context=sim.context)
    try:
        assert isinstance(k.watch_pods().next(stop, 5.0), PodsSnapshot)
        first = infra.next(stop, 5.0)
        assert isinstance(first, InfraSnapshot) and first.missing == (), first
        assert [r.number for r in first.revisions] == [2, 1] and sum(len(n.pods) for n in first.nodes) == 3
        image = "registry.internal/clay-sync:1.14.9"
        body = {"spec": {"template": {"spec": {"containers": [{"name": "clay-sync", "image": image}]}}}}
        client.AppsV1Api(api).patch_namespaced_deployment("clay-sync", NS, body, _request_timeout=5)
        sim.advance(5)
        deadline = time.monotonic() + 20
        snap = first
        while time.monotonic() < deadline and not (snap.revisions and snap.revisions[0].number == 3):
            got = infra.next(stop, 0.5)
            snap = got if isinstance(got, InfraSnapshot) else snap
        assert snap.revisions[0].number == 3 and snap.revisions[0].images[0][1] == image, snap.revisions
        assert any(c.summary.startswith("rollout to 1.14.9 (revision 3)") for c in snap.changes), snap.changes
    finally:
        stop.set()
        infra._rollout.close()
        k._pod_watch.close()
        api.close()
    assert len(requests_to(sim, f"/namespaces/{NS}/replicasets")) == 1  # listed once, then watched
    assert requests_to(sim, f"/namespaces/{NS}/replicasets", watch=True)
    assert len(requests_to(sim, f"/namespaces/{NS}/deployments")) == 1 and not requests_to(sim, "/deployments/clay-sync")
    deploy_watches = requests_to(sim, f"/namespaces/{NS}/deployments", watch=True)
    assert deploy_watches and all("fieldSelector=metadata.name" in r["query"] for r in deploy_watches)
    assert len(requests_to(sim, f"/namespaces/{NS}/pods")) == 1  # the pods watch's list: the infra poll lists no pods
    for t in infra._rollout.threads:
        t.join(10)
        assert not t.is_alive()


@pytest.mark.scenario("infra-crashloop")
def test_events_may_be_listed_but_not_watched_and_that_is_said(sim, monkeypatch) -> None:
    """The event watch is the same ListWatch: refused, it lists every refresh, and its on_error names that."""
    from clay_cockpit.sources.kube_events import EventWatch

    sim.kube("deny", verb="watch", resource="events")
    lock, batches, errors = threading.Lock(), [], []

    def on_events(events, since) -> None:
        with lock:
            batches.append(events)

    def on_error(error) -> None:
        with lock:
            errors.append(error)

    stop = threading.Event()
    w = EventWatch(kube(sim, refresh=0.3), on_events, on_error, stop, watch_seconds=2)
    thread = threading.Thread(target=w.run)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not errors:
            time.sleep(0.05)
        sim.advance(60)  # the leak: OOMKilled, then back-off
        while time.monotonic() < deadline and not (batches and any(e.reason == "BackOff" for e in batches[-1])):
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    (why,) = errors
    assert (
        why.kind is ErrorKind.FORBIDDEN
        and why.source == "infra"
        and why.message == "may not watch events in clay-sync: listed every 0.3s instead"
    )
    assert "kubectl auth can-i watch events -n clay-sync" in why.hint
    assert any(e.reason == "BackOff" for e in batches[-1]), "seen by listing again"
    assert w.stats.lists >= 2 and w.stats.fallback_lists >= 1


def test_a_refused_replicaset_watch_is_listed_and_named_in_missing(sim) -> None:
    from clay_cockpit.signals import InfraSnapshot
    from clay_cockpit.sources.kube_infra import Infra

    sim.kube("deny", verb="watch", resource="replicasets")
    infra = Infra(kube(sim))
    stop = threading.Event()
    try:
        deadline = time.monotonic() + 20
        snap = None
        while time.monotonic() < deadline and not (isinstance(snap, InfraSnapshot) and snap.missing):
            snap = infra.next(stop, 0.5)
    finally:
        stop.set()
    assert isinstance(snap, InfraSnapshot) and [r.number for r in snap.revisions] == [2, 1]
    (why,) = snap.missing
    assert why.kind is ErrorKind.FORBIDDEN and why.message.startswith("may not watch replicasets.apps in clay-sync: listed every ")
    assert "kubectl auth can-i watch replicasets.apps -n clay-sync" in why.hint


def test_a_stalled_stream_is_named_then_resumed(shared_sim, monkeypatch) -> None:
    """Nothing for longer than the watch's own timeoutSeconds (here: a read timeout made shorter than it, on a
    quiet drill) is a stall: named, then resumed from the same resourceVersion, and the next watch clears it."""
    monkeypatch.setattr(kube_watch, "STALL_GRACE", -2.0)  # read timeout 1 s, timeoutSeconds 3 s: silent for 1 s = stalled
    w = PodWatch(kube(shared_sim), pod_info, watch_seconds=3).watch
    assert w._ensure_api() and w._list()
    listed_at = w.resource_version
    assert w._watch()
    assert w.stats.stalls == 1 and w.error is not None and w.error.kind is ErrorKind.STALLED, w.error
    assert w.error.message == "the watch of pods app=clay-sync sent nothing for 1s", w.error.message
    assert w.resource_version == listed_at and w.stats.lists == 1  # resumed from there: no list
    monkeypatch.setattr(kube_watch, "STALL_GRACE", 15.0)
    w.watch_seconds = 1
    assert w._watch() and w.error is None  # the stream works again: no longer stalled
    w.close()


def test_a_refresh_lists_again_and_says_what_the_server_says_now(sim) -> None:
    """The refresh key ("poll every source now") on a watched source: its stream is
    ended and the pods listed anew — a server that now refuses us is said at once,
    not at the watch's next request (up to a minute later)."""
    stop = threading.Event()
    w = PodWatch(kube(sim), pod_info, watch_seconds=60)
    try:
        first = w.next(stop, 5.0)
        assert isinstance(first, PodsSnapshot) and first.pods, first
        sim.kube("deny", verb="list", resource="pods")  # the open watch goes on; a new list is refused
        w.resync()
        got = until(w, stop, lambda s: isinstance(s, SourceError))
        assert got.kind is ErrorKind.FORBIDDEN, got
    finally:
        stop.set()
        w.close()
    assert w.watch.stats.resyncs == 1 and w.watch.stats.lists >= 1
    lists, _ = pod_requests(sim)
    assert len(lists) == 2, lists  # the first list, and the one the refresh asked for


def test_a_refresh_answers_as_soon_as_the_watches_listed_again_though_nothing_changed(sim) -> None:
    """The refresh key on a quiet cluster: the pods poll and the infra poll (heartbeat 30 s)
    answer within seconds, each after its watches listed again — not at the heartbeat, and
    not before the new list (the age shown is that list's)."""
    from clay_cockpit.signals import InfraSnapshot
    from clay_cockpit.sources.kube_infra import Infra

    k = kube(sim)
    infra = Infra(k)
    pods = k.watch_pods()
    stop = threading.Event()
    try:
        assert isinstance(pods.next(stop, 5.0), PodsSnapshot)
        assert isinstance(infra.next(stop, 5.0), InfraSnapshot)
        listed = pods.watch.listed_at
        for name, resync, wait in (
            ("pods", pods.resync, lambda: pods.next(stop, 30.0)),
            ("infra", infra.resync, lambda: infra.next(stop, 30.0)),
        ):
            started = time.monotonic()
            resync()
            got = wait()
            took = time.monotonic() - started
            assert took < 10.0, f"{name}: answered after {took:.1f}s, at the heartbeat"
            assert isinstance(got, (PodsSnapshot, InfraSnapshot)), got
        assert pods.watch.stats.resyncs == 1 and pods.watch.listed_at > listed
        assert infra._rollout.deploy.stats.resyncs == 1 and infra._rollout.sets.stats.resyncs == 1
    finally:
        stop.set()
        infra._rollout.close()
        pods.close()
    assert len(requests_to(sim, f"/namespaces/{NS}/replicasets")) == 2  # the first list, and the refresh's
