"""The timeline's notable moments of the infrastructure (issue 14): a node that
goes NotReady or comes back, a pressure condition that starts or ends, a
rollout newer than the newest revision seen — each once per transition — and
the InfraFeed that joins the poll and the event watch into Signals.infra."""

from __future__ import annotations

import threading
from dataclasses import replace

from clay_cockpit.incident.events import EventKind
from clay_cockpit.incident.watch import Watch
from clay_cockpit.live import InfraFeed
from clay_cockpit.signals import Change, ErrorKind, InfraSnapshot, KubeEvent, NodeInfo, Reading, Revision, Signals, SourceError

T0 = 1_767_225_600.0


def node(name: str = "n-2", ready: bool | None = True, pressure: tuple[str, ...] = (), message: str = "") -> NodeInfo:
    return NodeInfo(name, ready, pressure, False, ("clay-sync-abc-1", "clay-sync-abc-2"), since=T0 - 600, message=message)


def rev(number: int, tag: str, rs: str = "") -> Revision:
    return Revision(number, rs or f"clay-sync-r{number}", T0 - 100 * (10 - number), (("app", f"registry/clay-sync:{tag}"),), 3)


def snap(nodes: tuple[NodeInfo, ...] = (), revisions: tuple[Revision, ...] = (), changes: tuple[Change, ...] = (), **kw) -> InfraSnapshot:
    return InfraSnapshot("clay-sync", (), nodes, revisions, changes, fetched_at=T0, **kw)


def feed(watch: Watch, value: InfraSnapshot, now: float = T0) -> list:
    return watch.update(Signals(infra=Reading(value=value, updated_at=now, checked_at=now), at=now), now)


def test_a_node_going_notready_and_back_is_one_event_each() -> None:
    w = Watch()
    assert feed(w, snap((node(),))) == []  # the first look at a healthy node is nothing
    down = feed(w, snap((node(ready=False, message="Kubelet stopped posting node status."),)), T0 + 10)
    assert [n.kind for n in down] == [EventKind.NODE_NOT_READY]
    assert down[0].summary.startswith("Node n-2 NotReady: Kubelet stopped posting node status. — runs 2 of our pods")
    assert down[0].data["node"] == "n-2" and down[0].data["ready"] is False
    assert feed(w, snap((node(ready=False, message="still"),)), T0 + 20) == []  # still down: no new event
    assert feed(w, snap((node(ready=None),)), T0 + 25) == []  # NotReady → Unknown: still not ready
    back = feed(w, snap((node(),)), T0 + 30)
    assert [n.kind for n in back] == [EventKind.NODE_READY] and "Ready again" in back[0].summary


def test_a_node_already_down_at_the_first_look_is_reported() -> None:
    got = feed(Watch(), snap((node(ready=None),)))
    assert [n.kind for n in got] == [EventKind.NODE_NOT_READY] and "Ready Unknown" in got[0].summary


def test_pressure_starts_and_ends_once_each() -> None:
    w = Watch()
    feed(w, snap((node(),)))
    got = feed(w, snap((node(pressure=("MemoryPressure",), message="kubelet has insufficient memory available"),)), T0 + 5)
    assert [(n.kind, n.data["condition"]) for n in got] == [(EventKind.NODE_PRESSURE, "MemoryPressure")]
    assert got[0].summary.startswith("Node n-2 MemoryPressure")
    assert feed(w, snap((node(pressure=("MemoryPressure",)),)), T0 + 6) == []
    both = feed(w, snap((node(pressure=("DiskPressure",)),)), T0 + 7)
    assert sorted((n.kind, n.data["condition"]) for n in both) == [
        (EventKind.NODE_PRESSURE, "DiskPressure"),
        (EventKind.NODE_PRESSURE_ENDED, "MemoryPressure"),
    ]


def test_nodes_not_read_are_not_news() -> None:
    w = Watch()
    feed(w, snap((node(ready=False),)))
    forbidden = SourceError("infra", ErrorKind.FORBIDDEN, 'nodes "n-2" is forbidden', "nodes are cluster-scoped: ask for get on nodes")
    assert feed(w, snap((), missing=(forbidden,))) == []
    assert feed(w, snap((node(ready=False),)), T0 + 9) == []  # the state before the gap is remembered


def test_a_new_rollout_is_seen_once_with_who_made_it() -> None:
    w = Watch()
    assert feed(w, snap(revisions=(rev(6, "1.14.2"), rev(5, "1.14.1")))) == []  # what was there, not a rollout seen
    change = Change(T0 + 50, "rollout", "rollout to 1.14.3 (revision 7)", ("image app: 1.14.2 → 1.14.3",), by="kubectl-set")
    got = feed(w, snap(revisions=(rev(7, "1.14.3"), rev(6, "1.14.2")), changes=(change,)), T0 + 60)
    assert [n.summary for n in got] == ["rollout to 1.14.3 (revision 7) by kubectl-set"]
    assert got[0].kind == EventKind.ROLLOUT_SEEN and got[0].data["revision"] == 7
    assert got[0].data["detail"] == ["image app: 1.14.2 → 1.14.3"]
    assert feed(w, snap(revisions=(rev(7, "1.14.3"), rev(6, "1.14.2")), changes=(change,)), T0 + 70) == []
    bare = feed(w, snap(revisions=(rev(8, "1.14.4"),)), T0 + 80)
    assert [n.summary for n in bare] == ["rollout to 1.14.4 (revision 8)"]


