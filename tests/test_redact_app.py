"""Issue 11, end to end: no credential the process holds ever shows.

The drill's services echo the credentials each request carried
(``echo_auth``, docs/drill-contract.md: as misconfigured gateways do — raw,
bare, repr-quoted with a newline, base64, inside JSON, in a URL's query),
the kube token comes from a ``tokenFile`` ending in a newline, our health
endpoint and Prometheus get bearer tokens of their own. Then:

- ``test_every_source_error_path_fuzzed``: hypothesis picks a service, the
  failure (each status, or a malformed 200), the echoed forms and padding
  (so a credential straddles where a client cuts a long message); each
  source's error (SourceError, Failure, SlackError, the probe's result), its
  ``repr``, and every log record the call wrote are searched;
- ``test_no_credential_reaches_any_output``: the cockpit, driven by keys,
  polls every failing source, verifies the key (``v``) against an echoing
  Clay and then a failing cluster, drafts and fails to send a Slack and a
  status page update, sends one, writes the postmortem — and no credential
  is on any screen, in any notification, in the timeline, the incident's
  drafts, the postmortem, the messages the drill received, or the
  ``--log-level debug`` log file.

"Appears" means any form the redactor knows (``contains_known``) and also
any 12-character piece of a raw value or its base64: a credential cut in
half by a length limit is still a leak.
"""

from __future__ import annotations

import asyncio
import base64
import html
import io
import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clay_cockpit import redact
from clay_cockpit.actions.types import SecretValue
from clay_cockpit.app import CockpitApp, make_app
from clay_cockpit.config import Config, config_from_toml
from clay_cockpit.sim.control import ECHO_FORMS
from clay_cockpit.sources import Sources, clay_probe
from clay_cockpit.sources.kube_admin import AdminError, KubeAdmin
from clay_cockpit.sources.slack import Slack
from clay_cockpit.sources.statusapi import StatusApi

SIZE = (100, 32)
WINDOW = 12  # a piece of a credential this long is a leak
HEALTH_ENV, PROM_ENV = "CLAY_LEAK_HEALTH_TOKEN", "CLAY_LEAK_PROMETHEUS_TOKEN"
HEALTH_TOKEN = "hlth-" + "Qz7" * 8
PROM_TOKEN = "prom-" + "Wk4" * 8
NEW_KEY = "clay_live_" + "9fe1" * 8
STATUSES = (401, 403, 429, 500, 503)


# -- what the process holds, and where it must not be ------------------------------------------


class Credentials:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = {label: v.strip() for label, v in values.items()}
        self.pieces: dict[str, str] = {}
        for label, value in self.values.items():
            for form in (value, base64.b64encode(value.encode()).decode()):
                for i in range(len(form) - WINDOW + 1):
                    self.pieces.setdefault(form[i : i + WINDOW], label)
        self._pieces = re.compile("|".join(re.escape(p) for p in sorted(self.pieces, key=len, reverse=True)))

    def leaks(self, text: str) -> list[str]:
        """What of which credential ``text`` shows (labels and where, never the value)."""
        found = []
        if redact.contains_known(text):
            found.append("a registered form")
        for m in self._pieces.finditer(text):
            found.append(f"a piece of the {self.pieces[m.group(0)]} at {m.start()}")
        return found

    def check(self, where: str, text: str) -> None:
        leaks = self.leaks(text)
        if leaks:
            m = self._pieces.search(text)
            at = m.start() if m else 0
            context = self._pieces.sub("[piece]", redact.redact(text[max(0, at - 80) : at + 80]))
            raise AssertionError(f"credential in {where}: {', '.join(leaks[:5])} (around, redacted: {context!r})")


def drill_credentials(sim, kube_token: str) -> Credentials:
    env = sim.env()
    return Credentials(
        {
            "kube token": kube_token,
            "slack token": env["CLAY_DRILL_SLACK_TOKEN"],
            "status page key": env["CLAY_DRILL_STATUSPAGE_KEY"],
            "health token": HEALTH_TOKEN,
            "prometheus token": PROM_TOKEN,
            "clay api key": secret_in_the_drill(sim),
            "new clay api key": NEW_KEY,
        }
    )


def secret_in_the_drill(sim) -> str:
    from clay_cockpit.sim.world import SECRET, SECRET_KEY

    return sim._drill.world.kube.secret_value(SECRET, SECRET_KEY)


