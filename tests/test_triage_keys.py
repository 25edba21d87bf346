"""The recommended action, its key, and actions already in effect.

- ``runbook.ACTION_KEY`` is the one map from a runbook action to the key
  that carries it out; it is held equal to the app's bindings here.
- A runbook action in ``Signals.in_effect`` (the actions desk fills it from
  the cluster's flags and the verified fixes) is shown done with its detail
  ("✓ Request queuing on since 12:03:10"), never offered as the next key:
  table-driven over the decision tree, then as the strip and the pane's
  "Do now" draw it.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace

import pytest
from test_triage import (
    LOG_T0,
    NOW,
    OUTAGE_PAGE,
    RATE_LIMIT_HEADERS,
    TH,
    call_lines,
    health,
    live,
    metrics,
    signals,
)

from clay_cockpit.app import CockpitApp
from clay_cockpit.runbook import ACTION_KEY, ACTION_TEXT, OUTSIDE, ActionId
from clay_cockpit.signals import InEffect, Signals
from clay_cockpit.triage.tree import assess
from clay_cockpit.widgets.triage import actions_content, actions_line

QUEUING_ON = InEffect("enable_queuing", "CLAY_REQUEST_QUEUING=true in ConfigMap clay-sync-flags", NOW - 120)
FALLBACK_ON = InEffect("enable_fallback", "CLAY_FALLBACK=true in ConfigMap clay-sync-flags", NOW - 60)
KEY_UPDATED = InEffect("update_key", "new key (fingerprint 3f2a…) in Secret clay-api; 401s stopped", NOW - 30)
RESTARTED = InEffect("restart", "rollout restart of clay-sync done; 401s stopped", NOW - 20)

KEY_REVOKED = signals(metrics_=live(metrics({401: 39.0}, rate=39.0)), logs=call_lines(401, 40))
RATE_LIMITED = signals(metrics_=live(metrics({429: 18.0})), logs=call_lines(429, 30, **RATE_LIMIT_HEADERS) + call_lines(200, 5, LOG_T0 + 3))
RATE_LIMITED_NO_HEADERS = signals(metrics_=live(metrics({429: 18.0})), logs=call_lines(429, 30) + call_lines(200, 5, LOG_T0 + 3))
CLAY_OUTAGE = signals(live(OUTAGE_PAGE), metrics_=live(metrics({503: 30.0})), logs=call_lines(503, 40))


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


# --------------------------------------------------------------------------
# One map from runbook action to key, equal to the app's bindings

ACT_NAMES = {  # the app's act('…') names, as the actions desk binds them
    "verify_key": ActionId.VERIFY_KEY,
    "update_key": ActionId.UPDATE_KEY,
    "restart": ActionId.RESTART,
    "queuing": ActionId.ENABLE_QUEUING,
    "fallback": ActionId.ENABLE_FALLBACK,
    "scale": ActionId.SCALE,
    "rollback": ActionId.ROLLBACK,
}


def test_action_keys_are_the_apps_bindings() -> None:
    by_key = {b.key: b for b in CockpitApp.BINDINGS}
    for aid, key in ACTION_KEY.items():
        assert key in by_key, f"{aid} is shown on key {key!r}, which the app does not bind"
        action = by_key[key].action
        if aid == ActionId.READ_POD_LOGS:
            assert action == "focus_pane('logs')"
        else:
            m = re.fullmatch(r"act\('(\w+)'\)", action)
            assert m is not None and ACT_NAMES[m.group(1)] == aid, (aid, key, action)
    bound = {ACT_NAMES[m.group(1)]: b.key for b in CockpitApp.BINDINGS if (m := re.fullmatch(r"act\('(\w+)'\)", b.action))}
    assert all(ACTION_KEY[aid] == key for aid, key in bound.items()), "a runbook action the app binds has no key in ACTION_KEY"
    assert not OUTSIDE & set(ACTION_KEY), "an action done outside the cockpit has no key"
    assert set(ACTION_KEY) | OUTSIDE <= set(ACTION_TEXT)


# --------------------------------------------------------------------------
# In effect: done, never the next key


@dataclass
class Case:
    name: str
    signals: Signals
    in_effect: tuple[InEffect, ...]
    next: ActionId | None  # Assessment.next
    done: tuple[ActionId, ...]  # marked done, in the assessment's order
    strip: str  # the strip's action line starts with this
    not_in_strip: tuple[str, ...] = ()


CASES = [
    Case(
        "rate-limited, nothing in effect: the headers are read (in the logs), Q next",
        RATE_LIMITED,
        (),
        ActionId.ENABLE_QUEUING,
        (ActionId.READ_RATE_LIMITS,),
        "→ Q Enable request queuing · ✓ Rate-limit headers read",
    ),
    Case(
        "rate-limited after Q: queuing shown on, not offered again",
        RATE_LIMITED,
        (QUEUING_ON,),
        None,
        (ActionId.READ_RATE_LIMITS, ActionId.ENABLE_QUEUING),
        "✓ Rate-limit headers read · ✓ Request queuing on since 07:58:00",
        ("→", "Q Enable"),
    ),
    Case(
        "rate-limited after Q, no headers in the logs: reading them is what is left",
        RATE_LIMITED_NO_HEADERS,
        (QUEUING_ON,),
        ActionId.READ_RATE_LIMITS,
        (ActionId.ENABLE_QUEUING,),
        "→ Read the rate-limit headers · ✓ Request queuing on since 07:58:00",
        ("Q Enable",),
    ),
    Case(
        "key revoked: v first",
        KEY_REVOKED,
        (),
        ActionId.VERIFY_KEY,
        (),
        "→ v Verify the Clay API key in the Secret · k Update the key if it was rotated · R Restart the pods",
    ),
    Case(
        "key revoked, new key and restart in effect: the check is done too (the new key was checked before it was written)",
        KEY_REVOKED,
        (KEY_UPDATED, RESTARTED),
        None,
        (ActionId.VERIFY_KEY, ActionId.UPDATE_KEY, ActionId.RESTART),
        "✓ Key checked since 07:59:30 · ✓ Key updated since 07:59:30 · ✓ Pods restarted since 07:59:40",
        ("→", "v Verify", "k Update", "R Restart"),
    ),
    Case(
        "Clay outage: f first",
        CLAY_OUTAGE,
        (),
        ActionId.ENABLE_FALLBACK,
        (),
        "→ f Enable graceful degradation (fallback) · Keep watching Clay's status page",
    ),
    Case(
        "Clay outage, fallback flag on: watching is what is left",
        CLAY_OUTAGE,
        (FALLBACK_ON,),
        ActionId.WATCH_CLAY_STATUS,
        (ActionId.ENABLE_FALLBACK,),
        "→ Keep watching Clay's status page · ✓ Fallback on since 07:59:00",
        ("f Enable",),
    ),
    Case(
        "Clay outage, the health check shows the fallback serving (no flag read)",
        replace(CLAY_OUTAGE, health=live(health("degraded", fallback=("degraded", "active on 3/3 pods: serving cached enrichment")))),
        (),
        ActionId.WATCH_CLAY_STATUS,
        (ActionId.ENABLE_FALLBACK,),
        "→ Keep watching Clay's status page · ✓ Fallback on",
        ("f Enable",),
    ),
    Case(
        "an action in effect that triage does not recommend changes nothing",
        KEY_REVOKED,
        (QUEUING_ON, InEffect("no_such_action", "?")),
        ActionId.VERIFY_KEY,
        (),
        "→ v Verify",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_actions_in_effect_are_done_and_never_the_next_key(case: Case) -> None:
    a = assess(replace(case.signals, in_effect=case.in_effect), TH, NOW)
    assert (a.next.id if a.next else None) == case.next
    assert tuple(x.id for x in a.actions if x.done) == case.done
    for x in a.actions:
        effect = next((e for e in case.in_effect if e.action == x.id.value), None)
        if effect is not None:
            assert x.done and x.detail == effect.detail and x.since == effect.since
    line = actions_line(a).plain
    assert line.startswith(case.strip), line
    for words in case.not_in_strip:
        assert words not in line, line
    d = a.to_dict()["findings"][0]["actions"]
    assert [x["id"] for x in d if x.get("done")] == [x.value for x in case.done if x.value in {y["id"] for y in d}]


def test_do_now_shows_each_key_and_what_is_in_effect() -> None:
    a = assess(replace(RATE_LIMITED, in_effect=(QUEUING_ON,)), TH, NOW)
    shown = actions_content(a, 76).plain
    assert "✓ Request queuing on since 07:58:00 — CLAY_REQUEST_QUEUING=true in ConfigMap clay-sync-flags" in " ".join(shown.split())
    assert " Q " not in shown
    a = assess(KEY_REVOKED, TH, NOW)
    lines = actions_content(a, 76).plain.splitlines()
    assert lines[:4] == [
        "Do now",
        " v  Verify the Clay API key in the Secret",
        " k  Update the key if it was rotated",
        " R  Restart the pods",
    ]


def test_outside_actions_say_so_and_the_restart_is_not_offered_for_a_leak() -> None:
    from test_triage import CRASHLOOP, QUEUE_FAIL, memory_lines

    a = assess(signals(health_=live(QUEUE_FAIL), pods_=live(CRASHLOOP), logs=memory_lines(179, 511, 20.0)), TH, NOW)
    line = actions_line(a).plain
    assert line.startswith("→ U Roll back the last change to the deployment · Raise the pods' memory limit (outside the cockpit) · 5 Read")
    assert "R " not in line and "Restart" not in line
    shown = " ".join(actions_content(a, 76).plain.split())
    assert "U Roll back the last change to the deployment a leak that came with it" in shown
    assert "5 Read the failing pod's last log lines" in shown
