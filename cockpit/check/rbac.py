"""Every Kubernetes permission the cockpit uses, from the config: one table
that ``clay-cockpit check`` asks about (a SelfSubjectAccessReview each) and
that ``clay-cockpit rbac`` grants, so the two cannot disagree.

Derived from the code's calls: pods are listed once, then watched (issue 15),
logs read through ``pods/log``; Warning events are listed then watched, and so
are the deployment (by its name: a ``metadata.name`` field selector, which
RBAC authorises against ``resourceNames``) and its ReplicaSets (the
infrastructure view, triage, the rollback's history). A watch the identity
may not open is no failure: the cockpit lists instead, every ``kube.refresh``
(or reads the deployment with ``get``), and ``check`` warns with what that
costs (:attr:`Permission.without`); the actions get/patch the deployments (restart, rollback,
env flags), patch ``deployments/scale``, get/patch the Secret and the flags'
ConfigMap, and hold a Lease per deployment (get/update by name, create).
With ``[shared] enabled`` (issue 17, docs/shared-incident.md) the shared
incident adds ConfigMaps get/list/watch (see it) and create/update (declare,
append events, write the head), and Leases list (who is present) besides the
get/create/update the actions already ask for (one's own presence Lease): all
without resourceNames, as their names are made per incident. Each one
denied warns (the incident stays local, or is watched only); in read-only
mode the cockpit writes nothing to the cluster, its presence included.
Not in the table: ``get nodes`` (cluster-scoped: a Role cannot grant it; the
infrastructure view says what it could not read and which permission that
needs) and the metadata of other ConfigMaps/Secrets the pods reference.
"""

from __future__ import annotations

import sys
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
    without: str = ""  # what the cockpit does without it ("" : something stops working): check warns, not fails

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


LEASES = "coordination.k8s.io"
# what a denied shared-incident permission costs (``check`` warns with it)
SHARED_RELIST = 30  # kube_incident.SharedIncidents.watch: ListWatch's default relist_every, when the watch is refused
LOCAL = "the incident stays local to this cockpit: the other responders do not see it, nor it theirs"
NO_DECLARE = "this cockpit cannot declare a shared incident (it joins one another responder declared) nor start a chunk of events"
NOT_PRESENT = "this responder watches the shared incident without being listed as present in it"
WATCH_ONLY = "this cockpit watches the shared incident but adds nothing to it: its events stay local, the others do not see them"
NO_PRESENCE = "who is in the incident is not shown"


def permissions(config: Any, *, read_only: bool = False) -> list[Permission]:
    """The table, in a stable order; ``read_only`` leaves out the writes."""
    k = config.kube
    ns = k.namespace

    def p(
        verb: str, resource: str, enables: str, *, group: str = "", sub: str = "", name: str = "", write: bool = False, without: str = ""
    ) -> Permission:
        return Permission(verb, resource, group, sub, name, ns, enables, write, without)

    relist = f"listed every {k.refresh:g}s instead"
    out = [
        p("list", "pods", "the pods pane, triage, the log follow, following rollouts"),
        p("watch", "pods", "the pods pane and triage see a change as it happens (listed once, then watched)", without=relist),
        p("get", "pods", "the logs pane", sub="log"),
        p("list", "events", "the infrastructure view and triage: Warning events (listed once)"),
        p("watch", "events", "then watched, not re-listed", without=relist),
        p("list", "replicasets", "the rollout history (o, then h); U plans a rollback to a revision", group="apps"),
        p("watch", "replicasets", "a rollout shows as it happens (listed once, then watched)", group="apps", without=relist),
    ]
    for d in k.deployments:
        out += [
            p(
                "list",
                "deployments",
                f"{d} watched: listed once by its name",
                group="apps",
                name=d,
                without="read with get at each infra poll instead",
            ),  # fmt: skip
            p("watch", "deployments", f"then watched: a rollout of {d} shows as it happens", group="apps", name=d, without=relist),
        ]
    for d in k.deployments:
        restart = "R restarts the pods; U rolls back"
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
    shared = bool(config.shared.enabled)  # the shared incident (issue 17)
    if shared:
        out += _shared_configmaps(p)
    # unnamed: the actions' own reviews (actions_plans.LEASE_NEEDS) ask about leases without a name, and the
    # presence Leases have dynamic names (clay-cockpit-presence-<incident>-<hash>): one table row per verb serves both
    get, create, update = (
        "sees another responder acting on a deployment",
        "a change takes a lease: two responders never act at once",
        "renews and releases that lease",
    )
    if shared:
        get += "; reads this responder's presence Lease"
        create += "; this responder's presence Lease in the shared incident"
        update += "; renews the presence Lease (the heartbeat)"
    out.append(p("get", "leases", get, group=LEASES))
    if shared:
        out.append(p("list", "leases", "who is in the shared incident (the presence Leases)", group=LEASES, without=NO_PRESENCE))
    if read_only and shared:
        # a read-only responder changes nothing in the incident but is present in it (issue 17): its own presence
        # Lease only; denied, it watches without being listed
        out += [
            p(
                "create",
                "leases",
                "this responder's presence Lease (read-only: present, changing nothing)",
                group=LEASES,
                without=NOT_PRESENT,
            ),
            p("update", "leases", "renews the presence Lease (the heartbeat)", group=LEASES, without=NOT_PRESENT),
        ]
    else:
        out += [
            p("create", "leases", create, group=LEASES, write=True),  # no `without`: the actions need it too
            p("update", "leases", update, group=LEASES, write=True),
        ]
    return [x for x in out if not (read_only and x.write)]


