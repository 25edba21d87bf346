"""After an action took effect: follow its symptom to a verdict, record it,
tick what it verified, and say which mitigations are in effect.

The actions desk (screens/actions_desk.py) owns one :class:`SymptomDesk`
and calls it on the UI thread: :meth:`~SymptomDesk.begin` when an applied
action's rollout is done (or stopped), :meth:`~SymptomDesk.look` on every
Signals change — no polling of its own — and :meth:`~SymptomDesk.stop` on
quit. The judging is :func:`clay_cockpit.actions.symptom.judge` (pure); this module only
keeps the state between looks and writes the timeline: exactly one
``symptom_ended`` or ``symptom_persists`` per follow (docs/events.md), the
automatic ticks when it ended, and a note when the metrics agree later.

No Textual here; writing an event is one fsynced line (as the desk's ticks
are), and a failed write never stops the follow: it is shown, not lost
silently.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING

from clay_cockpit.actions.flow_verify import took_effect
from clay_cockpit.actions.symptom import (
    ENDED,
    PERSISTS,
    Before,
    Follow,
    Symptom,
    Verdict,
    hms,
    judge,
    measure_before,
    metrics_view,
    symptom_for,
    ticks_for,
)
from clay_cockpit.actions.types import ActionKind, Outcome, Plan, VerifyState
from clay_cockpit.config import ActionsConfig
from clay_cockpit.incident.timeline import EventKind, TimelineError
from clay_cockpit.runbook import ActionId
from clay_cockpit.signals import InEffect, Signals

if TYPE_CHECKING:
    from clay_cockpit.incident.lifecycle import IncidentStore
    from clay_cockpit.triage.types import Assessment

KEPT_IN_EFFECT = frozenset(
    {ActionId.UPDATE_KEY.value, ActionId.RESTART.value, ActionId.ROLLBACK.value}
)  # in effect once their symptom ended
KEPT = 8  # finished follows remembered (what is in effect, the pane's last words)


@dataclass(frozen=True)
class Finished:
    follow: Follow
    verdict: Verdict
    later: str = ""  # the metrics' word after the verdict ("metrics agree (401 at 0.00/s)")


class SymptomDesk:
    """See the module docstring. ``on_final(follow, verdict)`` is called once
    per follow when the verdict is final (the desk notifies and redraws)."""

    def __init__(self, store: IncidentStore | None, clock: Callable[[], float], actor: str = "") -> None:
        self.store = store
        self.clock = clock
        self.actor = actor or None
        self.current: Follow | None = None
        self.verdict: Verdict | None = None  # the current follow's newest look
        self.finished: deque[Finished] = deque(maxlen=KEPT)
        self.problems: deque[str] = deque(maxlen=4)  # writes that failed
        self._stopped = False
        self._resumed_for: str | None = None  # the incident whose earlier verdicts were read

    # -- the follow ---------------------------------------------------------------

    def begin(self, follow: Follow, signals: Signals | None = None) -> Verdict:
        """Start following (a newer action's follow replaces an unfinished one: its verdict
        would mix both changes). Looks once at once when ``signals`` is given."""
        self.current, self.verdict = follow, Verdict("watching", f"watching {follow.label}")
        if signals is not None:
            self.look(signals)
        return self.verdict

    def look(self, signals: Signals) -> Finished | None:
        """One look: returns the follow's end when this look made it final."""
        if self._stopped:
            return None
        now = self.clock()
        self._metrics_later(signals, now)
        f = self.current
        if f is None:
            return None
        f, verdict = judge(f, signals, now)
        self.current, self.verdict = f, verdict
        if not verdict.final:
            return None
        self.current = None
        done = Finished(f, verdict)
        self.finished.append(done)
        self._record(f, verdict)
        return done

    def stop(self) -> None:
        """The app quits: no more looks, nothing more written."""
        self._stopped = True
        self.current = None

    def cancel(self, why: str) -> None:
        """The follow is moot (another deployment chosen): dropped without a verdict."""
        self.current = None
        self.verdict = Verdict("watching", why)

    # -- what the pane and triage read ------------------------------------------------

    def last(self) -> Finished | None:
        return self.finished[-1] if self.finished else None

    def in_effect(self) -> tuple[InEffect, ...]:
        """A key update, restart or rollback whose symptom ended (this session, or read from the timeline)."""
        out: dict[str, InEffect] = {}
        for done in self.finished:
            f, v = done.follow, done.verdict
            if v.state != ENDED:
                continue
            for aid in (f.runbook, *f.carries):
                if aid in KEPT_IN_EFFECT:
                    out[aid] = InEffect(aid, v.summary, v.ended_at)
        return tuple(out[k] for k in sorted(out))

    def resume(self) -> None:
        """Read the ended key updates / restarts / rollbacks of the current incident once (after a
        cockpit restart they stay in effect)."""
        store = self.store
        inc = store.incident if store is not None else None
        if store is None or inc is None or inc.id == self._resumed_for:
            return
        self._resumed_for = inc.id
        for ev in store.events():  # (in memory)
            d = ev.data
            if ev.kind != EventKind.SYMPTOM_ENDED or d.get("symptom") not in {s.value for s in Symptom}:
                continue
            ended, applied = d.get("ended_at"), d.get("applied_at")
            at = float(ended) if isinstance(ended, (int, float)) and not isinstance(ended, bool) else ev.at
            f = Follow(
                Symptom(d["symptom"]),
                str(d.get("plan_id") or ""),
                str(d.get("action") or ""),
                str(d.get("runbook") or ""),
                title="",
                effect="",
                deadline=ev.at,
                before=Before(str(d.get("before") or "")),
                branch=str(d.get("branch") or ""),
                applied_at=float(applied) if isinstance(applied, (int, float)) and not isinstance(applied, bool) else ev.at,
                carries=tuple(c for c in d.get("carries") or () if isinstance(c, str)),
            )
            self.finished.append(Finished(f, Verdict(ENDED, ev.summary, str(d.get("evidence") or ""), str(d.get("basis") or ""), at)))

    # -- writing ----------------------------------------------------------------------

    def _record(self, f: Follow, v: Verdict) -> None:
        kind = EventKind.SYMPTOM_ENDED if v.state == ENDED else EventKind.SYMPTOM_PERSISTS
        self._write(kind.value, lambda: self.store.record(kind, v.summary, v.data(f), actor=self.actor) if self.store else None)
        if v.state != ENDED or self.store is None:
            return
        from clay_cockpit.incident.lifecycle import NoIncident

        seen = f"{f.title} — {v.head}" if v.head else v.summary
        for key in ticks_for(f):
            try:
                self._write(f"tick {key}", partial(self.store.tick, key, auto=True, seen=seen, actor=self.actor))
            except NoIncident:
                return

    def _metrics_later(self, signals: Signals, now: float) -> None:
        """An ended symptom whose metrics had not caught up: say so once they agree (or the window closes)."""
        if not self.finished:
            return
        done = self.finished[-1]
        f, v = done.follow, done.verdict
        if v.state != ENDED or v.metrics_agree is not None or done.later or not f.title:
            return
        agree, words = metrics_view(f, signals, now)
        if agree is None and now < f.deadline:
            return
        if agree is None:
            words = f"the metrics never caught up in the follow window ({words})" if words else "the metrics never caught up"
        later = f"{words} at {hms(now)}"
        self.finished[-1] = replace(done, later=later)
        if agree is False:
            summary = f"{f.title}: the logs say {v.head}, but {later}"
        else:
            summary = f"{f.title}: {later} — {v.head}"
        self._write(
            "note",
            lambda: (
                self.store.record(
                    EventKind.NOTE, summary, {"plan_id": f.plan_id, "symptom": f.symptom.value, "metrics_agree": agree}, actor=self.actor
                )
                if self.store
                else None
            ),
        )

    def _write(self, what: str, call: Callable[[], object]) -> None:
        from clay_cockpit.incident.lifecycle import NoIncident

        try:
            call()
        except NoIncident:
            raise
        except (TimelineError, OSError, ValueError) as exc:
            self.problems.append(f"{what}: {exc}")


