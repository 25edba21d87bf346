"""The drill's seeded objects say who made them and when (issue 14): the
Secret clay-api, the ConfigMap clay-sync-flags and the Deployment carry the
managedFields entry of ``kubectl apply`` (``kubectl-client-side-apply``) at
their creation time, so their change times are known before anything writes
them; the Deployment's image and change-cause belong to the CI that rolled
it out, its status to the controller. A Secret's entry names its keys, never
its values. Read with kubectl (required in CI, skipped elsewhere when missing).
"""

from __future__ import annotations

import json
from typing import Any

from test_sim_kube import API_KEY, NS, Kube, kube, kubectl_ok  # noqa: F401 (fixtures)

from clay_cockpit.sim.kube.util import rfc3339

APPLY = "kubectl-client-side-apply"


def _get(k: Kube, kind: str, name: str) -> dict[str, Any]:
    return json.loads(k.kubectl("-n", NS, "get", kind, name, "-o", "json", "--show-managed-fields").stdout)


def _managers(obj: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["manager"], e.get("subresource", "")): e for e in obj["metadata"]["managedFields"]}


def test_seeded_secret_and_configmap_were_applied_at_their_creation(kube: Kube, kubectl_ok: None) -> None:  # noqa: F811 (fixtures)
    for kind, name, fields in (
        ("secret", "clay-api", {"f:data": {".": {}, "f:api-key": {}}, "f:type": {}}),
        ("configmap", "clay-sync-flags", None),
    ):
        obj = _get(kube, kind, name)
        (entry,) = obj["metadata"]["managedFields"]
        assert (entry["manager"], entry["operation"], entry["time"]) == (APPLY, "Update", obj["metadata"]["creationTimestamp"])
        if fields is not None:
            assert entry["fieldsV1"] == fields
        else:
            assert set(entry["fieldsV1"]["f:data"]) == {"."} | {f"f:{k}" for k in obj["data"]}
    secret = _get(kube, "secret", "clay-api")
    assert "api-key" in json.dumps(secret["metadata"]["managedFields"])  # the key's name …
    assert secret["data"]["api-key"] not in json.dumps(secret["metadata"]) and API_KEY not in json.dumps(
        secret["metadata"]
    )  # … never its value


def test_seeded_deployment_creator_ci_and_controller(kube: Kube, kubectl_ok: None) -> None:  # noqa: F811 (fixtures)
    deploy = _get(kube, "deployment", "clay-sync")
    by = _managers(deploy)
    assert set(by) == {(APPLY, ""), ("ci-deploy", ""), ("kube-controller-manager", "status")}, list(by)
    assert deploy["metadata"]["managedFields"][0]["manager"] == APPLY  # the oldest first
    created = by[(APPLY, "")]
    assert created["time"] == deploy["metadata"]["creationTimestamp"] == rfc3339(kube.clock.t - 60 * 86400)
    container = created["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"clay-sync"}']
    assert "f:image" not in container and "f:resources" in container and "f:envFrom" in container  # CI took the image
    assert "f:annotations" not in created["fieldsV1"]["f:metadata"]
    assert by[("ci-deploy", "")]["time"] > created["time"]
