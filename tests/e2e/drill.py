"""A drill as a user drives it: a list of steps, each keys to press and what
must then be on the screen.

:class:`Driver` sends each step's keys to a :class:`~tests.e2e.terminal.Terminal`
and waits until the step's check passes; a failure names the step, says
what was missing and shows the screen. Every screen a step passed on is
kept in ``Driver.transcript``.

The steps here are the keys the cockpit has today (issue 2). The drill of
issue 6 goes on when the decision and action features land; those steps
slot in between :func:`filter_logs` and :func:`quit_`:

- declare the incident (issue 3): the incident bar shows it declared, the
  severity and the response clock;
- triage (issue 3): the triage pane names the scenario's branch
  (``Scenario.expect.branch``) and severity, with the reasons' numbers;
- the branch's action with its confirmation (issue 4): the confirm modal
  with focus on Cancel, confirm, and the result on screen (and in the
  drill's ``/_sim/requests``);
- a message draft (issue 5): the compose screen with the severity, impact,
  current action and next update time (:func:`internal_update`: drafted,
  previewed and sent).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .terminal import Screen, Terminal

Check = Callable[[Screen], "str | None"]  # None: satisfied; else why not yet

PANES = {"1": "1 Clay status", "2": "2 Health", "3": "3 Error rates", "4": "4 Pods", "5": "5 Pod logs"}
POD = re.compile(r"^ ([a-z0-9]{5}) ")  # a log entry's first row: its pod (the name's last 5 characters)
CONTINUATION = re.compile(r"^ {7}\S")  # a wrapped entry's next rows: the pod column left blank


@dataclass(frozen=True)
class Step:
    name: str
    keys: tuple[str, ...] = ()
    check: Check | None = None
    timeout: float = 15.0
    literal: bool = False  # send the keys as text (send-keys -l)
    settle: float = 0.0  # seconds to let the keys take effect when nothing on screen shows it


@dataclass
class Driver:
    term: Terminal
    transcript: list[tuple[str, float, str]] = field(default_factory=list)  # (step, seconds, screen)

    def run(self, *steps: Step) -> None:
        for step in steps:
            started = time.monotonic()
            if step.keys:
                self.term.send(*step.keys, literal=step.literal)
            time.sleep(step.settle)
            screen = self.term.wait(step.check, step.timeout, f"step {step.name!r}") if step.check else self.term.screen()
            self.transcript.append((step.name, time.monotonic() - started, screen.text))
            print(f"step {step.name!r}: {time.monotonic() - started:.1f}s")  # shown with a failure or -rP

    def timings(self) -> str:
        return ", ".join(f"{name} {seconds:.1f}s" for name, seconds, _ in self.transcript)


# --------------------------------------------------------------------------
# checks


def all_of(*checks: Check) -> Check:
    def check(screen: Screen) -> str | None:
        for one in checks:
            why = one(screen)
            if why is not None:
                return why
        return None

    return check


def has(*texts: str) -> Check:
    return lambda s: next((f"{t!r} not on screen" for t in texts if t not in s), None)


def lacks(*texts: str) -> Check:
    return lambda s: next((f"{t!r} still on screen" for t in texts if t in s), None)


def pane_live(key: str, body: str | None = None) -> Check:
    """Pane ``key`` is on screen, its title shows the age of data (not
    waiting, failing or stale) and its body matches ``body`` (a regex)."""
    title = PANES[key]

    def check(screen: Screen) -> str | None:
        box = screen.box(title)
        if box is None:
            return f"pane {title!r} not on screen"
        line = box.title_line
        if " ago" not in line or "STALE" in line or "failing" in line:
            return f"pane {title!r} has no live data: {line.strip()!r}"
        if body is not None and not re.search(body, box.text, re.M):
            return f"pane {title!r} does not show /{body}/: {box.text!r}"
        return None

    return check


def in_pane(key: str, text: str, part: str = "title") -> Check:
    """Pane ``key``'s title, subtitle or body shows ``text``."""

    def check(screen: Screen) -> str | None:
        box = screen.box(PANES[key])
        if box is None:
            return f"pane {PANES[key]!r} not on screen"
        shown = {"title": box.title_line, "subtitle": box.subtitle_line, "body": box.text}[part]
        return None if text in shown else f"pane {PANES[key]!r} {part} lacks {text!r}: {shown.strip()!r}"

    return check


