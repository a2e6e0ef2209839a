"""Batch runs on the stack's state machine (bootstrap/deploy/batch.py): start one, or take up the
one already there, follow it with a progress bar, and say how it ended.

`make reprocess` and `make reconcile` come here when the stack has the state machine:
- a run of the same work (job, options, spec) still going is followed, never started twice (the
  command was interrupted, or a colleague started it); any other batch run going is refused:
  one at a time, so uploads keep their share of the processor;
- the newest run of the job, if it is the same work and did not finish (failed, stopped, timed
  out), is redriven (RedriveExecution: only what did not succeed runs again); where the service
  cannot redrive it (more than REDRIVE_WINDOW old, or the embedded emulator, which has no
  RedriveExecution), or where it succeeded with images that failed, a new run starts, and a
  forced re-render takes the old run's start time, so what that run made is skipped;
- otherwise a new run starts.
Interrupted (Ctrl-C), the command leaves the run going and says how to follow it again.
"""

from __future__ import annotations

import json
import secrets
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from botocore.exceptions import ClientError

from handlers.batch import JOBS, MAX_FAILED_SAID

REDRIVE_WINDOW = timedelta(days=13)  # AWS redrives a run up to 14 days after it stopped
LOOK_BACK = 20  # newest runs looked at for one to take up (each a DescribeExecution)
POLL_SECONDS = 2.0
UNFINISHED = ("FAILED", "ABORTED", "TIMED_OUT")
GOING = ("RUNNING", "PENDING_REDRIVE")
SAME_RUN = ("job", "force", "specVersion")  # what makes two runs the same work


