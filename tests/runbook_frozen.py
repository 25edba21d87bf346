"""The runbook's constants as cockpit/runbook.py wrote them in code before
issue 18 moved them into config/runbook.toml: a frozen copy, the oracle
tests/test_runbook_file.py holds the shipped file's constants equal to."""

from __future__ import annotations

from clay_cockpit.runbook import ActionId, Branch, ErrorClass, Item, Severity, SeverityLevel, Step

SEVERITIES: dict[Severity, SeverityLevel] = {
    Severity.P1: SeverityLevel(Severity.P1, "Complete outage", "< 15 min", 15 * 60, "Clay API unreachable"),
    Severity.P2: SeverityLevel(Severity.P2, "Degraded service", "< 1 hour", 60 * 60, "High latency, partial failures"),
    Severity.P3: SeverityLevel(Severity.P3, "Minor impact", "< 4 hours", 4 * 60 * 60, "Webhook delays, non-critical errors"),
    Severity.P4: SeverityLevel(Severity.P4, "No user impact", "Next business day", None, "Monitoring gaps"),
}


ACTION_TEXT: dict[ActionId, str] = {
    ActionId.VERIFY_KEY: "Verify the Clay API key in the Secret",
    ActionId.UPDATE_KEY: "Update the key if it was rotated",
    ActionId.RESTART: "Restart the pods",
    ActionId.READ_RATE_LIMITS: "Read the rate-limit headers",
    ActionId.ENABLE_QUEUING: "Enable request queuing",
    ActionId.ENABLE_FALLBACK: "Enable graceful degradation (fallback)",
    ActionId.WATCH_CLAY_STATUS: "Keep watching Clay's status page",
    ActionId.INVESTIGATE_INFRA: "Investigate our pods and infrastructure",
    ActionId.SCALE: "Scale the deployment",
    ActionId.READ_POD_LOGS: "Read the failing pod's last log lines",
    ActionId.ROLLBACK: "Roll back the last change to the deployment",
    ActionId.RAISE_MEMORY_LIMIT: "Raise the pods' memory limit",
    ActionId.CHECK_DEPLOYMENT: "Check the deployment: its replicas and its selector",
    ActionId.ESCALATE_NODE: "Cordon the node, or escalate it to the cluster's operators",
}

#: The key that carries out each runbook action on the cockpit's main screen
#: (the one place this is written down: tests/test_triage_keys.py holds it
#: equal to the app's bindings). Actions without a key here are done outside
#: the cockpit (``OUTSIDE``) or are the responder's own reading.
ACTION_KEY: dict[ActionId, str] = {
    ActionId.VERIFY_KEY: "v",
    ActionId.UPDATE_KEY: "k",
    ActionId.RESTART: "R",
    ActionId.ENABLE_QUEUING: "Q",
    ActionId.ENABLE_FALLBACK: "f",
    ActionId.SCALE: "S",
    ActionId.ROLLBACK: "U",  # rollout Undo
    ActionId.READ_POD_LOGS: "5",  # the pod logs pane
}

#: Actions the cockpit cannot carry out: said plainly where they are offered.
OUTSIDE: frozenset[ActionId] = frozenset({ActionId.RAISE_MEMORY_LIMIT, ActionId.CHECK_DEPLOYMENT})

#: How an action reads once it is in effect ("✓ Request queuing on since 12:03").
DONE_TEXT: dict[ActionId, str] = {
    ActionId.VERIFY_KEY: "Key checked",
    ActionId.UPDATE_KEY: "Key updated",
    ActionId.RESTART: "Pods restarted",
    ActionId.READ_RATE_LIMITS: "Rate-limit headers read",
    ActionId.ENABLE_QUEUING: "Request queuing on",
    ActionId.ENABLE_FALLBACK: "Fallback on",
    ActionId.WATCH_CLAY_STATUS: "Watching Clay's status page",
    ActionId.INVESTIGATE_INFRA: "Infrastructure investigated",
    ActionId.SCALE: "Scaled",
    ActionId.READ_POD_LOGS: "Pod logs read",
    ActionId.ROLLBACK: "Rolled back",
    ActionId.RAISE_MEMORY_LIMIT: "Memory limit raised",
    ActionId.CHECK_DEPLOYMENT: "Deployment checked",
    ActionId.ESCALATE_NODE: "Node escalated",
}

#: A node's trouble is the cluster operators' to fix (cordon, drain, replace): outside the cockpit too.
OUTSIDE = OUTSIDE | {ActionId.ESCALATE_NODE}

_B = Branch
_E = ErrorClass

STEPS: tuple[Step, ...] = (
    Step(
        1,
        "Quick triage",
        (
            Item("check_status_page", "Check Clay's status page", auto="statuspage"),
            Item("check_health", "Check our integration health endpoint", auto="health"),
            Item("check_metrics", "Review error-rate metrics", auto="metrics"),
            Item("check_logs", "Scan recent pod logs", auto="logs"),
        ),
    ),
    Step(
        2,
        "Decision tree",
        (
            Item("branch_clay", "Clay errors + Clay incident → wait and enable fallback", frozenset({_B.CLAY_INCIDENT})),
            Item("branch_credentials", "Clay errors, no Clay incident → check our credentials and config", frozenset({_B.CREDENTIALS})),
            Item(
                "branch_infrastructure",
                "No Clay errors, our service unhealthy → investigate our infrastructure",
                frozenset({_B.INFRASTRUCTURE}),
            ),
        ),
    ),
    Step(
        3,
        "Immediate actions",
        (
            Item(
                "verify_key",
                "401/403: verify the API key in the Secret",
                frozenset({_B.CREDENTIALS}),
                frozenset({_E.AUTH}),
                action=ActionId.VERIFY_KEY,
            ),
            Item(
                "update_key",
                "401/403: update the key if it was rotated",
                frozenset({_B.CREDENTIALS}),
                frozenset({_E.AUTH}),
                action=ActionId.UPDATE_KEY,
            ),
            Item("restart_pods", "401/403: restart the pods", frozenset({_B.CREDENTIALS}), frozenset({_E.AUTH}), action=ActionId.RESTART),
            Item(
                "read_rate_limits",
                "429: read the rate-limit headers",
                frozenset({_B.CREDENTIALS}),
                frozenset({_E.RATE_LIMIT}),
                action=ActionId.READ_RATE_LIMITS,
            ),
            Item(
                "enable_queuing",
                "429: enable request queuing",
                frozenset({_B.CREDENTIALS}),
                frozenset({_E.RATE_LIMIT}),
                action=ActionId.ENABLE_QUEUING,
            ),
            Item(
                "enable_fallback",
                "500/503: enable graceful degradation",
                frozenset({_B.CLAY_INCIDENT, _B.CREDENTIALS}),
                frozenset({_E.SERVER}),
                action=ActionId.ENABLE_FALLBACK,
            ),
            Item(
                "watch_clay_status",
                "500/503: keep watching Clay's status",
                frozenset({_B.CLAY_INCIDENT, _B.CREDENTIALS}),
                frozenset({_E.SERVER}),
                action=ActionId.WATCH_CLAY_STATUS,
            ),
            Item(
                "investigate_infra",
                "Investigate our pods, nodes and resources",
                frozenset({_B.INFRASTRUCTURE}),
                action=ActionId.INVESTIGATE_INFRA,
            ),
        ),
    ),
    Step(
        4,
        "Communicate",
        (
            Item("slack_update", "Internal Slack update: severity, impact, current action, next update time"),
            Item("status_page_update", "External status page update in user-facing words"),
        ),
    ),
)
