"""Monitoring: the alarms (each with its threshold and why), the SNS topic they notify, the
functions' log groups with a retention, and on AWS a CloudWatch dashboard.

The metrics are declared in handlers/telemetry.py; the functions write them as embedded metric
format in their logs (CloudWatch turns those lines into metrics; on the local stack,
bootstrap/emulator_metrics.py does). What to do when an alarm fires: docs/operations.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from bootstrap.deploy.batch import state_machine_arn
from bootstrap.deploy.config import ALL_FUNCTIONS, PROCESSOR_TIMEOUT_S, StackConfig
from bootstrap.deploy.executor import Aws
from handlers import telemetry


@dataclass(frozen=True)
class Alarm:
    name: str  # the alarm is "<prefix>-<name>"
    why: str  # its description: what it means, what to do (docs/operations.md has the runbook)
    metric: str
    namespace: str  # "" = the stack's own (its prefix)
    dimensions: Callable[[StackConfig, str], dict[str, str]]  # (the stack, its account)
    threshold: float
    statistic: str = "Sum"  # or a percentile, "p99"
    period: int = 300
    comparison: str = "GreaterThanOrEqualToThreshold"


def _processor(cfg: StackConfig, account: str) -> dict[str, str]:
    return {"service": telemetry.PROCESSOR_SERVICE}


ALARMS: tuple[Alarm, ...] = (
    Alarm(
        "dead-letters",
        "An upload's event failed every try and waits in the dead-letter queue: make dlq, then make redrive.",
        "ApproximateNumberOfMessagesVisible",
        "AWS/SQS",
        lambda cfg, account: {"QueueName": cfg.dead_letter_queue},
        threshold=1,
        statistic="Maximum",
        period=60,
    ),
    Alarm(
        "processor-errors",
        "The processor crashed, timed out or ran out of memory 5+ times in 15 minutes: more than one bad file.",
        "Errors",
        "AWS/Lambda",
        lambda cfg, account: {"FunctionName": cfg.function("processor")},
        threshold=5,
        period=900,
    ),
    Alarm(
        "processor-throttles",
        "Uploads wait for the processor's reserved concurrency: raise PROCESSOR_CONCURRENCY if it lasts.",
        "Throttles",
        "AWS/Lambda",
        lambda cfg, account: {"FunctionName": cfg.function("processor")},
        threshold=1,
    ),
    Alarm(
        "processing-failed",
        "5+ runs failed unexpectedly in 15 minutes (the processor's own count): more than one bad file.",
        telemetry.PROCESSING_FAILED.name,
        "",
        _processor,
        threshold=5,
        period=900,
    ),
    Alarm(
        "processing-time",
        "The slowest 1% of photos took over 80% of the processor's timeout: the next ones may time out.",
        telemetry.PROCESSING_TIME.name,
        "",
        _processor,
        threshold=0.8 * PROCESSOR_TIMEOUT_S * 1000,
        statistic="p99",
        comparison="GreaterThanThreshold",
    ),
    Alarm(
        "stuck-uploads",
        "An upload has been unfinished for over an hour although the sweep re-drives them: make reconcile.",
        telemetry.OLDEST_UNFINISHED.name,
        "",
        _processor,
        threshold=3600,
        statistic="Maximum",
        period=900,  # three sweeps: one late sweep is no reason to say OK
        comparison="GreaterThanThreshold",
    ),
    Alarm(
        "refusal-spike",
        "20+ files refused in 15 minutes: an attack, a broken client, or a format the processor lost.",
        telemetry.PHOTOS_REFUSED.name,
        "",
        _processor,
        threshold=20,
        period=900,
    ),
    Alarm(
        "events-errors",
        "The events function failed 3+ times in 15 minutes: image events wait in the table's stream "
        "(kept 24 hours) and are tried again; its log group says why (docs/events.md).",
        "Errors",
        "AWS/Lambda",
        lambda cfg, account: {"FunctionName": cfg.function("events")},
        threshold=3,
        period=900,
    ),
    Alarm(
        "events-behind",
        "Image events are sent over 10 minutes after their record's write: the events function fails or "
        "cannot keep up; a change the stream has kept 24 hours is lost to subscribers.",
        "IteratorAge",
        "AWS/Lambda",
        lambda cfg, account: {"FunctionName": cfg.function("events")},
        threshold=600_000,  # milliseconds
        statistic="Maximum",
        comparison="GreaterThanThreshold",
    ),
    Alarm(
        "batch-failed",
        "A batch run (make reprocess, make reconcile) failed: more of its children failed than it "
        "tolerates. Run the same command again: it redrives what did not succeed (docs/operations.md).",
        "ExecutionsFailed",
        "AWS/States",
        lambda cfg, account: {"StateMachineArn": state_machine_arn(cfg, account)},
        threshold=1,
    ),
    Alarm(
        "api-5xx",
        "Over 5% of API requests failed on the server side in 5 minutes (a crash, a timeout, a throttled AWS call).",
        "5XXError",
        "AWS/ApiGateway",
        lambda cfg, account: {"ApiName": cfg.api_name},
        threshold=0.05,
        statistic="Average",
        comparison="GreaterThanThreshold",
    ),
)


def alarm_name(cfg: StackConfig, alarm: Alarm) -> str:
    return f"{cfg.prefix}-{alarm.name}"


def log_group(cfg: StackConfig, role: str) -> str:
    return f"/aws/lambda/{cfg.function(role)}"


def ensure_alarm_topic(aws: Aws, cfg: StackConfig) -> str:
    """The topic every alarm notifies; on AWS with ALARM_EMAIL, that address is subscribed (AWS
    mails a confirmation link first)."""
    topic_arn = aws.sns.create_topic(Name=cfg.alarm_topic)["TopicArn"]  # idempotent by name
    if cfg.alarm_email:
        subscribed = {
            s["Endpoint"]
            for page in aws.sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn)
            for s in page["Subscriptions"]
        }
        if cfg.alarm_email not in subscribed:
            aws.sns.subscribe(TopicArn=topic_arn, Protocol="email", Endpoint=cfg.alarm_email)
    return topic_arn


def ensure_alarms(aws: Aws, cfg: StackConfig, topic_arn: str) -> None:
    """Each alarm, created or brought up to date (PutMetricAlarm replaces an alarm of that name)."""
    for alarm in ALARMS:
        statistic = {"ExtendedStatistic": alarm.statistic} if alarm.statistic.startswith("p") else {}
        aws.cloudwatch.put_metric_alarm(
            AlarmName=alarm_name(cfg, alarm),
            AlarmDescription=alarm.why,
            Namespace=alarm.namespace or cfg.prefix,
            MetricName=alarm.metric,
            Dimensions=[{"Name": k, "Value": v} for k, v in alarm.dimensions(cfg, aws.account).items()],
            **(statistic or {"Statistic": alarm.statistic}),
            Period=alarm.period,
            EvaluationPeriods=1,
            Threshold=alarm.threshold,
            ComparisonOperator=alarm.comparison,
            TreatMissingData="notBreaching",  # no data: nothing happened, nothing wrong
            ActionsEnabled=True,
            AlarmActions=[topic_arn],
            OKActions=[topic_arn],
        )


def ensure_log_groups(aws: Aws, cfg: StackConfig) -> None:
    """Each function's log group, made before Lambda would, with a retention (Lambda's own never expire)."""
    for role in ALL_FUNCTIONS:
        name = log_group(cfg, role)
        if not _log_group_exists(aws, name):
            aws.logs.create_log_group(logGroupName=name)
        aws.logs.put_retention_policy(logGroupName=name, retentionInDays=cfg.log_retention_days)


def _log_group_exists(aws: Aws, name: str) -> bool:
    listed = aws.logs.describe_log_groups(logGroupNamePrefix=name).get("logGroups", [])
    return any(g["logGroupName"] == name for g in listed)


def dashboard_body(cfg: StackConfig, account: str) -> dict:
    """One page for an operator: the alarms, then the photos' flow, latency and the API."""

    def widget(title: str, metrics: list, stat: str = "Sum", y: int = 0, x: int = 0) -> dict:
        return {
            "type": "metric",
            "x": x,
            "y": y,
            "width": 12,
            "height": 6,
            "properties": {"title": title, "metrics": metrics, "stat": stat, "period": 300, "region": cfg.region},
        }

    service = ["service", telemetry.PROCESSOR_SERVICE]
    return {
        "widgets": [
            {
                "type": "alarm",
                "x": 0,
                "y": 0,
                "width": 24,
                "height": 3,
                "properties": {
                    "title": "Alarms",
                    "alarms": [f"arn:aws:cloudwatch:{cfg.region}:{account}:alarm:{alarm_name(cfg, a)}" for a in ALARMS],
                },
            },
            widget(
                "Photos processed and refused",
                [[cfg.prefix, m.name, *service] for m in (telemetry.PHOTOS_PROCESSED, telemetry.PHOTOS_REFUSED)],
                y=3,
            ),
            widget(
                "Upload to gallery, p50 and p95 (ms)",
                [[cfg.prefix, telemetry.UPLOAD_TO_READY.name, *service, {"stat": s}] for s in ("p50", "p95")],
                y=3,
                x=12,
            ),
            widget(
                "Processing time p99 (ms) and decode budget used (%)",
                [
                    [cfg.prefix, telemetry.PROCESSING_TIME.name, *service, {"stat": "p99"}],
                    [cfg.prefix, telemetry.DECODE_BUDGET_USED.name, *service, {"stat": "Maximum"}],
                ],
                y=9,
            ),
            widget(
                "Dead letters and the oldest unfinished upload (s)",
                [
                    ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", cfg.dead_letter_queue],
                    [cfg.prefix, telemetry.OLDEST_UNFINISHED.name, *service],
                ],
                stat="Maximum",
                y=9,
                x=12,
            ),
        ]
    }


