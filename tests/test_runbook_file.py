"""The runbook file (issue 18): the shipped config/runbook.toml gives the
constants the code had, and a bad file is refused in one line naming the
file, the key, what was expected and what was found."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
import runbook_frozen as frozen

from clay_cockpit import runbook
from clay_cockpit.paths import ConfigError
from clay_cockpit.runbook_file import ActionId, Branch, ErrorClass, load_runbook, runbook_from_toml

SHIPPED = runbook.shipped_runbook_path()


def shipped_doc() -> dict[str, Any]:
    return tomllib.loads(Path(SHIPPED).read_text(encoding="utf-8"))


def test_the_shipped_file_gives_the_constants_the_code_had() -> None:
    assert runbook.SEVERITIES == frozen.SEVERITIES
    assert list(runbook.SEVERITIES) == list(frozen.SEVERITIES)
    assert runbook.STEPS == frozen.STEPS
    assert runbook.ACTION_TEXT == frozen.ACTION_TEXT
    assert list(runbook.ACTION_TEXT) == list(frozen.ACTION_TEXT)
    assert runbook.DONE_TEXT == frozen.DONE_TEXT
    assert runbook.ACTION_KEY == frozen.ACTION_KEY
    assert runbook.OUTSIDE == frozen.OUTSIDE
    assert runbook.ITEMS == {item.key: item for step in frozen.STEPS for item in step.items}


def test_the_branches_labels_and_actions_are_the_ones_triage_had() -> None:
    assert runbook.BRANCH_LABEL == {
        Branch.CLAY_INCIDENT: "Clay incident",
        Branch.CREDENTIALS: "Credentials",
        Branch.INFRASTRUCTURE: "Infrastructure",
        Branch.MONITORING_GAP: "Monitoring gap",
        Branch.HEALTHY: "Healthy",
        Branch.UNKNOWN: "Unknown",
    }
    a = ActionId
    assert runbook.BRANCH_ACTIONS == {
        (Branch.CREDENTIALS, ErrorClass.AUTH): (a.VERIFY_KEY, a.UPDATE_KEY, a.RESTART),
        (Branch.CREDENTIALS, ErrorClass.RATE_LIMIT): (a.READ_RATE_LIMITS, a.ENABLE_QUEUING),
        (Branch.CREDENTIALS, ErrorClass.SERVER): (a.ENABLE_FALLBACK, a.WATCH_CLAY_STATUS),
        (Branch.CLAY_INCIDENT, ErrorClass.SERVER): (a.ENABLE_FALLBACK, a.WATCH_CLAY_STATUS),
    }
    assert runbook.branch_actions(Branch.CREDENTIALS, None) == ()
    assert runbook.branch_actions(Branch.INFRASTRUCTURE, ErrorClass.AUTH) == ()


def test_the_shipped_file_has_no_notes_or_links_and_reads_back_whole() -> None:
    rb = load_runbook(SHIPPED)
    assert rb.notes == () and rb.links == ()
    assert rb == runbook.RUNBOOK


def _error(doc: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as err:
        runbook_from_toml(doc, "team.toml")
    return str(err.value)


def _item(doc: dict[str, Any], step: int, n: int) -> dict[str, Any]:
    item: dict[str, Any] = doc["steps"][step]["items"][n]
    return item


def test_an_unknown_top_level_key_is_named() -> None:
    doc = shipped_doc()
    doc["severity"] = {}
    assert (
        _error(doc)
        == "team.toml: severity: expected one of notes, links, timezone, constraints, severities, branches, actions, steps, found unknown key"
    )


def test_an_unknown_item_key_is_named() -> None:
    doc = shipped_doc()
    _item(doc, 0, 1)["owner"] = "sre"
    assert _error(doc) == "team.toml: steps[0].items[1].owner: expected one of key, text, branches, errors, auto, action, found unknown key"


def test_a_wrong_type_is_named() -> None:
    doc = shipped_doc()
    doc["severities"]["P2"]["name"] = 2
    assert _error(doc) == "team.toml: severities.P2.name: expected a non-empty string, found number 2"
    doc = shipped_doc()
    doc["notes"] = "call the TAM"
    assert _error(doc) == "team.toml: notes: expected an array of strings, found string 'call the TAM'"
    doc = shipped_doc()
    doc["actions"]["rollback"]["outside"] = "no"
    assert _error(doc) == "team.toml: actions.rollback.outside: expected true or false, found string 'no'"


def test_a_response_target_is_seconds_or_next_business_day() -> None:
    doc = shipped_doc()
    doc["severities"]["P1"]["response_seconds"] = "15 min"
    assert (
        _error(doc)
        == "team.toml: severities.P1.response_seconds: expected a number of seconds > 0 or \"next business day\", found string '15 min'"
    )


def test_an_unknown_branch_is_named() -> None:
    doc = shipped_doc()
    _item(doc, 1, 0)["branches"] = ["clay_outage"]
    assert _error(doc) == (
        "team.toml: steps[1].items[0].branches[0]: expected one of clay_incident, credentials, infrastructure, "
        "monitoring_gap, healthy, unknown, found string 'clay_outage'"
    )
    doc = shipped_doc()
    doc["branches"]["vendor"] = {"label": "Vendor", "when": "always"}
    assert _error(doc) == (
        "team.toml: branches.vendor: expected one of clay_incident, credentials, infrastructure, monitoring_gap, healthy, unknown, "
        "found unknown key"
    )


def test_an_unknown_error_class_is_named() -> None:
    doc = shipped_doc()
    _item(doc, 2, 0)["errors"] = ["401"]
    assert _error(doc) == "team.toml: steps[2].items[0].errors[0]: expected one of auth, rate_limit, server, found string '401'"


def test_an_unknown_action_is_named() -> None:
    doc = shipped_doc()
    _item(doc, 2, 2)["action"] = "reboot"
    expected = "one of " + ", ".join(a.value for a in ActionId)
    assert _error(doc) == f"team.toml: steps[2].items[2].action: expected {expected}, found string 'reboot'"
    doc = shipped_doc()
    doc["branches"]["credentials"]["actions"]["auth"] = ["verify_key", "page_vendor"]
    assert _error(doc) == f"team.toml: branches.credentials.actions.auth[1]: expected {expected}, found string 'page_vendor'"


def test_an_action_recommended_twice_is_refused() -> None:
    doc = shipped_doc()
    doc["branches"]["credentials"]["actions"]["auth"] = ["verify_key", "restart", "verify_key"]
    assert _error(doc) == "team.toml: branches.credentials.actions.auth[2]: expected each action at most once, found string 'verify_key'"


def test_an_unknown_auto_signal_is_named() -> None:
    doc = shipped_doc()
    _item(doc, 0, 0)["auto"] = "pagerduty"
    assert (
        _error(doc)
        == "team.toml: steps[0].items[0].auto: expected one of statuspage, health, metrics, logs or \"\", found string 'pagerduty'"
    )


def test_a_signal_ticks_one_item_only() -> None:
    doc = shipped_doc()
    doc["steps"][3]["items"].append({"key": "look_again", "text": "Look at the metrics again", "auto": "metrics"})
    assert (
        _error(doc)
        == "team.toml: steps[3].items[2].auto: expected a signal no other item is ticked on (steps[0].items[2] is), found string 'metrics'"
    )


def test_a_duplicate_item_key_is_refused() -> None:
    doc = shipped_doc()
    doc["steps"][3]["items"].append({"key": "check_logs", "text": "Scan the logs once more"})
    assert (
        _error(doc)
        == "team.toml: steps[3].items[2].key: expected a key no other item has (steps[0].items[3] has it), found string 'check_logs'"
    )


def test_a_missing_severity_is_named() -> None:
    doc = shipped_doc()
    del doc["severities"]["P3"]
    assert (
        _error(doc)
        == "team.toml: severities.P3: expected a table (name, response, response_seconds, examples), found nothing (missing severity)"
    )
    doc = shipped_doc()
    doc["severities"]["P5"] = dict(doc["severities"]["P4"])
    assert _error(doc) == "team.toml: severities.P5: expected one of P1, P2, P3, P4, found unknown key"


def test_a_missing_action_or_branch_or_required_key_is_named() -> None:
    doc = shipped_doc()
    del doc["actions"]["scale"]
    assert _error(doc) == "team.toml: actions.scale: expected a table (text, done, key, outside), found nothing (missing action)"
    doc = shipped_doc()
    del doc["branches"]["healthy"]
    assert _error(doc) == "team.toml: branches.healthy: expected a table (label, when, actions), found nothing (missing branch)"
    doc = shipped_doc()
    del _item(doc, 3, 0)["text"]
    assert _error(doc) == "team.toml: steps[3].items[0].text: expected a value for text, found nothing (missing required key)"


def test_the_four_steps_are_required_and_a_team_may_add_up_to_five() -> None:
    doc = shipped_doc()
    doc["steps"] = doc["steps"][:3]
    expected = (
        "team.toml: steps: expected the 4 runbook steps (quick triage, decision tree, immediate actions, communicate),"
        " then at most 5 of the team's, found 3 steps"
    )
    assert _error(doc) == expected
    extra = {"title": "Hand over", "items": [{"key": "handover", "text": "Hand over to the next shift"}]}
    doc = shipped_doc()
    doc["steps"] = doc["steps"] + [extra]
    rb = runbook_from_toml(doc, "team.toml")
    assert (rb.steps[4].number, rb.steps[4].title, rb.steps[4].items[0].key) == (5, "Hand over", "handover")
    doc["steps"] = doc["steps"] + [dict(extra, items=[{"key": f"h{n}", "text": "x"}]) for n in range(5)]
    assert _error(doc) == expected.replace("found 3 steps", "found 10 steps")


def test_a_link_needs_a_title_and_a_url(tmp_path: Path) -> None:
    text = Path(SHIPPED).read_text(encoding="utf-8") + '\n[[links]]\ntitle = "Escalation policy"\n'
    path = tmp_path / "team.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_runbook(str(path))
    assert str(err.value) == f"{path}: links[0].url: expected a value for url, found nothing (missing required key)"


def test_a_team_file_with_notes_and_links_loads(tmp_path: Path) -> None:
    text = Path(SHIPPED).read_text(encoding="utf-8").replace("notes = []", 'notes = ["P1: call the vendor\'s TAM"]')
    text += '\n[[links]]\ntitle = "Dashboards"\nurl = "https://grafana.example.com/d/clay"\n'
    path = tmp_path / "team.toml"
    path.write_text(text, encoding="utf-8")
    rb = load_runbook(str(path))
    assert rb.notes == ("P1: call the vendor's TAM",)
    assert [(x.title, x.url) for x in rb.links] == [("Dashboards", "https://grafana.example.com/d/clay")]


def test_a_file_that_is_not_toml_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "team.toml"
    path.write_text("[severities\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_runbook(str(path))
    assert str(err.value).startswith(f"{path}: expected valid TOML, found ")
    assert "\n" not in str(err.value)
