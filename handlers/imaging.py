"""The image core: bytes in, renditions out. Knows Pillow, nothing of AWS.

`make_renditions` is what the processor Lambda runs for every upload, and what
`python -m handlers.imaging FILE... --out DIR` runs on local files (`main`, below). It validates
the file by its content, then makes from one decode the renditions of the spec
(`handlers.formats.RenditionSpec`: four widths by default, never upscaled), each as AVIF plus a
fallback every browser shows (JPEG for opaque sources, WebP with alpha), upright and stripped of
metadata; with a ThumbHash placeholder and the mean colour the page paints first, and the photo
facts read from the EXIF (when, and with what camera and settings; never where).

Its rooms:
- `handlers.probe`: the decode budget, checked before any pixel is allocated: the size each
  container's decoder will really produce, read from the bytes (one module per format), and the
  arithmetic of pixels, memory and work (`handlers.probe.budget`);
- `handlers.rendering`: decode once, resize, encode the widths; `handlers.shrink_on_load`: a
  large PNG or WebP decoded by libvips straight to the largest size; `handlers.vips`: libvips,
  loaded once, and its resampler for opaque images;
- `handlers.photo_facts`, `handlers.placeholders`: the facts from EXIF; ThumbHash and colour;
- `handlers.outcome`: what comes back (`Processed`, `Rendition`, `Source`), or `ImageRejected`
  with a stable code; `describe`, the JSON shape the record stores.
This module is the door the processor, the CLI and the tests come in by.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from handlers.formats import MIB, Limits, RenditionSpec
from handlers.outcome import ImageRejected, Processed, Rendition, Source, describe
from handlers.rendering import make_renditions
from handlers.schema import Status

__all__ = [
    "MIB",
    "ImageRejected",
    "Limits",
    "Processed",
    "Rendition",
    "RenditionSpec",
    "Source",
    "describe",
    "main",
    "make_renditions",
]


def main(argv: list[str] | None = None) -> int:
    """`python -m handlers.imaging FILE... --out DIR`: what the processor would do, locally."""
    import argparse  # here, not at the top: the processor's cold start does not need it

    parser = argparse.ArgumentParser(prog="python -m handlers.imaging", description=main.__doc__)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="folder for the renditions")
    args = parser.parse_args(argv)
    from handlers.config import Settings  # same limits as the Lambda, from the same env vars

    settings = Settings.from_env()
    args.out.mkdir(parents=True, exist_ok=True)
    failures = 0
    for path in args.files:
        line: dict = {"file": str(path)}
        try:
            result = make_renditions(path.read_bytes(), settings.limits, settings.renditions)
        except ImageRejected as exc:
            failures += 1
            line.update(status=Status.FAILED, error={"code": exc.code, "message": exc.message})
        except OSError as exc:
            failures += 1
            line.update(status=Status.FAILED, error={"code": "unreadable", "message": str(exc)})
        else:
            for rendition in result.renditions.values():
                for source in rendition.sources:
                    (args.out / f"{path.stem}.{rendition.name}.{source.extension}").write_bytes(source.data)
            line.update(status=Status.PROCESSED, **describe(result))
        print(json.dumps(line), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
