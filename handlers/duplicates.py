"""Exact duplicates, per person (docs/duplicates.md): the SHA-256 of a file's bytes, and the lookup
of the owner's image with the same bytes on the `byOwnerContent` index (owner, sha256): a Query of
one key, never a scan of the owner's images, and never of another person's (the owner is the
index's partition).

`POST /uploads` looks up the hash the page declares (`duplicate_of`; the form then binds it in
the file's metadata); the processor hashes the bytes it reads anyway (`sha256_of`), refuses a file
whose hash is not the declared one (`HASH_MISMATCH`), and records a file that declared none and
duplicates a processed image of its owner's as `duplicateOf` that image (`DUPLICATE`) instead of
rendering it again.
"""

from __future__ import annotations

import hashlib
import re

from boto3.dynamodb.types import TypeSerializer

from handlers.outcome import DUPLICATE, HASH_MISMATCH, ImageRejected
from handlers.schema import CONTENT_INDEX, TABLE_INDEXES, Status

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
# Records of one (owner, hash) read per lookup: normally one; a few more only when uploads of the
# same bytes raced, or failed ones linger. Bounded whatever the table holds.
LOOKUP_LIMIT = 20
# What a match may be: an image being (or already) made, whose file arrived (`listPk`). An upload
# form whose file never came is no image; a failed or deleted one is none either.
_ALIVE = frozenset({Status.PENDING, Status.PROCESSING, Status.PROCESSED})

_serialize = TypeSerializer().serialize


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def declared_sha256(body: dict) -> str | None:
    """The `sha256` of a POST /uploads body: None when absent, else exactly 64 lowercase hex digits
    (a null is no hash: refused, as openapi.yaml says)."""
    if "sha256" not in body:
        return None
    value = body["sha256"]
    if not isinstance(value, str) or not SHA256_HEX.match(value):
        raise ValueError("'sha256' must be the file's SHA-256 as 64 lowercase hex digits.")
    return value


def duplicate_of(
    dynamodb, table: str, owner: str, sha256: str, exclude: str | None = None, processed_only: bool = False
) -> str | None:
    """The id of one of `owner`'s images with these bytes (the first processed one, else one on its
    way), other than `exclude`; None if there is none. `processed_only`: processed images only."""
    partition, sort = TABLE_INDEXES[CONTENT_INDEX]
    answer = dynamodb.query(
        TableName=table,
        IndexName=CONTENT_INDEX,
        KeyConditionExpression="#p = :p AND #h = :h",
        ExpressionAttributeNames={"#p": partition, "#h": sort},  # `owner` is a reserved word
        ExpressionAttributeValues={":p": _serialize(owner), ":h": _serialize(sha256)},
        Limit=LOOKUP_LIMIT,
    )
    found: list[tuple[bool, str]] = []
    for item in answer.get("Items", []):
        image_id, status = item["id"]["S"], item.get("status", {}).get("S")
        if image_id == exclude or status not in _ALIVE or "listPk" not in item:
            continue
        if status == Status.PROCESSED or not processed_only:
            found.append((status != Status.PROCESSED, image_id))
    return min(found)[1] if found else None


def judge(data: bytes, declared: str | None, owner: str | None, image_id: str, dynamodb, table: str) -> dict:
    """What the processor keeps of a file's bytes on its record ({"sha256": ...}), or the refusal:
    `HASH_MISMATCH` when they are not the bytes the upload declared, `DUPLICATE` when it declared
    nothing (a direct put, an old client) and its owner already has a processed image of them."""
    sha256 = sha256_of(data)
    if declared and declared != sha256:
        raise ImageRejected(HASH_MISMATCH, f"The file's SHA-256 is {sha256}, not {declared} as its upload declared.")
    if not declared and owner:
        original = duplicate_of(dynamodb, table, owner, sha256, exclude=image_id, processed_only=True)
        if original:
            raise ImageRejected(
                DUPLICATE, f"Already in the gallery: the same file as image {original}.", {"duplicateOf": original}
            )
    return {"sha256": sha256}
