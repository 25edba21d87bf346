"""Comms end to end against the drill: drafts from triage's real assessment
of a key-revoked drill, sent through slack-sdk and httpx to the drill's
Slack and status page — the thread opened, replied to and its summary kept
current; a restarted cockpit continuing the same thread; every failure
keeping the draft (in the timeline, found again after a restart).

One key-revoked drill per module (its assessment computed once through the
real sources); each test has its own state dir and leaves the drill with no
fault and every service up.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import replace

import pytest

from clay_cockpit.comms.context import clean_headline
from clay_cockpit.comms.core import Channel, Comms, DueState
from clay_cockpit.comms.state import MESSAGE_FAILED
from clay_cockpit.config import config_from_toml
from clay_cockpit.incident.lifecycle import IncidentStore
from clay_cockpit.incident.recorder import Recorder
from clay_cockpit.incident.timeline import EventKind, read
from clay_cockpit.signals import ErrorKind, Reading, Signals
from clay_cockpit.sources import Sources
from clay_cockpit.sources.slack import Slack
from clay_cockpit.sources.statusapi import StatusApi
from clay_cockpit.triage.tree import Triage, assess, refresh_intervals

FROZEN_AT = 1_767_225_600.0
FAULT_AT = 80.0  # drill seconds: the key was revoked at 20 s; by 80 s triage is sure


class World:
    def __init__(self, sim) -> None:
        self.sim = sim
        self.config = config_from_toml(sim.config_dict(), "drill.toml")
        sim.advance(FAULT_AT)
        self.now = FROZEN_AT + FAULT_AT
        src = Sources(self.config)

        async def both():
            return await asyncio.gather(src.statuspage.fetch(), src.health.fetch())

        sp, health = asyncio.run(both())
        self.signals = Signals(
            statuspage=Reading().with_result(sp, self.now),
            health=Reading().with_result(health, self.now),
            metrics=Reading().with_result(src.metrics.fetch(), self.now),
            pods=Reading().with_result(src.kube.list_pods(), self.now),
            at=self.now,
        )
        self.assessment = assess(self.signals, self.config.thresholds, self.now, refresh=refresh_intervals(self.config))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from clay_cockpit.sim.background import start_background

    handle = start_background("key-revoked", seed=7, freeze_at=FROZEN_AT, workdir=tmp_path_factory.mktemp("comms-drill"))
    try:
        yield World(handle)
    finally:
        handle.stop()


class Cockpit:
    """One cockpit's comms on a state dir, with a fake clock and recorded retry waits."""

    def __init__(self, world: World, state_dir, clock: list[float], *, declare: bool = True, config=None, environ=None) -> None:
        self.world, self.clock, self.sleeps = world, clock, []
        self.config = config or world.config
        self.store = IncidentStore(state_dir, actor="ana@bastion-1", clock=lambda: clock[0])
        if declare:  # as the app does it: triage's stable result through the recorder
            triaged = Triage(samples=1, seconds=0.0, calm_seconds=0.0).update(world.assessment)
            recorder = Recorder(self.store, clock=lambda: clock[0])
            declaration = recorder.prepare(triaged, world.signals)
            recorder.declare(declaration)
            recorder.attached(triaged, declaration)
        else:
            self.store.resume()
        env = world.sim.env() if environ is None else environ
        self.slack = Slack(self.config.slack, environ=env, sleep=self.sleeps.append, clock=lambda: clock[0])
        self.status = StatusApi(self.config.external_status, environ=env, sleep=self.sleeps.append)
        self.comms = Comms(self.config, self.store, slack=self.slack, statusapi=self.status, clock=lambda: clock[0])

    def thread_messages(self) -> tuple[dict, ...]:
        t = self.comms.thread()
        assert t is not None
        got = Slack(self.world.config.slack, environ=self.world.sim.env()).replies(t.channel_id, t.thread_ts)
        assert isinstance(got, tuple), got
        return got

    def kinds(self) -> list[str]:
        return [str(e.kind) for e in read(self.store.timeline.path).events]


@pytest.fixture
def clock(world) -> list[float]:
    return [world.now]


@pytest.fixture
def cockpit(world, tmp_path, clock):
    c = Cockpit(world, tmp_path / "state", clock)
    yield c
    c.store.close()
    for name in ("slack", "statusapi"):
        world.sim.clear_fault(name)
        world.sim.start_service(name)


