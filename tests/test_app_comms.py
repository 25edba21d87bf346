"""Step 4 of the runbook in the running cockpit, from keys alone, against a
frozen drill (real sources, real HTTP; the drill's Slack and status page
through slack-sdk and httpx): declare (i), write the internal update (n),
edit, preview (ctrl+r), send (s) — the message is in the drill's Slack, the
second update is a reply in the thread and the summary at the top follows;
a failed send (bad token, Slack down) keeps the draft on screen and in the
incident, and ctrl+s retries; the status page update (e) with its status
chooser; the cadence reminder on a fake clock; the postmortem key (P);
nothing typed lost on quit.

Everything asserted is what the screen shows, what the drill's Slack and
status page hold, or what is in the incident's file.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import replace

import pytest
from textual.content import Content
from textual.widgets import Static, TextArea

from clay_cockpit.app import CockpitApp, make_app
from clay_cockpit.comms.context import clean_headline
from clay_cockpit.comms.core import Channel
from clay_cockpit.config import config_from_toml
from clay_cockpit.incident.timeline import EventKind, read
from clay_cockpit.screens.choose import ChoiceScreen
from clay_cockpit.screens.compose import ComposeScreen
from clay_cockpit.screens.preview import PreviewScreen
from clay_cockpit.signals import HealthSnapshot
from clay_cockpit.sources import Sources
from clay_cockpit.sources.slack import Slack
from clay_cockpit.sources.statusapi import StatusApi
from clay_cockpit.widgets.cadence import CadenceBadge

pytestmark = pytest.mark.asyncio
SIZE = (80, 24)
WARM_UP = 120.0  # drill seconds: the fault starts at 20 s; triage is sure by two minutes
TYPED = "Bridge: ana"  # short: each key is a round trip through the app


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class PinnedHealth:
    """The health source with its response time pinned (it varies with load)."""

    def __init__(self, inner) -> None:
        self._inner = inner

    async def fetch(self):
        result = await self._inner.fetch()
        return replace(result, response_ms=20.0) if isinstance(result, HealthSnapshot) else result


class DrillSources(Sources):
    @property
    def health(self):
        return PinnedHealth(super().health)


@pytest.fixture(autouse=True)
def drill_env(sim, tmp_path, monkeypatch):
    """A fresh state dir (no developer incident resumes), UTC, and the drill's
    Slack and status page tokens in the environment (as the demo sets them)."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    for name, value in sim.env().items():
        monkeypatch.setenv(name, value)
    yield
    monkeypatch.undo()
    time.tzset()


def comms_app(sim, tmp_path, clock: Clock | None = None) -> tuple[CockpitApp, Clock]:
    sim.advance(WARM_UP)
    data = sim.config_dict()
    for section in ("statuspage", "health", "metrics", "kube"):
        data[section]["refresh"] = 0.5
    config = config_from_toml(data, f"drill config ({sim.scenario.name})")
    clock = clock or Clock(float(sim.state()["now"]))
    sources = DrillSources(config)
    sources.kube.list_pods()  # load the kube client once, before the app's threads (see test_snapshots_drill)
    app = make_app(config, sources, clock=clock, title="comms drill", state_dir=tmp_path / "incidents", speed=float("inf"))
    return app, clock


