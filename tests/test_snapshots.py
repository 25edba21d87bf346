"""Snapshot tests of the cockpit screens (pytest-textual-snapshot).

Deterministic: a pinned clock and fixed data (fakes built from the real
fixtures, see test_app_fakes.py); the drill snapshots use a frozen drill
(tests/test_snapshots_drill.py). Update with ``--snapshot-update`` only after
looking at the report; each docstring says what a reviewer should see.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from test_app_fakes import (
    NOW,
    FakeSources,
    fast_config,
    log_lines,
    metrics_snapshot,
    unreachable,
)
from test_snapshots_drill import own_state_dir  # noqa: F401 (a fixture: fresh state dir, times in UTC)

from clay_cockpit.app import CockpitApp, make_app
from clay_cockpit.config import Config, config_from_toml, default_toml_text, parse_toml, state_dir
from clay_cockpit.signals import ErrorKind, SourceError
from clay_cockpit.widgets.logs import LogView

NARROW = (80, 24)
WIDE = (160, 48)


def clock() -> float:
    return NOW + 12


def cockpit(sources: FakeSources | None = None, config: Config | None = None) -> tuple[CockpitApp, FakeSources]:
    sources = sources or FakeSources()
    app = make_app(config or fast_config(), sources, clock=clock, title="clay-cockpit · snapshot", speed=float("inf"))
    fetch = sources.statuspage.fetch

    async def after_the_pods() -> object:
        """The status page answers only once the app holds the pods' answer
        (they come from a thread): the moments of the same second then reach
        the timeline in one order, not in the order the threads ran."""
        deadline = time.monotonic() + 5.0
        while app.signals.pods.value is None and app.signals.pods.error is None and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return await fetch()

    sources.statuspage.fetch = after_the_pods
    return app, sources


async def until(pilot, cond: Callable[[], object], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out preparing the snapshot"
        await pilot.pause(0.03)


def settled(app: CockpitApp, lines: int) -> Callable[[], bool]:
    def check() -> bool:
        s = app.signals
        ok = all(r.value is not None for r in (s.statuspage, s.health, s.metrics, s.pods))
        # every line in, and the pane scrolled to its end (it follows): the picture's scrollbar is then where it ends up
        return ok and any(v.line_count == lines and v.scroll_y >= v.max_scroll_y for v in app.screen.query(LogView))

    return check


def triage_settled(app: CockpitApp) -> bool:
    """Triage ran on the app's newest signals. (The clock is pinned, so a verdict's time
    alone cannot tell a triage of the last snapshot from one of the snapshot before: the
    stop-23 CI run drew the 160x48 picture before the desk had the log lines' snapshot.)"""
    desk = app._desk
    t = desk.triaged if desk is not None else None
    return t is not None and not desk.busy and t.pending is None and t.latest.at == app.clock() and desk.signals is app.signals


def loaded(app: CockpitApp, lines: int = 40):
    async def run_before(pilot) -> None:
        await until(pilot, settled(app, lines))
        await until(pilot, lambda: triage_settled(app))
        await pilot.pause(0.3)

    return run_before


@pytest.mark.parametrize("size", [NARROW, WIDE], ids=["80x24", "160x48"])
def test_main_screen_during_an_incident(snap_compare, size) -> None:
    """All five panes populated at once, nothing cut off:
    - Clay status: ◐ "Partially Degraded Service", Deposit operational, the
      "Market data is delayed" incident (investigating, 15m ago) with its update;
    - Health: ✗ down, HTTP 503, clay_api fail first (2318 errors), queue degraded;
    - Error rates: 401 high (36.8 req/s, bold error colour), 429, req, p95,
      sparklines anchored at zero (429 at 0.4 req/s draws low bars), subtitle
      "via primary" (no BACKUP marker);
    - Pods: the CrashLoop pod first (error colour), OOMKilled in the last-exit
      column, restarts coloured; short names at 80x24, full names at 160x48;
    - Pod logs: newest lines at the bottom, pod names coloured per pod, error
      lines in the error colour, warn lines in the warning colour, "following";
      at 160x48 each line starts with its time;
    - every title says "0s ago"; the footer shows 12345 Panes, d Decide,
      i Declare, n Update (once declared), ? Help, q Quit (c Checklist is
      on the help screen: with an incident the footer must still fit 80
      columns with q Quit in it);
    - the top bar ends in "no incident · i declares";
    - 80x24: under the top bar the two-line triage strip, "▶ Credentials:
      Clay answers 401 to 94% of calls — P1  confidence high" in the error
      colour and "→ 1 Verify the Clay API key in the Secret · 2 Update …";
    - 160x48: no strip; the decision column on the right: the triage pane
      (title "d Triage · P1", "Mixed evidence: Credentials + Infrastructure +
      Clay incident", the reasons with their numbers under each finding, "Do
      now" 1-5, "P1 Complete outage · respond < 15 min", what it can't see:
      no recent pod log lines… wait, there are 40: none), the checklist
      (401/403 items marked ▸, 429 ones dimmed) and the timeline ("No
      incident", the Clay incident, the OOMKilled and crashlooping pods seen
      so far).
    """
    app, sources = cockpit()
    sources.kube.emit(log_lines(40))
    assert snap_compare(app, terminal_size=size, run_before=loaded(app))


