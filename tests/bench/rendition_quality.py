"""`make bench`, part 2: what each rendition format and quality costs and gives, on real photos.

For each photo and each candidate (JPEG, AVIF at several qualities and speeds, WebP), the
photo is brought to the rendition's size once (the reference), encoded, decoded, and scored
against the reference with SSIMULACRA2 (perceptual: 90 is visually lossless, 70 high
quality, 50 medium). The table gives, per candidate, the median encode time, the bytes as a
share of JPEG q82's, and the mean score; the rendition spec's defaults (handlers.formats.
RenditionSpec) are chosen from it: the AVIF quality whose score is at least JPEG q82's.

Photos: the JPEGs in BENCH_PHOTOS that a camera wrote (EXIF Make), else deterministic synthetic
ones. The table in docs/benchmarks.md: the 8 camera photographs among Debian's `plasma-workspace-wallpapers`
(KDE's wallpapers, 2560x1600; Olympus E-M1, Canon EOS 70D, Sony NEX-3N, Nokia N9):
  apt-get download plasma-workspace-wallpapers && dpkg-deb -x plasma-workspace-wallpapers_*.deb w
  BENCH_PHOTOS=w/usr/share/wallpapers make bench
This is a measurement, never a test.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import sys
import time
from pathlib import Path

from PIL import Image, ImageOps

from handlers.formats import RenditionSpec
from tests.images import photo

ROOT = Path(__file__).resolve().parent.parent.parent
RESULTS = ROOT / "bench-results"
SPEC = RenditionSpec()
SIDES = (1920, 1024, 320)
CANDIDATES = {
    "JPEG q82": ("JPEG", {"quality": 82, "optimize": True}),
    "JPEG q90": ("JPEG", {"quality": 90, "optimize": True}),
    "AVIF q50 s9": ("AVIF", {"quality": 50, "speed": 9}),
    "AVIF q56 s9": ("AVIF", {"quality": 56, "speed": 9}),
    "AVIF q62 s9": ("AVIF", {"quality": 62, "speed": 9}),
    "AVIF q68 s9": ("AVIF", {"quality": 68, "speed": 9}),
    "AVIF q74 s9": ("AVIF", {"quality": 74, "speed": 9}),
    "AVIF q62 s6": ("AVIF", {"quality": 62, "speed": 6}),
    "WebP q82": ("WEBP", {"quality": 82, "method": 4}),
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def photos() -> dict[str, Image.Image]:
    folder = os.environ.get("BENCH_PHOTOS")
    if folder:
        paths = sorted(p for p in Path(folder).rglob("*.jpg") if p.stat().st_size > 200_000)
        # One file per wallpaper (KDE ships several sizes of each): the largest.
        largest: dict[str, Path] = {}
        for path in paths:
            key = path.parent.parent.parent.name if path.parent.name == "images" else str(path)
            if key not in largest or path.stat().st_size > largest[key].stat().st_size:
                largest[key] = path
        # Photographs only: files a camera wrote (EXIF Make), not rendered artwork.
        cameras = {name: path for name, path in largest.items() if Image.open(path).getexif().get(0x010F)}
        return {name: ImageOps.exif_transpose(Image.open(path)).convert("RGB") for name, path in cameras.items()}
    log("BENCH_PHOTOS not set: synthetic photos (set it to a folder of real photos for docs/benchmarks.md's table)")
    return {f"synthetic-{seed}": photo(2560, 1600, seed=seed) for seed in (1, 2, 3)}


def score(reference: Image.Image, encoded: bytes) -> float:
    from ssimulacra2 import compute_ssimulacra2

    ref = io.BytesIO()
    reference.save(ref, "PNG")
    ref.seek(0)
    decoded = io.BytesIO()
    Image.open(io.BytesIO(encoded)).convert("RGB").save(decoded, "PNG")
    decoded.seek(0)
    return compute_ssimulacra2(ref, decoded)


def measure(images: dict[str, Image.Image]) -> dict:
    rows: dict[tuple[int, str], dict[str, list[float]]] = {}
    for name, image in images.items():
        log(f"  {name} ({image.width}x{image.height})")
        for side in SIDES:
            reference = image.copy()
            reference.thumbnail((side, side), Image.Resampling.BICUBIC, reducing_gap=2.0)
            for label, (fmt, params) in CANDIDATES.items():
                times = []
                for _ in range(3):
                    buffer = io.BytesIO()
                    started = time.perf_counter()
                    reference.save(buffer, fmt, **params)
                    times.append((time.perf_counter() - started) * 1000)
                row = rows.setdefault((side, label), {"ms": [], "bytes": [], "score": []})
                row["ms"].append(statistics.median(times))
                row["bytes"].append(buffer.tell())
                row["score"].append(score(reference, buffer.getvalue()) if side != 1920 else float("nan"))
    return rows


def table(rows: dict) -> list[dict]:
    out = []
    for side in SIDES:
        jpeg_bytes = rows[(side, "JPEG q82")]["bytes"]
        for label in CANDIDATES:
            row = rows[(side, label)]
            share = statistics.mean(b / j for b, j in zip(row["bytes"], jpeg_bytes, strict=True))
            scores = [s for s in row["score"] if s == s]  # NaN: not scored at 1920 (time)
            out.append(
                {
                    "side": side,
                    "candidate": label,
                    "ms": round(statistics.median(row["ms"]), 1),
                    "kb": round(statistics.mean(row["bytes"]) / 1024),
                    "bytesVsJpeg82": round(share, 2),
                    "ssimulacra2": round(statistics.mean(scores), 1) if scores else None,
                }
            )
    return out


def alpha_fallbacks() -> list[dict]:
    """For sources with transparency: the fallback's cost as PNG or WebP (AVIF keeps alpha too)."""
    image = photo(1024, 683).convert("RGBA")
    image.putalpha(Image.radial_gradient("L").resize(image.size))  # a soft cut-out, like a product shot
    rows = []
    for label, (fmt, params) in {
        "PNG (optimized)": ("PNG", {"optimize": True}),
        "WebP q82": ("WEBP", {"quality": SPEC.webp_quality, "method": 4}),
        f"AVIF q{SPEC.avif_quality} s9": ("AVIF", {"quality": SPEC.avif_quality, "speed": SPEC.avif_speed}),
    }.items():
        buffer = io.BytesIO()
        started = time.perf_counter()
        image.save(buffer, fmt, **params)
        rows.append(
            {"candidate": label, "ms": round((time.perf_counter() - started) * 1000, 1), "kb": buffer.tell() // 1024}
        )
    return rows


def main() -> int:
    images = photos()
    log(f"rendition quality: {len(images)} photo(s), {len(CANDIDATES)} candidates at {SIDES} px")
    result = table(measure(images))
    RESULTS.mkdir(exist_ok=True)
    print(f"\nRendition formats on {len(images)} photo(s); median encode ms, mean KiB, bytes vs JPEG q82, SSIMULACRA2")
    print("| side | candidate | ms | KiB | bytes vs JPEG q82 | SSIMULACRA2 |\n|---|---|---|---|---|---|")
    for row in result:
        quality = "" if row["ssimulacra2"] is None else row["ssimulacra2"]
        print(
            f"| {row['side']} | {row['candidate']} | {row['ms']} | {row['kb']} | {row['bytesVsJpeg82']} | {quality} |"
        )
    alpha = alpha_fallbacks()
    print("\nWith transparency (1024x683 RGBA): the fallback")
    for row in alpha:
        print(f"  {row['candidate']:<18} {row['ms']:>7} ms {row['kb']:>6} KiB")
    (RESULTS / "rendition-quality.json").write_text(
        json.dumps({"photos": list(images), "rows": result, "alpha": alpha}, indent=2)
    )
    default = f"AVIF q{SPEC.avif_quality} s{SPEC.avif_speed}"
    print(f"\nThe spec's default: {default} and JPEG q{SPEC.jpeg_quality} (handlers.formats.RenditionSpec)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
