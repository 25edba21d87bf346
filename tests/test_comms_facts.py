"""Drafts from the facts as they are now, on hand-written timelines with the
actions desk's events (docs/events.md: ``symptom_ended`` /
``symptom_persists``): the impact now and at its peak with the numbers
(from the series the error-rate pane draws), what was done and whether it
worked, what is being watched, the status page's status following the
incident; an edited draft kept, with what changed since; whole texts, long
and CJK names included; the metric histories on the cockpit's clock.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clay_cockpit.comms.context import message_values
from clay_cockpit.comms.core import Channel, Comms
from clay_cockpit.config import config_from_toml
from clay_cockpit.incident.lifecycle import IncidentStore
from clay_cockpit.incident.metrics_history import SeriesBook, history_points, metrics_history
from clay_cockpit.incident.timeline import EventKind
from clay_cockpit.runbook import Severity
from clay_cockpit.signals import InEffect, MetricsSnapshot, Reading, Series, Signals
from clay_cockpit.sim import wiring

T0 = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC
REAL = Path(__file__).parent / "fixtures" / "real"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def rate_401(t: float) -> float:
    """401s from -50 s, 39/s with a 41/s spike at +0:30, gone from +3:30."""
    if t < T0 - 50 or t >= T0 + 210:
        return 0.0
    return 41.0 if t == T0 + 30 else 39.0 if t < T0 + 180 else 12.0


def series(at: float) -> tuple[Series, ...]:
    """What the metrics source hands the pane at ``at``: 15 min of points at 15 s."""
    times = [at - 900 + 15 * i for i in range(61)]
    return (
        Series(
            "errors_by_code:401",
            "errors_by_code",
            "Clay 401",
            "req/s",
            (("code", "401"),),
            rate_401(at),
            tuple((t, rate_401(t)) for t in times),
        ),
        Series("request_rate", "request_rate", "Clay requests", "req/s", (), 39.0, tuple((t, max(39.0, rate_401(t))) for t in times)),
        Series("latency_p95", "latency_p95", "Clay p95", "ms", (), 120.0, tuple((t, 120.0) for t in times)),
    )


def signals(at: float, *, in_effect: tuple[InEffect, ...] = ()) -> Signals:
    m = MetricsSnapshot(series(at), "http://127.0.0.1:9090", False, at, 12.0)
    return Signals(metrics=Reading(m, None, at, at), in_effect=in_effect, at=at)


def evidence(at: float) -> dict:
    from clay_cockpit.incident.evidence import signals_evidence

    return signals_evidence(signals(at))


ASSESSMENT = {
    "branch": "credentials",
    "severity": "P1",
    "confidence": "high",
    "headline": "Credentials: Clay answers 401 to every call — P1",
    "findings": [
        {
            "branch": "credentials",
            "label": "Credentials",
            "title": "Clay answers 401 to every call",
            "errors": ["auth"],
            "reasons": [{"text": "401 at 39/s — 100% of 39/s Clay calls, for 60 s"}],
            "actions": [
                {"id": "verify_key", "text": "Verify the Clay API key in the Secret"},
                {"id": "update_key", "text": "Update the key if it was rotated"},
                {"id": "restart", "text": "Restart the pods"},
            ],
        }
    ],
}
ENDED = "Mitigated: 401s stopped at 00:03:30 (0 of the last 50 logged calls failed; metrics agree)"


@pytest.fixture
def world(tmp_path):
    clock = Clock()
    store = IncidentStore(tmp_path / "state", actor="ana@bastion-1", clock=clock)
    store.declare(Severity.P1, evidence(T0))
    store.set_branch(["credentials"], data=ASSESSMENT)
    config = config_from_toml(wiring.drill_config({n: "http://127.0.0.1:1" for n in wiring.SERVICES}, tmp_path / "kc"), "drill.toml")
    comms = Comms(config, store, clock=clock)
    yield store, clock, comms
    store.close()


def apply_key_update(store: IncidentStore, clock: Clock) -> None:
    clock.now = T0 + 120
    plan = {"plan_id": "p-1", "action": "update_key", "runbook": "update_key", "title": "Update the Clay API key: Secret clay-api"}
    store.record(EventKind.ACTION_PLANNED, "Confirmed: Update the Clay API key: Secret clay-api (name typed)", plan)
    store.record(EventKind.ACTION_APPLIED, "Applied: Update the Clay API key: Secret clay-api", {"plan_id": "p-1", "action": "update_key"})
    clock.now = T0 + 150
    store.record(
        EventKind.ACTION_VERIFIED,
        "Update the Clay API key: Secret clay-api: done — Clay answers 200 to the new key",
        {"plan_id": "p-1", "action": "update_key", "verification": {"state": "ok", "summary": "Clay answers 200 to the new key"}},
    )


def symptom(store: IncidentStore, clock: Clock, kind: EventKind, summary: str, *, at: float, ended_at: float | None) -> None:
    clock.now = at
    store.record(
        kind,
        summary,
        {
            "plan_id": "p-1",
            "action": "update_key",
            "runbook": "update_key",
            "symptom": "auth_errors",
            "label": "401s",
            "applied_at": T0 + 150,
            "ended_at": ended_at,
            "basis": "logs+metrics",
            "evidence": "0 of the last 50 logged calls failed",
            "metrics_agree": True,
            "before": "401 on 100% of calls (39/s)",
        },
    )


def test_before_any_action_the_draft_says_what_is_happening_now(world) -> None:
    store, clock, comms = world
    clock.now = T0 + 60
    draft = comms.draft(Channel.INTERNAL, assessment=ASSESSMENT, signals=signals(T0 + 60))
    text = draft.text
    assert "*Impact:* 100% of Clay calls fail (39 of 39/s); the most errors were at 00:00 UTC: 41 of 41 Clay calls/s failed (100%)" in text
    assert "*Current action:* Verify the Clay API key in the Secret" in text
    assert "*Done so far:*\n• no remediation applied yet" in text
    assert "*Next update:* by 00:16 UTC (in 15 min)" in text
    page = comms.draft(Channel.EXTERNAL, assessment=ASSESSMENT, signals=signals(T0 + 60))
    assert page.status == "investigating" and page.text.startswith("We are investigating")
    at_peak = comms.draft(Channel.INTERNAL, assessment=ASSESSMENT, signals=signals(T0 + 30)).text
    assert "*Impact:* 100% of Clay calls fail (41 of 41/s), the most so far\n" in at_peak


def test_after_the_symptom_ended_the_drafts_say_so(world) -> None:
    """The numbers of the moment, the action that worked, what is watched;
    the status page draft moves to monitoring in customers' words."""
    store, clock, comms = world
    apply_key_update(store, clock)
    applying = comms.draft(Channel.INTERNAL, assessment=ASSESSMENT, signals=signals(T0 + 160))
    assert "*Current action:* Update the Clay API key: Secret clay-api is in place; following whether the errors stop" in applying.text
    assert "*Watching:*\n• whether the errors stop after Update the Clay API key: Secret clay-api (applied 00:02 UTC)" in applying.text
    symptom(store, clock, EventKind.SYMPTOM_ENDED, ENDED, at=T0 + 240, ended_at=T0 + 210)
    clock.now = T0 + 300
    live = signals(T0 + 300, in_effect=(InEffect("update_key", "new key in Secret clay-api (sha256:9f8e7d6c5b4a)", T0 + 150),))
    healthy = {
        "branch": "healthy",
        "confidence": "high",
        "headline": "Healthy: Clay and our service look normal",
        "findings": [{"branch": "healthy", "label": "Healthy", "title": "Clay and our service look normal", "reasons": []}],
    }
    text = comms.draft(Channel.INTERNAL, assessment=healthy, signals=live).text
    assert text.startswith("P1 · Investigating — Credentials: Clay answers 401 to every call\n")  # the cause, not "healthy"
    assert "*Impact:* no Clay errors (39 calls/s); the most errors were at 00:00 UTC: 41 of 41 Clay calls/s failed (100%)" in text
    assert "*Current action:* monitoring: 401s ended at 00:03:30 UTC after Update the Clay API key: Secret clay-api" in text
    assert f"• 00:02 UTC — Update the Clay API key: Secret clay-api: worked — {ENDED}" in text
    assert (
        "*Watching:*\n• 401s: gone since 00:03:30 UTC — that it stays gone\n"
        "• in place: new key in Secret clay-api (sha256:9f8e7d6c5b4a) (since 00:02 UTC)"
    ) in text
    assert "• Update the key if it was rotated" not in text.split("*Next steps:*")[1]  # done: not offered again
    assert "investigating" not in text.lower().split("\n", 1)[1]

    page = comms.draft(Channel.EXTERNAL, assessment=healthy, signals=live)
    assert page.status == "monitoring" and not page.status_set
    assert page.text.startswith("A fix has been put in place and we are monitoring the results. Features should be working normally again.")
    assert "investigating" not in page.text.lower() and page.components == (("drillcomp01", "operational"),)
    assert comms.check(page) == ()  # customers' words: no internal names or numbers