async def until(pilot, cond: Callable[[], object], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def settled(app: CockpitApp) -> bool:
    desk = app._desk
    t = desk.triaged if desk is not None else None
    return t is not None and not desk.busy and t.pending is None and t.branch != "unknown"


def shown(widget: Static) -> str:
    content = widget.content
    return content.plain if isinstance(content, Content) else str(content)


def notes_of(app: CockpitApp) -> list[tuple[str, str]]:
    """Record every notification (title, message) the app shows from now on."""
    notes: list[tuple[str, str]] = []
    notify = app.notify

    def recording(message: str, **kwargs) -> None:
        notes.append((kwargs.get("title", ""), message))
        notify(message, **kwargs)

    app.notify = recording  # type: ignore[method-assign]
    return notes


async def declare(pilot, app: CockpitApp) -> None:
    await until(pilot, lambda: settled(app), what="triage to settle")
    await pilot.press("i")
    await until(pilot, lambda: app.desk.recorder.open is not None and not app.desk.busy, what="the declaration")


def compose(app: CockpitApp) -> ComposeScreen:
    assert isinstance(app.screen, ComposeScreen), type(app.screen)
    return app.screen


def editor(app: CockpitApp) -> TextArea:
    return compose(app).query_one("#compose-text", TextArea)


async def type_at_end(pilot, text: str) -> None:
    for _ in range(4):
        await pilot.press("pagedown")
    await pilot.press("end", "enter", *text)


def preview_shown(app: CockpitApp) -> str:
    assert isinstance(app.screen, PreviewScreen)
    return "\n".join(shown(s) for s in app.screen.query("#preview-scroll Static"))


def note(app: CockpitApp) -> str:
    return shown(compose(app).query_one("#compose-note", Static))


def kinds(app: CockpitApp) -> list[str]:
    return [str(e.kind) for e in read(app.desk.timeline_path()).events]


def thread_messages(app: CockpitApp, sim) -> tuple[dict, ...]:
    thread = app._comms.comms.thread()
    assert thread is not None
    got = Slack(app.config.slack, environ=sim.env()).replies(thread.channel_id, thread.thread_ts)
    assert isinstance(got, tuple), got
    return got


@pytest.mark.scenario("key-revoked")
async def test_internal_update_from_keys_alone(sim, tmp_path) -> None:
    app, clock = comms_app(sim, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        notes = notes_of(app)
        await declare(pilot, app)
        incident = app.desk.recorder.open

        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen), what="the editor")
        text = editor(app).text
        headline = clean_headline(app.desk.triaged.assessment.headline)  # triage's words, whatever they are
        assert headline.startswith("Credentials: Clay answers 401 to ") and text.startswith(f"P1 · Investigating — {headline}\n")
        assert "*Current action:* Verify the Clay API key in the Secret" in text and "*Next update:* by 00:17 UTC" in text
        head = shown(compose(app).query_one("#compose-head", Static))
        assert "Internal update → #inc-clay-drill, a new incident thread" in head
        assert editor(app).has_focus

        await type_at_end(pilot, TYPED)
        # autosaved with the incident after a pause in typing (in a worker)
        await until(
            pilot, lambda: (d := app._comms.comms.unsent(Channel.INTERNAL)) is not None and d.text.endswith(TYPED), what="the autosave"
        )
        await until(pilot, lambda: note(app).startswith("Saved 00:02:00 UTC"), what="the saved note")

        await pilot.press("ctrl+r")
        await until(pilot, lambda: isinstance(app.screen, PreviewScreen), what="the preview")
        body = preview_shown(app)
        assert body.startswith("→ #inc-clay-drill, a new incident thread")
        assert "As Slack shows it\nP1 · Investigating — Credentials: Clay answers 401" in body
        assert "\n\nSeverity: P1, Complete outage" in body  # *Severity:* rendered bold, without its marks
        assert "The summary at the top of the thread, after this send" in body
        assert "Plain-text fallback (notifications)\nP1 · Investigating" in body and body.rstrip().endswith(TYPED)
        assert "*Severity:* P1, Complete outage (respond < 15 min)" in body  # the fallback as shown: marks kept, unescaped
        assert sim.state()["slack_messages"] == 0

        await pilot.press("s")  # sends, in a worker
        await until(pilot, lambda: sim.state()["slack_messages"] == 2, what="the thread in the drill's Slack")
        await until(pilot, lambda: not isinstance(app.screen, (ComposeScreen, PreviewScreen)), what="back to the cockpit")
        msgs = thread_messages(app, sim)
        assert msgs[0]["text"].startswith(incident.id) and msgs[1]["text"].endswith(TYPED)
        assert msgs[1]["thread_ts"] == msgs[0]["ts"]
        await until(pilot, lambda: any(t == "Internal update sent" for t, _ in notes), what="the sent notification")
        sent = next(m for t, m in notes if t == "Internal update sent")
        assert sent == "#inc-clay-drill: incident thread opened, update posted in the thread"
        assert kinds(app).count("message_sent") == 2 and "slack_update" in app.desk.recorder.incident.ticks
        assert app._comms.comms.unsent(Channel.INTERNAL) is None

        # the status changes; the second update is a reply in the thread, the summary follows
        clock.now += 300
        await pilot.press("u")
        await until(pilot, lambda: isinstance(app.screen, ChoiceScreen), what="the status picker")
        await pilot.press("2")
        await until(pilot, lambda: app.desk.recorder.incident.status == "identified", what="identified")
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen), what="the editor again")
        assert editor(app).text.startswith("P1 · Identified — ") and TYPED not in editor(app).text  # a fresh draft
        assert "a reply in the incident thread" in shown(compose(app).query_one("#compose-head", Static))
        await pilot.press("ctrl+s")  # straight from the editor
        await until(pilot, lambda: sim.state()["slack_messages"] == 3, what="the reply")
        await until(pilot, lambda: not isinstance(app.screen, ComposeScreen), what="back to the cockpit")
        msgs = thread_messages(app, sim)
        assert msgs[2]["text"].startswith("P1 · Identified") and msgs[2]["thread_ts"] == msgs[0]["ts"]
        assert "edited" in msgs[0] and "Identified" in msgs[0]["text"]  # the top message is current
        await until(pilot, lambda: sum(t == "Internal update sent" for t, _ in notes) == 2, what="the second notification")
        assert [m for t, m in notes if t == "Internal update sent"][-1] == (
            "#inc-clay-drill: update posted in the thread, summary at the top updated"
        )
        assert kinds(app).count("message_sent") == 4


