"""What an image will really cost to decode, read from its bytes before any decoder runs.

Headers lie, and the decoder believes the codec, not the container. Attacks measured on this
pipeline: an AVIF whose `ispe` box declares 1000x1000 over an AV1 frame of 16384x16384 (Pillow
reports 1000x1000, libavif decodes the frame: 1 GB); a HEIF whose primary image is 64x64 beside
a 16384x16384 top-level image; a progressive JPEG whose last scan is repeated 2000 times (each
scan walks the whole coefficient buffer again: 60+ s of CPU).

So this module reads, with the standard library only (no Pillow: nothing is decoded):
- JPEG: the primary image's frame header, sampling factors and number of scans (`jpeg_structure`);
- HEIF and AVIF (both ISOBMFF): every image item and image sequence track, the size its
  container declares and the size its codec's own headers give: AV1 sequence and frame headers,
  the HEVC SPS, a grid's output (`heif_structure`, `avif_frame_size`, `heif_primary_size`);
- WebP: the canvas its decoder allocates (`webp_canvas_size`).

Hostile bytes are expected: work is linear in the input, every loop is capped (markers, boxes,
items, samples, OBUs, NAL units) and nothing recurses on the file's structure. Malformed input
raises ValueError, never another exception; the caller turns it into a typed refusal.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from functools import cached_property

Size = tuple[int, int]

# -- JPEG ---------------------------------------------------------------------------------------

# Frame (SOF) markers per ITU-T T.81 B.1.1.3; libjpeg-turbo decodes most of them and refuses
# the hierarchical ones (0xC5-0xC7, 0xCD-0xCF).
_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_SOI, _EOI, _SOS = 0xD8, 0xD9, 0xDA
# The next marker between segments: like libjpeg, skip stray bytes, 0xFF fill and 0xFF00.
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xff]")
# The marker that ends a scan's entropy-coded data: 0xFF00 (a stuffed 0xFF) and RST0-RST7 are
# part of the scan. A regex, not a loop per byte: data made of 0xFF00 pairs stays fast.
_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
# Real files have tens of markers; a file of millions of tiny segments is a CPU bomb of its own.
_MAX_JPEG_MARKERS = 100_000


@dataclass(frozen=True)
class JpegStructure:
    """The primary image of a JPEG (from SOI to its first EOI; an MPO's later pictures and an
    EXIF thumbnail, which lives inside APP1, are not counted)."""

    sof: int  # the frame marker: 0xC0 baseline, 0xC1 extended, 0xC2 progressive, 0xC3 lossless, 0xC9+ arithmetic
    precision: int  # bits per sample
    width: int
    height: int
    sampling: tuple[Size, ...]  # (horizontal, vertical) sampling factor of each component
    scans: int  # SOS markers: a decoder makes one pass per scan
    complete: bool  # False when the data ends before the image's EOI (a truncated file)

    @property
    def components(self) -> int:
        return len(self.sampling)

    @property
    def progressive(self) -> bool:
        return self.sof in (0xC2, 0xC6, 0xCA, 0xCE)

    @property
    def arithmetic(self) -> bool:
        return self.sof >= 0xC9

    @property
    def lossless(self) -> bool:
        return self.sof in (0xC3, 0xC7, 0xCB, 0xCF)

    @property
    def hierarchical(self) -> bool:
        return self.sof in (0xC5, 0xC6, 0xC7, 0xCD, 0xCE, 0xCF)

    @property
    def max_h(self) -> int:
        return max(h for h, _ in self.sampling)

    @property
    def max_v(self) -> int:
        return max(v for _, v in self.sampling)

    @property
    def coefficient_bytes(self) -> int:
        """Bytes of the whole-image coefficient arrays libjpeg allocates when the image has more
        than one scan (always so when progressive): per component, its blocks rounded up to its
        sampling factors (jdcoefct.c), 64 coefficients of 2 bytes each, whatever the DCT scaling."""
        blocks = 0
        for h, v in self.sampling:
            wide = _ceil_div(self.width * h, self.max_h * 8)
            high = _ceil_div(self.height * v, self.max_v * 8)
            blocks += _ceil_div(wide, h) * h * _ceil_div(high, v) * v
        return blocks * 64 * 2


def jpeg_structure(data: bytes) -> JpegStructure:
    """The structure of the JPEG's primary image, walked marker by marker in O(len(data)).

    Truncated data returns what was found with `complete=False` (as long as the frame header was
    read). Raises ValueError for what libjpeg refuses too: no SOI at the start, no frame header,
    a scan before it, a second one, bad segment lengths, empty frames, sampling factors out of
    1..4; and for more than 100,000 markers.
    """
    if data[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG: it does not start with an SOI marker")
    image = _JpegImage()
    pos = 2
    for _ in range(_MAX_JPEG_MARKERS):
        found = _NEXT_MARKER.search(data, pos)
        if found is None:
            break
        marker = data[found.start() + 1]
        pos = found.end()
        if marker == _EOI:
            return image.structure(complete=True)
        if marker == _SOI:
            raise ValueError("JPEG has a second SOI marker before its EOI")
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            continue  # RSTn and TEM stand alone: no length follows
        end = _jpeg_segment_end(data, pos, marker)
        if end is None:
            break
        pos = image.segment(marker, data, pos, end)
    else:
        raise ValueError(f"JPEG has more than {_MAX_JPEG_MARKERS} markers")
    return image.structure(complete=False)


def _jpeg_segment_end(data: bytes, pos: int, marker: int) -> int | None:
    """The end of the marker segment whose length field starts at `pos` (T.81 B.1.1.4); None when
    the data ends before it does."""
    if pos + 2 > len(data):
        return None
    end = pos + int.from_bytes(data[pos : pos + 2], "big")
    if end < pos + 2:
        raise ValueError(f"JPEG marker 0x{marker:02X} has a length below 2")
    return end if end <= len(data) else None


@dataclass
class _JpegImage:
    """What the marker walk has read so far of the primary image: its frame header and scans."""

    frame: tuple[int, int, int, int, tuple[Size, ...]] | None = None
    scans: int = 0

    def segment(self, marker: int, data: bytes, pos: int, end: int) -> int:
        """Reads the segment at data[pos:end] (from its length field): a frame header (SOF), a scan
        header (SOS) followed by its entropy-coded data, or one to skip. Returns where the search
        for the next marker starts."""
        if marker in _SOF_MARKERS:
            if self.frame is not None:
                raise ValueError("JPEG has a second frame header (SOF) in one image")
            self.frame = _jpeg_frame(marker, data[pos + 2 : end])
        elif marker == _SOS:
            if self.frame is None:
                raise ValueError("JPEG has a scan (SOS) before its frame header (SOF)")
            _jpeg_scan_header(data[pos + 2 : end])
            self.scans += 1
            scan_end = _SCAN_END.search(data, end)
            return scan_end.start() if scan_end else len(data)
        return end

    def structure(self, complete: bool) -> JpegStructure:
        if self.frame is None:
            raise ValueError("JPEG has no frame header (SOF) before " + ("its EOI" if complete else "the data ends"))
        sof, precision, width, height, sampling = self.frame
        return JpegStructure(sof, precision, width, height, sampling, self.scans, complete)


def _jpeg_frame(marker: int, body: bytes) -> tuple[int, int, int, int, tuple[Size, ...]]:
    """A frame header (T.81 B.2.2): (marker, precision, width, height, sampling factors)."""
    if len(body) < 6 or len(body) != 6 + 3 * body[5]:
        raise ValueError("JPEG frame header (SOF) has a bad length")
    precision, count = body[0], body[5]
    height, width = int.from_bytes(body[1:3], "big"), int.from_bytes(body[3:5], "big")
    if not (width and height and count):
        raise ValueError(f"JPEG frame is empty: {width}x{height}, {count} components")
    sampling = tuple((body[7 + 3 * i] >> 4, body[7 + 3 * i] & 15) for i in range(count))
    if any(not (1 <= h <= 4 and 1 <= v <= 4) for h, v in sampling):
        raise ValueError(f"JPEG sampling factors out of range: {sampling}")
    return marker, precision, width, height, sampling


def _jpeg_scan_header(body: bytes) -> None:
    """Checks a scan header (T.81 B.2.3): 1 to 4 components, 2 bytes each, then 3 bytes."""
    count = body[0] if body else 0
    if len(body) != 4 + 2 * count or not 1 <= count <= 4:
        raise ValueError("JPEG scan header (SOS) has a bad length or component count")


# -- WebP ---------------------------------------------------------------------------------------


def webp_canvas_size(data: bytes) -> Size | None:
    """The canvas a WebP decoder allocates as the file is opened: the VP8X canvas of an extended
    (animated, alpha, metadata) file, else the frame size of a simple lossy or lossless one.
    None when the data is not a WebP or its first chunk cannot be read (the decoder refuses it)."""
    if len(data) < 30 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    chunk, body = data[12:16], data[20:30]
    if chunk == b"VP8X":
        return int.from_bytes(body[4:7], "little") + 1, int.from_bytes(body[7:10], "little") + 1
    if chunk == b"VP8 " and body[3:6] == b"\x9d\x01\x2a":
        return int.from_bytes(body[6:8], "little") & 0x3FFF, int.from_bytes(body[8:10], "little") & 0x3FFF
    if chunk == b"VP8L" and body[0] == 0x2F:
        bits = int.from_bytes(body[1:5], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


# -- HEIF and AVIF (ISOBMFF) --------------------------------------------------------------------

_MAX_ITEMS = 10_000
# Boxes, references, extents, samples, OBUs and NAL units one probe may visit: real files need
# hundreds (an iPhone photo: ~50 tiles; an animation: a few per frame); each costs microseconds.
_MAX_STEPS = 200_000
# The codec configuration box of each coded image type, in an item's properties or a sample entry.
_CONFIG_BOX = {b"av01": b"av1C", b"hvc1": b"hvcC"}
# Item types that are images; an item of another type counts as one when it has an `ispe`.
_IMAGE_TYPES = frozenset(
    {b"av01", b"hvc1", b"grid", b"iovl", b"iden", b"jpeg", b"avc1", b"vvc1", b"j2k1", b"unci", b"tmap", b"evc1"}
)


@dataclass(frozen=True)
class HeifItem:
    """One image item of a HEIF or AVIF file."""

    item_id: int
    item_type: str  # "av01" (AV1), "hvc1" (HEVC), "grid", "iovl" (overlay), "iden" (identity), ...
    role: str  # "image" (top level), "thumbnail", "auxiliary" (alpha, depth, gain map) or "input" (e.g. a grid tile)
    hidden: bool  # flagged not to be shown on its own
    ispe: Size | None  # the size the container declares: what Pillow reports
    # The size the codec's own headers give: for AV1 the largest of the sequence headers' maximum
    # frame and of the frame headers' sizes, for HEVC the largest SPS picture, for a grid or an
    # overlay its output size; None where unknown (other codecs, `iden`, no headers found).
    coded: Size | None
    inputs: tuple[int, ...] = ()  # the items it is derived from ('dimg'): a grid's tiles, in order
    master: int | None = None  # the image a thumbnail or auxiliary image belongs to
    aux_type: str | None = None  # e.g. "urn:mpeg:mpegB:cicp:systems:auxiliary:alpha"


@dataclass(frozen=True)
class HeifTrack:
    """A track of an image sequence (an animated AVIF): libavif decodes its samples instead of
    the primary item when the major brand is 'avis', or neither 'avif' nor 'avis'."""

    track_id: int
    handler: str  # "pict" (image sequence), "vide", "auxv" (alpha)...
    sample_type: str  # "av01", "hvc1", ...
    declared: Size  # the track header's width and height: what Pillow reports
    samples: int
    coded: Size | None  # as HeifItem.coded, over every sample; None for other codecs


@dataclass(frozen=True)
class HeifStructure:
    """The image items of a HEIF or AVIF file, which is primary, and its image sequence tracks."""

    major_brand: str
    compatible_brands: tuple[str, ...]
    primary_id: int
    items: tuple[HeifItem, ...]  # every image item, in the file's order
    tracks: tuple[HeifTrack, ...] = ()

    @cached_property
    def _by_id(self) -> dict[int, HeifItem]:
        return {item.item_id: item for item in self.items}

    @cached_property
    def _auxiliaries(self) -> dict[int, list[HeifItem]]:
        found: dict[int, list[HeifItem]] = {}
        for item in self.items:
            if item.role == "auxiliary" and item.master is not None:
                found.setdefault(item.master, []).append(item)
        return found

    def item(self, item_id: int) -> HeifItem | None:
        return self._by_id.get(item_id)

    @property
    def primary(self) -> HeifItem:
        return self._by_id[self.primary_id]

    @property
    def top_level(self) -> tuple[HeifItem, ...]:
        """The images a reader lists (libheif's top-level images; hidden ones are included, see
        `hidden`): neither thumbnails, auxiliary images nor inputs of derived images."""
        return tuple(item for item in self.items if item.role == "image")

    def decoded_with(self, item: HeifItem) -> tuple[HeifItem, ...]:
        """The item and what decoding it decodes too: its inputs (grid tiles...) and auxiliary
        images (alpha...), theirs in turn."""
        seen, order, queue = {item.item_id}, [item], deque([item])
        while queue:
            current = queue.popleft()
            linked = [self._by_id.get(i) for i in current.inputs] + self._auxiliaries.get(current.item_id, [])
            for other in linked:
                if other is not None and other.item_id not in seen:
                    seen.add(other.item_id)
                    order.append(other)
                    queue.append(other)
        return tuple(order)

    def frame_size(self, item: HeifItem) -> Size | None:
        """The largest width and height the codec headers give for the item and everything
        decoded with it (a grid's output and its tiles, alpha); None if none are known."""
        return _largest(other.coded for other in self.decoded_with(item))

    def decode_size(self, item: HeifItem) -> Size | None:
        """The size to budget decoding the item for: `frame_size` and the declared sizes alike."""
        return _largest(size for other in self.decoded_with(item) for size in (other.coded, other.ispe))


def heif_structure(data: bytes) -> HeifStructure:
    """Every image item of a HEIF/AVIF file (HEIC, AVIF, or any other codec in HEIF), with its
    declared and coded sizes, and its image sequence tracks. Raises ValueError when the file is
    not ISOBMFF, its boxes overrun, it has no meta box or primary image, an image's data lies
    outside the file, or it is too complex to walk (over 10,000 items, or 200,000 boxes,
    references, extents, samples, OBUs and NAL units together)."""
    if data[4:8] != b"ftyp":
        raise ValueError("not an ISOBMFF file: it does not start with an ftyp box")
    budget = _Budget(len(data))
    top = list(_boxes(data, 0, len(data), budget))
    _, start, end = top[0]
    if end - start < 8:
        raise ValueError("ftyp box is too short")
    brands = tuple(_fourcc(data[i : i + 4]) for i in range(start + 8, end - 3, 4))
    metas = [box for box in top if box[0] == b"meta"]
    if len(metas) != 1:
        raise ValueError(f"HEIF file has {len(metas)} top-level meta boxes; one is required")
    meta = _parse_meta(data, metas[0], budget)
    moov = _single(top, b"moov")
    tracks = (
        []
        if moov is None
        else [
            _parse_track(data, trak, budget) for trak in _children(data, moov, budget, full=False) if trak[0] == b"trak"
        ]
    )
    return HeifStructure(
        _fourcc(data[start : start + 4]), brands, meta.primary, meta.image_items(data, budget), tuple(tracks)
    )


def heif_primary_size(data: bytes) -> Size | None:
    """The size a HEIF or AVIF file's image decodes to, from its codec's headers (HEVC SPS, AV1
    sequence and frame headers, grid output and tiles, alpha): the largest width and height of
    the primary's `frame_size` and of the frames of any image sequence track (which libavif may
    decode instead). None when those headers are missing (the decoder then fails). Raises
    ValueError like `heif_structure`."""
    structure = heif_structure(data)
    return _largest([structure.frame_size(structure.primary), *(track.coded for track in structure.tracks)])


def avif_frame_size(data: bytes) -> Size | None:
    """The size an AVIF's image decodes to, from its AV1 headers: of the primary item, the larger
    of the sequence header in its `av1C` property and those in its data, and of any frame header
    that overrides the size (dav1d does not hold frames to the sequence's maximum); for a grid,
    its output size and its tiles' frames; alpha; and the same over an animated AVIF's tracks.
    Same as `heif_primary_size`."""
    return heif_primary_size(data)


class _Budget:
    """Caps one probe's work on hostile input: structures visited and bytes copied (an item's
    extents, or a track's samples, may all point at the same large range)."""

    def __init__(self, data_length: int):
        self._steps = _MAX_STEPS
        self._bytes = 2 * data_length + (1 << 16)

    def step(self, count: int = 1) -> None:
        self._steps -= count
        if self._steps < 0:
            raise ValueError(f"the file has more than {_MAX_STEPS} boxes, references, extents, samples and codec units")

    def copy(self, count: int) -> None:
        self._bytes -= count
        if self._bytes < 0:
            raise ValueError("items' or samples' data overlap: more is referenced than the file holds")


class _Reader:
    """Big-endian fields of data[pos:end]; reading past `end` is a ValueError naming `what`."""

    def __init__(self, data: bytes, pos: int, end: int, what: str):
        self.data, self.pos, self.end, self.what = data, pos, end, what

    def skip(self, count: int) -> int:
        start = self.pos
        if count < 0 or start + count > self.end:
            raise ValueError(f"{self.what} is truncated")
        self.pos += count
        return start

    def uint(self, size: int) -> int:
        start = self.skip(size)
        return int.from_bytes(self.data[start : start + size], "big")

    def u8(self) -> int:
        return self.uint(1)

    def u16(self) -> int:
        return self.uint(2)

    def u32(self) -> int:
        return self.uint(4)

    def cstring(self) -> str:
        nul = self.data.find(b"\0", self.pos, self.end)
        if nul < 0:
            raise ValueError(f"{self.what}: a string has no terminating NUL")
        text = self.data[self.pos : nul].decode("utf-8", "replace")
        self.pos = nul + 1
        return text


def _boxes(data: bytes, start: int, end: int, budget: _Budget):
    """(type, payload start, payload end) of each box in data[start:end]."""
    pos = start
    while pos < end:
        budget.step()
        box = _Reader(data, pos, end, "box header")
        size, kind = box.u32(), data[box.skip(4) : box.pos]
        if size == 1:
            size = box.uint(8)
        elif size == 0:
            size = end - pos  # to the end of the enclosing box (or file)
        if kind == b"uuid":
            box.skip(16)
        if size < box.pos - pos or pos + size > end:
            raise ValueError(f"box {_fourcc(kind)!r} at offset {pos} overruns its container")
        yield kind, box.pos, pos + size
        pos += size


def _children(data: bytes, box: tuple[bytes, int, int], budget: _Budget, full: bool = True):
    """The boxes inside `box`, after its version and flags when it is a FullBox."""
    kind, start, end = box
    if full and end - start < 4:
        raise ValueError(f"{_fourcc(kind)} box is truncated")
    return _boxes(data, start + 4 if full else start, end, budget)


def _single(boxes: list, kind: bytes, required: bool = False):
    found = [box for box in boxes if box[0] == kind]
    if len(found) > 1:
        raise ValueError(f"{len(found)} {_fourcc(kind)} boxes where at most one is allowed")
    if required and not found:
        raise ValueError(f"HEIF file has no {_fourcc(kind)} box")
    return found[0] if found else None


@dataclass
class _Location:
    method: int  # 0: file offsets, 1: offsets into idat, 2: into another item
    reference: int  # 0: this file
    base: int
    extents: list[tuple[int, int]]  # (offset, length); a length of 0 runs to the end


class _Meta:
    """The item-level content of the meta box."""

    def __init__(self):
        self.primary = 0
        self.types: dict[int, tuple[bytes, bool]] = {}  # item id -> (type, hidden)
        self.locations: dict[int, _Location] = {}
        self.properties: list[tuple[bytes, int, int]] = []
        self.associations: dict[int, list[int]] = {}  # item id -> 0-based property indices
        self.references: list[tuple[bytes, int, list[int]]] = []  # (type, from, to)
        self.idat: tuple[int, int] | None = None

    def item_properties(self, item_id: int, kind: bytes) -> list[tuple[int, int]]:
        return [self.properties[i][1:] for i in self.associations.get(item_id, ()) if self.properties[i][0] == kind]

    def item_data(self, data: bytes, item_id: int, budget: _Budget) -> bytes | None:
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
            budget.copy(stop - start)
            parts.append(data[start:stop])
        return b"".join(parts)

    def image_items(self, data: bytes, budget: _Budget) -> tuple[HeifItem, ...]:
        images = {
            item_id: kind
            for item_id, (kind, _) in self.types.items()
            if kind in _IMAGE_TYPES or self.item_properties(item_id, b"ispe")
        }
        if self.primary not in images:
            raise ValueError(f"the primary item {self.primary} is not an image item")
        inputs: dict[int, list[int]] = {}
        role: dict[int, str] = {}
        master: dict[int, int] = {}
        for kind, source, targets in self.references:
            if kind == b"dimg":
                inputs.setdefault(source, []).extend(targets)
                for target in targets:
                    role.setdefault(target, "input")
            elif kind in (b"thmb", b"auxl") and targets:
                role[source] = "thumbnail" if kind == b"thmb" else "auxiliary"
                master[source] = targets[0]
        items = []
        for item_id, kind in images.items():
            ispe = self.item_properties(item_id, b"ispe")
            aux = self.item_properties(item_id, b"auxC")
            items.append(
                HeifItem(
                    item_id=item_id,
                    item_type=_fourcc(kind),
                    role=role.get(item_id, "image"),
                    hidden=self.types[item_id][1],
                    ispe=_ispe(data, ispe[0]) if ispe else None,
                    coded=self._coded_size(data, item_id, kind, budget),
                    inputs=tuple(inputs.get(item_id, ())),
                    master=master.get(item_id),
                    aux_type=_Reader(data, aux[0][0] + 4, aux[0][1], "auxC box").cstring() if aux else None,
                )
            )
        return tuple(items)

    def _coded_size(self, data: bytes, item_id: int, kind: bytes, budget: _Budget) -> Size | None:
        if kind in _CONFIG_BOX:
            configs = [data[start:end] for start, end in self.item_properties(item_id, _CONFIG_BOX[kind])]
            body = self.item_data(data, item_id, budget)
            return _codec_size(kind, configs, [] if body is None else [body], budget)
        if kind in (b"grid", b"iovl"):
            body = self.item_data(data, item_id, budget)
            return None if body is None else _derived_output_size(kind, body)
        return None


def _parse_meta(data: bytes, meta_box: tuple[bytes, int, int], budget: _Budget) -> _Meta:
    boxes = list(_children(data, meta_box, budget))
    meta = _Meta()
    pitm = _Reader(data, *_single(boxes, b"pitm", required=True)[1:], "pitm box")
    version = pitm.u8()
    pitm.skip(3)
    meta.primary = pitm.u16() if version == 0 else pitm.u32()
    _parse_iinf(data, _single(boxes, b"iinf", required=True), meta, budget)
    iloc = _single(boxes, b"iloc")
    if iloc:
        _parse_iloc(data, iloc, meta, budget)
    iprp = _single(boxes, b"iprp")
    if iprp:
        _parse_iprp(data, iprp, meta, budget)
    iref = _single(boxes, b"iref")
    if iref:
        _parse_iref(data, iref, meta, budget)
    idat = _single(boxes, b"idat")
    meta.idat = idat[1:] if idat else None
    return meta


def _parse_iinf(data: bytes, box: tuple[bytes, int, int], meta: _Meta, budget: _Budget) -> None:
    _, start, end = box
    version = _Reader(data, start, end, "iinf box").u8()
    entries = start + 4 + (2 if version == 0 else 4)
    for kind, entry_start, entry_end in _boxes(data, entries, end, budget):
        if kind != b"infe":
            continue
        if len(meta.types) >= _MAX_ITEMS:
            raise ValueError(f"HEIF file has more than {_MAX_ITEMS} items")
        infe = _Reader(data, entry_start, entry_end, "infe box")
        version, flags = infe.u8(), infe.uint(3)
        if version < 2:
            continue  # infe versions 0 and 1 carry no item type: not an image item
        item_id = infe.u16() if version == 2 else infe.u32()
        infe.skip(2)  # item_protection_index
        kind = data[infe.skip(4) : infe.pos]
        if item_id in meta.types:
            raise ValueError(f"item {item_id} is declared twice")
        meta.types[item_id] = (kind, bool(flags & 1))


def _parse_iloc(data: bytes, box: tuple[bytes, int, int], meta: _Meta, budget: _Budget) -> None:
    iloc = _Reader(data, box[1], box[2], "iloc box")
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
        budget.step(extent_count + 1)
        extents = []
        for _ in range(extent_count):
            iloc.skip(index_size)
            extents.append((iloc.uint(offset_size), iloc.uint(length_size)))
        if item_id in meta.locations:
            raise ValueError(f"item {item_id} is located twice")
        meta.locations[item_id] = _Location(method, reference, base, extents)


def _parse_iprp(data: bytes, box: tuple[bytes, int, int], meta: _Meta, budget: _Budget) -> None:
    boxes = list(_children(data, box, budget, full=False))
    ipco = _single(boxes, b"ipco")
    if ipco:
        meta.properties = list(_children(data, ipco, budget, full=False))
    for _, start, end in (b for b in boxes if b[0] == b"ipma"):
        ipma = _Reader(data, start, end, "ipma box")
        version, flags, count = ipma.u8(), ipma.uint(3), ipma.u32()
        if count > _MAX_ITEMS:
            raise ValueError(f"ipma box lists {count} items; the limit is {_MAX_ITEMS}")
        for _ in range(count):
            item_id = ipma.u16() if version < 1 else ipma.u32()
            associations = ipma.u8()
            budget.step(associations + 1)
            indices = meta.associations.setdefault(item_id, [])
            for _ in range(associations):
                index = ipma.u16() & 0x7FFF if flags & 1 else ipma.u8() & 0x7F  # the top bit: essential
                if index > len(meta.properties):
                    raise ValueError(f"item {item_id} is associated with property {index}, which does not exist")
                if index:
                    indices.append(index - 1)


def _parse_iref(data: bytes, box: tuple[bytes, int, int], meta: _Meta, budget: _Budget) -> None:
    version = _Reader(data, box[1], box[2], "iref box").u8()
    read_id = _Reader.u16 if version == 0 else _Reader.u32
    for kind, start, end in _children(data, box, budget):
        reference = _Reader(data, start, end, f"{_fourcc(kind)} reference")
        source, count = read_id(reference), reference.u16()
        budget.step(count)
        meta.references.append((kind, source, [read_id(reference) for _ in range(count)]))


def _parse_track(data: bytes, trak: tuple[bytes, int, int], budget: _Budget) -> HeifTrack:
    """A trak box: its header, handler, first sample description and every sample's codec headers."""
    boxes = list(_children(data, trak, budget, full=False))
    tkhd = _Reader(data, *_single(boxes, b"tkhd", required=True)[1:], "tkhd box")
    version = tkhd.u8()
    tkhd.skip(3 + (16 if version == 1 else 8))  # flags, creation and modification times
    track_id = tkhd.u32()
    tkhd.skip(4 + (8 if version == 1 else 4) + 52)  # reserved, duration, reserved, layer ... matrix
    declared = tkhd.u32() >> 16, tkhd.u32() >> 16  # 16.16 fixed point
    mdia = list(_children(data, _single(boxes, b"mdia", required=True), budget, full=False))
    hdlr = _Reader(data, *_single(mdia, b"hdlr", required=True)[1:], "hdlr box")
    handler = data[hdlr.skip(12) + 8 : hdlr.pos]  # after version, flags and pre_defined
    minf = list(_children(data, _single(mdia, b"minf", required=True), budget, full=False))
    stbl = list(_children(data, _single(minf, b"stbl", required=True), budget, full=False))
    _, start, end = _single(stbl, b"stsd", required=True)
    entries = list(_boxes(data, start + 8, end, budget))  # after version, flags and entry_count
    if not entries:
        raise ValueError(f"track {track_id} has no sample description")
    kind, entry_start, entry_end = entries[0]
    samples = _track_samples(data, stbl, budget)
    coded = None
    if kind in _CONFIG_BOX:
        # A VisualSampleEntry's fields take 78 bytes; its boxes (the codec configuration) follow.
        configs = [data[s:e] for k, s, e in _boxes(data, entry_start + 78, entry_end, budget) if k == _CONFIG_BOX[kind]]
        coded = _codec_size(kind, configs, samples, budget)
    return HeifTrack(track_id, _fourcc(handler), _fourcc(kind), declared, len(samples), coded)


def _track_samples(data: bytes, stbl: list, budget: _Budget) -> list[bytes]:
    """Every sample of a track, located by its sample table (sizes, chunk offsets, and which
    samples each chunk holds)."""
    stsz = _Reader(data, *_single(stbl, b"stsz", required=True)[1:], "stsz box")
    stsz.skip(4)
    uniform, count = stsz.u32(), stsz.u32()
    budget.step(count)
    sizes = [uniform] * count if uniform else [stsz.u32() for _ in range(count)]
    stsc = _Reader(data, *_single(stbl, b"stsc", required=True)[1:], "stsc box")
    stsc.skip(4)
    runs = []
    for _ in range(stsc.u32()):
        budget.step()
        first_chunk, per_chunk = stsc.u32(), stsc.u32()
        stsc.skip(4)  # sample_description_index
        if first_chunk < 1 or (runs and first_chunk <= runs[-1][0]):
            raise ValueError("stsc box has chunks out of order")
        runs.append((first_chunk, per_chunk))
    offsets_box = _single(stbl, b"stco") or _single(stbl, b"co64")
    if offsets_box is None:
        raise ValueError("track has no chunk offsets (stco or co64)")
    chunks = _Reader(data, *offsets_box[1:], "chunk offsets")
    chunks.skip(4)
    chunk_count = chunks.u32()
    budget.step(chunk_count)
    offsets = [chunks.uint(8 if offsets_box[0] == b"co64" else 4) for _ in range(chunk_count)]
    samples: list[bytes] = []
    for run, (first_chunk, per_chunk) in enumerate(runs):
        next_chunk = runs[run + 1][0] if run + 1 < len(runs) else len(offsets) + 1
        for offset in offsets[first_chunk - 1 : next_chunk - 1]:
            for _ in range(min(per_chunk, count - len(samples))):
                size = sizes[len(samples)]
                if offset + size > len(data):
                    raise ValueError("a track sample lies beyond the end of the file")
                budget.copy(size)
                samples.append(data[offset : offset + size])
                offset += size
    return samples


def _ispe(data: bytes, where: tuple[int, int]) -> Size:
    ispe = _Reader(data, where[0], where[1], "ispe box")
    ispe.skip(4)
    return ispe.u32(), ispe.u32()


def _derived_output_size(kind: bytes, body: bytes) -> Size:
    """The output size in a grid's (ImageGrid) or overlay's (ImageOverlay) item data."""
    derived = _Reader(body, 0, len(body), f"{_fourcc(kind)} item data")
    if derived.u8() != 0:
        raise ValueError(f"{_fourcc(kind)} item data has an unknown version")
    wide = derived.u8() & 1  # 32-bit output sizes
    derived.skip(2 if kind == b"grid" else 8)  # rows and columns minus one; or the canvas fill colour
    return (derived.u32(), derived.u32()) if wide else (derived.u16(), derived.u16())


def _codec_size(kind: bytes, configs: list[bytes], samples: list[bytes], budget: _Budget) -> Size | None:
    """The largest frame of an AV1 or HEVC image or sequence, from its configuration boxes'
    payloads and its samples (an item's data is one sample)."""
    if kind == b"av01":
        return _av1_size([config[4:] for config in configs], samples, budget)  # configOBUs follow 4 bytes of fields
    return _hevc_size(configs, samples, budget)


# -- AV1 (AV1 spec, 5.3 OBU header, 5.5 sequence header, 5.9 frame header) -----------------------

_OBU_SEQUENCE_HEADER, _OBU_FRAME_HEADER, _OBU_FRAME = 1, 3, 6
_KEY_FRAME, _INTRA_ONLY_FRAME, _SWITCH_FRAME = 0, 2, 3
_SELECT = 2  # SELECT_SCREEN_CONTENT_TOOLS, SELECT_INTEGER_MV
# Fields read from the front of a header: a sequence header reaches its frame size within ~400
# bytes (32 operating points at most), a frame header within ~100.
_HEADER_BYTES = 1024


@dataclass
class _Av1Sequence:
    reduced: bool = True  # reduced_still_picture_header: one key frame of the maximum size
    width_bits: int = 0
    height_bits: int = 0
    max_width: int = 0
    max_height: int = 0
    equal_picture_interval: bool = False
    decoder_model: bool = False
    buffer_delay_bits: int = 0  # 0: no decoder model
    buffer_removal_bits: int = 0
    presentation_bits: int = 0
    operating_points: tuple[tuple[int, bool], ...] = ()  # (idc, decoder model present)
    frame_id_bits: int = 0  # 0: no frame ids
    delta_frame_id_bits: int = 0
    screen_content_tools: int = _SELECT
    integer_mv: int = _SELECT
    order_hint_bits: int = 0


def _av1_size(configs: list[bytes], samples: list[bytes], budget: _Budget) -> Size | None:
    """The largest frame: the sequence headers in the av1C configOBUs and in the samples, and
    the frame headers in the samples, which may override the size (each read with the sequence
    header before it in the samples; the decoder sees only the samples, not av1C)."""
    sizes = []
    for config in configs:
        for obu_type, _, _, payload in _obus(config, budget):
            if obu_type == _OBU_SEQUENCE_HEADER:
                sequence = _av1_sequence_header(payload)
                sizes.append((sequence.max_width, sequence.max_height))
    sequence = None
    for sample in samples:
        for obu_type, temporal_id, spatial_id, payload in _obus(sample, budget):
            if obu_type == _OBU_SEQUENCE_HEADER:
                sequence = _av1_sequence_header(payload)
                sizes.append((sequence.max_width, sequence.max_height))
            elif obu_type in (_OBU_FRAME_HEADER, _OBU_FRAME) and sequence is not None and not sequence.reduced:
                sizes.append(_av1_frame_size(sequence, payload, temporal_id, spatial_id))
    return _largest(sizes)


def _obus(data: bytes, budget: _Budget):
    """(obu_type, temporal_id, spatial_id, payload) of each OBU, its payload cut to its first
    _HEADER_BYTES (all a header parse needs)."""
    pos, end = 0, len(data)
    while pos < end:
        budget.step()
        header = data[pos]
        if header & 0x80:
            raise ValueError("AV1 OBU has its forbidden bit set")
        pos += 1
        temporal_id = spatial_id = 0
        if header & 0x04:  # obu_extension_flag
            if pos >= end:
                raise ValueError("AV1 OBU extension header is truncated")
            temporal_id, spatial_id = data[pos] >> 5, (data[pos] >> 3) & 3
            pos += 1
        size = end - pos
        if header & 0x02:  # obu_has_size_field
            size, pos = _leb128(data, pos, end)
        if pos + size > end:
            raise ValueError("AV1 OBU overruns its data")
        yield (header >> 3) & 15, temporal_id, spatial_id, data[pos : pos + min(size, _HEADER_BYTES)]
        pos += size


def _leb128(data: bytes, pos: int, end: int) -> tuple[int, int]:
    value = 0
    for i in range(8):
        if pos >= end:
            raise ValueError("AV1 OBU size is truncated")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value, pos
    raise ValueError("AV1 OBU size is longer than 8 bytes")


def _av1_sequence_header(payload: bytes) -> _Av1Sequence:
    """sequence_header_obu() (5.5.1) up to the fields a frame header depends on."""
    bits = _Bits(payload, "AV1 sequence header")
    profile = bits.u(3)
    if profile > 2:
        raise ValueError(f"AV1 sequence header has an unknown profile {profile}")
    bits.u(1)  # still_picture
    seq = _Av1Sequence(reduced=bool(bits.u(1)))
    if seq.reduced:
        bits.u(5)  # seq_level_idx[0]
    else:
        if bits.u(1):  # timing_info_present_flag
            _av1_timing_info(bits, seq)
        seq.operating_points = _av1_operating_points(bits, seq)
    seq.width_bits, seq.height_bits = bits.u(4) + 1, bits.u(4) + 1
    seq.max_width, seq.max_height = bits.u(seq.width_bits) + 1, bits.u(seq.height_bits) + 1
    if seq.reduced:
        return seq  # the frame header of a reduced sequence cannot change the size
    _av1_coding_tools(bits, seq)
    return seq


def _av1_timing_info(bits: _Bits, seq: _Av1Sequence) -> None:
    """timing_info() (5.5.3), then decoder_model_info_present_flag and decoder_model_info() (5.5.4)."""
    bits.u(64)  # num_units_in_display_tick, time_scale
    seq.equal_picture_interval = bool(bits.u(1))
    if seq.equal_picture_interval:
        bits.exp_golomb()  # num_ticks_per_picture_minus_1: uvlc(), the same code
    seq.decoder_model = bool(bits.u(1))
    if seq.decoder_model:
        seq.buffer_delay_bits = bits.u(5) + 1
        bits.u(32)  # num_units_in_decoding_tick
        seq.buffer_removal_bits = bits.u(5) + 1
        seq.presentation_bits = bits.u(5) + 1


def _av1_operating_points(bits: _Bits, seq: _Av1Sequence) -> tuple[tuple[int, bool], ...]:
    """initial_display_delay_present_flag and each operating point: its idc, level and tier, its
    operating_parameters_info() (5.5.5) and initial display delay."""
    display_delay = bits.u(1)  # initial_display_delay_present_flag
    points = []
    for _ in range(bits.u(5) + 1):  # operating_points_cnt_minus_1
        idc, level = bits.u(12), bits.u(5)
        if level > 7:
            bits.u(1)  # seq_tier
        model = seq.decoder_model and bool(bits.u(1))  # decoder_model_present_for_this_op
        if model:
            bits.u(2 * seq.buffer_delay_bits + 1)  # decoder and encoder buffer delays, low_delay_mode_flag
        if display_delay and bits.u(1):
            bits.u(4)  # initial_display_delay_minus_1
        points.append((idc, model))
    return tuple(points)


def _av1_coding_tools(bits: _Bits, seq: _Av1Sequence) -> None:
    """After the frame size: frame id numbers, the enable_* tool flags, screen content tools,
    integer motion vectors and order hint bits (the rest of the header is not needed)."""
    if bits.u(1):  # frame_id_numbers_present_flag
        seq.delta_frame_id_bits = bits.u(4) + 2
        seq.frame_id_bits = bits.u(3) + 1 + seq.delta_frame_id_bits
    bits.u(3)  # use_128x128_superblock, enable_filter_intra, enable_intra_edge_filter
    bits.u(4)  # enable_interintra_compound, _masked_compound, _warped_motion, _dual_filter
    order_hint = bits.u(1)
    if order_hint:
        bits.u(2)  # enable_jnt_comp, enable_ref_frame_mvs
    seq.screen_content_tools = _SELECT if bits.u(1) else bits.u(1)
    if seq.screen_content_tools:
        seq.integer_mv = _SELECT if bits.u(1) else bits.u(1)
    if order_hint:
        seq.order_hint_bits = bits.u(3) + 1


def _av1_frame_size(seq: _Av1Sequence, payload: bytes, temporal_id: int, spatial_id: int) -> Size | None:
    """The frame size a frame header gives (uncompressed_header(), 5.9.2, up to frame_size());
    None when the frame shows or copies an earlier frame's size."""
    bits = _Bits(payload, "AV1 frame header")
    if bits.u(1):  # show_existing_frame
        return None
    frame_type, show_frame = bits.u(2), bits.u(1)
    intra = frame_type in (_KEY_FRAME, _INTRA_ONLY_FRAME)
    error_resilient, override = _av1_frame_flags(bits, seq, frame_type, show_frame)
    if seq.decoder_model and bits.u(1):  # buffer_removal_time_present_flag
        _av1_buffer_removal_times(bits, seq, temporal_id, spatial_id)
    all_frames = 0xFF
    refresh = all_frames if frame_type == _SWITCH_FRAME or (frame_type == _KEY_FRAME and show_frame) else bits.u(8)
    if (not intra or refresh != all_frames) and error_resilient and seq.order_hint_bits:
        bits.u(8 * seq.order_hint_bits)  # ref_order_hint[i]
    if not intra:
        _av1_frame_refs(bits, seq)
        if override and not error_resilient and _av1_found_ref(bits):
            return None  # the size of a reference frame, counted where that frame was
    if not override:
        return seq.max_width, seq.max_height
    return bits.u(seq.width_bits) + 1, bits.u(seq.height_bits) + 1


def _av1_frame_flags(bits: _Bits, seq: _Av1Sequence, frame_type: int, show_frame: int) -> tuple[bool, bool]:
    """From temporal_point_info() to primary_ref_frame: (error_resilient_mode, frame_size_override_flag)."""
    intra = frame_type in (_KEY_FRAME, _INTRA_ONLY_FRAME)
    if show_frame and seq.decoder_model and not seq.equal_picture_interval:
        bits.u(seq.presentation_bits)  # temporal_point_info
    if not show_frame:
        bits.u(1)  # showable_frame
    error_resilient = frame_type == _SWITCH_FRAME or (frame_type == _KEY_FRAME and show_frame) or bits.u(1)
    bits.u(1)  # disable_cdf_update
    screen_content = bits.u(1) if seq.screen_content_tools == _SELECT else seq.screen_content_tools
    if screen_content and seq.integer_mv == _SELECT:
        bits.u(1)  # force_integer_mv
    bits.u(seq.frame_id_bits)  # current_frame_id
    override = frame_type == _SWITCH_FRAME or bits.u(1)  # frame_size_override_flag
    bits.u(seq.order_hint_bits)  # order_hint
    if not (intra or error_resilient):
        bits.u(3)  # primary_ref_frame
    return bool(error_resilient), bool(override)


def _av1_buffer_removal_times(bits: _Bits, seq: _Av1Sequence, temporal_id: int, spatial_id: int) -> None:
    """buffer_removal_time of each operating point with a decoder model that contains the frame's layer."""
    for idc, model in seq.operating_points:
        in_layers = (idc >> temporal_id) & 1 and (idc >> (spatial_id + 8)) & 1
        if model and (idc == 0 or in_layers):
            bits.u(seq.buffer_removal_bits)


def _av1_frame_refs(bits: _Bits, seq: _Av1Sequence) -> None:
    """frame_refs_short_signaling, then ref_frame_idx[i] and delta_frame_id_minus_1 of the 7 references."""
    short_signaling = seq.order_hint_bits and bits.u(1)
    if short_signaling:
        bits.u(6)  # last_frame_idx, gold_frame_idx
    for _ in range(7):
        if not short_signaling:
            bits.u(3)  # ref_frame_idx[i]
        bits.u(seq.delta_frame_id_bits)  # delta_frame_id_minus_1


def _av1_found_ref(bits: _Bits) -> bool:
    """frame_size_with_refs() (5.9.7): whether one of the 7 references gives the frame's size."""
    return any(bits.u(1) for _ in range(7))  # found_ref, up to the first one set


# -- HEVC (ITU-T H.265: 7.3.1.2 NAL unit header, 7.3.2.2 SPS, 7.3.3 profile_tier_level) ----------

_HEVC_SPS = 33
# The SPS reaches the picture size within ~120 bytes (7 sub-layers of profile data at most).
_SPS_BYTES = 256


def _hevc_size(configs: list[bytes], samples: list[bytes], budget: _Budget) -> Size | None:
    """The largest picture: the SPS NAL units in the hvcC boxes and in the samples (libheif
    passes both to the decoder)."""
    sizes, length_size = [], None
    for config in configs:
        hvcc = _Reader(config, 0, len(config), "hvcC box")
        hvcc.skip(21)
        length_size = (hvcc.u8() & 3) + 1
        for _ in range(hvcc.u8()):  # arrays of NAL units by type
            hvcc.skip(1)
            count = hvcc.u16()
            budget.step(count + 1)
            for _ in range(count):
                size = hvcc.u16()
                nal = config[hvcc.skip(size) : hvcc.pos]
                sizes.append(_hevc_sps_size(nal))
    for sample in samples if length_size else ():  # without hvcC the NAL unit lengths are unknown
        units = _Reader(sample, 0, len(sample), "HEVC data")
        while units.pos < units.end:
            budget.step()
            size = units.uint(length_size)
            start = units.skip(size)
            sizes.append(_hevc_sps_size(sample[start : start + min(size, 2 + _SPS_BYTES)]))
    return _largest(sizes)


def _hevc_sps_size(nal: bytes) -> Size | None:
    """pic_width/height_in_luma_samples of an SPS of the base layer (the decoder drops other
    layers); None for any other NAL unit. The size before the conformance window's crop."""
    if len(nal) < 2 or (nal[0] >> 1) & 0x3F != _HEVC_SPS or (nal[0] & 1) or nal[1] >> 3:
        return None
    rbsp = nal[2 : 2 + _SPS_BYTES].replace(b"\0\0\3", b"\0\0")  # emulation prevention bytes
    bits = _Bits(rbsp, "HEVC SPS")
    bits.u(4)  # sps_video_parameter_set_id
    sub_layers = bits.u(3)  # sps_max_sub_layers_minus1
    bits.u(1)  # sps_temporal_id_nesting_flag
    bits.u(96)  # profile_tier_level: general profile (88 bits) and level (8)
    present = [(bits.u(1), bits.u(1)) for _ in range(sub_layers)]  # sub_layer_profile/level_present_flag
    if sub_layers:
        bits.u(2 * (8 - sub_layers))  # reserved_zero_2bits
    for profile, level in present:
        bits.u(88 * profile + 8 * level)
    bits.exp_golomb()  # sps_seq_parameter_set_id
    if bits.exp_golomb() == 3:  # chroma_format_idc
        bits.u(1)  # separate_colour_plane_flag
    return bits.exp_golomb(), bits.exp_golomb()  # pic_width/height_in_luma_samples


# -- shared -------------------------------------------------------------------------------------


class _Bits:
    """Big-endian bit reader over a codec header (a few hundred bytes at most)."""

    def __init__(self, data: bytes, what: str):
        self._value = int.from_bytes(data, "big")
        self._left = len(data) * 8
        self._what = what

    def u(self, count: int) -> int:
        if count > self._left:
            raise ValueError(f"{self._what} is truncated")
        self._left -= count
        return (self._value >> self._left) & ((1 << count) - 1)

    def exp_golomb(self) -> int:
        """HEVC ue(v), AV1 uvlc(); a code of 32 leading zeros or more is refused (as dav1d does)."""
        zeros = 0
        while not self.u(1):
            zeros += 1
            if zeros >= 32:
                raise ValueError(f"{self._what} has a variable-length code of over 32 bits")
        return (1 << zeros) - 1 + self.u(zeros)


def _largest(sizes) -> Size | None:
    """The largest width and the largest height among `sizes` (None entries ignored)."""
    known = [size for size in sizes if size]
    if not known:
        return None
    return max(w for w, _ in known), max(h for _, h in known)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _fourcc(kind: bytes) -> str:
    return kind.decode("latin-1")
