"""List, then watch: an informer-like cache of one kind of object (issue 15).

:class:`ListWatch` keeps the objects of one resource in a namespace (a label
and field selector narrow them) current in memory: it lists once, then
watches from the list's resourceVersion (``allowWatchBookmarks``,
``timeoutSeconds`` and the client's request timeout on every request, bodies
read in bounded chunks). A watch the server ends (its timeout) or that drops
(network, API server restart) is resumed from the last resourceVersion seen
(an event's or a bookmark's) — never re-listed; a 410 Gone ("too old resource
version", as an HTTP status or as the stream's ERROR event) re-lists. A stream
silent past its own ``timeoutSeconds`` plus a grace has stalled: that is
named (:attr:`ErrorKind.STALLED`), then the watch is resumed.

An identity that may list but not watch (RBAC: 403 on the watch) is not a
failure of the pane: the cache is kept by listing every ``relist_every``
seconds instead, :attr:`fallback` names why (the permission to ask for), and
the watch is tried again every ``WATCH_RETRY`` seconds. A refused list, a
401, an unreachable server: :attr:`error` (and ``on_error``) name it, the last
objects stay, and it is retried with a doubling delay.

The objects are kept parsed in a :class:`Book` (``parse``: the API's JSON →
what the consumer reads; ``None`` leaves one out), by uid, at most ``limit``
(the least recently changed go first; :attr:`Book.dropped` counts them). Every change
bumps :attr:`version` and calls ``on_change`` (in the watch's thread, after
the change is applied); ``on_error`` gets the failure, else the refused watch,
else ``None``, each time that changes. Blocking: run
:meth:`run` in one thread; :meth:`close` (from any thread) ends it and wakes a
blocked read by shutting its socket. Never raises.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from clay_cockpit.signals import ErrorKind, SourceError
from clay_cockpit.sources._errors import make_error, one_line, unexpected

if TYPE_CHECKING:
    from clay_cockpit.sources.kube import Kube

_log = logging.getLogger(__name__)

T = TypeVar("T")
WATCH_SECONDS = 60  # timeoutSeconds of one watch request (the server ends it; we resume): a stall shows within it + STALL_GRACE
STALL_GRACE = 15.0  # seconds past timeoutSeconds with no byte: the stream stalled
WATCH_RETRY = 300.0  # seconds between tries of a refused watch while listing instead
MAX_LINE = 4 * 1024 * 1024  # one watch event (a pod is a few KB; a ReplicaSet with a large template more)
RETRY_MIN, RETRY_MAX = 0.5, 30.0  # seconds between attempts after a failure (doubling)
MAX_OBJECTS = 5000  # objects kept (a 500-pod deployment is 500)


class _Gone(Exception):
    """410: the resourceVersion we hold is too old; list again."""


class _Refused(Exception):
    """The watch itself was refused (403): list every ``relist_every`` seconds instead."""


@dataclass
class WatchStats:
    """What the watch did (for tests and --debug)."""

    lists: int = 0
    watches: int = 0
    relists_after_gone: int = 0
    resumes: int = 0
    stalls: int = 0
    events: int = 0
    bookmarks: int = 0
    fallback_lists: int = 0
    resyncs: int = 0  # lists asked for by resync() (a responder's refresh)
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Resource:
    """Which API call lists (and, with ``watch=True``, watches) the objects."""

    plural: str  # "pods", "deployments", "replicasets"
    group: str  # "" core, "apps"
    method: str  # the official client's call: "list_namespaced_pod"

    @property
    def rbac(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


PODS = Resource("pods", "", "list_namespaced_pod")
DEPLOYMENTS = Resource("deployments", "apps", "list_namespaced_deployment")
REPLICASETS = Resource("replicasets", "apps", "list_namespaced_replica_set")


def _d(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def object_key(obj: dict[str, Any]) -> str:
    """The identity of one object: its uid, else namespace/name."""
    meta = _d(obj.get("metadata"))
    uid = meta.get("uid")
    return str(uid) if isinstance(uid, str) and uid else f"{meta.get('namespace', '')}/{meta.get('name', '')}"


class Book(Generic[T]):
    """The objects a watch holds, parsed (``parse``; ``None`` leaves one out),
    by :func:`object_key`, at most ``limit``: the least recently changed go
    first (:attr:`dropped` counts them). Not locked: its watch locks it."""

    def __init__(self, parse: Callable[[dict[str, Any]], T | None], limit: int = MAX_OBJECTS) -> None:
        self.parse = parse
        self.limit = max(1, limit)
        self.dropped = 0
        self._objects: dict[str, T] = {}

    def reset(self, objects: Iterable[object]) -> bool:
        """A fresh list: it replaces everything held; True when that changed what is held."""
        return self.install(self.parsed(objects))

    def parsed(self, objects: Iterable[object]) -> dict[str, T]:
        """A list's objects parsed, by key (no change to what is held: done outside the watch's lock)."""
        out: dict[str, T] = {}
        for obj in objects:
            if isinstance(obj, dict) and (value := self.parse(obj)) is not None:
                out.pop(object_key(obj), None)
                out[object_key(obj)] = value
        return out

    def install(self, parsed: dict[str, T]) -> bool:
        """What :meth:`parsed` made replaces everything held (the last ``limit`` of it); True when that changed it."""
        self.dropped = max(0, len(parsed) - self.limit)
        fresh = dict(list(parsed.items())[self.dropped :]) if self.dropped else parsed
        changed = fresh != self._objects
        self._objects = fresh
        return changed

    def apply(self, kind: str, obj: object) -> bool:
        """One watch event (ADDED / MODIFIED / DELETED); True when it changed what is held."""
        if not isinstance(obj, dict):
            return False
        key = object_key(obj)
        if kind == "DELETED":
            return self._objects.pop(key, None) is not None
        if kind not in ("ADDED", "MODIFIED"):
            return False
        value = self.parse(obj)
        before = self._objects.pop(key, None)
        if value is None:
            return before is not None
        self._objects[key] = value  # newest last: what the bound drops first is the least recently changed
        while len(self._objects) > self.limit:
            self._objects.pop(next(iter(self._objects)))
            self.dropped += 1
        return before != value

    def values(self) -> tuple[T, ...]:
        return tuple(self._objects.values())

    def __len__(self) -> int:
        return len(self._objects)


class ListWatch(Generic[T]):
    """One resource kept current by list + watch; see the module docstring."""

    def __init__(
        self,
        kube: Kube,
        resource: Resource,
        parse: Callable[[dict[str, Any]], T | None],
        *,
        source: str,
        what: str,
        why: str = "",
        namespace: str | None = None,
        label_selector: str = "",
        field_selector: str = "",
        on_change: Callable[[], object] = lambda: None,
        on_error: Callable[[SourceError | None], object] = lambda _e: None,
        watch_seconds: int = WATCH_SECONDS,
        relist_every: float = 30.0,
        limit: int = MAX_OBJECTS,
        book: Book[T] | None = None,
    ) -> None:
        self.kube = kube
        self.resource = resource
        self.book: Book[T] = book if book is not None else Book(parse, limit)
        self.source = source
        self.what = what  # how messages name it: "pods app=clay-sync"
        self.why = why  # what a 403's hint adds (why the cockpit asks for it)
        self.namespace = namespace if namespace is not None else kube.config.namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.on_change = on_change
        self.on_error = on_error
        self.watch_seconds = max(1, int(watch_seconds))
        self.relist_every = max(0.1, relist_every)
        self.stats = WatchStats()
        self.resource_version: str | None = None  # None: list first
        # read by consumers under _lock
        self.version = 0  # bumped on every change of the objects (or of error / fallback)
        self.synced_at: float | None = None  # when the objects were last known current (a list, an event, a bookmark)
        self.error: SourceError | None = None  # the current failure (the objects are then as last known)
        self.fallback: SourceError | None = None  # the watch is refused: kept by listing (why, and what to ask for)
        self.list_ms = 0.0  # how long the last list took
        self.listed_at: float | None = None  # when the objects were last listed (a watch follows from there)
        self._lock = threading.Lock()
        self._api: Any = None
        self._api_client: Any = None
        self._resp: Any = None
        self._closed = threading.Event()
        self._poke = threading.Event()  # close() or resync(): wake the fallback's wait
        self._resync = False  # a responder's refresh: list again now
        self._watch_tried_at = 0.0
        self._reported: SourceError | None = None  # what on_error got last

    # -- what consumers read (any thread) ----------------------------------------

    def objects(self) -> tuple[T, ...]:
        with self._lock:
            return self.book.values()

    @property
    def listed(self) -> bool:
        """The objects were listed at least once (before that, there is nothing to show)."""
        return self.synced_at is not None

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def close(self) -> None:
        """End :meth:`run` (any thread): a blocked read is woken."""
        self._closed.set()
        self._poke.set()
        with self._lock:
            resp = self._resp
        if resp is not None:
            _abort(resp)

    def resync(self) -> None:
        """List again now (any thread; a responder's refresh, "poll every source now"): the
        open stream is ended and the objects listed anew, so a server that now refuses us
        says so at once instead of at the watch's next request."""
        with self._lock:
            self._resync = True
        self._poke.set()
        with self._lock:
            resp = self._resp
        if resp is not None:
            _abort(resp)

    # -- the watch's thread --------------------------------------------------------

    def run(self) -> None:
        """Keep the cache current until :meth:`close`."""
        delay = RETRY_MIN
        try:
            while not self._closed.is_set():
                try:
                    ok = self._step()
                except Exception as exc:  # outermost boundary of this thread: named, then retried
                    self._fail(unexpected(self.source, exc, f"the watch of {self.what}"))
                    ok = False
                if ok:
                    delay = RETRY_MIN
                else:
                    self._closed.wait(delay)
                    delay = min(delay * 2, RETRY_MAX)
        finally:
            with self._lock:
                client, self._api, self._api_client = self._api_client, None, None
            if client is not None:
                client.close()

    def _step(self) -> bool:
        """List (when needed), then one watch request to its end (or one fallback period). False after a failure."""
        if not self._ensure_api():
            return False
        with self._lock:
            resync, self._resync = self._resync, False
        if resync:
            self._poke.clear()
            self.resource_version = None  # asked to read it all again now
            self.stats.resyncs += 1
        if self.resource_version is None and not self._list():
            return False
        if self.fallback is not None and time.monotonic() - self._watch_tried_at < WATCH_RETRY:
            self._poke.wait(self.relist_every)  # refused to watch: list again after a while (or when asked)
            self._poke.clear()
            self.resource_version = None
            self.stats.fallback_lists += 1
            return True
        return self._watch()

    def _ensure_api(self) -> bool:
        if self._api is not None:
            return True
        built = self.kube.build_api_client()
        if isinstance(built, SourceError):
            self._fail(SourceError(self.source, built.kind, f"{self.what}: {built.message}", built.hint, status_code=built.status_code))
            return False
        from kubernetes.client import AppsV1Api, CoreV1Api

        api = AppsV1Api(built) if self.resource.group == "apps" else CoreV1Api(built)
        with self._lock:
            self._api_client, self._api = built, api
        return True

    def _selectors(self) -> dict[str, str]:
        out = {}
        if self.label_selector:
            out["label_selector"] = self.label_selector
        if self.field_selector:
            out["field_selector"] = self.field_selector
        return out

    def _list(self) -> bool:
        from kubernetes.client.exceptions import ApiException
        from urllib3 import exceptions as u3

        action = f"listing {self.what} in {self.namespace}"
        self.stats.lists += 1
        call = getattr(self._api, self.resource.method)
        started = time.monotonic()
        try:
            resp = call(self.namespace, **self._selectors(), _request_timeout=self.kube.request_timeout, _preload_content=False)
            try:
                body = resp.data
            finally:
                resp.release_conn()
        except ApiException as exc:
            self._api_failed(exc, action, "list")
            return False
        except (u3.HTTPError, OSError) as exc:
            self._fail(self.kube.transport_error(exc, action, source=self.source))
            return False
        try:
            doc = json.loads(body)
            items = doc["items"]
            rv = str(_d(doc.get("metadata")).get("resourceVersion") or "")
            if not isinstance(items, list) or not rv:
                raise ValueError("no items or no resourceVersion")
        except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            self._fail(make_error(self.source, ErrorKind.BAD_RESPONSE, f"malformed list while {action}: {type(exc).__name__}",
                                  f"check the context points at a Kubernetes API server (`kubectl --context {self.kube.context} get {self.resource.rbac} -n {self.namespace}`)"))  # fmt: skip
            return False
        parsed = self.book.parsed(items)  # (outside the lock: a consumer reading the objects does not wait for it)
        with self._lock:
            changed = self.book.install(parsed) or self.synced_at is None
            self.synced_at = self.listed_at = time.time()
            self.list_ms = (time.monotonic() - started) * 1000.0
            self.resource_version = rv
            if changed:
                self.version += 1
        self._recovered()
        if changed:
            self._changed()
        return True

    def _watch(self) -> bool:
        from kubernetes.client.exceptions import ApiException
        from urllib3 import exceptions as u3

        action = f"watching {self.what} in {self.namespace}"
        timeout = self.kube.config.timeout
        self.stats.watches += 1
        self._watch_tried_at = time.monotonic()
        call = getattr(self._api, self.resource.method)
        try:
            resp = call(
                self.namespace,
                **self._selectors(),
                watch=True,
                resource_version=self.resource_version,
                allow_watch_bookmarks=True,
                timeout_seconds=self.watch_seconds,
                _request_timeout=(timeout, self.watch_seconds + STALL_GRACE),
                _preload_content=False,
            )
        except ApiException as exc:
            if exc.status == 410:
                self._gone()
                return True
            if exc.status == 403 and self._refused(exc, action):
                return True
            self._api_failed(exc, action, "watch")
            return False
        except (u3.HTTPError, OSError) as exc:
            self._fail(self.kube.transport_error(exc, action, source=self.source))
            return False
        with self._lock:
            if self._closed.is_set():
                _abort(resp)
                return True
            self._resp = resp
        if self.fallback is not None:
            self._set_fallback(None)  # allowed again
        self._recovered()
        try:
            self._read(resp)
        except _Gone:
            self._gone()
        except u3.ReadTimeoutError:  # silent past timeoutSeconds: the stream stalled
            self.stats.stalls += 1
            if not self._closed.is_set():
                self._fail(make_error(self.source, ErrorKind.STALLED,
                                      f"the watch of {self.what} sent nothing for {self.watch_seconds + STALL_GRACE:.0f}s",
                                      "resumed from the last resourceVersion; if it repeats, check the API server and the network path to it"))  # fmt: skip
        except (u3.HTTPError, OSError, ValueError, AttributeError) as exc:  # dropped (closed under the read): resume
            if self._closed.is_set() or self._resync:
                return True  # closed by close() or resync(): urllib3 may fail either way on a stream shut under its read
            _log.debug("watch of %s dropped (%s): resuming from %s", self.what, type(exc).__name__, self.resource_version)
            self.stats.resumes += 1
            self._closed.wait(RETRY_MIN)
        finally:
            with self._lock:
                self._resp = None
            _abort(resp)
        return True

    def _read(self, resp: Any) -> None:
        pending = b""
        read = getattr(resp, "read1", None)
        while not self._closed.is_set():
            chunk = read(65536) if read is not None else resp.read(65536)
            if not chunk:
                return  # the server ended the watch (timeoutSeconds): resume from resource_version
            pending += chunk
            *lines, pending = pending.split(b"\n")
            if len(pending) > MAX_LINE:
                raise ValueError(f"a watch event over {MAX_LINE} bytes")
            changed = False
            for raw in lines:
                if raw.strip():
                    changed = self._event(raw) or changed
            if changed:
                self._changed()

    def _event(self, raw: bytes) -> bool:
        try:
            doc = _d(json.loads(raw))
        except (UnicodeDecodeError, ValueError):
            raise ValueError("a watch event that is not JSON") from None
        etype, obj = str(doc.get("type", "")), _d(doc.get("object"))
        if etype == "ERROR":
            given = obj.get("code")
            code = given if isinstance(given, int) else 0
            if code == 410 or obj.get("reason") in ("Expired", "Gone"):
                raise _Gone
            self._fail(make_error(self.source, ErrorKind.SERVER_ERROR if code >= 500 else ErrorKind.BAD_RESPONSE,
                                  f"the watch of {self.what} ended with {code or 'an error'}: {one_line(obj.get('message') or '', 160)}",
                                  "it is resumed; if it repeats, check the API server"))  # fmt: skip
            raise ValueError("ERROR event")
        rv = _d(obj.get("metadata")).get("resourceVersion")
        with self._lock:
            if isinstance(rv, str) and rv:
                self.resource_version = rv
            self.synced_at = time.time()
            if etype == "BOOKMARK":
                self.stats.bookmarks += 1
                return False
            self.stats.events += 1
            return self._apply(etype, obj)

    def _apply(self, etype: str, obj: dict[str, Any]) -> bool:
        """One ADDED / MODIFIED / DELETED (under the lock); True when it changed what we hold."""
        changed = self.book.apply(etype, obj)
        if changed:
            self.version += 1
        return changed

    def _gone(self) -> None:
        _log.info("watch of %s: resourceVersion %s too old (410): listing again", self.what, self.resource_version)
        self.stats.relists_after_gone += 1
        self.resource_version = None

    def _ask(self, verbs: str) -> str:
        why = f": {self.why}" if self.why else ""
        return f"ask for {verbs} on {self.resource.rbac} in namespace {self.namespace}{why} (RBAC)"

    def _refused(self, exc: Any, action: str) -> bool:
        """A 403 on the watch alone (the list worked): keep the cache by listing. False: not that case."""
        error = self.kube.api_error(exc, action, source=self.source)
        if error.kind is not ErrorKind.FORBIDDEN:
            return False
        ns, plural = self.namespace, self.resource.rbac
        self._set_fallback(
            make_error(
                self.source,
                ErrorKind.FORBIDDEN,
                f"may not watch {plural} in {ns}: listed every {self.relist_every:g}s instead",
                self._ask("watch") + f"; `kubectl auth can-i watch {plural} -n {ns}`",
                status_code=403,
            )
        )
        return True  # _step lists again after relist_every

    def _set_fallback(self, why: SourceError | None) -> None:
        with self._lock:
            if why == self.fallback:
                return
            self.fallback = why
            self.version += 1
        _log.info("watch of %s: %s", self.what, why.message if why is not None else "watched again")
        self._report()
        self._changed()

    def _api_failed(self, exc: Any, action: str, verb: str) -> None:
        if exc.status == 401:
            with self._lock:
                client, self._api, self._api_client = self._api_client, None, None
            self.kube.forget_exec_credentials()
            if client is not None:
                client.close()
        error = self.kube.api_error(exc, action, source=self.source)
        if exc.status == 403 and error.kind is ErrorKind.FORBIDDEN:
            plural, ns = self.resource.rbac, self.namespace
            error = make_error(self.source, ErrorKind.FORBIDDEN, f"{self.what}: {error.message}",
                               self._ask("list and watch") + f"; `kubectl auth can-i {verb} {plural} -n {ns}`", status_code=403)  # fmt: skip
        self._fail(error)

    # -- reporting ------------------------------------------------------------

    def _fail(self, error: SourceError) -> None:
        if self._closed.is_set():
            return  # ended on purpose: what failed after that is no state of ours
        self.stats.errors.append(error.kind.value)
        del self.stats.errors[:-20]
        with self._lock:
            if error == self.error:
                return
            self.error = error
            self.version += 1
        self._report()
        self._changed()

    def _recovered(self) -> None:
        with self._lock:
            if self.error is None:
                return
            self.error = None
            self.version += 1
        self._report()
        self._changed()

    def _report(self) -> None:
        """``on_error`` gets the failure, else the refused watch (listed instead: said, not hidden), else None; once each."""
        state = self.error if self.error is not None else self.fallback
        if state != self._reported:
            self._reported = state
            self._call(self.on_error, state)

    def _changed(self) -> None:
        self._call(self.on_change)

    def _call(self, sink: Callable[..., object], *args: Any) -> None:
        if self._closed.is_set():
            return
        try:
            sink(*args)
        except Exception:  # a failing consumer must not end the watch
            _log.exception("watch consumer %r failed", sink)


def _abort(resp: Any) -> None:
    """Wake a read blocked on this stream: shut the socket down, then close."""
    try:
        resp.shutdown()
    except (AttributeError, ValueError, RuntimeError, OSError) as exc:
        _log.debug("watch: no socket to shut down (%s)", type(exc).__name__)
    try:
        resp.close()
    except OSError as exc:
        _log.debug("watch: close failed: %s", exc)
