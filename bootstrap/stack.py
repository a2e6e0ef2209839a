"""The stack, one `ensure_*` function per resource; each is safe to run twice.

One ordered table of steps, DEPLOY_STEPS, drives deploy() and its dry run (plan()): each step
says what it creates (the plan's lines), its progress title, and how it runs, so the plan cannot
say what deploy does not do and step counts come from the table. DESTROY_STEPS does the same for
destroy() and destroy_plan(): what deploy made, in reverse, and nothing else.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from bootstrap import vendor
from bootstrap.site import cloudfront_security_headers
from handlers.api import DEFAULT_PAGE
from handlers.config import (
    DEAD_LETTER_RETENTION_SECONDS,
    EVENT_MAX_AGE_SECONDS,
    MIB,
    PROCESSOR_RETRIES,
    Settings,
)
from handlers.formats import ACCEPTED_CONTENT_TYPES, Limits
from handlers.identity import ADMINS_GROUP, ID_TOKEN_MINUTES, WRITABLE_ATTRIBUTES
from handlers.records import LIST_INDEX, OWNER_INDEX, UNFINISHED_INDEX

FRONTEND = Path(__file__).resolve().parent.parent / "frontend"

STAGE = "v1"
RUNTIME = "python3.12"
API_MEMORY_MB, API_TIMEOUT_S = 512, 15
# The processor's memory is its decode budget (handlers.formats.Limits.max_decode_bytes, checked
# before any pixel is allocated) plus its baseline (60 MiB measured by `make bench`: Python, boto3,
# Powertools, Pillow and its codecs; the Lambda runtime's own share; the upload's bytes in memory
# twice, up to 2 x 25 MiB), plus a margin; `make bench` shows the worst input within limits against
# it. Lambda's CPU grows with memory too.
PROCESSOR_BASELINE_MB, PROCESSOR_MARGIN_MB = 256, 256
# Decoding the worst input within limits takes a few seconds (`make bench`); the timeout leaves
# room for slow S3 and for a cold start, and bounds what a bomb the checks missed can cost.
PROCESSOR_TIMEOUT_S = 60


def processor_memory_mb(limits: Limits) -> int:
    needed = PROCESSOR_BASELINE_MB + limits.max_decode_bytes // MIB + PROCESSOR_MARGIN_MB
    return -(-needed // 64) * 64  # Lambda takes any MB from 128; rounded for a readable number


LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


@dataclass(frozen=True)
class StackConfig:
    target: str  # embedded | localstack | aws
    region: str
    endpoint_url: str | None
    prefix: str = "imagepipe"
    site_origins: tuple[str, ...] = ("http://127.0.0.1:8080", "http://localhost:8080")
    function_env: dict = field(default_factory=dict)  # extra settings for both functions
    throttle_rate: float = 50.0
    throttle_burst: int = 100
    # Reserved concurrency: bombs and bursts cannot use up the account's concurrency. None = the
    # account pool (the embedded emulator dead-letters throttled events instead of retrying).
    processor_concurrency: int | None = None
    # Days an overwritten or deleted original stays recoverable (upload bucket versioning).
    noncurrent_version_days: int = 30
    settings: Settings = field(default_factory=Settings)  # the functions' limits and quotas, for sizing and the page

    @property
    def limits(self) -> Limits:
        return self.settings.limits

    arch: str = "x86_64"  # Lambda architecture: x86_64 | arm64
    # Bucket names are global on AWS: "-<account>-<region>" there, nothing locally.
    bucket_suffix: str = ""
    site_bucket_enabled: bool = False  # the page from a private bucket through CloudFront (AWS target)
    # (access key id, secret) for the provisioner's clients; None: boto3's own chain (environment,
    # profile, role). Local targets get dummy ones when the environment names none.
    credentials: tuple[str, str] | None = field(default=None, repr=False)

    @property
    def upload_bucket(self) -> str:
        return f"{self.prefix}-uploads{self.bucket_suffix}"

    @property
    def processed_bucket(self) -> str:
        return f"{self.prefix}-processed{self.bucket_suffix}"

    @property
    def site_bucket(self) -> str:
        return f"{self.prefix}-site{self.bucket_suffix}"

    @property
    def site_distribution(self) -> str:
        """The CloudFront distribution's Comment: how deploy finds it again (distributions have no name)."""
        return f"{self.prefix} site"

    @property
    def site_headers_policy(self) -> str:
        """The CloudFront response headers policy's name (account-wide: the suffix names the region,
        whose buckets its CSP allows)."""
        return f"{self.prefix}-site-headers{self.bucket_suffix}"

    @property
    def table(self) -> str:
        return f"{self.prefix}-images"

    def function(self, role: str) -> str:
        return f"{self.prefix}-{role}"

    @property
    def api_name(self) -> str:
        return f"{self.prefix}-api"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.prefix}-processor-dlq"

    @property
    def sweep_rule(self) -> str:
        return f"{self.prefix}-sweep"

    @property
    def user_pool(self) -> str:
        return f"{self.prefix}-users"

    @property
    def app_client(self) -> str:
        return f"{self.prefix}-web"

    @property
    def authorizer(self) -> str:
        return f"{self.prefix}-cognito"

    @property
    def auto_confirm(self) -> bool:
        """Local pools confirm sign-ups at once (PreSignUp trigger): no email can be sent there."""
        return self.target != "aws"

    @property
    def cognito_endpoint(self) -> str:
        return self.endpoint_url or f"https://cognito-idp.{self.region}.amazonaws.com"


def session_for(cfg: StackConfig) -> boto3.session.Session:
    """The config's region and credentials, whatever AWS_DEFAULT_REGION says."""
    key, secret = cfg.credentials or (None, None)
    return boto3.session.Session(region_name=cfg.region, aws_access_key_id=key, aws_secret_access_key=secret)


class Aws:
    """Clients for the provisioner, all pointed at the same endpoint."""

    def __init__(self, cfg: StackConfig):
        session = session_for(cfg)
        conf = Config(retries={"mode": "standard", "max_attempts": 8}, s3={"addressing_style": "path"})
        make = lambda name: session.client(name, endpoint_url=cfg.endpoint_url, config=conf)  # noqa: E731
        self.s3, self.dynamodb, self.iam = make("s3"), make("dynamodb"), make("iam")
        self.lambda_, self.apigateway, self.sts = make("lambda"), make("apigateway"), make("sts")
        self.sqs, self.events, self.cognito = make("sqs"), make("events"), make("cognito-idp")
        self.cloudfront = make("cloudfront")
        self.account = self.sts.get_caller_identity()["Account"]


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


# --- buckets ---------------------------------------------------------------


def ensure_bucket(aws: Aws, cfg: StackConfig, name: str) -> None:
    """A bucket with all public access blocked (the page is read through CloudFront's OAC)."""
    try:
        aws.s3.head_bucket(Bucket=name)
    except ClientError as exc:
        if _code(exc) not in ("404", "NoSuchBucket", "NotFound"):
            raise
        params = {"Bucket": name}
        if cfg.region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": cfg.region}
        aws.s3.create_bucket(**params)
        aws.s3.get_waiter("bucket_exists").wait(Bucket=name)
    aws.s3.put_public_access_block(
        Bucket=name,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )


