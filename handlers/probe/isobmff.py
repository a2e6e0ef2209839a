"""ISOBMFF (ISO/IEC 14496-12), the container of HEIF and AVIF: boxes, the meta box's items
(types, locations, properties, references) and a track's sample table. What the items and
samples are as images, and their codecs' sizes, is `handlers.probe.heif`'s."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.probe.readers import Reader, Size, WorkCap, fourcc

# (type, payload start, payload end) of a box in the file's bytes.
Box = tuple[bytes, int, int]
# Items a file may declare, locate or give properties.
_MAX_ITEMS = 10_000


def boxes_in(data: bytes, start: int, end: int, work: WorkCap):
    """(type, payload start, payload end) of each box in data[start:end]."""
    pos = start
    while pos < end:
        work.step()
        box = Reader(data, pos, end, "box header")
        size, kind = box.u32(), data[box.skip(4) : box.pos]
        if size == 1:
            size = box.uint(8)
        elif size == 0:
            size = end - pos  # to the end of the enclosing box (or file)
        if kind == b"uuid":
            box.skip(16)
        if size < box.pos - pos or pos + size > end:
            raise ValueError(f"box {fourcc(kind)!r} at offset {pos} overruns its container")
        yield kind, box.pos, pos + size
        pos += size


def children(data: bytes, box: Box, work: WorkCap, full: bool = True):
    """The boxes inside `box`, after its version and flags when it is a FullBox."""
    kind, start, end = box
    if full and end - start < 4:
        raise ValueError(f"{fourcc(kind)} box is truncated")
    return boxes_in(data, start + 4 if full else start, end, work)


def single(boxes: list, kind: bytes, required: bool = False):
    found = [box for box in boxes if box[0] == kind]
    if len(found) > 1:
        raise ValueError(f"{len(found)} {fourcc(kind)} boxes where at most one is allowed")
    if required and not found:
        raise ValueError(f"HEIF file has no {fourcc(kind)} box")
    return found[0] if found else None


@dataclass
class Location:
    method: int  # 0: file offsets, 1: offsets into idat, 2: into another item
    reference: int  # 0: this file
    base: int
    extents: list[tuple[int, int]]  # (offset, length); a length of 0 runs to the end


class Meta:
    """The item-level content of the meta box."""

    def __init__(self):
        self.primary = 0
        self.types: dict[int, tuple[bytes, bool]] = {}  # item id -> (type, hidden)
        self.locations: dict[int, Location] = {}
        self.properties: list[Box] = []
        self.associations: dict[int, list[int]] = {}  # item id -> 0-based property indices
        self.references: list[tuple[bytes, int, list[int]]] = []  # (type, from, to)
        self.idat: tuple[int, int] | None = None

    def item_properties(self, item_id: int, kind: bytes) -> list[tuple[int, int]]:
        return [self.properties[i][1:] for i in self.associations.get(item_id, ()) if self.properties[i][0] == kind]

    def item_data(self, data: bytes, item_id: int, work: WorkCap) -> bytes | None:
        """The item's bytes, its extents joined; None when it has no location."""
        location = self.locations.get(item_id)
        if location is None:
            return None
        if location.reference != 0 or location.method == 2:
            raise ValueError(f"item {item_id}'s data is in another file or item, which is not supported")
        if location.method == 1:
            if self.idat is None:
                raise ValueError(f"item {item_id}'s data is in an idat box, which is missing")
            low, high = self.idat
        else:
            low, high = 0, len(data)
        parts = []
        for offset, length in location.extents:
            start = low + location.base + offset
            stop = high if length == 0 else start + length
            if start > high or stop > high:
                raise ValueError(f"item {item_id}'s data lies beyond the end of the file")
            work.copy(stop - start)
            parts.append(data[start:stop])
        return b"".join(parts)


def parse_meta(data: bytes, meta_box: Box, work: WorkCap) -> Meta:
    boxes = list(children(data, meta_box, work))
    meta = Meta()
    pitm = Reader(data, *single(boxes, b"pitm", required=True)[1:], "pitm box")
    version = pitm.u8()
    pitm.skip(3)
    meta.primary = pitm.u16() if version == 0 else pitm.u32()
    _parse_iinf(data, single(boxes, b"iinf", required=True), meta, work)
    iloc = single(boxes, b"iloc")
    if iloc:
        _parse_iloc(data, iloc, meta, work)
    iprp = single(boxes, b"iprp")
    if iprp:
        _parse_iprp(data, iprp, meta, work)
    iref = single(boxes, b"iref")
    if iref:
        _parse_iref(data, iref, meta, work)
    idat = single(boxes, b"idat")
    meta.idat = idat[1:] if idat else None
    return meta


