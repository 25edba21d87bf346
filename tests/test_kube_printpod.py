"""kubectl's pod columns (READY, STATUS, RESTARTS) — the cockpit's port
(:func:`clay_cockpit.sources.kube_pods.print_pod` → PodInfo, and the pods table's
RESTARTS text) and the drill's own port (:func:`clay_cockpit.sim.kube.podprint.pod_columns`,
the API server's Table row kubectl prints) — against the cases of Kubernetes' own
tests: ``TestPrintPod`` and ``TestPrintPodWithRestartableInitContainer`` in
kubernetes/kubernetes pkg/printers/internalversion/printers_test.go. The expected
columns are copied from there (Go structs written in the API's JSON form), not
computed by our code; our few extra cases (signals, exit codes, NodeLost, evicted,
a crash-looping sidecar) follow the same source's rules and are marked as ours.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from clay_cockpit.sim.kube.podprint import pod_columns
from clay_cockpit.sim.kube.util import rfc3339
from clay_cockpit.sources.kube_pods import pod_info, print_pod
from clay_cockpit.widgets.pods import human_duration, restarts_text

NOW = 1_767_225_600.0
RUN: dict[str, Any] = {"running": {}}
WAIT: dict[str, Any] = {"waiting": {}}
DONE: dict[str, Any] = {"terminated": {"exitCode": 0}}  # Go's &ContainerStateTerminated{}
ALWAYS = "Always"


def ago(seconds: float) -> dict[str, Any]:
    return {"terminated": {"exitCode": 0, "finishedAt": rfc3339(NOW - seconds)}}


def cs(
    ready: bool = False, rc: int = 0, state: dict[str, Any] | None = None, last: dict[str, Any] | None = None, **kw: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {"ready": ready, "restartCount": rc, "state": state or {}}
    if last is not None:
        out["lastState"] = last
    out.update(kw)
    return out


def pod(
    name: str,
    containers: int | list[dict[str, Any]],
    phase: str,
    statuses: list[dict[str, Any]] | None = None,
    *,
    inits: int | list[dict[str, Any]] = 0,
    init_statuses: list[dict[str, Any]] | None = None,
    reason: str = "",
    conditions: list[dict[str, Any]] | None = None,
    deleting: bool = False,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": f"c{i}"} for i in range(containers)] if isinstance(containers, int) else containers}
    if inits:
        spec["initContainers"] = [{"name": f"i{i}"} for i in range(inits)] if isinstance(inits, int) else inits
    status: dict[str, Any] = {"phase": phase, "containerStatuses": statuses or [], "conditions": conditions or []}
    if init_statuses is not None:
        status["initContainerStatuses"] = init_statuses
    if reason:
        status["reason"] = reason
    meta: dict[str, Any] = {"name": name}
    if deleting:
        meta["deletionTimestamp"] = rfc3339(NOW - 10)
    return {"metadata": meta, "spec": spec, "status": status}


def cond(ctype: str, status: str, reason: str = "") -> dict[str, Any]:
    return {"type": ctype, "status": status, **({"reason": reason} if reason else {})}


def sidecars(*names: str) -> list[dict[str, Any]]:
    return [{"name": n, "restartPolicy": ALWAYS} for n in names]


# (pod, READY, STATUS, RESTARTS) — TestPrintPod, test1 … test20
UPSTREAM_PRINT_POD = [
    (pod("test1", 2, "podPhase", [cs(True, 3, RUN), cs(rc=3)]), "1/2", "podPhase", "6"),
    (
        pod("test2", 2, "podPhase", [cs(True, 3, RUN), cs(rc=3, state={"waiting": {"reason": "ContainerWaitingReason"}})]),
        "1/2",
        "ContainerWaitingReason",
        "6",
    ),
    (
        pod(
            "test3",
            2,
            "podPhase",
            [
                cs(rc=3, state={"waiting": {"reason": "ContainerWaitingReason"}}),
                cs(rc=3, state={"terminated": {"reason": "ContainerTerminatedReason"}}),
            ],
        ),
        "0/2",
        "ContainerWaitingReason",
        "6",
    ),
    (pod("test4", 2, "podPhase", [cs(True, 3, RUN), cs(True, 3)]), "1/2", "podPhase", "6"),
    (pod("test5", 2, "podPhase", [cs(True, 3, RUN), cs(True, 3)], reason="podReason"), "1/2", "podReason", "6"),
    (
        pod("test6", 2, "Running", [cs(True, 3, {"terminated": {"reason": "Completed", "exitCode": 0}}), cs(True, 3, RUN)]),
        "1/2",
        "NotReady",
        "6",
    ),
    (
        pod(
            "test6",
            2,
            "Running",
            [cs(True, 3, {"terminated": {"reason": "Completed", "exitCode": 0}}), cs(True, 3, RUN)],
            conditions=[cond("Ready", "True")],
        ),
        "1/2",
        "Running",
        "6",
    ),
    (
        pod("test7", 1, "podPhase", [cs(state=WAIT)], inits=1, init_statuses=[cs(rc=3, state=RUN, last=ago(10))]),
        "0/1",
        "Init:0/1",
        "3 (10s ago)",
    ),
    (
        pod("test8", 1, "podPhase", [cs(state=WAIT)], inits=2, init_statuses=[cs(rc=3, state=RUN, last=ago(10)), cs(state=WAIT)]),
        "0/1",
        "Init:0/2",
        "3 (10s ago)",
    ),
    (
        pod("test9", 1, "podPhase", [cs(state=WAIT)], inits=2, init_statuses=[cs(state=DONE), cs(rc=3, state=RUN, last=ago(10))]),
        "0/1",
        "Init:1/2",
        "3 (10s ago)",
    ),
    (
        pod(
            "test10",
            1,
            "podPhase",
            [cs(state=WAIT)],
            inits=2,
            init_statuses=[cs(rc=2, state=DONE, last=ago(120)), cs(rc=3, state=RUN, last=ago(10))],
        ),
        "0/1",
        "Init:1/2",
        "5 (10s ago)",
    ),
    (
        pod("test11", 1, "Running", [cs(rc=4, state=RUN, last=ago(20))], inits=1, init_statuses=[cs(rc=2, state=DONE, last=ago(120))]),
        "0/1",
        "Running",
        "4 (20s ago)",
    ),
    (pod("test12", 1, "Running", [cs(True, 3, RUN, ago(5 * 86400))]), "1/1", "Running", "3 (5d ago)"),
    (pod("test13", 2, "Running", [cs(True, 0, RUN), cs(True, 3, RUN, ago(10 * 86400))]), "2/2", "Running", "3 (10d ago)"),
    (pod("test14", 2, "Running", [cs(True, 6, RUN, ago(5 * 86400)), cs(True, 3, RUN, ago(20 * 86400))]), "2/2", "Running", "9 (5d ago)"),
    (pod("test15", 2, "podPhase", conditions=[cond("PodScheduled", "False", "SchedulingGated")]), "0/2", "SchedulingGated", "0"),
    (pod("test16", 1, "Succeeded", [cs(state={"terminated": {"reason": "Completed", "exitCode": 0}})]), "0/1", "Completed", "0"),
    (pod("test17", 1, "Failed", [cs(state={"terminated": {"reason": "Error", "exitCode": 1}})]), "0/1", "Error", "0"),
    (
        pod("test18", 1, "Succeeded", [cs(state={"terminated": {"reason": "Completed", "exitCode": 0}})], deleting=True),
        "0/1",
        "Completed",
        "0",
    ),
    (pod("test19", 1, "Running", [cs(state=RUN)], deleting=True), "0/1", "Terminating", "0"),
    (pod("test20", 1, "Pending", deleting=True), "0/1", "Terminating", "0"),
]

# TestPrintPodWithRestartableInitContainer
UPSTREAM_SIDECARS = [
    (
        pod(
            "test1",
            1,
            "Pending",
            [cs(state=WAIT)],
            inits=sidecars("restartable-init-1", "restartable-init-2"),
            init_statuses=[
                cs(rc=3, state=RUN, last=ago(10), name="restartable-init-1", started=False),
                cs(state=WAIT, name="restartable-init-2", started=False),
            ],
            conditions=[cond("Initialized", "False")],
        ),
        "0/3",
        "Init:0/2",
        "3 (10s ago)",
    ),
    (
        pod(
            "test1",
            1,
            "Pending",
            [cs(state=WAIT)],
            inits=sidecars("restartable-init-1", "restartable-init-2"),
            init_statuses=[
                cs(rc=3, state=RUN, last=ago(10), name="restartable-init-1", started=True),
                cs(state=RUN, name="restartable-init-2", started=False),
            ],
            conditions=[cond("Initialized", "False")],
        ),
        "0/3",
        "Init:1/2",
        "3 (10s ago)",
    ),
    (
        pod(
            "test2",
            1,
            "Running",
            [cs(True, 4, RUN, ago(20))],
            inits=sidecars("restartable-init-1", "restartable-init-2"),
            init_statuses=[
                cs(rc=3, state=RUN, last=ago(10), name="restartable-init-1", started=True),
                cs(state=RUN, name="restartable-init-2", started=True),
            ],
            conditions=[cond("Initialized", "True")],
        ),
        "1/3",
        "Running",
        "7 (10s ago)",
    ),
    (
        pod(
            "test3",
            1,
            "Succeeded",
            [cs(rc=4, state={"terminated": {"reason": "Completed", "exitCode": 0}}, last=ago(20))],
            inits=sidecars("restartable-init-1", "restartable-init-2"),
            init_statuses=[
                cs(
                    rc=3, state={"terminated": {"reason": "Error", "exitCode": 137}}, last=ago(10), name="restartable-init-1", started=False
                ),
                cs(state={"terminated": {"reason": "Error", "exitCode": 137}}, name="restartable-init-2", started=False),
            ],
            conditions=[cond("Initialized", "True")],
        ),
        "0/3",
        "Completed",
        "7 (10s ago)",
    ),
    (
        pod(
            "test4",
            [{"name": "container1"}],
            "Running",
            [{"name": "containerinvalid"}, {"name": "container1"}],
            inits=[{"name": "init1"}, {"name": "sidecar1", "restartPolicy": ALWAYS}],
            init_statuses=[{"name": "initinvalid"}, {"name": "init1"}, {"name": "sidecar1"}],
        ),
        "0/2",
        "Init:0/2",
        "0",
    ),
]

_TERM_SIG = {"terminated": {"signal": 9, "exitCode": 137}}
# ours, by the same rules (printPod's signal / exit-code / NodeLost / sidecar branches)
OURS = [
    (pod("signal", 1, "Running", [cs(rc=1, state=_TERM_SIG)]), "0/1", "Signal:9", "1"),
    (pod("exit", 1, "Running", [cs(state={"terminated": {"exitCode": 2}})]), "0/1", "ExitCode:2", "0"),
    (pod("init-signal", 1, "Pending", [cs(state=WAIT)], inits=1, init_statuses=[cs(state=_TERM_SIG)]), "0/1", "Init:Signal:9", "0"),
    (
        pod("init-exit", 1, "Pending", [cs(state=WAIT)], inits=1, init_statuses=[cs(state={"terminated": {"exitCode": 3}})]),
        "0/1",
        "Init:ExitCode:3",
        "0",
    ),
    (
        pod(
            "init-error",
            1,
            "Pending",
            [cs(state=WAIT)],
            inits=1,
            init_statuses=[cs(rc=2, state={"waiting": {"reason": "CrashLoopBackOff"}}, last=ago(30))],
        ),
        "0/1",
        "Init:CrashLoopBackOff",
        "2 (30s ago)",
    ),
    (
        pod(
            "pod-initializing",
            1,
            "Pending",
            [cs(state=WAIT)],
            inits=1,
            init_statuses=[cs(state={"waiting": {"reason": "PodInitializing"}})],
        ),
        "0/1",
        "Init:0/1",
        "0",
    ),
    (pod("node-lost", 1, "Running", [cs(True, 0, RUN)], reason="NodeLost", deleting=True), "1/1", "Unknown", "0"),
    (pod("evicted", 1, "Failed", [cs(state={"terminated": {"reason": "Error", "exitCode": 137}})], reason="Evicted"), "0/1", "Error", "0"),
    (pod("evicted-before-kill", 1, "Failed", [cs(state=RUN)], reason="Evicted"), "0/1", "Evicted", "0"),
    # a sidecar started and ready, an init container that completed: Running, the sidecar counted
    (
        pod(
            "sidecar-running",
            [{"name": "app"}],
            "Running",
            [cs(True, 0, RUN, name="app")],
            inits=[{"name": "migrate"}, {"name": "shipper", "restartPolicy": ALWAYS}],
            init_statuses=[
                cs(state={"terminated": {"reason": "Completed", "exitCode": 0}}, name="migrate"),
                cs(True, 0, RUN, name="shipper", started=True),
            ],
            conditions=[cond("Initialized", "True"), cond("Ready", "True")],
        ),
        "2/2",
        "Running",
        "0",
    ),
    # a crash-looping sidecar of an initialised pod: kubectl says Init:CrashLoopBackOff, its restarts count
    (
        pod(
            "sidecar-crashloop",
            [{"name": "app"}],
            "Running",
            [cs(True, 0, RUN, name="app")],
            inits=[{"name": "shipper", "restartPolicy": ALWAYS}],
            init_statuses=[cs(rc=5, state={"waiting": {"reason": "CrashLoopBackOff"}}, last=ago(90), name="shipper", started=False)],
            conditions=[cond("Initialized", "True"), cond("Ready", "False")],
        ),
        "1/2",
        "Init:CrashLoopBackOff",
        "5 (90s ago)",
    ),
]

CASES = [pytest.param(*c, id=f"upstream-TestPrintPod-{i}-{c[0]['metadata']['name']}") for i, c in enumerate(UPSTREAM_PRINT_POD)]
CASES += [pytest.param(*c, id=f"upstream-RestartableInit-{i}-{c[0]['metadata']['name']}") for i, c in enumerate(UPSTREAM_SIDECARS)]
CASES += [pytest.param(*c, id=f"ours-{c[0]['metadata']['name']}") for c in OURS]


@pytest.mark.parametrize(("obj", "ready", "status", "restarts"), CASES)
def test_the_drills_table_row_prints_as_kubectl(obj: dict[str, Any], ready: str, status: str, restarts: str) -> None:
    assert pod_columns(obj, NOW)[:3] == (ready, status, restarts)


@pytest.mark.parametrize(("obj", "ready", "status", "restarts"), CASES)
def test_the_cockpits_pod_info_reads_as_kubectl(obj: dict[str, Any], ready: str, status: str, restarts: str) -> None:
    info = pod_info(obj)
    assert (f"{info.ready}/{info.containers}", info.status, restarts_text(info, NOW)) == (ready, status, restarts)
    printed = print_pod(obj)
    assert (printed.ready, printed.total, printed.restarts) == (info.ready, info.containers, info.restarts)


@pytest.mark.parametrize(
    ("seconds", "text"),  # k8s.io/apimachinery/pkg/util/duration TestHumanDuration
    [(0, "0s"), (1, "1s"), (119, "119s"), (120, "2m"), (121, "2m1s"), (599, "9m59s"), (600, "10m"), (179 * 60, "179m"),
     (3 * 3600, "3h"), (3 * 3600 + 60, "3h1m"), (8 * 3600, "8h"), (47 * 3600, "47h"), (48 * 3600, "2d"), (49 * 3600, "2d1h"),
     (8 * 86400, "8d"), (729 * 86400, "729d"), (730 * 86400, "2y"), (731 * 86400, "2y1d"), (8 * 365 * 86400, "8y")],
)  # fmt: skip
def test_human_duration_as_kubectl(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text


REAL = Path(__file__).resolve().parent / "fixtures" / "real"


def test_recorded_real_pods() -> None:
    """The recorded objects (tests/fixtures/real, see SOURCES.md): both ports agree on them."""
    oom = json.loads((REAL / "k8s-pod-oomkilled-laststate.json").read_text())
    fragment = json.loads((REAL / "k8s-containerstatus-crashloopbackoff.json").read_text())
    crash = {
        "metadata": {"name": "dns-example"},
        "spec": {"containers": [{"name": "dns-example"}]},
        "status": {"phase": "Running", **fragment},
    }
    for obj, want in ((oom, ("1/1", "Running", "1")), (crash, ("0/1", "CrashLoopBackOff", "2"))):
        ready, status, restarts, _ = pod_columns(obj, NOW)
        info = pod_info(obj)
        assert (ready, status, restarts.split(" ")[0]) == want
        assert (f"{info.ready}/{info.containers}", info.status, str(info.restarts)) == want
        last = info.last_restart_at
        assert last is not None and last.tzinfo is not None and last < datetime.now(UTC)
        assert restarts == restarts_text(info, NOW)  # the "(… ago)" part too, at the same clock


def test_a_crash_looping_sidecar_troubles_the_pod_for_triage() -> None:
    """A crash-looping native sidecar beside a ready app container: triage counts the pod as
    crashing (kubectl's Init:CrashLoopBackOff), not ready (1/2), its restarts and its last exit
    are the sidecar's; the pods table puts it first."""
    from clay_cockpit.triage.service import is_crashing
    from clay_cockpit.widgets.pods import is_troubled

    obj = copy.deepcopy(next(c[0] for c in OURS if c[0]["metadata"]["name"] == "sidecar-crashloop"))
    obj["status"]["initContainerStatuses"][0]["lastState"]["terminated"]["reason"] = "OOMKilled"
    info = pod_info(obj)
    assert (info.status, info.is_ready, info.restarts, info.last_termination) == ("Init:CrashLoopBackOff", False, 5, "OOMKilled")
    assert is_crashing(info, restarts_warn=0) and is_troubled(info, 0)
    fine = pod_info(next(c[0] for c in OURS if c[0]["metadata"]["name"] == "sidecar-running"))
    assert fine.is_ready and not is_crashing(fine, restarts_warn=3) and not is_troubled(fine, 3)
