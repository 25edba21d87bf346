"""Kube credentials as kubectl handles them, with real kubeconfig files in tmp
dirs against the drill's Kubernetes API: a token file ending in a newline
works, an exec plugin is run once and cached until shortly before its
expiry, a failing plugin's own stderr leads the hint, no credential shows,
and every request carries our User-Agent."""

from __future__ import annotations

import base64
import json
import stat
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from clay_cockpit.config import config_from_toml
from clay_cockpit.signals import ErrorKind, PodsSnapshot, SourceError
from clay_cockpit.sources import kube_auth
from clay_cockpit.sources.kube import Kube


def _kube(sim, path: Path) -> Kube:
    return Kube(replace(config_from_toml(sim.config_dict(), "drill.toml").kube, kubeconfig=str(path)))


def _doc(sim) -> dict:
    return json.loads(Path(sim.kubeconfig).read_text(encoding="utf-8"))


def _token(sim) -> str:
    return _doc(sim)["users"][0]["user"]["token"]


def test_a_token_file_ending_in_a_newline_works(shared_sim, tmp_path: Path) -> None:
    token = _token(shared_sim)
    (tmp_path / "token").write_text(token + "\n", encoding="utf-8")
    doc = _doc(shared_sim)
    doc["users"][0]["user"] = {"tokenFile": str(tmp_path / "token")}
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(doc), encoding="utf-8")
    got = _kube(shared_sim, path).list_pods()
    assert isinstance(got, PodsSnapshot), got.line()  # type: ignore[union-attr]


PLUGIN = """#!{python}
import json, pathlib, sys, datetime
count = pathlib.Path({count!r})
count.write_text(str(int(count.read_text() or 0) + 1) if count.exists() else "1")
if pathlib.Path({fail!r}).exists():
    sys.stderr.write("SSO session expired; run 'corp-sso login'\\n")
    sys.exit(1)
exp = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds={ttl})).strftime("%Y-%m-%dT%H:%M:%SZ")
print(json.dumps({{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                  "status": {{"token": {token!r} + "\\n", "expirationTimestamp": exp}}}}))
"""


def _plugin_kubeconfig(sim, tmp_path: Path, ttl: int) -> tuple[Path, Path, Path]:
    count, fail = tmp_path / "runs", tmp_path / "fail"
    script = tmp_path / "corp-sso"
    script.write_text(PLUGIN.format(python=sys.executable, count=str(count), fail=str(fail), ttl=ttl, token=_token(sim)))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    doc = _doc(sim)
    doc["users"][0]["user"] = {
        "exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": str(script), "interactiveMode": "Never"}
    }
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path, count, fail


def test_an_exec_plugin_runs_once_while_its_credential_is_fresh(shared_sim, tmp_path: Path) -> None:
    """Within minutes of expiry the client re-ran the plugin per request; we
    cache until 10 s before expirationTimestamp, across clients."""
    kube_auth.CACHE.invalidate()
    path, count, _ = _plugin_kubeconfig(shared_sim, tmp_path, ttl=120)  # inside the client's own 5-minute skew
    kubes = [_kube(shared_sim, path) for _ in range(2)]
    for _ in range(5):
        for kube in kubes:
            got = kube.list_pods()
            assert isinstance(got, PodsSnapshot), got.line()  # type: ignore[union-attr]
    assert count.read_text() == "1"


def test_an_expiring_exec_credential_is_fetched_again(shared_sim, tmp_path: Path) -> None:
    kube_auth.CACHE.invalidate()
    path, count, _ = _plugin_kubeconfig(shared_sim, tmp_path, ttl=5)  # within the 10 s margin: never fresh
    kube = _kube(shared_sim, path)
    for _ in range(3):
        assert isinstance(kube.list_pods(), PodsSnapshot)
    assert int(count.read_text()) >= 3


def test_a_failing_plugin_shows_its_own_stderr(shared_sim, tmp_path: Path) -> None:
    kube_auth.CACHE.invalidate()
    path, count, fail = _plugin_kubeconfig(shared_sim, tmp_path, ttl=600)
    fail.write_text("1")
    err = _kube(shared_sim, path).list_pods()
    assert isinstance(err, SourceError) and err.kind is ErrorKind.AUTH_EXPIRED
    assert err.hint.startswith("SSO session expired; run 'corp-sso login'"), err.hint
    assert "corp-sso" in err.message and "exited with status 1" in err.message
    # another kubeconfig of the same process, with a plain token the server refuses: the plugin's words are not its hint
    doc = _doc(shared_sim)
    doc["users"][0]["user"] = {"token": "refused-token-0123456789"}
    other = tmp_path / "token-kubeconfig"
    other.write_text(json.dumps(doc), encoding="utf-8")
    err = _kube(shared_sim, other).list_pods()
    assert isinstance(err, SourceError) and err.status_code == 401, err
    assert "SSO" not in err.hint and "corp-sso" not in err.hint and "refused (expired/revoked)" in err.hint, err.hint


