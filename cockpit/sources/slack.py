"""Slack, through slack-sdk's WebClient: post into the incident channel,
reply in the incident thread, rewrite the summary message with chat.update.

Blocking (urllib under the hood): call it from a thread worker. Every call
has a timeout; retries are bounded and use slack-sdk's retry handlers:

- :class:`~clay_cockpit.sources.slack_retry.RateLimitRetry` (a RateLimitErrorRetryHandler) retries a 429 after
  the Retry-After the server asked for, but only while that wait is at most
  ``max_wait`` seconds and at most ``max_retries`` times; past that the call
  returns a ``rate_limited`` :class:`SlackError` carrying ``retry_after``;
- :class:`~clay_cockpit.sources.slack_retry.ConnectRetry` (a ConnectionErrorRetryHandler) retries a failed
  connection — for chat.postMessage only when Slack cannot have received the
  request (connection refused, host not found), so a retry never posts a
  message twice; reads and chat.update (idempotent) also after a reset.

A chat.postMessage whose answer was lost (a timeout or reset after the
request left, Slack's ``fatal_error``/``internal_error``, a gateway's
500/502/504, a 200 that is not JSON or not UTF-8) comes back with
``maybe_sent``: the message may exist. Every message carries a marker in its
metadata, and :meth:`Slack.find_marked` looks for it before anything is
posted again.

Every failure comes back as a :class:`SlackError` (a
:class:`~clay_cockpit.signals.SourceError`) in words a responder understands, with
a hint; nothing raises. The token is read from the environment variable
named by ``slack.token_env`` on every call (a rotated token is picked up); it
is never stored on the object, logged, or put in a message.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.client import RemoteDisconnected
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from clay_cockpit.config import SlackConfig
from clay_cockpit.redact import register
from clay_cockpit.sanitise import clean, clean_tree
from clay_cockpit.signals import ErrorKind, SourceError
from clay_cockpit.sources import _identity as identity
from clay_cockpit.sources._errors import (
    make_error,
    one_line,
    parse_retry_after,
    safe_url,
    scrub,
    unexpected,
)
from clay_cockpit.sources.slack_retry import ConnectRetry, RateLimitRetry, _header, _never_reached

SOURCE = "slack"
DEFAULT_TIMEOUT = 10.0
DEFAULT_RETRIES = 2
DEFAULT_MAX_WAIT = 30.0  # seconds of Retry-After we are willing to sleep in a worker, per retry
_log = logging.getLogger(__name__)
_log.addHandler(logging.NullHandler())  # slack-sdk logs failures here; never onto the cockpit's terminal
_POSTS = ("chat.postMessage",)  # not idempotent: an unclear answer means "may have been posted"
MARKER_EVENT = "clay_cockpit_message"  # the metadata event type of every message the cockpit posts


@dataclass(frozen=True, slots=True)
class SlackError(SourceError):
    """A SourceError plus Slack's own error code (``invalid_auth``,
    ``channel_not_found``, ``thread_not_found`` …; empty for transport failures)."""

    slack_error: str = ""
    maybe_sent: bool = False  # the request may have reached Slack and been done (timeout, reset, 5xx, a garbled 2xx answer)


@dataclass(frozen=True, slots=True)
class Posted:
    """A message Slack accepted (posted or updated)."""

    channel_id: str  # "C0INCDRILL": chat.update needs the id, not the name
    ts: str  # the message's id in the channel
    thread_ts: str | None  # the thread it is in (None: a top-level message)
    text: str
    at: float  # when Slack accepted it (our clock)


@dataclass(frozen=True, slots=True)
class SlackIdentity:
    """auth.test + conversations.info: who we are and where we post."""

    team: str
    user: str
    channel_id: str
    channel_name: str
    is_member: bool


# --------------------------------------------------------------------------
# The adapter


class Slack:
    """The incident channel in Slack. Blocking; every method returns a value
    or a :class:`SlackError` and never raises."""

    name = SOURCE

    def __init__(
        self,
        config: SlackConfig,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_RETRIES,
        max_wait: float = DEFAULT_MAX_WAIT,
        sleep: Callable[[float], None] = time.sleep,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_wait = max_wait
        self._sleep = sleep
        self._environ = environ
        self._clock = clock
        self._base = config.api_url if config.api_url.endswith("/") else config.api_url + "/"

    # -- plumbing

    def _token(self) -> str:
        env = os.environ if self._environ is None else self._environ
        token = (env.get(self.config.token_env) or "").strip() if self.config.token_env else ""
        register(token, "slack token")
        return token

    def _client(self, token: str) -> WebClient:
        return WebClient(
            token=token,
            base_url=self._base,
            timeout=self.timeout,  # type: ignore[arg-type]  # urllib takes float seconds
            logger=_log,
            user_agent_prefix=identity.user_agent(),
            retry_handlers=[
                RateLimitRetry(self.max_retries, self.max_wait, self._sleep),
                ConnectRetry(self.max_retries, self._sleep),
            ],
        )

    def _no_token(self) -> SlackError:
        env = self.config.token_env
        if not env:
            return _error(
                ErrorKind.AUTH_EXPIRED,
                "no Slack token: slack.token_env is empty in the config",
                "set slack.token_env to the environment variable that holds the bot token (xoxb-…)",
                "not_authed",
            )
        return _error(
            ErrorKind.AUTH_EXPIRED,
            f"no Slack token: ${env} is not set",
            f"export {env}=<a bot token with chat:write> in the cockpit's environment, then retry",
            "not_authed",
        )

    def _call(self, method: str, what: str, **kwargs: Any) -> dict[str, Any] | SlackError:
        """One Web API call (slack-sdk's typed method, which encodes the
        arguments as Slack wants them for that method) → its JSON body, or
        the failure in words."""
        token = self._token()
        if not token:
            return self._no_token()
        try:
            client = self._client(token)
            response = getattr(client, method.replace(".", "_"))(**kwargs)
            data = response.data
            if not isinstance(data, dict):
                return _error(
                    ErrorKind.BAD_RESPONSE,
                    f"Slack answered {what} with something that is not JSON",
                    f"check slack.api_url ({safe_url(self._base)}) points at the Slack Web API",
                    secrets=(token,),
                    maybe_sent=method in _POSTS,
                )
            return data
        except SlackApiError as exc:
            return self._api_error(exc, method, what, token)
        except ValueError as exc:  # a body that starts like JSON and is not, or is not UTF-8 (slack-sdk parses it for the retry handlers)
            return _error(
                ErrorKind.BAD_RESPONSE,
                f"Slack answered {what} with broken JSON ({type(exc).__name__})",
                f"check slack.api_url ({safe_url(self._base)}) points at the Slack Web API; if it did, retry — "
                "a message may have been posted, look in the channel first",
                secrets=(token,),
                maybe_sent=method in _POSTS,
            )
        except (URLError, OSError) as exc:  # refused, DNS, reset, timeout (TimeoutError is an OSError)
            return self._transport_error(exc, method, what, token)
        except SlackClientError as exc:
            return _error(
                ErrorKind.BAD_RESPONSE,
                f"Slack client refused the request for {what}: {one_line(scrub(str(exc), (token,)), 120)}",
                "check slack.api_url in the config",
                secrets=(token,),
            )
        except Exception as exc:  # the outermost net: the UI must never see a raise
            err = unexpected(SOURCE, exc, f"Slack's answer to {what}", secrets=(token,))
            return SlackError(err.source, err.kind, err.message, err.hint)

    def _api_error(self, exc: SlackApiError, method: str, what: str, token: str) -> SlackError:
        resp = exc.response
        status = getattr(resp, "status_code", None)
        data = resp.data if isinstance(getattr(resp, "data", None), dict) else {}
        code = str(data.get("error") or "")
        retry_after = parse_retry_after(_header(getattr(resp, "headers", None), "retry-after"))
        if retry_after is None and isinstance(data.get("retry_after"), (int, float)):
            retry_after = float(data["retry_after"])
        kind, message, hint = _explain(code, status, what, self.config, retry_after, self.max_retries)
        # Slack's internal_error/fatal_error and a gateway's 500/502/504 may come after the message was stored
        maybe = method in _POSTS and (
            code in ("internal_error", "fatal_error", "request_timeout")
            or status in (500, 502, 504)
            or code.startswith("Received a response in a non-JSON format")
            and status is not None
            and status < 300
        )
        return _error(kind, message, hint, code, status_code=status, retry_after=retry_after, secrets=(token,), maybe_sent=maybe)

    def _transport_error(self, exc: BaseException, method: str, what: str, token: str) -> SlackError:
        where = safe_url(self._base)
        reason = exc.reason if isinstance(exc, URLError) else exc
        if isinstance(reason, (TimeoutError, socket.timeout)) or "timed out" in str(reason).lower():
            hint = "check the network path to Slack; the draft is kept"
            if method == "chat.postMessage":
                hint = "it may have been posted anyway: look in the channel before you retry; the draft is kept"
            return _error(
                ErrorKind.TIMEOUT,
                f"Slack did not answer {what} within {self.timeout:g}s",
                hint,
                secrets=(token,),
                maybe_sent=method in _POSTS,
            )
        if isinstance(reason, ConnectionRefusedError) or "refused" in str(reason).lower():
            why = "connection refused"
        elif isinstance(reason, socket.gaierror):
            why = "host name not found"
        elif isinstance(reason, (ConnectionResetError, RemoteDisconnected)):
            why = "the connection dropped"
        else:
            why = one_line(scrub(str(reason), (token,)), 100) or type(reason).__name__
        never = _never_reached(exc)
        tries = f" (tried {self.max_retries + 1} times)" if never and self.max_retries else ""
        return _error(
            ErrorKind.UNREACHABLE,
            f"cannot reach Slack at {where} for {what}: {why}{tries}",
            "check the network (VPN, proxy) and slack.api_url; the draft is kept — retry when Slack is reachable",
            secrets=(token,),
            maybe_sent=method in _POSTS and not never,
        )

    # -- what the cockpit does

    def identity(self) -> SlackIdentity | SlackError:
        """auth.test, then conversations.info on the configured channel
        (``clay-cockpit check`` and the compose screen's "can I post?")."""
        auth = self._call("auth.test", "the token check")
        if isinstance(auth, SlackError):
            return auth
        info = self._call("conversations.info", f"the lookup of {self.config.channel}", channel=_channel_ref(self.config.channel))
        if isinstance(info, SlackError):
            return info
        chan = found if isinstance(found := info.get("channel"), dict) else {}
        return SlackIdentity(
            team=str(auth.get("team", "")),
            user=str(auth.get("user", "")),
            channel_id=str(chan.get("id", "")),
            channel_name=str(chan.get("name", "")),
            is_member=bool(chan.get("is_member", False)),
        )

    def auth(self) -> dict[str, Any] | SlackError:
        """auth.test: the token accepted; its answer names the bot (``user``) and workspace (``team``)."""
        return self._call("auth.test", "the token check")

    def find_channel(self, max_pages: int = 50) -> dict[str, Any] | SlackError:
        """The configured channel resolved by name (conversations.list, paginated,
        every page under the client's timeout): Slack's channel object, or a
        ``channel_not_found`` SlackError when no page has it. An ID (``C…``) is
        looked up the same way."""
        want = self.config.channel.strip().lstrip("#")
        cursor = ""
        for _ in range(max_pages):
            data = self._call(
                "conversations.list",
                f"the search for {self.config.channel}",
                limit=200,
                types="public_channel,private_channel",
                exclude_archived=True,
                **({"cursor": cursor} if cursor else {}),
            )
            if isinstance(data, SlackError):
                return data
            for chan in data.get("channels") or ():
                if isinstance(chan, dict) and want in (chan.get("name"), chan.get("id")):
                    return chan
            meta = found if isinstance(found := data.get("response_metadata"), dict) else {}
            cursor = str(meta.get("next_cursor") or "")
            if not cursor:
                break
        return _error(
            ErrorKind.FORBIDDEN,
            f"no channel named {self.config.channel} is visible to the bot (channel_not_found)",
            "check slack.channel in the config (the name without typos; a private channel must invite the bot first)",
            "channel_not_found",
        )

    def channel_info(self, channel_id: str) -> dict[str, Any] | SlackError:
        """conversations.info on one channel ID: its object, with ``is_member``."""
        data = self._call("conversations.info", f"the lookup of {self.config.channel}", channel=channel_id)
        if isinstance(data, SlackError):
            return data
        return (
            found
            if isinstance(found := data.get("channel"), dict)
            else _error(
                ErrorKind.BAD_RESPONSE,
                "Slack's conversations.info answer has no channel object",
                f"check slack.api_url ({safe_url(self._base)}) points at the Slack Web API",
            )
        )

    def post(
        self,
        text: str,
        blocks: Sequence[Mapping[str, Any]] | None = None,
        *,
        thread_ts: str | None = None,
        channel: str | None = None,
        marker: Mapping[str, str] | None = None,
    ) -> Posted | SlackError:
        """chat.postMessage: a top-level message (opens a thread) or, with
        ``thread_ts``, a reply in that thread. ``text`` is the plain-text
        fallback Slack shows in notifications; ``blocks`` the Block Kit layout.
        ``marker`` goes into the message's metadata (event type
        ``clay_cockpit_message``) so :meth:`find_marked` can find the message
        when Slack's answer was lost. Sent with ``parse=none`` and
        ``link_names=false``: a bare ``@here`` in the text stays text."""
        target = channel or self.config.channel
        what = "the reply in the incident thread" if thread_ts else f"the message to {target}"
        text = clean(text)  # what leaves is inert too (clay_cockpit.sanitise): no control or bidi character in a message
        args: dict[str, Any] = {
            "channel": _channel_ref(target),
            "text": text,
            "unfurl_links": False,
            "unfurl_media": False,
            "parse": "none",
            "link_names": False,
        }
        if blocks:
            args["blocks"] = clean_tree(list(blocks))
        if thread_ts:
            args["thread_ts"] = thread_ts
        if marker:
            args["metadata"] = {"event_type": MARKER_EVENT, "event_payload": dict(marker)}
        data = self._call("chat.postMessage", what, **args)
        if isinstance(data, SlackError):
            return data
        ts, chan = data.get("ts"), data.get("channel")
        if not isinstance(ts, str) or not isinstance(chan, str):
            return _error(
                ErrorKind.BAD_RESPONSE,
                f"Slack accepted {what} but sent no message id",
                "check slack.api_url points at the Slack Web API; look in the channel before retrying",
                maybe_sent=True,
            )
        return Posted(chan, ts, thread_ts, text, self._clock())

    def find_marked(
        self, marker: Mapping[str, str], *, channel_id: str = "", thread_ts: str | None = None, since: float = 0.0, limit: int = 200
    ) -> Posted | None | SlackError:
        """The message we posted with ``marker`` (its metadata), if Slack has
        it: in the thread ``thread_ts`` (conversations.replies) or at the top
        of the channel (conversations.history), posted at or after ``since``
        (epoch seconds, our clock; ten minutes of skew are allowed). None when
        it is not there; a SlackError when Slack could not be asked."""
        if not channel_id:
            chan = self.find_channel()
            if isinstance(chan, SlackError):
                return chan
            channel_id = str(chan.get("id") or "")
        oldest = f"{max(0.0, since - 600.0):.6f}" if since else "0"  # ten minutes of clock skew: the marker is what matches
        args: dict[str, Any] = {"channel": channel_id, "limit": max(1, min(limit, 1000)), "include_all_metadata": True, "oldest": oldest}
        if thread_ts:
            data = self._call("conversations.replies", "the look for the earlier message", ts=thread_ts, **args)
        else:
            data = self._call("conversations.history", "the look for the earlier message", **args)
        if isinstance(data, SlackError):
            return data
        messages = found if isinstance(found := data.get("messages"), list) else []
        want = {str(k): str(v) for k, v in marker.items()}
        for msg in messages[:limit]:
            meta = msg.get("metadata") if isinstance(msg, dict) else None
            payload = meta.get("event_payload") if isinstance(meta, dict) and meta.get("event_type") == MARKER_EVENT else None
            if isinstance(payload, dict) and all(str(payload.get(k, "")) == v for k, v in want.items()) and isinstance(msg.get("ts"), str):
                if thread_ts and msg["ts"] == thread_ts:
                    continue  # the thread's parent, not a reply
                return Posted(channel_id, msg["ts"], thread_ts, str(msg.get("text") or ""), self._clock())
        return None

    def update(self, channel_id: str, ts: str, text: str, blocks: Sequence[Mapping[str, Any]] | None = None) -> Posted | SlackError:
        """chat.update of our own message ``ts`` in ``channel_id`` (an id, as
        :class:`Posted` gives it)."""
        text = clean(text)  # inert, as in post()
        args: dict[str, Any] = {"channel": channel_id, "ts": ts, "text": text, "parse": "none", "link_names": False}
        if blocks:
            args["blocks"] = clean_tree(list(blocks))
        data = self._call("chat.update", "the summary update", **args)
        if isinstance(data, SlackError):
            return data
        msg = found if isinstance(found := data.get("message"), dict) else {}
        return Posted(str(data.get("channel") or channel_id), str(data.get("ts") or ts), msg.get("thread_ts"), text, self._clock())

    def replies(self, channel_id: str, thread_ts: str, limit: int = 200) -> tuple[dict[str, Any], ...] | SlackError:
        """conversations.replies: the thread's messages, parent first (bounded by ``limit``)."""
        data = self._call("conversations.replies", "the thread lookup", channel=channel_id, ts=thread_ts, limit=max(1, min(limit, 1000)))
        if isinstance(data, SlackError):
            return data
        messages = data.get("messages")
        return tuple(m for m in messages[:limit] if isinstance(m, dict)) if isinstance(messages, list) else ()


# --------------------------------------------------------------------------
# Words


def _channel_ref(channel: str) -> str:
    """What Slack accepts as ``channel``: an id as is, a name without the ``#``."""
    return channel.strip().lstrip("#")


def _error(
    kind: ErrorKind,
    message: str,
    hint: str,
    slack_error: str = "",
    *,
    status_code: int | None = None,
    retry_after: float | None = None,
    secrets: tuple[str, ...] = (),
    maybe_sent: bool = False,
) -> SlackError:
    base = make_error(SOURCE, kind, message, hint, status_code=status_code, retry_after=retry_after, secrets=secrets)
    return SlackError(base.source, base.kind, base.message, base.hint, base.at, base.status_code, base.retry_after, slack_error, maybe_sent)


_AUTH = {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive", "no_permission", "org_login_required"}
_CHANNEL = {"channel_not_found", "not_in_channel", "is_archived", "restricted_action", "cant_update_message"}
_SERVER = {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}


def _explain(
    code: str, status: int | None, what: str, config: SlackConfig, retry_after: float | None, retries: int
) -> tuple[ErrorKind, str, str]:
    """(kind, message, hint) for a Slack error code / HTTP status."""
    env, chan = config.token_env or "the token variable", config.channel
    if status == 429 or code in ("ratelimited", "rate_limited"):
        wait = f"; it asks to wait {retry_after:.0f}s" if retry_after is not None else ""
        tried = f" after {retries} retr{'y' if retries == 1 else 'ies'}" if retries else ""
        when = f"in {retry_after:.0f}s" if retry_after is not None else "in a minute"
        return (
            ErrorKind.RATE_LIMITED,
            f"Slack is rate-limiting {what}{tried}{wait}",
            f"the draft is kept — retry {when}; other tools posting with the same token share the limit",
        )
    if code == "not_authed":
        return ErrorKind.AUTH_EXPIRED, f"Slack received no token with {what} (not_authed)", f"check ${env} holds the bot token (xoxb-…)"
    if code in _AUTH:
        return (
            ErrorKind.AUTH_EXPIRED,
            f"Slack refused the token in ${env} ({code})",
            f"the token is wrong, revoked or for another workspace: put a valid bot token in ${env} and retry; the draft is kept",
        )
    if code == "missing_scope":
        return (
            ErrorKind.FORBIDDEN,
            f"the Slack token lacks a permission {what} needs (missing_scope)",
            "add the chat:write scope to the Slack app and reinstall it",
        )
    if code == "channel_not_found":
        return (
            ErrorKind.FORBIDDEN,
            f"Slack has no channel {chan} this token can see (channel_not_found)",
            "check slack.channel in the config; for a private channel, /invite the bot into it first",
        )
    if code == "not_in_channel":
        return ErrorKind.FORBIDDEN, f"the bot is not a member of {chan} (not_in_channel)", f"/invite the bot into {chan}, then retry"
    if code == "is_archived":
        return ErrorKind.FORBIDDEN, f"{chan} is archived (is_archived)", "unarchive it or set slack.channel to the live incident channel"
    if code in _CHANNEL:
        return ErrorKind.FORBIDDEN, f"Slack did not allow {what} in {chan} ({code})", "check the bot's permissions in that channel"
    if code == "thread_not_found":
        return (
            ErrorKind.BAD_RESPONSE,
            "the incident thread no longer exists in Slack (thread_not_found)",
            "a new thread will be opened on the next send",
        )
    if code == "message_not_found":
        return (
            ErrorKind.BAD_RESPONSE,
            "the summary message no longer exists in Slack (message_not_found)",
            "a new summary is posted with the next update",
        )
    if code in ("msg_too_long", "invalid_blocks", "invalid_blocks_format", "no_text", "too_many_attachments"):
        return ErrorKind.BAD_RESPONSE, f"Slack rejected the message ({code})", "shorten or simplify the message and retry"
    if (status is not None and status >= 500) or code in _SERVER:
        shown = code or (f"HTTP {status}" if status else "server error")
        return (
            ErrorKind.SERVER_ERROR,
            f"Slack failed to handle {what} ({shown})",
            "Slack's side failed, not the message; the draft is kept — retry shortly",
        )
    if code.startswith("Received a response in a non-JSON format"):
        return (
            ErrorKind.BAD_RESPONSE,
            f"Slack answered {what} with something that is not JSON (HTTP {status})",
            "check slack.api_url points at the Slack Web API (https://slack.com/api/)",
        )
    shown = code or f"HTTP {status}"
    return ErrorKind.BAD_RESPONSE, f"Slack refused {what} ({one_line(shown, 60)})", "see Slack's API docs for that error; the draft is kept"
