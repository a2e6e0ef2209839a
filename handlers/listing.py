"""How a gallery is listed: the key each photo is listed by (its taken key, and its day), and the
cursor that pages a listing.

One person's gallery is grouped by day, newest first: the day a photo was taken, else the day it was
uploaded. When it was taken is a wall-clock time, "YYYY-MM-DDTHH:MM:SS.mmm", as the camera's clock
read it: its UTC offset, when the camera wrote one, is left out, so the day is the day where the
photo was taken, whatever time zone looks at it. The record's `takenKey`, the owner index's sort key,
is "<that time>#<id>", else its createdKey ("<createdAt>#<id>", createdAt in UTC); `day` is that
time's date, else createdAt's UTC date: what the page groups consecutive photos by. Both come from
`taken_at`, so the listing's order and its days never disagree. Pure functions of the record, but
for the cursor codec's DynamoDB types.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import UTC, datetime

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from handlers.keys import ID_PATTERN
from handlers.schema import LIST_INDEX, OWNER_INDEX, TABLE_INDEXES, TABLE_KEY

_serialize = TypeSerializer().serialize
_deserialize = TypeDeserializer().deserialize


def _moment(text: object) -> datetime | None:
    """An ISO 8601 time (with its offset, if it has one), or None if it is not one."""
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def taken_at(record: dict) -> str | None:
    """When the photo was taken (`facts.takenAt`) as the camera's clock read it, without its offset:
    "YYYY-MM-DDTHH:MM:SS.mmm"; None when its facts do not say."""
    taken = _moment((record.get("facts") or {}).get("takenAt"))
    return taken.replace(tzinfo=None).isoformat(timespec="milliseconds") if taken else None


def taken_key(record: dict) -> str:
    """The owner index's sort key: "<taken_at>#<id>", else the record's createdKey ("<createdAt>#<id>")."""
    return f"{taken_at(record) or record['createdAt']}#{record['id']}"


def day_of(record: dict) -> str | None:
    """The day the photo is listed under, "YYYY-MM-DD": where it was taken, else its upload's UTC date."""
    taken = taken_at(record)
    if taken:
        return taken[:10]
    created = _moment(record.get("createdAt"))
    return created.astimezone(UTC).date().isoformat() if created and created.tzinfo else None


class InvalidCursor(ValueError):
    pass


def encode_cursor(key: dict | None) -> str | None:
    if not key:
        return None
    plain = {k: _deserialize(v) for k, v in key.items()}
    return base64.urlsafe_b64encode(json.dumps(plain, sort_keys=True).encode()).decode().rstrip("=")


# The shapes of a start key's values: DynamoDB itself refuses a malformed one with a 500's worth
# of ValidationException (an empty string, a key over 1024 bytes), so they are checked first.
_CURSOR_SHAPES = {
    TABLE_KEY: ID_PATTERN,
    TABLE_INDEXES[LIST_INDEX][1]: re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z#[0-9a-f]{32}$"),
    TABLE_INDEXES[OWNER_INDEX][1]: re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z?#[0-9a-f]{32}$"),
}


def decode_cursor(cursor: str, expect: dict[str, str | None]) -> dict:
    """The start key a cursor names. `expect` gives its attributes, each with the value it must
    hold (the listing's partition: a cursor cannot page another person's gallery) or None (then
    it must have the shape this API writes)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        plain = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidCursor("cursor is not one this API issued") from exc
    if (
        not isinstance(plain, dict)
        or set(plain) != set(expect)
        or not all(isinstance(v, str) for v in plain.values())
        or any(value is not None and plain[name] != value for name, value in expect.items())
        or any(not _CURSOR_SHAPES[name].match(plain[name]) for name, value in expect.items() if value is None)
    ):
        raise InvalidCursor("cursor is not one this API issued")
    return {k: _serialize(v) for k, v in plain.items()}
