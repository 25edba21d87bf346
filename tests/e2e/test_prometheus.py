"""A real Prometheus between the drill and the cockpit.

Debian's prometheus scrapes the drill's ``/metrics`` every second; the
cockpit's metrics source (prometheus-api-client) reads the shipped PromQL
through it, and ``clay-cockpit --config`` in tmux shows the numbers in its
Error rates pane. Then that Prometheus is stopped and the drill's own
Prometheus API, configured as the backup, takes over on screen.

Speed: the drill runs at speed 1. A real Prometheus stamps samples with the
wall clock, so at --speed N its rates would be N times the drill's per-second
numbers; at speed 1 both count the same seconds. To skip the 20 quiet
seconds before key-revoked's fault, the drill starts frozen, is advanced 15
drill seconds (before Prometheus scrapes it), then runs in real time: the
401s start 5 s later.

Rate windows: both answer ``rate(...[1m])``. The drill's own is
(x(T) - x(T-60)) / 60 over its one sample per second; Prometheus'
extrapolates over the scrapes in the last minute. While the fault is younger
than a minute both ramp up alike (the 401 series is new in both), so they are
compared during the ramp, twice, within 2 req/s + 10 %.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import tomli_w

from clay_cockpit.config import config_from_toml
from clay_cockpit.signals import MetricsSnapshot
from clay_cockpit.sim.background import start_background
from clay_cockpit.sim.scenario import load_scenario
from clay_cockpit.sources.metrics import Metrics

from . import drill, procs
from .drill import PANES, Driver, Step
from .terminal import Screen

pytestmark = pytest.mark.slow

ADVANCE = 15.0  # drill seconds played while frozen; key-revoked's fault starts at 20
FAULT_AT = 20.0
TOLERANCE = (2.0, 0.10)  # req/s absolute + relative, between two answers for the same window
METRICS_REFRESH = 1.0  # the cockpit polls Prometheus every second in this test
SPEED = 1.0  # see the module docstring


def metrics_source(handle, url: str, backups: list[str]) -> Metrics:
    data = handle.config_dict()
    data["metrics"].update(url=url, backup_urls=backups)
    return Metrics(config_from_toml(data, "e2e metrics config").metrics)


def value_401(snap) -> float | None:
    assert isinstance(snap, MetricsSnapshot), f"the metrics source failed: {snap}"
    return next((s.current for s in snap.series if s.key == "errors_by_code:401"), None)


def close(a: float, b: float) -> bool:
    absolute, relative = TOLERANCE
    return abs(a - b) <= absolute + relative * max(abs(a), abs(b))


def pane_401(screen: Screen) -> float | None:
    box = screen.box(PANES["3"])
    if box is None:
        return None
    match = re.search(r"^\s*(?:Clay )?401\b.*?(\d+(?:\.\d+)?) req/s", box.text, re.M)
    return float(match.group(1)) if match else None


def fault_age(handle) -> float:
    return handle.state()["t"] - FAULT_AT


def wait_fault_age(handle, seconds: float) -> None:
    deadline = time.monotonic() + seconds + 30
    while fault_age(handle) < seconds:
        assert time.monotonic() < deadline, "the drill clock is not running"
        time.sleep(0.2)


def test_real_prometheus_numbers_on_screen_and_failover(prometheus, terminal, launch, e2e_dir: Path, mark) -> None:
    handle = start_background("key-revoked", speed=SPEED, seed=7, freeze_at=time.time(), workdir=e2e_dir / "drill")
    try:
        handle.advance(ADVANCE)
        prom = prometheus(handle.endpoints["metrics"].removeprefix("http://"))
        handle.freeze(False)  # from here the drill runs in real time

        # the shipped PromQL, through the real source, on the real Prometheus
        real = metrics_source(handle, prom.url, [])
        own = metrics_source(handle, handle.endpoints["prometheus"], [])
        snap = real.fetch()
        assert isinstance(snap, MetricsSnapshot), f"real Prometheus rejected the shipped queries: {snap}"
        assert not snap.is_backup and snap.served_by.rstrip("/") == prom.url
        assert {"request_rate", "latency_p95"} <= {s.query for s in snap.series}, snap.series
        assert value_401(snap) is None, "401s before the fault started"

        # the cockpit itself, primary = real Prometheus, backup = the drill's own API
        data = handle.config_dict()
        data["metrics"].update(url=prom.url, backup_urls=[handle.endpoints["prometheus_backup"]], refresh=METRICS_REFRESH)
        config = e2e_dir / "cockpit.toml"
        config.write_bytes(tomli_w.dumps(data).encode())
        term = terminal()
        launch(term, ["--config", str(config)], width=100, height=30, extra_env=handle.env())  # the drill's Slack token
        Driver(term).run(
            drill.first_frame(),
            Step(
                "401s in the Error rates pane, via the primary",
                check=drill.all_of(
                    drill.pane_live("3", r"req/s"),
                    drill.codes_shown((401,)),
                    drill.in_pane("3", "via primary", "subtitle"),
                ),
                timeout=30.0,
            ),
        )

        # the same numbers as the drill's own answer, twice along the ramp
        seen = []
        for age in (12.0, 24.0):
            wait_fault_age(handle, age)
            mine, theirs = value_401(real.fetch()), value_401(own.fetch())
            on_screen = pane_401(term.screen())
            assert mine is not None and theirs is not None and on_screen is not None, (mine, theirs, on_screen)
            assert close(mine, theirs), f"{age:g}s into the fault: Prometheus {mine:.2f} req/s, the drill {theirs:.2f}"
            assert close(on_screen, mine), f"{age:g}s into the fault: the pane shows {on_screen}, Prometheus {mine:.2f}"
            seen.append((mine, theirs, on_screen))
        print(f"401 req/s (Prometheus, the drill, on screen) at 12 s and 24 s into the fault: {seen}")
        assert seen[1][0] > seen[0][0] + 3 and seen[1][1] > seen[0][1] + 3, f"the 401 rate should climb: {seen}"
        assert not handle.requests("prometheus_backup"), "the backup was asked while the primary served"

        # failover: stop the real Prometheus; the backup takes over, visibly
        prom.stop()
        screen = term.wait(
            drill.all_of(
                drill.in_pane("3", "BACKUP", "title"),
                drill.in_pane("3", "via backup", "subtitle"),
                drill.matches(r"⚠ primary \w+ → backup( \d+)?( \S+)? serving"),  # its number, and host when it fits
                drill.codes_shown((401,)),
            ),
            20.0,
            "failover to the backup",
        )
        assert handle.requests("prometheus_backup"), "the backup was never asked"
        on_backup = pane_401(screen)
        assert on_backup is not None and close(on_backup, value_401(own.fetch())), f"the pane shows {on_backup} from the backup"

        # and the whole drill on the backup: triage, declare, the branch's action
        # through its confirmation, the internal update
        expect = load_scenario("key-revoked").expect
        Driver(term).run(
            drill.triage(expect.branch, expect.severity),
            *drill.declare(expect.severity),
            drill.accept(expect.severity),
            *drill.branch_action("key-revoked"),
            *drill.internal_update(expect.severity),
            drill.quit_(),
        )
        assert term.wait_exit(15.0) == 0
        assert not procs.wait_gone(mark, 15.0)
    finally:
        handle.stop()
