"""User story: I change the rendition spec (bigger thumbnails), deploy, and run `make reprocess`:
every photo made with the old spec is re-rendered once, the gallery keeps showing every photo
while it runs, the old files go, and running it again does nothing.

Through the real emulator: the processor Lambda does the work, invoked by the CLI.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest
import requests

from bootstrap.package import ROOT
from tests.images import encode, phone_jpeg, photo
from tests.stack import deploy_stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory):
    """A stack of its own: `reprocess` re-renders every image of a stack."""
    with deploy_stack(tmp_path_factory.mktemp("reprocess")) as stack:
        yield stack


def reprocess(stack, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "bootstrap", "reprocess", *args],
        env={**os.environ, "IMAGEPIPE_STATE_DIR": str(stack.state), "AWS_ENDPOINT_URL": stack.endpoint},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stderr


def spec_versions(stack) -> dict[str, str]:
    table = stack.client("dynamodb")
    items = table.scan(TableName=stack.outputs["table"])["Items"]
    processed = [i for i in items if i.get("status", {}).get("S") == "processed"]
    return {i["id"]["S"]: i.get("specVersion", {}).get("S") for i in processed}


def test_a_spec_change_re_renders_every_old_photo_once_while_the_gallery_keeps_working(own_stack):
    stack = own_stack
    ids = [stack.upload(phone_jpeg(900 + 100 * i, 600), f"p{i}.jpg", "image/jpeg")["id"] for i in range(3)]
    ids.append(stack.upload(encode(photo(500, 500), "PNG"), "square.png", "image/png")["id"])
    refused = stack.upload(b"not an image, but a jpeg by name", "broken.jpg", "image/jpeg")["id"]
    before = {i: stack.wait_final(i) for i in [*ids, refused]}
    assert all(before[i]["status"] == "processed" for i in ids) and before[refused]["status"] == "failed"
    thumbs = [before[i]["renditions"]["thumbnail"] for i in ids]
    assert {max(t["width"], t["height"]) for t in thumbs} == {320}
    old_versions = spec_versions(stack)

    with stack.function_env("processor", RENDITION_SIZES="preview=1024,thumbnail=400"):
        broken: list[str] = []
        running = threading.Event()
        running.set()

        def loads(image: dict) -> bool:
            thumb = image["renditions"]["thumbnail"]["sources"][0]["url"]
            return image["status"] == "processed" and requests.get(thumb, timeout=10).status_code == 200

        def browse():  # the page, polling the gallery while reprocess runs
            while running.is_set():
                for item in stack.http.get(f"{stack.api}/images", params={"limit": "100"}).json()["items"]:
                    # A URL listed just before its image was re-rendered may be gone when fetched
                    # (the page then asks for the image again, as for an expired URL): the image
                    # as the API shows it now must load.
                    if item["id"] != refused and not loads(item) and not loads(stack.image(item["id"])):
                        broken.append(f"{item['id']}: {item['status']}")

        watcher = threading.Thread(target=browse, daemon=True)
        watcher.start()
        try:
            said = reprocess(stack)
        finally:
            running.clear()
            watcher.join(30)
        assert "4 image(s) to re-render" in said and "4 processed" in said, said
        assert "/4 images" in said  # the progress bar
        assert broken == [], broken[:5]

        after = {i: stack.image(i) for i in ids}
        for image_id in ids:
            thumb = after[image_id]["renditions"]["thumbnail"]
            assert max(thumb["width"], thumb["height"]) == 400
            assert set(after[image_id]["renditions"]) == {"preview", "thumbnail"}
            assert [s["contentType"] for s in thumb["sources"]] == ["image/avif", "image/jpeg"]
            old_thumb = before[image_id]["renditions"]["thumbnail"]["sources"][0]["url"]
            assert requests.get(old_thumb, timeout=10).status_code == 404  # the old files are gone
            for source in thumb["sources"]:
                assert requests.get(source["url"], timeout=10).status_code == 200
        versions = spec_versions(stack)
        assert len({versions[i] for i in ids}) == 1 and all(versions[i] != old_versions[i] for i in ids)
        assert stack.image(refused)["status"] == "failed"  # nothing to re-render there

        # Idempotent and resumable: what is made with the current spec is skipped.
        assert "0 image(s) to re-render" in reprocess(stack)
        assert spec_versions(stack) == versions
        # One image on request, whatever its spec.
        assert "1 processed" in reprocess(stack, "--id", ids[0])
