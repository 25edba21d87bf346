"""The HTTP face of the drill's Kubernetes API (aiohttp.web).

Routing of ``/api`` and ``/apis`` paths, bearer-token authentication, RBAC
deny rules, content negotiation (JSON, server-side Table, partial metadata),
list/get/watch/create/update/patch/delete with ``dryRun=All``, and the
streaming bodies (watches, ``pods/log?follow=true``). The objects and the
controllers behind them live in :mod:`clay_cockpit.sim.kube.api`.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.typedefs import Handler

from clay_cockpit.sim.kube import resources as kr
from clay_cockpit.sim.kube.cordon import admit_node
from clay_cockpit.sim.kube.create import create as create_object
from clay_cockpit.sim.kube.logs import serve_log
from clay_cockpit.sim.kube.managed import manager_name
from clay_cockpit.sim.kube.managed import record as record_fields
from clay_cockpit.sim.kube.patch import APPLY_PATCH, apply_patch, decode_patch
from clay_cockpit.sim.kube.proto import PROTOBUF, decode_object, decode_rules_review, decode_ssar
from clay_cockpit.sim.kube.reviews import rules_review, self_review
from clay_cockpit.sim.kube.store import Obj
from clay_cockpit.sim.kube.util import (
    REASONS,
    ApiError,
    conflict,
    fields_match,
    forbidden_message,
    invalid,
    labels_match,
    not_found,
    parse_field_selector,
    parse_label_selector,
    selector_string,
    status_body,
)
from clay_cockpit.sim.kube.validate import (
    SCALE_TYPES,
    STATUS_TYPES,
    admit_update,
    check_types,
)

if TYPE_CHECKING:
    from clay_cockpit.sim.kube.api import KubeCluster

log = logging.getLogger(__name__)

PUBLIC_PATHS = ("/version", "/healthz", "/livez", "/readyz")
BOOKMARK_EVERY = 30.0  # real seconds between watch bookmarks
DEFAULT_WATCH_TIMEOUT = 1800.0  # real seconds, like --min-request-timeout


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def respond(body: Any, status: int = 200) -> web.Response:
    return web.Response(text=dumps(body), status=status, content_type="application/json")


def error_response(exc: ApiError) -> web.Response:
    return respond(exc.body(), exc.code)


def build_app(cluster: KubeCluster) -> web.Application:
    @web.middleware
    async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as exc:
            return error_response(exc)
        except web.HTTPException as exc:  # aiohttp's own (e.g. 413 body too large): still a Status
            if exc.status < 400:
                raise
            reason = REASONS.get(exc.status, "InternalError" if exc.status >= 500 else "BadRequest")
            return respond(status_body(exc.status, reason, exc.reason or reason), exc.status)
        except (ConnectionResetError, asyncio.CancelledError):
            raise
        except Exception as exc:  # a bug in the simulator: answer like kube-apiserver's panic handler
            log.exception("kube sim: %s %s failed", request.method, request.path)
            return error_response(ApiError(500, f"Internal error occurred: {type(exc).__name__}"))

    @web.middleware
    async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        cluster.before_request(request.method, request.path, "All" in request.query.getall("dryRun", []))
        state = cluster.authenticate(request.headers.get("Authorization"), client_cert_user(request))
        if state == "invalid":
            return respond(status_body(401, "Unauthorized", "Unauthorized"), 401)
        if state == "anonymous" and request.path.rstrip("/") not in PUBLIC_PATHS:
            msg = f'forbidden: User "system:anonymous" cannot {request.method.lower()} path "{request.path}"'
            return respond(status_body(403, "Forbidden", msg, {}), 403)
        return await handler(request)

    api = Api(cluster)
    app = web.Application(middlewares=[errors, auth], client_max_size=4 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", api.dispatch)

    async def on_shutdown(_app: web.Application) -> None:
        cluster.close_streams()

    app.on_shutdown.append(on_shutdown)
    return app


def _subject(request: web.Request, attribute: str) -> list[str]:
    peer = request.transport.get_extra_info("peercert") if request.transport is not None else None
    return [str(value) for rdn in (peer or {}).get("subject", ()) for key, value in rdn if key == attribute]


def client_cert_user(request: web.Request) -> str:
    """The CN of the client certificate the connection presented ("" if none; ``ssl``
    only shows a certificate that the client CA verified)."""
    return next(iter(_subject(request, "commonName")), "")


def authenticated_as(cluster: KubeCluster, request: web.Request) -> tuple[str, list[str]]:
    """The user and groups a request authenticated as: the bearer token's user, else the client certificate's CN and O."""
    if request.headers.get("Authorization"):
        return cluster.user, []
    return client_cert_user(request), client_cert_groups(request)


def client_cert_groups(request: web.Request) -> list[str]:
    """The groups of a client certificate's user: its O (organization) values, as kube-apiserver's x509 authenticator."""
    return _subject(request, "organizationName")


def _bool(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "t", "yes")


def _accept(request: web.Request) -> tuple[str, str]:
    """('Table'|'PartialObjectMetadata'|'PartialObjectMetadataList'|'', meta version) from the Accept header."""
    for part in request.headers.get("Accept", "").split(","):
        params = dict(p.strip().split("=", 1) for p in part.split(";")[1:] if "=" in p)
        if params.get("as") and params.get("g") == "meta.k8s.io" and params.get("v") in ("v1", "v1beta1"):
            return params["as"], params["v"]
        if part.strip().split(";")[0] in ("application/json", "*/*", "application/*", ""):
            return "", "v1"
    return "", "v1"


class Api:
    def __init__(self, cluster: KubeCluster) -> None:
        self.c = cluster

    # -- routing -------------------------------------------------------------

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"].strip("/")
        parts = [p for p in path.split("/") if p]
        if path in PUBLIC_PATHS[1:]:
            return web.Response(text="ok")
        if path == "/version":
            return respond(kr.version_doc())
        if path == "/api":
            return respond(kr.api_versions(f"{request.url.host}:{request.url.port}"))
        if path == "/apis":
            return respond(kr.api_group_list())
        if path == "/openapi/v3":
            return respond(kr.openapi_root())
        if parts[:2] == ["openapi", "v3"] and len(parts) in (4, 5):
            group, version = ("", parts[3]) if parts[2] == "api" else (parts[3], parts[4] if len(parts) == 5 else "")
            doc = kr.openapi_group_version(group, version)
            if doc is not None:
                return respond(doc)
        if len(parts) == 2 and parts[0] == "apis" and parts[1] in kr.GROUPS:
            return respond({"kind": "APIGroup", "apiVersion": "v1", **kr.api_group(parts[1])})
        if parts[:1] == ["api"] and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError(404, "the server could not find the requested resource", details={})
        if not rest:
            doc = kr.resource_list(group, version) if request.method == "GET" else None
            if doc is None:
                raise ApiError(404, "the server could not find the requested resource", details={})
            return respond(doc)
        legacy_watch = rest[0] == "watch"
        if legacy_watch:
            rest = rest[1:]
        ns = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            ns, rest = rest[1], rest[2:]
        resource, name, sub = rest[0], (rest[1] if len(rest) > 1 else None), (rest[2] if len(rest) > 2 else None)
        res = kr.find(group, version, resource)
        if res is None or len(rest) > 3 or (ns is not None and not res.namespaced) or (sub and sub not in res.subresources):
            raise ApiError(404, "the server could not find the requested resource", details={})
        if ns is None and res.namespaced and name is not None:
            raise ApiError(404, "the server could not find the requested resource", details={})
        watch = legacy_watch or _bool(request.query.get("watch"))
        verb = {
            "GET": "watch" if watch else ("get" if name else "list"),
            "POST": "create",
            "PUT": "update",
            "PATCH": "patch",
            "DELETE": "delete" if name else "deletecollection",
        }.get(request.method, "")
        allowed = res.subresources[sub][3] if sub else res.verbs
        if verb not in allowed or (verb == "create" and name):
            raise ApiError(405, "the server does not allow this method on the requested resource", details={})
        rbac = f"{res.plural}/{sub}" if sub else res.plural
        if not self.c.allowed(verb, rbac, res.group, ns, name):
            details = {"name": name, "group": res.group, "kind": res.plural} if name else {"group": res.group, "kind": res.plural}
            if not res.group:
                details.pop("group")
            raise ApiError(403, forbidden_message(self.c.user, verb, rbac, res.group, ns, name), details=details)
        if verb == "watch":
            return await self.watch(request, res, ns, name)
        if verb == "list":
            return self.list(request, res, ns)
        if verb == "get":
            return await self.get(request, res, ns or "", name or "", sub)
        if verb == "create":
            return await self.create(request, res, ns or "")
        if verb in ("update", "patch"):
            return await self.write(request, res, ns or "", name or "", sub, verb)
        return await self.delete(request, res, ns or "", name or "")

    # -- reads ---------------------------------------------------------------

    def _present(self, res: kr.Resource, obj: Obj) -> Obj:
        if res.group == "events.k8s.io":
            return events_v1(obj)
        return obj

    def _matcher(self, request: web.Request, res: kr.Resource, ns: str | None, name: str | None = None) -> Callable[[Obj], bool]:
        labels = parse_label_selector(request.query.get("labelSelector", ""))
        fields = parse_field_selector(request.query.get("fieldSelector", ""), res.fields)

        def match(obj: Obj) -> bool:
            view = self._present(res, obj)
            meta = obj["metadata"]
            return (
                (ns is None or meta.get("namespace") == ns)
                and (name is None or meta["name"] == name)
                and labels_match(labels, meta.get("labels"))
                and fields_match(fields, view)
            )

        return match

    def list(self, request: web.Request, res: kr.Resource, ns: str | None) -> web.Response:
        match = self._matcher(request, res, ns)
        items = [self._present(res, o) for o in self.c.store.list(res.bucket, ns) if match(o)]
        meta: dict[str, Any] = {"resourceVersion": str(self.c.store.rv)}
        token = request.query.get("continue")
        if token:
            try:
                start = json.loads(base64.b64decode(token))["start"]
            except (ValueError, KeyError, TypeError):
                raise ApiError(400, "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)") from None
            items = [o for o in items if [o["metadata"].get("namespace", ""), o["metadata"]["name"]] > start]
        limit = request.query.get("limit")
        if limit and limit.isdigit() and 0 < int(limit) < len(items):
            last = items[int(limit) - 1]["metadata"]
            meta["continue"] = base64.b64encode(
                dumps({"v": "meta.k8s.io/v1", "rv": self.c.store.rv, "start": [last.get("namespace", ""), last["name"]]}).encode()
            ).decode()
            meta["remainingItemCount"] = len(items) - int(limit)
            items = items[: int(limit)]
        as_kind, mver = _accept(request)
        if as_kind == "Table":
            return respond(
                kr.table(
                    res.plural, items, self.c.clock(), version=mver, list_meta=meta, include=request.query.get("includeObject", "Metadata")
                )
            )
        if as_kind.startswith("PartialObjectMetadata"):
            return respond(
                {
                    "kind": "PartialObjectMetadataList",
                    "apiVersion": f"meta.k8s.io/{mver}",
                    "metadata": meta,
                    "items": [kr.partial_metadata(o, mver) for o in items],
                }
            )
        stripped = []
        for o in items:
            o = dict(o)
            o.pop("kind", None)
            o.pop("apiVersion", None)
            stripped.append(o)
        return respond({"kind": f"{res.kind}List", "apiVersion": res.api_version, "metadata": meta, "items": stripped})

    def _one(self, request: web.Request, res: kr.Resource, obj: Obj) -> web.Response:
        obj = self._present(res, obj)
        as_kind, mver = _accept(request)
        if as_kind == "Table":
            return respond(
                kr.table(
                    res.plural,
                    [obj],
                    self.c.clock(),
                    version=mver,
                    include=request.query.get("includeObject", "Metadata"),
                    list_meta={"resourceVersion": obj["metadata"].get("resourceVersion", "")},
                )
            )
        if as_kind == "PartialObjectMetadata":
            return respond(kr.partial_metadata(obj, mver))
        return respond(obj)

    def _require(self, res: kr.Resource, ns: str, name: str) -> Obj:
        obj = self.c.store.get(res.bucket, ns, name)
        if obj is None:
            raise not_found(res.plural, res.group, name)
        return obj

    async def get(self, request: web.Request, res: kr.Resource, ns: str, name: str, sub: str | None) -> web.StreamResponse:
        if sub == "log":
            self._require(res, ns, name)
            return await serve_log(self.c, request, ns, name)
        obj = self._require(res, ns, name)
        if sub == "scale":
            return respond(scale_of(obj))
        return self._one(request, res, obj)

    async def watch(self, request: web.Request, res: kr.Resource, ns: str | None, name: str | None) -> web.StreamResponse:
        q = request.query
        match = self._matcher(request, res, ns, name)
        rv = q.get("resourceVersion", "")
        initial = _bool(q.get("sendInitialEvents"))
        since = None if (rv in ("", "0") or initial) else int(rv) if rv.isdigit() else None
        if rv and not rv.isdigit():
            raise ApiError(400, f'resourceVersion: Invalid value: "{rv}": must be a non-negative integer')
        as_kind, mver = _accept(request)
        resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json", "Cache-Control": "no-cache, private"})
        resp.enable_chunked_encoding()
        try:
            watcher = self.c.store.watch(res.bucket, match, since)
        except ApiError as exc:  # too old: one ERROR event, as kube-apiserver does
            await resp.prepare(request)
            await resp.write((dumps({"type": "ERROR", "object": exc.body()}) + "\n").encode())
            await resp.write_eof()
            return resp
        timeout = float(q["timeoutSeconds"]) if q.get("timeoutSeconds", "").isdigit() else DEFAULT_WATCH_TIMEOUT
        deadline = time.monotonic() + timeout
        bookmarks = _bool(q.get("allowWatchBookmarks"))
        first = True

        def encode(etype: str, obj: Obj) -> bytes:
            nonlocal first
            obj = self._present(res, obj)
            if as_kind == "Table" and etype != "BOOKMARK":
                obj = kr.table(
                    res.plural,
                    [obj],
                    self.c.clock(),
                    version=mver,
                    headers=first,
                    include=q.get("includeObject", "Metadata"),
                    list_meta={"resourceVersion": obj["metadata"].get("resourceVersion", "")},
                )
                first = False
            return (dumps({"type": etype, "object": obj}) + "\n").encode()

        def bookmark(end: bool = False) -> bytes:
            meta: dict[str, Any] = {"resourceVersion": str(self.c.store.rv)}
            if end:
                meta["annotations"] = {"k8s.io/initial-events-end": "true"}
            return (
                dumps({"type": "BOOKMARK", "object": {"kind": res.kind, "apiVersion": res.api_version, "metadata": meta}}) + "\n"
            ).encode()

        try:
            await resp.prepare(request)
            if initial:
                while not watcher.queue.empty():
                    item = watcher.queue.get_nowait()
                    if item is None:
                        return resp
                    await resp.write(encode(*item))
                await resp.write(bookmark(end=True))
            next_bookmark = time.monotonic() + BOOKMARK_EVERY
            while not self.c.closing:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    item = await asyncio.wait_for(watcher.queue.get(), timeout=min(remaining, 1.0))
                except TimeoutError:
                    if request.transport is None or request.transport.is_closing():
                        break
                    if bookmarks and time.monotonic() >= next_bookmark:
                        await resp.write(bookmark())
                        next_bookmark = time.monotonic() + BOOKMARK_EVERY
                    continue
                if item is None:
                    break
                await resp.write(encode(*item))
            await resp.write_eof()
        except ConnectionError as exc:
            log.debug("watch of %s ended: client went away (%s)", res.plural, type(exc).__name__)
        finally:
            self.c.store.unwatch(watcher)
        return resp

    # -- writes --------------------------------------------------------------

    def _dry_run(self, request: web.Request) -> bool:
        values = request.query.getall("dryRun", [])
        for v in values:
            if v != "All":
                raise ApiError(400, f'dryRun: Unsupported value: "{v}": supported values: "All"')
        return bool(values)

    async def _body(self, request: web.Request) -> Any:
        ctype = request.content_type
        if ctype not in ("application/json", "", "application/octet-stream"):
            raise ApiError(
                415, "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml"
            )
        try:
            return json.loads(await request.read() or b"{}")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ApiError(400, f"error decoding request body: {exc}") from None

    async def create(self, request: web.Request, res: kr.Resource, ns: str) -> web.Response:
        dry = self._dry_run(request)
        if request.content_type == PROTOBUF and res.plural.startswith("self"):
            raw = await request.read()
            body = decode_ssar(raw) if res.plural == "selfsubjectaccessreviews" else decode_rules_review(raw)
        elif request.content_type == PROTOBUF and res.kind in ("Secret", "ConfigMap"):
            body = decode_object(await request.read(), res.kind)
        else:
            body = await self._body(request)
        if not isinstance(body, dict):
            raise ApiError(400, "the body of the request was not an object")
        if res.plural == "selfsubjectaccessreviews":
            return respond(self.c.access_review(body), 201)
        if res.plural == "selfsubjectrulesreviews":
            return respond(rules_review(self.c.rbac, body), 201)
        if res.plural == "selfsubjectreviews":
            return respond(self_review(*authenticated_as(self.c, request)), 201)
        manager = manager_name(request.query.get("fieldManager"), request.headers.get("User-Agent", ""))
        return respond(create_object(self.c, res, ns, body, manager, dry), 201)

    async def write(self, request: web.Request, res: kr.Resource, ns: str, name: str, sub: str | None, verb: str) -> web.Response:
        dry = self._dry_run(request)
        self._require(res, ns, name)  # 404 before reading a body
        # Read the body first, then the stored object, with no await in between:
        # a concurrent write that lands while this body arrives must make a
        # stale resourceVersion conflict (409), as on a real API server.
        if verb == "patch":
            ctype = request.content_type
            if ctype == APPLY_PATCH:
                raise ApiError(415, "server-side apply is not supported by the drill cluster; use a strategic merge patch")
            raw = await request.read()
            old = self._require(res, ns, name)
            current = scale_of(old) if sub == "scale" else old
            target = apply_patch(current, decode_patch(raw, ctype), ctype)
        else:
            target = await self._body(request)
            old = self._require(res, ns, name)
            if not isinstance(target, dict):
                raise ApiError(400, "the body of the request was not an object")
        if sub == "scale":
            check_types("Scale", target, SCALE_TYPES)
            replicas = (target.get("spec") or {}).get("replicas") or 0
            if replicas < 0:
                raise invalid(
                    "Scale", "autoscaling", name, [("spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0")]
                )
            rv = (target.get("metadata") or {}).get("resourceVersion")
            if rv and rv != old["metadata"]["resourceVersion"]:
                raise conflict(res.plural, res.group, name)
            target = copy.deepcopy(old)
            target["spec"]["replicas"] = replicas
        if sub == "status":
            check_types(res.kind, target, STATUS_TYPES)
            status = target.get("status")
            rv = (target.get("metadata") or {}).get("resourceVersion")
            if rv and rv != old["metadata"]["resourceVersion"]:
                raise conflict(res.plural, res.group, name)
            new = copy.deepcopy(old)
            new["status"] = copy.deepcopy(status) if isinstance(status, dict) else {}
        else:
            new = admit_update(res.kind, res.group, res.plural, target, old, name)
            if res.kind == "Node":  # kubectl cordon / uncordon / taint
                new = admit_node(new, old, name)
        manager = manager_name(request.query.get("fieldManager"), request.headers.get("User-Agent", ""))
        record_fields(old, new, manager, self.c.clock(), subresource=sub or "")
        if dry:
            return respond(scale_of(new) if sub == "scale" else new)
        if new == old:
            return respond(scale_of(old) if sub == "scale" else old)
        stored = self.c.store.put(res.bucket, new)
        if res.kind == "Node":
            self.c.node_written(old, stored)
        self.c.reconcile()
        return respond(scale_of(stored) if sub == "scale" else stored)

    async def delete(self, request: web.Request, res: kr.Resource, ns: str, name: str) -> web.Response:
        dry = self._dry_run(request)
        old = self._require(res, ns, name)
        opts: dict[str, Any] = {}
        if request.can_read_body:
            body = await self._body(request)
            opts = body if isinstance(body, dict) else {}
            if "All" in (opts.get("dryRun") or []):
                dry = True
        pre = opts.get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != old["metadata"]["uid"]:
            raise ApiError(
                409,
                f'Operation cannot be fulfilled on {res.plural} "{name}": Precondition failed: UID in '
                f"precondition: {pre['uid']}, UID in object meta: {old['metadata']['uid']}",
                details={"name": name, "kind": res.plural},
            )
        if pre.get("resourceVersion") and pre["resourceVersion"] != old["metadata"]["resourceVersion"]:
            raise conflict(res.plural, res.group, name)
        if res.plural == "pods":
            grace = request.query.get("gracePeriodSeconds", opts.get("gracePeriodSeconds"))
            try:
                grace_s = int(grace) if grace is not None else int(old["spec"].get("terminationGracePeriodSeconds", 30))
            except (TypeError, ValueError):
                raise ApiError(400, f"gracePeriodSeconds: Invalid value: {grace!r}") from None
            return respond(self.c.delete_pod(ns, name, grace_s, dry))
        if not dry:
            self.c.store.delete(res.bucket, ns, name)
            self.c.reconcile()
        details = {"name": name, "group": res.group, "kind": res.plural, "uid": old["metadata"]["uid"]}
        if not res.group:
            details.pop("group")
        return respond({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})


def scale_of(deploy: Obj) -> Obj:
    meta = deploy["metadata"]
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in meta},
        "spec": {"replicas": deploy["spec"].get("replicas", 1)},
        "status": {
            "replicas": (deploy.get("status") or {}).get("replicas", 0),
            "selector": selector_string(deploy["spec"]["selector"].get("matchLabels", {})),
        },
    }


def events_v1(ev: Obj) -> Obj:
    """A core/v1 Event as events.k8s.io/v1 serves it."""
    out: Obj = {
        "kind": "Event",
        "apiVersion": "events.k8s.io/v1",
        "metadata": ev["metadata"],
        "eventTime": ev.get("eventTime"),
        "reportingController": ev.get("reportingComponent", ""),
        "reportingInstance": ev.get("reportingInstance", ""),
        "reason": ev.get("reason", ""),
        "regarding": ev.get("involvedObject", {}),
        "note": ev.get("message", ""),
        "type": ev.get("type", ""),
        "deprecatedSource": ev.get("source", {}),
        "deprecatedFirstTimestamp": ev.get("firstTimestamp"),
        "deprecatedLastTimestamp": ev.get("lastTimestamp"),
        "deprecatedCount": ev.get("count", 1),
    }
    return out
