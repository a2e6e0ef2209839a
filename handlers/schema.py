"""The images table's shape, said once: its key, its indexes, its TTL attribute, the statuses an
image goes through and the attributes its record carries; and the listing's page sizes.

Standard library only: deploy (`bootstrap.deploy`) creates the table (and writes the page's
config) from it and must not pull in boto3 or Powertools through it; the runtime
(`handlers.records` and the Lambdas) reads and writes by it. `tests/unit/test_schema.py` fails
when the code, the deployed table or openapi.yaml drifts from it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Final, TypedDict

TABLE_KEY: Final = "id"

LIST_INDEX = "byCreated"
OWNER_INDEX = "byOwnerTaken"
UNFINISHED_INDEX = "byUnfinished"
STATUS_INDEX = "byStatus"
CONTENT_INDEX = "byOwnerContent"

# Index name -> (partition, sort) attribute names. Every index is sparse: an item is in it only
# while it carries both attributes, so each holds exactly the records a Query needs, never a Scan.
TABLE_INDEXES: dict[str, tuple[str, str]] = {
    # Everyone's gallery: listPk is set once the file has arrived, so uploads still on their way
    # (or abandoned) and tombstones are not listed.
    LIST_INDEX: ("listPk", "createdKey"),
    # One person's gallery, newest first by the day each photo was taken: only uploads through the
    # API have an owner (a file put straight into the bucket is listed for admins only); takenKey is
    # set with listPk (the createdKey) and replaced by the time the photo was taken once processed.
    OWNER_INDEX: ("owner", "takenKey"),
    # The sweep's work: only records not yet finished carry unfinishedPk, so finished ones never crowd it.
    UNFINISHED_INDEX: ("unfinishedPk", "createdKey"),
    # Everyone's images of one status, newest upload first: the admin's status filter and counts.
    # Nothing writes for it: every record has a status and a createdKey but a tombstone, which has
    # no createdKey and so is not in it. An upload form whose file never arrived is (pending, never
    # listed): its readers keep to records with listPk (`handlers.records`).
    STATUS_INDEX: ("status", "createdKey"),
    # One person's images by their bytes' SHA-256 (exact duplicates, `handlers.duplicates`): a record
    # is in it once it carries `sha256`: declared at POST /uploads, or computed by the processor.
    # The partition is the owner, so no lookup ever reaches another person's images; a record
    # without an owner (a file put straight into the bucket) is in none. A refusal removes `sha256`.
    CONTENT_INDEX: ("owner", "sha256"),
}

# Indexes that hold only their keys and these attributes (INCLUDE); every other index holds whole
# records (ALL). An update that changes none of an index's attributes costs that index nothing: so
# byStatus, which only a change of status (or the file's arrival) rewrites, adds no write to a
# re-render (`make reprocess` rewrites every processed record), and a listing fetches its records.
INDEX_ATTRIBUTES: dict[str, tuple[str, ...]] = {STATUS_INDEX: ("listPk",), CONTENT_INDEX: ("status", "listPk")}

# Indexes of earlier versions that no code reads any more: deploy removes them once the functions
# run code that does not (byOwner: one person's gallery by upload time, before takenKey).
RETIRED_INDEXES: tuple[str, ...] = ("byOwner",)

# The constant partitions of the byCreated and byUnfinished indexes (one gallery, one work list).
LIST_PARTITION = "IMAGE"
UNFINISHED_PARTITION = "UNFINISHED"

# Epoch seconds after which DynamoDB removes the item: pending records (uploads that never
# arrive expire on their own) and tombstones (once the upload form they answer has expired).
TTL_ATTRIBUTE: Final = "expiresAt"


# The live status's connections table (handlers/live.py), a table of its own: one item per open
# WebSocket under its owner's sub (partition), its connection id (sort), expiring by TTL_ATTRIBUTE;
# an admin's connection that asked for everyone's events has a second item under EVERYONE.
CONNECTIONS_KEY: Final = ("owner", "connectionId")
EVERYONE: Final = "*"  # no Cognito sub is "*"


# The near-duplicate band index (handlers/similar_index.py), a table of its own: one item per band of
# a processed image's perceptual hash, under its band key `<owner>#<band number>#<bits>`
# (handlers.similarity.band_keys; partition) and the image's id (sort), carrying the hash and the
# file's ETag. A photo's candidates are at most BANDS Queries of one partition each, never a scan.
BANDS_KEY: Final = ("band", "id")


class Status(StrEnum):
    """An image record's `status`; a str, so the same strings in DynamoDB, manifests and JSON."""

    PENDING = "pending"  # an upload form was issued (its file may not have arrived), or it arrived unprocessed
    PROCESSING = "processing"  # claimed by the processor
    PROCESSED = "processed"  # renditions written and listed
    FAILED = "failed"  # refused for good (a manifest says why), or an error the next attempt retries
    DELETED = "deleted"  # a tombstone: never shown; answers a late file until it expires


