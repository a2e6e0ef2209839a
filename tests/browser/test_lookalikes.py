"""User story: my gallery has a photo and a smaller copy of it a chat re-encoded; the page tells me
they look alike ("Looks like 1" on the copy's tile, and on the first's once both are shown), lets me
choose the one to keep with the keyboard and deletes the other in that one step, with Undo; a
different photo is in no group. axe-core finds nothing in the group's dialog."""

from __future__ import annotations

import random
import time

import pytest

from tests.browser.page import (
    axe_violations,
    expect,
    set_undo_delay,
    sign_in,
    tile_ids,
    upload_as,
    wait_for,
    wait_gone,
)
from tests.images import encode, photo

pytestmark = pytest.mark.browser

LONG_UNDO_MS = 120_000  # only Undo ends it


def linked(stack, user, image_id: str, expected: list[str], seconds: float = 30) -> None:
    """The API lists `expected` in the image's similarTo (linked a moment after it was processed)."""
    deadline = time.monotonic() + seconds
    while (similar := user.http.get(f"{stack.api}/images/{image_id}").json()["similarTo"]) != expected:
        assert time.monotonic() < deadline, similar
        time.sleep(0.2)


def test_similar_photos_are_grouped_and_one_is_kept_in_one_step(page, site, stack, user):
    seed = random.randrange(10_000)
    first = upload_as(stack, user, encode(photo(800, 600, seed=seed), "JPEG", quality=90), "beach.jpg")
    chat = encode(photo(800, 600, seed=seed).resize((400, 300)), "WEBP", quality=60)
    copy = upload_as(stack, user, chat, "beach-from-chat.webp", "image/webp")
    other = upload_as(stack, user, encode(photo(800, 600, seed=seed + 128), "JPEG"), "forest.jpg")
    assert first["status"] == copy["status"] == other["status"] == "processed"
    linked(stack, user, copy["id"], [first["id"]])
    sign_in(page, site, user)
    wait_for(page, f"document.querySelector('#gallery li.tile[data-id=\"{copy['id']}\"] .tile-button') !== null")

    # The copy's tile says it; the other photo's says nothing. (Two a page here: the first photo
    # may be on the next page, not loaded: it counts all the same.)
    alike = page.locator(f"#gallery li.tile[data-id='{copy['id']}'] .tile-alike")
    expect(alike).to_have_text("Looks like 1")
    expect(alike).to_have_accessible_name("beach-from-chat.webp looks like 1 other photo: choose one to keep")
    expect(page.locator(f"#gallery li.tile[data-id='{other['id']}'] .tile-alike")).to_have_count(0)
    page.get_by_role("button", name="Load more").click()
    wait_for(page, f"document.querySelector('#gallery li.tile[data-id=\"{first['id']}\"]') !== null")
    expect(page.locator(f"#gallery li.tile[data-id='{first['id']}'] .tile-alike")).to_have_text("Looks like 1")

    # By keyboard: the group opens on the copy chosen; the arrow chooses the first; Keep.
    set_undo_delay(page, LONG_UNDO_MS)
    alike.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Photos that look alike")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")  # closes it, the focus back where it was: nothing deleted
    expect(dialog).to_be_hidden()
    expect(alike).to_be_focused()
    page.keyboard.press("Enter")
    choices = dialog.get_by_role("radio")
    expect(choices).to_have_count(2)
    expect(dialog.get_by_role("radio", name="beach-from-chat.webp")).to_be_checked()
    expect(dialog.get_by_role("radio", name="beach-from-chat.webp")).to_be_focused()
    keep = dialog.locator("#lookalikes-keep")
    expect(keep).to_have_text("Keep beach-from-chat.webp, delete the other")
    page.keyboard.press("ArrowDown")
    expect(dialog.get_by_role("radio", name="beach.jpg")).to_be_checked()
    expect(keep).to_have_text("Keep beach.jpg, delete the other")
    assert axe_violations(page) == []
    page.keyboard.press("Tab")
    expect(keep).to_be_focused()
    page.keyboard.press("Enter")

    # The copy leaves at once, with Undo; the first's button goes with it (nothing left alike).
    expect(dialog).to_be_hidden()
    toast = page.locator("#undo-bar")
    expect(toast).to_have_text("Deleted beach-from-chat.webp. Undo")
    assert copy["id"] not in tile_ids(page) and {first["id"], other["id"]} <= set(tile_ids(page))
    expect(page.locator(f"#gallery li.tile[data-id='{first['id']}'] .tile-button")).to_be_focused()
    expect(page.locator("#gallery .tile-alike")).to_have_count(0)
    toast.get_by_role("button", name="Undo").click()
    expect(alike).to_have_text("Looks like 1")  # back, and so is the group
    assert user.http.get(f"{stack.api}/images/{copy['id']}").status_code == 200

    # Again, and this time the delay runs out: the copy is deleted, the first no longer names it.
    set_undo_delay(page, 300)
    alike.click()
    dialog.get_by_role("radio", name="beach.jpg").check()
    keep.click()
    wait_gone(user.http, f"{stack.api}/images/{copy['id']}")
    linked(stack, user, first["id"], [])
    page.reload()
    wait_for(page, "document.querySelectorAll('#gallery li.tile').length > 0")
    expect(page.locator("#gallery .tile-alike")).to_have_count(0)
    assert user.http.get(f"{stack.api}/images/{other['id']}").status_code == 200
