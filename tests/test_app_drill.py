"""The cockpit against a real drill: the simulator in a background thread
(conftest ``sim``), its config through ``config_from_toml``, the real
``clay_cockpit.sources.Sources``. Each scenario's signals must reach the panes;
a stopped service shows its named state while the other panes keep updating.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from test_actions_support import remediation_writes
from textual.content import Content
from textual.widgets import DataTable, Static

from clay_cockpit.app import CockpitApp, make_app
from clay_cockpit.config import config_from_toml
from clay_cockpit.sources import Sources
from clay_cockpit.widgets.common import SourcePane
from clay_cockpit.widgets.logs import LogView

pytestmark = pytest.mark.asyncio
SIZE = (80, 24)
WARM_UP = 120.0  # drill seconds: every fault starts at 20 s; rates need a minute of data


def drill_app(sim, refresh: float = 0.3, clock: Callable[[], float] | None = None) -> CockpitApp:
    data = sim.config_dict()
    for section in ("statuspage", "health", "metrics", "kube"):
        data[section]["refresh"] = refresh
    config = config_from_toml(data, f"drill config ({sim.scenario.name})")
    now = float(sim.state()["now"])
    return make_app(config, Sources(config), clock=clock or (lambda: now), title=f"drill: {sim.scenario.title}")


async def until(pilot, cond: Callable[[], object], timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def pane_text(app: CockpitApp, name: str) -> str:
    pane = app.screen.query_one(f"#{name}", SourcePane)
    parts = [pane.border_title or "", pane.border_subtitle or ""]
    for static in pane.query(Static):
        if static.display:
            content = static.content
            parts.append(content.plain if isinstance(content, Content) else str(content))
    for table in pane.query(DataTable):
        parts.extend(" ".join(str(c) for c in table.get_row_at(i)) for i in range(table.row_count))
    return "\n".join(parts)


def log_text(app: CockpitApp) -> str:
    return "\n".join(line.text for line in app.screen.query_one(LogView).shown_lines())


def all_loaded(app: CockpitApp) -> bool:
    s = app.signals
    return all(r.ok for r in (s.statuspage, s.health, s.metrics, s.pods)) and app.screen.query_one(LogView).line_count > 0


def series_value(app: CockpitApp, key: str) -> float | None:
    snap = app.signals.metrics.value
    return next((s.current for s in snap.series if s.key == key), None) if snap else None


def error_codes(app: CockpitApp, at_least: float = 1.0) -> set[str]:
    snap = app.signals.metrics.value
    return {s.label_value("code") or "" for s in snap.series if s.query == "errors_by_code" and (s.current or 0) >= at_least}


@pytest.fixture(autouse=True)
def own_state_dir(tmp_path, monkeypatch):
    """Incidents go to a fresh state dir: none of the developer's open incidents resumes here."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


SCENARIOS = ["healthy", "clay-outage", "rate-limited", "key-revoked", "infra-crashloop", "degraded-latency", "bad-deploy", "node-pressure"]


