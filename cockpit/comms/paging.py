"""PagerDuty and Grafana beside the incident (issue 16): what the timeline
says about the page, the milestone outbox, and the escalation's payload.

Everything here is read from the incident timeline (docs/events.md, "The
page"): the linked page (``page_linked``), whether it was acknowledged or
resolved, the escalations, and which milestones still have to reach which
channel. A milestone is an event the timeline already holds (the
declaration, a change of severity or branch, an applied or verified action,
an update sent, the resolution); it is sent once a ``milestone_sent`` with
its ``seq`` and channel follows it. So the outbox survives a crash and a
restart, and a channel that is down (or a page not linked yet) only makes
its milestones wait — visibly — never lost, never sent twice.

:func:`send` does the network part (through the ``PagerDuty`` and ``Grafana``
sources, in a worker thread); everything else is pure.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from clay_cockpit.config import Config
from clay_cockpit.incident.events import Event, EventKind, iso_utc
from clay_cockpit.incident.state import Incident, Status, apply
from clay_cockpit.signals import PagerDutyIncident, PagerDutySnapshot, SourceError
from clay_cockpit.text import one_line

PAGERDUTY = "pagerduty"
GRAFANA = "grafana"
CHANNEL_NAME = {PAGERDUTY: "PagerDuty", GRAFANA: "Grafana"}
GRAFANA_MILESTONES = frozenset({"declared", "severity", "action", "resolved"})  # what the graphs show
DEDUP_PREFIX = "clay-cockpit/"  # an escalation's dedup key: clay-cockpit/<incident id>
TAKE_START_WITHIN = 6 * 3600.0  # seconds: an older page is linked, but the incident does not start at its time
MAX_SUMMARY = 1024  # PagerDuty's limit on an event's summary
NOTE_FOR_PAGE = "for_page"  # a note event's data key: the PagerDuty incident a responder's note goes to (through the outbox)


@dataclass(frozen=True, slots=True)
class Pending:
    """One milestone still to reach one channel."""

    seq: int  # the event it tells of
    at: float
    milestone: str
    channel: str
    summary: str  # the event's summary, whole
    text: str = ""  # a responder's note (milestone "note"): the words sent as they were typed
    page_id: str = ""  # a responder's note: the page it is for (else the linked one)


@dataclass(frozen=True, slots=True)
class Escalation:
    at: float
    how: str  # events / reassign
    target: str
    dedup_key: str
    reason: str


@dataclass(frozen=True, slots=True)
class PageState:
    """What the timeline says about the page and the outbox."""

    incident_id: str | None = None
    incident: Incident | None = None
    page_id: str | None = None  # the linked PagerDuty incident
    number: int | None = None
    title: str = ""
    html_url: str = ""
    triggered_at: float | None = None
    acknowledged_at: float | None = None
    resolved_at: float | None = None
    escalations: tuple[Escalation, ...] = ()
    pending: tuple[Pending, ...] = ()
    sent: Mapping[str, int] = field(default_factory=dict)  # channel → milestones sent
    denied: tuple[str, str] | None = None  # the newest permission refusal: (reason, the plan's title)

    @property
    def linked(self) -> bool:
        return self.page_id is not None

    def label(self) -> str:
        """``#1042`` (or the id when PagerDuty gave no number)."""
        return f"#{self.number}" if self.number is not None else (self.page_id or "")

    def waiting(self, channel: str) -> tuple[Pending, ...]:
        return tuple(p for p in self.pending if p.channel == channel)


def channels(config: Config) -> dict[str, frozenset[str]]:
    """The channels that are on, each with the milestones it takes."""
    out: dict[str, frozenset[str]] = {}
    if config.pagerduty.enabled:
        out[PAGERDUTY] = frozenset(config.pagerduty.notes)
    if config.grafana.enabled and config.grafana.dashboard_uids:
        out[GRAFANA] = GRAFANA_MILESTONES
    return out


MESSAGE_SUMMARY_ROLES = ("summary", "summary_edit")  # the Slack thread's summary: not a stakeholder update of its own


ADOPTED_KEY = "_id"  # an event adopted from the shared incident carries its global id (incident.shared_sync.ID_KEY)


