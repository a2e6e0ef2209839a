"""handlers/probe: every probe through the package's public names, on the corpus's real files
and on mutations of valid ones.

Each format's own tests: test_probe_jpeg.py, test_probe_heif.py, test_probe_webp.py; the decode
budget's: test_probe_budget.py.
"""

from __future__ import annotations

import io
import random
import time

import pytest
from PIL import Image

from handlers import probe
from tests.images import CORPUS, corpus_manifest, encode, photo
from tests.unit.probe_builders import (
    av1_tile,
    av1c,
    avif,
    full_sequence_header,
    grid_data,
    heic,
    heif_file,
    inter_frame_header,
    ispe,
    key_frame_header,
    reduced_sequence_header,
)


@pytest.mark.parametrize(
    "entry",
    [e for e in corpus_manifest() if e["file"].endswith((".jpg", ".mpo", ".avif", ".heif", ".heic"))],
    ids=lambda e: e["file"],
)
def test_corpus_files_parse_and_match_pillow(entry):
    data = (CORPUS / entry["file"]).read_bytes()
    if entry["file"].endswith((".jpg", ".mpo")):
        found = probe.jpeg_structure(data)
        size = found.width, found.height
        assert found.complete == (entry["expect"] == "processed")
    else:
        size = probe.heif_primary_size(data)
    assert size == Image.open(io.BytesIO(data)).size


def fuzz_inputs() -> dict[str, bytes]:
    config, tile = av1_tile(64, 64)
    frames = (
        full_sequence_header(100, 100, 12, False)
        + key_frame_header(200, 100, 12, False)
        + inter_frame_header((300, 50), 12, False)
    )
    return {
        "baseline.jpg": encode(photo(96, 64), "JPEG", quality=80, restart_marker_blocks=4),
        "progressive.jpg": encode(photo(96, 64), "JPEG", quality=80, progressive=True),
        "alpha.avif": avif(Image.merge("RGBA", [*photo(64, 48).split(), Image.linear_gradient("L").resize((64, 48))])),
        "photo.heic": heic(photo(64, 48)),
        "frames.avif": heif_file(
            [(1, b"av01", [ispe(100, 100), av1c(reduced_sequence_header(100, 100))], frames)], primary=1
        ),
        "grid.avif": heif_file(
            [
                (1, b"grid", [ispe(128, 128)], grid_data(1, 2, 128, 64)),
                (2, b"av01", [ispe(64, 64), config], tile),
                (3, b"av01", [ispe(64, 64), config], tile),
            ],
            primary=1,
            references=((b"dimg", 1, [2, 3]),),
            idat_items=(1,),
        ),
        "track.avif": heif_file(
            [(1, b"av01", [ispe(64, 64), config], tile)],
            primary=1,
            track=(config, [tile, full_sequence_header(64, 64, 8, True) + key_frame_header(64, 64, 8, True)]),
        ),
        "animated.webp": encode(photo(32, 32), "WEBP", save_all=True, append_images=[photo(32, 32, seed=2)]),
    }


def test_fuzzed_inputs_only_ever_raise_value_error_and_stay_fast():
    """Truncations and bit flips of valid files: every probe returns or raises ValueError, fast."""
    rng = random.Random(1234)
    probes = (probe.jpeg_structure, probe.heif_structure, probe.heif_primary_size, probe.webp_canvas_size)
    slowest = 0.0
    for data in fuzz_inputs().values():
        for round_ in range(300):
            mutated = bytearray(data)
            if round_ % 3 == 0:
                mutated = mutated[: rng.randrange(len(mutated))]
            else:
                for _ in range(rng.choice((1, 2, 8))):
                    at = rng.randrange(len(mutated))
                    mutated[at] ^= 1 << rng.randrange(8)
            for function in probes:
                started = time.perf_counter()
                try:
                    function(bytes(mutated))
                except ValueError:
                    pass
                slowest = max(slowest, time.perf_counter() - started)
    assert slowest < 0.25
