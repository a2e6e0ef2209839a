"""The browser tier's fixtures: one devserver and one Chromium for the whole of tests/browser
(package scope: started once, stopped when its last test is done), a fresh tab and a fresh person
for each test, and no CSP refusal in any test.

Playwright drives Debian's Chromium (/usr/bin/chromium); Playwright's own browser download
cannot work on this machine. The devserver serves the page against the test stack, whose
user pool (the emulator's Cognito) the page signs in with."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import requests

from bootstrap.local import start_devserver, stop_pid
from tests.browser.page import CSP_REFUSALS, User, new_page, new_user
from tests.prereq import need

CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")


@pytest.fixture(scope="package")
def site(stack):
    """The devserver on the site origin the stack's CORS rules name, with 2 images a page."""
    port = int(stack.site_url.rsplit(":", 1)[1])
    proc = start_devserver(
        port, stack.state, stack.state / "logs" / "devserver.log", extra_env={"GALLERY_PAGE_SIZE": "2"}
    )
    try:
        yield stack.site_url
    finally:
        stop_pid(proc.pid)


@pytest.fixture(scope="package")
def site_config(site) -> dict:
    """What the page reads: the API, and the user pool it signs in with."""
    return requests.get(f"{site}/config.json", timeout=10).json()


@pytest.fixture(scope="package")
def browser():
    need(Path(CHROMIUM).exists(), f"Chromium not found at {CHROMIUM}; `apt-get install chromium` (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def no_csp_refusals():
    """The page works under its CSP (bootstrap/site.py, sent by the devserver): whatever a test
    does, Chromium refuses nothing the page asks for."""
    CSP_REFUSALS.clear()
    yield
    assert CSP_REFUSALS == [], CSP_REFUSALS


@pytest.fixture
def page(browser):
    page = new_page(browser)
    yield page
    page.context.close()


@pytest.fixture
def user(stack) -> User:
    """A person of their own for each test: their gallery holds only what the test made."""
    return new_user(stack)
