"""handlers/shrink_on_load.py: PNG and WebP sources larger than the largest rendition decoded by
libvips at that size, the same picture as Pillow's decode and resize; Pillow decodes whatever
libvips could read differently (animations, interlaced PNGs, chunks after the image data, files
libvips warns about), with the verdict it gives today."""

from __future__ import annotations

import io
import struct
import zlib
from functools import lru_cache

import pytest
from PIL import Image, ImageChops, ImageStat

from handlers import shrink_on_load
from handlers import vips as libvips
from handlers.imaging import ImageRejected, RenditionSpec, make_renditions
from handlers.probe.budget import has_alpha
from handlers.rendering import _to_display_mode
from tests import hostile
from tests.images import encode, exif_bytes, photo
from tests.unit.rendition_checks import assert_no_metadata, open_rendition

SPEC = RenditionSpec(sizes=(("large", 640), ("small", 160)))
LARGEST = (640, 480)  # of a 1600x1200 source


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _before_iend(png: bytes, *chunks: bytes) -> bytes:
    assert png[-12:] == _chunk(b"IEND", b"")
    return png[:-12] + b"".join(chunks) + png[-12:]


def _with_alpha(image: Image.Image) -> Image.Image:
    rgba = image.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(image.size))
    return rgba


@lru_cache(maxsize=1)
def _sources() -> dict[str, tuple[bytes, bool]]:
    """name -> (bytes, whether it has transparency), each 1600x1200."""
    base = photo(1600, 1200, seed=3)
    grey16 = base.convert("L").point(lambda v: v * 256, "I").convert("I;16")
    return {
        "RGB PNG": (encode(base, "PNG"), False),
        "RGBA PNG": (encode(_with_alpha(base), "PNG"), True),
        "grey PNG": (encode(base.convert("L"), "PNG"), False),
        "grey+alpha PNG": (encode(_with_alpha(base).convert("LA"), "PNG"), True),
        "palette PNG": (encode(base.convert("P"), "PNG"), False),
        "palette+tRNS PNG": (encode(base.convert("P"), "PNG", transparency=0), True),
        "RGB+tRNS colour PNG": (encode(base, "PNG", transparency=base.getpixel((0, 0))), True),
        "16-bit grey PNG": (encode(grey16, "PNG"), False),
        "16-bit RGB PNG": (hostile.png(1600, 1200, 16, 2), False),
        "lossy WebP": (encode(base, "WEBP", quality=90), False),
        "lossy WebP with alpha": (encode(_with_alpha(base), "WEBP", quality=90), True),
        "lossless WebP": (encode(base, "WEBP", lossless=True), False),
    }


