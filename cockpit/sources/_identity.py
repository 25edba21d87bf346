"""How the cockpit names itself to every server it calls, so audit and access
logs tell its requests apart: ``User-Agent: clay-cockpit/<version>`` on every
HTTP request (httpx, slack-sdk, prometheus-api-client's requests session, the
kubernetes ApiClient, the pagerduty client, grafana-client), and ``fieldManager=clay-cockpit`` on every Kubernetes
write (the field manager in ``metadata.managedFields`` and the audit log).

Standard library only; the version is read once, lazily (importing
``importlib.metadata`` costs milliseconds the demo's first frame does not have).
"""

from __future__ import annotations

import functools
from typing import Any

APP_NAME = "clay-cockpit"
FIELD_MANAGER = APP_NAME  # every Kubernetes write: patch, create, update (replace)

# the generated kubernetes API methods that write, and so take ``field_manager``
WRITE_PREFIXES = ("patch_", "create_", "replace_")


@functools.cache
def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version(APP_NAME)
    except PackageNotFoundError:  # a checkout that was never installed
        return "0+unknown"


def user_agent() -> str:
    """``clay-cockpit/<version>``."""
    return f"{APP_NAME}/{version()}"


def headers() -> dict[str, str]:
    """The headers every HTTP client of ours starts with."""
    return {"User-Agent": user_agent()}


def with_field_manager(method: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` for a kubernetes API ``method`` with ``field_manager`` set
    when the method writes (an explicit one is kept)."""
    if method.startswith(WRITE_PREFIXES) and "field_manager" not in kwargs:
        return {**kwargs, "field_manager": FIELD_MANAGER}
    return kwargs
