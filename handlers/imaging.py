"""The image core: bytes in, renditions out. Knows Pillow, nothing of AWS.

`make_renditions` is what the processor Lambda runs for every upload, and what
`python -m handlers.imaging FILE... --out DIR` runs on local files.

Speed comes from decoding once at reduced scale: `Image.draft` lets the JPEG
decoder produce the image at 1/2, 1/4 or 1/8 scale directly (DCT scaling), sized
towards the preview's aspect-correct target; one resize brings it to the preview;
the thumbnail is derived from the preview, never from the source again. EXIF
orientation is applied to the small image, where a transpose costs nothing.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import math
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageCms, UnidentifiedImageError

from handlers import probe
from handlers.formats import (  # noqa: F401  (re-exported)
    ACCEPTED_CONTENT_TYPES,
    FORMAT_CONTENT_TYPES,
    MIB,
    Limits,
    RenditionSpec,
)

# Only raster formats users send (the JPEG decoder also yields MPO). Restricting Pillow's
# identification to these keeps EPS, PDF, ICO, TIFF and its other decoders out of reach.
DECODERS = ("JPEG", "PNG", "WEBP", "GIF", "AVIF")

# HEIF/HEIC (iPhone photos) is decoded by pillow-heif, imported only for a file in an ISO media
# container (HEIF, AVIF): a JPEG's cold start and the CLI do not pay for loading libheif.
_ISO_MEDIA = b"ftyp"


@lru_cache(maxsize=1)
def _heif_decoders() -> tuple[str, ...]:
    try:
        import pillow_heif
    except ImportError:  # pragma: no cover - the zip and the dev venv both carry it
        return DECODERS
    pillow_heif.register_heif_opener()
    return (*DECODERS, "HEIF")


def decoders_for(data: bytes) -> tuple[str, ...]:
    return _heif_decoders() if data[4:8] == _ISO_MEDIA else DECODERS


# EXIF orientation tag value -> the transpose that makes the image upright.
_ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_EXIF_ORIENTATION = 0x0112

_SRGB = ImageCms.createProfile("sRGB")

# Our own limit (Limits.max_pixels, checked from the header in _open) is the one that
# counts, with a message naming the size; Pillow's global bomb check would pre-empt it.
Image.MAX_IMAGE_PIXELS = None


class ImageRejected(Exception):
    """The input is not something we can turn into renditions; `code` is stable."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Source:
    """One encoded file of a rendition."""

    data: bytes = field(repr=False)
    width: int
    height: int
    content_type: str

    @property
    def extension(self) -> str:
        return _EXTENSIONS[self.content_type]


_EXTENSIONS = {"image/avif": "avif", "image/jpeg": "jpg", "image/webp": "webp", "image/png": "png"}


@dataclass(frozen=True)
class Rendition:
    """One size of the photo, in each format of the spec: `sources` modern first (what a browser
    that supports it picks, in `<picture>`), the last one the fallback that every browser shows."""

    name: str
    sources: tuple[Source, ...]

    @property
    def fallback(self) -> Source:
        return self.sources[-1]

    # The fallback stands for the rendition where one file is meant.
    data = property(lambda self: self.fallback.data)
    width = property(lambda self: self.fallback.width)
    height = property(lambda self: self.fallback.height)
    content_type = property(lambda self: self.fallback.content_type)


@dataclass(frozen=True)
class Processed:
    """What we learned about the source, and the renditions made from it."""

    format: str
    content_type: str
    width: int  # oriented: as a person sees it
    height: int
    frames: int
    has_alpha: bool
    colour: str  # "srgb" (converted from an embedded ICC profile) or "assumed-srgb"
    renditions: dict[str, Rendition]
    spec_version: str = ""
    placeholder: str = ""  # ThumbHash, base64: the page paints it before the image arrives
    dominant_color: str = ""  # "#rrggbb", painted before the placeholder is decoded
    facts: dict = field(default_factory=dict)  # photo facts from EXIF (never GPS or serial numbers)


DEFAULT_LIMITS = Limits()
DEFAULT_SPEC = RenditionSpec()


