"""Step Functions: the batch state machine that runs `make reprocess` and `make reconcile` at scale.

A Standard workflow with one distributed Map: its item reader lists the upload bucket's
`uploads/` (or, for buckets too large to list, reads an S3 Inventory manifest the execution
names: BATCH_INVENTORY_BUCKET), hands each child a batch of keys, and each child invokes the
processor's batch path (handlers/batch.py). `MaxConcurrency` is half the processor's reserved
concurrency, so uploads keep the other half; a child that fails whole (a crash, a throttle past
the retries) is tolerated up to TOLERATED_FAILURE_PERCENT; one image's failure never fails its
child (the child lists it). ResultWriter keeps every child's result in the processed bucket and
a last step writes the run's summary beside it (`batch-results/<execution>/summary.json`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from botocore.exceptions import ClientError

from bootstrap.deploy.config import StackConfig
from bootstrap.deploy.executor import Aws, when_role_is_ready
from handlers.batch import ITEMS_PER_BATCH, RESULTS_PREFIX, SUMMARY_ACTION
from handlers.keys import UPLOAD_PREFIX

TOLERATED_FAILURE_PERCENT = 5  # children that failed whole, of all children, before the run fails
UNRESERVED_CONCURRENCY = 4  # children at once without a reservation: as many as the laptop path runs
# Errors Lambda answers an invoke with that a later try may not get: throttles and service faults.
LAMBDA_TRANSIENT = [
    "Lambda.TooManyRequestsException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.Unknown",
]


def batch_concurrency(processor_concurrency: int | None) -> int:
    """Children at once: half the processor's reserved concurrency (uploads keep the rest)."""
    return max(1, processor_concurrency // 2) if processor_concurrency else UNRESERVED_CONCURRENCY


def state_machine_arn(cfg: StackConfig, account: str) -> str:
    return f"arn:aws:states:{cfg.region}:{account}:stateMachine:{cfg.batch_state_machine}"


def _invoke(processor_arn: str, payload: dict, retry: list[dict]) -> dict:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": processor_arn, **payload},
        "OutputPath": "$.Payload",
        "Retry": retry,
    }


def _each_upload(cfg: StackConfig, processor_arn: str, reader: dict) -> dict:
    """The distributed Map over the keys the reader gives: each child a batch of them."""
    retry = [
        # Out of time before the batch's end (handlers/batch.py): the next try skips what is done.
        {"ErrorEquals": ["BatchIncomplete"], "IntervalSeconds": 1, "MaxAttempts": 10, "BackoffRate": 1.0},
        {
            "ErrorEquals": LAMBDA_TRANSIENT,
            "IntervalSeconds": 2,
            "MaxAttempts": 6,
            "BackoffRate": 2.0,
            "JitterStrategy": "FULL",
        },
    ]
    child = _invoke(processor_arn, {"Payload.$": "$"}, retry) | {"End": True}
    return {
        "Type": "Map",
        "ItemReader": reader,
        # Each item: its key, and the job as the execution's input says it.
        "ItemSelector": {
            "key.$": "$$.Map.Item.Value.Key",
            "job.$": "$.job",
            "force.$": "$.force",
            "changedBefore.$": "$.changedBefore",
        },
        "ItemBatcher": {"MaxItemsPerBatch": ITEMS_PER_BATCH},
        "MaxConcurrency": batch_concurrency(cfg.processor_concurrency),
        "ToleratedFailurePercentage": TOLERATED_FAILURE_PERCENT,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Batch",
            "States": {"Batch": child},
        },
        "ResultWriter": {
            "Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket": cfg.processed_bucket, "Prefix": RESULTS_PREFIX},
        },
        "ResultPath": "$.results",
        "Next": "Summary",
    }


