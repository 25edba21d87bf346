"""The postmortem from a recorded drill timeline: it matches the events
(severity suggested and chosen, times against the target, branch and
evidence, actions with plan and outcome, messages, chart, logs), contains no
secret, marks an open incident DRAFT, survives a torn last line, and the
subcommand finds, prints and writes it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import tomli_w

from clay_cockpit.comms.state import Channel, Sent
from clay_cockpit.incident.lifecycle import IncidentStore
from clay_cockpit.incident.postmortem import (
    PostmortemError,
    build_postmortem,
    default_output,
    write_postmortem,
)
from clay_cockpit.incident.postmortem_cli import add_postmortem_arguments, cmd_postmortem, find_incident
from clay_cockpit.incident.timeline import Event, EventKind, read
from clay_cockpit.runbook import Severity
from clay_cockpit.sim import wiring

T0 = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC
SLACK_TOKEN = "xoxb-2718281828-3141592653-AbCdEfGhIjKlMnOp"
CLAY_KEY = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
PLAIN_SECRET = "plainsecretvalue123"  # looks like nothing; only the config's token_env names it

ASSESSMENT = {
    "at": T0,
    "branch": "credentials",
    "severity": "P1",
    "confidence": "high",
    "headline": "Credentials: Clay answers 401 to every call — P1",
    "cannot_see": "",
    "findings": [
        {
            "branch": "credentials",
            "severity": "P1",
            "label": "Credentials",
            "title": "Clay answers 401 to every call",
            "line": "Credentials: Clay answers 401 to every call — P1",
            "confidence": "high",
            "errors": ["auth"],
            "reasons": [
                {"text": "401 at 39/s — 100% of 39/s Clay calls, for 60 s", "source": "metrics", "weak": False, "values": {}},
                {
                    "text": "No unresolved incident on Clay's status page (All Systems Operational)",
                    "source": "statuspage",
                    "weak": False,
                    "values": {},
                },
            ],
            "actions": [
                {"id": "verify_key", "text": "Verify the Clay API key in the Secret"},
                {"id": "update_key", "text": "Update the key if it was rotated"},
                {"id": "restart", "text": "Restart the pods"},
            ],
        }
    ],
    "gaps": [{"source": "logs", "state": "missing", "text": "pod logs not read yet", "hint": ""}],
    "observed": [],
}


def rate_401(t: float) -> float:
    """The 401s the error-rate pane drew: from 50 s before the declaration,
    39/s with one spike to 41/s at +0:30 (between two snapshots: only the
    sparkline history shows it), down after the key update, gone at +3:30."""
    if t < T0 - 50 or t >= T0 + 210:
        return 0.0
    if t == T0 + 30:
        return 41.0
    return 39.0 if t < T0 + 180 else 12.0


def history(at: float, f=rate_401) -> dict:
    """What ``evidence.signals_evidence`` keeps of the sparklines: 5 min at 15 s."""
    from clay_cockpit.incident.metrics_history import metrics_history
    from clay_cockpit.signals import Series

    times = [at - 300 + 15 * i for i in range(21)]
    return metrics_history(
        [
            Series("errors_by_code:401", "errors_by_code", "Clay 401", "req/s", (("code", "401"),), f(at), tuple((t, f(t)) for t in times)),
            Series("request_rate", "request_rate", "Clay requests", "req/s", (), 39.0, tuple((t, max(39.0, f(t))) for t in times)),
        ]
    )


def evidence(at: float, rate_401: float, log: str | None = None, *, with_history: bool = False) -> dict:
    metrics = {
        "served_by": "http://127.0.0.1:9090",
        "backup": False,
        "values": {"Clay 401": [rate_401, "req/s"], "Clay requests": [39.0, "req/s"], "Clay p95": [120.0, "ms"]},
    }
    if with_history:
        metrics["history"] = history(at)
    return {
        "signals_at": at,
        "statuspage": {"indicator": "none", "description": "All Systems Operational", "incidents": []},
        "metrics": metrics,
        "logs": [log] if log else [],
    }


BEFORE = [  # the notable moments the recorder kept before the declaration (the declaration's evidence)
    {
        "kind": "branch_changed",
        "at": T0 - 120,
        "summary": "Triage: Branch: start → Healthy",
        "data": {"kind": "branch", "before": {"branch": None}, "after": {"branch": "healthy", "severity": None}},
    },
    {
        "kind": "branch_changed",
        "at": T0 - 40,
        "summary": "Triage: Branch: Healthy → Credentials (P1)",
        "data": {"kind": "branch", "before": {"branch": "healthy"}, "after": {"branch": "credentials", "severity": "P1"}},
    },
]
ENDED = "Mitigated: 401s stopped at 00:03:30 (0 of the last 50 logged calls failed; metrics agree)"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def record_drill(state_dir, *, resolve: bool = True, symptom: str | None = "ended") -> tuple[IncidentStore, Clock]:
    """A key-revoked drill as the cockpit records it, with secrets slipped into the inputs."""
    clock = Clock()
    store = IncidentStore(state_dir, actor="ana@bastion-1", clock=clock)
    store.declare(
        Severity.P2,
        evidence(T0, 39.0, f"clay-sync-6f7d9c8b5d-x2k9q: level=error status=401 key={CLAY_KEY}", with_history=True) | {"before": BEFORE},
    )
    store.suggest(Severity.P1, reasons="401 for every call")
    store.set_branch(["credentials"], data=ASSESSMENT)
    clock.now = T0 + 20
    store.tick("check_status_page", auto=True, seen="All Systems Operational, 0 incidents")
    clock.now = T0 + 45
    store.accept_severity()
    for minute in range(1, 7):
        clock.now = T0 + 60 * minute
        store.record_evidence(
            evidence(
                clock.now,
                rate_401(clock.now),
                f'clay-sync-6f7d9c8b5d-x2k9q: msg="clay call failed" status=401 minute={minute}',
                with_history=True,
            ),
            why="tick",
        )
        if minute == 2:
            store.tick("verify_key")
            store.record(
                EventKind.ACTION_PLANNED,
                "Plan: write a new key to Secret clay-sync/clay-api",
                {
                    "action_id": "run-1",
                    "title": "Update the Clay API key",
                    "plan": ["Secret clay-api key api-key: sha256:0a1b2c3d4e5f → sha256:9f8e7d6c5b4a"],
                    "dry_run": "accepted by the server (dryRun=All)",
                    "new_key": CLAY_KEY,
                },
            )
            store.record(
                EventKind.ACTION_APPLIED,
                "Secret clay-api updated",
                {"action_id": "run-1", "confirmed_by": "ana@bastion-1 (typed clay-sync)"},
            )
            store.record(
                EventKind.ACTION_VERIFIED,
                "Clay accepted the new key (GET /v1/me → 200)",
                {"action_id": "run-1", "verification": "probe 200"},
            )
        if minute == 4 and symptom == "ended":  # the actions desk followed the 401s after the key update (docs/events.md)
            store.record(
                EventKind.SYMPTOM_ENDED,
                ENDED,
                {
                    "plan_id": "run-1",
                    "action": "update_key",
                    "runbook": "update_key",
                    "symptom": "auth_errors",
                    "label": "401s",
                    "applied_at": T0 + 120,
                    "ended_at": T0 + 210,
                    "basis": "logs+metrics",
                    "evidence": "0 of the last 50 logged calls failed; metrics agree (401 at 0.00/s)",
                    "metrics_agree": True,
                    "before": "401 on 100% of calls (39/s)",
                },
            )
        if minute == 3:
            sent = Sent(
                Channel.INTERNAL,
                "update",
                clock.now,
                "d-1",
                f"P1 · Identified — key rotated\nold token {SLACK_TOKEN}",
                "#inc-clay-drill",
                "C0INCDRILL",
                "1767225780.000002",
                "1767225780.000001",
            )
            store.record(EventKind.MESSAGE_SENT, "Internal update posted to #inc-clay-drill", sent.to_data())
            store.record(
                "message_failed",
                "The status page update was not sent: rate limited",
                {"channel": "external", "draft_id": "d-2", "error": "rate_limited: the status page API answered HTTP 429"},
            )
            page = Sent(
                Channel.EXTERNAL,
                "page_create",
                clock.now,
                "d-2",
                "We are investigating an issue causing some requests to fail.",
                "status page (https://stspg.io/abc)",
                page_incident_id="pg1",
                status="investigating",
            )
            store.record(EventKind.MESSAGE_SENT, "Status page incident created", page.to_data())
            store.set_status("identified")
        store.note(f"bridge call; someone pasted {PLAIN_SECRET}") if minute == 4 else None
    clock.now = T0 + 480
    store.set_status("monitoring")
    if resolve:
        clock.now = T0 + 900
        store.set_status("resolved")
    return store, clock


@pytest.fixture
def recorded(tmp_path):
    store, clock = record_drill(tmp_path)
    path = store.timeline.path
    store.close()
    return path, clock


def test_the_postmortem_matches_the_events(recorded) -> None:
    path, _ = recorded
    pm = build_postmortem(path, now=T0 + 1000)
    text = pm.text
    assert not pm.draft and pm.problems == () and "DRAFT" not in text
    assert text.startswith(f"# Postmortem: {pm.incident_id} — Credentials: Clay answers 401 to every call\n")
    # severity: suggested and chosen
    assert "**Suggested by triage:** P2 at declaration; now P1" in text
    assert "**Chosen:** P1 (Complete outage), accepted the suggestion" in text
    # times against the P1 target (15 min, counted to mitigation: the 401s seen to end at +3:30, not the status change)
    assert (
        "| Detected | 00:00:00 | +0:00 | declared by ana@bastion-1; first sign 23:59:15 UTC "
        "(Clay errors rose to 4.1/s or more (a tenth of their peak)) |"
    ) in text
    assert "| Acknowledged | 00:00:45 | +0:45 | Severity P1 accepted |" in text
    assert (
        "| Mitigated | 00:03:30 | +3:30 | 401s stopped at 00:03:30 (0 of the last 50 logged calls failed; metrics agree) "
        "| met, 11:30 to spare |"
    ) in text
    assert "status → monitoring" not in text
    assert "| Resolved | 00:15:00 | +15:00 |" in text
    # the impact window: from the fault's first sign (the 401s the sparkline history shows rising, before triage's
    # branch change at 23:59:20 that the declaration's evidence keeps), to the verified end of the symptom
    assert (
        "- **From:** 2025-12-31 23:59:15 UTC — Clay errors rose to 4.1/s or more (a tenth of their peak) (the first sign "
        "in the evidence, 0:45 before the declaration at 00:00:00)"
    ) in text
    assert "- **To:** 2026-01-01 00:03:30 UTC (mitigated: 401s stopped at 00:03:30" in text and "- **Length:** 4:15" in text
    # the peak the pane drew (41/s between two snapshots), not the highest instant a snapshot caught (39/s)
    assert "peak 41/s (Clay 401) at 00:00:30 UTC" in text and "from 23:59:15 to 00:03:15 UTC (at 4.1/s or more" in text
    # branch and evidence with numbers
    assert "- 00:00:00 UTC — Credentials" in text
    assert "- 401 at 39/s — 100% of 39/s Clay calls, for 60 s" in text and "pod logs not read yet" in text
    # the action: plan, dry run, who confirmed, outcome
    actions = text.split("## Actions")[1].split("## Runbook checklist")[0]
    assert "### Update the Clay API key" in actions
    assert "**planned**" in actions and "**applied**" in actions and "**verified**" in actions
    assert "dry run: accepted by the server (dryRun=All)" in actions and "confirmed by: ana@bastion-1 (typed clay-sync)" in actions
    assert f"- **Outcome:** verified: {ENDED}" in actions
    assert "401s when confirmed: 401 on 100% of calls (39/s)" in actions and "(from logs and metrics; metrics agree)" in actions
    # checklist: auto and by hand
    assert "- [x] Check Clay's status page (00:00:20 UTC, auto — All Systems Operational, 0 incidents)" in text
    assert "- [x] 401/403: verify the API key in the Secret (00:02:00 UTC, by ana@bastion-1)" in text
    assert "- [ ] 401/403: restart the pods" in text
    # steps 2 and 3 ticked by the verified action (its symptom ended), with what was seen
    assert f"- [x] 401/403: update the key if it was rotated (00:03:30 UTC, verified — {ENDED})" in text
    assert f"- [x] Clay errors, no Clay incident → check our credentials and config (00:03:30 UTC, verified — {ENDED})" in text
    # messages: both sent, quoted, and the failed one
    messages = text.split("## Messages sent")[1].split("## Error rate")[0]
    assert "**00:03:00 UTC — Internal (Slack), #inc-clay-drill, status" not in messages  # no status on that one
    assert "> P1 · Identified — key rotated" in messages
    assert "External (status page)" in messages and "> We are investigating an issue causing some requests to fail." in messages
    assert "rate_limited: the status page API answered HTTP 429" in messages
    # chart from the sparkline histories the 7 snapshots kept
    chart = text.split("## Error rate during the incident")[1].split("## Log excerpt")[0]
    assert "kept by 7 evidence snapshot(s)" in chart and "```text" in chart and "Clay 401" in chart and "minutes since declared" in chart
    assert "41.0┤" in chart
    assert "Clay p95" not in chart and "\x1b" not in text
    # logs and the full timeline
    assert "status=401 minute=6" in text
    rows = [line for line in text.split("## Timeline")[1].split("## Root cause")[0].splitlines() if re.match(r"\| \d\d:\d\d:\d\d \|", line)]
    assert len(rows) == len(read(path).events) == 24  # every event
    for section in ("## Root cause", "## Contributing factors", "## What went well", "## Action items"):
        assert section in text


def test_no_secret_reaches_the_postmortem(recorded, tmp_path, monkeypatch, capsys) -> None:
    path, _ = recorded
    monkeypatch.setenv("CLAY_DRILL_SLACK_TOKEN", PLAIN_SECRET)
    config = tmp_path / "cockpit.toml"
    config.write_text(tomli_w.dumps(wiring.drill_config({n: "http://127.0.0.1:1" for n in wiring.SERVICES}, tmp_path / "kc")))
    args = parse([str(path), "--config", str(config)])
    assert cmd_postmortem(args) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Postmortem: INC-")
    for secret in (SLACK_TOKEN, CLAY_KEY, PLAIN_SECRET, "AbCdEfGhIjKlMnOp", "4eC39HqLyjWDarjtT1zdp7dc"):
        assert secret not in out
    assert "[redacted]" in out or "***" in out


def test_an_open_incident_is_a_draft(tmp_path) -> None:
    store, _ = record_drill(tmp_path, resolve=False, symptom=None)
    store.set_status("investigating", now=T0 + 500)  # the fix did not hold
    try:
        pm = build_postmortem(store.timeline.path, now=T0 + 600)
    finally:
        store.close()
    assert pm.draft
    assert "> **DRAFT** — the incident is still open (status: investigating)" in pm.text
    assert "| Status | Investigating (open) |" in pm.text and "so far" in pm.text
    assert "not mitigated yet: 5:00 left" in pm.text


def test_a_torn_last_line_is_left_out_and_noted(recorded) -> None:
    path, _ = recorded
    with open(path, "ab") as f:
        f.write(b'{"v":1,"seq":99,"at":1767226700.0,"kind":"note","summary":"half writ')
    pm = build_postmortem(path, now=T0 + 1000)
    assert any("torn write" in p for p in pm.problems)
    assert "the timeline's last line was cut off" in pm.text and "half writ" not in pm.text
    assert "| Resolved | 00:15:00 |" in pm.text


def test_one_snapshot_gives_a_table_not_a_chart(tmp_path) -> None:
    store = IncidentStore(tmp_path, actor="ana@bastion-1", clock=lambda: T0)
    store.declare(Severity.P3, evidence(T0, 2.0))
    try:
        pm = build_postmortem(store.timeline.path, now=T0 + 60)
    finally:
        store.close()
    assert "Too few points with error rates for a chart" in pm.text and "| 00:00:00 | Clay 401 | 2 |" in pm.text
    assert "No remediation action was recorded" in pm.text and "No message was sent." in pm.text


def test_a_long_timeline_stays_bounded(tmp_path) -> None:
    store = IncidentStore(tmp_path, actor="ana@bastion-1", clock=lambda: T0)
    store.declare(Severity.P2, evidence(T0, 5.0))
    path, seq = store.timeline.path, store.timeline.seq
    store.close()
    with open(path, "a", encoding="utf-8") as f:  # 1,200 more events, written as the timeline writes them (without 1,200 fsyncs)
        for i in range(1, 1201):
            ev = Event(
                seq + i,
                T0 + i,
                EventKind.EVIDENCE_SNAPSHOT,
                "Evidence snapshot (tick)",
                "ana@bastion-1",
                evidence(T0 + i, float(i % 40), f"line {i} " + "x" * 300),
            )
            f.write(json.dumps(ev.to_json()) + "\n")
    pm = build_postmortem(path, now=T0 + 1300)
    assert len(pm.text) < 120_000
    assert "| … | | | 902 events left out (see the timeline file) | |" in pm.text
    assert len(re.findall(r"^\d\d:\d\d:\d\d line \d+", pm.text, re.MULTILINE)) == 40
    assert "kept by 1201 evidence snapshot(s) (1201 points)" in pm.text


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="clay-cockpit postmortem")
    add_postmortem_arguments(parser)
    return parser.parse_args(argv)


def test_the_subcommand_finds_writes_and_refuses_to_overwrite(tmp_path, capsys) -> None:
    state = tmp_path / "state"
    first, _ = record_drill(state)
    first_id = first.incident.id
    first.close()
    later = IncidentStore(state, actor="bo@bastion-2", clock=lambda: T0 + 7200)
    later.declare(Severity.P3, evidence(T0 + 7200, 1.0))
    later_id = later.incident.id
    later.close()

    assert cmd_postmortem(parse(["--state-dir", str(state)])) == 0
    assert capsys.readouterr().out.startswith(f"# Postmortem: {later_id}")  # the newest by default
    assert find_incident(state, first_id[-4:]) == state / "incidents" / f"{first_id}.jsonl"

    out = tmp_path / "pm.md"
    assert cmd_postmortem(parse([first_id, "--state-dir", str(state), "-o", str(out)])) == 0
    assert out.read_text().startswith(f"# Postmortem: {first_id}")
    assert os.stat(out).st_mode & 0o777 == 0o600
    assert f"wrote {out}" in capsys.readouterr().err

    out.write_text("the team's own sections")
    assert cmd_postmortem(parse([first_id, "--state-dir", str(state), "-o", str(out)])) == 1
    err = capsys.readouterr().err
    assert "exists" in err and "--force" in err and len(err.strip().splitlines()) == 1
    assert out.read_text() == "the team's own sections"
    assert cmd_postmortem(parse([first_id, "--state-dir", str(state), "-o", str(out), "--force"])) == 0

    assert cmd_postmortem(parse(["INC-1999", "--state-dir", str(state)])) == 2  # a usage error: it names no incident
    assert "no incident matching 'INC-1999'" in capsys.readouterr().err
    assert cmd_postmortem(parse(["INC-2026", "--state-dir", str(state)])) == 2
    assert "matches 2 incidents" in capsys.readouterr().err
    assert cmd_postmortem(parse(["--force", "--state-dir", str(state)])) == 2
    assert len(err := capsys.readouterr().err.strip().splitlines()) == 1 and "--force" in err[0]
    assert cmd_postmortem(parse(["--state-dir", str(tmp_path / "empty")])) == 1  # nothing to write about
    assert "no incident in" in capsys.readouterr().err


def test_the_cockpit_key_path(tmp_path) -> None:
    store, _ = record_drill(tmp_path)
    store.close()
    path = find_incident(tmp_path)
    target = default_output(tmp_path, path.stem)
    pm = write_postmortem(path, target, now=T0 + 1000)
    assert target == tmp_path / "postmortems" / f"{pm.incident_id}.md" and target.read_text() == pm.text
    with pytest.raises(PostmortemError, match="exists"):
        write_postmortem(path, target, now=T0 + 1000)


def test_from_what_the_cockpit_records(tmp_path) -> None:
    """The recorder's shapes (a brief with the branch, the full assessment in
    evidence, a final change to healthy) and the action runner's (plan
    record, applied, verification): the postmortem explains the incident
    with the credentials evidence, not the healthy end, and shows each step."""
    from test_triage import NOW, TH, health, live, metrics, pods, signals, status_page

    from clay_cockpit.comms.core import Channel, Comms
    from clay_cockpit.config import config_from_toml
    from clay_cockpit.incident.recorder import Recorder
    from clay_cockpit.signals import Reading, Signals
    from clay_cockpit.triage.tree import Triage, assess

    bad = signals(
        metrics_=live(metrics({401: 39.0}, rate=39.0)),
        health_=live(health("down", clay_api=("fail", "last 60s: 2340 calls, 2340 errors (401: 2340)"))),
    )
    a_bad = assess(bad, TH, NOW)
    assert (a_bad.branch.value, a_bad.severity) == ("credentials", Severity.P1), a_bad.headline
    clock = Clock()
    clock.now = NOW
    store = IncidentStore(tmp_path, actor="ana@bastion-1", clock=clock)
    triage = Triage(samples=1, seconds=0.0, calm_seconds=0.0)
    recorder = Recorder(store, clock=clock)
    t = triage.update(a_bad)
    d = recorder.prepare(t, bad)
    recorder.declare(d)
    recorder.attached(t, d)
    recorder.accept()
    clock.now = NOW + 120
    plan = {
        "plan_id": "p-1",
        "action": "update_key",
        "runbook": "update_key",
        "title": "Update the Clay API key",
        "context": "clay-drill",
        "namespace": "clay-sync",
        "deployment": "clay-sync",
        "changes": [
            {
                "object": "Secret clay-sync/clay-api",
                "field": "data.api-key",
                "before": "sha256:0a1b2c3d4e5f",
                "after": "sha256:9f8e7d6c5b4a",
                "masked": True,
            }
        ],
        "notes": [],
        "dry_run": {"ok": True, "summary": "the server accepted the change (dryRun=All)", "skipped": [], "failure": None},
        "permissions": [{"what": "update secrets", "allowed": True, "reason": ""}],
        "probe": None,
        "blocked": None,
        "read_only": False,
    }
    store.record(
        EventKind.ACTION_PLANNED,
        "Confirmed: Update the Clay API key (name typed)",
        {**plan, "confirmed_by": "ana@bastion-1", "typed_name": True, "confirmed_at": clock.now},
    )
    store.record(
        EventKind.ACTION_APPLIED,
        "Applied: Update the Clay API key",
        {"plan_id": "p-1", "action": "update_key", "done": ["Secret clay-api updated"], "lease": {"name": "clay-cockpit-clay-sync"}},
    )
    comms = Comms(
        config_from_toml(wiring.drill_config({n: "http://127.0.0.1:1" for n in wiring.SERVICES}, tmp_path / "kc"), "x.toml"),
        store,
        clock=clock,
    )
    draft = comms.draft(Channel.INTERNAL)
    applied = datetime.fromtimestamp(NOW + 120, UTC).strftime("%H:%M UTC")
    assert f"*Current action:* applying Update the Clay API key (since {applied})" in draft.text
    assert f"• {applied} — Update the Clay API key: applied, taking effect" in draft.text and "• 401 at 39/s" in draft.text
    clock.now = NOW + 150
    store.record(
        EventKind.ACTION_VERIFIED,
        "Update the Clay API key: done — Clay answers 200 to the new key",
        {
            "plan_id": "p-1",
            "action": "update_key",
            "done": ["Secret clay-api updated"],
            "verification": {"state": "verified", "summary": "Clay answers 200 to the new key", "missing": [], "elapsed": 1.2},
        },
    )
    clock.now = NOW + 170
    store.record(
        EventKind.SYMPTOM_ENDED,
        "Mitigated: 401s stopped at 08:02:40 (0 of the last 50 logged calls failed; metrics agree)",
        {
            "plan_id": "p-1",
            "action": "update_key",
            "runbook": "update_key",
            "symptom": "auth_errors",
            "label": "401s",
            "applied_at": NOW + 150,
            "ended_at": NOW + 160,
            "basis": "logs+metrics",
            "evidence": "0 of the last 50 logged calls failed; metrics agree (401 at 0.00/s)",
            "metrics_agree": True,
            "before": "401 on 100% of calls (39/s)",
        },
    )
    store.set_status("monitoring")
    clock.now = NOW + 400

    def fresh(value: object) -> Reading:
        return Reading(value=value, updated_at=NOW + 398, checked_at=NOW + 398)

    ok = Signals(
        statuspage=fresh(status_page()),
        health=fresh(health()),
        metrics=fresh(metrics()),
        pods=fresh(pods()),
        recent_logs=signals().recent_logs,
        at=NOW + 400,
    )
    a_ok = assess(ok, TH, NOW + 400)
    assert a_ok.branch.value == "healthy", a_ok.headline
    recorder.triaged(triage.update(a_ok), ok)
    store.set_status("resolved")
    final = comms.draft(Channel.INTERNAL, assessment=a_ok)  # the cause stays in the headline; what we see is the live view
    assert final.text.startswith("P1 · Resolved — Credentials: Clay answers 401 to ")  # the cause, in triage's words
    assert "*What we see* (Healthy, high confidence)" in final.text and "*Current action:* none: resolved" in final.text
    path = store.timeline.path
    store.close()

    text = build_postmortem(path, now=NOW + 500).text
    assert text.startswith("# Postmortem: INC-") and " — Credentials: Clay answers 401 to " in text.split("\n", 1)[0]
    decision = text.split("## Decision tree: branch and evidence")[1].split("## Actions")[0]
    assert "- 401 at 39/s" in decision and "**Latest assessment:** Healthy" in decision
    assert "Credentials" in decision and "Healthy" in decision.split("Branch history:")[1]
    actions = text.split("## Actions")[1].split("## Runbook checklist")[0]
    assert "### Update the Clay API key" in actions
    assert "change: Secret clay-sync/clay-api data.api-key: sha256:0a1b2c3d4e5f → sha256:9f8e7d6c5b4a" in actions
    assert "dry run: accepted — the server accepted the change (dryRun=All)" in actions
    assert "confirmed by: ana@bastion-1 (typed the deployment name)" in actions
    assert "verification: verified — Clay answers 200 to the new key" in actions
    assert "- **Outcome:** verified: Mitigated: 401s stopped at 08:02:40" in actions
    assert "- [ ] 401/403: restart the pods" in text and "429" not in text.split("## Runbook checklist")[1].split("## Messages")[0]
    assert (
        "| Mitigated | 08:02:40 | +2:40 | 401s stopped at 08:02:40 (0 of the last 50 logged calls failed; metrics agree) | met, 12:20 to spare |"
        in text
    )


def test_the_impact_starts_at_the_first_notable_moment_before_the_declaration(tmp_path) -> None:
    """Without metric histories (a timeline from before them), the first
    sign is the first notable moment the declaration's evidence keeps after
    the signals were last calm — here Clay's incident appearing."""
    before = [
        {"kind": "clay_incident_appeared", "at": T0 - 300, "summary": "Clay incident appeared: old one", "data": {}},
        {"kind": "clay_incident_resolved", "at": T0 - 200, "summary": "Clay incident resolved: old one", "data": {}},
        {
            "kind": "clay_incident_appeared",
            "at": T0 - 90,
            "summary": "Clay incident appeared: Clay API unavailable (investigating)",
            "data": {},
        },
        {
            "kind": "branch_changed",
            "at": T0 - 30,
            "summary": "Triage: Branch: Healthy → Clay incident (P1)",
            "data": {"after": {"branch": "clay_incident", "severity": "P1"}},
        },
    ]
    store = IncidentStore(tmp_path, actor="ana@bastion-1", clock=lambda: T0)
    store.declare(Severity.P1, evidence(T0, 20.0) | {"before": before})
    try:
        text = build_postmortem(store.timeline.path, now=T0 + 60).text
    finally:
        store.close()
    assert (
        "- **From:** 2025-12-31 23:58:30 UTC — Clay incident appeared: Clay API unavailable (investigating) "
        "(the first sign in the evidence, 1:30 before the declaration at 00:00:00)"
    ) in text
    assert "- **Length:** 2:30 so far" in text