def test_a_fix_that_did_not_work_is_said_so(world) -> None:
    store, clock, comms = world
    apply_key_update(store, clock)
    persists = "Update the Clay API key: Secret clay-api: done, symptom persists — 401 on 98% of calls (38/s): the fix did not work"
    symptom(store, clock, EventKind.SYMPTOM_PERSISTS, persists, at=T0 + 400, ended_at=None)
    text = comms.draft(Channel.INTERNAL, assessment=ASSESSMENT, signals=signals(T0 + 170)).text
    assert (
        "*Current action:* Update the Clay API key: Secret clay-api did not work (401s persists); next: Verify the Clay API key in the Secret"
        in text
    )
    assert f"• 00:02 UTC — Update the Clay API key: Secret clay-api: did not work — {persists}" in text
    assert comms.draft(Channel.EXTERNAL, assessment=ASSESSMENT).status == "investigating"


def test_resolved_drafts(world) -> None:
    store, clock, comms = world
    apply_key_update(store, clock)
    symptom(store, clock, EventKind.SYMPTOM_ENDED, ENDED, at=T0 + 240, ended_at=T0 + 210)
    clock.now = T0 + 600
    store.set_status("resolved")
    text = comms.draft(Channel.INTERNAL, assessment=ASSESSMENT).text
    assert text.startswith("P1 · Resolved — ") and "*Current action:* none: resolved at 00:10 UTC" in text
    assert "*Next update:* none: the incident is resolved, this is the last update" in text
    assert "*Watching:*\n• nothing more: the incident is resolved" in text and "*Next steps:*\n• none: the incident is resolved" in text
    page = comms.draft(Channel.EXTERNAL, assessment=ASSESSMENT)
    assert page.status == "resolved" and page.text.startswith("This incident has been resolved")


