"""handlers/vips.py: libvips' resampler is Pillow's bicubic picture, to the exact size asked, for
opaque images; anything else, or no libvips, is left to Pillow (the renderer then resizes as before)."""

from __future__ import annotations

import random

import pytest
from PIL import Image, ImageChops, ImageStat

from handlers import rendering
from handlers import vips as libvips
from handlers.imaging import make_renditions
from tests.images import encode, photo


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    return max(ImageStat.Stat(ImageChops.difference(a, b)).mean)


@pytest.mark.parametrize(
    "source_size, target",
    [((2000, 1500), (1920, 1440)), ((1920, 1440), (1024, 768)), ((1024, 768), (640, 480)), ((1999, 1333), (1024, 683))],
)
def test_the_resize_is_pillows_bicubic_picture_at_exactly_the_size_asked(source_size, target):
    source = photo(*source_size)
    ours = libvips.resize(source, target)
    theirs = source.resize(target, Image.Resampling.BICUBIC, reducing_gap=2.0)
    assert ours is not None and (ours.mode, ours.size) == ("RGB", target)
    assert mean_difference(ours, theirs) < 0.5  # levels of 255: the same filter, rounded differently
    sharpest = source.resize(target, Image.Resampling.LANCZOS)
    assert mean_difference(ours, sharpest) < 1.5  # not a blur: as close to Lanczos as bicubic is


@pytest.mark.parametrize("source_size, target", [((2000, 1500), (1920, 1440)), ((1999, 1333), (1024, 683))])
def test_on_noise_the_kernel_is_pillows_bicubic_and_no_other(source_size, target):
    """A photo is smooth enough that kernels differ by a fraction of a level; on noise, libvips'
    linear, Mitchell and Lanczos kernels are 4-16 levels from Pillow's bicubic, its cubic ~0.6."""
    noise = Image.frombytes("RGB", source_size, random.Random(3).randbytes(source_size[0] * source_size[1] * 3))
    ours = libvips.resize(noise, target)
    assert ours is not None
    assert mean_difference(ours, noise.resize(target, Image.Resampling.BICUBIC, reducing_gap=2.0)) < 1.0
    assert mean_difference(ours, noise.resize(target, Image.Resampling.BILINEAR, reducing_gap=2.0)) > 4.0


def test_an_image_with_alpha_or_a_runtime_without_libvips_is_left_to_pillow(monkeypatch):
    assert libvips.resize(photo(400, 300, "RGBA"), (200, 150)) is None  # Pillow weights colour by alpha
    assert libvips.resize(photo(400, 300).convert("L"), (200, 150)) is None
    data = encode(photo(2400, 1800), "JPEG")
    with_vips = make_renditions(data)
    monkeypatch.setattr(libvips, "load", lambda: None)
    assert libvips.resize(photo(400, 300), (200, 150)) is None
    by_pillow = make_renditions(data)
    for name, rendition in with_vips.renditions.items():
        other = by_pillow.renditions[name]
        assert (rendition.width, rendition.height) == (other.width, other.height)


def test_the_renderer_makes_every_size_of_an_opaque_photo_with_libvips(monkeypatch):
    made = []
    original = libvips.resize

    def spy(image, size):
        resized = original(image, size)
        if resized is not None:
            made.append(size)
        return resized

    monkeypatch.setattr(libvips, "resize", spy)
    result = make_renditions(encode(photo(4000, 3000), "JPEG"))  # decoded at 1/2: 2000 x 1500
    assert made == [(1920, 1440), (1024, 768), (640, 480), (320, 240)]
    assert [(r.width, r.height) for r in result.renditions.values()] == made
    made.clear()
    make_renditions(encode(photo(1200, 900, "RGBA"), "PNG"))  # transparent: Pillow's
    assert made == []


def test_a_libvips_failure_falls_back_to_pillow(monkeypatch):
    class Broken:
        Error = RuntimeError

        class Image:
            @staticmethod
            def new_from_memory(*args):
                raise RuntimeError("out of memory")

    monkeypatch.setattr(libvips, "load", lambda: Broken)
    assert libvips.resize(photo(400, 300), (200, 150)) is None
    resized = rendering._resize(photo(400, 300), (200, 150))
    assert resized.size == (200, 150)