def make_renditions(data: bytes, limits: Limits = DEFAULT_LIMITS, spec: RenditionSpec = DEFAULT_SPEC) -> Processed:
    """Validate `data` by its content and make the renditions of `spec`, from one decode."""
    if not data:
        raise ImageRejected("empty", "The file is empty.")
    if len(data) > limits.max_bytes:
        raise ImageRejected("too_large", f"The file is larger than {limits.max_bytes} bytes.")
    image, headers = _open(data, limits)
    try:
        return _render(image, headers, limits, spec)
    finally:
        image.close()


def _open(data: bytes, limits: Limits) -> tuple[Image.Image, Headers]:
    # WebP's decoder allocates its canvas as the file is opened: check the header first.
    declared = probe.webp_canvas_size(data)
    if declared:
        _check_pixels(*declared, limits)
        # The opaque figure: alpha is known once opened, and then checked again (decode_cost).
        _check_memory(_decoder_cost("WEBP", declared[0] * declared[1], alpha=False), declared, limits)
    try:
        image = Image.open(io.BytesIO(data), formats=decoders_for(data))
    except UnidentifiedImageError as exc:
        raise ImageRejected(
            "not_an_image", "The file is not an image in a supported format (JPEG, PNG, WebP, GIF, AVIF, HEIC)."
        ) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected("corrupt", f"The image header could not be read: {exc}") from exc
    try:
        headers = Headers.read(image, data)
        # Checked on the size the decoder will really produce, before a single pixel is decoded.
        _check_pixels(*real_size(image, headers), limits)
        if image.width < 1 or image.height < 1:
            raise ImageRejected("corrupt", "The image has no pixels.")
    except ValueError as exc:  # the codec's own header, read by handlers.probe, is malformed
        image.close()
        raise ImageRejected("corrupt", f"The image header could not be read: {exc}") from exc
    except ImageRejected:
        image.close()
        raise
    return image, headers


@dataclass(frozen=True)
class Headers:
    """What the byte-level probes read, once per file: the codec's own frame size of an AVIF's or
    a HEIF's primary image, and a JPEG's structure (scans, sampling)."""

    frame: tuple[int, int] | None = None
    jpeg: probe.JpegStructure | None = None

    @classmethod
    def read(cls, image: Image.Image, data: bytes) -> Headers:
        if image.format == "AVIF":
            return cls(frame=probe.avif_frame_size(data))
        if image.format == "HEIF":
            return cls(frame=probe.heif_primary_size(data))
        if image.format in ("JPEG", "MPO"):
            return cls(jpeg=probe.jpeg_structure(data))
        return cls()


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


def _check_pixels(width: int, height: int, limits: Limits) -> None:
    if width * height > limits.max_pixels:
        raise ImageRejected(
            "too_many_pixels",
            f"The image is {width}x{height} ({width * height} pixels); the limit is {limits.max_pixels}.",
        )


def _check_memory(needed: int, size: tuple[int, int], limits: Limits) -> None:
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
    alpha = _has_alpha(image)
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
# and 130 MiB (RGBA, with WebP beside it) for 1920x1440 of synthetic lines, 109 MiB for a 12 MP
# photo's (`make bench`, hostile inputs); rounded up.
_ENCODE_BYTES_PER_PIXEL = (40, 64)


def encode_cost(size: tuple[int, int], alpha: bool) -> int:
    """Peak bytes of making the renditions, the largest of which is `size` (the source is closed
    by then: decoding and encoding never hold memory at once)."""
    return _DECODE_OVERHEAD + size[0] * size[1] * _ENCODE_BYTES_PER_PIXEL[alpha]


def _check_budget(
    image: Image.Image, headers: Headers, full_size: tuple[int, int], largest: tuple[int, int], limits: Limits
) -> None:
    """Refuse before decoding what would take more memory or work than the budget allows."""
    if headers.jpeg and headers.jpeg.scans > limits.max_jpeg_scans:
        raise ImageRejected(
            "too_complex", f"The JPEG has {headers.jpeg.scans} scans; the limit is {limits.max_jpeg_scans}."
        )
    needed = max(decode_cost(image, headers), encode_cost(largest, _has_alpha(image)))
    _check_memory(needed, full_size, limits)


