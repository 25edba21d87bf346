"""A past incident as a drill (issue 18): the derivation of a scenario from
hand-made timelines — each mapping from evidence to a fault kind, the
evidence no fault kind makes (reported, never invented) — and the errors of
``clay-cockpit demo --from-incident``. The replay of recorded drill
incidents is in tests/test_replay_drill.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from clay_cockpit import cli
from clay_cockpit.incident.timeline import Event, EventKind
from clay_cockpit.replay import LEAD_IN, ReplayError, derive
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
    assert fault.incident.post_after == 12.0  # Clay posted it by the second snapshot
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
