"""How a record is stored: DynamoDB's typed attributes to and from the record as code reads it
(`handlers.schema.ImageRecord`), and its key. One codec for every read and write of the images table
(`handlers.records` writes, `handlers.record_reads` reads, the events function reads its stream)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from handlers.schema import TABLE_KEY, ImageRecord

_serialize = TypeSerializer().serialize
_deserialize = TypeDeserializer().deserialize


def to_item(values: dict) -> dict:
    """A record's values (None left out) as typed attributes."""
    return {k: _serialize(_storable(v)) for k, v in values.items() if v is not None}


def from_item(item: dict) -> ImageRecord:
    """A record as the table holds it (typed attributes) -> the record as code reads it."""
    return cast(ImageRecord, {k: _plain(_deserialize(v)) for k, v in item.items()})


def key_of(image_id: str) -> dict:
    return {TABLE_KEY: _serialize(image_id)}


def _storable(value: Any) -> Any:
    """Floats (a photo's f-number, focal length) as Decimal: boto3 refuses Python floats."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal: whole ones as int, others (f-numbers) as float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, set):  # a string set (similarTo): a list, in order
        return sorted(value)
    return value
