"""bootstrap/emulator_metrics.py's core: what CloudWatch would put for a log line and for a queue.
(That the emulator puts it, alarms included: tests/integration/test_emulator_metrics.py.)"""

from __future__ import annotations

import json
import time

import pytest
from aws_lambda_powertools.metrics import Metrics, MetricUnit

from bootstrap.emulator_metrics import (
    MAX_DIMENSIONS,
    MAX_METRICS,
    MAX_VALUES,
    PINNED,
    emf_metric_data,
    execution_metric_data,
    fingerprint,
    pinned_version,
    queue_depth,
)
from bootstrap.package import ROOT

STAMP = int(time.time() * 1000)  # epoch milliseconds: now (CloudWatch takes two weeks back, two hours ahead)


def emf(members: dict, directives: list[dict], stamp=STAMP) -> str:
    return json.dumps({"_aws": {"Timestamp": stamp, "CloudWatchMetrics": directives}, **members})


def directive(names=("Widgets",), dimensions=(("service",),), namespace="imagepipe") -> dict:
    return {
        "Namespace": namespace,
        "Dimensions": [list(keys) for keys in dimensions],
        "Metrics": [{"Name": name, "Unit": "Count"} for name in names],
    }


def test_what_powertools_writes_is_put_as_putmetricdata_would_put_it():
    metrics = Metrics(namespace="imagepipe", service="processor")
    try:
        metrics.add_metric(name="PhotosProcessed", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="UploadToReady", unit=MetricUnit.Milliseconds, value=120)
        metrics.add_metric(name="UploadToReady", unit=MetricUnit.Milliseconds, value=80)
        document = metrics.serialize_metric_set()
    finally:
        metrics.clear_metrics()
    seconds = document["_aws"]["Timestamp"] / 1000
    service = [{"Name": "service", "Value": "processor"}]
    assert emf_metric_data(json.dumps(document, separators=(",", ":"))) == {
        "imagepipe": [
            {"MetricName": "PhotosProcessed", "Dimensions": service, "Unit": "Count", "Timestamp": seconds}
            | {"Values": [1.0]},
            {"MetricName": "UploadToReady", "Dimensions": service, "Unit": "Milliseconds", "Timestamp": seconds}
            | {"Values": [120.0, 80.0]},
        ]
    }


def test_each_dimension_set_is_a_series_of_its_own_and_each_namespace_a_put():
    line = emf(
        {"service": "processor", "code": "too_large", "RefusalsByCode": 1, "Requests": [1, 1]},
        [directive(["RefusalsByCode"], [["service", "code"], []]), directive(["Requests"], [], namespace="other")],
    )
    data = emf_metric_data(line)
    assert [(d["MetricName"], d["Dimensions"], d["Values"]) for d in data["imagepipe"]] == [
        ("RefusalsByCode", [{"Name": "service", "Value": "processor"}, {"Name": "code", "Value": "too_large"}], [1.0]),
        ("RefusalsByCode", [], [1.0]),  # an empty set: the metric without dimensions
    ]
    assert [(d["MetricName"], d["Dimensions"], d["Unit"]) for d in data["other"]] == [("Requests", [], "Count")]
    assert {d["Timestamp"] for d in data["imagepipe"] + data["other"]} == {STAMP / 1000}


def test_a_metric_without_a_unit_is_put_with_unit_none():
    line = emf({"Widgets": 2}, [{"Namespace": "n", "Dimensions": [[]], "Metrics": [{"Name": "Widgets"}]}])
    assert emf_metric_data(line)["n"][0]["Unit"] == "None"


GOOD = {"service": "processor", "Widgets": 1}


@pytest.mark.parametrize(
    "message",
    [
        "START RequestId: 1 Version: $LATEST",
        '{"level": "INFO", "message": "a structured line, not a metric"}',
        '{"_aws": {"Timestamp": 1, "CloudWatchMetrics": [',  # cut short
        '["_aws"]',
        emf(GOOD, [directive()])[:-1] + ', "tail": 1} trailing text',
        emf(GOOD, [directive()], stamp=None),  # no timestamp
        emf(GOOD, [directive()], stamp="1700000000000"),
        emf(GOOD, [directive()], stamp=True),
        emf(GOOD, [{"Dimensions": [["service"]], "Metrics": [{"Name": "Widgets"}]}]),  # no namespace
        emf(GOOD, [directive()] + ["not a directive"]),
        emf(GOOD, [directive(["Widgets", "Gadgets"])]),  # a metric with no value
        emf({"service": "processor", "Widgets": "1"}, [directive()]),
        emf({"service": "processor", "Widgets": []}, [directive()]),
        emf({"service": "processor", "Widgets": [1, None]}, [directive()]),
        emf({"service": "processor", "Widgets": True}, [directive()]),
        emf({"Widgets": 1}, [directive()]),  # a dimension with no value
        emf({"service": 7, "Widgets": 1}, [directive()]),
        emf(GOOD, [{"Namespace": "n", "Dimensions": [["service"]], "Metrics": [{"Unit": "Count"}]}]),
        emf(GOOD, [{"Namespace": "n", "Dimensions": "service", "Metrics": [{"Name": "Widgets"}]}]),
        emf(GOOD, [{"Namespace": "n", "Dimensions": [["service"]], "Metrics": [{"Name": "Widgets", "Unit": 3}]}]),
        emf({"service": "processor", "Widgets": float("nan")}, [directive()]),  # JSON's NaN, as Python writes it
        emf({"service": "processor", "Widgets": [1, float("inf")]}, [directive()]),
        "[" * 100_000 + '"_aws"' + "]" * 100_000,  # deeper than the parser goes
    ],
)
def test_a_document_cloudwatch_would_refuse_puts_nothing(message):
    assert emf_metric_data(message) == {}


