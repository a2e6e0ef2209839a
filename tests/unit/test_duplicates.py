"""Exact duplicates on moto (handlers/duplicates.py): POST /uploads with the caller's own bytes
answers `duplicateOf` and charges nothing; the form binds the declared hash; the processor refuses
a file that lies about it and records a copy that declared none as `duplicateOf` its original."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json

import pytest

from handlers.config import Quota
from handlers.duplicates import duplicate_of
from handlers.keys import image_id_for_key
from handlers.processor import process_event, rerender, s3_event
from handlers.records import ImageRecords, record_from_s3
from handlers.schema import CONTENT_INDEX, ImageRecord
from handlers.storage import upload_metadata
from tests.images import encode, phone_jpeg, photo
from tests.unit.api_helpers import Api, arrive, create
from tests.unit.conftest import ALICE, BOB
from tests.unit.test_records import as_s3_returns

PHOTO = phone_jpeg(320, 240)
SHA = hashlib.sha256(PHOTO).hexdigest()
DECLARED = ImageRecord.__required_keys__ | ImageRecord.__optional_keys__


@pytest.fixture
def api(aws_env):
    settings, clients = aws_env
    # Two uploads a day: a duplicate answer that charged a unit would leave no room for the second.
    return Api(dataclasses.replace(settings, quota=Quota(uploads_per_day=2, bytes=10**9)), clients)


def records_of(api) -> ImageRecords:
    return ImageRecords(api.clients.dynamodb, api.settings.table_name)


def table_ids(api) -> set[str]:
    items = api.clients.dynamodb.scan(TableName=api.settings.table_name)["Items"]
    return {i["id"]["S"] for i in items if not i["id"]["S"].startswith("quota#")}


def test_the_callers_own_bytes_answer_duplicate_of_with_no_form_no_record_and_no_quota(api):
    status, first, _ = create(api, sha256=SHA)
    assert status == 201
    arrive(api, first["id"])  # its file arrived: an image now
    ids = table_ids(api)
    for _ in range(3):
        assert create(api, sha256=SHA)[:2] == (200, {"duplicateOf": first["id"]})
    assert table_ids(api) == ids  # no pending record
    assert create(api, sha256="0" * 64)[0] == 201  # the day's second unit was never charged
    assert create(api, sha256="1" * 64)[0] == 429


def test_another_persons_same_bytes_are_a_new_image_and_nothing_says_they_exist(api):
    first = create(api, sha256=SHA)[1]
    arrive(api, first["id"])
    status, body, _ = create(api, claims=BOB, sha256=SHA)
    assert status == 201 and body["id"] != first["id"] and "duplicateOf" not in body


@pytest.mark.parametrize("state", ["never arrived", "failed", "deleted"])
def test_an_upload_that_is_no_image_is_no_original(api, state):
    """A form whose file never came, a refused file and a deleted image: the same bytes upload again."""
    image_id = create(api, sha256=SHA)[1]["id"]
    if state != "never arrived":
        arrive(api, image_id)
    if state == "failed":
        assert records_of(api).mark_failed(image_id, "etag", "not_an_image", "no")
    if state == "deleted":
        assert api("DELETE", f"/images/{image_id}")[0] == 204
    assert create(api, sha256=SHA)[0] == 201


@pytest.mark.parametrize("value", [SHA.upper(), SHA[:-1], SHA + "0", "", 12, ["a" * 64], "g" * 64, None])
def test_a_malformed_hash_is_a_typed_400(api, value):
    status, body, _ = create(api, sha256=value)
    assert (status, body["error"]["code"]) == (400, "invalid_request") and "sha256" in body["error"]["message"]


def test_the_form_binds_the_declared_hash_and_the_lookup_is_one_key_of_the_owners(api):
    queries: list[dict] = []
    db = api.clients.dynamodb
    db.meta.events.register("provide-client-params.dynamodb.Query", lambda params, **_: queries.append(params))
    db.meta.events.register("provide-client-params.dynamodb.Scan", lambda **_: pytest.fail("a scan"))
    status, body, _ = create(api, sha256=SHA)
    fields = body["upload"]["fields"]
    assert fields["x-amz-meta-sha256"] == SHA
    assert {"x-amz-meta-sha256": SHA} in json.loads(base64.b64decode(fields["policy"]))["conditions"]
    assert records_of(api).get(body["id"])["sha256"] == SHA
    (query,) = queries
    names, values = query["ExpressionAttributeNames"], query["ExpressionAttributeValues"]
    assert query["IndexName"] == CONTENT_INDEX and query["KeyConditionExpression"] == "#p = :p AND #h = :h"
    assert (names["#p"], values[":p"]["S"], names["#h"], values[":h"]["S"]) == ("owner", ALICE["sub"], "sha256", SHA)
    assert "x-amz-meta-sha256" not in create(api)[1]["upload"]["fields"]  # none declared, none bound


# --- the processor -------------------------------------------------------------------------------


def upload(settings, clients, image_id: str, data: bytes, owner: str, sha256: str | None) -> tuple:
    """A file as the form puts it: its pending record, then the object with the form's metadata."""
    ImageRecords(clients.dynamodb, settings.table_name).create_pending(
        image_id, "p.jpg", "image/jpeg", len(data), owner, "o@example.com", 2**31, sha256=sha256
    )
    meta = as_s3_returns(upload_metadata(owner, "o@example.com", "p.jpg", "2026-12-04T08:00:00.000Z", None, sha256))
    put = clients.s3.put_object(Bucket=settings.upload_bucket, Key=f"uploads/{image_id}", Body=data, Metadata=meta)
    return f"uploads/{image_id}", len(data), put["ETag"].strip('"'), put["VersionId"]


