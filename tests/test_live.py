"""cockpit/live.py without Textual: the polls and the log follow, hosted by a
plain asyncio loop in the app's place (its timers are the loop's, a blocking
poll runs in a thread of the loop's executor, an async one in a task, the
log follow in a plain thread whose callbacks come back through
``call_soon_threadsafe`` as the app's messages do).

Against the shared healthy drill: every source answers through the real
clients, blocking ones off the loop's thread; the log follow's batches are
coalesced into at most one flush per ``LOG_FLUSH``; stop ends it. With stubs
and a hand-driven timer: polls never pile up, failures back off (Retry-After
honoured, capped), a source that raises or hangs is a named failure, the
stale rule triage reads, the restart of a follow that ended.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from clay_cockpit import live
from clay_cockpit.config import config_from_toml, default_toml_text, parse_toml
from clay_cockpit.live import LOG_FLUSH, LOG_RESTART, RECENT_LOGS, LogFollow, Poll, Polls, backoff, source_bug
from clay_cockpit.signals import (
    ErrorKind,
    HealthSnapshot,
    InfraSnapshot,
    LogLine,
    MetricsSnapshot,
    PagerDutySnapshot,
    PodsSnapshot,
    SourceError,
    StatusPageSnapshot,
)
from clay_cockpit.sources import Sources

SNAPSHOTS = {"statuspage": StatusPageSnapshot, "health": HealthSnapshot, "metrics": MetricsSnapshot, "pods": PodsSnapshot}


def config(sim=None):
    if sim is not None:
        return config_from_toml(sim.config_dict(), "drill.toml")
    return config_from_toml(parse_toml(default_toml_text(), "default.toml"), "default.toml")


def failure(name: str = "metrics", retry_after: float | None = None) -> SourceError:
    return SourceError(name, ErrorKind.UNREACHABLE, "connection refused", "is it up?", retry_after=retry_after)


def lines(n: int, start: int = 0) -> tuple[LogLine, ...]:
    return tuple(LogLine(pod="clay-sync-a", text=f"line {i}") for i in range(start, start + n))


# --------------------------------------------------------------------------
# Hosts: what Textual gives the app, played without it


@dataclass
class HandTimer:
    """A timer armed by hand-driven hosts: fired by the test, or stopped."""

    delay: float
    callback: Callable[[], object]
    stopped: bool = False

    def stop(self) -> None:
        self.stopped = True

    def fire(self) -> None:
        assert not self.stopped
        self.callback()


@dataclass
class HandTimers:
    armed: list[HandTimer] = field(default_factory=list)

    def __call__(self, delay: float, callback: Callable[[], object]) -> HandTimer:
        timer = HandTimer(delay, callback)
        self.armed.append(timer)
        return timer

    def live(self) -> list[HandTimer]:
        return [t for t in self.armed if not t.stopped]


class LoopTimer:
    def __init__(self, handle: asyncio.TimerHandle) -> None:
        self.handle = handle

    def stop(self) -> None:
        self.handle.cancel()


class LoopHost:
    """The app's part on a plain asyncio loop: a thread per blocking poll, a
    task per async one, every answer handed to ``Polls.answered`` on the
    loop's own thread (as the app's SourceResult handler does)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sources: Any, cfg: Any) -> None:
        self.loop = loop
        self.polls = Polls(cfg, sources, set_timer=self.set_timer, run=self.run)
        self.results: dict[str, Any] = {}
        self.fetch_threads: dict[str, int] = {}
        self.answer_threads: set[int] = set()
        self.started: list[str] = []
        self.all_answered = asyncio.Event()

    def set_timer(self, delay: float, callback: Callable[[], object]) -> LoopTimer:
        return LoopTimer(self.loop.call_later(delay, callback))

    def run(self, poll: Poll) -> None:
        self.started.append(poll.name)
        if poll.blocking:
            future: asyncio.Future[Any] = self.loop.run_in_executor(None, self._blocking, poll)
        else:
            future = asyncio.ensure_future(self.polls.fetch_async(poll))
        future.add_done_callback(lambda done: self.answer(poll.name, done.result()))

    def _blocking(self, poll: Poll) -> Any:
        self.fetch_threads[poll.name] = threading.get_ident()
        return self.polls.fetch(poll)

    def answer(self, name: str, result: Any) -> None:
        self.answer_threads.add(threading.get_ident())
        self.results[name] = result
        self.polls.answered(name, result)
        if len(self.results) == len(self.polls.by_name):
            self.all_answered.set()


