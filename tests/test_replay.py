"""A past incident as a drill (issue 18): the derivation of a scenario from
hand-made timelines — each mapping from evidence to a fault kind, the
evidence no fault kind makes (reported, never invented) — and the errors of
``clay-cockpit demo --from-incident``. The replay of recorded drill
incidents is in tests/test_replay_drill.py."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from clay_cockpit import cli
from clay_cockpit.incident.timeline import Event, EventKind
from clay_cockpit.replay import LEAD_IN, ReplayError, derive
from clay_cockpit.replay_times import SEEN_LEAD
from clay_cockpit.sim.scenario import ClayOutage, Crashloop, KeyRevoked, Latency, RateLimited, ServiceDown, load_scenario

T0 = 1_767_225_600.0
HEALTHY_STATUS = {"indicator": "none", "description": "All Systems Operational", "incidents": [], "not_operational": []}
PODS_OK = {"pods": 3, "ready": 3, "restarts": 0, "not_ready": []}


def metrics(**codes: float) -> dict[str, Any]:
    values: dict[str, Any] = {f"Clay {code.removeprefix('c')}": [rate, "req/s"] for code, rate in codes.items()}
    values.setdefault("Clay requests", [40.0, "req/s"])
    values.setdefault("Clay p95", [400.0, "ms"])
    return {"stale": False, "served_by": "http://prom", "backup": False, "values": values}


def evidence(*, statuspage=None, health=None, metrics_=None, pods=None, logs=(), reasons=(), **extra) -> dict[str, Any]:
    return {
        "statuspage": statuspage if statuspage is not None else {"stale": False, **HEALTHY_STATUS},
        "health": health if health is not None else {"stale": False, "status": "ok", "http_status": 200, "failing": []},
        "metrics": metrics_ if metrics_ is not None else metrics(c500=0.02),
        "pods": pods if pods is not None else {"stale": False, **PODS_OK},
        "logs": list(logs),
        "assessment": {"headline": "", "reasons": list(reasons)},
        **extra,
    }


def timeline(*snapshots: tuple[float, dict[str, Any]], branches=(["credentials"],), severity: str = "P1") -> list[Event]:
    events = [
        Event(1, T0, EventKind.INCIDENT_DECLARED, "declared", "ana", {"id": "INC-TEST-1", "suggested": severity, "headline": "It broke"})
    ]
    for dt, data in snapshots:
        events.append(Event(len(events) + 1, T0 + dt, EventKind.EVIDENCE_SNAPSHOT, "Evidence snapshot", "ana", data))
    for to in branches:
        events.append(Event(len(events) + 1, T0, EventKind.BRANCH_CHANGED, "Branch", "ana", {"from": [], "to": list(to)}))
    return events


def scenario_of(tmp_path: Path, events: list[Event]):
    """Derive, write, and load the file the way `demo --scenario FILE` does."""
    derived = derive(events)
    path = tmp_path / f"{derived.name}.toml"
    path.write_text(derived.text, encoding="utf-8")
    return derived, load_scenario(path)


def test_401s_are_a_revoked_key_from_the_first_evidence(tmp_path: Path) -> None:
    health = {
        "stale": False,
        "status": "degraded",
        "failing": ["clay_api: degraded last 60s: 2384 calls, 428 errors (401: 428), p95 405 ms"],
    }
    derived, sc = scenario_of(tmp_path, timeline((0, evidence(metrics_=metrics(c401=7.1), health=health))))
    (fault,) = sc.faults
    assert isinstance(fault, KeyRevoked) and fault.status == 401 and fault.start == LEAD_IN and fault.end == 0
    assert (sc.expect.branch, sc.expect.severity) == ("credentials", "P1")
    assert sc.service.replicas == 3 and sc.service.request_rate == 40.0
    assert "INC-TEST-1" in sc.title and "It broke" in sc.title
    assert derived.unmapped == ()


def test_403s_keep_their_status() -> None:
    derived = derive(timeline((0, evidence(metrics_=metrics(c403=5.0)))))
    assert derived.faults[0]["kind"] == "key_revoked" and derived.faults[0]["params"] == {"status": 403}


def test_429s_are_rate_limiting_with_the_share_since_it_began_and_the_limit_from_the_logs(tmp_path: Path) -> None:
    reasons = [
        "429 at 3.0/s — 7% of 40/s Clay calls (1-minute rate)",
        "The 1-minute rate covers only 10 s of it: ~19/s since it began — ~47% of calls",
    ]
    logs = [f"pod-a: level=warn status=429 x-ratelimit-limit=600 seq={i}" for i in range(3)]
    _, sc = scenario_of(tmp_path, timeline((0, evidence(metrics_=metrics(c429=3.0), logs=logs, reasons=reasons)), severity="P2"))
    (fault,) = sc.faults
    assert isinstance(fault, RateLimited) and fault.ratio == 0.47 and fault.limit == 600
    assert sc.expect.severity == "P2"


def test_5xx_with_a_clay_incident_is_a_clay_outage_with_its_incident(tmp_path: Path) -> None:
    status = {
        "stale": False,
        "indicator": "critical",
        "incidents": [{"name": "Clay API unavailable", "status": "investigating", "impact": "critical", "update": "We are looking."}],
        "not_operational": ["API: major_outage", "People enrichment: partial_outage", "Not a Clay component: major_outage"],
    }
    quiet = evidence(metrics_=metrics(c503=6.0, c500=2.0))
    loud = evidence(metrics_=metrics(c503=30.0, c500=6.0), statuspage=status)
    _, sc = scenario_of(tmp_path, timeline((0, quiet), (12, loud), branches=(["clay_incident"],)))
    (fault,) = sc.faults
    assert isinstance(fault, ClayOutage)
    assert fault.codes == (503, 500) and fault.weights[0] > fault.weights[1]
    assert fault.error_ratio == pytest.approx(0.9)  # the highest share the snapshots show (the 1-minute rate caught up)
    assert fault.incident is not None and fault.incident.name == "Clay API unavailable" and fault.incident.impact == "critical"
    assert fault.incident.components == ("API", "People enrichment") and fault.incident.component_status == "major_outage"
    assert fault.incident.post_after == 12.0 - SEEN_LEAD  # Clay posted it by the second snapshot
    assert fault.incident.investigating == "We are looking."


def test_a_healthy_drills_few_500s_are_noise() -> None:
    derived = derive(timeline((0, evidence(metrics_=metrics(c500=0.05))), branches=(["healthy"],), severity="none"))
    assert derived.faults == () and "No fault kind matched the evidence" in derived.text


def test_slow_calls_with_a_few_timeouts_are_latency_and_p50_is_said_to_be_assumed(tmp_path: Path) -> None:
    _, sc = scenario_of(tmp_path, timeline((0, evidence(metrics_=metrics(c504=0.8)))))
    assert [(type(f), f.codes) for f in sc.faults] == [(ClayOutage, (504,))]  # fast calls: the 504s are failures of their own
    slow = metrics(c504=0.8)
    slow["values"]["Clay p95"] = [2500.0, "ms"]
    derived, sc = scenario_of(tmp_path, timeline((0, evidence(metrics_=slow)), branches=(["clay_incident"],), severity="P2"))
    (fault,) = sc.faults
    assert isinstance(fault, Latency) and fault.p95_ms == 2500 and fault.timeout_ratio == pytest.approx(0.02)
    assert "p50_ms is not in the evidence" in derived.text


def test_oomkilled_pods_are_a_crashloop_without_an_end(tmp_path: Path) -> None:
    bad = {
        "stale": False,
        "pods": 3,
        "ready": 0,
        "restarts": 3,
        "not_ready": [{"name": "p1", "status": "CrashLoopBackOff", "restarts": 1, "last": "OOMKilled"}],
    }
    reasons = ["Memory leak or a too-small limit: rss climbs 15 MB/s to the 512 MB limit, ~23 s after each start."]
    events = timeline((0, evidence(pods=bad, reasons=reasons)), (30, evidence()), branches=(["infrastructure"],))
    derived, sc = scenario_of(tmp_path, events)
    (fault,) = sc.faults
    assert isinstance(fault, Crashloop) and fault.reason == "OOMKilled" and fault.after == 23.0 and fault.end == 0
    assert "no end derived" in derived.text


def test_a_fault_ends_when_its_sources_read_again_without_it(tmp_path: Path) -> None:
    events = timeline((0, evidence(metrics_=metrics(c401=20.0))), (45, evidence()), branches=(["credentials"], ["healthy"]))
    _, sc = scenario_of(tmp_path, events)
    assert [(f.start, f.end) for f in sc.faults] == [(LEAD_IN, LEAD_IN + 45)]


def test_a_source_that_cannot_read_does_not_end_a_fault() -> None:
    failed = evidence(metrics_={"error": "timeout: no answer"}, health={"error": "timeout: no answer"})
    derived = derive(timeline((0, evidence(metrics_=metrics(c401=20.0))), (45, failed)))
    assert "end" not in derived.text.split("[[faults]]")[1]
    assert any(line.startswith("metrics failed: timeout") for line in derived.unmapped)


def test_a_drills_clock_speed_stretches_the_times() -> None:
    events = timeline((0, evidence(clock_speed=4)), (10, evidence(metrics_=metrics(c401=20.0))))
    assert derive(events).faults[0]["start"] == LEAD_IN + 40


def test_an_unreachable_status_page_is_a_stopped_service(tmp_path: Path) -> None:
    down = evidence(statuspage={"error": "unreachable: connection refused — is the status page up?"})
    _, sc = scenario_of(tmp_path, timeline((0, down)))
    assert [(type(f), f.service) for f in sc.faults] == [(ServiceDown, "statuspage")]


def test_evidence_no_fault_kind_makes_is_reported_not_invented(tmp_path: Path) -> None:
    status = {
        "stale": False,
        "incidents": [{"name": "Webhooks delayed", "impact": "minor"}],
        "not_operational": ["Webhooks: degraded_performance"],
    }
    health = {
        "stale": False,
        "status": "down",
        "failing": ["sync_jobs: failing write rows: NaN", "clay_api: last 60s: 100 calls, 30 errors (404: 30)"],
    }
    pods = {"stale": False, "pods": 3, "ready": 2, "restarts": 0, "not_ready": [{"name": "p2", "status": "ImagePullBackOff", "last": None}]}
    events = timeline(
        (0, evidence(statuspage=status, health=health, pods=pods, metrics_=metrics(c404=4.0))), branches=(["infrastructure"],)
    )
    derived, sc = scenario_of(tmp_path, events)
    assert sc.faults == ()
    assert derived.unmapped == (
        "Clay's status page: incident 'Webhooks delayed' without errors or slowness in our calls — not replayed",
        "Clay answered 404 (metrics 404 at 4.0/s (10% of calls); health 404: 30 of 100 calls) — no fault kind makes it",
        "pod p2 not ready: ImagePullBackOff (last: None) — not replayed",
        "health check failing: sync_jobs: failing write rows: NaN — no fault kind makes it",
    )
    for line in derived.unmapped:
        assert f"# Not replayed: {line}\n" in derived.text


def test_no_evidence_or_no_branch_is_an_error() -> None:
    with pytest.raises(ReplayError, match="no evidence snapshot"):
        derive(timeline())
    with pytest.raises(ReplayError, match="no branch_changed"):
        derive(timeline((0, evidence()), branches=()))


# --------------------------------------------------------------------------
# Times from the metric history and the watch's status page moments
# (clay_cockpit.replay_times): the snapshots are only at the declaration and
# at branch changes


def windowed(t1: float, bursts: list[tuple[float, float | None, float]], n: int = 61, dt: float = 15.0) -> dict[str, Any]:
    """A metrics.history entry: the 1-minute rate, every ``dt`` up to ``t1``, of
    errors at ``rate``/s from ``start`` to ``end`` (None: on) for each burst."""
    times = [t1 - (n - 1 - i) * dt for i in range(n)]
    v = [round(sum(r * max(0.0, min(math.inf if e is None else e, t) - max(s, t - 60)) / 60 for s, e, r in bursts), 4) for t in times]
    return {"q": "errors_by_code", "t1": t1, "dt": dt, "v": v}


def metrics_at(dt: float, **codes: list[tuple[float, float | None, float]]) -> dict[str, Any]:
    """metrics as a snapshot at T0 + dt keeps them: each code's bursts (times from T0) with its history."""
    at = T0 + dt
    history = {
        f"Clay {c.removeprefix('c')}": windowed(at, [(T0 + s, None if e is None else T0 + e, r) for s, e, r in b]) for c, b in codes.items()
    }
    history["Clay requests"] = {"q": "request_rate", "t1": at, "dt": 15.0, "v": [40.0] * 61}
    values = {label: [h["v"][-1], "req/s"] for label, h in history.items()}
    return {"updated_at": at, "stale": False, "served_by": "http://prom", "backup": False, "values": values, "history": history}


