"""User story: as an admin, in everyone's gallery, I see how many photos have each status, show only
the failed ones, only one person's photos (from the owner on any of their tiles) and both at once;
the counts follow a delete; axe finds nothing wrong in the filtered view. On a desktop and a phone."""

from __future__ import annotations

import re
import time

import pytest

from tests.browser.page import (
    DESKTOP,
    PHONE,
    RECORD_ANNOUNCEMENTS,
    axe_violations,
    expect,
    new_page,
    new_user,
    set_undo_delay,
    sign_in,
    tile_ids,
    upload_as,
    wait_for,
    wait_gone,
)
from tests.images import encode, photo

pytestmark = pytest.mark.browser

NOT_AN_IMAGE = b"Minutes of the meeting, not a photo.\n" * 20


def uploaded(stack, person, name: str, data: bytes, status: str) -> str:
    image = upload_as(stack, person, data, name)
    assert image["status"] == status, image
    return image["id"]


def status_radio(page, status: str):
    return page.get_by_role("radio", name=re.compile(rf"^{status}\b"))


def shown_ids(page, ids: list[str]) -> None:
    """The gallery shows exactly these tiles, in this order, and has no page left to load."""
    tiles, more = page.locator("#gallery li.tile"), page.locator("#load-more")
    expect(tiles).to_have_count(len(ids))
    # A page as long as the rest: the end is known by asking once more (Load more, or the scroll's
    # own load, already under way while the button is disabled).
    deadline = time.monotonic() + 30
    while more.is_visible():
        assert time.monotonic() < deadline, "Load more never went away"
        page.evaluate(
            "() => { const b = document.getElementById('load-more'); if (!b.hidden && !b.disabled) b.click(); }"
        )
        page.wait_for_timeout(100)
    assert tile_ids(page) == ids


def loaded_to(page, image_id: str, timeout: float = 30) -> None:
    """Pages loaded ("Load more", unless the scroll has loaded them) until this photo's tile is in."""
    tile, more = page.locator(f"#gallery li.tile[data-id='{image_id}']"), page.locator("#load-more")
    deadline = time.monotonic() + timeout
    while not tile.count():
        assert time.monotonic() < deadline, f"{image_id} never listed"
        if more.is_visible() and more.is_enabled():
            more.click()
        page.wait_for_timeout(100)


def counted(stack, admin, status: str) -> str:
    """What the page should say of a status: its count as the API gives it ("1000+" past the cap)."""
    count = admin.http.get(f"{stack.api}/admin/counts").json()[status]
    return f"{count['count']}{'+' if count['more'] else ''}"


@pytest.mark.parametrize("screen", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_an_admin_filters_everyone_s_photos_by_status_and_owner(browser, site, stack, screen):
    alice, bob = new_user(stack, "alice"), new_user(stack, "bob")
    alices = [
        uploaded(stack, alice, f"alice-{i}.jpg", encode(photo(400, 300, seed=i), "JPEG"), "processed") for i in (1, 2)
    ]
    bobs_photo = uploaded(stack, bob, "bob.jpg", encode(photo(400, 300, seed=3), "JPEG"), "processed")
    bobs_failed = uploaded(stack, bob, "minutes.jpg", NOT_AN_IMAGE, "failed")
    admin = new_user(stack, "admin", admin=True)
    page = new_page(browser, **screen)
    sign_in(page, site, admin)
    page.evaluate(RECORD_ANNOUNCEMENTS)

    # Everyone's photos: the statuses, each with its count (none of this for people who are not admins).
    expect(page.locator("#admin-filters")).to_be_hidden()
    page.get_by_label("All users").check()
    for status in ("Processed", "Failed"):
        expect(status_radio(page, status)).to_have_accessible_name(
            f"{status} ({counted(stack, admin, status.lower())})"
        )
    expect(status_radio(page, "All")).to_be_checked()

    # Failed only: the newest failed photo (Bob's) first, and no tile that is not a failed one;
    # shown even with "Hide failed" on (it steps aside: an empty gallery otherwise).
    hide_failed = page.get_by_label("Hide failed")
    hide_failed.check()
    status_radio(page, "Failed").check()
    wait_for(page, f"document.querySelector('#gallery li.tile')?.dataset.id === '{bobs_failed}'")
    assert page.locator("#gallery li.tile").count() == page.locator("#gallery li.tile > .failed-tile").count()
    expect(page.locator(f"#gallery li.tile[data-id='{bobs_failed}']")).to_be_visible()
    expect(hide_failed).to_be_disabled()
    failed = counted(stack, admin, "failed")
    wait_for(page, f"window.announced.includes('Showing {failed} failed photos.')")

    # Bob's only, from the owner written on his tile: with Failed still on, his failed one alone.
    owner = page.locator(f"#gallery li.tile[data-id='{bobs_failed}'] .tile-owner")
    expect(owner).to_have_accessible_name(f"Show only {bob.email}’s photos")
    owner.click()
    expect(page.locator("#owner-filter")).to_have_text(re.compile(rf"Photos by {re.escape(bob.email)}\s*Clear"))
    expect(page.get_by_role("button", name="Clear", exact=True)).to_be_focused()
    shown_ids(page, [bobs_failed])
    wait_for(page, f"window.announced.at(-1) === 'Showing failed photos by {bob.email}.'")
    assert axe_violations(page) == []

    status_radio(page, "All").check()
    shown_ids(page, [bobs_failed, bobs_photo])  # his gallery's order: the newest first
    expect(page.locator(f"#gallery li.tile[data-id='{bobs_failed}']")).to_be_hidden()  # "Hide failed" again
    hide_failed.uncheck()

    # Clear: everyone's again; then Alice's, from one of her photos.
    page.get_by_role("button", name="Clear", exact=True).click()
    expect(page.locator("#owner-filter")).to_be_hidden()
    wait_for(page, f"document.querySelector('#gallery li.tile')?.dataset.id === '{bobs_failed}'")
    loaded_to(page, alices[1])  # on the second page of two, or later
    page.locator(f"#gallery li.tile[data-id='{alices[1]}'] .tile-owner").click()
    shown_ids(page, list(reversed(alices)))
    assert axe_violations(page) == []

    # A delete, once its Undo is over, changes the counts shown.
    page.get_by_role("button", name="Clear", exact=True).click()
    status_radio(page, "Failed").check()
    wait_for(page, f"document.querySelector('#gallery li.tile')?.dataset.id === '{bobs_failed}'")
    before = int(counted(stack, admin, "failed").rstrip("+"))
    set_undo_delay(page, 300)
    page.get_by_role("button", name="Delete failed minutes.jpg", exact=False).first.click()
    wait_gone(bob.http, f"{stack.api}/images/{bobs_failed}")
    expect(status_radio(page, "Failed")).to_have_accessible_name(f"Failed ({before - 1})")
    page.context.close()
