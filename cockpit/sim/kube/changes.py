"""Changes made to the drill's objects by someone other than the responder: a CI
pipeline rolling out a new image, with the annotations and ``managedFields``
a real apiserver keeps for it (who changed which fields, when).
"""

from __future__ import annotations

import copy
from typing import Any

from clay_cockpit.sim.kube.store import Obj
from clay_cockpit.sim.kube.util import rfc3339
from clay_cockpit.sim.kube.workload import CHANGE_CAUSE

CONTROLLER = "kube-controller-manager"


def _image_fields(container: str) -> dict[str, Any]:
    """FieldsV1 of a manager that sets the change-cause and one container's image."""
    return {
        "f:metadata": {"f:annotations": {".": {}, f"f:{CHANGE_CAUSE}": {}}},
        "f:spec": {"f:template": {"f:spec": {"f:containers": {f'k:{{"name":"{container}"}}': {".": {}, "f:image": {}, "f:name": {}}}}}},
    }


def _status_fields() -> dict[str, Any]:
    return {
        "f:metadata": {"f:annotations": {".": {}, "f:deployment.kubernetes.io/revision": {}}},
        "f:status": {
            "f:availableReplicas": {},
            "f:conditions": {".": {}, 'k:{"type":"Available"}': {}, 'k:{"type":"Progressing"}': {}},
            "f:observedGeneration": {},
            "f:readyReplicas": {},
            "f:replicas": {},
            "f:updatedReplicas": {},
        },
    }


def set_manager(deploy: Obj, manager: str, at: float, fields: dict[str, Any], subresource: str = "") -> None:
    """Record that ``manager`` updated ``fields`` at ``at`` (one entry per manager, operation and subresource)."""
    entries = [
        e
        for e in deploy["metadata"].get("managedFields") or []
        if not (e.get("manager") == manager and e.get("operation") == "Update" and e.get("subresource", "") == subresource)
    ]
    entry: dict[str, Any] = {
        "manager": manager,
        "operation": "Update",
        "apiVersion": deploy.get("apiVersion", "apps/v1"),
        "time": rfc3339(at),
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
    }
    if subresource:
        entry["subresource"] = subresource
    entries.append(entry)
    deploy["metadata"]["managedFields"] = entries


def ci_rollout(deploy: Obj, tag: str, cause: str, manager: str, at: float) -> Obj:
    """The Deployment after CI set its container's image tag (``kubectl set image`` in a
    pipeline, with ``--field-manager``) and recorded why: a new generation the
    deployment controller rolls out."""
    new = copy.deepcopy(deploy)
    container = new["spec"]["template"]["spec"]["containers"][0]
    container["image"] = container["image"].rsplit(":", 1)[0] + ":" + tag
    meta = new["metadata"]
    meta.setdefault("annotations", {})[CHANGE_CAUSE] = cause
    meta["generation"] = meta.get("generation", 1) + 1
    set_manager(new, manager, at, _image_fields(container["name"]))
    return new


def seed_history(deploy: Obj, manager: str, at: float) -> None:
    """managedFields of a Deployment CI last changed at ``at`` and whose status the controller keeps."""
    set_manager(deploy, manager, at, _image_fields(deploy["spec"]["template"]["spec"]["containers"][0]["name"]))
    set_manager(deploy, CONTROLLER, at + 60, _status_fields(), subresource="status")
