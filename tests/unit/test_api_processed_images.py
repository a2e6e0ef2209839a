"""handlers/api.py on moto, a processed image as the page gets it: its sources, placeholder, facts
and stable URLs; the original's download, by what the processor found it to be."""

from __future__ import annotations

import json

import pytest

from handlers import api as api_module
from handlers.records import ImageRecords
from tests.unit.api_helpers import Api, arrive, create
from tests.unit.conftest import ALICE


@pytest.fixture
def api(aws_env):
    return Api(*aws_env)


# --- what the page gets for a processed image: sources, placeholder, facts, stable URLs ----------


def processed_through_the_pipeline(api, data: bytes) -> str:
    """POST /uploads, the file put where the form says, then the processor's own run on it."""
    from handlers.processor import process_event, s3_event

    image_id = create(api, size=len(data))[1]["id"]
    key = f"uploads/{image_id}"
    metadata = {"owner": ALICE["sub"], "owner-email": ALICE["email"], "filename": "photo.jpg"}
    put = api.clients.s3.put_object(Bucket=api.settings.upload_bucket, Key=key, Body=data, Metadata=metadata)
    event = s3_event(api.settings.upload_bucket, (key, len(data), put["ETag"].strip('"')))
    assert process_event(event, api.settings, api.clients) == {key: "processed"}
    return image_id


def test_an_image_lists_avif_and_fallback_sources_placeholder_and_facts(api):
    from urllib.parse import parse_qs, urlsplit

    from tests.images import phone_jpeg

    image_id = processed_through_the_pipeline(api, phone_jpeg(1200, 900))
    status, image, _ = api("GET", f"/images/{image_id}")
    assert status == 200
    assert image["placeholder"] and image["dominantColor"].startswith("#") and len(image["dominantColor"]) == 7
    assert image["facts"] == {"make": "imagepipe-test-phone"}  # and never its GPS block
    assert "GPS" not in json.dumps(image) and "52.0" not in json.dumps(image)
    assert set(image["renditions"]) == {"large", "preview", "small", "thumbnail"}
    for rendition in image["renditions"].values():
        types = [s["contentType"] for s in rendition["sources"]]
        assert types == ["image/avif", "image/jpeg"]
        assert {k: rendition[k] for k in ("contentType", "width", "height", "url")} == {
            k: rendition["sources"][-1][k] for k in ("contentType", "width", "height", "url")
        }
        for source in rendition["sources"]:
            query = parse_qs(urlsplit(source["url"]).query)
            assert query["response-content-type"] == [source["contentType"]]
    record = ImageRecords(api.clients.dynamodb, api.settings.table_name).get(image_id)
    for rendition in record["renditions"].values():
        for source in rendition["sources"]:
            stored = api.clients.s3.head_object(Bucket=api.settings.processed_bucket, Key=source["key"])
            assert stored["CacheControl"] == "public, max-age=31536000, immutable"
            assert stored["ContentType"] == source["contentType"]
    original = parse_qs(urlsplit(image["original"]["url"]).query)
    assert original["response-content-disposition"] == ["attachment; filename*=UTF-8''photo.jpg"]


def test_the_same_image_has_the_same_urls_within_the_hour(api, monkeypatch):
    from datetime import UTC, datetime

    from handlers import signing
    from tests.images import phone_jpeg

    image_id = processed_through_the_pipeline(api, phone_jpeg(640, 480))
    moments = iter([datetime(2026, 11, 28, 9, 0, 5, tzinfo=UTC), datetime(2026, 11, 28, 9, 59, 50, tzinfo=UTC)])
    monkeypatch.setattr(signing, "utc_now", lambda: current)
    current = next(moments)
    first = api("GET", f"/images/{image_id}")[1]
    current = next(moments)
    later = api("GET", f"/images/{image_id}")[1]
    assert first["renditions"] == later["renditions"] and first["original"] == later["original"]
    current = datetime(2026, 11, 28, 10, 0, 1, tzinfo=UTC)
    next_hour = api("GET", f"/images/{image_id}")[1]
    assert next_hour["renditions"]["thumbnail"]["url"] != first["renditions"]["thumbnail"]["url"]


def test_an_image_made_before_sources_existed_still_shows(api):
    """Records of two JPEGs (no sources, no placeholder) keep working until reprocessed."""
    image_id = create(api)[1]["id"]
    arrive(api, image_id)
    old = {
        name: {"key": f"{image_id}/etag/{name}.jpg", "width": w, "height": h, "bytes": 10, "contentType": "image/jpeg"}
        for name, w, h in (("preview", 1024, 768), ("thumbnail", 256, 192))
    }
    records = ImageRecords(api.clients.dynamodb, api.settings.table_name)
    assert records.mark_processed(image_id, "etag", {"renditions": old, "width": 1024, "height": 768})[0] == "processed"
    image = api("GET", f"/images/{image_id}")[1]
    assert image["placeholder"] is None and image["dominantColor"] is None and image["facts"] == {}
    for name, rendition in image["renditions"].items():
        assert rendition["width"] == old[name]["width"] and f"/{name}.jpg" in rendition["url"]
        assert [s["url"] for s in rendition["sources"]] == [rendition["url"]]


