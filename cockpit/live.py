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

Watched polls (issue 15): given the host's ``stop`` event and sources that
watch (``Sources.watches``), the ``pods`` poll awaits (async: it holds no
thread while it waits) ``kube.watch_pods().next_async``, which answers as soon as the pods changed (listed once, then watched) or, with the
same pods, every ``kube.refresh`` seconds (their age stays true); it is asked
again ``WATCH_COALESCE`` seconds after each answer, so a churning fleet is a
few snapshots a second, never one per event. The ``infra`` poll likewise awaits
``infra.next_async`` (the deployment and its ReplicaSets watched), coalesced at
``INFRA_COALESCE``. A watched poll does not back off after a failure: its
watch retries by itself and answers on its next change. Without ``stop``
(or with sources that only list), both are polled as before.

Infrastructure (:class:`InfraFeed`): the ``infra`` poll (nodes, rollout
history, changes; every ``INFRA_EVERY`` pod refreshes) and the Warning event
watch (our namespace's, and the node events of ``default``), a long-running
follow like the logs' (stopped with them, started again ``LOG_RESTART``
after it returned unasked), make one
:class:`~clay_cockpit.signals.InfraSnapshot`: the poll's, with the watched
events that are about our deployment, its ReplicaSets, pods and nodes.

Logs (:class:`LogFollow`): one blocking ``Kube.follow_logs`` until the stop
event is set; the batches it delivers are coalesced here and flushed at
most every ``LOG_FLUSH`` seconds (each flush scrolls the whole log pane,
the main cost on an SSH link); the newest ``RECENT_LOGS`` lines are kept
for triage. A follow that returns unasked is started again after
``LOG_RESTART``. :meth:`LogFollow.stale` says when the lines triage reads
are old: the follow failed and no line came since. Lines pushed out of the
bounded wait between flushes are counted per pod and added to the follow's
:class:`~clay_cockpit.signals.LogFollowState` (pods followed of how many,
drops per pod), which each flush carries to the pane in its
:class:`~clay_cockpit.signals.LogLines` — also when only that state changed.

A source that raises breaks its contract (:mod:`clay_cockpit.sources`): that
becomes a named failure (:func:`source_bug`), never an exception out of a
worker.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

# clay_cockpit.signals loads in the functions that need it: the app imports this
# module after the first frame, but nothing here should make that a cost
if TYPE_CHECKING:
    from clay_cockpit.config import Config
    from clay_cockpit.signals import InfraSnapshot, KubeEvent, LogFollowState, LogLine, Reading, SourceError

log = logging.getLogger(__name__)
LOG_FLUSH = 0.5  # seconds: log lines reach the screen at most twice a second (each flush
# scrolls the whole log pane: ~0.5 KB at 80x24, so this is the main cost on an SSH link)
LOG_RESTART = 5.0  # seconds before following logs again after the follow ended
RECENT_LOGS = 300  # log lines kept for triage
ASYNC_GRACE = 5.0  # extra seconds over a source's own timeout before we give up on it
RETRY_AFTER_CAP = 300.0  # seconds: the longest Retry-After a source may ask us to wait
INFRA_EVERY = 2.0  # the infra poll's interval, in pod refreshes (nodes and history change less often than pods)
WATCH_COALESCE = 0.5  # seconds between two snapshots of a watched source: a churning fleet is at most 2 a second
INFRA_COALESCE = 2.0  # the same for the infra poll (each reads the nodes and the referenced ConfigMaps and Secrets)
INFRA_READS = 33  # the most requests one infra read makes (deployment, pods, ReplicaSets, 20 nodes, 10 ConfigMaps/Secrets)


def offers(sources: Any, name: str) -> bool:
    """Whether ``sources`` has a source ``name``, without building it (a
    property of the real Sources builds its client on first access)."""
    return getattr(type(sources), name, None) is not None or name in getattr(sources, "__dict__", {})


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


