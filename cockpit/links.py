"""Links a responder opens elsewhere: a Grafana dashboard over the incident's
time range (issue 16). Pure standard library: the error-rates pane, the
pages view and the postmortem build the same URL from the config alone,
without asking Grafana (``sources.grafana.Grafana.dashboard_links`` asks it
for each dashboard's title and canonical path)."""

from __future__ import annotations

from urllib.parse import quote, urlsplit


def dashboard_url(base_url: str, uid: str, start: float, end: float | None) -> str:
    """``{base}/d/{uid}?from=<ms>&to=<ms or now>``: Grafana opens a dashboard
    by uid alone (it redirects to the slugged path), over the incident's
    range; ``end`` None (the incident is open) is ``to=now``."""
    base = base_url.rstrip("/")
    to = "now" if end is None else str(int(end * 1000))
    return f"{base}/d/{quote(uid, safe='')}?from={int(start * 1000)}&to={to}"


def host_of(url: str) -> str:
    """``grafana.example.com`` of a URL (for a line that has no room for the whole link)."""
    return urlsplit(url).netloc or url
