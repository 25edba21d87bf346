"""The shared incident's merge rules (issue 17): merge is commutative,
associative, idempotent and duplicate-free; chunks round-trip and respect
their size cap; the head is the same whoever merges; nothing secret leaves."""

from __future__ import annotations

import json
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from clay_cockpit.incident import shared_merge as sm
from clay_cockpit.incident.events import Event, EventKind
from clay_cockpit.incident.state import Status
from clay_cockpit.runbook import Severity

COCKPITS = ("ana@b1+aaaa", "bo@b2+bbbb", "cy@b3+cccc")
KINDS = (EventKind.NOTE, EventKind.SEVERITY_SUGGESTED, EventKind.SEVERITY_CHANGED, EventKind.STATUS_CHANGED, sm.COMMANDER_CHANGED)


def event(cockpit: str, seq: int) -> sm.SharedEvent:
    """The ``seq``-th event of ``cockpit``: the same (cockpit, seq) is always the same event, as in a real JSONL."""
    rnd = random.Random(f"{cockpit}:{seq}")
    at = 1000.0 + rnd.randint(0, 30)  # ties are common: the id orders them
    kind = rnd.choice(KINDS)
    if kind in (EventKind.SEVERITY_SUGGESTED, EventKind.SEVERITY_CHANGED):
        data: dict[str, object] = {"to": rnd.choice([s.value for s in Severity])}
    elif kind == EventKind.STATUS_CHANGED:
        data = {"to": rnd.choice([s.value for s in Status])}
    elif kind == sm.COMMANDER_CHANGED:
        data = {"to": rnd.choice(COCKPITS).split("+")[0]}
    else:
        data = {"text": "".join(rnd.choice('ab\u0085\u2028\n"é') for _ in range(rnd.randint(0, 20)))}
    return sm.share(Event(seq, at, kind, f"{kind} {seq}", cockpit.split("+")[0], data), cockpit)


events = st.builds(event, st.sampled_from(COCKPITS), st.integers(1, 40))


sets = st.lists(events, max_size=25)


def declared(cockpit: str, inc: str, at: float = 999.0, sev: str = "P2") -> sm.SharedEvent:
    return sm.share(Event(0, at, EventKind.INCIDENT_DECLARED, "declared", cockpit, {"id": inc, "suggested": sev}), cockpit)


@settings(max_examples=200, deadline=None)
@given(sets, sets, sets)
def test_merge_is_commutative_associative_idempotent_and_duplicate_free(a, b, c) -> None:
    assert sm.merge(a, b) == sm.merge(b, a)
    assert sm.merge(sm.merge(a, b), c) == sm.merge(a, sm.merge(b, c)) == sm.merge(a, b, c)
    assert sm.merge(a, a) == sm.merge(a) == sm.merge(sm.merge(a))
    merged = sm.merge(a, b, c)
    ids = [e.id for e in merged]
    assert len(ids) == len(set(ids)) == len({e.id for e in [*a, *b, *c]})
    assert [e.key for e in merged] == sorted(e.key for e in merged)


@settings(max_examples=100, deadline=None)
@given(sets, sets)
def test_the_head_is_the_same_whoever_merges(a, b) -> None:
    decl = declared("ana@b1+aaaa", "INC-1")
    assert sm.head_of("INC-1", sm.merge([decl], a, b)) == sm.head_of("INC-1", sm.merge(b, a, [decl]))


@settings(max_examples=100, deadline=None)
@given(sets, st.integers(sm.MIN_CHUNK_BYTES, 3 * sm.MIN_CHUNK_BYTES))
def test_chunks_round_trip_within_their_cap(a, cap) -> None:
    chunks = sm.pack(a, cap)
    assert all(len(t.encode()) <= cap for t in chunks)
    back = sm.merge(*(sm.decode_chunk(t)[0] for t in chunks))
    assert back == sm.merge(a)
    assert all(sm.decode_chunk(t)[1] == 0 for t in chunks)


@settings(max_examples=100, deadline=None)
@given(sets, sets)
def test_fill_is_append_only_and_idempotent(a, b) -> None:
    text, left = sm.fill("", a)
    assert not left
    again, more = sm.fill(text, [*b, *a])
    assert again.startswith(text) and not more
    assert sm.fill(again, [*a, *b]) == (again, ())
    assert sm.decode_chunk(again)[0] == sm.merge(a, b)


