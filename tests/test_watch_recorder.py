"""clay_cockpit.incident.recorder: what reaches the incident timeline, and when.

Real IncidentStore in a tmp state dir, real assess/Triage on signals built
from the fixtures (tests/test_app_fakes.py); the timeline file is read back
with clay_cockpit.incident.timeline.read, so every assertion is about what is on disk.
"""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
from test_app_fakes import (
    NOW,
    health_snapshot,
    log_lines,
    metrics_snapshot,
    pods_snapshot,
    statuspage_snapshot,
)

from clay_cockpit.config import Thresholds
from clay_cockpit.incident.lifecycle import IncidentStore, Status
from clay_cockpit.incident.recorder import Recorder
from clay_cockpit.incident.timeline import EventKind, read
from clay_cockpit.incident.watch import Notable
from clay_cockpit.runbook import Severity
from clay_cockpit.signals import Reading, Signals
from clay_cockpit.triage.tree import Triage, assess

HEALTHY_DOC = {"status": "ok", "checks": {"clay_api": {"status": "ok", "detail": "fine"}, "database": {"status": "ok"}}}


def outage_signals(now: float = NOW) -> Signals:
    page = replace(statuspage_snapshot(), incidents=())
    pods = pods_snapshot()
    fine = tuple(replace(p, restarts=0, last_termination=None, status="Running", ready=1) for p in pods.pods)
    return Signals(
        statuspage=Reading().with_result(page, now),
        health=Reading().with_result(health_snapshot(), now),
        metrics=Reading().with_result(metrics_snapshot(), now),
        pods=Reading().with_result(replace(pods, pods=fine), now),
        recent_logs=log_lines(12),
        at=now,
    )


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def rec(tmp_path):
    clock = Clock()
    store = IncidentStore(tmp_path, actor="ana@test", clock=clock)
    r = Recorder(store, clock=clock)
    yield r
    store.close()


def on_disk(r: Recorder) -> list:
    return list(read(r.store.timeline.path).events)


def triaged(sig: Signals, triage: Triage | None = None):
    triage = triage or Triage(samples=1, seconds=0, calm_seconds=0)
    return triage.update(assess(sig, Thresholds(), sig.at)), triage


def test_before_declaring_notables_wait_and_go_into_the_declaration(rec: Recorder) -> None:
    sig = outage_signals()
    t, _ = triaged(sig)
    rec.notable([Notable(EventKind.SOURCE_FAILED, "Metrics failed: unreachable", NOW - 30, {"source": "metrics"})])
    rec.triaged(t, sig)  # the first stable assessment is a change: buffered too
    assert [n.kind for n in rec.waiting] == [EventKind.SOURCE_FAILED, EventKind.BRANCH_CHANGED]
    d = rec.prepare(t, sig)
    assert len(rec.waiting) == 2  # until the declaration is on disk
    assert d.severity == t.severity == Severity.P1
    inc = rec.declare(d)
    rec.attached(t, d)
    assert inc.suggested == Severity.P1 and rec.open is not None
    assert rec.waiting == ()
    events = on_disk(rec)
    kinds = [e.kind for e in events]
    assert kinds[:2] == [EventKind.INCIDENT_DECLARED, EventKind.EVIDENCE_SNAPSHOT]
    evidence = events[1].data
    assert evidence["before"][0]["summary"] == "Metrics failed: unreachable"
    assert evidence["assessment"]["headline"] == t.assessment.headline
    assert "401" in str(evidence["metrics"]["values"])
    assert EventKind.BRANCH_CHANGED in kinds
    branch = next(e for e in events if e.kind == EventKind.BRANCH_CHANGED)
    assert branch.data["to"][0] == "credentials" and rec.open.branch == "credentials"
    # the sources triage read live tick themselves, marked automatic with what was seen
    auto = {e.data["key"]: e.data for e in events if e.kind == EventKind.CHECKLIST_TICKED}
    assert set(auto) == {"check_status_page", "check_health", "check_metrics", "check_logs"}
    assert all(d["auto"] for d in auto.values())
    assert auto["check_status_page"]["seen"].startswith("status page: ")
    assert set(rec.open.ticks) == set(auto)


def test_without_a_triage_severity_the_declaration_suggests_p4(rec: Recorder) -> None:
    d = rec.prepare(None, Signals(at=NOW))
    assert d.severity == Severity.P4 and "P4 until the responder sets one" in d.evidence["note"]


