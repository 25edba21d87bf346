"""`clay-cockpit check` and `clay-cockpit rbac`: the readiness report, one
row per prerequisite (``report``, ``rows``, ``services``, ``kube``,
``paging``) and the Role the config needs (``rbac``: the permissions table
check asks about).

Imports the base layer, the sources, actions' adapter types and
``clay_cockpit.cli_common``; never ``clay_cockpit.cli`` itself, the app or any UI.
"""
