"""User story: whatever odd file a phone, camera or editor produced, my upload ends
`processed` (at its upright size) or `failed` with a reason; never stuck, never a crash.

Every file of the corpus (tests/corpus/pillow) goes through the deployed stack: API, presigned POST,
S3 notification, processor Lambda, DynamoDB, API again.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.images import CORPUS, corpus_manifest

pytestmark = pytest.mark.integration

CONTENT_TYPES = {
    "jpg": "image/jpeg",
    "mpo": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "gif": "image/gif",
    "avif": "image/avif",
    "heif": "image/heif",
    "heic": "image/heic",
}


@pytest.fixture(scope="module")
def corpus_results(stack):
    entries = corpus_manifest()

    def upload(entry):
        data = (CORPUS / entry["file"]).read_bytes()
        return entry["file"], stack.upload(data, entry["file"], CONTENT_TYPES[entry["file"].rsplit(".", 1)[1]])["id"]

    with ThreadPoolExecutor(max_workers=6) as pool:
        ids = dict(pool.map(upload, entries))
    results, deadline = {}, time.monotonic() + 240
    while len(results) < len(ids) and time.monotonic() < deadline:
        for name, image_id in ids.items():
            if name not in results:
                image = stack.image(image_id)
                if image["status"] in ("processed", "failed"):
                    results[name] = image
        time.sleep(0.5)
    return {entry["file"]: (entry, results.get(entry["file"])) for entry in entries}


@pytest.mark.parametrize("entry", corpus_manifest(), ids=lambda e: e["file"])
def test_corpus_file_ends_as_the_manifest_says(corpus_results, entry):
    _, image = corpus_results[entry["file"]]
    assert image is not None, f"{entry['file']} never reached processed or failed"
    assert image["status"] == entry["expect"], image.get("error")
    if entry["expect"] == "processed":
        assert f"{image['width']}x{image['height']}" == entry["oriented_size"]
        assert set(image["renditions"]) == {"large", "preview", "small", "thumbnail"}
        assert all(len(r["sources"]) == 2 for r in image["renditions"].values())
    else:
        assert image["error"]["code"] and image["error"]["message"]