FAILURES = ["invalid_auth", "slack_down"]


@pytest.mark.parametrize("failure", FAILURES)
@pytest.mark.scenario("key-revoked")
async def test_a_failed_send_keeps_the_draft_and_retry_sends_it(sim, tmp_path, monkeypatch, failure: str) -> None:
    app, _ = comms_app(sim, tmp_path)
    token = sim.env()["CLAY_DRILL_SLACK_TOKEN"]
    async with app.run_test(size=SIZE) as pilot:
        await declare(pilot, app)
        if failure == "invalid_auth":
            monkeypatch.setenv("CLAY_DRILL_SLACK_TOKEN", "xoxb-revoked-" + "4" * 20)
        else:
            sim.stop_service("slack")
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen), what="the editor")
        await type_at_end(pilot, TYPED)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: note(app).startswith("✗ Not sent"), timeout=30, what="the failure on screen")
        said = note(app)
        if failure == "invalid_auth":
            assert "Slack refused the token in $CLAY_DRILL_SLACK_TOKEN (invalid_auth)" in said
        else:
            assert "cannot reach Slack at http://127.0.0.1:" in said and "connection refused" in said
        assert said.endswith("· ctrl+s retries") and said.count("the draft is kept") == 1 and token not in said
        assert editor(app).text.endswith(TYPED)  # still in the editor
        kept = app._comms.comms.unsent(Channel.INTERNAL)
        assert kept is not None and kept.text.endswith(TYPED)  # and in the incident
        assert "message_failed" in kinds(app) and "message_sent" not in kinds(app)
        assert sim.state()["slack_messages"] == 0

        if failure == "invalid_auth":
            monkeypatch.setenv("CLAY_DRILL_SLACK_TOKEN", token)
        else:
            sim.start_service("slack")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: sim.state()["slack_messages"] == 2, timeout=30, what="the retry")
        await until(pilot, lambda: not isinstance(app.screen, ComposeScreen), what="back to the cockpit")
        assert thread_messages(app, sim)[1]["text"].endswith(TYPED)
        assert app._comms.comms.unsent(Channel.INTERNAL) is None


