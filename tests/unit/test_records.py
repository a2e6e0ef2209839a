"""handlers/storage.py and handlers/records.py: what an uploaded file and its manifest carry, and the
record they rebuild."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import unquote_plus

import pytest

from bootstrap.reconcile import reconcile
from handlers.keys import rendition_keys
from handlers.processor import process_event, s3_event
from handlers.records import ImageRecords, record_from_s3
from handlers.storage import fit_filename, origin_from_metadata, upload_metadata
from tests.images import phone_jpeg, taken_jpeg
from tests.unit.conftest import processor_invocations
from tests.unit.test_processor import put

CREATED = "2026-11-28T06:00:00.123Z"


def as_s3_returns(fields: dict) -> dict:
    """Metadata as S3 hands it back: lower-cased names without the x-amz-meta- prefix."""
    return {name.removeprefix("x-amz-meta-").lower(): value for name, value in fields.items()}


@pytest.mark.parametrize(
    "field, value",
    [
        ("owner", "a1a1a1a1-0000-4000-8000-000000000001"),
        ("ownerEmail", "zoë+photos@example.com"),  # not ASCII: percent-encoded in S3
        ("filename", "Ferien am Meer – 1/2 ☀.jpg"),
        ("createdAt", CREATED),
    ],
)
def test_each_metadata_field_survives_the_round_trip_through_s3(field, value):
    fields = {"owner": "sub-1", "ownerEmail": "a@example.com", "filename": "a.jpg", "createdAt": CREATED} | {
        field: value
    }
    sent = upload_metadata(fields["owner"], fields["ownerEmail"], fields["filename"], fields["createdAt"])
    assert all(v.isascii() for v in sent.values())
    assert origin_from_metadata(as_s3_returns(sent))[field] == value


def test_a_file_put_straight_into_the_bucket_has_no_origin():
    assert origin_from_metadata({}) == {}
    assert origin_from_metadata({"owner-email": "x@example.com"}) == {}  # an email alone owns nothing


HEAD = {
    "ETag": '"abc"',
    "ContentLength": 1234,
    "ContentType": "image/jpeg",
    "LastModified": datetime(2026, 11, 28, 7, 0, tzinfo=UTC),
}


@pytest.mark.parametrize(
    "manifest_field, value",
    [
        ("status", "processed"),
        ("updatedAt", "2026-11-28T06:01:00.000Z"),
        ("width", 600),
        ("height", 800),
        ("format", "JPEG"),
        ("frames", 1),
        ("hasAlpha", False),
        ("colour", "assumed-srgb"),
        (
            "renditions",
            {
                "preview": {
                    "key": "i/abc/preview.jpg",
                    "width": 600,
                    "height": 800,
                    "bytes": 9,
                    "contentType": "image/jpeg",
                }
            },
        ),
    ],
)
def test_each_manifest_field_reaches_the_rebuilt_record(manifest_field, value):
    manifest = {"status": "processed", "updatedAt": "2026-11-28T06:01:00.000Z", manifest_field: value}
    head = HEAD | {"Metadata": as_s3_returns(upload_metadata("sub-1", "a@example.com", "a.jpg", CREATED))}
    record = record_from_s3("uploads/" + "c" * 32, head, manifest)
    assert record[manifest_field] == value
    assert (record["owner"], record["filename"], record["createdAt"], record["bytes"]) == (
        "sub-1",
        "a.jpg",
        CREATED,
        1234,
    )
    assert record["manifestKey"] == f"{'c' * 32}/abc/manifest.json" and "unfinishedPk" not in record


def test_a_failure_s_manifest_rebuilds_the_failure():
    manifest = {"status": "failed", "updatedAt": CREATED, "error": {"code": "not_an_image", "message": "no"}}
    record = record_from_s3("camera/a.jpg", HEAD | {"Metadata": {}}, manifest)
    assert record["status"] == "failed" and record["error"]["code"] == "not_an_image"
    assert record["owner"] is None and record["filename"] == "a.jpg"
    assert record["createdAt"] == "2026-11-28T07:00:00.000Z"  # a direct put's: when S3 got it


def test_a_file_without_a_manifest_is_unfinished():
    record = record_from_s3("uploads/" + "d" * 32, HEAD | {"Metadata": {}}, None)
    assert record["status"] == "pending" and record["unfinishedPk"] and "manifestKey" not in record


def test_a_lost_table_is_rebuilt_from_the_buckets_and_reconcile_twice_changes_nothing(aws_env):
    settings, clients = aws_env
    records = ImageRecords(clients.dynamodb, settings.table_name)
    bucket, meta = settings.upload_bucket, upload_metadata("sub-1", "a@example.com", "IMG 1.jpg", CREATED)

    def upload(image_id: str, data: bytes) -> tuple:
        key = f"uploads/{image_id}"
        records.create_pending(
            image_id, "IMG 1.jpg", "image/jpeg", len(data), "sub-1", "a@example.com", 2**31, created_at=CREATED
        )
        etag = clients.s3.put_object(
            Bucket=bucket, Key=key, Body=data, ContentType="image/jpeg", Metadata=as_s3_returns(meta)
        )["ETag"].strip('"')
        return key, len(data), etag

    good, bad = upload("e" * 32, phone_jpeg(320, 240)), upload("f" * 32, b"not an image")
    direct = put(settings, clients, "camera/beach.jpg", phone_jpeg(200, 100))
    process_event(s3_event(bucket, good, bad, direct), settings, clients)
    waiting = upload("a" * 32, phone_jpeg(120, 90))  # arrived, its event lost
    before = {i: records.get(i) for i in ("e" * 32, "f" * 32, records.list(100, None)[0][-1]["id"])}

    for item in clients.dynamodb.scan(TableName=settings.table_name)["Items"]:  # the table is lost
        clients.dynamodb.delete_item(TableName=settings.table_name, Key={"id": item["id"]})
    redrives, sent = processor_invocations(clients)
    outputs = {
        "uploadBucket": bucket,
        "processedBucket": settings.processed_bucket,
        "table": settings.table_name,
        "similarTable": settings.similar_table,
        "functions": {"processor": "imagepipe-processor"},
    }
    said = []
    first = reconcile(clients.s3, clients.dynamodb, redrives.lambda_, outputs, log=said.append, bar=lambda _: None)
    assert first == {"restored": 3, "redriven": 1}
    for image_id, was in before.items():
        again = records.get(image_id)
        volatile = {"attempts", "expiresAt"}  # claims in flight and the pending TTL are not results
        assert {k: v for k, v in again.items() if k not in volatile} == {
            k: v for k, v in was.items() if k not in volatile
        }, image_id
    assert records.get("a" * 32)["status"] == "pending" and records.get("a" * 32)["owner"] == "sub-1"
    # Handed to the processor asynchronously, as S3 would have (processor_invocations checks how).
    assert [unquote_plus(e["Records"][0]["s3"]["object"]["key"]) for e in sent] == [waiting[0]]
    # Twice: nothing changes, nothing is sent again.
    second = reconcile(clients.s3, clients.dynamodb, redrives.lambda_, outputs, log=said.append, bar=lambda _: None)
    assert second == {"kept": 4}
    assert len(sent) == 1


def test_reconcile_never_brings_back_a_deleted_image(aws_env):
    settings, clients = aws_env
    records = ImageRecords(clients.dynamodb, settings.table_name)
    obj = put(settings, clients, "uploads/" + "b" * 32, phone_jpeg(320, 240))
    process_event(s3_event(settings.upload_bucket, obj), settings, clients)
    records.delete("b" * 32, None, tombstone_until=2**31)  # the file lingers (say, S3 failed to delete it)
    outputs = {
        "uploadBucket": settings.upload_bucket,
        "processedBucket": settings.processed_bucket,
        "table": settings.table_name,
        "similarTable": settings.similar_table,
        "functions": {"processor": "p"},
    }
    assert reconcile(clients.s3, clients.dynamodb, None, outputs, log=lambda _: None, bar=lambda _: None) == {"kept": 1}
    assert records.get("b" * 32)["status"] == "deleted"


def test_a_long_file_name_is_shortened_to_fit_s3_s_metadata_and_the_record_keeps_the_same():
    """Found in review: 200 emoji are 2.4 KB percent-encoded, over S3's 2 KB of user metadata."""
    name = "🌅" * 200
    sent = upload_metadata("a1a1a1a1-0000-4000-8000-000000000001", "someone@example.com", name, CREATED)
    assert sum(len(k) - len("x-amz-meta-") + len(v) for k, v in sent.items()) <= 2048
    kept = origin_from_metadata(as_s3_returns(sent))["filename"]
    assert kept == fit_filename(name) and name.startswith(kept) and len(kept) < len(name)