def test_shipped_drafts_from_a_real_assessment(cockpit: Cockpit) -> None:
    """The internal draft carries severity, impact, current action, next
    update time and triage's reasons with their numbers; the customer draft
    carries none of the internal names or numbers (no flag at all)."""
    a = cockpit.world.assessment
    assert a.branch.value == "credentials" and a.severity.value == "P1", a.headline
    internal = cockpit.comms.draft(Channel.INTERNAL, assessment=a)
    text = internal.text
    assert text.startswith("P1 · Investigating — Credentials: Clay answers 401")
    assert "*Current action:* Verify the Clay API key in the Secret" in text
    assert "*Next update:* by 00:16 UTC (in 15 min)" in text
    assert "401 at " in text and "/s" in text and "Clay's status page" in text  # reasons with numbers
    assert internal.summary.startswith(cockpit.store.incident.id)
    assert cockpit.comms.check(internal) == ()

    external = cockpit.comms.draft(Channel.EXTERNAL, assessment=a)
    assert external.title == "Service disruption" and external.components == (("drillcomp01", "major_outage"),)
    assert external.text.startswith("We are investigating an issue")
    assert "00:16 UTC" in external.text
    assert cockpit.comms.check(external) == ()


def test_drafts_from_what_the_recorder_wrote(cockpit: Cockpit) -> None:
    """Without the live assessment (a restarted cockpit before triage
    settles), the draft uses the brief the recorder kept with the branch."""
    events = cockpit.store.events()
    assert [str(e.kind) for e in events][:3] == ["incident_declared", "evidence_snapshot", "branch_changed"]
    draft = cockpit.comms.draft(Channel.INTERNAL)
    recorded = clean_headline(next(e for e in events if str(e.kind) == "branch_changed").data["headline"])
    assert recorded.startswith("Credentials: Clay answers 401 to ") and draft.text.startswith(f"P1 · Investigating — {recorded}\n")
    assert "• 401 at " in draft.text and "(Credentials, high confidence)" in draft.text
    assert "*Current action:* Verify the Clay API key in the Secret" in draft.text


def test_first_send_opens_the_thread_then_replies_and_updates_the_summary(cockpit: Cockpit, clock) -> None:
    comms = cockpit.comms
    assert comms.cadence().state is DueState.DUE  # nothing sent yet
    first = comms.open_draft(Channel.INTERNAL)
    result = comms.send(first)
    assert result.ok, result.line()
    assert [s.role for s in result.sent] == ["summary", "update"]
    thread = comms.thread()
    assert thread is not None and thread.where == "#inc-clay-drill" and thread.channel_id == "C0INCDRILL"
    msgs = cockpit.thread_messages()
    assert len(msgs) == 2 and msgs[0]["text"].startswith(cockpit.store.incident.id) and "edited" not in msgs[0]
    assert msgs[1]["thread_ts"] == thread.thread_ts and msgs[1]["blocks"][0]["type"] == "header"
    assert "slack_update" in cockpit.store.incident.ticks
    cad = comms.cadence()
    assert cad.state is DueState.WAITING and cad.due_at == clock[0] + 15 * 60

    clock[0] += 300
    cockpit.store.set_status("identified")
    second = comms.open_draft(Channel.INTERNAL)
    assert second.id != first.id and "Identified" in second.text
    result = comms.send(second.with_text(second.text + "\nKey rotation under way."))
    assert result.ok, result.line()
    assert [s.role for s in result.sent] == ["update", "summary_edit"]
    msgs = cockpit.thread_messages()
    assert len(msgs) == 3 and msgs[2]["text"].endswith("Key rotation under way.")
    assert "edited" in msgs[0] and "Identified" in msgs[0]["text"]  # the top message is current
    assert cockpit.kinds().count("message_sent") == 4


def test_a_restarted_cockpit_continues_the_same_thread(cockpit: Cockpit, world, tmp_path, clock) -> None:
    assert cockpit.comms.send(cockpit.comms.open_draft(Channel.INTERNAL)).ok
    thread = cockpit.comms.thread()
    cockpit.store.close()

    clock[0] += 600
    again = Cockpit(world, tmp_path / "state", clock, declare=False)
    try:
        assert again.store.incident is not None and again.comms.thread() == thread
        result = again.comms.send(again.comms.open_draft(Channel.INTERNAL))
        assert result.ok, result.line()
        assert [s.role for s in result.sent] == ["update", "summary_edit"]
        assert all(s.thread_ts == thread.thread_ts for s in result.sent)
        assert len(again.thread_messages()) == 3
    finally:
        again.store.close()


