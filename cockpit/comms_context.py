"""What the cockpit knows, as template values: severity, impact, current
action, next update time, the decision-tree branch with its reasons (and
their numbers), the actions taken — and the customer-worded values for the
status page, which carry no internal names, hosts or numbers.

Pure: reads an :class:`~cockpit.incident.Incident`, the timeline's events and
(optionally) triage's assessment; no I/O, no clock reads.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from cockpit.incident import Incident, Status
from cockpit.runbook import (
    ACTION_TEXT,
    ITEMS,
    SEVERITIES,
    ActionId,
    Branch,
    ErrorClass,
    Severity,
)
from cockpit.timeline import Event, EventKind, one_line

BULLET = "•"
MAX_REASONS = 6
MAX_ACTIONS = 6
STATUS_LABEL = {
    Status.INVESTIGATING: "Investigating", Status.IDENTIFIED: "Identified",
    Status.MONITORING: "Monitoring", Status.RESOLVED: "Resolved",
}
BRANCH_LABEL = {
    "clay_incident": "Clay incident", "credentials": "Credentials", "infrastructure": "Infrastructure",
    "monitoring_gap": "Monitoring gap", "healthy": "Healthy", "unknown": "Unknown",
}
_ACTION_BY_TEXT = {text: aid.value for aid, text in ACTION_TEXT.items()}
_CODE = re.compile(r"\b([45]\d\d)\b")
ACTION_KINDS = (EventKind.ACTION_PLANNED, EventKind.ACTION_APPLIED, EventKind.ACTION_FAILED, EventKind.ACTION_VERIFIED)


# --------------------------------------------------------------------------
# Formatting


def clock_time(at: float) -> str:
    """``14:05 UTC``: unambiguous for a team spread over time zones."""
    return datetime.fromtimestamp(at, UTC).strftime("%H:%M UTC")


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
    findings = a.get("findings") if isinstance(a.get("findings"), list) else []
    if any(isinstance(f, Mapping) for f in findings):
        return dict(a)
    lines = [f for f in findings if isinstance(f, str)]
    reasons = [r for r in a.get("reasons") or () if isinstance(r, str)]
    actions = [t for t in a.get("actions") or () if isinstance(t, str)]
    headline = str(a.get("headline") or "")
    out: list[dict[str, Any]] = []
    for i, line in enumerate(lines or [headline]):
        label, _, title = clean_headline(line).partition(": ")
        out.append({
            "label": label if title else "", "title": title or label,
            "reasons": [{"text": r} for r in reasons] if i == 0 else [],
            "actions": [{"id": _ACTION_BY_TEXT.get(t, ""), "text": t} for t in actions] if i == 0 else [],
            "errors": sorted(errors_in([line, *reasons] if i == 0 else [line])),
        })
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
        reasons = f.get("reasons") if isinstance(f.get("reasons"), list) else []
        for r in reasons:
            text = r.get("text") if isinstance(r, Mapping) else None
            if isinstance(text, str) and text:
                out.append(one_line(lead + text, 160))
        if not reasons and isinstance(f.get("title"), str):
            out.append(one_line(lead + f["title"], 160))
    return out[:limit]


def action_key(data: Mapping[str, Any]) -> str:
    """What ties an action's planned/applied/verified events together."""
    for key in ("action_id", "run_id", "plan_id", "id", "action"):
        value = data.get(key)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
            return str(value)
    return ""


def actions_taken(events: Sequence[Event], limit: int = MAX_ACTIONS) -> list[str]:
    """``14:05 UTC — <what was done>``: remediation actions applied, verified
    or failed, and the runbook's immediate actions ticked by hand; the
    newest ``limit``, oldest first."""
    lines: list[str] = []
    for ev in events:
        if ev.kind in (EventKind.ACTION_APPLIED, EventKind.ACTION_VERIFIED, EventKind.ACTION_FAILED):
            lines.append(f"{clock_time(ev.at)} — {ev.summary}")
        elif ev.kind == EventKind.CHECKLIST_TICKED and ev.data.get("step") == 3 and not ev.data.get("auto"):
            lines.append(f"{clock_time(ev.at)} — {ev.data.get('item') or ev.summary}")
    deduped = [line for i, line in enumerate(lines) if line not in lines[:i]]
    return deduped[-limit:]


def in_progress(events: Sequence[Event]) -> str:
    """The summary of an applied action not yet verified or failed, if any."""
    last: dict[str, Event] = {}
    for ev in events:
        if ev.kind in ACTION_KINDS:
            last[action_key(ev.data) or ev.summary] = ev
    pending = [ev for ev in last.values() if ev.kind == EventKind.ACTION_APPLIED]
    return pending[-1].summary.removeprefix("Applied: ") if pending else ""


