"""Node events reach the cockpit (issue 14). A real kubelet and node controller
record the events about a Node in ``default``; the infra source watches them
there beside our namespace's (``involvedObject.kind=Node,type=Warning``),
merged into the same deduplicated events, kept for the nodes running our
pods. Against the drill's Kubernetes API over real HTTPS with the official
client: the node-pressure drill's EvictionThresholdMet reaches Signals.infra
through the InfraFeed, one list per watch (NodeHasInsufficientMemory and
NodeNotReady are Normal events, as a real kubelet and node controller record
them: not watched, their news is in the node's conditions); a 403 on events in ``default`` is named in
``missing`` and the namespaced events stay; ``default`` is never watched
twice."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs

import pytest

from clay_cockpit.config import config_from_toml
from clay_cockpit.live import InfraFeed
from clay_cockpit.signals import ErrorKind, InfraSnapshot, KubeEvent, Reading, SourceError
from clay_cockpit.sources import Sources
from clay_cockpit.sources.kube import Kube
from clay_cockpit.sources.kube_infra import Infra

NS = "clay-sync"
NODE_REASONS = {"EvictionThresholdMet"}  # the Warning one the node-pressure drill records about the node


def event_requests(sim: Any, namespace: str) -> tuple[list[dict], list[dict]]:
    """(lists, watches) of events in ``namespace`` that the drill's API server saw."""
    seen = [r for r in sim.requests("kube") if r["path"] == f"/api/v1/namespaces/{namespace}/events" and r["method"] == "GET"]
    return [r for r in seen if "watch=true" not in r["query"]], [r for r in seen if "watch=true" in r["query"]]


def selector(request: dict) -> str:
    return parse_qs(request["query"]).get("fieldSelector", [""])[0]


class Feed:
    """An InfraFeed over the real sources, its watch in a thread; the host's
    side (``arrived``) applied here in order, as the app does on its thread."""

    def __init__(self, sim: Any, **kube_changes: Any) -> None:
        config = config_from_toml(sim.config_dict(), "drill.toml")
        config = replace(config, kube=replace(config.kube, **kube_changes))
        self.sources = Sources(config)
        self.stop = threading.Event()
        self.feed = InfraFeed(self.sources, deployment="clay-sync", stop=self.stop, set_timer=self._timer, start=self._restart)
        self.lock = threading.Lock()
        self.inbox: list[tuple[str, Any]] = []
        self.reading: Reading[InfraSnapshot] = Reading()
        self.ended = False
        self.thread = threading.Thread(target=self.feed.follow, args=(self._deliver,))

    def _timer(self, delay: float, callback: Any) -> Any:
        raise AssertionError("the watch ended unasked")

    def _restart(self) -> None:
        raise AssertionError("the watch ended unasked")

    def _deliver(self, what: str, value: Any) -> None:
        with self.lock:
            self.inbox.append((what, value))

    def __enter__(self) -> Feed:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(15)
        assert not self.thread.is_alive()

    def poll(self) -> None:
        got = self.sources.infra.fetch()
        assert isinstance(got, InfraSnapshot), got
        value = self.feed.polled(got)
        self.reading = Reading(value=value, updated_at=time.time(), checked_at=time.time())

    def pump(self) -> InfraSnapshot | None:
        """What the watch sent so far, taken on "the host's thread"."""
        with self.lock:
            inbox, self.inbox = self.inbox, []
        for what, value in inbox:
            new = self.feed.arrived(what, value, self.reading, time.time())
            if new is not None:
                self.reading = new
        return self.reading.value

    def wait(self, check: Any, timeout: float = 20.0) -> InfraSnapshot:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.poll()
            snap = self.pump()
            if snap is not None and check(snap):
                return snap
            time.sleep(0.1)
        raise AssertionError(f"not seen within {timeout}s: {self.reading.value}")


def node_events(snap: InfraSnapshot) -> list[KubeEvent]:
    return [e for e in snap.events if e.kind == "Node"]