# --------------------------------------------------------------------------
# From a confirmed plan to a follow


SHORT = {  # what was done, in a symptom's summary: "Restart the pods: rollout done, symptom persists — …"
    ActionKind.RESTART: "Restart the pods",
    ActionKind.UPDATE_KEY: "Update the key",
    ActionKind.ENABLE_QUEUING: "Enable request queuing",
    ActionKind.ENABLE_FALLBACK: "Enable fallback",
    ActionKind.SCALE: "Scale the deployment",
    ActionKind.ROLLBACK: "Roll back",
}


@dataclass(frozen=True)
class Watch:
    """What a confirmed action should end (decided when it was confirmed)."""

    symptom: Symptom
    branch: str
    before: Before
    title: str
    carries: tuple[str, ...] = ()  # runbook actions done before it whose effect it brings (the key update before the restart)
    baseline: tuple[tuple[str, int], ...] = ()  # restarts per pod when confirmed

    @property
    def label(self) -> str:
        return Follow(self.symptom, "", "", "", "", "", 0.0, 0.0, self.before).label


def baseline(signals: Signals) -> tuple[tuple[str, int], ...]:
    pods = signals.pods.value.pods if signals.pods.value is not None else ()
    return tuple((p.name, p.restarts) for p in pods)


def watch_for(plan: Plan, carry: Watch | None, assessment: Assessment | None, signals: Signals) -> Watch | None:
    """What a confirmed action should end: carried from a key update or a flag waiting
    for a restart (``carry``, for a restart), else from the branch triage recommended it for."""
    if carry is not None and plan.kind is ActionKind.RESTART:
        return replace(
            carry, before=measure_before(carry.symptom, signals), title=f"{carry.title} + restart the pods", baseline=baseline(signals)
        )
    found = symptom_for(plan.kind, assessment, signals)
    if found is None:
        return None
    symptom, branch = found
    title = SHORT.get(plan.kind, plan.title)
    if plan.kind is ActionKind.SCALE and plan.inputs.replicas is not None:
        title = f"Scale to {plan.inputs.replicas} pods"
    if plan.kind is ActionKind.ROLLBACK and plan.base("to_revision") is not None:
        title = f"Roll back to revision {plan.base('to_revision')}"
    return Watch(symptom, branch, measure_before(symptom, signals), title, baseline=baseline(signals))


