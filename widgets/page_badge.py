"""The page badge at the top bar (issue 16): the PagerDuty page of the
incident, at a glance — ``☎ #1042 TRIGGERED 4m`` until someone acknowledges
it, then ``☎ #1042 ack 6m`` (no age once linked: the incident's clock
counts from the page); ``+2`` when more pages are open; ``☎ none``
when PagerDuty answers with no open page; ``☎ PD ✗ auth_expired`` when the
poll fails (the pages view, ``b``, has the message and the hint). Hidden
while PagerDuty is off or has not answered yet. The status is a word, not
only a colour (NO_COLOR)."""

from __future__ import annotations

from textual.content import Content

from clay_cockpit.signals import PagerDutyIncident, PagerDutySnapshot, Reading
from clay_cockpit.widgets.common import format_age
from clay_cockpit.widgets.top_badge import TopBadge


def badge(reading: Reading[PagerDutySnapshot], pages: tuple[PagerDutyIncident, ...], linked: str | None, now: float) -> Content | None:
    """What the badge says; None: nothing to say (PagerDuty off or not answered yet)."""
    if reading.value is None and reading.error is None:
        return None
    if reading.error is not None and (reading.value is None or reading.stale):
        return Content.assemble(("☎ PD ✗ ", "bold $text-error"), (reading.error.kind.value, "$text-error"))
    if not pages:
        return Content.styled("☎ none", "$text-muted")
    page = next((p for p in pages if p.id == linked), pages[0])
    # linked: the incident's clock beside it counts from the page already; the age would only crowd the bar
    age = "" if page.id == linked else " " + format_age(now - page.created_at.timestamp())
    more = [(f" +{len(pages) - 1}", "$text-muted")] if len(pages) > 1 else []
    if page.status == "triggered":
        return Content.assemble(("☎ ", "bold"), (f"#{page.number} ", "bold"), ("TRIGGERED", "bold $text-error"), age, *more)
    return Content.assemble(("☎ ", "bold"), f"#{page.number} ", ("ack", "$text-warning"), age, *more)


class PageBadge(TopBadge):
    """The PagerDuty page (see the module docstring); :meth:`TopBadge.show` shows :func:`badge`."""
