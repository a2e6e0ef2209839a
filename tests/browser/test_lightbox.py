"""User story: a photo opens full-screen on dark, as large as the screen allows in the rendition
that fits it; I step through my photos in the gallery's order with the arrow keys, the buttons or a
swipe, read its details in a panel I can hide, download or delete it there; Esc or a click outside
the photo closes it and I am back on the tile."""

from __future__ import annotations

import pytest

from tests.browser.page import (
    ARTIFACTS,
    DESKTOP,
    PHONE,
    axe_violations,
    expect,
    new_page,
    new_user,
    path_of,
    set_undo_delay,
    sign_in,
    tile_ids,
    upload_as,
    wait_for,
    wait_for_gallery_images,
    wait_gone,
)
from tests.images import encode, photo

pytestmark = pytest.mark.browser

SHOWN = "document.getElementById('viewer-image')"


@pytest.fixture(scope="module")
def album(stack):
    """A person with three landscape photos larger than any screen here (their largest rendition
    1920 px wide), only looked at by the tests that use it."""
    person = new_user(stack, "album")
    for seed in range(3):
        image = upload_as(stack, person, encode(photo(2400, 1800, seed=seed), "JPEG", quality=90), f"album-{seed}.jpg")
        assert image["status"] == "processed", image
    return person


def open_gallery(page, site, user, count: int) -> list[str]:
    """Signed in, every page of the gallery loaded ("Load more": two a page here): its order."""
    sign_in(page, site, user)
    wait_for(page, "document.querySelectorAll('#gallery li.tile').length > 0")  # the first page is in
    # Counted before the click: the next page may be in before a count taken after it.
    while (shown := len(tile_ids(page))) < count:
        page.get_by_role("button", name="Load more").click()
        wait_for(page, f"document.querySelectorAll('#gallery li.tile').length > {shown}")
    wait_for_gallery_images(page, count)
    return tile_ids(page)


def tile(page, image_id: str):
    return page.locator(f"#gallery li.tile[data-id='{image_id}'] button")


def shown_id(page) -> str | None:
    return page.evaluate(f"{SHOWN}?.dataset.id ?? null")


def wait_shown(page, image_id: str) -> None:
    """The lightbox shows this photo, loaded, at rest (the transition over)."""
    wait_for(page, f"{SHOWN}?.dataset.id === '{image_id}' && {SHOWN}.complete && {SHOWN}.naturalWidth > 0")
    previous = None
    while (box := page.evaluate(f"JSON.stringify({SHOWN}.getBoundingClientRect())")) != previous:
        previous = box
        page.wait_for_timeout(150)


def photo_share(page) -> tuple[float, float]:
    """How much of the screen's width and height the photo's box covers."""
    return page.evaluate(
        f"(() => {{ const r = {SHOWN}.getBoundingClientRect();"
        " return [r.width / document.documentElement.clientWidth, r.height / window.innerHeight]; })()"
    )


def assert_largest_rendition_that_fits(page, stack, user, image_id: str) -> None:
    """The file the browser took is the AVIF of the smallest width at least as wide as the photo is
    shown (in device pixels): the largest that fits, not the 1920 px one on a 1x screen."""
    image = user.http.get(f"{stack.api}/images/{image_id}").json()
    avif = {path_of(s["url"]): s["width"] for r in image["renditions"].values() for s in r["sources"]}
    avif = {p: w for p, w in avif.items() if p.endswith(".avif")}
    current, shown, density = page.evaluate(
        f"[{SHOWN}.currentSrc, {SHOWN}.getBoundingClientRect().width, window.devicePixelRatio]"
    )
    assert path_of(current) in avif, current
    needed = round(shown * density)
    width = avif[path_of(current)]
    assert width >= needed and not [w for w in avif.values() if needed <= w < width], (width, needed)


def test_on_a_desktop_the_photo_fills_the_screen_and_the_arrow_keys_step_in_the_gallery_s_order(
    browser, site, stack, album
):
    page = new_page(browser, **DESKTOP)
    order = open_gallery(page, site, album, 3)
    tile(page, order[0]).click()
    dialog = page.locator("#viewer")
    dialog.wait_for(state="visible")
    wait_shown(page, order[0])
    width, height = photo_share(page)
    assert width >= 0.8 or height >= 0.8, (width, height)  # beside the details panel, even so
    assert_largest_rendition_that_fits(page, stack, album, order[0])
    expect(page.locator("#viewer-title")).to_have_text("album-2.jpg")  # the newest first: the details are its
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "lightbox-desktop.png"))

    for expected, key in ((order[1], "ArrowRight"), (order[2], "ArrowRight"), (order[2], "ArrowRight")):
        page.keyboard.press(key)  # the last one stays: no wrapping round to the first
        wait_shown(page, expected)
        expect(page.locator("#viewer-title")).to_have_text(f"album-{2 - order.index(expected)}.jpg")
    page.keyboard.press("ArrowLeft")
    wait_shown(page, order[1])
    page.get_by_role("button", name="Previous photo").click()
    wait_shown(page, order[0])
    expect(page.get_by_role("button", name="Previous photo")).to_be_hidden()  # nothing before the first
    page.get_by_role("button", name="Next photo").click()
    wait_shown(page, order[1])

    # The details panel hides, and the photo takes the room it leaves.
    details = page.get_by_role("button", name="Details")
    expect(details).to_have_attribute("aria-expanded", "true")
    beside = photo_share(page)
    details.click()
    expect(page.locator("#viewer-panel")).to_be_hidden()
    expect(details).to_have_attribute("aria-expanded", "false")
    wait_shown(page, order[1])
    alone = photo_share(page)
    assert alone[0] > beside[0] and alone[1] > beside[1] and alone[1] >= 0.95, (beside, alone)
    details.click()
    expect(page.locator("#viewer-panel")).to_be_visible()

    # Closed on another photo than the one that opened it: the focus is on that photo's tile.
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    assert page.evaluate("document.activeElement.closest('#gallery li.tile')?.dataset.id") == order[1]
    page.context.close()