def test_a_full_chunk_leaves_the_rest_for_the_next() -> None:
    big = [sm.share(Event(i, 1000.0 + i, EventKind.NOTE, "n", "ana", {"text": "x" * 3000}), "c") for i in range(1, 40)]
    text, left = sm.fill("", big, sm.MIN_CHUNK_BYTES)
    assert left and len(text.encode()) <= sm.MIN_CHUNK_BYTES
    assert [e.id for e in sm.decode_chunk(text)[0]] + [e.id for e in left] == [e.id for e in sm.merge(big)]
    assert sm.decode_chunk(text + "not json\n")[1] == 1


def test_severity_rises_by_itself_unless_a_responder_set_it_and_the_latest_status_holds() -> None:
    a, b = "ana@b1+aaaa", "bo@b2+bbbb"
    decl = declared(a, "INC-1", sev="P3")
    raise_ = sm.share(Event(1, 1001.0, EventKind.SEVERITY_SUGGESTED, "P2", a, {"to": "P2"}), a)
    lower = sm.share(Event(1, 1002.0, EventKind.SEVERITY_SUGGESTED, "P4", b, {"to": "P4"}), b)
    head = sm.head_of("INC-1", sm.merge([decl, raise_, lower]))
    assert head is not None and head.severity is Severity.P2 and not head.severity_set
    set_low = sm.share(Event(2, 1003.0, EventKind.SEVERITY_CHANGED, "P3", b, {"to": "P3"}), b)
    status1 = sm.share(Event(3, 1004.0, EventKind.STATUS_CHANGED, "identified", b, {"to": "identified"}), b)
    status2 = sm.share(Event(2, 1005.0, EventKind.STATUS_CHANGED, "monitoring", a, {"to": "monitoring"}), a)
    head = sm.head_of("INC-1", sm.merge([status2, set_low], [decl, raise_, lower, status1]))
    assert head is not None and head.severity is Severity.P3 and head.severity_set
    assert head.status is Status.MONITORING and head.status_at == 1005.0 and head.events == 6


def test_the_loser_of_a_declaration_race_joins_the_winner() -> None:
    winner, loser = declared("ana@b1+aaaa", "INC-A", at=1000.5), declared("bo@b2+bbbb", "INC-B", at=1000.0, sev="P1")
    cmd = sm.share(Event(1, 1001.0, sm.COMMANDER_CHANGED, "bo takes command", "bo", {"to": "bo"}), "bo@b2+bbbb")
    link = sm.share(Event(2, 1002.0, sm.COMMS_LINKED, "thread", "ana", {"key": "slack_thread_ts", "value": "1.2"}), "ana@b1+aaaa")
    head = sm.head_of("INC-A", sm.merge([loser, cmd], [winner, link]))
    assert head is not None and head.id == "INC-A" and head.declared_by == "ana@b1+aaaa" and head.severity is Severity.P2
    assert head.commander == "bo" and head.comms == {"slack_thread_ts": "1.2"}
    assert head.to_data()["comms.slack_thread_ts"] == "1.2" and head.to_data()["status"] == "investigating"
    assert len(sm.timeline(sm.merge([loser, cmd], [winner, link]))) == 4  # the loser's declaration stays on the timeline
    assert sm.head_of("INC-C", [winner]) is None


def test_nothing_secret_leaves_the_cockpit() -> None:
    token = "xoxb-1234567890-abcdefghijABCDEFGHIJ"
    ev = Event(
        5, 1000.0, EventKind.NOTE, f"posted with {token}", "ana", {"api_key": "sk_live_AbCdEf1234567890xyz", "text": f"Bearer {token}"}
    )
    shared = sm.share(ev, "ana@b1+aaaa")
    assert token not in shared.line and "sk_live_AbCdEf1234567890xyz" not in shared.line
    body = json.loads(shared.line)
    assert body["id"] == "ana@b1+aaaa:5" and body["data"]["_redacted"] >= 3


def test_two_bodies_under_one_id_merge_the_same_way_whoever_merges() -> None:
    x = sm.SharedEvent("c:1", 1000.0, '{"id":"c:1","at":1000.0,"kind":"note"}')
    y = sm.SharedEvent("c:1", 1000.0, '{"id":"c:1","at":1000.0,"kind":"note","data":{}}')
    assert sm.merge([x], [y]) == sm.merge([y], [x]) == (min(x, y, key=lambda e: e.line),)
