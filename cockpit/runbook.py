"""The Clay incident runbook as data: severities, decision-tree branches,
immediate actions and the four-step checklist.

The data lives in one place, the shipped runbook file ``config/runbook.toml``
(issue 18), read here once at import into the constants below; the types and
the loader are in :mod:`clay_cockpit.runbook_file`. Triage, the incident, the
panes and the postmortem all read these constants, so the runbook is written
down once.
"""

from __future__ import annotations

from clay_cockpit.runbook_file import (
    RUNBOOK_ENV,
    ActionId,
    ActionSpec,
    Branch,
    BranchSpec,
    ErrorClass,
    Item,
    Link,
    Runbook,
    Severity,
    SeverityLevel,
    Step,
    load_runbook,
    shipped_path,
)

__all__ = [
    "ACTION_KEY",
    "ACTION_TEXT",
    "BRANCH_ACTIONS",
    "BRANCH_LABEL",
    "DONE_TEXT",
    "ITEMS",
    "OUTSIDE",
    "RUNBOOK",
    "SEVERITIES",
    "STEPS",
    "ActionId",
    "ActionSpec",
    "Branch",
    "BranchSpec",
    "ErrorClass",
    "Item",
    "Link",
    "Runbook",
    "Severity",
    "SeverityLevel",
    "Step",
    "branch_actions",
    "item_applies",
    "shipped_runbook_path",
    "runbook_path",
    "RUNBOOK_ENV",
]


def shipped_runbook_path() -> str:
    """``config/runbook.toml`` as installed (the package's own directory, as
    :func:`clay_cockpit.config.data_path` finds default.toml)."""
    return shipped_path()


def runbook_path() -> str:
    """The runbook file the cockpit runs: ``$CLAY_COCKPIT_RUNBOOK`` if set, else the shipped one."""
    import os

    return os.environ.get(RUNBOOK_ENV) or shipped_runbook_path()


#: The runbook the cockpit runs (a team's file, or the shipped one), read and checked once.
RUNBOOK: Runbook = load_runbook(runbook_path())

SEVERITIES: dict[Severity, SeverityLevel] = RUNBOOK.severities

ACTION_TEXT: dict[ActionId, str] = {a: spec.text for a, spec in RUNBOOK.actions.items()}

#: The key that carries out each runbook action on the cockpit's main screen
#: (tests/test_triage_keys.py holds it equal to the app's bindings). Actions
#: without a key are done outside the cockpit (``OUTSIDE``) or are the
#: responder's own reading.
ACTION_KEY: dict[ActionId, str] = {a: spec.key for a, spec in RUNBOOK.actions.items() if spec.key}

#: Actions the cockpit cannot carry out: said plainly where they are offered.
OUTSIDE: frozenset[ActionId] = frozenset(a for a, spec in RUNBOOK.actions.items() if spec.outside)

#: How an action reads once it is in effect ("✓ Request queuing on since 12:03").
DONE_TEXT: dict[ActionId, str] = {a: spec.done for a, spec in RUNBOOK.actions.items()}

#: What each branch is called on screen ("Credentials").
BRANCH_LABEL: dict[Branch, str] = {b: spec.label for b, spec in RUNBOOK.branches.items()}

#: The immediate actions a branch recommends for an error class, in order.
BRANCH_ACTIONS: dict[tuple[Branch, ErrorClass], tuple[ActionId, ...]] = {
    (b, e): acts for b, spec in RUNBOOK.branches.items() for e, acts in spec.actions
}

STEPS: tuple[Step, ...] = RUNBOOK.steps

ITEMS: dict[str, Item] = {item.key: item for step in STEPS for item in step.items}


def branch_actions(branch: Branch, error: ErrorClass | None) -> tuple[ActionId, ...]:
    """The actions the runbook recommends, in order, on ``branch`` for ``error`` (() when none)."""
    return BRANCH_ACTIONS.get((branch, error), ()) if error is not None else ()


def item_applies(item: Item, branches: set[Branch] | frozenset[Branch], errors: set[ErrorClass] | frozenset[ErrorClass]) -> bool:
    """Is this item part of the active branch(es)? (Dimmed in the pane if not.)"""
    if item.branches and not (item.branches & set(branches)):
        return False
    if item.errors and not (item.errors & set(errors)):
        return False
    return True
