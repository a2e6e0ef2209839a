"""User story: nobody can use my upload link for anything but the one file it was made for,
and nobody can read the buckets without a link. Enforced by S3 itself (the emulator runs
with AUTH=true: signatures and IAM are checked), not by the page. The door to the link,
POST /uploads, answers hostile bodies with typed errors, never a 500."""

from __future__ import annotations

import re
import time

import pytest
import requests

from tests.images import encode, photo

pytestmark = pytest.mark.integration

JPEG = encode(photo(120, 90), "JPEG")
# The stories that need a photo processed send bytes of their own: the same bytes again, sent
# without a declared hash, are recorded as a duplicate of the first (docs/duplicates.md).
PRIVATE_JPEG, KEPT_JPEG = (encode(photo(120, 90, seed=seed), "JPEG") for seed in (101, 102))


def refused(response: requests.Response, status: int, code: str) -> bool:
    return response.status_code == status and f"<Code>{code}</Code>" in response.text


def test_s3_refuses_a_body_over_the_limit(stack):
    created = stack.create_upload("big.jpg", "image/jpeg", 1000)
    too_big = b"\xff" * (created["maxBytes"] + 1)
    response = stack.post_file(created["upload"], too_big, "image/jpeg")
    assert refused(response, 400, "EntityTooLarge"), response.text


def test_s3_refuses_an_empty_body(stack):
    created = stack.create_upload("empty.jpg", "image/jpeg", 1000)
    assert refused(stack.post_file(created["upload"], b"", "image/jpeg"), 400, "EntityTooSmall")


def test_s3_accepts_exactly_the_declared_size(stack):
    """The form binds the size the API was told (content-length-range [N, N]): a byte more or
    less is refused, so the record's `bytes` is what arrived."""
    created = stack.create_upload("exact.jpg", "image/jpeg", len(JPEG))
    for data, code in ((JPEG + b"\0", "EntityTooLarge"), (JPEG[:-1], "EntityTooSmall")):
        response = stack.post_file(created["upload"], data, "image/jpeg")
        assert refused(response, 400, code), (len(data), response.text)
    response = stack.post_file(created["upload"], JPEG, "image/jpeg")
    assert response.status_code in (200, 201, 204), response.text
    image = stack.wait_final(created["id"])
    assert (image["status"], image["bytes"]) == ("processed", len(JPEG))


def test_the_api_refuses_a_deep_or_oversized_body(stack):
    """Found against the stack: a 50,000-deep JSON array answered 500 (RecursionError)."""
    for body, status, code in (
        ("[" * 50_000, 413, "body_too_large"),  # refused unparsed
        ("[" * 2000 + "]" * 2000, 400, "invalid_request"),
    ):  # under the limit: parsed
        response = stack.http.post(f"{stack.api}/uploads", data=body, headers={"Content-Type": "application/json"})
        assert response.status_code == status and response.json()["error"]["code"] == code, response.text


def test_s3_refuses_another_content_type(stack):
    created = stack.create_upload("a.jpg", "image/jpeg", len(JPEG))
    fields = created["upload"]["fields"] | {"Content-Type": "text/html"}
    response = requests.post(created["upload"]["url"], data=fields, files={"file": ("a.html", JPEG, "text/html")})
    assert refused(response, 403, "AccessDenied"), response.text


def test_s3_refuses_another_key(stack):
    created = stack.create_upload("a.jpg", "image/jpeg", len(JPEG))
    for key in ("uploads/" + "f" * 32, "index.html", f"uploads/{created['id']}/../evil"):
        fields = created["upload"]["fields"] | {"key": key}
        response = requests.post(created["upload"]["url"], data=fields, files={"file": ("a.jpg", JPEG, "image/jpeg")})
        assert refused(response, 403, "AccessDenied"), (key, response.text)


