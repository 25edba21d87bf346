"""Scenario files: the shipped ones load; every mistake is one line naming file and key."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import tomli_w

from cockpit.config import ConfigError
from cockpit.sim.scenario import (
    ClayOutage,
    Crashloop,
    KeyRevoked,
    Latency,
    RateLimited,
    load_scenario,
    scenario_names,
    scenarios_dir,
)

SHIPPED = ("healthy", "clay-outage", "rate-limited", "key-revoked", "infra-crashloop", "degraded-latency")


def test_every_required_scenario_ships() -> None:
    assert set(SHIPPED) <= set(scenario_names())


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_scenario_loads_with_a_title_summary_and_expectation(name: str) -> None:
    s = load_scenario(name)
    assert s.name == name
    assert s.title and len(s.summary) > 40
    assert s.expect.branch in ("clay_incident", "credentials", "infrastructure", "healthy")
    for fault in s.faults:
        assert 10 <= fault.start <= 30, "faults start ~20 s in, so --speed 10 shows them within 2 s"


def test_scenarios_model_what_the_runbook_describes() -> None:
    outage = load_scenario("clay-outage")
    (f,) = outage.faults
    assert isinstance(f, ClayOutage) and f.incident is not None and f.incident.component_status == "major_outage"
    assert outage.expect.severity == "P1" and 503 in outage.expect.codes
    (f,) = load_scenario("rate-limited").faults
    assert isinstance(f, RateLimited) and f.queued_ratio < f.ratio / 10
    (f,) = load_scenario("key-revoked").faults
    assert isinstance(f, KeyRevoked) and f.status == 401
    (f,) = load_scenario("infra-crashloop").faults
    assert isinstance(f, Crashloop) and f.reason == "OOMKilled"
    latency = load_scenario("degraded-latency")
    (f,) = latency.faults
    assert isinstance(f, Latency) and 2000 <= f.p95_ms <= 3000 and f.incident is not None
    assert f.incident.name == "Elevated API latency" and f.incident.component_status == "degraded_performance"
    assert latency.expect.severity == "P2"
    assert not load_scenario("healthy").faults


def test_a_path_loads_that_file(tmp_path: Path) -> None:
    src = scenarios_dir() / "key-revoked.toml"
    dst = tmp_path / "mine.toml"
    dst.write_text(src.read_text())
    assert load_scenario(str(dst)).name == "key-revoked"
    assert load_scenario(dst).source == str(dst)


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text(tomli_w.dumps(data))
    return path


def _base() -> dict:
    return tomllib.loads((scenarios_dir() / "clay-outage.toml").read_text())


def _one_line_error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_scenario(str(path))
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(str(path))
    return text


@pytest.mark.parametrize(
    ("change", "key", "words"),
    [
        (lambda d: d.update(colour="red"), "colour", "unknown key"),
        (lambda d: d["service"].update(request_rate="fast"), "service.request_rate", "expected a number, found string 'fast'"),
        (lambda d: d["service"].update(replicas=0), "service.replicas", "an integer >= 1"),
        (lambda d: d["expect"].update(branch="panic"), "expect.branch", "one of clay_incident"),
        (lambda d: d["expect"].update(codes="503"), "expect.codes", "an array of integers"),
        (lambda d: d.pop("title"), "title", "missing required key"),
        (lambda d: d["faults"][0].update(kind="meteor"), "faults[0].kind", "one of clay_outage, rate_limited"),
        (lambda d: d["faults"][0].pop("kind"), "faults[0].kind", "missing required key"),
        (lambda d: d["faults"][0].update(ratio=0.5), "faults[0].ratio", "unknown key"),  # belongs to rate_limited
        (lambda d: d["faults"][0].update(error_ratio=1.5), "faults[0].error_ratio", "between 0 and 1"),
        (lambda d: d["faults"][0].update(codes=[503, 418]), "faults[0].codes[1]", "one of 500, 502, 503, 504"),
        (lambda d: d["faults"][0].update(weights=[1.0]), "faults[0].weights", "3 numbers"),
        (lambda d: d["faults"][0].update(end=10.0), "faults[0].end", "0 or a number of seconds > start"),
        (lambda d: d["faults"][0]["incident"].update(components=["Moon"]), "faults[0].incident.components[0]", "one of API"),
        (lambda d: d["faults"][0]["incident"].update(impact="total"), "faults[0].incident.impact", "one of none, minor"),
        (lambda d: d.update(faults={"kind": "x"}), "faults", "an array of tables"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_bad_scenario_is_one_line_naming_file_and_key(tmp_path: Path, change, key: str, words: str) -> None:
    data = _base()
    change(data)
    text = _one_line_error(_write(tmp_path, data))
    assert f": {key}: " in text
    assert words in text


def test_per_kind_params_are_checked_for_each_kind(tmp_path: Path) -> None:
    data = _base()
    data["faults"] = [{"kind": "key_revoked", "start": 20.0, "status": 418}]
    assert "faults[0].status: expected 401 or 403" in _one_line_error(_write(tmp_path, data))
    data["faults"] = [{"kind": "latency", "p50_ms": 900.0, "p95_ms": 500.0}]
    assert "faults[0].p95_ms: expected more than p50_ms" in _one_line_error(_write(tmp_path, data))
    data["faults"] = [{"kind": "crashloop", "after": -1.0}]
    assert "faults[0].after: expected a number of seconds > 0" in _one_line_error(_write(tmp_path, data))


def test_invalid_toml_and_unknown_name(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("name = \n")
    assert "expected valid TOML" in _one_line_error(path)
    with pytest.raises(ConfigError) as info:
        load_scenario("no-such-scenario")
    assert "\n" not in str(info.value) and "healthy" in str(info.value) and "no such scenario" in str(info.value)
