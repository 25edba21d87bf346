"""The pods half of the kube source against the drill's Kubernetes API, with
the official client over real HTTP and the drill's kubeconfig: pod states as
kubectl shows them, and every failure (expired token, RBAC, faults, a missing
kubeconfig or context) as a named SourceError with a hint.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from clay_cockpit.config import config_from_toml
from clay_cockpit.signals import ErrorKind, PodsSnapshot, SourceError
from clay_cockpit.sources.kube import Kube


def source(sim, **changes) -> Kube:
    return Kube(replace(config_from_toml(sim.config_dict(), "drill.toml").kube, **changes))


def pods(kube: Kube) -> PodsSnapshot:
    got = kube.list_pods()
    assert isinstance(got, PodsSnapshot), got.line()  # type: ignore[union-attr]
    return got


def no_secret(sim, *things: object) -> None:
    for thing in things:
        text = repr(thing) + (thing.line() if isinstance(thing, SourceError) else "")
        assert sim.token not in text


def test_healthy_pods(shared_sim) -> None:
    kube = source(shared_sim)
    snap = pods(kube)
    assert (snap.context, snap.namespace, snap.selector) == ("clay-drill", "clay-sync", "app=clay-sync")
    assert len(snap.pods) == 3
    for pod in snap.pods:
        assert pod.name.startswith("clay-sync-")
        assert (pod.phase, pod.status, pod.ready, pod.containers, pod.restarts) == ("Running", "Running", 1, 1, 0)
        assert pod.owner is not None and pod.owner.startswith("ReplicaSet/clay-sync-")
        assert pod.created_at is not None and pod.node
        assert pod.last_termination is None
    assert [p.name for p in snap.pods] == sorted(p.name for p in snap.pods)
    assert snap.response_ms > 0
    no_secret(shared_sim, kube, snap)


@pytest.mark.scenario("infra-crashloop")
def test_crashloop_shows_oomkilled_and_backoff(sim) -> None:
    kube = source(sim)
    sim.advance(60)
    first = pods(kube)
    assert all(p.last_termination == "OOMKilled" and p.restarts >= 1 for p in first.pods), first.pods
    sim.advance(30)
    later = pods(kube)
    assert {p.status for p in later.pods} == {"CrashLoopBackOff"}, [p.status for p in later.pods]
    assert all(p.ready == 0 and not p.is_ready and p.restarts >= 2 for p in later.pods)


def test_constructing_does_no_io(shared_sim, tmp_path: Path) -> None:
    seen = len(shared_sim.requests("kube"))
    Kube(replace(config_from_toml(shared_sim.config_dict(), "x").kube, kubeconfig=str(tmp_path / "nope")))
    source(shared_sim)
    assert len(shared_sim.requests("kube")) == seen


def test_import_does_not_load_the_kubernetes_client() -> None:
    import subprocess

    code = "import sys, clay_cockpit.sources.kube, clay_cockpit.sources._kubelogs; print('kubernetes' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------
# Failures


def test_expired_token_and_reauthentication(sim) -> None:
    kube = source(sim)
    assert pods(kube)
    sim.kube("expire_token")
    err = kube.list_pods()
    assert isinstance(err, SourceError), err
    assert err.kind is ErrorKind.AUTH_EXPIRED and err.status_code == 401
    assert "clay-drill" in err.message
    assert "kubectl --context clay-drill get pods -n clay-sync" in err.hint
    assert "clay-drill-responder" in err.hint  # the kubeconfig user whose token was refused
    no_secret(sim, err, kube)
    sim.kube("renew_token")
    assert pods(kube), "the client is rebuilt from the kubeconfig and works again"


def test_forbidden_says_the_account_lacks_permission(sim) -> None:
    kube = source(sim)
    sim.kube("deny", verb="list", resource="pods")
    err = kube.list_pods()
    assert isinstance(err, SourceError) and err.kind is ErrorKind.FORBIDDEN and err.status_code == 403
    assert "lacks permission" in err.hint and "clay-drill" in err.hint
    assert "pods" in err.message  # the API server's own Status message
    sim.kube("allow_all")
    assert pods(kube)


@pytest.mark.parametrize(
    "fault, kind",
    [
        ({"status": 429}, ErrorKind.RATE_LIMITED),
        ({"status": 500}, ErrorKind.SERVER_ERROR),
        ({"status": 503}, ErrorKind.SERVER_ERROR),
        ({"status": 401}, ErrorKind.AUTH_EXPIRED),
        ({"status": 403}, ErrorKind.FORBIDDEN),
        ({"malformed": True}, ErrorKind.BAD_RESPONSE),
        ({"delay": 4.0}, ErrorKind.TIMEOUT),
    ],
    ids=lambda v: str(v),
)
def test_faults_map_to_kinds(shared_sim, fault: dict, kind: ErrorKind) -> None:
    kube = source(shared_sim, timeout=2.0)  # a loaded CI machine can be slow to answer
    assert pods(kube)
    shared_sim.fault("kube", **fault)
    before = len(shared_sim.requests("kube"))
    try:
        err = kube.list_pods()
    finally:
        shared_sim.clear_fault("kube")
    assert isinstance(err, SourceError), err
    assert err.kind is kind, err.line()
    assert err.hint and err.source == "kube"
    sent = [r for r in shared_sim.requests("kube")[before:] if "/pods" in r["path"]]
    assert len(sent) == 1, f"one attempt, no urllib3 retries: {sent}"
    no_secret(shared_sim, err)
    assert pods(kube)


def test_unreachable_is_one_attempt(sim) -> None:
    kube = source(sim)
    assert pods(kube)
    sim.stop_service("kube")
    err = kube.list_pods()
    assert isinstance(err, SourceError) and err.kind is ErrorKind.UNREACHABLE
    assert "connection refused" in err.message and "cluster-info" in err.hint
    sim.start_service("kube")
    assert pods(kube)


def test_missing_kubeconfig_and_unknown_context(shared_sim, tmp_path: Path) -> None:
    missing = tmp_path / "kubeconfig-that-is-not-there"
    err = source(shared_sim, kubeconfig=str(missing)).list_pods()
    assert isinstance(err, SourceError) and err.kind is ErrorKind.CONFIG, "no kubeconfig is a configuration error, not expired credentials"
    assert str(missing) in err.message and "clay-drill" in err.message and "kube.kubeconfig" in err.hint

    err = source(shared_sim, context="prod-eu").list_pods()
    assert isinstance(err, SourceError) and err.kind is ErrorKind.AUTH_EXPIRED
    assert "'prod-eu'" in err.message and str(shared_sim.kubeconfig) in err.message
    assert "clay-drill" in err.hint  # the contexts the file does have

    broken = tmp_path / "broken"
    broken.write_text("apiVersion: v1\nclusters: [\n", encoding="utf-8")
    err = source(shared_sim, kubeconfig=str(broken)).list_pods()
    assert isinstance(err, SourceError) and "not valid YAML" in err.message


def test_login_hint_names_the_exec_plugin(shared_sim, tmp_path: Path) -> None:
    doc = json.loads(Path(shared_sim.kubeconfig).read_text(encoding="utf-8"))
    doc["users"][0]["user"] = {
        "exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws", "args": ["eks", "get-token"]}
    }
    path = tmp_path / "kubeconfig-aws"
    path.write_text(json.dumps(doc), encoding="utf-8")
    kube = source(shared_sim, kubeconfig=str(path))
    assert "aws sso login" in kube.login_hint() and "kubectl --context clay-drill" in kube.login_hint()


def test_a_failing_login_plugin_is_auth_expired_not_forbidden(shared_sim, tmp_path: Path) -> None:
    """A failed exec plugin is a login to redo (auth_expired), said before any
    request goes out anonymously — not "ask for permission"."""
    doc = json.loads(Path(shared_sim.kubeconfig).read_text(encoding="utf-8"))
    doc["users"][0]["user"] = {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "false"}}
    path = tmp_path / "kubeconfig-failing-login"
    path.write_text(json.dumps(doc), encoding="utf-8")
    err = source(shared_sim, kubeconfig=str(path)).list_pods()
    assert isinstance(err, SourceError), err
    assert err.kind is ErrorKind.AUTH_EXPIRED and "credential plugin" in err.message and "exited with status 1" in err.message
    assert "re-run its login (false)" in err.hint


def test_clients_built_at_once_from_threads_all_work(shared_sim, monkeypatch) -> None:
    """The pods poll, the log follow and the actions build clients from their
    own threads at the same moment: each must get a usable CA file. The
    kubernetes client caches a temp file's name before writing the file, so
    a client built while another is still writing it got an empty CA file and
    failed TLS. Here the write is held until the other threads have asked."""
    import builtins
    import threading

    import kubernetes.config.kube_config as kc

    writing = threading.Event()

    def slow_open(path, mode="r", *args, **kwargs):
        if "w" in mode:  # the CA temp file: hold the write while the others ask for it
            writing.set()
            threading.Event().wait(1.5)
        return builtins.open(path, mode, *args, **kwargs)

    monkeypatch.setattr(kc, "open", slow_open, raising=False)  # the module's own name shadows the builtin
    monkeypatch.setattr(kc, "_temp_files", {})  # start cold, as a fresh cockpit does
    results: list[object] = []

    def build() -> None:
        results.append(source(shared_sim).list_pods())

    first = threading.Thread(target=build)
    first.start()
    assert writing.wait(20)
    others = [threading.Thread(target=build) for _ in range(3)]
    for t in others:
        t.start()
    for t in [first, *others]:
        t.join(30)
    assert len(results) == 4
    assert all(not isinstance(r, SourceError) for r in results), [r.line() for r in results if isinstance(r, SourceError)]
