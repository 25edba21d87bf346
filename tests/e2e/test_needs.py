"""The rule every e2e test follows for the programs it needs: skip with the
reason on a developer's machine, fail in CI (CI=true)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from . import needs


@pytest.fixture
def nothing_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(Path, "is_file", lambda self: False)


def test_missing_binary_skips_with_the_package_to_install(nothing_installed, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"sshd not found \(Debian package openssh-server"):
        needs.binary("sshd")


def test_missing_binary_fails_in_ci(nothing_installed, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"prometheus not found .*required in CI"):
        needs.binary("prometheus")


def test_binary_off_path_is_found_where_debian_puts_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(Path, "is_file", lambda self: str(self) == "/usr/sbin/sshd")
    assert needs.binary("sshd") == "/usr/sbin/sshd"


@pytest.mark.parametrize(("ci", "outcome"), [("true", pytest.fail.Exception), ("", pytest.skip.Exception)])
def test_not_root_for_sshd(ci: str, outcome: type[BaseException], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", ci)
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    with pytest.raises(outcome, match="needs root"):
        needs.root()
