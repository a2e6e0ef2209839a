"""User story: on a slow phone network the page is there at once (its frame, and a line saying it
is loading, before any script has run), my gallery's grid stands in neutral tiles until my photos
arrive and they take the very same boxes; creating an account I read the password rule before I
type, not after a refusal; a long upload tells me how much is sent and about how long is left, and
a screen reader hears the batch, not its every tick.

Deterministic by holding requests with page.route (the listing, the entry module) rather than by
timing a throttled network; the throttling (Chrome DevTools Protocol, a 3G-like profile) makes the
rest of the page as slow as it would be."""

from __future__ import annotations

import re

import pytest

from tests.browser.page import (
    ARTIFACTS,
    DESKTOP,
    RECORD_ANNOUNCEMENTS,
    axe_violations,
    expect,
    new_page,
    sign_in,
    upload_as,
    wait_for,
    wait_for_cards,
    wait_for_gallery_images,
)
from tests.images import encode, photo

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
# Chrome DevTools' "3G"-like profile: 400 kbit/s each way, 400 ms of latency (bytes per second).
SLOW_3G = {"offline": False, "latency": 400, "downloadThroughput": 50_000, "uploadThroughput": 50_000}
PLACEHOLDERS = "#gallery-placeholders"


def throttle(page, conditions: dict) -> None:
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", conditions)


def hold(page, matches) -> list:
    """The requests `matches` picks, held (route.continue_() sends one on); the rest go."""
    held = []

    def route(route):
        if matches(route.request):
            held.append(route)
        else:
            route.continue_()

    page.route("**/*", route)
    return held


def wait_until_held(page, held: list, count: int = 1) -> None:
    for _ in range(600):
        if len(held) >= count:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"{len(held)} requests held, {count} expected")


def box(page, selector: str) -> dict:
    return page.eval_on_selector(
        selector, "e => { const r = e.getBoundingClientRect(); return {x: r.x, y: r.y, w: r.width, h: r.height}; }"
    )


def test_the_shell_shows_before_any_script_runs(browser, site):
    """With the entry module held, the static markup alone shows the page's frame and says it is
    loading; once the script runs, the sign-in form takes its place. config.json is asked for once:
    the page's preload is the request the script reads."""
    page = new_page(browser, **PHONE)
    try:
        throttle(page, SLOW_3G)
        config_requests = []
        page.on("request", lambda r: r.url.endswith("/config.json") and config_requests.append(r.url))
        held = hold(page, lambda request: request.url.endswith("/js/main.js"))
        page.goto(site, wait_until="commit")
        wait_until_held(page, held)
        expect(page.get_by_role("heading", name="imagepipe", level=1)).to_be_visible()
        expect(page.locator("#starting")).to_be_visible()
        expect(page.locator("#starting")).to_contain_text("Loading…")
        expect(page.locator("#auth")).to_be_hidden()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "shell-3g.png"))

        held[0].continue_()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        expect(page.locator("#starting")).to_be_hidden()
        assert config_requests == [f"{site}/config.json"], config_requests
    finally:
        page.context.close()


def test_the_password_rule_is_there_before_anything_is_typed(page, site, site_config):
    """The pool's rule, from config.json, under the password field from the start and read as the
    field's description; the form passes axe with it."""
    minimum = site_config["auth"]["passwordMinLength"]
    page.goto(site)
    expect(page.get_by_role("button", name="Create account")).to_be_visible()
    password = page.get_by_label("Password")
    assert password.input_value() == ""
    rule = page.locator("#password-rule")
    expect(rule).to_be_visible()
    expect(rule).to_contain_text(f"at least {minimum} characters")
    expect(password).to_have_accessible_description(re.compile(f"at least {minimum} characters"))
    expect(page.locator("#auth-message")).to_be_empty()  # said before, not after, a refusal
    assert axe_violations(page) == []


