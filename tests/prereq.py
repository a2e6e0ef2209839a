"""Skip locally when a prerequisite is missing; in CI (CI=true) fail instead, except for Docker."""

import os

import pytest


def need(condition: bool, reason: str, docker: bool = False) -> None:
    if condition:
        return
    if os.environ.get("CI") == "true" and not docker:
        pytest.fail(f"prerequisite missing in CI: {reason}")
    pytest.skip(reason)
