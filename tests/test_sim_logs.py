"""The drill's pod logs at scale and in real formats (issue 15), read over real
HTTPS with the official kubernetes client and kubectl: sequence numbers per
container instance, JSON and colour lines as real loggers write them, an
unsampled flood at the configured rate with nothing lost, 500 pods."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from kubernetes import client, config

from clay_cockpit.sanitise import SGR, strip_sgr
from clay_cockpit.sim.background import start_background
from clay_cockpit.sim.podlog import render
from clay_cockpit.sim.scenario import load_scenario, with_log_rate
from clay_cockpit.triage.logformat import fields, level_of

NS = "clay-sync"
FROZEN_AT = 1_767_225_600.0
SEQ = re.compile(r'(?:\bseq=|"seq":)(\d+)')


def core(sim) -> client.CoreV1Api:
    return client.CoreV1Api(config.new_client_from_config(config_file=str(sim.kubeconfig), context=sim.context, persist_config=False))


def seqs(text: str) -> list[int]:
    out = []
    for line in text.splitlines():
        m = SEQ.search(line)
        assert m is not None, f"a line without its seq number: {line!r}"
        out.append(int(m.group(1)))
    return out


def running(api: client.CoreV1Api) -> list[str]:
    return sorted(p.metadata.name for p in api.list_namespaced_pod(NS, _request_timeout=10).items if p.status.phase == "Running")


# ---------------------------------------------------------------- seq numbers


@pytest.mark.scenario("infra-crashloop")
def test_seq_is_contiguous_per_container_and_restarts_at_one_in_a_new_instance(sim) -> None:
    api = core(sim)
    pods = running(api)
    first = api.read_namespaced_pod_log(pods[0], NS, _request_timeout=10)
    assert first.splitlines()[0].startswith('level=info msg="starting clay-sync" version=1.14.2 pod=')
    assert seqs(first) == list(range(1, len(first.splitlines()) + 1))
    sim.advance(20 + 25 + 6 + 15)  # the leak OOMKills every pod (after 25-31 s), then the back-off (10 s) ends
    restarted = [p for p in api.list_namespaced_pod(NS, _request_timeout=10).items if p.status.container_statuses[0].restart_count >= 1]
    assert restarted, "the crashloop restarted a container"
    for pod in restarted:
        name = pod.metadata.name
        prev = api.read_namespaced_pod_log(name, NS, previous=True, _request_timeout=10)
        numbers = seqs(prev)
        assert numbers == list(range(1, len(numbers) + 1)), "the previous instance's lines, 1.. without a gap"
        assert "out of memory" in prev.splitlines()[-1]
        if pod.status.container_statuses[0].state.running is None:
            continue  # still backing off: no current instance yet
        now = api.read_namespaced_pod_log(name, NS, _request_timeout=10)
        numbers = seqs(now)
        assert numbers[:1] == [1] and numbers == list(range(1, len(numbers) + 1)), "the new instance starts again at 1"
        assert 'msg="starting clay-sync"' in now.splitlines()[0]


@pytest.mark.scenario("clay-outage", frozen=False, speed=20)
def test_seq_has_no_gap_in_what_a_follow_receives(sim) -> None:
    """A follow (chunked, as kubectl logs -f reads it) gets every line its container writes, in order."""
    api = core(sim)
    pod = running(api)[0]
    resp = api.read_namespaced_pod_log(pod, NS, follow=True, _preload_content=False, _request_timeout=(5, 10))
    got: list[int] = []
    buf = b""
    deadline = time.monotonic() + 4.0  # 80 drill seconds: the outage's error lines too
    try:
        for chunk in resp.stream(4096):
            buf += chunk
            *lines, buf = buf.split(b"\n")
            got += seqs(b"\n".join(lines).decode()) if lines else []
            if time.monotonic() > deadline:
                break
    finally:
        resp.release_conn()
    assert len(got) > 10 and got == list(range(1, len(got) + 1))


# ---------------------------------------------------------------- formats


def test_logfmt_lines_keep_their_shape_with_seq_last() -> None:
    line = render("logfmt", False, "error", "clay call failed", [("status", 503), ("error", "service unavailable")], 0.0, 7)
    assert line == 'level=error msg="clay call failed" status=503 error="service unavailable" seq=7'
    assert fields(line)["status"] == "503" and fields(line)["seq"] == "7"


def _with_service(name: str, **service) -> object:
    spec = load_scenario(name)
    return replace(spec, service=replace(spec.service, **service))


def test_json_and_colour_lines_are_what_real_loggers_write(tmp_path: Path) -> None:
    sim = start_background(_with_service("rate-limited", log_format="json", log_colour=True), seed=7, freeze_at=FROZEN_AT, workdir=tmp_path)
    try:
        sim.advance(40)  # the 429s are in the logs
        api = core(sim)
        text = "".join(api.read_namespaced_pod_log(p, NS, _request_timeout=10) for p in running(api))
    finally:
        sim.stop()
    objects = [json.loads(line) for line in text.splitlines()]  # one valid JSON object per line
    assert all(set(o) >= {"level", "time", "msg", "seq"} and isinstance(o["seq"], int) for o in objects)
    levels = {o["level"] for o in objects}
    assert levels <= {"\x1b[36minfo\x1b[0m", "\x1b[33mwarn\x1b[0m", "\x1b[31merror\x1b[0m"} and "\x1b[33mwarn\x1b[0m" in levels
    assert all("\x1b" not in v for o in objects for k, v in o.items() if k != "level" and isinstance(v, str)), "SGR only on the level"
    limited = next(o for o in objects if o.get("status") == 429)
    assert limited["msg"] == "clay call failed" and limited["retry-after"] >= 1 and limited["time"].endswith("Z")
    assert fields(json.dumps(limited))["status"] == "429"


def test_coloured_logfmt_has_sgr_only_around_the_level(tmp_path: Path) -> None:
    sim = start_background(_with_service("clay-outage", log_colour=True), seed=7, freeze_at=FROZEN_AT, workdir=tmp_path)
    try:
        sim.advance(40)
        api = core(sim)
        text = api.read_namespaced_pod_log(running(api)[0], NS, _request_timeout=10)
    finally:
        sim.stop()
    word = re.compile(r"^level=\x1b\[(31|33|36)m(info|warn|error)\x1b\[0m msg=\"")
    for line in text.splitlines():
        assert word.match(line), repr(line)
        assert len(SGR.findall(line)) == 2 and "\x1b" not in SGR.sub("", line)
        plain = strip_sgr(line)
        assert level_of(plain) == {"info": "", "warn": "warn", "error": "error"}[fields(plain)["level"]] and "seq" in fields(plain)
    assert any(fields(strip_sgr(ln)).get("status") in ("503", "500", "504") for ln in text.splitlines())


# ---------------------------------------------------------------- the flood


def test_a_short_log_flood_delivers_the_rate_without_a_gap(tmp_path: Path) -> None:
    """log-flood at --log-rate 2000 (a lower rate than its 10,000: the test shares 2 cores),
    all 50 pods followed at once: every whole second's lines arrive, numbered without a gap."""
    rate = 2000
    sim = start_background(with_log_rate(load_scenario("log-flood"), rate), seed=7, workdir=tmp_path)
    stop = threading.Event()
    per_pod: dict[str, list[tuple[int, float]]] = {}
    errors: list[str] = []

    def follow(api: client.CoreV1Api, pod: str) -> None:
        got = per_pod.setdefault(pod, [])
        try:
            resp = api.read_namespaced_pod_log(pod, NS, follow=True, tail_lines=0, _preload_content=False, _request_timeout=(5, 10))
            buf = b""
            for chunk in resp.stream(65536):
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    obj = json.loads(line)
                    got.append((obj["seq"], time.mktime(time.strptime(obj["time"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone))
                if stop.is_set():
                    break
            resp.release_conn()
        except Exception as exc:  # a failed follow is the test's failure, named below
            errors.append(f"{pod}: {type(exc).__name__}: {exc}")

    try:
        api = core(sim)
        pods = running(api)
        assert len(pods) == 50
        api.api_client.rest_client.pool_manager.connection_pool_kw["maxsize"] = 64
        threads = [threading.Thread(target=follow, args=(api, p), daemon=True) for p in pods]
        for t in threads:
            t.start()
        time.sleep(5.5)
        stop.set()
        for t in threads:
            t.join(15)
    finally:
        sim.stop()
    assert not errors, errors[:3]
    for pod, got in per_pod.items():
        numbers = [s for s, _ in got]
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), f"{pod}: a gap in its seq numbers"
    seconds: dict[int, int] = {}
    for got in per_pod.values():
        for _, at in got:
            seconds[int(at)] = seconds.get(int(at), 0) + 1
    # the seconds every follow saw whole: after each one's first second, before its last
    first = max(int(got[0][1]) for got in per_pod.values()) + 1
    last = min(int(got[-1][1]) for got in per_pod.values()) - 1
    assert last - first >= 1, seconds
    for s in range(first, last + 1):
        assert rate <= seconds[s] <= rate * 1.05, (s, seconds[s])


# ---------------------------------------------------------------- 500 pods


@pytest.mark.scenario("fleet")
def test_kubectl_lists_the_fleets_500_pods(sim) -> None:
    out = subprocess.run(
        ["kubectl", "--kubeconfig", str(sim.kubeconfig), "get", "pods", "-n", NS, "--no-headers"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    rows = out.stdout.splitlines()
    assert len(rows) == 500 and all(" Running " in r and " 1/1 " in r for r in rows)
    api = core(sim)
    page = api.list_namespaced_pod(NS, limit=200, _request_timeout=10)
    assert len(page.items) == 200 and page.metadata._continue, "list pages as an API server does"
    assert len(running(api)) == 500


# ---------------------------------------------------------------- CLI


@pytest.mark.parametrize("value", ["-1", "lots", "50001", "1.5"])
def test_bad_log_rate_is_one_line_and_exit_2(value: str, capsys) -> None:
    from clay_cockpit.sim.server import add_sim_arguments

    parser = argparse.ArgumentParser(prog="clay-cockpit sim")
    add_sim_arguments(parser)
    with pytest.raises(SystemExit) as info:
        parser.parse_args(["--log-rate", value])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == f"clay-cockpit sim: error: argument --log-rate: expected an integer from 0 to 50000, found {value!r}"


def test_demo_takes_log_rate_too(capsys) -> None:
    from clay_cockpit import cli

    with pytest.raises(SystemExit) as info:
        cli.main(["demo", "--log-rate", "x"])
    assert info.value.code == 2
    assert "argument --log-rate: expected an integer from 0 to 50000, found 'x'" in capsys.readouterr().err
    assert with_log_rate(load_scenario("log-flood"), 300).logs.rate == 300
    assert with_log_rate(load_scenario("log-flood"), None).logs.rate == 10000


def test_the_scale_scenarios_say_what_they_are() -> None:
    fleet, flood = load_scenario("fleet"), load_scenario("log-flood")
    assert (fleet.service.replicas, fleet.service.request_rate, fleet.logs.rate) == (500, 3000.0, 0)
    assert (flood.service.replicas, flood.logs.rate, flood.service.log_format) == (50, 10000, "json")
    assert fleet.expect.branch == flood.expect.branch == "clay_incident"
