"""`make bench`: how well the perceptual hash (handlers.similarity) tells the same photo from another.

From each real photo, the copies a person really ends up with: re-encoded at other qualities and
formats (JPEG q60, WebP, AVIF, HEIC, PNG), resized (50%, 25%), cropped (3% off each edge, 5% off
two edges), and stored sideways with an EXIF orientation; and, as distinct but alike photos, a
burst: three frames of 80% of the scene, each shifted 10% from the last. Every file is hashed as
the processor would: decoded (a JPEG at reduced scale), turned upright, brought to the largest
rendition and down the spec's sizes to the smallest (320 px), which is hashed.

Pairs: the same photo (any two of the original and its copies) should be similar; two frames of a
burst, and any two files of different photos, should not. For each threshold the table gives the
precision and recall of "similar", how many burst pairs were called similar, and what the index
costs: the share of unrelated pairs that share a band key (`band_keys` with threshold + 1 bands),
i.e. the candidates a query reads and then drops. Then the distances per kind of copy, the hash's
time, and `imagehash`'s dHash on the same 320 px images for comparison (the simpler hash, which
handlers.similarity does not use: the table says why).

Photos: the JPEGs in BENCH_PHOTOS that a camera wrote (EXIF Make), one per scene, else synthetic.
The table in docs/duplicates.md: the 13 camera photographs in Debian's `plasma-workspace-wallpapers`
and `mate-backgrounds`:
  apt-get download plasma-workspace-wallpapers mate-backgrounds
  for deb in *.deb; do dpkg-deb -x "$deb" w; done
  BENCH_PHOTOS=w/usr/share python -m tests.bench.duplicates
This is a measurement, never a test.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

from PIL import Image, ImageOps

from handlers import similarity
from handlers.formats import RenditionSpec
from tests.images import encode, photo  # tests.images registers the HEIC codec

ROOT = Path(__file__).resolve().parent.parent.parent
RESULTS = ROOT / "bench-results"
SPEC = RenditionSpec()
# Originals larger than this are brought down to it first: the copies' encoders (AVIF, HEIC) then
# take seconds, not tens of seconds, and every KDE photo is this size already.
ORIGINAL_SIDE = 2560
THRESHOLDS = (0, 2, 4, 6, 7, 8, 9, 10, 11, 12, 14, 16)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- inputs -------------------------------------------------------------------------------------


def _scene(path: Path) -> str:
    """One name per photo: KDE ships each wallpaper in several sizes (contents/images/WxH.jpg), MATE
    some as Name_WxH.jpg."""
    if path.parent.name == "images":
        return path.parent.parent.parent.name
    return re.sub(r"_\d+x\d+$", "", path.stem)


def originals() -> dict[str, bytes]:
    """Each scene's largest camera JPEG, as bytes (downscaled to ORIGINAL_SIDE when larger)."""
    folder = os.environ.get("BENCH_PHOTOS")
    if not folder:
        log("BENCH_PHOTOS not set: synthetic photos (set it to a folder of real photos for the docs' table)")
        return {f"synthetic-{seed}": encode(photo(2560, 1600, seed=seed), "JPEG", quality=92) for seed in (1, 2, 3)}
    largest: dict[str, tuple[Path, int]] = {}
    for path in sorted(Path(folder).rglob("*.jpg")):
        if path.stat().st_size < 200_000:
            continue
        with Image.open(path) as image:
            if not image.getexif().get(0x010F):  # photographs only: a camera wrote it
                continue
            pixels = image.width * image.height
        scene = _scene(path)
        if scene not in largest or pixels > largest[scene][1]:
            largest[scene] = (path, pixels)
    out = {}
    for scene, (path, _) in sorted(largest.items()):
        data = path.read_bytes()
        with Image.open(io.BytesIO(data)) as image:
            if max(image.size) > ORIGINAL_SIDE:
                upright = ImageOps.exif_transpose(image).convert("RGB")
                upright.thumbnail((ORIGINAL_SIDE, ORIGINAL_SIDE), Image.Resampling.LANCZOS)
                data = encode(upright, "JPEG", quality=92)
        out[scene] = data
    return out


def _crop(image: Image.Image, left: float, top: float, right: float, bottom: float) -> Image.Image:
    w, h = image.size
    return image.crop((round(w * left), round(h * top), round(w * (1 - right)), round(h * (1 - bottom))))


