"""Which pods' logs are followed when there are more pods than streams.

The follow (:mod:`clay_cockpit.sources._kubelogs`) keeps at most
``MAX_STREAMS`` log streams open at once, like ``kubectl logs
--max-log-requests`` or stern, so it costs the same at 500 pods as at 20.
Which pods get one (:func:`choose`):

1. *favoured* pods, most troubled first (:func:`trouble`): a container
   waiting (CrashLoopBackOff, ImagePullBackOff, …), a pod pending or not
   ready, restarted in the last ``RECENT_RESTART`` seconds, started in the
   last ``RECENT_START`` seconds, or that wrote an error line in the last
   ``RECENT_ERROR`` seconds. They keep their stream while they stay so;
2. the other streams *take turns* among the rest: a pod keeps its stream for
   ``TURN`` seconds, then gives it to the pod that has waited longest (a pod
   never followed first).

A pod that waits for its turn loses no line: its next stream reaches back
to its last line (the follower's dedup state stays with the pod; see
``_Dedup.since_seconds``), and a pod's first stream, when it is not among
the first ones, reaches back to when the follow began (the first ones start
from ``log_tail`` lines as always). Only what the kubelet itself rotated
out meanwhile is beyond reach, as for ``kubectl logs --since-time``: a pod
waits at most ``(pods - MAX_STREAMS) / MAX_STREAMS × TURN`` seconds (about 4
minutes at 500 pods, 15 s at 50), and the kubelet keeps a container's log up
to its rotation size (``containerLogMaxSize``, 10 MiB by default: ~50,000
lines of 200 bytes). The drill keeps only 5,000 lines a pod: at 200 lines/s
a pod (10,000 lines/s across 50) that is 25 s, more than the 15 s wait.
The price is latency, not loss: an untroubled pod's line may reach the pane
up to that wait late (it is merged in time order within its batch, after
the newer lines already shown). A pod that restarts, crashloops or goes
unready is favoured from the next pod list on, and one that wrote an error
line during its turn keeps its stream for ``RECENT_ERROR`` seconds, so the
lines a responder needs first do not wait for a turn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clay_cockpit.signals import PodInfo

# log streams open at once: a thread each. The cockpit's budget is 40 threads at 500 pods, and
# the rest of it runs ~11 (measured: 27 in all with 16 streams), which leaves room for 20 and a
# few watches. More streams, shorter waits: at 50 pods a pod waits (50 - 20) / 20 × TURN = 15 s
MAX_STREAMS = 20  # the default of kube.log_streams
TURN = 10.0  # seconds an untroubled pod keeps its stream while others wait
RECENT_START = 120.0  # seconds a new pod counts as favoured
RECENT_RESTART = 600.0  # seconds a restarted container keeps its pod favoured
RECENT_ERROR = 120.0  # seconds an error line keeps its pod favoured

# the order of favour: the lower, the sooner followed
_RANK = {"waiting": 0, "pending": 1, "not ready": 1, "restarted": 2, "errors": 3, "new": 4}


@dataclass(frozen=True, slots=True)
class PodCondition:
    """What the pod list says about one pod, for choosing its turn."""

    name: str
    phase: str
    ready: bool = True
    waiting: str | None = None  # a container's waiting reason (CrashLoopBackOff, …)
    restarted_at: float | None = None  # epoch seconds a container last terminated (restarts > 0)
    started_at: float | None = None  # epoch seconds the pod started

    @property
    def finished(self) -> bool:
        return self.phase in ("Succeeded", "Failed")


def _epoch(value: Any) -> float | None:
    """An RFC 3339 time of the API (``2026-01-01T00:00:00Z``) → epoch seconds."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def condition(pod: dict[str, Any]) -> PodCondition:
    """One item of a pod list's JSON → its :class:`PodCondition`. (The raw
    JSON, not the client's ``V1Pod``: deserialising 500 pods into its models
    costs 0.14 s of CPU a list, ``json.loads`` 0.03 s.)"""
    name = str(_dict(pod.get("metadata")).get("name") or "")
    status = _dict(pod.get("status"))
    phase = str(status.get("phase") or "Unknown")
    if not status:
        return PodCondition(name, phase, ready=False)
    conditions = _list(status.get("conditions"))
    ready = any(_dict(c).get("type") == "Ready" and _dict(c).get("status") == "True" for c in conditions)
    waiting: str | None = None
    restarted: float | None = None
    for cs in map(_dict, _list(status.get("containerStatuses"))):
        state = _dict(cs.get("state"))
        if waiting is None and "waiting" in state:
            waiting = str(_dict(state["waiting"]).get("reason") or "Waiting")
        last = _dict(_dict(cs.get("lastState")).get("terminated"))
        restarts = cs.get("restartCount")
        if isinstance(restarts, int) and restarts > 0 and last:
            finished = _epoch(last.get("finishedAt"))
            if finished is not None and (restarted is None or finished > restarted):
                restarted = finished
    return PodCondition(name, phase, ready, waiting, restarted, _epoch(status.get("startTime")))