def ensure_upload_versioning(aws: Aws, cfg: StackConfig) -> None:
    """Originals are versioned on every target: the first file posted with a form is the image, and a
    file posted again with it is removed by the processor as its own version, so the original the
    renditions came from is never replaced. On AWS a DELETE (or an overwrite) also stays recoverable
    by the operator for `noncurrent_version_days`, then S3 expires the old version; reconcile rebuilds
    records of restored files."""
    aws.s3.put_bucket_versioning(Bucket=cfg.upload_bucket, VersioningConfiguration={"Status": "Enabled"})
    aws.s3.put_bucket_lifecycle_configuration(
        Bucket=cfg.upload_bucket,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "expire-noncurrent-originals",
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "NoncurrentVersionExpiration": {"NoncurrentDays": cfg.noncurrent_version_days},
                    "Expiration": {"ExpiredObjectDeleteMarker": True},
                }
            ]
        },
    )


def ensure_point_in_time_recovery(aws: Aws, cfg: StackConfig) -> None:
    """AWS: the table can be restored to any second of the last 35 days (and rebuilt from S3)."""
    aws.dynamodb.update_continuous_backups(
        TableName=cfg.table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )


def ensure_upload_cors(aws: Aws, cfg: StackConfig) -> None:
    """Browsers POST straight to the upload bucket from the site's origin."""
    aws.s3.put_bucket_cors(
        Bucket=cfg.upload_bucket,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": list(cfg.site_origins),
                    "AllowedMethods": ["POST"],
                    "AllowedHeaders": ["*"],
                    "ExposeHeaders": ["ETag", "Location"],
                    "MaxAgeSeconds": 600,
                }
            ]
        },
    )


# --- table -----------------------------------------------------------------

# Newest first for the gallery, everyone's (admins) or one person's; oldest first for the sweep.
# All sparse: only images whose file arrived carry listPk/listedKey, only unfinished records
# carry unfinishedPk, only uploads through the API carry owner.
TABLE_INDEXES = {
    LIST_INDEX: ("listPk", "createdKey"),
    OWNER_INDEX: ("owner", "listedKey"),
    UNFINISHED_INDEX: ("unfinishedPk", "createdKey"),
}


def _index(name: str) -> dict:
    partition, sort = TABLE_INDEXES[name]
    return {
        "IndexName": name,
        "Projection": {"ProjectionType": "ALL"},
        "KeySchema": [{"AttributeName": partition, "KeyType": "HASH"}, {"AttributeName": sort, "KeyType": "RANGE"}],
    }


def _attributes(*names: str) -> list[dict]:
    return [{"AttributeName": n, "AttributeType": "S"} for n in sorted(set(names))]


def ensure_table(aws: Aws, cfg: StackConfig, wait: Callable[[float], None] = time.sleep) -> None:
    try:
        table = aws.dynamodb.describe_table(TableName=cfg.table)["Table"]
    except aws.dynamodb.exceptions.ResourceNotFoundException:
        aws.dynamodb.create_table(
            TableName=cfg.table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=_attributes("id", *(a for keys in TABLE_INDEXES.values() for a in keys)),
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[_index(name) for name in TABLE_INDEXES],
        )
        aws.dynamodb.get_waiter("table_exists").wait(TableName=cfg.table)
        table = aws.dynamodb.describe_table(TableName=cfg.table)["Table"]
    have = {i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])}
    for name, keys in TABLE_INDEXES.items():
        if name not in have:  # a table from an earlier version: add the index in place
            aws.dynamodb.update_table(
                TableName=cfg.table,
                AttributeDefinitions=_attributes(*keys),
                GlobalSecondaryIndexUpdates=[{"Create": _index(name)}],
            )
            _wait_for_index(aws, cfg.table, name, wait)
    ttl = aws.dynamodb.describe_time_to_live(TableName=cfg.table)["TimeToLiveDescription"]
    if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
        aws.dynamodb.update_time_to_live(
            TableName=cfg.table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiresAt"}
        )


def _wait_for_index(aws: Aws, table: str, index: str, wait: Callable[[float], None], tries: int = 120) -> None:
    for _ in range(tries):
        indexes = aws.dynamodb.describe_table(TableName=table)["Table"].get("GlobalSecondaryIndexes", [])
        if any(i["IndexName"] == index and i.get("IndexStatus", "ACTIVE") == "ACTIVE" for i in indexes):
            return
        wait(5)
    raise TimeoutError(f"index {index} of {table} not active after {tries * 5} s")


# --- IAM -------------------------------------------------------------------


def function_policies(cfg: StackConfig, account: str, pool_arn: str | None = None) -> dict[str, dict]:
    """Each function's policy names only the actions and resources it uses. The user pool is made
    after the roles (its trigger needs one), so the API's Cognito statement comes with its ARN."""
    table_arn = f"arn:aws:dynamodb:{cfg.region}:{account}:table/{cfg.table}"
    dlq_arn = f"arn:aws:sqs:{cfg.region}:{account}:{cfg.dead_letter_queue}"
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
                # PutItem: records and the tombstones deletes leave; UpdateItem: the quota counters.
                {
                    "Effect": "Allow",
                    "Action": ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"],
                    "Resource": [table_arn, f"{table_arn}/index/{LIST_INDEX}", f"{table_arn}/index/{OWNER_INDEX}"],
                },
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
        "processor": {
            "Version": "2012-10-17",
            "Statement": [
                logs,
                # DeleteItem: the sweep removes records of uploads that never arrived (only if pending).
                {"Effect": "Allow", "Action": ["dynamodb:UpdateItem", "dynamodb:DeleteItem"], "Resource": [table_arn]},
                # The sweep finds unfinished records through their own index.
                {
                    "Effect": "Allow",
                    "Action": ["dynamodb:Query"],
                    "Resource": [f"{table_arn}/index/{UNFINISHED_INDEX}"],
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
                {
                    "Effect": "Allow",
                    "Action": ["s3:PutObject", "s3:DeleteObject"],
                    "Resource": [f"arn:aws:s3:::{cfg.processed_bucket}/*"],
                },
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


def ensure_role(aws: Aws, cfg: StackConfig, role: str, policy: dict) -> str:
    name = f"{cfg.function(role)}-role"
    try:
        arn = aws.iam.get_role(RoleName=name)["Role"]["Arn"]
    except aws.iam.exceptions.NoSuchEntityException:
        arn = aws.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))["Role"]["Arn"]
        if cfg.target == "aws":
            aws.iam.get_waiter("role_exists").wait(RoleName=name)
    aws.iam.put_role_policy(RoleName=name, PolicyName=f"{name}-policy", PolicyDocument=json.dumps(policy))
    return arn


# --- functions -------------------------------------------------------------


def function_environment(cfg: StackConfig, **extra: str) -> dict:
    env = {
        "UPLOAD_BUCKET": cfg.upload_bucket,
        "PROCESSED_BUCKET": cfg.processed_bucket,
        "TABLE_NAME": cfg.table,
        "ALLOWED_ORIGINS": ",".join(cfg.site_origins),
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }
    env.update({k: str(v) for k, v in cfg.function_env.items()})
    return env | extra


def ensure_function(
    aws: Aws,
    cfg: StackConfig,
    role: str,
    role_arn: str,
    zip_path: Path,
    handler: str,
    memory: int,
    timeout: int,
    env: dict | None = None,
) -> str:
    name = cfg.function(role)
    code = zip_path.read_bytes()
    sha = base64.b64encode(hashlib.sha256(code).digest()).decode()
    settings = dict(
        Role=role_arn,
        Handler=handler,
        Runtime=RUNTIME,
        MemorySize=memory,
        Timeout=timeout,
        Environment={"Variables": env or function_environment(cfg)},
    )
    try:
        current = aws.lambda_.get_function(FunctionName=name)["Configuration"]
    except aws.lambda_.exceptions.ResourceNotFoundException:
        arn = create_function_when_role_is_ready(
            aws, dict(FunctionName=name, Code={"ZipFile": code}, Publish=False, Architectures=[cfg.arch], **settings)
        )
        aws.lambda_.get_waiter("function_active_v2").wait(FunctionName=name)
        return arn
    if current.get("CodeSha256") != sha or current.get("Architectures", [cfg.arch]) != [cfg.arch]:
        aws.lambda_.update_function_code(FunctionName=name, ZipFile=code, Architectures=[cfg.arch])
        aws.lambda_.get_waiter("function_updated_v2").wait(FunctionName=name)
    have = {k: current.get(k) for k in settings}
    have["Environment"] = {"Variables": (current.get("Environment") or {}).get("Variables", {})}
    if have != settings:
        aws.lambda_.update_function_configuration(FunctionName=name, **settings)
        aws.lambda_.get_waiter("function_updated_v2").wait(FunctionName=name)
    return current["FunctionArn"]


def create_function_when_role_is_ready(
    aws: Aws, params: dict, wait: Callable[[float], None] = time.sleep, tries: int = 8
) -> str:
    """A role IAM has just created takes seconds before Lambda may assume it (IAM is eventually
    consistent): retry exactly that refusal, with growing waits (1 + 2 + ... + 7 s, 28 s in all
    with the default 8 tries), instead of sleeping a fixed time on every new role."""
    for attempt in range(1, tries + 1):
        try:
            return aws.lambda_.create_function(**params)["FunctionArn"]
        except aws.lambda_.exceptions.InvalidParameterValueException as exc:
            if "cannot be assumed" not in str(exc) or attempt == tries:
                raise
            wait(attempt)
    raise AssertionError("unreachable")


def ensure_invoke_permission(aws: Aws, function: str, sid: str, principal: str, source_arn: str) -> None:
    try:
        policy = json.loads(aws.lambda_.get_policy(FunctionName=function)["Policy"])
        if any(s.get("Sid") == sid for s in policy.get("Statement", [])):
            return
    except aws.lambda_.exceptions.ResourceNotFoundException:
        pass
    params = dict(
        FunctionName=function,
        StatementId=sid,
        Action="lambda:InvokeFunction",
        Principal=principal,
        SourceArn=source_arn,
    )
    if principal == "s3.amazonaws.com":
        params["SourceAccount"] = aws.account
    try:
        aws.lambda_.add_permission(**params)
    except aws.lambda_.exceptions.ResourceConflictException:
        pass


def ensure_upload_notification(aws: Aws, cfg: StackConfig, processor_arn: str) -> None:
    """Every object created in the upload bucket invokes the processor."""
    ensure_invoke_permission(
        aws, cfg.function("processor"), "s3-invoke", "s3.amazonaws.com", f"arn:aws:s3:::{cfg.upload_bucket}"
    )
    aws.s3.put_bucket_notification_configuration(
        Bucket=cfg.upload_bucket,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {
                    "Id": "process-uploads",
                    "LambdaFunctionArn": processor_arn,
                    "Events": ["s3:ObjectCreated:*"],
                }
            ]
        },
    )


