"""What the pipeline accepts and its limits: plain data, no Pillow, so the API Lambda
can validate requests without importing the image stack (a faster cold start)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

# Content types the API accepts for upload; the processor still decides by content.
ACCEPTED_CONTENT_TYPES = frozenset(
    {"image/jpeg", "image/png", "image/webp", "image/gif", "image/avif", "image/heic", "image/heif"}
)

# The format the processor detected (Pillow's name for it, the record's `format`) -> the content
# type and file extension of such a file: what the record says it is, and what the original is
# downloaded as, whatever name and type the uploader gave it. The one table of them.
FORMAT_FILES: dict[str, tuple[str, str]] = {
    "JPEG": ("image/jpeg", ".jpg"),
    "MPO": ("image/jpeg", ".jpg"),  # a camera's multi-picture JPEG: its first image is a JPEG
    "PNG": ("image/png", ".png"),
    "WEBP": ("image/webp", ".webp"),
    "GIF": ("image/gif", ".gif"),
    "AVIF": ("image/avif", ".avif"),
    "HEIF": ("image/heif", ".heif"),  # pillow-heif's name for HEIC and HEIF alike
}
FORMAT_CONTENT_TYPES = {name: content_type for name, (content_type, _) in FORMAT_FILES.items()}


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


# Bump when the rendering itself changes in a way the spec's fields do not show (a new resampling
# filter, the placeholder's input size): every record made before is then re-rendered by
# `make reprocess`, as after a change of the spec.
RENDERER_REVISION = 1


@dataclass(frozen=True)
class RenditionSpec:
    """What renditions each photo gets. Each size is a name and a longest side in pixels, largest
    first (never upscaled: a smaller source gives its own size). Each rendition is encoded as AVIF
    (what browsers that support it fetch: at quality 68, the same SSIMULACRA2 as JPEG q82 with 71%
    of its bytes at 1024 px, on 8 camera photos) and a fallback every browser shows: JPEG, or WebP
    for a source with transparency. The defaults are chosen from `make bench`'s measurements on
    real photos (docs/benchmarks.md)."""

    sizes: tuple[tuple[str, int], ...] = (("large", 1920), ("preview", 1024), ("small", 640), ("thumbnail", 320))
    avif_quality: int = 68  # the same SSIMULACRA2 as JPEG q82 at 1024 px, with 71% of its bytes
    avif_speed: int = 9  # libaom's fastest: speed 6 costs ~6x the time for 7-10% fewer bytes
    jpeg_quality: int = 82
    webp_quality: int = 82  # the fallback of sources with transparency

    @property
    def version(self) -> str:
        """Changes whenever the spec (or the renderer) does: records carry the one they were made with."""
        canonical = json.dumps({"renderer": RENDERER_REVISION, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]

    @property
    def largest(self) -> int:
        return max(side for _, side in self.sizes)

    @classmethod
    def parse_sizes(cls, text: str) -> tuple[tuple[str, int], ...]:
        """ "large=1920,preview=1024" -> (("large", 1920), ("preview", 1024)), largest first."""
        sizes = []
        for part in text.split(","):
            name, _, side = part.strip().partition("=")
            if not name.isidentifier() or not side.isdigit() or not 16 <= int(side) <= 4096:
                raise ValueError(f"RENDITION_SIZES: {part.strip()!r} is not name=side (16..4096)")
            sizes.append((name, int(side)))
        if not sizes or len({n for n, _ in sizes}) != len(sizes) or len(sizes) > 8:
            raise ValueError("RENDITION_SIZES: 1 to 8 sizes with distinct names")
        return tuple(sorted(sizes, key=lambda s: -s[1]))
