"""`clay-cockpit rbac`: the Role and RoleBinding from the same permissions
table `check` asks about; valid for `kubectl apply --dry-run=client` against
the drill."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import yaml

from clay_cockpit.check.rbac import Permission, manifest, permissions, rules, subjects
from clay_cockpit.config import config_from_toml


def drill_config(sim):
    return config_from_toml(sim.config_dict(), "drill.toml")


def granted(role: dict, perm) -> bool:
    return any(
        perm.group in r["apiGroups"]
        and perm.rbac_resource in r["resources"]
        and perm.verb in r["verbs"]
        and (not r.get("resourceNames") or perm.name in r["resourceNames"])
        for r in role["rules"]
    )


@pytest.mark.parametrize("read_only", [False, True])
def test_every_permission_check_asks_is_in_the_role(shared_sim, read_only: bool) -> None:
    cfg = drill_config(shared_sim)
    docs = list(yaml.safe_load_all(manifest(cfg, read_only=read_only, subject_list=subjects(["alice"], [], []))))
    role, binding = docs
    assert role["kind"] == "Role" and role["metadata"]["namespace"] == cfg.kube.namespace
    assert all(granted(role, p) for p in permissions(cfg, read_only=read_only))
    if read_only:  # no write but the responder's own presence Lease in the shared incident (issue 17)
        writes = [r for r in role["rules"] if set(r["verbs"]) & {"patch", "create", "update"}]
        assert [r["resources"] for r in writes] == [["leases"]] and not writes[0].get("resourceNames")
        assert not any(granted(role, p) for p in permissions(cfg) if p.write and p.resource != "leases")
    assert binding["roleRef"]["name"] == role["metadata"]["name"] and binding["subjects"][0]["name"] == "alice"
    named = [r for r in role["rules"] if "secrets" in r["resources"]]
    assert named and all(r["resourceNames"] == [cfg.kube.secret.name] for r in named), "restricted to the one Secret"


def test_without_a_subject_only_the_role(shared_sim) -> None:
    docs = list(yaml.safe_load_all(manifest(drill_config(shared_sim), read_only=False, subject_list=[])))
    assert [d["kind"] for d in docs] == ["Role"]
    with pytest.raises(ValueError, match="NAMESPACE:NAME"):
        subjects([], [], ["just-a-name"])


def test_kubectl_apply_dry_run_accepts_it(sim, tmp_path) -> None:
    if shutil.which("kubectl") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("kubectl is required in CI")
        pytest.skip("kubectl is not installed")
    config = tmp_path / "cockpit.toml"
    import tomli_w

    config.write_text(tomli_w.dumps(sim.config_dict()))
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "clay_cockpit.cli",
            "rbac",
            "--config",
            str(config),
            "--user",
            "alice",
            "--group",
            "oncall",
            "--service-account",
            "clay-sync:cockpit",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **sim.env()},
    )
    assert out.returncode == 0, out.stderr
    applied = subprocess.run(
        ["kubectl", "--kubeconfig", str(sim.kubeconfig), "apply", "--dry-run=client", "-f", "-"],
        input=out.stdout,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert applied.returncode == 0, applied.stderr
    assert "role.rbac.authorization.k8s.io/clay-cockpit created (dry run)" in applied.stdout
    assert "rolebinding.rbac.authorization.k8s.io/clay-cockpit created (dry run)" in applied.stdout


# --------------------------------------------------------------------------
# The shared incident (issue 17): its ConfigMaps and presence Leases, only with [shared] enabled

SHARED = {  # (verb, resource, group): what the shared incident adds to the table, all without a name
    ("get", "configmaps", ""),
    ("list", "configmaps", ""),
    ("watch", "configmaps", ""),
    ("create", "configmaps", ""),
    ("update", "configmaps", ""),
    ("list", "leases", "coordination.k8s.io"),
}


def with_shared(cfg, enabled: bool, flags_mode: str = "configmap"):
    from dataclasses import replace

    kube = replace(cfg.kube, flags=replace(cfg.kube.flags, mode=flags_mode))
    return replace(cfg, kube=kube, shared=replace(cfg.shared, enabled=enabled))


def grants(role: dict) -> set[tuple[str, str, str, str]]:
    """(group, resource, verb, name or "") for every grant of the Role's rules."""
    return {
        (g, res, v, n)
        for r in role["rules"]
        for g in r["apiGroups"]
        for res in r["resources"]
        for v in r["verbs"]
        for n in r.get("resourceNames") or [""]
    }