# --- nothing lost: retries, dead letters, sweep ------------------------------


def ensure_dead_letter_queue(aws: Aws, cfg: StackConfig) -> str:
    url = aws.sqs.create_queue(
        QueueName=cfg.dead_letter_queue,  # idempotent for the same attributes
        Attributes={"MessageRetentionPeriod": str(DEAD_LETTER_RETENTION_SECONDS)},
    )["QueueUrl"]
    return aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def ensure_processor_retries(aws: Aws, cfg: StackConfig, dlq_arn: str, log: Callable[[str], None] = print) -> None:
    """Asynchronous invocations (S3 events) retry, then land in the dead-letter queue."""
    aws.lambda_.put_function_event_invoke_config(
        FunctionName=cfg.function("processor"),
        MaximumRetryAttempts=PROCESSOR_RETRIES,  # the processor's MAX_ATTEMPTS counts these
        MaximumEventAgeInSeconds=EVENT_MAX_AGE_SECONDS,
        DestinationConfig={"OnFailure": {"Destination": dlq_arn}},
    )
    if cfg.processor_concurrency:
        ensure_reserved_concurrency(aws, cfg.function("processor"), cfg.processor_concurrency, log)


# AWS refuses a reservation that leaves the account fewer unreserved executions than this.
MIN_UNRESERVED = 100


def ensure_reserved_concurrency(aws: Aws, function: str, wanted: int, log: Callable[[str], None] = print) -> None:
    current = aws.lambda_.get_function_concurrency(FunctionName=function).get("ReservedConcurrentExecutions")
    if current == wanted:
        return
    unreserved = aws.lambda_.get_account_settings()["AccountLimit"].get("UnreservedConcurrentExecutions")
    if unreserved is not None and unreserved + (current or 0) - wanted < MIN_UNRESERVED:
        # New accounts start with 10 executions in all: nothing can be reserved there until AWS
        # raises the quota. Deploy anyway, and say so.
        log(
            f"WARNING: reserved concurrency {wanted} for {function} not set: the account has {unreserved}"
            f" unreserved executions and AWS keeps {MIN_UNRESERVED}; ask AWS for a higher quota"
        )
        return
    aws.lambda_.put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=wanted)


def ensure_sweep_schedule(aws: Aws, cfg: StackConfig, processor_arn: str) -> None:
    """Every 5 minutes the processor re-drives records stuck in pending/processing."""
    rule_arn = aws.events.put_rule(
        Name=cfg.sweep_rule,
        ScheduleExpression="rate(5 minutes)",
        State="ENABLED",
        Description="imagepipe: re-drive stuck uploads",
    )["RuleArn"]
    ensure_invoke_permission(aws, cfg.function("processor"), "events-sweep", "events.amazonaws.com", rule_arn)
    aws.events.put_targets(
        Rule=cfg.sweep_rule,
        Targets=[{"Id": "processor", "Arn": processor_arn, "Input": json.dumps({"action": "sweep"})}],
    )


# --- REST API --------------------------------------------------------------

# --- identity: Cognito user pool ----------------------------------------------

PASSWORD_POLICY = {  # length, not composition rules (NIST SP 800-63B); Cognito wants each flag said
    "MinimumLength": 10,
    "RequireUppercase": False,
    "RequireLowercase": False,
    "RequireNumbers": False,
    "RequireSymbols": False,
    "TemporaryPasswordValidityDays": 7,
}


def user_pool_id(aws: Aws, cfg: StackConfig) -> str | None:
    """The stack's user pool, found by its name (pool ids are made by Cognito)."""
    pages = aws.cognito.get_paginator("list_user_pools").paginate(MaxResults=60)
    return next((p["Id"] for page in pages for p in page["UserPools"] if p["Name"] == cfg.user_pool), None)


def ensure_user_pool(aws: Aws, cfg: StackConfig, presignup_arn: str | None) -> tuple[str, str]:
    """Email is the username; on AWS Cognito verifies it with a code, locally PreSignUp confirms."""
    settings = dict(
        Policies={"PasswordPolicy": PASSWORD_POLICY},
        AutoVerifiedAttributes=["email"],
        LambdaConfig={"PreSignUp": presignup_arn} if presignup_arn else {},
        AccountRecoverySetting={"RecoveryMechanisms": [{"Priority": 1, "Name": "verified_email"}]},
        # A changed email is used (in tokens, as an image's owner) only once verified.
        UserAttributeUpdateSettings={"AttributesRequireVerificationBeforeUpdate": ["email"]},
    )
    pool_id = user_pool_id(aws, cfg)
    if pool_id is None:
        pool_id = aws.cognito.create_user_pool(
            PoolName=cfg.user_pool,
            UsernameAttributes=["email"],
            UsernameConfiguration={"CaseSensitive": False},
            **settings,
        )["UserPool"]["Id"]
    else:
        aws.cognito.update_user_pool(UserPoolId=pool_id, **settings)
    arn = aws.cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]["Arn"]
    if presignup_arn:
        ensure_invoke_permission(aws, cfg.function("presignup"), "cognito-presignup", "cognito-idp.amazonaws.com", arn)
    return pool_id, arn


