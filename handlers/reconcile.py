"""Reconcile one uploaded file: its record rebuilt from S3, which is the truth.

Each uploaded file carries its record's origin (owner, file name, created time, bound by the
upload policy) and the processor writes each result as a manifest beside the renditions, so a
lost or restored table is rebuilt from the two. Each write is conditional (never over a newer
record, never over a deleted image's tombstone), so it is safe beside live uploads and safe to
run twice. Used by `make reconcile` on the operator's machine (bootstrap/reconcile.py) and by
the processor's batch path (handlers/batch.py), where the state machine hands it the keys.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from botocore.exceptions import ClientError

from handlers.keys import image_id_for_key, manifest_key
from handlers.records import ImageRecords, record_from_s3
from handlers.similar_index import SimilarImages

MISSING = ("NoSuchKey", "404", "NotFound")


def manifest(s3, bucket: str, image_id: str, etag: str) -> dict | None:
    """The processor's result for this object (None: never processed)."""
    try:
        body = s3.get_object(Bucket=bucket, Key=manifest_key(image_id, etag))["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in MISSING:
            return None
        raise
    return json.loads(body)


def reconcile_object(
    key: str,
    s3,
    records: ImageRecords,
    upload_bucket: str,
    processed_bucket: str,
    redrive: Callable[[str, dict], None],
    similar: SimilarImages,
) -> str:
    """One uploaded file: "restored" (its record rebuilt), "redriven" (never processed: handed to
    `redrive(key, head)`), "kept" (the table is as new or newer), or "gone" (deleted meanwhile). A
    processed image rebuilt gets its band items again and its links (`similarTo` is no file's: it is
    found again, both ways)."""
    try:
        head = s3.head_object(Bucket=upload_bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in MISSING:
            return "gone"
        raise
    etag = head["ETag"].strip('"')
    result = manifest(s3, processed_bucket, image_id_for_key(key), etag)
    record = {k: v for k, v in record_from_s3(key, head, result).items() if v is not None}
    if not records.restore(record):
        return "kept"
    if result is None:
        redrive(key, head)
        return "redriven"
    if record.get("owner") and record.get("phash"):
        similar.index(record["owner"], record["id"], record["phash"], etag)
        similar.join(record)
    return "restored"
