"""Snapshots of the cockpit run on a team's runbook (issue 18): what
``tests/fixtures/team_runbook.toml`` changes — P2 renamed "Customers notice",
a Clay incident's 5xx actions in the team's order (watch Clay's status page,
then the fallback), an item added to step 4 and a fifth step "Hand over", a
note and a link — in the panes, the checklist, the Slack draft and the
postmortem, in the frozen degraded-latency drill (Clay slow, a minor Clay
incident posted: the Clay-incident branch at P2, so both the renamed
severity and the reordered actions show).

The runbook is read once, at import (clay_cockpit.runbook), so these run in
a process of their own with ``CLAY_COCKPIT_RUNBOOK`` naming the fixture:
``tests/test_snapshots_team.py`` starts it. The file name does not match
``test_*.py``, so the suite's own run never collects it; run by hand
without the variable, it skips. The set-up is the shipped snapshots' (a frozen
drill, real sources, the app's clock pinned, times in UTC, ids pinned:
tests/test_snapshots_drill.py, tests/test_snapshots_comms.py). Each
docstring says what a reviewer should see, and which shipped snapshot is the
control (the same screen with the shipped runbook).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TEAM = Path(__file__).parent / "fixtures" / "team_runbook.toml"

if Path(os.environ.get("CLAY_COCKPIT_RUNBOOK") or os.devnull).resolve() != TEAM.resolve():
    pytest.skip(f"run by tests/test_snapshots_team.py, with CLAY_COCKPIT_RUNBOOK={TEAM}", allow_module_level=True)

from test_snapshots_comms import declared_then as comms_declared_then  # noqa: E402
from test_snapshots_drill import WARM_UP, drill_app, own_state_dir, settled, triage_settled, until  # noqa: E402, F401 (a fixture)

from clay_cockpit import runbook  # noqa: E402
from clay_cockpit.incident.postmortem import default_output  # noqa: E402
from clay_cockpit.runbook import ActionId, Branch, ErrorClass, Severity  # noqa: E402
from clay_cockpit.screens.compose import ComposeScreen  # noqa: E402
from clay_cockpit.widgets.logs import LogView  # noqa: E402

SIZES = pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
DRILL = pytest.mark.scenario("degraded-latency")


@pytest.fixture(autouse=True)
def team_runbook_in_effect() -> None:
    """This process runs the fixture, not the shipped runbook (else each picture would show the control)."""
    assert Path(runbook.runbook_path()).resolve() == TEAM.resolve()
    assert runbook.SEVERITIES[Severity.P2].name == "Customers notice"
    assert runbook.branch_actions(Branch.CLAY_INCIDENT, ErrorClass.SERVER) == (ActionId.WATCH_CLAY_STATUS, ActionId.ENABLE_FALLBACK)
    assert [s.title for s in runbook.STEPS][3:] == ["Communicate", "Hand over"]


@pytest.fixture
def fixed_ids(monkeypatch):
    """Incident (and draft) ids end in random hex digits: pin them."""
    monkeypatch.setattr("clay_cockpit.incident.lifecycle.secrets.token_hex", lambda n: "c0de")


@pytest.fixture
def drill_tokens(sim, monkeypatch):
    """The drill's Slack and status page tokens in the environment (the comms desk reads them there)."""
    for name, value in sim.env().items():
        monkeypatch.setenv(name, value)


def settled_logs_drawn(app, keys: list[str] | str):
    """tests/test_snapshots_drill.settled, then the pod logs' scrollbar drawn where the view is (at the end: following).
    Once in a few runs (160x48, after `c`) the picture had that thumb at the top while the lines shown were the last
    ones; its position is waited for here, so a picture differs only by what this file is about."""
    base = settled(app, keys)

    async def run_before(pilot) -> None:
        await base(pilot)
        views = list(app.screen.query(LogView))

        def drawn() -> bool:
            return all(not v.show_vertical_scrollbar or v.vertical_scrollbar.position == v.scroll_y for v in views)

        await until(pilot, drawn, timeout=5.0)
        await pilot.pause(0.1)

    return run_before


def declared_then(app, keys: list[str], ready):
    """tests/test_snapshots_comms.declared_then, without waiting for triage to cite the logs: in this drill it
    never does (Clay is slow; its verdict rests on the metrics and the status page)."""
    return comms_declared_then(app, keys, ready, cite_logs=False)


