"""handlers/batch.py on moto: the batch state machine's children (reprocess, reconcile; each item
on its own, in AWS's batched shape or the emulator's bare item) and the run's closing summary."""

from __future__ import annotations

import dataclasses
import json
import time
from collections import Counter

import pytest

from handlers import processor, processor_lambda
from handlers.batch import (
    MAX_ITEMS,
    MAX_RESULT_FILE_BYTES,
    RESERVE_MS,
    SUMMARY_RESERVE_MS,
    BatchIncomplete,
    InvalidBatch,
    batch_items,
    run_batch,
    summarize,
)
from handlers.formats import RenditionSpec
from handlers.keys import image_id_for_key, rendition_keys
from handlers.processor import process_event, s3_event
from handlers.records import ImageRecords, now_iso
from tests.events import load_event
from tests.images import phone_jpeg
from tests.unit.conftest import processor_invocations
from tests.unit.test_metrics import context
from tests.unit.test_processor import put, stored_keys, with_spec

SPEC = RenditionSpec().version
OLD_SPEC = {"avif_quality": 40}  # what the images were made with before the current spec
OLD_VERSION = RenditionSpec(**OLD_SPEC).version


@pytest.fixture
def env(aws_env):
    settings, clients = aws_env
    return settings, clients, ImageRecords(clients.dynamodb, settings.table_name)


def plenty() -> int:
    return 60_000


def processed(env, digit: str, old_spec: bool = False) -> str:
    """The key of a photo uploaded through the API and processed, with the old spec if asked."""
    settings, clients, _ = env
    obj = put(settings, clients, "uploads/" + digit * 32, phone_jpeg(320, 240))
    made_with = with_spec(settings, **OLD_SPEC) if old_spec else settings
    assert process_event(s3_event(settings.upload_bucket, obj), made_with, clients) == {obj[0]: "processed"}
    return obj[0]


def corrupted(env, key: str) -> str:
    """Its record without `sourceEtag`: a re-render of it raises."""
    settings, clients, _ = env
    clients.dynamodb.update_item(
        TableName=settings.table_name, Key={"id": {"S": image_id_for_key(key)}}, UpdateExpression="REMOVE sourceEtag"
    )
    return key


def spec_versions(records, keys) -> list[str]:
    return [records.get(image_id_for_key(key))["specVersion"] for key in keys]


def aws_batch(keys, **fields) -> dict:
    """What a child gets on AWS (ItemBatcher): the items of a few keys (tests/events/batch_items_aws.json)."""
    event = load_event("batch_items_aws")
    like = event["Items"][0]
    event["Items"] = [like | {"key": key} | fields for key in keys]
    return event


def emulator_item(key: str, **fields) -> dict:
    """What a child gets from the emulator, which ignores ItemBatcher: one bare item."""
    return load_event("batch_item_emulator") | {"key": key} | fields


def run_aws(env, keys, **fields) -> dict:
    settings, clients, _ = env
    return run_batch(aws_batch(keys, **fields), settings, clients, plenty)


def run_emulator(env, keys, **fields) -> dict:
    """A child (an invocation) per key, their outputs added up."""
    settings, clients, _ = env
    outcomes, failed = Counter(), []
    for key in keys:
        output = run_batch(emulator_item(key, **fields), settings, clients, plenty)
        outcomes.update(output["outcomes"])
        failed += output["failed"]
    return {"outcomes": dict(outcomes), "failed": failed}


SHAPES = {"aws": run_aws, "emulator": run_emulator}


# --- reprocess --------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
def test_reprocess_re_renders_older_specs_and_a_forced_run_taken_up_again_does_nothing_twice(env, shape):
    settings, clients, records = env
    run = SHAPES[shape]
    keys = [processed(env, "a", old_spec=True), processed(env, "b", old_spec=True), processed(env, "c")]
    assert spec_versions(records, keys) == [OLD_VERSION, OLD_VERSION, SPEC]

    assert run(env, keys) == {"outcomes": {"processed": 2, "current": 1}, "failed": []}
    assert spec_versions(records, keys) == [SPEC] * 3
    assert run(env, keys) == {"outcomes": {"current": 3}, "failed": []}

    time.sleep(0.01)  # the forced run starts after the images last changed (times are in milliseconds)
    started = now_iso()
    assert run(env, keys, force=True, changedBefore=started) == {"outcomes": {"processed": 3}, "failed": []}
    forced = [records.get(image_id_for_key(key)) for key in keys]
    assert all(record["updatedAt"] > started and "rerenderUntil" not in record for record in forced)
    for record in forced:
        assert stored_keys(settings, clients, record["id"]) == rendition_keys(record)
    # Taken up again (a retry, a new run with the first one's start): nothing is made twice.
    assert run(env, keys, force=True, changedBefore=started) == {"outcomes": {"current": 3}, "failed": []}
    assert [records.get(image_id_for_key(key)) for key in keys] == forced


