"""`python -m clay_cockpit.sim` (what the demo starts) and `run_sim` (clay-cockpit sim), as processes."""

from __future__ import annotations

import base64
import json
import os
import queue
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from clay_cockpit.config import load_config
from clay_cockpit.sim import wiring

ROOT = Path(__file__).resolve().parent.parent
RUN_SIM = (
    "import argparse, sys\n"
    "from clay_cockpit.sim.server import add_sim_arguments, run_sim\n"
    "p = argparse.ArgumentParser(); add_sim_arguments(p)\n"
    "sys.exit(run_sim(p.parse_args(sys.argv[1:])))\n"
)


_READERS: dict[int, queue.Queue] = {}


def read_line(proc: subprocess.Popen, timeout: float = 20.0) -> str:
    """The next stdout line (a reader thread per process, so buffering never hides a line)."""
    if proc.pid not in _READERS:
        lines: queue.Queue = queue.Queue()
        _READERS[proc.pid] = lines
        threading.Thread(target=lambda: [lines.put(line) for line in iter(proc.stdout.readline, "")] and None, daemon=True).start()
    try:
        return _READERS[proc.pid].get(timeout=timeout)
    except queue.Empty:
        raise AssertionError(f"no output in time (exit code {proc.poll()})") from None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def bind() -> socket.socket:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(128)
    return s