def test_an_edited_draft_is_kept_and_says_what_changed(world) -> None:
    store, clock, comms = world
    opened = comms.opened(Channel.EXTERNAL, assessment=ASSESSMENT)
    assert opened.changed == () and opened.draft.status == "investigating"
    mine = opened.draft.with_text("We are looking into failing requests. Typed by hand.")
    assert comms.save(mine).ok
    apply_key_update(store, clock)
    symptom(store, clock, EventKind.SYMPTOM_ENDED, ENDED, at=T0 + 240, ended_at=T0 + 210)
    again = comms.opened(Channel.EXTERNAL, assessment=ASSESSMENT)
    assert again.draft.text == mine.text and again.draft.id == mine.id  # nothing typed is lost
    assert "what was done" in again.changed and "the status customers should see" in again.changed
    fresh = comms.opened(Channel.EXTERNAL, force=True, assessment=ASSESSMENT)  # ctrl+n: from the template, with the facts now
    assert fresh.draft.status == "monitoring" and fresh.changed == ()


def test_an_unedited_draft_is_made_again_and_a_chosen_status_is_kept(world) -> None:
    store, clock, comms = world
    first = comms.opened(Channel.EXTERNAL, assessment=ASSESSMENT).draft
    assert comms.save(first).ok
    apply_key_update(store, clock)
    symptom(store, clock, EventKind.SYMPTOM_ENDED, ENDED, at=T0 + 240, ended_at=T0 + 210)
    later = comms.opened(Channel.EXTERNAL, assessment=ASSESSMENT)
    assert later.draft.id == first.id and later.draft.status == "monitoring" and later.changed == ()  # regenerated
    chosen = comms.restatus(later.draft, "identified", assessment=ASSESSMENT)
    assert chosen.status_set and comms.save(chosen).ok
    kept = comms.opened(Channel.EXTERNAL, assessment=ASSESSMENT)
    assert kept.draft.status == "identified" and kept.draft.text.startswith("We have identified the cause")
    assert kept.changed == ("the status customers should see (now monitoring; you chose identified)",)


