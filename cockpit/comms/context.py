"""What the cockpit knows, as template values: severity, impact, current
action, next update time, the decision-tree branch with its reasons (and
their numbers), the actions taken — and the customer-worded values for the
status page, which carry no internal names, hosts or numbers.

Pure: reads an :class:`~clay_cockpit.incident.lifecycle.Incident`, the timeline's events and
(optionally) triage's assessment; no I/O, no clock reads.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from clay_cockpit.comms.facts import Facts, clock_time, flat, message_facts, outcomes
from clay_cockpit.incident.lifecycle import Incident, Status
from clay_cockpit.incident.timeline import Event, EventKind
from clay_cockpit.runbook import (
    ACTION_TEXT,
    ITEMS,
    SEVERITIES,
    ActionId,
    Branch,
    ErrorClass,
    Severity,
)
from clay_cockpit.runbook import (
    BRANCH_LABEL as RUNBOOK_BRANCH_LABEL,
)
from clay_cockpit.signals import Signals

__all__ = [
    "clock_time",  # re-exported from clay_cockpit.comms.facts
    "BULLET",
    "MAX_REASONS",
    "MAX_ACTIONS",
    "STATUS_LABEL",
    "BRANCH_LABEL",
    "assessment_dict",
    "assessment_in",
    "bullets",
    "clay_status_line",
    "clean_headline",
    "errors_in",
    "explaining",
    "external_words",
    "headline_text",
    "message_values",
    "message_values_and_facts",
    "minutes_text",
    "next_steps",
    "normalise",
    "reason_lines",
    "severity_rank",
]

BULLET = "•"
MAX_REASONS = 6
MAX_ACTIONS = 6
STATUS_LABEL = {
    Status.INVESTIGATING: "Investigating",
    Status.IDENTIFIED: "Identified",
    Status.MONITORING: "Monitoring",
    Status.RESOLVED: "Resolved",
}
BRANCH_LABEL = {b.value: label for b, label in RUNBOOK_BRANCH_LABEL.items()}  # by the branch's name, as the incident records it
_ACTION_BY_TEXT = {text: aid.value for aid, text in ACTION_TEXT.items()}
_CODE = re.compile(r"\b([45]\d\d)\b")


# --------------------------------------------------------------------------
# Formatting


def minutes_text(seconds: float) -> str:
    """``45 s``, ``12 min``, ``2 h 05 min``."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    m = (s + 30) // 60
    if m < 60:
        return f"{m} min"
    return f"{m // 60} h {m % 60:02d} min"


def bullets(lines: Iterable[str], empty: str) -> str:
    items = [f"{BULLET} {line}" for line in lines if line]
    return "\n".join(items) if items else f"{BULLET} {empty}"


# --------------------------------------------------------------------------
# Reading the timeline


def assessment_in(data: Mapping[str, Any]) -> dict[str, Any] | None:
    """The assessment an event carries, normalised: under ``assessment``
    (the recorder's evidence snapshots) or at the top level (the recorder's
    branch changes carry a brief; ``Assessment.to_dict()`` the full one)."""
    inner = data.get("assessment")
    candidate = inner if isinstance(inner, Mapping) else data
    if not isinstance(candidate.get("findings"), list) and not isinstance(candidate.get("headline"), str):
        return None
    return normalise(candidate)


def normalise(a: Mapping[str, Any]) -> dict[str, Any]:
    """An assessment dict with ``findings`` as dicts (label, title, reasons,
    actions, errors), whether it is ``Assessment.to_dict()`` or the
    recorder's brief (findings as lines; the top finding's reasons and the
    actions as texts)."""
    raw_findings = a.get("findings")
    findings = raw_findings if isinstance(raw_findings, list) else []
    if any(isinstance(f, Mapping) for f in findings):
        return dict(a)
    lines = [f for f in findings if isinstance(f, str)]
    reasons = [r for r in a.get("reasons") or () if isinstance(r, str)]
    actions = [t for t in a.get("actions") or () if isinstance(t, str)]
    done = {d.get("id") for d in a.get("done") or () if isinstance(d, Mapping)}  # in effect (the brief since issue 10)
    todo = [t for t in a.get("todo") or () if isinstance(t, str)] if isinstance(a.get("todo"), list) else None
    headline = str(a.get("headline") or "")
    out: list[dict[str, Any]] = []
    for i, line in enumerate(lines or [headline]):
        label, _, title = clean_headline(line).partition(": ")
        out.append(
            {
                "label": label if title else "",
                "title": title or label,
                "reasons": [{"text": r} for r in reasons] if i == 0 else [],
                "actions": [
                    {
                        "id": _ACTION_BY_TEXT.get(t, ""),
                        "text": t,
                        "done": _ACTION_BY_TEXT.get(t) in done or (todo is not None and t not in todo),
                    }
                    for t in actions
                ]
                if i == 0
                else [],
                "errors": sorted(errors_in([line, *reasons] if i == 0 else [line])),
            }
        )
    return {**a, "findings": out}


