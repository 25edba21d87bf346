"""The postmortem's page timeline and Grafana links (issue 16, docs/events.md
"The page"): the PagerDuty incident, triggered → acknowledged → mitigated →
resolved with the time each took from the trigger, missing steps said to be
missing, escalations without a routing key, the milestones that reached
PagerDuty and Grafana and those that did not; one Grafana link per
configured dashboard over the incident's range (to=now while open). No page
linked: no section.
"""

from __future__ import annotations

import argparse
import tomllib
from dataclasses import replace

import pytest
import tomli_w

from clay_cockpit.config import Config, config_from_toml, default_toml_text
from clay_cockpit.incident.lifecycle import IncidentStore
from clay_cockpit.incident.postmortem import build_postmortem, secret_env_names
from clay_cockpit.incident.timeline import EventKind
from clay_cockpit.runbook import Severity

T0 = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC
TRIGGERED = T0 - 90  # PagerDuty paged 1:30 before the declaration (23:58:30)
TITLE = "[FIRING] clay-sync: Clay API answers 401 to every enrichment call from clay-sync in eu-west-1 and us-east-1 — page the owner"
REASON = (
    "the cockpit may not roll back the deployment: the Role grants no patch on deployments/clay-sync in namespace clay-sync, "
    "and the platform team owns the rollback of a release that changed the Secret's key"
)
ROUTING_KEY = "R0UT1NGKEY0123456789abcdef01234567"
URL = "https://acme.pagerduty.com/incidents/Q1W2E3R4T5Y6U7"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def config(*, grafana: bool = True, notes: list[str] | None = None) -> Config:
    data = tomllib.loads(default_toml_text())
    if grafana:
        data["grafana"] |= {
            "enabled": True,
            "url": "http://grafana.example:3000/",
            "dashboard_uids": ["clay-sync-overview", "clay-api-errors"],
        }
    if notes is not None:
        data["pagerduty"]["notes"] = notes
    return config_from_toml(data, "x.toml")


def sent(store: IncidentStore, ev, channel: str, milestone: str, ids: list[str]) -> None:
    store.record(
        EventKind.MILESTONE_SENT,
        f"Milestone {milestone} sent to {channel}",
        {"channel": channel, "milestone": milestone, "source_seq": ev.seq, "ids": ids},
    )


def record(
    state_dir,
    *,
    link: bool = True,
    ack: bool = True,
    mitigate: bool = True,
    resolve: bool = True,
    page_resolved: bool = True,
) -> IncidentStore:
    """A key-revoked incident with its page: linked at +0:05, acknowledged
    in the cockpit (PagerDuty says at +0:25), the severity accepted, a key
    update whose 401s ended at +3:30, an escalation at +5:00, resolved at
    +15:00 (PagerDuty saw the page resolved at +15:05). The declaration
    reached both channels, the severity PagerDuty only, the action neither."""
    clock = Clock()
    store = IncidentStore(state_dir, actor="ana@bastion-1", clock=clock)
    store.declare(Severity.P2)
    declared = store.events()[0]
    if link:
        clock.now = T0 + 5
        store.record(
            EventKind.PAGE_LINKED,
            f'Linked to PagerDuty #1042 "{TITLE}" (triggered 23:58:30)',
            {
                "page_id": "Q1W2E3R4T5Y6U7",
                "number": 1042,
                "title": TITLE,
                "service": "clay-sync",
                "urgency": "high",
                "status": "triggered",
                "html_url": URL,
                "triggered_at": TRIGGERED,
            },
        )
        sent(store, declared, "pagerduty", "declared", ["NOTE1"])
    sent(store, declared, "grafana", "declared", ["101", "102"])
    if ack:
        clock.now = T0 + 30
        store.record(
            EventKind.PAGE_ACKNOWLEDGED,
            "Acknowledged PagerDuty #1042",
            {"page_id": "Q1W2E3R4T5Y6U7", "number": 1042, "acknowledged_at": T0 + 25, "by": "cockpit"},
        )
        clock.now = T0 + 40
        store.record(  # a second acknowledgement (seen by the poll) changes nothing
            EventKind.PAGE_ACKNOWLEDGED,
            "PagerDuty #1042 acknowledged",
            {"page_id": "Q1W2E3R4T5Y6U7", "number": 1042, "acknowledged_at": T0 + 38, "by": "pagerduty"},
        )
    clock.now = T0 + 45
    store.accept_severity()
    severity = store.events()[-1]
    assert severity.kind == EventKind.SEVERITY_CHANGED
    if link:
        sent(store, severity, "pagerduty", "severity", ["NOTE2"])
    clock.now = T0 + 120
    store.record(EventKind.ACTION_APPLIED, "Applied: Update the Clay API key", {"plan_id": "run-1", "action": "update_key"})
    if mitigate:
        clock.now = T0 + 240
        store.record(
            EventKind.SYMPTOM_ENDED,
            "Mitigated: 401s stopped at 00:03:30 (0 of the last 50 logged calls failed; metrics agree)",
            {"plan_id": "run-1", "action": "update_key", "symptom": "auth_errors", "label": "401s", "ended_at": T0 + 210},
        )
    clock.now = T0 + 300
    store.record(
        EventKind.PAGE_ESCALATED,
        "Escalated: paged the platform team",
        {
            "page_id": "",
            "number": None,
            "how": "events",
            "target": "PD_ESCALATION_KEY",
            "dedup_key": "clay-cockpit/INC-x",
            "reason": REASON,
            "plan": "Roll back the deployment",
        },
    )
    store.record(
        EventKind.PAGE_ESCALATED,
        "Escalated",
        {"page_id": "Q1W2E3R4T5Y6U7", "number": 1042, "how": "events", "target": ROUTING_KEY, "reason": "a key where a name belongs"},
    )
    if resolve:
        clock.now = T0 + 900
        store.set_status("resolved")
        if page_resolved:
            clock.now = T0 + 910
            store.record(
                EventKind.PAGE_RESOLVED,
                "PagerDuty #1042 resolved",
                {"page_id": "Q1W2E3R4T5Y6U7", "number": 1042, "resolved_at": T0 + 905, "by": "pagerduty"},
            )
    return store


