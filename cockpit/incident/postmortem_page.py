"""The postmortem's page timeline and Grafana links (issue 16), written as
Markdown from what :func:`~clay_cockpit.incident.postmortem_parts.collect`
read from the timeline (docs/events.md, "The page").

- :func:`page_section` — only when the timeline links a PagerDuty incident:
  the incident (number, title, service, link), when it was triggered,
  acknowledged (and by whom), mitigated (the first ``symptom_ended``) and
  resolved, with the time each took from the trigger; the escalations; how
  many milestones reached PagerDuty and Grafana and which did not. A step
  the timeline does not show is said to be missing, never guessed.
- :func:`dashboard_links` — one Grafana link per configured dashboard over
  the incident's range (declared → resolved, ``to=now`` while open), built
  from the config alone (:func:`clay_cockpit.links.dashboard_url`).

Outside text (titles, reasons, summaries) is written whole, on one line.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from clay_cockpit.comms.facts import flat
from clay_cockpit.comms.paging import GRAFANA_MILESTONES
from clay_cockpit.config import PAGERDUTY_NOTES
from clay_cockpit.config_build import looks_like_token
from clay_cockpit.incident.events import Event, EventKind, looks_like_secret
from clay_cockpit.incident.lifecycle import format_duration
from clay_cockpit.incident.postmortem_parts import Collected, Milestone
from clay_cockpit.incident.postmortem_sections import _dt, _mitigation, _t
from clay_cockpit.links import dashboard_url

if TYPE_CHECKING:
    from clay_cockpit.config import Config

MAX_UNSENT = 50  # unsent milestones listed per channel (the oldest; the rest counted)
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
CHANNEL_NAME = {"pagerduty": "PagerDuty", "grafana": "Grafana"}
BY = {"cockpit": "in the cockpit", "pagerduty": "on PagerDuty"}


# --------------------------------------------------------------------------
# Reading the events


def _num(data: Mapping[str, Any], key: str) -> float | None:
    """An epoch-seconds value of the event's data, or None (absent, not a finite number)."""
    v = data.get(key)
    if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
        return float(v)
    return None


def _linked(c: Collected) -> list[Event]:
    return c.page_events.get(EventKind.PAGE_LINKED, [])


def _of_page(c: Collected, kind: EventKind, page_id: str) -> Event | None:
    """The first event of ``kind`` about the linked page (or naming none)."""
    for e in c.page_events.get(kind, []):
        other = str(e.data.get("page_id") or "")
        if not other or not page_id or other == page_id:
            return e
    return None


def _number(data: Mapping[str, Any]) -> str:
    n = data.get("number")
    return f"#{n}" if isinstance(n, int) and not isinstance(n, bool) else "(number not recorded)"


def _by(e: Event) -> str:
    by = str(e.data.get("by") or "")
    if by == "cockpit":
        return f"in the cockpit (by {flat(e.actor)})"
    return BY.get(by, "(by whom not recorded)")


def _took(at: float, triggered: float | None, what: str) -> str:
    """`` — time to acknowledge **4:05**`` from the trigger; a step before the trigger says so."""
    if triggered is None:
        return f" — time to {what} unknown (the trigger time was not recorded)"
    d = at - triggered
    if d < 0:
        return f" — {format_duration(d)} before the page was triggered (PagerDuty's clock)"
    return f" — time to {what} **{format_duration(d)}**"


# --------------------------------------------------------------------------
# The section


