"""Reads of one index partition that stop: a page of the items a FilterExpression keeps, and a
count, each after a bounded number of items read whatever the partition holds.

DynamoDB applies a FilterExpression after it has read (and billed) the items, and Limit counts what
it read, not what it kept: a filtered Query can answer nothing and a key to carry on from, page
after page. So a request reads at most MAX_QUERIES_PER_PAGE Queries of a page's size and answers
what it found, short if need be, with the key to go on from (the client asks again); a count stops
at COUNT_CAP items read and says so; the whole items an index holds part of are read by their keys,
what DynamoDB leaves unread asked again a few times. Plain DynamoDB items in and out: the caller
owns the record's shape and the cursor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

MAX_QUERIES_PER_PAGE = 5  # a filtered page reads at most this many times its size
COUNT_CAP = 1000  # a count reads at most this many items: "1000+" beyond


def filtered_page(
    query: Callable[..., dict], params: dict, limit: int, key_names: Sequence[str]
) -> tuple[list[dict], dict | None]:
    """At most `limit` items of the Query `params` (with its FilterExpression), and the key to carry
    on from (None: the partition is done). More kept than fit: the key is the last one kept's
    (`key_names`: the table's key and the index's), so none is skipped."""
    params, items, last = dict(params), [], None
    for _ in range(MAX_QUERIES_PER_PAGE):
        answer = query(**params, Limit=limit)
        found, room = answer.get("Items", []), limit - len(items)
        if len(found) > room:
            items += found[:room]
            return items, {name: items[-1][name] for name in key_names}
        items += found
        last = answer.get("LastEvaluatedKey")
        if last is None or len(items) == limit:
            return items, last
        params["ExclusiveStartKey"] = last
    return items, last


def capped_count(query: Callable[..., dict], params: dict, cap: int | None = None) -> tuple[int, bool]:
    """How many items the Query `params` keeps, reading at most `cap` (COUNT_CAP); and whether it
    stopped there (True: at least that many, perhaps more)."""
    cap = cap or COUNT_CAP
    params, count, read = dict(params, Select="COUNT"), 0, 0
    while read < cap:
        answer = query(**params, Limit=cap - read)
        count, read = count + answer["Count"], read + max(answer["ScannedCount"], 1)  # never a loop
        if "LastEvaluatedKey" not in answer:
            return count, False
        params["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
    return count, True


def whole_items(dynamodb, table: str, key: str, entries: list[dict]) -> list[dict]:
    """The table's items of these index entries (at most 100: BatchGetItem's most, and a page's), by
    the table's `key` attribute, in their order; one deleted meanwhile is left out."""
    found: dict[str, dict] = {}
    request = {table: {"Keys": [{key: e[key]} for e in entries]}} if entries else {}
    for _ in range(MAX_QUERIES_PER_PAGE):  # what DynamoDB left unread (throttled), asked again
        if not request:
            return [found[str(e[key])] for e in entries if str(e[key]) in found]
        answer = dynamodb.batch_get_item(RequestItems=request)
        found |= {str(item[key]): item for item in answer["Responses"].get(table, [])}
        request = answer.get("UnprocessedKeys") or {}
    raise RuntimeError(f"DynamoDB left items of {table} unread {MAX_QUERIES_PER_PAGE} times")