def test_every_kube_request_carries_our_user_agent(shared_sim, tmp_path: Path) -> None:
    kube = Kube(config_from_toml(shared_sim.config_dict(), "drill.toml").kube)
    before = len(shared_sim.requests("kube"))
    assert isinstance(kube.list_pods(), PodsSnapshot)
    seen = shared_sim.requests("kube")[before:]
    assert seen and all(r["user_agent"].startswith("clay-cockpit/") for r in seen), seen


def test_exec_credentials_expire_by_timestamp() -> None:
    now = datetime.now(UTC)
    cache = kube_auth.ExecCredentialCache(clock=lambda: now.timestamp())
    runs = []

    def run() -> dict:
        runs.append(1)
        return {"token": "t0ken-abc123", "expirationTimestamp": (now + timedelta(seconds=11)).strftime("%Y-%m-%dT%H:%M:%SZ")}

    cache.get("k", run), cache.get("k", run)
    assert len(runs) == 1
    cache._clock = lambda: now.timestamp() + 2  # now within 10 s of the expiry
    cache.get("k", run)
    assert len(runs) == 2


CERT_PLUGIN = """#!{python}
import json, os, pathlib, sys, datetime
count = pathlib.Path(os.environ["RUNS"])
n = int(count.read_text()) + 1 if count.exists() else 1
count.write_text(str(n))
cert, key = json.loads(pathlib.Path({pairs!r}).read_text())[n - 1]
exp = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=int(sys.argv[1]))).strftime("%Y-%m-%dT%H:%M:%SZ")
print(json.dumps({{"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
                  "status": {{"clientCertificateData": cert, "clientKeyData": key, "expirationTimestamp": exp}}}}))
"""


def test_an_exec_plugins_client_certificate_is_renewed_before_it_expires(shared_sim, tmp_path: Path) -> None:
    """A plugin answering with a client certificate (x509 login to the drill's
    API server, no token): while fresh, one run and the same certificate on
    every request; within EXPIRY_MARGIN of its expirationTimestamp, a new run
    and the new certificate on the very next request of the same client (the
    client's own loader kept the first one until a 401). The key never shows."""
    from cryptography import x509

    from clay_cockpit.redact import REDACTED, known_labels, redact

    kube_auth.CACHE.invalidate()
    tls = shared_sim._drill.world.kube.tls()
    pairs = [tls.issue_client_cert("clay-drill-responder") for _ in range(6)]
    serial = {x509.load_pem_x509_certificate(c.encode()).serial_number: i for i, (c, _) in enumerate(pairs)}
    (tmp_path / "pairs.json").write_text(json.dumps(pairs), encoding="utf-8")
    script = tmp_path / "corp-x509"
    script.write_text(CERT_PLUGIN.format(python=sys.executable, pairs=str(tmp_path / "pairs.json")))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)

    def kube(ttl: int) -> tuple[Kube, Path]:
        runs = tmp_path / f"runs-{ttl}"
        doc = _doc(shared_sim)
        doc["users"][0]["user"] = {
            "exec": {
                "apiVersion": "client.authentication.k8s.io/v1beta1",
                "command": str(script),
                "args": [str(ttl)],
                "env": [{"name": "RUNS", "value": str(runs)}],
            }
        }
        path = tmp_path / f"kubeconfig-{ttl}"
        path.write_text(json.dumps(doc), encoding="utf-8")
        return _kube(shared_sim, path), runs

    def certs_seen() -> list[int]:
        out = []
        for r in shared_sim.requests("kube"):
            if r["client_cert"] and int(r["client_cert"], 16) in serial:
                out.append(serial[int(r["client_cert"], 16)])
        return out

    fresh, runs = kube(600)
    for _ in range(3):
        got = fresh.list_pods()
        assert isinstance(got, PodsSnapshot), got.line()  # type: ignore[union-attr]
    assert runs.read_text() == "1" and certs_seen() == [0, 0, 0]

    expiring, runs = kube(5)  # inside the 10 s margin: never fresh, every request asks the plugin again
    for _ in range(3):
        got = expiring.list_pods()
        assert isinstance(got, PodsSnapshot), got.line()  # type: ignore[union-attr]
    assert runs.read_text() == "4"  # the build, then one run before each request
    assert certs_seen() == [0, 0, 0, 1, 2, 3], "each request presents the certificate of the plugin's latest answer"
    pools = expiring._core().api_client.rest_client.pool_manager.pools  # type: ignore[union-attr]
    assert len(pools) == 1, "the connections that presented an old certificate are closed"

    assert "kube exec client key" in known_labels()
    for _, key in pairs[:4]:  # as read (the PEM pattern would catch it anyway) and base64-encoded (only the registration does)
        assert redact(f"key was {key}") == f"key was {REDACTED}"
        assert redact(base64.b64encode(key.encode()).decode()) == REDACTED
    assert redact(base64.b64encode(pairs[5][1].encode()).decode()) != REDACTED  # never read: not registered
