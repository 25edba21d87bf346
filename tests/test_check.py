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
    asked = {(p.verb, p.rbac_resource, p.name) for p in permissions(cfg, read_only=True)}
    skipped = [p for p in permissions(cfg) if p.write and (p.verb, p.rbac_resource, p.name) not in asked]  # (presence is asked)
    assert got[-1].name == "kube read-only" and got[-1].detail.startswith(f"{len(skipped)} write permissions not checked")
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


# --------------------------------------------------------------------------
# The shared incident (issue 17): ConfigMaps and presence Leases, asked only with [shared] enabled

SHARED_ROWS = [
    "kube get configmaps",
    "kube list configmaps",
    "kube watch configmaps",
    "kube create configmaps",
    "kube update configmaps",
    "kube list leases",
]


def shared_config(sim, enabled: bool = True):
    cfg = drill_config(sim)
    return replace(cfg, shared=replace(cfg.shared, enabled=enabled))


def test_the_shared_incident_is_asked_about_only_when_enabled(sim) -> None:
    got = rows(shared_config(sim))
    assert all(r.status is Status.OK for r in got), render(got)
    names = [r.name for r in got]
    assert all(n in names for n in SHARED_ROWS), names
    assert "kube get configmaps/clay-sync-flags" in names, "the flags' ConfigMap keeps its own rows"
    sim.kube("deny", verb="*", resource="configmaps")
    sim.kube("deny", verb="list", resource="leases")
    cfg = shared_config(sim, enabled=False)
    cfg = replace(cfg, kube=replace(cfg.kube, flags=replace(cfg.kube.flags, mode="env")))
    got = rows(cfg)
    assert all(r.status is Status.OK for r in got), render(got)  # nothing denied is asked about
    assert not any(n in [r.name for r in got] for n in SHARED_ROWS)


@pytest.mark.parametrize(
    ("verb", "resource", "lost"),
    [
        ("get", "configmaps", "the incident stays local to this cockpit: the other responders do not see it"),
        ("list", "configmaps", "the incident stays local to this cockpit: the other responders do not see it"),
        ("watch", "configmaps", "listed every 30s instead: another responder's change shows up to 30s late"),
        ("create", "configmaps", "this cockpit cannot declare a shared incident"),
        ("update", "configmaps", "this cockpit watches the shared incident but adds nothing to it"),
        ("list", "leases", "who is in the incident is not shown"),
    ],
)
def test_a_denied_shared_incident_permission_warns_with_what_is_lost(sim, verb: str, resource: str, lost: str) -> None:
    # the flags on the pod template: a denial of every ConfigMap would also take the flags' one (a FAIL of its own)
    cfg = shared_config(sim)
    cfg = replace(cfg, kube=replace(cfg.kube, flags=replace(cfg.kube.flags, mode="env")))
    sim.kube("deny", verb=verb, resource=resource)
    got = rows(cfg)
    (warned,) = [r for r in got if r.status is not Status.OK]
    assert warned.name == f"kube {verb} {resource}" and warned.status is Status.WARN, render(got)
    assert warned.detail.startswith(f"denied: {verb} {resource} in namespace {cfg.kube.namespace}: {lost}"), warned.detail
    assert "clay-cockpit rbac" in warned.hint and warned.enables
    assert exit_code(got) == 0, "the cockpit works on: a warning, not a failure"


def test_the_watch_fallback_the_row_names_is_the_shared_incidents_own(sim) -> None:
    """The denied watch's row says how often the shared incident is listed instead: the ListWatch it opens."""
    from clay_cockpit.check.rbac import SHARED_RELIST
    from clay_cockpit.sources.kube_incident import SharedIncidents

    cfg = shared_config(sim)
    watch = SharedIncidents(Sources(cfg).kube).watch("INC-1")
    assert watch.relist_every == SHARED_RELIST
    (row,) = [p for p in permissions(cfg) if (p.verb, p.resource) == ("watch", "configmaps")]
    assert f"listed every {SHARED_RELIST:g}s instead" in row.without


def test_read_only_asks_no_shared_incident_write_but_its_presence(sim) -> None:
    """Read-only: the cockpit changes nothing in the shared incident (no ConfigMap write is asked about) but is
    present in it (issue 17): its presence Lease's create/update are asked, and denied they only warn."""
    for verb, resource in (("create", "configmaps"), ("update", "configmaps"), ("create", "leases"), ("update", "leases")):
        sim.kube("deny", verb=verb, resource=resource)
    cfg = shared_config(sim)
    got = rows(cfg, read_only=True)
    names = [r.name for r in got]
    assert [n for n in SHARED_ROWS if n in names] == [
        "kube get configmaps",
        "kube list configmaps",
        "kube watch configmaps",
        "kube list leases",
    ]
    assert not any(n.split()[1] in ("create", "update", "patch") for n in names if n.startswith("kube ") and "leases" not in n)
    presence = [r for r in got if r.name in ("kube create leases", "kube update leases")]
    assert [r.status for r in presence] == [Status.WARN, Status.WARN], render(got)
    assert all("without being listed as present" in r.detail for r in presence), render(presence)
    assert all(r.status is Status.OK for r in got if r not in presence), render(got)
    reviews = [r for r in sim.requests("kube") if r["path"].endswith("/selfsubjectaccessreviews")]
    assert len(reviews) == len(permissions(cfg, read_only=True))
