"""RBAC of the drill's Kubernetes API: the responder may do everything in the
cluster except what a drill control (or a ``kube_denied`` fault) denies.

A denial names a verb (or ``*``) and a resource as RBAC spells it
(``secrets``, ``pods/log``, ``deployments/scale``, or ``*``), and may narrow
it to one object (``name``, a resourceName), one API group and one
namespace. The same rules answer both questions a real API server answers:

- a request (:meth:`Rbac.allowed`): a denied one gets 403 Forbidden with
  kube-apiserver's Status message (:func:`kube_util.forbidden_message`);
- a SelfSubjectAccessReview (:meth:`Rbac.review`): ``status.allowed`` and,
  when allowed, the ``status.reason`` the RBAC authorizer gives
  (``RBAC: allowed by RoleBinding …`` in a namespace; at the cluster scope —
  patching a node to cordon it — a namespaced Role cannot grant it, so the
  responder holds an on-call ClusterRole: ``… by ClusterRoleBinding …``); a
  denial has no reason, as with RBAC alone (no authorizer has an opinion).

Unlike real RBAC a ``name`` denial does not need the object to exist, and a
denial of ``create`` with a ``name`` never matches (a create request carries
no name in its URL, as on a real server).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from clay_cockpit.sim.kube.util import ApiError

VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "*")


@dataclass(frozen=True)
class Denial:
    verb: str  # "patch" or "*"
    resource: str  # "secrets", "pods/log", "deployments/scale" or "*"
    name: str = ""  # "" any object; else one resourceName
    group: str | None = None  # None: any API group ("" is the core group)
    namespace: str = ""  # "" any namespace

    def matches(self, verb: str, resource: str, group: str, namespace: str | None, name: str | None) -> bool:
        return (
            self.verb in (verb, "*")
            and self.resource in (resource, "*")
            and (self.group is None or self.group == group)
            and (not self.namespace or self.namespace == (namespace or ""))
            and (not self.name or self.name == (name or ""))
        )

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in ("", None)}


def parse_denial(body: Any) -> Denial:
    """A control body ``{"verb", "resource", "name"?, "group"?, "namespace"?}``; ValueError says what is wrong."""
    if not isinstance(body, dict):
        raise ValueError('expected {"verb": "patch", "resource": "secrets"} (optional: "name", "group", "namespace")')
    unknown = set(body) - {"verb", "resource", "name", "group", "namespace"}
    if unknown:
        raise ValueError(f"unknown keys: {', '.join(sorted(unknown))}")
    for key in ("verb", "resource"):
        if not isinstance(body.get(key), str) or not body[key]:
            raise ValueError(f'{key} must be a non-empty string, e.g. {{"verb": "patch", "resource": "secrets"}}')
    for key in ("name", "group", "namespace"):
        if key in body and not isinstance(body[key], str):
            raise ValueError(f"{key} must be a string")
    if body["verb"] not in VERBS:
        raise ValueError(f"verb must be one of {', '.join(VERBS)}")
    resource = body["resource"]
    if resource != "*" and (resource.count("/") > 1 or not all(part.isalnum() for part in resource.split("/"))):
        raise ValueError('resource must be a plural resource name, optionally with a subresource ("pods/log"), or "*"')
    return Denial(body["verb"], resource, body.get("name", ""), body.get("group"), body.get("namespace", ""))


class Rbac:
    def __init__(self, user: str, namespace: str) -> None:
        self.user, self.namespace = user, namespace
        self._denied: list[Denial] = []

    @property
    def denials(self) -> list[Denial]:
        return list(self._denied)

    def deny(self, denial: Denial) -> None:
        if denial not in self._denied:
            self._denied.append(denial)

    def allow(self, denial: Denial) -> bool:
        """Undo one :meth:`deny` (the same fields); False if it was not denied."""
        if denial in self._denied:
            self._denied.remove(denial)
            return True
        return False

    def allow_all(self) -> None:
        self._denied.clear()

    def allowed(self, verb: str, resource: str, group: str = "", namespace: str | None = None, name: str | None = None) -> bool:
        """May the responder ``verb`` ``resource`` (``pods/log`` form)? ``name`` is the object in the URL (none for create/list)."""
        return not any(d.matches(verb, resource, group, namespace, name) for d in self._denied)

    def _granted_by(self, namespace: object) -> str:
        """The RBAC authorizer's reason. In a namespace, the responder's Role there; at the
        cluster scope (nodes, or every namespace) a Role cannot grant anything: the on-call
        ClusterRole the drill's responder holds (cordon a node, read every namespace)."""
        user = self.user
        if isinstance(namespace, str) and namespace:
            return f'RBAC: allowed by RoleBinding "{user}/{namespace}" of Role "{user}" to User "{user}"'
        return f'RBAC: allowed by ClusterRoleBinding "{user}-oncall" of ClusterRole "oncall" to User "{user}"'

    def review(self, body: dict[str, Any]) -> dict[str, Any]:
        """A SelfSubjectAccessReview answered; raises ApiError 422 for a spec a real server refuses."""
        spec = body.get("spec")
        if not isinstance(spec, dict):
            spec = {}
        attrs, non_resource = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
        if bool(attrs) == bool(non_resource):
            raise ApiError(
                422,
                'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: '
                'Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified',
                details={"group": "authorization.k8s.io", "kind": "SelfSubjectAccessReview"},
            )
        ok = True
        if isinstance(attrs, dict):
            resource = str(attrs.get("resource") or "")
            if attrs.get("subresource"):
                resource = f"{resource}/{attrs['subresource']}"
            ok = self.allowed(
                str(attrs.get("verb") or ""),
                resource,
                str(attrs.get("group") or ""),
                attrs.get("namespace") or None,
                attrs.get("name") or None,
            )
        status: dict[str, Any] = {"allowed": ok}
        if ok:
            status["reason"] = self._granted_by(attrs.get("namespace") if isinstance(attrs, dict) else None)
        return {
            "kind": "SelfSubjectAccessReview",
            "apiVersion": "authorization.k8s.io/v1",
            "metadata": {"creationTimestamp": None},
            "spec": spec,
            "status": status,
        }