def codes_shown(codes: tuple[int, ...]) -> Check:
    """The Error rates pane has a row for each code (label first on the row)."""

    def check(screen: Screen) -> str | None:
        box = screen.box(PANES["3"])
        if box is None:
            return "no Error rates pane"
        labels = {row.split()[0] for row in box.body if row.split()}
        missing = [c for c in codes if not ({str(c), f"Clay{c}"} & labels or re.search(rf"\bClay {c}\b", box.text))]
        return f"Error rates shows no row for {missing}: {box.text!r}" if missing else None

    return check


def focused(key: str, colour: bool = True) -> Check:
    """Pane ``key``'s border has the focus colour and every other pane shares
    one other colour; without colour, its frame is the one heavy frame."""

    def check(screen: Screen) -> str | None:
        boxes = {k: screen.box(t) for k, t in PANES.items()}
        if any(b is None for b in boxes.values()):
            return "not every pane is on screen"
        if not colour:
            heavy = [k for k, b in boxes.items() if screen.lines[b.top][b.left] == "┏"]  # type: ignore[union-attr]
            return None if heavy == [key] else f"heavy frames on {heavy}, not only on pane {PANES[key]!r}"
        mine = boxes[key].border_style.fg  # type: ignore[union-attr]
        others = {boxes[k].border_style.fg for k in PANES if k != key}  # type: ignore[union-attr]
        if len(others) != 1 or mine in others:
            return f"pane {PANES[key]!r} border {mine} is not the one focus colour among {others}"
        return None

    return check


def log_rows(screen: Screen) -> list[str] | None:
    box = screen.box(PANES["5"])
    return None if box is None else [row for row in box.body if row.strip()]


def logs_wrapped(wrapped: bool) -> Check:
    """Positive evidence either way. Wrapped: an entry goes on over an
    indented row. Cut: a row as wide as the pane followed by a new entry."""

    def check(screen: Screen) -> str | None:
        rows = log_rows(screen)
        if not rows:
            return "no log rows"
        continued = any(CONTINUATION.match(row) for row in rows)
        cut = any(len(row.rstrip()) >= len(row) - 3 and POD.match(after) for row, after in zip(rows, rows[1:]))
        if wrapped and not continued:
            return f"no wrapped log line on screen: {rows!r}"
        if not wrapped and (continued or not cut):
            return f"no cut log line on screen (or still wrapped): {rows!r}"
        return None

    return check


def log_entries(rows: list[str]) -> list[str]:
    """Wrapped rows joined back into entries (spaces dropped: a wrap may fall on one)."""
    entries: list[str] = []
    for row in rows:
        if POD.match(row):
            entries.append(row.replace(" ", ""))
        elif CONTINUATION.match(row) and entries:
            entries[-1] += row.replace(" ", "")
    return entries


def logs_filtered(text: str) -> Check:
    def check(screen: Screen) -> str | None:
        box = screen.box(PANES["5"])
        if box is None:
            return "no Pod logs pane"
        if f"filter “{text}”" not in box.title_line:
            return f"the logs title does not name the filter: {box.title_line.strip()!r}"
        entries = log_entries(log_rows(screen) or [])
        if not entries:
            return "no log entries under the filter"
        # the newest entry may be cut off by the pane's bottom edge: all but it
        wrong = [e for e in entries[:-1] if text.replace(" ", "").lower() not in e.lower()]
        return f"entries without {text!r} under the filter: {wrong[:3]!r}" if wrong else None

    return check


def logs_unfiltered() -> Check:
    def check(screen: Screen) -> str | None:
        box = screen.box(PANES["5"])
        if box is None:
            return "no Pod logs pane"
        return f"the filter is still on: {box.title_line.strip()!r}" if "filter" in box.title_line else None

    return check


# --------------------------------------------------------------------------
# the steps there are today


def first_frame(timeout: float = 15.0) -> Step:
    return Step("first frame: the layout", check=has(*PANES.values()), timeout=timeout)


