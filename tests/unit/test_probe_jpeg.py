"""handlers/probe/jpeg.py: a JPEG's primary image, its frame header, sampling and scans, walked
marker by marker from the bytes alone."""

from __future__ import annotations

import struct
import time

import pytest

from handlers import probe
from tests.images import encode, photo


def jpeg_segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


# -- JPEG ------------------------------------------------------------------------------------------


def test_baseline_jpeg_has_one_scan():
    found = probe.jpeg_structure(encode(photo(320, 240), "JPEG", quality=80))
    assert (found.width, found.height, found.components, found.scans) == (320, 240, 3, 1)
    assert found.sof == 0xC0 and not found.progressive and not found.arithmetic and found.complete
    assert found.sampling == ((2, 2), (1, 1), (1, 1)) and (found.max_h, found.max_v) == (2, 2)


def test_progressive_jpeg_counts_its_scans_and_coefficient_memory():
    data = encode(photo(1200, 900), "JPEG", quality=80, progressive=True)
    found = probe.jpeg_structure(data)
    assert found.progressive and found.sof == 0xC2
    assert found.scans == data.count(b"\xff\xda") > 1  # 0xFFDA cannot occur inside entropy-coded data
    # libjpeg's whole-image coefficient arrays, 4:2:0: luma 150x113 blocks rounded up to 150x114, chroma 75x57 each.
    assert found.coefficient_bytes == (150 * 114 + 2 * 75 * 57) * 64 * 2


def test_repeated_scans_are_counted_and_the_walk_stays_fast():
    data = encode(photo(640, 480), "JPEG", quality=80, progressive=True)
    scans = probe.jpeg_structure(data).scans
    last_scan, eoi = data.rindex(b"\xff\xda"), data.rindex(b"\xff\xd9")
    bomb = data[:eoi] + data[last_scan:eoi] * 2000 + data[eoi:]
    started = time.perf_counter()
    found = probe.jpeg_structure(bomb)
    assert time.perf_counter() - started < 0.5
    assert found.scans == scans + 2000 and found.complete


def test_exif_thumbnail_and_later_pictures_are_not_the_primary_image():
    main = encode(photo(400, 300), "JPEG", quality=80)
    thumbnail = encode(photo(160, 120), "JPEG", quality=80, progressive=True)  # its own SOF, scans and EOI
    # The thumbnail inside APP1, then again after the main image as an MPO-like second picture.
    data = main[:2] + jpeg_segment(0xE1, b"Exif\0\0" + thumbnail) + main[2:] + thumbnail
    found = probe.jpeg_structure(data)
    assert (found.width, found.height, found.scans, found.progressive) == (400, 300, 1, False)


def test_stuffed_bytes_restart_markers_and_junk_are_walked_like_libjpeg():
    data = encode(photo(320, 240), "JPEG", quality=95, restart_marker_blocks=1)
    assert data.count(b"\xff\xd0") and data.count(b"\xff\x00")
    sos = data.index(b"\xff\xda")
    junk = data[:sos] + b"hello\xff\x00" + data[sos:]  # stray bytes before a marker: skipped, as libjpeg warns and does
    for case in (data, junk):
        assert probe.jpeg_structure(case).scans == 1


def test_truncated_jpeg_reports_what_it_found():
    data = encode(photo(320, 240), "JPEG", quality=80, progressive=True)
    cut = data[: len(data) * 2 // 3]
    found = probe.jpeg_structure(cut)
    assert not found.complete and (found.width, found.height) == (320, 240)
    assert 0 < found.scans < probe.jpeg_structure(data).scans
    with pytest.raises(ValueError, match="no frame header"):
        probe.jpeg_structure(data[: data.index(b"\xff\xc2")])


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: b"GIF89a" + d, "SOI"),
        (lambda d: d[:2] + d[d.index(b"\xff\xda") :], "before its frame header"),
        (
            lambda d: d.replace(b"\xff\xda", d[d.index(b"\xff\xc0") : d.index(b"\xff\xc0") + 19] + b"\xff\xda", 1),
            "second frame",
        ),
        (lambda d: d[:2] + jpeg_segment(0xFE, b"") + b"\xff\xd8" + d[2:], "second SOI"),
        (
            lambda d: d.replace(b"\x11\x08\x00\xf0\x01\x40\x03\x01\x22", b"\x11\x08\x00\xf0\x01\x40\x03\x01\x50", 1),
            "sampling",
        ),
        (lambda d: d.replace(b"\x11\x08\x00\xf0\x01\x40", b"\x11\x08\x00\x00\x01\x40", 1), "empty"),
        (lambda d: d[:2] + jpeg_segment(0xFE, b"") * 100_001 + d[2:], "more than 100000 markers"),
    ],
)
def test_malformed_jpeg_raises_value_error(mutate, message):
    data = encode(photo(320, 240), "JPEG", quality=80)
    with pytest.raises(ValueError, match=message):
        probe.jpeg_structure(mutate(data))


def test_a_25_mib_jpeg_is_walked_in_linear_time():
    """Worst case for a marker walk: entropy-coded data made only of stuffed 0xFF00 pairs."""
    data = encode(photo(320, 240), "JPEG", quality=80)
    sos_end = data.index(b"\xff\xda") + 2 + 12
    big = data[:sos_end] + b"\xff\x00" * (25 * 1024 * 1024 // 2) + b"\xff\xd9"
    started = time.perf_counter()
    found = probe.jpeg_structure(big)
    assert time.perf_counter() - started < 1.0
    assert found.scans == 1 and found.complete
