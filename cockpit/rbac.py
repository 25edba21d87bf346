"""Every Kubernetes permission the cockpit uses, from the config: one table
that ``clay-cockpit check`` asks about (a SelfSubjectAccessReview each) and
that ``clay-cockpit rbac`` grants, so the two cannot disagree.

Derived from the code's calls: pods are listed (polled, never watched), logs
read through ``pods/log``; the actions get/patch the deployments (restart,
env flags), patch ``deployments/scale``, get/patch the Secret and the flags'
ConfigMap, and hold a Lease per deployment (get/update by name, create).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any



@dataclass(frozen=True)
class Permission:
    verb: str
    resource: str  # "pods", "deployments", "leases"
    group: str = ""  # "" core, "apps", "coordination.k8s.io"
    subresource: str = ""  # "log", "scale"
    name: str = ""  # the resourceName when the cockpit uses only one object
    namespace: str = ""
    enables: str = ""  # what the cockpit can do with it
    write: bool = False  # not needed in read-only mode

    @property
    def rbac_resource(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource

    @property
    def what(self) -> str:
        """``patch secrets/clay-api``, ``get pods/log``, ``patch deployments/clay-sync/scale``."""
        text = f"{self.verb} {self.resource}"
        if self.name:
            text += f"/{self.name}"
        if self.subresource:
            text += f"/{self.subresource}"
        return text


def permissions(config: Any, *, read_only: bool = False) -> list[Permission]:
    """The table, in a stable order; ``read_only`` leaves out the writes."""
    k = config.kube
    ns = k.namespace

    def p(verb: str, resource: str, enables: str, *, group: str = "", sub: str = "", name: str = "", write: bool = False) -> Permission:
        return Permission(verb, resource, group, sub, name, ns, enables, write)

    out = [
        p("list", "pods", "the pods pane, triage, the log follow, following rollouts"),
        p("get", "pods", "the logs pane", sub="log"),
    ]
    for d in k.deployments:
        restart = "R restarts the pods"
        if k.flags.mode == "env":
            restart += "; Q/f set the flags on the pod template"
        elif k.flags.restart_on_change:
            restart += "; Q/f restart after a flag"
        out += [
            p("get", "deployments", f"the actions pane reads {d}; R, Q, f, S plan on it", group="apps", name=d),
            p("patch", "deployments", restart, group="apps", name=d, write=True),
            p("patch", "deployments", f"S scales {d}", group="apps", sub="scale", name=d, write=True),
        ]
    out += [
        p("get", "secrets", "v verifies the Clay API key; k reads it before rotating", name=k.secret.name),
        p("patch", "secrets", "k rotates the Clay API key", name=k.secret.name, write=True),
    ]
    if k.flags.mode == "configmap":
        out += [
            p("get", "configmaps", "the actions pane shows the queuing / fallback flags", name=k.flags.configmap),
            p("patch", "configmaps", "Q enables queuing, f the fallback", name=k.flags.configmap, write=True),
        ]
    # unnamed: the actions' own reviews (actions_plans.LEASE_NEEDS) ask about leases without a name
    out += [
        p("get", "leases", "sees another responder acting on a deployment", group="coordination.k8s.io"),
        p("create", "leases", "a change takes a lease: two responders never act at once", group="coordination.k8s.io", write=True),
        p("update", "leases", "renews and releases that lease", group="coordination.k8s.io", write=True),
    ]
    return [x for x in out if not (read_only and x.write)]
