"""`make bench` (batch part): re-rendering a gallery on the batch state machine against the
operator's-machine path, on the same embedded stack.

A fresh emulator and stack; BENCH_BATCH_PHOTOS photos (default 2000, 2 MP phone JPEGs) uploaded
through the API and processed; then every one re-rendered (`reprocess --all`) twice, alternating
the order (BENCH_BATCH_ROUNDS): on the state machine (a distributed Map, the processor's batch path) and from this
machine (`--local`: four synchronous invocations at a time). Reports the wall time and photos
per second of each, and writes bench-results/batch.json.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

from bootstrap.package import ROOT
from tests.bench.imaging import RESULTS, log
from tests.images import phone_jpeg
from tests.stack import deploy_stack

PHOTOS = int(os.environ.get("BENCH_BATCH_PHOTOS", "2000"))
ROUNDS = int(os.environ.get("BENCH_BATCH_ROUNDS", "1"))  # each path once per round, the order alternating
CLIENTS = 2  # uploading


def processed_count(stack) -> int:
    table, count, start = stack.outputs["table"], 0, None
    dynamodb = stack.client("dynamodb")
    while True:
        page = dynamodb.scan(
            TableName=table,
            Select="COUNT",
            FilterExpression="#s = :p",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":p": {"S": "processed"}},
            **({"ExclusiveStartKey": start} if start else {}),
        )
        count += page["Count"]
        start = page.get("LastEvaluatedKey")
        if not start:
            return count


def upload(stack, data: bytes, name: str, tries: int = 5) -> None:
    """One upload; an API call that timed out under the load is tried again (not what is measured)."""
    for attempt in range(tries):
        try:
            stack.upload(data, name, "image/jpeg")
            return
        except AssertionError as exc:
            if attempt == tries - 1:
                raise
            log(f"  upload {name} tried again: {str(exc)[:100]}")
            time.sleep(5)


def populate(stack, count: int, chunk: int = 50) -> None:
    """Uploads in chunks, each processed before the next: a flood of uploads would starve the API
    function of the two cores (its 15 s timeout) while the processor works through them."""
    data = phone_jpeg(1600, 1200)
    deadline = time.monotonic() + 60 * 60
    for first in range(0, count, chunk):
        wanted = min(first + chunk, count)
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(lambda i: upload(stack, data, f"batch-{i}.jpg"), range(first, wanted)))
        while (done := processed_count(stack)) < wanted:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {done} of {count} processed after an hour")
            time.sleep(2)
        log(f"  {done}/{count} processed")


def reprocess_all(stack, *extra: str) -> float:
    """`python -m bootstrap reprocess --all [extra]`: its wall time in seconds."""
    env = {**os.environ, "IMAGEPIPE_STATE_DIR": str(stack.state), "AWS_ENDPOINT_URL": stack.endpoint}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "bootstrap", "reprocess", "--all", *extra],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    seconds = time.monotonic() - started
    said = done.stderr.strip().splitlines()
    if done.returncode != 0:
        raise RuntimeError("\n".join(said[-20:]))
    log(f"  {' '.join(extra) or 'state machine'}: {seconds:.0f} s; {said[-1] if said else ''}")
    return seconds


def main() -> int:
    log(f"batch: {PHOTOS} photos re-rendered on the state machine and from this machine")
    runs: dict[str, list[float]] = {"state machine": [], "this machine (--local)": []}
    with tempfile.TemporaryDirectory(prefix="imagepipe-bench-") as state, deploy_stack(Path(state)) as stack:
        log(f"  uploading {PHOTOS} photos")
        populate(stack, PHOTOS)
        orders = [("state machine", "this machine (--local)"), ("this machine (--local)", "state machine")]
        for order in (orders * ROUNDS)[:ROUNDS]:
            for name in order:
                runs[name].append(reprocess_all(stack, *(["--local"] if "local" in name else [])))
    rows = {
        name: {
            "seconds": [round(s, 1) for s in seconds],
            "photos_per_second": round(PHOTOS / min(seconds), 2),
        }
        for name, seconds in runs.items()
    }
    result = {
        "date": date.today().isoformat(),
        "machine": f"{os.cpu_count()} cores, {platform.platform()}",
        "photos": PHOTOS,
        "photo": "1600x1200 phone JPEG (tests/images.py phone_jpeg), every one re-rendered (--all)",
        "runs": rows,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "batch.json").write_text(json.dumps(result, indent=2))
    print(f"\n## Batch re-render, {PHOTOS} photos ({result['date']}, {result['machine']})\n")
    print("| path | wall time (each run) | photos/s (best) |")
    print("|---|---|---|")
    for name, row in rows.items():
        times = " / ".join(f"{s:.0f} s" for s in row["seconds"])
        print(f"| {name} | {times} | {row['photos_per_second']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
