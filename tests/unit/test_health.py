"""The health report (handlers/health.py) on moto: the stack's alarms, the last hour's photos,
upload-to-ready percentiles and the oldest unfinished upload; GET /admin/health for admins only;
a CloudWatch failure is a typed 503, never a 500; `python -m bootstrap stats` prints it."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime
from types import SimpleNamespace

import boto3
import jsonschema
import pytest
import yaml
from botocore.exceptions import ClientError, EndpointConnectionError
from moto.cloudwatch import models as moto_cloudwatch

from bootstrap.package import ROOT
from handlers import errors, health, telemetry
from handlers.api import meter
from handlers.records import ImageRecords
from tests.unit.api_helpers import Api
from tests.unit.conftest import ADMIN, ALICE

NAMESPACE = meter.namespace  # where the API reads (and the functions write) the stack's metrics
PROCESSOR = [{"Name": "service", "Value": telemetry.PROCESSOR_SERVICE}]


@pytest.fixture(autouse=True)
def moto_computes_percentiles(monkeypatch):
    """moto answers GetMetricData's Sum, Average, Minimum, Maximum and SampleCount only; CloudWatch
    (and the emulator) answer pNN too: nearest rank here."""
    plain = moto_cloudwatch.Statistics.get_statistics_for_type

    def with_percentiles(self, stat):
        if stat.startswith("p") and stat[1:].replace(".", "").isdigit():
            values = sorted(self.metric_single_values_list)
            return values[max(0, int(len(values) * float(stat[1:]) / 100 + 0.5) - 1)] if values else None
        return plain(self, stat)

    monkeypatch.setattr(moto_cloudwatch.Statistics, "get_statistics_for_type", with_percentiles)


@pytest.fixture
def stack(aws_env):
    """The API on moto, with a CloudWatch client, and what the report reads from."""
    settings, clients = aws_env
    clients = dataclasses.replace(clients, cloudwatch=boto3.client("cloudwatch", region_name="us-east-1"))
    return SimpleNamespace(
        api=Api(settings, clients),
        cloudwatch=clients.cloudwatch,
        dynamodb=clients.dynamodb,
        table=settings.table_name,
        records=ImageRecords(clients.dynamodb, settings.table_name),
    )


def alarm(cloudwatch, name: str, state: str | None = None, reason: str = "") -> None:
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace=NAMESPACE,
        MetricName=telemetry.PHOTOS_REFUSED.name,
        Dimensions=PROCESSOR,
        Statistic="Sum",
        Period=300,
        EvaluationPeriods=1,
        Threshold=20,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    if state:
        cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason=reason)


def put(cloudwatch, metric: telemetry.Metric, values, seconds_ago: float = 60, **dimensions):
    cloudwatch.put_metric_data(
        Namespace=NAMESPACE,
        MetricData=[
            {
                "MetricName": metric.name,
                "Dimensions": PROCESSOR + [{"Name": k, "Value": v} for k, v in dimensions.items()],
                "Timestamp": datetime.fromtimestamp(time.time() - seconds_ago, UTC),
                "Value": value,
                "Unit": metric.unit,
            }
            for value in values
        ],
    )


def arrived(stack, image_id: str) -> None:
    """The file of this upload form reached the bucket (the record is listed from then on)."""
    stack.dynamodb.update_item(
        TableName=stack.table,
        Key={"id": {"S": image_id}},
        UpdateExpression="SET listPk = :p",
        ExpressionAttributeValues={":p": {"S": "IMAGE"}},
    )


def test_the_report_holds_the_stack_s_alarms_and_the_last_hour(stack):
    cw = stack.cloudwatch
    alarm(cw, f"{NAMESPACE}-dead-letters", "ALARM", "1 message waits")
    alarm(cw, f"{NAMESPACE}-refusal-spike", "OK", "quiet")
    alarm(cw, "another-stack-dead-letters", "ALARM", "not ours")
    alarm(cw, f"{NAMESPACE}-staging-dead-letters", "ALARM", "a stack whose name starts with ours")
    put(cw, telemetry.PHOTOS_PROCESSED, [1, 1, 1])
    put(cw, telemetry.PHOTOS_PROCESSED, [1], seconds_ago=2 * 3600)  # before the last hour
    put(cw, telemetry.PHOTOS_REFUSED, [1, 1, 1])
    put(cw, telemetry.REFUSALS_BY_CODE, [1, 1], code="too_large")
    put(cw, telemetry.REFUSALS_BY_CODE, [1], code="not_an_image")
    put(cw, telemetry.UPLOAD_TO_READY, [1000.0 * i for i in range(1, 21)])  # 1 s .. 20 s
    created = "2026-01-01T00:00:00.000Z"
    never_used = "2025-12-31T00:00:00.000Z"  # an older form whose file never came: a closed tab
    stack.records.create_pending("c" * 32, "gone.jpg", "image/jpeg", 10, ALICE["sub"], None, 0, created_at=never_used)
    stack.records.create_pending("a" * 32, "late.jpg", "image/jpeg", 10, ALICE["sub"], None, 0, created_at=created)
    stack.records.create_pending("b" * 32, "later.jpg", "image/jpeg", 10, ALICE["sub"], None, 0)
    arrived(stack, "a" * 32)
    arrived(stack, "b" * 32)
    now = time.time()

    report = health.report(cw, stack.records, NAMESPACE, now=now)

    assert [(a["name"], a["state"], a["reason"]) for a in report["alarms"]] == [
        (f"{NAMESPACE}-dead-letters", "ALARM", "1 message waits"),
        (f"{NAMESPACE}-refusal-spike", "OK", "quiet"),
    ]
    assert all(a["since"].endswith("Z") for a in report["alarms"])
    assert report["photos"] == {"processed": 3, "refused": 3, "refusedByCode": {"not_an_image": 1, "too_large": 2}}
    assert report["uploadToReadyMs"] == {"p50": 10000.0, "p95": 19000.0}
    oldest = report["oldestUnfinished"]
    assert (oldest["id"], oldest["status"], oldest["createdAt"]) == ("a" * 32, "pending", created)
    assert oldest["ageSeconds"] == int(now - datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp())
    assert report["generatedAt"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))


def test_a_quiet_stack_reports_nothing_rather_than_zeros_it_did_not_measure(stack):
    report = health.report(stack.cloudwatch, stack.records, NAMESPACE, now=time.time())
    assert report["alarms"] == [] and report["oldestUnfinished"] is None
    assert report["photos"] == {"processed": 0, "refused": 0, "refusedByCode": {}}
    assert report["uploadToReadyMs"] == {"p50": None, "p95": None}


def test_the_oldest_waiting_upload_skips_unused_forms_in_one_bounded_query(stack):
    for letter in "abc":
        stack.records.create_pending(letter * 32, "x.jpg", "image/jpeg", 10, None, None, 0)
    arrived(stack, "b" * 32)
    queries = []
    stack.dynamodb.meta.events.register(
        "provide-client-params.dynamodb.Query", lambda params, **_: queries.append(params)
    )
    report = health.report(stack.cloudwatch, stack.records, NAMESPACE, now=time.time())
    assert report["oldestUnfinished"]["id"] == "b" * 32  # "a": a form whose file never came
    assert [(q["IndexName"], q["Limit"], q["ScanIndexForward"]) for q in queries] == [
        ("byUnfinished", health.WAITING_SCAN, True)
    ]


def test_refusal_codes_are_bounded(stack):
    for i in range(health.MAX_CODES + 10):
        put(stack.cloudwatch, telemetry.REFUSALS_BY_CODE, [1], code=f"code_{i:03}")
    codes = health.refusal_codes(stack.cloudwatch, NAMESPACE)
    assert len(codes) == health.MAX_CODES
    assert len(health.metric_queries(NAMESPACE, codes)) == 4 + health.MAX_CODES  # one GetMetricData holds 500


def json_schema(node):
    """An OpenAPI 3.0 schema as JSON Schema: `nullable` becomes a null type (and a null enum value)."""
    if isinstance(node, list):
        return [json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    schema = {k: json_schema(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable"):
        schema["type"] = [node["type"], "null"]
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
    return schema


def test_only_admins_get_the_report_in_the_shape_openapi_yaml_says(stack):
    """The live contract test signs in as a non-admin (403): the report's shape is checked here."""
    alarm(stack.cloudwatch, f"{NAMESPACE}-dead-letters", "ALARM", "1 message waits")
    put(stack.cloudwatch, telemetry.REFUSALS_BY_CODE, [1], code="too_large")
    put(stack.cloudwatch, telemetry.UPLOAD_TO_READY, [1500.0])
    stack.records.create_pending("a" * 32, "x.jpg", "image/jpeg", 10, None, None, 0)
    status, body, _ = stack.api("GET", "/admin/health", claims=ALICE)
    assert status == 403 and body["error"]["code"] == "forbidden"
    status, body, _ = stack.api("GET", "/admin/health", claims=ADMIN)
    assert status == 200
    assert [a["name"] for a in body["alarms"]] == [f"{NAMESPACE}-dead-letters"]
    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    jsonschema.validate(body, json_schema(spec["components"]["schemas"]["Health"]))
    assert stack.api("POST", "/admin/health", claims=ADMIN)[0] == 405


