"""The communication desk: step 4 of the runbook in the running cockpit.

The app builds one :class:`CommsDesk` right after the incident desk
(:mod:`clay_cockpit.screens.desk`) and routes to it: the ``n`` / ``e`` keys (the update
editor, :mod:`clay_cockpit.screens.compose`), ``P`` (the postmortem) and the
:class:`CommsResult` messages its workers post. It holds the one
:class:`~clay_cockpit.comms.core.Comms` of the cockpit (on the incident desk's store,
so drafts and sends land in the same timeline).

Threads: every save of a draft (one fsynced event) and every send (the
network) runs in one thread worker that takes jobs in order from a small
queue — a save typed before a send is written before the send, and a save
waiting in the queue is replaced by a newer one of the same draft. The
postmortem is written in its own thread worker. Results come back as
:class:`CommsResult` messages (a function to run on the UI thread).

Once a second it draws the next-update countdown in the top bar and asks
:meth:`Comms.due` whether a reminder is due: then a notification says which
key opens the editor with a fresh draft.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.message import Message

from clay_cockpit.comms.core import (
    Channel,
    Comms,
    Draft,
    Opened,
    Reminder,
    SaveResult,
    SendResult,
    next_update_due,
)
from clay_cockpit.comms.rules import RuleClock, RuleState
from clay_cockpit.comms.state import Cadence, DueState
from clay_cockpit.config import Config
from clay_cockpit.incident.timeline import TimelineError
from clay_cockpit.runbook import RUNBOOK
from clay_cockpit.signals import ErrorKind, Signals, SourceError

if TYPE_CHECKING:
    from textual.app import App

    from clay_cockpit.screens.desk import Desk
    from clay_cockpit.screens.main import MainScreen

CADENCE_TICK = 1.0  # seconds between looks at the update cadence
MAX_JOBS = 8  # saves and sends waiting for the worker (saves of one draft coalesce)
REMIND_SECONDS = 12.0  # how long a reminder stays on screen (the top bar keeps saying "due")
REPLACE_WINDOW = 10.0  # seconds in which a second P replaces an existing postmortem
SYNC_RETRY = 30.0  # seconds before reading a timeline that failed to read again
CHANNEL_KEY = {Channel.INTERNAL: "n", Channel.EXTERNAL: "e"}
CHANNEL_NAME = {Channel.INTERNAL: "Internal update", Channel.EXTERNAL: "Status page update"}
ROLE_TEXT = {
    "summary": "incident thread opened",
    "update": "update posted in the thread",
    "summary_edit": "summary at the top updated",
    "page_create": "status page incident created",
    "page_update": "status page incident updated",
}


class CommsResult(Message):
    """A comms worker finished: ``deliver()`` runs its result on the UI thread."""

    def __init__(self, deliver: Callable[[], None]) -> None:
        super().__init__()
        self.deliver = deliver


def sent_text(result: SendResult) -> str:
    """Where a send went, in words: ``#inc-clay: incident thread opened, update posted in the thread``."""
    where = next((s.where for s in result.sent if s.is_update), result.sent[0].where if result.sent else "")
    what = ", ".join(
        ROLE_TEXT.get(s.role, s.role) + (f" ({s.status})" if s.role.startswith("page") and s.status else "") for s in result.sent
    )
    return f"{where}: {what}" if where else what