def direct_put(settings, clients, key: str, data: bytes, owner: str | None) -> tuple:
    """A file put straight into the bucket: an old client's (its owner's metadata, no hash), or anyone's."""
    meta = (
        as_s3_returns(upload_metadata(owner, None, key.rsplit("/", 1)[-1], "2026-12-04T08:00:00.000Z")) if owner else {}
    )
    put = clients.s3.put_object(Bucket=settings.upload_bucket, Key=key, Body=data, Metadata=meta)
    return key, len(data), put["ETag"].strip('"')


def manifest_of(settings, clients, record) -> dict:
    return json.load(clients.s3.get_object(Bucket=settings.processed_bucket, Key=record["manifestKey"])["Body"])


def test_a_file_that_is_not_its_declared_hash_ends_failed_and_is_not_decoded(aws_env, monkeypatch):
    from handlers import processor

    settings, clients = aws_env
    records = ImageRecords(clients.dynamodb, settings.table_name)
    lying = upload(settings, clients, "a" * 32, PHOTO, ALICE["sub"], hashlib.sha256(b"other bytes").hexdigest())
    monkeypatch.setattr(processor, "make_renditions", lambda *_: pytest.fail("a lying file was decoded"))
    assert process_event(s3_event(settings.upload_bucket, lying), settings, clients) == {lying[0]: "failed"}
    record = records.get("a" * 32)
    assert record["status"] == "failed" and record["error"]["code"] == "hash_mismatch"
    assert SHA in record["error"]["message"] and "sha256" not in record and "renditions" not in record
    assert manifest_of(settings, clients, record)["error"]["code"] == "hash_mismatch"
    assert duplicate_of(clients.dynamodb, settings.table_name, ALICE["sub"], SHA) is None  # no one's original


def test_the_hash_is_kept_by_the_record_its_manifest_a_re_render_and_a_rebuild(aws_env):
    settings, clients = aws_env
    records = ImageRecords(clients.dynamodb, settings.table_name)
    honest = upload(settings, clients, "b" * 32, PHOTO, ALICE["sub"], SHA)
    assert process_event(s3_event(settings.upload_bucket, honest), settings, clients) == {honest[0]: "processed"}
    record = records.get("b" * 32)
    assert record["sha256"] == SHA and manifest_of(settings, clients, record)["sha256"] == SHA
    assert rerender("b" * 32, settings, clients, lease_seconds=60, force=True) == "processed"
    assert records.get("b" * 32)["sha256"] == SHA
    head = clients.s3.head_object(Bucket=settings.upload_bucket, Key=honest[0])
    rebuilt = record_from_s3(honest[0], head, manifest_of(settings, clients, records.get("b" * 32)))
    assert rebuilt["sha256"] == SHA and rebuilt["owner"] == ALICE["sub"]
    assert duplicate_of(clients.dynamodb, settings.table_name, ALICE["sub"], SHA) == "b" * 32
    assert duplicate_of(clients.dynamodb, settings.table_name, BOB["sub"], SHA) is None