def throttled(**_):
    raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "GetMetricData")


def unreachable(**_):
    raise EndpointConnectionError(endpoint_url="https://monitoring.us-east-1.amazonaws.com")


@pytest.mark.parametrize(
    ("operation", "failure"),
    [("DescribeAlarms", throttled), ("ListMetrics", unreachable), ("GetMetricData", throttled)],
)
def test_a_cloudwatch_failure_is_a_typed_503_never_a_500(stack, operation, failure):
    stack.cloudwatch.meta.events.register(f"before-call.cloudwatch.{operation}", failure)
    with pytest.raises(errors.Unavailable):
        health.report(stack.cloudwatch, stack.records, NAMESPACE, now=time.time())
    status, body, _ = stack.api("GET", "/admin/health", claims=ADMIN)
    assert status == 503 and body["error"]["code"] == "unavailable"


def test_a_series_cloudwatch_could_not_read_fails_the_report():
    with pytest.raises(errors.Unavailable):
        health.metric_values([{"Id": "processed", "StatusCode": "Forbidden", "Values": []}])


def test_bootstrap_stats_prints_the_report(stack, monkeypatch, capsys):
    import bootstrap.__main__ as cli

    alarm(stack.cloudwatch, f"{NAMESPACE}-dead-letters", "ALARM", "1 message waits")
    put(stack.cloudwatch, telemetry.PHOTOS_PROCESSED, [1, 1])
    put(stack.cloudwatch, telemetry.REFUSALS_BY_CODE, [1], code="too_large")
    operator = SimpleNamespace(cloudwatch=stack.cloudwatch, dynamodb=stack.dynamodb)
    outputs = {"table": stack.table, "apiEnvironment": {"POWERTOOLS_METRICS_NAMESPACE": NAMESPACE}}
    monkeypatch.setattr(cli, "deployed_stack", lambda args, log: (operator, outputs))
    assert cli.main(["stats"]) == 0
    printed = capsys.readouterr().out
    assert f"{NAMESPACE}-dead-letters" in printed and "ALARM" in printed and "1 message waits" in printed
    assert "photos processed  2" in printed and "too_large: 1" in printed
    assert "Oldest unfinished upload: none" in printed
