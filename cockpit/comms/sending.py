"""Sending a draft — the network half of :class:`~clay_cockpit.comms.core.Comms`:
posting to Slack (opening the incident thread, replying in it, refreshing its
summary) and creating or updating the status page incident, each send a
``message_sent`` or ``message_failed`` event.

A send whose answer was lost may have gone out (``maybe_sent``): it is
recorded as ``message_unsure``, and the next send first looks for it (the
marker a message or incident carries) and adopts what it finds instead of
sending twice; when the look-up itself fails, nothing is sent. What comes
back is a :class:`SendResult`.

Everything here blocks on the network: thread workers only, one send at a
time. The adapters (``clay_cockpit.sources.slack``/``statusapi``) are imported on
first send, in the worker. No Textual.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from clay_cockpit.comms import blocks as blocks
from clay_cockpit.comms.check import Flag, blocking
from clay_cockpit.comms.context import clock_time
from clay_cockpit.comms.state import (
    MESSAGE_CHECKED,
    MESSAGE_FAILED,
    MESSAGE_UNSURE,
    Channel,
    CommsLog,
    Draft,
    Sent,
    SlackThread,
    Unsure,
)
from clay_cockpit.incident.events import one_line, redact_text
from clay_cockpit.incident.lifecycle import NoIncident, Status
from clay_cockpit.incident.timeline import EventKind, TimelineError
from clay_cockpit.signals import ErrorKind, SourceError

if TYPE_CHECKING:
    from clay_cockpit.comms.core import SaveResult
    from clay_cockpit.config import Config
    from clay_cockpit.incident.lifecycle import IncidentStore
    from clay_cockpit.sources.slack import Slack
    from clay_cockpit.sources.statusapi import StatusApi


@dataclass(frozen=True)
class SendResult:
    ok: bool
    draft: Draft  # kept intact when not ok: the UI keeps it in the editor
    error: SourceError | None = None
    sent: tuple[Sent, ...] = ()
    warnings: tuple[str, ...] = ()  # it went out, but something around it did not (summary refresh, recording)
    unsure: bool = False  # not ok, and it may have gone out anyway: the next send looks for it before sending again

    @property
    def retry_after(self) -> float | None:
        return self.error.retry_after if self.error is not None else None

    def line(self) -> str:
        """One line for a notification."""
        if not self.ok and self.unsure:
            return f"May have been sent — {self.error.line() if self.error else 'the answer was lost'}"
        if not self.ok:
            return f"Not sent — {self.error.line() if self.error else 'unknown failure'}"
        where = next((s.where for s in self.sent if s.is_update), "")
        text = f"Sent to {where}" if where else "Sent"
        return text + (f" (but: {self.warnings[0]})" if self.warnings else "")


def _refused(draft: Draft, source: str, kind: ErrorKind, message: str, hint: str) -> SendResult:
    # redacted before one_line cuts: a credential straddling the cut would keep its first half
    return SendResult(False, draft, SourceError(source, kind, one_line(redact_text(message)[0], 200), one_line(redact_text(hint)[0], 200)))


class Sending:
    """The sending methods of :class:`~clay_cockpit.comms.core.Comms` (its base
    class; not used alone). Comms provides the attributes below and
    ``sync``, ``save``, ``check``, ``thread`` and ``slack_messages``."""

    config: Config
    store: IncidentStore
    log: CommsLog
    component_names: dict[str, str]
    _clock: Callable[[], float]
    _slack_api: Slack | None
    _status_api: StatusApi | None
    _send_lock: threading.Lock
    _lock: threading.Lock

    if TYPE_CHECKING:

        def sync(self) -> CommsLog: ...
        def save(self, draft: Draft, *, now: float | None = None) -> SaveResult: ...
        def check(self, draft: Draft) -> tuple[Flag, ...]: ...
        def thread(self) -> SlackThread | None: ...
        def slack_messages(self, draft: Draft) -> tuple[blocks.SlackMessage, blocks.SlackMessage]: ...

    def send(self, draft: Draft, **kwargs: Any) -> SendResult:
        """Send ``draft`` on its channel. Blocking; never raises for network
        or timeline trouble."""
        if draft.channel == Channel.INTERNAL:
            return self.send_internal(draft)
        return self.send_external(draft, **kwargs)

    def _prepare(self, draft: Draft, source: str) -> tuple[Draft, list[str]] | SendResult:
        if self.store.incident is None:
            return _refused(draft, source, ErrorKind.BAD_RESPONSE, "no incident is open", "declare the incident first")
        bad = blocking(self.check(draft))
        if bad:
            return _refused(
                draft, source, ErrorKind.BAD_RESPONSE, f"the draft cannot be sent: {bad[0].message}", "edit the draft and retry"
            )
        saved = self.save(draft)
        return saved.draft, ([saved.error] if saved.error else [])

    def _record(self, kind: str, summary: str, data: Mapping[str, Any], warnings: list[str]) -> int:
        try:
            ev = self.store.record(kind, summary, data, now=self._clock())
        except TimelineError as exc:
            warnings.append(f"not recorded in the timeline: {exc}")
            return 0
        if ev is None:
            return 0
        self.log.observe([ev])
        return ev.seq

    def _failed(self, draft: Draft, err: SourceError, warnings: list[str], sent: list[Sent], unsure: Unsure | None = None) -> SendResult:
        """A send that did not succeed: ``message_failed`` — or, when the
        request may have been carried out (``err.maybe_sent``) and ``unsure``
        says what it was, ``message_unsure``: never "not sent" about
        something that may exist; the next send looks it up first."""
        if unsure is not None and getattr(err, "maybe_sent", False):
            unsure = replace(unsure, error=one_line(err.line(), 300))
            self._record(
                MESSAGE_UNSURE, f"The {unsure.what} may have been sent (the answer was lost): {err.message}", unsure.to_data(), warnings
            )
            hint = f"the {unsure.what} may exist: ctrl+s looks for it first and sends only if it is not there; the draft is kept"
            return SendResult(False, draft, replace(err, hint=hint), tuple(sent), tuple(warnings), unsure=True)
        what = "internal update" if draft.channel == Channel.INTERNAL else "status page update"
        self._record(
            MESSAGE_FAILED,
            f"The {what} was not sent: {err.message}",
            {"channel": draft.channel.value, "draft_id": draft.id, "error": err.line(), "kind": err.kind.value},
            warnings,
        )
        return SendResult(False, draft, err, tuple(sent), tuple(warnings))

    def _marker(self, draft: Draft, role: str) -> tuple[tuple[str, str], ...]:
        """What a message or incident carries so that it can be found again:
        the draft, what it is, and the cockpit's incident."""
        incident = self.store.incident
        return (("draft", draft.id), ("role", role), ("incident", incident.id if incident else ""))

    def _checked(self, pending: Unsure, warnings: list[str]) -> None:
        self._record(
            MESSAGE_CHECKED,
            f"The earlier {pending.what} was looked for and is not there: sending it now",
            {"channel": pending.channel.value, "draft_id": pending.draft_id, "role": pending.role, "found": False},
            warnings,
        )

    def _lookup_failed(self, draft: Draft, pending: Unsure, err: SourceError, warnings: list[str], sent: list[Sent]) -> SendResult:
        """The look-up for an unclear earlier send failed: nothing is sent (it could be a duplicate)."""
        where = "the channel" if pending.channel == Channel.INTERNAL else "the status page"
        got = replace(
            err,
            message=one_line(f"could not check whether the earlier {pending.what} went through: {err.message}", 300),
            hint=f"nothing was sent again; ctrl+s looks again (or look in {where} yourself); the draft is kept",
        )
        return SendResult(False, draft, got, tuple(sent), tuple(warnings), unsure=True)

    def _sent(self, sent: Sent, summary: str, warnings: list[str]) -> Sent:
        seq = self._record(EventKind.MESSAGE_SENT, summary, sent.to_data(), warnings)
        return replace(sent, seq=seq)

    def _tick(self, key: str, seen: str, warnings: list[str]) -> None:
        try:
            self.store.tick(key, auto=True, seen=seen, now=self._clock())
        except (TimelineError, NoIncident) as exc:
            warnings.append(f"checklist not ticked: {exc}")

    def _slack(self) -> Slack:
        with self._lock:
            if self._slack_api is None:
                from clay_cockpit.sources.slack import Slack

                self._slack_api = Slack(self.config.slack)
            return self._slack_api

    def _status(self) -> StatusApi:
        with self._lock:
            if self._status_api is None:
                from clay_cockpit.sources.statusapi import StatusApi

                self._status_api = StatusApi(self.config.external_status)
            return self._status_api

    def send_internal(self, draft: Draft) -> SendResult:
        """Post the update into the incident thread (opening it with the
        summary message first if there is none in the configured channel),
        then bring the summary up to date with chat.update."""
        if not self._send_lock.acquire(blocking=False):
            return _refused(draft, "slack", ErrorKind.BAD_RESPONSE, "another send is in progress", "wait for it to finish")
        try:
            prepared = self._prepare(draft, "slack")
            if isinstance(prepared, SendResult):
                return prepared
            draft, warnings = prepared
            return self._send_internal(draft, warnings)
        finally:
            self._send_lock.release()

    def _open_thread(self, draft: Draft, summary_msg: blocks.SlackMessage, warnings: list[str]) -> tuple[SlackThread, Sent] | SourceError:
        from clay_cockpit.sources.slack import SlackError

        where = self.config.slack.channel
        top = self._slack().post(summary_msg.text, summary_msg.blocks, marker=dict(self._marker(draft, "summary")))
        if isinstance(top, SlackError):
            return top
        sent = self._sent(
            Sent(Channel.INTERNAL, "summary", top.at, draft.id, redact_text(draft.summary)[0], where, top.channel_id, top.ts, top.ts),
            f"Incident thread opened in {where}",
            warnings,
        )
        return SlackThread(where, top.channel_id, top.ts, top.at), sent

    def _unsure_internal(self, draft: Draft, role: str, at: float, thread: SlackThread | None) -> Unsure:
        text = redact_text(draft.summary if role == "summary" else draft.text)[0]
        return Unsure(
            Channel.INTERNAL,
            role,
            draft.id,
            at,
            text,
            status=draft.status,
            slack_channel=thread.channel_id if thread else "",
            thread_ts=thread.thread_ts if thread and role == "update" else "",
            marker=self._marker(draft, role),
        )

    def _find_internal(self, pending: Unsure, warnings: list[str]) -> Sent | None | SourceError:
        """Look in Slack for the message an unclear send may have posted; adopt it when found."""
        where = self.config.slack.channel
        got = self._slack().find_marked(
            dict(pending.marker), channel_id=pending.slack_channel, thread_ts=pending.thread_ts or None, since=pending.at
        )
        if isinstance(got, SourceError) or got is None:
            return got
        if pending.role == "summary":
            return self._sent(
                Sent(Channel.INTERNAL, "summary", got.at, pending.draft_id, pending.text, where, got.channel_id, got.ts, got.ts),
                f"Incident thread found in {where} (it had been opened; the answer was lost)",
                warnings,
            )
        return self._sent(
            Sent(
                Channel.INTERNAL,
                "update",
                got.at,
                pending.draft_id,
                pending.text,
                where,
                got.channel_id,
                got.ts,
                pending.thread_ts,
                status=pending.status,
            ),
            f"Internal update found in {where} (it had been posted; the answer was lost): {pending.text.split(chr(10), 1)[0]}",
            warnings,
        )

    def _send_internal(self, draft: Draft, warnings: list[str]) -> SendResult:
        from clay_cockpit.sources.slack import SlackError

        update_msg, summary_msg = self.slack_messages(draft)
        where = self.config.slack.channel
        sent: list[Sent] = []
        pending = self.sync().pending(Channel.INTERNAL)
        if pending is not None and pending.role in ("summary", "update"):  # an earlier send may have gone out: look before posting
            found = self._find_internal(pending, warnings)
            if isinstance(found, SourceError):
                return self._lookup_failed(draft, pending, found, warnings, sent)
            if found is None:
                self._checked(pending, warnings)
            else:
                sent.append(found)
                warnings.append(f"the earlier {pending.what} had gone out: it was found, not sent twice")
                if pending.role == "update" and pending.draft_id == draft.id and pending.text == redact_text(draft.text)[0]:
                    self._tick("slack_update", f"posted to {where} at {clock_time(found.at)}", warnings)
                    return SendResult(True, draft, None, tuple(sent), tuple(warnings))
        thread = self.sync().thread
        fresh = thread is None or thread.where != where
        if fresh:
            at = self._clock()
            opened = self._open_thread(draft, summary_msg, warnings)
            if isinstance(opened, SourceError):
                return self._failed(draft, opened, warnings, sent, self._unsure_internal(draft, "summary", at, None))
            thread, first = opened
            sent.append(first)
        assert thread is not None
        at = self._clock()
        marker = dict(self._marker(draft, "update"))
        reply = self._slack().post(update_msg.text, update_msg.blocks, thread_ts=thread.thread_ts, channel=thread.channel_id, marker=marker)
        if isinstance(reply, SlackError) and reply.slack_error == "thread_not_found" and not fresh:
            warnings.append("the old incident thread was gone; a new one was opened")
            at = self._clock()
            opened = self._open_thread(draft, summary_msg, warnings)
            if isinstance(opened, SourceError):
                return self._failed(draft, opened, warnings, sent, self._unsure_internal(draft, "summary", at, None))
            thread, first = opened
            sent.append(first)
            fresh = True
            at = self._clock()
            reply = self._slack().post(
                update_msg.text, update_msg.blocks, thread_ts=thread.thread_ts, channel=thread.channel_id, marker=marker
            )
        if isinstance(reply, SourceError):
            return self._failed(draft, reply, warnings, sent, self._unsure_internal(draft, "update", at, thread))
        text = redact_text(draft.text)[0]
        sent.append(
            self._sent(
                Sent(
                    Channel.INTERNAL,
                    "update",
                    reply.at,
                    draft.id,
                    text,
                    where,
                    reply.channel_id,
                    reply.ts,
                    thread.thread_ts,
                    status=draft.status,
                    next_update_at=draft.next_update_at,
                ),
                f"Internal update posted to {where}: {text.split(chr(10), 1)[0]}",
                warnings,
            )
        )
        if not fresh:
            edit = self._slack().update(thread.channel_id, thread.thread_ts, summary_msg.text, summary_msg.blocks)
            if isinstance(edit, SourceError):
                warnings.append(f"the summary at the top of the thread was not refreshed: {edit.message}")
            else:
                sent.append(
                    self._sent(
                        Sent(
                            Channel.INTERNAL,
                            "summary_edit",
                            edit.at,
                            draft.id,
                            redact_text(draft.summary)[0],
                            where,
                            thread.channel_id,
                            thread.thread_ts,
                            thread.thread_ts,
                        ),
                        f"Thread summary refreshed in {where}",
                        warnings,
                    )
                )
        self._tick("slack_update", f"posted to {where} at {clock_time(reply.at)}", warnings)
        return SendResult(True, draft, None, tuple(sent), tuple(warnings))

    def send_external(self, draft: Draft, *, new_incident: bool = False) -> SendResult:
        """Create the status page incident (none open, or ``new_incident``) or
        post an update to it, with the draft's status and component statuses."""
        if not self._send_lock.acquire(blocking=False):
            return _refused(draft, "statusapi", ErrorKind.BAD_RESPONSE, "another send is in progress", "wait for it to finish")
        try:
            prepared = self._prepare(draft, "statusapi")
            if isinstance(prepared, SendResult):
                return prepared
            draft, warnings = prepared
            api = self._status()
            body, title = redact_text(draft.text)[0], redact_text(draft.title)[0]
            status = draft.status or Status.INVESTIGATING.value
            comps = draft.component_map
            sent: list[Sent] = []
            pending = self.sync().pending(Channel.EXTERNAL)
            if pending is not None:  # an earlier create or update may have been made: look before sending again
                found = self._find_external(pending, warnings)
                if isinstance(found, SourceError):
                    return self._lookup_failed(draft, pending, found, warnings, sent)
                if found is None:
                    self._checked(pending, warnings)
                else:
                    sent.append(found)
                    warnings.append(f"the earlier {pending.what} had been made: it was found, not sent twice")
                    if pending.draft_id == draft.id and (pending.text, pending.title, pending.status) == (body, title, status):
                        self._tick("status_page_update", f"status page {found.status} at {clock_time(found.at)}", warnings)
                        return SendResult(True, draft, None, tuple(sent), tuple(warnings))
                    new_incident = False  # what was found is the incident; the draft's newer text goes to it as an update
            page = self.sync().page
            at = self._clock()
            if new_incident or page is None or page.status == Status.RESOLVED:
                role = "page_create"
                marker = self._marker(draft, role)
                got = api.create_incident(name=title, status=status, body=body, components=comps, marker=dict(marker))
            else:
                role, marker = "page_update", ()
                got = api.update_incident(page.incident_id, status=status, body=body, components=comps, name=title)
            if isinstance(got, SourceError):
                if role == "page_update" and got.status_code == 404:
                    got = replace(got, hint="the incident is gone from the status page: send it as a new incident")
                unsure = Unsure(
                    Channel.EXTERNAL,
                    role,
                    draft.id,
                    at,
                    body,
                    title,
                    status,
                    page_incident_id=page.incident_id if role == "page_update" and page else "",
                    marker=marker,
                )
                return self._failed(draft, got, warnings, sent, unsure)
            where = "status page" + (f" ({got.shortlink})" if got.shortlink else "")
            done = self._sent(
                Sent(
                    Channel.EXTERNAL,
                    role,
                    self._clock(),
                    draft.id,
                    body,
                    where,
                    page_incident_id=got.id,
                    status=got.status,
                    shortlink=got.shortlink,
                    next_update_at=draft.next_update_at,
                ),
                f"Status page {'incident created' if role == 'page_create' else 'updated'} ({got.status}): {title}",
                warnings,
            )
            self._tick("status_page_update", f"status page {got.status} at {clock_time(done.at)}", warnings)
            return SendResult(True, draft, None, (*sent, done), tuple(warnings))
        finally:
            self._send_lock.release()

    def _find_external(self, pending: Unsure, warnings: list[str]) -> Sent | None | SourceError:
        """Look on the status page for what an unclear send may have made: the
        unresolved incident carrying our marker (a create), or the incident's
        newest update being ours (an update). Adopted when found."""
        api = self._status()
        if pending.role == "page_create":
            got = api.find_marked(dict(pending.marker))
        else:
            got = api.get_incident(pending.page_incident_id)
            if not isinstance(got, SourceError) and (got.latest_body != pending.text or got.status != pending.status):
                got = None
        if isinstance(got, SourceError) or got is None:
            return got
        where = "status page" + (f" ({got.shortlink})" if got.shortlink else "")
        made = "incident found" if pending.role == "page_create" else "update found"
        return self._sent(
            Sent(
                Channel.EXTERNAL,
                pending.role,
                self._clock(),
                pending.draft_id,
                pending.text,
                where,
                page_incident_id=got.id,
                status=got.status,
                shortlink=got.shortlink,
            ),
            f"Status page {made} ({got.status}; it had been made, the answer was lost): {pending.title}",
            warnings,
        )

    def load_component_names(self) -> dict[str, str] | SourceError:
        """Blocking: the status page's component names (for the preview and
        the compose screen's component list). Cached on success."""
        got = self._status().components()
        if isinstance(got, SourceError):
            return got
        with self._lock:
            self.component_names = {c.id: c.name for c in got}
            return dict(self.component_names)

    def refresh_summary(self, draft: Draft) -> SendResult:
        """Retry only the chat.update of the thread's summary (after a send
        that warned it was not refreshed)."""
        thread = self.thread()
        if thread is None:
            return _refused(draft, "slack", ErrorKind.BAD_RESPONSE, "there is no incident thread yet", "send an update first")
        _, summary_msg = self.slack_messages(draft)
        warnings: list[str] = []
        edit = self._slack().update(thread.channel_id, thread.thread_ts, summary_msg.text, summary_msg.blocks)
        if isinstance(edit, SourceError):
            return SendResult(False, draft, edit)
        sent = self._sent(
            Sent(
                Channel.INTERNAL,
                "summary_edit",
                edit.at,
                draft.id,
                redact_text(draft.summary)[0],
                thread.where,
                thread.channel_id,
                thread.thread_ts,
                thread.thread_ts,
            ),
            f"Thread summary refreshed in {thread.where}",
            warnings,
        )
        return SendResult(True, draft, None, (sent,), tuple(warnings))
