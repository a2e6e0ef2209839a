"""The decode budget's arithmetic: whether decoding a file and making its renditions fit the
limits, decided from headers before a single pixel is allocated. Every refusal is an
ImageRejected with a stable code:
- `too_many_pixels`, counted on the size the decoder really produces (`real_size`: for AVIF and
  HEIF the codec's own headers, read by this package's probes, may exceed what Pillow reports);
- `too_much_memory`: the larger of decoding (`decode_cost`: the decoder's own buffers and every
  copy our path makes) and encoding the renditions (`encode_cost`), never both at once;
- `too_complex`: a JPEG of more scans than the limit.

The renderer calls `check_before_opening` (a WebP's canvas is allocated as the file is opened),
`read_headers` once it is opened, and `check_budget` after `draft`, before decoding. Pillow's
image objects are read as opened (format, mode, size, info), never their pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from handlers.formats import MIB, Limits
from handlers.outcome import ImageRejected
from handlers.probe.heif import avif_frame_size, heif_primary_size
from handlers.probe.jpeg import JpegStructure, jpeg_structure
from handlers.probe.webp import webp_canvas_size

if TYPE_CHECKING:
    from PIL import Image


@dataclass(frozen=True)
class Headers:
    """What the byte-level probes read, once per file: the codec's own frame size of an AVIF's or
    a HEIF's primary image, and a JPEG's structure (scans, sampling)."""

    frame: tuple[int, int] | None = None
    jpeg: JpegStructure | None = None

    @classmethod
    def read(cls, image: Image.Image, data: bytes) -> Headers:
        if image.format == "AVIF":
            return cls(frame=avif_frame_size(data))
        if image.format == "HEIF":
            return cls(frame=heif_primary_size(data))
        if image.format in ("JPEG", "MPO"):
            return cls(jpeg=jpeg_structure(data))
        return cls()


def check_before_opening(data: bytes, limits: Limits) -> None:
    """WebP's decoder allocates its canvas as the file is opened: its header is checked first."""
    declared = webp_canvas_size(data)
    if declared:
        check_pixels(*declared, limits)
        # The opaque figure: alpha is known once opened, and then checked again (decode_cost).
        check_memory(_decoder_cost("WEBP", declared[0] * declared[1], alpha=False), declared, limits)


def read_headers(image: Image.Image, data: bytes, limits: Limits) -> Headers:
    """The probes' reading of an opened file, its pixels checked on the size the decoder will
    really produce, before a single one is decoded."""
    try:
        headers = Headers.read(image, data)
    except ValueError as exc:  # the codec's own header, read by the probes, is malformed
        raise ImageRejected("corrupt", f"The image header could not be read: {exc}") from exc
    check_pixels(*real_size(image, headers), limits)
    return headers


def real_size(image: Image.Image, headers: Headers) -> tuple[int, int]:
    """The size the decoder will produce. Container headers can lie: an AVIF's `ispe` may declare
    1000x1000 over a 16384x16384 AV1 frame, and libavif decodes the frame; so for AVIF and HEIF
    the codec's own header (AV1 sequence header, HEVC SPS) of the primary image counts too."""
    width, height = image.size
    frame = headers.frame
    # By area: codec headers give the stored size, the container may give it rotated (irot).
    if frame and frame[0] * frame[1] > width * height:
        return frame
    return width, height


def check_pixels(width: int, height: int, limits: Limits) -> None:
    if width * height > limits.max_pixels:
        raise ImageRejected(
            "too_many_pixels",
            f"The image is {width}x{height} ({width * height} pixels); the limit is {limits.max_pixels}.",
        )


def check_memory(needed: int, size: tuple[int, int], limits: Limits) -> None:
    if needed > limits.max_decode_bytes:
        raise ImageRejected(
            "too_much_memory",
            f"Decoding this {size[0]}x{size[1]} image would take about {needed // MIB} MiB; "
            f"the limit is {limits.max_decode_bytes // MIB} MiB.",
        )


# Peak bytes per pixel of the frame, for decoders that keep buffers of their own, as
# (opaque, with alpha): libwebp's canvases and the frame copied out of them; libavif's and
# libheif's YUV planes (up to 16 bits per sample) and the RGB(A) frame handed to Pillow; plus
# our copies. Measured on 24-50 MP inputs (`make bench`, hostile inputs) and rounded up ~15%.
_DECODER_BYTES_PER_PIXEL = {"WEBP": (17, 21), "AVIF": (15, 20), "HEIF": (12, 15)}
# What any decode costs besides pixels: codec contexts (libheif's, libavif's), encoder buffers
# for the renditions, Python objects. Measured 5 MiB for a 64x48 HEIF.
_DECODE_OVERHEAD = 16 * MIB
# Bytes per pixel of Pillow's own image storage (every other mode takes 4).
_MODE_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}


