"""The next stakeholder update, in the top bar: ``✉ update in 12:03`` in the
success colour, ``✉ update due`` in the warning colour, ``✉ update overdue
3:10`` in the error colour (the levels of
:class:`~clay_cockpit.comms.state.Cadence`). When the status page update is due
too (or alone) it says so: ``✉ update due · page due``.

Render-only: the comms desk (:mod:`clay_cockpit.screens.comms_desk`) hands it the
cadences and the time once a second; it redraws only when the text changes.
Hidden while there is no incident.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content
from textual.widgets import Static

from clay_cockpit.comms.rules import RuleClock, RuleState
from clay_cockpit.comms.state import Cadence, Channel, DueState
from clay_cockpit.incident.clock import ClockLevel
from clay_cockpit.widgets.common import set_if_changed

LEVEL_STYLE = {ClockLevel.OK: "$text-success", ClockLevel.WARNING: "bold $text-warning", ClockLevel.ERROR: "bold $text-error"}
_URGENT = (DueState.DUE, DueState.OVERDUE)


def cadence_content(cadences: Sequence[Cadence], now: float, rules: Sequence[RuleClock] = ()) -> Content | None:
    """The header text for the internal update's cadence (and the status
    page's when it is due); None without any. A team runbook's rule
    (``update_within``) in force on a channel speaks for it, first: ``page due in
    7:12`` to its deadline, ``page late 3:10`` past it."""
    internal = next((c for c in cadences if c.channel == Channel.INTERNAL), None)
    external = next((c for c in cadences if c.channel == Channel.EXTERNAL), None)
    if internal is None and external is None:
        return None
    pending = {r.channel: r for r in rules if r.until is None and r.text(now)}  # the most urgent rule per channel wins
    for r in rules:
        if r.until is None and r.text(now) and r.due < pending[r.channel].due:
            pending[r.channel] = r
    said: list[tuple[str, str]] = [
        _rule_part(r, now) for r in sorted(pending.values(), key=lambda r: r.due)
    ]  # a rule first: 80 columns may cut the end
    if internal is not None and Channel.INTERNAL.value not in pending:
        said.append((internal.text(now), LEVEL_STYLE[internal.level]))
    if external is not None and external.state in _URGENT and Channel.EXTERNAL.value not in pending:
        overdue = external.text(now).startswith("update overdue")
        said.append(("page overdue" if overdue else "page due", LEVEL_STYLE[ClockLevel.ERROR if overdue else ClockLevel.WARNING]))
    parts: list[tuple[str, str]] = [("✉ ", "$text-muted")]
    for n, part in enumerate(said):
        parts += [(" · ", "$text-muted"), part] if n else [part]
    return Content.assemble(*parts)


def _rule_part(rule: RuleClock, now: float) -> tuple[str, str]:
    state = rule.state(now)
    level = ClockLevel.ERROR if state == RuleState.LATE else ClockLevel.WARNING if state == RuleState.SOON else ClockLevel.OK
    return rule.text(now), LEVEL_STYLE[level]


class CadenceBadge(Static):
    """The countdown to the next stakeholder update (see the module docstring)."""

    DEFAULT_CSS = """
    CadenceBadge {
        width: auto;
        height: 1;
        padding: 0 1 0 0;
        background: $panel;
        text-wrap: nowrap;
        display: none;
    }
    CadenceBadge.-shown {
        display: block;
    }
    """

    def show(self, cadences: Sequence[Cadence], now: float, rules: Sequence[RuleClock] = ()) -> bool:
        """Redraw if the text changed; True if it did."""
        content = cadence_content(cadences, now, rules)
        self.set_class(content is not None, "-shown")
        return set_if_changed(self, content if content is not None else "")
