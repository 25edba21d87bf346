"""Hostile text from every source, in a real terminal (issue 12).

A loopback server of this test's own answers as the status page, the health
endpoint, Prometheus and the Kubernetes API (pods and their logs), every
text in its answers hostile: markup (``[/]``, ``[@click=app.quit]Q[/]``,
``[FILTERED]``), OSC 8 links, an OSC 0 title, an OSC 52 clipboard write,
CSI 2J, U+009B (the 8-bit CSI) and bidi overrides. ``clay-cockpit`` runs in
tmux against it through the real clients; the test reads the bytes it wrote
(tmux ``pipe-pane``) and the screen:

- it keeps running and shows the brackets literally;
- not one byte of the payloads (the link's URL, the title, the clipboard
  text), no C1 control and no bidi control reached the terminal, and no
  CSI 2J either (Textual never clears that way: it would be the hostile one).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import tomli_w

from clay_cockpit.config import default_toml_text, parse_toml

pytestmark = pytest.mark.slow

ESC = "\x1b"
BRACKETS = ("[/]", "[@click=app.quit]Q[/]", "[FILTERED]")
HOSTILE = (
    " ".join(BRACKETS) + f" {ESC}]8;;http://evil.example/{ESC}\\link{ESC}]8;;{ESC}\\{ESC}]0;PWNED-TITLE\x07"
    f"{ESC}]52;c;UFdORUQtQ0xJUA==\x07{ESC}[2J\x9b2J\u202eevil\u202c\u2066iso\u2069 end"
)
PAYLOADS = (b"evil.example", b"PWNED-TITLE", b"UFdORUQ")
UNSAFE_DECODED = re.compile("[\x80-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
T0 = "2026-01-01T00:00:00Z"


def _summary() -> dict:
    return {
        "page": {"id": "p", "name": HOSTILE, "url": "http://status.invalid"},
        "status": {"indicator": "major", "description": HOSTILE},
        "components": [{"id": "c1", "name": HOSTILE, "status": "major_outage", "group_id": None}],
        "incidents": [
            {
                "id": "i1",
                "name": HOSTILE,
                "status": "investigating",
                "impact": "major",
                "created_at": T0,
                "updated_at": T0,
                "shortlink": "http://stspg.invalid/x",
                "incident_updates": [{"body": HOSTILE, "status": "investigating", "created_at": T0}],
            }
        ],
        "scheduled_maintenances": [],
    }


def _health() -> dict:
    return {
        "status": "down",
        "version": HOSTILE,
        "checks": {HOSTILE: {"status": "fail", "detail": HOSTILE}, "database": {"status": "ok", "detail": HOSTILE}},
    }


def _prometheus(path: str) -> dict:
    metric = {"code": HOSTILE}
    if path.endswith("query_range"):
        result: list = [{"metric": metric, "values": [[1767225600 + 15 * i, "3"] for i in range(8)]}]
        return {"status": "success", "data": {"resultType": "matrix", "result": result}}
    return {"status": "success", "data": {"resultType": "vector", "result": [{"metric": metric, "value": [1767225720, "3"]}]}}


POD = "clay-sync-7d9f8c6b5-x2x9k"  # names valid (the client's log listing checks them); hostile pod names: test_sanitise_app


def _pods() -> dict:
    def pod(name: str) -> dict:
        return {
            "metadata": {
                "name": name,
                "namespace": "clay-sync",
                "creationTimestamp": T0,
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": HOSTILE, "uid": "u1", "controller": True}],
            },
            "spec": {"nodeName": HOSTILE, "containers": [{"name": "clay-sync"}]},
            "status": {
                "phase": "Running",
                "containerStatuses": [
                    {
                        "name": "clay-sync",
                        "image": "clay-sync:1",
                        "imageID": "clay-sync@sha256:0",
                        "ready": False,
                        "restartCount": 3,
                        "state": {"waiting": {"reason": HOSTILE, "message": HOSTILE}},
                        "lastState": {"terminated": {"reason": HOSTILE, "exitCode": 137}},
                    }
                ],
            },
        }

    return {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": [pod(POD), pod(POD[:-5] + "q8f2m")]}


class Hostile(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path.endswith("summary.json"):
            doc: object = _summary()
        elif path == "/health":
            doc = _health()
        elif path.startswith("/api/v1/query"):
            doc = _prometheus(path)
        elif path.endswith("/log"):
            lines = "".join(f"2026-01-01T00:00:0{i}.000000000Z level=error msg={HOSTILE}\n" for i in range(5))
            return self._send(200, lines.encode(), "text/plain")
        elif path == "/api/v1/namespaces/clay-sync/pods":
            doc = _pods()
        else:  # anything else: a Kubernetes Status with a hostile message
            doc = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": HOSTILE, "reason": "NotFound", "code": 404}
            return self._send(404, json.dumps(doc).encode())
        self._send(200, json.dumps(doc).encode())

    do_POST = do_GET


@pytest.fixture
def hostile_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def write_config(root: Path, url: str) -> Path:
    kubeconfig = root / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "hostile",
                "clusters": [{"name": "hostile", "cluster": {"server": url}}],
                "users": [{"name": "u", "user": {"token": "not-a-real-token-for-the-test"}}],
                "contexts": [{"name": "hostile", "context": {"cluster": "hostile", "user": "u", "namespace": "clay-sync"}}],
            }
        )
    )
    data = parse_toml(default_toml_text(), "default.toml")
    data["statuspage"].update(url=url, provider="statuspage", refresh=1.0)
    data["health"].update(url=f"{url}/health", refresh=1.0)
    data["metrics"].update(url=url, refresh=1.0)
    data["kube"].update(kubeconfig=str(kubeconfig), context="hostile", refresh=1.0)
    path = root / "hostile.toml"
    path.write_bytes(tomli_w.dumps(data).encode())
    return path


def test_hostile_text_never_reaches_the_terminal(terminal, launch, e2e_dir, hostile_server) -> None:
    config = write_config(e2e_dir, hostile_server)
    term = terminal()
    launch(term, ["--config", str(config)], width=160, height=48)
    screen = term.wait(
        lambda s: (
            None
            if all(b in s.text for b in ("[FILTERED]", "[@click=app.quit]Q[/]")) and "level=error" in s.text
            else "waiting for the hostile text on screen"
        ),
        40.0,
        "every source's hostile text shown",
    )
    term.send("3")  # focus a pane and let a few more polls repaint
    screen = term.wait(lambda s: None if "[/]" in s.text else "no [/]", 10.0, "the brackets")
    assert term.exit_status() is None, term.describe("the cockpit exited", screen)
    raw = term.raw_output()
    assert raw, "nothing captured"
    for payload in PAYLOADS:
        assert payload not in raw, f"{payload!r} reached the terminal"
    assert b"\x1b[2J" not in raw and b"\x1b]8;" not in raw and b"\x1b]52;" not in raw and b"\x1b]0;" not in raw
    bad = UNSAFE_DECODED.search(raw.decode("utf-8", "replace"))
    assert bad is None, f"{bad.group()!r} reached the terminal"
