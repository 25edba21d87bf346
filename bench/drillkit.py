"""The machinery of bench/drill: a cockpit in a tmux session of its own
(keys sent and counted, the screen read with ``capture-pane``) and the drill
behind it (its ready line, its clock, its Kubernetes API). What the bench
looks for and presses is in bench/drill's tables, not here.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
import ssl
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

SIZE = (80, 24)
POLL = 0.2  # seconds between screen reads


class Stuck(Exception):
    def __init__(self, step: str, what: str, waited: float, screen: list[str]) -> None:
        super().__init__(f"stuck at {step}: waited {waited:.0f} s for {what}")
        self.step, self.what, self.waited, self.screen = step, what, waited, screen


@dataclass
class Counts:
    keys: list[str] = field(default_factory=list)
    typed: list[str] = field(default_factory=list)
    pasted: list[int] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)  # commands run in "another terminal"

    def text(self) -> str:
        out = f"{len(self.keys)} key{'s' if len(self.keys) != 1 else ''}"
        if self.typed:
            out += f" + typed {'/'.join(self.typed)} ({sum(len(t) for t in self.typed)} chars)"
        if self.pasted:
            out += f" + {len(self.pasted)} paste ({'/'.join(str(n) for n in self.pasted)} chars)"
        if self.outside:
            out += f" + {len(self.outside)} command in another terminal"
        return out


class Screen:
    """A cockpit in a tmux session of its own, at 80x24."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], show: bool) -> None:
        self.name, self.show = name, show
        self.counts = Counts()
        self.notes: list[str] = []
        wrapped = "env " + " ".join(shlex.quote(f"{k}={v}") for k, v in env.items()) + " " + shlex.join(command)
        subprocess.run(
            ["tmux", "new-session", "-d", "-s", name, "-x", str(SIZE[0]), "-y", str(SIZE[1]), wrapped + "; sleep 600"], check=True
        )
        subprocess.run(["tmux", "set-option", "-t", name, "remain-on-exit", "on"], check=False, capture_output=True)

    def lines(self) -> list[str]:
        out = subprocess.run(["tmux", "capture-pane", "-p", "-t", self.name], capture_output=True, text=True)
        return out.stdout.splitlines()

    def text(self) -> str:
        return "\n".join(self.lines())

    def key(self, key: str, count: bool = True) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, key], check=True)
        if count:
            self.counts.keys.append(key)
        time.sleep(0.05)

    def type(self, text: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, "-l", text], check=True)
        self.counts.typed.append(text)
        time.sleep(0.05)

    def paste(self, text: str) -> None:
        """A bracketed paste, as a terminal sends a paste from the clipboard."""
        subprocess.run(["tmux", "set-buffer", "-b", f"{self.name}-paste", text], check=True)
        subprocess.run(["tmux", "paste-buffer", "-p", "-d", "-b", f"{self.name}-paste", "-t", self.name], check=True)
        self.counts.pasted.append(len(text))
        time.sleep(0.05)

    def wait(self, step: str, what: str, pattern: str | list[str], timeout: float, *, row: int | None = None) -> tuple[float, re.Match]:
        """Until a pattern shows (anywhere, or on one row); the time it did and the match."""
        patterns = [pattern] if isinstance(pattern, str) else pattern
        deadline = time.time() + timeout
        started = time.time()
        while True:
            lines = self.lines()
            hay = [lines[row]] if row is not None and row < len(lines) else lines
            for p in patterns:
                for line in hay:
                    m = re.search(p, line)
                    if m:
                        if self.show:
                            print(f"    [{step}] {what}: {line.strip()[:100]}", flush=True)
                        return time.time(), m
            if time.time() > deadline:
                raise Stuck(step, what, time.time() - started, lines)
            time.sleep(POLL)

    def has(self, pattern: str) -> re.Match | None:
        for line in self.lines():
            m = re.search(pattern, line)
            if m:
                return m
        return None

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], check=False, capture_output=True)


