"""Remediation: the path every action takes, as a small state machine the UI
drives step by step from thread workers.

::

    plan ─► dry run ─► permission check ─► confirm ─► apply ─► verify ─► record
    (reads)  (dryRun=All)  (SelfSubjectAccessReview)   (lease held from apply to the end of verify)

- :meth:`ActionRunner.prepare` (or :meth:`~ActionRunner.plan`,
  :meth:`~ActionRunner.dry_run`, :meth:`~ActionRunner.check_permissions` one
  by one) returns a :class:`Plan`: context, namespace, objects, fields
  before → after (secrets as fingerprints), the dry-run result, the
  permissions, and ``blocked`` with the reason when it cannot go on.
- :meth:`ActionRunner.confirm` turns a ready plan plus what the responder
  typed into a :class:`Confirmation` — the only thing :meth:`~ActionRunner.apply`
  accepts. What is hard to undo (writing the Secret, scaling down by half or
  more) needs the deployment name typed; a restart or a flag toggle one
  deliberate key in the modal. A confirmation is single-use and expires.
- :meth:`ActionRunner.apply` takes the deployment's Lease, applies, follows
  the effect (progress callbacks; a timeout that says what did not happen),
  releases the Lease and records plan, dry run, who confirmed, outcome and
  verification on the incident's timeline (secrets as fingerprints).
- :meth:`ActionRunner.run_check` runs the one non-mutating action (verify the
  key in the Secret): no confirmation, allowed in read-only mode.

The verify and record steps and following again are methods of
:class:`clay_cockpit.actions.flow_verify.VerifyAndRecord`, a base class of
ActionRunner.

Blocking; no method raises (failures come back in the Plan / Outcome), except
on programming errors (an unknown action). Independent of Textual. The
Kubernetes client is imported only when the first request is made.
"""

from __future__ import annotations

import secrets as _secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from clay_cockpit.actions.flow_verify import MAX_ISSUED, ProgressSink, VerifyAndRecord, _bug, _Emitter
from clay_cockpit.actions.ratelimit import RateLimitInfo, rate_limits_seen
from clay_cockpit.actions.types import (
    ActionKind,
    AdminError,
    Confirmation,
    DryRun,
    Failure,
    FailureKind,
    FieldChange,
    Inputs,
    LeaseInfo,
    Outcome,
    PermissionCheck,
    Plan,
    ProbeResult,
    ProbeVerdict,
    Progress,
    SecretValue,
    Stage,
    Verification,
    VerifyState,
)
from clay_cockpit.config import Config
from clay_cockpit.incident.events import default_actor
from clay_cockpit.incident.timeline import EventKind, TimelineError
from clay_cockpit.runbook import ActionId

if TYPE_CHECKING:
    from clay_cockpit.actions.plans import ActionSpec, Applied, Ctx
    from clay_cockpit.incident.lifecycle import IncidentStore
    from clay_cockpit.sources.kube_admin import KubeAdmin
    from clay_cockpit.sources.kube_lease import Leases

__all__ = [
    "ActionKind",
    "ActionRunner",
    "Confirmation",
    "DryRun",
    "Failure",
    "FailureKind",
    "FieldChange",
    "LeaseInfo",
    "Outcome",
    "PermissionCheck",
    "Plan",
    "ProbeResult",
    "ProbeVerdict",
    "Progress",
    "RateLimitInfo",
    "SecretValue",
    "Stage",
    "Verification",
    "VerifyState",
    "rate_limits_seen",
    "relevant_actions",
    "specs",
]

PLAN_TTL = 600.0  # seconds: an older plan must be made again before it is confirmed
CONFIRM_TTL = 900.0  # seconds a confirmation (and its retries) stays valid
POLL = 1.0  # seconds between looks while following an effect
RECORDED_BLOCKS = frozenset({FailureKind.FORBIDDEN, FailureKind.REFUSED, FailureKind.PAUSED, FailureKind.NOT_FOUND})


def specs() -> tuple[ActionSpec, ...]:
    """The action catalog, in the order the actions pane lists it."""
    from clay_cockpit.actions.plans import SPECS

    return tuple(SPECS.values())


def relevant_actions(action_ids: Iterable[ActionId]) -> frozenset[ActionKind]:
    """The actions to highlight for triage's runbook actions (``Assessment.actions`` ids);
    the ones that turn a mitigation off are never highlighted."""
    wanted = set(action_ids)
    return frozenset(s.kind for s in specs() if s.runbook in wanted and not s.undo)