def test_a_fix_whose_symptom_persists_did_not_work(tmp_path) -> None:
    """A restart that finished while the pods kept crashing: the outcome says
    the fix did not work (never "verified"); nothing is mitigated; resolving
    straight from investigating stops the clock without a "status → monitoring"."""
    clock = Clock()
    store = IncidentStore(tmp_path, actor="ana@bastion-1", clock=clock)
    store.declare(Severity.P1, evidence(T0, 0.0, with_history=True))
    store.set_branch(
        ["infrastructure"],
        data={
            "headline": "Infrastructure: 0/3 pods ready — P1",
            "findings": ["Infrastructure: 0/3 pods ready — P1"],
            "reasons": ["0/3 pods ready: 3 restarted (OOMKilled)"],
            "actions": ["Restart the pods"],
        },
    )
    clock.now = T0 + 60
    plan = {"plan_id": "restart-1", "action": "restart", "runbook": "restart", "title": "Restart the pods: deployment clay-sync"}
    store.record(EventKind.ACTION_PLANNED, "Confirmed: Restart the pods: deployment clay-sync (key pressed)", plan)
    store.record(EventKind.ACTION_APPLIED, "Applied: Restart the pods: deployment clay-sync", {"plan_id": "restart-1", "action": "restart"})
    clock.now = T0 + 90
    store.record(
        EventKind.ACTION_VERIFIED,
        "Restart the pods: deployment clay-sync: done — 3/3 new pods ready",
        {"plan_id": "restart-1", "action": "restart", "verification": {"state": "ok", "summary": "3/3 new pods ready"}},
    )
    clock.now = T0 + 200
    persists = "Restart the pods: rollout done, symptom persists — 0/3 pods ready, 3 restarted (OOMKilled): the fix did not work"
    store.record(
        EventKind.SYMPTOM_PERSISTS,
        persists,
        {
            "plan_id": "restart-1",
            "action": "restart",
            "runbook": "restart",
            "symptom": "pods_unready",
            "label": "pods not ready / restarting",
            "applied_at": T0 + 90,
            "ended_at": None,
            "basis": "pods",
            "evidence": "0/3 pods ready, 3 restarted (OOMKilled)",
            "metrics_agree": None,
            "before": "0/3 pods ready",
        },
    )
    clock.now = T0 + 600
    store.set_status("resolved")
    try:
        text = build_postmortem(store.timeline.path, now=T0 + 700).text
    finally:
        store.close()
    actions = text.split("## Actions")[1].split("## Runbook checklist")[0]
    assert f"- **Outcome:** the fix did not work: {persists}" in actions and "verified:" not in actions
    assert "(from pods; metrics not caught up yet)" in actions
    assert (
        "| Mitigated | — | — | not verified — no action's symptom was seen to end; the last fix did not work "
        f"({persists}) | no verified mitigation; the clock stopped at 00:10:00 (status → resolved): met, 5:00 to spare |"
    ) in text
    assert "status → monitoring" not in text
    assert "- **To:** 2026-01-01 00:10:00 UTC (resolved; no fix was verified by its symptom" in text
    assert "1 remediation action(s): 0 verified by their symptom, 1 did not work" in text and "No fix was verified by its symptom." in text
    assert "- [ ] 401/403: restart the pods" not in text  # credentials items do not apply; the restart was not verified
    assert "(00:03:20 UTC, verified" not in text