def postmortem(tmp_path, cfg: Config | None = None, now: float = T0 + 1000, **kw) -> str:
    store = record(tmp_path, **kw)
    try:
        return build_postmortem(store.timeline.path, now=now, config=cfg).text
    finally:
        store.close()


def page_part(text: str) -> str:
    """The page timeline: from its heading to the next section's."""
    start = text.index("### Page timeline")
    return text[start : text.index("\n## ", start)]


def test_the_page_timeline_with_every_step(tmp_path) -> None:
    text = postmortem(tmp_path, config())
    page = page_part(text)
    assert text.index("## Detection, acknowledgement") < text.index("### Page timeline") < text.index("## Decision tree")
    assert f"PagerDuty incident **#1042** “{TITLE}” (service clay-sync, urgency high): <{URL}>." in page  # the title whole
    assert "Linked to this incident at 00:00:05 UTC by ana@bastion-1." in page
    assert "- **Triggered:** 2025-12-31 23:58:30 UTC (PagerDuty's clock)" in page
    # acknowledged: the first acknowledgement (PagerDuty's time, 1:30 + 0:25), by whom
    assert "- **Acknowledged:** 00:00:25 UTC in the cockpit (by ana@bastion-1) — time to acknowledge **1:55**" in page
    assert "on PagerDuty — time to acknowledge" not in page
    # mitigated: the symptom's end (ended_at), not the status change
    assert "- **Mitigated:** 00:03:30 UTC — 401s stopped at 00:03:30 (0 of the last 50 logged calls failed; metrics agree)" in page
    assert "time to mitigate **5:00**" in page
    # resolved: PagerDuty's resolved_at, not the cockpit's status change
    assert "- **Resolved:** 00:15:05 UTC on PagerDuty — time to resolve **16:35**" in page


def test_escalations_say_how_and_why_and_never_a_routing_key(tmp_path) -> None:
    page = page_part(postmortem(tmp_path, config()))
    assert (
        "- 00:05:00 UTC — paged the service of the integration key in $PD_ESCALATION_KEY (Events API v2 trigger), "
        f"dedup key clay-cockpit/INC-x (by ana@bastion-1) — why: {REASON} — the plan that failed: Roll back the deployment"
    ) in page  # the reason whole
    assert (
        ROUTING_KEY not in page
        and "paged the escalation target (not shown: what was recorded is not the name of an environment variable)" in page
    )


