"""What the infrastructure view draws (:mod:`clay_cockpit.screens.infra_view`):
one :class:`Row` per change, Warning event and node, in three sections —
Changes (newest first, with ages; a rollout's image and env differences under
it; the cockpit's own actions from the incident timeline merged in by time),
History (the rollout's revisions, newest first: number, which is current,
when, image, pods, change-cause — the one a rollback goes back to is chosen
here), Events (deduplicated, with their count, last-seen age, object, reason and
message), Nodes (Ready, pressure, cordoned, our pods on each).

Render-only and pure: a row's ``lines`` are whole and cut to the width only
when drawn (the view's list does not wrap: it ends a long row in "…"); its ``detail`` holds every word, shown when the row
is selected. Outside text (names, messages) passes the one sanitiser.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from textual.content import Content

from clay_cockpit.incident.events import Event, EventKind
from clay_cockpit.signals import Change, InfraSnapshot, KubeEvent, NodeInfo, Revision
from clay_cockpit.widgets.checklist import clock_time
from clay_cockpit.widgets.common import clean, format_age
from clay_cockpit.widgets.pods import short_pod_name

SECTIONS = ("changes", "history", "events", "nodes")
TITLES = {"changes": "Changes", "history": "History", "events": "Warning events", "nodes": "Nodes"}
ACTION_KINDS = (EventKind.ACTION_APPLIED, EventKind.ACTION_FAILED, EventKind.ACTION_VERIFIED)
SKEW = 60.0  # seconds a cluster time may be ahead of ours and still read as "now"
MAX_ROWS = 200  # per section: a view for a glance, not a log


@dataclass(frozen=True)
class Row:
    """One line (or a few) of a section, and everything about it for the detail."""

    key: str  # stable across refreshes: "events:Pod/x/Unhealthy/…"
    lines: tuple[Content, ...]  # whole; cut to the width when drawn
    detail: Content
    style: str = ""
    revision: Revision | None = None  # a History row: the revision it shows (U rolls back to it)


def one(text: object) -> str:
    return " ".join(clean(text).split())


def age_of(at: float | None, now: float) -> str:
    """ "4m" (ago), "12:03:10" when the cluster's clock is more than a minute ahead of ours, "?" when unknown.
    Less than a minute ahead is clock skew (or a drill run faster than real time): "0s"."""
    if at is None or at != at:  # (NaN)
        return "?"
    if at > now + SKEW:
        return clock_time(at)
    return format_age(max(0.0, now - at))


def when_text(at: float | None, now: float) -> str:
    """ "12:03:10 (4m ago)"; a day or more away: with its date, "2027-01-12 08:00:00 (3d ago)"."""
    if at is None or at != at:
        return "unknown"
    day = f"{datetime.fromtimestamp(at):%Y-%m-%d} " if abs(now - at) >= 86_400 else ""
    return f"{day}{clock_time(at)} ({age_of(at, now)}{' ago' if at <= now + SKEW else ''})"


# --------------------------------------------------------------------------
# Changes


def _timeline_change(e: Event) -> Change:
    return Change(e.at, "action", e.summary, ())


def change_rows(snap: InfraSnapshot | None, actions: Sequence[Event], now: float) -> list[Row]:
    """Rollouts, ConfigMap/Secret changes and the cockpit's own actions, newest first."""
    changes: list[tuple[Change, str]] = [(c, "cluster") for c in (snap.changes if snap is not None else ())]
    changes += [(_timeline_change(e), "timeline") for e in actions if e.kind in ACTION_KINDS]
    changes.sort(key=lambda cs: -(cs[0].at if cs[0].at is not None and cs[0].at == cs[0].at else float("-inf")))
    rows = []
    for i, (c, origin) in enumerate(changes[:MAX_ROWS]):
        style = "$text-accent" if c.what == "rollout" else "$text-primary" if c.what == "action" else ""
        head = Content.assemble((f"{age_of(c.at, now):>4}  ", "$text-muted"), (f"{one(c.what):<9} ", style), one(c.summary))
        lines = [head] + [Content.assemble(" " * 16, ("· ", "$text-muted"), one(d)) for d in c.detail]
        where = "the incident timeline (the cockpit's own action)" if origin == "timeline" else "the cluster"
        detail = Content("\n").join(
            [
                Content.assemble((one(c.what), f"bold {style}".strip()), "  ", (when_text(c.at, now), "$text-muted")),
                Content(clean(c.summary)),
                *(Content.assemble(("  · ", "$text-muted"), clean(d)) for d in c.detail),
                Content.styled(f"from {where}", "$text-muted"),
            ]
        )
        rows.append(Row(f"changes:{i}:{c.what}:{c.at}", tuple(lines), detail, style))
    return rows


