"""`runbook check`'s drills (issue 18): a shipped scenario run headless, and
what the runbook in effect shows the responder for it.

For each scenario: a frozen drill (:func:`~clay_cockpit.sim.background.start_background`),
the cockpit's four sources over real HTTP and a background log follower (the
newest 300 lines, as the app keeps), triage every :data:`STEP` drill seconds
through its stability window (:class:`~clay_cockpit.triage.tree.Triage`), as
``tests/test_replay_drill.py`` records a drill. The watch starts one step
before the scenario's first fault (healthy there) and ends once the stable
branch and severity have held for :data:`SETTLE` drill seconds after the
last fault started (at most :data:`LONGEST` after it).

What it reports for the stable assessment at the end is what the cockpit
shows from the runbook: the branch's label, the severity's name and response
target, the recommended actions in the runbook's order with the next one
(:attr:`~clay_cockpit.triage.types.Assessment.next`, as triage's "do now" and
the actions desk pick it) and the checklist items that apply
(:func:`~clay_cockpit.runbook.item_applies`, as the checklist pane dims the
others).

The runbook's constants bind at import (``$CLAY_COCKPIT_RUNBOOK``), so one
process evaluates one runbook: ``runbook check`` starts this module as a child,
``python -P -m clay_cockpit.runbook_drill NAME …`` with the variable set, and
reads one JSON object per scenario, one a line, on its stdout (a scenario
whose drill cannot run is ``{"scenario": …, "error": …}``; the others go on).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import threading
import time
from collections import deque
from typing import Any

from clay_cockpit.config import config_from_toml
from clay_cockpit.runbook import BRANCH_LABEL, RUNBOOK, SEVERITIES, STEPS, Branch, item_applies, runbook_path
from clay_cockpit.signals import HealthSnapshot, LogLine, MetricsSnapshot, PodsSnapshot, Reading, Signals, SourceError, StatusPageSnapshot
from clay_cockpit.sim.background import SimError, start_background
from clay_cockpit.sim.scenario import Scenario, load_scenario
from clay_cockpit.sources import Sources
from clay_cockpit.triage.stable import Triaged
from clay_cockpit.triage.tree import Assessment, Triage, assess, refresh_intervals

FROZEN_AT = 1_767_225_600.0  # 2026-01-01T00:00:00Z: every drill at the same instant (the tests' too)
SEED = 7  # the same seeded drill in every run, for both runbooks
STEP = 5.0  # drill seconds between samples (tests/test_replay_drill.py's)
SETTLE = 20.0  # the stable branch and severity held this long: the watch ends
AFTER = 25.0  # … but not before this long after the last fault started (its effect shows)
LONGEST = 90.0  # … and at the latest this long after it
RECENT_LOGS = 300  # what the app keeps in Signals.recent_logs
START_TIMEOUT = 30.0  # seconds for a drill's services to listen
FETCH_TIMEOUT = 20.0  # seconds for the status page and health reads together (each source has its own timeouts; advancing the clock, 60 s)


def watch(name: str) -> dict[str, Any]:
    """Run scenario ``name`` headless and report the stable assessment at the end (JSON-ready)."""
    scenario = load_scenario(name)
    starts = [f.start for f in scenario.faults]
    begins = scenario.fault_start()  # (None: obstacles only)
    first = begins if begins is not None else min(starts, default=0.0)
    last = max(starts, default=0.0)
    with tempfile.TemporaryDirectory(prefix=f"clay-runbook-drill-{name}-") as workdir:
        return _watch(name, scenario, first, last, workdir)


def _watch(name: str, scenario: Scenario, first: float, last: float, workdir: str) -> dict[str, Any]:
    try:
        sim = start_background(scenario, seed=SEED, freeze_at=FROZEN_AT, workdir=workdir, timeout=START_TIMEOUT)
    except (OSError, TimeoutError, SimError) as err:
        return {"scenario": name, "error": f"the drill did not start: {err}"}
    stop = threading.Event()
    follower: threading.Thread | None = None
    try:
        os.environ.update(sim.env())  # the drill's tokens, as a cockpit joining it has them
        config = config_from_toml(sim.config_dict(), "drill.toml")
        sources = Sources(config)
        logs: deque[LogLine] = deque(maxlen=RECENT_LOGS)
        lock = threading.Lock()

        def on_batch(batch: tuple[LogLine, ...]) -> None:
            with lock:
                logs.extend(batch)

        follower = threading.Thread(target=sources.kube.follow_logs, args=(on_batch, lambda err: None, stop, 0.05), daemon=True)
        follower.start()
        triage = Triage(samples=2, seconds=STEP, calm_seconds=30.0)
        refresh = refresh_intervals(config)
        t = max(0.0, first - STEP)
        if t:
            sim.advance(t)
        held_since = t  # when the stable branch and severity last changed
        while True:
            now = FROZEN_AT + t
            time.sleep(0.15)  # let the follower deliver what the advance logged
            signals = _sample(sources, now, logs, lock)
            triaged = triage.update(assess(signals, config.thresholds, now, refresh=refresh))
            if triaged.change is not None:
                held_since = t
            settled = triaged.pending is None and triaged.branch != Branch.UNKNOWN and t - held_since >= SETTLE
            if t >= last + LONGEST or (t >= last + AFTER and settled):
                return report(name, scenario.title, [scenario.expect.branch, scenario.expect.severity], triaged, t, settled)
            t += STEP
            sim.advance(STEP)
    except (OSError, TimeoutError, SimError) as err:
        return {"scenario": name, "error": f"the drill stopped: {err}"}
    finally:
        stop.set()
        if follower is not None:
            follower.join(FETCH_TIMEOUT)  # it closes its streams before the drill goes away
        sim.stop()


def _sample(sources: Sources, now: float, logs: deque[LogLine], lock: threading.Lock) -> Signals:
    """Ask each of the four sources once, at the drill's ``now``."""

    async def both() -> tuple[StatusPageSnapshot | SourceError, HealthSnapshot | SourceError]:
        return await asyncio.wait_for(asyncio.gather(sources.statuspage.fetch(), sources.health.fetch()), FETCH_TIMEOUT)

    sp, health = asyncio.run(both())
    empty: tuple[Reading[StatusPageSnapshot], Reading[HealthSnapshot], Reading[MetricsSnapshot], Reading[PodsSnapshot]] = (
        Reading(),
        Reading(),
        Reading(),
        Reading(),
    )
    statuspage, healthy = empty[0].with_result(sp, now), empty[1].with_result(health, now)
    metrics, pods = empty[2].with_result(sources.metrics.fetch(), now), empty[3].with_result(sources.kube.list_pods(), now)
    with lock:
        return Signals(statuspage=statuspage, health=healthy, metrics=metrics, pods=pods, recent_logs=tuple(logs), at=now)


