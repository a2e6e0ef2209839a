"""User story: every photo S3 accepted ends `processed` or `failed`, exactly once in the
gallery, whatever happens in between: duplicate events, crashes, a restart, a burst."""

from __future__ import annotations

import contextlib
import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from bootstrap.local import start_emulator, stop_pid
from handlers.processor import s3_event
from tests.events import load_event
from tests.images import encode, phone_jpeg, photo
from tests.stack import FINAL

pytestmark = pytest.mark.integration


def lambda_client(stack):
    return stack.client("lambda")


def invoke(stack, payload: dict) -> dict:
    response = lambda_client(stack).invoke(
        FunctionName=stack.outputs["functions"]["processor"], Payload=json.dumps(payload).encode()
    )
    body = json.loads(response["Payload"].read() or b"null")
    assert "FunctionError" not in response, body
    return body


def renditions_bytes(stack, image_id: str) -> dict[str, bytes]:
    s3 = stack.s3()
    keys = [
        o["Key"]
        for o in s3.list_objects_v2(Bucket=stack.outputs["processedBucket"], Prefix=f"{image_id}/").get("Contents", [])
    ]
    return {k: s3.get_object(Bucket=stack.outputs["processedBucket"], Key=k)["Body"].read() for k in keys}


def gallery_ids(stack) -> list[str]:
    """Every listed image, as an admin sees them (files put into the bucket directly included)."""
    ids, cursor = [], None
    while True:
        params = {"limit": 100, "scope": "all"} | ({"cursor": cursor} if cursor else {})
        page = stack.admin.get(f"{stack.api}/images", params=params).json()
        ids += [i["id"] for i in page["items"]]
        cursor = page["nextCursor"]
        if not cursor:
            return ids


def test_the_same_event_twice_and_at_once_gives_one_record_and_the_same_renditions(stack):
    created = stack.upload(phone_jpeg(800, 600), "twice.jpg", "image/jpeg")
    assert stack.wait_final(created["id"])["status"] == "processed"
    before = renditions_bytes(stack, created["id"])
    key = f"uploads/{created['id']}"
    head = stack.s3().head_object(Bucket=stack.outputs["uploadBucket"], Key=key)
    event = s3_event(stack.outputs["uploadBucket"], (key, head["ContentLength"], head["ETag"].strip('"')))

    assert invoke(stack, event) == {key: "duplicate"}
    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(lambda _: invoke(stack, event), range(2)))
    assert outcomes == [{key: "duplicate"}, {key: "duplicate"}]
    assert stack.image(created["id"])["status"] == "processed"
    assert renditions_bytes(stack, created["id"]) == before
    assert gallery_ids(stack).count(created["id"]) == 1


@contextlib.contextmanager
def notifications_paused(stack):
    """The bucket's own event would be a third, unsynchronised delivery that may finish first."""
    s3, bucket = stack.s3(), stack.outputs["uploadBucket"]
    saved = s3.get_bucket_notification_configuration(Bucket=bucket)
    saved.pop("ResponseMetadata", None)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    try:
        yield
    finally:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=saved)


def test_concurrent_first_deliveries_of_a_direct_put(stack):
    """Two deliveries of a fresh object at once: one record, one set of renditions."""
    data = phone_jpeg(640, 480)
    key = "direct/concurrent.jpg"
    with notifications_paused(stack):
        etag = stack.s3().put_object(Bucket=stack.outputs["uploadBucket"], Key=key, Body=data)["ETag"].strip('"')
    event = s3_event(stack.outputs["uploadBucket"], (key, len(data), etag))
    with ThreadPoolExecutor(2) as pool:
        outcomes = [o[key] for o in pool.map(lambda _: invoke(stack, event), range(2))]
    assert "processed" in outcomes and set(outcomes) <= {"processed", "duplicate"}
    listed = [
        i
        for i in stack.admin.get(f"{stack.api}/images", params={"limit": 100, "scope": "all"}).json()["items"]
        if i["filename"] == "concurrent.jpg"
    ]
    assert len(listed) == 1
    assert stack.wait_final(listed[0]["id"], session=stack.admin)["status"] == "processed"
    # 640x480 turned upright: 480x640 (large, preview and small share it) and the 240x320 thumbnail.
    assert sorted(k.rsplit("/", 1)[1] for k in renditions_bytes(stack, listed[0]["id"])) == [
        "240x320.avif",
        "240x320.jpg",
        "480x640.avif",
        "480x640.jpg",
        "manifest.json",
    ]


def test_a_replaced_object_leaves_only_its_own_renditions(stack):
    """The same key written twice (a direct put replaced): once the newer object is processed
    under other rendition keys (WebP -> JPEG), the older renditions are gone from the bucket."""
    from handlers.formats import RenditionSpec
    from handlers.keys import image_id_for_key

    key = "direct/replaced.png"
    image_id = image_id_for_key(key)
    bucket = stack.outputs["uploadBucket"]
    for data, extension in (
        (encode(photo(300, 200).convert("RGBA"), "PNG"), "webp"),
        (encode(photo(300, 200), "PNG"), "jpg"),
    ):
        etag = stack.s3().put_object(Bucket=bucket, Key=key, Body=data)["ETag"].strip('"')
        # Processed by this call or by the notification's own delivery, whichever claims first.
        invoke(stack, s3_event(bucket, (key, len(data), etag)))
        spec = RenditionSpec().version
        expected = {
            f"{image_id}/{etag}/{spec}/300x200.avif",
            f"{image_id}/{etag}/{spec}/300x200.{extension}",
            f"{image_id}/{etag}/manifest.json",
        }
        deadline = time.monotonic() + 30
        while set(renditions_bytes(stack, image_id)) != expected:
            assert time.monotonic() < deadline, (sorted(renditions_bytes(stack, image_id)), expected)
            time.sleep(0.3)
        assert stack.wait_final(image_id, session=stack.admin)["status"] == "processed"