def test_stepping_on_from_the_last_photo_loaded_brings_the_gallery_s_next_page(browser, site, stack, album):
    """Two photos a page here: from the first page's photos the arrow keys go on to the third one,
    which the gallery loads on its way, with no click on "Load more"."""
    everything = album.http.get(f"{stack.api}/images").json()["items"]
    listed = [image["id"] for image in everything]
    page = new_page(browser, **DESKTOP)
    sign_in(page, site, album)
    wait_for(page, "document.querySelectorAll('#gallery li.tile img').length === 2")
    assert tile_ids(page) == listed[:2]  # only the first page is in
    tile(page, listed[0]).click()
    wait_shown(page, listed[0])
    for image_id in listed[1:]:
        page.keyboard.press("ArrowRight")
        wait_shown(page, image_id)
    assert tile_ids(page) == listed  # the gallery has the page the lightbox asked for
    expect(page.locator(".pswp__button--arrow--next")).to_be_disabled()  # the last photo of all
    page.context.close()


def test_esc_closes_and_the_focus_is_back_on_the_tile(browser, site, album):
    page = new_page(browser, **DESKTOP)
    order = open_gallery(page, site, album, 3)
    tile(page, order[2]).focus()
    page.keyboard.press("Enter")
    page.locator("#viewer").wait_for(state="visible")
    wait_shown(page, order[2])
    assert page.evaluate("document.getElementById('viewer').contains(document.activeElement)")
    page.keyboard.press("Escape")
    page.locator("#viewer").wait_for(state="hidden")
    assert page.evaluate("document.activeElement.closest('#gallery li.tile')?.dataset.id") == order[2]
    page.context.close()


def test_a_click_outside_the_photo_closes(browser, site, album):
    page = new_page(browser, **DESKTOP)
    order = open_gallery(page, site, album, 3)
    tile(page, order[1]).click()
    wait_shown(page, order[1])
    photo = page.evaluate(f"JSON.parse(JSON.stringify({SHOWN}.getBoundingClientRect()))")
    below = (photo["left"] + photo["right"]) / 2, (photo["bottom"] + 800) / 2  # under the photo, on the dark
    assert photo["bottom"] < below[1] < 800, photo
    page.mouse.click(*below)
    page.locator("#viewer").wait_for(state="hidden")
    assert page.evaluate("document.activeElement.closest('#gallery li.tile')?.dataset.id") == order[1]
    page.context.close()


def swipe(page, cdp, from_x: float, to_x: float, y: float) -> None:
    """A finger across the screen, as the phone's touch screen reports it."""
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": from_x, "y": y}]})
    for step in range(1, 11):
        x = from_x + (to_x - from_x) * step / 10
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
        page.wait_for_timeout(16)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def test_on_a_phone_the_photo_fills_the_screen_and_a_swipe_steps(browser, site, stack, album):
    page = new_page(browser, **PHONE)
    order = open_gallery(page, site, album, 3)
    tile(page, order[0]).tap()
    page.locator("#viewer").wait_for(state="visible")
    wait_shown(page, order[0])
    expect(page.locator("#viewer-panel")).to_be_hidden()  # it would cover the photo: hidden until asked for
    width, height = photo_share(page)
    assert width >= 0.8 or height >= 0.8, (width, height)
    assert_largest_rendition_that_fits(page, stack, album, order[0])  # a 3x screen: the 1920 px file
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "lightbox-phone.png"))

    cdp = page.context.new_cdp_session(page)
    swipe(page, cdp, 330, 60, 422)  # right to left: the next photo
    wait_shown(page, order[1])
    swipe(page, cdp, 330, 60, 422)
    wait_shown(page, order[2])
    swipe(page, cdp, 60, 330, 422)  # left to right: back
    wait_shown(page, order[1])

    # The details, under the photo: the photo fits the rest of the screen.
    page.get_by_role("button", name="Details").tap()
    expect(page.locator("#viewer-panel")).to_be_visible()
    expect(page.locator("#viewer-title")).to_have_text("album-1.jpg")
    wait_shown(page, order[1])
    panel_top = page.locator("#viewer-panel").bounding_box()["y"]
    assert page.evaluate(f"{SHOWN}.getBoundingClientRect().bottom") <= panel_top + 1
    page.screenshot(path=str(ARTIFACTS / "lightbox-phone-details.png"))
    page.get_by_role("button", name="Details").tap()
    expect(page.locator("#viewer-panel")).to_be_hidden()

    # A tap on the dark outside the photo closes.
    photo = page.evaluate(f"JSON.parse(JSON.stringify({SHOWN}.getBoundingClientRect()))")
    assert photo["bottom"] < 780, photo
    page.touchscreen.tap(195, (photo["bottom"] + 844) / 2)
    page.locator("#viewer").wait_for(state="hidden")
    page.context.close()


