"""Environments as profiles (issue 18): [env.NAME] tables override the
sections' keys; --env or default_env picks one; every bad key is named where
it is written, in one line; a production profile needs --env typed; the
profile's own target beats the shell's $CLAY_COCKPIT_*; each environment's
incidents live apart."""

from __future__ import annotations

import copy
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from clay_cockpit.config import ConfigError, config_from_toml, default_toml_text, env_state_dir, load_config, reference
from clay_cockpit.config_env import merge
from clay_cockpit.config_target import check_env_choice, profile_wins, target_overrides

ENVS = """
[env.staging.kube]
context = "staging-ctx"
namespace = "clay-sync-staging"

[env.staging.health]
url = "http://health.staging:8080/health"

[env.prod-eu]
read_only = true
require_explicit = true

[env.prod-eu.kube]
context = "eu-prod"
deployments = ["clay-sync", "clay-sync-worker"]

[env.prod-eu.metrics]
url = "http://prometheus.eu:9090"

[env.prod-eu.metrics.queries.latency_p95]
query = "histogram_quantile(0.99, sum by (le) (rate(clay_api_request_duration_seconds_bucket[1m])))"

[env.prod-eu.slack]
channel = "#inc-clay-eu"

[env.prod-us.kube]
context = "us-prod"
"""


def with_envs(extra: str = ENVS) -> dict:
    """The shipped config with three environments, staging the default (written
    before the first table: after one, TOML would make it that table's key)."""
    return tomllib.loads('default_env = "staging"\n' + default_toml_text() + extra)


def env_table(data: dict, name: str) -> dict:
    return data["env"].setdefault(name, {})


def test_the_chosen_environment_overrides_only_the_keys_it_sets() -> None:
    data = with_envs()
    base = config_from_toml(tomllib.loads(default_toml_text()), "x.toml")
    eu = config_from_toml(data, "x.toml", "prod-eu")
    assert (eu.env, eu.env_from) == ("prod-eu", "--env")
    assert eu.kube.context == "eu-prod" and eu.kube.deployments == ("clay-sync", "clay-sync-worker")
    assert eu.kube.namespace == base.kube.namespace and eu.kube.selector == base.kube.selector  # inherited
    assert eu.kube.read_only  # [env.prod-eu] read_only is its kube.read_only
    assert eu.metrics.url == "http://prometheus.eu:9090" and eu.slack.channel == "#inc-clay-eu"
    assert eu.health.url == base.health.url
    # one query of the table of queries changed, its other keys and the other queries kept
    p95 = eu.metrics.query("latency_p95")
    assert p95.query.startswith("histogram_quantile(0.99") and p95.scale == 1000.0 and p95.unit == "ms"
    assert eu.metrics.query("request_rate") == base.metrics.query("request_rate")
    assert [p.name for p in eu.envs] == ["staging", "prod-eu", "prod-us"]  # the file's order
    assert eu.profile is not None and eu.profile.require_explicit and "kube.context" in eu.profile.sets

    staging = config_from_toml(data, "x.toml")
    assert (staging.env, staging.env_from) == ("staging", "default_env")
    assert (staging.kube.context, staging.kube.namespace, staging.kube.read_only) == ("staging-ctx", "clay-sync-staging", False)
    assert staging.health.url == "http://health.staging:8080/health" and staging.slack.channel == base.slack.channel


def test_a_file_without_environments_is_as_before() -> None:
    config = config_from_toml(tomllib.loads(default_toml_text()), "x.toml")
    assert (config.env, config.env_from, config.envs, config.profile) == ("", "", (), None)
    check_env_choice(config)  # nothing to choose: no error


def test_an_environment_can_turn_read_only_off_that_the_sections_turn_on() -> None:
    data = with_envs()
    data["kube"]["read_only"] = True
    env_table(data, "staging")["read_only"] = False
    assert not config_from_toml(data, "x.toml", "staging").kube.read_only
    assert config_from_toml(data, "x.toml", "prod-us").kube.read_only  # inherits the sections' read_only


