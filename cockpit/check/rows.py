"""One row of `clay-cockpit check`: what was checked, how it went, what it
enables, and what to do about it.

Every checker (``check_kube``, ``check_services``) returns a list of
:class:`Row`; ``check`` prints them as a table or, with ``--json``, as a list
of objects with the same fields. ``detail`` and ``hint`` are texts for a
human; they never carry a credential (they pass the redactor where one is
installed).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any


class Status(str, Enum):
    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Row:
    name: str  # what was checked: "kube auth", "kube patch deployments", "slack channel", "metrics backup[0]" …
    status: Status
    detail: str  # what was seen, one line
    enables: str = ""  # what the cockpit can do because of it ("R restarts the pods")
    hint: str = ""  # what to do when it is not ok ("" when ok)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["status"] = self.status.value
        return out


def ok(name: str, detail: str, enables: str = "") -> Row:
    return Row(name, Status.OK, detail, enables)


def warn(name: str, detail: str, hint: str, enables: str = "") -> Row:
    return Row(name, Status.WARN, detail, enables, hint)


def fail(name: str, detail: str, hint: str, enables: str = "") -> Row:
    return Row(name, Status.FAIL, detail, enables, hint)
