"""Response bodies are capped (issue 12): a Prometheus or Kubernetes API that
answers 64 MiB (a broken proxy, a download behind the URL) is a named
BAD_RESPONSE, and the reading stops at the 4 MiB cap, through the real
clients (prometheus-api-client over requests, the kubernetes client over
urllib3) against the drill's ``huge`` fault."""

from __future__ import annotations

from dataclasses import replace

import pytest
import requests

from clay_cockpit.config import config_from_toml
from clay_cockpit.signals import ErrorKind, MetricsSnapshot, PodsSnapshot, SourceError
from clay_cockpit.sources._bounded import CHUNK, MAX_BODY, BodyTooLarge, cap_session
from clay_cockpit.sources.kube import Kube
from clay_cockpit.sources.metrics import Metrics

HUGE = 64 * 1024 * 1024
# what the drill hands its socket before the client hangs up: what the client
# read (the cap and a chunk) plus what loopback's kernel buffers take in
SENT_AT_MOST = 24 * 1024 * 1024


def sent(sim, service: str) -> int:
    return sim.state()["huge_sent"].get(service, 0)


@pytest.mark.parametrize("status", [None, 500], ids=["200", "500"])
def test_a_huge_prometheus_answer_is_named_and_not_read(shared_sim, status) -> None:
    config = config_from_toml(shared_sim.config_dict(), "drill.toml").metrics
    metrics = Metrics(replace(config, backup_urls=()))
    assert isinstance(metrics.fetch(), MetricsSnapshot)
    before = sent(shared_sim, "prometheus")
    shared_sim.fault("prometheus", huge=HUGE, **({"status": status} if status else {}))
    try:
        err = metrics.fetch()
    finally:
        shared_sim.clear_fault("prometheus")
    assert isinstance(err, SourceError), err
    assert err.kind is ErrorKind.BAD_RESPONSE, err.line()
    assert f"{shared_sim.endpoints['prometheus']} sent more than 4 MiB for query 'errors_by_code': not read" in err.message
    assert "points at the API" in err.hint
    assert 0 < sent(shared_sim, "prometheus") - before < SENT_AT_MOST
    assert isinstance(metrics.fetch(), MetricsSnapshot)  # the session still works


def test_a_huge_answer_fails_over_to_the_backup(shared_sim) -> None:
    metrics = Metrics(config_from_toml(shared_sim.config_dict(), "drill.toml").metrics)
    shared_sim.fault("prometheus", huge=HUGE)
    try:
        snap = metrics.fetch()
    finally:
        shared_sim.clear_fault("prometheus")
    assert isinstance(snap, MetricsSnapshot) and snap.is_backup, snap
    assert [f.kind for f in snap.failovers] == [ErrorKind.BAD_RESPONSE] and "sent more than 4 MiB" in snap.failovers[0].message


@pytest.mark.parametrize("status", [None, 500], ids=["200", "500"])
def test_a_huge_kubernetes_answer_is_named_and_not_read(shared_sim, status) -> None:
    kube = Kube(replace(config_from_toml(shared_sim.config_dict(), "drill.toml").kube, timeout=5.0))
    assert isinstance(kube.list_pods(), PodsSnapshot)
    before = sent(shared_sim, "kube")
    shared_sim.fault("kube", huge=HUGE, **({"status": status} if status else {}))
    try:
        err = kube.list_pods()
    finally:
        shared_sim.clear_fault("kube")
    assert isinstance(err, SourceError), err
    assert err.kind is ErrorKind.BAD_RESPONSE, err.line()
    assert "sent more than 4 MiB while listing pods" in err.message and "not read" in err.message
    assert "points at the API" in err.hint
    assert 0 < sent(shared_sim, "kube") - before < SENT_AT_MOST
    assert isinstance(kube.list_pods(), PodsSnapshot)  # the pool still works


def test_the_reading_stops_at_the_cap(shared_sim) -> None:
    """Bytes read, not RSS: the capped session reads the cap and one chunk at most."""
    session = cap_session(requests.Session())
    shared_sim.fault("prometheus", huge=HUGE, times=1)
    try:
        with pytest.raises(BodyTooLarge) as caught:
            session.get(
                shared_sim.endpoints["prometheus"] + "/api/v1/query", params={"query": "sum(rate(clay_api_requests_total[1m]))"}, timeout=5
            )
    finally:
        shared_sim.clear_fault("prometheus")
        session.close()
    assert MAX_BODY < caught.value.read <= MAX_BODY + CHUNK
    ok = cap_session(requests.Session())
    try:
        answer = ok.get(
            shared_sim.endpoints["prometheus"] + "/api/v1/query", params={"query": "sum(rate(clay_api_requests_total[1m]))"}, timeout=5
        )
        assert answer.json()["status"] == "success"  # an ordinary answer reads as before
    finally:
        ok.close()
