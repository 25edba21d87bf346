"""clay_cockpit.sources.grafana against the drill's Grafana, with grafana-client (issue 16)."""

from __future__ import annotations

from clay_cockpit.config import config_from_toml
from clay_cockpit.signals import ErrorKind, SourceError
from clay_cockpit.sim import wiring
from clay_cockpit.sources import Sources
from clay_cockpit.sources.grafana import Grafana


def _source(sim) -> Grafana:
    source = Sources(config_from_toml(sim.config_dict(), "drill.toml")).grafana
    assert isinstance(source, Grafana)
    source._environ = sim.env()
    return source


def test_annotate_every_dashboard_and_links(sim) -> None:
    g = _source(sim)
    ids = g.annotate("declared P1", ("clay-cockpit", "INC-7"), 1_767_225_600.0)
    assert isinstance(ids, tuple) and len(ids) == len(wiring.GRAFANA_DASHBOARDS)
    got = sim.grafana()["annotations"]
    assert {a["dashboardUID"] for a in got} == {uid for uid, _ in wiring.GRAFANA_DASHBOARDS}
    assert all(a["tags"] == ["clay-cockpit", "INC-7"] and a["time"] == 1_767_225_600_000 for a in got)
    links = g.dashboard_links(1_767_225_600.0, None)
    assert not isinstance(links, SourceError)
    title, url = links[0]
    assert title == wiring.GRAFANA_DASHBOARDS[0][1]
    assert url == f"{sim.endpoints['grafana']}/d/clay-sync-overview/clay-sync-overview?from=1767225600000&to=now"
    closed = g.dashboard_links(1_767_225_600.0, 1_767_229_200.0)
    assert not isinstance(closed, SourceError) and closed[0][1].endswith("&to=1767229200000")


def test_failures_are_named(sim) -> None:
    g = _source(sim)
    sim.grafana("revoke_token")
    err = g.annotate("x", (), 1.0)
    assert isinstance(err, SourceError) and err.kind is ErrorKind.AUTH_EXPIRED and sim.tokens.grafana not in err.message + err.hint
    sim.grafana("restore")
    sim.stop_service("grafana")
    err = g.annotate("x", (), 1.0)
    assert isinstance(err, SourceError) and err.kind is ErrorKind.UNREACHABLE
    sim.start_service("grafana")
    assert not isinstance(g.health(), SourceError)
