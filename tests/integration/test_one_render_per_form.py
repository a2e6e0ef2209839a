"""User story: I got one upload form for one quota unit, and I post it again and again with other
bytes, hoping each post buys a full render (and replaces the photo the renditions were made from).
Against the emulator: its versioned bucket, its S3 events, the deployed processor.
"""

from __future__ import annotations

import json
import statistics
import time

import pytest
import requests

from tests.images import encode, photo

pytestmark = pytest.mark.integration

REPOSTS = 6


def versions(stack, key: str) -> list[dict]:
    listing = stack.s3().list_object_versions(Bucket=stack.outputs["uploadBucket"], Prefix=key)
    return [v for v in listing.get("Versions", []) if v["Key"] == key]


def test_a_form_posted_again_renders_nothing_and_the_photo_stays_the_first_one(stack):
    first = encode(photo(640, 480), "JPEG")
    created = stack.create_upload("mine.jpg", "image/jpeg", len(first))
    assert stack.post_file(created["upload"], first, "image/jpeg").status_code in (200, 204)
    image = stack.wait_final(created["id"])
    assert image["status"] == "processed"
    key = f"uploads/{created['id']}"
    [original] = versions(stack, key)

    # The same form, with other bytes of exactly the declared size (the policy binds the size), one
    # after the other, each once the last is dealt with (the times below are then warm runs').
    started = time.monotonic()
    for n in range(REPOSTS):
        other = first[:-66] + bytes([n]) * 64 + first[-2:]  # other pixels, the same size
        assert stack.post_file(created["upload"], other, "image/jpeg").status_code in (200, 204)
        deadline = time.monotonic() + 60
        while len(versions(stack, key)) > 1:
            assert time.monotonic() < deadline, versions(stack, key)
            time.sleep(0.1)
    removed_in = time.monotonic() - started

    [left] = versions(stack, key)
    assert (left["VersionId"], left["ETag"], left["IsLatest"]) == (
        original["VersionId"],
        original["ETag"],
        True,
    )
    again = stack.image(created["id"])
    assert again["updatedAt"] == image["updatedAt"] and again["renditions"] == image["renditions"]
    assert requests.get(again["original"]["url"]).content == first
    # Each one was turned away by the processor, by name, before any decoding.
    logs = stack.logs().filter_log_events(
        logGroupName=f"/aws/lambda/{stack.outputs['functions']['processor']}", filterPattern=created["id"]
    )
    turned_away = [e for e in logs["events"] if "file posted again with its form removed" in e["message"]]
    assert len(turned_away) == REPOSTS, [e["message"] for e in logs["events"]]
    rendered = [e for e in logs["events"] if '"image processed"' in e["message"]]
    print(
        f"\n{REPOSTS} re-posts removed, none decoded, {removed_in / REPOSTS:.2f} s each from post to removal;"
        f" processor time (Lambda REPORT): a re-post {median_ms(stack, turned_away):.0f} ms,"
        f" the render {median_ms(stack, rendered):.0f} ms"
    )


def median_ms(stack, lines: list[dict]) -> float:
    """The median Duration of the invocations that wrote these log lines (their REPORT lines)."""
    ids = {json.loads(e["message"])["function_request_id"] for e in lines}
    group = f"/aws/lambda/{stack.outputs['functions']['processor']}"
    durations = [
        float(e["message"].split("Duration: ")[1].split(" ms")[0])
        for e in stack.logs().filter_log_events(logGroupName=group, filterPattern="REPORT")["events"]
        if any(f"RequestId: {i}" in e["message"] for i in ids)
    ]
    return statistics.median(durations) if durations else float("nan")
