"""What each action changes, how it is dry-run, which permissions it needs,
how it is applied and how its effect is followed.

Used by :class:`clay_cockpit.actions.flow.ActionRunner` (which owns the path, the
confirmation, the lease and the record); everything here is one action's
knowledge. Blocking reads and writes go through
:class:`~clay_cockpit.sources.kube_admin.KubeAdmin` and raise
:class:`~clay_cockpit.actions.types.AdminError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from clay_cockpit.actions import rollback
from clay_cockpit.actions.types import (
    ActionKind,
    AdminError,
    DryRun,
    Failure,
    FailureKind,
    FieldChange,
    Need,
    Plan,
    ProbeResult,
    ProbeVerdict,
    SecretValue,
)
from clay_cockpit.config import Config
from clay_cockpit.runbook import ActionId
from clay_cockpit.sources.kube_admin import RESTARTED_AT, KubeAdmin, paused_failure
from clay_cockpit.sources.kube_rollout import Look, rollout_state, scale_state
from clay_cockpit.text import safe_url

MAX_REPLICAS = 200
APPLY_TIME = "the time of apply (RFC 3339, as kubectl writes it)"


@dataclass(frozen=True)
class ActionSpec:
    """One action in the catalog the actions pane lists."""

    kind: ActionKind
    title: str  # "Restart pods"
    runbook: ActionId  # the runbook's immediate action it carries out (or undoes)
    mutating: bool
    label: str  # for "… fails: permission denied": "Restart", "Secret rotation"
    needs_input: str = ""  # "", "key" (a masked input) or "replicas"
    undo: bool = False  # turns a mitigation off: never highlighted by triage


SPECS: dict[ActionKind, ActionSpec] = {
    s.kind: s
    for s in (
        ActionSpec(ActionKind.VERIFY_KEY, "Verify the Clay API key in the Secret", ActionId.VERIFY_KEY, False, "Key verification"),
        ActionSpec(ActionKind.UPDATE_KEY, "Update the Clay API key", ActionId.UPDATE_KEY, True, "Secret rotation", needs_input="key"),
        ActionSpec(ActionKind.RESTART, "Restart the pods (rollout restart)", ActionId.RESTART, True, "Restart"),
        ActionSpec(ActionKind.ENABLE_QUEUING, "Enable request queuing", ActionId.ENABLE_QUEUING, True, "Enabling queuing"),
        ActionSpec(ActionKind.DISABLE_QUEUING, "Disable request queuing", ActionId.ENABLE_QUEUING, True, "Disabling queuing", undo=True),
        ActionSpec(
            ActionKind.ENABLE_FALLBACK, "Enable graceful degradation (fallback)", ActionId.ENABLE_FALLBACK, True, "Enabling fallback"
        ),
        ActionSpec(
            ActionKind.DISABLE_FALLBACK,
            "Disable graceful degradation (fallback)",
            ActionId.ENABLE_FALLBACK,
            True,
            "Disabling fallback",
            undo=True,
        ),
        ActionSpec(ActionKind.SCALE, "Scale the deployment", ActionId.SCALE, True, "Scaling", needs_input="replicas"),
        ActionSpec(ActionKind.ROLLBACK, "Roll back (rollout undo)", ActionId.ROLLBACK, True, "Rollback"),
    )
}

FLAGS: dict[ActionKind, tuple[str, str]] = {  # kind → (which flag, value)
    ActionKind.ENABLE_QUEUING: ("queuing", "true"),
    ActionKind.DISABLE_QUEUING: ("queuing", "false"),
    ActionKind.ENABLE_FALLBACK: ("fallback", "true"),
    ActionKind.DISABLE_FALLBACK: ("fallback", "false"),
}


@dataclass
class Ctx:
    admin: KubeAdmin
    config: Config
    probe: Callable[[SecretValue], ProbeResult]

    @property
    def ns(self) -> str:
        return self.admin.namespace


@dataclass
class Applied:
    """What the apply step did and how to follow its effect."""

    done: list[str] = field(default_factory=list)  # what changed, one line each (for the record)
    look: Callable[[], Look] | None = None
    timeout: float = 0.0
    offer: ActionKind | None = None
    skipped: str = ""  # why there is nothing to follow
    old_pods: frozenset[str] = frozenset()  # the pods before a rollout or a scale


def flag_key(config: Config, kind: ActionKind) -> tuple[str, str]:
    which, value = FLAGS[kind]
    flags = config.kube.flags
    return (flags.queuing_key if which == "queuing" else flags.fallback_key), value


def flag_restarts(config: Config) -> bool:
    """Does flipping a flag replace the pods (restart on change, or env on the pod template)?"""
    return config.kube.flags.mode == "env" or config.kube.flags.restart_on_change


# --------------------------------------------------------------------------
# Reading the deployment


def _spec(deploy: dict[str, Any]) -> dict[str, Any]:
    return deploy.get("spec") or {}


def _container(deploy: dict[str, Any], wanted: str) -> dict[str, Any]:
    containers = ((_spec(deploy).get("template") or {}).get("spec") or {}).get("containers") or []
    for c in containers:
        if isinstance(c, dict) and (not wanted or c.get("name") == wanted):
            return c
    raise AdminError(
        Failure(
            FailureKind.NOT_FOUND,
            f"deployment {deploy.get('metadata', {}).get('name')} has no container {wanted!r}",
            "check kube.container in the config",
        )
    )


def _env_value(container: dict[str, Any], key: str) -> str:
    for e in container.get("env") or []:
        if isinstance(e, dict) and e.get("name") == key:
            return str(e["value"]) if "value" in e else "(from valueFrom)"
    return "(unset)"


def _pods_note(admin: KubeAdmin, deploy: dict[str, Any]) -> tuple[str, frozenset[str]]:
    pods = admin.pods()
    names = sorted(str((p.get("metadata") or {}).get("name")) for p in pods)
    ru = (_spec(deploy).get("strategy") or {}).get("rollingUpdate") or {}
    how = f"rolling update, maxSurge {ru.get('maxSurge', '25%')}, maxUnavailable {ru.get('maxUnavailable', '25%')}"
    shown = ", ".join(names[:4]) + (f" … (+{len(names) - 4})" if len(names) > 4 else "")
    return f"replaces {len(names)} pods ({shown}) by a {how}", frozenset(names)


def _restart_change(ctx: Ctx, name: str, deploy: dict[str, Any]) -> FieldChange:
    before = (((_spec(deploy).get("template") or {}).get("metadata") or {}).get("annotations") or {}).get(RESTARTED_AT, "(unset)")
    return FieldChange(f"Deployment {ctx.ns}/{name}", f"spec.template.metadata.annotations[{RESTARTED_AT}]", before, APPLY_TIME)


# --------------------------------------------------------------------------
# Planning: the changes, before → after


def plan_changes(ctx: Ctx, plan: Plan) -> Plan:
    """Fill in the plan's changes (raises AdminError when a read fails)."""
    kind, name, cfg = plan.kind, plan.deployment, ctx.config
    if kind is ActionKind.RESTART:
        deploy = ctx.admin.deployment(name)
        note, _ = _pods_note(ctx.admin, deploy)
        blocked = paused_failure(name, ctx.ns, ctx.admin.context) if _spec(deploy).get("paused") else None
        return replace(
            plan,
            changes=(_restart_change(ctx, name, deploy),),
            notes=(note,),
            replaces_pods=True,
            blocked=blocked,
            basis=(("generation", deploy.get("metadata", {}).get("generation", 0)),),
        )
    if kind is ActionKind.VERIFY_KEY:
        secret = cfg.kube.secret
        current, _rv = ctx.admin.secret_key(secret.name, secret.key)
        if current is None:
            return replace(
                plan,
                blocked=Failure(
                    FailureKind.NOT_FOUND,
                    f"Secret {ctx.ns}/{secret.name} has no key {secret.key}",
                    "check kube.secret.name / kube.secret.key in the config",
                ),
            )
        note = f"calls {safe_url(cfg.clay.probe_url)} with the key now in Secret {ctx.ns}/{secret.name} ({current.fingerprint})"
        return replace(plan, notes=(note,), basis=(("fingerprint", current.fingerprint),))
    if kind is ActionKind.UPDATE_KEY:
        return _plan_key(ctx, plan)
    if kind in FLAGS:
        return _plan_flag(ctx, plan)
    if kind is ActionKind.SCALE:
        return _plan_scale(ctx, plan)
    if kind is ActionKind.ROLLBACK:
        return rollback.plan(ctx.admin, plan, _pods_note)
    raise ValueError(f"unknown action {kind!r}")


