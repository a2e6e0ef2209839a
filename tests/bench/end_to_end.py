"""`make bench` (second part): uploads of 12 MP photos through the whole embedded stack.

A fresh emulator and stack; N uploads through the API and the presigned POST by a chosen
number of concurrent clients, each uploading a photo and waiting for it to be processed
before the next (as a person at the page does). Reports throughput, latency from upload-complete to `processed` (from the
record's updatedAt; same machine, same clock), and the ratio of end-to-end throughput to
the bare pipeline's throughput (make_renditions in 2 processes) measured in the same run.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path


from tests.bench.imaging import RESULTS, log, make_inputs, throughput
from tests.stack import deploy_stack

# How often a client asks for its photo's status (an API Lambda call each, on the same 2
# cores as everything else). Tried: 0.25 s gives 7.5/s, 0.1 s 9.8/s, 0.05 s 13/s; a single
# watcher listing the gallery instead was slower (6-8/s): each list presigns 2 URLs per item.
POLL_SECONDS = float(os.environ.get("BENCH_POLL_SECONDS", "0.05"))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run(count: int, concurrency: int) -> dict:
    photo = make_inputs()["jpeg-12mp"]
    data = photo.read_bytes()
    log(f"bare pipeline: 2 worker processes on {photo.name}")
    bare = throughput(photo, 2, 24)
    with tempfile.TemporaryDirectory(prefix="imagepipe-bench-") as state, deploy_stack(Path(state)) as stack:
        done_at: dict[str, float] = {}
        finished: dict[str, dict] = {}
        next_index = iter(range(count))

        def client() -> None:
            for i in next_index:  # shared iterator: each upload is taken by one client
                created = stack.upload(data, f"bench-{i}.jpg", "image/jpeg")
                done_at[created["id"]] = time.time()
                try:
                    finished[created["id"]] = stack.wait_final(created["id"], 120, poll=POLL_SECONDS)
                except AssertionError:
                    pass  # counted as lost below
                if len(done_at) % 20 == 0:
                    log(f"  {len(done_at)}/{count} uploaded, {len(finished)} finished")

        log(f"end to end: {count} uploads of {len(data) / 1e6:.1f} MB by {concurrency} concurrent clients")
        start = time.time()
        with ThreadPoolExecutor(concurrency) as pool:
            for future in [pool.submit(client) for _ in range(concurrency)]:
                future.result()
        ends = {i: datetime.fromisoformat(r["updatedAt"].replace("Z", "+00:00")).timestamp()
                for i, r in finished.items()}
        latencies = [ends[i] - done_at[i] for i in finished]
        elapsed = max(ends.values()) - start
    processed = sum(1 for r in finished.values() if r["status"] == "processed")
    end_to_end = processed / elapsed
    return {
        "uploads": count, "concurrency": concurrency, "model": "closed loop: upload, wait until processed, next",
        "processed": processed,
        "failed": sum(1 for r in finished.values() if r["status"] == "failed"), "lost": len(done_at) - len(finished),
        "elapsed_s": round(elapsed, 2), "throughput_per_s": round(end_to_end, 2),
        "latency_s": {"p50": round(percentile(latencies, 50), 3), "p95": round(percentile(latencies, 95), 3),
                      "p99": round(percentile(latencies, 99), 3)},
        "bare_pipeline_per_s": round(bare, 2), "ratio_to_bare": round(end_to_end / bare, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="make bench (end to end)")
    parser.add_argument("--uploads", type=int, default=int(os.environ.get("BENCH_UPLOADS", "200")))
    parser.add_argument("--concurrency", type=int, default=int(os.environ.get("BENCH_CONCURRENCY", "4")))
    args = parser.parse_args()
    result = run(args.uploads, args.concurrency)
    print(f"\nend to end: {result['uploads']} uploads of a 12 MP JPEG by {result['concurrency']} concurrent clients"
          " (each waits for its photo to be processed before the next)")
    print(f"  processed {result['processed']}, failed {result['failed']}, lost {result['lost']}")
    print(f"  throughput {result['throughput_per_s']}/s; bare pipeline (2 processes) {result['bare_pipeline_per_s']}/s;"
          f" ratio {result['ratio_to_bare']}")
    lat = result["latency_s"]
    print(f"  upload-complete -> processed: p50 {lat['p50']} s, p95 {lat['p95']} s, p99 {lat['p99']} s")
    goals = [("end-to-end throughput >= 0.8x the bare pipeline", result["ratio_to_bare"],
              result["ratio_to_bare"] >= 0.8),
             ("p95 latency < 2 s", lat["p95"], lat["p95"] < 2),
             ("none lost", result["lost"], result["lost"] == 0)]
    print("goals (measured in this run):")
    for text, value, ok in goals:
        print(f"  [{'met' if ok else 'NOT MET'}] {text}: {value}")
    RESULTS.mkdir(exist_ok=True)
    result["goals"] = [{"goal": t, "value": v, "met": ok} for t, v, ok in goals]
    (RESULTS / "end_to_end.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"results: {RESULTS / 'end_to_end.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
