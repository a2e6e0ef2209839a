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
import io
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageCms, UnidentifiedImageError

from handlers import probe
from handlers.formats import ACCEPTED_CONTENT_TYPES, FORMAT_CONTENT_TYPES, MIB, Limits  # noqa: F401  (re-exported)

try:  # HEIC/HEIF (iPhone photos): pillow-heif registers a decoder with Pillow.
    import pillow_heif

    pillow_heif.register_heif_opener()
    _HEIF_FORMATS = ["HEIF"]
except ImportError:  # pragma: no cover - the zip and the dev venv both carry it
    _HEIF_FORMATS = []

# Only raster formats users send (the JPEG decoder also yields MPO). Restricting Pillow's
# identification to these keeps EPS, PDF, ICO, TIFF and its other decoders out of reach.
DECODERS = ["JPEG", "PNG", "WEBP", "GIF", "AVIF", *_HEIF_FORMATS]

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
class Rendition:
    name: str
    data: bytes = field(repr=False)
    width: int
    height: int
    content_type: str

    @property
    def extension(self) -> str:
        return {"image/jpeg": "jpg", "image/webp": "webp", "image/png": "png"}[self.content_type]


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


DEFAULT_LIMITS = Limits()


def make_renditions(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Processed:
    """Validate `data` by its content and make the `preview` and `thumbnail` renditions."""
    if not data:
        raise ImageRejected("empty", "The file is empty.")
    if len(data) > limits.max_bytes:
        raise ImageRejected("too_large", f"The file is larger than {limits.max_bytes} bytes.")
    image, headers = _open(data, limits)
    try:
        return _render(image, headers, limits)
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
        image = Image.open(io.BytesIO(data), formats=DECODERS)
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


def _check_budget(image: Image.Image, headers: Headers, full_size: tuple[int, int], limits: Limits) -> None:
    """Refuse before decoding what would take more memory or work than the budget allows."""
    if headers.jpeg and headers.jpeg.scans > limits.max_jpeg_scans:
        raise ImageRejected(
            "too_complex", f"The JPEG has {headers.jpeg.scans} scans; the limit is {limits.max_jpeg_scans}."
        )
    _check_memory(decode_cost(image, headers), full_size, limits)


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


def _render(image: Image.Image, headers: Headers, limits: Limits) -> Processed:
    source_format = image.format or "UNKNOWN"
    stored_w, stored_h = image.size
    preview_size = _fit(stored_w, stored_h, limits.preview_side)
    try:
        frames = getattr(image, "n_frames", 1)
        # Renditions show the first frame; a HEIF shows its primary image, which need not be
        # image 0 (and only the primary's size was checked).
        if image.format != "HEIF" and image.tell() != 0:
            image.seek(0)
        if source_format in ("JPEG", "MPO"):
            # The decoder scales by 1/2..1/8 while decoding; it keeps the result >= the size asked.
            image.draft(image.mode, preview_size)
        _check_budget(image, headers, (stored_w, stored_h), limits)
        image.load()
    except OSError as exc:
        code = "truncated" if "truncated" in str(exc) else "corrupt"
        raise ImageRejected(code, f"The image data could not be decoded: {exc}") from exc
    except (SyntaxError, ValueError, EOFError, IndexError) as exc:
        raise ImageRejected("corrupt", f"The image data could not be decoded: {exc}") from exc
    # Read after decoding: for some formats reading EXIF decodes, and must fail loudly above.
    orientation = _orientation(image)
    icc_profile = image.info.get("icc_profile")
    has_alpha = _has_alpha(image)

    working = _to_display_mode(image, has_alpha)
    if working.size != preview_size:
        working = working.resize(preview_size, Image.Resampling.BICUBIC, reducing_gap=2.0)
    colour = "assumed-srgb"
    if icc_profile:
        working, colour = _to_srgb(working, icc_profile)
    if working.mode == "CMYK":
        working = working.convert("RGB")
    if orientation != 1:
        working = working.transpose(_ORIENTATION_TRANSPOSE[orientation])
    working.info = {}  # renditions carry no EXIF, GPS, XMP, ICC or comments

    thumbnail = (
        working.resize(
            _fit(working.width, working.height, limits.thumbnail_side), Image.Resampling.BICUBIC, reducing_gap=2.0
        )
        if max(working.size) > limits.thumbnail_side
        else working
    )

    oriented_w, oriented_h = (stored_h, stored_w) if orientation in (5, 6, 7, 8) else (stored_w, stored_h)
    return Processed(
        format=source_format,
        content_type=FORMAT_CONTENT_TYPES.get(source_format, "application/octet-stream"),
        width=oriented_w,
        height=oriented_h,
        frames=frames,
        has_alpha=has_alpha,
        colour=colour,
        renditions={
            "preview": _encode("preview", working, has_alpha, limits),
            "thumbnail": _encode("thumbnail", thumbnail, has_alpha, limits),
        },
    )


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


def _encode(name: str, image: Image.Image, has_alpha: bool, limits: Limits) -> Rendition:
    buffer = io.BytesIO()
    if has_alpha:
        image.save(buffer, "WEBP", quality=limits.webp_quality, method=4)
        content_type = "image/webp"
    else:
        image.save(buffer, "JPEG", quality=limits.jpeg_quality, optimize=False, progressive=False)
        content_type = "image/jpeg"
    return Rendition(name, buffer.getvalue(), image.width, image.height, content_type)


def describe(result: Processed) -> dict:
    """A JSON-friendly summary, the same shape the record stores."""
    return {
        "format": result.format,
        "contentType": result.content_type,
        "width": result.width,
        "height": result.height,
        "frames": result.frames,
        "hasAlpha": result.has_alpha,
        "colour": result.colour,
        "renditions": {
            name: {
                "width": r.width,
                "height": r.height,
                "bytes": len(r.data),
                "contentType": r.content_type,
            }
            for name, r in result.renditions.items()
        },
    }


def main(argv: list[str] | None = None) -> int:
    """`python -m handlers.imaging FILE... --out DIR`: what the processor would do, locally."""
    parser = argparse.ArgumentParser(prog="python -m handlers.imaging", description=main.__doc__)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="folder for the renditions")
    args = parser.parse_args(argv)
    from handlers.config import Settings  # same limits as the Lambda, from the same env vars

    limits = Settings.from_env().limits
    args.out.mkdir(parents=True, exist_ok=True)
    failures = 0
    for path in args.files:
        line: dict = {"file": str(path)}
        try:
            result = make_renditions(path.read_bytes(), limits)
        except ImageRejected as exc:
            failures += 1
            line.update(status="failed", error={"code": exc.code, "message": exc.message})
        except OSError as exc:
            failures += 1
            line.update(status="failed", error={"code": "unreadable", "message": str(exc)})
        else:
            for rendition in result.renditions.values():
                (args.out / f"{path.stem}.{rendition.name}.{rendition.extension}").write_bytes(rendition.data)
            line.update(status="processed", **describe(result))
        print(json.dumps(line), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
