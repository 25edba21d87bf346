"""The review kinds a user posts to learn about themself, answered from the
drill's authentication and RBAC (:mod:`clay_cockpit.sim.kube.rbac`):

- SelfSubjectRulesReview (``authorization.k8s.io/v1``, ``kubectl auth can-i
  --list``): the rules the responder holds in a namespace;
- SelfSubjectReview (``authentication.k8s.io/v1``, ``kubectl auth whoami``):
  the user the request authenticated as.

Real RBAC only grants, the drill's only denies: with no denial in effect the
responder holds ``*`` on everything (as the drill lets them), else the rules
list, per served resource and subresource, the verbs no denial takes away. A
denial of one object by name cannot be written as RBAC rules; such verbs are
left out and the review says it is incomplete, naming the denial. The default
rules every authenticated user has (``system:basic-user``,
``system:discovery``, ``system:public-info-viewer``) come after, as on a real
cluster.
"""

from __future__ import annotations

from typing import Any

from clay_cockpit.sim.kube import resources as kr
from clay_cockpit.sim.kube.rbac import Rbac
from clay_cockpit.sim.kube.util import ApiError, qualified

RESOURCE_VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")
BASIC_USER = [
    {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]},
    {"verbs": ["create"], "apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"]},
]
DISCOVERY = [
    {
        "verbs": ["get"],
        "nonResourceURLs": [
            "/api",
            "/api/*",
            "/apis",
            "/apis/*",
            "/healthz",
            "/livez",
            "/openapi",
            "/openapi/*",
            "/readyz",
            "/version",
            "/version/",
        ],
    },
    {"verbs": ["get"], "nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"]},
]
AUTHENTICATED = "system:authenticated"


def rules_review(rbac: Rbac, body: dict[str, Any]) -> dict[str, Any]:
    """A SelfSubjectRulesReview answered (400 without ``spec.namespace``, as kube-apiserver)."""
    spec = body.get("spec")
    namespace = spec.get("namespace") if isinstance(spec, dict) else None
    namespace = namespace if isinstance(namespace, str) else ""
    if not namespace:
        raise ApiError(400, "no namespace on request")
    denials = [d for d in rbac.denials if not d.namespace or d.namespace == namespace]
    rules: list[dict[str, Any]] = []
    status: dict[str, Any] = {}
    if not denials:
        rules.append({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]})
    else:
        by_group: dict[tuple[str, tuple[str, ...]], list[str]] = {}
        for res in kr.RESOURCES:
            if res.plural.startswith("self"):
                continue  # the review kinds: granted below, to everyone
            for name in [res.plural] + [f"{res.plural}/{sub}" for sub in res.subresources]:
                ns = namespace if res.namespaced else None
                verbs = tuple(v for v in RESOURCE_VERBS if rbac.allowed(v, name, res.group, ns, None))
                if verbs:
                    by_group.setdefault((res.group, verbs), []).append(name)
        for (group, verbs), names in by_group.items():
            rules.append({"verbs": list(verbs), "apiGroups": [group], "resources": sorted(set(names))})
        by_name = [d for d in denials if d.name]
        if by_name:
            status["incomplete"] = True
            status["evaluationError"] = "; ".join(
                f'the drill denies {d.verb} on {qualified(d.resource, d.group or "")} "{d.name}" only, which RBAC rules cannot express; '
                f"those verbs are left out"
                for d in by_name
            )
    rules.extend(BASIC_USER)
    non_resource = ([{"verbs": ["*"], "nonResourceURLs": ["*"]}] if not denials else []) + DISCOVERY
    return {
        "kind": "SelfSubjectRulesReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "spec": {},
        "status": {"resourceRules": rules, "nonResourceRules": non_resource, "incomplete": status.get("incomplete", False), **status},
    }


def self_review(username: str, groups: list[str]) -> dict[str, Any]:
    """A SelfSubjectReview: who the request authenticated as."""
    all_groups = [g for g in groups if g != AUTHENTICATED] + [AUTHENTICATED]
    return {
        "kind": "SelfSubjectReview",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "status": {"userInfo": {"username": username, "groups": all_groups}},
    }