class CommsDesk:
    """See the module docstring."""

    def __init__(
        self,
        app: App[int],
        main: MainScreen,
        desk: Desk,
        config: Config,
        *,
        clock: Callable[[], float],
        state_dir: Path,
        comms: Comms | None = None,
    ) -> None:
        self.app = app
        self.main = main
        self.desk = desk
        self.config = config
        self.clock = clock
        self.state_dir = state_dir
        speed = float(getattr(app, "speed", 1.0) or 1.0)
        self.speed = speed if math.isfinite(speed) and speed > 0 else 1.0  # a drill's clock speed (a frozen drill's: unknown, 1)
        self.comms = comms or Comms(config, desk.recorder.store, clock=clock, speed=self.speed if self.speed != 1.0 else None)
        self.reminder = Reminder()
        self._rule_fired: set[tuple[Any, float, str]] = set()  # (rule, its start, state) reminded of once
        self.sending: Channel | None = None  # a send is on its way
        self._jobs: deque[tuple[tuple[str, object], Callable[[], None]]] = deque()
        self._jobs_lock = threading.Lock()
        self._draining = False
        self._synced: Path | None = None  # the timeline the comms log was read from (in a worker)
        self._syncing = False
        self._retry_sync_at = 0.0
        self._replace_until = 0.0  # a second P before this replaces the postmortem
        self._writing = False

    def start(self) -> None:
        self.app.set_interval(CADENCE_TICK, self._tick)
        for problem in self.comms.problems:  # a broken user template: named once, the shipped one is used
            self.app.notify(str(problem), title="Template", severity="warning", timeout=15, markup=False)

    # -- the keys ---------------------------------------------------------------------

    def can_compose(self) -> bool:
        return self.comms.store.incident is not None

    def compose(self, channel: Channel) -> None:
        """Open the editor for ``channel`` with its unsent draft (text typed
        before is never lost; the editor says which facts changed since) or
        a fresh one; a draft nobody edited is made afresh, so its facts,
        numbers and times are current."""
        from clay_cockpit.screens.compose import ComposeScreen

        if self.comms.store.incident is None:
            self.app.notify("No incident is open: i declares one", title="No incident", severity="warning")
            return
        for screen in self.app.screen_stack:
            if isinstance(screen, ComposeScreen) and screen.channel == channel:
                while self.app.screen is not screen:
                    self.app.pop_screen()
                return
        try:
            opened = self.open(channel)
        except (TimelineError, OSError) as exc:
            self.app.notify(f"could not read the incident: {exc}", title="Timeline", severity="error", markup=False)
            return
        while self.app.screen is not self.main and len(self.app.screen_stack) > 1:
            self.app.pop_screen()
        self.app.clear_notifications()  # the reminders and earlier news: acted on, and they would cover the text
        self.app.push_screen(ComposeScreen(self, opened.draft, changed=opened.changed))
        if channel == Channel.EXTERNAL and not self.comms.component_names:
            self._run(self._component_names_blocking, "Reading the status page's components")

    def open(self, channel: Channel, *, force: bool = False) -> Opened:
        """The draft the editor opens: the unsent one if the responder edited
        it (with the facts that changed since), else one made now from the
        facts — triage's live assessment and the live signals."""
        return self.comms.opened(channel, force=force, assessment=self.assessment(), signals=self.signals())

    def fresh(self, channel: Channel, *, force: bool = False) -> Draft:
        return self.open(channel, force=force).draft

    def signals(self) -> Signals | None:
        return self.desk.signals

    def assessment(self) -> Any:
        t = self.desk.triaged
        return t.assessment if t is not None else None

    def postmortem(self) -> None:
        path = self.desk.timeline_path()
        incident = self.comms.store.incident
        if path is None or incident is None:
            self.app.notify("No incident yet: i declares one", title="No postmortem", severity="warning")
            return
        if self._writing:
            self.app.notify("the postmortem is being written — a moment", title="Not yet")
            return
        force = time.monotonic() < self._replace_until
        self._replace_until = 0.0
        self._writing = True
        evidence = self.evidence()
        self._run(partial(self._postmortem_blocking, path, incident.id, force, evidence), "Writing the postmortem", group="postmortem")

    def evidence(self) -> dict[str, Any] | None:
        """An evidence snapshot of the live signals (UI thread: the signals
        and the assessment are read here), recorded with a message or a
        postmortem so the postmortem's chart and peak reach that moment."""
        from clay_cockpit.incident.evidence import signals_evidence

        signals = self.signals()
        if signals is None or signals.metrics.value is None:
            return None
        extra: dict[str, Any] = {}  # no assessment: triage's branch changes carry those (the postmortem's explanation)
        if self.speed != 1.0:
            extra["clock_speed"] = self.speed  # a drill's: its metrics' times run this much faster
        return signals_evidence(signals, extra=extra)

    def _record_evidence(self, evidence: dict[str, Any] | None, why: str) -> None:
        """In a worker. A failure does not stop the message or the postmortem; it is named."""
        if evidence is None:
            return
        try:
            self.comms.store.record_evidence(evidence, why=why, now=self.clock())
        except (TimelineError, ValueError) as exc:
            line = f"the evidence snapshot ({why}) was not recorded: {exc}"
            self.app.post_message(CommsResult(partial(self.app.notify, line, title="Timeline", severity="warning", markup=False)))

    # -- jobs (one worker, in order) ----------------------------------------------------

    def save(self, draft: Draft, done: Callable[[SaveResult], None]) -> None:
        """Save ``draft`` in the worker (a waiting save of the same draft is replaced)."""
        self._submit(("save", draft.channel), partial(self._save_blocking, draft, done))

    def save_now(self, draft: Draft) -> SaveResult:
        """Save on the UI thread (one fsync): for a screen that is closing."""
        return self.comms.save(draft)

    def saved_after_close(self, result: SaveResult) -> None:
        """The save of an editor that was closed: only a failure is worth a word."""
        if not result.ok:
            self.app.notify(result.error, title="Draft not saved", severity="error", timeout=30, markup=False)

    def discard(self, draft: Draft) -> None:
        """Forget ``draft`` (after the saves queued before it)."""
        self._submit(("discard", draft.id), partial(self._discard_blocking, draft))

    def _discard_blocking(self, draft: Draft) -> None:
        result = self.comms.discard(draft)
        if not result.ok:
            self.app.post_message(CommsResult(partial(self.saved_after_close, result)))

    def send(self, draft: Draft, done: Callable[[SendResult], None], *, new_incident: bool = False) -> bool:
        """Send in the worker, after the saves queued before it. False if a send is on its way."""
        if self.sending is not None:
            return False
        self.sending = draft.channel
        kwargs = {"new_incident": True} if new_incident and draft.channel == Channel.EXTERNAL else {}
        self._submit(("send", draft.id), partial(self._send_blocking, draft, done, kwargs, self.evidence()))
        return True

    def _submit(self, key: tuple[str, object], job: Callable[[], None]) -> None:
        with self._jobs_lock:
            if key[0] == "save":
                kept = [(k, j) for k, j in self._jobs if k != key]
                self._jobs.clear()
                self._jobs.extend(kept)
            if len(self._jobs) >= MAX_JOBS:  # saves only pile up this far if the disk hangs: keep the newest
                self._jobs.popleft()
            self._jobs.append((key, job))
            if self._draining:
                return
            self._draining = True
        self._run(self._drain, "Saving and sending messages", group="comms-jobs")

    def _drain(self) -> None:
        while True:
            with self._jobs_lock:
                if not self._jobs:
                    self._draining = False
                    return
                _, job = self._jobs.popleft()
            try:
                job()
            except Exception as exc:
                self.app.post_message(CommsResult(partial(self._job_broke, type(exc).__name__)))

    def _save_blocking(self, draft: Draft, done: Callable[[SaveResult], None]) -> None:
        result = self.comms.save(draft)
        self.app.post_message(CommsResult(partial(done, result)))

    def _job_broke(self, name: str) -> None:
        self.app.notify(
            f"saving or sending raised {name} — a bug in clay-cockpit; the text is still in the editor",
            title="Comms",
            severity="error",
            timeout=30,
            markup=False,
        )

    def _send_blocking(
        self, draft: Draft, done: Callable[[SendResult], None], kwargs: dict[str, Any], evidence: dict[str, Any] | None = None
    ) -> None:
        try:
            result = self.comms.send(draft, **kwargs)
            if result.ok:
                self._record_evidence(evidence, f"{CHANNEL_NAME[draft.channel].lower()} sent")
        except Exception as exc:
            err = SourceError(
                "comms",
                ErrorKind.BAD_RESPONSE,
                f"the send raised {type(exc).__name__}",
                "a bug in clay-cockpit; the draft is kept — please report it",
            )
            result = SendResult(False, draft, err)
        self.app.post_message(CommsResult(partial(self._sent, result, done)))

    def _sent(self, result: SendResult, done: Callable[[SendResult], None]) -> None:
        self.sending = None
        name = CHANNEL_NAME[result.draft.channel]
        if result.ok:
            note = f" (but: {result.warnings[0]})" if result.warnings else ""
            self.app.notify(
                sent_text(result) + note,
                title=f"{name} sent",
                severity="warning" if result.warnings else "information",
                timeout=10,
                markup=False,
            )
        else:
            title = f"{name} may have been sent — ctrl+s looks first" if result.unsure else f"{name} not sent — the draft is kept"
            self.app.notify(result.line(), title=title, severity="error", timeout=15, markup=False)
        done(result)
        self.desk.refresh_panes()  # the timeline pane and the checklist show the send (or the failure) at once
        self._tick()

    def _postmortem_blocking(self, path: Path, incident_id: str, force: bool, evidence: dict[str, Any] | None = None) -> None:
        from clay_cockpit.incident.postmortem import (
            PostmortemError,
            default_output,
            env_secrets,
            secret_env_names,
            write_postmortem,
        )

        self._record_evidence(evidence, "for the postmortem")
        cfg = self.config
        out = default_output(self.state_dir, incident_id)
        secrets = env_secrets(secret_env_names(cfg))  # (PagerDuty's and Grafana's tokens and the escalation key too)
        try:
            pm = write_postmortem(path, out, force=force, now=self.clock(), templates=self.comms.templates, secrets=secrets, config=cfg)
        except PostmortemError as exc:
            exists = out.exists() and not force
            self.app.post_message(CommsResult(partial(self._postmortem_done, str(exc), None, exists)))
            return
        self.app.post_message(CommsResult(partial(self._postmortem_done, str(out), pm.draft, False, pm.problems)))

    def _postmortem_done(self, text: str, draft: bool | None, exists: bool, problems: tuple[str, ...] = ()) -> None:
        self._writing = False
        if draft is None:
            if exists:
                self._replace_until = time.monotonic() + REPLACE_WINDOW
                self.app.notify(
                    f"{text.split(';')[0]} — P again within {REPLACE_WINDOW:.0f} s replaces it",
                    title="Postmortem not written",
                    severity="warning",
                    timeout=REPLACE_WINDOW,
                    markup=False,
                )
            else:
                self.app.notify(text, title="Postmortem not written", severity="error", timeout=15, markup=False)
            return
        more = " · DRAFT: the incident is still open" if draft else ""
        more += f" · {problems[0]}" if problems else ""
        self.app.notify(f"{text}{more}", title="Postmortem written", timeout=20, markup=False)

    def _component_names_blocking(self) -> None:
        got = self.comms.load_component_names()
        if isinstance(got, dict):
            self.app.post_message(CommsResult(self._components_loaded))

    def _components_loaded(self) -> None:
        from clay_cockpit.screens.compose import ComposeScreen

        for screen in self.app.screen_stack:
            if isinstance(screen, ComposeScreen):
                screen.refresh_meta()

    def _run(self, work: Callable[[], None], description: str, group: str = "comms") -> None:
        self.app.run_worker(work, thread=True, group=group, exit_on_error=False, description=description)

    # -- the cadence -------------------------------------------------------------------

    def channels(self) -> tuple[Channel, ...]:
        """The channels with a cadence: the status page only when it is configured."""
        return (Channel.INTERNAL, Channel.EXTERNAL) if self.config.external_status.page_id else (Channel.INTERNAL,)

    def cadences(self, now: float) -> list[Cadence]:
        incident = self.comms.store.incident
        if incident is None:
            return []
        log = self.comms.log.sync(self.comms.store)
        return [next_update_due(incident, log, now, comms=self.config.comms, channel=ch) for ch in self.channels()]

    def rule_clocks(self) -> list[RuleClock]:
        """A team runbook's update_within rules in force for the incident, on the channels it can send to."""
        if self.comms.store.incident is None or not RUNBOOK.constraints:
            return []
        return self.comms.log.rule_clocks(RUNBOOK.constraints, [ch.value for ch in self.channels()])

    def _tick(self) -> None:
        if not self.main.is_attached:
            return
        timeline = self.comms.store.timeline
        path = timeline.path if timeline is not None else None
        if path != self._synced:  # a new or resumed incident: read its file in a worker first
            if not self._syncing and self.clock() >= self._retry_sync_at:
                self._syncing = True
                self._run(partial(self._sync_blocking, path), "Reading the incident's messages")
            if path is not None:
                return
        now = self.clock()
        try:
            cadences = self.cadences(now)
        except TimelineError as exc:
            self.app.notify(str(exc), title="Timeline", severity="error", markup=False)
            return
        rules = self.rule_clocks()
        self.main.cadence_badge.show(cadences, now, rules)
        if self.app.screen is not self.main:
            # a modal or a view is up (a confirmation being typed, the editor): the
            # top bar says "due"; the reminder waits for the main screen, so it never
            # covers what the responder is reading or typing
            return
        for cad in cadences:
            if self.reminder.poll(cad):
                self._remind(cad)
        for clock in rules:
            state = clock.state(now)
            key = (clock.rule, clock.start, state)
            if state in (RuleState.SOON, RuleState.LATE) and key not in self._rule_fired:
                self._rule_fired.add(key)
                write = CHANNEL_KEY[Channel(clock.channel)]
                title = "Runbook rule missed" if state == RuleState.LATE else "Runbook rule due soon"
                self.app.notify(
                    f"{clock.sentence(now)} — {write} writes it", title=title, severity="warning", timeout=REMIND_SECONDS, markup=False
                )

    def _remind(self, cad: Cadence) -> None:
        key = CHANNEL_KEY[cad.channel]
        what = "Stakeholder update" if cad.channel == Channel.INTERNAL else "Status page update"
        when = "overdue" if cad.state == DueState.OVERDUE else "due"
        self.app.notify(f"{cad.reason} — {key} writes it", title=f"{what} {when}", severity="warning", timeout=REMIND_SECONDS, markup=False)

    def _sync_blocking(self, path: Path | None) -> None:
        try:
            self.comms.sync()
            error = ""
        except TimelineError as exc:
            error = str(exc)
        self.app.post_message(CommsResult(partial(self._synced_to, path, error)))

    def _synced_to(self, path: Path | None, error: str) -> None:
        self._syncing = False
        if error:  # named once; tried again a while later (the countdown waits)
            self._retry_sync_at = self.clock() + SYNC_RETRY
            self.app.notify(f"{error} — the update countdown waits", title="Timeline", severity="error", markup=False)
            return
        self._synced = path
        self._tick()
