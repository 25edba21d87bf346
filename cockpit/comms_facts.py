"""The facts a message states *now*, and the postmortem reuses: what was
done (each action with its outcome — the symptom it should end ended,
persists, or is still being followed), the impact now and at its peak (from
the same metric series the error-rate pane draws: the live ones and the
histories the evidence snapshots keep), what is being watched, and the
status customers should see.

Text helpers too: messages and documents carry whole texts (:func:`flat`);
where a limit is real (a Slack block, a table cell) :func:`fit` cuts at a
word boundary with a visible marker.

Pure: reads an :class:`~cockpit.incident.Incident`, timeline events and
(optionally) the live :class:`~cockpit.signals.Signals`; no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cockpit.incident import Incident, Status
from cockpit.metrics_history import history_points
from cockpit.signals import MetricsSnapshot, Signals
from cockpit.timeline import Event, EventKind

CUT = " […]"  # where a real length limit cut a text
ERROR_CODE = re.compile(r"\b[45]\d\d\b")
MAX_SERIES = 8
MAX_POINTS = 2000  # per series
ACTION_KINDS = (EventKind.ACTION_PLANNED, EventKind.ACTION_APPLIED, EventKind.ACTION_VERIFIED, EventKind.ACTION_FAILED,
                EventKind.SYMPTOM_ENDED, EventKind.SYMPTOM_PERSISTS)
_PREFIXES = ("Confirmed: ", "Applied: ", "Planned: ", "Plan: ", "Failed: ")


# --------------------------------------------------------------------------
# Text


def flat(text: object) -> str:
    """One line, whole: runs of whitespace (newlines too) become one space."""
    return " ".join(str(text).split())


def fit(text: object, limit: int, *, one_line: bool = True) -> str:
    """``text`` whole when it fits in ``limit`` characters; else cut at the
    last word boundary before the limit, ending in a visible `` […]``.
    Text without spaces (CJK, a long token) is cut at the limit."""
    s = flat(text) if one_line else str(text)
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


def number_text(x: float) -> str:
    """``41``, ``1.7``, ``0.07`` (as the panes say them)."""
    if x >= 10:
        return f"{x:.0f}"
    if x >= 0.1:
        return f"{x:.1f}"
    return f"{x:.2f}" if x > 0 else "0"


def rate_text(per_s: float) -> str:
    return f"{number_text(per_s)}/s"


def pct_text(share: float) -> str:
    return "<1%" if 0 < share < 0.01 else f"{min(share, 1.0) * 100:.0f}%"


# --------------------------------------------------------------------------
# The error-rate series: live, and as the evidence snapshots kept them


@dataclass
class SeriesBook:
    """Per-second series by label, merged from evidence snapshots (their
    instant values and, since issue 10, the sparkline histories) and the
    live metrics. Bounded: :data:`MAX_SERIES` series of :data:`MAX_POINTS`."""

    points: dict[str, dict[float, float]] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    queries: dict[str, str] = field(default_factory=dict)
    snapshots: int = 0  # evidence snapshots read

    def add(self, label: str, unit: str, query: str, pts: Iterable[tuple[float, float]]) -> None:
        if label not in self.points:
            if len(self.points) >= MAX_SERIES:
                return
            self.points[label] = {}
            self.units[label] = unit
        if query and not self.queries.get(label):
            self.queries[label] = query
        series = self.points[label]
        for t, v in pts:
            series[float(t)] = float(v)
        if len(series) > MAX_POINTS * 2:
            keep = sorted(series)[-MAX_POINTS:]
            self.points[label] = {t: series[t] for t in keep}

    def add_evidence(self, data: Mapping[str, Any], at: float) -> None:
        """One evidence snapshot's metrics: the instant values at the
        moment the signals were read, and the history when it has one."""
        self.snapshots += 1
        metrics = data.get("metrics") if isinstance(data.get("metrics"), Mapping) else {}
        when = data.get("signals_at")
        t = float(when) if isinstance(when, (int, float)) and not isinstance(when, bool) and when else at
        values = metrics.get("values") if isinstance(metrics.get("values"), Mapping) else {}
        history = metrics.get("history") if isinstance(metrics.get("history"), Mapping) else {}
        for label, pair in values.items():
            if not isinstance(pair, list) or len(pair) != 2 or not isinstance(pair[0], (int, float)) or isinstance(pair[0], bool):
                continue
            unit = str(pair[1] or "")
            if unit.endswith("/s"):  # the history ends at the instant value (one evaluation time, the server's clock)
                query, pts = history_points(history.get(label))
                self.add(str(label), unit, query, pts or [(t, float(pair[0]))])
        for label, entry in history.items():  # a history without an instant value (none when it was read)
            if label not in values:
                query, pts = history_points(entry)
                if pts:
                    self.add(str(label), "req/s", query, pts)

    def add_metrics(self, m: MetricsSnapshot, at: float) -> None:
        """The live metrics: the points each sparkline draws and its current value."""
        for s in m.series:
            if s.unit.endswith("/s"):
                pts = list(s.points) or ([(at, s.current)] if s.current is not None else [])
                self.add(s.label or s.key, s.unit, s.query, pts)

    def series(self, label: str) -> list[tuple[float, float]]:
        return sorted(self.points.get(label, {}).items())

    def is_error(self, label: str) -> bool:
        q = self.queries.get(label, "")
        return q == "errors_by_code" or (q in ("", "errors_by_code") and bool(ERROR_CODE.search(label)))

    def is_requests(self, label: str) -> bool:
        q = self.queries.get(label, "")
        return q == "request_rate" or (not q and not self.is_error(label) and "request" in label.lower())

    def error_series(self) -> dict[str, list[tuple[float, float]]]:
        """The error-rate series (labels naming a 4xx/5xx code), else every per-second series; oldest first."""
        errors = {k: self.series(k) for k in self.points if self.is_error(k)}
        return errors or {k: self.series(k) for k in self.points}

    def totals(self) -> list[tuple[float, float, float | None]]:
        """(time, Clay errors/s summed over the codes, Clay calls/s or None) at each time an error series has a point."""
        errs = [k for k in self.points if self.is_error(k)]
        reqs = [k for k in self.points if self.is_requests(k)]
        if not errs:
            return []
        times = sorted({t for k in errs for t in self.points[k]})
        out = []
        for t in times:
            e = sum(self.points[k].get(t, 0.0) for k in errs)
            r = [self.points[k][t] for k in reqs if t in self.points[k]]
            out.append((t, e, sum(r) if r else None))
        return out

    def peak(self, since: float | None = None) -> Moment | None:
        """The moment the summed Clay error rate was highest (from ``since``)."""
        best: Moment | None = None
        for t, e, r in self.totals():
            if since is not None and t < since:
                continue
            if best is None or e > best.errors:
                best = Moment(t, e, r)
        return best if best is not None and best.errors > 0 else None

    def latest(self) -> Moment | None:
        got = self.totals()
        return Moment(*got[-1]) if got else None


@dataclass(frozen=True)
class Moment:
    at: float
    errors: float  # Clay errors/s, all codes
    calls: float | None  # Clay calls/s

    def text(self, *, past: bool = False) -> str:
        """``87% of Clay calls fail (34 of 39/s)``, ``Clay errors at 3.2/s``, ``no Clay errors (41 calls/s)``."""
        if self.errors <= 0:
            return "no Clay errors" + (f" ({number_text(self.calls)} calls/s)" if self.calls else "")
        if self.calls:
            verb = "failed" if past else "fail"
            return f"{pct_text(self.errors / self.calls)} of Clay calls {verb} ({number_text(self.errors)} of {number_text(self.calls)}/s)"
        return f"Clay errors {'were' if past else 'are'} at {rate_text(self.errors)}"


def book_of(events: Iterable[Event], signals: Signals | None = None) -> SeriesBook:
    book = SeriesBook()
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

    @property
    def worked(self) -> bool:
        return self.state == "ended"

    def line(self) -> str:
        """``15:06 UTC — Enable request queuing: worked — Mitigated: 429s stopped at …``."""
        when = clock_time(self.started_at)
        what = {
            "confirmed": "confirmed, not applied yet",
            "applied": "applied, taking effect",
            "in_place": f"in place; following whether {self.symptom or 'its symptom'} ends" + (f" ({self.summary})" if self.summary else ""),
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
        got[key] = Outcome(key, title, runbook, started, ev.at, state, summary, symptom,
                           float(ended) if isinstance(ended, (int, float)) and not isinstance(ended, bool) else (ev.at if state == "ended" else None))
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
    "severity": "the severity", "status": "the incident status", "page_status": "the status customers should see",
    "branch": "the decision-tree branch", "done": "what was done", "impact": "the impact",
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


def impact_texts(a: Mapping[str, Any], cause: Mapping[str, Any], book: SeriesBook, *, signals_live: bool) -> tuple[str, str]:
    """(now, peak): from the error-rate series when there are any, else triage's words."""
    branch = str(a.get("branch") or "")
    latest = book.latest()
    peak = book.peak()
    if latest is not None:
        when = "" if signals_live else f" (at {clock_time(latest.at)})"
        now = latest.text() + when
        if latest.errors <= 0 and branch not in ("", "healthy", "unknown") and _impact_title(a):
            now = f"{_impact_title(a)}; {now}"
    elif branch == "healthy":
        now = "none visible now"
    else:
        now = _impact_title(a) or _impact_title(cause) or "not measured yet"
    if peak is not None:
        peak_text = f"{peak.text(past=True)} at {clock_time(peak.at)}"
    else:
        peak_text = _impact_title(cause)
    return now, peak_text