def milestone(event: Event, before: Incident | None, after: Incident | None) -> tuple[str, frozenset[str]] | None:
    """The milestone an event is, and the channels that take it (None: not
    one); ``before`` and ``after`` are the incident folded up to the event
    and with it. The outbox and the postmortem's page timeline both ask this."""
    both = frozenset({PAGERDUTY, GRAFANA})
    kind = event.kind
    if kind == EventKind.INCIDENT_DECLARED and before is None and after is not None:
        return "declared", both
    if kind in (EventKind.SEVERITY_CHANGED, EventKind.SEVERITY_SUGGESTED):
        changed = before is not None and after is not None and after.severity != before.severity
        if changed:
            return "severity", both
        # the responder accepting the severity in force: a note for the page, no mark on the graphs
        return ("severity", frozenset({PAGERDUTY})) if kind == EventKind.SEVERITY_CHANGED else None
    if kind == EventKind.BRANCH_CHANGED and event.data.get("from"):  # (the first branch is part of the declaration)
        return "branch", frozenset({PAGERDUTY})
    if kind == EventKind.ACTION_APPLIED:
        return "action", both
    if kind == EventKind.SYMPTOM_ENDED:
        return "action", frozenset({PAGERDUTY})  # applied and verified: the symptom ended
    if kind == EventKind.MESSAGE_SENT and event.data.get("role") not in MESSAGE_SUMMARY_ROLES:
        return "update", frozenset({PAGERDUTY})
    if kind == EventKind.STATUS_CHANGED and event.data.get("to") == Status.RESOLVED:
        return "resolved", both
    if kind == EventKind.NOTE and isinstance(event.data.get(NOTE_FOR_PAGE), str) and isinstance(event.data.get("text"), str):
        return "note", frozenset({PAGERDUTY})  # a responder's note for a page (n in the pages view): always sent
    return None


def _float(value: object) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _denial(event: Event) -> tuple[str, str] | None:
    """(reason, plan title) of an ``action_failed`` that was a permission refusal."""
    d = event.data
    for part in ("blocked", "failure"):
        got = d.get(part)
        if isinstance(got, Mapping) and got.get("kind") == "forbidden":
            title = d.get("title")
            return str(got.get("message") or event.summary), str(title) if isinstance(title, str) else event.summary
    return None


def read(events: Iterable[Event], config: Config) -> PageState:
    """Fold the timeline (oldest first) into what it says about the page and the outbox."""
    on = channels(config)
    incident: Incident | None = None
    milestones: dict[tuple[int, str], Pending] = {}
    sent_keys: set[tuple[int, str]] = set()
    link: dict[str, Any] = {}
    acked = resolved = None
    escalations: list[Escalation] = []
    denied: tuple[str, str] | None = None
    for event in events:
        before, incident = incident, apply(incident, event)
        kind, d = event.kind, event.data
        # an event adopted from another responder's cockpit (issue 17: data._id) is that cockpit's to send, and
        # its milestone_sent names that cockpit's seqs: neither is this outbox's
        adopted = ADOPTED_KEY in d
        found = None if adopted else milestone(event, before, incident)
        if found is not None:
            name, takers = found
            for channel in takers & on.keys():
                if name in on[channel] or name == "note":
                    text, page = str(d.get("text", "")), str(d.get(NOTE_FOR_PAGE, ""))
                    milestones[(event.seq, channel)] = Pending(event.seq, event.at, name, channel, event.summary, text, page)
        if kind == EventKind.MILESTONE_SENT and not adopted:
            seq, sent_to = _int(d.get("source_seq")), d.get("channel")
            if seq is not None and isinstance(sent_to, str):
                sent_keys.add((seq, sent_to))
        elif kind == EventKind.PAGE_LINKED and isinstance(d.get("page_id"), str) and d["page_id"]:
            link = dict(d)
            acked = resolved = None
        elif kind == EventKind.PAGE_ACKNOWLEDGED and link and d.get("page_id") == link.get("page_id") and acked is None:
            acked = _float(d.get("acknowledged_at")) or event.at
        elif kind == EventKind.PAGE_RESOLVED and link and d.get("page_id") == link.get("page_id"):
            resolved = _float(d.get("resolved_at")) or event.at
        elif kind == EventKind.PAGE_ESCALATED:
            escalations.append(
                Escalation(
                    event.at, str(d.get("how", "")), str(d.get("target", "")), str(d.get("dedup_key", "")), str(d.get("reason", "")).strip()
                )
            )
        elif kind == EventKind.ACTION_FAILED and (got := _denial(event)) is not None:
            denied = got
    pending = tuple(p for key, p in milestones.items() if key not in sent_keys)
    sent: dict[str, int] = {}
    for _seq, channel in sent_keys:
        sent[channel] = sent.get(channel, 0) + 1
    number = _int(link.get("number"))
    return PageState(
        incident_id=incident.id if incident is not None else None,
        incident=incident,
        page_id=str(link["page_id"]) if link.get("page_id") else None,
        number=number,
        title=str(link.get("title", "")),
        html_url=str(link.get("html_url", "")),
        triggered_at=_float(link.get("triggered_at")),
        acknowledged_at=acked,
        resolved_at=resolved,
        escalations=tuple(escalations),
        pending=pending,
        sent=sent,
        denied=denied,
    )


