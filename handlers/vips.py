"""libvips for the renderer: loaded once (`load`), and its resampler (`resize`).

Pillow opens, checks and encodes every image; libvips decodes a large PNG or WebP straight to the
largest size (`handlers.shrink_on_load`) and makes each size of an opaque image from the one before:
its reduce with the cubic kernel is Pillow's BICUBIC (Catmull-Rom, separable, anti-aliased when
shrinking) in vector code, within a quarter of a level on photos, for less than half the CPU (12 MP
JPEG: the four sizes ~83 -> ~43 ms of CPU; docs/benchmarks.md, every source format). pyvips (and
libvips, ~18 MB) is imported for the first image rendered; with no libvips (`load` is None) or any
error of its own, Pillow resizes as before. An image with alpha stays with Pillow, which weights
colour by alpha as it resamples.
"""

from __future__ import annotations

from functools import lru_cache

from PIL import Image


@lru_cache(maxsize=1)
def load():
    """pyvips, or None when the runtime cannot load it."""
    try:
        import pyvips
    except (ImportError, OSError):  # pragma: no cover - the zip and the dev venv both carry it
        return None
    pyvips.cache_set_max(0)  # nothing of one photo kept for the next
    return pyvips


def resize(image: Image.Image, size: tuple[int, int]) -> Image.Image | None:
    """`image` (RGB) resampled to exactly `size` by libvips' cubic reduce, as a plain Pillow image;
    None when it is not RGB or libvips cannot do it (then Pillow does)."""
    vips = load()
    if vips is None or image.mode != "RGB":
        return None
    try:
        source = vips.Image.new_from_memory(image.tobytes(), image.width, image.height, 3, "uchar")
        resized = source.resize(size[0] / image.width, vscale=size[1] / image.height, kernel="cubic")
        if (resized.width, resized.height) != size:
            return None
        pixels = resized.write_to_memory()
    except vips.Error:
        return None
    return Image.frombytes("RGB", size, pixels)
