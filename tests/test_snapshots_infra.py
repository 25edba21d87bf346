"""Snapshots of the infrastructure view (key ``o``) and of the triage pane
citing what Kubernetes says (issue 14), hosted in a bare App with a fixed
reading and a pinned clock (times of day in UTC). Each docstring says what a
reviewer should see."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from infra_fixtures import ACTIONS, NOW, infra_snapshot
from test_triage import live, signals
from test_triage_infra import BAD_PODS, HEALTH_DOWN
from textual.app import App, ComposeResult

from clay_cockpit.config import Thresholds
from clay_cockpit.screens.infra_view import InfraScreen
from clay_cockpit.signals import ErrorKind, Reading, SourceError
from clay_cockpit.triage.tree import Triage, assess
from clay_cockpit.widgets.triage import TriagePane

SIZES = pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


class Host(App[None]):
    def __init__(self, reading: Reading, actions=(), no_color: bool = False) -> None:
        super().__init__(ansi_color=True if no_color else None)
        self.reading, self.actions = reading, actions

    def on_mount(self) -> None:
        self.push_screen(InfraScreen(lambda: (self.reading, self.actions), lambda: NOW))


LIVE = Reading(value=infra_snapshot(), updated_at=NOW - 3, checked_at=NOW - 3)
FORBIDDEN = SourceError(
    "infra",
    ErrorKind.FORBIDDEN,
    'events is forbidden: User "oncall" cannot watch resource "events" in clay-sync',
    "ask for get/list/watch on events and nodes",
    at=NOW - 5,
)


@SIZES
def test_infra_view_during_a_bad_rollout(snap_compare, size) -> None:
    """The whole view:
    - head: "Infrastructure · clay-sync · 3s ago · 3 changes · 3 events · 2 nodes"
      (the changes counted as their section counts them: the cockpit's own action too);
    - Changes (3): "2m action Restart the pods: rollout restart …" (our own,
      from the timeline, merged in by time; the NOTE is not there), "11m rollout
      rollout to registry.example.com/clay-sync:1.14.3 (revision 7)" with its
      two differences under it (image app: … → …, env CLAY_TIMEOUT_MS: 2000 → 500),
      "3h configmap ConfigMap clay-sync-flags changed";
    - Warning events (3), newest first, in columns (count, age, reason, object):
      38× 4s Unhealthy pod/x2x9k Readiness probe failed…, 12× 30s BackOff
      pod/q7wzl, 5× 1m FailedScheduling pod/m4hfp — each on one line, the pods by
      their short names (whole in the detail), cut with "…" at the right edge at
      80 columns;
    - History (2): "rev 7  current  11m  clay-sync:1.14.3  3 pods  deploy 1.14.3"
      ("current" in the success colour), "rev 6  3d  clay-sync:1.14.2  1 pod",
      the columns aligned; (at 80x24 the list scrolls: the sections below are
      under it);
    - Nodes (2), indented like the rows above: n-1 Ready 1 pod: x2x9k; n-2
      "Ready, MemoryPressure, cordoned" in the warning colour, 2 pods: q7wzl, h2kcd;
    - the first row highlighted (the action), its detail under the list: "action
      00:58:00 (2m ago)", the summary, "from the incident timeline";
    - the footer: esc Back, c Changes, h History, e Events, n Nodes, U Roll back
      (no ? and q here: this host is a bare App, the cockpit adds them)."""
    assert snap_compare(Host(LIVE, ACTIONS), terminal_size=size)


def test_infra_view_event_selected_shows_the_whole_message(snap_compare) -> None:
    """80x24, `e` then down: the BackOff event's row highlighted (bold); under
    the list its facts — object Pod/clay-sync-7d9f8c6b5-q7wzl, reason BackOff,
    count 12, first seen 00:50:30 (9m ago), last seen 00:59:30 (30s ago), from
    kubelet, n-2 — then the message whole, wrapped, not cut."""

    async def run_before(pilot) -> None:
        await pilot.pause(0.1)
        await pilot.press("e", "down")
        await pilot.pause(0.1)

    assert snap_compare(Host(LIVE, ACTIONS), terminal_size=(80, 24), run_before=run_before)


def test_infra_view_older_revision_selected(snap_compare) -> None:
    """80x24, `h` then down: the History's older revision (rev 6) highlighted
    (bold); the list scrolled so it shows; under the list its facts — revision
    6, created 2027-01-12 08:00:00 (3d ago) (a day or more ago: with its date), image
    registry.example.com/clay-sync:1.14.2 (whole), pods 1, ReplicaSet
    clay-sync-5b6c7d8e9 — and "U rolls back to it: clay-sync:1.14.3 →
    clay-sync:1.14.2 (plan, dry run, then your confirmation)", wrapped, not cut."""

    async def run_before(pilot) -> None:
        await pilot.pause(0.1)
        await pilot.press("h", "down")
        await pilot.pause(0.1)

    assert snap_compare(Host(LIVE, ACTIONS), terminal_size=(80, 24), run_before=run_before)


def test_infra_view_waiting_for_kubernetes(snap_compare) -> None:
    """No reading yet: the head "Infrastructure · waiting for Kubernetes…"
    (muted), no sections, a line saying what will show here (the changes, the
    rollout history, Warning events and nodes); the view's keys in the footer."""
    assert snap_compare(Host(Reading()), terminal_size=(80, 24))


def test_infra_view_failed_keeps_the_last_good_data_marked_stale(snap_compare) -> None:
    """The watch failed after a good answer 10 minutes before: head "… · STALE
    10m ago" in the error colour; under it "✗ forbidden: events is forbidden:
    User "oncall" cannot watch …" and "→ ask for get/list/watch on events and
    nodes"; the last good changes, events and nodes below, as they were."""
    reading = Reading(value=infra_snapshot(), error=FORBIDDEN, updated_at=NOW - 600, checked_at=NOW - 5)
    assert snap_compare(Host(reading), terminal_size=(80, 24))


def test_infra_view_empty_sections_say_so(snap_compare) -> None:
    """A live reading with nothing in it: each section says it is empty in its own words —
    "no rollout, ConfigMap or Secret change of clay-sync seen; no cockpit
    action" (whole at 80 columns), "no Warning events for clay-sync since the watch began 30m
    ago", "no node runs a pod of clay-sync"."""
    reading = Reading(
        value=infra_snapshot((), (), (), ()), updated_at=NOW - 1, checked_at=NOW - 1
    )  # (and History: "no rollout history of clay-sync: no ReplicaSet with a revision seen")
    assert snap_compare(Host(reading), terminal_size=(80, 24))


def test_infra_view_without_colour(snap_compare, monkeypatch) -> None:
    """NO_COLOR: no colour at all; the highlighted row (the action) is bold and
    underlined (bold alone is lost among the bold counts and reasons) and its
    detail is under the list, so the selection shows without colour."""
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(Host(LIVE, ACTIONS, no_color=True), terminal_size=(80, 24))


# --------------------------------------------------------------------------
# The triage pane cites what Kubernetes says


class PaneHost(App[None]):
    """The triage pane, showing the assessment of a bad rollout with the infra reading."""

    def compose(self) -> ComposeResult:
        yield TriagePane(id="triage")

    def on_mount(self) -> None:
        sig = replace(signals(health_=live(HEALTH_DOWN), pods_=live(BAD_PODS)), infra=LIVE)
        self.query_one("#triage", TriagePane).show(Triage().update(assess(sig, Thresholds(), NOW)))


@SIZES
def test_triage_pane_cites_the_infrastructure(snap_compare, size) -> None:
    """The triage pane alone: "▶ Infrastructure: Health down: queue failing;
    0/3 pods ready: 3 CrashLoopBackOff — P1"; "Do now" leads with "· Roll back
    the last change to the deployment" (its key once the rollback action
    exists), its why under it ("the trouble began after the rollout to …");
    under Why, after the pods and health lines, the infra reasons wrapped, not
    cut: "Rollout to registry.example.com/clay-sync:1.14.3 (revision 7) 11 min
    ago (image app: … → …; env CLAY_TIMEOUT_MS: 2000 → 500); our health down
    (HTTP 503) since 10 min ago: first Unhealthy 60 s after it; 3 of 3 failing
    pods run this revision", the probe events with the probe's message, the
    FailedScheduling line with the scheduler's words, "Node n-2 MemoryPressure,
    cordoned (2 of our pods on it: …)"."""
    assert snap_compare(PaneHost(), terminal_size=size)
