"""`make bench`, issue 25: every source format at the encoder's speed, as whole processes.

For JPEG (camera-like and noisy), PNG, WebP, HEIC and AVIF sources at 12 and 24 MP, all made here
from the same deterministic photo per size (no downloads), a fresh Python process makes the
rendition set (`python -m handlers.imaging FILE --out DIR`: four widths, AVIF plus the fallback,
as the processor does) against a fresh process doing the same with pyvips
(`tests/bench/vips_child.py`: shrink-on-load thumbnail kept in memory, heifsave AV1 and jpegsave)
where pyvips can read the format; a HEIC also against its decode floor (a fresh process that
only decodes it, with the pipeline's decoder threads), and against the same photo as a JPEG.
Runs alternate between the methods; the table holds medians. Then an in-process profile per
format: start-up (imports), decode, resize and each encode apart, one after the other; and the whole
set in a warm process (what a warm Lambda pays for each photo after its first), against pyvips making
the same set in the same process, wall and CPU time.

`--cpus 1` pins every process to one core (`taskset`), like Lambda's ~0.9 of a vCPU at 1536 MB.
Results go to bench-results/formats_speed.json (formats_speed_1cpu.json with --cpus 1). This is a
measurement, never a test.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from handlers import rendering
from handlers.imaging import Limits, RenditionSpec, make_renditions
from tests.images import exif_bytes, photo

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench-results"
INPUTS = RESULTS / "inputs" / "formats"
SIZES = {12: (4000, 3000), 24: (6000, 4000)}
# name -> (Pillow format, file extension, save options); "noisy" adds per-pixel sensor-like noise.
KINDS = {
    "jpeg": ("JPEG", "jpg", {"quality": 90, "exif": exif_bytes(1, gps=False)}),
    "jpeg-noisy": ("JPEG", "jpg", {"quality": 90}),
    "png": ("PNG", "png", {"compress_level": 6}),
    "webp": ("WEBP", "webp", {"quality": 85}),
    "heic": ("HEIF", "heic", {"quality": 85, "tile_size": 512}),  # an iPhone's HEIC: a grid of 512 px tiles
    "avif": ("AVIF", "avif", {"quality": 80, "speed": 8}),
}
SPEC = RenditionSpec()
LIMITS = Limits(max_bytes=200 * 1024 * 1024)
# The CLI reads the processor's limits from the environment: the largest inputs here pass. Imports
# are paid once, as in a warm process: the children's bytecode is cached (outside the tree), so a
# child does not compile the project's modules again each time (PYTHONDONTWRITEBYTECODE is unset).
CHILD_ENV = {
    **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
    "MAX_UPLOAD_BYTES": str(LIMITS.max_bytes),
    "PYTHONPYCACHEPREFIX": str(Path(tempfile.gettempdir()) / "imagepipe-bench-pycache"),
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- inputs -------------------------------------------------------------------------------------


def noisy(image: Image.Image, seed: int) -> Image.Image:
    """Sensor-like noise on every pixel and channel (+-13 levels), deterministic."""
    noise = Image.frombytes("RGB", image.size, random.Random(seed).randbytes(image.width * image.height * 3))
    return Image.blend(image, noise, 0.1)


def make_inputs() -> dict[str, Path]:
    """name (kind-12mp) -> file; made once and kept in bench-results/inputs/formats/."""
    INPUTS.mkdir(parents=True, exist_ok=True)
    paths = {}
    for mp, size in SIZES.items():
        source = None
        for kind, (fmt, ext, params) in KINDS.items():
            path = INPUTS / f"{kind}-{mp}mp.{ext}"
            if not path.exists():
                log(f"  making {path.name} ({size[0]}x{size[1]} {fmt})")
                source = photo(*size, seed=7) if source is None else source
                image = noisy(source, mp) if kind == "jpeg-noisy" else source
                buffer = io.BytesIO()
                image.save(buffer, fmt, **params)
                path.write_bytes(buffer.getvalue())
            paths[f"{kind}-{mp}mp"] = path
    return paths


def vips_reads(path: Path) -> bool:
    try:
        import pyvips

        pyvips.Image.new_from_file(str(path), access="sequential").avg()
    except Exception:  # no pyvips, or its wheel has no decoder for the format (HEVC)
        return False
    return True


# --- whole processes ----------------------------------------------------------------------------

# What a fresh process runs, per method: {file} and {out} filled in. The floor decodes a HEIC with
# the decoder threads the pipeline gives libheif, and does nothing else.
FLOOR = (
    "import sys, pillow_heif; from PIL import Image; "
    "pillow_heif.register_heif_opener(decode_threads=int(sys.argv[2])); Image.open(sys.argv[1]).load()"
)
STARTUP = {  # imports only: what each method's process pays before its first pixel
    "import imagepipe": "import handlers.imaging, handlers.config; handlers.config.Settings.from_env()",
    "import imagepipe+heif": "import handlers.imaging, handlers.config, handlers.rendering as r; r._heif_decoders()",
    "import pyvips": "import pyvips",
}


def commands(method: str, path: Path, out: Path) -> list[str]:
    python = [sys.executable]
    if method in STARTUP:
        return [*python, "-c", STARTUP[method]]
    if method == "imagepipe":
        return [*python, "-m", "handlers.imaging", str(path), "--out", str(out)]
    if method == "pyvips":
        return [*python, "-m", "tests.bench.vips_child", str(path), "--out", str(out)]
    if method == "floor":
        return [*python, "-c", FLOOR, str(path), str(rendering.HEIF_DECODE_THREADS)]
    raise ValueError(method)


def run_seconds(command: list[str], cpus: int | None) -> float:
    if cpus:
        command = ["taskset", "-c", ",".join(map(str, range(cpus))), *command]
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT, env=CHILD_ENV, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)}: {proc.stdout[-400:]} {proc.stderr[-800:]}")
    return seconds


def whole_processes(inputs: dict[str, Path], rounds: int, cpus: int | None) -> dict[str, dict]:
    """input -> method -> median seconds; the methods alternate within each round."""
    plan = {}
    for name, path in inputs.items():
        methods = ["imagepipe"]
        if vips_reads(path):
            methods.append("pyvips")
        if name.startswith("heic"):
            methods.append("floor")
        plan[name] = methods
    plan["startup"] = list(STARTUP)
    times: dict[str, dict[str, list[float]]] = {name: {m: [] for m in methods} for name, methods in plan.items()}
    with tempfile.TemporaryDirectory() as scratch:
        for round_ in range(rounds):
            log(f"  whole processes, round {round_ + 1}/{rounds}")
            for name, methods in plan.items():
                for method in methods:
                    path = inputs.get(name, ROOT)
                    out = Path(scratch) / method
                    times[name][method].append(run_seconds(commands(method, path, out), cpus))
    return {name: {m: round(statistics.median(t), 3) for m, t in by.items()} for name, by in times.items()}


# --- in process ---------------------------------------------------------------------------------


def profile(data: bytes) -> dict[str, float]:
    """Milliseconds of each step of the pipeline (handlers.rendering's own functions), one after the
    other: decode, the resize to the largest size, the smaller sizes, each encode; and the whole
    make_renditions as the processor runs it (pipelined, two encoders at once)."""
    steps: dict[str, float] = {}

    def timed(step: str, fn, *args):
        start = time.perf_counter()
        result = fn(*args)
        steps[step] = round((time.perf_counter() - start) * 1000, 1)
        return result

    image, headers = timed("open", rendering._open, data, LIMITS)
    largest = rendering._fit(*image.size, SPEC.largest)
    has_alpha = rendering.budget.has_alpha(image)
    _, decoded = timed("decode", rendering._decode, image, data, headers, largest, LIMITS)
    current, _ = timed("resize largest", rendering._working_image, decoded, largest, has_alpha, 1)
    image.close()
    sized = []
    for _, side in SPEC.sizes:
        target = rendering._fit(largest[0], largest[1], side)
        if target != current.size:
            current = timed(f"resize {side}", rendering._resize, current, target)
        sized.append((side, current))
    for side, image in sized:
        for kind in rendering._KINDS[has_alpha]:
            timed(f"{kind.split('/')[1]} {side}", rendering._encode, image.copy(), kind, SPEC)
    steps["sum of steps"] = round(sum(steps.values()), 1)
    cpu = time.process_time()
    timed("make_renditions", make_renditions, data, LIMITS, SPEC)
    steps["make_renditions cpu"] = round((time.process_time() - cpu) * 1000, 1)  # both threads' CPU time
    return steps


def vips_in_process(path: Path, out: Path) -> dict[str, float]:
    """pyvips making the same set in this process (tests/bench/vips_child.py's `render`), as a warm
    Lambda would: milliseconds, wall and CPU (every thread's)."""
    from tests.bench.vips_child import render

    start, cpu = time.perf_counter(), time.process_time()
    render(path, out)
    return {
        "pyvips set": round((time.perf_counter() - start) * 1000, 1),
        "pyvips set cpu": round((time.process_time() - cpu) * 1000, 1),
    }


def in_process(inputs: dict[str, Path]) -> dict[str, dict[str, float]]:
    """Per input, the medians of 3 warm runs (after one that loads the codecs) of each step, the whole
    make_renditions, and pyvips making the same set where it reads the format, alternating."""
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for name, path in inputs.items():
            log(f"  in process: {name}")
            data = path.read_bytes()
            vips = vips_reads(path)
            runs = []
            for round_ in range(4):  # the first warms both: codecs loaded, first allocations made
                run = profile(data)
                if vips:
                    run.update(vips_in_process(path, Path(scratch)))
                if round_:
                    runs.append(run)
            results[name] = {step: round(statistics.median(r[step] for r in runs), 1) for step in runs[0]}
            if vips:
                results[name]["x pyvips warm"] = ratio(results[name]["make_renditions"], results[name]["pyvips set"])
                results[name]["x pyvips cpu"] = ratio(
                    results[name]["make_renditions cpu"], results[name]["pyvips set cpu"]
                )
    return results


# --- report -------------------------------------------------------------------------------------


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return f"{os.cpu_count()} cores ({model}), {platform.system()}, Python {platform.python_version()}"


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def report(whole: dict, profiles: dict, rounds: int, cpus: int | None) -> dict:
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"\nformats at the encoder's speed: {machine()}; {when}; medians of {rounds} alternating runs", end="")
    print(f"; pinned to {cpus} core(s)" if cpus else "")
    print(f"{'input':<18}{'imagepipe s':>12}{'pyvips s':>10}{'x pyvips':>10}{'floor s':>9}{'x JPEG':>8}")
    rows = {}
    for name, by in whole.items():
        if name == "startup":
            continue
        jpeg = whole.get(name.replace("heic", "jpeg"), {}).get("imagepipe") if name.startswith("heic") else None
        row = {
            **by,
            "x_pyvips": ratio(by["imagepipe"], by.get("pyvips")),
            "x_same_photo_as_jpeg": ratio(by["imagepipe"], jpeg),
        }
        rows[name] = row
        cells = [by.get("pyvips"), row["x_pyvips"], by.get("floor"), row["x_same_photo_as_jpeg"]]
        print(
            f"{name:<18}{by['imagepipe']:>12.3f}"
            + "".join(f"{c if c else '-':>{w}}" for c, w in zip(cells, (10, 10, 9, 8), strict=True))
        )
    startup = whole["startup"]
    print("start-up (imports only): " + ", ".join(f"{m} {s:.3f} s" for m, s in startup.items()))

    steps = list(dict.fromkeys(step for p in profiles.values() for step in p))  # every input's, in order
    print("\nin process, ms (each step alone, one after the other; make_renditions pipelined; then the")
    print("whole set warm against pyvips in the same process, wall and CPU over every thread):")
    print(f"{'step':<18}" + "".join(f"{n.replace('mp', ''):>14}" for n in profiles))
    for step in steps:
        print(f"{step:<18}" + "".join(f"{p.get(step, '-'):>14}" for p in profiles.values()))

    goals = []
    for name, row in rows.items():
        if name.startswith(("jpeg", "png", "webp")) and row["x_pyvips"]:
            goals.append(
                (f"{name}: whole process <= 1.0x pyvips (stretch 0.8x)", row["x_pyvips"], row["x_pyvips"] <= 1.0)
            )
    heic = rows.get("heic-12mp", {}).get("x_same_photo_as_jpeg")
    if heic:
        goals.append(("heic-12mp: whole process <= 1.5x the same photo as JPEG", heic, heic <= 1.5))
    print("\ngoals (issue 25, measured in this run):")
    for text, value, ok in goals:
        print(f"  [{'met' if ok else 'NOT MET'}] {text}: {value}")
    return {
        "when": when,
        "machine": machine(),
        "rounds": rounds,
        "cpus_pinned": cpus,
        "heif_decode_threads": rendering.HEIF_DECODE_THREADS,
        "whole_process_seconds": rows,
        "startup_seconds": startup,
        "in_process_ms": profiles,
        "goals": [{"goal": t, "value": v, "met": ok} for t, v, ok in goals],
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.formats_speed", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_FORMAT_ROUNDS", "3")))
    parser.add_argument("--cpus", type=int, help="pin every process to this many cores (taskset)")
    parser.add_argument("--only", help="inputs whose name contains this (comma-separated), e.g. heic,jpeg-12")
    parser.add_argument("--no-profile", action="store_true", help="whole processes only")
    args = parser.parse_args()
    inputs = make_inputs()
    if args.only:
        inputs = {n: p for n, p in inputs.items() if any(part in n for part in args.only.split(","))}
    whole = whole_processes(inputs, max(1, args.rounds), args.cpus)
    profiles = {} if args.no_profile else in_process(inputs)
    results = report(whole, profiles or {"-": {}}, args.rounds, args.cpus)
    RESULTS.mkdir(exist_ok=True)
    target = RESULTS / f"formats_speed{f'_{args.cpus}cpu' if args.cpus else ''}.json"
    target.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nresults: {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
