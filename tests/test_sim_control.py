"""The drill's control API: stopping services for real, injected faults,
the request log, the clock, and the Kubernetes switches."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from clay_cockpit.sim.background import SimError

plain_httpx = httpx


class KubeHttp:
    """httpx's functions, trusting the drill's Kubernetes API certificate."""

    def __init__(self, sim) -> None:
        self.verify = sim.kube_ssl()

    def __getattr__(self, method: str):
        return lambda *a, **kw: getattr(plain_httpx, method)(*a, verify=self.verify, **kw)


def test_stop_is_connection_refused_even_on_a_kept_alive_connection(sim) -> None:
    url = sim.endpoints["health"] + "/health"
    with httpx.Client(timeout=3) as client:
        assert client.get(url).status_code == 200  # the connection stays open (keep-alive)
        sim.stop_service("health")
        assert sim.state()["services"]["health"] == "down"
        with pytest.raises(httpx.ConnectError):
            client.get(url)
        with pytest.raises(httpx.ConnectError):
            httpx.get(url, timeout=3)
        sim.start_service("health")
        assert sim.state()["services"]["health"] == "up"
        assert client.get(url).status_code == 200
    assert sim.endpoints["health"] == url.removesuffix("/health"), "same port after a restart"


def test_stop_drops_an_open_log_follow(sim) -> None:
    pod = httpx.get(
        sim.endpoints["kube"] + "/api/v1/namespaces/clay-sync/pods",
        timeout=5,
        headers={"Authorization": f"Bearer {sim.token}"},
        verify=sim.kube_ssl(),
    ).json()["items"][0]["metadata"]["name"]
    url = f"{sim.endpoints['kube']}/api/v1/namespaces/clay-sync/pods/{pod}/log"
    with httpx.stream(
        "GET",
        url,
        params={"follow": "true", "tailLines": 1},
        timeout=5,
        headers={"Authorization": f"Bearer {sim.token}"},
        verify=sim.kube_ssl(),
    ) as resp:
        assert resp.status_code == 200
        sim.stop_service("kube")
        started = time.monotonic()
        try:
            for _ in resp.iter_bytes():
                pass  # ends when the server drops the connection
        except httpx.ReadTimeout:
            pytest.fail("the follow stayed open after the service stopped")
        except httpx.HTTPError:
            pass  # dropped mid-stream
        assert time.monotonic() - started < 3


@pytest.mark.parametrize("status", [401, 403, 429, 500, 503])
def test_fault_status_with_each_services_error_body(sim, status: int) -> None:
    for name in ("statuspage", "kube", "slack", "prometheus", "health"):
        sim.fault(name, status=status)
    r = httpx.get(sim.endpoints["statuspage"] + "/api/v2/summary.json", timeout=3)
    assert r.status_code == status and "error" in r.json()
    k = httpx.get(
        sim.endpoints["kube"] + "/api/v1/namespaces/clay-sync/pods",
        timeout=3,
        headers={"Authorization": f"Bearer {sim.token}"},
        verify=sim.kube_ssl(),
    )
    assert k.status_code == status
    assert k.json()["kind"] == "Status" and k.json()["code"] == status and k.json()["status"] == "Failure"
    s = httpx.post(sim.endpoints["slack"] + "/api/auth.test", timeout=3)
    assert s.status_code == status and s.json()["ok"] is False
    if status == 429:
        assert s.headers["Retry-After"].isdigit() and s.json() == {"ok": False, "error": "ratelimited"}
        assert r.headers["Retry-After"].isdigit()
    assert httpx.get(sim.endpoints["health"] + "/health", timeout=3).status_code == status
    p = httpx.get(sim.endpoints["prometheus"] + "/api/v1/query", params={"query": "x"}, timeout=3)
    assert p.status_code == status
    if status >= 500:
        assert p.json()["status"] == "error"
    sim.clear_fault("statuspage")
    assert httpx.get(sim.endpoints["statuspage"] + "/api/v2/summary.json", timeout=3).status_code == 200


def test_fault_times_delay_and_malformed(sim) -> None:
    url = sim.endpoints["statuspage"] + "/api/v2/status.json"
    sim.fault("statuspage", status=503, times=2)
    assert [httpx.get(url, timeout=3).status_code for _ in range(3)] == [503, 503, 200]
    sim.fault("statuspage", delay=2.0)
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(url, timeout=0.5)
    assert time.monotonic() - started < 1.5
    sim.fault("statuspage", malformed=True)
    r = httpx.get(url, timeout=3)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        r.json()
    sim.clear_fault("statuspage")
    assert httpx.get(url, timeout=3).json()["status"]["indicator"] == "none"
    with pytest.raises(SimError):
        sim.fault("statuspage", status=418)
    with pytest.raises(SimError):
        sim.fault("nosuchservice", status=500)


def test_after_commit_handles_the_request_then_breaks_its_answer(sim) -> None:
    """The change is made; only the answer is lost: cut, not UTF-8, reset, a gateway's 502."""
    slack = sim.endpoints["slack"] + "/api/"
    auth = {"Authorization": f"Bearer {sim.env()['CLAY_DRILL_SLACK_TOKEN']}"}
    before = sim.state()["slack_messages"]
    for how in ("truncated", "not_utf8", "502"):
        sim.fault("slack", after_commit=True if how == "truncated" else how, times=1)
        r = httpx.post(slack + "chat.postMessage", json={"channel": "#inc-clay-drill", "text": how}, headers=auth, timeout=3)
        if how == "502":
            assert r.status_code == 502 and "Bad Gateway" in r.text
        else:
            assert r.status_code == 200 and r.content.startswith(b'{"ok"')
            with pytest.raises((json.JSONDecodeError, UnicodeDecodeError)):
                json.loads(r.content)
    sim.fault("slack", after_commit="reset", times=1)
    with pytest.raises(httpx.TransportError):
        httpx.post(slack + "chat.postMessage", json={"channel": "#inc-clay-drill", "text": "reset"}, headers=auth, timeout=3)
    assert sim.state()["slack_messages"] == before + 4  # every one was posted
    for bad in ({"after_commit": "later"}, {"after_commit": True, "status": 500}, {"after_commit": True, "malformed": True}):
        with pytest.raises(SimError):
            sim.fault("slack", **bad)