class DrillApi:
    """The drill behind the cockpit: its ready line, its clock, its Kubernetes API."""

    def __init__(self, tmp: Path, timeout: float = 30.0) -> None:
        deadline = time.time() + timeout
        while True:
            found = sorted(tmp.glob("clay-drill-*/sim.out"))
            ready = None
            for out in found:
                for line in out.read_text(encoding="utf-8", errors="replace").splitlines():
                    if '"ready": true' in line:
                        ready = json.loads(line)
                        self.workdir = out.parent
            if ready is not None:
                break
            if time.time() > deadline:
                raise Stuck("start", "the drill to serve (its ready line in TMPDIR/clay-drill-*/sim.out)", timeout, [])
            time.sleep(0.1)
        self.ready = ready
        self.control = ready["endpoints"]["control"]
        self.fault_at: float | None = ready.get("fault_at")
        self.kubeconfig = Path(ready["kubeconfig"])

    def state(self) -> dict:
        with urllib.request.urlopen(self.control + "/_sim/state", timeout=5) as r:
            return json.loads(r.read())

    def to_wall(self, sim_epoch: float) -> float:
        """A drill-clock instant on the wall clock."""
        wall = time.time()
        s = self.state()
        return wall + (sim_epoch - s["now"]) / s["speed"]

    def kube(self, path: str) -> dict:
        doc = json.loads(self.kubeconfig.read_text())  # read each time: a login rewrites it
        cluster, user = doc["clusters"][0]["cluster"], doc["users"][0]["user"]
        ctx = ssl.create_default_context(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
        req = urllib.request.Request(cluster["server"] + path, headers={"Authorization": f"Bearer {user['token']}"})
        try:
            with urllib.request.urlopen(req, timeout=5, context=ctx) as r:
                return json.loads(r.read())
        except OSError as e:  # (URLError too) the drill went away: say so where it happened, with the screen
            raise Stuck("the drill's Kubernetes API", f"{path} to answer ({e})", 0, []) from e

    def deployment(self) -> dict:
        return self.kube("/apis/apps/v1/namespaces/clay-sync/deployments/clay-sync")

    def rolled_out(self, after_generation: int) -> bool:
        """`kubectl rollout status`: the change observed, every replica updated and available, no old one left."""
        d = self.deployment()
        spec, st, meta = d["spec"], d.get("status", {}), d["metadata"]
        n = spec.get("replicas", 1)
        return (
            meta.get("generation", 0) > after_generation
            and st.get("observedGeneration", 0) >= meta.get("generation", 0)
            and st.get("updatedReplicas", 0) == n
            and st.get("replicas", 0) == n
            and st.get("availableReplicas", 0) == n
        )

    def cordoned(self, node: str) -> bool:
        """`kubectl get node`: SchedulingDisabled."""
        return bool(self.kube(f"/api/v1/nodes/{node}").get("spec", {}).get("unschedulable"))

    def first_ready(self, tag: str) -> float | None:
        """When the first pod of the image ``tag`` became Ready (its Ready condition's lastTransitionTime), on the wall clock."""
        pods = self.kube("/api/v1/namespaces/clay-sync/pods")["items"]
        times = []
        for p in pods:
            if not any(c.get("image", "").endswith(f":{tag}") for c in p.get("spec", {}).get("containers", [])):
                continue
            for cond in p.get("status", {}).get("conditions", []):
                if cond.get("type") == "Ready" and cond.get("status") == "True" and cond.get("lastTransitionTime"):
                    times.append(datetime.fromisoformat(cond["lastTransitionTime"].replace("Z", "+00:00")).timestamp())
        return self.to_wall(min(times)) if times else None

    def first_oom(self) -> float | None:
        pods = self.kube("/api/v1/namespaces/clay-sync/pods")["items"]
        times = []
        for p in pods:
            for cs in p.get("status", {}).get("containerStatuses", []):
                term = (cs.get("lastState") or {}).get("terminated") or {}
                if term.get("reason") == "OOMKilled" and term.get("finishedAt"):
                    times.append(datetime.fromisoformat(term["finishedAt"].replace("Z", "+00:00")).timestamp())
        return self.to_wall(min(times)) if times else None