def test_an_open_incident_records_notables_changes_and_ticks(rec: Recorder, tmp_path) -> None:
    sig = outage_signals()
    t, triage = triaged(sig)
    d = rec.prepare(t, sig)
    rec.declare(d)
    rec.attached(t, d)
    start = len(on_disk(rec))
    rec.notable([Notable(EventKind.POD_OOMKILLED, "Pod OOMKilled: x", NOW + 1, {"pods": []})])
    # the fault clears: a healthy, all-live assessment is a stable change (no window here)
    page = replace(statuspage_snapshot(), incidents=())
    healthy = Signals(
        statuspage=Reading().with_result(page, NOW + 5),
        health=Reading().with_result(health_snapshot(HEALTHY_DOC), NOW + 5),
        metrics=Reading().with_result(replace(metrics_snapshot(), series=metrics_snapshot().series[2:]), NOW + 5),
        pods=sig.pods,
        recent_logs=(),
        at=NOW + 5,
    )
    t2 = triage.update(assess(healthy, Thresholds(), NOW + 5))
    assert t2.change is not None, t2.latest.headline
    rec.triaged(t2, healthy)
    new = on_disk(rec)[start:]
    assert [e.kind for e in new][:3] == [EventKind.POD_OOMKILLED, EventKind.BRANCH_CHANGED, EventKind.EVIDENCE_SNAPSHOT]
    assert new[1].summary.startswith("Branch: Credentials → ")
    assert "assessment" in new[2].data and new[2].summary.startswith("Evidence snapshot (branch change:")
    # the responder: tick, untick, accept, override, status
    assert rec.toggle("verify_key")
    assert "verify_key" in rec.open.ticks and not rec.open.ticks["verify_key"].auto
    assert rec.toggle("verify_key") and "verify_key" not in rec.open.ticks
    assert rec.accept() and rec.open.chosen == Severity.P1
    assert rec.set_severity(Severity.P2) and rec.open.severity == Severity.P2 and rec.open.suggested == Severity.P1
    assert rec.set_status(Status.IDENTIFIED) and rec.open.status == Status.IDENTIFIED
    tail = [e.kind for e in on_disk(rec)[-5:]]
    assert tail == [
        EventKind.CHECKLIST_TICKED,
        EventKind.CHECKLIST_UNTICKED,
        EventKind.SEVERITY_CHANGED,
        EventKind.SEVERITY_CHANGED,
        EventKind.STATUS_CHANGED,
    ]
    # a hand-unticked auto item is not ticked again by the cockpit
    assert rec.toggle("check_metrics") and "check_metrics" not in rec.open.ticks
    rec.triaged(t2, healthy)
    assert "check_metrics" not in rec.open.ticks


def test_nothing_is_recorded_without_an_incident(rec: Recorder) -> None:
    assert not rec.toggle("verify_key") and not rec.accept() and not rec.set_status(Status.IDENTIFIED)
    assert rec.store.timeline is None


def test_the_buffer_is_bounded_and_says_how_much_it_dropped(tmp_path) -> None:
    r = Recorder(IncidentStore(tmp_path), clock=lambda: NOW, buffer=3)
    r.notable([Notable(EventKind.NOTE, f"n{i}", NOW + i) for i in range(5)])
    assert [n.summary for n in r.waiting] == ["n2", "n3", "n4"] and r.dropped == 2
    d = r.prepare(None, Signals(at=NOW))
    assert d.evidence["before_dropped"] == 2 and len(d.evidence["before"]) == 3


def test_a_failed_write_is_kept_and_not_shown_as_recorded(rec: Recorder, monkeypatch) -> None:
    sig = outage_signals()
    t, _ = triaged(sig)
    d = rec.prepare(t, sig)
    rec.declare(d)
    rec.attached(t, d)
    before = len(rec.events())
    real_write = os.write

    def full_disk(fd: int, data: bytes) -> int:
        if fd > 2:
            raise OSError(28, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr("clay_cockpit.incident.timeline.os.write", full_disk)
    assert not rec.toggle("verify_key")
    monkeypatch.undo()
    assert "verify_key" not in rec.open.ticks and len(rec.events()) == before == len(on_disk(rec))
    failure = rec.failures[-1]
    assert failure.what == "Tick: 401/403: verify the API key in the Secret"
    assert "could not record" in failure.error and "No space left on device" in failure.error


def test_a_tiny_request_rate_gives_strict_json_evidence(rec: Recorder) -> None:
    """Found by tests/test_triage_property.py: 63 errors/s over a request rate of
    3.5e-307 made the share inf, and the branch event could not be encoded."""
    from clay_cockpit.signals import MetricsSnapshot, Series

    snap = metrics_snapshot()
    series = (
        Series("errors_by_code:401", "errors_by_code", "Clay 401", "req/s", (("code", "401"),), 63.0, ((NOW, 63.0),)),
        Series("request_rate", "request_rate", "Clay requests", "req/s", (), 3.4915424642654013e-307, ()),
    )
    sig = replace(outage_signals(), metrics=Reading().with_result(MetricsSnapshot(series, snap.served_by, False, NOW, 1.0), NOW))
    t, _ = triaged(sig)
    stat = next(r for r in t.assessment.top.reasons if r.source == "metrics")
    assert dict(stat.values)["share"] == 1.0
    d = rec.prepare(t, sig)
    rec.declare(d)
    rec.attached(t, d)
    assert not rec.failures and on_disk(rec)[0].kind == EventKind.INCIDENT_DECLARED


def test_what_arrives_between_the_declaring_worker_and_the_ui_waits(rec: Recorder) -> None:
    """The declaring worker makes the incident open before the UI thread
    hears of it: a snapshot handled in between records nothing yet, so the
    declaration's events come first and always in one order (declared,
    evidence, branch at declaration, then the automatic ticks)."""
    sig = outage_signals()
    t, triage = triaged(sig)
    d = rec.prepare(t, sig)
    rec.declare(d)  # the worker
    assert rec.open is not None
    rec.triaged(t, sig)  # a snapshot the UI thread handles before the worker's message
    rec.notable([Notable(EventKind.SOURCE_FAILED, "Metrics failed: unreachable", NOW, {"source": "metrics"})])
    assert [e.kind for e in on_disk(rec)] == [EventKind.INCIDENT_DECLARED, EventKind.EVIDENCE_SNAPSHOT]
    rec.attached(t, d)
    kinds = [e.kind for e in on_disk(rec)]
    assert kinds[:3] == [EventKind.INCIDENT_DECLARED, EventKind.EVIDENCE_SNAPSHOT, EventKind.BRANCH_CHANGED]
    assert kinds[3:].count(EventKind.CHECKLIST_TICKED) == 4 and EventKind.SOURCE_FAILED in kinds[3:]
