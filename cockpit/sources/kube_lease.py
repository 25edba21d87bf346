"""One coordination.k8s.io/v1 Lease per deployment, held for the duration of
a mutating action, so two responders' cockpits never change the same
deployment at once.

The Lease ``clay-cockpit-<deployment>`` in the service's namespace holds
``holderIdentity`` (``user@host+<cockpit id>``), ``acquireTime``,
``renewTime`` and ``leaseDurationSeconds`` (``actions.lease_seconds``). A
lease not renewed within its duration is stale and may be taken over; a
released lease keeps its object with an empty holder. Every write carries the
resourceVersion it read, so of two cockpits racing for the same lease one
gets 409 and then sees the other as the holder.

Times are the cockpits' wall clocks (``wall``), as client-go's leader
election writes them. Writes go through :class:`~clay_cockpit.sources.kube_admin.KubeAdmin`
(so read-only mode refuses them) and must run inside ``admin.armed()``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from clay_cockpit.actions.types import LEASE_SEP, AdminError, Failure, FailureKind, LeaseInfo
from clay_cockpit.sanitise import clean_line
from clay_cockpit.sources.kube import parse_kube_time
from clay_cockpit.sources.kube_admin import KubeAdmin

PREFIX = "clay-cockpit-"
MANAGED_BY = {"app.kubernetes.io/managed-by": "clay-cockpit"}


def lease_name(deployment: str) -> str:
    return (PREFIX + deployment)[:253].rstrip("-.")


def micro_time(at: float) -> str:
    """A metav1.MicroTime: RFC 3339 with microseconds, UTC."""
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _epoch(value: object) -> float | None:
    parsed = parse_kube_time(value)
    return parsed.timestamp() if parsed is not None else None


def lease_info(doc: dict[str, Any], identity: str) -> LeaseInfo:
    meta, spec = doc.get("metadata") or {}, doc.get("spec") or {}
    holder = spec.get("holderIdentity") if isinstance(spec.get("holderIdentity"), str) else ""
    duration = spec.get("leaseDurationSeconds")
    transitions = spec.get("leaseTransitions")
    return LeaseInfo(
        name=str(meta.get("name") or ""),
        namespace=str(meta.get("namespace") or ""),
        holder=clean_line(holder),  # shown to the responder: inert (clay_cockpit.sanitise); "ours" compares the raw value
        acquired_at=_epoch(spec.get("acquireTime")),
        renewed_at=_epoch(spec.get("renewTime")),
        duration=float(duration) if isinstance(duration, int) and not isinstance(duration, bool) and duration > 0 else 15.0,
        transitions=transitions if isinstance(transitions, int) and not isinstance(transitions, bool) else 0,
        resource_version=str(meta.get("resourceVersion") or ""),
        ours=bool(holder) and holder == identity,
    )


class Leases:
    """Acquire / renew / release the deployment leases of one cockpit (``identity``)."""

    def __init__(self, admin: KubeAdmin, identity: str, lease_seconds: float, *, wall: Callable[[], float] = time.time) -> None:
        self.admin = admin
        self.identity = identity
        self.duration = max(1, math.ceil(lease_seconds))
        self.wall = wall

    def __repr__(self) -> str:
        return f"Leases(identity={self.identity!r}, duration={self.duration})"

    def read(self, deployment: str) -> LeaseInfo | None:
        name = lease_name(deployment)
        doc = self.admin.call(
            "coordination", "read_namespaced_lease", name, self.admin.namespace, allow_404=True, action=f"reading lease {name}"
        )
        return None if doc is None else lease_info(doc, self.identity)

    def _held(self, deployment: str, info: LeaseInfo, now: float) -> AdminError:
        who = info.holder.split("+", 1)[0]
        return AdminError(
            Failure(
                FailureKind.LEASE_HELD,
                f"deployment {deployment} is being changed from another cockpit{LEASE_SEP}{info.describe(now)}",
                f"wait for that action to finish, or ask {who}; a lease not renewed for {int(info.duration)} s is stale and is taken over",
                lease=info,
            )
        )

    def acquire(self, deployment: str) -> LeaseInfo:
        """Take the lease (free, stale, or already ours) or raise LEASE_HELD naming the holder."""
        name, ns = lease_name(deployment), self.admin.namespace
        for _attempt in range(2):
            now = self.wall()
            doc = self.admin.call("coordination", "read_namespaced_lease", name, ns, allow_404=True, action=f"reading lease {name}")
            if doc is None:
                body = {
                    "apiVersion": "coordination.k8s.io/v1",
                    "kind": "Lease",
                    "metadata": {
                        "name": name,
                        "namespace": ns,
                        "labels": dict(MANAGED_BY),
                        "annotations": {"clay-cockpit/deployment": deployment},
                    },
                    "spec": {
                        "holderIdentity": self.identity,
                        "leaseDurationSeconds": self.duration,
                        "acquireTime": micro_time(now),
                        "renewTime": micro_time(now),
                        "leaseTransitions": 0,
                    },
                }
                try:
                    created = self.admin.call("coordination", "create_namespaced_lease", ns, body, action=f"creating lease {name}")
                except AdminError as exc:
                    if exc.failure.kind is FailureKind.CONFLICT:  # AlreadyExists: another cockpit was quicker
                        continue
                    raise
                assert created is not None
                return lease_info(created, self.identity)
            info = lease_info(doc, self.identity)
            if info.held and not info.ours and not info.stale(now):
                raise self._held(deployment, info, now)
            spec = dict(doc.get("spec") or {})
            changed_hands = not info.ours
            spec.update(
                {
                    "holderIdentity": self.identity,
                    "leaseDurationSeconds": self.duration,
                    "renewTime": micro_time(now),
                    "acquireTime": micro_time(now) if changed_hands else spec.get("acquireTime") or micro_time(now),
                    "leaseTransitions": info.transitions + (1 if changed_hands and info.held else 0),
                }
            )
            try:
                return self._replace(doc, spec, f"taking lease {name}")
            except AdminError as exc:
                if exc.failure.kind is not FailureKind.CONFLICT:
                    raise
                # someone wrote it between our read and our write: look again
        latest = self.read(deployment)
        if latest is not None and latest.held and not latest.ours:
            raise self._held(deployment, latest, self.wall())
        raise AdminError(
            Failure(
                FailureKind.CONFLICT,
                f"lease {name} kept changing while we tried to take it",
                "another cockpit is racing for it: try again in a moment",
            )
        )

    def renew(self, info: LeaseInfo, deployment: str) -> LeaseInfo:
        """Push renewTime forward. Raises LEASE_HELD when another cockpit holds it
        now, CONFLICT when it is free (we lost it and must not take it silently)."""
        doc = self.admin.call(
            "coordination", "read_namespaced_lease", info.name, self.admin.namespace, allow_404=True, action=f"renewing lease {info.name}"
        )
        now = self.wall()
        current = lease_info(doc, self.identity) if doc is not None else None
        if doc is None or current is None or not current.ours:
            if current is not None and current.held:
                raise self._held(deployment, current, now)
            raise AdminError(
                Failure(
                    FailureKind.CONFLICT,
                    f"lease {info.name} is no longer ours: it was released or deleted meanwhile",
                    "another cockpit may have taken it over after it went stale: check before changing more",
                )
            )
        spec = dict(doc.get("spec") or {})
        spec["renewTime"] = micro_time(now)
        return self._replace(doc, spec, f"renewing lease {info.name}")

    def release(self, info: LeaseInfo) -> bool:
        """Give the lease up (empty holder) if it is still ours; True if released."""
        doc = self.admin.call(
            "coordination", "read_namespaced_lease", info.name, self.admin.namespace, allow_404=True, action=f"releasing lease {info.name}"
        )
        if doc is None or not lease_info(doc, self.identity).ours:
            return False
        spec = dict(doc.get("spec") or {})
        spec.update({"holderIdentity": "", "renewTime": micro_time(self.wall())})
        self._replace(doc, spec, f"releasing lease {info.name}")
        return True

    def _replace(self, doc: dict[str, Any], spec: dict[str, Any], action: str) -> LeaseInfo:
        meta = doc.get("metadata") or {}
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {k: meta[k] for k in ("name", "namespace", "resourceVersion", "labels", "annotations", "uid") if k in meta},
            "spec": spec,
        }
        out = self.admin.call("coordination", "replace_namespaced_lease", meta.get("name", ""), self.admin.namespace, body, action=action)
        assert out is not None
        return lease_info(out, self.identity)