def test_long_and_cjk_names_reach_the_postmortem_whole(tmp_path) -> None:
    """Nothing cut for a screen: long component and incident names (real
    ones, from tests/fixtures/real), a CJK component, the action's whole
    "done" list; table cells cut only at a word, marked […]."""
    fixtures = json.loads((Path(__file__).parent / "fixtures" / "real" / "statuspage-incidents-2019-format.json").read_text())
    names = [c["name"] for i in fixtures["incidents"] for u in i["incident_updates"] for c in u.get("affected_components") or []]
    long_name = max(names, key=len)
    assert long_name == "Cloudflare customer dashboard and APIs - Cloudflare APIs"
    cjk = "企业信息补全服务（中国区）"
    reasons = [f"Clay components: API major outage, {long_name} major outage, {cjk} major outage, Company enrichment major outage"]
    store = IncidentStore(tmp_path, actor="ana@bastion-1", clock=lambda: T0)
    ev = evidence(T0, 20.0)
    ev["statuspage"] = {
        "indicator": "critical",
        "description": "Major System Outage",
        "incidents": [{"name": f"{long_name} — elevated errors on every enrichment endpoint in {cjk}", "status": "investigating"}],
    }
    store.declare(Severity.P1, ev)
    store.set_branch(
        ["clay_incident"],
        data={
            "headline": f"Clay incident: {long_name} down — P1",
            "findings": [f"Clay incident: {long_name} down — P1"],
            "reasons": reasons,
            "actions": ["Enable graceful degradation (fallback)"],
        },
    )
    done = [
        "ConfigMap clay-sync/clay-sync-flags: CLAY_FALLBACK_ENABLED=true",
        "Deployment clay-sync/clay-sync: restartedAt=2026-12-04T15:06:09Z (rollout restart, generation 3)",
    ]
    store.record(
        EventKind.ACTION_APPLIED,
        "Applied: Enable graceful degradation (fallback): deployment clay-sync",
        {"plan_id": "fb-1", "action": "enable_fallback", "done": done},
    )
    try:
        text = build_postmortem(store.timeline.path, now=T0 + 60).text
    finally:
        store.close()
    assert "(rollout restart, generation 3)" in text and "resta…" not in text
    assert reasons[0] in text and f"incident “{long_name} — elevated errors on every enrichment endpoint in {cjk}”" in text
    assert "# Postmortem: INC-20260101-0000-" in text and f"Clay incident: {long_name} down\n" in text
    assert "…" not in text


