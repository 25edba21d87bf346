"""Real servers for the end-to-end tests: Debian's prometheus and sshd,
each on a loopback port of its own with throwaway config and state in the
test's temp dir.

Ports: a free loopback port is picked by binding port 0; another xdist
worker could take it before the server binds it, so a server that fails to
listen is started again on a new port (a few times).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

PROMETHEUS = "/usr/bin/prometheus"
SSHD = "/usr/sbin/sshd"
START_TRIES = 3
HTTP_TIMEOUT = 3.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, limit: int = 3000) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return "(no log)"
    return data[-limit:].decode("utf-8", "replace")


def _stop(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)


# --------------------------------------------------------------------------
# Prometheus


class Prometheus:
    """``/usr/bin/prometheus`` scraping one target's ``/metrics`` every second."""

    def __init__(self, root: Path, target: str, *, binary: str = PROMETHEUS) -> None:
        self.root = root
        self.binary = binary
        self.target = target  # host:port of the /metrics exposition
        self.config = root / "prometheus.yml"
        self.storage = root / "tsdb"
        self.log = root / "prometheus.log"
        self.port = 0
        self.proc: subprocess.Popen | None = None
        # JSON is YAML: no YAML writer needed
        self.config.write_text(
            json.dumps(
                {
                    "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
                    "scrape_configs": [{"job_name": "clay-drill", "metrics_path": "/metrics", "static_configs": [{"targets": [target]}]}],
                },
                indent=2,
            )
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        for _ in range(START_TRIES):
            self.port = free_port()
            with self.log.open("ab") as log:
                self.proc = subprocess.Popen(
                    [
                        self.binary,
                        f"--config.file={self.config}",
                        f"--storage.tsdb.path={self.storage}",
                        f"--web.listen-address=127.0.0.1:{self.port}",
                        "--storage.tsdb.retention.time=1h",
                        "--log.level=info",
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    cwd=self.root,
                )
            if self._wait_ready(timeout):
                return
            _stop(self.proc)
            if b"address already in use" not in self.log.read_bytes():
                break
        raise RuntimeError(f"prometheus did not become ready on 127.0.0.1:{self.port}; its log:\n{_tail(self.log)}")

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=HTTP_TIMEOUT) as resp:
                    if resp.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        return False

    def query(self, promql: str) -> list[dict]:
        """An instant query's result vector."""
        url = self.url + "/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as resp:
            body = json.loads(resp.read())
        if body.get("status") != "success":
            raise RuntimeError(f"prometheus answered {body}")
        return body["data"]["result"]

    def wait_scraped(self, timeout: float = 20.0, samples: int = 2) -> None:
        """Until the target is up and ``samples`` scrapes of it are stored."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                up = self.query('up{job="clay-drill"}')
                count = self.query('count_over_time(up{job="clay-drill"}[1m])')
                last = (up, count)
                if up and up[0]["value"][1] == "1" and count and float(count[0]["value"][1]) >= samples:
                    return
            except (urllib.error.URLError, OSError, RuntimeError) as err:
                last = err
            time.sleep(0.3)
        raise RuntimeError(f"prometheus has not scraped {self.target} {samples} times: {last}\n{_tail(self.log)}")

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


# --------------------------------------------------------------------------
# sshd


class SSHServer:
    """``sshd -D -e`` on a loopback port: a throwaway host key, one
    authorized key made for the test, public-key login only."""

    def __init__(self, root: Path, user: str, *, binary: str = SSHD) -> None:
        self.root = root
        self.binary = binary
        self.user = user
        self.host_key = root / "ssh_host_ed25519_key"
        self.client_key = root / "id_ed25519"
        self.authorized = root / "authorized_keys"
        self.config = root / "sshd_config"
        self.log = root / "sshd.log"
        self.port = 0
        self.proc: subprocess.Popen | None = None
        for key in (self.host_key, self.client_key):
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "clay-cockpit-e2e", "-f", str(key)],
                check=True,
                capture_output=True,
                timeout=30,
            )
        self.authorized.write_text(Path(str(self.client_key) + ".pub").read_text())
        os.chmod(self.authorized, 0o600)

    def _write_config(self) -> None:
        self.config.write_text(
            "\n".join(
                [
                    "ListenAddress 127.0.0.1",
                    f"Port {self.port}",
                    f"HostKey {self.host_key}",
                    f"PidFile {self.root / 'sshd.pid'}",
                    f"AuthorizedKeysFile {self.authorized}",
                    f"AllowUsers {self.user}",
                    "PermitRootLogin prohibit-password",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "StrictModes no",  # the temp dir's parents are world-writable (/tmp)
                    "PermitTTY yes",
                    "X11Forwarding no",
                    "AllowTcpForwarding no",
                    "PrintMotd no",
                    "PrintLastLog no",
                    "LogLevel INFO",
                    "",
                ]
            )
        )

    def start(self, timeout: float = 15.0) -> None:
        run_dir = Path("/run/sshd")  # sshd's privilege separation directory must exist
        if not run_dir.exists():
            run_dir.mkdir(mode=0o755, parents=True)
        for _ in range(START_TRIES):
            self.port = free_port()
            self._write_config()
            check = subprocess.run([self.binary, "-t", "-f", str(self.config)], capture_output=True, text=True, timeout=30)
            if check.returncode != 0:
                raise RuntimeError(f"sshd -t rejected the test config: {check.stderr.strip()}")
            with self.log.open("ab") as log:
                self.proc = subprocess.Popen(
                    [self.binary, "-D", "-e", "-f", str(self.config)], stdin=subprocess.DEVNULL, stdout=log, stderr=log
                )
            if self._wait_listening(timeout):
                return
            _stop(self.proc)
        raise RuntimeError(f"sshd did not listen on 127.0.0.1:{self.port}; its log:\n{_tail(self.log)}")

    def _wait_listening(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=HTTP_TIMEOUT) as sock:
                    sock.settimeout(HTTP_TIMEOUT)
                    if sock.recv(64).startswith(b"SSH-"):
                        return True
            except OSError:
                pass
            time.sleep(0.1)
        return False

    def ssh_argv(self, *remote: str, tty: bool = True) -> list[str]:
        """The ssh client command line for running ``remote`` (a shell command line) there."""
        return [
            "ssh",
            *(["-t"] if tty else []),
            "-p",
            str(self.port),
            "-i",
            str(self.client_key),
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "LogLevel=ERROR",
            "-o",
            "ConnectTimeout=5",
            "-o",
            "IdentitiesOnly=yes",
            f"{self.user}@127.0.0.1",
            *remote,
        ]

    def tail_log(self) -> str:
        return _tail(self.log)

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)
