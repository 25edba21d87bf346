"""The last steps of :class:`~clay_cockpit.actions.flow.ActionRunner`'s path
(``apply ─► verify ─► record``): follow an applied change until it took
effect, failed, was stopped or timed out (renewing the lease on the way),
record the outcome on the incident's timeline, and follow a change once more
(:meth:`VerifyAndRecord.follow_again`); plus the progress emitter and the
failure of a bug the whole path shares.

:class:`VerifyAndRecord` is a base class of ``ActionRunner`` (which owns the
state it uses: the lease, the clocks, the lock); nothing else derives from it.
Blocking, no Textual, like the rest of the flow.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from clay_cockpit.actions.types import (
    ActionKind,
    AdminError,
    Confirmation,
    Failure,
    FailureKind,
    LeaseInfo,
    Outcome,
    Plan,
    ProbeResult,
    Progress,
    Verification,
    VerifyState,
)
from clay_cockpit.incident.timeline import EventKind

if TYPE_CHECKING:
    from collections import OrderedDict

    from clay_cockpit.actions.plans import Applied
    from clay_cockpit.sources.kube_admin import KubeAdmin
    from clay_cockpit.sources.kube_follow import RolloutFollow
    from clay_cockpit.sources.kube_lease import Leases
    from clay_cockpit.sources.kube_rollout import Look


MAX_ISSUED = 32
RETRYABLE = frozenset(
    {FailureKind.AUTH_EXPIRED, FailureKind.LEASE_HELD, FailureKind.UNREACHABLE, FailureKind.TIMEOUT, FailureKind.SERVER_ERROR}
)

ProgressSink = Callable[[Progress], None]


class VerifyAndRecord:
    """Verify, record, follow again: methods of :class:`~clay_cockpit.actions.flow.ActionRunner`."""

    if TYPE_CHECKING:  # set and defined by ActionRunner
        actor: str
        admin: KubeAdmin
        leases: Leases
        _wall: Callable[[], float]
        _monotonic: Callable[[], float]
        _sleep: Callable[[float], None] | None
        _poll: float
        _lock: threading.Lock
        _followable: OrderedDict[str, tuple[Plan, Applied]]

        def _record(self, kind: EventKind, summary: str, data: dict[str, Any]) -> bool: ...

        def _reissue(self, confirmation: Confirmation) -> Confirmation: ...

    def _finish(
        self,
        confirmation: Confirmation,
        applied: Applied,
        verification: Verification | None,
        failure: Failure | None,
        recorded: bool,
        notes: list[str],
        emit: _Emitter,
    ) -> Outcome:
        plan = confirmation.plan
        changed = bool(applied.done)
        retry = self._reissue(confirmation) if failure is not None and not changed and failure.kind in RETRYABLE else None
        if failure is not None:
            stage = "verify" if changed else "apply"
            summary = f"{plan.title}: {'applied in part, then ' if changed else ''}failed — {failure.message}"
            recorded = (
                self._record(
                    EventKind.ACTION_FAILED,
                    summary,
                    {"plan_id": plan.id, "action": plan.kind.value, "stage": stage, "done": applied.done, "failure": failure.to_dict()},
                )
                and recorded
            )
            emit("failed", failure.line())
            return Outcome(
                plan,
                False,
                changed,
                summary,
                failure=failure,
                retry=retry,
                recorded=recorded,
                notes=tuple(notes),
                offer=applied.offer if changed else None,
            )
        assert verification is not None
        if not verification.ok and applied.look is not None:
            self._remember(plan, applied)
        watching = confirmation.watching
        data = {"plan_id": plan.id, "action": plan.kind.value, "done": applied.done, "verification": verification.to_dict()}
        if watching:
            data["watching"] = watching
        if verification.ok:
            # "done" only when nothing more is to be seen: a rollout with a symptom to follow is not a fix yet
            summary = f"{plan.title}: {took_effect(plan) if watching else 'done'} — {verification.summary}"
            summary += f"; watching {watching}" if watching else ""
            recorded = self._record(EventKind.ACTION_VERIFIED, summary, data) and recorded
        else:
            summary = f"{plan.title}: applied, but {verification.state.value} — {verification.summary}"
            failure = Failure(FailureKind.VERIFY_FAILED, verification.summary, "; ".join(verification.missing))
            recorded = self._record(EventKind.ACTION_FAILED, summary, {**data, "stage": "verify"}) and recorded
        emit("done" if verification.ok else "failed", verification.summary)
        return Outcome(
            plan,
            verification.ok,
            True,
            summary,
            failure=failure,
            verification=verification,
            offer=applied.offer,
            recorded=recorded,
            notes=tuple(notes),
            probe=_probe_of(verification),
            can_follow_again=not verification.ok and applied.look is not None,
            old_pods=applied.old_pods,
            watching=watching,
        )

    def _remember(self, plan: Plan, applied: Applied) -> None:
        with self._lock:
            self._followable[plan.id] = (plan, applied)
            while len(self._followable) > MAX_ISSUED:
                self._followable.popitem(last=False)

    def follow_again(self, outcome: Outcome, *, on_progress: ProgressSink | None = None, stop: threading.Event | None = None) -> Outcome:
        """Follow an applied change whose verification did not succeed (timed out,
        stopped, or interrupted by expired credentials) once more: reads only, no
        lease, nothing applied again. Records the verification like :meth:`apply`."""
        with self._lock:
            kept = self._followable.get(outcome.plan.id)
        if kept is None or not outcome.can_follow_again:
            failure = Failure(FailureKind.NOT_CONFIRMED, "nothing to follow for this outcome", "")
            return replace(outcome, failure=failure, can_follow_again=False)
        plan, applied = kept
        assert applied.look is not None  # _remember keeps only a change with a look
        emit = _Emitter(plan, on_progress)
        notes: list[str] = []
        try:
            verification, _ = self._follow(plan, applied.look, applied.timeout, emit, stop, None, notes)
        except Exception as exc:  # a bug in a look: the change stays applied; say so
            verification = Verification(VerifyState.FAILED, _bug(exc, "following").message)
        if verification.ok:
            with self._lock:
                self._followable.pop(plan.id, None)
        confirmation = Confirmation(plan, self.actor, self._wall(), False, watching=outcome.watching)
        return self._finish(confirmation, applied, verification, None, True, notes, emit)

    def _follow(
        self,
        plan: Plan,
        look: Callable[[], Look],
        timeout: float,
        emit: _Emitter,
        stop: threading.Event | None,
        lease: LeaseInfo | None,
        notes: list[str],
    ) -> tuple[Verification, LeaseInfo | None]:
        """Look until done, failed, stopped or timed out; renew the lease on the way. The looks
        read the deployment and pods from a watch while it is current (``admin.following``), and
        a change wakes the next look at once."""
        with self.admin.following(plan.deployment) as watch:
            return self._follow_watched(plan, look, timeout, emit, stop, lease, notes, watch)

    def _follow_watched(
        self,
        plan: Plan,
        look: Callable[[], Look],
        timeout: float,
        emit: _Emitter,
        stop: threading.Event | None,
        lease: LeaseInfo | None,
        notes: list[str],
        watch: RolloutFollow,
    ) -> tuple[Verification, LeaseInfo | None]:
        started = self._monotonic()
        last: Look | None = None
        while True:
            try:
                last = look()
            except AdminError as exc:
                f = exc.failure
                if f.kind in (FailureKind.AUTH_EXPIRED, FailureKind.FORBIDDEN, FailureKind.NOT_FOUND):
                    return Verification(
                        VerifyState.FAILED, f"could not follow it: {f.message}", (f.line(),), self._monotonic() - started
                    ), lease
                emit("verify", f"retrying: {f.message}")
            elapsed = self._monotonic() - started
            if last is not None:
                emit("verify", last.message, last.count, last.total)
                if last.done:
                    return Verification(VerifyState.OK, f"{last.message} ({elapsed:.0f} s)", (), elapsed, last.details), lease
                if last.failed:
                    return Verification(VerifyState.FAILED, last.failed, last.missing, elapsed, last.details), lease
            if stop is not None and stop.is_set():
                return Verification(
                    VerifyState.STOPPED, "stopped following (the change stays applied)", last.missing if last else (), elapsed
                ), lease
            if elapsed >= timeout:
                missing = last.missing if last is not None else ("no answer from the cluster while following",)
                return Verification(
                    VerifyState.TIMEOUT,
                    f"not done after {timeout:g} s: " + "; ".join(missing),
                    missing,
                    elapsed,
                    last.details if last else {},
                ), lease
            if lease is not None:
                lease = self._renew(plan, lease, notes)
            if self._sleep is not None:
                self._sleep(self._poll)
            else:
                watch.wait(stop or threading.Event(), self._poll)

    def _renew(self, plan: Plan, lease: LeaseInfo, notes: list[str]) -> LeaseInfo:
        now = self._wall()
        if lease.renewed_at is not None and now - lease.renewed_at < lease.duration / 3:
            return lease
        try:
            return self.leases.renew(lease, plan.deployment)
        except AdminError as exc:
            note = f"lease renewal failed: {exc.failure.message}"
            if note not in notes and len(notes) < 10:
                notes.append(note)
            return lease


class _Emitter:
    """Progress to the UI, only when it changes (every repaint costs bytes on SSH)."""

    def __init__(self, plan: Plan, sink: ProgressSink | None) -> None:
        self.plan, self.sink, self.last = plan, sink, ("", "")

    def __call__(self, stage: str, message: str, done: int | None = None, total: int | None = None) -> None:
        if self.sink is None or (stage, message) == self.last:
            return
        self.last = (stage, message)
        try:
            self.sink(Progress(self.plan.id, self.plan.kind, stage, message, done, total))
        except Exception:  # the UI's callback failing must not stop the action; it only loses a progress line
            self.sink = None


def took_effect(plan: Plan) -> str:
    """What "the change took effect" means for a plan: "rollout done", "scaled", "key written", "flag set"."""
    if plan.replaces_pods:
        return "rollout done"
    return {ActionKind.SCALE: "scaled", ActionKind.UPDATE_KEY: "key written"}.get(plan.kind, "flag set")


def _bug(exc: BaseException, where: str) -> Failure:
    return Failure(
        FailureKind.BAD_RESPONSE,
        f"unexpected {type(exc).__name__} while {where}",
        "a bug in the cockpit: nothing more was sent; report it (the text is not shown, it may hold a value)",
    )


def _probe_of(verification: Verification) -> ProbeResult | None:
    probe = verification.details.get("probe")
    return probe if isinstance(probe, ProbeResult) else None
