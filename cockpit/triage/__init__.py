"""Triage: the runbook's decision tree on live signals — which branch, why,
how bad (P1–P4), what to do first, and how the verdict is held steady.

Owns: ``tree`` (assess, the stable Triage), ``evidence`` (numbers read off
the signals), ``logs`` (what the pod log lines say), ``context`` (every
signal digested once), ``findings``/``infra``/``service`` (one finding per
branch), ``stable`` (hysteresis), ``types`` (Assessment, Finding, Reason …).

Pure: no I/O, no clock reads, no Textual. Imports only the base layer
(signals, runbook, config, text helpers); never the sources, the incident,
comms, actions or any UI.
"""
