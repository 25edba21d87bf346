"""The cluster mutations of the remediation actions, with the official client.

Blocking: call from thread workers. Built on the same kubeconfig / context
handling as :class:`clay_cockpit.sources.kube.Kube` (``build_api_client``,
``login_hint``, ``transport_error``); every call passes ``_request_timeout``
and ``_preload_content=False`` (we parse the JSON ourselves, so no generated
model — whose ``repr`` would print a Secret's data — is ever built).

**The guard.** Every request of this adapter passes through
:class:`MutationGuard`, installed in place of the ApiClient's ``rest_client``
(the single method all API calls end in). It classifies each request before
it leaves the process:

- reads (GET/HEAD/OPTIONS, and POSTing a SelfSubjectAccessReview) always go;
- in read-only mode (``kube.read_only`` or ``--read-only``) every other
  request is refused — a ``dryRun=All`` PATCH too: it is still a write
  request to the API server;
- otherwise a dry run goes, and a real write goes only inside
  :meth:`KubeAdmin.armed` — which only the action runner enters, after it
  checked the responder's confirmation.

So no code path — not even someone calling the generated API classes on
:attr:`KubeAdmin.api_client` — can mutate the cluster around it.

**Secrets.** The Clay API key is read into a :class:`SecretValue` straight
from the response bytes and written from one; it is never logged, never part
of a message (error texts are scrubbed of the value and its base64 form) and
never part of a repr. The Secret's data is never returned to callers except
as a SecretValue.

Errors: every failure is an :class:`AdminError` carrying a
:class:`~clay_cockpit.actions.types.Failure` — 401 "cluster credentials expired"
with the context's re-authentication hint (the client is then rebuilt from the
kubeconfig on the next call), 403 permission denied with the escalation
contact, 409 conflict, 400/422 refused, 404 not found, transport failures.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from clay_cockpit.actions.types import AdminError, Failure, FailureKind, Need, PermissionCheck, SecretValue
from clay_cockpit.config import KubeConfig
from clay_cockpit.signals import ErrorKind, SourceError
from clay_cockpit.sources import _identity as identity
from clay_cockpit.sources._errors import one_line, scrub, status_text
from clay_cockpit.sources.kube import Kube, forget_exec_credentials
from clay_cockpit.sources.kube_follow import RolloutFollow

SOURCE = "kube"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
READ_POSTS = ("/selfsubjectaccessreviews", "/selfsubjectrulesreviews")  # POSTs that only ask a question
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
STRATEGIC = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
MAX_LIST = 500  # pods read per list (bounded)

_KINDS = {
    ErrorKind.UNREACHABLE: FailureKind.UNREACHABLE,
    ErrorKind.TIMEOUT: FailureKind.TIMEOUT,
    ErrorKind.AUTH_EXPIRED: FailureKind.AUTH_EXPIRED,
    ErrorKind.FORBIDDEN: FailureKind.FORBIDDEN,
    ErrorKind.RATE_LIMITED: FailureKind.SERVER_ERROR,
    ErrorKind.SERVER_ERROR: FailureKind.SERVER_ERROR,
    ErrorKind.BAD_RESPONSE: FailureKind.BAD_RESPONSE,
    ErrorKind.CONFIG: FailureKind.CONFIG,
    ErrorKind.STALLED: FailureKind.TIMEOUT,
}


def classify(method: str, url: str) -> str:
    """``read``, ``dry_run`` or ``write`` for one HTTP request to the API server."""
    method = method.upper()
    parts = urlsplit(url)
    if method in READ_METHODS:
        return "read"
    if method == "POST" and parts.path.rstrip("/").endswith(READ_POSTS):
        return "read"
    dry = parse_qs(parts.query).get("dryRun", [])
    if dry and all(v == "All" for v in dry):
        return "dry_run"
    return "write"


class MutationGuard:
    """Stands in for the ApiClient's ``rest_client``: refuses what must not
    leave the process (see the module docstring), passes the rest on."""

    def __init__(self, inner: Any, admin: KubeAdmin) -> None:
        self._inner = inner
        self._admin = admin

    def request(
        self, method: str, url: str, headers: Any = None, body: Any = None, post_params: Any = None, _request_timeout: Any = None
    ) -> Any:
        refusal = self._admin.refusal(method, url)
        if refusal is not None:
            raise AdminError(refusal)
        return self._inner.request(method, url, headers=headers, body=body, post_params=post_params, _request_timeout=_request_timeout)

    def close(self) -> None:
        self._inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def restarted_at_now(now: datetime | None = None) -> str:
    """What kubectl writes: ``time.Now().Format(time.RFC3339)`` (local time with offset, ``Z`` in UTC)."""
    local = (now or datetime.now()).astimezone().replace(microsecond=0)
    text = local.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def obj_name(kind: str, namespace: str, name: str) -> str:
    return f"{kind} {namespace}/{name}"


class KubeAdmin:
    """Reads and writes of the remediation actions. Methods raise
    :class:`AdminError` (never anything else, never with a secret)."""

    def __init__(self, config: KubeConfig, *, read_only: bool = False, escalation: str = "", timeout: float | None = None) -> None:
        self.config = config
        self.read_only = bool(read_only or config.read_only)
        self.escalation = escalation or "your cluster admin"
        self.timeout = timeout if timeout is not None else config.timeout
        self.kube = Kube(config)  # kubeconfig, context, login hint, transport errors
        self._lock = threading.Lock()
        self._client: Any = None
        self._local = threading.local()
        self._following: RolloutFollow | None = None  # while an action's rollout is followed: its watches answer reads

    def __repr__(self) -> str:
        return f"KubeAdmin(context={self.context!r}, namespace={self.namespace!r}, read_only={self.read_only})"

    @property
    def context(self) -> str:
        return self.kube.context

    @property
    def namespace(self) -> str:
        return self.config.namespace

    def login_hint(self) -> str:
        return self.kube.login_hint()

    @property
    def request_timeout(self) -> tuple[float, float]:
        return (self.timeout, self.timeout)

    # -- the guard -------------------------------------------------------------

    @contextlib.contextmanager
    def armed(self) -> Iterator[None]:
        """Real writes may leave this thread inside the block (read-only mode still refuses them)."""
        depth = getattr(self._local, "armed", 0)
        self._local.armed = depth + 1
        try:
            yield
        finally:
            self._local.armed = depth

    def refusal(self, method: str, url: str) -> Failure | None:
        """Why this request must not be sent, or None."""
        kind = classify(method, url)
        if kind == "read":
            return None
        path = urlsplit(url).path
        if self.read_only:
            what = "dry run" if kind == "dry_run" else "request"
            return Failure(
                FailureKind.READ_ONLY,
                f"read-only: {method.upper()} {path} ({what}) not sent to context {self.context}",
                "the cockpit runs read-only for this context (--read-only or kube.read_only); use kubectl or restart without it",
            )
        if kind == "write" and not getattr(self._local, "armed", 0):
            return Failure(
                FailureKind.NOT_CONFIRMED,
                f"{method.upper()} {path} refused: a change is only sent for a confirmed action",
                "plan the action and confirm it",
            )
        return None

    # -- the client ------------------------------------------------------------

    @property
    def api_client(self) -> Any:
        """The guarded ApiClient (built on first use from the kubeconfig)."""
        with self._lock:
            if self._client is None:
                built = self.kube.build_api_client()
                if isinstance(built, SourceError):
                    raise AdminError(self._from_source_error(built))
                built.rest_client = MutationGuard(built.rest_client, self)
                self._client = built
            return self._client

    def forget_client(self) -> None:
        """Drop the client: the next call re-reads the kubeconfig (after a re-login)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def api(self, name: str) -> Any:
        from kubernetes import client as k

        cls = {"core": k.CoreV1Api, "apps": k.AppsV1Api, "coordination": k.CoordinationV1Api, "authorization": k.AuthorizationV1Api}[name]
        return cls(self.api_client)

    # -- calling, and what went wrong -------------------------------------------

    def call(
        self, api: str, method: str, *args: Any, action: str, secrets: tuple[str, ...] = (), allow_404: bool = False, **kwargs: Any
    ) -> dict[str, Any] | None:
        """One API call → the parsed JSON object. ``action`` says what we were
        doing (for messages); ``secrets`` are scrubbed from any message."""
        from kubernetes.client.exceptions import ApiException
        from urllib3 import exceptions as u3

        failure: Failure | None = None
        body = b""
        try:
            fn: Callable[..., Any] = getattr(self.api(api), method)
            kwargs = identity.with_field_manager(method, kwargs)  # every write: fieldManager=clay-cockpit
            resp = fn(*args, _preload_content=False, _request_timeout=self.request_timeout, **kwargs)
            try:
                body = resp.data
            finally:
                resp.release_conn()
        except AdminError:
            raise
        except ApiException as exc:
            if exc.status == 404 and allow_404:
                return None
            if exc.status == 401:
                self.forget_client()
                forget_exec_credentials()  # the server refused it: the exec plugin runs again on the next build
            failure = self.failure_for(exc, action, secrets)
        except (u3.HTTPError, OSError) as exc:
            failure = self._from_source_error(self.kube.transport_error(exc, action))
        except Exception as exc:  # the generated client's own validation (pydantic) or a bug: no str(exc), it may hold the body
            failure = Failure(
                FailureKind.BAD_RESPONSE,
                f"unexpected {type(exc).__name__} while {action}",
                "this is a bug in the cockpit; nothing was sent, or the answer was not understood",
            )
        if failure is not None:
            raise AdminError(failure)
        try:
            doc = json.loads(body)
        except (UnicodeDecodeError, ValueError):
            doc = None
        if not isinstance(doc, dict):
            raise AdminError(
                Failure(
                    FailureKind.BAD_RESPONSE,
                    f"the API server of context {self.context} sent a malformed answer while {action}",
                    f"check the context points at a Kubernetes API server (`kubectl --context {self.context} cluster-info`)",
                )
            )
        return doc

    def failure_for(self, exc: Any, action: str, secrets: tuple[str, ...] = ()) -> Failure:
        status = getattr(exc, "status", None) or 0
        detail = ""
        raw = getattr(exc, "body", None)
        if raw:
            try:
                doc = json.loads(raw)
                detail = one_line(doc.get("message") or "", 200) if isinstance(doc, dict) else ""
            except (TypeError, ValueError):
                detail = ""
        detail = scrub(detail, _with_b64(secrets))
        ctx = self.context
        if status == 401 or (status == 403 and "system:anonymous" in detail):
            return Failure(
                FailureKind.AUTH_EXPIRED,
                f"cluster credentials expired: context {ctx} refused our credentials ({status_text(status)}) while {action}",
                self.login_hint(),
                status_code=status,
            )
        if status == 403:
            return Failure(
                FailureKind.FORBIDDEN,
                f"permission denied while {action}: {detail or status_text(403)}",
                f"escalate to {self.escalation}",
                status_code=403,
            )
        if status == 404:
            return Failure(
                FailureKind.NOT_FOUND,
                f"not found while {action}: {detail or status_text(404)}",
                f"check kube.namespace ({self.namespace}) and the names in the config, and that context {ctx} is the right cluster",
                status_code=404,
            )
        if status == 409:
            return Failure(
                FailureKind.CONFLICT,
                f"conflict while {action}: {detail or status_text(409)}",
                "it changed since the plan: plan it again (the plan shows the new values) and confirm again",
                status_code=409,
            )
        if status in (400, 422):
            return Failure(
                FailureKind.REFUSED,
                f"the API server refused {action}: {detail or status_text(status)}",
                "nothing was changed; fix the config or the input and plan again",
                status_code=status,
            )
        if status == 0:
            return Failure(
                FailureKind.UNREACHABLE,
                f"TLS with the API server of context {ctx} failed while {action}",
                f"check the cluster's CA/server in the kubeconfig; `kubectl --context {ctx} cluster-info`",
            )
        if status == 429 or status >= 500:
            return Failure(
                FailureKind.SERVER_ERROR,
                f"the API server of context {ctx} answered {status_text(status)} while {action}" + (f": {detail}" if detail else ""),
                "the API server is overloaded or failing; retry in a moment",
                status_code=status,
            )
        return Failure(
            FailureKind.BAD_RESPONSE,
            f"the API server of context {ctx} answered {status_text(status)} while {action}" + (f": {detail}" if detail else ""),
            "",
            status_code=status,
        )

    def _from_source_error(self, err: SourceError) -> Failure:
        kind = _KINDS.get(err.kind, FailureKind.BAD_RESPONSE)
        message = err.message
        if kind is FailureKind.AUTH_EXPIRED:
            message = f"cluster credentials expired: {message}"
        return Failure(kind, message, err.hint, status_code=err.status_code)

    # -- reads -----------------------------------------------------------------

    @contextlib.contextmanager
    def following(self, deployment: str) -> Iterator[RolloutFollow]:
        """While in it, :meth:`deployment` and :meth:`pods` answer from a watch of the deployment
        and our pods (:mod:`~clay_cockpit.sources.kube_follow`) where it is current: a rollout is
        followed without listing 500 pods a second."""
        with RolloutFollow(self.kube, deployment, relist_every=self.config.refresh) as follow:
            self._following = follow
            try:
                yield follow
            finally:
                self._following = None

    def deployment(self, name: str) -> dict[str, Any]:
        follow = self._following
        watched = follow.deployment(name) if follow is not None else None
        if watched is not None:
            return watched
        doc = self.call("apps", "read_namespaced_deployment", name, self.namespace, action=f"reading deployment {name}")
        assert doc is not None
        return doc

    def pods(self) -> list[dict[str, Any]]:
        follow = self._following
        watched = follow.pods() if follow is not None else None
        if watched is not None:
            return watched
        doc = self.call(
            "core",
            "list_namespaced_pod",
            self.namespace,
            label_selector=self.config.selector,
            limit=MAX_LIST,
            action=f"listing pods {self.config.selector}",
        )
        items = (doc or {}).get("items")
        return [p for p in items if isinstance(p, dict)] if isinstance(items, list) else []

    def replicasets(self, deploy: dict[str, Any]) -> list[dict[str, Any]]:
        """The ReplicaSets the deployment controls (its rollout history), as kubectl's
        ``GetAllReplicaSets``: listed by the deployment's selector, kept when their
        controller ownerReference is the deployment's uid."""
        meta, spec = deploy.get("metadata") or {}, deploy.get("spec") or {}
        selector = spec.get("selector") or {}
        labels = selector.get("matchLabels") or {}
        only_labels = isinstance(labels, dict) and labels and not selector.get("matchExpressions")
        name = str(meta.get("name") or "?")
        doc = self.call(
            "apps",
            "list_namespaced_replica_set",
            self.namespace,
            label_selector=",".join(f"{k}={v}" for k, v in sorted(labels.items())) if only_labels else None,
            limit=MAX_LIST,
            action=f"listing the ReplicaSets of deployment {name}",
        )
        items = (doc or {}).get("items")
        uid = meta.get("uid")
        out = []
        for rs in items if isinstance(items, list) else []:
            refs = ((rs.get("metadata") or {}).get("ownerReferences") or []) if isinstance(rs, dict) else []
            if any(isinstance(r, dict) and r.get("controller") and r.get("uid") == uid for r in refs):
                out.append(rs)
        return out

    def configmap(self, name: str) -> dict[str, Any]:
        doc = self.call("core", "read_namespaced_config_map", name, self.namespace, action=f"reading ConfigMap {name}")
        assert doc is not None
        return doc

    def secret_key(self, name: str, key: str) -> tuple[SecretValue | None, str]:
        """The value of ``key`` in Secret ``name`` (None when the key is absent) and the Secret's resourceVersion."""
        doc = self.call("core", "read_namespaced_secret", name, self.namespace, action=f"reading Secret {name}")
        assert doc is not None
        rv = str((doc.get("metadata") or {}).get("resourceVersion") or "")
        raw = (doc.get("data") or {}).get(key) if isinstance(doc.get("data"), dict) else None
        doc.clear()  # drop the other keys' data at once
        if raw is None:
            return None, rv
        try:
            value = base64.b64decode(str(raw), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise AdminError(
                Failure(
                    FailureKind.BAD_RESPONSE,
                    f"Secret {name}: key {key} is not valid base64 UTF-8 text",
                    "check the Secret (its value is not shown here)",
                )
            ) from None
        return SecretValue(value), rv

    def review(self, need: Need) -> PermissionCheck:
        """A SelfSubjectAccessReview of one permission (a read: allowed in read-only mode)."""
        attrs = {"namespace": self.namespace, "verb": need.verb, "group": need.group, "resource": need.resource}
        if need.subresource:
            attrs["subresource"] = need.subresource
        if need.name:
            attrs["name"] = need.name
        body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": {"resourceAttributes": attrs}}
        resource = f"{need.resource}/{need.subresource}" if need.subresource else need.resource
        doc = self.call("authorization", "create_self_subject_access_review", body, action=f"checking permission to {need.verb} {resource}")
        status = (doc or {}).get("status") or {}
        allowed = status.get("allowed") is True and status.get("denied") is not True
        reason = one_line(str(status.get("reason") or status.get("evaluationError") or ""), 160)
        return PermissionCheck(need.verb, resource, need.group, need.name, allowed, reason)

    # -- writes (dry_run=True sends dryRun=All) ---------------------------------

    def restart(self, name: str, *, dry_run: bool, at: str | None = None) -> dict[str, Any]:
        """``kubectl rollout restart deployment/NAME``: refuses a paused
        deployment; patches the template's restartedAt annotation (strategic merge)."""
        deploy = self.deployment(name)
        if (deploy.get("spec") or {}).get("paused"):
            raise AdminError(paused_failure(name, self.namespace, self.context))
        current = (((deploy.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("annotations") or {}
        stamp = at or restarted_at_now()
        if stamp == current.get(RESTARTED_AT):  # a restart in the same second: the same value would change nothing
            stamp = restarted_at_now(datetime.now() + timedelta(seconds=1))
        patch = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
        return self.patch_deployment(name, patch, dry_run=dry_run, action=f"restarting deployment {name}")

    def patch_deployment(self, name: str, patch: dict[str, Any], *, dry_run: bool, action: str) -> dict[str, Any]:
        doc = self.call(
            "apps",
            "patch_namespaced_deployment",
            name,
            self.namespace,
            patch,
            dry_run="All" if dry_run else None,
            _content_type=STRATEGIC,
            action=action + (" (dry run)" if dry_run else ""),
        )
        assert doc is not None
        return doc

    def patch_deployment_json(self, name: str, ops: list[dict[str, Any]], *, dry_run: bool, action: str) -> dict[str, Any]:
        """A JSON patch (RFC 6902) of the deployment: what ``kubectl rollout undo`` sends."""
        doc = self.call(
            "apps",
            "patch_namespaced_deployment",
            name,
            self.namespace,
            ops,
            dry_run="All" if dry_run else None,
            _content_type=JSON_PATCH,
            action=action + (" (dry run)" if dry_run else ""),
        )
        assert doc is not None
        return doc

    def set_env(self, name: str, container: str, values: dict[str, str], *, dry_run: bool) -> dict[str, Any]:
        """Set env vars on one container of the deployment's pod template (merged by name)."""
        env = [{"name": k, "value": v} for k, v in values.items()]
        patch = {"spec": {"template": {"spec": {"containers": [{"name": container, "env": env}]}}}}
        return self.patch_deployment(name, patch, dry_run=dry_run, action=f"setting {', '.join(values)} on deployment {name}")

    def set_configmap(self, name: str, values: dict[str, str], *, resource_version: str, dry_run: bool) -> dict[str, Any]:
        patch: dict[str, Any] = {"data": dict(values)}
        if resource_version:
            patch["metadata"] = {"resourceVersion": resource_version}
        doc = self.call(
            "core",
            "patch_namespaced_config_map",
            name,
            self.namespace,
            patch,
            dry_run="All" if dry_run else None,
            _content_type=MERGE,
            action=f"setting {', '.join(values)} in ConfigMap {name}" + (" (dry run)" if dry_run else ""),
        )
        assert doc is not None
        return doc

    def set_secret_key(self, name: str, key: str, value: SecretValue, *, resource_version: str, dry_run: bool) -> tuple[str, str]:
        """Write ``value`` to ``key`` of Secret ``name`` (merge patch of its data).
        Returns (the fingerprint the server now holds for the key, resourceVersion)."""
        encoded = base64.b64encode(value.reveal().encode("utf-8")).decode("ascii")
        patch: dict[str, Any] = {"data": {key: encoded}}
        if resource_version:
            patch["metadata"] = {"resourceVersion": resource_version}
        try:
            doc = self.call(
                "core",
                "patch_namespaced_secret",
                name,
                self.namespace,
                patch,
                dry_run="All" if dry_run else None,
                _content_type=MERGE,
                secrets=(value.reveal(), encoded),
                action=f"writing key {key} of Secret {name}" + (" (dry run)" if dry_run else ""),
            )
        finally:
            patch.clear()
            del encoded
        assert doc is not None
        rv = str((doc.get("metadata") or {}).get("resourceVersion") or "")
        raw = (doc.get("data") or {}).get(key) if isinstance(doc.get("data"), dict) else None
        doc.clear()
        held = "(unset)"
        if isinstance(raw, str):
            try:
                held = SecretValue(base64.b64decode(raw, validate=True).decode("utf-8")).fingerprint
            except (binascii.Error, ValueError):
                held = "(not text)"
        return held, rv

    def scale(self, name: str, replicas: int, *, dry_run: bool) -> dict[str, Any]:
        doc = self.call(
            "apps",
            "patch_namespaced_deployment_scale",
            name,
            self.namespace,
            {"spec": {"replicas": int(replicas)}},
            dry_run="All" if dry_run else None,
            _content_type=MERGE,
            action=f"scaling deployment {name} to {replicas}" + (" (dry run)" if dry_run else ""),
        )
        assert doc is not None
        return doc


def paused_failure(name: str, namespace: str, context: str) -> Failure:
    return Failure(
        FailureKind.PAUSED,
        f"deployment {name} is paused: can't restart a paused deployment (run rollout resume first)",
        f"resume it if the pause is over: `kubectl --context {context} -n {namespace} rollout resume deployment/{name}`",
    )


def _with_b64(secrets: tuple[str, ...]) -> tuple[str, ...]:
    out = list(secrets)
    for s in secrets:
        if s:
            out.append(base64.b64encode(s.encode("utf-8")).decode("ascii"))
    return tuple(out)