def message_facts(incident: Incident, events: Sequence[Event], a: Mapping[str, Any], cause: Mapping[str, Any], *,
                  signals: Signals | None = None, next_steps: Sequence[str] = (), clay_line: str = "") -> Facts:
    live = signals is not None and signals.metrics.value is not None and not signals.metrics.stale
    book = book_of(events, signals if live else None)
    now, peak = impact_texts(a, cause, book, signals_live=live)
    impact = f"{now}; at its peak {peak}" if peak and peak != now else now
    done = outcomes(events)
    ext = external_status(incident, done)
    return Facts(
        impact_now=now, impact_peak=peak or now, impact=impact,
        current_action=_current(incident, done, next_steps),
        done=tuple(_done_lines(events, done)),
        watching=tuple(_watching(done, a, signals, clay_line)),
        external_status=ext,
        digest=_digest({
            "severity": incident.severity.value, "status": str(incident.status), "page_status": ext.value,
            "branch": str(a.get("branch") or incident.branch or ""),
            "done": "|".join(f"{o.key}:{o.state}" for o in done),
            "impact": "none" if (book.latest() is not None and book.latest().errors <= 0) or a.get("branch") == "healthy" else "some",
            "clay": re.sub(r"\d", "", clay_line),
        }),
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
            return f"{last.title} is in place; following whether {last.symptom or 'its symptom'} ends"
        if last.state == "ended":
            ended = second_time(last.ended_at) if last.ended_at else clock_time(last.at)
            return f"monitoring: {last.symptom or 'the symptom'} stopped at {ended} after {last.title}"
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
            out.append(f"{o.symptom or 'the symptom'} after {o.title} (applied {clock_time(o.started_at)})")
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
