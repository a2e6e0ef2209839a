"""What the page paints before a photo arrives: its ThumbHash (`placeholder`, about 25 bytes)
and, before that is decoded, its mean colour (`dominant_color`). Made from the smallest
rendition, in pure Python while the encoders run."""

from __future__ import annotations

import base64

from PIL import Image

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
