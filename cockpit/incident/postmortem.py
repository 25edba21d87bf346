"""``clay-cockpit postmortem [INCIDENT]``: a Markdown postmortem written from
the incident's timeline — summary, severity (suggested and chosen), impact
window, detection / acknowledgement / mitigation / resolution times against
the severity's response target, the decision-tree branch and its evidence,
every action with its plan and outcome, every message sent, a text chart of
the error rates, a bounded log excerpt, the timeline, and the empty sections
the team fills in. When a PagerDuty incident is linked, the page's own
timeline (triggered, acknowledged, mitigated, resolved, escalations, the
milestones that reached PagerDuty and Grafana and those that did not) follows
the response times; with a config that enables Grafana, its dashboards are
linked over the incident's range below the chart
(:mod:`clay_cockpit.incident.postmortem_page`).

An incident still open is marked DRAFT; a torn last line is left out and
noted. The text is rendered from the ``postmortem`` template (overridable
like the message templates), and every line passes the timeline's
redaction plus a scrub of the tokens the config names, so no secret gets in.
Each section is written by :mod:`clay_cockpit.incident.postmortem_sections`;
this module puts them together and writes the file.

The subcommand (finding the incident among the state dir's and the drills')
is :mod:`clay_cockpit.incident.postmortem_cli`. The cockpit's key calls :func:`write_postmortem`.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clay_cockpit.comms.context import STATUS_LABEL
from clay_cockpit.comms.templates import Templates
from clay_cockpit.incident.events import looks_like_secret, redact_text
from clay_cockpit.incident.lifecycle import Status, format_duration
from clay_cockpit.incident.postmortem_page import dashboard_links, page_section
from clay_cockpit.incident.postmortem_parts import Collected, collect
from clay_cockpit.incident.postmortem_sections import (
    _actions,
    _chart,
    _checklist,
    _decision,
    _dt,
    _headline,
    _impact,
    _logs,
    _messages,
    _response,
    _severity,
    _summary,
    _t,
    _timeline,
)
from clay_cockpit.runbook import RUNBOOK, SEVERITIES
from clay_cockpit.sanitise import clean
from clay_cockpit.text import scrub

if TYPE_CHECKING:
    from clay_cockpit.config import Config

_SECRET_ENV = ("TOKEN", "KEY", "SECRET", "PASSWORD")


class PostmortemError(Exception):
    """No incident to write about, or the file cannot be read. One line."""


@dataclass(frozen=True)
class Postmortem:
    incident_id: str
    text: str
    draft: bool  # the incident is still open
    problems: tuple[str, ...]  # torn line, unreadable lines, rejected templates (one line each)


# --------------------------------------------------------------------------
# Putting it together


def env_secrets(names: Iterable[str] = (), environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Values to keep out: the named variables', and any secret-looking value
    of a variable whose name says token/key/secret/password."""
    env = os.environ if environ is None else environ
    out = {env[n] for n in names if n and env.get(n)}
    out |= {v for k, v in env.items() if any(w in k.upper() for w in _SECRET_ENV) and looks_like_secret(v)}
    return tuple(sorted((s for s in out if len(s) >= 8), key=len, reverse=True))


def secret_env_names(config: Config) -> tuple[str, ...]:
    """The variables the config names for its tokens and keys (for :func:`env_secrets`):
    Slack, the status page, the health endpoint, the metrics, PagerDuty (its
    token and the escalation routing key) and Grafana."""
    names = (
        config.slack.token_env,
        config.external_status.token_env,
        config.health.token_env,
        config.metrics.token_env,
        config.pagerduty.token_env,
        config.pagerduty.escalation_routing_key_env,
        config.grafana.token_env,
    )
    return tuple(n for n in names if n)


def _joined(*parts: str) -> str:
    return "\n\n".join(p for p in parts if p)


