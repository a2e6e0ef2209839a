"""User story: an upload that failed is a tile like the others, "Couldn't process", that tells me why
when I ask and that I delete or dismiss (or hide them all); I select photos (a click or a tap,
Space, Shift for a range, Ctrl+A for all), delete them with a few seconds to undo it, or download
each one's original; no dialog ever asks me first, the lightbox's Delete included."""

from __future__ import annotations

import json
import time

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
    sign_out,
    tile_ids,
    upload_as,
    wait_for,
    wait_for_gallery_images,
    wait_gone,
)
from tests.images import encode, photo

pytestmark = pytest.mark.browser

DEVICES = pytest.mark.parametrize("device", [DESKTOP, PHONE], ids=["desktop", "phone"])
NOT_AN_IMAGE = b"Meeting notes, not a photo.\n" * 20
LONG_UNDO_MS = 120_000  # longer than any test: only Undo, leaving or signing out ends it
FOCUSED_TILE = "(document.activeElement.closest('#gallery li.tile')?.dataset.id ?? null)"


def upload_photo(stack, person, name: str, seed: int) -> dict:
    image = upload_as(stack, person, encode(photo(640, 480, seed=seed), "JPEG"), name)
    assert image["status"] == "processed", image
    return image


def upload_failed(stack, person, name: str) -> dict:
    image = upload_as(stack, person, NOT_AN_IMAGE, name)
    assert image["status"] == "failed", image
    return image


def load_all(page, count: int) -> list[str]:
    """Every page of the gallery ("Load more": two a page here): the tiles' ids in order."""
    wait_for(page, "document.querySelectorAll('#gallery li.tile').length > 0")
    while (shown := len(tile_ids(page))) < count:
        page.get_by_role("button", name="Load more").click()
        wait_for(page, f"document.querySelectorAll('#gallery li.tile').length > {shown}")
    return tile_ids(page)


def open_gallery(page, site, person, count: int, photos: int | None = None) -> list[str]:
    sign_in(page, site, person)
    order = load_all(page, count)
    wait_for_gallery_images(page, count if photos is None else photos)
    return order


def tile(page, image_id: str):
    return page.locator(f"#gallery li.tile[data-id='{image_id}']")


def press(page, device, locator) -> None:
    """A tap on a phone, a click elsewhere."""
    locator.tap() if device is PHONE else locator.click()


def pressed(page, ids: list[str]) -> list[str | None]:
    return [tile(page, i).locator(".tile-button").get_attribute("aria-pressed") for i in ids]


def record_dialogs(page) -> list[str]:
    asked: list[str] = []
    page.on("dialog", lambda dialog: asked.append(f"{dialog.type}: {dialog.message}"))
    return asked


def api_status(stack, person, image_id: str) -> int:
    return person.http.get(f"{stack.api}/images/{image_id}").status_code


@pytest.fixture(scope="module")
def album(stack):
    """A person with four photos, only looked at (selected, downloaded) by the tests that use it."""
    person = new_user(stack, "selecting")
    person.images = [upload_photo(stack, person, f"album-{seed}.jpg", seed) for seed in range(4)]
    return person


