"""handlers/image_events.py and image_events_lambda.py: which changes of a record are events, what
their detail says (valid against docs/events/image-event.schema.json, nothing personal but the
owner's sub), the same eventId for every delivery of one change, and a send that retries what
PutEvents failed, then raises so the stream retries the batch. The changes are the table's real
stream (moto) under the real processor, API repository and re-render."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jsonschema
import pytest

from bootstrap.deploy.bus import ensure_table_stream
from bootstrap.deploy.config import StackConfig
from bootstrap.deploy.executor import Aws
from handlers.formats import RenditionSpec
from handlers.image_events import DELETED, FAILED, PROCESSED, RERENDERED, event_id, image_event
from handlers.image_events_lambda import EventsNotSent, correlation_ids, entries, events_of, send
from handlers.processor import process_event, rerender, s3_event
from handlers.records import ImageRecords
from tests.images import phone_jpeg
from tests.unit.conftest import ALICE

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs/events/image-event.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def valid(detail: dict) -> dict:
    VALIDATOR.validate(detail)
    return detail


@pytest.fixture
def streamed(aws_env):
    """The stack's table with its stream on (as deploy turns it on), and what the stream holds from
    its start. (moto 5.2.5 keeps the stream but answers DescribeStream "not yet implemented": its
    records, each as the stream API gives it, are read from its backend.)"""
    from moto.dynamodb.models import dynamodb_backends

    settings, clients = aws_env
    cfg = StackConfig(target="aws", region="us-east-1", endpoint_url=None)
    ensure_table_stream(Aws(cfg), cfg)
    table = dynamodb_backends["123456789012"]["us-east-1"].get_table(settings.table_name)

    def changes() -> list[dict]:
        return [json.loads(json.dumps(change.to_json(), default=str)) for change in table.stream_shard.items]

    return settings, clients, ImageRecords(clients.dynamodb, settings.table_name), changes


def upload(settings, clients, records, image_id: str, data: bytes) -> None:
    """POST /uploads' record, then the file and its S3 event, as the processor gets it."""
    records.create_pending(image_id, "holiday.jpg", "image/jpeg", len(data), ALICE["sub"], ALICE["email"], 2**31)
    put = clients.s3.put_object(Bucket=settings.upload_bucket, Key=f"uploads/{image_id}", Body=data)
    event = s3_event(
        settings.upload_bucket, (f"uploads/{image_id}", len(data), put["ETag"].strip('"'), put["VersionId"])
    )
    process_event(event, settings, clients)


def test_an_image_s_life_is_told_as_processed_re_rendered_deleted_and_a_refusal_as_failed(streamed):
    settings, clients, records, changes = streamed
    photo, refused = "a" * 32, "b" * 32
    upload(settings, clients, records, photo, phone_jpeg(800, 600))
    upload(settings, clients, records, refused, b"%PDF-1.7 not an image")
    newer = dataclasses.replace(settings, renditions=RenditionSpec(sizes=(("preview", 1024), ("thumbnail", 400))))
    assert rerender(photo, newer, clients, lease_seconds=60) == "processed"  # a lease, then new renditions
    records.delete(photo, ALICE["sub"], tombstone_until=2**31)

    told = list(events_of(changes(), settings.processed_bucket))
    # Upload forms, claims, leases are changes of the table, not events.
    assert [(t, d["imageId"]) for t, d in told] == [
        (PROCESSED, photo),
        (FAILED, refused),
        (RERENDERED, photo),
        (DELETED, photo),
    ]
    details = [valid(detail) for _, detail in told]
    processed, failed, rerendered, deleted = details
    assert processed["owner"] == ALICE["sub"] and processed["bucket"] == settings.processed_bucket
    assert processed["specVersion"] == settings.renditions.version
    # The keys are the renditions' in that bucket (the re-render's are there now: deleting the
    # record alone, as here, leaves the files).
    keys = {s["key"] for sources in rerendered["renditions"].values() for s in sources}
    assert all(clients.s3.head_object(Bucket=settings.processed_bucket, Key=key) for key in keys)
    assert rerendered["specVersion"] == newer.renditions.version and set(rerendered["renditions"]) == {
        "preview",
        "thumbnail",
    }
    assert failed["errorCode"] == "not_an_image" and failed["status"] == "failed"
    assert deleted["owner"] == ALICE["sub"] and deleted["status"] == "deleted"  # the owner from before
    # Nothing about the person but their sub: no email, no file name, no URL.
    text = json.dumps(details)
    assert ALICE["email"] not in text and "holiday" not in text and "http" not in text
    # Every delivery of these changes (a retried batch) carries the same ids; each change its own.
    again = [detail["eventId"] for _, detail in events_of(changes(), settings.processed_bucket)]
    assert again == [detail["eventId"] for detail in details] and len(set(again)) == 4


