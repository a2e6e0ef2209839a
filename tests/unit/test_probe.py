"""handlers/probe.py: the sizes and structure decoders will really see, read from the bytes alone.

Every input is made here, in memory: real files from Pillow's and pillow-heif's encoders, then
patched to lie; or, for what no encoder writes (AV1 frame headers that override the size, grids),
containers and codec headers built bit by bit.
"""

from __future__ import annotations

import io
import random
import struct
import time

import pillow_heif
import pytest
from PIL import Image

from handlers import probe
from tests.images import CORPUS, corpus_manifest, encode, photo

pillow_heif.register_heif_opener()  # Image.open reads HEIF, as in the pipeline

# -- builders --------------------------------------------------------------------------------------


class Bits:
    """Writes big-endian bit fields, as the AV1 spec's f(n)."""

    def __init__(self):
        self.value, self.count = 0, 0

    def put(self, count: int, value: int) -> Bits:
        assert 0 <= value < (1 << count)
        self.value, self.count = (self.value << count) | value, self.count + count
        return self

    def uvlc(self, value: int) -> Bits:
        zeros = (value + 1).bit_length() - 1
        return self.put(zeros, 0).put(zeros + 1, value + 1)

    def bytes(self) -> bytes:
        pad = -self.count % 8
        return (self.value << pad).to_bytes((self.count + pad) // 8, "big") + bytes(8)  # zeros for the fields after


def obu(obu_type: int, payload: bytes, temporal_id: int | None = None) -> bytes:
    """An AV1 OBU with a size field (and an extension header when temporal_id is given)."""
    header = bytes([obu_type << 3 | 0x02 | (0x04 if temporal_id is not None else 0)])
    if temporal_id is not None:
        header += bytes([temporal_id << 5])
    size, leb = len(payload), b""
    while True:
        byte, size = size & 0x7F, size >> 7
        leb += bytes([byte | (0x80 if size else 0)])
        if not size:
            return header + leb + payload


def reduced_sequence_header(width: int, height: int) -> bytes:
    bits = Bits().put(3, 0).put(1, 1).put(1, 1).put(5, 8)  # profile, still_picture, reduced, seq_level_idx
    wbits, hbits = (width - 1).bit_length() or 1, (height - 1).bit_length() or 1
    bits.put(4, wbits - 1).put(4, hbits - 1).put(wbits, width - 1).put(hbits, height - 1)
    return obu(1, bits.bytes())


def full_sequence_header(width: int, height: int, size_bits: int, equal_interval: bool) -> bytes:
    """A sequence header with every optional part the spec allows before the frame size: timing
    info, a decoder model, two operating points (one with model and display delay), frame ids,
    order hints, screen content tools; frames of up to 2**size_bits."""
    bits = Bits().put(3, 0).put(1, 0).put(1, 0)  # profile 0, not still, not reduced
    bits.put(1, 1).put(32, 1).put(32, 30).put(1, int(equal_interval))  # timing_info
    if equal_interval:
        bits.uvlc(4)  # num_ticks_per_picture_minus_1
    bits.put(1, 1).put(5, 9).put(32, 1).put(5, 4).put(5, 4)  # decoder model: 10-bit delays, 5-bit times
    bits.put(1, 1)  # initial_display_delay_present_flag
    bits.put(5, 1)  # two operating points
    bits.put(12, 0x103).put(5, 8).put(1, 0)  # idc, seq_level_idx 8 (so a tier bit)
    bits.put(1, 1).put(10, 5).put(10, 5).put(1, 0)  # decoder model for this point
    bits.put(1, 1).put(4, 3)  # initial display delay for this point
    bits.put(12, 0x101).put(5, 4).put(1, 0).put(1, 0)  # no tier, no model, no display delay
    bits.put(4, size_bits - 1).put(4, size_bits - 1).put(size_bits, width - 1).put(size_bits, height - 1)
    bits.put(1, 1).put(4, 3).put(3, 2)  # frame ids: delta 5 bits, id 8 bits
    bits.put(3, 0b011).put(4, 0)  # superblock and tool flags
    bits.put(1, 1).put(2, 0)  # enable_order_hint, jnt_comp, ref_frame_mvs
    bits.put(1, 0).put(1, 1)  # screen content tools forced on
    bits.put(1, 1)  # seq_choose_integer_mv
    bits.put(3, 6)  # order_hint_bits_minus_1: 7 bits
    return obu(1, bits.bytes())


def key_frame_header(width: int, height: int, size_bits: int, equal_interval: bool) -> bytes:
    """A shown key frame of the full sequence above, overriding the frame size."""
    bits = Bits().put(1, 0).put(2, 0).put(1, 1)  # show_existing_frame, KEY_FRAME, show_frame
    if not equal_interval:
        bits.put(5, 0)  # temporal_point_info
    bits.put(1, 0)  # disable_cdf_update
    bits.put(1, 0)  # force_integer_mv (screen content tools on, integer mv selectable)
    bits.put(8, 0)  # current_frame_id
    bits.put(1, 1)  # frame_size_override_flag
    bits.put(7, 0)  # order_hint
    bits.put(1, 1).put(5, 0)  # buffer_removal_time for operating point 0 (temporal id 0 is in it)
    bits.put(size_bits, width - 1).put(size_bits, height - 1)
    return obu(3, bits.bytes(), temporal_id=0)


def inter_frame_header(size: tuple[int, int] | None, size_bits: int, equal_interval: bool) -> bytes:
    """A shown inter frame: its size given explicitly, or (size None) taken from a reference."""
    bits = Bits().put(1, 0).put(2, 1).put(1, 1)  # show_existing_frame, INTER_FRAME, show_frame
    if not equal_interval:
        bits.put(5, 0)
    bits.put(1, 0).put(1, 0).put(1, 0).put(8, 1)  # error_resilient, cdf, integer mv, frame id
    bits.put(1, 1).put(7, 1).put(3, 7)  # frame_size_override_flag, order_hint, primary_ref_frame
    bits.put(1, 0)  # buffer_removal_time_present_flag
    bits.put(8, 1)  # refresh_frame_flags
    bits.put(1, 0)  # frame_refs_short_signaling
    for _ in range(7):
        bits.put(3, 0).put(5, 0)  # ref_frame_idx, delta_frame_id_minus_1
    if size is None:
        bits.put(1, 1)  # found_ref
    else:
        bits.put(7, 0).put(size_bits, size[0] - 1).put(size_bits, size[1] - 1)
    return obu(3, bits.bytes())


def av1c(config_obus: bytes = b"") -> bytes:
    return box(b"av1C", b"\x81\x00\x0c\x00" + config_obus)


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def full_box(kind: bytes, version: int, flags: int, payload: bytes) -> bytes:
    return box(kind, bytes([version]) + flags.to_bytes(3, "big") + payload)


def ispe(width: int, height: int) -> bytes:
    return full_box(b"ispe", 0, 0, struct.pack(">II", width, height))


def heif_file(
    items: list[tuple[int, bytes, list[bytes], bytes]],
    primary: int,
    references: tuple[tuple[bytes, int, list[int]], ...] = (),
    idat_items: tuple[int, ...] = (),
    hidden: tuple[int, ...] = (),
    track: tuple[bytes, list[bytes]] | None = None,
) -> bytes:
    """A HEIF file: items are (id, type, property boxes, data); data of `idat_items` lives in an
    idat box (construction method 1), the rest in mdat; `hidden` items are flagged so. `track`,
    (av1C box, samples), adds an image sequence track of those samples, declared 64x64."""
    properties = [prop for _, _, props, _ in items for prop in props]
    ipma, index = b"", 1
    for item_id, _, props, _ in items:
        ipma += struct.pack(">HB", item_id, len(props)) + bytes(range(index, index + len(props)))
        index += len(props)
    idat = b"".join(data for item_id, _, _, data in items if item_id in idat_items)

    def meta(mdat_start: int) -> bytes:
        locations, in_mdat, in_idat = b"", mdat_start, 0
        for item_id, _, _, data in items:
            method = 1 if item_id in idat_items else 0
            offset = in_idat if method else in_mdat
            locations += struct.pack(">HHHHII", item_id, method, 0, 1, offset, len(data))
            if method:
                in_idat += len(data)
            else:
                in_mdat += len(data)
        iref = b"".join(
            box(kind, struct.pack(">HH", source, len(targets)) + struct.pack(f">{len(targets)}H", *targets))
            for kind, source, targets in references
        )
        infe = b"".join(
            full_box(b"infe", 2, int(item_id in hidden), struct.pack(">HH", item_id, 0) + kind + b"\0")
            for item_id, kind, _, _ in items
        )
        ipco = box(b"ipco", b"".join(properties))
        children = [
            full_box(b"hdlr", 0, 0, b"\0\0\0\0pict" + bytes(13)),
            full_box(b"pitm", 0, 0, struct.pack(">H", primary)),
            full_box(b"iloc", 1, 0, struct.pack(">HH", 0x4400, len(items)) + locations),
            full_box(b"iinf", 0, 0, struct.pack(">H", len(items)) + infe),
            full_box(b"iref", 0, 0, iref) if references else b"",
            box(b"iprp", ipco + full_box(b"ipma", 0, 0, struct.pack(">I", len(items)) + ipma)),
            box(b"idat", idat) if idat_items else b"",
        ]
        return full_box(b"meta", 0, 0, b"".join(children))

    def moov(samples_start: int) -> bytes:
        config, samples = track
        size = struct.pack(">II", 64 << 16, 64 << 16)  # 16.16 fixed point
        tkhd = full_box(b"tkhd", 0, 1, struct.pack(">5I", 0, 0, 1, 0, 0) + bytes(52) + size)
        sample_sizes = b"".join(struct.pack(">I", len(s)) for s in samples)
        stbl = b"".join(
            [
                full_box(b"stsd", 0, 0, struct.pack(">I", 1) + box(b"av01", bytes(78) + config)),
                full_box(b"stsz", 0, 0, struct.pack(">II", 0, len(samples)) + sample_sizes),
                full_box(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, len(samples), 1)),
                full_box(b"stco", 0, 0, struct.pack(">II", 1, samples_start)),
            ]
        )
        hdlr = full_box(b"hdlr", 0, 0, bytes(4) + b"pict" + bytes(13))
        return box(b"moov", box(b"trak", tkhd + box(b"mdia", hdlr + box(b"minf", box(b"stbl", stbl)))))

    in_mdat = b"".join(data for item_id, _, _, data in items if item_id not in idat_items)
    ftyp = box(b"ftyp", (b"avis" if track else b"avif") + b"\0\0\0\0avifmif1miaf")

    def head(mdat_start: int) -> bytes:
        return ftyp + meta(mdat_start) + (moov(mdat_start + len(in_mdat)) if track else b"")

    start = len(head(0)) + 8
    return head(start) + box(b"mdat", in_mdat + b"".join(track[1] if track else []))


