"""Triage on the infrastructure branch with what Kubernetes says (issue 14):
a rollout the trouble followed, OOM kills with the limit, a node under
pressure, evictions, FailedScheduling, image pulls, probe failures — each a
reason citing the ``infra`` source with its numbers and times, and the
actions that follow from it (a rollback done is never the next key). No
infra reading changes nothing; a failed one is said, a stale one is marked
and raises nothing on its own.

Pure: constructed Signals, no app.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck as HC
from hypothesis import given, settings
from hypothesis import strategies as st
from test_triage import NOW, TH, check_shape, failed, health, live, memory_lines, pod, pods, signals, stale

from clay_cockpit.runbook import OUTSIDE, ActionId, Branch, Severity
from clay_cockpit.signals import (
    Change,
    ErrorKind,
    InfraSnapshot,
    KubeEvent,
    NodeInfo,
    PodInfo,
    Reading,
    Revision,
    Signals,
)
from clay_cockpit.triage.tree import Assessment, assess

NEW_RS, OLD_RS = "clay-sync-7d9f8c6b5", "clay-sync-5b6c7d8e9"
ROLLOUT_AT = NOW - 660  # eleven minutes ago
PROBE = "Readiness probe failed: HTTP probe failed with statuscode: 503"


def event(
    reason: str,
    message: str,
    name: str = f"{NEW_RS}-a1",
    kind: str = "Pod",
    count: int = 3,
    first: float = NOW - 600,
    last: float = NOW - 20,
) -> KubeEvent:
    return KubeEvent(kind, name, reason, message, count, first, last, source="kubelet, n-1")


def rev(number: int, rs: str, image: str, created: float, current: bool = False) -> Revision:
    return Revision(number, rs, created, (("app", f"clay-sync:{image}"),), replicas=3 if current else 0, current=current)


ROLLOUT = Change(ROLLOUT_AT, "rollout", "rollout to clay-sync:1.14.3 (revision 7)", ("image app: 1.14.2 → 1.14.3",))
REVISIONS = (rev(7, NEW_RS, "1.14.3", ROLLOUT_AT, current=True), rev(6, OLD_RS, "1.14.2", NOW - 86_400))


def snapshot(
    events: tuple[KubeEvent, ...] = (),
    nodes: tuple[NodeInfo, ...] = (),
    revisions: tuple[Revision, ...] = REVISIONS,
    changes: tuple[Change, ...] = (ROLLOUT,),
) -> InfraSnapshot:
    return InfraSnapshot("clay-sync", events, nodes, revisions, changes, fetched_at=NOW - 2)


def new_pod(i: int, status: str = "CrashLoopBackOff", ready: bool = False, node: str = "n-1", rs: str = NEW_RS) -> PodInfo:
    return replace(
        pod(f"{rs}-{i}", status, ready, 4 if not ready else 0, "Error" if not ready else None), owner=f"ReplicaSet/{rs}", node=node
    )


HEALTH_DOWN = health("down", queue=("fail", "0/3 workers ready"))
BAD_PODS = pods(*(new_pod(i) for i in range(3)))


def with_infra(sig: Signals, reading: Reading) -> Signals:
    return replace(sig, infra=reading)


def infra_reasons(a: Assessment) -> list[str]:
    return [r.text for f in a.findings for r in f.reasons if r.source == "infra"]


def infra_finding(a: Assessment):
    return next(f for f in a.findings if f.branch == Branch.INFRASTRUCTURE)


BAD_DEPLOY = with_infra(
    signals(health_=live(HEALTH_DOWN), pods_=live(BAD_PODS)),
    live(snapshot((event("Unhealthy", PROBE, count=12, first=ROLLOUT_AT + 60),))),
)


# --------------------------------------------------------------------------
# A rollout the trouble followed: roll it back, first


def test_a_rollout_the_trouble_followed_is_named_with_its_times_and_rollback_is_next() -> None:
    a = assess(BAD_DEPLOY, TH, NOW)
    check_shape(a)
    f = infra_finding(a)
    assert a.branch == Branch.INFRASTRUCTURE and a.severity == Severity.P1
    said = infra_reasons(a)
    assert said[0] == (
        "Changes: rollout to clay-sync:1.14.3 (revision 7) 11 min ago (image app: 1.14.2 → 1.14.3); "
        "our health down (HTTP 503) since 10 min ago: first Unhealthy 60 s after it; 3 of 3 failing pods run this revision"
    ), said
    assert f"Events: 12 probe failures — Unhealthy on Pod {NEW_RS}-a1: {PROBE} (last 20 s ago)" in said
    assert a.next is not None and a.next.id == ActionId.ROLLBACK
    assert "the trouble began after the rollout to clay-sync:1.14.3 (revision 7)" in a.next.why
    assert "infra" in f.sources and {"pods", "health"} <= f.sources
    values = dict(next(r for r in f.reasons if r.source == "infra").values)
    assert values["rollout_at"] == ROLLOUT_AT and values["onset_at"] == ROLLOUT_AT + 60 and values["verdict"] == "after"


def test_the_failing_pods_being_the_new_revisions_lay_it_at_the_rollouts_door_without_an_event() -> None:
    sig = with_infra(signals(health_=live(HEALTH_DOWN), pods_=live(BAD_PODS)), live(snapshot()))
    a = assess(sig, TH, NOW)
    assert a.next is not None and a.next.id == ActionId.ROLLBACK
    assert any("3 of 3 failing pods run this revision" in t for t in infra_reasons(a))


def test_trouble_older_than_the_rollout_is_not_laid_at_its_door() -> None:
    older = event("BackOff", "Back-off restarting failed container app in pod", count=40, first=ROLLOUT_AT - 1200)
    pods_ = pods(*(new_pod(i, rs=OLD_RS) for i in range(3)))
    sig = with_infra(signals(pods_=live(pods_)), live(snapshot((older,))))
    a = assess(sig, TH, NOW)
    check_shape(a)
    said = infra_reasons(a)
    assert any("the trouble began before it (first BackOff 20 min earlier): not the rollout" in t for t in said), said
    assert a.next is not None and a.next.id != ActionId.ROLLBACK
    rollback = next(x for x in a.actions if x.id == ActionId.ROLLBACK)
    assert "began before the rollout" in rollback.why


def test_a_rollout_nothing_dates_the_trouble_against_is_said_so_and_not_pushed_first() -> None:
    pods_ = pods(*(new_pod(i, rs=OLD_RS) for i in range(3)))  # the old revision's pods fail: the rollout is not theirs
    sig = with_infra(signals(pods_=live(pods_)), live(snapshot()))
    a = assess(sig, TH, NOW)
    assert any("nothing dates when it began" in t for t in infra_reasons(a))
    assert a.next is not None and a.next.id == ActionId.READ_POD_LOGS


# --------------------------------------------------------------------------
# A rollback done: shown done, never the next key


def test_back_at_the_older_template_the_rollback_is_done_not_offered_again() -> None:
    rolled = (
        rev(8, OLD_RS, "1.14.2", NOW - 86_400, current=True),  # rollout undo renumbers the old ReplicaSet
        rev(7, NEW_RS, "1.14.3", ROLLOUT_AT),
    )
    back = Change(NOW - 60, "rollout", "rollout to clay-sync:1.14.2 (revision 8)", ("image app: 1.14.3 → 1.14.2",))
    sig = with_infra(
        BAD_DEPLOY, live(snapshot((event("Unhealthy", PROBE, first=ROLLOUT_AT + 60),), revisions=rolled, changes=(back, ROLLOUT)))
    )
    a = assess(sig, TH, NOW)
    check_shape(a)
    rb = next(x for x in a.actions if x.id == ActionId.ROLLBACK)
    assert rb.done and "revision 8 runs clay-sync:1.14.2, the older template" in rb.detail and rb.since == NOW - 60
    assert a.next is None or a.next.id != ActionId.ROLLBACK
    assert any(t.startswith("Changes: rolled back — revision 8 runs clay-sync:1.14.2") for t in infra_reasons(a))


def test_the_cockpits_own_rollback_action_marks_it_done() -> None:
    undo = Change(NOW - 30, "action", "rollback of clay-sync to revision 6 (by the cockpit)")
    sig = with_infra(BAD_DEPLOY, live(snapshot((event("Unhealthy", PROBE, first=ROLLOUT_AT + 60),), changes=(undo, ROLLOUT))))
    a = assess(sig, TH, NOW)
    rb = next(x for x in a.actions if x.id == ActionId.ROLLBACK)
    assert rb.done and rb.detail == "rollback of clay-sync to revision 6 (by the cockpit)"
    assert a.next is None or a.next.id != ActionId.ROLLBACK


# --------------------------------------------------------------------------
# OOM, nodes, evictions, scheduling, image pulls


def test_oom_kills_say_how_many_of_how_many_and_the_limit() -> None:
    oom = tuple(replace(pod(f"clay-sync-abc-{i}", "CrashLoopBackOff", False, 2, "OOMKilled"), node="n-1") for i in range(3))
    oom += (pod("clay-sync-abc-3"),)
    kill = event("OOMKilling", "Memory cgroup out of memory: Killed process 4242 (clay-sync)", name="n-1", kind="Node", count=7)
    sig = with_infra(signals(pods_=live(pods(*oom)), logs=memory_lines(400, 511, 20.0)), live(snapshot((kill,), changes=(), revisions=())))
    a = assess(sig, TH, NOW)
    check_shape(a)
    text = "\n".join(r.text for r in infra_finding(a).reasons)
    assert "3 of 4 pods OOMKilled, limit 512 MB: out of memory" in text, text
    assert (
        "Events: 7 OOM kills — OOMKilling on Node n-1: Memory cgroup out of memory: Killed process 4242 (clay-sync) (last 20 s ago)" in text
    )
    assert {ActionId.RAISE_MEMORY_LIMIT, ActionId.ROLLBACK} <= {x.id for x in a.actions}


def test_a_node_under_pressure_with_our_pods_is_a_finding_of_its_own_with_escalation_first() -> None:
    node = NodeInfo(
        "n-2", True, ("MemoryPressure",), False, ("clay-sync-abc-0", "clay-sync-abc-1"), message="kubelet has insufficient memory available"
    )
    sig = with_infra(signals(), live(snapshot(nodes=(node, NodeInfo("n-1", True, (), False, ("clay-sync-abc-2",))), changes=())))
    a = assess(sig, TH, NOW)
    check_shape(a)
    assert a.branch == Branch.INFRASTRUCTURE and a.severity == Severity.P3
    assert (
        a.top.title
        == "node n-2 MemoryPressure (2 of our pods on it: clay-sync-abc-0, clay-sync-abc-1) — kubelet has insufficient memory available"
    )
    assert a.next is not None and a.next.id == ActionId.ESCALATE_NODE and a.next.outside
    assert ActionId.ESCALATE_NODE in OUTSIDE


def test_a_node_in_trouble_without_our_pods_is_not_ours() -> None:
    node = NodeInfo("n-9", False, ("DiskPressure",), True, ("someone-else",))
    a = assess(with_infra(signals(), live(snapshot(nodes=(node,), changes=()))), TH, NOW)
    assert a.branch == Branch.HEALTHY


def test_evictions_name_the_node_and_escalate_it() -> None:
    evicted = event("Evicted", "The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi.", count=2)
    pending = pods(pod("clay-sync-abc-0"), pod("clay-sync-abc-1"), pod("clay-sync-abc-2", "Pending", False))
    node = NodeInfo("n-2", True, ("MemoryPressure",), False, ("clay-sync-abc-2",))
    a = assess(with_infra(signals(pods_=live(pending)), live(snapshot((evicted,), nodes=(node,), changes=()))), TH, NOW)
    check_shape(a)
    said = infra_reasons(a)
    assert any(t.startswith("Events: 2 evictions — Evicted on Pod") and "low on resource: memory" in t for t in said), said
    assert a.next is not None and a.next.id == ActionId.ESCALATE_NODE


def test_failed_scheduling_quotes_the_scheduler() -> None:
    msg = "0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: 3 No preemption victims found."
    pending = pods(pod("a"), pod("b"), pod("c", "Pending", False))
    a = assess(with_infra(signals(pods_=live(pending)), live(snapshot((event("FailedScheduling", msg, count=5),), changes=()))), TH, NOW)
    check_shape(a)
    inv = next(x for x in a.actions if x.id == ActionId.INVESTIGATE_INFRA)
    assert inv.why == f"the scheduler says: {msg}"
    assert any(f"Events: 5 FailedScheduling — FailedScheduling on Pod {NEW_RS}-a1: {msg}" in t for t in infra_reasons(a))


def test_an_image_that_cannot_be_pulled_after_a_rollout_is_rolled_back_first() -> None:
    msg = 'Failed to pull image "clay-sync:1.14.3": rpc error: code = NotFound desc = failed to resolve reference: not found'
    pulling = pods(*(new_pod(i, "ImagePullBackOff") for i in range(3)))
    a = assess(with_infra(signals(pods_=live(pulling)), live(snapshot((event("Failed", msg, first=ROLLOUT_AT + 5),)))), TH, NOW)
    check_shape(a)
    assert a.next is not None and a.next.id == ActionId.ROLLBACK and msg in a.next.why
    assert any(msg in t and "image pull failures" in t for t in infra_reasons(a))


# --------------------------------------------------------------------------
# No reading, a failed one, a stale one: nothing invented


def test_no_infra_reading_changes_nothing() -> None:
    base = signals(health_=live(HEALTH_DOWN), pods_=live(BAD_PODS))
    a = assess(base, TH, NOW)
    assert not infra_reasons(a) and not [g for g in a.gaps if g.source == "infra"]
    assert a.next is not None and a.next.id == ActionId.READ_POD_LOGS  # what the pods alone support
    assert "Changes:" not in "\n".join(r.text for f in a.findings for r in f.reasons)


def test_a_failed_infra_reading_is_said_and_invents_nothing() -> None:
    reading = failed("infra", ErrorKind.FORBIDDEN, "events is forbidden: cannot list events in clay-sync", "grant list/watch on events")
    a = assess(with_infra(signals(health_=live(HEALTH_DOWN), pods_=live(BAD_PODS)), reading), TH, NOW)
    check_shape(a)
    gap = next(g for g in a.gaps if g.source == "infra")
    assert gap.state == "failed" and gap.text == (
        "Kubernetes events, nodes and changes unavailable: forbidden: events is forbidden: cannot list events in clay-sync"
    )
    assert gap.hint == "grant list/watch on events"
    f = infra_finding(a)
    assert [r.text for r in f.reasons if r.source == "infra"] == [
        "Kubernetes events, nodes and changes unavailable (forbidden): what changed is not known"
    ]
    assert all(r.weak for r in f.reasons if r.source == "infra")
    assert "infra" not in f.sources and not any("Changes:" in r.text for r in f.reasons)
    assert a.next is not None and a.next.id == ActionId.READ_POD_LOGS


def test_a_stale_infra_reading_is_marked_old_and_raises_nothing_alone() -> None:
    node = NodeInfo("n-2", True, ("MemoryPressure",), False, ("clay-sync-abc-0",))
    old = stale(snapshot(nodes=(node,), changes=()), age=600.0)
    a = assess(with_infra(signals(), old), TH, NOW)
    assert a.branch == Branch.HEALTHY  # an old pressure reading is not a finding of its own
    assert any(g.source == "infra" and g.state == "stale" and "(10 min old)" in g.text for g in a.gaps)
    b = assess(
        with_infra(
            signals(health_=live(HEALTH_DOWN), pods_=live(BAD_PODS)),
            stale(snapshot((event("Unhealthy", PROBE, first=ROLLOUT_AT + 60),)), age=600.0),
        ),
        TH,
        NOW,
    )
    f = infra_finding(b)
    cited = [r for r in f.reasons if r.source == "infra"]
    assert cited and all(r.weak and r.text.endswith("(10 min old)") for r in cited)
    assert "infra" not in f.sources  # old news does not corroborate


def test_the_clusters_clock_ahead_of_ours_gives_a_time_not_a_negative_age() -> None:
    ahead = Change(NOW + 300, "rollout", "rollout to clay-sync:1.14.3 (revision 7)")
    revs = (rev(7, NEW_RS, "1.14.3", NOW + 300, current=True), rev(6, OLD_RS, "1.14.2", NOW - 86_400))
    a = assess(
        with_infra(signals(health_=live(HEALTH_DOWN), pods_=live(BAD_PODS)), live(snapshot(revisions=revs, changes=(ahead,)))), TH, NOW
    )
    text = infra_reasons(a)[0]
    assert text.startswith("Changes: rollout to clay-sync:1.14.3 (revision 7) at ") and "-" not in text.split(" at ")[1][:8]


# --------------------------------------------------------------------------
# Property: whatever the infra reading holds, assess stays well formed


odd = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.floats(NOW - 7200, NOW + 600))
words = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="…"), max_size=30)
events_ = st.builds(
    KubeEvent,
    kind=st.sampled_from(["Pod", "ReplicaSet", "Deployment", "Node", ""]),
    name=words,
    reason=st.sampled_from(["BackOff", "Unhealthy", "FailedScheduling", "OOMKilling", "Evicted", "Failed", "ErrImagePull", "x"]),
    message=st.one_of(words, st.just('Back-off pulling image "x"')),
    count=st.integers(-3, 1000),
    first_seen=odd,
    last_seen=odd,
    type=st.sampled_from(["Warning", "Normal", ""]),
)
nodes_ = st.builds(
    NodeInfo,
    name=words,
    ready=st.sampled_from([True, False, None]),
    pressure=st.lists(st.sampled_from(["MemoryPressure", "DiskPressure", "PIDPressure"]), max_size=2).map(tuple),
    unschedulable=st.booleans(),
    pods=st.lists(st.sampled_from(["clay-sync-abc-0", "clay-sync-abc-1", "x"]), max_size=3).map(tuple),
    message=words,
)
revisions_ = st.builds(
    Revision,
    number=st.integers(-1, 20),
    replicaset=st.sampled_from([NEW_RS, OLD_RS, ""]),
    created_at=odd,
    images=st.lists(st.tuples(words, words), max_size=2).map(tuple),
    current=st.booleans(),
)
changes_ = st.builds(
    Change,
    at=odd,
    what=st.sampled_from(["rollout", "configmap", "secret", "action", ""]),
    summary=words,
    detail=st.lists(words, max_size=3).map(tuple),
)
snapshots = st.builds(
    InfraSnapshot,
    deployment=words,
    events=st.lists(events_, max_size=8).map(tuple),
    nodes=st.lists(nodes_, max_size=3).map(tuple),
    revisions=st.lists(revisions_, max_size=3).map(tuple),
    changes=st.lists(changes_, max_size=4).map(tuple),
    fetched_at=odd,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HC.too_slow])
@given(snap=snapshots, mode=st.sampled_from(["live", "stale", "failed"]), trouble=st.booleans())
def test_any_infra_reading_keeps_assess_well_formed(snap: InfraSnapshot, mode: str, trouble: bool) -> None:
    reading = {"live": live(snap), "stale": stale(snap, age=900.0), "failed": failed("infra")}[mode]
    base = signals(health_=live(HEALTH_DOWN), pods_=live(BAD_PODS)) if trouble else signals()
    a = assess(with_infra(base, reading), TH, NOW)
    check_shape(a)
    for f in a.findings:
        assert (f.severity is None) == (f.branch in (Branch.HEALTHY, Branch.UNKNOWN))
    if mode != "live" and not trouble:
        assert a.branch == Branch.HEALTHY  # an old or missing infra reading raises nothing alone
    rollback = [x for x in a.actions if x.id == ActionId.ROLLBACK]
    assert len(rollback) <= 1
    if a.next is not None and a.next.id == ActionId.ROLLBACK:  # only what Kubernetes said puts it first here
        assert mode != "failed" and any(r.source == "infra" for f in a.findings for r in f.reasons), a.to_dict()