@pytest.mark.parametrize("sim", SCENARIOS, indirect=True)
async def test_each_scenario_reaches_the_panes(sim) -> None:
    sim.advance(WARM_UP)
    app = drill_app(sim)
    name = sim.scenario.name
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: all_loaded(app), what="every source")
        await pilot.pause(0.1)
        status, health, metrics, pods = (pane_text(app, n) for n in ("statuspage", "health", "metrics", "pods"))
        logs = log_text(app)
        for pane in app.screen.query(SourcePane):
            assert not pane.has_class("-error"), (pane.id, pane.border_subtitle)
        assert "clay-drill/clay-sync" in pods and "via primary" in metrics
        if name == "healthy":
            assert "All Systems Operational" in status and "No unresolved incidents" in status
            assert "● ok" in health
            assert error_codes(app) == set()
            assert "Running" in pods and "CrashLoop" not in pods
        elif name == "clay-outage":
            assert "Clay API unavailable" in status and "major outage" in status
            assert "We are investigating errors and timeouts" in status
            assert "✗ down" in health
            assert {"503", "500"} <= error_codes(app)
            assert "status=503" in logs
        elif name == "rate-limited":
            assert "No unresolved incidents" in status
            assert error_codes(app) == {"429"} and "429" in metrics
            assert "status=429" in logs and "retry-after=" in logs
        elif name == "key-revoked":
            assert "No unresolved incidents" in status
            assert error_codes(app) == {"401"}
            assert "clay_api fail" in health
            assert "status=401" in logs and "invalid api key" in logs
        elif name == "infra-crashloop":
            assert "No unresolved incidents" in status
            assert "OOMKilled" in pods
            assert error_codes(app) == set()
        elif name == "bad-deploy":
            assert "No unresolved incidents" in status
            assert "✗ down" in health and "v1.14.3" in health and "sync jobs fail" in health
            assert error_codes(app) == set()
            assert "version=1.14.3" in logs and 'msg="sync job failed"' in logs and "unsupported value: NaN" in logs
        elif name == "node-pressure":
            assert "No unresolved incidents" in status
            assert "Evicted" in pods and "Running" in pods  # the evicted pods (kubectl: Error, once killed) and their replacements
            assert error_codes(app) == set()
        elif name == "degraded-latency":
            assert "Elevated API latency" in status and "degraded" in status
            p95 = series_value(app, "latency_p95")
            assert p95 is not None and p95 >= app.config.thresholds.latency_p95_warn_ms
            row = app.screen.query_one("#metrics SeriesRow.-crit, #metrics SeriesRow.-warn")
            assert row.series_key == "latency_p95"


@pytest.mark.scenario("key-revoked")
async def test_a_stopped_service_shows_its_state_while_the_others_update(sim) -> None:
    sim.advance(WARM_UP)
    now = [float(sim.state()["now"])]
    app = drill_app(sim, clock=lambda: now[0])
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: all_loaded(app), what="every source")
        sim.stop_service("statuspage")
        # a first failure, at the clock's time: a good poll still in flight when the service stopped has landed by then
        await pilot.press("r")
        await until(pilot, lambda: app.signals.statuspage.error is not None, what="the status page failure")
        good_at = app.signals.statuspage.updated_at
        now[0] = good_at + 20  # the next failure comes 20 s after the last good page: it is marked stale, with its age
        await pilot.press("r")
        await until(pilot, lambda: app.signals.statuspage.checked_at == now[0], what="the status page asked again")
        await pilot.pause(0.1)
        assert app.signals.statuspage.updated_at == good_at and app.signals.statuspage.error is not None
        pane = app.screen.query_one("#statuspage", SourcePane)
        assert pane.has_class("-error") and pane.has_class("-stale")
        text = pane_text(app, "statuspage")
        assert "unreachable" in text and "STALE 20s ago" in text
        assert "No unresolved incidents" in text  # the last good page stays
        # the other sources keep answering (new snapshots) while it is down
        before = {n: getattr(app.signals, n).value for n in ("health", "metrics", "pods")}
        await until(pilot, lambda: all(getattr(app.signals, n).value is not before[n] for n in before), what="the other panes to update")
        for name in ("health", "metrics", "pods", "logs"):
            assert not app.screen.query_one(f"#{name}", SourcePane).has_class("-error"), name
        # and it comes back
        sim.start_service("statuspage")
        await pilot.press("r")
        await until(pilot, lambda: app.signals.statuspage.ok, what="recovery")


