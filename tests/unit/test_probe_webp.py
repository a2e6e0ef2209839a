"""handlers/probe/webp.py: the canvas a WebP decoder allocates as the file is opened."""

from __future__ import annotations

from PIL import Image

from handlers import probe
from tests.images import encode, photo


def test_webp_canvas_size():
    lossless = encode(Image.new("RGBA", (300, 200)), "WEBP", lossless=True)
    lossy = encode(photo(301, 199), "WEBP", quality=50)
    frames = [Image.new("RGB", (120, 80), colour) for colour in ("red", "blue")]
    animated = encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=50)
    assert [probe.webp_canvas_size(d) for d in (lossless, lossy, animated)] == [(300, 200), (301, 199), (120, 80)]
    assert probe.webp_canvas_size(encode(photo(8, 8), "PNG")) is None
