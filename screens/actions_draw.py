"""What the actions pane says, from the actions desk's state: one
:class:`~clay_cockpit.widgets.actions.Row` per action (✓ when in effect, ▸ when triage
recommends it and it is not), and the status line under them — a running
action's progress, the symptom being followed or its verdict, the last
outcome with what to do next.

Pure functions of :class:`clay_cockpit.screens.actions_desk.ActionsDesk` (no I/O):
the desk calls them when it draws.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.content import Content

from clay_cockpit.actions.flow import FailureKind
from clay_cockpit.actions.follow import ENDED, Finished
from clay_cockpit.actions.types import ActionKind
from clay_cockpit.config import Config
from clay_cockpit.runbook import ActionId
from clay_cockpit.widgets.actions import Row
from clay_cockpit.widgets.checklist import clock_time

if TYPE_CHECKING:
    from clay_cockpit.screens.actions_desk import ActionsDesk

NO_ADAPTER = "no Kubernetes adapter with these sources: the actions are shown, not run"
NO_PREVIOUS = "no previous revision"  # (clay_cockpit.actions.rollback.offer says it)
NO_ROLLBACK_HINT = "nothing to undo: the deployment kept no older ReplicaSet (kubectl rollout history shows it)"


@dataclass(frozen=True)
class RowSpec:
    id: str
    key: str
    label: str
    runbook: ActionId  # what triage's "Do now" names (the undo of a toggle is never highlighted)
    kinds: tuple[ActionKind, ...]


ROWS = (
    RowSpec("verify_key", "v", "Verify the key in the Secret", ActionId.VERIFY_KEY, (ActionKind.VERIFY_KEY,)),
    RowSpec("update_key", "k", "Update the Clay API key", ActionId.UPDATE_KEY, (ActionKind.UPDATE_KEY,)),
    RowSpec("restart", "R", "Restart the pods", ActionId.RESTART, (ActionKind.RESTART,)),
    RowSpec("rollback", "U", "Roll back", ActionId.ROLLBACK, (ActionKind.ROLLBACK,)),
    RowSpec("queuing", "Q", "Request queuing", ActionId.ENABLE_QUEUING, (ActionKind.ENABLE_QUEUING, ActionKind.DISABLE_QUEUING)),
    RowSpec("fallback", "f", "Fallback (degrade)", ActionId.ENABLE_FALLBACK, (ActionKind.ENABLE_FALLBACK, ActionKind.DISABLE_FALLBACK)),
    RowSpec("scale", "S", "Scale", ActionId.SCALE, (ActionKind.SCALE,)),
)
SPEC = {r.id: r for r in ROWS}
FLAG_OF = {"queuing": "queuing", "fallback": "fallback"}
ENABLE_OF = {"queuing": ActionKind.ENABLE_QUEUING, "fallback": ActionKind.ENABLE_FALLBACK}


def pages_hint(config: Config) -> str:
    """`` · E pages them`` when PagerDuty can page the escalation target (issue 16), else ""."""
    pd = config.pagerduty
    return " · E pages them" if pd.enabled and (pd.escalation_routing_key_env or pd.escalation_policy_id) else ""


def desk_rows(desk: ActionsDesk) -> list[Row]:
    s = desk.status
    denied = dict(s.denied)
    lease = s.lease
    now = desk.clock()
    held = lease is not None and lease.held and not lease.ours and not lease.stale(now)
    out = []
    for spec in ROWS:
        mutating = spec.id != "verify_key"
        kind = desk.toggle_kind(spec.id) if spec.id in FLAG_OF else spec.kinds[0]
        disabled = warning = state = detail = done = ""
        if mutating and desk.read_only:
            disabled = "read-only"
        elif kind in denied:
            disabled = f"permission denied ({denied[kind]}) → escalate to {desk.config.escalation.contact}" + pages_hint(desk.config)
        if mutating and held and lease is not None:
            warning = f"lease {lease.describe(now)}"
        if spec.id in FLAG_OF:
            value = s.flag(FLAG_OF[spec.id])
            state = {"true": "on", None: ""}.get(value, "off")
            if state == "on" and desk.waiting_for_restart(spec.runbook.value):
                state = "on · the pods read it at their next restart (R)"
            elif state == "on":  # in effect: done, never the next key
                since = desk.flag_since.get(ENABLE_OF[spec.id].value)
                state = done = "on" + (f" since {clock_time(since)}" if since is not None else "")
            if state and not desk.read_only:
                state += f" · {spec.key} turns it {'off' if value == 'true' else 'on'}"
            if spec.id == "queuing" and desk.rate is not None:
                detail = desk.rate.text()
        elif spec.id == "scale" and s.replicas is not None:
            state = f"{s.replicas} replicas, {s.ready} ready"
        elif spec.id == "rollback" and s.no_rollback and not disabled:
            disabled, detail = s.no_rollback, NO_ROLLBACK_HINT if s.no_rollback == NO_PREVIOUS else ""
        elif spec.id == "rollback":
            state = s.rollback
        if spec.id in ("update_key", "restart", "rollback"):
            ended = ended_for(desk, spec.runbook.value)
            if ended is not None:
                at = ended.verdict.ended_at
                done = f"worked: {ended.follow.label} ended" + (f" {clock_time(at)}" if at is not None else "")
            if spec.id == "update_key":
                state = f"Secret {desk.config.kube.secret.name}" + (f" · {done}" if done else "")
            elif done:
                state = done
        relevant = spec.id in desk.relevant or (spec.id == "restart" and desk.waiting_for_restart())
        relevant = relevant and not (spec.id == "rollback" and s.no_rollback)  # nothing to go back to: not an offer
        out.append(
            Row(
                spec.id, spec.key, spec.label, f"act('{spec.id}')", state, detail, relevant and not done, disabled, warning, done=bool(done)
            )
        )
    return out


def ended_for(desk: ActionsDesk, runbook: str) -> Finished | None:
    """The newest follow whose symptom ended and that carried out this runbook action."""
    for done in reversed(desk.symptoms.finished):
        if done.verdict.state == ENDED and runbook in (done.follow.runbook, *done.follow.carries):
            return done
    return None


def symptom_content(desk: ActionsDesk) -> Content | None:
    current, verdict = desk.symptoms.current, desk.symptoms.verdict
    if current is not None and verdict is not None:
        return Content.assemble(("▸ ", "bold $text-accent"), (f"{current.title}: {current.effect} — ", "bold"), (verdict.summary, ""))
    last = desk.symptoms.last()
    if last is None or not last.follow.title:
        return None
    v = last.verdict
    if v.state == ENDED:
        if last.later and v.head:  # the metrics caught up since: said in place of "not caught up yet"
            text = f"Mitigated: {v.head}" + (f" ({v.main})" if v.main else "")
            return Content.assemble(("✓ ", "bold $text-success"), (text, ""), (f"; {last.later}", "$text-muted"))
        return Content.assemble(("✓ ", "bold $text-success"), (v.summary, ""))
    return Content.assemble(("✗ ", "bold $text-error"), (v.summary, ""))


def desk_status(desk: ActionsDesk) -> Content | None:
    """The line under the rows (None: nothing to say)."""
    if not desk.has_adapter:
        return Content.styled(NO_ADAPTER, "$text-muted")
    if desk.busy and desk.progress is not None:
        p = desk.progress
        count = f" {p.done}/{p.total}" if p.done is not None and p.total is not None else ""
        if count and count.strip() in p.message:
            count = ""  # ("0/3 new pods ready" says it already)
        return Content.assemble(("▸ ", "bold $text-accent"), (f"{p.stage}{count} ", "bold"), (p.message, ""))
    if desk.busy:
        return Content.styled(f"▸ {desk.busy}…", "$text-accent")
    failure = desk.problem or desk.status.failure
    if failure is not None and failure.kind is FailureKind.AUTH_EXPIRED:
        return Content.assemble(
            ("✗ cluster credentials expired", "bold $text-error"),
            (f" — {failure.hint or failure.message}", ""),
            (" · g retries (what you typed is kept)", "bold $text-accent"),
        )
    if desk.newest == "symptom":
        shown = symptom_content(desk)
        if shown is not None:
            return shown
    last = desk.last
    if last is not None:
        ok = last.ok
        mark = ("✗ ", "bold $text-error") if not ok else ("▸ ", "bold $text-accent") if last.watching else ("✓ ", "bold $text-success")
        summary = last.summary
        if last.failure is not None and last.failure.lease is not None:  # its "35 s ago" moves on with the clock
            summary = summary.replace(last.failure.message, last.failure.message_at(desk.clock()))
        line = Content.assemble(mark, (summary, ""))
        if last.can_follow_again:
            line = Content.assemble(line, (" · g looks again", "bold $text-accent"))
        elif desk.retry_plan is not None:
            line = Content.assemble(line, (" · g retries", "bold $text-accent"))
        return line
    if failure is not None:
        return Content.assemble(("✗ ", "bold $text-error"), (failure.line(desk.clock()), ""), (" · g retries", "bold $text-accent"))
    return None