def _orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception:  # malformed EXIF must not sink an otherwise good photo
        return 1
    return value if value in _ORIENTATION_TRANSPOSE else 1


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info


def _fit(width: int, height: int, side: int) -> tuple[int, int]:
    """The size that fits `side` on the longest edge, keeping the aspect ratio; never upscaled."""
    longest = max(width, height)
    if longest <= side:
        return width, height
    scale = side / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


def _render(image: Image.Image, headers: Headers, limits: Limits, spec: RenditionSpec) -> Processed:
    source_format = image.format or "UNKNOWN"
    stored_w, stored_h = image.size
    largest = _fit(stored_w, stored_h, spec.largest)
    try:
        frames = getattr(image, "n_frames", 1)
        # Renditions show the first frame; a HEIF shows its primary image, which need not be
        # image 0 (and only the primary's size was checked).
        if image.format != "HEIF" and image.tell() != 0:
            image.seek(0)
        if source_format in ("JPEG", "MPO"):
            # The decoder scales by 1/2..1/8 while decoding; it keeps the result >= the size asked.
            image.draft(image.mode, largest)
        _check_budget(image, headers, (stored_w, stored_h), largest, limits)
        image.load()
    except OSError as exc:
        code = "truncated" if "truncated" in str(exc) else "corrupt"
        raise ImageRejected(code, f"The image data could not be decoded: {exc}") from exc
    except (SyntaxError, ValueError, EOFError, IndexError) as exc:
        raise ImageRejected("corrupt", f"The image data could not be decoded: {exc}") from exc
    # Read after decoding: for some formats reading EXIF decodes, and must fail loudly above.
    orientation = _orientation(image)
    facts = photo_facts(image)
    icc_profile = image.info.get("icc_profile")
    has_alpha = _has_alpha(image)

    working = _to_display_mode(image, has_alpha)
    if working.size != largest:
        working = _resize_largest(working, largest)
    colour = "assumed-srgb"
    if icc_profile:
        working, colour = _to_srgb(working, icc_profile)
    if working.mode == "CMYK":
        working = working.convert("RGB")
    if orientation != 1:
        working = working.transpose(_ORIENTATION_TRANSPOSE[orientation])
    if working is image:
        # Not resized (a source within the largest size): encode a plain copy, not the file
        # object, whose plugin may load again from another frame (pillow-heif: image 0) in the
        # encoder threads.
        working = image.copy()
    working.info = {}  # renditions carry no EXIF, GPS, XMP, ICC or comments
    # The decoded source is done with: freed before the encoders start (encode_cost).
    image.close()

    renditions, (thumbhash, colour_hex) = _make_sizes(working, has_alpha, spec)
    oriented_w, oriented_h = (stored_h, stored_w) if orientation in (5, 6, 7, 8) else (stored_w, stored_h)
    return Processed(
        format=source_format,
        content_type=FORMAT_CONTENT_TYPES.get(source_format, "application/octet-stream"),
        width=oriented_w,
        height=oriented_h,
        frames=frames,
        has_alpha=has_alpha,
        colour=colour,
        renditions=renditions,
        spec_version=spec.version,
        placeholder=thumbhash,
        dominant_color=colour_hex,
        facts=facts,
    )