RATE_LIMIT = [(-5.0, 35.0, 12.0)]  # 429s at 30% of 40 calls/s from T0-5 to T0+35
OUTAGE_503 = [(35.0, 85.0, 24.0)]  # then 503s and 500s, 85% of calls, until T0+85
OUTAGE_500 = [(35.0, 85.0, 10.0)]


def test_a_rate_limit_that_turns_into_an_outage_is_timed_by_the_metric_history(tmp_path: Path) -> None:
    """Three snapshots (declaration, branch change, healthy) say the 429s began
    by +10 and ran until +160; the history each keeps says -5 to +35."""
    snaps = [
        (10, evidence(metrics_=metrics_at(10, c429=RATE_LIMIT))),
        (45, evidence(metrics_=metrics_at(45, c429=RATE_LIMIT, c503=OUTAGE_503, c500=OUTAGE_500))),
        (160, evidence(metrics_=metrics_at(160, c429=RATE_LIMIT, c503=OUTAGE_503, c500=OUTAGE_500))),
    ]
    derived, sc = scenario_of(tmp_path, timeline(*snaps, branches=(["credentials"], ["clay_incident", "credentials"], ["healthy"])))
    limited, outage = sc.faults
    assert isinstance(limited, RateLimited) and isinstance(outage, ClayOutage), derived.text
    # the first snapshot is LEAD_IN + the whole 5 s polls the 429s began before it (15 s): they start at LEAD_IN
    assert (limited.start, limited.end) == pytest.approx((LEAD_IN, LEAD_IN + 40), abs=1.0)
    assert (outage.start, outage.end) == pytest.approx((LEAD_IN + 40, LEAD_IN + 90), abs=1.0)
    assert limited.ratio == pytest.approx(0.3, abs=0.02) and outage.error_ratio == pytest.approx(0.85, abs=0.02)
    assert outage.codes == (503, 500) and outage.weights == pytest.approx((24 / 34, 10 / 34), abs=0.02)
    assert "429 rate fitted over" in derived.text and "500/503 rate fitted over" in derived.text


