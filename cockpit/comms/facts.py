"""The facts a message states *now*, and the postmortem reuses: what was
done (each action with its outcome — the symptom it should end ended,
persists, or is still being followed), the impact now and at its peak (from
the same metric series the error-rate pane draws: the live ones and the
histories the evidence snapshots keep), what is being watched, and the
status customers should see.

Text helpers too: messages and documents carry whole texts (:func:`flat`);
where a limit is real (a Slack block, a table cell) :func:`fit` cuts at a
word boundary with a visible marker.

Pure: reads an :class:`~clay_cockpit.incident.lifecycle.Incident`, timeline events and
(optionally) the live :class:`~clay_cockpit.signals.Signals`; no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from clay_cockpit.incident.lifecycle import Incident, Status
from clay_cockpit.incident.metrics_history import SeriesBook, number_text
from clay_cockpit.incident.timeline import Event, EventKind
from clay_cockpit.signals import Signals
from clay_cockpit.triage.evidence import MIN_RATE

CUT = " […]"  # where a real length limit cut a text
ACTION_KINDS = (
    EventKind.ACTION_PLANNED,
    EventKind.ACTION_APPLIED,
    EventKind.ACTION_VERIFIED,
    EventKind.ACTION_FAILED,
    EventKind.SYMPTOM_ENDED,
    EventKind.SYMPTOM_PERSISTS,
)
_PREFIXES = ("Confirmed: ", "Applied: ", "Planned: ", "Plan: ", "Failed: ")


# --------------------------------------------------------------------------
# Text


def flat(text: object) -> str:
    """One line, whole: runs of whitespace (newlines too) become one space."""
    return " ".join(str(text).split())


def fit(text: object, limit: int) -> str:
    """``text`` on one line, whole when it fits in ``limit`` characters; else
    cut at the last word boundary before the limit, ending in a visible
    `` […]``. Text without spaces (CJK, a long token) is cut at the limit."""
    s = flat(text)
    if len(s) <= limit:
        return s
    room = max(1, limit - len(CUT))
    head = s[:room]
    space = max(head.rfind(" "), head.rfind("\n"))
    if space >= room * 0.6:
        head = head[:space]
    return head.rstrip() + CUT


def clock_time(at: float) -> str:
    """``14:05 UTC``."""
    return datetime.fromtimestamp(at, UTC).strftime("%H:%M UTC")


def second_time(at: float) -> str:
    """``14:05:09 UTC``: for a moment a responder will compare with a graph."""
    return datetime.fromtimestamp(at, UTC).strftime("%H:%M:%S UTC")


def book_of(events: Iterable[Event], signals: Signals | None = None, *, speed: float | None = None) -> SeriesBook:
    """The error-rate series of the incident: the evidence snapshots' and the live ones."""
    book = SeriesBook(speed_hint=speed)
    for ev in events:
        if ev.kind == EventKind.EVIDENCE_SNAPSHOT:
            book.add_evidence(ev.data, ev.at)
    if signals is not None and signals.metrics.value is not None and not signals.metrics.stale:
        book.add_metrics(signals.metrics.value, signals.metrics.updated_at or signals.at)
    return book


# --------------------------------------------------------------------------
# What was done: each action with its outcome


@dataclass(frozen=True)
class Outcome:
    """One remediation action (its events share a plan id) and where it got to."""

    key: str
    title: str
    runbook: str  # the runbook ActionId value, "" if unknown
    started_at: float
    at: float  # its newest event
    state: str  # confirmed | applied | in_place | failed | ended | persists
    summary: str  # the newest event's summary, whole
    symptom: str = ""  # the symptom's words ("401s"), when followed
    ended_at: float | None = None
    carries: tuple[str, ...] = ()  # other runbook actions it carries out (an update_key's restart)

    @property
    def worked(self) -> bool:
        return self.state == "ended"

    def line(self) -> str:
        """``15:06 UTC — Enable request queuing: worked — Mitigated: 429s stopped at …``."""
        when = clock_time(self.started_at)
        what = {
            "confirmed": "confirmed, not applied yet",
            "applied": "applied, taking effect",
            "in_place": f"in place ({self.summary}); following whether {self.symptom or 'the errors'} stop"
            if self.summary
            else f"in place; following whether {self.symptom or 'the errors'} stop",
            "failed": f"failed — {self.summary}",
            "ended": f"worked — {self.summary}",
            "persists": f"did not work — {self.summary}",
        }[self.state]
        return f"{when} — {self.title}: {what}"


