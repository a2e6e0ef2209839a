"""Per-person quotas: uploads per UTC day and bytes stored, enforced atomically.

One item per person in the images table (`id` = "quota#<sub>": never an image id, which is
32 hex digits) holds `day`, `dayUploads` and `storedBytes`. A charge is one conditional
update (never read, then write), so N parallel requests at the edge of a quota admit exactly
as many as fit. A new UTC day resets the count with a second conditional update; a third
covers the race where another request started the day in between.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from handlers.config import Quota  # a setting, declared with the others
from handlers.errors import QuotaExceeded  # the API's 429: one quota error, raised where it is known

_serialize = TypeSerializer().serialize
_deserialize = TypeDeserializer().deserialize


def quota_key(owner: str) -> str:
    return f"quota#{owner}"


def next_utc_midnight(today: date) -> str:
    return datetime.combine(today + timedelta(days=1), time(0), UTC).isoformat().replace("+00:00", "Z")


class Quotas:
    def __init__(self, dynamodb, table_name: str, quota: Quota):
        self._db, self._table, self.quota = dynamodb, table_name, quota

    def charge(self, owner: str, size: int, today: date | None = None) -> None:
        """Count one upload of `size` bytes against `owner`, or raise QuotaExceeded."""
        today = today or datetime.now(UTC).date()
        if self.quota.uploads_per_day < 1:
            raise self._exceeded({"day": today.isoformat(), "dayUploads": 0}, size, today)
        values = {
            ":today": today.isoformat(),
            ":one": 1,
            ":size": size,
            ":zero": 0,
            ":per_day": self.quota.uploads_per_day,
            ":room": self.quota.bytes - size,
        }
        same_day = (
            "SET dayUploads = dayUploads + :one, storedBytes = storedBytes + :size",
            "#day = :today AND dayUploads < :per_day AND storedBytes <= :room",
        )
        new_day = (
            "SET #day = :today, dayUploads = :one, storedBytes = if_not_exists(storedBytes, :zero) + :size",
            "(attribute_not_exists(#day) OR #day <> :today)"
            " AND (attribute_not_exists(storedBytes) OR storedBytes <= :room)",
        )
        before = self._update(owner, *same_day, values)
        if before is not None and before.get("day") != values[":today"]:  # the day's first upload
            before = self._update(owner, *new_day, values)
            if before is not None and before.get("day") == values[":today"]:  # started meanwhile
                before = self._update(owner, *same_day, values)
        if before is not None:
            raise self._exceeded(before, size, today)

    def refund(self, owner: str, size: int) -> None:
        """Give back the bytes of a deleted image, or of an upload whose file never arrived; never
        below zero (a record rebuilt from S3 after its counter was lost was never charged)."""
        key = {"id": _serialize(quota_key(owner))}
        try:
            self._db.update_item(
                TableName=self._table,
                Key=key,
                UpdateExpression="ADD storedBytes :minus",
                ConditionExpression="storedBytes >= :size",
                ExpressionAttributeValues={":minus": _serialize(-size), ":size": _serialize(size)},
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            self._db.update_item(
                TableName=self._table,
                Key=key,
                UpdateExpression="SET storedBytes = :zero",
                ExpressionAttributeValues={":zero": _serialize(0)},
            )

    def _update(self, owner: str, expression: str, condition: str, values: dict) -> dict | None:
        """None when the update was made; else the item as it was (its condition failed)."""
        used = {k: v for k, v in values.items() if k in expression or k in condition}
        names = {"#day": "day"} if "#day" in expression + condition else {}
        try:
            self._db.update_item(
                TableName=self._table,
                Key={"id": _serialize(quota_key(owner))},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeValues={k: _serialize(v) for k, v in used.items()},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **({"ExpressionAttributeNames": names} if names else {}),
            )
        except self._db.exceptions.ConditionalCheckFailedException as exc:
            return {k: _deserialize(v) for k, v in (exc.response.get("Item") or {}).items()}
        return None

    def _exceeded(self, before: dict, size: int, today: date) -> QuotaExceeded:
        if before.get("day") == today.isoformat() and before.get("dayUploads", 0) >= self.quota.uploads_per_day:
            return QuotaExceeded(
                f"You have uploaded {self.quota.uploads_per_day} images today, the daily limit; more tomorrow (UTC).",
                next_utc_midnight(today),
            )
        stored = int(before.get("storedBytes", 0))
        return QuotaExceeded(
            f"This upload of {size} bytes would take your storage over its {self.quota.bytes}"
            f" bytes ({stored} used); delete images to make room.",
            None,
        )