def test_event_ids_name_the_image_what_happened_and_when():
    assert event_id("a" * 32, PROCESSED, "2026-01-01T00:00:00.000Z") == event_id(
        "a" * 32, PROCESSED, "2026-01-01T00:00:00.000Z"
    )
    others = {
        event_id("b" * 32, PROCESSED, "2026-01-01T00:00:00.000Z"),
        event_id("a" * 32, FAILED, "2026-01-01T00:00:00.000Z"),
        event_id("a" * 32, PROCESSED, "2026-01-01T00:00:00.001Z"),
    }
    assert event_id("a" * 32, PROCESSED, "2026-01-01T00:00:00.000Z") not in others and len(others) == 3


def test_changes_that_are_no_event():
    processed = {"id": "a" * 32, "status": "processed", "updatedAt": "t1", "renditions": {}}
    assert image_event({"id": "a" * 32, "status": "pending"}, {"id": "a" * 32, "status": "processing"}, "b") is None
    assert image_event(processed, processed | {"rerenderUntil": 5}, "b") is None  # a lease
    assert image_event(processed, processed | {"takenKey": "k"}, "b") is None  # a backfill
    tombstone = {"id": "a" * 32, "status": "deleted", "updatedAt": "t2"}
    assert image_event(tombstone, None, "b") is None  # the tombstone expires
    assert image_event(None, {"id": "quota#someone", "uploads": 1}, "b") is None  # the table's own items


def test_a_change_the_function_cannot_read_is_skipped_not_raised():
    odd = {"dynamodb": {"Keys": {"id": {"S": "x"}}, "NewImage": {"id": {"S": "x"}, "status": {"S": "processed"}}}}
    assert list(events_of([odd], "bucket")) == []  # no updatedAt: logged, and the stream goes on


def test_each_change_names_its_upload_s_correlation_id_for_the_log_lines():
    changes = [
        {"dynamodb": {"NewImage": {"id": {"S": "a" * 32}, "correlationId": {"S": "req-1"}}}},
        {"dynamodb": {"OldImage": {"id": {"S": "b" * 32}, "correlationId": {"S": "req-2"}}}},  # a delete
        {"dynamodb": {"NewImage": {"id": {"S": "c" * 32}}}},  # a direct put: none
    ]
    assert correlation_ids(changes) == {"a" * 32: "req-1", "b" * 32: "req-2"}


class FlakyBus:
    """PutEvents that fails the entries of the images in `failing` `times` times each."""

    def __init__(self, failing: set[str], times: int):
        self.failing, self.left, self.calls = failing, dict.fromkeys(failing, times), []

    def put_events(self, Entries):
        self.calls.append([json.loads(e["Detail"])["imageId"] for e in Entries])
        answers = []
        for image_id in self.calls[-1]:
            if self.left.get(image_id, 0) > 0:
                self.left[image_id] -= 1
                answers.append({"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"})
            else:
                answers.append({"EventId": "e"})
        return {"FailedEntryCount": sum("ErrorCode" in a for a in answers), "Entries": answers}


def to_send(count: int) -> list[dict]:
    made = [(PROCESSED, {"imageId": f"{i:032x}", "eventId": f"{i:032x}"}) for i in range(count)]
    return entries(made, "imagepipe-events")


def test_entries_putevents_failed_are_sent_again_and_only_they():
    bus = FlakyBus({f"{3:032x}"}, times=2)
    send(bus, to_send(12), wait=lambda _: None)
    # Ten at a time (PutEvents' limit); the failed one again, alone, until it goes through.
    assert [len(call) for call in bus.calls] == [10, 1, 1, 2]
    assert bus.calls[1] == bus.calls[2] == [f"{3:032x}"]


def test_entries_still_failing_raise_so_the_stream_retries_the_batch():
    bus = FlakyBus({f"{3:032x}"}, times=99)
    with pytest.raises(EventsNotSent):
        send(bus, to_send(4), tries=3, wait=lambda _: None)
    assert bus.calls == [[f"{i:032x}" for i in range(4)], [f"{3:032x}"], [f"{3:032x}"]]
