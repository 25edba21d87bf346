"""What a running process costs, read from /proc (Linux): CPU seconds, RSS,
threads. For the scale benches (bench/fleet, bench/flood), which sample the
cockpit — the demo's own process, not its drill child — while it works.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass, field

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (not its children), in seconds."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        raw = f.read().decode()
    fields = raw[raw.rindex(")") + 2 :].split()  # after "pid (comm) ": state is field 3
    return (int(fields[11]) + int(fields[12])) / TICKS


def status(pid: int) -> dict[str, int]:
    """VmRSS (KiB), VmHWM (KiB, the peak RSS) and Threads from /proc/pid/status."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "Threads"):
                out[key] = int(value.split()[0])
    return out


@dataclass
class Samples:
    """CPU share of one core over a window, and RSS/threads sampled within it."""

    cpu_share: float = 0.0  # seconds of CPU per second of wall time (1.0 = one core)
    rss_mib: list[float] = field(default_factory=list)
    threads: list[int] = field(default_factory=list)
    peak_rss_mib: float = 0.0  # VmHWM at the end: the most the process ever held

    def text(self) -> str:
        return (
            f"CPU {self.cpu_share * 100:5.1f}% of a core   RSS median {statistics.median(self.rss_mib):6.1f} MiB "
            f"(max {max(self.rss_mib):.1f}, peak ever {self.peak_rss_mib:.1f})   threads max {max(self.threads)}"
        )


class Sampler:
    """Call :meth:`sample` now and then between :meth:`start` and :meth:`stop`."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.out = Samples()
        self._cpu0 = 0.0
        self._t0 = 0.0

    def start(self) -> None:
        self._cpu0, self._t0 = cpu_seconds(self.pid), time.perf_counter()
        self.sample()

    def sample(self) -> None:
        s = status(self.pid)
        self.out.rss_mib.append(s["VmRSS"] / 1024)
        self.out.threads.append(s["Threads"])

    def stop(self) -> Samples:
        self.sample()
        self.out.cpu_share = (cpu_seconds(self.pid) - self._cpu0) / (time.perf_counter() - self._t0)
        self.out.peak_rss_mib = status(self.pid)["VmHWM"] / 1024
        return self.out


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1] if len(values) > 1 else values[0]
