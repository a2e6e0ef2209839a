"""The page's screenshots in docs/page.md: each view at a desktop's 1280x800 and a phone's 390x844,
into docs/screenshots/<view>-<size>.png, as small PNGs (a palette of at most 256 colours, each
file under SCREENSHOT_BYTES).

Opt-in, never part of `make test`: `make screenshots` sets IMAGEPIPE_SCREENSHOTS=1 and runs this
file on a stack of its own. A view the page does not have (yet) is left out with a note, not
failed: the views are captured as the page has them. Nothing here asserts the page's behaviour;
the other browser tests do."""

from __future__ import annotations

import io
import os
import re
import uuid
import warnings

import pytest
from PIL import ExifTags, Image

from bootstrap.package import ROOT
from tests.browser.page import (
    User,
    expect,
    new_page,
    new_user,
    sign_in,
    upload_as,
    wait_for,
    wait_for_cards,
    wait_for_gallery_images,
)
from tests.images import encode, photo

OPT_IN = "IMAGEPIPE_SCREENSHOTS"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.environ.get(OPT_IN), reason=f"opt-in: make screenshots ({OPT_IN}=1)"),
]

SCREENSHOTS = ROOT / "docs" / "screenshots"
SCREENSHOT_BYTES = 150_000
SIZES = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
}
# The album: when each photo was taken (the camera's clock), so the gallery has days to show.
TAKEN = ["2019:06:14 18:30:00", "2019:06:14 18:42:10", "2019:06:15 09:05:00", "2023:08:02 12:00:00", None, None]
REFUSED = "notes.jpg"  # a text file with a photo's name: the failed tile
SHOWN = "document.getElementById('viewer-image')"
# Every page of the gallery, however the page loads the next (Load more, or scrolling to the end).
LOAD_MORE = """() => {
    const more = document.getElementById('load-more');
    if (more && !more.hidden && !more.disabled) more.click();
    window.scrollTo(0, document.body.scrollHeight);
    return document.querySelectorAll('#gallery img').length;
}"""


def save_small(png: bytes, name: str) -> None:
    """The browser's PNG, to a palette: fewer colours until the file is under SCREENSHOT_BYTES."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    for colours in (256, 128, 64, 32):
        buffer = io.BytesIO()
        image.quantize(colors=colours, method=Image.Quantize.MEDIANCUT).save(buffer, "PNG", optimize=True)
        if buffer.tell() <= SCREENSHOT_BYTES:
            break
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / f"{name}.png").write_bytes(buffer.getvalue())


def dated_photo(seed: int, taken: str | None) -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Pixel"
    exif[ExifTags.Base.Model] = "Pixel 7"
    if taken:
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = taken
    return encode(photo(1600, 1200, seed=seed), "JPEG", quality=88, exif=exif.tobytes())


@pytest.fixture(scope="module")
def album(stack) -> User:
    """A person with photos taken on several days, and one file the processor refused."""
    person = new_user(stack, "album")
    for seed, taken in enumerate(TAKEN):
        upload_as(stack, person, dated_photo(seed, taken), f"photo-{seed + 1}.jpg")
    upload_as(stack, person, b"Meeting notes, not a photo.\n" * 20, REFUSED)
    return person


@pytest.fixture(scope="module")
def admin(stack, album) -> User:
    other = new_user(stack, "friend")
    upload_as(stack, other, dated_photo(9, "2024:05:01 08:00:00"), "friend.jpg")
    return new_user(stack, "admin", admin=True)


def settled(page, selector: str) -> None:
    """Polled until the element's box stops moving (an animation or a late image over)."""
    previous = None
    while (box := page.eval_on_selector(selector, "e => JSON.stringify(e.getBoundingClientRect())")) != previous:
        previous = box
        page.wait_for_timeout(200)


def shoot(page, view: str, size: str, keep_focus: bool = False, around=None) -> None:
    """The viewport, or only the part of it `around` a locator (with a margin)."""
    if not keep_focus:  # no focus ring on a button just clicked
        page.evaluate("document.activeElement?.blur?.()")
    clip = None
    if around is not None:
        box, viewport = around.bounding_box(), page.viewport_size
        x, y = max(0, box["x"] - 24), max(0, box["y"] - 24)
        clip = {"x": x, "y": y, "width": min(viewport["width"] - x, box["width"] + 48), "height": box["height"] + 48}
    save_small(page.screenshot(animations="disabled", clip=clip), f"{view}-{size}")


def absent(view: str, size: str, why: str) -> None:
    warnings.warn(f"screenshot {view}-{size} left out: {why}", stacklevel=2)  # in pytest's warnings summary


@pytest.mark.parametrize("size", list(SIZES))
def test_sign_in_and_sign_up(browser, site, size):
    page = new_page(browser, **SIZES[size])
    try:
        page.goto(site)
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        shoot(page, "sign-in", size)
        page.get_by_label("Email").fill("you@example.com")
        page.get_by_label("Password").focus()
        shoot(page, "sign-up", size, keep_focus=True)  # the password rule, before anything is typed
    finally:
        page.context.close()


