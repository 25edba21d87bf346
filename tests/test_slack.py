"""The Slack adapter against the drill's Slack Web API over real HTTP, with
slack-sdk's WebClient and its retry handlers: thread, reply, summary update,
rate limits (retried after Retry-After, then a named failure), every auth and
channel error, network down and timeouts — and the token never in a message
or a log line.

One drill per module (starting one takes a second or two); each test leaves
it as it found it: faults cleared, the Slack service up.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

import pytest

from clay_cockpit.config import config_from_toml
from clay_cockpit.signals import ErrorKind
from clay_cockpit.sources.slack import Posted, Slack, SlackError, SlackIdentity

FROZEN_AT = 1_767_225_600.0


@pytest.fixture(scope="module")
def drill(tmp_path_factory):
    from clay_cockpit.sim.background import start_background

    handle = start_background("healthy", seed=7, freeze_at=FROZEN_AT, workdir=tmp_path_factory.mktemp("slack-drill"))
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def sim(drill):
    """The module's drill, restored after each test."""
    yield drill
    drill.clear_fault("slack")
    drill.start_service("slack")


def slack_config(sim, **changes):
    return replace(config_from_toml(sim.config_dict(), "drill.toml").slack, **changes)


def make(sim, sleeps: list[float] | None = None, environ: dict | None = None, **kw) -> Slack:
    """The adapter for the drill; ``sleeps`` records the retry waits instead of sleeping them."""
    sleep = sleeps.append if sleeps is not None else time.sleep
    return Slack(slack_config(sim), environ=sim.env() if environ is None else environ, sleep=sleep, **kw)


def token(sim) -> str:
    return sim.env()["CLAY_DRILL_SLACK_TOKEN"]


def assert_no_token(err: SlackError, secret: str) -> None:
    for text in (err.message, err.hint, err.line(), repr(err)):
        assert secret not in text


def test_identity_names_the_channel(sim) -> None:
    ident = make(sim).identity()
    assert isinstance(ident, SlackIdentity), ident
    assert (ident.channel_id, ident.channel_name, ident.is_member) == ("C0INCDRILL", "inc-clay-drill", True)
    assert ident.team == "Clay Drill"


def test_thread_reply_and_summary_update(sim) -> None:
    slack = make(sim)
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "P1 · Investigating"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Impact:* every call fails"}},
    ]
    top = slack.post("P1 · Investigating\n*Impact:* every call fails", blocks)
    assert isinstance(top, Posted), top
    assert top.channel_id == "C0INCDRILL" and top.thread_ts is None and top.ts
    reply = slack.post("Update 1: key rotated", thread_ts=top.ts, channel=top.channel_id)
    assert isinstance(reply, Posted), reply
    assert reply.thread_ts == top.ts and reply.ts != top.ts
    edited = slack.update(top.channel_id, top.ts, "P1 · Monitoring", blocks[:1])
    assert isinstance(edited, Posted), edited
    assert edited.ts == top.ts

    thread = slack.replies(top.channel_id, top.ts)
    assert not isinstance(thread, SlackError), thread
    assert [m["ts"] for m in thread] == [top.ts, reply.ts]
    assert thread[0]["text"] == "P1 · Monitoring" and "edited" in thread[0]
    assert thread[0]["blocks"][0]["text"]["text"] == "P1 · Investigating"
    assert thread[1]["thread_ts"] == top.ts and thread[1]["text"] == "Update 1: key rotated"


def test_429_is_retried_after_retry_after(sim) -> None:
    """One 429 (Retry-After: 5): slack-sdk's rate-limit handler waits what
    the server asked, then the post goes through — one message, two requests."""
    sleeps: list[float] = []
    sim.fault("slack", status=429, times=1)
    before, messages = len(sim.requests("slack")), sim.state()["slack_messages"]
    got = make(sim, sleeps).post("after a 429")
    assert isinstance(got, Posted), got
    assert len(sleeps) == 1 and 5.0 <= sleeps[0] <= 5.5
    posts = [r for r in sim.requests("slack")[before:] if r["path"] == "/api/chat.postMessage"]
    assert len(posts) == 2
    assert sim.state()["slack_messages"] == messages + 1


def test_429_really_waits(sim) -> None:
    """The same, sleeping for real: the call returns after the Retry-After."""
    sim.fault("slack", status=429, times=1)
    started = time.monotonic()
    got = make(sim).post("patience")
    assert isinstance(got, Posted), got
    assert time.monotonic() - started >= 5.0


def test_429_beyond_the_retries_is_a_named_failure(sim) -> None:
    sleeps: list[float] = []
    sim.fault("slack", status=429, times=10)
    messages = sim.state()["slack_messages"]
    err = make(sim, sleeps, max_retries=2).post("too much")
    assert isinstance(err, SlackError)
    assert err.kind is ErrorKind.RATE_LIMITED and err.status_code == 429 and err.retry_after == 5.0
    assert err.slack_error == "ratelimited"
    assert "after 2 retries" in err.message and "retry in 5s" in err.hint and "draft is kept" in err.hint
    assert len(sleeps) == 2
    assert sim.state()["slack_messages"] == messages