def ensure_dashboard(aws: Aws, cfg: StackConfig) -> None:
    aws.cloudwatch.put_dashboard(
        DashboardName=cfg.dashboard, DashboardBody=json.dumps(dashboard_body(cfg, aws.account))
    )


def ensure_monitoring(aws: Aws, cfg: StackConfig) -> None:
    ensure_log_groups(aws, cfg)
    ensure_alarms(aws, cfg, ensure_alarm_topic(aws, cfg))
    if cfg.target == "aws":
        ensure_dashboard(aws, cfg)


# --- destroy ------------------------------------------------------------------------------------


def remove_monitoring(aws: Aws, cfg: StackConfig, log: Callable[[str], None]) -> None:
    """The dashboard, the alarms, the topic (its subscriptions with it) and the log groups."""
    if cfg.target == "aws" and aws.cloudwatch.list_dashboards(DashboardNamePrefix=cfg.dashboard).get(
        "DashboardEntries"
    ):
        aws.cloudwatch.delete_dashboards(DashboardNames=[cfg.dashboard])
        log(f"deleted dashboard {cfg.dashboard}")
    wanted = {alarm_name(cfg, a) for a in ALARMS}
    found = [
        a["AlarmName"]
        for page in aws.cloudwatch.get_paginator("describe_alarms").paginate(AlarmNamePrefix=f"{cfg.prefix}-")
        for a in page["MetricAlarms"]
        if a["AlarmName"] in wanted
    ]
    if found:
        aws.cloudwatch.delete_alarms(AlarmNames=found)
        log(f"deleted {len(found)} alarms")
    for page in aws.sns.get_paginator("list_topics").paginate():
        for topic in page["Topics"]:
            if topic["TopicArn"].rsplit(":", 1)[-1] == cfg.alarm_topic:
                aws.sns.delete_topic(TopicArn=topic["TopicArn"])
                log(f"deleted topic {cfg.alarm_topic}")
    for role in ALL_FUNCTIONS:
        name = log_group(cfg, role)
        if _log_group_exists(aws, name):
            aws.logs.delete_log_group(logGroupName=name)
            log(f"deleted log group {name}")
