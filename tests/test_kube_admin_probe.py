"""The Clay key probe against the drill's Clay API (``GET /v1/me``) over real
HTTP with httpx: what each answer means, and the key never in the result.
"""

from __future__ import annotations

import logging

import pytest
from test_actions_support import drill_config

from clay_cockpit.actions.types import ProbeVerdict, SecretValue
from clay_cockpit.config import ClayConfig
from clay_cockpit.sources.clay_probe import meaning, probe_key

KEY = "clay_live_" + "77" * 16


def clay(sim) -> ClayConfig:
    return drill_config(sim).clay


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, ProbeVerdict.VALID),
        (401, ProbeVerdict.INVALID),
        (403, ProbeVerdict.INVALID),
        (429, ProbeVerdict.RATE_LIMITED),
        (500, ProbeVerdict.CLAY_ERROR),
        (503, ProbeVerdict.CLAY_ERROR),
        (404, ProbeVerdict.UNEXPECTED),
        (302, ProbeVerdict.UNEXPECTED),
    ],
)
def test_meaning(status: int, verdict: ProbeVerdict) -> None:
    got, text = meaning(status)
    assert got is verdict and text


@pytest.mark.scenario("key-revoked")
def test_probe_valid_then_revoked(sim, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    initial = SecretValue(sim._drill.world.initial_key)
    ok = probe_key(clay(sim), initial, timeout=3)
    assert (ok.verdict, ok.status_code, ok.fingerprint) == (ProbeVerdict.VALID, 200, initial.fingerprint) and ok.valid and ok.conclusive
    sim.advance(25)  # Clay revokes it
    gone = probe_key(clay(sim), initial, timeout=3)
    assert (gone.verdict, gone.status_code) == (ProbeVerdict.INVALID, 401) and "revoked" in gone.meaning
    fresh = probe_key(clay(sim), SecretValue(KEY), timeout=3)
    assert fresh.valid
    for secret in (KEY, initial.reveal()):
        assert secret not in repr((ok, gone, fresh)) and secret not in caplog.text


def test_probe_sends_the_key_in_the_configured_header(sim) -> None:
    from dataclasses import replace

    cfg = replace(clay(sim), key_header="X-Api-Key", key_prefix="")
    assert probe_key(cfg, SecretValue(KEY), timeout=3).status_code == 200
    cfg = replace(clay(sim), key_header="X-Other", key_prefix="")  # the key goes nowhere the API reads: 401
    assert probe_key(cfg, SecretValue(KEY), timeout=3).status_code == 401


def test_probe_failures_say_nothing_about_the_key(sim) -> None:
    key = SecretValue(KEY)
    sim.fault("clay", status=429, times=1)
    limited = probe_key(clay(sim), key, timeout=3)
    assert (limited.verdict, limited.status_code, limited.retry_after) == (ProbeVerdict.RATE_LIMITED, 429, 5.0) and not limited.conclusive
    sim.fault("clay", status=503, times=1)
    assert probe_key(clay(sim), key, timeout=3).verdict is ProbeVerdict.CLAY_ERROR
    sim.fault("clay", delay=2.0, times=1)
    slow = probe_key(clay(sim), key, timeout=0.3)
    assert slow.verdict is ProbeVerdict.TIMEOUT and slow.status_code is None and "0.3 s" in slow.meaning
    sim.stop_service("clay")
    down = probe_key(clay(sim), key, timeout=3)
    assert down.verdict is ProbeVerdict.UNREACHABLE and down.status_code is None and "ConnectError" in down.meaning
    empty = probe_key(clay(sim), SecretValue("  "), timeout=3)
    assert empty.status_code is None and "empty" in empty.meaning
    for r in (limited, slow, down):
        assert KEY not in repr(r)