def test_echo_auth_puts_the_requests_credentials_into_the_error_body(sim) -> None:
    """A misconfigured gateway's error page: the credentials the request
    carried, in each form asked for, where the service's error body has its message."""
    import base64

    secret = "s3cr3t-" + "q" * 20
    sim.fault("health", status=401, echo_auth=True, echo_pad=5)
    body = httpx.get(sim.endpoints["health"] + "/health", headers={"Authorization": f"Bearer {secret}"}, timeout=3).json()["error"]
    assert body.startswith("Unauthorized xxxxx upstream saw: ")
    for shown in (
        f"Authorization: Bearer {secret}",
        f"credential {secret} rejected",
        f"b'{secret}\\n'",
        base64.b64encode(secret.encode()).decode(),
        '{"Authorization": "Bearer ' + secret,
        f"access_token={secret}",
    ):
        assert shown in body, (shown, body)
    sim.fault("kube", status=403, echo_auth=["bare"])
    k = httpx.get(
        sim.endpoints["kube"] + "/api/v1/namespaces/clay-sync/pods",
        timeout=3,
        headers={"Authorization": f"Bearer {sim.token}"},
        verify=sim.kube_ssl(),
    ).json()
    assert k["kind"] == "Status" and f"credential {sim.token} rejected" in k["message"]
    sim.fault("slack", status=401, echo_auth=["header"])
    s = httpx.post(sim.endpoints["slack"] + "/api/auth.test", headers={"Authorization": f"Bearer {secret}"}, timeout=3).json()
    assert s["error"] == "invalid_auth" and f"Bearer {secret}" in s["response_metadata"]["messages"][0]
    sim.fault("statuspage", malformed=True, echo_auth=["query"])
    r = httpx.get(sim.endpoints["statuspage"] + "/api/v2/summary.json", params={"api_key": secret}, timeout=3)
    assert r.status_code == 200 and f"access_token={secret}" in r.text
    assert "saw" not in httpx.get(sim.endpoints["rootly"] + "/api/v1/status.json", timeout=3).text  # no credential, no echo
    for bad in ({"status": 401, "echo_auth": ["nope"]}, {"status": 401, "echo_pad": -1}, {"delay": 1, "echo_auth": True}):
        with pytest.raises(SimError):
            sim.fault("health", **bad)