def test_long_and_cjk_names_reach_the_messages_whole(world) -> None:
    """Real long component names (tests/fixtures/real) and a CJK one, in
    the reasons and Clay's incident, are whole in the draft and in the
    Slack blocks; only Slack's own limits cut, at a word, marked."""
    store, clock, comms = world
    names = [
        c["name"]
        for name in ("statuspage-incidents-2019-format.json", "statuspage-summary-incident.json")
        for c in _components(json.loads((REAL / name).read_text()))
    ]
    long_name = max(names, key=len)
    cjk = "企业信息补全服务（中国区）"
    reason = f"Clay components: API major outage, {long_name} major outage, {cjk} partial outage, Company enrichment major outage"
    a = {**ASSESSMENT, "findings": [{**ASSESSMENT["findings"][0], "reasons": [{"text": reason}]}]}
    store.record(
        EventKind.CLAY_INCIDENT_APPEARED,
        f"Clay incident appeared: {long_name} — {cjk}",
        {"name": f"{long_name}: elevated errors on every enrichment endpoint — {cjk}", "status": "investigating"},
    )
    values = message_values(store.incident, store.events(), now=T0 + 60, assessment=a)
    assert values["reasons"] == f"• {reason}"
    whole = f"{long_name}: elevated errors on every enrichment endpoint — {cjk}"
    assert values["clay_status"] == f"Clay's status page: incident “{whole}” (investigating)"
    draft = comms.draft(Channel.INTERNAL, assessment=a)
    assert reason in draft.text and "…" not in draft.text
    update, _ = comms.slack_messages(draft)
    sections = "\n".join(b["text"]["text"] for b in update.blocks if b["type"] == "section")
    assert reason in sections and cjk in sections


def _components(page: dict) -> list[dict]:
    out = list(page.get("components") or [])
    for incident in page.get("incidents") or []:
        out += incident.get("components") or []
        for update in incident.get("incident_updates") or []:
            out += update.get("affected_components") or []
    return out


def test_now_said_with_the_same_numbers_as_the_peak_is_not_repeated() -> None:
    from clay_cockpit.comms.facts import impact_texts

    book = SeriesBook()
    for at, errors in ((T0, 41.0), (T0 + 60, 40.8)):  # both said "41"
        book.add_instant("Clay 401", "req/s", at, errors)
        book.add_instant("Clay requests", "req/s", at, 41.0)
    assert (
        impact_texts(ASSESSMENT, ASSESSMENT, book, signals_live=True)[2]
        == "100% of Clay calls fail (41 of 41/s), as at its peak (00:00 UTC)"
    )
    book.add_instant("Clay 401", "req/s", T0 + 120, 30.0)
    book.add_instant("Clay requests", "req/s", T0 + 120, 41.0)
    assert impact_texts(ASSESSMENT, ASSESSMENT, book, signals_live=False)[2] == (
        "73% of Clay calls fail (30 of 41/s) at 00:02 UTC; the most errors were at 00:00 UTC: 41 of 41 Clay calls/s failed (100%)"
    )


def test_the_peak_is_the_one_the_pane_drew() -> None:
    """A history recorded with each snapshot puts the 41/s spike between
    two snapshots into the book; instants alone would say 39/s."""
    book = SeriesBook()
    for at in (T0, T0 + 60, T0 + 120):
        book.add_evidence(evidence(at), at)
    peak = book.peak()
    assert peak is not None and (peak.at, peak.errors, peak.calls) == (T0 + 30, 41.0, 41.0)
    assert book.error_series().keys() == {"Clay 401"}
    only_instants = SeriesBook()
    for at in (T0, T0 + 60, T0 + 120):
        data = evidence(at)
        del data["metrics"]["history"]
        only_instants.add_evidence(data, at)
    assert only_instants.peak().errors == 39.0


