"""Our service's log lines, as its logger writes them into a pod's container log.

Every line carries a sequence number per container instance: it starts at 1
when a container starts (the ``starting clay-sync`` line) and grows by 1 per
line that container writes. logfmt lines end with `` seq=<n>``; JSON lines
have a ``"seq": <n>`` field. The cluster keeps a bounded log per container
(:data:`clay_cockpit.sim.kube.pods.LOG_LINES` lines, current and previous
instance): a line rotated out is gone, as on a real kubelet, so what
``pods/log`` serves of one container is a run of consecutive numbers.

Formats (``[service] log_format`` / ``log_colour`` of the scenario):

* ``logfmt`` (default): ``level=info msg="clay call" method=POST … seq=7``;
  with colour the level word is wrapped in an SGR colour, as coloured
  console loggers do (logrus' colours: red error, yellow warn, cyan info):
  ``level=\\x1b[31merror\\x1b[0m msg=…``.
* ``json``: one compact JSON object per line, zap's production shape:
  ``{"level":"error","time":"…Z","msg":"clay call failed","status":503,…,"seq":7}``;
  with colour the level value carries the SGR, JSON-escaped, as zap's
  colour level encoder writes it inside JSON (``"level":"\\u001b[31merror\\u001b[0m"``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from clay_cockpit.sim.scenario import LOG_FORMATS

if TYPE_CHECKING:
    from clay_cockpit.sim.kube.api import KubeCluster

Value = str | int | float | bool
Fields = Sequence[tuple[str, Value]]
COLOURS = {"error": "31", "warn": "33", "info": "36", "debug": "37"}  # logrus' level colours


def _logfmt_value(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if not isinstance(value, str):
        return str(value)
    if value and not any(c in value for c in ' "=\\') and value.isprintable():
        return value
    return json.dumps(value, ensure_ascii=False)


def render(fmt: str, colour: bool, level: str, msg: str, fields: Fields, at: float, seq: int) -> str:
    """One line as our service's logger writes it (see the module's doc)."""
    word = f"\x1b[{COLOURS.get(level, '0')}m{level}\x1b[0m" if colour else level
    if fmt == "json":
        ms = int(at * 1000) % 1000
        obj: dict[str, Value] = {
            "level": word,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{ms:03d}Z",
            "msg": msg,
        }
        obj.update(fields)
        obj["seq"] = seq
        return json.dumps(obj, separators=(",", ":"))
    parts = [f"level={word}", f"msg={json.dumps(msg, ensure_ascii=False)}"]
    parts += [f"{k}={_logfmt_value(v)}" for k, v in fields]
    parts.append(f"seq={seq}")
    return " ".join(parts)


class PodLog:
    """Writes lines into the drill cluster's pod logs, numbering them per
    container instance."""

    def __init__(self, kube: KubeCluster, *, fmt: str = "logfmt", colour: bool = False) -> None:
        if fmt not in LOG_FORMATS:
            raise ValueError(f"log format {fmt!r}: expected one of {', '.join(LOG_FORMATS)}")
        self.kube = kube
        self.fmt, self.colour = fmt, colour
        self._seq: dict[str, tuple[int, int]] = {}  # pod → (container instance, last seq written)
        self.written = 0  # lines appended since the drill began (bench/flood reads it)

    def write(self, pod: str, level: str, msg: str, fields: Fields, at: float) -> bool:
        """Append one line to ``pod``'s current container log; False if the pod is gone."""
        p = self.kube.ctl.pods.get((self.kube.namespace, pod))
        if p is None:
            self._seq.pop(pod, None)
            return False
        instance, last = self._seq.get(pod, (-1, 0))
        seq = last + 1 if instance == p.instance else 1
        self._seq[pod] = (p.instance, seq)
        p.append_log(render(self.fmt, self.colour, level, msg, fields, at, seq), at)
        self.written += 1
        return True

    def forget(self, live: set[str]) -> None:
        """Drop the counters of pods not in ``live`` (bounded by the pods that exist)."""
        for gone in set(self._seq) - live:
            if self.kube.ctl.pods.get((self.kube.namespace, gone)) is None:
                del self._seq[gone]
