"""A team runbook's two rule kinds beyond needs_commander (issue 18), and its
time zone:

- ``update_within`` ("P1 needs a status page update within 10 minutes"):
  read with one-line errors; its clock starts when the incident reaches the
  severity (declared at it, or raised to it), is met only by an update on its
  channel from then on, ends when the severity drops below it, and starts
  afresh when reached again; the top bar counts down to it and says "late"
  past it; the postmortem's reading of a whole timeline names every spell;
- ``first`` ("fallback first for tables endpoints"): triage leads with its
  action while logged Clay calls to the endpoints fail (moved, or added when
  the branch lacks it), never when other endpoints fail;
- ``timezone``: needs_commander's hours are judged in it.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest
import test_comms_cadence as cadence

from clay_cockpit.comms.rules import RuleState, rule_clocks
from clay_cockpit.comms.state import Channel, CommsLog, next_update_due
from clay_cockpit.config import config_from_toml
from clay_cockpit.incident.timeline import EventKind, read
from clay_cockpit.paths import ConfigError
from clay_cockpit.runbook import Severity
from clay_cockpit.runbook_file import ActionId, Constraint, load_runbook, refusal, shipped_path
from clay_cockpit.signals import LogLine, Signals
from clay_cockpit.sim import wiring
from clay_cockpit.triage import tree
from clay_cockpit.triage.logs import endpoint_of, log_evidence
from clay_cockpit.widgets.cadence import cadence_content

SHIPPED = Path(shipped_path()).read_text()
T0, sent = cadence.T0, cadence.sent  # 2026-01-01 00:00 UTC; what Comms records when an update went out
clock, store = cadence.clock, cadence.store  # the fixtures: a fake clock, and an IncidentStore on it

PAGE_RULE = """
[[constraints]]
kind = "update_within"
severity = "P1"
channel = "status_page"
minutes = 10
why = "customers check the page first"
"""


def runbook(tmp_path: Path, extra: str):
    path = tmp_path / "team.toml"
    path.write_text(SHIPPED.replace("notes = []", "notes = []\n" + extra, 1))
    return load_runbook(str(path))


def error(tmp_path: Path, extra: str) -> str:
    with pytest.raises(ConfigError) as exc:
        runbook(tmp_path, extra)
    return str(exc.value)


# -- reading -------------------------------------------------------------------------------


def test_the_rules_are_read_and_described(tmp_path: Path) -> None:
    rb = runbook(
        tmp_path,
        PAGE_RULE
        + '\n[[constraints]]\nkind = "first"\naction = "enable_fallback"\nendpoints = ["/v1/tables/*"]\nwhy = "tables feed the CRM"\n',
    )
    page, first = rb.constraints
    assert page == Constraint(
        "update_within", severity=Severity.P1, channel="status_page", minutes=10.0, why="customers check the page first"
    )
    assert page.describe() == "P1 needs a status page update within 10 min: customers check the page first"
    assert first.describe() == "enable_fallback first while Clay calls to /v1/tables/* fail: tables feed the CRM"
    assert first.matches("/v1/tables/rows") and not first.matches("/v1/people/enrich")
    slack = Constraint("update_within", severity=Severity.P2, channel="slack", minutes=30.0)
    assert slack.describe() == "P2 or worse needs a stakeholder (Slack) update within 30 min"
    assert slack.covers(Severity.P1) and slack.covers(Severity.P2) and not slack.covers(Severity.P3)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            'kind = "update_within"\nseverity = "P5"\nchannel = "slack"\nminutes = 10',
            "constraints[0].severity: expected one of P1, P2, P3, P4, found string 'P5'",
        ),
        (
            'kind = "update_within"\nseverity = "P1"\nchannel = "email"\nminutes = 10',
            "constraints[0].channel: expected one of slack, status_page, found string 'email'",
        ),
        (
            'kind = "update_within"\nseverity = "P1"\nchannel = "slack"\nminutes = 0',
            "constraints[0].minutes: expected a number of minutes from 1 to 1440, found number 0",
        ),
        (
            'kind = "update_within"\nseverity = "P1"\nchannel = "slack"\nminutes = "10"',
            "constraints[0].minutes: expected a number of minutes from 1 to 1440, found string '10'",
        ),
        ('kind = "update_within"\nseverity = "P1"\nchannel = "slack"', "constraints[0].minutes: expected a value for minutes"),
        (
            'kind = "update_within"\nseverity = "P1"\nchannel = "slack"\nminutes = 5\naction = "restart"',
            "constraints[0].action: expected one of kind, severity, channel, minutes, why, found unknown key",
        ),
        ('kind = "first"\naction = "enable_fallback"\nendpoints = []', "constraints[0].endpoints: expected at least one path or glob"),
        (
            'kind = "first"\naction = "enable_fallback"\nendpoints = ["tables"]',
            'constraints[0].endpoints[0]: expected a Clay API path or glob, from its "/" ("/v1/tables/*"), found string \'tables\'',
        ),
        ('kind = "first"\naction = "fallback"\nendpoints = ["/v1/*"]', "constraints[0].action: expected one of verify_key"),
        ('kind = "first"\naction = "enable_fallback"', "constraints[0].endpoints: expected a value for endpoints"),
        (
            'kind = "needs_commander"\naction = "watch_clay_status"\nhours = "09:00-18:00"',
            "constraints[0].action: expected an action the cockpit carries out (verify_key, update_key, restart, rollback,"
            " enable_queuing, enable_fallback, scale), found string 'watch_clay_status'",
        ),
    ],
)
def test_a_bad_rule_is_one_line_naming_the_key(tmp_path: Path, rule: str, message: str) -> None:
    said = error(tmp_path, "\n[[constraints]]\n" + rule + "\n")
    assert said.startswith(f"{tmp_path / 'team.toml'}: {message}"), said
    assert "\n" not in said


def test_a_time_zone_is_an_iana_name(tmp_path: Path) -> None:
    said = error(tmp_path, 'timezone = "Mars/Olympus"\n')
    assert said.endswith(
        'timezone: expected an IANA time zone name ("Europe/Berlin", "America/New_York", "UTC"), found string \'Mars/Olympus\''
    )


def test_needs_commander_hours_are_judged_in_the_runbooks_time_zone(tmp_path: Path) -> None:
    rule = '\n[[constraints]]\nkind = "needs_commander"\naction = "restart"\nhours = "09:00-17:00"\n'
    ny = runbook(tmp_path, 'timezone = "America/New_York"\n' + rule)
    monday_14_utc = datetime(2026, 12, 7, 14, 0, tzinfo=UTC).timestamp()  # 09:00 in New York: inside
    monday_13_utc = datetime(2026, 12, 7, 13, 59, tzinfo=UTC).timestamp()  # 08:59 in New York: outside
    said = refusal(ny, ActionId.RESTART, monday_14_utc, "bob", "")
    assert said is not None and "09:00-17:00 (mon, tue, wed, thu, fri) America/New_York" in said
    assert refusal(ny, ActionId.RESTART, monday_13_utc, "bob", "") is None
    utc = dataclasses.replace(ny, timezone="UTC")
    assert refusal(utc, ActionId.RESTART, monday_13_utc, "bob", "") is not None  # 13:59 UTC is inside in UTC


# -- update_within: the clock ---------------------------------------------------------------


RULE = Constraint("update_within", severity=Severity.P1, channel="status_page", minutes=10.0)


def test_the_clock_starts_when_p1_is_reached_and_only_a_page_update_meets_it(store, clock) -> None:
    store.declare(Severity.P2)
    log = CommsLog()
    log.sync(store)
    assert log.rule_clocks([RULE], ["internal", "external"]) == []  # P2: the P1 rule is not in force
    clock.now = T0 + 100
    store.set_severity(Severity.P1)  # raised: the clock starts now
    clock.now = T0 + 200
    sent(store, "internal")  # a Slack update does not meet a status page rule
    (c,) = log.sync(store).rule_clocks([RULE], ["internal", "external"])
    assert (c.start, c.due, c.met_at, c.channel) == (T0 + 100, T0 + 700, None, "external")
    assert (c.state(T0 + 200), c.text(T0 + 200)) == (RuleState.WAITING, "page due in 8:20")
    assert c.state(T0 + 600) == RuleState.SOON  # the last 2 minutes
    assert (c.state(T0 + 760), c.text(T0 + 760)) == (RuleState.LATE, "page late 1:00")
    assert log.rule_clocks([RULE], ["internal"]) == []  # the status page is not configured: no clock
    # the top bar: the rule speaks for the page, the cadence for Slack
    cads = [next_update_due(store.incident, log, T0 + 200, channel=ch) for ch in (Channel.INTERNAL, Channel.EXTERNAL)]
    assert cadence_content(cads, T0 + 200, [c]).plain == "✉ page due in 8:20 · update in 15:00"
    # the shipped runbook: no rule, the page was due at the declaration (P1's grace is 3 min)
    assert cadence_content(cads, T0 + 200).plain == "✉ update in 15:00 · page overdue"

    clock.now = T0 + 400
    sent(store, "external")
    (c,) = log.sync(store).rule_clocks([RULE], ["external"])
    assert (c.met_at, c.state(T0 + 900), c.text(T0 + 900)) == (T0 + 400, RuleState.MET, "")
    assert c.sentence(T0 + 900).endswith("— met: sent 5:00 after it applied")


def test_a_rule_ends_when_the_severity_drops_and_starts_afresh(store, clock) -> None:
    store.declare(Severity.P1)
    clock.now = T0 + 300
    store.set_severity(Severity.P2)  # dropped before the deadline, nothing sent
    clock.now = T0 + 1000
    store.set_severity(Severity.P1)  # again: a fresh clock
    clock.now = T0 + 1900
    store.record(EventKind.STATUS_CHANGED, "resolved", {"from": "investigating", "to": "resolved"})
    spells = rule_clocks(read(store.timeline.path).events, [RULE])
    assert [(c.start, c.until, c.state(T0 + 5000)) for c in spells] == [
        (T0, T0 + 300, RuleState.ENDED),
        (T0 + 1000, T0 + 1900, RuleState.LATE),
    ]
    assert spells[1].sentence(T0 + 5000).endswith("— missed: nothing sent in the 15:00 it applied")
    p2_or_worse = dataclasses.replace(RULE, severity=Severity.P2)
    (whole,) = rule_clocks(read(store.timeline.path).events, [p2_or_worse])  # P1 and P2 are both "P2 or worse"
    assert (whole.start, whole.until) == (T0, T0 + 1900)


# -- first -------------------------------------------------------------------------------


def calls(endpoint: str, code: int, n: int, t0: float = T0) -> tuple[LogLine, ...]:
    return tuple(
        LogLine(
            "clay-enricher-0",
            f'level=warn msg="clay call" method=POST endpoint={endpoint} status={code} duration_ms=80',
            datetime.fromtimestamp(t0 + i, UTC),
        )
        for i in range(n)
    )


def test_failed_calls_are_counted_by_endpoint_from_the_fields_real_logs_use() -> None:
    assert endpoint_of({"endpoint": "/v1/tables/rows"}) == "/v1/tables/rows"
    assert endpoint_of({"url": "https://api.clay.com/v1/tables/rows?x=1"}) == "/v1/tables/rows"
    assert endpoint_of({"path": "/v1/people/enrich#a"}) == "/v1/people/enrich"
    assert endpoint_of({"route": "tables"}) == ""  # not a path
    lines = calls("/v1/tables/rows", 401, 6) + calls("/v1/people/enrich", 401, 2, T0 + 1) + calls("/v1/people/enrich", 200, 3, T0 + 2)
    ev = log_evidence(lines)
    assert ev is not None and ev.failed_endpoints == (("/v1/tables/rows", 6), ("/v1/people/enrich", 2))


def assessed(lines: tuple[LogLine, ...], rules: tuple[Constraint, ...], monkeypatch) -> tree.Assessment:
    monkeypatch.setattr(tree, "RUNBOOK", dataclasses.replace(tree.RUNBOOK, constraints=rules))
    config = config_from_toml(wiring.drill_config({name: "http://127.0.0.1:1" for name in wiring.SERVICES}, "kubeconfig"), "drill.toml")
    now = lines[-1].ts.timestamp() if lines[-1].ts else T0
    signals = Signals(recent_logs=lines, at=now)
    return tree.assess(signals, config.thresholds, now)


FIRST = Constraint("first", ActionId.ENABLE_FALLBACK, endpoints=("/v1/tables/*",), why="tables feed the CRM")


def test_first_leads_with_its_action_while_the_endpoints_fail(monkeypatch) -> None:
    tables = calls("/v1/tables/rows", 401, 40)  # a second apart: 16 in the logs' 15 s window
    shipped = assessed(tables, (), monkeypatch)
    assert shipped.branch.value == "credentials" and [a.id for a in shipped.actions][:1] == [ActionId.VERIFY_KEY]
    team = assessed(tables, (FIRST,), monkeypatch)
    ids = [a.id for a in team.actions]
    assert ids[0] == ActionId.ENABLE_FALLBACK and ids[1:] == [a.id for a in shipped.actions]  # added in front, the rest in order
    assert team.next is not None and team.next.id == ActionId.ENABLE_FALLBACK
    assert team.next.why == "the runbook: first while calls to /v1/tables/* fail (tables feed the CRM)"
    assert any("Runbook: enable_fallback first — Clay calls to /v1/tables/rows (16 failed) fail" in r.text for r in team.top.reasons)
    people = assessed(calls("/v1/people/enrich", 401, 40), (FIRST,), monkeypatch)
    assert [a.id for a in people.actions] == [a.id for a in shipped.actions]  # other endpoints: the branch's order
    two = assessed(calls("/v1/people/enrich", 401, 30) + calls("/v1/tables/rows", 401, 2, T0 + 30), (FIRST,), monkeypatch)
    assert [a.id for a in two.actions] == [a.id for a in shipped.actions]  # two failed calls are not enough to speak


def test_the_postmortem_says_each_spell_met_or_missed(store, clock, monkeypatch) -> None:
    from clay_cockpit.incident import postmortem

    store.declare(Severity.P1)
    clock.now = T0 + 240
    sent(store, "external")  # met, 4 min in
    clock.now = T0 + 600
    store.set_severity(Severity.P2)
    clock.now = T0 + 1200
    store.set_severity(Severity.P1)  # again, and nothing sent before the resolution 20 min later
    clock.now = T0 + 2400
    store.record(EventKind.STATUS_CHANGED, "resolved", {"from": "investigating", "to": "resolved"})
    path = store.timeline.path
    assert "Runbook rules" not in postmortem.build_postmortem(path, now=T0 + 3000).text  # the shipped runbook has none
    monkeypatch.setattr(postmortem, "RUNBOOK", dataclasses.replace(postmortem.RUNBOOK, constraints=(RULE,)))
    text = postmortem.build_postmortem(path, now=T0 + 3000).text
    part = text.split("### Runbook rules\n\n", 1)[1].split("\n\n", 1)[0]
    assert part.splitlines() == [
        "- 00:00:00 UTC — the runbook: P1 needs a status page update within 10 min — met: sent 4:00 after it applied",
        "- 00:20:00 UTC — the runbook: P1 needs a status page update within 10 min — missed: nothing sent in the 20:00 it applied",
    ]


def test_the_actions_a_commander_rule_can_hold_back_are_the_desks() -> None:
    from clay_cockpit.runbook_file import DESK_ACTIONS
    from clay_cockpit.screens.actions_draw import ROWS

    assert set(DESK_ACTIONS) == {r.runbook.value for r in ROWS}


def test_check_says_which_runbook_and_warns_when_a_page_rule_has_no_status_page(monkeypatch) -> None:
    from clay_cockpit import runbook
    from clay_cockpit.check.report import runbook_row
    from clay_cockpit.check.rows import Status

    config = config_from_toml(wiring.drill_config({name: "http://127.0.0.1:1" for name in wiring.SERVICES}, "kubeconfig"), "drill.toml")
    row = runbook_row(config)
    assert (row.name, row.status, row.detail) == ("runbook", Status.OK, f"{runbook.RUNBOOK.source} (the shipped one)")
    monkeypatch.setattr(runbook, "RUNBOOK", dataclasses.replace(runbook.RUNBOOK, constraints=(RULE,)))
    assert config.external_status.page_id  # the drill's config has a status page: the rule can be kept
    assert runbook_row(config).status is Status.OK and runbook_row(config).detail.endswith(", 1 constraint(s)")
    bare = dataclasses.replace(config, external_status=dataclasses.replace(config.external_status, page_id=""))
    row = runbook_row(bare)
    assert row.status is Status.WARN and "names the status page, and the config has no external_status.page_id" in row.detail
    assert row.hint.startswith("set [external_status] page_id")
