"""handlers/schema.py is the table's one shape: the API's document, the repository's queries, the
records it writes, the table deploy makes and the indexes' sparseness must all agree with it."""

from __future__ import annotations

import ast
import json
import sys

import pytest
import yaml

from bootstrap.package import ROOT
from handlers.duplicates import duplicate_of
from handlers.keys import image_id_for_key, manifest_key
from handlers.processor import process_event, s3_event
from handlers.records import ImageRecords, record_from_s3
from handlers.schema import (
    CONTENT_INDEX,
    INDEX_ATTRIBUTES,
    LIST_INDEX,
    LIST_PARTITION,
    OWNER_INDEX,
    STATUS_INDEX,
    TABLE_INDEXES,
    TABLE_KEY,
    TTL_ATTRIBUTE,
    UNFINISHED_INDEX,
    UNFINISHED_PARTITION,
    UNFINISHED_STATUSES,
    ImageRecord,
    Status,
)
from tests.images import phone_jpeg
from tests.unit.test_processor import put

DECLARED = ImageRecord.__required_keys__ | ImageRecord.__optional_keys__
OWNER = "owner-sub"  # the owner tests.unit.test_processor.put gives API uploads


def test_the_schema_imports_only_the_standard_library():
    """Deploy imports it, and must not pull in boto3 or Powertools (nor any handler) through it."""
    tree = ast.parse((ROOT / "handlers" / "schema.py").read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {"." * n.level + (n.module or "") for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported and {name.split(".")[0] for name in imported} <= sys.stdlib_module_names


def test_the_api_document_lists_exactly_the_statuses_the_api_shows():
    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    documented = spec["components"]["schemas"]["Image"]["properties"]["status"]["enum"]
    assert sorted(documented) == sorted(s.value for s in Status if s is not Status.DELETED)  # tombstones: never shown


def test_the_api_document_names_exactly_the_fields_an_image_has(aws_env):
    """Every field the API shows of an image (its `day` too) is in openapi.yaml, which allows no other."""
    from handlers.api import Api

    record: ImageRecord = {"id": "a" * 32, "status": Status.PENDING, "createdAt": "2026-11-28T06:00:00.000Z"}
    image = Api.build(*aws_env).public_image(record)
    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text())["components"]["schemas"]["Image"]
    assert set(image) == set(spec["properties"]) and spec["additionalProperties"] is False
    assert image["day"] == "2026-11-28"


def test_the_record_type_declares_the_key_every_index_attribute_and_the_ttl():
    assert {TABLE_KEY, TTL_ATTRIBUTE, *(name for keys in TABLE_INDEXES.values() for name in keys)} <= DECLARED
    assert "status" in DECLARED and UNFINISHED_STATUSES < set(Status)


def test_the_deployed_table_is_the_schema_s(aws_env):
    settings, clients = aws_env
    table = clients.dynamodb.describe_table(TableName=settings.table_name)["Table"]
    assert table["KeySchema"] == [{"AttributeName": TABLE_KEY, "KeyType": "HASH"}]
    indexes = {
        index["IndexName"]: tuple(key["AttributeName"] for key in index["KeySchema"])
        for index in table["GlobalSecondaryIndexes"]
    }
    assert indexes == TABLE_INDEXES
    projections = {index["IndexName"]: index["Projection"] for index in table["GlobalSecondaryIndexes"]}
    assert projections == {
        name: {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(INDEX_ATTRIBUTES[name])}
        if name in INDEX_ATTRIBUTES
        else {"ProjectionType": "ALL"}
        for name in TABLE_INDEXES
    }
    ttl = clients.dynamodb.describe_time_to_live(TableName=settings.table_name)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == TTL_ATTRIBUTE


@pytest.fixture
def every_kind_of_record(aws_env):
    """One record of each kind the code writes: {what it is: id}."""
    settings, clients = aws_env
    records = ImageRecords(clients.dynamodb, settings.table_name)
    bucket = settings.upload_bucket
    processed = put(settings, clients, "uploads/" + "a" * 32, phone_jpeg(96, 64))
    refused = put(settings, clients, "uploads/" + "b" * 32, b"not an image")
    direct = put(settings, clients, "camera/beach.jpg", phone_jpeg(64, 48))
    deleted = put(settings, clients, "uploads/" + "c" * 32, phone_jpeg(64, 48))
    retried = put(settings, clients, "uploads/" + "d" * 32, phone_jpeg(64, 48))
    process_event(s3_event(bucket, processed, refused, direct, deleted), settings, clients)
    records.delete("c" * 32, OWNER, tombstone_until=2**31)
    records.claim_rerender("a" * 32, "another spec", lease_seconds=60)  # its lease, never released
    claim = records.start_processing("d" * 32, retried[0], retried[2], retried[1], "x.jpg", {}, version=retried[3])
    assert claim.outcome == "claimed"
    records.mark_failed("d" * 32, retried[2], "processing_error", "retried")  # an error the next attempt retries
    records.create_pending("e" * 32, "never.jpg", "image/jpeg", 10, OWNER, "o@example.com", 2**31)  # never arrives
    stuck = put(settings, clients, "uploads/" + "f" * 32, phone_jpeg(64, 48))
    records.start_processing("f" * 32, stuck[0], stuck[2], stuck[1], "x.jpg", {}, version=stuck[3])  # killed
    kinds = {
        "processed": "a" * 32,
        "refused": "b" * 32,
        "direct": image_id_for_key(direct[0]),
        "deleted": "c" * 32,
        "retried": "d" * 32,
        "pending": "e" * 32,
        "processing": "f" * 32,
    }
    return settings, clients, records, kinds


def table_items(settings, clients) -> dict[str, dict]:
    """Every item of the table as DynamoDB holds it, by key."""
    return {item[TABLE_KEY]["S"]: item for item in clients.dynamodb.scan(TableName=settings.table_name)["Items"]}


def test_every_attribute_written_is_declared_by_the_record_type(every_kind_of_record):
    settings, clients, _, kinds = every_kind_of_record
    items = table_items(settings, clients)
    assert set(items) == set(kinds.values())
    for image_id, item in items.items():
        assert set(item) <= DECLARED, (image_id, set(item) - DECLARED)
        assert item["status"]["S"] in {s.value for s in Status}, image_id
    # Records rebuilt from S3 (a lost table): from a file never processed, and from a manifest.
    heads = {
        image_id: clients.s3.head_object(Bucket=settings.upload_bucket, Key=f"uploads/{image_id}")
        for image_id in (kinds["processing"], kinds["processed"])
    }
    etag = heads[kinds["processed"]]["ETag"].strip('"')
    manifest = clients.s3.get_object(Bucket=settings.processed_bucket, Key=manifest_key(kinds["processed"], etag))
    rebuilt = [
        record_from_s3(f"uploads/{kinds['processing']}", heads[kinds["processing"]], None),
        record_from_s3(f"uploads/{kinds['processed']}", heads[kinds["processed"]], json.load(manifest["Body"])),
    ]
    for record in rebuilt:
        assert set(record) <= DECLARED, set(record) - DECLARED


def test_each_sparse_index_holds_exactly_the_records_it_is_for(every_kind_of_record):
    settings, clients, records, kinds = every_kind_of_record
    status = {image_id: records.get(image_id)["status"] for image_id in kinds.values()}
    assert {Status(s) for s in status.values()} == set(Status)  # every status is covered
    unfinished = {r["id"] for r in records.unfinished(100)}
    assert unfinished == {i for i, s in status.items() if s in UNFINISHED_STATUSES}
    # Listed: every record whose file arrived, whatever its status, but a tombstone.
    arrived = set(kinds.values()) - {kinds["pending"], kinds["deleted"]}
    assert {r["id"] for r in records.listed()} == arrived
    assert {r["id"] for r in records.list(100, None, owner=OWNER)[0]} == arrived - {kinds["direct"]}
    # By status: every listed record of it (byStatus holds the upload never sent too: it is left out).
    for shown in set(Status) - {Status.DELETED}:
        of_status = {i for i in arrived if status[i] == shown}
        assert {r["id"] for r in records.list(100, None, status=shown)[0]} == of_status, shown
        assert records.count_by_status([shown]) == {shown: (len(of_status), False)}
    # The TTL: on an upload that never arrived and on a tombstone, never on an image.
    with_ttl = {i for i, item in table_items(settings, clients).items() if TTL_ATTRIBUTE in item}
    assert with_ttl == {kinds["pending"], kinds["deleted"]}


def test_every_index_the_repository_queries_is_the_schema_s(every_kind_of_record):
    """Each Query names an index of the schema by that index's partition attribute, and every
    index is queried by something (an unused one is a cost without a reader)."""
    _, clients, records, kinds = every_kind_of_record
    queries: list[dict] = []
    clients.dynamodb.meta.events.register(
        "provide-client-params.dynamodb.Query", lambda params, **_: queries.append(params)
    )
    page, cursor = records.list(1, None)
    records.list(1, cursor)
    records.list(1, None, owner=OWNER)
    records.list(1, None, status=Status.FAILED)
    records.count_by_status([Status.PROCESSED])
    list(records.unfinished(10))
    list(records.listed())
    duplicate_of(clients.dynamodb, records._table, OWNER, "0" * 64)
    assert page and cursor and queries
    for query in queries:
        partition, sort = TABLE_INDEXES[query["IndexName"]]
        condition = query["KeyConditionExpression"]
        for placeholder, name in query.get("ExpressionAttributeNames", {}).items():
            condition = condition.replace(placeholder, name)
        # The exact-duplicate lookup names one key of its index: the owner and the hash.
        expected = f"{partition} = :p AND {sort} = :h" if query["IndexName"] == CONTENT_INDEX else f"{partition} = :p"
        assert condition == expected, query
    indexes = {LIST_INDEX, OWNER_INDEX, UNFINISHED_INDEX, STATUS_INDEX, CONTENT_INDEX}
    assert {q["IndexName"] for q in queries} == set(TABLE_INDEXES) == indexes
    partitions = {(q["IndexName"], q["ExpressionAttributeValues"][":p"]["S"]) for q in queries}
    assert partitions == {
        (LIST_INDEX, LIST_PARTITION),
        (OWNER_INDEX, OWNER),
        (UNFINISHED_INDEX, UNFINISHED_PARTITION),
        (STATUS_INDEX, Status.FAILED),
        (STATUS_INDEX, Status.PROCESSED),
        (CONTENT_INDEX, OWNER),
    }


def index_keys(dynamodb, table: str) -> dict[str, tuple[str, ...]]:
    described = dynamodb.describe_table(TableName=table)["Table"]
    return {
        i["IndexName"]: tuple(k["AttributeName"] for k in i["KeySchema"]) for i in described["GlobalSecondaryIndexes"]
    }


def table_from_before(aws, table_name_of, indexes: dict[str, tuple[str, str]]) -> None:
    """The images table as an earlier version made it, with these indexes."""
    aws.dynamodb.create_table(
        TableName=table_name_of.table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": a, "AttributeType": "S"}
            for a in sorted({TABLE_KEY, *(a for k in indexes.values() for a in k)})
        ],
        KeySchema=[{"AttributeName": TABLE_KEY, "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": name,
                "Projection": {"ProjectionType": "ALL"},
                "KeySchema": [{"AttributeName": p, "KeyType": "HASH"}, {"AttributeName": s, "KeyType": "RANGE"}],
            }
            for name, (p, s) in indexes.items()
        ],
    )


