"""Keeping one cockpit's local timeline and the shared incident in step
(issue 17; the design is docs/shared-incident.md).

The local JSONL (:mod:`clay_cockpit.incident.timeline`) is the write-ahead
copy: an event is on local disk before :meth:`SharedSync.push` sends it. The
engine never writes the timeline itself except through :meth:`SharedSync.adopt`,
which the host calls with what :meth:`SharedSync.pull` returned.

- :meth:`SharedSync.push` sends this cockpit's own events the cluster does not
  have yet. Each carries its global id ``<cockpit id>:<local seq>``
  (:func:`~clay_cockpit.incident.shared_merge.event_id`), so sending twice
  writes nothing twice (the store writes only the ids no chunk holds). A
  durable mark, "sent up to local seq N", in a small state file next to the
  timeline (``<timeline>.sync``, replaced atomically after an fsync) keeps a
  restart from sending everything again; a crash between a send and the mark
  only means one harmless resend.
- :meth:`SharedSync.pull` reads the shared events and returns those the local
  copy lacks (its own events by their id, adopted ones by ``data["_id"]``),
  as timeline :class:`~clay_cockpit.incident.events.Event` values with their
  global id in ``data["_id"]``. It changes nothing: pulling twice returns the
  same events until they are adopted.
- :meth:`SharedSync.adopt` appends pulled events to the local timeline, those
  it still lacks only; an adopted event (it has ``data["_id"]``) is never
  pushed again as this cockpit's own.
- :attr:`SharedSync.status` (:class:`SyncStatus`): in sync, or local only
  (unreachable, forbidden, read-only, failing) with the
  :class:`~clay_cockpit.signals.SourceError`, for the top bar.

The store is passed in (:class:`SharedStore`, which
:class:`clay_cockpit.sources.kube_incident.SharedIncidents` is): the incident
layer may not import the sources layer (tests/test_boundaries.py), and this is
the incident's logic, not an adapter's. Blocking, thread-safe (one lock per
engine): call from a worker thread. Never raises on the store's failures.
"""

from __future__ import annotations

import contextlib
import enum
import json
import os
import secrets
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from clay_cockpit.incident import shared_merge as sm
from clay_cockpit.incident.events import Event, EventKind
from clay_cockpit.incident.timeline_read import iter_events
from clay_cockpit.signals import ErrorKind, SourceError

ID_KEY = "_id"  # an adopted event's global id, in its data
BATCH = 200  # events per store call (each at most 8 KB): the mark moves after each batch
STATE_VERSION = 1


class SharedStore(Protocol):
    """What the engine needs of the shared incident's store (``SharedIncidents`` is one)."""

    def append(self, incident_id: str, lines: Sequence[tuple[str, str]]) -> int | SourceError: ...

    def read_events(self, incident_id: str) -> list[str] | SourceError: ...


class LocalTimeline(Protocol):
    """Where adopted events are appended (``Timeline`` is one)."""

    def append(
        self,
        kind: EventKind | str,
        summary: str,
        data: Mapping[str, Any] | None = None,
        *,
        at: float | None = None,
        actor: str | None = None,
    ) -> Event: ...


class SyncState(enum.StrEnum):
    UNKNOWN = "unknown"  # nothing tried yet
    IN_SYNC = "in_sync"  # the last push and pull reached the cluster
    LOCAL_ONLY = "local_only"  # working locally: see ``why`` and ``error``


class Why(enum.StrEnum):
    NONE = ""
    UNREACHABLE = "unreachable"  # no answer (stopped, network, timeout)
    FORBIDDEN = "forbidden"  # may not read (or write) the shared objects
    READ_ONLY = "read-only"  # may read but not write: sees the shared incident, changes nothing in it
    FAILING = "failing"  # anything else (401, 5xx, conflicts that did not settle): the next sync tries again


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """The engine's state as of its last push and pull."""

    state: SyncState = SyncState.UNKNOWN
    why: Why = Why.NONE
    error: SourceError | None = None
    pending: int = 0  # own events not yet in the cluster (as of the last push)
    sent: int = 0  # the durable mark: own events up to this local seq are in the cluster

    def line(self) -> str:
        """One line for the top bar or a log."""
        if self.state is SyncState.IN_SYNC:
            return "in sync" + (f", {self.pending} to send" if self.pending else "")
        if self.state is SyncState.UNKNOWN:
            return "not synced yet"
        held = f"; {self.pending} event{'s' if self.pending != 1 else ''} kept locally" if self.pending else ""
        return f"local only ({self.why.value}){held}" + (f": {self.error.line()}" if self.error else "")


def _why(error: SourceError, *, pull_ok: bool) -> Why:
    if error.kind in (ErrorKind.UNREACHABLE, ErrorKind.TIMEOUT, ErrorKind.STALLED):
        return Why.UNREACHABLE
    if error.kind is ErrorKind.FORBIDDEN:
        return Why.READ_ONLY if pull_ok else Why.FORBIDDEN
    return Why.FAILING


def new_cockpit_id() -> str:
    """A fresh cockpit id: unique per cockpit in the cluster, short, not secret-looking."""
    return "c" + secrets.token_hex(5)