def action_key(data: Mapping[str, Any]) -> str:
    """What ties an action's planned/applied/verified/symptom events together."""
    for key in ("action_id", "run_id", "plan_id", "id", "action"):
        value = data.get(key)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
            return str(value)
    return ""


def _title(ev: Event) -> str:
    t = ev.data.get("title")
    if isinstance(t, str) and t.strip():
        return flat(t)
    s = flat(ev.summary)
    for p in _PREFIXES:
        s = s.removeprefix(p)
    return re.sub(r" \((?:name typed|key pressed|confirmed)\)$", "", s).split(": done — ")[0]


def outcomes(events: Iterable[Event]) -> list[Outcome]:
    """Every action in the timeline, in the order they started."""
    got: dict[str, Outcome] = {}
    for ev in events:
        if ev.kind not in ACTION_KINDS:
            continue
        key = action_key(ev.data) or f"{ev.summary}#{ev.seq}"
        old = got.get(key)
        title = old.title if old is not None else _title(ev)
        runbook = str(ev.data.get("runbook") or ev.data.get("action") or (old.runbook if old else "") or "")
        started = old.started_at if old is not None else ev.at
        symptom = str(ev.data.get("label") or (old.symptom if old else "") or "")
        if ev.kind == EventKind.ACTION_PLANNED:
            state, summary = "confirmed", ""
        elif ev.kind == EventKind.ACTION_APPLIED:
            state, summary = "applied", ""
        elif ev.kind == EventKind.ACTION_VERIFIED:
            ver = ev.data.get("verification")
            summary = flat(ver.get("summary")) if isinstance(ver, Mapping) and ver.get("summary") else flat(ev.summary)
            state = "in_place"
        elif ev.kind == EventKind.ACTION_FAILED:
            fail = ev.data.get("failure")
            summary = flat(fail.get("message")) if isinstance(fail, Mapping) and fail.get("message") else flat(ev.summary)
            state = "failed"
        elif ev.kind == EventKind.SYMPTOM_ENDED:
            state, summary = "ended", flat(ev.summary)
        else:
            state, summary = "persists", flat(ev.summary)
        if old is not None and old.state in ("ended", "persists") and state in ("confirmed", "applied", "in_place"):
            continue  # a late rollout event does not undo what the symptom showed
        ended = ev.data.get("ended_at") if state == "ended" else None
        carries = tuple(str(x) for x in ev.data.get("carries") or () if isinstance(x, str)) or (old.carries if old else ())
        got[key] = Outcome(
            key,
            title,
            runbook,
            started,
            ev.at,
            state,
            summary,
            symptom,
            float(ended) if isinstance(ended, (int, float)) and not isinstance(ended, bool) else (ev.at if state == "ended" else None),
            carries,
        )
    return list(got.values())


# --------------------------------------------------------------------------
# The facts of a message


@dataclass(frozen=True)
class Facts:
    impact_now: str
    impact_peak: str
    impact: str  # both, for the template's *Impact:* line
    current_action: str
    done: tuple[str, ...]  # one line per action (with its outcome) and per step-3 item ticked by hand
    watching: tuple[str, ...]
    external_status: Status  # the status page's default status
    digest: tuple[tuple[str, str], ...]  # (what, hash) of the facts that make an edited draft out of date


FACT_NAMES = {
    "severity": "the severity",
    "status": "the incident status",
    "page_status": "the status customers should see",
    "branch": "the decision-tree branch",
    "done": "what was done",
    "impact": "the impact",
    "clay": "Clay's status page",
}