# --------------------------------------------------------------------------
# History


def short_image(image: str) -> str:
    """ "clay-sync:1.14.3" of "registry.example.com/team/clay-sync:1.14.3" (the row; the detail has it whole)."""
    return one(image).rsplit("/", 1)[-1]


def images_of(r: Revision, short: bool) -> str:
    """One container: its image; more: "app=…, proxy=…"."""
    shown = [(one(c), short_image(i) if short else one(i)) for c, i in r.images]
    if len(shown) == 1:
        return shown[0][1]
    return ", ".join(f"{c}={i}" for c, i in shown) or "no image"


def current_revision(snap: InfraSnapshot | None) -> Revision | None:
    return next((r for r in (snap.revisions if snap is not None else ()) if isinstance(r, Revision) and r.current), None)


def history_rows(snap: InfraSnapshot | None, now: float) -> list[Row]:
    """The rollout history, newest first: revision, current or not, age, image(s), pods, change-cause."""
    revisions = [r for r in (snap.revisions if snap is not None else ()) if isinstance(r, Revision)][:MAX_ROWS]
    width = max((len(str(r.number)) for r in revisions), default=1)
    img_width = max((len(images_of(r, True)) for r in revisions), default=0)
    current = current_revision(snap)
    rows = []
    for r in revisions:
        pods = f"{r.replicas} pod{'s' if r.replicas != 1 else ''}"
        style = "$text-success" if r.current else ""
        line = Content.assemble(
            (f"  rev {r.number:<{width}}  ", "bold"),
            (f"{'current' if r.current else '':<7}  ", f"bold {style}".strip()),
            (f"{age_of(r.created_at, now):>4}  ", "$text-muted"),
            (f"{images_of(r, True):<{img_width}}  ", "$text-primary"),
            (f"{pods:>6}", "$text-muted"),
            f"  {one(r.change_cause)}" if r.change_cause else "",
        )
        if r.current:
            what = Content.styled(f"the current revision: the deployment runs this template ({pods})", "$text-success")
        elif current is not None:
            what = Content.assemble(
                ("U", "bold"),
                f" rolls back to it: {images_of(current, True)} → {images_of(r, True)} (plan, dry run, then your confirmation)",
            )
        else:
            what = Content.assemble(("U", "bold"), " rolls back to it (plan, dry run, then your confirmation)")
        facts = [
            ("revision", f"{r.number}" + (" (current)" if r.current else "")),
            ("created", when_text(r.created_at, now)),
            *((f"image {one(c)}" if len(r.images) > 1 else "image", one(i)) for c, i in r.images),
            ("pods", str(r.replicas)),
            ("ReplicaSet", one(r.replicaset)),
        ]
        if r.change_cause:
            facts.append(("cause", clean(r.change_cause)))
        width_k = max(len(k) for k, _ in facts)
        detail = Content("\n").join([*(Content.assemble((f"{k:>{width_k}} ", "$text-muted"), v) for k, v in facts), what])
        rows.append(Row(f"history:{r.number}:{r.replicaset}", (line,), detail, style, revision=r))
    return rows


# --------------------------------------------------------------------------
# Events


def short_object(kind: str, name: str) -> str:
    """ "pod/x2x9k" for a Deployment's pod (as the pods pane names it), else kubectl's
    "replicaset/clay-sync-7d9f8c6b5": the row leaves room for the message; the detail
    has the whole name."""
    return f"{one(kind).lower()}/{short_pod_name(one(name)) if kind == 'Pod' else one(name)}"


MAX_REASON = 18  # the reason column's width at most (a longer reason pushes its own row only)


