"""`check` rows for Kubernetes: the kubeconfig, authentication (listing the
service's pods), then a SelfSubjectAccessReview for every permission in
:func:`clay_cockpit.check.rbac.permissions` (the table ``clay-cockpit rbac`` grants),
each row saying what it enables; a denied watch warns (the cockpit lists
instead, and the row says how often), and so does a denied permission of the
shared incident (the row says what is lost: it stays local, or is watched only). In read-only mode the write permissions are
not asked (one row says how many were left out). Never raises."""

from __future__ import annotations

import asyncio
from typing import Any

from clay_cockpit.check.rows import Row, fail, ok, warn
from clay_cockpit.signals import ErrorKind, PodsSnapshot, SourceError

ENABLES = "the pods and logs panes, the infra branches of triage"
RBAC_HINT = (
    "ask a cluster admin to grant it to your account (`clay-cockpit rbac` prints the Role and RoleBinding "
    "to apply), or use a context that has it"
)


def describe(result: PodsSnapshot) -> str:
    ready = sum(1 for p in result.pods if p.is_ready)
    return (
        f"context {result.context or '(current)'}, namespace {result.namespace}: "
        f"{len(result.pods)} pods, {ready} ready ({result.response_ms:.0f} ms)"
    )


def _review_rows(config: Any, read_only: bool) -> list[Row]:
    """Blocking: one SelfSubjectAccessReview per permission (the official client's AuthorizationV1Api)."""
    from clay_cockpit.actions.types import AdminError, Need
    from clay_cockpit.check.rbac import permissions
    from clay_cockpit.sources.kube_admin import KubeAdmin

    admin = KubeAdmin(config.kube, read_only=True)  # a review is a read: nothing here can write
    rows = []
    for perm in permissions(config, read_only=read_only):
        name = f"kube {perm.what}"
        try:
            check = admin.review(Need(perm.verb, perm.resource, perm.group, perm.subresource, perm.name))
        except AdminError as exc:
            f = exc.failure
            rows.append(fail(name, f"{f.kind.value}: {f.message}", f.hint or RBAC_HINT, perm.enables))
            if f.kind.value != "forbidden":  # unreachable, expired …: the other reviews would say the same
                break
            continue
        where = f" in namespace {perm.namespace}" if perm.namespace else ""
        if check.allowed:
            rows.append(ok(name, "allowed", perm.enables))
        elif perm.without:  # a watch: the cockpit lists instead, and says so
            rows.append(warn(name, f"denied: {perm.verb} {perm.rbac_resource}{where}: {perm.without}", RBAC_HINT, perm.enables))
        else:
            rows.append(fail(name, f"denied: {perm.verb} {perm.rbac_resource}{where}", RBAC_HINT, perm.enables))
    if read_only:
        skipped = len(permissions(config)) - len(permissions(config, read_only=True))
        rows.append(ok("kube read-only", f"{skipped} write permissions not checked (read-only mode)", "no action changes anything"))
    return rows


async def kube_rows(config: Any, sources: Any, *, read_only: bool = False) -> list[Row]:
    kube = sources.kube
    try:
        result = await asyncio.to_thread(kube.list_pods)
    except Exception as exc:  # a source broke its contract (it returns SourceError): report, don't crash
        result = SourceError(
            "kube", ErrorKind.BAD_RESPONSE, f"{type(exc).__name__} while probing", "this is a bug in clay-cockpit; please report it"
        )
    if isinstance(result, SourceError) and result.kind is ErrorKind.CONFIG:
        return [fail("kubeconfig", f"config: {result.message}", result.hint, ENABLES)]
    rows = [ok("kubeconfig", f"{kube._kubeconfig_shown()}, context {kube.context}")]
    if isinstance(result, SourceError) and result.kind is not ErrorKind.FORBIDDEN:
        return [*rows, fail("kube auth", f"{result.kind.value}: {result.message}", result.hint, ENABLES)]
    if isinstance(result, SourceError):  # authenticated, but may not list pods: the review row says so
        rows.append(ok("kube auth", f"authenticated to context {kube.context} (listing pods is forbidden)", ENABLES))
    else:
        rows.append(ok("kube auth", describe(result), ENABLES))
    read_only = read_only or bool(getattr(config.kube, "read_only", False))
    try:
        return [*rows, *await asyncio.to_thread(_review_rows, config, read_only)]
    except Exception as exc:  # never raise into check
        return [
            *rows,
            fail("kube permissions", f"{type(exc).__name__} while checking permissions", "this is a bug in clay-cockpit; please report it"),
        ]
