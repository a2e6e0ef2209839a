"""bootstrap/deploy/bus.py, read from deploy's own planned calls: the events function reads the
table's stream of whole records (as it was, as it is) from its oldest change and retries a batch
as long as the stream keeps it, and it sends to the very bus its policy names."""

from __future__ import annotations

import json

from bootstrap.deploy.config import StackConfig
from bootstrap.deploy.plan import plan

CFG = StackConfig(target="aws", region="eu-west-1", endpoint_url=None)


def test_the_events_function_reads_the_whole_stream_and_sends_to_the_bus_its_policy_names():
    calls = plan(CFG, show=lambda _: None).calls
    operations = [c.operation for c in calls]
    (stream,) = [c.params for c in calls if c.operation == "update_table" and "StreamSpecification" in c.params]
    assert stream["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    (mapping,) = [c.params for c in calls if c.operation == "create_event_source_mapping"]
    assert mapping["FunctionName"] == CFG.function("events") and mapping["Enabled"]
    assert mapping["EventSourceArn"] == "<dynamodb.UpdateTable.TableDescription.LatestStreamArn>"
    assert mapping["StartingPosition"] == "TRIM_HORIZON"  # nothing before the mapping skipped
    assert mapping["MaximumRetryAttempts"] == mapping["MaximumRecordAgeInSeconds"] == -1
    assert mapping["MaximumBatchingWindowInSeconds"] == 0  # the page waits on these
    # The function exists before its mapping, the table is settled before its stream starts.
    function = next(
        i
        for i, c in enumerate(calls)
        if c.operation == "create_function" and c.params["FunctionName"].endswith("events")
    )
    assert function < operations.index("create_event_source_mapping")
    assert operations.index("put_item") < operations.index("create_event_source_mapping")  # deploy's backfill note
    env = calls[function].params["Environment"]["Variables"]
    (bus,) = [c.params for c in calls if c.operation == "create_event_bus"]
    assert env["EVENT_BUS_NAME"] == bus["Name"] == CFG.event_bus
    (policy,) = [
        json.loads(c.params["PolicyDocument"])
        for c in calls
        if c.operation == "put_role_policy" and c.params["RoleName"] == f"{CFG.function('events')}-role"
    ]
    granted = [s["Resource"] for s in policy["Statement"] if s["Action"] == ["events:PutEvents"]]
    assert granted == [[f"arn:aws:events:eu-west-1:ACCOUNT:event-bus/{bus['Name']}"]]
