"""What the actions pane shows beside the actions, read from the cluster:
the deployment's replicas, the mitigation flags (ConfigMap or pod-template
env), where a rollback would go (its rollout history), the deployment's lease and what each action may not do (a
SelfSubjectAccessReview per permission it needs).

Blocking (through :class:`clay_cockpit.actions.flow.ActionRunner`'s adapter): the
actions desk calls :func:`read_status` from a thread worker every
``STATUS_EVERY`` seconds and after each action. No Textual here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from clay_cockpit.actions.types import ActionKind, AdminError, Failure, FailureKind, LeaseInfo, Need
from clay_cockpit.config import Config

if TYPE_CHECKING:
    from clay_cockpit.actions.flow import ActionRunner


@dataclass(frozen=True)
class ActionsStatus:
    """What the pane shows beside the actions, read from the cluster."""

    replicas: int | None = None
    ready: int | None = None
    flags: tuple[tuple[str, str | None], ...] = ()  # ("queuing", "true")
    lease: LeaseInfo | None = None
    denied: tuple[tuple[ActionKind, str], ...] = ()  # what each action may not do
    failure: Failure | None = None
    checked: bool = False  # the permissions were checked
    rollback: str = ""  # where a rollback goes: "to revision 1 · clay-sync:1.14.1"
    no_rollback: str = ""  # why there is none: "no previous revision"

    def flag(self, which: str) -> str | None:
        return dict(self.flags).get(which)


def read_status(runner: ActionRunner, config: Config, deployment: str, old: ActionsStatus, permissions: bool) -> ActionsStatus:
    """One read (blocking). A failure keeps what was read before, with the failure."""
    admin = runner.admin
    flags_cfg = config.kube.flags
    try:
        deploy = admin.deployment(deployment)
        spec, st = deploy.get("spec") or {}, deploy.get("status") or {}
        if flags_cfg.mode == "configmap":
            data = admin.configmap(flags_cfg.configmap).get("data") or {}
        else:
            containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
            env = next((c.get("env") or [] for c in containers if not config.kube.container or c.get("name") == config.kube.container), [])
            data = {e.get("name"): e.get("value") for e in env if isinstance(e, dict)}
        flags = (("queuing", data.get(flags_cfg.queuing_key)), ("fallback", data.get(flags_cfg.fallback_key)))
        from clay_cockpit.actions.rollback import offer

        try:
            rollback, no_rollback = offer(deploy, admin.replicasets(deploy))
        except AdminError as exc:  # (the history unreadable must not hide the rest of the pane)
            if exc.failure.kind is not FailureKind.FORBIDDEN:
                raise
            rollback, no_rollback = "", "the rollout history is not readable: permission denied (list replicasets)"
        lease = runner.lease_status(deployment)
        denied = old.denied
        if permissions or not old.checked:
            denied = denied_actions(runner, config, deployment)
        return ActionsStatus(
            spec.get("replicas"),
            st.get("readyReplicas", 0),
            flags,
            lease if isinstance(lease, LeaseInfo) else None,
            denied,
            lease if isinstance(lease, Failure) else None,
            checked=True,
            rollback=rollback,
            no_rollback=no_rollback,
        )
    except AdminError as exc:
        return replace(old, failure=exc.failure)


def denied_actions(runner: ActionRunner, config: Config, deployment: str) -> tuple[tuple[ActionKind, str], ...]:
    """What each action may not do (each distinct permission asked once)."""
    from clay_cockpit.actions.plans import needs

    answers: dict[Need, Any] = {}
    out = []
    for kind in ActionKind:
        what = []
        for need in needs(config, kind, deployment):
            if need not in answers:
                answers[need] = runner.admin.review(need)
            if not answers[need].allowed:
                what.append(answers[need].what)
        if what:
            out.append((kind, ", ".join(what)))
    return tuple(out)
