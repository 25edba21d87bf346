"""Fixtures for the end-to-end tests: real tmux, real sshd, real Prometheus.

- ``e2e_dir`` — a short temp dir of this test's own under /tmp (a tmux
  socket path must stay under ~100 bytes, pytest's tmp_path can be longer);
  removed afterwards.
- ``mark`` — a unique value put in the environment of every program the
  test starts (see :mod:`tests.e2e.procs`); whatever still carries it at
  teardown is killed, and only that.
- ``terminal`` — a factory of :class:`~tests.e2e.terminal.Terminal`: one tmux
  server per call, on its own socket; killed at teardown.
- ``sshd`` — one sshd per xdist worker on its own loopback port, with a
  throwaway host key and an authorized key made for it.
- ``prometheus`` — a factory: Debian's prometheus scraping a target every second.
- ``launch`` — starts ``clay-cockpit`` in a terminal, directly or through
  ``ssh -t``, with the mark, its own TMPDIR and XDG_STATE_HOME.

Every fixture that needs a program calls :mod:`tests.e2e.needs` first: skip
when it is missing, fail when CI=true.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from . import needs, procs
from .servers import Prometheus, SSHServer
from .terminal import Terminal

COCKPIT = Path(sys.executable).with_name("clay-cockpit")  # the venv's console script (absolute: sshd's PATH has no venv)


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture
def e2e_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=f"e2e-{_worker()}-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def mark() -> Iterator[str]:
    value = procs.new_mark()
    try:
        yield value
    finally:
        procs.kill_marked(value)


@pytest.fixture
def terminal(e2e_dir: Path) -> Iterator[Callable[..., Terminal]]:
    needs.binary("tmux")
    made: list[Terminal] = []

    def make(term: str = "tmux-256color") -> Terminal:
        root = e2e_dir / f"tmux{len(made)}"
        root.mkdir()
        made.append(Terminal(root, term=term))
        return made[-1]

    try:
        yield make
    finally:
        for term in made:
            term.kill()


@pytest.fixture(scope="session")
def sshd() -> Iterator[SSHServer]:
    needs.root()
    binary = needs.binary("sshd")
    needs.binary("ssh")
    needs.binary("ssh-keygen")
    root = Path(tempfile.mkdtemp(prefix=f"e2e-sshd-{_worker()}-", dir="/tmp"))
    server = SSHServer(root, "root", binary=binary)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def prometheus(e2e_dir: Path) -> Iterator[Callable[[str], Prometheus]]:
    binary = needs.binary("prometheus")
    started: list[Prometheus] = []

    def start(target: str) -> Prometheus:
        root = e2e_dir / f"prometheus{len(started)}"
        root.mkdir()
        server = Prometheus(root, target, binary=binary)
        started.append(server)
        server.start()
        server.wait_scraped()
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def launch(e2e_dir: Path, mark: str, request: pytest.FixtureRequest) -> Callable[..., None]:
    """``launch(term, args, via="local"|"ssh", no_color=False, width=, height=, extra_env=)``."""
    if not COCKPIT.is_file():
        pytest.fail(f"{COCKPIT} is missing: install the project into the venv (./dev/test does)")
    home = e2e_dir / "home"
    home.mkdir()

    def start(
        term: Terminal,
        args: Sequence[str],
        *,
        via: str = "local",
        no_color: bool = False,
        width: int = 80,
        height: int = 24,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        env = {procs.MARK_VAR: mark, "TMPDIR": str(home), "XDG_STATE_HOME": str(home / "state"), **(extra_env or {})}
        if no_color:
            env["NO_COLOR"] = "1"
        unset = () if no_color else ("NO_COLOR",)
        if via == "local":
            term.start([str(COCKPIT), *args], width=width, height=height, env=env, unset=unset)
            return
        server: SSHServer = request.getfixturevalue("sshd")
        remote = ["env", *(f"-u{name}" for name in unset), *(f"{k}={v}" for k, v in env.items()), str(COCKPIT), *args]
        # the ssh client carries the mark too: after it exits, what is left is the server side
        term.start(server.ssh_argv(shlex.join(remote)), width=width, height=height, env={procs.MARK_VAR: mark})

    return start
