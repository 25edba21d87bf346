"""A team runbook's rules in the running cockpit (issue 18), in real tmux at
80x24: ``clay-cockpit demo --scenario key-revoked --runbook FILE``, FILE the
team fixture plus two rules — "P2 or worse needs a status page update within
10 minutes" and "fallback first while calls to /v1/tables/* fail".

Every Clay call fails with 401 in this drill, the tables endpoint's too, so
the strip's next key is the team's fallback (`f`), not the shipped runbook's
key check (`v`: the control, same drill, the shipped runbook); the decision
view says why; once declared (P1), the top bar counts down to the status
page rule first."""

from __future__ import annotations

from pathlib import Path

from . import drill
from .drill import Driver, Step, has

TEAM = Path(__file__).parents[1] / "fixtures" / "team_runbook.toml"
RULES = """
[[constraints]]
kind = "update_within"
severity = "P2"
channel = "status_page"
minutes = 10
why = "customers check the page first"

[[constraints]]
kind = "first"
action = "enable_fallback"
endpoints = ["/v1/tables/*"]
why = "the tables feed the CRM sync"
"""


def demo(*extra: str) -> list[str]:
    return ["demo", "--scenario", "key-revoked", "--speed", "4", *extra]


def test_the_team_rules_lead_with_fallback_and_count_down_to_the_page(tmp_path: Path, terminal, launch) -> None:
    team = tmp_path / "team.toml"
    team.write_text('timezone = "UTC"\n' + TEAM.read_text() + RULES)
    term = terminal()
    launch(term, demo("--runbook", str(team)), width=80, height=24)
    Driver(term).run(
        drill.first_frame(timeout=30.0),
        drill.triage("credentials", "P1", timeout=60.0),
        Step("the strip: the team's fallback is next", check=has("→ f Enable graceful degradation (fallback) · v Verify"), timeout=20.0),
        Step("i declares: the page rule counts down first", keys=("i",), check=drill.matches(r"✉ page due in \d+:\d\d"), timeout=20.0),
        Step(
            "d: the decision view says the rule",
            keys=("d",),
            check=has("the runbook: first while calls to /v1/tables/* fail"),
            timeout=10.0,
        ),
    )


def test_the_shipped_runbook_is_the_control(terminal, launch) -> None:
    term = terminal()
    launch(term, demo(), width=80, height=24)
    Driver(term).run(
        drill.first_frame(timeout=30.0),
        drill.triage("credentials", "P1", timeout=60.0),
        Step("the strip: the key check is next", check=has("→ v Verify the Clay API key"), timeout=20.0),
        Step("i declares: no rule in the top bar", keys=("i",), check=has("✉ update due"), timeout=20.0),
        Step("no page countdown", check=drill.lacks("page due in"), timeout=5.0),
    )