def needed(perms) -> set[tuple[str, str, str, str]]:
    """What the table needs, as grants: a verb the cockpit uses on any object covers it by name too."""
    anywhere = {(p.group, p.rbac_resource, p.verb, "") for p in perms if not p.name}
    named = {(p.group, p.rbac_resource, p.verb, p.name) for p in perms if p.name}
    return anywhere | {g for g in named if (*g[:3], "") not in anywhere}


def test_the_shared_incident_rows_come_only_with_shared_enabled(shared_sim) -> None:
    base = drill_config(shared_sim)
    on = {(p.verb, p.resource, p.group): p for p in permissions(with_shared(base, True)) if not p.name}
    off = {(p.verb, p.resource, p.group): p for p in permissions(with_shared(base, False)) if not p.name}
    assert SHARED <= set(on) and not SHARED & set(off)
    assert set(on) - set(off) == SHARED, "nothing else comes with it"
    for key in SHARED:
        assert on[key].without and on[key].enables, key  # denied, check warns with what is lost
        assert on[key].write is (key[0] in ("create", "update")), key
    for verb in ("get", "create", "update"):  # the actions' Lease rows, shared with presence
        key = (verb, "leases", "coordination.k8s.io")
        assert "presence" in on[key].enables and "presence" not in off[key].enables
        assert not on[key].without, "the actions need them: denied is a failure, as before"
    ro_table = {(p.verb, p.resource, p.group): p for p in permissions(with_shared(base, True), read_only=True) if not p.name}
    for verb in ("create", "update"):  # read-only: present in the incident, changing nothing in it; denied, a warning
        row = ro_table[(verb, "leases", "coordination.k8s.io")]
        assert "presence" in row.enables and row.without and not row.write, row
    assert ("create", "leases", "coordination.k8s.io") not in {
        (p.verb, p.resource, p.group) for p in permissions(with_shared(base, False), read_only=True)
    }, "without the shared incident a read-only responder writes no Lease"
    assert not any(p.write for p in permissions(with_shared(base, True), read_only=True))
    ro = {(p.verb, p.resource, p.group) for p in permissions(with_shared(base, True), read_only=True) if not p.name}
    assert ro & SHARED == {k for k in SHARED if k[0] in ("get", "list", "watch")}, "read-only: watches only"


@pytest.mark.parametrize("enabled", [True, False])
@pytest.mark.parametrize("read_only", [False, True])
@pytest.mark.parametrize("flags_mode", ["configmap", "env"])
def test_the_role_grants_exactly_the_table(shared_sim, enabled: bool, read_only: bool, flags_mode: str) -> None:
    cfg = with_shared(drill_config(shared_sim), enabled, flags_mode)
    perms = permissions(cfg, read_only=read_only)
    keys = [(p.verb, p.rbac_resource, p.group, p.name) for p in perms]
    assert len(keys) == len(set(keys)), "one row per permission: check would show a row twice"
    (role,) = yaml.safe_load_all(manifest(cfg, read_only=read_only, subject_list=[]))
    assert grants(role) == needed(perms), "every permission granted, and nothing more"
    shape = [(tuple(r["apiGroups"]), tuple(r["resources"]), bool(r.get("resourceNames"))) for r in role["rules"]]
    verbs = [tuple(r["verbs"]) for r in role["rules"]]
    assert len(set(zip(shape, verbs))) == len(shape), "no two rules could be one"
    unnamed = [r for r in role["rules"] if "configmaps" in r["resources"] and not r.get("resourceNames")]
    named = [r for r in role["rules"] if "configmaps" in r["resources"] and r.get("resourceNames")]
    if enabled:  # the shared incident's ConfigMaps have names made per incident: a rule without resourceNames
        assert [r["verbs"] for r in unnamed] == [["get", "list", "watch"] if read_only else ["create", "get", "list", "update", "watch"]]
    else:
        assert not unnamed, "without the shared incident, ConfigMaps stay restricted to the flags' one"
    if flags_mode == "configmap" and not (enabled and read_only):  # its get is then granted on every ConfigMap anyway
        assert [r["resourceNames"] for r in named] == [[cfg.kube.flags.configmap]]
    else:
        assert not named


def test_a_rule_with_names_never_narrows_a_verb_used_on_any_object() -> None:
    """Named and unnamed uses of one resource are separate rules: merged, resourceNames would narrow the
    unnamed verb to the names (RBAC), and a verb granted on any object is not granted again by name."""
    same = [Permission("get", "configmaps", name="flags"), Permission("get", "configmaps")]
    assert rules(same) == [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]
    apart = [
        Permission("get", "configmaps", name="flags"),
        Permission("patch", "configmaps", name="flags"),
        Permission("list", "configmaps"),
    ]
    assert rules(apart) == [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]},
        {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["flags"], "verbs": ["get", "patch"]},
    ]