@DEVICES
def test_a_failed_tile_says_why_on_demand_and_its_delete_button_deletes_it(browser, site, stack, device):
    person = new_user(stack, "failed")
    older = upload_photo(stack, person, "older.jpg", 1)
    failed = upload_failed(stack, person, "notes.jpg")
    newer = upload_photo(stack, person, "newer.jpg", 2)
    page = new_page(browser, **device)
    asked = record_dialogs(page)
    assert open_gallery(page, site, person, 3, photos=2) == [newer["id"], failed["id"], older["id"]]

    box = tile(page, failed["id"])
    expect(box).to_contain_text("Couldn't process")
    expect(box).to_contain_text("notes.jpg")
    # A photo tile's size, with every control inside it, whole.
    failed_box, photo_box = box.bounding_box(), tile(page, newer["id"]).bounding_box()
    assert abs(failed_box["width"] - photo_box["width"]) <= 1, (failed_box, photo_box)
    assert abs(failed_box["height"] - photo_box["height"]) <= 1, (failed_box, photo_box)
    for control in (
        box.locator("summary"),
        box.get_by_role("button", name="Delete"),
        box.get_by_role("button", name="Dismiss"),
    ):
        inner = control.bounding_box()
        assert (
            inner["x"] >= failed_box["x"] and inner["x"] + inner["width"] <= failed_box["x"] + failed_box["width"] + 0.5
        )
        assert (
            inner["y"] >= failed_box["y"]
            and inner["y"] + inner["height"] <= failed_box["y"] + failed_box["height"] + 0.5
        )

    reason = box.get_by_text(failed["error"]["message"])
    expect(reason).to_be_hidden()
    if device is DESKTOP:
        # By keyboard: from the photo before it, Tab reaches the tile's reason, then its Delete.
        tile(page, newer["id"]).locator(".tile-button").focus()
        page.keyboard.press("Tab")
        assert page.evaluate(f"document.activeElement.tagName === 'SUMMARY' && {FOCUSED_TILE}") == failed["id"]
        page.keyboard.press("Enter")
        expect(reason).to_be_visible()
        assert axe_violations(page) == []
        page.keyboard.press("Tab")
        expect(box.get_by_role("button", name="Delete")).to_be_focused()
        set_undo_delay(page, 300)
        page.keyboard.press("Enter")
    else:
        box.locator("summary").tap()
        expect(reason).to_be_visible()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "failed-tile-phone.png"))
        assert axe_violations(page) == []
        set_undo_delay(page, 300)
        box.get_by_role("button", name="Delete").tap()

    box.wait_for(state="detached")
    assert page.evaluate(FOCUSED_TILE) == older["id"]  # the next tile
    wait_gone(person.http, f"{stack.api}/images/{failed['id']}")
    assert tile_ids(page) == [newer["id"], older["id"]]
    assert asked == []
    page.context.close()


def test_dismiss_and_hide_failed_hide_failed_tiles_for_this_person_only(browser, site, stack):
    """Dismiss hides one tile, "Hide failed" every one; both are remembered for this person (a
    reload keeps them) and for nobody else who signs in on the same browser. Nothing is deleted."""
    person = new_user(stack, "dismissing")
    first = upload_failed(stack, person, "first-notes.jpg")
    second = upload_failed(stack, person, "second-notes.jpg")
    kept = upload_photo(stack, person, "kept.jpg", 3)
    page = new_page(browser, **DESKTOP)
    assert open_gallery(page, site, person, 3, photos=1) == [kept["id"], second["id"], first["id"]]

    tile(page, second["id"]).get_by_role("button", name="Dismiss").click()
    expect(tile(page, second["id"])).to_be_hidden()
    expect(tile(page, first["id"])).to_be_visible()
    assert page.evaluate(FOCUSED_TILE) == first["id"]  # the next tile shown
    assert api_status(stack, person, second["id"]) == 200

    page.reload()
    load_all(page, 3)
    expect(tile(page, second["id"])).to_be_hidden()
    expect(tile(page, first["id"])).to_be_visible()
    hide_failed = page.get_by_label("Hide failed")
    hide_failed.check()
    expect(tile(page, first["id"])).to_be_hidden()
    expect(tile(page, kept["id"])).to_be_visible()
    page.reload()
    load_all(page, 3)
    expect(hide_failed).to_be_checked()
    expect(tile(page, first["id"])).to_be_hidden()
    assert api_status(stack, person, first["id"]) == 200

    # The next person on this browser: their failed upload shows, and "Hide failed" is theirs.
    sign_out(page)
    other = new_user(stack, "next-person")
    theirs = upload_failed(stack, other, "their-notes.jpg")
    page.evaluate(
        "([key, id]) => localStorage.setItem(key, JSON.stringify([id]))",
        ["imagepipe.dismissedFailed", theirs["id"]],  # a list that was never anyone's: not read
    )
    sign_in(page, site, other)
    expect(tile(page, theirs["id"])).to_be_visible()
    expect(hide_failed).not_to_be_checked()
    page.context.close()


