"""Kubernetes via the official client: our pods, and a merged follow of
their logs (:mod:`clay_cockpit.sources._kubelogs`).

Blocking: call from thread workers. The ``kubernetes`` package is imported
here and only here (it takes a noticeable time to import), and only when a
client is first built — constructing :class:`Kube` does no I/O at all.

No global state: the ApiClient is built with
``kubernetes.config.new_client_from_config`` for ``kube.kubeconfig`` (or
``$KUBECONFIG`` / ``~/.kube/config``) and ``kube.context``, with
``persist_config=False`` (we never write the user's kubeconfig). urllib3's
retries are off (``retries=False``): a refused connection costs one attempt,
not four. Every call passes ``_request_timeout``.

After a 401 the client is dropped and rebuilt from the kubeconfig on the next
call, so a responder who re-authenticates (which rewrites the kubeconfig or
the exec plugin's cache) is picked up without restarting the cockpit.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from clay_cockpit.config import KubeConfig
from clay_cockpit.signals import ErrorKind, PodsSnapshot, SourceError
from clay_cockpit.sources._errors import kind_for_status, make_error, one_line, parse_retry_after, safe_url, status_text, unexpected
from clay_cockpit.sources.kube_pods import _d, _l, parse_kube_time, parse_pod_list, pod_info, pod_status
from clay_cockpit.sources.kube_wait import Closer

if TYPE_CHECKING:
    from clay_cockpit.sources import LogBatchSink, LogErrorSink

SOURCE = "kube"
LOGS_SOURCE = "logs"

# The kubernetes client writes a kubeconfig's certificate data to temp files
# through a module-level cache that it fills *before* writing the file
# (kube_config._create_temp_file_with_content), so two threads building
# clients at once can get an empty CA file and fail TLS. Our workers (pods,
# logs, actions) build clients concurrently: one at a time, process-wide.
_BUILD_LOCK = threading.Lock()

# the pod parsing lives in kube_pods; these names stay importable from here
__all__ = ["Kube", "forget_exec_credentials", "parse_kube_time", "parse_pod_list", "pod_info", "pod_status"]

# --------------------------------------------------------------------------
# Kubeconfig: where it is, which context, how its user logs in


def _yaml_docs(paths: list[str]) -> list[dict[str, Any]]:
    """Parsed kubeconfig files. Raises OSError or yaml.YAMLError."""
    import yaml  # PyYAML: a dependency of the kubernetes client

    docs = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
        if isinstance(doc, dict):
            docs.append(doc)
    return docs


def _named(docs: list[dict[str, Any]], section: str, name: str) -> dict[str, Any]:
    for doc in docs:  # first file wins, as kubectl merges
        for entry in _l(doc.get(section)):
            if entry.get("name") == name:
                return entry
    return {}


_LOGIN_COMMANDS = {
    "aws": "aws sso login (or refresh your AWS credentials)",
    "aws-iam-authenticator": "aws sso login (or refresh your AWS credentials)",
    "gke-gcloud-auth-plugin": "gcloud auth login",
    "gcloud": "gcloud auth login",
    "kubelogin": "az login",
    "az": "az login",
    "doctl": "doctl auth init",
    "oci": "oci session authenticate",
}


def forget_exec_credentials() -> None:
    """After a 401 the server refused the credential: the exec plugin runs
    again on the next build (client-go does the same)."""
    auth = sys.modules.get("clay_cockpit.sources.kube_auth")  # loaded with the first client (it imports kubernetes)
    if auth is not None:
        auth.CACHE.invalidate()


class Kube:
    """Pods and logs of our service. ``list_pods``/``follow_logs`` never raise."""

    name = SOURCE

    forget_exec_credentials = staticmethod(forget_exec_credentials)  # for the log follower, which must not import this module

    def __init__(self, config: KubeConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._api: Any = None  # CoreV1Api, built on first use
        self._context_name: str | None = None  # the context actually used
        self._host = ""
        self._pod_watch: Any = None  # PodWatch, built on the first watch_pods
        self.closer = Closer()  # ends the watches (pods, the infra poll's) when their consumer's stop is set

    def __repr__(self) -> str:
        return f"Kube(context={self.context!r}, namespace={self.config.namespace!r}, selector={self.config.selector!r})"

    # kubeconfig ------------------------------------------------------------

    @property
    def context(self) -> str:
        return self._context_name or self.config.context or "(current context)"

    def kubeconfig_paths(self) -> list[str]:
        raw = self.config.kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
        return [os.path.expanduser(p) for p in raw.split(os.pathsep) if p]

    def _kubeconfig_shown(self) -> str:
        return os.pathsep.join(self.kubeconfig_paths())

    def _check_kubeconfig(self) -> tuple[list[dict[str, Any]], str] | SourceError:
        """The parsed kubeconfig files and the context to use, or why not."""
        paths = self.kubeconfig_paths()
        shown = self._kubeconfig_shown()
        existing = [p for p in paths if os.path.isfile(p)]
        if not existing:
            return make_error(
                SOURCE,
                ErrorKind.CONFIG,  # nothing to log in to: a configuration error, not expired credentials
                f"kubeconfig {shown} does not exist (context {self.config.context or '(current)'})",
                "set kube.kubeconfig (or $KUBECONFIG) to your kubeconfig, or write one with your provider "
                "(e.g. `aws eks update-kubeconfig`, `gcloud container clusters get-credentials`)",
            )
        import yaml

        try:
            docs = _yaml_docs(existing)
        except OSError as exc:
            return make_error(SOURCE, ErrorKind.AUTH_EXPIRED, f"cannot read kubeconfig {shown}: {exc.strerror or exc}",
                              "check the file's permissions")  # fmt: skip
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            what = "UTF-8 text" if isinstance(exc, UnicodeDecodeError) else f"valid YAML ({type(exc).__name__})"
            return make_error(SOURCE, ErrorKind.AUTH_EXPIRED, f"kubeconfig {shown} is not {what}",
                              f"fix the file, or check it with `kubectl config view --kubeconfig {shown}`")  # fmt: skip
        names = [str(c.get("name")) for d in docs for c in _l(d.get("contexts"))]
        wanted = self.config.context or next((d.get("current-context") for d in docs if d.get("current-context")), "")
        if not wanted:
            return make_error(SOURCE, ErrorKind.AUTH_EXPIRED, f"kubeconfig {shown} has no current-context and kube.context is empty",
                              "set kube.context to one of: " + (", ".join(names[:6]) or "(none in the file)"))  # fmt: skip
        if wanted not in names:
            return make_error(
                SOURCE,
                ErrorKind.AUTH_EXPIRED,
                f"context {wanted!r} is not in kubeconfig {shown}",
                f"set kube.context to one of: {', '.join(names[:6]) or '(none in the file)'} "
                f"(see `kubectl config get-contexts --kubeconfig {shown}`)",
            )
        return docs, wanted

    def login_hint(self, docs: list[dict[str, Any]] | None = None) -> str:
        """How to re-authenticate for our context, from its kubeconfig user;
        led by a failing exec plugin's own words (its stderr), as kubectl shows them."""
        if docs is None:
            got = self._check_kubeconfig()
            docs = got[0] if isinstance(got, tuple) else []
        hint = self._login_hint(docs)
        auth = sys.modules.get("clay_cockpit.sources.kube_auth")  # loaded with the first client (it imports kubernetes)
        failure = auth.last_exec_failure() if auth is not None else None
        # only a failure of OUR context's plugin: another kubeconfig's (another client of this process) says nothing here
        user_name = _d(_named(docs, "contexts", self.context).get("context")).get("user", "")
        command = str(_d(_d(_named(docs, "users", str(user_name)).get("user")).get("exec")).get("command") or "")
        if failure is not None and failure.stderr and command and failure.command == os.path.basename(command):
            return f"{failure.stderr} ({failure.command}) — {hint}"
        return hint

    def _login_hint(self, docs: list[dict[str, Any]] | None = None) -> str:
        ctx = self.context
        check = f"`kubectl --context {ctx} get pods -n {self.config.namespace}`"
        if docs is None:
            got = self._check_kubeconfig()
            docs = got[0] if isinstance(got, tuple) else []
        user_name = _d(_named(docs, "contexts", ctx).get("context")).get("user", "")
        user = _d(_named(docs, "users", str(user_name)).get("user"))
        # a kubeconfig may name its login command in the user's "clay-cockpit" extension (the drill's does)
        extensions = found if isinstance(found := user.get("extensions"), list) else []
        told = next(
            (_d(e.get("extension")).get("login") for e in extensions if isinstance(e, dict) and e.get("name") == "clay-cockpit"), None
        )
        if isinstance(told, str) and told.strip():
            return f"login for context {ctx} expired: run `{told.strip()}` in another terminal"
        exec_cfg = _d(user.get("exec"))
        if exec_cfg.get("command"):
            command = os.path.basename(str(exec_cfg["command"]))
            args = " ".join(str(a) for a in exec_cfg.get("args") or [] if isinstance(a, str))
            if command == "kubectl" and "oidc-login" in args:
                return f"OIDC login of context {ctx} expired: run {check} (kubectl oidc-login opens the browser)"
            login = _LOGIN_COMMANDS.get(command)
            if login:
                return f"login for context {ctx} expired: run `{login}`, then {check}"
            return f"login for context {ctx} expired: re-run its login ({command}), then {check}"
        if user.get("auth-provider"):
            return f"login for context {ctx} expired: run {check} to refresh it"
        if user.get("token") or user.get("tokenFile"):
            return f"token of user {user_name!r} refused (expired/revoked): put a new one in the kubeconfig, then {check}"
        return f"re-authenticate for context {ctx}, then {check}"

    # client ----------------------------------------------------------------

    def build_api_client(self) -> Any:
        """A fresh ApiClient for our context, or a SourceError. Reads files
        (and may run the kubeconfig's exec plugin); no other side effect."""
        got = self._check_kubeconfig()
        if isinstance(got, SourceError):
            return got
        docs, context = got
        from kubernetes import client as kclient
        from kubernetes.config.config_exception import ConfigException

        from clay_cockpit.sources import _identity as identity
        from clay_cockpit.sources._bounded import cap_api_client
        from clay_cockpit.sources.kube_auth import ExecPluginError, load_configuration

        configuration = kclient.Configuration()
        configuration.retries = False  # no urllib3 retry storms: one attempt per call
        configuration.connection_pool_maxsize = 32
        try:
            with _BUILD_LOCK:
                # credentials as kubectl reads them (trimmed token files, cached exec plugins): kube_auth
                rotation = load_configuration(self._kubeconfig_shown(), context, configuration)
                api_client = kclient.ApiClient(configuration=configuration)
                if rotation is not None:  # an exec plugin's client certificate, renewed before it expires
                    rotation.install(api_client)
        except ExecPluginError as exc:
            self._context_name = context
            return self.exec_error(exc, docs)
        except (ConfigException, OSError) as exc:  # bad entry, unreadable cert/token file
            self._context_name = context
            return make_error(
                SOURCE,
                ErrorKind.AUTH_EXPIRED,
                f"kubeconfig {self._kubeconfig_shown()}, context {context!r}: {one_line(exc, 140)}",
                self.login_hint(docs),
            )
        api_client.user_agent = identity.user_agent()
        cap_api_client(api_client)  # every body read in bounded chunks: BodyTooLarge past 4 MiB (transport_error names it)
        self._context_name = context
        self._host = safe_url(configuration.host or "")
        return api_client

    def exec_error(self, exc: Any, docs: list[dict[str, Any]] | None = None, *, source: str = SOURCE) -> SourceError:
        """A failing exec credential plugin: its own stderr leads the hint, as kubectl shows it."""
        return make_error(
            source,
            ErrorKind.AUTH_EXPIRED,
            f"the credential plugin of context {self.context} failed: {exc.command} {exc.problem}",
            self.login_hint(docs),
        )

    def _core(self) -> Any:
        with self._lock:
            if self._api is None:
                api_client = self.build_api_client()
                if isinstance(api_client, SourceError):
                    return api_client
                from kubernetes.client import CoreV1Api

                self._api = CoreV1Api(api_client)
            return self._api

    def forget_client(self) -> None:
        """Drop the client so the next call re-reads the kubeconfig."""
        with self._lock:
            api, self._api = self._api, None
        forget_exec_credentials()
        if api is not None:
            api.api_client.close()

    @property
    def request_timeout(self) -> tuple[float, float]:
        return (self.config.timeout, self.config.timeout)

    # errors ----------------------------------------------------------------

    def api_error(self, exc: Any, action: str, *, source: str = SOURCE) -> SourceError:
        """An ApiException (non-2xx from the API server) → SourceError."""
        status = getattr(exc, "status", None) or 0
        detail = ""
        body = getattr(exc, "body", None)
        if body:
            try:
                doc = json.loads(body)
                detail = one_line(_d(doc).get("message") or "", 160)
            except (TypeError, ValueError):
                detail = ""
        ctx = self.context
        headers = getattr(exc, "headers", None) or {}
        retry_after = parse_retry_after(headers.get("Retry-After") if hasattr(headers, "get") else None)
        if status == 0:
            reason = one_line(getattr(exc, "reason", "") or "", 140)
            return make_error(source, ErrorKind.UNREACHABLE, f"TLS with the API server of context {ctx} failed while {action}: {reason}",
                              f"check the cluster's CA/server in the kubeconfig; `kubectl --context {ctx} cluster-info`")  # fmt: skip
        if status == 401:
            return make_error(
                source,
                ErrorKind.AUTH_EXPIRED,
                f"the cluster of context {ctx} refused our credentials ({status_text(401)}) while {action}",
                self.login_hint(),
                status_code=401,
            )
        if status == 403 and "system:anonymous" in detail:
            # the login (exec plugin, expired SSO) produced no credentials: the client went on anonymously
            return make_error(
                source,
                ErrorKind.AUTH_EXPIRED,
                f"the cluster of context {ctx} sees us as anonymous while {action}: the kubeconfig login gave no credentials",
                self.login_hint(),
                status_code=403,
            )
        if status == 403:
            what = detail or f"forbidden while {action}"
            return make_error(
                source,
                ErrorKind.FORBIDDEN,
                f"context {ctx}: {what}",
                f"the account of context {ctx} lacks permission for this (RBAC): ask a cluster admin to grant it, "
                "or use a context that has it",
                status_code=403,
            )
        message = f"API server of context {ctx} answered {status_text(status)} while {action}"
        if detail:
            message += f": {detail}"
        hint = ""
        if status == 404:
            hint = f"check kube.namespace ({self.config.namespace}) and that the context points at the right cluster"
        return make_error(source, kind_for_status(status), message, hint, status_code=status, retry_after=retry_after)

    def transport_error(self, exc: BaseException, action: str, *, source: str = SOURCE) -> SourceError:
        """A urllib3 / socket failure → unreachable or timeout."""
        from urllib3 import exceptions as u3

        from clay_cockpit.sources._bounded import TOO_LARGE_HINT, BodyTooLarge, limit_text

        if isinstance(exc, u3.MaxRetryError) and exc.reason is not None:
            exc = exc.reason
        ctx, host = self.context, self._host or "the API server"
        if isinstance(exc, BodyTooLarge):
            return make_error(
                source,
                ErrorKind.BAD_RESPONSE,
                f"{host} (context {ctx}) sent more than {limit_text(exc.limit)} while {action}: not read",
                TOO_LARGE_HINT,
            )
        reach = f"check VPN/bastion/network to {host}; `kubectl --context {ctx} cluster-info`"
        if isinstance(exc, u3.NewConnectionError):  # before ConnectTimeoutError: it is a subclass
            text = str(exc).lower()
            why = "host name not found" if isinstance(exc, u3.NameResolutionError) else (
                "connection refused" if "refused" in text else "cannot connect")  # fmt: skip
            return make_error(source, ErrorKind.UNREACHABLE, f"{host} (context {ctx}): {why} while {action}", reach)
        if isinstance(exc, (u3.ConnectTimeoutError, u3.ReadTimeoutError, TimeoutError)):
            return make_error(
                source, ErrorKind.TIMEOUT, f"{host} (context {ctx}) did not answer within {self.config.timeout:g}s while {action}",
                f"the API server is slow or unreachable: {reach}",
            )  # fmt: skip
        if isinstance(exc, u3.SSLError):
            return make_error(source, ErrorKind.UNREACHABLE, f"TLS with {host} (context {ctx}) failed while {action}",
                              "check the cluster's CA/server in the kubeconfig")  # fmt: skip
        if isinstance(exc, (u3.ProtocolError, ConnectionError)):
            return make_error(source, ErrorKind.UNREACHABLE, f"{host} (context {ctx}) dropped the connection while {action}", reach)
        return make_error(source, ErrorKind.UNREACHABLE, f"{host} (context {ctx}): {type(exc).__name__} while {action}", reach)

    # pods ------------------------------------------------------------------

    def list_pods(self) -> PodsSnapshot | SourceError:
        action = f"listing pods {self.config.selector} in {self.config.namespace}"
        try:
            return self._list_pods(action)
        except Exception as exc:  # outermost boundary: never raise into the caller
            return unexpected(SOURCE, exc, action)

    def _list_pods(self, action: str) -> PodsSnapshot | SourceError:
        from kubernetes.client.exceptions import ApiException
        from urllib3 import exceptions as u3

        api = self._core()
        if isinstance(api, SourceError):
            return api
        started = time.monotonic()
        try:
            resp = api.list_namespaced_pod(
                self.config.namespace,
                label_selector=self.config.selector,
                _request_timeout=self.request_timeout,
                _preload_content=False,
            )
            try:
                body = resp.data
            finally:
                resp.release_conn()
        except ApiException as exc:
            if exc.status == 401:
                self.forget_client()  # re-read the kubeconfig next time: the responder may re-authenticate
            return self.api_error(exc, action)
        except (u3.HTTPError, OSError) as exc:
            return self.transport_error(exc, action)
        try:
            pods = parse_pod_list(json.loads(body))
        except (UnicodeDecodeError, ValueError) as exc:
            return make_error(
                SOURCE,
                ErrorKind.BAD_RESPONSE,
                f"the API server of context {self.context} sent a malformed pod list: {one_line(exc, 80)}",
                f"check the context points at a Kubernetes API server (`kubectl --context {self.context} get pods`)",
            )
        return PodsSnapshot(
            context=self.context,
            namespace=self.config.namespace,
            selector=self.config.selector,
            pods=pods,
            fetched_at=time.time(),
            response_ms=(time.monotonic() - started) * 1000.0,
        )

    def watch_pods(self) -> Any:
        """The pods, listed once then watched (:class:`~clay_cockpit.sources.kube_podwatch.PodWatch`, started on first use)."""
        from clay_cockpit.sources.kube_podwatch import PodWatch

        with self._lock:
            if self._pod_watch is None:
                self._pod_watch = PodWatch(self, pod_info)
            return self._pod_watch

    # logs ------------------------------------------------------------------

    def follow_logs(
        self,
        on_batch: LogBatchSink,
        on_error: LogErrorSink,
        stop: threading.Event,
        flush_interval: float = 0.25,
    ) -> None:
        """Follow the merged logs of the selector's pods until ``stop`` is set.

        See :class:`clay_cockpit.sources._kubelogs.LogFollower` for how pods join
        and leave, reconnects, batching and the bounded queue.
        """
        from clay_cockpit.sources._kubelogs import LogFollower

        LogFollower(self, on_batch, on_error, stop, flush_interval).run()
