"""handlers/imaging.py and handlers/rendering.py, end to end: formats, orientation, metadata
stripping, refusals by content, the corpus, the rendition spec (sizes, AVIF and a fallback), the
CLI. The decode budget's refusals: test_probe_budget.py; placeholders and photo facts:
test_imaging_placeholders.py, test_imaging_photo_facts.py."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image, ImageCms, ImageStat, JpegImagePlugin

from handlers.imaging import ImageRejected, Limits, RenditionSpec, main, make_renditions
from tests.images import CORPUS, corpus_manifest, encode, exif_bytes, phone_jpeg, photo
from tests.unit.rendition_checks import assert_no_metadata, open_rendition


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
    assert [name for name in decoders if name != "raw"] == ["jpeg"]  # raw: pixels from libvips' resizes


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


def test_a_heif_is_rendered_from_its_primary_image_not_image_0():
    from tests.hostile import heif_with_large_secondary

    data = heif_with_large_secondary(primary=(64, 48), other=(1600, 1200))
    result = make_renditions(data, Limits(max_pixels=100_000))  # the other image alone is over it
    assert (result.width, result.height) == (64, 48)
    preview = open_rendition(result.renditions["preview"].data).convert("RGB")
    r, g, b = preview.getpixel((32, 24))
    assert r > b, "the renditions show another image than the primary"


# --- renditions from the spec: sources and sizes --------------------------------------------------


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
    from handlers import rendering

    resized_from = []
    original = rendering._resize

    def spy(image, size):
        resized_from.append((image.size, tuple(size)))
        return original(image, size)

    source = encode(photo(900, 600), "PNG")
    monkeypatch.setattr(rendering, "_resize", spy)
    result = make_renditions(source)
    assert resized_from == [((900, 600), (640, 427)), ((640, 427), (320, 213))]
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


@pytest.mark.parametrize("source_size", [(4000, 3000), (4001, 2999), (8000, 6000)])
def test_a_source_twice_the_target_or_more_is_reduced_first_to_the_same_picture(source_size):
    """A PNG, WebP or HEIC (no decoder that scales while decoding) is box-reduced by a whole factor
    before the resample: the same picture as a full resample, neither shifted nor cropped."""
    from PIL import ImageChops, ImageFilter, ImageStat

    from handlers.rendering import _resize_largest

    source = photo(*source_size)
    target = (1920, round(1920 * source_size[1] / source_size[0]))
    reduced = _resize_largest(source, target)
    full = source.resize(target, Image.Resampling.LANCZOS)
    assert reduced.size == target
    assert max(ImageStat.Stat(ImageChops.difference(reduced, full)).mean) < 1.0

    def detail(image):  # fine texture left: an intermediate smaller than the target blurs it away
        return sum(ImageStat.Stat(image.filter(ImageFilter.FIND_EDGES)).mean)

    assert detail(reduced) > 0.9 * detail(full)


def test_each_encoder_uses_its_own_quality():
    """The JPEG fallback is encoded at the spec's JPEG quality, never at AVIF's: the two encode the
    same pixels at once, and Pillow keeps a save's options on the image it saves (its quantization
    tables are those of a JPEG saved alone at that quality)."""
    spec = RenditionSpec(jpeg_quality=82, avif_quality=50)

    def tables(data: bytes) -> dict:
        return Image.open(io.BytesIO(data)).quantization

    alone = {q: tables(encode(photo(400, 300), "JPEG", quality=q)) for q in (spec.jpeg_quality, spec.avif_quality)}
    assert alone[spec.jpeg_quality] != alone[spec.avif_quality]
    source = encode(photo(1600, 1200), "PNG")
    for _ in range(5):  # the race it guards against showed in every run
        for rendition in make_renditions(source, spec=spec).renditions.values():
            assert tables(rendition.fallback.data) == alone[spec.jpeg_quality], rendition.name
