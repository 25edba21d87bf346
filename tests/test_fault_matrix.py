"""Every polled source behind the fault proxy (tests/faultproxy.py) in front
of the drill: each source × {refused, hang, slow, 401, 403, 429 +
Retry-After, 500, HTML, truncated, 50 MB, invalid UTF-8, wrong shape,
stalled stream, hostile text} ends, within its timeout and a margin, in a
named state with a hint (or, for hostile text, a reading whose strings carry
no control or bidi character) — never an exception, never a read without a
bound. In-process over real HTTP with the sources' real clients (httpx,
prometheus-api-client, the official kubernetes client)."""

from __future__ import annotations

import asyncio
import json
import time
import unicodedata
from dataclasses import fields, is_dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from faultproxy import HUGE, FaultProxy, refused_url

from clay_cockpit.config import config_from_toml
from clay_cockpit.signals import ErrorKind, SourceError
from clay_cockpit.sources.health import Health
from clay_cockpit.sources.kube import Kube
from clay_cockpit.sources.metrics import Metrics
from clay_cockpit.sources.statuspage import StatusPage

pytestmark = pytest.mark.xdist_group("fault_matrix")

TIMEOUT = 1.0
MARGIN = 6.0  # seconds past the timeout a source may take to give up (retries, a second request)
SOURCES = ("statuspage", "health", "metrics", "kube")

# what each mode must end in (a set: the kinds a careful client may reasonably name it)
EXPECTED: dict[str, set[ErrorKind] | None] = {
    "refused": {ErrorKind.UNREACHABLE},
    "hang": {ErrorKind.TIMEOUT},
    "slow": {ErrorKind.TIMEOUT},
    "401": {ErrorKind.AUTH_EXPIRED},
    "403": {ErrorKind.FORBIDDEN},
    "429": {ErrorKind.RATE_LIMITED},
    "500": {ErrorKind.SERVER_ERROR},
    "html": {ErrorKind.BAD_RESPONSE},
    "truncated": {ErrorKind.BAD_RESPONSE, ErrorKind.UNREACHABLE},
    "huge": {ErrorKind.BAD_RESPONSE},
    "invalid_utf8": {ErrorKind.BAD_RESPONSE},
    "wrong_shape": {ErrorKind.BAD_RESPONSE},
    "stalled": {ErrorKind.TIMEOUT},
    "hostile": None,  # a reading
}
BAD_CHARS = (
    {chr(c) for c in range(0x20) if chr(c) not in "\n\t"}
    | {"\x7f"}
    | {chr(c) for c in range(0x80, 0xA0)}
    | {"\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"}
)


@pytest.fixture(scope="module")
def drill(tmp_path_factory):
    from conftest import _start

    handle = _start("key-revoked", tmp_path=tmp_path_factory.mktemp("fault-drill"))
    handle.advance(90)  # the fault has started: every pane has something to say
    try:
        yield handle
    finally:
        handle.stop()


def _config(drill):
    return config_from_toml(drill.config_dict(), "drill.toml")


def _upstream(drill, name: str) -> tuple[str, Any]:
    if name == "kube":
        return drill.endpoints["kube"], drill.kube_ssl()
    if name == "metrics":
        return drill.endpoints["prometheus"], True
    return drill.endpoints[name], True


def _kubeconfig(drill, url: str, tmp_path: Path) -> str:
    doc = json.loads(Path(drill.kubeconfig).read_text(encoding="utf-8"))
    for cluster in doc["clusters"]:
        cluster["cluster"] = {"server": url}  # plain HTTP to the proxy, which speaks TLS to the drill
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return str(path)


def _via(url: str, configured: str) -> str:
    """``configured`` (the drill's URL for the source, with its path) with the host and port of ``url``."""
    parts = urlsplit(configured)
    return urlunsplit(parts._replace(scheme="http", netloc=urlsplit(url).netloc))


def ask(drill, name: str, url: str, tmp_path: Path) -> Any:
    config = _config(drill)
    if name in ("statuspage", "health"):
        url = _via(url, getattr(config, name).url)
    if name == "statuspage":
        return asyncio.run(StatusPage(replace(config.statuspage, url=url, timeout=TIMEOUT, alternative_url="")).fetch())
    if name == "health":
        return asyncio.run(Health(replace(config.health, url=url, timeout=TIMEOUT)).fetch())
    if name == "metrics":
        return Metrics(replace(config.metrics, url=url, backup_urls=(), timeout=TIMEOUT)).fetch()
    return Kube(replace(config.kube, kubeconfig=_kubeconfig(drill, url, tmp_path), timeout=TIMEOUT)).list_pods()


def strings(value: Any, depth: int = 0) -> list[str]:
    """Every string inside a reading (dataclasses, tuples, dicts)."""
    if depth > 8:
        return []
    if isinstance(value, str):
        return [value]
    if is_dataclass(value) and not isinstance(value, type):
        return [s for f in fields(value) for s in strings(getattr(value, f.name), depth + 1)]
    if isinstance(value, dict):
        return [s for kv in value.items() for x in kv for s in strings(x, depth + 1)]
    if isinstance(value, (list, tuple)):
        return [s for x in value for s in strings(x, depth + 1)]
    return []


