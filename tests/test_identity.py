"""Issue 11: every request the cockpit sends names it, so the audit and access
logs of every system it touches tell our requests apart — ``User-Agent:
clay-cockpit/<version>`` on every HTTP request of every client library
(httpx, slack-sdk, prometheus-api-client's requests session, the kubernetes
ApiClient) and ``fieldManager=clay-cockpit`` on every Kubernetes write.

One drill, every service the cockpit calls, through the code the app runs
(the sources, ``check --with-key``, the Slack and status page adapters, the
action runner with its dry runs, permission reviews and Lease), then the
drill's own request log (``GET /_sim/requests``) read back: what the servers
received, not what we meant to send.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace

import pytest
from test_actions_support import drill_config, make_runner

from clay_cockpit.actions.flow import ActionKind, Confirmation, Outcome, SecretValue
from clay_cockpit.check.report import run_checks
from clay_cockpit.check.rows import Status
from clay_cockpit.signals import HealthSnapshot, MetricsSnapshot, PodsSnapshot, StatusPageSnapshot
from clay_cockpit.sim.control import MAX_REQUESTS, is_mutating
from clay_cockpit.sources import Sources
from clay_cockpit.sources import _identity as identity
from clay_cockpit.sources.kube_lease import lease_name
from clay_cockpit.sources.metrics import Metrics
from clay_cockpit.sources.slack import Posted, Slack
from clay_cockpit.sources.statusapi import StatusApi
from clay_cockpit.sources.statuspage import StatusPage

NEW_KEY = "clay_live_" + "1d" * 16
# every drill service the cockpit talks to ("metrics" is the exposition a real Prometheus scrapes, not the cockpit)
CALLED = {"statuspage", "rootly", "health", "prometheus", "prometheus_backup", "clay", "slack", "statusapi", "kube", "pagerduty", "grafana"}


@pytest.fixture
def env(sim, monkeypatch):
    for k, v in sim.env().items():
        monkeypatch.setenv(k, v)


def _applied(runner, kind: ActionKind, **inputs) -> Outcome:
    plan = runner.prepare(kind, **inputs)
    assert plan.ready, "\n".join(plan.lines())
    confirmation = runner.confirm(plan, plan.typed_confirmation)
    assert isinstance(confirmation, Confirmation), confirmation
    done = runner.apply(confirmation)
    assert done.ok, done.summary
    return done


def _follow_logs(sources: Sources, until: float = 0.8) -> list:
    lines: list = []
    stop = threading.Event()
    thread = threading.Thread(target=sources.kube.follow_logs, args=(lines.extend, lambda _e: None, stop, 0.05), daemon=True)
    thread.start()
    stop.wait(until)
    stop.set()
    thread.join(10)
    assert not thread.is_alive()
    return lines


def test_every_request_of_a_whole_drill_carries_our_user_agent_and_every_kube_write_our_field_manager(sim, env) -> None:
    cfg = drill_config(sim)
    sources = Sources(replace(cfg, kube=replace(cfg.kube, refresh=0.2)))
    ua = identity.user_agent()
    assert ua == f"clay-cockpit/{identity.version()}" and identity.version() != "0+unknown"  # the installed version

    # -- the readiness check, as `clay-cockpit check --with-key`: status page, health, both Prometheus
    #    servers (label values and every query), Clay's probe (keyless, then with the key read from the
    #    Secret), Slack (auth.test, conversations.list/info), the status page API, kube reviews and reads
    rows = asyncio.run(run_checks(cfg, sources, with_key=True))
    assert [r.name for r in rows if r.status is Status.FAIL] == [], [r.as_dict() for r in rows]

    # -- the app's polls: status page (and the alternative, Rootly-format one), health, metrics
    #    (the primary, then the backup once the primary is gone), pods and their logs
    async def pages():
        alt = StatusPage(replace(cfg.statuspage, url=cfg.statuspage.alternative_url, alternative_url=""))
        return await asyncio.gather(sources.statuspage.fetch(), alt.fetch(), sources.health.fetch())

    main, alt, health = asyncio.run(pages())
    assert isinstance(main, StatusPageSnapshot) and isinstance(alt, StatusPageSnapshot) and alt.provider == "rootly", (main, alt)
    assert isinstance(health, HealthSnapshot), health
    assert isinstance(sources.metrics.fetch(), MetricsSnapshot)
    metrics = Metrics(cfg.metrics)
    sim.stop_service("prometheus")
    failed_over = metrics.fetch()
    assert isinstance(failed_over, MetricsSnapshot) and failed_over.is_backup, failed_over
    sim.start_service("prometheus")
    for _ in range(metrics.primary_retry_every):  # on the backup, the primary's /-/ready is probed now and then
        back = metrics.fetch()
    assert isinstance(back, MetricsSnapshot) and not back.is_backup, back
    assert isinstance(sources.kube.list_pods(), PodsSnapshot)
    assert _follow_logs(sources), "the log follower read no line"

    # -- comms: the incident thread in Slack (post, reply, summary edit, read back) and our status page
    slack = Slack(cfg.slack)
    top = slack.post("INC drill: identity check")
    assert isinstance(top, Posted), top
    assert isinstance(slack.post("an update", thread_ts=top.ts), Posted)
    assert isinstance(slack.update(top.channel_id, top.ts, "INC drill: identity check (edited)"), Posted)
    assert isinstance(slack.replies(top.channel_id, top.ts), tuple)
    page = StatusApi(cfg.external_status)
    incident = page.create_incident(
        name="Service disruption", status="investigating", body="We are investigating.", components={"drillcomp01": "major_outage"}
    )
    assert not hasattr(incident, "kind"), incident
    assert not hasattr(page.update_incident(incident.id, status="resolved", body="Resolved."), "kind")
    assert not hasattr(page.set_component("drillcomp01", "operational"), "kind")

    # -- the remediations, each planned (reads, dry run, SelfSubjectAccessReviews), confirmed and applied
    #    under the Lease (created by the first, updated by the others): the key checked with Clay and
    #    rotated (Secret), restart (deployment), queuing and fallback (ConfigMap, then a restart), scale
    runner = make_runner(sim, cfg)
    check = runner.prepare(ActionKind.VERIFY_KEY)
    assert runner.run_check(check).probe is not None
    _applied(runner, ActionKind.UPDATE_KEY, new_key=SecretValue(NEW_KEY))
    _applied(runner, ActionKind.RESTART)
    _applied(runner, ActionKind.ENABLE_QUEUING)
    _applied(runner, ActionKind.ENABLE_FALLBACK)
    _applied(runner, ActionKind.SCALE, replicas=4)

    # -- what the drill's servers received
    seen = sim.requests()
    assert len(seen) < MAX_REQUESTS, "the request log wrapped: this test no longer sees its first requests"
    assert CALLED <= {r["service"] for r in seen}, sorted(CALLED - {r["service"] for r in seen})
    assert any(r["service"] == "prometheus" and r["path"] == "/-/ready" for r in seen), "the primary was never probed"
    anonymous = [
        (r["service"], r["method"], r["path"], r["user_agent"])
        for r in seen
        if not (r["user_agent"] == ua or r["user_agent"].startswith(ua + " "))
    ]  # slack-sdk appends its own
    assert anonymous == [], f"{len(anonymous)} of {len(seen)} requests without {ua}: {anonymous[:10]}"

    kube = [r for r in seen if r["service"] == "kube"]
    assert any(r["path"].endswith("/log") for r in kube) and any(r["path"].endswith("/selfsubjectaccessreviews") for r in kube)
    writes = [r for r in kube if r["mutating"]]
    unmanaged = [(r["method"], r["path"], r["query"]) for r in writes if r["field_manager"] != identity.FIELD_MANAGER]
    assert unmanaged == [], unmanaged
    assert not [r for r in kube if not r["mutating"] and is_mutating(r["method"], r["path"])]
    kinds = {(r["method"], r["path"].rsplit("/", 2)[-2], "dryRun=All" in r["query"]) for r in writes}
    lease = lease_name(cfg.kube.deployments[0])
    for expected in [
        ("PATCH", "secrets", False),
        ("PATCH", "secrets", True),
        ("PATCH", "deployments", False),
        ("PATCH", "deployments", True),
        ("PATCH", "configmaps", False),
        ("PATCH", "configmaps", True),
        ("PATCH", "clay-sync", False),  # …/deployments/clay-sync/scale
        ("PUT", "leases", False),
    ]:
        assert expected in kinds, (expected, sorted(kinds))
    assert any(r["method"] == "POST" and r["path"].endswith("/leases") for r in writes), "the Lease was never created"
    assert any(r["method"] == "PUT" and r["path"].endswith(f"/leases/{lease}") for r in writes)