@DEVICES
def test_bulk_delete_of_two_of_three_is_undone_then_done(browser, site, stack, device):
    """Two of three selected and deleted: they leave at once; Undo puts them back where they were,
    nothing deleted; deleted again and not undone, they are gone from the API after the delay."""
    person = new_user(stack, "bulk")
    for seed in range(3):
        upload_photo(stack, person, f"bulk-{seed}.jpg", seed)
    page = new_page(browser, **device)
    asked = record_dialogs(page)
    order = open_gallery(page, site, person, 3)
    chosen = [order[0], order[2]]
    set_undo_delay(page, LONG_UNDO_MS)

    press(page, device, page.get_by_role("button", name="Select", exact=True))
    bar = page.locator("#selection-bar")
    expect(bar).to_be_visible()
    expect(bar).to_contain_text("0 selected")
    for image_id in chosen:
        press(page, device, tile(page, image_id).locator(".tile-button"))
    expect(bar).to_contain_text("2 selected")
    assert pressed(page, order) == ["true", "false", "true"]
    expect(page.locator("#viewer")).to_be_hidden()  # the taps selected: no lightbox
    assert axe_violations(page) == []
    if device is PHONE:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "selection-phone.png"))

    press(page, device, bar.get_by_role("button", name="Delete"))
    toast = page.locator("#undo-bar")
    expect(toast).to_have_text("Deleted 2 photos. Undo")
    assert tile_ids(page) == [order[1]]
    assert page.evaluate(FOCUSED_TILE) == order[1]
    expect(bar).to_be_hidden()  # the selection is over
    assert axe_violations(page) == []

    press(page, device, toast.get_by_role("button", name="Undo"))
    expect(toast).to_be_hidden()
    assert tile_ids(page) == order
    assert [api_status(stack, person, i) for i in chosen] == [200, 200]

    # Again, and this time the delay runs out.
    set_undo_delay(page, 300)
    press(page, device, page.get_by_role("button", name="Select", exact=True))
    for image_id in chosen:
        press(page, device, tile(page, image_id).locator(".tile-button"))
    press(page, device, bar.get_by_role("button", name="Delete"))
    for image_id in chosen:
        wait_gone(person.http, f"{stack.api}/images/{image_id}")
    expect(toast).to_be_hidden()
    assert tile_ids(page) == [order[1]]
    page.reload()
    load_all(page, 1)
    assert tile_ids(page) == [order[1]]
    assert asked == []
    page.context.close()


def test_the_lightbox_delete_asks_nothing_and_is_undone_from_the_lightbox(browser, site, stack):
    person = new_user(stack, "viewer")
    for seed in range(2):
        upload_photo(stack, person, f"viewer-{seed}.jpg", seed)
    page = new_page(browser, **DESKTOP)
    asked = record_dialogs(page)
    order = open_gallery(page, site, person, 2)
    set_undo_delay(page, LONG_UNDO_MS)
    tile(page, order[0]).locator(".tile-button").click()
    wait_for(page, f"document.getElementById('viewer-image')?.dataset.id === '{order[0]}'")

    page.locator("#viewer-delete").click()
    wait_for(page, f"document.getElementById('viewer-image')?.dataset.id === '{order[1]}'")  # the next
    assert tile_ids(page) == [order[1]]
    toast = page.locator("#viewer #undo-bar")  # in the modal dialog: the rest of the page is inert
    expect(toast).to_contain_text("Deleted viewer-1.jpg.")
    toast.get_by_role("button", name="Undo").click()
    expect(toast).to_be_hidden()
    assert tile_ids(page) == order
    page.keyboard.press("Escape")
    page.locator("#viewer").wait_for(state="hidden")
    assert api_status(stack, person, order[0]) == 200
    assert asked == []
    page.context.close()


def test_shift_click_selects_a_range_space_toggles_and_ctrl_a_selects_all(browser, site, album):
    page = new_page(browser, **DESKTOP)
    order = open_gallery(page, site, album, 4)
    page.get_by_role("button", name="Select", exact=True).click()
    first = tile(page, order[0]).locator(".tile-button")
    expect(first).to_be_focused()
    expect(first).to_have_attribute("aria-label", "Select album-3.jpg")

    first.click()
    tile(page, order[2]).locator(".tile-button").click(modifiers=["Shift"])
    assert pressed(page, order) == ["true", "true", "true", "false"]
    expect(page.locator("#selection-count")).to_have_text("3 selected")

    last = tile(page, order[3]).locator(".tile-button")
    last.focus()
    page.keyboard.press("Space")
    assert pressed(page, order) == ["true"] * 4
    page.keyboard.press("Enter")
    assert pressed(page, order)[3] == "false"
    page.keyboard.press("ControlOrMeta+a")
    assert pressed(page, order) == ["true"] * 4
    expect(page.locator("#selection-count")).to_have_text("4 selected")
    expect(page.locator("#viewer")).to_be_hidden()

    page.keyboard.press("Escape")
    expect(page.locator("#selection-bar")).to_be_hidden()
    assert pressed(page, order) == [None] * 4
    expect(first).to_have_attribute("aria-label", "Open album-3.jpg")
    first.click()  # a tile opens its photo again
    page.locator("#viewer").wait_for(state="visible")
    page.context.close()