@pytest.mark.scenario("rate-limited")
async def test_prometheus_down_fails_over_to_the_backup_and_says_so(sim) -> None:
    sim.advance(WARM_UP)
    sim.stop_service("prometheus")
    app = drill_app(sim)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.signals.metrics.ok, what="metrics from the backup")
        await pilot.pause(0.1)
        pane = app.screen.query_one("#metrics", SourcePane)
        assert app.signals.metrics.value.is_backup
        assert "BACKUP" in (pane.border_title or "")
        host = sim.endpoints["prometheus_backup"].removeprefix("http://")
        assert pane.border_subtitle == f"backup 1 {host}"  # "via backup 1 127.0.0.1:…" does not fit 80 columns
        assert "⚠ primary unreachable" in pane_text(app, "metrics")
        assert error_codes(app) == {"429"}  # the backup serves the same data


# --------------------------------------------------------------------------
# The runbook's error-handling rows, each a shipped scenario with its [expect]

ERROR_HANDLING = ["status-page-down", "prometheus-down", "kube-auth-expired", "secret-denied"]


def shown_state(app: CockpitApp, name: str) -> str:
    """What a pane shows, in [expect.panes]' words: ok, backup, or the failure it names."""
    pane = app.screen.query_one(f"#{name}", SourcePane)
    if pane.has_class("-error"):
        return (pane.border_subtitle or "").removeprefix("✗ ")
    if name == "metrics" and "BACKUP" in (pane.border_title or ""):
        return "backup"
    return "ok"


@pytest.mark.parametrize("sim", [pytest.param(n, marks=pytest.mark.scenario(n)) for n in ERROR_HANDLING], indirect=True)
async def test_error_handling_drills_show_what_their_expect_says(sim) -> None:
    from clay_cockpit.sim.scenario import load_scenario

    spec = load_scenario(sim.scenario.name)
    sim.advance(WARM_UP)
    app = drill_app(sim)
    expect = spec.expect
    wanted = dict(expect.panes.items())
    async with app.run_test(size=SIZE) as pilot:

        def settled() -> bool:
            s = app.signals
            return all(getattr(s, n).checked_at is not None for n in ("statuspage", "health", "metrics", "pods")) and all(
                shown_state(app, n) == want for n, want in wanted.items()
            )

        await until(pilot, settled, what=f"the panes as [expect.panes] says: {wanted}")
        await pilot.pause(0.1)
        text = "\n".join(pane_text(app, n) for n in ("statuspage", "health", "metrics", "pods", "logs"))
        for words in expect.says:
            assert words in " ".join(text.split()), (words, text)
        codes = {int(c) for c in error_codes(app, at_least=0.5)}
        if expect.codes:
            assert codes & set(expect.codes), (codes, expect.codes)
        if wanted.get("statuspage") in ("unreachable", "timeout"):  # the runbook: say so, and the alternative source
            status = " ".join(pane_text(app, "statuspage").split())
            assert "use mobile data or the VPN" in status and app.config.statuspage.alternative_url in status, status
            title = app.screen.query_one("#statuspage", SourcePane).border_title or ""
            assert title.endswith(" · failing"), title  # started after it went down: no page ever read, none shown
        if wanted.get("metrics") == "backup":
            pane = app.screen.query_one("#metrics", SourcePane)
            assert app.signals.metrics.value.is_backup and "…" not in (pane.border_title or "") + (pane.border_subtitle or "")


async def _plan_key_update(pilot, drill, key: str):
    """k, the key, Enter: Clay is asked; then the plan's modal (Enter goes straight on to it when Clay accepts the
    key, or the "Plan" button does on a cockpit where Enter only verifies)."""
    from test_app_actions_support import type_text
    from test_app_actions_support import until as until_
    from textual.widgets import Button

    from clay_cockpit.screens.confirm import ConfirmScreen
    from clay_cockpit.screens.secret_input import KeyInputScreen

    app = drill.app
    await pilot.press("k")
    await until_(pilot, lambda: isinstance(app.screen, KeyInputScreen), what="the key input")
    await type_text(pilot, key)
    await pilot.press("enter")
    await until_(
        pilot,
        lambda: (
            isinstance(app.screen, ConfirmScreen)
            or (isinstance(app.screen, KeyInputScreen) and "accepts" in str(app.screen.query_one("#result").content))
        ),
        what="Clay's answer about the key",
    )
    if isinstance(app.screen, KeyInputScreen):
        app.screen.query_one("#plan", Button).press()
    await until_(
        pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.focused is not None and not drill.actions.busy, what="the plan's modal"
    )
    return app.screen.plan


