"""The processor's batch path: the work the batch state machine hands out (bootstrap/deploy/batch.py).

The state machine lists the upload bucket's `uploads/` and gives each child a few keys (AWS's
`ItemBatcher`: `{"Items": [item, ...]}`; the embedded emulator ignores the batcher and gives one
bare item). Each item names its key and the job, as the execution's input set it:

    {"key": "uploads/<id>", "job": "reprocess" | "reconcile", "force": false, "changedBefore": "<ISO time>"}

- `reprocess`: the image's renditions re-made with the current spec (handlers.processor.rerender:
  leased, so never twice at once, and the gallery keeps its old files until the new ones are
  written); with `force`, every processed image last changed before `changedBefore` (the run's
  start), so a run taken up again does not start over.
- `reconcile`: the record rebuilt from S3 (handlers.reconcile); a file never processed is
  handed to the processor as the S3 event it missed.

Each item is tried on its own: one that fails is listed with its id and error, and the others go
on. A batch that runs short of time stops before the next image and raises `BatchIncomplete`,
which the state machine retries: what was done is skipped then (current spec, record kept).
At the end the state machine asks for the summary (`summarize`): counts per outcome and the
ids that failed, written to the processed bucket under `batch-results/<execution>/`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from handlers.clients import Clients
from handlers.config import Settings
from handlers.keys import UPLOAD_PREFIX, image_id_for_key
from handlers.processor import redrive, rerender
from handlers.processor_telemetry import about, logger
from handlers.reconcile import reconcile_object
from handlers.records import ImageRecords
from handlers.similar_index import SimilarImages

JOBS = ("reprocess", "reconcile")
SUMMARY_ACTION = "batch-summary"
ITEMS_PER_BATCH = 10  # keys per child where the batcher works: ~10 photos, well inside the timeout
MAX_ITEMS = 100  # what one event may carry at most
MAX_KEY_CHARS = 1024  # S3's own limit
RESERVE_MS = 20_000  # room for one more photo (the largest take seconds): below it, stop and be retried
RESULTS_PREFIX = "batch-results"  # in the processed bucket (private): ResultWriter's files and the summary
MAX_FAILED_KEPT = 10_000  # failed items the summary file lists (it counts them all)
MAX_FAILED_SAID = 100  # ... and the execution's output (Step Functions caps it at 256 KiB)
# The summary reads ResultWriter's files whole (about 2 KB a child): one over this would not fit
# the processor's memory beside its parse, and reading stops when this much time is left.
MAX_RESULT_FILE_BYTES = 32 * 1024 * 1024
SUMMARY_RESERVE_MS = 10_000


class InvalidBatch(ValueError):
    """An event that is not what the state machine sends: refused whole, never retried."""


class BatchIncomplete(RuntimeError):
    """Out of time before the batch's end: the state machine runs the batch again."""


@dataclass(frozen=True)
class BatchItem:
    key: str
    job: str
    force: bool = False
    changed_before: str | None = None


def is_batch_event(event: dict) -> bool:
    return isinstance(event, dict) and ("Items" in event or "job" in event)


def batch_items(event: dict) -> list[BatchItem]:
    """The items of one child's event, checked: an unknown job, a key that is not a string or
    an overlong batch is refused."""
    raw = event.get("Items") if "Items" in event else [event]
    if not isinstance(raw, list) or not 0 < len(raw) <= MAX_ITEMS:
        raise InvalidBatch(f"a batch holds 1 to {MAX_ITEMS} items")
    items = []
    for one in raw:
        if not isinstance(one, dict):
            raise InvalidBatch("each item is an object")
        key, job, before = one.get("key"), one.get("job"), one.get("changedBefore") or None
        if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY_CHARS:
            raise InvalidBatch("each item names an object key")
        if job not in JOBS:
            raise InvalidBatch(f"job must be one of {', '.join(JOBS)}")
        if before is not None and not isinstance(before, str):
            raise InvalidBatch("changedBefore is an ISO time")
        items.append(BatchItem(key, job, bool(one.get("force")), before))
    return items