def takes_effect_now(plan: Plan) -> bool:
    """Does the applied change reach the pods by itself (a rollout, a scale), or only at the next restart?"""
    return plan.replaces_pods or plan.kind is ActionKind.SCALE


def effect_of(outcome: Outcome) -> str:
    """How far the change got, for the symptom's verdict: "rollout done", "rollout failed" …"""
    if outcome.ok:
        return took_effect(outcome.plan)
    v = outcome.verification
    if outcome.plan.replaces_pods and v is not None:
        return {
            VerifyState.FAILED: "rollout failed",
            VerifyState.TIMEOUT: "rollout not done in time",
            VerifyState.STOPPED: "rollout not followed to the end",
        }.get(v.state, "applied")
    return "applied"


def follow_from(outcome: Outcome, watch: Watch, now: float, cfg: ActionsConfig, replicas_now: int | None) -> Follow:
    """The follow of an applied action's symptom, from now until ``symptom_window`` has passed."""
    plan = outcome.plan
    details = outcome.verification.details if outcome.verification is not None else {}
    replicas = plan.inputs.replicas if plan.kind is ActionKind.SCALE else details.get("replicas", replicas_now)
    return Follow(
        watch.symptom,
        plan.id,
        plan.kind.value,
        plan.runbook.value,
        watch.title,
        effect_of(outcome),
        now,
        now + cfg.symptom_window,
        watch.before,
        old_pods=outcome.old_pods if plan.replaces_pods else frozenset(),
        replicas=replicas if isinstance(replicas, int) and not isinstance(replicas, bool) else None,
        stable=cfg.symptom_stable,
        branch=watch.branch,
        carries=watch.carries,
        baseline=() if plan.replaces_pods else watch.baseline,
    )


def since_applied(store: IncidentStore | None, kind: str, applied_at: dict[str, float]) -> float | None:
    """When this mitigation was last applied, as far as this cockpit knows: the
    incident's timeline (any cockpit's action), else this cockpit's own."""
    if store is not None and store.incident is not None:
        for ev in reversed(store.events()):  # (in memory)
            if ev.kind == EventKind.ACTION_APPLIED and ev.data.get("action") == kind:
                return ev.at
    return applied_at.get(kind)


__all__ = [
    "ENDED",
    "PERSISTS",
    "Finished",
    "SymptomDesk",
    "Watch",
    "effect_of",
    "follow_from",
    "since_applied",
    "takes_effect_now",
    "watch_for",
]
