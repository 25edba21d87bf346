"""clay_cockpit.incident.watch: successive Signals → the notable moments the timeline records.

Built from the real fixtures (tests/test_app_fakes.py): a status page with
an unresolved incident, pods with an OOMKilled and a CrashLoopBackOff
container, the metrics snapshot (primary or backup).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from test_app_fakes import (
    NOW,
    health_snapshot,
    metrics_snapshot,
    pods_snapshot,
    statuspage_snapshot,
    unreachable,
)

from clay_cockpit.incident.timeline import EventKind
from clay_cockpit.incident.watch import Watch
from clay_cockpit.signals import Reading, Signals

QUIET = statuspage_snapshot("statuspage-summary-incident.json")


def signals(**fields) -> Signals:
    return Signals(**{k: Reading().with_result(v, NOW) for k, v in fields.items()}, at=NOW)


def kinds(notables) -> list[EventKind]:
    return [n.kind for n in notables]


def no_incidents(page):
    return replace(page, incidents=())


def test_nothing_asked_yet_is_nothing_notable() -> None:
    assert Watch().update(Signals(), NOW) == []


def test_status_page_incident_seen_updated_and_resolved() -> None:
    w = Watch()
    page = QUIET
    first = w.update(signals(statuspage=page), NOW)
    assert kinds(first) == [EventKind.CLAY_INCIDENT_APPEARED]
    assert "on the status page" in first[0].summary and page.incidents[0].name in first[0].summary
    assert first[0].data["id"] == page.incidents[0].id

    # the same page again (a new poll, same content): nothing
    assert w.update(signals(statuspage=replace(page, fetched_at=NOW + 5)), NOW + 5) == []

    inc = page.incidents[0]
    later = replace(
        inc, status="identified", latest_update="We found the cause.", latest_update_at=inc.latest_update_at + timedelta(minutes=5)
    )
    updated = w.update(signals(statuspage=replace(page, incidents=(later,))), NOW + 10)
    assert kinds(updated) == [EventKind.CLAY_INCIDENT_UPDATED]
    assert "identified: We found the cause." in updated[0].summary

    # a failed poll says nothing about the incident
    failed = Signals(statuspage=Reading().with_result(page, NOW).with_result(unreachable("statuspage"), NOW + 12), at=NOW + 12)
    assert kinds(w.update(failed, NOW + 12)) == [EventKind.SOURCE_FAILED]

    resolved = w.update(signals(statuspage=no_incidents(page)), NOW + 20)
    assert kinds(resolved) == [EventKind.SOURCE_RECOVERED, EventKind.CLAY_INCIDENT_RESOLVED]
    assert "resolved" in resolved[1].summary


def test_a_new_incident_after_the_first_page_appears() -> None:
    w = Watch()
    assert w.update(signals(statuspage=no_incidents(QUIET)), NOW) == []
    out = w.update(signals(statuspage=QUIET), NOW + 5)
    assert kinds(out) == [EventKind.CLAY_INCIDENT_APPEARED] and "appeared:" in out[0].summary


def test_a_source_failing_is_one_event_until_it_recovers() -> None:
    w = Watch()
    good = Reading().with_result(metrics_snapshot(), NOW)
    assert w.update(Signals(metrics=good), NOW) == []
    bad = good.with_result(unreachable("metrics", "127.0.0.1:9090"), NOW + 5)
    out = w.update(Signals(metrics=bad), NOW + 5)
    assert kinds(out) == [EventKind.SOURCE_FAILED]
    assert out[0].summary == "Metrics failed: unreachable — connection refused by 127.0.0.1:9090"
    assert out[0].data["hint"].startswith("is the metrics service up?")
    # still failing (even with another error): no new event
    worse = bad.with_result(replace(unreachable("metrics"), message="timed out"), NOW + 10)
    assert w.update(Signals(metrics=worse), NOW + 10) == []
    back = worse.with_result(metrics_snapshot(), NOW + 130)
    out = w.update(Signals(metrics=back), NOW + 130)
    assert kinds(out) == [EventKind.SOURCE_RECOVERED]
    assert out[0].summary == "Metrics recovered after 2 min (unreachable)" and out[0].data["down_seconds"] == 125.0


def test_a_source_that_never_answered_fails_once() -> None:
    w = Watch()
    sig = Signals(health=Reading().with_result(unreachable("health"), NOW))
    assert kinds(w.update(sig, NOW)) == [EventKind.SOURCE_FAILED]
    assert w.update(sig, NOW + 1) == []


def test_log_follow_failure_and_recovery() -> None:
    w = Watch()
    assert kinds(w.logs(unreachable("logs"), NOW)) == [EventKind.SOURCE_FAILED]
    assert w.logs(unreachable("logs"), NOW + 1) == []
    assert kinds(w.logs(None, NOW + 2)) == [EventKind.SOURCE_RECOVERED]
    assert w.logs(None, NOW + 3) == []


def test_metrics_failover_to_backup_and_back() -> None:
    w = Watch()
    assert w.update(signals(metrics=metrics_snapshot()), NOW) == []
    out = w.update(signals(metrics=metrics_snapshot(backup=True)), NOW + 5)
    assert kinds(out) == [EventKind.SOURCE_FAILED]
    assert "Prometheus primary unreachable" in out[0].summary and "127.0.0.1:9091" in out[0].summary
    assert w.update(signals(metrics=metrics_snapshot(backup=True)), NOW + 10) == []
    assert kinds(w.update(signals(metrics=metrics_snapshot()), NOW + 15)) == [EventKind.SOURCE_RECOVERED]


def test_pods_oomkilled_and_crashlooping_once_per_pod() -> None:
    w = Watch(restarts_warn=3)
    snap = pods_snapshot()
    out = w.update(signals(pods=snap), NOW)
    assert kinds(out) == [EventKind.POD_OOMKILLED, EventKind.POD_CRASHLOOPING]
    oom, loop = out
    assert oom.summary.startswith("Pod OOMKilled: clay-sync-7d9f8c6b5-x2x9k")
    assert "clay-sync-7d9f8c6b5-q8f2m" in loop.summary and "crashlooping" in loop.summary
    assert loop.data["pods"][0]["status"] == "CrashLoopBackOff"
    # the same pods restarting again: no new events
    again = replace(snap, pods=tuple(replace(p, restarts=p.restarts + 1) for p in snap.pods), fetched_at=NOW + 5)
    assert w.update(signals(pods=again), NOW + 5) == []
    # a new pod that gets OOMKilled is new
    new = replace(snap.pods[0], name="clay-sync-7d9f8c6b5-zzzzz")
    out = w.update(signals(pods=replace(snap, pods=(*snap.pods, new))), NOW + 10)
    assert kinds(out) == [EventKind.POD_OOMKILLED] and "zzzzz" in out[0].summary


def test_pods_that_left_are_forgotten() -> None:
    w = Watch()
    snap = pods_snapshot()
    w.update(signals(pods=snap), NOW)
    healthy = replace(snap, pods=(snap.pods[2],))
    assert w.update(signals(pods=healthy), NOW + 5) == []
    assert w._oomkilled == set() and w._crashlooping == set()  # bounded: only pods present
    assert kinds(w.update(signals(pods=snap), NOW + 10)) == [EventKind.POD_OOMKILLED, EventKind.POD_CRASHLOOPING]


def test_many_pods_are_one_event_naming_a_few() -> None:
    w = Watch()
    snap = pods_snapshot()
    many = tuple(replace(snap.pods[1], name=f"clay-sync-7d9f8c6b5-p{i:04d}") for i in range(12))
    out = w.update(signals(pods=replace(snap, pods=many)), NOW)
    loop = [n for n in out if n.kind == EventKind.POD_CRASHLOOPING]
    assert len(loop) == 1 and loop[0].summary.startswith("12 pods crashlooping:") and "and 7 more" in loop[0].summary


def test_primed_from_a_timeline_it_reports_only_what_changed_while_away() -> None:
    """After a restart: what the incident already recorded is not news."""
    from clay_cockpit.incident.timeline import Event

    first = Watch()
    seen = first.update(signals(statuspage=QUIET, pods=pods_snapshot()), NOW)
    seen += first.update(Signals(health=Reading().with_result(unreachable("health"), NOW)), NOW)
    events = [Event(i, n.at, n.kind, n.summary, "a", n.data) for i, n in enumerate(seen, 1)]
    assert {e.kind for e in events} >= {EventKind.CLAY_INCIDENT_APPEARED, EventKind.POD_OOMKILLED, EventKind.SOURCE_FAILED}

    again = Watch()
    again.prime(events)
    # the same page, the same pods, health still down: nothing new
    assert again.update(signals(statuspage=QUIET, pods=pods_snapshot()), NOW + 60) == []
    assert again.update(Signals(health=Reading().with_result(unreachable("health"), NOW + 61)), NOW + 61) == []
    # what changed while it was away is reported
    back = again.update(signals(statuspage=no_incidents(QUIET), health=health_snapshot()), NOW + 120)
    assert kinds(back) == [EventKind.SOURCE_RECOVERED, EventKind.CLAY_INCIDENT_RESOLVED]
    assert back[0].summary == "Health endpoint recovered after 2 min (unreachable)"


def test_restart_counts_are_worded_right() -> None:
    snap = pods_snapshot()
    loop_pod = next(p for p in snap.pods if "crashloop" in p.status.lower())
    for restarts, words in ((1, "(up to 1 restart)"), (4, "(up to 4 restarts)")):
        w = Watch(restarts_warn=3)
        out = w.update(signals(pods=replace(snap, pods=(replace(loop_pod, restarts=restarts),))), NOW)
        loop = next(n for n in out if n.kind == EventKind.POD_CRASHLOOPING)
        assert loop.summary.endswith(words), loop.summary


def test_a_long_clay_incident_name_is_kept_whole() -> None:
    """Summaries go to messages and the postmortem: never cut for a screen."""
    page = QUIET
    name = "Elevated error rates on People enrichment and Company enrichment endpoints in the EU region " * 2
    page = replace(page, incidents=(replace(page.incidents[0], name=name.strip()),))
    out = Watch().update(signals(statuspage=page), NOW)
    assert name.strip() in out[0].summary and "…" not in out[0].summary