def test_merge_merges_tables_and_replaces_arrays_whole() -> None:
    base = {"kube": {"deployments": ["a", "b"], "namespace": "x"}, "slack": {"channel": "#a"}}
    over = {"kube": {"deployments": ["c"]}}
    assert merge(base, over) == {"kube": {"deployments": ["c"], "namespace": "x"}, "slack": {"channel": "#a"}}
    assert base["kube"]["deployments"] == ["a", "b"]  # the sections are not changed in place


def _error(data: dict, env: str | None = None) -> str:
    with pytest.raises(ConfigError) as err:
        config_from_toml(data, "x.toml", env)
    message = str(err.value)
    assert "\n" not in message
    return message


KUBE_KEYS = (
    "container, context, deployments, flags, kubeconfig, log_buffer, log_since, log_streams, log_tail, namespace, "
    "read_only, refresh, secret, selector, timeout"
)
SECTIONS = (
    "actions, clay, comms, escalation, external_status, grafana, health, keymap, kube, metrics, pagerduty, "
    "read_only, require_explicit, runbook, shared, slack, statuspage, thresholds, ui"
)


@pytest.mark.parametrize(
    "path, value, message",
    [
        # the same one line the sections give, at the key's place in the environment
        ("prod-eu.kube.contxt", "x", f"x.toml: env.prod-eu.kube.contxt: expected one of {KUBE_KEYS}, found unknown key"),
        ("prod-eu.kube.refresh", "5s", "x.toml: env.prod-eu.kube.refresh: expected a number, found string '5s'"),
        ("prod-eu.kube.refresh", 0, "x.toml: env.prod-eu.kube.refresh: expected a number of seconds from 0.1 to 86400, found number 0"),
        (
            "prod-eu.kube.deployments",
            [],
            "x.toml: env.prod-eu.kube.deployments: expected at least one deployment name, found an empty array",
        ),
        (
            "prod-eu.metrics.backup_urls",
            ["http://ok:9090", "nope"],
            "x.toml: env.prod-eu.metrics.backup_urls[1]: expected an http(s) URL with a host, found string 'nope'",
        ),
        ("prod-eu.kub", {"context": "x"}, f"x.toml: env.prod-eu.kub: expected one of {SECTIONS}, found unknown key"),
        ("prod-eu.kube", "eu-prod", "x.toml: env.prod-eu.kube: expected a table, found string 'eu-prod'"),
        ("prod-eu.read_only", "yes", "x.toml: env.prod-eu.read_only: expected true or false, found string 'yes'"),
        ("prod-eu.require_explicit", 1, "x.toml: env.prod-eu.require_explicit: expected true or false, found number 1"),
        (
            "prod-eu.slack.token",
            "xoxb-1",
            "x.toml: env.prod-eu.slack.token: expected no secrets in the file (name the environment variable with token_env), found a secret",
        ),
        (
            "prod-eu.api_token",
            "abc",
            "x.toml: env.prod-eu.api_token: expected no secrets in the file (name the environment variable with token_env), found a secret",
        ),
        (
            "prod-eu.keymap.nosuch",
            [],
            'x.toml: env.prod-eu.keymap.nosuch: expected a key ("I", "ctrl+d") or a non-empty array of keys, found an array',
        ),
        (
            "prod-eu.kube.read_only",
            False,
            "x.toml: env.prod-eu.read_only: expected one read_only for the environment "
            "(env.prod-eu.read_only or env.prod-eu.kube.read_only), found both, differing",
        ),
        (
            "prod-us.metrics.step",
            0.05,
            "x.toml: env.prod-us.metrics.step: expected a number of seconds from 1 to 3600, found number 0.05",
        ),
        (
            "prod-us.metrics.history",
            604800,
            "x.toml: env.prod-us.metrics.history: expected at most 11000 steps of metrics.step (15 s), found 40320 steps (604800 s)",
        ),
    ],
)
def test_a_bad_key_in_an_environment_is_named_where_it_is_written(path: str, value, message: str) -> None:
    data = with_envs()
    *parents, last = path.split(".")
    node = data["env"]
    for p in parents:
        node = node.setdefault(p, {})
    node[last] = value
    assert _error(data) == message  # found whichever environment is chosen: every one is checked


