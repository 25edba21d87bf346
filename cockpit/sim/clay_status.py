"""Clay's public status page during a drill, as a pure function of time.

Components and incidents follow the scenario's faults: a fault with an
``[faults.incident]`` is posted ``post_after`` seconds after it starts
(investigating), gets an ``identified`` update later, goes to ``monitoring``
when the fault ends and to ``resolved`` ``resolve_after`` seconds after that.
Nothing here keeps state that requests could change, so a frozen drill
renders the same bytes every time.

Two renderings of the same state:
- Atlassian Statuspage v2 public API — field names and order as the real
  captured payloads in shared/fixtures/real/statuspage-*.json;
- Rootly's status page public API — see :mod:`clay_cockpit.sim.rootly_format`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from clay_cockpit.sim.scenario import CLAY_COMPONENTS, CLAY_GROUPS, IncidentSpec, Scenario

PAGE_NAME = "Clay"
TIME_ZONE = "Etc/UTC"
_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
_STATUS_RANK = {"operational": 0, "under_maintenance": 1, "degraded_performance": 2, "partial_outage": 3, "major_outage": 4}
_IMPACT_RANK = {"none": 0, "minor": 1, "major": 2, "critical": 3}
DESCRIPTIONS = {
    "none": "All Systems Operational",
    "minor": "Partially Degraded Service",
    "major": "Partial System Outage",
    "critical": "Major System Outage",
}


def iso_ms(epoch: float) -> str:
    """``2020-02-11T03:15:01.913Z`` — Statuspage's timestamp format."""
    dt = datetime.fromtimestamp(round(epoch, 3), tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _sp_id(rng: random.Random) -> str:
    return "".join(rng.choice(_ALNUM) for _ in range(12))


@dataclass(frozen=True, slots=True)
class Update:
    id: str
    status: str  # investigating / identified / monitoring / resolved
    body: str
    at: float
    affected: tuple[tuple[str, str, str], ...]  # (component name, old status, new status)


@dataclass(frozen=True, slots=True)
class Incident:
    id: str
    name: str
    impact: str
    started_at: float
    created_at: float
    updates: tuple[Update, ...]  # oldest first
    components: tuple[str, ...]
    shortlink: str

    @property
    def status(self) -> str:
        return self.updates[-1].status

    @property
    def updated_at(self) -> float:
        return self.updates[-1].at

    def stamp(self, status: str) -> float | None:
        return next((u.at for u in self.updates if u.status == status), None)


@dataclass(frozen=True, slots=True)
class _Plan:
    """A fault's incident: when each update appears (epoch) and what it says."""

    spec: IncidentSpec
    id: str
    update_ids: tuple[str, str, str, str]
    shortlink: str
    started: float
    posted: float
    identified: float | None
    monitoring: float | None
    resolved: float | None


class ClayStatusPage:
    def __init__(self, scenario: Scenario, t0: float, seed: int | str) -> None:
        rng = random.Random(f"{seed}:statuspage")
        self.t0 = t0
        self.page_id = _sp_id(rng)
        self.created = float(int(t0) - 86400 * 900)
        self.component_ids = {name: _sp_id(rng) for name, _ in CLAY_COMPONENTS}
        self.group_ids = {g: _sp_id(rng) for g in CLAY_GROUPS}
        self.plans: list[_Plan] = []
        for fault in scenario.faults:
            spec = getattr(fault, "incident", None)
            if spec is None:
                continue
            start = t0 + fault.start
            identified = start + spec.identified_after
            end = t0 + fault.end if fault.end > 0 else None
            if end is not None and identified >= end:
                identified = None
            self.plans.append(
                _Plan(
                    spec=spec,
                    id=_sp_id(rng),
                    update_ids=(_sp_id(rng), _sp_id(rng), _sp_id(rng), _sp_id(rng)),
                    shortlink="https://stspg.io/" + _sp_id(rng)[:9],
                    started=start,
                    posted=min(start + spec.post_after, end) if end is not None else start + spec.post_after,
                    identified=identified,
                    monitoring=end,
                    resolved=end + spec.resolve_after if end is not None else None,
                )
            )
        self.history = self._past_incident(rng, t0)

    # ------------------------------------------------------------ incidents

    def _past_incident(self, rng: random.Random, t0: float) -> Incident:
        """A resolved incident from three days ago, so incidents.json is not empty."""
        start = float(int(t0) - 3 * 86400 - 5400)
        hook = "Webhooks"
        updates = (
            Update(
                _sp_id(rng),
                "investigating",
                "We are investigating delays in webhook deliveries.",
                start + 74,
                ((hook, "operational", "degraded_performance"),),
            ),
            Update(
                _sp_id(rng),
                "identified",
                "A backlog in our delivery queue is being drained.",
                start + 1260,
                ((hook, "degraded_performance", "degraded_performance"),),
            ),
            Update(
                _sp_id(rng),
                "monitoring",
                "Deliveries are back to normal; we are monitoring.",
                start + 2890,
                ((hook, "degraded_performance", "operational"),),
            ),
            Update(_sp_id(rng), "resolved", "This incident has been resolved.", start + 3910, ((hook, "operational", "operational"),)),
        )
        return Incident(
            _sp_id(rng), "Delayed webhook deliveries", "minor", start, start + 70, updates, (hook,), "https://stspg.io/" + _sp_id(rng)[:9]
        )

    def _incident(self, plan: _Plan, now: float) -> Incident | None:
        if now < plan.posted:
            return None
        spec = plan.spec
        down = spec.component_status
        steps: list[tuple[str, str, float, str, str]] = [("investigating", spec.investigating, plan.posted, "operational", down)]
        if plan.identified is not None and now >= plan.identified:
            steps.append(("identified", spec.identified, plan.identified, down, down))
        if plan.monitoring is not None and now >= plan.monitoring:
            steps.append(("monitoring", spec.monitoring, plan.monitoring, down, "operational"))
        if plan.resolved is not None and now >= plan.resolved:
            steps.append(("resolved", spec.resolved, plan.resolved, "operational", "operational"))
        ids = dict(zip(("investigating", "identified", "monitoring", "resolved"), plan.update_ids))
        updates = tuple(
            Update(ids[status], status, body, at, tuple((c, old, new) for c in spec.components)) for status, body, at, old, new in steps
        )
        return Incident(plan.id, spec.name, spec.impact, plan.started, plan.posted, updates, spec.components, plan.shortlink)

    def incidents(self, now: float, *, unresolved_only: bool = False) -> list[Incident]:
        """Newest first."""
        out = [i for i in (self._incident(p, now) for p in self.plans) if i is not None]
        if not unresolved_only:
            out.append(self.history)
        out = [i for i in out if not (unresolved_only and i.status == "resolved")]
        return sorted(out, key=lambda i: i.created_at, reverse=True)

    # ------------------------------------------------------------ components

    def component_states(self, now: float) -> dict[str, tuple[str, float]]:
        """name → (status, updated_at) for every component, groups included."""
        states = {name: ("operational", self.created + 3600) for name, _ in CLAY_COMPONENTS}
        for plan in self.plans:
            if now < plan.posted:
                continue
            monitoring = plan.monitoring
            for name in plan.spec.components:
                status: str
                changed: float
                if monitoring is not None and now >= monitoring:
                    status, changed = "operational", monitoring
                else:
                    status, changed = plan.spec.component_status, plan.posted
                cur, cur_at = states[name]
                if _STATUS_RANK[status] > _STATUS_RANK[cur] or (status == cur and changed > cur_at):
                    states[name] = (status, changed)
                elif status == "operational" and cur == "operational":
                    states[name] = (cur, max(cur_at, changed))
        for group in CLAY_GROUPS:
            kids = [states[n] for n, g in CLAY_COMPONENTS if g == group]
            worst = max(kids, key=lambda s: _STATUS_RANK[s[0]])[0]
            states[group] = (worst, max(at for _, at in kids))
        return states

    def indicator(self, now: float) -> str:
        live = self.incidents(now, unresolved_only=True)
        if not live:
            return "none"
        return max((i.impact for i in live), key=lambda x: _IMPACT_RANK[x])

    def updated_at(self, now: float) -> float:
        stamps = [at for _, at in self.component_states(now).values()]
        stamps += [i.updated_at for i in self.incidents(now)]
        return max(stamps)

    # ------------------------------------------------------------ Statuspage v2

    def _page(self, url: str, now: float) -> dict[str, Any]:
        return {"id": self.page_id, "name": PAGE_NAME, "url": url, "time_zone": TIME_ZONE, "updated_at": iso_ms(self.updated_at(now))}

    def _component(
        self, name: str, group: str | None, position: int, state: tuple[str, float], *, is_group: bool = False
    ) -> dict[str, Any]:
        comp_id = self.group_ids[name] if is_group else self.component_ids[name]
        out = {
            "id": comp_id,
            "name": name,
            "status": state[0],
            "created_at": iso_ms(self.created),
            "updated_at": iso_ms(state[1]),
            "position": position,
            "description": None,
            "showcase": not is_group and group is None,
            "start_date": None,
            "group_id": self.group_ids[group] if group else None,
            "page_id": self.page_id,
            "group": is_group,
            "only_show_if_degraded": False,
        }
        if is_group:
            out["components"] = [self.component_ids[n] for n, g in CLAY_COMPONENTS if g == name]
        return out

    def components_json(self, now: float) -> list[dict[str, Any]]:
        states = self.component_states(now)
        out, position, seen_groups = [], 1, set()
        for name, group in CLAY_COMPONENTS:
            if group and group not in seen_groups:
                seen_groups.add(group)
                out.append(self._component(group, None, position, states[group], is_group=True))
                position += 1
            out.append(self._component(name, group, position, states[name]))
            position += 1
        return out

    def _incident_json(self, inc: Incident, now: float) -> dict[str, Any]:
        states = self.component_states(now)
        by_name = {c["name"]: c for c in self.components_json(now) if not c["group"]}
        updates = [
            {
                "id": u.id,
                "status": u.status,
                "body": u.body,
                "incident_id": inc.id,
                "created_at": iso_ms(u.at),
                "updated_at": iso_ms(u.at),
                "display_at": iso_ms(u.at),
                "affected_components": [
                    {"code": self.component_ids[c], "name": self._display_name(c), "old_status": old, "new_status": new}
                    for c, old, new in u.affected
                ],
                "deliver_notifications": True,
                "custom_tweet": None,
                "tweet_id": None,
            }
            for u in reversed(inc.updates)
        ]
        monitoring, resolved = inc.stamp("monitoring"), inc.stamp("resolved")
        return {
            "id": inc.id,
            "name": inc.name,
            "status": inc.status,
            "created_at": iso_ms(inc.created_at),
            "updated_at": iso_ms(inc.updated_at),
            "monitoring_at": iso_ms(monitoring) if monitoring else None,
            "resolved_at": iso_ms(resolved) if resolved else None,
            "impact": inc.impact,
            "shortlink": inc.shortlink,
            "started_at": iso_ms(inc.started_at),
            "page_id": self.page_id,
            "incident_updates": updates,
            "components": [by_name[c] | {"status": states[c][0]} for c in inc.components if c in by_name],
        }

    @staticmethod
    def _display_name(name: str) -> str:
        group = dict(CLAY_COMPONENTS).get(name)
        return f"{group} - {name}" if group else name

    def _status(self, now: float) -> dict[str, Any]:
        ind = self.indicator(now)
        return {"indicator": ind, "description": DESCRIPTIONS[ind]}

    def summary(self, url: str, now: float) -> dict[str, Any]:
        return {
            "page": self._page(url, now),
            "components": self.components_json(now),
            "incidents": [self._incident_json(i, now) for i in self.incidents(now, unresolved_only=True)],
            "scheduled_maintenances": [],
            "status": self._status(now),
        }

    def status(self, url: str, now: float) -> dict[str, Any]:
        return {"page": self._page(url, now), "status": self._status(now)}

    def components_doc(self, url: str, now: float) -> dict[str, Any]:
        return {"page": self._page(url, now), "components": self.components_json(now)}

    def incidents_doc(self, url: str, now: float, *, unresolved_only: bool) -> dict[str, Any]:
        return {
            "page": self._page(url, now),
            "incidents": [self._incident_json(i, now) for i in self.incidents(now, unresolved_only=unresolved_only)],
        }
