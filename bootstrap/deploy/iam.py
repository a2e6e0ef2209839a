"""IAM: one role per function, each policy naming only the actions and resources it uses."""

from __future__ import annotations

import json
from collections.abc import Callable

from bootstrap.deploy.bus import event_bus_arn, table_stream_arns
from bootstrap.deploy.config import ALL_FUNCTIONS, StackConfig
from bootstrap.deploy.events import dead_letter_queue_arn
from bootstrap.deploy.executor import Aws
from bootstrap.deploy.live import connections_arn
from handlers.batch import RESULTS_PREFIX
from handlers.keys import UPLOAD_PREFIX
from handlers.schema import CONTENT_INDEX, LIST_INDEX, OWNER_INDEX, STATUS_INDEX, UNFINISHED_INDEX


def trust(service: str, account: str | None = None) -> dict:
    """Who may assume a role: the service; with `account`, only on behalf of this account's own
    resources (the confused-deputy guard AWS advises for Step Functions)."""
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if account:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": account}}
    return {"Version": "2012-10-17", "Statement": [statement]}


BATCH_ROLE = "batch"  # the batch state machine's role (bootstrap/deploy/batch.py)
ALL_ROLES = (*ALL_FUNCTIONS, BATCH_ROLE)


# What the API's health report reads of CloudWatch (handlers/health.py), which no resource narrower
# than "*" can grant: AWS's service authorization reference gives GetMetricData and ListMetrics no
# resource type at all, and AWS authorizes a DescribeAlarms by name prefix against `alarm:*` (every
# alarm of the region), never the alarms it returns, so an `alarm:<prefix>-*` scope is refused
# (so is it by the emulator, which checks that call against "*"). Read-only, nothing else of CloudWatch.
CLOUDWATCH_READS = ("cloudwatch:DescribeAlarms", "cloudwatch:GetMetricData", "cloudwatch:ListMetrics")


def role_name(cfg: StackConfig, role: str) -> str:
    return f"{cfg.function(role)}-role"


