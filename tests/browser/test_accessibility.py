"""User story: the gallery works for everyone: axe-core finds nothing in each state, the keyboard
opens and closes the preview, and at phone width nothing scrolls sideways."""

from __future__ import annotations

import pytest

from tests.browser.page import ARTIFACTS, axe_violations, expect, new_page, sign_in, upload_as, wait_for, wait_for_cards
from tests.images import phone_jpeg

pytestmark = pytest.mark.browser


def test_page_passes_an_accessibility_audit_in_each_state(page, site, user, tmp_path):
    """axe-core finds nothing on the gallery with a processed and a failed card, nor in the
    open preview; closing the preview gives the focus back to the tile that opened it.
    (The sign-in screen has its own audit: test_sign_in.py.)"""
    good, bad = tmp_path / "audit.jpg", tmp_path / "audit-notes.jpg"
    good.write_bytes(phone_jpeg(800, 600))
    bad.write_bytes(b"not a photo\n" * 50)
    sign_in(page, site, user)
    expect(page.locator("#gallery-empty")).to_be_visible()
    assert axe_violations(page) == []
    page.set_input_files("#file-input", [str(good), str(bad)])
    wait_for_cards(page, 2, timeout=60_000)
    wait_for(page, "document.querySelectorAll('#gallery li.tile').length > 0")
    assert axe_violations(page) == []

    opener = page.locator("#gallery li.tile .tile-button").first  # a photo's, not the failed tile's Delete
    opener.focus()
    page.keyboard.press("Enter")
    page.locator("#viewer").wait_for(state="visible")
    wait_for(page, "document.getElementById('viewer-image')?.complete")
    assert axe_violations(page) == []
    assert page.evaluate("document.getElementById('viewer').contains(document.activeElement)")
    page.keyboard.press("Escape")
    page.locator("#viewer").wait_for(state="hidden")
    assert page.evaluate("document.activeElement.closest('#gallery li.tile') !== null")


def test_phone_width(browser, site, stack, user):
    upload_as(stack, user, phone_jpeg(900, 600), "phone.jpg")
    page = new_page(browser, viewport={"width": 390, "height": 844}, is_mobile=True)
    sign_in(page, site, user)
    wait_for(page, "document.querySelectorAll('#gallery li.tile').length > 0")
    wait_for(page, "[...document.querySelectorAll('#gallery img')].every(i => i.complete)")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scrolling
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "phone.png"), full_page=True)
    page.context.close()
