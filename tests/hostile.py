"""Hostile inputs, made in memory by the tests and the bench (nothing large is committed).

Each is small on disk and expensive to decode: the pipeline must refuse it with a typed
code before allocating its pixels, or process it within the documented budget.
"""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

from tests.images import encode, photo


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(
    width: int,
    height: int,
    bit_depth: int = 8,
    colour_type: int = 2,
    palette_alpha: bool = False,
    rows: int | None = None,
) -> bytes:
    """A PNG of uniform rows, written row by row through zlib: 100 MP costs a few MB here, and
    the decoder still has to produce every pixel. colour_type: 0 grey, 2 RGB, 3 palette, 6 RGBA.
    `rows` writes only that many rows (a header to open, never to decode)."""
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour_type]
    row = b"\0" + bytes(width * channels * bit_depth // 8)
    out = [
        b"\x89PNG\r\n\x1a\n",
        _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)),
    ]
    if colour_type == 3:
        out.append(_chunk(b"PLTE", bytes(range(0, 255, 1))[: 3 * 85] * 1))
        if palette_alpha:
            out.append(_chunk(b"tRNS", b"\x00" * 85))
    z = zlib.compressobj(9)
    idat = bytearray()
    block = row * max(1, (1 << 22) // len(row))
    rows_per_block = len(block) // len(row)
    written = height if rows is None else rows
    for done in range(0, written, rows_per_block):
        idat += z.compress(block if done + rows_per_block <= written else row * (written - done))
    idat += z.flush()
    out += [_chunk(b"IDAT", bytes(idat)), _chunk(b"IEND", b"")]
    return b"".join(out)


def lossless_webp(width: int, height: int, animated: bool = False) -> bytes:
    """A uniform lossless WebP: a few dozen bytes that decode to width x height RGBA."""
    frames = [Image.new("RGBA", (width, height), (10, 20, 30, 255))]
    if animated:
        frames.append(Image.new("RGBA", (width, height), (30, 20, 10, 255)))
    buffer = io.BytesIO()
    frames[0].save(
        buffer, "WEBP", lossless=True, quality=0, method=0, save_all=animated, append_images=frames[1:], duration=100
    )
    return buffer.getvalue()


def progressive_jpeg_with_repeated_scans(width: int, height: int, repeats: int) -> bytes:
    """A progressive JPEG whose last scan is repeated: each copy makes the decoder walk the
    whole coefficient buffer again, so CPU grows with `repeats` while the file stays small."""
    data = encode(photo(min(width, 64), min(height, 48)).resize((width, height)), "JPEG", quality=50, progressive=True)
    last_sos = data.rindex(b"\xff\xda")
    eoi = data.rindex(b"\xff\xd9")
    return data[:eoi] + data[last_sos:eoi] * repeats + data[eoi:]


def heif_with_large_secondary(primary: tuple[int, int], other: tuple[int, int]) -> bytes:
    """A HEIF whose primary image is small and whose first top-level image is large: a
    decoder that looks at image 0 instead of the primary decodes the large one."""
    import pillow_heif

    heif = pillow_heif.from_pillow(Image.new("RGB", other, (90, 120, 200)))
    heif.add_from_pillow(Image.new("RGB", primary, (200, 120, 90)))
    heif[0].info["primary"], heif[1].info["primary"] = False, True
    buffer = io.BytesIO()
    heif.save(buffer, quality=30)
    return buffer.getvalue()


def avif_with_lying_ispe(real: tuple[int, int], declared: tuple[int, int]) -> bytes:
    """An AVIF whose `ispe` box declares `declared` while its AV1 stream holds a `real` frame."""
    data = encode(Image.new("RGB", real, (40, 80, 160)), "AVIF", speed=10, quality=30)
    at = data.index(b"ispe")
    # ispe: size(4) 'ispe' version+flags(4) width(4) height(4)
    return data[: at + 8] + struct.pack(">II", *declared) + data[at + 16 :]


HTML = b"<html><script>alert(1)</script></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def html_jpeg(width: int = 120, height: int = 90) -> bytes:
    """A real JPEG that is also a web page: the HTML in a comment (COM) segment and again after
    the end of the image, where decoders stop reading and a browser's HTML parser does not."""
    return encode(photo(width, height), "JPEG", quality=80, comment=HTML) + HTML