def test_a_rendition_upload_that_fails_once_is_retried_to_processed(stack):
    log = stack.state / "logs" / "emulator.log"
    with stack.function_env("processor", FAULT_INJECTION="rendition_put_once"):
        mark = log.stat().st_size if log.exists() else 0
        created = stack.upload(phone_jpeg(700, 500), "flaky.jpg", "image/jpeg")
        image = stack.wait_final(created["id"])
        deadline = time.monotonic() + 30
        while image["status"] != "processed" and time.monotonic() < deadline:
            time.sleep(0.5)  # failed (processing_error) until Lambda's retry completes it
            image = stack.image(created["id"])
    assert image["status"] == "processed", image
    if stack.backend == "embedded":  # the functions' output is in the emulator's log
        with log.open("rb") as f:
            f.seek(mark)
            assert b"injected fault (FAULT_INJECTION=rendition_put_once)" in f.read()


def dead_letters(stack, command: str = "list") -> str:
    """`make dlq` (list) or `make redrive` against this stack."""
    return stack.run_module("bootstrap.deadletters", command)


def test_an_event_that_keeps_failing_goes_to_the_dead_letter_queue_and_can_be_sent_back(stack):
    with stack.function_env("processor", FAULT_INJECTION="rendition_put_always"):
        created = stack.upload(phone_jpeg(600, 400), "doomed.jpg", "image/jpeg")
        deadline = time.monotonic() + 60
        while f"uploads/{created['id']}" not in dead_letters(stack):
            assert time.monotonic() < deadline, "the failing event never reached the dead-letter queue"
            time.sleep(1)
        image = stack.image(created["id"])
        assert image["status"] == "failed" and image["error"]["code"] == "processing_error"
    dead_letters(stack, "redrive")  # fixed: send it back
    deadline = time.monotonic() + 30
    while stack.image(created["id"])["status"] != "processed":
        assert time.monotonic() < deadline, stack.image(created["id"])
        time.sleep(0.5)


def test_fifty_concurrent_uploads_with_some_bad_files(stack):
    good = {f"burst-{i}.jpg": phone_jpeg(1600, 1200, orientation=1 + i % 8) for i in range(46)}
    bad = {f"burst-bad-{i}.jpg": b"definitely not a jpeg " * (i + 1) for i in range(4)}
    files = good | bad
    with ThreadPoolExecutor(16) as pool:
        created = dict(
            zip(files, pool.map(lambda name: stack.upload(files[name], name, "image/jpeg"), files), strict=True)
        )
    final = {}
    deadline = time.monotonic() + 240
    while len(final) < len(created) and time.monotonic() < deadline:
        for name, c in created.items():
            if name not in final:
                image = stack.image(c["id"])
                if image["status"] in FINAL:
                    final[name] = image
        time.sleep(1)
    missing = sorted(set(created) - set(final))
    assert not missing, f"never finished: {missing}"
    assert all(final[n]["status"] == "processed" for n in good), {n: final[n]["error"] for n in good}
    assert all(final[n]["status"] == "failed" and final[n]["error"]["code"] == "not_an_image" for n in bad)
    ids = gallery_ids(stack)
    assert all(ids.count(c["id"]) == 1 for c in created.values())


def test_uploads_accepted_before_an_emulator_restart_all_finish(tmp_path):
    """Stop the emulator right after S3 accepted the uploads (events in flight are lost with
    it), start it again on the same state: the sweep finishes every one of them."""
    from tests.stack import deploy_stack

    with deploy_stack(tmp_path, extra_env={"STUCK_AFTER_SECONDS": "1"}) as stack:
        ids = []
        for i in range(8):
            data = encode(photo(900, 600, seed=i), "JPEG") if i != 3 else b"broken upload"
            ids.append(stack.upload(data, f"restart-{i}.jpg", "image/jpeg")["id"])
        stop_pid(stack.proc.pid)  # SIGTERM: MiniStack saves its state on the way out
        stack.proc = start_emulator(
            stack.port, stack.state / "emulator", stack.state / "logs" / "emulator.log", die_with_parent=True
        )
        states = {i: stack.image(i)["status"] for i in ids}
        unfinished = {i for i, s in states.items() if s not in FINAL}
        assert unfinished, "nothing was in flight at the restart: the test proves nothing"
        time.sleep(1.5)  # older than STUCK_AFTER_SECONDS
        swept = invoke(stack, load_event("eventbridge_scheduled"))  # as EventBridge
        assert unfinished <= set(swept), (unfinished, swept)
        final = {i: stack.wait_final(i, 60) for i in ids}
        assert [final[i]["status"] for i in ids] == ["processed"] * 3 + ["failed"] + ["processed"] * 4
        listed = gallery_ids(stack)
        assert all(listed.count(i) == 1 for i in ids)
