"""The watches in `clay-cockpit check` and `clay-cockpit rbac` (issue 15),
against the drill over real HTTP: the pods, the events, the deployment (by
its name) and its ReplicaSets are watched, so the table asks for watch on
each and the Role grants it; a watch the identity may not open is a warning
that says what the cockpit does instead (it lists), never a failure."""

from __future__ import annotations

import asyncio

import pytest
import yaml
from test_rbac import granted

from clay_cockpit.check.kube import kube_rows
from clay_cockpit.check.rbac import manifest, permissions
from clay_cockpit.check.report import exit_code, render
from clay_cockpit.check.rows import Status
from clay_cockpit.config import config_from_toml
from clay_cockpit.sources import Sources


def drill_config(sim):
    return config_from_toml(sim.config_dict(), "drill.toml")


def test_the_table_asks_for_every_watch_the_cockpit_opens(shared_sim) -> None:
    cfg = drill_config(shared_sim)
    d = cfg.kube.deployments[0]
    table = {(p.verb, p.resource, p.group, p.name): p for p in permissions(cfg)}
    for key in (("watch", "pods", "", ""), ("watch", "events", "", ""), ("watch", "replicasets", "apps", "")):
        assert key in table and table[key].without == f"listed every {cfg.kube.refresh:g}s instead", key
    assert table[("list", "deployments", "apps", d)].without == "read with get at each infra poll instead"
    assert table[("watch", "deployments", "apps", d)].without
    assert not table[("list", "pods", "", "")].without, "without listing pods the pods pane has nothing"
    role = next(yaml.safe_load_all(manifest(cfg, read_only=True, subject_list=[])))
    assert all(granted(role, p) for p in permissions(cfg, read_only=True))
    (rule,) = [r for r in role["rules"] if r["resources"] == ["deployments"] and r.get("resourceNames") == [d]]
    assert {"get", "list", "watch"} <= set(rule["verbs"]), rule  # the watch by name: RBAC authorises it by resourceNames


@pytest.mark.parametrize("resource", ["pods", "replicasets"])
def test_a_denied_watch_warns_with_what_the_cockpit_does_instead(sim, resource: str) -> None:
    sim.kube("deny", verb="watch", resource=resource)
    cfg = drill_config(sim)
    got = asyncio.run(kube_rows(cfg, Sources(cfg)))
    (warned,) = [r for r in got if r.status is not Status.OK]
    assert warned.name == f"kube watch {resource}" and warned.status is Status.WARN, render(got)
    assert warned.detail == f"denied: watch {resource} in namespace {cfg.kube.namespace}: listed every {cfg.kube.refresh:g}s instead"
    assert "cluster admin" in warned.hint and warned.enables
    assert exit_code(got) == 0
