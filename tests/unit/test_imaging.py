"""handlers/imaging.py: formats, orientation, metadata stripping, limits, refusals."""

from __future__ import annotations

import io
import json
import zlib

import pytest
from PIL import Image, ImageCms, ImageStat, JpegImagePlugin

from handlers.imaging import MIB, ImageRejected, Limits, RenditionSpec, describe, main, make_renditions
from tests.images import CORPUS, corpus_manifest, encode, exif_bytes, phone_jpeg, photo


def open_rendition(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def assert_no_metadata(data: bytes) -> None:
    image = open_rendition(data)
    assert len(image.getexif()) == 0, "EXIF survived"
    assert not image.getexif().get_ifd(0x8825), "GPS survived"
    for key in ("exif", "xmp", "XML:com.adobe.xmp", "comment", "icc_profile", "photoshop"):
        assert key not in image.info, f"{key} survived"
    assert b"Exif\x00" not in data and b"http://ns.adobe.com/xap" not in data


def test_phone_portrait_jpeg_is_turned_upright_and_stripped():
    result = make_renditions(phone_jpeg(1200, 900, orientation=6))
    assert (result.width, result.height) == (900, 1200)  # oriented size
    preview, thumb = result.renditions["preview"], result.renditions["thumbnail"]
    assert (preview.width, preview.height) == (768, 1024)
    assert (thumb.width, thumb.height) == (240, 320)
    for rendition in (preview, thumb):
        assert rendition.content_type == "image/jpeg"
        decoded = open_rendition(rendition.data)
        assert decoded.size == (rendition.width, rendition.height)
        assert decoded.format == "JPEG"
        assert_no_metadata(rendition.data)


def test_orientation_moves_pixels_not_just_sizes():
    # A left half red, right half blue, stored; orientation 6 means "rotate 90 CW to view":
    # the red half must end up on top.
    image = Image.new("RGB", (400, 200), "blue")
    image.paste("red", (0, 0, 200, 200))
    result = make_renditions(encode(image, "JPEG", quality=95, exif=exif_bytes(6, gps=False)))
    preview = open_rendition(result.renditions["preview"].data).convert("RGB")
    assert preview.size == (200, 400)
    top, bottom = preview.getpixel((100, 50)), preview.getpixel((100, 350))
    assert top[0] > 200 and top[2] < 60, top
    assert bottom[2] > 200 and bottom[0] < 60, bottom


def test_small_images_are_never_upscaled():
    result = make_renditions(encode(photo(120, 80), "PNG"))
    assert (result.renditions["preview"].width, result.renditions["preview"].height) == (120, 80)
    assert (result.renditions["thumbnail"].width, result.renditions["thumbnail"].height) == (120, 80)


def test_jpeg_is_decoded_at_reduced_scale(monkeypatch):
    """The decoder works on a DCT-scaled image, not the full 4000x3000 one."""
    seen = []
    original = JpegImagePlugin.JpegImageFile.load

    def spy(self):
        seen.append(self.size)
        return original(self)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "load", spy)
    result = make_renditions(encode(photo(4000, 3000), "JPEG", quality=85))
    assert seen and max(seen[0]) <= 2000, f"decoded at {seen[0]}"
    assert (result.renditions["preview"].width, result.renditions["preview"].height) == (1024, 768)


def test_thumbnail_is_derived_from_preview(monkeypatch):
    """One decode: a JPEG decoder is created once for both renditions."""
    decoders = []
    original = Image._getdecoder
    monkeypatch.setattr(
        Image, "_getdecoder", lambda mode, name, *a, **k: decoders.append(name) or original(mode, name, *a, **k)
    )
    make_renditions(encode(photo(2000, 1500), "JPEG"))
    assert decoders == ["jpeg"]


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P"])
def test_transparency_is_kept_as_webp(mode):
    image = photo(300, 200).convert("RGBA")
    image.putalpha(Image.linear_gradient("L").resize((300, 200)))
    if mode == "LA":
        image = image.convert("LA")
    if mode == "P":
        image = image.convert("RGB").convert("P")
        image.paste(0, (0, 0, 100, 100))  # palette index 0 is the transparent one
    result = make_renditions(encode(image, "PNG", **({"transparency": 0} if mode == "P" else {})))
    assert result.has_alpha
    for rendition in result.renditions.values():
        assert rendition.content_type == "image/webp"
        assert open_rendition(rendition.data).mode == "RGBA"


