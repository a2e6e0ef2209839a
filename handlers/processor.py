"""The processor Lambda: S3 ObjectCreated events in, renditions and a record out.

Each record of an event is handled on its own: a bad file ends `failed` with a
reason and does not stop the others. An unexpected error (S3 or DynamoDB down)
marks the record failed with `processing_error` and is raised once every record has
been tried, so Lambda's asynchronous retry runs the event again; records already
processed for the same object (same ETag) are skipped then.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import S3Event

from handlers.clients import Clients, make_clients
from handlers.config import Settings
from handlers.imaging import ImageRejected, Processed, make_renditions
from handlers.records import ImageRecords, image_id_for_key

logger = Logger(service="imagepipe-processor")


@dataclass(frozen=True)
class UploadedObject:
    bucket: str
    key: str
    size: int
    etag: str


def rendition_key(image_id: str, name: str, extension: str) -> str:
    return f"{image_id}/{name}.{extension}"


def process_object(obj: UploadedObject, settings: Settings, clients: Clients, records: ImageRecords) -> str:
    """Turn one uploaded object into renditions and a finished record. Returns the outcome."""
    image_id = image_id_for_key(obj.key)
    started = records.start_processing(image_id, obj.key, obj.etag, obj.size, obj.key.rsplit("/", 1)[-1])
    if started is None:
        logger.info("duplicate event skipped", extra={"image_id": image_id, "key": obj.key})
        return "duplicate"
    try:
        if obj.size > settings.limits.max_bytes:
            raise ImageRejected("too_large", f"The file is larger than {settings.limits.max_bytes} bytes.")
        try:
            data = clients.s3.get_object(Bucket=obj.bucket, Key=obj.key)["Body"].read()
        except clients.s3.exceptions.NoSuchKey:
            raise ImageRejected("missing", "The uploaded file no longer exists.") from None
        result = make_renditions(data, settings.limits)
        records.mark_processed(image_id, _store_renditions(image_id, result, settings, clients))
    except ImageRejected as exc:
        records.mark_failed(image_id, exc.code, exc.message)
        logger.info("image refused", extra={"image_id": image_id, "code": exc.code, "reason": exc.message})
        return "failed"
    except Exception:
        # Never left `processing`: failed with a reason now, and the raise makes Lambda retry.
        records.mark_failed(image_id, "processing_error", "The image could not be processed; it will be retried.")
        raise
    logger.info("image processed", extra={"image_id": image_id, "format": result.format})
    return "processed"


def _store_renditions(image_id: str, result: Processed, settings: Settings, clients: Clients) -> dict:
    stored = {}
    for name, rendition in result.renditions.items():
        key = rendition_key(image_id, name, rendition.extension)
        clients.s3.put_object(
            Bucket=settings.processed_bucket,
            Key=key,
            Body=rendition.data,
            ContentType=rendition.content_type,
            CacheControl="private, max-age=31536000, immutable",
        )
        stored[name] = {
            "key": key,
            "width": rendition.width,
            "height": rendition.height,
            "bytes": len(rendition.data),
            "contentType": rendition.content_type,
        }
    return {
        "contentType": result.content_type,
        "format": result.format,
        "width": result.width,
        "height": result.height,
        "frames": result.frames,
        "hasAlpha": result.has_alpha,
        "colour": result.colour,
        "renditions": stored,
    }


def process_event(event: dict, settings: Settings, clients: Clients) -> dict:
    records = ImageRecords(clients.dynamodb, settings.table_name)
    outcomes: dict[str, str] = {}
    errors: list[Exception] = []
    for record in S3Event(event).records:
        s3 = record.s3
        # Keys arrive URL-encoded in S3 events ("beach day.jpg" -> "beach+day.jpg").
        key = unquote_plus(s3.get_object.key)
        obj = UploadedObject(s3.bucket.name, key, s3.get_object.size or 0, s3.get_object.etag or "")
        try:
            outcomes[obj.key] = process_object(obj, settings, clients, records)
        except Exception as exc:  # one record's failure does not stop the others
            logger.exception("processing failed", extra={"key": obj.key})
            outcomes[obj.key] = "error"
            errors.append(exc)
    if errors:
        raise errors[0]  # Lambda retries the event; finished records are skipped then
    return outcomes


@lru_cache(maxsize=1)
def _runtime() -> tuple[Settings, Clients]:
    settings = Settings.from_env()
    return settings, make_clients(settings)


@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    settings, clients = _runtime()
    return process_event(event, settings, clients)
