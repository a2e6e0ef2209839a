"""handlers/probe/heif.py (over isobmff, av1, hevc): a HEIF's or an AVIF's image items and
tracks, the sizes their containers declare and the sizes their codecs' own headers give."""

from __future__ import annotations

import io
import struct
import time

import pillow_heif
import pytest
from PIL import Image

from handlers import probe
from tests.images import encode, photo
from tests.unit.probe_builders import (
    av1_tile,
    av1c,
    avif,
    box,
    full_box,
    full_sequence_header,
    grid_data,
    heic,
    heif_file,
    inter_frame_header,
    ispe,
    key_frame_header,
    patch_ispe,
    reduced_sequence_header,
)

# -- AVIF ------------------------------------------------------------------------------------------


def test_avif_ispe_lie_is_seen_through():
    data = patch_ispe(avif(photo(1200, 900)), 64, 48)
    assert Image.open(io.BytesIO(data)).size == (64, 48)  # what the header says, and Pillow believes
    assert probe.avif_frame_size(data) == (1200, 900)  # what libavif decodes
    primary = probe.heif_structure(data).primary
    assert (primary.item_type, primary.ispe, primary.coded) == ("av01", (64, 48), (1200, 900))


def test_avif_alpha_is_listed_and_counted():
    image = photo(200, 100, mode="RGBA")
    image.putalpha(Image.linear_gradient("L").resize(image.size))  # an opaque alpha would be left out
    data = avif(image)
    structure = probe.heif_structure(data)
    alpha = next(item for item in structure.items if item.role == "auxiliary")
    assert alpha.master == structure.primary_id and alpha.aux_type.endswith(":auxiliary:alpha")
    assert structure.top_level == (structure.primary,)
    assert structure.decoded_with(structure.primary) == (structure.primary, alpha)
    assert probe.avif_frame_size(data) == (200, 100)


def test_a_large_alpha_frame_behind_a_small_image_counts():
    config, tile = av1_tile(64, 64)
    alpha_type = b"urn:mpeg:mpegB:cicp:systems:auxiliary:alpha\0"
    data = heif_file(
        [
            (1, b"av01", [ispe(64, 64), config], tile),
            (
                2,
                b"av01",
                [ispe(64, 64), av1c(), full_box(b"auxC", 0, 0, alpha_type)],
                reduced_sequence_header(8192, 8192),
            ),
        ],
        primary=1,
        references=((b"auxl", 2, [1]),),
    )
    assert probe.avif_frame_size(data) == (8192, 8192)


def test_larger_of_av1c_and_data_sequence_headers_counts():
    small, large = reduced_sequence_header(640, 480), reduced_sequence_header(3000, 2000)
    for config, stream in ((small, large), (large, small)):
        data = heif_file([(1, b"av01", [ispe(640, 480), av1c(config)], stream)], primary=1)
        assert probe.avif_frame_size(data) == (3000, 2000)


@pytest.mark.parametrize("equal_interval", [True, False])
def test_frame_headers_that_override_the_sequence_size_are_seen(equal_interval):
    """dav1d decodes a frame of the size its frame header gives, up to 2**frame_width_bits,
    whatever the sequence header's maximum: a full (not reduced) header can lie too."""
    stream = (
        full_sequence_header(1000, 1000, 15, equal_interval)
        + key_frame_header(2000, 1500, 15, equal_interval)
        + inter_frame_header((16384, 12000), 15, equal_interval)
        + inter_frame_header(None, 15, equal_interval)
    )
    data = heif_file([(1, b"av01", [ispe(1000, 1000), av1c()], stream)], primary=1)
    assert probe.avif_frame_size(data) == (16384, 12000)
    honest = heif_file(
        [(1, b"av01", [ispe(1000, 1000), av1c()], full_sequence_header(1000, 1000, 15, equal_interval))], primary=1
    )
    assert probe.avif_frame_size(honest) == (1000, 1000)


def test_animated_avif_tracks_are_read_sample_by_sample():
    frames = [photo(160, 120), photo(160, 120, seed=2), photo(160, 120, seed=3)]
    data = encode(frames[0], "AVIF", save_all=True, append_images=frames[1:], speed=10, quality=40, duration=100)
    track = probe.heif_structure(data).tracks[0]
    assert (track.handler, track.sample_type, track.samples, track.declared, track.coded) == (
        "pict",
        "av01",
        3,
        (160, 120),
        (160, 120),
    )


def test_a_large_frame_in_a_track_behind_an_honest_item_counts():
    """libavif decodes an 'avis' file's track, not its primary item."""
    config, tile = av1_tile(64, 64)
    sequence = full_sequence_header(64, 64, 14, True)
    samples = [sequence + key_frame_header(64, 64, 14, True), inter_frame_header((12000, 9000), 14, True)]
    data = heif_file([(1, b"av01", [ispe(64, 64), config], tile)], primary=1, track=(av1c(), samples))
    structure = probe.heif_structure(data)
    assert structure.frame_size(structure.primary) == (64, 64)
    assert structure.tracks[0].samples == 2 and structure.tracks[0].coded == (12000, 9000)
    assert probe.avif_frame_size(data) == (12000, 9000)


