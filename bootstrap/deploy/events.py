"""Nothing lost: Lambda's retries of the processor's events, the dead-letter queue after them,
a reservation of concurrency, and the schedule of the sweep that re-drives what is stuck."""

from __future__ import annotations

import json
from collections.abc import Callable

from bootstrap.deploy.config import StackConfig
from bootstrap.deploy.executor import Aws
from bootstrap.deploy.functions import ensure_invoke_permission
from handlers.config import DEAD_LETTER_RETENTION_SECONDS, EVENT_MAX_AGE_SECONDS, PROCESSOR_RETRIES

SWEEP_EVERY = "rate(5 minutes)"


def dead_letter_queue_arn(cfg: StackConfig, account: str) -> str:
    return f"arn:aws:sqs:{cfg.region}:{account}:{cfg.dead_letter_queue}"


def ensure_dead_letter_queue(aws: Aws, cfg: StackConfig) -> str:
    aws.sqs.create_queue(
        QueueName=cfg.dead_letter_queue,  # idempotent for the same attributes
        Attributes={"MessageRetentionPeriod": str(DEAD_LETTER_RETENTION_SECONDS)},
    )
    return dead_letter_queue_arn(cfg, aws.account)


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
        ScheduleExpression=SWEEP_EVERY,
        State="ENABLED",
        Description="imagepipe: re-drive stuck uploads",
    )["RuleArn"]
    ensure_invoke_permission(aws, cfg.function("processor"), "events-sweep", "events.amazonaws.com", rule_arn)
    aws.events.put_targets(
        Rule=cfg.sweep_rule,
        Targets=[{"Id": "processor", "Arn": processor_arn, "Input": json.dumps({"action": "sweep"})}],
    )


def ensure_nothing_lost(aws: Aws, cfg: StackConfig, processor_arn: str, log: Callable[[str], None]) -> None:
    ensure_processor_retries(aws, cfg, ensure_dead_letter_queue(aws, cfg), log)
    ensure_sweep_schedule(aws, cfg, processor_arn)


# --- destroy ------------------------------------------------------------------------------------


def remove_sweep_schedule(aws: Aws, cfg: StackConfig, log: Callable[[str], None]) -> None:
    try:
        aws.events.describe_rule(Name=cfg.sweep_rule)
    except aws.events.exceptions.ResourceNotFoundException:
        return
    aws.events.remove_targets(Rule=cfg.sweep_rule, Ids=["processor"])
    aws.events.delete_rule(Name=cfg.sweep_rule)
    log(f"deleted rule {cfg.sweep_rule}")


def remove_dead_letter_queue(aws: Aws, cfg: StackConfig, log: Callable[[str], None]) -> None:
    try:
        url = aws.sqs.get_queue_url(QueueName=cfg.dead_letter_queue)["QueueUrl"]
    except aws.sqs.exceptions.QueueDoesNotExist:
        return
    aws.sqs.delete_queue(QueueUrl=url)
    log(f"deleted queue {cfg.dead_letter_queue}")
