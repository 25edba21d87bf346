"""What the timeline says about communication: drafts, what was sent, the
Slack thread and the status page incident in use — and when the next
stakeholder update is due.

Drafts and sends live only in the incident's timeline (``message_drafted``,
``message_sent`` and ``message_failed`` events), so a restarted cockpit finds
the latest unsent draft, continues the same Slack thread, updates the same
summary message and the same status page incident. :class:`CommsLog` folds
those events; it reads the whole file once (streaming, bounded memory) and
then follows new events.

Pure standard library; no clock reads (``now`` is a parameter).
"""

from __future__ import annotations

import secrets
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clay_cockpit.comms.rules import RuleTrack
from clay_cockpit.incident.lifecycle import ClockLevel, Incident, Status, format_duration
from clay_cockpit.incident.state import apply
from clay_cockpit.incident.timeline import Event, EventKind, TimelineError
from clay_cockpit.incident.timeline_read import iter_events
from clay_cockpit.runbook import Severity

if TYPE_CHECKING:
    from clay_cockpit.config import CommsConfig
    from clay_cockpit.incident.lifecycle import IncidentStore

MESSAGE_FAILED = "message_failed"  # a send that did not go out (kind not in EventKind: read back as a string)
MESSAGE_UNSURE = "message_unsure"  # a send whose answer was lost or garbled: it may have gone out (looked up before any resend)
MESSAGE_CHECKED = "message_checked"  # that look-up found nothing: the next send sends (found: a message_sent follows)
MAX_CLOSED = 1000  # draft ids remembered as sent/discarded


class Channel(StrEnum):
    INTERNAL = "internal"  # the Slack incident thread
    EXTERNAL = "external"  # our public status page


def _channel(value: object) -> Channel | None:
    """The channel an event's data names; None for anything else."""
    if not isinstance(value, str):
        return None  # not a channel's value: Channel(value) would raise ValueError
    try:
        return Channel(value)
    except ValueError:
        return None


def new_draft_id() -> str:
    return "d-" + secrets.token_hex(4)


@dataclass(frozen=True)
class Draft:
    """A message being written. ``text`` is what the responder edits (Slack
    mrkdwn for internal, plain text for the status page)."""

    id: str
    channel: Channel
    text: str
    made_at: float
    severity: str = ""
    status: str = ""  # the incident status it reports (external: the status page incident's status)
    title: str = ""  # external: the status page incident's name
    components: tuple[tuple[str, str], ...] = ()  # external: (component id, component status)
    summary: str = ""  # internal: the message at the top of the thread
    next_update_at: float | None = None  # the next update it promises
    edited: bool = False  # the responder changed the text, title or components
    status_set: bool = False  # the responder chose the status (else it follows the incident)
    facts: tuple[tuple[str, str], ...] = ()  # the digest of the facts it was made from (comms_facts.Facts.digest)
    seq: int = 0  # the timeline event it was last saved as (0: not saved)

    def with_text(self, text: str) -> Draft:
        return self if text == self.text else replace(self, text=text, edited=True)

    def with_title(self, title: str) -> Draft:
        return self if title == self.title else replace(self, title=title, edited=True)

    def with_components(self, components: Mapping[str, str]) -> Draft:
        comps = tuple(components.items())
        return self if comps == self.components else replace(self, components=comps, edited=True)

    @property
    def component_map(self) -> dict[str, str]:
        return dict(self.components)

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "channel": self.channel.value,
            "draft_id": self.id,
            "text": self.text,
            "made_at": self.made_at,
            "severity": self.severity,
            "status": self.status,
            "edited": self.edited,
        }
        if self.status_set:
            data["status_set"] = True
        if self.facts:
            data["facts"] = dict(self.facts)
        if self.channel == Channel.EXTERNAL:
            data |= {"title": self.title, "components": dict(self.components)}
        else:
            data["summary"] = self.summary
        if self.next_update_at is not None:
            data["next_update_at"] = self.next_update_at
        return data

    @classmethod
    def from_event(cls, ev: Event) -> Draft | None:
        d = ev.data
        channel = _channel(d.get("channel"))
        if channel is None:
            return None
        if not isinstance(d.get("draft_id"), str) or not isinstance(d.get("text"), str):
            return None
        raw_comps, raw_facts = d.get("components"), d.get("facts")
        comps = raw_comps if isinstance(raw_comps, Mapping) else {}
        facts = raw_facts if isinstance(raw_facts, Mapping) else {}
        nxt = d.get("next_update_at")
        made = d.get("made_at")
        return cls(
            id=d["draft_id"],
            channel=channel,
            text=d["text"],
            made_at=float(made) if isinstance(made, (int, float)) else ev.at,
            severity=str(d.get("severity") or ""),
            status=str(d.get("status") or ""),
            title=str(d.get("title") or ""),
            components=tuple((str(k), str(v)) for k, v in comps.items()),
            summary=str(d.get("summary") or ""),
            next_update_at=float(nxt) if isinstance(nxt, (int, float)) and not isinstance(nxt, bool) else None,
            edited=d.get("edited") is True,
            status_set=d.get("status_set") is True,
            facts=tuple((str(k), str(v)) for k, v in facts.items()),
            seq=ev.seq,
        )


