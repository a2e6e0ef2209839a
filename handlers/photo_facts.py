"""Photo facts: when and with what a photo was taken, read from its EXIF for the record (the
owner's preview). A whitelist of tags: GPS, serial numbers, owner names and maker notes never
leave the source file, and no rendition carries any metadata."""

from __future__ import annotations

import math
import re
from datetime import datetime

from PIL import Image

# The EXIF tags read: the whitelist.
_EXIF_IFD = 0x8769
_MAKE, _MODEL = 0x010F, 0x0110
_EXPOSURE_TIME, _F_NUMBER, _ISO = 0x829A, 0x829D, 0x8827
_TAKEN, _DIGITIZED, _TAKEN_OFFSET = 0x9003, 0x9004, 0x9011
_FOCAL_LENGTH, _LENS_MODEL = 0x920A, 0xA434
_EXIF_TIME = re.compile(r"(\d{4}):(\d{2}):(\d{2}) (\d{2}):(\d{2}):(\d{2})")
_OFFSET = re.compile(r"[+-]\d{2}:\d{2}")
MAX_FACT_CHARS = 64
MAX_EXPOSURE_SECONDS = 3600


def photo_facts(image: Image.Image) -> dict:
    """When and with what the photo was taken, from its EXIF: `takenAt` (ISO 8601, with the offset
    when the camera wrote one), `make`, `model`, `lens`, `fNumber`, `exposureTime` ("1/250"),
    `iso`, `focalLength` (mm). Absent or malformed values are left out, never guessed."""
    try:
        exif = image.getexif()
        tags = {**dict(exif), **dict(exif.get_ifd(_EXIF_IFD))}
    except Exception:  # malformed EXIF must not sink an otherwise good photo
        return {}
    facts = {
        "takenAt": _taken_at(tags.get(_TAKEN) or tags.get(_DIGITIZED), tags.get(_TAKEN_OFFSET)),
        "make": _text(tags.get(_MAKE)),
        "model": _text(tags.get(_MODEL)),
        "lens": _text(tags.get(_LENS_MODEL)),
        "fNumber": _number(tags.get(_F_NUMBER), 1),
        "exposureTime": _exposure(tags.get(_EXPOSURE_TIME)),
        "iso": _iso(tags.get(_ISO)),
        "focalLength": _number(tags.get(_FOCAL_LENGTH), 1),
    }
    return {name: value for name, value in facts.items() if value is not None}


def _text(value) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    cleaned = "".join(c for c in value if c.isprintable()).strip()
    return cleaned[:MAX_FACT_CHARS] or None


def _taken_at(value, offset) -> str | None:
    match = _EXIF_TIME.fullmatch(_text(value) or "")
    if not match:
        return None
    try:
        taken = datetime(*map(int, match.groups()))
    except ValueError:  # 0000:00:00 00:00:00, a 31st of February
        return None
    offset = _text(offset)
    return taken.isoformat() + (offset if offset and _OFFSET.fullmatch(offset) else "")


def _rational(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if number > 0 and math.isfinite(number) else None


def _number(value, digits: int) -> float | None:
    number = _rational(value)
    return round(number, digits) if number is not None else None


def _exposure(value) -> str | None:
    seconds = _rational(value)
    if seconds is None:
        return None
    if seconds > MAX_EXPOSURE_SECONDS:  # 0xFFFFFFFF/1 from a broken writer, not a day-long exposure
        return None
    return f"1/{round(1 / seconds)}" if seconds < 0.5 else f"{round(seconds, 1):g}"


def _iso(value) -> int | None:
    if isinstance(value, tuple):  # some cameras write a list
        value = value[0] if value else None
    return value if isinstance(value, int) and 0 < value < 10_000_000 else None