def test_request_log_marks_mutations(sim) -> None:
    auth = {"Authorization": f"Bearer {sim.token}"}
    kube = sim.endpoints["kube"]
    httpx = KubeHttp(sim)
    httpx.get(kube + "/api/v1/namespaces/clay-sync/pods", headers=auth, params={"labelSelector": "app=clay-sync"}, timeout=5)
    httpx.post(
        kube + "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        headers=auth,
        timeout=5,
        json={
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {"namespace": "clay-sync", "verb": "patch", "resource": "secrets"}},
        },
    )
    httpx.patch(
        kube + "/api/v1/namespaces/clay-sync/configmaps/clay-sync-flags",
        headers={**auth, "Content-Type": "application/merge-patch+json"},
        json={"data": {"CLAY_REQUEST_QUEUING": "true"}},
        params={"dryRun": "All"},
        timeout=5,
    )
    plain_httpx.get(sim.endpoints["health"] + "/health", timeout=5)
    log = sim.requests("kube")
    assert [(r["method"], r["mutating"]) for r in log] == [("GET", False), ("POST", False), ("PATCH", True)]
    assert log[0]["query"] == "labelSelector=app%3Dclay-sync" and log[0]["path"] == "/api/v1/namespaces/clay-sync/pods"
    assert log[2]["query"] == "dryRun=All"
    assert all(r["service"] == "kube" for r in log)
    assert {r["service"] for r in sim.requests()} >= {"kube", "health"}
    assert sim.state()["flags"]["CLAY_REQUEST_QUEUING"] == "false", "a dry run changes nothing"


def test_request_log_is_bounded(sim) -> None:
    with httpx.Client(timeout=5) as client:
        for _ in range(1050):
            client.get(sim.endpoints["statuspage"] + "/api/v2/status.json")
    assert len(sim.requests()) == 1000


def test_clock_frozen_advance_and_running(sim) -> None:
    first = sim.state()
    assert first["frozen"] is True and first["t"] == 0
    time.sleep(0.3)
    assert sim.state()["now"] == first["now"], "a frozen clock does not move on its own"
    after = sim.advance(12.5)
    assert after["t"] == pytest.approx(12.5) and after["now"] == pytest.approx(first["now"] + 12.5)
    sim.freeze(False)
    time.sleep(0.3)
    assert sim.state()["now"] > after["now"]
    with pytest.raises(SimError, match="409"):
        sim.advance(5)


@pytest.mark.scenario("healthy", frozen=False, speed=20)
def test_running_clock_moves_at_speed(sim) -> None:
    a = sim.state()
    time.sleep(0.5)
    b = sim.state()
    assert 6 <= b["t"] - a["t"] <= 14
    assert b["speed"] == 20 and not b["frozen"]