def test_reconcile_retires_a_record_whose_file_is_gone(aws_env):
    """Found in review: an image deleted after the table's last save came back with a restored
    table (locally: a crash reverts MiniStack to its last clean save), pointing at nothing."""
    settings, clients = aws_env
    records = ImageRecords(clients.dynamodb, settings.table_name)
    obj = put(settings, clients, "uploads/" + "c" * 32, phone_jpeg(320, 240))
    process_event(s3_event(settings.upload_bucket, obj), settings, clients)
    listed = rendition_keys(records.get("c" * 32))
    clients.s3.delete_object(Bucket=settings.upload_bucket, Key=obj[0])  # deleted; its record restored
    outputs = {
        "uploadBucket": settings.upload_bucket,
        "processedBucket": settings.processed_bucket,
        "table": settings.table_name,
        "similarTable": settings.similar_table,
        "functions": {"processor": "p"},
    }
    assert reconcile(clients.s3, clients.dynamodb, None, outputs, log=lambda _: None, bar=lambda _: None) == {
        "retired": 1
    }
    assert records.get("c" * 32)["status"] == "deleted"
    stored = {o["Key"] for o in clients.s3.list_objects_v2(Bucket=settings.processed_bucket).get("Contents", [])}
    assert not stored & listed
    assert reconcile(clients.s3, clients.dynamodb, None, outputs, log=lambda _: None, bar=lambda _: None) == {}


