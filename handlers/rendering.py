"""Rendering: one file's bytes to the renditions of the spec, from one decode.

The way through: the decode budget (`handlers.probe`) checks the header before the file is
opened (WebP) and once it is (pixels on the size the decoder really produces); a JPEG is then
decoded at reduced scale (`Image.draft` lets its decoder produce 1/2, 1/4 or 1/8 scale directly,
towards the largest rendition's aspect-correct size), and the budget checks memory and work
before any pixel is decoded. A PNG or WebP larger than the largest rendition is decoded by
libvips straight to that size (`handlers.shrink_on_load`), anything else by Pillow. The decoded
image is brought to the display mode, resized once to the largest rendition, converted to sRGB
from its embedded profile and turned upright (EXIF orientation, applied to the small image,
where a transpose costs nothing); metadata is dropped. Each smaller size is made from the next
larger one, never from the source again; an opaque image is resampled by libvips, the same
bicubic as Pillow's for less than half the CPU (`handlers.vips`). Every size is encoded as AVIF
and a fallback (JPEG for opaque sources, WebP with alpha), two encoders at once. Photo facts
(`handlers.photo_facts`) are read from the decoded source, the placeholder
(`handlers.placeholders`) and the perceptual hash (`handlers.similarity`) from the smallest size.
"""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

from PIL import (  # noqa: F401
    AvifImagePlugin,
    GifImagePlugin,
    Image,
    ImageFile,
    JpegImagePlugin,
    PngImagePlugin,
    UnidentifiedImageError,
    WebPImagePlugin,
)

from handlers import shrink_on_load
from handlers import vips as libvips
from handlers.formats import FORMAT_CONTENT_TYPES, Limits, RenditionSpec
from handlers.outcome import ImageRejected, Processed, Rendition, Source
from handlers.photo_facts import photo_facts
from handlers.placeholders import dominant_color, placeholder
from handlers.probe import budget
from handlers.probe.budget import Headers
from handlers.similarity import perceptual_hash

# Only raster formats users send (the JPEG decoder also yields MPO). Restricting Pillow's
# identification to these keeps EPS, PDF, ICO, TIFF and its other decoders out of reach.
DECODERS = ("JPEG", "PNG", "WEBP", "GIF", "AVIF")
# Their plugins (the encoders' too) are imported by name above: naming a format Pillow has not
# registered, in an open or a save, makes it import all of its ~45 plugins (Image.init), ~30 ms
# of every cold start (docs/benchmarks.md, every format).

# HEIF/HEIC (iPhone photos) is decoded by pillow-heif, imported only for a file in an ISO media
# container (HEIF, AVIF): a JPEG's cold start and the CLI do not pay for loading libheif.
_ISO_MEDIA = b"ftyp"


# libheif's threads for one image (an iPhone's HEIC is a grid of tiles, decoded in parallel): on two
# cores 2 or more halve a 12 MP HEIC's decode; on one core none helps (docs/benchmarks.md).
HEIF_DECODE_THREADS = 4


@lru_cache(maxsize=1)
def _heif_decoders() -> tuple[str, ...]:
    try:
        import pillow_heif
    except ImportError:  # pragma: no cover - the zip and the dev venv both carry it
        return DECODERS
    pillow_heif.register_heif_opener(decode_threads=HEIF_DECODE_THREADS)
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


@lru_cache(maxsize=1)
def _srgb():
    """ImageCms and its sRGB profile, loaded for the first photo with an embedded profile only: a
    process's start-up does not pay for them (docs/benchmarks.md, every format)."""
    from PIL import ImageCms

    return ImageCms, ImageCms.createProfile("sRGB")


# Our own limit (Limits.max_pixels, checked from the headers by handlers.probe.budget) is the one
# that counts, with a message naming the size; Pillow's global bomb check would pre-empt it.
Image.MAX_IMAGE_PIXELS = None

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
        return _render(image, data, headers, limits, spec)
    finally:
        image.close()


