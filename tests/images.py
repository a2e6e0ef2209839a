"""Test and benchmark inputs, made deterministically in memory (no downloads)."""

from __future__ import annotations

import io
from pathlib import Path

import pillow_heif
from PIL import ExifTags, Image, ImageDraw, ImageFilter

# Tests make HEIC files with Pillow; the pipeline itself loads pillow-heif only for ISO media files.
pillow_heif.register_heif_opener()

# Odd real-world files from Pillow's test suite, with the outcome each should have (MANIFEST.tsv);
# kept in the repository (licence beside them) so a clone alone runs every corpus test.
CORPUS = Path(__file__).resolve().parent / "corpus" / "pillow"

GPS_TAGS = {
    ExifTags.GPS.GPSLatitudeRef: "N",
    ExifTags.GPS.GPSLatitude: (52.0, 31.0, 12.5),
    ExifTags.GPS.GPSLongitudeRef: "E",
    ExifTags.GPS.GPSLongitude: (13.0, 24.0, 36.0),
}


def corpus_manifest() -> list[dict]:
    """The corpus entries; a missing manifest fails loudly rather than parametrizing nothing."""
    lines = (CORPUS / "MANIFEST.tsv").read_text().splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:] if line.strip()]


def photo(width: int, height: int, mode: str = "RGB", seed: int = 1) -> Image.Image:
    """Photo-like content: smooth gradients, shapes and fine texture, so codecs work as on photos."""
    small = Image.new("RGB", (64, 48))
    px = small.load()
    for y in range(48):
        for x in range(64):
            px[x, y] = ((x * 4 + seed * 37) % 256, (y * 5 + seed * 11) % 256, ((x + y) * 3) % 256)
    image = small.resize((width, height), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    for i in range(12):
        x0, y0 = (i * 97 * width // 1000) % width, (i * 61 * height // 1000) % height
        draw.ellipse([x0, y0, x0 + width // 6, y0 + height // 5], fill=((i * 40) % 256, 200 - i * 10, i * 20))
    noise = Image.effect_noise((width, height), 24).convert("RGB")
    image = Image.blend(image, noise, 0.12).filter(ImageFilter.SMOOTH)
    return image.convert(mode) if mode != "RGB" else image


def exif_bytes(orientation: int = 1, gps: bool = True) -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "imagepipe-test-phone"
    if gps:
        exif.get_ifd(ExifTags.IFD.GPSInfo).update(GPS_TAGS)
    return exif.tobytes()


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def phone_jpeg(width: int = 1200, height: int = 900, orientation: int = 6, **params) -> bytes:
    """A phone-style JPEG: stored landscape, EXIF says rotate (6 = 90 CW), with GPS and a comment."""
    return encode(
        photo(width, height), "JPEG", quality=90, exif=exif_bytes(orientation), comment=b"shot on test", **params
    )


def taken_jpeg(taken: str, offset: str | None = None, width: int = 640, height: int = 480, seed: int = 1) -> bytes:
    """A camera's JPEG that says when it was taken: EXIF DateTimeOriginal ("2019:06:01 14:30:00") and,
    when given, the UTC offset the camera recorded with it (OffsetTimeOriginal, "+02:00")."""
    exif = Image.Exif()
    taken_tags = exif.get_ifd(ExifTags.IFD.Exif)
    taken_tags[ExifTags.Base.DateTimeOriginal] = taken
    if offset:
        taken_tags[ExifTags.Base.OffsetTimeOriginal] = offset
    return encode(photo(width, height, seed=seed), "JPEG", quality=85, exif=exif.tobytes())
