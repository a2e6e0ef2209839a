"""The local stack's CloudWatch is fed as AWS feeds it (bootstrap/emulator_metrics.py): a function's
embedded-metric-format line is a metric when its invocation returns, an alarm on it changes state
and notifies a queue subscribed to its topic, it watches only its own series, and a queue's depth
moves with what is sent, delivered and deleted. Unique names per test: the stack's own alarms and
metrics are untouched."""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from datetime import UTC, datetime, timedelta

import pytest

from bootstrap.deploy.config import RUNTIME

# A function that writes what the processor's Powertools Metrics writes: one EMF line.
PRINTER = """
import json, time

def handler(event, context):
    print(json.dumps({
        "_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [{
            "Namespace": event["namespace"], "Dimensions": [["service"]],
            "Metrics": [{"Name": "Widgets", "Unit": "Count"}]}]},
        "service": event["service"], "Widgets": event["values"]}))
    if event.get("fail"):
        raise RuntimeError("a poison event")
    return {"ok": True}
"""
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def unique(what: str) -> str:
    return f"test-metrics-{what}-{uuid.uuid4().hex[:8]}"


def statistics(stack, namespace: str, metric: str, dimensions: dict, since: datetime | None = None) -> dict:
    """Sum, SampleCount, Maximum and Minimum of the series with these dimensions (the last five
    minutes, or since then); {} when it has no point."""
    now = datetime.now(UTC)
    points = stack.client("cloudwatch").get_metric_statistics(
        Namespace=namespace,
        MetricName=metric,
        Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()],
        StartTime=since or now - timedelta(minutes=5),
        EndTime=now + timedelta(minutes=1),
        Period=60,
        Statistics=["Sum", "SampleCount", "Maximum", "Minimum"],
    )["Datapoints"]
    if not points:
        return {}
    return {
        "Sum": sum(p["Sum"] for p in points),
        "SampleCount": sum(p["SampleCount"] for p in points),
        "Maximum": max(p["Maximum"] for p in points),
        "Minimum": min(p["Minimum"] for p in points),
    }


def alarm_state(stack, name: str) -> str:
    return stack.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"]


@pytest.fixture(scope="module")
def printer(stack):
    """A function of this test's own that prints an EMF line (and fails when asked)."""
    stack.embedded_only("what the embedded emulator's CloudWatch is given is bootstrap/emulator_metrics.py's")
    iam, lam = stack.client("iam"), stack.client("lambda")
    name = unique("printer")
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("printer.py", PRINTER)
    lam.create_function(
        FunctionName=name,
        Runtime=RUNTIME,
        Role=role,
        Handler="printer.handler",
        Code={"ZipFile": code.getvalue()},
        Timeout=30,
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    yield name
    lam.delete_function(FunctionName=name)
    iam.delete_role(RoleName=name)


def invoke(stack, function: str, **event) -> dict:
    answer = stack.client("lambda").invoke(FunctionName=function, Payload=json.dumps(event).encode())
    return json.loads(answer["Payload"].read())


@pytest.fixture
def notified_queue(stack):
    """An SNS topic and a queue subscribed to it (its policy lets SNS deliver, as AUTH=true needs)."""
    sns, sqs = stack.client("sns"), stack.client("sqs")
    name = unique("alarms")
    topic = sns.create_topic(Name=name)["TopicArn"]
    url = stack.subscribe_queue(topic, name)
    yield topic, url
    sqs.delete_queue(QueueUrl=url)
    sns.delete_topic(TopicArn=topic)


def test_a_function_s_emf_line_is_a_metric_when_it_returns_and_its_alarm_notifies_a_subscribed_queue(
    stack, printer, notified_queue
):
    topic, queue_url = notified_queue
    cloudwatch, namespace, alarm = stack.client("cloudwatch"), unique("ns"), unique("alarm")
    cloudwatch.put_metric_alarm(
        AlarmName=alarm,
        Namespace=namespace,
        MetricName="Widgets",
        Dimensions=[{"Name": "service", "Value": "probe"}],
        Statistic="Sum",
        Period=300,
        EvaluationPeriods=1,
        Threshold=3,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        AlarmActions=[topic],
    )
    try:
        # Another series of the same metric: the alarm does not see it (MiniStack alone would).
        assert invoke(stack, printer, namespace=namespace, service="other", values=[50]) == {"ok": True}
        assert statistics(stack, namespace, "Widgets", {"service": "other"})["Sum"] == 50
        assert alarm_state(stack, alarm) == "INSUFFICIENT_DATA"

        invoke(stack, printer, namespace=namespace, service="probe", values=[1, 1])
        assert statistics(stack, namespace, "Widgets", {"service": "probe"}) == {
            "Sum": 2.0,
            "SampleCount": 2.0,
            "Maximum": 1.0,
            "Minimum": 1.0,
        }  # at once: no polling
        assert alarm_state(stack, alarm) == "OK"

        invoke(stack, printer, namespace=namespace, service="probe", values=2)
        assert alarm_state(stack, alarm) == "ALARM"
        received = stack.client("sqs").receive_message(QueueUrl=queue_url, WaitTimeSeconds=5)["Messages"]
        notification = json.loads(received[0]["Body"])  # raw delivery: what the alarm published
        assert (notification["AlarmName"], notification["NewStateValue"]) == (alarm, "ALARM")

        lines = stack.logs().filter_log_events(logGroupName=f"/aws/lambda/{printer}")["events"]
        assert len([line for line in lines if namespace in line["message"]]) == 3  # the log keeps them too
    finally:
        cloudwatch.delete_alarms(AlarmNames=[alarm])


def test_emf_put_through_the_logs_api_is_a_metric_and_a_malformed_line_breaks_nothing(stack):
    stack.embedded_only("what the embedded emulator's CloudWatch is given is bootstrap/emulator_metrics.py's")
    logs, namespace, group = stack.logs(), unique("ns"), unique("group")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now = int(time.time() * 1000)
    directive = {"Namespace": namespace, "Dimensions": [["service"], []], "Metrics": [{"Name": "Gadgets"}]}
    messages = [
        '{"_aws": {"Timestamp": ' + str(now) + ', "CloudWatchMetrics": [',  # cut short
        json.dumps({"_aws": {"Timestamp": now, "CloudWatchMetrics": [directive]}, "service": "x", "Gadgets": [3, 4]}),
        json.dumps({"_aws": {"Timestamp": now, "CloudWatchMetrics": [directive]}, "service": "x"}),  # no value
        "a plain line",
    ]
    try:
        logs.put_log_events(
            logGroupName=group, logStreamName="s", logEvents=[{"timestamp": now, "message": m} for m in messages]
        )
        stored = logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True)["events"]
        assert [e["message"] for e in stored] == messages
        assert statistics(stack, namespace, "Gadgets", {"service": "x"}) == {
            "Sum": 7.0,
            "SampleCount": 2.0,
            "Maximum": 4.0,
            "Minimum": 3.0,
        }
        series = stack.client("cloudwatch").list_metrics(Namespace=namespace, MetricName="Gadgets")["Metrics"]
        assert sorted(len(m["Dimensions"]) for m in series) == [0, 1]  # the empty set: one without dimensions
    finally:
        logs.delete_log_group(logGroupName=group)