def test_opaque_png_becomes_jpeg():
    result = make_renditions(encode(photo(300, 200), "PNG"))
    assert not result.has_alpha
    assert result.renditions["preview"].content_type == "image/jpeg"


def test_animated_gif_gives_first_frame_and_counts_frames():
    frames = [Image.new("RGB", (64, 48), colour) for colour in ("red", "green", "blue")]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    result = make_renditions(data)
    assert result.frames == 3
    assert result.format == "GIF"
    assert open_rendition(result.renditions["preview"].data).size == (64, 48)


def test_icc_tagged_source_is_converted_to_srgb():
    """Pixels are converted from the embedded profile to sRGB, so colours do not shift when the
    profile is stripped. The corpus's wide-gamut profile maps (0, 200, 0) to about (41, 203, 9)."""
    profile_bytes = Image.open(CORPUS / "icc_profile_big.jpg").info["icc_profile"]
    data = encode(Image.new("RGB", (64, 64), (0, 200, 0)), "PNG", icc_profile=profile_bytes)
    expected = ImageCms.profileToProfile(
        Image.new("RGB", (1, 1), (0, 200, 0)),
        ImageCms.ImageCmsProfile(io.BytesIO(profile_bytes)),
        ImageCms.createProfile("sRGB"),
        outputMode="RGB",
    ).getpixel((0, 0))
    assert expected != (0, 200, 0)
    result = make_renditions(data)
    assert result.colour == "srgb"
    preview = open_rendition(result.renditions["preview"].data)
    assert "icc_profile" not in preview.info
    got = preview.convert("RGB").getpixel((32, 32))
    assert all(abs(g - e) <= 4 for g, e in zip(got, expected, strict=True)), (got, expected)


