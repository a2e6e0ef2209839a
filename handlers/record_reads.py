"""The reads of image records: one by its id, the listings and counts, the sweep's unfinished.

Listing newest-first is a Query on `byCreated` (everyone's, by upload time), `byOwnerTaken` (one
person's, by the time each photo was taken: `takenKey`, `handlers.listing`) or `byStatus` (everyone's
of one status; counted too, within `handlers.bounded`'s cap), never a Scan; the sweep
Queries `byUnfinished`, oldest first. The writes are `handlers.records`' (`ImageRecords`, which
reads as this does).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator

from handlers.bounded import capped_count, filtered_page, whole_items
from handlers.listing import decode_cursor, encode_cursor
from handlers.record_items import from_item, key_of, to_item
from handlers.schema import (
    INDEX_ATTRIBUTES,
    LIST_INDEX,
    LIST_PARTITION,
    OWNER_INDEX,
    STATUS_INDEX,
    TABLE_INDEXES,
    TABLE_KEY,
    UNFINISHED_INDEX,
    UNFINISHED_PARTITION,
    ImageRecord,
    Status,
)

# Listed: the file arrived (byCreated's partition attribute is set with it).
_LISTED = f"attribute_exists({TABLE_INDEXES[LIST_INDEX][0]})"


def _partition_query(table: str, index: str, partition: str, oldest_first: bool) -> dict:
    """A Query's parameters for one partition of an index, in its sort key's order."""
    return {
        "TableName": table,
        "IndexName": index,
        "KeyConditionExpression": "#p = :p",
        "ExpressionAttributeNames": {"#p": TABLE_INDEXES[index][0]},  # a placeholder: `owner` is a reserved word
        "ExpressionAttributeValues": to_item({":p": partition}),
        "ScanIndexForward": oldest_first,
    }


class RecordReads:
    def __init__(self, dynamodb, table_name: str):
        self._db = dynamodb
        self._table = table_name

    def get(self, image_id: str) -> ImageRecord | None:
        item = self._db.get_item(TableName=self._table, Key=key_of(image_id), ConsistentRead=True).get("Item")
        return from_item(item) if item else None

    def list(
        self, limit: int, cursor: str | None, owner: str | None = None, status: Status | None = None
    ) -> tuple[list[ImageRecord], str | None]:
        """Listed images, newest first: one person's (`owner`) by the time each photo was taken (else
        uploaded; `handlers.listing`), or everyone's by upload time; of one `status` only, if given
        (filtered: a page may come back short, read within `handlers.bounded`'s bounds)."""
        if owner is not None:
            index, partition = OWNER_INDEX, owner
        else:
            index, partition = (LIST_INDEX, LIST_PARTITION) if status is None else (STATUS_INDEX, status)
        params = _partition_query(self._table, index, partition, oldest_first=False)
        partition_name, sort_name = TABLE_INDEXES[index]
        if cursor:
            cursor_keys = {TABLE_KEY: None, partition_name: partition, sort_name: None}
            params["ExclusiveStartKey"] = decode_cursor(cursor, cursor_keys)
        if status is None:
            page = self._db.query(**params, Limit=limit)
            items, last = page.get("Items", []), page.get("LastEvaluatedKey")
        else:
            if owner is None:  # byStatus: listed records only
                params["FilterExpression"] = _LISTED
            else:  # byOwnerTaken holds listed records only, of every status
                params["FilterExpression"] = "#s = :s"
                params["ExpressionAttributeNames"]["#s"] = "status"
                params["ExpressionAttributeValues"] |= to_item({":s": status})
            items, last = filtered_page(self._db.query, params, limit, (TABLE_KEY, partition_name, sort_name))
            if index in INDEX_ATTRIBUTES:  # the index holds some attributes only: the records themselves
                items = whole_items(self._db, self._table, TABLE_KEY, items)
        return [from_item(i) for i in items], encode_cursor(last)

    def count_by_status(self, statuses: Iterable[Status]) -> dict[Status, tuple[int, bool]]:
        """Everyone's listed images of each status: (how many, whether the count stopped at
        `handlers.bounded.COUNT_CAP` read), from byStatus, upload forms never sent left out."""
        return {
            status: capped_count(
                self._db.query,
                _partition_query(self._table, STATUS_INDEX, status, oldest_first=False) | {"FilterExpression": _LISTED},
            )
            for status in statuses
        }

    def unfinished(self, limit: int) -> Iterator[ImageRecord]:
        """Records whose status is one of UNFINISHED_STATUSES, oldest first, at most `limit`: a
        Query on the sparse index that holds only them, so finished records never crowd it."""
        return itertools.islice(
            self._index(UNFINISHED_INDEX, UNFINISHED_PARTITION, oldest_first=True, page=min(limit, 100)), limit
        )

    def _index(self, index: str, partition: str, oldest_first: bool, page: int | None = None) -> Iterator[ImageRecord]:
        """Every record of one partition of an index, page by page (lazily: stop reading any time)."""
        params = _partition_query(self._table, index, partition, oldest_first) | ({"Limit": page} if page else {})
        while True:
            answer = self._db.query(**params)
            yield from (from_item(i) for i in answer.get("Items", []))
            if "LastEvaluatedKey" not in answer:
                return
            params["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def listed(self) -> Iterator[ImageRecord]:
        """Every listed record (its file arrived: any status but deleted), newest first, page by page."""
        return self._index(LIST_INDEX, LIST_PARTITION, oldest_first=False)