def _invalid(plan: Plan, message: str, hint: str) -> Plan:
    return replace(plan, blocked=Failure(FailureKind.INVALID_INPUT, message, hint))


def _plan_key(ctx: Ctx, plan: Plan) -> Plan:
    key, secret = plan.inputs.new_key, ctx.config.kube.secret
    if key is None or key.empty:
        return _invalid(plan, "no new key given", "paste the new Clay API key into the masked field")
    if key.reveal() != key.reveal().strip():
        return _invalid(
            plan,
            f"the new key ({key.fingerprint}) starts or ends with a space or line break",
            "paste it again without the surrounding whitespace",
        )
    current, rv = ctx.admin.secret_key(secret.name, secret.key)
    change = FieldChange(
        f"Secret {ctx.ns}/{secret.name}", f"data.{secret.key}", current.fingerprint if current else "(unset)", key.fingerprint, secret=True
    )
    if current is not None and current == key:
        plan = replace(plan, changes=(change,))
        return _invalid(
            plan, f"Secret {secret.name} already holds this key ({key.fingerprint})", "if the pods still use an older key, restart them"
        )
    probe = ctx.probe(key)
    notes = [f"new key, checked with Clay: {probe.meaning}"]
    if probe.verdict is ProbeVerdict.INVALID:
        notes.append("Clay refuses the new key: writing it will not end the 401s — check you have the rotated key")
    notes.append("the pods read the key when they start: a restart is offered after the write")
    return replace(
        plan,
        changes=(change,),
        probe=probe,
        notes=tuple(notes),
        changes_secret=True,
        typed_confirmation=plan.deployment,
        basis=(("resource_version", rv),),
    )