@pytest.mark.parametrize("mode", list(EXPECTED))
@pytest.mark.parametrize("name", SOURCES)
def test_each_source_under_each_fault(drill, name: str, mode: str, tmp_path: Path) -> None:
    upstream, verify = _upstream(drill, name)
    proxy = None if mode == "refused" else FaultProxy(upstream, mode, verify=verify, lifetime=60.0)
    url = refused_url() if proxy is None else proxy.url
    started = time.monotonic()
    try:
        got = ask(drill, name, url, tmp_path)
    finally:
        if proxy is not None:
            proxy.close()
    took = time.monotonic() - started
    assert took < TIMEOUT + MARGIN, f"{name} under {mode} took {took:.1f} s"
    expected = EXPECTED[mode]
    if expected is None:  # hostile text: read, and nothing that could drive a terminal survives
        assert not isinstance(got, SourceError), got.line()
        found = [s for s in strings(got) if BAD_CHARS & set(s) or any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in s)]
        assert not found, f"{name}: control or bidi characters kept: {found[:3]!r}"
        return
    assert isinstance(got, SourceError), f"{name} under {mode} gave a reading: {got!r}"[:300]
    assert got.kind in expected, f"{name} under {mode}: {got.kind.value}: {got.message}"
    assert got.message.strip() and got.hint.strip(), got
    if mode == "429":
        assert got.retry_after == 7.0, got
    if mode == "huge":
        assert proxy is not None and proxy.sent_bytes < HUGE // 4, f"{name} read {proxy.sent_bytes} bytes of a 50 MB answer"


# ---------------------------------------------------------------- the cockpit itself, every source faulted at once

APP_MODES = ("hang", "stalled", "slow", "huge", "500", "html", "invalid_utf8", "hostile")
APP_TIMEOUT = 8.0  # long enough that a UI thread waiting on a hung source could not answer a key in time


@pytest.mark.asyncio
async def test_the_cockpit_keeps_answering_keys_under_every_fault(drill, tmp_path: Path, monkeypatch) -> None:
    """All four polled sources (and the log follow) behind fault proxies
    switched through the worst modes together: after each switch the keys
    1-5 still move the focus at once (the UI thread never waits on a
    source), the app never crashes, and with hostile text no pane shows a
    control or bidi character or loses a bracket to markup."""
    from textual.content import Content
    from textual.widgets import Static

    from clay_cockpit.app import make_app
    from clay_cockpit.sources import Sources

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    data = drill.config_dict()
    proxies = {name: FaultProxy(_upstream(drill, name)[0], "pass", verify=_upstream(drill, name)[1], lifetime=120.0) for name in SOURCES}
    try:
        for name in ("statuspage", "health"):
            data[name]["url"] = _via(proxies[name].url, data[name]["url"])
        data["metrics"]["url"], data["metrics"]["backup_urls"] = proxies["metrics"].url, []
        data["kube"]["kubeconfig"] = _kubeconfig(drill, proxies["kube"].url, tmp_path)
        for section in SOURCES:
            data[section]["refresh"], data[section]["timeout"] = 0.3, APP_TIMEOUT
        config = config_from_toml(data, "fault matrix")
        now = float(drill.state()["now"])
        app = make_app(config, Sources(config), clock=lambda: now, title="fault matrix")
        async with app.run_test(size=(80, 24)) as pilot:
            for mode in APP_MODES:
                for proxy in proxies.values():
                    proxy.mode = mode
                await pilot.pause(2.5)  # a few polls under the fault
                for key, pane in zip("12345", ("statuspage", "health", "metrics", "pods", "logs")):
                    started = time.monotonic()
                    await pilot.press(key)
                    await pilot.pause(0.05)
                    focused = app.focused
                    assert focused is not None and any(a.id == pane for a in focused.ancestors_with_self), (mode, key, focused)
                    waited = time.monotonic() - started
                    assert waited < APP_TIMEOUT * 0.75, f"key {key} under {mode} waited {waited:.1f} s: the UI thread waits on a source"
                assert app.return_code is None and app._exception is None, (mode, app._exception)
            deadline = time.monotonic() + 3 * APP_TIMEOUT
            while not any("[FILTERED]" in str(getattr(s, "content", "")) for s in app.screen.query(Static)):
                assert time.monotonic() < deadline, "the hostile text reached no pane"
                await pilot.pause(0.2)
            texts = [s.content.plain if isinstance(s.content, Content) else str(s.content) for s in app.screen.query(Static)]
            shown = "\n".join(texts)
            assert "[FILTERED]" in shown or "[/]" in shown, "the hostile text reached no pane"
            bad = [t for t in texts if BAD_CHARS & set(t)]
            found = [(hex(ord(c)), t[max(0, i - 30) : i + 30]) for t in bad for i, c in enumerate(t) if c in BAD_CHARS]
            assert not bad, found[:5]  # which character, and where (a long text's repr is cut by pytest)
            await pilot.press("q")
    finally:
        for proxy in proxies.values():
            proxy.close()
