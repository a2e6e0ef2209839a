"""User story: I upload a photo I already have (from the phone, then again from the laptop); I am
told it is already in my gallery, nothing is uploaded and my quota is not charged. Someone else's
copy of the same photo is theirs; a client that lies about the hash gets a failed upload; a copy put
straight into the bucket by an old client is recorded as a duplicate, not rendered again. Against
the emulator, over HTTP."""

from __future__ import annotations

import hashlib
import time
import uuid

import pytest
import requests

from handlers.keys import image_id_for_key
from handlers.storage import upload_metadata
from tests.images import encode, photo

pytestmark = pytest.mark.integration


def a_photo() -> bytes:
    """A photo no other test uploads (its own pixels)."""
    return encode(photo(400, 300, seed=uuid.uuid4().int % 10_000), "JPEG")


def person(stack) -> requests.Session:
    return stack.session_for(f"dup-{uuid.uuid4().hex[:8]}@example.com")


def ask(stack, session, data: bytes, sha256: str | None = None) -> requests.Response:
    body = {"filename": "IMG_0042.JPG", "contentType": "image/jpeg", "size": len(data)}
    return session.post(f"{stack.api}/uploads", json=body | {"sha256": sha256 or hashlib.sha256(data).hexdigest()})


def upload(stack, session, data: bytes) -> dict:
    """The page's flow, with the hash: the API's form, then the bytes to S3; the image once final."""
    response = ask(stack, session, data)
    assert response.status_code == 201, response.text
    created = response.json()
    posted = stack.post_file(created["upload"], data, "image/jpeg", "IMG_0042.JPG")
    assert posted.status_code in (200, 201, 204), posted.text
    return stack.wait_final(created["id"], session=session)


def quota(stack, owner: str) -> dict:
    item = stack.dynamodb().get_item(TableName=stack.outputs["table"], Key={"id": {"S": f"quota#{owner}"}})["Item"]
    return {k: item[k]["N"] for k in ("dayUploads", "storedBytes")}


def gallery(stack, session) -> list[dict]:
    return session.get(f"{stack.api}/images", params={"limit": 100}).json()["items"]


def test_the_same_bytes_twice_by_one_person_are_one_image_and_the_second_costs_nothing(stack):
    alice, data = person(stack), a_photo()
    first = upload(stack, alice, data)
    assert first["status"] == "processed", first
    charged = quota(stack, first["ownerId"])
    again = ask(stack, alice, data)
    assert (again.status_code, again.json()) == (200, {"duplicateOf": first["id"]})
    assert quota(stack, first["ownerId"]) == charged
    assert [i["id"] for i in gallery(stack, alice)] == [first["id"]]


def test_the_same_bytes_by_two_people_are_two_images(stack):
    data = a_photo()
    alices, bobs = upload(stack, person(stack), data), upload(stack, person(stack), data)
    assert alices["status"] == bobs["status"] == "processed"
    assert alices["id"] != bobs["id"] and alices["ownerId"] != bobs["ownerId"]


def test_a_lying_hash_ends_failed_and_the_form_will_not_carry_another(stack):
    alice, data = person(stack), a_photo()
    lie = hashlib.sha256(b"some other photo").hexdigest()
    response = ask(stack, alice, data, sha256=lie)
    assert response.status_code == 201, response.text
    form = response.json()["upload"]
    # The declared hash is bound by the policy: a form whose hash was changed after signing is refused.
    changed = form | {"fields": form["fields"] | {"x-amz-meta-sha256": hashlib.sha256(data).hexdigest()}}
    assert stack.post_file(changed, data, "image/jpeg").status_code == 403
    assert stack.post_file(form, data, "image/jpeg").status_code in (200, 201, 204)
    image = stack.wait_final(response.json()["id"], session=alice)
    assert image["status"] == "failed" and image["error"]["code"] == "hash_mismatch", image
    assert image["renditions"] == {}
    assert ask(stack, alice, data).status_code == 201  # a failed upload is no one's original


def test_a_copy_put_straight_into_the_bucket_is_recorded_as_a_duplicate(stack):
    """An old client puts the file with its owner's metadata and no hash: the processor hashes it."""
    alice, data = person(stack), a_photo()
    first = upload(stack, alice, data)
    key = f"old-client/{uuid.uuid4().hex}/IMG_0042.JPG"
    meta = upload_metadata(first["ownerId"], first["owner"], "IMG_0042.JPG", "2026-12-04T08:00:00.000Z")
    metadata = {name.removeprefix("x-amz-meta-"): value for name, value in meta.items()}
    stack.s3().put_object(Bucket=stack.outputs["uploadBucket"], Key=key, Body=data, Metadata=metadata)
    copy_id, deadline = image_id_for_key(key), time.monotonic() + 90
    while (copy := alice.get(f"{stack.api}/images/{copy_id}")).status_code != 200 or copy.json()["status"] not in (
        "processed",
        "failed",
    ):
        assert time.monotonic() < deadline, copy.text
        time.sleep(0.3)
    recorded = copy.json()
    assert recorded["status"] == "failed" and recorded["error"]["code"] == "duplicate", recorded
    assert recorded["duplicateOf"] == first["id"] and recorded["renditions"] == {}
    rendered = stack.s3().list_objects_v2(Bucket=stack.outputs["processedBucket"], Prefix=f"{copy_id}/")
    assert [o["Key"].rsplit("/", 1)[1] for o in rendered["Contents"]] == ["manifest.json"]
