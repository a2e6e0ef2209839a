"""Storage: the private buckets (originals, renditions) and the images table."""

from __future__ import annotations

import time
from collections.abc import Callable

from botocore.exceptions import ClientError

from bootstrap.deploy.config import StackConfig
from bootstrap.deploy.executor import Aws, DisplayOnlyExecutor
from handlers.batch import RESULTS_PREFIX
from handlers.records import ImageRecords
from handlers.schema import (
    BANDS_KEY,
    INDEX_ATTRIBUTES,
    OWNER_INDEX,
    RETIRED_INDEXES,
    TABLE_INDEXES,
    TABLE_KEY,
    TTL_ATTRIBUTE,
)

BUCKET_MISSING = ("404", "NoSuchBucket", "NotFound")
BATCH_RESULTS_DAYS = 30
# Deploy's note in the table that every record written before takenKey has been given one: an item
# of its own (like the quotas' quota#<sub>, never an image id), so later deploys read no record.
TAKEN_KEYS_DONE = "backfill#takenKey"


def error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def bucket_exists(aws: Aws, name: str) -> bool:
    try:
        aws.s3.head_bucket(Bucket=name)
    except ClientError as exc:
        if error_code(exc) not in BUCKET_MISSING:
            raise
        return False
    return True


def ensure_bucket(aws: Aws, cfg: StackConfig, name: str) -> None:
    """A bucket with all public access blocked (the page is read through CloudFront's OAC)."""
    if not bucket_exists(aws, name):
        params = {"Bucket": name}
        if cfg.region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": cfg.region}
        aws.s3.create_bucket(**params)
        aws.wait(aws.s3, "bucket_exists", Bucket=name)
    aws.s3.put_public_access_block(
        Bucket=name,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )


def ensure_upload_versioning(aws: Aws, cfg: StackConfig) -> None:
    """Originals are versioned on every target: the first file posted with a form is the image, and a
    file posted again with it is removed by the processor as its own version, so the original the
    renditions came from is never replaced. On AWS a DELETE (or an overwrite) also stays recoverable
    by the operator for `noncurrent_version_days`, then S3 expires the old version; reconcile rebuilds
    records of restored files."""
    aws.s3.put_bucket_versioning(Bucket=cfg.upload_bucket, VersioningConfiguration={"Status": "Enabled"})
    aws.s3.put_bucket_lifecycle_configuration(
        Bucket=cfg.upload_bucket,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "expire-noncurrent-originals",
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "NoncurrentVersionExpiration": {"NoncurrentDays": cfg.noncurrent_version_days},
                    "Expiration": {"ExpiredObjectDeleteMarker": True},
                }
            ]
        },
    )


def ensure_upload_cors(aws: Aws, cfg: StackConfig) -> None:
    """Browsers POST straight to the upload bucket from the site's origin."""
    aws.s3.put_bucket_cors(
        Bucket=cfg.upload_bucket,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": list(cfg.site_origins),
                    "AllowedMethods": ["POST"],
                    "AllowedHeaders": ["*"],
                    "ExposeHeaders": ["ETag", "Location"],
                    "MaxAgeSeconds": 600,
                }
            ]
        },
    )


def ensure_buckets(aws: Aws, cfg: StackConfig) -> None:
    ensure_bucket(aws, cfg, cfg.upload_bucket)
    ensure_bucket(aws, cfg, cfg.processed_bucket)
    ensure_upload_cors(aws, cfg)
    ensure_upload_versioning(aws, cfg)
    ensure_batch_results_expiry(aws, cfg)


def ensure_batch_results_expiry(aws: Aws, cfg: StackConfig) -> None:
    """The batch runs' results (ResultWriter's files, the summaries) go after BATCH_RESULTS_DAYS:
    a run is looked at soon after it ends, and a hundred million photos' results are gigabytes.
    (The embedded emulator runs no lifecycle rules.)"""
    aws.s3.put_bucket_lifecycle_configuration(
        Bucket=cfg.processed_bucket,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "expire-batch-results",
                    "Status": "Enabled",
                    "Filter": {"Prefix": f"{RESULTS_PREFIX}/"},
                    "Expiration": {"Days": BATCH_RESULTS_DAYS},
                }
            ]
        },
    )


