"""python -m bootstrap reconcile: rebuild missing or stale image records from the buckets.

S3 is the truth. Each uploaded file carries its record's origin (owner, file name, created
time, bound by the upload policy) and the processor writes each result as a manifest beside
the renditions, so a lost or restored table is rebuilt from the two. Safe while uploads go
on and safe to run twice: each write is conditional (never over a newer record, never over
a deleted image's tombstone); files that arrived but were never processed are handed to the
processor as the S3 event it missed. The other way round, a finished record whose file is
gone (an image deleted after the table's last save, then the table restored) is retired:
its renditions removed, the record left as a tombstone.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Callable

from botocore.exceptions import ClientError

from handlers.api import TOMBSTONE_SECONDS
from handlers.keys import rendition_keys, upload_key
from handlers.processor import s3_event
from handlers.reconcile import MISSING, reconcile_object
from handlers.records import ImageRecords
from handlers.schema import ImageRecord, Status
from handlers.similar_index import SimilarImages
from handlers.storage import delete_renditions


def listed_keys(s3, bucket: str, prefix: str = "") -> list[str]:
    return [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for o in page.get("Contents", [])
    ]


def progress(done: int, total: int, started: float, width: int = 30, unit: str = "files") -> str:
    filled = width * done // total if total else width
    rate = done / max(time.monotonic() - started, 1e-6)
    return f"\r  [{'#' * filled}{'.' * (width - filled)}] {done}/{total} {unit}, {rate:.1f}/s"


def reconcile(
    s3, dynamodb, lambda_, outputs: dict, log: Callable[[str], None] = print, bar: Callable[[str], None] | None = None
) -> Counter:
    """Every file of the upload bucket, once; returns how many ended each way."""
    bar = bar or (lambda text: (sys.stderr.write(text), sys.stderr.flush()))
    records = ImageRecords(dynamodb, outputs["table"])
    similar = similar_images(dynamodb, outputs)
    keys = listed_keys(s3, outputs["uploadBucket"])
    log(f"reconcile: {len(keys)} files in {outputs['uploadBucket']}")

    def redrive(key: str, head: dict) -> None:  # asynchronously, as S3 would have: retries and DLQ apply
        event = s3_event(
            outputs["uploadBucket"], (key, head["ContentLength"], head["ETag"].strip('"'), head.get("VersionId"))
        )
        lambda_.invoke(
            FunctionName=outputs["functions"]["processor"], InvocationType="Event", Payload=json.dumps(event).encode()
        )

    outcomes: Counter = Counter()
    started = time.monotonic()
    for done, key in enumerate(keys, 1):
        outcomes[
            reconcile_object(key, s3, records, outputs["uploadBucket"], outputs["processedBucket"], redrive, similar)
        ] += 1
        if done % 25 == 0 or done == len(keys):
            bar(progress(done, len(keys), started))
    if keys:
        bar("\n")
    outcomes += retire_missing(s3, records, outputs, set(keys), similar)
    log("reconcile: " + (", ".join(f"{n} {what}" for what, n in sorted(outcomes.items())) or "nothing to do"))
    return outcomes


def give_taken_keys(dynamodb, outputs: dict, log: Callable[[str], None] = print) -> int:
    """The takenKey backfill (handlers.records.ImageRecords.give_taken_keys), which reconcile and
    reprocess run first, as deploy does: a record written before it is listed in its owner's gallery
    once it has one. Idempotent: nothing to write the second time."""
    given = ImageRecords(dynamodb, outputs["table"]).give_taken_keys()
    if given:
        log(f"{given} record(s) from before takenKey got one")
    return given


def similar_images(dynamodb, outputs: dict) -> SimilarImages:
    """The near-duplicate index of the deployed stack (handlers/similar_index.py)."""
    return SimilarImages(dynamodb, outputs["table"], outputs["similarTable"])


def retire_missing(s3, records: ImageRecords, outputs: dict, present: set[str], similar: SimilarImages) -> Counter:
    """The other way round: each finished record whose file is not among the keys `present` (the
    upload bucket as listed) is retired if it is still gone when looked at again."""
    outcomes: Counter = Counter()
    for record in records.listed():
        if (
            # `processing` too: a crash can bring back a record as it was while processing, of an image
            # deleted (its file first) in the seconds the checkpoint did not keep.
            record.get("status") in (Status.PROCESSED, Status.FAILED, Status.PROCESSING)
            and record.get("uploadKey", upload_key(record["id"])) not in present
        ):
            outcomes[retire_if_gone(record, s3, records, outputs, similar)] += 1
    return outcomes


def retire_if_gone(record: ImageRecord, s3, records: ImageRecords, outputs: dict, similar: SimilarImages) -> str:
    """A finished record whose file is not in the bucket: "retired", or "kept" (it is there after
    all: uploaded since the listing, or the record changed meanwhile)."""
    try:
        s3.head_object(Bucket=outputs["uploadBucket"], Key=record.get("uploadKey") or upload_key(record["id"]))
        return "kept"
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in MISSING:
            raise
    if not records.retire(record, int(time.time()) + TOMBSTONE_SECONDS):
        return "kept"
    delete_renditions(s3, outputs["processedBucket"], rendition_keys(record))
    similar.forget(record)  # its band items, and it from the others' similarTo
    return "retired"
