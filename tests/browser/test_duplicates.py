"""User story: I drop a photo that is already in my gallery; the page tells me so and uploads
nothing (no request to the bucket), and shows me the photo I have."""

from __future__ import annotations

import pytest

from tests.browser.page import axe_violations, sign_in, tile_ids, upload_as, wait_for
from tests.images import phone_jpeg

pytestmark = pytest.mark.browser


def drop(page, data: bytes, name: str) -> None:
    """A file dropped on the page, as a person drags one from their files."""
    page.evaluate(
        """([bytes, name]) => {
        const dt = new DataTransfer();
        dt.items.add(new File([new Uint8Array(bytes)], name, {type: "image/jpeg"}));
        for (const type of ["dragenter", "dragover", "drop"]) {
            document.body.dispatchEvent(new DragEvent(type, {dataTransfer: dt, bubbles: true, cancelable: true}));
        }
    }""",
        [list(data), name],
    )


def test_dropping_a_photo_already_in_the_gallery_says_so_and_sends_nothing(page, site, stack, user):
    data = phone_jpeg(640, 480, orientation=1)
    first = upload_as(stack, user, data, "from-the-phone.jpg")  # no hash declared: the processor's own
    assert first["status"] == "processed", first
    bucket = stack.outputs["uploadBucket"]
    to_bucket: list[str] = []
    page.on("request", lambda r: to_bucket.append(r.url) if f"/{bucket}" in r.url and r.method != "GET" else None)
    sign_in(page, site, user)
    wait_for(page, f"document.querySelector('#gallery li.tile[data-id=\"{first['id']}\"] img') !== null")

    drop(page, data, "from-the-laptop.jpg")
    card = page.locator("#uploads .card", has_text="from-the-laptop.jpg")
    card.wait_for()
    wait_for(page, "document.querySelector('#uploads .card[data-state=duplicate]') !== null", timeout=30_000)
    assert card.locator(".state").inner_text() == "Already in your gallery"
    assert card.get_attribute("data-id") == first["id"]
    assert "already" in page.locator(f"#gallery li.tile[data-id='{first['id']}']").get_attribute("class")
    assert tile_ids(page) == [first["id"]]  # the tile held for the upload is gone: one photo, one tile
    assert to_bucket == []
    wait_for(page, "document.getElementById('status').textContent.includes('is already in your gallery')")
    assert axe_violations(page) == []
    # Nothing was made of it: the gallery still holds the one image.
    listed = user.http.get(f"{stack.api}/images").json()["items"]
    assert [i["id"] for i in listed] == [first["id"]]