def _plan_flag(ctx: Ctx, plan: Plan) -> Plan:
    cfg, name = ctx.config, plan.deployment
    key, value = flag_key(cfg, plan.kind)
    flags = cfg.kube.flags
    changes: list[FieldChange] = []
    notes: list[str] = []
    basis: list[tuple[str, Any]] = []
    if flags.mode == "configmap":
        cm = ctx.admin.configmap(flags.configmap)
        before = (cm.get("data") or {}).get(key)
        change = FieldChange(f"ConfigMap {ctx.ns}/{flags.configmap}", f"data.{key}", "(unset)" if before is None else str(before), value)
        if before == value:
            return _invalid(
                replace(plan, changes=(change,)),
                f"{key} is already {value!r} in ConfigMap {flags.configmap}",
                "pods started before the change still run with the old value: restart them",
            )
        changes.append(change)
        basis.append(("resource_version", str((cm.get("metadata") or {}).get("resourceVersion") or "")))
        if not flags.restart_on_change:
            notes.append("the pods read the flags when they start: it takes effect at their next restart (offered after)")
            return replace(plan, changes=tuple(changes), notes=tuple(notes), basis=tuple(basis))
        deploy = ctx.admin.deployment(name)
        changes.append(_restart_change(ctx, name, deploy))
        notes.append("then restarts the pods: they read the flags when they start (kube.flags.restart_on_change)")
    else:
        deploy = ctx.admin.deployment(name)
        container = _container(deploy, cfg.kube.container)
        before = _env_value(container, key)
        change = FieldChange(
            f"Deployment {ctx.ns}/{name}", f"spec.template.spec.containers[{container.get('name')}].env[{key}]", before, value
        )
        if before == value:
            return _invalid(replace(plan, changes=(change,)), f"{key} is already {value!r} on deployment {name}", "nothing to change")
        changes.append(change)
        basis.append(("container", str(container.get("name"))))
        notes.append("changing the pod template rolls the pods (kube.flags.mode = env)")
    note, _ = _pods_note(ctx.admin, deploy)
    notes.insert(0, note)
    blocked = paused_failure(name, ctx.ns, ctx.admin.context) if _spec(deploy).get("paused") else None
    basis.append(("generation", deploy.get("metadata", {}).get("generation", 0)))
    return replace(plan, changes=tuple(changes), notes=tuple(notes), basis=tuple(basis), replaces_pods=True, blocked=blocked)