def _opened(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def _flat(image: Image.Image) -> Image.Image:
    """Composited over grey: colours under full transparency do not count."""
    over = Image.new("RGBA", image.size, (128, 128, 128, 255))
    over.alpha_composite(image.convert("RGBA"))
    return over.convert("RGB")


@pytest.mark.parametrize("name", list(_sources()))
def test_a_png_or_webp_larger_than_the_largest_size_is_decoded_by_libvips_to_that_size(name):
    data, alpha = _sources()[name]
    image = _opened(data)
    decoded = shrink_on_load.decode(image, data, LARGEST, alpha)
    assert decoded is not None, "libvips did not decode it"
    assert (decoded.size, decoded.mode) == (LARGEST, "RGBA" if alpha else "RGB")
    assert decoded.info == image.info  # Pillow's reading of the file as opened: ICC, EXIF
    pillow = _to_display_mode(image, alpha).resize(LARGEST, Image.Resampling.LANCZOS)  # as rendering does
    assert max(ImageStat.Stat(ImageChops.difference(_flat(decoded), _flat(pillow))).mean) < 1.5


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_renditions_through_libvips_are_upright_and_stripped_with_the_facts_pillow_reads(fmt, monkeypatch):
    # Left half red, right half blue, stored; orientation 6: the red half must end up on top.
    image = Image.new("RGB", (1600, 800), "blue")
    image.paste("red", (0, 0, 800, 800))
    data = encode(image, fmt, exif=exif_bytes(6, gps=False), **({"quality": 95} if fmt == "WEBP" else {}))
    took = []
    decode = shrink_on_load.decode
    monkeypatch.setattr(shrink_on_load, "decode", lambda *args: took.append(decode(*args)) or took[-1])
    result = make_renditions(data, spec=SPEC)
    assert took and took[0] is not None
    assert (result.width, result.height) == (800, 1600)
    large = result.renditions["large"]
    assert (large.width, large.height) == (320, 640)
    for source in large.sources:
        assert_no_metadata(source.data)
        upright = open_rendition(source.data).convert("RGB")
        assert upright.getpixel((160, 100))[0] > 200 and upright.getpixel((160, 540))[2] > 200
    monkeypatch.setattr(libvips, "load", lambda: None)  # Pillow's decode and resize
    by_pillow = make_renditions(data, spec=SPEC)
    assert (by_pillow.facts, by_pillow.width, by_pillow.height) == (result.facts, result.width, result.height)


def test_the_renditions_are_pillows_picture(monkeypatch):
    data = encode(photo(1600, 1200, seed=5), "PNG")
    by_vips = make_renditions(data, spec=SPEC)
    monkeypatch.setattr(libvips, "load", lambda: None)
    by_pillow = make_renditions(data, spec=SPEC)
    for name, rendition in by_vips.renditions.items():
        other = by_pillow.renditions[name]
        assert (rendition.width, rendition.height) == (other.width, other.height)
        for ours, theirs in zip(rendition.sources, other.sources, strict=True):
            a, b = open_rendition(ours.data).convert("RGB"), open_rendition(theirs.data).convert("RGB")
            assert max(ImageStat.Stat(ImageChops.difference(a, b)).mean) < 1.5, (name, ours.content_type)


def _exif_after_the_image() -> bytes:
    """Orientation 6 in an eXIf chunk after the image data: Pillow reads it only as it decodes."""
    return _before_iend(encode(photo(1600, 800), "PNG"), _chunk(b"eXIf", exif_bytes(6, gps=False)[6:]))


def _interlaced() -> bytes:
    import pyvips

    return pyvips.Image.new_from_memory(photo(1600, 1200).tobytes(), 1600, 1200, 3, "uchar").pngsave_buffer(
        interlace=True
    )


def _animated(fmt: str) -> bytes:
    frames = [photo(1600, 1200, seed=seed) for seed in (1, 2)]
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=50)


@pytest.mark.parametrize(
    "make",
    [
        _exif_after_the_image,
        _interlaced,
        lambda: _animated("PNG"),
        lambda: _animated("WEBP"),
        lambda: encode(photo(600, 400), "PNG"),  # not larger than the largest size
        lambda: encode(photo(1600, 1200), "JPEG"),  # its own decoder scales
    ],
    ids=["exif after the image", "interlaced", "APNG", "animated WebP", "small PNG", "JPEG"],
)
def test_pillow_decodes_what_libvips_could_read_differently(make):
    data = make()
    image = _opened(data)
    assert shrink_on_load.decode(image, data, LARGEST, has_alpha(image)) is None


def test_exif_after_a_pngs_image_data_still_turns_it_upright():
    result = make_renditions(_exif_after_the_image(), spec=SPEC)
    assert (result.width, result.height) == (800, 1600)


def _broken_image_data() -> bytes:
    """Every chunk whole and its CRC right, the zlib stream inside IDAT damaged."""
    png = encode(photo(1600, 1200), "PNG")
    start = png.index(b"IDAT") - 4
    length = int.from_bytes(png[start : start + 4], "big")
    body = bytearray(png[start + 8 : start + 8 + length])
    body[len(body) // 2 : len(body) // 2 + 64] = bytes(64)
    return png[:start] + _chunk(b"IDAT", bytes(body)) + png[start + 12 + length :]


def _broken_webp() -> bytes:
    """A lossy WebP whose container is whole and its VP8 data damaged (Pillow opens it)."""
    webp = encode(photo(1600, 1200), "WEBP", quality=90)
    middle = len(webp) // 2
    return webp[:middle] + bytes(64) + webp[middle + 64 :]


@pytest.mark.parametrize(
    "make",
    [_broken_image_data, lambda: encode(photo(1600, 1200), "PNG")[:-5000], _broken_webp],
    ids=["damaged PNG image data", "truncated PNG", "damaged WebP image data"],
)
def test_a_damaged_file_gets_pillows_verdict(make, monkeypatch):
    data = make()
    assert shrink_on_load.decode(_opened(data), data, LARGEST, False) is None

    def verdict():
        try:
            make_renditions(data, spec=SPEC)
        except ImageRejected as exc:
            return exc.code
        return "processed"

    with_vips = verdict()
    monkeypatch.setattr(libvips, "load", lambda: None)
    assert with_vips == verdict()