def copies(original: bytes) -> dict[str, bytes]:
    """The same photo as a person ends up with it again."""
    image = ImageOps.exif_transpose(Image.open(io.BytesIO(original))).convert("RGB")
    w, h = image.size
    sideways = image.transpose(Image.Transpose.ROTATE_90)  # as a camera stores a portrait shot
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 clockwise to show
    return {
        "original": original,
        "JPEG q60": encode(image, "JPEG", quality=60),
        "WebP q75": encode(image, "WEBP", quality=75),
        "AVIF q60": encode(image, "AVIF", quality=60, speed=8),
        "HEIC q80": encode(image, "HEIF", quality=80),
        "PNG": encode(image, "PNG", compress_level=1),
        "resized 50%": encode(image.resize((w // 2, h // 2), Image.Resampling.LANCZOS), "JPEG", quality=85),
        "resized 25%": encode(image.resize((w // 4, h // 4), Image.Resampling.LANCZOS), "JPEG", quality=85),
        "cropped 3% each edge": encode(_crop(image, 0.03, 0.03, 0.03, 0.03), "JPEG", quality=85),
        "cropped 5% two edges": encode(_crop(image, 0, 0, 0.05, 0.05), "JPEG", quality=85),
        "EXIF rotated": encode(sideways, "JPEG", quality=90, exif=exif.tobytes()),
    }


def burst(original: bytes) -> list[bytes]:
    """Three frames of a burst: 80% of the scene each, panning 10% of its width (and 5% of its
    height) from one to the next."""
    image = ImageOps.exif_transpose(Image.open(io.BytesIO(original))).convert("RGB")
    frames = []
    for step in range(3):
        left, top = 0.1 * step, 0.05 * step
        frames.append(encode(_crop(image, left, top, 0.2 - left, 0.1 - top), "JPEG", quality=90))
    return frames


# --- what the processor sees ----------------------------------------------------------------------


def _fit(size: tuple[int, int], side: int) -> tuple[int, int]:
    scale = min(1.0, side / max(size))
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def smallest_rendition(data: bytes) -> Image.Image:
    """The processor's way to its smallest size: a JPEG decoded at reduced scale, upright, the
    largest size, then each smaller one from the one before."""
    image = Image.open(io.BytesIO(data))
    if image.format == "JPEG":
        image.draft("RGB", _fit(image.size, SPEC.largest))
    image = ImageOps.exif_transpose(image).convert("RGB")
    for _, side in SPEC.sizes:
        target = _fit(image.size, side)
        if target != image.size:
            image = image.resize(target, Image.Resampling.BICUBIC, reducing_gap=2.0)
    return image


# --- measuring ----------------------------------------------------------------------------------


def hashes(files: dict[tuple[str, str], bytes]) -> tuple[dict, dict, list[float]]:
    """Our pHash and (when imagehash is installed) its dHash of each file's smallest rendition; our ms."""
    try:
        import imagehash
    except ImportError:
        imagehash = None
    ours, dhashes, ms = {}, {}, []
    for key, data in files.items():
        small = smallest_rendition(data)
        started = time.perf_counter()
        ours[key] = similarity.perceptual_hash(small)
        ms.append((time.perf_counter() - started) * 1000)
        if imagehash is not None:
            dhashes[key] = str(imagehash.dhash(small))
    return ours, dhashes, ms


def pairs(files: dict[tuple[str, str], bytes]) -> dict[str, list[tuple]]:
    """Pairs of file keys by what they should be: same photo, burst neighbours, different photos."""
    kinds: dict[str, list[tuple]] = {"same": [], "burst": [], "different": []}
    for a, b in itertools.combinations(files, 2):
        (scene_a, copy_a), (scene_b, copy_b) = a, b
        burst_a, burst_b = copy_a.startswith("burst"), copy_b.startswith("burst")
        if scene_a != scene_b:
            if not burst_a and not burst_b:
                kinds["different"].append((a, b))
        elif burst_a and burst_b:
            kinds["burst"].append((a, b))
        elif not burst_a and not burst_b:
            kinds["same"].append((a, b))
        # A burst frame and a copy of its own scene: alike by construction, in neither class.
    return kinds


def _shares_band(a: str, b: str, bands: int) -> bool:
    spans = similarity._band_spans(bands)
    x, y = int(a, 16), int(b, 16)
    return any(((x ^ y) >> shift) & ((1 << width) - 1) == 0 for shift, width in spans)


def rates(hashed: dict, kinds: dict[str, list[tuple]], with_index: bool) -> list[dict]:
    def dist(pair):
        return similarity.distance(hashed[pair[0]], hashed[pair[1]])

    distances = {kind: [dist(pair) for pair in found] for kind, found in kinds.items()}
    rows = []
    for threshold in THRESHOLDS:
        true = sum(d <= threshold for d in distances["same"])
        burst = sum(d <= threshold for d in distances["burst"])
        other = sum(d <= threshold for d in distances["different"])
        called = true + burst + other
        row = {
            "threshold": threshold,
            "recall": true / len(distances["same"]),
            "precision": true / called if called else 1.0,
            "burstSimilar": burst,
            "differentSimilar": other,
        }
        if with_index:
            shared = sum(_shares_band(hashed[a], hashed[b], threshold + 1) for a, b in kinds["different"])
            row["candidateShare"] = shared / len(kinds["different"])
        rows.append(row)
    return rows


def per_copy(hashed: dict, scenes: list[str]) -> dict[str, list[int]]:
    """Each copy's distance to its original."""
    out: dict[str, list[int]] = {}
    for (scene, copy), value in hashed.items():
        if copy != "original" and not copy.startswith("burst"):
            out.setdefault(copy, []).append(similarity.distance(value, hashed[(scene, "original")]))
    return out


def print_rates(title: str, rows: list[dict], counts: dict[str, int]) -> None:
    print(f"\n{title}: {counts['same']} same-photo pairs, {counts['burst']} burst pairs, {counts['different']} other")
    index = "candidateShare" in rows[0]
    print(
        "| threshold (bits of 64) | precision | recall | burst pairs called similar | different photos called similar |"
        + (" unrelated pairs sharing a band |" if index else "")
    )
    print("|---|---|---|---|---|" + ("---|" if index else ""))
    for row in rows:
        line = (
            f"| {row['threshold']} | {row['precision']:.3f} | {row['recall']:.3f} | "
            f"{row['burstSimilar']} of {counts['burst']} | {row['differentSimilar']} of {counts['different']} |"
        )
        if index:
            line += f" {row['candidateShare']:.1%} |"
        print(line)


def main() -> int:
    files: dict[tuple[str, str], bytes] = {}
    started = time.perf_counter()
    sources = originals()
    for scene, original in sources.items():
        log(f"  {scene}: copies and a burst")
        for copy, data in copies(original).items():
            files[(scene, copy)] = data
        for number, frame in enumerate(burst(original)):
            files[(scene, f"burst {number}")] = frame
    log(f"duplicates: {len(sources)} photo(s), {len(files)} files made in {time.perf_counter() - started:.0f} s")
    ours, dhashes, ms = hashes(files)
    kinds = pairs(files)
    counts = {kind: len(found) for kind, found in kinds.items()}
    our_rows = rates(ours, kinds, with_index=True)
    print_rates(f"pHash (handlers.similarity) on {len(sources)} photos", our_rows, counts)
    d_rows = rates(dhashes, kinds, with_index=True) if dhashes else []
    if d_rows:
        print_rates("dHash (imagehash 4.3.2), for comparison", d_rows, counts)
    copy_distances = per_copy(ours, list(sources))
    within = similarity.SIMILAR_WITHIN
    print(f"\npHash distance of each copy to its original: median, max over photos; share within {within}")
    for copy, found in copy_distances.items():
        share = sum(d <= within for d in found) / len(found)
        print(f"  {copy:<22} {statistics.median(found):>4} {max(found):>4} {share:>6.0%}")
    frames = [similarity.distance(ours[a], ours[b]) for a, b in kinds["burst"]]
    different = [similarity.distance(ours[a], ours[b]) for a, b in kinds["different"]]
    print(f"  burst neighbours       {statistics.median(frames):>4} (min {min(frames)})")
    print(f"  different photos       {statistics.median(different):>4} (min {min(different)})")
    hash_ms = statistics.median(ms)
    print(f"\nThe hash of a 320 px rendition: median {hash_ms:.2f} ms, max {max(ms):.2f} ms ({len(ms)} files)")
    print(f"The threshold in use: handlers.similarity.SIMILAR_WITHIN = {similarity.SIMILAR_WITHIN}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "duplicates.json").write_text(
        json.dumps(
            {
                "photos": list(sources),
                "pairs": counts,
                "phash": our_rows,
                "dhash": d_rows,
                "perCopy": copy_distances,
                "hashMs": {"median": hash_ms, "max": max(ms)},
                "threshold": similarity.SIMILAR_WITHIN,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