def test_a_fast_drill_is_read_on_the_cockpit_clock() -> None:
    """At --speed 4 Prometheus' times run four times faster than the
    incident's; each reading is anchored when the cockpit took it and read
    at the measured speed (or the one recorded)."""

    def reading(cockpit_at: float) -> dict:
        server_at = T0 + 4 * (cockpit_at - T0)
        s = Series(
            "errors_by_code:503",
            "errors_by_code",
            "Clay 503",
            "req/s",
            (("code", "503"),),
            9.0,
            tuple((server_at - 60 + 15 * i, 9.0 if i == 2 else 1.0) for i in range(5)),
        )
        return {
            "signals_at": cockpit_at,
            "metrics": {"updated_at": cockpit_at, "values": {"Clay 503": [1.0, "req/s"]}, "history": metrics_history([s])},
        }

    book = SeriesBook()
    book.add_evidence(reading(T0), T0)
    book.add_evidence(reading(T0 + 60), T0 + 60)
    assert book.speed == pytest.approx(4.0)
    times = [t for t, _ in book.series("Clay 503")]
    assert max(times) == pytest.approx(T0 + 60) and min(times) == pytest.approx(T0 - 15)  # 60 s of the drill = 15 s of ours
    assert book.peak().at == pytest.approx(T0 + 60 - 7.5)
    recorded = SeriesBook()
    recorded.add_evidence(reading(T0) | {"clock_speed": 4.0}, T0)  # one snapshot: the speed the cockpit recorded
    assert recorded.speed == 4.0 and min(t for t, _ in recorded.series("Clay 503")) == pytest.approx(T0 - 15)


def test_history_survives_the_timelines_size_cap() -> None:
    """The timeline shortens long lists from the front; times count back
    from the newest point, so what is left keeps its times."""
    s = Series("errors_by_code:401", "errors_by_code", "Clay 401", "req/s", (), 1.0, tuple((T0 + 15 * i, float(i)) for i in range(61)))
    entry = metrics_history([s])["Clay 401"]
    _, whole = history_points(entry)
    _, shortened = history_points({**entry, "v": entry["v"][-20:]})
    assert whole[-20:] == shortened and shortened[-1] == (T0 + 900, 60.0)
    assert len(json.dumps(metrics_history(series(T0)))) < 1500  # small enough for an 8 KB event with the rest of the evidence


def test_without_metrics_the_impact_is_triages_words_now_and_at_worst(tmp_path) -> None:
    """Prometheus never answered: no numbers to quote, so the impact says
    what triage says now and the worst it recorded (never a peak it did
    not measure)."""
    store = IncidentStore(tmp_path, actor="ana@bastion-1", clock=lambda: T0)
    store.declare(Severity.P1, {"signals_at": T0, "metrics": {"error": "unreachable: no Prometheus answered"}})
    store.set_branch(
        ["infrastructure"],
        data={
            "headline": "Infrastructure: 0/3 pods ready — P1",
            "confidence": "high",
            "findings": ["Infrastructure: 0/3 pods ready — P1"],
            "reasons": [],
            "actions": [],
        },
    )
    try:
        values = message_values(store.incident, store.events(), now=T0 + 60)
        assert values["impact"] == "0/3 pods ready"
        healthy = {
            "branch": "healthy",
            "headline": "Healthy: Clay and our service look normal",
            "findings": [{"branch": "healthy", "title": "Clay and our service look normal"}],
        }
        values = message_values(store.incident, store.events(), now=T0 + 60, assessment=healthy)
        assert values["impact"] == "none visible now; at its worst: 0/3 pods ready"
        assert values["impact_now"] == "none visible now" and values["impact_peak"] == "0/3 pods ready"
    finally:
        store.close()