def outputs_of(settings) -> dict:
    return {
        "uploadBucket": settings.upload_bucket,
        "processedBucket": settings.processed_bucket,
        "table": settings.table_name,
        "similarTable": settings.similar_table,
        "functions": {"processor": "imagepipe-processor"},
    }


def test_a_checkpointed_upload_form_whose_file_arrived_is_listed_and_handed_to_the_processor(aws_env):
    """Found by the crash test: the table came back (a checkpoint) holding the upload form's record,
    `pending` and never listed; its file arrived after, and its event died with the emulator."""
    settings, clients = aws_env
    records = ImageRecords(clients.dynamodb, settings.table_name)
    meta = upload_metadata("sub-1", "a@example.com", "IMG 2.jpg", CREATED)
    records.create_pending("9" * 32, "IMG 2.jpg", "image/jpeg", 10, "sub-1", "a@example.com", 2**31, created_at=CREATED)
    clients.s3.put_object(
        Bucket=settings.upload_bucket, Key="uploads/" + "9" * 32, Body=b"x" * 10, Metadata=as_s3_returns(meta)
    )
    redrives, sent = processor_invocations(clients)
    outcome = reconcile(
        clients.s3, clients.dynamodb, redrives.lambda_, outputs_of(settings), log=lambda _: None, bar=lambda _: None
    )
    assert outcome == {"redriven": 1}
    assert [i["id"] for i in records.list(10, None, owner="sub-1")[0]] == ["9" * 32]
    assert len(sent) == 1


def test_reconcile_retires_a_processing_record_whose_file_is_gone(aws_env):
    """A checkpoint kept the record while processing; the image was deleted (its file first) in the
    seconds after it: it must not come back."""
    settings, clients = aws_env
    records = ImageRecords(clients.dynamodb, settings.table_name)
    obj = put(settings, clients, "uploads/" + "8" * 32, phone_jpeg(320, 240))
    records.start_processing("8" * 32, obj[0], obj[2], obj[1], "p.jpg", {}, version=obj[3])
    clients.s3.delete_object(Bucket=settings.upload_bucket, Key=obj[0])
    outcome = reconcile(
        clients.s3, clients.dynamodb, None, outputs_of(settings), log=lambda _: None, bar=lambda _: None
    )
    assert outcome == {"retired": 1}
    assert records.get("8" * 32)["status"] == "deleted"


OWNER = "owner-sub"  # the owner tests.unit.test_processor.put gives API uploads


def owner_listing(records: ImageRecords, limit: int) -> list[str]:
    """Every image of OWNER's gallery, page by page with the cursors the listing gives."""
    seen, cursor = [], None
    while True:
        page, cursor = records.list(limit, cursor, owner=OWNER)
        seen += [r["id"] for r in page]
        if not cursor:
            return seen