def external_status(incident: Incident, done: Sequence[Outcome]) -> Status:
    """The status page status that follows the incident: resolved when it
    is; monitoring once a fix is verified by its symptom (or the responder
    set monitoring); identified when the responder said so; else investigating."""
    status = Status(incident.status)
    if status in (Status.RESOLVED, Status.MONITORING):
        return status
    last = next((o for o in reversed(done) if o.state in ("ended", "persists")), None)
    if last is not None and last.state == "ended":
        return Status.MONITORING
    return status


def _impact_title(a: Mapping[str, Any]) -> str:
    findings = [f for f in a.get("findings") or () if isinstance(f, Mapping)]
    title = findings[0].get("title") if findings else None
    return flat(title) if isinstance(title, str) and title.strip() else ""


RATE_LAG = 120.0  # seconds a windowed error rate (Prometheus' 1-minute rate, scraped) may go on showing errors that ended


def impact_texts(
    a: Mapping[str, Any], cause: Mapping[str, Any], book: SeriesBook, *, signals_live: bool, ended: Outcome | None = None
) -> tuple[str, str, str]:
    """(now, worst, the whole ``impact`` line): the Clay error rates now
    and at their peak (the series the error-rate pane draws) when there
    are any, else triage's words for now and for the worst recorded.
    ``ended``: the newest action whose symptom ended (the logs see it in
    seconds): while the 1-minute rate still shows those errors, now says
    both, never "the most so far". Clay errors whose peak stayed below
    triage's ``MIN_RATE`` are background: the impact is triage's words
    (an incident of our own infrastructure), never "Clay calls failed"."""
    branch = str(a.get("branch") or "")
    latest = book.latest()
    peak = book.peak()
    # Clay errors that never reached MIN_RATE are background (triage's noise), not this incident's impact
    clay_impact = peak is not None and peak.errors >= MIN_RATE
    if latest is not None:
        when = "" if signals_live else f" at {clock_time(latest.at)}"  # (the newest recorded, not live)
        now = latest.text() + when
        if (latest.errors <= 0 or not clay_impact) and branch == "infrastructure" and _impact_title(a):
            now = f"{_impact_title(a)}; {now}"  # (our own infrastructure: no Clay errors to speak of, yet an impact)
        lagging = (
            clay_impact and ended is not None and ended.ended_at is not None and latest.errors > 0 and latest.at - ended.ended_at < RATE_LAG
        )
        if lagging and ended is not None and ended.ended_at is not None:
            now = (
                f"{ended.symptom or 'the errors'} ended at {second_time(ended.ended_at)} (the logs); "
                f"the 1-minute error rate still shows {now}"
            )
            worst = f"{clock_time(peak.at)}: {peak.text(past=True)}" if peak is not None else ""
            return now, worst or now, f"{now}; the most errors were at {worst}" if worst else now
    elif branch == "healthy":
        now = "none visible now"
    else:
        now = _impact_title(a) or _impact_title(cause) or "not measured yet"
    if peak is not None and clay_impact:
        worst = f"{clock_time(peak.at)}: {peak.text(past=True)}"
        if latest is not None and latest.errors >= peak.errors:
            return now, worst, f"{now}, the most so far"
        if latest is not None and number_text(latest.errors) == number_text(peak.errors):
            return now, worst, f"{now}, as at its peak ({clock_time(peak.at)})"  # the same numbers as said
        return now, worst, f"{now}; the most errors were at {worst}"
    worst = _impact_title(cause)
    if worst and worst not in now:
        return now, worst, f"{now}; at its worst: {worst}"
    return now, worst or now, now