# -- what the poll shows ---------------------------------------------------------------


def epoch(when: datetime | None) -> float | None:
    return None if when is None else when.timestamp()


def ours(snapshot: PagerDutySnapshot | None) -> tuple[PagerDutyIncident, ...]:
    """The pages of our services (not the escalations the cockpit itself raised), newest first."""
    if snapshot is None:
        return ()
    return tuple(i for i in snapshot.incidents if not (i.incident_key or "").startswith(DEDUP_PREFIX))


def to_link(snapshot: PagerDutySnapshot | None) -> PagerDutyIncident | None:
    """The page a declaration links: the newest open page of our services."""
    pages = ours(snapshot)
    return pages[0] if pages else None


def start_of(page: PagerDutyIncident, now: float) -> float | None:
    """The page's start time, when the declaration should take it (not in the
    future, not older than ``TAKE_START_WITHIN``); else None (declared now)."""
    at = epoch(page.created_at)
    if at is None or at > now or now - at > TAKE_START_WITHIN:
        return None
    return at


def link_event(page: PagerDutyIncident) -> tuple[str, dict[str, Any]]:
    """(summary, data) of the ``page_linked`` event."""
    at = epoch(page.created_at)
    when = f" (triggered {iso_utc(at)})" if at is not None else ""
    summary = f'Linked to PagerDuty #{page.number} "{one_line(page.title)}"{when}'
    data = {
        "page_id": page.id,
        "number": page.number,
        "title": page.title,
        "service": page.service,
        "urgency": page.urgency,
        "status": page.status,
        "html_url": page.html_url,
        "triggered_at": at,
    }
    return summary, data


def linking(page: PagerDutyIncident, now: float) -> list[tuple[EventKind, str, dict[str, Any]]]:
    """The events that link ``page``: ``page_linked``, and ``page_acknowledged`` when it is acknowledged already
    (the declaration's link and the view's ``l`` alike)."""
    events = [(EventKind.PAGE_LINKED, *link_event(page))]
    if page.status == "acknowledged":
        events.append((EventKind.PAGE_ACKNOWLEDGED, *acknowledged_event(page, now)))
    return events


def seen_changes(state: PageState, snapshot: PagerDutySnapshot, now: float) -> list[tuple[EventKind, str, dict[str, Any]]]:
    """What the poll shows of the linked page that the timeline does not hold
    yet: acknowledged elsewhere (on the phone)."""
    if not state.linked or state.acknowledged_at is not None:
        return []
    page = next((i for i in snapshot.incidents if i.id == state.page_id), None)
    if page is None or page.status != "acknowledged":
        return []
    at = epoch(page.acknowledged_at) or now
    who = f" by {', '.join(page.assignees)}" if page.assignees else ""
    summary = f"PagerDuty {state.label()} acknowledged on PagerDuty{who}"
    return [(EventKind.PAGE_ACKNOWLEDGED, summary, {"page_id": page.id, "number": page.number, "acknowledged_at": at, "by": "pagerduty"})]


def acknowledged_event(page: PagerDutyIncident, now: float) -> tuple[str, dict[str, Any]]:
    at = epoch(page.acknowledged_at) or now
    return (
        f"PagerDuty #{page.number} acknowledged from the cockpit",
        {"page_id": page.id, "number": page.number, "acknowledged_at": at, "by": "cockpit"},
    )


def gone_from_the_list(state: PageState, snapshot: PagerDutySnapshot) -> bool:
    """The linked page, open as far as the timeline knows, is no longer among the open pages: resolved
    elsewhere (or out of the configured services) — worth reading its log once."""
    return state.linked and state.resolved_at is None and all(i.id != state.page_id for i in snapshot.incidents)


def resolved_elsewhere_event(state: PageState, resolved_at: float) -> tuple[str, dict[str, Any]]:
    return (
        f"PagerDuty {state.label()} resolved on PagerDuty",
        {"page_id": state.page_id, "number": state.number, "resolved_at": resolved_at, "by": "pagerduty"},
    )


def resolved_event(page_id: str, number: int | None, now: float) -> tuple[str, dict[str, Any]]:
    label = f"#{number}" if number is not None else page_id
    return f"PagerDuty {label} resolved from the cockpit", {"page_id": page_id, "number": number, "resolved_at": now, "by": "cockpit"}