def test_kube_switches(sim) -> None:
    httpx = KubeHttp(sim)
    kube = sim.endpoints["kube"]
    auth = {"Authorization": f"Bearer {sim.token}"}
    secret = kube + "/api/v1/namespaces/clay-sync/secrets/clay-api"
    assert httpx.get(secret, headers=auth, timeout=5).status_code == 200
    sim.kube("expire_token")
    assert httpx.get(secret, headers=auth, timeout=5).status_code == 401
    sim.kube("renew_token")
    sim.kube("deny", verb="patch", resource="secrets")
    patched = httpx.patch(secret, headers={**auth, "Content-Type": "application/merge-patch+json"}, json={"data": {}}, timeout=5)
    assert patched.status_code == 403 and patched.json()["reason"] == "Forbidden"
    assert httpx.get(secret, headers=auth, timeout=5).status_code == 200
    sim.kube("allow_all")
    assert (
        httpx.patch(secret, headers={**auth, "Content-Type": "application/merge-patch+json"}, json={"data": {}}, timeout=5).status_code
        == 200
    )
    assert httpx.get(secret, headers={"Authorization": "Bearer wrong"}, timeout=5).status_code == 401


def test_request_log_masks_tokens_in_query_strings(sim) -> None:
    httpx.get(sim.endpoints["slack"] + "/api/auth.test", params={"token": "xoxb-secret-value", "pretty": "1"}, timeout=5)
    (entry,) = sim.requests("slack")
    assert "xoxb-secret-value" not in json.dumps(entry) and entry["query"] == "token=%2A%2A%2A&pretty=1"


# --------------------------------------------------------------------------
# Scenario faults for the runbook's error-handling rows


def _scenario(**faults_and_expect):
    from clay_cockpit.sim.scenario import scenario_from_toml

    data = {
        "name": "custom",
        "title": "A custom drill",
        "summary": "A drill made up by a test, to check a schedule.",
        "expect": {"branch": "healthy", "severity": "none"},
    }
    data.update(faults_and_expect)
    return scenario_from_toml(data, "custom.toml")


@pytest.mark.scenario("status-page-down")
def test_a_service_goes_down_on_schedule_and_a_manual_start_is_left_alone(sim) -> None:
    url = sim.endpoints["statuspage"] + "/api/v2/summary.json"
    sim.advance(19)
    assert httpx.get(url, timeout=3).status_code == 200
    sim.advance(2)
    assert sim.state()["services"]["statuspage"] == "down"
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, timeout=3)
    assert httpx.get(sim.endpoints["rootly"] + "/api/v1/status.json", timeout=3).status_code == 200, "the alternative answers"
    page = httpx.get(sim.endpoints["rootly"] + "/", timeout=3)
    assert page.headers["content-type"].startswith("text/plain") and "Clay Status" in page.text
    sim.advance(10)  # Clay posts its incident 8 s after the fault: the alternative source shows it
    assert "Clay API unavailable — investigating" in httpx.get(sim.endpoints["rootly"] + "/", timeout=3).text
    sim.start_service("statuspage")  # someone starts it by hand: the schedule does not stop it again
    sim.advance(5)
    assert httpx.get(url, timeout=3).status_code == 200


def test_a_service_comes_back_at_the_end_of_its_fault(tmp_path) -> None:
    from clay_cockpit.sim.background import start_background

    spec = _scenario(faults=[{"kind": "service_down", "service": "prometheus", "start": 5.0, "end": 15.0}])
    sim = start_background(spec, seed=7, freeze_at=1_767_225_600.0, workdir=tmp_path)
    try:
        ready = sim.endpoints["prometheus"] + "/-/ready"
        sim.advance(6)
        assert sim.state()["services"]["prometheus"] == "down" and sim.state()["services"]["prometheus_backup"] == "up"
        sim.advance(10)
        assert sim.state()["services"]["prometheus"] == "up" and httpx.get(ready, timeout=3).status_code == 200
    finally:
        sim.stop()


