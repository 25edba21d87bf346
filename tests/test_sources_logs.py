"""``Kube.follow_logs`` against the drill's Kubernetes API (follow=True over
real HTTP with the official client): merged lines with pod names, batches at
most every flush_interval, new pods join and gone pods leave on a rollout
restart, reconnects without duplicates, failures reported and recovered,
the bounded queue, and a prompt stop.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace

import pytest

from clay_cockpit.config import config_from_toml
from clay_cockpit.signals import ErrorKind, LogLine, SourceError
from clay_cockpit.sources._kubelogs import COCKPIT_POD
from clay_cockpit.sources.kube import Kube


@dataclass
class Follow:
    """A running follow_logs in a thread, recording what it delivered."""

    kube: Kube
    flush: float = 0.2
    batches: list[tuple[float, tuple[LogLine, ...]]] = field(default_factory=list)
    errors: list[SourceError | None] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self.kube.follow_logs, args=(self._batch, self._error, self.stop, self.flush), daemon=True)

    def _batch(self, lines: tuple[LogLine, ...]) -> None:
        with self.lock:
            self.batches.append((time.monotonic(), lines))

    def _error(self, error: SourceError | None) -> None:
        with self.lock:
            self.errors.append(error)

    def lines(self) -> list[LogLine]:
        with self.lock:
            return [line for _, batch in self.batches for line in batch]

    def wait_for(self, predicate, timeout: float = 10.0, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        pytest.fail(f"timed out waiting for {what or predicate}; errors={self.errors[-3:]} lines={len(self.lines())}")

    def __enter__(self) -> Follow:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        started = time.monotonic()
        self.stop.set()
        self.thread.join(5)
        assert not self.thread.is_alive(), "follow_logs did not return after stop"
        assert time.monotonic() - started < 2.5, "stop took too long"


def source(sim, **changes) -> Kube:
    base = config_from_toml(sim.config_dict(), "drill.toml").kube
    return Kube(replace(base, **{"refresh": 0.3, **changes}))


def pod_names(sim) -> set[str]:
    snap = source(sim).list_pods()
    assert not isinstance(snap, SourceError), snap.line()
    return {p.name for p in snap.pods}


def test_merged_batched_and_new_lines_arrive(sim) -> None:
    names = pod_names(sim)
    with Follow(source(sim)) as f:
        f.wait_for(lambda: {ln.pod for ln in f.lines()} == names, what="lines from every pod")
        initial = len(f.lines())
        sim.advance(20)
        f.wait_for(lambda: len(f.lines()) > initial + 30, what="lines written after the clock moved")
        time.sleep(0.6)
    lines = f.lines()
    assert all(ln.ts is not None and ln.container == "clay-sync" for ln in lines)
    assert all(not ln.text[:4].isdigit() for ln in lines), "the timestamp prefix is cut off"
    assert any('msg="clay call"' in ln.text for ln in lines)
    newest = max(ln.ts for ln in lines)  # type: ignore[type-var]
    assert newest.timestamp() > 1_767_225_600.0 + 10, "lines written after advancing"
    stamps = [t for t, _ in f.batches]
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    assert all(g >= f.flush * 0.8 for g in gaps), f"at most one batch per flush_interval: {gaps}"
    for _, batch in f.batches:  # every batch is in time order across pods
        times = [ln.ts for ln in batch]
        assert times == sorted(times)  # type: ignore[type-var]
    assert len({(ln.pod, ln.ts, ln.text) for ln in lines}) == len(lines), "no line twice"
    assert f.errors == []


def test_tail_and_since_are_applied(sim) -> None:
    with Follow(source(sim, log_tail=3)) as f:
        f.wait_for(lambda: len(f.lines()) >= 9, what="three lines per pod")
        time.sleep(0.5)
    assert len(f.lines()) == 9
    requests = [r for r in sim.requests("kube") if r["path"].endswith("/log")]
    assert len(requests) == 3
    assert all("follow=true" in r["query"] and "timestamps=true" in r["query"] and "tailLines=3" in r["query"] for r in requests)
    assert all("sinceSeconds=600" in r["query"] and "container=clay-sync" in r["query"] for r in requests)


def test_rollout_restart_new_pods_join_old_pods_leave(sim) -> None:
    from kubernetes import client, config

    old = pod_names(sim)
    with Follow(source(sim)) as f:
        f.wait_for(lambda: {ln.pod for ln in f.lines()} == old, what="lines from the old pods")
        api = config.new_client_from_config(config_file=str(sim.kubeconfig), context=sim.context, persist_config=False)
        try:
            patch = {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:05Z"}}}}}
            client.AppsV1Api(api).patch_namespaced_deployment("clay-sync", "clay-sync", patch, _request_timeout=5)
        finally:
            api.close()
        for _ in range(12):  # let the rollout replace the pods, a step at a time
            sim.advance(10)
            time.sleep(0.15)
        new = pod_names(sim)
        assert new and not (new & old), (old, new)
        f.wait_for(lambda: new <= {ln.pod for ln in f.lines()}, what="lines from the new pods")
        mark = len(f.lines())
        sim.advance(20)
        f.wait_for(lambda: len(f.lines()) > mark + 20, what="more lines")
        time.sleep(0.5)
        after = {ln.pod for ln in f.lines()[mark:] if ln.pod != COCKPIT_POD}
    assert after <= new, f"gone pods left the follow: {after - new}"
    follows = [r for r in sim.requests("kube") if r["path"].endswith("/log")]
    assert {r["path"].split("/")[-2] for r in follows} >= old | new


def test_reconnect_after_a_dropped_stream_without_duplicates(sim) -> None:
    with Follow(source(sim)) as f:
        f.wait_for(lambda: len({ln.pod for ln in f.lines()}) == 3, what="first lines")
        sim.advance(5)
        time.sleep(0.5)
        sim.stop_service("kube")  # drops every open follow
        f.wait_for(lambda: any(e is not None and e.kind is ErrorKind.UNREACHABLE for e in f.errors), what="unreachable reported")
        cut_at = max(ln.ts for ln in f.lines())  # type: ignore[type-var]
        mark = len(f.lines())
        sim.advance(10)  # lines written while we were cut off
        sim.start_service("kube")
        f.wait_for(lambda: f.errors and f.errors[-1] is None, what="recovery reported")
        f.wait_for(lambda: len(f.lines()) > mark + 10, what="the lines written while cut off")
        sim.advance(5)
        time.sleep(1.0)
    lines = f.lines()
    keys = [(ln.pod, ln.ts, ln.text) for ln in lines]
    assert len(set(keys)) == len(keys), "a reconnect must not deliver a line twice"
    assert all(ln.ts > cut_at for ln in lines[mark:] if ln.pod != COCKPIT_POD), "only lines after the cut"  # type: ignore[operator]
    unreachable = next(e for e in f.errors if e is not None)
    assert unreachable.source == "logs" and "cluster-info" in unreachable.hint
    gap = [ln for ln in lines[mark:] if ln.ts.timestamp() <= cut_at.timestamp() + 10.5]  # type: ignore[union-attr]
    assert len({ln.pod for ln in gap}) == 3, "every pod's lines from the gap arrived"


def test_expired_token_is_reported_with_the_login_hint_and_recovers(sim) -> None:
    with Follow(source(sim)) as f:
        f.wait_for(lambda: len(f.lines()) > 0, what="first lines")
        sim.kube("expire_token")
        sim.stop_service("kube")  # drop the open streams so they must re-authenticate
        sim.start_service("kube")
        f.wait_for(lambda: any(e is not None and e.kind is ErrorKind.AUTH_EXPIRED for e in f.errors), what="auth_expired")
        err = next(e for e in f.errors if e is not None and e.kind is ErrorKind.AUTH_EXPIRED)
        assert "kubectl --context clay-drill get pods" in err.hint
        assert sim.token not in err.line() + repr(err)
        sim.kube("renew_token")
        f.wait_for(lambda: f.errors[-1] is None, what="recovery")
        mark = len(f.lines())
        sim.advance(10)
        f.wait_for(lambda: len(f.lines()) > mark, what="lines after re-authentication")


def test_forbidden_logs(sim) -> None:
    sim.kube("deny", verb="get", resource="pods/log")
    with Follow(source(sim)) as f:
        f.wait_for(lambda: any(e is not None for e in f.errors), what="an error")
        err = next(e for e in f.errors if e is not None)
        assert err.kind is ErrorKind.FORBIDDEN and "lacks permission" in err.hint
        assert f.lines() == []
        sim.kube("allow_all")
        f.wait_for(lambda: len(f.lines()) > 0 and f.errors[-1] is None, timeout=15, what="lines once allowed")


def test_queue_is_bounded_and_counts_drops(sim) -> None:
    with Follow(source(sim, log_buffer=10), flush=1.0) as f:
        f.wait_for(lambda: len(f.batches) >= 1, what="a batch")
        time.sleep(0.3)
    first = f.batches[0][1]
    assert first[0].pod == COCKPIT_POD and "log lines dropped" in first[0].text
    dropped = int(first[0].text.split()[0])
    assert dropped > 0 and len(first) <= 11


def test_missing_kubeconfig_is_reported_not_raised(sim, tmp_path) -> None:
    with Follow(source(sim, kubeconfig=str(tmp_path / "none"))) as f:
        f.wait_for(lambda: bool(f.errors), what="an error")
    (err,) = f.errors
    assert err is not None and err.source == "logs" and err.kind is ErrorKind.CONFIG  # not auth_expired: nothing to log in to
    assert "does not exist" in err.message


def test_a_stalled_stream_is_named_reopened_and_recovers_a_quiet_one_is_not(sim, monkeypatch) -> None:
    """The drill holds every log follow open and silent (``stall_logs``).
    A pod with a cadence that goes quiet is re-opened and, since the server
    answers the re-open at once, not called stalled; a stalled stream is
    named within QUIET_MIN + PROBE_WAIT (shortened here: the same code path),
    keeps being re-opened, and recovers with the lines written meanwhile."""
    from clay_cockpit.sources import _logstream

    monkeypatch.setattr(_logstream, "QUIET_MIN", 2.0)
    monkeypatch.setattr(_logstream, "PROBE_WAIT", 1.0)
    monkeypatch.setattr(_logstream, "QUIET_INTERVALS", 2)

    def follows() -> int:
        return len([r for r in sim.requests("kube") if r["path"].endswith("/log")])

    def cadence(rounds: int) -> None:  # lines arrive every ~0.3 s from every pod
        for _ in range(rounds):
            sim.advance(6)
            time.sleep(0.3)

    names = pod_names(sim)
    with Follow(source(sim, refresh=5.0), flush=0.1) as f:
        f.wait_for(lambda: {ln.pod for ln in f.lines()} == names, what="lines from every pod")
        cadence(6)
        opened = follows()
        time.sleep(4.5)  # quiet: the clock is frozen, nothing is written
        assert follows() > opened, "a pod silent past its cadence has its stream re-opened"
        assert f.errors == [], "a quiet pod whose re-open is answered at once is not stalled"

        cadence(4)
        sim.kube("stall_logs")
        assert sim.state()["kube_logs_stalled"] is True
        stalled_at, mark, opened = time.monotonic(), len(f.lines()), follows()
        sim.advance(10)  # written during the stall: held back by the server
        f.wait_for(lambda: any(e is not None and e.kind is ErrorKind.STALLED for e in f.errors), what="stalled")
        assert time.monotonic() - stalled_at < 8.0, "named within the quiet limit and the probe (before: READ_TIMEOUT, 90 s)"
        err = next(e for e in f.errors if e is not None)
        assert err.kind is ErrorKind.STALLED and err.source == "logs"
        assert "sends nothing" in err.message and err.message.split("pod ")[1].split()[0] in names
        assert "reconnecting" in err.hint and "kubectl logs -f" in err.hint
        assert len(f.lines()) == mark
        f.wait_for(lambda: follows() > opened + len(names), what="a stalled stream re-opened again")
        assert all(e is not None for e in f.errors), "a connection alone does not end a stall"

        sim.kube("unstall_logs")
        f.wait_for(lambda: f.errors[-1] is None, what="recovery reported")
        f.wait_for(lambda: {ln.pod for ln in f.lines()[mark:]} == names, what="the lines written during the stall")
    keys = [(ln.pod, ln.ts, ln.text) for ln in f.lines()]
    assert len(set(keys)) == len(keys), "no line twice after the re-opens"
