"""Stakeholder communication, step 4 of the runbook: the facts a message
may state (``facts``, ``context``), templates (``templates``), drafts and
their state (``state``), checks before a send (``check``), Slack blocks with
outside text escaped (``blocks``), and sending through the Slack and status
page adapters with "may have been sent" handled (``core``).

Imports the base layer, triage, the incident core and the Slack/status page
adapters of ``clay_cockpit.sources`` (lazily, to send); never actions or any UI.
"""