def test_a_check_across_keys_broken_by_an_environment_names_the_section_key_and_the_environment() -> None:
    data = with_envs()
    data["metrics"]["history"] = 86400.0  # fine with step 15 (5760 steps)
    env_table(data, "prod-us")["metrics"] = {"step": 5.0}  # 17280 steps: too many, but history is not written there
    assert _error(data) == (
        "x.toml: metrics.history (env prod-us): expected at most 11000 steps of metrics.step (5 s), found 17280 steps (86400 s)"
    )


def test_the_sections_may_leave_a_required_key_to_every_environment() -> None:
    data = with_envs()
    del data["health"]["url"]
    for name in ("prod-eu", "prod-us"):
        env_table(data, name)["health"] = {"url": f"http://health.{name}:8080/health"}
    assert config_from_toml(data, "x.toml", "prod-us").health.url == "http://health.prod-us:8080/health"
    assert config_from_toml(data, "x.toml").health.url == "http://health.staging:8080/health"
    del env_table(data, "prod-us")["health"]
    assert _error(data) == (
        "x.toml: health.url (env prod-us): expected a value (Our integration health endpoint (JSON)), found nothing (missing required key)"
    )
    del data["default_env"]  # no environment chosen, and the sections alone are not a whole config
    data["env"].pop("staging")
    data["env"].pop("prod-us")
    assert _error(data) == "x.toml: default_env: expected an environment: type --env NAME, or set default_env (prod-eu), found neither"


def test_a_bad_value_in_the_sections_is_named_as_ever() -> None:
    data = with_envs()
    data["kube"]["refresh"] = "5s"
    assert _error(data, "prod-eu") == "x.toml: kube.refresh: expected a number, found string '5s'"


@pytest.mark.parametrize(
    "change, env, message",
    [
        (
            {},
            "prod_eu",
            "--env: expected one of the environments of x.toml (staging, prod-eu, prod-us), found 'prod_eu' (did you mean prod-eu?)",
        ),
        ({}, "qa", "--env: expected one of the environments of x.toml (staging, prod-eu, prod-us), found 'qa'"),
        (
            {"default_env": "stagin"},
            None,
            "x.toml: default_env: expected one of the environments of x.toml (staging, prod-eu, prod-us), found 'stagin' (did you mean staging?)",
        ),
        ({"default_env": 3}, None, "x.toml: default_env: expected a string (the name of an [env.NAME] table), found number 3"),
        ({"env": "prod"}, None, "x.toml: env: expected a table of environments ([env.NAME]), found string 'prod'"),
        (
            {"env": {"Prod EU": {}}},
            None,
            "x.toml: env.Prod EU: expected an environment name (lowercase letters, digits, - and _, at most 40), found that name",
        ),
        (
            {"env": {"prod": 3}},
            None,
            "x.toml: env.prod: expected a table ([env.NAME] with the keys it overrides), found number 3",
        ),
        (
            {"envs": {"prod": {}}},
            None,
            "x.toml: envs: expected one of actions, clay, comms, default_env, env, escalation, external_status, grafana, health, "
            "keymap, kube, metrics, pagerduty, runbook, shared, slack, statuspage, thresholds, ui, found unknown key",
        ),
        (
            {"env": {"prod": {"default_env": "prod"}}},
            None,
            f"x.toml: env.prod.default_env: expected one of {SECTIONS}, found unknown key",
        ),
    ],
)
def test_choosing_an_environment_that_is_not_there_is_one_line(change: dict, env: str | None, message: str) -> None:
    data = with_envs()
    if "env" in change or "envs" in change:
        data.pop("env")
        data.pop("default_env")
    data.update(change)
    assert _error(data, env) == message


def test_env_on_a_file_without_environments_says_there_are_none() -> None:
    assert _error(tomllib.loads(default_toml_text()), "prod-eu") == (
        "--env: expected the name of an [env.NAME] table of x.toml (it defines none), found 'prod-eu'"
    )


def test_a_production_environment_needs_env_typed() -> None:
    data = with_envs()
    data["default_env"] = "prod-eu"
    picked = config_from_toml(data, "/home/me/config.toml")
    with pytest.raises(ConfigError) as err:
        check_env_choice(picked)
    assert str(err.value) == (
        "/home/me/config.toml: env.prod-eu.require_explicit: expected `--env prod-eu` typed on the command line "
        "(default_env alone does not pick a production environment), found no --env"
    )
    check_env_choice(config_from_toml(data, "/home/me/config.toml", "prod-eu"))  # typed: fine
    check_env_choice(config_from_toml(data, "/home/me/config.toml", "prod-us"))  # another: fine


