"""Snapshots of the update editor and the preview in a frozen key-revoked
drill, two minutes in, an incident declared (real sources and the drill's
Slack and status page; the app's clock pinned to the drill's, times of day
in UTC, the incident id pinned). Each docstring says what a reviewer should
see. See tests/test_snapshots_drill.py for the set-up.
"""

from __future__ import annotations

import pytest
from test_snapshots_drill import (  # noqa: F401 (a fixture)
    WARM_UP,
    drill_app,
    own_state_dir,
    triage_settled,
    until,
)
from textual.widgets import TextArea

from clay_cockpit.screens.compose import ComposeScreen
from clay_cockpit.screens.preview import PreviewScreen
from clay_cockpit.widgets.logs import LogView


def from_logs(app) -> bool:
    """Triage's adopted verdict cites the logs (their lines arrived and were read)."""
    t = app._desk.triaged if app._desk is not None else None
    return t is not None and any(r.source == "logs" for f in t.assessment.findings for r in f.reasons)


SIZES = pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])


@pytest.fixture
def fixed_ids(monkeypatch):
    """Incident (and draft) ids end in random hex digits: pin them."""
    monkeypatch.setattr("clay_cockpit.incident.lifecycle.secrets.token_hex", lambda n: "c0de")


@pytest.fixture(autouse=True)
def drill_tokens(sim, monkeypatch):
    for name, value in sim.env().items():
        monkeypatch.setenv(name, value)


def declared_then(app, keys: list[str], ready, cite_logs: bool = True):
    """Settle, declare (i), wait for the countdown (the first reminder has
    fired), press ``keys``, wait for ``ready``; no notifications, no blink.
    ``cite_logs``: wait for triage to cite the logs too (False for a drill
    whose verdict never rests on them: Clay slow, tests/team_runbook_snapshots.py)."""

    def lines() -> int:
        return max((v.line_count for v in app.screen.query(LogView)), default=0)

    async def run_before(pilot) -> None:
        # the frozen drill's log backlog in whole, and triage on it: a draft written before the
        # logs arrived lacks their evidence (under load, CI drew it the other way round)
        await until(pilot, lambda: triage_settled(app) and lines() > 0)
        seen = -1
        while seen != lines():  # quiet for a whole second
            seen = lines()
            await pilot.pause(1.0)
        await until(pilot, lambda: triage_settled(app) and (from_logs(app) or not cite_logs))
        await pilot.press("i")
        await until(pilot, lambda: app.desk.recorder.open is not None and not app.desk.busy)
        await until(pilot, lambda: app.main_screen.cadence_badge.display)
        for key in keys:
            await pilot.press(key)
            await pilot.pause(0.2)
        await until(pilot, lambda: ready(app))
        await pilot.pause(0.6)  # the flags and the saved line after the first pause
        app.clear_notifications()
        await pilot.pause(0.1)
        for area in app.screen.query(TextArea):
            assert area.has_focus, app.focused
            assert not area.cursor_blink  # the editor's own steady cursor (a blink repaints on its own)
        await pilot.pause(0.1)

    return run_before


@SIZES
@pytest.mark.scenario("key-revoked")
def test_internal_update_editor(snap_compare, sim, fixed_ids, size) -> None:
    """`n` right after declaring: the head "Internal update → #inc-clay-drill,
    a new incident thread  P1 · investigating"; the editor (its first line,
    where the cursor is, highlighted) with the template filled in: "P1 · Investigating — Credentials:
    Clay answers 401 to every call", *Severity:* P1, Complete outage
    (respond < 15 min), *Impact:* 100% of Clay calls fail (39 of 39/s), as
    at its peak (00:01 UTC), *Current action:* Verify the Clay API key
    in the Secret, *Next update:* by 00:17 UTC (in 15 min), *What we see*
    with the 401 numbers, *Done so far:* no remediation applied yet,
    *Watching:*, *Next steps:*; no flags; under a
    rule "Kept with INC-20260101-0002-c0de as you type"; the footer "^r
    Preview ^s Send ^n Discard esc Close" (no ^t: that is the status page's)."""
    sim.advance(WARM_UP)
    app = drill_app(sim)
    assert snap_compare(app, terminal_size=size, run_before=declared_then(app, ["n"], lambda a: isinstance(a.screen, ComposeScreen)))


@SIZES
@pytest.mark.scenario("key-revoked")
def test_internal_update_preview(snap_compare, sim, fixed_ids, size) -> None:
    """`n` then `ctrl+r`: "Preview · Internal update · INC-20260101-0002-c0de";
    "→ #inc-clay-drill, a new incident
    thread"; "As Slack shows it" with the message on a tinted background
    behind an accent bar: the header line in bold, the sections with the
    mrkdwn marks drawn (Severity:, Impact: … in bold, no asterisks), the
    context line muted ("INC-… · sent from clay-cockpit · next update by
    00:17 UTC"); at 160x48 also "The summary at the top of the thread, after
    this send" and the start of the plain-text fallback (with its asterisks);
    the footer "s Send esc Back" and nothing else (none of the cockpit's keys)."""
    sim.advance(WARM_UP)
    app = drill_app(sim)
    assert snap_compare(
        app, terminal_size=size, run_before=declared_then(app, ["n", "ctrl+r"], lambda a: isinstance(a.screen, PreviewScreen))
    )


@pytest.mark.scenario("key-revoked")
def test_status_page_update_editor(snap_compare, sim, fixed_ids) -> None:
    """`e` at 80x24: "Status page update → status page, a new incident  P1 ·
    investigating"; "Title Service disruption"; "Status Investigating
    (ctrl+t) · Contact enrichment → major outage" (the component's name read
    from the status page); the customer text: "We are investigating an issue
    …", the next update time, no internal names and no flags; the footer
    "^r Preview ^s Send ^t Status ^n Discard esc Close"."""
    sim.advance(WARM_UP)
    app = drill_app(sim)

    def ready(a) -> bool:
        return isinstance(a.screen, ComposeScreen) and "Contact enrichment" in str(a.screen.query_one("#compose-meta").content)

    assert snap_compare(app, terminal_size=(80, 24), run_before=declared_then(app, ["e"], ready))
