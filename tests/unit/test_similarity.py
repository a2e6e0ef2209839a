"""The near-duplicate core (handlers.similarity): the hash is imagehash's pHash, it holds across the
copies a person makes of one photo and not across photos, and the band keys miss no similar pair."""

from __future__ import annotations

import io
import random

import imagehash
import pytest
from PIL import Image, ImageOps

from handlers import similarity
from handlers.similarity import BANDS, SIMILAR_WITHIN, band_keys, distance, is_similar, perceptual_hash
from tests.images import CORPUS, encode, photo

OWNER = "3f1c2d4e-0000-4000-8000-000000000001"


def _real(name: str) -> Image.Image:
    """A real photograph from the corpus, upright (as the processor hashes it)."""
    return ImageOps.exif_transpose(Image.open(CORPUS / name)).convert("RGB")


def _rehash(image: Image.Image, fmt: str, **params) -> str:
    return perceptual_hash(Image.open(io.BytesIO(encode(image, fmt, **params))))


@pytest.mark.parametrize(
    "image",
    [
        photo(320, 200, seed=1),
        photo(200, 320, seed=2),
        photo(320, 213, seed=3).convert("L"),
        _real("flower.jpg"),
        _real("hopper.jpg"),
    ],
    ids=["landscape", "portrait", "grey", "flower", "hopper"],
)
def test_the_hash_is_imagehash_phash_bit_for_bit(image):
    # The reference implementation (tests only: it needs numpy and scipy) writes the same 16 hex digits.
    assert perceptual_hash(image) == str(imagehash.phash(image))


def test_the_hex_form_keeps_its_leading_zeros():
    black = Image.new("RGB", (320, 200))  # every coefficient 0, none above the median: all 64 bits 0
    assert perceptual_hash(black) == "0" * 16
    assert len(perceptual_hash(_real("flower.jpg"))) == 16


def test_the_same_photo_reencoded_as_jpeg_q90_hashes_the_same():
    flower = _real("flower.jpg")
    assert _rehash(flower, "JPEG", quality=90) == perceptual_hash(flower)


def test_other_formats_and_an_exif_rotation_stay_within_the_threshold():
    hopper = perceptual_hash(_real("hopper.jpg"))
    copies = ("hopper.png", "hopper.webp", "hopper_gray.jpg", "hopper_orientation_3.jpg", "hopper_orientation_6.jpg")
    for name in copies:
        assert is_similar(perceptual_hash(_real(name)), hopper), name


def test_a_resized_or_slightly_cropped_copy_is_similar():
    # 1% off each edge; 3-5% crops are found only in part (docs/duplicates.md's table).
    flower = _real("flower.jpg")
    original = perceptual_hash(flower)
    w, h = flower.size
    half = flower.resize((w // 2, h // 2), Image.Resampling.LANCZOS)
    cropped = flower.crop((round(w * 0.01), round(h * 0.01), round(w * 0.99), round(h * 0.99)))
    assert is_similar(_rehash(half, "JPEG", quality=85), original)
    assert is_similar(_rehash(cropped, "JPEG", quality=85), original)


def test_different_photos_are_far_apart():
    hashes = [perceptual_hash(_real(name)) for name in ("flower.jpg", "flower2.jpg", "hopper.jpg")]
    for i, a in enumerate(hashes):
        for b in hashes[i + 1 :]:
            assert not is_similar(a, b)
            assert distance(a, b) > 2 * SIMILAR_WITHIN


def test_transparent_pixels_count_as_white():
    clear_black = Image.new("RGBA", (64, 48), (0, 0, 0, 0))
    clear_black.paste((0, 0, 0, 255), (0, 0, 32, 48))  # the left half opaque black
    white_right = Image.new("RGB", (64, 48), "white")
    white_right.paste((0, 0, 0), (0, 0, 32, 48))
    assert perceptual_hash(clear_black) == perceptual_hash(white_right) != "0" * 16


def test_similar_means_at_most_the_threshold():
    a = "0" * 16
    within = f"{(1 << SIMILAR_WITHIN) - 1:016x}"  # exactly SIMILAR_WITHIN bits set
    beyond = f"{(1 << (SIMILAR_WITHIN + 1)) - 1:016x}"
    assert distance(a, within) == SIMILAR_WITHIN and is_similar(a, within)
    assert distance(a, beyond) == SIMILAR_WITHIN + 1 and not is_similar(a, beyond)


def test_a_malformed_hash_is_refused():
    with pytest.raises(ValueError):
        distance("abc", "0" * 16)


def _flip(bits: int, positions: list[int]) -> int:
    for position in positions:
        bits ^= 1 << position
    return bits


def test_bands_cover_the_64_bits_once():
    spans = similarity._band_spans()
    assert len(spans) == BANDS == SIMILAR_WITHIN + 1
    covered = [shift + i for shift, width in spans for i in range(width)]
    assert sorted(covered) == list(range(64))


def test_any_two_hashes_within_the_threshold_share_a_band_key():
    rng = random.Random(24)
    for _ in range(5000):
        a = rng.getrandbits(64)
        b = _flip(a, rng.sample(range(64), rng.randint(0, SIMILAR_WITHIN)))
        assert set(band_keys(OWNER, f"{a:016x}")) & set(band_keys(OWNER, f"{b:016x}"))


def test_the_worst_case_within_the_threshold_still_shares_exactly_one_band():
    # One differing bit in each of SIMILAR_WITHIN bands: only the last band is left equal.
    a = random.Random(7).getrandbits(64)
    spans = similarity._band_spans()
    b = _flip(a, [shift for shift, _ in spans[:SIMILAR_WITHIN]])
    shared = set(band_keys(OWNER, f"{a:016x}")) & set(band_keys(OWNER, f"{b:016x}"))
    assert len(shared) == 1
    # One more differing bit, in that last band, and nothing is shared: the bands are as few as can be.
    c = _flip(b, [spans[-1][0]])
    assert not set(band_keys(OWNER, f"{a:016x}")) & set(band_keys(OWNER, f"{c:016x}"))


def test_keys_name_the_owner_and_different_owners_never_share_one():
    rng = random.Random(2024)
    owners = [OWNER, "someone-else", "a", "a#0", "a#0#1"]  # a '#' in an owner cannot forge another's key
    for _ in range(500):
        hashes = [f"{rng.getrandbits(64):016x}" for _ in range(2)]
        for one, other in ((o, p) for o in owners for p in owners if o != p):
            for h1 in hashes:
                for h2 in hashes:
                    assert not set(band_keys(one, h1)) & set(band_keys(other, h2))
    keys = band_keys(OWNER, "0123456789abcdef")
    assert len(keys) == BANDS and all(key.startswith(f"{OWNER}#") for key in keys)
    assert [key.split("#")[1] for key in keys] == [str(n) for n in range(BANDS)]