# --------------------------------------------------------------------------
# Polls against the drill


def test_every_source_answers_and_each_poll_rearms_at_its_interval(shared_sim) -> None:
    cfg = config(shared_sim)

    async def main() -> LoopHost:
        host = LoopHost(asyncio.get_running_loop(), Sources(cfg, environ=shared_sim.env()), cfg)  # (PagerDuty's token too)
        host.polls.start_all()
        await asyncio.wait_for(host.all_answered.wait(), 30)
        assert "pagerduty" in host.polls.by_name  # the drill config turns PagerDuty on: polled like the others
        for poll in host.polls.by_name.values():
            assert not poll.busy and poll.delay == poll.interval and poll.timer is not None, poll
            poll.timer.stop()  # (the drill is shared: poll it no more)
        return host

    loop_thread = threading.get_ident()  # asyncio.run runs the loop on this thread
    host = asyncio.run(main())
    # the real Sources have the infrastructure source too (issue 14), and PagerDuty's when the config turns it on (issue 16)
    every = {**SNAPSHOTS, "infra": InfraSnapshot, "pagerduty": PagerDutySnapshot}
    for name, kind in every.items():
        assert isinstance(host.results[name], kind), (name, host.results[name])
    assert sorted(host.started) == sorted(every), "one poll per source"
    assert [p.name for p in host.polls.by_name.values() if p.blocking] == ["metrics", "pods", "infra", "pagerduty"]
    assert set(host.fetch_threads) == {"metrics", "pods", "infra", "pagerduty"} and loop_thread not in host.fetch_threads.values(), (
        "the blocking clients ran off the loop's thread"
    )
    assert host.answer_threads == {loop_thread}, "answers are handled on the host's thread"


def test_the_first_use_of_an_async_source_builds_its_client_off_the_loop(shared_sim) -> None:
    """Asking Sources for a client imports and builds it: an async poll does that in a thread."""
    cfg = config(shared_sim)
    asked_from: list[int] = []

    class Watching(Sources):
        @property
        def statuspage(self):  # type: ignore[override]
            asked_from.append(threading.get_ident())
            return super().statuspage

    async def main() -> Any:
        polls = Polls(cfg, Watching(cfg), set_timer=HandTimers(), run=lambda poll: None)
        return await polls.fetch_async(polls.by_name["statuspage"])

    got = asyncio.run(main())
    assert isinstance(got, StatusPageSnapshot), got
    assert asked_from and threading.get_ident() not in asked_from


# --------------------------------------------------------------------------
# The schedule


def hand_polls() -> tuple[Polls, HandTimers, list[str]]:
    timers, started = HandTimers(), []
    return Polls(config(), object(), set_timer=timers, run=lambda poll: started.append(poll.name)), timers, started


def test_polls_never_pile_up() -> None:
    polls, timers, started = hand_polls()
    metrics = polls.by_name["metrics"]
    polls.start(metrics)
    polls.start(metrics)  # still out: its answer will re-arm it
    polls.start_all()  # likewise (`r`)
    assert started.count("metrics") == 1 and metrics.busy
    assert sorted(started) == sorted(SNAPSHOTS)
    polls.answered("metrics", object())
    assert not metrics.busy and metrics.timer is timers.armed[-1] and timers.armed[-1].delay == metrics.interval
    timers.armed[-1].fire()  # the timer starts the next one
    assert started.count("metrics") == 2 and metrics.busy and metrics.timer is None


