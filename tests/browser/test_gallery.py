"""User story: I upload photos, watch them process, browse my own gallery page by page, open a
preview and delete my image; each person sees only their own, an admin also everyone's; when the
API is down, the page says so."""

from __future__ import annotations

import pytest

from tests.browser.page import (
    ARTIFACTS,
    axe_violations,
    expect,
    new_user,
    set_undo_delay,
    sign_in,
    sign_out,
    stored_session,
    tile_ids,
    upload_as,
    wait_for,
    wait_for_cards,
    wait_gone,
)
from tests.images import encode, phone_jpeg, photo

pytestmark = pytest.mark.browser


def test_upload_gallery_preview_delete(page, site, stack, user, tmp_path):
    files = {
        "portrait.jpg": phone_jpeg(1200, 900, orientation=6),
        "landscape.png": encode(photo(640, 400, seed=3), "PNG"),
        "notes.jpg": b"These are meeting notes, not a photo.\n" * 20,  # renamed: the browser says image/jpeg
    }
    paths = []
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        paths.append(str(tmp_path / name))

    sign_in(page, site, user)
    page.set_input_files("#file-input", paths)

    # Two cards end with a thumbnail that really decoded, one says failed with the reason.
    wait_for_cards(page, 3)
    processed = page.locator("#uploads .card[data-state=processed]")
    assert processed.count() == 2
    for i in range(2):
        assert processed.nth(i).locator("img").evaluate("img => img.decode().then(() => img.naturalWidth)") > 0
        assert processed.nth(i).locator("progress").evaluate("p => p.value") == 100
    failed = page.locator("#uploads .card[data-state=failed]")
    assert failed.count() == 1
    assert "notes.jpg" in failed.inner_text()
    assert "not an image" in failed.locator(".state").inner_text()
    assert page.locator("#status").inner_text()  # announced to screen readers

    ours = set(page.eval_on_selector_all("#uploads .card", "els => els.map(e => e.dataset.id)"))
    assert len(ours) == 3

    # Reload: still signed in; the gallery lists newest first, two a page; "Load more" brings the rest.
    # (A store of delete tokens left by the page before accounts is removed on load.)
    page.evaluate("localStorage.setItem('imagepipe.deleteTokens', JSON.stringify({abc: 'token'}))")
    page.reload()
    wait_for(page, "document.querySelectorAll('#gallery li.tile').length === 2")
    newest = [i["id"] for i in user.http.get(f"{stack.api}/images", params={"limit": 4}).json()["items"]]
    assert set(newest) == ours  # this person's gallery: their three uploads, nothing else
    assert tile_ids(page) == newest[:2]
    assert page.evaluate("localStorage.getItem('imagepipe.deleteTokens')") is None
    page.get_by_role("button", name="Load more").click()
    wait_for(page, f"document.querySelectorAll('#gallery li.tile').length === {len(newest)}")
    assert tile_ids(page) == newest

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "gallery.png"), full_page=True)

    # Open the portrait's preview: upright size in the details, and a real image.
    portrait = next(
        i
        for i in user.http.get(f"{stack.api}/images", params={"limit": 4}).json()["items"]
        if i["filename"] == "portrait.jpg"
    )
    assert portrait["owner"] == user.email
    page.locator(f"#gallery li.tile[data-id='{portrait['id']}'] button").click()
    viewer = page.locator("#viewer")
    viewer.wait_for(state="visible")
    assert "900×1200" in viewer.inner_text()
    assert "Owner" not in viewer.inner_text()  # it is mine: no need to say whose
    wait_for(page, "document.getElementById('viewer-image')?.naturalWidth > 0")
    # Upright: the rendition the browser chose for the dialog's size is 3:4, taller than wide.
    shown = page.locator("#viewer-image").evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert abs(shown[1] / shown[0] - 4 / 3) < 0.01, shown
    page.screenshot(path=str(ARTIFACTS / "preview.png"))

    # Delete it, with the sign-in alone: gone now and after reload (its request goes once the
    # Undo's delay is over).
    set_undo_delay(page, 300)
    with page.expect_request(lambda r: r.method == "DELETE") as deleting:
        page.get_by_role("button", name="Delete", exact=True).click()  # not the failed tile's
    sent = deleting.value.all_headers()
    assert sent.get("authorization") == stored_session(page)["idToken"]
    assert "x-delete-token" not in sent
    page.wait_for_selector(f"#gallery li.tile[data-id='{portrait['id']}']", state="detached")
    wait_gone(user.http, f"{stack.api}/images/{portrait['id']}")
    page.reload()
    wait_for(page, "document.querySelectorAll('#gallery li.tile').length === 2")
    assert portrait["id"] not in tile_ids(page)


