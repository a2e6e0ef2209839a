"""The processor Lambda: S3 ObjectCreated events in, renditions and a record out.

Words: a *notification* is one entry of an S3 event's `Records` list (one object); a
*record* is always the image's item in DynamoDB (`handlers.records`).

Nothing lost, nothing twice:
- each notification of an event is handled on its own: a bad file ends `failed` with a
  reason and does not stop the others;
- writes are conditional on the object's ETag: a duplicate delivery of an object already
  processed is skipped, a record never goes back from `processed`, and a stale delivery
  cannot overwrite the result for a newer object under the same key;
- an unexpected error (S3 or DynamoDB failing) marks the record `failed` with
  `processing_error` and is raised once every notification has been tried, so Lambda's
  asynchronous retry runs the event again (and, when retries run out, its on-failure
  destination keeps it in the dead-letter queue);
- an execution killed by its timeout or memory never reaches an `except`: each claim counts
  as an attempt on the record, and the claim after MAX_ATTEMPTS unfinished ones fails the
  record (`processing_budget_exceeded`) without decoding again: no poison pill;
- a scheduled sweep (EventBridge) re-drives records left `processing` by a killed
  execution, or `pending` although their object arrived (an event lost), once they are
  older than STUCK_AFTER_SECONDS: oldest first, over all unfinished records, each as its
  own asynchronous invocation, so one bad file cannot stall the sweep or hide the others.

What it logs and counts about each image: `handlers.processor_telemetry`.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event
from botocore.exceptions import ClientError

from handlers import duplicates, telemetry
from handlers.clients import Clients
from handlers.config import PROCESSOR_RETRIES, Settings
from handlers.faults import rendition_store
from handlers.imaging import ImageRejected, Processed, Source, describe, make_renditions
from handlers.keys import (
    image_id_for_key,
    issued_by_api,
    manifest_key,
    rendition_key,
    rendition_keys,
    upload_key,
)
from handlers.processor_telemetry import about, correlate, count_refusal, logger, measure_processed, meter
from handlers.quotas import Quotas
from handlers.records import Claim, ImageRecords, now_iso
from handlers.schema import ImageRecord, Status
from handlers.similar_index import SimilarImages
from handlers.storage import delete_renditions, origin_from_metadata, s3_event

SWEEP_BATCH = 1000  # unfinished records looked at per scheduled run (bounded work), oldest first
# Claims of one object that may end without finishing (killed by the timeout or memory limit):
# Lambda's first try and its two retries; the sweep's re-drive after that fails the record.
MAX_ATTEMPTS = PROCESSOR_RETRIES + 1
# A pending record whose file has not arrived this long after its upload form expired was
# abandoned (tab closed, connection lost): an upload started in time has long finished.
ABANDONED_AFTER_EXPIRY = timedelta(hours=1)


@dataclass(frozen=True)
class UploadedObject:
    bucket: str
    key: str
    size: int
    etag: str  # without quotes, as S3 events carry it
    version: str | None = None  # in the versioned upload bucket; None (or S3's "null") without one

    @property
    def first_wins(self) -> str | None:
        """The version to claim the record with: a key the API issued holds one image, the first
        file posted with its form."""
        return self.version if self.version and self.version != "null" and issued_by_api(self.key) else None


# Renditions are content-addressed (rendition_key): a browser may keep them for a year, unasked.
RENDITION_CACHE_CONTROL = "public, max-age=31536000, immutable"


class _Replaced(Exception):
    """The event's object is no longer the one under its key."""


@dataclass(frozen=True)
class _Job:
    """One claimed object, and what processing it needs."""

    image_id: str
    obj: UploadedObject
    settings: Settings
    clients: Clients
    records: ImageRecords
    claim: Claim

    @property
    def stale(self) -> set[str]:
        # Renditions of an older object under this key (a direct put replaced, or a presigned
        # form posted twice): stale once this one is done (an earlier attempt at this same
        # object wrote the keys this one rewrites).
        return rendition_keys(self.claim.before)

    def remove(self, keys: set[str]) -> None:
        delete_renditions(self.clients.s3, self.settings.processed_bucket, keys)

    def failed(self, keys: set[str]) -> None:
        """The record is failed now: what it listed goes, renditions and (an older file's) near duplicates."""
        self.remove(keys)
        SimilarImages.of(self.settings, self.clients).forget(self.claim.before)