def test_a_queue_s_depth_moves_with_what_is_sent_read_and_deleted(stack):
    stack.embedded_only("what the embedded emulator's CloudWatch is given is bootstrap/emulator_metrics.py's")
    sqs, name = stack.client("sqs"), unique("queue")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue = {"QueueName": name}
    try:
        assert statistics(stack, "AWS/SQS", "ApproximateNumberOfMessagesVisible", queue)["Maximum"] == 0
        for body in ("one", "two"):
            sqs.send_message(QueueUrl=url, MessageBody=body)
        assert statistics(stack, "AWS/SQS", "ApproximateNumberOfMessagesVisible", queue)["Maximum"] == 2
        deadline = time.monotonic() + 10  # an age in whole seconds: a second of real time must pass
        while statistics(stack, "AWS/SQS", "ApproximateAgeOfOldestMessage", queue)["Maximum"] < 1:
            assert time.monotonic() < deadline, "the oldest message's age was never published as a second"
            time.sleep(0.1)
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])  # observed: published again

        points = statistics(stack, "AWS/SQS", "ApproximateNumberOfMessagesVisible", queue)["SampleCount"]
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        deadline = time.monotonic() + 10
        while statistics(stack, "AWS/SQS", "ApproximateNumberOfMessagesVisible", queue)["SampleCount"] == points:
            assert time.monotonic() < deadline, "the receive published no depth"
            time.sleep(0.05)
        since = datetime.now(UTC)  # after the receive's own value: only the deletes' come after it
        for message in received:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        after = statistics(stack, "AWS/SQS", "ApproximateNumberOfMessagesVisible", queue, since=since)
        assert (after["Maximum"], after["SampleCount"]) == (0, 2)  # one value per delete
        age = statistics(stack, "AWS/SQS", "ApproximateAgeOfOldestMessage", queue, since=since)
        assert (age["Maximum"] >= 1, age["Minimum"]) == (True, 0)  # one left after the first delete, then none
    finally:
        sqs.delete_queue(QueueUrl=url)


def test_a_failed_event_s_delivery_to_its_dead_letter_queue_is_published(stack, printer):
    """The processor's path to its dead-letter queue: MiniStack's own delivery, not an SQS call."""
    sqs, lam, name = stack.client("sqs"), stack.client("lambda"), unique("dead-letters")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    lam.put_function_event_invoke_config(
        FunctionName=printer, MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {"Destination": arn}}
    )
    try:
        event = {"namespace": unique("ns"), "service": "probe", "values": 1, "fail": True}
        lam.invoke(FunctionName=printer, InvocationType="Event", Payload=json.dumps(event).encode())
        deadline = time.monotonic() + 30  # asynchronous: the invoke returns before the function runs
        while (
            statistics(stack, "AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": name}).get("Maximum", 0)
            < 1
        ):
            assert time.monotonic() < deadline, "no depth of 1 published for the dead-letter queue"
            time.sleep(0.2)
        visible = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        assert visible["Attributes"]["ApproximateNumberOfMessages"] == "1"
        assert statistics(stack, "AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": name})["Maximum"] == 1
    finally:
        lam.delete_function_event_invoke_config(FunctionName=printer)
        sqs.delete_queue(QueueUrl=url)
