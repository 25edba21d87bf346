"""`check` rows for Kubernetes: the kubeconfig and authentication, the pods
of the service (and, as other issues add them, a SelfSubjectAccessReview for
every verb the cockpit uses). Never raises."""

from __future__ import annotations

import asyncio
from typing import Any

from cockpit.check_rows import Row, fail, ok
from cockpit.signals import ErrorKind, PodsSnapshot, SourceError

ENABLES = "the pods and logs panes, the infra branches of triage"


def describe(result: PodsSnapshot) -> str:
    ready = sum(1 for p in result.pods if p.is_ready)
    return (
        f"context {result.context or '(current)'}, namespace {result.namespace}: "
        f"{len(result.pods)} pods, {ready} ready ({result.response_ms:.0f} ms)"
    )


async def kube_rows(config: Any, sources: Any) -> list[Row]:
    try:
        result = await asyncio.to_thread(sources.kube.list_pods)
    except Exception as exc:  # a source broke its contract (it returns SourceError): report, don't crash
        result = SourceError("kube", ErrorKind.BAD_RESPONSE, f"{type(exc).__name__} while probing",
                             "this is a bug in clay-cockpit; please report it")
    if isinstance(result, SourceError):
        return [fail("kube", f"{result.kind.value}: {result.message}", result.hint, ENABLES)]
    return [ok("kube", describe(result), ENABLES)]