def token_file_kubeconfig(sim, tmp_path: Path) -> Path:
    """The drill's kubeconfig with the token in a ``tokenFile`` that ends in a newline (as ``echo`` writes it)."""
    token_file = tmp_path / "kube-token"
    token_file.write_text(sim.token + "\n", encoding="utf-8")
    doc = json.loads(Path(sim.kubeconfig).read_text(encoding="utf-8"))
    doc["users"][0]["user"] = {"tokenFile": str(token_file)}
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def leak_config(sim, kubeconfig: Path, refresh: float = 0.3) -> Config:
    data = sim.config_dict()
    for section in ("statuspage", "health", "metrics", "kube"):
        data[section]["refresh"] = refresh
    data["health"]["token_env"] = HEALTH_ENV
    data["metrics"]["token_env"] = PROM_ENV
    data["kube"]["kubeconfig"] = str(kubeconfig)
    data["thresholds"] = {"stale_intervals": 1000.0}
    return config_from_toml(data, f"drill config ({sim.scenario.name})")


def environment(sim) -> dict[str, str]:
    return {**sim.env(), HEALTH_ENV: HEALTH_TOKEN, PROM_ENV: PROM_TOKEN}


@contextmanager
def log_capture() -> Iterator[io.StringIO]:
    """Every record (ours at debug, the libraries' too) through the redacting filter, as the log file gets it."""
    stream = io.StringIO()
    handler = redact.install_log_filter(logging.StreamHandler(stream))
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old)


# -- 1. every source's error path, fuzzed --------------------------------------------------------


@pytest.fixture(scope="module")
def echo_drill(tmp_path_factory):
    from conftest import FROZEN_AT

    from clay_cockpit.sim.background import start_background

    tmp = tmp_path_factory.mktemp("leak-drill")
    handle = start_background("key-revoked", seed=7, freeze_at=FROZEN_AT, workdir=tmp)
    try:
        handle.advance(60)
        yield handle, tmp
    finally:
        handle.stop()


def _calls(config: Config, env: dict[str, str]) -> dict[str, Callable[[], object]]:
    """service → a call that makes the cockpit talk to it once, returning what came back."""
    sources = Sources(config)
    admin = KubeAdmin(config.kube)
    slack = Slack(config.slack, environ=env)
    statusapi = StatusApi(config.external_status, environ=env)
    return {
        "statuspage": lambda: asyncio.run(sources.statuspage.fetch()),
        "health": lambda: asyncio.run(sources.health.fetch()),
        "prometheus": sources.metrics.fetch,
        "kube": sources.kube.list_pods,
        "kube_admin": lambda: _raised(lambda: admin.secret_key(config.kube.secret.name, config.kube.secret.key)),
        "clay": lambda: clay_probe.probe_key(config.clay, SecretValue(NEW_KEY), timeout=3.0),
        "slack": lambda: slack.post("leak drill"),
        "statusapi": lambda: statusapi.create_incident(name="Leak drill", status="investigating", body="leak drill"),
    }


def _raised(call: Callable[[], object]) -> object:
    try:
        return call()
    except AdminError as err:
        return err.failure


def _texts(got: object) -> str:
    """Everything a result or error could show: str, repr, and its fields."""
    parts = [str(got), repr(got)]
    for name in ("message", "hint", "detail", "text", "summary"):
        value = getattr(got, name, None)
        if isinstance(value, str):
            parts.append(value)
    line = getattr(got, "line", None)
    if callable(line):
        parts.append(str(line()))
    return "\n".join(parts)


SERVICES = ("statuspage", "health", "prometheus", "kube", "kube_admin", "clay", "slack", "statusapi")
# Slack's and the status page API's 429 are retried after Retry-After (5 s, twice): left out to keep the suite fast;
# their 5xx answers carry the same echoing body through the same code
FAILURES = [(svc, status) for svc in SERVICES for status in (*STATUSES, None) if not (status == 429 and svc in ("slack", "statusapi"))]
TARGETS = {"kube_admin": ("kube",), "prometheus": ("prometheus", "prometheus_backup")}  # the backup too: no failover to a clean answer


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    failure=st.sampled_from(FAILURES),
    forms=st.lists(st.sampled_from(ECHO_FORMS), min_size=1, max_size=4),
    pad=st.integers(min_value=0, max_value=220),
)
def test_every_source_error_path_fuzzed(echo_drill, monkeypatch, failure: tuple[str, int | None], forms: list[str], pad: int) -> None:
    service, status = failure
    sim, tmp = echo_drill
    env = environment(sim)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = leak_config(sim, token_file_kubeconfig(sim, tmp))
    creds = drill_credentials(sim, sim.token)
    calls = _calls(config, env)
    targets = TARGETS.get(service, (service,))
    fault = {"echo_auth": forms, "echo_pad": pad, **({"status": status} if status else {"malformed": True})}
    for target in targets:
        sim.fault(target, **fault)
    try:
        with log_capture() as log:
            got = calls[service]()
    finally:
        for target in targets:
            sim.clear_fault(target)
    creds.check(f"{service} {fault} result", _texts(got))
    creds.check(f"{service} {fault} log", log.getvalue())