def event_rows(snap: InfraSnapshot | None, now: float) -> list[Row]:
    """Warning events, newest first: count, last seen, reason, object, message — in columns."""
    events = [e for e in (snap.events if snap is not None else ()) if isinstance(e, KubeEvent)]
    events.sort(key=lambda e: -(e.last_seen if e.last_seen is not None and e.last_seen == e.last_seen else float("-inf")))
    shown = events[:MAX_ROWS]
    width = min(MAX_REASON, max((len(one(e.reason)) for e in shown), default=0))
    objects = [short_object(e.kind, e.name) for e in shown]
    obj_width = max((len(o) for o in objects), default=0)
    rows = []
    for e, short in zip(shown, objects):
        obj = f"{one(e.kind)}/{one(e.name)}"
        line = Content.assemble(
            (f"{max(1, e.count):>4}× ", "bold"),
            (f"{age_of(e.last_seen, now):>4}  ", "$text-muted"),
            (f"{one(e.reason):<{width}}", "bold $text-warning"),
            "  ",
            (f"{short:<{obj_width}}", "$text-primary"),
            "  ",
            one(e.message),
        )
        facts = [
            ("object", obj),
            ("reason", one(e.reason)),
            ("count", str(e.count)),
            ("first seen", when_text(e.first_seen, now)),
            ("last seen", when_text(e.last_seen, now)),
        ]
        if e.source:
            facts.append(("from", one(e.source)))
        if e.field_path:
            facts.append(("field", one(e.field_path)))
        detail = Content("\n").join(
            [Content.styled(clean(e.message), "bold")] + [Content.assemble((f"{k:>10} ", "$text-muted"), v) for k, v in facts]
        )
        rows.append(Row(f"events:{obj}:{e.reason}:{e.message}", (line,), detail, "$text-warning"))
    return rows


# --------------------------------------------------------------------------
# Nodes


def node_state(n: NodeInfo) -> tuple[str, str]:
    """ "NotReady, MemoryPressure, cordoned" and its style."""
    parts = ["Ready" if n.ready is True else "NotReady" if n.ready is False else "Ready unknown"]
    parts += [one(p) for p in n.pressure]
    if n.unschedulable:
        parts.append("cordoned")
    bad = n.ready is not True or bool(n.pressure) or n.unschedulable
    return ", ".join(parts), "$text-error" if n.ready is False else "$text-warning" if bad else "$text-success"


def node_rows(snap: InfraSnapshot | None, now: float) -> list[Row]:
    """One row a node: its name, its state, our pods on it (short names; whole in the detail)."""
    rows = []
    nodes = [n for n in (snap.nodes if snap is not None else ()) if isinstance(n, NodeInfo)][:MAX_ROWS]
    width = max((len(one(n.name)) for n in nodes), default=0)
    for n in nodes:
        state, style = node_state(n)
        pods = ", ".join(one(p) for p in n.pods)
        line = Content.assemble(
            (f"  {one(n.name):<{width}}  ", "bold"),
            (state, style),
            (f"  {len(n.pods)} pod{'s' if len(n.pods) != 1 else ''}" + (": " if n.pods else ""), "$text-muted"),
            ", ".join(short_pod_name(one(p)) for p in n.pods),
        )
        facts = [("node", one(n.name)), ("state", state), ("since", when_text(n.since, now)), ("our pods", pods or "none")]
        detail = Content("\n").join(
            [Content.assemble((f"{k:>8} ", "$text-muted"), v) for k, v in facts] + ([Content(clean(n.message))] if n.message else [])
        )
        rows.append(Row(f"nodes:{n.name}", (line,), detail, style))
    return rows


def counts(snap: InfraSnapshot | None, actions: Sequence[Event]) -> dict[str, int]:
    """How many of each there are (before :data:`MAX_ROWS`): the head and the section titles say the same."""
    ours = sum(1 for e in actions if e.kind in ACTION_KINDS)
    if snap is None:
        return {"changes": ours, "history": 0, "events": 0, "nodes": 0}
    return {
        "changes": len(snap.changes) + ours,
        "history": sum(1 for r in snap.revisions if isinstance(r, Revision)),
        "events": sum(1 for e in snap.events if isinstance(e, KubeEvent)),
        "nodes": sum(1 for n in snap.nodes if isinstance(n, NodeInfo)),
    }


def empty_text(section: str, snap: InfraSnapshot | None, now: float) -> str:
    """What an empty section says (whole)."""
    name = one(snap.deployment) if snap is not None else "the deployment"
    if section == "changes":
        return f"no rollout, ConfigMap or Secret change of {name} seen; no cockpit action"  # (fits 80 columns)
    if section == "history":
        return f"no rollout history of {name}: no ReplicaSet with a revision seen"
    if section == "events":
        since = snap.events_watched_since if snap is not None else None
        tail = f" since the watch began {format_age(now - since)} ago" if since is not None and since == since and since <= now else ""
        return f"no Warning events for {name}{tail}"
    return f"no node runs a pod of {name}"
