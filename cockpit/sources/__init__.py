"""Adapters to outside systems: the only code that does network I/O.

The contract every source keeps (tests hold them to it):

- A call returns its snapshot type from :mod:`clay_cockpit.signals` or a
  :class:`~clay_cockpit.signals.SourceError`. It never raises into the caller, and
  every network call in it has a timeout.
- Messages and hints never contain a secret.
- ``statuspage`` and ``health`` are async (httpx.AsyncClient); ``metrics`` and
  ``kube`` are blocking (prometheus-api-client, kubernetes) and are called
  from thread workers.

:class:`Sources` is lazy: constructing it imports no HTTP or Kubernetes
client, so the first frame is not delayed; each source module is imported and
its client built on first use, which the app does from a worker.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from clay_cockpit.config import Config
    from clay_cockpit.signals import (
        HealthSnapshot,
        InfraSnapshot,
        KubeEvent,
        LogLine,
        MetricsSnapshot,
        PodsSnapshot,
        SourceError,
        StatusPageSnapshot,
    )
    from clay_cockpit.sources.grafana import Grafana
    from clay_cockpit.sources.kube_incident import SharedIncidents
    from clay_cockpit.sources.pagerduty import PagerDuty


@runtime_checkable
class StatusPageSource(Protocol):
    name: str

    async def fetch(self) -> StatusPageSnapshot | SourceError:
        """Page indicator, every component, unresolved incidents."""


@runtime_checkable
class HealthSource(Protocol):
    name: str

    async def fetch(self) -> HealthSnapshot | SourceError:
        """Our endpoint's overall status and per-check details."""


@runtime_checkable
class MetricsSource(Protocol):
    name: str

    def fetch(self) -> MetricsSnapshot | SourceError:
        """Blocking. Instant + range values of every configured query,
        from the primary Prometheus or the first backup that answers."""


LogBatchSink = Callable[[tuple["LogLine", ...]], None]
LogErrorSink = Callable[["SourceError | None"], None]


@runtime_checkable
class KubeSource(Protocol):
    name: str

    def list_pods(self) -> PodsSnapshot | SourceError:
        """Blocking. Pods of the configured selector."""

    def follow_logs(
        self,
        on_batch: LogBatchSink,
        on_error: LogErrorSink,
        stop: threading.Event,
        flush_interval: float = 0.25,
    ) -> None:
        """Blocking: follow the merged logs of the selector's pods until
        ``stop`` is set. Pods that appear join, pods that go leave. Lines are
        delivered in batches, at most one batch per ``flush_interval``;
        ``on_error`` reports a failure (and ``None`` on recovery). Buffers are
        bounded. Never raises."""


EventsSink = Callable[[tuple["KubeEvent", ...], float], object]  # (events, watched since)


@runtime_checkable
class InfraSource(Protocol):
    name: str

    def fetch(self) -> InfraSnapshot | SourceError:
        """Blocking. Nodes of our pods, rollout history and changes (its
        ``events`` empty: they come from :meth:`follow_events`)."""

    def follow_events(
        self, on_events: EventsSink, on_error: LogErrorSink, stop: threading.Event, on_node_error: LogErrorSink | None = None
    ) -> None:
        """Blocking: list the namespace's Warning events, then watch them until
        ``stop`` is set; ``on_events`` gets every deduplicated set (unfiltered:
        :func:`clay_cockpit.sources.kube_events.ours` keeps ours), ``on_error``
        a failure (``None`` on recovery). With ``on_node_error``, the node
        events of ``default`` are watched too, merged into the same sets, their
        failures reported there. Bounded. Never raises."""


class Sources:
    """The four live sources for one config, built lazily on first use."""

    # issue 15: kube.watch_pods().next_async(stop, heartbeat) and infra.next_async(stop, heartbeat) wait until the
    # pods, or the deployment and its ReplicaSets, changed (listed once, then watched until ``stop``), else for
    # ``heartbeat`` seconds; clay_cockpit.live polls them so (a source without them is polled by list_pods / fetch)
    watches = True

    def __init__(self, config: Config, *, environ: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.environ = environ  # where PagerDuty's and Grafana's tokens are read (None: os.environ)
        self._lock = threading.Lock()
        self._built: dict[str, object] = {}

    def _get(self, name: str, factory: Callable[[], object]) -> object:
        with self._lock:
            if name not in self._built:
                self._built[name] = factory()
            return self._built[name]

    @property
    def statuspage(self) -> StatusPageSource:
        def make() -> StatusPageSource:
            from clay_cockpit.sources.statuspage import StatusPage

            return StatusPage(self.config.statuspage)

        return self._get("statuspage", make)  # type: ignore[return-value]

    @property
    def health(self) -> HealthSource:
        def make() -> HealthSource:
            from clay_cockpit.sources.health import Health

            return Health(self.config.health)

        return self._get("health", make)  # type: ignore[return-value]

    @property
    def metrics(self) -> MetricsSource:
        def make() -> MetricsSource:
            from clay_cockpit.sources.metrics import Metrics

            return Metrics(self.config.metrics)

        return self._get("metrics", make)  # type: ignore[return-value]

    @property
    def kube(self) -> KubeSource:
        def make() -> KubeSource:
            from clay_cockpit.sources.kube import Kube

            return Kube(self.config.kube)

        return self._get("kube", make)  # type: ignore[return-value]

    @property
    def shared_incidents(self) -> SharedIncidents:
        """The shared incident's objects in the cluster (issue 17), through the Kubernetes client. Built on first use."""

        kube = self.kube  # (outside make: _get's lock is not re-entrant)

        def make() -> SharedIncidents:
            from clay_cockpit.sources.kube import Kube
            from clay_cockpit.sources.kube_incident import SharedIncidents

            return SharedIncidents(kube if isinstance(kube, Kube) else Kube(self.config.kube))

        return self._get("shared_incidents", make)  # type: ignore[return-value]

    @property
    def pagerduty(self) -> PagerDuty | None:
        """PagerDuty (issue 16); None when ``pagerduty.enabled`` is false. Built on first use (from a worker)."""
        if not self.config.pagerduty.enabled:
            return None

        def make() -> PagerDuty:
            from clay_cockpit.sources.pagerduty import PagerDuty

            return PagerDuty(self.config.pagerduty, environ=self.environ)

        return self._get("pagerduty", make)  # type: ignore[return-value]

    @property
    def grafana(self) -> Grafana | None:
        """Grafana (issue 16); None when ``grafana.enabled`` is false. Built on first use (from a worker)."""
        if not self.config.grafana.enabled:
            return None

        def make() -> Grafana:
            from clay_cockpit.sources.grafana import Grafana

            return Grafana(self.config.grafana, environ=self.environ)

        return self._get("grafana", make)  # type: ignore[return-value]

    @property
    def infra(self) -> InfraSource:
        """Events, nodes and what changed (issue 14), through the kube source's kubeconfig handling."""

        kube = self.kube  # asked before _get takes the lock (it is not re-entrant)

        def make() -> InfraSource:
            from clay_cockpit.sources.kube_infra import Infra

            return Infra(kube)  # type: ignore[arg-type]

        return self._get("infra", make)  # type: ignore[return-value]