def test_each_person_sees_only_their_own_gallery(page, site, stack, tmp_path):
    """Two people take turns at the same browser: each sees their own photos only, the API
    answers another person's image as missing, and neither gets the "All users" view."""
    alice, bob = new_user(stack, "alice"), new_user(stack, "bob")
    ids = {}
    for person in (alice, bob):
        name = person.email.split("-")[0] + ".jpg"
        (tmp_path / name).write_bytes(phone_jpeg(640, 480))
        sign_in(page, site, person)
        expect(page.get_by_label("All users")).to_be_hidden()
        assert tile_ids(page) == []
        page.set_input_files("#file-input", [str(tmp_path / name)])
        wait_for_cards(page, 1, timeout=60_000)
        ids[person.email] = page.locator("#uploads .card[data-state=processed]").get_attribute("data-id")
        sign_out(page)
        assert page.locator("#uploads .card").count() == 0  # the next person sees no one's cards

    for me, other in ((alice, bob), (bob, alice)):
        sign_in(page, site, me)
        wait_for(page, "document.querySelectorAll('#gallery li.tile').length > 0")
        assert tile_ids(page) == [ids[me.email]]
        listed = me.http.get(f"{stack.api}/images").json()["items"]
        assert [i["id"] for i in listed] == [ids[me.email]]
        assert listed[0]["owner"] == me.email
        theirs = ids[other.email]
        assert me.http.get(f"{stack.api}/images/{theirs}").status_code == 404
        assert me.http.delete(f"{stack.api}/images/{theirs}").status_code == 404
        assert me.http.get(f"{stack.api}/images", params={"scope": "all"}).status_code == 403
        sign_out(page)
    assert alice.http.get(f"{stack.api}/images/{ids[alice.email]}").json()["status"] == "processed"
    assert bob.http.get(f"{stack.api}/images/{ids[bob.email]}").json()["status"] == "processed"


def test_an_admin_sees_all_users(page, site, stack, tmp_path):
    """An admin's own gallery is their own; "All users" lists everyone's images with their
    owner, and the admin may delete any of them."""
    owner = new_user(stack, "owner")
    theirs = upload_as(stack, owner, phone_jpeg(640, 480), "someone-elses.jpg")
    assert theirs["status"] == "processed"
    admin = new_user(stack, "admin", admin=True)

    sign_in(page, site, admin)
    expect(page.locator("#gallery-empty")).to_be_visible()  # the admin's own photos: none
    toggle = page.get_by_label("All users")
    expect(toggle).to_be_visible()
    expect(toggle).not_to_be_checked()

    with page.expect_request(lambda r: "scope=all" in r.url):
        toggle.check()
    tile = page.locator(f"#gallery li.tile[data-id='{theirs['id']}']")
    tile.wait_for()  # the newest image of all, so on the first page
    expect(page.locator("#gallery-heading")).to_have_text("Everyone’s gallery")
    assert owner.email in tile.locator(".tile-button").get_attribute("aria-label")
    wait_for(page, "[...document.querySelectorAll('#gallery img')].every(i => i.complete)")
    assert axe_violations(page) == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "admin-all-users.png"), full_page=True)

    tile.locator(".tile-button").click()
    viewer = page.locator("#viewer")
    viewer.wait_for(state="visible")
    assert owner.email in viewer.inner_text()  # the Owner row
    set_undo_delay(page, 1000)
    page.get_by_role("button", name="Delete").click()
    tile.wait_for(state="detached")
    expect(page.locator("#undo-bar")).to_contain_text(owner.email)  # the Undo says whose it was
    wait_gone(owner.http, f"{stack.api}/images/{theirs['id']}")
    page.keyboard.press("Escape")  # the lightbox has moved on to the next image, if any
    viewer.wait_for(state="hidden")

    toggle.uncheck()
    expect(page.locator("#gallery-heading")).to_have_text("Gallery")
    expect(page.locator("#gallery-empty")).to_be_visible()


def test_page_says_what_happened_when_the_api_is_down(page, site, stack, user):
    """A failing API gives a message, not a spinner."""
    page.route(
        f"{stack.api}/**",
        lambda route: route.fulfill(status=503, body="{}", headers={"Access-Control-Allow-Origin": "*"}),
    )
    sign_in(page, site, user)
    notice = page.locator("#notice")
    notice.wait_for(state="visible")
    assert "could not be loaded" in notice.inner_text()
    assert "503" in notice.inner_text()