def ensure_app_client(aws: Aws, cfg: StackConfig, pool_id: str) -> str:
    """The page's client: public (no secret), password and refresh flows (SRP too, for AWS's own
    libraries), revocable refresh tokens, one-hour ID tokens."""
    settings = dict(
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH"],
        EnableTokenRevocation=True,
        PreventUserExistenceErrors="ENABLED",
        IdTokenValidity=ID_TOKEN_MINUTES,  # the API refuses a token that claims to live longer
        AccessTokenValidity=60,
        RefreshTokenValidity=30,
        TokenValidityUnits={"IdToken": "minutes", "AccessToken": "minutes", "RefreshToken": "days"},
        # What the page may write about a person: their email, nothing else (never sub or a group).
        WriteAttributes=list(WRITABLE_ATTRIBUTES),
    )
    client_id = next(
        (
            c["ClientId"]
            for page in aws.cognito.get_paginator("list_user_pool_clients").paginate(UserPoolId=pool_id, MaxResults=60)
            for c in page["UserPoolClients"]
            if c["ClientName"] == cfg.app_client
        ),
        None,
    )
    if client_id is None:
        return aws.cognito.create_user_pool_client(
            UserPoolId=pool_id, ClientName=cfg.app_client, GenerateSecret=False, **settings
        )["UserPoolClient"]["ClientId"]
    aws.cognito.update_user_pool_client(UserPoolId=pool_id, ClientId=client_id, ClientName=cfg.app_client, **settings)
    return client_id


def ensure_admins_group(aws: Aws, pool_id: str) -> None:
    try:
        aws.cognito.create_group(
            UserPoolId=pool_id, GroupName=ADMINS_GROUP, Description="imagepipe moderators: see and delete every image"
        )
    except aws.cognito.exceptions.GroupExistsException:
        pass


def find_user_pool(aws: Aws, cfg: StackConfig) -> tuple[str, str] | None:
    """(pool id, app client id) of the deployed stack, or None."""
    pool_id = user_pool_id(aws, cfg)
    if pool_id is None:
        return None
    clients = aws.cognito.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
    return pool_id, next((c["ClientId"] for c in clients if c["ClientName"] == cfg.app_client), "")


def create_user(aws: Aws, pool_id: str, email: str, password: str, admin: bool = False) -> None:
    """A confirmed user with this password (set again if the user exists), for scripts and demos."""
    try:
        aws.cognito.admin_create_user(
            UserPoolId=pool_id,
            Username=email,
            MessageAction="SUPPRESS",
            UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}],
        )
    except aws.cognito.exceptions.UsernameExistsException:
        pass
    aws.cognito.admin_set_user_password(UserPoolId=pool_id, Username=email, Password=password, Permanent=True)
    if admin:
        aws.cognito.admin_add_user_to_group(UserPoolId=pool_id, Username=email, GroupName=ADMINS_GROUP)


# --- REST API --------------------------------------------------------------

# API Gateway's own refusals (a bad token, throttling) in the API's error shape, readable by the
# page: CORS headers echo the caller's origin (these bodies hold nothing but the refusal).
GATEWAY_ERRORS = {
    "UNAUTHORIZED": "unauthorized",
    "ACCESS_DENIED": "forbidden",
    "THROTTLED": "throttled",
    "DEFAULT_4XX": "bad_request",
    "DEFAULT_5XX": "gateway_error",
}


def ensure_authorizer(aws: Aws, cfg: StackConfig, api_id: str, pool_arn: str) -> str:
    """Every route needs a valid ID token of the pool (Authorization header, raw or Bearer)."""
    existing = next(
        (
            a
            for a in aws.apigateway.get_authorizers(restApiId=api_id, limit=500)["items"]
            if a["name"] == cfg.authorizer
        ),
        None,
    )
    if existing is None:
        return aws.apigateway.create_authorizer(
            restApiId=api_id,
            name=cfg.authorizer,
            type="COGNITO_USER_POOLS",
            providerARNs=[pool_arn],
            identitySource="method.request.header.Authorization",
        )["id"]
    if existing.get("providerARNs") != [pool_arn]:
        aws.apigateway.update_authorizer(
            restApiId=api_id,
            authorizerId=existing["id"],
            patchOperations=[{"op": "replace", "path": "/providerARNs/0", "value": pool_arn}],
        )
    return existing["id"]


def ensure_method(aws: Aws, api_id: str, resource: dict, http_method: str, uri: str, authorizer_id: str | None) -> None:
    auth = (
        {"authorizationType": "COGNITO_USER_POOLS", "authorizerId": authorizer_id}
        if authorizer_id
        else {"authorizationType": "NONE"}
    )
    current = (resource.get("resourceMethods") or {}).get(http_method)
    if current is None:
        aws.apigateway.put_method(restApiId=api_id, resourceId=resource["id"], httpMethod=http_method, **auth)
    else:
        method = aws.apigateway.get_method(restApiId=api_id, resourceId=resource["id"], httpMethod=http_method)
        if method.get("authorizationType") != auth["authorizationType"] or method.get("authorizerId") != authorizer_id:
            aws.apigateway.update_method(
                restApiId=api_id,
                resourceId=resource["id"],
                httpMethod=http_method,
                patchOperations=[{"op": "replace", "path": f"/{k}", "value": v} for k, v in auth.items()],
            )
    aws.apigateway.put_integration(
        restApiId=api_id,
        resourceId=resource["id"],
        httpMethod=http_method,
        type="AWS_PROXY",
        integrationHttpMethod="POST",
        uri=uri,
    )