def _parse_iinf(data: bytes, box: Box, meta: Meta, work: WorkCap) -> None:
    _, start, end = box
    version = Reader(data, start, end, "iinf box").u8()
    entries = start + 4 + (2 if version == 0 else 4)
    for kind, entry_start, entry_end in boxes_in(data, entries, end, work):
        if kind != b"infe":
            continue
        if len(meta.types) >= _MAX_ITEMS:
            raise ValueError(f"HEIF file has more than {_MAX_ITEMS} items")
        infe = Reader(data, entry_start, entry_end, "infe box")
        version, flags = infe.u8(), infe.uint(3)
        if version < 2:
            continue  # infe versions 0 and 1 carry no item type: not an image item
        item_id = infe.u16() if version == 2 else infe.u32()
        infe.skip(2)  # item_protection_index
        kind = data[infe.skip(4) : infe.pos]
        if item_id in meta.types:
            raise ValueError(f"item {item_id} is declared twice")
        meta.types[item_id] = (kind, bool(flags & 1))


def _parse_iloc(data: bytes, box: Box, meta: Meta, work: WorkCap) -> None:
    iloc = Reader(data, box[1], box[2], "iloc box")
    version = iloc.u8()
    if version > 2:
        raise ValueError(f"iloc box has an unknown version {version}")
    iloc.skip(3)
    sizes = iloc.u16()
    offset_size, length_size, base_size = sizes >> 12, (sizes >> 8) & 15, (sizes >> 4) & 15
    index_size = sizes & 15 if version in (1, 2) else 0
    if any(size not in (0, 4, 8) for size in (offset_size, length_size, base_size, index_size)):
        raise ValueError("iloc box has field sizes other than 0, 4 or 8 bytes")
    count = iloc.u16() if version < 2 else iloc.u32()
    if count > _MAX_ITEMS:
        raise ValueError(f"iloc box locates {count} items; the limit is {_MAX_ITEMS}")
    for _ in range(count):
        item_id = iloc.u16() if version < 2 else iloc.u32()
        method = iloc.u16() & 15 if version in (1, 2) else 0
        reference, base, extent_count = iloc.u16(), iloc.uint(base_size), iloc.u16()
        work.step(extent_count + 1)
        extents = []
        for _ in range(extent_count):
            iloc.skip(index_size)
            extents.append((iloc.uint(offset_size), iloc.uint(length_size)))
        if item_id in meta.locations:
            raise ValueError(f"item {item_id} is located twice")
        meta.locations[item_id] = Location(method, reference, base, extents)


def _parse_iprp(data: bytes, box: Box, meta: Meta, work: WorkCap) -> None:
    boxes = list(children(data, box, work, full=False))
    ipco = single(boxes, b"ipco")
    if ipco:
        meta.properties = list(children(data, ipco, work, full=False))
    for _, start, end in (b for b in boxes if b[0] == b"ipma"):
        ipma = Reader(data, start, end, "ipma box")
        version, flags, count = ipma.u8(), ipma.uint(3), ipma.u32()
        if count > _MAX_ITEMS:
            raise ValueError(f"ipma box lists {count} items; the limit is {_MAX_ITEMS}")
        for _ in range(count):
            item_id = ipma.u16() if version < 1 else ipma.u32()
            associations = ipma.u8()
            work.step(associations + 1)
            indices = meta.associations.setdefault(item_id, [])
            for _ in range(associations):
                index = ipma.u16() & 0x7FFF if flags & 1 else ipma.u8() & 0x7F  # the top bit: essential
                if index > len(meta.properties):
                    raise ValueError(f"item {item_id} is associated with property {index}, which does not exist")
                if index:
                    indices.append(index - 1)


