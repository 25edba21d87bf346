"""Kill the process while it appends: every event `append` acknowledged is on
disk, the file still reads, and a new writer carries on after a torn line.

A child process appends events of mixed sizes (up to the 8 KB cap) in a loop
and prints each seq after `append` returned. The test SIGKILLs it at a random
moment, several rounds on the same file. SIGKILL leaves the page cache intact,
so this shows the write path never acknowledges early and never corrupts what
is there; it cannot show power-loss durability (that is what the fsync is
for). A write cut in half — what a crash mid-`write` leaves — is injected
between some rounds, since a SIGKILL alone rarely lands inside one write.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from clay_cockpit.incident.timeline import read

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import random, sys
from clay_cockpit.incident.timeline import Timeline
t = Timeline(sys.argv[1], actor="writer@test")
rnd = random.Random(int(sys.argv[2]))
print("start", t.seq, flush=True)
while True:
    size = rnd.choice((0, 50, 800, 3000, 7000))
    ev = t.append("evidence_snapshot", "round %s" % sys.argv[2], {"pad": "x" * size, "size": size})
    sys.stdout.write("%d\n" % ev.seq)
    sys.stdout.flush()
"""


def run_and_kill(path: Path, round_no: int, rng: random.Random) -> tuple[int, list[int]]:
    """Start a writer, kill it at a random moment; (seq it started after, acknowledged seqs)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), str(round_no)],
        stdout=subprocess.PIPE,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    lines: list[bytes] = []
    first_ack = threading.Event()

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:  # until EOF: also what was still in the pipe when it died
            lines.append(line)
            if len(lines) >= 2:
                first_ack.set()
        first_ack.set()

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    assert first_ack.wait(30), "the writer never acknowledged an event"
    time.sleep(rng.uniform(0, 0.08))
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(10) == -signal.SIGKILL
    th.join(10)
    start = int(lines[0].split()[1])
    acked = [int(x) for x in lines[1:] if x.endswith(b"\n")]  # a half-printed number was not acknowledged
    return start, acked


def test_sigkill_while_appending_loses_no_acknowledged_event(tmp_path: Path) -> None:
    path = tmp_path / "incidents" / "INC-kill.jsonl"
    rng = random.Random(1234)
    acked_all: list[int] = []
    torn_tails = 0  # each becomes one unreadable line once the next writer starts after it
    for round_no in range(8):
        start, acked = run_and_kill(path, round_no, rng)
        assert acked, "killed before anything was acknowledged"
        assert acked == list(range(start + 1, start + 1 + len(acked)))  # continues after what is there
        acked_all += acked

        result = read(path)  # never raises, whatever the kill left
        on_disk = {e.seq: e for e in result.events}
        missing = [s for s in acked_all if s not in on_disk]
        assert not missing, f"acknowledged but not on disk: {missing}"
        for ev in result.events:  # every event that reads back is whole
            assert len(ev.data["pad"]) == ev.data["size"]
        assert sorted(on_disk) == list(range(1, max(on_disk) + 1))
        assert result.bad_lines == torn_tails  # nothing else is unreadable
        if result.torn is not None:  # a kill inside the write itself
            assert "torn" in result.torn

        if round_no % 2 == 1:  # a write cut in half, as a crash mid-write leaves it
            whole = path.read_bytes().rstrip(b"\n").rsplit(b"\n", 1)[-1]
            with open(path, "ab") as f:
                f.write(whole[: len(whole) // 2])
            torn = read(path)
            assert torn.torn is not None and len(torn.events) == len(result.events)
        if read(path).torn is not None:
            torn_tails += 1

    final = read(path)
    assert set(acked_all) <= {e.seq for e in final.events}
    assert len(acked_all) > 8