def test_prime_remembers_nodes_and_revisions_from_the_timeline() -> None:
    w = Watch()
    first = feed(w, snap((node(ready=False),), (rev(7, "1.14.3"),)))
    later = feed(w, snap((node(ready=False),), (rev(9, "1.14.5"),)), T0 + 5)
    primed = Watch()
    primed.prime([_as_event(n) for n in first + later])
    assert feed(primed, snap((node(ready=False),), (rev(9, "1.14.5"),)), T0 + 100) == []
    assert [n.kind for n in feed(primed, snap((node(),), (rev(9, "1.14.5"),)), T0 + 110)] == [EventKind.NODE_READY]


def test_a_failed_poll_says_nothing_about_nodes_but_is_a_source_failure() -> None:
    w = Watch()
    feed(w, snap((node(),)))
    error = SourceError("infra", ErrorKind.UNREACHABLE, "connection refused", "check the VPN")
    got = w.update(Signals(infra=Reading(value=snap((node(ready=False),)), error=error)), T0 + 3)
    assert [n.kind for n in got] == [EventKind.SOURCE_FAILED] and got[0].data["source"] == "infra"


class _Event:
    def __init__(self, kind: EventKind, at: float, data: dict) -> None:
        self.kind, self.at, self.data = kind, at, data


def _as_event(n) -> _Event:
    return _Event(n.kind, n.at, n.data)


# -- InfraFeed: the poll and the watch, joined ------------------------------------


def _ev(kind: str, name: str, reason: str, last: float, count: int = 1) -> KubeEvent:
    return KubeEvent(kind, name, reason, f"{reason} of {name}", count, last - 5, last)


class _Timers:
    def __init__(self) -> None:
        self.armed: list[tuple[float, object]] = []

    def __call__(self, delay: float, callback):
        self.armed.append((delay, callback))
        return self

    def stop(self) -> None:
        pass


def test_the_feed_keeps_only_our_events_and_names_a_failing_watch() -> None:
    timers = _Timers()
    started: list[bool] = []
    f = InfraFeed(object(), deployment="clay-sync", stop=threading.Event(), set_timer=timers, start=lambda: started.append(True))
    watched = (
        _ev("Pod", "clay-sync-r7-abcde", "BackOff", T0 + 9, 4),  # a pod of our ReplicaSet (already replaced)
        _ev("Pod", "other-app-5f-xyz", "BackOff", T0 + 8),
        _ev("Node", "n-2", "NodeNotReady", T0 + 7),
        _ev("Node", "n-9", "NodeNotReady", T0 + 6),  # runs none of our pods
        _ev("ReplicaSet", "clay-sync-r7", "FailedCreate", T0 + 5),
        _ev("Deployment", "clay-sync", "ProgressDeadlineExceeded", T0 + 4),
        _ev("Deployment", "clay-sync-worker", "ProgressDeadlineExceeded", T0 + 3),
    )
    empty: Reading[InfraSnapshot] = Reading()
    assert f.arrived("events", (watched, T0), empty, T0) is None  # no poll yet: nothing to show
    polled = f.polled(snap((node(),), (rev(7, "1.14.3"),)))
    assert isinstance(polled, InfraSnapshot)
    assert [(e.kind, e.name) for e in polled.events] == [
        ("Pod", "clay-sync-r7-abcde"),
        ("Node", "n-2"),
        ("ReplicaSet", "clay-sync-r7"),
        ("Deployment", "clay-sync"),
    ]
    assert polled.events_watched_since == T0 and polled.missing == ()
    reading = Reading(value=polled, updated_at=T0, checked_at=T0)
    fault = SourceError("infra", ErrorKind.FORBIDDEN, "events: forbidden", "ask for list and watch on events")
    after = f.arrived("fault", fault, reading, T0 + 1)
    assert after is not None and after.value is not None and after.value.missing == (fault,)
    assert after.value.events == polled.events  # the last events stay, the failure is named beside them
    assert f.arrived("fault", fault, after, T0 + 2) is None  # the same failure again: nothing new
    error = SourceError("infra", ErrorKind.TIMEOUT, "slow", "check")
    assert f.polled(error) is error
    assert f.arrived("ended", None, after, T0 + 3) is None and timers.armed and timers.armed[0][0] > 0
    assert replace(after.value, missing=()) == polled
