"""The embedded emulator's CloudWatch, fed as AWS feeds it: the functions' embedded-metric-format
log lines become metrics, queues publish their depth, and an alarm watches the series it names.

MiniStack (1.5.33, pinned in requirements-emulator.txt; these hooks name its internals, so a new
version must pass tests/integration/test_emulator_metrics.py before the pin moves) stores every
log line but turns none into a metric, publishes no `AWS/SQS` metric, and evaluates an alarm over
every series of its metric, whatever their dimensions: the dead-letter alarm would fire on any
queue's depth. install(), in the emulator's own process (bootstrap/emulator.py), adds:

- Embedded metric format: each log event stored (a function's output line, PutLogEvents, ...: all
  go through `cloudwatch_logs._append_log_events`) whose message is an EMF document is put into
  CloudWatch as a PutMetricData of the same data would be: each metric, with each dimension set,
  its unit and the document's timestamp, and the alarm evaluation and actions a put triggers. AWS
  too extracts EMF from every event (PutLogEvents' `x-amzn-logs-format: json/emf` header is
  optional). A document CloudWatch would refuse is skipped whole (emf_metric_data); logging never
  fails for it.
- Queue depth: `AWS/SQS` ApproximateNumberOfMessagesVisible and ApproximateAgeOfOldestMessage
  (dimension QueueName), one value each, whenever a queue may have changed: a message sent by
  anyone (every producer, the API and MiniStack's own deliveries alike, sets its `esm_wake` event
  right after it enqueues), received, deleted, purged, its visibility changed, a queue created, or
  its attributes read (which is when an expired visibility timeout shows). AWS publishes them once
  a minute instead, so locally an alarm sees a change at once.
- Step Functions' execution counts: `AWS/States` ExecutionsStarted, -Succeeded, -Failed, -Aborted
  and -TimedOut (dimension StateMachineArn), one each time an execution reaches that status, as
  AWS counts them (MiniStack sends the status change to EventBridge and counts nothing).
- Alarms on their own series: an alarm is evaluated on the points of the metric with exactly its
  dimensions, as on AWS (the rest of MiniStack's evaluation is unchanged: one statistic over the
  whole Period x EvaluationPeriods window, on each put; no timer).

The puts run on MiniStack's event loop, where its own CloudWatch requests run (so they never race
them), in the context (account, region) of what caused them, queued from whatever thread stored
the line or moved the message: they run before the loop serves its next request, so a direct
Invoke's metrics exist when its answer arrives.
"""

from __future__ import annotations

import contextvars
import json
import logging
import math
import threading
import time
from pathlib import Path

logger = logging.getLogger("imagepipe.metrics")

PINNED = "1.5.33"  # the MiniStack these hooks were written against (requirements-emulator.txt)
# CloudWatch's own bounds, which also bound the work one log line can cause.
MAX_EVENT_CHARS = 1024 * 1024  # a log event
MAX_METRICS = 100  # per metric directive (EMF)
MAX_VALUES = 100  # per metric (EMF)
MAX_DIMENSIONS = 30  # per dimension set (EMF)
MAX_DATUMS = 1000  # per document: PutMetricData's limit per request
MAX_POINTS = 10_000  # values in all of one document's data (series x values): a line's whole work
# CloudWatch takes metric data from two weeks back to two hours ahead: a line dated far in the future
# would otherwise count as recent in every alarm's window for good.
PAST_SECONDS, FUTURE_SECONDS = 14 * 24 * 3600, 2 * 3600
SQS_NAMESPACE = "AWS/SQS"
STATES_NAMESPACE = "AWS/States"
# The metric Step Functions counts an execution in when it reaches each status.
EXECUTION_METRICS = {
    "RUNNING": "ExecutionsStarted",
    "SUCCEEDED": "ExecutionsSucceeded",
    "FAILED": "ExecutionsFailed",
    "ABORTED": "ExecutionsAborted",
    "TIMED_OUT": "ExecutionsTimedOut",
}
# SQS API actions after which a queue's depth is published; sends are seen through esm_wake.
QUEUE_ACTIONS = frozenset(
    {
        "CreateQueue",
        "ReceiveMessage",
        "DeleteMessage",
        "DeleteMessageBatch",
        "ChangeMessageVisibility",
        "ChangeMessageVisibilityBatch",
        "PurgeQueue",
        "GetQueueAttributes",
    }
)


class NotEmf(ValueError):
    """A log message CloudWatch would not turn into metrics."""


# -- the pure core: what CloudWatch would put, from a log message or a queue's messages ----------


