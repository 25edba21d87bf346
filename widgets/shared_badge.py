"""The shared badge in the top bar (issue 17): whether this cockpit's incident
is the one every responder sees, at a glance — ``⇄ 3`` (in step with the
cluster, three responders in), ``⇄ LOCAL unreachable`` (the cluster cannot be
reached or refuses us: the incident is kept here and sent when it can),
``⇄ 2 watch`` (read-only: watching the shared incident, adding nothing).
Hidden while sharing is off (``[shared] enabled = false``, or no cluster),
and while no incident is open and the cluster answers (nothing to share yet).
The state is a word, not only a colour (NO_COLOR). ``W`` has the rest."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.content import Content

from clay_cockpit.widgets.top_badge import TopBadge

if TYPE_CHECKING:
    from clay_cockpit.screens.shared_desk import SharedView


def badge(view: SharedView) -> Content | None:
    """What the badge says; None: nothing (sharing off)."""
    if view.state == "off":
        return None
    if view.state == "connecting":
        return None  # nothing known yet (a cluster that does not answer says so at the first pass)
    if view.state == "local":
        return Content.assemble(("⇄ LOCAL ", "bold $text-warning"), (view.why or "?", "$text-warning"))
    if not view.incident_id:
        return None  # nothing to share yet and the cluster answers: the top bar keeps its room
    count = str(len(view.responders)) if view.responders else "·"
    if view.state == "watching":
        return Content.assemble(("⇄ ", "bold"), count, (" watch", "$text-muted"))
    return Content.assemble(("⇄ ", "bold"), count)


class SharedBadge(TopBadge):
    """The shared incident (see the module docstring); :meth:`TopBadge.show` shows :func:`badge`."""

    DEFAULT_CSS = """
    SharedBadge {
        padding: 0 1 0 0;
    }
    """
