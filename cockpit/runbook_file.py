"""The runbook file: its vocabulary (severities, branches, error classes,
actions), the types it is read into, and the loader that reads and checks it.

``config/runbook.toml`` is the Clay runbook as the cockpit runs it;
:mod:`clay_cockpit.runbook` builds its constants from it at import. A bad
file raises :class:`~clay_cockpit.paths.ConfigError`, one line naming the
file, the key, what was expected and what was found (docs/runbook-file.md).

The names here (the enums) are the cockpit's: what its triage can decide and
what its keys can do. A file words them, orders them and adds items, notes
and links; it cannot add a branch, an error class or an action.

Standard library only, no I/O but the reading of the file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from clay_cockpit.config_build import _check_kind, _describe, parse_toml, read_text_file
from clay_cockpit.paths import ConfigError


class Severity(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"


@dataclass(frozen=True)
class SeverityLevel:
    severity: Severity
    name: str  # "Complete outage"
    response: str  # "< 15 min", as the runbook says it
    response_seconds: float | None  # None: next business day (see incident.response_deadline)
    examples: str


class Branch(StrEnum):
    """Where the decision tree lands (step 2 of the runbook)."""

    CLAY_INCIDENT = "clay_incident"  # Clay errors and a Clay incident → wait, enable fallback
    CREDENTIALS = "credentials"  # Clay errors, no Clay incident → our credentials / config / usage
    INFRASTRUCTURE = "infrastructure"  # no Clay errors, our service unhealthy → our infrastructure
    MONITORING_GAP = "monitoring_gap"  # we cannot see enough, no user impact visible (P4)
    HEALTHY = "healthy"  # all well
    UNKNOWN = "unknown"  # not enough evidence to choose


class ErrorClass(StrEnum):
    """The Clay error families of step 3."""

    AUTH = "auth"  # 401 / 403
    RATE_LIMIT = "rate_limit"  # 429
    SERVER = "server"  # 500 / 502 / 503 / 504, timeouts

    @classmethod
    def of(cls, code: int) -> ErrorClass | None:
        if code in (401, 403):
            return cls.AUTH
        if code == 429:
            return cls.RATE_LIMIT
        if 500 <= code <= 599:
            return cls.SERVER
        return None


class ActionId(StrEnum):
    """The runbook's immediate actions; issue 4 binds each to a remediation."""

    VERIFY_KEY = "verify_key"  # 401/403: verify the API key in the Secret
    UPDATE_KEY = "update_key"  # 401/403: update it if rotated
    RESTART = "restart"  # 401/403 after a key update; crashloops
    READ_RATE_LIMITS = "read_rate_limits"  # 429: read the rate-limit headers
    ENABLE_QUEUING = "enable_queuing"  # 429
    ENABLE_FALLBACK = "enable_fallback"  # 500/503 and Clay incidents: graceful degradation
    WATCH_CLAY_STATUS = "watch_clay_status"  # keep watching Clay's status page
    INVESTIGATE_INFRA = "investigate_infra"  # our pods, nodes, resources
    SCALE = "scale"
    # what the evidence about our own pods points to (infrastructure branch)
    READ_POD_LOGS = "read_pod_logs"  # a pod crashes for another reason: its last log lines say why
    ROLLBACK = "rollback"  # a leak or a crash since the last change: roll it back (rollout undo, key U)
    RAISE_MEMORY_LIMIT = "raise_memory_limit"  # the limit is too small for the load (outside the cockpit)
    CHECK_DEPLOYMENT = "check_deployment"  # no pods: the deployment, its replicas and its selector
    ESCALATE_NODE = "escalate_node"  # a node in trouble under our pods: cordon it, or the cluster's operators (outside the cockpit)


#: The signals the cockpit ticks a checklist item on itself (``Item.auto``).
AUTO_SIGNALS = ("statuspage", "health", "metrics", "logs")