def emf_metric_data(message: str, now: float | None = None) -> dict[str, list[dict]]:
    """PutMetricData's MetricData by namespace for one log message; empty unless the message is an
    embedded-metric-format document CloudWatch accepts (a JSON object, `_aws` with a Timestamp in
    epoch milliseconds and CloudWatchMetrics, every member they name present and well typed,
    within the limits above, dated within CloudWatch's window around `now`, never in an AWS/
    namespace: those are AWS's own)."""
    if len(message) > MAX_EVENT_CHARS or '"_aws"' not in message:
        return {}  # the common case, a plain or structured log line, costs no parse
    try:
        return _metric_data(json.loads(message), time.time() if now is None else now)
    except (ValueError, RecursionError):  # not JSON, too deep, or NotEmf
        return {}


def _metric_data(document, now: float) -> dict[str, list[dict]]:
    meta = document.get("_aws") if isinstance(document, dict) else None
    if not isinstance(meta, dict):
        raise NotEmf("no _aws object")
    directives, timestamp = meta.get("CloudWatchMetrics"), meta.get("Timestamp")
    if not isinstance(directives, list) or not _is_number(timestamp):
        raise NotEmf("no CloudWatchMetrics list or Timestamp")
    if not now - PAST_SECONDS <= timestamp / 1000 <= now + FUTURE_SECONDS:
        raise NotEmf("Timestamp outside what CloudWatch accepts")
    by_namespace: dict[str, list[dict]] = {}
    count = 0
    for directive in directives:
        namespace, data = _directive_data(directive, document, timestamp / 1000, MAX_DATUMS - count)
        count += len(data)
        by_namespace.setdefault(namespace, []).extend(data)
    if sum(len(datum["Values"]) for data in by_namespace.values() for datum in data) > MAX_POINTS:
        raise NotEmf("more values than one line may put")
    return by_namespace


def _directive_data(directive, document: dict, seconds: float, room: int) -> tuple[str, list[dict]]:
    if not isinstance(directive, dict):
        raise NotEmf("a directive is not an object")
    namespace, metrics = directive.get("Namespace"), directive.get("Metrics")
    dimension_sets = directive.get("Dimensions", [])
    if not isinstance(namespace, str) or not namespace or not isinstance(dimension_sets, list):
        raise NotEmf("Namespace or Dimensions")
    if namespace.startswith("AWS/"):  # AWS's own metrics (a queue's depth) are not a log line's to say
        raise NotEmf("an AWS/ namespace")
    if not isinstance(metrics, list) or len(metrics) > MAX_METRICS:
        raise NotEmf("Metrics")
    if len(metrics) * max(1, len(dimension_sets)) > room:  # counted before any is built
        raise NotEmf("more series than one PutMetricData holds")
    # No dimension set at all: the metrics are published without dimensions, as [[]] would.
    dimensions = [_dimensions(keys, document) for keys in dimension_sets] or [[]]
    data = []
    for metric in metrics:
        if not isinstance(metric, dict):
            raise NotEmf("a metric is not an object")
        name, unit = metric.get("Name"), metric.get("Unit") or "None"
        if not isinstance(name, str) or not name or not isinstance(unit, str):
            raise NotEmf("a metric's Name or Unit")
        values = _values(document.get(name))
        data += [
            {"MetricName": name, "Dimensions": dims, "Unit": unit, "Timestamp": seconds, "Values": values}
            for dims in dimensions
        ]
    return namespace, data


def _dimensions(keys, document: dict) -> list[dict]:
    if not isinstance(keys, list) or len(keys) > MAX_DIMENSIONS:
        raise NotEmf("a dimension set")
    dims = []
    for key in keys:
        value = document.get(key) if isinstance(key, str) else None
        if not isinstance(value, str) or not value:
            raise NotEmf(f"dimension {key!r} has no string value")
        dims.append({"Name": key, "Value": value})
    return dims


def _values(member) -> list[float]:
    values = member if isinstance(member, list) else [member]
    if not values or len(values) > MAX_VALUES or not all(_is_number(v) for v in values):
        raise NotEmf("a metric's value")
    return [float(v) for v in values]


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def queue_depth(messages: list[dict], now: float) -> tuple[int, int]:
    """(messages visible, whole seconds since the oldest was enqueued) of a queue's messages as
    MiniStack holds them; a delayed or in-flight message is not visible but is the oldest."""
    visible = sum(1 for m in messages if m.get("visible_at", 0) <= now)
    oldest = min((m.get("enqueued_at", m.get("sent_at", now)) for m in messages), default=now)
    return visible, max(0, int(now - oldest))