@pytest.mark.scenario("clay-outage")
async def test_status_page_update_with_its_status(sim, tmp_path) -> None:
    app, _ = comms_app(sim, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        notes = notes_of(app)
        await declare(pilot, app)
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen), what="the editor")
        screen = compose(app)
        assert screen.channel == Channel.EXTERNAL
        assert "Status page update → status page, a new incident" in shown(screen.query_one("#compose-head", Static))
        text = editor(app).text
        assert text.startswith("We are investigating") and "clay" not in text.lower()  # customers' words
        await until(
            pilot,
            lambda: "Contact enrichment → major outage" in shown(screen.query_one("#compose-meta", Static)),
            what="the component names",
        )
        assert shown(screen.query_one("#compose-meta", Static)).startswith("Status Investigating (ctrl+t)")
        assert not screen.query_one("#compose-flags", Static).display

        await pilot.press("ctrl+t")
        await until(pilot, lambda: isinstance(app.screen, ChoiceScreen), what="the status chooser")
        await pilot.press("2")
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen), what="the editor")
        await until(pilot, lambda: "identified" in editor(app).text, what="the text for identified")
        assert shown(screen.query_one("#compose-meta", Static)).startswith("Status Identified")

        # an internal name typed into the customer text is flagged (sending is still possible)
        await type_at_end(pilot, "clay-sync")
        await until(pilot, lambda: screen.query_one("#compose-flags", Static).display, what="the flag")
        assert "clay-sync" in shown(screen.query_one("#compose-flags", Static))
        await pilot.press("ctrl+z")  # the editor's undo
        await until(pilot, lambda: not screen.query_one("#compose-flags", Static).display, what="no flag")

        await pilot.press("ctrl+r")
        await until(pilot, lambda: isinstance(app.screen, PreviewScreen), what="the preview")
        body = preview_shown(app)
        assert body.startswith("→ status page, a new incident")
        assert "As customers see it on the status page\nService disruption\n\nIdentified — " in body
        assert "This incident affects: Contact enrichment → major outage" in body
        await pilot.press("s")
        await until(pilot, lambda: sim.state()["statusapi_incidents"] == 1, what="the status page incident")
        await until(pilot, lambda: not isinstance(app.screen, (ComposeScreen, PreviewScreen)), what="back to the cockpit")
        page = app._comms.comms.page_incident()
        got = StatusApi(app.config.external_status, environ=sim.env()).get_incident(page.incident_id)
        assert got.status == "identified" and got.name == "Service disruption"
        await until(pilot, lambda: any(t == "Status page update sent" for t, _ in notes), what="the notification")
        assert "status page incident created (identified)" in next(m for t, m in notes if t == "Status page update sent")
        assert "status_page_update" in app.desk.recorder.incident.ticks


