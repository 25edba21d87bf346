"""cockpit/links.py: the Grafana dashboard link over an incident's range."""

from clay_cockpit.links import dashboard_url, host_of


def test_an_open_incident_runs_to_now_and_a_closed_one_to_its_end_in_milliseconds() -> None:
    assert dashboard_url("https://grafana.example.com/", "clay-sync-overview", 1764389702.5, None) == (
        "https://grafana.example.com/d/clay-sync-overview?from=1764389702500&to=now"
    )
    assert dashboard_url("http://127.0.0.1:3000/grafana", "a b/c", 10.0, 70.25).endswith("/grafana/d/a%20b%2Fc?from=10000&to=70250")


def test_host_of() -> None:
    assert host_of("https://grafana.example.com/d/x?from=1") == "grafana.example.com"
