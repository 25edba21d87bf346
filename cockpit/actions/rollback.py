"""Rolling a deployment back, exactly as ``kubectl rollout undo`` does
(kubectl's ``polymorphichelpers/rollback.go``, ``DeploymentRollbacker``):

- the history is the ReplicaSets the deployment controls, each with its
  ``deployment.kubernetes.io/revision``; the target is the revision asked
  for, or — kubectl's default — the second-highest revision ("no rollout
  history found for deployment …" when there is none);
- a paused deployment is refused, and so is a target whose template is the
  current one ("skipped rollback (current template already matches revision N)");
- the change is one JSON patch: ``replace /spec/template`` with the target
  ReplicaSet's template minus its ``pod-template-hash`` label, and
  ``replace /metadata/annotations`` with the deployment's own bookkeeping
  annotations plus the ReplicaSet's others;
- the deployment controller then reuses that ReplicaSet and gives it the
  next revision number (max + 1): the plan says "revision 2 → 3 (the
  template of revision 1)".

What the plan shows is computed here: the image and env differences between
the current template and the target's (each a
:class:`~clay_cockpit.actions.types.FieldChange`), the other template
fields that differ, the annotations the patch changes. Following it: the
rollout (:func:`~clay_cockpit.sources.kube_rollout.rollout_state`) and the
new pods running the target's images.

Blocking reads and writes go through
:class:`~clay_cockpit.sources.kube_admin.KubeAdmin` and raise
:class:`~clay_cockpit.actions.types.AdminError`. Called by
:mod:`clay_cockpit.actions.plans` (which it does not import).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from clay_cockpit.actions.types import AdminError, DryRun, Failure, FailureKind, FieldChange, Plan
from clay_cockpit.sources.kube_admin import KubeAdmin
from clay_cockpit.sources.kube_rollout import Look, rollout_state

REVISION = "deployment.kubernetes.io/revision"
HASH = "pod-template-hash"
CHANGE_CAUSE = "kubernetes.io/change-cause"
# kept from the deployment, never copied from the ReplicaSet (kubectl's annotationsToSkip)
SKIP = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION,
        "deployment.kubernetes.io/revision-history",
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "deprecated.deployment.rollback.to",
    }
)
MAX_OTHER = 6  # other differing template fields named in the plan's note

PodsNote = Callable[[KubeAdmin, dict[str, Any]], tuple[str, frozenset[str]]]


@dataclass(frozen=True)
class Entry:
    """One revision of the rollout history: a ReplicaSet of the deployment."""

    number: int
    replicaset: str
    template: dict[str, Any]
    annotations: dict[str, str]

    @property
    def images(self) -> tuple[tuple[str, str], ...]:
        return images(self.template)


def revision_of(rs: dict[str, Any]) -> int | None:
    raw = ((rs.get("metadata") or {}).get("annotations") or {}).get(REVISION)
    try:
        return int(str(raw))
    except ValueError:
        return None


def history(replicasets: list[dict[str, Any]]) -> list[Entry]:
    """The revisions, newest first (ReplicaSets without a revision are left out, as kubectl does)."""
    out = []
    for rs in replicasets:
        n = revision_of(rs)
        if n is None:
            continue
        meta, spec = rs.get("metadata") or {}, rs.get("spec") or {}
        annotations = {str(k): str(v) for k, v in (meta.get("annotations") or {}).items()}
        out.append(Entry(n, str(meta.get("name") or "?"), spec.get("template") or {}, annotations))
    return sorted(out, key=lambda e: -e.number)


def without_hash(template: dict[str, Any]) -> dict[str, Any]:
    tpl = copy.deepcopy(template)
    labels = (tpl.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH, None)
    return tpl


def same_template(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """kubectl's ``equalIgnoreHash``."""
    return without_hash(a) == without_hash(b)


