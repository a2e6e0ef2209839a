"""`make bench`: what the processor's metrics cost per photo, against what processing it costs
(docs/operations.md). In process: the telemetry of one processed photo (its samples, and the
invocation's line written as embedded metric format) and of one refused file, each timed over
many runs with stdout captured, next to make_renditions on a 12 MP photo JPEG (median of 5).
Results also go to bench-results/metrics.json. A measurement, never a test.
"""

from __future__ import annotations

import contextlib
import io
import json
import platform
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

from handlers import processor_telemetry
from handlers.imaging import make_renditions
from tests.images import phone_jpeg

RESULTS = Path(__file__).resolve().parents[2] / "bench-results"
RUNS = 2000


def per_call_us(work, runs: int = RUNS) -> float:
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink):
        start = time.perf_counter()
        for _ in range(runs):
            work()
        elapsed = time.perf_counter() - start
    return elapsed / runs * 1e6


def main() -> int:
    data = phone_jpeg(4000, 3000)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        result = make_renditions(data)
        times.append((time.perf_counter() - start) * 1000)
    processing_ms = statistics.median(times)
    uploaded = datetime.now(UTC)
    meter = processor_telemetry.meter

    def processed() -> None:
        processor_telemetry.measure_processed(result, len(data), processing_ms, 1024 * 1024 * 1024, uploaded)
        meter.invocation.flush_metrics()

    def refused() -> None:
        processor_telemetry.count_refusal("not_an_image")
        meter.invocation.flush_metrics()

    processed_us, refused_us = per_call_us(processed), per_call_us(refused)
    results = {
        "date": datetime.now(UTC).date().isoformat(),
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
        "processing_12mp_jpeg_ms": round(processing_ms, 1),
        "metrics_per_processed_photo_us": round(processed_us, 1),
        "metrics_per_refused_file_us": round(refused_us, 1),
        "share_of_processing_percent": round(processed_us / 1000 / processing_ms * 100, 4),
    }
    print("\n## The processor's metrics (per photo, in process)\n")
    print("| what | time |")
    print("|---|---|")
    print(f"| processing a 12 MP photo JPEG (make_renditions, median of 5) | {processing_ms:.0f} ms |")
    print(f"| its metrics: 6 samples and the invocation's EMF line | {processed_us:.0f} µs |")
    print(f"| a refused file's metrics: 2 samples, 2 lines | {refused_us:.0f} µs |")
    print(f"| metrics' share of a photo's processing | {results['share_of_processing_percent']:.3f}% |")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "metrics.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
