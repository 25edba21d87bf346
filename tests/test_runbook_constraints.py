"""A team runbook's constraints (issue 18): ``needs_commander`` — an action only
the incident commander may start during given hours and days — read and
checked like the rest of the file (one line naming file, key, expected,
found), and judged by :func:`refusal` on the local time, the responder and the
commander."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from clay_cockpit.paths import ConfigError
from clay_cockpit.runbook_file import ActionId, Constraint, load_runbook, refusal, shipped_path

SHIPPED = Path(shipped_path()).read_text()
RULE = """
[[constraints]]
kind = "needs_commander"
action = "restart"
hours = "09:00-18:00"
why = "business hours: customers are on"
"""


def runbook(tmp_path: Path, extra: str):
    path = tmp_path / "team.toml"
    path.write_text(SHIPPED.replace("notes = []", "notes = []\n" + extra, 1))
    return load_runbook(str(path)), str(path)


def test_a_constraint_is_read_with_monday_to_friday_by_default(tmp_path: Path) -> None:
    rb, _ = runbook(tmp_path, RULE)
    assert rb.constraints == (
        Constraint("needs_commander", ActionId.RESTART, 9 * 60, 18 * 60, frozenset(range(5)), "business hours: customers are on"),
    )
    assert load_runbook(shipped_path()).constraints == ()


@pytest.mark.parametrize(
    ("when", "responder", "commander", "refused"),
    [
        (datetime(2026, 12, 7, 10, 0), "bob@b2", "ana@b1", True),  # Monday 10:00, not the commander
        (datetime(2026, 12, 7, 10, 0), "ana@b1", "ana@b1", False),  # the commander
        (datetime(2026, 12, 7, 10, 0), "bob@b2", "", True),  # nobody in command
        (datetime(2026, 12, 7, 8, 59), "bob@b2", "ana@b1", False),  # before the hours
        (datetime(2026, 12, 7, 18, 0), "bob@b2", "ana@b1", False),  # the end is excluded
        (datetime(2026, 12, 5, 10, 0), "bob@b2", "ana@b1", False),  # Saturday
    ],
)
def test_refusal_judges_the_hours_the_days_and_the_commander(tmp_path: Path, when, responder, commander, refused) -> None:
    rb, _ = runbook(tmp_path, RULE)
    why = refusal(rb, ActionId.RESTART, when.timestamp(), responder, commander)
    assert (why is not None) is refused
    if why:
        assert why.startswith("the runbook: restart needs the incident commander during 09:00-18:00 (mon, tue, wed, thu, fri)")
        assert "business hours: customers are on" in why and "(W, c takes command)" in why
        assert ("nobody has taken command" if not commander else f"{commander} is the commander") in why
    assert refusal(rb, ActionId.ENABLE_QUEUING, when.timestamp(), responder, commander) is None  # other actions are free


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            'kind = "maybe"\naction = "restart"\nhours = "09:00-18:00"',
            "constraints[0].kind: expected one of needs_commander, update_within, first, found string 'maybe'",
        ),
        ('kind = "needs_commander"\naction = "reboot"\nhours = "09:00-18:00"', "constraints[0].action: expected one of "),
        (
            'kind = "needs_commander"\naction = "restart"\nhours = "18:00-09:00"',
            'constraints[0].hours: expected "HH:MM-HH:MM", the start before the end',
        ),
        ('kind = "needs_commander"\naction = "restart"\nhours = "9-18"', 'constraints[0].hours: expected "HH:MM-HH:MM"'),
        (
            'kind = "needs_commander"\naction = "restart"\nhours = "09:00-18:00"\ndays = ["monday"]',
            "constraints[0].days[0]: expected one of mon, tue",
        ),
        (
            'kind = "needs_commander"\naction = "restart"',
            "constraints[0].hours: expected a value for hours, found nothing (missing required key)",
        ),
        (
            'kind = "needs_commander"\naction = "restart"\nhours = "09:00-18:00"\nwho = "ana"',
            "constraints[0].who: expected one of kind, action, hours, days, why, found unknown key",
        ),
    ],
)
def test_a_bad_constraint_is_one_line_naming_it(tmp_path: Path, rule: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        runbook(tmp_path, "[[constraints]]\n" + rule + "\n")
    text = str(err.value)
    assert "\n" not in text and text.startswith(f"{tmp_path / 'team.toml'}: {message}"), text
