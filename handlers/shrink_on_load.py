"""Shrink-on-load for PNG and WebP sources larger than the largest rendition, through libvips.

Pillow decodes a PNG or a WebP at full size (~200 ms for 12 MP) and the renderer then resizes it.
libvips decodes a WebP at reduced scale (libwebp scales rows as it decodes them) and streams a
PNG through its shrink, a few rows at a time, to the largest rendition's size: half the time and
none of the full-size buffers (docs/benchmarks.md, every source format). `decode` hands the
renderer a plain Pillow image of exactly that size in the display mode (RGB, or RGBA with
straight alpha), or None, and then Pillow decodes as before. Only the pixels come from libvips:
what the file is, its size, frames, alpha, ICC profile and EXIF are Pillow's reading of it as
opened, and the budget is checked on them before either decoder runs.

None, whenever libvips could differ from Pillow's decode: an animation (Pillow's first frame), an
interlaced PNG (libvips would hold it whole), a PNG with chunks after its image data (Pillow reads
their text and EXIF as it decodes), anything libvips warns about or fails on (a truncated or
corrupt file gets Pillow's verdict, as before), or a libvips the runtime cannot load
(`handlers.vips.load`, which the renderer's resizes share).
"""

from __future__ import annotations

from PIL import Image

from handlers import vips as libvips
from handlers.probe.png import png_layout

# Pillow's format -> the libvips loader that must have read it (both go by the same signature).
LOADERS = {"PNG": "pngload_buffer", "WEBP": "webpload_buffer"}


def _streams(image: Image.Image, data: bytes) -> bool:
    if getattr(image, "n_frames", 1) > 1:
        return False
    if image.format == "WEBP":
        return True
    try:
        layout = png_layout(data)
    except ValueError:
        return False
    return not layout.interlaced and layout.after_image == (b"IEND",)


def decode(image: Image.Image, data: bytes, size: tuple[int, int], alpha: bool) -> Image.Image | None:
    """`image` (opened by Pillow, not decoded) as a plain image of `size` (smaller than its own) in
    its display mode (RGBA when `alpha`, else RGB), metadata as Pillow read it on opening; or None
    when Pillow is to decode it."""
    smaller = size[0] <= image.width and size[1] <= image.height and size != image.size
    if image.format not in LOADERS or not smaller or not _streams(image, data):
        return None
    vips = libvips.load()
    if vips is None:
        return None
    try:
        reduced = vips.Image.thumbnail_buffer(
            data, size[0], height=size[1], size="force", no_rotate=True, option_string="fail_on=warning"
        )
        if reduced.get("vips-loader") != LOADERS[image.format]:
            return None
        if reduced.interpretation != "srgb" or reduced.format != "uchar":
            reduced = reduced.colourspace("srgb")  # grey, 16 bits: to 8-bit sRGB, any alpha kept
        mode = "RGBA" if alpha else "RGB"
        if reduced.bands != len(mode) or reduced.format != "uchar" or (reduced.width, reduced.height) != size:
            return None
        pixels = reduced.write_to_memory()
    except vips.Error:
        return None
    decoded = Image.frombytes(mode, size, pixels)
    decoded.info = dict(image.info)
    return decoded