@dataclass(frozen=True)
class Sent:
    """One message that went out (a ``message_sent`` event)."""

    channel: Channel
    role: str  # summary (opened the thread) | summary_edit | update | page_create | page_update
    at: float
    draft_id: str
    text: str
    where: str  # "#inc-clay" / "status page"
    slack_channel: str = ""  # the channel id
    ts: str = ""
    thread_ts: str = ""
    page_incident_id: str = ""
    status: str = ""
    shortlink: str = ""
    next_update_at: float | None = None
    seq: int = 0

    @property
    def is_update(self) -> bool:
        """An update stakeholders read (not the thread's summary message)."""
        return self.role in ("update", "page_create", "page_update")

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            k: v
            for k, v in {
                "channel": self.channel.value,
                "role": self.role,
                "draft_id": self.draft_id,
                "text": self.text,
                "where": self.where,
                "slack_channel": self.slack_channel,
                "ts": self.ts,
                "thread_ts": self.thread_ts,
                "page_incident_id": self.page_incident_id,
                "status": self.status,
                "shortlink": self.shortlink,
            }.items()
            if v != ""
        }
        if self.next_update_at is not None:
            data["next_update_at"] = self.next_update_at
        return data

    @classmethod
    def from_event(cls, ev: Event) -> Sent | None:
        d = ev.data
        channel = _channel(d.get("channel"))
        if channel is None:
            return None
        nxt = d.get("next_update_at")

        def s(key: str) -> str:
            return str(d.get(key) or "")

        return cls(
            channel,
            s("role") or "update",
            ev.at,
            s("draft_id"),
            s("text"),
            s("where"),
            s("slack_channel"),
            s("ts"),
            s("thread_ts"),
            s("page_incident_id"),
            s("status"),
            s("shortlink"),
            float(nxt) if isinstance(nxt, (int, float)) and not isinstance(nxt, bool) else None,
            ev.seq,
        )


