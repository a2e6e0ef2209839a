"""JPEG: the primary image's frame header, sampling factors and number of scans (`jpeg_structure`),
walked marker by marker without decoding. A progressive JPEG whose last scan is repeated 2000
times makes libjpeg walk the whole coefficient buffer 2000 times (60+ s of CPU): the scans are
counted here so that the budget can refuse it, and sized so that it can count their memory."""

from __future__ import annotations

import re
from dataclasses import dataclass

from handlers.probe.readers import Size

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


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)