@pytest.mark.parametrize("form", ECHO_FORMS)
def test_the_search_sees_every_echoed_form_and_a_cut_piece(echo_drill, form: str) -> None:
    """Not vacuous: what the drill echoes, in each form, is found — and so is a piece of it, as a length limit leaves it."""
    import httpx

    sim, _ = echo_drill
    creds = drill_credentials(sim, sim.token)
    sim.fault("health", status=401, echo_auth=[form])
    try:
        body = httpx.get(sim.endpoints["health"] + "/health", headers={"Authorization": f"Bearer {HEALTH_TOKEN}"}, timeout=3).text
    finally:
        sim.clear_fault("health")
    assert "upstream saw" in body and creds.leaks(body), body
    assert creds.leaks("…" + HEALTH_TOKEN[:WINDOW] + "…") and creds.leaks(base64.b64encode(PROM_TOKEN.encode()).decode()[3:20])


# -- 2. the cockpit, end to end ---------------------------------------------------------------------


def screen_text(app: CockpitApp) -> str:
    """What the terminal shows (the app's own screenshot, as text)."""
    return html.unescape(re.sub(r"<[^>]+>", "", app.export_screenshot())).replace("\xa0", " ")


def widget_text(app: CockpitApp) -> str:
    """Every widget's text on every screen, scrolled out of view or not: Statics, titles, tables, logs, editors."""
    from textual.content import Content
    from textual.widgets import DataTable, Static, TextArea

    from clay_cockpit.widgets.logs import LogView

    parts: list[str] = []
    for screen in app.screen_stack:
        for widget in screen.walk_children():
            parts += [str(widget.border_title or ""), str(widget.border_subtitle or "")]
            if isinstance(widget, Static):
                content = widget.content
                parts.append(content.plain if isinstance(content, Content) else str(content))
            elif isinstance(widget, DataTable):
                parts += [" ".join(str(c) for c in widget.get_row_at(i)) for i in range(widget.row_count)]
            elif isinstance(widget, TextArea):
                parts.append(widget.text)
            elif isinstance(widget, LogView):
                parts += [line.text for line in widget.shown_lines()]
    return "\n".join(parts)


