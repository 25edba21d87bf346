"""Scenario files: the shipped ones load; every mistake is one line naming file and key."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import tomli_w

from clay_cockpit.config import ConfigError
from clay_cockpit.sim.scenario import (
    ClayOutage,
    Crashloop,
    KeyRevoked,
    KubeDenied,
    KubeTokenExpired,
    Latency,
    RateLimited,
    ServiceDown,
    load_scenario,
    scenario_names,
    scenarios_dir,
)

SHIPPED = ("healthy", "clay-outage", "rate-limited", "key-revoked", "infra-crashloop", "degraded-latency")
# the runbook's error-handling rows (DESIGN.md "Failure handling the cockpit itself must do"), each with a real fault
ERROR_HANDLING = ("status-page-down", "prometheus-down", "kube-auth-expired", "secret-denied")


def test_every_required_scenario_ships() -> None:
    assert set(SHIPPED + ERROR_HANDLING) <= set(scenario_names())


@pytest.mark.parametrize("name", SHIPPED + ERROR_HANDLING)
def test_shipped_scenario_loads_with_a_title_summary_and_expectation(name: str) -> None:
    s = load_scenario(name)
    assert s.name == name
    assert s.title and len(s.summary) > 40
    assert s.expect.branch in ("clay_incident", "credentials", "infrastructure", "healthy")
    start = s.fault_start()
    assert (start is None) == (name == "healthy")
    assert start is None or 10 <= start <= 30, "faults start ~20 s in, so --speed 10 shows them within 2 s"


def test_error_handling_drills_pair_a_row_with_a_real_fault_and_say_what_to_expect() -> None:
    kinds = {name: {type(f) for f in load_scenario(name).faults} for name in ERROR_HANDLING}
    spd = load_scenario("status-page-down")
    assert kinds["status-page-down"] == {ClayOutage, ServiceDown} and spd.faults[1].service == "statuspage"
    assert spd.expect.panes.statuspage == "unreachable" and "use mobile data or the VPN" in spd.expect.says
    assert spd.expect.confidence == "low"
    pd = load_scenario("prometheus-down")
    assert kinds["prometheus-down"] == {RateLimited, ServiceDown} and pd.expect.panes.metrics == "backup"
    down = next(f for f in pd.faults if isinstance(f, ServiceDown))
    assert down.service == "prometheus" and down.start > pd.fault_start(), "the primary fails after the verdict"
    kae = load_scenario("kube-auth-expired")
    assert kinds["kube-auth-expired"] == {KeyRevoked, KubeTokenExpired}
    assert next(f for f in kae.faults if isinstance(f, KubeTokenExpired)).at_write
    assert kae.expect.action is not None and (kae.expect.action.kind, kae.expect.action.fails, kae.expect.action.retry) == (
        "update_key",
        "auth_expired",
        True,
    )
    sd = load_scenario("secret-denied")
    denied = next(f for f in sd.faults if isinstance(f, KubeDenied))
    assert kinds["secret-denied"] == {KeyRevoked, KubeDenied} and (denied.verb, denied.resource, denied.start) == ("patch", "secrets", 0.0)
    assert sd.expect.action is not None and sd.expect.action.fails == "forbidden" and not sd.expect.action.retry
    assert sd.fault_start() == 20.0, "the countdown is to the key revocation, not to the permission denied from the start"


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
        (lambda d: d["service"].update(replicas=0), "service.replicas", "an integer from 1 to 500"),
        (lambda d: d["service"].update(replicas=501), "service.replicas", "an integer from 1 to 500"),
        (lambda d: d["service"].update(log_format="xml"), "service.log_format", "one of logfmt, json"),
        (lambda d: d["service"].update(log_colour="yes"), "service.log_colour", "true or false"),
        (lambda d: d.update(logs={"rate": -1}), "logs.rate", "an integer from 0 to 50000"),
        (lambda d: d.update(logs={"rate": 50001}), "logs.rate", "an integer from 0 to 50000"),
        (lambda d: d.update(logs={"rate": "lots"}), "logs.rate", "found string 'lots'"),
        (lambda d: d.update(logs={"rate": 10, "sampled": True}), "logs.sampled", "unknown key"),
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
        (lambda d: d["faults"].append({"kind": "service_down", "service": "kube"}), "faults[1].service", "one of statuspage, rootly"),
        (
            lambda d: d["faults"].append({"kind": "kube_denied", "verb": "steal", "resource": "secrets"}),
            "faults[1].verb",
            "one of get, list",
        ),
        (
            lambda d: d["faults"].append({"kind": "kube_denied", "verb": "patch", "resource": "my secrets"}),
            "faults[1].resource",
            "a resource name",
        ),
        (lambda d: d["faults"].append({"kind": "kube_token_expired", "at_write": "yes"}), "faults[1].at_write", "true or false"),
        (lambda d: d["expect"].update(confidence="sure"), "expect.confidence", "one of high, medium, low"),
        (lambda d: d["expect"].update(panes={"statuspage": "gone"}), "expect.panes.statuspage", "one of ok, backup, unreachable"),
        (lambda d: d["expect"].update(panes={"grafana": "ok"}), "expect.panes.grafana", "unknown key"),
        (lambda d: d["expect"].update(panes={"metrics": "backup"}), "expect.panes.metrics", 'service_down fault of service "prometheus"'),
        (lambda d: d["expect"].update(says=[""]), "expect.says[0]", "words the cockpit shows"),
        (lambda d: d["expect"].update(action={"kind": "reboot"}), "expect.action.kind", "one of update_key, restart"),
        (
            lambda d: d["expect"].update(action={"kind": "update_key", "fails": "auth_expired"}),
            "expect.action.fails",
            "only with a kube_token_expired fault",
        ),
        (
            lambda d: d["expect"].update(action={"kind": "update_key", "fails": "forbidden"}),
            "expect.action.fails",
            "only with a kube_denied fault",
        ),
        (lambda d: d["expect"].update(action={"kind": "restart", "retry": True}), "expect.action.retry", "true only when the action fails"),
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
