"""The one-line bar at the top: what this cockpit is looking at, and the
incident with its response-target clock.

:class:`ContextBar` names the target (kube context / namespace, or the drill
scenario) and, when the drill environment has died, says so in the error
colour — the panes below then show their own failures, but this line says
why. It starts with the environment in use (``--env prod-eu``: the name in
reverse video, in the error colour for a production one, one that requires
``--env`` typed) and, in read-only mode (``--read-only`` or
``kube.read_only``), READ-ONLY: both in every form of the bar, however
narrow, and in a problem's line. Before a drill's fault starts it counts down to it
("fault in 12 s"), then says nothing more about it. It gets what room the
badges leave: the title, the countdown and the target (its longest form that fits whole), else
a shorter name (``drill key-revoked``, ``key-revoked``) before anything is cut. :class:`IncidentBadge`, at its right, shows the open incident's
severity, status and the clock counting down to its response target; it is
the only text on screen that changes every second, so it is short and is
redrawn only when the text it shows changes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import tzinfo

from textual.content import Content
from textual.timer import Timer
from textual.widgets import Static

from clay_cockpit.incident.clock import ClockLevel
from clay_cockpit.incident.state import Incident, Status
from clay_cockpit.widgets.common import clean, set_if_changed
from clay_cockpit.widgets.triage import SEV_STYLE

_CLOCK_STYLE = {ClockLevel.OK: "$text-success", ClockLevel.WARNING: "bold $text-warning", ClockLevel.ERROR: "bold $text-error"}


def severity_text(incident: Incident) -> str:
    """The severity in force: "P1?" (declared or raised by triage, not yet
    accepted), "P1", and triage's suggestion when it differs: "P1 (triage
    P2)" — a lower one is only offered (s lowers it), a higher one after a
    hand-set severity stands until triage moves again."""
    sev = f"{incident.severity}" + ("" if incident.confirmed else "?")
    if incident.suggested != incident.severity:
        return f"{sev} (triage {incident.suggested})"
    return sev


def badge_content(incident: Incident | None, now: float, tz: tzinfo | None = None) -> Content:
    """``P1? investigating · 12:03 left`` in the clock's colour (ok/warning/error)."""
    if incident is None:
        return Content.styled("no incident · i declares", "$text-muted")
    clock = incident.clock(tz)
    if incident.status == Status.RESOLVED:
        return Content.styled(f"{severity_text(incident)} resolved · {clock.text(now)}", "$text-muted")
    return Content.assemble(
        (severity_text(incident), SEV_STYLE[incident.severity]),
        (f" {incident.status} · ", ""),
        (clock.text(now), _CLOCK_STYLE[clock.level(now)]),
    )