def test_a_real_limit_cuts_at_a_word_with_a_marker() -> None:
    from clay_cockpit.comms.facts import fit

    text = "a very long note from the bridge call " * 20
    cut = fit(text, 120)
    assert len(cut) <= 120 and cut.endswith("bridge call a […]") and text.startswith(cut.removesuffix(" […]"))
    assert fit("Company enrichment", 120) == "Company enrichment"
    cjk = "企业信息补全服务" * 30
    assert fit(cjk, 50) == cjk[:46] + " […]"  # no word boundary: cut at the limit, still marked


def test_the_subcommand_finds_drill_incidents_too(tmp_path, capsys, monkeypatch) -> None:
    """`clay-cockpit postmortem` after a demo: the drills' state dirs are
    searched too, newest first across them; it says which one it took; an
    id works whichever folder holds it."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    from clay_cockpit.config import state_dir

    root = state_dir()
    own = IncidentStore(root, actor="ana@bastion-1", clock=lambda: T0)
    own.declare(Severity.P2, evidence(T0, 5.0))
    own_id = own.incident.id
    own.close()
    drill = IncidentStore(root / "drills" / "clay-outage", actor="ana@bastion-1", clock=lambda: T0 + 3600)
    drill.declare(Severity.P1, evidence(T0 + 3600, 30.0))
    drill_id = drill.incident.id
    drill.close()
    os.utime(root / "incidents" / f"{own_id}.jsonl", (T0, T0))  # written long before the drill's

    assert cmd_postmortem(parse([])) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(f"# Postmortem: {drill_id}")
    assert captured.err.strip() == (
        f"clay-cockpit postmortem: {drill_id} (drill clay-outage) from "
        f"{root / 'drills' / 'clay-outage' / 'incidents'} (DRAFT: the incident is still open)"
    )
    assert cmd_postmortem(parse([own_id[-4:]])) == 0  # an id (part of one) from any of the folders
    assert capsys.readouterr().out.startswith(f"# Postmortem: {own_id}")
    assert cmd_postmortem(parse([drill_id])) == 0
    assert capsys.readouterr().out.startswith(f"# Postmortem: {drill_id}")
    assert cmd_postmortem(parse(["INC-1999"])) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "its drills" in err[0]
    (tmp_path / "file").write_text("x")
    assert cmd_postmortem(parse(["--state-dir", str(tmp_path / "file")])) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_a_verified_action_ticks_what_it_carries_out(tmp_path) -> None:
    """Without the actions desk's own ticks in the timeline, a symptom_ended
    ticks the step-3 items of the runbook actions it carries out (a key
    update with its restart) and the step-2 item of its branch."""
    store = IncidentStore(tmp_path, actor="ana@bastion-1", clock=lambda: T0)
    store.declare(Severity.P1, evidence(T0, 39.0))
    store.set_branch(["credentials"], data=ASSESSMENT)
    store.record(
        EventKind.ACTION_APPLIED, "Applied: Update the key: Secret clay-api", {"plan_id": "k-1", "action": "update_key"}, now=T0 + 60
    )
    store.record(
        EventKind.SYMPTOM_ENDED,
        ENDED,
        {
            "plan_id": "k-1",
            "action": "update_key",
            "runbook": "update_key",
            "symptom": "auth_errors",
            "label": "401s",
            "applied_at": T0 + 90,
            "ended_at": T0 + 210,
            "basis": "logs",
            "evidence": "0 of the last 50 logged calls failed",
            "metrics_agree": None,
            "before": "401 on 100% of calls (39/s)",
            "branch": "credentials",
            "carries": ["restart"],
        },
        now=T0 + 215,
    )
    store.record(
        EventKind.NOTE,
        "Update the key: metrics agree (401 at 0.00/s) at 00:04:10 UTC — 401s stopped at 00:03:30 UTC",
        {"plan_id": "k-1", "symptom": "auth_errors", "metrics_agree": True},
        now=T0 + 250,
    )
    try:
        text = build_postmortem(store.timeline.path, now=T0 + 300).text
    finally:
        store.close()
    assert (
        "- 00:04:10 UTC **note** — Update the key: metrics agree (401 at 0.00/s) at 00:04:10 UTC — 401s stopped at 00:03:30 UTC"
        in text.split("## Actions")[1].split("## Runbook")[0]
    )  # the metrics catching up, with the action
    for item in (
        "401/403: update the key if it was rotated",
        "401/403: restart the pods",
        "Clay errors, no Clay incident → check our credentials and config",
    ):
        assert f"- [x] {item} (00:03:30 UTC, verified — {ENDED})" in text
    assert "- [ ] 401/403: verify the API key in the Secret" in text


def test_a_severity_triage_raised_after_it_was_accepted(tmp_path) -> None:
    """Accepted at P3, raised by triage to P2, offered P3 again: the document
    says P2 was in force with P2's target, and how it got there."""
    store = IncidentStore(tmp_path, actor="ana@bastion")
    store.declare(Severity.P3, now=T0)
    store.accept_severity(now=T0 + 10)
    store.suggest(Severity.P2, reasons="429 on 45% of calls", now=T0 + 30)
    store.suggest(Severity.P3, reasons="429 on 10% of calls", now=T0 + 90)  # a lower one is only offered
    try:
        pm = build_postmortem(store.timeline.path, now=T0 + 120)
    finally:
        store.close()
    assert "- **Chosen:** P3 (Minor impact), accepted the suggestion; later raised to P2 by triage" in pm.text
    assert "- **Response target at P2:** < 1 hour" in pm.text


