"""Operator story: on the local stack, as on AWS, a photo and a refused file move the stack's
metrics; an upload that keeps failing drives the dead-letter alarm to ALARM, its notification
reaches whoever subscribed to the alarms' topic, and a redrive brings it back to OK."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from handlers import telemetry
from tests.images import phone_jpeg
from tests.integration.test_nothing_lost import dead_letters

pytestmark = pytest.mark.integration


def namespace(stack) -> str:
    return stack.outputs["apiEnvironment"]["POWERTOOLS_METRICS_NAMESPACE"]


def total(stack, metric: telemetry.Metric, service: str, statistic: str = "Sum", **dimensions: str) -> float:
    """The metric over the last hour, for exactly these dimensions (its service and any others)."""
    now = datetime.now(UTC)
    points = stack.client("cloudwatch").get_metric_statistics(
        Namespace=namespace(stack),
        MetricName=metric.name,
        Dimensions=[{"Name": k, "Value": v} for k, v in ({"service": service} | dimensions).items()],
        StartTime=now - timedelta(hours=1),
        EndTime=now + timedelta(minutes=1),
        Period=3600,
        Statistics=[statistic],
    )["Datapoints"]
    return sum(p[statistic] for p in points)


def eventually(check, seconds: float = 30):
    """Wait for a condition (metrics are put once the function's output is written), bounded."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not within the time limit"
        time.sleep(0.3)


def test_a_photo_and_a_refused_file_each_move_the_right_metrics(stack):
    processor, api = telemetry.PROCESSOR_SERVICE, telemetry.API_SERVICE
    refused_code = "not_an_image"
    before = {
        "processed": total(stack, telemetry.PHOTOS_PROCESSED, processor),
        "refused": total(stack, telemetry.PHOTOS_REFUSED, processor),
        "by_code": total(stack, telemetry.REFUSALS_BY_CODE, processor, code=refused_code),
        "latencies": total(stack, telemetry.UPLOAD_TO_READY, processor, "SampleCount"),
        "posts": total(stack, telemetry.API_REQUESTS, api, route="POST /uploads", status="201"),
    }
    photo = stack.upload(phone_jpeg(640, 480), "counted.jpg", "image/jpeg")
    refused = stack.upload(b"%PDF-1.4 not a photo" * 20, "counted.jpg", "image/jpeg")
    assert stack.wait_final(photo["id"])["status"] == "processed"
    failed = stack.wait_final(refused["id"])
    assert failed["status"] == "failed" and failed["error"]["code"] == refused_code

    def moved() -> bool:
        return (
            total(stack, telemetry.PHOTOS_PROCESSED, processor) >= before["processed"] + 1
            and total(stack, telemetry.PHOTOS_REFUSED, processor) >= before["refused"] + 1
            and total(stack, telemetry.REFUSALS_BY_CODE, processor, code=refused_code) >= before["by_code"] + 1
            and total(stack, telemetry.UPLOAD_TO_READY, processor, "SampleCount") >= before["latencies"] + 1
            and total(stack, telemetry.API_REQUESTS, api, route="POST /uploads", status="201") >= before["posts"] + 2
        )

    eventually(moved)
    # The time from the upload form to the gallery is a real duration: more than nothing, less than the test.
    latest = total(stack, telemetry.UPLOAD_TO_READY, processor, "Maximum")
    assert 0 < latest < 600_000


def subscribed_queue(stack, name: str) -> str:
    """A queue subscribed to the stack's alarm topic, as an operator's pager would be."""
    (topic,) = [
        t
        for t in (x["TopicArn"] for x in stack.client("sns").list_topics()["Topics"])
        if t.endswith(":" + alarm_topic(stack))
    ]
    return stack.subscribe_queue(topic, name)


def alarm_topic(stack) -> str:
    return f"{namespace(stack)}-alarms"


def notifications(stack, url: str, alarm: str) -> list[str]:
    """The new states the alarm's notifications in the queue announced, in order."""
    sqs, states = stack.client("sqs"), []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            return states
        for message in messages:
            body = json.loads(message["Body"])
            if body.get("AlarmName") == alarm:
                states.append(body["NewStateValue"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_an_upload_that_keeps_failing_fires_the_dead_letter_alarm_until_it_is_redriven(stack):
    alarm = f"{namespace(stack)}-dead-letters"
    cloudwatch = stack.client("cloudwatch")
    state = cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["StateValue"]
    assert state != "ALARM", "the dead-letter queue must start empty"
    url = subscribed_queue(stack, "operator-pager")
    seen: list[str] = []

    def heard(new_state: str) -> bool:
        seen.extend(notifications(stack, url, alarm))
        return new_state in seen

    with stack.function_env("processor", FAULT_INJECTION="rendition_put_always"):
        created = stack.upload(phone_jpeg(600, 400), "poison.jpg", "image/jpeg")
        eventually(lambda: heard("ALARM"), seconds=90)
    assert cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["StateValue"] == "ALARM"
    assert f"uploads/{created['id']}" in dead_letters(stack)
    dead_letters(stack, "redrive")  # fixed: send it back; the queue empties
    eventually(lambda: heard("OK"), seconds=60)
    assert stack.wait_final(created["id"])["status"] == "processed"
    assert cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["StateValue"] == "OK"