@SIZES
@DRILL
def test_declared(snap_compare, sim, fixed_ids, size) -> None:
    """Degraded latency, two minutes in, an incident declared with `i`
    (80x24: then `d`, the decision view in the signal panes' place):
    - triage "d Triage · P2": "▶ Clay incident: slow, p95 3.6 s ("Elevated
      API latency") — P2"; "P2 Customers notice · respond < 1 hour · e.g.
      High latency, partial failures" (the TEAM's name); "Do now" in the
      TEAM's order: first " ·  Keep watching Clay's status page" (no key:
      the responder's to do), then " f  Enable graceful degradation
      (fallback)"; the reasons (p95, Clay's incident, API degraded);
    - top bar "P2? investigating · 58:20 left" (the response clock counts
      from the onset, 100 s before) and "✉ update due · page due";
    - checklist "c Checklist · 4/19" (the team's 19 items), step 1 ticked
      auto at 00:02:00; timeline "INC-20260101-0002-c0de · 10 events";
    - 160x48: the signal panes on the left (Clay status ◐ Partially
      Degraded Service, health degraded, 504s and p95 3574 ms, 3 pods
      Running, the logs following); the actions pane with ▸ on "f Fallback
      (degrade)" only (its rows have a fixed order and watching has no row:
      the team's order shows in triage, not there).
    Controls (the shipped runbook, same keys):
    test_snapshots_triage.py::test_clay_outage_triage (the Clay-incident
    branch: f Enable graceful degradation first, then Keep watching),
    ::test_rate_limited_triage ("P2 Degraded service") and
    ::test_key_revoked_declared (declared: "Checklist · 4/17")."""
    sim.advance(WARM_UP)
    app = drill_app(sim)
    keys = "id" if size == (80, 24) else "i"
    assert snap_compare(app, terminal_size=size, run_before=settled_logs_drawn(app, keys))


@SIZES
@DRILL
def test_checklist(snap_compare, sim, fixed_ids, size) -> None:
    """The same, then `c` (the checklist takes the keys) and `5` (the team's
    fifth step; the subtitle "space ticks · 1-5 steps · esc leaves", the
    footer "12345 Step"), "c Checklist · 4/19":
    - 160x48: "4 Communicate  0/3" with the two shipped items and the team's
      "Tell the sales on-call which customers are affected", "5 Hand over
      0/1" with "Write the hand-over note for the next shift in the incident
      channel", then "Team notes": "· P1: call Clay's TAM (the escalation
      policy has the number)" and "→ Escalation policy";
    - 80x24 (five rows of checklist under triage; then `up`, the cursor on
      the team's step-4 item): "Tell the sales on-call …", "5 Hand over
      0/1", "Write the hand-over note …", "Team notes", "· P1: call Clay's
      TAM …".
    Control: test_snapshots_triage.py::test_key_revoked_declared (the
    shipped checklist: 4/17, four steps, step 4 with two items, no notes)."""
    sim.advance(WARM_UP)
    app = drill_app(sim)
    keys = ["i", "c", "5", "up"] if size == (80, 24) else ["i", "c", "5"]
    assert snap_compare(app, terminal_size=size, run_before=settled_logs_drawn(app, keys))


@SIZES
@DRILL
def test_slack_update_editor(snap_compare, sim, fixed_ids, drill_tokens, size) -> None:
    """`n` right after declaring: the head "Internal update → #inc-clay-drill,
    a new incident thread  P2 · investigating"; the draft: "P2 ·
    Investigating — Clay incident: …", *Severity:* P2, Customers notice
    (respond < 1 hour) — the team's name; *Current action:* Keep watching
    Clay's status page — the team's first action; *Next update:* by 00:32
    UTC (in 30 min); at 160x48 also *Next steps:* Keep watching Clay's
    status page, then Enable graceful degradation (fallback) — the team's
    order; the footer "^r Preview ^s Send ^n Discard esc Close".
    Control: test_snapshots_comms.py::test_internal_update_editor (the
    shipped runbook, key-revoked: "P1, Complete outage", its first action)."""
    sim.advance(WARM_UP)
    app = drill_app(sim)
    assert snap_compare(app, terminal_size=size, run_before=declared_then(app, ["n"], lambda a: isinstance(a.screen, ComposeScreen)))


@pytest.mark.asyncio
@DRILL
async def test_postmortem(sim, fixed_ids) -> None:
    """Not a picture: the cockpit shows no postmortem, it writes one (`P`,
    Markdown in the state dir). Declared in the drill, `P`: the file names
    the severity by the team's name and lists the team's checklist — step 4
    with the team's item, the fifth step with its item.
    Control: tests/test_runbook_team.py (the shipped runbook: "P2 (Degraded
    service)") and the shipped checklist's four steps."""
    sim.advance(WARM_UP)
    app = drill_app(sim)
    prepare = settled(app, "i")
    async with app.run_test(size=(160, 48)) as pilot:
        await prepare(pilot)
        inc = app.desk.recorder.open
        assert inc is not None
        await pilot.press("P")
        await until(pilot, lambda: app._comms is not None and not app._comms._writing and default_output(app.state_dir, inc.id).exists())
    text = default_output(app.state_dir, inc.id).read_text()
    assert "| Severity | P2 (Customers notice)" in text, text
    assert "Degraded service" not in text
    checklist = text[text.index("**1. Quick triage**") :]
    assert "**4. Communicate**" in checklist and "**5. Hand over**" in checklist, checklist
    four = checklist[checklist.index("**4. Communicate**") : checklist.index("**5. Hand over**")]
    assert "- [ ] Tell the sales on-call which customers are affected" in four, four
    five = checklist[checklist.index("**5. Hand over**") :].split("\n\n")[0]
    assert five.splitlines()[1:] == ["- [ ] Write the hand-over note for the next shift in the incident channel"], five