def test_the_open_lightbox_passes_an_accessibility_audit(browser, site, album):
    for options in (DESKTOP, PHONE):
        page = new_page(browser, **options)
        order = open_gallery(page, site, album, 3)
        tile(page, order[1]).click()
        wait_shown(page, order[1])
        assert axe_violations(page) == []
        page.context.close()


def test_a_photo_whose_url_went_stale_is_asked_for_again_and_shows(browser, site, stack, album):
    """A tab left open past its URLs' lifetime: the lightbox's first file fails; the page asks the
    API for that image again and the lightbox shows it."""
    page = new_page(browser, **DESKTOP)
    order = open_gallery(page, site, album, 3)
    failed, asked_again = [], []

    def expire_once(route):
        if failed:
            return route.continue_()
        failed.append(path_of(route.request.url))
        route.fulfill(status=403, content_type="application/xml", body="<Error><Code>AccessDenied</Code></Error>")

    page.route(f"{stack.endpoint}/{stack.outputs['processedBucket']}/**", expire_once)
    page.on("request", lambda r: asked_again.append(r.url.rsplit("/", 1)[1]) if "/images/" in r.url else None)
    tile(page, order[0]).click()
    wait_shown(page, order[0])
    assert failed, "the lightbox asked for no file"
    stale = failed[0].split("/")[2]  # /<bucket>/<image id>/...
    wait_for(page, f"document.querySelector(\"img.pswp__img[data-id='{stale}']\")?.naturalWidth > 0")
    assert stale in asked_again, (stale, asked_again)
    page.context.close()


def test_without_photoswipe_the_details_still_open(browser, site, album):
    """PhotoSwipe missing (not vendored, or it failed to load): a tile still opens the photo's
    details, download and delete; Esc closes them."""
    page = new_page(browser, **DESKTOP)
    page.route("**/vendor/photoswipe*", lambda route: route.fulfill(status=404, body=""))
    order = open_gallery(page, site, album, 3)
    tile(page, order[0]).click()
    expect(page.locator("#viewer-panel")).to_be_visible()
    expect(page.locator("#viewer-title")).to_have_text("album-2.jpg")
    expect(page.get_by_role("link", name="Download original")).to_be_visible()
    assert page.locator(".pswp").count() == 0
    page.keyboard.press("Escape")
    page.locator("#viewer").wait_for(state="hidden")
    assert page.evaluate("document.activeElement.closest('#gallery li.tile')?.dataset.id") == order[0]
    page.context.close()


def test_download_and_delete_from_the_lightbox(browser, site, stack, user):
    """Download is the photo on screen's original; Delete removes it (no dialog asks; its request
    goes when the Undo's delay is over) and shows the next one; the last one deleted closes the
    lightbox, and the focus goes to the nearest tile left."""
    for seed in range(3):
        upload_as(stack, user, encode(photo(1600, 1200, seed=seed), "JPEG", quality=90), f"keep-{seed}.jpg")
    page = new_page(browser, **DESKTOP)
    order = open_gallery(page, site, user, 3)
    set_undo_delay(page, 300)
    tile(page, order[1]).click()
    wait_shown(page, order[1])
    original = user.http.get(f"{stack.api}/images/{order[1]}").json()["original"]["url"]
    download = page.get_by_role("link", name="Download original")
    assert path_of(download.get_attribute("href")) == path_of(original)

    page.get_by_role("button", name="Delete").click()
    wait_shown(page, order[2])  # the next one in its place
    page.wait_for_selector(f"#gallery li.tile[data-id='{order[1]}']", state="detached")
    wait_gone(user.http, f"{stack.api}/images/{order[1]}")
    expect(page.locator(".pswp__counter")).to_have_text("2 / 2")
    page.keyboard.press("ArrowLeft")
    wait_shown(page, order[0])  # its neighbours are the gallery's still
    page.keyboard.press("ArrowRight")
    wait_shown(page, order[2])

    page.get_by_role("button", name="Delete").click()  # the last: nothing after it
    page.locator("#viewer").wait_for(state="hidden")
    assert tile_ids(page) == [order[0]]
    assert page.evaluate("document.activeElement.closest('#gallery li.tile')?.dataset.id") == order[0]
    page.context.close()