def _fetch(obj: UploadedObject, clients: Clients) -> dict | None:
    """The object this event names; None if it is gone. A stale event for a direct put that was
    replaced stops here (its ETag no longer matches) and never touches the newer one's record."""
    # A key the API issued: exactly the version the event names (the first one posted is the image,
    # even once another is posted over it). Any other key: the newest object wins, by its ETag.
    pin = _version_of(obj) or {"IfMatch": f'"{obj.etag}"'}
    try:
        return clients.s3.get_object(Bucket=obj.bucket, Key=obj.key, **pin)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code in ("PreconditionFailed", "412"):
            raise _Replaced from exc
        if code not in ("NoSuchKey", "NoSuchVersion", "404"):
            raise
        return None


def _version_of(obj: UploadedObject) -> dict:
    return {"VersionId": obj.first_wins} if obj.first_wins else {}


def process_object(obj: UploadedObject, settings: Settings, clients: Clients, records: ImageRecords) -> str:
    """Turn one uploaded object into renditions and a finished record. Returns the outcome."""
    image_id = image_id_for_key(obj.key)
    try:
        response = _fetch(obj, clients)
    except _Replaced:
        logger.info("stale event skipped", extra={"image_id": image_id, "key": obj.key})
        return "superseded"
    origin = origin_from_metadata(response["Metadata"]) if response else {}
    correlate(origin.get("correlationId"))
    claim = records.start_processing(
        image_id,
        obj.key,
        obj.etag,
        obj.size,
        obj.key.rsplit("/", 1)[-1],
        origin,
        create=response is not None,
        version=obj.first_wins,
    )
    if claim.outcome == "reposted":
        # The form was posted again: its first file is the image. This one goes, undecoded and for
        # good (its own version), so the original the renditions came from is current again.
        if response is not None:
            response["Body"].close()
        clients.s3.delete_object(Bucket=obj.bucket, Key=obj.key, **_version_of(obj))
        logger.info("file posted again with its form removed", extra={"image_id": image_id, "key": obj.key})
        return "reposted"
    if claim.outcome == "gone" and response is not None and issued_by_api(obj.key):
        # A file for an image deleted through the API (a form posted again after DELETE): no
        # record will ever list it, so it goes now, its version for good, and DELETE stays final.
        clients.s3.delete_object(Bucket=obj.bucket, Key=obj.key, **_version_of(obj))
        logger.info("file of a deleted image removed", extra={"image_id": image_id, "key": obj.key})
    if claim.outcome != "claimed":
        logger.info(f"{claim.outcome} event skipped", extra={"image_id": image_id, "key": obj.key})
        return claim.outcome
    correlate(claim.before.get("correlationId"))  # a file without metadata, whose record has one
    job = _Job(image_id, obj, settings, clients, records, claim)
    try:
        return _render(job, response)
    except ImageRejected as exc:
        return _refuse(job, exc)
    except Exception:
        # Never left `processing`: failed with a reason now; the raise makes Lambda retry.
        if records.mark_failed(
            image_id, obj.etag, "processing_error", "The image could not be processed; it will be retried."
        ):
            try:  # the record no longer lists them; the retry rewrites what it needs
                job.failed(job.stale)
            except Exception:
                logger.exception("stale renditions not removed", extra={"image_id": image_id})
        raise


