"""The cockpit's own keys (the App's bindings), in a module of their own so
the keymap check (:mod:`clay_cockpit.screens.keymap`) can list every binding without
importing the app: each binding's ``id`` is what ``[keymap]`` names."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.binding import Binding

if TYPE_CHECKING:
    from textual.dom import DOMNode

PANES = Binding.Group("Panes", compact=True)

APP_BINDINGS: tuple[Binding, ...] = (
    Binding("1", "focus_pane('statuspage')", "Clay status", group=PANES, id="pane.statuspage", tooltip="Focus the Clay status page pane"),
    Binding("2", "focus_pane('health')", "Health", group=PANES, id="pane.health", tooltip="Focus the integration health pane"),
    Binding("3", "focus_pane('metrics')", "Error rates", group=PANES, id="pane.metrics", tooltip="Focus the error rates pane"),
    Binding("4", "focus_pane('pods')", "Pods", group=PANES, id="pane.pods", tooltip="Focus the pods table"),
    Binding("5", "focus_pane('logs')", "Logs", group=PANES, id="pane.logs", tooltip="Focus the pod logs pane"),
    Binding(
        "d",
        "decide",
        "Decide",
        id="view.decide",
        tooltip="Show the triage, checklist and timeline in place of the signal panes (below 120 columns), or go back",
    ),
    Binding(
        "c",
        "checklist",
        "Checklist",
        show=False,
        id="pane.checklist",
        tooltip="Focus the runbook checklist (in it: 1-4 jump to a step, space ticks)",
    ),
    Binding(
        "i",
        "declare",
        "Declare",
        id="incident.declare",
        tooltip="Declare an incident now, at the verdict and severity the triage strip shows, with the evidence seen so far",
    ),
    Binding(
        "a",
        "accept",
        "Accept",
        id="incident.accept",
        tooltip="Accept the incident's severity (set at the declaration or raised by triage; a lower suggestion is taken with s)",
    ),
    Binding("s", "severity", "Severity", id="incident.severity", tooltip="Set the incident's severity (P1-P4); the suggestion is kept too"),
    Binding(
        "u",
        "status",
        "Status",
        id="incident.status",
        tooltip="Change the incident's status: investigating, identified, monitoring, resolved",
    ),
    Binding("t", "timeline", "Timeline", show=False, id="view.timeline", tooltip="Open the whole incident timeline, full screen"),
    Binding("m", "metrics_view", "Metrics", show=False, id="view.metrics", tooltip="Open the metrics view: a larger chart per series"),
    Binding(
        "o",
        "infra_view",
        "Infra",
        show=False,
        id="view.infra",
        tooltip="Open the infrastructure view: what changed (rollouts, ConfigMaps, Secrets, our actions), Warning events, nodes",
    ),
    Binding("slash", "filter_logs", "Filter", show=False, id="logs.filter", tooltip="Filter the pod logs by text (case-insensitive)"),
    Binding("p", "pause_logs", "Pause", show=False, id="logs.pause", tooltip="Pause or resume the pod logs (lines keep arriving)"),
    Binding("r", "refresh", "Refresh", show=False, id="sources.refresh", tooltip="Poll every source now"),
    # remediation (screens/actions_desk.py): each key only opens an input or the plan's confirm modal
    Binding(
        "x",
        "actions_pane",
        "Actions",
        show=False,
        id="action.pane",
        tooltip="Focus the actions pane (below 120 columns: in the checklist's place)",
    ),
    Binding(
        "v",
        "act('verify_key')",
        "Verify key",
        show=False,
        id="action.verify_key",
        tooltip="Verify the Clay API key in the Secret with Clay's probe URL (reads only)",
    ),
    Binding(
        "k",
        "act('update_key')",
        "Update key",
        show=False,
        id="action.update_key",
        tooltip="Update the Clay API key in the Secret: paste it masked, Enter (Clay checks it), the plan, type the deployment name (then a restart is offered)",
    ),
    Binding(
        "R",
        "act('restart')",
        "Restart",
        show=False,
        id="action.restart",
        tooltip="Restart the pods (rollout restart): plan, dry run, y confirms; then the symptom it should end is followed",
    ),
    Binding(
        "U",
        "act('rollback')",
        "Rollback",
        show=False,
        id="action.rollback",
        tooltip="Roll back the deployment (rollout undo) to its previous revision: the plan shows the image and env differences, y confirms; then the symptom it should end is followed",
    ),
    Binding(
        "Q",
        "act('queuing')",
        "Queuing",
        show=False,
        id="action.queuing",
        tooltip="Enable (or disable) request queuing: the ConfigMap flag, then a restart; y confirms; shown ✓ while on",
    ),
    Binding(
        "f",
        "act('fallback')",
        "Fallback",
        show=False,
        id="action.fallback",
        tooltip="Enable (or disable) graceful degradation (fallback): the ConfigMap flag, then a restart; y confirms; shown ✓ while on",
    ),
    Binding(
        "S",
        "act('scale')",
        "Scale",
        show=False,
        id="action.scale",
        tooltip="Scale the deployment: the replica count, plan, y confirms (by half or more down: type the deployment name)",
    ),
    Binding(
        "D",
        "act_deployment",
        "Deployment",
        show=False,
        id="action.deployment",
        tooltip="With more than one deployment in kube.deployments: switch the one the actions act on",
    ),
    Binding(
        "g",
        "act_retry",
        "Retry",
        show=False,
        id="action.retry",
        tooltip="Retry the last action that failed on something passing (expired credentials, a held lease), or follow its effect again",
    ),
    # stakeholder communication (screens/comms_desk.py): the update editor, the postmortem
    Binding(
        "n",
        "compose('internal')",
        "Update",
        id="comms.internal",
        tooltip="Write the internal update (Slack incident thread): a draft from the template, preview, send",
    ),
    Binding(
        "e",
        "compose('external')",
        "Status page",
        show=False,
        id="comms.external",
        tooltip="Write the status page update for customers: status, components, preview, send",
    ),
    Binding(
        "P",
        "postmortem",
        "Postmortem",
        show=False,
        id="comms.postmortem",
        tooltip="Write the Markdown postmortem of the incident from its timeline (into the state dir)",
    ),
    # PagerDuty and Grafana (screens/paging_desk.py, issue 16)
    Binding(
        "b",
        "pages_view",
        "Pages",
        show=False,
        id="comms.pages",
        tooltip="Open the PagerDuty pages: acknowledge, link, note, resolve; the outbox of milestone notes; escalations",
    ),
    Binding(
        "E",
        "escalate",
        "Escalate",
        show=False,
        id="comms.escalate",
        tooltip="Page the escalation target on PagerDuty, with the permission refusal and its plan (asked first)",
    ),
    Binding(
        "y",
        "copy_link",
        "Copy link",
        show=False,
        id="comms.copy_link",
        tooltip="Copy the Grafana dashboard link for the incident's time range (OSC 52: works over SSH)",
    ),
    # the shared incident (screens/shared_desk.py, issue 17)
    Binding(
        "W",
        "people_view",
        "People",
        show=False,
        id="incident.people",
        tooltip="Who is in the shared incident, its commander, whether it is in step with the cluster; take or hand over command",
    ),
    Binding("question_mark", "help", "Help", id="app.help", tooltip="Show every key"),
    Binding("q", "quit", "Quit", id="app.quit", tooltip="Leave the cockpit"),
)


# the help's (and README's) sections of the app's own bindings, by id prefix; the rest are "Actions"
SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Panes and views", ("pane.", "view.")),
    ("Incident", ("incident.",)),
    ("Communication", ("comms.",)),
    ("Remediation", ("action.",)),
)
OPEN_ONLY = ("accept", "severity", "status")  # actions the footer shows only while there is an incident


def bindings_of(owner: type[DOMNode]) -> list[Binding]:
    """``owner.BINDINGS``, the Binding objects: Textual's type admits (key,
    action[, description]) tuples there too, which the cockpit never writes
    (a tuple has no id for [keymap] to name)."""
    return [b for b in owner.BINDINGS if isinstance(b, Binding)]
