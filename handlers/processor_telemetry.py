"""What the processor tells its operator: its log lines, each about one image, and its metrics.

Every line about an image names it (`image_id`) and, for an upload through the API, its
correlation id (telemetry.CORRELATION_KEY: from the file's policy-bound metadata, or its record;
a file put straight into the bucket has none); the lines of the next image start clear. The
metrics (handlers.telemetry) are counted where the processor decides each outcome, one sample
per image: several images of one event are several samples of the invocation's line.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from aws_lambda_powertools import Logger

from handlers import outcome, telemetry
from handlers.meter import Meter
from handlers.outcome import Processed

logger = Logger(service="imagepipe-processor")
meter = Meter(telemetry.PROCESSOR_SERVICE, logger)


@contextmanager
def about(image_id: str, correlation_id: str | None = None) -> Iterator[None]:
    """Every log line inside names this image, and its upload's correlation id once known."""
    logger.append_keys(image_id=image_id)
    correlate(correlation_id)
    try:
        yield
    finally:
        logger.remove_keys(["image_id", telemetry.CORRELATION_KEY])


def correlate(correlation_id: str | None) -> None:
    """The image's correlation id, for its lines from here on (nothing if it has none)."""
    if correlation_id:
        logger.append_keys(**{telemetry.CORRELATION_KEY: correlation_id})


def count_refusal(code: str) -> None:
    # A copy of a photo the owner has is not a bad file: it is counted by its code, never toward
    # the refusal alarm (a person re-sending an album from an older client is no attack).
    if code != outcome.DUPLICATE:
        meter.record(telemetry.PHOTOS_REFUSED, 1)
    meter.record(telemetry.REFUSALS_BY_CODE, 1, code=code)


def measure_processed(
    result: Processed, source_bytes: int, processing_ms: float, budget_bytes: int, uploaded_at: datetime | None
) -> None:
    """A photo in the gallery: one sample of each of its metrics. `uploaded_at`: when its upload
    form was issued (None for a file put straight into the bucket: no form, no wait to measure)."""
    meter.record(telemetry.PHOTOS_PROCESSED, 1)
    meter.record(telemetry.PROCESSING_TIME, processing_ms)
    meter.record(telemetry.SOURCE_BYTES, source_bytes)
    meter.record(telemetry.RENDITION_BYTES, result.rendition_bytes)
    if result.peak_bytes:
        meter.record(telemetry.DECODE_BUDGET_USED, 100 * result.peak_bytes / budget_bytes)
    if uploaded_at is not None:
        waited = (datetime.now(UTC) - uploaded_at).total_seconds() * 1000
        meter.record(telemetry.UPLOAD_TO_READY, max(0.0, waited))  # never below 0 across clocks