def _render(job: _Job, response: dict | None) -> str:
    limits, claim = job.settings.limits, job.claim
    if response is None:
        raise ImageRejected("missing", "The uploaded file no longer exists.")
    if claim.attempt > MAX_ATTEMPTS:
        raise ImageRejected(
            "processing_budget_exceeded",
            f"Processing this file was stopped {claim.attempt - 1} times by the time or memory"
            " limit; it was given up on.",
        )
    if response["ContentLength"] > limits.max_bytes:
        raise ImageRejected("too_large", f"The file is larger than {limits.max_bytes} bytes.")
    started = time.perf_counter()
    data = response["Body"].read()
    # The bytes' hash, before any decoding: not the declared one, or a copy of an image the owner has.
    origin = origin_from_metadata(response.get("Metadata") or {})
    owner = claim.before.get("owner") or origin.get("owner")  # the record's: a relinked one has a new owner
    table = job.settings.table_name
    content = duplicates.judge(data, origin.get("sha256"), owner, job.image_id, job.clients.dynamodb, table)
    result = make_renditions(data, limits, job.settings.renditions)
    retry = (claim.before.get("error") or {}).get("code") == "processing_error"
    store = rendition_store(job.clients.s3, job.settings.fault_injection, retry)
    finished = _publish(
        job.image_id, job.obj.etag, result, job.settings, job.clients, job.records, store, content, owner
    )
    if finished == Status.PROCESSED:
        logger.info("image processed", extra={"image_id": job.image_id, "format": result.format})
        # The wait is from the upload form: a direct put's record is made by its first processing.
        created_at = claim.before.get("createdAt") if issued_by_api(job.obj.key) else None
        processing_ms = (time.perf_counter() - started) * 1000
        uploaded_at = parse_time(created_at) if created_at else None
        measure_processed(result, len(data), processing_ms, limits.max_decode_bytes, uploaded_at)
    return finished


def _publish(
    image_id: str,
    etag: str,
    result: Processed,
    settings: Settings,
    clients: Clients,
    records: ImageRecords,
    store,
    content: dict,
    owner: str | None,
) -> str:
    """Renditions, then the manifest, then the record (a lost table is rebuilt from the
    manifest); then what the record listed before and lists no more is removed: old renditions
    keep serving until the new ones are in place. `content`: the bytes' hash, kept on both; `owner`:
    whose similar images the image is linked with (`handlers.similar_index`)."""
    stored = _store_renditions(image_id, etag, result, settings, store) | content
    at = now_iso()
    stored["manifestKey"] = _store_manifest(
        clients.s3, settings, image_id, etag, {"status": Status.PROCESSED, "updatedAt": at, **stored}
    )
    finished, before = SimilarImages.of(settings, clients).mark_processed(records, image_id, etag, stored, at, owner)
    if finished != Status.PROCESSED:
        # "gone": deleted through the API while we worked; "superseded": a newer object under
        # this key took the record over. Either way no record lists what we wrote.
        delete_renditions(clients.s3, settings.processed_bucket, rendition_keys(stored))
        logger.info(f"{finished} while processing; renditions removed", extra={"image_id": image_id})
        return finished
    delete_renditions(clients.s3, settings.processed_bucket, rendition_keys(before) - rendition_keys(stored))
    return Status.PROCESSED


def rerender(
    image_id: str,
    settings: Settings,
    clients: Clients,
    lease_seconds: int,
    force: bool = False,
    changed_before: str | None = None,
) -> str:
    """Re-make a processed image's renditions with the current spec (`make reprocess`). Only one
    run at a time per image (a lease on the record); the record keeps listing the old renditions
    until the new ones are written. Outcomes: `Status.PROCESSED`; "current" (nothing to do: made with this
    spec, not processed, or leased by another run); "superseded", "gone", "missing", "refused"."""
    outcome = "error"  # unless the run ends otherwise: an unexpected error is raised
    with about(image_id):
        try:
            outcome = _rerender(image_id, settings, clients, lease_seconds, force, changed_before)
        finally:
            meter.record(telemetry.RERENDERS, 1, outcome=outcome)
    return outcome