async def _confirm_typed(pilot, drill, name: str = "clay-sync") -> None:
    """Type the deployment name into the modal's field and confirm (Enter; on a cockpit where Enter in the
    field only moves to the button, Enter again)."""
    from test_app_actions_support import type_text

    from clay_cockpit.screens.confirm import ConfirmScreen

    app = drill.app
    app.screen.query_one("#typed").focus()
    await pilot.pause()
    await type_text(pilot, name)
    await pilot.press("enter")
    if isinstance(app.screen, ConfirmScreen) and app.focused is not None and app.focused.id == "confirm":
        await pilot.press("enter")


@pytest.mark.scenario("kube-auth-expired")
async def test_kube_auth_expired_drill_login_then_g_retries_with_what_was_typed(sim, tmp_path) -> None:
    """The cluster credentials expire at the Secret write: the cockpit says so with the drill's login command;
    the responder runs it (as in another terminal) and g writes the key typed before."""
    from test_app_actions_support import NEW_KEY, Drill, ready, screen_text
    from test_app_actions_support import pane_text as actions_text
    from test_app_actions_support import until as until_

    from clay_cockpit.actions.flow import ActionKind, FailureKind
    from clay_cockpit.incident.timeline import fingerprint
    from clay_cockpit.screens.confirm import ConfirmScreen
    from clay_cockpit.sim.login import login
    from clay_cockpit.sim.scenario import load_scenario

    expect = load_scenario("kube-auth-expired").expect.action
    sim.advance(40)
    drill = Drill(sim, tmp_path)
    app = drill.app
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, drill)
        plan = await _plan_key_update(pilot, drill, NEW_KEY)
        assert plan.ready and plan.kind is ActionKind.UPDATE_KEY, plan.lines()  # the checks are reads: they pass
        await _confirm_typed(pilot, drill)
        await until_(pilot, lambda: drill.actions.last is not None and not drill.actions.busy, what="the apply")
        out = drill.actions.last
        assert not out.applied and out.failure is not None and out.failure.kind is FailureKind(expect.fails), out.summary
        assert sim.state()["kube_token"] == "expired" and sim.state()["key_valid"] is False
        while isinstance(app.screen, ConfirmScreen):
            await pilot.press("escape")
            await pilot.pause()
        await pilot.press("x")
        await until_(pilot, lambda: "g retries" in actions_text(app), what="the retry offered")
        said = " ".join(actions_text(app).split())
        for words in expect.says:
            assert words in said, (words, said)
        assert f"sim --login --dir {sim.workdir}" in said, said
        assert NEW_KEY not in screen_text(app)

        assert login(str(sim.workdir)).startswith("logged in to clay-drill again")  # the responder's other terminal
        await pilot.press("g")
        await until_(
            pilot,
            lambda: isinstance(app.screen, ConfirmScreen) and app.focused is not None and not drill.actions.busy,
            what="the retried plan",
        )
        plan = app.screen.plan
        assert plan.ready and plan.kind is ActionKind.UPDATE_KEY and plan.changes[0].after == fingerprint(NEW_KEY), plan.lines()
        if plan.typed_confirmation:
            await _confirm_typed(pilot, drill)
        await until_(
            pilot,
            lambda: drill.actions.last is not out and drill.actions.last is not None and not drill.actions.busy,
            what="the retried apply",
        )
        assert drill.actions.last.applied, drill.actions.last.summary
        assert sim.state()["key_valid"] is True


