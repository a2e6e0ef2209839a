"""Near duplicates in the tables (docs/duplicates.md#near-duplicates): the band index, and
`similarTo` both ways.

Each processed image that has an owner has one item per band of its perceptual hash in the bands
table (`handlers.schema.BANDS_KEY`: the band key `<owner>#<band>#<bits>` of
`handlers.similarity.band_keys`, the image's id; with the hash and the file's ETag). The processor
writes them (`index`) before it marks the record processed, and queries after, strongly consistent:
of two similar photos processed at the same moment, the one that queries last sees the other's items.

A photo's candidates (`similar`) are at most BANDS Queries of one partition each, with a Limit
(SIMILAR_BAND_READ), never a scan of the owner's images; each candidate is checked with
`is_similar` on the hash its item carries (no record read), and the nearest SIMILAR_TO_MAX are kept.
The key starts with the owner, so another person's photos are never candidates.

Each pair is linked (`link`) in one transaction that adds each id to the other's `similarTo` (a
string set), on condition that both records are processed, of that owner, still carry the hash that
was compared, and list fewer than SIMILAR_TO_MAX: both sides or neither, never onto a deleted
image's tombstone (which has no status `processed`), and again is a no-op.

Deleting an image (`forget`) removes its band items and its id from each image its `similarTo` lists
(the relation is symmetric: exactly those name it); each removal is conditional on the id being
there, so no item is ever made. A link committed before the tombstone is in the record the tombstone
replaced, so `forget` undoes it; one tried after is refused by its condition: nothing dangles.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from boto3.dynamodb.types import TypeSerializer

from handlers.config import SIMILAR_BAND_READ, SIMILAR_TO_MAX
from handlers.records import ImageRecords
from handlers.schema import BANDS_KEY, TABLE_KEY, ImageRecord, Status
from handlers.similarity import BANDS, band_keys, distance, is_similar

BAND, IMAGE = BANDS_KEY
_WRITE_TRIES = 5  # BatchWriteItem's unprocessed items sent again, then an error
_serialize = TypeSerializer().serialize


def _values(values: dict) -> dict:
    return {k: _serialize(v) for k, v in values.items()}


class SimilarImages:
    def __init__(self, dynamodb, images_table: str, bands_table: str):
        self._db = dynamodb
        self._images = images_table
        self._bands = bands_table

    @classmethod
    def of(cls, settings, clients) -> SimilarImages:
        """On a function's tables (handlers.config.Settings, handlers.clients.Clients)."""
        return cls(clients.dynamodb, settings.table_name, settings.similar_table)

    # --- the band index ----------------------------------------------------------------------

    def index(self, owner: str, image_id: str, phash: str, etag: str) -> None:
        """The image's band items (BANDS puts in one BatchWriteItem): found by later photos from now on."""
        self._batch_write(
            {"PutRequest": {"Item": _values({BAND: key, IMAGE: image_id, "phash": phash, "etag": etag})}}
            for key in band_keys(owner, phash)
        )

    def unindex(self, owner: str, image_id: str, phash: str, etag: str | None = None) -> None:
        """Remove the image's band items of this hash: those written for the file with this `etag`
        (a file whose record was deleted or taken over while it was processed: another file's items
        under the same keys stay), or, without one, those still carrying this hash."""
        condition, values = ("etag = :v", {":v": etag}) if etag else ("phash = :v", {":v": phash})
        for key in band_keys(owner, phash):
            try:
                self._db.delete_item(
                    TableName=self._bands,
                    Key=_values({BAND: key, IMAGE: image_id}),
                    ConditionExpression=condition,
                    ExpressionAttributeValues=_values(values),
                )
            except self._db.exceptions.ConditionalCheckFailedException:
                pass  # rewritten since by another file under this key, or gone already

    def similar(self, owner: str, image_id: str, phash: str) -> list[tuple[str, str]]:
        """(id, hash) of the owner's indexed images within the threshold of `phash`, nearest first,
        at most SIMILAR_TO_MAX: BANDS Queries of SIMILAR_BAND_READ items at most, sent at once."""

        def query(key: str) -> dict:
            return self._db.query(
                TableName=self._bands,
                KeyConditionExpression="#b = :b",
                ExpressionAttributeNames={"#b": BAND, "#i": IMAGE},
                ExpressionAttributeValues=_values({":b": key}),
                ProjectionExpression="#i, phash",
                ConsistentRead=True,  # an item written a moment ago by a photo processed beside this one
                Limit=SIMILAR_BAND_READ,
            )

        found: dict[str, str] = {}
        # At once (a request each, waiting on the network): one round trip's time, not BANDS'.
        with ThreadPoolExecutor(max_workers=BANDS) as pool:
            answers = list(pool.map(query, band_keys(owner, phash)))
        for answer in answers:
            for item in answer.get("Items", []):
                other, theirs = item[IMAGE]["S"], item["phash"]["S"]
                if other != image_id and is_similar(phash, theirs):
                    found[other] = theirs
        nearest = sorted(found.items(), key=lambda pair: (distance(phash, pair[1]), pair[0]))
        return nearest[:SIMILAR_TO_MAX]

    # --- similarTo, both ways ----------------------------------------------------------------

    def link(self, owner: str, image_id: str, phash: str, found: Iterable[tuple[str, str]]) -> list[str]:
        """Link the image with each (id, hash) found, both ways, one transaction a pair; the ids
        linked (now or before). A pair whose condition fails (either side deleted, changed or full)
        is not linked; one that meets another transaction on the same records is tried once more."""
        linked = []
        for other, theirs in found:
            for _ in range(2):
                outcome = self._link_pair(owner, (image_id, phash), (other, theirs))
                if outcome != "conflict":
                    break
            if outcome == "linked":
                linked.append(other)
        return linked

    def _link_pair(self, owner: str, one: tuple[str, str], two: tuple[str, str]) -> str:
        def add(to: tuple[str, str], member: str) -> dict:
            return {
                "Update": {
                    "TableName": self._images,
                    "Key": _values({TABLE_KEY: to[0]}),
                    "UpdateExpression": "ADD similarTo :m",
                    "ConditionExpression": "#s = :processed AND #o = :o AND phash = :h"
                    " AND (attribute_not_exists(similarTo) OR contains(similarTo, :id) OR size(similarTo) < :most)",
                    "ExpressionAttributeNames": {"#s": "status", "#o": "owner"},
                    "ExpressionAttributeValues": _values(
                        {
                            ":m": {member},
                            ":id": member,
                            ":processed": str(Status.PROCESSED),
                            ":o": owner,
                            ":h": to[1],
                            ":most": SIMILAR_TO_MAX,
                        }
                    ),
                }
            }

        try:
            self._db.transact_write_items(TransactItems=[add(one, two[0]), add(two, one[0])])
        except self._db.exceptions.TransactionCanceledException as exc:
            reasons = {r.get("Code") for r in exc.response.get("CancellationReasons", [])}
            return "conflict" if "TransactionConflict" in reasons else "refused"
        return "linked"

    def unlink(self, image_id: str, others: Iterable[str]) -> None:
        """Remove `image_id` from each of `others`' similarTo (where it is: no item is made)."""
        for other in others:
            # Only where it still names this image (not deleted, not unlinked already).
            self._drop_similar(other, {image_id}, "contains(similarTo, :id)", {":id": image_id})

    # --- an image's whole story ------------------------------------------------------------

    def mark_processed(
        self, records: ImageRecords, image_id: str, etag: str, details: dict, at: str, owner: str | None
    ) -> tuple[str, ImageRecord]:
        """`records.mark_processed` with the band index around it: the band items first (so a
        photo processed beside this one finds it), then the record; if the record was deleted or
        taken over meanwhile ("gone", "superseded"), the items written for this file go again, else
        the image is linked with its similar images (`join`). Returns what mark_processed does."""
        phash = details.get("phash")
        if owner and phash:
            self.index(owner, image_id, phash, etag)
        finished, before = records.mark_processed(image_id, etag, details, at=at)
        if finished != Status.PROCESSED:
            if owner and phash:
                self.unindex(owner, image_id, phash, etag)
            return finished, before
        self.join({"id": image_id, "owner": owner, "phash": phash}, before)
        return finished, before

    def join(self, record: ImageRecord, before: ImageRecord | None = None) -> list[str]:
        """A record just marked processed (its band items written first: `index`): linked with the
        owner's similar images; the ids it lists. `before`, the record it replaced: the band items
        and links of a hash it no longer has (another file under its key) are undone."""
        owner, phash = record.get("owner"), record.get("phash")
        before = before or {}
        old = before.get("phash")
        if old and old != phash and before.get("owner"):
            self.unindex(before["owner"], record["id"], old)
            self.unlink(record["id"], before.get("similarTo") or [])
            self._forget_links(record["id"], before.get("similarTo") or [])
        if not owner or not phash:
            return []
        return self.link(owner, record["id"], phash, self.similar(owner, record["id"], phash))

    def _forget_links(self, image_id: str, others: Iterable[str]) -> None:
        """The image's own similarTo no longer lists `others` (the other half of `unlink`)."""
        others = set(others)
        if others:
            self._drop_similar(image_id, others, "attribute_exists(similarTo)")

    def _drop_similar(self, image_id: str, ids: set[str], condition: str, values: dict | None = None) -> None:
        """`ids` out of the image's similarTo, where `condition` holds (no item is made)."""
        try:
            self._db.update_item(
                TableName=self._images,
                Key=_values({TABLE_KEY: image_id}),
                UpdateExpression="DELETE similarTo :m",
                ConditionExpression=condition,
                ExpressionAttributeValues=_values({":m": ids, **(values or {})}),
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            pass

    def forget(self, record: ImageRecord) -> None:
        """An image deleted (the record its tombstone replaced) or no longer an image: its band
        items go, and its id from the similarTo of every image it listed. A record without a hash
        (never processed, from before hashes, a file put without an owner) has neither."""
        if not record.get("phash"):
            return
        if record.get("owner"):
            self._batch_write(
                {"DeleteRequest": {"Key": _values({BAND: key, IMAGE: record["id"]})}}
                for key in band_keys(record["owner"], record["phash"])
            )
        self.unlink(record["id"], record.get("similarTo") or [])

    def _batch_write(self, requests: Iterable[dict]) -> None:
        pending = {self._bands: list(requests)}
        for attempt in range(_WRITE_TRIES):
            pending = self._db.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if not pending:
                return
            time.sleep(0.05 * 2**attempt)  # throttled: DynamoDB asks for a backoff
        raise RuntimeError(f"{len(pending[self._bands])} band item(s) not written after {_WRITE_TRIES} tries")