def test_polling_now_disarms_the_timer_it_replaces() -> None:
    polls, timers, started = hand_polls()
    pods = polls.by_name["pods"]
    polls.start(pods)
    polls.answered("pods", failure("pods"))
    armed = timers.armed[-1]
    polls.start_all()  # `r` while it waits out its backoff
    assert armed.stopped and pods.busy and started.count("pods") == 2
    assert pods.delay == pods.interval, "refresh goes back to the source's own interval"


def test_refresh_asks_a_watch_to_list_again_also_between_two_answers() -> None:
    """`r` while the watched pods poll waits out its coalescing pause (not busy): the poll it starts
    must not wait on the open stream — the watch lists again first (a cluster that now refuses us
    says so at once). The stop-23 CI's test_redact_app waited 30 s for it."""
    polls, timers, started = hand_polls()
    relisted: list[str] = []
    for name in ("pods", "statuspage"):
        polls.by_name[name].resync = lambda _sources, name=name: relisted.append(name)
    pods = polls.by_name["pods"]
    polls.start(pods)
    polls.answered("pods", object())  # answered: re-armed after its pause, not busy
    polls.start_all()
    assert sorted(relisted) == ["pods", "statuspage"]
    assert pods.busy and started.count("pods") == 2
    polls.start_all()  # and while it is out: asked to list again, not started twice
    assert relisted.count("pods") == 2 and started.count("pods") == 2


def test_failures_back_off_and_an_answer_resets_the_interval() -> None:
    polls, timers, _ = hand_polls()
    health = polls.by_name["health"]
    health.interval = 2.0
    polls.start_all()
    delays = [polls.answered("health", failure("health")).delay]
    for _ in range(5):
        timers.armed[-1].fire()
        delays.append(polls.answered("health", failure("health")).delay)
    assert delays == [5.0, 10.0, 20.0, 30.0, 30.0, 30.0]
    timers.armed[-1].fire()
    assert polls.answered("health", object()).delay == health.interval
    assert [t.delay for t in timers.armed] == [*delays, health.interval]


def test_retry_after_is_honoured_up_to_five_minutes() -> None:
    polls, _, _ = hand_polls()
    metrics = polls.by_name["metrics"]
    polls.start(metrics)
    assert polls.answered("metrics", failure(retry_after=120.0)).delay == 120.0
    polls.start(metrics)
    assert polls.answered("metrics", failure(retry_after=7200.0)).delay == live.RETRY_AFTER_CAP == 300.0
    polls.start(metrics)
    assert polls.answered("metrics", failure(retry_after=1.0)).delay == 30.0, "never sooner than the backoff"


@pytest.mark.parametrize("delay, expected", [(0.0, 5.0), (1.0, 5.0), (5.0, 10.0), (12.0, 24.0), (20.0, 30.0), (30.0, 30.0)])
def test_backoff(delay: float, expected: float) -> None:
    assert backoff(delay) == expected


# --------------------------------------------------------------------------
# Sources that break their contract


class Raising:
    """A source whose every call raises, its message carrying what could be a secret."""

    name = "broken"

    def fetch(self) -> Any:
        raise RuntimeError("it was swordfish-42")

    def list_pods(self) -> Any:
        raise ValueError("it was swordfish-42")


class AsyncRaising:
    name = "broken"

    async def fetch(self) -> Any:
        raise RuntimeError("it was swordfish-42")


class Hanging:
    name = "hanging"

    async def fetch(self) -> Any:
        await asyncio.sleep(3600)


class BrokenSources:
    def __init__(self, async_source: Any) -> None:
        self.statuspage = self.health = async_source
        self.metrics = self.kube = Raising()