@pytest.mark.scenario("node-pressure")
def test_node_events_reach_signals_infra_by_watch(sim: Any) -> None:
    with Feed(sim) as f:
        f.wait(lambda s: s.events_watched_since is not None)  # both watches listed
        sim.advance(45)  # the pressure at 20 s, evictions from 25 s
        snap = f.wait(lambda s: NODE_REASONS <= {e.reason for e in node_events(s)})
        (pressure,) = node_events(snap)
        (node,) = (n for n in snap.nodes if n.name == pressure.name)  # the node our pods ran on
        assert node.pressure == ("MemoryPressure",)  # NodeHasInsufficientMemory (Normal) says it there
        assert (pressure.reason, pressure.message, pressure.type) == ("EvictionThresholdMet", "Attempting to reclaim memory", "Warning")
        assert pressure.source == f"kubelet, {node.name}"
        assert any(e.kind == "Pod" and e.reason == "Evicted" for e in snap.events)  # and our namespace's, merged
        assert snap.missing == ()
        assert [e.last_seen for e in snap.events] == sorted((e.last_seen for e in snap.events), reverse=True)
    for namespace, wanted in ((NS, "type=Warning"), ("default", "involvedObject.kind=Node,type=Warning")):
        lists, watches = event_requests(sim, namespace)
        assert len(lists) == 1, (namespace, lists)  # listed once, then watched: nothing failed
        assert watches and all(selector(r) == wanted and "resourceVersion=" in r["query"] for r in watches)
        assert selector(lists[0]) == wanted


@pytest.mark.scenario("node-pressure")
def test_events_in_default_forbidden_keep_ours_and_name_the_permission(sim: Any) -> None:
    sim.kube("deny", verb="list", resource="events", namespace="default")
    with Feed(sim) as f:
        sim.advance(45)
        snap = f.wait(lambda s: bool(s.missing) and any(e.reason == "Evicted" for e in s.events))
        (error,) = snap.missing
        assert error.source == "infra" and error.kind is ErrorKind.FORBIDDEN and error.status_code == 403
        assert error.message.startswith("node events: ")
        assert (
            "list and watch on events in namespace default: node events (eviction thresholds, system OOMs, reboots) are recorded there"
            in error.hint
        )
        assert "kubectl auth can-i list events -n default" in error.hint
        assert node_events(snap) == [] and snap.nodes  # the rest of the reading stands
        lists, _ = event_requests(sim, NS)
        assert len(lists) == 1  # the namespaced watch went on, unbothered

        sim.kube("allow", verb="list", resource="events", namespace="default")
        snap = f.wait(lambda s: s.missing == () and NODE_REASONS <= {e.reason for e in node_events(s)}, 40)
        assert any(e.reason == "Evicted" for e in snap.events)


@pytest.mark.scenario("node-pressure")
def test_default_as_our_namespace_is_watched_once(sim: Any) -> None:
    kube = Kube(replace(config_from_toml(sim.config_dict(), "drill.toml").kube, namespace="default"))
    stop = threading.Event()
    lock = threading.Lock()
    batches: list[tuple[KubeEvent, ...]] = []
    errors: list[SourceError | None] = []

    def on_events(events: tuple[KubeEvent, ...], since: float) -> None:
        with lock:
            batches.append(events)

    def on_error(error: SourceError | None) -> None:
        with lock:
            errors.append(error)

    thread = threading.Thread(target=Infra(kube).follow_events, args=(on_events, on_error, stop), kwargs={"on_node_error": on_error})
    thread.start()
    try:
        sim.advance(45)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with lock:
                if batches and NODE_REASONS <= {e.reason for e in batches[-1] if e.kind == "Node"}:
                    break
            time.sleep(0.05)
        else:
            raise AssertionError(f"no node events: {batches[-1:]}")
    finally:
        stop.set()
        thread.join(15)
    assert not thread.is_alive() and errors == []
    lists, watches = event_requests(sim, "default")
    assert len(lists) == 1 and all(selector(r) == "type=Warning" for r in lists + watches)  # one watch: ours is default


def test_the_feed_names_both_watches_failures_and_each_recovers_alone() -> None:
    t0 = 1_767_225_600.0
    f = InfraFeed(object(), deployment="clay-sync", stop=threading.Event(), set_timer=lambda d, c: None, start=lambda: None)  # type: ignore[arg-type, return-value]
    polled = f.polled(InfraSnapshot("clay-sync", (), (), (), (), fetched_at=t0))
    reading: Reading[InfraSnapshot] = Reading(value=polled, updated_at=t0, checked_at=t0)
    ours = SourceError("infra", ErrorKind.UNREACHABLE, "events: connection refused", "check the API server")
    nodes = SourceError("infra", ErrorKind.FORBIDDEN, "node events: forbidden", "ask for list and watch on events in namespace default")
    for what, value, missing in (
        ("node_fault", nodes, (nodes,)),
        ("fault", ours, (ours, nodes)),
        ("fault", None, (nodes,)),  # ours recovered: the node watch's refusal stays named
        ("node_fault", None, ()),
    ):
        after = f.arrived(what, value, reading, t0 + 1)
        assert after is not None and after.value is not None and after.value.missing == missing, (what, value)
        assert f.arrived(what, value, after, t0 + 2) is None  # the same again: nothing new
        reading = after