def _index(name: str) -> dict:
    partition, sort = TABLE_INDEXES[name]
    included = INDEX_ATTRIBUTES.get(name)
    return {
        "IndexName": name,
        "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(included)}
        if included
        else {"ProjectionType": "ALL"},
        "KeySchema": [{"AttributeName": partition, "KeyType": "HASH"}, {"AttributeName": sort, "KeyType": "RANGE"}],
    }


def _attributes(*names: str) -> list[dict]:
    return [{"AttributeName": n, "AttributeType": "S"} for n in sorted(set(names))]


def ensure_table(
    aws: Aws, cfg: StackConfig, wait: Callable[[float], None] = time.sleep, log: Callable[[str], None] = print
) -> bool:
    """The images table (handlers/schema.py: its key, indexes and TTL attribute), on demand, and
    beside it the near-duplicate band index (`ensure_similar_table`); True if the images table was
    made now. A table from an earlier version gets each index it lacks (UpdateTable, one at
    a time, each waited for until ACTIVE, as is one a deploy cut short left building); the owner
    index's records from before it get their sort key at once (the backfill), so the gallery lists
    them from the moment the new API reads it."""
    try:
        table = aws.dynamodb.describe_table(TableName=cfg.table)["Table"]
    except aws.dynamodb.exceptions.ResourceNotFoundException:
        aws.dynamodb.create_table(
            TableName=cfg.table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=_attributes(TABLE_KEY, *(a for keys in TABLE_INDEXES.values() for a in keys)),
            KeySchema=[{"AttributeName": TABLE_KEY, "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[_index(name) for name in TABLE_INDEXES],
        )
        aws.wait(aws.dynamodb, "table_exists", TableName=cfg.table)
        _expire_by_ttl(aws, cfg)
        created = True
    else:
        created = False
        have = {i["IndexName"]: i.get("IndexStatus", "ACTIVE") for i in table.get("GlobalSecondaryIndexes", [])}
        for name, keys in TABLE_INDEXES.items():
            if name not in have:  # a table from an earlier version: add the index in place
                aws.dynamodb.update_table(
                    TableName=cfg.table,
                    AttributeDefinitions=_attributes(*keys),
                    GlobalSecondaryIndexUpdates=[{"Create": _index(name)}],
                )
            if have.get(name) != "ACTIVE":
                _wait_for_index(aws, cfg.table, name, wait)
                if name == OWNER_INDEX:
                    give_taken_keys(aws, cfg, log)
        ttl = aws.dynamodb.describe_time_to_live(TableName=cfg.table)["TimeToLiveDescription"]
        if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
            _expire_by_ttl(aws, cfg)
    if cfg.protects_data:
        ensure_point_in_time_recovery(aws, cfg)
    ensure_similar_table(aws, cfg)
    return created


def ensure_keyed_table(aws: Aws, name: str, key: tuple[str, str]) -> bool:
    """An on-demand table keyed by two strings (partition, sort), made if it is missing and waited
    for; True when made now."""
    try:
        aws.dynamodb.describe_table(TableName=name)
        return False
    except aws.dynamodb.exceptions.ResourceNotFoundException:
        pass
    partition, sort = key
    aws.dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=_attributes(partition, sort),
        KeySchema=[{"AttributeName": partition, "KeyType": "HASH"}, {"AttributeName": sort, "KeyType": "RANGE"}],
    )
    aws.wait(aws.dynamodb, "table_exists", TableName=name)
    return True


def ensure_similar_table(aws: Aws, cfg: StackConfig) -> None:
    """The near-duplicate band index (handlers/schema.py BANDS_KEY: band key, image id), on demand;
    its items come and go with the images (handlers/similar_index.py), so it needs no TTL."""
    if ensure_keyed_table(aws, cfg.similar_table, BANDS_KEY) and cfg.protects_data:
        aws.dynamodb.update_continuous_backups(
            TableName=cfg.similar_table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )


def _expire_by_ttl(aws: Aws, cfg: StackConfig) -> None:
    aws.dynamodb.update_time_to_live(
        TableName=cfg.table, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
    )


def _wait_for_index(aws: Aws, table: str, index: str, wait: Callable[[float], None], tries: int = 120) -> None:
    if isinstance(aws.executor, DisplayOnlyExecutor):  # a dry run: the index was never asked for
        aws.executor.show(f"  wait until index {index} of {table} is ACTIVE")
        return
    for _ in range(tries):
        indexes = aws.dynamodb.describe_table(TableName=table)["Table"].get("GlobalSecondaryIndexes", [])
        if any(i["IndexName"] == index and i.get("IndexStatus", "ACTIVE") == "ACTIVE" for i in indexes):
            return
        wait(5)
    raise TimeoutError(f"index {index} of {table} not active after {tries * 5} s")


def give_taken_keys(aws: Aws, cfg: StackConfig, log: Callable[[str], None]) -> None:
    """The backfill (handlers.records.ImageRecords.give_taken_keys): each listed record without a
    takenKey gets one. Idempotent; a dry run only says it."""
    if isinstance(aws.executor, DisplayOnlyExecutor):
        aws.executor.show("  backfill: each listed record without takenKey gets one (UpdateItem, conditional)")
        return
    given = ImageRecords(aws.dynamodb, cfg.table).give_taken_keys()
    log(f"  backfill: {given} record(s) from before takenKey got one")


def settle_table(aws: Aws, cfg: StackConfig, new_table: bool, log: Callable[[str], None] = print) -> None:
    """Once the functions run this version's code: the records the earlier one wrote meanwhile get
    their takenKey too, then the table notes that the backfill is done (later deploys read no
    record for it); and the indexes no code reads any more (RETIRED_INDEXES) are removed, one per
    UpdateTable. A table made by this deploy has neither: it only gets the note."""
    done = {TABLE_KEY: {"S": TAKEN_KEYS_DONE}}
    if not new_table:
        table = aws.dynamodb.describe_table(TableName=cfg.table)["Table"]
        have = {i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])}
        for name in RETIRED_INDEXES:
            if name in have:
                retire = [{"Delete": {"IndexName": name}}]
                aws.dynamodb.update_table(TableName=cfg.table, GlobalSecondaryIndexUpdates=retire)
                log(f"  retired index {name} of {cfg.table}")
        if "Item" in aws.dynamodb.get_item(TableName=cfg.table, Key=done, ConsistentRead=True):
            return
        give_taken_keys(aws, cfg, log)
    aws.dynamodb.put_item(TableName=cfg.table, Item=done)


