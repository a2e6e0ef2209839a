"""Near duplicates: a perceptual hash of each photo, how far two hashes are, and the index keys that
find every hash near a new one without a scan of the owner's photos (docs/duplicates.md).

The hash is a 64-bit DCT hash (pHash; the `imagehash` package's `phash`, bit for bit, made with
Pillow and plain Python so the functions' zip carries no numpy or scipy): the image in greyscale,
resized to 32x32, its discrete cosine transform, and one bit per coefficient of the lowest 8x8
frequencies (is it above their median?). It keeps the picture's coarse layout, not its pixels, so
re-encoding, resizing, another format or a few percent cropped move few bits, and two different
photos differ in about half. Only the 64 wanted coefficients are computed (a separable transform:
~10,000 multiplications), from the smallest rendition the processor already holds upright in memory
(320 px): about a millisecond (`make bench`: tests/bench/duplicates.py, where the simpler dHash
called 1% of pairs of different photos similar). Stored as 16 hex digits.

Two photos are similar when their hashes differ in at most `SIMILAR_WITHIN` bits; that threshold
is chosen from the precision and recall measured on real photos and their variants
(docs/duplicates.md).

Finding them: the 64 bits are cut into `BANDS` = `SIMILAR_WITHIN` + 1 bands, and each band, with
the owner and its number, is one index key (`band_keys`). Two hashes within the threshold always
share at least one key: they differ in at most `SIMILAR_WITHIN` bits, those bits lie in at most
`SIMILAR_WITHIN` bands, so of the `SIMILAR_WITHIN` + 1 bands at least one holds no differing bit
and is equal in both (the pigeonhole principle). Querying the index by a new photo's keys therefore
misses no similar photo; the candidates it returns are then checked with `is_similar`, which drops
those that share a band by chance. A key starts with the owner, so one person's photos are never
candidates for another's.
"""

from __future__ import annotations

import math
from operator import mul

from PIL import Image

HASH_BITS = 64
_SIDE = 32  # the transform's input: 32x32 grey pixels
_KEPT = 8  # the lowest 8x8 frequencies: 64 bits
_HEX_DIGITS = HASH_BITS // 4
# cos(pi k (2n + 1) / 2N): DCT-II's basis, the lowest _KEPT frequencies (scipy's unnormalised dct
# has a factor 2 more, which no comparison with the median sees).
_BASIS = tuple(tuple(math.cos(math.pi * k * (2 * n + 1) / (2 * _SIDE)) for n in range(_SIDE)) for k in range(_KEPT))

# At most this many of the 64 bits differ between two similar photos (the one home of the threshold):
# every re-encoded, resized or EXIF-rotated copy measured was within 6, no two different photos
# closer than 18, no two frames of a burst closer than 12 (docs/duplicates.md).
SIMILAR_WITHIN = 8

# One more band than the threshold: the pigeonhole guarantee above.
BANDS = SIMILAR_WITHIN + 1


def perceptual_hash(image: Image.Image) -> str:
    """The pHash of `image` (upright, any mode) as 16 hex digits: the first bit is the lowest
    frequency's, row by row, as `imagehash` writes it. Transparent pixels count as white."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
    pixels = image.convert("L").resize((_SIDE, _SIDE), Image.Resampling.LANCZOS).tobytes()
    columns = [pixels[n::_SIDE] for n in range(_SIDE)]
    # Down the columns first (the vertical frequencies), then along the rows: only the kept ones.
    vertical = [[sum(map(mul, basis, column)) for column in columns] for basis in _BASIS]
    coefficients = [sum(map(mul, basis, row)) for row in vertical for basis in _BASIS]
    # The median of the 64 (an even count): the mean of the middle two, as statistics.median, whose
    # import costs each cold start ~3 ms.
    median = sum(sorted(coefficients)[HASH_BITS // 2 - 1 : HASH_BITS // 2 + 1]) / 2
    bits = 0
    for coefficient in coefficients:
        bits = (bits << 1) | (coefficient > median)
    return f"{bits:0{_HEX_DIGITS}x}"


def _bits(hash_hex: str) -> int:
    if len(hash_hex) != _HEX_DIGITS:
        raise ValueError(f"A perceptual hash is {_HEX_DIGITS} hex digits, not {hash_hex!r}.")
    return int(hash_hex, 16)


def distance(a: str, b: str) -> int:
    """How many of the 64 bits differ (Hamming distance): 0 the same picture, ~32 unrelated ones."""
    return (_bits(a) ^ _bits(b)).bit_count()


def is_similar(a: str, b: str) -> bool:
    """Whether two photos' hashes are near enough to call them the same picture."""
    return distance(a, b) <= SIMILAR_WITHIN


def _band_spans(bands: int = BANDS) -> list[tuple[int, int]]:
    """(shift, width) of each band, from the most significant bit; widths as even as 64 allows."""
    wide, narrow_width = HASH_BITS % bands, HASH_BITS // bands
    spans, top = [], HASH_BITS
    for number in range(bands):
        width = narrow_width + (number < wide)
        top -= width
        spans.append((top, width))
    return spans


_SPANS = _band_spans()


def band_keys(owner: str, hash_hex: str) -> list[str]:
    """The index keys of a photo: `<owner>#<band number>#<the band's bits in hex>`, one a band.
    Any two hashes of one owner within `SIMILAR_WITHIN` share at least one (module docstring)."""
    bits = _bits(hash_hex)
    keys = []
    for number, (shift, width) in enumerate(_SPANS):
        value = (bits >> shift) & ((1 << width) - 1)
        keys.append(f"{owner}#{number}#{value:0{(width + 3) // 4}x}")
    return keys
