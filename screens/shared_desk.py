"""The shared desk: one incident for every responder on the cluster (issue 17;
the design is docs/shared-incident.md).

The app builds one :class:`SharedDesk` after the incident desk. One thread
worker keeps this cockpit's incident and the cluster's in step, a pass at a
time, woken by the watch of the incident's ConfigMaps (another responder
wrote), by a local write (the timeline's seq moved), or every
``PASS_EVERY`` seconds:

- no incident open here: the cluster's open incident (the pointer) is
  joined — its events pulled and written to a local file of its id
  (:meth:`IncidentStore.join <clay_cockpit.incident.lifecycle.IncidentStore.join>`);
- an incident open here that the cluster does not know yet (declared while
  the cluster could not be reached): it is declared there; if another is
  open there already, this one's events are sent into it and it goes on as
  that one (``incident_merged`` closes the local file);
- then push (this cockpit's own events, after the durable mark), pull and
  adopt (the others'), presence (this responder's Lease renewed every
  ``[shared] heartbeat``; who else is in), and a resolved incident's pointer
  marked resolved.

Declaring (``i``) claims the pointer first (:meth:`claim`, in the incident
desk's declaration worker): of two cockpits declaring at once one wins, the
other joins. Everything the cluster refuses or does not answer leaves the
local copy working and says so in the top bar (``⇄ LOCAL unreachable``);
the events wait for the next pass. In read-only mode (``--read-only``) the
cockpit pushes nothing and declares nothing in the cluster: it watches the
shared incident and is present.

``W`` opens the people view (:mod:`clay_cockpit.screens.people_view`): who is
in, the commander, the sync state whole; take command, hand it over.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from clay_cockpit.incident import shared_merge as sm
from clay_cockpit.incident.events import EventKind, default_actor
from clay_cockpit.incident.shared_sync import SharedSync, SyncState
from clay_cockpit.incident.state import Incident
from clay_cockpit.incident.timeline import TimelineError
from clay_cockpit.screens.comms_desk import CommsResult
from clay_cockpit.signals import ErrorKind, SourceError

if TYPE_CHECKING:
    from textual.app import App

    from clay_cockpit.screens.desk import Desk

SharedIncidents = Any  # clay_cockpit.sources.kube_incident.SharedIncidents, through sources.shared_incidents (screens import no source)

log = logging.getLogger(__name__)
PASS_EVERY = 1.0  # seconds between two passes when nothing woke the worker (the pointer, a missed watch event)
LOOK_EVERY = 0.5  # seconds between two looks at the local timeline's seq (a local write wakes the worker)
PULL_EVERY = 15.0  # seconds between two pulls the watch did not ask for (a safety net)
CLAIM_WAIT = 2.0  # seconds a declaration waits for a pass in progress before it declares locally (sent later)
HEAD_EVERY = 3.0  # seconds between two writes of the head ConfigMap
STALE_AFTER = 3  # heartbeats without a renewal: the responder has left


@dataclass(frozen=True)
class Responder:
    name: str
    seen_ago: float  # seconds since the Lease was renewed
    you: bool = False


@dataclass(frozen=True)
class SharedView:
    """What the top bar and the people view show (made in the worker, read on the UI thread)."""

    state: str = "off"  # off | connecting | shared | local | watching
    why: str = ""  # local: unreachable / forbidden / read-only / failing
    line: str = ""  # the sync state whole, for the people view
    hint: str = ""
    incident_id: str = ""
    responders: tuple[Responder, ...] = ()
    pending: int = 0  # own events not in the cluster yet


def _renewed(text: str) -> float | None:
    """A Lease's renewTime as epoch seconds (``…Z`` or ``…+00:00``, with or without fraction)."""
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class SharedDesk:
    """See the module docstring."""

    def __init__(self, app: App[int], desk: Desk, *, sources: Any, read_only: bool, wall: Callable[[], float] = time.time) -> None:
        self.app = app
        self.desk = desk
        self.config = desk.config
        self.sources = sources
        self.read_only = read_only
        self.wall = wall  # presence is judged on the wall clock (the Leases' renewTime), never a drill's
        self.responder = self.config.shared.responder or default_actor()
        self.enabled = self.config.shared.enabled and sources is not None
        self.view = SharedView(state="connecting" if self.enabled else "off")
        self._kick = threading.Event()
        self._stop = threading.Event()
        self._store: SharedIncidents | None = None
        self._sync: SharedSync | None = None
        self._claimed: set[str] = set()  # incident ids the cluster knows as the open one (declared or joined)
        self._resolved: set[str] = set()  # incident ids whose pointer this cockpit marked resolved
        self._watch: Any = None
        self._watch_id = ""
        self._seq = -1  # the local timeline's seq the last push saw
        self._last_pull = 0.0
        self._last_presence = 0.0
        self._last_pointer = 0.0
        self._watched = False  # the watch asked for a pull
        self._head_due = False  # the head ConfigMap lags the events (written by _write_head)
        self._head_at = 0.0
        self._people: tuple[Responder, ...] = ()  # who is in (as of the last presence pass)
        self._lock = threading.Lock()  # one pass at a time (the worker, and claim() from the declaration worker)

    # -- the app's calls ---------------------------------------------------------------

    def start(self) -> None:
        if not self.enabled:
            return
        # its own thread, not a Textual worker: those share asyncio's default executor (a few threads on a small
        # machine), and a worker that never ends would hold one of them for the whole session
        threading.Thread(target=self._loop, name="shared-incident", daemon=True).start()
        self.app.set_interval(LOOK_EVERY, self._look)

    def stop(self) -> None:
        self._stop.set()
        self._kick.set()
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.close()

    def kick(self) -> None:
        """Run a pass now (a local write, the responder's refresh)."""
        self._kick.set()

    def _look(self) -> None:
        timeline = self.desk.recorder.store.timeline
        if timeline is not None and timeline.seq != self._seq:
            self._kick.set()

    # -- the declaration (from the incident desk's worker) -----------------------------

    def claim(self, incident_id: str, declared_at: float) -> str | None:
        """Claim ``incident_id`` as the cluster's open incident before it is declared here.
        Returns the id of the incident open in the cluster when it is another one (join it), else None
        (ours, or the cluster could not be asked: declared locally, declared there on a later pass)."""
        if not self.enabled or self.read_only:
            return None
        if self.view.state == "local" and self.view.why == "unreachable":
            return None  # the responder does not wait for a cluster that did not answer: a later pass declares it there
        if not self._lock.acquire(timeout=CLAIM_WAIT):  # a pass is waiting on a slow cluster: likewise
            return None
        try:
            got = self._get_store().declare(incident_id, self.responder, declared_at)
            if isinstance(got, SourceError):
                self._failed(got)
                return None
            self._claimed.add(got.incident_id)
            return got.incident_id if got.joined else None
        finally:
            self._lock.release()

    def join_now(self, incident_id: str) -> Incident | None:
        """Join ``incident_id`` now (the declaration worker, after :meth:`claim` lost): pull and write it locally."""
        with self._lock:
            return self._join(self._get_store(), incident_id)

    def acting(self, now: float) -> str:
        """Who is doing what: the action Lease on the deployment, held by another responder (UI thread)."""
        actions = getattr(self.app, "_actions", None)
        lease = getattr(getattr(actions, "status", None), "lease", None)
        if lease is None or not lease.held or lease.stale(now):
            return ""
        who = "you" if lease.ours else lease.holder
        return f"{who} holds the action lease on {lease.name}: {lease.describe(now)}"

    # -- commands (UI thread: recorded at once, sent by the next pass) ------------------

    def set_commander(self, to: str) -> str:
        """Record ``to`` as the incident commander; the words to show."""
        inc = self.desk.recorder.open
        if inc is None:
            return "No incident is open: i declares one"
        if self.read_only:
            return "Read-only: this cockpit changes nothing in the shared incident"
        if inc.commander == to:
            return f"{to} is the commander already"
        summary = f"{to} took command" if to == self.responder else f"Command handed over to {to}"
        if inc.commander:
            summary += f" (was {inc.commander})"
        try:
            self.desk.recorder.store.record(EventKind.COMMANDER_CHANGED, summary, {"to": to, "from": inc.commander})
        except TimelineError as exc:
            return f"Not recorded: {exc}"
        self.desk.refresh_panes()
        self.kick()
        return summary

    # -- the worker ----------------------------------------------------------------------

    def _get_store(self) -> SharedIncidents:
        if self._store is None:
            self._store = self.sources.shared_incidents
        return self._store

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._kick.wait(PASS_EVERY)
            self._kick.clear()
            if self._stop.is_set():
                return
            if self.desk.busy:  # resuming or declaring: the incident is not settled yet
                continue
            try:
                with self._lock:
                    self._pass()
            except TimelineError as exc:  # the local file refused: say so; the next pass tries again
                self._show(SharedView("local", "failing", f"local only: {exc}", "the local timeline could not be written"))
            except Exception as exc:  # the worker's outermost boundary: named, logged, and the next pass tries again
                log.exception("shared incident pass failed")
                self._show(SharedView("local", "failing", f"local only: unexpected {type(exc).__name__}: {exc}", "a bug: see the log"))

    def _pass(self) -> None:
        store = self._get_store()
        inc = self.desk.recorder.store.incident
        now = time.monotonic()
        # the current incident: open, or resolved in this session (what comes after its resolution is shared too)
        if inc is not None and not inc.merged_into and (inc.is_open or inc.id in self._claimed):
            if inc.id in self._claimed or self._declare_there(store, inc):
                self._sync_pass(store, inc, now)
            if inc.is_open:
                return
        if now - self._last_pointer < PASS_EVERY * 0.9 and not self._watched:
            return
        self._last_pointer = now
        pointer = store.open_incident()
        if isinstance(pointer, SourceError):
            self._failed(pointer)
        elif pointer is not None and (inc is None or pointer["incident"] != inc.id):
            joined = self._join(store, pointer["incident"])
            if joined is not None:
                self._news(f"{joined.id} · declared by {joined.declared_by}", "Joined the shared incident")
        elif inc is None or not inc.is_open and inc.id not in self._claimed:
            self._show(SharedView("shared", line="no incident is open in the cluster", incident_id=""))

    def _sync_pass(self, store: SharedIncidents, inc: Incident, now: float) -> None:
        """Push, pull and adopt, presence, status; a resolved incident's pointer marked resolved."""
        sync = self._sync_for(inc.id, store)
        if sync is None:
            return
        timeline = self.desk.recorder.store.timeline
        seq = timeline.seq if timeline is not None else 0
        changed = False
        if not self.read_only and (seq != self._seq or sync.status.pending):
            pushed = sync.push()
            changed = isinstance(pushed, int) and pushed > 0
        self._seq = seq
        if self._watched or now - self._last_pull >= PULL_EVERY or sync.status.state is not SyncState.IN_SYNC:
            self._watched = False
            self._last_pull = now
            pulled = sync.pull()
            if not isinstance(pulled, SourceError) and pulled:
                before = self.desk.recorder.store.incident
                self.desk.recorder.store.join(inc.id, pulled)
                self._adopted(before, self.desk.recorder.store.incident)
                changed = True
        if changed and not self.read_only:
            self._head_due = True
        if self._head_due and now - self._head_at >= HEAD_EVERY:
            self._write_head(store, inc.id, now)
        if inc.is_open:
            self._presence(store, inc.id, now)
        else:
            self._resolve(store, inc)
        self._status(sync)

    def _write_head(self, store: SharedIncidents, incident_id: str, now: float) -> None:
        """The head ConfigMap rebuilt from the cluster's merged events (a cache for ``kubectl get`` and for a cockpit
        that has not read the chunks yet; docs/shared-incident.md): at most every HEAD_EVERY seconds."""
        lines = store.read_events(incident_id)
        if isinstance(lines, SourceError):
            return
        head = sm.head_of(incident_id, [e for e in (sm.parse_line(ln) for ln in lines) if e is not None])
        if head is None:
            return
        data = head.to_data()
        if not isinstance(store.put_head(incident_id, lambda stored: {**stored, **data}), SourceError):
            self._head_due, self._head_at = False, now

    def _declare_there(self, store: SharedIncidents, inc: Incident) -> bool:
        """The local incident made known to the cluster (declared while it could not be reached); False: not now.
        One the cluster has seen already (its events are there: resolved or replaced since) is only synced,
        never declared again: that would reopen it."""
        pointer = store.open_incident()
        if isinstance(pointer, SourceError):
            self._failed(pointer)
            return False
        known = pointer is not None and pointer["incident"] == inc.id
        if not known:
            lines = store.read_events(inc.id)
            if isinstance(lines, SourceError):
                self._failed(lines)
                return False
            known = bool(lines)
        if known:
            self._claimed.add(inc.id)
            return True
        if self.read_only:
            if pointer is not None:
                self._join(store, pointer["incident"])
            else:
                self._show(SharedView("watching", "read-only", f"{inc.id} is local only: read-only, not declared in the cluster"))
            return False
        got = store.declare(inc.id, inc.declared_by, inc.declared_at)
        if isinstance(got, SourceError):
            self._failed(got)
            return False
        if not got.joined:
            self._claimed.add(inc.id)
            return True
        # another incident is open in the cluster: this one's events go into it, and it goes on as that one
        timeline = self.desk.recorder.store.timeline
        if timeline is None:
            return False
        sent = SharedSync(timeline.path, got.incident_id, store).push()
        if isinstance(sent, SourceError):
            self._failed(sent)
            return False
        joined = self._join(store, got.incident_id)
        if joined is not None:
            self._news(
                f"{inc.id} goes on as {joined.id} (declared by {joined.declared_by}); its events are in it",
                "Joined the shared incident",
                "warning",
            )
        return False

    def _join(self, store: SharedIncidents, incident_id: str) -> Incident | None:
        sync = self._sync_for(incident_id, store, fresh=True)
        if sync is None:
            return None
        pulled = sync.pull()
        if isinstance(pulled, SourceError):
            self._failed(pulled)
            return None
        try:
            joined = self.desk.recorder.store.join(incident_id, pulled)
        except TimelineError as exc:
            self._show(SharedView("shared", line=f"{incident_id} is open in the cluster: {exc}", incident_id=incident_id))
            return None
        self._claimed.add(incident_id)
        self._sync = None  # made again for the joined file
        self._seq = -1
        self._refresh(joined=True)
        return joined

    def _sync_for(self, incident_id: str, store: SharedIncidents, fresh: bool = False) -> SharedSync | None:
        timeline = self.desk.recorder.store.timeline
        if fresh:
            path = self.desk.recorder.store.dir / f"{incident_id}.jsonl"
        elif timeline is None:
            return None
        else:
            path = timeline.path
        if self._sync is None or self._sync.path != path or self._sync.incident_id != incident_id:
            self._sync = SharedSync(path, incident_id, store)
        if self._watch_id != incident_id:
            self._rewatch(store, incident_id)
        return self._sync

    def _rewatch(self, store: SharedIncidents, incident_id: str) -> None:
        old, self._watch = self._watch, None
        if old is not None:
            old.close()
        self._watch_id = incident_id

        def changed() -> None:
            self._watched = True
            self._kick.set()

        watch = store.watch(incident_id, on_change=changed)
        self._watch = watch
        threading.Thread(target=watch.run, name=f"shared-watch-{incident_id}", daemon=True).start()

    def _resolve(self, store: SharedIncidents, inc: Incident) -> None:
        if inc.id in self._resolved or self.read_only or inc.id not in self._claimed:
            return
        if self._sync is not None and self._sync.status.pending:
            return  # the resolution is not in the cluster yet: resolve the pointer after it
        done = store.resolve(inc.id)
        if not isinstance(done, SourceError):
            self._resolved.add(inc.id)

    def _presence(self, store: SharedIncidents, incident_id: str, now: float) -> None:
        beat = self.config.shared.heartbeat
        if now - self._last_presence < beat and not self._watched:
            return
        self._last_presence = now
        seconds = int(beat * STALE_AFTER)
        mine = store.present(incident_id, self.responder, seconds, wall=self.wall)
        listed = store.presence(incident_id)
        if isinstance(listed, SourceError):
            return  # who is in stays as last seen; the sync state says whether the cluster answers
        wall = self.wall()
        people = []
        for p in listed:
            at = _renewed(p.renewed)
            if at is None or wall - at > max(p.seconds, 1):
                continue
            people.append(Responder(p.responder, max(0.0, wall - at), p.responder == self.responder))
        if not isinstance(mine, SourceError) and not any(r.you for r in people):
            people.append(Responder(self.responder, 0.0, True))
        self._people = tuple(sorted(people, key=lambda r: (not r.you, r.name)))

    def _status(self, sync: SharedSync) -> None:
        st = sync.status
        if st.state is SyncState.LOCAL_ONLY and not (self.read_only and st.why.value == "read-only"):
            hint = st.error.hint if st.error is not None else ""
            self._show(SharedView("local", st.why.value, st.line(), hint, sync.incident_id, self._people, st.pending))
        else:
            state = "watching" if self.read_only else "shared"
            self._show(SharedView(state, "", st.line(), "", sync.incident_id, self._people, st.pending))

    def _failed(self, error: SourceError) -> None:
        why = (
            "unreachable"
            if error.kind in (ErrorKind.UNREACHABLE, ErrorKind.TIMEOUT, ErrorKind.STALLED)
            else "forbidden"
            if error.kind is ErrorKind.FORBIDDEN
            else "failing"
        )
        pending = self._sync.status.pending if self._sync is not None else 0
        inc = self.desk.recorder.store.incident
        self._show(
            SharedView("local", why, f"local only ({why}): {error.line()}", error.hint, inc.id if inc else "", self._people, pending)
        )

    # -- back on the UI thread ---------------------------------------------------------------

    def _show(self, view: SharedView) -> None:
        if view == self.view:
            return
        self.view = view
        self._deliver(self._shown)

    def _shown(self) -> None:
        main = self.desk.main
        if not main.is_attached:
            return
        from clay_cockpit.widgets.shared_badge import badge

        main.shared_badge.show(badge(self.view))
        from clay_cockpit.screens.people_view import PeopleScreen

        for screen in self.app.screen_stack:
            if isinstance(screen, PeopleScreen):
                screen.update()

    def _refresh(self, joined: bool = False) -> None:
        self._deliver(partial(self.desk.adopted, joined))

    def _adopted(self, before: Incident | None, after: Incident | None) -> None:
        self._refresh()
        if before is None or after is None:
            return
        if after.commander != before.commander and after.commander:
            who = "you are" if after.commander == self.responder else f"{after.commander} is"
            self._news(f"{who} the incident commander", "Command")
        if after.status != before.status:
            self._news(f"{after.id} is {after.status} (set by another responder)", "Status")

    def _news(self, text: str, title: str, severity: str = "information") -> None:
        def say() -> None:
            self.app.notify(text, title=title, severity=severity)  # type: ignore[arg-type]

        self._deliver(say)

    def _deliver(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the UI thread (the app routes CommsResult to it)."""
        self.app.post_message(CommsResult(fn))
