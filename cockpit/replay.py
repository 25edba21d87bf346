"""A past incident as a drill (issue 18): ``clay-cockpit demo --from-incident ID``.

Reads an incident's timeline (by id, in the state dir and its drills' state
dirs, or a path: :func:`find_timeline`), and derives a drill scenario from the
evidence it recorded (:func:`derive`): which fault kinds of
:mod:`clay_cockpit.sim.scenario` the signals showed, from when to when, with
the parameters the numbers give (status code, share of calls, Clay's status
page incident, replicas, request rate). The ``[expect]`` table is the
incident's first branch and severity. The result is TOML that the shipped
scenarios' parser validates (:func:`~clay_cockpit.sim.scenario.scenario_from_toml`),
so it can be saved, edited and run with ``demo --scenario FILE``.

Times (:mod:`clay_cockpit.replay_times`): a fault starts at the first
snapshot that shows it and ends at the first later one that reads the same
sources and shows it no more — but a snapshot is taken only at the
declaration and at each branch change, so the faults Clay's error codes make
(a revoked key, rate limiting, an outage) are timed by the error-rate history
each snapshot keeps instead: its 1-minute rates, fitted, give each burst's
start and end to a second or two, and its share of calls. Clay's status page
incident is posted, identified and resolved when the watch saw it. The first
snapshot is scenario second :data:`LEAD_IN` plus the whole :data:`POLL`
steps the earliest fault began before it (the drill runs healthy before).

Honest: evidence that no fault kind makes (another 4xx, a failing health
check of our own, a status page incident without errors in our calls …) is
listed in :attr:`Derived.unmapped`, one line each, and written into the file
as comments; nothing is made up for it. A parameter the evidence does not
give keeps the fault kind's default, and the file says which.

No Textual, no network: file reading and plain data.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clay_cockpit.incident.timeline import Event, EventKind
from clay_cockpit.paths import ConfigError

LEAD_IN = 20.0  # scenario seconds before the first evidence (the shipped scenarios' fault start)
MIN_RATE = 0.1  # errors/s below which a code is noise (clay_cockpit.triage.evidence.MIN_RATE)
MIN_SHARE = 0.02  # share of calls below which a code is noise (a healthy drill has ~0.1% 500s)
SLOW_P95_MS = 1000.0  # Clay p95 at or above which the calls are slow (healthy: ~400 ms)
P50_OF_P95 = 0.36  # latency p50 as a share of p95, when only p95 is known (the degraded-latency scenario's)
OUTAGE_CODES = (500, 502, 503, 504)
KEY_CODES = (401, 403)
IMPACTS = ("none", "minor", "major", "critical")
COMPONENT_STATUSES = ("degraded_performance", "partial_outage", "major_outage")
SERVICE_OF_SOURCE = {"statuspage": "statuspage", "health": "health", "metrics": "prometheus"}
SOURCES = ("statuspage", "health", "metrics", "pods")
MAX_SECONDS = 604800.0  # the latest a scenario's times may be (clay_cockpit.sim.scenario: 7 days)
POLL = 5.0  # seconds between a drill's polls of Clay's status page, health and metrics (clay_cockpit.sim.wiring)

_CODE_KEY = re.compile(r"Clay ([1-5]\d\d)$")
_HEALTH_ERRORS = re.compile(r"(\d+)\s+calls?,\s*\d+\s+errors?\s*\(([^)]*)\)")
_HEALTH_CODE = re.compile(r"\b([1-5]\d\d):\s*(\d+)")
_LOG_STATUS = re.compile(r"\bstatus=([1-5]\d\d)\b")
_LOG_LIMIT = re.compile(r"x-ratelimit-limit=(\d+)")
_SINCE_SHARE = re.compile(r"~(\d+(?:\.\d+)?)% of calls")
_RSS = re.compile(r"rss climbs .*?(\d+)/(\d+) MB")
_AFTER_START = re.compile(r"~(\d+(?:\.\d+)?) s after each start")


class ReplayError(Exception):
    """The incident cannot be replayed (no such incident, unreadable, no evidence). One line."""


@dataclass(frozen=True)
class Seen:
    """One fault kind as one evidence snapshot shows it."""

    kind: str  # a key of clay_cockpit.sim.scenario.FAULT_KINDS
    params: dict[str, Any]
    sources: tuple[str, ...]  # the sources that showed it (they must read again for it to end)
    what: str  # one line: the numbers it rests on
    ends: bool = True  # False: a snapshot without it does not mean it ended (pods come back between kills)


@dataclass(frozen=True)
class Snapshot:
    """What one ``evidence_snapshot`` says, read."""

    at: float
    seen: tuple[Seen, ...]
    unmapped: tuple[str, ...]
    readable: frozenset[str]  # sources that answered (no error, not stale)
    replicas: int | None = None
    request_rate: float | None = None


@dataclass(frozen=True)
class Derived:
    """A scenario derived from an incident: its TOML text and what it could not express."""

    incident_id: str
    name: str
    text: str  # the scenario file (TOML, with comments)
    unmapped: tuple[str, ...]
    branches: tuple[tuple[str, ...], ...]  # the incident's branch sequence (each branch_changed's ``to``)
    faults: tuple[dict[str, Any], ...] = field(default=())


# --------------------------------------------------------------------------
# Finding and reading the timeline


def find_timeline(ref: str, state_dir: str | Path | None = None) -> Path:
    """The timeline file of ``ref`` (an id, a unique part of one, or a path),
    in the state dir and its drills' state dirs. Raises ReplayError."""
    from clay_cockpit.incident.postmortem import PostmortemError
    from clay_cockpit.incident.postmortem_cli import UsageError, find
    from clay_cockpit.paths import state_dir as default_state_dir

    if not ref.strip():
        raise ReplayError("--from-incident needs an incident id or a timeline file")
    try:
        return find(state_dir if state_dir is not None else default_state_dir(), ref).path
    except (PostmortemError, UsageError) as exc:
        raise ReplayError(str(exc)) from None