@pytest.mark.scenario("key-revoked")
async def test_cadence_countdown_and_reminder_on_a_fake_clock(sim, tmp_path) -> None:
    app, clock = comms_app(sim, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        notes = notes_of(app)
        badge = app.main_screen.query_one(CadenceBadge)
        assert not badge.display  # no incident, no countdown
        await declare(pilot, app)
        # nothing sent yet: due at once, and said once
        await until(pilot, lambda: ("Stakeholder update due", "no update sent yet — n writes it") in notes, what="the first reminder")
        assert shown(badge).startswith("✉ update due")
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen), what="the editor")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not isinstance(app.screen, ComposeScreen), timeout=30, what="the send")
        await until(pilot, lambda: shown(badge) == "✉ update in 15:00 · page due", what="the countdown")
        assert sum(t == "Stakeholder update due" for t, _ in notes) == 1

        clock.now += 14 * 60
        await until(pilot, lambda: shown(badge).startswith("✉ update in 1:00"), what="a minute left")
        assert sum(t == "Stakeholder update due" for t, _ in notes) == 1
        clock.now += 60  # P1: every 15 minutes
        await until(pilot, lambda: sum(t == "Stakeholder update due" for t, _ in notes) == 2, what="the reminder on time")
        assert ("Stakeholder update due", "P1: every 15 min — n writes it") in notes
        assert shown(badge).startswith("✉ update due")
        first = app._comms.comms.sync().last_sent[Channel.INTERNAL]

        await pilot.press("n")  # one key away: a fresh draft with the new times
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen), what="the editor")
        assert compose(app).draft.id != first.draft_id and "*Next update:* by 00:32 UTC" in editor(app).text
        clock.now += 5 * 60
        await pilot.press("escape")
        await until(pilot, lambda: shown(badge).startswith("✉ update overdue 5:00"), what="overdue")


@pytest.mark.scenario("key-revoked")
async def test_a_reminder_waits_while_a_modal_is_up(sim, tmp_path) -> None:
    """An update falls due while the responder is in the help screen (or
    typing a confirmation): the top bar says so, but no reminder covers the
    modal; it shows once the main screen is back."""
    app, clock = comms_app(sim, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        notes = notes_of(app)
        badge = app.main_screen.query_one(CadenceBadge)
        await declare(pilot, app)
        await until(pilot, lambda: ("Stakeholder update due", "no update sent yet — n writes it") in notes, what="the first reminder")
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen), what="the editor")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not isinstance(app.screen, ComposeScreen), timeout=30, what="the send")
        await until(pilot, lambda: shown(badge) == "✉ update in 15:00 · page due", what="the countdown")
        await pilot.press("question_mark")
        await until(pilot, lambda: app.screen is not app.main_screen, what="the help screen")
        clock.now += 15 * 60
        await until(pilot, lambda: shown(badge).startswith("✉ update due"), what="due in the top bar")
        await pilot.pause(2.5)  # a couple of the desk's one-second looks
        assert sum(t == "Stakeholder update due" for t, _ in notes) == 1, "a reminder covered the help screen"
        await pilot.press("escape")
        await until(pilot, lambda: sum(t == "Stakeholder update due" for t, _ in notes) == 2, what="the reminder back on the main screen")


@pytest.mark.scenario("key-revoked")
async def test_postmortem_key_writes_the_file(sim, tmp_path) -> None:
    app, _ = comms_app(sim, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        notes = notes_of(app)
        await declare(pilot, app)
        incident = app.desk.recorder.open
        out = tmp_path / "incidents" / "postmortems" / f"{incident.id}.md"
        await pilot.press("P")
        await until(pilot, lambda: any(t == "Postmortem written" for t, _ in notes), what="the postmortem")
        assert next(m for t, m in notes if t == "Postmortem written") == f"{out} · DRAFT: the incident is still open"
        text = out.read_text()
        assert text.startswith(f"# Postmortem: {incident.id}") or incident.id in text.splitlines()[0]
        assert "**DRAFT**" in text and "Credentials" in text
        assert sim.env()["CLAY_DRILL_SLACK_TOKEN"] not in text
        # the live sparklines went on the timeline first: the chart reaches the moment it was written
        snap = [e for e in read(app.desk.timeline_path()).events if e.summary == "Evidence snapshot (for the postmortem)"]
        assert len(snap) == 1 and "Clay 401" in snap[0].data["metrics"]["history"]
        assert "The error-rate series as the pane drew them, kept by 2 evidence snapshot(s)" in text
        out.write_text("the team's sections")
        await pilot.press("P")  # it exists: not replaced without a second P
        await until(pilot, lambda: any(t == "Postmortem not written" for t, _ in notes), what="the refusal")
        assert "P again within 10 s replaces it" in next(m for t, m in notes if t == "Postmortem not written")
        assert out.read_text() == "the team's sections"
        await pilot.press("P")
        await until(pilot, lambda: sum(t == "Postmortem written" for t, _ in notes) == 2, what="the replacement")
        assert "**DRAFT**" in out.read_text()


@pytest.mark.scenario("key-revoked")
async def test_text_typed_just_before_quitting_is_kept(sim, tmp_path) -> None:
    app, _ = comms_app(sim, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await declare(pilot, app)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen), what="the editor")
        await type_at_end(pilot, "last words")
        await pilot.press("ctrl+q")  # before the autosave's pause is over
    path = app.desk.timeline_path()
    drafts = [e for e in read(path).events if str(e.kind) == "message_drafted"]
    assert drafts and drafts[-1].data["text"].endswith("last words")