@pytest.mark.parametrize("size", [NARROW, WIDE], ids=["80x24", "160x48"])
def test_failures_keep_last_good_data_marked_stale(snap_compare, size) -> None:
    """Three sources fail 40 s after a first good answer; the fourth is fine:
    - Clay status: red frame, title "STALE 40s ago", subtitle "✗ unreachable",
      the message + hint on top and the last good page (dimmed) below it;
    - Error rates: the primary Prometheus is down, a backup serves: the title
      carries a reverse-video BACKUP marker before the age (so a narrow border
      keeps it), values current, not stale; 160x48: "3 Error rates · BACKUP ·
      0s ago", the line "⚠ primary unreachable → backup serving", subtitle
      "via backup 127.0.0.1:9091"; 80x24 (a 24-cell frame): the longest
      words that fit, none cut — "3 Metrics · BACKUP · 0s", "⚠ primary
      unreachable", subtitle "backup 127.0.0.1:9091";
    - Pods: never answered: "failing" and the auth_expired hint (kubectl login);
    - Pod logs: the follow failed: "STALE 40s ago", with the reason, lines still shown;
    - Health: normal, "0s ago" (one failing source never disturbs another pane).
    The logs pane has the focus: its frame is heavy (and red), so the focus
    shows on a failing pane. At 80x24 a STALE pane keeps its last good data
    under one error line ("✗ unreachable: connection refused b…", no hint:
    the focused pane shows it); the pods pane, with nothing to show, keeps
    its hint.
    """
    sources = FakeSources()
    sources.kube.pods = SourceError(
        "pods",
        ErrorKind.AUTH_EXPIRED,
        "the API server said 401 Unauthorized",
        "run `kubectl --context clay-drill get pods` to re-authenticate",
    )
    now = [NOW + 12]
    app = make_app(fast_config(), sources, clock=lambda: now[0], title="clay-cockpit · snapshot", speed=float("inf"))
    sources.kube.emit(log_lines(40))
    first_answer = sources.statuspage.fetch

    async def after_the_pods() -> object:
        """The status page answers once the pods' failure is in: the timeline lists the two in that order."""
        for _ in range(250):
            if app.signals.pods.error:
                break
            await asyncio.sleep(0.02)
        return await first_answer()

    sources.statuspage.fetch = after_the_pods  # type: ignore[method-assign]

    async def run_before(pilot) -> None:
        s = app.signals
        await until(pilot, lambda: app.signals.statuspage.ok and app.signals.metrics.ok and app.signals.pods.error)
        await until(pilot, lambda: any(v.line_count == 40 for v in app.screen.query(LogView)))
        # one failure at a time: the timeline lists them as they arrive, and
        # two sources refreshed together may answer in either order
        sources.statuspage.result = unreachable("statuspage", "status.clay.com:443")
        await pilot.press("r")
        await until(pilot, lambda: app.signals.statuspage.error)
        sources.kube.fail(SourceError("logs", ErrorKind.TIMEOUT, "no log data for 30s", "the API server may be overloaded"))
        await until(pilot, lambda: app.screen.query_one("#logs").has_class("-error"))
        now[0] = NOW + 52  # 40 s later (a stale mark says how old the data is): the backup answers
        sources.metrics.result = metrics_snapshot(NOW + 52, backup=True)
        await pilot.press("r")
        await until(pilot, lambda: app.signals.metrics.value.is_backup)
        assert s is not app.signals
        await until(pilot, lambda: triage_settled(app))
        app.main_screen.tick(now[0])  # the ages' timer (every 5 s in the app)
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_help_screen(snap_compare) -> None:
    """The ? help at 80x24: sections Panes (1-5, d, c, t), Incident (i a s u),
    Actions (m / p r ? q), In the checklist (1-4, space, esc), Choosing a
    severity or status (1-4, enter, esc), In the pod logs (end, home, w) and
    Everywhere (ctrl+p); each row shows the key, the description in bold and
    the tooltip; it scrolls (the first sections in sight; it ends with the
    log file and the incidents folder)."""
    app, sources = cockpit()
    sources.kube.emit(log_lines(40))

    async def run_before(pilot) -> None:
        await loaded(app)(pilot)
        await pilot.press("question_mark")
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=NARROW, run_before=run_before)