# kubectl STATUS words of a pod that is neither waiting nor troubled by them (the rest name a waiting or ended container)
_CALM = frozenset({"Running", "Pending", "Succeeded", "Failed", "Unknown", "Completed", "Terminating", "NotReady"})


def from_pod(pod: PodInfo) -> PodCondition:
    """A pod as the pods watch holds it (:class:`~clay_cockpit.signals.PodInfo`) → its
    :class:`PodCondition`: the follower reads the watch's cache instead of listing the pods
    again. ``waiting`` is kubectl's STATUS where it names a container's state (CrashLoopBackOff,
    ImagePullBackOff, Init:0/1, OOMKilled …); a pod counts as started when it was created."""
    waiting = None if pod.finished or pod.status in _CALM else pod.status
    restarted = pod.last_restart_at.timestamp() if pod.restarts > 0 and pod.last_restart_at is not None else None
    started = pod.created_at.timestamp() if pod.created_at is not None else None
    return PodCondition(pod.name, pod.phase, pod.is_ready, waiting, restarted, started)


def trouble(pod: PodCondition, now: float, error_age: float | None) -> str | None:
    """Why ``pod`` is followed first, or None. ``now`` is epoch seconds (the
    pod list's times are the server's wall clock); ``error_age`` is seconds
    since its newest error line (None: none seen)."""
    if pod.finished:
        return None
    if pod.waiting:
        return pod.waiting
    if pod.phase != "Running":
        return "pending" if pod.phase == "Pending" else pod.phase.lower()
    if not pod.ready:
        return "not ready"
    if pod.restarted_at is not None and now - pod.restarted_at < RECENT_RESTART:
        return "restarted"
    if error_age is not None and error_age < RECENT_ERROR:
        return "errors"
    if pod.started_at is not None and now - pod.started_at < RECENT_START:
        return "new"
    return None


def _rank(why: str) -> int:
    return _RANK.get(why, 0)  # a waiting reason (CrashLoopBackOff, …) or an odd phase: the most troubled


def choose(
    why: dict[str, str | None],
    streams: dict[str, float],
    turns: dict[str, float],
    cap: int,
    now: float,
) -> tuple[list[str], list[tuple[str, str]]]:
    """The pods to follow now, and the favoured ones among them with why.

    ``why``: every pod that may be followed → why it is favoured (None: it is
    not); ``streams``: the pods followed now → since when (monotonic);
    ``turns``: pod → when its last stream ended (monotonic; absent: never
    followed).
    """
    never = -math.inf

    def in_turn(pods: list[str]) -> list[str]:
        """Pods mid-turn (newest stream first), then those waiting (longest
        first), then those whose turn is over."""
        mid = sorted((p for p in pods if p in streams and now - streams[p] < TURN), key=lambda p: -streams[p])
        waiting = sorted((p for p in pods if p not in streams), key=lambda p: (turns.get(p, never), p))
        over = sorted((p for p in pods if p in streams and now - streams[p] >= TURN), key=lambda p: streams[p])
        return mid + waiting + over

    troubled: list[str] = []
    for rank in sorted({_rank(w) for w in why.values() if w}):  # more troubled pods than streams take turns too
        troubled += in_turn([p for p, w in why.items() if w and _rank(w) == rank])
    favoured = troubled[:cap]
    rest = in_turn([p for p, w in why.items() if not w])
    chosen = favoured + rest[: cap - len(favoured)]
    return chosen, [(p, why[p] or "") for p in favoured]
