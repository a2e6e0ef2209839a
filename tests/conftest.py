import os

from tests.stack import stack  # noqa: F401  the session-wide deployed stack, for integration and browser tests


def pytest_report_header(config):
    ci = os.environ.get("CI") == "true"
    return f"CI={ci}: " + (
        "a missing prerequisite fails, only Docker-only tests skip" if ci else "missing prerequisites skip"
    )