def test_without_a_history_the_snapshots_time_the_faults() -> None:
    """The control: the same snapshots without metrics.history (or with garbage in it)."""
    for history in (None, {"Clay 429": {"q": "errors_by_code", "t1": "soon", "dt": -15, "v": ["x", None]}}):
        m = metrics(c429=3.0)
        if history is not None:
            m["history"] = history
        events = timeline((10, evidence(metrics_=m)), (160, evidence()), branches=(["credentials"], ["healthy"]))
        assert [(f["kind"], f["start"], f["end"]) for f in derive(events).faults] == [("rate_limited", LEAD_IN, LEAD_IN + 150)]


def test_a_burst_on_at_the_newest_point_has_no_end_and_one_clearly_falling_has() -> None:
    on = timeline(
        (10, evidence(metrics_=metrics_at(10, c401=[(-30.0, None, 40.0)]))),
        (200, evidence(metrics_=metrics_at(200, c401=[(-30.0, None, 40.0)]))),
    )
    (fault,) = derive(on).faults
    assert fault["kind"] == "key_revoked" and "end" not in fault
    assert fault["start"] == pytest.approx(LEAD_IN, abs=1.0)  # 40 s before the first snapshot: 8 whole polls, so at LEAD_IN
    fixed = [(-30.0, 170.0, 40.0)]  # the key fixed 30 s before the last snapshot: its 1-minute rate is half way down
    ended = timeline((10, evidence(metrics_=metrics_at(10, c401=fixed))), (200, evidence(metrics_=metrics_at(200, c401=fixed))))
    (fault,) = derive(ended).faults
    assert fault["end"] - fault["start"] == pytest.approx(200, abs=1.0)


