"""The DynamoDB repository of image records: every conditional write (`ImageRecords`; its reads
are `handlers.record_reads`', its items' codec `handlers.record_items`') and the record rebuilt
from S3.

The table's shape (key, indexes, TTL attribute, statuses, the record's attributes) is
`handlers.schema`'s; where files live is `handlers.keys` and what they carry is
`handlers.storage`; this module only names them in records. `record_from_s3` is here, not
there: it reads S3's answers but what it decides is a record's shape (its index attributes, its
status), the same shape `ImageRecords` writes.

Records written before `takenKey` get it from the backfill
(`give_taken_keys`), which deploy, reconcile and reprocess run. S3 is the truth: an uploaded file carries
what its record needs to exist (`x-amz-meta-*`, bound by the upload policy: owner, file name,
created time), and the processor writes its result as a manifest next to the renditions;
`record_from_s3` rebuilds a record from the two (`python -m bootstrap reconcile`). A deleted
image leaves a tombstone (`Status.DELETED`) until its upload form has expired, so a file posted
again is removed, not brought back. Pending records carry the TTL attribute so that uploads that
never arrive expire on their own; processing removes it. `attempts` counts the claims of a
record that did not finish (an execution killed by its timeout or memory); a finished
processing removes it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from handlers.keys import image_id_for_key, manifest_key
from handlers.listing import taken_at, taken_key
from handlers.record_items import from_item, key_of, to_item
from handlers.record_reads import RecordReads
from handlers.schema import (
    LIST_PARTITION,
    TTL_ATTRIBUTE,
    UNFINISHED_PARTITION,
    ImageRecord,
    Status,
)
from handlers.storage import origin_from_metadata


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def record_from_s3(key: str, head: dict, manifest: dict | None) -> ImageRecord:
    """The record an object (HeadObject's answer) and its manifest (None: not processed yet) stand for."""
    image_id = image_id_for_key(key)
    origin = origin_from_metadata(head.get("Metadata") or {})
    created = origin.get("createdAt") or head["LastModified"].astimezone(UTC).isoformat(
        timespec="milliseconds"
    ).replace("+00:00", "Z")
    record: ImageRecord = {
        "id": image_id,
        "uploadKey": key,
        "sourceEtag": head["ETag"].strip('"'),
        "bytes": head["ContentLength"],
        "contentType": head.get("ContentType"),
        "filename": origin.get("filename") or key.rsplit("/", 1)[-1],
        "owner": origin.get("owner"),
        "ownerEmail": origin.get("ownerEmail"),
        "createdAt": created,
        "correlationId": origin.get("correlationId"),
        "createdKey": f"{created}#{image_id}",
        "listPk": LIST_PARTITION,
        "takenKey": taken_key({"id": image_id, "createdAt": created, "facts": (manifest or {}).get("facts")}),
    }
    if manifest is None:  # arrived, never finished: unfinished, for the processor to take up
        pending = {"status": Status.PENDING, "updatedAt": created, "unfinishedPk": UNFINISHED_PARTITION}
        return cast(ImageRecord, record | pending | ({"sha256": origin["sha256"]} if "sha256" in origin else {}))
    return cast(ImageRecord, record | manifest | {"manifestKey": manifest_key(image_id, record["sourceEtag"])})


@dataclass(frozen=True)
class Claim:
    # "claimed" | "duplicate" (this object is already processed) | "gone" (deleted) | "reposted" (a
    # later file under a key whose first file is the image: the form was posted again)
    outcome: str
    before: ImageRecord  # the record as it was, when claimed ({} if it was created now)
    attempt: int = 0  # this claim's number among claims that did not finish (1 = the first)


class ImageRecords(RecordReads):
    """Every write of image records, each conditional (and the reads, `RecordReads`')."""

    def create_pending(
        self,
        image_id: str,
        filename: str,
        content_type: str,
        size: int,
        owner: str | None,
        owner_email: str | None,
        expires_at: int,
        created_at: str | None = None,
        correlation_id: str | None = None,
        sha256: str | None = None,
    ) -> ImageRecord:
        now = created_at or now_iso()
        record: ImageRecord = {
            "id": image_id,
            "unfinishedPk": UNFINISHED_PARTITION,
            "createdKey": f"{now}#{image_id}",
            "filename": filename,
            "status": Status.PENDING,
            "contentType": content_type,
            "bytes": size,
            "owner": owner,
            "ownerEmail": owner_email,
            "createdAt": now,
            "updatedAt": now,
            "correlationId": correlation_id,
            "sha256": sha256,  # declared: the API finds the image by it once its file arrives
            TTL_ATTRIBUTE: expires_at,
        }
        self._db.put_item(TableName=self._table, Item=to_item(record), ConditionExpression="attribute_not_exists(id)")
        return cast(ImageRecord, {k: v for k, v in record.items() if v is not None})

    def start_processing(
        self,
        image_id: str,
        key: str,
        etag: str,
        size: int,
        filename: str,
        origin: dict,
        create: bool = True,
        version: str | None = None,
    ) -> Claim:
        """Mark the record `processing`, creating it if missing: for a file put straight into the
        bucket, or one whose record was lost (rebuilt from `origin`, the file's metadata). Never
        for a deleted image (its tombstone answers "gone"), nor when the file itself is gone
        (`create=False`: nothing to bring back). With the file's `version` (a key the API issued,
        in the versioned bucket), the first file is the image: a record that holds another
        file (another version, or one from before versions were kept) answers "reposted"."""
        now = now_iso()
        created = origin.get("createdAt") or now
        duplicate = "NOT (#s = :processed AND sourceEtag = :etag)"
        alive = "(attribute_not_exists(#s) OR #s <> :deleted)"
        # The same file: its version, or (a record from before versions were kept, or rebuilt from
        # the bucket) its ETag.
        same_file = "sourceVersion = :version OR (attribute_not_exists(sourceVersion) AND sourceEtag = :etag)"
        first = f" AND (attribute_not_exists(sourceEtag) OR {same_file})" if version else ""
        condition = f"{alive} AND {duplicate}{first}" + ("" if create else " AND attribute_exists(id)")
        values = {
            ":processing": Status.PROCESSING,
            ":processed": Status.PROCESSED,
            ":deleted": Status.DELETED,
            ":now": now,
            ":key": key,
            ":etag": etag,
            ":size": size,
            ":fn": origin.get("filename") or filename,
            ":created": created,
            ":lp": LIST_PARTITION,
            ":ck": f"{created}#{image_id}",
            ":up": UNFINISHED_PARTITION,
            ":one": 1,
        }
        version_set = ""
        if version:
            values[":version"] = version
            version_set = " sourceVersion = :version,"
        owner = ""
        if origin.get("owner"):  # a lost record gets its owner back from the file
            owner = " #o = if_not_exists(#o, :owner), ownerEmail = if_not_exists(ownerEmail, :email),"
            values |= {":owner": origin["owner"], ":email": origin.get("ownerEmail") or ""}
        try:
            result = self._db.update_item(
                TableName=self._table,
                Key=key_of(image_id),
                UpdateExpression=(
                    "SET #s = :processing, updatedAt = :now, uploadKey = :key, sourceEtag = :etag, #b = :size,"
                    f"{version_set}{owner} filename = if_not_exists(filename, :fn),"
                    " createdAt = if_not_exists(createdAt, :created),"
                    " listPk = if_not_exists(listPk, :lp), createdKey = if_not_exists(createdKey, :ck),"
                    " takenKey = if_not_exists(createdKey, :ck),"  # its createdKey until mark_processed says
                    " unfinishedPk = :up ADD attempts :one"
                    f" REMOVE {TTL_ATTRIBUTE}, #e"
                ),
                ConditionExpression=condition,
                ExpressionAttributeNames={"#s": "status", "#b": "bytes", "#e": "error"}
                | ({"#o": "owner"} if owner else {}),
                ExpressionAttributeValues=to_item(values),
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self._db.exceptions.ConditionalCheckFailedException as exc:
            item = from_item(exc.response.get("Item") or {})
            if not item or item.get("status") == Status.DELETED:
                return Claim("gone", {})
            same = item.get("sourceVersion") == version or (
                not item.get("sourceVersion") and item.get("sourceEtag") == etag
            )
            if version and item.get("sourceEtag") and not same:
                return Claim("reposted", item)
            return Claim("duplicate", {})
        before = from_item(result.get("Attributes") or {})
        return Claim("claimed", before, before.get("attempts", 0) + 1)

    def mark_processed(self, image_id: str, etag: str, details: dict, at: str | None = None) -> tuple[str, ImageRecord]:
        """Finish the record for the object with this ETag: `Status.PROCESSED`; "superseded" if a
        newer object took the record over; "gone" if the image was deleted meanwhile. With the
        record as it was before (its renditions are replaced by these). A photo whose facts say when
        it was taken is listed by that from now on (its takenKey, until now its createdKey)."""
        taken = {"id": image_id, "facts": details.get("facts")}
        if taken_at(taken):  # else not known: its createdKey stays its key
            details = details | {"takenKey": taken_key(taken)}
        values = {":processed": Status.PROCESSED, ":now": at or now_iso(), ":etag": etag}
        names = {"#s": "status", "#e": "error"}
        sets = ["#s = :processed", "updatedAt = :now"]
        for i, (name, value) in enumerate(details.items()):  # names via placeholders: many are reserved words
            sets.append(f"#n{i} = :v{i}")
            names[f"#n{i}"] = name
            values[f":v{i}"] = value
        outcome, before = self._conditional_update(
            image_id,
            UpdateExpression="SET " + ", ".join(sets) + " REMOVE #e, unfinishedPk, attempts, rerenderUntil",
            ConditionExpression="sourceEtag = :etag",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=to_item(values),
            ReturnValues="ALL_OLD",
        )
        return (Status.PROCESSED if outcome == "updated" else outcome), before

    def claim_rerender(
        self,
        image_id: str,
        spec_version: str,
        lease_seconds: int,
        force: bool = False,
        changed_before: str | None = None,
    ) -> ImageRecord | None:
        """Lease a processed record for re-rendering, if it was made with another spec (or `force`)
        and no other run holds it; the record, or None. `changed_before` (ISO time: a forced run's
        start) skips records made since, so a forced run taken up again does not start over."""
        now = int(time.time())
        older = "" if force else " AND (attribute_not_exists(specVersion) OR specVersion <> :v)"
        since = " AND updatedAt < :since" if changed_before else ""
        outcome, record = self._conditional_update(
            image_id,
            UpdateExpression="SET rerenderUntil = :until",
            ConditionExpression="#s = :processed AND (attribute_not_exists(rerenderUntil) OR rerenderUntil < :now)"
            + older
            + since,
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues=to_item(
                {":processed": Status.PROCESSED, ":now": now, ":until": now + lease_seconds}
                | ({} if force else {":v": spec_version})
                | ({":since": changed_before} if changed_before else {})
            ),
            ReturnValues="ALL_NEW",
        )
        return record if outcome == "updated" else None

    def release_rerender(self, image_id: str) -> None:
        """End a re-render's lease (mark_processed ends it too); nothing if the record is gone."""
        self._conditional_update(
            image_id, UpdateExpression="REMOVE rerenderUntil", ConditionExpression="attribute_exists(id)"
        )

    def mark_failed(
        self,
        image_id: str,
        etag: str,
        code: str,
        message: str,
        manifest: str | None = None,
        at: str | None = None,
        fields: dict | None = None,
    ) -> bool:
        """Fail the record for the object with this ETag; never undoes a finished `processed`.
        `manifest`: the key of the failure's manifest (a refusal is final; a processing error is not).
        `fields`: what the refusal keeps besides (a duplicate's `duplicateOf`). It leaves the
        exact-duplicate index (`sha256` removed): a failed file is no one's original."""
        extra = {f"#f{i}": (name, value) for i, (name, value) in enumerate((fields or {}).items())}
        sets = "SET #s = :failed, updatedAt = :now, #e = :err" + (", manifestKey = :m" if manifest else "")
        sets += "".join(f", {n} = :{n[1:]}" for n in extra)
        removes = " REMOVE renditions, unfinishedPk, attempts, sha256, phash, similarTo"
        removes += "" if manifest else ", manifestKey"
        values = {
            ":failed": Status.FAILED,
            ":processed": Status.PROCESSED,
            ":now": at or now_iso(),
            ":etag": etag,
            ":err": {"code": code, "message": message[:500]},
        } | ({":m": manifest} if manifest else {})
        values |= {f":{n[1:]}": value for n, (_, value) in extra.items()}
        outcome, _ = self._conditional_update(
            image_id,
            UpdateExpression=sets + removes,
            ConditionExpression="sourceEtag = :etag AND #s <> :processed",
            ExpressionAttributeNames={"#s": "status", "#e": "error"} | {n: name for n, (name, _) in extra.items()},
            ExpressionAttributeValues=to_item(values),
        )
        return outcome == "updated"

    def _conditional_update(self, image_id: str, **params) -> tuple[str, ImageRecord]:
        """("updated", the record as ReturnValues asks for it: before or after), or why not: "superseded" (the
        record exists and fails the condition) or "gone"."""
        try:
            result = self._db.update_item(
                TableName=self._table,
                Key=key_of(image_id),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **params,
            )
        except self._db.exceptions.ConditionalCheckFailedException as exc:
            item = from_item(exc.response.get("Item") or {})
            return ("superseded" if item and item.get("status") != Status.DELETED else "gone"), {}
        return "updated", from_item(result.get("Attributes") or {})

    def delete_abandoned(self, image_id: str) -> ImageRecord | None:
        """Delete a record still `pending` (its file never arrived); returns it, or None if it moved on."""
        try:
            result = self._db.delete_item(
                TableName=self._table,
                Key=key_of(image_id),
                ConditionExpression="#s = :pending",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=to_item({":pending": Status.PENDING}),
                ReturnValues="ALL_OLD",
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return None
        return from_item(result.get("Attributes") or {})

    def delete(self, image_id: str, owner: str | None, tombstone_until: int) -> ImageRecord | None:
        """Replace the record by a tombstone if it still belongs to `owner` (None: anyone's, for
        admins); returns it as it was at that moment (renditions written since it was read
        included). The tombstone answers any late file for this id until `tombstone_until`."""
        if owner is None:
            condition = {
                "ConditionExpression": "attribute_exists(id) AND #s <> :deleted",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": to_item({":deleted": Status.DELETED}),
            }
        else:
            condition = {
                "ConditionExpression": "#o = :o AND #s <> :deleted",
                "ExpressionAttributeNames": {"#o": "owner", "#s": "status"},
                "ExpressionAttributeValues": to_item({":o": owner, ":deleted": Status.DELETED}),
            }
        return self._bury(image_id, tombstone_until, ReturnValues="ALL_OLD", **condition)

    def give_taken_keys(self) -> int:
        """The backfill of `takenKey`: every listed record written before it (it is in byOwnerTaken only
        with it) gets the key it would have been written with; how many did. Page by page through
        byCreated (never a Scan, never the whole table in memory), one conditional write per record
        without the key: safe beside live uploads, and a second run writes nothing."""
        return sum(self._give_taken_key(r) for r in self.listed() if "takenKey" not in r and "createdAt" in r)

    def _give_taken_key(self, record: ImageRecord) -> bool:
        try:  # never over a key written meanwhile (the processor's), never on a record no longer listed
            self._db.update_item(
                TableName=self._table,
                Key=key_of(record["id"]),
                UpdateExpression="SET takenKey = :k",
                ConditionExpression="attribute_exists(listPk) AND attribute_not_exists(takenKey)",
                ExpressionAttributeValues=to_item({":k": taken_key(record)}),
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def retire(self, record: ImageRecord, tombstone_until: int) -> bool:
        """Replace a finished record whose file is gone by a tombstone, unless it changed since it
        was read. True if retired."""
        return (
            self._bury(
                record["id"],
                tombstone_until,
                ConditionExpression="updatedAt = :u AND #s = :s",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=to_item({":u": record["updatedAt"], ":s": record["status"]}),
            )
            is not None
        )

    def _bury(self, image_id: str, tombstone_until: int, **params) -> ImageRecord | None:
        """Put a tombstone in the record's place under this condition; the record as it was, or None."""
        tombstone: ImageRecord = {
            "id": image_id,
            "status": Status.DELETED,
            "updatedAt": now_iso(),
            TTL_ATTRIBUTE: tombstone_until,
        }
        try:
            result = self._db.put_item(TableName=self._table, Item=to_item(tombstone), **params)
        except self._db.exceptions.ConditionalCheckFailedException:
            return None
        return from_item(result.get("Attributes") or {})

    def restore(self, record: ImageRecord) -> bool:
        """Write a record rebuilt from S3 unless the table holds one as new or newer (or a
        tombstone): safe while uploads go on. An upload form's record (`pending`, never listed)
        is older than any file: the file arrived and its event was lost (a crash). True if written."""
        try:
            self._db.put_item(
                TableName=self._table,
                Item=to_item(record),
                ConditionExpression="attribute_not_exists(id) OR (#s = :pending AND attribute_not_exists(listPk))"
                " OR (#s <> :deleted AND updatedAt < :u)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=to_item(
                    {":deleted": Status.DELETED, ":pending": Status.PENDING, ":u": record["updatedAt"]}
                ),
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True
