"""Log following at fleet scale (issue 15): a bounded number of streams that
favours troubled pods and gives the rest turns, and every line shown or
counted as dropped, per pod.

The rules (:mod:`clay_cockpit.sources._logturns`, the drop counts of
:class:`clay_cockpit.live.LogFollow` and the pane) are tested by hand; the
follow itself over real HTTP against the drill's Kubernetes API with the
official client: 60 pods with 8 streams (the crashlooping pods are among
the followed, the state says 8 of 60), and a flood through a slow consumer
where, for every pod, the lines received plus the drops reported equal the
lines the kubelet holds — with the pods taking turns, so a pod's next turn
picks up where its last one ended.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from clay_cockpit.config import config_from_toml
from clay_cockpit.live import LogFollow
from clay_cockpit.signals import LogFollowState, LogLine, LogLines, SourceError
from clay_cockpit.sources import _logstream, _logturns
from clay_cockpit.sources._kubelogs import COCKPIT_POD
from clay_cockpit.sources._logturns import TURN, PodCondition, choose, trouble
from clay_cockpit.sources.kube import Kube

# --------------------------------------------------------------------------
# which pods get a stream


def test_troubled_pods_first_then_the_rest_take_turns() -> None:
    why: dict[str, str | None] = {f"p{i:02}": None for i in range(10)}
    why["p07"] = "CrashLoopBackOff"
    why["p03"] = "new"
    chosen, favoured = choose(why, {}, {}, 4, 0.0)
    assert favoured == [("p07", "CrashLoopBackOff"), ("p03", "new")], "the more troubled first"
    assert chosen == ["p07", "p03", "p00", "p01"]
    streams = {p: 0.0 for p in chosen}
    assert choose(why, streams, {}, 4, TURN - 1)[0] == chosen, "mid-turn: nobody moves"
    later, _ = choose(why, streams, {}, 4, TURN + 1)
    assert later[:2] == ["p07", "p03"], "favoured pods keep their streams"
    assert later[2:] == ["p02", "p04"], "a finished turn goes to the pods never followed"
    turns = {"p00": TURN + 1, "p01": TURN + 1}  # their turns ended then
    streams = {p: TURN + 1 for p in later}
    for p in ("p02", "p04", "p05", "p06", "p08", "p09"):
        turns[p] = 5.0  # and these waited longer
    streams = {"p07": 0.0, "p03": 0.0, "p02": 3 * TURN, "p04": 3 * TURN}
    after, _ = choose(why, streams, turns, 4, 4.5 * TURN)
    assert set(after[2:]) <= {p for p in why if turns.get(p) == 5.0} - {"p02", "p04"}, "the pods that waited longest"


def test_more_troubled_pods_than_streams_take_turns_too() -> None:
    why: dict[str, str | None] = {f"p{i}": "not ready" for i in range(6)}
    first, favoured = choose(why, {}, {}, 3, 0.0)
    assert len(first) == 3 and len(favoured) == 3
    nxt, _ = choose(why, {p: 0.0 for p in first}, {}, 3, TURN + 1)
    assert set(nxt) == set(why) - set(first)


def test_why_a_pod_is_favoured() -> None:
    now = 1_000_000.0
    ok = PodCondition("a", "Running", ready=True, started_at=now - 3600)
    assert trouble(ok, now, None) is None
    assert trouble(replace(ok, waiting="CrashLoopBackOff"), now, None) == "CrashLoopBackOff"
    assert trouble(replace(ok, phase="Pending"), now, None) == "pending"
    assert trouble(replace(ok, ready=False), now, None) == "not ready"
    assert trouble(replace(ok, restarted_at=now - 60), now, None) == "restarted"
    assert trouble(replace(ok, started_at=now - 10), now, None) == "new"
    assert trouble(ok, now, 5.0) == "errors"
    assert trouble(ok, now, 10_000.0) is None
    assert trouble(replace(ok, phase="Succeeded", ready=False), now, None) is None, "a finished pod is not troubled"


def test_a_pod_list_item_read_for_its_turn() -> None:
    from clay_cockpit.sources._logturns import condition

    item = {
        "metadata": {"name": "clay-sync-1"},
        "status": {
            "phase": "Running",
            "startTime": "2026-01-01T00:00:00Z",
            "conditions": [{"type": "Ready", "status": "False"}],
            "containerStatuses": [
                {
                    "restartCount": 2,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {"terminated": {"finishedAt": "2026-01-01T00:05:00Z"}},
                }
            ],
        },
    }
    got = condition(item)
    assert got == PodCondition("clay-sync-1", "Running", False, "CrashLoopBackOff", 1_767_225_900.0, 1_767_225_600.0)
    assert condition(
        {"metadata": {"name": "x"}, "status": {"phase": "Running", "startTime": "garbage", "conditions": "?"}}
    ) == PodCondition("x", "Running", ready=False)
    assert condition({}).name == ""


def test_drop_counts_add_up_per_pod() -> None:
    state = LogFollowState(pods=5, followed=("a", "b"), dropped=(("a", 3),))
    more = state.with_drops({"b": 5, "a": 1, "c": 0})
    assert more.dropped == (("b", 5), ("a", 4)) and more.dropped_total == 9
    assert state.with_drops({}) is state
    batch = LogLines([LogLine(pod="a", text="x")], more)
    assert batch == (LogLine(pod="a", text="x"),) and batch.state is more


# --------------------------------------------------------------------------
# LogFollow (the host's side): what its bounded wait pushes out is counted


@dataclass
class _Timers:
    armed: list[Callable[[], object]] = field(default_factory=list)

    def __call__(self, delay: float, callback: Callable[[], object]) -> Any:
        self.armed.append(callback)
        return type("T", (), {"stop": lambda self: None})()

    def fire(self) -> None:
        callbacks, self.armed = self.armed, []
        for cb in callbacks:
            cb()


def test_log_follow_counts_lines_its_buffer_pushes_out_and_passes_the_state_on() -> None:
    timers = _Timers()
    flushed: list[tuple[LogLine, ...]] = []
    follow = LogFollow(
        type("S", (), {"kube": None})(),
        buffer=3,
        stop=threading.Event(),
        clock=lambda: 5.0,
        set_timer=timers,
        start=lambda: None,
        on_flush=lambda got, now: flushed.append(got),
    )
    state = LogFollowState(pods=9, followed=("a", "b"), dropped=(("b", 2),))
    follow.arrived(LogLines([LogLine(pod="a", text=str(i)) for i in range(4)], state))
    follow.arrived(LogLines([LogLine(pod="b", text="b")], state))
    timers.fire()
    (batch,) = flushed
    assert [ln.text for ln in batch] == ["2", "3", "b"]
    assert isinstance(batch, LogLines) and batch.state is not None
    assert dict(batch.state.dropped) == {"a": 2, "b": 2}, "two of a's lines pushed out here, b's two by the source"
    follow.arrived(LogLines([], replace(state, followed=("c", "d"))))
    timers.fire()
    assert len(flushed) == 2 and flushed[1] == () and flushed[1].state.followed == ("c", "d"), "a changed state alone is flushed"  # type: ignore[attr-defined]
    assert follow.stale() is None


# --------------------------------------------------------------------------
# over real HTTP: the drill's Kubernetes API, the official client


def _drill(replicas: int, tmp_path) -> Any:
    from clay_cockpit.sim.background import start_background
    from clay_cockpit.sim.scenario import load_scenario

    spec = load_scenario("healthy")
    spec = replace(spec, service=replace(spec.service, replicas=replicas))
    return start_background(spec, seed=7, freeze_at=1_767_225_600.0, workdir=tmp_path)


def _on_loop(sim: Any, fn: Callable[[], Any]) -> Any:
    """Run ``fn`` on the drill's own loop (its cluster is not thread-safe)."""

    async def call() -> Any:
        return fn()

    return asyncio.run_coroutine_threadsafe(call(), sim._loop).result(30)