@pytest.mark.parametrize("size", list(SIZES))
def test_gallery_lightbox_failed_tile_and_selection(browser, site, album, size):
    page = new_page(browser, **SIZES[size])
    try:
        sign_in(page, site, album)
        wait_for(page, f"({LOAD_MORE})() >= {len(TAKEN)}")
        wait_for_gallery_images(page, len(TAKEN))
        page.evaluate("window.scrollTo(0, document.getElementById('gallery-heading').offsetTop - 8)")
        shoot(page, "gallery", size)

        failed = page.locator("#gallery li[data-id]", has_text=REFUSED)
        if failed.count():
            failed.scroll_into_view_if_needed()
            shoot(page, "failed-tile", size, around=failed.locator("xpath=.."))  # its row of tiles
        else:
            absent("failed-tile", size, "no failed tile in the gallery")

        page.evaluate("window.scrollTo(0, 0)")
        page.locator("#gallery .tile-button").first.click()
        wait_for(page, f"{SHOWN}?.complete && {SHOWN}.naturalWidth > 0")
        settled(page, "#viewer-image")
        shoot(page, "lightbox", size)
        page.keyboard.press("Escape")
        page.locator("#viewer").wait_for(state="hidden")

        select = page.get_by_role("button", name="Select", exact=True)
        if select.count() and select.is_visible():
            select.click()
            for tile in page.locator("#gallery .tile-button").all()[:2]:
                tile.click()  # selected, not opened, while selecting
            page.evaluate("window.scrollTo(0, document.getElementById('gallery-heading').offsetTop - 8)")
            shoot(page, "selection", size)
        else:
            absent("selection", size, "no Select button")
    finally:
        page.context.close()


@pytest.mark.parametrize("size", list(SIZES))
def test_tray_during_uploads(browser, site, stack, size, tmp_path):
    """Uploads throttled, so the tray shows them on their way (progress, the time left)."""
    person = new_user(stack, f"tray-{uuid.uuid4().hex[:6]}")
    (tmp_path / REFUSED).write_bytes(b"Meeting notes, not a photo.\n" * 20)
    paths = [str(tmp_path / REFUSED)]  # first: it fails while the photos are still on their way
    for seed in range(4):
        path = tmp_path / f"IMG_{2041 + seed}.jpg"
        path.write_bytes(encode(photo(2400, 1800, seed=seed + 20), "JPEG", quality=95))
        paths.append(str(path))
    page = new_page(browser, **SIZES[size])
    try:
        sign_in(page, site, person)
        cdp = page.context.new_cdp_session(page)
        cdp.send("Network.enable")
        conditions = {"offline": False, "latency": 20, "downloadThroughput": -1}
        cdp.send("Network.emulateNetworkConditions", conditions | {"uploadThroughput": 60_000})
        page.set_input_files("#file-input", paths)
        wait_for(page, "document.querySelector('#uploads .card[data-state=failed]') !== null", timeout=60_000)
        wait_for(page, "[...document.querySelectorAll('#uploads .state')].some(e => e.textContent.endsWith(' left'))")
        shoot(page, "tray", size)
        cdp.send("Network.emulateNetworkConditions", conditions | {"uploadThroughput": -1})
        wait_for_cards(page, len(paths), timeout=180_000)
    finally:
        page.context.close()


@pytest.mark.parametrize("size", list(SIZES))
def test_admin_all_users(browser, site, admin, size):
    page = new_page(browser, **SIZES[size])
    try:
        sign_in(page, site, admin)
        everyone = page.get_by_label("All users")
        if not everyone.is_visible():
            absent("admin-all-users", size, "no All users control")
            return
        everyone.check()
        expect(page.locator("#gallery-heading")).to_have_text("Everyone’s gallery")
        wait_for(page, f"({LOAD_MORE})() >= 3")  # the album's photos and another person's
        wait_for(page, "[...document.querySelectorAll('#gallery img')].every(i => i.complete && i.naturalWidth > 0)")
        page.evaluate("window.scrollTo(0, document.getElementById('gallery-heading').offsetTop - 8)")
        shoot(page, "admin-all-users", size)
        failed = page.get_by_role("radio", name=re.compile(r"^Failed\b"))
        if not failed.is_visible():
            absent("admin-failed", size, "no status filter")
            return
        failed.check()  # the counts by status, and everyone's failed photos only
        wait_for(
            page,
            "document.querySelectorAll('#gallery li.tile').length > 0 && "
            "[...document.querySelectorAll('#gallery li.tile')].every(t => t.querySelector('.failed-tile'))",
        )
        wait_for(page, "[...document.querySelectorAll('#status-filter .status-count')].some(c => c.textContent)")
        page.evaluate("window.scrollTo(0, document.getElementById('gallery-heading').offsetTop - 8)")
        shoot(page, "admin-failed", size)
    finally:
        page.context.close()
