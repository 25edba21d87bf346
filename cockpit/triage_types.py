"""The types triage produces: what the triage pane, the incident and the
timeline read. Frozen; ``to_dict()`` gives JSON-ready dicts.

Pure data, no I/O. See :mod:`cockpit.triage` for how they are made.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cockpit import triage_evidence as ev
from cockpit.runbook import ACTION_TEXT, ActionId, Branch, ErrorClass, Severity


class Confidence(StrEnum):
    HIGH = "high"  # every polled source is live and the branch rests on direct evidence
    MEDIUM = "medium"  # the sources the branch needs are live, others are not
    LOW = "low"  # the branch rests on stale, failed or secondary evidence


BRANCH_LABEL: dict[Branch, str] = {
    Branch.CLAY_INCIDENT: "Clay incident",
    Branch.CREDENTIALS: "Credentials",
    Branch.INFRASTRUCTURE: "Infrastructure",
    Branch.MONITORING_GAP: "Monitoring gap",
    Branch.HEALTHY: "Healthy",
    Branch.UNKNOWN: "Unknown",
}

SEVERITY_ORDER = {Severity.P1: 0, Severity.P2: 1, Severity.P3: 2, Severity.P4: 3, None: 4}


def _json(value: Any) -> Any:
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, (tuple, list, frozenset, set)):
        items = [_json(v) for v in value]
        return sorted(items) if isinstance(value, (frozenset, set)) else items
    return value


@dataclass(frozen=True)
class Reason:
    """One line of evidence, with the numbers behind it."""

    text: str  # <= 78 characters: "401 at 27/s — 68% of 39/s Clay calls, for 40 s"
    source: str  # "statuspage", "health", "metrics", "pods", "logs" or "triage"
    weak: bool = False  # from a stale reading or a secondary source (logs, health details)
    values: tuple[tuple[str, float | int | str], ...] = ()  # the numbers, for the record

    def to_dict(self) -> dict:
        return {"text": self.text, "source": self.source, "weak": self.weak, "values": {k: v for k, v in self.values}}


@dataclass(frozen=True)
class Action:
    id: ActionId
    text: str  # ACTION_TEXT[id]

    def to_dict(self) -> dict:
        return {"id": self.id.value, "text": self.text}


def action(aid: ActionId) -> Action:
    return Action(aid, ACTION_TEXT[aid])


@dataclass(frozen=True)
class Finding:
    """One active branch of the decision tree and what backs it."""

    branch: Branch
    severity: Severity | None  # None only for HEALTHY / UNKNOWN
    title: str  # short: "Clay answers 401 to every call"
    reasons: tuple[Reason, ...]
    actions: tuple[Action, ...]  # the runbook's immediate actions, in order
    errors: frozenset[ErrorClass] = frozenset()  # the error classes it covers (checklist step 3)
    confidence: Confidence = Confidence.LOW
    label: str = ""  # the line's lead: "Credentials", "Rate limit", "Clay incident" (default: the branch's)

    @property
    def line(self) -> str:
        """One line, at most 80 characters: "Credentials: Clay answers 401 to every call — P1"."""
        return _line(self.label or BRANCH_LABEL[self.branch], self.title, f" — {self.severity.value}" if self.severity else "")

    def to_dict(self) -> dict:
        return {
            "branch": self.branch.value,
            "severity": self.severity.value if self.severity else None,
            "label": self.label or BRANCH_LABEL[self.branch],
            "title": self.title,
            "line": self.line,
            "confidence": self.confidence.value,
            "errors": _json(self.errors),
            "reasons": [r.to_dict() for r in self.reasons],
            "actions": [a.to_dict() for a in self.actions],
        }


@dataclass(frozen=True)
class Gap:
    """Something triage cannot see (or only sees old)."""

    source: str  # "statuspage", "health", "metrics", "pods", "logs"
    state: str  # "stale", "failed", "missing", or "partial" (answered, but part of it is missing)
    text: str  # "metrics unavailable: connection refused by 127.0.0.1:9090"
    hint: str = ""  # what to do about it, from the source's error

    def to_dict(self) -> dict:
        return {"source": self.source, "state": self.state, "text": self.text, "hint": self.hint}


@dataclass(frozen=True)
class Observation:
    """What one source showed (the checklist's automatic ticks show it)."""

    source: str  # "statuspage", "health", "metrics", "pods", "logs"
    state: str  # "live", "stale", "failed", "missing"
    age: float | None  # seconds since the value was fetched (None: unknown / none)
    summary: str  # "All Systems Operational, no unresolved incident"

    def to_dict(self) -> dict:
        return {"source": self.source, "state": self.state, "age": self.age, "summary": self.summary}


@dataclass(frozen=True)
class Assessment:
    """Where the decision tree lands on one set of signals."""

    at: float  # the ``now`` it was made for
    branch: Branch  # the first finding's branch
    severity: Severity | None  # the worst finding's severity; None when healthy / unknown
    confidence: Confidence  # of the first finding
    findings: tuple[Finding, ...]  # never empty; most severe / most actionable first
    gaps: tuple[Gap, ...] = ()  # what it cannot see, one line each
    observed: tuple[Observation, ...] = ()  # one per source, in runbook order (status page, health, metrics, pods, logs)

    @property
    def top(self) -> Finding:
        return self.findings[0]

    @property
    def headline(self) -> str:
        """One line, at most 80 characters: "Credentials: Clay answers 401 to every call — P1"."""
        suffix = f" — {self.severity.value}" if self.severity else ""
        if self.confidence == Confidence.LOW and self.branch not in (Branch.UNKNOWN, Branch.MONITORING_GAP):
            suffix += " (low confidence)"
        return _line(self.top.label or BRANCH_LABEL[self.branch], self.top.title, suffix)

    @property
    def cannot_see(self) -> str:
        """One line about the gaps: "metrics unavailable — using status page, health and pods only"."""
        down = [g for g in self.gaps if g.source in ev.PRIMARY and g.state in ("stale", "failed", "missing", "partial")]
        down = [g for i, g in enumerate(down) if g.source not in {d.source for d in down[:i]}]
        if not down:
            return ""
        names = [ev.LABEL[g.source] for g in down]
        what = {"failed": "unavailable", "stale": "stale", "missing": "not read yet", "partial": "incomplete"}
        states = {g.state for g in down}
        word = what[states.pop()] if len(states) == 1 else "unavailable or stale"
        using = [ev.LABEL[o.source] for o in self.observed if o.source in ev.PRIMARY and o.state == ev.LIVE]
        tail = f"using {_and(using)} only" if using else "nothing else to go on"
        return ev.clip(f"{_and(names)} {word} — {tail}", 80)

    @property
    def branches(self) -> frozenset[Branch]:
        return frozenset(f.branch for f in self.findings)

    @property
    def errors(self) -> frozenset[ErrorClass]:
        return frozenset().union(*(f.errors for f in self.findings))

    @property
    def actions(self) -> tuple[Action, ...]:
        """Every finding's actions in finding order, each once."""
        seen: dict[ActionId, Action] = {}
        for f in self.findings:
            for a in f.actions:
                seen.setdefault(a.id, a)
        return tuple(seen.values())

    def to_dict(self) -> dict:
        return {
            "at": self.at,
            "branch": self.branch.value,
            "severity": self.severity.value if self.severity else None,
            "confidence": self.confidence.value,
            "headline": self.headline,
            "cannot_see": self.cannot_see,
            "findings": [f.to_dict() for f in self.findings],
            "gaps": [g.to_dict() for g in self.gaps],
            "observed": [o.to_dict() for o in self.observed],
        }


def _line(label: str, title: str, suffix: str) -> str:
    prefix = f"{label}: "
    return prefix + ev.clip(title, 80 - len(prefix) - len(suffix)) + suffix


def _and(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]
