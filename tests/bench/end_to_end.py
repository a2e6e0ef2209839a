"""`make bench` (second part): uploads of 12 MP photos through the whole embedded stack.

A fresh emulator and stack; N uploads through the API and the presigned POST by a chosen
number of concurrent clients, each uploading a photo and waiting for it to be processed
before the next (as a person at the page does). Reports throughput, latency from
upload-complete to `processed` (from the
record's updatedAt; same machine, same clock), and the ratio of end-to-end throughput to
the bare pipeline's throughput (make_renditions in one process per core) measured in the same run.

Both sides are measured warm: the bare pipeline warms its worker processes first, and the
stack first processes one photo per client (cold starts reported apart). It also reports
where the CPU went, per upload, from /proc (Linux): the emulator, each function's
execution environments, and this client; that is what bounds the ratio on one machine.
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


def cpu_seconds(root_pid: int) -> dict[str, float]:
    """CPU seconds used so far by the emulator's process tree, labelled by the function an
    execution environment runs (AWS_LAMBDA_FUNCTION_NAME), and by this process."""
    if not Path("/proc/self/stat").exists():
        return {}  # not Linux: the breakdown is left out
    tick = os.sysconf("SC_CLK_TCK")
    parents, used, labels = {}, {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        pid = int(entry.name)
        parents[pid], used[pid] = int(fields[1]), (int(fields[11]) + int(fields[12])) / tick
        names = [e.split(b"=", 1)[1].decode() for e in environ if e.startswith(b"AWS_LAMBDA_FUNCTION_NAME=")]
        labels[pid] = names[0] if names else "emulator"
    totals: dict[str, float] = {"bench client": used.get(os.getpid(), 0.0)}
    for pid in used:
        ancestor = pid
        while ancestor not in (root_pid, 0, 1) and ancestor in parents:
            ancestor = parents[ancestor]
        if ancestor == root_pid:
            totals[labels[pid]] = totals.get(labels[pid], 0.0) + used[pid]
    return totals


def run(count: int, concurrency: int) -> dict:
    photo = make_inputs()["jpeg-12mp"]
    data = photo.read_bytes()
    cores = os.cpu_count() or 1
    log(f"bare pipeline: {cores} worker processes (one per core) on {photo.name}")
    bare = throughput(photo, cores, 12 * cores)
    with tempfile.TemporaryDirectory(prefix="imagepipe-bench-") as state, deploy_stack(Path(state)) as stack:
        done_at: dict[str, float] = {}
        finished: dict[str, dict] = {}
        next_index = iter(range(count))

        log(f"warm-up: one photo per client ({concurrency}), not counted")
        warm_start = time.time()
        with ThreadPoolExecutor(concurrency) as pool:
            warm = list(pool.map(lambda i: stack.upload(data, f"warm-{i}.jpg", "image/jpeg")["id"], range(concurrency)))
            list(pool.map(lambda i: stack.wait_final(i, 120, poll=POLL_SECONDS), warm))
        warm_seconds = time.time() - warm_start

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
        cpu_before = cpu_seconds(stack.proc.pid)
        start = time.time()
        with ThreadPoolExecutor(concurrency) as pool:
            for future in [pool.submit(client) for _ in range(concurrency)]:
                future.result()
        cpu_after = cpu_seconds(stack.proc.pid)
        ends = {
            i: datetime.fromisoformat(r["updatedAt"].replace("Z", "+00:00")).timestamp() for i, r in finished.items()
        }
        latencies = [ends[i] - done_at[i] for i in finished]
        elapsed = max(ends.values()) - start
    processed = sum(1 for r in finished.values() if r["status"] == "processed")
    end_to_end = processed / elapsed
    cpu_ms = {
        name: round((cpu_after.get(name, 0.0) - cpu_before.get(name, 0.0)) / count * 1000, 1) for name in cpu_after
    }
    return {
        "uploads": count,
        "concurrency": concurrency,
        "model": "closed loop: upload, wait until processed, next",
        "processed": processed,
        "failed": sum(1 for r in finished.values() if r["status"] == "failed"),
        "lost": len(done_at) - len(finished),
        "elapsed_s": round(elapsed, 2),
        "throughput_per_s": round(end_to_end, 2),
        "latency_s": {
            "p50": round(percentile(latencies, 50), 3),
            "p95": round(percentile(latencies, 95), 3),
            "p99": round(percentile(latencies, 99), 3),
        },
        "bare_pipeline_per_s": round(bare, 2),
        "ratio_to_bare": round(end_to_end / bare, 2),
        "warm_up_s": round(warm_seconds, 2),
        "cpu_ms_per_upload": dict(sorted(cpu_ms.items(), key=lambda kv: -kv[1])),
        "cpu_ms_per_image_bare": round(cores / bare * 1000, 1),
        "cores": cores,
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="make bench (end to end)")
    parser.add_argument("--uploads", type=int, default=int(os.environ.get("BENCH_UPLOADS", "200")))
    parser.add_argument("--concurrency", type=int, default=int(os.environ.get("BENCH_CONCURRENCY", "4")))
    args = parser.parse_args()
    result = run(args.uploads, args.concurrency)
    print(
        f"\nend to end: {result['uploads']} uploads of a 12 MP JPEG by {result['concurrency']} concurrent clients"
        " (each waits for its photo to be processed before the next)"
    )
    print(f"  processed {result['processed']}, failed {result['failed']}, lost {result['lost']}")
    print(
        f"  throughput {result['throughput_per_s']}/s; bare pipeline ({result['cores']} processes)"
        f" {result['bare_pipeline_per_s']}/s;"
        f" ratio {result['ratio_to_bare']}"
    )
    lat = result["latency_s"]
    print(f"  upload-complete -> processed: p50 {lat['p50']} s, p95 {lat['p95']} s, p99 {lat['p99']} s")
    print(f"  warm-up (cold starts, not counted): {result['warm_up_s']} s")
    cpu = result["cpu_ms_per_upload"]
    if cpu:
        bare_ms, total = result["cpu_ms_per_image_bare"], sum(cpu.values())
        print(
            f"  CPU per upload (ms, {result['cores']} cores): "
            + ", ".join(f"{k} {v}" for k, v in cpu.items())
            + f"; total {total:.0f}"
        )
        # With every core busy, throughput is cores / total CPU per upload; the bare pipeline's
        # is cores / bare_ms, so their ratio can never exceed bare_ms / total.
        print(
            f"  the bare pipeline spends {bare_ms} ms of CPU per image; 0.8x allows {bare_ms / 0.8:.0f} ms per"
            f" upload for everything; ceiling of the ratio at this CPU cost: {bare_ms / total:.2f}"
        )
    goals = [
        ("end-to-end throughput >= 0.8x the bare pipeline", result["ratio_to_bare"], result["ratio_to_bare"] >= 0.8),
        ("p95 latency < 2 s", lat["p95"], lat["p95"] < 2),
        ("none lost", result["lost"], result["lost"] == 0),
    ]
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
