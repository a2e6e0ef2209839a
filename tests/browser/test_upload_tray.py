"""User story: I pick ten photos and one compact tray keeps me posted without taking the page: the
files in the order I picked them, "9 of 10 done · 1 failed", a tray that folds itself away when
it is done (the failed one stays, with its reason, until I dismiss it), a question before I leave
while a file is still on its way, the whole window taking a file I drag over it; a screen reader
hears the batch, not each card's every change."""

from __future__ import annotations

import re

import pytest

from tests.browser.page import (
    ARTIFACTS,
    DESKTOP,
    PHONE,
    RECORD_ANNOUNCEMENTS,
    axe_violations,
    expect,
    new_page,
    new_user,
    set_undo_delay,
    sign_in,
    wait_for,
    wait_for_cards,
)
from tests.images import encode, phone_jpeg, photo

pytestmark = pytest.mark.browser

REFUSED = "notes.jpg"  # a text file with a .jpg name: the browser says image/jpeg, the processor says no


DISPATCH_BEFOREUNLOAD = """() => {
    const event = new Event('beforeunload', {cancelable: true});
    window.dispatchEvent(event);
    return event.defaultPrevented;
}"""


def ten_files(tmp_path) -> list[str]:
    """Nine photos and the refused one, named so that no sort of the names gives the picked order."""
    names = [f"{letter}-{i}.jpg" for i, letter in enumerate("kbxdqmaztf")]
    names[2] = REFUSED
    paths = []
    for i, name in enumerate(names):
        path = tmp_path / name
        path.write_bytes(
            b"Meeting notes, not a photo.\n" * 20 if name == REFUSED else encode(photo(320, 240, seed=i), "JPEG")
        )
        paths.append(str(path))
    return paths


def card_names(page) -> list[str]:
    return page.eval_on_selector_all("#uploads .card .name", "els => els.map(e => e.textContent)")


def test_ten_photos_on_a_phone_fold_into_one_summary(browser, site, user, tmp_path):
    """Picked order, a counting summary, collapse when done with the failure left in view, the
    gallery within the first screen and a half, and a bounded, named set of announcements."""
    paths = ten_files(tmp_path)
    page = new_page(browser, **PHONE)
    try:
        sign_in(page, site, user)
        wait_for(
            page, "document.getElementById('status').textContent.startsWith('Signed in')"
        )  # said after the gallery
        page.evaluate(RECORD_ANNOUNCEMENTS)
        page.set_input_files("#file-input", paths)

        assert card_names(page) == [p.rsplit("/", 1)[1] for p in paths]
        expect(page.locator("#tray-summary")).to_have_text(re.compile(r"^\d+ of 10 done"))
        toggle = page.get_by_role("button", name="Details")
        expect(toggle).to_have_attribute("aria-expanded", "true")

        wait_for_cards(page, 10, timeout=180_000)
        expect(page.locator("#tray-summary")).to_have_text("9 of 10 done · 1 failed")
        expect(toggle).to_have_attribute("aria-expanded", "false")
        expect(page.locator("#tray-progress")).to_be_hidden()
        # Folded: the processed cards are out of view; the failed one says why, with no bar.
        shown = page.locator("#uploads .card:visible")
        expect(shown).to_have_count(1)
        expect(shown).to_contain_text(REFUSED)
        expect(shown.locator(".state")).to_contain_text("not an image")
        expect(shown.locator("progress")).to_be_hidden()
        assert card_names(page) == [p.rsplit("/", 1)[1] for p in paths]  # still in the picked order

        wait_for(page, "document.querySelectorAll('#gallery li.tile .tile-button').length === 9")  # and the failed tile
        top = page.evaluate("document.querySelector('#gallery li.tile').getBoundingClientRect().top + window.scrollY")
        assert top <= 1.5 * PHONE["viewport"]["height"], top
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "tray-phone-done.png"))

        wait_for(page, "window.announced.at(-1)?.includes('of 10 done')")
        announced = page.evaluate("window.announced")
        assert announced[0] == "Uploading 10 photos.", announced
        # The end, naming the failure; what came within the last gap is said with it (verdicts told
        # by the live status come closer together than polled ones), never dropped.
        assert announced[-1].endswith(f"9 of 10 done, 1 failed: {REFUSED}."), announced
        assert len(announced) <= 5, announced  # the batch, not 70 card updates
        names = [p.rsplit("/", 1)[1] for p in paths]
        for text in announced[1:]:  # what is said of one file names it
            assert any(name in text for name in names), announced

        # Expanded again, every card is there to see.
        toggle.click()
        expect(page.locator("#uploads .card:visible")).to_have_count(10)
    finally:
        page.context.close()


