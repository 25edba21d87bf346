"""The postmortem's sections, each written as Markdown from the material
:func:`~clay_cockpit.incident.postmortem_parts.collect` read from the
timeline — summary, severity, impact window, response times, the decision
tree, actions, the checklist, messages, the chart, logs and the timeline —
and the formatting they share (times, table cells, quotes, recorded values).

:mod:`clay_cockpit.incident.postmortem` puts them into the template and
writes the file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from clay_cockpit.comms.context import (
    BRANCH_LABEL,
    STATUS_LABEL,
    clean_headline,
    reason_lines,
)
from clay_cockpit.comms.facts import fit, flat
from clay_cockpit.incident.events import Event, EventKind
from clay_cockpit.incident.lifecycle import Status, format_duration, response_deadline
from clay_cockpit.incident.metrics_history import Moment, rate_text
from clay_cockpit.incident.postmortem_parts import (
    MAX_LOG_CHARS,
    Collected,
    error_chart,
    error_run,
    error_series,
    first_sign,
    impact_start,
    outcome,
)
from clay_cockpit.runbook import ITEMS, SEVERITIES, STEPS, Branch, ErrorClass, item_applies
from clay_cockpit.triage.evidence import MIN_RATE

MAX_MESSAGE_LINES = 30
MAX_CELL = 300  # characters in a table cell: longer text is cut at a word, marked […]
MAX_VALUE = 1000  # one detail line of an action


# --------------------------------------------------------------------------
# Formatting


def _t(at: float | None) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%H:%M:%S") if at is not None else "—"


def _dt(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _since(at: float | None, start: float) -> str:
    if at is None:
        return "—"
    return f"{'+' if at > start - 1 else '−'}{format_duration(at - start)}"  # (a tick a moment before: +0:00)


def _cell(text: object, limit: int = MAX_CELL) -> str:
    """A table cell: one line, whole up to ``limit``, else cut at a word and marked."""
    return fit(text, limit).replace("|", "\\|")


def _quote(text: str, limit: int = MAX_MESSAGE_LINES) -> str:
    lines = text.splitlines() or [""]
    more = len(lines) - limit
    lines = lines[:limit] + ([f"… {more} more lines"] if more > 0 else [])
    return "\n".join("> " + line if line else ">" for line in lines)


def _value(value: Any, limit: int = MAX_VALUE) -> str:
    """A recorded value in words, whole (a bound for the document: cut at a word, marked)."""
    if isinstance(value, Mapping):
        text = "; ".join(f"{k}: {_value(v, limit)}" for k, v in value.items() if not str(k).startswith("_"))
    elif isinstance(value, list):
        text = ", ".join(_value(v, limit) for v in value)
    else:
        text = str(value)
    return fit(text, limit)


# --------------------------------------------------------------------------
# Sections


def _severity(c: Collected) -> str:
    inc = c.incident
    assert inc is not None and c.declared is not None
    first = c.declared.data.get("suggested", inc.suggested)
    lines = [f"- **Suggested by triage:** {first} at declaration" + (f"; now {inc.suggested}" if inc.suggested != first else "")]
    if inc.chosen is None:
        lines.append(f"- **Chosen:** none — the responder did not confirm a severity; {inc.severity} (triage's) was in force")
    else:
        last = next((e for e in reversed(c.severity_events) if e.kind == EventKind.SEVERITY_CHANGED), None)
        how = "accepted the suggestion" if last is not None and last.data.get("accepted") else "set by the responder"
        reason = f" — “{last.data['reason']}”" if last is not None and last.data.get("reason") else ""
        raised = f"; later raised to {inc.severity} by triage (a severity only rises by itself)" if inc.severity != inc.chosen else ""
        lines.append(f"- **Chosen:** {inc.chosen} ({SEVERITIES[inc.chosen].name}), {how}{reason}{raised}")
    level = SEVERITIES[inc.clock_severity]
    strictest = f", the most severe level it had (now {inc.severity})" if inc.clock_severity != inc.severity else ""
    lines.append(f"- **Response target at {inc.clock_severity}:** {level.response} ({level.name}; e.g. {level.examples}){strictest}")
    if c.severity_events:
        lines += ["", "| Time (UTC) | Since declared | Change | By |", "|---|---|---|---|"]
        lines += [
            f"| {_t(e.at)} | {_since(e.at, inc.declared_at)} | {_cell(e.summary)} | {_cell(e.actor, 60)} |" for e in c.severity_events
        ]
    return "\n".join(lines)


def _impact(c: Collected, now: float) -> str:
    inc = c.incident
    assert inc is not None
    start = impact_start(c)
    onset = first_sign(c)
    if onset is not None:
        from_text = (
            f"{_dt(start)} — {onset[1]} (the first sign in the evidence, "
            f"{format_duration(inc.declared_at - start)} before the declaration at {_t(inc.declared_at)})"
        )
    else:
        from_text = f"{_dt(inc.declared_at)} (the declaration: the evidence shows no earlier sign)"
    end = inc.symptom_ended_at if inc.symptom_ended_at is not None else inc.resolved_at
    if inc.symptom_ended_at is not None:
        resolved = f"; resolved {_t(inc.resolved_at)}" if inc.resolved_at else ""
        end_text = f"{_dt(inc.symptom_ended_at)} (mitigated: {_mitigation(inc.symptom_ended)}{resolved})"
    elif inc.resolved_at is not None:
        end_text = f"{_dt(inc.resolved_at)} (resolved; no fix was verified by its symptom, so the impact may have ended earlier or later)"
    else:
        end_text = "ongoing at the time of writing"
    lines = [
        f"- **From:** {from_text}",
        f"- **To:** {end_text}",
        f"- **Length:** {format_duration((end or now) - start)}" + ("" if end else " so far"),
    ]
    run = error_run(c)
    series = error_series(c)
    if run is not None:
        peak = c.book.peak()
        top = max(((v, t, k) for k, pts in series.items() for t, v in pts), default=None)
        line = f"- **Errors in the evidence:** from {_t(run[0])} to {_t(run[1])} UTC (at {rate_text(run[2])} or more, a tenth of the peak)"
        if top is not None:
            line += f"; peak {rate_text(top[0])} ({top[2]}) at {_t(top[1])} UTC"
        if peak is not None and (len(series) > 1 or peak.calls):
            line += f" — at the worst moment ({_t(peak.at)} UTC) {_moment(peak)}"
        lines.append(line)
    elif c.book.snapshots and (noise := c.book.peak()) is not None and noise.errors > 0:
        lines.append(
            f"- **Errors in the evidence:** Clay errors stayed at background level in the {c.book.snapshots} evidence snapshots "
            f"(at most {rate_text(noise.errors)}, below the {rate_text(MIN_RATE)} triage counts as a fault)"
        )
    elif c.book.snapshots:
        lines.append(f"- **Errors in the evidence:** none of the {c.book.snapshots} evidence snapshots shows a Clay error rate above zero")
    return "\n".join(lines)


def _mitigation(summary: str) -> str:
    """A ``symptom_ended`` summary without its own "Mitigated: " (the line says it)."""
    return flat(summary).removeprefix("Mitigated: ").removeprefix("mitigated: ")


def _moment(m: Moment) -> str:
    return m.text(past=True)


def _clock_stop(c: Collected) -> Event | None:
    """The status change that stopped the response clock (to monitoring or resolved)."""
    inc = c.incident
    if inc is None or inc.mitigated_at is None:
        return None
    return next((e for e in c.status_events if abs(e.at - inc.mitigated_at) < 1e-6), None)


def _response(c: Collected, now: float) -> str:
    inc = c.incident
    assert inc is not None
    start = inc.declared_at
    deadline = response_deadline(inc.severity, start)
    level = SEVERITIES[inc.severity]
    stop = _clock_stop(c)
    stop_what = f"status → {stop.data.get('to', '?')}" if stop is not None else ""

    def against(at: float) -> str:
        left = deadline - at
        return f"met, {format_duration(left)} to spare" if left >= 0 else f"missed by {format_duration(left)}"

    if inc.symptom_ended_at is not None:
        mitigated: tuple[str, float | None, str, str] = (
            "Mitigated",
            inc.symptom_ended_at,
            _mitigation(inc.symptom_ended),
            against(inc.symptom_ended_at),
        )
    else:
        if inc.mitigated_at is not None:
            verdict = f"no verified mitigation; the clock stopped at {_t(inc.mitigated_at)} ({stop_what or 'status change'}): {against(inc.mitigated_at)}"
        else:
            left = deadline - now
            verdict = (
                f"not mitigated yet: {format_duration(left)} left" if left > 0 else f"not mitigated yet: overdue {format_duration(left)}"
            )
        persisted = [e for e in c.symptom_events if e.kind == EventKind.SYMPTOM_PERSISTS]
        what = "not verified — no action's symptom was seen to end" + (
            f"; the last fix did not work ({flat(persisted[-1].summary)})" if persisted else ""
        )
        mitigated = ("Mitigated", None, what, verdict)
    ack = c.acknowledged
    first = f"declared by {inc.declared_by}"
    onset = first_sign(c)
    if onset is not None:
        first += f"; first sign {_t(onset[0])} UTC ({onset[1]})"
    rows = [
        ("Detected", start, first, ""),
        ("Acknowledged", ack.at if ack else None, flat(ack.summary) if ack else "no action by a person recorded", ""),
        mitigated,
        ("Resolved", inc.resolved_at, "status → resolved" if inc.resolved_at else "", ""),
    ]
    out = [
        (
            f"Response target at {inc.severity}: **{level.response}** from the declaration (until {_t(deadline)} UTC), "
            "counted until mitigation — the moment the symptom a fix should end was seen to end."
        ),
        "",
        "| Milestone | Time (UTC) | Since declared | What | Against the target |",
        "|---|---|---|---|---|",
    ]
    out += [f"| {name} | {_t(at)} | {_since(at, start)} | {_cell(what)} | {_cell(target)} |" for name, at, what, target in rows]
    if c.status_events:
        out += ["", "Status changes: " + "; ".join(f"{_t(e.at)} {e.data.get('to', '?')}" for e in c.status_events) + "."]
    return "\n".join(out)


def _decision(c: Collected) -> str:
    a = c.assessment
    out: list[str] = []
    if c.branch_events:
        out.append("Branch history:")
        for e in c.branch_events:
            to = e.data.get("to")
            names = to if isinstance(to, list) else [to]
            out.append(f"- {_t(e.at)} UTC — {' + '.join(BRANCH_LABEL.get(str(n), str(n)) for n in names)}")
        out.append("")
    if not a:
        out.append("No triage assessment was recorded with the incident.")
    else:
        out.append(f"**Where the decision tree landed:** {flat(a.get('headline', ''))} (confidence {a.get('confidence', 'unknown')}).")
        out += ["", "Evidence (with the numbers triage saw):"]
        out += [f"- {flat(r)}" for r in reason_lines(a, 12)] or ["- none recorded"]
        gaps = [g for g in a.get("gaps") or () if isinstance(g, Mapping)]
        if gaps:
            out += ["", "What triage could not see:"] + [f"- {flat(g.get('text', ''))}" for g in gaps[:8]]
        elif a.get("cannot_see"):
            out += ["", f"What triage could not see: {flat(a['cannot_see'])}"]
    last = c.latest_assessment
    if last and last is not a and last.get("headline"):
        out += ["", f"**Latest assessment:** {flat(last['headline'])}."]
    if c.clay_status:
        out += ["", "Clay's status page: " + "; then ".join(f"{_t(at)} UTC {text}" for at, text in c.clay_status) + "."]
    return "\n".join(out)


def _details(data: Mapping[str, Any]) -> list[str]:
    """The lines worth keeping from an action event's data (the shapes
    ``clay_cockpit.actions.flow`` records: changes, dry run, permissions, who
    confirmed, what was done, the verification or the failure)."""
    out: list[str] = []
    for ch in data.get("changes") or ():
        if isinstance(ch, Mapping):
            out.append(
                f"change: {ch.get('object', '')} {ch.get('field', '')}: {_value(ch.get('before'), 80)} → {_value(ch.get('after'), 80)}"
            )
        else:
            out.append(f"change: {_value(ch)}")
    if isinstance(data.get("plan"), (str, list)):
        out.append(f"plan: {_value(data['plan'])}")
    dry = data.get("dry_run")
    if isinstance(dry, Mapping):
        out.append(f"dry run: {'accepted' if dry.get('ok') else 'refused'} — {_value(dry.get('summary') or dry.get('failure') or '')}")
    elif dry:
        out.append(f"dry run: {_value(dry)}")
    denied = [p.get("what") for p in data.get("permissions") or () if isinstance(p, Mapping) and p.get("allowed") is False]
    if denied:
        out.append(f"permission denied: {_value(denied)}")
    if data.get("confirmed_by"):
        out.append(f"confirmed by: {_value(data['confirmed_by'], 80)}" + (" (typed the deployment name)" if data.get("typed_name") else ""))
    if data.get("done"):
        out.append(f"done: {_value(data['done'])}")
    ver = data.get("verification")
    if isinstance(ver, Mapping):
        missing = f"; missing: {_value(ver['missing'])}" if ver.get("missing") else ""
        out.append(f"verification: {ver.get('state', '?')} — {_value(ver.get('summary', ''))}{missing}")
    elif ver:
        out.append(f"verification: {_value(ver)}")
    fail = data.get("failure")
    if isinstance(fail, Mapping):
        out.append(
            f"failure ({data.get('stage', '?')}): {_value(fail.get('message', ''))}"
            + (f" — {_value(fail['hint'])}" if fail.get("hint") else "")
        )
    if isinstance(data.get("symptom"), str) and ("evidence" in data or "before" in data):  # symptom_ended / symptom_persists
        agree = {True: "metrics agree", False: "metrics disagree", None: "metrics not caught up yet"}.get(data.get("metrics_agree"), "")
        basis = f" (from {' and '.join(str(data['basis']).split('+'))}" + (f"; {agree})" if agree else ")") if data.get("basis") else ""
        if data.get("before"):
            out.append(f"{data.get('label') or data['symptom']} when confirmed: {_value(data['before'])}")
        if data.get("evidence"):
            out.append(f"evidence: {_value(data['evidence'])}{basis}")
    for key in ("outcome", "result", "error", "reason", "detail"):
        if data.get(key) not in (None, "", [], {}):
            out.append(f"{key}: {_value(data[key])}")
    return out


def _actions(c: Collected) -> str:
    if not c.actions:
        return "No remediation action was recorded in the timeline."
    out: list[str] = []
    for group in c.actions.values():
        first = group[0]
        title = first.data.get("title") or first.data.get("action") or first.summary
        out.append(f"### {flat(title)}")
        for e in group:
            step = str(e.kind).removeprefix("action_").replace("_", " ")
            out.append(f"- {_t(e.at)} UTC **{step}** — {flat(e.summary)} ({flat(e.actor)})")
            out += [f"  - {line}" for line in _details(e.data)]
        out += [f"- **Outcome:** {outcome(group)}", ""]
    return "\n".join(out).rstrip()


def _verified_items(c: Collected, branches: set[Branch]) -> dict[str, tuple[float, str]]:
    """The checklist items an action verified by its symptom carries out
    (when the actions desk's own ticks are not in the timeline): the step-3
    item of each runbook action it carries out (``runbook``, ``carries``)
    and the step-2 item of the branch it was recommended for (``branch``,
    else the incident's branches that item belongs to)."""
    out: dict[str, tuple[float, str]] = {}
    for e in c.symptom_events:
        if e.kind != EventKind.SYMPTOM_ENDED:
            continue
        d = e.data
        done = {str(d.get("runbook") or d.get("action") or ""), *(str(x) for x in d.get("carries") or () if isinstance(x, str))}
        chosen = {b for b in branches if b.value == d.get("branch")} or branches
        at = float(d["ended_at"]) if isinstance(d.get("ended_at"), (int, float)) and not isinstance(d.get("ended_at"), bool) else e.at
        for item in ITEMS.values():
            if item.action is None or item.action.value not in done:
                continue
            if item.branches and not item.branches & chosen:
                continue
            out.setdefault(item.key, (at, flat(e.summary)))
            for step2 in STEPS[1].items:
                if step2.branches & item.branches & chosen:
                    out.setdefault(step2.key, (at, flat(e.summary)))
    return out


def _checklist(c: Collected) -> str:
    inc = c.incident
    assert inc is not None
    seen = set(inc.branches)  # every branch the incident went through: its items applied at some point
    for e in c.branch_events:
        to = e.data.get("to")
        seen |= {str(b) for b in (to if isinstance(to, list) else [to])}
    branches = {Branch(b) for b in seen if b in Branch._value2member_map_}
    errors: set[ErrorClass] = set()
    for f in c.assessment.get("findings") or ():
        for e in (f.get("errors") or ()) if isinstance(f, Mapping) else ():
            if e in ErrorClass._value2member_map_:
                errors.add(ErrorClass(e))
    verified = _verified_items(c, branches)
    out: list[str] = []
    for step in STEPS:
        out.append(f"**{step.number}. {step.title}**")
        for item in step.items:
            tick = inc.ticks.get(item.key)
            if tick is None and item.key in verified:
                at, seen_then = verified[item.key]
                out.append(f"- [x] {item.text} ({_t(at)} UTC, verified — {seen_then})")
                continue
            if tick is None and not item_applies(item, branches, errors):
                continue
            if tick is None:
                out.append(f"- [ ] {item.text}")
            else:
                how = f"auto — {tick.seen}" if tick.auto else f"by {tick.actor}"
                out.append(f"- [x] {item.text} ({_t(tick.at)} UTC, {flat(how)})")
        out.append("")
    return "\n".join(out).rstrip()


def _messages(c: Collected) -> str:
    if not c.messages and not c.failed:
        return "No message was sent."
    out: list[str] = []
    for e in c.messages:
        role = e.data.get("role", "update")
        where = e.data.get("where", "")
        if role in ("summary", "summary_edit"):
            out.append(
                f"- {_t(e.at)} UTC — {'opened the incident thread' if role == 'summary' else 'refreshed the thread summary'} in {where}"
            )
            continue
        channel = "Internal (Slack)" if e.data.get("channel") == "internal" else "External (status page)"
        status = f", status {e.data['status']}" if e.data.get("status") else ""
        out += [
            "",
            f"**{_t(e.at)} UTC — {channel}, {_cell(where, 80)}{status}** (by {_cell(e.actor, 60)})",
            "",
            _quote(str(e.data.get("text", ""))),
            "",
        ]
    if c.failed:
        out += ["", "Sends that failed (the draft was kept):"]
        out += [f"- {_t(e.at)} UTC — {_cell(e.data.get('error') or e.summary, 240)}" for e in c.failed]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


def _chart(c: Collected) -> str:
    inc = c.incident
    assert inc is not None
    series = {k: v for k, v in error_series(c).items() if v}
    points = sum(len(p) for p in series.values())
    snaps = c.book.snapshots
    if not series:
        return f"No error-rate numbers in the {snaps} evidence snapshot(s) of the timeline."
    if max(len(p) for p in series.values()) < 2:
        rows = [f"| {_t(t)} | {_cell(k)} | {v:g} |" for k, pts in series.items() for t, v in pts]
        return (
            "Too few points with error rates for a chart (the evidence snapshots predate the metric histories); the numbers recorded:\n\n"
            "| Time (UTC) | Series | Per second |\n|---|---|---|\n" + "\n".join(rows)
        )
    chart = error_chart(series, inc.declared_at)
    return f"The error-rate series as the pane drew them, kept by {snaps} evidence snapshot(s) ({points} points).\n\n```text\n{chart}\n```"


def _logs(c: Collected) -> str:
    if not c.logs:
        return "No log lines were recorded with the evidence."
    lines = [f"{_t(at)} {line}" for line, at in sorted(c.logs.items(), key=lambda kv: kv[1])]
    return (
        f"The last {len(lines)} distinct lines recorded with the evidence (a line over {MAX_LOG_CHARS} characters is cut, marked […]):"
        "\n\n```text\n" + "\n".join(lines) + "\n```"
    )


def _timeline(c: Collected) -> str:
    inc = c.incident
    assert inc is not None
    start = inc.declared_at
    rows = ["| Time (UTC) | Since declared | Event | What | Who |", "|---|---|---|---|---|"]

    def row(e: Event) -> str:
        return f"| {_t(e.at)} | {_since(e.at, start)} | {_cell(e.kind)} | {_cell(e.summary)} | {_cell(e.actor)} |"

    rows += [row(e) for e in c.head]
    omitted = c.events - len(c.head) - len(c.tail)
    if omitted > 0:
        rows.append(f"| … | | | {omitted} events left out (see the timeline file) | |")
    rows += [row(e) for e in c.tail]
    return "\n".join(rows)


def _headline(c: Collected) -> str:
    inc = c.incident
    assert inc is not None
    head = c.assessment.get("headline")
    if isinstance(head, str) and head.strip():
        return flat(clean_headline(head))
    return BRANCH_LABEL.get(inc.branch or "", "") + (": " if inc.branch else "") + "Clay API incident"


def _branches(c: Collected) -> str:
    """The branches the incident went through (not healthy/unknown), in order."""
    seen: list[str] = []
    for e in c.branch_events:
        to = e.data.get("to")
        for b in to if isinstance(to, list) else [to]:
            if isinstance(b, str) and b not in ("healthy", "unknown") and b not in seen:
                seen.append(b)
    if not seen and c.incident is not None and c.incident.branch:
        seen.append(c.incident.branch)
    return ", then ".join(BRANCH_LABEL.get(b, b) for b in seen) or "none recorded"


def _summary(c: Collected, now: float) -> str:
    inc = c.incident
    assert inc is not None
    head = _headline(c)
    status = STATUS_LABEL[Status(inc.status)].lower()
    end = inc.resolved_at or now
    updates = sum(1 for e in c.messages if e.data.get("role") not in ("summary", "summary_edit"))
    worked = sum(1 for g in c.actions.values() if outcome(g).startswith("verified: "))
    failed = sum(1 for g in c.actions.values() if outcome(g).startswith("the fix did not work"))
    fixed = (
        f" Mitigated {_dt(inc.symptom_ended_at)}: {_mitigation(inc.symptom_ended)}."
        if inc.symptom_ended_at is not None
        else " No fix was verified by its symptom."
    )
    start = impact_start(c)
    began = f"; the first sign {format_duration(inc.declared_at - start)} earlier" if start < inc.declared_at else ""
    return (
        f"{head}. Declared {_dt(inc.declared_at)} by {inc.declared_by} at {inc.severity} ({SEVERITIES[inc.severity].name}){began}; "
        f"{status} {'after' if inc.resolved_at else 'for'} {format_duration(end - inc.declared_at)}.{fixed} "
        f"Decision-tree branch: {_branches(c)}. "
        f"{len(c.actions)} remediation action(s): {worked} verified by their symptom"
        + (f", {failed} did not work" if failed else "")
        + f"; {updates} stakeholder update(s) sent.\n\n"
        "_Add a paragraph for readers outside the team: what customers saw, and for how long._"
    )