def run_input(
    job: str,
    force: bool = False,
    spec_version: str = "",
    now: datetime | None = None,
    inventory_manifest: str | None = None,
) -> dict:
    """The execution's input: the job, and for a forced re-render the run's start, so a run taken
    up again skips what it made already (handlers/batch.py); with an S3 Inventory manifest's key,
    the keys come from it instead of a listing (BATCH_INVENTORY_BUCKET)."""
    if job not in JOBS:
        raise ValueError(f"job must be one of {JOBS}")
    started = (now or datetime.now(UTC)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    given = {"job": job, "force": force, "changedBefore": started if force else "", "specVersion": spec_version}
    return given | ({"inventoryManifest": inventory_manifest} if inventory_manifest else {})


class BatchBusy(RuntimeError):
    """Another batch run is going: one at a time, so uploads keep their share of the processor."""


def start_or_take_up(sfn, machine_arn: str, wanted: dict, log: Callable[[str], None] = print) -> str:
    """The execution to follow: the run of this very work that is going, the newest one of it that
    did not finish redriven, or a new one (taking up where an unfinished forced run stopped).
    Raises BatchBusy when another batch run is going."""
    newest = None  # the newest run of this job, finished
    listed = sfn.list_executions(stateMachineArn=machine_arn, maxResults=LOOK_BACK)["executions"]
    for listed_one in listed:  # newest first
        described = sfn.describe_execution(executionArn=listed_one["executionArn"])
        given = json.loads(described.get("input") or "{}")
        if described["status"] in GOING:
            if _same(given, wanted):
                log(f"{wanted['job']}: following the run already going: {described['name']}")
                return described["executionArn"]
            raise BatchBusy(
                f"another batch run is going: {described['name']} ({_work(given)}); follow it with the "
                "command that started it, or wait for its end (one run at a time: uploads keep their share)"
            )
        if newest is None and given.get("job") == wanted["job"]:
            newest = (described, given)
    if newest and _same(newest[1], wanted) and _unfinished(newest[0]):
        described, given = newest
        said = f"{described['name']} ({described['status'].lower()})"
        if described["status"] in UNFINISHED and _recent(described):
            try:
                sfn.redrive_execution(executionArn=described["executionArn"])
                log(f"{wanted['job']}: redriving {said}: what did not succeed runs again")
                return described["executionArn"]
            except ClientError as exc:
                error = exc.response.get("Error", {})
                log(f"{wanted['job']}: {said} cannot be redriven ({error.get('Code')}: {error.get('Message')})")
        if wanted["force"]:  # what that run made since its start is skipped
            wanted = wanted | {"changedBefore": given.get("changedBefore") or wanted["changedBefore"]}
            log(f"{wanted['job']}: a new run takes up {said} where it stopped")
    name = f"{wanted['job']}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    arn = sfn.start_execution(stateMachineArn=machine_arn, name=name, input=json.dumps(wanted))["executionArn"]
    log(f"{wanted['job']}: started {name}")
    return arn


def _unfinished(described: dict) -> bool:
    """Failed, stopped or timed out; or succeeded with images that failed or a summary cut short."""
    if described["status"] in UNFINISHED:
        return True
    said = json.loads(described.get("output") or "{}")
    return described["status"] == "SUCCEEDED" and bool(said.get("failedCount") or not said.get("complete", True))


def _work(given: dict) -> str:
    return ", ".join(f"{k} {given.get(k)!r}" for k in SAME_RUN)


def _same(given: dict, wanted: dict) -> bool:
    return all(given.get(k) == wanted.get(k) for k in SAME_RUN)


def _recent(described: dict) -> bool:
    stopped = described.get("stopDate")
    return stopped is None or datetime.now(UTC) - stopped < REDRIVE_WINDOW


def progress_line(counts: dict, started: float, done_then: int, now: float, width: int = 30) -> str:
    """`[#####.....] 120/400 items, 2 failed, 3.1/s, about 1 min 30 s left` from a Map Run's counts."""
    total = int(counts.get("total") or 0)
    failed = sum(int(counts.get(k) or 0) for k in ("failed", "timedOut", "aborted"))
    done = int(counts.get("succeeded") or 0) + failed
    filled = width * done // total if total else 0
    rate = (done - done_then) / max(now - started, 1e-6)
    left = f", about {_duration((total - done) / rate)} left" if rate > 0 and done < total else ""
    return f"\r  [{'#' * filled}{'.' * (width - filled)}] {done}/{total} items, {failed} failed, {rate:.1f}/s{left}"


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"


def follow(
    sfn,
    execution_arn: str,
    bar: Callable[[str], None],
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict:
    """Wait for the execution to end, showing its Map Run's progress; its last description."""
    started, done_then = clock(), None
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        runs = sfn.list_map_runs(executionArn=execution_arn).get("mapRuns") or []
        if runs:
            counts = sfn.describe_map_run(mapRunArn=runs[0]["mapRunArn"]).get("itemCounts") or {}
            done = sum(int(counts.get(k) or 0) for k in ("succeeded", "failed", "timedOut", "aborted"))
            done_then = done if done_then is None else done_then
            bar(progress_line(counts, started, done_then, clock()))
        if described["status"] not in GOING:
            if runs:
                bar("\n")
            return described
        sleep(POLL_SECONDS)


def failed_children(sfn, execution_arn: str, limit: int = MAX_FAILED_SAID) -> list[dict]:
    """The batches that failed whole: their keys and error (the first `limit`)."""
    failed = []
    for run in (sfn.list_map_runs(executionArn=execution_arn).get("mapRuns") or [])[:1]:
        listed = sfn.list_executions(mapRunArn=run["mapRunArn"], statusFilter="FAILED", maxResults=limit)
        for child in listed["executions"]:
            described = sfn.describe_execution(executionArn=child["executionArn"])
            given = json.loads(described.get("input") or "{}")
            items = given.get("Items") if isinstance(given, dict) and "Items" in given else [given]
            error = f"{described.get('error', '')}: {described.get('cause', '')}"[:300]
            failed += [{"key": item.get("key"), "error": error} for item in items if isinstance(item, dict)]
    return failed[:limit]


def clean(summary: dict) -> bool:
    """The run did all its work and said so: nothing failed, the summary complete."""
    return summary.get("status") == "SUCCEEDED" and not summary.get("failedCount") and summary.get("complete", True)


def run_batch(
    sfn,
    machine_arn: str,
    wanted: dict,
    log: Callable[[str], None] = print,
    bar: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict:
    """Start or take up the run, follow it to its end, report; the summary (`outcomes`,
    `failedCount`, `failed`, ...), with `status` the execution's."""
    bar = bar or (lambda text: (sys.stderr.write(text), sys.stderr.flush()))
    arn = ""
    try:
        arn = start_or_take_up(sfn, machine_arn, wanted, log)
        described = follow(sfn, arn, bar, sleep)
    except KeyboardInterrupt:
        bar("\n")
        if arn:
            log(f"{wanted['job']}: left running ({arn.rsplit(':', 1)[-1]}); run the same command again to follow it")
        raise
    status = described["status"]
    summary = json.loads(described.get("output") or "{}") if status == "SUCCEEDED" else {}
    summary["status"] = status
    if status != "SUCCEEDED":
        log(f"{wanted['job']}: the run {status.lower()}: {described.get('error', '')} {described.get('cause', '')}")
    # Batches that failed whole: a failed run has no summary at all, and the emulator's results do
    # not say their keys (AWS's do, and the summary lists them).
    if status != "SUCCEEDED" or summary.get("failedBatchesUnlisted"):
        children = failed_children(sfn, arn)
        summary["failed"] = (summary.get("failed") or []) + children
        summary["failedCount"] = summary.get("failedCount", 0) + len(children)
    said = ", ".join(f"{n} {what}" for what, n in (summary.get("outcomes") or {}).items()) or "no outcomes"
    log(f"{wanted['job']}: {said}; {summary.get('failedCount', 0)} failed")
    for one in (summary.get("failed") or [])[:20]:
        log(f"  failed: {one.get('id') or one.get('key')}: {one.get('error')}")
    if summary.get("summaryKey"):
        log(f"{wanted['job']}: the summary: {summary['summaryKey']} in the processed bucket")
    if status == "SUCCEEDED" and not summary.get("complete", True):
        unread = summary.get("unread") or []
        why = summary.get("summaryError") or f"{len(unread)} result file(s) too large or late to read: {unread[:3]}"
        log(f"{wanted['job']}: the summary is incomplete ({why}): the counts above are not all; the Map Run's are")
    if status != "SUCCEEDED":
        log(f"{wanted['job']}: run the same command again to redrive it (what succeeded is not done again)")
    return summary