class ActionRunner(VerifyAndRecord):
    """Runs the remediation actions for one config, as one responder.

    ``identity`` (the Lease holder) is ``actor`` + ``+`` + a random cockpit
    id, so two cockpits of the same user are still told apart. ``read_only``
    (or ``config.kube.read_only``) makes the adapter refuse every mutating
    request; plans and permission checks still work.
    """

    def __init__(
        self,
        config: Config,
        *,
        store: IncidentStore | None = None,
        read_only: bool = False,
        actor: str | None = None,
        cockpit_id: str | None = None,
        admin: KubeAdmin | None = None,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
        poll: float = POLL,
    ) -> None:
        from clay_cockpit.actions.plans import Ctx
        from clay_cockpit.sources.kube_admin import KubeAdmin
        from clay_cockpit.sources.kube_lease import Leases

        self.config = config
        self.store = store
        self.actor = actor or default_actor()
        self.identity = f"{self.actor}+{cockpit_id or _secrets.token_hex(3)}"
        self.admin = admin or KubeAdmin(config.kube, read_only=read_only, escalation=config.escalation.contact)
        if read_only and not self.admin.read_only:
            raise ValueError("read_only runner with a writable adapter")
        self.leases: Leases = Leases(self.admin, self.identity, config.actions.lease_seconds, wall=wall)
        self.ctx: Ctx = Ctx(self.admin, config, self.probe_key)
        self._wall, self._monotonic, self._sleep, self._poll = wall, monotonic, sleep, poll
        self._lock = threading.Lock()
        self._issued: OrderedDict[str, tuple[str, Plan, float]] = OrderedDict()
        self._recorded_blocks: OrderedDict[tuple[str, str, str], None] = OrderedDict()
        self._followable: OrderedDict[str, tuple[Plan, Applied]] = OrderedDict()

    def __repr__(self) -> str:
        return f"ActionRunner(identity={self.identity!r}, context={self.admin.context!r}, read_only={self.read_only})"

    @property
    def read_only(self) -> bool:
        return self.admin.read_only

    @property
    def deployments(self) -> tuple[str, ...]:
        return self.config.kube.deployments

    @property
    def escalation(self) -> str:
        return self.config.escalation.contact

    # -- planning ----------------------------------------------------------------

    def plan(
        self,
        kind: ActionKind,
        *,
        deployment: str | None = None,
        new_key: SecretValue | None = None,
        replicas: int | None = None,
        revision: int | None = None,
    ) -> Plan:
        """Step 1: what will change (reads only)."""
        from clay_cockpit.actions.plans import SPECS, plan_changes

        kind = ActionKind(kind)
        spec = SPECS[kind]
        name = deployment or self.deployments[0]
        if name not in self.deployments:
            raise ValueError(f"{name!r} is not one of kube.deployments {self.deployments}")
        title = f"{spec.title}: deployment {name}" if kind is not ActionKind.VERIFY_KEY else spec.title
        plan = Plan(
            id=f"{kind.value}-{_secrets.token_hex(4)}",
            kind=kind,
            title=title,
            runbook=spec.runbook,
            context=self.admin.context,
            namespace=self.admin.namespace,
            deployment=name,
            mutating=spec.mutating,
            read_only=self.read_only,
            created_at=self._wall(),
            inputs=Inputs(name, new_key, replicas, revision),
        )
        try:
            plan = plan_changes(self.ctx, plan)
            if spec.mutating:
                plan = self._with_lease(plan)
        except AdminError as exc:
            plan = replace(plan, blocked=self._labelled(kind, exc.failure))
        except Exception as exc:  # a bug: say which, never with its text (it may hold a value)
            plan = replace(plan, blocked=_bug(exc, "planning"))
        return replace(plan, context=self.admin.context)

    def _with_lease(self, plan: Plan) -> Plan:
        lease = self.leases.read(plan.deployment)
        if lease is None or not lease.held or lease.ours:
            return replace(plan, lease=lease)
        now = self._wall()
        if lease.stale(now):
            note = f"a stale lease from another cockpit is on it ({lease.describe(now)}): it will be taken over"
        else:
            note = f"another cockpit is changing {plan.deployment}: lease {lease.describe(now)}"
        return replace(plan, lease=lease, notes=(*plan.notes, note))

    def dry_run(self, plan: Plan) -> Plan:
        """Step 2: the server-side dry run of every mutation (skipped in read-only mode: it is a write request)."""
        from clay_cockpit.actions.plans import dry_run

        if plan.stage is not Stage.PLANNED:
            return plan
        if not plan.mutating:
            return replace(plan, stage=Stage.DRY_RUN, dry_run=DryRun(True, "nothing to change: no dry run", skipped="not a change"))
        if plan.blocked is not None:
            return replace(plan, stage=Stage.DRY_RUN, dry_run=DryRun(False, f"not sent: {plan.blocked.message}", skipped="blocked"))
        if self.read_only:
            result = DryRun(False, "not sent: read-only mode (a dry run is a write request too)", skipped="read-only")
            return replace(plan, stage=Stage.DRY_RUN, dry_run=result, blocked=self._read_only_failure(plan))
        try:
            result = dry_run(self.ctx, plan)
        except AdminError as exc:
            failure = self._labelled(plan.kind, exc.failure)
            return replace(plan, stage=Stage.DRY_RUN, dry_run=DryRun(False, f"refused: {failure.message}", failure), blocked=failure)
        except Exception as exc:
            failure = _bug(exc, "the dry run")
            return replace(plan, stage=Stage.DRY_RUN, dry_run=DryRun(False, failure.message, failure), blocked=failure)
        return replace(plan, stage=Stage.DRY_RUN, dry_run=result)

    def check_permissions(self, plan: Plan) -> Plan:
        """Step 3: a SelfSubjectAccessReview per permission the action needs.
        Denied → blocked, with the escalation contact."""
        from clay_cockpit.actions.plans import SPECS, needs

        if plan.stage is Stage.PLANNED:
            plan = self.dry_run(plan)
        if plan.stage is Stage.CHECKED:
            return plan
        checks: list[PermissionCheck] = []
        blocked = plan.blocked
        if blocked is None or blocked.kind not in (FailureKind.AUTH_EXPIRED, FailureKind.UNREACHABLE, FailureKind.TIMEOUT):
            try:
                checks = [self.admin.review(n) for n in needs(self.config, plan.kind, plan.deployment)]
            except AdminError as exc:
                blocked = blocked or self._labelled(plan.kind, exc.failure)
        denied = [c for c in checks if not c.allowed]
        if denied and (blocked is None or blocked.kind in (FailureKind.READ_ONLY, FailureKind.FORBIDDEN)):
            what = ", ".join(c.what for c in denied)
            forbidden = Failure(
                FailureKind.FORBIDDEN,
                f"{SPECS[plan.kind].label} fails: permission denied ({what}) → escalate to {self.escalation}",
                f"ask {self.escalation} to grant it or to run the action",
                status_code=403,
            )
            blocked = forbidden if blocked is None or blocked.kind is FailureKind.FORBIDDEN else blocked
            if blocked.kind is FailureKind.READ_ONLY:
                plan = replace(plan, notes=(*plan.notes, forbidden.message))
        plan = replace(plan, stage=Stage.CHECKED, permissions=tuple(checks), blocked=blocked)
        self._record_block(plan)
        return plan

    def prepare(
        self,
        kind: ActionKind,
        *,
        deployment: str | None = None,
        new_key: SecretValue | None = None,
        replicas: int | None = None,
        revision: int | None = None,
    ) -> Plan:
        """Steps 1–3 in one call (one worker): the plan the confirm modal shows (``revision``: a rollback's target)."""
        plan = self.plan(kind, deployment=deployment, new_key=new_key, replicas=replicas, revision=revision)
        return self.check_permissions(self.dry_run(plan))

    def replan(self, plan: Plan) -> Plan:
        """The same action with the same inputs, read afresh (after re-authenticating, a conflict, an old plan)."""
        i = plan.inputs
        return self.prepare(plan.kind, deployment=i.deployment or None, new_key=i.new_key, replicas=i.replicas, revision=i.revision)

    # -- confirming ----------------------------------------------------------------

    def confirm(self, plan: Plan, typed: str = "", *, confirmed_by: str | None = None, watching: str = "") -> Confirmation | Failure:
        """Step 4: the responder confirmed in the modal. A Confirmation, or why not.
        ``watching``: the symptom the action should end ("401s"), followed after
        it took effect: the outcome then says "rollout done — watching 401s", not "done"."""
        if not plan.mutating:
            return Failure(FailureKind.NOT_CONFIRMED, f"{plan.title} changes nothing: run it with run_check", "")
        if plan.read_only or self.read_only:
            return self._read_only_failure(plan)
        if plan.stage is not Stage.CHECKED:
            return Failure(FailureKind.NOT_CONFIRMED, "the plan has not been dry-run and permission-checked yet", "prepare it first")
        if plan.blocked is not None:
            return plan.blocked
        age = self._wall() - plan.created_at
        if age > PLAN_TTL:
            return Failure(
                FailureKind.NOT_CONFIRMED, f"the plan is {int(age // 60)} min old", "plan it again so it shows the cluster as it is now"
            )
        if plan.typed_confirmation and typed.strip() != plan.typed_confirmation:
            return Failure(
                FailureKind.NOT_CONFIRMED,
                f"type the deployment name {plan.typed_confirmation!r} to confirm",
                "writing a Secret or scaling down by half or more is confirmed by typing the name",
            )
        token = _secrets.token_urlsafe(16)
        now = self._wall()
        with self._lock:
            self._issued[plan.id] = (token, plan, now)
            while len(self._issued) > MAX_ISSUED:
                self._issued.popitem(last=False)
        return Confirmation(plan, confirmed_by or self.actor, now, bool(plan.typed_confirmation), token, watching)

    def _take(self, confirmation: Confirmation) -> Failure | None:
        """Check and use up a confirmation (single use)."""
        with self._lock:
            issued = self._issued.get(confirmation.plan.id)
            if issued is None or not _secrets.compare_digest(issued[0], confirmation.token or "") or issued[1] is not confirmation.plan:
                return Failure(
                    FailureKind.NOT_CONFIRMED,
                    "no valid confirmation for this plan (not issued here, or already used)",
                    "confirm it in the modal",
                )
            del self._issued[confirmation.plan.id]
        if self._wall() - confirmation.confirmed_at > CONFIRM_TTL:
            return Failure(FailureKind.NOT_CONFIRMED, "the confirmation has expired", "plan it again and confirm again")
        return None

    def _reissue(self, confirmation: Confirmation) -> Confirmation:
        token = _secrets.token_urlsafe(16)
        with self._lock:
            self._issued[confirmation.plan.id] = (token, confirmation.plan, confirmation.confirmed_at)
        return replace(confirmation, token=token)

    # -- applying ------------------------------------------------------------------

    def apply(self, confirmation: Confirmation, *, on_progress: ProgressSink | None = None, stop: threading.Event | None = None) -> Outcome:
        """Steps 5–6: lease, apply, verify, record. Only with a confirmation from :meth:`confirm`."""
        from clay_cockpit.actions.plans import Applied, apply

        plan = confirmation.plan
        refused = self._take(confirmation)
        if refused is not None:
            return Outcome(plan, False, False, refused.message, failure=refused)
        emit = _Emitter(plan, on_progress)
        recorded = self._record(
            EventKind.ACTION_PLANNED,
            f"Confirmed: {plan.title}" + (" (name typed)" if confirmation.typed else ""),
            {
                **plan.to_record(),
                "confirmed_by": confirmation.confirmed_by,
                "typed_name": confirmation.typed,
                "confirmed_at": confirmation.confirmed_at,
            },
        )
        applied = Applied()
        lease: LeaseInfo | None = None
        verification: Verification | None = None
        failure: Failure | None = None
        notes: list[str] = []
        try:
            with self.admin.armed():
                emit("lease", f"taking the lease on deployment {plan.deployment}")
                lease = self.leases.acquire(plan.deployment)
                emit("apply", "applying: " + "; ".join(c.line() for c in plan.changes))
                apply(self.ctx, plan, applied)
                self._record(
                    EventKind.ACTION_APPLIED,
                    f"Applied: {plan.title}",
                    {"plan_id": plan.id, "action": plan.kind.value, "done": applied.done, "lease": lease.to_dict()},
                )
                if applied.look is not None:
                    verification, lease = self._follow(plan, applied.look, applied.timeout, emit, stop, lease, notes)
                else:
                    verification = Verification(VerifyState.SKIPPED, applied.skipped or "nothing to follow")
        except AdminError as exc:
            failure = self._labelled(plan.kind, exc.failure)
        except Exception as exc:  # a bug: the lease is still released below
            failure = _bug(exc, "applying")
        finally:
            if lease is not None:
                notes += self._release(lease)
        return self._finish(confirmation, applied, verification, failure, recorded, notes, emit)

    def _release(self, lease: LeaseInfo) -> list[str]:
        try:
            with self.admin.armed():
                self.leases.release(lease)
        except AdminError as exc:
            return [f"lease {lease.name} not released ({exc.failure.message}); it goes stale after {int(lease.duration)} s"]
        return []

    # -- the non-mutating action -------------------------------------------------

    def run_check(self, plan: Plan, *, on_progress: ProgressSink | None = None) -> Outcome:
        """Verify the key now in the Secret with Clay's probe URL (no confirmation, works read-only)."""
        if plan.kind is not ActionKind.VERIFY_KEY:
            raise ValueError(f"{plan.kind} changes the cluster: confirm it and apply it")
        if plan.blocked is not None:
            return Outcome(plan, False, False, plan.blocked.message, failure=plan.blocked)
        emit = _Emitter(plan, on_progress)
        secret = self.config.kube.secret
        try:
            emit("verify", f"reading Secret {plan.namespace}/{secret.name}")
            current, _ = self.admin.secret_key(secret.name, secret.key)
        except AdminError as exc:
            failure = self._labelled(plan.kind, exc.failure)
            return Outcome(plan, False, False, failure.message, failure=failure)
        if current is None:
            failure = Failure(FailureKind.NOT_FOUND, f"Secret {plan.namespace}/{secret.name} has no key {secret.key}", "check the config")
            return Outcome(plan, False, False, failure.message, failure=failure)
        emit("verify", f"asking Clay about {current.fingerprint}")
        probe = self.probe_key(current)
        changed = plan.base("fingerprint") not in (None, current.fingerprint)
        summary = f"Key in Secret {secret.name} ({current.fingerprint}): {probe.meaning}"
        state = VerifyState.OK if probe.conclusive else VerifyState.FAILED
        verification = Verification(
            state, summary, () if probe.conclusive else ("a conclusive answer from Clay",), probe.elapsed_ms / 1000.0, {"probe": probe}
        )
        notes = ("the Secret changed since the plan",) if changed else ()
        recorded = self._record(
            EventKind.ACTION_VERIFIED,
            summary,
            {
                "plan_id": plan.id,
                "action": plan.kind.value,
                "valid": probe.valid,  # the check ran; the key may still be refused
                "verification": verification.to_dict(),
            },
        )
        emit("done", summary)
        return Outcome(
            plan,
            probe.valid,
            False,
            summary,
            verification=verification,
            probe=probe,
            recorded=recorded,
            notes=notes,
            offer=ActionKind.UPDATE_KEY if probe.verdict is ProbeVerdict.INVALID else None,
        )

    def probe_key(self, key: SecretValue) -> ProbeResult:
        """Ask Clay about a key (a new one before it is written, or the Secret's)."""
        from clay_cockpit.sources.clay_probe import probe_key

        return probe_key(self.config.clay, key, timeout=self.config.actions.probe_timeout)

    def lease_status(self, deployment: str | None = None) -> LeaseInfo | Failure | None:
        """Who holds the deployment's lease (None: nobody ever took it)."""
        try:
            return self.leases.read(deployment or self.deployments[0])
        except AdminError as exc:
            return exc.failure

    def close(self) -> None:
        self.admin.forget_client()

    # -- helpers -------------------------------------------------------------------

    def _labelled(self, kind: ActionKind, failure: Failure) -> Failure:
        """A 403 reads "Secret rotation fails: permission denied → escalate to …"."""
        from clay_cockpit.actions.plans import SPECS

        if failure.kind is FailureKind.FORBIDDEN and "escalate to" not in failure.message:
            detail = failure.message.removeprefix("permission denied while ")
            return replace(
                failure,
                message=f"{SPECS[kind].label} fails: permission denied → escalate to {self.escalation} ({detail})",
                hint=f"ask {self.escalation} to grant it or to run the action",
            )
        return failure

    def _read_only_failure(self, plan: Plan) -> Failure:
        return Failure(
            FailureKind.READ_ONLY,
            f"read-only: {plan.title} is shown, not run (context {plan.context})",
            "the cockpit runs read-only for this context (--read-only or kube.read_only)",
        )

    def _record(self, kind: EventKind, summary: str, data: dict[str, Any]) -> bool:
        if self.store is None:
            return False
        try:
            return self.store.record(kind, summary, data, actor=self.actor) is not None
        except TimelineError:
            return False

    def _record_block(self, plan: Plan) -> None:
        """A plan stopped before confirmation by a refusal or a denial is evidence too (once per reason)."""
        b = plan.blocked
        if b is None or b.kind not in RECORDED_BLOCKS:
            return
        key = (plan.kind.value, plan.deployment, b.message)
        with self._lock:
            if key in self._recorded_blocks:
                return
            self._recorded_blocks[key] = None
            while len(self._recorded_blocks) > 64:
                self._recorded_blocks.popitem(last=False)
        self._record(
            EventKind.ACTION_FAILED, f"{plan.title}: stopped before confirmation — {b.message}", {**plan.to_record(), "stage": "plan"}
        )
