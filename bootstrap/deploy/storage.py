"""Storage: the private buckets (originals, renditions) and the images table."""

from __future__ import annotations

import time
from collections.abc import Callable

from botocore.exceptions import ClientError

from bootstrap.deploy.config import StackConfig
from bootstrap.deploy.executor import Aws
from handlers.batch import RESULTS_PREFIX
from handlers.schema import TABLE_INDEXES, TABLE_KEY, TTL_ATTRIBUTE

BUCKET_MISSING = ("404", "NoSuchBucket", "NotFound")
BATCH_RESULTS_DAYS = 30


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
    return {
        "IndexName": name,
        "Projection": {"ProjectionType": "ALL"},
        "KeySchema": [{"AttributeName": partition, "KeyType": "HASH"}, {"AttributeName": sort, "KeyType": "RANGE"}],
    }


def _attributes(*names: str) -> list[dict]:
    return [{"AttributeName": n, "AttributeType": "S"} for n in sorted(set(names))]


def ensure_table(aws: Aws, cfg: StackConfig, wait: Callable[[float], None] = time.sleep) -> None:
    """The images table (handlers/schema.py: its key, indexes and TTL attribute), on demand."""
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
    else:
        have = {i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])}
        for name, keys in TABLE_INDEXES.items():
            if name not in have:  # a table from an earlier version: add the index in place
                aws.dynamodb.update_table(
                    TableName=cfg.table,
                    AttributeDefinitions=_attributes(*keys),
                    GlobalSecondaryIndexUpdates=[{"Create": _index(name)}],
                )
                _wait_for_index(aws, cfg.table, name, wait)
        ttl = aws.dynamodb.describe_time_to_live(TableName=cfg.table)["TimeToLiveDescription"]
        if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
            _expire_by_ttl(aws, cfg)
    if cfg.protects_data:
        ensure_point_in_time_recovery(aws, cfg)


def _expire_by_ttl(aws: Aws, cfg: StackConfig) -> None:
    aws.dynamodb.update_time_to_live(
        TableName=cfg.table, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
    )


def _wait_for_index(aws: Aws, table: str, index: str, wait: Callable[[float], None], tries: int = 120) -> None:
    for _ in range(tries):
        indexes = aws.dynamodb.describe_table(TableName=table)["Table"].get("GlobalSecondaryIndexes", [])
        if any(i["IndexName"] == index and i.get("IndexStatus", "ACTIVE") == "ACTIVE" for i in indexes):
            return
        wait(5)
    raise TimeoutError(f"index {index} of {table} not active after {tries * 5} s")


def ensure_point_in_time_recovery(aws: Aws, cfg: StackConfig) -> None:
    """AWS: the table can be restored to any second of the last 35 days (and rebuilt from S3)."""
    aws.dynamodb.update_continuous_backups(
        TableName=cfg.table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )


# --- destroy ------------------------------------------------------------------------------------


def remove_table(aws: Aws, cfg: StackConfig, log: Callable[[str], None]) -> None:
    try:
        aws.dynamodb.describe_table(TableName=cfg.table)
    except aws.dynamodb.exceptions.ResourceNotFoundException:
        return
    aws.dynamodb.delete_table(TableName=cfg.table)
    aws.wait(aws.dynamodb, "table_not_exists", TableName=cfg.table)
    log(f"deleted table {cfg.table}")


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
