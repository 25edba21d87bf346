"""Remediation: the path every action takes — plan, server dry run,
permission check, confirmation, apply, follow the rollout, verify the
symptom ended (``flow``, ``flow_verify``, ``plans``, ``follow``, ``symptom``), rate limits
(``ratelimit``), what is in effect (``status``).

``types`` holds the adapter contract (Failure, AdminError, SecretValue,
ProbeResult …): base layer, so the Kubernetes adapters in
``clay_cockpit.sources`` may import it. The rest imports the base layer, the
sources, triage and the incident core; never comms or any UI.
"""
