"""Checks of a draft before it goes out, for the compose screen to show.

The external (status page) draft is for customers: it should carry no
internal names (deployment, namespace, Secret, ConfigMap, flag keys, kube
context, channel, incident id, the responder's host), no hosts or URLs, no
pod names, no internal jargon and no numbers (times of day and dates are
fine). The shipped templates produce none of these; each one the responder
types is flagged as a *warning* with its position, so the UI can highlight
it — it may be meant. Both drafts are checked for secrets (sent as
``[redacted]``) and for length and emptiness (*errors*: the send is refused).

Pure standard library.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from clay_cockpit.incident.events import Event, EventKind, redact_text

if TYPE_CHECKING:
    from clay_cockpit.config import Config

MAX_TEXT = 3000  # characters: Slack's section limit
MAX_BYTES = 6000  # UTF-8 bytes: what one timeline event (8 KB, with the summary) keeps whole
MAX_TITLE = 150
MIN_TERM = 3


class Level(StrEnum):
    WARNING = "warning"  # shown; the responder may send anyway
    ERROR = "error"  # the send is refused until it is fixed


@dataclass(frozen=True)
class Flag:
    """One finding in a draft. ``start``/``end`` index ``field``'s text
    (both 0 when it is about the whole text)."""

    kind: str  # internal_name | host | pod | number | jargon | secret | length | empty
    level: Level
    text: str  # what was found
    message: str  # one line for the UI
    start: int = 0
    end: int = 0
    field: str = "text"  # "text" or "title"

    def line(self) -> str:
        return f"{self.level.value}: {self.message}"


# --------------------------------------------------------------------------
# What counts as internal

_POD = re.compile(r"\b[a-z0-9]+(?:-[a-z0-9]+)*-[a-z0-9]{6,10}-[a-z0-9]{5}\b")
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s<>\"')]*[^\s<>\"').,;:!?]", re.IGNORECASE)
_IP = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?\b")
_HOST = re.compile(
    r"\b(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:com|net|org|io|dev|cloud|local|internal|svc|lan|corp|ai|app|co|cluster)\b(?::\d{1,5})?"
    r"|\blocalhost(?::\d{1,5})?\b",
    re.IGNORECASE,
)
_ALLOWED_NUMBERS = re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?\b|\b\d{4}-\d{2}-\d{2}\b")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*(?:\s?%|/s\b|\s?ms\b)?")
_JARGON = (
    "pod", "pods", "kubernetes", "k8s", "kubectl", "namespace", "configmap", "deployment", "replicaset", "container",
    "prometheus", "oomkilled", "crashloopbackoff", "rollout", "secret", "api key", "token", "clay", "triage",
    "fallback flag", "queuing flag", "p1", "p2", "p3", "p4",
)  # fmt: skip
_JARGON_RE = re.compile(
    r"(?<![\w-])(?:" + "|".join(re.escape(j) for j in sorted(_JARGON, key=len, reverse=True)) + r")(?![\w-])", re.IGNORECASE
)


def _host_of(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def internal_terms(config: Config | None, events: Iterable[Event] = ()) -> frozenset[str]:
    """The names that identify our systems: from the config (namespace,
    deployments, selector values, container, context, Secret, ConfigMap and
    flag keys, Slack channel, page and component ids, our hosts) and from
    the timeline (incident id, pod names in evidence, responders' user@host)."""
    terms: set[str] = set()
    if config is not None:
        k = config.kube
        terms |= {
            k.namespace,
            k.container,
            k.context,
            k.secret.name,
            k.secret.key,
            k.flags.configmap,
            k.flags.fallback_key,
            k.flags.queuing_key,
            *k.deployments,
        }
        terms |= {part.split("=", 1)[-1].strip() for part in k.selector.split(",")}
        terms |= {
            config.slack.channel,
            config.slack.channel.lstrip("#"),
            config.external_status.page_id,
            *config.external_status.component_ids,
        }
        terms |= {_host_of(u) for u in (config.health.url, config.metrics.url, *config.metrics.backup_urls, config.external_status.api_url)}
    for ev in events:
        if ev.kind == EventKind.INCIDENT_DECLARED and isinstance(ev.data.get("id"), str):
            terms.add(ev.data["id"])
        if ev.actor:
            terms |= {ev.actor, ev.actor.split("@")[-1]}
        if ev.kind == EventKind.EVIDENCE_SNAPSHOT:
            raw_pods = ev.data.get("pods")
            pods = raw_pods if isinstance(raw_pods, Mapping) else {}
            for p in pods.get("not_ready") or ():
                if isinstance(p, Mapping) and isinstance(p.get("name"), str):
                    terms.add(p["name"])
    return frozenset(t for t in terms if isinstance(t, str) and len(t.strip()) >= MIN_TERM and t.lower() not in ("localhost",))


# --------------------------------------------------------------------------
# Checks


def _overlaps(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(s < end and start < e for s, e in spans)


def _common(text: str, field: str, limit: int) -> list[Flag]:
    flags: list[Flag] = []
    if not text.strip():
        flags.append(Flag("empty", Level.ERROR, "", f"the {field} is empty", field=field))
    if len(text) > limit:
        flags.append(
            Flag("length", Level.ERROR, "", f"the {field} is {len(text)} characters; at most {limit} fit", limit, len(text), field)
        )
    elif len(text.encode("utf-8")) > MAX_BYTES:
        flags.append(
            Flag(
                "length",
                Level.ERROR,
                "",
                f"the {field} is {len(text.encode('utf-8'))} bytes; at most {MAX_BYTES} are kept whole",
                field=field,
            )
        )
    _, secrets = redact_text(text)
    if secrets:
        flags.append(
            Flag(
                "secret",
                Level.WARNING,
                "",
                f"the {field} looks like it contains a token or key: it will be sent as [redacted]",
                field=field,
            )
        )
    return flags


def check_internal(text: str) -> tuple[Flag, ...]:
    """The internal (Slack) draft: empty, too long, secrets."""
    return tuple(_common(text, "text", MAX_TEXT))


def check_external(text: str, terms: Iterable[str] = (), *, field: str = "text") -> tuple[Flag, ...]:
    """The customer draft: everything :func:`check_internal` checks, plus
    internal names, hosts, pod names, jargon and numbers — as warnings with
    positions, in text order."""
    flags = _common(text, field, MAX_TITLE if field == "title" else MAX_TEXT)
    found: list[Flag] = []
    taken: list[tuple[int, int]] = []

    def add(kind: str, start: int, end: int, message: str) -> None:
        if not _overlaps(taken, start, end):
            taken.append((start, end))
            found.append(Flag(kind, Level.WARNING, text[start:end], message, start, end, field))

    for term in sorted({t for t in terms if t}, key=len, reverse=True):
        for m in re.finditer(r"(?<![\w-])" + re.escape(term) + r"(?![\w-])", text, re.IGNORECASE):
            add("internal_name", m.start(), m.end(), f"“{m.group()}” is an internal name customers do not know")
    for m in _URL.finditer(text):
        add("host", m.start(), m.end(), f"“{m.group()}” is an address; customers should not see our hosts")
    for pattern in (_IP, _HOST):
        for m in pattern.finditer(text):
            add("host", m.start(), m.end(), f"“{m.group()}” is a host name or address")
    for m in _POD.finditer(text):
        add("pod", m.start(), m.end(), f"“{m.group()}” looks like a pod name")
    for m in _JARGON_RE.finditer(text):
        add("jargon", m.start(), m.end(), f"“{m.group()}” is internal wording; say what customers notice instead")
    allowed = [(m.start(), m.end()) for m in _ALLOWED_NUMBERS.finditer(text)]
    for m in _NUMBER.finditer(text):
        if not _overlaps(allowed, m.start(), m.end()):
            add("number", m.start(), m.end(), f"“{m.group()}” is a number; keep it only if customers should see it")
    return tuple(flags + sorted(found, key=lambda f: f.start))


def check_fields(channel: str, text: str, title: str = "", terms: Iterable[str] = ()) -> tuple[Flag, ...]:
    """All flags of a draft's fields: ``channel`` "internal" or "external"."""
    if channel == "internal":
        return check_internal(text)
    terms = tuple(terms)
    return check_external(title, terms, field="title") + check_external(text, terms)


def blocking(flags: Iterable[Flag]) -> tuple[Flag, ...]:
    return tuple(f for f in flags if f.level == Level.ERROR)
