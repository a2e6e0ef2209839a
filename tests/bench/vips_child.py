"""A fresh process making the rendition set with pyvips, the way its documentation recommends:
`python -m tests.bench.vips_child FILE... --out DIR`. Imports pyvips only, so its start-up is its
own (tests/bench/formats_speed.py times it against `python -m handlers.imaging`).

Per file: thumbnail with shrink-on-load to the largest size, auto-rotated, kept in memory
(copy_memory: each encode does not decode again); each smaller size from the one before; AV1 at
the encoder speed the pipeline uses (heifsave effort 0 = libaom speed 9) and JPEG (jpegsave).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pyvips

SIDES = (1920, 1024, 640, 320)  # handlers.formats.RenditionSpec's default sizes
AVIF_QUALITY, JPEG_QUALITY = 68, 82


def render(path: Path, out: Path) -> None:
    data = path.read_bytes()
    current = pyvips.Image.thumbnail_buffer(data, SIDES[0], height=SIDES[0], size="down").copy_memory()
    for side in SIDES:
        if max(current.width, current.height) > side:
            current = current.thumbnail_image(side, height=side).copy_memory()
        stem = out / f"{path.stem}.{side}"
        Path(f"{stem}.avif").write_bytes(
            current.heifsave_buffer(compression="av1", Q=AVIF_QUALITY, effort=0, strip=True)
        )
        flat = current.flatten() if current.hasalpha() else current
        Path(f"{stem}.jpg").write_bytes(flat.jpegsave_buffer(Q=JPEG_QUALITY, strip=True, optimize_coding=True))


def main(argv: list[str]) -> int:
    out = Path(argv[argv.index("--out") + 1])
    out.mkdir(parents=True, exist_ok=True)
    for name in argv[: argv.index("--out")]:
        render(Path(name), out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