class SharedSync:
    """One cockpit's local timeline ``path`` kept in step with the shared incident ``incident_id``.

    ``cockpit`` is this cockpit's id; by default the one kept in the state file
    (``<path>.sync``), or a new one written there. The state file's mark
    applies to ``incident_id`` only: another incident starts from 0.
    """

    def __init__(self, path: str | os.PathLike[str], incident_id: str, store: SharedStore, *, cockpit: str | None = None) -> None:
        self.path = Path(path)
        self.incident_id = incident_id
        self.store = store
        self.state_path = self.path.with_name(self.path.name + ".sync")
        self._lock = threading.Lock()
        saved = self._load()
        self.cockpit = cockpit or str(saved.get("cockpit") or "") or new_cockpit_id()
        same = saved.get("cockpit") == self.cockpit and saved.get("incident") == incident_id
        sent = saved.get("sent") if same else 0
        self._sent = sent if isinstance(sent, int) and not isinstance(sent, bool) and sent >= 0 else 0
        self._push_error: SourceError | None = None
        self._pull_error: SourceError | None = None
        self._pushed = self._pulled = False
        self._pending = 0
        self._status = SyncStatus(sent=self._sent)
        self.state_error: str | None = None  # why the mark could not be saved (it then lives in memory only)
        if saved.get("cockpit") != self.cockpit or saved.get("incident") != incident_id:
            self._save()  # the cockpit id is durable before anything carries it

    def __repr__(self) -> str:
        return f"SharedSync({str(self.path)!r}, {self.incident_id!r}, cockpit={self.cockpit!r})"

    @property
    def sent(self) -> int:
        return self._sent

    @property
    def status(self) -> SyncStatus:
        return self._status

    # -- the state file ------------------------------------------------------------

    def _load(self) -> dict[str, Any]:
        try:
            obj = json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return obj if isinstance(obj, dict) else {}

    def _save(self) -> None:
        body = json.dumps({"v": STATE_VERSION, "cockpit": self.cockpit, "incident": self.incident_id, "sent": self._sent})
        tmp = self.state_path.with_name(self.state_path.name + ".tmp")
        try:
            self.state_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            try:
                os.write(fd, body.encode() + b"\n")
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.state_path)
            with contextlib.suppress(OSError):
                dfd = os.open(self.state_path.parent, os.O_RDONLY)
                try:
                    os.fsync(dfd)
                finally:
                    os.close(dfd)
            self.state_error = None
        except OSError as exc:
            self.state_error = f"could not save the sync mark to {self.state_path}: {exc.strerror or exc}"

    # -- the local copy ------------------------------------------------------------

    def _local(self) -> list[Event]:
        try:
            return list(iter_events(self.path))
        except FileNotFoundError:
            return []
        except OSError:
            return []  # unreadable: nothing to send now; the host sees the timeline's own error

    def _id_of(self, e: Event) -> str:
        got = e.data.get(ID_KEY)
        return got if isinstance(got, str) and got else sm.event_id(self.cockpit, e.seq)

    def local_ids(self) -> set[str]:
        """The global ids the local copy holds (its own and the adopted ones)."""
        return {self._id_of(e) for e in self._local()}

    # -- push ------------------------------------------------------------------------

    def push(self) -> int | SourceError:
        """Send the own events after the mark; how many were offered to the store (0: nothing to send,
        no request made). A failure leaves them local and the mark where it was."""
        with self._lock:
            events = self._local()
            top = max((e.seq for e in events), default=0)
            if top < self._sent:  # the file is not the one the mark was for (replaced, truncated): send it all again
                self._sent = 0
            own = sorted((e for e in events if e.seq > self._sent and ID_KEY not in e.data), key=lambda e: e.seq)
            offered = 0
            for i in range(0, len(own), BATCH):
                batch = own[i : i + BATCH]
                shared = [sm.share(e, self.cockpit) for e in batch]
                got = self.store.append(self.incident_id, [(s.id, s.line) for s in shared])
                if isinstance(got, SourceError):
                    self._pending = len(own) - i
                    self._push_error, self._pushed = got, True
                    self._update()
                    return got
                offered += len(batch)
                self._sent = batch[-1].seq
                self._save()
            if top > self._sent:  # only adopted events after the last own one: nothing to send for them
                self._sent = top
                self._save()
            self._pending, self._push_error, self._pushed = 0, None, True
            self._update()
            return offered

    # -- pull ------------------------------------------------------------------------

    def pull(self) -> tuple[Event, ...] | SourceError:
        """The shared events the local copy lacks, in the shared order ``(at, id)``, each with its
        global id in ``data["_id"]`` (``seq``: its place in the shared timeline). Changes nothing."""
        with self._lock:
            lines = self.store.read_events(self.incident_id)
            if isinstance(lines, SourceError):
                self._pull_error, self._pulled = lines, True
                self._update()
                return lines
            self._pull_error, self._pulled = None, True
            self._update()
            known = self.local_ids()
            parsed = (sm.parse_line(ln) for ln in lines)
            return tuple(e for e in sm.timeline(p for p in parsed if p is not None) if e.data.get(ID_KEY) not in known)

    def adopt(self, timeline: LocalTimeline, events: Iterable[Event]) -> int:
        """Append the pulled ``events`` the local copy still lacks to ``timeline`` (this cockpit's, at
        ``path``), keeping their time, actor and global id; how many. Raises what ``timeline.append`` raises."""
        with self._lock:
            known = self.local_ids()
            n = 0
            for e in events:
                eid = e.data.get(ID_KEY)
                if not isinstance(eid, str) or eid in known:
                    continue
                timeline.append(e.kind, e.summary, e.data, at=e.at, actor=e.actor)
                known.add(eid)
                n += 1
            return n

    # -- status ----------------------------------------------------------------------

    def _update(self) -> None:
        error = self._push_error or self._pull_error
        if error is not None:
            why = _why(error, pull_ok=self._pulled and self._pull_error is None)
            self._status = SyncStatus(SyncState.LOCAL_ONLY, why, error, self._pending, self._sent)
        elif self._pushed or self._pulled:
            self._status = SyncStatus(SyncState.IN_SYNC, Why.NONE, None, self._pending, self._sent)
        else:
            self._status = SyncStatus(sent=self._sent)