@pytest.mark.scenario("secret-denied")
async def test_secret_denied_drill_shows_permission_denied_and_the_escalation_contact(sim, tmp_path) -> None:
    from test_app_actions_support import NEW_KEY, Drill, ready
    from test_app_actions_support import pane_text as actions_text
    from test_app_actions_support import until as until_

    from clay_cockpit.actions.flow import FailureKind
    from clay_cockpit.sim.scenario import load_scenario

    expect = load_scenario("secret-denied").expect.action
    sim.advance(40)
    drill = Drill(sim, tmp_path)
    app = drill.app
    contact = drill.config.escalation.contact
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, drill)
        await pilot.press("x")
        await until_(pilot, lambda: "permission denied" in actions_text(app), what="the pane")
        said = " ".join(actions_text(app).split())
        for words in expect.says:
            assert words in said, (words, said)
        assert f"permission denied (patch secrets/clay-api) → escalate to {contact}" in said
        plan = await _plan_key_update(pilot, drill, NEW_KEY)
        assert plan.blocked is not None and plan.blocked.kind is FailureKind(expect.fails), plan.lines()
        assert not app.screen.query("#confirm"), "nothing to confirm"
        assert f"escalate to {contact}" in " ".join(app.screen.query_one("#plan-text").content.plain.split())
    assert not [r for r in remediation_writes(sim) if "dryRun=All" not in r["query"]], "nothing was written"


@pytest.mark.scenario("key-revoked")
async def test_a_stalled_log_stream_is_marked_stale_and_triage_discounts_the_logs(sim, monkeypatch) -> None:
    """The drill stalls every log follow (open, no bytes) while the pod list
    and Prometheus answer: the logs pane names the stall with a hint and
    turns STALE, triage marks what it cites from the logs as old and lowers
    its confidence in it; once the stream resumes, all is live again.
    QUIET_MIN/PROBE_WAIT are shortened (15 s/5 s by default): the same code."""
    from clay_cockpit.signals import ErrorKind
    from clay_cockpit.sources import _logstream
    from clay_cockpit.triage.tree import Confidence

    monkeypatch.setattr(_logstream, "QUIET_MIN", 2.0)
    monkeypatch.setattr(_logstream, "PROBE_WAIT", 1.0)
    monkeypatch.setattr(_logstream, "QUIET_INTERVALS", 2)
    sim.advance(WARM_UP)
    now = [float(sim.state()["now"])]
    app = drill_app(sim, clock=lambda: now[0])

    def cites_logs() -> list:
        a = app.desk.triaged.latest if app.desk.triaged is not None else None
        return [(f, r) for f in (a.findings if a else ()) for r in f.reasons if r.source == "logs"]

    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: all_loaded(app), what="every source")
        for _ in range(6):  # a cadence: lines every ~0.3 s
            sim.advance(5)
            now[0] += 5
            await pilot.pause(0.3)
        await until(pilot, lambda: bool(cites_logs()), what="triage citing the logs")
        assert all("stale" not in r.text for _, r in cites_logs())
        pane = app.screen.query_one("#logs", SourcePane)
        sim.kube("stall_logs")
        for _ in range(16):  # the drill goes on (metrics, pods): only the log bytes stop
            sim.advance(1)
            now[0] += 1
            await pilot.pause(0.5)
            if pane.has_class("-stale"):
                break
        assert pane.has_class("-error") and pane.has_class("-stale"), pane.border_subtitle
        text = pane_text(app, "logs")
        assert "✗ stalled" in text and "STALE" in text and "sends nothing" in text and "reconnecting" in text
        assert app.signals.logs_stale is not None and app.signals.logs_stale.kind is ErrorKind.STALLED
        await pilot.press("r")
        await until(
            pilot,
            lambda: bool(cites_logs()) and all("logs stale" in r.text for _, r in cites_logs()),
            what="triage marking the logs it cites as stale",
        )
        assert all(f.confidence is not Confidence.HIGH for f, _ in cites_logs())
        assert any(g.source == "logs" and g.state == "stale" for g in app.desk.triaged.latest.gaps)
        assert "invalid api key" in log_text(app)  # the last good lines stay, dimmed

        sim.kube("unstall_logs")
        sim.advance(5)
        now[0] += 5
        await until(pilot, lambda: not pane.has_class("-error") and not pane.has_class("-stale"), what="the stream live again")
        assert app.signals.logs_stale is None and pane.border_subtitle == "following"
        await pilot.press("r")
        await until(pilot, lambda: bool(cites_logs()) and all("stale" not in r.text for _, r in cites_logs()), what="triage live again")


