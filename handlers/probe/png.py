"""PNG: the chunks' layout, walked by their lengths (nothing is inflated): whether the image is
interlaced, and which chunks follow its image data (Pillow reads those, text and EXIF, only as it
decodes; `handlers.shrink_on_load` streams a PNG only when nothing but IEND follows)."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.probe.readers import MAX_STEPS

_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class PngLayout:
    interlaced: bool
    after_image: tuple[bytes, ...]  # chunk types after the last IDAT, IEND included


def png_layout(data: bytes) -> PngLayout:
    """The layout of a whole PNG; a ValueError when it is not one, is cut short before IEND, or has
    more chunks than a probe visits."""
    if data[:8] != _SIGNATURE or data[12:16] != b"IHDR" or len(data) < 33:
        raise ValueError("not a PNG")
    interlaced = data[28] != 0
    pos, seen_image, after = 8, False, []
    for _ in range(MAX_STEPS):
        if pos + 12 > len(data):
            raise ValueError("the PNG is truncated")
        length, kind = int.from_bytes(data[pos : pos + 4], "big"), data[pos + 4 : pos + 8]
        pos += 12 + length
        if kind == b"IDAT":
            if after:
                raise ValueError("the PNG's image data is not in consecutive chunks")
            seen_image = True
        elif seen_image:
            after.append(kind)
        if kind == b"IEND":
            if not seen_image or pos > len(data):
                raise ValueError("the PNG has no image data, or is truncated")
            return PngLayout(interlaced, tuple(after))
    raise ValueError(f"the PNG has more than {MAX_STEPS} chunks")