def grid_data(rows: int, columns: int, width: int, height: int) -> bytes:
    wide = max(width, height) > 0xFFFF
    header = struct.pack(">BBBB", 0, int(wide), rows - 1, columns - 1)  # version, flags, rows and columns minus one
    return header + struct.pack(">II" if wide else ">HH", width, height)


def avif(image: Image.Image) -> bytes:
    return encode(image, "AVIF", speed=10, quality=40)


def heic(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    pillow_heif.from_pillow(image).save(buffer, quality=40)
    return buffer.getvalue()


def patch_ispe(data: bytes, width: int, height: int) -> bytes:
    """The file with its (first) ispe box declaring width x height."""
    at = data.index(b"ispe")
    return data[: at + 8] + struct.pack(">II", width, height) + data[at + 16 :]


def av1_tile(width: int, height: int) -> tuple[bytes, bytes]:
    """The av1C box and the AV1 data of a real encoded image (a single-item AVIF's mdat)."""
    data = avif(photo(width, height))
    at = data.index(b"av1C") - 4
    config = data[at : at + struct.unpack(">I", data[at : at + 4])[0]]
    at = data.index(b"mdat") - 4
    return config, data[at + 8 : at + struct.unpack(">I", data[at : at + 4])[0]]


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


# -- the corpus, WebP, hostile structure, fuzz -----------------------------------------------------


@pytest.mark.parametrize(
    "entry",
    [e for e in corpus_manifest() if e["file"].endswith((".jpg", ".mpo", ".avif", ".heif", ".heic"))],
    ids=lambda e: e["file"],
)
def test_corpus_files_parse_and_match_pillow(entry):
    data = (CORPUS / entry["file"]).read_bytes()
    if entry["file"].endswith((".jpg", ".mpo")):
        found = probe.jpeg_structure(data)
        size = found.width, found.height
        assert found.complete == (entry["expect"] == "processed")
    else:
        size = probe.heif_primary_size(data)
    assert size == Image.open(io.BytesIO(data)).size


def test_webp_canvas_size():
    lossless = encode(Image.new("RGBA", (300, 200)), "WEBP", lossless=True)
    lossy = encode(photo(301, 199), "WEBP", quality=50)
    frames = [Image.new("RGB", (120, 80), colour) for colour in ("red", "blue")]
    animated = encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=50)
    assert [probe.webp_canvas_size(d) for d in (lossless, lossy, animated)] == [(300, 200), (301, 199), (120, 80)]
    assert probe.webp_canvas_size(encode(photo(8, 8), "PNG")) is None


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