def page_section(c: Collected, config: Config | None = None) -> str:
    """The page timeline as Markdown, or "" when the timeline links no PagerDuty incident."""
    linked = _linked(c)
    inc = c.incident
    if not linked or inc is None:
        return ""
    link = linked[0]
    d = link.data
    page_id = str(d.get("page_id") or "")
    title = flat(d.get("title") or "") or "(title not recorded)"
    about = [f"service {flat(d['service'])}" if d.get("service") else "", f"urgency {flat(d['urgency'])}" if d.get("urgency") else ""]
    head = f"PagerDuty incident **{_number(d)}** “{title}”" + (f" ({', '.join(a for a in about if a)})" if any(about) else "")
    url = flat(d.get("html_url") or "")
    head += f": <{url}>" if url else ", no link recorded"
    head += f". Linked to this incident at {_t(link.at)} UTC by {flat(link.actor)}."
    out = [head]
    for other in linked[1:]:
        if str(other.data.get("page_id") or "") != page_id:
            out.append(
                f"Also linked at {_t(other.at)} UTC: PagerDuty incident {_number(other.data)} “{flat(other.data.get('title') or '')}”"
                + (f" <{flat(other.data['html_url'])}>" if other.data.get("html_url") else "")
                + "."
            )
    triggered = _num(d, "triggered_at")
    lines = [f"- **Triggered:** {_dt(triggered)} (PagerDuty's clock)" if triggered is not None else "- **Triggered:** not recorded"]

    ack = _of_page(c, EventKind.PAGE_ACKNOWLEDGED, page_id)
    if ack is not None:
        at = _num(ack.data, "acknowledged_at") or ack.at
        lines.append(f"- **Acknowledged:** {_t(at)} UTC {_by(ack)}{_took(at, triggered, 'acknowledge')}")
    else:
        lines.append("- **Acknowledged:** not acknowledged (no acknowledgement of the page is in the timeline)")

    ended = c.first_symptom_ended
    if ended is not None:
        at = _num(ended.data, "ended_at") or ended.at
        lines.append(f"- **Mitigated:** {_t(at)} UTC — {_mitigation(ended.summary)}{_took(at, triggered, 'mitigate')}")
    else:
        lines.append("- **Mitigated:** not mitigated (no action's symptom was seen to end)")

    res = _of_page(c, EventKind.PAGE_RESOLVED, page_id)
    if res is not None:
        at = _num(res.data, "resolved_at") or res.at
        lines.append(f"- **Resolved:** {_t(at)} UTC {_by(res)}{_took(at, triggered, 'resolve')}")
    elif inc.resolved_at is not None:
        lines.append(
            f"- **Resolved:** {_t(inc.resolved_at)} UTC in the cockpit (the incident's status → resolved; "
            f"no resolution of the page was recorded){_took(inc.resolved_at, triggered, 'resolve')}"
        )
    else:
        lines.append("- **Resolved:** not resolved (the page and the incident are still open)")
    out += ["", *lines, "", _escalations(c), "", milestones_text(c, config, paged=True)]
    return "\n".join(out).strip()


def _target(e: Event) -> str:
    """The escalation target in words; never a routing key (only the name of the variable that holds it)."""
    target = flat(e.data.get("target") or "")
    how = e.data.get("how")
    if not target:
        return "the escalation target (not recorded)"
    if how == "events":
        if not ENV_NAME.fullmatch(target) or looks_like_token(target):  # the config's own rule for a variable's name
            return "the escalation target (not shown: what was recorded is not the name of an environment variable)"
        return f"the service of the integration key in ${target}"
    if looks_like_secret(target):
        return "the escalation target (not shown: what was recorded looks like a secret)"
    return f"escalation policy {target}"


def _escalations(c: Collected) -> str:
    if not c.escalations:
        return "Escalations: none."
    out = ["Escalations:"]
    for e in c.escalations:
        target = _target(e)
        how = {
            "events": f"paged {target} (Events API v2 trigger)",
            "reassign": f"reassigned the page to {target}",
        }.get(str(e.data.get("how") or ""), f"escalated to {target} (how not recorded)")
        line = f"- {_t(e.at)} UTC — {how}"
        if e.data.get("dedup_key"):
            line += f", dedup key {flat(e.data['dedup_key'])}"
        line += f" (by {flat(e.actor)})"
        if e.data.get("reason"):
            line += f" — why: {flat(e.data['reason'])}"
        if e.data.get("plan"):
            line += f" — the plan that failed: {flat(e.data['plan'])}"
        out.append(line)
    return "\n".join(out)