def read_events(path: Path) -> tuple[Event, ...]:
    """The events of a timeline file; ReplayError when it cannot be read."""
    from clay_cockpit.incident.timeline_read import read

    try:
        return read(path).events
    except OSError as exc:
        raise ReplayError(f"cannot read {path}: {exc.strerror or exc}") from None


def branch_sequence(events: Iterable[Event]) -> tuple[tuple[str, ...], ...]:
    """The incident's branches in order: each ``branch_changed`` event's ``to``."""
    out = []
    for e in events:
        to = e.data.get("to") if e.kind == EventKind.BRANCH_CHANGED else None
        if isinstance(to, list) and to and all(isinstance(b, str) for b in to):
            out.append(tuple(to))
    return tuple(out)


# --------------------------------------------------------------------------
# Reading one snapshot


def _num(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _entry(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = data.get(name)
    return value if isinstance(value, Mapping) else {}


def _strings(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _codes(data: Mapping[str, Any], readable: frozenset[str]) -> tuple[dict[int, float], float | None, list[str]]:
    """Per failing Clay status code its best share of calls (0 when only a rate
    or a few log lines show it), the request rate, and where each was seen."""
    share: dict[int, float] = {}
    where: list[str] = []
    metrics = _entry(data, "metrics")
    values = metrics.get("values") if "metrics" in readable else None
    total: float | None = None
    if isinstance(values, Mapping):
        req = values.get("Clay requests")
        total = _num(req[0]) if isinstance(req, list) and req else None
        for key, v in values.items():
            m = _CODE_KEY.match(str(key))
            rate = _num(v[0]) if isinstance(v, list) and v else None
            if m and rate is not None and rate >= MIN_RATE:
                s = rate / total if total else 0.0
                share[int(m.group(1))] = max(share.get(int(m.group(1)), 0.0), s)
                where.append(f"metrics {m.group(1)} at {rate:.1f}/s" + (f" ({s:.0%} of calls)" if total else ""))
    if "health" in readable:
        for check in _strings(_entry(data, "health").get("failing")):
            hm = _HEALTH_ERRORS.search(check)
            if not hm:
                continue
            calls = int(hm.group(1))
            for code, n in _HEALTH_CODE.findall(hm.group(2)):
                s = int(n) / calls if calls else 0.0
                if s >= MIN_SHARE:
                    share[int(code)] = max(share.get(int(code), 0.0), s)
                    where.append(f"health {code}: {n} of {calls} calls")
    lines = [int(c) for line in _strings(data.get("logs")) for c in _LOG_STATUS.findall(line) if int(c) >= 400]
    for code in sorted(set(lines)):
        if lines.count(code) >= 2 and code not in share:
            share[code] = 0.0
            where.append(f"logs {code} in {lines.count(code)} of the newest lines")
    return share, total, where


def _since_share(data: Mapping[str, Any], codes: Iterable[int]) -> float | None:
    """Triage's estimate of the share since the errors began ("… since it
    began — ~47% of calls"), when its reasons are about these codes: the
    1-minute rates lag the first minute of a fault."""
    want = {str(c) for c in codes}
    reasons = _strings(_entry(data, "assessment").get("reasons"))
    if not any(c in r for r in reasons for c in want):
        return None
    for r in reasons:
        m = _SINCE_SHARE.search(r)
        if m and "since it began" in r:
            return min(1.0, float(m.group(1)) / 100)
    return None


def _incident_spec(statuspage: Mapping[str, Any]) -> dict[str, Any] | None:
    incidents = [i for i in statuspage.get("incidents") or [] if isinstance(i, Mapping)]
    if not incidents:
        return None
    first = incidents[0]
    spec: dict[str, Any] = {"name": str(first.get("name") or "Clay incident")}
    if first.get("impact") in IMPACTS:
        spec["impact"] = first["impact"]
    from clay_cockpit.sim.scenario import CLAY_COMPONENTS

    names = {n for n, _ in CLAY_COMPONENTS}
    comps = [c.split(": ", 1) for c in _strings(statuspage.get("not_operational"))]
    chosen = [c for c in comps if len(c) == 2 and c[0] in names]
    if chosen:
        spec["components"] = [c[0] for c in chosen]
        statuses = [c[1] for c in chosen if c[1] in COMPONENT_STATUSES]
        if statuses:
            spec["component_status"] = max(statuses, key=COMPONENT_STATUSES.index)
    if isinstance(first.get("update"), str) and first["update"].strip():
        spec["investigating"] = first["update"]
    return spec


def read_snapshot(at: float, data: Mapping[str, Any]) -> Snapshot:
    """The faults one evidence snapshot shows, and what it shows that no fault kind makes."""
    readable = frozenset(
        n for n in SOURCES if _entry(data, n) and "error" not in _entry(data, n) and not _entry(data, n).get("stale", False)
    )
    seen: list[Seen] = []
    unmapped: list[str] = []
    share, total, where = _codes(data, readable)
    signals = ("metrics", "health", "logs")
    statuspage = _entry(data, "statuspage") if "statuspage" in readable else {}
    spec = _incident_spec(statuspage)

    key = {c: s for c, s in share.items() if c in KEY_CODES}
    if key:
        status = max(key, key=lambda c: key[c])
        seen.append(Seen("key_revoked", {"status": status}, signals, "; ".join(w for w in where if str(status) in w)))
    if 429 in share:
        ratio = max(share[429], _since_share(data, [429]) or 0.0)
        params: dict[str, Any] = {"ratio": round(min(1.0, ratio), 3)} if ratio > 0 else {}
        limits = [int(m) for line in _strings(data.get("logs")) for m in _LOG_LIMIT.findall(line)]
        if limits:
            params["limit"] = max(limits)
        seen.append(Seen("rate_limited", params, signals, "; ".join(w for w in where if "429" in w)))
    p95 = None
    values = _entry(data, "metrics").get("values") if "metrics" in readable else None
    if isinstance(values, Mapping) and isinstance(values.get("Clay p95"), list) and values["Clay p95"]:
        p95 = _num(values["Clay p95"][0])
    slow = p95 is not None and p95 >= SLOW_P95_MS
    outage = {c: s for c, s in share.items() if c in OUTAGE_CODES}
    if slow and set(outage) <= {504}:  # slow calls, some timing out: Clay is slow, not failing
        assert p95 is not None
        params = {"p95_ms": round(p95), "p50_ms": round(p95 * P50_OF_P95)}
        if outage:
            params["timeout_ratio"] = round(outage[504], 3)
        if spec:
            params["incident"] = spec
        seen.append(Seen("latency", params, ("metrics",), f"metrics Clay p95 {p95:.0f} ms"))
    elif outage:
        ratio = max(sum(outage.values()), _since_share(data, outage) or 0.0)
        codes = sorted(outage, key=lambda c: -outage[c])
        params = {"codes": codes}
        if all(outage[c] > 0 for c in codes):
            params["weights"] = [round(outage[c] / sum(outage.values()), 3) for c in codes]
        else:
            params["weights"] = [1.0] * len(codes)
        if ratio > 0:
            params["error_ratio"] = round(min(1.0, ratio), 3)
        if spec:
            params["incident"] = spec
        seen.append(Seen("clay_outage", params, signals, "; ".join(w for w in where if any(str(c) in w for c in codes))))
    elif spec:
        unmapped.append(f"Clay's status page: incident {spec['name']!r} without errors or slowness in our calls — not replayed")
    for code in sorted(set(share) - set(KEY_CODES) - {429} - set(OUTAGE_CODES)):
        unmapped.append(f"Clay answered {code} ({'; '.join(w for w in where if str(code) in w)}) — no fault kind makes it")

    pods = _entry(data, "pods") if "pods" in readable else {}
    oom = [p for p in pods.get("not_ready") or [] if isinstance(p, Mapping) and "OOMKilled" in (str(p.get("last")), str(p.get("status")))]
    reasons = _strings(_entry(data, "assessment").get("reasons"))
    rss = next((m for r in reasons if r.startswith("Logs:") and (m := _RSS.search(r))), None)
    if oom or rss:
        params = {"reason": "OOMKilled"}
        if rss:
            params["memory_limit_mb"] = int(rss.group(2))
        after = next((m for r in reasons if (m := _AFTER_START.search(r))), None)
        if after:
            params["after"] = float(after.group(1))
        what = f"{len(oom)} pod(s) not ready, OOMKilled" if oom else f"logs: {rss.group(0) if rss else ''}"
        seen.append(Seen("crashloop", params, ("pods",), what, ends=False))
    for p in pods.get("not_ready") or []:
        if isinstance(p, Mapping) and p not in oom:
            unmapped.append(f"pod {p.get('name')} not ready: {p.get('status')} (last: {p.get('last')}) — not replayed")
    evicted = [p for p in pods.get("finished") or [] if isinstance(p, Mapping) and p.get("status") == "Evicted"]
    if evicted:
        node = str(evicted[0].get("node") or "")
        from clay_cockpit.sim.scenario import NODES

        params = {"node": node} if node in NODES else {}
        seen.append(Seen("node_pressure", params, ("pods",), f"{len(evicted)} pod(s) evicted from {node or 'a node'}", ends=False))
    for check in _strings(_entry(data, "health").get("failing")) if "health" in readable else []:
        if not _HEALTH_ERRORS.search(check):
            unmapped.append(f"health check failing: {check} — no fault kind makes it")
    for name in SOURCES:
        err = _entry(data, name).get("error")
        if not isinstance(err, str) or err == "no data yet":
            continue
        if err.startswith("unreachable:") and name in SERVICE_OF_SOURCE:
            seen.append(Seen("service_down", {"service": SERVICE_OF_SOURCE[name]}, (), f"{name}: {err}", ends=False))
        else:
            unmapped.append(f"{name} failed: {err} — not replayed")
    replicas = _num(pods.get("pods"))
    return Snapshot(at, tuple(seen), tuple(unmapped), readable, int(replicas) if replicas else None, total)


# --------------------------------------------------------------------------
# The whole timeline → a scenario


def _merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Parameters over several snapshots: the highest share (the 1-minute
    rates catch up), the first incident, the rest from the first."""
    out = dict(old)
    for key in ("ratio", "error_ratio", "timeout_ratio", "p95_ms"):
        if key in new and new[key] > out.get(key, 0):
            out[key] = new[key]
            if key == "p95_ms":
                out["p50_ms"] = new["p50_ms"]
    if "incident" in new and "incident" not in out:
        out["incident"] = new["incident"]
    return out


def _snapshot_faults(snaps: Sequence[Snapshot]) -> list[dict[str, Any]]:
    """Each fault from the first snapshot that shows it to the first later one
    that reads its sources and shows it no more (the cockpit's clock)."""
    open_: dict[str, dict[str, Any]] = {}
    done: list[dict[str, Any]] = []
    for snap in snaps:
        kinds = {s.kind: s for s in snap.seen}
        for kind, seen in kinds.items():
            if kind in open_:
                open_[kind]["params"] = _merge(open_[kind]["params"], seen.params)
            else:
                open_[kind] = {"kind": kind, "start": snap.at, "params": dict(seen.params), "what": seen.what, "seen": seen, "how": []}
        for kind in [k for k in open_ if k not in kinds]:
            seen = open_[kind]["seen"]
            if seen.ends and set(seen.sources) & snap.readable and snap.at > open_[kind]["start"]:
                done.append(open_.pop(kind) | {"end": snap.at})
    return done + list(open_.values())


def _faults(
    events: Sequence[Event], raw: Sequence[tuple[float, Mapping[str, Any]]], snaps: Sequence[Snapshot], speed: float
) -> list[dict[str, Any]]:
    """The faults in scenario seconds: the first snapshot is :data:`LEAD_IN`
    plus the whole :data:`POLL` steps the earliest fault began before it
    (so that fault starts a little under LEAD_IN at the latest)."""
    from clay_cockpit.replay_times import fit_faults, time_incidents

    calls = next((s.request_rate for s in snaps if s.request_rate), None)
    faults = fit_faults(_snapshot_faults(snaps), raw, calls, speed)
    time_incidents(faults, events, last_at=max([e.at for e in events] + [s.at for s in snaps]))
    first = snaps[0].at
    before = max([0.0] + [float(first - f["start"]) * speed for f in faults])  # scenario seconds the faults began before it
    at_first = LEAD_IN + math.floor(before / POLL) * POLL  # on the drill's poll grid: seen at the same polls

    def scenario_t(at: float) -> float:
        return round(max(0.0, at_first + (at - first) * speed), 1)

    for f in faults:
        f["start"] = scenario_t(f["start"])
        if "end" in f:
            f["end"] = scenario_t(f["end"])
            if f["end"] <= f["start"]:
                del f["end"]
        if "incident_times" in f:
            times = {k: min(round(v * speed, 1), MAX_SECONDS) for k, v in f.pop("incident_times").items()}
            f["params"]["incident"] = f["params"]["incident"] | times
    return sorted(faults, key=lambda f: (f["start"], f["kind"]))


def _speed(snapshots: Sequence[Mapping[str, Any]]) -> float:
    """A drill's ``--speed`` when a snapshot says it (``clock_speed``), else 1."""
    for data in snapshots:
        s = _num(data.get("clock_speed"))
        if s and s > 0:
            return s
    return 1.0


def derive(events: Sequence[Event], *, incident_id: str = "", origin: str = "") -> Derived:
    """The scenario an incident's evidence gives. Raises ReplayError when the
    timeline has no evidence snapshot or no branch; the text it returns has
    passed the scenario parser (ConfigError otherwise: a bug here)."""
    declared = next((e for e in events if e.kind == EventKind.INCIDENT_DECLARED), None)
    incident_id = incident_id or str((declared.data.get("id") if declared else "") or "incident")
    raw = sorted(
        ((e.at, e.data) for e in events if e.kind == EventKind.EVIDENCE_SNAPSHOT and isinstance(e.data, Mapping)), key=lambda r: r[0]
    )
    if not raw:
        raise ReplayError(f"{incident_id}: its timeline has no evidence snapshot: nothing to replay")
    branches = branch_sequence(events)
    first = next((b[0] for b in branches if b[0] != "unknown"), None)
    if first is None:
        raise ReplayError(f"{incident_id}: its timeline has no branch_changed event: no branch to expect")
    snaps = [read_snapshot(at, data) for at, data in raw]
    speed = _speed([d for _, d in raw])
    faults = _faults(events, raw, snaps, speed)
    last = max((max(f["start"], f.get("end", 0.0)) for f in faults), default=0.0)
    if last > MAX_SECONDS:
        raise ReplayError(
            f"{incident_id}: its faults run until scenario second {last:.0f}, past the {MAX_SECONDS:.0f} s (7 days) a drill holds: "
            "too long to replay"
        )
    unmapped = tuple(dict.fromkeys(u for s in snaps for u in s.unmapped))
    severity = _first_severity(events)
    text = _render(incident_id, origin, declared, first, severity, snaps, faults, unmapped, branches, speed)
    from clay_cockpit.config_build import parse_toml
    from clay_cockpit.sim.scenario import scenario_from_toml

    name = _name(incident_id)
    scenario_from_toml(parse_toml(text, f"{name}.toml"), f"{name}.toml")  # ConfigError: a derivation bug, never a user's
    return Derived(
        incident_id, name, text, unmapped, branches, tuple({k: f[k] for k in ("kind", "start", "end", "params") if k in f} for f in faults)
    )


def _first_severity(events: Sequence[Event]) -> str:
    from clay_cockpit.sim.scenario import SEVERITIES

    for e in events:
        sev = e.data.get("suggested") if e.kind in (EventKind.INCIDENT_DECLARED, EventKind.SEVERITY_SUGGESTED) else None
        if sev in SEVERITIES:
            return str(sev)
    return "none"


def _name(incident_id: str) -> str:
    return "replay-" + re.sub(r"[^A-Za-z0-9._-]+", "-", incident_id)[:80]


def _render(
    incident_id: str,
    origin: str,
    declared: Event | None,
    branch: str,
    severity: str,
    snaps: Sequence[Snapshot],
    faults: Sequence[dict[str, Any]],
    unmapped: Sequence[str],
    branches: Sequence[tuple[str, ...]],
    speed: float,
) -> str:
    import tomli_w

    headline = str((declared.data.get("headline") if declared else "") or "").strip()
    kinds = ", ".join(dict.fromkeys(f["kind"] for f in faults)) or "no fault the drill can make"
    replicas = next((s.replicas for s in snaps if s.replicas), None)
    rate = next((s.request_rate for s in snaps if s.request_rate), None)
    doc: dict[str, Any] = {
        "name": _name(incident_id),
        "title": f"Replay of {incident_id}" + (f": {headline}" if headline else ""),
        "summary": f"A drill made from the evidence recorded in incident {incident_id} ({kinds}). "
        "The faults start and end when the evidence shows they did, after a healthy lead-in.",
        "expect": {"branch": branch, "severity": severity},
    }
    service: dict[str, Any] = {}
    if replicas:
        service["replicas"] = max(1, min(replicas, 500))
    if rate:
        service["request_rate"] = round(max(0.1, rate), 2)
    if service:
        doc["service"] = service
    doc["faults"] = [{"kind": f["kind"], "start": f["start"], **({"end": f["end"]} if "end" in f else {}), **f["params"]} for f in faults]
    head = [
        f"# Derived by `clay-cockpit demo --from-incident {incident_id}` from {origin or 'its timeline'}.",
        f"# {len(snaps)} evidence snapshot(s); the first is scenario second {LEAD_IN:g}"
        + (f"; the incident's clock ran {speed:g}x (clock_speed)" if speed != 1 else "")
        + ".",
        "# The incident's branch sequence: " + " → ".join("+".join(b) for b in branches),
    ]
    for f in faults:
        until = f" to {f['end']:g} s" if "end" in f else ""
        head.append(f"# {f['kind']} from {f['start']:g} s{until}: {f['what']}")
        head += [f"#   {how}" for how in f["how"]]
        if f["kind"] == "latency":
            head.append("#   p50_ms is not in the evidence: assumed 36% of p95 (the degraded-latency scenario's)")
        if f["kind"] in ("crashloop", "node_pressure", "service_down") and "end" not in f:
            head.append(f"#   no end derived: the evidence of a {f['kind']} comes and goes between snapshots")
    if not faults:
        head.append("# No fault kind matched the evidence: the drill stays healthy.")
    head += [f"# Not replayed: {u}" for u in unmapped]
    body = tomli_w.dumps({k: v for k, v in doc.items() if k != "faults"})
    for f in doc["faults"]:  # [[faults]] tables, as the shipped scenarios write them (tomli_w would inline them)
        body += "\n[[faults]]\n" + tomli_w.dumps({k: v for k, v in f.items() if k != "incident"})
        if "incident" in f:
            body += "\n[faults.incident]\n" + tomli_w.dumps(f["incident"])
    return "\n".join(head) + "\n\n" + body


def derive_incident(ref: str, state_dir: str | Path | None = None) -> Derived:
    """Find, read and derive; every failure a ReplayError (one line)."""
    path = find_timeline(ref, state_dir)
    events = read_events(path)
    declared = next((e for e in events if e.kind == EventKind.INCIDENT_DECLARED), None)
    try:
        return derive(events, incident_id=str((declared.data.get("id") if declared else "") or path.stem), origin=str(path))
    except ConfigError as exc:
        raise ReplayError(f"the scenario derived from {path} does not validate: {exc}") from None


def scenario_file(ref: str, save: str | None = None, state_dir: str | Path | None = None) -> Path:
    """``demo --from-incident``: derive, say on stderr what is not replayed
    (one line each), write the file (``save``, never over an existing file;
    else a new temporary folder) and return its path for ``--scenario``."""
    import sys
    import tempfile

    if save:  # checked first: a refusal is the only line
        path = Path(save).expanduser()
        if path.exists():
            raise ReplayError(f"{path} exists: --save writes a new file (choose another name, or remove it)")
        if path.suffix != ".toml":
            raise ReplayError(f"{path}: --save needs a .toml file name (demo --scenario reads it back by that)")
    derived = derive_incident(ref, state_dir)
    for line in derived.unmapped:
        print(f"clay-cockpit: not replayed: {line}", file=sys.stderr)
    if not save:
        path = Path(tempfile.mkdtemp(prefix="clay-replay-")) / f"{derived.name}.toml"
    try:
        with path.open("x", encoding="utf-8") as f:
            f.write(derived.text)
    except OSError as exc:
        raise ReplayError(f"cannot write {path}: {exc.strerror or exc}") from None
    print(f"clay-cockpit: replaying {derived.incident_id} as {path}", file=sys.stderr)
    return path
