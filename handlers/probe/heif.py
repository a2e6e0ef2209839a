"""HEIF and AVIF: every image item and image sequence track, the size its container declares and
the size its codec's own headers give (AV1 sequence and frame headers, the HEVC SPS, a grid's
output): `heif_structure`, and the size the decoder really produces, `heif_primary_size`
(`avif_frame_size`).

Attacks measured on this pipeline: an AVIF whose `ispe` box declares 1000x1000 over an AV1 frame
of 16384x16384 (Pillow reports 1000x1000, libavif decodes the frame: 1 GB); a HEIF whose primary
image is 64x64 beside a 16384x16384 top-level image.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from functools import cached_property

from handlers.probe.av1 import av1_size
from handlers.probe.hevc import hevc_size
from handlers.probe.isobmff import Meta, Track, boxes_in, children, parse_meta, read_track, single
from handlers.probe.readers import Reader, Size, WorkCap, fourcc, largest

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
        return largest(other.coded for other in self.decoded_with(item))

    def decode_size(self, item: HeifItem) -> Size | None:
        """The size to budget decoding the item for: `frame_size` and the declared sizes alike."""
        return largest(size for other in self.decoded_with(item) for size in (other.coded, other.ispe))


def heif_structure(data: bytes) -> HeifStructure:
    """Every image item of a HEIF/AVIF file (HEIC, AVIF, or any other codec in HEIF), with its
    declared and coded sizes, and its image sequence tracks. Raises ValueError when the file is
    not ISOBMFF, its boxes overrun, it has no meta box or primary image, an image's data lies
    outside the file, or it is too complex to walk (over 10,000 items, or 200,000 boxes,
    references, extents, samples, OBUs and NAL units together)."""
    if data[4:8] != b"ftyp":
        raise ValueError("not an ISOBMFF file: it does not start with an ftyp box")
    work = WorkCap(len(data))
    top = list(boxes_in(data, 0, len(data), work))
    _, start, end = top[0]
    if end - start < 8:
        raise ValueError("ftyp box is too short")
    brands = tuple(fourcc(data[i : i + 4]) for i in range(start + 8, end - 3, 4))
    metas = [box for box in top if box[0] == b"meta"]
    if len(metas) != 1:
        raise ValueError(f"HEIF file has {len(metas)} top-level meta boxes; one is required")
    meta = parse_meta(data, metas[0], work)
    moov = single(top, b"moov")
    tracks = (
        []
        if moov is None
        else [
            _heif_track(data, read_track(data, trak, work), work)
            for trak in children(data, moov, work, full=False)
            if trak[0] == b"trak"
        ]
    )
    return HeifStructure(
        fourcc(data[start : start + 4]), brands, meta.primary, _image_items(meta, data, work), tuple(tracks)
    )


def heif_primary_size(data: bytes) -> Size | None:
    """The size a HEIF or AVIF file's image decodes to, from its codec's headers (HEVC SPS, AV1
    sequence and frame headers, grid output and tiles, alpha): the largest width and height of
    the primary's `frame_size` and of the frames of any image sequence track (which libavif may
    decode instead). None when those headers are missing (the decoder then fails). Raises
    ValueError like `heif_structure`."""
    structure = heif_structure(data)
    return largest([structure.frame_size(structure.primary), *(track.coded for track in structure.tracks)])


def avif_frame_size(data: bytes) -> Size | None:
    """The size an AVIF's image decodes to, from its AV1 headers: of the primary item, the larger
    of the sequence header in its `av1C` property and those in its data, and of any frame header
    that overrides the size (dav1d does not hold frames to the sequence's maximum); for a grid,
    its output size and its tiles' frames; alpha; and the same over an animated AVIF's tracks.
    Same as `heif_primary_size`."""
    return heif_primary_size(data)


def _image_items(meta: Meta, data: bytes, work: WorkCap) -> tuple[HeifItem, ...]:
    """The meta box's image items, with their roles (from the item references) and sizes."""
    images = {
        item_id: kind
        for item_id, (kind, _) in meta.types.items()
        if kind in _IMAGE_TYPES or meta.item_properties(item_id, b"ispe")
    }
    if meta.primary not in images:
        raise ValueError(f"the primary item {meta.primary} is not an image item")
    inputs: dict[int, list[int]] = {}
    role: dict[int, str] = {}
    master: dict[int, int] = {}
    for kind, source, targets in meta.references:
        if kind == b"dimg":
            inputs.setdefault(source, []).extend(targets)
            for target in targets:
                role.setdefault(target, "input")
        elif kind in (b"thmb", b"auxl") and targets:
            role[source] = "thumbnail" if kind == b"thmb" else "auxiliary"
            master[source] = targets[0]
    items = []
    for item_id, kind in images.items():
        ispe = meta.item_properties(item_id, b"ispe")
        aux = meta.item_properties(item_id, b"auxC")
        items.append(
            HeifItem(
                item_id=item_id,
                item_type=fourcc(kind),
                role=role.get(item_id, "image"),
                hidden=meta.types[item_id][1],
                ispe=_ispe(data, ispe[0]) if ispe else None,
                coded=_coded_size(meta, data, item_id, kind, work),
                inputs=tuple(inputs.get(item_id, ())),
                master=master.get(item_id),
                aux_type=Reader(data, aux[0][0] + 4, aux[0][1], "auxC box").cstring() if aux else None,
            )
        )
    return tuple(items)


def _coded_size(meta: Meta, data: bytes, item_id: int, kind: bytes, work: WorkCap) -> Size | None:
    if kind in _CONFIG_BOX:
        configs = [data[start:end] for start, end in meta.item_properties(item_id, _CONFIG_BOX[kind])]
        body = meta.item_data(data, item_id, work)
        return _codec_size(kind, configs, [] if body is None else [body], work)
    if kind in (b"grid", b"iovl"):
        body = meta.item_data(data, item_id, work)
        return None if body is None else _derived_output_size(kind, body)
    return None


def _heif_track(data: bytes, track: Track, work: WorkCap) -> HeifTrack:
    """A track with its samples' codec headers read."""
    kind, entry_start, entry_end = track.sample_entry
    coded = None
    if kind in _CONFIG_BOX:
        # A VisualSampleEntry's fields take 78 bytes; its boxes (the codec configuration) follow.
        configs = [data[s:e] for k, s, e in boxes_in(data, entry_start + 78, entry_end, work) if k == _CONFIG_BOX[kind]]
        coded = _codec_size(kind, configs, track.samples, work)
    return HeifTrack(track.track_id, track.handler, fourcc(kind), track.declared, len(track.samples), coded)


def _ispe(data: bytes, where: tuple[int, int]) -> Size:
    ispe = Reader(data, where[0], where[1], "ispe box")
    ispe.skip(4)
    return ispe.u32(), ispe.u32()


def _derived_output_size(kind: bytes, body: bytes) -> Size:
    """The output size in a grid's (ImageGrid) or overlay's (ImageOverlay) item data."""
    derived = Reader(body, 0, len(body), f"{fourcc(kind)} item data")
    if derived.u8() != 0:
        raise ValueError(f"{fourcc(kind)} item data has an unknown version")
    wide = derived.u8() & 1  # 32-bit output sizes
    derived.skip(2 if kind == b"grid" else 8)  # rows and columns minus one; or the canvas fill colour
    return (derived.u32(), derived.u32()) if wide else (derived.u16(), derived.u16())


def _codec_size(kind: bytes, configs: list[bytes], samples: list[bytes], work: WorkCap) -> Size | None:
    """The largest frame of an AV1 or HEVC image or sequence, from its configuration boxes'
    payloads and its samples (an item's data is one sample)."""
    if kind == b"av01":
        return av1_size([config[4:] for config in configs], samples, work)  # configOBUs follow 4 bytes of fields
    return hevc_size(configs, samples, work)