def _cluster(sim: Any) -> Any:
    return sim._drill.world.kube


@dataclass
class Recorder:
    """A follow_logs in a thread; ``slow`` seconds spent in each batch."""

    kube: Kube
    slow: float = 0.0
    flush: float = 0.1
    lines: list[LogLine] = field(default_factory=list)
    states: list[LogFollowState] = field(default_factory=list)
    errors: list[SourceError | None] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def batch(self, got: tuple[LogLine, ...]) -> None:
        with self.lock:
            self.lines.extend(got)
            state = getattr(got, "state", None)
            if state is not None:
                self.states.append(state)
        if self.slow:
            time.sleep(self.slow)

    def state(self) -> LogFollowState | None:
        with self.lock:
            return self.states[-1] if self.states else None

    def wait_for(self, predicate: Callable[[], object], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.1)
        pytest.fail(f"timed out waiting for {what}; state={self.state()} errors={self.errors[-3:]}")

    def __enter__(self) -> Recorder:
        self.thread = threading.Thread(
            target=self.kube.follow_logs, args=(self.batch, self.errors.append, self.stop, self.flush), daemon=True
        )
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)
        assert not self.thread.is_alive(), "follow_logs did not return after stop"


def _kube(sim: Any, **changes: Any) -> Kube:
    base = config_from_toml(sim.config_dict(), "drill.toml").kube
    return Kube(replace(base, **{"refresh": 0.5, **changes}))