def _open(data: bytes, limits: Limits) -> tuple[Image.Image, Headers]:
    budget.check_before_opening(data, limits)
    try:
        image = Image.open(io.BytesIO(data), formats=decoders_for(data))
    except UnidentifiedImageError as exc:
        raise ImageRejected(
            "not_an_image", "The file is not an image in a supported format (JPEG, PNG, WebP, GIF, AVIF, HEIC)."
        ) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected("corrupt", f"The image header could not be read: {exc}") from exc
    try:
        headers = budget.read_headers(image, data, limits)
        if image.width < 1 or image.height < 1:
            raise ImageRejected("corrupt", "The image has no pixels.")
    except ImageRejected:
        image.close()
        raise
    return image, headers


def _orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception:  # malformed EXIF must not sink an otherwise good photo
        return 1
    return value if value in _ORIENTATION_TRANSPOSE else 1


def _fit(width: int, height: int, side: int) -> tuple[int, int]:
    """The size that fits `side` on the longest edge, keeping the aspect ratio; never upscaled."""
    longest = max(width, height)
    if longest <= side:
        return width, height
    scale = side / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


def _render(image: Image.Image, data: bytes, headers: Headers, limits: Limits, spec: RenditionSpec) -> Processed:
    source_format = image.format or "UNKNOWN"
    stored_w, stored_h = image.size
    largest = _fit(stored_w, stored_h, spec.largest)
    frames = getattr(image, "n_frames", 1)
    has_alpha = budget.has_alpha(image)
    peak_bytes, decoded = _decode(image, data, headers, largest, limits)
    # Read after decoding: for some formats reading EXIF decodes, and must fail loudly above.
    orientation = _orientation(decoded)
    facts = photo_facts(decoded)
    working, colour = _working_image(decoded, largest, has_alpha, orientation)
    # The decoded source is done with: freed before the encoders start (budget.encode_cost).
    image.close()

    renditions, (thumbhash, colour_hex, phash) = _make_sizes(working, has_alpha, spec)
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
        peak_bytes=peak_bytes,
        phash=phash,
    )


def _decode(
    image: Image.Image, data: bytes, headers: Headers, largest: tuple[int, int], limits: Limits
) -> tuple[int, Image.Image]:
    """Decode the first frame (a HEIF: its primary image), at reduced scale where the decoder can,
    once the budget allows it; returns the budget's estimate of the peak, and the decoded image:
    `image`, or a PNG or WebP already at the largest size (`handlers.shrink_on_load`)."""
    full_size = image.size  # before a draft makes it the reduced size
    try:
        # Renditions show the first frame; a HEIF shows its primary image, which need not be
        # image 0 (and only the primary's size was checked).
        if image.format != "HEIF" and image.tell() != 0:
            image.seek(0)
        if image.format in ("JPEG", "MPO"):
            # The decoder scales by 1/2..1/8 while decoding; it keeps the result >= the size asked.
            image.draft(image.mode, largest)
        peak_bytes = budget.check_budget(image, headers, full_size, largest, limits)
        reduced = shrink_on_load.decode(image, data, largest, budget.has_alpha(image))
        if reduced is not None:
            return peak_bytes, reduced
        image.load()
    except OSError as exc:
        code = "truncated" if "truncated" in str(exc) else "corrupt"
        raise ImageRejected(code, f"The image data could not be decoded: {exc}") from exc
    except (SyntaxError, ValueError, EOFError, IndexError) as exc:
        raise ImageRejected("corrupt", f"The image data could not be decoded: {exc}") from exc
    return peak_bytes, image