def test_cloudwatch_s_limits_bound_what_one_line_puts():
    many = {f"M{i}": 1 for i in range(MAX_METRICS + 1)} | {"service": "processor"}
    assert len(emf_metric_data(emf(many, [directive(list(many)[:MAX_METRICS])]))["imagepipe"]) == MAX_METRICS
    assert emf_metric_data(emf(many, [directive(list(many)[: MAX_METRICS + 1])])) == {}
    assert emf_metric_data(emf({"service": "p", "Widgets": [1] * MAX_VALUES}, [directive()]))
    assert emf_metric_data(emf({"service": "p", "Widgets": [1] * (MAX_VALUES + 1)}, [directive()])) == {}
    keys = [f"d{i}" for i in range(MAX_DIMENSIONS + 1)]
    dims = dict.fromkeys(keys, "v")
    assert emf_metric_data(emf(dims | {"Widgets": 1}, [directive(dimensions=[keys[:MAX_DIMENSIONS]])]))
    assert emf_metric_data(emf(dims | {"Widgets": 1}, [directive(dimensions=[keys])])) == {}
    sets = [[key] for key in keys] * 40  # 1240 series of one metric: more than one PutMetricData holds
    assert emf_metric_data(emf(dims | {"Widgets": 1}, [directive(dimensions=sets)])) == {}
    assert emf_metric_data(emf(GOOD, [directive()]) + " " * (1024 * 1024)) == {}  # larger than a log event


def test_a_queue_s_depth_counts_the_visible_messages_and_the_oldest_s_age_counts_them_all():
    now = 1000.0
    messages = [
        {"id": "a", "sent_at": 900.0, "visible_at": 1030.0},  # in flight, the oldest
        {"id": "b", "sent_at": 990.0, "visible_at": 990.0},  # visible
        {"id": "c", "sent_at": 995.5, "visible_at": 1000.0},  # visible from now
        {"id": "d", "sent_at": 999.0, "visible_at": 1010.0},  # delayed
        {"id": "e", "sent_at": 100.0, "enqueued_at": 950.0, "visible_at": 950.0},  # moved to this queue at 950
    ]
    assert queue_depth(messages, now) == (3, 100)
    assert queue_depth([], now) == (0, 0)


def test_a_queue_s_fingerprint_changes_when_a_message_comes_or_goes():
    one, two = [{"id": "a"}], [{"id": "a"}, {"id": "b"}]
    assert fingerprint(one) != fingerprint(two) != fingerprint([{"id": "b"}]) != fingerprint([])
    assert fingerprint([{"id": "b"}, {"id": "c"}]) != fingerprint(two)  # one gone, one come


def test_the_hooks_are_written_against_the_pinned_emulator():
    """Moving the pin means re-running tests/integration/test_emulator_metrics.py, then PINNED."""
    assert pinned_version(ROOT / "requirements-emulator.txt") == PINNED


def test_a_line_cannot_speak_for_aws_nor_outside_cloudwatch_s_time_window():
    """AWS/ namespaces are AWS's own (a line must not fake a queue's depth), and a point dated far
    ahead would sit in every alarm's window for good: CloudWatch refuses both, so does the forwarder."""
    from bootstrap.emulator_metrics import FUTURE_SECONDS, PAST_SECONDS

    line = emf(
        {"QueueName": "q", "ApproximateNumberOfMessagesVisible": 1},
        [directive(("ApproximateNumberOfMessagesVisible",), (("QueueName",),), namespace="AWS/SQS")],
    )
    assert emf_metric_data(line) == {}
    now = STAMP / 1000
    assert emf_metric_data(emf(GOOD, [directive()]), now=now)
    for seconds in (now + FUTURE_SECONDS + 60, now - PAST_SECONDS - 60, 32_503_680_000):  # the last: year 3000
        assert emf_metric_data(emf(GOOD, [directive()], stamp=seconds * 1000), now=now) == {}


def test_one_line_puts_at_most_max_points_values():
    """Each limit alone holds (100 metrics of 100 values), but not their product over two series."""
    from bootstrap.emulator_metrics import MAX_POINTS

    names = [f"m{i}" for i in range(MAX_METRICS)]
    members = {"service": "p", "stage": "s"} | {n: [1] * MAX_VALUES for n in names}
    assert MAX_METRICS * MAX_VALUES == MAX_POINTS
    assert emf_metric_data(emf(members, [directive(names)]))
    assert emf_metric_data(emf(members, [directive(names, (("service",), ("stage",)))])) == {}


def test_an_execution_is_counted_in_the_metric_of_the_status_it_reaches_for_its_state_machine():
    arn = "arn:aws:states:us-east-1:000000000000:stateMachine:imagepipe-batch"
    (failed,) = execution_metric_data(arn, "FAILED", 1.0)
    assert failed == {
        "MetricName": "ExecutionsFailed",
        "Dimensions": [{"Name": "StateMachineArn", "Value": arn}],
        "Unit": "Count",
        "Timestamp": 1.0,
        "Value": 1,
    }
    named = {status: execution_metric_data(arn, status, 1.0)[0]["MetricName"] for status in ("RUNNING", "SUCCEEDED")}
    assert named == {"RUNNING": "ExecutionsStarted", "SUCCEEDED": "ExecutionsSucceeded"}
    assert execution_metric_data(arn, "PENDING_REDRIVE", 1.0) == []  # no metric of AWS's counts it
