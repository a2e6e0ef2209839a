"""What the pipeline accepts and its limits: plain data, no Pillow, so the API Lambda
can validate requests without importing the image stack (a faster cold start)."""

from __future__ import annotations

from dataclasses import dataclass

# Content types the API accepts for upload; the processor still decides by content.
ACCEPTED_CONTENT_TYPES = frozenset(
    {"image/jpeg", "image/png", "image/webp", "image/gif", "image/avif", "image/heic", "image/heif"}
)

# Pillow's format name -> the content type of such a source.
FORMAT_CONTENT_TYPES = {
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "AVIF": "image/avif",
    "HEIF": "image/heif",
}


MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    # Of the image the decoder really produces, not what a header says. "100 MP" cameras make
    # 102 MP (Fujifilm GFX100: 11648x8736; Hasselblad X2D: 11656x8742): they must pass.
    max_pixels: int = 120_000_000
    max_bytes: int = 25 * MIB
    # Peak memory a decode may cost (the decoder's buffers and our copies), estimated before any
    # pixel is allocated; the processor's memory size is this plus its baseline plus a margin.
    max_decode_bytes: int = 1024 * MIB
    # Scans in a JPEG: each walks the whole coefficient buffer again. Encoders write 1 (baseline)
    # to ~10 (progressive; mozjpeg up to ~20); thousands are a CPU bomb.
    max_jpeg_scans: int = 100
    preview_side: int = 1024
    thumbnail_side: int = 256
    jpeg_quality: int = 82
    webp_quality: int = 82
