"""The watched polls of cockpit/live.py (issue 15), hosted by a plain asyncio
loop in the app's place (test_live.LoopHost, with the app's stop event):
against a drill, the pods and infra polls are async (no thread held while
they wait), answer when something changed and on their heartbeat, and the
pods are listed once however many answers come; stop ends the watches. With
a hand-driven timer: a watched poll is asked again at its coalescing
interval, failed or not (its watch retries by itself)."""

from __future__ import annotations

import asyncio
import threading
import time

from test_live import HandTimers, LoopHost, config, failure
from test_sources_kube_watch import NS, core, pod_requests

from clay_cockpit import live
from clay_cockpit.live import Polls
from clay_cockpit.signals import InfraSnapshot, PodsSnapshot
from clay_cockpit.sources import Sources


class WatchHost(LoopHost):
    """LoopHost with the app's stop event; it counts the answers of each poll."""

    def __init__(self, loop, sources, cfg, stop: threading.Event) -> None:
        super().__init__(loop, sources, cfg)
        self.polls = Polls(cfg, sources, set_timer=self.set_timer, run=self.run, stop=stop)
        self.answers: dict[str, list] = {}

    def answer(self, name: str, result) -> None:
        self.answers.setdefault(name, []).append(result)
        super().answer(name, result)


def test_pods_and_infra_are_watched_and_answer_on_a_change(sim) -> None:
    cfg = config(sim)
    stop = threading.Event()
    sources = Sources(cfg)

    async def main() -> tuple[WatchHost, set[str], set[str]]:
        host = WatchHost(asyncio.get_running_loop(), sources, cfg, stop)
        assert host.polls.by_name["pods"].watched and not host.polls.by_name["pods"].blocking
        assert host.polls.by_name["infra"].watched and not host.polls.by_name["infra"].blocking
        host.polls.start_all()
        await asyncio.wait_for(host.all_answered.wait(), 30)
        before = {p.name for p in host.results["pods"].pods}
        victim = sorted(before)[0]
        api, core_api = core(sim)
        try:
            await asyncio.to_thread(core_api.delete_namespaced_pod, victim, NS, grace_period_seconds=0, _request_timeout=5)
        finally:
            api.close()
        sim.advance(5)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            got = host.results["pods"]
            if isinstance(got, PodsSnapshot) and victim not in {p.name for p in got.pods} and len(got.pods) == 3:
                break
            await asyncio.sleep(0.05)
        after = {p.name for p in host.results["pods"].pods}
        stop.set()
        await asyncio.sleep(0.5)  # the waits see stop: they answer once more and the watches close
        for poll in host.polls.by_name.values():
            if poll.timer is not None:
                poll.timer.stop()
        return host, before, after

    host, before, after = asyncio.run(main())
    assert after != before and len(after) == 3, (before, after)
    assert all(isinstance(r, PodsSnapshot) for r in host.answers["pods"]) and len(host.answers["pods"]) >= 2, [
        r for r in host.answers["pods"] if not isinstance(r, PodsSnapshot)
    ]
    assert isinstance(host.results["infra"], InfraSnapshot) and host.results["infra"].revisions
    assert "pods" not in host.fetch_threads and "infra" not in host.fetch_threads  # awaited, not run in a thread
    lists, watches = pod_requests(sim)
    assert len(lists) == 1 and watches  # however many answers: listed once, then watched
    pod_watch = sources.kube._pod_watch
    rollout = sources.infra._rollout
    for thread in (pod_watch.thread, *rollout.threads):
        thread.join(10)
        assert not thread.is_alive(), thread.name


def test_a_watched_poll_is_asked_again_at_its_interval_failed_or_not() -> None:
    class Watching:
        watches = True

    timers = HandTimers()
    polls = Polls(config(), Watching(), set_timer=timers, run=lambda poll: None, stop=threading.Event())
    pods = polls.by_name["pods"]
    assert pods.watched and pods.interval == live.WATCH_COALESCE and pods.timeout is not None
    polls.start(pods)
    delays = [polls.answered("pods", failure("pods")).delay]
    polls.start(pods)
    delays.append(polls.answered("pods", failure("pods")).delay)
    polls.start(pods)
    delays.append(polls.answered("pods", object()).delay)
    assert delays == [live.WATCH_COALESCE] * 3, "no backoff: the watch retries by itself and answers on its next change"
    listed = Polls(config(), Watching(), set_timer=timers, run=lambda poll: None)  # no stop: polled by listing, as before
    assert not listed.by_name["pods"].watched and listed.by_name["pods"].blocking