async def until(pilot, cond: Callable[[], object], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


@contextmanager
def debug_log_file() -> Iterator[Path]:
    """``cli.log_to_file("debug")`` as ``--log-level debug`` sets it up; the test's own logging restored after."""
    from clay_cockpit.cli import log_to_file

    root = logging.getLogger()
    saved = (root.handlers[:], root.level, {n: logging.getLogger(n).level for n in ("clay_cockpit",)})
    path = log_to_file("debug")
    assert path is not None
    try:
        yield path
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for name, level in saved[2].items():
            logging.getLogger(name).setLevel(level)


ECHOING = {"statuspage": 503, "rootly": 503, "health": 401, "prometheus": 500, "prometheus_backup": 403, "kube": 403}


@pytest.mark.asyncio
@pytest.mark.scenario("key-revoked")
async def test_no_credential_reaches_any_output(sim, tmp_path, monkeypatch) -> None:
    from clay_cockpit.comms.core import Channel
    from clay_cockpit.screens.compose import ComposeScreen

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    for name, value in environment(sim).items():
        monkeypatch.setenv(name, value)
    sim.advance(60)
    config = leak_config(sim, token_file_kubeconfig(sim, tmp_path))
    creds = drill_credentials(sim, sim.token)
    seen: list[tuple[str, str]] = []  # (where, text): everything searched at the end

    def look(where: str) -> None:
        seen.append((f"screen {where}", screen_text(app)))
        seen.append((f"widgets {where}", widget_text(app)))

    with debug_log_file() as log_file:
        now = float(sim.state()["now"])
        sources = Sources(config)
        sources.kube.list_pods()  # the kubeconfig read once, before the app's threads
        app = make_app(config, sources, clock=lambda: now, title="leak drill", state_dir=tmp_path / "incidents", speed=float("inf"))
        notes: list[str] = []
        notify = app.notify

        def recording(message: str, **kwargs) -> None:
            notes.append(f"{kwargs.get('title', '')}: {message}")
            notify(message, **kwargs)

        app.notify = recording  # type: ignore[method-assign]
        async with app.run_test(size=SIZE) as pilot:
            s = lambda: app.signals  # noqa: E731
            await until(pilot, lambda: all(r.ok for r in (s().statuspage, s().health, s().metrics, s().pods)), what="every source")
            await until(
                pilot,
                lambda: app._actions is not None and app._actions.status.checked and not app._actions._status_busy,
                what="the actions' status",
            )
            await pilot.press("i")
            await until(pilot, lambda: app.desk.recorder.open is not None and not app.desk.busy, what="the incident")

            # v: the key in the Secret (read through the tokenFile's token) sent to a Clay that echoes it back
            sim.fault("clay", status=401, echo_auth=True, echo_pad=37)
            await pilot.press("v")
            await until(pilot, lambda: not app._actions.busy, what="the verification")
            await pilot.pause(0.2)
            look("after v against an echoing Clay")
            assert any(r["service"] == "clay" for r in sim.requests("clay")), "the key went to Clay"

            # every source fails, its server echoing the credentials it was sent; v again, now the cluster refuses
            for service, status in ECHOING.items():
                sim.fault(service, status=status, echo_auth=True, echo_pad=len(service) * 9)
            await pilot.press("r")
            await until(
                pilot,
                lambda: all(r.error is not None for r in (s().statuspage, s().health, s().metrics, s().pods)),
                what="every source failing: " + repr([(n, getattr(s(), n).error) for n in ("statuspage", "health", "metrics", "pods")]),
            )
            await pilot.pause(0.3)
            look("with every source failing")
            await pilot.press("v")
            await until(pilot, lambda: not app._actions.busy, what="the verification against a refusing cluster")
            await pilot.pause(0.2)
            look("after v against a refusing cluster")

            # the Slack update: drafted from the failing evidence; a failed send; sent
            sim.fault("slack", status=500, echo_auth=True, echo_pad=120)
            await pilot.press("n")
            await until(pilot, lambda: isinstance(app.screen, ComposeScreen), what="the editor")
            await pilot.press("ctrl+s")
            # Slack's 500 (fatal_error) may come after the message was stored: "may have been sent", looked up on the retry
            await until(pilot, lambda: "May have been sent" in widget_text(app), what="the failed send")
            look("after a failed Slack send")
            sim.clear_fault("slack")
            await pilot.press("ctrl+s")
            await until(pilot, lambda: sim.state()["slack_messages"] >= 2, what="the thread in the drill's Slack")
            await until(pilot, lambda: not isinstance(app.screen, ComposeScreen), what="back from the editor")

            # the status page update: a failed send, then sent
            sim.fault("statusapi", status=503, echo_auth=True, echo_pad=3)
            await pilot.press("e")
            await until(pilot, lambda: isinstance(app.screen, ComposeScreen), what="the status page editor")
            await pilot.press("ctrl+s")
            await until(pilot, lambda: "Not sent" in widget_text(app), what="the failed status page send")
            look("after a failed status page send")
            assert app._comms.comms.unsent(Channel.EXTERNAL) is not None, "the draft is kept"
            sim.clear_fault("statusapi")
            await pilot.press("ctrl+s")
            await until(pilot, lambda: sim.state()["statusapi_incidents"] == 1, what="the status page incident")
            await until(pilot, lambda: not isinstance(app.screen, ComposeScreen), what="back from the editor")

            # the postmortem
            await pilot.press("P")
            await until(pilot, lambda: any(n.startswith("Postmortem written") for n in notes), what="the postmortem")
            look("at the end")
            timeline = app.desk.timeline_path()
            actions_said = "\n".join(_texts(x) for x in (app._actions.last, app._actions.problem) if x is not None)
            signal_errors = "\n".join(_texts(r.error) for r in (s().statuspage, s().health, s().metrics, s().pods) if r.error)
        log_text = log_file.read_text(encoding="utf-8")

    seen.append(("notifications", "\n".join(notes)))
    seen.append(("the actions' last result and problem", actions_said))
    seen.append(("the sources' errors", signal_errors))
    seen.append(("the log file", log_text))
    seen.append(("the timeline", timeline.read_text(encoding="utf-8")))
    for path in sorted((tmp_path / "incidents").rglob("*")):  # the incident, its drafts and sent messages, the postmortem
        if path.is_file():
            seen.append((str(path.relative_to(tmp_path)), path.read_text(encoding="utf-8", errors="replace")))
    seen.append(("the messages in the drill's Slack", repr(sim._drill.slack.channels)))
    seen.append(("the incidents on the drill's status page", json.dumps(sim._drill.statusapi.incidents, default=str)))
    for where, text in seen:
        creds.check(where, text)
    assert {"kube token", "slack token", "status page API key", "health token", "prometheus token", "clay api key"} <= redact.known_labels()

    # it all happened: the sources failed with the echoed bodies, the sends went out, the files exist
    assert signal_errors.count("upstream saw: Authorization: Bearer [redacted]") >= 2, "the echoing bodies reached the panes' errors"
    assert "upstream saw" in actions_said and "Key refused" in "\n".join(notes), "both verifications ran"
    assert any("not sent" in n for n in notes) and any(n.startswith("Internal update sent") for n in notes)
    postmortems = list((tmp_path / "incidents").rglob("postmortems/*.md"))
    assert postmortems, "no postmortem"
    assert "DEBUG" in log_text and "[redacted]" in log_text, "the debug log has the redacted failures"
