"""Image events (docs/events.md): the stack's own EventBridge bus, the images table's stream, and
the events function mapped to that stream, which sends each change that is an event to the bus.

Why a stream and not a call from the processor and the API: the event then follows from the
record's write itself, whoever wrote it (processor, API, reconcile, reprocess), and Lambda's
stream mapping retries a batch until the function succeeds, so nothing written is left untold
(at least once; `eventId` de-duplicates).
"""

from __future__ import annotations

from collections.abc import Callable

from bootstrap.deploy.config import StackConfig
from bootstrap.deploy.executor import Aws

# The stream carries each record as it was and as it is: handlers.image_events compares them.
STREAM = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
# How the events function reads it. From the stream's oldest change: a change made between the
# stream's start and the mapping's is not skipped (a mapping made again re-sends up to a day of
# events, with their same ids). One batch at a time per shard keeps one image's events in order;
# no batching window: the page waits on these. A failed batch is retried as long as the stream
# keeps it (-1: until its changes are 24 hours old), halved each time to isolate what fails.
MAPPING = {
    "StartingPosition": "TRIM_HORIZON",
    "BatchSize": 100,
    "MaximumBatchingWindowInSeconds": 0,
    "ParallelizationFactor": 1,
    "MaximumRetryAttempts": -1,
    "MaximumRecordAgeInSeconds": -1,
    "BisectBatchOnFunctionError": True,
}


# Services the stack uses that deploy makes no client of: Lambda's mapping reads the table's stream
# (LocalStack runs it as a service of its own, to be listed in its SERVICES).
SERVICES_BEYOND_CLIENTS = ("dynamodbstreams",)


LISTING_PAGE = 100  # rules or targets a listing call returns (EventBridge's largest page)
REMOVE_TARGETS_MAX = 10  # ids RemoveTargets takes a call


def event_bus_arn(cfg: StackConfig, account: str) -> str:
    return f"arn:aws:events:{cfg.region}:{account}:event-bus/{cfg.event_bus}"


def table_stream_arns(cfg: StackConfig, account: str) -> str:
    """Every stream of the images table (its label changes if it is ever turned off and on)."""
    return f"arn:aws:dynamodb:{cfg.region}:{account}:table/{cfg.table}/stream/*"


def ensure_event_bus(aws: Aws, cfg: StackConfig) -> str:
    try:
        return aws.events.describe_event_bus(Name=cfg.event_bus)["Arn"]
    except aws.events.exceptions.ResourceNotFoundException:
        return aws.events.create_event_bus(Name=cfg.event_bus, Description="imagepipe: image events")["EventBusArn"]


def ensure_table_stream(aws: Aws, cfg: StackConfig) -> str:
    """The images table's stream (new and old images), turned on if it is not; its ARN."""
    try:
        table = aws.dynamodb.describe_table(TableName=cfg.table)["Table"]
    except aws.dynamodb.exceptions.ResourceNotFoundException:
        table = {}  # a dry run, where the table's own step only showed its creation
    if table.get("StreamSpecification") == STREAM and table.get("LatestStreamArn"):
        return table["LatestStreamArn"]
    arn = aws.dynamodb.update_table(TableName=cfg.table, StreamSpecification=STREAM)["TableDescription"][
        "LatestStreamArn"
    ]
    aws.wait(aws.dynamodb, "table_exists", TableName=cfg.table)  # ACTIVE again
    return arn


def ensure_stream_mapping(aws: Aws, cfg: StackConfig, stream_arn: str) -> None:
    """The events function reads the table's stream (one mapping; a later deploy keeps it, so its
    position in the stream too)."""
    function = cfg.function("events")
    found = aws.lambda_.list_event_source_mappings(EventSourceArn=stream_arn, FunctionName=function)
    if found.get("EventSourceMappings"):
        return
    aws.lambda_.create_event_source_mapping(EventSourceArn=stream_arn, FunctionName=function, Enabled=True, **MAPPING)


def ensure_image_events(aws: Aws, cfg: StackConfig) -> str:
    """The bus, the table's stream and its mapping to the events function (made before); the bus's ARN."""
    bus_arn = ensure_event_bus(aws, cfg)
    ensure_stream_mapping(aws, cfg, ensure_table_stream(aws, cfg))
    return bus_arn


# --- destroy ------------------------------------------------------------------------------------


def remove_image_events(aws: Aws, cfg: StackConfig, log: Callable[[str], None]) -> None:
    """The stream's mapping, then every rule on the bus (their targets first; subscribers' rules
    too, named in the log), then the bus. The stream goes with the table."""
    function = cfg.function("events")
    try:
        mappings = aws.lambda_.list_event_source_mappings(FunctionName=function)["EventSourceMappings"]
    except aws.lambda_.exceptions.ResourceNotFoundException:
        mappings = []
    for mapping in mappings:
        aws.lambda_.delete_event_source_mapping(UUID=mapping["UUID"])
        log(f"deleted the stream mapping of {function}")
    try:
        aws.events.describe_event_bus(Name=cfg.event_bus)
    except aws.events.exceptions.ResourceNotFoundException:
        return
    # Listed whole before any is deleted (pages of 100: a deletion would shift the pages). A
    # subscriber's rule goes too: a bus with rules cannot be deleted, and it would outlive its bus.
    pages = {"PageSize": LISTING_PAGE}
    rules = [
        r
        for page in aws.events.get_paginator("list_rules").paginate(EventBusName=cfg.event_bus, PaginationConfig=pages)
        for r in page["Rules"]
    ]
    for rule in rules:
        targets = [
            t["Id"]
            for page in aws.events.get_paginator("list_targets_by_rule").paginate(
                Rule=rule["Name"], EventBusName=cfg.event_bus, PaginationConfig=pages
            )
            for t in page["Targets"]
        ]
        for start in range(0, len(targets), REMOVE_TARGETS_MAX):
            ids = targets[start : start + REMOVE_TARGETS_MAX]
            aws.events.remove_targets(Rule=rule["Name"], EventBusName=cfg.event_bus, Ids=ids)
        aws.events.delete_rule(Name=rule["Name"], EventBusName=cfg.event_bus)
        log(f"deleted rule {rule['Name']} of bus {cfg.event_bus}")
    aws.events.delete_event_bus(Name=cfg.event_bus)
    log(f"deleted event bus {cfg.event_bus}")
