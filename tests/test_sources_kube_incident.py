"""The shared incident's store (issue 17) against the drill's Kubernetes API,
over HTTPS with the official client: concurrent declarations converge on one
incident, concurrent appends land exactly once each, a refusal is a named
SourceError, and a watch sees another cockpit's append within 2 s."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

from clay_cockpit.config import config_from_toml
from clay_cockpit.incident import shared_merge as sm
from clay_cockpit.incident.events import Event, EventKind
from clay_cockpit.signals import ErrorKind, SourceError
from clay_cockpit.sources.kube import Kube
from clay_cockpit.sources.kube_incident import EVENTS_KEY, POINTER, SharedIncidents, chunk_name, head_name


def store(sim, **kw) -> SharedIncidents:
    return SharedIncidents(Kube(replace(config_from_toml(sim.config_dict(), "drill.toml").kube)), **kw)


def lines(cockpit: str, n: int, start: int = 1, size: int = 40) -> list[tuple[str, str]]:
    out = []
    for seq in range(start, start + n):
        e = sm.share(Event(seq, 1000.0 + seq, EventKind.NOTE, f"note {seq}", cockpit, {"text": "x" * size}), cockpit)
        out.append((e.id, e.line))
    return out


def in_parallel(*calls):
    results: list[object] = [None] * len(calls)
    go = threading.Barrier(len(calls))

    def run(i: int) -> None:
        go.wait()
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_two_declarations_at_once_end_in_one_incident_with_both_in_it(sim) -> None:
    a, b = store(sim), store(sim)
    got = in_parallel(lambda: a.declare("INC-A", "ana@b1", 1000.0), lambda: b.declare("INC-B", "bo@b2", 1000.1))
    assert all(not isinstance(g, SourceError) for g in got), got
    ids = {g.incident_id for g in got}
    assert len(ids) == 1 and sorted(g.joined for g in got) == [False, True]
    (winner,) = ids
    assert a.open_incident()["incident"] == winner == b.open_incident()["incident"]
    # a later cockpit joins; after the resolution a new declaration replaces the pointer
    assert store(sim).declare("INC-C", "cy@b3", 1001.0).incident_id == winner
    assert a.resolve(winner) is True and a.open_incident() is None
    fresh = b.declare("INC-D", "bo@b2", 2000.0)
    assert fresh.incident_id == "INC-D" and not fresh.joined
    core = a._apis()[0]
    assert core.read_namespaced_config_map(head_name("INC-D"), a.namespace).data["declared_by"] == "bo@b2"


def test_concurrent_appends_from_two_cockpits_each_land_exactly_once(sim) -> None:
    a, b = store(sim, cap=16 * 1024), store(sim, cap=16 * 1024)
    assert a.declare("INC-1", "ana@b1", 1000.0).incident_id == "INC-1"
    mine, theirs = lines("ana", 60, size=300), lines("bo", 60, size=300)
    got = in_parallel(*[lambda i=i: a.append("INC-1", mine[i : i + 10]) for i in range(0, 60, 10)],
                      *[lambda i=i: b.append("INC-1", theirs[i : i + 10]) for i in range(0, 60, 10)])  # fmt: skip
    assert all(isinstance(g, int) for g in got), got
    assert sum(got) == 120
    assert a.append("INC-1", mine + theirs) == 0  # a retry writes nothing twice
    read = a.read_events("INC-1")
    assert isinstance(read, list) and len(read) == 120 == len({sm.parse_line(ln).id for ln in read})
    core = a._apis()[0]
    names = [cm.metadata.name for cm in core.list_namespaced_config_map(a.namespace, label_selector="clay-cockpit/part=events").items]
    assert len(names) >= 3 and chunk_name("INC-1", 0) in names  # 16 KB chunks: full ones were followed by new ones
    for name in names:
        assert len(core.read_namespaced_config_map(name, a.namespace).data[EVENTS_KEY].encode()) <= 16 * 1024
    merged = sm.merge(*(sm.decode_chunk(ln)[0] for ln in read))
    assert [e.id for e in merged] == [e.id for e in sm.merge([sm.parse_line(ln) for _, ln in mine + theirs])]


def test_the_head_is_written_with_optimistic_concurrency(sim) -> None:
    a, b = store(sim), store(sim)
    a.declare("INC-1", "ana@b1", 1000.0)

    def bump(stored: dict[str, str]) -> dict[str, str]:
        time.sleep(0.05)  # widen the read-write window: the other one writes in it
        return {**stored, "n": str(int(stored.get("n", "0")) + 1)}

    got = in_parallel(*[lambda s=s: s.put_head("INC-1", bump) for s in (a, b, a, b)])
    assert all(isinstance(g, dict) for g in got), got
    core = a._apis()[0]
    assert core.read_namespaced_config_map(head_name("INC-1"), a.namespace).data["n"] == "4"


def test_a_refusal_is_a_named_source_error(sim) -> None:
    s = store(sim)
    sim.kube("deny", verb="create", resource="configmaps")
    got = s.declare("INC-1", "ana@b1", 1000.0)
    assert isinstance(got, SourceError) and got.kind is ErrorKind.FORBIDDEN and got.status_code == 403
    assert got.source == "incident-sync" and "configmaps" in got.message
    sim.kube("allow_all")
    assert s.declare("INC-1", "ana@b1", 1000.0).incident_id == "INC-1"
    sim.fault("kube", status=403)
    try:
        for got in (s.append("INC-1", lines("ana", 1)), s.present("INC-1", "ana@b1"), s.read_events("INC-1")):
            assert isinstance(got, SourceError) and got.kind is ErrorKind.FORBIDDEN, got
    finally:
        sim.clear_fault("kube")


def test_a_watch_sees_the_other_cockpits_append_within_2_s(sim) -> None:
    a, b = store(sim), store(sim)
    a.declare("INC-1", "ana@b1", 1000.0)
    changed = threading.Event()
    w = b.watch("INC-1", on_change=changed.set)
    t = threading.Thread(target=w.run, daemon=True)
    t.start()
    try:
        deadline = time.monotonic() + 10
        while not w.listed and time.monotonic() < deadline:
            time.sleep(0.05)
        assert w.listed and {o[0] for o in w.objects()} == {head_name("INC-1"), POINTER}  # the pointer too: a resolution shows
        changed.clear()
        started = time.monotonic()
        assert a.append("INC-1", lines("ana", 3)) == 3
        assert changed.wait(2.0), "no change seen within 2 s"
        while time.monotonic() - started < 2.0 and chunk_name("INC-1", 0) not in {o[0] for o in w.objects()}:
            time.sleep(0.02)
        chunk = {o[0]: o[2] for o in w.objects()}[chunk_name("INC-1", 0)]
        assert time.monotonic() - started < 2.0 and len(sm.decode_chunk(chunk[EVENTS_KEY])[0]) == 3
    finally:
        w.close()
        t.join(5)


def test_presence_leases_say_who_is_in_the_incident(sim) -> None:
    a, b = store(sim), store(sim)
    assert not isinstance(a.present("INC-1", "ana@b1", 30, wall=lambda: 1000.0), SourceError)
    assert not isinstance(b.present("INC-1", "bo@b2", 30, wall=lambda: 1000.0), SourceError)
    renewed = a.present("INC-1", "ana@b1", 30, wall=lambda: 1010.0)
    assert not isinstance(renewed, SourceError)
    who = a.presence("INC-1")
    assert isinstance(who, list) and [p.responder for p in who] == ["ana@b1", "bo@b2"]
    assert who[0].renewed.startswith("1970-01-01T00:16:50") and renewed.renewed.startswith("1970-01-01T00:16:50")
    assert a.presence("INC-2") == []