def _rerender(
    image_id: str, settings: Settings, clients: Clients, lease_seconds: int, force: bool, changed_before: str | None
) -> str:
    records = ImageRecords(clients.dynamodb, settings.table_name)
    record = records.claim_rerender(image_id, settings.renditions.version, lease_seconds, force, changed_before)
    if record is None:
        return "current"
    try:  # from the claim on: the lease ends whatever happens (a record with a field missing too)
        correlate(record.get("correlationId"))
        obj = UploadedObject(settings.upload_bucket, record["uploadKey"], record.get("bytes", 0), record["sourceEtag"])
        response = _fetch(obj, clients)
        if response is None:
            outcome = "missing"  # the sweep and `reconcile` deal with a file gone
        else:
            data = response["Body"].read()
            result = make_renditions(data, settings.limits, settings.renditions)
            # The record lists the new renditions from here on (and its lease ends with that).
            content = {"sha256": duplicates.sha256_of(data)}  # kept (made for records from before it)
            outcome = _publish(
                image_id, obj.etag, result, settings, clients, records, clients.s3, content, record.get("owner")
            )
    except _Replaced:
        outcome = "superseded"  # the newer object's own processing uses the current spec
    except ImageRejected as exc:  # tighter limits since: the image keeps its renditions
        logger.warning("re-render refused", extra={"image_id": image_id, "code": exc.code})
        outcome = "refused"
    finally:
        records.release_rerender(image_id)  # whatever happened (an exception too): the next run may try
    logger.info(f"re-render {outcome}", extra={"image_id": image_id, "spec": settings.renditions.version})
    return outcome


def _refuse(job: _Job, exc: ImageRejected) -> str:
    """A final verdict on this file: its manifest, then the record, then the older object's renditions."""
    at = now_iso()
    manifest = _store_manifest(
        job.clients.s3,
        job.settings,
        job.image_id,
        job.obj.etag,
        {"status": Status.FAILED, "updatedAt": at, "error": {"code": exc.code, "message": exc.message[:500]}}
        | exc.fields,
    )
    failed = job.records.mark_failed(
        job.image_id, job.obj.etag, exc.code, exc.message, manifest=manifest, at=at, fields=exc.fields
    )
    if failed:
        job.failed(job.stale - {manifest})
        count_refusal(exc.code)
    logger.info("image refused", extra={"image_id": job.image_id, "code": exc.code, "reason": exc.message})
    return Status.FAILED


def _store_renditions(image_id: str, etag: str, result: Processed, settings: Settings, s3) -> dict:
    """Write every source of every rendition (in parallel: each is a request of its own); returns
    what the record keeps: describe() plus each source's key."""
    details = describe(result)
    files: dict[str, Source] = {}
    for name, rendition in result.renditions.items():
        described = details["renditions"][name]
        for source, entry in zip(rendition.sources, described["sources"], strict=True):
            entry["key"] = rendition_key(image_id, etag, result.spec_version, source)
            files[entry["key"]] = source  # sizes a small source cannot fill share their files
        described["key"] = described["sources"][-1]["key"]  # the fallback's, for one-file readers

    def put(item: tuple[str, Source]) -> None:
        key, source = item
        s3.put_object(
            Bucket=settings.processed_bucket,
            Key=key,
            Body=source.data,
            ContentType=source.content_type,
            CacheControl=RENDITION_CACHE_CONTROL,
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(put, files.items()))
    return details


def _store_manifest(s3, settings: Settings, image_id: str, etag: str, result: dict) -> str:
    """What the processor concluded about this object, as JSON beside its renditions."""
    key = manifest_key(image_id, etag)
    s3.put_object(
        Bucket=settings.processed_bucket,
        Key=key,
        Body=json.dumps(result).encode(),
        ContentType="application/json",
        CacheControl="private, no-cache",  # rewritten when the renditions are re-rendered
    )
    return key


def process_event(event: dict, settings: Settings, clients: Clients) -> dict:
    records = ImageRecords(clients.dynamodb, settings.table_name)
    outcomes: dict[str, str] = {}
    errors: list[Exception] = []
    for notification in S3Event(event).records:
        s3 = notification.s3
        # Keys arrive URL-encoded in S3 events ("beach day.jpg" -> "beach+day.jpg").
        key = unquote_plus(s3.get_object.key)
        etag = (s3.get_object.etag or "").strip('"')
        obj = UploadedObject(s3.bucket.name, key, s3.get_object.size or 0, etag, s3.get_object.version_id)
        with about(image_id_for_key(obj.key)):
            try:
                outcomes[obj.key] = process_object(obj, settings, clients, records)
            except Exception as exc:  # one notification's failure does not stop the others
                logger.exception("processing failed", extra={"key": obj.key})
                meter.record(telemetry.PROCESSING_FAILED, 1)
                outcomes[obj.key] = "error"
                errors.append(exc)
    if errors:
        raise errors[0]  # Lambda retries the event; finished records are skipped then
    return outcomes


