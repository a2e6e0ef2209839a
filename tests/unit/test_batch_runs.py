"""bootstrap/batch_runs.py: which run `make reprocess` / `make reconcile` follow, start or redrive,
and what they say while it runs; against Step Functions' own API shapes (botocore's Stubber)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import ANY, Stubber

from bootstrap.batch_runs import BatchBusy, clean, follow, progress_line, run_batch, run_input, start_or_take_up

MACHINE = "arn:aws:states:us-east-1:000000000000:stateMachine:imagepipe-batch"
NOW = datetime.now(UTC)


def execution_arn(name: str) -> str:
    return f"arn:aws:states:us-east-1:000000000000:execution:imagepipe-batch:{name}"


@pytest.fixture
def sfn():
    client = boto3.client("stepfunctions", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def listed(stub, *names: str) -> None:
    stub.add_response(
        "list_executions",
        {
            "executions": [
                {
                    "executionArn": execution_arn(n),
                    "stateMachineArn": MACHINE,
                    "name": n,
                    "status": "RUNNING",
                    "startDate": NOW,
                }
                for n in names
            ]
        },
        {"stateMachineArn": MACHINE, "maxResults": ANY},
    )


def described(stub, name: str, status: str, given: dict, stopped: datetime | None = None, **more) -> None:
    answer = {
        "executionArn": execution_arn(name),
        "stateMachineArn": MACHINE,
        "name": name,
        "status": status,
        "startDate": NOW - timedelta(hours=1),
        "input": json.dumps(given),
        **({"stopDate": stopped} if stopped else {}),
        **more,
    }
    stub.add_response("describe_execution", answer, {"executionArn": execution_arn(name)})


def test_a_run_of_the_same_work_still_going_is_followed_not_started_again(sfn):
    client, stub = sfn
    wanted = run_input("reprocess", True, "v2")
    listed(stub, "reprocess-1")
    described(stub, "reprocess-1", "RUNNING", run_input("reprocess", True, "v2", now=NOW - timedelta(minutes=5)))
    said = []
    assert start_or_take_up(client, MACHINE, wanted, said.append) == execution_arn("reprocess-1")
    assert said == ["reprocess: following the run already going: reprocess-1"]


@pytest.mark.parametrize(
    "going",
    [
        run_input("reconcile"),  # another job: together they would take every upload's share
        run_input("reprocess", False, "v1"),  # not what was asked (ALL=1 on spec v2)
    ],
)
def test_any_other_batch_run_going_is_refused_never_followed_as_if_it_were_this_one(sfn, going):
    client, stub = sfn
    listed(stub, "other-1")
    stub.add_response(
        "describe_execution",
        {
            "executionArn": execution_arn("other-1"),
            "stateMachineArn": MACHINE,
            "name": "other-1",
            "status": "PENDING_REDRIVE" if going["job"] == "reconcile" else "RUNNING",
            "startDate": NOW,
            "input": json.dumps(going),
        },
        {"executionArn": execution_arn("other-1")},
    )
    with pytest.raises(BatchBusy, match="another batch run is going: other-1"):
        start_or_take_up(client, MACHINE, run_input("reprocess", True, "v2"), lambda _: None)


def test_the_newest_failed_run_of_the_same_work_is_redriven(sfn):
    client, stub = sfn
    failed_input = run_input("reprocess", True, "v2", now=NOW - timedelta(hours=2))
    listed(stub, "reprocess-2", "reprocess-1")
    described(stub, "reprocess-2", "FAILED", failed_input, stopped=NOW - timedelta(hours=1))
    described(stub, "reprocess-1", "SUCCEEDED", run_input("reprocess", False, "v1"), stopped=NOW - timedelta(days=2))
    stub.add_response("redrive_execution", {"redriveDate": NOW}, {"executionArn": execution_arn("reprocess-2")})
    said = []
    arn = start_or_take_up(client, MACHINE, run_input("reprocess", True, "v2"), said.append)
    assert arn == execution_arn("reprocess-2") and "redriving reprocess-2 (failed)" in said[0]


def test_where_redrive_is_refused_a_new_run_takes_up_the_failed_one_s_start(sfn):
    """The emulator has no RedriveExecution: a forced re-render restarted with the failed run's
    start time skips what that run made."""
    client, stub = sfn
    failed_input = run_input("reprocess", True, "v2", now=NOW - timedelta(hours=2))
    listed(stub, "reprocess-2")
    described(stub, "reprocess-2", "FAILED", failed_input, stopped=NOW - timedelta(hours=1))
    stub.add_client_error("redrive_execution", "InvalidAction", "RedriveExecution is not supported")
    stub.add_response(
        "start_execution",
        {"executionArn": execution_arn("reprocess-3"), "startDate": NOW},
        {"stateMachineArn": MACHINE, "name": ANY, "input": json.dumps(failed_input)},
    )
    said = []
    assert start_or_take_up(client, MACHINE, run_input("reprocess", True, "v2"), said.append) == execution_arn(
        "reprocess-3"
    )
    assert "cannot be redriven (InvalidAction" in said[0] and "a new run takes up reprocess-2 (failed)" in said[1]
    assert said[2].startswith("reprocess: started reprocess-")


def test_a_failed_run_of_other_work_is_not_taken_up(sfn):
    client, stub = sfn
    wanted = run_input("reprocess", True, "v2")
    listed(stub, "reprocess-1")
    described(stub, "reprocess-1", "FAILED", run_input("reprocess", False, "v1"), stopped=NOW - timedelta(hours=1))
    stub.add_response(
        "start_execution",
        {"executionArn": execution_arn("new"), "startDate": NOW},
        {"stateMachineArn": MACHINE, "name": ANY, "input": json.dumps(wanted)},
    )
    assert start_or_take_up(client, MACHINE, wanted, lambda _: None) == execution_arn("new")


@pytest.mark.parametrize(
    "status, stopped_ago, output",
    [
        ("FAILED", timedelta(days=20), None),  # past what AWS can redrive: not asked to
        ("SUCCEEDED", timedelta(hours=1), {"failedCount": 2, "complete": True}),  # images failed
        ("SUCCEEDED", timedelta(hours=1), {"failedCount": 0, "complete": False}),  # summary cut short
    ],
)
def test_a_new_forced_run_takes_up_where_the_last_one_stopped(sfn, status, stopped_ago, output):
    """Run again after a forced run that did not do everything: what it made is not made again."""
    client, stub = sfn
    last = run_input("reprocess", True, "v2", now=NOW - stopped_ago - timedelta(hours=1))
    listed(stub, "reprocess-1")
    more = {"output": json.dumps(output)} if output else {}
    described(stub, "reprocess-1", status, last, stopped=NOW - stopped_ago, **more)
    stub.add_response(
        "start_execution",
        {"executionArn": execution_arn("new"), "startDate": NOW},
        {"stateMachineArn": MACHINE, "name": ANY, "input": json.dumps(last)},
    )
    said = []
    assert start_or_take_up(client, MACHINE, run_input("reprocess", True, "v2"), said.append) == execution_arn("new")
    assert "a new run takes up reprocess-1" in said[0]


def test_after_a_clean_forced_run_a_new_one_starts_afresh(sfn):
    client, stub = sfn
    listed(stub, "reprocess-1")
    last = run_input("reprocess", True, "v2", now=NOW - timedelta(hours=2))
    output = json.dumps({"failedCount": 0, "complete": True})
    described(stub, "reprocess-1", "SUCCEEDED", last, stopped=NOW - timedelta(hours=1), output=output)
    wanted = run_input("reprocess", True, "v2")
    stub.add_response(
        "start_execution",
        {"executionArn": execution_arn("new"), "startDate": NOW},
        {"stateMachineArn": MACHINE, "name": ANY, "input": json.dumps(wanted)},
    )
    assert start_or_take_up(client, MACHINE, wanted, lambda _: None) == execution_arn("new")


def test_the_progress_line_counts_items_failures_rate_and_time_left():
    counts = {"total": 400, "succeeded": 118, "failed": 2, "pending": 270, "running": 10}
    line = progress_line(counts, started=100.0, done_then=20, now=150.0)
    assert "120/400 items, 2 failed, 2.0/s, about 2 min 20 s left" in line
    assert line.count("#") == 9  # 30 * 120 // 400
    assert "left" not in progress_line({"total": 4, "succeeded": 4}, 0.0, 0, 2.0)


def test_following_shows_the_map_run_until_the_run_ends(sfn):
    client, stub = sfn
    arn = execution_arn("reprocess-1")
    run_arn = "arn:aws:states:us-east-1:000000000000:mapRun:imagepipe-batch/Each:1"
    for status, succeeded in (("RUNNING", 1), ("RUNNING", 3), ("SUCCEEDED", 4)):
        described(stub, "reprocess-1", status, run_input("reprocess"))
        stub.add_response(
            "list_map_runs",
            {"mapRuns": [{"executionArn": arn, "mapRunArn": run_arn, "stateMachineArn": MACHINE, "startDate": NOW}]},
            {"executionArn": arn},
        )
        counts = {"total": 4, "succeeded": succeeded, **{k: 0 for k in ("pending", "running", "failed", "timedOut")}}
        stub.add_response(
            "describe_map_run",
            {
                "mapRunArn": run_arn,
                "executionArn": arn,
                "status": "RUNNING",
                "startDate": NOW,
                "maxConcurrency": 4,
                "toleratedFailurePercentage": 5.0,
                "toleratedFailureCount": 0,
                "itemCounts": counts | {"aborted": 0, "resultsWritten": 0},
                "executionCounts": counts | {"aborted": 0, "resultsWritten": 0},
            },
            {"mapRunArn": run_arn},
        )
    shown, slept = [], []
    ticks = iter([0.0, 2.0, 4.0, 6.0])
    ended = follow(client, arn, shown.append, sleep=slept.append, clock=lambda: next(ticks))
    assert ended["status"] == "SUCCEEDED" and len(slept) == 2  # polled, never slept on the wall clock
    assert [line.split("]")[1].split(",")[0] for line in shown[:3]] == [" 1/4 items", " 3/4 items", " 4/4 items"]


def test_the_report_lists_what_failed_and_the_summary_s_place(sfn):
    client, stub = sfn
    wanted = run_input("reconcile")
    listed(stub)
    stub.add_response(
        "start_execution",
        {"executionArn": execution_arn("reconcile-1"), "startDate": NOW},
        {"stateMachineArn": MACHINE, "name": ANY, "input": ANY},
    )
    summary = {
        "outcomes": {"restored": 3, "error": 1},
        "failedCount": 1,
        "failed": [{"id": "a" * 32, "key": "uploads/" + "a" * 32, "error": "KeyError: 'sourceEtag'"}],
        "summaryKey": "batch-results/reconcile-1/summary.json",
    }
    described(stub, "reconcile-1", "SUCCEEDED", wanted, output=json.dumps(summary))
    stub.add_response("list_map_runs", {"mapRuns": []}, {"executionArn": execution_arn("reconcile-1")})
    said = []
    got = run_batch(client, MACHINE, wanted, said.append, bar=lambda _: None, sleep=lambda _: None)
    assert got["status"] == "SUCCEEDED" and got["failedCount"] == 1
    assert "reconcile: 3 restored, 1 error; 1 failed" in said
    assert f"  failed: {'a' * 32}: KeyError: 'sourceEtag'" in said
    assert "reconcile: the summary: batch-results/reconcile-1/summary.json in the processed bucket" in said


def test_a_failed_run_lists_the_keys_of_the_batches_that_failed_whole(sfn):
    """A child that failed whole (a crash, a timeout): its keys, from its input, and its error."""
    client, stub = sfn
    wanted = run_input("reprocess", False, "v2")
    arn = execution_arn("reprocess-1")
    run_arn = "arn:aws:states:us-east-1:000000000000:mapRun:imagepipe-batch/Each:1"
    child_arn = "arn:aws:states:us-east-1:000000000000:execution:imagepipe-batch/Each:child-1"
    listed(stub)
    stub.add_response(
        "start_execution",
        {"executionArn": arn, "startDate": NOW},
        {"stateMachineArn": MACHINE, "name": ANY, "input": ANY},
    )
    described(stub, "reprocess-1", "FAILED", wanted, error="States.ExceedToleratedFailureThreshold", cause="too many")
    stub.add_response("list_map_runs", {"mapRuns": []}, {"executionArn": arn})
    stub.add_response(
        "list_map_runs",
        {"mapRuns": [{"executionArn": arn, "mapRunArn": run_arn, "stateMachineArn": MACHINE, "startDate": NOW}]},
        {"executionArn": arn},
    )
    stub.add_response(
        "list_executions",
        {
            "executions": [
                {
                    "executionArn": child_arn,
                    "stateMachineArn": MACHINE,
                    "name": "child-1",
                    "status": "FAILED",
                    "startDate": NOW,
                }
            ]
        },
        {"mapRunArn": run_arn, "statusFilter": "FAILED", "maxResults": ANY},
    )
    batch = {
        "Items": [
            {"key": "uploads/" + "b" * 32, "job": "reprocess"},
            {"key": "uploads/" + "c" * 32, "job": "reprocess"},
        ]
    }
    stub.add_response(
        "describe_execution",
        {
            "executionArn": child_arn,
            "stateMachineArn": MACHINE,
            "status": "FAILED",
            "startDate": NOW,
            "input": json.dumps(batch),
            "error": "Sandbox.Timedout",
            "cause": "Task timed out",
        },
        {"executionArn": child_arn},
    )
    said = []
    got = run_batch(client, MACHINE, wanted, said.append, bar=lambda _: None, sleep=lambda _: None)
    assert got["status"] == "FAILED" and got["failedCount"] == 2
    assert [f["key"] for f in got["failed"]] == ["uploads/" + "b" * 32, "uploads/" + "c" * 32]
    assert f"  failed: uploads/{'b' * 32}: Sandbox.Timedout: Task timed out" in said
    assert said[-1] == "reprocess: run the same command again to redrive it (what succeeded is not done again)"


def test_an_incomplete_summary_is_said_and_is_not_a_clean_run(sfn):
    client, stub = sfn
    wanted = run_input("reprocess", True, "v2")
    listed(stub)
    stub.add_response(
        "start_execution",
        {"executionArn": execution_arn("reprocess-1"), "startDate": NOW},
        {"stateMachineArn": MACHINE, "name": ANY, "input": ANY},
    )
    summary = {"outcomes": {"processed": 10}, "failedCount": 0, "complete": False, "unread": ["r/SUCCEEDED_0.json"]}
    described(stub, "reprocess-1", "SUCCEEDED", wanted, output=json.dumps(summary))
    stub.add_response("list_map_runs", {"mapRuns": []}, {"executionArn": execution_arn("reprocess-1")})
    said = []
    got = run_batch(client, MACHINE, wanted, said.append, bar=lambda _: None, sleep=lambda _: None)
    assert not clean(got) and clean(got | {"complete": True})
    assert any("the summary is incomplete (1 result file(s) too large or late to read" in line for line in said)