# Records in these carry unfinishedPk (the byUnfinished index): the sweep takes them up.
UNFINISHED_STATUSES = frozenset({Status.PENDING, Status.PROCESSING})


class ImageError(TypedDict):
    code: str  # machine-readable: "not_an_image", "too_large", "processing_error", ...
    message: str  # for people, at most 500 characters


class ImageRecord(TypedDict, total=False):
    """An image's item in the table, as `handlers.records` writes it (read back, `status` is its
    plain string, equal to the member). A tombstone carries id, status, updatedAt, expiresAt only."""

    id: str  # the table's key: 32 hex digits for uploads through the API, a hash of the key otherwise
    status: Status
    filename: str  # the uploader's file name, cleaned, as data
    contentType: str | None  # declared at upload; once processed, the detected format's type
    bytes: int  # the original's size
    owner: str | None  # the uploader's Cognito sub; none for a file put straight into the bucket
    ownerEmail: str | None  # the uploader's email, shown to admins (and relinks a lost account)
    createdAt: str  # ISO 8601 UTC, when the upload form was issued (or S3 got a direct put)
    correlationId: str  # names the upload in every function's log lines (POST /uploads); none for a direct put
    updatedAt: str  # ISO 8601 UTC, its last claim or change of status
    createdKey: str  # "<createdAt>#<id>": the sort key of byCreated and byUnfinished
    listPk: str  # LIST_PARTITION once the file has arrived (byCreated's partition)
    takenKey: str  # byOwnerTaken's sort key, set with listPk: the createdKey, then "<taken time>#<id>"
    listedKey: str  # "<createdAt>#<id>": the retired byOwner's sort key, in records written before takenKey
    unfinishedPk: str  # UNFINISHED_PARTITION while the status is one of UNFINISHED_STATUSES
    expiresAt: int  # the TTL_ATTRIBUTE: pending records and tombstones only
    uploadKey: str  # the original's key in the upload bucket
    sourceEtag: str  # the ETag of the object processed (or being processed), without quotes
    sourceVersion: str  # its version id, for keys the API issued: the first file posted is the image
    attempts: int  # claims that did not finish (killed by the timeout or memory); removed when finished
    error: ImageError  # why the image failed
    manifestKey: str  # the processor's conclusion, JSON beside the renditions (rebuilds a lost record)
    rerenderUntil: int  # epoch seconds: a re-render's lease (`make reprocess`)
    format: str  # the detected format ("JPEG", "PNG", ...)
    width: int  # pixels, upright (after EXIF orientation)
    height: int
    frames: int  # more than 1 for an animation
    hasAlpha: bool
    colour: str  # "srgb" (converted from an embedded ICC profile) or "assumed-srgb"
    specVersion: str  # the rendition spec the renditions were made with
    placeholder: str  # ThumbHash, base64, shown while the renditions load
    dominantColor: str  # "#rrggbb"
    facts: dict[str, Any]  # photo facts from EXIF (never GPS or serial numbers)
    renditions: dict[str, dict[str, Any]]  # name -> its fallback's fields and key, and every source
    sha256: str  # the file's SHA-256, 64 hex digits: declared at upload, then the processor's own
    duplicateOf: str  # the id of the owner's image with the same bytes (a refusal, code "duplicate")
    phash: str  # the perceptual hash of the smallest rendition, 16 hex digits (handlers.similarity)
    similarTo: list[str]  # the owner's processed images within the threshold, both ways (a string set)


# A page of a listing (GET /images?limit=): what the page asks for, and the most the API gives.
DEFAULT_PAGE, MAX_PAGE = 24, 100