def test_milestones_sent_and_not_sent(tmp_path) -> None:
    page = page_part(postmortem(tmp_path, config()))
    assert "Milestones: 2 milestone note(s) reached the PagerDuty incident; 1 milestone(s) reached Grafana as annotations" in page
    assert "(2 annotation(s) on the dashboards)" in page
    pd = page[page.index("Not sent to PagerDuty") : page.index("Not sent to Grafana")]
    gr = page[page.index("Not sent to Grafana") :]
    # PagerDuty: the declaration and the severity were posted; the action, its end and the resolution not
    assert "- 00:02:00 UTC action — Applied: Update the Clay API key" in pd
    assert "- 00:04:00 UTC action — Mitigated: 401s stopped" in pd
    assert "- 00:15:00 UTC resolved — " in pd
    assert " declared — " not in pd and " severity — " not in pd
    # Grafana: only the declaration was annotated; accepting the severity in force (P2 → P2) is no mark on the
    # graphs (comms.paging.milestone: Grafana takes a change of severity), and the symptom's end is PagerDuty's
    assert " resolved — " in gr and " action — Applied" in gr and " declared — " not in gr
    assert " severity — " not in gr and "Mitigated: 401s stopped" not in gr


def test_missing_steps_are_said_to_be_missing(tmp_path) -> None:
    page = page_part(postmortem(tmp_path, config(), now=T0 + 600, ack=False, mitigate=False, resolve=False))
    assert "- **Acknowledged:** not acknowledged" in page and "time to acknowledge" not in page
    assert "- **Mitigated:** not mitigated (no action's symptom was seen to end)" in page
    assert "- **Resolved:** not resolved (the page and the incident are still open)" in page
    assert "time to" not in page


def test_resolved_in_the_cockpit_when_the_page_resolution_was_not_seen(tmp_path) -> None:
    page = page_part(postmortem(tmp_path, config(), page_resolved=False))
    assert "- **Resolved:** 00:15:00 UTC in the cockpit (the incident's status → resolved; no resolution of the page was recorded)" in page
    assert "time to resolve **16:30**" in page


def test_no_page_linked_no_section(tmp_path) -> None:
    text = postmortem(tmp_path, config(), link=False)
    assert "Page timeline" not in text and "PagerDuty incident" not in text
    # what reached Grafana is still said, under the dashboards
    links = text[text.index("### Grafana dashboards") : text.index("## Log excerpt")]
    assert "Milestones: 1 milestone(s) reached Grafana as annotations (2 annotation(s) on the dashboards)." in links
    assert "Not sent to Grafana" in links and "PagerDuty" not in links


def test_without_a_config_every_milestone_counts_for_pagerduty_and_no_link(tmp_path) -> None:
    text = postmortem(tmp_path)
    page = page_part(text)
    assert "Grafana dashboards" not in text and "/d/" not in text
    assert "Not sent to PagerDuty" in page and "Not sent to Grafana" in page  # an annotation was recorded: Grafana was on


def test_notes_the_config_leaves_out_are_not_sent_by_design(tmp_path) -> None:
    page = page_part(postmortem(tmp_path, config(notes=["declared", "resolved"])))
    pd = page[page.index("Not sent to PagerDuty") : page.index("Not sent to Grafana")]
    assert " resolved — " in pd and " action — " not in pd
    assert "Not posted to PagerDuty by design (pagerduty.notes leaves them out): severity, action." in page


def test_grafana_links_over_the_incident_range(tmp_path) -> None:
    text = postmortem(tmp_path, config())
    links = text[text.index("### Grafana dashboards") :]
    assert text.index("## Error rate during the incident") < text.index("### Grafana dashboards") < text.index("## Log excerpt")
    start, end = int(T0 * 1000), int((T0 + 900) * 1000)  # declared → resolved, in ms
    assert f"- `clay-sync-overview`: <http://grafana.example:3000/d/clay-sync-overview?from={start}&to={end}>" in links
    assert f"- `clay-api-errors`: <http://grafana.example:3000/d/clay-api-errors?from={start}&to={end}>" in links
    assert "to its resolution (2026-01-01 00:15:00 UTC)" in links


def test_grafana_links_run_to_now_while_open(tmp_path) -> None:
    text = postmortem(tmp_path, config(), now=T0 + 600, resolve=False)
    assert f"<http://grafana.example:3000/d/clay-sync-overview?from={int(T0 * 1000)}&to=now>" in text
    assert "the incident is open" in text


@pytest.mark.parametrize("cfg", [None, "disabled"])
def test_no_grafana_no_links(tmp_path, cfg) -> None:
    text = postmortem(tmp_path, config(grafana=False) if cfg else None)
    assert "### Grafana dashboards" not in text