def run_batch(event: dict, settings: Settings, clients: Clients, remaining_ms: Callable[[], int]) -> dict:
    """Every item of the batch: `{"outcomes": {outcome: count}, "failed": [{"id", "key", "error"}]}`."""
    items = batch_items(event)
    records = ImageRecords(clients.dynamodb, settings.table_name)
    outcomes: Counter = Counter()
    failed = []
    for done, item in enumerate(items):
        if done and remaining_ms() < RESERVE_MS:
            raise BatchIncomplete(f"{done} of {len(items)} items done before the time ran short")
        image_id = image_id_for_key(item.key)
        with about(image_id):
            try:
                outcome = _run_item(item, settings, clients, records, remaining_ms() // 1000 + 30)
            except Exception as exc:  # one image's trouble never stops the others
                logger.exception("batch item failed", extra={"key": item.key, "job": item.job})
                outcome = "error"
                failed.append({"id": image_id, "key": item.key, "error": f"{type(exc).__name__}: {exc}"[:300]})
        outcomes[outcome] += 1
    logger.info("batch done", extra={"outcomes": dict(outcomes), "items": len(items)})
    return {"outcomes": dict(outcomes), "failed": failed}


def _run_item(item: BatchItem, settings: Settings, clients: Clients, records: ImageRecords, lease: int) -> str:
    if not item.key.startswith(UPLOAD_PREFIX):
        return "skipped"  # an inventory lists the whole bucket; only uploads are images
    if item.job == "reprocess":
        return rerender(image_id_for_key(item.key), settings, clients, lease, item.force, item.changed_before)

    # A file never processed gets the event it missed, as its own asynchronous invocation: Lambda's
    # retries and the dead-letter queue then apply, as for any upload (processed inline, a transient
    # failure would leave it failed with nothing to retry it).
    return reconcile_object(
        item.key,
        clients.s3,
        records,
        settings.upload_bucket,
        settings.processed_bucket,
        lambda key, head: redrive(key, head, settings, clients),
        SimilarImages.of(settings, clients),
    )


# --- the summary -----------------------------------------------------------------------------


@dataclass
class Tally:
    """What the children said, added up."""

    outcomes: Counter
    failed: list
    failed_count: int = 0
    failed_batches: int = 0  # children that failed whole (their items are in `failed` where known)
    unlisted_batches: int = 0  # ... of which the results do not say the items (the emulator's)

    def add_child(self, output: dict | None, items: list[dict] | None = None, error: str = "") -> None:
        if not isinstance(output, dict):  # the child failed: its items, where the results say them
            self.failed_batches += 1
            self.unlisted_batches += not items
            for item in items or ():
                self._fail({"id": image_id_for_key(str(item.get("key"))), "key": item.get("key"), "error": error})
            return
        for outcome, count in (output.get("outcomes") or {}).items():
            self.outcomes[str(outcome)] += int(count)
        for one in output.get("failed") or ():
            self._fail(one)

    def _fail(self, one: dict) -> None:
        self.failed_count += 1
        if len(self.failed) < MAX_FAILED_KEPT:
            self.failed.append(one)


def summarize(event: dict, settings: Settings, clients: Clients, remaining_ms: Callable[[], int] | None = None) -> dict:
    """The run's summary from the Map's results: a list of the children's outputs (the embedded
    emulator: null for a child that failed), or ResultWriter's files on S3 (AWS): the failed
    children's first, then the others', each file read whole, so within this invocation's time and
    memory: a file over MAX_RESULT_FILE_BYTES, or any once time runs short, is left unread and the
    summary says so (`complete`: false, `unread`: their keys). Written to
    `batch-results/<execution>/summary.json`; the output says where, and the first failures."""
    execution = str(event.get("execution") or "unnamed")[:80]
    tally = Tally(Counter(), [])
    unread: list[str] = []
    results = event.get("results")
    if isinstance(results, list):
        for output in results:
            tally.add_child(output, error="the child failed")
    elif isinstance(results, dict) and results.get("ResultWriterDetails"):
        details = results["ResultWriterDetails"]
        time_left = remaining_ms or (lambda: SUMMARY_RESERVE_MS * 2)
        for output, items, error in _written_results(clients.s3, details["Bucket"], details["Key"], time_left, unread):
            tally.add_child(output, items, error)
    key = f"{RESULTS_PREFIX}/{execution}/summary.json"
    summary = {
        "execution": execution,
        "job": (event.get("request") or {}).get("job"),
        "complete": not unread,
        "outcomes": dict(sorted(tally.outcomes.items())),
        "failedCount": tally.failed_count,
        "failedBatches": tally.failed_batches,
        "failedBatchesUnlisted": tally.unlisted_batches,
        "failed": tally.failed,
        **({"unread": unread} if unread else {}),
    }
    clients.s3.put_object(
        Bucket=settings.processed_bucket,
        Key=key,
        Body=json.dumps(summary, indent=1).encode(),
        ContentType="application/json",
    )
    logger.info("batch summary", extra={k: summary[k] for k in ("execution", "outcomes", "failedCount", "complete")})
    said = {"failed": tally.failed[:MAX_FAILED_SAID], "summaryKey": key}
    return summary | said | ({"unread": unread[:MAX_FAILED_SAID]} if unread else {})


def _written_results(
    s3, bucket: str, manifest_key: str, remaining_ms: Callable[[], int], unread: list[str]
) -> Iterator[tuple[dict | None, list, str]]:
    """(child output, child's items, error) for each child in the ResultWriter files the manifest
    lists (AWS; each file's entries carry the child's Input and Output as JSON text). Files it
    cannot read in time or memory go to `unread`."""
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=manifest_key)["Body"].read())
    files = manifest.get("ResultFiles") or {}
    for status in ("FAILED", "PENDING", "SUCCEEDED"):  # what failed matters most
        for entry in files.get(status) or ():
            if int(entry.get("Size") or 0) > MAX_RESULT_FILE_BYTES or remaining_ms() < SUMMARY_RESERVE_MS:
                unread.append(entry["Key"])
                continue
            body = s3.get_object(Bucket=manifest.get("DestinationBucket", bucket), Key=entry["Key"])["Body"]
            for child in json.loads(body.read()):
                given = json.loads(child.get("Input") or "{}")
                items = given.get("Items") if isinstance(given, dict) and "Items" in given else [given]
                if child.get("Status") == "SUCCEEDED":
                    output = json.loads(child.get("Output") or "null")
                    payload = output.get("Payload") if isinstance(output, dict) and "Payload" in output else output
                    yield payload, items, ""
                else:
                    yield None, items, f"{child.get('Error', '')}: {child.get('Cause', '')}"[:300]