def queue_metric_data(queue_name: str, visible: int, age: int, now: float) -> list[dict]:
    """What SQS publishes for a queue: its depth and its oldest message's age."""
    dims = [{"Name": "QueueName", "Value": queue_name}]
    return [
        {"MetricName": name, "Dimensions": dims, "Unit": unit, "Timestamp": now, "Value": value}
        for name, unit, value in (
            ("ApproximateNumberOfMessagesVisible", "Count", visible),
            ("ApproximateAgeOfOldestMessage", "Seconds", age),
        )
    ]


def execution_metric_data(state_machine_arn: str, status: str, now: float) -> list[dict]:
    """What Step Functions publishes when an execution of a state machine reaches a status."""
    name = EXECUTION_METRICS.get(status)
    if name is None:
        return []
    dims = [{"Name": "StateMachineArn", "Value": state_machine_arn}]
    return [{"MetricName": name, "Dimensions": dims, "Unit": "Count", "Timestamp": now, "Value": 1}]


def fingerprint(messages: list[dict]) -> tuple[int, str | None]:
    """Changes when a message is added (a new last id) or removed (fewer), without a walk."""
    return len(messages), messages[-1].get("id") if messages else None


def pinned_version(requirements: Path) -> str | None:
    """The MiniStack version a requirements file pins."""
    for line in requirements.read_text().splitlines():
        if line.startswith("ministack=="):
            return line.split("==", 1)[1].split()[0]
    return None


# -- the edges: MiniStack's hooks ----------------------------------------------------------------


def _quietly(fn, *args) -> None:
    try:
        fn(*args)
    except Exception:  # a metric lost, never the emulator's request
        logger.exception("metrics: %s failed", getattr(fn, "__name__", fn))


class Publisher:
    """Puts metric data into MiniStack's CloudWatch through its own PutMetricData, on its loop."""

    def __init__(self, ministack_app):
        self.app = ministack_app

    def later(self, fn, *args) -> None:
        """fn(*args) on MiniStack's event loop, in the caller's context (its account and region),
        queued before the loop serves its next request (MiniStack posts a direct Invoke's answer
        to the loop after this). Never raises into the request or delivery that called it."""
        context = contextvars.copy_context()
        loop = self.app._MAIN_LOOP
        if loop is None:  # not serving: services driven in this thread
            context.run(_quietly, fn, *args)
            return
        try:
            loop.call_soon_threadsafe(_quietly, fn, *args, context=context)
        except RuntimeError:  # the loop has closed: the emulator is stopping
            pass

    def put(self, namespace: str, metric_data: list[dict]) -> None:
        # Through the app's loader, as a request reaches it: the checkpoints see CloudWatch changed.
        cloudwatch = self.app._get_module("cloudwatch")
        cloudwatch._put_metric_data({}, {"Namespace": namespace, "MetricData": metric_data}, False, True)


class QueueWatch:
    """Publishes a queue's depth when it may have changed; only on the loop."""

    def __init__(self, publisher: Publisher, sqs, responses):
        self.publisher, self.sqs, self.responses = publisher, sqs, responses
        self.published: dict[str, tuple] = {}  # queue ARN -> its fingerprint when last published

    def publish(self, queue: dict) -> None:
        arn = queue["attributes"].get("QueueArn", "")
        owner, region = self.sqs._owner_from_queue_arn(arn)
        if (owner, region) != (self.responses.get_account_id(), self.responses.get_region()):
            return  # another account's queue, reached by URL: its metrics are its owner's
        messages = list(queue["messages"])  # a worker thread may replace the list meanwhile
        now = time.time()
        self.published[arn] = fingerprint(messages)
        self.publisher.put(SQS_NAMESPACE, queue_metric_data(queue["name"], *queue_depth(messages, now), now))

    def publish_named(self, ref: str) -> None:
        try:
            queue = self.sqs._get_q(ref)
        except self.sqs._Err:
            return  # deleted meanwhile
        self.publish(queue)

    def publish_changed(self) -> None:
        """Each queue of the caller's account and region that gained or lost a message."""
        for queue in self.sqs._queues.values():
            arn = queue["attributes"].get("QueueArn", "")
            if fingerprint(queue["messages"]) != self.published.get(arn):
                self.publish(queue)


_alarm_series = threading.local()  # dims_key: the series an alarm being evaluated here watches


