"""PagerDuty and Grafana from the keyboard (issue 16): the cockpit against a
frozen secret-denied drill (real HTTPS to the drill's PagerDuty with the
official client, real HTTP to its Grafana with grafana-client).

One walk through the runbook, as a responder would:

- the page the drill triggered at its fault shows in the top bar
  (``☎ #1 TRIGGERED``); ``i`` declares, links the page and takes its start;
- the declaration's milestone note reaches the page and its annotation each
  Grafana dashboard; ``b`` opens the pages view, ``a`` acknowledges, ``n``
  adds a note;
- PagerDuty refuses the token: the severity the responder sets waits in the
  outbox, visibly (the pages view says why); the token restored, it is sent
  — nothing lost;
- the key update is refused (403 on the Secret): ``E`` pages the escalation
  target through the Events API, the payload carries the reason and the
  failed plan, the timeline records it; the admins' page shows in the
  pages view, and acknowledged (on their phone) it says so;
- resolving the incident asks whether to resolve the page; ``1`` resolves
  it; the timeline holds the page's whole story, and no token anywhere.
"""

from __future__ import annotations

import pytest
from test_app_actions_support import NEW_KEY, Drill, ready, type_text, until
from test_app_actions_support import own_state_dir as own_state_dir
from test_app_drill import _plan_key_update

from clay_cockpit.incident.timeline import EventKind, read
from clay_cockpit.screens.choose import ChoiceScreen
from clay_cockpit.screens.pages_view import NoteScreen, PagesScreen
from clay_cockpit.signals import SourceError
from clay_cockpit.sources.pagerduty import PagerDuty

pytestmark = pytest.mark.asyncio
SIZE = (100, 30)


def page(sim) -> dict:
    pages = [i for i in sim.pagerduty()["incidents"] if i["service_id"] == "PDRILL01"]
    assert len(pages) == 1, pages
    return pages[0]


def kinds(app) -> list[str]:
    return [str(e.kind) for e in app._desk.recorder.events()]


def badge_text(app) -> str:
    return str(app.main_screen.page_badge.content)


def outbox_text(app) -> str:
    return " ".join(str(app.screen.query_one("#pages-outbox").content).split())