def test_the_aws_batch_and_the_emulator_s_bare_items_give_the_same_outcomes(env):
    settings, clients, records = env
    got = {}
    for shape, (old, current, bad, lost) in {"aws": "1234", "emulator": "5678"}.items():
        keys = [
            processed(env, old, old_spec=True),
            processed(env, current),
            corrupted(env, processed(env, bad, old_spec=True)),
        ]
        keys += [f"holiday/{shape}.jpg", "uploads/" + lost * 32]
        reprocessed = SHAPES[shape](env, keys, job="reprocess")
        reconciled = SHAPES[shape](env, keys, job="reconcile")
        got[shape] = (reprocessed, reconciled)
        assert spec_versions(records, keys[:2]) == [SPEC, SPEC]
        failed = [{k: v for k, v in one.items() if k != "error"} for one in reprocessed["failed"]]
        assert failed == [{"id": bad * 32, "key": keys[2]}]
    (aws, emulator) = got.values()
    assert aws[0]["outcomes"] == emulator[0]["outcomes"] == {"processed": 1, "current": 2, "error": 1, "skipped": 1}
    assert aws[1]["outcomes"] == emulator[1]["outcomes"] == {"kept": 3, "skipped": 1, "gone": 1}
    assert aws[0]["failed"][0]["error"] == emulator[0]["failed"][0]["error"]


def test_one_bad_item_is_listed_and_the_others_of_its_batch_complete(env):
    settings, clients, records = env
    keys = [processed(env, digit, old_spec=True) for digit in "abc"]
    corrupted(env, keys[1])
    output = run_aws(env, keys)
    assert output["outcomes"] == {"processed": 2, "error": 1}
    (failed,) = output["failed"]
    assert (failed["id"], failed["key"]) == ("b" * 32, keys[1])
    assert failed["error"].startswith("KeyError") and "sourceEtag" in failed["error"]
    assert spec_versions(records, keys) == [SPEC, OLD_VERSION, SPEC]
    assert "rerenderUntil" not in records.get("b" * 32)  # its lease ended: the next run tries it again


# --- reconcile --------------------------------------------------------------------------------


def empty_table(settings, clients) -> None:
    for item in clients.dynamodb.scan(TableName=settings.table_name)["Items"]:
        clients.dynamodb.delete_item(TableName=settings.table_name, Key={"id": item["id"]})


def test_reconcile_rebuilds_the_records_and_redrives_a_file_never_processed(env):
    settings, clients, records = env
    settings = dataclasses.replace(settings, function_name="imagepipe-processor")
    clients, sent = processor_invocations(clients)
    env = settings, clients, records
    done = processed(env, "a")
    was = records.get("a" * 32)
    never = put(settings, clients, "uploads/" + "b" * 32, phone_jpeg(320, 240))[0]  # its event was lost
    elsewhere = put(settings, clients, "holiday/sea.jpg", phone_jpeg(320, 240))[0]
    gone = "uploads/" + "c" * 32  # listed, then deleted before its batch ran
    empty_table(settings, clients)

    keys = [done, never, elsewhere, gone]
    output = run_aws(env, keys, job="reconcile")
    assert output == {"outcomes": {"restored": 1, "redriven": 1, "skipped": 1, "gone": 1}, "failed": []}
    restored = records.get("a" * 32)
    kept = ("status", "sourceEtag", "specVersion", "renditions", "width", "height", "manifestKey")
    assert {k: restored[k] for k in kept} == {k: was[k] for k in kept}
    # The file never processed: its record rebuilt as waiting, and the S3 event it missed sent to the
    # processor asynchronously (Lambda's retries and the dead-letter queue apply), which processes it.
    assert records.get("b" * 32)["status"] == "pending"
    assert [event["Records"][0]["s3"]["object"]["key"] for event in sent] == [never]
    assert process_event(sent[0], settings, clients) == {never: "processed"}
    redriven = records.get("b" * 32)
    assert redriven["status"] == "processed" and redriven["specVersion"] == SPEC
    assert stored_keys(settings, clients, "b" * 32) == rendition_keys(redriven)
    assert records.get(image_id_for_key(elsewhere)) is None and records.get("c" * 32) is None
    # Twice is safe: the table is as new as S3 now.
    again = run_aws(env, keys, job="reconcile")
    assert again == {"outcomes": {"kept": 2, "skipped": 1, "gone": 1}, "failed": []}
    assert records.get("b" * 32) == redriven