def test_a_person_s_photos_are_listed_by_when_they_were_taken_newest_first_across_pages(aws_env):
    """Arrived, each is listed by its upload time (its createdKey); processed, a photo whose EXIF says
    when it was taken moves to that time, and one that does not stays where it was."""
    settings, clients = aws_env
    records = ImageRecords(clients.dynamodb, settings.table_name)
    photos = {  # in upload order: each id sorts after the one before, so equal times keep this order
        "1" * 32: taken_jpeg("2019:06:01 23:30:00", "-05:00"),  # 1 June where it was taken, 2 June in UTC
        "2" * 32: phone_jpeg(320, 240),  # no taken time: its upload's
        "3" * 32: taken_jpeg("2024:05:01 18:30:05"),
        "4" * 32: phone_jpeg(240, 320),
    }
    objects = [put(settings, clients, f"uploads/{image_id}", data) for image_id, data in photos.items()]
    for key, size, etag, version in objects:
        records.start_processing(key.split("/")[1], key, etag, size, "x.jpg", {}, version=version)
    uploaded_first = list(reversed(photos))
    assert owner_listing(records, 3) == uploaded_first  # arrived: by upload time
    for image_id in photos:
        assert records.get(image_id)["takenKey"] == records.get(image_id)["createdKey"]

    process_event(s3_event(settings.upload_bucket, *objects), settings, clients)
    newest_first = ["4" * 32, "2" * 32, "3" * 32, "1" * 32]
    for limit in (1, 3, 100):
        assert owner_listing(records, limit) == newest_first
    assert records.get("1" * 32)["takenKey"] == f"2019-06-01T23:30:00.000#{'1' * 32}"  # the camera's clock
    assert records.get("2" * 32)["takenKey"] == records.get("2" * 32)["createdKey"]


def a_record_from_before(image_id: str, created: str, facts: dict | None = None, status: str = "processed") -> dict:
    """An item as the version before takenKey wrote it: listed in the retired byOwner (listedKey)."""
    return {
        "id": {"S": image_id},
        "status": {"S": status},
        "owner": {"S": OWNER},
        "filename": {"S": f"{image_id[:4]}.jpg"},
        "createdAt": {"S": created},
        "updatedAt": {"S": created},
        "createdKey": {"S": f"{created}#{image_id}"},
        "listPk": {"S": "IMAGE"},
        "listedKey": {"S": f"{created}#{image_id}"},
        "facts": {"M": {k: {"S": v} for k, v in (facts or {}).items()}},
    }


def test_the_backfill_lists_every_record_written_before_the_taken_key_once(aws_env):
    settings, clients = aws_env
    records = ImageRecords(clients.dynamodb, settings.table_name)
    table = settings.table_name
    clients.dynamodb.put_item(TableName=table, Item=a_record_from_before("a" * 32, "2025-01-02T10:00:00.000Z"))
    taken = {"takenAt": "2019-06-01T23:30:00-05:00"}
    clients.dynamodb.put_item(TableName=table, Item=a_record_from_before("b" * 32, "2025-01-03T10:00:00.000Z", taken))
    failed = a_record_from_before("c" * 32, "2025-01-01T10:00:00.000Z", status="failed")
    clients.dynamodb.put_item(TableName=table, Item=failed)
    tombstone = {"id": {"S": "d" * 32}, "status": {"S": "deleted"}, "updatedAt": {"S": "2025-01-04T10:00:00.000Z"}}
    clients.dynamodb.put_item(TableName=table, Item=tombstone)
    new = put(settings, clients, "uploads/" + "e" * 32, phone_jpeg(320, 240))  # this version's
    process_event(s3_event(settings.upload_bucket, new), settings, clients)
    assert owner_listing(records, 100) == ["e" * 32]  # the others are not in the new index yet

    assert records.give_taken_keys() == 3
    assert owner_listing(records, 2) == ["e" * 32, "a" * 32, "c" * 32, "b" * 32]
    assert records.get("b" * 32)["takenKey"] == f"2019-06-01T23:30:00.000#{'b' * 32}"
    assert "takenKey" not in records.get("d" * 32)  # a tombstone is never listed
    assert records.give_taken_keys() == 0  # idempotent: nothing left to give
