"""The merged, bounded follow of our pods' logs (``Kube.follow_logs``).

Threads — at most ``kube.log_streams`` (20) + 2, whatever the number of pods:

- one *lister* reads the selector's pods from the pods watch's cache
  (:func:`~clay_cockpit.sources.kube_podwatch.watched_pods`: no request)
  while that watch is current, else lists them every ``kube.refresh``
  seconds; every ``SCHEDULE_EVERY`` seconds it chooses which pods have a stream
  (:mod:`clay_cockpit.sources._logturns`: troubled and new pods first, the
  rest take turns of ``TURN`` seconds); a pod that lost its turn or is gone
  has its stream stopped (socket closed at once);
- at most ``kube.log_streams`` *streams* (:class:`~clay_cockpit.sources._logstream.PodStream`),
  one thread each, read one pod's ``follow=True`` log. A pod's dedup state
  outlives its stream: a reconnect, or the pod's next turn, reaches back
  past its last line and drops what was already delivered — no duplicates,
  and no gap for a pod that waited for its turn (unless the kubelet rotated
  the lines out meanwhile). A pod whose container is not running yet (400)
  or that vanished (404) is retried quietly;
- the calling thread is the only *delivery* thread: every ``flush_interval``
  it hands the lines gathered since the last flush to ``on_batch`` as one
  :class:`~clay_cockpit.signals.LogLines` (in time order across pods), with
  the follow's :class:`~clay_cockpit.signals.LogFollowState` (pods followed
  of how many, the favoured ones, drops per pod); a batch without lines is
  sent only when that state changed. It reports a changed failure state to
  ``on_error`` (``None`` on recovery).

Why a capped pool of the official client's streams and not httpx streams
on one asyncio loop — measured on the project's 2-core machine following a
500-pod drill (~20 lines/s) for 30 s: 500 client streams cost 1.1% of a
core, 503 threads and 149 MiB; 16 streams taking turns 1.2%, 19 threads,
88 MiB; 500 httpx streams on one loop 0.2%, 1 thread, 110 MiB. An idle
stream costs little CPU either way (the lister's pod list cost more, until
it was read as JSON instead of the client's models: 0.03 s of CPU for 500
pods, not 0.14 s). What grows with the pods is threads, memory and the API
server's load (each follow is a kubelet connection: why ``kubectl logs``
caps them with ``--max-log-requests``); the cap bounds all three, and
keeps every kubeconfig that works today (exec credentials and their
refresh, client certificates, proxies, ``tls-server-name``) on the one code
path the rest of the Kubernetes adapter uses, where an httpx loop would
need its own copy of the client's TLS and auth set-up.

Between streams and delivery sits one bounded deque (``kube.log_buffer``
lines): when lines arrive faster than they are delivered the oldest are
dropped and counted per pod; the next batch starts with a line saying how
many, and the state carries the totals. Nothing is dropped without a count.

A stream can also *stall*: the connection stays open and no byte comes
(a stuck proxy, API server or kubelet), while the pod list still answers.
Nothing on the wire tells that from a pod with nothing to say, so the
delivery thread watches each open stream whose pod has shown a cadence
(``QUIET_AFTER`` arrivals): once it has been silent for ``max(QUIET_MIN,
QUIET_INTERVALS × its usual interval between lines)`` its stream is closed
and re-opened. A working server answers a reconnect at once, since it
reaches back past the last line; a pod that is merely quiet has its limit
doubled (up to ``READ_TIMEOUT``) until it writes again. A reconnect that
gets no byte within ``PROBE_WAIT`` is a stall: the pod's failure state
becomes ``stalled`` (named, with a hint) and stays until a byte arrives.

Stopping: when ``stop`` is set, every stream's socket is shut down (which
wakes a blocked read at once), threads are joined briefly, and
``follow_logs`` returns. Callbacks are never called after it returns.
"""

from __future__ import annotations

import collections
import json
import logging
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from clay_cockpit.signals import ErrorKind, LogFollowState, LogLine, LogLines, SourceError, count_drops
from clay_cockpit.sources import _logturns
from clay_cockpit.sources._errors import make_error, unexpected
from clay_cockpit.sources._logstream import LOGS, PodLog, PodStream
from clay_cockpit.sources._logstream import _Dedup as _Dedup  # re-exported: tests and older imports
from clay_cockpit.sources._logstream import parse_timestamp as parse_timestamp
from clay_cockpit.sources._logstream import split_log_line as split_log_line
from clay_cockpit.sources._logstream import stalled_error as stalled_error
from clay_cockpit.sources._logturns import PodCondition