@dataclass(frozen=True)
class Item:
    """One checklist item. ``branches``/``errors`` empty: applies always."""

    key: str
    text: str
    branches: frozenset[Branch] = frozenset()
    errors: frozenset[ErrorClass] = frozenset()
    auto: str = ""  # what the cockpit verifies itself ("statuspage", "health", "metrics", "logs"), "" if manual
    action: ActionId | None = None


@dataclass(frozen=True)
class Step:
    number: int
    title: str
    items: tuple[Item, ...]


@dataclass(frozen=True)
class ActionSpec:
    """How an action reads, offered (``text``) and in effect (``done``);
    the key that carries it out ("" none) and whether it is done outside the cockpit."""

    text: str
    done: str
    key: str = ""
    outside: bool = False


@dataclass(frozen=True)
class BranchSpec:
    label: str  # "Credentials"
    when: str  # the condition, in words (decided in cockpit/triage/)
    actions: tuple[tuple[ErrorClass, tuple[ActionId, ...]], ...] = ()  # per error class, in order


@dataclass(frozen=True)
class Link:
    title: str
    url: str


DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # a constraint's days (datetime.weekday() order)
CONSTRAINT_KINDS = ("needs_commander", "update_within", "first")
#: The actions a needs_commander rule can hold back: those the cockpit's actions desk carries out from a key
#: (screens/actions_draw.py's rows; tests/test_runbook_rules.py keeps the two in step).
DESK_ACTIONS = ("verify_key", "update_key", "restart", "rollback", "enable_queuing", "enable_fallback", "scale")
CHANNELS = ("slack", "status_page")  # update_within: the stakeholder update (Slack) or the status page's
_RANK = {Severity.P1: 0, Severity.P2: 1, Severity.P3: 2, Severity.P4: 3}


@dataclass(frozen=True)
class Constraint:
    """A team's rule the cockpit enforces or reminds about (issue 18). The kinds:

    - ``needs_commander``: ``action`` may be started only by the incident commander on ``days`` between
      ``start`` and ``end`` (minutes after midnight in the runbook's time zone, end excluded);
    - ``update_within``: once the incident is at ``severity`` or worse, an update on ``channel`` is due within
      ``minutes`` (the top bar counts down to it, the cockpit reminds, the postmortem says met or missed);
    - ``first``: while Clay calls to an endpoint matching one of ``endpoints`` (globs) fail, ``action`` is
      recommended first (triage's next key), whatever the branch's order."""

    kind: str
    action: ActionId | None = None
    start: int = 0
    end: int = 24 * 60
    days: frozenset[int] = frozenset(range(7))
    why: str = ""  # the team's reason, said with the refusal or the reminder
    severity: Severity | None = None  # update_within
    channel: str = ""  # update_within: one of CHANNELS
    minutes: float = 0.0  # update_within
    endpoints: tuple[str, ...] = ()  # first

    def applies(self, action: ActionId, when: datetime) -> bool:
        """``needs_commander``: the rule holds for ``action`` at ``when`` (a time in the runbook's zone)."""
        minute = when.hour * 60 + when.minute
        return self.kind == "needs_commander" and action == self.action and when.weekday() in self.days and self.start <= minute < self.end

    def window(self) -> str:
        days = ", ".join(DAYS[d] for d in sorted(self.days))
        return f"{self.start // 60:02d}:{self.start % 60:02d}-{self.end // 60:02d}:{self.end % 60:02d} ({days})"

    def covers(self, severity: Severity | str) -> bool:
        """``update_within``: an incident at ``severity`` is under the rule (its severity or worse)."""
        return self.kind == "update_within" and self.severity is not None and _RANK[Severity(severity)] <= _RANK[self.severity]

    def matches(self, endpoint: str) -> bool:
        """``first``: ``endpoint`` (a Clay API path) is one of the rule's."""
        return self.kind == "first" and any(fnmatchcase(endpoint, pattern) for pattern in self.endpoints)

    def describe(self, zone: str = "") -> str:
        """One line, the team's reason last: what `runbook show` lists and the reminders say."""
        why = f": {' '.join(self.why.split())}" if self.why else ""
        if self.kind == "update_within" and self.severity is not None:
            worse = " or worse" if self.severity != Severity.P1 else ""
            where = "status page" if self.channel == "status_page" else "stakeholder (Slack)"
            return f"{self.severity.value}{worse} needs a {where} update within {self.minutes:g} min{why}"
        act = self.action.value if self.action is not None else "?"
        if self.kind == "first":
            return f"{act} first while Clay calls to {', '.join(self.endpoints)} fail{why}"
        return f"{act} needs the incident commander {self.window()}{f' {zone}' if zone else ''}{why}"


