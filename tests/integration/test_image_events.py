"""Story: another application (a shop, a search index) subscribes to the stack's event bus with a
rule and an SQS queue, as docs/events.md shows, and is told about each photo without polling:
`Image Processed` for an upload, `Image Failed` for a refused file, `Image Deleted` after a DELETE;
every detail valid against docs/events/image-event.schema.json."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import jsonschema
import pytest

from handlers.image_events import DELETED, FAILED, PROCESSED, SOURCE
from tests.images import phone_jpeg

pytestmark = pytest.mark.integration

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs/events/image-event.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def subscribe(stack, name: str, pattern: dict) -> str:
    """A queue of the subscriber's, and a rule on the stack's bus that sends it what `pattern`
    matches (its policy lets that rule's EventBridge send, as AUTH=true needs); its URL."""
    events, bus = stack.client("events"), stack.outputs["eventBus"]
    rule_arn = events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(pattern))["RuleArn"]
    url, queue_arn = stack.queue_for(name, "events.amazonaws.com", rule_arn)
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "queue", "Arn": queue_arn}])
    return url


def told(stack, url: str, wanted: set[tuple[str, str]], seconds: float = 60) -> list[dict]:
    """The events the queue receives until every (detail type, image id) wanted is among them."""
    sqs, received = stack.client("sqs"), []
    deadline = time.monotonic() + seconds
    while not wanted <= {(e["detail-type"], e["detail"]["imageId"]) for e in received}:
        if time.monotonic() > deadline:
            seen = sorted((e["detail-type"], e["detail"]["imageId"]) for e in received)
            raise AssertionError(f"after {seconds} s the queue has {seen}, not all of {sorted(wanted)}")
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in answer.get("Messages", []):
            received.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return received


def test_a_subscriber_s_queue_is_told_of_a_processed_a_refused_and_a_deleted_photo(stack):
    url = subscribe(stack, f"shop-{uuid.uuid4().hex[:8]}", {"source": [SOURCE]})
    photo = stack.upload(phone_jpeg(640, 480), "told.jpg", "image/jpeg")["id"]
    refused = stack.upload(b"%PDF-1.7 a document, not a photo", "told.jpg", "image/jpeg")["id"]
    assert stack.wait_final(photo)["status"] == "processed"
    assert stack.wait_final(refused)["status"] == "failed"
    events = told(stack, url, {(PROCESSED, photo), (FAILED, refused)})
    (processed,) = [e["detail"] for e in events if (e["detail-type"], e["detail"]["imageId"]) == (PROCESSED, photo)]
    # The renditions the event names are the files the processor wrote (read with the stack's key).
    s3 = stack.s3()
    for sources in processed["renditions"].values():
        for source in sources:
            head = s3.head_object(Bucket=processed["bucket"], Key=source["key"])
            assert head["ContentLength"] == source["bytes"] and head["ContentType"] == source["contentType"]

    deleted = stack.http.delete(f"{stack.api}/images/{photo}")
    assert deleted.status_code == 204, deleted.text
    events += told(stack, url, {(DELETED, photo)})

    for event in events:  # the envelope EventBridge makes, and our detail in it
        assert event["source"] == SOURCE and event["detail-type"] in (PROCESSED, FAILED, DELETED)
        VALIDATOR.validate(event["detail"])
    (failed,) = [e["detail"] for e in events if (e["detail-type"], e["detail"]["imageId"]) == (FAILED, refused)]
    image = stack.image(refused)
    assert failed["errorCode"] == image["error"]["code"] == "not_an_image"
    assert processed["bucket"] == stack.outputs["processedBucket"] and processed["owner"]
    # A rule's pattern picks what a subscriber wants: this one only failures.
    only_failures = subscribe(
        stack, f"moderation-{uuid.uuid4().hex[:8]}", {"source": [SOURCE], "detail-type": [FAILED]}
    )
    another = stack.upload(b"GIF89a but not really", "bad.gif", "image/gif")["id"]
    kept = stack.upload(phone_jpeg(320, 240), "fine.jpg", "image/jpeg")["id"]
    told(stack, url, {(FAILED, another), (PROCESSED, kept)})  # both sent: every rule has had them
    assert {(e["detail-type"], e["detail"]["imageId"]) for e in told(stack, only_failures, {(FAILED, another)})} == {
        (FAILED, another)
    }


def test_events_keep_coming_after_the_emulator_restarts(tmp_path):
    """The embedded emulator keeps the stream mapping's position but not the stream across a
    restart: without bootstrap/emulator_streams.py the first changes after it were skipped and
    their events never sent."""
    from bootstrap.local import start_emulator, stop_pid
    from tests.stack import deploy_stack

    with deploy_stack(tmp_path) as stack:
        url = subscribe(stack, "after-restart", {"source": [SOURCE], "detail-type": [PROCESSED]})
        before = [stack.upload(phone_jpeg(320, 240), f"b{i}.jpg", "image/jpeg")["id"] for i in range(3)]
        told(stack, url, {(PROCESSED, image_id) for image_id in before})
        stop_pid(stack.proc.pid)  # SIGTERM: MiniStack saves its state on the way out
        stack.proc = start_emulator(
            stack.port, stack.state / "emulator", stack.state / "logs" / "emulator.log", die_with_parent=True
        )
        after = stack.upload(phone_jpeg(320, 240), "after.jpg", "image/jpeg")["id"]
        assert stack.wait_final(after)["status"] == "processed"
        told(stack, url, {(PROCESSED, after)})