def ensure_rest_api(aws: Aws, cfg: StackConfig, api_function_arn: str, pool_arn: str) -> str:
    """A REST API whose every path and method goes to the API function (Lambda proxy), behind the
    Cognito authorizer; only CORS preflights (OPTIONS) pass without a token."""
    api_id = next(
        (
            a["id"]
            for page in aws.apigateway.get_paginator("get_rest_apis").paginate()
            for a in page["items"]
            if a["name"] == cfg.api_name
        ),
        None,
    )
    if api_id is None:
        api_id = aws.apigateway.create_rest_api(
            name=cfg.api_name, description="imagepipe API", endpointConfiguration={"types": ["REGIONAL"]}
        )["id"]
    resources = {r["path"]: r for r in aws.apigateway.get_resources(restApiId=api_id, limit=500)["items"]}
    if "/{proxy+}" not in resources:
        created = aws.apigateway.create_resource(restApiId=api_id, parentId=resources["/"]["id"], pathPart="{proxy+}")
        resources["/{proxy+}"] = created
    authorizer_id = ensure_authorizer(aws, cfg, api_id, pool_arn)
    uri = f"arn:aws:apigateway:{cfg.region}:lambda:path/2015-03-31/functions/{api_function_arn}/invocations"
    for path in ("/", "/{proxy+}"):
        ensure_method(aws, api_id, resources[path], "ANY", uri, authorizer_id)
        ensure_method(aws, api_id, resources[path], "OPTIONS", uri, None)  # browsers send no token there
    for response_type, code in GATEWAY_ERRORS.items():
        aws.apigateway.put_gateway_response(
            restApiId=api_id,
            responseType=response_type,
            responseParameters={
                "gatewayresponse.header.Access-Control-Allow-Origin": "method.request.header.Origin",
                "gatewayresponse.header.Vary": "'Origin'",
            },
            responseTemplates={
                "application/json": '{"error": {"code": "' + code + '", "message": $context.error.messageString}}'
            },
        )
    ensure_invoke_permission(
        aws,
        cfg.function("api"),
        "apigateway-invoke",
        "apigateway.amazonaws.com",
        f"arn:aws:execute-api:{cfg.region}:{aws.account}:{api_id}/*/*",
    )
    aws.apigateway.create_deployment(restApiId=api_id, stageName=STAGE, description="bootstrap")
    aws.apigateway.update_stage(
        restApiId=api_id,
        stageName=STAGE,
        patchOperations=[
            {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": str(cfg.throttle_rate)},
            {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": str(cfg.throttle_burst)},
        ],
    )
    return api_id


def api_url(cfg: StackConfig, api_id: str) -> str:
    if cfg.endpoint_url:
        return f"{cfg.endpoint_url.rstrip('/')}/_aws/execute-api/{api_id}/{STAGE}"
    return f"https://{api_id}.execute-api.{cfg.region}.amazonaws.com/{STAGE}"


# --- the page over HTTPS: a private bucket behind CloudFront (AWS target) -----------------

SITE_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"  # AWS's managed cache policy


def ensure_origin_access_control(aws: Aws, cfg: StackConfig) -> str:
    name = f"{cfg.prefix}-site-oac"
    found = next(
        (
            o["Id"]
            for o in aws.cloudfront.list_origin_access_controls().get("OriginAccessControlList", {}).get("Items", [])
            if o["Name"] == name
        ),
        None,
    )
    return (
        found
        or aws.cloudfront.create_origin_access_control(
            OriginAccessControlConfig={
                "Name": name,
                "Description": "imagepipe: CloudFront reads the private site bucket",
                "SigningProtocol": "sigv4",
                "SigningBehavior": "always",
                "OriginAccessControlOriginType": "s3",
            }
        )["OriginAccessControl"]["Id"]
    )


def find_site_distribution(aws: Aws, cfg: StackConfig) -> dict | None:
    for page in aws.cloudfront.get_paginator("list_distributions").paginate():
        for item in page.get("DistributionList", {}).get("Items", []):
            if item.get("Comment") == cfg.site_distribution:
                return item
    return None


def ensure_site_distribution(aws: Aws, cfg: StackConfig) -> tuple[str, str]:
    """HTTPS for the page: CloudFront in front of the private site bucket, which it reads with an
    origin access control (the bucket allows this distribution only). Returns (ARN, https URL)."""
    ensure_bucket(aws, cfg, cfg.site_bucket)  # private, public access blocked like the others
    found = find_site_distribution(aws, cfg)
    if found is None:
        found = aws.cloudfront.create_distribution(
            DistributionConfig={
                "CallerReference": f"{cfg.prefix}-site-{cfg.bucket_suffix}",
                "Comment": cfg.site_distribution,
                "Enabled": True,
                "DefaultRootObject": "index.html",
                "PriceClass": "PriceClass_100",
                "HttpVersion": "http2and3",
                "Origins": {
                    "Quantity": 1,
                    "Items": [
                        {
                            "Id": "site",
                            "DomainName": f"{cfg.site_bucket}.s3.{cfg.region}.amazonaws.com",
                            "S3OriginConfig": {"OriginAccessIdentity": ""},
                            "OriginAccessControlId": ensure_origin_access_control(aws, cfg),
                        }
                    ],
                },
                "DefaultCacheBehavior": {
                    "TargetOriginId": "site",
                    "ViewerProtocolPolicy": "redirect-to-https",
                    "CachePolicyId": CACHING_OPTIMIZED,
                    "Compress": True,
                    "AllowedMethods": {
                        "Quantity": 2,
                        "Items": ["GET", "HEAD"],
                        "CachedMethods": {"Quantity": 2, "Items": ["GET", "HEAD"]},
                    },
                },
            }
        )["Distribution"]
    aws.s3.put_bucket_policy(
        Bucket=cfg.site_bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "CloudFrontReadsTheSite",
                        "Effect": "Allow",
                        "Principal": {"Service": "cloudfront.amazonaws.com"},
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{cfg.site_bucket}/*",
                        "Condition": {"StringEquals": {"AWS:SourceArn": found["ARN"]}},
                    }
                ],
            }
        ),
    )
    return found["ARN"], f"https://{found['DomainName']}"


def find_site_headers_policy(aws: Aws, cfg: StackConfig) -> str | None:
    marker = None
    while True:
        page = {"Marker": marker} if marker else {}
        listed = aws.cloudfront.list_response_headers_policies(Type="custom", **page)["ResponseHeadersPolicyList"]
        for item in listed.get("Items", []):
            policy = item["ResponseHeadersPolicy"]
            if policy["ResponseHeadersPolicyConfig"]["Name"] == cfg.site_headers_policy:
                return policy["Id"]
        marker = listed.get("NextMarker")
        if not marker:
            return None


def ensure_site_headers(aws: Aws, cfg: StackConfig, outputs: dict) -> str:
    """The page's security headers (bootstrap/site.py, from the stack's outputs: the devserver
    sends the same) as a response headers policy, created or brought up to date by name, and
    attached to the distribution's default cache behavior. Returns the policy's Id."""
    wanted = {
        "Name": cfg.site_headers_policy,
        "Comment": "imagepipe: the page's CSP and security headers (bootstrap/site.py)",
        "SecurityHeadersConfig": cloudfront_security_headers(outputs),
    }
    policy_id = find_site_headers_policy(aws, cfg)
    if policy_id is None:
        created = aws.cloudfront.create_response_headers_policy(ResponseHeadersPolicyConfig=wanted)
        policy_id = created["ResponseHeadersPolicy"]["Id"]
    else:
        current = aws.cloudfront.get_response_headers_policy_config(Id=policy_id)
        config = current["ResponseHeadersPolicyConfig"]
        if any(config.get(k) != v for k, v in wanted.items()):  # a new API or bucket origin
            aws.cloudfront.update_response_headers_policy(
                Id=policy_id, IfMatch=current["ETag"], ResponseHeadersPolicyConfig=wanted
            )
    distribution = find_site_distribution(aws, cfg)
    if distribution is None:
        raise RuntimeError(f"no CloudFront distribution '{cfg.site_distribution}' to attach the headers to")
    current = aws.cloudfront.get_distribution_config(Id=distribution["Id"])
    config = current["DistributionConfig"]
    if config["DefaultCacheBehavior"].get("ResponseHeadersPolicyId") != policy_id:
        config["DefaultCacheBehavior"]["ResponseHeadersPolicyId"] = policy_id
        aws.cloudfront.update_distribution(Id=distribution["Id"], IfMatch=current["ETag"], DistributionConfig=config)
    return policy_id


def check_vendored(frontend: Path) -> None:
    """The page's pinned third-party code (git-ignored) must be there before the page is published."""
    absent = vendor.missing(frontend / "vendor")
    if absent:
        raise vendor.VendorError(
            f"{', '.join(absent)}: missing or not the pinned file; run `make vendor` "
            "(python -m bootstrap.vendor) before deploying the site"
        )


def publish_site(aws: Aws, cfg: StackConfig, frontend: Path, config: dict) -> None:
    """The frontend/ files and config.json into the site bucket; no-cache, so a redeploy shows at once."""
    for path in sorted(p for p in frontend.rglob("*") if p.is_file()):
        aws.s3.put_object(
            Bucket=cfg.site_bucket,
            Key=path.relative_to(frontend).as_posix(),
            Body=path.read_bytes(),
            ContentType=SITE_CONTENT_TYPES.get(path.suffix, "application/octet-stream"),
            CacheControl="no-cache",
        )
    aws.s3.put_object(
        Bucket=cfg.site_bucket,
        Key="config.json",
        Body=json.dumps(config).encode(),
        ContentType="application/json",
        CacheControl="no-cache",
    )


def remove_site_distribution(
    aws: Aws, cfg: StackConfig, log: Callable[[str], None], wait: Callable[[float], None] = time.sleep
) -> None:
    """Disable, wait until CloudFront has deployed that (minutes on AWS), delete; then the OAC and the
    response headers policy, which CloudFront keeps while a distribution uses them."""
    found = find_site_distribution(aws, cfg)
    if found is not None:
        current = aws.cloudfront.get_distribution_config(Id=found["Id"])
        if current["DistributionConfig"]["Enabled"]:
            log(f"disabling CloudFront distribution {found['Id']} (AWS takes minutes to deploy that)")
            config = current["DistributionConfig"] | {"Enabled": False}
            current = aws.cloudfront.update_distribution(
                Id=found["Id"], IfMatch=current["ETag"], DistributionConfig=config
            )
        aws.cloudfront.get_waiter("distribution_deployed").wait(
            Id=found["Id"], WaiterConfig={"Delay": 20, "MaxAttempts": 90}
        )
        etag = aws.cloudfront.get_distribution(Id=found["Id"])["ETag"]
        aws.cloudfront.delete_distribution(Id=found["Id"], IfMatch=etag)
        log(f"deleted CloudFront distribution {found['Id']}")
    for oac in aws.cloudfront.list_origin_access_controls().get("OriginAccessControlList", {}).get("Items", []):
        if oac["Name"] == f"{cfg.prefix}-site-oac":
            etag = aws.cloudfront.get_origin_access_control(Id=oac["Id"])["ETag"]
            aws.cloudfront.delete_origin_access_control(Id=oac["Id"], IfMatch=etag)
            log(f"deleted origin access control {oac['Name']}")
    policy_id = find_site_headers_policy(aws, cfg)  # once no distribution uses it
    if policy_id is not None:
        etag = aws.cloudfront.get_response_headers_policy(Id=policy_id)["ETag"]
        aws.cloudfront.delete_response_headers_policy(Id=policy_id, IfMatch=etag)
        log(f"deleted response headers policy {cfg.site_headers_policy}")


# --- the whole stack ---------------------------------------------------------


def site_config(cfg: StackConfig, api_url_: str, pool_id: str, client_id: str) -> dict:
    """The page's config.json, on every target: what it needs to sign in and to check files
    against the server's own limits before sending them."""
    return {
        "apiUrl": api_url_,
        "maxBytes": cfg.limits.max_bytes,
        "pageSize": DEFAULT_PAGE,
        "acceptedTypes": sorted(ACCEPTED_CONTENT_TYPES),
        "auth": {
            "region": cfg.region,
            "userPoolId": pool_id,
            "clientId": client_id,
            "endpoint": cfg.cognito_endpoint,
            "confirmSignUp": not cfg.auto_confirm,
            "passwordMinLength": PASSWORD_POLICY["MinimumLength"],
        },
        "quota": {"uploadsPerDay": cfg.settings.quota.uploads_per_day, "bytes": cfg.settings.quota.bytes},
    }


def always(cfg: StackConfig) -> bool:
    return True


def nothing_to_check(cfg: StackConfig) -> None:
    return None


def with_site(cfg: StackConfig) -> bool:
    return cfg.site_bucket_enabled


def protects_data(cfg: StackConfig) -> bool:
    """AWS only: point-in-time recovery of the table (locally the emulator's disk is the backup)."""
    return cfg.target == "aws"


def function_roles(cfg: StackConfig) -> tuple[str, ...]:
    """The functions deploy makes, each with its own role: the PreSignUp trigger on local pools only."""
    return ("api", "processor", *(("presignup",) if cfg.auto_confirm else ()))


@dataclass
class Deployment:
    """What one deploy carries from step to step: the clients, the config (the site step adds
    the CloudFront origin to it, for CORS), the code, and what earlier steps made."""

    aws: Aws
    cfg: StackConfig
    zip_path: Path
    log: Callable[[str], None] = print
    site_url: str | None = None
    roles: dict[str, str] = field(default_factory=dict)  # role -> role ARN
    pool_id: str = ""
    pool_arn: str = ""
    client_id: str = ""
    api_arn: str = ""
    processor_arn: str = ""
    api_id: str = ""


@dataclass(frozen=True)
class Step:
    """One deploy step: its progress title, what it creates or updates (the dry run's lines), how
    it runs, and for which configs. Every chosen step's `check` runs before any step runs."""

    title: Callable[[StackConfig], str]
    describe: Callable[[StackConfig], list[str]]
    run: Callable[[Deployment], None]
    when: Callable[[StackConfig], bool] = always
    check: Callable[[StackConfig], None] = nothing_to_check


def _site(d: Deployment) -> None:
    _, d.site_url = ensure_site_distribution(d.aws, d.cfg)
    d.cfg = dataclasses.replace(d.cfg, site_origins=(d.site_url, *d.cfg.site_origins))


def _describe_site(cfg: StackConfig) -> list[str]:
    return [
        f"S3 bucket {cfg.site_bucket} (private) behind CloudFront distribution '{cfg.site_distribution}'"
        " (HTTPS, redirect from HTTP; read through an origin access control); its"
        " https://<id>.cloudfront.net origin is the one CORS names"
    ]


def _buckets(d: Deployment) -> None:
    ensure_bucket(d.aws, d.cfg, d.cfg.upload_bucket)
    ensure_bucket(d.aws, d.cfg, d.cfg.processed_bucket)
    ensure_upload_cors(d.aws, d.cfg)
    ensure_upload_versioning(d.aws, d.cfg)


def _describe_buckets(cfg: StackConfig) -> list[str]:
    origins = ", ".join(cfg.site_origins) or "the site"
    versions = f"; versioned, old versions expire after {cfg.noncurrent_version_days} days"
    return [
        f"S3 bucket {cfg.upload_bucket} (private, CORS POST from {origins}{versions})",
        f"S3 bucket {cfg.processed_bucket} (private)",
    ]


def _table(d: Deployment) -> None:
    ensure_table(d.aws, d.cfg)
    if protects_data(d.cfg):
        ensure_point_in_time_recovery(d.aws, d.cfg)


def _describe_table(cfg: StackConfig) -> list[str]:
    return [
        f"DynamoDB table {cfg.table} (on demand, indexes {', '.join(TABLE_INDEXES)}, TTL on expiresAt;"
        f" per-person quota counters{'; point-in-time recovery' if protects_data(cfg) else ''})"
    ]


def _roles(d: Deployment) -> None:
    policies = function_policies(d.cfg, d.aws.account)
    d.roles = {role: ensure_role(d.aws, d.cfg, role, policies[role]) for role in function_roles(d.cfg)}


def _identity(d: Deployment) -> None:
    presignup_arn = (
        ensure_function(
            d.aws, d.cfg, "presignup", d.roles["presignup"], d.zip_path, "handlers.presignup.handler", 128, 5
        )
        if d.cfg.auto_confirm
        else None
    )
    d.pool_id, d.pool_arn = ensure_user_pool(d.aws, d.cfg, presignup_arn)
    if presignup_arn:  # the trigger asks the pool about users: its policy names the pool, known now
        ensure_role(d.aws, d.cfg, "presignup", function_policies(d.cfg, d.aws.account, d.pool_arn)["presignup"])
    d.client_id = ensure_app_client(d.aws, d.cfg, d.pool_id)
    ensure_admins_group(d.aws, d.pool_id)


def _describe_identity(cfg: StackConfig) -> list[str]:
    confirmation = (
        f"sign-ups confirmed by a PreSignUp trigger, Lambda {cfg.function('presignup')}"
        if cfg.auto_confirm
        else "email verified with a code"
    )
    return [
        f"Cognito user pool {cfg.user_pool} (email usernames, passwords of 10+ characters, {confirmation}),"
        f" app client {cfg.app_client} (no secret; password, refresh and SRP flows), group {ADMINS_GROUP}"
    ]


def api_environment(cfg: StackConfig, pool_id: str, client_id: str) -> dict:
    """The API's settings: the shared ones, and the pool and app client whose ID tokens it accepts."""
    return function_environment(cfg, USER_POOL_ID=pool_id, USER_POOL_CLIENT_ID=client_id)


def _api_function(d: Deployment) -> None:
    ensure_role(d.aws, d.cfg, "api", function_policies(d.cfg, d.aws.account, d.pool_arn)["api"])
    d.api_arn = ensure_function(
        d.aws,
        d.cfg,
        "api",
        d.roles["api"],
        d.zip_path,
        "handlers.api.handler",
        API_MEMORY_MB,
        API_TIMEOUT_S,
        env=api_environment(d.cfg, d.pool_id, d.client_id),
    )


def _processor_function(d: Deployment) -> None:
    d.processor_arn = ensure_function(
        d.aws,
        d.cfg,
        "processor",
        d.roles["processor"],
        d.zip_path,
        "handlers.processor.handler",
        processor_memory_mb(d.cfg.limits),
        PROCESSOR_TIMEOUT_S,
    )


def _describe_processor(cfg: StackConfig) -> list[str]:
    return [
        f"Lambda {cfg.function('processor')} ({RUNTIME}, {cfg.arch}, {processor_memory_mb(cfg.limits)} MB for a"
        f" {cfg.limits.max_decode_bytes // MIB} MiB decode budget, {PROCESSOR_TIMEOUT_S} s, reserved concurrency"
        f" {cfg.processor_concurrency or 'none'})"
    ]


def _nothing_lost(d: Deployment) -> None:
    ensure_processor_retries(d.aws, d.cfg, ensure_dead_letter_queue(d.aws, d.cfg), d.log)
    ensure_sweep_schedule(d.aws, d.cfg, d.processor_arn)


def _rest_api(d: Deployment) -> None:
    d.api_id = ensure_rest_api(d.aws, d.cfg, d.api_arn, d.pool_arn)


def _site_headers(d: Deployment) -> None:
    ensure_site_headers(d.aws, d.cfg, deployment_outputs(d))


def _publish(d: Deployment) -> None:
    publish_site(d.aws, d.cfg, FRONTEND, site_config(d.cfg, api_url(d.cfg, d.api_id), d.pool_id, d.client_id))


# In the order deploy runs them. First on AWS: the page's HTTPS origin, which CORS (upload
# bucket, API) must name; the page itself last, once its config.json is known.
DEPLOY_STEPS: tuple[Step, ...] = (
    Step(
        title=lambda cfg: f"site bucket {cfg.site_bucket} behind CloudFront",
        describe=_describe_site,
        run=_site,
        when=with_site,
        check=lambda cfg: check_vendored(FRONTEND),  # before anything is created
    ),
    Step(
        title=lambda cfg: f"buckets {cfg.upload_bucket}, {cfg.processed_bucket}",
        describe=_describe_buckets,
        run=_buckets,
    ),
    Step(title=lambda cfg: f"table {cfg.table}", describe=_describe_table, run=_table),
    Step(
        title=lambda cfg: "roles",
        describe=lambda cfg: [
            ", ".join(f"IAM role {cfg.function(role)}-role" for role in function_roles(cfg)) + " (least privilege)"
        ],
        run=_roles,
    ),
    Step(
        title=lambda cfg: f"user pool {cfg.user_pool}, app client {cfg.app_client}, group {ADMINS_GROUP}",
        describe=_describe_identity,
        run=_identity,
    ),
    Step(
        title=lambda cfg: f"function {cfg.function('api')}",
        describe=lambda cfg: [
            f"Lambda {cfg.function('api')} ({RUNTIME}, {cfg.arch}, {API_MEMORY_MB} MB, {API_TIMEOUT_S} s)"
        ],
        run=_api_function,
    ),
    Step(
        title=lambda cfg: f"function {cfg.function('processor')}",
        describe=_describe_processor,
        run=_processor_function,
    ),
    Step(
        title=lambda cfg: f"retries, dead-letter queue {cfg.dead_letter_queue}, sweep schedule",
        describe=lambda cfg: [
            f"SQS queue {cfg.dead_letter_queue}; processor async retries {PROCESSOR_RETRIES}, then the queue",
            f"EventBridge rule {cfg.sweep_rule} (rate 5 minutes) -> {cfg.function('processor')}",
        ],
        run=_nothing_lost,
    ),
    Step(
        title=lambda cfg: f"S3 notification {cfg.upload_bucket} -> {cfg.function('processor')}",
        describe=lambda cfg: [f"S3 notification {cfg.upload_bucket} ObjectCreated -> {cfg.function('processor')}"],
        run=lambda d: ensure_upload_notification(d.aws, d.cfg, d.processor_arn),
    ),
    Step(
        title=lambda cfg: f"REST API {cfg.api_name}, stage {STAGE}, Cognito authorizer",
        describe=lambda cfg: [
            f"API Gateway REST API {cfg.api_name}, stage {STAGE}, Cognito authorizer on every route (OPTIONS open"
            f" for CORS), throttle {cfg.throttle_rate}/s burst {cfg.throttle_burst}"
        ],
        run=_rest_api,
    ),
    Step(
        title=lambda cfg: f"response headers policy {cfg.site_headers_policy} on the CloudFront distribution",
        describe=lambda cfg: [
            f"CloudFront response headers policy {cfg.site_headers_policy} on the distribution's default behavior:"
            " Content-Security-Policy (the page's own files, its API, user pool and buckets; frame-ancestors 'none'),"
            " X-Frame-Options DENY, X-Content-Type-Options nosniff, Referrer-Policy no-referrer, HSTS"
        ],
        run=_site_headers,
        when=with_site,
    ),
    Step(
        title=lambda cfg: f"page and config.json into {cfg.site_bucket}",
        describe=lambda cfg: [f"the page (frontend/) and its config.json in {cfg.site_bucket}, served no-cache"],
        run=_publish,
        when=with_site,
    ),
)


def deploy_steps(cfg: StackConfig) -> list[Step]:
    """The steps deploy runs for this config, in order; `[i/n]` counts them (packaging the
    code, before deploy, is step 0)."""
    return [step for step in DEPLOY_STEPS if step.when(cfg)]


def plan(cfg: StackConfig) -> list[str]:
    """What deploy would create or update, without calling AWS (--dry-run): the descriptions of
    exactly the steps deploy runs for this config."""
    return [line for step in deploy_steps(cfg) for line in step.describe(cfg)]


def deploy(cfg: StackConfig, zip_path: Path, log: Callable[[str], None] = print) -> dict:
    steps = deploy_steps(cfg)
    for step in steps:
        step.check(cfg)
    d = Deployment(aws=Aws(cfg), cfg=cfg, zip_path=zip_path, log=log)
    for number, step in enumerate(steps, 1):
        log(f"[{number}/{len(steps)}] {step.title(d.cfg)}")
        step.run(d)
    return deployment_outputs(d)


def deployment_outputs(d: Deployment) -> dict:
    """What the devserver, the tests and `bootstrap outputs` read."""
    cfg = d.cfg
    outputs = {
        "target": cfg.target,
        "region": cfg.region,
        "endpointUrl": cfg.endpoint_url,
        "apiId": d.api_id,
        "apiUrl": api_url(cfg, d.api_id),
        "uploadBucket": cfg.upload_bucket,
        "processedBucket": cfg.processed_bucket,
        "table": cfg.table,
        "functions": {"api": cfg.function("api"), "processor": cfg.function("processor")},
        "deadLetterQueue": cfg.dead_letter_queue,
        "userPoolId": d.pool_id,
        "userPoolClientId": d.client_id,
    }
    if cfg.settings.public_s3_endpoint:  # where browsers reach S3, if not endpointUrl (the page's CSP names it)
        outputs["publicS3Endpoint"] = cfg.settings.public_s3_endpoint
    outputs["siteConfig"] = site_config(cfg, outputs["apiUrl"], d.pool_id, d.client_id)
    if d.site_url:
        outputs["siteBucket"] = cfg.site_bucket
        outputs["siteUrl"] = d.site_url
        outputs["siteOrigins"] = list(cfg.site_origins)
    return outputs


def _empty_bucket(aws: Aws, bucket: str) -> None:
    for page in aws.s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        objects = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        if objects:
            aws.s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
    for page in aws.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        objects = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if objects:
            aws.s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})


def remove_sweep_schedule(aws: Aws, cfg: StackConfig, log: Callable[[str], None]) -> None:
    try:
        aws.events.remove_targets(Rule=cfg.sweep_rule, Ids=["processor"])
        aws.events.delete_rule(Name=cfg.sweep_rule)
        log(f"deleted rule {cfg.sweep_rule}")
    except aws.events.exceptions.ResourceNotFoundException:
        pass


def remove_dead_letter_queue(aws: Aws, cfg: StackConfig, log: Callable[[str], None]) -> None:
    try:
        aws.sqs.delete_queue(QueueUrl=aws.sqs.get_queue_url(QueueName=cfg.dead_letter_queue)["QueueUrl"])
        log(f"deleted queue {cfg.dead_letter_queue}")
    except aws.sqs.exceptions.QueueDoesNotExist:
        pass


def remove_rest_api(aws: Aws, cfg: StackConfig, log: Callable[[str], None]) -> None:
    for api in (a for page in aws.apigateway.get_paginator("get_rest_apis").paginate() for a in page["items"]):
        if api["name"] == cfg.api_name:
            log(f"deleting REST API {api['id']}")
            aws.apigateway.delete_rest_api(restApiId=api["id"])


def remove_user_pool(aws: Aws, cfg: StackConfig, log: Callable[[str], None]) -> None:
    found = find_user_pool(aws, cfg)
    if found:
        aws.cognito.delete_user_pool(UserPoolId=found[0])  # its clients, groups and users go with it
        log(f"deleted user pool {cfg.user_pool}")


# Every function deploy may have made on any target: destroy removes each that exists.
ALL_FUNCTIONS = ("api", "processor", "presignup")


def remove_functions_and_roles(aws: Aws, cfg: StackConfig, log: Callable[[str], None]) -> None:
    for role in ALL_FUNCTIONS:
        name = cfg.function(role)
        try:
            aws.lambda_.delete_function(FunctionName=name)
            log(f"deleted function {name}")
        except aws.lambda_.exceptions.ResourceNotFoundException:
            pass
        role_name = f"{name}-role"
        try:
            for policy in aws.iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
                aws.iam.delete_role_policy(RoleName=role_name, PolicyName=policy)
            aws.iam.delete_role(RoleName=role_name)
            log(f"deleted role {role_name}")
        except aws.iam.exceptions.NoSuchEntityException:
            pass


def remove_table(aws: Aws, cfg: StackConfig, log: Callable[[str], None]) -> None:
    try:
        aws.dynamodb.delete_table(TableName=cfg.table)
        aws.dynamodb.get_waiter("table_not_exists").wait(TableName=cfg.table)
        log(f"deleted table {cfg.table}")
    except aws.dynamodb.exceptions.ResourceNotFoundException:
        pass


def stack_buckets(cfg: StackConfig) -> tuple[str, ...]:
    return (cfg.upload_bucket, cfg.processed_bucket) + ((cfg.site_bucket,) if cfg.site_bucket_enabled else ())


def remove_buckets(aws: Aws, cfg: StackConfig, log: Callable[[str], None]) -> None:
    """Emptied first, object versions and delete markers included."""
    for bucket in stack_buckets(cfg):
        try:
            _empty_bucket(aws, bucket)
            aws.s3.delete_bucket(Bucket=bucket)
            log(f"deleted bucket {bucket}")
        except ClientError as exc:
            if _code(exc) not in ("NoSuchBucket", "404"):
                raise


@dataclass(frozen=True)
class Remover:
    """One destroy step: what it deletes (destroy's dry run), how, and for which configs."""

    describe: Callable[[StackConfig], list[str]]
    run: Callable[[Aws, StackConfig, Callable[[str], None]], None]
    when: Callable[[StackConfig], bool] = always


# What deploy made, in reverse order, and nothing else; each step is safe when it is gone.
DESTROY_STEPS: tuple[Remover, ...] = (
    Remover(
        describe=lambda cfg: [
            f"CloudFront distribution '{cfg.site_distribution}' (disabled first: minutes on AWS)"
            f", origin access control {cfg.prefix}-site-oac and response headers policy {cfg.site_headers_policy}"
        ],
        run=remove_site_distribution,
        when=with_site,
    ),
    Remover(describe=lambda cfg: [f"EventBridge rule {cfg.sweep_rule}"], run=remove_sweep_schedule),
    Remover(describe=lambda cfg: [f"SQS queue {cfg.dead_letter_queue}"], run=remove_dead_letter_queue),
    Remover(describe=lambda cfg: [f"API Gateway REST API {cfg.api_name}"], run=remove_rest_api),
    Remover(
        describe=lambda cfg: [f"Cognito user pool {cfg.user_pool} (its app client, groups and users with it)"],
        run=remove_user_pool,
    ),
    Remover(
        describe=lambda cfg: [f"Lambda {cfg.function(r)} and IAM role {cfg.function(r)}-role" for r in ALL_FUNCTIONS],
        run=remove_functions_and_roles,
    ),
    Remover(describe=lambda cfg: [f"DynamoDB table {cfg.table}"], run=remove_table),
    Remover(describe=lambda cfg: [f"S3 bucket {b}" for b in stack_buckets(cfg)], run=remove_buckets),
)


def destroy_steps(cfg: StackConfig) -> list[Remover]:
    return [step for step in DESTROY_STEPS if step.when(cfg)]


def destroy_plan(cfg: StackConfig) -> list[str]:
    """What destroy would delete, without calling AWS (--dry-run)."""
    return [line for step in destroy_steps(cfg) for line in step.describe(cfg)]


def destroy(cfg: StackConfig, log: Callable[[str], None] = print) -> None:
    """What deploy made, in reverse order, and nothing else; each step is safe when it is gone."""
    aws = Aws(cfg)
    for step in destroy_steps(cfg):
        step.run(aws, cfg, log)
