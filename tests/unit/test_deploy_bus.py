"""bootstrap/deploy/bus.py's destroy: the bus goes with every rule on it, however many rules and
targets there are (listings come in pages). RemoveTargets takes ten ids a call on AWS; moto
does not check that, so the chunks are only exercised here, not proven."""

from __future__ import annotations

import json

import pytest

from bootstrap.deploy import bus
from bootstrap.deploy.config import StackConfig
from bootstrap.deploy.executor import Aws

CFG = StackConfig(target="aws", region="us-east-1", endpoint_url=None)


def test_destroy_removes_a_bus_with_more_rules_and_targets_than_one_page_or_call(moto, monkeypatch):
    monkeypatch.setattr(bus, "LISTING_PAGE", 2)  # moto pages only when asked: small pages, many of them
    aws = Aws(CFG)
    bus.ensure_event_bus(aws, CFG)
    for n in range(5):  # the stack's own rules and subscribers' alike
        aws.events.put_rule(Name=f"rule-{n}", EventBusName=CFG.event_bus, EventPattern=json.dumps({"source": ["x"]}))
    queue = "arn:aws:sqs:us-east-1:123456789012:subscriber-{}"
    targets = [{"Id": f"t{n}", "Arn": queue.format(n)} for n in range(3 * bus.REMOVE_TARGETS_MAX - 1)]
    for start in range(0, len(targets), 10):  # PutTargets takes ten a call
        aws.events.put_targets(Rule="rule-3", EventBusName=CFG.event_bus, Targets=targets[start : start + 10])
    said = []

    bus.remove_image_events(aws, CFG, said.append)

    with pytest.raises(aws.events.exceptions.ResourceNotFoundException):
        aws.events.describe_event_bus(Name=CFG.event_bus)
    assert [line for line in said if line.startswith("deleted rule")] == [
        f"deleted rule rule-{n} of bus {CFG.event_bus}" for n in range(5)
    ]
