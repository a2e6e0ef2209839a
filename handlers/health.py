"""The stack's health, for admins (GET /admin/health, the page's Health view) and operators
(`python -m bootstrap stats`): its alarms, the last hour's photos, how long people wait for them,
and the oldest upload not yet finished.

One report, read with a few bounded calls: DescribeAlarms (the stack's, by name prefix), ListMetrics
(the refusal codes seen lately) and one GetMetricData (every series at once), and one Query of the
table's unfinished index. The callers pass the clients, the namespace (the stack's prefix: the
metrics' namespace and its alarms' prefix) and the clock. A failed CloudWatch call is
`errors.Unavailable` (503), never a 500.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from handlers import errors, telemetry
from handlers.schema import LIST_INDEX, TABLE_INDEXES

WINDOW_SECONDS = 3600  # "the last hour"
MAX_ALARMS = 100  # the stack makes 8; a bound, not a page size
MAX_CODES = 50  # refusal codes are a handful; a bound on the queries of one GetMetricData (at most 500)
MAX_LISTED_METRICS = 1000  # ListMetrics entries read while looking for them
PERCENTILES = ("p50", "p95")
_PROCESSOR = {"service": telemetry.PROCESSOR_SERVICE}  # the dimensions the processor's metrics carry


def report(cloudwatch, records, namespace: str, now: float) -> dict:
    """The health report at `now` (epoch seconds) for the stack whose metrics are in `namespace`."""
    end = _minute_after(now)
    start = end - timedelta(seconds=WINDOW_SECONDS)
    try:
        alarms = stack_alarms(cloudwatch, namespace)
        codes = refusal_codes(cloudwatch, namespace)
        answer = cloudwatch.get_metric_data(
            MetricDataQueries=metric_queries(namespace, codes),
            StartTime=start,
            EndTime=end,
            ScanBy="TimestampAscending",
        )
    except (ClientError, BotoCoreError) as exc:
        raise errors.Unavailable(f"CloudWatch did not answer ({_reason(exc)}); try again.") from None
    series = metric_values(answer["MetricDataResults"])
    oldest = oldest_waiting(records)
    return {
        "generatedAt": _iso(datetime.fromtimestamp(now, UTC)),
        "window": {"start": _iso(start), "end": _iso(end)},
        "alarms": alarms,
        "photos": {
            "processed": _count(series["processed"]),
            "refused": _count(series["refused"]),
            "refusedByCode": {code: n for i, code in enumerate(codes) if (n := _count(series[f"code{i}"]))},
        },
        "uploadToReadyMs": {p: _percentile(series[p]) for p in PERCENTILES},
        "oldestUnfinished": unfinished_view(oldest, now) if oldest else None,
    }


def stack_alarms(cloudwatch, namespace: str) -> list[dict]:
    """Deploy's alarms of this stack (telemetry.ALARM_NAMES, never another stack's whose name
    starts with this one's), by name: its state, why, and since when."""
    names = [f"{namespace}-{name}" for name in telemetry.ALARM_NAMES]
    pages = cloudwatch.get_paginator("describe_alarms").paginate(
        AlarmNames=names, PaginationConfig={"MaxItems": MAX_ALARMS}
    )
    return sorted((alarm_view(a) for page in pages for a in page["MetricAlarms"]), key=lambda a: a["name"])


def alarm_view(alarm: Mapping[str, Any]) -> dict:
    # StateTransitionedTimestamp: when the state last changed (StateUpdatedTimestamp also moves when
    # only the reason does); not every CloudWatch sends it.
    since = alarm.get("StateTransitionedTimestamp") or alarm.get("StateUpdatedTimestamp")
    return {
        "name": alarm["AlarmName"],
        "state": alarm["StateValue"],
        "reason": alarm.get("StateReason") or "",
        "since": _iso(since) if since else None,
    }


def refusal_codes(cloudwatch, namespace: str) -> list[str]:
    """The `code` values of RefusalsByCode with data in the last three hours, at most MAX_CODES."""
    pages = cloudwatch.get_paginator("list_metrics").paginate(
        Namespace=namespace,
        MetricName=telemetry.REFUSALS_BY_CODE.name,
        Dimensions=[{"Name": k, "Value": v} for k, v in _PROCESSOR.items()],
        RecentlyActive="PT3H",  # the only value CloudWatch takes: older codes cannot be in the last hour
        PaginationConfig={"MaxItems": MAX_LISTED_METRICS},
    )
    codes: set[str] = set()
    for page in pages:
        for metric in page["Metrics"]:
            dimensions = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
            code = dimensions.pop("code", None)
            if code and dimensions == _PROCESSOR and len(codes) < MAX_CODES:
                codes.add(code)
    return sorted(codes)