def errors_in(texts: Iterable[str]) -> set[str]:
    """The Clay error classes named by the status codes in ``texts``."""
    found: set[str] = set()
    for text in texts:
        for code in _CODE.findall(text):
            cls = ErrorClass.of(int(code))
            if cls is not None:
                found.add(cls.value)
    return found


def assessment_dict(assessment: Any, events: Sequence[Event]) -> dict[str, Any]:
    """Triage's assessment as a normalised dict: the live one when given (an
    ``Assessment`` or its ``to_dict()``), else the newest one recorded with a
    branch change or an evidence snapshot, else ``{}``."""
    if assessment is not None:
        to_dict = getattr(assessment, "to_dict", None)
        got = to_dict() if callable(to_dict) else assessment
        if isinstance(got, Mapping):
            return normalise(got)
    for ev in reversed(events):
        if ev.kind in (EventKind.BRANCH_CHANGED, EventKind.EVIDENCE_SNAPSHOT):
            found = assessment_in(ev.data)
            if found is not None:
                return found
    return {}


_SEVERITY = re.compile(r" — (P[1-4])\b")


def severity_rank(a: Mapping[str, Any]) -> int:
    """0 for P1 … 3 for P4; 4 without a severity (healthy, unknown); 5 for no assessment."""
    if not a:
        return 5
    sev = a.get("severity")
    if not isinstance(sev, str):
        m = _SEVERITY.search(str(a.get("headline") or ""))
        sev = m.group(1) if m else None
    return int(sev[1]) - 1 if isinstance(sev, str) and re.fullmatch(r"P[1-4]", sev) else 4


def explaining(events: Iterable[Event]) -> dict[str, Any]:
    """The recorded assessment that explains the incident: the worst
    severity seen, the newest among equals (so a final "healthy" does not
    replace the cause)."""
    best: dict[str, Any] = {}
    for ev in events:
        if ev.kind in (EventKind.BRANCH_CHANGED, EventKind.EVIDENCE_SNAPSHOT):
            found = assessment_in(ev.data)
            if found is not None and severity_rank(found) <= severity_rank(best):
                best = found
    return best