def refusal(rb: Runbook, action: ActionId, at: float, responder: str, commander: str) -> str | None:
    """Why a team's constraint refuses ``responder`` starting ``action`` at ``at`` (epoch seconds, judged in the
    runbook's time zone); None: it may."""
    when = rb.local(at)
    for c in rb.constraints:
        if c.applies(action, when) and responder != commander:
            who = f"{commander} is the commander" if commander else "nobody has taken command"
            reason = f": {c.why}" if c.why else ""
            zone = f" {rb.timezone}" if rb.timezone else ""
            return (
                f"the runbook: {action.value} needs the incident commander during {c.window()}{zone}{reason} — {who} (W, c takes command)"
            )
    return None


@dataclass(frozen=True)
class Runbook:
    """A whole runbook file, read and checked."""

    source: str
    severities: dict[Severity, SeverityLevel]
    branches: dict[Branch, BranchSpec]
    actions: dict[ActionId, ActionSpec]
    steps: tuple[Step, ...]
    notes: tuple[str, ...] = ()
    links: tuple[Link, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    timezone: str = ""  # an IANA name ("Europe/Berlin") the constraints' hours are in; "" : the machine's local time

    def local(self, at: float) -> datetime:
        """``at`` (epoch seconds) as a time of day where the team's rules are written."""
        return datetime.fromtimestamp(at, ZoneInfo(self.timezone)) if self.timezone else datetime.fromtimestamp(at)


RUNBOOK_ENV = "CLAY_COCKPIT_RUNBOOK"  # a team's runbook file in place of the shipped one (--runbook FILE sets it)
RUNBOOK_FROM = ""  # what chose the team's runbook in this process: "--runbook", "$CLAY_COCKPIT_RUNBOOK", "runbook.file in the config"
STEP_COUNT = 4  # quick triage, decision tree, immediate actions, communicate: the cockpit reads steps 2 and 3 by their place
MAX_STEPS = 9  # a team's own steps follow the four (the checklist's keys 1-9 jump to them)
NEXT_BUSINESS_DAY = "next business day"


# --------------------------------------------------------------------------
# Reading


def load_runbook(path: str) -> Runbook:
    """Read and check the runbook file at ``path`` (ConfigError, one line, if bad)."""
    return runbook_from_toml(parse_toml(read_text_file(path, "a runbook file"), path), path)


def runbook_from_toml(doc: dict[str, Any], file: str) -> Runbook:
    r = _Reader(file)
    r.keys(
        doc,
        "",
        ("notes", "links", "timezone", "constraints", "severities", "branches", "actions", "steps"),
        required=("severities", "branches", "actions", "steps"),
    )
    zone = r.timezone(doc.get("timezone", ""))
    return Runbook(
        source=file,
        severities=r.severities(doc["severities"]),
        branches=r.branches(doc["branches"]),
        actions=r.actions(doc["actions"]),
        steps=r.steps(doc["steps"]),
        notes=tuple(r.string(n, f"notes[{i}]") for i, n in enumerate(r.array(doc.get("notes", []), "notes", "strings"))),
        links=tuple(r.link(x, f"links[{i}]") for i, x in enumerate(r.array(doc.get("links", []), "links", "tables (title, url)"))),
        constraints=tuple(
            r.constraint(x, f"constraints[{i}]")
            for i, x in enumerate(r.array(doc.get("constraints", []), "constraints", "tables (kind, …, why)"))
        ),
        timezone=zone,
    )


def _choices(enum: type[StrEnum]) -> str:
    return "one of " + ", ".join(m.value for m in enum)


class _Reader:
    """Each part of the file, checked; every error names ``file`` and the key."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, key: str, expected: str, found: str) -> ConfigError:
        return ConfigError(self.file, key, expected, found)

    def keys(self, table: Any, where: str, known: tuple[str, ...], required: tuple[str, ...] = ()) -> dict[str, Any]:
        if not isinstance(table, dict):
            raise self.fail(where, "a table", _describe(table))
        for key in table:
            if key not in known:
                raise self.fail(_join(where, key), "one of " + ", ".join(known), "unknown key")
        for key in required:
            if key not in table:
                raise self.fail(_join(where, key), f"a value for {key}", "nothing (missing required key)")
        return table

    def string(self, value: Any, key: str, empty: bool = False) -> str:
        if not isinstance(value, str) or (not empty and not value.strip()):
            raise self.fail(key, "a string" if empty else "a non-empty string", _describe(value))
        return value

    def array(self, value: Any, key: str, of: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(key, f"an array of {of}", _describe(value))
        return value

    def member(self, enum: type[StrEnum], value: Any, key: str) -> Any:
        if not isinstance(value, str) or value not in {m.value for m in enum}:
            raise self.fail(key, _choices(enum), _describe(value))
        return enum(value)

    def members(self, enum: type[StrEnum], value: Any, key: str) -> list[Any]:
        return [self.member(enum, v, f"{key}[{i}]") for i, v in enumerate(self.array(value, key, "names"))]

    def timezone(self, value: Any) -> str:
        zone = self.string(value, "timezone", empty=True).strip()
        if zone:
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                raise self.fail(
                    "timezone", 'an IANA time zone name ("Europe/Berlin", "America/New_York", "UTC")', _describe(value)
                ) from None
        return zone

    def constraint(self, table: Any, where: str) -> Constraint:
        if not isinstance(table, dict):
            raise self.fail(where, "a table", _describe(table))
        kind = table.get("kind")
        if kind not in CONSTRAINT_KINDS:
            raise self.fail(f"{where}.kind", "one of " + ", ".join(CONSTRAINT_KINDS), _describe(kind))
        if kind == "update_within":
            return self._update_within(table, where)
        if kind == "first":
            t = self.keys(table, where, ("kind", "action", "endpoints", "why"), ("kind", "action", "endpoints"))
            patterns = [
                self.string(p, f"{where}.endpoints[{i}]").strip()
                for i, p in enumerate(self.array(t["endpoints"], f"{where}.endpoints", 'Clay API paths or globs ("/v1/tables/*")'))
            ]
            for i, p in enumerate(patterns):
                if not p.startswith(("/", "*")) or any(ch.isspace() for ch in p):
                    raise self.fail(f"{where}.endpoints[{i}]", 'a Clay API path or glob, from its "/" ("/v1/tables/*")', _describe(p))
            if not patterns:
                raise self.fail(f"{where}.endpoints", 'at least one path or glob ("/v1/tables/*")', "an empty array")
            action = self.member(ActionId, t["action"], f"{where}.action")
            return Constraint(kind, action, endpoints=tuple(patterns), why=self.string(t.get("why", ""), f"{where}.why", empty=True))
        t = self.keys(table, where, ("kind", "action", "hours", "days", "why"), ("kind", "action", "hours"))
        hours = self.string(t["hours"], f"{where}.hours")
        found = re.fullmatch(r"([01]\d|2[0-4]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)", hours.strip())
        start = int(found.group(1)) * 60 + int(found.group(2)) if found else -1
        end = int(found.group(3)) * 60 + int(found.group(4)) if found else -1
        if not found or not 0 <= start < end <= 24 * 60:
            raise self.fail(
                f"{where}.hours", '"HH:MM-HH:MM", the start before the end (the runbook\'s time zone, e.g. "09:00-18:00")', _describe(hours)
            )
        days = [
            self.string(d, f"{where}.days[{i}]")
            for i, d in enumerate(self.array(t.get("days", list(DAYS[:5])), f"{where}.days", "day names"))
        ]
        for i, d in enumerate(days):
            if d not in DAYS:
                raise self.fail(f"{where}.days[{i}]", "one of " + ", ".join(DAYS), _describe(d))
        why = self.string(t.get("why", ""), f"{where}.why", empty=True)
        action = self.member(ActionId, t["action"], f"{where}.action")
        if action.value not in DESK_ACTIONS:
            raise self.fail(
                f"{where}.action", "an action the cockpit carries out (" + ", ".join(DESK_ACTIONS) + ")", _describe(action.value)
            )
        return Constraint(kind, action, start, end, frozenset(DAYS.index(d) for d in days), why)

    def _update_within(self, table: dict[str, Any], where: str) -> Constraint:
        t = self.keys(table, where, ("kind", "severity", "channel", "minutes", "why"), ("kind", "severity", "channel", "minutes"))
        severity = self.member(Severity, t["severity"], f"{where}.severity")
        channel = t["channel"]
        if channel not in CHANNELS:
            raise self.fail(f"{where}.channel", "one of " + ", ".join(CHANNELS), _describe(channel))
        minutes = t["minutes"]
        if not _is_number(minutes) or not 1 <= minutes <= 24 * 60:
            raise self.fail(f"{where}.minutes", "a number of minutes from 1 to 1440", _describe(minutes))
        why = self.string(t.get("why", ""), f"{where}.why", empty=True)
        return Constraint("update_within", severity=severity, channel=channel, minutes=float(minutes), why=why)

    def severities(self, table: Any) -> dict[Severity, SeverityLevel]:
        self.keys(table, "severities", tuple(s.value for s in Severity))
        out = {}
        for sev in Severity:
            where = f"severities.{sev.value}"
            if sev.value not in table:
                raise self.fail(where, "a table (name, response, response_seconds, examples)", "nothing (missing severity)")
            t = self.keys(
                table[sev.value],
                where,
                ("name", "response", "response_seconds", "examples"),
                ("name", "response", "response_seconds", "examples"),
            )
            seconds = t["response_seconds"]
            if seconds != NEXT_BUSINESS_DAY and (not _is_number(seconds) or not 0 < seconds < 1e9):
                raise self.fail(f"{where}.response_seconds", f'a number of seconds > 0 or "{NEXT_BUSINESS_DAY}"', _describe(seconds))
            out[sev] = SeverityLevel(
                sev,
                self.string(t["name"], f"{where}.name"),
                self.string(t["response"], f"{where}.response"),
                None if seconds == NEXT_BUSINESS_DAY else seconds,
                self.string(t["examples"], f"{where}.examples"),
            )
        return out

    def branches(self, table: Any) -> dict[Branch, BranchSpec]:
        self.keys(table, "branches", tuple(b.value for b in Branch))
        out = {}
        for b in Branch:
            where = f"branches.{b.value}"
            if b.value not in table:
                raise self.fail(where, "a table (label, when, actions)", "nothing (missing branch)")
            t = self.keys(table[b.value], where, ("label", "when", "actions"), ("label", "when"))
            acts = self.keys(t.get("actions", {}), f"{where}.actions", tuple(e.value for e in ErrorClass))
            per = tuple((ErrorClass(e), self._action_list(v, f"{where}.actions.{e}")) for e, v in acts.items())
            out[b] = BranchSpec(self.string(t["label"], f"{where}.label"), self.string(t["when"], f"{where}.when"), per)
        return out

    def _action_list(self, value: Any, key: str) -> tuple[ActionId, ...]:
        ids = self.members(ActionId, value, key)
        for i, a in enumerate(ids):
            if a in ids[:i]:
                raise self.fail(f"{key}[{i}]", "each action at most once", _describe(a.value))
        return tuple(ids)

    def actions(self, table: Any) -> dict[ActionId, ActionSpec]:
        self.keys(table, "actions", tuple(a.value for a in ActionId))
        out = {}
        for a in ActionId:
            where = f"actions.{a.value}"
            if a.value not in table:
                raise self.fail(where, "a table (text, done, key, outside)", "nothing (missing action)")
            t = self.keys(table[a.value], where, ("text", "done", "key", "outside"), ("text", "done"))
            outside = t.get("outside", False)
            if not isinstance(outside, bool):
                raise self.fail(f"{where}.outside", "true or false", _describe(outside))
            out[a] = ActionSpec(
                self.string(t["text"], f"{where}.text"),
                self.string(t["done"], f"{where}.done"),
                self.string(t.get("key", ""), f"{where}.key", empty=True),
                outside,
            )
        return out

    def steps(self, value: Any) -> tuple[Step, ...]:
        steps = self.array(value, "steps", "tables (title, items)")
        if not STEP_COUNT <= len(steps) <= MAX_STEPS:
            raise self.fail(
                "steps",
                f"the {STEP_COUNT} runbook steps (quick triage, decision tree, immediate actions, communicate),"
                f" then at most {MAX_STEPS - STEP_COUNT} of the team's",
                f"{len(steps)} steps",
            )
        seen: dict[str, str] = {}
        autos: dict[str, str] = {}
        out = []
        for n, s in enumerate(steps):
            where = f"steps[{n}]"
            t = self.keys(s, where, ("title", "items"), ("title", "items"))
            items = []
            for i, x in enumerate(self.array(t["items"], f"{where}.items", "tables (key, text, …)")):
                item = self.item(x, f"{where}.items[{i}]")
                at = f"{where}.items[{i}]"
                if item.key in seen:
                    raise self.fail(f"{at}.key", f"a key no other item has ({seen[item.key]} has it)", _describe(item.key))
                if item.auto and item.auto in autos:
                    raise self.fail(f"{at}.auto", f"a signal no other item is ticked on ({autos[item.auto]} is)", _describe(item.auto))
                seen[item.key] = at
                if item.auto:
                    autos[item.auto] = at
                items.append(item)
            out.append(Step(n + 1, self.string(t["title"], f"{where}.title"), tuple(items)))
        return tuple(out)

    def item(self, value: Any, where: str) -> Item:
        t = self.keys(value, where, ("key", "text", "branches", "errors", "auto", "action"), ("key", "text"))
        key = self.string(t["key"], f"{where}.key")
        if not key.replace("_", "a").isalnum() or not key.isascii():
            raise self.fail(f"{where}.key", "a name of letters, digits and _", _describe(key))
        auto = t.get("auto", "")
        if auto != "" and auto not in AUTO_SIGNALS:
            raise self.fail(f"{where}.auto", "one of " + ", ".join(AUTO_SIGNALS) + ' or ""', _describe(auto))
        action = t.get("action")
        return Item(
            key,
            self.string(t["text"], f"{where}.text"),
            frozenset(self.members(Branch, t.get("branches", []), f"{where}.branches")),
            frozenset(self.members(ErrorClass, t.get("errors", []), f"{where}.errors")),
            auto,
            None if action is None else self.member(ActionId, action, f"{where}.action"),
        )

    def link(self, value: Any, where: str) -> Link:
        t = self.keys(value, where, ("title", "url"), ("title", "url"))
        url = self.string(t["url"], f"{where}.url")
        _check_kind("url", url, self.file, f"{where}.url")  # http(s), a host, no user:password@
        return Link(self.string(t["title"], f"{where}.title"), url)


def _is_number(value: Any) -> bool:
    """An integer or a float of TOML's (true and false are no numbers here)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


# --------------------------------------------------------------------------
# A team's file in the running cockpit (--runbook FILE)


def shipped_path() -> str:
    """``config/runbook.toml`` as installed (the package's data directory, as config.data_path finds default.toml)."""
    import clay_cockpit.data

    return os.path.join(os.path.dirname(clay_cockpit.data.__file__), "runbook.toml")


def use_team_runbook(path: str | None, origin: str = "--runbook") -> None:
    """``--runbook FILE`` on run and demo: checked now (a bad file is the CLI's one-line error, exit 2), then
    set in the environment for :mod:`clay_cockpit.runbook`, which reads it at its import — after this (this
    module does not import it)."""
    global RUNBOOK_FROM
    if path:
        os.environ[RUNBOOK_ENV] = os.path.abspath(os.path.expanduser(path))
        RUNBOOK_FROM = origin
    chosen = os.environ.get(RUNBOOK_ENV)
    if chosen:
        RUNBOOK_FROM = RUNBOOK_FROM or f"${RUNBOOK_ENV}"
        check_capabilities(load_runbook(chosen))


def use_config_runbook(file: str, config_source: str) -> str:
    """A config's ``[runbook] file`` (relative: to the config's folder), for the commands that read the user's
    config (run, check, info, postmortem): used unless ``--runbook`` or $CLAY_COCKPIT_RUNBOOK chose one already.
    Checked like ``--runbook`` (a bad file is one line, exit 2). Returns the file in effect ("" : the shipped one).
    Called before anything imports :mod:`clay_cockpit.runbook`, which reads it once."""
    import sys

    chosen = os.environ.get(RUNBOOK_ENV, "")
    if chosen or not file.strip():
        return chosen
    base = os.path.dirname(os.path.abspath(config_source)) if config_source else os.getcwd()
    path = os.path.normpath(os.path.join(base, os.path.expanduser(file.strip())))
    if not os.path.isfile(path):
        raise ConfigError(
            config_source or "the config",
            "runbook.file",
            "a runbook file that exists (relative: to the config's folder)",
            f"{file!r}, no file at {path}",
        )
    loaded = sys.modules.get("clay_cockpit.runbook")
    if loaded is not None and os.path.abspath(loaded.RUNBOOK.source) != path:
        # the runbook binds at import: a command that imported it before reading its config cannot switch
        raise ConfigError(
            config_source or "the config", "runbook.file", "a runbook set before this command loaded one (pass --runbook FILE)", repr(file)
        )
    global RUNBOOK_FROM
    try:
        use_team_runbook(path, "runbook.file in the config")
    except ConfigError:
        os.environ.pop(RUNBOOK_ENV, None)  # a bad file chosen nowhere else: not left for what runs after
        RUNBOOK_FROM = ""
        raise
    return path


def check_capabilities(rb: Runbook, shipped: Runbook | None = None) -> None:
    """What a file may not change: each action's key and place are the
    cockpit's (what its keys can do), as the shipped runbook says them."""
    shipped = shipped or load_runbook(shipped_path())  # (clay_cockpit.runbook.RUNBOOK may be a team's file already: --runbook)
    for aid, spec in rb.actions.items():
        ours = shipped.actions[aid]
        if spec.key != ours.key:
            said = f'"{ours.key}"' if ours.key else '"" (no key: the cockpit has none for it)'
            raise ConfigError(
                rb.source,
                f"actions.{aid.value}.key",
                f"{said}, the key the cockpit binds to it (remap keys in the config's [keymap])",
                repr(spec.key),
            )
        if spec.outside != ours.outside:
            where = "true (the cockpit cannot carry it out)" if ours.outside else "false (the cockpit carries it out)"
            raise ConfigError(rb.source, f"actions.{aid.value}.outside", where, str(spec.outside).lower())