def test_s3_refuses_other_metadata_than_the_form_binds(stack):
    """The file carries its record's origin (S3 is the truth): another owner, name or time is refused."""
    created = stack.create_upload("a.jpg", "image/jpeg", len(JPEG))
    fields = created["upload"]["fields"]
    assert {"x-amz-meta-owner", "x-amz-meta-owner-email", "x-amz-meta-filename", "x-amz-meta-created"} <= set(fields)
    for name, forged in (
        ("x-amz-meta-owner", "someone-else"),
        ("x-amz-meta-filename", "other.jpg"),
        ("x-amz-meta-created", "2001-01-01T00:00:00.000Z"),
    ):
        response = requests.post(
            created["upload"]["url"], data=fields | {name: forged}, files={"file": ("a.jpg", JPEG, "image/jpeg")}
        )
        assert refused(response, 403, "AccessDenied"), (name, response.text)
    assert stack.post_file(created["upload"], JPEG, "image/jpeg").status_code in (200, 204)
    head = stack.s3().head_object(Bucket=stack.outputs["uploadBucket"], Key=fields["key"])
    assert head["Metadata"]["filename"] == "a.jpg" and head["Metadata"]["owner"] == fields["x-amz-meta-owner"]


def test_s3_refuses_an_expired_policy(stack):
    with stack.function_env("api", UPLOAD_EXPIRY_SECONDS="1"):
        created = stack.create_upload("late.jpg", "image/jpeg", len(JPEG))
    time.sleep(2.5)
    response = stack.post_file(created["upload"], JPEG, "image/jpeg")
    assert refused(response, 403, "AccessDenied") and "expired" in response.text.lower(), response.text


def test_buckets_are_private_and_renditions_served_by_short_lived_links(stack):
    stack.embedded_only("AUTH=true: the emulator checks every request's signature")
    created = stack.upload(PRIVATE_JPEG, "private.jpg", "image/jpeg")
    image = stack.wait_final(created["id"])
    assert image["status"] == "processed"
    url = image["renditions"]["preview"]["url"]
    # Signed at the start of the hour, valid for the hour plus RENDITION_URL_SECONDS (900).
    assert "X-Amz-Expires=4500" in url and re.search(r"X-Amz-Date=\d{8}T\d{2}0000Z", url), url
    signed = requests.get(url)
    assert signed.status_code == 200
    assert signed.headers["Content-Type"] == "image/jpeg"
    assert signed.headers["Content-Disposition"] == "inline"
    # The same object without a signature, and the original upload: refused.
    assert requests.get(url.split("?")[0]).status_code == 403
    upload_url = f"{stack.endpoint}/{stack.outputs['uploadBucket']}/uploads/{created['id']}"
    assert requests.get(upload_url).status_code == 403
    # An unsigned POST to the upload bucket: refused.
    response = requests.post(
        f"{stack.endpoint}/{stack.outputs['uploadBucket']}",
        data={"key": "uploads/" + "0" * 32},
        files={"file": ("a.jpg", JPEG, "image/jpeg")},
    )
    assert response.status_code in (400, 403)
    assert (
        stack.s3().list_objects_v2(Bucket=stack.outputs["uploadBucket"], Prefix="uploads/" + "0" * 32).get("KeyCount")
        == 0
    )


def test_records_of_uploads_that_never_arrive_expire(stack):
    """DynamoDB TTL removes them (the emulator's reaper runs once a minute); processed ones stay."""
    stack.embedded_only("its TTL reaper runs every minute; LocalStack's hourly")
    with stack.function_env("api", UPLOAD_EXPIRY_SECONDS="1", PENDING_TTL_SECONDS="1"):
        abandoned = stack.create_upload("never-sent.jpg", "image/jpeg", 1000)
        kept = stack.upload(KEPT_JPEG, "sent.jpg", "image/jpeg")
    assert stack.wait_final(kept["id"])["status"] == "processed"
    deadline = time.monotonic() + 90
    while stack.http.get(f"{stack.api}/images/{abandoned['id']}").status_code == 200:
        assert time.monotonic() < deadline, "the pending record of an abandoned upload never expired"
        time.sleep(2)
    assert stack.image(kept["id"])["status"] == "processed"