class ContextBar(Static):
    DEFAULT_CSS = """
    ContextBar {
        height: 1;
        width: 1fr;
        padding: 0 1;
        background: $panel;
        color: $text;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    ContextBar.-error {
        height: auto;
        max-height: 3;
        text-wrap: wrap;
        background: $error;
        color: $text;
        text-style: bold;
    }
    """

    def __init__(
        self, title: str, target: str, *, read_only: bool = False, shorter: tuple[str, ...] = (), env: str = "", production: bool = False
    ) -> None:
        super().__init__()
        self._env = clean(env)  # the environment in use (--env): never shortened away
        self._production = production  # it requires --env typed: said in the error colour
        self._title = title
        self._target = target
        self._shorter = tuple(s for s in shorter if s and s != title)  # names for it when the title does not fit, longest first
        self._read_only = read_only  # no mutating request leaves this cockpit: said first, in the warning colour
        self._problem: str | None = None
        self._fault_at: float | None = None
        self._clock: Callable[[], float] | None = None
        self._countdown_timer: Timer | None = None

    def on_mount(self) -> None:
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def set_problem(self, message: str | None) -> None:
        """Show (or clear) a problem with the environment itself."""
        self._problem = message
        self.set_class(message is not None, "-error")
        self._draw()

    def count_down_to(self, at: float, clock: Callable[[], float]) -> None:
        """Count down to a drill's fault at epoch ``at`` (on ``clock``), then say nothing more about it."""
        self._fault_at, self._clock = at, clock
        self._tick_countdown()

    @property
    def countdown(self) -> str:
        """ "fault in 12 s" until the fault starts, then ""."""
        if self._fault_at is None or self._clock is None:
            return ""
        left = self._fault_at - self._clock()
        return f"fault in {math.ceil(left)} s" if left > 0 else ""

    def _tick_countdown(self) -> None:
        self._countdown_timer = None
        self._draw()
        if self._fault_at is None or self._clock is None:
            return
        left = self._fault_at - self._clock()
        if left <= 0:
            self._fault_at = None  # started: the drill must not give away more
            return
        # redraw when the whole seconds left change
        self._countdown_timer = self.set_timer(max(0.05, left - math.floor(left)) + 0.01, self._tick_countdown)

    def targets(self) -> list[str]:
        """The target, longest first: "scenario key-revoked · clay-drill/clay-sync · app=clay-sync",
        without the scenario (the title names the drill), then the context/namespace alone."""
        parts = [p for p in clean(self._target).split(" · ") if p]
        out = [" · ".join(parts)] if parts else []
        if len(parts) > 1 and parts[0].startswith("scenario "):
            parts = parts[1:]
            out.append(" · ".join(parts))
        if len(parts) > 1:
            out.append(parts[0])
        return out

    def variants(self) -> list[tuple[Content, Content]]:
        """What the bar could say, longest first, each as (the part that must
        fit, what is shown): :meth:`_draw` shows the first whose part fits —
        the title and the target are never cut: a shorter form of them is shown."""
        lead: list[tuple[str, str] | str] = []
        if self._env:  # first: which environment this is, whatever else has to go
            lead += [(f" {self._env} ", "bold reverse $text-error" if self._production else "bold reverse $text-accent"), " "]
        if self._read_only:
            lead += [(" READ-ONLY ", "bold reverse $text-warning"), " "]
        countdown = self.countdown
        tail: list[tuple[str, str] | str] = [("  " + countdown, "bold $text-warning")] if countdown else []
        titled = Content.assemble(*lead, (clean(self._title), "bold"), *tail)
        # the target after it, whole: the longest form of it that fits (never "  scenario key-rev…")
        out = [(whole, whole) for whole in (Content.assemble(titled, ("  " + t, "$text-muted")) for t in self.targets())]
        out.append((titled, titled))
        for name in self._shorter:
            short = Content.assemble(*lead, (clean(name), "bold"), *tail)
            out.append((short, short))
        if countdown:
            alone = Content.assemble(*lead, (countdown, "bold $text-warning"))
            out.append((alone, alone))
        return out

    def _draw(self) -> None:
        if self._problem is not None:
            env = f"{self._env}: " if self._env else ""
            set_if_changed(self, Content.from_markup("✗ $env$problem", env=env, problem=clean(self._problem)))
            return
        variants = self.variants()
        width = self.content_region.width
        fits = [shown for part, shown in variants if part.cell_length <= width] if width > 0 else [variants[0][1]]
        named = variants[:-1] if self.countdown else variants  # all but the countdown alone name what we look at
        # nothing fits: the shortest that names it, cut at the end (not the long title cut to a letter)
        set_if_changed(self, fits[0] if fits else min(named, key=lambda v: v[0].cell_length)[1])


class IncidentBadge(Static):
    """The open incident and its clock, at the right of the top bar."""

    DEFAULT_CSS = """
    IncidentBadge {
        width: auto;
        height: 1;
        padding: 0 1;
        background: $panel;
        text-wrap: nowrap;
    }
    """

    read_only = False  # the incident's file opened for reading only: nothing new is recorded

    def show(self, incident: Incident | None, now: float, tz: tzinfo | None = None) -> bool:
        """Redraw if the text changed; True if it did."""
        content = badge_content(incident, now, tz)
        if self.read_only and incident is not None:
            content = Content.assemble(("READ-ONLY ", "bold reverse $text-error"), content)
        return set_if_changed(self, content)