def test_a_second_burst_between_two_snapshots_is_a_second_fault(tmp_path: Path) -> None:
    twice = [(0.0, 30.0, 12.0), (200.0, 240.0, 12.0)]  # no snapshot saw the pause between them
    events = timeline((10, evidence(metrics_=metrics_at(10, c429=twice))), (300, evidence(metrics_=metrics_at(300, c429=twice))))
    _, sc = scenario_of(tmp_path, events)
    assert [type(f) for f in sc.faults] == [RateLimited, RateLimited]
    assert [(f.start, f.end) for f in sc.faults] == pytest.approx([(LEAD_IN, LEAD_IN + 30), (LEAD_IN + 200, LEAD_IN + 240)], abs=1.0)


def clay_incident(**changes: Any) -> dict[str, Any]:
    return {"id": "inc1", "name": "Clay API unavailable", "status": "investigating", "impact": "critical", "update": "Looking."} | changes


def test_clay_s_incident_is_posted_identified_and_resolved_when_the_watch_saw_it(tmp_path: Path) -> None:
    status = {
        "stale": False,
        "indicator": "critical",
        "incidents": [{"name": "Clay API unavailable", "status": "investigating", "impact": "critical"}],
        "not_operational": ["API: major_outage"],
    }
    outage = [(0.0, 100.0, 34.0)]
    events = timeline(
        (20, evidence(metrics_=metrics_at(20, c503=outage), statuspage=status)),
        (250, evidence(metrics_=metrics_at(250, c503=outage))),
        branches=(["clay_incident"], ["healthy"]),
    )
    watched = [
        (10, EventKind.CLAY_INCIDENT_APPEARED, clay_incident()),
        (60, EventKind.CLAY_INCIDENT_UPDATED, clay_incident(status="identified")),
        (100, EventKind.CLAY_INCIDENT_UPDATED, clay_incident(status="monitoring")),
        (140, EventKind.CLAY_INCIDENT_RESOLVED, {"id": "inc1", "name": "Clay API unavailable"}),
    ]
    for dt, kind, data in watched:
        events.append(Event(len(events) + 1, T0 + dt, kind, "Clay incident", "", data))
    derived, sc = scenario_of(tmp_path, events)
    (fault,) = sc.faults
    assert isinstance(fault, ClayOutage) and fault.incident is not None, derived.text
    assert (fault.start, fault.end) == pytest.approx((LEAD_IN, LEAD_IN + 100), abs=1.0)
    # each a second before the poll that saw it (the replay's poll at that second sees it too)
    assert fault.start + fault.incident.post_after == pytest.approx(LEAD_IN + 10 - SEEN_LEAD, abs=1.0)
    assert fault.start + fault.incident.identified_after == pytest.approx(LEAD_IN + 60 - SEEN_LEAD, abs=1.0)
    assert fault.end + fault.incident.resolve_after == pytest.approx(LEAD_IN + 140 - SEEN_LEAD, abs=1.0)
    assert "from the watch's events" in derived.text
    # without the watch's events: the snapshots bound them (posted by the first, resolved by the last)
    (tmp_path / "bare").mkdir()
    _, sc = scenario_of(tmp_path / "bare", [e for e in events if not e.kind.value.startswith("clay_incident")])
    (fault,) = sc.faults
    assert fault.incident is not None and fault.start + fault.incident.post_after == pytest.approx(LEAD_IN + 20 - SEEN_LEAD, abs=1.0)
    assert fault.end + fault.incident.resolve_after == pytest.approx(LEAD_IN + 250 - SEEN_LEAD, abs=1.0)