@dataclass(frozen=True)
class Unsure:
    """A send that may have gone out (a ``message_unsure`` event): its answer
    was lost (timeout, reset), garbled (cut, not UTF-8) or a 500/502/504.
    The next send looks for it by the cockpit's marker before sending again."""

    channel: Channel
    role: str  # summary | update | page_create | page_update
    draft_id: str
    at: float  # when the send started (our clock)
    text: str  # what was sent (redacted)
    title: str = ""  # external
    status: str = ""  # external
    slack_channel: str = ""  # the channel id, when known
    thread_ts: str = ""  # a reply: the thread it went to
    page_incident_id: str = ""  # page_update: the incident it updated
    marker: tuple[tuple[str, str], ...] = ()  # what the message or incident carries to be found by
    error: str = ""

    @property
    def what(self) -> str:
        return {
            "summary": "message opening the incident thread",
            "update": "reply in the incident thread",
            "page_create": "new status page incident",
            "page_update": "status page update",
        }.get(self.role, "message")

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            k: v
            for k, v in {
                "channel": self.channel.value,
                "role": self.role,
                "draft_id": self.draft_id,
                "attempt_at": self.at,
                "text": self.text,
                "title": self.title,
                "status": self.status,
                "slack_channel": self.slack_channel,
                "thread_ts": self.thread_ts,
                "page_incident_id": self.page_incident_id,
                "error": self.error,
            }.items()
            if v != ""
        }
        data["marker"] = dict(self.marker)
        return data

    @classmethod
    def from_event(cls, ev: Event) -> Unsure | None:
        d = ev.data
        channel = _channel(d.get("channel"))
        if channel is None:
            return None
        if not isinstance(d.get("draft_id"), str) or not isinstance(d.get("role"), str):
            return None
        at = d.get("attempt_at")
        raw_marker = d.get("marker")
        marker = raw_marker if isinstance(raw_marker, Mapping) else {}

        def s(key: str) -> str:
            return str(d.get(key) or "")

        return cls(
            channel,
            d["role"],
            d["draft_id"],
            float(at) if isinstance(at, (int, float)) and not isinstance(at, bool) else ev.at,
            s("text"),
            s("title"),
            s("status"),
            s("slack_channel"),
            s("thread_ts"),
            s("page_incident_id"),
            tuple((str(k), str(v)) for k, v in marker.items()),
            s("error"),
        )


@dataclass(frozen=True)
class SlackThread:
    where: str  # the configured channel it was opened in ("#inc-clay")
    channel_id: str
    thread_ts: str  # = the summary message's ts
    opened_at: float


@dataclass(frozen=True)
class PageRef:
    incident_id: str
    status: str
    shortlink: str
    at: float


