"""An infrastructure reading for the view's and the triage pane's tests: a
bad rollout of clay-sync (1.14.2 → 1.14.3) eleven minutes before ``NOW``,
the probe failures and crash back-offs after it, a pod that cannot be
scheduled, a node under memory pressure and cordoned, and the cockpit's own
restart on the incident timeline."""

from __future__ import annotations

from clay_cockpit.incident.events import Event, EventKind
from clay_cockpit.signals import Change, InfraSnapshot, KubeEvent, NodeInfo, Revision

NOW = 1_800_000_000.0  # test_triage's NOW: 2027-01-15 08:00:00 UTC
NEW_RS, OLD_RS = "clay-sync-7d9f8c6b5", "clay-sync-5b6c7d8e9"
ROLLOUT_AT = NOW - 660
PROBE = (
    "Readiness probe failed: HTTP probe failed with statuscode: 503; body: "
    '{"status":"down","checks":{"queue":"fail: 0/3 workers ready","database":"ok"}}'
)
SCHEDULER = "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient memory. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."

EVENTS = (
    KubeEvent(
        "Pod", f"{NEW_RS}-x2x9k", "Unhealthy", PROBE, 38, ROLLOUT_AT + 60, NOW - 4, source="kubelet, n-1", field_path="spec.containers{app}"
    ),
    KubeEvent(
        "Pod",
        f"{NEW_RS}-q7wzl",
        "BackOff",
        "Back-off restarting failed container app in pod clay-sync-7d9f8c6b5-q7wzl_clay-sync",
        12,
        ROLLOUT_AT + 90,
        NOW - 30,
        source="kubelet, n-2",
    ),
    KubeEvent("Pod", f"{NEW_RS}-m4hfp", "FailedScheduling", SCHEDULER, 5, NOW - 300, NOW - 75, source="default-scheduler"),
)
NODES = (
    NodeInfo("n-1", True, (), False, (f"{NEW_RS}-x2x9k",), since=NOW - 86_400),
    NodeInfo(
        "n-2",
        True,
        ("MemoryPressure",),
        True,
        (f"{NEW_RS}-q7wzl", f"{OLD_RS}-h2kcd"),
        since=NOW - 86_400,
        message="kubelet has insufficient memory available",
    ),
)
REVISIONS = (
    Revision(7, NEW_RS, ROLLOUT_AT, (("app", "registry.example.com/clay-sync:1.14.3"),), 3, "deploy 1.14.3", current=True),
    Revision(6, OLD_RS, NOW - 86_400 * 3, (("app", "registry.example.com/clay-sync:1.14.2"),), 1),
)
CHANGES = (
    Change(
        ROLLOUT_AT,
        "rollout",
        "rollout to registry.example.com/clay-sync:1.14.3 (revision 7)",
        ("image app: registry.example.com/clay-sync:1.14.2 → registry.example.com/clay-sync:1.14.3", "env CLAY_TIMEOUT_MS: 2000 → 500"),
    ),
    Change(NOW - 3 * 3600, "configmap", "ConfigMap clay-sync-flags changed (CLAY_REQUEST_QUEUING)"),
)
ACTIONS = (
    Event(3, NOW - 120, EventKind.ACTION_APPLIED, "Restart the pods: rollout restart of clay-sync applied", "oncall@laptop"),
    Event(4, NOW - 100, EventKind.NOTE, "not an action: never in the changes", "oncall@laptop"),
)


def infra_snapshot(events=EVENTS, nodes=NODES, changes=CHANGES, revisions=REVISIONS) -> InfraSnapshot:
    return InfraSnapshot("clay-sync", events, nodes, revisions, changes, fetched_at=NOW - 3, events_watched_since=NOW - 1800)
