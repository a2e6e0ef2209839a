"""User story: I upload a photo, then a smaller copy of it that a chat re-encoded; the gallery knows
they are the same picture (each lists the other in `similarTo`), a different photo is no one's near
duplicate, someone else's copy is never mine, and once I delete the copy the first no longer names
it. Against the emulator, over HTTP, through the deployed band index (docs/duplicates.md)."""

from __future__ import annotations

import hashlib
import random
import time

import pytest

from handlers.similarity import BANDS
from tests.images import encode, photo
from tests.integration.test_exact_duplicates import person

pytestmark = pytest.mark.integration


def scene(seed: int):
    # The same content a photo of its own (photo()'s gradient repeats every 256 seeds: 128 apart is
    # another picture, 28 bits or more away, measured).
    return photo(800, 600, seed=seed)


def upload(stack, session, data: bytes, content_type: str) -> dict:
    """The page's flow (with the file's hash), to the processed image."""
    body = {"filename": "photo", "contentType": content_type, "size": len(data)}
    response = session.post(f"{stack.api}/uploads", json=body | {"sha256": hashlib.sha256(data).hexdigest()})
    assert response.status_code == 201, response.text
    created = response.json()
    assert stack.post_file(created["upload"], data, content_type).status_code in (200, 201, 204)
    image = stack.wait_final(created["id"], session=session)
    assert image["status"] == "processed", image
    return image


def similar_to(stack, session, image_id: str, expected: list[str], seconds: float = 30) -> dict:
    """The image once its similarTo is `expected` (linked a moment after its record turned processed)."""
    deadline = time.monotonic() + seconds
    while True:
        image = stack.image(image_id, session)
        if image["similarTo"] == expected or time.monotonic() > deadline:
            assert image["similarTo"] == expected, image
            return image
        time.sleep(0.2)


def test_a_resized_re_encoded_copy_and_its_original_list_each_other_a_different_photo_does_not(stack):
    alice, seed = person(stack), random.randrange(10_000)
    first = upload(stack, alice, encode(scene(seed), "JPEG", quality=90), "image/jpeg")
    assert first["similarTo"] == []
    chat_copy = encode(scene(seed).resize((400, 300)), "WEBP", quality=60)
    copy = upload(stack, alice, chat_copy, "image/webp")
    similar_to(stack, alice, copy["id"], [first["id"]])
    similar_to(stack, alice, first["id"], [copy["id"]])
    other = upload(stack, alice, encode(scene(seed + 128), "JPEG", quality=90), "image/jpeg")
    assert stack.image(other["id"], alice)["similarTo"] == []
    listed = {i["id"]: i["similarTo"] for i in alice.get(f"{stack.api}/images", params={"limit": 100}).json()["items"]}
    assert listed == {first["id"]: [copy["id"]], copy["id"]: [first["id"]], other["id"]: []}

    # Another person's copy of the same picture is theirs alone.
    bob = person(stack)
    bobs = upload(stack, bob, encode(scene(seed).resize((600, 450)), "JPEG", quality=80), "image/jpeg")
    assert stack.image(bobs["id"], bob)["similarTo"] == []
    assert stack.image(first["id"], alice)["similarTo"] == [copy["id"]]

    # Deleting the copy removes it from the first's similarTo, and its band items from the index.
    assert alice.delete(f"{stack.api}/images/{copy['id']}").status_code == 204
    assert stack.image(first["id"], alice)["similarTo"] == []
    bands = stack.dynamodb().scan(TableName=stack.outputs["similarTable"])["Items"]
    indexed = [item["id"]["S"] for item in bands]
    assert copy["id"] not in indexed
    assert indexed.count(first["id"]) == indexed.count(other["id"]) == BANDS