def _plan_scale(ctx: Ctx, plan: Plan) -> Plan:
    n, name = plan.inputs.replicas, plan.deployment
    if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= MAX_REPLICAS:
        return _invalid(plan, f"replicas must be a whole number from 0 to {MAX_REPLICAS}, not {n!r}", "type the number of pods wanted")
    deploy = ctx.admin.deployment(name)
    current = _spec(deploy).get("replicas", 1)
    change = FieldChange(f"Deployment {ctx.ns}/{name}", "spec.replicas (scale subresource)", str(current), str(n))
    if current == n:
        return _invalid(replace(plan, changes=(change,)), f"deployment {name} already has {n} replicas", "nothing to change")
    ready = (deploy.get("status") or {}).get("readyReplicas", 0)
    notes = [f"now {current} replicas ({ready} ready): " + (f"removes {current - n} pods" if n < current else f"adds {n - current} pods")]
    if _spec(deploy).get("paused"):
        notes.append("the deployment is paused: it scales, but no rollout happens")
    return replace(
        plan,
        changes=(change,),
        notes=tuple(notes),
        typed_confirmation=name if hard_scale_down(current, n) else "",
        basis=(("replicas", current),),
    )


def hard_scale_down(current: object, n: int) -> bool:
    """Scaling down by half or more is hard to undo in a hurry (the name is typed); less is one key."""
    return isinstance(current, int) and n < current and (current - n) * 2 >= current


# --------------------------------------------------------------------------
# Permissions


LEASE_NEEDS = tuple(Need(v, "leases", "coordination.k8s.io") for v in ("get", "create", "update"))


def needs(config: Config, kind: ActionKind, deployment: str) -> tuple[Need, ...]:
    """The SelfSubjectAccessReviews an action needs (leases for every mutating one)."""
    k = config.kube
    get_deploy, list_pods = Need("get", "deployments", "apps", name=deployment), Need("list", "pods")
    patch_deploy = Need("patch", "deployments", "apps", name=deployment)
    out: list[Need] = []
    if kind is ActionKind.RESTART:
        out += [get_deploy, patch_deploy, list_pods]
    elif kind is ActionKind.VERIFY_KEY:
        out += [Need("get", "secrets", name=k.secret.name)]
    elif kind is ActionKind.UPDATE_KEY:
        out += [Need("get", "secrets", name=k.secret.name), Need("patch", "secrets", name=k.secret.name)]
    elif kind in FLAGS and k.flags.mode == "configmap":
        out += [Need("get", "configmaps", name=k.flags.configmap), Need("patch", "configmaps", name=k.flags.configmap)]
        if k.flags.restart_on_change:
            out += [get_deploy, patch_deploy, list_pods]
    elif kind in FLAGS:
        out += [get_deploy, patch_deploy, list_pods]
    elif kind is ActionKind.SCALE:
        out += [get_deploy, Need("patch", "deployments", "apps", "scale", name=deployment), list_pods]
    elif kind is ActionKind.ROLLBACK:
        out += [get_deploy, Need("list", "replicasets", "apps"), patch_deploy, list_pods]
    if SPECS[kind].mutating:
        out += LEASE_NEEDS
    return tuple(out)


# --------------------------------------------------------------------------
# Dry run: every mutation of the plan with dryRun=All