def test_an_action_triage_marks_in_effect_is_not_a_next_step(tmp_path) -> None:
    """The recorder's brief (issue 10) says which actions are in effect
    (``done`` / ``todo``); the full assessment marks them ``done``."""
    store = IncidentStore(tmp_path, actor="ana@bastion-1", clock=lambda: T0)
    store.declare(Severity.P2, {"signals_at": T0})
    store.set_branch(
        ["credentials"],
        data={
            "headline": "Credentials: Clay answers 429 to 40% of calls — P2",
            "confidence": "high",
            "findings": ["Credentials: Clay answers 429 to 40% of calls — P2"],
            "reasons": ["429 at 16/s — 40% of 39/s Clay calls"],
            "actions": ["Read the rate-limit headers", "Enable request queuing"],
            "todo": ["Read the rate-limit headers"],
            "done": [
                {"id": "enable_queuing", "text": "Request queuing on since 00:00", "detail": "CLAY_REQUEST_QUEUING=true", "since": T0}
            ],
        },
    )
    try:
        values = message_values(store.incident, store.events(), now=T0 + 60)
        assert values["next_steps"] == "• Read the rate-limit headers"
        full = {
            "branch": "credentials",
            "findings": [
                {
                    "branch": "credentials",
                    "title": "Clay answers 429 to 40% of calls",
                    "actions": [
                        {"id": "read_rate_limits", "text": "Read the rate-limit headers"},
                        {"id": "enable_queuing", "text": "Enable request queuing", "done": True},
                    ],
                }
            ],
        }
        values = message_values(store.incident, store.events(), now=T0 + 60, assessment=full)
        assert values["next_steps"] == "• Read the rate-limit headers" and values["current_action"] == "Read the rate-limit headers"
    finally:
        store.close()


def test_after_the_symptom_ended_a_lagging_rate_is_said_as_such() -> None:
    """The logs saw the 401s end; the 1-minute rate still shows them for a
    while: the impact says both, never "the most so far"."""
    from clay_cockpit.comms.facts import Outcome, impact_texts

    book = SeriesBook()
    for at, errors in ((T0, 30.0), (T0 + 60, 41.0)):
        book.add_instant("Clay 401", "req/s", at, errors)
        book.add_instant("Clay requests", "req/s", at, 41.0)
    ended = Outcome("plan-1", "Restart the pods", "restart", T0 + 20, T0 + 50, "ended", "Mitigated: 401s stopped", "401s", T0 + 45)
    now, _, line = impact_texts(ASSESSMENT, ASSESSMENT, book, signals_live=True, ended=ended)
    assert line == (
        "401s ended at 00:00:45 UTC (the logs); the 1-minute error rate still shows 100% of Clay calls fail (41 of 41/s); "
        "the most errors were at 00:01 UTC: 41 of 41 Clay calls/s failed (100%)"
    )
    assert "the most so far" not in line
    book.add_instant("Clay 401", "req/s", T0 + 300, 0.0)  # caught up: the numbers alone
    book.add_instant("Clay requests", "req/s", T0 + 300, 41.0)
    assert impact_texts(ASSESSMENT, ASSESSMENT, book, signals_live=True, ended=ended)[0] == "no Clay errors (41 calls/s)"


INFRA = {
    "branch": "infrastructure",
    "severity": "P2",
    "confidence": "high",
    "headline": "Infrastructure: our health endpoint is down — P2",
    "findings": [{"branch": "infrastructure", "label": "Infrastructure", "title": "Our health endpoint is down", "reasons": []}],
}


def test_background_clay_errors_are_not_an_infrastructure_incidents_impact() -> None:
    """A bad deploy of our own: Clay answers as always, with the odd error
    (0.05/s, below triage's noise floor). The impact is our health endpoint
    down, never "Clay calls failed" nor a Clay "peak"."""
    from clay_cockpit.comms.facts import impact_texts

    book = SeriesBook()
    for at, errors in ((T0, 0.05), (T0 + 60, 0.02)):
        book.add_instant("Clay 503", "req/s", at, errors)
        book.add_instant("Clay requests", "req/s", at, 41.0)
    now, worst, line = impact_texts(INFRA, INFRA, book, signals_live=True)
    assert now.startswith("Our health endpoint is down; "), now
    assert worst == "Our health endpoint is down" and "failed" not in line and "the most errors" not in line, line
    healthy = {"branch": "healthy", "findings": []}  # after the rollback: triage healthy, the cause stays the incident's
    _, worst, line = impact_texts(healthy, INFRA, book, signals_live=True)
    assert worst == "Our health endpoint is down" and line.endswith("; at its worst: Our health endpoint is down"), line
    # the same numbers times 100 are Clay's errors and the impact
    big = SeriesBook()
    for at, errors in ((T0, 5.0), (T0 + 60, 2.0)):
        big.add_instant("Clay 503", "req/s", at, errors)
        big.add_instant("Clay requests", "req/s", at, 41.0)
    assert "the most errors were at 00:00 UTC: 5.0 of 41 Clay calls/s failed (12%)" in impact_texts(INFRA, INFRA, big, signals_live=True)[2]