def metric_queries(namespace: str, codes: Iterable[str]) -> list[dict]:
    """One query per series, each over the whole window (Period = the window)."""

    def query(query_id: str, metric: telemetry.Metric, stat: str, **extra: str) -> dict:
        dimensions = _PROCESSOR | extra
        return {
            "Id": query_id,
            "MetricStat": {
                "Metric": {
                    "Namespace": namespace,
                    "MetricName": metric.name,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
                },
                "Period": WINDOW_SECONDS,
                "Stat": stat,
            },
        }

    return [
        query("processed", telemetry.PHOTOS_PROCESSED, "Sum"),
        query("refused", telemetry.PHOTOS_REFUSED, "Sum"),
        *(query(p, telemetry.UPLOAD_TO_READY, p) for p in PERCENTILES),
        *(query(f"code{i}", telemetry.REFUSALS_BY_CODE, "Sum", code=code) for i, code in enumerate(codes)),
    ]


def metric_values(results: Iterable[Mapping[str, Any]]) -> dict[str, list[float]]:
    """Each query's values; a series CloudWatch could not read fails the report."""
    values: dict[str, list[float]] = defaultdict(list)  # a series without data may be left out
    for result in results:
        if result.get("StatusCode", "Complete") not in ("Complete", "PartialData"):
            raise errors.Unavailable(f"CloudWatch could not read {result['Id']} ({result['StatusCode']}); try again.")
        values[result["Id"]] += result.get("Values", [])
    return values


def _count(values: list[float]) -> int:
    # AWS starts the one period at StartTime; an emulator may cut the window at the clock's hour
    # into two periods: a count is their sum.
    return int(sum(values))


def _percentile(values: list[float]) -> float | None:
    # Percentiles of two periods cannot be combined (see _count): the larger, never understating the wait.
    return round(max(values), 1) if values else None


# Unfinished records read to find the oldest upload whose file arrived: forms never used (a closed
# tab) come first in the index until they expire, and say nothing of the pipeline.
WAITING_SCAN = 25
LIST_KEY = TABLE_INDEXES[LIST_INDEX][0]  # set once the file has arrived


def oldest_waiting(records) -> Mapping[str, Any] | None:
    """The oldest unfinished record whose file has arrived (it is listed), as the sweep counts it."""
    try:
        return next((r for r in records.unfinished(WAITING_SCAN) if r.get(LIST_KEY)), None)
    except (ClientError, BotoCoreError) as exc:
        raise errors.Unavailable(f"The table did not answer ({_reason(exc)}); try again.") from None


def unfinished_view(record: Mapping[str, Any], now: float) -> dict:
    created_at = record.get("createdAt") or record["updatedAt"]
    created = datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    return {
        "id": record["id"],
        "status": record.get("status"),
        "createdAt": created_at,
        "ageSeconds": max(0, int(now - created.timestamp())),
    }


def as_text(health: Mapping[str, Any]) -> str:
    """The report for a terminal (`python -m bootstrap stats`)."""
    photos, wait, oldest = health["photos"], health["uploadToReadyMs"], health["oldestUnfinished"]
    width = max((len(a["name"]) for a in health["alarms"]), default=0)
    lines = [f"Alarms ({len(health['alarms'])}):"]
    for a in health["alarms"]:
        lines.append(f"  {a['name']:<{width}}  {a['state']:<17}  since {a['since'] or '-'}")
        if a["state"] == "ALARM":
            lines.append(f"    {a['reason']}")
    lines.append(f"Last hour ({health['window']['start']} to {health['window']['end']}):")
    lines.append(f"  photos processed  {photos['processed']}")
    lines.append(f"  photos refused    {photos['refused']}")
    lines += [f"    {code}: {n}" for code, n in sorted(photos["refusedByCode"].items())]
    for p in PERCENTILES:
        lines.append(f"  upload to ready {p}  " + ("-" if wait[p] is None else f"{wait[p] / 1000:.1f} s"))
    lines.append(
        "Oldest unfinished upload: "
        + (f"{oldest['id']} ({oldest['status']}, {oldest['ageSeconds']} s old)" if oldest else "none")
    )
    return "\n".join(lines)


def _minute_after(now: float) -> datetime:
    # The window ends on the minute after now, so it holds the latest data and starts on a whole
    # minute, where CloudWatch starts its periods (it rounds StartTime down to one).
    return datetime.fromtimestamp((int(now) // 60 + 1) * 60, UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _reason(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code") or "an error"
    return type(exc).__name__
