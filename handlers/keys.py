"""Where things live in the buckets: the S3 key layout, and nothing else.

Upload bucket: originals at `uploads/<id>` (the keys the API issues); any other key is a
file put straight into the bucket, whose record id is a stable hash of its key.
Processed bucket, per image and per source object (its ETag), so two versions of one key
never write over each other's results: the renditions at
`<id>/<ETag>/<spec version>/<width>x<height>.<ext>` and the processor's result at
`<id>/<ETag>/manifest.json`.

Pure functions of names: no client, no I/O. What is done with the keys is elsewhere
(`handlers.storage`: S3 calls beyond the layout; `handlers.records`: the table).
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the image core (Pillow) is not needed to name a key
    from handlers.imaging import Source

UPLOAD_PREFIX = "uploads/"
ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
_UPLOAD_KEY = re.compile(r"^uploads/([0-9a-f]{32})$")


def upload_key(image_id: str) -> str:
    return f"{UPLOAD_PREFIX}{image_id}"


def issued_by_api(key: str) -> bool:
    return bool(_UPLOAD_KEY.match(key))


def image_id_for_key(key: str) -> str:
    """The record id for an object key: ours for keys the API issued, a stable hash otherwise."""
    match = _UPLOAD_KEY.match(key)
    if match:
        return match.group(1)
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def rendition_key(image_id: str, etag: str, spec_version: str, source: Source) -> str:
    # Per source object and rendition spec: two versions of one key, or two specs, never write over
    # each other's renditions, so a record never points at other pixels, and "immutable" is true.
    return f"{image_id}/{etag}/{spec_version}/{source.width}x{source.height}.{source.extension}"


def manifest_key(image_id: str, etag: str) -> str:
    """Beside the renditions of that object: `<id>/<ETag>/manifest.json`."""
    return f"{image_id}/{etag}/manifest.json"


def rendition_keys(record: dict) -> set[str]:
    """The processed-bucket keys a record lists: its renditions (each of their sources) and its manifest."""
    keys = set()
    for rendition in (record.get("renditions") or {}).values():
        keys |= {rendition["key"]} | {source["key"] for source in rendition.get("sources") or ()}
    return keys | ({record["manifestKey"]} if record.get("manifestKey") else set())