def _decoder_cost(image_format: str, pixels: int, alpha: bool) -> int:
    return _DECODE_OVERHEAD + pixels * _DECODER_BYTES_PER_PIXEL[image_format][alpha]


def decode_cost(image: Image.Image, headers: Headers) -> int:
    """Peak bytes that decoding `image` (as opened, after any `draft`) and making the renditions
    take, estimated from headers only. `make bench` checks the estimate against measured peaks."""
    width, height = real_size(image, headers)
    pixels = width * height
    alpha = has_alpha(image)
    if image.format in _DECODER_BYTES_PER_PIXEL:
        return _decoder_cost(image.format, pixels, alpha)
    # Pillow's own decoders (JPEG, PNG, GIF): the decoded frame in its mode, a converted copy
    # unless it is already the working mode (RGB, or RGBA with transparency: an RGB PNG with a
    # tRNS colour is copied to RGBA), a premultiplied copy when resizing with alpha, ~1 byte of
    # resize intermediates.
    decoded = _MODE_BYTES.get(image.mode, 4)
    converted = 0 if image.mode == ("RGBA" if alpha else "RGB") else 4
    per_pixel = decoded + converted + (4 if alpha else 0) + 1
    if image.format not in ("JPEG", "MPO"):
        return _DECODE_OVERHEAD + pixels * per_pixel
    per_pixel += 4  # at draft scale; a CMYK or ICC source adds a conversion
    # More than one scan (progressive, or a sequential file with its components in separate
    # scans): libjpeg decodes through whole-image coefficient arrays at full size, whatever the
    # draft scale.
    coefficients = headers.jpeg.coefficient_bytes if headers.jpeg.scans > 1 else 0
    return _DECODE_OVERHEAD + pixels * per_pixel + coefficients


# Peak bytes per pixel of the largest rendition while the renditions are made: every size kept
# until encoded (~1.4x the largest, 4 bytes a pixel) and two encoders at once, as (opaque: AVIF
# and JPEG; with alpha: AVIF and WebP). libaom's AV1 encoder dominates: measured 67 MiB (RGB)
# and 130 MiB (RGBA, with WebP beside it) for 1920x1440 of synthetic lines, 109 MiB and later
# 122.4 MiB (2026-12-04: over 40 bytes a pixel's 121) for a 12 MP photo's (`make bench`, hostile
# inputs); rounded up.
_ENCODE_BYTES_PER_PIXEL = (44, 64)
# libvips, loaded for the resizes (handlers.vips): its code, threads and buffers. A 12 MP JPEG's
# peak went from 122 to 137 MiB, a 102 MP JPEG's from 104 to 119 MiB when its resizes moved to it
# (2026-12-04, `make bench`, hostile inputs). Only the renditions' estimate counts it: libvips
# resamples the largest size only from a source under 2x it (rendering._resize_largest), so its
# memory never sits beside a large decode.
_LIBVIPS = 16 * MIB


def encode_cost(size: tuple[int, int], alpha: bool) -> int:
    """Peak bytes of making the renditions, the largest of which is `size` (the source is closed
    by then: decoding and encoding never hold memory at once)."""
    return _DECODE_OVERHEAD + _LIBVIPS + size[0] * size[1] * _ENCODE_BYTES_PER_PIXEL[alpha]


def check_budget(
    image: Image.Image, headers: Headers, full_size: tuple[int, int], largest: tuple[int, int], limits: Limits
) -> int:
    """Refuse before decoding what would take more memory or work than the budget allows; else the
    estimate of peak bytes that was checked (what the processor reports against the budget)."""
    if headers.jpeg and headers.jpeg.scans > limits.max_jpeg_scans:
        raise ImageRejected(
            "too_complex", f"The JPEG has {headers.jpeg.scans} scans; the limit is {limits.max_jpeg_scans}."
        )
    needed = max(decode_cost(image, headers), encode_cost(largest, has_alpha(image)))
    check_memory(needed, full_size, limits)
    return needed


def has_alpha(image: Image.Image) -> bool:
    """Transparency, known once the file is opened: an alpha band, or a transparent palette entry
    or colour (tRNS)."""
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
