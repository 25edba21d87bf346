"""The types triage produces: what the triage pane, the incident and the
timeline read. Frozen; ``to_dict()`` gives JSON-ready dicts.

Every text here is whole: nothing is cut to fit a screen (the widgets clip
when they draw), so a message or the postmortem can quote it.

Pure data, no I/O. See :mod:`clay_cockpit.triage.tree` for how they are made.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from clay_cockpit.runbook import ACTION_KEY, ACTION_TEXT, DONE_TEXT, OUTSIDE, ActionId, Branch, ErrorClass, Severity
from clay_cockpit.runbook import BRANCH_LABEL as BRANCH_LABEL  # re-exported: the labels triage's readers use (config/runbook.toml)
from clay_cockpit.triage import evidence as ev


class Confidence(StrEnum):
    HIGH = "high"  # every polled source is live and the branch rests on direct evidence
    MEDIUM = "medium"  # the sources the branch needs are live, others are not
    LOW = "low"  # the branch rests on stale, failed or secondary evidence


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

    text: str  # whole, one line: "401 at 27/s — 68% of 39/s Clay calls, for 40 s"
    source: str  # "statuspage", "health", "metrics", "pods", "logs" or "triage"
    weak: bool = False  # from a stale reading or a secondary source (logs, health details)
    values: tuple[tuple[str, float | int | str], ...] = ()  # the numbers, for the record

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "source": self.source, "weak": self.weak, "values": {k: v for k, v in self.values}}


@dataclass(frozen=True)
class Action:
    """One of the runbook's immediate actions, as triage offers it.

    ``done``: it is in effect already (``Signals.in_effect``, or what the
    signals show, e.g. the fallback serving): shown as done with ``detail``
    and ``since``, never offered as the next key. ``why``: what the evidence
    says about it for this finding ("rss reaches the limit again ~20 s after
    each start"), "" when the runbook's text says it all.
    """

    id: ActionId
    text: str  # ACTION_TEXT[id]
    done: bool = False
    detail: str = ""  # what is in effect: "CLAY_REQUEST_QUEUING=true in ConfigMap clay-sync-flags"
    since: float | None = None  # epoch seconds it has been in effect, when known
    why: str = ""

    @property
    def key(self) -> str:
        """The key that carries it out on the main screen ("" when none: outside the cockpit, or reading)."""
        return ACTION_KEY.get(self.id, "")

    @property
    def outside(self) -> bool:
        """Done outside the cockpit (no key here can do it)."""
        return self.id in OUTSIDE

    @property
    def done_text(self) -> str:
        """ "Request queuing on" — how it reads once in effect."""
        return DONE_TEXT[self.id]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id.value, "text": self.text}
        if self.key:
            out["key"] = self.key
        if self.outside:
            out["outside"] = True
        if self.why:
            out["why"] = self.why
        if self.done:
            out.update(done=True, detail=self.detail, since=self.since)
        return out


def action(aid: ActionId, why: str = "") -> Action:
    return Action(aid, ACTION_TEXT[aid], why=" ".join(why.split()))


@dataclass(frozen=True)
class Finding:
    """One active branch of the decision tree and what backs it."""

    branch: Branch
    severity: Severity | None  # None only for HEALTHY / UNKNOWN
    title: str  # whole, from the numbers: "Clay answers 401 to 98% of calls"
    reasons: tuple[Reason, ...]
    actions: tuple[Action, ...]  # the runbook's immediate actions, in order
    errors: frozenset[ErrorClass] = frozenset()  # the error classes it covers (checklist step 3)
    confidence: Confidence = Confidence.LOW
    label: str = ""  # the line's lead: "Credentials", "Rate limit", "Clay incident" (default: the branch's)
    # the sources whose readings show the problem ("metrics", "logs", "pods", "health", "statuspage";
    # "memory": two or more pods' own memory reports agree) — two or more: corroborated
    sources: frozenset[str] = frozenset()

    @property
    def line(self) -> str:
        """One line, whole: "Credentials: Clay answers 401 to 98% of calls — P1"."""
        return _line(self.label or BRANCH_LABEL[self.branch], self.title, f" — {self.severity.value}" if self.severity else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "branch": self.branch.value,
            "severity": self.severity.value if self.severity else None,
            "label": self.label or BRANCH_LABEL[self.branch],
            "title": self.title,
            "line": self.line,
            "confidence": self.confidence.value,
            "errors": _json(self.errors),
            "sources": _json(self.sources),
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

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "state": self.state, "text": self.text, "hint": self.hint}


@dataclass(frozen=True)
class Observation:
    """What one source showed (the checklist's automatic ticks show it)."""

    source: str  # "statuspage", "health", "metrics", "pods", "logs"
    state: str  # "live", "stale", "failed", "missing"
    age: float | None  # seconds since the value was fetched (None: unknown / none)
    summary: str  # "All Systems Operational, no unresolved incident"

    def to_dict(self) -> dict[str, Any]:
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
        """One line, whole: "Credentials: Clay answers 401 to 98% of calls — P1"."""
        return _line(*self.headline_parts)

    @property
    def headline_parts(self) -> tuple[str, str, str]:
        """The headline's lead, title and suffix ("Credentials", "Clay answers …", " — P1"):
        a narrow screen cuts the title, never the severity."""
        suffix = f" — {self.severity.value}" if self.severity else ""
        if self.confidence == Confidence.LOW and self.branch not in (Branch.UNKNOWN, Branch.MONITORING_GAP):
            suffix += " (low confidence)"
        return self.top.label or BRANCH_LABEL[self.branch], " ".join(self.top.title.split()), suffix

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
        return f"{_and(names)} {word} — {tail}"

    @property
    def branches(self) -> frozenset[Branch]:
        return frozenset(f.branch for f in self.findings)

    @property
    def errors(self) -> frozenset[ErrorClass]:
        return frozenset().union(*(f.errors for f in self.findings))

    @property
    def actions(self) -> tuple[Action, ...]:
        """Every finding's actions in finding order, each once (those in effect included, marked done)."""
        seen: dict[ActionId, Action] = {}
        for f in self.findings:
            for a in f.actions:
                seen.setdefault(a.id, a)
        return tuple(seen.values())

    @property
    def todo(self) -> tuple[Action, ...]:
        """The actions not in effect yet, in order."""
        return tuple(a for a in self.actions if not a.done)

    @property
    def next(self) -> Action | None:
        """The recommended next action: the first one not in effect (it may
        have no key: done outside the cockpit, or read on screen)."""
        todo = self.todo
        return todo[0] if todo else None

    @property
    def corroborated(self) -> bool:
        """The top finding's problem shows in two or more sources (the
        metrics and the logs, the pods and the logs …): raised faster."""
        return len(self.top.sources) >= 2

    def to_dict(self) -> dict[str, Any]:
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
    return f"{label}: {' '.join(title.split())}{suffix}"


def _and(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]