def dry_run(ctx: Ctx, plan: Plan) -> DryRun:
    """Raises AdminError when the API server refuses (the runner records it in the plan)."""
    kind, name, cfg, admin = plan.kind, plan.deployment, ctx.config, ctx.admin
    if kind is ActionKind.RESTART:
        _check_restart(admin.restart(name, dry_run=True), name)
        return DryRun(True, "accepted by the API server (dryRun=All): restartedAt set, the pods would roll")
    if kind is ActionKind.UPDATE_KEY:
        new_key = plan.inputs.new_key
        assert new_key is not None
        held, _ = admin.set_secret_key(
            cfg.kube.secret.name, cfg.kube.secret.key, new_key, resource_version=plan.base("resource_version", ""), dry_run=True
        )
        if held != new_key.fingerprint:
            raise AdminError(
                Failure(
                    FailureKind.BAD_RESPONSE,
                    f"the dry run answered with {held}, not the new key {new_key.fingerprint}",
                    "the API server did not take the value as sent: do not apply; check the Secret by hand",
                )
            )
        return DryRun(True, f"accepted by the API server (dryRun=All): Secret {cfg.kube.secret.name} would hold {held}")
    if kind in FLAGS:
        key, value = flag_key(cfg, kind)
        if cfg.kube.flags.mode == "env":
            doc = admin.set_env(name, plan.base("container"), {key: value}, dry_run=True)
            got = _env_value(_container(doc, plan.base("container")), key)
            if got != value:
                raise AdminError(Failure(FailureKind.BAD_RESPONSE, f"the dry run shows {key}={got!r}, not {value!r}", "do not apply"))
            return DryRun(True, f"accepted by the API server (dryRun=All): {key}={value} on the pod template, the pods would roll")
        doc = admin.set_configmap(cfg.kube.flags.configmap, {key: value}, resource_version=plan.base("resource_version", ""), dry_run=True)
        if (doc.get("data") or {}).get(key) != value:
            raise AdminError(Failure(FailureKind.BAD_RESPONSE, f"the dry run does not show {key}={value}", "do not apply"))
        if cfg.kube.flags.restart_on_change:
            _check_restart(admin.restart(name, dry_run=True), name)
            return DryRun(True, f"accepted by the API server (dryRun=All, 2 requests): {key}={value}, then the restart")
        return DryRun(True, f"accepted by the API server (dryRun=All): {key}={value}")
    if kind is ActionKind.SCALE:
        doc = admin.scale(name, int(plan.inputs.replicas or 0), dry_run=True)
        got_replicas = (doc.get("spec") or {}).get("replicas")
        if got_replicas != plan.inputs.replicas:
            raise AdminError(
                Failure(FailureKind.BAD_RESPONSE, f"the dry run shows {got_replicas} replicas, not {plan.inputs.replicas}", "do not apply")
            )
        return DryRun(True, f"accepted by the API server (dryRun=All): {got_replicas} replicas")
    if kind is ActionKind.ROLLBACK:
        return rollback.dry_run(admin, plan)
    return DryRun(True, "nothing to change: no dry run needed", skipped="not a change")


def _check_restart(doc: dict[str, Any], name: str) -> None:
    annotations = ((_spec(doc).get("template") or {}).get("metadata") or {}).get("annotations") or {}
    if RESTARTED_AT not in annotations:
        raise AdminError(
            Failure(
                FailureKind.BAD_RESPONSE,
                f"the restart of {name} was accepted but restartedAt is not in the answer",
                "do not apply; check the deployment by hand",
            )
        )


# --------------------------------------------------------------------------
# Apply (inside the lease and admin.armed()) and what to follow


def apply(ctx: Ctx, plan: Plan, applied: Applied) -> None:
    """Make the change. Appends each landed change to ``applied.done`` before
    the next one, so a failure half-way still says what changed."""
    kind, name, cfg, admin = plan.kind, plan.deployment, ctx.config, ctx.admin
    timeouts = cfg.actions
    if kind is ActionKind.RESTART:
        _restart(ctx, name, applied)
        return
    if kind is ActionKind.UPDATE_KEY:
        new_key, secret = plan.inputs.new_key, cfg.kube.secret
        assert new_key is not None
        held, _ = admin.set_secret_key(secret.name, secret.key, new_key, resource_version=plan.base("resource_version", ""), dry_run=False)
        applied.done.append(f"Secret {ctx.ns}/{secret.name} data.{secret.key}: now {held}")
        applied.look, applied.timeout, applied.offer = (lambda: _key_look(ctx, new_key)), timeouts.verify_timeout, ActionKind.RESTART
        return
    if kind in FLAGS:
        key, value = flag_key(cfg, kind)
        flags = cfg.kube.flags
        if flags.mode == "env":
            _, old = _pods_note(admin, admin.deployment(name))
            applied.old_pods = old
            doc = admin.set_env(name, plan.base("container"), {key: value}, dry_run=False)
            applied.done.append(f"Deployment {ctx.ns}/{name}: env {key}={value} (the pods roll)")
            gen = int((doc.get("metadata") or {}).get("generation") or 0)
            applied.look = lambda: rollout_state(admin.deployment(name), admin.pods(), old, gen)
            applied.timeout = timeouts.rollout_timeout
            return
        admin.set_configmap(flags.configmap, {key: value}, resource_version=plan.base("resource_version", ""), dry_run=False)
        applied.done.append(f"ConfigMap {ctx.ns}/{flags.configmap}: {key}={value}")
        if not flags.restart_on_change:
            applied.look, applied.timeout = (lambda: _flag_look(ctx, key, value)), timeouts.verify_timeout
            applied.offer = ActionKind.RESTART
            return
        rollout = _restart(ctx, name, applied)
        applied.look = lambda: _both(_flag_look(ctx, key, value), rollout)
        return
    if kind is ActionKind.SCALE:
        n = int(plan.inputs.replicas or 0)
        current = _spec(admin.deployment(name)).get("replicas", 1)
        if current != plan.base("replicas"):
            raise AdminError(
                Failure(
                    FailureKind.CONFLICT,
                    f"deployment {name} has {current} replicas now, not {plan.base('replicas')} as planned",
                    "someone else scaled it: plan again (the plan shows the new count) and confirm again",
                )
            )
        admin.scale(name, n, dry_run=False)
        applied.done.append(f"Deployment {ctx.ns}/{name}: replicas {current} → {n}")
        applied.look, applied.timeout = (lambda: scale_state(admin.deployment(name), admin.pods(), n)), timeouts.rollout_timeout
        return
    if kind is ActionKind.ROLLBACK:
        done, old, gen = rollback.apply(admin, plan, _pods_note)
        applied.done.append(done)
        applied.old_pods, wanted = old, plan.base("images")
        applied.look = lambda: rollback.rollback_state(admin.deployment(name), admin.pods(), old, gen, wanted)
        applied.timeout = timeouts.rollout_timeout
        return
    raise ValueError(f"{kind} changes nothing")


