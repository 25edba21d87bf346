"""The sync engine (issue 17) against the drill's Kubernetes API, over HTTPS
with the official client: what one cockpit writes the other pulls; a
partition (a 403 fault, the API stopped, an answer lost after the write)
keeps the events local and, healed, sends each exactly once; a restarted
engine resends nothing; interleaved syncs of three cockpits converge."""

from __future__ import annotations

import contextlib
import json
import random
import socket
import threading
from collections import Counter
from dataclasses import replace
from pathlib import Path

from clay_cockpit.config import config_from_toml
from clay_cockpit.incident.events import EventKind
from clay_cockpit.incident.shared_sync import SharedSync, SyncState, Why
from clay_cockpit.incident.timeline import Timeline
from clay_cockpit.signals import ErrorKind, SourceError
from clay_cockpit.sources.kube import Kube
from clay_cockpit.sources.kube_incident import SharedIncidents

INC = "INC-7"


def store(sim) -> SharedIncidents:
    return SharedIncidents(Kube(replace(config_from_toml(sim.config_dict(), "drill.toml").kube)))


def cockpit(sim, folder: Path, name: str) -> tuple[Timeline, SharedSync]:
    tl = Timeline(folder / f"{name}.jsonl", actor=f"{name}@drill")
    return tl, SharedSync(tl.path, INC, store(sim))


class Cable:
    """A TCP forwarder in front of the drill's API, for one cockpit only: ``cut()`` closes it
    (connections reset, new ones refused), ``mend()`` opens it again on the same port."""

    def __init__(self, port: int) -> None:
        self.target = ("127.0.0.1", port)
        self.port = 0
        self._conns: list[socket.socket] = []
        self._server: socket.socket | None = None
        self.mend()

    def mend(self) -> None:
        srv = socket.create_server(("127.0.0.1", self.port))
        self.port = srv.getsockname()[1]
        self._server = srv
        threading.Thread(target=self._accept, args=(srv,), daemon=True).start()

    def _accept(self, srv: socket.socket) -> None:
        while True:
            try:
                client, _ = srv.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def cut(self) -> None:
        if self._server is not None:
            with contextlib.suppress(OSError):
                self._server.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(): a close alone would not stop it
            self._server.close()
            self._server = None
        for c in self._conns:
            with contextlib.suppress(OSError):
                c.close()
        self._conns.clear()


