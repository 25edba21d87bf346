"""Snapshots of the decision side in frozen drills (real sources, real HTTP,
the app's clock pinned to the drill's, times of day in UTC): the triage pane,
the checklist and the timeline in three scenarios, at 80x24 (the decision
view, ``d``) and 160x48 (beside the signal panes). Each docstring says what
a reviewer should see. See tests/test_snapshots_drill.py for the set-up.
"""

from __future__ import annotations

import pytest
from test_snapshots_drill import WARM_UP, drill_app, own_state_dir, settled  # noqa: F401 (a fixture)

SIZES = pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])


@pytest.fixture
def fixed_ids(monkeypatch):
    """Incident ids end in 4 random hex digits: pin them."""
    monkeypatch.setattr("clay_cockpit.incident.lifecycle.secrets.token_hex", lambda n: "c0de")


@SIZES
@pytest.mark.scenario("key-revoked")
def test_key_revoked_declared(snap_compare, sim, fixed_ids, size) -> None:
    """Key-revoked, two minutes in, an incident declared with `i` (80x24: then
    `d`, the decision view in place of the signal panes):
    - top bar: at its right "P1? investigating · 15:00 left" (P1 in the error
      colour: declared, not accepted yet; the clock in the success colour);
    - triage: "▶ Credentials: Clay answers 401 to 100% of calls — P1" (a
      number, never "every call"), reasons with their numbers (401 at ~39/s
      — 100% of the Clay calls (1-minute rate), the logs' 401s, health, no
      Clay incident), "Do now" each behind its key: v Verify the Clay API
      key in the Secret, k Update the key if it was rotated, R Restart the
      pods; "P1 Complete outage · respond < 15 min", subtitle "confidence high";
    - checklist "c Checklist · 4/17": step 1's four items ticked "auto
      00:02:00", each with what was seen (status page: All Systems
      Operational…, health: down…, metrics: …, logs: …); step 2's credentials
      item and step 3's three 401/403 items marked ▸, the others dimmed;
    - timeline "t Timeline · INC-20260101-0002-c0de · N events": declared,
      evidence snapshot, branch at declaration, the auto-ticks, at 00:02:00."""
    sim.advance(WARM_UP)
    app = drill_app(sim)
    keys = "id" if size == (80, 24) else "i"
    assert snap_compare(app, terminal_size=size, run_before=settled(app, keys))


@SIZES
@pytest.mark.scenario("clay-outage")
def test_clay_outage_triage(snap_compare, sim, size) -> None:
    """Clay outage, two minutes in, no incident declared (80x24: the decision
    view, `d`):
    - triage: "▶ Clay incident: 87% of Clay calls fail ("Clay API
      unavailable") — P1", reasons: the error share with the codes
      (503/500/504) and rate, Clay's incident with its impact, the
      components whole (no "Company en…"); "Do now" f Enable graceful
      degradation (fallback), · Keep watching Clay's status page; "P1
      Complete outage";
    - checklist: no ticks (no incident: "i declares, then space ticks"); the
      Clay-incident item of step 2 and step 3's 500/503 items marked ▸, the
      credentials, 401/403 and 429 items dimmed;
    - timeline: "No incident", then dimmed "Seen so far": the Clay incident on
      the status page, triage's branch change to Clay incident.
    At 160x48 the signal panes on the left as in test_clay_outage_drill."""
    sim.advance(WARM_UP)
    app = drill_app(sim)
    keys = "d" if size == (80, 24) else ""
    assert snap_compare(app, terminal_size=size, run_before=settled(app, keys))


@SIZES
@pytest.mark.scenario("rate-limited")
def test_rate_limited_triage(snap_compare, sim, size) -> None:
    """Rate-limited, two minutes in, no incident (80x24: the signal view with
    the strip; 160x48: the whole decision column):
    - 80x24: the strip "▶ Rate limit: Clay rate-limits 44% of calls (429;
      logs: 51 of 59) — P2" in the warning colour (the logs' share, far from
      the metrics', said beside it; no room left for the confidence), "→ Q
      Enable request queuing · ✓ Rate-limit headers read" (the key first;
      the headers were read from the logs); Error rates: 429 high, the other
      codes flat on the same scale;
    - 160x48: triage with the 429 share, the rate-limit headers seen in the
      logs (limit 600, remaining 0), no Clay incident; "Do now" Q Enable
      request queuing, ✓ Rate-limit headers read — in the logs: limit 600 …;
      "P2 Degraded service · respond < 1 hour"; checklist: step 3's two 429
      items marked ▸, the 401/403 and 500/503 ones dimmed."""
    sim.advance(WARM_UP)
    app = drill_app(sim)
    assert snap_compare(app, terminal_size=size, run_before=settled(app))