def ensure_point_in_time_recovery(aws: Aws, cfg: StackConfig) -> None:
    """AWS: the table can be restored to any second of the last 35 days (and rebuilt from S3)."""
    aws.dynamodb.update_continuous_backups(
        TableName=cfg.table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )


# --- destroy ------------------------------------------------------------------------------------


def remove_table(aws: Aws, cfg: StackConfig, log: Callable[[str], None]) -> None:
    delete_table_named(aws, cfg.table, log)
    delete_table_named(aws, cfg.similar_table, log)


def delete_table_named(aws: Aws, name: str, log: Callable[[str], None]) -> None:
    """The table, if it exists, waited for until gone."""
    try:
        aws.dynamodb.describe_table(TableName=name)
    except aws.dynamodb.exceptions.ResourceNotFoundException:
        return
    aws.dynamodb.delete_table(TableName=name)
    aws.wait(aws.dynamodb, "table_not_exists", TableName=name)
    log(f"deleted table {name}")


def _empty_bucket(aws: Aws, bucket: str) -> None:
    """Every object version and delete marker (a versioned bucket), then what a listing still shows
    (an emulator that lists no versions of an unversioned bucket)."""
    emptied: set[str] = set()
    for page in aws.s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        objects = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        if objects:
            aws.s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
            emptied.update(o["Key"] for o in objects)
    for page in aws.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        objects = [{"Key": o["Key"]} for o in page.get("Contents", []) if o["Key"] not in emptied]
        if objects:
            aws.s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})


def remove_buckets(aws: Aws, cfg: StackConfig, log: Callable[[str], None]) -> None:
    """Emptied first, object versions and delete markers included."""
    for bucket in cfg.buckets:
        if bucket_exists(aws, bucket):
            _empty_bucket(aws, bucket)
            aws.s3.delete_bucket(Bucket=bucket)
            log(f"deleted bucket {bucket}")