def test_bulk_download_starts_one_download_per_selected_photo(browser, site, stack, album):
    page = new_page(browser, **DESKTOP)
    order = open_gallery(page, site, album, 4)
    downloads = []
    page.on("download", lambda download: downloads.append(download))
    page.get_by_role("button", name="Select", exact=True).click()
    for image_id in (order[1], order[3]):
        tile(page, image_id).locator(".tile-button").click()
    page.locator("#selection-bar").get_by_role("button", name="Download").click()
    deadline = time.monotonic() + 30
    while len(downloads) < 2:
        assert time.monotonic() < deadline, downloads
        page.wait_for_timeout(100)
    page.wait_for_timeout(500)  # and no third one follows
    assert sorted(d.suggested_filename for d in downloads) == ["album-0.jpg", "album-2.jpg"]
    originals = {
        path_of(album.http.get(f"{stack.api}/images/{i}").json()["original"]["url"]) for i in (order[1], order[3])
    }
    assert {path_of(d.url) for d in downloads} == originals
    assert page.url.rstrip("/") == site.rstrip("/")
    page.context.close()


def test_an_admin_bulk_deletes_another_person_s_photo_in_all_users(browser, site, stack):
    owner = new_user(stack, "owned")
    theirs = [upload_photo(stack, owner, f"theirs-{seed}.jpg", seed) for seed in range(2)]
    admin = new_user(stack, "admin", admin=True)
    page = new_page(browser, **DESKTOP)
    sign_in(page, site, admin)
    page.get_by_label("All users").check()
    tile(page, theirs[1]["id"]).wait_for()  # the newest of all
    set_undo_delay(page, 300)
    page.get_by_role("button", name="Select", exact=True).click()
    button = tile(page, theirs[1]["id"]).locator(".tile-button")
    assert owner.email in button.get_attribute("aria-label")
    button.click()
    page.locator("#selection-bar").get_by_role("button", name="Delete").click()
    wait_gone(owner.http, f"{stack.api}/images/{theirs[1]['id']}")
    assert api_status(stack, owner, theirs[0]["id"]) == 200
    page.context.close()


def test_deletes_waiting_for_undo_go_when_the_page_is_left_or_the_person_signs_out(browser, site, stack):
    """Nothing is deleted until the delay is over, but leaving the page (pagehide: keepalive
    requests) or signing out sends the deletes there and then."""
    person = new_user(stack, "leaving")
    for seed in range(3):
        upload_photo(stack, person, f"leaving-{seed}.jpg", seed)
    page = new_page(browser, **DESKTOP)
    order = open_gallery(page, site, person, 3)

    def delete_waiting(image_id: str) -> None:
        set_undo_delay(page, LONG_UNDO_MS)
        page.get_by_role("button", name="Select", exact=True).click()
        tile(page, image_id).locator(".tile-button").click()
        page.locator("#selection-bar").get_by_role("button", name="Delete").click()
        expect(page.locator("#undo-bar")).to_be_visible()
        assert api_status(stack, person, image_id) == 200

    delete_waiting(order[0])
    page.goto(site)
    wait_gone(person.http, f"{stack.api}/images/{order[0]}", timeout=20)
    assert load_all(page, 2) == order[1:]

    delete_waiting(order[1])
    sign_out(page)
    wait_gone(person.http, f"{stack.api}/images/{order[1]}", timeout=20)
    assert api_status(stack, person, order[2]) == 200
    page.context.close()


def test_a_delete_the_api_refuses_puts_the_tile_back_and_says_why(browser, site, stack):
    person = new_user(stack, "refused")
    for seed in range(2):
        upload_photo(stack, person, f"refused-{seed}.jpg", seed)
    page = new_page(browser, **DESKTOP)
    order = open_gallery(page, site, person, 2)

    def refuse_delete(route):
        if route.request.method != "DELETE":
            return route.continue_()
        body = {"error": {"code": "Unavailable", "message": "The store is busy; try again."}}
        return route.fulfill(
            status=503,
            body=json.dumps(body),
            headers={"Access-Control-Allow-Origin": "*"},
            content_type="application/json",
        )

    page.route(f"{stack.api}/images/{order[0]}", refuse_delete)
    set_undo_delay(page, 300)
    page.get_by_role("button", name="Select", exact=True).click()
    tile(page, order[0]).locator(".tile-button").click()
    page.locator("#selection-bar").get_by_role("button", name="Delete").click()
    expect(page.locator("#notice")).to_contain_text("refused-1.jpg could not be deleted")
    expect(page.locator("#notice")).to_contain_text("The store is busy; try again.")
    assert tile_ids(page) == order  # back where it was
    assert api_status(stack, person, order[0]) == 200
    page.context.close()