def message_facts(
    incident: Incident,
    events: Sequence[Event],
    a: Mapping[str, Any],
    cause: Mapping[str, Any],
    *,
    signals: Signals | None = None,
    next_steps: Sequence[str] = (),
    clay_line: str = "",
    speed: float | None = None,
) -> Facts:
    live = signals is not None and signals.metrics.value is not None and not signals.metrics.stale
    book = book_of(events, signals if live else None, speed=speed)
    done = outcomes(events)
    last = next((o for o in reversed(done) if o.state in ("ended", "persists")), None)
    now, peak, impact = impact_texts(a, cause, book, signals_live=live, ended=last if last is not None and last.worked else None)
    ext = external_status(incident, done)
    return Facts(
        impact_now=now,
        impact_peak=peak,
        impact=impact,
        current_action=_current(incident, done, next_steps),
        done=tuple(_done_lines(events, done)),
        watching=tuple(_watching(done, a, signals, clay_line)) if incident.is_open else (),
        external_status=ext,
        digest=_digest(
            {
                "severity": incident.severity.value,
                "status": str(incident.status),
                "page_status": ext.value,
                "branch": str(a.get("branch") or incident.branch or ""),
                "done": "|".join(f"{o.key}:{o.state}" for o in done),
                "impact": "none"
                if ((latest := book.latest()) is not None and latest.errors <= 0) or a.get("branch") == "healthy"
                else "some",
                "clay": re.sub(r"\d", "", clay_line),
            }
        ),
    )


def _current(incident: Incident, done: Sequence[Outcome], next_steps: Sequence[str]) -> str:
    if incident.status == Status.RESOLVED:
        return f"none: resolved at {clock_time(incident.resolved_at)}" if incident.resolved_at else "none: resolved"
    active = [o for o in done if o.state != "confirmed"]
    last = active[-1] if active else None
    nxt = next_steps[0] if next_steps else "investigating"
    if last is not None:
        if last.state == "applied":
            return f"applying {last.title} (since {clock_time(last.at)})"
        if last.state == "in_place":
            return f"{last.title} is in place; following whether {last.symptom or 'the errors'} stop"
        if last.state == "ended":
            ended = second_time(last.ended_at) if last.ended_at else clock_time(last.at)
            return f"monitoring: {last.symptom or 'the symptom'} ended at {ended} after {last.title}"
        if last.state == "persists":
            return f"{last.title} did not work ({last.symptom or 'the symptom'} persists); next: {nxt}"
        if last.state == "failed":
            return f"{last.title} failed; next: {nxt}"
    if incident.status == Status.MONITORING:
        return "monitoring the fix"
    return nxt


def _done_lines(events: Sequence[Event], done: Sequence[Outcome]) -> list[str]:
    lines = [o.line() for o in done]
    for ev in events:  # the runbook's immediate actions a person ticked by hand
        if ev.kind == EventKind.CHECKLIST_TICKED and ev.data.get("step") == 3 and not ev.data.get("auto"):
            line = f"{clock_time(ev.at)} — {flat(ev.data.get('item') or ev.summary)} (ticked by {ev.actor})"
            if line not in lines:
                lines.append(line)
    return lines


def _watching(done: Sequence[Outcome], a: Mapping[str, Any], signals: Signals | None, clay_line: str) -> list[str]:
    out: list[str] = []
    for o in done:
        if o.state in ("applied", "in_place"):
            out.append(f"whether {o.symptom or 'the errors'} stop after {o.title} (applied {clock_time(o.started_at)})")
        elif o.state == "ended":
            ended = second_time(o.ended_at) if o.ended_at else clock_time(o.at)
            out.append(f"{o.symptom or 'the symptom'}: gone since {ended} — that it stays gone")
        elif o.state == "persists":
            out.append(f"{o.symptom or 'the symptom'}: still there after {o.title}")
    if signals is not None:
        for m in signals.in_effect:
            since = f" (since {clock_time(m.since)})" if m.since else ""
            out.append(f"in place: {flat(m.detail)}{since}")
    if clay_line and (a.get("branch") == "clay_incident" or "incident “" in clay_line):
        out.append(clay_line)
    return out


def _digest(values: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple((k, hashlib.sha256(v.encode()).hexdigest()[:10]) for k, v in values.items())


def changed(old: Iterable[tuple[str, str]] | Mapping[str, str], new: Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """The facts (their words) that differ between two digests; () when ``old`` is empty (a draft from before)."""
    before = dict(old.items() if isinstance(old, Mapping) else old)
    if not before:
        return ()
    return tuple(FACT_NAMES.get(k, k) for k, v in new if k in before and before[k] != v)