def test_a_source_that_raises_is_a_named_failure_without_its_message() -> None:
    polls = Polls(config(), BrokenSources(AsyncRaising()), set_timer=HandTimers(), run=lambda poll: None)
    got = {name: polls.fetch(poll) if poll.blocking else asyncio.run(polls.fetch_async(poll)) for name, poll in polls.by_name.items()}
    for name, error in got.items():
        assert isinstance(error, SourceError) and error.kind is ErrorKind.BAD_RESPONSE and error.source == name, error
        assert "raised" in error.message and "swordfish" not in error.line()
    bug = source_bug("pods", ValueError())
    assert (got["pods"].message, got["pods"].hint) == (bug.message, bug.hint) == ("the pods source raised ValueError", bug.hint)


def test_an_async_source_that_hangs_times_out(monkeypatch) -> None:
    monkeypatch.setattr(live, "ASYNC_GRACE", 0.1)
    cfg = config()
    polls = Polls(cfg, BrokenSources(Hanging()), set_timer=HandTimers(), run=lambda poll: None)
    poll = polls.by_name["health"]
    poll.timeout = 0.1
    started = time.monotonic()
    error = asyncio.run(polls.fetch_async(poll))
    assert time.monotonic() - started < 2.0
    assert isinstance(error, SourceError) and error.kind is ErrorKind.TIMEOUT and "no answer within" in error.message


# --------------------------------------------------------------------------
# The log follow against the drill


def test_the_follow_is_coalesced_into_flushes_and_stops(shared_sim) -> None:
    cfg = config(shared_sim)
    sources = Sources(cfg)
    pods = sources.kube.list_pods()
    assert isinstance(pods, PodsSnapshot), pods
    names = {p.name for p in pods.pods}
    stop = threading.Event()
    flushes: list[tuple[float, tuple[LogLine, ...]]] = []
    faults: list[SourceError | None] = []
    ended: list[bool] = []

    async def main() -> LogFollow:
        loop = asyncio.get_running_loop()
        follow = LogFollow(
            sources,
            buffer=cfg.kube.log_buffer,
            stop=stop,
            clock=time.time,
            set_timer=lambda d, cb: LoopTimer(loop.call_later(d, cb)),
            start=lambda: None,
            on_flush=lambda got, now: flushes.append((time.monotonic(), got)),
        )
        worker = threading.Thread(
            target=follow.follow,
            daemon=True,
            args=(
                lambda got: loop.call_soon_threadsafe(follow.arrived, got),
                lambda error: loop.call_soon_threadsafe(faults.append, error),
                lambda: loop.call_soon_threadsafe(ended.append, True),
            ),
        )
        worker.start()
        deadline = time.monotonic() + 20
        while {line.pod for line in follow.recent} != names and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(LOG_FLUSH * 2)
        stopped = time.monotonic()
        stop.set()
        while worker.is_alive():
            await asyncio.sleep(0.05)
            assert time.monotonic() - stopped < 5, "the follow did not return after stop"
        await asyncio.sleep(0.05)
        return follow

    follow = asyncio.run(main())
    assert {line.pod for line in follow.recent} == names, "lines from every pod"
    shown = [line for _, batch in flushes for line in batch]
    assert follow.recent == tuple(shown[-RECENT_LOGS:])
    stamps = [t for t, _ in flushes]
    assert all(b - a >= LOG_FLUSH * 0.9 for a, b in zip(stamps, stamps[1:])), "at most one flush per LOG_FLUSH"
    assert [f for f in faults if f is not None] == [] and follow.stale() is None
    assert ended == [], "asked to stop: not an end to restart"


# --------------------------------------------------------------------------
# The log follow's rules


def hand_follow(kube: Any = None, buffer: int = 100) -> tuple[LogFollow, HandTimers, list, list]:
    class Kube:
        def follow_logs(self, on_batch, on_error, stop, flush_interval):
            return None

    now = [1000.0]
    flushed: list[tuple[tuple[LogLine, ...], float]] = []
    starts: list[bool] = []
    timers = HandTimers()
    sources = type("S", (), {"kube": kube or Kube()})()
    follow = LogFollow(
        sources,
        buffer=buffer,
        stop=threading.Event(),
        clock=lambda: now[0],
        set_timer=timers,
        start=lambda: starts.append(True),
        on_flush=lambda got, at: flushed.append((got, at)),
    )
    follow.now = now  # type: ignore[attr-defined]
    return follow, timers, flushed, starts


