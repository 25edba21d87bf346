"""Writes to the drill's nodes: ``kubectl cordon`` / ``uncordon`` (a strategic
merge patch of ``{"spec":{"unschedulable":true}}``, and ``null`` to lift it),
``kubectl taint``, labels and annotations — and what the cluster does next.

- Admission, as kube-apiserver's node strategy: a write to the node itself
  never changes its status (the kubelet's, through ``nodes/status``); the spec
  fields the drill's nodes have must be of their Go types, and a taint's
  effect one of the three.
- The node lifecycle controller keeps ``node.kubernetes.io/unschedulable:NoSchedule``
  in step with ``spec.unschedulable`` (its NoSchedule tainting pass); the
  scheduler's filter (:func:`clay_cockpit.sim.kube.nodes.unfit`) already keeps
  new pods off a cordoned node.
- The node's kubelet, while it runs, records ``NodeNotSchedulable`` /
  ``NodeSchedulable`` ("Node n status is now: …"), as it does on its next
  status sync.

The pods already on a cordoned node keep running: a cordon is not a drain.
"""

from __future__ import annotations

import copy
from typing import Any

from clay_cockpit.sim.kube.nodes import UNSCHEDULABLE
from clay_cockpit.sim.kube.store import Obj
from clay_cockpit.sim.kube.util import invalid
from clay_cockpit.sim.kube.validate import check_types

EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
_META = {"name": "string", "labels": {"*": "string"}, "annotations": {"*": "string"}, "resourceVersion": "string", "uid": "string"}
NODE_TYPES = {
    "metadata": _META,
    "spec": {
        "unschedulable": "bool",
        "podCIDR": "string",
        "podCIDRs": ["string"],
        "providerID": "string",
        "taints": [{"key": "string", "value": "string", "effect": "string", "timeAdded": "string"}],
    },
    "status": "object",
}


def admit_node(new: Obj, old: Obj, name: str) -> Obj:
    """A node write (PUT or PATCH of ``nodes/<name>``), admitted: the status stays the
    stored one, the spec is checked. Raises the ApiError kube-apiserver gives."""
    check_types("Node", new, NODE_TYPES)
    out = copy.deepcopy(new)
    out["status"] = copy.deepcopy(old.get("status", {}))
    spec = out.get("spec")
    if not isinstance(spec, dict):  # (check_types let only None through)
        out["spec"] = spec = {}
    errors: list[tuple[str, str]] = []
    for i, taint in enumerate(spec.get("taints") or []):
        if not isinstance(taint, dict):
            continue
        if not taint.get("key"):
            errors.append((f"spec.taints[{i}].key", "Required value"))
        effect = taint.get("effect", "")
        if effect not in EFFECTS:
            supported = ", ".join(f'"{e}"' for e in EFFECTS)
            errors.append((f"spec.taints[{i}].effect", f'Unsupported value: "{effect}": supported values: {supported}'))
    old_spec = old.get("spec", {})
    for field in ("podCIDR", "providerID"):  # set once, then immutable (ValidateNodeUpdate)
        if old_spec.get(field) and spec.get(field) != old_spec.get(field):
            errors.append((f"spec.{field}", f'Forbidden: node updates may not change {field} except from "" to valid'))
    if errors:
        raise invalid("Node", "", name, errors)
    if spec.get("unschedulable") is False:
        spec.pop("unschedulable")  # omitempty: false is not stored
    return out


def cordon_taint(node: Obj) -> Obj | None:
    """The node with the unschedulable taint in step with ``spec.unschedulable`` (the node
    lifecycle controller), or None when it already is."""
    spec = node.get("spec", {})
    taints = [t for t in spec.get("taints") or [] if isinstance(t, dict)]
    has = any(t.get("key") == UNSCHEDULABLE and t.get("effect") == "NoSchedule" for t in taints)
    want = bool(spec.get("unschedulable"))
    if has == want:
        return None
    new = copy.deepcopy(node)
    kept = [t for t in taints if not (t.get("key") == UNSCHEDULABLE and t.get("effect") == "NoSchedule")]
    if want:
        kept.append({"key": UNSCHEDULABLE, "effect": "NoSchedule"})
    if kept:
        new["spec"]["taints"] = kept
    else:
        new["spec"].pop("taints", None)
    return new


def schedulable_event(before: Any, after: Obj) -> tuple[str, str] | None:
    """The kubelet's event when a write changed whether its node is schedulable: (reason, message)."""
    was = bool((before or {}).get("spec", {}).get("unschedulable"))
    now = bool(after.get("spec", {}).get("unschedulable"))
    if was == now:
        return None
    reason = "NodeNotSchedulable" if now else "NodeSchedulable"
    return reason, f"Node {after['metadata']['name']} status is now: {reason}"
