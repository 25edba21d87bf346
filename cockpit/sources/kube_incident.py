"""The shared incident's objects in the Kubernetes API (issue 17; the design is
docs/shared-incident.md): the open-incident pointer, the incident's head,
its append-only event chunks, and a presence Lease per responder.

- ``clay-cockpit-open-incident`` (ConfigMap): which incident is open. Created
  with create-only semantics (POST): of two cockpits declaring at once one gets
  409 AlreadyExists, reads the winner and joins it (:meth:`SharedIncidents.declare`).
  A resolved incident's pointer is replaced (PUT with its resourceVersion) by
  the next declaration.
- ``clay-cockpit-incident-<id>`` (ConfigMap, part=head): the head, written by
  :meth:`SharedIncidents.put_head` with optimistic concurrency.
- ``clay-cockpit-incident-<id>-events-<nnnn>`` (ConfigMaps, part=events):
  JSON lines, each with its global ``id``; a chunk is filled up to ``cap``
  bytes (well under the 1 MiB object cap), then the next one is created.
  :meth:`SharedIncidents.append` writes only the ids no chunk holds yet, with
  the chunk's resourceVersion: a 409 re-reads and tries again (bounded), so a
  retried or concurrent append lands exactly once.
- ``clay-cockpit-presence-<id>-<hash>`` (Leases): who is in the incident.

Every object is labelled ``app.kubernetes.io/managed-by=clay-cockpit`` and
``clay-cockpit/incident=<id>`` and is watched by label
(:meth:`SharedIncidents.watch`, a :class:`~clay_cockpit.sources.kube_watch.ListWatch`).

This module knows the lines only as ``(id, JSON line)`` pairs: merging them and
what they mean is :mod:`clay_cockpit.incident.shared_merge`'s (a layer above;
the caller passes the lines in). Blocking: call from thread workers. Never
raises: every failure is a :class:`SourceError` (source ``incident-sync``).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from clay_cockpit.signals import ErrorKind, SourceError
from clay_cockpit.sources._errors import make_error, unexpected
from clay_cockpit.sources.kube import Kube
from clay_cockpit.sources.kube_watch import ListWatch, Resource

SOURCE = "incident-sync"
POINTER = "clay-cockpit-open-incident"
PREFIX = "clay-cockpit-incident-"
PRESENCE = "clay-cockpit-presence-"
MANAGED_BY = {"app.kubernetes.io/managed-by": "clay-cockpit"}
INCIDENT_LABEL = "clay-cockpit/incident"
PART_LABEL = "clay-cockpit/part"
EVENTS_KEY = "events.jsonl"
MAX_CHUNK_BYTES = 500 * 1024
FIELD_MANAGER = "clay-cockpit-incident"  # its writes, told apart from the actions' (fieldManager clay-cockpit)
MAX_TRIES = 8  # writes of one call that met 409 before it gives up (each re-reads first)
CONFIGMAPS = Resource("configmaps", "", "list_namespaced_config_map")

_BAD = re.compile(r"[^a-z0-9-]+")


def slug(incident_id: str) -> str:
    """The incident id as a DNS label and label value: lower case, at most 40 characters."""
    s = _BAD.sub("-", incident_id.lower()).strip("-")[:40].strip("-")
    return s or "incident"


def head_name(incident_id: str) -> str:
    return PREFIX + slug(incident_id)


def chunk_name(incident_id: str, n: int) -> str:
    return f"{PREFIX}{slug(incident_id)}-events-{n:04d}"


def presence_name(incident_id: str, responder: str) -> str:
    return f"{PRESENCE}{slug(incident_id)}-{hashlib.sha256(responder.encode()).hexdigest()[:10]}"


def _micro(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Declared:
    incident_id: str  # the incident now open: ours, or the one we joined
    joined: bool  # another cockpit had declared it (we lost the race, or came later)


@dataclass(frozen=True)
class Present:
    responder: str
    renewed: str  # the Lease's renewTime as written
    seconds: int


class _Failed(Exception):
    def __init__(self, error: SourceError) -> None:
        self.error = error


class _Conflict(Exception):
    """409: AlreadyExists on a create, Conflict (stale resourceVersion) on a replace."""


def _labels(incident_id: str, part: str) -> dict[str, str]:
    return {**MANAGED_BY, INCIDENT_LABEL: slug(incident_id), PART_LABEL: part}


def _backoff(attempt: int) -> None:
    """Before trying again after a 409: a short, jittered pause, so racing cockpits do not collide in step."""
    time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))


def _ids(text: str) -> set[str]:
    out = set()
    for line in text.split("\n"):
        try:
            obj = json.loads(line) if line.strip() else None
        except ValueError:
            continue
        if isinstance(obj, dict) and isinstance(obj.get("id"), str):
            out.add(obj["id"])
    return out


class SharedIncidents:
    """The shared incident's objects in ``kube.config.namespace``; see the module docstring."""

    def __init__(self, kube: Kube, *, cap: int = MAX_CHUNK_BYTES, namespace: str | None = None) -> None:
        self.kube = kube
        self.cap = max(16 * 1024, cap)
        self.namespace = namespace or kube.config.namespace
        self._core: Any = None
        self._coord: Any = None
        self._lock = threading.RLock()  # one cockpit's writes one at a time: it races only other cockpits

    def __repr__(self) -> str:
        return f"SharedIncidents(namespace={self.namespace!r})"

    # -- plumbing ------------------------------------------------------------------

    def _apis(self) -> tuple[Any, Any]:
        if self._core is None:
            built = self.kube.build_api_client()
            if isinstance(built, SourceError):
                raise _Failed(SourceError(SOURCE, built.kind, built.message, built.hint, status_code=built.status_code))
            from kubernetes.client import CoordinationV1Api, CoreV1Api

            self._core, self._coord = CoreV1Api(built), CoordinationV1Api(built)
        return self._core, self._coord

    def close(self) -> None:
        core, self._core, self._coord = self._core, None, None
        if core is not None:
            core.api_client.close()

    def _call(self, which: str, method: str, *args: Any, action: str, allow_404: bool = False, **kw: Any) -> Any:
        """One API call's JSON body; None for an allowed 404. Raises _Conflict or _Failed."""
        from kubernetes.client.exceptions import ApiException
        from urllib3 import exceptions as u3

        core, coord = self._apis()
        api = core if which == "core" else coord
        try:
            if method.startswith(("create_", "replace_")):  # the shared incident's own manager in managedFields (and the request log)
                kw.setdefault("field_manager", FIELD_MANAGER)
            resp = getattr(api, method)(*args, _request_timeout=self.kube.request_timeout, _preload_content=False, **kw)
            try:
                body = resp.data
            finally:
                resp.release_conn()
        except ApiException as exc:
            if exc.status == 404 and allow_404:
                return None
            if exc.status == 409:
                raise _Conflict(action) from exc
            if exc.status == 401:
                self.close()
                self.kube.forget_exec_credentials()
            raise _Failed(self.kube.api_error(exc, action, source=SOURCE)) from exc
        except (u3.HTTPError, OSError) as exc:
            raise _Failed(self.kube.transport_error(exc, action, source=SOURCE)) from exc
        try:
            return json.loads(body)
        except ValueError as exc:
            raise _Failed(make_error(SOURCE, ErrorKind.BAD_RESPONSE, f"the API server sent no JSON while {action}")) from exc

    def _guard(self, action: str, fn: Callable[[], Any]) -> Any:
        try:
            with self._lock:
                return fn()
        except _Failed as failed:
            return failed.error
        except _Conflict:
            return make_error(
                SOURCE,
                ErrorKind.SERVER_ERROR,
                f"{action}: the objects kept changing under us ({MAX_TRIES} tries)",
                "other cockpits are writing at the same moment: the next sync tries again",
            )
        except Exception as exc:  # outermost boundary: never raise into the caller
            return unexpected(SOURCE, exc, action)

    def _cm(self, name: str, incident_id: str, part: str, data: dict[str, str], rv: str = "") -> dict[str, Any]:
        meta: dict[str, Any] = {"name": name, "namespace": self.namespace, "labels": _labels(incident_id, part)}
        if rv:
            meta["resourceVersion"] = rv
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}

    def _read_cm(self, name: str) -> dict[str, Any] | None:
        doc: dict[str, Any] | None = self._call(
            "core", "read_namespaced_config_map", name, self.namespace, action=f"reading {name}", allow_404=True
        )
        return doc

    # -- the open incident -----------------------------------------------------------

    def open_incident(self) -> dict[str, str] | None | SourceError:
        """The open incident's pointer (``incident``, ``declared_by``, ``declared_at``), None if none is open."""

        def run() -> dict[str, str] | None:
            doc = self._read_cm(POINTER)
            data = dict((doc or {}).get("data") or {})
            return data if data.get("incident") and data.get("status") != "resolved" else None

        result: dict[str, str] | None | SourceError = self._guard(f"reading {POINTER}", run)
        return result

    def declare(self, incident_id: str, declared_by: str, declared_at: float) -> Declared | SourceError:
        """Make ``incident_id`` the open incident, or join the one already open."""
        pointer = {"incident": incident_id, "declared_by": declared_by, "declared_at": _micro(declared_at), "status": "open"}

        def run() -> Declared:
            for attempt in range(MAX_TRIES):
                try:
                    body = self._cm(POINTER, incident_id, "pointer", pointer)
                    self._call("core", "create_namespaced_config_map", self.namespace, body, action=f"creating {POINTER}")
                except _Conflict:  # AlreadyExists: another cockpit declared first (or an old, resolved one)
                    doc = self._read_cm(POINTER)
                    if doc is None:
                        continue  # gone meanwhile: try to create it again
                    data = doc.get("data") or {}
                    if data.get("incident") and data.get("status") != "resolved":
                        return Declared(str(data["incident"]), joined=str(data["incident"]) != incident_id)
                    try:
                        rv = str(doc["metadata"].get("resourceVersion") or "")
                        self._call("core", "replace_namespaced_config_map", POINTER, self.namespace,
                                   self._cm(POINTER, incident_id, "pointer", pointer, rv), action=f"replacing {POINTER}")  # fmt: skip
                    except _Conflict:
                        _backoff(attempt)
                        continue  # someone else replaced it first: read who
                self._ensure_head(incident_id, {"id": incident_id, "declared_by": declared_by, "declared_at": pointer["declared_at"]})
                return Declared(incident_id, joined=False)
            raise _Conflict("declaring")

        result: Declared | SourceError = self._guard(f"declaring {incident_id}", run)
        return result

    def _ensure_head(self, incident_id: str, data: dict[str, str]) -> None:
        name = head_name(incident_id)
        try:
            self._call("core", "create_namespaced_config_map", self.namespace, self._cm(name, incident_id, "head", data),
                       action=f"creating {name}")  # fmt: skip
        except _Conflict:
            return  # already there (a join, or a retried declaration): the head is the incident's either way

    def resolve(self, incident_id: str) -> bool | SourceError:
        """Mark the pointer resolved if it still names ``incident_id`` (a new declaration may then replace it)."""

        def run() -> bool:
            for attempt in range(MAX_TRIES):
                doc = self._read_cm(POINTER)
                data = dict((doc or {}).get("data") or {})
                if doc is None or data.get("incident") != incident_id:
                    return False
                data["status"] = "resolved"
                rv = str(doc["metadata"].get("resourceVersion") or "")
                try:
                    self._call("core", "replace_namespaced_config_map", POINTER, self.namespace,
                               self._cm(POINTER, incident_id, "pointer", data, rv), action=f"resolving {POINTER}")  # fmt: skip
                except _Conflict:
                    _backoff(attempt)
                    continue
                return True
            raise _Conflict("resolving")

        result: bool | SourceError = self._guard(f"resolving {incident_id}", run)
        return result

    # -- the head --------------------------------------------------------------------

    def put_head(self, incident_id: str, make: Callable[[dict[str, str]], dict[str, str]]) -> dict[str, str] | SourceError:
        """Write the head as ``make`` (given what is stored) says; a 409 re-reads and asks ``make`` again."""
        name = head_name(incident_id)

        def run() -> dict[str, str]:
            for attempt in range(MAX_TRIES):
                doc = self._read_cm(name)
                stored = dict((doc or {}).get("data") or {})
                data = make(stored)
                try:
                    if doc is None:
                        self._call("core", "create_namespaced_config_map", self.namespace, self._cm(name, incident_id, "head", data),
                                   action=f"creating {name}")  # fmt: skip
                    elif data != stored:
                        rv = str(doc["metadata"].get("resourceVersion") or "")
                        self._call("core", "replace_namespaced_config_map", name, self.namespace,
                                   self._cm(name, incident_id, "head", data, rv), action=f"writing {name}")  # fmt: skip
                except _Conflict:
                    _backoff(attempt)
                    continue
                return data
            raise _Conflict("writing the head")

        result: dict[str, str] | SourceError = self._guard(f"writing the head of {incident_id}", run)
        return result

    # -- the events ------------------------------------------------------------------

    def _chunks(self, incident_id: str) -> list[dict[str, Any]]:
        selector = f"{INCIDENT_LABEL}={slug(incident_id)},{PART_LABEL}=events"
        doc = self._call(
            "core", "list_namespaced_config_map", self.namespace, label_selector=selector, action=f"listing the events of {incident_id}"
        )
        items = [i for i in (doc or {}).get("items") or [] if isinstance(i, dict)]
        return sorted(items, key=lambda i: str((i.get("metadata") or {}).get("name") or ""))

    def read_events(self, incident_id: str) -> list[str] | SourceError:
        """Every line of every chunk, oldest chunk first (the caller merges them)."""

        def run() -> list[str]:
            return [
                ln for c in self._chunks(incident_id) for ln in str((c.get("data") or {}).get(EVENTS_KEY) or "").split("\n") if ln.strip()
            ]

        result: list[str] | SourceError = self._guard(f"reading the events of {incident_id}", run)
        return result

    def append(self, incident_id: str, lines: Sequence[tuple[str, str]]) -> int | SourceError:
        """Write the ``(id, JSON line)`` pairs no chunk holds yet; how many were written."""

        def run() -> int:
            written = 0
            for attempt in range(MAX_TRIES):
                chunks = self._chunks(incident_id)
                held: set[str] = set()
                for c in chunks:
                    held |= _ids(str((c.get("data") or {}).get(EVENTS_KEY) or ""))
                todo = [(i, ln) for i, ln in dict(lines).items() if i not in held]
                if not todo:
                    return written
                last = chunks[-1] if chunks else None
                text = str(((last or {}).get("data") or {}).get(EVENTS_KEY) or "")
                fitted, rest = self._fit(text, todo)
                try:
                    if last is None or fitted == text:  # no chunk yet, or the last one is full: the next one
                        name = chunk_name(incident_id, len(chunks))
                        fitted, rest = self._fit("", todo)
                        self._call("core", "create_namespaced_config_map", self.namespace,
                                   self._cm(name, incident_id, "events", {EVENTS_KEY: fitted}), action=f"creating {name}")  # fmt: skip
                    else:
                        assert last is not None
                        meta = last.get("metadata") or {}
                        name, rv = str(meta.get("name")), str(meta.get("resourceVersion") or "")
                        self._call("core", "replace_namespaced_config_map", name, self.namespace,
                                   self._cm(name, incident_id, "events", {EVENTS_KEY: fitted}, rv), action=f"appending to {name}")  # fmt: skip
                except _Conflict:
                    _backoff(attempt)
                    continue  # another cockpit wrote first: read again, write what is still missing
                written += len(todo) - len(rest)
                if not rest:
                    return written
            raise _Conflict("appending")

        result: int | SourceError = self._guard(f"appending to the events of {incident_id}", run)
        return result

    def _fit(self, text: str, todo: Iterable[tuple[str, str]]) -> tuple[str, list[tuple[str, str]]]:
        size = len(text.encode("utf-8"))
        if text and not text.endswith("\n"):
            text, size = text + "\n", size + 1
        added: list[str] = []
        rest: list[tuple[str, str]] = []
        for i, ln in todo:
            n = len(ln.encode("utf-8")) + 1
            if rest or size + n > self.cap:
                rest.append((i, ln))
                continue
            added.append(ln + "\n")
            size += n
        return text + "".join(added), rest

    def watch(self, incident_id: str, on_change: Callable[[], object] = lambda: None) -> ListWatch[tuple[str, str, dict[str, str]]]:
        """The incident's ConfigMaps (head and chunks) kept current: (name, resourceVersion, data) each.
        Run its ``run()`` in a thread; ``close()`` ends it."""

        def parse(obj: dict[str, Any]) -> tuple[str, str, dict[str, str]] | None:
            meta = obj.get("metadata") or {}
            data = obj.get("data") or {}
            return (str(meta.get("name") or ""), str(meta.get("resourceVersion") or ""), {str(k): str(v) for k, v in data.items()})

        return ListWatch(
            self.kube,
            CONFIGMAPS,
            parse,
            source=SOURCE,
            what=f"the shared incident {incident_id}",
            why="to see the other responders' changes",
            namespace=self.namespace,
            label_selector=f"{INCIDENT_LABEL}={slug(incident_id)}",
            on_change=on_change,
        )

    # -- presence --------------------------------------------------------------------

    def present(
        self, incident_id: str, responder: str, seconds: int = 30, *, wall: Callable[[], float] = time.time
    ) -> Present | SourceError:
        """Create or renew this responder's presence Lease."""
        name = presence_name(incident_id, responder)

        def run() -> Present:
            for attempt in range(MAX_TRIES):
                now = _micro(wall())
                doc = self._call("coordination", "read_namespaced_lease", name, self.namespace, action=f"reading {name}", allow_404=True)
                spec = {"holderIdentity": responder, "leaseDurationSeconds": seconds, "renewTime": now}
                meta: dict[str, Any] = {"name": name, "namespace": self.namespace, "labels": _labels(incident_id, "presence")}
                body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta, "spec": spec}
                try:
                    if doc is None:
                        spec["acquireTime"] = now
                        self._call("coordination", "create_namespaced_lease", self.namespace, body, action=f"creating {name}")
                    else:
                        meta["resourceVersion"] = str(doc["metadata"].get("resourceVersion") or "")
                        spec["acquireTime"] = (doc.get("spec") or {}).get("acquireTime") or now
                        self._call("coordination", "replace_namespaced_lease", name, self.namespace, body, action=f"renewing {name}")
                except _Conflict:
                    _backoff(attempt)
                    continue
                return Present(responder, now, seconds)
            raise _Conflict("renewing presence")

        result: Present | SourceError = self._guard(f"marking {responder} present in {incident_id}", run)
        return result

    def presence(self, incident_id: str) -> list[Present] | SourceError:
        """Every responder's presence Lease (the caller judges which are stale by renewTime)."""

        def run() -> list[Present]:
            selector = f"{INCIDENT_LABEL}={slug(incident_id)},{PART_LABEL}=presence"
            doc = self._call("coordination", "list_namespaced_lease", self.namespace, label_selector=selector, action="listing presence")
            out = []
            for item in (doc or {}).get("items") or []:
                spec = item.get("spec") or {}
                out.append(
                    Present(
                        str(spec.get("holderIdentity") or ""), str(spec.get("renewTime") or ""), int(spec.get("leaseDurationSeconds") or 0)
                    )
                )
            return sorted(out, key=lambda p: p.responder)

        result: list[Present] | SourceError = self._guard(f"listing who is in {incident_id}", run)
        return result
