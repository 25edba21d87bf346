"""The evidence timeline: format, torn and garbage lines, redaction, size cap,
bounded views, several writers. (Killing a writer: test_timeline_kill.py.)"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clay_cockpit.incident import timeline as tl
from clay_cockpit.incident.events import MAX_EVENT_BYTES, MAX_SUMMARY, default_actor, redact, redact_text
from clay_cockpit.incident.evidence import signals_evidence
from clay_cockpit.incident.timeline import (
    Event,
    EventKind,
    Timeline,
    TimelineError,
    fingerprint,
    read,
)
from clay_cockpit.incident.timeline_read import MAX_LINE_BYTES
from clay_cockpit.signals import (
    ErrorKind,
    HealthSnapshot,
    LogLine,
    PodInfo,
    PodsSnapshot,
    Reading,
    Signals,
    SourceError,
)
from clay_cockpit.signals import (
    HealthCheck as Check,
)

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


def test_append_writes_one_json_line_per_event_with_every_field(tmp_path: Path) -> None:
    path = tmp_path / "incidents" / "INC-1.jsonl"
    with Timeline(path, actor="ana@bastion") as t:
        e1 = t.append(EventKind.NOTE, "first", {"n": 1}, at=T0)
        e2 = t.append("source_failed", "metrics down\nsecond line", {"source": "metrics"}, at=T0 + 1.5)
    assert (e1.seq, e2.seq) == (1, 2)
    raw = lines(path)
    assert len(raw) == 2
    obj = json.loads(raw[1])
    assert obj == {
        "v": 1,
        "seq": 2,
        "at": T0 + 1.5,
        "time": "2026-01-01T00:00:01.500Z",
        "kind": "source_failed",
        "actor": "ana@bastion",
        "summary": "metrics down second line",
        "data": {"source": "metrics"},
    }
    assert e2.kind is EventKind.SOURCE_FAILED and e2.summary == "metrics down second line"
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_reopening_continues_the_sequence_and_fills_the_view(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    with Timeline(path) as t:
        for i in range(5):
            t.append("note", f"n{i}", at=T0 + i)
    seen: list[int] = []
    with Timeline(path, keep=3, on_event=lambda e: seen.append(e.seq)) as t:
        assert t.seq == 5
        assert [e.seq for e in t.events()] == [3, 4, 5]
        assert t.append("note", "n5").seq == 6
    assert seen == [1, 2, 3, 4, 5, 6]


def test_default_actor_is_user_at_host(tmp_path: Path) -> None:
    actor = default_actor()
    assert "@" in actor and actor == default_actor()
    with Timeline(tmp_path / "t.jsonl") as t:
        assert t.append("note", "x").actor == actor


def test_bounded_views(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    with Timeline(path, keep=10) as t:
        for i in range(50):
            t.append("note", f"n{i}")
        assert [e.seq for e in t.events()] == list(range(41, 51))
    assert [e.seq for e in read(path, newest=5).events] == [46, 47, 48, 49, 50]
    assert len(read(path).events) == 50


# --------------------------------------------------------------------------
# torn and garbage lines


def test_torn_last_line_is_reported_and_the_next_event_starts_on_a_fresh_line(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    with Timeline(path) as t:
        for i in range(3):
            t.append("note", f"n{i}", {"pad": "x" * 100})
    whole = lines(path)[-1]
    with open(path, "ab") as f:  # a crash in the middle of writing event 4
        f.write(whole.replace(b'"seq":3', b'"seq":4')[: len(whole) // 2])
    result = read(path)
    assert [e.seq for e in result.events] == [1, 2, 3]
    assert result.torn is not None and "line 4" in result.torn and result.bad_lines == 0

    with Timeline(path) as t:
        assert t.report.torn is not None
        ev = t.append("note", "after the crash")
        assert ev.seq == 4
        assert t.report.torn is None and t.report.bad_lines == 1
    result = read(path)
    assert [e.seq for e in result.events] == [1, 2, 3, 4]
    assert result.torn is None and result.bad_lines == 1 and "line 4" in result.problems[0]
    assert json.loads(lines(path)[-1])["summary"] == "after the crash"


def test_a_complete_event_without_its_newline_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    with Timeline(path) as t:
        t.append("note", "a")
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    assert [e.seq for e in read(path).events] == [1]
    with Timeline(path) as t:
        t.append("note", "b")
    assert [e.summary for e in read(path).events] == ["a", "b"]


def test_garbage_lines_unknown_kinds_and_odd_values_never_raise(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    good = {"v": 1, "seq": 1, "at": T0, "kind": "note", "summary": "ok", "actor": "a@b", "data": {}}
    rows = [
        json.dumps(good).encode(),
        b"not json at all",
        b"\xff\xfe\x00 invalid utf-8",
        b"[1, 2, 3]",
        b"null",
        json.dumps({**good, "seq": "7"}).encode(),
        json.dumps({**good, "at": "yesterday"}).encode(),
        b'{"seq": 3, "at": 1e999, "kind": "note"}',  # at = infinity
        json.dumps({**good, "seq": True}).encode(),
        json.dumps({**good, "kind": ""}).encode(),
        b"[" * 100_000,  # deeper than json can recurse
        b"x" * (MAX_LINE_BYTES + 10),  # overlong
        b"",
        json.dumps({**good, "seq": 2, "kind": "action_rolled_back_in_v9", "data": {"new": True}}).encode(),
        json.dumps({"seq": 3, "at": T0, "kind": "note", "data": [1], "summary": 5, "actor": None, "v": "x"}).encode(),
        b'{"v":1,"seq":4,"at":',
    ]
    path.write_bytes(b"\n".join(rows))
    result = read(path)
    assert [e.seq for e in result.events] == [1, 2, 3]
    unknown = result.events[1]
    assert unknown.kind == "action_rolled_back_in_v9" and not isinstance(unknown.kind, EventKind)
    assert unknown.data == {"new": True}
    odd = result.events[2]
    assert (odd.data, odd.summary, odd.actor, odd.v) == ({}, "", "", 1)
    assert result.torn is not None
    assert result.bad_lines == 11
    assert any("longer than" in p for p in result.problems)
    with Timeline(path) as t:  # and it appends after all that
        assert t.append("note", "still works").seq == 4
    assert read(path).events[-1].summary == "still works"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)), max_size=12))
def test_reading_arbitrary_bytes_never_raises(tmp_path: Path, chunks: list[bytes]) -> None:
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(b"\n".join(chunks))
    result = read(path)
    assert result.bad_lines >= 0
    assert all(isinstance(e, Event) for e in result.events)


# --------------------------------------------------------------------------
# secrets

SECRETS = [
    "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp",
    "xoxp-2222222222-3333333333-zyxwvutsrqponm",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbmEifQ.c2lnbmF0dXJlLXZhbHVl",
    "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    "AKIAIOSFODNN7EXAMPLE",
    "c2VjcmV0LWNsYXktYXBpLWtleS12YWx1ZQ",
    "Zm9vYmFyYmF6cXV4MTIzNDU2",
    "3f786850e387550fdab836ed7e6dc881de23001b",
]


@pytest.mark.parametrize("secret", SECRETS)
def test_secrets_never_reach_the_file(tmp_path: Path, secret: str) -> None:
    path = tmp_path / "t.jsonl"
    with Timeline(path) as t:
        t.append(
            "note",
            f"Authorization: Bearer {secret}",
            {
                "api_key": secret,
                "headers": {"Authorization": f"Bearer {secret}", "X-Api-Key": secret},
                "log": f"clay client: request failed api_key={secret} status=401",
                "json_log": json.dumps({"token": secret, "msg": "hi"}),
                "url": f"https://user:{secret}@prometheus.internal:9090/api",
                "nested": {"credentials": [secret, {"password": secret}]},
                "raw_secret": secret.encode(),
                "slack": {"bot_token": secret},
                "fingerprint": fingerprint(secret),
                "secret_name": "clay-credentials",
                "token_env": "SLACK_BOT_TOKEN",
            },
        )
    text = path.read_text()
    assert secret not in text
    data = read(path).events[0].data
    assert data["fingerprint"] == fingerprint(secret)
    assert data["secret_name"] == "clay-credentials" and data["token_env"] == "SLACK_BOT_TOKEN"
    assert data["_redacted"] >= 8
    assert "status=401" in data["log"] and "prometheus.internal:9090" in data["url"]


def test_well_known_token_shapes_are_redacted_anywhere() -> None:
    for text in (
        "posting with xoxb-1111-2222-abcdefabcdef now",
        "curl -H 'Authorization: Bearer abc.def-ghi_123456'",
        "hook https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----",
        "password=hunter22",
    ):
        clean, n = redact_text(text)
        assert n >= 1, text
        for fragment in ("1111-2222", "abc.def", "XXXXXXXX", "MIIEow", "hunter22"):
            assert fragment not in clean


def test_fingerprints_survive_in_text_and_fields(tmp_path: Path) -> None:
    old, new = fingerprint("old-Key-123456"), fingerprint("new-Key-654321")
    summary = f"Clay API key rotated: api_key={old} → api_key: {new}"
    with Timeline(tmp_path / "t.jsonl") as t:
        ev = t.append("action_applied", summary, {"api_key_fingerprint": new, "token": old})
    assert ev.summary == summary and ev.data == {"api_key_fingerprint": new, "token": old}


def test_names_and_ordinary_text_are_left_alone() -> None:
    data = {
        "secret": "clay-credentials",
        "key": "api-key",
        "pod": "clay-sync-7d9f8c6b5-x2x4q",
        "message": "429 rate 38/s over 5 min, tokens: 5",
        "count": 3,
        "ok": True,
        "none": None,
    }
    clean, n = redact(data)
    assert (clean, n) == (data, 0)


def test_redact_makes_values_json_safe() -> None:
    from datetime import UTC, datetime

    clean, _ = redact(
        {
            "nan": float("nan"),
            "inf": float("inf"),
            "t": (1, 2),
            "s": {"b", "a"},
            "when": datetime(2026, 1, 1, tzinfo=UTC),
            "sev": EventKind.NOTE,
            3: "int key",
            "blob": b"\x00\x01",
            "obj": object.__new__(object),
        }
    )
    assert clean["nan"] is None and clean["inf"] is None
    assert clean["t"] == [1, 2] and clean["s"] == ["a", "b"]
    assert clean["when"].startswith("2026-01-01T00:00:00") and clean["sev"] == "note" and clean["3"] == "int key"
    assert clean["blob"] == "<2 bytes>"
    json.dumps(clean, allow_nan=False)


def test_fingerprint_is_short_stable_and_tells_keys_apart() -> None:
    fp = fingerprint("sk_live_4eC39HqLyjWDarjtT1zdp7dc")
    assert fp == fingerprint(b"sk_live_4eC39HqLyjWDarjtT1zdp7dc")
    assert fp.startswith("sha256:") and len(fp) == len("sha256:") + 12
    assert fp != fingerprint("sk_live_4eC39HqLyjWDarjtT1zdp7dd")
    assert fingerprint("key\n") != fingerprint("key")  # a stray newline shows
    assert fingerprint("") == "(empty)"
    assert "4eC39" not in fp


# --------------------------------------------------------------------------
# size


def test_evidence_is_capped_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    logs = [f"line {i}: " + "y" * 500 for i in range(100)]
    with Timeline(path) as t:
        ev = t.append(EventKind.EVIDENCE_SNAPSHOT, "snapshot", {"branch": "credentials", "rate": 38.2, "logs": logs})
    raw = lines(path)[0]
    assert len(raw) + 1 <= MAX_EVENT_BYTES
    assert ev.data["branch"] == "credentials" and ev.data["rate"] == 38.2
    trunc = ev.data["_truncated"]
    assert trunc["original_bytes"] > MAX_EVENT_BYTES and trunc["items"] > 0 and trunc["strings"] > 0
    kept = ev.data["logs"]
    assert kept and kept[-1].startswith("line 99:")  # the newest lines are the ones kept


def test_even_absurd_data_stays_under_the_cap(tmp_path: Path) -> None:
    with Timeline(tmp_path / "t.jsonl") as t:
        ev = t.append("note", "s" * 10_000, {f"k{i}": {"deep": ["v" * 100] * 50} for i in range(500)})
    assert len(ev.summary) <= MAX_SUMMARY
    assert len(lines(tmp_path / "t.jsonl")[0]) < MAX_EVENT_BYTES
    assert ev.data["_truncated"]["original_bytes"] > 1_000_000


def test_bad_kind_or_time_is_refused(tmp_path: Path) -> None:
    with Timeline(tmp_path / "t.jsonl") as t:
        with pytest.raises(ValueError):
            t.append("", "x")
        with pytest.raises(ValueError):
            t.append("note", "x", at=float("nan"))
    assert (tmp_path / "t.jsonl").read_bytes() == b""


def test_a_failed_write_raises_timeline_error_and_is_not_in_the_view(tmp_path: Path) -> None:
    t = Timeline(tmp_path / "t.jsonl")
    t.append("note", "ok")
    os.close(t._fd)  # the descriptor goes bad under it (as on a lost disk)
    with pytest.raises(TimelineError, match="could not record"):
        t.append("note", "lost")
    assert [e.summary for e in t.events()] == ["ok"]
    t._fd = -1


def test_a_writer_stuck_holding_the_lock_does_not_hang_us(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import fcntl

    path = tmp_path / "t.jsonl"
    t = Timeline(path)
    monkeypatch.setattr(tl, "LOCK_TIMEOUT", 0.2)
    with open(path, "rb") as other:
        fcntl.flock(other, fcntl.LOCK_EX)
        with pytest.raises(TimelineError, match="locked by another process"):
            t.append("note", "waits 0.2 s, then says so")
    assert t.append("note", "free again").seq == 1
    t.close()


# --------------------------------------------------------------------------
# two writers on one file


def test_two_writers_interleave_without_duplicate_seqs(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    seen_a: list[int] = []
    a = Timeline(path, actor="a@h", on_event=lambda e: seen_a.append(e.seq))
    b = Timeline(path, actor="b@h")

    def write(t: Timeline, n: int) -> None:
        for i in range(n):
            t.append("note", f"{t.actor} {i}")

    threads = [threading.Thread(target=write, args=(a, 40)), threading.Thread(target=write, args=(b, 40))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    a.refresh()
    result = read(path)
    assert [e.seq for e in result.events] == list(range(1, 81))
    assert seen_a == list(range(1, 81))  # a saw b's events, in file order
    assert {e.actor for e in result.events} == {"a@h", "b@h"}
    a.close()
    b.close()


# --------------------------------------------------------------------------
# evidence from signals


def test_signals_evidence_keeps_the_numbers_and_a_few_log_lines() -> None:
    pods = PodsSnapshot(
        "ctx",
        "clay",
        "app=clay-sync",
        (
            PodInfo("clay-sync-a", "Running", 1, 1, 0, "Running", None, None, "ReplicaSet/x"),
            PodInfo("clay-sync-b", "Running", 0, 1, 7, "CrashLoopBackOff", "OOMKilled", None, "ReplicaSet/x"),
        ),
        T0,
        12.0,
    )
    health = HealthSnapshot("degraded", False, (Check("clay", "fail", "401 from Clay", ok=False),), 503, 40.2, T0)
    err = SourceError("statuspage", ErrorKind.TIMEOUT, "no answer in 5 s", "check the network")
    signals = Signals(
        statuspage=Reading(error=err),
        health=Reading(health, None, T0, T0),
        pods=Reading(pods, None, T0, T0),
        recent_logs=tuple(LogLine("clay-sync-b", f"clay 401 Bearer abcdef123456 #{i}") for i in range(20)),
        at=T0,
    )
    ev = signals_evidence(signals, log_lines=3, extra={"assessment": {"branch": "credentials"}})
    assert ev["statuspage"] == {"error": err.line()}
    assert ev["metrics"] == {"error": "no data yet"}
    assert ev["health"]["failing"] == ["clay: fail 401 from Clay"] and ev["health"]["http_status"] == 503
    assert ev["pods"]["ready"] == 1 and ev["pods"]["restarts"] == 7
    assert ev["pods"]["not_ready"][0]["last"] == "OOMKilled"
    assert len(ev["logs"]) == 3 and ev["logs"][-1].endswith("#19")
    assert ev["assessment"] == {"branch": "credentials"}
    clean, n = redact(ev)
    assert n == 3 and "abcdef123456" not in json.dumps(clean)
