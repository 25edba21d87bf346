"""The infrastructure source's pure half (issue 14): Event objects in both
API forms → KubeEvent, recorded real payloads (tests/fixtures/real/), the
deduplication and ordering of the event book (a hypothesis property), nodes,
rollout history and what changed between two revisions."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from clay_cockpit.sources.kube_events import EventBook, aggregate, epoch, parse_event
from clay_cockpit.sources.kube_infra import config_change, image_tag, node_info, referenced, revisions, rollout_changes, template_diff

REAL = Path(__file__).parent / "fixtures" / "real"


def real(name: str) -> dict:
    return json.loads((REAL / name).read_text(encoding="utf-8"))


def test_a_recorded_core_event() -> None:
    e = parse_event(real("k8s-event-unhealthy-readiness.json"))
    assert e is not None
    assert (e.kind, e.reason, e.type, e.count) == ("Pod", "Unhealthy", "Warning", 4)
    assert e.name == "basketball-live-api-20220224201321-9b7083b-54989875d7-52xnl"
    assert (
        e.message == "Readiness probe failed: Get http://10.41.180.10:8080/health: dial tcp 10.41.180.10:8080: connect: connection refused"
    )
    assert e.first_seen == epoch("2022-03-03T04:09:23Z") and e.last_seen == epoch("2022-03-03T04:10:08Z")
    assert e.source == "kubelet, cn-hangzhou.10.41.129.225"  # reportingComponent is "" there: the old source names it
    assert e.field_path == "spec.containers{basketball-live-api}"


def test_a_recorded_node() -> None:
    n = node_info(real("k8s-node-ready-microk8s.json"), ("p-1",))
    assert (n.name, n.ready, n.pressure, n.unschedulable, n.pods, n.message) == ("repldev-marc", True, (), False, ("p-1",), "")
    assert n.since == epoch("2019-10-31T21:28:36Z")


def test_the_same_event_in_the_events_api_form() -> None:
    core = real("k8s-event-unhealthy-readiness.json")
    # events.k8s.io/v1 serves the same stored object with these names (the API's own conversion)
    v1 = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": core["metadata"],
        "eventTime": None,
        "reportingController": "",
        "reportingInstance": "",
        "regarding": core["involvedObject"],
        "reason": core["reason"],
        "note": core["message"],
        "type": core["type"],
        "deprecatedSource": core["source"],
        "deprecatedFirstTimestamp": core["firstTimestamp"],
        "deprecatedLastTimestamp": core["lastTimestamp"],
        "deprecatedCount": core["count"],
    }
    assert parse_event(v1) == parse_event(core)


def test_series_counts_and_times_win() -> None:
    obj = {
        "metadata": {"uid": "u1", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "regarding": {"kind": "Pod", "name": "p"},
        "reason": "BackOff",
        "note": "Back-off restarting failed container app",
        "type": "Warning",
        "eventTime": "2026-01-01T00:00:00.123456Z",
        "series": {"count": 17, "lastObservedTime": "2026-01-01T00:05:00.000001Z"},
        "reportingController": "kubelet",
        "reportingInstance": "node-2",
    }
    e = parse_event(obj)
    assert e is not None and e.count == 17 and e.last_seen == epoch("2026-01-01T00:05:00.000001Z")
    assert e.first_seen == epoch("2026-01-01T00:00:00.123456Z") and e.source == "kubelet, node-2"
    assert epoch("2026-01-01T00:00:00.123456789Z") == epoch("2026-01-01T00:00:00.123456Z")
    assert parse_event({"reason": "x"}) is None and parse_event("nope") is None


# -- the event book: any interleaving of ADDED / MODIFIED / DELETED ------------------

KEYS = st.sampled_from(
    [("Pod", "a", "BackOff", "m1"), ("Pod", "a", "BackOff", "m2"), ("Pod", "b", "Unhealthy", "m1"), ("Node", "n", "X", "m")]
)
OPS = st.lists(
    st.tuples(st.sampled_from(["ADDED", "MODIFIED", "DELETED"]), st.integers(0, 7), KEYS, st.integers(1, 50), st.integers(0, 3600)),
    max_size=60,
)


def _obj(uid: int, key: tuple[str, str, str, str], count: int, t: int) -> dict:
    kind, name, reason, message = key
    stamp = f"2026-01-01T{t // 3600:02d}:{t % 3600 // 60:02d}:{t % 60:02d}Z"
    return {
        "metadata": {"uid": f"u{uid}", "name": f"{name}.{uid}", "namespace": "ns"},
        "involvedObject": {"kind": kind, "name": name},
        "reason": reason,
        "message": message,
        "type": "Warning",
        "count": count,
        "firstTimestamp": "2026-01-01T00:00:00Z",
        "lastTimestamp": stamp,
    }


@settings(max_examples=300, deadline=None)
@given(OPS, st.integers(1, 4))
def test_dedup_is_one_per_key_with_the_newest_counts_newest_first_and_bounded(ops, limit) -> None:
    book = EventBook(limit=8)
    model: dict[int, tuple[tuple[str, str, str, str], int, int]] = {}  # uid → (key, count, last)
    for op, uid, key, count, t in ops:
        obj = _obj(uid, key, count, t)
        book.apply(op, obj)
        if op == "DELETED":
            model.pop(uid, None)
        else:
            model[uid] = (key, count, t)
    got = book.events(limit)
    want: dict[tuple[str, str, str, str], tuple[int, int]] = {}
    for key, count, t in model.values():
        c, last = want.get(key, (0, -1))
        want[key] = (c + count, max(last, t))
    keys = [(e.kind, e.name, e.reason, e.message) for e in got]
    assert len(keys) == len(set(keys)) == min(limit, len(want))  # one per key, bounded
    lasts = [e.last_seen for e in got]
    assert lasts == sorted(lasts, reverse=True)  # newest first
    for e in got:
        count, last = want[(e.kind, e.name, e.reason, e.message)]
        assert e.count == count  # each object's newest count, summed over the objects of the key
        assert e.last_seen == epoch("2026-01-01T00:00:00Z") + last
    if len(want) > limit:  # what the bound drops is older than what it keeps
        kept = {(e.kind, e.name, e.reason, e.message) for e in got}
        dropped = [last for key, (_, last) in want.items() if key not in kept]
        assert max(dropped) + epoch("2026-01-01T00:00:00Z") <= min(lasts)  # type: ignore[operator]


def test_the_book_is_bounded_by_objects() -> None:
    book = EventBook(limit=3)
    for uid in range(10):
        book.apply("ADDED", _obj(uid, ("Pod", f"p{uid}", "BackOff", "m"), 1, uid))
    assert len(book) == 3 and [e.name for e in book.events()] == ["p9", "p8", "p7"]
    assert book.apply("MODIFIED", {**_obj(9, ("Pod", "p9", "BackOff", "m"), 1, 9), "type": "Normal"})  # no longer a Warning: gone
    assert [e.name for e in book.events()] == ["p8", "p7"]
    assert aggregate([], 5) == ()


# -- nodes, history, what changed ---------------------------------------------------


def _node(conditions: list[dict], unschedulable: bool = False) -> dict:
    return {"metadata": {"name": "n-2"}, "spec": {"unschedulable": unschedulable}, "status": {"conditions": conditions}}


def test_node_pressure_and_not_ready() -> None:
    n = node_info(
        _node(
            [
                {"type": "MemoryPressure", "status": "True", "message": "kubelet has insufficient memory available"},
                {"type": "DiskPressure", "status": "False"},
                {"type": "Ready", "status": "False", "message": "PLEG is not healthy", "lastTransitionTime": "2026-01-01T00:00:00Z"},
            ],
            unschedulable=True,
        )
    )
    assert (n.ready, n.pressure, n.unschedulable, n.message) == (False, ("MemoryPressure",), True, "PLEG is not healthy")
    unknown = node_info(_node([{"type": "Ready", "status": "Unknown", "message": "Kubelet stopped posting node status."}]))
    assert unknown.ready is None and unknown.message == "Kubelet stopped posting node status."
    pressed = node_info(_node([{"type": "Ready", "status": "True"}, {"type": "PIDPressure", "status": "True", "message": "pids"}]))
    assert (pressed.ready, pressed.pressure, pressed.message) == (True, ("PIDPressure",), "pids")


def _container(image: str, env: list[dict], memory: str = "512Mi") -> dict:
    return {"name": "app", "image": image, "env": env, "resources": {"limits": {"memory": memory}}}


def _rs(number: int, name: str, container: dict, created: str, owner_uid: str = "d-uid", **annotations: str) -> dict:
    return {
        "metadata": {
            "name": name,
            "creationTimestamp": created,
            "annotations": {"deployment.kubernetes.io/revision": str(number), **annotations},
            "ownerReferences": [{"kind": "Deployment", "name": "clay-sync", "uid": owner_uid, "controller": True}],
        },
        "spec": {"template": {"spec": {"containers": [container]}}},
        "status": {"replicas": 3 if number == 7 else 0},
    }


SECRET_ENV = {"name": "CLAY_API_KEY", "valueFrom": {"secretKeyRef": {"name": "clay-api", "key": "api-key"}}}


def test_history_and_the_differences_between_revisions() -> None:
    old = _container(
        "registry/clay-sync:1.14.2",
        [{"name": "CLAY_TIMEOUT_MS", "value": "2000"}, {"name": "DB_PASSWORD", "value": "hunter2hunter2X"}, SECRET_ENV],
    )
    new = _container(
        "registry/clay-sync:1.14.3",
        [{"name": "CLAY_TIMEOUT_MS", "value": "500"}, {"name": "DB_PASSWORD", "value": "n3wPassw0rdValue"}],
        memory="1Gi",
    )
    deploy = {
        "metadata": {
            "name": "clay-sync",
            "uid": "d-uid",
            "annotations": {"deployment.kubernetes.io/revision": "7"},
            "managedFields": [
                {"manager": "kube-controller-manager", "operation": "Update", "time": "2026-01-01T00:10:00Z", "subresource": "status"},
                {"manager": "kubectl-set", "operation": "Update", "time": "2026-01-01T00:09:00Z"},
            ],
        }
    }
    rss = [
        _rs(6, "clay-sync-aaa", old, "2026-01-01T00:00:00Z"),
        _rs(7, "clay-sync-bbb", new, "2026-01-01T00:09:00Z", **{"kubernetes.io/change-cause": "kubectl set image"}),
        _rs(3, "other-ccc", old, "2025-01-01T00:00:00Z", owner_uid="someone-else"),
    ]
    hist = revisions(deploy, rss)
    assert [(r.number, r.replicaset, r.current, r.replicas) for r in hist] == [
        (7, "clay-sync-bbb", True, 3),
        (6, "clay-sync-aaa", False, 0),
    ]
    assert hist[0].images == (("app", "registry/clay-sync:1.14.3"),) and hist[0].change_cause == "kubectl set image"
    (change,) = rollout_changes(deploy, rss)
    assert change.summary == "rollout to 1.14.3 (revision 7) by kubectl-set" and change.by == "kubectl-set"
    assert change.at == epoch("2026-01-01T00:09:00Z")
    assert change.detail == (
        "image app: 1.14.2 → 1.14.3",
        "env CLAY_API_KEY removed (was from Secret clay-api/api-key)",
        "env CLAY_TIMEOUT_MS: 2000 → 500",
        "env DB_PASSWORD changed (value hidden)",
        "limits memory app: 512Mi → 1Gi",
        "change-cause: kubectl set image",
    )
    assert "hunter2" not in repr(change) and "n3wPassw0rd" not in repr(change)


def test_a_rollback_reuses_the_old_replicaset() -> None:
    old = _container("registry/clay-sync:1.14.2", [])
    new = _container("registry/clay-sync:1.14.3", [])
    back = _rs(8, "clay-sync-aaa", old, "2026-01-01T00:00:00Z", **{"deployment.kubernetes.io/revision-history": "6"})
    back["metadata"]["managedFields"] = [{"manager": "kube-controller-manager", "operation": "Update", "time": "2026-01-01T01:00:00Z"}]
    deploy = {"metadata": {"name": "clay-sync", "uid": "d-uid", "annotations": {"deployment.kubernetes.io/revision": "8"}}}
    changes = rollout_changes(deploy, [_rs(7, "clay-sync-bbb", new, "2026-01-01T00:09:00Z"), back])
    assert changes[0].summary == "rollback to 1.14.2 (revision 8)" and changes[0].at == epoch("2026-01-01T01:00:00Z")
    assert changes[0].detail == ("image app: 1.14.3 → 1.14.2",)


def test_restart_and_references() -> None:
    a = {"metadata": {}, "spec": {"containers": [_container("x:1", [])]}}
    b = {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z"}}, "spec": a["spec"]}
    assert template_diff(a, b) == ("restarted (kubectl rollout restart at 2026-01-01T00:00:00Z)",)
    template = {
        "spec": {
            "containers": [{"envFrom": [{"configMapRef": {"name": "flags"}}, {"secretRef": {"name": "creds"}}], "env": [SECRET_ENV]}],
            "volumes": [{"secret": {"secretName": "tls"}}, {"projected": {"sources": [{"configMap": {"name": "ca"}}]}}],
        }
    }
    assert referenced(template) == [
        ("ConfigMap", "flags"),
        ("Secret", "creds"),
        ("Secret", "clay-api"),
        ("Secret", "tls"),
        ("ConfigMap", "ca"),
    ]
    assert image_tag("registry:5000/app:1.2") == "1.2" and image_tag("registry:5000/app") == "registry:5000/app"
    assert image_tag("app@sha256:0123456789abcdef0123") == "0123456789ab"


def test_config_changes_from_managed_fields_or_seen_versions() -> None:
    meta = {
        "name": "clay-sync-flags",
        "creationTimestamp": "2025-11-01T00:00:00Z",
        "resourceVersion": "42",
        "managedFields": [
            {"manager": "kubectl-edit", "operation": "Update", "time": "2026-01-01T00:07:00Z"},
            {"manager": "kubectl-create", "operation": "Update", "time": "2025-11-01T00:00:00Z"},
        ],
    }
    c = config_change("ConfigMap", meta)
    assert (c.summary, c.at, c.what) == ("ConfigMap clay-sync-flags changed", epoch("2026-01-01T00:07:00Z"), "configmap")
    assert c.detail[0] == "kubectl-edit update at 2026-01-01T00:07:00Z"
    bare = {k: v for k, v in meta.items() if k != "managedFields"}
    assert config_change("Secret", bare).summary == "Secret clay-sync-flags created"
    seen = config_change("Secret", bare, 1_767_225_999.0)
    assert seen.summary == "Secret clay-sync-flags changed" and seen.at == 1_767_225_999.0