def function_policies(
    cfg: StackConfig, account: str, pool_arn: str | None = None, live_api_id: str | None = None
) -> dict[str, dict]:
    """Each function's policy names only the actions and resources it uses. The user pool is made
    after the roles (its trigger needs one), so the API's Cognito statement comes with its ARN; the
    live function's connections with its WebSocket API's id, likewise."""
    table_arn = f"arn:aws:dynamodb:{cfg.region}:{account}:table/{cfg.table}"
    similar_arn = f"arn:aws:dynamodb:{cfg.region}:{account}:table/{cfg.similar_table}"
    dlq_arn = dead_letter_queue_arn(cfg, account)
    logs = {
        "Effect": "Allow",
        "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": [f"arn:aws:logs:{cfg.region}:{account}:log-group:/aws/lambda/{cfg.prefix}-*"],
    }

    def on_the_pool(action: str) -> list[dict]:  # once the pool exists (roles are made before it)
        return [{"Effect": "Allow", "Action": [action], "Resource": [pool_arn]}] if pool_arn else []

    return {
        "api": {
            "Version": "2012-10-17",
            "Statement": [
                logs,
                # PutItem: records and the tombstones deletes leave; UpdateItem: the quota counters;
                # BatchGetItem: the records a listing by status finds (byStatus holds their keys).
                {
                    "Effect": "Allow",
                    "Action": [
                        "dynamodb:PutItem",
                        "dynamodb:GetItem",
                        "dynamodb:BatchGetItem",
                        "dynamodb:Query",
                        "dynamodb:UpdateItem",
                    ],
                    "Resource": [
                        table_arn,
                        f"{table_arn}/index/{LIST_INDEX}",
                        f"{table_arn}/index/{OWNER_INDEX}",
                        f"{table_arn}/index/{UNFINISHED_INDEX}",  # the health report's oldest unfinished upload
                        f"{table_arn}/index/{STATUS_INDEX}",  # the admin's status filter and counts
                        f"{table_arn}/index/{CONTENT_INDEX}",  # the caller's image with a file's bytes
                    ],
                },
                # A deleted image's band items (the near-duplicate index: handlers/similar_index.py),
                # in one batch; its id leaves the others' similarTo by UpdateItem, above.
                {"Effect": "Allow", "Action": ["dynamodb:BatchWriteItem"], "Resource": [similar_arn]},
                # PutObject: the presigned POST is signed with this role's credentials (uploads/ only).
                {
                    "Effect": "Allow",
                    "Action": ["s3:PutObject"],
                    "Resource": [f"arn:aws:s3:::{cfg.upload_bucket}/uploads/*"],
                },
                # DeleteObject anywhere in the bucket: admins delete any image, files put there directly too.
                # GetObject: the download link of an original is presigned with this role's credentials.
                {
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:DeleteObject"],
                    "Resource": [f"arn:aws:s3:::{cfg.upload_bucket}/*"],
                },
                {
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:DeleteObject"],
                    "Resource": [f"arn:aws:s3:::{cfg.processed_bucket}/*"],
                },
                # Group membership is asked of the pool, never read from a token's claims.
                *on_the_pool("cognito-idp:AdminListGroupsForUser"),
                # The health report: the stack's alarms and metrics, on "*" (CLOUDWATCH_READS says why; the
                # one exception test_policies_name_actions_and_resources_exactly allows).
                {"Effect": "Allow", "Action": list(CLOUDWATCH_READS), "Resource": ["*"]},
            ],
        },
        # Cognito's PreSignUp trigger (local pools only): it answers, and gives a person whose account
        # a crash of the local stack lost their images back (handlers/relink.py): it finds them by
        # email, asks the pool whether their old owner is still a user, and re-owns them.
        "presignup": {
            "Version": "2012-10-17",
            "Statement": [
                logs,
                {"Effect": "Allow", "Action": ["dynamodb:Scan", "dynamodb:UpdateItem"], "Resource": [table_arn]},
                *on_the_pool("cognito-idp:AdminGetUser"),
            ],
        },
        # The table's stream in (Lambda's mapping reads it with this role), image events out, on the
        # stack's own bus only: the one function that may send them (bootstrap/deploy/bus.py).
        "events": {
            "Version": "2012-10-17",
            "Statement": [
                logs,
                {
                    "Effect": "Allow",
                    "Action": [
                        "dynamodb:DescribeStream",
                        "dynamodb:GetRecords",
                        "dynamodb:GetShardIterator",
                        "dynamodb:ListStreams",
                    ],
                    "Resource": [table_stream_arns(cfg, account)],
                },
                {"Effect": "Allow", "Action": ["events:PutEvents"], "Resource": [event_bus_arn(cfg, account)]},
            ],
        },
        # The live status (bootstrap/deploy/live.py): its own connections table, the pool's word on
        # admins, and posting to (or closing) connections of its own API's stage only.
        "live": {
            "Version": "2012-10-17",
            "Statement": [
                logs,
                {
                    "Effect": "Allow",
                    "Action": ["dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Query"],
                    "Resource": [f"arn:aws:dynamodb:{cfg.region}:{account}:table/{cfg.connections_table}"],
                },
                *on_the_pool("cognito-idp:AdminListGroupsForUser"),
                *(
                    [
                        {
                            "Effect": "Allow",
                            "Action": ["execute-api:ManageConnections"],
                            "Resource": [connections_arn(cfg, account, live_api_id)],
                        }
                    ]
                    if live_api_id
                    else []
                ),
            ],
        },
        "processor": {
            "Version": "2012-10-17",
            "Statement": [
                logs,
                # DeleteItem: the sweep removes records of uploads that never arrived (only if pending).
                # PutItem: the batch's reconcile writes a record rebuilt from S3 (conditionally).
                {
                    "Effect": "Allow",
                    "Action": ["dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:PutItem"],
                    "Resource": [table_arn],
                },
                # The sweep finds unfinished records through their own index; a file's owner's image
                # with the same bytes (an exact duplicate) is found through its own.
                {
                    "Effect": "Allow",
                    "Action": ["dynamodb:Query"],
                    "Resource": [f"{table_arn}/index/{UNFINISHED_INDEX}", f"{table_arn}/index/{CONTENT_INDEX}"],
                },
                # The near-duplicate index (handlers/similar_index.py): a processed image's band items
                # written in one batch (and a removed one's), a new photo's bands queried, the items of
                # a file whose record went meanwhile deleted (conditionally). Linking both ways is a
                # transaction of two UpdateItems on the images table, which AWS authorizes as those.
                {
                    "Effect": "Allow",
                    "Action": ["dynamodb:BatchWriteItem", "dynamodb:Query", "dynamodb:DeleteItem"],
                    "Resource": [similar_arn],
                },
                # GetObjectVersion: each event's own version of the file (a form posted again makes another).
                {
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                    "Resource": [f"arn:aws:s3:::{cfg.upload_bucket}/*"],
                },
                # ListBucket makes S3 answer a missing key 404 (without it: 403, indistinguishable from a
                # real refusal). It names the bucket: a prefix condition would not apply to that answer,
                # and the role already reads every object there.
                {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [f"arn:aws:s3:::{cfg.upload_bucket}"]},
                # The file of an image deleted through the API, posted again with its form, and any file
                # posted with a form after its first (DeleteObjectVersion: that version, for good): only
                # keys the API issues.
                {
                    "Effect": "Allow",
                    "Action": ["s3:DeleteObject", "s3:DeleteObjectVersion"],
                    "Resource": [f"arn:aws:s3:::{cfg.upload_bucket}/uploads/*"],
                },
                # DeleteObject: stale renditions (an image deleted while processed, an object replaced).
                # GetObject: the manifests reconcile rebuilds records from, the batch's results it sums up.
                {
                    "Effect": "Allow",
                    "Action": ["s3:PutObject", "s3:DeleteObject", "s3:GetObject"],
                    "Resource": [f"arn:aws:s3:::{cfg.processed_bucket}/*"],
                },
                # A manifest not written yet (a file never processed) must answer 404, not 403.
                {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [f"arn:aws:s3:::{cfg.processed_bucket}"]},
                # Lambda's on-failure destination sends with the function's role.
                {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": [dlq_arn]},
                # The sweep re-drives each stuck record as an asynchronous invocation of this function.
                {
                    "Effect": "Allow",
                    "Action": ["lambda:InvokeFunction"],
                    "Resource": [f"arn:aws:lambda:{cfg.region}:{account}:function:{cfg.function('processor')}"],
                },
            ],
        },
    }


def batch_policy(cfg: StackConfig, account: str) -> dict:
    """The batch state machine's: invoke the processor, list `uploads/`, run its own children,
    write their results under `batch-results/`, and read an inventory where one is configured."""
    machine = f"arn:aws:states:{cfg.region}:{account}:stateMachine:{cfg.batch_state_machine}"
    executions = f"arn:aws:states:{cfg.region}:{account}:execution:{cfg.batch_state_machine}"
    results = f"arn:aws:s3:::{cfg.processed_bucket}/{RESULTS_PREFIX}/*"
    statements = [
        {
            "Effect": "Allow",
            "Action": ["lambda:InvokeFunction"],
            "Resource": [f"arn:aws:lambda:{cfg.region}:{account}:function:{cfg.function('processor')}"],
        },
        # The item reader's listing: only the keys the API issues.
        {
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [f"arn:aws:s3:::{cfg.upload_bucket}"],
            "Condition": {"StringLike": {"s3:prefix": [f"{UPLOAD_PREFIX}*"]}},
        },
        # A distributed Map runs each batch as a child execution of this very state machine
        # (`<name>/<Map label>:<id>`); a redrive re-runs the failed ones.
        {"Effect": "Allow", "Action": ["states:StartExecution"], "Resource": [machine]},
        {
            "Effect": "Allow",
            "Action": ["states:DescribeExecution", "states:StopExecution", "states:RedriveExecution"],
            "Resource": [f"{executions}:*", f"{executions}/*"],
        },
        # ResultWriter writes the children's results as multipart uploads.
        {
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"],
            "Resource": [results],
        },
    ]
    if cfg.batch_inventory_bucket:  # S3 Inventory's manifests and data files
        statements.append(
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": [f"arn:aws:s3:::{cfg.batch_inventory_bucket}/*"],
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def ensure_role(
    aws: Aws,
    cfg: StackConfig,
    role: str,
    policy: dict,
    service: str = "lambda.amazonaws.com",
    trusted: dict | None = None,
) -> str:
    """The role (assumed by `service`, or as `trusted` says) with this policy; its ARN."""
    name = role_name(cfg, role)
    try:
        arn = aws.iam.get_role(RoleName=name)["Role"]["Arn"]
    except aws.iam.exceptions.NoSuchEntityException:
        document = json.dumps(trusted or trust(service))
        arn = aws.iam.create_role(RoleName=name, AssumeRolePolicyDocument=document)["Role"]["Arn"]
        if cfg.target == "aws":
            aws.wait(aws.iam, "role_exists", RoleName=name)
    put_role_policy(aws, cfg, role, policy)
    return arn


def put_role_policy(aws: Aws, cfg: StackConfig, role: str, policy: dict) -> None:
    """The role's policy, replaced whole (so a statement deploy no longer makes is gone too)."""
    name = role_name(cfg, role)
    aws.iam.put_role_policy(RoleName=name, PolicyName=f"{name}-policy", PolicyDocument=json.dumps(policy))


def remove_roles(aws: Aws, cfg: StackConfig, log: Callable[[str], None]) -> None:
    for role in ALL_ROLES:
        name = role_name(cfg, role)
        try:
            aws.iam.get_role(RoleName=name)
        except aws.iam.exceptions.NoSuchEntityException:
            continue
        for policy in aws.iam.list_role_policies(RoleName=name)["PolicyNames"]:
            aws.iam.delete_role_policy(RoleName=name, PolicyName=policy)
        aws.iam.delete_role(RoleName=name)
        log(f"deleted role {name}")