def _resize_largest(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The one resize from the decoded source, the costliest (~60 ms from a 24 MP JPEG's half-scale
    decode): an RGB one is made in two halves on two threads (Pillow resamples with the GIL
    released, and each half reads the source rows its filter needs: no seam). RGBA is not split
    (each half would premultiply the whole source), nor a resize that first reduces."""
    gap = _reducing_gap(image.size, size)
    no_reduce = image.width < 2 * gap * size[0] and image.height < 2 * gap * size[1]
    if image.mode != "RGB" or not no_reduce or size[0] * size[1] < 1_000_000:
        return image.resize(size, Image.Resampling.BICUBIC, reducing_gap=gap)
    middle = size[1] // 2
    split = image.height * middle / size[1]  # where the output's middle row falls in the source
    halves = (((size[0], middle), (0, 0, image.width, split)), ((size[0], size[1] - middle), (0, split, *image.size)))
    with ThreadPoolExecutor(max_workers=2) as pool:
        top, bottom = pool.map(lambda half: image.resize(half[0], Image.Resampling.BICUBIC, half[1]), halves)
    resized = Image.new("RGB", size)
    resized.paste(top, (0, 0))
    resized.paste(bottom, (0, middle))
    return resized


def _reducing_gap(source: tuple[int, int], target: tuple[int, int]) -> float:
    """Pillow first reduces by a whole factor, keeping `gap` times the target, then resamples. 2.0
    is its quality setting; from a source 4x the target or more (a 100 MP PNG to 1920 px) that
    intermediate would be up to 16x the target's pixels (100 MB), so 1.0 keeps it under 4x."""
    return 1.0 if source[0] >= 4 * target[0] and source[1] >= 4 * target[1] else 2.0


def _make_sizes(
    working: Image.Image, has_alpha: bool, spec: RenditionSpec
) -> tuple[dict[str, Rendition], tuple[str, str]]:
    """Each size of the spec made from the next larger one (never from the source again), and
    encoded in every format of the spec; with the smallest one's placeholder and mean colour.

    Pipelined: each size's encoders start as soon as it exists, on two threads, while this one
    makes the next size (the AV1 encoder and Pillow's resize run with the GIL released), so
    both cores work from the first rendition on. Sizes a small source cannot fill share one
    image and its files."""
    kinds = _KINDS[has_alpha]
    encoding: dict[int, list] = {}  # id of a distinct image -> its encoders' futures, in `kinds` order
    sized: dict[str, Image.Image] = {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        current = working
        for name, side in spec.sizes:
            target = _fit(working.width, working.height, side)  # the aspect ratio of the whole, not of a rounding
            if target != current.size:
                current = current.resize(target, Image.Resampling.BICUBIC, reducing_gap=2.0)
            if id(current) not in encoding:
                encoding[id(current)] = [pool.submit(_encode, current, kind, spec) for kind in kinds]
            sized[name] = current
        tint = placeholder(current), dominant_color(current)  # pure Python, while the encoders run
        renditions = {
            name: Rendition(name, tuple(future.result() for future in encoding[id(image)]))
            for name, image in sized.items()
        }
    return renditions, tint


# The sources of each rendition, modern first; the last is the fallback every browser shows.
_KINDS = {False: ("image/avif", "image/jpeg"), True: ("image/avif", "image/webp")}


def _encode(image: Image.Image, content_type: str, spec: RenditionSpec) -> Source:
    buffer = io.BytesIO()
    if content_type == "image/avif":
        # One thread per encoder: the sources are already encoded two at a time.
        image.save(buffer, "AVIF", quality=spec.avif_quality, speed=spec.avif_speed, max_threads=1)
    elif content_type == "image/webp":
        image.save(buffer, "WEBP", quality=spec.webp_quality, method=4)
    else:
        image.save(buffer, "JPEG", quality=spec.jpeg_quality, optimize=True, progressive=False)
    return Source(buffer.getvalue(), image.width, image.height, content_type)


# ThumbHash reads at most 100x100 pixels; its pure-Python encoder costs ~w*h, and a blur of 7x7
# colours loses nothing at 48 px.
_PLACEHOLDER_SIDE = 48


def placeholder(image: Image.Image) -> str:
    """The ThumbHash of `image` (about 25 bytes), base64: the page paints it while the image loads."""
    import thumbhash  # pure Python, imported when the first photo is rendered

    small = image.copy()
    small.thumbnail((_PLACEHOLDER_SIDE, _PLACEHOLDER_SIDE), Image.Resampling.BOX)
    if small.mode == "RGBA":
        # thumbhash 0.1.2 fails on any transparent pixel (a precedence slip in its alpha branch):
        # the placeholder of a transparent image is its blur over its mean colour.
        small = Image.alpha_composite(Image.new("RGBA", small.size, dominant_color(small)), small)
    rgba = small.convert("RGBA")
    hashed = thumbhash.rgba_to_thumb_hash(rgba.width, rgba.height, list(rgba.tobytes()))
    return base64.b64encode(bytes(hashed)).decode("ascii")


def dominant_color(image: Image.Image) -> str:
    """The mean colour as #rrggbb (transparent pixels weigh nothing): painted first of all."""
    if image.mode == "RGBA":
        mean = image.convert("RGBa").resize((1, 1), Image.Resampling.BOX).convert("RGBA").getpixel((0, 0))
    else:
        mean = image.convert("RGB").resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
    return "#{:02x}{:02x}{:02x}".format(*mean[:3])


# EXIF tags of the photo facts. A whitelist: GPS, serial numbers, owner names and maker notes
# never leave the source file.
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


def _to_display_mode(image: Image.Image, has_alpha: bool) -> Image.Image:
    """RGB for opaque sources, RGBA for transparent ones (first frame of animations)."""
    target = "RGBA" if has_alpha else "RGB"
    if image.mode == target:
        return image
    if image.mode == "CMYK":
        return image  # converted through its ICC profile, or plainly, in _to_srgb / below
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greyscale: scale to 8 bits rather than clip.
        image = image.point(lambda v: v / 256).convert("L")
    return image.convert(target)


def _to_srgb(image: Image.Image, icc_profile: bytes) -> tuple[Image.Image, str]:
    """Convert from the embedded profile (Display P3 from phones, CMYK press profiles) to sRGB."""
    output_mode = "RGBA" if image.mode == "RGBA" else "RGB"
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        converted = ImageCms.profileToProfile(image, source, _SRGB, outputMode=output_mode)
        return converted, "srgb"
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        # A broken profile: fall back to the plain conversion rather than failing the photo.
        return image, "assumed-srgb"


def describe(result: Processed) -> dict:
    """A JSON-friendly summary, the same shape the record stores. Each rendition's own fields are
    its fallback's (what one-file clients show); `sources` lists every format, modern first."""
    return {
        "format": result.format,
        "contentType": result.content_type,
        "width": result.width,
        "height": result.height,
        "frames": result.frames,
        "hasAlpha": result.has_alpha,
        "colour": result.colour,
        "specVersion": result.spec_version,
        "placeholder": result.placeholder,
        "dominantColor": result.dominant_color,
        "facts": result.facts,
        "renditions": {
            name: {**_describe_source(r.fallback), "sources": [_describe_source(s) for s in r.sources]}
            for name, r in result.renditions.items()
        },
    }


def _describe_source(source: Source) -> dict:
    return {
        "width": source.width,
        "height": source.height,
        "bytes": len(source.data),
        "contentType": source.content_type,
    }


def main(argv: list[str] | None = None) -> int:
    """`python -m handlers.imaging FILE... --out DIR`: what the processor would do, locally."""
    parser = argparse.ArgumentParser(prog="python -m handlers.imaging", description=main.__doc__)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="folder for the renditions")
    args = parser.parse_args(argv)
    from handlers.config import Settings  # same limits as the Lambda, from the same env vars

    settings = Settings.from_env()
    args.out.mkdir(parents=True, exist_ok=True)
    failures = 0
    for path in args.files:
        line: dict = {"file": str(path)}
        try:
            result = make_renditions(path.read_bytes(), settings.limits, settings.renditions)
        except ImageRejected as exc:
            failures += 1
            line.update(status="failed", error={"code": exc.code, "message": exc.message})
        except OSError as exc:
            failures += 1
            line.update(status="failed", error={"code": "unreadable", "message": str(exc)})
        else:
            for rendition in result.renditions.values():
                for source in rendition.sources:
                    (args.out / f"{path.stem}.{rendition.name}.{source.extension}").write_bytes(source.data)
            line.update(status="processed", **describe(result))
        print(json.dumps(line), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