def test_a_retry_after_longer_than_max_wait_is_not_slept(sim) -> None:
    sleeps: list[float] = []
    sim.fault("slack", status=429, times=1)
    err = make(sim, sleeps, max_wait=2.0).post("not now")
    assert isinstance(err, SlackError) and err.kind is ErrorKind.RATE_LIMITED and err.retry_after == 5.0
    assert sleeps == []


@pytest.mark.parametrize(
    ("setup", "kind", "code", "words"),
    [
        ("no_token", ErrorKind.AUTH_EXPIRED, "not_authed", "$CLAY_DRILL_SLACK_TOKEN is not set"),
        ("wrong_token", ErrorKind.AUTH_EXPIRED, "invalid_auth", "refused the token in $CLAY_DRILL_SLACK_TOKEN"),
        ("bad_channel", ErrorKind.FORBIDDEN, "channel_not_found", "no channel #inc-nowhere"),
    ],
)
def test_auth_and_channel_errors(sim, setup: str, kind: ErrorKind, code: str, words: str) -> None:
    wrong = "xoxb-wrong-" + "9" * 24
    before = len(sim.requests("slack"))
    if setup == "no_token":
        slack = make(sim, environ={})
    elif setup == "wrong_token":
        slack = make(sim, environ={"CLAY_DRILL_SLACK_TOKEN": wrong})
    else:
        slack = Slack(slack_config(sim, channel="#inc-nowhere"), environ=sim.env())
    err = slack.post("hello")
    assert isinstance(err, SlackError), err
    assert (err.kind, err.slack_error) == (kind, code)
    assert words in err.message and err.hint
    assert_no_token(err, token(sim))
    assert_no_token(err, wrong)
    if setup == "no_token":
        assert len(sim.requests("slack")) == before  # nothing sent without a token


def test_network_down_is_retried_then_unreachable(sim) -> None:
    sleeps: list[float] = []
    sim.stop_service("slack")
    err = make(sim, sleeps, max_retries=2).post("anyone?")
    assert isinstance(err, SlackError)
    assert err.kind is ErrorKind.UNREACHABLE and "connection refused" in err.message and "tried 3 times" in err.message
    assert len(sleeps) == 2 and "draft is kept" in err.hint
    sim.start_service("slack")
    assert isinstance(make(sim).post("back"), Posted)


def test_a_timeout_is_not_retried_for_a_post(sim) -> None:
    """The post may have reached Slack: no second try (no duplicate), and
    the hint says to look in the channel."""
    sleeps: list[float] = []
    sim.fault("slack", delay=2.0, times=1)
    err = make(sim, sleeps, timeout=0.5).post("slow")
    assert isinstance(err, SlackError) and err.kind is ErrorKind.TIMEOUT
    assert "within 0.5s" in err.message and "look in the channel" in err.hint
    assert sleeps == [] and err.maybe_sent


def test_server_error_and_broken_json(sim) -> None:
    sim.fault("slack", status=500, times=1)
    err = make(sim).post("x")
    assert isinstance(err, SlackError) and err.kind is ErrorKind.SERVER_ERROR and err.status_code == 500
    assert err.maybe_sent  # fatal_error: "some aspect of the operation may have succeeded"
    sim.fault("slack", status=503, times=1)
    assert not make(sim).post("x").maybe_sent  # service_unavailable: refused before it was handled
    sim.fault("slack", malformed=True, times=1)
    err = make(sim).post("y")
    assert isinstance(err, SlackError) and err.kind is ErrorKind.BAD_RESPONSE and "broken JSON" in err.message and err.maybe_sent
    sim.fault("slack", malformed=True, times=1)
    assert not make(sim).auth().maybe_sent  # a read changes nothing


def test_update_of_an_unknown_message(sim) -> None:
    err = make(sim).update("C0INCDRILL", "1.000001", "nope")
    assert isinstance(err, SlackError) and err.slack_error == "message_not_found"


def test_reply_to_an_unknown_thread(sim) -> None:
    err = make(sim).post("lost", thread_ts="1.000001")
    assert isinstance(err, SlackError) and err.slack_error == "thread_not_found"


def test_the_token_never_reaches_a_log(sim, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    slack = make(sim, [])
    slack.post("logged?")
    sim.stop_service("slack")
    slack.post("down")
    sim.start_service("slack")
    make(sim, environ={"CLAY_DRILL_SLACK_TOKEN": "xoxb-wrong-" + "7" * 24}).post("bad")
    assert caplog.records, "slack-sdk logs through clay_cockpit.sources.slack"
    assert token(sim) not in caplog.text and "7" * 24 not in caplog.text
