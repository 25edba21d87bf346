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

Drafts and sends are timeline events (:mod:`clay_cockpit.comms.state`), so a
restarted cockpit resumes the unsent draft, the Slack thread, its summary
message and the status page incident. A failed send keeps the draft (saved,
unsent) and says what went wrong in a :class:`~clay_cockpit.signals.SourceError`.
Secrets never leave: texts are redacted (``events.redact_text``) before
they are saved or sent.

Here: the drafts (from the templates and the facts, saved as timeline
events), their checks and preview, and the update cadence. Sending them,
and looking for a send that may have gone out before sending again, is
:mod:`clay_cockpit.comms.sending`.

No Textual; the network adapters (``clay_cockpit.sources.slack``/``statusapi``)
are imported on first send, in the worker.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any

from clay_cockpit.comms import blocks as blocks
from clay_cockpit.comms.blocks import PreviewBlock
from clay_cockpit.comms.check import Flag, check_fields, internal_terms
from clay_cockpit.comms.context import clock_time, message_values_and_facts
from clay_cockpit.comms.facts import changed, external_status, outcomes
from clay_cockpit.comms.sending import Sending, SendResult
from clay_cockpit.comms.state import (
    Cadence,
    Channel,
    CommsLog,
    Draft,
    DueState,
    PageRef,
    Reminder,
    Sent,
    SlackThread,
    new_draft_id,
    next_update_due,
    update_interval,
)
from clay_cockpit.comms.templates import TemplateProblem, Templates
from clay_cockpit.incident.events import redact_text
from clay_cockpit.incident.lifecycle import Incident, IncidentStore, NoIncident, Status
from clay_cockpit.incident.timeline import EventKind, TimelineError
from clay_cockpit.runbook import Severity
from clay_cockpit.signals import Signals

if TYPE_CHECKING:
    from clay_cockpit.config import Config
    from clay_cockpit.sources.slack import Slack
    from clay_cockpit.sources.statusapi import StatusApi

__all__ = [
    "Cadence",
    "Channel",
    "Comms",
    "Draft",
    "DueState",
    "Flag",
    "Opened",
    "PageRef",
    "Preview",
    "Reminder",
    "SaveResult",
    "SendResult",
    "Sent",
    "SlackThread",
    "component_status",
    "next_update_due",
    "update_interval",
]

INCIDENT_TO_COMPONENT = {
    Severity.P1: "major_outage",
    Severity.P2: "partial_outage",
    Severity.P3: "degraded_performance",
    Severity.P4: "operational",
}


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
    blocks: tuple[PreviewBlock, ...]
    fallback: str  # Slack's plain-text fallback / the status page body
    summary: tuple[PreviewBlock, ...] = ()  # internal: the top message, as it will read after this send
    where: str = ""  # "#inc-clay, new thread" / "#inc-clay, reply in the thread" / "status page, new incident" …
    flags: tuple[Flag, ...] = ()


class Comms(Sending):
    """Drafting, checking, previewing and sending for the current incident of
    ``store``. Thread-safe; :meth:`send` (and the ``send_*``) block on the
    network and belong in a thread worker; one send runs at a time. Sending
    is inherited from :class:`~clay_cockpit.comms.sending.Sending`."""

    def __init__(
        self,
        config: Config,
        store: IncidentStore,
        *,
        slack: Slack | None = None,
        statusapi: StatusApi | None = None,
        templates: Templates | None = None,
        clock: Callable[[], float] = time.time,
        speed: float | None = None,
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

    def draft(
        self,
        channel: Channel,
        *,
        assessment: Any = None,
        signals: Signals | None = None,
        current_action: str | None = None,
        status: Status | str | None = None,
        now: float | None = None,
        draft_id: str | None = None,
    ) -> Draft:
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
        values, facts = message_values_and_facts(
            incident,
            events,
            now=now,
            assessment=assessment,
            signals=signals,
            current_action=current_action,
            next_update_at=nxt,
            channel=self.config.slack.channel,
            speed=self.speed,
        )
        if channel == Channel.EXTERNAL:
            said = Status(status) if status is not None else facts.external_status
            if said != Status(values["status"]):
                values, facts = message_values_and_facts(
                    incident,
                    events,
                    now=now,
                    assessment=assessment,
                    signals=signals,
                    current_action=current_action,
                    next_update_at=nxt,
                    channel=self.config.slack.channel,
                    status=said,
                    speed=self.speed,
                )
        else:
            said = Status(incident.status)
        draft = partial(
            Draft,
            id=draft_id or new_draft_id(),
            channel=channel,
            made_at=now,
            severity=incident.severity.value,
            status=said.value,
            next_update_at=nxt,
            status_set=status is not None and channel == Channel.EXTERNAL,
            facts=facts.digest,
        )
        if channel == Channel.INTERNAL:
            values = {k: blocks.literal(v) if isinstance(v, str) else v for k, v in values.items()}  # outside text never mentions or links
            return draft(text=self.templates.render("slack_update", values), summary=self.templates.render("slack_summary", values))
        title = self.templates.render("status_title", values).split("\n", 1)[0]
        comps = tuple((cid, component_status(incident.severity, said)) for cid in self.config.external_status.component_ids)
        return draft(text=self.templates.render("status_update", values), title=title, components=comps)

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
            ev = self.store.record(
                EventKind.MESSAGE_DRAFTED,
                f"Draft of the {what} saved ({len(draft.text)} characters)",
                draft.to_data(),
                now=self._clock() if now is None else now,
            )
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
        return (
            blocks.slack_message(redact_text(draft.text)[0], footer=footer),
            blocks.slack_message(redact_text(draft.summary)[0], footer=footer),
        )

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
        where = "status page, " + (f"an update of incident {page.incident_id}" if not new and page is not None else "a new incident")
        comps = (
            ", ".join(f"{self.component_names.get(cid, cid)} → {st.replace('_', ' ')}" for cid, st in draft.components) or "no components"
        )
        pv = (
            blocks.PreviewBlock("header", draft.title, draft.title),
            blocks.PreviewBlock("context", f"{draft.status.title()} · {comps}", f"{draft.status.title()} · {comps}"),
            blocks.PreviewBlock("section", draft.text, draft.text),
        )
        return Preview(Channel.EXTERNAL, pv, redact_text(draft.text)[0], (), where, flags)

    def due(self, reminder: Reminder, now: float | None = None) -> list[Cadence]:
        """The channels whose reminder fires now (each once per due time)."""
        out = []
        for channel in Channel:
            cad = self.cadence(channel, now)
            if cad is not None and reminder.poll(cad):
                out.append(cad)
        return out