def test_the_config_names_the_paging_secrets() -> None:
    cfg = config()
    cfg = replace(cfg, pagerduty=replace(cfg.pagerduty, escalation_routing_key_env="PD_ESCALATION_KEY"))
    names = secret_env_names(cfg)
    assert {"PAGERDUTY_API_TOKEN", "PD_ESCALATION_KEY", "GRAFANA_TOKEN"} <= set(names) and "" not in names


def test_the_subcommand_links_the_dashboards_of_its_config(tmp_path, capsys, monkeypatch) -> None:
    from clay_cockpit.incident.postmortem_cli import add_postmortem_arguments, cmd_postmortem

    record(tmp_path / "state").close()
    data = tomllib.loads(default_toml_text())
    data["grafana"] |= {"enabled": True, "url": "http://grafana.example:3000", "dashboard_uids": ["clay-sync-overview"]}
    data["pagerduty"]["escalation_routing_key_env"] = "PD_ESCALATION_KEY"

    cfg_path = tmp_path / "config.toml"
    cfg_path.write_text(tomli_w.dumps(data))
    monkeypatch.setenv("PD_ESCALATION_KEY", ROUTING_KEY)
    parser = argparse.ArgumentParser()
    add_postmortem_arguments(parser)
    assert cmd_postmortem(parser.parse_args(["--state-dir", str(tmp_path / "state"), "--config", str(cfg_path)])) == 0
    out = capsys.readouterr().out
    assert f"/d/clay-sync-overview?from={int(T0 * 1000)}&to={int((T0 + 900) * 1000)}>" in out
    assert "### Page timeline" in out and ROUTING_KEY not in out


def test_every_milestone_sent_and_a_reassignment(tmp_path) -> None:
    """Each milestone reached PagerDuty (a milestone_sent said twice counts once); an
    escalation by reassignment names the policy; a step before the trigger says so."""
    clock = Clock()
    store = IncidentStore(tmp_path, actor="bo@bastion-2", clock=clock)
    store.declare(Severity.P1)
    declared = store.events()[0]
    store.record(
        EventKind.PAGE_LINKED,
        "Linked to PagerDuty #7",
        {"page_id": "P7", "number": 7, "title": "Clay down", "service": "clay-sync", "html_url": "", "triggered_at": T0 + 60},
    )
    sent(store, declared, "pagerduty", "declared", ["N1"])
    sent(store, declared, "pagerduty", "declared", ["N1"])
    clock.now = T0 + 30
    store.record(
        EventKind.PAGE_ACKNOWLEDGED,
        "PagerDuty #7 acknowledged",
        {"page_id": "P7", "number": 7, "acknowledged_at": T0 + 30, "by": "pagerduty"},
    )
    clock.now = T0 + 120
    store.record(
        EventKind.PAGE_ESCALATED,
        "Escalated: reassigned",
        {"page_id": "P7", "number": 7, "how": "reassign", "target": "PESC123", "reason": "not ours to fix"},
    )
    try:
        text = build_postmortem(store.timeline.path, now=T0 + 300, config=config(grafana=False)).text
    finally:
        store.close()
    page = page_part(text)
    assert "PagerDuty incident **#7** “Clay down” (service clay-sync), no link recorded." in page
    assert "- **Acknowledged:** 00:00:30 UTC on PagerDuty — 0:30 before the page was triggered (PagerDuty's clock)" in page
    assert "- 00:02:00 UTC — reassigned the page to escalation policy PESC123 (by bo@bastion-2) — why: not ours to fix" in page
    assert "Milestones: 1 milestone note(s) reached the PagerDuty incident; Grafana is not enabled in the config: no annotation." in page
    assert "Every milestone reached PagerDuty." in page and "Not sent" not in page
    assert "- **Resolved:** not resolved" in page and "### Grafana dashboards" not in text


def test_what_grafana_leaves_out_is_its_own_rule_not_pagerduty_notes(tmp_path) -> None:
    """An update sent is a PagerDuty note, never a Grafana mark: the postmortem says why in Grafana's words
    (a drill's postmortem blamed pagerduty.notes for it)."""
    store = record(tmp_path)
    try:
        store.record(EventKind.MESSAGE_SENT, "Internal update posted", {"role": "update"})
        page = page_part(build_postmortem(store.timeline.path, now=T0 + 1000, config=config()).text)
    finally:
        store.close()
    assert "Not posted to Grafana by design (Grafana marks only the declaration, severity changes, applied actions" in page
    assert "Grafana by design (pagerduty.notes" not in page
