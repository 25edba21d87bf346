"""Stakeholder communication: drafts from templates, checks, preview, and
sending through the Slack and status page adapters — step 4 of the runbook.

The compose screen works with one :class:`Comms` per cockpit::

    comms = Comms(config, store)                      # cheap; imports no HTTP client
    draft = comms.open_draft(Channel.INTERNAL, assessment=a)   # unsent draft, or a fresh one
    draft = draft.with_text(edited_text)
    comms.save(draft)                                 # on every pause in typing: nothing typed is lost
    flags = comms.check(draft)                        # warnings/errors to show
    pv = comms.preview(draft)                         # blocks as Slack will show them
    result = comms.send(draft)                        # BLOCKING: call from a thread worker
    comms.cadence(Channel.INTERNAL)                   # next update due / overdue, for the header

Drafts and sends are timeline events (:mod:`cockpit.comms.state`), so a
restarted cockpit resumes the unsent draft, the Slack thread, its summary
message and the status page incident. A failed send keeps the draft (saved,
unsent) and says what went wrong in a :class:`~cockpit.signals.SourceError`.
Secrets never leave: texts are redacted (``events.redact_text``) before
they are saved or sent.

No Textual; the network adapters (``cockpit.sources.slack``/``statusapi``)
are imported on first send, in the worker.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from cockpit.comms import blocks as blocks
from cockpit.comms.check import Flag, blocking, check_fields, internal_terms
from cockpit.comms.context import clock_time, message_values_and_facts
from cockpit.comms.facts import changed, external_status, outcomes
from cockpit.comms.state import (
    MESSAGE_CHECKED,
    MESSAGE_FAILED,
    MESSAGE_UNSURE,
    Cadence,
    Channel,
    CommsLog,
    Draft,
    DueState,
    PageRef,
    Reminder,
    Sent,
    SlackThread,
    Unsure,
    new_draft_id,
    next_update_due,
    update_interval,
)
from cockpit.comms.templates import TemplateProblem, Templates
from cockpit.incident.lifecycle import Incident, IncidentStore, NoIncident, Status
from cockpit.runbook import Severity
from cockpit.signals import ErrorKind, Signals, SourceError
from cockpit.incident.events import one_line, redact_text
from cockpit.incident.timeline import EventKind, TimelineError

if TYPE_CHECKING:
    from cockpit.config import Config
    from cockpit.sources.slack import Slack
    from cockpit.sources.statusapi import StatusApi

__all__ = [
    "Cadence", "Channel", "Comms", "Draft", "DueState", "Flag", "Opened", "PageRef", "Preview", "Reminder", "SaveResult",
    "SendResult", "Sent", "SlackThread", "component_status", "next_update_due", "update_interval",
]

INCIDENT_TO_COMPONENT = {Severity.P1: "major_outage", Severity.P2: "partial_outage", Severity.P3: "degraded_performance",
                         Severity.P4: "operational"}


def component_status(severity: Severity | str, status: Status | str) -> str:
    """The status page component status a draft starts with: by severity
    while the incident is open, operational once monitoring or resolved."""
    if Status(status) in (Status.MONITORING, Status.RESOLVED):
        return "operational"
    return INCIDENT_TO_COMPONENT[Severity(severity)]


@dataclass(frozen=True)
class Opened:
    """A draft for the editor, and the facts (in words) that changed since
    the responder edited it: the editor says so and offers a fresh start."""

    draft: Draft
    changed: tuple[str, ...] = ()


@dataclass(frozen=True)
class SaveResult:
    draft: Draft  # with ``seq`` set when saved
    error: str = ""  # one line when it could not be kept whole ("" when saved)

    @property
    def ok(self) -> bool:
        return not self.error


@dataclass(frozen=True)
class Preview:
    """The message as it will appear: Slack blocks (internal, plus the
    thread's summary message) or the status page update (external)."""

    channel: Channel
    blocks: tuple[blocks.PreviewBlock, ...]
    fallback: str  # Slack's plain-text fallback / the status page body
    summary: tuple[blocks.PreviewBlock, ...] = ()  # internal: the top message, as it will read after this send
    where: str = ""  # "#inc-clay, new thread" / "#inc-clay, reply in the thread" / "status page, new incident" …
    flags: tuple[Flag, ...] = ()


@dataclass(frozen=True)
class SendResult:
    ok: bool
    draft: Draft  # kept intact when not ok: the UI keeps it in the editor
    error: SourceError | None = None
    sent: tuple[Sent, ...] = ()
    warnings: tuple[str, ...] = ()  # it went out, but something around it did not (summary refresh, recording)
    unsure: bool = False  # not ok, and it may have gone out anyway: the next send looks for it before sending again

    @property
    def retry_after(self) -> float | None:
        return self.error.retry_after if self.error is not None else None

    def line(self) -> str:
        """One line for a notification."""
        if not self.ok and self.unsure:
            return f"May have been sent — {self.error.line() if self.error else 'the answer was lost'}"
        if not self.ok:
            return f"Not sent — {self.error.line() if self.error else 'unknown failure'}"
        where = next((s.where for s in self.sent if s.is_update), "")
        text = f"Sent to {where}" if where else "Sent"
        return text + (f" (but: {self.warnings[0]})" if self.warnings else "")


def _refused(draft: Draft, source: str, kind: ErrorKind, message: str, hint: str) -> SendResult:
    # redacted before one_line cuts: a credential straddling the cut would keep its first half
    return SendResult(False, draft, SourceError(source, kind, one_line(redact_text(message)[0], 200), one_line(redact_text(hint)[0], 200)))


class Comms:
    """Drafting, checking, previewing and sending for the current incident of
    ``store``. Thread-safe; :meth:`send` (and the ``send_*``) block on the
    network and belong in a thread worker; one send runs at a time."""

    def __init__(
        self, config: Config, store: IncidentStore, *, slack: Slack | None = None, statusapi: StatusApi | None = None,
        templates: Templates | None = None, clock: Callable[[], float] = time.time, speed: float | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self._slack_api = slack
        self._status_api = statusapi
        self.templates = templates if templates is not None else Templates.for_config(config.comms.templates_dir)
        self._clock = clock
        self.speed = speed  # a drill's clock speed (its metrics' times run that much faster); None: 1
        self.log = CommsLog()
        self._send_lock = threading.Lock()
        self._lock = threading.Lock()
        self.component_names: dict[str, str] = {}  # status page component id → name, once :meth:`load_component_names` ran

    # -- state

    @property
    def problems(self) -> tuple[TemplateProblem, ...]:
        """Rejected user templates, one line each (``str(problem)``)."""
        return self.templates.problems

    def sync(self) -> CommsLog:
        """Fold new timeline events (cheap); reads the file on a new incident."""
        return self.log.sync(self.store)

    def _incident(self) -> Incident:
        incident = self.store.incident
        if incident is None:
            raise NoIncident("no incident declared")
        return incident

    def cadence(self, channel: Channel = Channel.INTERNAL, now: float | None = None) -> Cadence | None:
        """When the next update on ``channel`` is due (None without an incident)."""
        incident = self.store.incident
        if incident is None:
            return None
        return next_update_due(incident, self.sync(), self._clock() if now is None else now, comms=self.config.comms, channel=channel)

    def thread(self) -> SlackThread | None:
        return self.sync().thread

    def page_incident(self) -> PageRef | None:
        return self.sync().page

    # -- drafts

    def draft(self, channel: Channel, *, assessment: Any = None, signals: Signals | None = None, current_action: str | None = None,
              status: Status | str | None = None, now: float | None = None, draft_id: str | None = None) -> Draft:
        """A fresh draft from the templates and the facts as they are now
        (``assessment``: triage's live Assessment, else the newest recorded;
        ``signals``: the live readings, for the impact now). The status page
        draft's status follows the incident (:func:`comms_facts.external_status`)
        unless ``status`` is given (the responder chose it). Raises NoIncident
        without an incident."""
        incident = self._incident()
        now = self._clock() if now is None else now
        nxt = now + update_interval(incident.severity, self.config.comms)
        events = self.store.events()
        values, facts = message_values_and_facts(incident, events, now=now, assessment=assessment, signals=signals,
                                                 current_action=current_action, next_update_at=nxt, channel=self.config.slack.channel,
                                                 speed=self.speed)
        if channel == Channel.EXTERNAL:
            said = Status(status) if status is not None else facts.external_status
            if said != Status(values["status"]):
                values, facts = message_values_and_facts(incident, events, now=now, assessment=assessment, signals=signals,
                                                         current_action=current_action, next_update_at=nxt,
                                                         channel=self.config.slack.channel, status=said, speed=self.speed)
        else:
            said = Status(incident.status)
        common = {"id": draft_id or new_draft_id(), "channel": channel, "made_at": now, "severity": incident.severity.value,
                  "status": said.value, "next_update_at": nxt, "status_set": status is not None and channel == Channel.EXTERNAL,
                  "facts": facts.digest}
        if channel == Channel.INTERNAL:
            values = {k: blocks.literal(v) if isinstance(v, str) else v for k, v in values.items()}  # outside text never mentions or links
            return Draft(text=self.templates.render("slack_update", values), summary=self.templates.render("slack_summary", values), **common)
        title = self.templates.render("status_title", values).split("\n", 1)[0]
        comps = tuple((cid, component_status(incident.severity, said)) for cid in self.config.external_status.component_ids)
        return Draft(text=self.templates.render("status_update", values), title=title, components=comps, **common)

    def open_draft(self, channel: Channel, *, force: bool = False, **kwargs: Any) -> Draft:
        """What the editor opens (:meth:`opened`'s draft)."""
        return self.opened(channel, force=force, **kwargs).draft

    def opened(self, channel: Channel, *, force: bool = False, **kwargs: Any) -> Opened:
        """What the editor opens: the unsent draft of ``channel`` when the
        responder edited it (typed before a restart, or before a failed
        send: nothing typed is lost) with what changed in the facts since
        it was made; else one made now from the facts (keeping the unsent
        one's id, and its status when the responder chose one). ``force``:
        a fresh one whatever there is. Keywords as :meth:`draft`."""
        kept = None if force else self.unsent(channel)
        live = {k: v for k, v in kwargs.items() if k in ("assessment", "signals", "now")}
        if kept is not None and kept.edited:
            fresh = self.draft(channel, status=kept.status if kept.status_set else None, **live)
            return Opened(kept, changed(kept.facts, fresh.facts))
        if kept is not None and kept.status_set and "status" not in kwargs:
            kwargs["status"] = kept.status
        draft = self.draft(channel, draft_id=kwargs.pop("draft_id", None) or (kept.id if kept else None), **kwargs)
        if draft.status_set and channel == Channel.EXTERNAL:
            default = self.draft(channel, **live)
            if default.status != draft.status:
                return Opened(draft, (f"the status customers should see (now {default.status}; you chose {draft.status})",))
        return Opened(draft, ())

    def page_status(self) -> Status:
        """The status the status page should show now (it follows the
        incident: monitoring once a fix is verified by its symptom)."""
        return external_status(self._incident(), outcomes(self.store.events()))

    def unsent(self, channel: Channel) -> Draft | None:
        return self.sync().unsent(channel)

    def restatus(self, draft: Draft, status: Status | str, **kwargs: Any) -> Draft:
        """The draft for another status (the responder's choice): re-rendered
        when the responder has not edited it, else only its status (and
        default component statuses) change."""
        status = Status(status)
        if not draft.edited:
            return self.draft(draft.channel, status=status, draft_id=draft.id, **kwargs)
        comps = tuple((cid, component_status(draft.severity or self._incident().severity, status)) for cid, _ in draft.components)
        return replace(draft, status=status.value, components=comps, status_set=True)

    def save(self, draft: Draft, *, now: float | None = None) -> SaveResult:
        """Record the draft (redacted) in the timeline, unless this exact
        version is already the saved one. Never raises. A draft whose id was
        already sent or discarded is saved under a new id (use the returned
        ``draft`` from then on), so text typed after a send is not lost."""
        log = self.sync()
        if log.is_closed(draft.id):
            draft = replace(draft, id=new_draft_id(), seq=0)
        current = log.unsent(draft.channel)
        if current is not None and current.id == draft.id and replace(current, seq=0) == replace(draft, seq=0):
            return SaveResult(current)
        what = "internal update" if draft.channel == Channel.INTERNAL else "status page update"
        try:
            ev = self.store.record(EventKind.MESSAGE_DRAFTED, f"Draft of the {what} saved ({len(draft.text)} characters)",
                                   draft.to_data(), now=self._clock() if now is None else now)
        except TimelineError as exc:
            return SaveResult(draft, f"the draft could not be saved: {exc} — copy it somewhere before quitting")
        if ev is None:
            return SaveResult(draft, "the draft could not be saved: no incident is open")
        self.log.observe([ev])
        if "_truncated" in ev.data:
            return SaveResult(replace(draft, seq=ev.seq), "the draft is too long to be kept whole in the timeline: shorten it")
        return SaveResult(replace(draft, seq=ev.seq))

    def discard(self, draft: Draft, *, now: float | None = None) -> SaveResult:
        """Drop the draft: a restarted cockpit will not offer it again."""
        data = {"channel": draft.channel.value, "draft_id": draft.id, "text": "", "discarded": True}
        try:
            ev = self.store.record(EventKind.MESSAGE_DRAFTED, "Draft discarded", data, now=self._clock() if now is None else now)
        except TimelineError as exc:
            return SaveResult(draft, f"could not record the discard: {exc}")
        if ev is not None:
            self.log.observe([ev])
        return SaveResult(draft)

    def check(self, draft: Draft) -> tuple[Flag, ...]:
        """Warnings (internal names, hosts, numbers in the customer draft;
        secrets) and errors (empty, too long: :meth:`send` refuses)."""
        terms = internal_terms(self.config, self.store.events()) if draft.channel == Channel.EXTERNAL else ()
        flags = check_fields(draft.channel.value, draft.text, draft.title, terms)
        if draft.channel == Channel.INTERNAL:
            flags += tuple(replace(f, field="summary") for f in check_fields("internal", draft.summary) if f.kind != "empty")
        return flags

    # -- preview

    def _footer(self, draft: Draft) -> str:
        incident = self.store.incident
        nxt = f" · next update by {clock_time(draft.next_update_at)}" if draft.next_update_at else ""
        return f"{incident.id if incident else ''} · sent from clay-cockpit{nxt}".strip(" ·")

    def slack_messages(self, draft: Draft) -> tuple[blocks.SlackMessage, blocks.SlackMessage]:
        """(the update, the summary) as Slack messages, redacted."""
        footer = self._footer(draft)
        return (blocks.slack_message(redact_text(draft.text)[0], footer=footer),
                blocks.slack_message(redact_text(draft.summary)[0], footer=footer))

    def preview(self, draft: Draft) -> Preview:
        """What will be sent, and where."""
        flags = self.check(draft)
        if draft.channel == Channel.INTERNAL:
            update, summary = self.slack_messages(draft)
            thread = self.thread()
            fresh = thread is None or thread.where != self.config.slack.channel
            where = f"{self.config.slack.channel}, " + ("a new incident thread" if fresh else "a reply in the incident thread")
            return Preview(Channel.INTERNAL, blocks.preview(update), update.text, blocks.preview(summary), where, flags)
        page = self.page_incident()
        new = page is None or page.status == Status.RESOLVED
        where = "status page, " + ("a new incident" if new else f"an update of incident {page.incident_id}")
        comps = ", ".join(f"{self.component_names.get(cid, cid)} → {st.replace('_', ' ')}" for cid, st in draft.components) or "no components"
        pv = (blocks.PreviewBlock("header", draft.title, draft.title),
              blocks.PreviewBlock("context", f"{draft.status.title()} · {comps}", f"{draft.status.title()} · {comps}"),
              blocks.PreviewBlock("section", draft.text, draft.text))
        return Preview(Channel.EXTERNAL, pv, redact_text(draft.text)[0], (), where, flags)

    # -- sending (blocking: thread workers only)

    def send(self, draft: Draft, **kwargs: Any) -> SendResult:
        """Send ``draft`` on its channel. Blocking; never raises for network
        or timeline trouble."""
        if draft.channel == Channel.INTERNAL:
            return self.send_internal(draft)
        return self.send_external(draft, **kwargs)

    def _prepare(self, draft: Draft, source: str) -> tuple[Draft, list[str]] | SendResult:
        if self.store.incident is None:
            return _refused(draft, source, ErrorKind.BAD_RESPONSE, "no incident is open", "declare the incident first")
        bad = blocking(self.check(draft))
        if bad:
            return _refused(draft, source, ErrorKind.BAD_RESPONSE, f"the draft cannot be sent: {bad[0].message}", "edit the draft and retry")
        saved = self.save(draft)
        return saved.draft, ([saved.error] if saved.error else [])

    def _record(self, kind: str, summary: str, data: Mapping[str, Any], warnings: list[str]) -> int:
        try:
            ev = self.store.record(kind, summary, data, now=self._clock())
        except TimelineError as exc:
            warnings.append(f"not recorded in the timeline: {exc}")
            return 0
        if ev is None:
            return 0
        self.log.observe([ev])
        return ev.seq

    def _failed(self, draft: Draft, err: SourceError, warnings: list[str], sent: list[Sent], unsure: Unsure | None = None) -> SendResult:
        """A send that did not succeed: ``message_failed`` — or, when the
        request may have been carried out (``err.maybe_sent``) and ``unsure``
        says what it was, ``message_unsure``: never "not sent" about
        something that may exist; the next send looks it up first."""
        if unsure is not None and getattr(err, "maybe_sent", False):
            unsure = replace(unsure, error=one_line(err.line(), 300))
            self._record(MESSAGE_UNSURE, f"The {unsure.what} may have been sent (the answer was lost): {err.message}",
                         unsure.to_data(), warnings)
            hint = f"the {unsure.what} may exist: ctrl+s looks for it first and sends only if it is not there; the draft is kept"
            return SendResult(False, draft, replace(err, hint=hint), tuple(sent), tuple(warnings), unsure=True)
        what = "internal update" if draft.channel == Channel.INTERNAL else "status page update"
        self._record(MESSAGE_FAILED, f"The {what} was not sent: {err.message}",
                     {"channel": draft.channel.value, "draft_id": draft.id, "error": err.line(), "kind": err.kind.value}, warnings)
        return SendResult(False, draft, err, tuple(sent), tuple(warnings))

    def _marker(self, draft: Draft, role: str) -> tuple[tuple[str, str], ...]:
        """What a message or incident carries so that it can be found again:
        the draft, what it is, and the cockpit's incident."""
        incident = self.store.incident
        return (("draft", draft.id), ("role", role), ("incident", incident.id if incident else ""))

    def _checked(self, pending: Unsure, warnings: list[str]) -> None:
        self._record(MESSAGE_CHECKED, f"The earlier {pending.what} was looked for and is not there: sending it now",
                     {"channel": pending.channel.value, "draft_id": pending.draft_id, "role": pending.role, "found": False}, warnings)

    def _lookup_failed(self, draft: Draft, pending: Unsure, err: SourceError, warnings: list[str], sent: list[Sent]) -> SendResult:
        """The look-up for an unclear earlier send failed: nothing is sent (it could be a duplicate)."""
        where = "the channel" if pending.channel == Channel.INTERNAL else "the status page"
        got = replace(err, message=one_line(f"could not check whether the earlier {pending.what} went through: {err.message}", 300),
                      hint=f"nothing was sent again; ctrl+s looks again (or look in {where} yourself); the draft is kept")
        return SendResult(False, draft, got, tuple(sent), tuple(warnings), unsure=True)

    def _sent(self, sent: Sent, summary: str, warnings: list[str]) -> Sent:
        seq = self._record(EventKind.MESSAGE_SENT, summary, sent.to_data(), warnings)
        return replace(sent, seq=seq)

    def _tick(self, key: str, seen: str, warnings: list[str]) -> None:
        try:
            self.store.tick(key, auto=True, seen=seen, now=self._clock())
        except (TimelineError, NoIncident) as exc:
            warnings.append(f"checklist not ticked: {exc}")

    def _slack(self) -> Slack:
        with self._lock:
            if self._slack_api is None:
                from cockpit.sources.slack import Slack

                self._slack_api = Slack(self.config.slack)
            return self._slack_api

    def _status(self) -> StatusApi:
        with self._lock:
            if self._status_api is None:
                from cockpit.sources.statusapi import StatusApi

                self._status_api = StatusApi(self.config.external_status)
            return self._status_api

    def send_internal(self, draft: Draft) -> SendResult:
        """Post the update into the incident thread (opening it with the
        summary message first if there is none in the configured channel),
        then bring the summary up to date with chat.update."""
        if not self._send_lock.acquire(blocking=False):
            return _refused(draft, "slack", ErrorKind.BAD_RESPONSE, "another send is in progress", "wait for it to finish")
        try:
            prepared = self._prepare(draft, "slack")
            if isinstance(prepared, SendResult):
                return prepared
            draft, warnings = prepared
            return self._send_internal(draft, warnings)
        finally:
            self._send_lock.release()

    def _open_thread(self, draft: Draft, summary_msg: blocks.SlackMessage, warnings: list[str]) -> tuple[SlackThread, Sent] | SourceError:
        from cockpit.sources.slack import SlackError

        where = self.config.slack.channel
        top = self._slack().post(summary_msg.text, summary_msg.blocks, marker=dict(self._marker(draft, "summary")))
        if isinstance(top, SlackError):
            return top
        sent = self._sent(Sent(Channel.INTERNAL, "summary", top.at, draft.id, redact_text(draft.summary)[0], where,
                               top.channel_id, top.ts, top.ts), f"Incident thread opened in {where}", warnings)
        return SlackThread(where, top.channel_id, top.ts, top.at), sent

    def _unsure_internal(self, draft: Draft, role: str, at: float, thread: SlackThread | None) -> Unsure:
        text = redact_text(draft.summary if role == "summary" else draft.text)[0]
        return Unsure(Channel.INTERNAL, role, draft.id, at, text, status=draft.status, slack_channel=thread.channel_id if thread else "",
                      thread_ts=thread.thread_ts if thread and role == "update" else "", marker=self._marker(draft, role))

    def _find_internal(self, pending: Unsure, warnings: list[str]) -> Sent | None | SourceError:
        """Look in Slack for the message an unclear send may have posted; adopt it when found."""
        where = self.config.slack.channel
        got = self._slack().find_marked(dict(pending.marker), channel_id=pending.slack_channel,
                                        thread_ts=pending.thread_ts or None, since=pending.at)
        if isinstance(got, SourceError) or got is None:
            return got
        if pending.role == "summary":
            return self._sent(Sent(Channel.INTERNAL, "summary", got.at, pending.draft_id, pending.text, where, got.channel_id, got.ts, got.ts),
                              f"Incident thread found in {where} (it had been opened; the answer was lost)", warnings)
        return self._sent(Sent(Channel.INTERNAL, "update", got.at, pending.draft_id, pending.text, where, got.channel_id, got.ts,
                               pending.thread_ts, status=pending.status),
                          f"Internal update found in {where} (it had been posted; the answer was lost): {pending.text.split(chr(10), 1)[0]}",
                          warnings)

    def _send_internal(self, draft: Draft, warnings: list[str]) -> SendResult:
        from cockpit.sources.slack import SlackError

        update_msg, summary_msg = self.slack_messages(draft)
        where = self.config.slack.channel
        sent: list[Sent] = []
        pending = self.sync().pending(Channel.INTERNAL)
        if pending is not None and pending.role in ("summary", "update"):  # an earlier send may have gone out: look before posting
            found = self._find_internal(pending, warnings)
            if isinstance(found, SourceError):
                return self._lookup_failed(draft, pending, found, warnings, sent)
            if found is None:
                self._checked(pending, warnings)
            else:
                sent.append(found)
                warnings.append(f"the earlier {pending.what} had gone out: it was found, not sent twice")
                if pending.role == "update" and pending.draft_id == draft.id and pending.text == redact_text(draft.text)[0]:
                    self._tick("slack_update", f"posted to {where} at {clock_time(found.at)}", warnings)
                    return SendResult(True, draft, None, tuple(sent), tuple(warnings))
        thread = self.sync().thread
        fresh = thread is None or thread.where != where
        if fresh:
            at = self._clock()
            opened = self._open_thread(draft, summary_msg, warnings)
            if isinstance(opened, SourceError):
                return self._failed(draft, opened, warnings, sent, self._unsure_internal(draft, "summary", at, None))
            thread, first = opened
            sent.append(first)
        assert thread is not None
        at = self._clock()
        marker = dict(self._marker(draft, "update"))
        reply = self._slack().post(update_msg.text, update_msg.blocks, thread_ts=thread.thread_ts, channel=thread.channel_id, marker=marker)
        if isinstance(reply, SlackError) and reply.slack_error == "thread_not_found" and not fresh:
            warnings.append("the old incident thread was gone; a new one was opened")
            at = self._clock()
            opened = self._open_thread(draft, summary_msg, warnings)
            if isinstance(opened, SourceError):
                return self._failed(draft, opened, warnings, sent, self._unsure_internal(draft, "summary", at, None))
            thread, first = opened
            sent.append(first)
            fresh = True
            at = self._clock()
            reply = self._slack().post(update_msg.text, update_msg.blocks, thread_ts=thread.thread_ts, channel=thread.channel_id, marker=marker)
        if isinstance(reply, SourceError):
            return self._failed(draft, reply, warnings, sent, self._unsure_internal(draft, "update", at, thread))
        text = redact_text(draft.text)[0]
        sent.append(self._sent(Sent(Channel.INTERNAL, "update", reply.at, draft.id, text, where, reply.channel_id, reply.ts,
                                    thread.thread_ts, status=draft.status, next_update_at=draft.next_update_at),
                               f"Internal update posted to {where}: {text.split(chr(10), 1)[0]}", warnings))
        if not fresh:
            edit = self._slack().update(thread.channel_id, thread.thread_ts, summary_msg.text, summary_msg.blocks)
            if isinstance(edit, SourceError):
                warnings.append(f"the summary at the top of the thread was not refreshed: {edit.message}")
            else:
                sent.append(self._sent(Sent(Channel.INTERNAL, "summary_edit", edit.at, draft.id, redact_text(draft.summary)[0], where,
                                            thread.channel_id, thread.thread_ts, thread.thread_ts), f"Thread summary refreshed in {where}", warnings))
        self._tick("slack_update", f"posted to {where} at {clock_time(reply.at)}", warnings)
        return SendResult(True, draft, None, tuple(sent), tuple(warnings))

    def send_external(self, draft: Draft, *, new_incident: bool = False) -> SendResult:
        """Create the status page incident (none open, or ``new_incident``) or
        post an update to it, with the draft's status and component statuses."""
        if not self._send_lock.acquire(blocking=False):
            return _refused(draft, "statusapi", ErrorKind.BAD_RESPONSE, "another send is in progress", "wait for it to finish")
        try:
            prepared = self._prepare(draft, "statusapi")
            if isinstance(prepared, SendResult):
                return prepared
            draft, warnings = prepared
            api = self._status()
            body, title = redact_text(draft.text)[0], redact_text(draft.title)[0]
            status = draft.status or Status.INVESTIGATING.value
            comps = draft.component_map
            sent: list[Sent] = []
            pending = self.sync().pending(Channel.EXTERNAL)
            if pending is not None:  # an earlier create or update may have been made: look before sending again
                found = self._find_external(pending, warnings)
                if isinstance(found, SourceError):
                    return self._lookup_failed(draft, pending, found, warnings, sent)
                if found is None:
                    self._checked(pending, warnings)
                else:
                    sent.append(found)
                    warnings.append(f"the earlier {pending.what} had been made: it was found, not sent twice")
                    if pending.draft_id == draft.id and (pending.text, pending.title, pending.status) == (body, title, status):
                        self._tick("status_page_update", f"status page {found.status} at {clock_time(found.at)}", warnings)
                        return SendResult(True, draft, None, tuple(sent), tuple(warnings))
                    new_incident = False  # what was found is the incident; the draft's newer text goes to it as an update
            page = self.sync().page
            at = self._clock()
            if new_incident or page is None or page.status == Status.RESOLVED:
                role = "page_create"
                marker = self._marker(draft, role)
                got = api.create_incident(name=title, status=status, body=body, components=comps, marker=dict(marker))
            else:
                role, marker = "page_update", ()
                got = api.update_incident(page.incident_id, status=status, body=body, components=comps, name=title)
            if isinstance(got, SourceError):
                if role == "page_update" and got.status_code == 404:
                    got = replace(got, hint="the incident is gone from the status page: send it as a new incident")
                unsure = Unsure(Channel.EXTERNAL, role, draft.id, at, body, title, status,
                                page_incident_id=page.incident_id if role == "page_update" and page else "", marker=marker)
                return self._failed(draft, got, warnings, sent, unsure)
            where = "status page" + (f" ({got.shortlink})" if got.shortlink else "")
            done = self._sent(Sent(Channel.EXTERNAL, role, self._clock(), draft.id, body, where, page_incident_id=got.id,
                                   status=got.status, shortlink=got.shortlink, next_update_at=draft.next_update_at),
                              f"Status page {'incident created' if role == 'page_create' else 'updated'} ({got.status}): {title}", warnings)
            self._tick("status_page_update", f"status page {got.status} at {clock_time(done.at)}", warnings)
            return SendResult(True, draft, None, (*sent, done), tuple(warnings))
        finally:
            self._send_lock.release()

    def _find_external(self, pending: Unsure, warnings: list[str]) -> Sent | None | SourceError:
        """Look on the status page for what an unclear send may have made: the
        unresolved incident carrying our marker (a create), or the incident's
        newest update being ours (an update). Adopted when found."""
        api = self._status()
        if pending.role == "page_create":
            got = api.find_marked(dict(pending.marker))
        else:
            got = api.get_incident(pending.page_incident_id)
            if not isinstance(got, SourceError) and (got.latest_body != pending.text or got.status != pending.status):
                got = None
        if isinstance(got, SourceError) or got is None:
            return got
        where = "status page" + (f" ({got.shortlink})" if got.shortlink else "")
        made = "incident found" if pending.role == "page_create" else "update found"
        return self._sent(Sent(Channel.EXTERNAL, pending.role, self._clock(), pending.draft_id, pending.text, where, page_incident_id=got.id,
                               status=got.status, shortlink=got.shortlink),
                          f"Status page {made} ({got.status}; it had been made, the answer was lost): {pending.title}", warnings)

    def load_component_names(self) -> dict[str, str] | SourceError:
        """Blocking: the status page's component names (for the preview and
        the compose screen's component list). Cached on success."""
        got = self._status().components()
        if isinstance(got, SourceError):
            return got
        with self._lock:
            self.component_names = {c.id: c.name for c in got}
            return dict(self.component_names)

    def refresh_summary(self, draft: Draft) -> SendResult:
        """Retry only the chat.update of the thread's summary (after a send
        that warned it was not refreshed)."""
        thread = self.thread()
        if thread is None:
            return _refused(draft, "slack", ErrorKind.BAD_RESPONSE, "there is no incident thread yet", "send an update first")
        _, summary_msg = self.slack_messages(draft)
        warnings: list[str] = []
        edit = self._slack().update(thread.channel_id, thread.thread_ts, summary_msg.text, summary_msg.blocks)
        if isinstance(edit, SourceError):
            return SendResult(False, draft, edit)
        sent = self._sent(Sent(Channel.INTERNAL, "summary_edit", edit.at, draft.id, redact_text(draft.summary)[0], thread.where,
                               thread.channel_id, thread.thread_ts, thread.thread_ts), f"Thread summary refreshed in {thread.where}", warnings)
        return SendResult(True, draft, None, (sent,), tuple(warnings))

    def due(self, reminder: Reminder, now: float | None = None) -> list[Cadence]:
        """The channels whose reminder fires now (each once per due time)."""
        out = []
        for channel in Channel:
            cad = self.cadence(channel, now)
            if cad is not None and reminder.poll(cad):
                out.append(cad)
        return out
