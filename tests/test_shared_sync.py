"""The sync engine (issue 17: cockpit/incident/shared_sync.py) against an
in-memory store: the mark, adoption, the status, and a property test that
interleaved pushes, pulls and failing sends of three cockpits end with one
merged set, each event once everywhere."""

from __future__ import annotations

import json
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from clay_cockpit.incident import shared_merge as sm
from clay_cockpit.incident.events import EventKind
from clay_cockpit.incident.shared_sync import ID_KEY, SharedSync, SyncState, Why
from clay_cockpit.incident.timeline import Timeline
from clay_cockpit.signals import ErrorKind, SourceError


class MemoryStore:
    """The store's contract in memory: append writes the ids not held yet. ``fail`` makes the next
    calls fail (``lost_reply``: the append lands but its answer is lost)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.calls: list[tuple[str, int]] = []
        self.fail: SourceError | None = None
        self.lost_reply = False

    def append(self, incident_id: str, lines: Sequence[tuple[str, str]]) -> int | SourceError:
        self.calls.append(("append", len(lines)))
        if self.fail is not None and not self.lost_reply:
            return self.fail
        held = {json.loads(ln)["id"] for ln in self.lines}
        todo = [ln for i, ln in dict(lines).items() if i not in held]
        self.lines += todo
        return self.fail if self.fail is not None else len(todo)

    def read_events(self, incident_id: str) -> list[str] | SourceError:
        self.calls.append(("read", 0))
        if self.fail is not None and self.fail.kind is not ErrorKind.FORBIDDEN:
            return self.fail
        return list(self.lines)

    def ids(self) -> list[str]:
        return [json.loads(ln)["id"] for ln in self.lines]


def forbidden() -> SourceError:
    return SourceError("incident-sync", ErrorKind.FORBIDDEN, "configmaps update refused", "ask for the verbs", status_code=403)


def unreachable() -> SourceError:
    return SourceError("incident-sync", ErrorKind.UNREACHABLE, "connection refused", "is the API up?")


def note(tl: Timeline, text: str) -> None:
    tl.append(EventKind.NOTE, text, {"text": text})


def test_push_sends_own_events_once_and_keeps_a_durable_mark(tmp_path) -> None:
    store = MemoryStore()
    path = tmp_path / "a.jsonl"
    with Timeline(path, actor="ana@b1") as tl:
        for i in range(3):
            note(tl, f"n{i}")
        eng = SharedSync(path, "INC-1", store)
        assert eng.status.state is SyncState.UNKNOWN
        assert eng.push() == 3 and eng.sent == 3 and eng.status.state is SyncState.IN_SYNC
        assert store.ids() == [f"{eng.cockpit}:{i}" for i in (1, 2, 3)]
        calls = len(store.calls)
        assert eng.push() == 0 and len(store.calls) == calls  # nothing to send: no call at all
        note(tl, "n3")
        again = SharedSync(path, "INC-1", store)  # a restart: the same cockpit id, the same mark
        assert again.cockpit == eng.cockpit and again.sent == 3
        assert again.push() == 1 and store.calls[-1] == ("append", 1)
        assert sorted(store.ids()) == sorted({*store.ids()}) and len(store.ids()) == 4
        other = SharedSync(path, "INC-2", store)  # the mark is the incident's: another one starts from 0
        assert other.cockpit == eng.cockpit and other.sent == 0


def test_a_lost_mark_resends_harmlessly(tmp_path) -> None:
    store = MemoryStore()
    path = tmp_path / "a.jsonl"
    with Timeline(path, actor="ana@b1") as tl:
        note(tl, "one")
        note(tl, "two")
        eng = SharedSync(path, "INC-1", store)
        store.fail, store.lost_reply = unreachable(), True  # the append lands, its answer does not
        assert isinstance(eng.push(), SourceError) and eng.sent == 0 and len(store.ids()) == 2
        store.fail = None
        assert eng.push() == 2 and eng.sent == 2 and len(store.ids()) == 2  # offered again, written once


def test_pull_returns_what_the_local_copy_lacks_and_adopted_events_are_not_pushed_back(tmp_path) -> None:
    store = MemoryStore()
    with Timeline(tmp_path / "a.jsonl", actor="ana@b1") as ta, Timeline(tmp_path / "b.jsonl", actor="bo@b2") as tb:
        a, b = SharedSync(ta.path, "INC-1", store), SharedSync(tb.path, "INC-1", store)
        note(ta, "from a")
        a.push()
        got = b.pull()
        assert isinstance(got, tuple) and [e.summary for e in got] == ["from a"] and got[0].data[ID_KEY] == f"{a.cockpit}:1"
        assert got[0].actor == "ana@b1"
        assert b.pull() == got  # pulling changes nothing
        assert b.adopt(tb, got) == 1 and b.adopt(tb, got) == 0  # adopting twice appends once
        assert b.pull() == () and a.pull() == ()
        assert b.push() == 0 and len(store.ids()) == 1  # the adopted event is not b's to send
        assert b.local_ids() == a.local_ids() == {f"{a.cockpit}:1"}


def test_status_says_local_only_and_why(tmp_path) -> None:
    store = MemoryStore()
    with Timeline(tmp_path / "a.jsonl", actor="ana@b1") as tl:
        eng = SharedSync(tl.path, "INC-1", store)
        note(tl, "x")
        store.fail = unreachable()
        assert isinstance(eng.push(), SourceError)
        st_ = eng.status
        assert (st_.state, st_.why, st_.pending, st_.error) == (SyncState.LOCAL_ONLY, Why.UNREACHABLE, 1, store.fail)
        assert st_.line().startswith("local only (unreachable); 1 event kept locally: unreachable: connection refused")
        store.fail = forbidden()  # reads allowed, writes refused: read-only
        assert eng.pull() == () and isinstance(eng.push(), SourceError)
        assert eng.status.why is Why.READ_ONLY
        store.fail = None
        assert eng.push() == 1 and eng.status.state is SyncState.IN_SYNC and eng.status.line() == "in sync"


def test_an_unwritable_state_file_keeps_the_mark_in_memory(tmp_path) -> None:
    store = MemoryStore()
    path = tmp_path / "a.jsonl"
    with Timeline(path, actor="ana@b1") as tl:
        note(tl, "x")
        (tmp_path / "a.jsonl.sync").mkdir()  # the state file's name taken by a folder: not writable
        eng = SharedSync(path, "INC-1", store)
        assert eng.state_error and eng.push() == 1 and eng.sent == 1 and eng.push() == 0


@settings(max_examples=40, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(["write", "push", "pull", "fail", "heal", "restart"]), st.integers(0, 2)),
        max_size=40,
    )
)
def test_interleaved_pushes_and_pulls_of_three_cockpits_end_with_one_merged_set(tmp_path_factory, steps) -> None:
    tmp = tmp_path_factory.mktemp("sync")
    store = MemoryStore()
    tls = [Timeline(tmp / f"{n}.jsonl", actor=f"r{n}@h", clock=lambda: 1000.0) for n in range(3)]
    engines = [SharedSync(tl.path, "INC-1", store) for tl in tls]
    written: set[str] = set()
    try:
        for what, n in steps:
            eng, tl = engines[n], tls[n]
            if what == "write":
                written.add(sm.event_id(eng.cockpit, tl.append(EventKind.NOTE, "x").seq))
            elif what == "push":
                eng.push()
            elif what == "pull":
                got = eng.pull()
                if isinstance(got, tuple):
                    eng.adopt(tl, got)
            elif what == "fail":
                store.fail, store.lost_reply = (unreachable(), n == 1) if n else (forbidden(), False)
            elif what == "heal":
                store.fail = None
            else:
                engines[n] = SharedSync(tl.path, "INC-1", store)
        store.fail = None
        for _ in range(2):
            for eng, tl in zip(engines, tls):
                assert not isinstance(eng.push(), SourceError)
                got = eng.pull()
                assert isinstance(got, tuple)
                eng.adopt(tl, got)
        assert len(store.ids()) == len(set(store.ids())) and set(store.ids()) == written
        for eng in engines:
            local = [eng._id_of(e) for e in eng._local()]
            assert len(local) == len(set(local)) and set(local) == written
    finally:
        for tl in tls:
            tl.close()