def test_a_table_from_before_gets_the_owner_index_and_its_records_their_key_on_the_next_deploy(moto):
    """Deployed by the version before takenKey (byOwner on listedKey), with its records: the dry run
    shows the index to add and the backfill and changes nothing; deploy adds the index, lists every
    record in it, and once the functions run this code removes byOwner; deployed again, nothing."""
    from bootstrap.deploy.config import StackConfig
    from bootstrap.deploy.executor import Aws, DisplayOnlyExecutor
    from bootstrap.deploy.storage import ensure_table, settle_table
    from tests.unit.test_records import a_record_from_before

    cfg = StackConfig(target="embedded", region="us-east-1", endpoint_url=None)  # (AWS's backups: always put)
    aws = Aws(cfg)
    before = {name: keys for name, keys in TABLE_INDEXES.items() if name != OWNER_INDEX}
    before["byOwner"] = ("owner", "listedKey")
    table_from_before(aws, cfg, before)
    old = [
        ("a" * 32, "2025-01-02T10:00:00.000Z", {}),
        ("b" * 32, "2025-01-03T10:00:00.000Z", {"takenAt": "2019-06-01T12:00:00"}),
    ]
    for image_id, created, facts in old:
        aws.dynamodb.put_item(TableName=cfg.table, Item=a_record_from_before(image_id, created, facts))
    records = ImageRecords(aws.dynamodb, cfg.table)
    said: list[str] = []

    dry = Aws(cfg, DisplayOnlyExecutor(reads="target", show=said.append))
    ensure_table(dry, cfg, wait=lambda _: None, log=said.append)
    (create,) = [c.params for c in dry.executor.calls if c.operation == "update_table"]
    assert create["GlobalSecondaryIndexUpdates"][0]["Create"]["IndexName"] == OWNER_INDEX
    assert any("backfill" in line for line in said)
    assert index_keys(aws.dynamodb, cfg.table) == before  # shown, not sent

    assert ensure_table(aws, cfg, wait=lambda _: None, log=said.append) is False
    assert index_keys(aws.dynamodb, cfg.table) == before | TABLE_INDEXES
    assert [r["id"] for r in records.list(10, None, owner=OWNER)[0]] == ["a" * 32, "b" * 32]  # newest first
    settle_table(aws, cfg, new_table=False, log=said.append)
    assert index_keys(aws.dynamodb, cfg.table) == TABLE_INDEXES  # byOwner retired

    again = Aws(cfg, DisplayOnlyExecutor(reads="target", show=said.append))
    ensure_table(again, cfg, wait=lambda _: None, log=said.append)
    settle_table(again, cfg, new_table=False, log=said.append)
    assert again.executor.calls == []  # nothing left to add, give or retire