def sweep(settings: Settings, clients: Clients, now: datetime | None = None) -> dict:
    """Re-drive records stuck `processing` or `pending` with their object present, each as an
    asynchronous invocation of this function (its retries and dead-letter queue apply)."""
    now = now or datetime.now(UTC)
    records = ImageRecords(clients.dynamodb, settings.table_name)
    cutoff = now - timedelta(seconds=settings.stuck_after_seconds)
    upload_window = timedelta(seconds=settings.upload_expiry_seconds)
    outcomes: dict[str, str] = {}
    oldest = now  # the creation of the oldest upload still unfinished after this run
    for record in records.unfinished(SWEEP_BATCH):
        outcome = None  # still within its normal processing time
        if parse_time(record["updatedAt"]) <= cutoff:
            key = record.get("uploadKey") or upload_key(record["id"])
            with about(record["id"], record.get("correlationId")):
                try:
                    outcome = _sweep_one(record, key, settings, clients, records, now - upload_window)
                except Exception:  # one record's trouble never stops the sweep
                    logger.exception("sweep could not re-drive", extra={"image_id": record["id"]})
                    outcome = "error"
            outcomes[record["id"]] = outcome
        if outcome not in _NOT_WAITING:
            oldest = min(oldest, parse_time(record.get("createdAt") or record["updatedAt"]))
    meter.record(telemetry.SWEEP_REDRIVEN, sum(outcome == "redriven" for outcome in outcomes.values()))
    meter.record(telemetry.OLDEST_UNFINISHED, max(0.0, (now - oldest).total_seconds()))
    logger.info("sweep done", extra={"outcomes": outcomes})
    return outcomes


# What the sweep found of records whose file never arrived (an upload form not used, or a file
# removed): no upload of theirs is waiting, so their age says nothing of the pipeline's.
_NOT_WAITING = frozenset({"no-object", "abandoned", Status.FAILED})


def _sweep_one(
    record: ImageRecord,
    key: str,
    settings: Settings,
    clients: Clients,
    records: ImageRecords,
    form_expired_before: datetime,
) -> str:
    try:
        head = clients.s3.head_object(Bucket=settings.upload_bucket, Key=key)
    except ClientError as exc:
        # 404 only: the role may list the bucket, so a 403 is a real refusal and is raised.
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
            raise
        if record["status"] == Status.PROCESSING:  # its object was removed after the claim
            if records.mark_failed(
                record["id"], record.get("sourceEtag", ""), "missing", "The uploaded file no longer exists."
            ):
                count_refusal("missing")
            return Status.FAILED
        if created(record) + ABANDONED_AFTER_EXPIRY < form_expired_before:
            # Out of the sweep now, not when TTL gets to it (on AWS, up to days later).
            abandoned = records.delete_abandoned(record["id"])
            if abandoned and abandoned.get("owner"):  # its bytes were counted at POST /uploads
                Quotas(clients.dynamodb, settings.table_name, settings.quota).refund(
                    abandoned["owner"], abandoned.get("bytes", 0)
                )
            return "abandoned" if abandoned else "no-object"
        return "no-object"  # its upload may still be on the way
    redrive(key, head, settings, clients)
    return "redriven"


def redrive(key: str, head: dict, settings: Settings, clients: Clients) -> None:
    """The S3 event an uploaded file (HeadObject's answer) missed, sent to this function as S3
    would send it: asynchronously, so Lambda's retries and the dead-letter queue apply."""
    event = s3_event(
        settings.upload_bucket, (key, head["ContentLength"], head["ETag"].strip('"'), head.get("VersionId"))
    )
    clients.lambda_.invoke(
        FunctionName=settings.function_name, InvocationType="Event", Payload=json.dumps(event).encode()
    )


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def created(record: ImageRecord) -> datetime:
    return parse_time(record["createdAt"])


def is_sweep_event(event: dict) -> bool:
    return event.get("source") == "aws.events" or event.get("action") == "sweep"


def rerender_event(image_id: str, force: bool = False) -> dict:
    """What `make reprocess` sends the processor for one image."""
    return {"action": "rerender", "id": image_id, "force": force}