if TYPE_CHECKING:
    from clay_cockpit.sources import LogBatchSink, LogErrorSink
    from clay_cockpit.sources.kube import Kube

_log = logging.getLogger(__name__)

COCKPIT_POD = "(cockpit)"  # the "pod" of the lines the follower itself adds
SCHEDULE_EVERY = 1.0  # seconds between choices of the pods followed
NOTE_PODS = 5  # pods named in a note line; the rest are counted
NOTE_EVERY = 30.0  # seconds between notes of the favoured pods (the pane's subtitle is always current)
_LAST = datetime.max.replace(tzinfo=UTC)  # where lines without a timestamp sort


def _named(counts: list[tuple[str, str]], total: int) -> str:
    """ "a 3, b 1" or "a 3, b 1 and 4 more pods"."""
    shown = ", ".join(f"{pod} {what}" for pod, what in counts[:NOTE_PODS])
    more = total - min(total, NOTE_PODS)
    return shown + (f" and {more} more pod{'s' if more != 1 else ''}" if more else "")


class LogFollower:
    """One ``follow_logs`` call: see the module docstring."""

    def __init__(
        self,
        kube: Kube,
        on_batch: LogBatchSink,
        on_error: LogErrorSink,
        stop: threading.Event,
        flush_interval: float,
    ) -> None:
        self.kube = kube
        self.on_batch = on_batch
        self.on_error = on_error
        self.stop = stop
        self.flush_interval = max(0.02, flush_interval)
        self.max_streams = max(1, kube.config.log_streams)
        self.began = time.monotonic()
        self.queue: collections.deque[LogLine] = collections.deque(maxlen=max(1, kube.config.log_buffer or 2000))
        self.dropped: dict[str, int] = {}  # since the last batch, per pod
        self.total_dropped: dict[str, int] = {}  # since the follow began (bounded: signals.count_drops)
        self.lock = threading.Lock()
        self.pods: dict[str, PodStream] = {}  # the open streams
        self.ending: list[PodStream] = []  # streams stopped (turn over, pod gone) whose thread may still be ending
        self.logs: dict[str, PodLog] = {}  # every listed pod's log state (dedup, error lines, turns)
        self.conditions: dict[str, PodCondition] = {}
        self.phases: dict[str, str] = {}
        self.errors: dict[str, SourceError] = {}
        self.state = LogFollowState(pods=0)
        self._favoured_noted: tuple[str, ...] = ()
        self._noted_at = -float("inf")
        self._api: Any = None
        self._api_client: Any = None
        self._reported: tuple[ErrorKind, str] | None = None
        self._sent_state: LogFollowState | None = None

    # shared state (any thread) -------------------------------------------

    def push(self, line: LogLine) -> None:
        with self.lock:
            if len(self.queue) == self.queue.maxlen:
                count_drops(self.dropped, self.queue[0].pod)
            self.queue.append(line)

    def set_error(self, origin: str, error: SourceError) -> None:
        with self.lock:
            self.errors[origin] = error

    def clear_error(self, origin: str) -> None:
        with self.lock:
            self.errors.pop(origin, None)

    def stream_error(self, stream: PodStream, error: SourceError | None) -> None:
        """A stream's failure (None: recovered); ignored once its turn is over."""
        with self.lock:
            if self.pods.get(stream.pod) is not stream:
                return
            if error is None:
                self.errors.pop(stream.pod, None)
            else:
                self.errors[stream.pod] = error

    def phase(self, pod: str) -> str | None:
        with self.lock:
            return self.phases.get(pod)

    def api(self) -> Any:
        with self.lock:
            return self._api

    def auth_failed(self) -> None:
        """A 401: rebuild the client from the kubeconfig on the next re-list."""
        self.kube.forget_exec_credentials()  # the server refused it: the exec plugin runs again on the rebuild
        with self.lock:
            client, self._api, self._api_client = self._api_client, None, None
        if client is not None:
            client.close()

    # the lister ----------------------------------------------------------

    def _ensure_api(self) -> bool:
        with self.lock:
            if self._api is not None:
                return True
        api_client = self.kube.build_api_client()
        if isinstance(api_client, SourceError):
            self.set_error("list", replace(api_client, source=LOGS))
            return False
        from kubernetes.client import CoreV1Api

        with self.lock:
            self._api_client, self._api = api_client, CoreV1Api(api_client)
        return True

    def _list_loop(self) -> None:
        listed_at = -float("inf")
        while not self.stop.is_set():
            try:
                if self._from_watch():
                    listed_at = -float("inf")  # (the watch failing: list at once)
                elif time.monotonic() - listed_at >= self.kube.config.refresh:
                    listed_at = time.monotonic()
                    if self._ensure_api():
                        self._relist()
                self._schedule()
            except Exception as exc:  # outermost boundary of this thread: report and keep re-listing
                self.set_error("list", unexpected(LOGS, exc, "the pod list for logs"))
            self.stop.wait(min(SCHEDULE_EVERY, self.kube.config.refresh))

    def _relist(self) -> None:
        from kubernetes.client.exceptions import ApiException
        from urllib3 import exceptions as u3

        cfg = self.kube.config
        action = f"listing pods {cfg.selector} in {cfg.namespace} for logs"
        api = self.api()
        if api is None:  # dropped after a 401 meanwhile: rebuilt on the next round
            return
        try:
            resp = api.list_namespaced_pod(
                cfg.namespace, label_selector=cfg.selector, _request_timeout=self.kube.request_timeout, _preload_content=False
            )
            try:
                items = json.loads(resp.data).get("items") or []
            finally:
                resp.release_conn()
            if not isinstance(items, list):
                raise ValueError("items is not a list")
        except ApiException as exc:
            if exc.status == 401:
                self.auth_failed()
            self.set_error("list", self.kube.api_error(exc, action, source=LOGS))
            return
        except (u3.HTTPError, OSError) as exc:
            self.set_error("list", self.kube.transport_error(exc, action, source=LOGS))
            return
        except (ValueError, AttributeError) as exc:  # not JSON, or not a pod list
            self.set_error("list", make_error(LOGS, ErrorKind.BAD_RESPONSE, f"malformed pod list while {action}: {type(exc).__name__}",
                                              f"check the context points at a Kubernetes API server (`kubectl --context {self.kube.context} get pods`)"))  # fmt: skip
            return
        self._apply({c.name: c for c in map(_logturns.condition, filter(lambda item: isinstance(item, dict), items)) if c.name})

    def _from_watch(self) -> bool:
        """The pods from the pods watch's cache, while it is current (the pods poll
        runs it): no request of our own. False: no current watch, list instead."""
        from clay_cockpit.sources.kube_podwatch import watched_pods

        pods = watched_pods(self.kube)
        if pods is None:
            return False
        self._apply({p.name: _logturns.from_pod(p) for p in pods})
        return True

    def _apply(self, conditions: dict[str, PodCondition]) -> None:
        """The pods now (listed or watched): forget the gone ones' state, start the new ones'."""
        self.clear_error("list")
        with self.lock:
            self.conditions = conditions
            self.phases = {name: c.phase for name, c in conditions.items()}
            for name in [n for n in self.logs if n not in conditions]:
                del self.logs[name]  # gone: its drop count stays in total_dropped
                self.errors.pop(name, None)
            for name in conditions:
                self.logs.setdefault(name, PodLog())

    def _schedule(self) -> None:
        """Give the streams to the pods :func:`_logturns.choose` picks: stop
        the others' streams, start the chosen ones'."""
        now, wall = time.monotonic(), time.time()
        with self.lock:
            conditions = self.conditions
            logs = self.logs
            # a stream that ended by itself (its pod finished) is over
            for name in [n for n, s in self.pods.items() if not s.thread.is_alive() and s.thread.ident is not None]:
                logs.get(name, PodLog()).turn_ended = now
                del self.pods[name]
            why = {
                name: _logturns.trouble(c, wall, logs[name].error_age(now))
                for name, c in conditions.items()
                if name in logs and not logs[name].read_out
            }
            streams = {name: s.started for name, s in self.pods.items()}
            turns = {name: log.turn_ended for name, log in logs.items() if log.turn_ended is not None}
            chosen, favoured = _logturns.choose(why, streams, turns, self.max_streams, now)
            keep = set(chosen)
            stopped = [self.pods.pop(name) for name in list(self.pods) if name not in keep]
            self.ending = [s for s in self.ending if s.thread.is_alive()] + stopped
            for stream in stopped:
                self.errors.pop(stream.pod, None)  # its turn is over: so is what it said
                if stream.pod in logs:
                    logs[stream.pod].turn_ended = now
            started = []
            if not self.stop.is_set():
                for name in chosen:
                    if name not in self.pods:
                        stream = self.pods[name] = PodStream(self, name, logs[name])
                        started.append(stream)
            self.state = replace(self.state, pods=len(why), followed=tuple(sorted(self.pods)), favoured=tuple(favoured))
        for stream in stopped:
            stream.stop()
        for stream in started:
            stream.start()
        self._note_favoured(favoured, len(why), now)

    def _note_favoured(self, favoured: list[tuple[str, str]], pods: int, now: float) -> None:
        """A line in the log when the favoured pods changed while not every
        pod can be followed (at most every ``NOTE_EVERY`` seconds)."""
        names = tuple(name for name, _ in favoured)
        if names == self._favoured_noted or pods <= self.max_streams or now - self._noted_at < NOTE_EVERY:
            return
        self._favoured_noted, self._noted_at = names, now
        if favoured:
            text = (
                f"following {self.max_streams} of {pods} pods' logs at a time: {len(favoured)} troubled first "
                f"({_named(favoured, len(favoured))}); the rest take turns of {_logturns.TURN:.0f} s"
            )
        else:
            text = f"following {self.max_streams} of {pods} pods' logs at a time: they take turns of {_logturns.TURN:.0f} s"
        self.push(LogLine(pod=COCKPIT_POD, text=text, ts=datetime.now(UTC)))

    # delivery (the calling thread) ----------------------------------------

    def run(self) -> None:
        lister = threading.Thread(target=self._list_loop, name="logs:lister", daemon=True)
        lister.start()
        try:
            while not self.stop.wait(self.flush_interval):
                self._deliver()
        finally:
            self._shutdown(lister)

    def _current_error(self) -> SourceError | None:
        with self.lock:
            if "list" in self.errors:
                return self.errors["list"]
            for name in sorted(self.errors):
                return self.errors[name]
        return None

    def _deliver(self) -> None:
        with self.lock:
            # merged: in time order across pods (stable, so a pod's own order holds)
            lines = tuple(sorted(self.queue, key=lambda line: line.ts or _LAST))
            self.queue.clear()
            dropped, self.dropped = self.dropped, {}
            for pod, n in dropped.items():
                count_drops(self.total_dropped, pod, n)
            state = replace(self.state, dropped=tuple(sorted(self.total_dropped.items(), key=lambda kv: (-kv[1], kv[0]))))
        if dropped:
            counts = sorted(dropped.items(), key=lambda kv: (-kv[1], kv[0]))
            note = LogLine(
                pod=COCKPIT_POD,
                text=f"{sum(dropped.values())} log lines dropped: they arrived faster than they could be shown "
                f"({_named([(p, f'{n:,}') for p, n in counts], len(counts))})",
                ts=datetime.now(UTC),
            )
            lines = (note, *lines)
        if lines or state != self._sent_state:
            self._sent_state = state
            self._call(self.on_batch, LogLines(lines, state))
        now = time.monotonic()
        with self.lock:
            streams = list(self.pods.values())
        for stream in streams:
            stream.watch(now)
        error = self._current_error()
        reported = None if error is None else (error.kind, error.message)
        if reported != self._reported:
            self._reported = reported
            self._call(self.on_error, error)

    def _call(self, sink: Any, value: Any) -> None:
        try:
            sink(value)
        except Exception:  # a failing consumer must not end the follow
            _log.exception("log consumer %r failed", sink)

    def _shutdown(self, lister: threading.Thread) -> None:
        with self.lock:
            streams = [*self.pods.values(), *self.ending]
            self.pods.clear()
            self.ending = []
        for stream in streams:
            stream.stop()
        deadline = time.monotonic() + 2.0
        for stream in streams:
            # the lister registers a stream, then starts it outside the lock: one not started yet
            # sees ``done`` set when it runs and ends at once (the lister is joined below)
            if stream.thread.ident is not None:
                stream.thread.join(max(0.0, deadline - time.monotonic()))
        lister.join(max(0.0, deadline - time.monotonic()))
        with self.lock:
            client, self._api, self._api_client = self._api_client, None, None
        if client is not None:
            client.close()
