"""One pod's log stream: read, deduplicated, watched for stalls.

A :class:`PodStream` reads ``read_namespaced_pod_log(follow=True,
timestamps=True, _preload_content=False)`` line by line in its own thread
while the follow (:mod:`clay_cockpit.sources._kubelogs`) gives its pod a
turn. The first stream of a pod starts from ``tail_lines=log_tail`` /
``since_seconds=log_since``. When a stream drops (API server restart,
network blip, container restart) or its pod's turn comes again, it
reconnects with ``since_seconds`` reaching back past the pod's last line
(:meth:`Dedup.since_seconds`; the Python client has no ``sinceTime``) and
drops every line at or before that line's timestamp that was already
delivered — no duplicates, no gap. The :class:`Dedup` state belongs to the
pod, not to the stream, so it outlives a turn; a pod whose first stream
opens later than ``CATCH_UP_AFTER`` after the follow began (it waited for
its turn, or it is new) reaches back to when the follow began instead of
starting from its tail, so nothing written meanwhile is skipped. A pod whose container is not
running yet (400) or that vanished (404) is retried quietly.

Stalls: see :meth:`PodStream.watch` and the follow's docstring.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from clay_cockpit.sanitise import clean_line, clean_line_colour
from clay_cockpit.signals import ErrorKind, LogLine, SourceError
from clay_cockpit.sources._errors import make_error, unexpected

if TYPE_CHECKING:
    from clay_cockpit.sources._kubelogs import LogFollower

_log = logging.getLogger(__name__)

LOGS = "logs"
READ_TIMEOUT = 90.0  # a quiet pod's stream is re-opened after this long without a byte
SKEW_MARGIN = 5  # seconds reconnects reach back beyond the last line (clock skew, sub-second)
MAX_LINE = 16 * 1024  # longer lines are cut
MAX_SEEN = 256  # texts remembered at the newest timestamp, for dedup
QUIET_MIN = 15.0  # seconds: never call a stream quiet sooner
QUIET_INTERVALS = 5  # usual intervals between lines a stream may be silent before it is re-opened
QUIET_AFTER = 3  # arrivals of new lines before a pod's usual interval is trusted
CATCH_UP_AFTER = 5.0  # seconds after the follow began from which a pod's first stream reaches back to then, not to its tail
PROBE_WAIT = 5.0  # seconds a re-opened stream has to send its first byte before it counts as stalled
# an error line (favours its pod): a logfmt/JSON level, or a leading level word
_ERROR_RE = re.compile(r'(?i)(?:^|[\s{,])"?level"?\s*[=:]\s*"?(?:error|fatal|panic|critical)\b|^\W{0,2}(?:error|fatal|panic|critical)\b')
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


class PodLog:
    """What the follow remembers of one pod between its streams."""

    def __init__(self) -> None:
        self.dedup = _Dedup()
        self.error_at: float | None = None  # time.monotonic() of its newest error line
        self.read_out = False  # its pod finished and its log was read to the end: no more turns
        self.turn_ended: float | None = None  # time.monotonic() its last stream ended

    def error_age(self, now: float) -> float | None:
        """Seconds since its newest error line (None: none seen)."""
        return None if self.error_at is None else now - self.error_at


class PodStream:
    """One open turn of one pod's log: a thread reading its stream."""

    def __init__(self, owner: LogFollower, pod: str, log: PodLog) -> None:
        self.owner = owner
        self.pod = pod
        self.log = log
        self.started = time.monotonic()
        self.done = threading.Event()
        self.resp: Any = None
        self.resp_lock = threading.Lock()
        self.dedup = log.dedup
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
            self.owner.stream_error(self, stalled_error(self.pod, report, self.interval, limit))
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
            self.owner.stream_error(self, None)

    # ---------------------------------------------------------------------

    def _run(self) -> None:
        while not self.done.is_set() and not self.owner.stop.is_set():
            try:
                self._loop()
                return
            except Exception as exc:  # outermost boundary of this thread: report, back off, go on
                if self.done.is_set() or self.owner.stop.is_set():
                    # stopping: the response was shut under a blocked read, and http.client can fail inside it
                    # (AttributeError on its emptied file object) — the end of this stream, not a fault to show
                    _log.debug("log stream of %s ended while stopping: %s: %s", self.pod, type(exc).__name__, exc)
                    return
                self.owner.stream_error(self, unexpected(LOGS, exc, f"the log of pod {self.pod}"))
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
                self.log.read_out = True  # a finished pod writes no more: its turns are over
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
        waited = time.monotonic() - self.owner.began
        if self.dedup.last is None and waited > CATCH_UP_AFTER:
            # a pod whose first line comes after the follow began (it waited for its turn,
            # or it is new): everything since then, not the tail, so that nothing is skipped
            since = math.ceil(waited) + SKEW_MARGIN
            kwargs["since_seconds"] = min(since, cfg.log_since) if cfg.log_since else since
        elif self.dedup.last is None:
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
                self.owner.stream_error(self, None)
                return None
            if exc.status == 401:
                self.owner.auth_failed()
            self.owner.stream_error(self, kube.api_error(exc, action, source=LOGS))
            return None
        except (u3.HTTPError, OSError) as exc:
            self.owner.stream_error(self, kube.transport_error(exc, action, source=LOGS))
            return None
        with self.resp_lock:
            self.resp = resp
            self.last_byte = time.monotonic()  # silence is counted from here
            stalled = self.stalled
        if self.done.is_set():  # stopped while connecting
            _abort(resp, self.pod)
        if not stalled:  # a stall ends with a byte, not with a connection
            self.owner.stream_error(self, None)
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
                    decoded = raw[:MAX_LINE].decode("utf-8", "replace").rstrip("\r")
                    text, ts, key = split_log_line(decoded)
                    if self.dedup.fresh(key, text):
                        fresh = True
                        if _ERROR_RE.search(text):
                            self.log.error_at = time.monotonic()
                        styled = clean_line_colour(decoded.partition(" ")[2] if ts is not None else decoded)
                        self.owner.push(LogLine(pod=self.pod, text=text, ts=ts, container=container, styled=styled))
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
        f"the log stream of pod {pod} is open but sends nothing: no line for {silent:.0f} s{usual}, and a reconnect got no byte either",
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