def _parse_iref(data: bytes, box: Box, meta: Meta, work: WorkCap) -> None:
    version = Reader(data, box[1], box[2], "iref box").u8()
    read_id = Reader.u16 if version == 0 else Reader.u32
    for kind, start, end in children(data, box, work):
        reference = Reader(data, start, end, f"{fourcc(kind)} reference")
        source, count = read_id(reference), reference.u16()
        work.step(count)
        meta.references.append((kind, source, [read_id(reference) for _ in range(count)]))


@dataclass(frozen=True)
class Track:
    """A trak box as its tables give it: header, handler, first sample description, samples."""

    track_id: int
    handler: str  # "pict" (image sequence), "vide", "auxv" (alpha)...
    declared: Size  # the track header's width and height
    sample_entry: Box  # the first sample description: its type is the codec ("av01", "hvc1", ...)
    samples: list[bytes]


def read_track(data: bytes, trak: Box, work: WorkCap) -> Track:
    """A trak box: its header, handler, first sample description and every sample."""
    boxes = list(children(data, trak, work, full=False))
    tkhd = Reader(data, *single(boxes, b"tkhd", required=True)[1:], "tkhd box")
    version = tkhd.u8()
    tkhd.skip(3 + (16 if version == 1 else 8))  # flags, creation and modification times
    track_id = tkhd.u32()
    tkhd.skip(4 + (8 if version == 1 else 4) + 52)  # reserved, duration, reserved, layer ... matrix
    declared = tkhd.u32() >> 16, tkhd.u32() >> 16  # 16.16 fixed point
    mdia = list(children(data, single(boxes, b"mdia", required=True), work, full=False))
    hdlr = Reader(data, *single(mdia, b"hdlr", required=True)[1:], "hdlr box")
    handler = data[hdlr.skip(12) + 8 : hdlr.pos]  # after version, flags and pre_defined
    minf = list(children(data, single(mdia, b"minf", required=True), work, full=False))
    stbl = list(children(data, single(minf, b"stbl", required=True), work, full=False))
    _, start, end = single(stbl, b"stsd", required=True)
    entries = list(boxes_in(data, start + 8, end, work))  # after version, flags and entry_count
    if not entries:
        raise ValueError(f"track {track_id} has no sample description")
    return Track(track_id, fourcc(handler), declared, entries[0], _track_samples(data, stbl, work))


def _track_samples(data: bytes, stbl: list, work: WorkCap) -> list[bytes]:
    """Every sample of a track, located by its sample table (sizes, chunk offsets, and which
    samples each chunk holds)."""
    stsz = Reader(data, *single(stbl, b"stsz", required=True)[1:], "stsz box")
    stsz.skip(4)
    uniform, count = stsz.u32(), stsz.u32()
    work.step(count)
    sizes = [uniform] * count if uniform else [stsz.u32() for _ in range(count)]
    stsc = Reader(data, *single(stbl, b"stsc", required=True)[1:], "stsc box")
    stsc.skip(4)
    runs = []
    for _ in range(stsc.u32()):
        work.step()
        first_chunk, per_chunk = stsc.u32(), stsc.u32()
        stsc.skip(4)  # sample_description_index
        if first_chunk < 1 or (runs and first_chunk <= runs[-1][0]):
            raise ValueError("stsc box has chunks out of order")
        runs.append((first_chunk, per_chunk))
    offsets_box = single(stbl, b"stco") or single(stbl, b"co64")
    if offsets_box is None:
        raise ValueError("track has no chunk offsets (stco or co64)")
    chunks = Reader(data, *offsets_box[1:], "chunk offsets")
    chunks.skip(4)
    chunk_count = chunks.u32()
    work.step(chunk_count)
    offsets = [chunks.uint(8 if offsets_box[0] == b"co64" else 4) for _ in range(chunk_count)]
    samples: list[bytes] = []
    for run, (first_chunk, per_chunk) in enumerate(runs):
        next_chunk = runs[run + 1][0] if run + 1 < len(runs) else len(offsets) + 1
        for offset in offsets[first_chunk - 1 : next_chunk - 1]:
            for _ in range(min(per_chunk, count - len(samples))):
                size = sizes[len(samples)]
                if offset + size > len(data):
                    raise ValueError("a track sample lies beyond the end of the file")
                work.copy(size)
                samples.append(data[offset : offset + size])
                offset += size
    return samples
