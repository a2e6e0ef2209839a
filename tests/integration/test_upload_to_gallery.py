"""User story: signed in, I upload photos through the API and the presigned POST, and they
appear, processed, in my gallery; I can delete my own. Against the emulator, over HTTP."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time

import pytest
import requests
from PIL import Image

from bootstrap.package import ROOT
from handlers.listing import taken_key
from tests.images import encode, phone_jpeg, photo

pytestmark = pytest.mark.integration


def fetch_image(url: str) -> tuple[Image.Image, bytes, requests.Response]:
    response = requests.get(url)
    assert response.status_code == 200, response.text
    image = Image.open(io.BytesIO(response.content))
    image.load()
    return image, response.content, response


def test_phone_photo_is_processed_upright_without_exif_or_gps(stack):
    data = phone_jpeg(1600, 1200, orientation=6)
    created = stack.upload(data, "IMG_0001.JPG", "image/jpeg")
    assert set(created) == {"id", "upload", "expiresAt", "maxBytes"}
    assert created["upload"]["fields"]["key"] == f"uploads/{created['id']}"

    image = stack.wait_final(created["id"])
    assert image["status"] == "processed", image
    assert (image["width"], image["height"]) == (1200, 1600)
    assert image["filename"] == "IMG_0001.JPG"
    assert image["bytes"] == len(data)
    assert image["error"] is None

    expected = {"large": (1200, 1600), "preview": (768, 1024), "small": (480, 640), "thumbnail": (240, 320)}
    for name, size in expected.items():
        rendition = image["renditions"][name]
        assert (rendition["width"], rendition["height"]) == size
        for source in rendition["sources"]:
            decoded, raw, response = fetch_image(source["url"])
            assert decoded.size == size
            assert response.headers["Content-Type"] == source["contentType"]
            assert len(raw) == source["bytes"]
            # What the decoder finds, not bytes searched for: "GPS" turns up inside compressed data.
            assert len(decoded.getexif()) == 0 and not {"exif", "xmp", "XML:com.adobe.xmp"} & set(decoded.info)
            assert "comment" not in decoded.info
        assert [s["contentType"] for s in rendition["sources"]] == ["image/avif", "image/jpeg"]


def test_transparent_png_keeps_alpha(stack):
    source = photo(500, 300).convert("RGBA")
    source.putalpha(Image.linear_gradient("L").resize((500, 300)))
    created = stack.upload(encode(source, "PNG"), "logo.png", "image/png")
    image = stack.wait_final(created["id"])
    assert image["status"] == "processed", image
    assert image["hasAlpha"] is True
    decoded, _, _ = fetch_image(image["renditions"]["thumbnail"]["url"])
    assert decoded.format == "WEBP" and decoded.mode == "RGBA"


def test_a_non_image_ends_failed_with_a_reason(stack):
    created = stack.upload(b"%PDF-1.4 this is not a photo" * 10, "holiday.jpg", "image/jpeg")
    image = stack.wait_final(created["id"])
    assert image["status"] == "failed"
    assert image["error"]["code"] == "not_an_image"
    assert image["error"]["message"]
    assert image["renditions"] == {}


def test_object_put_directly_into_the_bucket_is_processed(stack):
    key = "camera-roll/2026/beach day.jpg"
    data = phone_jpeg(900, 600, orientation=1)
    stack.s3().put_object(Bucket=stack.outputs["uploadBucket"], Key=key, Body=data, ContentType="image/jpeg")
    image_id = None
    for _ in range(300):
        # No owner: listed for admins (scope=all) only.
        listed = stack.admin.get(f"{stack.api}/images", params={"limit": 100, "scope": "all"}).json()["items"]
        match = [i for i in listed if i["filename"] == "beach day.jpg"]
        if match and match[0]["status"] in ("processed", "failed"):
            image_id = match[0]["id"]
            break
        time.sleep(0.3)
    assert image_id, "the directly put object never appeared processed in the listing"
    image = stack.admin.get(f"{stack.api}/images/{image_id}").json()
    assert image["status"] == "processed", image
    assert (image["width"], image["height"]) == (900, 600) and image["owner"] is None
    assert stack.http.get(f"{stack.api}/images/{image_id}").status_code == 404  # not the tester's


def test_gallery_lists_newest_first_and_pages_with_a_cursor(stack):
    ids = [stack.upload(encode(photo(64, 48, seed=i), "JPEG"), f"page-{i}.jpg", "image/jpeg")["id"] for i in range(3)]
    for image_id in ids:
        stack.wait_final(image_id)
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        response = stack.http.get(f"{stack.api}/images", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= 2
        seen += page["items"]
        cursor = page["nextCursor"]
        if not cursor:
            break
    listed_by = [taken_key(i) for i in seen]  # newest taken first, else newest uploaded
    assert listed_by == sorted(listed_by, reverse=True)
    assert len({i["id"] for i in seen}) == len(seen)
    order = [i["id"] for i in seen if i["id"] in ids]
    assert order == list(reversed(ids))


def test_delete_by_the_owner_removes_everything(stack):
    created = stack.upload(encode(photo(300, 200), "JPEG"), "delete-me.jpg", "image/jpeg")
    image = stack.wait_final(created["id"])
    url = f"{stack.api}/images/{created['id']}"

    assert stack.http.delete(url).status_code == 204
    gone = stack.http.get(url)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
    assert stack.http.delete(url).status_code == 404
    s3 = stack.s3()
    assert s3.list_objects_v2(Bucket=stack.outputs["processedBucket"], Prefix=created["id"]).get("KeyCount") == 0
    assert (
        s3.list_objects_v2(Bucket=stack.outputs["uploadBucket"], Prefix=f"uploads/{created['id']}").get("KeyCount") == 0
    )
    assert requests.get(image["renditions"]["preview"]["url"]).status_code == 404


@pytest.mark.parametrize(
    "body, status, code",
    [
        ("not json", 400, "invalid_request"),
        ({"filename": "a.jpg", "contentType": "image/jpeg"}, 400, "invalid_request"),
        ({"filename": "a.jpg", "contentType": "image/jpeg", "size": 26 * 1024 * 1024}, 413, "too_large"),
        ({"filename": "a.svg", "contentType": "image/svg+xml", "size": 10}, 415, "unsupported_type"),
    ],
    ids=["bad-json", "missing-size", "too-large", "svg"],
)
def test_bad_upload_requests_get_typed_json_errors(stack, body, status, code):
    kwargs = {"data": body} if isinstance(body, str) else {"json": body}
    response = stack.http.post(f"{stack.api}/uploads", **kwargs)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_unknown_routes_and_bad_queries_answer_json(stack):
    assert stack.http.get(f"{stack.api}/nothing-here").json()["error"]["code"] == "not_found"
    assert stack.http.get(f"{stack.api}/images", params={"limit": 0}).status_code == 400
    assert stack.http.get(f"{stack.api}/images", params={"cursor": "garbage"}).status_code == 400
    assert stack.http.get(f"{stack.api}/images/not-an-id").status_code == 404


def test_api_answers_cors_preflight_for_the_site(stack):
    response = requests.options(
        f"{stack.api}/uploads",
        headers={
            "Origin": stack.site_url,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert response.status_code in (200, 204)
    assert response.headers["Access-Control-Allow-Origin"] == stack.site_url
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "authorization" in response.headers["Access-Control-Allow-Headers"].lower()


def test_bootstrap_is_idempotent(stack):
    env = {"AWS_ENDPOINT_URL": stack.endpoint, "IMAGEPIPE_STATE_DIR": str(stack.state), "SITE_URL": stack.site_url}
    again = subprocess.run(
        [sys.executable, "-m", "bootstrap", "deploy", "--target", "embedded"],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert again.returncode == 0, again.stderr
    redeployed = json.loads(again.stdout)
    for key in ("apiId", "userPoolId", "userPoolClientId"):
        assert redeployed[key] == stack.outputs[key]
    outputs = subprocess.run(
        [sys.executable, "-m", "bootstrap", "outputs"],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    printed = json.loads(outputs.stdout)
    for key in (
        "target",
        "region",
        "endpointUrl",
        "apiUrl",
        "siteUrl",
        "uploadBucket",
        "processedBucket",
        "table",
        "userPoolId",
        "userPoolClientId",
        "siteConfig",
    ):
        assert key in printed
    # The stack still works after the second deploy.
    created = stack.upload(encode(photo(200, 100), "JPEG"), "after-redeploy.jpg", "image/jpeg")
    assert stack.wait_final(created["id"])["status"] == "processed"
