"""Our pods table says what ``kubectl get pods`` says — NAME, READY, STATUS, RESTARTS —
for the same objects of the drill's Kubernetes API (real HTTPS; kubectl prints the API
server's Table row, the cockpit reads the pods with the official client and draws them
with the pods pane's own cells): a running pod with an init container and a native
sidecar, a pod in Init, a crash-looping app container, a crash-looping sidecar, a
terminating pod, an evicted one and one on a lost node.

kubectl is /usr/bin/kubectl: without it the test is skipped locally, and fails in CI.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import pytest

from clay_cockpit.config import config_from_toml
from clay_cockpit.signals import PodsSnapshot
from clay_cockpit.sources.kube import Kube
from clay_cockpit.sources.kube_pods import pod_status
from clay_cockpit.widgets.pods import pod_cells

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
NS = "clay-sync"
SIDECARS = {
    "spec": {
        "template": {
            "spec": {
                "initContainers": [
                    {"name": "migrate", "image": "registry.internal/clay-sync-migrate:1.14.1"},
                    {"name": "log-shipper", "image": "cr.fluentbit.io/fluent/fluent-bit:3.1", "restartPolicy": "Always"},
                ]
            }
        }
    }
}
T = TypeVar("T")


def kubectl(sim: Any, *args: str) -> str:
    if not Path(KUBECTL).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("kubectl is missing in CI (/usr/bin/kubectl): the parity test must run there")
        pytest.skip("kubectl is not installed (/usr/bin/kubectl missing)")
    proc = subprocess.run(
        [KUBECTL, "--kubeconfig", str(sim.kubeconfig), "--context", sim.context, "-n", NS, *args],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def on_loop(sim: Any, fn: Callable[[], T]) -> T:
    """Run ``fn`` on the drill's event loop (its objects live there)."""

    async def call() -> T:
        return fn()

    return asyncio.run_coroutine_threadsafe(call(), sim._loop).result(10)


def kubectl_rows(sim: Any) -> dict[str, tuple[str, str, str]]:
    out = kubectl(sim, "get", "pods", "-l", "app=clay-sync", "-o", "json")
    assert json.loads(out)["items"]  # the same pods, as objects (sanity)
    table = kubectl(sim, "get", "pods", "-l", "app=clay-sync")
    lines = table.splitlines()
    header = lines[0]
    cols = [header.index(h) for h in ("NAME", "READY", "STATUS", "RESTARTS", "AGE")]
    rows = {}
    for line in lines[1:]:
        name, ready, status, restarts = (line[a:b].strip() for a, b in zip(cols, cols[1:]))
        rows[name] = (ready, status, restarts)
    return rows


def our_rows(sim: Any, now: float) -> dict[str, tuple[str, str, str]]:
    kube = Kube(replace(config_from_toml(sim.config_dict(), "drill.toml").kube))
    snap = kube.list_pods()
    assert isinstance(snap, PodsSnapshot), snap
    rows = {}
    for pod in snap.pods:
        name, status, ready, restarts, *_ = (text for text, _ in pod_cells(pod, now, False, 3))
        rows[name] = (ready, status, restarts)
    return rows


def test_our_pods_table_says_what_kubectl_says(sim: Any) -> None:
    kube = sim._drill.world.kube
    kubectl(sim, "patch", "deployment", "clay-sync", "--type=strategic", "-p", json.dumps(SIDECARS))
    for _ in range(12):  # the rollout: new pods through Init:0/2, Init:1/2, PodInitializing, Running
        sim.advance(10)
    pods = on_loop(sim, lambda: sorted(p for (ns, p), st in kube.ctl.pods.items() if ns == NS and st.active and st.inits))
    assert len(pods) >= 3, pods
    running, crashing, sidecar_crashing = pods[:3]

    # a pod on a lost node, a terminating one, an evicted one: three more replicas to play with
    kubectl(sim, "scale", "deployment", "clay-sync", "--replicas=6")
    sim.advance(30)  # the three new pods start
    sim.advance(30)

    def more() -> dict[str, str]:
        ctl = kube.ctl
        now = kube.clock()
        assert kube.crash(crashing, "OOMKilled", 137)
        st = ctl.pods[(NS, sidecar_crashing)]
        assert st.crash_sidecar(now, "log-shipper", "Error", 1, ctl.pod_event)
        ctl.render(st)
        spare = sorted(n for (ns, n), st in ctl.pods.items() if ns == NS and st.active and st.running and n not in pods[:3])
        lost, terminating, evicted = spare[:3]
        ctl.pods[(NS, lost)].lose_node(now)
        ctl.render(ctl.pods[(NS, lost)])
        kube.evict(evicted, "The node was low on resource: memory. ")
        st = ctl.pods[(NS, terminating)]
        st.delete(now, 30, ctl.rng, ctl.pod_event)
        st.stop_at = now + 600  # a slow shutdown, so it is still Terminating when we look
        ctl.render(st)
        ctl.tick()
        # a new pod held in its init container (a migration that takes long)
        held = next(p for (ns, n), p in ctl.pods.items() if ns == NS and p.active and not p.instance)
        held.start_at = now + 600
        ctl.tick()
        ctl.render(held)
        return {"lost": lost, "terminating": terminating, "evicted": evicted, "held": held.name}

    names = on_loop(sim, more)
    sim.advance(1)
    now = on_loop(sim, kube.clock)
    theirs, ours = kubectl_rows(sim), our_rows(sim, now)
    assert ours == theirs
    want = {
        running: ("2/2", "Running"),
        crashing: ("1/2", "CrashLoopBackOff"),
        sidecar_crashing: ("1/2", "Init:CrashLoopBackOff"),
        names["lost"]: ("2/2", "Unknown"),
        names["terminating"]: ("2/2", "Terminating"),
        names["held"]: ("0/2", "Init:0/2"),
    }
    for name, (ready, status) in want.items():
        assert theirs[name][:2] == (ready, status), (name, theirs[name])
    assert theirs[names["evicted"]][:2] == ("1/2", "Evicted")  # the sidecar still runs; the app is killed after 2 s
    # once the kubelet killed the evicted pod's containers kubectl prints the app's exit ("Error", 137);
    # the table keeps "Evicted" on purpose (widgets/pods.shown_status): the pod did not crash, its node took it
    sim.advance(3)
    now = on_loop(sim, kube.clock)
    theirs, ours = kubectl_rows(sim), our_rows(sim, now)
    evicted = names["evicted"]
    assert theirs[evicted][1] == "Error" and ours[evicted][1] == "Evicted"
    assert {n: r for n, r in ours.items() if n != evicted} == {n: r for n, r in theirs.items() if n != evicted}
    assert ours[evicted][0::2] == theirs[evicted][0::2]
    assert theirs[crashing][2].startswith("1 (") and theirs[sidecar_crashing][2].startswith("1 (")  # "1 (31s ago)"