def _watch_own_series(cloudwatch) -> None:
    """MiniStack's alarm evaluation, seeing only the series with exactly the alarm's dimensions:
    its metric store's items() is narrowed while an alarm is evaluated in this thread (a thread-
    local, so no other thread's reads are, and nothing it spawns inherits it)."""

    class AlarmSeriesMetrics(type(cloudwatch._metrics)):
        __slots__ = ()

        def items(self):
            pairs = super().items()
            wanted = getattr(_alarm_series, "dims_key", None)
            return pairs if wanted is None else [(key, points) for key, points in pairs if key[2] == wanted]

    cloudwatch._metrics.__class__ = AlarmSeriesMetrics  # the same store, one method narrowed
    evaluate = cloudwatch._evaluate_alarm

    def evaluate_alarm(alarm):
        dims = alarm.get("Dimensions") or []
        named = dims if isinstance(dims, dict) else cloudwatch._dims_from_list(dims)
        outer = getattr(_alarm_series, "dims_key", None)
        _alarm_series.dims_key = cloudwatch._dims_key(named)
        try:
            return evaluate(alarm)
        finally:
            _alarm_series.dims_key = outer

    cloudwatch._evaluate_alarm = evaluate_alarm


def _extracting_emf(append, publisher: Publisher):
    """MiniStack's log store, putting the EMF documents among the events it stores."""

    def append_log_events(stream, events):
        append(stream, events)
        try:
            by_namespace: dict[str, list[dict]] = {}
            for event in events or ():
                message = event.get("message") if isinstance(event, dict) else None
                for namespace, data in emf_metric_data(message if isinstance(message, str) else "").items():
                    by_namespace.setdefault(namespace, []).extend(data)
            for namespace, data in by_namespace.items():
                publisher.later(publisher.put, namespace, data)
        except Exception:  # the events are stored; only their metrics are lost
            logger.exception("metrics: extracting EMF failed")

    append_log_events._imagepipe_metrics = True
    return append_log_events


def _watch_queues(sqs, esm_wake, publisher: Publisher, queues: QueueWatch) -> None:
    """Publish a queue's depth after the SQS actions and the deliveries that may change it."""
    dispatch = sqs._dispatch

    async def dispatch_watched(action, data, qurl):
        result = await dispatch(action, data, qurl)
        if action in QUEUE_ACTIONS:
            ref = data.get("QueueName") if action == "CreateQueue" else data.get("QueueUrl") or qurl
            publisher.later(queues.publish_named, ref)
        return result

    def after(fn):  # Lambda's event source mapping receives and deletes through these
        def watched(queue_url, *args):
            try:
                return fn(queue_url, *args)
            finally:
                publisher.later(queues.publish_named, queue_url)

        return watched

    wake = esm_wake.set

    def wake_and_publish():
        wake()
        publisher.later(queues.publish_changed)

    sqs._dispatch = dispatch_watched
    sqs._receive_messages_for_esm = after(sqs._receive_messages_for_esm)
    sqs._delete_messages_for_esm = after(sqs._delete_messages_for_esm)
    esm_wake.set = wake_and_publish  # the one shared Event every producer sets after it enqueues


def _counting_executions(emit, publisher: Publisher):
    """Step Functions' status-change hook, counting each execution's new status as AWS/States does."""

    def emit_and_count(execution):
        try:
            emit(execution)
        finally:
            data = execution_metric_data(execution.get("stateMachineArn", ""), execution.get("status", ""), time.time())
            if data:
                publisher.later(publisher.put, STATES_NAMESPACE, data)

    return emit_and_count


def install() -> bool:
    """Hook MiniStack (idempotent); True when installed now."""
    from importlib.metadata import version

    from ministack import app as ministack_app
    from ministack.core import concurrency, responses
    from ministack.services import cloudwatch, cloudwatch_logs, sqs, stepfunctions

    if getattr(cloudwatch_logs._append_log_events, "_imagepipe_metrics", False):
        return False
    if version("ministack") != PINNED:
        logger.warning("metrics: written against MiniStack %s, running %s", PINNED, version("ministack"))
    publisher = Publisher(ministack_app)
    cloudwatch_logs._append_log_events = _extracting_emf(cloudwatch_logs._append_log_events, publisher)
    _watch_queues(sqs, concurrency.esm_wake, publisher, QueueWatch(publisher, sqs, responses))
    stepfunctions._emit_execution_status_event = _counting_executions(
        stepfunctions._emit_execution_status_event, publisher
    )
    _watch_own_series(cloudwatch)
    return True
