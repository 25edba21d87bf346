"""What keeps the cockpit live: one poll per source and the pod log follow.

This module owns the schedule and the rules, not the threads: it never
imports Textual, so it is tested with plain threads and asyncio. Its host
(the app) gives it two things — ``set_timer(delay, callback)``, returning
something with ``stop()``, and a way to start a worker — and turns what it
hands back into messages. Everything here but :meth:`Polls.fetch`,
:meth:`Polls.fetch_async` and :meth:`LogFollow.follow` runs on the host's
one thread (the UI thread); those three run in the worker the host starts
and touch no state of ours.

Polling (:class:`Polls`): a poll is re-armed only once its answer is back
(:meth:`Polls.answered`), so polls never pile up; a failure backs off
(:func:`backoff`, or the source's Retry-After). The status page and health
sources are async (polled in a task, with a deadline of their own timeout
plus ``ASYNC_GRACE``); Prometheus and Kubernetes are blocking clients
(polled in a thread). Asking for a source builds its client on first use,
which imports it: that too happens in the worker, never on the UI thread.

Logs (:class:`LogFollow`): one blocking ``Kube.follow_logs`` until the stop
event is set; the batches it delivers are coalesced here and flushed at
most every ``LOG_FLUSH`` seconds (each flush scrolls the whole log pane,
the main cost on an SSH link); the newest ``RECENT_LOGS`` lines are kept
for triage. A follow that returns unasked is started again after
``LOG_RESTART``. :meth:`LogFollow.stale` says when the lines triage reads
are old: the follow failed and no line came since.

A source that raises breaks its contract (:mod:`clay_cockpit.sources`): that
becomes a named failure (:func:`source_bug`), never an exception out of a
worker.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

# clay_cockpit.signals loads in the functions that need it: the app imports this
# module after the first frame, but nothing here should make that a cost
if TYPE_CHECKING:
    from clay_cockpit.config import Config
    from clay_cockpit.signals import LogLine, SourceError

log = logging.getLogger(__name__)
LOG_FLUSH = 0.5  # seconds: log lines reach the screen at most twice a second (each flush
# scrolls the whole log pane: ~0.5 KB at 80x24, so this is the main cost on an SSH link)
LOG_RESTART = 5.0  # seconds before following logs again after the follow ended
RECENT_LOGS = 300  # log lines kept for triage
ASYNC_GRACE = 5.0  # extra seconds over a source's own timeout before we give up on it
RETRY_AFTER_CAP = 300.0  # seconds: the longest Retry-After a source may ask us to wait


class Handle(Protocol):
    """An armed timer (Textual's ``Timer`` is one)."""

    def stop(self) -> None:
        """Disarm it; stopping a timer that fired does nothing."""


SetTimer = Callable[[float, Callable[[], object]], Handle]


def backoff(delay: float) -> float:
    """The next delay after a failed poll: doubles, at least 5 s, at most 30 s."""
    return min(max(delay * 2, 5.0), 30.0)


def source_bug(name: str, err: BaseException) -> SourceError:
    """A source broke its contract and raised: show it as a named failure.

    Only the exception type is shown: its text might carry a secret.
    """
    from clay_cockpit.signals import ErrorKind, SourceError

    return SourceError(
        name,
        ErrorKind.BAD_RESPONSE,
        f"the {name} source raised {type(err).__name__}",
        "a bug in clay-cockpit; the other panes are unaffected — please report it",
    )


# -- polling -----------------------------------------------------------------


@dataclass
class Poll:
    """One source's poll and where its schedule stands."""

    name: str  # the Signals field (and pane id) it fills
    interval: float  # seconds between polls while it answers
    description: str  # what its worker is doing, for Textual's worker list
    call: Callable[[Any], Any]  # sources → the snapshot (blocking), or → the source to await fetch() on (async)
    timeout: float | None = None  # an async source's own timeout; None: a blocking client, polled in a thread
    delay: float = 0.0  # seconds until the next poll, once this one is answered
    timer: Handle | None = None
    busy: bool = False  # its worker is running

    @property
    def blocking(self) -> bool:
        return self.timeout is None


class Polls:
    """The polls of the four sources: started on demand, re-armed when answered.

    ``run(poll)`` starts the worker for one poll: a thread for a blocking
    poll that calls :meth:`fetch`, a task for an async one that awaits
    :meth:`fetch_async`; either hands the result back, through the host's
    own thread, to :meth:`answered`.
    """

    def __init__(self, config: Config, sources: Any, *, set_timer: SetTimer, run: Callable[[Poll], object]) -> None:
        self.sources = sources
        self._set_timer = set_timer
        self._run = run
        self.by_name: dict[str, Poll] = {
            poll.name: poll
            for poll in (
                Poll("statuspage", config.statuspage.refresh, "Polling the Clay status page", lambda s: s.statuspage,
                     timeout=config.statuspage.timeout),
                Poll("health", config.health.refresh, "Polling the health endpoint", lambda s: s.health, timeout=config.health.timeout),
                Poll("metrics", config.metrics.refresh, "Querying Prometheus", lambda s: s.metrics.fetch()),
                Poll("pods", config.kube.refresh, "Listing pods", lambda s: s.kube.list_pods()),
            )
        }

    def start_all(self) -> None:
        """Poll every source now (unless its poll is still out) and go back to its own interval."""
        for poll in self.by_name.values():
            poll.delay = poll.interval
            self.start(poll)

    def start(self, poll: Poll) -> None:
        """Start ``poll`` now, unless it is still out: then its answer re-arms it."""
        if poll.busy:
            return
        if poll.timer is not None:
            poll.timer.stop()
            poll.timer = None
        poll.busy = True
        self._run(poll)

    def fetch(self, poll: Poll) -> Any:
        """A blocking poll (in a worker thread): the snapshot or a SourceError, never an exception."""
        try:
            return poll.call(self.sources)
        except Exception as err:  # the contract says never; if it happens, it is a named failure
            return source_bug(poll.name, err)

    async def fetch_async(self, poll: Poll) -> Any:
        """An async poll (in a worker task): the snapshot or a SourceError, never an exception."""
        from clay_cockpit.signals import ErrorKind, SourceError

        timeout = (poll.timeout or 0.0) + ASYNC_GRACE
        try:
            source = await asyncio.to_thread(poll.call, self.sources)  # the first use imports its client
            return await asyncio.wait_for(source.fetch(), timeout)
        except TimeoutError:
            return SourceError(
                poll.name, ErrorKind.TIMEOUT, f"no answer within {timeout:.0f}s", "the endpoint or the network path is hanging; check it from this host"
            )
        except Exception as err:  # the contract says never; if it happens, it is a named failure
            return source_bug(poll.name, err)

    def answered(self, name: str, result: Any) -> Poll:
        """``name``'s poll is back with ``result``: arm the next one, its
        interval after an answer, backed off after a failure."""
        from clay_cockpit.signals import SourceError

        poll = self.by_name[name]
        poll.busy = False
        error = result if isinstance(result, SourceError) else None
        if error is None:
            poll.delay = poll.interval
        else:
            poll.delay = max(backoff(poll.delay), min(error.retry_after or 0.0, RETRY_AFTER_CAP))
        # --debug: every poll's outcome (a SourceError's text is the screen's: no secret in it)
        log.debug("%s: %s; next in %.1fs", name, "ok" if error is None else f"{error.kind.value}: {error.message}", poll.delay)
        poll.timer = self._set_timer(poll.delay, partial(self.start, poll))
        return poll


# -- logs --------------------------------------------------------------------


class LogFollow:
    """The pod log follow: the blocking follow itself (:meth:`follow`, in a
    worker thread), and on the host's thread the batches coalesced into
    flushes (:meth:`arrived`), the recent lines for triage and whether they
    are stale (:meth:`failed`, :meth:`stale`).

    ``start()`` starts the worker that runs :meth:`follow` (used to follow
    again after it ended, :meth:`ended`); ``on_flush(lines, now)`` gets each
    flush, at most every ``LOG_FLUSH`` seconds; ``clock`` is the host's.
    """

    def __init__(self, sources: Any, *, buffer: int, stop: threading.Event, clock: Callable[[], float], set_timer: SetTimer,
                 start: Callable[[], object], on_flush: Callable[[tuple[LogLine, ...], float], None]) -> None:
        self.sources = sources
        self.stop = stop  # set: the follow returns (quit, hangup); never cleared
        self._clock = clock
        self._set_timer = set_timer
        self._start = start
        self._on_flush = on_flush
        self._pending: deque[LogLine] = deque(maxlen=max(1, buffer))  # arrived, not flushed: the newest ``buffer``
        self._flush_timer: Handle | None = None
        self._recent: deque[LogLine] = deque(maxlen=RECENT_LOGS)
        self._error: SourceError | None = None  # the follow's current failure
        self._failing_since: float | None = None  # when it began
        self._lines_at: float | None = None  # the last flush

    # in the worker thread

    def follow(self, on_batch: Callable[[tuple[LogLine, ...]], object], on_fault: Callable[[SourceError | None], object],
               on_ended: Callable[[], object]) -> None:
        """Blocking: follow the logs until ``stop`` is set. The callbacks are
        called in this thread (the host passes them on to its own):
        ``on_batch`` with lines, ``on_fault`` with a failure (``None`` once it
        recovered), ``on_ended`` if the follow returned unasked."""
        try:
            self.sources.kube.follow_logs(lambda lines: on_batch(tuple(lines)), on_fault, self.stop, LOG_FLUSH)
        except Exception as err:  # the contract says never; if it happens, it is a named failure
            on_fault(source_bug("logs", err))
        if not self.stop.is_set():
            on_ended()

    # on the host's thread

    def arrived(self, lines: tuple[LogLine, ...]) -> None:
        """A batch from the follow: flushed with the others within ``LOG_FLUSH``."""
        self._pending.extend(lines)
        if self._flush_timer is None:
            self._flush_timer = self._set_timer(LOG_FLUSH, self._flush)

    def _flush(self) -> None:
        self._flush_timer = None
        lines = tuple(self._pending)
        self._pending.clear()
        if not lines:
            return
        now = self._clock()
        self._lines_at = now
        self._recent.extend(lines)
        self._on_flush(lines, now)

    def failed(self, error: SourceError | None, now: float) -> None:
        """The follow failed (``error``) or recovered (``None``), at ``now``."""
        if error is None:
            self._failing_since = None
        elif self._error is None:
            self._failing_since = now
        self._error = error

    def ended(self) -> None:
        """The follow returned unasked: follow again in ``LOG_RESTART`` seconds."""
        self._set_timer(LOG_RESTART, self._start)

    @property
    def recent(self) -> tuple[LogLine, ...]:
        """The newest ``RECENT_LOGS`` lines flushed (what triage reads)."""
        return tuple(self._recent)

    def stale(self) -> SourceError | None:
        """The follow's failure while the lines shown are old, for triage to
        discount them; else None. The log pane's STALE rule
        (:meth:`clay_cockpit.widgets.logs.LogsPane.is_stale`): lines were shown, and none
        was flushed since a second after the failure began — a follow that
        fails for one pod while the others still deliver is failing in part,
        not showing old data."""
        if self._error is None or self._lines_at is None:
            return None
        since = self._failing_since
        return self._error if since is None or self._lines_at <= since + 1.0 else None