FAILURES = {
    "rate_limited": (ErrorKind.RATE_LIMITED, lambda sim: sim.fault("slack", status=429, times=20), {}),
    "invalid_auth": (ErrorKind.AUTH_EXPIRED, None, {"CLAY_DRILL_SLACK_TOKEN": "xoxb-revoked-" + "4" * 20}),
    "channel_not_found": (ErrorKind.FORBIDDEN, None, "channel"),
    "network_down": (ErrorKind.UNREACHABLE, lambda sim: sim.stop_service("slack"), {}),
}


@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_a_failed_send_keeps_the_draft(world, tmp_path, clock, failure: str) -> None:
    """The edited draft is saved before sending; after the failure it is the
    unsent draft — here and in a restarted cockpit — and sends once the
    cause is gone."""
    kind, break_it, env = FAILURES[failure]
    config = world.config
    if env == "channel":
        config = replace(config, slack=replace(config.slack, channel="#inc-gone"))
        env = {}
    broken = Cockpit(world, tmp_path / "state", clock, config=config, environ={**world.sim.env(), **env})
    try:
        if break_it:
            break_it(world.sim)
        draft = broken.comms.open_draft(Channel.INTERNAL)
        draft = draft.with_text(draft.text + "\nTyped by hand: call me on the bridge.")
        result = broken.comms.send(draft)
        assert not result.ok and result.error is not None and result.error.kind is kind, result.line()
        assert result.draft.text == draft.text
        assert "Not sent" in result.line() and result.error.hint
        assert world.sim.env()["CLAY_DRILL_SLACK_TOKEN"] not in result.line()
        kept = broken.comms.unsent(Channel.INTERNAL)
        assert kept is not None and kept.text == draft.text and kept.id == draft.id
        assert MESSAGE_FAILED in broken.kinds() and "message_sent" not in broken.kinds()
        broken.store.close()
    finally:
        world.sim.clear_fault("slack")
        world.sim.start_service("slack")

    fixed = Cockpit(world, tmp_path / "state", clock, declare=False)
    try:
        resumed = fixed.comms.open_draft(Channel.INTERNAL)
        assert resumed.id == draft.id and resumed.text.endswith("call me on the bridge.")
        result = fixed.comms.send(resumed)
        assert result.ok, result.line()
        assert fixed.comms.unsent(Channel.INTERNAL) is None
        assert fixed.thread_messages()[-1]["text"].endswith("call me on the bridge.")
    finally:
        fixed.store.close()


def test_a_vanished_thread_gets_a_new_one(cockpit: Cockpit) -> None:
    cockpit.store.record(
        EventKind.MESSAGE_SENT,
        "Incident thread opened in #inc-clay-drill",
        {
            "channel": "internal",
            "role": "summary",
            "where": "#inc-clay-drill",
            "slack_channel": "C0INCDRILL",
            "ts": "1000.000001",
            "thread_ts": "1000.000001",
            "draft_id": "d-old",
            "text": "old",
        },
    )
    result = cockpit.comms.send(cockpit.comms.open_draft(Channel.INTERNAL))
    assert result.ok, result.line()
    assert any("new one was opened" in w for w in result.warnings)
    assert cockpit.comms.thread().thread_ts != "1000.000001"


def test_another_channel_in_the_config_gets_its_own_thread(cockpit: Cockpit, world, clock) -> None:
    assert cockpit.comms.send(cockpit.comms.open_draft(Channel.INTERNAL)).ok
    first = cockpit.comms.thread()
    general = replace(world.config, slack=replace(world.config.slack, channel="#general"))
    other = Comms(general, cockpit.store, slack=Slack(general.slack, environ=world.sim.env()), clock=lambda: clock[0])
    assert "a new incident thread" in other.preview(other.open_draft(Channel.INTERNAL)).where
    result = other.send(other.open_draft(Channel.INTERNAL))
    assert result.ok and result.sent[0].role == "summary" and other.thread().channel_id == "C0GENERAL1" != first.channel_id


