"""WebP: the canvas its decoder allocates as the file is opened, read from the first chunk."""

from __future__ import annotations

from handlers.probe.readers import Size


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
