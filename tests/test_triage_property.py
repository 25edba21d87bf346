"""Property: ``assess`` never raises, gives whole one-line texts and
serialises, and never claims high confidence (or "healthy") unless every
polled source is live — for any mix of present, absent, failed and stale
readings holding odd values (NaN, negative rates, unknown codes, garbage log
lines). And a headline says only what its numbers say."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from hypothesis import HealthCheck as HC
from hypothesis import given, settings
from hypothesis import strategies as st
from test_triage import LOG_T0, TH, call_lines, check_shape, live, ramp_metrics, signals

from clay_cockpit.config import Thresholds
from clay_cockpit.runbook import Branch
from clay_cockpit.signals import (
    Component,
    ComponentStatus,
    ErrorKind,
    HealthCheck,
    HealthSnapshot,
    LogLine,
    MetricsSnapshot,
    PodInfo,
    PodsSnapshot,
    Reading,
    Series,
    Signals,
    SourceError,
    StatusIncident,
    StatusPageSnapshot,
)
from clay_cockpit.triage.tree import Confidence, assess

NOW = 1_800_000_000.0
DEFAULT_REFRESH = {"statuspage": 30.0, "health": 10.0, "metrics": 15.0, "pods": 5.0}

odd_float = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(-10, 200), st.just(0.0))
maybe_float = st.one_of(st.none(), odd_float)
# no "…" in outside text: check_shape looks for "…" as the mark of a text the cockpit cut
words = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="…"), max_size=40)
when = st.one_of(st.none(), st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)))

incidents = st.builds(
    StatusIncident,
    id=words,
    name=words,
    status=st.sampled_from(["investigating", "identified", "monitoring", "", "odd"]),
    impact=st.sampled_from(["none", "minor", "major", "critical", "maintenance", ""]),
    started_at=when,
    updated_at=when,
    latest_update=words,
    latest_update_at=when,
    components=st.lists(words, max_size=3).map(tuple),
)
status_pages = st.builds(
    StatusPageSnapshot,
    provider=st.sampled_from(["statuspage", "rootly"]),
    page_name=words,
    page_url=words,
    indicator=st.sampled_from(["none", "minor", "major", "critical", "maintenance", "", "??"]),
    description=words,
    components=st.lists(st.builds(Component, name=words, status=st.sampled_from(list(ComponentStatus))), max_size=5).map(tuple),
    incidents=st.lists(incidents, max_size=3).map(tuple),
    fetched_at=odd_float,
    response_ms=odd_float,
)

health_details = st.one_of(
    words,
    st.builds(
        lambda n, m, c, k, p: f"last 60s: {n} calls, {m} errors ({c}: {k}), p95 {p} ms",
        st.integers(0, 5000),
        st.integers(0, 5000),
        st.sampled_from([401, 403, 429, 500, 503, 404, 999]),
        st.integers(0, 5000),
        st.integers(0, 20000),
    ),
)
health_checks = st.builds(
    HealthCheck,
    name=st.sampled_from(["clay_api", "fallback", "queue", "database", "x"]),
    status=st.sampled_from(["ok", "degraded", "fail", "unknown", ""]),
    detail=health_details,
    ok=st.booleans(),
)
healths = st.builds(
    HealthSnapshot,
    status=st.sampled_from(["ok", "degraded", "down", ""]),
    healthy=st.booleans(),
    checks=st.lists(health_checks, max_size=5).map(tuple),
    http_status=st.sampled_from([200, 503, 0]),
    response_ms=odd_float,
    fetched_at=odd_float,
)

points = st.lists(st.tuples(odd_float, odd_float), max_size=6).map(tuple)
labels = st.one_of(
    st.just(()),
    st.tuples(st.tuples(st.just("code"), st.sampled_from(["401", "403", "429", "500", "503", "400", "200", "abc", "", " 5", "99999"]))),
)
series = st.builds(
    Series,
    key=words,
    query=st.sampled_from(["errors_by_code", "request_rate", "latency_p95", "other"]),
    label=words,
    unit=st.sampled_from(["req/s", "ms", ""]),
    labels=labels,
    current=maybe_float,
    points=points,
)
metricses = st.builds(
    MetricsSnapshot,
    series=st.lists(series, max_size=8).map(tuple),
    served_by=words,
    is_backup=st.booleans(),
    fetched_at=odd_float,
    response_ms=odd_float,
)

pod_infos = st.builds(
    PodInfo,
    name=words,
    phase=st.sampled_from(["Running", "Pending", "Failed", "Unknown", "Succeeded", ""]),
    ready=st.integers(-1, 3),
    containers=st.integers(0, 3),
    restarts=st.integers(-1, 20),
    status=st.sampled_from(["Running", "CrashLoopBackOff", "OOMKilled", "Terminating", "ErrImagePull", "Init:Error", "Pending", ""]),
    last_termination=st.sampled_from([None, "OOMKilled", "Error", "Completed"]),
    created_at=when,
    owner=st.none(),
    node=st.sampled_from([None, "n-1", ""]),
    reason=st.sampled_from([None, "Evicted", "Shutdown", ""]),
    message=words,
    finished_at=when,
)
podses = st.builds(
    PodsSnapshot,
    context=words,
    namespace=words,
    selector=words,
    pods=st.lists(pod_infos, max_size=5).map(tuple),
    fetched_at=odd_float,
    response_ms=odd_float,
)

log_texts = st.one_of(
    words,
    st.builds(
        lambda c, extra: f'level=error msg="clay call failed" status={c} {extra}',
        st.sampled_from(["401", "429", "503", "200", "abc", "", "1000"]),
        st.sampled_from(
            ["", "x-ratelimit-limit=600 x-ratelimit-remaining=0 x-ratelimit-reset=3", 'error="a \\" b"', "rss_mb=1 limit_mb=2"]
        ),
    ),
    st.builds(lambda c, f: f'level=info msg="sync stats" calls_30s={c} failed_30s={f}', st.integers(-5, 500), st.integers(-5, 500)),
    st.just('level=error msg="out of memory: allocation failed" rss_mb=511 limit_mb=512'),
)
log_lines = st.lists(st.builds(LogLine, pod=st.sampled_from(["a", "b", "(cockpit)"]), text=log_texts, ts=when), max_size=40).map(tuple)

errors = st.builds(
    SourceError,
    source=st.sampled_from(["statuspage", "health", "metrics", "kube"]),
    kind=st.sampled_from(list(ErrorKind)),
    message=words,
    hint=words,
    at=odd_float,
)
ages = st.one_of(st.none(), st.floats(-100, 10_000))


def readings(values: st.SearchStrategy) -> st.SearchStrategy:
    """Absent, failed, live, or stale (old, or with an error next to the kept value)."""

    def make(value, error, age, mode):
        updated = None if age is None else NOW - age
        if mode == "absent":
            return Reading()
        if mode == "failed":
            return Reading(error=error, checked_at=NOW)
        if mode == "live":
            return Reading(value=value, updated_at=updated, checked_at=updated)
        return Reading(value=value, error=error, updated_at=updated, checked_at=NOW)

    return st.builds(make, values, errors, ages, st.sampled_from(["absent", "failed", "live", "live", "stale"]))


thresholds = st.builds(
    Thresholds,
    error_rate_warn=st.floats(0.01, 50),
    error_rate_crit=st.floats(0.01, 100),
    error_ratio_crit=st.floats(0.01, 1.0),
    latency_p95_warn_ms=st.floats(1, 5000),
    latency_p95_crit_ms=st.floats(1, 10000),
    restarts_warn=st.integers(0, 10),
    clay_health_checks=st.sampled_from([("clay_api", "fallback"), (), ("queue",)]),
    stale_intervals=st.floats(0.5, 10),
)
refreshes = st.one_of(st.none(), st.fixed_dictionaries({k: st.floats(-1, 100) for k in DEFAULT_REFRESH}))


def is_live(reading: Reading, refresh: float, th: Thresholds) -> bool:
    if reading.value is None or reading.error is not None:
        return False
    age = reading.age(NOW)
    return age is None or age <= th.stale_intervals * refresh


@settings(max_examples=400, deadline=None, suppress_health_check=[HC.too_slow, HC.data_too_large])
@given(
    sp=readings(status_pages),
    h=readings(healths),
    m=readings(metricses),
    p=readings(podses),
    logs=log_lines,
    th=thresholds,
    refresh=refreshes,
)
def test_assess_never_raises_and_never_claims_confidence_it_lacks(sp, h, m, p, logs, th, refresh) -> None:
    sig = Signals(statuspage=sp, health=h, metrics=m, pods=p, recent_logs=logs, at=NOW)
    a = assess(sig, th, NOW, refresh=refresh)
    check_shape(a)
    intervals = {k: (v if v > 0 else 1.0) for k, v in {**DEFAULT_REFRESH, **(refresh or {})}.items()}
    all_live = all(is_live(getattr(sig, name), intervals[name], th) for name in DEFAULT_REFRESH)
    if not all_live:
        assert a.confidence != Confidence.HIGH, a.to_dict()
        assert a.branch != Branch.HEALTHY
        assert a.cannot_see, "what it cannot see is said"
    if a.branch == Branch.HEALTHY:
        assert a.severity is None and a.confidence == Confidence.HIGH and len(a.findings) == 1
    for f in a.findings:
        assert (f.severity is None) == (f.branch in (Branch.HEALTHY, Branch.UNKNOWN))
        assert f.confidence != Confidence.HIGH or all_live


@settings(max_examples=150, deadline=None)
@given(m=readings(metricses), logs=log_lines)
def test_odd_metrics_and_logs_alone(m, logs) -> None:
    """Everything else live and healthy: whatever the metrics hold, the result is well formed."""
    from test_triage import TH, health, live, pods, status_page

    sig = Signals(live(status_page()), live(health()), m, live(pods()), logs, NOW)
    a = assess(sig, TH, NOW)
    check_shape(a)
    if not is_live(m, 15.0, TH):
        assert a.confidence != Confidence.HIGH


# --------------------------------------------------------------------------
# Headlines come from the numbers


VAGUE = re.compile(r"\b(every|nearly|most|almost|majority|all calls|all Clay calls)\b", re.IGNORECASE)


@settings(max_examples=150, deadline=None, suppress_health_check=[HC.too_slow])
@given(
    code=st.sampled_from([401, 403, 429, 500, 503]),
    share=st.floats(0.0, 1.0),
    onset=st.one_of(st.just(600.0), st.floats(-5.0, 70.0)),  # seconds the failure has lasted at the metrics' newest point
    failed=st.integers(0, 80),
    ok=st.integers(0, 40),
)
def test_a_headline_says_only_what_its_numbers_say(code: int, share: float, onset: float, failed: int, ok: int) -> None:
    """A share in the headline is the metrics' share of that class; "all N
    logged calls" only when N of N logged calls failed; never a vague word."""
    total = 40.0
    rate = share * total
    m = ramp_metrics(code, rate, onset=onset, total=total)
    start = LOG_T0 + 600 - max(onset, 0.0)
    logs = call_lines(200, ok, start - ok * 0.5 - 1, 0.5) + call_lines(code, failed, start, 0.2)
    a = assess(signals(metrics_=live(m), logs=logs), TH, NOW)
    check_shape(a)
    for f in a.findings:
        assert not VAGUE.search(f.title), f.title
        for pct in re.findall(r"(?<![~\d])(\d+)% of (?:Clay )?calls", f.title):
            metric = next(s for s in m.series if s.key == f"errors_by_code:{code}").current
            assert f"{min(metric / total, 1.0) * 100:.0f}" == pct or int(pct) == 0 and metric / total < 0.01, (f.title, metric)
        if (hit := re.search(r"all (\d+) logged", f.title)) is not None:
            n = int(hit.group(1))
            assert n <= failed and f"{n} of {n} logged Clay calls got" in " ".join(r.text for r in f.reasons), f.title
        if (hit := re.search(r"(\d+) of (\d+) logged", f.title)) is not None:
            assert int(hit.group(1)) <= failed and int(hit.group(1)) < int(hit.group(2)), f.title