def _restart(ctx: Ctx, name: str, applied: Applied) -> Callable[[], Look]:
    admin = ctx.admin
    deploy = admin.deployment(name)
    _, old = _pods_note(admin, deploy)
    applied.old_pods = old
    doc = admin.restart(name, dry_run=False)  # re-reads the deployment and refuses it if it was paused since the plan
    gen = int((doc.get("metadata") or {}).get("generation") or 0)
    at = (((_spec(doc).get("template") or {}).get("metadata") or {}).get("annotations") or {}).get(RESTARTED_AT, "?")
    applied.done.append(f"Deployment {ctx.ns}/{name}: restartedAt={at} (rollout restart, generation {gen})")

    def look() -> Look:
        return rollout_state(admin.deployment(name), admin.pods(), old, gen)

    applied.look, applied.timeout = look, ctx.config.actions.rollout_timeout
    return look


def _both(first: Look, then: Callable[[], Look]) -> Look:
    if not first.done:
        return first
    second = then()
    return replace(second, message=f"{first.message}; {second.message}", details={**first.details, **second.details})


def _flag_look(ctx: Ctx, key: str, value: str) -> Look:
    cm = ctx.admin.configmap(ctx.config.kube.flags.configmap)
    got = (cm.get("data") or {}).get(key)
    if got == value:
        return Look(True, f"{key}={value} in the ConfigMap", details={"flag": key, "value": value})
    return Look(
        False,
        f"{key} reads {got!r}",
        missing=(f"ConfigMap {ctx.config.kube.flags.configmap} shows {key}={got!r}, not {value!r}",),
        failed=f"{key} was changed again to {got!r}" if got is not None else "",
    )


def _key_look(ctx: Ctx, key: SecretValue) -> Look:
    secret = ctx.config.kube.secret
    held, _ = ctx.admin.secret_key(secret.name, secret.key)
    if held != key:
        shown = held.fingerprint if held is not None else "(unset)"
        return Look(
            False,
            f"the Secret holds {shown}",
            missing=(f"Secret {secret.name} holds {shown}, not {key.fingerprint}",),
            failed=f"Secret {secret.name} was changed again (now {shown})",
        )
    probe = ctx.probe(key)
    details = {"fingerprint": key.fingerprint, "probe": probe}
    if probe.verdict is ProbeVerdict.VALID:
        return Look(True, f"Secret holds {key.fingerprint}; Clay accepts it (200); takes effect when the pods restart", details=details)
    if probe.verdict is ProbeVerdict.INVALID:
        return Look(False, probe.meaning, failed=f"the new key is in the Secret, but {probe.meaning}", details=details)
    return Look(
        False,
        f"Secret holds {key.fingerprint}; Clay probe inconclusive: {probe.meaning}",
        missing=(f"a conclusive answer from Clay about {key.fingerprint} (last: {probe.meaning})",),
        details=details,
    )
