"""User story: my photos arrive as fast as the network allows: a placeholder first, the AVIF that
fits the tile (never the JPEG besides), a URL gone stale asked for again; photos made before
AVIF still show."""

from __future__ import annotations

import io
import json
import re
import uuid
from datetime import UTC, datetime

import pytest
from boto3.dynamodb.types import TypeSerializer
from PIL import Image

from handlers.records import ImageRecords
from tests.browser.page import (
    ARTIFACTS,
    axe_violations,
    b64url_decode,
    expect,
    new_page,
    path_of,
    sign_in,
    upload_as,
    wait_for,
    wait_for_gallery_images,
)
from tests.images import encode, phone_jpeg, photo

pytestmark = pytest.mark.browser


def files_of(image: dict, content_type: str | None = None) -> list[dict]:
    """Every file of every rendition (its `sources`), or those of one type; never by name."""
    return [
        s
        for r in image["renditions"].values()
        for s in r["sources"]
        if content_type is None or s["contentType"] == content_type
    ]


def fallbacks_of(image: dict) -> list[dict]:
    return list(image["renditions"].values())


def rgb(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def test_the_gallery_paints_each_photo_s_placeholder_before_the_photo_arrives(page, site, stack, user):
    """A slow network: the tile shows the photo's mean colour and its ThumbHash blur while the
    image itself is on its way (here held back at the network), then the image once it arrives."""
    image = upload_as(stack, user, phone_jpeg(1200, 900, orientation=1), "held.jpg")
    assert image["status"] == "processed", image
    assert image["dominantColor"] and image["placeholder"]
    held, released = [], []

    def hold(route):
        if released:
            return route.continue_()
        held.append(route)  # answered when the test says so

    page.route(f"{stack.endpoint}/{stack.outputs['processedBucket']}/**", hold)
    sign_in(page, site, user)
    picture = page.locator(f"#gallery li.tile[data-id='{image['id']}'] picture")
    picture.wait_for()
    img = picture.locator("img")
    for _ in range(300):  # the browser has asked for the image, and is waiting for it
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "the page never asked for the image"

    expect(picture).to_have_css("background-color", rgb(image["dominantColor"]))
    expect(picture).to_have_css("background-image", re.compile(r'^url\("data:image/png;base64,'))
    assert img.evaluate("i => !i.complete && i.naturalWidth === 0")  # nothing of the image yet
    expect(img).to_have_css("opacity", "0")
    # What a person sees: the tile's middle is the photo's colours (the blur), not a blank tile.
    shot = Image.open(io.BytesIO(picture.screenshot())).convert("RGB")
    seen = shot.resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
    expected = tuple(int(image["dominantColor"][i : i + 2], 16) for i in (1, 3, 5))
    assert all(abs(a - b) <= 40 for a, b in zip(seen, expected, strict=True)), (seen, expected)
    assert min(seen) < 230, seen  # not the white of an empty tile
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "gallery-placeholders.png"))

    released.append(True)
    for route in held:
        route.continue_()
    wait_for(
        page,
        f"(() => {{ const i = document.querySelector(\"#gallery li.tile[data-id='{image['id']}'] img\");"
        " return i.complete && i.naturalWidth > 0; })()",
    )
    expect(img).to_have_css("opacity", "1")
    expect(picture).to_have_class(re.compile(r"\bloaded\b"))


def test_a_photo_whose_url_went_stale_is_asked_for_again_and_shows(page, site, stack, user):
    """A tab left open past its URLs' lifetime, or a photo re-rendered meanwhile (`make
    reprocess`): the image's first request fails; the page asks the API for the image again and
    shows it with its current URLs."""
    image = upload_as(stack, user, phone_jpeg(800, 600, orientation=1), "stale.jpg")
    assert image["status"] == "processed", image
    failed, asked_again = [], []

    def expire_once(route):
        if failed:
            return route.continue_()
        failed.append(route.request.url)
        route.fulfill(status=403, content_type="application/xml", body="<Error><Code>AccessDenied</Code></Error>")

    page.route(f"{stack.endpoint}/{stack.outputs['processedBucket']}/**", expire_once)
    page.on("request", lambda r: asked_again.append(r.url) if r.url.endswith(f"/images/{image['id']}") else None)
    sign_in(page, site, user)
    wait_for(
        page,
        f"(() => {{ const i = document.querySelector(\"#gallery li.tile[data-id='{image['id']}'] img\");"
        " return i && i.complete && i.naturalWidth > 0; })()",
    )
    assert failed and asked_again, (failed, asked_again)


