"""The merged, bounded follow of our pods' logs (``Kube.follow_logs``).

Threads:

- one *lister* re-lists the selector's pods every ``kube.refresh`` seconds:
  a new pod gets a follower thread, a pod that is gone has its thread stopped
  and its stream closed;
- one *follower* per pod reads ``read_namespaced_pod_log(follow=True,
  timestamps=True, _preload_content=False)`` line by line. The first
  connection starts from ``tail_lines=log_tail`` / ``since_seconds=log_since``.
  When the stream drops (API server restart, network blip, container
  restart), it reconnects with ``since_seconds`` reaching back past its last
  line (see :meth:`_Dedup.since_seconds`; the Python client has no
  ``sinceTime``) and drops every line at or before that line's timestamp that
  it has already delivered — no duplicates, no gap. A pod whose container is not
  running yet (400) or that vanished (404) is retried quietly;
- the calling thread is the only *delivery* thread: every ``flush_interval``
  it hands the lines gathered since the last flush to ``on_batch`` (one call,
  nothing when there is nothing new) and reports a changed failure state to
  ``on_error`` (``None`` on recovery).

Between followers and delivery sits one bounded deque (``kube.log_buffer``
lines): when lines arrive faster than they are delivered the oldest are
dropped and counted; the next batch starts with a line saying how many.

A stream can also *stall*: the connection stays open and no byte comes
(a stuck proxy, API server or kubelet), while the pod list still answers.
Nothing on the wire tells that from a pod with nothing to say, so the
delivery thread watches each pod that has shown a cadence (``QUIET_AFTER``
arrivals): once it has been silent for ``max(QUIET_MIN, QUIET_INTERVALS ×
its usual interval between lines)`` its stream is closed and re-opened. A
working server answers a reconnect at once, since it reaches back past the
last line (those lines are dropped as duplicates, but they are bytes); a
pod that is merely quiet has its limit doubled (up to ``READ_TIMEOUT``)
until it writes again. A reconnect that gets no byte within ``PROBE_WAIT``
is a stall: the pod's failure state becomes ``stalled`` (named, with a hint)
and stays until a byte arrives, while the stream keeps being re-opened.

Stopping: when ``stop`` is set, every stream's socket is shut down (which
wakes a blocked read at once), threads are joined briefly, and
``follow_logs`` returns. Callbacks are never called after it returns.
"""

from __future__ import annotations

import collections
import logging
import math
import re
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from clay_cockpit.sanitise import clean_line
from clay_cockpit.signals import ErrorKind, LogLine, SourceError
from clay_cockpit.sources._errors import make_error, unexpected

if TYPE_CHECKING:
    from clay_cockpit.sources import LogBatchSink, LogErrorSink
    from clay_cockpit.sources.kube import Kube

_log = logging.getLogger(__name__)

LOGS = "logs"
COCKPIT_POD = "(cockpit)"  # the "pod" of the lines the follower itself adds
READ_TIMEOUT = 90.0  # a quiet pod's stream is re-opened after this long without a byte
SKEW_MARGIN = 5  # seconds reconnects reach back beyond the last line (clock skew, sub-second)
MAX_LINE = 16 * 1024  # longer lines are cut
MAX_SEEN = 256  # texts remembered at the newest timestamp, for dedup
QUIET_MIN = 15.0  # seconds: never call a stream quiet sooner
QUIET_INTERVALS = 5  # usual intervals between lines a stream may be silent before it is re-opened
QUIET_AFTER = 3  # arrivals of new lines before a pod's usual interval is trusted
PROBE_WAIT = 5.0  # seconds a re-opened stream has to send its first byte before it counts as stalled

_LAST = datetime.max.replace(tzinfo=UTC)  # where lines without a timestamp sort
_TS_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$")


