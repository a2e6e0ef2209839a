"""handlers/photo_facts.py: when and with what a photo was taken, from its EXIF, made with the
renditions; GPS and serial numbers never kept."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from handlers.imaging import describe, make_renditions
from tests.images import encode, photo
from tests.unit.rendition_checks import assert_no_metadata


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