def test_a_copy_that_declared_no_hash_is_recorded_as_a_duplicate_not_rendered(aws_env):
    settings, clients = aws_env
    records = ImageRecords(clients.dynamodb, settings.table_name)
    first = upload(settings, clients, "c" * 32, PHOTO, ALICE["sub"], SHA)
    copy = direct_put(settings, clients, "old-client/IMG_1.jpg", PHOTO, ALICE["sub"])
    bobs = direct_put(settings, clients, "old-client/bob.jpg", PHOTO, BOB["sub"])
    nobodys = direct_put(settings, clients, "camera/beach.jpg", PHOTO, None)
    other = direct_put(settings, clients, "old-client/other.jpg", encode(photo(300, 200), "JPEG"), ALICE["sub"])
    bucket = settings.upload_bucket
    assert process_event(s3_event(bucket, first), settings, clients) == {first[0]: "processed"}
    outcomes = process_event(s3_event(bucket, copy, bobs, nobodys, other), settings, clients)
    assert outcomes == {copy[0]: "failed", bobs[0]: "processed", nobodys[0]: "processed", other[0]: "processed"}
    duplicate = records.get(image_id_for_key(copy[0]))
    assert duplicate["error"]["code"] == "duplicate" and duplicate["duplicateOf"] == "c" * 32
    assert duplicate["owner"] == ALICE["sub"] and "renditions" not in duplicate
    assert manifest_of(settings, clients, duplicate)["duplicateOf"] == "c" * 32  # a rebuilt record keeps it
    made = {o["Key"].split("/")[0] for o in clients.s3.list_objects_v2(Bucket=settings.processed_bucket)["Contents"]}
    listed = clients.s3.list_objects_v2(Bucket=settings.processed_bucket, Prefix=duplicate["id"])["Contents"]
    assert duplicate["id"] in made and [o["Key"].rsplit("/", 1)[1] for o in listed] == ["manifest.json"]
    assert set(duplicate) <= DECLARED, set(duplicate) - DECLARED
    # Shown by the API as the record says it.
    image = Api(settings, clients)("GET", f"/images/{duplicate['id']}")[1]
    assert image["duplicateOf"] == "c" * 32 and image["error"]["code"] == "duplicate"
    assert Api(settings, clients)("GET", f"/images/{'c' * 32}")[1]["duplicateOf"] is None


def test_a_table_from_before_gets_the_content_index_on_the_next_deploy_and_nothing_else(moto):
    """Deploy adds byOwnerContent to an existing table in place (UpdateTable, waited for), writes no
    record for it (records from before carry no hash until re-rendered), and a second deploy sends
    nothing."""
    from bootstrap.deploy.config import StackConfig
    from bootstrap.deploy.executor import Aws, DisplayOnlyExecutor
    from bootstrap.deploy.storage import ensure_table, settle_table
    from handlers.schema import TABLE_INDEXES
    from tests.unit.test_schema import index_keys, table_from_before

    cfg = StackConfig(target="embedded", region="us-east-1", endpoint_url=None)
    aws = Aws(cfg)
    before = {name: keys for name, keys in TABLE_INDEXES.items() if name != CONTENT_INDEX}
    table_from_before(aws, cfg, before)
    settle_table(aws, cfg, new_table=True)  # the takenKey backfill's note: done before
    said: list[str] = []
    dry = Aws(cfg, DisplayOnlyExecutor(reads="target", show=said.append))
    ensure_table(dry, cfg, wait=lambda _: None, log=said.append)
    (create,) = [c.params for c in dry.executor.calls if c.operation == "update_table"]
    assert create["GlobalSecondaryIndexUpdates"][0]["Create"] == {
        "IndexName": CONTENT_INDEX,
        "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["status", "listPk"]},
        "KeySchema": [
            {"AttributeName": "owner", "KeyType": "HASH"},
            {"AttributeName": "sha256", "KeyType": "RANGE"},
        ],
    }
    assert not {"put_item", "update_item"} & {c.operation for c in dry.executor.calls}  # no record written for it
    ensure_table(aws, cfg, wait=lambda _: None, log=said.append)
    assert index_keys(aws.dynamodb, cfg.table) == TABLE_INDEXES
    again = Aws(cfg, DisplayOnlyExecutor(reads="target", show=said.append))
    ensure_table(again, cfg, wait=lambda _: None, log=said.append)
    settle_table(again, cfg, new_table=False, log=said.append)
    assert again.executor.calls == []