def test_leaving_while_a_file_is_on_its_way_asks_first(page, site, stack, user, tmp_path):
    """beforeunload is armed while a file has not reached storage and disarmed once none is left;
    the open tray passes axe; a failed card is dismissed with its button."""
    held_path, drawing = tmp_path / "held.jpg", tmp_path / "drawing.svg"
    held_path.write_bytes(phone_jpeg(640, 480))
    drawing.write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    bucket = stack.outputs["uploadBucket"]
    held = []

    def hold_the_upload(route):
        if route.request.method == "POST" and f"/{bucket}" in route.request.url:
            held.append(route)  # sent on when the test says
        else:
            route.continue_()

    page.route("**/*", hold_the_upload)
    sign_in(page, site, user)
    assert page.evaluate(DISPATCH_BEFOREUNLOAD) is False  # nothing to lose yet
    page.set_input_files("#file-input", [str(held_path), str(drawing)])
    held_card = page.locator("#uploads .card", has_text="held.jpg")
    expect(held_card).to_have_attribute("data-state", "uploading")
    wait_for(page, "document.querySelectorAll('#uploads .card[data-state=failed]').length === 1")
    for _ in range(300):  # the page asks for the form first, then posts the file
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "the file was never posted to storage"
    assert page.evaluate(DISPATCH_BEFOREUNLOAD) is True

    expect(page.locator("#tray-summary")).to_have_text("0 of 2 done · 1 failed")
    assert axe_violations(page) == []  # the tray open: a running card and a failed one
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "tray-open.png"))

    page.get_by_role("button", name="Dismiss drawing.svg").click()
    expect(page.locator("#uploads .card", has_text="drawing.svg")).to_have_count(0)
    assert page.evaluate("document.activeElement.id") == "tray-toggle"  # no running card has a button

    held[0].continue_()
    expect(held_card).not_to_have_attribute("data-state", "uploading", timeout=60_000)
    assert page.evaluate(DISPATCH_BEFOREUNLOAD) is False  # the file is in storage: nothing to lose
    wait_for_cards(page, 1, timeout=60_000)
    expect(page.locator("#tray-summary")).to_have_text("1 of 2 done · 1 failed")
    expect(page.locator("#uploads")).to_be_hidden()  # folded, and nothing failed is left in it
    page.get_by_role("button", name="Clear list").click()
    expect(page.locator("#tray")).to_be_hidden()


def test_a_file_dragged_over_the_header_fills_the_window_with_the_drop_target(page, site, user):
    sign_in(page, site, user)
    overlay = page.locator("#drop-overlay")
    expect(overlay).to_be_hidden()
    drag = """(type) => {
        const dt = new DataTransfer();
        dt.items.add(new File(['x'], 'a.jpg', {type: 'image/jpeg'}));
        document.querySelector('header h1')
            .dispatchEvent(new DragEvent(type, {dataTransfer: dt, bubbles: true, cancelable: true}));
    }"""
    page.evaluate(drag, "dragenter")
    expect(overlay).to_be_visible()
    box = overlay.bounding_box()
    viewport = page.viewport_size
    assert (box["x"], box["y"], box["width"], box["height"]) == (0, 0, viewport["width"], viewport["height"])
    expect(overlay).to_contain_text("Drop photos")
    page.evaluate(drag, "dragleave")
    expect(overlay).to_be_hidden()


# The boxes of the tray's visible parts and of the bars, as the window shows them.
OVERLAPS = """() => {
    const boxes = (els) => els.filter((el) => el.checkVisibility()).map((el) => el.getBoundingClientRect());
    const tray = boxes([...document.getElementById('tray-dock').children]);
    const bars = boxes([document.getElementById('selection-bar'), document.getElementById('undo-bar')]);
    const meet = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
    return {tray: tray.length, bars: bars.length,
            overlaps: bars.flatMap((bar) => tray.filter((box) => meet(bar, box))).length,
            offScreen: bars.filter((bar) => bar.top < 0 || bar.bottom > window.innerHeight).length};
}"""


@pytest.mark.parametrize("device", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_selection_and_undo_bars_stand_clear_of_the_tray_and_undo_brings_its_card_back(
    browser, site, stack, tmp_path, device
):
    """With the tray open, selecting and deleting a photo: neither bar covers the tray; the deleted
    photo's card leaves the tray with its tile, and Undo brings both back."""
    person = new_user(stack, "tray-undo")
    paths = []
    for seed in range(2):
        path = tmp_path / f"kept-{seed}.jpg"
        path.write_bytes(encode(photo(320, 240, seed=seed), "JPEG"))
        paths.append(str(path))
    page = new_page(browser, **device)
    try:
        sign_in(page, site, person)
        page.set_input_files("#file-input", paths)
        wait_for_cards(page, 2)
        wait_for(page, "document.querySelectorAll('#gallery li.tile img').length === 2")
        page.get_by_role("button", name="Details").click()  # the whole list, open
        cards = page.locator("#uploads .card:visible")
        expect(cards).to_have_count(2)
        set_undo_delay(page, 120_000)

        page.get_by_role("button", name="Select", exact=True).click()
        expect(page.locator("#selection-bar")).to_be_visible()
        first = page.locator("#gallery li.tile").first
        deleted = first.get_attribute("data-id")
        first.locator(".tile-button").focus()  # under the open tray on a phone: from the keyboard
        page.keyboard.press("Space")
        expect(page.locator("#selection-bar")).to_contain_text("1 selected")
        assert page.evaluate(OVERLAPS) == {"tray": 2, "bars": 1, "overlaps": 0, "offScreen": 0}

        page.locator("#selection-bar").get_by_role("button", name="Delete").click()
        expect(page.locator("#undo-bar")).to_be_visible()
        expect(cards).to_have_count(1)  # its photo left the gallery, its card the tray
        expect(page.locator(f"#uploads .card[data-id='{deleted}']")).to_be_hidden()
        assert page.evaluate(OVERLAPS)["overlaps"] == 0

        page.locator("#undo-bar").get_by_role("button", name="Undo").click()
        expect(page.locator("#undo-bar")).to_be_hidden()
        expect(cards).to_have_count(2)
        expect(page.locator(f"#uploads .card[data-id='{deleted}']")).to_be_visible()
    finally:
        page.context.close()