def test_one_send_at_a_time(cockpit: Cockpit, world) -> None:
    world.sim.fault("slack", delay=2.0, times=1)
    draft = cockpit.comms.open_draft(Channel.INTERNAL)
    before = len(world.sim.requests("slack"))
    results = []
    worker = threading.Thread(target=lambda: results.append(cockpit.comms.send(draft)))
    worker.start()
    deadline = time.monotonic() + 10
    while len(world.sim.requests("slack")) == before and time.monotonic() < deadline:  # the first send is on the wire
        time.sleep(0.02)
    second = cockpit.comms.send(draft)
    worker.join(10)
    assert not second.ok and "another send is in progress" in second.error.message
    assert results and results[0].ok


def test_secrets_are_redacted_before_saving_and_sending(cockpit: Cockpit) -> None:
    leak = "xoxb-1234567890-abcdefghijklmnop"
    draft = cockpit.comms.open_draft(Channel.INTERNAL)
    draft = draft.with_text(draft.text + f"\nold token was {leak}")
    assert any(f.kind == "secret" for f in cockpit.comms.check(draft))
    assert cockpit.comms.send(draft).ok
    assert leak not in cockpit.store.timeline.path.read_text()
    assert all(leak not in m["text"] and leak not in str(m.get("blocks")) for m in cockpit.thread_messages())


def test_saving_the_same_draft_twice_writes_once_and_discard_forgets_it(cockpit: Cockpit) -> None:
    draft = cockpit.comms.open_draft(Channel.INTERNAL)
    first = cockpit.comms.save(draft)
    second = cockpit.comms.save(first.draft)
    assert first.ok and second.ok and second.draft.seq == first.draft.seq
    assert cockpit.kinds().count("message_drafted") == 1
    edited = cockpit.comms.save(first.draft.with_text("P1 · edited\nbody"))
    assert edited.draft.seq > first.draft.seq and cockpit.comms.unsent(Channel.INTERNAL).text == "P1 · edited\nbody"
    cockpit.comms.discard(edited.draft)
    assert cockpit.comms.unsent(Channel.INTERNAL) is None
    assert cockpit.comms.open_draft(Channel.INTERNAL).id != draft.id


def test_text_typed_after_a_send_is_a_new_draft(cockpit: Cockpit) -> None:
    draft = cockpit.comms.open_draft(Channel.INTERNAL)
    assert cockpit.comms.send(draft).ok
    later = cockpit.comms.save(draft.with_text(draft.text + "\nA follow-up typed after sending."))
    assert later.ok and later.draft.id != draft.id
    assert cockpit.comms.unsent(Channel.INTERNAL).text.endswith("A follow-up typed after sending.")


def test_status_page_create_update_resolve(cockpit: Cockpit, clock) -> None:
    comms = cockpit.comms
    first = comms.open_draft(Channel.EXTERNAL)
    assert "a new incident" in comms.preview(first).where
    assert comms.load_component_names() == {"drillcomp01": "Contact enrichment"}
    assert comms.preview(first).blocks[1].text == "Investigating · Contact enrichment → major outage"
    result = comms.send(first)
    assert result.ok, result.line()
    page = comms.page_incident()
    assert page is not None and page.status == "investigating" and "status_page_update" in cockpit.store.incident.ticks

    clock[0] += 600
    identified = comms.restatus(comms.open_draft(Channel.EXTERNAL), "identified")
    assert "identified the cause" in identified.text
    assert comms.send(identified).ok and comms.page_incident().incident_id == page.incident_id

    clock[0] += 600
    resolved = comms.restatus(comms.open_draft(Channel.EXTERNAL), "resolved")
    assert resolved.components == (("drillcomp01", "operational"),)
    assert comms.send(resolved).ok
    got = cockpit.status.get_incident(page.incident_id)
    assert got.status == "resolved" and got.updates == 3 and got.components[0].status == "operational"
    # a later send starts a new status page incident
    assert "a new incident" in comms.preview(comms.open_draft(Channel.EXTERNAL)).where


def test_status_page_failures_keep_the_draft(cockpit: Cockpit, world) -> None:
    comms = cockpit.comms
    world.sim.stop_service("statusapi")
    draft = comms.open_draft(Channel.EXTERNAL).with_text("We are looking into slow responses. Typed by hand.")
    result = comms.send(draft)
    assert not result.ok and result.error.kind is ErrorKind.UNREACHABLE
    assert comms.unsent(Channel.EXTERNAL).text == draft.text
    world.sim.start_service("statusapi")
    world.sim.fault("statusapi", status=401, times=1)
    result = comms.send(comms.open_draft(Channel.EXTERNAL))
    assert not result.ok and result.error.kind is ErrorKind.AUTH_EXPIRED
    assert comms.send(comms.open_draft(Channel.EXTERNAL)).ok
    assert comms.unsent(Channel.EXTERNAL) is None