class Watched:
    """What a watched poll awaits: ``wait(stop, heartbeat)``, a watch's next answer
    (``PodWatch.next_async``, ``Infra.next_async``), as an async source's ``fetch``."""

    def __init__(self, wait: Callable[[threading.Event, float], Awaitable[Any]], stop: threading.Event, heartbeat: float) -> None:
        self._wait = wait
        self._stop = stop
        self._heartbeat = heartbeat

    async def fetch(self) -> Any:
        return await self._wait(self._stop, self._heartbeat)


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
    watched: bool = False  # its call waits for a change (a watch): answered, it is asked again after ``interval``, failed or not
    resync: Callable[[Any], object] | None = None  # a watched poll asked to read it all again now (the refresh key)

    @property
    def blocking(self) -> bool:
        return self.timeout is None


class Polls:
    """The polls of the sources (and PagerDuty's, when on): started on demand, re-armed when answered.

    ``run(poll)`` starts the worker for one poll: a thread for a blocking
    poll that calls :meth:`fetch`, a task for an async one that awaits
    :meth:`fetch_async`; either hands the result back, through the host's
    own thread, to :meth:`answered`.
    """

    def __init__(
        self, config: Config, sources: Any, *, set_timer: SetTimer, run: Callable[[Poll], object], stop: threading.Event | None = None
    ) -> None:
        self.sources = sources
        self._set_timer = set_timer
        self._run = run
        self.stop = stop  # set on quit or hangup: a watched poll returns and its watch ends
        refresh = config.kube.refresh
        self.by_name: dict[str, Poll] = {
            poll.name: poll
            for poll in (
                Poll(
                    "statuspage",
                    config.statuspage.refresh,
                    "Polling the Clay status page",
                    lambda s: s.statuspage,
                    timeout=config.statuspage.timeout,
                ),
                Poll("health", config.health.refresh, "Polling the health endpoint", lambda s: s.health, timeout=config.health.timeout),
                Poll("metrics", config.metrics.refresh, "Querying Prometheus", lambda s: s.metrics.fetch()),
                Poll("pods", refresh, "Listing pods", lambda s: s.kube.list_pods()),
            )
        }
        if offers(sources, "infra"):
            self.by_name["infra"] = Poll("infra", refresh * INFRA_EVERY, "Reading nodes and rollout history", lambda s: s.infra.fetch())
        self.page_keys: tuple[str, ...] = ()  # the escalations' dedup keys: their incidents are listed too (issue 16)
        if config.pagerduty.enabled and offers(sources, "pagerduty"):
            self.by_name["pagerduty"] = Poll("pagerduty", config.pagerduty.refresh, "Listing PagerDuty incidents", self._pages)
        if stop is not None and getattr(sources, "watches", False):
            self._watch(config, stop)

    def _pages(self, sources: Any) -> Any:
        """The open pages of our services, and the incidents our escalations raised (by their dedup keys)."""
        keys = self.page_keys
        return sources.pagerduty.fetch(incident_keys=keys) if keys else sources.pagerduty.fetch()

    def _watch(self, config: Config, stop: threading.Event) -> None:
        """The pods, and the infra poll's deployment and ReplicaSets, watched (issue 15): each poll awaits the
        watch's next answer on the host's loop (no thread held while it waits), within its own deadline."""
        refresh, timeout = config.kube.refresh, config.kube.timeout
        # answered on a change, or every refresh with the same pods (their age stays true); the first list: its own timeout
        self.by_name["pods"] = Poll(
            "pods",
            WATCH_COALESCE,
            "Watching pods",
            lambda s: Watched(s.kube.watch_pods().next_async, stop, refresh),
            timeout=refresh + timeout + 1.0,
            watched=True,
            resync=lambda s: s.kube.watch_pods().resync(),
        )
        if "infra" in self.by_name:
            every = refresh * INFRA_EVERY
            # the deadline covers the reads that follow a change (the deployment, pods, ReplicaSets, nodes, ConfigMaps)
            self.by_name["infra"] = Poll(
                "infra",
                INFRA_COALESCE,
                "Watching the rollout",
                lambda s: Watched(s.infra.next_async, stop, every),
                timeout=every + INFRA_READS * timeout,
                watched=True,
                resync=lambda s: s.infra.resync(),
            )

    def start_all(self) -> None:
        """Poll every source now (unless its poll is still out) and go back to its own interval."""
        for poll in self.by_name.values():
            poll.delay = poll.interval
            if poll.resync is not None:
                # its watch lists again now: the waiting poll answers with that — and so does one started
                # here between two answers (without it, that one waited on the open stream for a change)
                poll.resync(self.sources)
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
                poll.name,
                ErrorKind.TIMEOUT,
                f"no answer within {timeout:.0f}s",
                "the endpoint or the network path is hanging; check it from this host",
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
        if error is None or poll.watched:  # a watch retries by itself; asked again, it answers on its next change
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
    flush, at most every ``LOG_FLUSH`` seconds; ``clock`` is the host's;
    ``prepare`` runs on each batch in the follow's thread (the app computes
    there how each line shows, so its own thread only places them).
    """

    def __init__(
        self,
        sources: Any,
        *,
        buffer: int,
        stop: threading.Event,
        clock: Callable[[], float],
        set_timer: SetTimer,
        start: Callable[[], object],
        on_flush: Callable[[tuple[LogLine, ...], float], None],
        prepare: Callable[[tuple[LogLine, ...]], tuple[LogLine, ...]] = lambda lines: lines,
    ) -> None:
        self.sources = sources
        self._prepare = prepare  # in the follow's thread, each batch: what the pane needs to show them
        self.stop = stop  # set: the follow returns (quit, hangup); never cleared
        self._clock = clock
        self._set_timer = set_timer
        self._start = start
        self._on_flush = on_flush
        self._pending: deque[LogLine] = deque(maxlen=max(1, buffer))  # arrived, not flushed: the newest ``buffer``
        self._dropped: dict[str, int] = {}  # per pod: lines pushed out of ``_pending`` unshown, since the start
        self._state: LogFollowState | None = None  # the follow's newest, as it sent it
        self._flushed_state: LogFollowState | None = None
        self._flush_timer: Handle | None = None
        self._recent: deque[LogLine] = deque(maxlen=RECENT_LOGS)
        self._error: SourceError | None = None  # the follow's current failure
        self._failing_since: float | None = None  # when it began
        self._lines_at: float | None = None  # the last flush

    # in the worker thread

    def follow(
        self,
        on_batch: Callable[[tuple[LogLine, ...]], object],
        on_fault: Callable[[SourceError | None], object],
        on_ended: Callable[[], object],
    ) -> None:
        """Blocking: follow the logs until ``stop`` is set. The callbacks are
        called in this thread (the host passes them on to its own):
        ``on_batch`` with lines, ``on_fault`` with a failure (``None`` once it
        recovered), ``on_ended`` if the follow returned unasked."""
        try:
            self.sources.kube.follow_logs(lambda lines: on_batch(self._prepare(_batch(lines))), on_fault, self.stop, LOG_FLUSH)
        except Exception as err:  # the contract says never; if it happens, it is a named failure
            on_fault(source_bug("logs", err))
        if not self.stop.is_set():
            on_ended()

    # on the host's thread

    def arrived(self, lines: tuple[LogLine, ...]) -> None:
        """A batch from the follow: flushed with the others within ``LOG_FLUSH``.
        Lines pushed out of the bounded wait unshown are counted per pod."""
        state = getattr(lines, "state", None)
        if state is not None:
            self._state = state
        pending = self._pending
        over = len(pending) + len(lines) - (pending.maxlen or 0)
        if over > 0:
            from clay_cockpit.signals import count_drops

            for line in [*pending, *lines][:over]:
                count_drops(self._dropped, line.pod)
        pending.extend(lines)
        if self._flush_timer is None and (lines or state is not None):
            self._flush_timer = self._set_timer(LOG_FLUSH, self._flush)

    @property
    def state(self) -> LogFollowState | None:
        """The follow's state with the lines dropped here added (None before the follow told it)."""
        return None if self._state is None else self._state.with_drops(self._dropped)

    def _flush(self) -> None:
        from clay_cockpit.signals import LogLines

        self._flush_timer = None
        lines = tuple(self._pending)
        self._pending.clear()
        state = self.state
        if not lines and state == self._flushed_state:
            return
        self._flushed_state = state
        now = self._clock()
        if lines:
            self._lines_at = now
            self._recent.extend(lines)
        self._on_flush(LogLines(lines, state), now)

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


