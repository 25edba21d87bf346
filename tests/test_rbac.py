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

from clay_cockpit.check.rbac import manifest, permissions, subjects
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
    if read_only:
        assert not any(set(r["verbs"]) & {"patch", "create", "update"} for r in role["rules"])
        assert not any(granted(role, p) for p in permissions(cfg) if p.write)
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
