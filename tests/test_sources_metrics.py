"""The metrics source against the drill's two Prometheus servers, with
prometheus-api-client over real HTTP: each scenario's series, failover to the
backup and back, not paying a timeout per poll while the primary is down,
Prometheus error bodies, and each failure kind.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from clay_cockpit.config import QueryConfig, config_from_toml
from clay_cockpit.signals import ErrorKind, MetricsSnapshot, SourceError
from clay_cockpit.sources.metrics import Metrics

TOKEN_ENV = "CLAY_COCKPIT_TEST_PROM_TOKEN"
TOKEN = "prom-test-token-0c9d8e7f"


def source(sim, **changes) -> Metrics:
    return Metrics(replace(config_from_toml(sim.config_dict(), "drill.toml").metrics, **changes))


def snapshot(metrics: Metrics) -> MetricsSnapshot:
    got = metrics.fetch()
    assert isinstance(got, MetricsSnapshot), got.line()  # type: ignore[union-attr]
    return got


def current(snap: MetricsSnapshot, key: str) -> float:
    series = {s.key: s for s in snap.series}
    assert key in series, sorted(series)
    value = series[key].current
    assert value is not None
    return value


# --------------------------------------------------------------------------
# What each scenario looks like


@pytest.mark.parametrize(
    "sim, code",
    [("clay-outage", "503"), ("rate-limited", "429"), ("key-revoked", "401")],
    indirect=["sim"],
)
def test_error_series_split_by_code(sim, code: str) -> None:
    sim.advance(120)
    snap = snapshot(source(sim))
    assert not snap.is_backup and snap.served_by == sim.endpoints["prometheus"] and snap.failovers == ()
    errors = snap.by_query("errors_by_code")
    assert f"errors_by_code:{code}" in {s.key for s in errors}
    hot = next(s for s in errors if s.label_value("code") == code)
    assert hot.label == f"Clay {code}" and hot.unit == "req/s" and hot.labels == (("code", code),)
    assert hot.current is not None and hot.current > 1.0
    # history: the range ends at the drill's (frozen) now, one point per 15 s step
    assert len(hot.points) >= 5
    assert hot.points[-1][1] > 1.0 and hot.points[0][1] < hot.points[-1][1]  # the fault started 20 s in
    assert all(a[0] < b[0] for a, b in zip(hot.points, hot.points[1:]))
    assert current(snap, "request_rate") > 30.0


@pytest.mark.parametrize("sim, low, high", [("healthy", 150.0, 800.0), ("degraded-latency", 1800.0, 10000.0)], indirect=["sim"])
def test_latency_is_scaled_to_ms(sim, low: float, high: float) -> None:
    sim.advance(120)
    snap = snapshot(source(sim))
    p95 = current(snap, "latency_p95")
    assert low <= p95 <= high
    (series,) = snap.by_query("latency_p95")
    assert series.unit == "ms" and series.key == "latency_p95" and series.labels == ()
    assert all(v >= 0 for _, v in series.points)


def test_keys_are_stable_across_polls(shared_sim) -> None:
    metrics = source(shared_sim)
    first, second = snapshot(metrics), snapshot(metrics)
    assert [s.key for s in first.series] == [s.key for s in second.series]
    assert {"request_rate", "latency_p95"} <= {s.key for s in first.series}


def test_constructing_does_no_io(shared_sim) -> None:
    seen = len(shared_sim.requests("prometheus"))
    Metrics(config_from_toml(shared_sim.config_dict(), "x").metrics)
    assert len(shared_sim.requests("prometheus")) == seen


# --------------------------------------------------------------------------
# Failover


def test_fails_over_to_the_backup_and_back(sim) -> None:
    metrics = source(sim)
    assert not snapshot(metrics).is_backup
    sim.stop_service("prometheus")
    snap = snapshot(metrics)
    assert snap.is_backup and snap.served_by == sim.endpoints["prometheus_backup"]
    (why,) = snap.failovers
    assert why.kind is ErrorKind.UNREACHABLE and sim.endpoints["prometheus"] in why.message
    assert current(snap, "request_rate") > 0
    sim.start_service("prometheus")
    polls = []
    for _ in range(metrics.primary_retry_every + 1):
        polls.append(snapshot(metrics))
    assert polls[0].is_backup, "sticks to the backup until the primary is probed again"
    assert polls[0].failovers, "and keeps saying why"
    assert not polls[-1].is_backup and polls[-1].served_by == sim.endpoints["prometheus"]
    assert polls[-1].failovers == ()


def test_an_answer_we_do_not_understand_fails_over_and_says_where_in_the_code(sim, monkeypatch, caplog) -> None:
    """A primary whose answer trips something unforeseen (in CI: an AttributeError while a real
    Prometheus was shutting down) is one failed server, not a failed poll: the backup serves,
    the failover names the exception, and the log says where in the code it arose."""
    import logging

    from clay_cockpit.sources import metrics as metrics_module

    real = metrics_module.build_series
    calls = [0]

    def first_call_trips(*args, **kwargs):
        calls[0] += 1
        if calls[0] == 1:
            raise AttributeError("'NoneType' object has no attribute 'read1'")  # as from deep in reading an answer
        return real(*args, **kwargs)

    monkeypatch.setattr(metrics_module, "build_series", first_call_trips)
    metrics = source(sim)
    with caplog.at_level(logging.WARNING, logger="clay_cockpit.sources._errors"):
        snap = snapshot(metrics)
    assert snap.is_backup and current(snap, "request_rate") > 0
    (why,) = snap.failovers
    assert why.kind is ErrorKind.BAD_RESPONSE and "unexpected AttributeError" in why.message, why
    assert any("test_sources_metrics.py" in r.getMessage() and "first_call_trips" in r.getMessage() for r in caplog.records), caplog.text


def test_a_hung_primary_costs_one_timeout_not_one_per_poll(sim) -> None:
    metrics = source(sim, timeout=1.0)
    sim.fault("prometheus", delay=4)
    before = len(sim.requests("prometheus"))
    snap = snapshot(metrics)
    assert snap.is_backup and snap.failovers[0].kind is ErrorKind.TIMEOUT
    asked = [r["path"] for r in sim.requests("prometheus")[before:]]
    assert len(asked) == 1, f"one query reached the hung primary, then the backup was asked: {asked}"
    before = len(sim.requests("prometheus"))
    for _ in range(metrics.primary_retry_every * 2):
        assert snapshot(metrics).is_backup
    probes = [r["path"] for r in sim.requests("prometheus")[before:]]
    assert probes == ["/-/ready", "/-/ready"], probes  # only the short probes reach the primary
    sim.clear_fault("prometheus")
    polls = [snapshot(metrics) for _ in range(metrics.primary_retry_every)]
    assert not polls[-1].is_backup


def test_every_server_down(sim) -> None:
    metrics = source(sim)
    sim.stop_service("prometheus")
    sim.fault("prometheus_backup", status=500)
    err = metrics.fetch()
    assert isinstance(err, SourceError) and err.kind is ErrorKind.UNREACHABLE
    assert "no Prometheus answered (2 tried)" in err.message and "monitoring stack" in err.hint
    alone = source(sim, backup_urls=())
    err = alone.fetch()
    assert isinstance(err, SourceError) and "backup_urls" in err.hint


@pytest.mark.parametrize(
    "fault, kind, fails_over",
    [
        ({"status": 500}, ErrorKind.SERVER_ERROR, True),
        ({"status": 503}, ErrorKind.SERVER_ERROR, True),
        ({"status": 429}, ErrorKind.RATE_LIMITED, True),
        ({"malformed": True}, ErrorKind.BAD_RESPONSE, True),
        ({"status": 401}, ErrorKind.AUTH_EXPIRED, False),
        ({"status": 403}, ErrorKind.FORBIDDEN, False),
    ],
    ids=lambda v: str(v),
)
def test_primary_faults(shared_sim, monkeypatch, fault: dict, kind: ErrorKind, fails_over: bool) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    metrics = source(shared_sim, token_env=TOKEN_ENV)
    shared_sim.fault("prometheus", **fault)
    try:
        got = metrics.fetch()
    finally:
        shared_sim.clear_fault("prometheus")
    if fails_over:
        assert isinstance(got, MetricsSnapshot) and got.is_backup, got
        (why,) = got.failovers
        error = why
    else:
        assert isinstance(got, SourceError), got
        error = got
    assert error.kind is kind, error.line()
    assert TOKEN not in error.message + error.hint + repr(error) + repr(metrics)
    if kind is ErrorKind.AUTH_EXPIRED:
        assert f"${TOKEN_ENV}" in error.hint


def test_prometheus_error_body_names_the_query(shared_sim) -> None:
    base = config_from_toml(shared_sim.config_dict(), "drill.toml").metrics
    bogus = QueryConfig(name="my_errors", query='sum(rate(nope_total{code=~"5.."}[1m]))', label="x")
    metrics = Metrics(replace(base, queries=base.queries + (bogus,)))
    before = len(shared_sim.requests("prometheus_backup"))
    err = metrics.fetch()
    assert isinstance(err, SourceError) and err.kind is ErrorKind.BAD_RESPONSE and err.status_code == 400
    assert "'my_errors'" in err.message and "bad_data" in err.message
    assert "metrics.queries.my_errors" in err.hint
    assert len(shared_sim.requests("prometheus_backup")) == before, "a bad query does not fail over"