def test_background_clay_errors_are_no_first_sign(tmp_path) -> None:
    """A bad deploy of our own: Clay's error rate hovers at 0.05/s the whole
    time (background, below triage's noise floor). The impact starts at the
    first notable moment (triage's branch change), not at "Clay errors rose
    to 0.005/s", and the evidence line says the errors were background."""
    before = [
        {
            "kind": "branch_changed",
            "at": T0 - 40,
            "summary": "Triage: Branch: Healthy → Infrastructure (P2)",
            "data": {"after": {"branch": "infrastructure", "severity": "P2"}},
        },
    ]

    def noise(t: float) -> float:
        return 0.05 if int(t) % 30 else 0.02

    store = IncidentStore(tmp_path, actor="ana@bastion-1", clock=lambda: T0)
    data = evidence(T0, 0.05) | {"before": before}
    data["metrics"]["history"] = history(T0, noise)
    store.declare(Severity.P2, data)
    try:
        text = build_postmortem(store.timeline.path, now=T0 + 60).text
    finally:
        store.close()
    assert "Clay errors rose" not in text, text
    assert "- **From:** 2025-12-31 23:59:20 UTC — Branch: Healthy → Infrastructure (P2) (the first sign in the evidence" in text, text
    assert "Clay errors stayed at background level in the 1 evidence snapshots (at most 0.05/s, below the 0.1/s" in text, text