# --- what a batch may be ----------------------------------------------------------------------

INVALID = {
    "an unknown job": lambda item: {"Items": [item, item | {"job": "delete"}]},
    "an unknown job, bare": lambda item: item | {"job": "Reprocess"},
    "a key that is not a string": lambda item: {"Items": [item, item | {"key": 5}]},
    "an empty key": lambda item: {"Items": [item, item | {"key": ""}]},
    "an item that is not an object": lambda item: {"Items": [item, item["key"]]},
    "no items": lambda item: {"Items": [], "BatchInput": {}},
    "too many items": lambda item: {"Items": [item] * (MAX_ITEMS + 1), "BatchInput": {}},
}


@pytest.mark.parametrize("invalid", INVALID, ids=list(INVALID))
def test_an_invalid_batch_is_refused_whole(env, invalid):
    settings, clients, records = env
    key = processed(env, "a", old_spec=True)
    before = records.get("a" * 32)
    with pytest.raises(InvalidBatch):
        run_batch(INVALID[invalid](emulator_item(key)), settings, clients, plenty)
    assert records.get("a" * 32) == before  # not even its valid items ran


def test_a_full_batch_is_taken():
    items = batch_items(
        aws_batch(["uploads/" + "a" * 32] * MAX_ITEMS, force=True, changedBefore="2025-01-01T00:00:00.000Z")
    )
    assert len(items) == MAX_ITEMS
    assert (items[0].job, items[0].force, items[0].changed_before) == ("reprocess", True, "2025-01-01T00:00:00.000Z")
    assert batch_items(emulator_item("uploads/" + "a" * 32))[0].changed_before is None  # "": no time given


# --- out of time -------------------------------------------------------------------------------


def test_short_of_time_a_batch_stops_before_the_next_item_never_before_the_first(env):
    settings, clients, records = env
    keys = [processed(env, digit, old_spec=True) for digit in "abc"]

    def short() -> int:
        return RESERVE_MS - 1

    with pytest.raises(BatchIncomplete):
        run_batch(aws_batch(keys), settings, clients, short)
    assert spec_versions(records, keys) == [SPEC, OLD_VERSION, OLD_VERSION]  # the first one, however short
    assert "rerenderUntil" not in records.get("a" * 32)
    # The state machine's retry: what was done is skipped.
    assert run_aws(env, keys) == {"outcomes": {"current": 1, "processed": 2}, "failed": []}
    assert run_batch(emulator_item(keys[0], force=True), settings, clients, short)["outcomes"] == {"processed": 1}


# --- the summary -------------------------------------------------------------------------------


def stored_summary(settings, clients, summary: dict) -> dict:
    body = clients.s3.get_object(Bucket=settings.processed_bucket, Key=summary["summaryKey"])["Body"].read()
    return json.loads(body)


def test_the_summary_adds_up_the_emulator_s_list_and_a_child_that_failed(env):
    settings, clients, _ = env
    broken = {"id": "b" * 32, "key": "uploads/" + "b" * 32, "error": "KeyError: 'sourceEtag'"}
    event = load_event("batch_summary") | {
        "results": [
            {"outcomes": {"processed": 2, "error": 1}, "failed": [broken]},
            None,  # a child that failed whole: the emulator's Map says no more of it
            {"outcomes": {"current": 3, "processed": 1}, "failed": []},
        ]
    }
    summary = summarize(event, settings, clients)
    execution = event["execution"]
    assert summary == {
        "execution": execution,
        "job": "reprocess",
        "complete": True,
        "outcomes": {"current": 3, "error": 1, "processed": 3},
        "failedCount": 1,
        "failedBatches": 1,
        "failedBatchesUnlisted": 1,  # the emulator's results: `make reprocess` asks its Map Run
        "failed": [broken],
        "summaryKey": f"batch-results/{execution}/summary.json",
    }
    assert stored_summary(settings, clients, summary) == {k: v for k, v in summary.items() if k != "summaryKey"}


def child_result(keys, output: dict | None = None, error: tuple[str, str] = ("", "")) -> dict:
    """One child's entry in a ResultWriter file (tests/events/batch_results_entry.json): its input
    the items of `keys`; succeeded with `output` (its payload), or failed with `error`."""
    entry = load_event("batch_results_entry")
    given = json.loads(entry["Input"])
    entry["Input"] = json.dumps(given | {"Items": [given["Items"][0] | {"key": key} for key in keys]})
    if output is not None:
        return entry | {"Output": json.dumps(output)}
    del entry["Output"], entry["OutputDetails"]
    return entry | {"Status": "FAILED", "Error": error[0], "Cause": error[1], "RedriveStatus": "REDRIVABLE"}