def test_placeholder_tiles_stand_in_until_the_first_page_arrives(browser, site, site_config, stack, user):
    """On a 3G-like network with the listing held: the gallery heading, neutral tiles (hidden from
    screen readers, the gallery busy) and no photo; the listing answered, the photos take the
    placeholders' very boxes. The same again after a reload, from the stored session."""
    for seed in range(2):  # a page's worth here (GALLERY_PAGE_SIZE=2)
        upload_as(stack, user, encode(photo(640, 480, seed=seed), "JPEG"), f"slow-{seed}.jpg")
    page = new_page(browser, **DESKTOP)
    try:
        throttle(page, SLOW_3G)
        listing = f"{site_config['apiUrl'].rstrip('/')}/images?"
        held = hold(page, lambda r: r.method == "GET" and r.url.startswith(listing))
        for visit, go in enumerate((lambda: sign_in(page, site, user), page.reload)):
            go()
            wait_until_held(page, held, visit + 1)
            expect(page.locator(PLACEHOLDERS)).to_be_visible()
            expect(page.locator(f"{PLACEHOLDERS} > li")).to_have_count(2)
            expect(page.locator(PLACEHOLDERS)).to_have_attribute("aria-hidden", "true")
            expect(page.locator("#gallery")).to_have_attribute("aria-busy", "true")
            expect(page.locator("#gallery-heading")).to_have_text("Gallery")
            expect(page.locator("#gallery li.tile")).to_have_count(0)
            placeheld = box(page, f"{PLACEHOLDERS} > li")
            if visit == 0:
                assert axe_violations(page) == []  # the placeholder grid
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / "placeholders-3g.png"))

            held[visit].continue_()
            wait_for_gallery_images(page, 2)
            expect(page.locator(PLACEHOLDERS)).to_be_hidden()
            expect(page.locator("#gallery")).not_to_have_attribute("aria-busy", "true")
            tile = box(page, "#gallery .tile-button")
            assert all(abs(tile[k] - placeheld[k]) < 1 for k in "xywh"), (placeheld, tile)
    finally:
        page.context.close()


def test_a_long_upload_says_how_long_is_left(browser, site, user, tmp_path):
    """Uploads throttled: the long one's card says what is sent of its size and the time left, the
    summary the batch's; none of it is announced. Screen readers hear the batch: its start, the
    failure by the file's name, its end as "1 of 2 done, 1 failed: notes.jpg."."""
    big, refused = tmp_path / "long-way.jpg", tmp_path / "notes.jpg"
    big.write_bytes(encode(photo(2400, 1800, seed=3), "JPEG", quality=95))  # about 650 KB
    refused.write_bytes(b"Meeting notes, not a photo.\n" * 20)
    page = new_page(browser, **PHONE)
    try:
        sign_in(page, site, user)
        wait_for(page, "document.getElementById('status').textContent.startsWith('Signed in')")
        page.evaluate(RECORD_ANNOUNCEMENTS)
        throttle(page, {"offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": 48_000})
        page.set_input_files("#file-input", [str(big), str(refused)])

        state = page.locator("#uploads .card", has_text="long-way.jpg").locator(".state")
        expect(state).to_have_text(re.compile(r"^\d+(\.\d)? of \d+\.\d KB · (a few seconds|about \d+ s) left$"))
        expect(page.locator("#tray-summary")).to_have_text(re.compile(r"^0 of 2 done( · 1 failed)? · .+ left$"))
        page.screenshot(path=str(ARTIFACTS / "tray-time-left.png"))

        wait_for_cards(page, 2, timeout=120_000)
        expect(page.locator("#tray-summary")).to_have_text("1 of 2 done · 1 failed")  # nothing left to send
        wait_for(page, "window.announced.at(-1)?.includes('of 2 done')")
        announced = page.evaluate("window.announced")
        assert announced[0].startswith("Uploading 2 photos."), announced
        assert announced[-1] == "1 of 2 done, 1 failed: notes.jpg.", announced
        assert any("notes.jpg failed: " in text for text in announced[:-1]), announced  # while the other runs
        assert all("notes.jpg" in text for text in announced[1:]), announced  # what is said of a file names it
        assert not [text for text in announced if "left" in text], announced  # the time left is shown, not said
        assert len(announced) <= 3, announced
    finally:
        page.context.close()