def test_chromium_fetches_the_avif_that_fits_the_tile_and_never_the_jpeg(browser, site, stack, user):
    """A browser that shows AVIF gets AVIF (image/avif on the wire), in the smallest size that is
    sharp in the tile at its pixel density: a phone gets a bigger one than a desktop's 1x screen;
    the JPEG fallback is not fetched at all."""
    image = upload_as(stack, user, phone_jpeg(1200, 900, orientation=1), "modern.jpg")
    assert image["status"] == "processed", image
    avif = {path_of(f["url"]): f["width"] for f in files_of(image, "image/avif")}
    assert len(set(avif.values())) == 4  # large, preview, small, thumbnail: 1200, 1024, 640, 320
    jpeg = {path_of(f["url"]) for f in fallbacks_of(image)}
    assert all(f["contentType"] == "image/jpeg" for f in fallbacks_of(image))

    chosen = []
    for options in (
        {"viewport": {"width": 1100, "height": 900}},
        {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "device_scale_factor": 3},
    ):
        page = new_page(browser, **options)
        responses = []
        page.on("response", lambda r, seen=responses: stack.outputs["processedBucket"] in r.url and seen.append(r))
        sign_in(page, site, user)
        wait_for_gallery_images(page, 1)
        img = page.locator(f"#gallery li.tile[data-id='{image['id']}'] img")
        current, tile, density = img.evaluate(
            "i => [i.currentSrc, i.getBoundingClientRect().width, window.devicePixelRatio]"
        )
        assert path_of(current) in avif, current
        got = [r for r in responses if r.url == current]
        assert got and got[0].headers["content-type"] == "image/avif"
        assert not [r.url for r in responses if path_of(r.url) in jpeg]  # no JPEG besides
        # The tile is square and the photo 4:3 (object-fit: cover): it is shown 4/3 as wide.
        needed = tile * 4 / 3 * density
        width = avif[path_of(current)]
        assert width >= needed and not [w for w in avif.values() if needed <= w < width], (width, needed)
        chosen.append(width)
        page.context.close()
    assert chosen[0] < chosen[1], chosen  # the phone's 3x screen needs more pixels than 1x


def test_a_photo_from_before_avif_still_shows_in_the_gallery_and_the_preview(page, site, stack, user):
    """Records made before AVIF and placeholders have a 1024px preview and a 256px thumbnail, one
    JPEG each, no placeholder and no facts: the gallery and the preview show them as before."""
    image_id, etag = uuid.uuid4().hex, uuid.uuid4().hex
    created = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    processed = stack.outputs["processedBucket"]
    renditions = {}
    for name, size in (("preview", (1024, 768)), ("thumbnail", (256, 192))):
        data = encode(photo(*size, seed=5), "JPEG", quality=85)
        key = f"{image_id}/{etag}/{name}.jpg"  # where the processor of then put them
        stack.s3().put_object(Bucket=processed, Key=key, Body=data, ContentType="image/jpeg")
        renditions[name] = {"width": size[0], "height": size[1], "bytes": len(data), "contentType": "image/jpeg"}
        renditions[name]["key"] = key
    sub = json.loads(b64url_decode(user.http.headers["Authorization"].split(".")[1]))["sub"]
    record = {
        "id": image_id,
        "status": "processed",
        "filename": "from-before.jpg",
        "contentType": "image/jpeg",
        "bytes": 300_000,
        "format": "JPEG",
        "width": 1200,
        "height": 900,
        "frames": 1,
        "hasAlpha": False,
        "colour": "assumed-srgb",
        "owner": sub,
        "ownerEmail": user.email,
        "createdAt": created,
        "updatedAt": created,
        "createdKey": f"{created}#{image_id}",
        "listPk": "IMAGE",
        "listedKey": f"{created}#{image_id}",
        "sourceEtag": etag,
        "renditions": renditions,
        # No uploadKey: the API then offers no original, and the page downloads the largest rendition.
    }
    serialize = TypeSerializer().serialize
    stack.dynamodb().put_item(TableName=stack.outputs["table"], Item={k: serialize(v) for k, v in record.items()})
    assert ImageRecords(stack.dynamodb(), stack.outputs["table"]).give_taken_keys() >= 1  # as deploy does: listed
    listed = user.http.get(f"{stack.api}/images/{image_id}").json()
    assert listed["placeholder"] is None and listed["dominantColor"] is None and listed["facts"] == {}
    assert [len(r["sources"]) for r in listed["renditions"].values()] == [1, 1]
    urls = {name: path_of(r["url"]) for name, r in listed["renditions"].items()}

    sign_in(page, site, user)
    wait_for_gallery_images(page, 1)
    tile = page.locator(f"#gallery li.tile[data-id='{image_id}']")
    assert tile.locator("source").count() == 0  # JPEG only: nothing for the browser to prefer
    assert path_of(tile.locator("img").evaluate("i => i.currentSrc")) == urls["thumbnail"]
    expect(tile.locator("picture")).to_have_css("background-image", "none")  # no placeholder: as before
    expect(tile.locator("img")).to_have_css("opacity", "1")

    tile.locator("button").click()
    viewer = page.locator("#viewer")
    viewer.wait_for(state="visible")
    wait_for(page, "document.getElementById('viewer-image')?.naturalWidth > 0")
    assert path_of(page.locator("#viewer-image").evaluate("i => i.currentSrc")) == urls["preview"]
    assert "1200×900" in viewer.inner_text()
    expect(page.locator("#viewer-facts-section")).to_be_hidden()
    download = page.get_by_role("link", name="Download", exact=True)
    assert path_of(download.get_attribute("href")) == urls["preview"]
    assert axe_violations(page) == []