def build_postmortem(
    path: str | Path,
    *,
    now: float | None = None,
    templates: Templates | None = None,
    secrets: Sequence[str] = (),
    config: Config | None = None,
) -> Postmortem:
    """The postmortem of the incident in timeline file ``path``. With
    ``config``, the Grafana dashboards it names are linked over the
    incident's range, and the page timeline knows which milestones
    ``pagerduty.notes`` posts and whether Grafana is enabled."""
    try:
        c = collect(path)
    except OSError as exc:
        raise PostmortemError(f"cannot read {path}: {exc.strerror or exc}") from None
    inc = c.incident
    if inc is None or c.declared is None:
        raise PostmortemError(f"{path}: no incident declaration in the timeline ({c.events} events read)")
    now = time.time() if now is None else now
    templates = templates or Templates.for_config()
    problems = [str(p) for p in templates.problems]
    if c.report.torn:
        problems.append(f"{Path(path).name}: {c.report.torn}")
    if c.report.bad_lines:
        problems.append(f"{Path(path).name}: {c.report.bad_lines} unreadable line(s) skipped")
    draft = inc.is_open
    banner = []
    if draft:
        banner.append(f"> **DRAFT** — the incident is still open (status: {inc.status}) at {_dt(now)}. Regenerate it after it is resolved.")
    if c.report.torn:
        banner.append("> Note: the timeline's last line was cut off (a crash while writing) and is left out.")
    end = inc.resolved_at or now
    page = page_section(c, config)
    links = dashboard_links(c, config)
    values = {
        "incident_id": inc.id,
        "headline": _headline(c),
        "draft_banner": "\n>\n".join(banner),
        "severity_line": f"{inc.severity} ({SEVERITIES[inc.severity].name})" + ("" if inc.chosen else ", suggested, not confirmed"),
        "status_line": STATUS_LABEL[Status(inc.status)] + (" (open)" if draft else ""),
        "declared_line": f"{_dt(inc.declared_at)} by {inc.declared_by}",
        "duration": format_duration(end - inc.declared_at) + ("" if inc.resolved_at else " so far"),
        "generated_line": f"{_dt(now)} by clay-cockpit from {Path(path).name} ({c.events} events)",
        "summary": _summary(c, now),
        "severity_section": _severity(c),
        "impact_window": _impact(c, now),
        "response_times": _joined(_response(c, now), page and f"### Page timeline\n\n{page}"),
        "decision": _decision(c),
        "actions": _actions(c),
        "checklist": _checklist(c),
        "messages": _joined(_messages(c), (rules := _rules(c, end)) and f"### Runbook rules\n\n{rules}"),
        "chart": _joined(_chart(c), links and f"### Grafana dashboards\n\n{links}"),
        "log_excerpt": _logs(c),
        "timeline": _timeline(c),
        "footer": f"_Written by clay-cockpit postmortem at {_dt(now)}. The sections above the team's are generated from the timeline; "
        "regenerating overwrites them, so keep the team's sections in a copy._",
    }
    text = re.sub(r"\n{3,}", "\n\n", templates.render("postmortem", values))
    # inert before redaction (clay_cockpit.sanitise): the timeline holds outside text (titles, log lines, health
    # checks); no escape, control or bidi character reaches the file or `clay-cockpit postmortem`'s stdout
    text = scrub(redact_text(clean(text))[0], tuple(secrets)) + "\n"
    return Postmortem(inc.id, text, draft, tuple(problems))


def _rules(c: Collected, end: float) -> str:
    """Each spell of a team runbook's update_within rules ("P1 needs a status page update within 10 min"), met
    or missed, as of ``end`` (the resolution, or now); "" when the runbook has none or none applied."""
    out = []
    for clock in c.rules.clocks(RUNBOOK.constraints, past=True):
        out.append(f"- {_t(clock.start)} UTC — {clock.sentence(end)}")
    return "\n".join(out)


def default_output(state_dir: str | Path, incident_id: str) -> Path:
    """Where the cockpit's key writes it: ``<state dir>/postmortems/<id>.md``."""
    return Path(state_dir) / "postmortems" / f"{incident_id}.md"


def write_postmortem(path: str | Path, output: str | Path, *, force: bool = False, **kwargs: Any) -> Postmortem:
    """Build and write the postmortem to ``output`` (0600, atomically). A
    file already there is only replaced with ``force`` (it may hold the
    team's sections). Raises PostmortemError with one line."""
    out = Path(output).expanduser()
    if out.exists() and not force:
        raise PostmortemError(f"{out} exists (it may hold the team's sections); use --force to replace it, or another --output")
    pm = build_postmortem(path, **kwargs)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(pm.text)
        os.replace(tmp, out)
    except OSError as exc:
        raise PostmortemError(f"cannot write {out}: {exc.strerror or exc}") from None
    return pm
