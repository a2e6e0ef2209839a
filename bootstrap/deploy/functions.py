"""Functions: the Lambdas, their settings, who may invoke them, and the upload bucket's events."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable

from bootstrap.deploy.config import ALL_FUNCTIONS, RUNTIME, StackConfig
from bootstrap.deploy.executor import Aws, when_role_is_ready


def function_environment(cfg: StackConfig, role: str, **extra: str) -> dict:
    """The settings every function shares, and its name in logs and metrics (the `service`)."""
    env = {
        "UPLOAD_BUCKET": cfg.upload_bucket,
        "PROCESSED_BUCKET": cfg.processed_bucket,
        "TABLE_NAME": cfg.table,
        "SIMILAR_TABLE": cfg.similar_table,
        "ALLOWED_ORIGINS": ",".join(cfg.site_origins),
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "POWERTOOLS_SERVICE_NAME": role,
        "POWERTOOLS_METRICS_NAMESPACE": cfg.prefix,  # one namespace per stack (handlers/telemetry.py)
    }
    env.update({k: str(v) for k, v in cfg.function_env.items()})
    return env | extra


def api_environment(cfg: StackConfig, pool_id: str, client_id: str) -> dict:
    """The API's settings: the shared ones, and the pool and app client whose ID tokens it accepts."""
    return function_environment(cfg, "api", USER_POOL_ID=pool_id, USER_POOL_CLIENT_ID=client_id)


def ensure_function(
    aws: Aws,
    cfg: StackConfig,
    role: str,
    role_arn: str,
    code: bytes,
    handler: str,
    memory: int,
    timeout: int,
    env: dict | None = None,
) -> str:
    name = cfg.function(role)
    sha = base64.b64encode(hashlib.sha256(code).digest()).decode()
    settings = dict(
        Role=role_arn,
        Handler=handler,
        Runtime=RUNTIME,
        MemorySize=memory,
        Timeout=timeout,
        Environment={"Variables": env or function_environment(cfg, role)},
    )
    try:
        current = aws.lambda_.get_function(FunctionName=name)["Configuration"]
    except aws.lambda_.exceptions.ResourceNotFoundException:
        arn = create_function_when_role_is_ready(
            aws, dict(FunctionName=name, Code={"ZipFile": code}, Publish=False, Architectures=[cfg.arch], **settings)
        )
        aws.wait(aws.lambda_, "function_active_v2", FunctionName=name)
        return arn
    if current.get("CodeSha256") != sha or current.get("Architectures", [cfg.arch]) != [cfg.arch]:
        aws.lambda_.update_function_code(FunctionName=name, ZipFile=code, Architectures=[cfg.arch])
        aws.wait(aws.lambda_, "function_updated_v2", FunctionName=name)
    have = {k: current.get(k) for k in settings}
    have["Environment"] = {"Variables": (current.get("Environment") or {}).get("Variables", {})}
    if have != settings:
        aws.lambda_.update_function_configuration(FunctionName=name, **settings)
        aws.wait(aws.lambda_, "function_updated_v2", FunctionName=name)
    return current["FunctionArn"]


def create_function_when_role_is_ready(
    aws: Aws, params: dict, wait: Callable[[float], None] = time.sleep, tries: int = 8
) -> str:
    """Lambda refuses a new role for seconds ("cannot be assumed"): iam.when_role_is_ready."""
    return when_role_is_ready(
        lambda: aws.lambda_.create_function(**params)["FunctionArn"],
        lambda exc: (
            isinstance(exc, aws.lambda_.exceptions.InvalidParameterValueException) and "cannot be assumed" in str(exc)
        ),
        wait,
        tries,
    )


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


def remove_functions(aws: Aws, cfg: StackConfig, log: Callable[[str], None]) -> None:
    for role in ALL_FUNCTIONS:
        name = cfg.function(role)
        try:
            aws.lambda_.get_function(FunctionName=name)
        except aws.lambda_.exceptions.ResourceNotFoundException:
            continue
        aws.lambda_.delete_function(FunctionName=name)
        log(f"deleted function {name}")