def test_log_filter_applied(snap_compare) -> None:
    """Logs filtered by "retry" (typed in any case): only the 429 lines with
    their rate-limit headers remain, "retry" highlighted in reverse video in
    each; the pane title says filter “retry” 10/40; the other panes unchanged."""
    app, sources = cockpit()
    sources.kube.emit(log_lines(40))

    async def run_before(pilot) -> None:
        await loaded(app)(pilot)
        await pilot.press("slash", *"retry", "enter")
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=NARROW, run_before=run_before)


def test_log_filter_input(snap_compare) -> None:
    """The filter input open at the bottom over the footer: a help line
    (Enter keeps · Esc cancels · empty shows all) and the input holding "401";
    the log pane behind it already shows only the 401 lines."""
    app, sources = cockpit()
    sources.kube.emit(log_lines(40))

    async def run_before(pilot) -> None:
        await loaded(app)(pilot)
        await pilot.press("slash", *"401")
        app.screen.query_one("Input").cursor_blink = False
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=NARROW, run_before=run_before)


def test_metrics_view(snap_compare) -> None:
    """The metrics view (m) at 160x48: four plotext line charts in two
    columns — Clay 401 (a step up to ~36 req/s at -5 min), Clay 429, Clay
    requests (a wave around 40), Clay p95 (a step down from 350 to 120 ms) —
    each titled with its current value; x axis in minutes ago; the head line
    says the data is 0s old and which Prometheus served it."""
    app, sources = cockpit()
    sources.kube.emit(log_lines(40))

    async def run_before(pilot) -> None:
        await loaded(app)(pilot)
        await pilot.press("m")
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=WIDE, run_before=run_before)


def prod_eu_config() -> Config:
    """The shipped config with a production environment, prod-eu (read-only, --env required), picked by --env."""
    data = parse_toml(default_toml_text(), "default.toml")
    for section in ("statuspage", "health", "metrics", "kube"):
        data[section]["refresh"] = 0.2
    data["env"] = {
        "staging": {"kube": {"namespace": "clay-sync-staging"}},
        "prod-eu": {"read_only": True, "require_explicit": True, "kube": {"context": "eu-prod-cluster-01", "namespace": "clay-sync-prod"}},
    }
    return config_from_toml(data, "default.toml (tests)", "prod-eu")


def test_the_top_bar_names_the_environment_at_80_columns(snap_compare) -> None:
    """`--env prod-eu` (issue 18) at 80x24: the top bar starts with " prod-eu "
    in reverse video in the error colour (a production environment: it
    requires --env), then " READ-ONLY " in the warning colour (the profile is
    read-only), then the shortest name of the target that fits
    ("eu-prod-cluster-01/clay-sync-prod" gives way first: the title is kept
    whole, or the title gives way to the target), never the environment. The
    panes below are those of test_main_screen_during_an_incident."""
    app, sources = cockpit(config=prod_eu_config())
    sources.kube.emit(log_lines(40))
    assert app.state_dir == state_dir() / "envs" / "prod-eu"  # its incidents are not another environment's

    async def run_before(pilot) -> None:
        await loaded(app)(pilot)
        bar = app.main_screen.context_bar
        assert bar is not None and str(bar.render()).startswith(" prod-eu   READ-ONLY ")

    assert snap_compare(app, terminal_size=NARROW, run_before=run_before)


def test_every_form_of_the_top_bar_starts_with_the_environment() -> None:
    """However narrow the bar, what it shows starts with the environment (then READ-ONLY): the shortening drops the target and the title, never it."""
    from clay_cockpit.widgets.context_bar import ContextBar

    bar = ContextBar("clay-cockpit", "eu-prod/clay-sync · app=clay-sync", read_only=True, shorter=("eu-prod/clay-sync",), env="prod-eu")
    shown = [str(content) for _, content in bar.variants()]
    assert len(shown) == 4 and all(s.startswith(" prod-eu   READ-ONLY  ") for s in shown), shown
    assert str(ContextBar("clay-cockpit", "x/y").variants()[0][1]) == "clay-cockpit  x/y"  # no environment: as before