def report(name: str, title: str, expect: list[str], triaged: Triaged, watched: float, settled: bool) -> dict[str, Any]:
    """What the runbook in effect shows for the stable assessment: JSON-ready."""
    a: Assessment = triaged.assessment
    level = SEVERITIES[a.severity] if a.severity is not None else None
    nxt = a.next
    return {
        "scenario": name,
        "title": title,
        "expect": expect,
        "branch": a.branch.value,
        "label": BRANCH_LABEL[a.branch],
        "headline": a.headline,
        "severity": a.severity.value if a.severity is not None else None,
        "severity_name": level.name if level else "",
        "response": level.response if level else "",
        "confidence": a.confidence.value,
        "errors": sorted(e.value for e in a.errors),
        "actions": [{"id": x.id.value, "text": x.text, "key": x.key, "done": x.done, "outside": x.outside} for x in a.actions],
        "next": None if nxt is None else {"id": nxt.id.value, "text": nxt.text, "key": nxt.key},
        "items": [item.key for step in STEPS for item in step.items if item_applies(item, a.branches, a.errors)],
        "watched": watched,
        "settled": settled,
    }


def main(argv: list[str] | None = None) -> int:
    names = list(sys.argv[1:] if argv is None else argv)
    print(json.dumps({"runbook": runbook_path(), "source": RUNBOOK.source}), flush=True)
    for name in names:
        print(json.dumps(watch(name)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
