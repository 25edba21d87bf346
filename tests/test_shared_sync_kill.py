"""kill -9 of one cockpit mid-write (issue 17): "loses nothing that cockpit had
acknowledged on screen, and leaves the others consistent", against the drill's
Kubernetes API over HTTPS with the official client.

Cockpit A is a child process (this file run as a script): it appends events to
its Timeline and pushes with SharedSync every few, and says on stdout, one
line each, where it is: ``A <seq>`` right after ``append`` returned (that
event is acknowledged), ``T`` before an append, ``P``/``p`` around a push,
``S``/``s`` around the store call (SharedIncidents.append: list the chunks,
PUT or POST one), ``M``/``m`` around the mark's ``_save``, ``L``/``l`` around the pull and ``D``/``d``
around adopting what it pulled (B's events) after each push. The parent kills it
with SIGKILL at a chosen moment (after N acknowledged events, or right when a
marker shows), and the last line A wrote tells where the kill landed. Two
windows too narrow to hit by chance are held open by the child itself: a line
half written (``W``: the rest never comes: a torn line) and the mark's temp
file fsynced but not renamed (``R``). Cockpit B works on in the parent
meanwhile (append, push, pull, adopt). After each kill A restarts (a new
SharedSync on the same files) and pushes, B syncs, and every event A
acknowledged is in A's file and in the cluster exactly once, nothing is in the
cluster twice, the cluster holds what A's file holds (same content by id),
B's copy holds what the cluster holds, and the state file is whole.
"""

from __future__ import annotations

import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from clay_cockpit.config import config_from_toml
from clay_cockpit.incident import shared_sync as shared_sync_module
from clay_cockpit.incident import timeline as timeline_module
from clay_cockpit.incident.events import EventKind
from clay_cockpit.incident.shared_sync import ID_KEY, SharedSync
from clay_cockpit.incident.timeline import Timeline
from clay_cockpit.incident.timeline_read import iter_events
from clay_cockpit.signals import SourceError
from clay_cockpit.sources import kube_incident
from clay_cockpit.sources.kube import Kube
from clay_cockpit.sources.kube_incident import SharedIncidents

INC = "INC-9"
CAP = 32 * 1024  # a small chunk cap: A and B often start the next chunk (a POST), not only fill the last one (a PUT)
WORDS = ("rollback", "db", "pool", "exhausted", "pager", "paged", "latency", "p95", "canary", "drained", "node", "retry")
WAIT = 20.0  # seconds: the deadline of any one wait on a child

PHASES = {
    "T": "in Timeline.append (write + fsync)",
    "W": "in Timeline.append, mid-write: torn line (held open)",
    "S": "in SharedIncidents.append (the chunk list + write)",
    "s": "the store answered, the mark not saved yet",
    "M": "in _save (the mark)",
    "R": "in _save, temp file fsynced, not renamed (held open)",
    "L": "in pull (reading the chunks)",
    "D": "in adopt (B's events appended to A's file)",
}


# -- the child: cockpit A -----------------------------------------------------------------


def _say(text: str) -> None:
    os.write(1, (text + "\n").encode())  # unbuffered: in the pipe before the next step begins


class _LoudStore:
    """The store, saying when each append starts (``S``) and ends (``s``), and each read (``L``, ``l``)."""

    def __init__(self, inner: SharedIncidents) -> None:
        self.inner = inner

    def append(self, incident_id: str, lines: Sequence[tuple[str, str]]) -> int | SourceError:
        _say("S")
        try:
            return self.inner.append(incident_id, lines)
        finally:
            _say("s")

    def read_events(self, incident_id: str) -> list[str] | SourceError:
        _say("L")
        try:
            return self.inner.read_events(incident_id)
        finally:
            _say("l")