def _batch(lines: Any) -> tuple[LogLine, ...]:
    """A batch from ``follow_logs`` as the host passes it on: a
    :class:`~clay_cockpit.signals.LogLines` as it is (it carries the follow's
    state), any other iterable as a tuple."""
    from clay_cockpit.signals import LogLines

    return lines if isinstance(lines, LogLines) else tuple(lines)


# -- infrastructure ------------------------------------------------------------


class InfraFeed:
    """``Signals.infra`` from its two halves: the ``infra`` poll and the
    Warning event watch (:meth:`follow`, in a worker thread, until ``stop``;
    our namespace's events and the node events of ``default``, merged).

    On the host's thread: :meth:`polled` turns a poll's result into what the
    reading takes (the snapshot with the events that are ours, or the
    poll's failure); :meth:`arrived` takes what the watch sent and gives the
    new reading (None when nothing changed). A failure of either watch shows
    in the snapshot's ``missing`` (a node watch refused in ``default`` names
    that permission), the rest stands.
    """

    def __init__(self, sources: Any, *, deployment: str, stop: threading.Event, set_timer: SetTimer, start: Callable[[], object]) -> None:
        self.sources = sources
        self.deployment = deployment
        self.stop = stop  # shared with the log follow: set on quit or hangup
        self._set_timer = set_timer
        self._start = start
        self._polled: InfraSnapshot | None = None
        self._events: tuple[KubeEvent, ...] = ()  # as the watch sent them: every Warning event of the namespace, deduplicated
        self._since: float | None = None
        self._fault: SourceError | None = None  # the namespaced watch's failure
        self._node_fault: SourceError | None = None  # the node watch's (events in ``default``)

    @property
    def enabled(self) -> bool:
        return offers(self.sources, "infra")

    # in the worker thread

    def follow(self, deliver: Callable[[str, Any], object]) -> None:
        """Blocking: watch until ``stop`` is set. ``deliver(what, value)`` is
        called in this thread (the host passes it on to its own): ``("events",
        (events, since))``, ``("fault", error or None)``, ``("node_fault", error
        or None)``, ``("ended", None)``."""
        try:
            self.sources.infra.follow_events(
                lambda events, since: deliver("events", (events, since)),
                partial(deliver, "fault"),
                self.stop,
                on_node_error=partial(deliver, "node_fault"),
            )
        except Exception as err:  # the contract says never; if it happens, it is a named failure
            deliver("fault", source_bug("infra", err))
        if not self.stop.is_set():
            deliver("ended", None)

    # on the host's thread

    def polled(self, result: Any) -> Any:
        """A poll's result → what ``Reading.with_result`` takes."""
        from clay_cockpit.signals import InfraSnapshot

        if isinstance(result, InfraSnapshot):
            self._polled = result
            merged = self.merged()
            return merged if merged is not None else result
        return result

    def arrived(self, what: str, value: Any, current: Reading[InfraSnapshot], now: float) -> Reading[InfraSnapshot] | None:
        """Something from the watch; the new reading, or None when it changes nothing shown."""
        from dataclasses import replace

        if what == "ended":
            self._set_timer(LOG_RESTART, self._start)
            return None
        if what == "fault":
            if value == self._fault:
                return None
            self._fault = value
        elif what == "node_fault":
            if value == self._node_fault:
                return None
            self._node_fault = value
        else:
            self._events, self._since = value
        merged = self.merged()
        if merged is None or merged == current.value:
            return None
        return replace(current, value=merged, updated_at=now if current.updated_at is None else current.updated_at)

    def merged(self) -> InfraSnapshot | None:
        """The poll's snapshot with our events and the watch's failure; None before the first poll."""
        from dataclasses import replace

        from clay_cockpit.sources.kube_events import MAX_DISTINCT, Scope, ours

        snap = self._polled
        if snap is None:
            return None
        scope = Scope(
            deployment=snap.deployment or self.deployment,
            replicasets=frozenset(r.replicaset for r in snap.revisions),
            pods=frozenset(p for n in snap.nodes for p in n.pods),
            nodes=frozenset(n.name for n in snap.nodes),
        )
        missing = snap.missing + tuple(f for f in (self._fault, self._node_fault) if f is not None)
        return replace(snap, events=ours(self._events, scope, MAX_DISTINCT), events_watched_since=self._since, missing=missing)