def urgency_for(config: Config, severity: str) -> str:
    """The page's urgency for a severity (``pagerduty.p1_urgency`` … ``p4_urgency``)."""
    pd = config.pagerduty
    return {"P1": pd.p1_urgency, "P2": pd.p2_urgency, "P3": pd.p3_urgency, "P4": pd.p4_urgency}.get(str(severity), pd.p1_urgency)


def urgency_change(state: PageState, snapshot: PagerDutySnapshot, config: Config) -> tuple[PagerDutyIncident, str] | None:
    """The linked page and the urgency it should have, when the severity in force maps to another one."""
    if not state.linked or state.incident is None or state.resolved_at is not None:
        return None
    page = next((i for i in snapshot.incidents if i.id == state.page_id), None)
    want = urgency_for(config, state.incident.severity)
    return (page, want) if page is not None and page.urgency != want else None


# -- the escalation -----------------------------------------------------------------------


def dedup_key(incident_id: str | None, now: float) -> str:
    """``clay-cockpit/<incident id>`` (PagerDuty keeps one alert per key: a second escalation adds to it)."""
    return DEDUP_PREFIX + (incident_id or f"no-incident-{int(now)}")


def escalation_payload(state: PageState, reason: str, plan: str, config: Config, now: float) -> tuple[str, str, dict[str, str]]:
    """(dedup key, summary, details) of the Events API v2 trigger."""
    key = dedup_key(state.incident_id, now)
    who = state.incident_id or "no incident declared"
    summary = one_line(f"clay-cockpit {who}: {reason}")[:MAX_SUMMARY]
    details = {
        "incident": who,
        "reason": reason,
        "failed plan": plan or "none (escalated by the responder)",
        "namespace": f"{config.kube.context or 'current context'}/{config.kube.namespace}",
        "deployment": ", ".join(config.kube.deployments),
    }
    if state.incident is not None:
        details["severity"] = str(state.incident.severity)
        details["status"] = str(state.incident.status)
    if state.linked:
        details["page"] = f"PagerDuty {state.label()} {state.html_url}".strip()
    return key, summary, details


def escalated_event(how: str, target: str, key: str, reason: str, plan: str, page_id: str = "") -> tuple[str, dict[str, Any]]:
    via = "paged through the Events API" if how == "events" else f"reassigned to escalation policy {target}"
    summary = f"Escalated: {via} — {one_line(reason)}"
    return summary, {"page_id": page_id, "number": None, "how": how, "target": target, "dedup_key": key, "reason": reason, "plan": plan}


# -- sending the outbox (a worker thread) ---------------------------------------------------


def note_text(p: Pending, incident_id: str | None) -> str:
    if p.milestone == "note" and p.text:
        return p.text  # a responder's own words, as typed
    return f"[clay-cockpit {incident_id or ''}] {p.milestone}: {p.summary}".replace("[clay-cockpit ]", "[clay-cockpit]")


def page_note_event(page: PagerDutyIncident, text: str) -> tuple[str, dict[str, Any]]:
    """(summary, data) of a responder's note for a page: on the timeline first, sent through the outbox."""
    return f"Note for PagerDuty #{page.number}: {text}", {NOTE_FOR_PAGE: page.id, "number": page.number, "text": text}


def send(p: Pending, state: PageState, pagerduty: Any, grafana: Any) -> tuple[str, ...] | SourceError | None:
    """Send one milestone (blocking). The ids it made, its failure, or None
    when it cannot go yet (a PagerDuty note waits for a linked page)."""
    if p.channel == PAGERDUTY:
        target = p.page_id or state.page_id
        if pagerduty is None or not target:
            return None
        got = pagerduty.add_note(target, note_text(p, state.incident_id))
        return got if isinstance(got, SourceError) else (str(got),)
    if grafana is None:
        return None
    tags = ("clay-cockpit", state.incident_id or "no-incident", p.milestone)
    ids = grafana.annotate(f"{state.incident_id or ''} {p.milestone}: {p.summary}".strip(), tags, p.at)
    return ids if isinstance(ids, SourceError) else tuple(str(i) for i in ids)


def sent_event(p: Pending, ids: Sequence[str]) -> tuple[str, dict[str, Any]]:
    what = "note" if p.channel == PAGERDUTY else "annotation"
    summary = f"{CHANNEL_NAME[p.channel]} {what} posted: {p.milestone}"
    return summary, {"channel": p.channel, "milestone": p.milestone, "source_seq": p.seq, "ids": list(ids)[:20]}