def _threads(prefix: str) -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith(prefix))


def test_sixty_pods_eight_streams_the_crashlooping_ones_among_them(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(_logturns, "TURN", 1.0)
    monkeypatch.setattr(_logstream, "CATCH_UP_AFTER", 2.0)
    sim = _drill(60, tmp_path)
    try:
        names = sorted(p.name for p in _on_loop(sim, lambda: _cluster(sim).running_pods()))
        assert len(names) == 60
        crashed = names[17], names[42]
        assert all(_on_loop(sim, lambda p=p: _cluster(sim).crash(p)) for p in crashed)

        def log_requests() -> list[dict[str, Any]]:
            return [r for r in sim.requests("kube") if r["path"].endswith("/log")]

        started = time.monotonic()
        with Recorder(_kube(sim, log_streams=8)) as rec:
            rec.wait_for(
                lambda: (s := rec.state()) is not None and s.pods == 60 and set(crashed) <= {p for p, _ in s.favoured},
                20,
                "the crashed pods favoured",
            )
            state = rec.state()
            assert state is not None and len(state.followed) == 8 and set(crashed) <= set(state.followed)
            assert dict(state.favoured)[crashed[0]] == "CrashLoopBackOff"
            # a thread per open stream and the lister (and, for a moment, streams whose turn just ended)
            assert _threads("logs:") <= 2 * 8 + 1, "never one per pod"
            # turns: over a few turns, pods beyond the first eight are followed too
            time.sleep(max(0.0, started + 2.5 - time.monotonic()))
            mark = len(log_requests())
            # written to every pod while most wait for their turn: each gets it on its turn
            assert all(_on_loop(sim, lambda: [_cluster(sim).log(n, 'level=info msg="while waiting"') for n in names]))

            def waited() -> set[str]:
                return {ln.pod for ln in list(rec.lines) if "while waiting" in ln.text}

            rec.wait_for(lambda: len(waited()) >= 30, 30, "the line written while waiting, from pods on their turns")
            assert all(len(s.followed) <= 8 for s in rec.states)
            assert all(set(crashed) <= set(s.followed) for s in rec.states if set(crashed) <= {p for p, _ in s.favoured})
            notes = [ln.text for ln in rec.lines if ln.pod == COCKPIT_POD]
            assert any("following 8 of 60 pods' logs at a time: 2 troubled first" in n and crashed[0] in n for n in notes), notes
            got = {p for s in rec.states for p in s.followed}
            assert waited() <= got and len(got) >= 30
        requests = log_requests()
        first: dict[str, int] = {}
        for i, r in enumerate(requests):
            first.setdefault(r["path"].split("/")[-2], i)
        assert all("tailLines=" in requests[i]["query"] for i in sorted(first.values())[:8]), "the first streams start from the tail"
        late = [requests[i] for i in first.values() if i >= mark]
        assert late, "pods whose first turn came later"
        # ... reach back to when the follow began (+ the margin), so nothing written while they waited is skipped
        assert all("tailLines" not in r["query"] and "sinceSeconds=" in r["query"] for r in late), [r["query"] for r in late]
        assert all(2 < int(r["query"].split("sinceSeconds=")[1].split("&")[0]) < 60 for r in late)
        assert _threads("logs:") == 0, "every stream's thread ended with the follow"
    finally:
        sim.stop()


def test_a_flood_through_a_slow_consumer_every_line_shown_or_counted_per_pod(tmp_path, monkeypatch) -> None:
    """12 pods, 4 streams taking turns of 0.5 s, 12,000 lines written in
    bursts while each batch takes 50 ms to consume and the buffer holds 200
    lines: lines are dropped, and for every pod the lines received plus the
    drops reported equal the lines the kubelet holds — none twice."""
    monkeypatch.setattr(_logturns, "TURN", 0.5)
    sim = _drill(12, tmp_path)
    try:
        cluster = _cluster(sim)
        names = sorted(p.name for p in _on_loop(sim, cluster.running_pods))
        base = float(sim.state()["now"])
        seq: Counter[str] = Counter()

        def burst(n: int) -> None:
            for pod in names:
                for _ in range(n):
                    seq[pod] += 1
                    # distinct stamps (the frozen clock would give one): as a real kubelet's
                    cluster.log(pod, f'level=info msg="flood" seq={seq[pod]}', at=base + seq[pod] * 1e-3)

        with Recorder(_kube(sim, log_buffer=200, log_tail=100_000, log_since=0, log_streams=4), slow=0.05) as rec:
            for _ in range(10):
                _on_loop(sim, lambda: burst(100))
                time.sleep(0.3)

            def held() -> dict[str, int]:
                return {p.name: len(p.logs) for p in (cluster.ctl.pods[(cluster.namespace, n)] for n in names)}

            kept = _on_loop(sim, held)
            assert all(kept[n] >= 1000 for n in names) and all(kept[n] < 5000 for n in names), "none rotated out of the kubelet's store"

            def accounted() -> bool:
                state = rec.state()
                if state is None:
                    return False
                got = Counter(ln.pod for ln in list(rec.lines))
                dropped = dict(state.dropped)
                return all(got[n] + dropped.get(n, 0) == kept[n] for n in names)

            rec.wait_for(accounted, 60, "every line received or counted")
        state = rec.state()
        assert state is not None and state.dropped_total > 0, "the consumer was slow enough to drop lines"
        flood = [ln for ln in rec.lines if "flood" in ln.text]
        keys = [(ln.pod, ln.text) for ln in flood]
        assert len(keys) == len(set(keys)), "no line twice across turns and reconnects"
        for pod in names:  # what a pod received is in order, the gaps are the drops
            got = [int(ln.text.rsplit("seq=", 1)[1]) for ln in flood if ln.pod == pod]
            assert got == sorted(got)
        notes = [ln.text for ln in rec.lines if ln.pod == COCKPIT_POD and "dropped" in ln.text]
        assert notes and all("arrived faster than they could be shown (" in n for n in notes)
        assert sum(int(n.split()[0]) for n in notes) <= state.dropped_total
        assert max(len(s.followed) for s in rec.states) <= 4
    finally:
        sim.stop()


def test_with_the_pods_watch_running_the_follow_reads_its_cache_and_lists_nothing(tmp_path, monkeypatch) -> None:
    """The pods poll runs the pods watch; the follow reads who is there and who is
    troubled from it (a crash seen by watch is favoured, a new pod followed) and
    sends no pod list of its own — one list in all, the watch's."""
    sim = _drill(12, tmp_path)
    kube = _kube(sim, refresh=0.3, log_streams=4)
    watching = threading.Event()
    try:
        names = sorted(p.name for p in _on_loop(sim, lambda: _cluster(sim).running_pods()))
        watch = kube.watch_pods()
        watch.start(watching)
        deadline = time.monotonic() + 20
        while not (watch.watch.listed and watch.watch.error is None) and time.monotonic() < deadline:
            time.sleep(0.05)
        with Recorder(kube) as rec:
            rec.wait_for(lambda: (s := rec.state()) is not None and s.pods == 12, 20, "12 pods from the watch")
            crashed = names[9]
            assert _on_loop(sim, lambda: _cluster(sim).crash(crashed))
            rec.wait_for(
                lambda: (s := rec.state()) is not None and crashed in dict(s.favoured) and crashed in s.followed,
                20,
                "the crash, seen by the watch, favoured and followed",
            )
            assert _on_loop(sim, lambda: _cluster(sim).evict(names[3], "The node was low on resource: memory."))
            rec.wait_for(lambda: (s := rec.state()) is not None and s.pods == 13, 20, "the evicted pod and its replacement, from the watch")
            time.sleep(1.0)  # three of the follow's refresh intervals
        lists = [
            r
            for r in sim.requests("kube")
            if r["method"] == "GET" and r["path"].endswith("/namespaces/clay-sync/pods") and "watch=true" not in r["query"]
        ]
        assert len(lists) == 1, [r["query"] for r in lists]
        assert rec.errors == [] or rec.errors[-1] is None
    finally:
        watching.set()
        sim.stop()


def test_a_watched_pod_read_for_its_turn() -> None:
    from datetime import UTC, datetime

    from clay_cockpit.signals import PodInfo

    at = datetime(2026, 1, 1, tzinfo=UTC)
    ok = PodInfo("a", "Running", 2, 2, 0, "Running", None, at, "ReplicaSet/x")
    assert _logturns.from_pod(ok) == PodCondition("a", "Running", True, None, None, at.timestamp())
    crash = replace(ok, ready=1, restarts=3, status="CrashLoopBackOff", last_restart_at=at)
    assert _logturns.from_pod(crash) == PodCondition("a", "Running", False, "CrashLoopBackOff", at.timestamp(), at.timestamp())
    assert _logturns.from_pod(replace(ok, phase="Pending", status="Init:0/1", ready=0)).waiting == "Init:0/1"
    assert _logturns.from_pod(replace(ok, status="Terminating")).waiting is None
    assert _logturns.from_pod(replace(ok, phase="Failed", status="Evicted")).waiting is None, "ended, not waiting"


# --------------------------------------------------------------------------
# the pane, at 80x24, in the whole cockpit against the 60-pod drill


@pytest.mark.asyncio
async def test_the_logs_pane_at_80x24_says_how_many_pods_of_how_many_and_the_drops(tmp_path, monkeypatch) -> None:
    from clay_cockpit.app import make_app
    from clay_cockpit.sources import Sources
    from clay_cockpit.widgets.logs import LogsPane

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    sim = _drill(60, tmp_path)
    try:
        data = sim.config_dict()
        for section in ("statuspage", "health", "metrics", "kube"):
            data[section]["refresh"] = 0.5
        data["kube"]["log_buffer"] = 50
        data["kube"]["log_streams"] = 8
        config = config_from_toml(data, "drill config (60 pods)")
        now = float(sim.state()["now"])
        cluster = _cluster(sim)
        names = sorted(p.name for p in _on_loop(sim, cluster.running_pods))
        app = make_app(config, Sources(config), clock=lambda: now, title="drill: 60 pods")
        async with app.run_test(size=(80, 24)) as pilot:

            async def until(cond: Callable[[], object], what: str, timeout: float = 30.0) -> None:
                deadline = time.monotonic() + timeout
                while not cond():
                    shown = [p.border_subtitle for p in app.screen.query(LogsPane)]
                    assert time.monotonic() < deadline, f"timed out waiting for {what}: {shown}"
                    await pilot.pause(0.1)

            await until(lambda: app.screen.query(LogsPane), "the logs pane")
            pane = app.screen.query_one(LogsPane)

            await until(lambda: "following 8 of 60 pods" in str(pane.border_subtitle), "N of M")
            assert pane.outer_size.width <= 80
            for _ in range(3):  # a flood: 60 pods × 100 lines at once, through a 50-line buffer
                _on_loop(sim, lambda: [cluster.log(n, f'level=info msg="flood {i}"') for n in names for i in range(100)])
                await pilot.pause(0.3)
            await until(lambda: "dropped" in str(pane.border_subtitle), "the drops")
            state = pane.coverage()
            assert state is not None and state.dropped_total > 0 and len(state.followed) == 8 and state.pods == 60
            subtitle = str(pane.border_subtitle)
            assert subtitle.startswith("following 8 of 60 pods · dropped ") and f"{state.dropped_total:,}" in subtitle
            top, count = state.dropped[0]
            assert f"{count:,}" in subtitle and (top in subtitle or top.rsplit("-", 1)[1] in subtitle)
            assert len(subtitle) <= 80 - 6, "fits the border at 80 columns"
    finally:
        sim.stop()


# --------------------------------------------------------------------------
# the pane's words, by hand


class _PaneApp:
    @staticmethod
    def make(pane: Any, width: int) -> Any:
        from textual.app import App, ComposeResult

        class One(App[None]):
            def compose(self) -> ComposeResult:
                yield pane

            def on_mount(self) -> None:
                pane.styles.width = width
                pane.styles.height = 8

        return One()


@pytest.mark.asyncio
async def test_the_pane_says_n_of_m_the_favoured_and_the_drops_shorter_when_narrow() -> None:
    from clay_cockpit.widgets.logs import LogsPane

    pane = LogsPane(100)
    async with _PaneApp.make(pane, 80).run_test(size=(80, 24)) as pilot:
        line = LogLine(pod="clay-sync-7d9f8c6b5-x2x9k", text="level=info msg=ok")
        pane.append(LogLines([line], LogFollowState(pods=3, followed=("a", "b", "c"))), 1.0)
        await pilot.pause()
        assert pane.border_subtitle == "following", "all followed, nothing dropped: as before"
        state = LogFollowState(
            pods=500,
            followed=tuple(f"p{i}" for i in range(16)),
            favoured=(("clay-sync-7d9f8c6b5-aaaaa", "CrashLoopBackOff"),),
            dropped=(("clay-sync-7d9f8c6b5-x2x9k", 1204), ("clay-sync-7d9f8c6b5-bbbbb", 3), ("c", 1)),
        )
        pane.append(LogLines([], state), 2.0)  # the state alone: no line, no new reading
        await pilot.pause()
        subtitle = str(pane.border_subtitle)
        assert subtitle == "following 16 of 500 pods · dropped 1,208 (x2x9k 1,204, bbbbb 3, …)", subtitle
        assert pane.reading.updated_at == 1.0, "a state without lines is not a fresh reading"
        pane.styles.width = 120
        await pilot.pause()
        full = "dropped 1,208 (clay-sync-7d9f8c6b5-x2x9k 1,204, clay-sync-7d9f8c6b5-bbbbb 3, …)"
        assert pane.border_subtitle == f"following 16 of 500 pods · {full}", "whole pod names before the favoured count"
        pane.styles.width = 140
        await pilot.pause()
        assert pane.border_subtitle == f"following 16 of 500 pods (1 troubled first) · {full}"
        pane.styles.width = 40
        await pilot.pause()
        assert pane.border_subtitle == "16 of 500 pods · dropped 1,208"


@pytest.mark.asyncio
async def test_lines_a_paused_pane_cannot_hold_are_counted() -> None:
    from clay_cockpit.widgets.logs import LogsPane

    pane = LogsPane(5)
    async with _PaneApp.make(pane, 80).run_test(size=(80, 24)) as pilot:
        pane.view.set_paused(True)
        pane.append(LogLines([LogLine(pod="a", text=str(i)) for i in range(4)], LogFollowState(pods=2, followed=("a", "b"))), 1.0)
        pane.append(LogLines([LogLine(pod="b", text=str(i)) for i in range(4)]), 2.0)
        await pilot.pause()
        assert pane.view.held == 5 and pane.view.dropped == {"a": 3}
        assert "dropped 3 (a 3)" in str(pane.border_subtitle) and "paused" in str(pane.border_subtitle)