def live(codes: tuple[int, ...] = (), timeout: float = 30.0) -> Step:
    """Every pane with live data; the scenario's status codes in Error rates."""
    return Step(
        "every pane live",
        check=all_of(
            pane_live("1", r"\S"),
            pane_live("2", r"HTTP \d{3}"),
            pane_live("3", r"req/s"),
            pane_live("4", r"^ ?[a-z0-9]{5}\s+[A-Z][A-Za-z]+"),
            pane_live("5", r"level="),
            codes_shown(codes),
        ),
        timeout=timeout,
    )


def focus_panes(colour: bool, wrap_visible: bool) -> list[Step]:
    """Keys 1-5 move the focus (seen in the border colour when there is
    colour); the logs pane's own key ``w`` only acts while it has the focus."""
    steps: list[Step] = [Step(f"focus pane {k}", keys=(k,), check=focused(k, colour), timeout=5.0) for k in PANES]
    if wrap_visible:
        steps += [
            Step("focus logs", keys=("5",), check=focused("5", colour), timeout=5.0),
            Step("w cuts long log lines", keys=("w",), check=logs_wrapped(False), timeout=5.0),
            Step("w wraps them again", keys=("w",), check=logs_wrapped(True), timeout=5.0),
            Step("focus Error rates", keys=("3",), check=focused("3", colour), timeout=5.0),
            # keys are handled in order: once the metrics view is open, "w" has been handled
            Step("w outside the logs (then m)", keys=("w", "m"), check=has("Metrics ·"), timeout=10.0),
            Step("back: w did nothing", keys=("m",), check=all_of(has(*PANES.values()), logs_wrapped(True)), timeout=5.0),
        ]
    return steps


def help_screen() -> list[Step]:
    return [
        Step("? opens the help", keys=("?",), check=has("Keys · Esc closes", "Panes", "Clay status — Focus"), timeout=5.0),
        Step("Esc closes the help", keys=("Escape",), check=all_of(lacks("Keys · Esc closes"), has(*PANES.values())), timeout=5.0),
    ]


def filter_logs(text: str) -> list[Step]:
    return [
        Step("/ opens the log filter", keys=("/",), check=has("Filter pod logs"), timeout=5.0),
        Step(f"type {text!r}", keys=(text,), literal=True, check=has(text), timeout=5.0),
        Step("Enter keeps the filter", keys=("Enter",), check=all_of(lacks("Filter pod logs"), logs_filtered(text)), timeout=10.0),
        Step("/ and an empty filter show all", keys=("/",), check=has("Filter pod logs"), timeout=5.0),
        Step("clear the filter text", keys=("BSpace",) * len(text), check=lacks(f"▊{text}"), timeout=5.0),
        Step("Enter: unfiltered", keys=("Enter",), check=all_of(lacks("Filter pod logs"), logs_unfiltered()), timeout=10.0),
    ]


def metrics_view(codes: tuple[int, ...]) -> list[Step]:
    series = f"Clay {codes[0]}" if codes else "Clay requests"
    return [
        Step("m opens the metrics view", keys=("m",), check=all_of(has("Metrics ·", series), lacks("5 Pod logs")), timeout=10.0),
        Step("m goes back", keys=("m",), check=has(*PANES.values()), timeout=5.0),
    ]


LABELS = {
    "credentials": ("Credentials", "Rate limit"),
    "clay_incident": ("Clay incident",),
    "infrastructure": ("Infrastructure",),
    "healthy": ("Healthy",),
}


def verdict(branch: str, severity: str) -> Check:
    """The triage verdict: the strip at 80x24 ("▶ <branch label>: … —
    <severity>" on one line); when wide, the triage pane's verdict (it may
    wrap) under its title "d Triage · <severity>"."""
    labels = LABELS.get(branch, (branch,))

    def check(screen: Screen) -> str | None:
        lines = [line for line in screen.lines if "▶ " in line]
        pane = f"Triage · {severity}" in screen.text
        for line in lines:
            lead = line.split("▶ ", 1)[1]
            if lead.startswith(labels) and (f"— {severity}" in line or pane):
                return None
        return f"no verdict '▶ {labels[0]}: … — {severity}' on screen: {[line.strip() for line in lines]}"

    return check