class _Os:
    """The ``os`` module as one module sees it, one call held open: the ``at``-th
    ``write`` writes half its bytes, says ``W`` and never goes on (torn line); or the
    ``at``-th ``replace`` says ``R`` and never goes on (the mark's temp file not renamed)."""

    def __init__(self, call: str, at: int) -> None:
        self.call, self.at, self.calls = call, at, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def write(self, fd: int, data: bytes) -> int:
        if self.call == "write":
            self.calls += 1
            if self.calls == self.at:
                os.write(fd, data[: len(data) // 2])
                _say("W")
                time.sleep(WAIT * 3)  # the parent kills us here
        return os.write(fd, data)

    def replace(self, src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if self.call == "replace":
            self.calls += 1
            if self.calls == self.at:
                _say("R")
                time.sleep(WAIT * 3)
        os.replace(src, dst)


def _cockpit_a(path: str, config_file: str, seed: int, every: int, hold: str) -> None:
    if hold:
        call, at = hold.split(":")
        if call == "write":
            timeline_module.os = _Os(call, int(at))  # type: ignore[assignment]
        else:
            shared_sync_module.os = _Os(call, int(at))  # type: ignore[assignment]
    kube = config_from_toml(json.loads(Path(config_file).read_text()), "drill.toml").kube
    tl = Timeline(path, actor="ana@drill")
    shared = SharedIncidents(Kube(kube), cap=CAP)
    eng = SharedSync(path, INC, _LoudStore(shared))
    assert isinstance(shared.read_events(INC), list)  # the client built and connected, as a cockpit that starts pulls first
    save = eng._save

    def loud_save() -> None:
        _say("M")
        save()
        _say("m")

    eng._save = loud_save  # type: ignore[method-assign]
    rng = random.Random(seed)
    _say("ready")
    deadline = time.monotonic() + WAIT * 3  # never outlives a parent that died
    i = 0
    while time.monotonic() < deadline:
        i += 1
        text = " ".join(rng.choice(WORDS) for _ in range(rng.choice((10, 100, 400))))
        _say("T")
        ev = tl.append(EventKind.NOTE, f"a {seed}/{i}", {"text": text})
        _say(f"A {ev.seq}")
        if i % every == 0:
            _say("P")
            got = eng.push()
            _say("E" if isinstance(got, SourceError) else "p")
            pulled = eng.pull()
            if isinstance(pulled, tuple) and pulled:
                _say("D")
                eng.adopt(tl, pulled)
                _say("d")


class _NullStore:
    def append(self, incident_id: str, lines: Sequence[tuple[str, str]]) -> int | SourceError:
        return len(lines)

    def read_events(self, incident_id: str) -> list[str] | SourceError:
        return []


def _marks(path: str) -> None:
    """Only the mark, saved again and again: a kill at any moment lands in ``_save`` or next to it."""
    eng = SharedSync(path, INC, _NullStore())
    _say("ready")
    deadline = time.monotonic() + WAIT * 3
    while time.monotonic() < deadline:
        eng._sent += 1
        eng._save()


# -- the parent ------------------------------------------------------------------------------


class Child:
    """This file run as a script with ``args``; its stdout lines come through a queue."""

    def __init__(self, args: list[str], err: Path) -> None:
        self._err = err.open("wb")
        self.proc = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, stderr=self._err)
        self.lines: list[str] = []
        self._q: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self._q.put(raw.decode().strip())
        self._q.put(None)

    def until(self, done: Any) -> None:
        """Read lines until ``done(lines)`` holds (deadline: WAIT)."""
        deadline = time.monotonic() + WAIT
        while not done(self.lines):
            try:
                line = self._q.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"the child did not get there in {WAIT} s; last lines {self.lines[-5:]}") from None
            if line is None:
                raise AssertionError(f"the child ended (rc {self.proc.wait()}): {self._err.name}; last lines {self.lines[-5:]}")
            self.lines.append(line)

    def kill(self) -> str:
        """SIGKILL, then every line it wrote; the last marker (where the kill landed)."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        assert self.proc.wait(timeout=WAIT) == -signal.SIGKILL, self._err.name
        self._reader.join(timeout=WAIT)
        while (line := self._q.get_nowait()) is not None:
            self.lines.append(line)
        self._err.close()
        return self.lines[-1].split(" ")[0]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=WAIT)
        self._err.close()

    def acked(self) -> set[int]:
        return {int(ln.split(" ")[1]) for ln in self.lines if ln.startswith("A ")}


def count(marker: str, n: int) -> Any:
    return lambda lines: sum(1 for ln in lines if ln.split(" ")[0] == marker) >= n


def store(sim) -> SharedIncidents:
    return SharedIncidents(Kube(replace(config_from_toml(sim.config_dict(), "drill.toml").kube)), cap=CAP)


def shared(sim) -> dict[str, Any]:
    """The cluster's events by id; no id twice."""
    got = store(sim).read_events(INC)
    assert isinstance(got, list), got
    objs = [json.loads(ln) for ln in got]
    twice = {i: n for i, n in Counter(o["id"] for o in objs).items() if n > 1}
    assert not twice, f"in the cluster more than once: {twice}"
    return {o["id"]: o for o in objs}


class CockpitB:
    """The other cockpit, working on in a thread of the parent: append, push, pull and adopt,
    again and again. ``pause()`` stops it between two steps."""

    def __init__(self, sim, folder: Path) -> None:
        self.tl = Timeline(folder / "bo.jsonl", actor="bo@drill")
        self.eng = SharedSync(self.tl.path, INC, store(sim))
        self.n = 0
        self.errors: list[SourceError] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.n += 1
            self.tl.append(EventKind.NOTE, f"b {self.n}")
            self.sync(strict=False)
            self._stop.wait(0.01)  # pace (not a check): A gets the CPU too

    def sync(self, *, strict: bool = True) -> None:
        pushed = self.eng.push()
        pulled = self.eng.pull()
        for got in (pushed, pulled):
            if isinstance(got, SourceError):
                assert not strict, got
                self.errors.append(got)
        if isinstance(pulled, tuple):
            self.eng.adopt(self.tl, pulled)

    def pause(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=WAIT)
            assert not self._thread.is_alive()


@dataclass(frozen=True)
class Plan:
    """When to kill: after ``n`` of ``marker`` (``A``: acknowledged events), then ``delay`` s;
    ``every``: A pushes after that many appends; ``hold``: the window held open (``_Os``)."""

    marker: str
    n: int
    every: int = 3
    delay: float = 0.0
    hold: str = ""


PLANS = [
    Plan("A", 12, every=1),
    Plan("S", 6, every=4),
    Plan("s", 5, every=2),
    Plan("M", 8, every=1),
    Plan("T", 15, every=3),
    Plan("W", 1, every=2, hold="write:12"),  # a torn line: A's 12th line (its own or adopted) half written
    Plan("R", 1, every=2, hold="replace:5"),  # the mark's 5th save: temp file fsynced, not renamed
    Plan("A", 30, every=5),
    Plan("S", 8, every=3, delay=0.004),
    Plan("S", 4, every=6, delay=0.012),
    Plan("T", 20, every=2),
    Plan("M", 6, every=4),
    Plan("A", 20, every=2, delay=0.003),
]


def check_a(sim, path: Path, cockpit: str, acked: set[int]) -> dict[str, Any]:
    """Every event A acknowledged, and every event of A's file, in the cluster exactly once with the
    same content; nothing of A's in the cluster that A's file lacks. The cluster's events by id."""
    local = {e.seq: e for e in iter_events(path) if ID_KEY not in e.data}
    assert acked <= set(local), f"acknowledged but not in A's file: {sorted(acked - set(local))}"
    ids = shared(sim)
    mine = {i: o for i, o in ids.items() if i.startswith(cockpit + ":")}
    assert set(mine) == {f"{cockpit}:{s}" for s in local}, sorted(set(mine) ^ {f"{cockpit}:{s}" for s in local})
    for seq, e in local.items():
        o = mine[f"{cockpit}:{seq}"]
        assert (o["summary"], o["data"]["text"]) == (e.summary, e.data["text"]), seq  # one seq, one event
    return ids


def test_kill_9_of_one_cockpit_loses_nothing_it_acknowledged(sim, tmp_path, monkeypatch) -> None:
    conflicts = Counter[str]()
    backoff = kube_incident._backoff
    monkeypatch.setattr(kube_incident, "_backoff", lambda attempt: (conflicts.update(["409"]), backoff(attempt)))
    config_file = tmp_path / "drill-config.json"
    config_file.write_text(json.dumps(sim.config_dict(), default=str))
    path = tmp_path / "ana.jsonl"
    first = SharedSync(path, INC, store(sim))  # A's id, durable before the first child runs
    cockpit, state_path = first.cockpit, first.state_path
    b = CockpitB(sim, tmp_path)
    acked: set[int] = set()
    phases: Counter[str] = Counter()
    committed_unmarked = torn_seen = 0
    mark = 0
    rng = random.Random(17)
    try:
        for r, plan in enumerate(PLANS):
            child = Child(["cockpit", str(path), str(config_file), str(r), str(plan.every), plan.hold], tmp_path / f"a{r}.err")
            try:
                child.until(count("ready", 1))
                b.start()  # B works on while A writes and is killed
                child.until(count(plan.marker, plan.n))
                if plan.delay:
                    time.sleep(rng.uniform(0, plan.delay))  # where in the call the kill lands (not a check)
                last = child.kill()
            finally:
                child.stop()
            b.pause()
            acked |= child.acked()
            assert child.acked(), "A acknowledged nothing this round"

            # the state file, as the kill left it: whole, the same cockpit, the mark never back nor ahead
            state = json.loads(state_path.read_text())
            assert (state["cockpit"], state["incident"]) == (cockpit, INC) and state["sent"] >= mark, state
            if last == "R":
                held = json.loads(state_path.with_name(state_path.name + ".tmp").read_text())
                assert held["cockpit"] == cockpit and held["sent"] > state["sent"], (held, state)
            ids = shared(sim)
            own = [e.seq for e in iter_events(path) if ID_KEY not in e.data]
            assert all(f"{cockpit}:{s}" in ids for s in own if s <= state["sent"]), "the mark is ahead of the cluster"
            landed = any(f"{cockpit}:{s}" in ids for s in own if s > state["sent"])
            committed_unmarked += landed  # the write landed, its mark did not: the restart offers it again
            phases[PHASES.get(last, "between calls") + (" [its write had landed, the mark had not]" if landed else "")] += 1

            # the file, as the kill left it: a torn last line is reported and costs no acknowledged event
            tl = Timeline(path)
            try:
                if last == "W":
                    assert tl.report.torn and "torn" in tl.report.torn, tl.report
                    torn_seen += 1
                assert {e.seq for e in iter_events(path)} >= acked
            finally:
                tl.close()

            # A restarts: a new engine on the same files reads the mark and sends what is missing
            again = SharedSync(path, INC, store(sim))
            assert (again.cockpit, again.sent) == (cockpit, state["sent"])
            deadline = time.monotonic() + WAIT
            while isinstance(got := again.push(), SourceError):
                assert time.monotonic() < deadline, got
            mark = again.sent
            assert json.loads(state_path.read_text())["sent"] == mark
            b.sync()
            ids = check_a(sim, path, cockpit, acked)
            assert b.eng.local_ids() == set(ids), set(ids) ^ b.eng.local_ids()
        # the end: A syncs in full too, and both copies are the cluster's
        tl = Timeline(path, actor="ana@drill")
        try:
            a = SharedSync(path, INC, store(sim))
            for _ in range(2):
                assert not isinstance(a.push(), SourceError)
                pulled = a.pull()
                assert isinstance(pulled, tuple)
                a.adopt(tl, pulled)
                b.sync()
            ids = check_a(sim, path, cockpit, acked)
            assert a.local_ids() == b.eng.local_ids() == set(ids)
            assert len(list(iter_events(path))) == len(list(iter_events(b.tl.path))) == len(ids)
            bad = tl.report.bad_lines
        finally:
            tl.close()
    finally:
        b.pause()
    assert torn_seen == 1 and bad >= 1  # the torn line stays in A's file as a skipped line mid-file
    assert sum(n for p, n in phases.items() if p.startswith((PHASES["R"], PHASES["W"]))) == 2
    print(
        f"\nkill -9: {len(PLANS)} kills, {len(acked)} events acknowledged by A, {b.n} written by B, {len(ids)} in the cluster;"
        f" the write landed but not its mark: {committed_unmarked}; B met a 409 (A wrote first) {conflicts['409']} times,"
        f" B's failed syncs meanwhile: {len(b.errors)}"
    )
    for phase, n in phases.most_common():
        print(f"  {n:2d} × {phase}")


def test_kill_9_during_the_mark_save_keeps_the_state_file_whole(tmp_path) -> None:
    """Many kills of a child doing nothing but save the mark: the state file is always whole JSON,
    the same cockpit id, a mark that never goes back, and a new engine reads it."""
    path = tmp_path / "ana.jsonl"
    first = SharedSync(path, INC, _NullStore())
    cockpit, state_path, tmp = first.cockpit, first.state_path, first.state_path.with_name(first.state_path.name + ".tmp")
    rng = random.Random(9)
    mark = inside = 0
    for k in range(20):
        child = Child(["marks", str(path)], tmp_path / f"marks{k}.err")
        try:
            child.until(count("ready", 1))
            time.sleep(rng.uniform(0.0, 0.03))  # when to kill (not a check)
            child.kill()
        finally:
            child.stop()
        inside += tmp.exists()  # the temp file exists only inside _save (between its open and the rename)
        tmp.unlink(missing_ok=True)  # so that the next count is the next kill's
        state = json.loads(state_path.read_text())
        assert set(state) == {"v", "cockpit", "incident", "sent"} and (state["cockpit"], state["incident"]) == (cockpit, INC)
        assert isinstance(state["sent"], int) and state["sent"] >= mark, (state, mark)
        again = SharedSync(path, INC, _NullStore())
        assert (again.cockpit, again.sent) == (cockpit, state["sent"])
        mark = state["sent"]
    assert mark > 0
    print(f"\nmark saves: 20 kills, {inside} inside _save past its open (temp file left), last mark {mark}")


if __name__ == "__main__":
    if sys.argv[1] == "cockpit":
        _cockpit_a(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6] if len(sys.argv) > 6 else "")
    elif sys.argv[1] == "marks":
        _marks(sys.argv[2])
