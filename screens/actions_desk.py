"""The remediation desk: the actions pane, the modals and the workers that
drive :class:`clay_cockpit.actions.flow.ActionRunner` — plan, dry run, permissions,
confirm, apply, verify — without ever blocking the UI thread.

The app builds one :class:`ActionsDesk` next to the incident desk (right
after the first frame) and routes to it: the action keys (``open``,
``retry``, ``focus``), every snapshot (for the rows triage makes relevant
and the rate-limit headers), and the :class:`ActionsUpdate` messages its
thread workers post. Every cluster or Clay call runs in a thread worker
(:mod:`clay_cockpit.screens.actions_workers`: the workers and their
messages); the UI thread only confirms (in memory) and draws.

The path of one action::

    key ─► (masked key / replica count input) ─► worker: prepare (reads, dry run, SSAR, lease)
        ─► ConfirmScreen (`y` confirms; the name typed for the Secret or a hard scale-down)
        ─► runner.confirm (UI thread, in memory) ─► worker: apply + follow the rollout (progress → pane)
        ─► the symptom it should end, followed on every Signals change (cockpit/actions/follow.py):
           "Mitigated: 401s stopped at …" or "… symptom persists — …: the fix did not work"
           in the pane, a notification and the timeline; a restart offered after a key update

Mitigations in effect (a flag on, a key update or restart whose symptom
ended) are shown as done (✓), never as the next key (▸), and published to
the app as ``Signals.in_effect`` (``on_in_effect``) for triage.

Secrets: the new key lives only in a SecretValue (the plan's inputs), so a
retry after expired credentials loses nothing; nothing here formats it
(its text is its fingerprint).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.content import Content

from clay_cockpit.actions.flow import (
    ActionKind,
    ActionRunner,
    Failure,
    FailureKind,
    Outcome,
    Plan,
    Progress,
    RateLimitInfo,
    SecretValue,
    rate_limits_seen,
)
from clay_cockpit.actions.flow_verify import took_effect
from clay_cockpit.actions.follow import ENDED, SymptomDesk, Watch, follow_from, since_applied, takes_effect_now, watch_for
from clay_cockpit.actions.status import ActionsStatus
from clay_cockpit.actions.symptom import Symptom
from clay_cockpit.config import Config
from clay_cockpit.incident.events import default_actor
from clay_cockpit.runbook import RUNBOOK, ActionId
from clay_cockpit.runbook_file import refusal
from clay_cockpit.screens.actions_draw import ENABLE_OF, FLAG_OF, NO_ADAPTER, ROWS, SPEC, desk_rows, desk_status, pages_hint
from clay_cockpit.screens.actions_workers import Broke, DeskWorkers, Finished, Planned, Probed
from clay_cockpit.screens.confirm import ConfirmScreen
from clay_cockpit.screens.secret_input import KeyInputScreen, ReplicasScreen
from clay_cockpit.signals import InEffect, Signals
from clay_cockpit.triage.tree import Triaged
from clay_cockpit.widgets.actions import ActionsPane, Row

if TYPE_CHECKING:
    from textual.app import App

    from clay_cockpit.incident.lifecycle import IncidentStore
    from clay_cockpit.screens.main import MainScreen

STATUS_EVERY = 15.0  # seconds between reads of the replicas, flags and lease (permissions: at start and after each action)
RETRYABLE = frozenset(
    {
        FailureKind.AUTH_EXPIRED,
        FailureKind.LEASE_HELD,
        FailureKind.UNREACHABLE,
        FailureKind.TIMEOUT,
        FailureKind.SERVER_ERROR,
        FailureKind.CONFLICT,
    }
)

RunnerFactory = Callable[[Config, "IncidentStore | None", Callable[[], float]], ActionRunner]


def default_runner(config: Config, store: IncidentStore | None, clock: Callable[[], float]) -> ActionRunner:
    return ActionRunner(config, store=store, wall=clock)


class ActionsDesk(DeskWorkers):
    """See the module docstring."""

    def __init__(
        self,
        app: App[int],
        main: MainScreen,
        config: Config,
        *,
        clock: Callable[[], float],
        store: IncidentStore | None,
        factory: RunnerFactory | None,
        on_in_effect: Callable[[tuple[InEffect, ...]], None] | None = None,
        on_recorded: Callable[[], None] | None = None,
    ) -> None:
        self.app = app
        self.main = main
        self.config = config
        self.clock = clock
        self.store = store
        self.read_only = config.kube.read_only
        self.deployment = config.kube.deployments[0] if config.kube.deployments else ""
        self._factory = factory  # None: no cluster adapter (the app runs on test sources): the actions are shown, not run
        self._runner: ActionRunner | None = None
        self._runner_lock = threading.Lock()
        self.stop_event = threading.Event()
        self.busy = ""  # "planning …", "running …", "verifying …" while a worker runs
        self.status = ActionsStatus()
        self.relevant: frozenset[str] = frozenset()  # row ids
        self.rate: RateLimitInfo | None = None
        self._logs_seen: object = None
        self.progress: Progress | None = None
        self.last: Outcome | None = None
        self.problem: Failure | None = None  # a plan stopped by something a retry may fix
        self.retry_plan: Plan | None = None
        self._key_screen: KeyInputScreen | None = None
        self._status_busy = False
        self._in_slot = False  # below 120 columns: the pane in the checklist's slot (x), else the checklist (c)
        self._slot_applied = False
        self.signals: Signals | None = None
        self.triaged: Triaged | None = None
        self.symptoms = SymptomDesk(store, clock)
        self._watch: dict[str, Watch] = {}  # plan id → what it should end (bounded: cleared when it finishes)
        self._carry: Watch | None = None  # a key update / flag that takes effect at the next restart
        self.newest = ""  # what the status line shows after an action: "outcome" or "symptom"
        self._on_in_effect = on_in_effect
        self._on_recorded = on_recorded
        self._published: tuple[InEffect, ...] = ()
        self.flag_since: dict[str, float | None] = {}
        self._applied_at: dict[str, float] = {}  # ActionKind value → when this cockpit applied it
        self._confirmed_at: dict[str, float] = {}  # plan id → when it was confirmed (bounded)
        self.pane = ActionsPane(self.rows(), read_only=self.read_only, id="actions")

    # -- set-up -------------------------------------------------------------------

    def start(self) -> None:
        self.main.add_decision_pane(self.pane)
        self.pane.set_deployment(self.deployment, self.config.kube.deployments)
        self.main.screen_layout_refresh_signal.subscribe(self.main, self._apply_slot)
        if self._factory is None:
            self._draw()
            return
        self.refresh_status(permissions=True)
        self.app.set_interval(STATUS_EVERY, self.refresh_status)

    def stop(self) -> None:
        """The app quits: a running action stops following (its change stays), the lease is released;
        the symptom's follow ends (nothing more is written)."""
        self.stop_event.set()
        self.symptoms.stop()

    @property
    def has_adapter(self) -> bool:
        return self._factory is not None

    def runner(self) -> ActionRunner:
        """Built on first use, in a worker (it loads the Kubernetes adapter)."""
        with self._runner_lock:
            if self._runner is None:
                assert self._factory is not None, "no cluster adapter"
                self._runner = self._factory(self.config, self.store, self.clock)
            return self._runner

    # -- fed by the app ---------------------------------------------------------------

    def signals_changed(self, signals: Signals, triaged: Triaged | None) -> None:
        changed = False
        self.signals = signals
        self.triaged = triaged or self.triaged
        if self.symptoms.current is not None or self.symptoms.finished:
            changed |= self._look(signals)
        else:
            self.symptoms.resume()
            changed |= bool(self.symptoms.finished)
        if triaged is not None:
            ids = {a.id for a in triaged.assessment.todo}  # (what is in effect already is never the next key)
            relevant = frozenset(r.id for r in ROWS if r.runbook in ids)
            changed |= relevant != self.relevant
            self.relevant = relevant
        if signals.recent_logs is not self._logs_seen:
            self._logs_seen = signals.recent_logs
            rate = rate_limits_seen(signals.recent_logs) if signals.recent_logs else None
            changed |= rate != self.rate
            self.rate = rate
        if changed:
            self._publish()
            self._draw()

    def _look(self, signals: Signals) -> bool:
        """Follow the symptom one look further; True when what the pane says changed."""
        before = (self.symptoms.verdict, self.symptoms.last())
        done = self.symptoms.look(signals)
        if done is not None:
            self.newest = "symptom"
            v = done.verdict
            if v.state == ENDED:
                self.app.notify(v.summary, title="Mitigated", timeout=10)
            else:
                self.app.notify(v.summary, title="The fix did not work", severity="error", timeout=10)
            if self._on_recorded is not None:
                self._on_recorded()
        for problem in list(self.symptoms.problems):
            self.app.notify(f"not recorded: {problem}", title="Timeline", severity="error")
        self.symptoms.problems.clear()
        return (self.symptoms.verdict, self.symptoms.last()) != before

    def waiting_for_restart(self, runbook: str = "") -> bool:
        """A key update or a flag is applied but reaches the pods only at their next restart (``runbook``: that one)."""
        return self._carry is not None and (not runbook or runbook in self._carry.carries)

    def in_effect(self) -> tuple[InEffect, ...]:
        """The mitigations in place: the flags read from the cluster, and a key
        update or restart whose symptom ended."""
        out = list(self.symptoms.in_effect())
        flags = self.config.kube.flags
        for row_id, kind in ENABLE_OF.items():
            if self.status.flag(FLAG_OF[row_id]) != "true":
                continue
            key = flags.queuing_key if row_id == "queuing" else flags.fallback_key
            where = f"ConfigMap {flags.configmap}" if flags.mode == "configmap" else f"the pod template of deployment {self.deployment}"
            pending = " (the pods read it at their next restart)" if self.waiting_for_restart(SPEC[row_id].runbook.value) else ""
            out.append(InEffect(SPEC[row_id].runbook.value, f"{key}=true in {where}{pending}", self.flag_since.get(kind.value)))
        return tuple(sorted(out, key=lambda e: e.action))

    def _publish(self) -> None:
        values = self.in_effect()
        if values != self._published:
            self._published = values
            if self._on_in_effect is not None:
                self._on_in_effect(values)

    def update(self, value: object) -> None:
        """A worker's result, on the UI thread."""
        if isinstance(value, Progress):
            self.progress = value
        elif isinstance(value, ActionsStatus):
            self._status_busy = False
            self.status = value
            self.flag_since = {
                kind.value: since_applied(self.store, kind.value, self._applied_at)
                for row_id, kind in ENABLE_OF.items()
                if self.status.flag(FLAG_OF[row_id]) == "true"
            }
            self._publish()
        elif isinstance(value, Planned):
            self.busy = ""
            self._planned(value)
        elif isinstance(value, Finished):
            self.busy = ""
            self._finished(value.outcome)
        elif isinstance(value, Probed):
            if self._key_screen is not None and self._key_screen.is_attached:
                self._key_screen.show_probe(value.result)
        elif isinstance(value, Broke):
            self.busy = ""
            self._status_busy = False if value.what == "status" else self._status_busy
            self.app.notify(
                f"unexpected {value.error} while {value.what}: a bug in the cockpit; nothing more was sent",
                title="Action",
                severity="error",
            )
        self._draw()

    # -- the keys ---------------------------------------------------------------------

    def focus(self) -> None:
        """``x``: the keyboard to the actions pane (below 120 columns: in the checklist's place)."""
        self.show_pane(True)
        self.pane.focus_body()

    def show_pane(self, on: bool) -> None:
        """Below 120 columns the pane and the checklist share a slot of the
        decision view: ``x`` puts the pane there, ``c`` the checklist back."""
        self._in_slot = on
        if on and not self.main.is_wide:
            self.main.show_decision(True)
        self._apply_slot()

    def pane_on_screen(self) -> bool:
        return self.main.is_wide or (self._in_slot and self.main.decision_shown)

    def _apply_slot(self, _screen: object = None) -> None:
        """The slot by the widgets' inline styles (a class on the screen would
        restyle every widget, see MainScreen._apply_view); wide, or with the
        checklist in it, the stylesheet decides. Also after a resize (the
        screen's layout-refresh signal), when the width crosses 120 columns."""
        narrow_slot = self._in_slot and not self.main.is_wide
        if narrow_slot == self._slot_applied or not self.main.is_attached:
            return
        self._slot_applied = narrow_slot
        checklist, triage = self.main.checklist, self.main.triage
        if narrow_slot:
            checklist.display = False
            self.pane.display = True
            self.pane.styles.height = "1fr"
            triage.styles.max_height = "40%"  # (the triage pane scrolls; the actions need their rows)
        else:
            checklist.styles.clear_rule("display")
            for rule in ("display", "height"):
                self.pane.styles.clear_rule(rule)
            triage.styles.clear_rule("max_height")
            for widget in (checklist, self.pane, triage):
                widget.refresh(layout=True)

    def open(self, row_id: str) -> None:
        """An action's key: it opens an input or the plan's modal, never more."""
        if self._refuse() or self._constrained(SPEC[row_id].runbook):
            return
        spec = SPEC[row_id]
        if row_id == "verify_key":
            self._start("verifying the key in the Secret", self._check_blocking)
        elif row_id == "update_key":
            secret = self.config.kube.secret
            where = f"Secret {self.config.kube.namespace}/{secret.name}, key {secret.key}"
            self._key_screen = KeyInputScreen(where, self._probe, read_only=self.read_only)
            self.app.push_screen(self._key_screen, self._key_entered)
        elif row_id == "scale":
            self.app.push_screen(ReplicasScreen(self.deployment, self.status.replicas, self.status.ready), self._replicas_entered)
        elif row_id in FLAG_OF:
            self._prepare(self.toggle_kind(row_id), spec.label)
        else:
            self._prepare(spec.kinds[0], spec.label)

    def rollback_to(self, revision: int) -> None:
        """The infrastructure view's ``U`` on an older revision of the History: the
        rollback's plan to that revision (``rollout undo --to-revision``), then the
        same dry run, permissions, Lease and confirm modal as ``U`` here."""
        if self._refuse() or self._constrained(ActionId.ROLLBACK):
            return
        self._prepare(ActionKind.ROLLBACK, f"{SPEC['rollback'].label} to revision {revision}", revision=revision)

    def switch_deployment(self) -> None:
        """``D``: with more than one deployment in ``kube.deployments``, the
        next one becomes the one the actions act on (its replicas, flags and
        lease are read again). Not while an action runs."""
        names = self.config.kube.deployments
        if len(names) < 2:
            self.app.notify(f"only {self.deployment or 'no deployment'} is configured (kube.deployments)", title="Deployment")
            return
        if self.busy:
            self.app.notify(f"{self.busy} — a moment", title="Not yet")
            return
        at = names.index(self.deployment) if self.deployment in names else -1
        self.deployment = names[(at + 1) % len(names)]
        self.status = ActionsStatus()
        self.last = None
        self.problem = None
        self.retry_plan = None
        self._carry = None
        if self.symptoms.current is not None:
            self.symptoms.cancel(f"stopped watching {self.symptoms.current.label}: the actions now act on {self.deployment}")
        self.pane.set_deployment(self.deployment, names)
        self.app.notify(f"actions now act on deployment {self.deployment}", title="Deployment")
        self._draw()
        if self._factory is not None:
            self.refresh_status(permissions=True)

    def retry(self) -> None:
        """``g``: after expired credentials (or another failure that may pass): again, with what was typed."""
        if self._refuse():
            return
        last = self.last
        if last is not None and last.can_follow_again:
            self._start(f"following {last.plan.title} again", partial(self._follow_blocking, last))
        elif self.retry_plan is not None:
            plan = self.retry_plan
            if plan.kind is ActionKind.VERIFY_KEY:
                self._start("verifying the key in the Secret", self._check_blocking)
            else:
                self._start(f"planning {plan.title} again", partial(self._replan_blocking, plan))
        elif self.status.failure is not None:
            self.refresh_status(permissions=True)
            self.app.notify("reading the deployment, flags and lease again", title="Retry")
        else:
            self.app.notify("nothing failed that a retry would fix", title="Retry")

    def _refuse(self) -> bool:
        if self._factory is None:
            self.app.notify(NO_ADAPTER, title="Actions", severity="warning")
            return True
        if self.busy:
            self.app.notify(f"{self.busy} — one action at a time (the actions pane shows it)", title="Busy", severity="warning")
            return True
        return any(isinstance(s, (ConfirmScreen, KeyInputScreen, ReplicasScreen)) for s in self.app.screen_stack)  # one of ours is open

    def _constrained(self, action: ActionId) -> bool:
        """A team runbook's constraint refuses this responder the action now (issue 18: e.g. a restart during
        business hours needs the incident commander): said, and nothing opens."""
        inc = self.store.incident if self.store is not None else None
        responder = self.config.shared.responder or default_actor()
        why = refusal(RUNBOOK, action, self.clock(), responder, inc.commander if inc else "")
        if why is not None:
            self.app.notify(why, title="Runbook constraint", severity="warning", timeout=10)
        return why is not None

    def toggle_kind(self, row_id: str) -> ActionKind:
        on = self.status.flag(FLAG_OF[row_id]) == "true"
        if row_id == "queuing":
            return ActionKind.DISABLE_QUEUING if on else ActionKind.ENABLE_QUEUING
        return ActionKind.DISABLE_FALLBACK if on else ActionKind.ENABLE_FALLBACK

    # -- the steps (UI thread) ------------------------------------------------------------

    def _key_entered(self, key: SecretValue | None) -> None:
        self._key_screen = None
        if key is not None:
            self._prepare(ActionKind.UPDATE_KEY, SPEC["update_key"].label, new_key=key)

    def _replicas_entered(self, replicas: int | None) -> None:
        if replicas is not None:
            self._prepare(ActionKind.SCALE, SPEC["scale"].label, replicas=replicas)

    def _prepare(self, kind: ActionKind, label: str, *, offered: str = "", **inputs: Any) -> None:
        self._start(f"planning: {label}", partial(self._prepare_blocking, kind, offered, inputs))

    def _planned(self, planned: Planned) -> None:
        plan = planned.plan
        blocked = plan.blocked
        self.retry_plan = plan if blocked is not None and blocked.kind in RETRYABLE else None
        self.problem = blocked if self.retry_plan is not None else None
        self.app.push_screen(ConfirmScreen(plan, self.clock(), offered=planned.offered), partial(self._confirmed, plan))

    def _confirmed(self, plan: Plan, typed: str | None) -> None:
        if typed is None:
            if plan.ready:
                self.app.notify(f"{plan.title}: cancelled, nothing changed", title="Not run")
            return
        carry = self._carry if plan.kind is ActionKind.RESTART else None
        watch = watch_for(plan, carry, self.triaged.assessment if self.triaged is not None else None, self.signals or Signals())
        got = self.runner().confirm(plan, typed, watching=watch.label if watch is not None else "")
        if isinstance(got, Failure):
            self.app.notify(got.line(), title="Not confirmed", severity="error")
            return
        if watch is not None:
            self._watch[plan.id] = watch
            while len(self._watch) > 8:
                self._watch.pop(next(iter(self._watch)))
        self._confirmed_at[plan.id] = self.clock()  # (the apply starts now)
        while len(self._confirmed_at) > 8:
            self._confirmed_at.pop(next(iter(self._confirmed_at)))
        if plan.kind is ActionKind.RESTART:
            self._carry = None  # taken by this restart (its watch carries it)
        self.retry_plan, self.problem, self.progress = None, None, None
        self.show_pane(True)
        self._start(f"running: {plan.title}", partial(self._apply_blocking, got))

    def _finished(self, outcome: Outcome) -> None:
        self.last, self.progress = outcome, None
        self.newest = "outcome"
        f = outcome.failure
        retryable = f is not None and not outcome.applied and f.kind in RETRYABLE
        self.retry_plan = outcome.plan if retryable else None
        self.problem = f if retryable else None
        plan = outcome.plan
        if outcome.applied:
            self._applied_at[plan.kind.value] = self._confirmed_at.pop(plan.id, self.clock())
        watch = self._watch.pop(plan.id, None)
        if watch is not None and outcome.applied and not takes_effect_now(plan):
            # takes effect when the pods restart: the restart offered next carries the symptom
            self._carry = replace(watch, carries=(*watch.carries, plan.runbook.value)) if outcome.ok else None
        elif watch is not None and outcome.applied:
            self._begin(outcome, watch)
            self.refresh_status(permissions=True)
            if self.symptoms.current is None:  # a final verdict at once: its notification said it
                return
            if outcome.ok:
                self.app.notify(outcome.summary, title=f"Watching {watch.label}", timeout=8)
            elif not (watch.symptom is Symptom.PODS_UNREADY and f is not None and f.kind is FailureKind.VERIFY_FAILED):
                # (a rollout stopped by a crashing new pod: the pods' verdict says it next, once)
                self.app.notify(
                    outcome.summary + (f" — {f.hint}" if f is not None and f.hint else ""), title="Action failed", severity="error"
                )
            return
        if outcome.plan.kind is ActionKind.VERIFY_KEY:
            if outcome.probe is not None and outcome.offer is ActionKind.UPDATE_KEY:
                self.app.notify(f"{outcome.summary} — k updates it", title="Key refused", severity="error")
            else:
                self.app.notify(outcome.summary, title="Key", severity="information" if outcome.ok else "warning")
        elif outcome.ok:
            self.app.notify(outcome.summary, title=took_effect(plan).capitalize() if outcome.watching else "Done")
        else:
            hint = f" — {f.hint}" if f is not None and f.hint else ""
            if f is not None and f.kind is FailureKind.FORBIDDEN:  # the runbook's dead end: E pages someone who can act
                hint += pages_hint(self.config)
            self.app.notify(outcome.summary + hint, title="Action failed", severity="error", timeout=20)
        self.refresh_status(permissions=True)
        if outcome.ok and outcome.applied and outcome.offer is ActionKind.RESTART:
            why = (
                "Offered after the key update: the pods read the key when they start"
                if outcome.plan.kind is ActionKind.UPDATE_KEY
                else "Offered: the pods read the flags when they start"
            )
            self._prepare(ActionKind.RESTART, SPEC["restart"].label, offered=why)

    def _probe(self, key: SecretValue) -> None:
        """The key screen's "verify this key" (not an action: it may run beside one)."""
        self.app.run_worker(
            partial(self._probe_blocking, key),
            thread=True,
            group="actions-probe",
            exclusive=True,
            exit_on_error=False,
            description="Asking Clay about a key",
        )

    def refresh_status(self, permissions: bool = False) -> None:
        if self._status_busy:
            return
        self._status_busy = True
        self.app.run_worker(
            partial(self._guarded, "status", partial(self._status_blocking, permissions)),
            thread=True,
            group="actions-status",
            exit_on_error=False,
            description="Reading the deployment, flags and lease",
        )

    def _begin(self, outcome: Outcome, watch: Watch) -> None:
        """The change took effect (or stopped half-way): follow the symptom from the next Signals on."""
        self.newest = "symptom"
        self.symptoms.begin(follow_from(outcome, watch, self.clock(), self.config.actions, self.status.replicas))
        if self.signals is not None:
            self._look(self.signals)

    def _start(self, busy: str, work: Callable[[], object]) -> None:
        self.busy = busy
        self.show_pane(True)  # the pane says what runs (a toast would cover the modal that opens next)
        self.app.run_worker(
            partial(self._guarded, busy, work), thread=True, group="actions", exit_on_error=False, description=busy[:1].upper() + busy[1:]
        )
        self._draw()

    # -- drawing ----------------------------------------------------------------------------

    def rows(self) -> list[Row]:
        return desk_rows(self)

    def status_content(self) -> Content | None:
        return desk_status(self)

    def tick(self) -> None:
        """The app's age timer: relative times (a lease held "35 s ago") move
        on; only a line whose text changed is repainted."""
        self._draw()

    def _draw(self) -> None:
        if not self.pane.is_attached:
            return
        self.pane.show(self.rows())
        self.pane.show_status(self.status_content())