@pytest.mark.scenario("kube-auth-expired")
def test_credentials_expire_at_the_first_real_write_and_a_login_brings_a_new_token(sim) -> None:
    httpx = KubeHttp(sim)
    kube = sim.endpoints["kube"]
    old = {"Authorization": f"Bearer {sim.token}"}
    deployment = kube + "/apis/apps/v1/namespaces/clay-sync/deployments/clay-sync"
    patch = {"Content-Type": "application/strategic-merge-patch+json"}
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"verb": "patch", "resource": "deployments", "namespace": "clay-sync"}},
    }
    sim.advance(25)
    assert httpx.get(deployment, headers=old, timeout=5).status_code == 200
    # a plan's checks are not writes: the dry run and the access review pass
    assert httpx.patch(deployment + "?dryRun=All", headers={**old, **patch}, json={"spec": {}}, timeout=5).status_code == 200
    sar = httpx.post(kube + "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", headers=old, json=review, timeout=5)
    assert sar.status_code == 201 and sar.json()["status"]["allowed"] is True
    assert sim.state()["kube_token"] == "ok"
    # the apply is refused, and everything after it
    applied = httpx.patch(deployment, headers={**old, **patch}, json={"spec": {}}, timeout=5)
    assert applied.status_code == 401 and applied.json()["reason"] == "Unauthorized"
    assert httpx.get(deployment, headers=old, timeout=5).status_code == 401
    assert sim.state()["kube_token"] == "expired"
    sim.advance(60)
    assert httpx.get(deployment, headers=old, timeout=5).status_code == 401, "it does not come back by itself"
    answer = sim.kube("login")
    assert answer["kubeconfig"] == str(sim.kubeconfig)
    kubeconfig = json.loads(sim.kubeconfig.read_text())
    assert kubeconfig["users"][0]["user"]["token"] == sim.token != old["Authorization"].split()[1]
    assert httpx.get(deployment, headers={"Authorization": f"Bearer {sim.token}"}, timeout=5).status_code == 200
    assert httpx.get(deployment, headers=old, timeout=5).status_code == 401, "the expired token stays refused"
    # armed once: the next write goes through
    assert (
        httpx.patch(deployment, headers={"Authorization": f"Bearer {sim.token}", **patch}, json={"spec": {}}, timeout=5).status_code == 200
    )


@pytest.mark.scenario("secret-denied")
def test_a_permission_denied_from_the_start(sim) -> None:
    httpx = KubeHttp(sim)
    kube = sim.endpoints["kube"]
    auth = {"Authorization": f"Bearer {sim.token}"}
    secret = kube + "/api/v1/namespaces/clay-sync/secrets/clay-api"

    def allowed(verb: str, resource: str) -> bool:
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {"verb": verb, "resource": resource, "namespace": "clay-sync", "name": "clay-api"}},
        }
        return httpx.post(kube + "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", headers=auth, json=body, timeout=5).json()[
            "status"
        ]["allowed"]

    assert not allowed("patch", "secrets") and allowed("get", "secrets") and allowed("patch", "deployments")
    assert httpx.get(secret, headers=auth, timeout=5).status_code == 200
    denied = httpx.patch(secret, headers={**auth, "Content-Type": "application/merge-patch+json"}, json={"data": {}}, timeout=5)
    assert denied.status_code == 403 and 'cannot patch resource "secrets"' in denied.json()["message"]


def test_a_denied_permission_is_granted_at_the_end_of_its_fault(tmp_path) -> None:
    from clay_cockpit.sim.background import start_background

    spec = _scenario(faults=[{"kind": "kube_denied", "verb": "patch", "resource": "secrets", "start": 0.0, "end": 30.0}])
    sim = start_background(spec, seed=7, freeze_at=1_767_225_600.0, workdir=tmp_path)
    try:
        httpx = KubeHttp(sim)
        secret = sim.endpoints["kube"] + "/api/v1/namespaces/clay-sync/secrets/clay-api"
        headers = {"Authorization": f"Bearer {sim.token}", "Content-Type": "application/merge-patch+json"}
        assert httpx.patch(secret, headers=headers, json={"data": {}}, timeout=5).status_code == 403
        sim.advance(31)
        assert httpx.patch(secret, headers=headers, json={"data": {}}, timeout=5).status_code == 200
    finally:
        sim.stop()