def _working_image(
    image: Image.Image, largest: tuple[int, int], has_alpha: bool, orientation: int
) -> tuple[Image.Image, str]:
    """The decoded source as the largest rendition: display mode, resized, sRGB, upright, no metadata;
    with how its colour was made sRGB."""
    icc_profile = image.info.get("icc_profile")
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
    if working is image and isinstance(image, ImageFile.ImageFile):
        # Not resized (a source within the largest size): encode a plain copy, not the file
        # object, whose plugin may load again from another frame (pillow-heif: image 0) in the
        # encoder threads.
        working = image.copy()
    working.info = {}  # renditions carry no EXIF, GPS, XMP, ICC or comments
    return working, colour


def _resize_largest(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The one resize from the decoded source, the costliest. A source 2x the target or more is
    first reduced by the whole factor that keeps it at least the target (a box average: what a
    JPEG's decoder does at reduced scale, and libvips' shrink-on-load; from a 12 MP HEIC or AVIF,
    or a PNG or WebP that Pillow decodes, it halves the resize's time and its CPU, for -0.2
    SSIMULACRA2 with 2% fewer bytes at 1920 px: docs/benchmarks.md), then resampled. The
    intermediate is at most 4x the target's pixels, so a 100 MP GIF's stays ~15 MP.

    libvips resamples only a source under 2x the target (a JPEG decoded at reduced scale, a small
    file): its copies (~7 bytes a pixel) and its ~16 MiB then stay within the estimate of the
    renditions. From a larger decode Pillow resamples, as the decode's estimate counts: libvips'
    would come on top of the full-size source (a 25 MP GIF's peak +18 MiB, measured)."""
    factor = min(image.width // size[0], image.height // size[1])
    if factor < 2:
        return _resize(image, size)
    image = image.reduce(factor)
    if image.size == size:
        return image
    return image.resize(size, Image.Resampling.BICUBIC)


def _resize(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Bicubic: libvips' for an opaque image (the same picture for less than half the CPU), else
    Pillow's (`handlers.vips`)."""
    resized = libvips.resize(image, size)
    return resized if resized is not None else image.resize(size, Image.Resampling.BICUBIC, reducing_gap=2.0)


def _make_sizes(
    working: Image.Image, has_alpha: bool, spec: RenditionSpec
) -> tuple[dict[str, Rendition], tuple[str, str, str]]:
    """Each size of the spec made from the next larger one (never from the source again), and
    encoded in every format of the spec; with the smallest one's placeholder, mean colour and
    perceptual hash.

    Pipelined: each size's encoders start as soon as it exists, on two threads, while this one
    makes the next size (the AV1 encoder and the resizes run with the GIL released), so both
    cores work from the first rendition on. Sizes a small source cannot fill share one
    image and its files."""
    kinds = _KINDS[has_alpha]
    encoding: dict[int, list] = {}  # id of a distinct image -> its encoders' futures, in `kinds` order
    sized: dict[str, Image.Image] = {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        current = working
        for name, side in spec.sizes:
            target = _fit(working.width, working.height, side)  # the aspect ratio of the whole, not of a rounding
            if target != current.size:
                current = _resize(current, target)
            if id(current) not in encoding:
                # Each encoder its own image object: Pillow's save keeps its options on the image,
                # so two saves of one image at once would share them (the fallback at AVIF's quality).
                # The copy is one more buffer of this size (3-4 bytes a pixel, within encode_cost).
                images = [current, *(current.copy() for _ in kinds[1:])]
                encoding[id(current)] = [pool.submit(_encode, i, k, spec) for i, k in zip(images, kinds, strict=True)]
            sized[name] = current
        # Pure Python, while the encoders run: the upright smallest size, already in memory.
        tint = placeholder(current), dominant_color(current), perceptual_hash(current)
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
    ImageCms, srgb = _srgb()  # noqa: N806 - the module, as everywhere else
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        converted = ImageCms.profileToProfile(image, source, srgb, outputMode=output_mode)
        return converted, "srgb"
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        # A broken profile: fall back to the plain conversion rather than failing the photo.
        return image, "assumed-srgb"