def parse_timestamp(text: str) -> tuple[datetime, tuple[int, int]] | None:
    """An RFC 3339 (nano) timestamp → (datetime, (epoch seconds, nanoseconds)).

    The tuple keeps nanosecond order, which a datetime cannot.
    """
    match = _TS_RE.match(text)
    if not match:
        return None
    base, frac, zone = match.groups()
    try:
        whole = datetime.fromisoformat(base + ("+00:00" if zone == "Z" else zone))
    except ValueError:
        return None
    nanos = int((frac or "0").ljust(9, "0"))
    ts = whole.replace(microsecond=nanos // 1000).astimezone(UTC)
    return ts, (int(whole.timestamp()), nanos)


def split_log_line(raw: str) -> tuple[str, datetime | None, tuple[int, int] | None]:
    """``"<RFC3339Nano> text"`` → (text, ts, order key); a line without a
    timestamp keeps its whole text and gets no ts. The text is made inert
    (:func:`clay_cockpit.sanitise.clean_line`): a log line is anyone's text."""
    stamp, sep, rest = raw.partition(" ")
    parsed = parse_timestamp(stamp) if sep else parse_timestamp(stamp.strip())
    if parsed is None:
        return clean_line(raw), None, None
    return clean_line(rest), parsed[0], parsed[1]


class _Dedup:
    """Remembers the newest delivered timestamp of one pod's log."""

    def __init__(self) -> None:
        self.last: tuple[int, int] | None = None
        self.seen: set[str] = set()
        self.received_at = 0.0  # time.monotonic() when the newest line arrived

    def since_seconds(self) -> int:
        """How far back a reconnect must reach to miss nothing.

        The larger of: the age of the newest line by the local wall clock, and
        the local time elapsed since it arrived (right even when the two
        clocks disagree: a line that arrived is at most that old on the
        server). Plus a margin; what comes twice is dropped by :meth:`fresh`.
        """
        assert self.last is not None
        by_stamp = time.time() - self.last[0]
        by_arrival = time.monotonic() - self.received_at
        return max(1, math.ceil(max(by_stamp, by_arrival)) + SKEW_MARGIN)

    def fresh(self, key: tuple[int, int] | None, text: str) -> bool:
        if key is None:
            return True
        self.received_at = time.monotonic()
        if self.last is not None:
            if key < self.last:
                return False
            if key == self.last:
                if text in self.seen:
                    return False
                if len(self.seen) < MAX_SEEN:
                    self.seen.add(text)
                return True
        self.last = key
        self.seen = {text}
        return True


class _PodFollower:
    def __init__(self, owner: LogFollower, pod: str) -> None:
        self.owner = owner
        self.pod = pod
        self.done = threading.Event()
        self.resp: Any = None
        self.resp_lock = threading.Lock()
        self.dedup = _Dedup()
        self.thread = threading.Thread(target=self._run, name=f"logs:{pod}", daemon=True)
        # the quiet-stream watch (guarded by resp_lock; times are time.monotonic())
        self.last_byte = 0.0  # the newest chunk arrived, or the stream was opened
        self.last_fresh = 0.0  # the newest chunk with a new line arrived
        self.interval: float | None = None  # usual seconds between arrivals of new lines (moving average)
        self.arrivals = 0  # arrivals of new lines
        self.backoff = 1.0  # × the quiet limit: doubled each time a re-open finds the pod merely quiet
        self.probing = False  # re-opened by the watch: the first byte decides quiet or stalled
        self.stalled = False  # reported as stalled; cleared by the next byte

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.done.set()
        with self.resp_lock:
            resp = self.resp
        if resp is not None:
            _abort(resp, self.pod)

    # the quiet-stream watch (called by the delivery thread) -------------

    def quiet_limit(self) -> float | None:
        """Seconds of silence after which the stream is re-opened (None: no cadence known yet)."""
        if self.interval is None or self.arrivals < QUIET_AFTER:
            return None
        return min(READ_TIMEOUT, max(QUIET_MIN, QUIET_INTERVALS * self.interval) * self.backoff)

    def watch(self, now: float) -> None:
        """Re-open a stream silent for longer than its pod's cadence allows;
        report a stall when a re-opened one stays silent too."""
        with self.resp_lock:
            resp = self.resp
            if resp is None:
                return  # connecting, or waiting to: nothing open to judge
            silent = now - self.last_byte
            if self.probing and not self.stalled and silent > PROBE_WAIT:
                self.stalled = True
                report = now - self.last_fresh
            else:
                report = None
            limit = self.quiet_limit()
            kick = limit is not None and silent > limit
            if kick:
                self.probing = True
        if report is not None:
            self.owner.set_error(self.pod, stalled_error(self.pod, report, self.interval, limit))
        if kick:
            _log.info("log stream of %s silent for %.0f s (usually a line every %.1f s): re-opening", self.pod, silent, self.interval or 0)
            _wake(resp, self.pod)

    def _heard(self, fresh: bool) -> None:
        """A chunk arrived (``fresh``: with at least one new line)."""
        now = time.monotonic()
        with self.resp_lock:
            self.last_byte = now
            if fresh:
                if self.arrivals:
                    gap = now - self.last_fresh
                    self.interval = gap if self.interval is None else 0.8 * self.interval + 0.2 * gap
                self.arrivals += 1
                self.last_fresh = now
                self.backoff = 1.0
            elif self.probing:  # re-opened, and the server answered at once: the pod is just quiet
                self.backoff = min(self.backoff * 2, 64.0)
            self.probing = False
            was_stalled, self.stalled = self.stalled, False
        if was_stalled:
            self.owner.clear_error(self.pod)

    # ---------------------------------------------------------------------

    def _run(self) -> None:
        while not self.done.is_set() and not self.owner.stop.is_set():
            try:
                self._loop()
                return
            except Exception as exc:  # outermost boundary of this thread: report, back off, go on
                self.owner.set_error(self.pod, unexpected(LOGS, exc, f"the log of pod {self.pod}"))
                self.done.wait(2.0)

    def _loop(self) -> None:
        cfg = self.owner.kube.config
        quiet = 0.5  # wait before the next connect when nothing is wrong
        max_wait = max(2.0, min(10.0, cfg.refresh))
        while not self.done.is_set() and not self.owner.stop.is_set():
            api = self.owner.api()
            if api is None:
                self.done.wait(0.5)
                continue
            resp = self._connect(api)
            if resp is None:
                self.done.wait(quiet)
                quiet = min(quiet * 2, max_wait)
                continue
            got_lines = self._read(resp)
            if self.owner.phase(self.pod) in ("Succeeded", "Failed"):
                self.done.wait()  # a finished pod writes no more: wait until it leaves
                return
            with self.resp_lock:
                rewatched = self.probing  # closed by the watch: re-open at once
            quiet = 0.5 if got_lines or rewatched else min(quiet * 2, max_wait)
            self.done.wait(0.1 if rewatched else quiet)

    def _connect(self, api: Any) -> Any:
        from kubernetes.client.exceptions import ApiException
        from urllib3 import exceptions as u3

        kube = self.owner.kube
        cfg = kube.config
        kwargs: dict[str, Any] = {
            "follow": True,
            "timestamps": True,
            "_preload_content": False,
            "_request_timeout": (cfg.timeout, READ_TIMEOUT),
        }
        if cfg.container:
            kwargs["container"] = cfg.container
        if self.dedup.last is None:
            kwargs["tail_lines"] = cfg.log_tail
            if cfg.log_since:
                kwargs["since_seconds"] = cfg.log_since
        else:
            kwargs["since_seconds"] = self.dedup.since_seconds()
        action = f"following the log of pod {self.pod}"
        try:
            resp = api.read_namespaced_pod_log(self.pod, cfg.namespace, **kwargs)
        except ApiException as exc:
            if exc.status in (400, 404):  # container not started yet / pod just went away
                self.owner.clear_error(self.pod)
                return None
            if exc.status == 401:
                self.owner.auth_failed()
            self.owner.set_error(self.pod, kube.api_error(exc, action, source=LOGS))
            return None
        except (u3.HTTPError, OSError) as exc:
            self.owner.set_error(self.pod, kube.transport_error(exc, action, source=LOGS))
            return None
        with self.resp_lock:
            self.resp = resp
            self.last_byte = time.monotonic()  # silence is counted from here
            stalled = self.stalled
        if self.done.is_set():  # stopped while connecting
            _abort(resp, self.pod)
        if not stalled:  # a stall ends with a byte, not with a connection
            self.owner.clear_error(self.pod)
        return resp

    def _read(self, resp: Any) -> bool:
        """Read lines until the stream ends; True if any line was new."""
        from urllib3 import exceptions as u3

        container = self.owner.kube.config.container or None
        got = False
        pending = b""
        read = getattr(resp, "read1", None)
        try:
            while not self.done.is_set():
                chunk = read(65536) if read is not None else resp.read(1024)
                if not chunk:
                    break  # the server ended the stream
                pending += chunk
                *lines, pending = pending.split(b"\n")
                if len(pending) > MAX_LINE:
                    lines.append(pending)
                    pending = b""
                fresh = False
                for raw in lines:
                    text, ts, key = split_log_line(raw[:MAX_LINE].decode("utf-8", "replace").rstrip("\r"))
                    if self.dedup.fresh(key, text):
                        fresh = True
                        self.owner.push(LogLine(pod=self.pod, text=text, ts=ts, container=container))
                got = got or fresh
                self._heard(fresh)
        except (u3.HTTPError, OSError, ValueError) as exc:
            # dropped (network, API server restart), quiet too long, or closed by stop(): reconnect or leave
            _log.debug("log stream of %s ended: %s", self.pod, type(exc).__name__)
        finally:
            with self.resp_lock:
                self.resp = None
            _abort(resp, self.pod)  # a follow connection is never reused
        return got


def stalled_error(pod: str, silent: float, interval: float | None, limit: float | None) -> SourceError:
    """The named state of a stalled stream: what, how long, and what to do."""
    usual = f"; it usually writes a line every {interval:.1f} s" if interval is not None else ""
    again = f" every {limit:.0f} s" if limit is not None else ""
    return make_error(
        LOGS,
        ErrorKind.STALLED,
        f"the log stream of pod {pod} is open but sends nothing: no line for {silent:.0f} s{usual}, "
        f"and a reconnect got no byte either",
        f"the log lines shown are old; reconnecting{again}. If it persists, check `kubectl logs -f {pod}` "
        "and the API server's or proxy's streaming",
    )


def _wake(resp: Any, pod: str) -> None:
    """End a blocked read from another thread: shut the socket down only (the
    reading thread closes the response itself; closing it under a read races
    with http.client). Without a socket to shut down, close as :func:`_abort`."""
    try:
        resp.shutdown()
    except (AttributeError, ValueError, RuntimeError, OSError) as exc:
        _log.debug("log stream of %s: no socket to shut down (%s); closing", pod, type(exc).__name__)
        _abort(resp, pod)


def _abort(resp: Any, pod: str) -> None:
    """Wake a read blocked on this stream: shut the socket down, then close."""
    try:
        resp.shutdown()
    except (AttributeError, ValueError, RuntimeError, OSError) as exc:
        _log.debug("log stream of %s: no socket to shut down (%s); closing", pod, type(exc).__name__)
    try:
        resp.close()
    except OSError as exc:
        _log.debug("log stream of %s: close failed: %s", pod, exc)


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
        self.queue: collections.deque[LogLine] = collections.deque(maxlen=max(1, kube.config.log_buffer or 2000))
        self.dropped = 0
        self.total_dropped = 0
        self.lock = threading.Lock()
        self.pods: dict[str, _PodFollower] = {}
        self.phases: dict[str, str] = {}
        self.errors: dict[str, SourceError] = {}
        self._api: Any = None
        self._api_client: Any = None
        self._reported: tuple | None = None

    # shared state (any thread) -------------------------------------------

    def push(self, line: LogLine) -> None:
        with self.lock:
            if len(self.queue) == self.queue.maxlen:
                self.dropped += 1
                self.total_dropped += 1
            self.queue.append(line)

    def set_error(self, origin: str, error: SourceError) -> None:
        with self.lock:
            self.errors[origin] = error

    def clear_error(self, origin: str) -> None:
        with self.lock:
            self.errors.pop(origin, None)

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
        while not self.stop.is_set():
            try:
                if self._ensure_api():
                    self._relist()
            except Exception as exc:  # outermost boundary of this thread: report and keep re-listing
                self.set_error("list", unexpected(LOGS, exc, "the pod list for logs"))
            self.stop.wait(self.kube.config.refresh)

    def _relist(self) -> None:
        from kubernetes.client.exceptions import ApiException
        from urllib3 import exceptions as u3

        cfg = self.kube.config
        action = f"listing pods {cfg.selector} in {cfg.namespace} for logs"
        api = self.api()
        if api is None:  # dropped after a 401 meanwhile: rebuilt on the next round
            return
        try:
            pod_list = api.list_namespaced_pod(
                cfg.namespace, label_selector=cfg.selector, _request_timeout=self.kube.request_timeout
            )
        except ApiException as exc:
            if exc.status == 401:
                self.auth_failed()
            self.set_error("list", self.kube.api_error(exc, action, source=LOGS))
            return
        except (u3.HTTPError, OSError) as exc:
            self.set_error("list", self.kube.transport_error(exc, action, source=LOGS))
            return
        except ValueError as exc:  # the client could not read the answer
            self.set_error("list", make_error(LOGS, ErrorKind.BAD_RESPONSE, f"malformed pod list while {action}: {type(exc).__name__}",
                                              f"check the context points at a Kubernetes API server (`kubectl --context {self.kube.context} get pods`)"))  # fmt: skip
            return
        self.clear_error("list")
        phases = {p.metadata.name: (p.status.phase if p.status else None) or "Unknown" for p in pod_list.items or []}
        with self.lock:
            self.phases = phases
            gone = [name for name in self.pods if name not in phases]
            new = [name for name in sorted(phases) if name not in self.pods]
            stopped = [self.pods.pop(name) for name in gone]
            for name in gone:
                self.errors.pop(name, None)
            started = []
            if not self.stop.is_set():
                for name in new:
                    follower = self.pods[name] = _PodFollower(self, name)
                    started.append(follower)
        for follower in stopped:
            follower.stop()
        for follower in started:
            follower.start()

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
            dropped, self.dropped = self.dropped, 0
        if dropped:
            note = LogLine(
                pod=COCKPIT_POD,
                text=f"{dropped} log lines dropped: they arrived faster than they could be shown",
                ts=datetime.now(UTC),
            )
            lines = (note, *lines)
        if lines:
            self._call(self.on_batch, lines)
        now = time.monotonic()
        with self.lock:
            followers = list(self.pods.values())
        for follower in followers:
            follower.watch(now)
        error = self._current_error()
        state = None if error is None else (error.kind, error.message)
        if state != self._reported:
            self._reported = state
            self._call(self.on_error, error)

    def _call(self, sink: Any, value: Any) -> None:
        try:
            sink(value)
        except Exception:  # a failing consumer must not end the follow
            _log.exception("log consumer %r failed", sink)

    def _shutdown(self, lister: threading.Thread) -> None:
        with self.lock:
            followers = list(self.pods.values())
            self.pods.clear()
        for follower in followers:
            follower.stop()
        deadline = time.monotonic() + 2.0
        for follower in followers:
            follower.thread.join(max(0.0, deadline - time.monotonic()))
        lister.join(max(0.0, deadline - time.monotonic()))
        with self.lock:
            client, self._api, self._api_client = self._api_client, None, None
        if client is not None:
            client.close()
