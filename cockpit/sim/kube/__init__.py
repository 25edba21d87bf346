"""The drill's in-memory Kubernetes API server: ``api`` (the cluster and its
aiohttp app), ``http`` (routes, auth, verbs), ``store`` (objects,
resourceVersion, watches), ``workload`` (Deployment/ReplicaSet controllers,
events), ``pods``, ``logs``, ``patch``, ``rbac``, ``validate``,
``resources``, ``proto``, ``tls``, ``util``.

Part of the drill environment: imports the rest of ``clay_cockpit.sim`` and the
base layer only; never the cockpit's sources, logic or UI (it stands in for
the real thing, so it must not share code with what it is tested against).
"""
