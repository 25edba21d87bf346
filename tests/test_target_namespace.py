"""An empty ``kube.namespace`` means the kube context's namespace, as kubectl
reads it, and "default" when the context names none; ``-n`` (then
``$CLAY_COCKPIT_NAMESPACE``, then a namespace in the file) overrides it
(``with_resolved_namespace``, applied by ``cli.load_user_config``).

Real kubeconfig files in tmp — two of them, merged as kubectl merges them
(the first file to name a context wins; the current-context may come from
the second) — with four contexts on the drill's Kubernetes API: one with a
namespace, one with another, one with none, one with an empty one. For each
case the config is loaded as the CLI loads it, the cockpit lists pods with
it, and the namespace is read from the path the drill's API server received;
where kubectl is installed it runs with the same kubeconfig and flags, and
the drill's request log must show it asked the same namespace.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from clay_cockpit import cli
from clay_cockpit.config import default_toml_text
from clay_cockpit.info import gather
from clay_cockpit.signals import PodsSnapshot
from clay_cockpit.sources.kube import Kube

TARGET_ENVS = ("CLAY_COCKPIT_CONTEXT", "CLAY_COCKPIT_NAMESPACE", "CLAY_COCKPIT_KUBECONFIG", "CLAY_COCKPIT_CONFIG", "KUBECONFIG")


def write_kubeconfigs(sim, tmp_path: Path) -> str:
    """``first:second`` — first: contexts drill-bare (no namespace), drill-empty (namespace ""),
    drill-staging (staging-ns), no current-context; second: the cluster and user, drill-prod
    (clay-sync), a drill-staging that the first file shadows, and the current-context."""
    doc = json.loads(Path(sim.kubeconfig).read_text(encoding="utf-8"))
    cluster, user = doc["clusters"][0], doc["users"][0]

    def context(name: str, **ns: str) -> dict:
        return {"name": name, "context": {"cluster": cluster["name"], "user": user["name"], **ns}}

    first = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [],
        "users": [],
        "contexts": [context("drill-bare"), context("drill-empty", namespace=""), context("drill-staging", namespace="staging-ns")],
    }
    second = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [cluster],
        "users": [user],
        "current-context": "drill-prod",
        "contexts": [context("drill-prod", namespace="clay-sync"), context("drill-staging", namespace="shadowed")],
    }
    paths = []
    for name, body in (("first", first), ("second", second)):
        path = tmp_path / f"kubeconfig-{name}"
        path.write_text(json.dumps(body), encoding="utf-8")
        path.chmod(0o600)
        paths.append(str(path))
    return os.pathsep.join(paths)


def write_config(path: Path, **kube: str) -> Path:
    lines = default_toml_text().splitlines()
    start = lines.index("[kube]")
    for key, value in kube.items():
        i = next(n for n in range(start, len(lines)) if lines[n].startswith(f"{key} ="))
        lines[i] = f"{key} = {json.dumps(value)}"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def asked_namespace(sim, before: int, agent: str) -> str:
    """The namespace of the pod list the drill's API server received from ``agent`` after ``before``."""
    paths = [r["path"] for r in sim.requests("kube")[before:] if r["user_agent"].startswith(agent) and r["path"].endswith("/pods")]
    assert paths, f"no pod list from {agent}"
    assert len(set(paths)) == 1, paths
    parts = paths[0].split("/")
    return parts[parts.index("namespaces") + 1]


# (file kube.context, file kube.namespace, --context, -n, $CLAY_COCKPIT_NAMESPACE) → (context, namespace)
CASES = [
    pytest.param(("", "", None, None, None), ("drill-prod", "clay-sync"), id="current-context-from-the-second-file"),
    pytest.param(("drill-staging", "", None, None, None), ("drill-staging", "staging-ns"), id="first-file-wins"),
    pytest.param(("drill-bare", "", None, None, None), ("drill-bare", "default"), id="context-without-namespace"),
    pytest.param(("drill-empty", "", None, None, None), ("drill-empty", "default"), id="context-with-empty-namespace"),
    pytest.param(("", "", "drill-bare", None, None), ("drill-bare", "default"), id="context-flag"),
    pytest.param(("drill-bare", "", None, "flag-ns", None), ("drill-bare", "flag-ns"), id="n-flag-over-default"),
    pytest.param(("drill-staging", "", None, "flag-ns", "env-ns"), ("drill-staging", "flag-ns"), id="n-flag-over-env"),
    pytest.param(("drill-staging", "", None, None, "env-ns"), ("drill-staging", "env-ns"), id="env-over-context"),
    pytest.param(("drill-staging", "file-ns", None, None, None), ("drill-staging", "file-ns"), id="file-namespace-kept"),
    pytest.param(("drill-staging", "file-ns", None, "", None), ("drill-staging", "staging-ns"), id="empty-n-flag-means-the-contexts"),
]


@pytest.fixture
def target_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in TARGET_ENVS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))


@pytest.mark.parametrize(("given", "expected"), CASES)
def test_an_empty_namespace_is_the_contexts_as_kubectl_reads_it(sim, tmp_path, monkeypatch, target_env, given, expected) -> None:
    file_context, file_namespace, context_flag, namespace_flag, env_namespace = given
    kubeconfig = write_kubeconfigs(sim, tmp_path)
    monkeypatch.setenv("KUBECONFIG", kubeconfig)  # kube.kubeconfig is empty: $KUBECONFIG, as kubectl
    if env_namespace is not None:
        monkeypatch.setenv("CLAY_COCKPIT_NAMESPACE", env_namespace)
    config = write_config(tmp_path / "config.toml", context=file_context, namespace=file_namespace)

    loaded = cli.load_user_config(str(config), context=context_flag, namespace=namespace_flag)
    context = loaded.kube.context or "drill-prod"  # empty: the current-context, which the kube source picks itself
    assert (context, loaded.kube.namespace) == expected

    # `clay-cockpit info` says the same (it resolves the target on its own, with where each value came from)
    args = cli.build_parser().parse_args(
        [
            "info",
            "--config",
            str(config),
            *(["--context", context_flag] if context_flag is not None else []),
            *(["-n", namespace_flag] if namespace_flag is not None else []),
        ]
    )
    info = gather(args)["kube"]
    assert (info["context"]["value"], info["namespace"]["value"]) == expected, info

    # the cockpit asks the API server in that namespace
    kube = Kube(loaded.kube)
    before = len(sim.requests("kube"))
    pods = kube.list_pods()
    assert isinstance(pods, PodsSnapshot), pods
    assert kube.context == expected[0]
    assert asked_namespace(sim, before, "clay-cockpit/") == expected[1]

    # and so does kubectl, told the same (a namespace from the cockpit's own config file or
    # environment is the cockpit's, not kubectl's: kubectl is given it with -n)
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the cockpit's answer was checked, not compared with kubectl's")
    flags = ["--context", context] if (file_context or context_flag) else []
    cockpit_own = namespace_flag or env_namespace or (file_namespace if namespace_flag is None else "")
    flags += ["-n", cockpit_own] if cockpit_own else []
    before = len(sim.requests("kube"))
    out = subprocess.run(
        [kubectl, *flags, "get", "pods", "--request-timeout=5s", "-o", "name"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "KUBECONFIG": kubeconfig},
    )
    assert asked_namespace(sim, before, "kubectl/") == expected[1], out.stderr
