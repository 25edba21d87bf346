"""What a responder rehearses with kubectl beside the cockpit (issue 14),
against the drill's Kubernetes API: creating Secrets and ConfigMaps (server
dry run, AlreadyExists, invalid names, managedFields), ``auth can-i --list``
and ``auth whoami``, json-patch failures in the apiserver's words, the
events tables, and the rollout history / node views kept working.

kubectl is required in CI (``CI=true``) and skipped elsewhere when missing.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from test_sim_kube import NS, TOKEN, Kube, kube, kubectl_ok  # noqa: F401 (fixtures)

from clay_cockpit.sim import wiring
from clay_cockpit.sim.kube.util import rfc3339

SECRET_VALUE = "s3cr3t-never-logged"


def _json(k: Kube, *args: str) -> Any:
    return json.loads(k.kubectl(*args, "-o", "json", "--show-managed-fields").stdout)


def _request(k: Kube, method: str, path: str, body: Any, ctype: str = "application/json") -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(
        k.server + path,
        method=method,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": ctype, "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=5, context=k.cluster.tls().client_context()) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _entry(obj: dict[str, Any], manager: str) -> dict[str, Any]:
    entries = [e for e in obj["metadata"].get("managedFields", []) if e["manager"] == manager]
    assert len(entries) == 1, obj["metadata"].get("managedFields")
    return entries[0]


# --------------------------------------------------------------------------
# create (POST) of Secrets and ConfigMaps


def test_kubectl_create_secret_dry_run_then_real(kube: Kube, kubectl_ok: None, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811 (fixtures from test_sim_kube)
    caplog.set_level(logging.DEBUG)
    rv = kube.cluster.store.rv
    out = kube.kubectl("create", "secret", "generic", "x", f"--from-literal=k={SECRET_VALUE}", "--dry-run=server")
    assert out.stdout.strip() == "secret/x created (server dry run)"
    assert kube.cluster.store.rv == rv  # nothing stored: no resourceVersion taken, so no watch event either
    assert kube.call(kube.cluster.store.get, "secrets", NS, "x") is None
    preview = json.loads(
        kube.kubectl("create", "secret", "generic", "x", f"--from-literal=k={SECRET_VALUE}", "--dry-run=server", "-o", "json").stdout
    )
    assert "resourceVersion" not in preview["metadata"] and preview["metadata"]["uid"]
    assert kube.cluster.store.rv == rv

    assert kube.kubectl("create", "secret", "generic", "x", f"--from-literal=k={SECRET_VALUE}").stdout.strip() == "secret/x created"
    assert kube.call(kube.cluster.secret_value, "x", "k") == SECRET_VALUE
    stored = _json(kube, "get", "secret", "x")
    assert stored["type"] == "Opaque" and stored["metadata"]["resourceVersion"] == str(rv + 1)
    created = _entry(stored, "kubectl-create")
    assert created["operation"] == "Update" and created["apiVersion"] == "v1" and created["fieldsType"] == "FieldsV1"
    assert created["time"] == rfc3339(kube.clock.t)
    assert created["fieldsV1"] == {"f:data": {".": {}, "f:k": {}}, "f:type": {}}

    again = kube.kubectl("create", "secret", "generic", "x", "--from-literal=k=v", check=False)
    assert again.returncode == 1 and again.stderr.strip() == 'error: failed to create secret secrets "x" already exists'
    dry_again = kube.kubectl("create", "secret", "generic", "x", "--from-literal=k=v", "--dry-run=server", check=False)
    assert dry_again.returncode == 1 and 'secrets "x" already exists' in dry_again.stderr  # the dry run checks existence too

    kube.advance(90)
    kube.kubectl("patch", "secret", "x", "-p", '{"stringData":{"j":"w"}}')
    patched = _json(kube, "get", "secret", "x")
    assert _entry(patched, "kubectl-create")["time"] == created["time"]  # the creator's entry keeps its time
    assert _entry(patched, "kubectl-patch")["time"] == rfc3339(kube.clock.t)
    assert _entry(patched, "kubectl-patch")["fieldsV1"] == {"f:data": {"f:j": {}}}
    assert SECRET_VALUE not in caplog.text and base64.b64encode(SECRET_VALUE.encode()).decode() not in caplog.text


def test_kubectl_create_configmap_and_invalid_names(kube: Kube, kubectl_ok: None, tmp_path: Path) -> None:  # noqa: F811 (fixtures from test_sim_kube)
    rv = kube.cluster.store.rv
    assert (
        kube.kubectl("create", "configmap", "y", "--from-literal=a=b", "--dry-run=server").stdout.strip()
        == "configmap/y created (server dry run)"
    )
    assert kube.cluster.store.rv == rv and kube.call(kube.cluster.store.get, "configmaps", NS, "y") is None
    assert kube.kubectl("create", "configmap", "y", "--from-literal=a=b").stdout.strip() == "configmap/y created"
    assert kube.call(kube.cluster.configmap_value, "y", "a") == "b"
    assert _entry(_json(kube, "get", "cm", "y"), "kubectl-create")["fieldsV1"] == {"f:data": {".": {}, "f:a": {}}}
    bad = kube.kubectl("create", "configmap", "Bad_Name", "--from-literal=a=b", "--dry-run=server", check=False)
    assert bad.returncode == 1
    assert bad.stderr.strip() == (
        'error: failed to create configmap: ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": '
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start "
        "and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    )
    code, body = _request(kube, "POST", f"/api/v1/namespaces/{NS}/configmaps", {"metadata": {"name": "Bad_Name"}})
    assert code == 422 and body["reason"] == "Invalid" and body["details"]["causes"][0]["field"] == "metadata.name"
    code, body = _request(kube, "POST", f"/api/v1/namespaces/{NS}/configmaps", {"metadata": {"name": "z"}, "data": {"a b": "c"}})
    assert code == 422 and body["message"].startswith('ConfigMap "z" is invalid: data[a b]: Invalid value: "a b": a valid config key')
    assert kube.cluster.store.rv == rv + 1  # only the one real create took a resourceVersion

    # an update (kubectl replace) moves the changed field to its manager, with the write's time
    kube.advance(30)
    cm = _json(kube, "get", "cm", "y")
    cm["data"]["a"] = "c"
    (tmp_path / "cm.json").write_text(json.dumps(cm))
    kube.kubectl("replace", "-f", str(tmp_path / "cm.json"))
    after = _json(kube, "get", "cm", "y")
    assert _entry(after, "kubectl-replace")["fieldsV1"] == {"f:data": {"f:a": {}}}
    assert _entry(after, "kubectl-replace")["time"] == rfc3339(kube.clock.t)
    assert _entry(after, "kubectl-create")["fieldsV1"] == {"f:data": {".": {}}}
    kube.advance(30)
    rv = kube.cluster.store.rv  # (after the advance: the kubelets renew their node Leases as the clock moves)
    (tmp_path / "cm.json").write_text(json.dumps(after))
    kube.kubectl("replace", "-f", str(tmp_path / "cm.json"))  # the same again: nothing changes, not even a time
    assert kube.cluster.store.rv == rv and _json(kube, "get", "cm", "y")["metadata"]["managedFields"] == after["metadata"]["managedFields"]


def test_create_is_subject_to_rbac(kube: Kube, kubectl_ok: None) -> None:  # noqa: F811 (fixtures from test_sim_kube)
    assert kube.kubectl("auth", "can-i", "create", "secrets").stdout.strip() == "yes"
    assert kube.kubectl("auth", "can-i", "create", "configmaps").stdout.strip() == "yes"
    kube.call(kube.cluster.deny, "create", "secrets")
    assert kube.kubectl("auth", "can-i", "create", "secrets", check=False).stdout.strip() == "no"
    denied = kube.kubectl("create", "secret", "generic", "x", "--from-literal=k=v", check=False)
    assert denied.returncode == 1 and denied.stderr.strip() == (
        'error: failed to create secret secrets is forbidden: User "clay-drill-responder" cannot create resource "secrets" '
        'in API group "" in the namespace "clay-sync"'
    )
    assert kube.kubectl("create", "configmap", "y", "--from-literal=a=b").returncode == 0


# --------------------------------------------------------------------------
# auth can-i --list, auth whoami


def _rows(text: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines()[1:]]


def test_kubectl_auth_can_i_list_follows_the_rules(kube: Kube, kubectl_ok: None) -> None:  # noqa: F811 (fixtures from test_sim_kube)
    out = kube.kubectl("auth", "can-i", "--list")
    assert out.stdout.splitlines()[0].split() == ["Resources", "Non-Resource", "URLs", "Resource", "Names", "Verbs"]
    rows = _rows(out.stdout)
    assert ["*.*", "[]", "[]", "[*]"] in rows
    assert ["selfsubjectreviews.authentication.k8s.io", "[]", "[]", "[create]"] in rows
    assert ["[/api]", "[]", "[get]"] in rows and out.stderr == ""

    kube.call(kube.cluster.deny, "patch", "secrets")
    kube.call(kube.cluster.deny, "*", "pods/log")
    rows = _rows(kube.kubectl("auth", "can-i", "--list").stdout)
    by_resource = {r[0]: r[3:] for r in rows if not r[0].startswith("[")}
    assert "*.*" not in by_resource
    assert by_resource["secrets"] == ["[get", "list", "watch", "create", "update", "delete", "deletecollection]"]
    assert by_resource["configmaps"] == ["[get", "list", "watch", "create", "update", "patch", "delete", "deletecollection]"]
    assert "pods/log" not in by_resource and "deployments.apps/scale" in by_resource
    assert kube.kubectl("auth", "can-i", "create", "secrets").stdout.strip() == "yes"
    assert kube.kubectl("auth", "can-i", "patch", "secrets", check=False).stdout.strip() == "no"

    kube.call(kube.cluster.deny, "update", "configmaps", "clay-sync-flags")
    listed = kube.kubectl("auth", "can-i", "--list")
    assert "Warning: the list may be incomplete:" in listed.stderr and 'configmaps "clay-sync-flags"' in listed.stderr
    other_ns = kube.kubectl("auth", "can-i", "--list", "-n", "default")  # a denial scoped to clay-sync stays there
    assert other_ns.returncode == 0


def test_kubectl_auth_whoami_token_and_client_certificate(kube: Kube, kubectl_ok: None, tmp_path: Path) -> None:  # noqa: F811 (fixtures from test_sim_kube)
    out = kube.kubectl("auth", "whoami")
    assert _rows(out.stdout) == [["Username", "clay-drill-responder"], ["Groups", "[system:authenticated]"]]
    as_json = json.loads(kube.kubectl("auth", "whoami", "-o", "json").stdout)
    assert as_json["apiVersion"] == "authentication.k8s.io/v1" and as_json["status"]["userInfo"]["username"] == wiring.USER

    now = dt.datetime.now(dt.UTC)
    leaf = kube.cluster.tls().client_ca.issue_cert(
        common_name="oncall-jane",
        organization_name="sre",
        not_before=now - dt.timedelta(minutes=5),
        not_after=now + dt.timedelta(hours=1),
    )
    doc = json.loads(Path(kube.kubeconfig).read_text())
    doc["users"][0]["user"] = {
        "client-certificate-data": base64.b64encode(leaf.cert_chain_pems[0].bytes()).decode(),
        "client-key-data": base64.b64encode(leaf.private_key_pem.bytes()).decode(),
    }
    cert_config = tmp_path / "cert-kubeconfig"
    cert_config.write_text(json.dumps(doc))
    who = kube.kubectl("--kubeconfig", str(cert_config), "auth", "whoami")
    assert _rows(who.stdout) == [["Username", "oncall-jane"], ["Groups", "[sre", "system:authenticated]"]]


# --------------------------------------------------------------------------
# json patch failures


def test_json_patch_failures_speak_the_apiservers_words(kube: Kube, kubectl_ok: None) -> None:  # noqa: F811 (fixtures from test_sim_kube)
    rejected = "The request is invalid: the server rejected our request due to an error in our request"
    rv = kube.cluster.store.rv
    for ops in (
        [{"op": "test", "path": "/data/CLAY_FALLBACK_ENABLED", "value": "true"}],
        [{"op": "test", "path": "/data/missing/deeper", "value": "x"}],
        [{"op": "replace", "path": "/data/NOT_THERE", "value": "true"}],
        [{"op": "remove", "path": "/spec/nothing"}],
        [{"op": "test", "path": "/metadata/labels", "value": True}],
    ):
        out = kube.kubectl("patch", "cm", "clay-sync-flags", "--type=json", "-p", json.dumps(ops), check=False)
        assert (out.returncode, out.stderr.strip()) == (1, rejected), ops
        code, body = _request(kube, "PATCH", f"/api/v1/namespaces/{NS}/configmaps/clay-sync-flags", ops, "application/json-patch+json")
        assert code == 422 and body == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "the server rejected our request due to an error in our request",
            "reason": "Invalid",
            "details": {},
            "code": 422,
        }
    assert kube.cluster.store.rv == rv
    ok = [
        {"op": "test", "path": "/data/CLAY_FALLBACK_ENABLED", "value": "false"},
        {"op": "test", "path": "/data/ABSENT", "value": None},  # evanphx/json-patch: absent equals null
        {"op": "replace", "path": "/data/CLAY_FALLBACK_ENABLED", "value": "true"},
    ]
    assert "patched" in kube.kubectl("patch", "cm", "clay-sync-flags", "--type=json", "-p", json.dumps(ok)).stdout
    assert kube.call(kube.cluster.configmap_value, "clay-sync-flags", "CLAY_FALLBACK_ENABLED") == "true"
    code, body = _request(kube, "PATCH", f"/api/v1/namespaces/{NS}/configmaps/clay-sync-flags", [1], "application/json-patch+json")
    assert code == 400 and body["message"] == "json: cannot unmarshal number into Go value of type jsonpatch.Operation"


# --------------------------------------------------------------------------
# events


def _warning_and_normal_events(k: Kube) -> str:
    victim = k.pods()[0].metadata.name
    k.call(k.cluster.crash, victim)
    k.advance(30)
    return victim


def test_kubectl_events_tables(kube: Kube, kubectl_ok: None) -> None:  # noqa: F811 (fixtures from test_sim_kube)
    victim = _warning_and_normal_events(kube)
    core = kube.kubectl("get", "events").stdout.splitlines()
    assert core[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    backoff = [line for line in core if " BackOff " in line]
    assert backoff and f"pod/{victim}" in backoff[0]
    assert "Back-off restarting failed container clay-sync in pod" in backoff[0]
    assert any(" Normal " in line for line in core[1:])

    new_api = kube.kubectl("get", "events.v1.events.k8s.io").stdout.splitlines()
    assert new_api[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert sorted(line.split()[1:5] for line in new_api[1:]) == sorted(line.split()[1:5] for line in core[1:])
    wide = kube.kubectl("get", "events.v1.events.k8s.io", "-o", "wide").stdout.splitlines()
    assert wide[0].split() == [
        "LAST",
        "SEEN",
        "TYPE",
        "REASON",
        "OBJECT",
        "SUBOBJECT",
        "SOURCE",
        "MESSAGE",
        "FIRST",
        "SEEN",
        "COUNT",
        "NAME",
    ]
    assert any(f"pod/{victim}" in line and "kubelet" in line and "Back-off restarting" in line for line in wide)

    warnings = kube.kubectl("events", "--types=Warning").stdout.splitlines()
    assert warnings[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert warnings[1:] and all(line.split()[1] == "Warning" for line in warnings[1:])
    assert any("BackOff" in line and f"Pod/{victim}" in line for line in warnings)
    selected = kube.kubectl("get", "events", "--field-selector", "type=Warning").stdout.splitlines()
    assert selected[1:] and all(line.split()[1] == "Warning" for line in selected[1:])
    for_pod = kube.kubectl("events", "--for", f"pod/{victim}").stdout
    assert "BackOff" in for_pod


# --------------------------------------------------------------------------
# kept working


def test_kubectl_rollout_history_revision_and_describe_node(kube: Kube, kubectl_ok: None) -> None:  # noqa: F811 (fixtures from test_sim_kube)
    history = kube.kubectl("rollout", "history", "deployment/clay-sync").stdout
    assert history.splitlines()[0] == "deployment.apps/clay-sync " and "REVISION" in history
    revisions = [line.split()[0] for line in history.splitlines()[2:] if line.strip()]
    assert len(revisions) >= 2
    one = kube.kubectl("rollout", "history", "deployment/clay-sync", f"--revision={revisions[-1]}").stdout
    assert f"with revision #{revisions[-1]}" in one and "registry.internal/clay-sync:1.14.2" in one
    older = kube.kubectl("rollout", "history", "deployment/clay-sync", f"--revision={revisions[0]}").stdout
    assert "registry.internal/clay-sync:1.14.1" in older
    node = kube.pods()[0].spec.node_name
    described = kube.kubectl("describe", "node", node).stdout
    assert described.startswith(f"Name:               {node}\n") and "Conditions:" in described and "Non-terminated Pods:" in described


def test_managed_fields_ownership_moves_and_leaves() -> None:
    """structured-merge-diff's Update: changed fields move to the writer, removed ones leave everyone."""
    from clay_cockpit.sim.kube.managed import record

    cm: dict[str, Any] = {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}}
    record(None, cm, "creator", 100.0)
    changed = json.loads(json.dumps(cm))
    changed["data"]["a"] = "9"
    del changed["data"]["b"]
    record(cm, changed, "editor", 160.0)
    entries = {e["manager"]: e for e in changed["metadata"]["managedFields"]}
    assert entries["creator"]["fieldsV1"] == {"f:data": {".": {}}} and entries["creator"]["time"] == rfc3339(100.0)
    assert entries["editor"]["fieldsV1"] == {"f:data": {"f:a": {}}} and entries["editor"]["time"] == rfc3339(160.0)
    emptied = json.loads(json.dumps(changed))
    emptied["data"] = {}
    record(changed, emptied, "creator", 200.0)  # the editor's only field is gone: its entry goes too
    assert [e["manager"] for e in emptied["metadata"]["managedFields"]] == ["creator"]
    same = json.loads(json.dumps(emptied))
    record(emptied, same, "someone", 300.0)  # a no-op write changes nothing
    assert same == emptied