@pytest.mark.slow
def test_listen_fds_handshake_and_sigterm(tmp_path: Path) -> None:
    socks = {name: bind() for name in wiring.SERVICES}
    ports = {name: s.getsockname()[1] for name, s in socks.items()}
    fds = ",".join(f"{n}={s.fileno()}" for n, s in socks.items())
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "clay_cockpit.sim",
            "--listen-fds",
            fds,
            "--scenario",
            "clay-outage",
            "--speed",
            "10",
            "--seed",
            "5",
            "--dir",
            str(tmp_path),
        ],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        pass_fds=[s.fileno() for s in socks.values()],
    )
    try:
        for s in socks.values():
            s.close()
        ready = json.loads(read_line(proc))
        assert ready["ready"] is True
        expected = {name: wiring.url(port) for name, port in ports.items()}
        for name in wiring.HTTPS_SERVICES:
            expected[name] = wiring.https(expected[name])
        assert ready["endpoints"] == expected, "serves on the inherited sockets"
        assert httpx.get(ready["endpoints"]["health"] + "/health", timeout=5).json()["status"] in ("ok", "degraded", "down")
        assert Path(ready["kubeconfig"]).stat().st_mode & 0o777 == 0o600
        load_config(ready["config"])  # a valid cockpit config
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        time.sleep(0.2)
        assert _READERS[proc.pid].empty(), "exactly one line on stdout"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_child_exits_when_its_parent_dies(tmp_path: Path) -> None:
    launcher = (
        "import subprocess, sys\n"
        "p = subprocess.Popen([sys.executable, '-m', 'clay_cockpit.sim', '--scenario', 'healthy', '--dir', sys.argv[1]],"
        " stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)\n"
        "p.stdout.readline()\n"
        "print(p.pid, flush=True)\n"  # then exit without stopping the child
    )
    out = subprocess.run([sys.executable, "-c", launcher, str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    pid = int(out.stdout.strip())
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(pid), "the simulator outlived its parent"


def test_bad_scenario_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\ntitle = "t"\nsummary = "s"\n[expect]\nbranch = "healthy"\nseverity = "none"\n[[faults]]\nkind = "meteor"\n')
    out = subprocess.run(
        [sys.executable, "-m", "clay_cockpit.sim", "--scenario", str(bad)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 2 and out.stdout == ""
    (line,) = out.stderr.strip().splitlines()
    assert f"{bad}: faults[0].kind: expected one of clay_outage" in line


@pytest.mark.slow
def test_run_sim_prints_how_to_join_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", RUN_SIM, "--scenario", "key-revoked", "--dir", str(tmp_path), "--seed", "3"],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        while not lines or lines[-1].strip() != "Ctrl-C stops the drill.":
            lines.append(read_line(proc))
        text = "".join(lines)
        kubeconfig, config = tmp_path / "kubeconfig", tmp_path / "cockpit.toml"
        assert f"kubectl --kubeconfig {kubeconfig} get pods" in text
        assert f"clay-cockpit --config {config}" in text
        for name in wiring.SERVICES:
            assert f"  {name} " in text
        cfg = load_config(config)
        assert cfg.kube.context == wiring.CONTEXT and cfg.kube.kubeconfig == str(kubeconfig)
        token = json.loads(kubeconfig.read_text())["users"][0]["user"]["token"]
        assert token not in text, "the token stays in the 0600 kubeconfig"
        cluster = json.loads(kubeconfig.read_text())["clusters"][0]["cluster"]
        assert cluster["server"].startswith("https://127.0.0.1:")
        trust = ssl.create_default_context(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
        pods = httpx.get(
            cluster["server"] + "/api/v1/namespaces/clay-sync/pods", headers={"Authorization": f"Bearer {token}"}, timeout=5, verify=trust
        )
        assert len(pods.json()["items"]) == 3
        if shutil.which("kubectl"):  # the printed line works as printed
            line = next(ln.strip() for ln in lines if ln.strip().startswith("kubectl --kubeconfig"))
            out = subprocess.run(
                line.split(), capture_output=True, text=True, timeout=30, env={**os.environ, "KUBECACHEDIR": str(tmp_path / "kubecache")}
            )
            assert out.returncode == 0, out.stderr
            assert out.stdout.count("clay-sync-") == 3 and "Running" in out.stdout
        env = dict(line.split("=", 1) for line in (tmp_path / "drill.env").read_text().splitlines())
        assert set(env) == {
            "CLAY_DRILL_SLACK_TOKEN",
            "CLAY_DRILL_STATUSPAGE_KEY",
            "CLAY_DRILL_PAGERDUTY_TOKEN",
            "CLAY_DRILL_PAGERDUTY_ROUTING_KEY",
            "CLAY_DRILL_GRAFANA_TOKEN",
        }
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_run_sim_bad_scenario_exit_2(capsys) -> None:
    import argparse

    from clay_cockpit.sim.server import add_sim_arguments, run_sim

    parser = argparse.ArgumentParser()
    add_sim_arguments(parser)
    assert run_sim(parser.parse_args(["--scenario", "no-such-drill"])) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "no-such-drill" in err


@pytest.mark.slow
def test_the_demo_child_names_its_scenario_before_it_serves(tmp_path: Path) -> None:
    """`--announce` (what the demo passes): the validated scenario's name and
    title come first, before the heavy imports, then the ready line."""
    from clay_cockpit.demo import start_drill

    drill = start_drill("key-revoked", speed=10, workdir=tmp_path)
    try:
        drill.wait_scenario(timeout=30)
        assert (drill.scenario, drill.title) == ("key-revoked", "Clay API key revoked (401)")
        assert drill.wait_ready(30)
        first, ready = (tmp_path / "sim.out").read_text().splitlines()[:2]
        assert json.loads(first) == {"scenario": "key-revoked", "title": "Clay API key revoked (401)"}
        assert json.loads(ready)["ready"] is True
        # when the fault starts, on the wall clock: 20 drill seconds at speed 10 after the drill's clock started
        at = drill.fault_at()
        assert at is not None and 0 < at - time.time() <= 2.0, at - time.time()
        assert drill.fault_at() == at == json.loads(ready)["fault_at"]
    finally:
        drill.stop()


@pytest.mark.slow
def test_the_ready_line_has_no_fault_time_without_a_fault(tmp_path: Path) -> None:
    from clay_cockpit.demo import start_drill

    drill = start_drill("healthy", workdir=tmp_path)
    try:
        assert drill.fault_at() is None and drill.ready_line() is None  # not serving yet: never blocks
        assert drill.wait_ready(30)
        assert drill.ready_line() is not None and drill.fault_at() is None
    finally:
        drill.stop()


@pytest.mark.slow
def test_sim_login_from_another_terminal(tmp_path: Path) -> None:
    """`clay-cockpit sim --login --dir DIR`, as a responder runs it while the drill runs: a new token in the kubeconfig."""
    proc = subprocess.Popen(
        [sys.executable, "-c", RUN_SIM, "--scenario", "kube-auth-expired", "--dir", str(tmp_path)],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        while "when the cluster credentials expire, log in again:" not in read_line(proc):
            pass
        assert read_line(proc).strip().endswith(f"sim --login --dir {tmp_path}"), "sim says how to log in again"
        kubeconfig = tmp_path / "kubeconfig"
        before = json.loads(kubeconfig.read_text())["users"][0]["user"]
        assert before["extensions"] == [{"name": "clay-cockpit", "extension": {"login": before["extensions"][0]["extension"]["login"]}}]
        assert f"sim --login --dir {tmp_path}" in before["extensions"][0]["extension"]["login"]
        where = json.loads((tmp_path / "drill.json").read_text())
        assert where["pid"] == proc.pid and where["scenario"] == "kube-auth-expired"
        login = subprocess.run(
            [sys.executable, "-c", RUN_SIM, "--login", "--dir", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=30
        )
        assert login.returncode == 0, login.stderr
        assert login.stdout.startswith("logged in to clay-drill again (drill kube-auth-expired): a new token is in " + str(kubeconfig))
        after = json.loads(kubeconfig.read_text())["users"][0]["user"]
        assert after["token"] != before["token"] and after["extensions"] == before["extensions"]
        assert kubeconfig.stat().st_mode & 0o777 == 0o600
        server = json.loads(kubeconfig.read_text())["clusters"][0]["cluster"]
        ca = ssl.create_default_context(cadata=base64.b64decode(server["certificate-authority-data"]).decode())
        pods = server["server"] + "/api/v1/namespaces/clay-sync/pods"
        assert httpx.get(pods, headers={"Authorization": f"Bearer {after['token']}"}, verify=ca, timeout=5).status_code == 200
        assert httpx.get(pods, headers={"Authorization": f"Bearer {before['token']}"}, verify=ca, timeout=5).status_code == 401
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(15)
    gone = subprocess.run(
        [sys.executable, "-c", RUN_SIM, "--login", "--dir", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert gone.returncode == 1 and "does not answer" in gone.stderr and len(gone.stderr.strip().splitlines()) == 1
    nowhere = subprocess.run(
        [sys.executable, "-c", RUN_SIM, "--login", "--dir", str(tmp_path / "nothing")], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert nowhere.returncode == 1 and "no drill in" in nowhere.stderr


def test_the_demo_reports_a_bad_scenario_and_a_child_that_died(tmp_path: Path) -> None:
    from clay_cockpit.config import ConfigError
    from clay_cockpit.demo import Drill, DrillFailed, start_drill

    drill = start_drill(str(tmp_path / "missing.toml"), workdir=tmp_path / "a")
    try:
        with pytest.raises(ConfigError, match=r"missing\.toml"):
            drill.wait_scenario(timeout=30)
    finally:
        drill.stop()
    workdir = tmp_path / "b"
    workdir.mkdir()
    (workdir / "sim.log").write_text("Traceback ...\nModuleNotFoundError: No module named 'aiohttp'\n")
    dead = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    dead.wait(30)
    drill = Drill("healthy", workdir, dead, {}, workdir / "kubeconfig")
    with pytest.raises(DrillFailed, match=r"exited \(code 3\): ModuleNotFoundError: No module named 'aiohttp'"):
        drill.wait_scenario(timeout=30)
