"""What the functions measure, said once: each metric's name, unit, dimensions and meaning.

The functions write them with Powertools Metrics (CloudWatch's embedded metric format in their
log lines: no extra calls); deploy's alarms and dashboard, the health view, docs/operations.md and
the local stack's metric forwarder read them from here. Standard library only: deploy imports it.

Namespace: the stack's prefix (deploy sets POWERTOOLS_METRICS_NAMESPACE), so two stacks in one
account or emulator never mix. Every metric carries the `service` dimension Powertools adds (the
function: POWERTOOLS_SERVICE_NAME); a few carry one more, of few values.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str  # CloudWatch's unit name
    meaning: str
    dimensions: tuple[str, ...] = ()  # beyond `service`


API_SERVICE, PROCESSOR_SERVICE = "api", "processor"  # the `service` dimension of each function
# The namespace of a function run without POWERTOOLS_METRICS_NAMESPACE (unit tests, the devserver):
# the default stack prefix (bootstrap.deploy.config.StackConfig.prefix).
FALLBACK_NAMESPACE = "imagepipe"

# The processor's.
PHOTOS_PROCESSED = Metric("PhotosProcessed", "Count", "photos rendered and listed")
PHOTOS_REFUSED = Metric(
    "PhotosRefused", "Count", "files refused for good (every code but `duplicate`; the refusal alarm's)"
)
REFUSALS_BY_CODE = Metric("RefusalsByCode", "Count", "files refused, by the record's error code", ("code",))
PROCESSING_FAILED = Metric("ProcessingFailed", "Count", "runs that failed unexpectedly (Lambda retries them)")
UPLOAD_TO_READY = Metric("UploadToReady", "Milliseconds", "from the upload form to the photo in the gallery")
PROCESSING_TIME = Metric("ProcessingTime", "Milliseconds", "one photo's processing, read to written")
SOURCE_BYTES = Metric("SourceBytes", "Bytes", "the original's size")
RENDITION_BYTES = Metric("RenditionBytes", "Bytes", "all renditions of one photo together")
DECODE_BUDGET_USED = Metric("DecodeBudgetUsed", "Percent", "the budget's estimate of peak memory, of the budget")
RERENDERS = Metric("Rerenders", "Count", "re-renders (make reprocess), by outcome", ("outcome",))
SWEEP_REDRIVEN = Metric("SweepRedriven", "Count", "stuck uploads the sweep re-drove")
OLDEST_UNFINISHED = Metric("OldestUnfinishedAge", "Seconds", "age of the oldest unfinished upload, each sweep")
# The API's.
API_REQUESTS = Metric("Requests", "Count", "API requests, by route and status", ("route", "status"))
QUOTA_REFUSALS = Metric("QuotaRefusals", "Count", "uploads refused by a person's quota")
# Powertools' own (capture_cold_start_metric), in each function's namespace and service.
COLD_START = Metric("ColdStart", "Count", "a new execution environment (its first invocation)", ("function_name",))

METRICS: tuple[Metric, ...] = (
    PHOTOS_PROCESSED,
    PHOTOS_REFUSED,
    REFUSALS_BY_CODE,
    PROCESSING_FAILED,
    UPLOAD_TO_READY,
    PROCESSING_TIME,
    SOURCE_BYTES,
    RENDITION_BYTES,
    DECODE_BUDGET_USED,
    RERENDERS,
    SWEEP_REDRIVEN,
    OLDEST_UNFINISHED,
    API_REQUESTS,
    QUOTA_REFUSALS,
    COLD_START,
)

# The alarms deploy makes, each named "<namespace>-<name>" (bootstrap/deploy/monitoring.py defines
# them; the health view reads exactly these, never another stack's that shares the prefix).
ALARM_NAMES = (
    "dead-letters",
    "processor-errors",
    "processor-throttles",
    "processing-failed",
    "processing-time",
    "stuck-uploads",
    "refusal-spike",
    "events-errors",
    "events-behind",
    "batch-failed",
    "api-5xx",
)

# The log key that names an upload's correlation id in every line about it (with `image_id`).
CORRELATION_KEY = "correlation_id"