def test_a_deleted_status_page_incident_is_named_and_a_new_one_can_be_started(cockpit: Cockpit) -> None:
    cockpit.store.record(
        EventKind.MESSAGE_SENT,
        "Status page incident created",
        {
            "channel": "external",
            "role": "page_create",
            "where": "status page",
            "page_incident_id": "gone00000000",
            "status": "investigating",
            "draft_id": "d-old",
            "text": "old",
        },
    )
    draft = cockpit.comms.open_draft(Channel.EXTERNAL)
    result = cockpit.comms.send(draft)
    assert not result.ok and result.error.status_code == 404 and "new incident" in result.error.hint
    result = cockpit.comms.send(cockpit.comms.open_draft(Channel.EXTERNAL), new_incident=True)
    assert result.ok and cockpit.comms.page_incident().incident_id != "gone00000000"


def test_an_empty_draft_is_refused_without_a_request(cockpit: Cockpit, world) -> None:
    before = len(world.sim.requests("slack"))
    result = cockpit.comms.send(cockpit.comms.open_draft(Channel.INTERNAL).with_text("  "))
    assert not result.ok and "empty" in result.error.message
    assert len(world.sim.requests("slack")) == before


# --------------------------------------------------------------------------
# Hostile text: what comes from outside never mentions, pings or links in Slack

HOSTILE = "Degraded <!channel> <!everyone> <!here> @here <http://evil.example|click> <@U0BOSS> &lt;!here&gt; AT&T <1% [/]"


def _tokens(text: str) -> set[str]:
    """The Slack control sequences a mrkdwn text would be parsed into."""
    import re

    return set(re.findall(r"<[^<>]*>", text))


def test_outside_text_never_mentions_or_links_but_the_responders_own_does(cockpit: Cockpit, world) -> None:
    """A Clay status page incident titled with Slack's mention and link forms
    reaches the channel as the literal text; what the responder types is theirs."""
    sp = world.signals.statuspage.value
    named = replace(sp.incidents[0], name=HOSTILE) if sp.incidents else _incident(HOSTILE)
    hostile = replace(world.signals, statuspage=replace(world.signals.statuspage, value=replace(sp, incidents=(named,))))
    draft = cockpit.comms.open_draft(Channel.INTERNAL, force=True, signals=hostile)
    assert "&lt;!channel>" in draft.text  # the editor shows the outside text, neutralised
    typed = draft.with_text(draft.text + "\n\n<!here> <@U0ONCALL> see <https://runbook.example/clay|the runbook> & call")
    pv = cockpit.comms.preview(typed)
    assert any(HOSTILE in b.text for b in pv.blocks)  # Slack will show it exactly as the status page wrote it
    assert cockpit.comms.send(typed).ok
    sent = cockpit.thread_messages()[-1]
    texts = [sent["text"]] + [b["text"]["text"] for b in sent["blocks"] if b["type"] in ("section", "header")]
    everything = set().union(*(_tokens(t) for t in texts))
    assert everything == {"<!here>", "<@U0ONCALL>", "<https://runbook.example/clay|the runbook>"}, everything
    assert "&amp;lt;!here&amp;gt;" in sent["text"] and "AT&amp;T &lt;1%" in sent["text"] and "&amp; call" in sent["text"]


def _incident(name: str):
    from clay_cockpit.signals import StatusIncident

    return StatusIncident(
        id="x1",
        name=name,
        status="investigating",
        impact="major",
        started_at=None,
        updated_at=None,
        latest_update="",
        latest_update_at=None,
    )


# --------------------------------------------------------------------------
# An unclear answer: "may have been sent", looked up before any resend

UNCLEAR = ["truncated", "not_utf8", "reset", "502", "timeout"]


def _unclear(sim, service: str, how: str, times: int = 1) -> None:
    if how == "timeout":
        sim.fault(service, after_commit=True, delay=1.5, times=times)  # handled, then answered after the client gave up
    else:
        sim.fault(service, after_commit=how, times=times)


def _page_incidents(world, marker_draft: str) -> list:
    api = StatusApi(world.config.external_status, environ=world.sim.env())
    got = api._request("GET", "/incidents", "the test's list")
    return [i for i in got if (i.get("metadata") or {}).get("clay_cockpit", {}).get("draft") == marker_draft]