def _findings(a: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = a.get("findings")
    return [f for f in found if isinstance(f, Mapping)] if isinstance(found, list) else []


def reason_lines(a: Mapping[str, Any], limit: int = MAX_REASONS) -> list[str]:
    """The findings' reasons, with their numbers; the finding's label in
    front when there is more than one finding."""
    findings = [f for f in _findings(a) if f.get("branch") not in ("healthy",)] or _findings(a)
    out: list[str] = []
    for f in findings:
        lead = f"{f.get('label')}: " if len(findings) > 1 and f.get("label") else ""
        raw_reasons = f.get("reasons")
        reasons = raw_reasons if isinstance(raw_reasons, list) else []
        for r in reasons:
            text = r.get("text") if isinstance(r, Mapping) else None
            if isinstance(text, str) and text:
                out.append(flat(lead + text))
        if not reasons and isinstance(f.get("title"), str):
            out.append(flat(lead + f["title"]))
    return out[:limit]


def _newest(lines: Sequence[str], limit: int, more: str) -> list[str]:
    """The newest ``limit`` lines, saying how many older ones are left out."""
    if len(lines) <= limit:
        return list(lines)
    return [f"({len(lines) - limit + 1} {more})", *lines[-(limit - 1) :]]


def next_steps(a: Mapping[str, Any], incident: Incident, limit: int = 4, events: Sequence[Event] = ()) -> list[str]:
    """The recommended actions not done yet: their checklist item is not
    ticked, no action carrying them out is in place or worked, and triage
    does not mark them in effect."""
    done: set[ActionId | None] = {ITEMS[k].action for k in incident.ticks if k in ITEMS and ITEMS[k].action is not None}
    for o in outcomes(events):
        if o.state in ("applied", "in_place", "ended"):
            done |= {ActionId(x) for x in (o.runbook, *o.carries) if x in ActionId._value2member_map_}
    out: list[str] = []
    for f in _findings(a):
        for act in f.get("actions") or ():
            if not isinstance(act, Mapping) or not isinstance(act.get("text"), str):
                continue
            raw_id = act.get("id")
            try:
                aid = ActionId(raw_id) if isinstance(raw_id, str) else None  # (no action's id is anything but a str)
            except ValueError:
                aid = None
            if aid in done or act["text"] in out or act.get("done") or act.get("in_effect"):
                continue
            out.append(act["text"])
    return out[:limit]


def _page_words(description: str, incidents: Sequence[tuple[str, str]]) -> str:
    text = f"Clay's status page: {description or 'unknown'}"
    if incidents:
        return text + "; " + "; ".join(f"incident “{flat(name)}” ({status or '?'})" for name, status in incidents[:3])
    return text + "; no Clay incident"


def clay_status_line(events: Sequence[Event], signals: Signals | None = None) -> str:
    """What Clay's status page says: as the cockpit reads it now (live,
    not stale), else as the timeline last recorded it (an evidence snapshot
    or a Clay incident appearing, updated or resolved), whole."""
    page = signals.statuspage if signals is not None else None
    if page is not None and page.value is not None and not page.stale:
        sp = page.value
        return _page_words(sp.description or sp.indicator, [(i.name, i.status) for i in sp.incidents])
    for ev in reversed(events):
        d = ev.data
        if ev.kind in (EventKind.CLAY_INCIDENT_APPEARED, EventKind.CLAY_INCIDENT_UPDATED) and d.get("name"):
            return f"Clay's status page: incident “{flat(d['name'])}” ({d.get('status') or '?'})"
        if ev.kind == EventKind.CLAY_INCIDENT_RESOLVED and d.get("name"):
            return f"Clay's status page: incident “{flat(d['name'])}” resolved"
        if ev.kind != EventKind.EVIDENCE_SNAPSHOT or not isinstance(d.get("statuspage"), Mapping):
            continue
        sp = d["statuspage"]
        if sp.get("error") and not sp.get("description"):
            return f"Clay's status page could not be read ({flat(sp['error'])})"
        incidents = [i for i in sp.get("incidents") or () if isinstance(i, Mapping)]
        return _page_words(
            str(sp.get("description") or sp.get("indicator") or ""), [(str(i.get("name", "")), str(i.get("status", ""))) for i in incidents]
        )
    return "Clay's status page: not read yet"


# --------------------------------------------------------------------------
# The values


def clean_headline(head: str) -> str:
    """The assessment's headline without its severity suffix (messages state
    the severity in force, which may differ from triage's suggestion)."""
    for sev in Severity:
        head = head.replace(f" — {sev.value}", "")
    return head.replace(" (low confidence)", "").strip()


def headline_text(a: Mapping[str, Any], incident: Incident) -> str:
    head = a.get("headline")
    if isinstance(head, str) and head.strip():
        return clean_headline(head)
    label = BRANCH_LABEL.get(incident.branch or "", "")
    return f"{label}: Clay API incident" if label else "Clay API incident"


def message_values(
    incident: Incident,
    events: Sequence[Event],
    *,
    now: float,
    assessment: Any = None,
    signals: Signals | None = None,
    current_action: str | None = None,
    next_update_at: float | None = None,
    channel: str = "",
    status: Status | str | None = None,
    speed: float | None = None,
) -> dict[str, str]:
    """Every value a message template may use (``comms_templates.MESSAGE_VARIABLES``),
    from the facts as they are now (``signals``: the live readings, for the
    impact now and what is in place). ``status``: the status the message
    reports (the status page's may differ from the incident's). ``speed``:
    a drill's clock speed (the metrics' times run that much faster)."""
    values, _ = message_values_and_facts(
        incident,
        events,
        now=now,
        assessment=assessment,
        signals=signals,
        current_action=current_action,
        next_update_at=next_update_at,
        channel=channel,
        status=status,
        speed=speed,
    )
    return values


def message_values_and_facts(
    incident: Incident,
    events: Sequence[Event],
    *,
    now: float,
    assessment: Any = None,
    signals: Signals | None = None,
    current_action: str | None = None,
    next_update_at: float | None = None,
    channel: str = "",
    status: Status | str | None = None,
    speed: float | None = None,
) -> tuple[dict[str, str], Facts]:
    a = assessment_dict(assessment, events)
    cause = explaining(events)
    if severity_rank(a) <= severity_rank(cause):
        cause = a  # the live assessment is as bad as anything recorded: it says best what is going on
    sev = incident.severity
    level = SEVERITIES[sev]
    branch = str(a.get("branch") or incident.branch or "unknown")
    due = next_update_at if next_update_at is not None else now
    steps = next_steps(a, incident, events=events)
    clay = clay_status_line(events, signals)
    facts = message_facts(incident, events, a, cause, signals=signals, next_steps=steps, clay_line=clay, speed=speed)
    said = Status(status) if status is not None else Status(incident.status)
    title, summary, impact, nxt = external_words(sev, branch, said, due)
    values = {
        "incident_id": incident.id,
        "severity": sev.value,
        "severity_name": level.name,
        "response_target": level.response,
        "suggested_severity": incident.suggested.value,
        "status": said.value,
        "status_label": STATUS_LABEL[said],
        "declared_time": clock_time(incident.declared_at),
        "declared_by": incident.declared_by,
        "elapsed": minutes_text(now - incident.declared_at),
        "now_time": clock_time(now),
        "headline": headline_text(cause, incident),
        "branch_label": BRANCH_LABEL.get(branch, branch),
        "confidence": str(a.get("confidence") or "unknown"),
        "impact": facts.impact,
        "impact_now": facts.impact_now,
        "impact_peak": facts.impact_peak,
        "current_action": current_action or facts.current_action,
        "next_update_time": clock_time(due),
        "next_update_in": minutes_text(due - now),
        "next_update": (
            f"by {clock_time(due)} (in {minutes_text(due - now)})"
            if said != Status.RESOLVED
            else "none: the incident is resolved, this is the last update"
        ),
        "reasons": bullets(reason_lines(a), "no triage reasons recorded yet"),
        "actions_taken": bullets(
            _newest(facts.done, MAX_ACTIONS, "earlier actions are on the incident's timeline"), "no remediation applied yet"
        ),
        "watching": bullets(facts.watching, "the signals on the cockpit" if incident.is_open else "nothing more: the incident is resolved"),
        "next_steps": bullets(
            steps if incident.is_open else [], "keep watching the signals" if incident.is_open else "none: the incident is resolved"
        ),
        "clay_status": clay,
        "cannot_see": flat(a.get("cannot_see") or "all sources live"),
        "channel": channel,
        "external_title": title,
        "external_summary": summary,
        "external_impact": impact,
        "external_next": nxt,
    }
    return values, facts


# --------------------------------------------------------------------------
# Customer words (no internal names, hosts or numbers; times of day only)

_TITLE = {
    Severity.P1: "Service disruption",
    Severity.P2: "Degraded performance",
    Severity.P3: "Delays in some features",
    Severity.P4: "Minor issue under investigation",
}
_PROBLEM = {
    Severity.P1: "an issue that is preventing some features from working",
    Severity.P2: "an issue causing some requests to fail or respond slowly",
    Severity.P3: "an issue delaying some updates",
    Severity.P4: "a minor issue that we do not expect to affect you",
}
_IMPACT = {
    Severity.P1: "Some features may be unavailable.",
    Severity.P2: "Some requests may fail or take longer than usual.",
    Severity.P3: "Some updates may arrive later than usual; no data is lost.",
    Severity.P4: "We do not expect any impact on your service.",
}


def external_words(severity: Severity, branch: str, status: Status, next_at: float) -> tuple[str, str, str, str]:
    """(title, status sentence, impact sentence, next-update sentence) for customers."""
    problem = _PROBLEM[severity]
    upstream = " The cause is with one of our service providers, and we are working with them." if branch == Branch.CLAY_INCIDENT else ""
    if status == Status.INVESTIGATING:
        summary = f"We are investigating {problem}."
    elif status == Status.IDENTIFIED:
        summary = f"We have identified the cause of {problem} and are working on a fix.{upstream}"
    elif status == Status.MONITORING:
        summary = "A fix has been put in place and we are monitoring the results."
    else:
        summary = "This incident has been resolved and the service is working normally."
    if status == Status.RESOLVED:
        impact = ""
    elif status == Status.MONITORING:  # the components go back to operational with it
        impact = "Features should be working normally again."
    else:
        impact = _IMPACT[severity]
    if status == Status.RESOLVED:
        nxt = "We apologise for the disruption. Thank you for your patience."
    else:
        nxt = f"We will post another update by {clock_time(next_at)}."
    return _TITLE[severity], summary, impact, nxt