def test_a_table_from_before_the_status_index_gets_it_with_nothing_to_write(moto):
    """byStatus needs no backfill: the dry run shows the index to add and nothing else; deploy adds
    it, and the records from before are in it at once, by status; deployed again, nothing."""
    from bootstrap.deploy.config import StackConfig
    from bootstrap.deploy.executor import Aws, DisplayOnlyExecutor
    from bootstrap.deploy.storage import ensure_table, settle_table
    from tests.unit.test_records import a_record_from_before

    cfg = StackConfig(target="embedded", region="us-east-1", endpoint_url=None)
    aws = Aws(cfg)
    before = {name: keys for name, keys in TABLE_INDEXES.items() if name != STATUS_INDEX}
    table_from_before(aws, cfg, before)
    for image_id, status in (("a" * 32, "processed"), ("b" * 32, "failed")):
        item = a_record_from_before(image_id, "2026-01-02T10:00:00.000Z", status=status)
        item["takenKey"] = item.pop("listedKey")
        aws.dynamodb.put_item(TableName=cfg.table, Item=item)
    settle_table(aws, cfg, new_table=True)  # the backfill's note: this table had byOwnerTaken already
    records = ImageRecords(aws.dynamodb, cfg.table)
    said: list[str] = []

    dry = Aws(cfg, DisplayOnlyExecutor(reads="target", show=said.append))
    ensure_table(dry, cfg, wait=lambda _: None, log=said.append)
    settle_table(dry, cfg, new_table=False, log=said.append)
    (create,) = [c.params for c in dry.executor.calls if c.operation == "update_table"]
    assert create["GlobalSecondaryIndexUpdates"] == [
        {
            "Create": {
                "IndexName": STATUS_INDEX,
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["listPk"]},
                "KeySchema": [
                    {"AttributeName": "status", "KeyType": "HASH"},
                    {"AttributeName": "createdKey", "KeyType": "RANGE"},
                ],
            }
        }
    ]
    assert f"wait until index {STATUS_INDEX} of {cfg.table} is ACTIVE" in " ".join(said)
    assert not any("backfill" in line for line in said)
    assert index_keys(aws.dynamodb, cfg.table) == before  # shown, not sent

    ensure_table(aws, cfg, wait=lambda _: None, log=said.append)
    assert index_keys(aws.dynamodb, cfg.table) == TABLE_INDEXES
    assert [r["id"] for r in records.list(10, None, status=Status.FAILED)[0]] == ["b" * 32]
    assert records.count_by_status([Status.PROCESSED]) == {Status.PROCESSED: (1, False)}

    again = Aws(cfg, DisplayOnlyExecutor(reads="target", show=said.append))
    ensure_table(again, cfg, wait=lambda _: None, log=said.append)
    settle_table(again, cfg, new_table=False, log=said.append)
    assert again.executor.calls == []
