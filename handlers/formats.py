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


@dataclass(frozen=True)
class Limits:
    max_pixels: int = 100_000_000
    max_bytes: int = 25 * 1024 * 1024
    preview_side: int = 1024
    thumbnail_side: int = 256
    jpeg_quality: int = 82
    webp_quality: int = 82