def fuzz_inputs() -> dict[str, bytes]:
    config, tile = av1_tile(64, 64)
    frames = (
        full_sequence_header(100, 100, 12, False)
        + key_frame_header(200, 100, 12, False)
        + inter_frame_header((300, 50), 12, False)
    )
    return {
        "baseline.jpg": encode(photo(96, 64), "JPEG", quality=80, restart_marker_blocks=4),
        "progressive.jpg": encode(photo(96, 64), "JPEG", quality=80, progressive=True),
        "alpha.avif": avif(Image.merge("RGBA", [*photo(64, 48).split(), Image.linear_gradient("L").resize((64, 48))])),
        "photo.heic": heic(photo(64, 48)),
        "frames.avif": heif_file(
            [(1, b"av01", [ispe(100, 100), av1c(reduced_sequence_header(100, 100))], frames)], primary=1
        ),
        "grid.avif": heif_file(
            [
                (1, b"grid", [ispe(128, 128)], grid_data(1, 2, 128, 64)),
                (2, b"av01", [ispe(64, 64), config], tile),
                (3, b"av01", [ispe(64, 64), config], tile),
            ],
            primary=1,
            references=((b"dimg", 1, [2, 3]),),
            idat_items=(1,),
        ),
        "track.avif": heif_file(
            [(1, b"av01", [ispe(64, 64), config], tile)],
            primary=1,
            track=(config, [tile, full_sequence_header(64, 64, 8, True) + key_frame_header(64, 64, 8, True)]),
        ),
        "animated.webp": encode(photo(32, 32), "WEBP", save_all=True, append_images=[photo(32, 32, seed=2)]),
    }


def test_fuzzed_inputs_only_ever_raise_value_error_and_stay_fast():
    """Truncations and bit flips of valid files: every probe returns or raises ValueError, fast."""
    rng = random.Random(1234)
    probes = (probe.jpeg_structure, probe.heif_structure, probe.heif_primary_size, probe.webp_canvas_size)
    slowest = 0.0
    for data in fuzz_inputs().values():
        for round_ in range(300):
            mutated = bytearray(data)
            if round_ % 3 == 0:
                mutated = mutated[: rng.randrange(len(mutated))]
            else:
                for _ in range(rng.choice((1, 2, 8))):
                    at = rng.randrange(len(mutated))
                    mutated[at] ^= 1 << rng.randrange(8)
            for function in probes:
                started = time.perf_counter()
                try:
                    function(bytes(mutated))
                except ValueError:
                    pass
                slowest = max(slowest, time.perf_counter() - started)
    assert slowest < 0.25