def footer_keys(screen) -> list[str]:
    from textual.widgets._footer import FooterKey

    return [k.key for k in screen.query(FooterKey)]


@pytest.mark.scenario("key-revoked")
async def test_the_preview_shows_and_takes_only_its_own_keys(sim, tmp_path) -> None:
    """The preview's footer lists send and back, nothing of the cockpit
    behind it; the cockpit's keys (d, u, 1, n …) do nothing there."""
    app, _ = comms_app(sim, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await declare(pilot, app)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen), what="the editor")
        await pilot.press("ctrl+r")
        await until(pilot, lambda: isinstance(app.screen, PreviewScreen), what="the preview")
        preview = app.screen
        await until(pilot, lambda: footer_keys(preview), what="the footer")
        assert footer_keys(preview) == ["s", "escape"]
        status = app.desk.recorder.incident.status
        await pilot.press("u", "d", "1", "n", "a", "question_mark")
        await pilot.pause(0.3)
        assert app.screen is preview and app.desk.recorder.incident.status == status
        assert sim.state()["slack_messages"] == 0
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen), what="back in the editor")


def record_verified_fix(app: CockpitApp, at: float) -> str:
    """What the actions desk writes for a key update whose 401s ended (docs/events.md)."""
    store = app.desk.recorder.store
    plan = {"plan_id": "update_key-1", "action": "update_key", "runbook": "update_key", "title": "Update the Clay API key: Secret clay-api"}
    store.record(EventKind.ACTION_PLANNED, "Confirmed: Update the Clay API key: Secret clay-api (name typed)", plan, now=at)
    store.record(EventKind.ACTION_APPLIED, "Applied: Update the Clay API key: Secret clay-api", {"plan_id": "update_key-1"}, now=at)
    ended = "Mitigated: 401s stopped at 00:03:14 (0 of the last 50 logged calls failed; metrics agree)"
    store.record(
        EventKind.SYMPTOM_ENDED,
        ended,
        {
            "plan_id": "update_key-1",
            "action": "update_key",
            "runbook": "update_key",
            "symptom": "auth_errors",
            "label": "401s",
            "applied_at": at,
            "ended_at": at + 30,
            "basis": "logs+metrics",
            "evidence": "0 of the last 50 logged calls failed",
            "metrics_agree": True,
            "before": "401 on 100% of calls",
        },
        now=at + 40,
    )
    return ended