def test_environments_and_none_chosen_is_refused_where_the_cockpit_acts() -> None:
    data = with_envs()
    del data["default_env"]
    config = config_from_toml(data, "x.toml")  # the sections are whole: loaded (info, the demo's [ui] read it)
    assert config.env == "" and len(config.envs) == 3
    with pytest.raises(ConfigError) as err:
        check_env_choice(config)
    assert str(err.value) == (
        "x.toml: default_env: expected an environment: type --env NAME, or set default_env (staging, prod-eu, prod-us), found neither"
    )


def test_the_profiles_own_target_beats_the_shells_environment_variables_but_not_the_flags() -> None:
    config = config_from_toml(with_envs(), "x.toml", "prod-eu")  # sets kube.context, not kube.namespace
    environ = {"CLAY_COCKPIT_CONTEXT": "staging-ctx", "CLAY_COCKPIT_NAMESPACE": "from-env"}
    assert profile_wins(config, target_overrides(environ=environ)) == {"namespace": ("from-env", "$CLAY_COCKPIT_NAMESPACE")}
    flags = target_overrides(context="other", environ=environ)
    assert profile_wins(config, flags) == {"context": ("other", "--context"), "namespace": ("from-env", "$CLAY_COCKPIT_NAMESPACE")}
    plain = config_from_toml(tomllib.loads(default_toml_text()), "x.toml")
    assert profile_wins(plain, target_overrides(environ=environ)) == target_overrides(environ=environ)


def test_each_environment_keeps_its_incidents_apart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    data = with_envs()
    assert env_state_dir(config_from_toml(data, "x.toml", "prod-eu")) == tmp_path / "clay-cockpit" / "envs" / "prod-eu"
    assert env_state_dir(config_from_toml(data, "x.toml", "prod-us")) == tmp_path / "clay-cockpit" / "envs" / "prod-us"
    assert env_state_dir(config_from_toml(tomllib.loads(default_toml_text()), "x.toml")) == tmp_path / "clay-cockpit"


def test_load_config_takes_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(default_toml_text() + ENVS, encoding="utf-8")
    assert load_config(path, "prod-us").kube.context == "us-prod"
    assert load_config(path).source == str(path)


def test_every_environment_is_checked_whichever_is_chosen() -> None:
    data = copy.deepcopy(with_envs())
    env_table(data, "prod-us")["kube"]["contxt"] = "typo"
    assert _error(data, "staging").startswith("x.toml: env.prod-us.kube.contxt: expected one of")


def test_the_reference_documents_the_environments() -> None:
    keys = [row[0] for row in reference()]
    assert keys[-5:] == ["default_env", "env.NAME", "env.NAME.read_only", "env.NAME.require_explicit", "env.NAME.SECTION.KEY"]
    assert "env.NAME.name" not in keys and "env.NAME.sets" not in keys


def test_the_starters_commented_example_is_a_working_config_once_uncommented() -> None:
    """config/default.toml (what `clay-cockpit init` writes) shows default_env
    above the tables and an [env.*] example at the end, commented out; taking
    the "# " off those lines gives a file whose environments load as documented."""
    lines = default_toml_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# [env."))
    text = "\n".join(
        line.removeprefix("# ") if i >= start or line.startswith("# default_env") else line for i, line in enumerate(lines)
    ).replace("\n#\n", "\n\n")
    data = tomllib.loads(text)
    staging = config_from_toml(data, "starter")
    assert (staging.env, staging.kube.context, staging.kube.namespace) == ("staging", "staging", "clay-sync-staging")
    eu = config_from_toml(data, "starter", "prod-eu")
    assert (eu.kube.context, eu.kube.read_only, eu.slack.channel) == ("prod-eu", True, "#inc-clay-eu")
    assert eu.metrics.url == "http://prometheus.monitoring.svc.eu:9090" and eu.profile.require_explicit
    with pytest.raises(ConfigError):
        check_env_choice(replace(eu, env_from="default_env"))
