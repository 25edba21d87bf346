"""The symptom an action should end, and the judging of it after the change
(cockpit/actions/symptom.py, pure): table tests on the drill's logfmt lines
(docs/drill-contract.md), the real Kubernetes pod fixtures
(tests/fixtures/real) and odd input; a property test that judging never
raises. The words are the contract of docs/events.md."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck as HC
from hypothesis import given, settings
from hypothesis import strategies as st

from clay_cockpit.actions.symptom import (
    ENDED,
    LAST_CALLS,
    MIN_CALLS,
    PERSISTS,
    WATCHING,
    Before,
    Follow,
    Symptom,
    call_code,
    judge,
    logged_calls,
    measure_before,
    symptom_for,
    ticks_for,
)
from clay_cockpit.actions.types import ActionKind
from clay_cockpit.runbook import ActionId, Branch, ErrorClass, Severity
from clay_cockpit.signals import (
    HealthCheck,
    HealthSnapshot,
    LogLine,
    MetricsSnapshot,
    PodInfo,
    PodsSnapshot,
    Reading,
    Series,
    Signals,
)
from clay_cockpit.sources.kube import pod_info
from clay_cockpit.triage.types import Assessment, Confidence, Finding, action

FIXTURES = Path(__file__).parent / "fixtures" / "real"
T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
OLD = frozenset({"clay-sync-7d9f8c6b5f-aaaaa", "clay-sync-7d9f8c6b5f-bbbbb", "clay-sync-7d9f8c6b5f-ccccc"})
NEW = ("clay-sync-5c8d7e9f4a-xxxxx", "clay-sync-5c8d7e9f4a-yyyyy", "clay-sync-5c8d7e9f4a-zzzzz")

OK_LINE = 'level=info msg="clay call" method=POST endpoint=/v1/people/enrich status=200 duration_ms=142'
L429 = (
    'level=warn msg="clay call failed" method=POST endpoint=/v1/people/enrich status=429 duration_ms=38 x-ratelimit-limit=600 '
    "x-ratelimit-remaining=0 x-ratelimit-reset=37 retry-after=37"
)
L401 = 'level=error msg="clay call failed" method=POST endpoint=/v1/people/enrich status=401 duration_ms=21 error="invalid api key"'
L503 = (
    'level=error msg="clay call failed" method=POST endpoint=/v1/companies/enrich status=503 duration_ms=5003 error="service unavailable"'
)
STATS = 'level=info msg="sync stats" calls_30s=400 failed_30s=380 queue_depth=12'


@pytest.mark.parametrize(
    "text, code",
    [
        (OK_LINE, 200),
        (L429, 429),
        (L401, 401),
        (L503, 503),
        (STATS, None),  # our counters: not a call
        ('level=info msg="config loaded" fallback_enabled=true request_queuing=false clay_key_set=true', None),
        ('level=warn msg="http request" status=500', None),  # not a Clay call
        ("msg=clay_call status=401", 401),  # unquoted msg
        ('msg="clay call failed" status="429"', 429),  # quoted status
        ('msg="clay call failed" status=4291', None),
        ('msg="clay call" status=abc', None),
        ('msg="clay call"', None),
        ("", None),
        ("status=401", None),
        ("\x00\xff" * 500, None),
        ('msg="clay call" ' + "x" * 5000 + " status=200", None),
    ],
)
def test_call_code(text, code) -> None:
    assert call_code(text) == code


def test_call_code_of_non_text() -> None:
    assert call_code(None) is None  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# Signals to judge


def line(pod: str, text: str, second: float = 0.0) -> LogLine:
    return LogLine(pod, text, datetime.fromtimestamp(T0 + second, UTC))


def logs(*groups: tuple[str, str, int]) -> tuple[LogLine, ...]:
    """(pod, text, how many), one second apart per group line."""
    out, t = [], 0.0
    for pod, text, n in groups:
        for _ in range(n):
            out.append(line(pod, text, t))
            t += 0.5
    return tuple(out)


def metrics(codes: dict[str, float], total: float = 40.0) -> Reading[MetricsSnapshot]:
    series = [Series(f"errors_by_code:{c}", "errors_by_code", f"Clay {c}/s", "req/s", (("code", c),), v) for c, v in codes.items()]
    series.append(Series("request_rate", "request_rate", "Clay requests", "req/s", (), total))
    return Reading(MetricsSnapshot(tuple(series), "http://prometheus", False, T0, 5.0), updated_at=T0)


def pod(name: str, *, ready: bool = True, restarts: int = 0, status: str = "Running", last: str | None = None) -> PodInfo:
    return PodInfo(name, "Running", 1 if ready else 0, 1, restarts, status, last, None, "ReplicaSet/x")


def pods(*infos: PodInfo, at: float = T0) -> Reading[PodsSnapshot]:
    return Reading(PodsSnapshot("clay-drill", "clay-sync", "app=clay-sync", tuple(infos), at, 3.0), updated_at=at)


def health(status: str, at: float, fallback: str = "inactive") -> Reading[HealthSnapshot]:
    checks = (
        HealthCheck("clay_api", "fail" if status == "down" else "degraded", "last 60s: 2400 calls"),
        HealthCheck("fallback", "degraded" if fallback != "inactive" else "ok", fallback),
    )
    return Reading(HealthSnapshot(status, status != "down", checks, 503 if status == "down" else 200, 3.0, at), updated_at=at)


def follow(symptom: Symptom, before: Before, **kw) -> Follow:
    base = dict(
        plan_id="restart-0001",
        action="restart",
        runbook="restart",
        title="Restart the pods",
        effect="rollout done",
        applied_at=T0,
        deadline=T0 + 180,
        old_pods=OLD,
        replicas=3,
        stable=60.0,
        branch="credentials",
    )
    base.update(kw)
    return Follow(symptom, before=before, **base)


AUTH_BEFORE = Before("401 on 100% of calls (40.0/s)", 1.0, 40.0, (401,))
RATE_BEFORE = Before("429 on 45% of calls (18.0/s)", 0.84, 18.0, (429,))
OLD_401 = [(sorted(OLD)[0], L401, 30)]


@pytest.mark.parametrize(
    "name, groups, metric, now, state, words",
    [
        (
            "new pods' calls all fine, metrics lag",
            [*OLD_401, (NEW[0], OK_LINE, 8), (NEW[1], OK_LINE, 4)],
            {"401": 30.0},
            T0 + 5,
            ENDED,
            [
                "Mitigated: 401s stopped at 00:00:05 UTC (0 of the last 12 logged calls of the new pods got 401",
                "metrics not caught up yet (401 at 30.0/s)",
            ],
        ),
        ("metrics agree", [(NEW[0], OK_LINE, 12)], {}, T0 + 90, ENDED, ["metrics agree (401 at 0.00/s)"]),
        (
            "too few calls yet",
            [*OLD_401, (NEW[0], OK_LINE, MIN_CALLS - 1)],
            {"401": 30.0},
            T0 + 5,
            WATCHING,
            [f"watching 401s: {MIN_CALLS - 1} logged calls of the new pods so far (judging at {MIN_CALLS})"],
        ),
        (
            "one 401 from a new pod keeps it open",
            [(NEW[0], OK_LINE, 14), (NEW[1], L401, 1)],
            {},
            T0 + 5,
            WATCHING,
            ["1 of the last 15 logged calls of the new pods got 401"],
        ),
        (
            "the new pods get 401 too: the key is still wrong",
            [(NEW[0], L401, 15), (NEW[1], L401, 10)],
            {"401": 40.0},
            T0 + 30,
            PERSISTS,
            [
                "Restart the pods: rollout done, symptom persists — 25 of the last 25 logged calls of the new pods got 401",
                ": the fix did not work",
            ],
        ),
        (
            "nothing logged by the new pods when the window closes",
            [*OLD_401],
            {"401": 12.0},
            T0 + 181,
            PERSISTS,
            ["symptom persists — no logged calls of the new pods; metrics still show 401 at 12.0/s"],
        ),
        ("no logs, metrics at 0 once they can show it", [], {}, T0 + 80, ENDED, ["(no logged calls of the new pods; metrics agree"]),
    ],
)
def test_auth_errors(name, groups, metric, now, state, words) -> None:
    signals = Signals(recent_logs=logs(*groups), metrics=metrics(metric))
    f, v = judge(follow(Symptom.AUTH_ERRORS, AUTH_BEFORE), signals, now)
    assert v.state == state, (name, v)
    for w in words:
        assert w in v.summary, (name, v.summary)
    assert "…" not in v.summary
    if state == ENDED:
        assert v.ended_at is not None and v.basis in ("logs", "logs+metrics", "metrics")


def test_ended_at_is_the_first_clear_look_and_stays() -> None:
    signals = Signals(recent_logs=logs((NEW[0], OK_LINE, 12)), metrics=metrics({"401": 20.0}))
    f, first = judge(follow(Symptom.AUTH_ERRORS, AUTH_BEFORE), signals, T0 + 5)
    f, again = judge(f, signals, T0 + 9)
    assert first.ended_at == again.ended_at == T0 + 5
    assert first.metrics_agree is None and first.basis == "logs"
    data = first.data(f)
    assert set(data) >= {
        "plan_id",
        "action",
        "runbook",
        "symptom",
        "label",
        "applied_at",
        "ended_at",
        "basis",
        "evidence",
        "metrics_agree",
        "before",
    }
    assert data["symptom"] == "auth_errors" and data["label"] == "401s" and data["before"] == AUTH_BEFORE.text


@pytest.mark.parametrize(
    "name, groups, state, words",
    [
        (
            "a trickle after queuing",
            [(NEW[0], OK_LINE, 18), (NEW[1], L429, 1)],
            ENDED,
            ["Mitigated: 429s down to a trickle at", "1 of the last 19 logged calls of the new pods got 429 (was 84% of them)"],
        ),
        ("still rate-limited", [(NEW[0], L429, 14), (NEW[1], OK_LINE, 6)], PERSISTS, ["14 of the last 20", "the fix did not work"]),
        ("a quarter: not yet a trickle", [(NEW[0], L429, 4), (NEW[1], OK_LINE, 8)], WATCHING, ["4 of the last 12"]),
    ],
)
def test_rate_limited(name, groups, state, words) -> None:
    f = follow(Symptom.RATE_LIMITED, RATE_BEFORE, action="enable_queuing", runbook="enable_queuing", title="Enable request queuing")
    _, v = judge(f, Signals(recent_logs=logs(*groups), metrics=metrics({"429": 0.3})), T0 + 20)
    assert v.state == state, (name, v)
    for w in words:
        assert w in v.summary, (name, v.summary)


def test_only_the_last_calls_count() -> None:
    groups = [(NEW[0], L401, 30), (NEW[1], OK_LINE, LAST_CALLS)]  # 401s first (the old key), then clean
    _, v = judge(follow(Symptom.AUTH_ERRORS, AUTH_BEFORE), Signals(recent_logs=logs(*groups)), T0 + 5)
    assert v.state == ENDED and f"0 of the last {LAST_CALLS}" in v.summary


def test_lines_out_of_order_are_judged_by_their_timestamps() -> None:
    late_backlog = (line(NEW[0], L401, 1.0), line(NEW[0], OK_LINE, 50.0))
    calls = logged_calls((line(NEW[1], OK_LINE, 40.0), *late_backlog))
    assert [c for _, c in calls] == [401, 200, 200]
    mixed = (LogLine(NEW[0], OK_LINE, None), line(NEW[1], L401, 3.0))  # no timestamp on one: as delivered
    assert [c for _, c in logged_calls(mixed)] == [200, 401]


# --------------------------------------------------------------------------
# Pods: the real fixtures' shapes


def fixture_pod(name: str, doc: dict) -> PodInfo:
    meta = {**doc.get("metadata", {}), "name": name}
    return pod_info({**doc, "metadata": meta})


def oomkilled_pod(name: str) -> PodInfo:
    doc = json.loads((FIXTURES / "k8s-pod-oomkilled-laststate.json").read_text(encoding="utf-8"))
    return fixture_pod(name, doc)


def crashloop_pod(name: str) -> PodInfo:
    doc = json.loads((FIXTURES / "k8s-containerstatus-crashloopbackoff.json").read_text(encoding="utf-8"))
    return fixture_pod(name, {"spec": {"containers": [{"name": "test"}]}, "status": {"phase": "Running", **doc}})


PODS_BEFORE = Before("0/3 pods ready, 3 restarted (OOMKilled)")


@pytest.mark.parametrize(
    "name, infos, now, clear_since, state, words",
    [
        (
            "a new pod was OOMKilled (the real pod: ready again, restartCount 1)",
            [oomkilled_pod(NEW[0]), pod(NEW[1]), pod(NEW[2])],
            T0 + 20,
            None,
            PERSISTS,
            ["Restart the pods: rollout done, symptom persists — 3/3 new pods ready, 1 restarted (OOMKilled): the fix did not work"],
        ),
        (
            "a new pod in CrashLoopBackOff (the real status)",
            [crashloop_pod(NEW[0]), pod(NEW[1]), pod(NEW[2])],
            T0 + 20,
            None,
            PERSISTS,
            ["2/3 new pods ready, 1 restarted (Completed)"],
        ),
        (
            "ready, not yet for long enough",
            [pod(NEW[0]), pod(NEW[1]), pod(NEW[2])],
            T0 + 20,
            T0 + 5,
            WATCHING,
            ["watching the pods: 3/3 new pods ready, no restart for 15 s (of 60 s)"],
        ),
        (
            "ready and not restarting for the stable time",
            [pod(NEW[0]), pod(NEW[1]), pod(NEW[2])],
            T0 + 70,
            T0 + 5,
            ENDED,
            ["Mitigated: pods ready and not restarting since 00:00:05 UTC (3/3 new pods ready, no restart for 65 s)"],
        ),
        (
            "the old pods' restarts do not count",
            [pod(sorted(OLD)[0], restarts=7, status="Terminating"), pod(NEW[0]), pod(NEW[1]), pod(NEW[2])],
            T0 + 30,
            T0 + 10,
            WATCHING,
            ["3/3 new pods ready"],
        ),
        (
            "still coming up when the window closes",
            [pod(NEW[0]), pod(NEW[1], ready=False, status="ContainerCreating")],
            T0 + 181,
            None,
            PERSISTS,
            ["1/3 new pods ready: the fix did not work"],
        ),
    ],
)
def test_pods_unready(name, infos, now, clear_since, state, words) -> None:
    f = follow(Symptom.PODS_UNREADY, PODS_BEFORE, branch="infrastructure", clear_since=clear_since)
    _, v = judge(f, Signals(pods=pods(*infos)), now)
    assert v.state == state, (name, v)
    for w in words:
        assert w in v.summary, (name, v.summary)
    assert v.basis == ("pods" if state != WATCHING else "")


def test_scale_judges_every_pod_against_its_restarts_before() -> None:
    f = follow(Symptom.PODS_UNREADY, PODS_BEFORE, old_pods=frozenset(), replicas=4, baseline=(("a", 5),), action="scale", runbook="scale")
    _, v = judge(f, Signals(pods=pods(pod("a", restarts=5), pod("b"), pod("c"), pod("d"))), T0 + 10)
    assert v.state == WATCHING and "4/4 pods ready" in v.summary
    _, v = judge(f, Signals(pods=pods(pod("a", restarts=6, last="OOMKilled"), pod("b"), pod("c"), pod("d"))), T0 + 10)
    assert v.state == PERSISTS and "1 restarted (OOMKilled)" in v.summary


# --------------------------------------------------------------------------
# Health: the fallback


def test_health_down_ends_on_a_fresh_reading_not_down() -> None:
    f = follow(
        Symptom.HEALTH_DOWN,
        Before("health down (clay_api failing)", rate=30.0),
        action="enable_fallback",
        runbook="enable_fallback",
        title="Enable fallback",
        branch="clay_incident",
    )
    stale = Signals(health=health("degraded", T0 - 1))  # read before the change
    assert judge(f, stale, T0 + 2)[1].state == WATCHING
    served = logs((NEW[0], 'level=warn msg="fallback served" source=cache endpoint=/v1/people/enrich reason="clay unavailable"', 3))
    _, v = judge(
        f,
        Signals(
            health=health("degraded", T0 + 3, "active on 3/3 pods: serving cached enrichment"),
            recent_logs=served,
            metrics=metrics({"503": 20.0}),
        ),
        T0 + 4,
    )
    assert v.state == ENDED and v.summary.startswith("Mitigated: our health endpoint no longer down at 00:00:04 UTC (health degraded")
    assert "fallback: active on 3/3 pods" in v.summary and "3 “fallback served” log lines" in v.summary and v.basis == "health+logs"
    _, v = judge(f, Signals(health=health("down", T0 + 170)), T0 + 181)
    assert v.state == PERSISTS and "health down" in v.summary


def test_server_errors_end_when_the_fallback_serves() -> None:
    """Health not down when confirmed: Clay keeps failing the calls it still gets
    (their share of 5xx stays high), so the end is the fallback serving."""
    f = follow(
        Symptom.SERVER_ERRORS,
        Before("503 on 60% of calls (24.0/s)", 1.0, 24.0, (503,)),
        action="enable_fallback",
        runbook="enable_fallback",
        title="Enable fallback",
        branch="clay_incident",
    )
    failing = logs((NEW[0], L503, 25))
    _, v = judge(f, Signals(recent_logs=failing, health=health("degraded", T0 + 2)), T0 + 3)
    assert v.state == WATCHING and "waiting" not in v.summary, v  # fresh, but the fallback is not serving yet
    _, v = judge(
        f,
        Signals(
            recent_logs=failing,
            health=health("degraded", T0 + 4, "active on 3/3 pods: serving cached enrichment"),
            metrics=metrics({"503": 1.1}),
        ),
        T0 + 5,
    )
    assert v.state == ENDED and v.summary.startswith(
        "Mitigated: 5xx from Clay absorbed by the fallback at 00:00:05 UTC (health degraded"
    ), v
    assert "metrics agree (503 at 1.10/s)" in v.summary
    _, v = judge(f, Signals(recent_logs=failing, health=health("degraded", T0 + 170)), T0 + 181)
    assert v.state == PERSISTS and v.summary.endswith("the fix did not work")


# --------------------------------------------------------------------------
# Which symptom, how it stood, what it ticks


def finding(branch: Branch, errors: set[ErrorClass], *ids: ActionId) -> Finding:
    return Finding(branch, Severity.P1, "t", (), tuple(action(i) for i in ids), frozenset(errors), Confidence.HIGH)


def assessment(*findings: Finding) -> Assessment:
    return Assessment(T0, findings[0].branch, Severity.P1, Confidence.HIGH, findings)


CREDS = assessment(finding(Branch.CREDENTIALS, {ErrorClass.AUTH}, ActionId.VERIFY_KEY, ActionId.UPDATE_KEY, ActionId.RESTART))
RATE = assessment(finding(Branch.CREDENTIALS, {ErrorClass.RATE_LIMIT}, ActionId.READ_RATE_LIMITS, ActionId.ENABLE_QUEUING))
OUTAGE = assessment(finding(Branch.CLAY_INCIDENT, {ErrorClass.SERVER}, ActionId.ENABLE_FALLBACK, ActionId.WATCH_CLAY_STATUS))
INFRA = assessment(finding(Branch.INFRASTRUCTURE, set(), ActionId.INVESTIGATE_INFRA))
DOWN = Signals(health=health("down", T0))
CRASHING = Signals(pods=pods(pod("a", ready=False, restarts=3, status="CrashLoopBackOff", last="OOMKilled")))


@pytest.mark.parametrize(
    "kind, a, signals, want",
    [
        (ActionKind.UPDATE_KEY, CREDS, Signals(), (Symptom.AUTH_ERRORS, "credentials")),
        (ActionKind.RESTART, CREDS, Signals(), (Symptom.AUTH_ERRORS, "credentials")),
        (ActionKind.ENABLE_QUEUING, RATE, Signals(), (Symptom.RATE_LIMITED, "credentials")),
        (ActionKind.ENABLE_FALLBACK, OUTAGE, DOWN, (Symptom.HEALTH_DOWN, "clay_incident")),
        (ActionKind.ENABLE_FALLBACK, OUTAGE, Signals(health=health("degraded", T0)), (Symptom.SERVER_ERRORS, "clay_incident")),
        (ActionKind.RESTART, INFRA, Signals(), (Symptom.PODS_UNREADY, "infrastructure")),  # our pods are the problem, named or not
        (ActionKind.SCALE, INFRA, CRASHING, (Symptom.PODS_UNREADY, "infrastructure")),
        (ActionKind.RESTART, None, CRASHING, (Symptom.PODS_UNREADY, "")),  # no verdict yet: what the pods show
        (ActionKind.RESTART, None, Signals(pods=pods(pod("a", restarts=2, last="OOMKilled"))), (Symptom.PODS_UNREADY, "")),
        (ActionKind.RESTART, None, Signals(recent_logs=logs((NEW[0], L401, 12))), (Symptom.AUTH_ERRORS, "")),
        (ActionKind.RESTART, None, Signals(recent_logs=logs((NEW[0], OK_LINE, 12))), None),  # nothing wrong in sight: nothing to follow
        (ActionKind.DISABLE_QUEUING, RATE, Signals(), None),
        (ActionKind.VERIFY_KEY, CREDS, Signals(), None),
    ],
)
def test_symptom_for(kind, a, signals, want) -> None:
    assert symptom_for(kind, a, signals) == want


def test_symptom_for_the_branch_that_recommends_it() -> None:
    recommends_restart = assessment(finding(Branch.INFRASTRUCTURE, set(), ActionId.RESTART, ActionId.INVESTIGATE_INFRA))
    assert symptom_for(ActionKind.RESTART, recommends_restart, Signals()) == (Symptom.PODS_UNREADY, "infrastructure")


def test_before_in_numbers() -> None:
    signals = Signals(recent_logs=logs((sorted(OLD)[0], L401, 41), (sorted(OLD)[1], OK_LINE, 9)), metrics=metrics({"401": 32.8}, 40.0))
    b = measure_before(Symptom.AUTH_ERRORS, signals)
    assert b.text == "401 on 82% of calls (32.8/s)" and b.codes == (401,) and b.share == pytest.approx(41 / 50)
    assert measure_before(Symptom.AUTH_ERRORS, Signals(recent_logs=logs((NEW[0], L401, 3)))).text == "3 of the last 3 logged calls got 401"
    assert measure_before(Symptom.AUTH_ERRORS, Signals()).text == "401: no numbers yet"
    crash = Signals(pods=pods(*(pod(n, ready=False, restarts=2, status="CrashLoopBackOff", last="OOMKilled") for n in sorted(OLD))))
    assert measure_before(Symptom.PODS_UNREADY, crash).text == "0/3 pods ready, 3 restarted (OOMKilled)"
    assert measure_before(Symptom.HEALTH_DOWN, DOWN).text == "health down (clay_api: fail)"


@pytest.mark.parametrize(
    "f, want",
    [
        (follow(Symptom.AUTH_ERRORS, AUTH_BEFORE, carries=("update_key",)), ["branch_credentials", "update_key", "restart_pods"]),
        (
            follow(Symptom.RATE_LIMITED, RATE_BEFORE, action="enable_queuing", runbook="enable_queuing"),
            ["branch_credentials", "enable_queuing"],
        ),
        (
            follow(Symptom.HEALTH_DOWN, Before("down"), runbook="enable_fallback", branch="clay_incident"),
            ["branch_clay", "enable_fallback"],
        ),
        (follow(Symptom.PODS_UNREADY, PODS_BEFORE, branch="infrastructure"), ["branch_infrastructure"]),  # "401/403: restart" is not it
        (follow(Symptom.PODS_UNREADY, PODS_BEFORE, branch=""), []),
    ],
)
def test_ticks_for(f, want) -> None:
    assert sorted(ticks_for(f)) == sorted(want)


# --------------------------------------------------------------------------
# Odd input never breaks it

texts = st.one_of(st.text(max_size=120), st.sampled_from([OK_LINE, L401, L429, L503, STATS, "", "msg=clay status=999"]))
log_lines = st.builds(
    LogLine,
    pod=st.sampled_from([*NEW, *sorted(OLD), "(cockpit)", ""]),
    text=texts,
    ts=st.one_of(st.none(), st.datetimes(timezones=st.just(UTC)), st.datetimes()),
)
odd = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True))
pod_infos = st.builds(
    PodInfo,
    name=st.sampled_from([*NEW, *sorted(OLD), "x"]),
    phase=st.text(max_size=8),
    ready=st.integers(-1, 3),
    containers=st.integers(0, 3),
    restarts=st.integers(-1, 10),
    status=st.sampled_from(["Running", "OOMKilled", "Terminating", ""]),
    last_termination=st.one_of(st.none(), st.text(max_size=8)),
    created_at=st.none(),
    owner=st.none(),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HC.too_slow])
@given(
    symptom=st.sampled_from(list(Symptom)),
    lines=st.lists(log_lines, max_size=60),
    rate=odd,
    pods_=st.lists(pod_infos, max_size=6),
    status=st.sampled_from(["ok", "degraded", "down", ""]),
    now=st.floats(T0 - 10, T0 + 400),
    share=odd,
    replicas=st.one_of(st.none(), st.integers(-1, 5)),
)
def test_judging_never_raises(symptom, lines, rate, pods_, status, now, share, replicas) -> None:
    m = metrics({"401": rate, "429": rate, "503": rate} if rate is not None else {}, total=rate if rate is not None else 0.0)
    signals = Signals(recent_logs=tuple(lines), metrics=m, pods=pods(*pods_), health=health(status, T0 + 1))
    before = Before("b", share if share is None or math.isfinite(share) else None, rate, (401,))
    f = follow(symptom, before, replicas=replicas)
    for _ in range(2):
        f, v = judge(f, signals, now)
        assert v.state in (WATCHING, ENDED, PERSISTS) and "\n" not in v.summary
        json.dumps(v.data(f), allow_nan=False)  # the event's data is strict JSON
    measure_before(symptom, signals)
