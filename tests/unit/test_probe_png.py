"""handlers/probe/png.py: a PNG's chunks walked by their lengths, nothing inflated."""

from __future__ import annotations

import struct
import zlib

import pytest

from handlers.probe.png import png_layout
from tests import hostile
from tests.images import encode, photo


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def test_a_plain_png_has_nothing_but_iend_after_its_image_data():
    layout = png_layout(encode(photo(64, 48), "PNG"))
    assert (layout.interlaced, layout.after_image) == (False, (b"IEND",))


def test_chunks_after_the_image_data_and_interlacing_are_seen():
    png = hostile.png(64, 48)
    with_text = png[:-12] + _chunk(b"tEXt", b"Comment\0late") + _chunk(b"eXIf", b"MM\0*") + png[-12:]
    assert png_layout(with_text).after_image == (b"tEXt", b"eXIf", b"IEND")
    interlaced = png[:28] + b"\x01" + png[29:]  # IHDR's interlace method (its CRC is not checked here)
    assert png_layout(interlaced).interlaced


@pytest.mark.parametrize(
    "data",
    [
        encode(photo(64, 48), "PNG")[:-20],  # cut short before IEND
        encode(photo(64, 48), "PNG")[:-12] + b"\0\0\0\xffIEND" + b"\0" * 4,  # IEND longer than the file
        hostile.png(64, 48)[:-12] + _chunk(b"tEXt", b"a\0b") + _chunk(b"IDAT", b"") + _chunk(b"IEND", b""),
        encode(photo(8, 8), "JPEG"),
        hostile.png(64, 48)[:33] + _chunk(b"IEND", b""),  # no image data
    ],
    ids=["truncated", "IEND past the end", "IDAT after other chunks", "not a PNG", "no IDAT"],
)
def test_what_is_not_a_whole_png_is_a_value_error(data):
    with pytest.raises(ValueError):
        png_layout(data)
