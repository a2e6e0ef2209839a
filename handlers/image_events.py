"""What other applications are told about images: a change of a record (as it was, as it is) in,
the event it stands for out, or nothing. Pure: no AWS, no clock; the stream Lambda
(`handlers.image_events_lambda`) reads the table's changes and sends what this says.

The events, on the stack's own EventBridge bus, source SOURCE (docs/events.md; the detail's JSON
Schema: docs/events/image-event.schema.json):
- `Image Processed`: a record became `processed` (first processing, or rebuilt by reconcile);
- `Image Re-rendered`: a processed record's renditions were replaced (`make reprocess`);
- `Image Failed`: a record became `failed` (a refusal, for good; or `processing_error`, which
  Lambda retries: an `Image Processed` may follow);
- `Image Deleted`: a record became a tombstone (DELETE through the API, or reconcile retiring
  an image whose file is gone).
Nothing else is an event: an upload form, a claim, a lease, a backfilled sort key, a tombstone
expiring, the table's own items (quota counters, deploy's notes).

Each detail carries the owner's `sub` and nothing else about the person (no email, no file
name), the rendition sources' keys in the processed bucket (never a presigned URL), and an
`eventId` derived from the image id, what happened and the record's `updatedAt`: every delivery
of one change (a retried batch, a record rebuilt by reconcile with the same times) has the same
one, so a subscriber de-duplicates on it.
"""

from __future__ import annotations

import hashlib
from typing import Any

from handlers.schema import ImageRecord, Status

SOURCE = "imagepipe"
SCHEMA_VERSION = "1"

PROCESSED = "Image Processed"
RERENDERED = "Image Re-rendered"
FAILED = "Image Failed"
DELETED = "Image Deleted"
DETAIL_TYPES = (PROCESSED, RERENDERED, FAILED, DELETED)


def event_id(image_id: str, detail_type: str, updated_at: str) -> str:
    """The same change, the same id: whoever sends it, however often."""
    return hashlib.sha256(f"{image_id}|{detail_type}|{updated_at}".encode()).hexdigest()[:32]


def what_happened(before: ImageRecord | None, after: ImageRecord | None) -> str | None:
    """The detail type a change of a record stands for, or None. `before`/`after`: the record as
    it was and as it is ({} or None where there was or is none)."""
    before, after = before or {}, after or {}
    was, now = before.get("status"), after.get("status")
    if now == Status.PROCESSED:
        if was != Status.PROCESSED:
            return PROCESSED
        # A lease taken or ended, a sort key backfilled: the same renditions, no event.
        return RERENDERED if _sources(before) != _sources(after) else None
    if now == Status.FAILED:
        changed = was != Status.FAILED or before.get("updatedAt") != after.get("updatedAt")
        return FAILED if changed else None
    if now == Status.DELETED and was and was != Status.DELETED:
        return DELETED
    return None


def image_event(before: ImageRecord | None, after: ImageRecord | None, bucket: str) -> tuple[str, dict] | None:
    """(detail type, detail) for a change of a record, or None if it is no event. `bucket`: the
    processed bucket the rendition keys are in."""
    detail_type = what_happened(before, after)
    if detail_type is None:
        return None
    before, after = before or {}, after or {}
    known = after if detail_type != DELETED else before  # a tombstone keeps only id and times
    detail: dict[str, Any] = {
        "schemaVersion": SCHEMA_VERSION,
        "eventId": event_id(after["id"], detail_type, after["updatedAt"]),
        "imageId": after["id"],
        "owner": known.get("owner"),
        "status": str(after["status"]),
        "createdAt": known.get("createdAt"),
        "occurredAt": after["updatedAt"],
    }
    if detail_type == FAILED:
        detail["errorCode"] = (after.get("error") or {}).get("code") or "unknown"
    if detail_type in (PROCESSED, RERENDERED):
        detail |= {
            "specVersion": after.get("specVersion"),
            "width": after.get("width"),
            "height": after.get("height"),
            "bucket": bucket,
            "renditions": _sources(after),
        }
    return detail_type, detail


def _sources(record: ImageRecord) -> dict[str, list[dict]]:
    """Each rendition's sources as subscribers get them: key, type, size and bytes."""
    return {
        name: [
            {name: source.get(name) for name in ("key", "contentType", "width", "height", "bytes")}
            for source in rendition.get("sources") or ()
        ]
        for name, rendition in (record.get("renditions") or {}).items()
    }