def images(template: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    containers = (template.get("spec") or {}).get("containers") or []
    return tuple((str(c.get("name") or "?"), str(c.get("image") or "")) for c in containers if isinstance(c, dict))


def images_text(pairs: tuple[tuple[str, str], ...]) -> str:
    """``app=registry.internal/clay-sync:1.14.1`` (one container: the image alone)."""
    if len(pairs) == 1:
        return pairs[0][1]
    return ", ".join(f"{c}={i}" for c, i in pairs)


def deployment_revision(deploy: dict[str, Any]) -> int | None:
    return revision_of(deploy)


def target(deploy: dict[str, Any], entries: list[Entry], to_revision: int | None) -> Entry:
    """kubectl's ``deploymentRevision``: the revision asked for, else the second-highest one."""
    name = (deploy.get("metadata") or {}).get("name", "?")
    if to_revision is not None:
        found = next((e for e in entries if e.number == to_revision), None)
        if found is None:
            shown = ", ".join(str(e.number) for e in entries) or "none"
            raise AdminError(
                Failure(
                    FailureKind.NOT_FOUND,
                    f"unable to find specified revision {to_revision} in history of deployment {name} (revisions: {shown})",
                    "choose one of the revisions listed (`kubectl rollout history` shows them)",
                )
            )
        return found
    if len(entries) < 2:
        return no_previous(name, entries)
    return entries[1]


def no_previous(name: str, entries: list[Entry]) -> Entry:
    only = f" (only revision {entries[0].number})" if entries else ""
    raise AdminError(
        Failure(
            FailureKind.NOT_FOUND,
            f"no rollout history found for deployment {name}: no previous revision to roll back to{only}",
            "nothing to undo here: the deployment kept no older ReplicaSet (revisionHistoryLimit, or it was never rolled out)"
            " — restart, scale or investigate instead",
        )
    )


def undo_annotations(deploy: dict[str, Any], entry: Entry) -> dict[str, str]:
    """The deployment's annotations after the undo (kubectl: its bookkeeping ones kept, the ReplicaSet's others taken)."""
    own = (deploy.get("metadata") or {}).get("annotations") or {}
    out = {k: str(v) for k, v in own.items() if k in SKIP}
    out.update({k: v for k, v in entry.annotations.items() if k not in SKIP})
    return out


def undo_patch(deploy: dict[str, Any], entry: Entry) -> list[dict[str, Any]]:
    """The JSON patch kubectl sends (``getDeploymentPatch``)."""
    return [
        {"op": "replace", "path": "/spec/template", "value": without_hash(entry.template)},
        {"op": "replace", "path": "/metadata/annotations", "value": undo_annotations(deploy, entry)},
    ]


# --------------------------------------------------------------------------
# What changes


def _containers(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    cs = (template.get("spec") or {}).get("containers") or []
    return {str(c.get("name") or "?"): c for c in cs if isinstance(c, dict)}


def _env(container: dict[str, Any]) -> dict[str, str]:
    out = {}
    for e in container.get("env") or []:
        if isinstance(e, dict) and e.get("name"):
            out[str(e["name"])] = str(e["value"]) if "value" in e else "(from valueFrom)"
    return out


def _diff_paths(a: Any, b: Any, path: str, out: list[str]) -> None:
    if a == b or len(out) > MAX_OTHER:
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            _diff_paths(a.get(k), b.get(k), f"{path}.{k}" if path else str(k), out)
        return
    out.append(path or "(the whole template)")


def differences(obj: str, current: dict[str, Any], wanted: dict[str, Any]) -> tuple[list[FieldChange], list[str]]:
    """The image and env changes (FieldChanges), and the other template fields that differ (paths)."""
    cur, new = without_hash(current), without_hash(wanted)
    changes: list[FieldChange] = []
    cur_cs, new_cs = _containers(cur), _containers(new)
    for name in sorted(set(cur_cs) | set(new_cs)):
        a, b = cur_cs.get(name), new_cs.get(name)
        if a is None or b is None:
            continue
        if a.get("image") != b.get("image"):
            changes.append(
                FieldChange(obj, f"spec.template.spec.containers[{name}].image", str(a.get("image") or "(unset)"), str(b.get("image")))
            )
        ea, eb = _env(a), _env(b)
        for key in sorted(set(ea) | set(eb)):
            if ea.get(key) != eb.get(key):
                changes.append(
                    FieldChange(obj, f"spec.template.spec.containers[{name}].env[{key}]", ea.get(key, "(unset)"), eb.get(key, "(unset)"))
                )
    # what else differs, the images and env left out (they are shown above)
    for tpl in (cur, new):
        for c in (tpl.get("spec") or {}).get("containers") or []:
            if isinstance(c, dict):
                c.pop("image", None)
                c.pop("env", None)
    other: list[str] = []
    added = sorted(set(new_cs) - set(cur_cs))
    gone = sorted(set(cur_cs) - set(new_cs))
    if added or gone:
        other.append("containers " + ", ".join([*(f"+{n}" for n in added), *(f"-{n}" for n in gone)]))
        cur.get("spec", {}).pop("containers", None)
        new.get("spec", {}).pop("containers", None)
    else:
        cur_list = (cur.get("spec") or {}).get("containers") or []
        new_list = (new.get("spec") or {}).get("containers") or []
        by_name = {str(c.get("name")): c for c in cur_list if isinstance(c, dict)}
        for c in new_list:
            if isinstance(c, dict):
                _diff_paths(by_name.get(str(c.get("name"))), c, f"spec.containers[{c.get('name')}]", other)
        cur.get("spec", {}).pop("containers", None)
        new.get("spec", {}).pop("containers", None)
    _diff_paths(cur, new, "", other)
    if len(other) > MAX_OTHER:
        other = [*other[:MAX_OTHER], "…"]
    return changes, other


# --------------------------------------------------------------------------
# Plan, dry run, apply, follow


def paused_failure(name: str, namespace: str, context: str) -> Failure:
    return Failure(
        FailureKind.PAUSED,
        f"deployment {name} is paused: you cannot rollback a paused deployment; resume it first (rollout resume) and try again",
        f"resume it if the pause is over: `kubectl --context {context} -n {namespace} rollout resume deployment/{name}`",
    )


def plan(admin: KubeAdmin, p: Plan, pods_note: PodsNote) -> Plan:
    """The rollback's plan (raises AdminError when a read fails or there is nothing to go back to)."""
    name, ns = p.deployment, admin.namespace
    deploy = admin.deployment(name)
    entries = history(admin.replicasets(deploy))
    template = (deploy.get("spec") or {}).get("template") or {}
    entry = target(deploy, entries, p.inputs.revision)
    now = deployment_revision(deploy)
    current = next((e for e in entries if same_template(e.template, template)), None)
    obj = f"Deployment {ns}/{name}"
    at = now if now is not None else (current.number if current is not None else None)
    if same_template(entry.template, template):
        change = FieldChange(obj, "revision", str(at), f"{entry.number} (the current template)")
        return replace(
            p,
            changes=(change,),
            blocked=Failure(
                FailureKind.INVALID_INPUT,
                f"skipped rollback (current template already matches revision {entry.number})",
                "nothing to undo: the deployment already runs that template",
            ),
        )
    following = max(e.number for e in entries) + 1
    changes, other = differences(obj, template, entry.template)
    head = FieldChange(
        obj, "revision", str(at) if at is not None else "(unknown)", f"{following} (the template of revision {entry.number})"
    )
    patch = undo_patch(deploy, entry)
    old_ann = (deploy.get("metadata") or {}).get("annotations") or {}
    new_ann = patch[1]["value"]
    for key in sorted(set(old_ann) | set(new_ann)):
        if key not in SKIP and old_ann.get(key) != new_ann.get(key):
            changes.append(FieldChange(obj, f"metadata.annotations[{key}]", str(old_ann.get(key, "(unset)")), new_ann.get(key, "(unset)")))
    note, _ = pods_note(admin, deploy)
    notes = [f"back to ReplicaSet {entry.replicaset} ({images_text(entry.images)}): the deployment controller reuses it", note]
    if other:
        notes.append("the template differs in other fields too: " + ", ".join(other))
    if not changes:
        notes.append("no image or env difference: the templates differ only in the fields above")
    cause = entry.annotations.get(CHANGE_CAUSE)
    if cause:
        notes.append(f"revision {entry.number} was: {cause}")
    meta = deploy.get("metadata") or {}
    blocked = paused_failure(name, ns, admin.context) if (deploy.get("spec") or {}).get("paused") else None
    return replace(
        p,
        changes=(head, *changes),
        notes=tuple(notes),
        replaces_pods=True,
        blocked=blocked,
        basis=(
            ("generation", meta.get("generation", 0)),
            ("to_revision", entry.number),
            ("from_revision", at),
            ("next_revision", following),
            ("replicaset", entry.replicaset),
            ("images", entry.images),
            ("template", without_hash(entry.template)),
            ("patch", patch),
        ),
    )


def dry_run(admin: KubeAdmin, p: Plan) -> DryRun:
    doc = admin.patch_deployment_json(
        p.deployment, p.base("patch"), dry_run=True, action=f"rolling back deployment {p.deployment} to revision {p.base('to_revision')}"
    )
    got = (doc.get("spec") or {}).get("template") or {}
    if not same_template(got, p.base("template")):
        raise AdminError(
            Failure(
                FailureKind.BAD_RESPONSE,
                f"the dry run of the rollback of {p.deployment} answered with another template ({images_text(images(got))})",
                "do not apply; compare `kubectl rollout history --revision` with the deployment by hand",
            )
        )
    return DryRun(
        True,
        f"accepted by the API server (dryRun=All): the template of revision {p.base('to_revision')} "
        f"({images_text(images(got))}), the pods would roll",
    )


def apply(admin: KubeAdmin, p: Plan, pods_note: PodsNote) -> tuple[str, frozenset[str], int]:
    """Send the planned patch (refused when the deployment was paused or changed since the plan).
    Returns what was done (one line), the pods before it, the generation to follow."""
    name = p.deployment
    deploy = admin.deployment(name)
    if (deploy.get("spec") or {}).get("paused"):
        raise AdminError(paused_failure(name, admin.namespace, admin.context))
    gen = (deploy.get("metadata") or {}).get("generation", 0)
    if gen != p.base("generation"):
        raise AdminError(
            Failure(
                FailureKind.CONFLICT,
                f"deployment {name} changed since the plan (generation {p.base('generation')} → {gen})",
                "someone else changed it: plan the rollback again (the plan shows the deployment as it is now) and confirm again",
            )
        )
    _, old = pods_note(admin, deploy)
    doc = admin.patch_deployment_json(name, p.base("patch"), dry_run=False, action=f"rolling back deployment {name}")
    new_gen = int((doc.get("metadata") or {}).get("generation") or 0)
    done = (
        f"Deployment {admin.namespace}/{name}: rolled back to the template of revision {p.base('to_revision')} "
        f"({images_text(p.base('images'))}; was revision {p.base('from_revision')}), generation {new_gen}"
    )
    return done, old, new_gen


def rollback_state(
    deploy: dict[str, Any], pods: list[dict[str, Any]], old_pods: frozenset[str], generation: int, wanted: tuple[tuple[str, str], ...]
) -> Look:
    """The rollout of the rollback done, and every new pod running the target's images?"""
    look = rollout_state(deploy, pods, old_pods, generation)
    want = dict(wanted)
    wrong = []
    for pod in pods:
        meta = pod.get("metadata") or {}
        pod_name = str(meta.get("name") or "?")
        if pod_name in old_pods or meta.get("deletionTimestamp"):
            continue
        got = dict(images({"spec": pod.get("spec") or {}}))
        if any(got.get(c) != i for c, i in want.items()):
            wrong.append(f"{pod_name} ({images_text(tuple(got.items()))})")
    revision = deployment_revision(deploy)
    details = {**look.details, "images": [f"{c}={i}" for c, i in wanted], "revision": revision}
    missing = list(look.missing)
    if wrong:
        missing.append(f"{len(wrong)} new pod(s) not on {images_text(wanted)}: {', '.join(sorted(wrong)[:4])}")
    message = look.message + (f"; on {images_text(wanted)}" if not wrong else f"; {len(wrong)} on another image")
    if revision is not None:
        message += f"; revision {revision}"
    return replace(look, done=look.done and not wrong, message=message, missing=tuple(missing), details=details)


def offer(deploy: dict[str, Any], replicasets: list[dict[str, Any]]) -> tuple[str, str]:
    """What the actions pane says about a rollback: (where it goes, "" ) —
    ``("to revision 1 · clay-sync:1.14.1", "")`` — or ("", why there is none)."""
    entries = history(replicasets)
    template = (deploy.get("spec") or {}).get("template") or {}
    if len(entries) < 2:
        return "", "no previous revision"
    entry = entries[1]
    if same_template(entry.template, template):
        return "", f"already at the template of revision {entry.number}"
    shown = ", ".join(i.rsplit("/", 1)[-1] for _, i in entry.images)
    return f"to revision {entry.number} · {shown}", ""
