"""Checks of rendered files, shared by the image core's tests."""

from __future__ import annotations

import io

from PIL import Image


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