@pytest.mark.parametrize("how", UNCLEAR)
def test_retries_after_unclear_answers_make_exactly_one_status_page_incident(cockpit: Cockpit, world, how: str) -> None:
    """The create went through but its answer was lost: the cockpit says
    "may have been sent", and every ctrl+s after that looks first — three
    retries (the first two lookups garbled too) leave one incident, adopted."""
    comms = cockpit.comms
    comms._status_api = StatusApi(world.config.external_status, environ=world.sim.env(), timeout=0.5, sleep=cockpit.sleeps.append)
    draft = comms.open_draft(Channel.EXTERNAL)
    _unclear(world.sim, "statusapi", how, times=3)  # the create, then the first two lookups
    first = comms.send(draft)
    assert not first.ok and first.unsure, first.line()
    assert first.line().startswith("May have been sent") and "Not sent" not in first.line()
    assert "looks for it first" in first.error.hint
    assert "message_unsure" in cockpit.kinds() and comms.page_incident() is None

    results = [comms.send(comms.open_draft(Channel.EXTERNAL)) for _ in range(3)]
    assert len(_page_incidents(world, draft.id)) == 1, [r.line() for r in results]
    lookups_failed = [r for r in results if not r.ok]
    assert all(r.unsure and "could not check whether the earlier" in r.error.message for r in lookups_failed)
    adopted = next(r for r in results if r.ok)
    assert any("not sent twice" in w for w in adopted.warnings)
    assert comms.page_incident().incident_id == _page_incidents(world, draft.id)[0]["id"]
    assert comms.unsent(Channel.EXTERNAL) is None or comms.unsent(Channel.EXTERNAL).id != draft.id


def test_an_unclear_create_that_did_not_happen_is_sent_after_the_lookup(cockpit: Cockpit, world) -> None:
    """A 502 from a gateway before the origin saw it: the lookup finds nothing and the retry creates it — once."""
    comms = cockpit.comms
    world.sim.fault("statusapi", status=500, times=1)  # the origin failed before creating: nothing exists
    draft = comms.open_draft(Channel.EXTERNAL)
    first = comms.send(draft)
    assert not first.ok and first.unsure  # a 500 to a create may come after the commit: treated as unclear
    second = comms.send(comms.open_draft(Channel.EXTERNAL))
    assert second.ok, second.line()
    assert "message_checked" in cockpit.kinds() and len(_page_incidents(world, draft.id)) == 1


@pytest.mark.parametrize("how", UNCLEAR)
def test_retries_after_unclear_slack_answers_post_each_message_once(cockpit: Cockpit, world, how: str) -> None:
    """The message opening the thread, then a reply: each answer lost once
    after Slack stored the message; the retries find them and post nothing twice."""
    comms = cockpit.comms
    comms._slack_api = Slack(world.config.slack, environ=world.sim.env(), timeout=0.5, sleep=cockpit.sleeps.append)
    draft = comms.open_draft(Channel.INTERNAL)
    _unclear(world.sim, "slack", how)
    first = comms.send(draft)
    assert not first.ok and first.unsure and first.line().startswith("May have been sent"), first.line()
    second = comms.send(comms.open_draft(Channel.INTERNAL))
    assert second.ok, second.line()
    assert any("not sent twice" in w for w in second.warnings)
    channel = comms.thread()
    top = Slack(world.config.slack, environ=world.sim.env())._call(
        "conversations.history", "t", channel=channel.channel_id, limit=1000, include_all_metadata=True
    )
    ours = [m for m in top["messages"] if (m.get("metadata") or {}).get("event_payload", {}).get("draft") == draft.id]
    assert [m["ts"] for m in ours] == [channel.thread_ts]  # one summary, adopted as the thread
    replies = cockpit.thread_messages()[1:]
    assert len(replies) == 1

    # a reply whose answer is lost: found in the thread, not posted again
    again = comms.open_draft(Channel.INTERNAL).with_text("P1 · second update\nStill on it.")
    _unclear(world.sim, "slack", how)
    assert comms.send(again).unsure
    retried = comms.send(comms.open_draft(Channel.INTERNAL))
    assert retried.ok and retried.sent[0].role == "update", retried.line()
    assert [m["text"] for m in cockpit.thread_messages()[1:]].count(blocks_text(comms, again)) == 1
    assert len(cockpit.thread_messages()) == 3


def blocks_text(comms: Comms, draft) -> str:
    return comms.slack_messages(draft)[0].text