@dataclass
class CommsLog:
    """The communication state of one incident's timeline. Thread-safe."""

    path: Path | None = None
    seq: int = 0
    drafts: dict[Channel, Draft] = field(default_factory=dict)  # the latest unsent draft per channel
    last_sent: dict[Channel, Sent] = field(default_factory=dict)  # the latest update per channel
    thread: SlackThread | None = None
    page: PageRef | None = None
    last_change: tuple[float, str] | None = None  # the latest severity/status change: (at, what)
    unsure: dict[Channel, Unsure] = field(default_factory=dict)  # a send per channel that may have gone out, not looked up yet
    sent_count: int = 0
    rules: RuleTrack = field(default_factory=RuleTrack)  # a team runbook's update_within rules (comms.rules)
    _closed: deque[str] = field(default_factory=lambda: deque(maxlen=MAX_CLOSED))
    _lock: threading.RLock = field(default_factory=threading.RLock)

    @classmethod
    def load(cls, path: str | Path) -> CommsLog:
        """Fold a whole timeline file (streaming). OSError if it cannot be read."""
        log = cls(path=Path(path))
        log.observe(iter_events(path))
        return log

    def observe(self, events: Iterable[Event]) -> None:
        """Fold events newer than the last one seen (older ones are skipped)."""
        with self._lock:
            for ev in events:
                if ev.seq > self.seq:
                    self._apply(ev)
                    self.seq = ev.seq

    def sync(self, store: IncidentStore) -> CommsLog:
        """Follow ``store``'s current incident: reload when it is another file
        or when events were missed (more than its in-memory window), else
        fold the new ones. Returns self."""
        timeline = store.timeline
        with self._lock:
            if timeline is None:
                self._reset(None)
                return self
            events = store.events()
            if self.path != timeline.path or (events and events[0].seq > self.seq + 1):
                self._reset(timeline.path)
                try:
                    self.observe(iter_events(timeline.path))
                except OSError as exc:
                    raise TimelineError(f"cannot read the timeline {timeline.path}: {exc.strerror or exc}") from None
            self.observe(events)
            return self

    def _reset(self, path: Path | None) -> None:
        self.path, self.seq, self.thread, self.page, self.last_change, self.sent_count = path, 0, None, None, None, 0
        self.rules = RuleTrack()
        self.drafts.clear()
        self.last_sent.clear()
        self.unsure.clear()
        self._closed.clear()

    def _apply(self, ev: Event) -> None:
        self.rules.observe(ev, apply(self.rules.incident, ev))  # (the log folds no incident state of its own)
        if ev.kind == EventKind.MESSAGE_DRAFTED:
            draft = Draft.from_event(ev)
            if draft is None:
                return
            if ev.data.get("discarded") is True:
                self._close(draft.channel, draft.id)
            elif draft.id not in self._closed:
                self.drafts[draft.channel] = draft
        elif ev.kind == EventKind.MESSAGE_SENT:
            sent = Sent.from_event(ev)
            if sent is None:
                return
            self.sent_count += 1
            pending = self.unsure.get(sent.channel)
            if pending is not None and pending.draft_id == sent.draft_id and pending.role == sent.role:
                del self.unsure[sent.channel]  # it went out (found, or sent since)
            if sent.is_update:
                self._close(sent.channel, sent.draft_id)
                self.last_sent[sent.channel] = sent
            if sent.channel == Channel.INTERNAL and sent.role == "summary" and sent.ts:
                self.thread = SlackThread(sent.where, sent.slack_channel, sent.thread_ts or sent.ts, sent.at)
            if sent.channel == Channel.EXTERNAL and sent.page_incident_id:
                self.page = PageRef(sent.page_incident_id, sent.status, sent.shortlink, sent.at)
        elif ev.kind == MESSAGE_UNSURE:
            unsure = Unsure.from_event(ev)
            if unsure is not None:
                self.unsure[unsure.channel] = unsure
        elif ev.kind == MESSAGE_CHECKED:
            pending = self.unsure.get(Channel(ev.data["channel"])) if ev.data.get("channel") in ("internal", "external") else None
            if pending is not None and pending.draft_id == ev.data.get("draft_id") and pending.role == ev.data.get("role"):
                del self.unsure[pending.channel]
        elif ev.kind in (EventKind.SEVERITY_CHANGED, EventKind.STATUS_CHANGED):
            self.last_change = (ev.at, ev.summary)

    def _close(self, channel: Channel, draft_id: str) -> None:
        if draft_id:
            self._closed.append(draft_id)
            if channel in self.drafts and self.drafts[channel].id == draft_id:
                del self.drafts[channel]

    def rule_clocks(self, rules: Iterable[Any], channels: Iterable[str]) -> list[Any]:
        """The team runbook's update_within rules in force on ``channels`` (:class:`~clay_cockpit.comms.rules.RuleClock`)."""
        with self._lock:
            return self.rules.clocks(rules, channels)

    def is_closed(self, draft_id: str) -> bool:
        """The draft was sent or discarded (a later save needs a new id)."""
        with self._lock:
            return draft_id in self._closed

    def pending(self, channel: Channel) -> Unsure | None:
        """The send on ``channel`` that may have gone out and was not looked up yet."""
        with self._lock:
            return self.unsure.get(channel)

    def unsent(self, channel: Channel) -> Draft | None:
        """The latest draft of ``channel`` that was neither sent nor discarded."""
        with self._lock:
            return self.drafts.get(channel)


# --------------------------------------------------------------------------
# The update cadence


class DueState(StrEnum):
    WAITING = "waiting"
    SOON = "soon"  # the last fifth of the interval (at most 5 min)
    DUE = "due"
    OVERDUE = "overdue"  # due for longer than the grace (a fifth of the interval, at most 5 min)
    DONE = "done"  # resolved and the final update sent


LEVEL = {
    DueState.WAITING: ClockLevel.OK,
    DueState.SOON: ClockLevel.WARNING,
    DueState.DUE: ClockLevel.WARNING,
    DueState.OVERDUE: ClockLevel.ERROR,
    DueState.DONE: ClockLevel.OK,
}