def test_a_sidecar_pod_starts_through_init_and_its_logs_follow(sim: Any) -> None:
    """A new pod with an init container and a native sidecar goes Init:0/2 → Init:1/2 →
    Running (kubectl's words, from the drill's kubelet statuses; the cockpit reads the same),
    ends 2/2, and its logs read without naming a container: the app is its only container."""
    kube = sim._drill.world.kube
    kubectl(sim, "patch", "deployment", "clay-sync", "--type=strategic", "-p", json.dumps(SIDECARS))
    seen: dict[str, list[str]] = {}

    def stored() -> dict[str, Any]:
        return {n: kube.store.get("pods", NS, n) for (ns, n), p in kube.ctl.pods.items() if ns == NS and p.inits}

    for _ in range(120):
        sim.advance(0.5)
        for name, obj in on_loop(sim, stored).items():
            status = pod_status(obj)
            if not seen.get(name) or seen[name][-1] != status:
                seen.setdefault(name, []).append(status)
    assert len(seen) >= 3, seen
    for name, statuses in seen.items():
        assert statuses == ["Init:0/2", "Init:1/2", "Running"], (name, statuses)
    rows = kubectl_rows(sim)
    assert {rows[name][:2] for name in seen} == {("2/2", "Running")}
    assert "starting clay-sync" in kubectl(sim, "logs", sorted(seen)[0])


def test_the_sidecars_scenario_switch_and_the_log_follower(tmp_path: Path) -> None:
    """``[service] sidecars = true``: every pod of the drill runs the migration init container and
    the log-shipper sidecar from the start; kubectl and the cockpit both read 2/2 Running, and the
    cockpit's log follower (no container named, as by default) reads the app's lines."""
    from clay_cockpit.sim.background import start_background
    from clay_cockpit.sim.scenario import load_scenario, scenarios_dir

    spec = load_scenario("healthy")
    spec = replace(spec, service=replace(spec.service, sidecars=True))
    assert (scenarios_dir() / "healthy.toml").exists()
    sim = start_background(spec, seed=7, freeze_at=1_767_225_600.0, workdir=tmp_path)
    try:
        rows = kubectl_rows(sim)
        assert len(rows) == 3 and set(rows.values()) == {("2/2", "Running", "0")}, rows
        ours = our_rows(sim, 1_767_225_600.0)
        assert ours == rows
        objs = json.loads(kubectl(sim, "get", "pods", "-o", "json"))["items"]
        for obj in objs:
            assert [c["name"] for c in obj["status"]["initContainerStatuses"]] == ["migrate", "log-shipper"]
            migrate, shipper = obj["status"]["initContainerStatuses"]
            assert migrate["state"]["terminated"]["reason"] == "Completed" and shipper["started"] and shipper["ready"]
        pod = objs[0]["metadata"]["name"]
        for container in ("log-shipper", "migrate"):  # their logs read (the drill writes none to them), as kubectl asks
            assert kubectl(sim, "logs", pod, "-c", container) == ""
        assert "starting clay-sync" in kubectl(sim, "logs", pod, "-c", "clay-sync")
        kube = Kube(replace(config_from_toml(sim.config_dict(), "drill.toml").kube))
        batches: list[Any] = []
        errors: list[Any] = []
        stop = threading.Event()
        follower = threading.Thread(target=kube.follow_logs, args=(batches.append, errors.append, stop), daemon=True)
        follower.start()
        deadline = time.monotonic() + 10
        while not any(batches) and time.monotonic() < deadline:
            time.sleep(0.1)
        stop.set()
        follower.join(10)
        lines = [line for batch in batches for line in batch]
        assert lines and not errors, errors
        assert {line.pod for line in lines} <= {o["metadata"]["name"] for o in objs}
    finally:
        sim.stop()