@pytest.mark.scenario("secret-denied")
async def test_the_page_from_declaration_to_resolution_from_the_keyboard(sim, tmp_path, monkeypatch) -> None:
    for name, value in sim.env().items():  # the drill's tokens, as the demo passes them
        monkeypatch.setenv(name, value)
    config = sim.config_dict()
    config["pagerduty"]["refresh"] = 0.3
    monkeypatch.setattr(sim, "config_dict", lambda: config)
    sim.advance(40)  # the fault (and its page) began at second 20
    drill = Drill(sim, tmp_path)
    app = drill.app
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, drill)
        await until(pilot, lambda: "#1 TRIGGERED" in badge_text(app), what="the page in the top bar")
        triggered = page(sim)

        # i declares: the page is linked and the incident starts when it did
        await pilot.press("i")
        await until(pilot, lambda: EventKind.PAGE_LINKED in kinds(app), what="the page linked")
        inc = app._desk.recorder.open
        assert inc is not None and abs(inc.declared_at - (drill.clock.now - 20)) < 2, (inc.declared_at, drill.clock.now)
        await until(pilot, lambda: any("declared" in n for n in page(sim)["notes"]), what="the declaration's note")
        note = next(n for n in page(sim)["notes"] if "declared" in n)
        assert note.startswith(f"[clay-cockpit {inc.id}] declared: Incident {inc.id} declared")

        def declared_marks() -> list[dict]:
            return [m for m in sim.grafana()["annotations"] if "declared" in m["tags"]]

        await until(pilot, lambda: len(declared_marks()) == 2, what="the declaration's annotations")
        assert {m["dashboardUID"] for m in declared_marks()} == {"clay-sync-overview", "clay-api-errors"}
        assert all(inc.id in m["tags"] and "clay-cockpit" in m["tags"] for m in declared_marks())

        # b, a: acknowledged on PagerDuty and on the timeline; n: a note
        await pilot.press("b")
        await until(pilot, lambda: isinstance(app.screen, PagesScreen), what="the pages view")
        await pilot.press("a")
        await until(pilot, lambda: page(sim)["status"] == "acknowledged", what="acknowledged on PagerDuty")
        await until(pilot, lambda: EventKind.PAGE_ACKNOWLEDGED in kinds(app), what="the acknowledgement on the timeline")
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, NoteScreen), what="the note input")
        await type_text(pilot, "checking who can patch the Secret")
        await pilot.press("enter")
        await until(pilot, lambda: "checking who can patch the Secret" in page(sim)["notes"], what="the note on the page", timeout=60)

        # PagerDuty refuses the token: the severity set waits, visibly, and goes once it is back
        def severity_notes() -> int:
            return sum("] severity:" in n for n in page(sim)["notes"])

        await until(pilot, lambda: not app._paging.state.pending, what="the outbox empty")
        before = severity_notes()
        sim.pagerduty("revoke_token")
        await pilot.press("escape")
        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, ChoiceScreen), what="the severity picker")
        await pilot.press("2")  # P2
        await pilot.press("b")
        await until(pilot, lambda: isinstance(app.screen, PagesScreen), what="the pages view")
        await until(pilot, lambda: "waiting — auth_expired" in outbox_text(app), what="the note waiting, and why", timeout=40)
        assert severity_notes() == before
        sim.pagerduty("restore")
        await until(pilot, lambda: severity_notes() == before + 1, what="the severity's note, later", timeout=90)
        await until(pilot, lambda: "waiting" not in outbox_text(app), what="the outbox empty")

        # the key update is refused (403): E pages the escalation target, with the reason and the plan
        await pilot.press("escape")
        plan = await _plan_key_update(pilot, drill, NEW_KEY)
        assert plan.blocked is not None
        await pilot.press("escape")
        await until(pilot, lambda: not drill.actions.busy and app.screen is app.main_screen, what="back on the cockpit")
        await until(pilot, lambda: app._paging.state.denied is not None, what="the refusal read from the timeline")
        await pilot.press("E")
        await until(pilot, lambda: isinstance(app.screen, ChoiceScreen), what="the escalation asked")
        await pilot.press("1")
        await until(pilot, lambda: sim.pagerduty()["events"], what="the Events API trigger")
        event = sim.pagerduty()["events"][-1]
        assert event["dedup_key"] == f"clay-cockpit/{inc.id}" and event["event_action"] == "trigger"
        details = event["payload"]["custom_details"]
        assert "permission denied" in details["reason"] and "Clay API key" in details["failed plan"]
        await until(pilot, lambda: EventKind.PAGE_ESCALATED in kinds(app), what="the escalation on the timeline")
        # the admins' page shows in the pages view; acknowledged on their phone, the view says so
        raised = next(i for i in sim.pagerduty()["incidents"] if i["incident_key"] == f"clay-cockpit/{inc.id}")
        await pilot.press("b")
        await until(pilot, lambda: isinstance(app.screen, PagesScreen), what="the pages view")
        await until(pilot, lambda: f"#{raised['number']} triggered" in outbox_text(app), what="the escalation's page listed")
        admins = PagerDuty(drill.config.pagerduty, environ=sim.env())
        assert not isinstance(admins.acknowledge(raised["id"]), SourceError)
        await until(pilot, lambda: f"#{raised['number']} acknowledged" in outbox_text(app), what="the escalation acknowledged")
        await pilot.press("escape")

        # resolved: asked whether to resolve the page too; 1 resolves it
        await pilot.press("u")
        await until(pilot, lambda: isinstance(app.screen, ChoiceScreen), what="the status picker")
        await pilot.press("4")
        await until(pilot, lambda: isinstance(app.screen, ChoiceScreen) and "PagerDuty" in app.screen._title, what="asked about the page")
        await pilot.press("1")
        await until(pilot, lambda: page(sim)["status"] == "resolved", what="the page resolved")
        await until(pilot, lambda: EventKind.PAGE_RESOLVED in kinds(app), what="its resolution on the timeline")
        await until(pilot, lambda: any("] resolved:" in n for n in page(sim)["notes"]), what="the resolution's note")
        path = app._desk.timeline_path()
        assert triggered["id"] in path.read_text()

    events = read(path).events
    linked = next(e for e in events if e.kind == EventKind.PAGE_LINKED)
    assert linked.data["page_id"] == triggered["id"] and linked.data["number"] == 1
    acked = next(e for e in events if e.kind == EventKind.PAGE_ACKNOWLEDGED)
    assert acked.data["by"] == "cockpit"
    escalated = next(e for e in events if e.kind == EventKind.PAGE_ESCALATED)
    assert escalated.data["how"] == "events" and escalated.data["target"] == "CLAY_DRILL_PAGERDUTY_ROUTING_KEY"
    sent = [e for e in events if e.kind == EventKind.MILESTONE_SENT]
    assert {(e.data["channel"], e.data["milestone"]) for e in sent} >= {
        ("pagerduty", "declared"),
        ("grafana", "declared"),
        ("pagerduty", "severity"),
        ("pagerduty", "resolved"),
        ("grafana", "resolved"),
    }
    text = path.read_text()
    for secret in sim.env().values():
        assert secret not in text


@pytest.mark.scenario("key-revoked")
async def test_a_page_resolved_on_pagerduty_is_recorded_with_pagerduty_s_time(sim, tmp_path, monkeypatch) -> None:
    """The responder resolves the page on the phone: it leaves the open list, the cockpit reads its log
    once and records page_resolved by pagerduty at PagerDuty's time; the badge says no page is open."""
    for name, value in sim.env().items():
        monkeypatch.setenv(name, value)
    config = sim.config_dict()
    config["pagerduty"]["refresh"] = 0.3
    monkeypatch.setattr(sim, "config_dict", lambda: config)
    sim.advance(40)
    drill = Drill(sim, tmp_path)
    app = drill.app
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, drill)
        await until(pilot, lambda: "#1 TRIGGERED" in badge_text(app), what="the page in the top bar")
        await pilot.press("i")
        await until(pilot, lambda: app._paging.state.linked, what="the page linked")
        sim.advance(30)
        phone = PagerDuty(drill.config.pagerduty, environ=sim.env())
        assert not isinstance(phone.resolve(page(sim)["id"]), SourceError)
        resolved_at = float(sim.state()["now"])
        await until(pilot, lambda: EventKind.PAGE_RESOLVED in kinds(app), what="the resolution seen")
        event = next(e for e in app._desk.recorder.events() if e.kind == EventKind.PAGE_RESOLVED)
        assert event.data["by"] == "pagerduty" and abs(event.data["resolved_at"] - resolved_at) < 2
        await until(pilot, lambda: "☎ none" in badge_text(app), what="no page open")
        await until(pilot, lambda: app._paging.state.resolved_at is not None, what="the desk's state: resolved")