def next_steps(a: Mapping[str, Any], incident: Incident, limit: int = 4) -> list[str]:
    """The recommended actions whose checklist item is not ticked yet."""
    done = {ITEMS[k].action for k in incident.ticks if k in ITEMS and ITEMS[k].action is not None}
    out: list[str] = []
    for f in _findings(a):
        for act in f.get("actions") or ():
            if not isinstance(act, Mapping) or not isinstance(act.get("text"), str):
                continue
            try:
                aid = ActionId(act.get("id"))
            except ValueError:
                aid = None
            if aid in done or act["text"] in out:
                continue
            out.append(act["text"])
    return out[:limit]


def clay_status_line(events: Sequence[Event]) -> str:
    """What Clay's status page said in the newest evidence snapshot."""
    for ev in reversed(events):
        if ev.kind != EventKind.EVIDENCE_SNAPSHOT or not isinstance(ev.data.get("statuspage"), Mapping):
            continue
        sp = ev.data["statuspage"]
        if sp.get("error") and not sp.get("description"):
            return f"Clay's status page could not be read ({one_line(str(sp['error']), 80)})"
        text = f"Clay's status page: {sp.get('description') or sp.get('indicator') or 'unknown'}"
        incidents = [i for i in sp.get("incidents") or () if isinstance(i, Mapping)]
        if incidents:
            text += f"; incident “{one_line(str(incidents[0].get('name', '')), 80)}” ({incidents[0].get('status', '?')})"
        else:
            text += "; no Clay incident"
        return text
    return "Clay's status page: not read yet"


# --------------------------------------------------------------------------
# The values


def current_action_text(a: Mapping[str, Any], incident: Incident, events: Sequence[Event]) -> str:
    pending = in_progress(events)
    if pending:
        return f"verifying: {pending}"
    if incident.status == Status.RESOLVED:
        return "none: resolved"
    if incident.status == Status.MONITORING:
        return "monitoring the fix"
    steps = next_steps(a, incident, 1)
    if steps:
        return steps[0]
    return "investigating"


def impact_text(severity: Severity, a: Mapping[str, Any]) -> str:
    level = SEVERITIES[severity]
    findings = _findings(a)
    title = findings[0].get("title") if findings else None
    return title if isinstance(title, str) and title else f"{level.name} (e.g. {level.examples})"


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
    current_action: str | None = None,
    next_update_at: float | None = None,
    channel: str = "",
) -> dict[str, str]:
    """Every value a message template may use (``comms_templates.MESSAGE_VARIABLES``)."""
    a = assessment_dict(assessment, events)
    cause = explaining(events)
    if severity_rank(a) <= severity_rank(cause):
        cause = a  # the live assessment is as bad as anything recorded: it says best what is going on
    sev = incident.severity
    level = SEVERITIES[sev]
    status = Status(incident.status)
    branch = str(a.get("branch") or incident.branch or "unknown")
    due = next_update_at if next_update_at is not None else now
    action = current_action if current_action else current_action_text(a, incident, events)
    title, summary, impact, nxt = external_words(sev, branch, status, due)
    return {
        "incident_id": incident.id,
        "severity": sev.value,
        "severity_name": level.name,
        "response_target": level.response,
        "suggested_severity": incident.suggested.value,
        "status": status.value,
        "status_label": STATUS_LABEL[status],
        "declared_time": clock_time(incident.declared_at),
        "declared_by": incident.declared_by,
        "elapsed": minutes_text(now - incident.declared_at),
        "now_time": clock_time(now),
        "headline": headline_text(cause, incident),
        "branch_label": BRANCH_LABEL.get(branch, branch),
        "confidence": str(a.get("confidence") or "unknown"),
        "impact": impact_text(sev, cause),
        "current_action": action,
        "next_update_time": clock_time(due),
        "next_update_in": minutes_text(due - now),
        "reasons": bullets(reason_lines(a), "no triage reasons recorded yet"),
        "actions_taken": bullets(actions_taken(events), "no remediation applied yet"),
        "next_steps": bullets(next_steps(a, incident), "keep watching the signals"),
        "clay_status": clay_status_line(events),
        "cannot_see": str(a.get("cannot_see") or "all sources live"),
        "channel": channel,
        "external_title": title,
        "external_summary": summary,
        "external_impact": impact,
        "external_next": nxt,
    }


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
    impact = "" if status == Status.RESOLVED else _IMPACT[severity]
    if status == Status.RESOLVED:
        nxt = "We apologise for the disruption. Thank you for your patience."
    else:
        nxt = f"We will post another update by {clock_time(next_at)}."
    return _TITLE[severity], summary, impact, nxt