# --- the original's download: what the processor found it to be, never what the uploader said ----


def original_download(image: dict) -> tuple[str, str] | None:
    """(Content-Disposition, Content-Type) the original's presigned GET makes S3 answer with."""
    from urllib.parse import parse_qs, urlsplit

    if image["original"] is None:
        return None
    query = parse_qs(urlsplit(image["original"]["url"]).query)
    return query["response-content-disposition"][0], query["response-content-type"][0]


def through_the_pipeline(api, data: bytes, filename: str, content_type: str) -> tuple[str, str]:
    """An upload as the page makes it, with this name and declared type; (id, the processor's verdict)."""
    from handlers.processor import process_event, s3_event

    image_id = create(api, filename=filename, contentType=content_type, size=len(data))[1]["id"]
    key = f"uploads/{image_id}"
    metadata = {"owner": ALICE["sub"], "owner-email": ALICE["email"], "filename": filename}
    put = api.clients.s3.put_object(
        Bucket=api.settings.upload_bucket, Key=key, Body=data, Metadata=metadata, ContentType=content_type
    )
    event = s3_event(api.settings.upload_bucket, (key, len(data), put["ETag"].strip('"')))
    return image_id, process_event(event, api.settings, api.clients)[key]


def test_a_jpeg_named_html_downloads_as_a_jpeg(api):
    """The attack: a JPEG that is also a web page, named photo.html (declared as a PNG, even)."""
    from tests.hostile import html_jpeg

    image_id, verdict = through_the_pipeline(api, html_jpeg(), "photo.html", "image/png")
    assert verdict == "processed"
    image = api("GET", f"/images/{image_id}")[1]
    assert image["filename"] == "photo.html"  # the name the person gave it is still shown
    assert original_download(image) == ("attachment; filename*=UTF-8''photo.jpg", "image/jpeg")


def test_a_file_that_failed_is_offered_to_no_one(api):
    """An SVG declared as a PNG is refused by the processor: no download of it, under any name."""
    from tests.hostile import SVG

    image_id, verdict = through_the_pipeline(api, SVG, "x.png", "image/png")
    assert verdict == "failed"
    image = api("GET", f"/images/{image_id}")[1]
    assert image["status"] == "failed" and image["original"] is None
    assert image["renditions"] == {}


def test_an_image_not_judged_yet_has_no_download(api):
    image_id = create(api, filename="photo.html")[1]["id"]
    arrive(api, image_id)  # processing: the processor has not said what it is
    image = api("GET", f"/images/{image_id}")[1]
    assert image["status"] == "processing" and image["original"] is None


@pytest.mark.parametrize(
    "fmt, declared, expected",
    [
        ("PNG", "image/jpeg", ("attachment; filename*=UTF-8''a.png", "image/png")),
        ("MPO", "image/jpeg", ("attachment; filename*=UTF-8''a.jpg", "image/jpeg")),
        ("HEIF", "image/heic", ("attachment; filename*=UTF-8''a.heif", "image/heif")),
        (None, "image/jpeg", None),  # no format recorded: the page offers the largest rendition instead
        ("UNKNOWN", "image/jpeg", None),
    ],
)
def test_an_image_processed_before_this_change_downloads_as_its_detected_format(api, fmt, declared, expected):
    """The download is worked out when the image is shown, from the record's `format`: records made
    before keep working, and name their original by what it is too."""
    image_id = create(api, filename="a.html", contentType=declared)[1]["id"]
    arrive(api, image_id)
    details = {"renditions": {}, "width": 10, "height": 10} | ({"format": fmt} if fmt else {})
    assert ImageRecords(api.clients.dynamodb, api.settings.table_name).mark_processed(image_id, "etag", details)[0] == (
        "processed"
    )
    assert original_download(api("GET", f"/images/{image_id}")[1]) == expected


@pytest.mark.parametrize(
    "name, expected",
    [
        ("photo.html", "photo.jpg"),
        ("photo", "photo.jpg"),
        ("photo.JPEG", "photo.jpg"),
        ("photo.svg.html", "photo.svg.jpg"),
        ("photo..html", "photo.jpg"),
        ("Mr. Smith at the beach", "Mr. Smith at the beach.jpg"),
        ("été à Paris.htm", "été à Paris.jpg"),
        ("", "image.jpg"),
        (".html", "image.jpg"),
    ],
)
def test_download_name_replaces_any_extension(name, expected):
    assert api_module.download_name(name, ".jpg") == expected