# --------------------------------------------------------------------------
# The milestones: what reached PagerDuty and Grafana, and what did not


def _channels(c: Collected, config: Config | None, paged: bool) -> list[tuple[str, tuple[str, ...]]]:
    """(channel, the milestones it takes) for each channel in play: PagerDuty when a page
    is linked (the notes the config names), Grafana when enabled or an annotation was made."""
    out: list[tuple[str, tuple[str, ...]]] = []
    if paged:
        out.append(("pagerduty", tuple(config.pagerduty.notes) if config is not None else PAGERDUTY_NOTES))
    if (config is not None and config.grafana.enabled) or c.sent.get("grafana"):
        out.append(("grafana", tuple(n for n in PAGERDUTY_NOTES if n in GRAFANA_MILESTONES)))
    return out


def _unsent(c: Collected, channel: str, names: tuple[str, ...]) -> list[Milestone]:
    return [m for m in c.milestones.values() if m.name in names and channel in m.channels and channel not in m.sent]


def milestones_text(c: Collected, config: Config | None, *, paged: bool) -> str:
    """How many milestones reached each channel, and which did not (said plainly)."""
    notes = c.sent.get("pagerduty", 0)
    marks = c.sent.get("grafana", 0)
    counts = []
    if paged:
        counts.append(f"{notes} milestone note(s) reached the PagerDuty incident")
    if marks or (config is not None and config.grafana.enabled):
        counts.append(f"{marks} milestone(s) reached Grafana as annotations ({c.annotations} annotation(s) on the dashboards)")
    elif config is not None:
        counts.append("Grafana is not enabled in the config: no annotation")
    else:
        counts.append("no annotation reached Grafana")
    out = ["Milestones: " + "; ".join(counts) + "."]
    for channel, names in _channels(c, config, paged):
        name = CHANNEL_NAME[channel]
        unsent = _unsent(c, channel, names)
        if unsent:
            out += ["", f"Not sent to {name} (no {'note' if channel == 'pagerduty' else 'annotation'} was made for these milestones):"]
            out += [f"- {_t(m.at)} UTC {m.name} — {flat(m.summary)}" for m in unsent[:MAX_UNSENT]]
            if len(unsent) > MAX_UNSENT:
                out.append(f"- … and {len(unsent) - MAX_UNSENT} more not sent")
        elif any(m.name in names for m in c.milestones.values()):
            out += ["", f"Every milestone reached {name}."]
        left_out = [n for n in PAGERDUTY_NOTES if n not in names and any(m.name == n for m in c.milestones.values())]
        if left_out:
            why = (
                "pagerduty.notes leaves them out"
                if channel == "pagerduty"
                else "Grafana marks only the declaration, severity changes, applied actions and the resolution"
            )
            out += ["", f"Not posted to {name} by design ({why}): {', '.join(left_out)}."]
    if c.milestones_dropped:
        out += ["", f"The oldest {c.milestones_dropped} milestone(s) were not followed (the timeline has too many); they are not listed."]
    return "\n".join(out)


# --------------------------------------------------------------------------
# Grafana


def dashboard_links(c: Collected, config: Config | None) -> str:
    """One link per configured Grafana dashboard over the incident's range, or
    "" when Grafana is not enabled (or no config was given)."""
    inc = c.incident
    if config is None or inc is None or not config.grafana.enabled or not config.grafana.dashboard_uids:
        return ""
    start, end = inc.declared_at, inc.resolved_at
    until = f"its resolution ({_dt(end)})" if end is not None else "now (the incident is open: the link runs to now)"
    out = [f"Grafana dashboards over the incident, from its declaration ({_dt(start)}) to {until}:", ""]
    out += [f"- `{uid}`: <{dashboard_url(config.grafana.url, uid, start, end)}>" for uid in config.grafana.dashboard_uids]
    if not _linked(c):  # the page section (which says what reached Grafana) is not there
        out += ["", milestones_text(c, config, paged=False)]
    return "\n".join(out)
