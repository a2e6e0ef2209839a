"""bootstrap/deploy/batch.py and its role: the batch state machine as deploy makes it."""

from __future__ import annotations

import dataclasses
import json

from bootstrap.deploy.batch import TOLERATED_FAILURE_PERCENT, UNRESERVED_CONCURRENCY, batch_concurrency, definition
from bootstrap.deploy.config import StackConfig
from bootstrap.deploy.iam import batch_policy, trust
from handlers.batch import ITEMS_PER_BATCH, RESULTS_PREFIX, SUMMARY_ACTION, BatchIncomplete

CFG = StackConfig(target="aws", region="eu-west-1", endpoint_url=None, processor_concurrency=10)
ACCOUNT = "123456789012"
PROCESSOR = f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:imagepipe-processor"


def test_the_map_lists_uploads_and_hands_each_child_a_batch_of_keys_with_the_job():
    machine = definition(CFG, PROCESSOR)
    each = machine["States"][machine["StartAt"]]
    assert each["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    assert each["ItemReader"] == {
        "Resource": "arn:aws:states:::s3:listObjectsV2",
        "Parameters": {"Bucket": CFG.upload_bucket, "Prefix": "uploads/"},
    }
    # What handlers/batch.py reads from each item: the key, the job and its options.
    assert each["ItemSelector"] == {
        "key.$": "$$.Map.Item.Value.Key",
        "job.$": "$.job",
        "force.$": "$.force",
        "changedBefore.$": "$.changedBefore",
    }
    assert each["ItemBatcher"] == {"MaxItemsPerBatch": ITEMS_PER_BATCH}
    assert each["ToleratedFailurePercentage"] == TOLERATED_FAILURE_PERCENT
    assert each["ResultWriter"]["Parameters"] == {"Bucket": CFG.processed_bucket, "Prefix": RESULTS_PREFIX}
    child = each["ItemProcessor"]["States"]["Batch"]
    assert child["Resource"] == "arn:aws:states:::lambda:invoke"
    assert child["Parameters"] == {"FunctionName": PROCESSOR, "Payload.$": "$"}
    # The error the processor raises when a batch runs short of time is retried by its name.
    assert child["Retry"][0]["ErrorEquals"] == [BatchIncomplete.__name__]
    assert each["Next"] == "Summary"
    summary = machine["States"]["Summary"]
    assert summary["Parameters"]["Payload"]["action"] == SUMMARY_ACTION
    assert summary["Parameters"]["Payload"]["results.$"] == each["ResultPath"] == "$.results"
    assert "Choice" not in json.dumps(machine)  # no inventory configured: the listing only


def test_children_at_once_leave_uploads_half_the_processor_s_reserved_concurrency():
    assert definition(CFG, PROCESSOR)["States"]["Each upload"]["MaxConcurrency"] == 5
    assert batch_concurrency(1) == 1 and batch_concurrency(None) == UNRESERVED_CONCURRENCY


def test_with_an_inventory_bucket_an_execution_may_name_a_manifest_instead_of_listing():
    cfg = dataclasses.replace(CFG, batch_inventory_bucket="inventories")
    machine = definition(cfg, PROCESSOR)
    choice = machine["States"][machine["StartAt"]]
    assert choice["Choices"][0]["Variable"] == "$.inventoryManifest" and choice["Default"] == "Each upload"
    inventoried = machine["States"][choice["Choices"][0]["Next"]]
    assert inventoried["ItemReader"]["ReaderConfig"] == {"InputType": "MANIFEST"}
    assert inventoried["ItemReader"]["Parameters"] == {"Bucket": "inventories", "Key.$": "$.inventoryManifest"}
    assert inventoried["ItemSelector"] == machine["States"]["Each upload"]["ItemSelector"]
    granted = [s for s in batch_policy(cfg, ACCOUNT)["Statement"] if s["Resource"] == ["arn:aws:s3:::inventories/*"]]
    assert [s["Action"] for s in granted] == [["s3:GetObject"]]


def test_the_batch_role_invokes_only_the_processor_and_lists_only_uploads():
    statements = batch_policy(CFG, ACCOUNT)["Statement"]

    def resources(action):
        return [r for s in statements if action in s["Action"] for r in s["Resource"]]

    actions = {a for s in statements for a in s["Action"]}
    assert actions == {
        "lambda:InvokeFunction",
        "s3:ListBucket",
        "states:StartExecution",
        "states:DescribeExecution",
        "states:StopExecution",
        "states:RedriveExecution",
        "s3:PutObject",
        "s3:GetObject",
        "s3:ListMultipartUploadParts",
        "s3:AbortMultipartUpload",
    }
    assert resources("lambda:InvokeFunction") == [PROCESSOR]
    (listing,) = [s for s in statements if "s3:ListBucket" in s["Action"]]
    assert listing["Resource"] == [f"arn:aws:s3:::{CFG.upload_bucket}"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["uploads/*"]}}
    # Its own children only; it writes and reads nowhere but under the results prefix.
    assert resources("states:StartExecution") == [f"arn:aws:states:eu-west-1:{ACCOUNT}:stateMachine:imagepipe-batch"]
    assert all(
        r.startswith(f"arn:aws:states:eu-west-1:{ACCOUNT}:execution:imagepipe-batch")
        for r in resources("states:DescribeExecution")
    )
    assert (
        resources("s3:PutObject")
        == resources("s3:GetObject")
        == [f"arn:aws:s3:::{CFG.processed_bucket}/{RESULTS_PREFIX}/*"]
    )
    assert all("*" not in a for a in actions)


def test_a_run_never_fails_for_want_of_its_summary():
    """The work is done when the summary step runs: its failure ends the run as succeeded, with the
    summary marked missing (a redrive would only run the failing step again)."""
    machine = definition(CFG, PROCESSOR)
    assert machine["States"]["Summary"]["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.summaryError", "Next": "No summary"}
    ]
    missing = machine["States"]["No summary"]
    assert missing["Type"] == "Pass" and missing["End"] and missing["Parameters"]["complete"] is False


def test_only_this_account_s_step_functions_may_assume_the_batch_role():
    (statement,) = trust("states.amazonaws.com", ACCOUNT)["Statement"]
    assert statement["Principal"] == {"Service": "states.amazonaws.com"}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


def test_the_state_machine_is_created_once_step_functions_may_assume_its_new_role():
    """IAM is eventually consistent: exactly that refusal is retried, with growing waits."""
    from types import SimpleNamespace

    import boto3
    import pytest
    from botocore.exceptions import ClientError
    from botocore.stub import Stubber

    from bootstrap.deploy.batch import create_when_role_is_ready

    client = boto3.client("stepfunctions", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    params = {"name": "imagepipe-batch", "definition": "{}", "roleArn": "arn:aws:iam::1:role/r", "type": "STANDARD"}
    waited = []
    with Stubber(client) as stub:
        for _ in range(2):
            stub.add_client_error(
                "create_state_machine", "AccessDeniedException", "Neither ... is authorized to assume the provided role"
            )
        stub.add_response(
            "create_state_machine", {"stateMachineArn": "arn:sm", "creationDate": "2026-12-03T00:00:00Z"}, params
        )
        assert create_when_role_is_ready(SimpleNamespace(sfn=client), params, wait=waited.append) == "arn:sm"
        stub.add_client_error("create_state_machine", "InvalidDefinition", "bad")
        with pytest.raises(ClientError):
            create_when_role_is_ready(SimpleNamespace(sfn=client), params, wait=waited.append)
    assert waited == [1, 2]  # the other error is not retried