def test_grid_reports_its_output_and_its_tiles():
    config, tile = av1_tile(64, 64)
    tiles = [(i, b"av01", [ispe(64, 64), config], tile) for i in range(2, 6)]
    for output in ((128, 128), (100_000, 120)):  # the second needs 32-bit sizes
        grid = (1, b"grid", [ispe(32, 32)], grid_data(2, 2, *output))  # the grid's ispe lies
        data = heif_file([grid, *tiles], primary=1, references=((b"dimg", 1, [2, 3, 4, 5]),), idat_items=(1,))
        structure = probe.heif_structure(data)
        assert structure.primary.coded == output and structure.primary.inputs == (2, 3, 4, 5)
        assert [item.role for item in structure.items] == ["image", "input", "input", "input", "input"]
        assert structure.top_level == (structure.primary,)
        assert probe.avif_frame_size(data) == (max(output[0], 64), max(output[1], 64))
        assert structure.decode_size(structure.primary) == probe.avif_frame_size(data)


def test_thumbnails_and_hidden_images_are_marked():
    config, tile = av1_tile(64, 64)
    items = [(i, b"av01", [ispe(64, 64), config], tile) for i in (1, 2, 3)]
    data = heif_file(items, primary=1, references=((b"thmb", 2, [1]),), hidden=(3,))
    structure = probe.heif_structure(data)
    assert structure.item(2).role == "thumbnail" and structure.item(2).master == 1
    assert structure.top_level == (structure.item(1), structure.item(3))  # hidden images are listed, and flagged
    assert [item.hidden for item in structure.items] == [False, False, True]


# -- HEIF (HEVC) -----------------------------------------------------------------------------------


def test_heic_ispe_lie_is_seen_through():
    data = patch_ispe(heic(photo(1280, 960)), 64, 48)
    assert pillow_heif.open_heif(io.BytesIO(data)).size == (64, 48)
    assert probe.heif_primary_size(data) == (1280, 960)
    assert probe.heif_structure(data).primary.coded == (1280, 960)


def test_heic_coded_size_is_the_decoded_picture_before_cropping():
    """HEVC codes whole 8x8 blocks: 900 rows decode as 904, cropped afterwards."""
    assert probe.heif_primary_size(heic(photo(1200, 900))) == (1200, 904)


def test_multi_image_heif_lists_every_top_level_image():
    heif = pillow_heif.from_pillow(Image.new("RGB", (2048, 1536), (90, 120, 200)))
    heif.add_from_pillow(Image.new("RGB", (64, 64), (200, 120, 90)))
    buffer = io.BytesIO()
    heif.save(buffer, quality=30, primary_index=1)
    structure = probe.heif_structure(buffer.getvalue())
    assert pillow_heif.open_heif(io.BytesIO(buffer.getvalue())).size == (64, 64)  # the primary
    assert structure.primary.ispe == structure.primary.coded == (64, 64)
    assert [(item.ispe, item.coded) for item in structure.top_level] == [
        ((2048, 1536), (2048, 1536)),
        ((64, 64), (64, 64)),
    ]
    assert max(structure.decode_size(item) for item in structure.top_level) == (2048, 1536)


def test_malformed_heif_raises_value_error():
    config, tile = av1_tile(64, 64)
    good = heif_file([(1, b"av01", [ispe(64, 64), config], tile)], primary=1)
    location = struct.pack(">HHHHII", 1, 0, 0, 1, len(good) - len(tile), len(tile))  # the item's iloc entry
    cases = {
        "ftyp": encode(photo(8, 8), "PNG"),
        "overruns": good[:40],
        "0 top-level meta": good[: good.index(b"meta") - 4] + box(b"free", b""),
        "primary item 7": heif_file([(1, b"av01", [config], tile)], primary=7),
        "property 9": good.replace(struct.pack(">HB", 1, 2) + b"\x01\x02", struct.pack(">HB", 1, 2) + b"\x01\x09"),
        "beyond the end": good.replace(location, location[:-4] + struct.pack(">I", len(tile) + 1)),
    }
    for message, data in cases.items():
        with pytest.raises(ValueError, match=message):
            probe.heif_structure(data)


def replace_in_meta(data: bytes, kind: bytes, new_box: bytes) -> bytes:
    """The file with meta's `kind` box replaced (meta's size fixed; offsets into mdat are not)."""
    meta_at, at = data.index(b"meta") - 4, data.index(kind) - 4
    meta_size, old_size = (struct.unpack(">I", data[i : i + 4])[0] for i in (meta_at, at))
    meta = data[meta_at:at] + new_box + data[at + old_size : meta_at + meta_size]
    return data[:meta_at] + struct.pack(">I", len(meta)) + meta[4:] + data[meta_at + meta_size :]


def test_heif_work_is_capped():
    config, tile = av1_tile(64, 64)
    good = heif_file([(1, b"av01", [ispe(64, 64), config], tile)], primary=1)
    # One item of 60,000 extents, each the whole file (offset 0, length 0: to the end): joined
    # naively, 60,000 copies of the file.
    extents = full_box(b"iloc", 1, 0, struct.pack(">HHHHHH", 0x4400, 1, 1, 0, 0, 60_000) + bytes(8) * 60_000)
    # 10,001 items.
    infe = b"".join(full_box(b"infe", 2, 0, struct.pack(">HH", i, 0) + b"av01\0") for i in range(1, 10_002))
    items = full_box(b"iinf", 0, 0, struct.pack(">H", 10_001) + infe)
    for bomb, message in (
        (replace_in_meta(good, b"iloc", extents), "overlap"),
        (replace_in_meta(good, b"iinf", items), "more than 10000 items"),
    ):
        started = time.perf_counter()
        with pytest.raises(ValueError, match=message):
            probe.heif_structure(bomb)
        assert time.perf_counter() - started < 1.0
