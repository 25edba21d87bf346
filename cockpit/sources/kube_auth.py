"""Kubeconfig credentials, handled as kubectl (client-go) handles them.

The kubernetes Python client's own loader differs from kubectl in three ways
that hurt a responder (issue 11):

- a ``token``/``tokenFile`` is used as written: a file ending in a newline (as
  editors and ``echo`` write it) gives ``Bearer <token>\\n``, which urllib3
  refuses to send (``Invalid header value b'Bearer …\\n'`` — token included in
  the message). client-go trims it; so do we;
- an exec credential plugin (``client.authentication.k8s.io/v1`` and
  ``v1beta1`` ``ExecCredential``) is re-run for every request once the
  credential is within five minutes of ``expirationTimestamp``, with no lock
  (84 runs in 32 s were seen). We cache its answer until
  :data:`EXPIRY_MARGIN` seconds before it expires, share it across every
  client of the process, and run at most one instance of a plugin at a time.
  The client takes a *client certificate* from a plugin
  (``clientCertificateData``/``clientKeyData``) once, when the ApiClient is
  built, and presents it until the server refuses it (401) and the client
  is rebuilt: past its ``expirationTimestamp`` a request fails before a new
  certificate is fetched (and a poll, an action's step, is lost). Like
  client-go (which asks the plugin again at each TLS handshake once the
  certificate expires and then closes the connections that presented the old
  one), :class:`CertificateRotation` looks before every request: while the
  cached answer is fresh that is a dict lookup; when it is not, the plugin
  runs, the new pair is written to 0600 temporary files, the connection pool
  takes them and its open connections are closed (the next request shakes
  hands with the new certificate; a log stream already open goes on with the
  connection it has). A plugin that fails then leaves the old certificate in
  place: the server refuses it once it has expired, and that 401's hint leads
  with the plugin's stderr, as for a token;
- a failing plugin is only logged (its stderr into the log) and the client
  goes on anonymously. We raise :class:`ExecPluginError` carrying the
  plugin's own stderr (redacted), which the hint leads with, as kubectl shows
  it ("SSO session expired; run 'corp-sso login'").

Every credential read here is registered with :mod:`clay_cockpit.redact` as it is
read (tokens, the exec plugin's token and client key, client key data,
basic-auth passwords, auth-provider tokens), so no text shows it.

:class:`CockpitKubeConfigLoader` subclasses the client's ``KubeConfigLoader``
and overrides only the credential steps; :func:`load_configuration` is what
:class:`clay_cockpit.sources.kube.Kube` builds its ``ApiClient`` configuration with.
Imported lazily (it imports the kubernetes package).
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kubernetes.config.config_exception import ConfigException
from kubernetes.config.kube_config import FileOrData, KubeConfigLoader, KubeConfigMerger

from clay_cockpit.redact import redact, register

EXPIRY_MARGIN = 10.0  # seconds before expirationTimestamp a cached exec credential is fetched again
FAILED_RUN_KEPT = 5.0  # seconds a failed run is remembered (requests in between get the same failure, no new run)
PLUGIN_TIMEOUT = 60.0  # seconds a plugin may take (an SSO helper may talk to its identity provider)
API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")
_MAX_STDERR = 300


class ExecPluginError(ConfigException):
    """The kubeconfig's exec credential plugin failed; ``stderr`` is its own
    (redacted, one line), ``command`` its base name."""

    def __init__(self, command: str, problem: str, stderr: str = "", exit_code: int | None = None) -> None:
        self.command = command
        self.problem = problem
        self.stderr = stderr
        self.exit_code = exit_code
        text = f"exec plugin {command}: {problem}"
        if stderr:
            text += f": {stderr}"
        super().__init__(text)


@dataclass
class _Entry:
    lock: threading.Lock = field(default_factory=threading.Lock)  # one run in flight per plugin
    status: dict[str, Any] | None = None
    expires_at: float | None = None  # epoch seconds; None: no expiry given (valid until a 401)
    failure: ExecPluginError | None = None
    failed_at: float = 0.0
    runs: int = 0

    def fresh(self, now: float) -> bool:
        if self.status is None:
            return False
        return self.expires_at is None or now < self.expires_at - EXPIRY_MARGIN


class ExecCredentialCache:
    """Exec plugin answers, per plugin (its command, args, env and directory),
    shared by every client of the process."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self.last_failure: ExecPluginError | None = None

    def _entry(self, key: str) -> _Entry:
        with self._lock:
            return self._entries.setdefault(key, _Entry())

    def get(self, key: str, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """The cached ``status`` while fresh, else one run of the plugin
        (concurrent callers wait for it). Raises ExecPluginError."""
        entry = self._entry(key)
        with entry.lock:
            now = self._clock()
            if entry.fresh(now):
                return entry.status  # type: ignore[return-value]
            if entry.failure is not None and now - entry.failed_at < FAILED_RUN_KEPT:
                raise entry.failure
            entry.runs += 1
            try:
                status = run()
            except ExecPluginError as exc:
                entry.failure, entry.failed_at, entry.status = exc, now, None
                self.last_failure = exc
                raise
            entry.status, entry.failure = status, None
            entry.expires_at = _expiry(status.get("expirationTimestamp"))
            self.last_failure = None
            return status

    def invalidate(self) -> None:
        """Forget every cached credential (after a 401: the server refused it, as client-go does)."""
        with self._lock:
            for entry in self._entries.values():
                entry.status = None
                entry.failure = None


CACHE = ExecCredentialCache()


def last_exec_failure() -> ExecPluginError | None:
    """The failure of the most recent exec plugin run, if it failed."""
    return CACHE.last_failure


def _expiry(value: object) -> float | None:
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def _stderr_line(text: str) -> str:
    flat = " ".join(redact(text).split())
    return flat if len(flat) <= _MAX_STDERR else flat[: _MAX_STDERR - 1] + "…"


def run_exec_plugin(exec_cfg: dict[str, Any], base_path: str, cluster: dict[str, Any] | None) -> dict[str, Any]:
    """Run the plugin once, non-interactively; its ExecCredential ``status``.

    As client-go: ``KUBERNETES_EXEC_INFO`` carries the request (with the
    cluster when ``provideClusterInfo``), ``env`` entries are added to ours, a
    command with a path separator is relative to the kubeconfig's directory.
    Raises ExecPluginError (the plugin's stderr in it, redacted)."""
    command = str(exec_cfg.get("command") or "")
    api_version = str(exec_cfg.get("apiVersion") or "")
    name = os.path.basename(command) or "(none)"
    if not command:
        raise ExecPluginError(name, "the kubeconfig's exec entry names no command")
    if api_version not in API_VERSIONS:
        raise ExecPluginError(name, f"unsupported apiVersion {api_version!r} (want one of {', '.join(API_VERSIONS)})")
    if os.sep in command and not os.path.isabs(command) and base_path:
        command = os.path.join(base_path, command)
    args = [command, *(str(a) for a in exec_cfg.get("args") or [])]
    env = dict(os.environ)
    for item in exec_cfg.get("env") or []:
        if isinstance(item, dict) and item.get("name"):
            env[str(item["name"])] = str(item.get("value", ""))
    info: dict[str, Any] = {"apiVersion": api_version, "kind": "ExecCredential", "spec": {"interactive": False}}
    if exec_cfg.get("provideClusterInfo") and cluster:
        info["spec"]["cluster"] = {k: v for k, v in cluster.items() if k != "extensions"}
    env["KUBERNETES_EXEC_INFO"] = json.dumps(info)
    try:
        proc = subprocess.run(
            args,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=env,
            cwd=base_path or None,
            timeout=PLUGIN_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise ExecPluginError(name, f"command not found ({command})") from None
    except PermissionError:
        raise ExecPluginError(name, f"not executable ({command})") from None
    except subprocess.TimeoutExpired as exc:
        raise ExecPluginError(
            name,
            f"gave no credential within {PLUGIN_TIMEOUT:g} s",
            _stderr_line(exc.stderr.decode("utf-8", "replace") if isinstance(exc.stderr, bytes) else exc.stderr or ""),
        ) from None
    except OSError as exc:
        raise ExecPluginError(name, f"cannot run it: {exc.strerror or type(exc).__name__}") from None
    stderr = _stderr_line(proc.stderr or "")
    if proc.returncode != 0:
        raise ExecPluginError(name, f"exited with status {proc.returncode}", stderr, proc.returncode)
    try:
        doc = json.loads(proc.stdout)
    except ValueError:
        raise ExecPluginError(name, "printed no ExecCredential JSON", stderr) from None
    status = doc.get("status") if isinstance(doc, dict) else None
    if not isinstance(status, dict) or doc.get("kind") != "ExecCredential":
        raise ExecPluginError(name, "printed no ExecCredential (kind and status missing)", stderr)
    if doc.get("apiVersion") != api_version:
        raise ExecPluginError(name, f"answered apiVersion {doc.get('apiVersion')!r}, the kubeconfig asks for {api_version!r}")
    token = status.get("token")
    if isinstance(token, str):
        status = {**status, "token": token.strip()}
        register(status["token"], "kube exec token")
    elif not (status.get("clientCertificateData") and status.get("clientKeyData")):
        raise ExecPluginError(name, "its ExecCredential has neither a token nor a client certificate and key", stderr)
    register(status.get("clientKeyData"), "kube exec client key")
    return status


def _b64_text(data: str) -> str | None:
    """``data`` base64-decoded as text; None when it is no base64 (the kubeconfig's own error then)."""
    try:
        return base64.b64decode(data).decode("utf-8", "replace")
    except ValueError:
        return None


def _register_user(user: dict[str, Any]) -> None:
    """Every credential written in the kubeconfig's user entry."""
    register(user.get("token"), "kube token")
    register(user.get("password"), "kube password")
    key_data = user.get("client-key-data")
    if isinstance(key_data, str):
        register(key_data, "kube client key")
        register(_b64_text(key_data), "kube client key")
    provider = found if isinstance(found := user.get("auth-provider"), dict) else {}
    config = found if isinstance(found := provider.get("config"), dict) else {}
    for name in ("id-token", "refresh-token", "access-token", "client-secret"):
        register(config.get(name), "kube auth-provider token")


_files_lock = threading.Lock()
_written: list[str] = []  # rotated certificate and key files of this process, removed at exit


def _remove_written() -> None:
    with _files_lock:
        for path in _written:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        _written.clear()


def _write_private(data: str, suffix: str) -> str:
    """``data`` in a new 0600 temporary file (removed at exit); its path."""
    fd, path = tempfile.mkstemp(prefix="clay-cockpit-exec-", suffix=suffix)  # 0600
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(data)
    with _files_lock:
        if not _written:
            atexit.register(_remove_written)
        _written.append(path)
    return path


class CertificateRotation:
    """Keeps one ApiClient's client certificate from an exec plugin current
    (see the module docstring): :meth:`install` puts it in front of the
    client's ``rest_client``; :meth:`before_request` runs before each request."""

    def __init__(self, status_of: Callable[[], dict[str, Any]], in_use: dict[str, Any]) -> None:
        self._status_of = status_of  # the cache's answer (a plugin run when it is not fresh); raises ExecPluginError
        self._in_use = in_use  # the ExecCredential status whose certificate the pool presents
        self._lock = threading.Lock()
        self._files: tuple[str, ...] = ()
        self.rotations = 0

    def install(self, api_client: Any) -> None:
        api_client.rest_client = _Rotating(api_client.rest_client, self)

    def before_request(self, pool_manager: Any) -> None:
        try:
            status = self._status_of()
        except ExecPluginError:
            # no new certificate: the one in use goes; once expired the server refuses it (401), the client
            # is rebuilt, the plugin fails again and that failure (its stderr) is what the responder sees
            return
        if status is self._in_use:  # fresh: the cache hands back the same answer
            return
        cert, key = status.get("clientCertificateData"), status.get("clientKeyData")
        with self._lock:
            if status is self._in_use:
                return
            if isinstance(cert, str) and isinstance(key, str) and cert and key:
                files: tuple[str, ...] = (_write_private(cert, ".crt"), _write_private(key, ".key"))
                pool_manager.connection_pool_kw.update(cert_file=files[0], key_file=files[1])
            else:  # the plugin now answers with a token: the request goes without the old certificate, is
                files = ()  # refused (401), and the client is rebuilt from the new answer
                pool_manager.connection_pool_kw.update(cert_file=None, key_file=None)
            pool_manager.clear()  # connections that presented the old certificate close (client-go's connrotation)
            old, self._files, self._in_use = self._files, files, status
            self.rotations += 1
        for path in old:  # read at the handshake: the open connections no longer need them
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


class _Rotating:
    """Stands in for an ApiClient's ``rest_client``: the certificate is made current before each request."""

    def __init__(self, inner: Any, rotation: CertificateRotation) -> None:
        self._inner = inner
        self._rotation = rotation

    def request(self, *args: Any, **kwargs: Any) -> Any:
        self._rotation.before_request(self._inner.pool_manager)
        return self._inner.request(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class CockpitKubeConfigLoader(KubeConfigLoader):
    """The client's loader with kubectl's handling of credentials (see the module docstring)."""

    # the base class (unannotated) sets these to None, then to the context's ConfigNode entries; they are
    # set whenever the methods below run (kubernetes calls them once a user, resp. a cluster, is there)
    _user: Any
    _cluster: Any

    def __init__(self, *args: Any, cache: ExecCredentialCache = CACHE, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]  # kubernetes' kube_config is unannotated
        self._exec_cache = cache
        self._exec_key: str | None = None
        self.rotation: CertificateRotation | None = None  # set when an exec plugin gave a client certificate

    def _load_authentication(self) -> None:
        if self._user:
            _register_user(dict(self._user.value))
        super()._load_authentication()  # type: ignore[no-untyped-call]  # kubernetes' kube_config is unannotated

    def _load_user_token(self) -> bool | None:
        base_path = self._get_base_path(self._user.path)  # type: ignore[no-untyped-call]  # kubernetes' kube_config is unannotated
        token = FileOrData(
            self._user,
            "tokenFile",
            "token",
            file_base_path=base_path,
            base64_file_content=False,  # type: ignore[no-untyped-call]  # as above
            temp_file_path=self._temp_file_path,
        ).as_data()
        token = token.strip() if isinstance(token, str) else token  # client-go trims a token from a file
        if token:
            register(token, "kube token")
            self.token = f"Bearer {token}"
            return True
        return None

    def _exec_status(self) -> dict[str, Any]:
        exec_cfg = dict(self._user["exec"].value)
        base_path = self._get_base_path(self._cluster.path)  # type: ignore[no-untyped-call]  # kubernetes' kube_config is unannotated
        cluster = dict(self._cluster.value) if self._cluster is not None else None
        key = json.dumps([exec_cfg, base_path], sort_keys=True, default=str)
        self._exec_key = key
        return self._exec_cache.get(key, lambda: run_exec_plugin(exec_cfg, base_path, cluster))

    def _load_from_exec_plugin(self) -> bool | None:
        if "exec" not in self._user:
            return None
        status = self._exec_status()  # raises ExecPluginError: the caller shows it
        if status.get("token"):
            self.token = f"Bearer {status['token']}"
            return True
        base_path = self._get_base_path(self._cluster.path)  # type: ignore[no-untyped-call]  # kubernetes' kube_config is unannotated
        self.cert_file = FileOrData(
            status,
            None,
            data_key_name="clientCertificateData",
            file_base_path=base_path,  # type: ignore[no-untyped-call]  # as above
            base64_file_content=False,
            temp_file_path=self._temp_file_path,
        ).as_file()
        self.key_file = FileOrData(
            status,
            None,
            data_key_name="clientKeyData",
            file_base_path=base_path,  # type: ignore[no-untyped-call]  # as above
            base64_file_content=False,
            temp_file_path=self._temp_file_path,
        ).as_file()
        self.rotation = CertificateRotation(self._exec_status, status)
        return True

    def _set_config(self, client_configuration: Any) -> None:
        super()._set_config(client_configuration)  # type: ignore[no-untyped-call]  # kubernetes' kube_config is unannotated
        if self._exec_key is None or "token" not in self.__dict__:
            return

        def refresh(configuration: Any) -> None:
            # called before every request: a dict lookup while the credential is fresh, one plugin run when not
            try:
                status = self._exec_status()
            except ExecPluginError:
                # no credential: the request goes without one, the server refuses it (401/403), and the
                # refusal's hint leads with the plugin's stderr (last_exec_failure)
                configuration.api_key.pop("BearerToken", None)
                return
            if status.get("token"):
                configuration.api_key["BearerToken"] = f"Bearer {status['token']}"

        client_configuration.refresh_api_key_hook = refresh


def load_configuration(kubeconfig: str, context: str, configuration: Any) -> CertificateRotation | None:
    """Fill ``configuration`` (a kubernetes ``Configuration``) from the
    kubeconfig file(s) for ``context``, credentials as kubectl reads them.
    Returns the :class:`CertificateRotation` to :meth:`~CertificateRotation.install`
    on the ApiClient built from it when an exec plugin gave a client
    certificate, else None. Raises ConfigException (ExecPluginError for a
    failing plugin) or OSError."""
    merged = KubeConfigMerger(kubeconfig)  # type: ignore[no-untyped-call]  # kubernetes' kube_config is unannotated
    if merged.config is None:
        raise ConfigException("Invalid kube-config file. No configuration found.")
    loader = CockpitKubeConfigLoader(config_dict=merged.config, active_context=context, config_base_path=None)
    loader.load_and_set(configuration)  # type: ignore[no-untyped-call]  # kubernetes' kube_config is unannotated
    return loader.rotation
