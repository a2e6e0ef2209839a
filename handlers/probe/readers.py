"""Bounded readers of hostile bytes, shared by the container probes: big-endian fields and bit
fields that refuse to read past their end, and the cap on one probe's work."""

from __future__ import annotations

Size = tuple[int, int]

# Boxes, references, extents, samples, OBUs and NAL units one probe may visit: real files need
# hundreds (an iPhone photo: ~50 tiles; an animation: a few per frame); each costs microseconds.
MAX_STEPS = 200_000


class WorkCap:
    """Caps one probe's work on hostile input: structures visited and bytes copied (an item's
    extents, or a track's samples, may all point at the same large range)."""

    def __init__(self, data_length: int):
        self._steps = MAX_STEPS
        self._bytes = 2 * data_length + (1 << 16)

    def step(self, count: int = 1) -> None:
        self._steps -= count
        if self._steps < 0:
            raise ValueError(f"the file has more than {MAX_STEPS} boxes, references, extents, samples and codec units")

    def copy(self, count: int) -> None:
        self._bytes -= count
        if self._bytes < 0:
            raise ValueError("items' or samples' data overlap: more is referenced than the file holds")


class Reader:
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


class Bits:
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


def largest(sizes) -> Size | None:
    """The largest width and the largest height among `sizes` (None entries ignored)."""
    known = [size for size in sizes if size]
    if not known:
        return None
    return max(w for w, _ in known), max(h for _, h in known)


def fourcc(kind: bytes) -> str:
    return kind.decode("latin-1")
