"""The incident: declaration, severity, status and the response clock
(``lifecycle``, ``clock``), the append-only evidence timeline that survives
a crash (``timeline``), what goes on it and when (``recorder``, ``watch``),
the metric history kept with it (``metrics_history``), and the postmortem
written from it (``postmortem``, ``postmortem_parts``, ``postmortem_sections``,
``postmortem_cli``).

The core (everything but the postmortem) imports only the base layer and
triage; the postmortem modules sit one layer up and may use comms' wording
(facts, context, templates) too. Nothing here imports the sources' network
code, actions or any UI.
"""
