"""`make bench`: the image pipeline side by side with naive Pillow, pyvips and the decode floor.

Inputs are made here, deterministically (no downloads). Every method makes the same two
outputs (preview, longest side 1024; thumbnail, longest side 256) from the same bytes, in
one run, over several rounds; the table reports median milliseconds, ratios against each
reference, peak RSS above baseline (each method in a fresh process) and output bytes.
Results also go to bench-results/imaging.json. This is a measurement, never a test.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image, ImageOps

from handlers.imaging import Limits, RenditionSpec, make_renditions
from tests.images import exif_bytes, photo

ROOT = Path(__file__).resolve().parent.parent.parent
RESULTS = ROOT / "bench-results"
INPUTS = RESULTS / "inputs"
LIMITS = Limits(max_bytes=200 * 1024 * 1024)

try:
    import pyvips  # requirements-dev.txt (the processor decodes PNG and WebP with it)
except (ImportError, OSError):
    pyvips = None


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- inputs ------------------------------------------------------------------


def make_inputs() -> dict[str, Path]:
    INPUTS.mkdir(parents=True, exist_ok=True)
    specs = {
        "jpeg-12mp": ((4000, 3000), "JPEG", {"quality": 90, "exif": exif_bytes(6)}),
        "jpeg-24mp": ((6000, 4000), "JPEG", {"quality": 90, "exif": exif_bytes(6)}),
        "jpeg-12mp-progressive": ((4000, 3000), "JPEG", {"quality": 90, "progressive": True, "exif": exif_bytes(1)}),
        "png-12mp": ((4000, 3000), "PNG", {"compress_level": 6}),
        "webp-12mp": ((4000, 3000), "WEBP", {"quality": 85}),
        "heic-12mp": ((4000, 3000), "HEIF", {"quality": 85}),
    }
    paths = {}
    for name, (size, fmt, params) in specs.items():
        ext = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "HEIF": "heic"}[fmt]
        path = INPUTS / f"{name}.{ext}"
        if not path.exists():
            log(f"  making {path.name} ({size[0]}x{size[1]} {fmt})")
            buffer = io.BytesIO()
            photo(*size, seed=size[0] % 97).save(buffer, fmt, **params)
            path.write_bytes(buffer.getvalue())
        paths[name] = path
    return paths


# --- methods: each makes the same set from bytes (the spec's sizes, AVIF + JPEG each), returns output bytes


SPEC = RenditionSpec()
SIDES = [side for _, side in SPEC.sizes]  # largest first


def today(data: bytes) -> int:
    """The pipeline before rendition specs: two JPEGs (1024, 256) from one reduced-scale decode."""
    image = Image.open(io.BytesIO(data))
    image.draft("RGB", (1024, 1024))
    preview = ImageOps.exif_transpose(image.convert("RGB"))
    preview.thumbnail((1024, 1024), Image.Resampling.BICUBIC, reducing_gap=2.0)
    thumb = preview.copy()
    thumb.thumbnail((256, 256), Image.Resampling.BICUBIC, reducing_gap=2.0)
    total = 0
    for im in (preview, thumb):
        buffer = io.BytesIO()
        im.save(buffer, "JPEG", quality=82)
        total += buffer.tell()
    return total


def naive_pillow(data: bytes) -> int:
    """What most code does: full decode, transpose, each size resized from the full image, encoded
    one after the other."""
    image = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    total = 0
    for side in SIDES:
        sized = image.copy()
        sized.thumbnail((side, side), Image.Resampling.LANCZOS, reducing_gap=None)
        for fmt, params in (("AVIF", {"quality": SPEC.avif_quality, "speed": SPEC.avif_speed}), ("JPEG", {})):
            buffer = io.BytesIO()
            sized.save(buffer, fmt, **({"quality": SPEC.jpeg_quality} | params))
            total += buffer.tell()
    return total


def pipeline(data: bytes) -> int:
    result = make_renditions(data, LIMITS, SPEC)
    files = {id(s.data): len(s.data) for r in result.renditions.values() for s in r.sources}
    return sum(files.values())


def vips_set(data: bytes) -> int:
    """pyvips making the same set: shrink-on-load thumbnail to the largest size, auto-rotated, each
    smaller size from the one before; AV1 at its fastest effort (heifsave) and JPEG (jpegsave)."""
    current = pyvips.Image.thumbnail_buffer(data, SIDES[0], height=SIDES[0], size="down").copy_memory()
    total = 0
    for side in SIDES:
        if max(current.width, current.height) > side:
            current = current.thumbnail_image(side, height=side).copy_memory()
        total += len(current.heifsave_buffer(compression="av1", Q=SPEC.avif_quality, effort=0, strip=True))
        flat = current.flatten() if current.hasalpha() else current
        total += len(flat.jpegsave_buffer(Q=SPEC.jpeg_quality, strip=True, optimize_coding=True))
    return total


def decode_floor(data: bytes) -> int:
    """The least any JPEG pipeline must do: decode at 1/8 scale. Other formats: a full decode."""
    image = Image.open(io.BytesIO(data))
    image.draft("RGB", (image.width // 8, image.height // 8))
    image.load()
    return 0


METHODS = {"today": today, "naive": naive_pillow, "pipeline": pipeline, "pyvips": vips_set, "floor": decode_floor}


# --- measurement ---------------------------------------------------------------


def time_method(fn, data: bytes, rounds: int) -> tuple[float, int]:
    fn(data)  # warm-up
    times, out = [], 0
    for _ in range(rounds):
        start = time.perf_counter()
        out = fn(data)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), out


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def peak_rss_child(method: str, path: str) -> None:
    """Run in a fresh process: print peak RSS above the baseline taken just before the call."""
    data = Path(path).read_bytes()
    fn = METHODS[method]
    if method == "pyvips":
        pyvips.cache_set_max(0)
    import handlers.imaging  # noqa: F401  imports are part of the baseline, as in a warm Lambda

    baseline = _status_kb("VmRSS")
    fn(data)
    # VmHWM, not ru_maxrss: ru_maxrss survives exec and would report the parent's peak.
    peak = _status_kb("VmHWM")
    print(json.dumps({"peak_above_baseline_mb": round((peak - baseline) / 1024, 1)}))


def peak_rss(method: str, path: Path) -> float | None:
    proc = subprocess.run(
        [sys.executable, "-m", "tests.bench.imaging", "--rss-child", method, str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if proc.returncode != 0:
        log(proc.stderr[-2000:])
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])["peak_above_baseline_mb"]


def _worker(path: str) -> int:
    return pipeline(Path(path).read_bytes())


def throughput(path: Path, workers: int, count: int) -> float:
    """Images per second through `workers` processes, each started fresh (spawn: libvips' threads,
    running in this process, do not survive a fork)."""
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        pool.map(_worker, [str(path)] * workers)  # warm each worker
        start = time.perf_counter()
        pool.map(_worker, [str(path)] * count, chunksize=1)
        return count / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", "7")))
    parser.add_argument("--rss-child", nargs=2, metavar=("METHOD", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        peak_rss_child(*args.rss_child)
        return 0

    log(f"imagepipe bench: the rendition set ({', '.join(map(str, SIDES))} px, AVIF + JPEG each) per input")
    if pyvips is None:
        log("  pyvips is not installed (pip install -r requirements-dev.txt); its column is empty")
    inputs = make_inputs()
    methods = [m for m in METHODS if m != "pyvips" or pyvips is not None]
    rows = []
    total = len(inputs) * len(methods)
    done = 0
    for name, path in inputs.items():
        data = path.read_bytes()
        row = {"input": name, "bytes": len(data), "ms": {}, "out_bytes": {}, "peak_mb": {}}
        for method in methods:
            done += 1
            log(f"  [{done}/{total}] {name}: {method}")
            if method == "floor" and not name.startswith("jpeg"):
                row["ms"][method] = None  # only JPEG decoders scale while decoding
                continue
            try:
                ms, out = time_method(METHODS[method], data, args.rounds)
            except Exception as exc:  # a reference that cannot read a format is reported, not fatal
                log(f"    {method} failed on {name}: {exc}")
                row["ms"][method] = None
                continue
            row["ms"][method], row["out_bytes"][method] = round(ms, 1), out
            if name in ("jpeg-24mp", "jpeg-12mp") and method != "floor":
                row["peak_mb"][method] = peak_rss(method, path)
        rows.append(row)

    log("  throughput: 1 vs 2 worker processes on jpeg-12mp")
    one = throughput(inputs["jpeg-12mp"], 1, 16)
    two = throughput(inputs["jpeg-12mp"], 2, 32)
    report(rows, one, two, args.rounds)
    return 0


def ratio(a, b):
    return round(a / b, 2) if a and b else None


def report(rows, one, two, rounds) -> None:
    print()
    print(
        f"{'input':<24}{'today':>8}{'naive':>9}{'pipeline':>10}{'pyvips':>9}{'floor':>8}  {'x today':>8}"
        f"{'x naive':>8}{'x pyvips':>9}  {'peak MB':>8}{'out KB':>8}"
    )
    for row in rows:
        ms = row["ms"]
        cell = lambda v, w=9: f"{v:>{w}.1f}" if v else f"{'-':>{w}}"  # noqa: E731
        row["ratios"] = {
            "pipeline_time_vs_today": ratio(ms.get("pipeline"), ms.get("today")),
            "pipeline_speedup_vs_naive": ratio(ms.get("naive"), ms.get("pipeline")),
            "pipeline_time_vs_pyvips": ratio(ms.get("pipeline"), ms.get("pyvips")),
        }
        r = row["ratios"]
        peak = row["peak_mb"].get("pipeline")
        out = row["out_bytes"].get("pipeline")
        print(
            f"{row['input']:<24}{cell(ms.get('today'), 8)}{cell(ms.get('naive'))}{cell(ms.get('pipeline'), 10)}"
            f"{cell(ms.get('pyvips'))}{cell(ms.get('floor'), 8)}  {r['pipeline_time_vs_today'] or '-':>8}"
            f"{r['pipeline_speedup_vs_naive'] or '-':>8}{r['pipeline_time_vs_pyvips'] or '-':>9}"
            f"  {peak if peak is not None else '-':>8}{round(out / 1024, 1) if out else '-':>8}"
        )
    scaling = round(two / one, 2)
    print(f"\nthroughput jpeg-12mp: 1 worker {one:.1f}/s, 2 workers {two:.1f}/s: {scaling}x")

    by = {r["input"]: r for r in rows}
    goals = []
    twelve = by["jpeg-12mp"]["ratios"]
    goals.append(
        (
            "jpeg-12mp: the whole set <= 8x the time of today's two JPEGs",
            twelve["pipeline_time_vs_today"],
            (twelve["pipeline_time_vs_today"] or 99) <= 8,
        )
    )
    for name in ("jpeg-12mp", "jpeg-24mp", "heic-12mp"):
        r = by[name]["ratios"]
        if r["pipeline_time_vs_pyvips"] is not None:
            goals.append(
                (
                    f"{name}: time <= 1.0x pyvips making the same set",
                    r["pipeline_time_vs_pyvips"],
                    r["pipeline_time_vs_pyvips"] <= 1.0,
                )
            )
    goals.append(("2 workers >= 1.7x the throughput of 1", scaling, scaling >= 1.7))
    print("\ngoals (measured in this run):")
    for text, value, ok in goals:
        print(f"  [{'met' if ok else 'NOT MET'}] {text}: {value}")

    RESULTS.mkdir(exist_ok=True)
    results = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "rounds": rounds,
        "cpus": os.cpu_count(),
        "pyvips": pyvips is not None,
        "rows": rows,
        "throughput": {"one_worker_per_s": round(one, 2), "two_workers_per_s": round(two, 2), "scaling": scaling},
        "goals": [{"goal": t, "value": v, "met": ok} for t, v, ok in goals],
    }
    (RESULTS / "imaging.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nresults: {RESULTS / 'imaging.json'}")


if __name__ == "__main__":
    sys.exit(main())