@pytest.mark.scenario("key-revoked")
async def test_drafts_follow_the_facts_and_an_edited_one_says_what_changed(sim, tmp_path) -> None:
    """The status page draft typed by hand is kept after the fix worked,
    and the editor says what changed (ctrl+n twice starts again from the
    facts); an untouched draft is made again: monitoring, in customers'
    words; the internal one says what worked."""
    app, clock = comms_app(sim, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await declare(pilot, app)
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen), what="the status page editor")
        assert editor(app).text.startswith("We are investigating")
        await type_at_end(pilot, TYPED)
        await until(
            pilot, lambda: (d := app._comms.comms.unsent(Channel.EXTERNAL)) is not None and d.text.endswith(TYPED), what="the autosave"
        )
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ComposeScreen), what="back to the cockpit")

        ended = record_verified_fix(app, clock.now + 60)
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen), what="the editor again")
        assert editor(app).text.endswith(TYPED)  # nothing typed is lost
        said = note(app)
        assert said.startswith("Changed since this draft was written: ") and "what was done" in said
        assert "the status customers should see" in said and "ctrl+n (twice) starts again" in said
        await pilot.press("ctrl+n", "ctrl+n")
        await until(pilot, lambda: editor(app).text.startswith("A fix has been put in place"), what="the fresh draft")
        meta = shown(compose(app).query_one("#compose-meta", Static))
        assert meta.startswith("Status Monitoring (ctrl+t)") and TYPED not in editor(app).text
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ComposeScreen), what="back to the cockpit")

        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen), what="the internal editor")
        text = editor(app).text
        assert "*Current action:* monitoring: 401s ended at " in text and f"Secret clay-api: worked — {ended}" in text
        impact = re.search(
            r"^\*Impact:\* (401s ended at \d\d:\d\d:\d\d UTC \(the logs\); the 1-minute error rate still shows )?"
            r"\d+% of Clay calls fail \([\d.]+ of [\d.]+/s\)(, the most so far|, as at its peak \(\d\d:\d\d UTC\)"
            r"|; the most errors were at \d\d:\d\d UTC: [\d.]+ of [\d.]+ Clay calls/s failed \(\d+%\))$",
            text,
            re.MULTILINE,
        )
        assert impact, text  # the numbers now, and the peak the error-rate pane drew


@pytest.mark.scenario("key-revoked")
async def test_a_team_rule_counts_down_reminds_and_is_met_by_a_page_update(sim, tmp_path, monkeypatch) -> None:
    """A team runbook's "P1 needs a status page update within 10 minutes" (issue 18; the app's runbook
    replaced in process): the top bar counts down to it first, a toast says when 2 minutes are left and when it
    is missed (once each), and a status page update sent from the keyboard meets it (the countdown goes)."""
    from clay_cockpit.runbook_file import Constraint, Severity
    from clay_cockpit.screens import comms_desk

    rule = Constraint("update_within", severity=Severity.P1, channel="status_page", minutes=10.0, why="customers look there first")
    monkeypatch.setattr(comms_desk, "RUNBOOK", replace(comms_desk.RUNBOOK, constraints=(rule,)))
    app, clock = comms_app(sim, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        notes = notes_of(app)
        badge = app.main_screen.query_one(CadenceBadge)
        await declare(pilot, app)
        await until(pilot, lambda: re.match(r"✉ page due in \d+:\d\d · update due", shown(badge)), what="the rule's countdown first")
        (rule_clock,) = app._comms.rule_clocks()
        assert rule_clock.due == app.desk.recorder.incident.declared_at + 600  # P1 from the declaration (its time)
        clock.now = rule_clock.due - 119
        await until(pilot, lambda: any(t == "Runbook rule due soon" for t, _ in notes), what="the 2-minute reminder")
        said = next(m for t, m in notes if t == "Runbook rule due soon")
        assert said == "the runbook: P1 needs a status page update within 10 min: customers look there first — 1:59 left — e writes it"
        clock.now = rule_clock.due + 61
        await until(pilot, lambda: shown(badge).startswith("✉ page late 1:01"), what="late")
        await until(pilot, lambda: any(t == "Runbook rule missed" for t, _ in notes), what="the missed reminder")
        await pilot.pause(1.5)
        assert [t for t, _ in notes].count("Runbook rule missed") == 1 and [t for t, _ in notes].count("Runbook rule due soon") == 1
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen), what="the editor")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: sim.state()["statusapi_incidents"] == 1, timeout=30, what="the status page incident")
        await until(pilot, lambda: "page" not in shown(badge), what="the rule met: no page countdown")
