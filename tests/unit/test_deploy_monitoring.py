"""bootstrap/deploy/monitoring.py: every alarm watches a metric something publishes, notifies the
stack's topic, and says why; ALARM_EMAIL is subscribed on AWS only; the dashboard is AWS's."""

from __future__ import annotations

import pytest

from bootstrap.deploy.config import PROCESSOR_TIMEOUT_S, StackConfig
from bootstrap.deploy.monitoring import ALARMS
from bootstrap.deploy.plan import plan
from handlers import telemetry

AWS_METRICS = {  # what AWS itself publishes (the local stack: bootstrap/emulator_metrics.py for SQS)
    ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
    ("AWS/Lambda", "Errors"),
    ("AWS/Lambda", "Throttles"),
    ("AWS/Lambda", "IteratorAge"),  # for functions mapped to a stream
    ("AWS/ApiGateway", "5XXError"),
    ("AWS/States", "ExecutionsFailed"),
}


def calls(cfg: StackConfig) -> list:
    return plan(cfg, show=lambda _: None).calls


@pytest.mark.parametrize("target", ["embedded", "aws"])
def test_each_alarm_watches_a_published_metric_and_notifies_the_topic(target):
    cfg = StackConfig(target=target, region="eu-west-1", endpoint_url=None)
    made = calls(cfg)
    alarms = [c.params for c in made if c.operation == "put_metric_alarm"]
    assert [a["AlarmName"] for a in alarms] == [f"{cfg.prefix}-{a.name}" for a in ALARMS]
    own = {m.name: m for m in telemetry.METRICS}
    (topic,) = [c for c in made if c.operation == "create_topic"]
    for alarm in alarms:
        if alarm["Namespace"] == cfg.prefix:  # the stack's own: declared, with the dimension Powertools adds
            assert alarm["MetricName"] in own and not own[alarm["MetricName"]].dimensions
            assert alarm["Dimensions"] == [{"Name": "service", "Value": telemetry.PROCESSOR_SERVICE}]
        else:
            assert (alarm["Namespace"], alarm["MetricName"]) in AWS_METRICS
        assert alarm["AlarmActions"] == alarm["OKActions"] == ["<sns.CreateTopic.TopicArn>"]
        assert alarm["AlarmDescription"] and alarm["TreatMissingData"] == "notBreaching"
    assert topic.params == {"Name": cfg.alarm_topic}
    # The functions write their metrics to the stack's namespace, as themselves.
    environments = {
        c.params["FunctionName"]: c.params["Environment"]["Variables"] for c in made if "Environment" in c.params
    }
    for name, env in environments.items():
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == cfg.prefix
        assert cfg.function(env["POWERTOOLS_SERVICE_NAME"]) == name
    assert ("put_dashboard" in [c.operation for c in made]) == (target == "aws")


def test_the_processing_time_alarm_is_80_percent_of_the_timeout():
    (alarm,) = [a for a in ALARMS if a.name == "processing-time"]
    assert alarm.threshold == 0.8 * PROCESSOR_TIMEOUT_S * 1000 and alarm.statistic == "p99"


def test_alarm_email_is_subscribed_on_aws_only(monkeypatch):
    from bootstrap.__main__ import config_for

    monkeypatch.setenv("ALARM_EMAIL", "ops@example.com")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    subscribed = {
        target: [c.params for c in calls(config_for(target)) if c.operation == "subscribe"]
        for target in ("embedded", "aws")
    }
    assert subscribed["embedded"] == []
    assert subscribed["aws"] == [
        {"TopicArn": "<sns.CreateTopic.TopicArn>", "Protocol": "email", "Endpoint": "ops@example.com"}
    ]


def test_the_health_view_reads_exactly_the_alarms_deploy_makes():
    assert tuple(a.name for a in ALARMS) == telemetry.ALARM_NAMES