def update_interval(severity: Severity | str, comms: CommsConfig | None = None) -> float:
    """Seconds between stakeholder updates at ``severity`` (``comms.pN_update_minutes``)."""
    if comms is None:
        from clay_cockpit.config import CommsConfig

        comms = CommsConfig()
    minutes = {
        Severity.P1: comms.p1_update_minutes,
        Severity.P2: comms.p2_update_minutes,
        Severity.P3: comms.p3_update_minutes,
        Severity.P4: comms.p4_update_minutes,
    }[Severity(severity)]
    return float(minutes) * 60.0


@dataclass(frozen=True)
class Cadence:
    channel: Channel
    severity: Severity
    interval: float  # seconds
    due_at: float | None  # None: nothing due (done)
    state: DueState  # as of ``at``
    at: float
    last_sent_at: float | None
    reason: str  # one line: why it is due when it is

    @property
    def level(self) -> ClockLevel:
        return LEVEL[self.state]

    def remaining(self, now: float) -> float | None:
        return None if self.due_at is None else self.due_at - now

    def text(self, now: float | None = None) -> str:
        """Short, for the header: ``update in 12:03``, ``update due``, ``update overdue 3:10``."""
        now = self.at if now is None else now
        if self.due_at is None:
            return "final update sent"
        left = self.due_at - now
        if left > 0:
            return f"update in {format_duration(left)}"
        grace = _grace(self.interval)
        return f"update overdue {format_duration(-left)}" if -left >= grace else "update due"


def _grace(interval: float) -> float:
    return min(interval / 5.0, 300.0)


def next_update_due(
    incident: Incident,
    events: Iterable[Event] | CommsLog,
    now: float,
    *,
    comms: CommsConfig | None = None,
    channel: Channel = Channel.INTERNAL,
) -> Cadence:
    """When the next stakeholder update on ``channel`` is due, and whether
    it is due now.

    - no update sent yet: due at the declaration (stakeholders hear at once);
    - else the last update + the severity's interval (``comms.pN_update_minutes``),
      or the time the last update promised, whichever is earlier;
    - a severity or status change after the last update makes it due then;
    - resolved: due at the resolution, until an update after it is sent (then done).

    ``events`` is the incident's events (oldest first) or a :class:`CommsLog`.
    """
    log = events if isinstance(events, CommsLog) else _fold(events)
    sev = incident.severity
    interval = update_interval(sev, comms)
    last = log.last_sent.get(channel)
    last_at = last.at if last is not None and last.at >= incident.declared_at else None
    if incident.status == Status.RESOLVED and incident.resolved_at is not None:
        if last_at is not None and last_at >= incident.resolved_at:
            return Cadence(channel, sev, interval, None, DueState.DONE, now, last_at, "resolved; the final update was sent")
        due, reason = incident.resolved_at, "resolved: send the final update"
    elif last_at is None:
        due, reason = incident.declared_at, "no update sent yet"
    else:
        due, reason = last_at + interval, f"{sev.value}: every {interval / 60:g} min"
        if last is not None and last.next_update_at is not None and last.next_update_at < due:
            due, reason = last.next_update_at, "the time the last update promised"
        if log.last_change is not None and log.last_change[0] > last_at and log.last_change[0] < due:
            due, reason = log.last_change[0], f"changed since the last update: {log.last_change[1]}"
    left = due - now
    if left > 0:
        state = DueState.SOON if left <= min(interval / 5.0, 300.0) else DueState.WAITING
    else:
        state = DueState.OVERDUE if -left >= _grace(interval) else DueState.DUE
    return Cadence(channel, sev, interval, due, state, now, last_at, reason)


def _fold(events: Iterable[Event]) -> CommsLog:
    log = CommsLog()
    log.observe(events)
    return log


class Reminder:
    """Fires once per due time and channel: call :meth:`poll` with each
    fresh :class:`Cadence` (e.g. every second); True means "notify now"."""

    def __init__(self) -> None:
        self._fired: dict[Channel, float] = {}

    def poll(self, cadence: Cadence) -> bool:
        if cadence.state not in (DueState.DUE, DueState.OVERDUE) or cadence.due_at is None:
            return False
        if self._fired.get(cadence.channel) == cadence.due_at:
            return False
        self._fired[cadence.channel] = cadence.due_at
        return True
