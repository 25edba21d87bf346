"""The paging desk: PagerDuty and Grafana in the running cockpit (issue 16).

The app builds one :class:`PagingDesk` after the incident desk and routes to
it: each ``pagerduty`` poll's reading (:meth:`polled`), the ``b`` key (the
pages view, :mod:`clay_cockpit.screens.pages_view`), ``E`` (escalate), ``y``
(copy the Grafana dashboard link, OSC 52), and the incident desk's
declaration (the newest open page is linked and its start time taken) and
resolution (asked: resolve the page too?).

What the desk knows about the page comes from the timeline
(:func:`clay_cockpit.comms.paging.read`), read whole from the file in its
worker every ``OUTBOX_TICK`` seconds; the same pass sends what the outbox
holds (milestone notes, Grafana annotations), one channel stopping at its
first failure and trying again after a back-off. Every PagerDuty or Grafana
call runs in that one thread worker (jobs in order, under a lock), never on
the UI thread; results come back as :class:`CommsResult` messages.

Nothing here imports a network client: the sources are the app's
``Sources`` (``sources.pagerduty``, ``sources.grafana``: None when off),
used only inside the worker.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from clay_cockpit.comms import paging
from clay_cockpit.comms.paging import CHANNEL_NAME, GRAFANA, PAGERDUTY, PageState
from clay_cockpit.config import Config
from clay_cockpit.incident.events import EventKind
from clay_cockpit.incident.state import Status
from clay_cockpit.incident.timeline import TimelineError
from clay_cockpit.incident.timeline_read import iter_events
from clay_cockpit.links import dashboard_url
from clay_cockpit.screens.choose import Choice, ChoiceScreen
from clay_cockpit.screens.comms_desk import CommsResult
from clay_cockpit.signals import PagerDutyIncident, PagerDutySnapshot, Reading, SourceError
from clay_cockpit.widgets.page_badge import badge

if TYPE_CHECKING:
    from textual.app import App

    from clay_cockpit.screens.desk import Desk
    from clay_cockpit.screens.main import MainScreen

OUTBOX_TICK = 3.0  # seconds between two passes over the outbox
RETRY_FIRST = 5.0  # seconds before a failed channel is tried again (doubling up to RETRY_MAX)
RETRY_MAX = 60.0
GONE_EVERY = 30.0  # seconds between two reads of a linked page's log once it left the open list


class PagingDesk:
    """See the module docstring."""

    def __init__(self, app: App[int], desk: Desk, *, sources: Any, polls: Any = None) -> None:
        self.app = app
        self.desk = desk
        self.main: MainScreen = desk.main
        self.config: Config = desk.config
        self.clock: Callable[[], float] = desk.clock
        self.sources = sources
        self.polls = polls  # clay_cockpit.live.Polls: its page_keys get the escalations' dedup keys
        self.reading: Reading[PagerDutySnapshot] = Reading()
        self.state = PageState()
        self.failing: dict[str, SourceError] = {}  # channel → why its outbox waits
        self._retry_at: dict[str, float] = {}
        self._retry_delay: dict[str, float] = {}
        self._lock = threading.Lock()  # one PagerDuty/Grafana job at a time, in order
        self._syncing = False
        self._writes = 0  # events this desk recorded (worker only): a pass reads the timeline again only after one
        self._seen: tuple[object, int, int] | None = None  # (timeline, its seq, the poll's answer) the last pass started on
        self._gone_next = 0.0  # (monotonic) the next look at a linked page that left the open list
        self._urgency_asked: dict[str, str] = {}  # page id → the urgency last asked of PagerDuty (worker only)

    @property
    def enabled(self) -> bool:
        return self.config.pagerduty.enabled or self.config.grafana.enabled

    def start(self) -> None:
        if self.enabled:
            self.app.set_interval(OUTBOX_TICK, self.sync)
            self.sync()

    # -- what the views read -------------------------------------------------------------

    def pages(self) -> tuple[PagerDutyIncident, ...]:
        """Every open page the poll listed (ours and the escalations'), newest first."""
        snap = self.reading.value
        return snap.incidents if isinstance(snap, PagerDutySnapshot) else ()

    def dashboard_links(self) -> tuple[str, ...]:
        """The Grafana dashboards over the incident's range (since its declaration; to now while open)."""
        g = self.config.grafana
        inc = self.state.incident or self.desk.recorder.incident
        if not g.enabled or not g.dashboard_uids:
            return ()
        start = inc.declared_at if inc is not None else self.clock() - 3600
        end = inc.resolved_at if inc is not None else None
        return tuple(dashboard_url(g.url, uid, start, end) for uid in g.dashboard_uids)

    # -- the poll -------------------------------------------------------------------------

    def polled(self, reading: Reading[PagerDutySnapshot]) -> None:
        self.reading = reading
        self._show()

    def _show(self) -> None:
        if not self.main.is_attached:
            return
        snap = self.reading.value
        ours = paging.ours(snap if isinstance(snap, PagerDutySnapshot) else None)
        self.main.page_badge.show(badge(self.reading, ours, self.state.page_id, self.clock()))
        from clay_cockpit.screens.pages_view import PagesScreen

        for screen in self.app.screen_stack:
            if isinstance(screen, PagesScreen):
                screen.update()

    # -- the worker ------------------------------------------------------------------------

    def _job(self, what: str, work: Callable[[], Callable[[], None] | None]) -> None:
        """Run ``work`` in the worker (under the lock); what it returns runs on the UI thread."""

        def run() -> None:
            with self._lock:
                deliver = work()
            if deliver is not None:
                self.app.post_message(CommsResult(deliver))

        self.app.run_worker(run, thread=True, group="paging", exit_on_error=False, description=what)

    def _events(self) -> list[Any]:
        """The whole timeline of the open incident, from its file (worker)."""
        path = self.desk.timeline_path()
        return list(iter_events(path)) if path is not None and path.exists() else []

    def _record(self, kind: EventKind, summary: str, data: dict[str, Any]) -> bool:
        try:
            recorded = self.desk.recorder.store.record(kind, summary, data) is not None
        except TimelineError:
            return False
        self._writes += recorded
        return recorded

    def sync(self) -> None:
        """Read the timeline, record what the poll saw, send what the outbox holds (in the worker).
        A pass that could find nothing new — the same timeline, the same poll's answer, nothing waiting
        or failing — is not started."""
        if self._syncing or not self.main.is_attached:
            return
        snap = self.reading.value if isinstance(self.reading.value, PagerDutySnapshot) else None
        timeline = self.desk.recorder.store.timeline
        seen = (timeline.path if timeline is not None else None, timeline.seq if timeline is not None else 0, id(snap))
        if seen == self._seen and not self.state.pending and not self.failing:
            return
        self._seen = seen
        self._syncing = True
        self._job("Sending PagerDuty notes and Grafana annotations", partial(self._sync_blocking, snap, self.clock()))

    def _sync_blocking(self, snap: PagerDutySnapshot | None, now: float) -> Callable[[], None]:
        failing: dict[str, SourceError] = {}
        sent = 0
        writes = self._writes
        try:
            state = paging.read(self._events(), self.config)
            if snap is not None:
                for kind, summary, data in paging.seen_changes(state, snap, now):
                    self._record(kind, summary, data)
                self._urgency(state, snap)
                self._resolved_elsewhere(state, snap)
            for channel in (PAGERDUTY, GRAFANA):
                if time.monotonic() < self._retry_at.get(channel, 0.0):  # (real seconds: a drill's clock may stand still)
                    failing[channel] = self.failing.get(channel) or paging_error(channel, "waiting to try again")
                    continue
                for p in state.waiting(channel):
                    got = paging.send(p, state, self.sources.pagerduty, self.sources.grafana)
                    if got is None:
                        break  # cannot go yet (no page linked): the pane says so
                    if isinstance(got, SourceError):
                        failing[channel] = got
                        delay = min(RETRY_MAX, max(RETRY_FIRST, self._retry_delay.get(channel, 0.0) * 2))
                        self._retry_delay[channel], self._retry_at[channel] = delay, time.monotonic() + delay
                        break
                    self._retry_delay.pop(channel, None)
                    summary, data = paging.sent_event(p, got)
                    if not self._record(EventKind.MILESTONE_SENT, summary, data):
                        break  # not on the timeline: sent again next time rather than lost
                    sent += 1
            state = paging.read(self._events(), self.config) if self._writes != writes else state  # (read again only after a write)
        except (TimelineError, OSError) as exc:
            failing["timeline"] = paging_error("timeline", f"could not read the timeline: {exc}")
            state = self.state

        def deliver() -> None:
            self._syncing = False
            self.state, self.failing = state, failing
            if self.polls is not None:
                self.polls.page_keys = tuple(e.dedup_key for e in state.escalations if e.dedup_key)[-10:]
            if sent:
                self.desk.refresh_panes()
            self._show()

        return deliver

    def _resolved_elsewhere(self, state: PageState, snap: PagerDutySnapshot) -> None:
        """The linked page left the open list: its log says whether (and when) it was resolved on
        PagerDuty — recorded once, with PagerDuty's time. Read at most every ``GONE_EVERY`` seconds."""
        if not paging.gone_from_the_list(state, snap) or self.sources.pagerduty is None or state.page_id is None:
            return
        if time.monotonic() < self._gone_next:
            return
        self._gone_next = time.monotonic() + GONE_EVERY
        log = self.sources.pagerduty.page_timeline(state.page_id)
        if not isinstance(log, SourceError) and log.resolved_at is not None:
            self._record(EventKind.PAGE_RESOLVED, *paging.resolved_elsewhere_event(state, log.resolved_at.timestamp()))

    def _urgency(self, state: PageState, snap: PagerDutySnapshot) -> None:
        """The linked page's urgency follows the severity in force (the p1..p4_urgency mapping); asked
        once per change (a PagerDuty that refuses it is not asked again every pass)."""
        change = paging.urgency_change(state, snap, self.config)
        if change is None or self._urgency_asked.get(change[0].id) == change[1] or self.sources.pagerduty is None:
            return
        page, want = change
        self._urgency_asked[page.id] = want
        got = self.sources.pagerduty.set_urgency(page.id, want)
        severity = state.incident.severity if state.incident is not None else "?"
        if isinstance(got, SourceError):
            self._record(EventKind.NOTE, f"PagerDuty #{page.number}: urgency not changed to {want} ({severity}) — {got.message}", {})
        else:
            summary = f"PagerDuty #{page.number} urgency {page.urgency} → {want} (severity {severity})"
            self._record(EventKind.NOTE, summary, {"page_id": page.id, "urgency": want, "severity": str(severity)})

    # -- the responder's keys ---------------------------------------------------------------

    def _pd(self) -> bool:
        if not self.config.pagerduty.enabled:
            self.app.notify("PagerDuty is off: [pagerduty] enabled = true in the config", title="PagerDuty", severity="warning")
            return False
        return True

    def acknowledge(self, page: PagerDutyIncident) -> None:
        if not self._pd():
            return
        if page.status == "acknowledged":
            self.app.notify(f"#{page.number} is acknowledged already", title="PagerDuty")
            return

        def work() -> Callable[[], None]:
            got = self.sources.pagerduty.acknowledge(page.id)
            if not isinstance(got, SourceError) and self.state.page_id == page.id:
                self._record(EventKind.PAGE_ACKNOWLEDGED, *paging.acknowledged_event(got, self.clock()))
            return partial(self._done, f"#{page.number} acknowledged", got)

        self._job(f"Acknowledging PagerDuty #{page.number}", work)

    def link(self, page: PagerDutyIncident) -> None:
        if self.desk.recorder.open is None:
            self.app.notify("No incident is open: i declares one (it links the newest page)", title="Link", severity="warning")
            return
        if self.state.page_id == page.id:
            self.app.notify(f"#{page.number} is linked already", title="Link")
            return

        def work() -> Callable[[], None]:
            ok = all(self._record(kind, summary, data) for kind, summary, data in paging.linking(page, self.clock()))
            return partial(self._linked, page, ok)

        self._job(f"Linking PagerDuty #{page.number}", work)

    def _linked(self, page: PagerDutyIncident, ok: bool) -> None:
        if ok:
            self.app.notify(f"#{page.number} linked: milestone notes go to it", title="PagerDuty")
        else:
            self.app.notify("not recorded: the timeline could not be written", title="Link", severity="error")
        self.sync()

    def note(self, page: PagerDutyIncident, text: str, reopen: Callable[[str], None] | None = None) -> None:
        """A responder's note for ``page``. With an incident open it goes on the timeline first and the
        outbox sends it (now, or once PagerDuty is back: never lost); without one it is sent at once, and
        a failed send opens the input again with the words typed (``reopen``)."""
        text = text.strip()
        if not text or not self._pd():
            return
        if self.desk.recorder.open is not None:

            def record() -> Callable[[], None]:
                ok = self._record(EventKind.NOTE, *paging.page_note_event(page, text))
                return partial(self._noted, page, text, ok, reopen)

            self._job(f"Recording a note for PagerDuty #{page.number}", record)
            return

        def work() -> Callable[[], None]:
            got = self.sources.pagerduty.add_note(page.id, text)
            if isinstance(got, SourceError) and reopen is not None:
                return partial(self._note_failed, got, text, reopen)
            return partial(self._done, f"note added to #{page.number}", got)

        self._job(f"Adding a note to PagerDuty #{page.number}", work)

    def _noted(self, page: PagerDutyIncident, text: str, ok: bool, reopen: Callable[[str], None] | None) -> None:
        if ok:
            self.app.notify(f"note for #{page.number} on the timeline; the outbox sends it", title="PagerDuty")
            self.desk.refresh_panes()
            self.sync()
        elif reopen is not None:  # not on the timeline: the words go back to the input
            self.app.notify("not recorded: the timeline could not be written", title="Note", severity="error")
            reopen(text)

    def _note_failed(self, got: SourceError, text: str, reopen: Callable[[str], None]) -> None:
        self._done("", got)
        reopen(text)  # the words typed are not lost: the input opens again with them

    def resolve(self, page: PagerDutyIncident) -> None:
        if not self._pd():
            return
        choices = [Choice("yes", f"Resolve PagerDuty #{page.number}", page.title), Choice("no", "Not now", "it stays open")]

        def chosen(value: str | None) -> None:
            if value == "yes":
                self._resolve(page.id, page.number)

        self.app.push_screen(ChoiceScreen(f"Resolve PagerDuty #{page.number}?", choices, current=None, proposed=None), chosen)

    def _resolve(self, page_id: str, number: int | None) -> None:
        def work() -> Callable[[], None]:
            got = self.sources.pagerduty.resolve(page_id)
            if not isinstance(got, SourceError) and self.state.page_id == page_id:
                self._record(EventKind.PAGE_RESOLVED, *paging.resolved_event(page_id, number, self.clock()))
            return partial(self._done, f"#{number} resolved", got)

        self._job(f"Resolving PagerDuty #{number}", work)

    def incident_resolved(self) -> None:
        """The cockpit incident was resolved: ask whether to resolve the linked page too (never silent)."""
        s = self.state
        if not self.config.pagerduty.enabled or not s.linked or s.resolved_at is not None:
            return
        page = next((p for p in self.pages() if p.id == s.page_id), None)
        if page is None and self.reading.value is not None:
            return  # not open on PagerDuty any more
        label = s.label()
        choices = [Choice("yes", f"Resolve PagerDuty {label} too", s.title), Choice("no", "Leave it open", "resolve it later: b, then R")]

        def chosen(value: str | None) -> None:
            if value == "yes" and s.page_id is not None:
                self._resolve(s.page_id, s.number)

        self.app.push_screen(ChoiceScreen(f"Incident resolved · PagerDuty {label}", choices, current=None, proposed=None), chosen)

    def escalate(self, reason: str = "") -> None:
        """``E``: page the escalation target, with the newest permission refusal as the reason (asked first)."""
        if not self._pd():
            return
        pd = self.config.pagerduty
        if not pd.escalation_routing_key_env and not (pd.escalation_policy_id and self.state.linked):
            self.app.notify(
                "no escalation target: set pagerduty.escalation_routing_key_env (or escalation_policy_id and link a page)"
                + f" — meanwhile, escalate to {self.config.escalation.contact} by hand",
                title="Escalate",
                severity="warning",
            )
            return
        denied = self.state.denied
        why, plan = (reason, "") if reason else denied if denied is not None else ("escalated by the responder", "")
        via = "Events API trigger" if pd.escalation_routing_key_env else f"reassign to policy {pd.escalation_policy_id}"
        choices = [Choice("yes", "Page them now", f"{via}: {why}"), Choice("no", "Not now", "nothing is sent")]

        def chosen(value: str | None) -> None:
            if value == "yes":
                self._escalate(why, plan)

        title = f"Escalate to {self.config.escalation.contact}?"
        self.app.push_screen(ChoiceScreen(title, choices, current=None, proposed=None), chosen)

    def _escalate(self, reason: str, plan: str) -> None:
        pd = self.config.pagerduty
        state = self.state
        now = self.clock()

        def work() -> Callable[[], None]:
            if pd.escalation_routing_key_env:
                key, summary, details = paging.escalation_payload(state, reason, plan, self.config, now)
                got: Any = self.sources.pagerduty.escalate(dedup_key=key, summary=summary, details=details)
                if not isinstance(got, SourceError):
                    self._record(
                        EventKind.PAGE_ESCALATED, *paging.escalated_event("events", pd.escalation_routing_key_env, key, reason, plan)
                    )
            else:
                assert state.page_id is not None
                got = self.sources.pagerduty.reassign(state.page_id, pd.escalation_policy_id)
                if not isinstance(got, SourceError):
                    self._record(
                        EventKind.PAGE_ESCALATED,
                        *paging.escalated_event("reassign", pd.escalation_policy_id, "", reason, plan, state.page_id),
                    )
            return partial(self._escalated, got)

        self._job("Escalating on PagerDuty", work)

    def _escalated(self, got: Any) -> None:
        self._done(f"{self.config.escalation.contact} paged", got)
        self.sync()
        if self.polls is not None and not isinstance(got, SourceError):
            by = getattr(self.polls, "by_name", {}).get("pagerduty")
            if by is not None:
                self.polls.start(by)  # list again now: the pane shows the escalation's page

    def _done(self, what: str, got: object) -> None:
        if isinstance(got, SourceError):
            self.app.notify(f"{got.message} — {got.hint}", title=f"PagerDuty: {got.kind.value}", severity="error", timeout=12)
        else:
            self.app.notify(what, title="PagerDuty")
        self.desk.refresh_panes()
        self.sync()

    def copy_link(self) -> None:
        """``y``: the first dashboard's link over the incident's range, to the clipboard (OSC 52: works over SSH)."""
        links = self.dashboard_links()
        if not links:
            self.app.notify("no Grafana dashboard configured ([grafana] dashboard_uids)", title="Copy link", severity="warning")
            return
        self.app.copy_to_clipboard(links[0])
        self.app.notify(links[0], title="Copied (OSC 52): Grafana link", timeout=10)

    # -- declaring -------------------------------------------------------------------------

    def page_to_link(self) -> PagerDutyIncident | None:
        """The page a declaration links (the newest open page of our services), or None."""
        if not self.config.pagerduty.enabled:
            return None
        snap = self.reading.value
        return paging.to_link(snap if isinstance(snap, PagerDutySnapshot) else None)

    def status_changed(self, status: Status) -> None:
        if status == Status.RESOLVED:
            self.sync()
            self.app.set_timer(0.5, self.incident_resolved)


def paging_error(channel: str, message: str) -> SourceError:
    from clay_cockpit.signals import ErrorKind

    return SourceError(channel, ErrorKind.UNREACHABLE, message, f"{CHANNEL_NAME.get(channel, channel)} is tried again by itself")
