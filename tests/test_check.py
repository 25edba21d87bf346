"""`clay-cockpit check`, Kubernetes rows, against the drill over real HTTP:
the kubeconfig, authentication, then one SelfSubjectAccessReview per
permission of clay_cockpit.check.rbac.permissions."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from clay_cockpit.actions.plans import SPECS, needs
from clay_cockpit.check.kube import kube_rows
from clay_cockpit.check.rbac import permissions
from clay_cockpit.check.report import exit_code, render
from clay_cockpit.check.rows import Status
from clay_cockpit.config import config_from_toml
from clay_cockpit.sources import Sources


def drill_config(sim, **kube):
    cfg = config_from_toml(sim.config_dict(), "drill.toml")
    return replace(cfg, kube=replace(cfg.kube, **kube)) if kube else cfg


def rows(cfg, read_only: bool = False):
    return asyncio.run(kube_rows(cfg, Sources(cfg), read_only=read_only))


def test_all_kube_rows_ok_on_a_healthy_drill(sim) -> None:
    cfg = drill_config(sim)
    got = rows(cfg)
    assert all(r.status is Status.OK for r in got), render(got)
    names = [r.name for r in got]
    assert names[:2] == ["kubeconfig", "kube auth"]
    assert names[2:] == [f"kube {p.what}" for p in permissions(cfg)], "one row per permission, in the table's order"
    assert "kube patch secrets/clay-api" in names and "kube create leases" in names
    assert exit_code(got) == 0
    reviews = [r for r in sim.requests("kube") if r["path"].endswith("/selfsubjectaccessreviews")]
    assert len(reviews) == len(permissions(cfg))
    assert all(not r["mutating"] for r in sim.requests("kube")), "check never writes"


@pytest.mark.parametrize(
    ("verb", "resource", "row"),
    [
        ("patch", "secrets", "kube patch secrets/clay-api"),
        ("get", "pods/log", "kube get pods/log"),
        ("patch", "deployments/scale", "kube patch deployments/clay-sync/scale"),
        ("create", "leases", "kube create leases"),
    ],
)
def test_each_denied_permission_is_its_own_fail(sim, verb: str, resource: str, row: str) -> None:
    sim.kube("deny", verb=verb, resource=resource)
    got = rows(drill_config(sim))
    failed = [r for r in got if r.status is Status.FAIL]
    assert [r.name for r in failed] == [row], render(got)
    assert failed[0].detail.startswith(f"denied: {verb} {resource}") and "cluster admin" in failed[0].hint
    assert failed[0].enables
    assert exit_code(got) == 1


def test_read_only_does_not_ask_the_writes(sim) -> None:
    sim.kube("deny", verb="patch", resource="secrets")
    cfg = drill_config(sim)
    got = rows(cfg, read_only=True)
    assert all(r.status is Status.OK for r in got), render(got)
    assert not any(r.name == "kube patch secrets/clay-api" for r in got)
    assert got[-1].name == "kube read-only" and str(sum(p.write for p in permissions(cfg))) in got[-1].detail
    got = rows(drill_config(sim, read_only=True))
    assert got[-1].name == "kube read-only", "kube.read_only in the config does the same"


def test_missing_kubeconfig_is_a_config_fail(sim, tmp_path) -> None:
    missing = tmp_path / "no-kubeconfig"
    got = rows(drill_config(sim, kubeconfig=str(missing)))
    assert len(got) == 1 and got[0].name == "kubeconfig" and got[0].status is Status.FAIL
    assert got[0].detail.startswith("config: ") and str(missing) in got[0].detail and "kube.kubeconfig" in got[0].hint
    assert "auth_expired" not in got[0].detail


def test_expired_token_fails_auth_with_the_login_hint(sim) -> None:
    sim.kube("expire_token")
    got = rows(drill_config(sim))
    assert [(r.name, r.status) for r in got] == [("kubeconfig", Status.OK), ("kube auth", Status.FAIL)]
    assert got[1].detail.startswith("auth_expired") and "clay-drill" in got[1].hint


def test_every_permission_an_action_reviews_is_in_the_table(sim) -> None:
    for mode, restart in (("configmap", True), ("configmap", False), ("env", True)):
        cfg = drill_config(sim)
        cfg = replace(cfg, kube=replace(cfg.kube, flags=replace(cfg.kube.flags, mode=mode, restart_on_change=restart)))
        table = {(p.verb, p.resource, p.group, p.subresource, p.name) for p in permissions(cfg)}
        for kind in SPECS:
            for need in needs(cfg, kind, cfg.kube.deployments[0]):
                assert (need.verb, need.resource, need.group, need.subresource, need.name) in table, (mode, kind, need)