def store_through(sim, cable: Cable) -> SharedIncidents:
    doc = json.loads(Path(sim.kubeconfig).read_text())
    doc["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{cable.port}"
    path = Path(sim.kubeconfig).with_name("kubeconfig-through-cable")
    path.write_text(json.dumps(doc))
    kube = replace(config_from_toml(sim.config_dict(), "drill.toml").kube, kubeconfig=str(path))
    return SharedIncidents(Kube(kube))


def shared_ids(sim) -> Counter[str]:
    got = store(sim).read_events(INC)
    assert isinstance(got, list), got
    return Counter(json.loads(ln)["id"] for ln in got)


def sync(eng: SharedSync, tl: Timeline) -> None:
    assert not isinstance(eng.push(), SourceError), eng.status
    got = eng.pull()
    assert isinstance(got, tuple), got
    eng.adopt(tl, got)


def test_what_one_cockpit_writes_the_other_pulls(sim, tmp_path) -> None:
    (ta, a), (tb, b) = cockpit(sim, tmp_path, "ana"), cockpit(sim, tmp_path, "bo")
    assert store(sim).declare(INC, "ana@drill", 1000.0).incident_id == INC
    ta.append(EventKind.NOTE, "a: rollback started", {"text": "rollback"})
    tb.append(EventKind.NOTE, "b: paging db team")
    assert a.push() == 1 and b.push() == 1
    got = b.pull()
    assert isinstance(got, tuple) and [e.summary for e in got] == ["a: rollback started"] and got[0].actor == "ana@drill"
    assert b.adopt(tb, got) == 1
    sync(a, ta)
    assert [e.summary for e in ta.events()] == ["a: rollback started", "b: paging db team"]
    assert a.local_ids() == b.local_ids() == set(shared_ids(sim))
    assert a.status.state is SyncState.IN_SYNC and a.status.line() == "in sync"
    assert b.push() == 0  # the adopted event is not b's to send


def test_a_partition_keeps_events_local_and_healed_sends_each_once(sim, tmp_path) -> None:
    (ta, a), (tb, b) = cockpit(sim, tmp_path, "ana"), cockpit(sim, tmp_path, "bo")
    ta.append(EventKind.NOTE, "before")
    assert a.push() == 1
    sim.fault("kube", status=403)
    try:
        for i in range(3):
            ta.append(EventKind.NOTE, f"forbidden {i}")
            got = a.push()
            assert isinstance(got, SourceError) and got.kind is ErrorKind.FORBIDDEN
        tb.append(EventKind.NOTE, "b meanwhile")
        assert isinstance(b.pull(), SourceError)
    finally:
        sim.clear_fault("kube")
    assert (a.status.state, a.status.why, a.status.pending, a.sent) == (SyncState.LOCAL_ONLY, Why.FORBIDDEN, 3, 1)
    assert "local only (forbidden)" in a.status.line()
    sim.stop_service("kube")
    try:
        ta.append(EventKind.NOTE, "unreachable")
        assert isinstance(a.push(), SourceError) and a.status.why is Why.UNREACHABLE and a.status.pending == 4
    finally:
        sim.start_service("kube")
    assert a.push() == 4 and a.status.state is SyncState.IN_SYNC and a.status.pending == 0
    sim.fault("kube", after_commit="reset", times=1)  # the append lands; its answer is lost on the way back
    ta.append(EventKind.NOTE, "answer lost")
    assert isinstance(a.push(), SourceError) and a.status.state is SyncState.LOCAL_ONLY
    assert a.push() == 1  # offered again: written once
    for _ in range(2):
        sync(b, tb)
        sync(a, ta)
    ids = shared_ids(sim)
    assert len(ids) == 7 and set(ids.values()) == {1}, ids
    assert a.local_ids() == b.local_ids() == set(ids)
    assert len(ta.events()) == len(tb.events()) == 7


def test_a_partition_of_one_cockpit_while_the_others_work_on(sim, tmp_path) -> None:
    server = json.loads(Path(sim.kubeconfig).read_text())["clusters"][0]["cluster"]["server"]
    cable = Cable(int(server.rsplit(":", 1)[1]))
    (ta, a), (tb, b) = cockpit(sim, tmp_path, "ana"), cockpit(sim, tmp_path, "bo")
    a = SharedSync(ta.path, INC, store_through(sim, cable))  # ana's cockpit reaches the API through the cable
    try:
        ta.append(EventKind.NOTE, "a before")
        sync(a, ta)
        cable.cut()
        for i in range(3):
            ta.append(EventKind.NOTE, f"a cut off {i}")
            tb.append(EventKind.NOTE, f"b works on {i}")
            assert isinstance(a.push(), SourceError) and isinstance(a.pull(), SourceError)
            sync(b, tb)
        assert (a.status.state, a.status.why, a.status.pending) == (SyncState.LOCAL_ONLY, Why.UNREACHABLE, 3)
        assert b.status.state is SyncState.IN_SYNC and len(tb.events()) == 4
        cable.mend()
        for _ in range(2):
            sync(a, ta)
            sync(b, tb)
        ids = shared_ids(sim)
        assert len(ids) == 7 and set(ids.values()) == {1}, ids
        assert a.local_ids() == b.local_ids() == set(ids) and len(ta.events()) == len(tb.events()) == 7
        assert a.status.state is SyncState.IN_SYNC
    finally:
        cable.cut()


def test_a_read_only_responder_reads_and_keeps_its_own_events_local(sim, tmp_path) -> None:
    (ta, a), (tb, b) = cockpit(sim, tmp_path, "ana"), cockpit(sim, tmp_path, "bo")
    ta.append(EventKind.NOTE, "from a")
    assert a.push() == 1
    for verb in ("create", "update"):
        sim.kube("deny", verb=verb, resource="configmaps")
    tb.append(EventKind.NOTE, "from b")
    got = b.pull()
    assert isinstance(got, tuple) and [e.summary for e in got] == ["from a"]
    assert isinstance(b.push(), SourceError) and (b.status.state, b.status.why) == (SyncState.LOCAL_ONLY, Why.READ_ONLY)
    sim.kube("allow_all")
    assert b.push() == 1 and b.status.state is SyncState.IN_SYNC


def test_a_restarted_engine_sends_nothing_again(sim, tmp_path) -> None:
    tl, eng = cockpit(sim, tmp_path, "ana")
    for i in range(5):
        tl.append(EventKind.NOTE, f"n{i}")
    assert eng.push() == 5
    before = len(sim.requests("kube"))
    again = SharedSync(tl.path, INC, store(sim))  # a new process on the same files
    assert again.cockpit == eng.cockpit and again.sent == 5
    assert again.push() == 0
    assert len(sim.requests("kube")) == before  # nothing to send: not one request
    tl.append(EventKind.NOTE, "n5")
    assert again.push() == 1
    ids = shared_ids(sim)
    assert len(ids) == 6 and set(ids.values()) == {1}


def test_interleaved_syncs_of_three_cockpits_converge(sim, tmp_path) -> None:
    rng = random.Random(17)
    cockpits = [cockpit(sim, tmp_path, name) for name in ("ana", "bo", "cy")]
    written = 0
    for _ in range(60):
        tl, eng = rng.choice(cockpits)
        what = rng.choice(["write", "write", "push", "pull"])
        if what == "write":
            tl.append(EventKind.NOTE, f"{written}")
            written += 1
        elif what == "push":
            assert not isinstance(eng.push(), SourceError)
        else:
            got = eng.pull()
            assert isinstance(got, tuple)
            eng.adopt(tl, got)
    for _ in range(2):
        for tl, eng in cockpits:
            sync(eng, tl)
    ids = shared_ids(sim)
    assert len(ids) == written and set(ids.values()) == {1}
    for tl, eng in cockpits:
        assert eng.local_ids() == set(ids)
        assert sorted(e.summary for e in tl.events()) == sorted(str(i) for i in range(written))