def test_the_summary_reads_the_result_writer_s_files_on_s3(env):
    settings, clients, _ = env
    event = load_event("batch_summary")  # as AWS gives it: where ResultWriter put its manifest
    details = event["results"]["ResultWriterDetails"]
    details["Bucket"] = settings.processed_bucket
    manifest = load_event("batch_results_manifest") | {"DestinationBucket": settings.processed_bucket}
    broken = {"id": "c" * 32, "key": "uploads/" + "c" * 32, "error": "KeyError: 'sourceEtag'"}
    timed_out = ["uploads/" + "d" * 32, "uploads/" + "e" * 32]
    cause = json.dumps({"errorMessage": "1 of 2 items done before the time ran short", "errorType": "BatchIncomplete"})
    files = {
        "SUCCEEDED": [
            child_result(["uploads/" + "a" * 32], {"outcomes": {"processed": 1}, "failed": []}),
            child_result(
                ["uploads/" + "b" * 32, broken["key"]], {"outcomes": {"current": 1, "error": 1}, "failed": [broken]}
            ),
        ],
        "FAILED": [child_result(timed_out, error=("BatchIncomplete", cause))],
    }
    for status, entries in files.items():
        (written,) = manifest["ResultFiles"][status]
        clients.s3.put_object(Bucket=settings.processed_bucket, Key=written["Key"], Body=json.dumps(entries).encode())
    clients.s3.put_object(Bucket=settings.processed_bucket, Key=details["Key"], Body=json.dumps(manifest).encode())

    summary = summarize(event, settings, clients)
    assert summary["outcomes"] == {"current": 1, "error": 1, "processed": 1}
    assert (summary["failedCount"], summary["failedBatches"], summary["failedBatchesUnlisted"]) == (3, 1, 0)
    assert summary["failed"] == [  # the failed children's files first
        {"id": image_id_for_key(key), "key": key, "error": f"BatchIncomplete: {cause}"} for key in timed_out
    ] + [broken]
    assert summary["summaryKey"] == f"batch-results/{event['execution']}/summary.json"
    assert summary["complete"] and "unread" not in summary
    assert stored_summary(settings, clients, summary) == {k: v for k, v in summary.items() if k != "summaryKey"}

    # Bounded: a file too large to read whole, and every file once time runs short, is left unread
    # and the summary says so.
    huge = manifest["ResultFiles"]["SUCCEEDED"][0] | {"Size": MAX_RESULT_FILE_BYTES + 1}
    clients.s3.put_object(
        Bucket=settings.processed_bucket,
        Key=details["Key"],
        Body=json.dumps(manifest | {"ResultFiles": manifest["ResultFiles"] | {"SUCCEEDED": [huge]}}).encode(),
    )
    partial = summarize(event, settings, clients)
    assert not partial["complete"] and partial["unread"] == [huge["Key"]]
    assert partial["failedCount"] == 2 and partial["outcomes"] == {}  # the failed children's file was read
    late = summarize(event, settings, clients, remaining_ms=lambda: SUMMARY_RESERVE_MS - 1)
    assert late["unread"] == [manifest["ResultFiles"]["FAILED"][0]["Key"], huge["Key"]] and late["failedCount"] == 0


# --- the Lambda's entry ------------------------------------------------------------------------


def test_the_processor_lambda_hands_batches_and_the_summary_to_the_batch_path(env, monkeypatch):
    settings, clients, records = env
    monkeypatch.setattr(processor_lambda, "_runtime", lambda: (settings, clients))
    processor.meter.invocation.clear_metrics()  # nothing left over from a test that never flushed
    key = processed(env, "a", old_spec=True)
    assert processor_lambda.handler(aws_batch([key]), context()) == {"outcomes": {"processed": 1}, "failed": []}
    assert processor_lambda.handler(emulator_item(key), context()) == {"outcomes": {"current": 1}, "failed": []}
    event = load_event("batch_summary") | {"results": [{"outcomes": {"processed": 1}, "failed": []}]}
    summary = processor_lambda.handler(event, context())
    assert (summary["outcomes"], summary["summaryKey"]) == (
        {"processed": 1},
        f"batch-results/{event['execution']}/summary.json",
    )
    assert stored_summary(settings, clients, summary)["outcomes"] == {"processed": 1}
