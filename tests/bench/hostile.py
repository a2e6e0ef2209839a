"""`make bench`, part 2: the worst inputs within limits and the bombs beyond them.

Each input is made in memory (tests/hostile.py), written to a scratch file, and run through
`make_renditions` in a fresh process that reports its peak memory above its own baseline
(VmHWM after /proc/self/clear_refs) and its time, next to the budget's estimate for it. The
largest peak of what was processed, plus the process's baseline, is what the processor's
memory size must hold; `processor_memory_mb` is printed beside it with the margin left.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from bootstrap.deploy.config import PROCESSOR_TIMEOUT_S, processor_memory_mb
from handlers.formats import MIB, Limits
from tests import hostile
from tests.images import encode, photo

RESULTS = Path(__file__).resolve().parents[2] / "bench-results"


def inputs() -> dict[str, bytes]:
    """name -> bytes; the 12 MP photo first, for scale."""
    gfx = (11_648, 8_736)  # a "100 MP" sensor: 102 MP
    return {
        "12 MP photo JPEG": encode(photo(4000, 3000), "JPEG", quality=90),
        "102 MP baseline JPEG": encode(Image.new("RGB", gfx, (120, 110, 100)), "JPEG", quality=80),
        "102 MP progressive 4:4:4 JPEG": encode(
            Image.new("RGB", gfx, (120, 110, 100)), "JPEG", quality=80, progressive=True, subsampling=0
        ),
        "100 MP progressive JPEG, 100 scans": hostile.progressive_jpeg_with_repeated_scans(10_000, 10_000, 90),
        "100 MP progressive JPEG, 2000 scans": hostile.progressive_jpeg_with_repeated_scans(10_000, 10_000, 2000),
        "100 MP RGBA PNG": hostile.png(10_000, 10_000, 8, 6),
        "100 MP 16-bit RGB PNG": hostile.png(10_000, 10_000, 16, 2),
        "100 MP 16-bit grey PNG": hostile.png(10_000, 10_000, 16, 0),
        "100 MP palette+tRNS PNG": hostile.png(10_000, 10_000, 8, 3, palette_alpha=True),
        "120 MP RGBA PNG": hostile.png(10_954, 10_954, 8, 6),
        "100 MP GIF": encode(Image.new("P", (10_000, 10_000)), "GIF", transparency=0),
        "60 MP lossless WebP": hostile.lossless_webp(7_800, 7_800),
        "100 MP lossless WebP (38 bytes)": hostile.lossless_webp(10_000, 10_000),
        "100 MP animated lossless WebP": hostile.lossless_webp(10_000, 10_000, animated=True),
        "HEIF: 64x48 primary, 4000x3000 image 0": hostile.heif_with_large_secondary((64, 48), (4000, 3000)),
        "AVIF: ispe 1000x1000 over a 4096x4096 frame": hostile.avif_with_lying_ispe((4096, 4096), (1000, 1000)),
    }


def measure(path: Path) -> dict:
    """Run in a fresh process: peak memory above the process's baseline, and time."""
    child = (
        "import json, sys, time\n"
        "import handlers.processor  # the processor's baseline: boto3, Powertools, Pillow and codecs\n"
        "from handlers import imaging\n"
        "from handlers.probe import budget\n"
        "def status(field):\n"
        "    return next(int(l.split()[1]) * 1024 for l in open('/proc/self/status') if l.startswith(field))\n"
        "estimates = []\n"
        "check = budget.check_memory\n"
        "budget.check_memory = lambda needed, *a: (estimates.append(needed), check(needed, *a))[1]\n"
        f"data = open({str(path)!r}, 'rb').read()\n"
        "baseline = status('VmRSS:')\n"
        "open('/proc/self/clear_refs', 'w').write('5')  # restart VmHWM from here\n"
        "started = time.perf_counter()\n"
        "try:\n"
        "    r = imaging.make_renditions(data)\n"
        "    out = {'outcome': f'processed {r.width}x{r.height}'}\n"
        "except imaging.ImageRejected as e:\n"
        "    out = {'outcome': f'refused: {e.code}'}\n"
        "out.update(seconds=time.perf_counter() - started, peak=status('VmHWM:') - baseline,\n"
        "           baseline=baseline, estimate=max(estimates, default=None))\n"
        "print(json.dumps(out))\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", child],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
        env=os.environ | {"PYTHONPATH": str(root)},
    )
    if done.returncode != 0:
        return {
            "outcome": f"crashed ({done.returncode}): {done.stderr.strip()[-200:]}",
            "seconds": None,
            "peak": None,
            "baseline": None,
            "estimate": None,
        }
    return json.loads(done.stdout)


def main() -> int:
    print("== hostile inputs: each in a fresh process (peak memory above its baseline, time)", flush=True)
    started = time.monotonic()
    made = inputs()
    print(f"   inputs made in {time.monotonic() - started:.0f} s", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for i, (name, data) in enumerate(made.items(), 1):
            path = Path(scratch) / f"input-{i}"
            path.write_bytes(data)
            result = measure(path) | {"input": name, "bytes": len(data)}
            rows.append(result)
            mb = lambda v: "-" if v is None else f"{v / MIB:.0f}"  # noqa: E731
            print(
                f"[{i:2}/{len(made)}] {name:44} {len(data) / 1e6:8.2f} MB  {result['outcome']:28}"
                f" estimate {mb(result['estimate']):>5} MiB  peak {mb(result['peak']):>5} MiB"
                f"  {result['seconds'] or 0:6.2f} s",
                flush=True,
            )
    processed = [r for r in rows if r["outcome"].startswith("processed")]
    worst = max(processed, key=lambda r: r["peak"])
    slowest = max(processed, key=lambda r: r["seconds"])
    baseline = max(r["baseline"] for r in rows if r["baseline"])
    memory = processor_memory_mb(Limits())
    over = [r["input"] for r in processed if r["estimate"] is not None and r["peak"] > r["estimate"]]
    summary = {
        "worst_within_limits": {
            "input": worst["input"],
            "peak_mib": round(worst["peak"] / MIB),
            "seconds": round(worst["seconds"], 2),
        },
        "slowest_within_limits": {"input": slowest["input"], "seconds": round(slowest["seconds"], 2)},
        "process_baseline_mib": round(baseline / MIB),
        "processor_memory_mb": memory,
        "margin_mib": round(memory - (baseline + worst["peak"]) / MIB),
        "timeout_s": PROCESSOR_TIMEOUT_S,
        "peaks_over_their_estimate": over,
        "crashed": [r["input"] for r in rows if r["outcome"].startswith("crashed")],
    }
    print(
        f"   worst within limits: {worst['input']}: peak {summary['worst_within_limits']['peak_mib']} MiB"
        f" + baseline {summary['process_baseline_mib']} MiB against the processor's {memory} MB"
        f" (margin {summary['margin_mib']} MiB); slowest {slowest['input']}: {slowest['seconds']:.1f} s"
        f" (timeout {PROCESSOR_TIMEOUT_S} s)"
    )
    print(f"   peaks over their estimate: {over or 'none'}; crashed: {summary['crashed'] or 'none'}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "hostile.json").write_text(json.dumps({"inputs": rows, "summary": summary}, indent=2))
    return 1 if over or summary["crashed"] else 0


if __name__ == "__main__":
    sys.exit(main())
