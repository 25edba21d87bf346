"""Stability: successive assessments through a short window, so one noisy
sample does not flip the branch or the severity the responder reads.

Raise fast, calm slowly. A worse (branch, severity) — a higher severity, or
another branch at the same severity — becomes the stable one once the
assessments have been worse than the stable one for ``seconds`` in a row
and the newest ``samples`` of them agree on it; when the newest ``samples``
are also *corroborated* (the problem shows in two sources, e.g. the metrics
and the logs) ``fast_seconds`` is enough. A raise that keeps growing (P3,
then P2, then P1 as the 1-minute rate catches up with the logs) is one run:
it does not start the window again at each step. Calming down — a lower
severity, or healthy after a problem — must last ``calm_seconds``, so a
service that crashes, comes back for twenty seconds and crashes again stays
at its worst. Times are the assessments' own ``at`` (the app scales the
windows for a drill at ``--speed``). Until a change is adopted the pane
keeps showing the newest assessment that agrees with the stable one, and
says what is pending. The very first assessment, and any after an UNKNOWN
(nothing read yet), are adopted at once: there is nothing to protect yet. A
run that lasts twice its window is adopted even if its newest samples
disagree among themselves (its newest is shown): it is real, whatever its
flavour.

Pure: no clock reads, bounded state (a few references).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clay_cockpit.runbook import Branch, Severity
from clay_cockpit.triage.types import BRANCH_LABEL, SEVERITY_ORDER, Assessment

Key = tuple[Branch, Severity | None]


def _sev(s: Severity | None) -> str:
    return s.value if s is not None else "none"


@dataclass(frozen=True)
class Change:
    """The stable branch or severity changed: a timeline event."""

    at: float  # the ``at`` of the assessment that confirmed it
    before_branch: Branch | None  # None on the first assessment
    before_severity: Severity | None
    after_branch: Branch
    after_severity: Severity | None
    headline: str  # the new assessment's headline

    @property
    def kind(self) -> str:
        """ "branch" when the branch changed (first assessment included), else "severity"."""
        return "branch" if self.before_branch != self.after_branch else "severity"

    @property
    def summary(self) -> str:
        """One line: "Branch: Healthy → Credentials (P1)" or "Severity: P2 → P1 (Credentials)"."""
        if self.kind == "severity":
            return f"Severity: {_sev(self.before_severity)} → {_sev(self.after_severity)} ({BRANCH_LABEL[self.after_branch]})"
        before = BRANCH_LABEL[self.before_branch] if self.before_branch is not None else "start"
        sev = f" ({self.after_severity.value})" if self.after_severity is not None else ""
        return f"Branch: {before} → {BRANCH_LABEL[self.after_branch]}{sev}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "kind": self.kind,
            "summary": self.summary,
            "headline": self.headline,
            "before": {
                "branch": self.before_branch.value if self.before_branch else None,
                "severity": self.before_severity.value if self.before_severity else None,
            },
            "after": {"branch": self.after_branch.value, "severity": self.after_severity.value if self.after_severity else None},
        }


@dataclass(frozen=True)
class Triaged:
    """What the triage pane shows after one update."""

    assessment: Assessment  # the newest assessment that agrees with the stable branch and severity
    latest: Assessment  # the newest assessment, whatever it says
    pending: Key | None = None  # (branch, severity) the latest samples point to, when not yet stable
    pending_samples: int = 0  # how many assessments in a row have said ``pending``
    change: Change | None = None  # set on the update that changed the stable branch or severity
    leading: bool = False  # a raise the newest ``samples`` agree on, still in its window: the screen leads with it

    @property
    def branch(self) -> Branch:
        return self.assessment.branch

    @property
    def severity(self) -> Severity | None:
        return self.assessment.severity

    @property
    def raising(self) -> bool:
        """The pending change is a raise (worse, or another branch as bad): the screen shows it as coming."""
        if self.pending is None:
            return False
        return SEVERITY_ORDER[self.pending[1]] <= SEVERITY_ORDER[self.assessment.severity]

    @property
    def on_screen(self) -> Assessment:
        """The verdict the screen leads with: a raise being confirmed (``leading``,
        marked "?"), else the stable one (a pending change as a note beside it)."""
        return self.latest if self.leading else self.assessment

    @property
    def pending_text(self) -> str:
        """ "" or one line: "changing to Credentials P1? (2/3 samples)"."""
        if self.pending is None:
            return ""
        branch, sev = self.pending
        n = self.pending_samples
        return f"changing to {BRANCH_LABEL[branch]} {_sev(sev) if sev else ''}".rstrip() + f"? ({n} sample{'s' if n != 1 else ''})"


class Triage:
    """Feeds assessments through the window; ``update`` after every ``assess``."""

    def __init__(self, samples: int = 2, seconds: float = 8.0, calm_seconds: float = 30.0, fast_seconds: float | None = None) -> None:
        if samples < 1:
            raise ValueError("samples must be at least 1")
        fast = seconds if fast_seconds is None else fast_seconds
        if seconds < 0 or calm_seconds < 0 or fast < 0:
            raise ValueError("seconds, fast_seconds and calm_seconds must be >= 0")
        self.samples = samples
        self.seconds = seconds
        self.fast_seconds = min(fast, seconds)
        self.calm_seconds = max(calm_seconds, seconds)
        self._stable: Key | None = None
        self._shown: Assessment | None = None
        self._run: str | None = None  # "raise" or "calm": the assessments since _run_start all differ that way
        self._run_start = 0.0
        self._run_count = 0
        self._key: Key | None = None  # the newest assessment's key, and how many in a row said it
        self._key_count = 0
        self._corroborated = 0  # newest assessments in a row that were corroborated
        self._current: Triaged | None = None

    @property
    def current(self) -> Triaged | None:
        """The last update's result (None before the first)."""
        return self._current

    def update(self, assessment: Assessment) -> Triaged:
        key: Key = (assessment.branch, assessment.severity)
        if self._stable is None or self._stable[0] == Branch.UNKNOWN and key != self._stable:
            return self._adopt(assessment, key)
        if key == self._stable:
            self._run, self._run_count, self._key, self._key_count, self._corroborated = None, 0, None, 0, 0
            self._shown = assessment
            self._current = Triaged(assessment, assessment)
            return self._current
        run = "calm" if SEVERITY_ORDER[key[1]] > SEVERITY_ORDER[self._stable[1]] else "raise"
        if run != self._run:
            self._run, self._run_start, self._run_count, self._key, self._key_count, self._corroborated = run, assessment.at, 0, None, 0, 0
        self._run_count += 1
        self._key_count = self._key_count + 1 if key == self._key else 1
        self._key = key
        self._corroborated = self._corroborated + 1 if assessment.corroborated else 0
        elapsed = assessment.at - self._run_start
        agreed = self._key_count >= self.samples
        window = self.seconds if run == "raise" else self.calm_seconds
        if run == "raise" and self._corroborated >= self.samples:
            window = self.fast_seconds
        long_run = 0 < 2 * window <= elapsed and self._run_count >= 2 * self.samples  # real, whatever its flavour
        ready = agreed and elapsed >= window or long_run
        if ready:
            return self._adopt(assessment, key)
        shown = self._shown if self._shown is not None else assessment
        self._current = Triaged(shown, assessment, key, self._key_count, leading=run == "raise" and agreed)
        return self._current

    def confirm(self) -> Triaged | None:
        """The responder acted on a pending raise (declared an incident): adopt
        it now, without waiting for the window — also one only noted beside
        the stable verdict yet. The new result (with its change), or None when
        nothing was pending as a raise."""
        t = self._current
        if t is None or not t.raising:
            return None
        return self._adopt(t.latest, (t.latest.branch, t.latest.severity))

    def _adopt(self, assessment: Assessment, key: Key) -> Triaged:
        before = self._stable
        self._stable, self._shown = key, assessment
        self._run, self._run_count, self._key, self._key_count, self._corroborated = None, 0, None, 0, 0
        change = Change(
            at=assessment.at,
            before_branch=before[0] if before else None,
            before_severity=before[1] if before else None,
            after_branch=key[0],
            after_severity=key[1],
            headline=assessment.headline,
        )
        self._current = Triaged(assessment, assessment, change=change)
        return self._current