def _shared_configmaps(p: Any) -> list[Permission]:
    """The shared incident (issue 17, [shared] enabled; docs/shared-incident.md): ConfigMaps with dynamic
    names (the open-incident pointer, the incident's head, its event chunks), so without resourceNames.
    A denial warns: the cockpit works on, its incident local or watched only."""
    return [
        p("get", "configmaps", "the shared incident: reads which incident is open and its head", without=LOCAL),
        p("list", "configmaps", "the shared incident: reads its events (listed by label, then watched)", without=LOCAL),
        p(
            "watch",
            "configmaps",
            "the shared incident: another responder's change shows within seconds",
            without=f"listed every {SHARED_RELIST}s instead: another responder's change shows up to {SHARED_RELIST}s late",
        ),
        p("create", "configmaps", "declares the shared incident; starts its head and each chunk of events", write=True, without=NO_DECLARE),
        p(
            "update",
            "configmaps",
            "appends this cockpit's events, writes the head, replaces a resolved incident",
            write=True,
            without=WATCH_ONLY,
        ),
    ]


# --------------------------------------------------------------------------
# `clay-cockpit rbac`: the Role (and RoleBinding) that grants exactly the table

ROLE = "clay-cockpit"


def rules(perms: list[Permission]) -> list[dict[str, Any]]:
    """RBAC rules, minimal: a rule without ``resourceNames`` per (group, resource, verbs) for what the
    cockpit uses on any object, then one per (group, resource, verbs) restricted to the names it uses
    only on them. A rule with ``resourceNames`` never carries a verb on any object (RBAC would narrow
    it to those names), and a verb already granted on any object is not granted again by name."""
    anywhere: dict[tuple[str, str], set[str]] = {}
    by_name: dict[tuple[str, str, str], set[str]] = {}
    for p in perms:
        if p.name:
            by_name.setdefault((p.group, p.rbac_resource, p.name), set()).add(p.verb)
        else:
            anywhere.setdefault((p.group, p.rbac_resource), set()).add(p.verb)
    # (group, resource, verbs, named?) -> names, in the table's order
    merged: dict[tuple[str, str, tuple[str, ...], bool], list[str]] = {}
    for (group, resource), verbs in anywhere.items():
        merged[(group, resource, tuple(sorted(verbs)), False)] = []
    for (group, resource, name), verbs in by_name.items():
        left = verbs - anywhere.get((group, resource), set())
        if left:
            merged.setdefault((group, resource, tuple(sorted(left)), True), []).append(name)
    order = {key: i for i, key in enumerate(dict.fromkeys((p.group, p.rbac_resource) for p in perms))}
    out = []
    for (group, resource, verb_set, named), names in sorted(merged.items(), key=lambda kv: (order[kv[0][:2]], kv[0][3])):
        rule: dict[str, Any] = {"apiGroups": [group], "resources": [resource]}
        if named:
            rule["resourceNames"] = sorted(set(names))
        rule["verbs"] = list(verb_set)
        out.append(rule)
    return out


def subjects(users: list[str], groups: list[str], service_accounts: list[str]) -> list[dict[str, str]]:
    """RoleBinding subjects; ValueError for a service account not written NS:NAME."""
    out = [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": u} for u in users]
    out += [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": g} for g in groups]
    for sa in service_accounts:
        ns, _, name = sa.partition(":")
        if not ns or not name:
            raise ValueError(f"--service-account: expected NAMESPACE:NAME, found {sa!r}")
        out.append({"kind": "ServiceAccount", "namespace": ns, "name": name})
    return out


def manifest(config: Any, *, read_only: bool, subject_list: list[dict[str, str]]) -> str:
    """The Role, then (with subjects) the RoleBinding, as multi-document YAML."""
    import yaml  # PyYAML: a dependency of the kubernetes client

    name = ROLE + ("-read-only" if read_only else "")
    meta: dict[str, Any] = {"name": name, "labels": {"app.kubernetes.io/managed-by": "clay-cockpit"}}
    if config.kube.namespace:
        meta["namespace"] = config.kube.namespace
    docs: list[dict[str, Any]] = [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": meta,
            "rules": rules(permissions(config, read_only=read_only)),
        }
    ]
    if subject_list:
        docs.append(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": dict(meta),
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
                "subjects": subject_list,
            }
        )
    head = (
        f"# clay-cockpit rbac{' --read-only' if read_only else ''}: what the cockpit needs in namespace "
        f"{config.kube.namespace or '(the context namespace)'}; apply with `kubectl apply -f -`.\n"
        "# SelfSubjectAccessReviews (clay-cockpit check, the actions) are allowed to every user by system:basic-user.\n"
    )
    if not subject_list:
        head += "# No RoleBinding: name who gets the Role with --user, --group or --service-account NS:NAME.\n"
    body: str = yaml.safe_dump_all(docs, sort_keys=False, explicit_start=True)  # no stream: the text
    return head + body


def cmd_rbac(args: Any) -> int:
    from clay_cockpit.cli_common import EXIT_USAGE, load_user_config

    config = load_user_config(args.config)
    try:
        subject_list = subjects(args.user or [], args.group or [], args.service_account or [])
    except ValueError as exc:
        print(f"clay-cockpit rbac: {exc}", file=sys.stderr)
        return EXIT_USAGE
    read_only = bool(args.read_only or config.kube.read_only)
    sys.stdout.write(manifest(config, read_only=read_only, subject_list=subject_list))
    return 0