@pytest.mark.parametrize(
    "data, code",
    [
        (b"", "empty"),
        (b"hello, this is text", "not_an_image"),
        (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect/></svg>', "not_an_image"),
        (b"<!doctype html><html><body>hi</body></html>", "not_an_image"),
        (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", "not_an_image"),
        (b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n", "not_an_image"),
    ],
    ids=["empty", "text", "svg", "html", "eps", "pdf"],
)
def test_non_images_are_refused_by_content(data, code):
    with pytest.raises(ImageRejected) as info:
        make_renditions(data)
    assert info.value.code == code


def test_formats_pillow_could_open_are_refused():
    """TIFF and BMP open fine in Pillow, but are not formats we accept."""
    for fmt in ("TIFF", "BMP"):
        with pytest.raises(ImageRejected) as info:
            make_renditions(encode(photo(32, 32), fmt))
        assert info.value.code == "not_an_image"


def test_truncated_jpeg_is_refused():
    data = encode(photo(800, 600), "JPEG", quality=90)
    with pytest.raises(ImageRejected) as info:
        make_renditions(data[: len(data) // 2])
    assert info.value.code == "truncated"


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


def test_heic_from_a_phone():
    pillow_heif = pytest.importorskip("pillow_heif")
    del pillow_heif
    data = encode(photo(800, 600), "HEIF", quality=80, exif=exif_bytes(6))
    result = make_renditions(data)
    assert result.format == "HEIF"
    assert (result.width, result.height) == (600, 800)
    assert result.renditions["preview"].content_type == "image/jpeg"
    assert_no_metadata(result.renditions["preview"].data)


def test_avif_with_alpha():
    image = photo(200, 100).convert("RGBA")
    image.putalpha(128)
    result = make_renditions(encode(image, "AVIF", quality=70))
    assert result.format == "AVIF" and result.has_alpha
    assert result.renditions["thumbnail"].content_type == "image/webp"


def test_progressive_cmyk_and_grey_jpegs():
    for mode, params in (("RGB", {"progressive": True}), ("CMYK", {}), ("L", {})):
        result = make_renditions(encode(photo(1500, 1000, mode=mode), "JPEG", **params))
        preview = open_rendition(result.renditions["preview"].data)
        assert preview.mode == "RGB" and preview.size == (1024, 683), mode


def test_animated_webp_and_png_count_frames():
    frames = [photo(120, 80, seed=i) for i in range(4)]
    for fmt in ("WEBP", "PNG"):
        result = make_renditions(encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=80))
        assert result.frames == 4, fmt
        assert open_rendition(result.renditions["preview"].data).size == (120, 80)


def test_byte_limit():
    with pytest.raises(ImageRejected) as info:
        make_renditions(encode(photo(64, 64), "PNG"), Limits(max_bytes=100))
    assert info.value.code == "too_large"


def test_corpus_is_present():
    assert len(corpus_manifest()) >= 40


@pytest.mark.parametrize("entry", corpus_manifest(), ids=lambda e: e["file"])
def test_corpus_file(entry):
    data = (CORPUS / entry["file"]).read_bytes()
    if entry["expect"] == "failed":
        with pytest.raises(ImageRejected) as info:
            make_renditions(data)
        assert info.value.code in {"truncated", "corrupt", "not_an_image", "too_many_pixels"}
        assert info.value.message
        return
    result = make_renditions(data)
    assert f"{result.width}x{result.height}" == entry["oriented_size"]
    for rendition in result.renditions.values():
        decoded = open_rendition(rendition.data)
        assert decoded.size == (rendition.width, rendition.height)
        assert_no_metadata(rendition.data)
    preview = result.renditions["preview"]
    # Aspect ratio follows the oriented size.
    assert (preview.width >= preview.height) == (result.width >= result.height)


def test_cli_processes_files_like_the_lambda(tmp_path, capsys):
    good = tmp_path / "phone.jpg"
    good.write_bytes(phone_jpeg(800, 600))
    bad = tmp_path / "notes.jpg"
    bad.write_bytes(b"not an image")
    code = main([str(good), str(bad), "--out", str(tmp_path / "out")])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 1
    assert lines[0]["status"] == "processed" and (lines[0]["width"], lines[0]["height"]) == (600, 800)
    assert lines[1]["status"] == "failed" and lines[1]["error"]["code"] == "not_an_image"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        f"phone.{name}.{ext}" for name in ("large", "preview", "small", "thumbnail") for ext in ("avif", "jpg")
    )


# --- the decode budget: checked on the real decode size, before any pixel is allocated ---------


def refuse_decoding(monkeypatch):
    """Make any pixel decode fail the test: a refusal must come from headers alone."""
    from PIL import ImageFile

    def no_decode(self, *args, **kwargs):
        raise AssertionError(f"{self.format} pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decode)
    for module, cls in (("PIL.AvifImagePlugin", "AvifImageFile"), ("pillow_heif.as_plugin", "HeifImageFile")):
        monkeypatch.setattr(getattr(__import__(module, fromlist=[cls]), cls), "load", no_decode)


def test_a_heif_is_rendered_from_its_primary_image_not_image_0():
    from tests.hostile import heif_with_large_secondary

    data = heif_with_large_secondary(primary=(64, 48), other=(1600, 1200))
    result = make_renditions(data, Limits(max_pixels=100_000))  # the other image alone is over it
    assert (result.width, result.height) == (64, 48)
    preview = open_rendition(result.renditions["preview"].data).convert("RGB")
    r, g, b = preview.getpixel((32, 24))
    assert r > b, "the renditions show another image than the primary"


def test_an_avif_whose_header_understates_its_frame_is_refused_on_the_real_size(monkeypatch):
    from tests.hostile import avif_with_lying_ispe

    data = avif_with_lying_ispe(real=(1600, 1200), declared=(64, 48))
    assert Image.open(io.BytesIO(data)).size == (64, 48)  # what the container claims
    refuse_decoding(monkeypatch)
    with pytest.raises(ImageRejected) as info:
        make_renditions(data, Limits(max_pixels=1_000_000))
    assert info.value.code == "too_many_pixels" and "1600x1200" in info.value.message


def test_a_tiny_lossless_webp_of_a_huge_canvas_is_refused_before_it_is_opened(monkeypatch):
    from tests.hostile import lossless_webp

    data = lossless_webp(9000, 9000)  # a few dozen bytes; libwebp allocates the canvas on open
    assert len(data) < 200

    def no_open(*args, **kwargs):
        raise AssertionError("the WebP decoder was created")

    monkeypatch.setattr(Image, "open", no_open)
    with pytest.raises(ImageRejected) as info:
        make_renditions(data)  # 81 MP is under the pixel limit, 1.3 GB over the memory budget
    assert info.value.code == "too_much_memory" and "9000x9000" in info.value.message


def test_a_progressive_jpeg_with_thousands_of_scans_is_refused_before_decoding(monkeypatch):
    from tests.hostile import progressive_jpeg_with_repeated_scans

    assert make_renditions(progressive_jpeg_with_repeated_scans(640, 480, repeats=20)).format == "JPEG"
    data = progressive_jpeg_with_repeated_scans(640, 480, repeats=500)
    refuse_decoding(monkeypatch)
    with pytest.raises(ImageRejected) as info:
        make_renditions(data)
    assert info.value.code == "too_complex" and "scans" in info.value.message


def test_an_image_over_the_memory_budget_is_refused_before_decoding(monkeypatch):
    from tests.hostile import png

    data = png(4000, 3000, 8, 6, rows=1)  # 12 MP RGBA: 12M x (4 decoded + 4 premultiplied + 1) bytes
    refuse_decoding(monkeypatch)
    with pytest.raises(ImageRejected) as info:
        make_renditions(data, Limits(max_decode_bytes=100 * 1024 * 1024))
    assert info.value.code == "too_much_memory" and "MiB" in info.value.message


OVERHEAD = 16 * 1024 * 1024  # codec contexts, encoder buffers: what a 64x48 image costs too


def cost(data: bytes) -> int:
    from handlers.imaging import Headers, decode_cost

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
    from tests.hostile import png

    assert (
        cost(png(10_000, 10_000, bit_depth, colour_type, palette_alpha=alpha, rows=1)) == OVERHEAD + 10**8 * per_pixel
    )


def test_the_largest_pngs_within_the_pixel_limit_fit_the_default_budget():
    """Never bought with refusals of real photos: 100 MP PNGs of every kind fit the 1 GiB budget."""
    from tests.hostile import png

    for args in ((8, 6), (16, 2), (16, 0), (8, 3, True)):
        assert cost(png(10_000, 10_000, *args, rows=1)) <= Limits().max_decode_bytes


def test_budget_arithmetic_for_a_jpeg_of_several_scans_counts_the_full_size_coefficient_buffer():
    from handlers.imaging import Headers, decode_cost

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
    from tests.hostile import png

    data = bytearray(png(10_000, 10_000, 8, 2, rows=1))
    at = data.index(b"IDAT") - 4  # tRNS comes before the image data
    trns = b"\x00\x00\x00\x06tRNS" + bytes(6)
    data[at:at] = trns + zlib.crc32(trns[4:]).to_bytes(4, "big")
    assert cost(bytes(data)) == OVERHEAD + 10**8 * (4 + 4 + 4 + 1)


def test_a_100_megapixel_camera_jpeg_is_processed():
    data = encode(Image.new("RGB", (11_648, 8_736), (120, 110, 100)), "JPEG", quality=80)  # a 100 MP sensor
    result = make_renditions(data)
    assert (result.width, result.height) == (11_648, 8_736)


# --- renditions from the spec: sources, sizes, placeholder, colour, facts ------------------------


def test_each_rendition_has_an_avif_first_and_a_jpeg_fallback_of_the_same_pixels():
    result = make_renditions(encode(photo(2400, 1600), "JPEG", quality=90))
    sizes = {name: (r.width, r.height) for name, r in result.renditions.items()}
    assert sizes == {"large": (1920, 1280), "preview": (1024, 683), "small": (640, 427), "thumbnail": (320, 213)}
    for rendition in result.renditions.values():
        assert [s.content_type for s in rendition.sources] == ["image/avif", "image/jpeg"]
        avif, jpeg = (open_rendition(s.data) for s in rendition.sources)
        assert (avif.format, jpeg.format) == ("AVIF", "JPEG")
        assert avif.size == jpeg.size == (rendition.width, rendition.height)
        for source in rendition.sources:
            assert_no_metadata(source.data)
        # The same picture in both: mean colours within a few levels.
        means = [ImageStat.Stat(i.convert("RGB")).mean for i in (avif, jpeg)]
        assert max(abs(a - b) for a, b in zip(*means, strict=True)) < 4


def test_transparent_sources_are_avif_with_alpha_and_a_webp_fallback():
    image = photo(300, 200).convert("RGBA")
    image.putalpha(Image.linear_gradient("L").resize((300, 200)))
    result = make_renditions(encode(image, "PNG"))
    for rendition in result.renditions.values():
        assert [s.content_type for s in rendition.sources] == ["image/avif", "image/webp"]
        for source in rendition.sources:
            decoded = open_rendition(source.data)
            assert decoded.mode == "RGBA" and decoded.getextrema()[3][0] < 20, "transparency lost"


def test_smaller_sizes_are_made_from_the_larger_one_and_equal_sizes_share_their_files(monkeypatch):
    resized_from = []
    original = Image.Image.resize

    def spy(self, size, *args, **kwargs):
        resized_from.append((self.size, tuple(size)))
        return original(self, size, *args, **kwargs)

    source = encode(photo(900, 600), "PNG")
    monkeypatch.setattr(Image.Image, "resize", spy)
    result = make_renditions(source)
    steps = [step for step in resized_from if step[1] != (1, 1)]  # the mean colour's 1x1
    assert steps[:2] == [((900, 600), (640, 427)), ((640, 427), (320, 213))], steps
    # A 900 px source fills neither "large" (1920) nor "preview" (1024): one file for both.
    assert result.renditions["large"].sources == result.renditions["preview"].sources
    assert (result.renditions["large"].width, result.renditions["large"].height) == (900, 600)


def test_the_spec_decides_sizes_qualities_and_its_version():
    small_only = RenditionSpec(sizes=(("tiny", 100),))
    result = make_renditions(encode(photo(400, 300), "JPEG"), spec=small_only)
    assert list(result.renditions) == ["tiny"] and result.renditions["tiny"].width == 100
    assert result.spec_version == small_only.version != RenditionSpec().version
    assert RenditionSpec(avif_quality=50).version != RenditionSpec().version
    assert RenditionSpec().version == RenditionSpec().version  # stable across processes: a hash of the fields
    lower = make_renditions(encode(photo(800, 600), "JPEG"), spec=RenditionSpec(avif_quality=30, jpeg_quality=40))
    default = make_renditions(encode(photo(800, 600), "JPEG"))
    for kind in (0, 1):
        assert len(lower.renditions["preview"].sources[kind].data) < len(
            default.renditions["preview"].sources[kind].data
        )


@pytest.mark.parametrize(
    "text, sizes",
    [
        ("a=100,b=300", (("b", 300), ("a", 100))),
        (" thumbnail=320 ", (("thumbnail", 320),)),
    ],
)
def test_rendition_sizes_from_configuration(text, sizes):
    assert RenditionSpec.parse_sizes(text) == sizes


@pytest.mark.parametrize(
    "text", ["", "a", "a=0", "a=99999", "a=100,a=200", "1x=100", ",".join(f"s{i}=100" for i in range(9))]
)
def test_bad_rendition_sizes_are_refused_at_start(text):
    with pytest.raises(ValueError, match="RENDITION_SIZES"):
        RenditionSpec.parse_sizes(text)


def test_placeholder_is_a_thumbhash_of_the_picture_and_the_colour_its_mean():
    import base64

    import thumbhash

    def two_halves(left, right):
        image = Image.new("RGB", (400, 200), left)
        image.paste(right, (200, 0, 400, 200))
        return make_renditions(encode(image, "PNG"))

    red_blue, blue_red = two_halves((200, 30, 30), (30, 30, 200)), two_halves((30, 30, 200), (200, 30, 30))
    hashed = base64.b64decode(red_blue.placeholder)
    assert len(hashed) < 40
    assert thumbhash.thumb_hash_to_approximate_aspect_ratio(list(hashed)) == pytest.approx(2, rel=0.15)
    average = thumbhash.thumb_hash_to_average_rgba(list(hashed))
    assert average[0] == pytest.approx(115 / 255, abs=0.05) and average[2] == pytest.approx(115 / 255, abs=0.05)
    # Where the colours are, not only their mean (the page decodes it with the JS decoder: browser tests).
    assert red_blue.placeholder != blue_red.placeholder
    assert _close(red_blue.dominant_color, (115, 30, 115)) and _close(blue_red.dominant_color, (115, 30, 115))


def _close(colour: str, expected: tuple[int, int, int]) -> bool:
    got = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return max(abs(a - b) for a, b in zip(got, expected, strict=True)) <= 3


def test_a_transparent_image_gets_a_placeholder_and_its_colour_ignores_transparent_pixels():
    image = Image.new("RGBA", (200, 200), (0, 255, 0, 0))  # transparent green must not count
    image.paste((200, 20, 20, 255), (50, 50, 150, 150))
    result = make_renditions(encode(image, "PNG"))
    assert result.placeholder and _close(result.dominant_color, (200, 20, 20))


def camera_exif(gps: bool = True) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "Fujifilm"
    exif[0x0110] = "GFX100S"
    exif[0xA431] = "SERIAL-1234567"  # BodySerialNumber: never kept
    ifd = exif.get_ifd(0x8769)
    ifd.update(
        {
            0x9003: "2024:05:01 18:30:05",
            0x9011: "+02:00",
            0x829D: 2.8,
            0x829A: 1 / 250,
            0x8827: 400,
            0x920A: 63.0,
            0xA434: "GF63mmF2.8 R WR",
            0xA431: "SERIAL-1234567",
            0xA435: "LENS-SERIAL-99",
        }
    )
    if gps:
        exif.get_ifd(0x8825).update({1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)})
    return exif.tobytes()


def test_photo_facts_are_read_and_gps_or_serials_never_kept():
    data = encode(photo(800, 600), "JPEG", exif=camera_exif())
    result = make_renditions(data)
    assert result.facts == {
        "takenAt": "2024-05-01T18:30:05+02:00",
        "make": "Fujifilm",
        "model": "GFX100S",
        "lens": "GF63mmF2.8 R WR",
        "fNumber": 2.8,
        "exposureTime": "1/250",
        "iso": 400,
        "focalLength": 63.0,
    }
    everything = json.dumps(describe(result))
    for secret in ("SERIAL-1234567", "LENS-SERIAL-99", "48.0", "51.0", '"N"', "gps", "GPS"):
        assert secret not in everything
    for rendition in result.renditions.values():
        for source in rendition.sources:
            assert_no_metadata(source.data)
            assert b"SERIAL" not in source.data


@pytest.mark.parametrize(
    "tags, expected",
    [
        ({0x9003: "0000:00:00 00:00:00"}, {}),  # cameras write this when the clock was never set
        ({0x9003: "2024:02:31 10:00:00"}, {}),
        ({0x9003: "2024:05:01 18:30:05", 0x9011: "garbage"}, {"takenAt": "2024-05-01T18:30:05"}),
        ({0x829A: 4294967295}, {}),  # 0xFFFFFFFF/1 from a broken writer
        ({0x829A: 2.0, 0x829D: 0}, {"exposureTime": "2"}),
        ({0x8827: (100, 200)}, {"iso": 100}),
    ],
)
def test_odd_photo_facts_are_left_out_not_guessed(tags, expected):
    exif = Image.Exif()
    exif.get_ifd(0x8769).update(tags)
    result = make_renditions(encode(photo(64, 48), "JPEG", exif=exif.tobytes()))
    assert result.facts == expected


def test_a_jpeg_does_not_load_the_heif_decoder():
    """pillow-heif (libheif) costs every cold start; it is imported for ISO media files only."""
    import subprocess
    import sys

    code = (
        "import io, sys; from PIL import Image; from handlers.imaging import make_renditions;"
        "data = io.BytesIO(); Image.new('RGB', (64, 48), 'red').save(data, 'JPEG');"
        "make_renditions(data.getvalue()); print('pillow_heif' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"
    heic = CORPUS / "avif_hopper.heif"
    code = (
        f"import sys; from handlers.imaging import make_renditions; make_renditions(open({str(heic)!r}, 'rb').read())"
    )
    subprocess.run([sys.executable, "-c", code + "; assert 'pillow_heif' in sys.modules"], check=True)


def test_the_encoders_memory_counts_in_the_budget_before_any_pixel_is_decoded(monkeypatch):
    """A small decode can still make large renditions: AV1's encoder needs ~40 bytes a pixel of
    the largest one, so the budget is the larger of decoding and encoding (never both at once)."""
    from handlers.imaging import Headers, decode_cost, encode_cost

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


def test_the_largest_resize_made_in_two_halves_is_the_same_picture_without_a_seam():
    from PIL import ImageChops

    from handlers.imaging import _resize_largest

    source = photo(3000, 2000)
    halves = _resize_largest(source, (1920, 1280))
    whole = source.resize((1920, 1280), Image.Resampling.BICUBIC)
    assert halves.size == (1920, 1280)
    assert max(high for _, high in ImageChops.difference(halves, whole).getextrema()) <= 2