def triage(branch: str, severity: str, timeout: float = 30.0) -> Step:
    return Step(f"triage: {branch} {severity}", check=verdict(branch, severity), timeout=timeout)


INCIDENT_ID = re.compile(r"INC-\d{8}-\d{4}-[0-9a-f]{4}")


def declare(severity: str) -> list[Step]:
    """`i` declares: the top bar shows the suggested severity (not accepted:
    "P1?"), the status and the response clock counting down; the timeline's
    title names the incident (the decision view at 80x24: `d` and back)."""
    return [
        Step("i declares", keys=("i",), check=all_of(has(f"{severity}? investigating"), matches(r"\d+:\d{2} left")), timeout=15.0),
        Step("d: the decision view names the incident", keys=("d",), check=matches(INCIDENT_ID.pattern), timeout=10.0),
        Step("d: back to the signals", keys=("d",), check=has(*PANES.values()), timeout=10.0),
    ]


def accept(severity: str) -> Step:
    return Step(f"a accepts {severity}", keys=("a",), check=all_of(has(f"{severity} investigating"), lacks(f"{severity}? ")), timeout=10.0)


# the branch's remediation in each scenario the e2e drills run: (key, the action's title)
BRANCH_ACTIONS = {
    "key-revoked": ("R", "Restart the pods"),
    "clay-outage": ("f", "Enable graceful degradation (fallback)"),
    "rate-limited": ("Q", "Enable request queuing"),
}


def branch_action(scenario: str) -> list[Step]:
    """The branch's action with its confirmation: its key opens the plan
    (changes, dry run, permissions, lease) with the focus on Cancel, so
    Enter alone closes it and nothing runs; the key again and `y` (shown on
    the button): it runs, the rollout is reported done — not the fix — and
    the actions pane follows the symptom the action should end to its
    verdict: mitigated, or (key-revoked: a restart without a new key) a fix
    that did not work."""
    key, title = BRANCH_ACTIONS[scenario]
    modal = f"Confirm: {title}"
    return [
        Step(f"{key} opens the plan", keys=(key,), check=has(modal, "Dry run", "Permission", "y confirms"), timeout=20.0),
        Step("Enter alone cancels", keys=("Enter",), check=lacks(modal), timeout=10.0),
        Step(f"{key} again", keys=(key,), check=has(modal, "Dry run"), timeout=20.0),
        Step("the modal settles", settle=1.0),
        # (at --speed 5 the verdict can follow "rollout done" within a frame: the verdict is what is checked)
        Step(
            "y confirms: it runs, then the symptom's verdict",
            keys=("y",),
            check=all_of(lacks(modal), any_of(has("✓ Mitigated:"), has("the fix did not work"), has("The fix did not work"))),
            timeout=120.0,
        ),
    ]


def any_of(*checks: Check) -> Check:
    def check(s: Screen) -> str | None:
        problems = [c(s) for c in checks]
        return None if any(p is None for p in problems) else " and ".join(p for p in problems if p)

    return check


def internal_update(severity: str) -> list[Step]:
    """`n` opens the internal update, drafted: severity, impact, current
    action, next update time; ctrl+r previews it as Slack shows it; `s`
    sends it to the drill's Slack, which opens the incident thread."""
    return [
        Step(
            "n drafts the internal update",
            keys=("n",),
            check=has("Internal update →", f"*Severity:* {severity}", "*Impact:*", "*Current action:*", "*Next update:*"),
            timeout=15.0,
        ),
        Step(
            "ctrl+r previews it",
            keys=("C-r",),
            check=has("Preview · Internal update", "As Slack shows it", f"Severity: {severity}"),
            timeout=10.0,
        ),
        Step(
            "s sends it",
            keys=("s",),
            check=all_of(has("Internal update sent", "incident thread"), lacks("Preview · Internal update")),
            timeout=20.0,
        ),
    ]


def matches(pattern: str) -> Check:
    rx = re.compile(pattern)
    return lambda s: None if rx.search(s.text) else f"nothing on screen matches /{pattern}/"


def quit_() -> Step:
    return Step("q quits", keys=("q",))
