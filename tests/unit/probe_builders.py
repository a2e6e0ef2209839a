"""Inputs for the probes' tests, made in memory: real files from Pillow's and pillow-heif's
encoders, patched to lie; or, for what no encoder writes (AV1 frame headers that override the
size, grids, tracks), containers and codec headers built bit by bit."""

from __future__ import annotations

import io
import struct

import pillow_heif
from PIL import Image

from tests.images import encode, photo

pillow_heif.register_heif_opener()  # Image.open reads HEIF, as in the pipeline


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
