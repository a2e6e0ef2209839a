"""handlers/probe/budget.py: the decode budget, checked on the size the decoder really produces
and before any pixel is allocated (pixels, memory, a JPEG's scans), and its arithmetic; real
photos still pass."""

from __future__ import annotations

import io
import zlib

import pytest
from PIL import Image

from handlers.imaging import MIB, ImageRejected, Limits, make_renditions
from handlers.probe.budget import Headers, decode_cost, encode_cost
from tests.hostile import avif_with_lying_ispe, lossless_webp, png, progressive_jpeg_with_repeated_scans
from tests.images import CORPUS, encode, photo


def refuse_decoding(monkeypatch):
    """Make any pixel decode fail the test: a refusal must come from headers alone."""
    from PIL import ImageFile

    def no_decode(self, *args, **kwargs):
        raise AssertionError(f"{self.format} pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decode)
    for module, cls in (("PIL.AvifImagePlugin", "AvifImageFile"), ("pillow_heif.as_plugin", "HeifImageFile")):
        monkeypatch.setattr(getattr(__import__(module, fromlist=[cls]), cls), "load", no_decode)


def test_pixel_limit_is_checked_before_decoding(monkeypatch):
    """A 20000x20000 header in a tiny file is refused from the header: no decoder is ever
    created, so its 400 MB of pixels are never allocated."""
    data = encode(Image.new("L", (20000, 20000)), "PNG", optimize=False)
    assert len(data) < 2_000_000
    decoders = []
    original = Image._getdecoder
    monkeypatch.setattr(Image, "_getdecoder", lambda *a, **k: decoders.append(a[1]) or original(*a, **k))
    with pytest.raises(ImageRejected) as info:
        make_renditions(data, Limits(max_pixels=100_000_000))
    assert info.value.code == "too_many_pixels"
    assert "20000x20000" in info.value.message
    assert decoders == []


def test_decompression_bomb_gif_is_refused_from_its_header(monkeypatch):
    decoders = []
    original = Image._getdecoder
    monkeypatch.setattr(Image, "_getdecoder", lambda *a, **k: decoders.append(a[1]) or original(*a, **k))
    with pytest.raises(ImageRejected) as info:
        make_renditions((CORPUS / "decompression_bomb.gif").read_bytes())
    assert info.value.code == "too_many_pixels"
    assert decoders == []


def test_an_avif_whose_header_understates_its_frame_is_refused_on_the_real_size(monkeypatch):
    data = avif_with_lying_ispe(real=(1600, 1200), declared=(64, 48))
    assert Image.open(io.BytesIO(data)).size == (64, 48)  # what the container claims
    refuse_decoding(monkeypatch)
    with pytest.raises(ImageRejected) as info:
        make_renditions(data, Limits(max_pixels=1_000_000))
    assert info.value.code == "too_many_pixels" and "1600x1200" in info.value.message


def test_a_tiny_lossless_webp_of_a_huge_canvas_is_refused_before_it_is_opened(monkeypatch):
    data = lossless_webp(9000, 9000)  # a few dozen bytes; libwebp allocates the canvas on open
    assert len(data) < 200

    def no_open(*args, **kwargs):
        raise AssertionError("the WebP decoder was created")

    monkeypatch.setattr(Image, "open", no_open)
    with pytest.raises(ImageRejected) as info:
        make_renditions(data)  # 81 MP is under the pixel limit, 1.3 GB over the memory budget
    assert info.value.code == "too_much_memory" and "9000x9000" in info.value.message


def test_a_progressive_jpeg_with_thousands_of_scans_is_refused_before_decoding(monkeypatch):
    assert make_renditions(progressive_jpeg_with_repeated_scans(640, 480, repeats=20)).format == "JPEG"
    data = progressive_jpeg_with_repeated_scans(640, 480, repeats=500)
    refuse_decoding(monkeypatch)
    with pytest.raises(ImageRejected) as info:
        make_renditions(data)
    assert info.value.code == "too_complex" and "scans" in info.value.message


def test_an_image_over_the_memory_budget_is_refused_before_decoding(monkeypatch):
    data = png(4000, 3000, 8, 6, rows=1)  # 12 MP RGBA: 12M x (4 decoded + 4 premultiplied + 1) bytes
    refuse_decoding(monkeypatch)
    with pytest.raises(ImageRejected) as info:
        make_renditions(data, Limits(max_decode_bytes=100 * 1024 * 1024))
    assert info.value.code == "too_much_memory" and "MiB" in info.value.message


OVERHEAD = 16 * 1024 * 1024  # codec contexts, encoder buffers: what a 64x48 image costs too


def cost(data: bytes) -> int:
    image = Image.open(io.BytesIO(data), formats=["PNG", "GIF", "JPEG", "WEBP"])
    return decode_cost(image, Headers.read(image, data))


@pytest.mark.parametrize(
    "bit_depth, colour_type, alpha, per_pixel",
    [
        (8, 2, False, 4 + 1),  # RGB: decoded as 4 bytes, resized in place
        (16, 2, False, 4 + 1),  # 16-bit RGB is decoded to 8 bits
        (8, 6, False, 4 + 4 + 1),  # RGBA: a premultiplied copy for the resize
        (16, 0, False, 2 + 4 + 1),  # 16-bit grey: 2 bytes, scaled into an 8-bit RGB copy
        (8, 3, False, 1 + 4 + 1),  # palette: 1 byte, converted to RGB
        (8, 3, True, 1 + 4 + 4 + 1),  # palette with tRNS: converted to RGBA, then premultiplied
    ],
)
def test_budget_arithmetic_for_pillow_decoders(bit_depth, colour_type, alpha, per_pixel):
    assert (
        cost(png(10_000, 10_000, bit_depth, colour_type, palette_alpha=alpha, rows=1)) == OVERHEAD + 10**8 * per_pixel
    )


def test_the_largest_pngs_within_the_pixel_limit_fit_the_default_budget():
    """Never bought with refusals of real photos: 100 MP PNGs of every kind fit the 1 GiB budget."""
    for args in ((8, 6), (16, 2), (16, 0), (8, 3, True)):
        assert cost(png(10_000, 10_000, *args, rows=1)) <= Limits().max_decode_bytes


def test_budget_arithmetic_for_a_jpeg_of_several_scans_counts_the_full_size_coefficient_buffer():
    data = encode(Image.new("RGB", (4000, 3000)), "JPEG", progressive=True, subsampling=0)  # 4:4:4
    image = Image.open(io.BytesIO(data))
    image.draft("RGB", (1000, 750))
    assert image.size == (1000, 750)  # decoded at 1/4 ...
    coefficients = 3 * (4000 // 8) * (3000 // 8) * 64 * 2  # ... through full-size coefficient arrays
    assert decode_cost(image, Headers.read(image, data)) == OVERHEAD + 1000 * 750 * (4 + 1 + 4) + coefficients
    # Decided by the scans in the bytes, not by Pillow's flag: a sequential JPEG whose components
    # come in separate scans is decoded the same way (found in review: it was counted as 1 scan).
    image.info.pop("progressive", None), image.info.pop("progression", None)
    assert decode_cost(image, Headers.read(image, data)) == OVERHEAD + 1000 * 750 * (4 + 1 + 4) + coefficients
    baseline = encode(Image.new("RGB", (4000, 3000)), "JPEG")
    image = Image.open(io.BytesIO(baseline))
    image.draft("RGB", (1000, 750))
    assert decode_cost(image, Headers.read(image, baseline)) == OVERHEAD + 1000 * 750 * (4 + 1 + 4)


def test_an_rgb_png_with_a_transparent_colour_counts_its_rgba_copy():
    """Found in review: RGB + tRNS is converted to RGBA (a full copy), then premultiplied."""
    data = bytearray(png(10_000, 10_000, 8, 2, rows=1))
    at = data.index(b"IDAT") - 4  # tRNS comes before the image data
    trns = b"\x00\x00\x00\x06tRNS" + bytes(6)
    data[at:at] = trns + zlib.crc32(trns[4:]).to_bytes(4, "big")
    assert cost(bytes(data)) == OVERHEAD + 10**8 * (4 + 4 + 4 + 1)


def test_a_100_megapixel_camera_jpeg_is_processed():
    data = encode(Image.new("RGB", (11_648, 8_736), (120, 110, 100)), "JPEG", quality=80)  # a 100 MP sensor
    result = make_renditions(data)
    assert (result.width, result.height) == (11_648, 8_736)


def test_the_encoders_memory_counts_in_the_budget_before_any_pixel_is_decoded(monkeypatch):
    """A small decode can still make large renditions: AV1's encoder needs ~40 bytes a pixel of
    the largest one, so the budget is the larger of decoding and encoding (never both at once)."""
    data = encode(photo(2000, 1500), "PNG")
    image = Image.open(io.BytesIO(data))
    decoding = decode_cost(image, Headers.read(image, data))
    encoding = encode_cost((1920, 1440), alpha=False)
    assert encoding > decoding
    refuse_decoding(monkeypatch)
    with pytest.raises(ImageRejected) as refused:
        make_renditions(data, Limits(max_decode_bytes=(decoding + encoding) // 2))
    assert refused.value.code == "too_much_memory"
    assert f"about {encoding // MIB} MiB" in refused.value.message
