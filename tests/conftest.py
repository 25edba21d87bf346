"""Shared fixtures: drills (the simulator in a background thread).

- ``sim`` — a fresh drill per test, frozen clock (moved with
  ``sim.advance(seconds)``), fixed seed. Choose the scenario with
  ``@pytest.mark.scenario("key-revoked")``; options as keywords:
  ``@pytest.mark.scenario("clay-outage", speed=10, frozen=False, seed=3)``.
- ``shared_sim`` — one healthy drill per test session (per xdist worker),
  for tests that only read.
"""

from __future__ import annotations

import pytest

FROZEN_AT = 1_767_225_600.0  # 2026-01-01T00:00:00Z
SEED = 7


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "scenario(name, *, speed=1.0, frozen=True, seed=7): which drill scenario the `sim` fixture starts")


def _start(name: str, *, speed: float = 1.0, frozen: bool = True, seed: int = SEED, tmp_path=None):
    from clay_cockpit.sim.background import start_background

    return start_background(name, speed=speed, seed=seed, freeze_at=FROZEN_AT if frozen else None, workdir=tmp_path)


@pytest.fixture
def sim(request: pytest.FixtureRequest, tmp_path):
    marker = request.node.get_closest_marker("scenario")
    name = marker.args[0] if marker and marker.args else getattr(request, "param", "healthy")
    kwargs = dict(marker.kwargs) if marker else {}
    handle = _start(name, tmp_path=tmp_path, **kwargs)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="session")
def shared_sim(tmp_path_factory):
    handle = _start("healthy", tmp_path=tmp_path_factory.mktemp("shared-drill"))
    try:
        yield handle
    finally:
        handle.stop()