@pytest.mark.scenario("key-revoked")
async def test_a_read_only_state_dir_still_shows_the_open_incident_and_says_nothing_is_recorded(sim, monkeypatch) -> None:
    """The state dir became read-only (a full or read-only disk, lost
    permissions) with an incident open: the cockpit opens the incident for
    reading — badge with severity and clock, checklist ticks — marks it
    READ-ONLY, and says loudly that nothing new is recorded and where to fix
    it; a tick then is refused in words, and the file stays as it was.
    The tests run as root, whom chmod does not stop, and a read-only mount
    needs privileges CI may lack: the refusal is made at the OS boundary
    (os.open asked to write under the state dir fails with EROFS, as on a
    read-only file system); everything above it is the real code."""
    import errno
    import os

    from clay_cockpit.incident.lifecycle import IncidentStore
    from clay_cockpit.runbook import Severity
    from clay_cockpit.widgets.checklist import ChecklistPane
    from clay_cockpit.widgets.context_bar import IncidentBadge
    from clay_cockpit.widgets.timeline import TimelinePane

    sim.advance(WARM_UP)
    now = float(sim.state()["now"])
    app = drill_app(sim, clock=lambda: now + 60)
    store = IncidentStore(app.state_dir, clock=lambda: now)
    inc = store.declare(Severity.P2, now=now, headline="Clay answers 401")
    store.tick("check_status_page", now=now + 5)
    path = store.timeline.path
    store.close()
    before = path.read_bytes()

    real_open = os.open
    state = str(app.state_dir)

    def read_only_fs(file, flags, *args, **kwargs):  # a read-only file system under the state dir
        if str(file).startswith(state) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(file))
        return real_open(file, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", read_only_fs)
    async with app.run_test(size=(160, 48), notifications=True) as pilot:
        await until(
            pilot,
            lambda: app._desk is not None and app.desk.recorder.incident is not None and not app.desk.busy,
            what="the incident opened",
        )
        await pilot.pause(0.2)
        badge = app.screen.query_one(IncidentBadge).content.plain
        assert badge.startswith("READ-ONLY P2") and "investigating" in badge and "left" in badge, badge
        assert "no incident" not in badge
        checklist = app.screen.query_one(ChecklistPane)
        assert "Checklist · 1/" in (checklist.border_title or ""), "the recorded tick is shown"
        timeline = pane_text_of(app.screen.query_one(TimelinePane))
        assert inc.id in timeline and "READ-ONLY: nothing new is recorded" in timeline
        assert str(app.state_dir / "incidents") in timeline and "writable" in timeline, timeline
        toasts = " ".join(n.message for n in app._notifications)
        assert "nothing new is recorded" in toasts and "Read-only file system" in toasts, toasts

        await pilot.press("a")  # accept the severity: refused in words, not lost in silence
        await until(pilot, lambda: any("read-only" in f.error for f in app.desk.recorder.failures), what="the refusal")
        assert app.desk.recorder.incident.id == inc.id, "the incident stays on screen"
    assert path.read_bytes() == before, "nothing was written"


def pane_text_of(widget) -> str:
    parts = [widget.border_title or "", widget.border_subtitle or ""]
    for static in widget.query(Static):
        content = static.content
        parts.append(content.plain if isinstance(content, Content) else str(content))
    return "\n".join(parts)
