"""handlers/placeholders.py: the ThumbHash placeholder and the mean colour the page paints before
a photo arrives, made with the renditions."""

from __future__ import annotations

import base64

import pytest
import thumbhash
from PIL import Image

from handlers.imaging import make_renditions
from tests.images import encode


def test_placeholder_is_a_thumbhash_of_the_picture_and_the_colour_its_mean():
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
