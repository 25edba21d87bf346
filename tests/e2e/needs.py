"""What an end-to-end test needs from the machine, and what happens when it
is missing: a skip with the reason on a developer's machine, a failure in CI
(``CI=true``), where .ci/run installs all of it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# name → where Debian puts it (sshd is not on a normal user's PATH)
BINARIES = {
    "tmux": "/usr/bin/tmux",
    "prometheus": "/usr/bin/prometheus",
    "sshd": "/usr/sbin/sshd",
    "ssh": "/usr/bin/ssh",
    "ssh-keygen": "/usr/bin/ssh-keygen",
}
PACKAGES = {"tmux": "tmux", "prometheus": "prometheus", "sshd": "openssh-server", "ssh": "openssh-client", "ssh-keygen": "openssh-client"}


def in_ci() -> bool:
    return os.environ.get("CI") == "true"


def missing(reason: str) -> None:
    if in_ci():
        pytest.fail(f"{reason} (required in CI: .ci/run installs it)", pytrace=False)
    pytest.skip(reason)


def binary(name: str) -> str:
    """The path of a needed program, or skip (fail in CI)."""
    found = shutil.which(name)
    if found is None and Path(BINARIES[name]).is_file():
        found = BINARIES[name]
    if found is None:
        missing(f"{name} not found (Debian package {PACKAGES[name]}: apt-get install {PACKAGES[name]})")
    return found  # type: ignore[return-value]


def root() -> None:
    """sshd must run as root to log a user in (as it does in CI)."""
    if os.geteuid() != 0:
        missing("the SSH tests start sshd, which needs root")