def test_an_incident_too_long_for_a_drill_is_one_error() -> None:
    events = timeline((0, evidence(metrics_=metrics(c401=9.0))), (8 * 86400, evidence(metrics_=metrics(c401=9.0), health={"error": "x"})))
    events.append(Event(len(events) + 1, T0 + 8 * 86400 + 10, EventKind.EVIDENCE_SNAPSHOT, "Evidence snapshot", "ana", evidence()))
    with pytest.raises(ReplayError, match=r"INC-TEST-1: its faults run until scenario second 6912\d+, past the 604800 s \(7 days\)") as exc:
        derive(events)
    assert "\n" not in str(exc.value)


# --------------------------------------------------------------------------
# The command line


def write_timeline(path: Path, events: list[Event]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(e.to_json()) + "\n" for e in events), encoding="utf-8")
    return path


def one_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("clay-cockpit: "), err
    return lines[0]


def test_cli_an_unknown_incident_is_one_line_and_exit_2(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    write_timeline(
        tmp_path / "clay-cockpit" / "drills" / "key-revoked" / "incidents" / "INC-20260101-0000-aaaa.jsonl", timeline((0, evidence()))
    )
    assert cli.main(["demo", "--from-incident", "INC-nope"]) == 2
    assert "no incident matching 'INC-nope'" in one_error(capsys)


def test_cli_a_missing_or_unreadable_timeline_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    assert cli.main(["demo", "--from-incident", str(tmp_path / "gone.jsonl")]) == 2
    assert "no such timeline file" in one_error(capsys)
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_bytes(b"\x00\xff not json\n{also not\n")
    assert cli.main(["demo", "--from-incident", str(garbage)]) == 2
    assert "no evidence snapshot" in one_error(capsys)


def test_cli_a_timeline_without_evidence_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    path = write_timeline(tmp_path / "INC-X.jsonl", timeline())
    assert cli.main(["demo", "--from-incident", str(path)]) == 2
    assert "nothing to replay" in one_error(capsys)


def test_cli_save_writes_a_file_the_demo_loads_and_says_what_is_not_replayed(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    health = {"stale": False, "status": "down", "failing": ["sync_jobs: failing"]}
    events = timeline((0, evidence(metrics_=metrics(c401=9.0), health=health)))
    write_timeline(tmp_path / "clay-cockpit" / "incidents" / "INC-20260101-0000-bbbb.jsonl", events)
    saved = tmp_path / "rehearse.toml"
    code = cli.main(["demo", "--from-incident", "0000-bbbb", "--save", str(saved)])  # a unique part of the id
    err = capsys.readouterr().err
    assert code == 2 and "needs a terminal" in err  # (no screen in a test: the file is written before that check)
    assert "not replayed: health check failing: sync_jobs: failing" in err and f"as {saved}" in err
    sc = load_scenario(saved)
    assert [type(f) for f in sc.faults] == [KeyRevoked] and sc.name == "replay-INC-TEST-1"
    assert cli.main(["demo", "--from-incident", "0000-bbbb", "--save", str(saved)]) == 2  # never over a file
    assert "exists" in one_error(capsys)


def test_cli_save_needs_from_incident(capsys) -> None:
    assert cli.main(["demo", "--save", "x.toml"]) == 2
    assert "--save goes with --from-incident" in one_error(capsys)