def test_batches_coalesce_into_one_flush_bounded_by_the_buffer() -> None:
    follow, timers, flushed, _ = hand_follow(buffer=5)
    follow.arrived(lines(3))
    follow.arrived(lines(4, 3))
    assert len(timers.armed) == 1 and timers.armed[0].delay == LOG_FLUSH
    timers.armed[0].fire()
    assert flushed == [(lines(5, 2), 1000.0)], "one flush, the newest `buffer` lines"
    assert follow.recent == lines(5, 2)
    timers.armed[0].callback()  # a flush with nothing pending shows nothing
    assert len(flushed) == 1
    follow.arrived(lines(1, 7))
    assert len(timers.armed) == 2, "the next batch arms the next flush"


def test_recent_lines_are_bounded() -> None:
    follow, timers, _, _ = hand_follow(buffer=1000)
    for i in range(0, 2 * RECENT_LOGS, 50):
        follow.arrived(lines(50, i))
        timers.armed[-1].fire()
    assert follow.recent == lines(RECENT_LOGS, RECENT_LOGS)


def test_stale_when_the_follow_failed_and_no_line_came_since() -> None:
    follow, timers, _, _ = hand_follow()
    error, other = failure("logs"), SourceError("logs", ErrorKind.STALLED, "sends nothing", "reconnecting")
    follow.failed(error, 1000.0)
    assert follow.stale() is None, "no line shown yet: nothing old"
    follow.failed(None, 1001.0)
    follow.now[0] = 1002.0  # type: ignore[attr-defined]
    follow.arrived(lines(2))
    timers.armed[-1].fire()
    follow.failed(error, 1010.0)
    assert follow.stale() is error
    follow.failed(other, 1020.0)
    assert follow.stale() is other, "the newest failure, still counted from the first"
    follow.now[0] = 1010.8  # lines flushed within a second of the failure may have been read before it
    follow.arrived(lines(1, 2))
    timers.armed[-1].fire()
    assert follow.stale() is other
    follow.now[0] = 1012.0  # a line since: failing in part, not old
    follow.arrived(lines(1, 3))
    timers.armed[-1].fire()
    assert follow.stale() is None
    follow.failed(None, 1013.0)
    follow.failed(error, 1030.0)  # a new failure counts from its own start
    assert follow.stale() is error
    follow.failed(None, 1031.0)
    assert follow.stale() is None


def test_a_follow_that_raises_is_a_named_fault_and_is_started_again() -> None:
    class Raising:
        def follow_logs(self, on_batch, on_error, stop, flush_interval):
            on_batch([LogLine(pod="p", text="one")])
            raise OSError("it was swordfish-42")

    follow, timers, _, starts = hand_follow(Raising())
    batches, faults, ended = [], [], []
    follow.follow(batches.append, faults.append, lambda: ended.append(True))
    assert batches == [(LogLine(pod="p", text="one"),)], "batches are handed on as tuples"
    assert len(faults) == 1 and faults[0].kind is ErrorKind.BAD_RESPONSE and "swordfish" not in faults[0].line()
    assert ended == [True]
    follow.ended()
    assert timers.armed[-1].delay == LOG_RESTART and starts == []
    timers.armed[-1].fire()
    assert starts == [True]


def test_a_follow_asked_to_stop_has_not_ended() -> None:
    class Stopping:
        def follow_logs(self, on_batch, on_error, stop, flush_interval):
            assert flush_interval == LOG_FLUSH
            stop.set()

    follow, _, _, _ = hand_follow(Stopping())
    ended: list[bool] = []
    follow.follow(lambda _: None, lambda _: None, lambda: ended.append(True))
    assert ended == [] and follow.stop.is_set()