def definition(cfg: StackConfig, processor_arn: str) -> dict:
    """The state machine, as Amazon States Language."""
    listing = {
        "Resource": "arn:aws:states:::s3:listObjectsV2",
        "Parameters": {"Bucket": cfg.upload_bucket, "Prefix": UPLOAD_PREFIX},
    }
    states = {
        "Each upload": _each_upload(cfg, processor_arn, listing),
        "Summary": _invoke(
            processor_arn,
            {
                "Payload": {
                    "action": SUMMARY_ACTION,
                    "execution.$": "$$.Execution.Name",
                    "request.$": "$$.Execution.Input",
                    "results.$": "$.results",
                }
            },
            [{"ErrorEquals": LAMBDA_TRANSIENT, "IntervalSeconds": 2, "MaxAttempts": 6, "BackoffRate": 2.0}],
        )
        # The work is done whatever becomes of its summary: a run never fails for want of one (a
        # redrive would run the same failing step again), it says the summary is missing.
        | {"Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.summaryError", "Next": "No summary"}]}
        | {"End": True},
        "No summary": {
            "Type": "Pass",
            "Parameters": {"complete": False, "summaryError.$": "$.summaryError"},
            "End": True,
        },
    }
    start = "Each upload"
    if cfg.batch_inventory_bucket:
        # An S3 Inventory manifest (its key in the execution's input) instead of the listing: a listing
        # of a hundred million keys takes hours before the first child starts.
        manifest = {
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "MANIFEST"},
            "Parameters": {"Bucket": cfg.batch_inventory_bucket, "Key.$": "$.inventoryManifest"},
        }
        states["Each inventoried upload"] = _each_upload(cfg, processor_arn, manifest)
        states["Listing or inventory"] = {
            "Type": "Choice",
            "Choices": [{"Variable": "$.inventoryManifest", "IsPresent": True, "Next": "Each inventoried upload"}],
            "Default": "Each upload",
        }
        start = "Listing or inventory"
    return {
        "Comment": "imagepipe batch: reprocess or reconcile every upload (make reprocess ALL=1, make reconcile)",
        "StartAt": start,
        "States": states,
    }


def ensure_batch_state_machine(
    aws: Aws, cfg: StackConfig, role_arn: str, processor_arn: str, log: Callable[[str], None] = print
) -> str:
    """Create the state machine, or bring its definition and role up to date; its ARN."""
    arn = state_machine_arn(cfg, aws.account)
    wanted = json.dumps(definition(cfg, processor_arn), sort_keys=True)
    try:
        current = aws.sfn.describe_state_machine(stateMachineArn=arn)
    except aws.sfn.exceptions.StateMachineDoesNotExist:
        params = dict(name=cfg.batch_state_machine, definition=wanted, roleArn=role_arn, type="STANDARD")
        made = create_when_role_is_ready(aws, params)
        log(f"created state machine {cfg.batch_state_machine}")
        return made
    if json.loads(current["definition"]) != json.loads(wanted) or current["roleArn"] != role_arn:
        aws.sfn.update_state_machine(stateMachineArn=arn, definition=wanted, roleArn=role_arn)
        log(f"updated state machine {cfg.batch_state_machine}")
    return arn


def create_when_role_is_ready(
    aws: Aws, params: dict, wait: Callable[[float], None] = time.sleep, tries: int = 8
) -> str:
    """Step Functions refuses a new role for seconds (AccessDenied, "assume"): iam.when_role_is_ready."""

    def refused(exc: Exception) -> bool:
        error = exc.response.get("Error", {}) if isinstance(exc, ClientError) else {}
        return error.get("Code") == "AccessDeniedException" and "assume" in error.get("Message", "")

    return when_role_is_ready(lambda: aws.sfn.create_state_machine(**params)["stateMachineArn"], refused, wait, tries)


def remove_batch_state_machine(aws: Aws, cfg: StackConfig, log: Callable[[str], None] = print) -> None:
    arn = state_machine_arn(cfg, aws.account)
    try:
        aws.sfn.describe_state_machine(stateMachineArn=arn)
    except aws.sfn.exceptions.StateMachineDoesNotExist:
        return
    aws.sfn.delete_state_machine(stateMachineArn=arn)
    log(f"deleted state machine {cfg.batch_state_machine}")
